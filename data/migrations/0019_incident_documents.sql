-- 0019 (issue 17): the incident documents generated from the register (dashboard/documents.py):
-- the initial, supplementary and summary reports to the CAC (网络安全事件报告管理办法, Arts. 7
-- and 8), the notice to individuals and the notice to the PI-protection authority (PIPL
-- Art. 57). One row per generation, never updated or deleted: a document generated again is
-- a new row. ``audit_seq`` is the seq of the write's ``incident.document`` audit entry, whose
-- ``after`` records the same SHA-256; ``missing`` lists (JSON) the items the store did not
-- hold, marked "to be completed" in the document.
CREATE TABLE incident_documents (
    doc_id BIGINT PRIMARY KEY,
    incident_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('initial_report', 'supplementary_report',
                                          'summary_report', 'individual_notice',
                                          'authority_notice')),
    locale VARCHAR NOT NULL CHECK (locale IN ('zh_CN', 'en')),
    file_name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    content BLOB NOT NULL,
    generated_at TIMESTAMPTZ NOT NULL,
    generated_by VARCHAR NOT NULL,
    generated_role VARCHAR NOT NULL,
    audit_seq BIGINT NOT NULL,
    missing VARCHAR
);
CREATE INDEX incident_documents_incident ON incident_documents (incident_id);

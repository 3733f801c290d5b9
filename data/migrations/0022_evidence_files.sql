-- 0022 (issue 18): evidence files attached to a processor, a sharing agreement, an incident, a
-- rights request or a finding (dashboard/evidence.py). The files live in the store itself, so
-- the store's backup holds them and an attach is one transaction with its audit entry.
--
-- evidence_blobs: each distinct file once, keyed by the SHA-256 of its bytes (content
-- addressed). Never updated or deleted: the same bytes attached twice share one row.
CREATE TABLE evidence_blobs (
    sha256 VARCHAR PRIMARY KEY,            -- lower-case hex SHA-256 of content
    size BIGINT NOT NULL CHECK (size > 0),
    media_type VARCHAR NOT NULL,           -- the type detected from the content
    content BLOB NOT NULL
);

-- evidence_events: append-only. An 'attach' names a file on a record; a 'withdraw' names
-- the attach event it withdraws (withdraws) and why (reason). Nothing is updated or deleted:
-- a withdrawn file stays in evidence_blobs and in this history.
CREATE TABLE evidence_events (
    event_id BIGINT PRIMARY KEY,
    entity_type VARCHAR NOT NULL CHECK (entity_type IN ('processor', 'sharing_agreement',
                                                        'incident', 'rights_request', 'finding')),
    entity_id VARCHAR NOT NULL,            -- the record's key; a finding: '<rule_id>:<entity id>'
    event VARCHAR NOT NULL CHECK (event IN ('attach', 'withdraw')),
    sha256 VARCHAR NOT NULL,               -- the file (evidence_blobs.sha256)
    file_name VARCHAR NOT NULL,            -- as uploaded (shown as plain text)
    media_type VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    description VARCHAR,                   -- attach: optional, from the uploader
    withdraws BIGINT,                      -- withdraw: the attach event withdrawn
    reason VARCHAR,                        -- withdraw: why
    actor VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    audit_seq BIGINT NOT NULL,             -- the write's audit entry
    CHECK ((event = 'attach' AND withdraws IS NULL AND reason IS NULL)
           OR (event = 'withdraw' AND withdraws IS NOT NULL AND reason IS NOT NULL))
);
CREATE INDEX evidence_events_entity ON evidence_events (entity_type, entity_id);

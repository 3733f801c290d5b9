-- 0001: the four registers of the data contract, the incident timeline,
-- the policy's reference data, and the append-only audit log.
-- Column names are the contract's (shared/reference/data-contract.md); never rename them.

CREATE TABLE processors (
    processor_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('supplier', 'service_provider', 'affiliate', 'contractor', 'agent', 'partner')),
    service VARCHAR,
    purpose VARCHAR CHECK (purpose IN ('service_provision', 'identity_verification', 'personalization', 'service_optimization', 'recruitment', 'delivery', 'technical_support', 'consulting_analysis', 'legal_compliance')),
    data_categories VARCHAR[],
    storage_region VARCHAR,
    status VARCHAR NOT NULL CHECK (status IN ('active', 'suspended', 'offboarded')),
    engaged_on DATE,
    confidentiality_signed_on DATE,
    nda_signed_on DATE,
    agreement_expires_on DATE,
    agreement_terms VARCHAR[],
    pia_done_on DATE,
    last_assessed_on DATE,
    offboarded_on DATE,
    data_returned_on DATE,
    owner VARCHAR
);

CREATE TABLE sharing_agreements (
    agreement_id VARCHAR PRIMARY KEY,
    counterparty VARCHAR NOT NULL,
    processor_id VARCHAR,
    kind VARCHAR NOT NULL CHECK (kind IN ('share', 'transfer', 'disclosure')),
    legal_basis VARCHAR NOT NULL CHECK (legal_basis IN ('explicit_consent', 'legal_requirement', 'dispute_resolution', 'entrusted_processing', 'affiliate_service', 'merger_acquisition')),
    purpose VARCHAR,
    data_categories VARCHAR[],
    consent VARCHAR CHECK (consent IN ('none', 'bundled', 'explicit', 'separate')),
    consent_evidence VARCHAR,
    confidentiality_clause BOOLEAN,
    recipient_region VARCHAR,
    signed_on DATE,
    effective_from DATE,
    expires_on DATE,
    status VARCHAR NOT NULL CHECK (status IN ('active', 'ended')),
    users_notified_on DATE,
    legal_reference VARCHAR,
    subjects_affected BIGINT
);

CREATE TABLE retention_records (
    record_id BIGINT PRIMARY KEY,
    subject_ref VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    system VARCHAR NOT NULL,
    storage_region VARCHAR NOT NULL,
    collected_on DATE NOT NULL,
    service_ended_on DATE,
    deleted_on DATE,
    hold_reason VARCHAR CHECK (hold_reason IN ('law_or_regulation', 'court_or_legal_proceedings', 'authority_request', 'compliance_obligation', 'rights_protection')),
    hold_reference VARCHAR,
    hold_review_on DATE
);

CREATE TABLE incidents (
    incident_id VARCHAR PRIMARY KEY,
    title VARCHAR NOT NULL,
    description VARCHAR,
    incident_type VARCHAR NOT NULL CHECK (incident_type IN ('data_leak', 'data_loss', 'data_tampering', 'unauthorized_access', 'ransomware', 'malware', 'phishing', 'ddos', 'outage', 'other')),
    grade VARCHAR NOT NULL CHECK (grade IN ('general', 'relatively_major', 'major', 'particularly_major')),
    occurred_at TIMESTAMPTZ,
    detected_at TIMESTAMPTZ NOT NULL,
    reported_by VARCHAR,
    affected_subjects BIGINT,
    affected_sensitive_subjects BIGINT,
    data_categories VARCHAR[],
    systems_affected VARCHAR,
    emergency_plan_activated_at TIMESTAMPTZ,
    contained_at TIMESTAMPTZ,
    regulator_reported_at TIMESTAMPTZ,
    regulator VARCHAR,
    regulator_reference VARCHAR,
    police_reported_at TIMESTAMPTZ,
    users_notified_at TIMESTAMPTZ,
    notification_channels VARCHAR[],
    notice_contents VARCHAR[],
    resolved_at TIMESTAMPTZ,
    summary_filed_at TIMESTAMPTZ,
    status VARCHAR NOT NULL CHECK (status IN ('open', 'contained', 'resolved', 'closed')),
    root_cause VARCHAR,
    remediation VARCHAR
);

-- Each incident's timeline, append-only: corrections are new events, never edits.
CREATE TABLE incident_events (
    event_id BIGINT PRIMARY KEY,
    incident_id VARCHAR NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,   -- quoted: AT is a keyword in DuckDB
    actor VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    detail VARCHAR
);
CREATE INDEX incident_events_incident ON incident_events (incident_id);

-- Reference data, synced from data/policy/catalog.toml by `init` (see dashboard/reference.py).
CREATE TABLE data_categories (
    code VARCHAR PRIMARY KEY,
    label VARCHAR NOT NULL,
    label_zh VARCHAR,
    sensitive BOOLEAN NOT NULL,
    clause VARCHAR,
    note VARCHAR
);
CREATE TABLE purposes (
    code VARCHAR PRIMARY KEY,
    label VARCHAR NOT NULL,
    clause VARCHAR
);
CREATE TABLE purpose_categories (
    purpose VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    PRIMARY KEY (purpose, category)
);
CREATE TABLE retention_rules (
    category VARCHAR PRIMARY KEY,
    days_after_service_end INTEGER,
    max_age_days INTEGER,
    basis VARCHAR
);
CREATE TABLE policy_clauses (
    clause VARCHAR PRIMARY KEY,
    article VARCHAR NOT NULL,
    parent VARCHAR,
    title VARCHAR,
    body VARCHAR NOT NULL,
    ordinal INTEGER NOT NULL
);

-- Every write appends one entry; each entry's hash covers the previous one's.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    logged_at TIMESTAMPTZ NOT NULL,
    actor VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    entity_type VARCHAR,
    entity_id VARCHAR,
    values_before VARCHAR,
    values_after VARCHAR,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
);

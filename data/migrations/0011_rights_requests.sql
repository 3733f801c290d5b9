-- 0011: the rights-requests register of the data contract (version 2), policy 8 and 10
-- (issue 14). Column names are the contract's; never rename them.
CREATE TABLE rights_requests (
    request_id VARCHAR PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL,
    channel VARCHAR NOT NULL CHECK (channel IN ('web_form', 'email', 'phone', 'customer_service', 'letter', 'in_app')),
    kind VARCHAR NOT NULL CHECK (kind IN ('access', 'copy', 'correct', 'delete', 'withdraw_consent', 'cancel_account', 'explain', 'complaint')),
    subject_ref VARCHAR NOT NULL,
    identity_verified_at TIMESTAMPTZ,
    status VARCHAR NOT NULL CHECK (status IN ('received', 'in_progress', 'completed', 'refused', 'withdrawn')),
    completed_at TIMESTAMPTZ,
    refusal_reason VARCHAR,
    handler VARCHAR,
    notes VARCHAR
);

-- Each request's history, append-only like incident_events: corrections are new events.
CREATE TABLE request_events (
    event_id BIGINT PRIMARY KEY,
    request_id VARCHAR NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    actor VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    detail VARCHAR,
    recorded_at TIMESTAMPTZ NOT NULL,
    data VARCHAR
);
CREATE INDEX request_events_request ON request_events (request_id);

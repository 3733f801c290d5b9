-- 0005: what the incident tracker (dashboard/incidents.py) keeps beside the contract's
-- incidents and incident_events tables, which stay exactly as the contract names them.

-- One row per timeline event written by the tracker: when it was recorded (incident_events."at"
-- is when the step happened, which may be earlier), the recorder's role, which step's values
-- the event sets ('facts' for the logged facts), the event it supersedes (a correction), and
-- its structured values as JSON. Append-only, like incident_events.
CREATE TABLE incident_event_meta (
    event_id BIGINT PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL,
    role VARCHAR NOT NULL,
    target VARCHAR,
    supersedes BIGINT,
    data VARCHAR
);

-- Idempotency: one token per form instance. The second submit of the same token returns
-- what the first created (an incident, or a timeline event) instead of writing again.
CREATE TABLE incident_requests (
    token VARCHAR PRIMARY KEY,
    incident_id VARCHAR NOT NULL,
    event_id BIGINT NOT NULL,
    action VARCHAR NOT NULL,
    actor VARCHAR NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);

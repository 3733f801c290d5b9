-- 0015: API tokens (issue 16). An admin creates one bearer token per integration (a SIEM,
-- a web form, CI, the command line talking to the running app), bound to one role. Only
-- the SHA-256 of the token's secret is kept: the token is shown once, at creation.
-- A token is never deleted: revoking it sets revoked_at, so the audit log's entries that
-- name it keep meaning something (dashboard/tokens.py).
CREATE TABLE api_tokens (
    token_id VARCHAR PRIMARY KEY,         -- public part of the token: "cpt_<token_id>_<secret>"
    name VARCHAR NOT NULL UNIQUE,         -- the integration, e.g. "siem", "cron"
    role VARCHAR NOT NULL CHECK (role IN ('dpo', 'manager', 'auditor', 'admin')),
    secret_sha256 VARCHAR NOT NULL,       -- hex SHA-256 of the secret part
    note VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    created_by VARCHAR NOT NULL,
    revoked_at TIMESTAMPTZ,
    revoked_by VARCHAR,
    last_used_at TIMESTAMPTZ
);

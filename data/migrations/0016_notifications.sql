-- 0016: notifications (issue 16, docs/NOTIFICATIONS.md). Reminders are written to an
-- outbox by dashboard/reminders.py (`scan`), then delivered by dashboard/notify.py
-- (`deliver`, Apprise: e-mail, WeCom, DingTalk, Feishu, JSON webhooks). Like every
-- migration, `Store.migrate` applies this file in one explicit transaction with its audit
-- entry (no BEGIN here: a nested one would fail).
--
-- Exactly once: `dedupe_key` is UNIQUE, so a reminder (one threshold of one item) is
-- queued once however often the scan runs; a row is marked `sent` in the same transaction
-- as its successful attempt, so a restart sends what was queued and not yet sent, and
-- never re-sends what was recorded as sent. Channel addresses are NOT stored: they hold
-- secrets (passwords, bot tokens) and are resolved from the configuration at send time.

CREATE TABLE outbox (
    id BIGINT PRIMARY KEY,                 -- 1, 2, ... in order of queuing
    dedupe_key VARCHAR NOT NULL UNIQUE,    -- e.g. incident:INC-2026-0001:regulator:80; also
                                           -- the id every message carries (receivers may
                                           -- drop a duplicate by it)
    kind VARCHAR NOT NULL CHECK (kind IN ('incident_clock', 'agreement_expiry',
        'request_deadline', 'remediation_overdue', 'daily_digest', 'check_failed')),
    item_type VARCHAR,                     -- incident, sharing_agreement, rights_request,
                                           -- remediation_plan, digest, check
    item_id VARCHAR,                       -- the register key (a plan: rule_id|entity_id)
    threshold VARCHAR,                     -- 80 (percent), 7 (days), 2 (working days), a date
    recipient_roles VARCHAR[] NOT NULL,    -- roles whose channels get it: dpo, manager, ...
    recipient_accounts VARCHAR[] NOT NULL, -- account names (users.username) named on the item
    subject VARCHAR NOT NULL,              -- plain text, ends with the dedupe key
    body VARCHAR NOT NULL,                 -- plain text, times in Beijing time
    data VARCHAR,                          -- JSON facts of the reminder (deadline, percent, ...)
    created_at TIMESTAMPTZ NOT NULL,       -- queued at (the store clock)
    status VARCHAR NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'superseded')),
                                           -- superseded: a more urgent threshold of the
                                           -- same item was queued in the same scan
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,           -- pending: not tried again before this
    sent_at TIMESTAMPTZ,
    last_error VARCHAR,                    -- redacted: no password or token
    delivered_targets VARCHAR[] NOT NULL DEFAULT [],  -- channels already done (ids, not URLs)
    audit_seq BIGINT NOT NULL              -- the audit entry that queued it
);

-- One row per delivery attempt (append-only).
CREATE TABLE outbox_attempts (
    outbox_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,              -- 1, 2, ...
    "at" TIMESTAMPTZ NOT NULL,
    ok BOOLEAN NOT NULL,
    error VARCHAR,                         -- redacted
    targets VARCHAR,                       -- the channels tried, redacted (mailto://***@host)
    PRIMARY KEY (outbox_id, attempt)
);

-- In-app notifications, for the notification bell: one row per recipient (a role or an
-- account) of each queued message. read_at: an account's own notification read.
CREATE TABLE notifications (
    outbox_id BIGINT NOT NULL,
    recipient_kind VARCHAR NOT NULL CHECK (recipient_kind IN ('role', 'account')),
    recipient VARCHAR NOT NULL,
    read_at TIMESTAMPTZ,
    PRIMARY KEY (outbox_id, recipient_kind, recipient)
);

-- Who has read a notification addressed to a role: each person of the role reads it for
-- themselves (the bell counts what the signed-in user has not read).
CREATE TABLE notification_reads (
    outbox_id BIGINT NOT NULL,
    username VARCHAR NOT NULL,
    read_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (outbox_id, username)
);

-- 0009: sessions that survive a reload, sign-in throttling, demo accounts (issue 12, and
-- issue 11's sign-in audit flood). See docs/ACCESS.md.
--
-- users.session_epoch: part of what every session and session cookie is bound to (with the
-- password hash and the role); disabling an account bumps it, so a session opened before
-- cannot come back when the account is enabled again.
-- users.demo: the demo accounts of `user demo-accounts` (published passwords). A store made
-- before this migration marks them by their demo username and display name.
-- The per-account failure count and lock move to sign_in_throttle (by account, by client
-- address, and by both), so the two old columns go.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN demo BOOLEAN NOT NULL DEFAULT false;
UPDATE users SET demo = true
WHERE (username = 'dpo' AND display_name = 'Demo data protection officer')
   OR (username = 'manager' AND display_name = 'Demo manager')
   OR (username = 'auditor' AND display_name = 'Demo auditor')
   OR (username = 'admin' AND display_name = 'Demo administrator');
ALTER TABLE users DROP COLUMN failed_attempts;
ALTER TABLE users DROP COLUMN locked_until;

-- Throttle counters, written when an audit entry is (dashboard/throttle.py keeps the live
-- counts in the app's process). account_key is an HMAC of the username under the store's
-- session secret (an unknown username, often a mistyped password, is never stored in
-- clear); '' means "any account". address is the client address; '' means "any address".
CREATE TABLE sign_in_throttle (
    account_key VARCHAR NOT NULL,
    address VARCHAR NOT NULL,
    failures INTEGER NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    blocked_until TIMESTAMPTZ,
    PRIMARY KEY (account_key, address)
);

-- Addresses an account has signed in from: exempt from the pause of the account as a whole,
-- so that failures from elsewhere cannot lock its owner out.
CREATE TABLE sign_in_known_addresses (
    account_key VARCHAR NOT NULL,
    address VARCHAR NOT NULL,
    last_success_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_key, address)
);

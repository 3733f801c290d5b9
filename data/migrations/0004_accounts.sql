-- 0004: local user accounts (dashboard/accounts.py). Passwords are stored only as
-- Argon2id hashes (argon2-cffi's encoded form, which carries its own salt and
-- parameters); no query, export or audit entry ever reads password_hash back out.
-- Usernames are stored lower-case, so the primary key makes them unique regardless
-- of case; e-mail uniqueness (also case-insensitive) is checked by the service code.
CREATE TABLE users (
    username VARCHAR PRIMARY KEY CHECK (username = lower(username)),
    display_name VARCHAR NOT NULL,
    role VARCHAR NOT NULL CHECK (role IN ('dpo', 'manager', 'auditor', 'admin')),
    email VARCHAR CHECK (email IS NULL OR email = lower(email)),
    password_hash VARCHAR NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT false,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    password_changed_at TIMESTAMPTZ NOT NULL,
    last_sign_in_at TIMESTAMPTZ
);

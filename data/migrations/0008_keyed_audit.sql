-- The audit log becomes keyed (dashboard/audit.py): each entry's hash is an HMAC-SHA-256
-- under a key kept outside the store (key_id names it), and carries the digests of the
-- tables the write changed, as they stood after it. Entries written before stay plain
-- SHA-256 (key_id NULL); the first keyed entry covers their head.
ALTER TABLE audit_log ADD COLUMN digests VARCHAR;
ALTER TABLE audit_log ADD COLUMN key_id VARCHAR;

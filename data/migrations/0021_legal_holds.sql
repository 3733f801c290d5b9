-- 0021 (issue 18): legal holds on retention records (dashboard/holds.py, docs/HOLDS.md).
--
-- retention_records.hold_reason / hold_reference / hold_review_on stay the current state of
-- a record's hold: the rules RET-OVERDUE and RET-HOLD-INVALID, the exports and the Retention
-- page read them. These two tables say where that state came from.
--
-- legal_holds: one row per hold action (set, reviewed, lifted), never updated or deleted:
-- a hold's history is its rows, its current values those of its last set/reviewed row, and
-- it is current until a "lifted" row. ``filter`` is the JSON of the filter the hold was set
-- on ({"subject_ref", "category", "system"} or {"record_id"}); ``record_count`` the records
-- the action covered; ``audit_seq`` the audit entry of the action.
CREATE TABLE legal_holds (
    event_id BIGINT PRIMARY KEY,
    hold_id BIGINT NOT NULL,
    action VARCHAR NOT NULL CHECK (action IN ('set', 'reviewed', 'lifted')),
    filter VARCHAR NOT NULL,
    record_count BIGINT NOT NULL,
    hold_reason VARCHAR NOT NULL CHECK (hold_reason IN ('law_or_regulation', 'court_or_legal_proceedings', 'authority_request', 'compliance_obligation', 'rights_protection')),
    hold_reference VARCHAR NOT NULL,
    hold_review_on DATE NOT NULL,
    note VARCHAR,
    actor VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    audit_seq BIGINT NOT NULL
);

-- legal_hold_records: which records each hold covers (one row per hold and record, written
-- when the hold is set, never changed: a lifted hold keeps its list, so "which records did
-- hold H cover" has an answer for past holds too). A record may be covered by several
-- current holds; its columns then show the one whose review falls last (dashboard/holds.py).
-- No primary key: the pairs are unique by construction (one INSERT per hold), and an index
-- would slow the 1 M-row insert of a bulk hold for no query that needs it (hold_id ascends
-- with the insert order, so DuckDB's zone maps find a hold's rows).
CREATE TABLE legal_hold_records (
    hold_id BIGINT NOT NULL,
    record_id BIGINT NOT NULL
);

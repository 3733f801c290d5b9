-- 0013: stored, incremental evaluation (issue 15). The schema "evaluation" holds what the
-- rules engine (dashboard/engine.py) derived from the registers, so that a page or `check`
-- reads results instead of re-running every rule over 10 M rows. Nothing here is evidence
-- of its own: every row can be rebuilt from the registers (`python -m dashboard check
-- --fresh` does), the audit log does not vouch for it (audit digests cover schema "main"
-- only) and the exports never read it.

CREATE SCHEMA IF NOT EXISTS evaluation;

-- One row per register table, bumped in the same transaction as every write that changes
-- it (dashboard/store.py): a rule's stored result is current while the versions of the
-- tables it reads are those it was computed on.
CREATE TABLE evaluation.table_versions (
    table_name VARCHAR PRIMARY KEY,
    version BIGINT NOT NULL
);

-- One row per rule whose result is stored ("day" and "data" rules, see docs/RULES.md):
-- what it was computed from (fingerprint: its SQL, macros and parameter values; inputs: the
-- versions of the tables it reads), for which moment and day, and until when it holds.
CREATE TABLE evaluation.rule_state (
    rule_id VARCHAR PRIMARY KEY,
    gen BIGINT NOT NULL,
    fingerprint VARCHAR NOT NULL,
    inputs VARCHAR NOT NULL,
    as_of TIMESTAMPTZ NOT NULL,
    as_of_date DATE NOT NULL,
    valid_until TIMESTAMPTZ,
    evaluated_at TIMESTAMPTZ NOT NULL,
    seconds DOUBLE NOT NULL
);

-- The rule's findings and due items (due within the horizon of its day).
CREATE TABLE evaluation.items (
    rule_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    entity_num BIGINT,
    detail VARCHAR,
    due_at TIMESTAMPTZ
);

-- Every entity the rule applies to, failing or not (registers keyed by text), for the
-- distinct-entity counts behind the scores of clauses and articles.
CREATE TABLE evaluation.entities (
    rule_id VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    failing BOOLEAN            -- never NULL once stored: a rule returning NULL is refused
);

-- The same for registers keyed by integers (retention records): two bitmaps over the key
-- range [lo, hi], entities the rule applies to and entities that fail it.
CREATE TABLE evaluation.bitmaps (
    rule_id VARCHAR PRIMARY KEY,
    lo BIGINT NOT NULL,
    hi BIGINT NOT NULL,
    applies BITSTRING,
    fails BITSTRING,
    n BIGINT NOT NULL,         -- rows the rule returned (equal to the bits set in applies)
    nulls BIGINT NOT NULL      -- rows with failing NULL (0, or the rule is refused)
);

-- Per entity type, the distinct-entity counts of every set of its rules the scores need,
-- for the rule states they were counted from (key).
CREATE TABLE evaluation.group_counts (
    entity_type VARCHAR PRIMARY KEY,
    state_key VARCHAR NOT NULL,
    counts VARCHAR NOT NULL
);

-- The working-day calendar the DSR rules read (dashboard/workdays.py with the settings'
-- override file), per calendar key (years, override file, package data): built once, not
-- in every process.
CREATE TABLE evaluation.calendar (
    key VARCHAR NOT NULL,
    day DATE NOT NULL,
    working BOOLEAN NOT NULL,
    provisional BOOLEAN NOT NULL,
    working_seq INTEGER NOT NULL,
    provisional_seq INTEGER NOT NULL
);

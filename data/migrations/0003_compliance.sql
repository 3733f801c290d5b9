-- 0003: compliance snapshots, one per day (the Shanghai date of the check's as-of),
-- so that scores can be charted over time. Written by dashboard.engine.save_snapshot
-- (permission check.snapshot); a check re-run on the same day replaces that day's rows.
-- The findings themselves are not stored here: they are recomputed from the registers
-- by the rules in data/rules/ (the snapshot records which rule files made the numbers).

CREATE TABLE compliance_snapshots (
    snapshot_date DATE PRIMARY KEY,        -- Asia/Shanghai date of as_of
    as_of TIMESTAMPTZ NOT NULL,            -- the moment the check was made "as of"
    taken_at TIMESTAMPTZ NOT NULL,         -- when the snapshot was stored
    taken_by VARCHAR NOT NULL,             -- actor name
    overall DOUBLE,                        -- overall score (docs/RULES.md), null if nothing applies
    entities_applicable BIGINT NOT NULL,   -- distinct entities some rule applies to
    entities_failing BIGINT NOT NULL,      -- distinct entities failing at least one rule
    findings BIGINT NOT NULL,
    findings_high BIGINT NOT NULL,
    findings_medium BIGINT NOT NULL,
    findings_low BIGINT NOT NULL,
    due BIGINT NOT NULL,                   -- items not yet late, falling due within due_soon_days
    rules_digest VARCHAR NOT NULL,         -- SHA-256 over the rule files and rules.toml
    settings VARCHAR NOT NULL              -- JSON of the settings the check used
);

-- One row per rule, clause and article of each snapshot.
CREATE TABLE compliance_snapshot_scores (
    snapshot_date DATE NOT NULL,
    level VARCHAR NOT NULL CHECK (level IN ('rule', 'clause', 'article')),
    code VARCHAR NOT NULL,                 -- rule_id, clause ("5.1.4") or article ("5")
    applicable BIGINT NOT NULL,
    failing BIGINT NOT NULL,
    due BIGINT NOT NULL,
    score DOUBLE,                          -- (applicable - failing) / applicable; null if 0 apply
    PRIMARY KEY (snapshot_date, level, code)
);

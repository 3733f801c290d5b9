-- 0014: stored page summaries (issue 15). A register page's counts over the whole register
-- (the Retention page's, over 10 M records) are, like the rules' results, work done once
-- per change: kept here with the versions of the tables they were computed from, and
-- computed again once one of those tables changes (dashboard/stored.py, `summary`).
-- Derived data: not audited, not exported, rebuilt at will (`check --fresh` drops it).
CREATE TABLE evaluation.summaries (
    key VARCHAR PRIMARY KEY,          -- the query and its parameters (a SHA-256)
    inputs VARCHAR NOT NULL,          -- the versions of the tables it reads, as JSON
    computed_at TIMESTAMPTZ NOT NULL,
    seconds DOUBLE NOT NULL,
    frame BLOB NOT NULL               -- the result, as Parquet
);

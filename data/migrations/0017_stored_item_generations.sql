-- 0017: each stored finding or due item carries the generation of the rule result it
-- belongs to (issue 15). A run of the engine then reads a rule's stored items in place
-- (rule id and generation, dashboard/engine.py run_items) instead of copying them into
-- memory: the 10 M-record rules' million findings are not copied for each run, and a
-- run never mixes two generations of one rule. Derived data: dashboard/stored.py FORMAT 3
-- makes every stored result stale, so the rules run again and fill the column.
ALTER TABLE evaluation.items ADD COLUMN gen BIGINT;

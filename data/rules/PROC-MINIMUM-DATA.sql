-- PROC-MINIMUM-DATA · policy clause 5.1.4 · processor
-- Promise: "only share the user information necessary to provide services", for a
--   "specific and clear purpose".
-- Applies to: processors with status 'active' that receive personal information
--   (data_categories lists at least one category), engaged on or before the check
--   date (or with no engagement date).
-- Fails when: a received category is not among those the processor's purpose needs,
--   per the purpose -> categories map of the policy data (table purpose_categories,
--   synced from data/policy/catalog.toml). A processor with no purpose recorded
--   needs nothing, so everything it receives is excess.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Reference tables: purpose_categories (purpose, category).
-- Output, one row per applicable processor: entity_id (processor_id), failing,
--   detail, due_at.
WITH p AS (
    SELECT processor_id, purpose, data_categories
    FROM processors
    WHERE status = 'active'
      AND (engaged_on IS NULL OR engaged_on <= $as_of_date)
      AND len(data_categories) > 0
),
needed AS (
    SELECT purpose, list(category) AS categories
    FROM purpose_categories
    GROUP BY purpose
),
x AS (
    SELECT
        p.processor_id,
        p.purpose,
        list_filter(
            list_distinct(p.data_categories),
            lambda c: NOT list_contains(coalesce(n.categories, CAST([] AS VARCHAR[])), c)
        ) AS excess
    FROM p
    LEFT JOIN needed n ON n.purpose = p.purpose
)
SELECT
    processor_id AS entity_id,
    len(excess) > 0 AS failing,
    CASE
        WHEN len(excess) = 0 THEN 'receives only what ' || purpose || ' needs'
        WHEN purpose IS NULL THEN 'no purpose recorded, yet receives ' || rule_list(list_sort(excess))
        ELSE 'purpose ' || purpose || ' does not need ' || rule_list(list_sort(excess))
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM x

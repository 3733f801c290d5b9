-- PROC-LOCATION · policy clause 6.1 · processor
-- Promise: "The information about you collected by the Platform is stored on the
--   server of the Platform located in Chinese Mainland."
-- Applies to: processors with status 'active', engaged on or before the check date
--   (or with no engagement date).
-- Fails when: storage_region is not CN. CN means Chinese Mainland: Hong Kong (HK),
--   Macao (MO) and Taiwan (TW) have their own codes and count as outside it, as in
--   the CAC's cross-border rules. No storage region recorded fails too: Mainland
--   storage cannot be shown.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable processor: entity_id (processor_id), failing,
--   detail, due_at.
SELECT
    processor_id AS entity_id,
    coalesce(upper(trim(storage_region)) <> 'CN', true) AS failing,
    CASE
        WHEN storage_region IS NULL OR trim(storage_region) = ''
            THEN 'no storage region recorded: Mainland storage cannot be shown'
        WHEN upper(trim(storage_region)) <> 'CN'
            THEN 'stores data in ' || upper(trim(storage_region)) || ', outside Chinese Mainland'
        ELSE 'stores data in Chinese Mainland (CN)'
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM processors
WHERE status = 'active'
  AND (engaged_on IS NULL OR engaged_on <= $as_of_date)

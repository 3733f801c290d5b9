-- RET-LOCATION · policy clause 6.1 · retention_record
-- Promise: "The information about you collected by the Platform is stored on the
--   server of the Platform located in Chinese Mainland."
-- Applies to: retention records collected on or before the check date and not
--   deleted on or before it (held records included: they are still stored).
-- Fails when: storage_region is not CN (Hong Kong, Macao and Taiwan have their own
--   codes and count as outside Chinese Mainland; an empty region fails too).
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable record: entity_id (record_id), failing, detail,
--   due_at.
SELECT
    record_id AS entity_id,
    coalesce(upper(trim(storage_region)) <> 'CN', true) AS failing,
    category || ' record in ' || system || ' stored in '
        || coalesce(nullif(upper(trim(storage_region)), ''), 'an unrecorded region')
        || CASE WHEN coalesce(upper(trim(storage_region)) <> 'CN', true)
                THEN ', outside Chinese Mainland' ELSE '' END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM retention_records
WHERE collected_on <= $as_of_date
  AND (deleted_on IS NULL OR deleted_on > $as_of_date)

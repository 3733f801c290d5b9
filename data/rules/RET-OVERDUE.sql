-- RET-OVERDUE · policy clause 6.2 · retention_record
-- Promise: "we only retain your information during the service period ... and the
--   retention time will not exceed the time necessary"; PIPL Art. 19 (shortest
--   period) and Art. 47 (delete when the service ends or the period expires).
-- Applies to: retention records collected on or before the check date, not deleted
--   on or before it (deleted_on empty or later), and not on hold (hold_reason empty;
--   holds are RET-HOLD-INVALID's scope).
-- Fails when: the record's due date for deletion (view retention_due, migration
--   0002: the earlier of service_ended_on + the category's days and collected_on +
--   its maximum age) is before the check date. Deleted on the due date complies;
--   still stored the day after fails. No due date yet (service ongoing, no maximum
--   age): complies.
-- Deadline: the due date, end of day.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Reference: view retention_due (retention_records + retention_rules).
-- Output, one row per applicable record: entity_id (record_id), failing, detail,
--   due_at.
SELECT
    record_id AS entity_id,
    coalesce(due_on < $as_of_date, false) AS failing,
    CASE
        WHEN due_on IS NULL THEN category || ' record in ' || system || ', no deletion due date yet'
        WHEN due_on < $as_of_date
            THEN category || ' record in ' || system || ' due for deletion on ' || rule_date(due_on)
                 || ', ' || rule_days($as_of_date - due_on) || ' overdue'
        WHEN due_on = $as_of_date
            THEN category || ' record in ' || system || ' due for deletion today (' || rule_date(due_on) || ')'
        ELSE category || ' record in ' || system || ' due for deletion on ' || rule_date(due_on)
             || ', in ' || rule_days(due_on - $as_of_date)
    END AS detail,
    rule_end_of_day(due_on) AS due_at
FROM retention_due
WHERE collected_on <= $as_of_date
  AND (deleted_on IS NULL OR deleted_on > $as_of_date)
  AND hold_reason IS NULL

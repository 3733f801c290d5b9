-- RET-HOLD-INVALID · policy clause 6.2 · retention_record
-- Promise: information is kept longer only under the five exceptions of 6.2 (law or
--   regulation, court or legal proceedings, authority requirements, compliance,
--   rights protection) "and only for the purposes related to" them.
-- Applies to: retention records on hold (hold_reason set), collected on or before
--   the check date and not deleted on or before it.
-- Fails when: hold_reference is empty (the exception is not documented), or
--   hold_review_on has passed (is before the check date: a review on the check date
--   itself is not yet late). A hold with no review date does not fail here.
-- Deadline: hold_review_on, end of day.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable record: entity_id (record_id), failing, detail,
--   due_at.
WITH r AS (
    SELECT
        record_id, category, hold_reason, hold_review_on,
        coalesce(trim(hold_reference) <> '', false) AS has_reference,
        coalesce(hold_review_on < $as_of_date, false) AS review_passed
    FROM retention_records
    WHERE hold_reason IS NOT NULL
      AND collected_on <= $as_of_date
      AND (deleted_on IS NULL OR deleted_on > $as_of_date)
)
SELECT
    record_id AS entity_id,
    NOT has_reference OR review_passed AS failing,
    category || ' record held for ' || hold_reason || ': ' || concat_ws('; ',
        CASE WHEN NOT has_reference THEN 'no hold reference recorded' END,
        CASE
            WHEN review_passed
                THEN 'review was due ' || rule_date(hold_review_on) || ', '
                     || rule_days($as_of_date - hold_review_on) || ' ago'
            WHEN hold_review_on IS NULL THEN CASE WHEN has_reference THEN 'no review date set' END
            ELSE 'review due ' || rule_date(hold_review_on) || ', in '
                 || rule_days(hold_review_on - $as_of_date)
        END
    ) AS detail,
    rule_end_of_day(hold_review_on) AS due_at
FROM r

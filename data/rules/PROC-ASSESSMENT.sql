-- PROC-ASSESSMENT · policy clause 5.1.4 · processor
-- Promise: partners are required to take "confidentiality and security measures";
--   PIPL Art. 21 makes the handler supervise the processor, Art. 54 asks for periodic
--   audits, and MLPS 2.0 assesses level-3 systems at least yearly.
-- Applies to: processors with status 'active', engaged on or before the check date
--   (or with no engagement date).
-- Fails when: no last_assessed_on within $processor_assessment_days days of the
--   check date: never assessed (or an assessment dated after the check date), or
--   assessed more than that many days before it. Assessed exactly that many days
--   before the check date still complies; one day more fails.
-- Deadline: last_assessed_on + $processor_assessment_days, end of day: the next
--   assessment is due then.
-- Parameters:
--   $as_of_date                 DATE     the check date (Asia/Shanghai date of as-of)
--   $processor_assessment_days  INTEGER  setting processor_assessment_days [365]
-- Output, one row per applicable processor: entity_id (processor_id), failing,
--   detail, due_at.
WITH p AS (
    SELECT
        processor_id,
        CASE WHEN last_assessed_on <= $as_of_date THEN last_assessed_on END AS assessed_on
    FROM processors
    WHERE status = 'active'
      AND (engaged_on IS NULL OR engaged_on <= $as_of_date)
),
d AS (
    SELECT processor_id, assessed_on,
           assessed_on + CAST($processor_assessment_days AS INTEGER) AS next_due
    FROM p
)
SELECT
    processor_id AS entity_id,
    assessed_on IS NULL OR next_due < $as_of_date AS failing,
    CASE
        WHEN assessed_on IS NULL THEN 'no security assessment or audit on record'
        WHEN next_due < $as_of_date
            THEN 'last assessed ' || rule_date(assessed_on) || ', ' || rule_days($as_of_date - assessed_on)
                 || ' ago; the next was due by ' || rule_date(next_due)
        ELSE 'last assessed ' || rule_date(assessed_on) || '; next assessment due by '
             || rule_date(next_due) || ', in ' || rule_days(next_due - $as_of_date)
    END AS detail,
    rule_end_of_day(next_due) AS due_at
FROM d

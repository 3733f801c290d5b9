-- PROC-OFFBOARD-RETURN · policy clause 5.1.4 · processor
-- Promise: partners "have no right to use your user information ... for any other
--   purpose"; PIPL Art. 21: when the entrustment ends the processor returns or
--   deletes the personal information.
-- Applies to: processors with status 'offboarded' whose offboarded_on is on or
--   before the check date, or is not recorded (an offboarding dated later had not
--   happened yet on the check date).
-- Fails when: data_returned_on (return or deletion confirmed) is later than
--   offboarded_on + $offboard_return_days days, or is missing (or dated after the
--   check date) and the check date is past that deadline. Confirmed exactly on the
--   last day complies. With no offboarded_on recorded, the window cannot be shown to
--   be still open: it fails unless the return is confirmed (the clause's promise is
--   that the data comes back; a confirmed return keeps it).
-- Deadline: offboarded_on + $offboard_return_days, end of day, unless confirmed in time.
-- Parameters:
--   $as_of_date            DATE     the check date (Asia/Shanghai date of as-of)
--   $offboard_return_days  INTEGER  setting offboard_return_days [30]
-- Output, one row per applicable processor: entity_id (processor_id), failing,
--   detail, due_at.
WITH p AS (
    SELECT
        processor_id,
        offboarded_on,
        offboarded_on + CAST($offboard_return_days AS INTEGER) AS deadline,
        CASE WHEN data_returned_on <= $as_of_date THEN data_returned_on END AS returned_on
    FROM processors
    WHERE status = 'offboarded'
      AND (offboarded_on IS NULL OR offboarded_on <= $as_of_date)
)
SELECT
    processor_id AS entity_id,
    CASE
        WHEN offboarded_on IS NULL THEN returned_on IS NULL
        WHEN returned_on IS NOT NULL THEN returned_on > deadline
        ELSE $as_of_date > deadline
    END AS failing,
    CASE
        WHEN offboarded_on IS NULL AND returned_on IS NULL
            THEN 'offboarded, no offboarding date and no return or deletion of data confirmed'
        WHEN offboarded_on IS NULL
            THEN 'offboarded (date not recorded); data return confirmed ' || rule_date(returned_on)
        WHEN returned_on > deadline
            THEN 'offboarded ' || rule_date(offboarded_on) || '; data return confirmed '
                 || rule_date(returned_on) || ', ' || rule_days(returned_on - deadline)
                 || ' after the deadline of ' || rule_date(deadline)
        WHEN returned_on IS NOT NULL
            THEN 'offboarded ' || rule_date(offboarded_on) || '; data return confirmed ' || rule_date(returned_on)
        WHEN $as_of_date > deadline
            THEN 'offboarded ' || rule_date(offboarded_on) || '; no return or deletion of data confirmed, '
                 || rule_days($as_of_date - deadline) || ' past the deadline of ' || rule_date(deadline)
        ELSE 'offboarded ' || rule_date(offboarded_on) || '; return or deletion of data to confirm by '
             || rule_date(deadline) || ', in ' || rule_days(deadline - $as_of_date)
    END AS detail,
    CASE WHEN returned_on IS NULL OR returned_on > deadline THEN rule_end_of_day(deadline) END AS due_at
FROM p

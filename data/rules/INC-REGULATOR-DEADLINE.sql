-- INC-REGULATOR-DEADLINE · policy clause 7.2 · incident
-- Promise: we will "timely report it in accordance with the National Network
--   Security Emergency Plan and other relevant provisions"; CAC Measures for
--   National Cybersecurity Incident Reporting (2025) Art. 4: an incident graded
--   relatively major or above is reported to the provincial CAC within 4 hours of
--   discovery (1 hour for a critical-information-infrastructure operator).
-- Applies to: incidents graded relatively_major, major or particularly_major,
--   detected at or before the check moment. Incidents graded general are out (an
--   under-graded incident is INC-GRADE's finding).
-- Clock: deadline = detected_at + $regulator_hours hours. Met if
--   regulator_reported_at is at or before the deadline; late (fails) if after it;
--   overdue (fails) if not reported (or reported after the check moment) and the
--   check moment is past the deadline; due otherwise (not a finding).
-- Deadline: the deadline above, while not met.
-- Parameters:
--   $as_of            TIMESTAMPTZ  the check moment
--   $regulator_hours  INTEGER      setting regulator_report_hours [4], or
--                                  regulator_report_hours_cii [1] when cii_operator
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i AS (
    SELECT
        incident_id, grade, detected_at,
        detected_at + to_hours(CAST($regulator_hours AS BIGINT)) AS deadline,
        CASE WHEN regulator_reported_at <= $as_of THEN regulator_reported_at END AS reported_at
    FROM incidents
    WHERE detected_at <= $as_of
      AND grade IN ('relatively_major', 'major', 'particularly_major')
)
SELECT
    incident_id AS entity_id,
    CASE WHEN reported_at IS NOT NULL THEN reported_at > deadline ELSE $as_of > deadline END AS failing,
    grade || ' incident detected ' || rule_time(detected_at) || '; ' || CASE
        WHEN reported_at > deadline
            THEN 'reported to the regulator ' || rule_time(reported_at) || ', '
                 || rule_span(deadline, reported_at) || ' after the ' || CAST($regulator_hours AS VARCHAR)
                 || ' h deadline of ' || rule_time(deadline)
        WHEN reported_at IS NOT NULL
            THEN 'reported to the regulator ' || rule_time(reported_at) || ', '
                 || rule_span(detected_at, reported_at) || ' after detection'
        WHEN $as_of > deadline
            THEN 'not reported to the regulator; the ' || CAST($regulator_hours AS VARCHAR)
                 || ' h deadline of ' || rule_time(deadline) || ' passed ' || rule_span(deadline, $as_of) || ' ago'
        ELSE 'report to the regulator by ' || rule_time(deadline) || ', in ' || rule_span($as_of, deadline)
    END AS detail,
    CASE WHEN reported_at IS NULL OR reported_at > deadline THEN deadline END AS due_at
FROM i

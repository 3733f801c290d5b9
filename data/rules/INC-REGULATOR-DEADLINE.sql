-- INC-REGULATOR-DEADLINE · policy clause 7.2 · incident
-- Promise: we will "timely report it in accordance with the National Network
--   Security Emergency Plan and other relevant provisions"; CAC Measures for
--   National Cybersecurity Incident Reporting (2025) Art. 4: an incident graded
--   relatively major or above is reported to the provincial CAC within 4 hours of
--   discovery; an incident involving critical information infrastructure (CII) goes
--   to the protection department within 1 hour at the latest.
-- Applies to: incidents with a RECORDED grade of relatively_major, major or
--   particularly_major, detected at or before the check moment. Incidents graded
--   general are out: under-grading is INC-GRADE's finding only (rules version 2), so
--   one mistake is counted once.
-- Clock: deadline = detected_at + hours, where hours is $regulator_report_hours_cii
--   when the Platform is a CII operator ($cii_operator) or the incident has
--   cii_involved (rules version 2), else $regulator_report_hours. Met if
--   regulator_reported_at is at or before the deadline; late (fails) if after it;
--   overdue (fails) if not reported (or reported after the check moment) and the
--   check moment is past the deadline; due otherwise (not a finding).
-- Deadline: the deadline above, while not met.
-- Parameters:
--   $as_of                       TIMESTAMPTZ  the check moment
--   $regulator_report_hours      INTEGER  setting regulator_report_hours [4]
--   $regulator_report_hours_cii  INTEGER  setting regulator_report_hours_cii [1]
--   $cii_operator                BOOLEAN  setting cii_operator [false]
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i0 AS (
    SELECT
        incident_id, grade, detected_at,
        $cii_operator OR coalesce(cii_involved, false) AS cii,
        CASE WHEN $cii_operator OR coalesce(cii_involved, false)
             THEN $regulator_report_hours_cii ELSE $regulator_report_hours END AS hours,
        CASE WHEN regulator_reported_at <= $as_of THEN regulator_reported_at END AS reported_at
    FROM incidents
    WHERE detected_at <= $as_of
      AND grade IN ('relatively_major', 'major', 'particularly_major')
),
i AS (
    SELECT *, detected_at + to_hours(CAST(hours AS BIGINT)) AS deadline,
        CAST(hours AS VARCHAR) || ' h' || CASE WHEN cii THEN ' (CII)' ELSE '' END AS clock
    FROM i0
)
SELECT
    incident_id AS entity_id,
    CASE WHEN reported_at IS NOT NULL THEN reported_at > deadline ELSE $as_of > deadline END AS failing,
    grade || ' incident detected ' || rule_time(detected_at) || '; ' || CASE
        WHEN reported_at > deadline
            THEN 'reported to the regulator ' || rule_time(reported_at) || ', '
                 || rule_span(deadline, reported_at) || ' after the ' || clock
                 || ' deadline of ' || rule_time(deadline)
        WHEN reported_at IS NOT NULL
            THEN 'reported to the regulator ' || rule_time(reported_at) || ', '
                 || rule_span(detected_at, reported_at) || ' after detection'
        WHEN $as_of > deadline
            THEN 'not reported to the regulator; the ' || clock
                 || ' deadline of ' || rule_time(deadline) || ' passed ' || rule_live_span(deadline, $as_of) || ' ago'
        ELSE 'report to the regulator by ' || rule_time(deadline) || ' (' || clock || '), in '
             || rule_live_span(deadline, $as_of)
    END AS detail,
    CASE WHEN reported_at IS NULL OR reported_at > deadline THEN deadline END AS due_at
FROM i

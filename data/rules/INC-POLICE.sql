-- INC-POLICE · policy clause 7.2 · incident · rules version 2
-- Promise: we will "timely report it in accordance with ... relevant provisions"; the
--   CAC reporting measures (2025) and NDSMR Art. 11: where a crime is suspected, the
--   police are told promptly ("及时"); an incident involving critical information
--   infrastructure goes to the protection department and the police within 1 hour at
--   the latest (Art. 4).
-- Applies to: incidents detected at or before the check moment with
--   suspected_crime = true, of any grade. Not recorded (null) counts as not suspected:
--   the log form asks the question.
-- Clock: deadline = detected_at + hours, where hours is $police_report_hours_cii when
--   the Platform is a CII operator ($cii_operator) or the incident has cii_involved,
--   else $police_report_hours. The law gives ordinary operators no hour figure:
--   4 h is the project's default (P), a setting, independent of when the regulator was
--   told. Met if police_reported_at is at or before the deadline; late (fails) if after
--   it; overdue (fails) if not reported (or reported after the check moment) and the
--   check moment is past the deadline; due otherwise (not a finding).
-- Deadline: the deadline above, while not met.
-- Parameters:
--   $as_of                    TIMESTAMPTZ  the check moment
--   $police_report_hours      INTEGER  setting police_report_hours [4]
--   $police_report_hours_cii  INTEGER  setting police_report_hours_cii [1]
--   $cii_operator             BOOLEAN  setting cii_operator [false]
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i0 AS (
    SELECT
        incident_id, grade, detected_at,
        $cii_operator OR coalesce(cii_involved, false) AS cii,
        CASE WHEN $cii_operator OR coalesce(cii_involved, false)
             THEN $police_report_hours_cii ELSE $police_report_hours END AS hours,
        CASE WHEN police_reported_at <= $as_of THEN police_reported_at END AS reported_at
    FROM incidents
    WHERE detected_at <= $as_of
      AND coalesce(suspected_crime, false)
),
i AS (
    SELECT *, detected_at + to_hours(CAST(hours AS BIGINT)) AS deadline,
        CAST(hours AS VARCHAR) || ' h' || CASE WHEN cii THEN ' (CII)' ELSE '' END AS clock
    FROM i0
)
SELECT
    incident_id AS entity_id,
    CASE WHEN reported_at IS NOT NULL THEN reported_at > deadline ELSE $as_of > deadline END AS failing,
    'crime suspected, ' || grade || ' incident detected ' || rule_time(detected_at) || '; ' || CASE
        WHEN reported_at > deadline
            THEN 'reported to the police ' || rule_time(reported_at) || ', '
                 || rule_span(deadline, reported_at) || ' after the ' || clock
                 || ' deadline of ' || rule_time(deadline)
        WHEN reported_at IS NOT NULL
            THEN 'reported to the police ' || rule_time(reported_at) || ', '
                 || rule_span(detected_at, reported_at) || ' after detection'
        WHEN $as_of > deadline
            THEN 'not reported to the police; the ' || clock || ' deadline of '
                 || rule_time(deadline) || ' passed ' || rule_live_span(deadline, $as_of) || ' ago'
        ELSE 'report to the police by ' || rule_time(deadline) || ' (' || clock || '), in '
             || rule_live_span(deadline, $as_of)
    END AS detail,
    CASE WHEN reported_at IS NULL OR reported_at > deadline THEN deadline END AS due_at
FROM i

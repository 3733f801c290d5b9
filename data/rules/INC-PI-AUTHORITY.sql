-- INC-PI-AUTHORITY · policy clause 7.2 · incident · rules version 2
-- Promise: we will "timely report it in accordance with ... relevant provisions";
--   PIPL Art. 57: on any actual or possible leak, tampering or loss of personal
--   information, the handler immediately notifies the authority that protects
--   personal information AND the individuals. Art. 57 has no size threshold: the CAC
--   reporting measures' 4 h / 1 h clocks for relatively major incidents and above
--   come on top of it, not instead (regulations.md, corrections in version 2).
-- Applies to: incidents detected at or before the check moment with
--   affected_subjects > 0, whatever their grade, whatever their type. An incident with
--   no count recorded is out: the register cannot show that PI was involved (the log
--   form asks for the count). A user-notice exemption (Art. 57 para. 2) does not
--   remove this notice.
-- Clock: deadline = detected_at + $pi_authority_notice_hours hours (the project's
--   reading of "immediately", P, a setting). Notified = the earlier of
--   pi_authority_notified_at and regulator_reported_at, each counted only if at or
--   before the check moment (a regulator report counts: the provincial CAC is such an
--   authority). Met if notified at or before the deadline; late (fails) if after it;
--   overdue (fails) if not notified and the check moment is past the deadline; due
--   otherwise (not a finding).
-- Deadline: the deadline above, while not met.
-- Parameters:
--   $as_of                      TIMESTAMPTZ  the check moment
--   $pi_authority_notice_hours  INTEGER      setting pi_authority_notice_hours [24]
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i0 AS (
    SELECT
        incident_id, grade, detected_at, affected_subjects,
        detected_at + to_hours(CAST($pi_authority_notice_hours AS BIGINT)) AS deadline,
        CASE WHEN pi_authority_notified_at <= $as_of THEN pi_authority_notified_at END AS authority_at,
        CASE WHEN regulator_reported_at <= $as_of THEN regulator_reported_at END AS regulator_at
    FROM incidents
    WHERE detected_at <= $as_of
      AND affected_subjects > 0
),
i AS (
    SELECT *,
        least(authority_at, regulator_at) AS notified_at,
        CASE WHEN regulator_at IS NOT NULL AND (authority_at IS NULL OR regulator_at < authority_at)
             THEN 'regulator report' ELSE 'PI authority notified' END AS how
    FROM i0
)
SELECT
    incident_id AS entity_id,
    CASE WHEN notified_at IS NOT NULL THEN notified_at > deadline ELSE $as_of > deadline END AS failing,
    grade || ' incident, ' || format('{:,}', affected_subjects) || ' people affected, detected '
        || rule_time(detected_at) || '; ' || CASE
        WHEN notified_at > deadline
            THEN how || ' ' || rule_time(notified_at) || ', ' || rule_span(deadline, notified_at)
                 || ' after the ' || CAST($pi_authority_notice_hours AS VARCHAR) || ' h deadline of '
                 || rule_time(deadline)
        WHEN notified_at IS NOT NULL
            THEN how || ' ' || rule_time(notified_at) || ', ' || rule_span(detected_at, notified_at)
                 || ' after detection'
        WHEN $as_of > deadline
            THEN 'no authority protecting personal information notified; the '
                 || CAST($pi_authority_notice_hours AS VARCHAR) || ' h deadline of '
                 || rule_time(deadline) || ' passed ' || rule_live_span(deadline, $as_of) || ' ago'
        ELSE 'notify the authority protecting personal information by ' || rule_time(deadline)
             || ', in ' || rule_live_span(deadline, $as_of)
    END AS detail,
    CASE WHEN notified_at IS NULL OR notified_at > deadline THEN deadline END AS due_at
FROM i

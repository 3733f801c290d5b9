-- INC-USER-NOTICE · policy clause 7.2 · incident
-- Promise: we will "inform you of the relevant situation by the forms of email,
--   notification, announcement, etc."; PIPL Art. 57: notify the individuals
--   immediately. The law gives no number; $user_notice_hours (24 h) is the project's
--   reading of "immediately" (a setting; rules version 1 used 72 h).
-- Applies to: incidents detected at or before the check moment with
--   affected_subjects > 0 (any grade) and no user_notice_exemption recorded.
-- Out of scope: an incident with user_notice_exemption (the reason the measures taken
--   effectively avoid harm, PIPL Art. 57 para. 2): no notice to individuals is needed.
--   The column carries no date, so a recorded exemption counts at any check moment;
--   the incident's timeline shows when it was recorded. The authority notice stays
--   due (INC-PI-AUTHORITY).
-- Clock: deadline = detected_at + $user_notice_hours hours. Met if users_notified_at
--   is at or before the deadline; late (fails) if after it; overdue (fails) if not
--   notified (or notified after the check moment) and the check moment is past the
--   deadline; due otherwise (not a finding).
-- Deadline: the deadline above, while not met.
-- Parameters:
--   $as_of              TIMESTAMPTZ  the check moment
--   $user_notice_hours  INTEGER      setting user_notice_hours [24]
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i AS (
    SELECT
        incident_id, detected_at, affected_subjects,
        detected_at + to_hours(CAST($user_notice_hours AS BIGINT)) AS deadline,
        CASE WHEN users_notified_at <= $as_of THEN users_notified_at END AS notified_at
    FROM incidents
    WHERE detected_at <= $as_of
      AND affected_subjects > 0
      AND coalesce(trim(user_notice_exemption), '') = ''
)
SELECT
    incident_id AS entity_id,
    CASE WHEN notified_at IS NOT NULL THEN notified_at > deadline ELSE $as_of > deadline END AS failing,
    format('{:,}', affected_subjects) || ' people affected, detected ' || rule_time(detected_at) || '; ' || CASE
        WHEN notified_at > deadline
            THEN 'users notified ' || rule_time(notified_at) || ', ' || rule_span(deadline, notified_at)
                 || ' after the ' || CAST($user_notice_hours AS VARCHAR) || ' h deadline of ' || rule_time(deadline)
        WHEN notified_at IS NOT NULL
            THEN 'users notified ' || rule_time(notified_at) || ', ' || rule_span(detected_at, notified_at)
                 || ' after detection'
        WHEN $as_of > deadline
            THEN 'users not notified; the ' || CAST($user_notice_hours AS VARCHAR) || ' h deadline of '
                 || rule_time(deadline) || ' passed ' || rule_live_span(deadline, $as_of) || ' ago'
        ELSE 'notify users by ' || rule_time(deadline) || ', in ' || rule_live_span(deadline, $as_of)
    END AS detail,
    CASE WHEN notified_at IS NULL OR notified_at > deadline THEN deadline END AS due_at
FROM i

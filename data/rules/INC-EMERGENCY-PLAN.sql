-- INC-EMERGENCY-PLAN · policy clause 7.2 · incident
-- Promise: "In case of personal information disclosure or similar security event,
--   we will activate the emergency plan"; PIPL Art. 51(5) requires the plan.
-- Applies to: every incident detected at or before the check moment, of any grade
--   and status.
-- Fails when: emergency_plan_activated_at is empty (or later than the check moment:
--   not yet activated then). The policy gives no grace period.
-- Deadline: none (due_at is null): activation is immediate.
-- Parameters:
--   $as_of  TIMESTAMPTZ  the check moment
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i AS (
    SELECT
        incident_id, grade, detected_at,
        CASE WHEN emergency_plan_activated_at <= $as_of THEN emergency_plan_activated_at END AS activated_at
    FROM incidents
    WHERE detected_at <= $as_of
)
SELECT
    incident_id AS entity_id,
    activated_at IS NULL AS failing,
    CASE
        WHEN activated_at IS NULL
            THEN grade || ' incident detected ' || rule_time(detected_at)
                 || '; no emergency plan activation recorded'
        ELSE 'emergency plan activated ' || rule_time(activated_at)
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM i

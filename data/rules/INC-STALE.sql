-- INC-STALE · policy clause 7.2 · incident
-- Promise: "We have rigorous management systems and process in place"; an incident
--   left without any recorded step is not being managed.
-- Applies to: incidents detected at or before the check moment and unresolved at
--   it: no resolved_at at or before the check moment, and a status other than
--   resolved or closed (an incident resolved after the check moment was unresolved
--   at it, whatever its status now).
-- Fails when: its last activity - the latest of detected_at and its timeline events'
--   "at" (incident_events, events after the check moment ignored) - is more than
--   $incident_stale_days days before the check moment. An incident with no events
--   counts from detected_at. Exactly that many days is not yet stale.
-- Deadline: last activity + $incident_stale_days days: record a step by then.
-- Parameters:
--   $as_of                TIMESTAMPTZ  the check moment
--   $incident_stale_days  INTEGER      setting incident_stale_days [14]
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH last_event AS (
    SELECT incident_id, max("at") AS last_at
    FROM incident_events
    WHERE "at" <= $as_of
    GROUP BY incident_id
),
i AS (
    SELECT
        i.incident_id, i.status, i.detected_at,
        greatest(i.detected_at, e.last_at) AS last_activity
    FROM incidents i
    LEFT JOIN last_event e ON e.incident_id = i.incident_id
    WHERE i.detected_at <= $as_of
      AND NOT coalesce(i.resolved_at <= $as_of, false)
      AND (i.status NOT IN ('resolved', 'closed') OR NOT (i.resolved_at <= $as_of))
),
d AS (
    SELECT *, last_activity + to_days(CAST($incident_stale_days AS INTEGER)) AS deadline FROM i
)
SELECT
    incident_id AS entity_id,
    $as_of > deadline AS failing,
    'unresolved, detected ' || rule_time(detected_at) || '; last activity ' || rule_time(last_activity)
        || ', ' || rule_live_span(last_activity, $as_of) || ' ago' || CASE
        WHEN $as_of > deadline
            THEN '; no step recorded for more than ' || CAST($incident_stale_days AS VARCHAR) || ' days'
        ELSE '; record a step by ' || rule_time(deadline)
    END AS detail,
    deadline AS due_at
FROM d

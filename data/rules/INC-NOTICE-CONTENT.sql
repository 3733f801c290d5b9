-- INC-NOTICE-CONTENT · policy clause 7.2 · incident
-- Promise: we will inform you "and provide you with security suggestions"; PIPL
--   Art. 57: the notice states the PI categories involved, the cause, the possible
--   harm, the remedial measures taken, what individuals can do to reduce harm, and
--   the handler's contact details.
-- Applies to: incidents detected at or before the check moment whose users were
--   notified (users_notified_at at or before the check moment).
-- Fails when: notice_contents lacks any of categories, cause, possible_harm,
--   remedial_measures, self_protection_advice, contact.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of  TIMESTAMPTZ  the check moment
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i AS (
    SELECT
        incident_id, users_notified_at,
        list_filter(
            ['categories', 'cause', 'possible_harm', 'remedial_measures', 'self_protection_advice', 'contact'],
            lambda t: NOT list_contains(coalesce(notice_contents, CAST([] AS VARCHAR[])), t)
        ) AS missing
    FROM incidents
    WHERE detected_at <= $as_of
      AND users_notified_at <= $as_of
)
SELECT
    incident_id AS entity_id,
    len(missing) > 0 AS failing,
    'users notified ' || rule_time(users_notified_at) || CASE
        WHEN len(missing) > 0 THEN '; the notice lacks ' || rule_list(missing)
        ELSE '; the notice has all six PIPL Art. 57 items'
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM i

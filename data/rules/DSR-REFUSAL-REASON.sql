-- DSR-REFUSAL-REASON · policy clause 8.3 (also 8.4) · rights_request · rules version 2
-- Promise: policy 8.3 ("some of your requests may not be responded to due to technical
--   limitations or legal and regulatory requirements") and 8.4 (information that may not
--   be accessed, modified or deleted "for legitimate reasons"); PIPL Art. 50: a handler
--   that refuses a request gives its reasons, and the individual may then sue.
-- Applies to: requests with status 'refused' received on or before the check moment.
-- Fails when: refusal_reason is empty (null, or only spaces). A reason of any length
--   complies: whether it is a good reason is for the DPO, not the rule.
-- Deadline: none (the reason belongs in the reply that refused the request).
-- Parameters:
--   $as_of  TIMESTAMPTZ  the check moment
-- Output, one row per applicable request: entity_id (request_id), failing, detail,
--   due_at (always null).
SELECT
    request_id AS entity_id,
    coalesce(trim(refusal_reason), '') = '' AS failing,
    kind || ' request received ' || rule_time(received_at) || ', refused'
    || coalesce(' ' || rule_time(completed_at), '') || '; ' || CASE
        WHEN coalesce(trim(refusal_reason), '') = ''
            THEN 'no refusal reason recorded (PIPL Art. 50: a refusal gives its reasons)'
        ELSE 'reason: ' || CASE WHEN length(trim(refusal_reason)) > 120
                                THEN left(trim(refusal_reason), 117) || '...'
                                ELSE trim(refusal_reason) END
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM rights_requests
WHERE status = 'refused'
  AND received_at <= $as_of

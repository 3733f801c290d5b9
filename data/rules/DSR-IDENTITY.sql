-- DSR-IDENTITY · policy clause 8.3 · rights_request · rules version 2
-- Promise: policy 8.3: "when accessing, modifying or deleting relevant information, we
--   may require you to perform authentication to ensure your account security"; 10:
--   "reply after verifying your user identity". Answering an access, copy, deletion or
--   cancellation request for the wrong person discloses or destroys someone else's
--   information (PIPL Art. 9, Art. 51: security measures).
-- Applies to: requests of kind 'access', 'copy', 'delete' or 'cancel_account' with
--   status 'completed' and completed_at on or before the check moment (a request marked
--   completed without completed_at is DSR-DEADLINE's finding, not this rule's).
-- Fails when: there is no identity_verified_at on or before completed_at: none recorded,
--   or recorded after the completion (or after the check moment). Verified in the same
--   second as the completion complies.
-- Deadline: none.
-- Parameters:
--   $as_of  TIMESTAMPTZ  the check moment
-- Output, one row per applicable request: entity_id (request_id), failing, detail,
--   due_at (always null).
WITH q AS (
    SELECT
        request_id, kind, received_at, completed_at,
        CASE WHEN identity_verified_at <= $as_of THEN identity_verified_at END AS verified_at
    FROM rights_requests
    WHERE status = 'completed'
      AND kind IN ('access', 'copy', 'delete', 'cancel_account')
      AND completed_at <= $as_of
)
SELECT
    request_id AS entity_id,
    verified_at IS NULL OR verified_at > completed_at AS failing,
    kind || ' request completed ' || rule_time(completed_at) || '; ' || CASE
        WHEN verified_at IS NULL THEN 'no identity verification on record'
        WHEN verified_at > completed_at
            THEN 'identity verified ' || rule_time(verified_at) || ', '
                 || rule_span(completed_at, verified_at) || ' after it was completed'
        ELSE 'identity verified ' || rule_time(verified_at)
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM q

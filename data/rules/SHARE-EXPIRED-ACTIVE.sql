-- SHARE-EXPIRED-ACTIVE · policy clause 5 · sharing_agreement
-- Promise: information is shared, transferred or disclosed only on the terms of
--   article 5, under an agreement that is in force.
-- Applies to: agreements with status 'active', signed or effective on or before the
--   check date (or with neither date recorded).
-- Fails when: expires_on is before the check date (the agreement is valid through
--   its expiry date). No expiry date recorded: does not fail.
-- Deadline: expires_on, end of day - renew it or end it by then.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
SELECT
    agreement_id AS entity_id,
    coalesce(expires_on < $as_of_date, false) AS failing,
    CASE
        WHEN expires_on IS NULL THEN 'no expiry date recorded'
        WHEN expires_on < $as_of_date
            THEN 'still active, but expired on ' || rule_date(expires_on) || ', '
                 || rule_days($as_of_date - expires_on) || ' ago'
        WHEN expires_on = $as_of_date THEN 'expires today (' || rule_date(expires_on) || '): renew or end it'
        ELSE 'expires on ' || rule_date(expires_on) || ', in ' || rule_days(expires_on - $as_of_date)
             || ': renew or end it'
    END AS detail,
    rule_end_of_day(expires_on) AS due_at
FROM sharing_agreements
WHERE status = 'active'
  AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)

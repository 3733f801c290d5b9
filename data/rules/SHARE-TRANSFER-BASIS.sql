-- SHARE-TRANSFER-BASIS · policy clause 5.2.1 · sharing_agreement
-- Promise: "We will not transfer your user information ... provided that we may
--   transfer it after obtaining your explicit consent" (5.2.1); a transfer in a
--   merger is the one other case the policy allows (5.3.2).
-- Applies to: every agreement of kind 'transfer', active or ended (a transfer made
--   without a basis stays a breach after the agreement ends), signed or effective
--   on or before the check date (or with neither date recorded).
-- Fails when: legal_basis is neither 'explicit_consent' nor 'merger_acquisition'.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
SELECT
    agreement_id AS entity_id,
    legal_basis NOT IN ('explicit_consent', 'merger_acquisition') AS failing,
    CASE
        WHEN legal_basis NOT IN ('explicit_consent', 'merger_acquisition')
            THEN 'transfer on ' || legal_basis
                 || '; the policy allows transfers only on explicit consent or in a merger'
        ELSE 'transfer on ' || legal_basis
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM sharing_agreements
WHERE kind = 'transfer'
  AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)

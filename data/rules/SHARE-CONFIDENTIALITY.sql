-- SHARE-CONFIDENTIALITY · policy clause 5.3.1 · sharing_agreement
-- Promise: third parties we share with take "appropriate confidentiality and
--   security measures we require"; NDSMR Art. 12: contracts when providing data.
-- Applies to: agreements with status 'active' whose legal_basis is not
--   'legal_requirement' (a court or authority does not sign our clause), signed or
--   effective on or before the check date (or with neither date recorded).
-- Fails when: confidentiality_clause is not true (false or not recorded).
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
SELECT
    agreement_id AS entity_id,
    NOT coalesce(confidentiality_clause, false) AS failing,
    CASE
        WHEN confidentiality_clause IS NULL THEN 'no confidentiality clause recorded (' || legal_basis || ')'
        WHEN NOT confidentiality_clause THEN 'agreement has no confidentiality clause (' || legal_basis || ')'
        ELSE 'agreement has a confidentiality clause'
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM sharing_agreements
WHERE status = 'active'
  AND legal_basis <> 'legal_requirement'
  AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)

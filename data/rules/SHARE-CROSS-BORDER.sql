-- SHARE-CROSS-BORDER · policy clause 6.1 · sharing_agreement
-- Promise: information "is stored on the server of the Platform located in Chinese
--   Mainland"; PIPL Arts. 38-40 govern any provision abroad.
-- Applies to: agreements with status 'active', signed or effective on or before the
--   check date (or with neither date recorded).
-- Fails when: recipient_region is not CN. CN means Chinese Mainland: Hong Kong (HK),
--   Macao (MO) and Taiwan (TW) count as outside it, as in the CAC's cross-border
--   rules. No recipient region recorded fails too: Mainland storage cannot be shown.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
SELECT
    agreement_id AS entity_id,
    coalesce(upper(trim(recipient_region)) <> 'CN', true) AS failing,
    CASE
        WHEN recipient_region IS NULL OR trim(recipient_region) = ''
            THEN 'no recipient region recorded: Mainland storage cannot be shown'
        WHEN upper(trim(recipient_region)) <> 'CN'
            THEN 'recipient in ' || upper(trim(recipient_region)) || ', outside Chinese Mainland'
        ELSE 'recipient in Chinese Mainland (CN)'
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM sharing_agreements
WHERE status = 'active'
  AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)

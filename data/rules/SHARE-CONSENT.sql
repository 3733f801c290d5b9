-- SHARE-CONSENT · policy clause 5.1.1 · sharing_agreement
-- Promise: "We may share your user information with other parties after obtaining
--   your explicit consent" (5.1.1); "we will not transfer ... except after obtaining
--   your explicit consent" (5.2.1); disclosure on consent (5.3).
-- Applies to: agreements with status 'active', of kind 'share', 'transfer' or
--   'disclosure' (rules version 2: version 1 looked at shares only), legal_basis
--   'explicit_consent', signed or effective on or before the check date (or with
--   neither date recorded). Ended agreements are out.
-- Fails when: consent is not 'explicit' or 'separate' (none, bundled, or not
--   recorded), or consent_evidence is empty.
-- Deadline: none (due_at is null): consent precedes sharing.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
WITH a AS (
    SELECT
        agreement_id,
        kind,
        consent,
        coalesce(consent IN ('explicit', 'separate'), false) AS consent_ok,
        coalesce(trim(consent_evidence) <> '', false) AS evidence_ok
    FROM sharing_agreements
    WHERE status = 'active'
      AND kind IN ('share', 'transfer', 'disclosure')
      AND legal_basis = 'explicit_consent'
      AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)
)
SELECT
    agreement_id AS entity_id,
    NOT (consent_ok AND evidence_ok) AS failing,
    CASE
        WHEN NOT consent_ok AND NOT evidence_ok
            THEN kind || ' on explicit consent, but consent is ' || coalesce(consent, 'not recorded')
                 || ' and no consent evidence is recorded'
        WHEN NOT consent_ok
            THEN kind || ' on explicit consent, but consent is ' || coalesce(consent, 'not recorded')
                 || ' (explicit or separate consent needed)'
        WHEN NOT evidence_ok
            THEN 'consent is ' || consent || ' but no consent evidence is recorded'
        ELSE 'consent is ' || consent || ', evidence recorded'
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM a

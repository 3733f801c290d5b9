-- SHARE-SEPARATE-CONSENT · policy clauses 5.1.1, 5.2.1, 5.3.1 · sharing_agreement · rules version 2
-- Promise: we share (5.1.1) or transfer (5.2.1) only with explicit consent, and share
--   with affiliates (5.3.1) and for dispute resolution (5.1.3) as the policy says;
--   PIPL Art. 23: providing personal information to ANOTHER HANDLER needs the
--   individual told the recipient's name, contact, purpose, method and categories, and
--   their SEPARATE consent, unless another basis of Art. 13(2)-(7) applies. The
--   policy's "dispute resolution" and "affiliates" bases have no Art. 13 counterpart of
--   their own: without separate consent they rest on nothing (regulations.md,
--   corrections in version 2).
-- Applies to: agreements with status 'active', of kind 'share', 'transfer' or
--   'disclosure', covering at least one data category, with no processor_id (the
--   recipient is not an entrusted processor: Art. 21 processing is not provision to
--   another handler; PROC-* rules cover processors), whose legal_basis is
--   explicit_consent, dispute_resolution or affiliate_service, signed or effective on
--   or before the check date (or with neither date recorded). Ended agreements are out.
--   Reading: "with no processor_id" applies to all three bases, since Art. 23 is about
--   provision to another handler whatever the basis. Other bases are out: a legal
--   requirement or a merger is its own Art. 13 / Art. 22 basis, and
--   entrusted_processing is Art. 21.
-- Fails when: consent is not 'separate' (none, bundled, explicit, or not recorded).
--   Whether the consent is evidenced is SHARE-CONSENT's question.
-- Deadline: none (due_at is null): consent precedes the provision.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
WITH a AS (
    SELECT
        agreement_id, kind, legal_basis, consent,
        list_sort(list_distinct(data_categories)) AS categories
    FROM sharing_agreements
    WHERE status = 'active'
      AND kind IN ('share', 'transfer', 'disclosure')
      AND len(data_categories) > 0
      AND processor_id IS NULL
      AND legal_basis IN ('explicit_consent', 'dispute_resolution', 'affiliate_service')
      AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)
)
SELECT
    agreement_id AS entity_id,
    consent IS DISTINCT FROM 'separate' AS failing,
    kind || ' of ' || rule_list(categories) || ' to another handler on ' || legal_basis || '; '
        || CASE
            WHEN consent IS DISTINCT FROM 'separate'
                THEN 'consent is ' || coalesce(consent, 'not recorded')
                     || ': PIPL Art. 23 needs separate consent'
            ELSE 'separate consent recorded'
        END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM a

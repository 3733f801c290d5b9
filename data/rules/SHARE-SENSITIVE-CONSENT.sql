-- SHARE-SENSITIVE-CONSENT · policy clause 5.1.1 · sharing_agreement
-- Promise: sharing only "after obtaining your explicit consent"; PIPL Art. 29:
--   processing sensitive personal information needs SEPARATE consent.
-- Applies to: agreements with status 'active' and legal_basis 'explicit_consent'
--   (any kind: share, transfer or disclosure) whose data_categories include a
--   sensitive category (table data_categories, sensitive = true), signed or
--   effective on or before the check date (or with neither date recorded).
-- Fails when: consent is not 'separate'.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Reference tables: data_categories (code, sensitive).
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
WITH sensitive AS (
    SELECT list(code) AS codes FROM data_categories WHERE sensitive
),
a AS (
    SELECT
        agreement_id,
        consent,
        list_sort(list_filter(list_distinct(data_categories),
                              lambda c: list_contains(s.codes, c))) AS sensitive_covered
    FROM sharing_agreements, sensitive s
    WHERE status = 'active'
      AND legal_basis = 'explicit_consent'
      AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)
)
SELECT
    agreement_id AS entity_id,
    coalesce(consent <> 'separate', true) AS failing,
    'covers sensitive ' || rule_list(sensitive_covered) || CASE
        WHEN coalesce(consent <> 'separate', true)
            THEN ' with consent ' || coalesce(consent, 'not recorded') || ', not separate consent'
        ELSE ' with separate consent'
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM a
WHERE len(sensitive_covered) > 0

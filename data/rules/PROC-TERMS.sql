-- PROC-TERMS · policy clause 5.1.4 · processor
-- Promise: partners must "handle your user information in accordance with our
--   instructions"; PIPL Art. 21 says the entrustment agreement states the purpose,
--   duration, processing method, categories, protection measures, the two parties'
--   rights and obligations (Art. 21 para. 1; added in rules version 2), and the return
--   or deletion of the data at the end.
-- Applies to: processors with status 'active', engaged on or before the check date
--   (or with no engagement date).
-- Fails when: agreement_terms lacks any of purpose, duration, method, categories,
--   protection_measures, rights_obligations, return_or_delete (the seven terms of the
--   data contract's version 2; no_subentrust is recorded but not required by this
--   rule). No terms recorded at all means all seven are missing.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable processor: entity_id (processor_id), failing,
--   detail, due_at.
WITH p AS (
    SELECT
        processor_id,
        list_filter(
            ['purpose', 'duration', 'method', 'categories', 'protection_measures',
             'rights_obligations', 'return_or_delete'],
            lambda t: NOT list_contains(coalesce(agreement_terms, CAST([] AS VARCHAR[])), t)
        ) AS missing
    FROM processors
    WHERE status = 'active'
      AND (engaged_on IS NULL OR engaged_on <= $as_of_date)
)
SELECT
    processor_id AS entity_id,
    len(missing) > 0 AS failing,
    CASE WHEN len(missing) > 0
         THEN 'agreement lacks ' || rule_list(missing)
         ELSE 'agreement states all seven PIPL Art. 21 terms'
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM p

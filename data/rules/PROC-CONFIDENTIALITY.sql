-- PROC-CONFIDENTIALITY · policy clause 5.1.4 · processor
-- Promise: "we will enter into confidentiality and non-disclosure agreements" with
--   every partner we share user information with.
-- Applies to: processors with status 'active' that receive personal information
--   (data_categories lists at least one category), engaged on or before the check
--   date (or with no engagement date). Suspended and offboarded processors are out.
-- Fails when: confidentiality_signed_on or nda_signed_on is missing. A signature
--   dated after the check date counts as missing (it had not happened then).
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable processor: entity_id (processor_id), failing,
--   detail, due_at.
WITH p AS (
    SELECT
        processor_id,
        data_categories,
        CASE WHEN confidentiality_signed_on <= $as_of_date THEN confidentiality_signed_on END AS conf_on,
        CASE WHEN nda_signed_on <= $as_of_date THEN nda_signed_on END AS nda_on
    FROM processors
    WHERE status = 'active'
      AND (engaged_on IS NULL OR engaged_on <= $as_of_date)
      AND len(data_categories) > 0
)
SELECT
    processor_id AS entity_id,
    conf_on IS NULL OR nda_on IS NULL AS failing,
    'receives ' || rule_list(data_categories) || CASE
        WHEN conf_on IS NULL AND nda_on IS NULL
            THEN '; no confidentiality agreement and no NDA on record'
        WHEN conf_on IS NULL
            THEN '; no confidentiality agreement on record (NDA signed ' || rule_date(nda_on) || ')'
        WHEN nda_on IS NULL
            THEN '; no NDA on record (confidentiality agreement signed ' || rule_date(conf_on) || ')'
        ELSE '; confidentiality agreement signed ' || rule_date(conf_on)
             || ', NDA signed ' || rule_date(nda_on)
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM p

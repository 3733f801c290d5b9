-- PROC-AGREEMENT-EXPIRED · policy clause 5.1.4 · processor
-- Promise: user information goes only to partners bound by an agreement (5.1.4);
--   PIPL Art. 21 requires the entrustment agreement to state its duration.
-- Applies to: processors with status 'active', engaged on or before the check date
--   (or with no engagement date).
-- Fails when: agreement_expires_on is before the check date. The agreement is valid
--   through its expiry date: on that date it still complies, the day after it fails.
--   A processor with no expiry date recorded does not fail here (an open-ended
--   agreement; a missing duration term is PROC-TERMS's finding).
-- Deadline: the expiry date, end of day (Shanghai) - renew or end the engagement by
--   then. Not-yet-expired agreements carry it as due_at.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable processor: entity_id (processor_id), failing,
--   detail, due_at.
SELECT
    processor_id AS entity_id,
    coalesce(agreement_expires_on < $as_of_date, false) AS failing,
    CASE
        WHEN agreement_expires_on IS NULL THEN 'no agreement expiry date recorded'
        WHEN agreement_expires_on < $as_of_date
            THEN 'agreement expired on ' || rule_date(agreement_expires_on) || ', '
                 || rule_days($as_of_date - agreement_expires_on) || ' ago; the processor is still active'
        WHEN agreement_expires_on = $as_of_date
            THEN 'agreement expires today (' || rule_date(agreement_expires_on) || ')'
        ELSE 'agreement expires on ' || rule_date(agreement_expires_on) || ', in '
             || rule_days(agreement_expires_on - $as_of_date)
    END AS detail,
    rule_end_of_day(agreement_expires_on) AS due_at
FROM processors
WHERE status = 'active'
  AND (engaged_on IS NULL OR engaged_on <= $as_of_date)

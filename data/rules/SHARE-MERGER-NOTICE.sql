-- SHARE-MERGER-NOTICE · policy clause 5.3.2 · sharing_agreement
-- Promise: in a merger "we will notify you prior to the transfer".
-- Applies to: every agreement on legal_basis 'merger_acquisition' (any kind, active
--   or ended), signed or effective on or before the check date (or with neither
--   date recorded).
-- Fails when: users_notified_on is not strictly before effective_from: notice on
--   the effective date itself is not "prior". Not notified (or notified after the
--   check date): fails once the check date reaches effective_from. With no
--   effective_from recorded the notice cannot be shown to precede the transfer, so
--   the rule fails (prior notice is the whole promise; the handler bears the proof).
-- Deadline: the day before effective_from, end of day, unless users were notified in time.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
WITH a AS (
    SELECT
        agreement_id,
        effective_from,
        CASE WHEN users_notified_on <= $as_of_date THEN users_notified_on END AS notified_on
    FROM sharing_agreements
    WHERE legal_basis = 'merger_acquisition'
      AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)
)
SELECT
    agreement_id AS entity_id,
    CASE
        WHEN effective_from IS NULL THEN true
        WHEN notified_on IS NOT NULL THEN notified_on >= effective_from
        ELSE $as_of_date >= effective_from
    END AS failing,
    CASE
        WHEN effective_from IS NULL AND notified_on IS NULL
            THEN 'merger transfer with no effective date and no user notice recorded'
        WHEN effective_from IS NULL
            THEN 'users notified ' || rule_date(notified_on)
                 || ' but no effective date recorded, so the notice cannot be shown to precede the transfer'
        WHEN notified_on >= effective_from
            THEN 'users notified ' || rule_date(notified_on) || ', not before the transfer took effect on '
                 || rule_date(effective_from)
        WHEN notified_on IS NOT NULL
            THEN 'users notified ' || rule_date(notified_on) || ', before the transfer on ' || rule_date(effective_from)
        WHEN $as_of_date >= effective_from
            THEN 'transfer took effect ' || rule_date(effective_from) || ' with no prior notice to users'
        ELSE 'transfer takes effect ' || rule_date(effective_from) || '; notify users by '
             || rule_date(effective_from - 1) || ', in ' || rule_days(effective_from - 1 - $as_of_date)
    END AS detail,
    CASE WHEN notified_on IS NULL OR notified_on >= effective_from
         THEN rule_end_of_day(effective_from - 1) END AS due_at
FROM a

-- SHARE-LEGAL-NOTICE · policy clause 5.3.3 · sharing_agreement
-- Promise: when information is disclosed to comply with laws, courts or authorities,
--   "we will inform you in a timely manner".
-- Applies to: every agreement of kind 'disclosure' on legal_basis
--   'legal_requirement' (active or ended), signed or effective on or before the
--   check date (or with neither date recorded).
-- Fails when: legal_reference (court order, authority request number) is empty; or
--   users_notified_on is later than effective_from + $legal_disclosure_notice_days
--   days; or users are not notified (or notified after the check date) and the
--   check date is past that deadline. Notice on the last day complies. With no
--   effective_from recorded: not notified fails (the window cannot be shown to be
--   open); notified complies (the promise, informing users, is kept).
-- Deadline: effective_from + $legal_disclosure_notice_days, end of day, unless users
--   were notified in time.
-- Parameters:
--   $as_of_date                    DATE     the check date (Asia/Shanghai date of as-of)
--   $legal_disclosure_notice_days  INTEGER  setting legal_disclosure_notice_days [30]
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
WITH a AS (
    SELECT
        agreement_id,
        effective_from,
        effective_from + CAST($legal_disclosure_notice_days AS INTEGER) AS deadline,
        coalesce(trim(legal_reference) <> '', false) AS has_reference,
        CASE WHEN users_notified_on <= $as_of_date THEN users_notified_on END AS notified_on
    FROM sharing_agreements
    WHERE kind = 'disclosure'
      AND legal_basis = 'legal_requirement'
      AND (least(signed_on, effective_from) IS NULL OR least(signed_on, effective_from) <= $as_of_date)
),
j AS (
    SELECT *,
        CASE
            WHEN notified_on IS NOT NULL THEN coalesce(notified_on > deadline, false)
            WHEN effective_from IS NULL THEN true
            ELSE $as_of_date > deadline
        END AS notice_late
    FROM a
)
SELECT
    agreement_id AS entity_id,
    NOT has_reference OR notice_late AS failing,
    concat_ws('; ',
        CASE WHEN NOT has_reference THEN 'no legal reference (court order or authority request) recorded' END,
        CASE
            WHEN notified_on IS NOT NULL AND notice_late
                THEN 'users notified ' || rule_date(notified_on) || ', ' || rule_days(notified_on - deadline)
                     || ' after the deadline of ' || rule_date(deadline)
            WHEN notified_on IS NOT NULL
                THEN 'users notified ' || rule_date(notified_on)
            WHEN effective_from IS NULL
                THEN 'no disclosure date and no user notice recorded'
            WHEN notice_late
                THEN 'disclosed ' || rule_date(effective_from) || '; users not notified, '
                     || rule_days($as_of_date - deadline) || ' past the deadline of ' || rule_date(deadline)
            ELSE 'disclosed ' || rule_date(effective_from) || '; notify users by ' || rule_date(deadline)
                 || ', in ' || rule_days(deadline - $as_of_date)
        END
    ) AS detail,
    CASE WHEN notified_on IS NULL OR notified_on > deadline THEN rule_end_of_day(deadline) END AS due_at
FROM j

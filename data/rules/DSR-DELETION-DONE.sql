-- DSR-DELETION-DONE · policy clause 8.2 (also 8.5) · rights_request · rules version 2
-- Promise: policy 8.2 ("you may ask us to delete it") and 8.5 (withdraw consent and
--   cancel the account by contacting customer service); PIPL Art. 47 (delete when consent is withdrawn or the service ends;
--   where a statutory period still runs, only storage and security) and NDSMR Art. 24
--   (delete or anonymise on account cancellation).
-- Applies to: requests of kind 'delete' or 'cancel_account' with status 'completed' and
--   completed_at on or before the check moment (a request marked completed without
--   completed_at is DSR-DEADLINE's finding, not this rule's).
-- Fails when: the subject (subject_ref, the same pseudonymous id as in
--   retention_records) had, when the request was completed, retention records not
--   deleted and not on hold: collected on or before the completion date, deleted_on
--   null or after completed_at's date in Asia/Shanghai, and no hold_reason. Deleted on
--   the completion date complies; the day after fails, and stays a finding even once
--   deleted (the request was reported done while the data was still kept). A record on
--   hold (a statutory period, PIPL Art. 47 para. 2) is out: RET-HOLD-INVALID checks
--   the hold.
-- Deadline: none (the completion is the moment of the promise).
-- Parameters:
--   $as_of  TIMESTAMPTZ  the check moment
-- Speed: only completed delete/cancel_account requests are joined to retention_records
--   on subject_ref (a hash join built on the requests), so 10 million records are one
--   scan of two columns.
-- Output, one row per applicable request: entity_id (request_id), failing, detail,
--   due_at (always null).
WITH q AS (
    SELECT request_id, kind, subject_ref, completed_at,
           CAST(completed_at AS DATE) AS completed_on      -- session time zone: Asia/Shanghai
    FROM rights_requests
    WHERE status = 'completed'
      AND kind IN ('delete', 'cancel_account')
      AND completed_at <= $as_of
),
kept AS (
    SELECT q.request_id, count(*) AS n,
           count_if(r.deleted_on IS NULL) AS still_kept,
           list_sort(list_distinct(list(r.category)))[1:5] AS categories,
           min(r.record_id) AS first_record
    FROM q
    JOIN retention_records r ON r.subject_ref = q.subject_ref
    WHERE r.collected_on <= q.completed_on
      AND (r.deleted_on IS NULL OR r.deleted_on > q.completed_on)
      AND r.hold_reason IS NULL
    GROUP BY q.request_id
)
SELECT
    q.request_id AS entity_id,
    kept.n IS NOT NULL AS failing,
    q.kind || ' request for ' || q.subject_ref || ' completed ' || rule_time(q.completed_at)
    || '; ' || CASE
        WHEN kept.n IS NULL
            THEN 'no retention record of the subject was kept past ' || rule_date(q.completed_on)
        ELSE CAST(kept.n AS VARCHAR) || CASE WHEN kept.n = 1 THEN ' retention record' ELSE ' retention records' END
             || ' (' || rule_list(kept.categories)
             || CASE WHEN kept.n > 1 THEN ', first record ' ELSE ', record ' END
             || CAST(kept.first_record AS VARCHAR) || ') not deleted on '
             || rule_date(q.completed_on) || ' and not on hold; '
             || CASE WHEN kept.still_kept = 0 THEN 'deleted since'
                     ELSE CAST(kept.still_kept AS VARCHAR) || ' still not deleted' END
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM q LEFT JOIN kept ON kept.request_id = q.request_id

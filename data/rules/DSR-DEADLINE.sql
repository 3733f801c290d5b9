-- DSR-DEADLINE · policy clauses 8, 10 · rights_request · rules version 2
-- Promise: policy 8 (access, modify, delete, withdraw consent, cancel the account) and
--   10 ("we will review the questions as soon as possible and reply"); PIPL Arts. 44-50
--   (requests handled promptly, no day count); the App violation identification method
--   (2019): handled within the promised time and not over 15 working days.
-- Applies to: requests received on or before the check moment, except those withdrawn
--   (a withdrawn request never fires: nothing is left to answer).
-- Fails when: the request was not answered by its deadline: completed or refused
--   (completed_at on or before the check moment) after the deadline, or still without
--   an answer once the deadline has passed. An answer at 23:59:59 of the last day
--   complies; one second later (00:00:00 the next day) fails. The deadline is a day:
--   a check as of the close of the due date lists the request as due, not late. A refusal is an answer (its reason is
--   DSR-REFUSAL-REASON's question). A request marked completed or refused with no
--   completed_at recorded has no answer time: it is treated as unanswered.
-- Deadline: the end (23:59:59 Asia/Shanghai) of the Nth working day after the day of
--   receipt (received_at's date in Asia/Shanghai, not counted), N =
--   $dsr_response_working_days, on the mainland calendar: weekends and statutory holidays
--   off, the State Council's make-up working days (调休) on. A deadline counted through a
--   year whose official arrangement the calendar does not know is provisional (weekends
--   and statutory holidays alone) and the detail says so.
-- Due: not answered yet and the deadline not passed: due at the deadline.
-- Parameters:
--   $as_of                      TIMESTAMPTZ  the check moment
--   $as_of_date                 DATE         the check date (Asia/Shanghai date of as-of)
--   $dsr_response_working_days  INTEGER      working days to answer (setting, default 15)
-- Reference: compliance_check.calendar_days, the working-day calendar the engine builds
--   for the check from dashboard/workdays.py (chinese-calendar, holidays, and the
--   workday_calendar_file setting): day, working, provisional, working_seq (working days
--   up to and including the day), provisional_seq (the same for provisional days).
-- Output, one row per applicable request: entity_id (request_id), failing, detail,
--   due_at.
WITH q AS (
    SELECT
        request_id, kind, status, received_at,
        CAST(received_at AS DATE) AS received_on,      -- session time zone: Asia/Shanghai
        CASE WHEN status IN ('completed', 'refused') AND completed_at <= $as_of
             THEN completed_at END AS answered_at
    FROM rights_requests
    WHERE received_at <= $as_of
      AND status <> 'withdrawn'
),
d AS (
    SELECT
        q.*,
        due.day AS due_day,
        rule_end_of_day(due.day) AS deadline,
        due.provisional_seq > r.provisional_seq AS provisional
    FROM q
    JOIN compliance_check.calendar_days r ON r.day = q.received_on
    JOIN compliance_check.calendar_days due
      ON due.working AND due.working_seq = r.working_seq + $dsr_response_working_days
)
SELECT
    request_id AS entity_id,
    CASE
        WHEN answered_at IS NOT NULL THEN CAST(answered_at AS DATE) > due_day
        ELSE $as_of_date > due_day
    END AS failing,
    kind || ' request received ' || rule_time(received_at) || '; ' || CASE
        WHEN answered_at IS NOT NULL AND CAST(answered_at AS DATE) > due_day
            THEN CASE WHEN status = 'refused' THEN 'refused ' ELSE 'completed ' END
                 || rule_time(answered_at) || ', ' || rule_span(deadline, answered_at)
                 || ' after the deadline'
        WHEN answered_at IS NOT NULL
            THEN CASE WHEN status = 'refused' THEN 'refused ' ELSE 'completed ' END
                 || rule_time(answered_at) || ', within the deadline'
        WHEN $as_of_date > due_day
            THEN CASE WHEN status IN ('completed', 'refused')
                      THEN 'marked ' || status || ' but no completed_at recorded, and the deadline passed '
                      ELSE 'not answered (' || status || '), the deadline passed ' END
                 || rule_live_span(deadline, $as_of) || ' ago'
        ELSE 'not answered yet (' || status || ')'
    END
    || ' (deadline ' || rule_date(deadline) || ', ' || CAST($dsr_response_working_days AS VARCHAR)
    || ' working days after ' || rule_date(received_on)
    || CASE WHEN provisional
            THEN '; provisional: counted through a year whose official holiday arrangement the calendar does not know yet'
            ELSE '' END || ')' AS detail,
    CASE WHEN answered_at IS NULL OR CAST(answered_at AS DATE) > due_day THEN deadline END AS due_at
FROM d

-- INC-SUMMARY · policy clause 7.2 · incident
-- Promise: incidents are handled "in accordance with ... relevant provisions"; CAC
--   Measures (2025) Art. 8: a post-incident summary report within 30 days after
--   handling ends.
-- Applies to: incidents detected at or before the check moment with resolved_at at
--   or before it (handling ended).
-- Clock: deadline = resolved_at + $summary_report_days days. Met if
--   summary_filed_at is at or before the deadline; late (fails) if after it; overdue
--   (fails) if not filed (or filed after the check moment) and the check moment is
--   past the deadline; due otherwise (not a finding).
-- Deadline: the deadline above, while not met.
-- Parameters:
--   $as_of                TIMESTAMPTZ  the check moment
--   $summary_report_days  INTEGER      setting summary_report_days [30]
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i AS (
    SELECT
        incident_id, resolved_at,
        resolved_at + to_days(CAST($summary_report_days AS INTEGER)) AS deadline,
        CASE WHEN summary_filed_at <= $as_of THEN summary_filed_at END AS filed_at
    FROM incidents
    WHERE detected_at <= $as_of
      AND resolved_at <= $as_of
)
SELECT
    incident_id AS entity_id,
    CASE WHEN filed_at IS NOT NULL THEN filed_at > deadline ELSE $as_of > deadline END AS failing,
    'resolved ' || rule_time(resolved_at) || '; ' || CASE
        WHEN filed_at > deadline
            THEN 'summary report filed ' || rule_time(filed_at) || ', ' || rule_span(deadline, filed_at)
                 || ' after the ' || CAST($summary_report_days AS VARCHAR) || '-day deadline of ' || rule_time(deadline)
        WHEN filed_at IS NOT NULL
            THEN 'summary report filed ' || rule_time(filed_at)
        WHEN $as_of > deadline
            THEN 'no summary report filed; the ' || CAST($summary_report_days AS VARCHAR) || '-day deadline of '
                 || rule_time(deadline) || ' passed ' || rule_live_span(deadline, $as_of) || ' ago'
        ELSE 'file the summary report by ' || rule_time(deadline) || ', in ' || rule_live_span(deadline, $as_of)
    END AS detail,
    CASE WHEN filed_at IS NULL OR filed_at > deadline THEN deadline END AS due_at
FROM i

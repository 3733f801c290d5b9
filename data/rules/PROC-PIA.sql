-- PROC-PIA · policy clause 5.1.4 · processor
-- Promise: information is shared only for legal, legitimate and necessary purposes;
--   PIPL Art. 55(3) requires a personal information impact assessment BEFORE
--   processing is entrusted, whatever the data (rules version 2: version 1 asked it only
--   for sensitive personal information, the case of Art. 55(1)).
-- Applies to: processors with status 'active', engaged on or before the check date
--   (or with no engagement date), that receive at least one data category (any
--   personal information).
-- Fails when: there is no pia_done_on on or before engaged_on: no PIA recorded (or
--   one dated after the check date), or the PIA is dated after the engagement. A PIA
--   on the engagement day complies. With no engaged_on recorded the PIA cannot be
--   shown to precede the processing, and the rule fails (the handler bears the proof,
--   PIPL Art. 56 records).
-- Detail: names the categories received, sensitive ones first (table data_categories,
--   sensitive = true: PIPL Art. 28, see the catalog), so a DPO sees at once whether
--   Art. 55(1) is engaged too.
-- Deadline: none (due_at is null): the PIA was due before the engagement.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Reference tables: data_categories (code, sensitive).
-- Output, one row per applicable processor: entity_id (processor_id), failing,
--   detail, due_at.
WITH sensitive AS (
    SELECT list(code) AS codes FROM data_categories WHERE sensitive
),
p AS (
    SELECT
        processor_id,
        engaged_on,
        CASE WHEN pia_done_on <= $as_of_date THEN pia_done_on END AS pia_on,
        list_sort(list_filter(list_distinct(data_categories),
                              lambda c: list_contains(s.codes, c))) AS sensitive_received,
        list_sort(list_filter(list_distinct(data_categories),
                              lambda c: NOT list_contains(s.codes, c))) AS other_received
    FROM processors, sensitive s
    WHERE status = 'active'
      AND (engaged_on IS NULL OR engaged_on <= $as_of_date)
      AND len(data_categories) > 0
)
SELECT
    processor_id AS entity_id,
    pia_on IS NULL OR engaged_on IS NULL OR pia_on > engaged_on AS failing,
    CASE
        WHEN len(sensitive_received) > 0 AND len(other_received) > 0
            THEN 'receives sensitive ' || rule_list(sensitive_received) || ' and ' || rule_list(other_received)
        WHEN len(sensitive_received) > 0 THEN 'receives sensitive ' || rule_list(sensitive_received)
        ELSE 'receives ' || rule_list(other_received)
    END || CASE
        WHEN pia_on IS NULL THEN '; no impact assessment (PIA) on record'
        WHEN engaged_on IS NULL
            THEN '; PIA done ' || rule_date(pia_on)
                 || ' but no engagement date recorded, so it cannot be shown to precede the processing'
        WHEN pia_on > engaged_on
            THEN '; PIA done ' || rule_date(pia_on) || ', ' || rule_days(pia_on - engaged_on)
                 || ' after engagement on ' || rule_date(engaged_on)
        ELSE '; PIA done ' || rule_date(pia_on) || ', engaged ' || rule_date(engaged_on)
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM p
WHERE len(sensitive_received) + len(other_received) > 0

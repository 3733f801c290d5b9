-- SHARE-PIA · policy clauses 5.1, 5.2, 5.3 · sharing_agreement · rules version 2
-- Promise: information is shared, transferred or disclosed only on the policy's terms;
--   PIPL Art. 55(3): a personal information impact assessment is done BEFORE personal
--   information is provided to another handler or disclosed publicly, whatever the
--   data; Art. 56: reports are kept at least 3 years.
-- Applies to: agreements with status 'active', of kind 'share', 'transfer' or
--   'disclosure', covering at least one data category, whose legal_basis is not
--   legal_requirement, and with no processor_id (an entrusted processor's PIA is
--   PROC-PIA's question).
--   Reading (a project choice, said in the rule's help): disclosures the law compels
--   (legal_requirement) are left out: a court order or an authority's request leaves
--   the company nothing to assess before complying.
-- Fails when: there is no pia_done_on on or before effective_from: no PIA recorded (or
--   one dated after the check date), or the PIA is dated after effective_from. A PIA
--   on the effective date complies. With no effective_from recorded the PIA cannot be
--   shown to precede the provision, and the rule fails (the handler bears the proof,
--   PIPL Art. 56).
-- Due: an agreement effective after the check date with no PIA yet is not a finding;
--   it is due by the end of its effective date.
-- Deadline: the end of effective_from's day, while the PIA is missing and that day has
--   not passed; otherwise none.
-- Parameters:
--   $as_of_date  DATE  the check date (Asia/Shanghai date of as-of)
-- Output, one row per applicable agreement: entity_id (agreement_id), failing,
--   detail, due_at.
WITH a AS (
    SELECT
        agreement_id, kind, legal_basis, effective_from,
        CASE WHEN pia_done_on <= $as_of_date THEN pia_done_on END AS pia_on,
        list_sort(list_distinct(data_categories)) AS categories
    FROM sharing_agreements
    WHERE status = 'active'
      AND kind IN ('share', 'transfer', 'disclosure')
      AND len(data_categories) > 0
      AND legal_basis <> 'legal_requirement'
      AND processor_id IS NULL
)
SELECT
    agreement_id AS entity_id,
    CASE
        WHEN effective_from IS NULL THEN true
        WHEN effective_from > $as_of_date THEN false
        ELSE pia_on IS NULL OR pia_on > effective_from
    END AS failing,
    kind || ' of ' || rule_list(categories) || ' on ' || legal_basis || '; ' || CASE
        WHEN effective_from IS NULL AND pia_on IS NULL
            THEN 'no impact assessment (PIA) on record and no effective date'
        WHEN effective_from IS NULL
            THEN 'PIA done ' || rule_date(pia_on)
                 || ' but no effective date recorded, so it cannot be shown to precede the provision'
        WHEN effective_from > $as_of_date AND pia_on IS NULL
            THEN 'no PIA yet; it is due before the agreement takes effect on ' || rule_date(effective_from)
        WHEN pia_on IS NULL
            THEN 'effective ' || rule_date(effective_from) || ', no impact assessment (PIA) on record'
        WHEN pia_on > effective_from
            THEN 'PIA done ' || rule_date(pia_on) || ', ' || rule_days(pia_on - effective_from)
                 || ' after it took effect on ' || rule_date(effective_from)
        ELSE 'PIA done ' || rule_date(pia_on) || ', effective ' || rule_date(effective_from)
    END AS detail,
    CASE WHEN effective_from > $as_of_date AND pia_on IS NULL
         THEN rule_end_of_day(effective_from) END AS due_at
FROM a

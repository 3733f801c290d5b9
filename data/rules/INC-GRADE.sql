-- INC-GRADE · policy clause 7.2 · incident
-- Promise: incidents are reported "in accordance with the National Network Security
--   Emergency Plan"; the CAC Measures for National Cybersecurity Incident Reporting
--   (2025) grade incidents in their Annex. Under-grading skips the regulator's clock.
-- Rules version 2: a head count is one criterion, not the only one. The implied grade
--   is the HIGHEST of:
--   - people affected: >= 1 million relatively major, >= 10 million major,
--     >= 100 million particularly major (Annex, PI leaks);
--   - direct economic loss in yuan: >= $grade_relatively_major_loss_cny relatively
--     major, >= $grade_major_loss_cny major, >= $grade_particularly_major_loss_cny
--     particularly major (Annex);
--   - important or core data involved: at least $grade_important_data_floor (the
--     Annex grades it by how serious the threat is; "at least relatively major" is
--     the project's conservative floor, P).
--   CII interruption, the Annex's other criterion, is not recorded in the register
--   (cii_involved says CII is involved, not how long it was down), so it does not
--   grade here; it switches the 1 h clocks of INC-REGULATOR-DEADLINE and INC-POLICE.
-- Applies to: incidents detected at or before the check moment with at least one
--   grading fact recorded: affected_subjects, economic_loss_cny, or
--   important_data_involved = true.
-- Fails when: the recorded grade is below the implied grade (general <
--   relatively_major < major < particularly_major). A value exactly at a threshold
--   implies that grade. Grading above the implied grade is not a finding.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of                              TIMESTAMPTZ  the check moment
--   $grade_relatively_major_subjects    BIGINT  setting grade_relatively_major_subjects [1,000,000]
--   $grade_major_subjects               BIGINT  setting grade_major_subjects [10,000,000]
--   $grade_particularly_major_subjects  BIGINT  setting grade_particularly_major_subjects [100,000,000]
--   $grade_relatively_major_loss_cny    BIGINT  setting grade_relatively_major_loss_cny [5,000,000]
--   $grade_major_loss_cny               BIGINT  setting grade_major_loss_cny [20,000,000]
--   $grade_particularly_major_loss_cny  BIGINT  setting grade_particularly_major_loss_cny [100,000,000]
--   $grade_important_data_floor         VARCHAR setting grade_important_data_floor [relatively_major]
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i AS (
    SELECT
        incident_id, grade, affected_subjects, economic_loss_cny,
        coalesce(important_data_involved, false) AS important_data,
        list_position(['general', 'relatively_major', 'major', 'particularly_major'], grade) AS grade_rank,
        CASE
            WHEN affected_subjects >= $grade_particularly_major_subjects THEN 4
            WHEN affected_subjects >= $grade_major_subjects THEN 3
            WHEN affected_subjects >= $grade_relatively_major_subjects THEN 2
            ELSE 1
        END AS by_people,
        CASE
            WHEN economic_loss_cny >= $grade_particularly_major_loss_cny THEN 4
            WHEN economic_loss_cny >= $grade_major_loss_cny THEN 3
            WHEN economic_loss_cny >= $grade_relatively_major_loss_cny THEN 2
            ELSE 1
        END AS by_loss,
        CASE WHEN coalesce(important_data_involved, false)
             THEN list_position(['general', 'relatively_major', 'major', 'particularly_major'],
                                $grade_important_data_floor)
             ELSE 1
        END AS by_data
    FROM incidents
    WHERE detected_at <= $as_of
      AND (affected_subjects IS NOT NULL OR economic_loss_cny IS NOT NULL
           OR coalesce(important_data_involved, false))
),
ranked AS (
    SELECT *,
        greatest(by_people, by_loss, by_data) AS implied_rank,
        ['general', 'relatively_major', 'major', 'particularly_major'] AS names
    FROM i
),
explained AS (
    SELECT *,
        -- the facts that reach the implied grade, each in the DPO's words
        list_filter([
            CASE WHEN by_people = implied_rank AND by_people > 1
                 THEN format('{:,}', affected_subjects) || ' affected people' END,
            CASE WHEN by_loss = implied_rank AND by_loss > 1
                 THEN format('{:,}', CAST(floor(economic_loss_cny) AS BIGINT)) || ' yuan direct economic loss' END,
            CASE WHEN by_data = implied_rank AND by_data > 1
                 THEN 'important or core data involved' END
        ], lambda x: x IS NOT NULL) AS reasons,
        list_filter([
            CASE WHEN affected_subjects IS NOT NULL
                 THEN format('{:,}', affected_subjects) || ' affected people' END,
            CASE WHEN economic_loss_cny IS NOT NULL
                 THEN format('{:,}', CAST(floor(economic_loss_cny) AS BIGINT)) || ' yuan direct economic loss' END,
            CASE WHEN important_data THEN 'important or core data involved' END
        ], lambda x: x IS NOT NULL) AS facts
    FROM ranked
)
SELECT
    incident_id AS entity_id,
    grade_rank < implied_rank AS failing,
    CASE
        WHEN grade_rank < implied_rank
            THEN 'graded ' || grade || ', but ' || array_to_string(reasons, ' and ')
                 || CASE WHEN len(reasons) = 1 THEN ' makes' ELSE ' make' END
                 || ' it at least ' || names[implied_rank]
        ELSE 'graded ' || grade || ' for ' || array_to_string(facts, ', ')
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM explained

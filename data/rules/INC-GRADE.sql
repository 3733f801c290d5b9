-- INC-GRADE · policy clause 7.2 · incident
-- Promise: incidents are reported "in accordance with the National Network Security
--   Emergency Plan"; the CAC Measures (2025) Annex grades personal-information leaks
--   by the people affected: >= 1 million relatively major, >= 10 million major,
--   >= 100 million particularly major. Under-grading skips the regulator's clock.
-- Applies to: incidents detected at or before the check moment with
--   affected_subjects recorded.
-- Fails when: the recorded grade is below the grade affected_subjects implies
--   (general < relatively_major < major < particularly_major). A count exactly at a
--   threshold implies that grade. Grading above the implied grade is not a finding.
-- Deadline: none (due_at is null).
-- Parameters:
--   $as_of                              TIMESTAMPTZ  the check moment
--   $grade_relatively_major_subjects    BIGINT  setting grade_relatively_major_subjects [1,000,000]
--   $grade_major_subjects               BIGINT  setting grade_major_subjects [10,000,000]
--   $grade_particularly_major_subjects  BIGINT  setting grade_particularly_major_subjects [100,000,000]
-- Output, one row per applicable incident: entity_id (incident_id), failing,
--   detail, due_at.
WITH i AS (
    SELECT
        incident_id, grade, affected_subjects,
        CASE
            WHEN affected_subjects >= $grade_particularly_major_subjects THEN 'particularly_major'
            WHEN affected_subjects >= $grade_major_subjects THEN 'major'
            WHEN affected_subjects >= $grade_relatively_major_subjects THEN 'relatively_major'
            ELSE 'general'
        END AS implied
    FROM incidents
    WHERE detected_at <= $as_of
      AND affected_subjects IS NOT NULL
),
ranked AS (
    SELECT *,
        list_position(['general', 'relatively_major', 'major', 'particularly_major'], grade) AS grade_rank,
        list_position(['general', 'relatively_major', 'major', 'particularly_major'], implied) AS implied_rank
    FROM i
)
SELECT
    incident_id AS entity_id,
    grade_rank < implied_rank AS failing,
    CASE
        WHEN grade_rank < implied_rank
            THEN 'graded ' || grade || ', but ' || format('{:,}', affected_subjects)
                 || ' affected people make it at least ' || implied
        ELSE 'graded ' || grade || ' for ' || format('{:,}', affected_subjects) || ' affected people'
    END AS detail,
    CAST(NULL AS TIMESTAMPTZ) AS due_at
FROM ranked

-- 0002: each retention record's due date for deletion, from the category's rule
-- (data/policy/catalog.toml -> retention_rules). One definition, shared by the
-- RET-* rules and the retention dashboard so they cannot disagree.
--   due_on = the earlier of  service_ended_on + days_after_service_end
--                        and collected_on + max_age_days   (where the rule has one)
--   null while the service lasts and the category has no maximum age.
CREATE VIEW retention_due AS
SELECT
    r.*,
    least(
        CASE WHEN r.service_ended_on IS NOT NULL AND rr.days_after_service_end IS NOT NULL
             THEN r.service_ended_on + rr.days_after_service_end END,
        CASE WHEN rr.max_age_days IS NOT NULL
             THEN r.collected_on + rr.max_age_days END
    ) AS due_on
FROM retention_records r
LEFT JOIN retention_rules rr ON rr.category = r.category;

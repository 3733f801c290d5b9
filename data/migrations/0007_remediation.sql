-- 0007: remediation plans. A DPO acknowledges a finding with an owner, a target date and a
-- comment (dashboard/remediation.py, permission finding.acknowledge, one audit entry each).
--
-- A plan is keyed by the finding's identity (rule_id, entity_type, entity_id), never by a
-- check run: findings are recomputed from the registers, so a plan outlives the run that
-- showed its finding, and stays here when the finding disappears (it is then "resolved").
-- The table is append-only: a revised plan is a new revision; nothing is updated or deleted.

CREATE TABLE remediation_plan_revisions (
    rule_id VARCHAR NOT NULL,              -- data contract rule id, e.g. PROC-PIA
    entity_type VARCHAR NOT NULL,          -- processor, sharing_agreement, retention_record, incident
    entity_id VARCHAR NOT NULL,            -- the register key as text
    revision INTEGER NOT NULL CHECK (revision >= 1),   -- 1 for the first plan, +1 per revision
    owner VARCHAR NOT NULL,                -- who will fix it
    target_date DATE NOT NULL,             -- fixed by (Asia/Shanghai date)
    comment VARCHAR NOT NULL,              -- what will be done
    recorded_at TIMESTAMPTZ NOT NULL,      -- when this revision was recorded
    recorded_by VARCHAR NOT NULL,          -- actor name
    recorded_role VARCHAR NOT NULL,        -- actor role
    finding_detail VARCHAR,                -- the finding as the DPO saw it when acknowledging
    audit_seq BIGINT NOT NULL,             -- the audit_log entry of this revision
    PRIMARY KEY (rule_id, entity_type, entity_id, revision)
);

-- The plan in force for each finding: its latest revision.
CREATE VIEW remediation_plans AS
SELECT
    r.rule_id, r.entity_type, r.entity_id, r.revision, r.owner, r.target_date, r.comment,
    r.recorded_at AS acknowledged_at, r.recorded_by AS acknowledged_by,
    r.recorded_role AS acknowledged_role, f.first_acknowledged_at, r.finding_detail,
    r.audit_seq
FROM remediation_plan_revisions r
JOIN (
    SELECT rule_id, entity_type, entity_id, max(revision) AS revision,
           min(recorded_at) AS first_acknowledged_at
    FROM remediation_plan_revisions
    GROUP BY rule_id, entity_type, entity_id
) f USING (rule_id, entity_type, entity_id, revision);

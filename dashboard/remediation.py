"""Acknowledgements: a DPO answers a finding with a remediation plan (owner, target date,
comment). One way in: ``acknowledge(store, actor, ...)``.

A plan is keyed by the finding's identity, ``(rule_id, entity_type, entity_id)``, not by a
check run: findings are recomputed from the registers at every check, and the plan follows
the finding from one check to the next. Revising a plan appends a revision
(``remediation_plan_revisions``, migration 0007; the view ``remediation_plans`` is the
latest revision of each). A finding that disappears leaves its plan in history: it is then
*resolved*. For the findings that are open as of a moment, a plan is

- ``planned``: a plan recorded at or before that moment, target date not passed;
- ``overdue``: a plan whose target date is before that moment's date;
- ``unplanned``: no plan (yet, as of that moment).

Every acknowledgement is one transaction with one audit entry (action
``finding.acknowledge``, entity = the finding's entity, so the entity's history shows
it), and the revision row records who, when, and the audit entry's ``seq``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from . import engine
from .access import Actor, require
from .i18n import N_, _, is_chinese, label
from .rules import load_rules

ACTION = "finding.acknowledge"
PLAN_STATES = ("unplanned", "planned", "overdue")
PLAN_LABELS = {"unplanned": N_("Unplanned"), "planned": N_("Planned"),
               "overdue": N_("Plan overdue"), "resolved": N_("Resolved")}   # shown with _()
MAX_COMMENT = 2000
MAX_OWNER = 200


class AcknowledgementError(ValueError):
    """Bad input for an acknowledgement: one message per field. Nothing was written."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Plan:
    rule_id: str
    entity_type: str
    entity_id: str
    revision: int
    owner: str
    target_date: dt.date
    comment: str
    acknowledged_at: dt.datetime
    acknowledged_by: str
    audit_seq: int
    finding_detail: str | None = None


def _date(value: Any, field: str, errors: dict[str, str]) -> dt.date | None:
    if value is None or value == "":
        errors[field] = _("Choose the target date by which the finding will be fixed.")
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = _("{value} is not a date (YYYY-MM-DD).").format(value=repr(value))
        return None


def validate(store, *, rule_id: str, entity_id: str, owner: Any, target_date: Any,
             comment: Any) -> dict[str, Any]:
    """The clean values of an acknowledgement, or ``AcknowledgementError`` naming each bad
    field. The finding must be open now (``store.now()``); the target date not before today
    (Asia/Shanghai)."""
    errors: dict[str, str] = {}
    rules = {r.rule_id: r for r in load_rules()}
    rule_id = str(rule_id or "").strip()
    entity_id = str(entity_id or "").strip()
    rule = rules.get(rule_id)
    if rule is None:
        errors["finding"] = _("Unknown rule {rule}: it is not one of the compliance "
                              "rules (docs/RULES.md).").format(rule=repr(rule_id))
    elif not entity_id:
        errors["finding"] = _("No finding chosen: the entity ID is empty.")
    owner_text = str(owner or "").strip()
    if not owner_text:
        errors["owner"] = _("Name the owner who will fix the finding.")
    elif len(owner_text) > MAX_OWNER:
        errors["owner"] = _("The owner is {length} characters long; at most {limit}.").format(
            length=len(owner_text), limit=MAX_OWNER)
    comment_text = str(comment or "").strip()
    if not comment_text:
        errors["comment"] = _("Say what will be done to fix the finding (the comment is "
                              "empty).")
    elif len(comment_text) > MAX_COMMENT:
        errors["comment"] = _("The comment is {length} characters long; at most "
                              "{limit}.").format(length=len(comment_text), limit=MAX_COMMENT)
    target = _date(target_date, "target_date", errors)
    today = store.now().date()
    if target is not None and target < today:
        errors["target_date"] = _("The target date {date} is in the past; choose today "
                                  "({today}) or later.").format(date=target.isoformat(),
                                                                today=today.isoformat())
    detail = None
    if "finding" not in errors:
        found = engine.findings_page(store, engine.current_as_of(store), rule_id=rule_id,
                                     entity_id=entity_id, limit=1)
        if found.empty:
            errors["finding"] = _("{rule} has no open finding for {type} {entity} now: there "
                                  "is nothing to acknowledge.").format(
                rule=rule_id, entity=entity_id,
                type=label("entity_type", rule.entity_type) if is_chinese()
                else rule.entity_type)
        else:
            detail = str(found["detail"].iloc[0])
    if errors:
        raise AcknowledgementError(errors)
    return {"rule_id": rule_id, "entity_type": rule.entity_type, "entity_id": entity_id,
            "owner": owner_text, "target_date": target, "comment": comment_text,
            "finding_detail": detail}


def acknowledge(store, actor: Actor, *, rule_id: str, entity_id: str, owner: Any,
                target_date: Any, comment: Any) -> Plan:
    """Record (or revise) the remediation plan of the open finding ``rule_id`` on
    ``entity_id``: permission ``finding.acknowledge`` (PermissionDenied first, whatever the
    input), then the input checked (AcknowledgementError, nothing written), then one
    transaction: a new plan revision and one audit entry."""
    require(actor, ACTION)
    clean = validate(store, rule_id=rule_id, entity_id=entity_id, owner=owner,
                     target_date=target_date, comment=comment)
    key = [clean["rule_id"], clean["entity_type"], clean["entity_id"]]
    with store.write(actor, ACTION) as w:
        before = w.execute(
            "SELECT revision, owner, target_date, comment, acknowledged_by, acknowledged_at "
            "FROM remediation_plans WHERE rule_id = ? AND entity_type = ? AND entity_id = ?",
            key).fetchone()
        revision = 1 if before is None else int(before[0]) + 1
        after = {"rule_id": clean["rule_id"], "revision": revision, "owner": clean["owner"],
                 "target_date": clean["target_date"], "comment": clean["comment"],
                 "finding": clean["finding_detail"]}
        seq = w.audit(ACTION, clean["entity_type"], clean["entity_id"],
                      before=None if before is None else {
                          "rule_id": clean["rule_id"], "revision": before[0],
                          "owner": before[1], "target_date": before[2],
                          "comment": before[3], "acknowledged_by": before[4],
                          "acknowledged_at": before[5]},
                      after=after)
        w.execute(
            "INSERT INTO remediation_plan_revisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            key + [revision, clean["owner"], clean["target_date"], clean["comment"], w.at,
                   actor.name, actor.role, clean["finding_detail"], seq])
    return Plan(clean["rule_id"], clean["entity_type"], clean["entity_id"], revision,
                clean["owner"], clean["target_date"], clean["comment"], w.at, actor.name,
                seq, clean["finding_detail"])


# -- reads -------------------------------------------------------------------------------

# The plan in force at a moment for each finding key: its latest revision recorded at or
# before that moment. One positional parameter: the moment (TIMESTAMPTZ).
PLANS_AS_OF_SQL = (
    "SELECT rule_id, entity_type, entity_id, revision, owner, target_date, comment, "
    "recorded_at AS acknowledged_at, recorded_by AS acknowledged_by "
    "FROM remediation_plan_revisions WHERE recorded_at <= ? "
    "QUALIFY row_number() OVER (PARTITION BY rule_id, entity_type, entity_id "
    "ORDER BY revision DESC) = 1")

# The plan state of an open finding LEFT JOINed with PLANS_AS_OF_SQL as ``p``. One
# positional parameter: the as-of date (Asia/Shanghai).
PLAN_STATE_SQL = ("CASE WHEN p.rule_id IS NULL THEN 'unplanned' "
                  "WHEN p.target_date < CAST(? AS DATE) THEN 'overdue' ELSE 'planned' END")


def plan_for(store, *, rule_id: str, entity_type: str, entity_id: str) -> dict | None:
    """The plan in force for one finding (latest revision), or None."""
    with store.cursor() as cur:
        result = cur.execute("SELECT * FROM remediation_plans WHERE rule_id = ? AND "
                             "entity_type = ? AND entity_id = ?",
                             [rule_id, entity_type, str(entity_id)])
        names = [d[0] for d in result.description]
        row = result.fetchone()
    return None if row is None else dict(zip(names, row))


def plan_history(store, *, rule_id: str, entity_type: str, entity_id: str) -> pd.DataFrame:
    """Every revision of one finding's plan, newest first."""
    return store.df(
        "SELECT revision, owner, target_date, comment, recorded_at, recorded_by, recorded_role, "
        "finding_detail, audit_seq FROM remediation_plan_revisions "
        "WHERE rule_id = ? AND entity_type = ? AND entity_id = ? ORDER BY revision DESC",
        [rule_id, entity_type, str(entity_id)])

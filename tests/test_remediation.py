"""Acknowledgements (remediation plans): the one way in, its checks, its audit entry, and
how plans count as planned, overdue or resolved as the findings change."""
from __future__ import annotations

import datetime as dt

import pytest

from dashboard import dashboards as D
from dashboard import engine
from dashboard import remediation as rem
from dashboard.access import PermissionDenied
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import AUDITOR, DPO, FROZEN_NOW, MANAGER, SHANGHAI, SYSTEM


def now_as_of(store) -> str:
    return engine.current_as_of(store)


def open_finding(store, rule_id: str) -> str:
    page = engine.findings_page(store, now_as_of(store), rule_id=rule_id, limit=1)
    assert not page.empty, f"the demo has no {rule_id} finding"
    return str(page["entity_id"].iloc[0])


def counts(store) -> tuple[int, int]:
    return (store.scalar("SELECT count(*) FROM audit_log"),
            store.scalar("SELECT count(*) FROM remediation_plan_revisions"))


GOOD = dict(owner="Vendor management (Liu Yang)", target_date=dt.date(2026, 12, 31),
            comment="Run the PIA with the vendor and record it; review the engagement.")


def test_acknowledge_records_a_plan_and_one_audit_entry(demo_store):
    entity = open_finding(demo_store, "PROC-PIA")
    log_before, plans_before = counts(demo_store)
    plan = rem.acknowledge(demo_store, DPO, rule_id="PROC-PIA", entity_id=entity, **GOOD)
    assert (plan.rule_id, plan.entity_type, plan.entity_id, plan.revision) == \
        ("PROC-PIA", "processor", entity, 1)
    assert counts(demo_store) == (log_before + 1, plans_before + 1)
    row = rem.plan_for(demo_store, rule_id="PROC-PIA", entity_type="processor", entity_id=entity)
    assert row["owner"] == GOOD["owner"] and row["target_date"] == GOOD["target_date"]
    assert row["acknowledged_by"] == DPO.name and row["acknowledged_role"] == "dpo"
    assert row["acknowledged_at"] == FROZEN_NOW and row["audit_seq"] == plan.audit_seq
    assert "PIA" in row["finding_detail"]          # the finding as the DPO saw it
    entry = demo_store.rows(
        "SELECT actor, role, action, entity_type, entity_id, values_after FROM audit_log "
        "WHERE seq = ?", [plan.audit_seq])[0]
    assert entry[:5] == (DPO.name, "dpo", "finding.acknowledge", "processor", entity)
    assert '"owner":"Vendor management (Liu Yang)"' in entry[5]
    assert '"rule_id":"PROC-PIA"' in entry[5] and '"target_date":"2026-12-31"' in entry[5]


def test_a_revision_keeps_the_first_and_shows_the_latest(demo_store):
    entity = open_finding(demo_store, "PROC-PIA")
    rem.acknowledge(demo_store, DPO, rule_id="PROC-PIA", entity_id=entity, **GOOD)
    second = rem.acknowledge(demo_store, SYSTEM, rule_id="PROC-PIA", entity_id=entity,
                             owner="Legal", target_date="2027-01-15", comment="Escalated.")
    assert second.revision == 2
    current = rem.plan_for(demo_store, rule_id="PROC-PIA", entity_type="processor",
                           entity_id=entity)
    assert (current["owner"], current["target_date"], current["revision"]) == \
        ("Legal", dt.date(2027, 1, 15), 2)
    history = rem.plan_history(demo_store, rule_id="PROC-PIA", entity_type="processor",
                               entity_id=entity)
    assert list(history["revision"]) == [2, 1]
    assert list(history["owner"]) == ["Legal", GOOD["owner"]]
    before = demo_store.scalar("SELECT values_before FROM audit_log WHERE seq = ?",
                               [second.audit_seq])
    assert '"revision":1' in before and "Vendor management" in before


@pytest.mark.parametrize("change,field,message", [
    ({"comment": "   "}, "comment", "comment is empty"),
    ({"owner": ""}, "owner", "Name the owner"),
    ({"owner": "x" * 201}, "owner", "at most 200"),
    ({"target_date": dt.date(2026, 11, 23)}, "target_date", "in the past"),
    ({"target_date": None}, "target_date", "Choose the target date"),
    ({"target_date": "31/12/2026"}, "target_date", "is not a date"),
    ({"comment": "y" * 2001}, "comment", "at most 2000"),
])
def test_bad_input_names_the_field_and_writes_nothing(demo_store, change, field, message):
    entity = open_finding(demo_store, "PROC-PIA")
    before = counts(demo_store)
    with pytest.raises(rem.AcknowledgementError) as info:
        rem.acknowledge(demo_store, DPO, rule_id="PROC-PIA", entity_id=entity,
                        **{**GOOD, **change})
    assert set(info.value.errors) == {field}
    assert message in info.value.errors[field]
    assert counts(demo_store) == before


def test_every_bad_field_is_reported_at_once(demo_store):
    entity = open_finding(demo_store, "PROC-PIA")
    with pytest.raises(rem.AcknowledgementError) as info:
        rem.acknowledge(demo_store, DPO, rule_id="PROC-PIA", entity_id=entity, owner=" ",
                        target_date="2020-01-01", comment="")
    assert set(info.value.errors) == {"owner", "target_date", "comment"}


def test_a_target_date_of_today_is_accepted(demo_store):
    entity = open_finding(demo_store, "PROC-PIA")
    plan = rem.acknowledge(demo_store, DPO, rule_id="PROC-PIA", entity_id=entity,
                           **{**GOOD, "target_date": FROZEN_NOW.date()})
    assert plan.target_date == dt.date(2026, 11, 24)


@pytest.mark.parametrize("rule_id,entity_id,message", [
    ("PROC-NOPE", "PRC-0002", "Unknown rule"),
    ("PROC-PIA", "PRC-9999", "has no open finding"),
    ("PROC-PIA", "", "entity ID is empty"),
])
def test_unknown_finding_is_refused(demo_store, rule_id, entity_id, message):
    before = counts(demo_store)
    with pytest.raises(rem.AcknowledgementError) as info:
        rem.acknowledge(demo_store, DPO, rule_id=rule_id, entity_id=entity_id, **GOOD)
    assert message in info.value.errors["finding"]
    assert counts(demo_store) == before


def test_a_complying_entity_has_nothing_to_acknowledge(demo_store):
    applies = engine.check_summary(demo_store, now_as_of(demo_store))
    assert applies.rule_scores.set_index("rule_id").loc["PROC-PIA", "applicable"] > 2
    failing = set(engine.findings_page(demo_store, now_as_of(demo_store),
                                       rule_id="PROC-PIA")["entity_id"])
    complying = next(p for (p,) in demo_store.rows(
        "SELECT processor_id FROM processors ORDER BY processor_id") if p not in failing)
    with pytest.raises(rem.AcknowledgementError, match="has no open finding"):
        rem.acknowledge(demo_store, DPO, rule_id="PROC-PIA", entity_id=complying, **GOOD)


@pytest.mark.parametrize("actor", [MANAGER, AUDITOR])
def test_only_a_dpo_may_acknowledge_whatever_the_input(demo_store, actor):
    entity = open_finding(demo_store, "PROC-PIA")
    before = counts(demo_store)
    with pytest.raises(PermissionDenied, match="finding.acknowledge|Acknowledge findings"):
        rem.acknowledge(demo_store, actor, rule_id="PROC-PIA", entity_id=entity, **GOOD)
    with pytest.raises(PermissionDenied):           # refused before the input is read
        rem.acknowledge(demo_store, actor, rule_id="PROC-PIA", entity_id=entity, owner="",
                        target_date=None, comment="")
    assert counts(demo_store) == before


# -- how plans count ---------------------------------------------------------------------------

def test_plans_count_planned_then_overdue_and_stay_when_the_finding_goes(demo_db):
    s = Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW)
    try:
        entity = open_finding(s, "PROC-PIA")
        total = D.finding_stats(s, as_of=now_as_of(s))
        rem.acknowledge(s, DPO, rule_id="PROC-PIA", entity_id=entity,
                        **{**GOOD, "target_date": dt.date(2026, 11, 30)})
        stats = D.finding_stats(s, as_of=now_as_of(s))
        assert (stats["planned"], stats["overdue"]) == (1, 0)
        assert stats["unplanned"] == total["unplanned"] - 1 == stats["findings"] - 1
        # a past as-of, before the plan was recorded: not planned then
        past = D.finding_stats(s, as_of="2026-11-20")
        assert past["planned"] == 0 and past["unplanned"] == past["findings"]
    finally:
        s.close()
    later = dt.datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI)
    s = Store(demo_db, settings=Settings(), clock=lambda: later)
    try:
        stats = D.finding_stats(s, as_of=engine.current_as_of(s))
        assert (stats["planned"], stats["overdue"]) == (0, 1)       # target date passed
        assert D.finding_stats(s, as_of=engine.current_as_of(s),
                               filters={"plan": ["overdue"]})["findings"] == 1
        # the finding goes away (a PIA is recorded before the engagement): its plan stays
        with s.write(SYSTEM, "register.edit") as w:
            w.execute("UPDATE processors SET pia_done_on = engaged_on WHERE processor_id = ?",
                      [entity])
            w.audit("register.edit", "processor", entity, after={"pia_done_on": "engaged_on"})
        stats = D.finding_stats(s, as_of=engine.current_as_of(s))
        assert (stats["planned"], stats["overdue"]) == (0, 0)
        assert rem.plan_for(s, rule_id="PROC-PIA", entity_type="processor",
                            entity_id=entity) is not None
        detail = D.finding_detail(s, as_of=engine.current_as_of(s), rule_id="PROC-PIA",
                                  entity_id=entity)
        assert detail["finding"] is None and detail["plan"]["owner"] == GOOD["owner"]
        assert detail["plan_state"] is None
        with pytest.raises(rem.AcknowledgementError, match="has no open finding"):
            rem.acknowledge(s, DPO, rule_id="PROC-PIA", entity_id=entity, **GOOD)
    finally:
        s.close()


def test_acknowledging_keeps_the_engines_evaluation(demo_store):
    """A plan changes nothing the rules read: the engine keeps its evaluation (no re-run
    of every rule), while a register edit makes it evaluate again."""
    as_of = now_as_of(demo_store)
    first = engine.check_summary(demo_store, as_of).run_id
    rem.acknowledge(demo_store, DPO, rule_id="PROC-PIA",
                    entity_id=open_finding(demo_store, "PROC-PIA"), **GOOD)
    assert engine.check_summary(demo_store, as_of).run_id == first
    engine.save_snapshot(demo_store, DPO, engine.check_summary(demo_store, as_of))
    assert engine.check_summary(demo_store, as_of).run_id == first
    with demo_store.write(SYSTEM, "register.edit") as w:
        w.execute("UPDATE processors SET owner = 'x' WHERE processor_id = 'PRC-0001'")
        w.audit("register.edit", "processor", "PRC-0001", after={"owner": "x"})
    assert engine.check_summary(demo_store, as_of).run_id != first

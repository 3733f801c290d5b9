"""The Findings page under AppTest on the demo store: filters change its numbers as the
engine counts them, links land on exactly the engine's findings, a finding opens on its
record, history and clause, and a DPO acknowledges it from the page."""
from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import engine
from dashboard import remediation as rem
from dashboard.navigation import PAGE_BY_KEY
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import ADMIN, AUDITOR, DPO, FROZEN_NOW, MANAGER, app_test, shown

ACTORS = {"dpo": DPO, "manager": MANAGER, "auditor": AUDITOR, "admin": ADMIN}


def open_page(db, actor, monkeypatch, query=None, page="findings") -> AppTest:
    at = app_test(db, actor, monkeypatch, page=page, query=query)
    assert not at.exception, [e.value for e in at.exception]
    return at


def engine_store(db) -> Store:
    return Store(db, settings=Settings(), clock=lambda: FROZEN_NOW)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def n(text: str) -> int:
    return int(text.replace(",", ""))


def engine_total(db, **filters) -> int:
    with engine_store(db) as s:
        return int(engine.finding_counts(s, engine.current_as_of(s), by=None,
                                         **filters)["findings"][0])


def engine_findings(db, **filters):
    with engine_store(db) as s:
        return engine.findings_page(s, engine.current_as_of(s), limit=1000, **filters)


def table(at):
    return at.dataframe[0].value


def texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [e.value for e in at.error] + [w.value for w in at.warning]
                     + [s.value for s in at.success] + [i.value for i in at.info])


# -- renders, filters change the numbers ------------------------------------------------

@pytest.mark.parametrize("role", sorted(PAGE_BY_KEY["findings"].roles))
def test_findings_page_renders_for_each_role(demo_db, monkeypatch, role):
    at = open_page(demo_db, ACTORS[role], monkeypatch)
    assert at.title[0].value == "Findings" and not at.error
    m = metrics(at)
    assert n(m["Findings"]) == engine_total(demo_db) == 204
    for sev in ("high", "medium", "low"):
        assert n(m[sev.capitalize()]) == engine_total(demo_db, severity=sev)
    first = engine_findings(demo_db)[:100]
    assert list(table(at)["entity_id"]) == list(first["entity_id"])      # same order, paged
    assert "Rows 1–100 of 204" in texts(at)


@pytest.mark.parametrize("widget,value,engine_filter", [
    ("rule", ["PROC-PIA", "RET-LOCATION"], {"rule_id": ["PROC-PIA", "RET-LOCATION"]}),
    ("clause", ["6.1"], {"clause": "6.1"}),
    ("article", ["7"], {"article": "7"}),
    ("severity", ["low"], {"severity": "low"}),
    ("type", ["sharing_agreement"], {"entity_type": "sharing_agreement"}),
])
def test_each_filter_changes_the_numbers_as_the_engine_counts(demo_db, monkeypatch, widget,
                                                             value, engine_filter):
    at = open_page(demo_db, DPO, monkeypatch)
    at.multiselect(key=widget).set_value(value).run()
    want = engine_findings(demo_db, **engine_filter)
    assert 0 < n(metrics(at)["Findings"]) == len(want) < 204
    shown = table(at)
    assert list(zip(shown["rule_id"], shown["entity_id"])) == \
        list(zip(want["rule_id"], want["entity_id"]))[:100]


def test_filters_combine_and_entity_and_search_narrow(demo_db, monkeypatch):
    at = open_page(demo_db, DPO, monkeypatch)
    at.multiselect(key="type").set_value(["processor"]).run()
    at.multiselect(key="severity").set_value(["high"]).run()
    assert n(metrics(at)["Findings"]) == engine_total(demo_db, entity_type="processor",
                                                       severity="high")
    entity = table(at)["entity_id"].iloc[0]
    at.text_input(key="entity").set_value(entity).run()
    assert n(metrics(at)["Findings"]) == engine_total(demo_db, entity_type="processor",
                                                       severity="high", entity_id=entity)
    at.text_input(key="entity").set_value("").run()
    at.text_input(key="search").set_value("outside chinese mainland").run()
    want = engine_findings(demo_db, entity_type="processor", severity="high")
    hits = want[want["detail"].str.lower().str.contains("outside chinese mainland")]
    assert n(metrics(at)["Findings"]) == len(hits) > 0
    clear = next(b for b in at.button if b.label == "Clear filters")
    clear.click().run()
    assert n(metrics(at)["Findings"]) == 204


def test_an_unknown_value_in_the_link_is_ignored(demo_db, monkeypatch):
    at = open_page(demo_db, DPO, monkeypatch, {"rule": "NOT-A-RULE", "severity": "Severe"})
    assert n(metrics(at)["Findings"]) == 204


def test_pages_are_served_in_sql(demo_db, monkeypatch):
    at = open_page(demo_db, AUDITOR, monkeypatch, {"page": "2"})
    want = engine_findings(demo_db)
    assert list(table(at)["entity_id"]) == list(want["entity_id"][100:200])
    assert "Rows 101–200 of 204" in texts(at)


# -- shareable links ---------------------------------------------------------------------------

@pytest.mark.parametrize("query,engine_filter", [
    ({"rule": "PROC-PIA"}, {"rule_id": "PROC-PIA"}),
    ({"clause": "5.1.1"}, {"clause": "5.1.1"}),
    ({"article": "6", "severity": "High"}, {"article": "6", "severity": "high"}),
    ({"type": "Incident", "rule": ["INC-GRADE", "INC-STALE"]},
     {"entity_type": "incident", "rule_id": ["INC-GRADE", "INC-STALE"]}),
])
def test_a_link_lands_on_exactly_the_engines_findings(demo_db, monkeypatch, query,
                                                      engine_filter):
    at = open_page(demo_db, MANAGER, monkeypatch, query)
    want = engine_findings(demo_db, **engine_filter)
    shown = table(at)
    assert set(zip(shown["rule_id"], shown["entity_id"])) == \
        set(zip(want["rule_id"], want["entity_id"]))
    assert n(metrics(at)["Findings"]) == len(want) > 0


def test_share_view_shows_the_link(demo_db, monkeypatch):
    at = open_page(demo_db, DPO, monkeypatch, {"rule": "PROC-PIA", "severity": "High"})
    code = [c.value for c in at.code]
    assert "findings?rule=PROC-PIA&severity=High" in code


def test_a_finding_link_opens_its_record_history_and_clause(demo_db, monkeypatch):
    entity = engine_findings(demo_db, rule_id="PROC-PIA")["entity_id"].iloc[0]
    with engine_store(demo_db) as s:
        plan = rem.acknowledge(s, DPO, rule_id="PROC-PIA", entity_id=entity, owner="Vendor team",
                               target_date="2026-12-15", comment="Run the PIA.")
    at = open_page(demo_db, AUDITOR, monkeypatch, {"rule": "PROC-PIA", "entity": entity})
    assert n(metrics(at)["Findings"]) == 1
    assert [s.value for s in at.main.subheader] == [f"PROC-PIA · {entity}"]
    detail = engine_findings(demo_db, rule_id="PROC-PIA", entity_id=entity)["detail"].iloc[0]
    # the engine's detail, its codes in words (facial_biometrics → facial biometrics)
    from dashboard.dashboards import detail_text
    assert "facial_biometrics" in detail
    assert f"**Finding:** {detail_text(detail)}" in [shown(e.value) for e in at.error]
    assert "facial biometrics" in detail_text(detail)
    frames = [d.value for d in at.dataframe]
    record = next(f for f in frames if "heading" in f.columns).set_index("heading")["value"]
    with engine_store(demo_db) as s:
        name, engaged = s.rows("SELECT name, engaged_on FROM processors WHERE processor_id = ?",
                               [entity])[0]
    assert record["Processor ID"] == entity and record["Name"] == name
    assert record["Engaged on"] == engaged.isoformat()
    history = next(f for f in frames if "change" in f.columns)      # the audit entries
    entry = history.set_index("seq").loc[plan.audit_seq]
    assert (entry["actor"], entry["action"]) == (DPO.name, "finding.acknowledge")
    assert "owner: Vendor team" in entry["change"]
    body = texts(at)
    assert "We may entrust reliable partners to provide some services" in body   # clause 5.1.4
    assert "**What fixes it.** Carry out and record the PIA" in body
    assert "PIPL Art. 55(3)" in body
    links = {(link.value) for link in at.get("page_link")}
    assert "Clause 5.1.4 in the policy" in links and "Open in Processor" in links
    assert "**Vendor team** will fix it by **2026-12-15**." in body
    assert "Only a data protection officer can acknowledge findings." in body


def test_a_retention_finding_shows_the_record_and_its_due_date(demo_db, monkeypatch):
    found = engine_findings(demo_db, rule_id="RET-OVERDUE")
    entity = found["entity_id"].iloc[-1]
    at = open_page(demo_db, MANAGER, monkeypatch, {"finding": f"RET-OVERDUE:{entity}"})
    record = next(d.value for d in at.dataframe if "heading" in d.value.columns)
    record = record.set_index("heading")["value"]
    with engine_store(demo_db) as s:
        due_on, category = s.rows("SELECT due_on, category FROM retention_due WHERE record_id = ?",
                                  [int(entity)])[0]
    assert record["Record ID"] == entity                      # an id, never "12,345"
    assert record["Due for deletion (retention rule)"] == due_on.isoformat()
    from dashboard.reference import category_label
    assert record["Category"] == category_label(category) != category   # in words
    assert "Open in Retention" in {x.value for x in at.get("page_link")}
    assert any(found["detail"].iloc[-1] in w.value for w in at.warning)   # medium: a warning


def test_an_incident_finding_shows_its_timeline(demo_db, monkeypatch):
    entity = engine_findings(demo_db, rule_id="INC-REGULATOR-DEADLINE")["entity_id"].iloc[0]
    at = open_page(demo_db, DPO, monkeypatch,
                   {"finding": f"INC-REGULATOR-DEADLINE:{entity}"})
    with engine_store(demo_db) as s:
        events = s.scalar("SELECT count(*) FROM incident_events WHERE incident_id = ?",
                          [entity])
    timeline = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    assert len(timeline) == events > 0
    assert "**Incident timeline** (append-only)" in texts(at)
    assert "Open in Incident" in {x.value for x in at.get("page_link")}


def test_selecting_a_row_opens_the_finding_and_puts_it_in_the_url(demo_db, monkeypatch):
    at = open_page(demo_db, DPO, monkeypatch, {"severity": "Low"})
    row = table(at).iloc[2]
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [2], "columns": [],
                                                           "cells": []}}
    at.run()
    assert at.query_params["finding"] == f"{row['rule_id']}:{row['entity_id']}"
    assert [s.value for s in at.main.subheader] == [f"{row['rule_id']} · {row['entity_id']}"]
    at.button(key="close_finding").click().run()
    assert "finding" not in at.query_params and not at.main.subheader


def test_due_view_lists_what_falls_due(demo_db, monkeypatch):
    at = open_page(demo_db, MANAGER, monkeypatch, {"view": "Due soon", "within": "7"})
    with engine_store(demo_db) as s:
        as_of = engine.current_as_of(s)
        want = engine.due_page(s, as_of, within_days=7, limit=100)
        total = engine.due_counts(s, as_of, by=None, within_days=7)["due"][0]
    assert at.title[0].value == "Due soon"
    assert n(metrics(at)["Due within 7 days"]) == total
    assert list(table(at)["entity_id"]) == list(want["entity_id"])
    at.selectbox(key="within").set_value(30).run()
    with engine_store(demo_db) as s:
        total30 = engine.due_counts(s, engine.current_as_of(s), by=None)["due"][0]
    assert n(metrics(at)["Due within 30 days"]) == total30 > total


# -- acknowledgements from the page ---------------------------------------------------------

def _plans(db) -> tuple[int, int]:
    with engine_store(db) as s:
        return (s.scalar("SELECT count(*) FROM remediation_plan_revisions"),
                s.scalar("SELECT count(*) FROM audit_log"))


def test_a_dpo_acknowledges_a_finding_and_the_overview_counts_it(demo_db, monkeypatch):
    entity = engine_findings(demo_db, rule_id="SHARE-CROSS-BORDER")["entity_id"].iloc[0]
    overview = open_page(demo_db, DPO, monkeypatch, page="overview")
    assert metrics(overview)["Planned"] == "0"
    plans, log = _plans(demo_db)
    at = open_page(demo_db, DPO, monkeypatch, {"finding": f"SHARE-CROSS-BORDER:{entity}"})
    assert "No remediation plan yet." in texts(at)
    at.text_input(key="ack_owner").set_value("Partnerships (Zhou Min)")
    at.date_input(key="ack_target").set_value(dt.date(2027, 1, 31))
    at.text_area(key="ack_comment").set_value("Move the recipient's storage to CN or end it.")
    at.button[[b.label for b in at.button].index("Acknowledge")].click().run()
    assert not at.exception
    assert any("Plan recorded for SHARE-CROSS-BORDER" in s.value for s in at.success)
    assert "**Partnerships (Zhou Min)** will fix it by **2027-01-31**." in texts(at)
    assert _plans(demo_db) == (plans + 1, log + 1)
    with engine_store(demo_db) as s:
        plan = rem.plan_for(s, rule_id="SHARE-CROSS-BORDER", entity_type="sharing_agreement",
                            entity_id=entity)
        who = s.rows("SELECT actor, action, entity_id FROM audit_log ORDER BY seq DESC "
                     "LIMIT 1")[0]
    assert plan["acknowledged_by"] == DPO.name and plan["owner"] == "Partnerships (Zhou Min)"
    assert who == (DPO.name, "finding.acknowledge", entity)
    assert metrics(at)["Planned"] == "1"                 # the list's own counts moved
    overview = open_page(demo_db, DPO, monkeypatch, page="overview")
    m = metrics(overview)
    assert (m["Planned"], n(m["Unplanned"])) == ("1", 203)


def test_bad_input_on_the_page_shows_a_message_and_writes_nothing(demo_db, monkeypatch):
    entity = engine_findings(demo_db, rule_id="SHARE-CROSS-BORDER")["entity_id"].iloc[0]
    at = open_page(demo_db, DPO, monkeypatch, {"finding": f"SHARE-CROSS-BORDER:{entity}"})
    before = _plans(demo_db)
    at.text_input(key="ack_owner").set_value("   ")
    at.text_area(key="ack_comment").set_value("")
    at.button[[b.label for b in at.button].index("Acknowledge")].click().run()
    errors = [e.value for e in at.error]
    assert "Name the owner who will fix the finding." in errors
    assert "Say what will be done to fix the finding (the comment is empty)." in errors
    assert "Choose the target date by which the finding will be fixed." in errors
    assert _plans(demo_db) == before
    # fixing the input then records the plan
    at.text_input(key="ack_owner").set_value("Partnerships")
    at.date_input(key="ack_target").set_value(FROZEN_NOW.date())
    at.text_area(key="ack_comment").set_value("End the agreement.")
    at.button[[b.label for b in at.button].index("Acknowledge")].click().run()
    assert _plans(demo_db)[0] == before[0] + 1
    assert not any("Name the owner" in e.value for e in at.error)


@pytest.mark.parametrize("actor", [MANAGER, AUDITOR])
def test_managers_and_auditors_see_no_acknowledgement_form(demo_db, monkeypatch, actor):
    entity = engine_findings(demo_db, rule_id="PROC-PIA")["entity_id"].iloc[0]
    at = open_page(demo_db, actor, monkeypatch, {"finding": f"PROC-PIA:{entity}"})
    assert "Only a data protection officer can acknowledge findings." in texts(at)
    assert not [b for b in at.button if b.label in ("Acknowledge", "Save plan")]


def test_a_past_as_of_view_does_not_offer_to_acknowledge(demo_db, monkeypatch):
    entity = engine_findings(demo_db, rule_id="PROC-PIA")["entity_id"].iloc[0]
    at = open_page(demo_db, DPO, monkeypatch, {"finding": f"PROC-PIA:{entity}",
                                              "as_of": "2026-11-20"})
    assert "Plans are recorded on today's view" in texts(at)
    with engine_store(demo_db) as s:
        total = engine.finding_counts(s, "2026-11-20", by=None)["findings"][0]
    assert n(metrics(at)["Findings"]) == total

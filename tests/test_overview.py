"""The Overview page under AppTest on the demo store: its numbers are the engine's, a DPO's
visit stores today's snapshot (once), the as-of date changes the numbers, and a click on a
chart segment or a rule lands on exactly the engine's findings for it."""
from __future__ import annotations

import json

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from dashboard import dashboards as D
from dashboard import engine
from dashboard.navigation import PAGE_BY_KEY
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import ADMIN, AUDITOR, DPO, FROZEN_NOW, MANAGER, SYSTEM, app_test, make_store

ACTORS = {"dpo": DPO, "manager": MANAGER, "auditor": AUDITOR, "admin": ADMIN}


def open_page(db, actor, monkeypatch, page="overview", query=None) -> AppTest:
    """Run app.py straight onto ``page`` with ``query`` in the URL (conftest.app_test)."""
    at = app_test(db, actor, monkeypatch, page=page, query=query)
    assert not at.exception, [e.value for e in at.exception]
    return at


def engine_store(db) -> Store:
    return Store(db, settings=Settings(), clock=lambda: FROZEN_NOW)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def deltas(at) -> dict[str, str]:
    return {m.label: m.proto.delta for m in at.metric}


def n(text: str) -> int:
    return int(text.replace(",", ""))


def click_chart(at, key: str, customdata: list) -> AppTest:
    """Click one segment of the chart ``key``: Streamlit's selection state for it, as the
    browser sends it (``st.plotly_chart(on_select="rerun")``)."""
    chart = next(c for c in at.get("plotly_chart") if c.key == key)
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(
        {"selection": {"points": [{"customdata": customdata}], "point_indices": [0],
                       "box": [], "lasso": []}})))
    at._run(states)
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_custom(at, key: str) -> list[list]:
    """Every segment's customdata of a rendered chart (from its figure spec)."""
    chart = next(c for c in at.get("plotly_chart") if c.key == key)
    fig = json.loads(chart.proto.spec)
    return [list(c) for trace in fig["data"] for c in (trace.get("customdata") or [])]


# -- renders, with the engine's numbers ----------------------------------------------------

@pytest.mark.parametrize("role", sorted(PAGE_BY_KEY["overview"].roles))
def test_overview_renders_the_engines_numbers_for_each_role(demo_db, monkeypatch, role):
    at = open_page(demo_db, ACTORS[role], monkeypatch)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Compliance overview"
    s = engine_store(demo_db)
    as_of = engine.current_as_of(s)
    summary = engine.check_summary(s, as_of)
    m = metrics(at)
    assert m["Overall score"] == D.percent(summary.overall)
    assert n(m["Open findings"]) == summary.finding_total == 204
    assert n(m["High severity"]) == summary.findings_by_severity["high"]
    assert n(m["Entities failing"]) == summary.entities_failing
    assert n(m["Unplanned"]) == summary.finding_total and m["Planned"] == "0"
    for days in (7, 30):
        due = engine.due_counts(s, as_of, by=None, within_days=days)["due"][0]
        assert n(m[f"Due ≤ {days} days"]) == due
    keys = [c.key for c in at.get("plotly_chart")]
    assert keys == ["chart_article", "chart_trend", "chart_clause", "chart_severity",
                    "chart_rule", "chart_incidents", "chart_due"]
    captions = [c.value for c in at.caption]
    assert sum("Click" in c for c in captions) == len(keys)      # each chart says what it shows
    rules = at.dataframe[-1].value
    assert len(rules) == len(engine.load_rules())
    assert rules.set_index("rule_id").loc["PROC-PIA", "link"] == "findings?rule=PROC-PIA"
    s.close()


def test_overview_on_an_empty_store(tmp_path, monkeypatch):
    path = tmp_path / "empty.duckdb"
    make_store(path).close()
    at = open_page(path, DPO, monkeypatch)
    m = metrics(at)
    assert m["Overall score"] == "n/a" and m["Open findings"] == "0"
    assert len(at.get("plotly_chart")) == 7


# -- snapshots ---------------------------------------------------------------------------

def _snapshots(db) -> list[tuple]:
    with engine_store(db) as s:
        return s.rows("SELECT snapshot_date, findings, taken_by FROM compliance_snapshots "
                      "ORDER BY snapshot_date")


def _log(db, action: str) -> int:
    with engine_store(db) as s:
        return s.scalar("SELECT count(*) FROM audit_log WHERE action = ?", [action])


def test_a_dpo_opening_the_overview_stores_todays_snapshot_once(demo_db, monkeypatch):
    assert _snapshots(demo_db) == []
    at = open_page(demo_db, DPO, monkeypatch)
    snaps = _snapshots(demo_db)
    assert [(str(d), f, who) for d, f, who in snaps] == [("2026-11-24", 204, DPO.name)]
    assert _log(demo_db, "check.snapshot") == 1
    assert "Today's snapshot was stored" in at.caption[0].value
    at.run()                                         # fresh now: nothing more is written
    assert _log(demo_db, "check.snapshot") == 1
    assert "up to date" in at.caption[0].value


@pytest.mark.parametrize("actor", [MANAGER, AUDITOR, ADMIN])
def test_other_roles_only_read(demo_db, monkeypatch, actor):
    at = open_page(demo_db, actor, monkeypatch)
    assert _snapshots(demo_db) == [] and _log(demo_db, "check.snapshot") == 0
    assert "when a DPO opens this page" in at.caption[0].value


def test_a_stale_snapshot_is_replaced(demo_db, monkeypatch):
    with engine_store(demo_db) as s:
        engine.save_snapshot(s, SYSTEM, engine.check_summary(s, engine.current_as_of(s)))
        with s.write(SYSTEM, "register.edit") as w:         # a new PROC-LOCATION finding
            w.execute("UPDATE processors SET storage_region = 'US' WHERE processor_id = "
                      "(SELECT min(processor_id) FROM processors WHERE status = 'active' "
                      "AND storage_region = 'CN')")
            w.audit("register.edit", "processor", None, after={"storage_region": "US"})
    open_page(demo_db, DPO, monkeypatch)
    assert [(str(d), f) for d, f, _ in _snapshots(demo_db)] == [("2026-11-24", 205)]
    assert _log(demo_db, "check.snapshot") == 2


def test_change_since_the_last_snapshot(demo_db, monkeypatch):
    with engine_store(demo_db) as s:
        before = engine.check_summary(s, "2026-11-10")
        engine.save_snapshot(s, SYSTEM, before)
        now = engine.check_summary(s, engine.current_as_of(s))
    at = open_page(demo_db, AUDITOR, monkeypatch)
    d = deltas(at)
    assert d["Overall score"] == f"{(now.overall - before.overall) * 100:+,.1f} pts"
    assert d["Open findings"] == f"{now.finding_total - before.finding_total:+,}"
    assert d["High severity"] == \
        f"{now.findings_by_severity['high'] - before.findings_by_severity['high']:+,}"
    assert {m.proto.delta_description for m in at.metric if m.proto.delta} == \
        {"since 2026-11-10"}
    # the trend draws the stored day and today
    trend = [c for c in chart_custom(at, "chart_trend") if c[0] == "overall"]
    assert [c[2] for c in trend] == ["snapshot", "now"]


def test_a_past_as_of_date_shows_that_day_and_stores_nothing(demo_db, monkeypatch):
    at = open_page(demo_db, DPO, monkeypatch, query={"day": "2026-11-01"})
    with engine_store(demo_db) as s:
        past = engine.check_summary(s, "2026-11-01")
        today = engine.check_summary(s, engine.current_as_of(s))
    m = metrics(at)
    assert m["Overall score"] == D.percent(past.overall)
    assert n(m["Open findings"]) == past.finding_total != today.finding_total
    assert "the close of 2026-11-01" in at.caption[0].value
    assert _snapshots(demo_db) == []
    # the drill-down keeps the day
    assert at.dataframe[-1].value.set_index("rule_id").loc["PROC-PIA", "link"] == \
        "findings?as_of=2026-11-01&rule=PROC-PIA"


# -- drill-down ----------------------------------------------------------------------------

def _findings_total(at) -> int:
    return n(metrics(at)["Findings"])


@pytest.mark.parametrize("key,pick,engine_filter", [
    ("chart_clause", lambda c: c[1] == "5.1.4", {"clause": "5.1.4"}),
    ("chart_article", lambda c: c[1] == "7", {"article": "7"}),
    ("chart_rule", lambda c: c[1] == "RET-OVERDUE", {"rule_id": "RET-OVERDUE"}),
    ("chart_severity", lambda c: c[1] == "high", {"severity": "high"}),
])
def test_clicking_a_bar_opens_exactly_its_findings(demo_db, monkeypatch, key, pick,
                                                   engine_filter):
    at = open_page(demo_db, MANAGER, monkeypatch)
    custom = next(c for c in chart_custom(at, key) if pick(c))
    click_chart(at, key, custom)
    assert at.title[0].value == "Findings"
    with engine_store(demo_db) as s:
        as_of = engine.current_as_of(s)
        want = engine.finding_counts(s, as_of, by=None, **engine_filter)["findings"][0]
        first = engine.findings_page(s, as_of, limit=100, **engine_filter)
    assert _findings_total(at) == want > 0
    shown = at.dataframe[0].value
    assert list(shown["entity_id"]) == list(first["entity_id"])
    assert list(shown["rule_id"]) == list(first["rule_id"])
    param = {"chart_clause": "clause", "chart_article": "article", "chart_rule": "rule",
             "chart_severity": "severity"}[key]
    assert param in at.query_params


def test_clicking_a_due_bar_lists_what_falls_due(demo_db, monkeypatch):
    at = open_page(demo_db, DPO, monkeypatch)
    custom = next(c for c in chart_custom(at, "chart_due") if c[1] == "deletion" and c[2] == 7)
    click_chart(at, "chart_due", custom)
    assert at.title[0].value == "Due soon"
    with engine_store(demo_db) as s:
        want = engine.due_counts(s, engine.current_as_of(s), by=None, rule_id="RET-OVERDUE",
                                 within_days=7)["due"][0]
    assert n(metrics(at)["Due within 7 days"]) == want > 0
    assert at.multiselect(key="rule").value == ["RET-OVERDUE"]


def test_clicking_an_incident_segment_opens_the_incidents_page_filtered(demo_db, monkeypatch):
    at = open_page(demo_db, DPO, monkeypatch)
    custom = next(c for c in chart_custom(at, "chart_incidents") if c[1:] ==
                  ["general", "closed"])
    click_chart(at, "chart_incidents", custom)
    assert at.title[0].value == "Incidents"
    assert at.multiselect(key="f_grade").value == ["general"]
    assert at.multiselect(key="f_status").value == ["closed"]


def test_selecting_a_rule_row_opens_its_findings(demo_db, monkeypatch):
    at = open_page(demo_db, AUDITOR, monkeypatch)
    table = at.dataframe[-1].value
    row = int(table.index[table["rule_id"] == "SHARE-CROSS-BORDER"][0])
    at.session_state["rule_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert at.title[0].value == "Findings"
    assert at.multiselect(key="rule").value == ["SHARE-CROSS-BORDER"]
    with engine_store(demo_db) as s:
        want = engine.findings_page(s, engine.current_as_of(s), rule_id="SHARE-CROSS-BORDER")
    assert sorted(at.dataframe[0].value["entity_id"]) == sorted(want["entity_id"])

"""The Overview page under AppTest on the demo store: its numbers are the engine's, a DPO's
visit stores today's snapshot (once), the as-of date changes the numbers, only the open
tab's charts are read and drawn (a click on a tab, or its ``tab`` query parameter, opens
another), and a click on a chart segment or a rule lands on exactly the engine's findings
for it."""
from __future__ import annotations

import json

import pytest
from streamlit.proto.Block_pb2 import Block as BlockProto
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


def open_tab(at, label: str) -> AppTest:
    """Click the Overview's tab ``label``: the tabs' state as the browser sends it
    (``st.tabs(on_change="rerun")``; the browser also puts it in the address)."""
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=_tabs_id(at._tree), string_value=label))
    at._run(states)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _tabs_id(node) -> str | None:
    """The widget id of the (only) ``st.tabs`` under ``node``."""
    for child in getattr(node, "children", {}).values():
        if isinstance(child.proto, BlockProto) and child.proto.HasField("tab_container"):
            return child.proto.tab_container.id
        if (found := _tabs_id(child)) is not None:
            return found
    return None


def tab_of(key: str) -> str:
    """The Overview tab that draws the chart ``key``."""
    return next(label for label, keys in D.OVERVIEW_TABS.items() if key in keys)


def chart_keys(at) -> list[str]:
    return [c.key for c in at.get("plotly_chart")]


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
    # under the cards, the tabs; the first is open, with its two charts only
    assert [t.label for t in at.tabs] == list(D.OVERVIEW_TABS) == [
        "Scores", "Trend", "Findings and incidents", "What falls due", "Every rule"]
    assert chart_keys(at) == ["chart_article", "chart_clause"] == \
        list(D.OVERVIEW_TABS["Scores"])
    assert not at.dataframe and "tab" not in at.query_params
    s.close()


def test_each_tab_draws_its_charts_when_clicked(demo_db, monkeypatch):
    at = open_page(demo_db, DPO, monkeypatch)
    drawn = []
    for label in [*list(D.OVERVIEW_TABS)[1:], "Scores"]:
        open_tab(at, label)
        assert at.session_state["tab"] == label
        assert chart_keys(at) == list(D.OVERVIEW_TABS[label]), label
        captions = [c.value for c in at.caption]
        assert sum("Click" in c for c in captions) == len(D.OVERVIEW_TABS[label])  # each
        drawn += chart_keys(at)                                   # chart says what it shows
        assert metrics(at)["Open findings"] == "204"                      # the cards stay
    assert sorted(drawn) == sorted(["chart_article", "chart_trend", "chart_clause",
                                    "chart_severity", "chart_rule", "chart_incidents",
                                    "chart_due"])
    open_tab(at, "What falls due")
    assert [d.value.columns.tolist() for d in at.dataframe] == [
        ["due_at", "rule_id", "entity_id", "detail"]]
    assert at.get("page_link")[0].proto.label == "Everything due within 30 days"
    open_tab(at, "Every rule")
    rules = at.dataframe[-1].value
    assert len(rules) == len(engine.load_rules())
    assert rules.set_index("rule_id").loc["PROC-PIA", "link"] == "findings?rule=PROC-PIA"
    assert any("Every compliance rule with its score" in c.value for c in at.caption)


@pytest.mark.parametrize("label", list(D.OVERVIEW_TABS))
def test_a_tab_opens_from_the_address(demo_db, monkeypatch, label):
    """``?tab=What falls due`` (a bookmark) opens that tab at once."""
    at = open_page(demo_db, AUDITOR, monkeypatch, query={"tab": label})
    assert chart_keys(at) == list(D.OVERVIEW_TABS[label])
    assert at.query_params.get("tab") == (None if label == "Scores" else label)


def test_an_unknown_tab_in_the_address_opens_the_first(demo_db, monkeypatch):
    at = open_page(demo_db, AUDITOR, monkeypatch, query={"tab": "Nonsense"})
    assert chart_keys(at) == list(D.OVERVIEW_TABS["Scores"])
    assert "tab" not in at.query_params


def test_the_tabs_not_open_are_not_read(demo_db, monkeypatch):
    """The first visit reads the cards' data and the first tab's, nothing of the others
    (their data is read when their tab opens)."""
    from dashboard import ui
    calls: list[str] = []
    cached = ui.cached

    def spy(fn, **kwargs):
        if fn.__module__ == D.__name__:                  # the page's reads (not the app's)
            calls.append(":".join([fn.__name__, *(str(kwargs[k]) for k in ("level", "by")
                                                  if k in kwargs)]))
        return cached(fn, **kwargs)

    monkeypatch.setattr(ui, "cached", spy)
    at = open_page(demo_db, DPO, monkeypatch)
    assert sorted(set(calls)) == ["due_groups", "finding_stats", "previous_snapshot",
                                  "scores:article", "scores:clause", "summary"]
    calls.clear()
    open_tab(at, "Every rule")
    assert "rule_table" in calls and not any(c.startswith("scores") for c in calls)
    assert "incident_breakdown" not in calls and "due_rows" not in calls
    assert "trend" not in calls            # the score card has no sparkline: no trend read
    open_tab(at, "Trend")
    assert "trend" in calls


def test_overview_on_an_empty_store(tmp_path, monkeypatch):
    path = tmp_path / "empty.duckdb"
    make_store(path).close()
    at = open_page(path, DPO, monkeypatch)
    m = metrics(at)
    assert m["Overall score"] == "n/a" and m["Open findings"] == "0"
    drawn = 0
    for label, keys in D.OVERVIEW_TABS.items():
        open_tab(at, label)
        assert chart_keys(at) == list(keys), label
        drawn += len(keys)
    assert drawn == 7
    assert any("Nothing falls due" in i.value for i in open_tab(at, "What falls due").info)


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
    at = open_page(demo_db, AUDITOR, monkeypatch, query={"tab": "Trend"})
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
    at = open_page(demo_db, DPO, monkeypatch,
                   query={"day": "2026-11-01", "tab": "Every rule"})
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
    at = open_tab(open_page(demo_db, MANAGER, monkeypatch), tab_of(key))
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
    assert param in at.query_params and "tab" not in at.query_params


def test_clicking_a_due_bar_lists_what_falls_due(demo_db, monkeypatch):
    at = open_tab(open_page(demo_db, DPO, monkeypatch), "What falls due")
    custom = next(c for c in chart_custom(at, "chart_due") if c[1] == "deletion" and c[2] == 7)
    click_chart(at, "chart_due", custom)
    assert at.title[0].value == "Due soon"
    with engine_store(demo_db) as s:
        want = engine.due_counts(s, engine.current_as_of(s), by=None, rule_id="RET-OVERDUE",
                                 within_days=7)["due"][0]
    assert n(metrics(at)["Due within 7 days"]) == want > 0
    assert at.multiselect(key="rule").value == ["RET-OVERDUE"]


def test_clicking_an_incident_segment_opens_the_incidents_page_filtered(demo_db, monkeypatch):
    at = open_tab(open_page(demo_db, DPO, monkeypatch), "Findings and incidents")
    custom = next(c for c in chart_custom(at, "chart_incidents") if c[1:] ==
                  ["general", "closed"])
    click_chart(at, "chart_incidents", custom)
    assert at.title[0].value == "Incidents"
    assert at.multiselect(key="f_grade").value == ["general"]
    assert at.multiselect(key="f_status").value == ["closed"]


def test_selecting_a_rule_row_opens_its_findings(demo_db, monkeypatch):
    at = open_tab(open_page(demo_db, AUDITOR, monkeypatch), "Every rule")
    table = at.dataframe[-1].value
    row = int(table.index[table["rule_id"] == "SHARE-CROSS-BORDER"][0])
    at.session_state["rule_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert at.title[0].value == "Findings"
    assert at.multiselect(key="rule").value == ["SHARE-CROSS-BORDER"]
    with engine_store(demo_db) as s:
        want = engine.findings_page(s, engine.current_as_of(s), rule_id="SHARE-CROSS-BORDER")
    assert sorted(at.dataframe[0].value["entity_id"]) == sorted(want["entity_id"])

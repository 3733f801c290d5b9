"""The overview's chart builders as pure functions: each figure's data equals the frame the
dashboard query returned (drawn from the demo store), is titled and labelled, leaves the
background to the theme, and carries the codes that a click turns into a Findings link."""
from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts_compliance as CC
from dashboard import dashboards as D
from dashboard import engine
from dashboard import remediation as rem
from dashboard.settings import Settings

from conftest import DPO, SYSTEM

TARGET, WARNING = 95, 80


@pytest.fixture
def as_of(demo_store) -> str:
    return engine.current_as_of(demo_store)


def assert_readable(fig: go.Figure, title: str) -> None:
    """Titled, both axes titled, no forced background: the theme draws it."""
    assert fig.layout.title.text == title
    assert fig.layout.xaxis.title.text or fig.layout.xaxis.tickformat
    assert fig.layout.yaxis.title.text
    assert fig.layout.paper_bgcolor is None and fig.layout.plot_bgcolor is None


def bars(fig: go.Figure) -> list[go.Bar]:
    return [t for t in fig.data if t.type == "bar"]


@pytest.mark.parametrize("level", ["clause", "article", "rule"])
def test_score_bars_equal_the_scores(demo_store, as_of, level):
    df = D.scores(demo_store, as_of=as_of, level=level)
    fig = CC.score_bars(df, level=level, title="Score", axis_title=level.capitalize(),
                        target=TARGET, warning=WARNING)
    assert_readable(fig, "Score")
    got = {c: x for _name, c, x in CC.points(fig)}
    want = {lab: (0.0 if math.isnan(s) else s) for lab, s in zip(df["label"], df["score_pct"])}
    assert got == pytest.approx(want)
    # the frame's order (worst first) from the top, one colour per band, codes for a click
    assert list(fig.layout.yaxis.categoryarray) == list(df["label"])
    assert fig.layout.yaxis.autorange == "reversed"
    for trace in bars(fig):
        assert {c[0] for c in trace.customdata} == {level}
        band = next(b for b, name in D.BAND_LABELS.items() if name == trace.name)
        assert set(df[df["label"].isin(trace.y)]["band"]) == {band}
    codes = {c[1] for t in bars(fig) for c in t.customdata}
    assert codes == set(df["code"])
    # the band limits are drawn and named (settings), not data
    assert [s.x0 for s in fig.layout.shapes] == [TARGET, WARNING]
    assert {t.name for t in fig.data if t.type == "scatter"} == {"Target 95 %", "Action < 80 %"}


def test_scores_are_sorted_worst_first_with_titles_from_the_policy(demo_store, as_of):
    df = D.scores(demo_store, as_of=as_of, level="clause")
    scored = df["score"].dropna().tolist()
    assert scored == sorted(scored)
    summary = engine.check_summary(demo_store, as_of).clause_scores.set_index("clause")
    for row in df.itertuples():
        assert row.applicable == summary.loc[row.code, "applicable"]
        assert row.failing == summary.loc[row.code, "failing"]
        assert row.label.startswith(f"{row.code} · ")
    assert df.set_index("code").loc["5.1.4", "label"].startswith("5.1.4 · We may entrust")
    bands = dict(zip(df["code"], df["band"]))
    assert bands["6.1"] == "target" and bands["5.1.1"] == "action"


def test_score_band_limits_are_settings():
    s = Settings({"score_target_percent": 99, "score_warning_percent": 50})
    assert [D.band(x, s) for x in (0.995, 0.99, 0.9, 0.5, 0.49, float("nan"), None)] == \
        ["target", "target", "warning", "warning", "action", "none", "none"]
    assert D.percent(0.99963) == "99.9 %" and D.percent(None) == "n/a"


def test_a_rule_that_applies_to_nothing_shows_na():
    df = pd.DataFrame({"code": ["5.1.1", "6.2"], "label": ["5.1.1 · A", "6.2 · B"],
                       "score": [0.5, float("nan")], "score_pct": [50.0, float("nan")],
                       "applicable": [4, 0], "failing": [2, 0], "band": ["action", "none"]})
    fig = CC.score_bars(df, level="clause", title="t", axis_title="Clause", target=TARGET,
                        warning=WARNING)
    none = next(t for t in bars(fig) if t.name == "Nothing applies")
    assert list(none.x) == [0.0] and list(none.text) == ["n/a"]


def test_trend_equals_the_snapshots_and_the_live_point(demo_store, as_of):
    earlier = engine.check_summary(demo_store, "2026-11-10")
    engine.save_snapshot(demo_store, SYSTEM, earlier)
    df = D.trend(demo_store, as_of=as_of)
    fig = CC.score_trend(df, target=TARGET, warning=WARNING)
    assert_readable(fig, "Compliance score over time")
    lines = [t for t in fig.data if t.legendgroup != CC.THRESHOLD_GROUP]
    assert [t.name for t in lines] == list(dict.fromkeys(df["label"]))
    for t in lines:
        part = df[df["label"] == t.name]
        assert list(t.y) == pytest.approx(part["score_pct"].tolist())
        assert [pd.Timestamp(x).date() for x in t.x] == list(part["day"])
    overall = df[df["series"] == "overall"]
    assert list(overall["day"]) == [dt.date(2026, 11, 10), dt.date(2026, 11, 24)]
    assert overall["score"].tolist() == pytest.approx(
        [earlier.overall, engine.check_summary(demo_store, as_of).overall])
    assert list(overall["live"]) == [False, True]


@pytest.mark.parametrize("by,code,chart", [("severity", "severity", "severity"),
                                           ("rule_id", "rule_id", "rule")])
def test_findings_by_plan_equal_the_breakdown(demo_store, as_of, by, code, chart):
    entity = engine.findings_page(demo_store, as_of, rule_id="PROC-PIA", limit=1)["entity_id"][0]
    rem.acknowledge(demo_store, DPO, rule_id="PROC-PIA", entity_id=entity, owner="Ops",
                    target_date="2026-12-31", comment="Fix it.")
    as_of = engine.current_as_of(demo_store)
    df = D.findings_breakdown(demo_store, as_of=as_of, by=by)
    fig = CC.findings_by_plan(df, code=code, chart=chart, title="Open findings",
                              axis_title="X")
    assert_readable(fig, "Open findings")
    got = sorted((n, c, int(v)) for n, c, v in CC.points(fig))
    want = sorted((D.PLAN_LABELS[p], lab, int(f)) for p, lab, f in
                  zip(df["plan_state"], df["label"], df["findings"]))
    assert got == want
    totals = engine.finding_counts(demo_store, as_of, by=by)
    assert df.groupby(by)["findings"].sum().to_dict() == dict(zip(totals[by], totals["findings"]))
    # the totals written at the bars' ends; the codes a click needs
    totals = next(t for t in fig.data if t.legendgroup == CC.TOTALS_GROUP)
    assert dict(zip(totals.y, totals.x)) == df.groupby("label")["findings"].sum().to_dict()
    assert [x.strip() for x in totals.text] == [f"{int(v):,}" for v in totals.x]
    planned = next(t for t in bars(fig) if t.name == "Planned")
    assert list(planned.customdata[0][:3]) == [chart, "high" if by == "severity"
                                                  else "PROC-PIA", "planned"]


def test_due_bars_equal_the_due_groups(demo_store, as_of):
    df = D.due_groups(demo_store, as_of=as_of)
    fig = CC.due_bars(df)
    assert_readable(fig, "What falls due")
    got = sorted((n, c, int(v)) for n, c, v in CC.points(fig))
    assert got == sorted(zip(df["window"], df["label"], df["due"].astype(int)))
    # each window's total is the engine's due count within it
    for days in (7, 30):
        total = engine.due_counts(demo_store, as_of, by=None, within_days=days)["due"][0]
        assert df[df["horizon"] == days]["due"].sum() == total
    deletion = df[(df["group"] == "deletion") & (df["horizon"] == 30)].iloc[0]
    assert deletion["rules"] == ["RET-OVERDUE"] and deletion["due"] > 0


def test_incidents_chart_equals_the_breakdown(demo_store, as_of):
    df = D.incident_breakdown(demo_store, as_of=as_of)
    fig = CC.incidents_by_grade(df)
    assert_readable(fig, "Incidents by grade and status")
    assert sum(int(v) for *_x, v in CC.points(fig)) == \
        demo_store.scalar("SELECT count(*) FROM incidents")
    from dashboard.clocks import GRADE_LABELS
    from dashboard.incidents import STATUS_LABELS
    got = sorted((n, c, int(v)) for n, c, v in CC.points(fig))
    assert got == sorted((STATUS_LABELS[s], GRADE_LABELS[g], int(n)) for g, s, n in
                         zip(df["grade"], df["status"], df["incidents"]))


def test_empty_frames_draw_an_empty_chart_with_a_message():
    fig = CC.findings_by_plan(pd.DataFrame(columns=["severity", "plan_state", "findings",
                                                    "label"]),
                              code="severity", chart="severity", title="t", axis_title="S")
    assert any(a.text == CC.EMPTY_TEXT for a in fig.layout.annotations)
    fig = CC.incidents_by_grade(pd.DataFrame(columns=["grade", "status", "incidents"]))
    assert any(a.text == CC.EMPTY_TEXT for a in fig.layout.annotations)


# -- a click becomes a Findings link -----------------------------------------------------------

def test_drill_params_from_each_chart():
    assert D.drill_params(["clause", "5.1.4", 46, 11]) == {"clause": "5.1.4"}
    assert D.drill_params(["article", "6", 10, 1], as_of="2026-11-01") == \
        {"as_of": "2026-11-01", "article": "6"}
    assert D.drill_params(["rule", "PROC-PIA", "unplanned", "t"]) == \
        {"rule": "PROC-PIA", "plan": "Unplanned"}
    assert D.drill_params(["severity", "high", "overdue", "High"]) == \
        {"severity": "High", "plan": "Plan overdue"}
    assert D.drill_params(["due", "notices", 7, json.dumps(["INC-USER-NOTICE",
                                                           "SHARE-LEGAL-NOTICE"])]) == \
        {"view": "Due soon", "rule": ["INC-USER-NOTICE", "SHARE-LEGAL-NOTICE"], "within": "7"}
    assert D.drill_params(["due", "other", 7, "[]"]) is None        # nothing due there
    assert D.drill_params(["overall", "overall", "now"]) is None
    assert D.drill_params(["incident", "major", "open"]) is None
    assert D.incident_filters(["incident", "major", "open"]) == \
        {"f_grade": ["major"], "f_status": ["open"]}


def test_selected_custom_reads_a_plotly_event():
    event = {"selection": {"points": [{"customdata": ["clause", "6.2", 1, 0]}, {"x": 1}]}}
    assert CC.selected_custom(event) == [["clause", "6.2", 1, 0]]
    assert CC.selected_custom(None) == [] and CC.selected_custom({}) == []


def test_finding_links_are_shareable_urls():
    assert D.finding_link(rule=["PROC-PIA"], entity="PRC-0007") == \
        "findings?rule=PROC-PIA&entity=PRC-0007"
    assert D.finding_link(severity=["low", "high"], type=["sharing_agreement"]) == \
        "findings?severity=High&severity=Low&type=Sharing+agreement"
    assert D.parse_finding_key(D.finding_key("INC-GRADE", "INC-2026-0001")) == \
        ("INC-GRADE", "INC-2026-0001")
    assert D.parse_finding_key("NOPE:X") is None and D.parse_finding_key("PROC-PIA") is None
    with pytest.raises(ValueError, match="unknown filter"):
        D.finding_link(colour=["red"])

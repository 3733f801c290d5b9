"""Chart builders as pure functions: each figure draws exactly the frame it is given."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts
from dashboard import queries as Q
from dashboard import views

import small_registers as S
from conftest import DEMO_AS_OF

AS_OF = DEMO_AS_OF.isoformat()

# builder, the frame's category column, count column, stack column, label families
BREAKDOWN_CHARTS = [
    (charts.processors_by_region, "value", "processors", "status", "region", "processor_status"),
    (charts.processors_by_kind, "value", "processors", "status", "kind", "processor_status"),
    (charts.processors_by_agreement, "value", "processors", "status", "agreement",
     "processor_status"),
    (charts.sharing_by_basis, "value", "agreements", "status", "legal_basis", "sharing_status"),
    (charts.sharing_by_kind, "value", "agreements", "status", "sharing_kind", "sharing_status"),
    (charts.sharing_by_consent, "value", "agreements", "status", "consent", "sharing_status"),
    (charts.retention_by_status, "value", "records", "status", "retention_status",
     "retention_status"),
    (charts.retention_by_category, "value", "records", "status", "category", "retention_status"),
    (charts.retention_by_system, "value", "records", "status", "system", "retention_status"),
    (charts.holds_by_reason, "hold_reason", "records", "review_state", "hold_reason",
     "review_state"),
]


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """The real queries' results on the small store: what the pages pass the builders."""
    from conftest import make_store
    s = make_store(tmp_path_factory.mktemp("charts") / "c.duckdb")
    S.fill(s)
    p = Q.processor_breakdown(s, as_of=AS_OF)
    sh = Q.sharing_breakdown(s, as_of=AS_OF)
    summary = Q.retention_summary(s, as_of=AS_OF)
    r = summary["breakdown"]
    holds = Q.retention_holds(s, as_of=AS_OF)
    out = {
        charts.processors_by_region: Q.pick(p, "region"),
        charts.processors_by_kind: Q.pick(p, "kind"),
        charts.processors_by_agreement: Q.pick(p, "agreement"),
        charts.sharing_by_basis: Q.pick(sh, "legal_basis"),
        charts.sharing_by_kind: Q.pick(sh, "kind"),
        charts.sharing_by_consent: Q.pick(sh, "consent_code"),
        charts.retention_by_status: Q.pick(r, "status"),
        charts.retention_by_category: Q.pick(r, "category"),
        charts.retention_by_system: Q.pick(r, "system"),
        charts.holds_by_reason: holds["by_reason"],
        charts.agreement_expiries: Q.processor_expiries(s, as_of=AS_OF),
        charts.overdue_over_time: summary["overdue_trend"],
        charts.holds_by_review_month: holds["by_review_month"],
    }
    s.close()
    return out


def _common(fig: go.Figure) -> None:
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text
    axes = [fig.layout.xaxis.title.text, fig.layout.yaxis.title.text]
    assert all(axes), axes
    # no template or background forced: the page's theme decides (light or dark)
    assert fig.layout.template.layout.paper_bgcolor is None
    assert fig.layout.paper_bgcolor is None and fig.layout.plot_bgcolor is None


@pytest.mark.parametrize("builder,cat,count,stack,cat_family,stack_family", BREAKDOWN_CHARTS,
                         ids=lambda v: getattr(v, "__name__", None))
def test_bar_figure_data_equals_the_frame(frames, builder, cat, count, stack, cat_family,
                                          stack_family):
    df = frames[builder]
    assert not df.empty
    fig = builder(df)
    _common(fig)
    expected = sorted((Q.label(stack_family, s), Q.label(cat_family, c), n)
                      for c, s, n in zip(df[cat], df[stack], df[count]))
    assert sorted(charts.figure_points(fig)) == expected
    # each bar carries its codes, for click-to-filter
    codes = sorted(tuple(c) for t in fig.data for c in t.customdata)
    assert codes == sorted(zip(df[cat], df[stack]))


def test_bar_category_order_follows_the_frame_or_the_enum(frames):
    df = frames[charts.retention_by_system]
    fig = charts.retention_by_system(df)
    assert list(fig.layout.yaxis.categoryarray) == list(dict.fromkeys(df["value"]))
    fig = charts.processors_by_agreement(frames[charts.processors_by_agreement])
    assert list(fig.layout.xaxis.categoryarray) == [
        "Valid", "Expiring soon", "Expired", "No expiry date"]
    # stacks follow the status order with their meaning's colour
    fig = charts.retention_by_category(frames[charts.retention_by_category])
    assert [t.name for t in fig.data] == ["Active", "Due soon", "Overdue", "On hold", "Deleted"]
    assert fig.data[2].marker.color == charts.RED


def test_agreement_expiries_figure(frames):
    df = frames[charts.agreement_expiries]
    fig = charts.agreement_expiries(df)
    _common(fig)
    (bar,) = fig.data
    assert list(bar.y) == df["processors"].tolist() and len(bar.x) == 12
    assert [pd.Timestamp(x) for x in bar.x] == list(pd.to_datetime(df["month"]))
    assert bar.customdata[0][0] == "2026-11-01"


def test_overdue_over_time_figure(frames):
    df = frames[charts.overdue_over_time]
    fig = charts.overdue_over_time(df)
    _common(fig)
    bar, line = fig.data
    assert list(bar.y) == df["records"].tolist()
    assert list(line.y) == df["cumulative"].tolist()
    assert [pd.Timestamp(x).date().isoformat() for x in line.x] == [m for m, _, _ in
                                                                    S.OVERDUE_MONTHS]
    assert fig.layout.yaxis2.title.text          # the running total has its own axis


def test_holds_by_review_month_figure(frames):
    df = frames[charts.holds_by_review_month]
    fig = charts.holds_by_review_month(df)
    _common(fig)
    got = sorted((t.name, pd.Timestamp(x).strftime("%Y-%m"), y)
                 for t in fig.data for x, y in zip(t.x, t.y))
    assert got == [("Review ahead", "2027-02", 1), ("Review date passed", "2026-11", 1)]


@pytest.mark.parametrize("builder", [b for b, *_ in BREAKDOWN_CHARTS] + [
    charts.agreement_expiries, charts.overdue_over_time, charts.holds_by_review_month],
    ids=lambda b: b.__name__)
def test_an_empty_frame_draws_an_empty_labelled_chart(frames, builder):
    fig = builder(frames[builder].iloc[0:0])
    _common(fig)
    assert charts.figure_points(fig) == []
    assert fig.layout.annotations[0].text == charts.EMPTY_TEXT


def test_chart_selection_becomes_filters():
    points = [{"customdata": ["overdue", "overdue"]}, {"customdata": ["name", "due"]},
              {"x": 3}]
    assert charts.selection_codes(points) == [("overdue", "overdue"), ("name", "due")]
    got = views.selection_filters([{"customdata": ["name", "due"]}], ("category", "status"),
                                  Q.RETENTION_FILTERS)
    assert got == {"category": ["name"], "status": ["due"]}
    # a month sets a date filter to that calendar month
    got = views.selection_filters([{"customdata": ["2027-02-01", None]}], ("due",),
                                  Q.RETENTION_FILTERS)
    assert got == {"due": (dt.date(2027, 2, 1), dt.date(2027, 2, 28))}
    assert views.selection_filters([], ("due",), Q.RETENTION_FILTERS) == {}

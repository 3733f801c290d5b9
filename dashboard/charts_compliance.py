"""Charts of the Overview page: pure functions DataFrame -> ``plotly.graph_objects.Figure``.

Each builder draws the frame a ``dashboard.dashboards`` function returned, as is (no
aggregation here): the figure's data equals the frame, in the frame's order. Every figure
has a title and labelled axes, uses plotly's default template (no forced background, so
``st.plotly_chart(fig, theme="streamlit")`` draws it in the light and the dark theme),
and carries in ``customdata`` the codes of each bar, which ``dashboards.drill_params``
turns into the Findings page's query parameters when a DPO clicks the bar.

Words are in the page's locale (``i18n.get_locale()``): titles, axes, legends and hover
text through ``_()``; the frames' labels (English, cached for every reader) are drawn as they
are in English and rebuilt from their codes in Chinese (``dashboards.score_label`` …).
"""
from __future__ import annotations

import json
from typing import Any, Mapping

import pandas as pd
import plotly.graph_objects as go

from . import dashboards as D
from .charts import AMBER, BLUE, GREEN, GREY, PURPLE, RED
from .i18n import N_, _, is_chinese, label

TEAL = "#3DA89F"
from .clocks import GRADE_LABELS
from .dashboards import BANDS, percent
from .remediation import PLAN_STATES

BAND_COLORS = {"target": GREEN, "warning": AMBER, "action": RED, "none": GREY}
PLAN_COLORS = {"unplanned": RED, "overdue": AMBER, "planned": BLUE}
STATUS_COLORS = {"open": RED, "contained": AMBER, "resolved": BLUE, "closed": GREY}
WINDOW_COLORS = (AMBER, BLUE)
SERIES_COLORS = [PURPLE, TEAL, AMBER, GREY]      # the articles' lines beside the overall one
EMPTY_TEXT = N_("Nothing to show")


def _layout(fig: go.Figure, title: str, *, height: int, legend: bool, empty: bool,
            barmode: str | None = None) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", y=1, yanchor="top", yref="container",
                   pad=dict(t=8)),
        height=height, showlegend=legend,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0,
                    traceorder="normal"),
        margin=dict(l=10, r=10, t=100 if legend else 50, b=10),
    )
    if barmode:
        fig.update_layout(barmode=barmode)
    if empty:
        fig.add_annotation(text=_(EMPTY_TEXT), showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5, font=dict(size=14))
    return fig


THRESHOLD_GROUP = "thresholds"     # legend-only traces naming the dashed band lines
TOTALS_GROUP = "totals"             # text-only traces writing a bar's total


def _threshold_lines(fig: go.Figure, *, target: float, warning: float, axis: str) -> None:
    """Dashed lines at the score bands' limits (settings score_target_percent and
    score_warning_percent), named in the legend (traces with no points)."""
    for value, name, color in (
            (target, _("Target {value} %").format(value=f"{target:g}"), GREEN),
            (warning, _("Action < {value} %").format(value=f"{warning:g}"), RED)):
        line = dict(color=color, dash="dash", width=1.5)
        if axis == "x":
            fig.add_vline(x=value, line=line, opacity=0.9)
        else:
            fig.add_hline(y=value, line=line, opacity=0.9)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name, line=line,
                                 legendgroup=THRESHOLD_GROUP, hoverinfo="skip"))


def score_bars(df: pd.DataFrame, *, level: str, title: str, axis_title: str,
               target: float, warning: float) -> go.Figure:
    """Horizontal bars of ``df.score_pct`` per ``df.label``, in the frame's order from the
    top (``dashboards.scores``: worst first), coloured by ``df.band``. A row where nothing
    applies shows "n/a" at 0. ``customdata``: ``[level, code, applicable, failing]``."""
    fig = go.Figure()
    df = df.copy()
    if is_chinese():
        df["label"] = [D.score_label(level, c, t) for c, t in
                       zip(df["code"], df["title"] if "title" in df else df["label"])]
    labels = df["label"].tolist()
    hover = ("%{y}<br>" + _("Score: %{text}") + "<br>" +
             _("%{customdata[3]:,} failing of %{customdata[2]:,} applicable") +
             "<extra></extra>")
    for b in BANDS:
        part = df[df["band"] == b]
        if part.empty:
            continue
        none = b == "none"
        fig.add_trace(go.Bar(
            x=[0.0 if none else float(v) for v in part["score_pct"]], y=part["label"].tolist(),
            orientation="h", name=D.band_label(b), marker_color=BAND_COLORS[b],
            customdata=[[level, c, int(a), int(f)] for c, a, f in
                        zip(part["code"], part["applicable"], part["failing"])],
            text=[_("n/a") if none else percent(v / 100) for v in part["score_pct"]],
            textposition="outside" if none else "auto", cliponaxis=False,
            hovertemplate=hover))
    fig.update_yaxes(title_text=axis_title, type="category", categoryorder="array",
                     categoryarray=labels, autorange="reversed", automargin=True)
    fig.update_xaxes(title_text=_("Score (%)"), range=[0, 104], ticksuffix=" %")
    _threshold_lines(fig, target=target, warning=warning, axis="x")
    return _layout(fig, title, height=170 + 34 * max(len(labels), 3), legend=True,
                   empty=df.empty)


def score_trend(df: pd.DataFrame, *, target: float, warning: float) -> go.Figure:
    """The overall score and each article's over time, one line per ``df.series`` (from
    ``dashboards.trend``); the as-of day's point is this evaluation (``live``)."""
    fig = go.Figure()
    article_colors = iter(SERIES_COLORS * 4)
    zh = is_chinese()
    for code, part in df.groupby("series", sort=False):
        overall = code == "overall"
        name = part["label"].iloc[0]
        if zh:
            name = _("Overall") if overall else D.score_label("trend", code)
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(part["day"]).tolist(), y=part["score_pct"].astype(float).tolist(),
            name=name, mode="lines+markers",
            line=dict(width=3.5 if overall else 1.5, dash=None if overall else "dot",
                      color=BLUE if overall else next(article_colors)),
            marker=dict(size=[10 if live else 6 for live in part["live"]]),
            customdata=[["overall" if overall else "article", code, "now" if live else
                         "snapshot"] for live in part["live"]],
            text=[_("now") if live else _("snapshot") for live in part["live"]],
            hovertemplate="%{x|%Y-%m-%d}<br>" + name +
                          ": %{y:.1f} %<br>%{text}<extra></extra>"))
    days = pd.to_datetime(df["day"]) if not df.empty else pd.Series([], dtype="datetime64[ns]")
    span = (days.max() - days.min()).days if len(days) else 0
    xaxis: dict[str, Any] = dict(title_text=None, tickformat="%m月%d日" if zh else "%b %d",
                                 tickangle=0)
    if len(days) and span <= 14:
        xaxis.update(dtick=86_400_000 * (1 if span <= 7 else 2),
                     range=[days.min() - pd.Timedelta(days=max(1, 7 - span)),
                            days.max() + pd.Timedelta(days=0.5)])
    fig.update_xaxes(**xaxis)
    low = min([warning - 5, *df["score_pct"].astype(float).tolist()])
    fig.update_yaxes(title_text=_("Score (%)"), ticksuffix=" %", range=[max(0, low - 2), 101])
    _threshold_lines(fig, target=target, warning=warning, axis="y")
    _layout(fig, _("Compliance score over time"), height=440, legend=True, empty=df.empty)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def findings_by_plan(df: pd.DataFrame, *, code: str, title: str, axis_title: str,
                     chart: str) -> go.Figure:
    """Open findings per ``df.label`` (horizontal, in the frame's order from the top),
    stacked by plan state (unplanned, plan overdue, planned), from
    ``dashboards.findings_breakdown``. The total is written at the end of each bar.
    ``customdata``: ``[chart, code, plan_state, title]`` (``chart``: rule or severity;
    ``title`` is ``df.title`` when the frame has one, else the label: shown on hover)."""
    fig = go.Figure()
    df = df.copy()
    if is_chinese():
        if chart == "severity":
            df["label"] = [D.severity_label(c) for c in df[code]]
        elif "title" in df:
            df["title"] = [D.rule_title(c, t) for c, t in zip(df[code], df["title"])]
    labels = list(dict.fromkeys(df["label"].tolist()))
    for state in PLAN_STATES:
        part = df[df["plan_state"] == state]
        if part.empty:
            continue
        name = D.plan_label(state)
        fig.add_trace(go.Bar(
            x=part["findings"].astype(int).tolist(), y=part["label"].tolist(), orientation="h",
            name=name, marker_color=PLAN_COLORS[state],
            customdata=[[chart, c, state, h] for c, h in
                        zip(part[code], part["title"] if "title" in part else part["label"])],
            hovertemplate=f"%{{y}}<br>%{{customdata[3]}}<br>{name}: "
                          f"%{{x:,}}<extra></extra>"))
    totals = df.groupby("label", sort=False)["findings"].sum()
    if labels:      # each bar's total written at its end (one text trace: no legend entry)
        fig.add_trace(go.Scatter(
            x=[int(totals[lab]) for lab in labels], y=labels, mode="text",
            text=[f"  {int(totals[lab]):,}" for lab in labels], textposition="middle right",
            showlegend=False, hoverinfo="skip", legendgroup=TOTALS_GROUP, name=_("Total"),
            cliponaxis=False))
    fig.update_yaxes(title_text=axis_title, type="category", categoryorder="array",
                     categoryarray=labels, autorange="reversed", automargin=True)
    top = int(totals.max()) if len(totals) else 0
    fig.update_xaxes(title_text=_("Open findings"), tickformat=",d", rangemode="tozero",
                     range=[0, top * 1.15 + 1])
    return _layout(fig, title, height=170 + 30 * max(len(labels), 3), legend=True,
                   empty=df.empty, barmode="stack")


def due_bars(df: pd.DataFrame) -> go.Figure:
    """What falls due per group, one bar per window (``dashboards.due_groups``: within
    ``due_urgent_days`` and within ``due_soon_days``). ``customdata``:
    ``["due", group, horizon, rules as JSON]``."""
    fig = go.Figure()
    df = df.copy()
    if is_chinese():
        df["label"] = [D.due_group_label(g) for g in df["group"]]
        df["window"] = [D.window_label(h) for h in df["horizon"]]
    labels = list(dict.fromkeys(df["label"].tolist()))
    for i, (window, part) in enumerate(df.groupby("window", sort=False)):
        fig.add_trace(go.Bar(
            x=part["due"].astype(int).tolist(), y=part["label"].tolist(), orientation="h",
            name=window, marker_color=WINDOW_COLORS[i % len(WINDOW_COLORS)],
            text=[f"{int(n):,}" for n in part["due"]], textposition="outside",
            cliponaxis=False,
            customdata=[["due", g, int(h), json.dumps(list(r))] for g, h, r in
                        zip(part["group"], part["horizon"], part["rules"])],
            hovertemplate=f"%{{y}}<br>{window}: %{{x:,}}<extra></extra>"))
    fig.update_yaxes(title_text=_("Deadline"), type="category", categoryorder="array",
                     categoryarray=labels, autorange="reversed", automargin=True)
    top = int(df["due"].max()) if not df.empty else 0
    fig.update_xaxes(title_text=_("Items falling due (not late yet)"), tickformat=",d",
                     range=[0, top * 1.2 + 1])
    return _layout(fig, _("What falls due"), height=170 + 48 * max(len(labels), 3),
                   legend=True, empty=df.empty or top == 0, barmode="group")


def incidents_by_grade(df: pd.DataFrame) -> go.Figure:
    """Incidents per grade (most serious first), stacked by status
    (``dashboards.incident_breakdown``). ``customdata``: ``["incident", grade, status]``."""
    fig = go.Figure()
    grades = list(dict.fromkeys(df["grade"].tolist()))
    labels = [_grade(g) for g in grades]
    for status in dict.fromkeys(["open", "contained", "resolved", "closed",
                                 *df["status"].tolist()]):
        part = df[df["status"] == status]
        if part.empty:
            continue
        name = label("incident_status", status)
        fig.add_trace(go.Bar(
            x=[_grade(g) for g in part["grade"]],
            y=part["incidents"].astype(int).tolist(), name=name,
            marker_color=STATUS_COLORS.get(status, GREY),
            customdata=[["incident", g, status] for g in part["grade"]],
            hovertemplate=f"%{{x}}<br>{name}: %{{y:,}}<extra></extra>"))
    fig.update_xaxes(title_text=_("Grade (national emergency plan)"), type="category",
                     categoryorder="array", categoryarray=labels)
    tallest = df.groupby("grade")["incidents"].sum().max() if not df.empty else 0
    fig.update_yaxes(title_text=_("Incidents"), tickformat=",d", rangemode="tozero",
                     **({"dtick": 1} if tallest <= 5 else {}))
    return _layout(fig, _("Incidents by grade and status"), height=400, legend=True,
                   empty=df.empty, barmode="stack")


def _grade(code: Any) -> str:
    """A grade in words: the Incidents page's English words, the statutory term in
    Chinese (特别重大 / 重大 / 较大 / 一般)."""
    return label("grade", code) if is_chinese() else GRADE_LABELS.get(code, code)


def points(fig: go.Figure) -> list[tuple[str, Any, Any]]:
    """``(trace name, category, value)`` for every bar or point: what a test compares with
    the frame the figure was drawn from."""
    out = []
    for trace in fig.data:
        if trace.legendgroup in (THRESHOLD_GROUP, TOTALS_GROUP):
            continue
        horizontal = getattr(trace, "orientation", None) == "h"
        cats = trace.y if horizontal else trace.x
        vals = trace.x if horizontal else trace.y
        out += [(trace.name, c, v) for c, v in zip(cats, vals)]
    return out


def selected_custom(event: Any) -> list[list[Any]]:
    """The ``customdata`` of the points selected in an ``st.plotly_chart`` event."""
    try:
        pts = event["selection"]["points"]
    except (KeyError, TypeError):
        try:
            pts = event.selection.points
        except AttributeError:
            return []
    out = []
    for p in pts or ():
        custom = p.get("customdata") if isinstance(p, Mapping) else None
        if custom:
            out.append(list(custom))
    return out

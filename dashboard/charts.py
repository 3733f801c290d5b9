"""Charts: pure functions DataFrame -> ``plotly.graph_objects.Figure``, tested without Streamlit.

Each builder takes the frame a ``dashboard.queries`` function returned and draws it as
is (no aggregation here): the figure's data equals the frame, codes shown as labels in
the page's locale (``queries.label``), titles and axes through ``_()``. Every figure has a title and labelled axes, uses plotly's
default template (no forced background, so pages render it with
``st.plotly_chart(fig, theme="streamlit")`` in light and dark themes), and carries the
codes of each bar in ``customdata`` so a page can turn a click into a filter.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .queries import AGREEMENT_STATES, RETENTION_STATES, REVIEW_STATES, label
from . import registers as R
from .i18n import N_, _

# Colours with meaning, readable on white and on Streamlit's dark background.
BLUE, GREEN, AMBER, RED, PURPLE, GREY = (
    "#4C78A8", "#54A24B", "#F2A93B", "#E45756", "#9D7AC7", "#8C8C8C")
COLORS: dict[str, dict[str, str]] = {
    "retention_status": {"active": BLUE, "due": AMBER, "overdue": RED, "on_hold": PURPLE,
                         "deleted": GREY},
    "processor_status": {"active": BLUE, "suspended": AMBER, "offboarded": GREY},
    "sharing_status": {"active": BLUE, "ended": GREY},
    "agreement": {"valid": GREEN, "expiring": AMBER, "expired": RED, "none": GREY},
    "review_state": {"passed": RED, "ahead": BLUE, "none": AMBER},
}
ORDERS: dict[str, Sequence[str]] = {
    "retention_status": RETENTION_STATES,
    "processor_status": R.PROCESSOR_STATUSES,
    "sharing_status": R.SHARING_STATUSES,
    "agreement": AGREEMENT_STATES,
    "review_state": REVIEW_STATES,
}
EMPTY_TEXT = N_("Nothing matches the filters")


def chart_text(value: str) -> str:
    """A label for plotly as plain text. Plotly draws a subset of HTML in every text it
    shows (tick labels, legend, hover): ``<a href=...>`` becomes a live link, ``<b>`` bold.
    Labels can come from files (a source system's name), so ``&``, ``<`` and ``>`` become
    entities, which plotly shows as the characters themselves."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def stacked_bars(df: pd.DataFrame, *, category: str, value: str, title: str,
                 category_title: str, value_title: str, category_family: str,
                 stack: str | None = None, stack_family: str | None = None,
                 horizontal: bool = True, category_order: Sequence[str] | None = None,
                 legend: bool | None = None) -> go.Figure:
    """Bars of ``df[value]`` per ``df[category]``, one trace per ``df[stack]`` value.

    Categories keep the frame's order unless ``category_order`` (codes) is given; stack
    values follow their family's canonical order. ``customdata`` holds
    ``[category code, stack code]`` for each bar.
    """
    fig = go.Figure()
    cat_codes = list(dict.fromkeys(df[category].tolist()))
    if category_order is not None:
        cat_codes = [c for c in category_order if c in cat_codes] + \
                    [c for c in cat_codes if c not in category_order]
    cat_labels = [chart_text(label(category_family, c)) for c in cat_codes]
    groups: list[tuple[str | None, pd.DataFrame]]
    if stack is None:
        groups = [(None, df)]
    else:
        present = list(dict.fromkeys(df[stack].tolist()))
        order = ORDERS.get(stack_family or "", ())
        codes = [s for s in order if s in present] + [s for s in present if s not in order]
        groups = [(s, df[df[stack] == s]) for s in codes]
    colors = COLORS.get(stack_family or "", {})
    for code, part in groups:
        labels = [chart_text(label(category_family, c)) for c in part[category]]
        counts = part[value].tolist()
        name = chart_text(label(stack_family or "", code) if code is not None else value_title)
        custom = [[c, code] for c in part[category]]
        bar = dict(name=name, customdata=custom, marker_color=colors.get(code) if code else None,
                   hovertemplate=f"%{{{'y' if horizontal else 'x'}}}<br>{name}: "
                                 f"%{{{'x' if horizontal else 'y'}:,}}<extra></extra>")
        if horizontal:
            fig.add_trace(go.Bar(x=counts, y=labels, orientation="h", **bar))
        else:
            fig.add_trace(go.Bar(x=labels, y=counts, **bar))
    cat_axis = dict(title=category_title, categoryorder="array", categoryarray=cat_labels,
                    type="category")
    tallest = {}
    for c, n in zip(df[category], df[value]):
        tallest[c] = tallest.get(c, 0) + n
    val_axis = dict(title=value_title, rangemode="tozero", tickformat=",d",
                    **_count_ticks(max(tallest.values(), default=0)))
    if horizontal:
        cat_axis["autorange"] = "reversed"   # the first (largest) category on top
        fig.update_layout(yaxis=cat_axis, xaxis=val_axis)
    else:
        fig.update_layout(xaxis=cat_axis, yaxis=val_axis)
    height = 180 + 28 * max(len(cat_codes), 3) if horizontal else 420
    _finish(fig, title, empty=df.empty, height=height,
            legend=stack is not None if legend is None else legend)
    return fig


def monthly_bars(df: pd.DataFrame, *, month: str, value: str, title: str, value_title: str,
                 stack: str | None = None, stack_family: str | None = None,
                 cumulative: str | None = None, cumulative_title: str = "") -> go.Figure:
    """Bars of ``df[value]`` per calendar month (optionally stacked), plus an optional
    running-total line on a second axis. ``customdata`` holds ``[month ISO, stack code]``."""
    fig = make_subplots(specs=[[{"secondary_y": cumulative is not None}]])
    months = pd.to_datetime(df[month]) if not df.empty else pd.Series([], dtype="datetime64[ns]")
    groups: list[tuple[str | None, pd.Index]]
    if stack is None:
        groups = [(None, df.index)]
    else:
        present = list(dict.fromkeys(df[stack].tolist()))
        order = ORDERS.get(stack_family or "", ())
        codes = [s for s in order if s in present] + [s for s in present if s not in order]
        groups = [(s, df.index[df[stack] == s]) for s in codes]
    colors = COLORS.get(stack_family or "", {})
    for code, idx in groups:
        name = chart_text(label(stack_family or "", code) if code is not None else value_title)
        x = months.loc[idx] if not df.empty else months
        fig.add_trace(go.Bar(
            x=x, y=df.loc[idx, value].tolist(), name=name,
            marker_color=colors.get(code) if code else BLUE,
            customdata=[[m.date().isoformat(), code] for m in x],
            hovertemplate=f"%{{x|%Y-%m}}<br>{name}: %{{y:,}}<extra></extra>"),
            secondary_y=False)
    if cumulative is not None:
        fig.add_trace(go.Scatter(
            x=months, y=df[cumulative].tolist(), name=cumulative_title, mode="lines+markers",
            line=dict(color=RED), hovertemplate=f"%{{x|%Y-%m}}<br>{cumulative_title}: "
                                                f"%{{y:,}}<extra></extra>"),
            secondary_y=True)
        fig.update_yaxes(title_text=cumulative_title, rangemode="tozero", tickformat=",d",
                         showgrid=False, secondary_y=True)
    span = 0
    if not df.empty:
        first, last = months.min(), months.max()
        span = (last.year - first.year) * 12 + last.month - first.month
    fig.update_xaxes(title_text=_("Month"), tickformat="%Y-%m",
                     dtick="M1" if span <= 12 else "M3" if span <= 36 else None)
    tallest: dict = {}
    for m, n in zip(df[month], df[value]):
        tallest[m] = tallest.get(m, 0) + n
    fig.update_yaxes(title_text=value_title, rangemode="tozero", tickformat=",d",
                     secondary_y=False, **_count_ticks(max(tallest.values(), default=0)))
    _finish(fig, title, empty=df.empty, height=420,
            legend=stack is not None or cumulative is not None)
    return fig


def _count_ticks(top: float) -> dict:
    """Whole-number ticks on a count axis: plotly would put 0.5 steps under a small top."""
    if top <= 5:
        return {"tick0": 0, "dtick": 1}
    if top <= 10:
        return {"tick0": 0, "dtick": 2}
    return {}


def _finish(fig: go.Figure, title: str, *, empty: bool, height: int, legend: bool) -> None:
    # The title at the top of the figure, the legend in a band of its own below it.
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", y=1, yanchor="top", yref="container",
                   pad=dict(t=8)),
        barmode="stack", height=height, showlegend=legend,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0,
                    traceorder="normal"),
        margin=dict(l=10, r=10, t=100 if legend else 50, b=10),
    )
    if empty:
        fig.add_annotation(text=_(EMPTY_TEXT), showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5, font=dict(size=14))


# -- processors ------------------------------------------------------------------------
def processors_by_region(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(processor_breakdown(...), "region")`` — value, status, processors."""
    return stacked_bars(df, category="value", value="processors", stack="status",
                        stack_family="processor_status", category_family="region",
                        title=_("Processors by storage region"), category_title=_("Storage region"),
                        value_title=_("Processors"))


def processors_by_kind(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(processor_breakdown(...), "kind")``."""
    return stacked_bars(df, category="value", value="processors", stack="status",
                        stack_family="processor_status", category_family="kind",
                        title=_("Processors by kind"), category_title=_("Kind"),
                        value_title=_("Processors"))


def processors_by_agreement(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(processor_breakdown(...), "agreement")``."""
    return stacked_bars(df, category="value", value="processors", stack="status",
                        stack_family="processor_status", category_family="agreement",
                        title=_("Processors by agreement status"), category_title=_("Agreement"),
                        value_title=_("Processors"), horizontal=False,
                        category_order=AGREEMENT_STATES)


def agreement_expiries(df: pd.DataFrame) -> go.Figure:
    """``df``: ``processor_expiries(...)`` — month, processors."""
    return monthly_bars(df, month="month", value="processors",
                        title=_("Processor agreements expiring, next 12 months"),
                        value_title=_("Agreements expiring"))


# -- sharing ---------------------------------------------------------------------------
def sharing_by_basis(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(sharing_breakdown(...), "legal_basis")`` — value, status, agreements."""
    return stacked_bars(df, category="value", value="agreements", stack="status",
                        stack_family="sharing_status", category_family="legal_basis",
                        title=_("Agreements by legal basis"), category_title=_("Legal basis"),
                        value_title=_("Agreements"))


def sharing_by_kind(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(sharing_breakdown(...), "kind")``."""
    return stacked_bars(df, category="value", value="agreements", stack="status",
                        stack_family="sharing_status", category_family="sharing_kind",
                        title=_("Agreements by kind"), category_title=_("Kind"),
                        value_title=_("Agreements"), horizontal=False,
                        category_order=R.SHARING_KINDS)


def sharing_by_consent(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(sharing_breakdown(...), "consent_code")``."""
    return stacked_bars(df, category="value", value="agreements", stack="status",
                        stack_family="sharing_status", category_family="consent",
                        title=_("Agreements by consent type"), category_title=_("Consent"),
                        value_title=_("Agreements"), horizontal=False,
                        category_order=R.CONSENT_TYPES)


# -- retention -------------------------------------------------------------------------
def retention_by_status(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(retention_summary(...)["breakdown"], "status")``: value, status,
    records."""
    return stacked_bars(df, category="value", value="records", stack="status",
                        stack_family="retention_status", category_family="retention_status",
                        title=_("Records by retention status"), category_title=_("Status"),
                        value_title=_("Records"), horizontal=False,
                        category_order=RETENTION_STATES, legend=False)


def retention_by_category(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(retention_summary(...)["breakdown"], "category")``."""
    return stacked_bars(df, category="value", value="records", stack="status",
                        stack_family="retention_status", category_family="category",
                        title=_("Records by data category"), category_title=_("Data category"),
                        value_title=_("Records"))


def retention_by_system(df: pd.DataFrame) -> go.Figure:
    """``df``: ``pick(retention_summary(...)["breakdown"], "system")``."""
    return stacked_bars(df, category="value", value="records", stack="status",
                        stack_family="retention_status", category_family="system",
                        title=_("Records by source system"), category_title=_("System"),
                        value_title=_("Records"))


def overdue_over_time(df: pd.DataFrame) -> go.Figure:
    """``df``: ``retention_summary(...)["overdue_trend"]`` — month, records, cumulative."""
    return monthly_bars(df, month="month", value="records",
                        title=_("Overdue records by due month"),
                        value_title=_("Overdue records"), cumulative="cumulative",
                        cumulative_title=_("Overdue backlog (running total)"))


def holds_by_reason(df: pd.DataFrame) -> go.Figure:
    """``df``: ``retention_holds(...)["by_reason"]`` — hold_reason, review_state, records."""
    return stacked_bars(df, category="hold_reason", value="records", stack="review_state",
                        stack_family="review_state", category_family="hold_reason",
                        title=_("Records on hold by reason (policy 6.2)"),
                        category_title=_("Hold reason"), value_title=_("Records on hold"),
                        category_order=R.HOLD_REASONS)


def holds_by_review_month(df: pd.DataFrame) -> go.Figure:
    """``df``: ``retention_holds(...)["by_review_month"]`` — month, review_state, records."""
    return monthly_bars(df, month="month", value="records", stack="review_state",
                        stack_family="review_state",
                        title=_("Records on hold by review month"),
                        value_title=_("Records on hold"))


def figure_points(fig: go.Figure) -> list[tuple[str, object, object]]:
    """``(trace name, category, value)`` for every bar: what a test compares to the frame."""
    points = []
    for trace in fig.data:
        if trace.type != "bar":
            continue
        horizontal = trace.orientation == "h"
        cats = trace.y if horizontal else trace.x
        vals = trace.x if horizontal else trace.y
        points += [(trace.name, c, v) for c, v in zip(cats, vals)]
    return points


def selection_codes(points: Sequence[Mapping]) -> list[tuple[str | None, str | None]]:
    """The ``[category, stack]`` codes of the bars a user selected in ``st.plotly_chart``."""
    out = []
    for p in points or ():
        custom = p.get("customdata") if isinstance(p, Mapping) else None
        if custom:
            out.append((custom[0], custom[1] if len(custom) > 1 else None))
    return out

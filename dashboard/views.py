"""Streamlit glue for the register, policy and settings pages: filters bound to the URL,
KPIs, charts, paged tables, and the policy's clauses.

The filter widgets are built from the declarations in ``dashboard.queries``
(``PROCESSOR_FILTERS`` ...) and bound to the URL (``bind="query-params"``): the query
string always holds the view, so a DPO can send a colleague the exact view, and a
link such as ``/retention?status=Overdue&category=Location`` opens it (values are
the labels the widgets show). Nothing here holds SQL.
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from . import navigation as nav
from . import queries as Q
from .access import Actor
from .charts import selection_codes
from .i18n import N_, _, fmt_number, is_chinese, ngettext, page_title
from .navigation import PAGE_BY_KEY
from . import registers as R
from .registers import Register

DATE_MIN = dt.date(1990, 1, 1)
DATE_MAX = dt.date(2100, 12, 31)
PAGE_SIZE = 100


# -- filters ---------------------------------------------------------------------------
def filter_sidebar(specs: Sequence[Q.Filter], options: Mapping[str, Sequence[str]]
                   ) -> dict[str, Any]:
    """One widget per filter in the sidebar, each bound to its URL query parameter.

    Returns the JSON-able ``filters`` the queries take: lists of codes, a search
    string, ``[from, to]`` ISO dates.
    """
    values: dict[str, Any] = {}
    with st.sidebar:
        st.subheader(_("Filters"), anchor=False)
        for f in specs:
            help_text = _(f.help) or None
            if f.kind in (Q.CHOICE, Q.CONTAINS_ANY):
                choices = list(f.options) or list(options.get(f.key, ()))
                chosen = st.multiselect(
                    _(f.label), choices, key=f.key, bind="query-params", placeholder=_("All"),
                    format_func=partial(Q.label, f.label_family), help=help_text)
                values[f.key] = sorted(chosen)
            elif f.kind == Q.TEXT:
                values[f.key] = st.text_input(
                    _(f.label), key=f.key, bind="query-params", help=help_text,
                    placeholder=_("Type and press Enter")).strip()
            elif f.kind == Q.DATES:
                picked = st.date_input(
                    _(f.label), value=[], key=f.key, bind="query-params", min_value=DATE_MIN,
                    max_value=DATE_MAX, format="YYYY-MM-DD", help=help_text)
                values[f.key] = _date_range(picked)
        st.button(_("Clear filters"), icon=":material/filter_alt_off:", on_click=clear_filters,
                  args=(tuple(specs),), disabled=Q.active_filters(values) == 0,
                  width="stretch")
    return values


def _date_range(picked: Any) -> list[str | None]:
    if not picked:
        return []
    if isinstance(picked, dt.date):
        picked = (picked,)
    picked = list(picked) + [None, None]
    lo, hi = picked[0], picked[1]
    return [lo.isoformat() if lo else None, hi.isoformat() if hi else None]


def clear_filters(specs: Sequence[Q.Filter]) -> None:
    for f in specs:
        st.session_state[f.key] = {Q.TEXT: "", Q.DATES: ()}.get(f.kind, [])


def selection_filters(points: Sequence[Mapping], drill: Sequence[str | None],
                      specs: Sequence[Q.Filter]) -> dict[str, Any]:
    """The widget values a chart selection asks for: ``drill`` names the filter that
    each ``customdata`` position sets (``None`` to ignore it). A month sets a date
    filter to that calendar month. Pure, so tested without Streamlit."""
    by_key = {f.key: f for f in specs}
    out: dict[str, Any] = {}
    for codes in selection_codes(points):
        for key, code in zip(drill, codes):
            if key is None or code is None:
                continue
            spec = by_key[key]
            if spec.kind == Q.DATES:
                first = dt.date.fromisoformat(str(code)[:10]).replace(day=1)
                last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
                out[key] = (first, last)
            else:
                out.setdefault(key, [])
                if code not in out[key]:
                    out[key].append(code)
    return out


def _apply_selection(chart_key: str, drill: Sequence[str | None],
                     specs: Sequence[Q.Filter], fixed: Mapping[str, Any]) -> None:
    state = st.session_state.get(chart_key)
    try:
        points = state["selection"]["points"]
    except (KeyError, TypeError):
        points = []
    chosen = selection_filters(points, drill, specs)
    if chosen:
        for key, value in {**chosen, **fixed}.items():
            st.session_state[key] = value
        st.session_state["page"] = 1


# -- rendering -------------------------------------------------------------------------
def policy_links(clauses: Sequence[tuple[str, str]]) -> None:
    """Links to the Policy page opened on each clause."""
    with st.container(horizontal=True, gap="small"):
        for clause, what in clauses:
            st.page_link(nav.script("policy"),
                         label=_("Policy {clause} · {what}").format(clause=clause, what=_(what)),
                         icon=":material/policy:", query_params={"clause": clause})


def kpi_row(items: Sequence[tuple[str, int, str]]) -> None:
    """``(label, count, help)`` metrics side by side, counts with thousands separators."""
    for col, (text, value, help_text) in zip(st.columns(len(items)), items):
        shown, exact = count_text(value)
        col.metric(text, shown, help=f"{help_text} {exact}" if exact else help_text,
                   border=True)


def count_text(value: int) -> tuple[str, str]:
    """A count for a KPI card: ``12,345``, or ``6.8 M`` (with the exact figure for the
    tooltip) when it would not fit the card."""
    value = int(value)
    if abs(value) < 1_000_000:
        return fmt_number(value), ""
    exact = _("Exactly {count}.").format(count=fmt_number(value))
    if is_chinese():        # 万 and 亿, as Chinese counts large numbers
        if abs(value) < 100_000_000:
            return f"{fmt_number(value / 10_000, decimals=0)}万", exact
        return f"{fmt_number(value / 100_000_000, decimals=1)}亿", exact
    return f"{value / 1_000_000:,.1f} M", exact


def chart(fig: go.Figure, caption: str, *, key: str, specs: Sequence[Q.Filter] = (),
          drill: Sequence[str | None] = (), fixed: Mapping[str, Any] | None = None) -> None:
    """A Plotly chart in the app's theme with its caption; clicking a bar applies the
    filters ``drill`` names (see ``selection_filters``)."""
    if drill:
        st.plotly_chart(fig, theme="streamlit", key=key, on_select=partial(
            _apply_selection, key, tuple(drill), tuple(specs), dict(fixed or {})),
            selection_mode="points", config={"displaylogo": False})
        caption += ("" if is_chinese() else " ") + _("Click a bar to filter the page to it.")
    else:
        st.plotly_chart(fig, theme="streamlit", key=key, config={"displaylogo": False})
    st.caption(caption)


# How a register page counts its rows: ``noun`` is one of these keys (English words).
NOUN_COUNT = {
    "processors": N_("**{total}** processors"), "agreements": N_("**{total}** agreements"),
    "records": N_("**{total}** records"), "rows": N_("**{total}** rows"),
}
NOUN_NONE = {
    "processors": N_("No processors match the filters."),
    "agreements": N_("No agreements match the filters."),
    "records": N_("No records match the filters."),
    "rows": N_("No rows match the filters."),
}
NOUN_RANGE = {
    "processors": N_("Processors {first}–{last} of {total}, sorted by {sort}."),
    "agreements": N_("Agreements {first}–{last} of {total}, sorted by {sort}."),
    "records": N_("Records {first}–{last} of {total}, sorted by {sort}."),
    "rows": N_("Rows {first}–{last} of {total}, sorted by {sort}."),
}


def filter_summary(total: int, noun: str, filters: Mapping[str, Any]) -> str:
    """``**1,022** processors match 2 filters.`` in this run's locale; ``noun`` is a key of
    ``NOUN_COUNT``."""
    n = Q.active_filters(filters)
    shown = _(NOUN_COUNT.get(noun, NOUN_COUNT["rows"])).format(total=fmt_number(total))
    if n:
        return ngettext("{shown} match {n} filter.", "{shown} match {n} filters.", n).format(
            shown=shown, n=n)
    return _("{shown}, no filter set.").format(shown=shown)


def paged_table(fetch: Callable[..., pd.DataFrame], *, total: int, register: Register,
                sorts: Mapping[str, tuple[str, str]], families: Mapping[str, str],
                filters: Mapping[str, Any], extra_columns: Mapping[str, Any] | None = None,
                noun: str = "rows") -> None:
    """A bounded page of rows (``fetch(sort=, limit=, offset=)``), a sort choice and a
    pager, both bound to the URL; enum codes shown as labels, dates as YYYY-MM-DD.
    Changing the filters or the sort goes back to the first page."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        sort = st.selectbox(_("Sort by"), list(sorts), key="sort", bind="query-params",
                            format_func=lambda s: _(sorts[s][0]), width=280)
    seen_key = f"_table_view_{register.name}"
    view = json.dumps({"filters": filters, "sort": sort}, sort_keys=True, default=str)
    if st.session_state.get(seen_key, view) != view:
        st.session_state["page"] = 1
    st.session_state[seen_key] = view
    slot = st.container()
    pages = Q.page_count(total, PAGE_SIZE)
    with st.container(horizontal=True, horizontal_alignment="right"):
        page = st.pagination(pages, key="page", bind="query-params") if pages > 1 else 1
    offset = (page - 1) * PAGE_SIZE
    df = fetch(sort=sort, limit=PAGE_SIZE, offset=offset)
    with slot:
        if total == 0:
            st.info(_(NOUN_NONE.get(noun, NOUN_NONE["rows"])), icon=":material/filter_alt:")
            return
        shown = Q.labelled(df, families)
        config = _column_config(shown, register, extra_columns or {})
        st.dataframe(shown, hide_index=True, column_config=config,
                     column_order=list(shown.columns), height=min(36 + 35 * len(shown), 640))
        st.caption(_(NOUN_RANGE.get(noun, NOUN_RANGE["rows"])).format(
            first=fmt_number(offset + 1), last=fmt_number(offset + len(df)),
            total=fmt_number(total), sort=_(sorts[sort][0]).lower()))


def register_words(df: pd.DataFrame, register: Register) -> pd.DataFrame:
    """A copy of a (bounded) page of a register's rows for display: every coded column
    (``registers.LABEL_KINDS``) in words in this run's locale, lists included."""
    from .i18n import label_frame
    from .reference import category_label
    kinds = R.LABEL_KINDS.get(register.name, {})
    out = label_frame(df, {c: k for c, k in kinds.items() if k != "category"})
    for column in [c for c, k in kinds.items() if k == "category" and c in out.columns]:
        out[column] = [
            [category_label(x) for x in v] if Q._is_list(v)
            else (None if Q._is_null(v) else category_label(v)) for v in out[column]]
    return out

def _column_config(df: pd.DataFrame, register: Register, extra: Mapping[str, Any]
                   ) -> dict[str, Any]:
    from .ui import format_columns
    config = format_columns(df, register)
    config.update({k: v for k, v in extra.items() if k in df.columns})
    return translated_config(config)


def translated_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A ``column_config`` with its headings and help texts in this run's locale (the
    headings are the English ``N_``-marked words of ``registers``; translating twice is
    harmless)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            value = dict(value)
            for field_name in ("label", "help"):
                if isinstance(value.get(field_name), str):
                    value[field_name] = _(value[field_name])
        elif isinstance(value, str):
            value = _(value)
        out[key] = value
    return out


# -- policy ----------------------------------------------------------------------------
SEVERITY_COLORS = {"high": "red", "medium": "orange", "low": "blue"}
# The register pages that show what a clause governs.
CLAUSE_PAGES = {
    "5": ("sharing",), "5.1": ("sharing",), "5.1.1": ("sharing",), "5.1.2": ("sharing",),
    "5.1.3": ("sharing",), "5.1.4": ("processors", "sharing"), "5.2": ("sharing",),
    "5.2.1": ("sharing",), "5.3": ("sharing",), "5.3.1": ("sharing", "processors"),
    "5.3.2": ("sharing",), "5.3.3": ("sharing",), "6": ("retention",),
    "6.1": ("processors", "sharing", "retention"), "6.2": ("retention",),
    "7.2": ("incidents",),
}


def anchor(clause: str) -> str:
    """The HTML anchor of a clause: ``5.1.4`` -> ``clause-5-1-4``."""
    return "clause-" + str(clause).replace(".", "-")


def clause_markdown(row: Any, *, number: bool = True) -> str:
    """A clause's text as Markdown: its number in bold, bullets as a list, paragraphs kept.

    The text comes from a file: Markdown and HTML characters in it are escaped, and it is
    rendered without HTML (articles carry their anchors as headers; a clause is opened with
    ``?clause=``).
    """
    body = str(row.body)
    prefix = f"{row.clause} "
    if body.startswith(prefix):
        body = body[len(prefix):]
    paragraphs = []
    for para in body.split("\n\n"):
        para = _escape(para.strip())
        if para.startswith("•"):
            para = "- " + para.lstrip("• ").strip()
        paragraphs.append(para)
    text = "\n\n".join(p for p in paragraphs if p)
    if number:
        text = f"**{row.clause}** {text}"
    return text


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|~$])", r"\\\1", text)


def article_line(row: Any, by_number: Mapping[str, Any]) -> str:
    article = by_number.get(row.article)
    parts = [_("Article {number}. {title}").format(number=row.article, title=article.title)
             if article is not None else ""]
    parent = by_number.get(row.parent) if row.parent and row.parent != row.article else None
    if parent is not None:
        parts.append(f"{parent.clause} {parent.title}")
    return " › ".join(p for p in parts if p)


def rules() -> dict[str, list[dict[str, str]]] | None:
    """The rules per clause, or ``None`` while the rule engine is not installed."""
    try:
        import importlib
        importlib.import_module("dashboard.engine")
    except ModuleNotFoundError as exc:
        if exc.name == "dashboard.engine":
            return None
        raise
    return Q.rules_by_clause()


def rule_badges(clause: str, by_clause: Mapping[str, list[dict[str, str]]] | None) -> None:
    found = (by_clause or {}).get(clause, [])
    if found:
        st.markdown(_("Tested by {rules}").format(rules=" ".join(
            f":{SEVERITY_COLORS.get(r['severity'], 'gray')}-badge[{r['rule_id']}]"
            for r in found)), help=_("The compliance rules that check this clause, coloured "
                                     "by severity (red high, orange medium, blue low)."))


def rules_block(clause: str, by_clause: Mapping[str, list[dict[str, str]]] | None) -> None:
    if by_clause is None:
        st.caption(_("The compliance rules that test each clause appear here once the rule "
                     "engine is installed."))
        return
    found = by_clause.get(clause, [])
    if not found:
        st.caption(_("No compliance rule tests this clause directly."))
        return
    from .i18n import label_frame
    st.markdown(_("**Compliance rules that test this clause**"))
    table = label_frame(pd.DataFrame(found)[["rule_id", "severity", "title"]],
                        {"severity": "severity"})
    st.dataframe(table, hide_index=True,
                 column_config={"rule_id": st.column_config.TextColumn(_("Rule")),
                                "severity": st.column_config.TextColumn(_("Severity")),
                                "title": st.column_config.TextColumn(_("What it checks"))})


def related_pages(clause: str, actor: Actor, root: Path) -> None:
    """Links to the pages that show what the clause governs, when the user may open them."""
    keys = CLAUSE_PAGES.get(clause) or CLAUSE_PAGES.get(clause.rsplit(".", 1)[0], ())
    specs = [PAGE_BY_KEY[k] for k in keys
             if actor.role in PAGE_BY_KEY[k].roles and (root / PAGE_BY_KEY[k].path).exists()]
    if specs:
        with st.container(horizontal=True, gap="small"):
            for spec in specs:
                st.page_link(spec.script, label=page_title(spec.title), icon=spec.icon)


def clear_focus() -> None:
    st.session_state["policy_clause"] = None
    st.query_params.pop("clause", None)


# -- policy vs law (dashboard.policy_law) -----------------------------------------------------
def law_beyond_list(beyond: pd.DataFrame) -> None:
    """The clauses where the law asks more than the policy's text says, one bordered card
    per clause: the clause's words, then each version 2 rule under it with what the policy
    says, what the law asks, the legal source with its confidence marks, and the rule's
    latest result. A rule filed under several clauses is told in full under the first and
    named under the others. Every text from the policy or ``rules.toml`` is plain text."""
    from .ui import plain
    told: dict[str, str] = {}
    for clause, group in beyond.groupby("clause", sort=False):
        first = group.iloc[0]
        with st.container(border=True):
            title = str(first["clause_title"])
            # A heading ("5.1 Share") is shown; a clause's first words are in the excerpt.
            repeated = title and str(first["policy_text"]).startswith(title.rstrip("…"))
            st.markdown(_("**Clause {clause}**").format(clause=plain(clause)) +
                        ("" if repeated or not title else f" · {plain(title)}"))
            if first["policy_text"]:
                st.caption(_("The policy's text: “{text}”").format(
                    text=plain(first["policy_text"])))
            for row in group.itertuples(index=False):
                badge = f":{SEVERITY_COLORS.get(row.severity, 'gray')}-badge[{plain(row.rule_id)}]"
                if row.rule_id in told:
                    st.markdown(_("{badge} {title} — as under clause {clause} above.").format(
                        badge=badge, title=plain(row.rule_title),
                        clause=plain(told[row.rule_id])))
                    continue
                told[row.rule_id] = str(clause)
                result = (ngettext("**{n}** finding of {checked} checked · score **{score}**",
                                   "**{n}** findings of {checked} checked · score **{score}**",
                                   int(row.findings)).format(
                              n=fmt_number(int(row.findings)),
                              checked=fmt_number(int(row.applicable)), score=row.score_pct)
                          if not pd.isna(row.findings) else _("not evaluated"))
                st.markdown(_("{badge} **{title}**  \nLatest result: {result}").format(
                    badge=badge, title=plain(row.rule_title), result=result))
                st.markdown(_("**What the policy says.** {text}").format(
                    text=plain(row.policy_says)))
                st.markdown(_("**What the law asks.** {text}").format(text=plain(row.law_asks)))
                marks = (_(" · confidence **{confidence}**").format(
                    confidence=plain(row.confidence)) if row.confidence else "")
                st.caption(_("Legal source: {source}{marks}").format(
                    source=plain(row.legal_source), marks=marks))
                st.page_link(nav.script("findings"),
                             label=_("Findings of {rule}").format(rule=plain(row.rule_id)),
                             icon=":material/rule:", query_params={"rule": str(row.rule_id)})


def changed_rules_table(changed: pd.DataFrame) -> None:
    """The version 1 rules that version 2 changed: what changed and the latest result."""
    st.dataframe(
        changed[["rule_id", "clause", "rule_title", "v2_change", "findings", "score_pct"]],
        hide_index=True, key="policy_law_changed",
        column_config={
            "rule_id": st.column_config.TextColumn(_("Rule")),
            "clause": st.column_config.TextColumn(_("Clause")),
            "rule_title": st.column_config.TextColumn(_("What it checks"), width="medium"),
            "v2_change": st.column_config.TextColumn(_("What version 2 changed"),
                                                     width="large"),
            "findings": st.column_config.NumberColumn(_("Findings"), format="localized"),
            "score_pct": st.column_config.TextColumn(_("Score"))})

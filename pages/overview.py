"""Overview: where the Platform stands against its privacy policy, what changed since the
last snapshot, what falls due, and a click from any number to the findings behind it."""
import datetime as dt

import streamlit as st

from dashboard import charts_compliance as CC
from dashboard import dashboards as D
from dashboard import navigation as nav
from dashboard import rules as R
from dashboard import ui
from dashboard.i18n import _, fmt_date, fmt_datetime, fmt_number, is_chinese, label_frame
from dashboard.navigation import PAGE_BY_KEY

actor = ui.page_guard("overview")
store = ui.get_store()
settings = store.settings
today = store.now().date()
urgent, soon = settings.due_urgent_days, settings.due_soon_days
target, warning = settings.score_target_percent, settings.score_warning_percent

with st.sidebar:
    day = st.date_input(
        # Bound to `day`, not `as_of`: the drill-down links carry `as_of` to the Findings
        # page, and Streamlit drops (or refuses to set) a link's parameter that a widget of
        # the page being left is bound to.
        _("As of"), value=today, min_value=dt.date(2000, 1, 1), max_value=today, key="day",
        bind="query-params", format="YYYY-MM-DD",
        help=_("Today shows the registers as they are now. A past day shows what was true at "
               "the close of that day (dated facts are reconstructed; statuses are today's)."))
as_of = D.as_of_for(store, day)
live = D.is_now(as_of)
link_as_of = None if live else as_of

snapshot = D.refresh_snapshot(actor, store, as_of=as_of) if live else "past"

s = ui.cached(D.summary, as_of=as_of)
prev = ui.cached(D.previous_snapshot, as_of=as_of)
stats = ui.cached(D.finding_stats, as_of=as_of)
due = ui.cached(D.due_groups, as_of=as_of)

st.title(_("Compliance overview"), anchor=False)
if is_chinese():
    when = (fmt_datetime(s["as_of"]) if live
            else _("the close of {day}").format(day=fmt_date(dt.date.fromisoformat(as_of[:10]))))
else:
    when = (s["as_of"].strftime("%Y-%m-%d %H:%M") if live
            else f"the close of {as_of}")
notes = {"saved": _("Today's snapshot was stored for the trend."),
         "fresh": _("Today's snapshot is up to date."),
         "not allowed": _("Snapshots are stored when a DPO opens this page."),
         "past": _("A past day: nothing is stored.")}
st.caption(_("As of **{when}** (Asia/Shanghai). The score of each policy clause is the share "
             "of the entities its rules apply to that break none of them; the overall score "
             "is the mean over clauses. {note}").format(when=when, note=notes[snapshot]))


def _delta(now_value, before_value, *, scale=1.0, unit=""):
    if before_value is None or now_value is None:
        return None
    diff = (now_value - before_value) * scale
    return f"{diff:+,.1f}{_(unit)}" if unit else f"{int(round(diff)):+,}"


def _unchanged(delta: str | None) -> dict:
    """No change is neither good nor bad: grey, without an arrow."""
    if delta is not None and not any(ch in "123456789" for ch in delta):
        return {"delta_color": "off", "delta_arrow": "off"}
    return {}


since = (_("since {day}").format(day=fmt_date(prev["snapshot_date"]) if is_chinese()
                                 else f"{prev['snapshot_date']:%Y-%m-%d}") if prev else None)
with st.container(horizontal=True):
    d_overall = _delta(s["overall"], prev["overall"] if prev else None, scale=100, unit=" pts")
    st.metric(_("Overall score"), D.percent_text(s["overall"]), d_overall,
              **_unchanged(d_overall), delta_description=since, border=True,
              help=_("Mean of the clause scores. On target at {target} % or more; needs action "
                     "below {warning} % (settings score_target_percent, "
                     "score_warning_percent).").format(target=target, warning=warning))
    d_findings = _delta(s["findings"], prev["findings"] if prev else None)
    st.metric(_("Open findings"), fmt_number(s["findings"]), d_findings,
              **({"delta_color": "inverse"} | _unchanged(d_findings)),
              delta_description=since, border=True,
              help=_("One finding per entity that breaks a rule."))
    d_high = _delta(s["by_severity"].get("high", 0), prev["findings_high"] if prev else None)
    st.metric(_("High severity"), fmt_number(s["by_severity"].get("high", 0)), d_high,
              **({"delta_color": "inverse"} | _unchanged(d_high)),
              delta_description=since, border=True,
              help=_("Personal information flows or stays where the law forbids it, or a legal "
                     "deadline was missed: act today."))
    st.metric(_("Entities failing"), fmt_number(s["entities_failing"]), border=True,
              help=_("Distinct processors, agreements, records and incidents breaking at least "
                     "one rule, of {applicable} that some rule applies to.").format(
                  applicable=fmt_number(s["entities_applicable"])))
with st.container(horizontal=True):
    st.metric(_("Unplanned"), fmt_number(stats["unplanned"]), border=True,
              help=_("Open findings with no remediation plan."))
    st.metric(_("Planned"), fmt_number(stats["planned"]), border=True,
              help=_("Open findings a DPO acknowledged with an owner and a target date not "
                     "passed."))
    st.metric(_("Plans overdue"), fmt_number(stats["overdue"]), border=True,
              help=_("Open findings whose plan's target date has passed."))
    for days in sorted({urgent, soon}):
        n = int(due[due["horizon"] == days]["due"].sum())
        st.metric(_("Due ≤ {days} days").format(days=days), fmt_number(n), border=True,
                  help=_("Deadlines not missed yet that fall within {days} days (settings "
                         "due_urgent_days, due_soon_days): not findings, not in any "
                         "score.").format(days=days))


def chart(fig, caption: str, key: str) -> None:
    """A chart whose bars open the matching findings when clicked."""
    event = st.plotly_chart(fig, theme="streamlit", key=key, on_select="rerun",
                            selection_mode="points", config={"displaylogo": False})
    st.caption(caption)
    for custom in CC.selected_custom(event):
        params = D.drill_params(custom, as_of=link_as_of)
        if params is not None:
            st.switch_page(nav.script("findings"), query_params=params)
        incident = D.incident_filters(custom)
        if incident is not None:
            st.session_state.update(incident)
            st.switch_page(PAGE_BY_KEY["incidents"].script)


# Under the cards, one tab at a time: only the open tab's code runs (its data is read
# and its charts are sent), so the first visit draws the cards and two charts, and the
# rest comes when its tab is clicked. The open tab is in the address (?tab=Trend), for a
# bookmark; the first tab is the default, without a parameter.
# The tabs' words are in the locale (so is the ``tab`` parameter's value); ``tab`` stays
# keyed by the English names.
tab = dict(zip(D.OVERVIEW_TABS, st.tabs([_(t) for t in D.OVERVIEW_TABS],
                                       key=D.OVERVIEW_TAB_PARAM, on_change="rerun",
                                       bind="query-params")))

if tab["Scores"].open:
    with tab["Scores"]:
        left, right = st.columns([2, 3])
        with left:
            chart(CC.score_bars(ui.cached(D.scores, as_of=as_of, level="article"),
                                level="article",
                                title=_("Compliance score per policy article"),
                                axis_title=_("Article"), target=target, warning=warning),
                  _("Each article of the privacy policy (5 sharing, 6 storage, 7 security, "
                    "8 access and control), worst first, coloured by band. Click a bar to "
                    "open the article's findings."),
                  "chart_article")
        with right:
            chart(CC.score_bars(ui.cached(D.scores, as_of=as_of, level="clause"),
                                level="clause", title=_("Compliance score per policy clause"),
                                axis_title=_("Clause"), target=target, warning=warning),
                  _("Each clause that a rule tests: the share of the entities its rules apply "
                    "to that break none of them, worst first. Click a bar to open the "
                    "clause's findings."), "chart_clause")

if tab["Trend"].open:
    with tab["Trend"]:
        # read only when the tab is open (the score card carries no sparkline: a second
        # chart library to load before the first screen is drawn)
        trend = ui.cached(D.trend, as_of=as_of)
        chart(CC.score_trend(trend, target=target, warning=warning),
              _("The overall score and each article's, one point per stored daily snapshot; "
                "the last point is this view. Click an article's point to open its "
                "findings."),
              "chart_trend")

if tab["Findings and incidents"].open:
    with tab["Findings and incidents"]:
        left, right = st.columns([3, 2])
        with left:
            chart(CC.findings_by_plan(ui.cached(D.findings_breakdown, as_of=as_of,
                                                by="rule_id"),
                                      code="rule_id", chart="rule",
                                      title=_("Open findings by rule"), axis_title=_("Rule")),
                  _("Open findings of each rule, most first, split by remediation plan: none "
                    "yet, plan overdue, planned. Click a segment to open those findings."),
                  "chart_rule")
        with right:
            chart(CC.findings_by_plan(ui.cached(D.findings_breakdown, as_of=as_of,
                                                by="severity"),
                                      code="severity", chart="severity",
                                      title=_("Open findings by severity"),
                                      axis_title=_("Severity")),
                  _("High: act today; medium: plan a fix; low: a record-keeping lapse. Each "
                    "bar is split by remediation plan. Click a segment to open those "
                    "findings."),
                  "chart_severity")
            chart(CC.incidents_by_grade(ui.cached(D.incident_breakdown, as_of=as_of)),
                  _("Incidents detected so far, by grade and current status. Click a segment "
                    "to open the Incidents page filtered to it."), "chart_incidents")

if tab["What falls due"].open:
    with tab["What falls due"]:
        left, right = st.columns([2, 3])
        with left:
            chart(CC.due_bars(due),
                  _("Deadlines not missed yet, within {urgent} and within {soon} days: "
                    "regulator and summary reports, notices to users, agreements expiring, "
                    "records due for deletion, assessments and hold reviews. Click a bar to "
                    "list them.").format(urgent=urgent, soon=soon), "chart_due")
        with right:
            soonest = ui.cached(D.due_rows, as_of=as_of, within_days=urgent, limit=10)
            st.markdown(_("**Falling due within {days} days** — the soonest ten").format(
                days=urgent))
            if soonest.empty:
                st.info(_("Nothing falls due within {days} days.").format(days=urgent),
                        icon=":material/event_available:")
            else:
                soonest = soonest.assign(detail=[D.detail_text(x) for x in soonest["detail"]])
                st.dataframe(
                    soonest[["due_at", "rule_id", "entity_id", "detail"]], hide_index=True,
                    column_config={
                        "due_at": st.column_config.DatetimeColumn(
                            _("Deadline"), format="YYYY-MM-DD HH:mm",
                            timezone=settings.timezone),
                        "rule_id": st.column_config.TextColumn(_("Rule")),
                        "entity_id": st.column_config.TextColumn(_("Entity")),
                        "detail": st.column_config.TextColumn(_("What is due"), width="large")})
            st.page_link(nav.script("findings"),
                         label=_("Everything due within {days} days").format(days=soon),
                         icon=":material/event_upcoming:",
                         query_params=D.url_params(as_of=link_as_of, view="due", within=soon))

if tab["Every rule"].open:
    with tab["Every rule"]:
        rules = ui.cached(D.rule_table, as_of=as_of)
        shown = label_frame(rules, {"severity": "severity"})      # display only
        shown["title"] = [D.rule_title(r, t) for r, t in zip(shown["rule_id"], shown["title"])]
        picked = st.dataframe(
            shown[["rule_id", "title", "clause", "severity", "score_pct", "applicable",
                   "failing", "unplanned", "planned", "overdue", "due", "link"]],
            hide_index=True, key="rule_table", on_select="rerun",
            selection_mode="single-row",
            column_config={
                "rule_id": st.column_config.TextColumn(_("Rule")),
                "title": st.column_config.TextColumn(_("What it checks"), width="large"),
                "clause": st.column_config.TextColumn(_("Clause")),
                "severity": st.column_config.TextColumn(_("Severity")),
                "score_pct": st.column_config.ProgressColumn(_("Score"), format="%.1f %%",
                                                             min_value=0, max_value=100),
                "applicable": st.column_config.NumberColumn(_("Applies to"),
                                                            format="localized"),
                "failing": st.column_config.NumberColumn(_("Findings"), format="localized"),
                "unplanned": st.column_config.NumberColumn(_("Unplanned"), format="localized"),
                "planned": st.column_config.NumberColumn(_("Planned"), format="localized"),
                "overdue": st.column_config.NumberColumn(_("Plan overdue"),
                                                         format="localized"),
                "due": st.column_config.NumberColumn(_("Due ≤ {days} d").format(days=soon),
                                                     format="localized"),
                "link": st.column_config.LinkColumn(_("Link"),
                                                    display_text=_("Open findings")),
            })
        st.caption(_("Every compliance rule with its score, its findings by plan state and "
                     "its items falling due. Select a row (or use its link, which can be "
                     "shared) to open its findings."))
        rows = picked.selection.rows if picked is not None else []
        if rows:
            st.switch_page(nav.script("findings"),
                           query_params=D.url_params(as_of=link_as_of,
                                                     rule=[rules.iloc[rows[0]]["rule_id"]]))

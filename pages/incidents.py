"""Incidents: incidents not yet closed first, by their nearest legal deadline, with the
overdue ones marked; filters by grade, status, type and detection date (policy 7.2)."""
import datetime as dt

import streamlit as st

from dashboard import clocks as clk
from dashboard import incidents as inc
from dashboard import navigation as nav
from dashboard import ui
from dashboard.i18n import _, fmt_number, formatter, label_frame
from dashboard.registers import GRADES, INCIDENT_STATUSES, INCIDENT_TYPES

actor = ui.page_guard("incidents")
store = ui.get_store()
settings = store.settings
tz = settings.timezone

st.title(_("Incidents"), anchor=False)
st.caption(_("Security incidents and their legal clocks: report to the regulator (relatively "
             "major and above), notify the authority protecting personal information (PIPL Art. "
             "57, any incident involving personal information), report a suspected crime to the "
             "police, notify the affected users (unless exempt, Art. 57 ¶2), file the summary "
             "report. Open incidents come first, the nearest deadline on top. Times are "
             "{zone}.").format(zone=_("Beijing time") if tz == "Asia/Shanghai"
                               else _("{tz} time").format(tz=tz)))
if actor.may("incident.log"):
    st.page_link(nav.script("log_incident"), label=_("Log an incident"),
                 icon=":material/add_alert:")

with st.container(key="incident_filters"):
    c1, c2, c3 = st.columns(3)
    grades = c1.multiselect(_("Grade"), GRADES, key="f_grade",
                            format_func=formatter("grade"),
                            placeholder=_("All grades"))
    statuses = c2.multiselect(_("Status"), INCIDENT_STATUSES, key="f_status",
                              format_func=formatter("incident_status"),
                              placeholder=_("All statuses"))
    types = c3.multiselect(_("Type"), INCIDENT_TYPES, key="f_type",
                           format_func=formatter("incident_type"),
                           placeholder=_("All types"))
    c1, c2, c3 = st.columns(3)
    start = c1.date_input(_("Detected from"), value=None, key="f_from", format="YYYY-MM-DD")
    end = c2.date_input(_("Detected to"), value=None, key="f_to", format="YYYY-MM-DD")
    overdue_only = c3.toggle(_("Overdue only"), key="f_overdue",
                             help=_("Incidents with at least one clock past its deadline."))

if start and end and end < start:
    st.error(_("'Detected to' is before 'Detected from': no incident can match."),
             icon=":material/error:")
    st.stop()

moment = inc.page_now(store)     # to the minute: the cached list moves with the clock
query = dict(grades=grades, statuses=statuses, types=types, detected_from=start,
             detected_to=end, overdue_only=overdue_only, now=moment)
counts = ui.cached(inc.list_summary, **query)
k1, k2, k3, k4 = st.columns(4)
k1.metric(_("Shown"), fmt_number(counts["shown"]), help=_("Incidents matching the filters."))
k2.metric(_("Not closed"), fmt_number(counts["not_closed"]),
          help=_("Open, contained or resolved."))
k3.metric(_("Overdue"), fmt_number(counts["overdue"]),
          help=_("At least one clock is past its deadline and not done."))
k4.metric(_("Due within 24 h"), fmt_number(counts["due_soon"]),
          help=_("Not closed, with a clock not yet overdue that falls due in the next 24 "
                 "hours."))

if counts["shown"] == 0:
    st.info(_("No incident matches the filters."), icon=":material/info:")
    st.stop()

PAGE_SIZE = 100
pages = (counts["shown"] + PAGE_SIZE - 1) // PAGE_SIZE
page = 1
if pages > 1:
    page = st.number_input(_("Page (of {pages}, {size} incidents each)").format(
        pages=fmt_number(pages), size=PAGE_SIZE), min_value=1,
                           max_value=pages, value=1, step=1, key="incident_page")
table = inc.list_display(
    ui.cached(inc.list_incidents, **query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
    dt.datetime.fromisoformat(moment))
overdue_mark = _("⚠ OVERDUE")
shown = label_frame(table.assign(mark=table["overdue"].map(lambda o: overdue_mark if o else "")),
                    {"grade": "grade", "status": "incident_status",
                     "incident_type": "incident_type"})
help_text = clk.clock_help(settings)
event = st.dataframe(
    shown, hide_index=True, key="incident_table", on_select="rerun",
    selection_mode="single-row", height=min(38 + 35 * len(shown), 740),
    column_order=["mark", "incident_id", "title", "status", "grade", "incident_type",
                  "detected_at", "next_clock", "next_deadline", "countdown",
                  "regulator_clock", "pi_authority_clock", "police_clock",
                  "user_notice_clock", "summary_clock",
                  "affected_subjects", "flags"],
    column_config={
        "mark": st.column_config.TextColumn(_("Overdue"), width=100,
                                            help=_("A clock is past its deadline and not done.")),
        "incident_id": st.column_config.TextColumn(_("Incident")),
        "title": st.column_config.TextColumn(_("Title"), width="medium"),
        "status": st.column_config.TextColumn(_("Status")),
        "grade": st.column_config.TextColumn(_("Grade")),
        "incident_type": st.column_config.TextColumn(_("Type")),
        "detected_at": st.column_config.DatetimeColumn(_("Detected"), format="YYYY-MM-DD HH:mm"),
        "next_clock": st.column_config.TextColumn(_("Next deadline for")),
        "next_deadline": st.column_config.DatetimeColumn(_("Next deadline"),
                                                         format="YYYY-MM-DD HH:mm"),
        "countdown": st.column_config.TextColumn(_("Time left")),
        "regulator_clock": st.column_config.TextColumn(
            _("Regulator report"), help=help_text["regulator"]),
        "pi_authority_clock": st.column_config.TextColumn(
            _("PI authority notice"), help=help_text["pi_authority"]),
        "police_clock": st.column_config.TextColumn(
            _("Police report"), help=help_text["police"]),
        "user_notice_clock": st.column_config.TextColumn(
            _("Users' notice"), help=help_text["user_notice"]),
        "summary_clock": st.column_config.TextColumn(
            _("Summary report"), help=help_text["summary"]),
        "affected_subjects": st.column_config.NumberColumn(_("Affected"), format="localized"),
        "flags": st.column_config.TextColumn(_("Other findings"),
                                             help=_("INC-* rules the incident breaks now.")),
    },
)
st.caption(_("Select a row to open the incident."))
rows = event.selection.rows if event is not None else []
if rows:
    st.switch_page(nav.script("incident"), query_params={"id": shown.iloc[rows[0]]["incident_id"]})

ids = list(shown["incident_id"])
titles = dict(zip(shown["incident_id"], shown["title"]))
left, right = st.columns([3, 1], vertical_alignment="bottom")
picked = left.selectbox(_("Open an incident"), ids, key="open_incident", index=None,
                        format_func=lambda i: f"{i} — {titles[i]}",
                        placeholder=_("Choose an incident in the list"))
if picked:
    right.page_link(nav.script("incident"), label=_("Open {id}").format(id=ui.plain(picked)),
                    icon=":material/timeline:", query_params={"id": picked})

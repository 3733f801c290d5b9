"""Incidents: incidents not yet closed first, by their nearest legal deadline, with the
overdue ones marked; filters by grade, status, type and detection date (policy 7.2)."""
import datetime as dt

import streamlit as st

from dashboard import clocks as clk
from dashboard import incidents as inc
from dashboard import navigation as nav
from dashboard import ui
from dashboard.registers import GRADES, INCIDENT_STATUSES, INCIDENT_TYPES

actor = ui.page_guard("incidents")
store = ui.get_store()
settings = store.settings
tz = settings.timezone

st.title("Incidents", anchor=False)
st.caption("Security incidents and their legal clocks: report to the regulator (relatively "
           "major and above), notify the authority protecting personal information (PIPL Art. "
           "57, any incident involving personal information), report a suspected crime to the "
           "police, notify the affected users (unless exempt, Art. 57 ¶2), file the summary "
           "report. Open incidents come first, the nearest deadline on top. Times are "
           f"{tz} time.")
if actor.may("incident.log"):
    st.page_link(nav.script("log_incident"), label="Log an incident", icon=":material/add_alert:")

with st.container(key="incident_filters"):
    c1, c2, c3 = st.columns(3)
    grades = c1.multiselect("Grade", GRADES, key="f_grade", format_func=clk.GRADE_LABELS.get,
                            placeholder="All grades")
    statuses = c2.multiselect("Status", INCIDENT_STATUSES, key="f_status",
                              format_func=inc.STATUS_LABELS.get, placeholder="All statuses")
    types = c3.multiselect("Type", INCIDENT_TYPES, key="f_type",
                           format_func=inc.TYPE_LABELS.get, placeholder="All types")
    c1, c2, c3 = st.columns(3)
    start = c1.date_input("Detected from", value=None, key="f_from", format="YYYY-MM-DD")
    end = c2.date_input("Detected to", value=None, key="f_to", format="YYYY-MM-DD")
    overdue_only = c3.toggle("Overdue only", key="f_overdue",
                             help="Incidents with at least one clock past its deadline.")

if start and end and end < start:
    st.error("'Detected to' is before 'Detected from': no incident can match.",
             icon=":material/error:")
    st.stop()

moment = inc.page_now(store)     # to the minute: the cached list moves with the clock
query = dict(grades=grades, statuses=statuses, types=types, detected_from=start,
             detected_to=end, overdue_only=overdue_only, now=moment)
counts = ui.cached(inc.list_summary, **query)
k1, k2, k3, k4 = st.columns(4)
k1.metric("Shown", f"{counts['shown']:,}", help="Incidents matching the filters.")
k2.metric("Not closed", f"{counts['not_closed']:,}", help="Open, contained or resolved.")
k3.metric("Overdue", f"{counts['overdue']:,}",
          help="At least one clock is past its deadline and not done.")
k4.metric("Due within 24 h", f"{counts['due_soon']:,}",
          help="Not closed, with a clock not yet overdue that falls due in the next 24 hours.")

if counts["shown"] == 0:
    st.info("No incident matches the filters.", icon=":material/info:")
    st.stop()

PAGE_SIZE = 100
pages = (counts["shown"] + PAGE_SIZE - 1) // PAGE_SIZE
page = 1
if pages > 1:
    page = st.number_input(f"Page (of {pages:,}, {PAGE_SIZE} incidents each)", min_value=1,
                           max_value=pages, value=1, step=1, key="incident_page")
table = inc.list_display(
    ui.cached(inc.list_incidents, **query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
    dt.datetime.fromisoformat(moment))
shown = table.assign(
    mark=table["overdue"].map(lambda o: "⚠ OVERDUE" if o else ""),
    grade=table["grade"].map(lambda g: clk.GRADE_LABELS.get(g, g)),
    status=table["status"].map(lambda s: inc.STATUS_LABELS.get(s, s)),
    incident_type=table["incident_type"].map(lambda t: inc.TYPE_LABELS.get(t, t)),
)
event = st.dataframe(
    shown, hide_index=True, key="incident_table", on_select="rerun",
    selection_mode="single-row", height=min(38 + 35 * len(shown), 740),
    column_order=["mark", "incident_id", "title", "status", "grade", "incident_type",
                  "detected_at", "next_clock", "next_deadline", "countdown",
                  "regulator_clock", "pi_authority_clock", "police_clock",
                  "user_notice_clock", "summary_clock",
                  "affected_subjects", "flags"],
    column_config={
        "mark": st.column_config.TextColumn("Overdue", width=100,
                                            help="A clock is past its deadline and not done."),
        "incident_id": st.column_config.TextColumn("Incident"),
        "title": st.column_config.TextColumn("Title", width="medium"),
        "status": st.column_config.TextColumn("Status"),
        "grade": st.column_config.TextColumn("Grade"),
        "incident_type": st.column_config.TextColumn("Type"),
        "detected_at": st.column_config.DatetimeColumn("Detected", format="YYYY-MM-DD HH:mm"),
        "next_clock": st.column_config.TextColumn("Next deadline for"),
        "next_deadline": st.column_config.DatetimeColumn("Next deadline",
                                                         format="YYYY-MM-DD HH:mm"),
        "countdown": st.column_config.TextColumn("Time left"),
        "regulator_clock": st.column_config.TextColumn(
            "Regulator report", help=clk.clock_help(settings)["regulator"]),
        "pi_authority_clock": st.column_config.TextColumn(
            "PI authority notice", help=clk.clock_help(settings)["pi_authority"]),
        "police_clock": st.column_config.TextColumn(
            "Police report", help=clk.clock_help(settings)["police"]),
        "user_notice_clock": st.column_config.TextColumn(
            "Users' notice", help=clk.clock_help(settings)["user_notice"]),
        "summary_clock": st.column_config.TextColumn(
            "Summary report", help=clk.clock_help(settings)["summary"]),
        "affected_subjects": st.column_config.NumberColumn("Affected", format="localized"),
        "flags": st.column_config.TextColumn("Other findings",
                                             help="INC-* rules the incident breaks now."),
    },
)
st.caption("Select a row to open the incident.")
rows = event.selection.rows if event is not None else []
if rows:
    st.switch_page(nav.script("incident"), query_params={"id": shown.iloc[rows[0]]["incident_id"]})

ids = list(shown["incident_id"])
titles = dict(zip(shown["incident_id"], shown["title"]))
left, right = st.columns([3, 1], vertical_alignment="bottom")
picked = left.selectbox("Open an incident", ids, key="open_incident", index=None,
                        format_func=lambda i: f"{i} — {titles[i]}",
                        placeholder="Choose an incident in the list")
if picked:
    right.page_link(nav.script("incident"), label=f"Open {ui.plain(picked)}", icon=":material/timeline:",
                    query_params={"id": picked})

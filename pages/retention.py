"""Retention: each stored record's due date for deletion and its status (policy 6.1-6.2)."""
import streamlit as st

from dashboard import charts, ui
from dashboard import queries as Q
from dashboard import views as view
from dashboard.i18n import N_, _, fmt_date
from dashboard.registers import RETENTION_RECORDS

actor = ui.page_guard("retention")
store = ui.get_store()
today = store.now().date()
soon = store.settings.due_soon_days

st.title(_("Retention"), anchor=False)
st.caption(_("Each stored record is due for deletion when its category's retention rule says "
             "(see Settings → catalog). As of today ({today}, Beijing time) a record "
             "is **deleted**, **on hold** (a policy 6.2 exception), **overdue** (due date "
             "passed), **due soon** (due within {days} days) or **active**."
             ).format(today=fmt_date(today), days=soon))
view.policy_links([("6.1", N_("storage in Chinese Mainland")),
                   ("6.2", N_("retention and holds"))])

filters = view.filter_sidebar(Q.RETENTION_FILTERS, ui.cached(Q.retention_options))
args = dict(as_of=today, filters=filters)
summary = ui.cached(Q.retention_summary, **args)     # KPIs, breakdowns, trend: one scan
holds = ui.cached(Q.retention_holds, **args)
kpis = summary["kpis"]

st.markdown(view.filter_summary(kpis["records"], "records", filters))
view.kpi_row([
    (_("Records"), kpis["records"], _("Records matching the filters.")),
    (_("Overdue"), kpis["overdue"],
     _("Not deleted, not on hold, due date before today (rule RET-OVERDUE).")),
    (_("Due ≤ {days} days").format(days=soon), kpis["due"],
     _("Not deleted, not on hold, due today or within {days} days (setting due_soon_days)."
       ).format(days=soon)),
    (_("On hold"), kpis["on_hold"],
     _("Not deleted, kept under one of the five exceptions of 6.2.")),
    (_("Active"), kpis["active"], _("Due later, or in service with no maximum age.")),
    (_("Deleted"), kpis["deleted"], _("Deleted or anonymised (deleted_on set).")),
])

breakdown = summary["breakdown"]
left, right = st.columns([2, 3])
with left:
    view.chart(charts.retention_by_status(Q.pick(breakdown, "status")),
               _("Records per retention status as of today."),
               key="chart_status", specs=Q.RETENTION_FILTERS, drill=("status",))
with right:
    view.chart(charts.overdue_over_time(summary["overdue_trend"]),
               _("Overdue records still not deleted, by the month their due date fell, and the "
                 "running total: how today's backlog built up."),
               key="chart_overdue", specs=Q.RETENTION_FILTERS, drill=("due",),
               fixed={"status": ["overdue"]})
left, right = st.columns(2)
with left:
    view.chart(charts.retention_by_category(Q.pick(breakdown, "category")),
               _("Records per data category, stacked by status."),
               key="chart_category", specs=Q.RETENTION_FILTERS, drill=("category", "status"))
with right:
    view.chart(charts.retention_by_system(Q.pick(breakdown, "system")),
               _("Records per source system, stacked by status."),
               key="chart_system", specs=Q.RETENTION_FILTERS, drill=("system", "status"))

st.subheader(_("Holds"), anchor=False)
view.kpi_row([
    (_("Undeleted outside CN"), kpis["outside_cn"],
     _("Records not deleted whose storage region is not CN (policy 6.1, rule RET-LOCATION).")),
    (_("Holds past review date"), holds["kpis"]["review_passed"],
     _("Records on hold whose review date has passed (rule RET-HOLD-INVALID).")),
    (_("Holds without reference"), holds["kpis"]["no_reference"],
     _("Records on hold with no hold reference (rule RET-HOLD-INVALID).")),
])
left, right = st.columns(2)
with left:
    view.chart(charts.holds_by_reason(holds["by_reason"]),
               _("Records on hold by the exception of policy 6.2 they rest on, split by whether "
                 "the review date has passed."),
               key="chart_hold_reason", specs=Q.RETENTION_FILTERS, drill=("hold",),
               fixed={"status": ["on_hold"]})
with right:
    view.chart(charts.holds_by_review_month(holds["by_review_month"]),
               _("Records on hold by the month their hold is due for review; red months have "
                 "passed."), key="chart_hold_review")

st.subheader(_("Records"), anchor=False)
view.paged_table(
    lambda **page: ui.cached(Q.retention_rows, **args, **page),
    total=kpis["records"], register=RETENTION_RECORDS, filters=filters, sorts=Q.RETENTION_SORTS,
    noun="records",
    families={"category": "category", "status": "retention_status", "hold_reason": "hold_reason"},
    extra_columns={
        "record_id": st.column_config.NumberColumn(_("Record ID"), format="%d"),
        "status": st.column_config.TextColumn(_("Status")),
        "due_on": st.column_config.DateColumn(
            _("Due for deletion"), format="YYYY-MM-DD",
            help=_("The earlier of service end + the category's days, and collection + its "
                   "maximum age (Settings → catalog).")),
    },
)

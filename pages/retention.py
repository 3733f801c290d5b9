"""Retention: each stored record's due date for deletion and its status (policy 6.1-6.2)."""
import streamlit as st

from dashboard import charts, ui
from dashboard import queries as Q
from dashboard import views as view
from dashboard.registers import RETENTION_RECORDS

actor = ui.page_guard("retention")
store = ui.get_store()
today = store.now().date()
soon = store.settings.due_soon_days

st.title("Retention", anchor=False)
st.caption(f"Each stored record is due for deletion when its category's retention rule says "
           f"(see Settings → catalog). As of today ({today:%Y-%m-%d}, Asia/Shanghai) a record "
           f"is **deleted**, **on hold** (a policy 6.2 exception), **overdue** (due date "
           f"passed), **due soon** (due within {soon} days) or **active**.")
view.policy_links([("6.1", "storage in Chinese Mainland"), ("6.2", "retention and holds")])

filters = view.filter_sidebar(Q.RETENTION_FILTERS, ui.cached(Q.retention_options))
args = dict(as_of=today, filters=filters)
summary = ui.cached(Q.retention_summary, **args)     # KPIs, breakdowns, trend: one scan
holds = ui.cached(Q.retention_holds, **args)
kpis = summary["kpis"]

st.markdown(view.filter_summary(kpis["records"], "records", filters))
view.kpi_row([
    ("Records", kpis["records"], "Records matching the filters."),
    ("Overdue", kpis["overdue"],
     "Not deleted, not on hold, due date before today (rule RET-OVERDUE)."),
    (f"Due ≤ {soon} days", kpis["due"],
     f"Not deleted, not on hold, due today or within {soon} days (setting due_soon_days)."),
    ("On hold", kpis["on_hold"], "Not deleted, kept under one of the five exceptions of 6.2."),
    ("Active", kpis["active"], "Due later, or in service with no maximum age."),
    ("Deleted", kpis["deleted"], "Deleted or anonymised (deleted_on set)."),
])

breakdown = summary["breakdown"]
left, right = st.columns([2, 3])
with left:
    view.chart(charts.retention_by_status(Q.pick(breakdown, "status")),
               "Records per retention status as of today.",
               key="chart_status", specs=Q.RETENTION_FILTERS, drill=("status",))
with right:
    view.chart(charts.overdue_over_time(summary["overdue_trend"]),
               "Overdue records still not deleted, by the month their due date fell, and the "
               "running total: how today's backlog built up.",
               key="chart_overdue", specs=Q.RETENTION_FILTERS, drill=("due",),
               fixed={"status": ["overdue"]})
left, right = st.columns(2)
with left:
    view.chart(charts.retention_by_category(Q.pick(breakdown, "category")),
               "Records per data category, stacked by status.",
               key="chart_category", specs=Q.RETENTION_FILTERS, drill=("category", "status"))
with right:
    view.chart(charts.retention_by_system(Q.pick(breakdown, "system")),
               "Records per source system, stacked by status.",
               key="chart_system", specs=Q.RETENTION_FILTERS, drill=("system", "status"))

st.subheader("Holds", anchor=False)
view.kpi_row([
    ("Undeleted outside CN", kpis["outside_cn"],
     "Records not deleted whose storage region is not CN (policy 6.1, rule RET-LOCATION)."),
    ("Holds past review date", holds["kpis"]["review_passed"],
     "Records on hold whose review date has passed (rule RET-HOLD-INVALID)."),
    ("Holds without reference", holds["kpis"]["no_reference"],
     "Records on hold with no hold reference (rule RET-HOLD-INVALID)."),
])
left, right = st.columns(2)
with left:
    view.chart(charts.holds_by_reason(holds["by_reason"]),
               "Records on hold by the exception of policy 6.2 they rest on, split by whether "
               "the review date has passed.",
               key="chart_hold_reason", specs=Q.RETENTION_FILTERS, drill=("hold",),
               fixed={"status": ["on_hold"]})
with right:
    view.chart(charts.holds_by_review_month(holds["by_review_month"]),
               "Records on hold by the month their hold is due for review; red months have "
               "passed.", key="chart_hold_review")

st.subheader("Records", anchor=False)
view.paged_table(
    lambda **page: ui.cached(Q.retention_rows, **args, **page),
    total=kpis["records"], register=RETENTION_RECORDS, filters=filters, sorts=Q.RETENTION_SORTS,
    noun="records",
    families={"category": "category", "status": "retention_status", "hold_reason": "hold_reason"},
    extra_columns={
        "record_id": st.column_config.NumberColumn("Record ID", format="%d"),
        "status": st.column_config.TextColumn("Status"),
        "due_on": st.column_config.DateColumn(
            "Due for deletion", format="YYYY-MM-DD",
            help="The earlier of service end + the category's days, and collection + its "
                 "maximum age (Settings → catalog)."),
    },
)

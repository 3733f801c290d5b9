"""Processors: the entrusted partners, suppliers and service providers of policy 5.1.4."""
import streamlit as st

from dashboard import charts, ui, ui_registers
from dashboard import queries as Q
from dashboard import views as view
from dashboard.i18n import N_, _
from dashboard.registers import PROCESSORS

actor = ui.page_guard("processors")
store = ui.get_store()
today = store.now().date()
soon = store.settings.due_soon_days

st.title(_("Processors"), anchor=False)
st.caption(_("Every partner that processes personal information on the Platform's behalf, "
             "with its agreement, data categories and storage region."))
view.policy_links([("5.1.4", N_("entrusted partners")), ("6.1", N_("storage in Chinese Mainland"))])

ui_registers.register_tools("processors", actor)

filters = view.filter_sidebar(Q.PROCESSOR_FILTERS, ui.cached(Q.processor_options))
args = dict(as_of=today, filters=filters)
kpis = ui.cached(Q.processor_kpis, **args)

st.markdown(view.filter_summary(kpis["processors"], "processors", filters))
view.kpi_row([
    (_("Processors"), kpis["processors"], _("Processors matching the filters, any status.")),
    (_("Active"), kpis["active"], _("Status active.")),
    (_("Expired"), kpis["expired"],
     _("Active processors whose agreement expired before today (rule PROC-AGREEMENT-EXPIRED).")),
    (_("Expiring ≤ {days} days").format(days=soon), kpis["expiring"],
     _("Active processors whose agreement expires today or within {days} days "
       "(setting due_soon_days).").format(days=soon)),
    (_("No expiry date"), kpis["no_agreement"],
     _("Active processors with no agreement expiry date recorded.")),
    (_("Stored outside CN"), kpis["outside_cn"],
     _("Active processors whose storage region is not CN, or not recorded (policy 6.1, "
       "rule PROC-LOCATION).")),
])

breakdown = ui.cached(Q.processor_breakdown, **args)
left, right = st.columns(2)
with left:
    view.chart(charts.processors_by_agreement(Q.pick(breakdown, "agreement")),
               _("Processors by the state of their agreement today: valid, expiring within "
                 "{days} days, expired, or no expiry date recorded; stacked by status."
                 ).format(days=soon),
               key="chart_agreement", specs=Q.PROCESSOR_FILTERS, drill=("agreement", "status"))
with right:
    view.chart(charts.agreement_expiries(ui.cached(Q.processor_expiries, **args)),
               _("Agreements of processors not offboarded that expire in each of the next 12 "
                 "months, counting from today."),
               key="chart_expiries", specs=Q.PROCESSOR_FILTERS, drill=("expires",))
left, right = st.columns(2)
with left:
    view.chart(charts.processors_by_region(Q.pick(breakdown, "region")),
               _("Where processors store and process the data (ISO region codes; CN is "
                 "Chinese Mainland), stacked by status."),
               key="chart_region", specs=Q.PROCESSOR_FILTERS, drill=("region", "status"))
with right:
    view.chart(charts.processors_by_kind(Q.pick(breakdown, "kind")),
               _("Processors by kind of partner, stacked by status."),
               key="chart_kind", specs=Q.PROCESSOR_FILTERS, drill=("kind", "status"))

st.subheader(_("Register"), anchor=False)
view.paged_table(
    lambda **page: ui.cached(Q.processor_rows, **args, **page),
    total=kpis["processors"], register=PROCESSORS, filters=filters, sorts=Q.PROCESSOR_SORTS,
    noun="processors",
    families={"kind": "kind", "status": "processor_status", "agreement": "agreement",
              "purpose": "purpose", "data_categories": "category",
              "agreement_terms": "agreement_term"},
    extra_columns={"agreement": st.column_config.TextColumn(
        _("Agreement"),
        help=_("Valid, expiring within {days} days, expired, or no expiry date.").format(
            days=soon))},
)

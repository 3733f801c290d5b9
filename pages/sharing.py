"""Sharing agreements: sharing, transfer and disclosure of personal information (policy 5.1-5.3)."""
import streamlit as st

from dashboard import charts, ui, ui_registers
from dashboard import queries as Q
from dashboard import views as view
from dashboard.i18n import N_, _
from dashboard.registers import SHARING_AGREEMENTS

actor = ui.page_guard("sharing")
store = ui.get_store()
today = store.now().date()

st.title(_("Sharing agreements"), anchor=False)
st.caption(_("Every agreement under which personal information is shared with, transferred "
             "to or disclosed to another party, with its legal basis and consent."))
view.policy_links([("5.1", N_("sharing")), ("5.2", N_("transfer")), ("5.3", N_("disclosure")),
                   ("6.1", N_("storage in Chinese Mainland"))])

ui_registers.register_tools("sharing_agreements", actor)

filters = view.filter_sidebar(Q.SHARING_FILTERS, ui.cached(Q.sharing_options))
args = dict(as_of=today, filters=filters)
kpis = ui.cached(Q.sharing_kpis, **args)

st.markdown(view.filter_summary(kpis["agreements"], "agreements", filters))
view.kpi_row([
    (_("Agreements"), kpis["agreements"], _("Agreements matching the filters, any status.")),
    (_("Active"), kpis["active"], _("Status active.")),
    (_("Cross-border"), kpis["cross_border"],
     _("Active agreements whose recipient region is not CN, or not recorded (policy 6.1, "
       "rule SHARE-CROSS-BORDER).")),
    (_("Past expiry"), kpis["active_past_expiry"],
     _("Agreements still active after their expiry date (rule SHARE-EXPIRED-ACTIVE).")),
    (_("No confidentiality"), kpis["no_confidentiality"],
     _("Active agreements, other than legal requirements, without a confidentiality clause "
       "(policy 5.3.1, rule SHARE-CONFIDENTIALITY).")),
    (_("Subjects (active)"), kpis["subjects_active"],
     _("People whose information the active agreements cover (sum of subjects affected).")),
])

breakdown = ui.cached(Q.sharing_breakdown, **args)
view.chart(charts.sharing_by_basis(Q.pick(breakdown, "legal_basis")),
           _("Agreements by the legal basis they rest on (policy 5.1.1-5.3.3), stacked by "
             "status."), key="chart_basis", specs=Q.SHARING_FILTERS, drill=("basis", "status"))
left, right = st.columns(2)
with left:
    view.chart(charts.sharing_by_kind(Q.pick(breakdown, "kind")),
               _("Share (5.1), transfer (5.2) or disclosure (5.3), stacked by status."),
               key="chart_kind", specs=Q.SHARING_FILTERS, drill=("kind", "status"))
with right:
    view.chart(charts.sharing_by_consent(Q.pick(breakdown, "consent_code")),
               _("How consent was obtained; sensitive data and transfers need separate consent "
                 "(PIPL Arts. 23, 29). Stacked by status."),
               key="chart_consent", specs=Q.SHARING_FILTERS, drill=("consent", "status"))

st.subheader(_("Register"), anchor=False)
view.paged_table(
    lambda **page: ui.cached(Q.sharing_rows, **args, **page),
    total=kpis["agreements"], register=SHARING_AGREEMENTS, filters=filters,
    sorts=Q.SHARING_SORTS,
    noun="agreements",
    families={"kind": "sharing_kind", "legal_basis": "legal_basis", "status": "sharing_status",
              "consent": "consent", "data_categories": "category"},
)

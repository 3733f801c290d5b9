"""Settings: every deadline and threshold with its value, default, unit, legal source and
confidence; the notification channels of each role (redacted), with "Send a test" for DPOs
and admins; and the policy catalog (data categories, purposes, retention rules)."""
import streamlit as st

from dashboard import notify, ui
from dashboard import queries as Q
from dashboard.access import ROLE_TITLES, ROLES, PermissionDenied
from dashboard.settings import DATA_DIR

actor = ui.page_guard("settings")
store = ui.get_store()

st.title("Settings", anchor=False)
st.caption("The numbers behind every check and deadline, where each comes from, and the "
           "reference data the retention and minimum-data rules use.")

table = Q.settings_table(store.settings)
changed = int(table["changed"].sum())
st.subheader("Deadlines and thresholds", anchor=False)
st.markdown(f"**{len(table)}** settings; "
            + (f"**{changed}** changed from the default." if changed else "all at their defaults."))
st.dataframe(
    table, hide_index=True, height=35 * (len(table) + 1) + 3,
    column_order=["setting", "value", "default", "unit", "changed", "from", "meaning", "source",
                  "confidence"],
    column_config={
        "setting": st.column_config.TextColumn("Setting", pinned=True),
        "value": st.column_config.TextColumn("Value", help="In force in this app."),
        "default": st.column_config.TextColumn("Default"),
        "unit": st.column_config.TextColumn("Unit"),
        "changed": st.column_config.CheckboxColumn("Changed", help="Value differs from default."),
        "from": st.column_config.TextColumn("Set by", help="default, the settings file, or an "
                                                           "environment variable."),
        "meaning": st.column_config.TextColumn("Meaning", width="large"),
        "source": st.column_config.TextColumn("Legal source", width="large"),
        "confidence": st.column_config.TextColumn(
            "Confidence", help="V: read in the law's text; V2: through a secondary source; "
                               "P: project default where the law gives no number."),
    })
st.caption("Confidence: " + "; ".join(f"**{k}** {v}" for k, v in Q.CONFIDENCE.items()) + ".")

with st.expander("How to change a setting", icon=":material/edit_note:"):
    st.markdown(
        f"Settings are changed outside the app, by an administrator, and take effect when "
        f"the app restarts. Put them in a TOML file, `{DATA_DIR / 'settings.toml'}` or the file "
        f"named by the `COMPLIANCE_SETTINGS` environment variable, under a `[settings]` "
        f"table:")
    st.code("[settings]\ndue_soon_days = 14\ncii_operator = true\n", language="toml")
    st.markdown("or set an environment variable `COMPLIANCE_<NAME>` (upper case), which wins "
                "over the file:")
    st.code("COMPLIANCE_DUE_SOON_DAYS=14 make run", language="bash")
    st.markdown("A value of the wrong kind stops the app with a message naming the setting. "
                "Numbers are whole and not negative; true/false for switches.")

st.subheader("Notification channels", anchor=False)
st.caption("Where reminders go (incident clocks, expiring agreements, rights-request "
           "deadlines, overdue plans, the daily digest): set in .streamlit/secrets.toml "
           "[notify] or COMPLIANCE_NOTIFY_<ROLE> on the server (docs/NOTIFICATIONS.md). "
           "Addresses are shown without their passwords and tokens.")
try:
    channels = notify.load_config()
except notify.NotifyConfigError as exc:
    channels = None
    st.error(f"The channel configuration is wrong: {ui.plain(exc)}", icon=":material/error:")
if channels is not None:
    for role in ROLES:
        urls = channels.roles.get(role, ())
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.markdown(f"**{ROLE_TITLES[role]}** — "
                    + (", ".join(ui.plain(notify.redact_url(u)) for u in urls) if urls
                       else "no channel: reminders reach this role in the app only"))
        if actor.may("settings.manage") and urls and \
                c2.button("Send a test", key=f"notify_test_{role}", icon=":material/send:"):
            try:
                result = notify.send_test(store, actor, role)
            except (PermissionDenied, ValueError) as exc:
                st.error(ui.plain(exc), icon=":material/error:")
            else:
                (st.success if result.ok else st.error)(
                    ui.plain(result.message),
                    icon=":material/check_circle:" if result.ok else ":material/error:")

st.subheader("Policy catalog", anchor=False)
st.caption("From `data/policy/catalog.toml`, kept as data so a DPO can read and change it; "
           "`python -m dashboard init` copies it into the store for the rules.")
categories = Q.catalog_categories()
tab_cats, tab_purposes, tab_retention = st.tabs(
    ["Data categories", "Purposes → categories", "Retention rules"])
with tab_cats:
    st.dataframe(
        categories, hide_index=True, height=35 * (len(categories) + 1) + 3,
        column_order=["label", "code", "label_zh", "sensitive", "clause", "note"],
        column_config={
            "label": st.column_config.TextColumn("Category", pinned=True),
            "code": st.column_config.TextColumn("Code"),
            "label_zh": st.column_config.TextColumn("中文"),
            "sensitive": st.column_config.CheckboxColumn(
                "Sensitive", help="Sensitive personal information (PIPL Art. 28): separate "
                                  "consent and an impact assessment. ID card numbers are "
                                  "treated as sensitive (conservative)."),
            "clause": st.column_config.TextColumn("Policy clause"),
            "note": st.column_config.TextColumn("Note", width="large"),
        })
    st.caption(f"{int(categories['sensitive'].sum())} of {len(categories)} categories are "
               "sensitive.")
with tab_purposes:
    purposes = Q.labelled(Q.catalog_purposes(), {"categories": "category"})
    st.dataframe(
        purposes, hide_index=True,
        column_config={
            "code": st.column_config.TextColumn("Code"),
            "label": st.column_config.TextColumn("Purpose", width="medium"),
            "clause": st.column_config.TextColumn("Policy clause"),
            "categories": st.column_config.ListColumn(
                "Categories it needs", width="large",
                help="A processor with this purpose may receive only these (rule "
                     "PROC-MINIMUM-DATA)."),
        }, column_order=["label", "code", "clause", "categories"])
with tab_retention:
    st.dataframe(
        categories, hide_index=True, height=35 * (len(categories) + 1) + 3,
        column_order=["label", "days_after_service_end", "max_age_days", "basis"],
        column_config={
            "label": st.column_config.TextColumn("Category", pinned=True),
            "days_after_service_end": st.column_config.NumberColumn(
                "Days after service ends", format="%d",
                help="Due for deletion this many days after service_ended_on."),
            "max_age_days": st.column_config.NumberColumn(
                "Maximum age (days)", format="%d",
                help="Due this many days after collected_on, whatever the service."),
            "basis": st.column_config.TextColumn("Basis", width="large"),
        })
    st.caption("A record is due for deletion on the earlier of the two dates (the "
               "`retention_due` view); the Retention page counts records by that date.")

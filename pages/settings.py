"""Settings: every deadline and threshold with its value, default, unit, legal source and
confidence; the notification channels of each role (redacted), with "Send a test" for DPOs
and admins; and the policy catalog (data categories, purposes, retention rules)."""
import streamlit as st

from dashboard import notify, ui
from dashboard import queries as Q
from dashboard.access import ROLES, PermissionDenied
from dashboard.i18n import N_, _, fmt_number, is_chinese, label, ngettext
from dashboard.settings import DATA_DIR, SPEC_BY_NAME

actor = ui.page_guard("settings")
store = ui.get_store()
CHINESE = is_chinese()

st.title(_("Settings"), anchor=False)
st.caption(_("The numbers behind every check and deadline, where each comes from, and the "
             "reference data the retention and minimum-data rules use."))


def _shown_settings(table):
    """The settings table in the reader's language: the unit, meaning and legal source
    (marked N_ in dashboard/settings.py), where each value comes from, and a grade in
    words. The setting names stay: they are what a settings file and a variable name."""
    out = table.copy()
    for col in ("unit", "meaning", "source"):
        out[col] = [_(v) if v else v for v in out[col]]

    def origin(value: str) -> str:
        if value == "default":
            return _("default")
        if value.startswith("environment "):
            return _("environment {variable}").format(variable=value[len("environment "):])
        return value

    out["from"] = [origin(v) for v in out["from"]]
    for col in ("value", "default"):       # a grade in words (the meaning names its codes)
        out[col] = [label("grade", v) if SPEC_BY_NAME[name].choices else v
                    for name, v in zip(out["setting"], out[col])]
    return out


table = Q.settings_table(store.settings)
changed = int(table["changed"].sum())
st.subheader(_("Deadlines and thresholds"), anchor=False)
st.markdown(ngettext("**{n}** setting; ", "**{n}** settings; ", len(table)).format(
                n=fmt_number(len(table)))
            + (ngettext("**{n}** changed from the default.", "**{n}** changed from the default.",
                        changed).format(n=fmt_number(changed))
               if changed else _("all at their defaults.")))
st.dataframe(
    _shown_settings(table), hide_index=True, height=35 * (len(table) + 1) + 3,
    column_order=["setting", "value", "default", "unit", "changed", "from", "meaning", "source",
                  "confidence"],
    column_config={
        "setting": st.column_config.TextColumn(_("Setting"), pinned=True),
        "value": st.column_config.TextColumn(_("Value"), help=_("In force in this app.")),
        "default": st.column_config.TextColumn(_("Default")),
        "unit": st.column_config.TextColumn(_("Unit")),
        "changed": st.column_config.CheckboxColumn(_("Changed"),
                                                   help=_("Value differs from default.")),
        "from": st.column_config.TextColumn(_("Set by"), help=_(
            "default, the settings file, or an environment variable.")),
        "meaning": st.column_config.TextColumn(_("Meaning"), width="large"),
        "source": st.column_config.TextColumn(_("Legal source"), width="large"),
        "confidence": st.column_config.TextColumn(
            _("Confidence"), help=_("V: read in the law's text; V2: through a secondary "
                                    "source; P: project default where the law gives no "
                                    "number.")),
    })
st.caption(_("Confidence: {marks}.").format(
    marks=("；" if CHINESE else "; ").join(f"**{k}** {_(v)}" for k, v in Q.CONFIDENCE.items())))

with st.expander(_("How to change a setting"), icon=":material/edit_note:"):
    st.markdown(
        _("Settings are changed outside the app, by an administrator, and take effect when "
          "the app restarts. Put them in a TOML file, `{path}` or the file "
          "named by the `COMPLIANCE_SETTINGS` environment variable, under a `[settings]` "
          "table:").format(path=DATA_DIR / "settings.toml"))
    st.code("[settings]\ndue_soon_days = 14\ncii_operator = true\n", language="toml")
    st.markdown(_("or set an environment variable `COMPLIANCE_<NAME>` (upper case), which "
                  "wins over the file:"))
    st.code("COMPLIANCE_DUE_SOON_DAYS=14 make run", language="bash")
    st.markdown(_("A value of the wrong kind stops the app with a message naming the "
                  "setting. Numbers are whole and not negative; true/false for switches."))

st.subheader(_("Notification channels"), anchor=False)
st.caption(_("Where reminders go (incident clocks, expiring agreements, rights-request "
             "deadlines, overdue plans, the daily digest): set in .streamlit/secrets.toml "
             "[notify] or COMPLIANCE_NOTIFY_<ROLE> on the server (docs/NOTIFICATIONS.md). "
             "Addresses are shown without their passwords and tokens."))
try:
    channels = notify.load_config()
except notify.NotifyConfigError as exc:
    channels = None
    st.error(_("The channel configuration is wrong: {error}").format(error=ui.plain(exc)),
             icon=":material/error:")
if channels is not None:
    for role in ROLES:
        urls = channels.roles.get(role, ())
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.markdown(f"**{label('role', role)}** — "
                    + (", ".join(ui.plain(notify.redact_url(u)) for u in urls) if urls
                       else _("no channel: reminders reach this role in the app only")))
        if actor.may("settings.manage") and urls and \
                c2.button(_("Send a test"), key=f"notify_test_{role}", icon=":material/send:"):
            try:
                result = notify.send_test(store, actor, role)
            except (PermissionDenied, ValueError) as exc:
                st.error(ui.plain(exc), icon=":material/error:")
            else:
                (st.success if result.ok else st.error)(
                    ui.plain(result.message),
                    icon=":material/check_circle:" if result.ok else ":material/error:")

st.subheader(_("Policy catalog"), anchor=False)
st.caption(_("From `data/policy/catalog.toml`, kept as data so a DPO can read and change it; "
             "`python -m dashboard init` copies it into the store for the rules."))
categories = Q.catalog_categories()
if CHINESE:
    # the catalog holds each category's Chinese name: the category's name on a Chinese page
    categories = categories.assign(label=categories["label_zh"])
# the catalog's codes are its file's keys: the tables show the categories' and purposes' names
shown_categories = categories.drop(columns=["code", "label_zh"])
tab_cats, tab_purposes, tab_retention = st.tabs(
    [_("Data categories"), _("Purposes → categories"), _("Retention rules")])
with tab_cats:
    st.dataframe(
        shown_categories, hide_index=True, height=35 * (len(categories) + 1) + 3,
        column_order=["label", "sensitive", "clause", "note"],
        column_config={
            "label": st.column_config.TextColumn(_("Category"), pinned=True),
            "sensitive": st.column_config.CheckboxColumn(
                _("Sensitive"), help=_("Sensitive personal information (PIPL Art. 28): "
                                       "separate consent and an impact assessment. ID card "
                                       "numbers are treated as sensitive (conservative).")),
            "clause": st.column_config.TextColumn(_("Policy clause")),
            "note": st.column_config.TextColumn(_("Note"), width="large"),
        })
    st.caption(_("{sensitive} of {total} categories are sensitive.").format(
        sensitive=fmt_number(int(categories["sensitive"].sum())),
        total=fmt_number(len(categories))))
with tab_purposes:
    if CHINESE:
        names = dict(zip(categories["code"], categories["label"]))
        purposes = Q.catalog_purposes()
        purposes = purposes.assign(
            label=[label("purpose", c) for c in purposes["code"]],
            categories=[[names.get(c, c) for c in cats] for cats in purposes["categories"]])
    else:
        purposes = Q.labelled(Q.catalog_purposes(), {"categories": "category"})
    st.dataframe(
        purposes.drop(columns=["code"]), hide_index=True,
        column_config={
            "label": st.column_config.TextColumn(_("Purpose"), width="medium"),
            "clause": st.column_config.TextColumn(_("Policy clause")),
            "categories": st.column_config.ListColumn(
                _("Categories it needs"), width="large",
                help=_("A processor with this purpose may receive only these (rule "
                       "PROC-MINIMUM-DATA).")),
        }, column_order=["label", "clause", "categories"])
with tab_retention:
    st.dataframe(
        shown_categories, hide_index=True, height=35 * (len(categories) + 1) + 3,
        column_order=["label", "days_after_service_end", "max_age_days", "basis"],
        column_config={
            "label": st.column_config.TextColumn(_("Category"), pinned=True),
            "days_after_service_end": st.column_config.NumberColumn(
                _("Days after service ends"), format="%d",
                help=_("Due for deletion this many days after service_ended_on.")),
            "max_age_days": st.column_config.NumberColumn(
                _("Maximum age (days)"), format="%d",
                help=_("Due this many days after collected_on, whatever the service.")),
            "basis": st.column_config.TextColumn(_("Basis"), width="large"),
        })
    st.caption(_("A record is due for deletion on the earlier of the two dates (the "
                 "`retention_due` view); the Retention page counts records by that date."))

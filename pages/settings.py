"""Settings: every deadline and threshold with its value, default, unit, legal source and
confidence, and where the value in force comes from; DPOs and admins change a value here
(``dashboard.settings_store``: validated, audited, used by the next check at once); the
notification channels of each role (redacted), with "Send a test" for DPOs
and admins; and the policy catalog (data categories, purposes, retention rules)."""
import streamlit as st

from dashboard import dashboards as D
from dashboard import notify, ui
from dashboard import queries as Q
from dashboard import rules as R
from dashboard import settings_store as SS
from dashboard.access import ROLES, PermissionDenied
from dashboard.i18n import (_, actor_label, fmt_datetime, fmt_number, formatter, in_locale,
                            is_chinese, label, ngettext)
from dashboard.settings import (DATA_DIR, FILE_ONLY, READ_AT_START, SPEC_BY_NAME, SPECS,
                                STORE_ORIGIN)
from dashboard.store import StoreError

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

    out["from"] = [SS.origin_words(v) for v in out["from"]]
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
            "The layer whose value is in force: the default, a value set in the app, the "
            "settings file, or an environment variable (each wins over the ones before).")),
        "meaning": st.column_config.TextColumn(_("Meaning"), width="large"),
        "source": st.column_config.TextColumn(_("Legal source"), width="large"),
        "confidence": st.column_config.TextColumn(
            _("Confidence"), help=_("V: read in the law's text; V2: through a secondary "
                                    "source; P: project default where the law gives no "
                                    "number.")),
    })
st.caption(_("Confidence: {marks}.").format(
    marks=("；" if CHINESE else "; ").join(f"**{k}** {_(v)}" for k, v in Q.CONFIDENCE.items())))


def _in_force(settings, name: str) -> str:
    """Where the value in force comes from, in words: set in the app by whom and when, the
    settings file, an environment variable, or the default."""
    origin = settings.origin[name]
    if origin == STORE_ORIGIN:
        stored = settings.stored[name]
        return _("set in the app by {person} on {when}").format(
            person=actor_label(stored["set_by"]), when=fmt_datetime(stored["set_at"]))
    return SS.origin_words(origin)


def _value_input(spec, current):
    """The field for a new value, by the setting's kind; its label names the unit."""
    unit = _(spec.unit)
    key = f"setting_value_{spec.name}"
    kind = SS.kind_of(spec)
    if kind == "int":
        return st.number_input(_("New value ({unit})").format(unit=unit), key=key, step=1,
                               value=int(current), min_value=spec.minimum or 0,
                               max_value=spec.maximum)
    if kind == "bool":
        return st.checkbox(_("Yes: {setting} is on").format(setting=spec.name), key=key,
                           value=bool(current))
    if kind == "choice":
        return st.selectbox(_("New value ({unit})").format(unit=unit), spec.choices, key=key,
                            index=spec.choices.index(current), format_func=formatter("grade"))
    if kind == "list":
        return st.text_input(_("New values ({unit}), separated by commas").format(unit=unit),
                             key=key, value=", ".join(str(v) for v in current))
    if kind == "time":
        return st.text_input(_("New value (HH:MM, Beijing time)"), key=key, value=current,
                             max_chars=5)
    return st.text_input(_("New value ({unit})").format(unit=unit), key=key, value=current,
                         max_chars=SS.TEXT_MAX_CHARS)


def _effect_on_rules(settings, name: str) -> None:
    """The rules whose results depend on the setting, with their findings and items falling
    due now, as the next check (run with the value in force) counts them: a saved change
    shows here, on the overview and on the findings at once."""
    using = SS.rules_using(name)
    if not using:
        st.caption(_("No compliance rule reads this setting."))
        return
    scores = ui.cached(D.scores, as_of=D.as_of_for(store, None), level="rule")
    counts = {row.code: (int(row.failing), int(row.due)) for row in scores.itertuples()}
    if name == "due_soon_days":
        st.markdown(_("Every rule lists what falls due within this many days: "
                      "**{due}** items fall due within {days} days now.").format(
                          due=fmt_number(sum(d for _f, d in counts.values())),
                          days=fmt_number(settings.due_soon_days)))
        return
    rules = R.rule_map()
    lines = [_("- **{rule}** {title}: {findings} open findings, {due} falling due").format(
                 rule=rule_id, title=ui.plain(R.text(rules[rule_id], "title")),
                 findings=fmt_number(counts.get(rule_id, (0, 0))[0]),
                 due=fmt_number(counts.get(rule_id, (0, 0))[1]))
             for rule_id in using if rule_id in rules]
    st.markdown(_("Rules that read this setting, as the check counts them now:") + "\n\n"
                + "\n".join(lines))


def _edit_settings(settings) -> None:
    """The DPO's and administrator's form: one setting at a time, with its unit, legal
    source and the layer its value comes from; saved through ``settings_store``."""
    st.subheader(_("Change a setting"), anchor=False)
    st.caption(_("A value saved here is stored in the app, recorded in the audit log, and "
                 "used by the next check at once. A value in the settings file or an "
                 "environment variable wins over it."))
    notice = st.session_state.pop("settings_saved", None)
    if notice:
        st.success(ui.plain(notice), icon=":material/check_circle:")
    for name, error in settings.store_errors.items():
        st.warning(_("The value of {setting} set in the app is no longer valid and is not "
                     "used: {error}").format(setting=name, error=ui.plain(error)),
                   icon=":material/warning:")
    name = st.selectbox(_("Setting"), [s.name for s in SPECS], key="setting_to_change",
                        format_func=in_locale(lambda n: f"{n} ({_(SPEC_BY_NAME[n].unit)})"))
    spec = SPEC_BY_NAME[name]
    current = getattr(settings, name)
    st.markdown(_("**In force:** {value}, {origin}. **Default:** {default}.").format(
        value=ui.plain(SS.value_words(spec, current)),
        origin=ui.plain(_in_force(settings, name)),
        default=ui.plain(SS.value_words(spec, spec.default))))
    st.markdown(ui.plain(_(spec.help)))
    st.caption(_("Unit: {unit}. Legal source: {source} (confidence {mark}).").format(
        unit=ui.plain(_(spec.unit)), source=ui.plain(_(spec.source)), mark=spec.confidence))
    _effect_on_rules(settings, name)
    if name in READ_AT_START:
        st.info(_("The scheduler reads this setting when the server starts: a change takes "
                  "effect for it at the next start."), icon=":material/restart_alt:")
    winner = SS.overridden_by(settings, name)
    stored = settings.stored.get(name)
    if name in FILE_ONLY:
        st.info(_("This setting is changed in the settings file or an environment variable "
                  "only, not in the app."), icon=":material/lock:")
    elif winner is not None:
        st.warning(ui.plain(SS.overridden_message(name, winner)), icon=":material/lock:")
        if stored:
            st.caption(_("A value set in the app, {value}, by {person} on {when}, is not in "
                         "force while {winner} sets it.").format(
                value=ui.plain(SS.value_words(spec, stored["value"])),
                person=ui.plain(actor_label(stored["set_by"])),
                when=fmt_datetime(stored["set_at"]), winner=ui.plain(SS.origin_words(winner))))
    else:
        with st.form(f"setting_form_{name}", enter_to_submit=False):
            value = _value_input(spec, current)
            if st.form_submit_button(_("Save"), icon=":material/save:", type="primary"):
                try:
                    change = SS.set_value(store, actor, name, value)
                except (SS.SettingValueError, PermissionDenied, StoreError) as exc:
                    st.error(ui.plain(exc), icon=":material/error:")
                else:
                    if change.changed:
                        st.session_state["settings_saved"] = _(
                            "{setting} is now {value} (was {before}), set in the app; the "
                            "checks use it from now on.").format(
                                setting=name, value=SS.value_words(spec, change.after["value"]),
                                before=SS.value_words(spec, change.before["value"]))
                        st.rerun()
                    st.info(_("{setting} already has this value: nothing was saved.").format(
                        setting=name), icon=":material/info:")
    if stored or name in settings.store_errors:
        base = store.base_settings
        if st.button(_("Remove the value set in the app (back to {value}, {origin})").format(
                value=ui.plain(SS.value_words(spec, getattr(base, name))),
                origin=ui.plain(SS.origin_words(base.origin[name]))),
                key=f"setting_reset_{name}", icon=":material/undo:"):
            try:
                SS.reset_value(store, actor, name)
            except (SS.SettingValueError, PermissionDenied, StoreError) as exc:
                st.error(ui.plain(exc), icon=":material/error:")
            else:
                st.session_state.pop(f"setting_value_{name}", None)
                st.session_state["settings_saved"] = _(
                    "The value of {setting} set in the app is removed: {value} ({origin}) is "
                    "in force.").format(setting=name,
                                        value=SS.value_words(spec, getattr(base, name)),
                                        origin=SS.origin_words(base.origin[name]))
                st.rerun()


if actor.may("settings.manage"):
    _edit_settings(store.settings)
else:
    st.caption(_("A DPO or an administrator can change these values here."))

with st.expander(_("Other ways to change a setting"), icon=":material/edit_note:"):
    st.markdown(
        _("An administrator can also set a value outside the app, taking effect when the "
          "app restarts, in a TOML file, `{path}` or the file named by the "
          "`COMPLIANCE_SETTINGS` environment variable, under a `[settings]` "
          "table:").format(path=DATA_DIR / "settings.toml"))
    st.code("[settings]\ndue_soon_days = 14\ncii_operator = true\n", language="toml")
    st.markdown(_("or set an environment variable `COMPLIANCE_<NAME>` (upper case):"))
    st.code("COMPLIANCE_DUE_SOON_DAYS=14 make run", language="bash")
    st.markdown(_("Precedence, lowest first: the default, the value set in the app, the "
                  "settings file, the environment variable. A value of the wrong kind in the "
                  "file or the environment stops the app with a message naming the "
                  "setting."))

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

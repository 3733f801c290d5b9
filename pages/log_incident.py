"""Log an incident: the facts known now, the grade they imply (people affected, direct
economic loss, important data) and why, and the legal clocks that start at detection, shown
with their deadlines before saving (policy 7.2; rules version 2)."""
import uuid

import streamlit as st

from dashboard import clocks as clk
from dashboard import incidents as inc
from dashboard import navigation as nav
from dashboard import i18n, ui
from dashboard.access import PermissionDenied
from dashboard.i18n import _, formatter, is_chinese
from dashboard.reference import load_catalog
from dashboard.registers import GRADES, INCIDENT_TYPES

actor = ui.page_guard("log_incident")
store = ui.get_store()
settings = store.settings
now = store.now()
catalog = load_catalog()
ZONES = [settings.timezone] + [z for z in ("UTC",) if z != settings.timezone]
K = "li_"  # every key of this form starts with it


def _values() -> dict:
    """The form's current input, as the service function takes it."""
    state = st.session_state
    values = {name: state.get(K + name) for name in inc.FACT_FIELDS}
    values["timezone"] = state.get(K + "timezone") or settings.timezone
    return values


def _token(values: dict) -> str:
    """One token per form instance and content: a double submit of the same form
    sends the same token, so the store creates one incident, not two."""
    return inc.form_token(st.session_state[K + "instance"], values)


def _save() -> None:
    # Callbacks run before the script (and its session checks): act as whoever the
    # session is now, not as the actor of the run that drew the button.
    acting = ui.callback_actor("log_incident")
    if acting is None:
        return
    values = _values()
    try:
        result = inc.log_incident(store, acting, values, token=_token(values))
    except inc.ValidationError as exc:
        st.session_state[K + "errors"] = exc.errors
        return
    except PermissionDenied as exc:
        st.session_state[K + "errors"] = {"form": str(exc)}
        return
    st.session_state[K + "errors"] = {}
    st.session_state[K + "done"] = result.incident_id


def _log_another() -> None:
    for key in [k for k in st.session_state if str(k).startswith(K)]:
        del st.session_state[key]


def _error(name: str) -> None:
    ui.field_error(st.session_state.get(K + "errors"), name)


def _field(name: str, render) -> None:
    """A widget with its error message right under it, in a container keyed by the field."""
    with st.container(key=f"{K}field_{name}"):
        render()
        _error(name)


if K + "instance" not in st.session_state:   # this form instance, until "Log another"
    st.session_state[K + "instance"] = uuid.uuid4().hex
help_text = clk.clock_help(settings)
ZONE_WORDS = (_("Beijing time") if settings.timezone == "Asia/Shanghai"
              else _("{tz} time").format(tz=settings.timezone))
st.title(_("Log an incident"), anchor=False)
st.caption(_("Log it now with what is known; correct or complete it later on the incident's "
             "page. The legal clocks start at **detection** (awareness), not when it happened. "
             "Times without an offset are {zone}.").format(zone=ZONE_WORDS))

done = st.session_state.get(K + "done")
if done:
    record = ui.cached(inc.incident_record, incident_id=done)
    st.success(_("Logged as **{id}**. The clocks below are running; record each step on "
                 "the incident's page.").format(id=done), icon=":material/check_circle:")
    st.page_link(nav.script("incident"), label=_("Open {id}").format(id=done),
                 icon=":material/timeline:", query_params={"id": done})
    if record is not None:
        for c in clk.incident_clocks(record.row, settings, now):
            if c.deadline:
                tail = _(": by {deadline} ({countdown})").format(
                    deadline=clk.show_time(c.deadline, settings.timezone),
                    countdown=clk.countdown(c))
            else:
                tail = _(": {why}").format(why=c.why)
            st.markdown(f"- **{c.title}** — {c.label}{tail}")
    st.button(_("Log another incident"), key=K + "another", on_click=_log_another,
              icon=":material/add_alert:")
    st.stop()

_error("form")
_error("token")
_field("title", lambda: st.text_input(
    _("Title"), key=K + "title",
    placeholder=_("e.g. Customer database exposed on a test server"),
    help=_("What happened, in a few words (at most 200 characters).")))
left, right = st.columns(2)
with left:
    _field("incident_type", lambda: st.selectbox(
        _("Type"), INCIDENT_TYPES, key=K + "incident_type", index=None,
        format_func=formatter("incident_type"),
        placeholder=_("Choose the type")))
with right:
    _field("reported_by", lambda: st.text_input(
        _("Reported by"), key=K + "reported_by", value=actor.name,
        help=_("Who found or reported it.")))
_field("description", lambda: st.text_area(
    _("Description"), key=K + "description",
    help=_("What is known: how it was found, what data and systems are involved.")))

st.subheader(_("When"), anchor=False)
left, mid, right = st.columns([2, 2, 1])
with left:
    _field("occurred_at", lambda: st.datetime_input(
        _("Occurred"), key=K + "occurred_at", value=None, step=60, format="YYYY-MM-DD",
        help=_("When it happened, if known (leave empty when unknown). It cannot be after "
               "detection.")))
with mid:
    _field("detected_at", lambda: st.datetime_input(
        _("Detected"), key=K + "detected_at", value=now.replace(tzinfo=None, second=0,
                                                                microsecond=0),
        step=60, format="YYYY-MM-DD",
        help=_("When the Platform became aware of it. Every legal clock starts here "
               "(CAC Measures (2025) Art. 4 [V]: 'from discovery').")))
with right:
    _field("timezone", lambda: st.selectbox(
        _("Time zone"), ZONES, key=K + "timezone",
        help=_("The zone of the times above; {zone} by default.").format(zone=ZONE_WORDS)))

st.subheader(_("Who and what is affected"), anchor=False)
left, right = st.columns(2)
with left:
    _field("affected_subjects", lambda: st.text_input(
        _("Affected subjects"), key=K + "affected_subjects", placeholder=_("e.g. 1200000"),
        help=_("People whose personal information is involved: the best estimate now (0 if "
               "none). It sets the suggested grade and starts the users' notice clock.")))
with right:
    _field("affected_sensitive_subjects", lambda: st.text_input(
        _("Of whom with sensitive information"), key=K + "affected_sensitive_subjects",
        value="0",
        help=_("People whose sensitive personal information (PIPL Art. 28 [V]: biometrics, "
               "financial accounts, location; ID card numbers treated as sensitive too) is "
               "involved. At most the affected subjects.")))
SENSITIVE = _(" (sensitive)")
_field("data_categories", lambda: st.multiselect(
    _("Data categories"), list(catalog.categories), key=K + "data_categories",
    format_func=i18n.in_locale(lambda c: inc.category_label(c)
                          + (SENSITIVE if catalog.categories[c].sensitive else "")),
    help=_("From the policy's catalog (policy 2.1–2.4, 3.2).")))
_field("systems_affected", lambda: st.text_input(
    _("Systems affected"), key=K + "systems_affected",
    placeholder=_("e.g. CRM, test server ts-03")))

st.subheader(_("Grading facts"), anchor=False)
st.caption(_("The 2025 reporting measures grade an incident by more than a head count: direct "
             "economic loss and important or core data count too; CII and a suspected crime "
             "switch clocks on. Record what is known now; update it later on the incident's "
             "page."))
left, right = st.columns(2)
with left:
    _field("economic_loss_cny", lambda: st.text_input(
        _("Direct economic loss (yuan)"), key=K + "economic_loss_cny",
        placeholder=_("e.g. 30000000 (empty if not known)"),
        help=_("Direct economic loss in yuan, at most 2 decimals (fen). From "
               "{relatively_major} yuan at least relatively major, "
               "{major} major, "
               "{particularly_major} particularly major "
               "(CAC Measures (2025) Annex).").format(
            relatively_major=f"{settings.grade_relatively_major_loss_cny:,}",
            major=f"{settings.grade_major_loss_cny:,}",
            particularly_major=f"{settings.grade_particularly_major_loss_cny:,}")))
with right:
    _field("important_data_involved", lambda: st.checkbox(
        _("Important or core data involved"), key=K + "important_data_involved",
        help=_("Data catalogued as important or core data (Data Security Law): the project "
               "grades such an incident at least {grade} [P].").format(
            grade=clk.grade_name(settings.grade_important_data_floor))))
    _field("cii_involved", lambda: st.checkbox(
        _("Critical information infrastructure (CII) involved"), key=K + "cii_involved",
        help=_("The incident involves critical information infrastructure: the regulator and "
               "police reports fall due within 1 h (CAC Measures (2025) Art. 4 [V]).")))
    _field("suspected_crime", lambda: st.checkbox(
        _("A crime is suspected"), key=K + "suspected_crime",
        help=_("E.g. intrusion, extortion, data theft: the police are told promptly, whatever "
               "the grade; a clock starts at detection.")))

values = _values()
draft = inc.preview(values, settings, now)
st.subheader(_("Grade"), anchor=False)
suggested = clk.grade_label(draft.suggested_grade)
_field("grade", lambda: st.selectbox(
    _("Grade"), GRADES, key=K + "grade", index=None,
    format_func=formatter("grade"),
    placeholder=_("Suggested: {grade}").format(grade=suggested),
    help=_("National emergency plan grades. Leave empty to use the suggested grade. You may "
           "grade higher; grading lower is an INC-GRADE finding.")))
if draft.reasons:
    st.caption(_("Suggested: **{grade}**, the highest grade any fact implies:").format(
        grade=suggested))
else:
    st.caption(_("Suggested: **{grade}**. {reason}").format(grade=suggested,
                                                           reason=draft.grade_reason))
with st.container(key=K + "grade_reasons"):
    for reason in draft.reasons:
        st.markdown(f"- {reason.text}")
if draft.below_suggestion:
    st.warning(_("Graded {grade}, below the suggested {suggested}: the compliance check will "
                 "report this as an INC-GRADE finding, and the regulator clock may not "
                 "run.").format(grade=clk.grade_words(draft.grade),
                                suggested=clk.grade_words(draft.suggested_grade)),
               icon=":material/warning:")

st.subheader(_("Clocks that will run"), anchor=False)
with st.container(key=K + "preview"):
    for c in draft.clocks:
        if c.deadline is not None:
            line = _("**{title}** by **{deadline}** ({countdown}). {why}").format(
                title=c.title, deadline=clk.show_time(c.deadline, settings.timezone),
                countdown=clk.countdown(c), why=c.why)
        else:
            line = _("**{title}**: {state}. {why}").format(
                title=c.title, state=c.label if is_chinese() else c.label.lower(), why=c.why)
        st.markdown(line, help=help_text[c.key])
    st.caption(" ".join(f"{clk.title(k)}: {help_text[k]}" for k in clk.CLOCK_KEYS))

st.button(_("Log the incident"), key=K + "save", type="primary", on_click=_save,
          icon=":material/add_alert:")
if st.session_state.get(K + "errors"):
    st.error(_("Nothing was saved: correct the fields marked above."), icon=":material/error:")

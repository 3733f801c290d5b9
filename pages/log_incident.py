"""Log an incident: the facts known now, the grade they imply (people affected, direct
economic loss, important data) and why, and the legal clocks that start at detection, shown
with their deadlines before saving (policy 7.2; rules version 2)."""
import uuid

import streamlit as st

from dashboard import clocks as clk
from dashboard import incidents as inc
from dashboard import navigation as nav
from dashboard import ui
from dashboard.access import PermissionDenied
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
    message = st.session_state.get(K + "errors", {}).get(name)
    if message:
        st.error(ui.plain(message), icon=":material/error:")


def _field(name: str, render) -> None:
    """A widget with its error message right under it, in a container keyed by the field."""
    with st.container(key=f"{K}field_{name}"):
        render()
        _error(name)


if K + "instance" not in st.session_state:   # this form instance, until "Log another"
    st.session_state[K + "instance"] = uuid.uuid4().hex
help_text = clk.clock_help(settings)
st.title("Log an incident", anchor=False)
st.caption("Log it now with what is known; correct or complete it later on the incident's "
           "page. The legal clocks start at **detection** (awareness), not when it happened. "
           f"Times without an offset are {settings.timezone} time.")

done = st.session_state.get(K + "done")
if done:
    record = ui.cached(inc.incident_record, incident_id=done)
    st.success(f"Logged as **{done}**. The clocks below are running; record each step on "
               "the incident's page.", icon=":material/check_circle:")
    st.page_link(nav.script("incident"), label=f"Open {done}", icon=":material/timeline:",
                 query_params={"id": done})
    if record is not None:
        for c in clk.incident_clocks(record.row, settings, now):
            deadline = clk.format_time(c.deadline, settings.timezone) if c.deadline else ""
            st.markdown(f"- **{c.title}** — {c.label}"
                        + (f": by {deadline} ({clk.countdown(c)})" if c.deadline else
                           f": {c.why}"))
    st.button("Log another incident", key=K + "another", on_click=_log_another,
              icon=":material/add_alert:")
    st.stop()

_error("form")
_error("token")
_field("title", lambda: st.text_input(
    "Title", key=K + "title", placeholder="e.g. Customer database exposed on a test server",
    help="What happened, in a few words (at most 200 characters)."))
left, right = st.columns(2)
with left:
    _field("incident_type", lambda: st.selectbox(
        "Type", INCIDENT_TYPES, key=K + "incident_type", index=None,
        format_func=inc.TYPE_LABELS.get, placeholder="Choose the type"))
with right:
    _field("reported_by", lambda: st.text_input(
        "Reported by", key=K + "reported_by", value=actor.name,
        help="Who found or reported it."))
_field("description", lambda: st.text_area(
    "Description", key=K + "description",
    help="What is known: how it was found, what data and systems are involved."))

st.subheader("When", anchor=False)
left, mid, right = st.columns([2, 2, 1])
with left:
    _field("occurred_at", lambda: st.datetime_input(
        "Occurred", key=K + "occurred_at", value=None, step=60, format="YYYY-MM-DD",
        help="When it happened, if known (leave empty when unknown). It cannot be after "
             "detection."))
with mid:
    _field("detected_at", lambda: st.datetime_input(
        "Detected", key=K + "detected_at", value=now.replace(tzinfo=None, second=0,
                                                             microsecond=0),
        step=60, format="YYYY-MM-DD",
        help="When the Platform became aware of it. Every legal clock starts here "
             "(CAC Measures (2025) Art. 4 [V]: 'from discovery')."))
with right:
    _field("timezone", lambda: st.selectbox(
        "Time zone", ZONES, key=K + "timezone",
        help=f"The zone of the times above; {settings.timezone} by default."))

st.subheader("Who and what is affected", anchor=False)
left, right = st.columns(2)
with left:
    _field("affected_subjects", lambda: st.text_input(
        "Affected subjects", key=K + "affected_subjects", placeholder="e.g. 1200000",
        help="People whose personal information is involved: the best estimate now (0 if "
             "none). It sets the suggested grade and starts the users' notice clock."))
with right:
    _field("affected_sensitive_subjects", lambda: st.text_input(
        "Of whom with sensitive information", key=K + "affected_sensitive_subjects", value="0",
        help="People whose sensitive personal information (PIPL Art. 28 [V]: biometrics, "
             "financial accounts, location; ID card numbers treated as sensitive too) is "
             "involved. At most the affected subjects."))
_field("data_categories", lambda: st.multiselect(
    "Data categories", list(catalog.categories), key=K + "data_categories",
    format_func=lambda c: catalog.categories[c].label
    + (" (sensitive)" if catalog.categories[c].sensitive else ""),
    help="From the policy's catalog (policy 2.1–2.4, 3.2)."))
_field("systems_affected", lambda: st.text_input(
    "Systems affected", key=K + "systems_affected", placeholder="e.g. CRM, test server ts-03"))

st.subheader("Grading facts", anchor=False)
st.caption("The 2025 reporting measures grade an incident by more than a head count: direct "
           "economic loss and important or core data count too; CII and a suspected crime "
           "switch clocks on. Record what is known now; update it later on the incident's page.")
left, right = st.columns(2)
with left:
    _field("economic_loss_cny", lambda: st.text_input(
        "Direct economic loss (yuan)", key=K + "economic_loss_cny",
        placeholder="e.g. 30000000 (empty if not known)",
        help="Direct economic loss in yuan, at most 2 decimals (fen). From "
             f"{settings.grade_relatively_major_loss_cny:,} yuan at least relatively major, "
             f"{settings.grade_major_loss_cny:,} major, "
             f"{settings.grade_particularly_major_loss_cny:,} particularly major "
             "(CAC Measures (2025) Annex)."))
with right:
    _field("important_data_involved", lambda: st.checkbox(
        "Important or core data involved", key=K + "important_data_involved",
        help="Data catalogued as important or core data (Data Security Law): the project "
             f"grades such an incident at least {clk.grade_name(settings.grade_important_data_floor)} "
             "[P]."))
    _field("cii_involved", lambda: st.checkbox(
        "Critical information infrastructure (CII) involved", key=K + "cii_involved",
        help="The incident involves critical information infrastructure: the regulator and "
             "police reports fall due within 1 h (CAC Measures (2025) Art. 4 [V])."))
    _field("suspected_crime", lambda: st.checkbox(
        "A crime is suspected", key=K + "suspected_crime",
        help="E.g. intrusion, extortion, data theft: the police are told promptly, whatever "
             "the grade; a clock starts at detection."))

values = _values()
draft = inc.preview(values, settings, now)
st.subheader("Grade", anchor=False)
_field("grade", lambda: st.selectbox(
    "Grade", GRADES, key=K + "grade", index=None, format_func=clk.GRADE_LABELS.get,
    placeholder=f"Suggested: {clk.GRADE_LABELS[draft.suggested_grade]}",
    help="National emergency plan grades. Leave empty to use the suggested grade. You may "
         "grade higher; grading lower is an INC-GRADE finding."))
st.caption(f"Suggested: **{clk.GRADE_LABELS[draft.suggested_grade]}**"
           + (", the highest grade any fact implies:" if draft.reasons else
              f". {draft.grade_reason}"))
with st.container(key=K + "grade_reasons"):
    for reason in draft.reasons:
        st.markdown(f"- {reason.text}")
if draft.below_suggestion:
    st.warning(f"Graded {clk.grade_words(draft.grade)}, below the suggested "
               f"{clk.grade_words(draft.suggested_grade)}: the compliance check will report "
               "this as an INC-GRADE finding, and the regulator clock may not run.",
               icon=":material/warning:")

st.subheader("Clocks that will run", anchor=False)
with st.container(key=K + "preview"):
    for c in draft.clocks:
        if c.deadline is not None:
            line = (f"**{c.title}** by **{clk.format_time(c.deadline, settings.timezone)}** "
                    f"({clk.countdown(c)}). {c.why}")
        else:
            line = f"**{c.title}**: {c.label.lower()}. {c.why}"
        st.markdown(line, help=help_text[c.key])
    st.caption(" ".join(f"{clk.TITLES[k]}: {help_text[k]}" for k in clk.CLOCK_KEYS))

st.button("Log the incident", key=K + "save", type="primary", on_click=_save,
          icon=":material/add_alert:")
if st.session_state.get(K + "errors"):
    st.error("Nothing was saved: correct the fields marked above.", icon=":material/error:")

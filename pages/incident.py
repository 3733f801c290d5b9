"""One incident (``?id=INC-2026-0001``): its legal clocks as countdowns (regulator, PI
authority, police, users, summary: rules version 2), the steps still to record, the grading
facts, the corrections, and the append-only timeline (policy 7.2)."""
import datetime as dt
import uuid

import streamlit as st

from dashboard import clocks as clk
from dashboard import incidents as inc
from dashboard import navigation as nav
from dashboard import ui
from dashboard.access import PermissionDenied
from dashboard.reference import load_catalog
from dashboard.registers import GRADES, INCIDENT_TYPES, NOTICE_CONTENTS, NOTIFICATION_CHANNELS

actor = ui.page_guard("incident")
store = ui.get_store()
settings = store.settings
tz = settings.timezone
now = store.now()
catalog = load_catalog()
help_text = clk.clock_help(settings)
state = st.session_state

incident_id = st.query_params.get("id")
if not incident_id:
    st.title("Incident", anchor=False)
    choices = ui.cached(inc.incident_choices)
    if not choices:
        st.info("No incident is logged.", icon=":material/info:")
        st.stop()
    labels = dict(choices)
    picked = st.selectbox("Open an incident", list(labels), key="incident_pick", index=None,
                          format_func=lambda i: f"{i} — {labels[i]}",
                          placeholder="Choose an incident")
    if picked:
        st.query_params["id"] = picked
        st.rerun()
    st.page_link(nav.script("incidents"), label="All incidents, by nearest deadline",
                 icon=":material/emergency:")
    st.stop()

# Widgets of this page are keyed without the id: start clean when the incident changes.
if state.get("incident_page_id") != incident_id:
    for key in [k for k in state if str(k).startswith(("step_", "corr_"))]:
        del state[key]
    state["incident_page_id"] = incident_id

record = ui.cached(inc.incident_record, incident_id=incident_id)
if record is None:
    st.title("Incident", anchor=False)
    st.error(f"No incident **{ui.plain(incident_id)}**.", icon=":material/search_off:")
    st.page_link(nav.script("incidents"), label="All incidents", icon=":material/emergency:")
    st.stop()
row = record.row
may_update = actor.may("incident.update")


def _naive(value):
    """A stored time as the naive Shanghai wall time a datetime widget shows."""
    if value is None:
        return None
    return value.astimezone(store.tz).replace(tzinfo=None)


def _token(prefix: str, values: dict) -> str:
    """Per form instance and content: a double submit sends the same token."""
    key = f"{prefix}instance"
    if key not in state:
        state[key] = uuid.uuid4().hex
    return inc.form_token(state[key], values)


def _error(errors: dict, name: str) -> None:
    if errors.get(name):
        st.error(ui.plain(errors[name]), icon=":material/error:")


# -- header ---------------------------------------------------------------------------
st.title(f"{ui.plain(incident_id)} · {ui.plain(row['title'])}", anchor=False)
st.markdown(
    f":blue-badge[{inc.STATUS_LABELS.get(row['status'], row['status'])}] "
    f":orange-badge[{clk.GRADE_LABELS.get(row['grade'], row['grade'])}] "
    f":gray-badge[{inc.TYPE_LABELS.get(row['incident_type'], row['incident_type'])}]  "
    f"Detected **{clk.format_time(row['detected_at'], tz)}** · occurred "
    f"{clk.format_time(row['occurred_at'], tz)} · "
    f"{inc._fmt_count(row['affected_subjects'])} affected "
    f"({inc._fmt_count(row['affected_sensitive_subjects'])} with sensitive information)")


def _yes_no(value) -> str:
    return "not recorded" if value is None else ("yes" if value else "no")


loss = row.get("economic_loss_cny")
with st.container(key="grading_facts"):
    st.markdown(
        "Direct economic loss: **"
        + (f"{clk.format_yuan(loss)} yuan" if loss is not None else "not recorded")
        + f"** · important or core data: **{_yes_no(row.get('important_data_involved'))}**"
        + f" · CII involved: **{_yes_no(row.get('cii_involved'))}**"
        + f" · crime suspected: **{_yes_no(row.get('suspected_crime'))}**")
    suggestion = clk.implied_grade(row, settings)
    st.caption(f"Its facts imply **{clk.GRADE_LABELS[suggestion.grade]}**"
               + (": " + "; ".join(r.text for r in suggestion.reasons) + "."
                  if suggestion.reasons else f". {suggestion.text}"))
st.caption(f"All times are {tz} time. Now: {clk.format_time(now, tz)}.")

flash = state.pop("incident_flash", None)
if flash:
    st.success(ui.plain(flash), icon=":material/check_circle:")

# -- clocks -----------------------------------------------------------------------------
st.subheader("Legal clocks", anchor=False)
ICONS = {clk.OVERDUE: ":material/alarm:", clk.DUE: ":material/hourglass_top:",
         clk.MET: ":material/check_circle:", clk.LATE: ":material/running_with_errors:",
         clk.EXEMPT: ":material/do_not_disturb_on:",
         clk.NOT_APPLICABLE: ":material/remove_circle_outline:"}
COLORS = {clk.OVERDUE: "red", clk.DUE: "orange", clk.MET: "green", clk.LATE: "violet",
          clk.EXEMPT: "blue", clk.NOT_APPLICABLE: "gray"}
DONE_BY = {"regulator_reported_at": " (the regulator report)",
           "pi_authority_notified_at": " (the PI authority's notice)"}


def _clock_card(c) -> None:
    with st.container(border=True, key=f"clock_{c.key}"):
        st.markdown(f"**{c.title}**", help=help_text[c.key])
        st.markdown(f":{COLORS[c.state]}-badge[{ICONS[c.state]} {c.label}] "
                    + (f"**{clk.countdown(c)}**"
                       if c.state not in (clk.NOT_APPLICABLE, clk.EXEMPT) else ""))
        if c.deadline is not None:
            st.markdown(f"Deadline: **{clk.format_time(c.deadline, tz)}**")
        if c.done_at is not None:
            st.markdown(f"Done: {clk.format_time(c.done_at, tz)}"
                        + (DONE_BY.get(c.done_by, "") if c.key == "pi_authority" else ""))
        if c.detail is not None:
            st.markdown(f"Reason recorded: {ui.plain(c.detail)}")
        st.caption(f"{c.why} Source: {c.source}; rule {c.rule_id}.")


# The clocks tick without a click: this part alone re-runs every clock_refresh_seconds,
# at the store's clock, with the incident as recorded now (another user's step shows).
TICK = int(settings.clock_refresh_seconds) or None


@st.fragment(run_every=TICK)
def _clocks() -> None:
    at = store.now()
    current = ui.cached(inc.incident_record, incident_id=incident_id) or record
    st.caption(f"Clocks as of {at.astimezone(store.tz):%Y-%m-%d %H:%M:%S} ({tz} time)"
               + (f", redrawn every {TICK} s while this page is open." if TICK else "."),
               help="The setting clock_refresh_seconds sets how often (Settings page).")
    shown_clocks = clk.incident_clocks(current.row, settings, at)
    for start in range(0, len(shown_clocks), 3):
        for column, c in zip(st.columns(3), shown_clocks[start:start + 3]):
            with column:
                _clock_card(c)
    for f in clk.incident_flags(current.row, settings, at, current.last_event_at):
        st.warning(f"**{f.rule_id}** — {ui.plain(f.message)}", icon=":material/flag:")


_clocks()


# -- record a step ------------------------------------------------------------------------
def _step_values(kind: str) -> dict:
    step = inc.STEPS[kind]
    values = {"at": state.get(f"step_{kind}_at")} if step.timed and kind != "note" else {}
    for name in step.fields:
        if name == "notice_contents":
            values[name] = [c for c in NOTICE_CONTENTS if state.get(f"step_{kind}_content_{c}")]
        else:
            values[name] = state.get(f"step_{kind}_{name}")
        if name in inc.FLAG_FIELDS and values[name] is False and row.get(name) is None:
            values[name] = None      # an unticked box leaves "not recorded" as it was
    return values


def _record(kind: str) -> None:
    # Callbacks run before the script (and its session checks): act as whoever the
    # session is now, not as the actor of the run that drew the button.
    acting = ui.callback_actor("incident")
    if acting is None:
        return
    values = _step_values(kind)
    try:
        result = inc.record_step(store, acting, incident_id, kind, values,
                                 token=_token(f"step_{kind}_", values))
    except inc.ValidationError as exc:
        state["step_errors"] = {kind: exc.errors}
        return
    except PermissionDenied as exc:
        state["step_errors"] = {kind: {"step": str(exc)}}
        return
    state["step_errors"] = {}
    state["step_kind"] = None   # set, not popped: the box in the browser shows no step again
    for key in [k for k in state if str(k).startswith(f"step_{kind}_")
                and not str(k).endswith("instance")]:
        del state[key]
    state["incident_flash"] = (f"Recorded: {inc.STEPS[kind].title} "
                               f"(timeline event #{result.event_id}).")


def _grading_preview(kind: str) -> None:
    """The grade the facts as typed imply, and why, before recording them."""
    values = {**row, **{k: v for k, v in _step_values(kind).items() if k != "grade"}}
    loss = inc.parse_amount(values.get("economic_loss_cny")) if values.get(
        "economic_loss_cny") not in (None, "") else None
    values["economic_loss_cny"] = loss if loss is not None and loss >= 0 else None
    suggestion = clk.implied_grade(values, settings)
    chosen = state.get(f"step_{kind}_grade") or row["grade"]
    with st.container(key=f"step_{kind}_suggestion"):
        st.caption(f"These facts imply **{clk.GRADE_LABELS[suggestion.grade]}**"
                   + (": " + "; ".join(r.text for r in suggestion.reasons) + "."
                      if suggestion.reasons else "."))
        if clk.grade_rank(chosen) < clk.grade_rank(suggestion.grade):
            st.warning(f"Graded {clk.grade_words(chosen)}, below the "
                       f"{clk.grade_words(suggestion.grade)} these facts imply: an INC-GRADE "
                       "finding. Raise the grade with the facts.", icon=":material/warning:")


def _step_form(kind: str) -> None:
    step = inc.STEPS[kind]
    errors = (state.get("step_errors") or {}).get(kind, {})
    st.caption(step.help)
    _error(errors, "step")
    _error(errors, "token")
    _error(errors, "grading_facts")
    if step.timed and kind != "note":
        with st.container(key=f"step_field_{kind}_at"):
            st.datetime_input(
                f"{step.title}: when", key=f"step_{kind}_at", step=60, format="YYYY-MM-DD",
                value=now.replace(tzinfo=None, second=0, microsecond=0),
                help=f"When it happened ({tz} time). Not before detection, not in the future.")
            _error(errors, "at")
    for name in step.fields:
        with st.container(key=f"step_field_{kind}_{name}"):
            key = f"step_{kind}_{name}"
            label = inc.LABELS[name] + ("" if name in step.required else " (optional)")
            if name == "notification_channels":
                st.multiselect(label, NOTIFICATION_CHANNELS, key=key,
                               format_func=inc.CHANNEL_LABELS.get,
                               help="Policy 7.2: email, notification, announcement, etc.; "
                                    "NDSMR Art. 11 [V] adds phone and SMS.")
            elif name == "notice_contents":
                st.markdown("**What the notice says** — PIPL Art. 57 [V] requires all six:")
                for c in NOTICE_CONTENTS:
                    st.checkbox(inc.CONTENT_LABELS[c], key=f"step_{kind}_content_{c}")
                ticked = sum(bool(state.get(f"step_{kind}_content_{c}")) for c in NOTICE_CONTENTS)
                if ticked < len(NOTICE_CONTENTS):
                    st.caption(f"{ticked} of {len(NOTICE_CONTENTS)} ticked: a notice without all "
                               "six is an INC-NOTICE-CONTENT finding.")
            elif name in ("root_cause", "remediation", "close_reason", "text"):
                st.text_area(label, key=key)
            elif name == "exemption_reason":
                st.text_area(label, key=key, max_chars=inc._CAPS[name],
                             placeholder="e.g. The leaked file was encrypted (AES-256) and the "
                                         "key was not exposed: no one can read it.",
                             help="PIPL Art. 57 ¶2 [V]: the measures taken effectively avoid "
                                  "harm. Required; shown on the incident page as typed.")
            elif name in inc.FLAG_FIELDS:
                st.checkbox(inc.LABELS[name], key=key, value=bool(row.get(name)))
            elif name == "economic_loss_cny":
                current = row.get(name)
                st.text_input(inc.LABELS[name], key=key,
                              value="" if current is None else clk.format_yuan(current),
                              placeholder="e.g. 30000000",
                              help="Yuan, at most 2 decimals; empty: not known.")
            elif name == "grade":
                st.selectbox("Grade", GRADES, key=key, format_func=clk.GRADE_LABELS.get,
                             index=GRADES.index(row["grade"]) if row["grade"] in GRADES
                             else None,
                             help="Raise it when the facts imply more; grading below what "
                                  "they imply is an INC-GRADE finding.")
                _grading_preview(kind)
            else:
                st.text_input(label, key=key, placeholder={
                    "regulator": "e.g. Guangdong Provincial CAC",
                    "pi_authority": "e.g. Guangdong Provincial CAC (PI protection)",
                    "audience": "e.g. all 1.2 million affected users"}.get(name, ""))
            _error(errors, name)
    title = step.title if step.title[1:2].isupper() else step.title[0].lower() + step.title[1:]
    st.button(f"Record: {title}", key=f"step_{kind}_save", type="primary",
              on_click=_record, args=(kind,))


st.subheader("Record a step", anchor=False)
if not may_update:
    st.info(f"Your role ({actor.role}) can follow incidents; recording steps needs a manager "
            "or the DPO.", icon=":material/visibility:")
else:
    allowed = inc.allowed_steps(record)
    kind = st.selectbox("Step", allowed, key="step_kind", format_func=lambda k:
                        inc.STEPS[k].title, index=None, placeholder="Choose the step to record")
    if kind:
        _step_form(kind)
    blocked = {k: r for k, r in inc.blocked_steps(record).items()}
    if blocked:
        with st.expander("Steps not possible now, and why"):
            for k, reason in blocked.items():
                st.markdown(f"- **{inc.STEPS[k].title}** — {ui.plain(reason)}")
    st.caption("Status moves only forward: open → contained → resolved → closed.")

# -- timeline -----------------------------------------------------------------------------
st.subheader("Timeline", anchor=False)
timeline = ui.cached(inc.incident_timeline, incident_id=incident_id)
with st.container(key="timeline"):
    shown = timeline.assign(kind=timeline["kind"].map(
        lambda k: inc.KIND_LABELS.get(k, str(k).replace("_", " ").capitalize())))
    st.dataframe(
        shown, hide_index=True,
        column_order=["event_id", "at", "kind", "detail", "actor", "role", "recorded_at",
                      "supersedes", "superseded_by"],
        column_config={
            "event_id": st.column_config.NumberColumn("#", format="%d"),
            "at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
            "kind": st.column_config.TextColumn("What"),
            "detail": st.column_config.TextColumn("Detail", width="large"),
            "actor": st.column_config.TextColumn("Who"),
            "role": st.column_config.TextColumn("Role"),
            "recorded_at": st.column_config.DatetimeColumn(
                "Recorded", format="YYYY-MM-DD HH:mm", help="When it was entered."),
            "supersedes": st.column_config.NumberColumn(
                "Corrects #", format="%d", help="The event this correction supersedes."),
            "superseded_by": st.column_config.NumberColumn(
                "Corrected by #", format="%d", help="A later correction supersedes it."),
        })
    st.caption("Append-only: a correction is a new event that supersedes an earlier one; "
               "nothing is edited in place or deleted.")


# -- corrections ---------------------------------------------------------------------------
def _corr_values(target: str) -> dict:
    names = inc.FACT_FIELDS if target == "facts" else (
        ("at",) * inc.STEPS[target].timed + inc.STEPS[target].fields)
    current = inc.current_values(record, target)
    values = {}
    for name in names:
        if name == "notice_contents":
            values[name] = [c for c in NOTICE_CONTENTS if state.get(f"corr_{target}_content_{c}")]
        else:
            values[name] = state.get(f"corr_{target}_{name}")
        old = current.get(name)
        if isinstance(values[name], dt.datetime) and old is not None and \
                values[name] == _naive(old).replace(second=0, microsecond=0):
            values[name] = old   # the widget shows minutes: an untouched time keeps its seconds
        if name in inc.FLAG_FIELDS and values[name] is False and old is None:
            values[name] = None  # an unticked box leaves "not recorded" as it was
    return values


def _correct(target: str) -> None:
    acting = ui.callback_actor("incident")   # see _record
    if acting is None:
        return
    values = _corr_values(target)
    reason = state.get("corr_reason")
    try:
        result = inc.correct(store, acting, incident_id, target, values, reason,
                             token=_token(f"corr_{target}_", {**values, "reason": reason}))
    except inc.ValidationError as exc:
        state["corr_errors"] = exc.errors
        return
    except PermissionDenied as exc:
        state["corr_errors"] = {"changes": str(exc)}
        return
    state["corr_errors"] = {}
    for key in [k for k in state if str(k).startswith((f"corr_{target}_", "corr_reason"))
                and not str(k).endswith("instance")]:
        del state[key]
    state["incident_flash"] = (f"Correction recorded (timeline event #{result.event_id}); the "
                               "earlier value stays on the timeline.")


def _corr_widget(target: str, name: str, current) -> None:
    key = f"corr_{target}_{name}"
    label = inc.LABELS[name]
    if name in ("at", "occurred_at", "detected_at"):
        st.datetime_input(label, key=key, value=_naive(current), step=60, format="YYYY-MM-DD")
    elif name == "incident_type":
        st.selectbox(label, INCIDENT_TYPES, key=key, format_func=inc.TYPE_LABELS.get,
                     index=INCIDENT_TYPES.index(current) if current in INCIDENT_TYPES else None)
    elif name == "grade":
        st.selectbox(label, GRADES, key=key, format_func=clk.GRADE_LABELS.get,
                     index=GRADES.index(current) if current in GRADES else None)
    elif name in ("affected_subjects", "affected_sensitive_subjects"):
        st.text_input(label, key=key, value="" if current is None else str(current))
    elif name == "economic_loss_cny":
        st.text_input(label, key=key, value="" if current is None else clk.format_yuan(current))
    elif name in inc.FLAG_FIELDS:
        st.checkbox(label, key=key, value=bool(current))
    elif name == "data_categories":
        st.multiselect(label, list(catalog.categories), key=key,
                       default=[c for c in (current or []) if c in catalog.categories],
                       format_func=lambda c: catalog.categories[c].label)
    elif name == "notification_channels":
        st.multiselect(label, NOTIFICATION_CHANNELS, key=key, format_func=inc.CHANNEL_LABELS.get,
                       default=[c for c in (current or []) if c in NOTIFICATION_CHANNELS])
    elif name == "notice_contents":
        st.markdown(f"**{label}** (PIPL Art. 57 [V])")
        for c in NOTICE_CONTENTS:
            st.checkbox(inc.CONTENT_LABELS[c], key=f"corr_{target}_content_{c}",
                        value=c in (current or []))
    elif name in ("description", "root_cause", "remediation", "close_reason",
                  "exemption_reason"):
        st.text_area(label, key=key, value=current or "")
    else:
        st.text_input(label, key=key, value=current or "")


if may_update:
    with st.expander("Correct the record"):
        st.caption("Fix a wrong value: the correction is a new timeline event that supersedes "
                   "the earlier one, with your reason; the row takes the corrected value.")
        errors = state.get("corr_errors") or {}
        targets = inc.correction_targets(record)
        target = st.selectbox("What to correct", targets, key="corr_target",
                              format_func=inc.TARGET_TITLES.get)
        current = inc.current_values(record, target)
        _error(errors, "target")
        _error(errors, "changes")
        for name, value in current.items():
            with st.container(key=f"corr_field_{name}"):
                _corr_widget(target, name, value)
                _error(errors, name)
        with st.container(key="corr_field_reason"):
            st.text_input("Reason for the correction", key="corr_reason")
            _error(errors, "reason")
        st.button("Record the correction", key="corr_save", on_click=_correct, args=(target,))

# -- facts ---------------------------------------------------------------------------------
with st.expander("Facts recorded", expanded=False):
    categories = ", ".join(catalog.categories[c].label if c in catalog.categories else c
                           for c in (row.get("data_categories") or [])) or "—"
    facts = [
        ("Description", row.get("description") or "—"),
        ("Reported by", row.get("reported_by") or "—"),
        ("Data categories", categories),
        ("Systems affected", row.get("systems_affected") or "—"),
        ("Emergency plan activated", clk.format_time(row.get("emergency_plan_activated_at"), tz)),
        ("Contained", clk.format_time(row.get("contained_at"), tz)),
        ("Regulator", " · ".join(x for x in (row.get("regulator"),
                                             row.get("regulator_reference")) if x) or "—"),
        ("Police reported", clk.format_time(row.get("police_reported_at"), tz)),
        ("PI authority notified", clk.format_time(row.get("pi_authority_notified_at"), tz)),
        ("Exemption from the users' notice (PIPL Art. 57 ¶2)",
         row.get("user_notice_exemption") or "—"),
        ("Notice channels", ", ".join(inc.CHANNEL_LABELS.get(c, c)
                                      for c in (row.get("notification_channels") or [])) or "—"),
        ("Notice contents", ", ".join(c.replace("_", " ")
                                      for c in (row.get("notice_contents") or [])) or "—"),
        ("Root cause", row.get("root_cause") or "—"),
        ("Remediation", row.get("remediation") or "—"),
        ("Closed", clk.format_time(record.closed_at, tz)),
    ]
    for label, value in facts:
        st.markdown(f"**{label}:** {ui.plain(value)}")

st.page_link(nav.script("incidents"), label="All incidents", icon=":material/emergency:")

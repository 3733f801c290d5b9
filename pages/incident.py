"""One incident (``?id=INC-2026-0001``): its legal clocks as countdowns (regulator, PI
authority, police, users, summary: rules version 2), the steps still to record, the grading
facts, the corrections, and the append-only timeline (policy 7.2)."""
import datetime as dt
import uuid

import streamlit as st

from dashboard import ui_documents, ui_evidence
from dashboard import clocks as clk
from dashboard import incidents as inc
from dashboard import navigation as nav
from dashboard import i18n, ui
from dashboard.access import PermissionDenied
from dashboard.i18n import (N_, _, actor_label, fmt_datetime, formatter, is_chinese, label,
                            label_list)
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
ZONE_WORDS = (_("Beijing time") if tz == "Asia/Shanghai" else _("{tz} time").format(tz=tz))

incident_id = st.query_params.get("id")
if not incident_id:
    st.title(_("Incident"), anchor=False)
    choices = ui.cached(inc.incident_choices)
    if not choices:
        st.info(_("No incident is logged."), icon=":material/info:")
        st.stop()
    labels = dict(choices)
    picked = st.selectbox(_("Open an incident"), list(labels), key="incident_pick", index=None,
                          format_func=lambda i: f"{i} — {labels[i]}",
                          placeholder=_("Choose an incident"))
    if picked:
        st.query_params["id"] = picked
        st.rerun()
    st.page_link(nav.script("incidents"), label=_("All incidents, by nearest deadline"),
                 icon=":material/emergency:")
    st.stop()

# Widgets of this page are keyed without the id: start clean when the incident changes.
if state.get("incident_page_id") != incident_id:
    for key in [k for k in state if str(k).startswith(("step_", "corr_"))]:
        del state[key]
    state["incident_page_id"] = incident_id

record = ui.cached(inc.incident_record, incident_id=incident_id)
if record is None:
    st.title(_("Incident"), anchor=False)
    st.error(_("No incident **{id}**.").format(id=ui.plain(incident_id)),
             icon=":material/search_off:")
    st.page_link(nav.script("incidents"), label=_("All incidents"), icon=":material/emergency:")
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


# -- header ---------------------------------------------------------------------------
st.title(f"{ui.plain(incident_id)} · {ui.plain(row['title'])}", anchor=False)
st.markdown(
    f":blue-badge[{label('incident_status', row['status'])}] "
    f":orange-badge[{clk.grade_label(row['grade'])}] "
    f":gray-badge[{label('incident_type', row['incident_type'])}]  "
    + _("Detected **{detected}** · occurred {occurred} · {affected} affected "
        "({sensitive} with sensitive information)").format(
        detected=clk.show_time(row["detected_at"], tz),
        occurred=clk.show_time(row["occurred_at"], tz),
        affected=inc.fmt_count(row["affected_subjects"]),
        sensitive=inc.fmt_count(row["affected_sensitive_subjects"])))

_yes_no = clk.yes_no
loss = row.get("economic_loss_cny")
with st.container(key="grading_facts"):
    st.markdown(_("Direct economic loss: **{loss}** · important or core data: **{important}** "
                  "· CII involved: **{cii}** · crime suspected: **{crime}**").format(
        loss=(_("{amount} yuan").format(amount=clk.format_yuan(loss)) if loss is not None
              else _("not recorded")),
        important=_yes_no(row.get("important_data_involved")),
        cii=_yes_no(row.get("cii_involved")), crime=_yes_no(row.get("suspected_crime"))))
    suggestion = clk.implied_grade(row, settings)
    if suggestion.reasons:
        st.caption(_("Its facts imply **{grade}**: {reasons}").format(
            grade=clk.grade_label(suggestion.grade),
            reasons=clk.semicolon().join(r.text for r in suggestion.reasons))
            + clk.full_stop())
    else:
        st.caption(_("Its facts imply **{grade}**. {reason}").format(
            grade=clk.grade_label(suggestion.grade), reason=suggestion.text))
st.caption(_("All times are {zone}. Now: {now}.").format(
    zone=_("Beijing time") if tz == "Asia/Shanghai" else _("{tz} time").format(tz=tz),
    now=clk.show_time(now, tz)))

flash = state.pop("incident_flash", None)
if flash:
    st.success(ui.plain(flash), icon=":material/check_circle:")

# -- clocks -----------------------------------------------------------------------------
st.subheader(_("Legal clocks"), anchor=False)
ICONS = {clk.OVERDUE: ":material/alarm:", clk.DUE: ":material/hourglass_top:",
         clk.MET: ":material/check_circle:", clk.LATE: ":material/running_with_errors:",
         clk.EXEMPT: ":material/do_not_disturb_on:",
         clk.NOT_APPLICABLE: ":material/remove_circle_outline:"}
COLORS = {clk.OVERDUE: "red", clk.DUE: "orange", clk.MET: "green", clk.LATE: "violet",
          clk.EXEMPT: "blue", clk.NOT_APPLICABLE: "gray"}
DONE_BY = {"regulator_reported_at": N_(" (the regulator report)"),
           "pi_authority_notified_at": N_(" (the PI authority's notice)")}


def _clock_card(c) -> None:
    with st.container(border=True, key=f"clock_{c.key}"):
        st.markdown(f"**{c.title}**", help=help_text[c.key])
        st.markdown(f":{COLORS[c.state]}-badge[{ICONS[c.state]} {c.label}] "
                    + (f"**{clk.countdown(c)}**"
                       if c.state not in (clk.NOT_APPLICABLE, clk.EXEMPT) else ""))
        if c.deadline is not None:
            st.markdown(_("Deadline: **{deadline}**").format(deadline=clk.show_time(c.deadline,
                                                                                    tz)))
        if c.done_at is not None:
            by = _(DONE_BY[c.done_by]) if c.key == "pi_authority" and c.done_by in DONE_BY \
                else ""
            st.markdown(_("Done: {when}").format(when=clk.show_time(c.done_at, tz)) + by)
        if c.detail is not None:
            st.markdown(_("Reason recorded: {reason}").format(reason=ui.plain(c.detail)))
        st.caption(_("{why} Source: {source}; rule {rule}.").format(why=c.why, source=c.source,
                                                                    rule=c.rule_id))


# The clocks tick without a click: this part alone re-runs every clock_refresh_seconds,
# at the store's clock, with the incident as recorded now (another user's step shows).
TICK = int(settings.clock_refresh_seconds) or None


@st.fragment(run_every=TICK)
def _clocks() -> None:
    at = store.now()
    current = ui.cached(inc.incident_record, incident_id=incident_id) or record
    as_of = fmt_datetime(at, tz=tz if isinstance(tz, str) else store.tz.key, seconds=True)
    st.caption(_("Clocks as of {when}, redrawn every {seconds} s while this page is "
                 "open.").format(when=as_of, seconds=TICK) if TICK
               else _("Clocks as of {when}.").format(when=as_of),
               help=_("The setting clock_refresh_seconds sets how often (Settings page)."))
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
    state["incident_flash"] = _("Recorded: {step} (timeline event #{event}).").format(
        step=inc.step_title(kind), event=result.event_id)


def _grading_preview(kind: str) -> None:
    """The grade the facts as typed imply, and why, before recording them."""
    values = {**row, **{k: v for k, v in _step_values(kind).items() if k != "grade"}}
    loss = inc.parse_amount(values.get("economic_loss_cny")) if values.get(
        "economic_loss_cny") not in (None, "") else None
    values["economic_loss_cny"] = loss if loss is not None and loss >= 0 else None
    suggestion = clk.implied_grade(values, settings)
    chosen = state.get(f"step_{kind}_grade") or row["grade"]
    with st.container(key=f"step_{kind}_suggestion"):
        if suggestion.reasons:
            st.caption(_("These facts imply **{grade}**: {reasons}").format(
                grade=clk.grade_label(suggestion.grade),
                reasons=clk.semicolon().join(r.text for r in suggestion.reasons))
                + clk.full_stop())
        else:
            st.caption(_("These facts imply **{grade}**.").format(
                grade=clk.grade_label(suggestion.grade)))
        if clk.grade_rank(chosen) < clk.grade_rank(suggestion.grade):
            st.warning(_("Graded {grade}, below the {implied} these facts imply: an INC-GRADE "
                         "finding. Raise the grade with the facts.").format(
                grade=clk.grade_words(chosen), implied=clk.grade_words(suggestion.grade)),
                icon=":material/warning:")


PLACEHOLDERS = {"regulator": N_("e.g. Guangdong Provincial CAC"),
                "pi_authority": N_("e.g. Guangdong Provincial CAC (PI protection)"),
                "audience": N_("e.g. all 1.2 million affected users")}


def _step_form(kind: str) -> None:
    step = inc.STEPS[kind]
    errors = (state.get("step_errors") or {}).get(kind, {})
    st.caption(inc.step_help(kind))
    ui.field_error(errors, "step")
    ui.field_error(errors, "token")
    ui.field_error(errors, "grading_facts")
    if step.timed and kind != "note":
        with st.container(key=f"step_field_{kind}_at"):
            st.datetime_input(
                _("{step}: when").format(step=inc.step_title(kind)), key=f"step_{kind}_at",
                step=60, format="YYYY-MM-DD",
                value=now.replace(tzinfo=None, second=0, microsecond=0),
                help=_("When it happened ({zone}). Not before detection, not in the "
                       "future.").format(zone=ZONE_WORDS))
            ui.field_error(errors, "at")
    for name in step.fields:
        with st.container(key=f"step_field_{kind}_{name}"):
            key = f"step_{kind}_{name}"
            label = inc.field_label(name) + ("" if name in step.required else _(" (optional)"))
            if name == "notification_channels":
                st.multiselect(label, NOTIFICATION_CHANNELS, key=key,
                               format_func=formatter("notification_channel"),
                               help=_("Policy 7.2: email, notification, announcement, etc.; "
                                      "NDSMR Art. 11 [V] adds phone and SMS."))
            elif name == "notice_contents":
                st.markdown(_("**What the notice says** — PIPL Art. 57 [V] requires all six:"))
                for c in NOTICE_CONTENTS:
                    st.checkbox(inc.content_label(c), key=f"step_{kind}_content_{c}")
                ticked = sum(bool(state.get(f"step_{kind}_content_{c}")) for c in NOTICE_CONTENTS)
                if ticked < len(NOTICE_CONTENTS):
                    st.caption(_("{ticked} of {total} ticked: a notice without all six is an "
                                 "INC-NOTICE-CONTENT finding.").format(
                        ticked=ticked, total=len(NOTICE_CONTENTS)))
            elif name in ("root_cause", "remediation", "close_reason", "text"):
                st.text_area(label, key=key)
            elif name == "exemption_reason":
                st.text_area(label, key=key, max_chars=inc._CAPS[name],
                             placeholder=_("e.g. The leaked file was encrypted (AES-256) and "
                                           "the key was not exposed: no one can read it."),
                             help=_("PIPL Art. 57 ¶2 [V]: the measures taken effectively avoid "
                                    "harm. Required; shown on the incident page as typed."))
            elif name in inc.FLAG_FIELDS:
                st.checkbox(inc.field_label(name), key=key, value=bool(row.get(name)))
            elif name == "economic_loss_cny":
                current = row.get(name)
                st.text_input(inc.field_label(name), key=key,
                              value="" if current is None else clk.format_yuan(current),
                              placeholder=_("e.g. 30000000"),
                              help=_("Yuan, at most 2 decimals; empty: not known."))
            elif name == "grade":
                st.selectbox(_("Grade"), GRADES, key=key,
                             format_func=formatter("grade"),
                             index=GRADES.index(row["grade"]) if row["grade"] in GRADES
                             else None,
                             help=_("Raise it when the facts imply more; grading below what "
                                    "they imply is an INC-GRADE finding."))
                _grading_preview(kind)
            else:
                hint = PLACEHOLDERS.get(name)
                st.text_input(label, key=key, placeholder=_(hint) if hint else "")
            ui.field_error(errors, name)
    title = inc.step_title(kind)
    if not is_chinese() and not title[1:2].isupper():
        title = title[0].lower() + title[1:]
    st.button(_("Record: {step}").format(step=title), key=f"step_{kind}_save", type="primary",
              on_click=_record, args=(kind,))


st.subheader(_("Record a step"), anchor=False)
if not may_update:
    st.info(_("Your role ({role}) can follow incidents; recording steps needs a manager "
              "or the DPO.").format(role=label("role", actor.role)), icon=":material/visibility:")
else:
    allowed = inc.allowed_steps(record)
    kind = st.selectbox(_("Step"), allowed, key="step_kind",
                        format_func=i18n.in_locale(inc.step_title),
                        index=None, placeholder=_("Choose the step to record"))
    if kind:
        _step_form(kind)
    blocked = {k: r for k, r in inc.blocked_steps(record).items()}
    if blocked:
        with st.expander(_("Steps not possible now, and why")):
            for k, reason in blocked.items():
                st.markdown(f"- **{inc.step_title(k)}** — {ui.plain(reason)}")
    st.caption(_("Status moves only forward: {path}.").format(path=" → ".join(
        label("incident_status", s) if is_chinese() else s
        for s in ("open", "contained", "resolved", "closed"))))

# -- timeline -----------------------------------------------------------------------------
st.subheader(_("Timeline"), anchor=False)
timeline = ui.cached(inc.incident_timeline, incident_id=incident_id)
with st.container(key="timeline"):
    # Stored text stays as written (English); codes in it (a seeder's "contents:
    # possible_harm") are shown in words where the app knows how (i18n.words_in).
    words_in = getattr(i18n, "words_in", None)
    detail = (timeline["detail"].map(lambda t: words_in(t, grades=False)) if words_in
              else timeline["detail"])
    shown = timeline.assign(kind=timeline["kind"].map(inc.kind_label), detail=detail,
                            actor=timeline["actor"].map(actor_label),
                            role=timeline["role"].map(lambda r: label("role", r)))
    st.dataframe(
        shown, hide_index=True,
        column_order=["event_id", "at", "kind", "detail", "actor", "role", "recorded_at",
                      "supersedes", "superseded_by"],
        column_config={
            "event_id": st.column_config.NumberColumn("#", format="%d"),
            "at": st.column_config.DatetimeColumn(_("When"), format="YYYY-MM-DD HH:mm"),
            "kind": st.column_config.TextColumn(_("What")),
            "detail": st.column_config.TextColumn(
                _("Detail"), width="large",
                help=_("As recorded, in English: the timeline's text is kept as written.")),
            "actor": st.column_config.TextColumn(_("Who")),
            "role": st.column_config.TextColumn(_("Role")),
            "recorded_at": st.column_config.DatetimeColumn(
                _("Recorded"), format="YYYY-MM-DD HH:mm", help=_("When it was entered.")),
            "supersedes": st.column_config.NumberColumn(
                _("Corrects #"), format="%d", help=_("The event this correction supersedes.")),
            "superseded_by": st.column_config.NumberColumn(
                _("Corrected by #"), format="%d", help=_("A later correction supersedes it.")),
        })
    st.caption(_("Append-only: a correction is a new event that supersedes an earlier one; "
                 "nothing is edited in place or deleted."))


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
    state["incident_flash"] = _("Correction recorded (timeline event #{event}); the earlier "
                                "value stays on the timeline.").format(event=result.event_id)


def _corr_widget(target: str, name: str, current) -> None:
    key = f"corr_{target}_{name}"
    label = inc.field_label(name)
    if name in ("at", "occurred_at", "detected_at"):
        st.datetime_input(label, key=key, value=_naive(current), step=60, format="YYYY-MM-DD")
    elif name == "incident_type":
        st.selectbox(label, INCIDENT_TYPES, key=key,
                     format_func=formatter("incident_type"),
                     index=INCIDENT_TYPES.index(current) if current in INCIDENT_TYPES else None)
    elif name == "grade":
        st.selectbox(label, GRADES, key=key, format_func=formatter("grade"),
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
                       format_func=i18n.in_locale(inc.category_label))
    elif name == "notification_channels":
        st.multiselect(label, NOTIFICATION_CHANNELS, key=key,
                       format_func=formatter("notification_channel"),
                       default=[c for c in (current or []) if c in NOTIFICATION_CHANNELS])
    elif name == "notice_contents":
        st.markdown(_("**{label}** (PIPL Art. 57 [V])").format(label=label))
        for c in NOTICE_CONTENTS:
            st.checkbox(inc.content_label(c), key=f"corr_{target}_content_{c}",
                        value=c in (current or []))
    elif name in ("description", "root_cause", "remediation", "close_reason",
                  "exemption_reason"):
        st.text_area(label, key=key, value=current or "")
    else:
        st.text_input(label, key=key, value=current or "")


if may_update:
    with st.expander(_("Correct the record")):
        st.caption(_("Fix a wrong value: the correction is a new timeline event that supersedes "
                     "the earlier one, with your reason; the row takes the corrected value."))
        errors = state.get("corr_errors") or {}
        targets = inc.correction_targets(record)
        target = st.selectbox(_("What to correct"), targets, key="corr_target",
                              format_func=i18n.in_locale(inc.target_title))
        current = inc.current_values(record, target)
        ui.field_error(errors, "target")
        ui.field_error(errors, "changes")
        for name, value in current.items():
            with st.container(key=f"corr_field_{name}"):
                _corr_widget(target, name, value)
                ui.field_error(errors, name)
        with st.container(key="corr_field_reason"):
            st.text_input(_("Reason for the correction"), key="corr_reason")
            ui.field_error(errors, "reason")
        st.button(_("Record the correction"), key="corr_save", on_click=_correct,
                  args=(target,))

# -- facts ---------------------------------------------------------------------------------
with st.expander(_("Facts recorded"), expanded=False):
    sep = "、" if is_chinese() else ", "
    categories = sep.join(inc.category_label(c)
                          for c in (row.get("data_categories") or [])) or "—"
    facts = [
        (_("Description"), row.get("description") or "—"),
        (_("Reported by"), row.get("reported_by") or "—"),
        (_("Data categories"), categories),
        (_("Systems affected"), row.get("systems_affected") or "—"),
        (_("Emergency plan activated"),
         clk.show_time(row.get("emergency_plan_activated_at"), tz)),
        (_("Contained"), clk.show_time(row.get("contained_at"), tz)),
        (_("Regulator"), " · ".join(x for x in (row.get("regulator"),
                                                row.get("regulator_reference")) if x) or "—"),
        (_("Police reported"), clk.show_time(row.get("police_reported_at"), tz)),
        (_("PI authority notified"), clk.show_time(row.get("pi_authority_notified_at"), tz)),
        (_("Exemption from the users' notice (PIPL Art. 57 ¶2)"),
         row.get("user_notice_exemption") or "—"),
        (_("Notice channels"), label_list("notification_channel",
                                          row.get("notification_channels") or []) or "—"),
        (_("Notice contents"), label_list("notice_content",
                                          row.get("notice_contents") or []) or "—"),
        (_("Root cause"), row.get("root_cause") or "—"),
        (_("Remediation"), row.get("remediation") or "—"),
        (_("Closed"), clk.show_time(record.closed_at, tz)),
    ]
    colon = "：" if is_chinese() else ":"
    for name, value in facts:
        st.markdown(f"**{name}{colon}** {ui.plain(value)}")

# -- documents -------------------------------------------------------------------------------
# The incident's documents (reports to the 网信部门, the notices), as Word files: generated
# by managers and DPOs, downloadable by every role (dashboard/ui_documents.py).
ui_documents.render(actor, incident_id)

# -- evidence files ---------------------------------------------------------------------------
# Files kept with the incident (dashboard/ui_evidence.py): managers and DPOs attach and
# withdraw, every role downloads.
ui_evidence.render(actor, "incident", incident_id)

st.page_link(nav.script("incidents"), label=_("All incidents"), icon=":material/emergency:")

"""One rights request (``?id=REQ-2026-0001``): its working-day deadline, the steps still
to record (identity verified, in progress, completed, refused with its reason, withdrawn,
notes), the append-only history, the deletion proof for a completed deletion or account
cancellation, and its DSR-* findings (policy 8, 10)."""
import uuid

import streamlit as st

from dashboard import dashboards as dash
from dashboard import navigation as nav
from dashboard import requests as rq
from dashboard import ui, ui_evidence
from dashboard import workdays
from dashboard.access import PermissionDenied
from dashboard.i18n import (_, actor_label, fmt_date, fmt_datetime, fmt_number, is_chinese,
                            label, label_frame, ngettext, zone_name)
from dashboard.registers import RETENTION_RECORDS

actor = ui.page_guard("request")
store = ui.get_store()
settings = store.settings
now = store.now()
state = st.session_state

request_id = st.query_params.get("id")
if not request_id:
    st.title(_("Rights request"), anchor=False)
    choices = ui.cached(rq.request_choices)
    if not choices:
        st.info(_("No request is logged."), icon=":material/info:")
        st.page_link(nav.script("requests"), label=_("Rights requests"),
                     icon=":material/assignment_ind:")
        st.stop()
    labels = {c[0]: _("{kind}, {subject}").format(kind=rq.kind_label(c[1]), subject=c[2])
              for c in choices}
    picked = st.selectbox(_("Open a request"), list(labels), key="request_pick", index=None,
                          format_func=lambda i: f"{i} — {labels[i]}",
                          placeholder=_("Choose a request"))
    if picked:
        st.query_params["id"] = picked
        st.rerun()
    st.page_link(nav.script("requests"), label=_("All requests, by nearest deadline"),
                 icon=":material/assignment_ind:")
    st.stop()

if state.get("request_page_id") != request_id:
    for key in [k for k in state if str(k).startswith("rstep_")]:
        del state[key]
    state["request_page_id"] = request_id

row = ui.cached(rq.request_record, request_id=request_id)
if row is None:
    st.title(_("Rights request"), anchor=False)
    st.error(_("No request **{id}**.").format(id=ui.plain(request_id)),
             icon=":material/search_off:")
    st.page_link(nav.script("requests"), label=_("All requests"),
                 icon=":material/assignment_ind:")
    st.stop()


# -- header and deadline ------------------------------------------------------------------
st.title(f"{ui.plain(request_id)} · {rq.kind_label(row['kind'])}", anchor=False)
st.markdown(
    f":blue-badge[{rq.status_label(row['status'])}] "
    f":gray-badge[{rq.channel_label(row['channel'])}]  "
    + _("Subject **{subject}** · received **{received}**").format(
        subject=ui.plain(row["subject_ref"]), received=fmt_datetime(row["received_at"]))
    + (_(" · handler {handler}").format(handler=ui.plain(row["handler"]))
       if row.get("handler") else ""))
flash = state.pop("request_flash", None)
if flash:
    st.success(ui.plain(flash), icon=":material/check_circle:")

deadline = rq.deadline_of(row, settings)
gap = "" if is_chinese() else " "        # between sentences: none in Chinese
with st.container(border=True, key="request_deadline"):
    st.markdown(_("**Reply deadline:** {deadline}").format(
        deadline=fmt_datetime(deadline.due_at))
                + (_(" **(provisional)**") if deadline.provisional else ""))
    if row["status"] in rq.OPEN:
        left = workdays.working_days_left(now, deadline.due_at, settings)
        if now > deadline.due_at:
            st.markdown(_(":red-badge[:material/alarm: Overdue] the reply deadline has "
                          "passed."))
        else:
            st.markdown(ngettext(":orange-badge[:material/hourglass_top: Due] **{n} working "
                                 "day left**",
                                 ":orange-badge[:material/hourglass_top: Due] **{n} working "
                                 "days left**", left).format(n=fmt_number(left)))
    elif row["status"] == "withdrawn":
        st.markdown(_(":gray-badge[Withdrawn] no reply deadline applies."))
    else:
        late = row.get("completed_at") is not None and row["completed_at"] > deadline.due_at
        st.markdown((_(":violet-badge[Answered late] on {time}") if late
                     else _(":green-badge[Answered in time] on {time}")).format(
            time=fmt_datetime(row.get("completed_at")) or "—"))
    st.caption(_("The end of the {n}th working day after the day of receipt ({received}, not "
                 "counted), on the mainland calendar: weekends and statutory holidays off, "
                 "make-up working days on.").format(n=deadline.working_days,
                                                    received=fmt_date(deadline.received_on))
               + (gap + _("The calendar does not know that year's official arrangement yet: "
                          "computed from weekends and statutory holidays.")
                  if deadline.provisional else "") + gap + _("Rule DSR-DEADLINE."))
not_yet = _("not yet")
facts = [(_("Identity verified"), fmt_datetime(row.get("identity_verified_at"))
          if row.get("identity_verified_at") else not_yet),
         (_("Answered"), fmt_datetime(row.get("completed_at"))
          if row.get("completed_at") else not_yet)]
if row.get("refusal_reason"):
    facts.append((_("Reason for refusing"), ui.plain(row["refusal_reason"])))
if row.get("notes"):
    facts.append((_("Notes"), ui.plain(row["notes"])))
st.markdown("  \n".join(_("{name}: **{value}**").format(name=k, value=v) for k, v in facts))
if (row["kind"] in rq.IDENTITY_KINDS and row["status"] in rq.OPEN
        and row.get("identity_verified_at") is None):
    st.caption(_("Policy 8.3: verify the identity before completing this request "
                 "(DSR-IDENTITY)."))


# -- record a step ------------------------------------------------------------------------
def _values(kind: str) -> dict:
    values = {}
    if kind != "note":
        values["at"] = state.get(f"rstep_{kind}_at")
    if kind == "refused":
        values["refusal_reason"] = state.get(f"rstep_{kind}_reason")
    if kind == "note":
        values["text"] = state.get(f"rstep_{kind}_text")
    return values


def _record(kind: str) -> None:
    acting = ui.callback_actor("request")
    if acting is None:
        return
    values = _values(kind)
    key = f"rstep_{kind}_instance"
    if key not in state:
        state[key] = uuid.uuid4().hex
    try:
        result = rq.record_step(store, acting, request_id, kind, values,
                                token=rq.form_token(state[key], values))
    except rq.ValidationError as exc:
        state["rstep_errors"] = {kind: exc.errors}
        return
    except PermissionDenied as exc:
        state["rstep_errors"] = {kind: {"step": str(exc)}}
        return
    state["rstep_errors"] = {}
    state["rstep_kind"] = None
    for k in [k for k in state if str(k).startswith(f"rstep_{kind}_")]:
        del state[k]
    state["request_flash"] = _("Recorded: {step} (history event #{event}).").format(
        step=rq.step_title(kind), event=result.event_id)


st.subheader(_("Record a step"), anchor=False)
if not actor.may("request.update"):
    st.info(_("Your role ({role}) can read requests; recording steps needs a manager or "
              "the DPO.").format(role=label("role", actor.role)), icon=":material/visibility:")
else:
    allowed = rq.allowed_steps(row)
    kind = st.selectbox(_("Step"), allowed, key="rstep_kind", index=None,
                        format_func=rq.step_title,
                        placeholder=_("Choose the step to record"))
    if kind:
        errors = (state.get("rstep_errors") or {}).get(kind, {})
        st.caption(_(rq.STEPS[kind].help))
        ui.field_error(errors, "step")
        ui.field_error(errors, "token")
        if kind != "note":
            with st.container(key=f"rstep_field_{kind}_at"):
                st.datetime_input(
                    _("{step}: when").format(step=rq.step_title(kind)), key=f"rstep_{kind}_at",
                    step=60, format="YYYY-MM-DD",
                    value=now.replace(tzinfo=None, second=0, microsecond=0),
                    help=_("{zone}. Not before the request was received, not in the "
                           "future.").format(zone=zone_name()))
                ui.field_error(errors, "at")
        if kind == "refused":
            with st.container(key=f"rstep_field_{kind}_reason"):
                st.text_area(_("Reason for refusing"), key=f"rstep_{kind}_reason",
                             max_chars=rq._CAPS["refusal_reason"],
                             help=_("Required (PIPL Art. 50): the reply states why."))
                ui.field_error(errors, "refusal_reason")
        if kind == "note":
            with st.container(key=f"rstep_field_{kind}_text"):
                st.text_area(_("Note"), key=f"rstep_{kind}_text")
                ui.field_error(errors, "text")
        st.button(_("Record: {step}").format(step=rq.step_title(kind).lower()),
                  key=f"rstep_{kind}_save", type="primary", on_click=_record, args=(kind,))
    st.caption(_("The status moves only forward: received → in progress → completed, refused "
                 "or withdrawn (final; notes can still be added)."))

# -- history --------------------------------------------------------------------------------
st.subheader(_("History"), anchor=False)
history = ui.cached(rq.request_history, request_id=request_id)
with st.container(key="request_history"):
    st.dataframe(
        rq.history_display(history),
        hide_index=True,
        column_order=["event_id", "at", "kind", "detail", "actor", "role", "recorded_at"],
        column_config={
            "event_id": st.column_config.NumberColumn("#", format="%d"),
            "at": st.column_config.DatetimeColumn(_("When"), format="YYYY-MM-DD HH:mm"),
            "kind": st.column_config.TextColumn(_("What")),
            "detail": st.column_config.TextColumn(_("Detail"), width="large"),
            "actor": st.column_config.TextColumn(_("Who")),
            "role": st.column_config.TextColumn(_("Role")),
            "recorded_at": st.column_config.DatetimeColumn(
                _("Recorded"), format="YYYY-MM-DD HH:mm", help=_("When it was entered.")),
        })
    if not history.empty:
        last = history.iloc[-1]
        st.caption(ngettext(
            "{n} event; the latest: **{step}** by {actor} ({role}), {time}. Append-only: "
            "every step is a new event; nothing is edited or deleted.",
            "{n} events; the latest: **{step}** by {actor} ({role}), {time}. Append-only: "
            "every step is a new event; nothing is edited or deleted.", len(history)).format(
                n=fmt_number(len(history)), step=ui.plain(rq.step_title(last["kind"])),
                actor=ui.plain(actor_label(last["actor"])),
                role=ui.plain(label("role", last["role"])),
                time=fmt_datetime(last["at"].to_pydatetime())))

# -- the deletion proof -----------------------------------------------------------------------
if row["kind"] in rq.DELETION_KINDS:
    st.subheader(_("Deletion proof"), anchor=False)
    proof = ui.cached(rq.deletion_proof, request_id=request_id)
    with st.container(key="deletion_proof"):
        if not proof.applies:
            st.info(ui.plain(_(proof.reason)), icon=":material/info:")
        elif proof.count == 0:
            st.success(_("Carried out: no retention record of subject {subject} was kept (not "
                         "deleted and not on hold) on {date}, the completion date.").format(
                subject=ui.plain(row["subject_ref"]), date=fmt_date(proof.as_of)),
                icon=":material/verified:")
        else:
            st.error(ngettext(
                "Not carried out: {n} retention record of subject {subject} was neither "
                "deleted nor on hold on {date}, the completion date (DSR-DELETION-DONE).",
                "Not carried out: {n} retention records of subject {subject} were neither "
                "deleted nor on hold on {date}, the completion date (DSR-DELETION-DONE).",
                proof.count).format(n=fmt_number(proof.count),
                                    subject=ui.plain(row["subject_ref"]),
                                    date=fmt_date(proof.as_of)),
                icon=":material/report:")
            st.dataframe(proof.records, hide_index=True,
                         column_config=ui.format_columns(proof.records, RETENTION_RECORDS))
            if proof.count > len(proof.records):
                st.caption(_("The first {n} by record ID; the Retention page shows them "
                             "all.").format(n=fmt_number(len(proof.records))))

# -- findings ----------------------------------------------------------------------------------
st.subheader(_("Findings"), anchor=False)
found = ui.cached(rq.request_findings, request_id=request_id,
                  as_of=dash.as_of_for(store))
with st.container(key="request_findings"):
    if found.empty:
        st.success(_("No DSR-* finding for this request now."), icon=":material/check_circle:")
    else:
        st.dataframe(label_frame(found, {"severity": "severity"}), hide_index=True,
                     column_config={
                         "rule_id": st.column_config.TextColumn(_("Rule")),
                         "severity": st.column_config.TextColumn(_("Severity")),
                         "detail": st.column_config.TextColumn(_("What is wrong"),
                                                               width="large")})
# -- evidence files ---------------------------------------------------------------------------
# Files kept with the request (dashboard/ui_evidence.py): managers and DPOs attach and
# withdraw; auditors download.
ui_evidence.render(actor, "rights_request", request_id)
st.page_link(nav.script("requests"), label=_("All requests"), icon=":material/assignment_ind:")

"""One rights request (``?id=REQ-2026-0001``): its working-day deadline, the steps still
to record (identity verified, in progress, completed, refused with its reason, withdrawn,
notes), the append-only history, the deletion proof for a completed deletion or account
cancellation, and its DSR-* findings (policy 8, 10)."""
import uuid

import streamlit as st

from dashboard import clocks as clk
from dashboard import dashboards as dash
from dashboard import navigation as nav
from dashboard import requests as rq
from dashboard import ui
from dashboard import workdays
from dashboard.access import PermissionDenied
from dashboard.registers import RETENTION_RECORDS

actor = ui.page_guard("request")
store = ui.get_store()
settings = store.settings
tz = settings.timezone
now = store.now()
state = st.session_state

request_id = st.query_params.get("id")
if not request_id:
    st.title("Rights request", anchor=False)
    choices = ui.cached(rq.request_choices)
    if not choices:
        st.info("No request is logged.", icon=":material/info:")
        st.page_link(nav.script("requests"), label="Rights requests",
                     icon=":material/assignment_ind:")
        st.stop()
    labels = dict(choices)
    picked = st.selectbox("Open a request", list(labels), key="request_pick", index=None,
                          format_func=lambda i: f"{i} — {labels[i]}",
                          placeholder="Choose a request")
    if picked:
        st.query_params["id"] = picked
        st.rerun()
    st.page_link(nav.script("requests"), label="All requests, by nearest deadline",
                 icon=":material/assignment_ind:")
    st.stop()

if state.get("request_page_id") != request_id:
    for key in [k for k in state if str(k).startswith("rstep_")]:
        del state[key]
    state["request_page_id"] = request_id

row = ui.cached(rq.request_record, request_id=request_id)
if row is None:
    st.title("Rights request", anchor=False)
    st.error(f"No request **{ui.plain(request_id)}**.", icon=":material/search_off:")
    st.page_link(nav.script("requests"), label="All requests", icon=":material/assignment_ind:")
    st.stop()


def _error(errors: dict, name: str) -> None:
    if errors.get(name):
        st.error(ui.plain(errors[name]), icon=":material/error:")


# -- header and deadline ------------------------------------------------------------------
st.title(f"{ui.plain(request_id)} · {rq.KIND_LABELS.get(row['kind'], row['kind'])}",
         anchor=False)
st.markdown(
    f":blue-badge[{rq.STATUS_LABELS.get(row['status'], row['status'])}] "
    f":gray-badge[{rq.CHANNEL_LABELS.get(row['channel'], row['channel'])}]  "
    f"Subject **{ui.plain(row['subject_ref'])}** · received "
    f"**{clk.format_time(row['received_at'], tz)}**"
    + (f" · handler {ui.plain(row['handler'])}" if row.get("handler") else ""))
flash = state.pop("request_flash", None)
if flash:
    st.success(ui.plain(flash), icon=":material/check_circle:")

deadline = rq.deadline_of(row, settings)
with st.container(border=True, key="request_deadline"):
    st.markdown(f"**Reply deadline:** {clk.format_time(deadline.due_at, tz)}"
                + (" **(provisional)**" if deadline.provisional else ""))
    if row["status"] in rq.OPEN:
        left = workdays.working_days_left(now, deadline.due_at, settings)
        if now > deadline.due_at:
            st.markdown(":red-badge[:material/alarm: Overdue] the reply deadline has passed.")
        else:
            st.markdown(f":orange-badge[:material/hourglass_top: Due] **{left} working "
                        f"day{'s' if left != 1 else ''} left**")
    elif row["status"] == "withdrawn":
        st.markdown(":gray-badge[Withdrawn] no reply deadline applies.")
    else:
        late = row.get("completed_at") is not None and row["completed_at"] > deadline.due_at
        st.markdown((":violet-badge[Answered late]" if late else ":green-badge[Answered in time]")
                    + f" on {clk.format_time(row.get('completed_at'), tz)}")
    st.caption(f"The end of the {deadline.working_days}th working day after the day of "
               f"receipt ({deadline.received_on.isoformat()}, not counted), on the mainland "
               "calendar: weekends and statutory holidays off, make-up working days on."
               + (" The calendar does not know that year's official arrangement yet: "
                  "computed from weekends and statutory holidays." if deadline.provisional
                  else "") + " Rule DSR-DEADLINE.")
facts = [("Identity verified", clk.format_time(row.get("identity_verified_at"), tz)
          if row.get("identity_verified_at") else "not yet"),
         ("Answered", clk.format_time(row.get("completed_at"), tz)
          if row.get("completed_at") else "not yet")]
if row.get("refusal_reason"):
    facts.append(("Reason for refusing", ui.plain(row["refusal_reason"])))
if row.get("notes"):
    facts.append(("Notes", ui.plain(row["notes"])))
st.markdown("  \n".join(f"{k}: **{v}**" for k, v in facts))
if (row["kind"] in rq.IDENTITY_KINDS and row["status"] in rq.OPEN
        and row.get("identity_verified_at") is None):
    st.caption("Policy 8.3: verify the identity before completing this request "
               "(DSR-IDENTITY).")


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
    state["request_flash"] = (f"Recorded: {rq.STEPS[kind].title} "
                              f"(history event #{result.event_id}).")


st.subheader("Record a step", anchor=False)
if not actor.may("request.update"):
    st.info(f"Your role ({actor.role}) can read requests; recording steps needs a manager or "
            "the DPO.", icon=":material/visibility:")
else:
    allowed = rq.allowed_steps(row)
    kind = st.selectbox("Step", allowed, key="rstep_kind", index=None,
                        format_func=lambda k: rq.STEPS[k].title,
                        placeholder="Choose the step to record")
    if kind:
        errors = (state.get("rstep_errors") or {}).get(kind, {})
        st.caption(rq.STEPS[kind].help)
        _error(errors, "step")
        _error(errors, "token")
        if kind != "note":
            with st.container(key=f"rstep_field_{kind}_at"):
                st.datetime_input(
                    f"{rq.STEPS[kind].title}: when", key=f"rstep_{kind}_at", step=60,
                    format="YYYY-MM-DD",
                    value=now.replace(tzinfo=None, second=0, microsecond=0),
                    help=f"{tz} time. Not before the request was received, not in the future.")
                _error(errors, "at")
        if kind == "refused":
            with st.container(key=f"rstep_field_{kind}_reason"):
                st.text_area("Reason for refusing", key=f"rstep_{kind}_reason",
                             max_chars=rq._CAPS["refusal_reason"],
                             help="Required (PIPL Art. 50): the reply states why.")
                _error(errors, "refusal_reason")
        if kind == "note":
            with st.container(key=f"rstep_field_{kind}_text"):
                st.text_area("Note", key=f"rstep_{kind}_text")
                _error(errors, "text")
        st.button(f"Record: {rq.STEPS[kind].title.lower()}", key=f"rstep_{kind}_save",
                  type="primary", on_click=_record, args=(kind,))
    st.caption("The status moves only forward: received → in progress → completed, refused "
               "or withdrawn (final; notes can still be added).")

# -- history --------------------------------------------------------------------------------
st.subheader("History", anchor=False)
history = ui.cached(rq.request_history, request_id=request_id)
with st.container(key="request_history"):
    st.dataframe(
        history.assign(kind=history["kind"].map(lambda k: rq.EVENT_LABELS.get(k, k))),
        hide_index=True,
        column_order=["event_id", "at", "kind", "detail", "actor", "role", "recorded_at"],
        column_config={
            "event_id": st.column_config.NumberColumn("#", format="%d"),
            "at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
            "kind": st.column_config.TextColumn("What"),
            "detail": st.column_config.TextColumn("Detail", width="large"),
            "actor": st.column_config.TextColumn("Who"),
            "role": st.column_config.TextColumn("Role"),
            "recorded_at": st.column_config.DatetimeColumn(
                "Recorded", format="YYYY-MM-DD HH:mm", help="When it was entered."),
        })
    if not history.empty:
        last = history.iloc[-1]
        st.caption(f"{len(history)} event{'s' if len(history) != 1 else ''}; the latest: "
                   f"**{rq.EVENT_LABELS.get(last['kind'], ui.plain(last['kind']))}** by "
                   f"{ui.plain(last['actor'])} ({ui.plain(last['role'])}), "
                   f"{clk.format_time(last['at'].to_pydatetime(), tz)}. Append-only: every "
                   "step is a new event; nothing is edited or deleted.")

# -- the deletion proof -----------------------------------------------------------------------
if row["kind"] in rq.DELETION_KINDS:
    st.subheader("Deletion proof", anchor=False)
    proof = ui.cached(rq.deletion_proof, request_id=request_id)
    with st.container(key="deletion_proof"):
        if not proof.applies:
            st.info(ui.plain(proof.reason), icon=":material/info:")
        elif proof.count == 0:
            st.success(f"Carried out: no retention record of subject "
                       f"{ui.plain(row['subject_ref'])} was kept (not deleted and not on hold) "
                       f"on {proof.as_of.isoformat()}, the completion date.",
                       icon=":material/verified:")
        else:
            st.error(f"Not carried out: {proof.count:,} retention record"
                     f"{'s' if proof.count != 1 else ''} of subject "
                     f"{ui.plain(row['subject_ref'])} were neither deleted nor on hold on "
                     f"{proof.as_of.isoformat()}, the completion date (DSR-DELETION-DONE).",
                     icon=":material/report:")
            st.dataframe(proof.records, hide_index=True,
                         column_config=ui.format_columns(proof.records, RETENTION_RECORDS))
            if proof.count > len(proof.records):
                st.caption(f"The first {len(proof.records):,} by record ID; the Retention page "
                           "shows them all.")

# -- findings ----------------------------------------------------------------------------------
st.subheader("Findings", anchor=False)
found = ui.cached(rq.request_findings, request_id=request_id,
                  as_of=dash.as_of_for(store))
with st.container(key="request_findings"):
    if found.empty:
        st.success("No DSR-* finding for this request now.", icon=":material/check_circle:")
    else:
        st.dataframe(found, hide_index=True, column_config={
            "rule_id": st.column_config.TextColumn("Rule"),
            "severity": st.column_config.TextColumn("Severity"),
            "detail": st.column_config.TextColumn("What is wrong", width="large")})
st.page_link(nav.script("requests"), label="All requests", icon=":material/assignment_ind:")

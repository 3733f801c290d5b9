"""Rights requests (policy 8 and 10): the queue of open requests, nearest working-day
deadline first, with the working days left; filters by kind, status and channel; a form
to log a request; the register as CSV for auditors and the DPO (logged)."""
import datetime as dt
import uuid

import streamlit as st

from dashboard import exports
from dashboard import navigation as nav
from dashboard import requests as rq
from dashboard import ui
from dashboard.access import PermissionDenied
from dashboard.i18n import _, fmt_number, zone_name
from dashboard.registers import REQUEST_CHANNELS, REQUEST_KINDS, REQUEST_STATUSES

actor = ui.page_guard("requests")
store = ui.get_store()
settings = store.settings
state = st.session_state
n_days = settings.dsr_response_working_days

st.title(_("Rights requests"), anchor=False)
st.caption(_("Requests from individuals: access, copy, correction, deletion, withdrawal of "
             "consent, account cancellation (policy 8; PIPL Art. 44 to 50) and complaints or "
             "questions (policy 10). Each is answered by the end of the {n}th working day "
             "after the day of receipt, on the mainland-China calendar (weekends and statutory "
             "holidays off, the make-up working days on). Open requests come first, the "
             "nearest deadline on top. Times are {zone}.").format(n=n_days, zone=zone_name()))

flash = state.pop("requests_flash", None)
if flash:
    st.success(ui.plain(flash), icon=":material/check_circle:")


# -- log a request --------------------------------------------------------------------------
def _log() -> None:
    acting = ui.callback_actor("requests")
    if acting is None:
        return
    at = state.get("log_received_at")
    values = {"received_at": at, "channel": state.get("log_channel"),
              "kind": state.get("log_kind"), "subject_ref": state.get("log_subject_ref"),
              "handler": state.get("log_handler"), "notes": state.get("log_notes")}
    if "log_instance" not in state:
        state["log_instance"] = uuid.uuid4().hex
    try:
        result = rq.log_request(store, acting, values,
                                token=rq.form_token(state["log_instance"], values))
    except rq.ValidationError as exc:
        state["log_errors"] = exc.errors
        return
    except PermissionDenied as exc:
        state["log_errors"] = {"step": str(exc)}
        return
    state["log_errors"] = {}
    for key in [k for k in state if str(k).startswith("log_")]:
        del state[key]
    state["requests_flash"] = _("Logged {id}.").format(id=result.request_id)
    state["requests_logged"] = result.request_id


if actor.may("request.log"):
    errors = state.get("log_errors") or {}
    with st.expander(_("Log a request"), icon=":material/add_task:", expanded=bool(errors)):
        ui.field_error(errors, "step")
        ui.field_error(errors, "token")
        c1, c2 = st.columns(2)
        with c1, st.container(key="log_field_received_at"):
            st.datetime_input(_("Received"), key="log_received_at", step=60,
                              format="YYYY-MM-DD",
                              value=store.now().replace(tzinfo=None, second=0, microsecond=0),
                              help=_("When the request reached the company ({zone}): the "
                                     "clock starts here. Not in the future.").format(
                                  zone=zone_name()))
            ui.field_error(errors, "received_at")
        with c2, st.container(key="log_field_channel"):
            st.selectbox(_("Channel"), REQUEST_CHANNELS, key="log_channel", index=None,
                         format_func=rq.channel_label, placeholder=_("How it came in"))
            ui.field_error(errors, "channel")
        c1, c2 = st.columns(2)
        with c1, st.container(key="log_field_kind"):
            st.selectbox(_("Kind of request"), REQUEST_KINDS, key="log_kind", index=None,
                         format_func=rq.kind_label, placeholder=_("What is asked"))
            ui.field_error(errors, "kind")
        with c2, st.container(key="log_field_subject_ref"):
            st.text_input(_("Subject"), key="log_subject_ref",
                          max_chars=rq._CAPS["subject_ref"],
                          help=_("The pseudonymous id the retention records use "
                                 "(subject_ref)."))
            ui.field_error(errors, "subject_ref")
        with st.container(key="log_field_handler"):
            st.text_input(_("Handler (optional)"), key="log_handler",
                          max_chars=rq._CAPS["handler"])
            ui.field_error(errors, "handler")
        with st.container(key="log_field_notes"):
            st.text_area(_("Notes (optional)"), key="log_notes")
            ui.field_error(errors, "notes")
        st.button(_("Log the request"), key="log_save", type="primary", on_click=_log)

logged = state.pop("requests_logged", None)
if logged:
    st.page_link(nav.script("request"), label=_("Open {id}").format(id=ui.plain(logged)),
                 icon=":material/assignment:", query_params={"id": logged})

# -- the queue ---------------------------------------------------------------------------
with st.container(key="request_filters"):
    c1, c2, c3 = st.columns(3)
    statuses = c1.multiselect(_("Status"), REQUEST_STATUSES, key="rq_status",
                              default=list(rq.OPEN), format_func=rq.status_label,
                              placeholder=_("All statuses"))
    kinds = c2.multiselect(_("Kind"), REQUEST_KINDS, key="rq_kind",
                           format_func=rq.kind_label, placeholder=_("All kinds"))
    channels = c3.multiselect(_("Channel"), REQUEST_CHANNELS, key="rq_channel",
                              format_func=rq.channel_label, placeholder=_("All channels"))

moment = store.now().replace(second=0, microsecond=0).isoformat()
query = dict(kinds=kinds, statuses=statuses, channels=channels, now=moment)
counts = ui.cached(rq.queue_summary, **query)
k1, k2, k3, k4 = st.columns(4)
k1.metric(_("Shown"), fmt_number(counts["shown"]), help=_("Requests matching the filters."))
k2.metric(_("Open"), fmt_number(counts["open"]), help=_("Received or in progress."))
k3.metric(_("Overdue"), fmt_number(counts["overdue"]),
          help=_("Open past the working-day deadline."))
k4.metric(_("Due within 7 days"), fmt_number(counts["due_soon"]),
          help=_("Open, not overdue, with the deadline in the next 7 days."))

if counts["shown"] == 0:
    st.info(_("No request matches the filters."), icon=":material/info:")
else:
    PAGE_SIZE = 100
    pages = (counts["shown"] + PAGE_SIZE - 1) // PAGE_SIZE
    page = 1
    if pages > 1:
        page = st.number_input(
            _("Page (of {pages}, {size} requests each)").format(pages=fmt_number(pages),
                                                                size=PAGE_SIZE),
            min_value=1, max_value=pages, value=1, step=1, key="rq_page")
    table = rq.queue_display(
        ui.cached(rq.list_requests, **query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
        dt.datetime.fromisoformat(moment))
    event = st.dataframe(
        table, hide_index=True, key="request_table", on_select="rerun",
        selection_mode="single-row", height=min(38 + 35 * len(table), 740),
        column_order=["request_id", "left", "deadline", "status_label", "kind_label",
                      "channel_label", "subject_ref", "received_at", "identity_verified_at",
                      "completed_at", "handler"],
        column_config={
            "request_id": st.column_config.TextColumn(_("Request")),
            "left": st.column_config.TextColumn(
                _("Working days left"), help=_("Working days on the mainland calendar until "
                                               "the deadline, today not counted.")),
            "deadline": st.column_config.TextColumn(
                _("Deadline"), help=_("End of the {n}th working day after the day of receipt; "
                                      "provisional in a year the calendar does not "
                                      "know.").format(n=n_days)),
            "status_label": st.column_config.TextColumn(_("Status")),
            "kind_label": st.column_config.TextColumn(_("Kind")),
            "channel_label": st.column_config.TextColumn(_("Channel")),
            "subject_ref": st.column_config.TextColumn(_("Subject")),
            "received_at": st.column_config.DatetimeColumn(_("Received"),
                                                           format="YYYY-MM-DD HH:mm"),
            "identity_verified_at": st.column_config.DatetimeColumn(
                _("Identity verified"), format="YYYY-MM-DD HH:mm"),
            "completed_at": st.column_config.DatetimeColumn(_("Answered"),
                                                            format="YYYY-MM-DD HH:mm"),
            "handler": st.column_config.TextColumn(_("Handler")),
        })
    st.caption(_("Select a row to open the request."))
    rows = event.selection.rows if event is not None else []
    if rows:
        st.switch_page(nav.script("request"),
                       query_params={"id": table.iloc[rows[0]]["request_id"]})
    ids = list(table["request_id"])
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    picked = left.selectbox(_("Open a request"), ids, key="open_request", index=None,
                            placeholder=_("Choose a request in the list"))
    if picked:
        right.page_link(nav.script("request"), label=_("Open {id}").format(id=ui.plain(picked)),
                        icon=":material/assignment:", query_params={"id": picked})

# -- the register as CSV --------------------------------------------------------------------
if actor.may("export.download"):
    st.subheader(_("Download the register"), anchor=False)
    clean = exports.normalize_filters("rights_requests", {"status": statuses, "kind": kinds,
                                                          "channel": channels})
    rows_in_file = ui.cached(exports.count_rows, dataset="rights_requests", filters=clean)
    name = exports.file_name("rights_requests", clean, store.now())
    st.download_button(
        _("Download {name} ({n} rows)").format(name=name, n=fmt_number(rows_in_file)),
        data=lambda f=clean, n=name: exports.download_bytes(store, actor, "rights_requests",
                                                            f, name=n),
        file_name=name, mime=exports.CSV_MIME, on_click="ignore", icon=":material/download:",
        key="rq_download", disabled=rows_in_file == 0)
    st.caption(_("The rights-requests register with the filters above, as contract CSV (the "
                 "Exports page's writer). The download is recorded in the audit log with the "
                 "file's SHA-256."))
elif actor.role == "manager":
    st.caption(_("Downloads of the register are for the DPO and auditors (Exports)."))

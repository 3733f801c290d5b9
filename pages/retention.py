"""Retention: each stored record's due date for deletion and its status (policy 6.1-6.2)."""
import json

import pandas as pd
import streamlit as st

from dashboard import charts, ui
from dashboard import holds as H
from dashboard import queries as Q
from dashboard import views as view
from dashboard.access import PermissionDenied
from dashboard.i18n import (N_, _, actor_label, fmt_date, fmt_datetime, fmt_number, formatter,
                            in_locale, label, ngettext)
from dashboard.reference import category_label, load_catalog
from dashboard.registers import HOLD_REASONS, RETENTION_RECORDS

actor = ui.page_guard("retention")
store = ui.get_store()
today = store.now().date()
soon = store.settings.due_soon_days

st.title(_("Retention"), anchor=False)
st.caption(_("Each stored record is due for deletion when its category's retention rule says "
             "(see Settings → catalog). As of today ({today}, Beijing time) a record "
             "is **deleted**, **on hold** (a policy 6.2 exception), **overdue** (due date "
             "passed), **due soon** (due within {days} days) or **active**."
             ).format(today=fmt_date(today), days=soon))
view.policy_links([("6.1", N_("storage in Chinese Mainland")),
                   ("6.2", N_("retention and holds"))])

filters = view.filter_sidebar(Q.RETENTION_FILTERS, ui.cached(Q.retention_options))
args = dict(as_of=today, filters=filters)
summary = ui.cached(Q.retention_summary, **args)     # KPIs, breakdowns, trend: one scan
holds = ui.cached(Q.retention_holds, **args)
kpis = summary["kpis"]

st.markdown(view.filter_summary(kpis["records"], "records", filters))
view.kpi_row([
    (_("Records"), kpis["records"], _("Records matching the filters.")),
    (_("Overdue"), kpis["overdue"],
     _("Not deleted, not on hold, due date before today (rule RET-OVERDUE).")),
    (_("Due ≤ {days} days").format(days=soon), kpis["due"],
     _("Not deleted, not on hold, due today or within {days} days (setting due_soon_days)."
       ).format(days=soon)),
    (_("On hold"), kpis["on_hold"],
     _("Not deleted, kept under one of the five exceptions of 6.2.")),
    (_("Active"), kpis["active"], _("Due later, or in service with no maximum age.")),
    (_("Deleted"), kpis["deleted"], _("Deleted or anonymised (deleted_on set).")),
])

breakdown = summary["breakdown"]
left, right = st.columns([2, 3])
with left:
    view.chart(charts.retention_by_status(Q.pick(breakdown, "status")),
               _("Records per retention status as of today."),
               key="chart_status", specs=Q.RETENTION_FILTERS, drill=("status",))
with right:
    view.chart(charts.overdue_over_time(summary["overdue_trend"]),
               _("Overdue records still not deleted, by the month their due date fell, and the "
                 "running total: how today's backlog built up."),
               key="chart_overdue", specs=Q.RETENTION_FILTERS, drill=("due",),
               fixed={"status": ["overdue"]})
left, right = st.columns(2)
with left:
    view.chart(charts.retention_by_category(Q.pick(breakdown, "category")),
               _("Records per data category, stacked by status."),
               key="chart_category", specs=Q.RETENTION_FILTERS, drill=("category", "status"))
with right:
    view.chart(charts.retention_by_system(Q.pick(breakdown, "system")),
               _("Records per source system, stacked by status."),
               key="chart_system", specs=Q.RETENTION_FILTERS, drill=("system", "status"))

st.subheader(_("Holds"), anchor=False)
view.kpi_row([
    (_("Undeleted outside CN"), kpis["outside_cn"],
     _("Records not deleted whose storage region is not CN (policy 6.1, rule RET-LOCATION).")),
    (_("Holds past review date"), holds["kpis"]["review_passed"],
     _("Records on hold whose review date has passed (rule RET-HOLD-INVALID).")),
    (_("Holds without reference"), holds["kpis"]["no_reference"],
     _("Records on hold with no hold reference (rule RET-HOLD-INVALID).")),
])
left, right = st.columns(2)
with left:
    view.chart(charts.holds_by_reason(holds["by_reason"]),
               _("Records on hold by the exception of policy 6.2 they rest on, split by whether "
                 "the review date has passed."),
               key="chart_hold_reason", specs=Q.RETENTION_FILTERS, drill=("hold",),
               fixed={"status": ["on_hold"]})
with right:
    view.chart(charts.holds_by_review_month(holds["by_review_month"]),
               _("Records on hold by the month their hold is due for review; red months have "
                 "passed."), key="chart_hold_review")

st.subheader(_("Records"), anchor=False)
view.paged_table(
    lambda **page: ui.cached(Q.retention_rows, **args, **page),
    total=kpis["records"], register=RETENTION_RECORDS, filters=filters, sorts=Q.RETENTION_SORTS,
    noun="records",
    families={"category": "category", "status": "retention_status", "hold_reason": "hold_reason"},
    extra_columns={
        "record_id": st.column_config.NumberColumn(_("Record ID"), format="%d"),
        "status": st.column_config.TextColumn(_("Status")),
        "due_on": st.column_config.DateColumn(
            _("Due for deletion"), format="YYYY-MM-DD",
            help=_("The earlier of service end + the category's days, and collection + its "
                   "maximum age (Settings → catalog).")),
    },
)

# -- legal holds (issue 18: dashboard/holds.py, docs/HOLDS.md) ------------------------------------
K = "lh_"           # every key of the holds forms starts with it


def _hold_error(form: str, name: str) -> None:
    ui.field_error(st.session_state.get(K + "errors", {}).get(form), name)


def _hold_field(form: str, name: str, render) -> None:
    """A widget with its error message right under it."""
    with st.container(key=f"{K}field_{form}_{name}"):
        render()
        _hold_error(form, name)


def _set_filter() -> dict:
    state = st.session_state
    return {"record_id": (state.get(K + "record_id") or "").strip() or None,
            "subject_ref": state.get(K + "subject") or None,
            "category": state.get(K + "category"), "system": state.get(K + "system")}


def _hold_call(form: str, fn, notice) -> None:
    """Run a hold action for whoever the session is now; errors go under their fields."""
    acting = ui.callback_actor("retention")
    if acting is None:
        return
    try:
        result = fn(acting)
    except H.HoldError as exc:
        st.session_state[K + "errors"] = {form: exc.errors}
        return
    except PermissionDenied as exc:
        st.session_state[K + "errors"] = {form: {"form": str(exc)}}
        return
    st.session_state[K + "errors"] = {}
    st.session_state[K + "notice"] = notice(result)
    st.session_state.pop(K + "previewed", None)


def _preview_hold() -> None:
    st.session_state[K + "errors"] = {}
    try:
        st.session_state[K + "previewed"] = (
            json.dumps(_set_filter(), sort_keys=True), H.preview(store, _set_filter()))
    except H.HoldError as exc:
        st.session_state[K + "errors"] = {"set": exc.errors}
        st.session_state.pop(K + "previewed", None)


def _set_hold() -> None:
    seen = st.session_state.get(K + "previewed")
    if seen is None or seen[0] != json.dumps(_set_filter(), sort_keys=True):
        _preview_hold()        # the count first: the DPO sets the hold after seeing it
        if K + "previewed" in st.session_state:
            st.session_state[K + "errors"] = {"set": {"confirm": _(
                "Check how many records the hold covers, then press “Set the hold” again.")}}
        return
    state = st.session_state
    _hold_call("set", lambda acting: H.set_hold(
        store, acting, _set_filter(), state.get(K + "reason"), state.get(K + "reference"),
        state.get(K + "review_on")),
               lambda r: _("Hold {id} is set on {n} records.").format(
                   id=r.hold_id, n=fmt_number(r.count)))


def _review_hold() -> None:
    state = st.session_state
    _hold_call("review", lambda acting: H.review_hold(
        store, acting, state.get(K + "which"), state.get(K + "new_review_on"),
        state.get(K + "review_note")), _done_words)


def _lift_hold() -> None:
    state = st.session_state
    _hold_call("lift", lambda acting: H.lift_hold(
        store, acting, state.get(K + "which"), state.get(K + "lift_note")), _done_words)


def _done_words(result: H.HoldResult) -> str:
    words = (_("Hold {id} is reviewed ({n} records).") if result.action == "reviewed" else
             _("Hold {id} is lifted ({n} records)."))
    return words.format(id=result.hold_id, n=fmt_number(result.count))


def _preview_words(p: H.Preview) -> str:
    return _("**{n}** records match: **{deleted}** are deleted and **{elsewhere}** are on a "
             "hold recorded in the register (imported); both are left out. **{other}** are "
             "already on another hold set here: they will be covered by both holds. The hold "
             "covers **{hold}** records.").format(
        n=fmt_number(p.matching), deleted=fmt_number(p.deleted),
        elsewhere=fmt_number(p.held_elsewhere), other=fmt_number(p.on_other_hold),
        hold=fmt_number(p.to_hold))


st.subheader(_("Legal holds"), anchor=False)
st.caption(_("A hold keeps records past their due date under one of the five exceptions of "
             "policy 6.2, with a reference and a date by which it must be reviewed. Held "
             "records leave rule RET-OVERDUE; a hold whose review date has passed fails "
             "RET-HOLD-INVALID. Holds whose review falls within {days} days, or has passed, "
             "are marked.").format(days=soon))
notice = st.session_state.pop(K + "notice", None)
if notice:
    st.success(ui.plain(notice), icon=":material/check_circle:")
current = ui.cached(H.current_holds)
if current.empty:
    st.info(_("No legal hold is in force."), icon=":material/info:")
else:
    shown = pd.DataFrame({
        "hold": current["hold_id"],
        "review": [{"passed": _("Review date passed"), "due": _("Review due soon")}.get(
            H.review_state(d.date(), today, soon), "") for d in current["review_on"]],
        "records": [H.filter_words(json.loads(f)) for f in current["filter"]],
        "count": current["count"],
        "reason": [label("hold_reason", r) for r in current["reason"]],
        "reference": current["reference"],
        "review_on": current["review_on"],
        "set_by": [actor_label(a) for a in current["set_by"]],
        "set_at": [fmt_datetime(t) for t in current["set_at"]],
    })
    due = int((shown["review"] != "").sum())
    if due:
        st.warning(ngettext("{n} hold is due for review (or past its review date).",
                            "{n} holds are due for review (or past their review date).",
                            due).format(n=fmt_number(due)), icon=":material/event:")
    st.dataframe(
        shown.style.apply(lambda row: ["background-color: #fde2e1" if row["review"] else ""
                                       for _v in row], axis=1),
        hide_index=True, column_config={
            "hold": st.column_config.NumberColumn(_("Hold"), format="%d"),
            "review": st.column_config.TextColumn(_("Review")),
            "records": st.column_config.TextColumn(_("Records"), width="medium"),
            "count": st.column_config.NumberColumn(_("Records held"), format="%d"),
            "reason": st.column_config.TextColumn(_("Hold reason")),
            "reference": st.column_config.TextColumn(_("Hold reference"), width="medium"),
            "review_on": st.column_config.DateColumn(_("Review by"), format="YYYY-MM-DD"),
            "set_by": st.column_config.TextColumn(_("Placed by")),
            "set_at": st.column_config.TextColumn(_("Set at")),
        })

if not actor.may(H.PERMISSION):
    st.caption(_("A DPO sets, reviews and lifts legal holds here."))
else:
    with st.expander(_("Set a hold"), icon=":material/lock:",
                     expanded=bool(st.session_state.get(K + "errors", {}).get("set"))):
        st.caption(_("On one record (its ID), or on every record matching a filter: give at "
                     "least one of subject, category and system. Deleted records are left "
                     "out."))
        options = ui.cached(Q.retention_options)
        with st.form(K + "set_form", enter_to_submit=False):
            _hold_field("set", "record_id", lambda: st.text_input(_("Record ID"),
                                                                  key=K + "record_id"))
            _hold_error("set", "filter")
            c1, c2, c3 = st.columns(3)
            with c1:
                _hold_field("set", "subject_ref", lambda: st.text_input(
                    _("Subject"), key=K + "subject"))
            with c2:
                _hold_field("set", "category", lambda: st.selectbox(
                    _("Category"), list(load_catalog().categories), index=None,
                    key=K + "category", format_func=in_locale(category_label),
                    placeholder=_("Any category")))
            with c3:
                _hold_field("set", "system", lambda: st.selectbox(
                    _("System"), options["system"], index=None, key=K + "system",
                    placeholder=_("Any system")))
            _hold_field("set", "reason", lambda: st.selectbox(
                _("Hold reason"), HOLD_REASONS, index=None, key=K + "reason",
                format_func=formatter("hold_reason"),
                placeholder=_("Choose the exception of policy 6.2")))
            _hold_field("set", "reference", lambda: st.text_input(
                _("Hold reference"), key=K + "reference", max_chars=H.REFERENCE_MAX,
                help=_("The law, case number, order or request the hold rests on.")))
            _hold_field("set", "review_on", lambda: st.date_input(
                _("Review by"), value=None, key=K + "review_on", format="YYYY-MM-DD"))
            seen = st.session_state.get(K + "previewed")
            if seen is not None:
                st.info(_preview_words(seen[1]), icon=":material/filter_alt:")
            _hold_error("set", "confirm")
            _hold_error("set", "form")
            b1, b2 = st.columns(2)
            b1.form_submit_button(_("Count the records"), on_click=_preview_hold,
                                  icon=":material/filter_alt:")
            b2.form_submit_button(_("Set the hold"), on_click=_set_hold, type="primary",
                                  icon=":material/lock:")
    if not current.empty:
        with st.expander(_("Review or lift a hold"), icon=":material/event_repeat:"):
            ids = [int(i) for i in current["hold_id"]]
            words = {int(r.hold_id): _("Hold {id}: {records}").format(
                id=int(r.hold_id), records=H.filter_words(json.loads(r.filter)))
                for r in current.itertuples()}
            _hold_error("review", "hold")
            _hold_error("lift", "hold")
            st.selectbox(_("Hold"), ids, key=K + "which",
                         format_func=in_locale(lambda i: words.get(i, str(i))))
            left, right = st.columns(2)
            with left, st.form(K + "review_form", enter_to_submit=False):
                _hold_error("review", "form")
                _hold_field("review", "review_on", lambda: st.date_input(
                    _("Next review by"), value=None, key=K + "new_review_on",
                    format="YYYY-MM-DD"))
                _hold_field("review", "note", lambda: st.text_area(
                    _("Review note"), key=K + "review_note"))
                st.form_submit_button(_("Record the review"), on_click=_review_hold,
                                      icon=":material/event_repeat:")
            with right, st.form(K + "lift_form", enter_to_submit=False):
                _hold_error("lift", "form")
                _hold_field("lift", "note", lambda: st.text_area(
                    _("Why the hold ends"), key=K + "lift_note"))
                st.form_submit_button(_("Lift the hold"), on_click=_lift_hold,
                                      icon=":material/lock_open:")

"""Findings: the records behind every number of the overview, filtered and paged in SQL;
one finding's clause, rule, record, history and remediation plan. Every filter and the
selected finding are in the URL (``/findings?rule=PROC-PIA&entity=PRC-0007``)."""
import datetime as dt
import hashlib
import json
import math
from types import SimpleNamespace
from urllib.parse import urlencode

import streamlit as st

from dashboard import dashboards as D
from dashboard import navigation as nav
from dashboard import remediation as rem
from dashboard import ui
from dashboard import views as view
from dashboard.access import PermissionDenied
from dashboard.navigation import PAGE_BY_KEY

actor = ui.page_guard("findings")
store = ui.get_store()
settings = store.settings
today = store.now().date()
urgent, soon = settings.due_urgent_days, settings.due_soon_days
options = D.filter_options()
state = st.session_state
SEVERITY_ICON = {"high": ":material/error:", "medium": ":material/warning:",
                 "low": ":material/info:"}
SEVERITY_COLOR = {"high": "red", "medium": "orange", "low": "blue"}
PLAN_COLOR = {"unplanned": "red", "overdue": "orange", "planned": "blue"}
# Beside an open finding, the list keeps the columns that tell its rows apart.
COMPACT = {"findings": ["severity", "rule_id", "entity_id", "plan_state", "detail"],
           "due": ["due_at", "rule_id", "entity_id", "detail"]}
WIDGETS = (
    ("rule", "Rule", str, "Compliance rules (docs/RULES.md)."),
    ("clause", "Policy clause", str, "Clauses of the privacy policy that rules test."),
    ("article", "Policy article", str,
     "5 sharing, 6 storage, 7 security, 8 access and control."),
    ("severity", "Severity", D.SEVERITY_LABELS.get, None),
    ("type", "Entity type", D.TYPE_LABELS.get, None),
    ("plan", "Remediation plan", D.PLAN_LABELS.get,
     "Unplanned: not acknowledged; planned: a plan with a target date ahead; plan overdue: "
     "its target date has passed."),
)


def clear_filters() -> None:
    for key, *_ in WIDGETS:
        state[key] = []
    state["entity"] = ""
    state["search"] = ""
    state["page"] = 1
    st.query_params.pop("finding", None)


with st.sidebar:
    day = st.date_input(
        "As of", value=today, min_value=dt.date(2000, 1, 1), max_value=today, key="as_of",
        bind="query-params", format="YYYY-MM-DD",
        help="Today: the registers as they are now. A past day: as at the close of that day.")
    mode = st.segmented_control(
        "Show", ["findings", "due"], default="findings", required=True, key="view",
        bind="query-params", format_func={"findings": "Findings", "due": "Due soon"}.get,
        help="Findings break a rule now; items due soon will, if nothing is done by their "
             "deadline.")
    st.subheader("Filters", anchor=False)
    raw: dict = {}
    for key, label, fmt, help_text in WIDGETS:
        if key == "plan" and mode == "due":
            continue
        raw[key] = st.multiselect(label, options[key], key=key, bind="query-params",
                                  format_func=fmt, placeholder="All", help=help_text)
    raw["entity"] = st.text_input("Entity ID", key="entity", bind="query-params",
                                  placeholder="e.g. PRC-0007",
                                  help="One processor, agreement, record or incident: its "
                                       "exact ID.")
    raw["search"] = st.text_input("Search", key="search", bind="query-params",
                             placeholder="Type and press Enter",
                             help="Text in the entity ID or the finding's detail.")
    within = None
    if mode == "due":
        windows = sorted({urgent, soon})
        within = st.selectbox("Falling due within (days)", windows, index=len(windows) - 1,
                              key="within", bind="query-params",
                              help="Settings due_urgent_days and due_soon_days.")
    st.button("Clear filters", icon=":material/filter_alt_off:", on_click=clear_filters,
              width="stretch")

as_of = D.as_of_for(store, day)
live = D.is_now(as_of)
filters = D.clean_filters(raw)
selected = D.parse_finding_key(st.query_params.get("finding"))

st.title("Findings" if mode == "findings" else "Due soon", anchor=False)
when = store.now().strftime("%Y-%m-%d %H:%M") if live else f"the close of {as_of}"
st.caption(
    f"As of **{when}** (Asia/Shanghai). " + (
        "One finding per entity that breaks a rule; most severe first. Select a row to see "
        "the clause it breaks, the entity's record and history, and its remediation plan."
        if mode == "findings" else
        "Deadlines not missed yet: not findings, not in any score, but findings tomorrow if "
        "nothing is done. Select a row to see the entity and the rule."))

# Filled in once the row just selected (if any) has put its finding in the URL.
share_box = st.empty()

if mode == "findings":
    stats = ui.cached(D.finding_stats, as_of=as_of, filters=filters)
    total = stats["findings"]
    with st.container(horizontal=True):
        st.metric("Findings", f"{total:,}", border=True, help="Open findings matching the "
                                                              "filters.")
        for sev in D.SEVERITY_ORDER:
            st.metric(D.SEVERITY_LABELS[sev], f"{stats[sev]:,}", border=True)
        st.metric("Unplanned", f"{stats['unplanned']:,}", border=True,
                  help="No remediation plan yet.")
        st.metric("Planned", f"{stats['planned']:,}", border=True,
                  help="A plan whose target date has not passed.")
        st.metric("Plans overdue", f"{stats['overdue']:,}", border=True,
                  help="A plan whose target date has passed.")
else:
    dstats = ui.cached(D.due_stats, as_of=as_of, filters=filters, within_days=within)
    total = dstats["due"]
    with st.container(horizontal=True):
        st.metric(f"Due within {within} days", f"{total:,}", border=True)
        nxt = dstats["next_due_at"]
        st.metric("Next deadline", nxt.astimezone(store.tz).strftime("%Y-%m-%d %H:%M")
                  if nxt is not None else "—", border=True)

n_filters = sum(1 for v in filters.values() if v)
st.markdown(f"**{total:,}** {'findings' if mode == 'findings' else 'items'} "
            + (f"match {n_filters} filter{'s' if n_filters != 1 else ''}." if n_filters
               else "— no filter set."))

pages = max(1, math.ceil(total / D.PAGE_SIZE))
with st.container(horizontal=True, vertical_alignment="bottom"):
    sort = "severity"
    if mode == "findings":
        sort = st.selectbox("Sort by", list(D.SORTS), format_func=lambda k: D.SORTS[k][0],
                            key="sort", bind="query-params", width=300)
    page = st.pagination(pages, key="page", bind="query-params") if pages > 1 else 1
page = min(page, pages)
offset = (page - 1) * D.PAGE_SIZE
if mode == "findings":
    rows = ui.cached(D.findings_rows, as_of=as_of, filters=filters, sort=sort,
                     limit=D.PAGE_SIZE, offset=offset)
else:
    rows = ui.cached(D.due_rows, as_of=as_of, filters=filters, within_days=within,
                     limit=D.PAGE_SIZE, offset=offset)

# A row selected in the table selects its finding (and puts it in the URL); the table's
# key changes with the view, so a selection never carries over to other rows.
view_id = hashlib.sha1(json.dumps([mode, as_of, filters, within, page, sort],
                                  sort_keys=True, default=str).encode()).hexdigest()[:10]
table_key = f"findings_table_{view_id}"
chosen = (state.get(table_key) or {}).get("selection", {}).get("rows", [])
if chosen and chosen[0] < len(rows):
    row = rows.iloc[chosen[0]]
    key = D.finding_key(row["rule_id"], row["entity_id"])
    if state.get("findings_last_pick") != (table_key, key):
        state["findings_last_pick"] = (table_key, key)
        st.query_params["finding"] = key
        selected = (str(row["rule_id"]), str(row["entity_id"]))
with share_box.expander("Share this view", icon=":material/link:"):
    shared = {k: st.query_params.get_all(k) for k in st.query_params}
    shared = {k: v[0] if len(v) == 1 else v for k, v in shared.items() if v}
    st.code("findings" + ("?" + urlencode(shared, doseq=True) if shared else ""),
            language=None)
    st.caption("The address bar holds every filter and the selected finding: send it to a "
               "colleague and they see this view (on their role's pages).")
if selected is None and total == 1 and len(rows) == 1:
    selected = (str(rows.iloc[0]["rule_id"]), str(rows.iloc[0]["entity_id"]))
if selected:
    table_slot, detail_col = st.columns([5, 4])
else:
    table_slot, detail_col = st.container(), None

with table_slot:
    if total == 0:
        st.info("Nothing matches the filters." if n_filters else
                ("No open findings." if mode == "findings" else "Nothing falls due."),
                icon=":material/filter_alt:")
    else:
        shown = rows.copy()
        shown["severity"] = [D.SEVERITY_LABELS.get(x, x) for x in shown["severity"]]
        shown["entity_type"] = [D.TYPE_LABELS.get(x, x) for x in shown["entity_type"]]
        config = {
            "severity": st.column_config.TextColumn("Severity"),
            "rule_id": st.column_config.TextColumn("Rule"),
            "clause": st.column_config.TextColumn("Clause"),
            "entity_type": st.column_config.TextColumn("Entity type"),
            "entity_id": st.column_config.TextColumn("Entity"),
            "detail": st.column_config.TextColumn("Detail", width="large"),
            "due_at": st.column_config.DatetimeColumn("Deadline", format="YYYY-MM-DD HH:mm",
                                                      timezone=settings.timezone),
        }
        if mode == "findings":
            shown["plan_state"] = [D.PLAN_LABELS.get(x, x) for x in shown["plan_state"]]
            config.update({
                "plan_state": st.column_config.TextColumn("Plan"),
                "owner": st.column_config.TextColumn("Owner"),
                "target_date": st.column_config.DateColumn("Target", format="YYYY-MM-DD"),
            })
        st.dataframe(shown, hide_index=True, key=table_key, on_select="rerun",
                     selection_mode="single-row", column_config=config,
                     column_order=COMPACT.get(mode) if selected else list(shown.columns),
                     height=min(38 + 35 * len(shown), 560))
        st.caption(f"Rows {offset + 1:,}–{offset + len(rows):,} of {total:,}. "
                   "Select a row to open it.")


# -- one finding --------------------------------------------------------------------------
def _reset_form(key: str) -> None:
    if state.get("ack_for") != key:
        for k in ("ack_owner", "ack_target", "ack_comment", "ack_errors"):
            state.pop(k, None)
        state["ack_for"] = key


def _acknowledge(rule_id: str, entity_id: str) -> None:
    # Callbacks run before the script (and its session checks): act as whoever the
    # session is now, not as the actor of the run that drew the form.
    acting = ui.callback_actor("findings")
    if acting is None:
        return
    try:
        plan = rem.acknowledge(store, acting, rule_id=rule_id, entity_id=entity_id,
                               owner=state.get("ack_owner"), target_date=state.get("ack_target"),
                               comment=state.get("ack_comment"))
    except rem.AcknowledgementError as exc:
        state["ack_errors"] = exc.errors
        return
    except PermissionDenied as exc:
        state["ack_errors"] = {"finding": str(exc)}
        return
    state["ack_errors"] = {}
    state["ack_flash"] = (f"Plan recorded for {rule_id} on {ui.plain(entity_id)}: {ui.plain(plan.owner)} by "
                          f"{plan.target_date:%Y-%m-%d} (revision {plan.revision}, audit entry "
                          f"#{plan.audit_seq}).")
    for k in ("ack_owner", "ack_target", "ack_comment"):
        state.pop(k, None)


def _close() -> None:
    st.query_params.pop("finding", None)


def _open(key: str) -> None:
    st.query_params["finding"] = key


def _error(errors: dict, name: str) -> None:
    if errors.get(name):
        st.error(ui.plain(errors[name]), icon=":material/error:")


def detail(rule_id: str, entity_id: str) -> None:
    d = ui.cached(D.finding_detail, as_of=as_of, rule_id=rule_id, entity_id=entity_id)
    rule, etype = d["rule"], d["entity_type"]
    key = D.finding_key(rule_id, entity_id)
    _reset_form(key)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.subheader(f"{rule_id} · {ui.plain(entity_id)}", anchor=False)
        st.button("Close", icon=":material/close:", key="close_finding", on_click=_close,
                  type="tertiary")
    badges = [f":{SEVERITY_COLOR[rule['severity']]}-badge[{rule['severity'].capitalize()}]",
              f":gray-badge[{D.TYPE_LABELS.get(etype, etype)}]",
              f":gray-badge[Clause {rule['clause']}]"]
    if d["plan_state"]:
        badges.append(f":{PLAN_COLOR[d['plan_state']]}-badge[{D.PLAN_LABELS[d['plan_state']]}]")
    st.markdown(" ".join(badges) + f"  **{rule['title']}**")
    flash = state.pop("ack_flash", None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    if d["finding"] is not None:
        callout = {"high": st.error, "medium": st.warning}.get(rule["severity"], st.info)
        callout(f"**Finding:** {ui.plain(d['finding']['detail'])}", icon=SEVERITY_ICON[rule["severity"]])
    elif d["due"] is not None:
        due_at = d["due"]["due_at"]
        st.warning(f"**Not a finding yet — due by {due_at.astimezone(store.tz):%Y-%m-%d %H:%M}:** "
                   f"{ui.plain(d['due']['detail'])}", icon=":material/hourglass_top:")
    else:
        st.success(f"{rule_id} finds nothing on {ui.plain(entity_id)} as of {when}: resolved, or never "
                   "broken. Its record, history and any plan stay below.",
                   icon=":material/check_circle:")

    why, record, history, plan_tab = st.tabs(
        ["Clause and rule", "Record", "History", "Remediation plan"])
    with why:
        clause = d["clause"]
        if clause:
            st.markdown(f"**Policy clause {clause['clause']}** · Article {clause['article']}. "
                        f"{clause['article_title']}")
            st.markdown(view.clause_markdown(SimpleNamespace(**clause), number=False))
            st.page_link(nav.script("policy"), label=f"Clause {clause['clause']} in the policy",
                         icon=":material/policy:", query_params={"clause": clause["clause"]})
        st.markdown(f"**What the clause promises.** {rule['promise']}\n\n"
                    f"**Why this is a finding.** {rule['breach']}\n\n"
                    f"**What fixes it.** {rule['fix']}\n\n"
                    f"**Legal source.** {rule['legal_source']}\n\n"
                    f"**How the rule reads the data.** {rule['reading']}\n\n"
                    f"**Severity {rule['severity']}.** {rule['severity_reason']}")
        st.caption(f"The rule's SQL: `{rule['sql_file']}`.")
        others = d["others"]
        if len(others):
            st.markdown(f"**{ui.plain(entity_id)} also breaks**")
            for r in others.itertuples(index=False):
                st.button(f"{r.rule_id} — {ui.plain(r.detail)}", key=f"other_{r.rule_id}",
                          on_click=_open, args=(D.finding_key(r.rule_id, entity_id),),
                          icon=SEVERITY_ICON.get(r.severity), type="tertiary")
    with record:
        rec = d["record"]
        if rec.empty:
            st.warning(f"No {D.TYPE_LABELS.get(etype, etype).lower()} {ui.plain(entity_id)} in the "
                       "register any more.", icon=":material/search_off:")
        else:
            st.dataframe(rec[["heading", "value"]], hide_index=True,
                         column_config={"heading": st.column_config.TextColumn("Field"),
                                        "value": st.column_config.TextColumn("Value",
                                                                             width="large")})
        spec = PAGE_BY_KEY[d["register_page"]]
        if actor.role in spec.roles:
            st.page_link(spec.script, label=f"Open in {spec.title}", icon=spec.icon,
                         query_params=d["register_param"])
    with history:
        if d["timeline"] is not None:
            st.markdown("**Incident timeline** (append-only)")
            tl = d["timeline"]
            st.dataframe(tl[["event_id", "at", "actor", "kind", "detail"]], hide_index=True,
                         column_config={
                             "event_id": st.column_config.NumberColumn("#"),
                             "at": st.column_config.DatetimeColumn(
                                 "When", format="YYYY-MM-DD HH:mm", timezone=settings.timezone),
                             "actor": "Who", "kind": "Step",
                             "detail": st.column_config.TextColumn("Detail", width="large")})
        st.markdown("**Audit log** — entries about this entity, and imports into its register")
        audit = d["history"]
        if audit.empty:
            st.caption("No audit entry names this entity.")
        else:
            st.dataframe(D.history_display(audit), hide_index=True, column_config={
                "seq": st.column_config.NumberColumn("#"),
                "logged_at": st.column_config.DatetimeColumn(
                    "When", format="YYYY-MM-DD HH:mm", timezone=settings.timezone),
                "actor": "Who", "role": "Role", "action": "Action",
                "change": st.column_config.TextColumn("What changed", width="large")})
    with plan_tab:
        plan = d["plan"]
        if plan is None:
            st.markdown("No remediation plan yet.")
        else:
            st.markdown(
                f"**{ui.plain(plan['owner'])}** will fix it by **{plan['target_date']:%Y-%m-%d}**.\n\n"
                f"> {ui.plain(plan['comment'])}\n\n"
                f"Acknowledged by {ui.plain(plan['acknowledged_by'])} on "
                f"{plan['acknowledged_at'].astimezone(store.tz):%Y-%m-%d %H:%M}"
                + (f" (revision {plan['revision']}, first on "
                   f"{plan['first_acknowledged_at'].astimezone(store.tz):%Y-%m-%d})"
                   if plan["revision"] > 1 else "") + ".")
            revisions = d["plan_history"]
            if len(revisions) > 1:
                st.dataframe(revisions[["revision", "owner", "target_date", "comment",
                                        "recorded_at", "recorded_by"]], hide_index=True,
                             column_config={
                                 "target_date": st.column_config.DateColumn(
                                     "Target", format="YYYY-MM-DD"),
                                 "recorded_at": st.column_config.DatetimeColumn(
                                     "Recorded", format="YYYY-MM-DD HH:mm",
                                     timezone=settings.timezone)})
        if not actor.may(rem.ACTION):
            st.info("Only a data protection officer can acknowledge findings.",
                    icon=":material/lock:")
        elif not live:
            st.info("Plans are recorded on today's view: clear the as-of date.",
                    icon=":material/history:")
        elif d["finding"] is None:
            st.caption("Only an open finding can be acknowledged.")
        else:
            errors = state.get("ack_errors") or {}
            _error(errors, "finding")
            with st.form("ack_form", border=True):
                st.markdown("**Revise the plan**" if plan else "**Acknowledge with a plan**")
                st.text_input("Owner", key="ack_owner", max_chars=rem.MAX_OWNER,
                              value=plan["owner"] if plan else "",
                              help="Who will fix it: a person or a team.")
                _error(errors, "owner")
                st.date_input("Target date", key="ack_target", format="YYYY-MM-DD",
                              value=plan["target_date"] if plan else None, min_value=today,
                              help="The day by which it will be fixed (Asia/Shanghai).")
                _error(errors, "target_date")
                st.text_area("Comment", key="ack_comment", max_chars=rem.MAX_COMMENT,
                             placeholder="What will be done, and why this date.")
                _error(errors, "comment")
                st.form_submit_button("Save plan" if plan else "Acknowledge",
                                      icon=":material/task_alt:", type="primary",
                                      on_click=_acknowledge, args=(rule_id, entity_id))


if selected and detail_col is not None:
    with detail_col, st.container(border=True):
        detail(*selected)

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
from dashboard import i18n
from dashboard import navigation as nav
from dashboard import remediation as rem
from dashboard import ui, ui_evidence
from dashboard import policy_law as PL
from dashboard import rules as R
from dashboard import views as view
from dashboard.access import PermissionDenied
from dashboard.i18n import (N_, _, actor_label, page_title, fmt_date, fmt_datetime, fmt_number,
                            is_chinese, label, label_frame, ngettext)
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
# The multiselects' shown words are also their values in the URL (Streamlit binds the
# words): severity, type and plan are in the page's locale, as ``D.url_params`` writes them.
WIDGETS = (
    ("rule", N_("Rule"), str, N_("Compliance rules (docs/RULES.md).")),
    ("clause", N_("Policy clause"), str, N_("Clauses of the privacy policy that rules test.")),
    ("article", N_("Policy article"), str,
     N_("5 sharing, 6 storage, 7 security, 8 access and control.")),
    ("severity", N_("Severity"), D.severity_label, None),
    ("type", N_("Entity type"), D.type_label, None),
    ("plan", N_("Remediation plan"), D.plan_label,
     N_("Unplanned: not acknowledged; planned: a plan with a target date ahead; plan overdue: "
        "its target date has passed.")),
)


def _other_language_links() -> None:
    """A link written in the other language (``?severity=High`` opened in Chinese: the bound
    multiselects' words are their URL values) still filters: its words become the codes
    before the widgets read the address. (``view``, a segmented control with a default,
    cannot be set so: a link's ``view`` in the other language shows the findings.)"""
    words = {"severity": (D.SEVERITY_LABELS, D.severity_label),
             "type": (D.TYPE_LABELS, D.type_label), "plan": (D.PLAN_LABELS, D.plan_label)}
    for key, (english, shown) in words.items():
        values = st.query_params.get_all(key)
        if not values or key in state:
            continue
        known = {}
        for locale in i18n.LOCALES:
            with i18n.using(locale):
                known.update({shown(code): code for code in english})
        codes = [known[v] for v in values if v in known]
        if codes and any(v != shown(c) for v, c in zip(values, codes)):
            state[key] = list(dict.fromkeys(codes))


_other_language_links()


def clear_filters() -> None:
    for key, *_ in WIDGETS:
        state[key] = []
    state["entity"] = ""
    state["search"] = ""
    state["page"] = 1
    st.query_params.pop("finding", None)


with st.sidebar:
    day = st.date_input(
        _("As of"), value=today, min_value=dt.date(2000, 1, 1), max_value=today, key="as_of",
        bind="query-params", format="YYYY-MM-DD",
        help=_("Today: the registers as they are now. A past day: as at the close of that "
               "day."))
    mode = st.segmented_control(
        _("Show"), ["findings", "due"], default="findings", required=True, key="view",
        bind="query-params", format_func={"findings": _("Findings"), "due": _("Due soon")}.get,
        help=_("Findings break a rule now; items due soon will, if nothing is done by their "
               "deadline."))
    st.subheader(_("Filters"), anchor=False)
    raw: dict = {}
    for key, widget_label, fmt, help_text in WIDGETS:
        if key == "plan" and mode == "due":
            continue
        raw[key] = st.multiselect(_(widget_label), options[key], key=key, bind="query-params",
                                  format_func=fmt, placeholder=_("All"),
                                  help=_(help_text) if help_text else None)
    raw["entity"] = st.text_input(_("Entity ID"), key="entity", bind="query-params",
                                  placeholder=_("e.g. PRC-0007"),
                                  help=_("One processor, agreement, record or incident: its "
                                         "exact ID."))
    raw["search"] = st.text_input(_("Search"), key="search", bind="query-params",
                                  placeholder=_("Type and press Enter"),
                                  help=_("Text in the entity ID or the finding's detail."))
    within = None
    if mode == "due":
        windows = sorted({urgent, soon})
        within = st.selectbox(_("Falling due within (days)"), windows,
                              index=len(windows) - 1, key="within", bind="query-params",
                              help=_("Settings due_urgent_days and due_soon_days."))
    st.button(_("Clear filters"), icon=":material/filter_alt_off:", on_click=clear_filters,
              width="stretch")

as_of = D.as_of_for(store, day)
live = D.is_now(as_of)
filters = D.clean_filters(raw)
selected = D.parse_finding_key(st.query_params.get("finding"))

st.title(_("Findings") if mode == "findings" else _("Due soon"), anchor=False)
if is_chinese():
    when = (fmt_datetime(store.now()) if live else _("the close of {day}").format(
        day=fmt_date(dt.date.fromisoformat(as_of[:10]))))
else:
    when = store.now().strftime("%Y-%m-%d %H:%M") if live else f"the close of {as_of}"
st.caption(
    _("As of **{when}** (Asia/Shanghai). ").format(when=when) + (
        _("One finding per entity that breaks a rule; most severe first. Select a row to see "
          "the clause it breaks, the entity's record and history, and its remediation plan.")
        if mode == "findings" else
        _("Deadlines not missed yet: not findings, not in any score, but findings tomorrow "
          "if nothing is done. Select a row to see the entity and the rule.")))

# Filled in once the row just selected (if any) has put its finding in the URL.
share_box = st.empty()

if mode == "findings":
    stats = ui.cached(D.finding_stats, as_of=as_of, filters=filters)
    total = stats["findings"]
    with st.container(horizontal=True):
        st.metric(_("Findings"), fmt_number(total), border=True,
                  help=_("Open findings matching the filters."))
        for sev in D.SEVERITY_ORDER:
            st.metric(D.severity_label(sev), fmt_number(stats[sev]), border=True)
        st.metric(_("Unplanned"), fmt_number(stats["unplanned"]), border=True,
                  help=_("No remediation plan yet."))
        st.metric(_("Planned"), fmt_number(stats["planned"]), border=True,
                  help=_("A plan whose target date has not passed."))
        st.metric(_("Plans overdue"), fmt_number(stats["overdue"]), border=True,
                  help=_("A plan whose target date has passed."))
else:
    dstats = ui.cached(D.due_stats, as_of=as_of, filters=filters, within_days=within)
    total = dstats["due"]
    with st.container(horizontal=True):
        st.metric(_("Due within {days} days").format(days=within), fmt_number(total),
                  border=True)
        nxt = dstats["next_due_at"]
        if nxt is None:
            next_text = "—"
        elif is_chinese():
            next_text = fmt_datetime(nxt, zone=False)
        else:
            next_text = nxt.astimezone(store.tz).strftime("%Y-%m-%d %H:%M")
        st.metric(_("Next deadline"), next_text, border=True)

n_filters = sum(1 for v in filters.values() if v)
if is_chinese():
    count_line = (ngettext("**{n}** finding", "**{n}** findings", total) if mode == "findings"
                  else ngettext("**{n}** item", "**{n}** items", total)).format(
        n=fmt_number(total))
    count_line += (ngettext(" match {k} filter.", " match {k} filters.", n_filters).format(
        k=n_filters) if n_filters else _(" — no filter set."))
    st.markdown(count_line)
else:
    st.markdown(f"**{total:,}** {'findings' if mode == 'findings' else 'items'} "
                + (f"match {n_filters} filter{'s' if n_filters != 1 else ''}." if n_filters
                   else "— no filter set."))

pages = max(1, math.ceil(total / D.PAGE_SIZE))
with st.container(horizontal=True, vertical_alignment="bottom"):
    sort = "severity"
    if mode == "findings":
        sort = st.selectbox(_("Sort by"), list(D.SORTS), format_func=D.sort_label,
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
with share_box.expander(_("Share this view"), icon=":material/link:"):
    shared = {k: st.query_params.get_all(k) for k in st.query_params}
    shared = {k: v[0] if len(v) == 1 else v for k, v in shared.items() if v}
    st.code("findings" + ("?" + urlencode(shared, doseq=True) if shared else ""),
            language=None)
    st.caption(_("The address bar holds every filter and the selected finding: send it to a "
                 "colleague and they see this view (on their role's pages)."))
if selected is None and total == 1 and len(rows) == 1:
    selected = (str(rows.iloc[0]["rule_id"]), str(rows.iloc[0]["entity_id"]))
if selected:
    table_slot, detail_col = st.columns([5, 4])
else:
    table_slot, detail_col = st.container(), None

with table_slot:
    if total == 0:
        st.info(_("Nothing matches the filters.") if n_filters else
                (_("No open findings.") if mode == "findings" else _("Nothing falls due.")),
                icon=":material/filter_alt:")
    else:
        shown = rows.copy()          # display only: the codes in words, in the locale
        shown["severity"] = [D.severity_label(x) for x in shown["severity"]]
        shown["entity_type"] = [D.type_label(x) for x in shown["entity_type"]]
        shown["detail"] = [D.detail_text(x) for x in shown["detail"]]
        config = {
            "severity": st.column_config.TextColumn(_("Severity")),
            "rule_id": st.column_config.TextColumn(_("Rule")),
            "clause": st.column_config.TextColumn(_("Clause")),
            "entity_type": st.column_config.TextColumn(_("Entity type")),
            "entity_id": st.column_config.TextColumn(_("Entity")),
            "detail": st.column_config.TextColumn(_("Detail"), width="large"),
            "due_at": st.column_config.DatetimeColumn(_("Deadline"), format="YYYY-MM-DD HH:mm",
                                                      timezone=settings.timezone),
        }
        if "title" in shown.columns:
            shown["title"] = [D.rule_title(r, t) for r, t in zip(shown["rule_id"],
                                                                  shown["title"])]
            config["title"] = st.column_config.TextColumn(_("What it checks"))
        if mode == "findings":
            shown["plan_state"] = [D.plan_label(x) for x in shown["plan_state"]]
            config.update({
                "plan_state": st.column_config.TextColumn(_("Plan")),
                "owner": st.column_config.TextColumn(_("Owner")),
                "target_date": st.column_config.DateColumn(_("Target"), format="YYYY-MM-DD"),
            })
        st.dataframe(shown, hide_index=True, key=table_key, on_select="rerun",
                     selection_mode="single-row", column_config=config,
                     column_order=COMPACT.get(mode) if selected else list(shown.columns),
                     height=min(38 + 35 * len(shown), 560))
        st.caption(_("Rows {first}–{last} of {total}. Select a row to open it.").format(
            first=fmt_number(offset + 1), last=fmt_number(offset + len(rows)),
            total=fmt_number(total)))


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
    state["ack_flash"] = _("Plan recorded for {rule} on {entity}: {owner} by {date} (revision "
                           "{revision}, audit entry #{seq}).").format(
        rule=rule_id, entity=ui.plain(entity_id), owner=ui.plain(plan.owner),
        date=fmt_date(plan.target_date) if is_chinese() else f"{plan.target_date:%Y-%m-%d}",
        revision=plan.revision, seq=plan.audit_seq)
    for k in ("ack_owner", "ack_target", "ack_comment"):
        state.pop(k, None)


def _close() -> None:
    st.query_params.pop("finding", None)


def _open(key: str) -> None:
    st.query_params["finding"] = key


def detail(rule_id: str, entity_id: str) -> None:
    d = ui.cached(D.finding_detail, as_of=as_of, rule_id=rule_id, entity_id=entity_id)
    rule, etype = dict(d["rule"]), d["entity_type"]
    loaded = R.rule_map().get(rule_id)
    if loaded is not None:       # the rule's texts in the page's locale (rules.toml *_zh)
        for name in ("title", "promise", "breach", "fix", "legal_source", "reading",
                     "severity_reason"):
            rule[name] = R.text(loaded, name)
    key = D.finding_key(rule_id, entity_id)
    _reset_form(key)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.subheader(f"{rule_id} · {ui.plain(entity_id)}", anchor=False)
        st.button(_("Close"), icon=":material/close:", key="close_finding", on_click=_close,
                  type="tertiary")
    badges = [f":{SEVERITY_COLOR[rule['severity']]}-badge[{D.severity_label(rule['severity'])}]",
              f":gray-badge[{D.type_label(etype)}]",
              ":gray-badge[" + _("Clause {clause}").format(clause=rule["clause"]) + "]"]
    if d["plan_state"]:
        badges.append(f":{PLAN_COLOR[d['plan_state']]}-badge[{D.plan_label(d['plan_state'])}]")
    st.markdown(" ".join(badges) + f"  **{rule['title']}**")
    flash = state.pop("ack_flash", None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    if d["finding"] is not None:
        callout = {"high": st.error, "medium": st.warning}.get(rule["severity"], st.info)
        callout(_("**Finding:** {detail}").format(detail=ui.plain(D.detail_text(d["finding"]["detail"]))),
                icon=SEVERITY_ICON[rule["severity"]])
    elif d["due"] is not None:
        due_at = d["due"]["due_at"]
        due_text = (fmt_datetime(due_at, zone=False) if is_chinese()
                    else f"{due_at.astimezone(store.tz):%Y-%m-%d %H:%M}")
        st.warning(_("**Not a finding yet — due by {due}:** {detail}").format(
            due=due_text, detail=ui.plain(D.detail_text(d["due"]["detail"]))), icon=":material/hourglass_top:")
    else:
        st.success(_("{rule} finds nothing on {entity} as of {when}: resolved, or never "
                     "broken. Its record, history and any plan stay below.").format(
            rule=rule_id, entity=ui.plain(entity_id), when=when),
            icon=":material/check_circle:")

    why, record, history, plan_tab, files_tab = st.tabs(
        [_("Clause and rule"), _("Record"), _("History"), _("Remediation plan"),
         _("Evidence files")])
    with files_tab:        # files kept with the finding (dashboard/ui_evidence.py)
        ui_evidence.render(actor, "finding", key, heading=False)
    with why:
        clause = d["clause"]
        if clause:
            st.markdown(_("**Policy clause {clause}** · Article {article}. {title}").format(
                clause=clause["clause"], article=clause["article"],
                title=PL.clause_title(clause["article"], clause["article_title"])))
            st.markdown(view.clause_markdown(SimpleNamespace(**clause), number=False))
            st.page_link(nav.script("policy"),
                         label=_("Clause {clause} in the policy").format(clause=clause["clause"]),
                         icon=":material/policy:", query_params={"clause": clause["clause"]})
        st.markdown(_("**What the clause promises.** {promise}\n\n"
                      "**Why this is a finding.** {breach}\n\n"
                      "**What fixes it.** {fix}\n\n"
                      "**Legal source.** {legal_source}\n\n"
                      "**How the rule reads the data.** {reading}\n\n"
                      "**Severity {severity}.** {severity_reason}").format(
            promise=rule["promise"], breach=rule["breach"], fix=rule["fix"],
            legal_source=rule["legal_source"], reading=rule["reading"],
            severity=(D.severity_label(rule["severity"]) if is_chinese()
                      else rule["severity"]),
            severity_reason=rule["severity_reason"]))
        st.caption(_("The rule's SQL: `{file}`.").format(file=rule["sql_file"]))
        others = d["others"]
        if len(others):
            st.markdown(_("**{entity} also breaks**").format(entity=ui.plain(entity_id)))
            for r in others.itertuples(index=False):
                st.button(f"{r.rule_id} — {ui.plain(D.detail_text(r.detail))}", key=f"other_{r.rule_id}",
                          on_click=_open, args=(D.finding_key(r.rule_id, entity_id),),
                          icon=SEVERITY_ICON.get(r.severity), type="tertiary")
    with record:
        rec = d["record"]
        if rec.empty:
            st.warning(_("No {type} {entity} in the register any more.").format(
                type=D.type_label(etype) if is_chinese() else D.type_label(etype).lower(),
                entity=ui.plain(entity_id)), icon=":material/search_off:")
        else:
            st.dataframe(rec[["heading", "value"]], hide_index=True,
                         column_config={"heading": st.column_config.TextColumn(_("Field")),
                                        "value": st.column_config.TextColumn(_("Value"),
                                                                             width="large")})
        spec = PAGE_BY_KEY[d["register_page"]]
        if actor.role in spec.roles:
            st.page_link(spec.script, label=_("Open in {page}").format(page=page_title(spec.title)),
                         icon=spec.icon, query_params=d["register_param"])
    with history:
        if d["timeline"] is not None:
            st.markdown(_("**Incident timeline** (append-only)"))
            tl = d["timeline"]
            if is_chinese():
                tl = tl.assign(actor=[actor_label(a) for a in tl["actor"]])
            st.dataframe(tl[["event_id", "at", "actor", "kind", "detail"]], hide_index=True,
                         column_config={
                             "event_id": st.column_config.NumberColumn("#"),
                             "at": st.column_config.DatetimeColumn(
                                 _("When"), format="YYYY-MM-DD HH:mm",
                                 timezone=settings.timezone),
                             "actor": _("Who"), "kind": _("Step"),
                             "detail": st.column_config.TextColumn(_("Detail"),
                                                                   width="large")})
        st.markdown(_("**Audit log** — entries about this entity, and imports into its "
                      "register"))
        audit = d["history"]
        if audit.empty:
            st.caption(_("No audit entry names this entity."))
        else:
            shown_audit = D.history_display(audit)
            if is_chinese():
                shown_audit = label_frame(shown_audit, {"role": "role",
                                                        "action": "audit_action"})
                shown_audit["actor"] = [actor_label(a) for a in shown_audit["actor"]]
            st.dataframe(shown_audit, hide_index=True, column_config={
                "seq": st.column_config.NumberColumn("#"),
                "logged_at": st.column_config.DatetimeColumn(
                    _("When"), format="YYYY-MM-DD HH:mm", timezone=settings.timezone),
                "actor": _("Who"), "role": _("Role"), "action": _("Action"),
                "change": st.column_config.TextColumn(_("What changed"), width="large")})
    with plan_tab:
        plan = d["plan"]
        if plan is None:
            st.markdown(_("No remediation plan yet."))
        else:
            zh = is_chinese()
            target_text = (fmt_date(plan["target_date"]) if zh
                           else f"{plan['target_date']:%Y-%m-%d}")
            acked = (fmt_datetime(plan["acknowledged_at"], zone=False) if zh
                     else f"{plan['acknowledged_at'].astimezone(store.tz):%Y-%m-%d %H:%M}")
            text = _("**{owner}** will fix it by **{date}**.\n\n> {comment}\n\n"
                     "Acknowledged by {who} on {when}").format(
                owner=ui.plain(plan["owner"]), date=target_text,
                comment=ui.plain(plan["comment"]), who=ui.plain(plan["acknowledged_by"]),
                when=acked)
            if plan["revision"] > 1:
                first = (fmt_date(plan["first_acknowledged_at"]) if zh else
                         f"{plan['first_acknowledged_at'].astimezone(store.tz):%Y-%m-%d}")
                text += _(" (revision {revision}, first on {first})").format(
                    revision=plan["revision"], first=first)
            st.markdown(text + _("."))
            revisions = d["plan_history"]
            if len(revisions) > 1:
                st.dataframe(revisions[["revision", "owner", "target_date", "comment",
                                        "recorded_at", "recorded_by"]], hide_index=True,
                             column_config={
                                 "revision": _("Revision"), "owner": _("Owner"),
                                 "comment": _("Comment"), "recorded_by": _("Recorded by"),
                                 "target_date": st.column_config.DateColumn(
                                     _("Target"), format="YYYY-MM-DD"),
                                 "recorded_at": st.column_config.DatetimeColumn(
                                     _("Recorded"), format="YYYY-MM-DD HH:mm",
                                     timezone=settings.timezone)})
        if not actor.may(rem.ACTION):
            st.info(_("Only a data protection officer can acknowledge findings."),
                    icon=":material/lock:")
        elif not live:
            st.info(_("Plans are recorded on today's view: clear the as-of date."),
                    icon=":material/history:")
        elif d["finding"] is None:
            st.caption(_("Only an open finding can be acknowledged."))
        else:
            errors = state.get("ack_errors") or {}
            ui.field_error(errors, "finding")
            with st.form("ack_form", border=True):
                st.markdown(_("**Revise the plan**") if plan else _("**Acknowledge with a plan**"))
                st.text_input(_("Owner"), key="ack_owner", max_chars=rem.MAX_OWNER,
                              value=plan["owner"] if plan else "",
                              help=_("Who will fix it: a person or a team."))
                ui.field_error(errors, "owner")
                st.date_input(_("Target date"), key="ack_target", format="YYYY-MM-DD",
                              value=plan["target_date"] if plan else None, min_value=today,
                              help=_("The day by which it will be fixed (Asia/Shanghai)."))
                ui.field_error(errors, "target_date")
                st.text_area(_("Comment"), key="ack_comment", max_chars=rem.MAX_COMMENT,
                             placeholder=_("What will be done, and why this date."))
                ui.field_error(errors, "comment")
                st.form_submit_button(_("Save plan") if plan else _("Acknowledge"),
                                      icon=":material/task_alt:", type="primary",
                                      on_click=_acknowledge, args=(rule_id, entity_id))


if selected and detail_col is not None:
    with detail_col, st.container(border=True):
        detail(*selected)

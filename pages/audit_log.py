"""Audit log: every write, who made it and what changed, with the hash chain's status.

Filtered and paginated in SQL (``dashboard.exports.audit_entries``); the chain is
walked end to end (``dashboard.audit.verify``) once per change to the store.
"""
import datetime as dt

import streamlit as st

from dashboard.access import ACTION_TITLES
from dashboard import exports, ui
from dashboard.i18n import (_, actor_label, fmt_datetime, fmt_number, formatter, get_locale,
                            label_frame)

actor = ui.page_guard("audit_log")
store = ui.get_store()

st.title(_("Audit log"), anchor=False)
st.caption(_("Every write, from the app, the command line or an import, appends one entry: "
             "sequence, time, actor, role, action, entity, the values before and after, the "
             "digest of every table the write changed, and a signature (HMAC-SHA-256 with a "
             "key kept outside the store) over the entry and the previous entry's hash. "
             "Changing, deleting, reordering or adding any entry without the key breaks the "
             "chain there."))

status = ui.cached(exports.chain_status, locale=get_locale())
SEP = "；" if get_locale() == "zh_CN" else "; "
head_at = (fmt_datetime(dt.datetime.fromisoformat(status["head_at"].replace("Z", "+00:00")),
                        seconds=True) if status["head_at"] else "-")
head = _("Head: entry {seq}, hash `{hash}`, at {at}.").format(
    seq=fmt_number(status["head_seq"]), hash=status["head_hash"], at=head_at)
if status["ok"]:
    st.success(_("**Chain intact**: {count} entries verified, every signature valid. {head}"
                 ).format(count=fmt_number(status["entries"]), head=head),
               icon=":material/verified:")
else:
    where = (_("Chain broken at entry {seq}").format(seq=fmt_number(status["broken_seq"]))
             if status["broken_seq"] else _("Audit trail broken"))
    st.error(_("**{where}**: {problems}. Tell the DPO and keep the store file as it is for "
               "investigation. {head}").format(
                 where=where, problems=ui.plain(SEP.join(status["problems"])), head=head),
             icon=":material/gpp_bad:")
st.caption(_("Above: the chain and its signatures, checked on every change. The registers "
             "themselves are compared with their last audited state on request (it reads every "
             "row: seconds on a large store), or with `python -m dashboard audit verify`."))
if st.button(_("Check the registers against the log"), key="log_check_tables",
             icon=":material/fact_check:"):
    full = exports.chain_status(store, tables=True)
    if full["ok"]:
        st.success(_("**Registers match the log**: {count} tables are as the last audited "
                     "write left them.").format(count=fmt_number(full["tables_checked"])),
                   icon=":material/verified:")
    else:
        st.error(_("**Changed outside the app**: {problems}. Tell the DPO and keep the store "
                   "file as it is for investigation.").format(
                     problems=ui.plain(SEP.join(full["problems"]))),
                 icon=":material/gpp_bad:")

facets = ui.cached(exports.audit_facets)
c1, c2, c3 = st.columns(3)
who = c1.multiselect(_("Actor"), facets["actors"], key="log_actor", placeholder=_("All"),
                     format_func=actor_label)
what = c2.multiselect(_("Action"), facets["actions"], key="log_action", placeholder=_("All"),
                      format_func=formatter("audit_action"))
etype = c3.multiselect(_("Entity type"), facets["entity_types"], key="log_entity_type",
                       placeholder=_("All"), format_func=formatter("entity_type"))
c4, c5, c6 = st.columns(3)
eid = c4.text_input(_("Entity ID"), key="log_entity_id", placeholder=_("Any")).strip()
date_from = c5.date_input(_("Logged from"), value=None, key="log_from", format="YYYY-MM-DD")
date_to = c6.date_input(_("Logged to"), value=None, key="log_to", format="YYYY-MM-DD")
filters = {"actor": who, "action": what, "entity_type": etype, "entity_id": eid,
           "from": date_from, "to": date_to}
try:
    clean = exports.normalize_filters("audit_log", filters)
except exports.ExportError as exc:
    st.error(ui.plain(exc), icon=":material/error:")
    st.stop()

p1, p2, _rest = st.columns([1, 1, 4])
size = p1.selectbox(_("Rows per page"), exports.AUDIT_PAGE_SIZES, index=1,
                    key="log_page_size")
first = ui.cached(exports.audit_entries, filters=clean, page=1, page_size=size)
pages = first["pages"]
page = p2.number_input(_("Page (of {pages})").format(pages=fmt_number(pages)), min_value=1,
                       max_value=pages, value=1, step=1, key="log_page")
result = first if page == 1 else ui.cached(exports.audit_entries, filters=clean,
                                           page=int(page), page_size=size)

total = result["total"]
# (English keeps "1 entries": the wording the log has always had)
matched = _("**{n}** entries match the filters.") if clean else _("**{n}** entries match.")
shown_rows = (("" if get_locale() == "zh_CN" else " ") + _("Showing {count}, newest first.").format(
    count=fmt_number(len(result["rows"]))) if total else "")
st.markdown(matched.format(n=fmt_number(total)) + shown_rows)
# Actions, actors, roles and entity types in words; the before/after JSON stays as data.
rows = label_frame(result["rows"], {"role": "role", "action": "audit_action",
                                    "entity_type": "entity_type"})
if "actor" in rows.columns:
    rows["actor"] = rows["actor"].map(actor_label)
st.dataframe(
    rows, hide_index=True, width="stretch",
    column_config={
        "seq": st.column_config.NumberColumn(_("Seq"), format="%d", pinned=True),
        "logged_at": st.column_config.DatetimeColumn(_("Logged"),
                                                     format="YYYY-MM-DD HH:mm:ss"),
        "actor": st.column_config.TextColumn(_("Actor")),
        "role": st.column_config.TextColumn(_("Role")),
        "action": st.column_config.TextColumn(_("Action")),
        "entity_type": st.column_config.TextColumn(_("Entity type")),
        "entity_id": st.column_config.TextColumn(_("Entity ID")),
        "values_before": st.column_config.JsonColumn(_("Before")),
        "values_after": st.column_config.JsonColumn(_("After")),
        "hash": st.column_config.TextColumn(_("Hash"), help=_(
            "HMAC-SHA-256 (SHA-256 for entries written before the store was keyed) of this "
            "entry and the previous entry's hash.")),
    })

if actor.may(exports.EXPORT_ACTION):
    name = exports.file_name("audit_log", clean, store.now())
    st.download_button(
        _("Download these {n} entries (CSV)").format(n=fmt_number(total)),
        data=lambda f=clean, n=name: exports.download_bytes(store, actor, "audit_log", f,
                                                            name=n),
        file_name=name, mime=exports.CSV_MIME, on_click="ignore", icon=":material/download:",
        key="log_download", disabled=total == 0,
        help=_("With prev_hash and hash, so the chain can be re-checked from the file alone "
               "(docs/EVIDENCE.md). The download is itself logged."))
else:
    st.caption(_("Downloading the log is for auditors and DPOs (permission: {permission}).").format(
        permission=_(ACTION_TITLES["export.download"])))

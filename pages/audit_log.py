"""Audit log: every write, who made it and what changed, with the hash chain's status.

Filtered and paginated in SQL (``dashboard.exports.audit_entries``); the chain is
walked end to end (``dashboard.audit.verify``) once per change to the store.
"""
import streamlit as st

from dashboard import exports, ui

actor = ui.page_guard("audit_log")
store = ui.get_store()

st.title("Audit log", anchor=False)
st.caption("Every write, from the app, the command line or an import, appends one entry: "
           "sequence, time, actor, role, action, entity, the values before and after, the "
           "digest of every table the write changed, and a signature (HMAC-SHA-256 with a key "
           "kept outside the store) over the entry and the previous entry's hash. Changing, "
           "deleting, reordering or adding any entry without the key breaks the chain there.")

status = ui.cached(exports.chain_status)
head = (f"Head: entry {status['head_seq']:,}, hash `{status['head_hash']}`, "
        f"at {status['head_at'] or '-'} (UTC).")
if status["ok"]:
    st.success(f"**Chain intact**: {status['entries']:,} entries verified, every signature "
               f"valid. {head}", icon=":material/verified:")
else:
    where = (f"Chain broken at entry {status['broken_seq']:,}" if status["broken_seq"]
             else "Audit trail broken")
    st.error(f"**{where}**: " + ui.plain("; ".join(status["problems"]))
             + ". Tell the DPO and keep the store file as it is for investigation. " + head,
             icon=":material/gpp_bad:")
st.caption("Above: the chain and its signatures, checked on every change. The registers "
           "themselves are compared with their last audited state on request (it reads every "
           "row: seconds on a large store), or with `python -m dashboard audit verify`.")
if st.button("Check the registers against the log", key="log_check_tables",
             icon=":material/fact_check:"):
    full = exports.chain_status(store, tables=True)
    if full["ok"]:
        st.success(f"**Registers match the log**: {full['tables_checked']} tables are as the "
                   "last audited write left them.", icon=":material/verified:")
    else:
        st.error("**Changed outside the app**: " + ui.plain("; ".join(full["problems"]))
                 + ". Tell the DPO and keep the store file as it is for investigation.",
                 icon=":material/gpp_bad:")

facets = ui.cached(exports.audit_facets)
c1, c2, c3 = st.columns(3)
who = c1.multiselect("Actor", facets["actors"], key="log_actor", placeholder="All")
what = c2.multiselect("Action", facets["actions"], key="log_action", placeholder="All")
etype = c3.multiselect("Entity type", facets["entity_types"], key="log_entity_type",
                       placeholder="All")
c4, c5, c6 = st.columns(3)
eid = c4.text_input("Entity ID", key="log_entity_id", placeholder="Any").strip()
date_from = c5.date_input("Logged from", value=None, key="log_from", format="YYYY-MM-DD")
date_to = c6.date_input("Logged to", value=None, key="log_to", format="YYYY-MM-DD")
filters = {"actor": who, "action": what, "entity_type": etype, "entity_id": eid,
           "from": date_from, "to": date_to}
try:
    clean = exports.normalize_filters("audit_log", filters)
except exports.ExportError as exc:
    st.error(ui.plain(exc), icon=":material/error:")
    st.stop()

p1, p2, _ = st.columns([1, 1, 4])
size = p1.selectbox("Rows per page", exports.AUDIT_PAGE_SIZES, index=1, key="log_page_size")
first = ui.cached(exports.audit_entries, filters=clean, page=1, page_size=size)
pages = first["pages"]
page = p2.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                       key="log_page")
result = first if page == 1 else ui.cached(exports.audit_entries, filters=clean,
                                           page=int(page), page_size=size)

total = result["total"]
st.markdown(f"**{total:,}** entries match" + (" the filters." if clean else ".")
            + (f" Showing {len(result['rows']):,}, newest first." if total else ""))
st.dataframe(
    result["rows"], hide_index=True, width="stretch",
    column_config={
        "seq": st.column_config.NumberColumn("Seq", format="%d", pinned=True),
        "logged_at": st.column_config.DatetimeColumn("Logged", format="YYYY-MM-DD HH:mm:ss"),
        "actor": st.column_config.TextColumn("Actor"),
        "role": st.column_config.TextColumn("Role"),
        "action": st.column_config.TextColumn("Action"),
        "entity_type": st.column_config.TextColumn("Entity type"),
        "entity_id": st.column_config.TextColumn("Entity ID"),
        "values_before": st.column_config.JsonColumn("Before"),
        "values_after": st.column_config.JsonColumn("After"),
        "hash": st.column_config.TextColumn("Hash", help="HMAC-SHA-256 (SHA-256 for entries "
                                                         "written before the store was keyed) "
                                                         "of this entry and the previous "
                                                         "entry's hash."),
    })

if actor.may(exports.EXPORT_ACTION):
    name = exports.file_name("audit_log", clean, store.now())
    st.download_button(
        f"Download these {total:,} entries (CSV)",
        data=lambda f=clean, n=name: exports.download_bytes(store, actor, "audit_log", f,
                                                            name=n),
        file_name=name, mime=exports.CSV_MIME, on_click="ignore", icon=":material/download:",
        key="log_download", disabled=total == 0,
        help="With prev_hash and hash, so the chain can be re-checked from the file alone "
             "(docs/EVIDENCE.md). The download is itself logged.")
else:
    st.caption("Downloading the log is for auditors and DPOs (permission export.download).")

"""Exports: any dataset as contract CSV, and the audit pack (CSVs + manifest.json).

Auditors and DPOs choose a dataset and its filters, see how many rows the file will
hold, and download it. The file is generated only on the click, on Streamlit's
download thread (``st.download_button(data=<callable>, on_click="ignore")``): the
page does not rerun or freeze, and every download is one audit-log entry with the
file's SHA-256. The same files come from ``python -m dashboard export``.

Served by ``streamlit run server.py``, the page also offers each CSV as a one-time
streamed link (``dashboard.stream``: generated while it downloads, never held in
memory), and only that link from ``LARGE`` rows; served by ``streamlit run app.py``
it keeps the download button alone.
"""

import json

import streamlit as st

from dashboard import exports, stream, ui
from dashboard.access import PermissionDenied
from dashboard.i18n import _, fmt_datetime, fmt_number

actor = ui.page_guard("exports")
store = ui.get_store()
today = store.now().date()
LARGE = 1_000_000          # from this many rows: only the streamed link, or else a ZIP by default

st.title(_("Exports"), anchor=False)
st.caption(_("Evidence files for auditors: every register, the findings with their rule text, "
             "the incident timelines, the compliance snapshots and the audit log, as CSV that "
             "opens in Excel (UTF-8 with BOM, ISO dates, lists joined by `;`). Cells that a "
             "spreadsheet could run as a formula carry a leading `'`. Every download is "
             "recorded in the audit log with the file's SHA-256."))


def filter_widgets(ds: exports.Dataset, prefix: str) -> dict:
    """One widget per filter of ``ds``; returns the raw filters (checked by the caller)."""
    values: dict = {}
    facets = ui.cached(exports.audit_facets) if ds.name == "audit_log" else {}
    facet_of = {"actor": "actors", "action": "actions", "entity_type": "entity_types"}
    specs = list(ds.filters)
    cols = st.columns(3) if specs else []
    for i, spec in enumerate(specs):
        key = f"{prefix}_{ds.name}_{spec.key}"
        label, help_text = exports.filter_label(spec), exports.filter_help(spec) or None
        with cols[i % 3]:
            if spec.kind in ("from", "to"):
                values[spec.key] = st.date_input(label, value=None, key=key,
                                                 format="YYYY-MM-DD", help=help_text)
            elif spec.kind == "as_of":
                values[spec.key] = st.date_input(label, value=today, key=key,
                                                 format="YYYY-MM-DD", help=help_text)
            elif spec.allowed() or facet_of.get(spec.key) in facets:
                options = list(spec.allowed()) or list(facets[facet_of[spec.key]])
                values[spec.key] = st.multiselect(
                    label, options, key=key, placeholder=_("All"), help=help_text,
                    format_func=exports.choice_formatter(ds.name, spec))
            else:
                values[spec.key] = st.text_input(label, key=key, help=help_text,
                                                 placeholder=_("Any")).strip()
    return values


def forget_ticket() -> None:
    """The streamed link was clicked: its ticket is spent, offer a new one."""
    st.session_state.pop("exp_ticket", None)


def streamed_download(dataset: str, clean: dict, rows: int) -> None:
    """The CSV as a one-time link to the server's streaming route (``dashboard.stream``):
    generated while it downloads, never held in memory. The ticket is issued only
    when the user asks for it."""
    wanted = json.dumps([dataset, clean], sort_keys=True, default=str)
    held = st.session_state.get("exp_ticket")
    if held and (held["for"] != wanted or not stream.is_pending(held["token"])):
        stream.revoke(held["token"])        # other filters, used or expired
        st.session_state.pop("exp_ticket", None)
        held = None
    slot = st.empty()                        # the button, then the link in its place
    if held is None:
        big = rows >= LARGE
        if slot.button(_("Prepare the download") if big else _("Prepare a streamed download"),
                       key="exp_prepare", icon=":material/link:", disabled=rows == 0,
                       type="primary" if big else "secondary",
                       help=_("A one-time link that streams the CSV from the server while it "
                              "downloads: for any size of file.")):
            account = (st.session_state.get("account") or {}).get("username")
            try:
                ticket = stream.issue_ticket(store, actor, dataset, clean, account=account)
            except (exports.ExportError, PermissionDenied) as exc:
                st.error(ui.plain(exc), icon=":material/error:")
                return
            held = {"for": wanted, "token": ticket.token, "url": ticket.url,
                    "file": ticket.file_name, "until": ticket.expires_at}
            st.session_state["exp_ticket"] = held
    if held is not None:
        slot.link_button(_("Download CSV (streamed)"), held["url"], on_click=forget_ticket,
                         type="primary", icon=":material/download:", key="exp_stream_link")
        st.caption(_("`{file}`: a one-time link, valid until {until}. The file is generated "
                     "while it downloads and logged in the audit log when complete.").format(
                       file=held["file"], until=fmt_datetime(held["until"])))


def checked(dataset: str, raw: dict) -> dict | None:
    try:
        return exports.normalize_filters(dataset, raw)
    except exports.ExportError as exc:
        st.error(ui.plain(exc), icon=":material/error:")
        return None


one, pack = st.tabs([_("One dataset"), _("Audit pack")])

with one:
    names = list(exports.DATASETS)
    dataset = st.selectbox(
        _("Dataset"), names, key="exp_dataset",
        format_func=lambda n: _(exports.DATASETS[n].title))
    ds = exports.DATASETS[dataset]
    st.caption(_(ds.description))
    clean = checked(dataset, filter_widgets(ds, "exp"))
    if clean is not None:
        if dataset == "findings" and "as_of" not in clean:
            clean["as_of"] = today.isoformat()
        try:
            rows = ui.cached(exports.count_rows, dataset=dataset, filters=clean)
        except Exception as exc:     # e.g. the compliance engine is not installed
            st.error(_("{dataset} cannot be read: {error}").format(
                dataset=_(ds.title), error=ui.plain(exc)), icon=":material/error:")
            st.stop()
        st.metric(_("Rows in the file"), fmt_number(rows))
        with st.expander(_("Preview (first 20 rows, as stored)"), icon=":material/table:"):
            # the file's own rows, codes and all (container "contract_…": the language
            # tests know this table shows the export's contract values on purpose)
            st.container(key=f"contract_preview_{dataset}").dataframe(
                ui.cached(exports.preview_rows, dataset=dataset, filters=clean),
                hide_index=True)
        name = exports.file_name(dataset, clean, store.now())
        streamed = stream.served()     # served by `streamlit run server.py`
        if not streamed or rows < LARGE:
            compress = st.toggle(
                _("Compress as ZIP"), value=rows >= LARGE, key=f"exp_zip_{dataset}",
                help=_("A ZIP holding the same CSV: far smaller for large registers. The audit "
                       "log records the SHA-256 of both."))
            served = name[:-4] + ".zip" if compress else name
            st.download_button(
                _("Download {file}").format(file=served),
                data=lambda d=dataset, f=clean, z=compress, n=name: exports.download_bytes(
                    store, actor, d, f, compress=z, name=n),
                file_name=served, mime=exports.ZIP_MIME if compress else exports.CSV_MIME,
                on_click="ignore", type="primary", icon=":material/download:",
                key="exp_download", disabled=rows == 0)
        if streamed:
            streamed_download(dataset, clean, rows)
        if rows == 0:
            st.caption(_("No rows match these filters: nothing to download."))
        st.caption(_("The same file from the command line (it is logged there too):"))
        st.code(exports.cli_command(dataset, clean, name), language="bash")

with pack:
    st.markdown(_(
        "One ZIP with the chosen datasets as CSV and a `manifest.json` listing, for each "
        "file, its rows, SHA-256 and filters, plus the store's schema version, who generated "
        "it and when, and the audit chain's head at that moment. All files are read from one "
        "consistent snapshot. Check the files after download with "
        "`sha256sum -c SHA256SUMS` inside the unzipped folder, or "
        "`python -m dashboard audit check-pack PACK.zip`."))
    chosen = st.multiselect(
        _("Datasets"), list(exports.DATASETS), default=list(exports.DATASETS),
        key="pack_sets", format_func=lambda n: _(exports.DATASETS[n].title))
    c1, c2, c3 = st.columns(3)
    date_from = c1.date_input(_("From"), value=None, key="pack_from", format="YYYY-MM-DD",
                              help=_("Applied to each dataset's own date column (e.g. detected "
                                     "for incidents, logged for the audit log)."))
    date_to = c2.date_input(_("To"), value=None, key="pack_to", format="YYYY-MM-DD")
    as_of = c3.date_input(_("Findings as of"), value=today, key="pack_as_of",
                          format="YYYY-MM-DD")
    selections = []
    for n in chosen:
        raw: dict = {}
        if exports.DATASETS[n].date_filter is not None:
            raw.update({"from": date_from, "to": date_to})
        if n == "findings":
            raw["as_of"] = as_of
        clean_pack = checked(n, raw)
        if clean_pack is None:
            st.stop()
        selections.append((n, clean_pack))
    if not selections:
        st.info(_("Choose at least one dataset."), icon=":material/info:")
    else:
        summary = []
        for n, f in selections:
            try:
                count = ui.cached(exports.count_rows, dataset=n, filters=f)
            except Exception as exc:
                st.error(_("{dataset} cannot be read: {error}").format(
                    dataset=_(exports.DATASETS[n].title), error=ui.plain(exc)),
                    icon=":material/error:")
                st.stop()
            summary.append({"file": f"{n}.csv", "dataset": _(exports.DATASETS[n].title),
                            "rows": count,
                            "filters": ", ".join(f"{k}={v}" for k, v in f.items()) or "—"})
        st.dataframe(summary, hide_index=True, column_config={
            "file": st.column_config.TextColumn(_("File")),
            "dataset": st.column_config.TextColumn(_("Dataset")),
            "rows": st.column_config.NumberColumn(_("Rows"), format="localized"),
            "filters": st.column_config.TextColumn(_("Filters"))})
        pack_name = exports.pack_file_name(store.now())
        st.download_button(
            _("Download {file}").format(file=pack_name),
            data=lambda s=tuple(selections), n=pack_name: exports.pack_bytes(
                store, actor, list(s), name=n),
            file_name=pack_name, mime=exports.ZIP_MIME, on_click="ignore", type="primary",
            icon=":material/folder_zip:", key="pack_download")

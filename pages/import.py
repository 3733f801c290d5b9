"""Import: load a CSV, Excel workbook or Parquet file into a register, all or nothing.

The file is checked first (``importer.stage_file``): a preview and every error by
line and column, before anything is written. Only a clean file can be committed
(``importer.commit_import``), in one transaction with one audit entry, appending
to the register or replacing it.
"""
import hashlib

import pandas as pd
import streamlit as st

from dashboard.i18n import LABELS, label
from dashboard.registers import LABEL_KINDS
from dashboard import exports, importer, ui
from dashboard import views as view
from dashboard.access import PermissionDenied
from dashboard.i18n import _, fmt_number, get_locale, ngettext
from dashboard.registers import REGISTERS

actor = ui.page_guard("import")
store = ui.get_store()

st.title(_("Import"), anchor=False)
st.caption(_("Load a register from a file: CSV (comma separated, a header row with the "
             "data contract's column names; lists joined by `;`, dates YYYY-MM-DD, timestamps "
             "ISO 8601), an Excel workbook (.xlsx: the first sheet, the column names in row 1) "
             "or Parquet with the same columns. A file exported from this app imports back "
             "unchanged. All or nothing: one bad row and nothing is written."))

table = st.selectbox(_("Register"), list(REGISTERS), key="imp_table",
                     format_func=lambda n: _(REGISTERS[n].title))
reg = REGISTERS[table]
title = _(reg.title)
TYPE_WORDS = {"text": _("text"), "integer": _("integer"), "number": _("number"),
              "date": _("date"), "timestamp": _("timestamp"), "boolean": _("boolean"),
              "enum": _("enum"), "list": _("list"), "region": _("region")}
with st.expander(_("Columns of {register}").format(register=title),
                 icon=":material/view_column:"):
    # The column names and the values are the data contract's: they stay as the file
    # must hold them, each value with its words (container "contract_…": the language tests
    # know this table shows the file's own codes on purpose).
    kinds = LABEL_KINDS.get(reg.name, {})

    def values(c) -> str:
        kind = kinds.get(c.name)
        if kind is None or kind == "category" or kind not in LABELS:
            return ", ".join(c.choices)
        return ", ".join(f"{code} ({label(kind, code)})" for code in c.choices)

    st.container(key="contract_columns").dataframe(pd.DataFrame([{
        "column": c.name, "type": TYPE_WORDS.get(c.type, c.type), "required": c.required,
        "key": c.key, "values": values(c)} for c in reg.columns]), hide_index=True,
        column_config={"column": st.column_config.TextColumn(_("Column")),
                       "type": st.column_config.TextColumn(_("Type")),
                       "required": st.column_config.CheckboxColumn(_("Required")),
                       "key": st.column_config.CheckboxColumn(_("Key")),
                       "values": st.column_config.TextColumn(_("Values"))})

current = ui.cached(exports.count_rows, dataset=table, filters={})
mode = st.radio(_("How"), ["append", "replace"], key="imp_mode", horizontal=True,
                format_func=lambda m: {
                    "append": _("Append to the register (a key already there is an error)"),
                    "replace": _("Replace the register's {count} rows with the file").format(
                        count=fmt_number(current))}[m])
replace = mode == "replace"

ENCODINGS = {
    "utf-8": _("UTF-8 (\"CSV UTF-8\"; the data contract's encoding)"),
    "gb18030": _("GB18030 / GBK (Excel in China: \"CSV (comma delimited)\")"),
}
encoding = st.selectbox(_("Encoding of a CSV file"), list(importer.ENCODINGS),
                        key="imp_encoding", format_func=lambda e: ENCODINGS.get(e, e),
                        help=_("How the CSV's text is stored. A file that is not UTF-8 is "
                               "refused, naming the encoding it looks like. Excel workbooks "
                               "and Parquet files need no choice."))
# .xls is taken so that its refusal says how to convert it (the browser would only say
# "not allowed").
upload = st.file_uploader(_("File"), type=["csv", "xlsx", "parquet", "xls"], key="imp_file",
                          help=_("CSV, Excel workbook (.xlsx) or Parquet, at most the server's "
                                 "upload limit; larger files: "
                                 "`python -m dashboard import TABLE FILE`."))
if upload is None:
    st.info(_("Choose a register, append or replace, and a file. Nothing is written until you "
              "confirm."), icon=":material/upload_file:")
    st.stop()

data = upload.getvalue()
digest = hashlib.sha256(data).hexdigest()
# The language is part of the key: the problems are worded when the file is checked.
stage_key = (table, upload.name, digest, replace, encoding, get_locale())
if st.session_state.get("imp_stage_key") != stage_key:
    with st.spinner(_("Checking the file…")):
        # A replace empties the register first, so keys already in it are no error then.
        st.session_state["imp_staged"] = importer.stage_file(
            store, table, data, upload.name, replace=replace, encoding=encoding)
    st.session_state["imp_stage_key"] = stage_key
staged = st.session_state["imp_staged"]

done = st.session_state.get("imp_done")
if done and done["key"] == stage_key[:3]:
    st.success(done["message"], icon=":material/task_alt:")
    st.caption(_("Upload another file to import more."))
    st.stop()

m1, m2, m3 = st.columns(3)
m1.metric(_("Rows in the file"), fmt_number(staged.rows))
m2.metric(_("Problems"), fmt_number(len(staged.errors)))
m3.metric(_("Format"), (staged.format or "?").upper())
encoded = " · GB18030" if staged.format == "csv" and staged.encoding == "gb18030" else ""
st.caption(f"{ui.plain(staged.source_name)}{encoded} · SHA-256 `{staged.sha256}`")


def error_table(errors) -> None:
    st.dataframe(pd.DataFrame([{
        "line": e.line, "column": e.column, "value": e.value, "problem": e.reason}
        for e in errors], columns=["line", "column", "value", "problem"]),
        hide_index=True, width="stretch",
        column_config={
            "line": st.column_config.NumberColumn(
                _("Line") if staged.format == "csv" else _("Row"), format="%d",
                help=_("CSV: the line in the file (the header is line 1). Excel: the row of "
                       "the sheet. Parquet: the data row. Empty for a problem with the whole "
                       "file.")),
            "column": st.column_config.TextColumn(_("Column")),
            "value": st.column_config.TextColumn(_("Value")),
            "problem": st.column_config.TextColumn(_("Problem"), width="large")})


if staged.errors:
    n = len(staged.errors)
    st.error(ngettext("**Nothing was written.** The file has {n} problem; fix it and upload "
                      "the file again.",
                      "**Nothing was written.** The file has {n} problems; fix them and upload "
                      "the file again.", n).format(n=fmt_number(n)),
             icon=":material/error:")
    # A problem of the whole file (its encoding, what it is) in full, as plain text: the
    # table's cell would cut it short.
    for e in [e for e in staged.errors if e.column is None and e.value is None][:5]:
        st.text(str(e))
    error_table(staged.errors)
    st.stop()

if staged.missing_columns:
    st.caption(_("Columns not in the file (imported as empty): {columns}").format(
        columns=", ".join(f"`{c}`" for c in staged.missing_columns)))
st.subheader(_("Preview"), anchor=False)
st.dataframe(view.register_words(staged.preview, reg), width="stretch",
             column_config=view.translated_config(ui.format_columns(staged.preview, reg)))

confirm = True
if replace:
    confirm = st.checkbox(_("I understand that the {current} rows now in {register} are "
                            "replaced by the file's {rows}.").format(
                              current=fmt_number(current), register=title,
                              rows=fmt_number(staged.rows)), key="imp_confirm")
if st.button(_("Import {rows} rows into {register}").format(rows=fmt_number(staged.rows),
                                                            register=title), type="primary",
             icon=":material/publish:", disabled=not confirm, key="imp_commit"):
    try:
        result = importer.commit_import(store, actor, staged, replace=replace)
    except importer.ImportRejected as exc:
        st.error(_("**Nothing was written.** The file was refused:"), icon=":material/error:")
        error_table(exc.errors)
    except PermissionDenied as exc:
        st.error(ui.plain(exc), icon=":material/block:")
    else:
        if replace:
            message = _("Imported {rows} rows into {register}, replacing {replaced} rows. "
                        "The import is recorded in the audit log.")
        else:
            message = _("Imported {rows} rows into {register}. The import is recorded in the "
                        "audit log.")
        st.session_state["imp_done"] = {
            "key": stage_key[:3],
            "message": message.format(rows=fmt_number(result.rows_written), register=title,
                                      replaced=fmt_number(result.replaced_rows))}
        st.rerun()

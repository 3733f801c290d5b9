"""Import: load a CSV, Excel workbook or Parquet file into a register, all or nothing.

The file is checked first (``importer.stage_file``): a preview and every error by
line and column, before anything is written. Only a clean file can be committed
(``importer.commit_import``), in one transaction with one audit entry, appending
to the register or replacing it.
"""
import hashlib

import pandas as pd
import streamlit as st

from dashboard import exports, importer, ui
from dashboard.access import PermissionDenied
from dashboard.registers import REGISTERS

actor = ui.page_guard("import")
store = ui.get_store()

st.title("Import", anchor=False)
st.caption("Load a register from a file: CSV (comma separated, a header row with the "
           "data contract's column names; lists joined by `;`, dates YYYY-MM-DD, timestamps "
           "ISO 8601), an Excel workbook (.xlsx: the first sheet, the column names in row 1) "
           "or Parquet with the same columns. A file exported from this app imports back "
           "unchanged. All or nothing: one bad row and nothing is written.")

table = st.selectbox("Register", list(REGISTERS), key="imp_table",
                     format_func=lambda n: REGISTERS[n].title)
reg = REGISTERS[table]
with st.expander(f"Columns of {reg.title}", icon=":material/view_column:"):
    st.dataframe(pd.DataFrame([{
        "column": c.name, "type": c.type, "required": c.required, "key": c.key,
        "values": ", ".join(c.choices)} for c in reg.columns]), hide_index=True)

current = ui.cached(exports.count_rows, dataset=table, filters={})
mode = st.radio("How", ["append", "replace"], key="imp_mode", horizontal=True,
                format_func=lambda m: {
                    "append": "Append to the register (a key already there is an error)",
                    "replace": f"Replace the register's {current:,} rows with the file"}[m])
replace = mode == "replace"

ENCODINGS = {
    "utf-8": "UTF-8 (\"CSV UTF-8\"; the data contract's encoding)",
    "gb18030": "GB18030 / GBK (Excel in China: \"CSV (comma delimited)\")",
}
encoding = st.selectbox("Encoding of a CSV file", list(importer.ENCODINGS), key="imp_encoding",
                        format_func=lambda e: ENCODINGS.get(e, e),
                        help="How the CSV's text is stored. A file that is not UTF-8 is "
                             "refused, naming the encoding it looks like. Excel workbooks "
                             "and Parquet files need no choice.")
# .xls is taken so that its refusal says how to convert it (the browser would only say
# "not allowed").
upload = st.file_uploader("File", type=["csv", "xlsx", "parquet", "xls"], key="imp_file",
                          help="CSV, Excel workbook (.xlsx) or Parquet, at most the server's "
                               "upload limit; larger files: "
                               "`python -m dashboard import TABLE FILE`.")
if upload is None:
    st.info("Choose a register, append or replace, and a file. Nothing is written until you "
            "confirm.", icon=":material/upload_file:")
    st.stop()

data = upload.getvalue()
digest = hashlib.sha256(data).hexdigest()
stage_key = (table, upload.name, digest, replace, encoding)
if st.session_state.get("imp_stage_key") != stage_key:
    with st.spinner("Checking the file…"):
        # A replace empties the register first, so keys already in it are no error then.
        st.session_state["imp_staged"] = importer.stage_file(
            store, table, data, upload.name, replace=replace, encoding=encoding)
    st.session_state["imp_stage_key"] = stage_key
staged = st.session_state["imp_staged"]

done = st.session_state.get("imp_done")
if done and done["key"] == stage_key[:3]:
    st.success(done["message"], icon=":material/task_alt:")
    st.caption("Upload another file to import more.")
    st.stop()

m1, m2, m3 = st.columns(3)
m1.metric("Rows in the file", f"{staged.rows:,}")
m2.metric("Problems", f"{len(staged.errors):,}")
m3.metric("Format", (staged.format or "?").upper())
encoded = " · GB18030" if staged.format == "csv" and staged.encoding == "gb18030" else ""
st.caption(f"{ui.plain(staged.source_name)}{encoded} · SHA-256 `{staged.sha256}`")


def error_table(errors) -> None:
    st.dataframe(pd.DataFrame([{
        "line": e.line, "column": e.column, "value": e.value, "problem": e.reason}
        for e in errors], columns=["line", "column", "value", "problem"]),
        hide_index=True, width="stretch",
        column_config={
            "line": st.column_config.NumberColumn(
                "Line" if staged.format == "csv" else "Row", format="%d",
                help="CSV: the line in the file (the header is line 1). Excel: the row of the "
                     "sheet. Parquet: the data row. Empty for a problem with the whole file."),
            "column": st.column_config.TextColumn("Column"),
            "value": st.column_config.TextColumn("Value"),
            "problem": st.column_config.TextColumn("Problem", width="large")})


if staged.errors:
    n = len(staged.errors)
    st.error(f"**Nothing was written.** The file has {n:,} problem{'s' if n != 1 else ''}; "
             f"fix {'them' if n != 1 else 'it'} and upload the file again.",
             icon=":material/error:")
    # A problem of the whole file (its encoding, what it is) in full, as plain text: the
    # table's cell would cut it short.
    for e in [e for e in staged.errors if e.column is None and e.value is None][:5]:
        st.text(str(e))
    error_table(staged.errors)
    st.stop()

if staged.missing_columns:
    st.caption("Columns not in the file (imported as empty): "
               + ", ".join(f"`{c}`" for c in staged.missing_columns))
st.subheader("Preview", anchor=False)
st.dataframe(staged.preview, width="stretch",
             column_config=ui.format_columns(staged.preview, reg))

confirm = True
if replace:
    confirm = st.checkbox(f"I understand that the {current:,} rows now in {reg.title} are "
                          f"replaced by the file's {staged.rows:,}.", key="imp_confirm")
if st.button(f"Import {staged.rows:,} rows into {reg.title}", type="primary",
             icon=":material/publish:", disabled=not confirm, key="imp_commit"):
    try:
        result = importer.commit_import(store, actor, staged, replace=replace)
    except importer.ImportRejected as exc:
        st.error("**Nothing was written.** The file was refused:", icon=":material/error:")
        error_table(exc.errors)
    except PermissionDenied as exc:
        st.error(ui.plain(exc), icon=":material/block:")
    else:
        extra = f", replacing {result.replaced_rows:,} rows" if replace else ""
        st.session_state["imp_done"] = {
            "key": stage_key[:3],
            "message": f"Imported {result.rows_written:,} rows into {reg.title}{extra}. "
                       f"The import is recorded in the audit log."}
        st.rerun()

"""Hostile and foreign files: every one refused (or read) with a message in the user's
words, naming its line where it has one; no server path, no traceback, nothing written.

GB18030/GBK CSVs (what Excel in China saves), Excel workbooks under any name, legacy
.xls, PDFs, ZIPs and other binaries, UTF-16 without a BOM, huge cells, NUL bytes,
short and long rows whose line endings differ from the file's.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard.importer import (
    ImportRejected, ImportResult, commit_import, import_file, stage_file,
)
from dashboard.settings import Settings

from conftest import DPO, SYSTEM, make_store
from test_import import (
    INC_HEADER, PROC_HEADER, RET_HEADER, counts, csv_text, inc, proc, ret, run_cli, write,
)

# Chinese names as Excel in China writes them: GBK covers the first ones; 𠮷 (U+20BB7)
# and the euro sign need GB18030's four-byte sequences.
NAMES = ["张伟", "李娜", "欧阳娜娜", "王芳（人事部）", "𠮷野家 €"]
SYSTEMS = ["招聘平台", "客服工单", "人脸核验", "快递调度", "数据分析"]


def chinese_rows() -> list[list]:
    return [ret(i + 1, subject_ref=name, system=SYSTEMS[i]) for i, name in enumerate(NAMES)]


def no_server_path(text: str, *paths: Path) -> None:
    """A message shows no server path: no private snapshot, no temp folder, no traceback."""
    assert "import-" not in text and "/tmp" not in text and "source.csv" not in text
    assert "Traceback" not in text
    for p in paths:
        assert str(p) not in text


# -- GB18030 / GBK ---------------------------------------------------------------------------
def test_a_gbk_csv_is_refused_naming_the_encoding(store, tmp_path):
    gbk = csv_text(RET_HEADER, chinese_rows()[:4]).encode("gbk")
    path = write(tmp_path, "retention.csv", gbk)
    before = counts(store, "retention_records")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "retention_records", path)
    (err,) = info.value.errors
    assert err.line == 2
    assert "not UTF-8" in err.reason and "GB18030" in err.reason and "GBK" in err.reason
    assert "--encoding gb18030" in err.reason and "CSV UTF-8" in err.reason
    assert counts(store, "retention_records") == before

    code, out, err_text = run_cli("--db", store.path, "import", "retention_records", path)
    assert code == 2 and out == ""
    assert "GB18030" in err_text and "--encoding gb18030" in err_text
    no_server_path(err_text, tmp_path)
    assert counts(store, "retention_records") == before


def test_a_latin1_csv_is_not_taken_for_chinese(store, tmp_path):
    text = csv_text(RET_HEADER, [ret(1, system="Personalwésen"), ret(2, system="Müller AG")])
    (err,) = stage_file(store, "retention_records", text.encode("latin-1"), "r.csv").errors
    assert "not UTF-8" in err.reason and "GB18030" not in err.reason


def test_utf16_without_a_bom_is_named(store):
    data = csv_text(RET_HEADER, [ret(1)]).encode("utf-16-le")
    (err,) = stage_file(store, "retention_records", data, "r.csv").errors
    assert "UTF-16" in err.reason and "CSV UTF-8" in err.reason


def test_a_gb18030_csv_imports_with_the_encoding_option(store, tmp_path):
    data = csv_text(RET_HEADER, chinese_rows(), eol="\r\n").encode("gb18030")
    path = write(tmp_path, "retention.csv", data)
    code, out, err = run_cli("--db", store.path, "import", "retention_records", path,
                             "--encoding", "gb18030")
    assert (code, err) == (0, ""), err
    assert "appended 5 rows" in out
    assert store.rows("SELECT subject_ref, system FROM retention_records ORDER BY record_id") \
        == list(zip(NAMES, SYSTEMS))
    after = json.loads(store.scalar(
        "SELECT values_after FROM audit_log ORDER BY seq DESC LIMIT 1"))
    assert after["sha256"] == hashlib.sha256(data).hexdigest()      # the file as given
    assert after["encoding"] == "gb18030"


def test_staging_a_gb18030_file_previews_and_commits_the_chinese_text(store):
    rows = chinese_rows()
    rows[2] = ret(3, subject_ref=NAMES[2], system=SYSTEMS[2], category="简历")
    data = csv_text(RET_HEADER, rows).encode("gb18030")
    staged = stage_file(store, "retention_records", data, "r.csv", encoding="gb18030")
    assert [(e.line, e.column, e.value) for e in staged.errors] == [(4, "category", "简历")]
    good = csv_text(RET_HEADER, chinese_rows()).encode("gb18030")
    staged = stage_file(store, "retention_records", good, "r.csv", encoding="gb18030")
    assert staged.ok and staged.encoding == "gb18030"
    assert list(staged.preview["subject_ref"]) == NAMES
    assert commit_import(store, DPO, staged) == ImportResult("retention_records", 5, 0)
    assert store.rows("SELECT subject_ref FROM retention_records ORDER BY 1") == \
        [(n,) for n in sorted(NAMES)]


def test_gb18030_chosen_for_a_utf8_file_is_refused(store):
    data = csv_text(RET_HEADER, chinese_rows()).encode("utf-8")
    (err,) = stage_file(store, "retention_records", data, "r.csv", encoding="gb18030").errors
    assert "is UTF-8" in err.reason and "not GB18030" in err.reason
    # plain ASCII reads the same either way
    ascii_rows = csv_text(RET_HEADER, [ret(1, system="recruiting")]).encode()
    assert stage_file(store, "retention_records", ascii_rows, "r.csv", encoding="gb18030").ok


def test_bytes_that_are_not_gb18030_are_named_by_line(store):
    data = csv_text(RET_HEADER, chinese_rows()[:2]).encode("gb18030") + b"3,\x81\x20,x\n"
    (err,) = stage_file(store, "retention_records", data, "r.csv", encoding="gb18030").errors
    assert err.line == 4 and "not GB18030" in err.reason


def test_an_unknown_encoding_is_a_usage_error(store, tmp_path):
    path = write(tmp_path, "r.csv", csv_text(RET_HEADER, [ret(1)]))
    code, _, err = run_cli("--db", store.path, "import", "retention_records", path,
                           "--encoding", "big5")
    assert code == 2 and "invalid choice: 'big5'" in err
    with pytest.raises(ValueError, match="encoding"):
        stage_file(store, "retention_records", path, encoding="latin-1")


# -- Excel workbooks ------------------------------------------------------------------------
def workbook(rows: list[list], *, sheets: int = 1) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "登记表"
    for row in rows:
        ws.append(row)
    for i in range(1, sheets):
        wb.create_sheet(f"other {i}").append(["not", "read"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def inc_sheet() -> list[list]:
    header = ["incident_id", "title", "incident_type", "grade", "detected_at", "status",
              "affected_subjects", "affected_sensitive_subjects", "resolved_at",
              "notification_channels"]
    return [header,
            ["INC-2026-0101", "短信接口被刷", "unauthorized_access", "general",
             dt.datetime(2026, 3, 1, 9, 30), "open", 120000, 1500.0, None, "sms;email"],
            ["INC-2026-0102", "数据库备份泄露", "data_leak", "relatively_major",
             "2026-03-02T10:00:00+08:00", "resolved", 2_000_000, None,
             dt.datetime(2026, 3, 5), None]]


def test_an_xlsx_workbook_imports_directly(store, tmp_path):
    path = write(tmp_path, "incidents.xlsx", workbook(inc_sheet(), sheets=2))
    code, out, err = run_cli("--db", store.path, "import", "incidents", path)
    assert (code, err) == (0, ""), err
    assert "appended 2 rows from incidents.xlsx" in out
    got = store.rows("SELECT incident_id, title, detected_at, affected_subjects, "
                     "affected_sensitive_subjects, resolved_at, notification_channels "
                     "FROM incidents ORDER BY 1")
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert got[0][:2] == ("INC-2026-0101", "短信接口被刷")
    assert got[0][2] == dt.datetime(2026, 3, 1, 9, 30, tzinfo=shanghai)  # no zone: Shanghai
    assert got[0][3:] == (120000, 1500, None, ["sms", "email"])
    assert got[1][2] == dt.datetime(2026, 3, 2, 10, 0, tzinfo=shanghai)
    assert got[1][3:5] == (2_000_000, None)
    assert got[1][5] == dt.datetime(2026, 3, 5, 0, 0, tzinfo=shanghai)


def test_dates_and_booleans_in_a_workbook(store):
    header = ["agreement_id", "counterparty", "kind", "legal_basis", "status",
              "confidentiality_clause", "subjects_affected", "signed_on", "expires_on"]
    data = workbook([header,
                     ["SHA-1", "顺丰速运有限公司", "share", "explicit_consent", "active", True,
                      5000.0, dt.datetime(2025, 1, 5), dt.date(2027, 1, 9)],
                     ["SHA-2", "Acme", "share", "explicit_consent", "ended", False, 0,
                      None, None]])
    staged = stage_file(store, "sharing_agreements", data, "s.xlsx")
    assert staged.ok, [str(e) for e in staged.errors]
    assert staged.format == "xlsx"
    commit_import(store, DPO, staged)
    assert store.rows("SELECT agreement_id, confidentiality_clause, subjects_affected, "
                      "signed_on, expires_on FROM sharing_agreements ORDER BY 1") == [
        ("SHA-1", True, 5000, dt.date(2025, 1, 5), dt.date(2027, 1, 9)),
        ("SHA-2", False, 0, None, None)]


def test_an_xlsx_renamed_csv_is_read_as_the_workbook_it_is(store, tmp_path):
    path = write(tmp_path, "incidents.csv", workbook(inc_sheet()))
    staged = stage_file(store, "incidents", path)
    assert staged.ok, [str(e) for e in staged.errors]
    assert staged.format == "xlsx" and staged.rows == 2
    result = import_file(store, SYSTEM, "incidents", path)
    assert result.rows_written == 2
    assert store.scalar("SELECT title FROM incidents WHERE incident_id = 'INC-2026-0102'") \
        == "数据库备份泄露"


def test_workbook_errors_name_the_sheet_row(store):
    rows = [RET_HEADER, ret(1), [None] * len(RET_HEADER), ret(2, category="dna"),
            ret(3) + ["stray value"], ret(1)]
    staged = stage_file(store, "retention_records", workbook(rows), "r.xlsx")
    assert [(e.unit, e.line, e.column) for e in staged.errors] == [
        ("row", 4, "category"), ("row", 5, None), ("row", 6, "record_id")]
    assert str(staged.errors[0]).startswith('row 4, column category, value "dna"')
    assert "beyond the header" in staged.errors[1].reason
    assert "same key is on row 2" in staged.errors[2].reason
    assert staged.errors_frame().columns[0] == "row"


def test_a_workbook_with_only_a_header_or_nothing(store):
    (err,) = stage_file(store, "retention_records", workbook([RET_HEADER]), "r.xlsx").errors
    assert "no data rows" in err.reason
    (err,) = stage_file(store, "retention_records", workbook([]), "r.xlsx").errors
    assert "first sheet is empty" in err.reason


def test_a_sheet_longer_than_excel_allows_is_refused(store, monkeypatch):
    monkeypatch.setattr("dashboard.importer.EXCEL_MAX_ROWS", 3)   # Excel's is 1,048,576
    data = workbook([RET_HEADER, ret(1), ret(2), ret(3)])
    (err,) = stage_file(store, "retention_records", data, "r.xlsx").errors
    assert "more than 3 rows" in err.reason and "damaged" in err.reason
    assert stage_file(store, "retention_records", workbook([RET_HEADER, ret(1), ret(2)]),
                      "r.xlsx").ok


FOREIGN = [
    ("xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "p.xls",
     "Excel 97-2003 workbook"),
    ("xls renamed csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "p.csv",
     "Excel 97-2003 workbook"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "p.csv", "a PDF document"),
    ("zip", None, "p.csv", "a ZIP archive"),
    ("binary", bytes(range(256)) * 8, "p.csv", "binary data"),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "p.csv", "binary data"),
    ("damaged xlsx", b"PK\x03\x04" + b"\x00" * 40, "p.xlsx", "cannot be read"),
]


@pytest.mark.parametrize("label, data, name, reason", FOREIGN, ids=[f[0] for f in FOREIGN])
def test_foreign_files_are_refused_with_what_they_are(store, tmp_path, label, data, name,
                                                      reason):
    if data is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("processors.csv", ",".join(PROC_HEADER) + "\n")
        data = buf.getvalue()
    path = write(tmp_path, name, data)
    before = counts(store, "processors")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "processors", path)
    (err,) = info.value.errors
    assert reason in err.reason and err.line is None, err.reason
    code, out, err_text = run_cli("--db", store.path, "import", "processors", path)
    assert code == 2 and reason in err_text
    no_server_path(err_text, tmp_path)
    assert counts(store, "processors") == before


# -- huge cells, NUL bytes -------------------------------------------------------------------
@pytest.mark.parametrize("size", [3_000_000, 50_000_000], ids=["3MB", "50MB"])
def test_a_huge_cell_is_named_with_its_line_and_column(store, size):
    text = csv_text(RET_HEADER, [ret(1), ret(2, system="x" * size), ret(3)])
    staged = stage_file(store, "retention_records", text.encode(), "r.csv")
    assert staged.rows == 3
    (err,) = staged.errors
    assert (err.line, err.column) == (3, "system")
    assert f"{size:,} characters long" in err.reason and "100,000" in err.reason
    assert "None" not in err.reason
    assert len(err.value) < 200                       # the value is shown cut short
    alone = csv_text(RET_HEADER, [ret(2, system="x" * size)])
    (err,) = stage_file(store, "retention_records", alone.encode(), "r.csv").errors
    assert (err.line, err.column) == (2, "system") and "no data rows" not in err.reason


def test_a_huge_quoted_cell_over_many_lines_is_named_where_it_starts(store):
    cell = "第一行\n" * 400_000                         # 1.6 million characters, 400,000 lines
    text = csv_text(RET_HEADER, [ret(1), ret(2, hold_reference=cell), ret(3, category="dna")])
    staged = stage_file(store, "retention_records", text.encode(), "r.csv")
    assert [(e.line, e.column) for e in staged.errors] == [
        (3, "hold_reference"), (400_004, "category")]
    assert "1,600,000 characters long" in staged.errors[0].reason


def test_the_cell_limit_is_a_setting(tmp_path):
    s = make_store(tmp_path / "s.duckdb", settings=Settings({"import_max_cell_chars": 50}))
    try:
        text = csv_text(RET_HEADER, [ret(1), ret(2, system="招" * 51), ret(3, system="招" * 50)])
        (err,) = stage_file(s, "retention_records", text.encode(), "r.csv").errors
        assert (err.line, err.column) == (3, "system")
        assert "51 characters long" in err.reason and "import_max_cell_chars" in err.reason
    finally:
        s.close()


def test_a_nul_byte_in_a_cell_is_refused_with_its_line_and_column(store, tmp_path):
    text = csv_text(RET_HEADER, [ret(1), ret(2, system="招聘\x00平台"), ret(3)])
    before = counts(store, "retention_records")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "retention_records", write(tmp_path, "r.csv", text))
    (err,) = info.value.errors
    assert (err.line, err.column) == (3, "system") and "NUL" in err.reason
    assert counts(store, "retention_records") == before
    table = pa.table({c: pa.array([v], pa.string()) for c, v in zip(
        PROC_HEADER, proc(owner="a\x00b"))})
    pq.write_table(table, tmp_path / "p.parquet")
    (err,) = stage_file(store, "processors", tmp_path / "p.parquet").errors
    assert (err.unit, err.line, err.column) == ("row", 1, "owner") and "NUL" in err.reason


# -- short and long rows ---------------------------------------------------------------------
RAGGED = [
    # a CRLF file (as Excel writes) whose last, short row ends in LF
    ("short LF row in a CRLF file", csv_text(RET_HEADER, [ret(1), ret(2)], eol="\r\n")
     + "3,S-3,resume\n", 4, "3 fields but the header has 11"),
    # an LF file with a short row pasted from Windows (CRLF)
    ("short CRLF row in an LF file", csv_text(RET_HEADER, [ret(1)])
     + "2,S-2\r\n" + csv_text(RET_HEADER, [ret(3)]).split("\n", 1)[1], 3,
     "2 fields but the header has 11"),
    ("long row, other line end", csv_text(RET_HEADER, [ret(1)], eol="\r\n")
     + csv_text(RET_HEADER, [ret(2) + ["x", "y"]]).split("\n", 1)[1], 3,
     "13 fields but the header has 11"),
    ("short CR row", csv_text(RET_HEADER, [ret(1)]) + "2,S-2,resume\r", 3,
     "3 fields but the header has 11"),
]


@pytest.mark.parametrize("label, text, line, reason", RAGGED, ids=[r[0] for r in RAGGED])
def test_short_and_long_rows_are_named_with_their_line(store, label, text, line, reason):
    staged = stage_file(store, "retention_records", text.encode(), "r.csv")
    assert [e.line for e in staged.errors] == [line], [str(e) for e in staged.errors]
    assert reason in staged.errors[0].reason
    assert "state machine" not in staged.errors[0].reason


def test_a_file_duckdb_cannot_read_still_names_lines(store):
    # unbalanced quotes and stray CRs around a short row: no DuckDB message, each line named
    text = (csv_text(RET_HEADER, [ret(1)]) + '"\r","x""y",a"b,"\r\n","\r\n",2,\r,a"b\r\n')
    staged = stage_file(store, "retention_records", text.encode(), "r.csv")
    assert staged.errors and all(e.line is not None for e in staged.errors)
    assert not any("Invalid Input" in e.reason or "state machine" in e.reason
                   for e in staged.errors)

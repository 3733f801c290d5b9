"""Importing the rights-requests register (issue 14): `import rights_requests FILE`, CSV and
Parquet, all or nothing; a refusal without a reason is a rule finding, not an import error."""
from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard import engine
from dashboard import registers as R
from dashboard.cli import main
from dashboard.importer import ImportRejected, import_file, stage_file

from conftest import DPO, SYSTEM

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc
HEADER = list(R.RIGHTS_REQUESTS.column_names)


def req(rid="REQ-2026-0001", **over) -> list:
    row = dict(request_id=rid, received_at="2026-11-02T10:00:00+08:00", channel="web_form",
               kind="access", subject_ref="SUB-1", identity_verified_at="2026-11-02T11:00:00+08:00",
               status="completed", completed_at="2026-11-05T10:00:00+08:00", refusal_reason="",
               handler="dpo.li", notes="")
    row.update(over)
    return [row[c] for c in HEADER]


def csv_text(rows: list[list], header=HEADER) -> str:
    def cell(v):
        v = "" if v is None else str(v)
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v
    return "\n".join(",".join(cell(v) for v in row) for row in [header, *rows]) + "\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_header_is_the_contracts():
    assert HEADER == ["request_id", "received_at", "channel", "kind", "subject_ref",
                      "identity_verified_at", "status", "completed_at", "refusal_reason",
                      "handler", "notes"]


def test_cli_imports_a_good_csv_and_a_refusal_without_reason_is_a_finding(store, tmp_path):
    path = write(tmp_path, "requests.csv", csv_text([
        req(),
        # received just after midnight Shanghai time: still 29 September in UTC
        req("REQ-2026-0002", received_at="2026-09-29T16:05:00Z", kind="delete",
            identity_verified_at="2026-09-30T09:00:00+08:00",
            status="completed", completed_at="2026-10-27 23:59:59"),
        req("REQ-2026-0003", status="refused", refusal_reason="",
            completed_at="2026-11-03T09:00:00+08:00", notes='said "no", with a comma'),
        req("REQ-2026-0004", status="received", identity_verified_at="", completed_at="",
            kind="complaint", channel="customer_service"),
    ]))
    code, out, err = run_cli("--db", store.path, "import", "rights_requests", path)
    assert (code, err) == (0, "")
    assert "rights_requests: appended 4 rows from requests.csv" in out
    rows = dict(store.rows("SELECT request_id, received_at FROM rights_requests"))
    assert rows["REQ-2026-0002"] == dt.datetime(2026, 9, 30, 0, 5, tzinfo=SHANGHAI)
    # a timestamp without an offset is Shanghai time
    assert store.scalar("SELECT completed_at FROM rights_requests WHERE request_id = "
                        "'REQ-2026-0002'") == dt.datetime(2026, 10, 27, 23, 59, 59,
                                                          tzinfo=SHANGHAI)
    assert store.scalar("SELECT refusal_reason FROM rights_requests WHERE request_id = "
                        "'REQ-2026-0003'") is None
    findings = engine.run_check(store, dt.date(2026, 11, 24)).findings
    got = set(zip(findings["rule_id"], findings["entity_id"]))
    assert ("DSR-REFUSAL-REASON", "REQ-2026-0003") in got
    assert not any(rid == "REQ-2026-0002" for _, rid in got)     # answered on the last day


def test_parquet_with_native_timestamps(store, tmp_path):
    table = pa.table({
        "request_id": ["REQ-P-1"],
        "received_at": pa.array([dt.datetime(2026, 9, 29, 16, 5, tzinfo=UTC)],
                                pa.timestamp("us", tz="UTC")),
        "channel": ["email"], "kind": ["cancel_account"], "subject_ref": ["SUB-9"],
        "identity_verified_at": pa.array([None], pa.timestamp("us", tz="UTC")),
        "status": ["in_progress"],
        "completed_at": pa.array([None], pa.timestamp("us", tz="UTC")),
        "refusal_reason": pa.array([None], pa.string()),
        "handler": ["dpo.li"], "notes": pa.array([None], pa.string()),
    })
    path = tmp_path / "requests.parquet"
    pq.write_table(table, path)
    result = import_file(store, DPO, "rights_requests", path)
    assert result.rows_written == 1
    assert store.rows("SELECT received_at, status FROM rights_requests") == [
        (dt.datetime(2026, 9, 30, 0, 5, tzinfo=SHANGHAI), "in_progress")]


BAD = [
    (req(kind="erase"), "kind", "erase", "not one of access"),
    (req(channel="wechat"), "channel", "wechat", "not one of web_form"),
    (req(status="done"), "status", "done", "not one of received"),
    (req(subject_ref=""), "subject_ref", "", "required"),
    (req(received_at=""), "received_at", "", "required"),
    (req(received_at="30/09/2026"), "received_at", "30/09/2026", "not an ISO 8601 timestamp"),
    (req(completed_at="2026-10-27 late"), "completed_at", "2026-10-27 late",
     "not an ISO 8601 timestamp"),
]


@pytest.mark.parametrize("row, column, value, reason", BAD,
                         ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_a_bad_cell_is_named_and_nothing_is_written(store, tmp_path, row, column, value,
                                                    reason):
    path = write(tmp_path, "bad.csv", csv_text([req("REQ-OK"), row]))
    before = store.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "rights_requests", path)
    errors = info.value.errors
    assert [(e.line, e.column) for e in errors] == [(3, column)]
    assert reason in errors[0].reason, errors[0].reason
    assert store.scalar("SELECT count(*) FROM rights_requests") == 0
    assert store.scalar("SELECT count(*) FROM audit_log") == before


def test_a_missing_required_column_is_refused(store, tmp_path):
    header = [c for c in HEADER if c != "status"]
    rows = [[v for c, v in zip(HEADER, req()) if c != "status"]]
    staged = stage_file(store, "rights_requests", write(tmp_path, "r.csv", csv_text(rows, header)))
    assert not staged.ok
    assert any("status" in str(e) for e in staged.errors), [str(e) for e in staged.errors]
    assert store.scalar("SELECT count(*) FROM rights_requests") == 0


def test_cli_bad_file_exits_2_and_writes_nothing(store, tmp_path):
    path = write(tmp_path, "bad.csv", csv_text([req(), req("REQ-2", kind="erase")]))
    code, out, err = run_cli("--db", store.path, "import", "rights_requests", path)
    assert code == 2 and out == ""
    assert 'line 3, column kind, value "erase"' in err
    assert store.scalar("SELECT count(*) FROM rights_requests") == 0


def test_the_audit_digests_vouch_for_the_requests_and_the_calendar(tmp_path):
    """`audit verify` checks the new tables like the others: a request changed outside the
    app, or a calendar day, is named."""
    import duckdb
    db = tmp_path / "a.duckdb"
    assert run_cli("--db", db, "init")[0] == 0
    path = write(tmp_path, "requests.csv", csv_text([req(), req("REQ-2", status="refused")]))
    assert run_cli("--db", db, "import", "rights_requests", path)[0] == 0
    code, out, err = run_cli("--db", db, "audit", "verify")
    assert code == 0, out + err
    con = duckdb.connect(str(db))
    assert con.execute("SELECT count(*) FROM calendar_days WHERE day = DATE '2026-10-10' "
                       "AND working AND NOT provisional").fetchone()[0] == 1
    con.execute("UPDATE rights_requests SET refusal_reason = 'made up later' "
                "WHERE request_id = 'REQ-2'")
    con.close()
    code, out, err = run_cli("--db", db, "audit", "verify")
    assert code == 1
    assert "rights_requests" in out + err
    con = duckdb.connect(str(db))
    con.execute("UPDATE rights_requests SET refusal_reason = NULL WHERE request_id = 'REQ-2'")
    con.execute("UPDATE calendar_days SET working = NOT working WHERE day = DATE '2026-10-10'")
    con.close()
    code, out, err = run_cli("--db", db, "audit", "verify")
    assert code == 1 and "calendar_days" in out + err

"""The importer: the contract's file shapes in, every kind of bad input out, all or nothing."""
from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard import registers as R
from dashboard.access import PermissionDenied
from dashboard.cli import main
from dashboard.importer import (
    ISO_3166_ALPHA2, MAX_LISTED_ERRORS, ImportRejected, ImportResult, RowError, StagedImport,
    commit_import, import_file, stage_file,
)
from dashboard.settings import Settings

from conftest import AUDITOR, DPO, MANAGER, SYSTEM, make_store

UTC = dt.timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")
BOM = "\ufeff"


# -- helpers --------------------------------------------------------------------------
def csv_text(header: list[str], rows: list[list], *, bom: bool = False,
             eol: str = "\n") -> str:
    """RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled."""
    def cell(v):
        v = "" if v is None else str(v)
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v
    lines = [",".join(cell(v) for v in row) for row in [header, *rows]]
    return (BOM if bom else "") + eol.join(lines) + eol


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def counts(store, table: str) -> tuple[int, int]:
    return (store.scalar(f"SELECT count(*) FROM {table}"),
            store.scalar("SELECT count(*) FROM audit_log"))


PROC_HEADER = ["processor_id", "name", "kind", "service", "purpose", "data_categories",
               "storage_region", "status", "engaged_on", "confidentiality_signed_on",
               "nda_signed_on", "agreement_expires_on", "agreement_terms", "pia_done_on",
               "last_assessed_on", "offboarded_on", "data_returned_on", "owner"]


def proc(pid="PRC-0001", **over) -> list:
    row = {
        "processor_id": pid, "name": "北京旷视科技有限公司", "kind": "service_provider",
        "service": "face recognition", "purpose": "identity_verification",
        "data_categories": "name;id_card_number;facial_biometrics", "storage_region": "CN",
        "status": "active", "engaged_on": "2024-03-01", "confidentiality_signed_on": "2024-02-20",
        "nda_signed_on": "2024-02-20", "agreement_expires_on": "2027-02-28",
        "agreement_terms": "purpose;duration;method;categories;protection_measures;"
                           "return_or_delete",
        "pia_done_on": "2024-02-15", "last_assessed_on": "2026-01-10", "offboarded_on": None,
        "data_returned_on": None, "owner": "李娜 (security)",
    }
    row.update(over)
    return [row[c] for c in PROC_HEADER]


SHARE_HEADER = R.SHARING_AGREEMENTS.column_names


def share(aid="SHA-0001", **over) -> list:
    row = {
        "agreement_id": aid, "counterparty": "顺丰速运有限公司", "processor_id": "PRC-0007",
        "kind": "share", "legal_basis": "explicit_consent", "purpose": "offline delivery",
        "data_categories": "name;phone;address", "consent": "separate",
        "consent_evidence": "consent-log:2025-11", "confidentiality_clause": "true",
        "recipient_region": "CN", "signed_on": "2025-01-05", "effective_from": "2025-01-10",
        "expires_on": "2027-01-09", "status": "active", "users_notified_on": None,
        "legal_reference": None, "subjects_affected": "120000", "pia_done_on": "2024-12-20",
    }
    row.update(over)
    return [row[c] for c in SHARE_HEADER]


RET_HEADER = R.RETENTION_RECORDS.column_names


def ret(rid=1, **over) -> list:
    row = {
        "record_id": str(rid), "subject_ref": f"SUBJ-{rid:0>8}", "category": "resume",
        "system": "招聘平台", "storage_region": "CN", "collected_on": "2023-05-04",
        "service_ended_on": "2024-01-31", "deleted_on": None, "hold_reason": None,
        "hold_reference": None, "hold_review_on": None,
    }
    row.update(over)
    return [row[c] for c in RET_HEADER]


INC_HEADER = R.INCIDENTS.column_names


def inc(iid="INC-2026-0001", **over) -> list:
    row = {c: None for c in INC_HEADER}
    row.update({
        "incident_id": iid, "title": "短信验证码接口被刷", "description": "Spike of SMS requests",
        "incident_type": "unauthorized_access", "grade": "general",
        "detected_at": "2026-03-01T09:30:00+08:00", "affected_subjects": "0",
        "data_categories": "phone", "status": "open",
    })
    row.update(over)
    return [row[c] for c in INC_HEADER]


# -- accepted shapes --------------------------------------------------------------------
def test_processors_csv_with_bom_chinese_and_rfc4180_quoting(store, tmp_path):
    text = (
        BOM + ",".join(PROC_HEADER) + "\n"
        + ",".join(f'"{v}"' if v and any(c in v for c in ',"\n') else (v or "")
                   for v in proc()) + "\n"
        # quoted comma, doubled quotes, and a newline inside a quoted field
        + 'PRC-0002,"腾讯云计算（北京）有限责任公司, 深圳分公司",service_provider,'
          '"cloud ""hosting""\nand storage",service_provision,name;phone,CN,active,'
          '2023-07-01,2023-06-20,2023-06-20,2026-12-31,purpose;duration,,,,,"王 伟, IT"\n'
    )
    path = write(tmp_path, "processors.csv", text)
    before_audit = store.scalar("SELECT count(*) FROM audit_log")
    result = import_file(store, DPO, "processors", path)
    assert result == ImportResult("processors", 2, 0)
    rows = store.rows("SELECT processor_id, name, service, data_categories, engaged_on, owner, "
                      "agreement_terms, pia_done_on FROM processors ORDER BY 1")
    assert rows[0] == ("PRC-0001", "北京旷视科技有限公司", "face recognition",
                       ["name", "id_card_number", "facial_biometrics"], dt.date(2024, 3, 1),
                       "李娜 (security)",
                       ["purpose", "duration", "method", "categories", "protection_measures",
                        "return_or_delete"], dt.date(2024, 2, 15))
    assert rows[1][1] == "腾讯云计算（北京）有限责任公司, 深圳分公司"
    assert rows[1][2] == 'cloud "hosting"\nand storage'
    assert rows[1][5] == "王 伟, IT"
    assert rows[1][7] is None                       # an empty cell is null
    # one audit entry, with what the contract of the API says
    assert store.scalar("SELECT count(*) FROM audit_log") == before_audit + 1
    entry = store.rows("SELECT actor, role, action, entity_type, values_before, values_after "
                       "FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    import hashlib
    import json
    assert entry[:4] == ("dpo.li", "dpo", "register.import", "processors")
    assert entry[4] is None
    assert json.loads(entry[5]) == {"file": "processors.csv", "rows": 2, "mode": "append",
                                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_csv_without_bom_with_crlf_and_omitted_optional_columns(store, tmp_path):
    header = ["agreement_id", "counterparty", "kind", "legal_basis", "status",
              "confidentiality_clause", "subjects_affected", "recipient_region"]
    rows = [["SHA-0001", "深圳市腾讯计算机系统有限公司", "share", "explicit_consent", "active",
             "true", "5000", "CN"],
            ["SHA-0002", "Court of Chaoyang District", "disclosure", "legal_requirement",
             "ended", "false", "", "CN"],
            ["SHA-0003", "Acme HK Ltd", "transfer", "merger_acquisition", "active", "", "0",
             "HK"]]
    path = write(tmp_path, "sharing.csv", csv_text(header, rows, eol="\r\n"))
    staged = stage_file(store, "sharing_agreements", path)
    assert staged.ok, [str(e) for e in staged.errors]
    assert "processor_id" in staged.missing_columns and "expires_on" in staged.missing_columns
    import_file(store, SYSTEM, "sharing_agreements", path)
    got = store.rows("SELECT agreement_id, confidentiality_clause, subjects_affected, "
                     "recipient_region, processor_id, data_categories, expires_on "
                     "FROM sharing_agreements ORDER BY 1")
    assert got == [("SHA-0001", True, 5000, "CN", None, None, None),
                   ("SHA-0002", False, None, "CN", None, None, None),
                   ("SHA-0003", None, 0, "HK", None, None, None)]


def test_every_register_accepts_full_contract_rows(store, tmp_path):
    files = {
        "processors": csv_text(PROC_HEADER, [proc(), proc("PRC-0002", storage_region="SG")]),
        "sharing_agreements": csv_text(SHARE_HEADER, [share(), share("SHA-0002")]),
        "retention_records": csv_text(RET_HEADER, [ret(1), ret(2, hold_reason="authority_request",
                                                              hold_reference="公安 2026-17",
                                                              hold_review_on="2026-12-31")]),
        "incidents": csv_text(INC_HEADER, [inc(), inc("INC-2026-0002", grade="major",
                                                      notification_channels="sms;email",
                                                      notice_contents="categories;cause;"
                                                      "possible_harm;remedial_measures;"
                                                      "self_protection_advice;contact")]),
    }
    for table, text in files.items():
        result = import_file(store, DPO, table, write(tmp_path, f"{table}.csv", text))
        assert result.rows_written == 2
        assert store.scalar(f"SELECT count(*) FROM {table}") == 2
    assert store.rows("SELECT notification_channels FROM incidents "
                      "WHERE incident_id = 'INC-2026-0002'") == [(["sms", "email"],)]


def test_timestamps_with_and_without_offset_store_the_right_instant(store, tmp_path):
    expected = dt.datetime(2026, 3, 1, 1, 30, tzinfo=UTC)   # 09:30 in Shanghai
    shapes = ["2026-03-01T09:30:00+08:00", "2026-03-01T01:30:00Z", "2026-03-01T09:30:00",
              "2026-03-01 09:30", "2026-03-01T03:30:00+02:00", "2026-02-28T20:30:00-05:00",
              "2026-03-01T09:30:00.000+0800"]
    rows = [inc(f"INC-{i}", detected_at=v) for i, v in enumerate(shapes)]
    rows.append(inc("INC-X", detected_at="2026-03-01T09:30:00+08:00",
                    regulator_reported_at="2026-03-01T13:29:59.5+08:00"))
    import_file(store, SYSTEM, "incidents", write(tmp_path, "inc.csv", csv_text(INC_HEADER, rows)))
    got = store.rows("SELECT incident_id, detected_at FROM incidents ORDER BY incident_id")
    assert len(got) == len(shapes) + 1
    for iid, detected in got:
        assert detected == expected, iid
    reported = store.scalar("SELECT regulator_reported_at FROM incidents "
                            "WHERE incident_id = 'INC-X'")
    assert reported == dt.datetime(2026, 3, 1, 5, 29, 59, 500000, tzinfo=UTC)


def test_a_timestamp_without_offset_uses_the_settings_timezone(tmp_path):
    s = make_store(tmp_path / "utc.duckdb", settings=Settings({"timezone": "UTC"}))
    try:
        path = write(tmp_path, "i.csv", csv_text(INC_HEADER, [inc(detected_at="2026-03-01T09:30")]))
        import_file(s, SYSTEM, "incidents", path)
        assert s.scalar("SELECT detected_at FROM incidents") == \
            dt.datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    finally:
        s.close()


def test_parquet_with_native_types(store, tmp_path):
    table = pa.table({
        "incident_id": ["INC-2026-0101", "INC-2026-0102"],
        "title": ["数据库备份泄露", "Ransomware on HR share"],
        "incident_type": ["data_leak", "ransomware"],
        "grade": ["relatively_major", "general"],
        "detected_at": pa.array([dt.datetime(2026, 3, 1, 1, 30, tzinfo=UTC),
                                 dt.datetime(2026, 4, 2, 8, 0, tzinfo=UTC)],
                                pa.timestamp("us", tz="UTC")),
        "occurred_at": pa.array([dt.datetime(2026, 2, 28, 22, 0), None],
                                pa.timestamp("ms")),          # no zone: Shanghai time
        "affected_subjects": pa.array([1_200_000, None], pa.int32()),
        "data_categories": pa.array([["name", "phone"], []], pa.list_(pa.string())),
        "notification_channels": pa.array([["sms", "announcement"], None],
                                          pa.list_(pa.string())),
        "status": ["open", "contained"],
    })
    path = tmp_path / "incidents.parquet"
    pq.write_table(table, path)
    result = import_file(store, SYSTEM, "incidents", path)
    assert result.rows_written == 2
    got = store.rows("SELECT incident_id, detected_at, occurred_at, affected_subjects, "
                     "data_categories, notification_channels FROM incidents ORDER BY 1")
    assert got[0] == ("INC-2026-0101", dt.datetime(2026, 3, 1, 1, 30, tzinfo=UTC),
                      dt.datetime(2026, 2, 28, 14, 0, tzinfo=UTC), 1_200_000,
                      ["name", "phone"], ["sms", "announcement"])
    assert got[1][3:] == (None, None, None)        # empty list -> null, as an empty CSV cell


def test_parquet_with_native_dates_booleans_and_strings(store, tmp_path):
    native = pa.table({
        "agreement_id": ["SHA-0101"], "counterparty": ["华为云计算技术有限公司"],
        "kind": ["share"], "legal_basis": ["entrusted_processing"], "status": ["active"],
        "confidentiality_clause": pa.array([True]), "signed_on": pa.array([dt.date(2025, 5, 6)]),
        "subjects_affected": pa.array([42], pa.uint16()),
        "expires_on": pa.array([dt.datetime(2027, 5, 5)], pa.timestamp("ns")),  # pandas-style
    })
    strings = pa.table({c: pa.array([v], pa.string()) for c, v in zip(
        SHARE_HEADER, share("SHA-0102", users_notified_on="2025-02-01"))})
    pq.write_table(native, tmp_path / "native.parquet")
    pq.write_table(strings, tmp_path / "strings.parquet")
    import_file(store, SYSTEM, "sharing_agreements", tmp_path / "native.parquet")
    import_file(store, SYSTEM, "sharing_agreements", tmp_path / "strings.parquet")
    got = store.rows("SELECT agreement_id, confidentiality_clause, signed_on, subjects_affected, "
                     "expires_on, data_categories, users_notified_on "
                     "FROM sharing_agreements ORDER BY 1")
    assert got == [
        ("SHA-0101", True, dt.date(2025, 5, 6), 42, dt.date(2027, 5, 5), None, None),
        ("SHA-0102", True, dt.date(2025, 1, 5), 120000, dt.date(2027, 1, 9),
         ["name", "phone", "address"], dt.date(2025, 2, 1)),
    ]


def test_parquet_from_pandas_with_nullable_integers_and_its_index(store, tmp_path):
    df = pd.DataFrame({
        "record_id": [10.0, 11.0, 12.0],               # pandas floats once a column has NaN
        "subject_ref": ["S-1", "S-2", "S-3"], "category": ["phone", "resume", "photo"],
        "system": ["crm", "crm", "crm"], "storage_region": ["CN", "CN", "MO"],
        "collected_on": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        "service_ended_on": pd.to_datetime(["2024-06-01", None, None]),
    }, index=pd.Index([7, 8, 9], name="idx"))
    df.to_parquet(tmp_path / "ret.parquet")              # writes the index as a column too
    import_file(store, SYSTEM, "retention_records", tmp_path / "ret.parquet")
    assert store.rows("SELECT record_id, collected_on, service_ended_on FROM retention_records "
                      "ORDER BY 1") == [(10, dt.date(2024, 1, 1), dt.date(2024, 6, 1)),
                                        (11, dt.date(2024, 1, 2), None),
                                        (12, dt.date(2024, 1, 3), None)]


def test_csv_injection_quote_is_taken_off_text_and_list_cells_only(store, tmp_path):
    rows = [proc("PRC-0001", name="'=HYPERLINK(\"http://x\",\"y\")", owner="'+1"),
            proc("PRC-0002", name="'-2", owner="'@SUM(A1)", service="'\tTAB"),
            proc("PRC-0003", name="''=kept one", owner="'plain quote stays", service="'\rCR"),
            proc("PRC-0004", name="O'Brien")]
    import_file(store, SYSTEM, "processors", write(tmp_path, "p.csv", csv_text(PROC_HEADER, rows)))
    got = dict((r[0], r[1:]) for r in store.rows(
        "SELECT processor_id, name, owner, service, data_categories FROM processors"))
    assert got["PRC-0001"][:2] == ('=HYPERLINK("http://x","y")', "+1")
    assert got["PRC-0002"] == ("-2", "@SUM(A1)", "\tTAB", ["name", "id_card_number",
                                                          "facial_biometrics"])
    assert got["PRC-0003"][:3] == ("'=kept one", "'plain quote stays", "\rCR")
    assert got["PRC-0004"][0] == "O'Brien"
    # "'name" does not start with = + - @ TAB CR: the quote stays, and it is no category
    bad = stage_file(store, "processors", csv_text(PROC_HEADER, [
        proc("PRC-0009", data_categories="'name;phone")]).encode(), "p.csv")
    assert [(e.line, e.column) for e in bad.errors] == [(2, "data_categories")]


def test_stage_file_writes_nothing_and_previews_typed_rows(store, tmp_path):
    text = csv_text(RET_HEADER, [ret(i) for i in range(1, 61)], bom=True)
    before = counts(store, "retention_records")
    staged = stage_file(store, "retention_records", text.encode("utf-8"), "retention.csv")
    assert isinstance(staged, StagedImport) and staged.ok and staged.rows == 60
    assert staged.source_name == "retention.csv" and len(staged.sha256) == 64
    assert counts(store, "retention_records") == before
    assert len(staged.preview) == 50 and list(staged.preview.columns) == RET_HEADER
    assert staged.preview.index.name == "line" and staged.preview.index[0] == 2
    first = staged.preview.iloc[0]
    assert first["record_id"] == 1 and first["subject_ref"] == "SUBJ-00000001"
    assert pd.Timestamp(first["collected_on"]).date() == dt.date(2023, 5, 4)
    result = commit_import(store, DPO, staged)
    assert result.rows_written == 60
    assert counts(store, "retention_records") == (before[0] + 60, before[1] + 1)


def test_commit_refuses_a_file_changed_after_it_was_checked(store, tmp_path):
    path = write(tmp_path, "r.csv", csv_text(RET_HEADER, [ret(1)]))
    staged = stage_file(store, "retention_records", path)
    path.write_text(csv_text(RET_HEADER, [ret(1), ret(2)]), encoding="utf-8")
    before = counts(store, "retention_records")
    with pytest.raises(ImportRejected, match="changed after it was checked"):
        commit_import(store, DPO, staged)
    assert counts(store, "retention_records") == before


def test_commit_revalidates_against_the_store_inside_the_transaction(store, tmp_path):
    staged = stage_file(store, "processors", csv_text(PROC_HEADER, [proc()]).encode(), "p.csv")
    assert staged.ok
    import_file(store, SYSTEM, "processors",
                write(tmp_path, "other.csv", csv_text(PROC_HEADER, [proc()])))
    before = counts(store, "processors")
    with pytest.raises(ImportRejected) as info:
        commit_import(store, DPO, staged)
    assert "already in the store" in str(info.value)
    assert counts(store, "processors") == before


# -- refusals: one kind of bad input each, nothing written ---------------------------------
CAT_LIST = ", ".join(["name", "id_card_number", "phone", "facial_biometrics"])

BAD_CELLS = [
    # (table, row, line, column, value, reason fragment)
    ("processors", proc(kind="vendor"), "kind", "vendor",
     "not one of supplier, service_provider, affiliate, contractor, agent, partner"),
    ("processors", proc(status="Active"), "status", "Active", 'did you mean "active"'),
    ("processors", proc(data_categories="name;face"), "data_categories", "name;face",
     '"face" is not a known data category'),
    ("retention_records", ret(category="biometrics"), "category", "biometrics",
     "not a known data category"),
    ("processors", proc(agreement_terms="purpose;forever"), "agreement_terms",
     "purpose;forever", '"forever" is not allowed in agreement_terms'),
    ("incidents", inc(notification_channels="sms;wechat"), "notification_channels",
     "sms;wechat", '"wechat" is not allowed in notification_channels'),
    ("incidents", inc(notice_contents="cause;apology"), "notice_contents", "cause;apology",
     '"apology" is not allowed in notice_contents'),
    ("processors", proc(engaged_on="01/03/2024"), "engaged_on", "01/03/2024",
     "not a date: expected YYYY-MM-DD"),
    ("processors", proc(engaged_on="2024-02-30"), "engaged_on", "2024-02-30",
     "not a real calendar date"),
    ("incidents", inc(detected_at="yesterday 9am"), "detected_at", "yesterday 9am",
     "not an ISO 8601 timestamp"),
    ("incidents", inc(detected_at="2026-03-01"), "detected_at", "2026-03-01",
     "not an ISO 8601 timestamp"),
    ("incidents", inc(contained_at="2026-13-01T10:00:00+08:00"), "contained_at",
     "2026-13-01T10:00:00+08:00", "not a real date and time"),
    ("sharing_agreements", share(confidentiality_clause="yes"), "confidentiality_clause", "yes",
     "not a boolean: expected true or false"),
    ("sharing_agreements", share(subjects_affected="12.5"), "subjects_affected", "12.5",
     "not a whole number"),
    ("sharing_agreements", share(subjects_affected="about 100"), "subjects_affected",
     "about 100", "not a whole number"),
    ("incidents", inc(affected_subjects="-3"), "affected_subjects", "-3", "negative"),
    ("retention_records", ret(rid="x1"), "record_id", "x1", "not a whole number"),
    ("retention_records", ret(subject_ref=""), "subject_ref", None, "required value is empty"),
    ("incidents", inc(title="   "), "title", "   ", "required value is empty"),
    ("processors", proc(name="名" * 301), "name", "名" * 301,
     "text is 301 characters long; the limit for name is 300"),
    ("processors", proc(storage_region="China"), "storage_region", "China",
     "not an ISO 3166-1 alpha-2 region code"),
    ("sharing_agreements", share(recipient_region="UK"), "recipient_region", "UK",
     '(did you mean "GB"?)'),
    ("retention_records", ret(storage_region="XX"), "storage_region", "XX",
     "not an ISO 3166-1 alpha-2"),
    # rules version 2 (migration 0010)
    ("sharing_agreements", share(pia_done_on="20/12/2024"), "pia_done_on", "20/12/2024",
     "not a date: expected YYYY-MM-DD"),
    ("incidents", inc(economic_loss_cny="1,250,000"), "economic_loss_cny", "1,250,000",
     'not an amount: expected digits with at most two decimals after a point, e.g. 1250000 '
     'or 1250000.50 (did you mean "1250000"?'),
    ("incidents", inc(economic_loss_cny="1250000.505"), "economic_loss_cny", "1250000.505",
     "more than two decimals"),
    ("incidents", inc(economic_loss_cny="-500"), "economic_loss_cny", "-500",
     "negative; expected an amount of 0 or more"),
    ("incidents", inc(suspected_crime="yes"), "suspected_crime", "yes",
     "not a boolean: expected true or false"),
    ("incidents", inc(pi_authority_notified_at="2026-03-01 late"), "pi_authority_notified_at",
     "2026-03-01 late", "not an ISO 8601 timestamp"),
]


@pytest.mark.parametrize("table, row, column, value, reason", BAD_CELLS,
                         ids=[f"{b[0]}-{b[2]}-{i}" for i, b in enumerate(BAD_CELLS)])
def test_each_bad_cell_is_named_and_nothing_is_written(store, tmp_path, table, row, column,
                                                      value, reason):
    header = R.get_register(table).column_names
    good = {"processors": proc("PRC-0100"), "sharing_agreements": share("SHA-0100"),
            "retention_records": ret(100), "incidents": inc("INC-0100")}[table]
    path = write(tmp_path, f"{table}.csv", csv_text(header, [good, row]))   # lines 2, 3
    before = counts(store, table)
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, table, path)
    errors = info.value.errors
    assert [(e.line, e.column, e.value) for e in errors] == [(3, column, value)]
    assert reason in errors[0].reason
    assert str(errors[0]).startswith(f"line 3, column {column}")
    assert reason in str(info.value)
    assert counts(store, table) == before
    staged = stage_file(store, table, path)
    assert [str(e) for e in staged.errors] == [str(e) for e in errors]
    assert counts(store, table) == before


def test_the_message_reads_as_the_contract_example(store):
    staged = stage_file(store, "processors", csv_text(PROC_HEADER, [
        proc(f"PRC-{i}") for i in range(5)] + [proc("PRC-9", kind="vendor")]).encode(), "p.csv")
    assert str(staged.errors[0]) == (
        'line 7, column kind, value "vendor": not one of supplier, service_provider, '
        "affiliate, contractor, agent, partner")


def test_every_bad_row_is_listed_in_line_order(store, tmp_path):
    rows = [proc("PRC-1"), proc("PRC-2", kind="vendor", engaged_on="2024-13-01"), proc("PRC-3"),
            proc("PRC-1", storage_region="cn"), proc("PRC-5", name="")]
    path = write(tmp_path, "p.csv", csv_text(PROC_HEADER, rows))
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "processors", path)
    got = [(e.line, e.column) for e in info.value.errors]
    assert got == [(3, "kind"), (3, "engaged_on"), (5, "processor_id"), (5, "storage_region"),
                   (6, "name")]
    dup = info.value.errors[2]
    assert dup.value == "PRC-1" and "duplicate processor_id within the file" in dup.reason
    assert "line 2" in dup.reason


def test_line_numbers_are_physical_lines_after_quoted_newlines_and_blank_lines(store):
    text = (",".join(RET_HEADER) + "\r\n"
            + "1,S-1,resume,\"HR\r\nsystem\",CN,2024-01-01,,,,\"note\nwith \"\"3\"\"\nlines\",\r\n"
            + "\r\n"
            + "2,S-2,resume,hr,CN,2024-13-01,,,,,\r\n"            # line 7
            + "3,S-3,resume,hr,CN,2024-01-01,,,,,,x\r\n"           # line 8: 12 fields
            + "4,S-4,resum,hr,CN,2024-01-01,,,,,\r\n")             # line 9
    staged = stage_file(store, "retention_records", text.encode(), "r.csv")
    got = [(e.line, e.column) for e in staged.errors]
    assert got == [(7, "collected_on"), (8, None), (9, "category")]
    assert "12 fields but the header has 11" in staged.errors[1].reason
    assert staged.rows == 4
    frame = staged.errors_frame()
    assert list(frame.columns) == ["line", "column", "value", "reason"]
    assert frame["line"].tolist() == [7, 8, 9]
    assert list(staged.preview.index) == [2, 7, 9]


def test_duplicate_key_and_key_already_in_the_store(store, tmp_path):
    import_file(store, SYSTEM, "retention_records",
                write(tmp_path, "a.csv", csv_text(RET_HEADER, [ret(1), ret(2)])))
    path = write(tmp_path, "b.csv", csv_text(RET_HEADER, [ret(3), ret(2), ret(4), ret(4),
                                                          ret("0003")]))
    before = counts(store, "retention_records")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "retention_records", path)
    got = [(e.line, e.column, e.value, e.reason.split(" (")[0].split(":")[0])
           for e in info.value.errors]
    assert got == [
        (3, "record_id", "2", "record_id already in the store"),
        (5, "record_id", "4", "duplicate record_id within the file"),
        (6, "record_id", "0003", "duplicate record_id within the file"),  # 0003 is 3
    ]
    assert counts(store, "retention_records") == before


def test_replace_swaps_the_register_in_one_transaction(store, tmp_path):
    import_file(store, SYSTEM, "retention_records",
                write(tmp_path, "a.csv", csv_text(RET_HEADER, [ret(i) for i in range(1, 6)])))
    path = write(tmp_path, "b.csv", csv_text(RET_HEADER, [ret(4, category="photo"), ret(9)]))
    audit_before = store.scalar("SELECT count(*) FROM audit_log")
    result = import_file(store, DPO, "retention_records", path, replace=True)
    assert result == ImportResult("retention_records", 2, 5)
    assert store.rows("SELECT record_id, category FROM retention_records ORDER BY 1") == [
        (4, "photo"), (9, "resume")]
    assert store.scalar("SELECT count(*) FROM audit_log") == audit_before + 1
    import json
    before, after = store.rows("SELECT values_before, values_after FROM audit_log "
                               "ORDER BY seq DESC LIMIT 1")[0]
    assert json.loads(before) == {"rows": 5}
    assert json.loads(after)["mode"] == "replace" and json.loads(after)["rows"] == 2
    # a bad replacement file leaves the register as it was
    bad = write(tmp_path, "c.csv", csv_text(RET_HEADER, [ret(1), ret(2, collected_on="")]))
    with pytest.raises(ImportRejected):
        import_file(store, DPO, "retention_records", bad, replace=True)
    assert store.scalar("SELECT count(*) FROM retention_records") == 2



def test_staging_a_replacement_accepts_keys_already_in_the_store(store, tmp_path):
    import_file(store, SYSTEM, "retention_records",
                write(tmp_path, "a.csv", csv_text(RET_HEADER, [ret(i) for i in range(1, 4)])))
    data = csv_text(RET_HEADER, [ret(2, category="photo"), ret(7)]).encode("utf-8")
    appended = stage_file(store, "retention_records", data, "b.csv")
    assert [(e.line, e.column) for e in appended.errors] == [(2, "record_id")]
    assert "already in the store" in appended.errors[0].reason
    replacing = stage_file(store, "retention_records", data, "b.csv", replace=True)
    assert replacing.ok and replacing.rows == 2
    assert commit_import(store, DPO, replacing, replace=True) == ImportResult(
        "retention_records", 2, 3)
    assert store.rows("SELECT record_id, category FROM retention_records ORDER BY 1") == [
        (2, "photo"), (7, "resume")]

FILE_LEVEL = [
    ("missing required", ",".join(c for c in PROC_HEADER if c != "kind") + "\nPRC-1,x,,,,,active\n",
     "processors.csv", "kind", "missing required column"),
    ("unknown column", ",".join(PROC_HEADER + ["vendor_rating"]) + "\n",
     "processors.csv", "vendor_rating", "unknown column"),
    ("near miss", ",".join(PROC_HEADER).replace("storage_region", "storage_regoin") + "\n",
     "processors.csv", "storage_regoin", "did you mean storage_region?"),
    ("repeated", ",".join(PROC_HEADER + ["name"]) + "\n", "processors.csv", "name",
     "appears more than once"),
    ("semicolons", ";".join(PROC_HEADER) + "\n", "processors.csv", ";".join(PROC_HEADER),
     "separated by semicolons"),
    ("empty", "", "processors.csv", None, "the file is empty"),
    ("header only", ",".join(PROC_HEADER) + "\n", "processors.csv", None, "no data rows"),
    ("blank first line", "\n" + ",".join(PROC_HEADER) + "\n", "processors.csv", None,
     "the first line is empty"),
    ("damaged xlsx", "PK\x03\x04", "processors.xlsx", None, "cannot be read: it is damaged"),
    ("not xlsx", ",".join(PROC_HEADER) + "\n", "processors.xlsx", None,
     "is not an Excel workbook"),
    ("json", '{"processor_id": "PRC-1"}', "processors.json", None,
     "'.json' files are not supported"),
    ("not parquet", ",".join(PROC_HEADER) + "\n", "processors.parquet", None,
     "not a Parquet file"),
]


@pytest.mark.parametrize("label, text, name, column, reason", FILE_LEVEL,
                         ids=[f[0] for f in FILE_LEVEL])
def test_file_level_errors(store, tmp_path, label, text, name, column, reason):
    path = write(tmp_path, name, text)
    before = counts(store, "processors")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "processors", path)
    matching = [e for e in info.value.errors if reason in e.reason]
    assert matching, str(info.value)
    assert matching[0].column == column
    assert all(e.line in (None, 1) for e in info.value.errors)
    assert counts(store, "processors") == before


def test_not_utf8_names_the_line(store, tmp_path):
    text = csv_text(RET_HEADER, [ret(1), ret(2)]).encode("utf-8")
    text += csv_text(RET_HEADER, [ret(3, system="Personalw\xe9sen")]).split("\n")[1].encode(
        "latin-1") + b"\n"
    path = write(tmp_path, "latin1.csv", text)
    before = counts(store, "retention_records")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "retention_records", path)
    (err,) = info.value.errors
    assert err.line == 4 and "not UTF-8" in err.reason and "0xE9" in err.reason
    utf16 = write(tmp_path, "u16.csv", csv_text(RET_HEADER, [ret(1)]).encode("utf-16"))
    (err,) = stage_file(store, "retention_records", utf16).errors
    assert err.line == 1 and "UTF-16" in err.reason
    assert counts(store, "retention_records") == before


def test_ragged_and_badly_quoted_rows(store):
    text = (csv_text(RET_HEADER, [ret(1)])
            + "2,S-2,resume,hr,CN,2024-01-01\n"
            + csv_text(RET_HEADER, [ret(3) + ["extra"]]).split("\n")[1] + "\n"
            + '4,"S-4"x,resume,hr,CN,2024-01-01,,,,,\n')
    staged = stage_file(store, "retention_records", text.encode(), "r.csv")
    assert [e.line for e in staged.errors] == [3, 4, 5]
    assert "6 fields but the header has 11" in staged.errors[0].reason
    assert "12 fields but the header has 11" in staged.errors[1].reason
    assert "quot" in staged.errors[2].reason
    assert staged.errors[0].value == "2,S-2,resume,hr,CN,2024-01-01"


def test_parquet_errors_name_rows(store, tmp_path):
    table = pa.table({c: pa.array(v, pa.string()) for c, v in zip(
        RET_HEADER, zip(ret(1), ret(2, category="dna"), ret(1)))})
    path = tmp_path / "r.parquet"
    pq.write_table(table, path)
    staged = stage_file(store, "retention_records", path)
    assert [(e.line, e.column, e.unit) for e in staged.errors] == [
        (2, "category", "row"), (3, "record_id", "row")]
    assert str(staged.errors[0]).startswith('row 2, column category, value "dna"')
    assert "same key is on row 1" in staged.errors[1].reason
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1" + b"\x00" * 64)
    (err,) = stage_file(store, "retention_records", broken).errors
    assert "cannot be read" in err.reason
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({**{c: pa.array(v, pa.string()) for c, v in zip(
        RET_HEADER, zip(ret(1)))}, "system": pa.array([["a"]])}), nested)
    (err,) = stage_file(store, "retention_records", nested).errors
    assert err.column == "system" and "cannot hold text" in err.reason


def test_native_parquet_values_are_checked_too(store, tmp_path):
    table = pa.table({
        "record_id": pa.array([1, -2, 3], pa.int64()),
        "subject_ref": ["a", "b", "c"], "category": ["name", "name", "name"],
        "system": ["s", "s", "s"], "storage_region": ["CN", "CN", "CN"],
        "collected_on": pa.array([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1),
                                  dt.datetime(2024, 1, 1, 12, 0)], pa.timestamp("us")),
        "deleted_on": pa.array([None, None, None], pa.null()),
    })
    pq.write_table(table, tmp_path / "r.parquet")
    staged = stage_file(store, "retention_records", tmp_path / "r.parquet")
    assert [(e.line, e.column) for e in staged.errors] == [(2, "record_id"), (3, "collected_on")]
    assert "negative" in staged.errors[0].reason
    assert "time of day" in staged.errors[1].reason


def test_errors_past_the_cap_are_counted(store):
    rows = [ret(i, collected_on="n/a") for i in range(1, MAX_LISTED_ERRORS + 101)]
    staged = stage_file(store, "retention_records",
                        csv_text(RET_HEADER, rows).encode(), "r.csv")
    assert len(staged.errors) == MAX_LISTED_ERRORS + 1
    assert staged.errors[0].line == 2
    last = staged.errors[-1]
    assert last.line is None and "100 more errors not listed (1,100 in all" in last.reason
    assert "collected_on 1,100" in last.reason


def test_bytes_without_a_name_are_sniffed(store, tmp_path):
    buf = io.BytesIO()
    pq.write_table(pa.table({c: pa.array([v], pa.string()) for c, v in zip(RET_HEADER, ret(1))}),
                   buf)
    assert stage_file(store, "retention_records", buf.getvalue()).format == "parquet"
    staged = stage_file(store, "retention_records", csv_text(RET_HEADER, [ret(1)]).encode())
    assert staged.format == "csv" and staged.ok


def test_region_list_is_the_official_one():
    assert len(ISO_3166_ALPHA2) == 249
    assert {"CN", "HK", "MO", "TW", "GB", "US", "SG"} <= ISO_3166_ALPHA2
    assert not {"UK", "EU", "XK", "CHN"} & ISO_3166_ALPHA2


def test_row_error_text():
    assert str(RowError(None, "kind", None, "missing required column")) == \
        "column kind: missing required column"
    assert str(RowError(4, "name", "a\nb", "x")) == 'line 4, column name, value "a\\nb": x'
    assert str(RowError(9, "c", "v", "y", unit="row")) == 'row 9, column c, value "v": y'
    assert str(RowError(None, None, None, "the file is empty")) == "the file is empty"


# -- permissions -------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [AUDITOR, MANAGER], ids=["auditor", "manager"])
def test_commit_refuses_roles_without_import(store, tmp_path, actor):
    path = write(tmp_path, "p.csv", csv_text(PROC_HEADER, [proc()]))
    staged = stage_file(store, "processors", path)
    before = counts(store, "processors")
    with pytest.raises(PermissionDenied):
        commit_import(store, actor, staged)
    with pytest.raises(PermissionDenied):
        import_file(store, actor, "processors", path)
    assert counts(store, "processors") == before


# -- the command line --------------------------------------------------------------------
def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_import_append_replace_and_refusals(store, tmp_path):
    db = store.path
    good = write(tmp_path, "processors.csv", csv_text(PROC_HEADER, [proc("PRC-1"), proc("PRC-2")]))
    code, out, err = run_cli("--db", db, "import", "processors", good)
    assert (code, err) == (0, "")
    assert "appended 2 rows from processors.csv" in out

    code, out, err = run_cli("import", "processors", good, "--db", db)
    assert code == 2 and out == ""
    assert "line 2, column processor_id" in err and "already in the store" in err
    assert "line 3, column processor_id" in err and "nothing was written" in err

    code, out, err = run_cli("--db", db, "import", "processors", good, "--replace")
    assert code == 0 and "replaced the register with 2 rows" in out and "2 rows removed" in out

    bad = write(tmp_path, "bad.csv", csv_text(PROC_HEADER, [proc("PRC-3", kind="vendor")]))
    before = counts(store, "processors")
    code, out, err = run_cli("--db", db, "import", "processors", bad)
    assert code == 2
    assert 'line 2, column kind, value "vendor": not one of supplier' in err
    assert counts(store, "processors") == before

    for argv, fragment in [
        (("import", "vendors", good), "invalid choice: 'vendors'"),
        (("import", "processors", tmp_path / "missing.csv"), "no such file"),
        (("import", "processors", write(tmp_path, "p.xlsx", b"PK")), "not an Excel workbook"),
        (("import", "processors", write(tmp_path, "p.txt", b"a,b\n")), "not supported"),
        (("import", "processors", tmp_path), "is a folder"),
        (("import", "processors"), "required"),
    ]:
        code, out, err = run_cli("--db", db, *argv)
        assert code == 2 and fragment in err, (argv, err)
    assert counts(store, "processors") == before


# -- scale ---------------------------------------------------------------------------------
def test_a_200k_row_parquet_import(store, tmp_path):
    path = tmp_path / "big.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT i AS record_id, 'S-' || i AS subject_ref, "
        "['name', 'phone', 'resume', 'location'][1 + i % 4] AS category, 'crm' AS system, "
        "CASE WHEN i % 50 = 0 THEN 'HK' ELSE 'CN' END AS storage_region, "
        "DATE '2020-01-01' + CAST(i % 2000 AS INTEGER) AS collected_on, "
        "CASE WHEN i % 3 = 0 THEN DATE '2025-01-01' END AS service_ended_on "
        "FROM range(1, 200001) t(i)) TO $p (FORMAT parquet)", {"p": str(path)})
    con.close()
    result = import_file(store, SYSTEM, "retention_records", path)
    assert result.rows_written == 200_000
    assert store.rows("SELECT count(*), count(DISTINCT record_id), min(record_id), "
                      "max(record_id), count(*) FILTER (WHERE storage_region = 'HK'), "
                      "count(service_ended_on) FROM retention_records") == [
        (200_000, 200_000, 1, 200_000, 4_000, 66_666)]
    # an error deep in a big file is named by its row
    staged = stage_file(store, "retention_records", path)
    assert len(staged.errors) == MAX_LISTED_ERRORS + 1    # every key is already there
    assert staged.errors[0].line == 1 and staged.errors[-1].line is None


def test_a_bare_carriage_return_is_named_by_its_line(store):
    text = csv_text(RET_HEADER, [ret(1), ret(2)]) + "3,S-3,resume,H\rR,CN,2024-01-01,,,,,\n"
    staged = stage_file(store, "retention_records", text.encode(), "r.csv")
    (err,) = staged.errors
    assert err.line == 4 and "carriage return" in err.reason


def test_parquet_without_rows_is_refused(store, tmp_path):
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in RET_HEADER}),
                   tmp_path / "empty.parquet")
    (err,) = stage_file(store, "retention_records", tmp_path / "empty.parquet").errors
    assert err.line is None and "no data rows" in err.reason


def test_byte_scans_carry_state_across_chunks(store, monkeypatch):
    """UTF-8 characters, quoted newlines and CRLFs split across read chunks."""
    monkeypatch.setattr("dashboard.importer.CHUNK_BYTES", 7)
    rows = [ret(i, system=f"招聘\r\n平台 {i}" if i % 3 == 0 else "客服", subject_ref=f"主体-{i}")
            for i in range(1, 40)]
    rows[30] = ret(31, category="简历")                        # a bad row late in the file
    text = csv_text(RET_HEADER, rows, bom=True, eol="\r\n")
    staged = stage_file(store, "retention_records", text.encode(), "r.csv")
    physical = 2 + sum(1 + ("\n" in r[3]) for r in rows[:30])   # where record 31 starts
    assert [(e.line, e.column) for e in staged.errors] == [(physical, "category")]
    assert list(staged.preview.index[:4]) == [2, 3, 4, 6]        # record 3 spans two lines
    bad = text.encode()[:-30] + b"\xff" + text.encode()[-29:]
    (err,) = stage_file(store, "retention_records", bad, "r.csv").errors
    assert err.line == text.count("\n") and "not UTF-8" in err.reason

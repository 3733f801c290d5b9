"""Exports: the contract CSV, filters, streaming, logging, round trips and audit packs."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import tracemalloc
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard import audit, exports
from dashboard.access import PermissionDenied
from dashboard.cli import main as cli_main
from dashboard.registers import REGISTERS

from conftest import ADMIN, AUDITOR, DPO, MANAGER, SHANGHAI, SYSTEM, make_store

D = dt.date.fromisoformat
UTC = dt.timezone.utc

INJECTIONS = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tleading tab",
              "\rleading cr"]

# processor_id, name, kind, service, purpose, data_categories, storage_region, status,
# engaged_on, confidentiality_signed_on, nda_signed_on, agreement_expires_on,
# agreement_terms, pia_done_on, last_assessed_on, offboarded_on, data_returned_on, owner
PROCESSORS = [
    ("PRC-0001", INJECTIONS[0], "service_provider", "+1", "identity_verification",
     ["name", "facial_biometrics"], "CN", "active", D("2026-01-02"), D("2026-01-01"),
     D("2026-01-01"), D("2027-06-30"), ["purpose", "duration", "method"], D("2025-12-20"),
     D("2026-05-01"), None, None, "-2"),
    ("PRC-0002", "旷视 Face ID, \"Ltd\"", "supplier", "SMS codes\nand voice", "delivery",
     ["phone"], "HK", "suspended", D("2025-03-04"), None, None, None, None, None, None, None,
     None, "@SUM(A1)"),
    ("PRC-0003", "Group Affiliate", "affiliate", "\tleading tab", None, None, None,
     "offboarded", D("2024-07-08"), None, None, D("2025-01-01"), None, None, None,
     D("2025-06-30"), D("2025-07-15"), "  padded  "),
]
SHARING = [
    # agreement_id, counterparty, processor_id, kind, legal_basis, purpose, data_categories,
    # consent, consent_evidence, confidentiality_clause, recipient_region, signed_on,
    # effective_from, expires_on, status, users_notified_on, legal_reference, subjects_affected,
    # pia_done_on (v2)
    ("SHA-0001", "Partner Bank", None, "share", "explicit_consent", "co-branded card",
     ["name", "phone"], "separate", "CONSENT-1", True, "CN", D("2025-12-20"), D("2026-01-01"),
     D("2027-12-31"), "active", None, None, 1000, D("2025-12-10")),
    ("SHA-0002", "Acquirer Ltd", None, "transfer", "merger_acquisition", "=cmd|' /C calc'!A0",
     ["name"], None, None, False, "US", D("2026-01-15"), D("2026-02-01"), D("2026-06-30"),
     "active", D("2026-01-20"), None, 500, None),
    ("SHA-0003", "District Court", None, "disclosure", "legal_requirement", None,
     ["id_card_number"], "none", None, None, "CN", None, D("2026-03-01"), None, "ended",
     None, "(2026) Court 123", 0, None),
]
RETENTION = [
    (1, "SUB-0001", "name", "crm", "CN", D("2025-01-01"), None, None, None, None, None),
    (2, "SUB-0002", "name", "crm", "CN", D("2025-02-01"), D("2026-10-01"), None, None, None,
     None),
    (3, "SUB-0003", "location", "app", "HK", D("2026-01-01"), None, None, None, None, None),
    (4, "=SUB-0004", "resume", "hr", "CN", D("2026-01-01"), D("2026-03-01"), D("2026-04-02"),
     None, None, None),
    (5, "SUB-0005", "resume", "hr", "CN", D("2026-01-01"), D("2026-02-01"), None,
     "court_or_legal_proceedings", "-(2026) Court 123", D("2026-11-01")),
]
T = dt.datetime
INCIDENTS = [
    # incident_id, title, description, incident_type, grade, occurred_at, detected_at,
    # affected_subjects, data_categories, notification_channels, notice_contents,
    # users_notified_at, status,
    # v2: pi_authority_notified_at, user_notice_exemption, suspected_crime, cii_involved,
    # important_data_involved, economic_loss_cny
    ("INC-2026-0001", "Leak of =phone numbers", "line one\r\nline two, with comma",
     "data_leak", "relatively_major", None,
     T(2026, 3, 1, 23, 30, tzinfo=SHANGHAI), 1_200_000, ["phone", "name"],
     ["email", "sms"], ["categories", "cause"],
     T(2026, 3, 2, 1, 0, 0, 123456, tzinfo=UTC), "contained",
     T(2026, 3, 2, 4, 15, tzinfo=SHANGHAI), None, True, False, True, Decimal("1250000.50")),
    ("INC-2026-0002", "Ransomware", None, "ransomware", "general",
     T(2026, 3, 1, 20, 0, tzinfo=SHANGHAI), T(2026, 3, 2, 0, 10, tzinfo=SHANGHAI), 0, None,
     None, None, None, "open",
     None, "-Backups were encrypted, key not exposed;\nno harm, \"PIPL 57\"", False, True,
     None, Decimal("0")),
    ("INC-2025-0009", "Phishing", "@team", "phishing", "general", None,
     T(2025, 12, 31, 9, 0, tzinfo=SHANGHAI), None, None, None, None, None, "closed",
     None, None, None, None, None, Decimal("30000000")),
]
EVENTS = [
    (1, "INC-2026-0001", T(2026, 3, 1, 23, 30, tzinfo=SHANGHAI), "dpo.li", "logged", "+found"),
    (2, "INC-2026-0001", T(2026, 3, 2, 0, 30, tzinfo=SHANGHAI), "dpo.li", "contained", None),
    (3, "INC-2026-0002", T(2026, 3, 2, 0, 10, tzinfo=SHANGHAI), "manager.wang", "logged",
     "ransom note"),
    (4, "INC-2025-0009", T(2025, 12, 31, 9, 0, tzinfo=SHANGHAI), "manager.wang", "logged",
     None),
]


REQUESTS = [   # rights requests (issue 14): a refusal with its reason, text that needs quoting
    ("REQ-2026-0001", dt.datetime(2026, 11, 2, 0, 5, tzinfo=SHANGHAI), "email", "delete", "U-1",
     dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), "completed",
     dt.datetime(2026, 11, 10, 16, 0, tzinfo=SHANGHAI), None, "privacy team", 'said "now", please'),
    ("REQ-2026-0002", dt.datetime(2026, 11, 3, 10, 0, tzinfo=SHANGHAI), "phone", "access", "=U-2",
     None, "refused", dt.datetime(2026, 11, 4, 10, 0, tzinfo=SHANGHAI), "Identity not shown,\ntwice",
     None, None),
]


def populate(store) -> None:
    """The registers above, written as one service write would."""
    inc_cols = ("incident_id, title, description, incident_type, grade, occurred_at, "
                "detected_at, affected_subjects, data_categories, notification_channels, "
                "notice_contents, users_notified_at, status, pi_authority_notified_at, "
                "user_notice_exemption, suspected_crime, cii_involved, "
                "important_data_involved, economic_loss_cny")
    with store.write(SYSTEM, "register.edit") as w:
        for table, rows in (("processors", PROCESSORS), ("sharing_agreements", SHARING),
                            ("retention_records", RETENTION)):
            marks = ", ".join("?" for _ in rows[0])
            w.cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        w.cur.executemany(f"INSERT INTO incidents ({inc_cols}) VALUES "
                          f"({', '.join('?' for _ in INCIDENTS[0])})", INCIDENTS)
        w.cur.executemany("INSERT INTO incident_events VALUES (?, ?, ?, ?, ?, ?)", EVENTS)
        w.cur.executemany("INSERT INTO rights_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          REQUESTS)
        w.audit("test.populate", "test")


@pytest.fixture
def filled(store):
    populate(store)
    return store


def csv_bytes(store, dataset, filters=None, **kw) -> bytes:
    buf = io.BytesIO()
    exports.write_csv(store, dataset, exports.resolve_filters(store, dataset, filters), buf,
                      **kw)
    return buf.getvalue()


def parse(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def outdir(tmp_path):
    """A folder for exported files only (the store lives in tmp_path)."""
    d = tmp_path / "out"
    d.mkdir()
    return d


def audit_count(store) -> int:
    return store.scalar("SELECT count(*) FROM audit_log")


def last_entry(store) -> dict:
    row = store.rows("SELECT action, entity_type, entity_id, values_after, role, actor "
                     "FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    return {"action": row[0], "entity_type": row[1], "entity_id": row[2],
            "after": json.loads(row[3]), "role": row[4], "actor": row[5]}


# -- the format ----------------------------------------------------------------------------

def test_csv_has_bom_header_crlf_and_rfc4180_quoting(filled):
    data = csv_bytes(filled, "processors")
    assert data.startswith(b"\xef\xbb\xbfprocessor_id,name,kind,service,purpose,")
    lines = data[3:].split(b"\r\n")
    assert lines[0].decode() == ",".join(REGISTERS["processors"].column_names)
    assert lines[-1] == b""                                  # every record ends in CRLF
    text = data.decode("utf-8-sig")
    # a quote doubled inside a quoted cell; a comma and a newline force quotes
    assert '"旷视 Face ID, ""Ltd"""' in text
    assert '"SMS codes\nand voice"' in text
    rows = parse(data)
    assert [r["processor_id"] for r in rows] == ["PRC-0001", "PRC-0002", "PRC-0003"]
    assert rows[1]["name"] == '旷视 Face ID, "Ltd"'
    assert rows[1]["service"] == "SMS codes\nand voice"


def test_lists_dates_nulls_and_text_as_the_contract_says(filled):
    p = parse(csv_bytes(filled, "processors"))[0]
    assert p["data_categories"] == "name;facial_biometrics"
    assert p["agreement_terms"] == "purpose;duration;method"
    assert p["engaged_on"] == "2026-01-02"
    assert p["offboarded_on"] == "" and p["data_returned_on"] == ""     # null -> empty
    assert parse(csv_bytes(filled, "processors"))[2]["owner"] == "  padded  "
    s = {r["agreement_id"]: r for r in parse(csv_bytes(filled, "sharing_agreements"))}
    assert s["SHA-0001"]["confidentiality_clause"] == "true"
    assert s["SHA-0002"]["confidentiality_clause"] == "false"
    assert s["SHA-0003"]["confidentiality_clause"] == ""
    assert s["SHA-0001"]["subjects_affected"] == "1000"
    assert s["SHA-0003"]["subjects_affected"] == "0"


def test_timestamps_are_iso_8601_with_the_shanghai_offset(filled):
    rows = {r["incident_id"]: r for r in parse(csv_bytes(filled, "incidents"))}
    first = rows["INC-2026-0001"]
    assert first["detected_at"] == "2026-03-01T23:30:00+08:00"
    # 01:00:00.123456Z is 09:00:00.123456 in Shanghai; fractions are kept, not rounded
    assert first["users_notified_at"] == "2026-03-02T09:00:00.123456+08:00"
    assert first["occurred_at"] == ""
    assert first["notification_channels"] == "email;sms"
    assert first["description"] == "line one\r\nline two, with comma"
    for value in (first["detected_at"], first["users_notified_at"]):
        parsed = dt.datetime.fromisoformat(value)
        assert parsed.utcoffset() == dt.timedelta(hours=8)
    events = parse(csv_bytes(filled, "incident_events"))
    assert list(events[0]) == ["event_id", "incident_id", "at", "actor", "kind", "detail"]
    assert events[0]["at"] == "2025-12-31T09:00:00+08:00"


def test_injection_prone_cells_are_neutralized(filled):
    text = csv_bytes(filled, "processors").decode("utf-8-sig")
    p = {r["processor_id"]: r for r in parse(csv_bytes(filled, "processors"))}
    assert p["PRC-0001"]["name"] == "'" + '=HYPERLINK("http://x","y")'
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in text        # quoted because of the quotes
    assert p["PRC-0001"]["service"] == "'+1"
    assert p["PRC-0001"]["owner"] == "'-2"
    assert p["PRC-0002"]["owner"] == "'@SUM(A1)"
    assert p["PRC-0003"]["service"] == "'\tleading tab"
    assert parse(csv_bytes(filled, "sharing_agreements"))[1]["purpose"] == \
        "'=cmd|' /C calc'!A0"
    r = {row["record_id"]: row for row in parse(csv_bytes(filled, "retention_records"))}
    assert r["4"]["subject_ref"] == "'=SUB-0004"
    assert r["5"]["hold_reference"] == "'-(2026) Court 123"
    i = parse(csv_bytes(filled, "incidents"))
    assert {x["incident_id"]: x["description"] for x in i}["INC-2025-0009"] == "'@team"
    # numbers are numbers, not text: a negative integer is not touched
    with filled.cursor() as cur:
        buf = io.BytesIO()
        exports.write_query_csv(
            cur, "SELECT -2 AS n, ['=a', 'b'] AS l, '\rx' AS cr, '''=x' AS q, 'it''s' AS plain, "
                 "'' AS empty", [], "n", buf)
    row = parse(buf.getvalue())[0]
    assert row == {"n": "-2", "l": "'=a;b", "cr": "'\rx", "q": "''=x", "plain": "it's",
                   "empty": ""}


def test_python_and_sql_neutralization_agree():
    for value in [*INJECTIONS, "'=x", "''+y", "'plain", "plain", "a=b", " =x"]:
        expected = "'" + value if value[:1] in exports.INJECTION_CHARS or \
            value.lstrip("'")[:1] in exports.INJECTION_CHARS else value
        assert exports.neutralize(value) == expected


# -- filters ------------------------------------------------------------------------------

def ids(store, dataset, filters, key):
    return [r[key] for r in parse(csv_bytes(store, dataset, filters))]


def test_filters_restrict_rows(filled):
    assert ids(filled, "processors", {"status": ["active", "suspended"]}, "processor_id") == \
        ["PRC-0001", "PRC-0002"]
    assert ids(filled, "processors", {"status": "active,offboarded", "region": "CN"},
               "processor_id") == ["PRC-0001"]
    assert ids(filled, "processors", {"category": ["phone", "facial_biometrics"]},
               "processor_id") == ["PRC-0001", "PRC-0002"]
    assert ids(filled, "processors", {"from": "2025-01-01", "to": "2026-01-02"},
               "processor_id") == ["PRC-0001", "PRC-0002"]          # dates are inclusive
    assert ids(filled, "sharing_agreements", {"kind": ["transfer", "disclosure"],
                                              "status": "active"}, "agreement_id") == \
        ["SHA-0002"]
    assert ids(filled, "retention_records", {"state": "on_hold"}, "record_id") == ["5"]
    assert ids(filled, "retention_records", {"state": ["kept"], "category": "name"},
               "record_id") == ["1", "2"]
    assert ids(filled, "retention_records", {"state": "deleted"}, "record_id") == ["4"]
    assert ids(filled, "incidents", {"grade": "general", "status": ["open", "closed"]},
               "incident_id") == ["INC-2025-0009", "INC-2026-0002"]
    assert ids(filled, "incident_events", {"grade": "relatively_major"}, "event_id") == \
        ["1", "2"]
    assert ids(filled, "incident_events", {"incident_id": "INC-2026-0002"}, "event_id") == \
        ["3"]
    assert ids(filled, "audit_log", {"action": "test.populate"}, "action") == \
        ["test.populate"]


def test_timestamp_date_range_is_whole_days_in_shanghai(filled):
    # INC-2026-0001 was detected at 23:30 on 1 March Shanghai time (15:30 UTC), and
    # INC-2026-0002 at 00:10 on 2 March Shanghai time (16:10 UTC on 1 March).
    assert ids(filled, "incidents", {"from": "2026-03-01", "to": "2026-03-01"},
               "incident_id") == ["INC-2026-0001"]
    assert ids(filled, "incidents", {"from": "2026-03-02"}, "incident_id") == \
        ["INC-2026-0002"]
    assert ids(filled, "incidents", {"to": "2025-12-31"}, "incident_id") == ["INC-2025-0009"]


@pytest.mark.parametrize("dataset, filters, message", [
    ("processors", {"colour": "red"}, "processors has no filter 'colour'"),
    ("processors", {"status": "dormant"}, "has no value 'dormant'; expected one of: active"),
    ("incidents", {"from": "2026-13-01"}, "must be a date YYYY-MM-DD, got '2026-13-01'"),
    ("incidents", {"from": "01/03/2026"}, "must be a date YYYY-MM-DD"),
    ("incidents", {"from": "2026-03-02", "to": "2026-03-01"}, "the date range is empty"),
    ("findings", {"clause": "5.x"}, "must be a policy clause number"),
    ("findings", {"severity": "urgent"}, "expected one of: low, medium, high"),
    ("nonsense", {}, "unknown table 'nonsense'; expected one of: processors"),
])
def test_bad_filters_are_refused_with_a_clear_message(dataset, filters, message):
    with pytest.raises(exports.ExportError, match=message.replace("(", r"\(")):
        exports.normalize_filters(dataset, filters)


def test_filters_are_canonical():
    a = exports.normalize_filters("processors", {"status": "suspended, active", "to": "",
                                                  "kind": []})
    b = exports.normalize_filters("processors", {"status": ["active", "suspended", "active"]})
    assert a == b == {"status": ["active", "suspended"]}
    assert exports.normalize_filters("incidents", {"from": dt.date(2026, 3, 1)}) == \
        {"from": "2026-03-01"}


# -- streaming ------------------------------------------------------------------------------

def test_large_export_streams_one_batch_at_a_time(store, tmp_path):
    n = 60_000
    with store.write(SYSTEM, "register.import") as w:
        w.execute("INSERT INTO retention_records SELECT i, 'SUB-' || i, 'name', "
                  "'crm ' || repeat('x', 40), 'CN', DATE '2025-01-01' + CAST(i % 300 AS INTEGER),"
                  " NULL, NULL, NULL, NULL, NULL FROM range(1, ? + 1) t(i)", [n])
        w.audit("test.fill", "retention_records")
    batch = 2_000
    seen: list[tuple[int, int, int]] = []
    path = tmp_path / "r.csv"
    with open(path, "wb", buffering=0) as fh:   # unbuffered: bytes reach the file at once
        def on_batch(rows, size):
            seen.append((rows, size, os.fstat(fh.fileno()).st_size))
        tracemalloc.start()
        stats = exports.write_csv(store, "retention_records", {}, fh, batch_rows=batch,
                                  chunk_rows=25_000, on_batch=on_batch)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert stats.rows == n and stats.max_batch_rows <= batch
    assert stats.batches >= n // batch
    # each batch was on disk before the next one was fetched: nothing accumulates
    assert all(size == on_disk for _, size, on_disk in seen)
    assert [rows for rows, _, _ in seen] == sorted({rows for rows, _, _ in seen})
    assert stats.bytes == path.stat().st_size > 4_000_000
    # the Python heap never held more than a small fraction of the 4+ MB file
    assert peak < stats.bytes / 8, (peak, stats.bytes)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == stats.sha256
    lines = path.read_bytes().split(b"\r\n")
    assert lines[1].startswith(b"1,SUB-1,") and lines[n].startswith(f"{n},".encode())


def test_sorting_by_key_ranges_gives_the_same_file(store):
    """Large registers are sorted range by range of their key: the file must not change,
    whatever the keys' spread (dense, sparse, negative, one huge outlier)."""
    keys = [*range(1, 2_001), *range(5_000, 9_000, 7), -3, 0, 10**12]
    with store.write(SYSTEM, "register.import") as w:
        w.cur.executemany(
            "INSERT INTO retention_records (record_id, subject_ref, category, system, "
            "storage_region, collected_on) VALUES (?, ?, ?, 'crm', 'CN', DATE '2026-01-01')",
            [(k, f"SUB-{k}", "name" if k % 3 else "phone") for k in keys])
        w.audit("test.fill", "retention_records")
    whole = csv_bytes(store, "retention_records", chunk_rows=10**9)
    assert len(parse(whole)) == len(keys)
    for chunk in (97, 700):
        assert csv_bytes(store, "retention_records", chunk_rows=chunk) == whole
    phones = csv_bytes(store, "retention_records", {"category": "phone"}, chunk_rows=50)
    assert phones == csv_bytes(store, "retention_records", {"category": "phone"},
                               chunk_rows=10**9)
    assert [int(r["record_id"]) for r in parse(phones)] == sorted(k for k in keys if k % 3 == 0)


# -- exports are checked, logged and reproducible ------------------------------------------

def test_export_file_logs_one_entry_naming_what_was_exported(filled, tmp_path):
    before = audit_count(filled)
    out = tmp_path / "p.csv"
    result = exports.export_file(filled, AUDITOR, "processors", out, {"status": "active"})
    assert audit_count(filled) == before + 1
    entry = last_entry(filled)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert entry["action"] == "export.download" and entry["entity_id"] == "processors"
    assert entry["actor"] == "auditor.chen" and entry["role"] == "auditor"
    assert entry["after"]["filters"] == {"status": ["active"]}
    assert entry["after"]["rows"] == result.rows == 1
    assert entry["after"]["sha256"] == result.sha256 == digest
    # the same export again gives the same bytes (stable order, no clock in the file)
    again = tmp_path / "p2.csv"
    exports.export_file(filled, DPO, "processors", again, {"status": "active"})
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("actor", [MANAGER, ADMIN])
def test_export_needs_the_permission_and_writes_nothing_when_refused(filled, outdir, actor):
    before = audit_count(filled)
    with pytest.raises(PermissionDenied, match="Download exports"):
        exports.export_file(filled, actor, "processors", outdir / "p.csv")
    with pytest.raises(PermissionDenied):
        exports.open_download(filled, actor, "processors")
    with pytest.raises(PermissionDenied):
        exports.build_pack(filled, actor, [("processors", {})], outdir / "pack.zip")
    assert audit_count(filled) == before
    assert list(outdir.iterdir()) == []


def test_bad_filter_writes_nothing(filled, outdir):
    before = audit_count(filled)
    with pytest.raises(exports.ExportError):
        exports.export_file(filled, AUDITOR, "incidents", outdir / "i.csv",
                            {"status": "burning"})
    assert audit_count(filled) == before and list(outdir.iterdir()) == []


def test_download_is_the_same_csv_logged_once(filled):
    before = audit_count(filled)
    dl = exports.open_download(filled, DPO, "incidents", {"grade": "general"})
    data = dl.file.read()
    dl.file.close()
    assert data == csv_bytes(filled, "incidents", {"grade": "general"})
    assert dl.mime == "text/csv" and dl.file_name.startswith("incidents_")
    assert audit_count(filled) == before + 1
    entry = last_entry(filled)
    assert entry["after"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["after"]["rows"] == 2 and entry["after"]["delivery"] == "download"
    assert not Path(dl.file.name).exists()          # the temporary file is already unlinked


def test_compressed_download_holds_the_same_csv(filled):
    dl = exports.open_download(filled, AUDITOR, "retention_records", compress=True)
    blob = dl.file.read()
    dl.file.close()
    assert dl.mime == "application/zip" and dl.file_name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        (name,) = zf.namelist()
        inner = zf.read(name)
    assert inner == csv_bytes(filled, "retention_records")
    entry = last_entry(filled)
    assert entry["after"]["sha256"] == hashlib.sha256(inner).hexdigest()
    assert entry["after"]["zip"]["sha256"] == hashlib.sha256(blob).hexdigest()


# -- the audit pack ------------------------------------------------------------------------

def test_audit_pack_manifest_matches_the_files(filled, tmp_path):
    head_before = filled.rows("SELECT seq, hash, logged_at FROM audit_log "
                              "ORDER BY seq DESC LIMIT 1")[0]
    before = audit_count(filled)
    out = tmp_path / "pack.zip"
    result = exports.build_pack(filled, AUDITOR, [
        ("processors", {"status": "active"}), ("incidents", {"from": "2026-01-01"}),
        ("incident_events", {"from": "2026-01-01"}), ("retention_records", None),
        ("audit_log", None)], out)
    assert audit_count(filled) == before + 1
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted(
            ["manifest.json", "SHA256SUMS", "processors.csv", "incidents.csv",
             "incident_events.csv", "retention_records.csv", "audit_log.csv"])
        manifest = json.loads(zf.read("manifest.json"))
        for f in manifest["files"]:
            data = zf.read(f["name"])
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
            assert len(parse(data)) == f["rows"]
            now = csv_bytes(filled, f["dataset"], f["filters"])
            if f["dataset"] == "audit_log":      # append-only: now it also holds the pack's entry
                assert now.startswith(data) and len(parse(now)) == f["rows"] + 1
            else:
                assert data == now
        sums = zf.read("SHA256SUMS").decode()
    assert {f["dataset"]: f["rows"] for f in manifest["files"]} == {
        "processors": 1, "incidents": 2, "incident_events": 3, "retention_records": 5,
        "audit_log": before}
    files = {f["dataset"]: f for f in manifest["files"]}
    assert files["incidents"]["filters"] == {"from": "2026-01-01"}
    assert files["processors"]["command"] == \
        "python -m dashboard export processors --out processors.csv --status active"
    assert manifest["audit_chain"] == {"head_seq": head_before[0], "head_hash": head_before[1],
                                       "head_at": audit.utc_iso(head_before[2])}
    assert manifest["generated_by"] == {"name": "auditor.chen", "role": "auditor"}
    assert manifest["generated_at"] == "2026-11-24T10:00:00+08:00"
    assert manifest["store"]["schema_version"] == filled.schema_version()
    assert all(f"{f['sha256']}  {f['name']}" in sums for f in manifest["files"])
    entry = last_entry(filled)
    assert entry["action"] == "export.pack"
    assert entry["after"]["sha256"] == result.sha256 == \
        hashlib.sha256(out.read_bytes()).hexdigest()
    assert [f["rows"] for f in entry["after"]["files"]] == \
        [f["rows"] for f in manifest["files"]]
    assert exports.check_pack(out).ok


def test_check_pack_finds_a_changed_file(filled, tmp_path):
    out = tmp_path / "pack.zip"
    exports.build_pack(filled, DPO, [("processors", None), ("incidents", None)], out)
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(forged, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "incidents.csv":
                data = data.replace(b"Ransomware", b"Nothing")
            dst.writestr(name, data)
    check = exports.check_pack(forged)
    assert not check.ok
    assert any(line.startswith("MISMATCH incidents.csv") for line in check.lines)
    assert any(line.startswith("OK") and "processors.csv" in line for line in check.lines)
    assert cli_main(["audit", "check-pack", str(forged)], io.StringIO(), io.StringIO()) == 1
    assert cli_main(["audit", "check-pack", str(out)], io.StringIO(), io.StringIO()) == 0


def test_pack_refuses_bad_selections(filled, outdir):
    with pytest.raises(exports.ExportError, match="at least one dataset"):
        exports.build_pack(filled, AUDITOR, [], outdir / "p.zip")
    with pytest.raises(exports.ExportError, match="twice"):
        exports.build_pack(filled, AUDITOR, [("incidents", None), ("incidents", None)],
                           outdir / "p.zip")
    assert list(outdir.iterdir()) == []


# -- the command line ----------------------------------------------------------------------

def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_export_writes_the_same_csv_as_the_page(filled, tmp_path):
    db = str(filled.path)
    filled.close()
    out = tmp_path / "inc.csv"
    code, text, err = run_cli("--db", db, "export", "incidents", "--out", str(out),
                              "--grade", "general", "--status", "open,closed")
    assert code == 0, err
    assert "wrote 2 rows of incidents" in text
    s = make_store_reopen(db)
    try:
        assert out.read_bytes() == csv_bytes(s, "incidents", {"grade": "general",
                                                              "status": ["open", "closed"]})
        entry = last_entry(s)
        assert entry["role"] == "system" and entry["after"]["rows"] == 2
    finally:
        s.close()


def make_store_reopen(path):
    from dashboard.settings import Settings
    from dashboard.store import Store
    from conftest import FROZEN_NOW
    return Store(path, settings=Settings(), clock=lambda: FROZEN_NOW)


@pytest.mark.parametrize("argv, message", [
    (["export", "nonsense", "--out", "{out}"], "unknown table 'nonsense'"),
    (["export", "incidents", "--out", "{out}", "--status", "burning"], "has no value 'burning'"),
    (["export", "processors", "--out", "{out}", "--severity", "high"],
     "processors does not take --severity"),
    (["export", "incidents", "--out", "{out}", "--from", "yesterday"], "must be a date"),
    (["export", "incidents", "--out", "{missing}"], "does not exist"),
    (["export", "incidents"], "--out"),
])
def test_cli_export_bad_input_exits_2_and_writes_nothing(filled, tmp_path, argv, message):
    db = str(filled.path)
    before = audit_count(filled)
    filled.close()
    out = tmp_path / "x.csv"
    argv = [a.format(out=out, missing=tmp_path / "no" / "x.csv") for a in argv]
    code, _, err = run_cli("--db", db, *argv)
    assert code == 2
    assert message in err
    assert not out.exists()
    s = make_store_reopen(db)
    try:
        assert audit_count(s) == before
    finally:
        s.close()


def test_cli_audit_pack_and_verify_anchor(filled, tmp_path):
    db = str(filled.path)
    filled.close()
    out = tmp_path / "pack.zip"
    code, text, err = run_cli("--db", db, "audit", "pack", "--out", str(out), "--include",
                              "processors,incidents", "--from", "2026-01-01")
    assert code == 0, err
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert [f["dataset"] for f in manifest["files"]] == ["processors", "incidents"]
    assert manifest["files"][1]["filters"] == {"from": "2026-01-01"}
    head = manifest["audit_chain"]
    anchor = f"{head['head_seq']}:{head['head_hash']}"
    code, text, _ = run_cli("--db", db, "audit", "verify", "--anchor", anchor)
    assert code == 0 and "anchor entry" in text
    code, _, err = run_cli("--db", db, "audit", "verify", "--anchor", "12:abc")
    assert code == 2 and "SEQ:HASH" in err


# -- round trip through the importer ------------------------------------------------------

def register_rows(store, table):
    reg = REGISTERS[table]
    cols = ", ".join(f'"{c}"' for c in reg.column_names)
    return store.rows(f"SELECT {cols} FROM {table} ORDER BY {reg.key}")


@pytest.mark.parametrize("table", list(REGISTERS))
def test_export_reimported_gives_identical_rows(filled, tmp_path, table):
    from dashboard import importer
    data = csv_bytes(filled, table)
    fresh = make_store(tmp_path / "fresh.duckdb")
    try:
        staged = importer.stage_file(fresh, table, data, f"{table}.csv")
        assert staged.ok, [str(e) for e in staged.errors]
        importer.commit_import(fresh, DPO, staged)
        assert register_rows(fresh, table) == register_rows(filled, table)
        # and exporting the copy gives back the very same file
        assert csv_bytes(fresh, table) == data
    finally:
        fresh.close()


CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "data-contract.md"


def contract_columns(table: str) -> list[str]:
    """A register's columns as the data contract's table lists them, in its order
    (``title, description`` on one row stands for two columns)."""
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split(f"\n## {table} ", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        cell = line.split("|")[1].strip() if line.startswith("| ") else ""
        if cell and cell not in ("column", "---"):
            names += [c.strip() for c in cell.split(",")]
    return names


@pytest.mark.parametrize("table", list(REGISTERS))
def test_every_register_exports_the_contracts_columns_in_its_order(filled, table):
    header = csv_bytes(filled, table)[3:].split(b"\r\n", 1)[0].decode()
    assert header.split(",") == list(REGISTERS[table].column_names)
    if CONTRACT.exists():
        assert header.split(",") == contract_columns(table)


def test_the_version_2_columns_as_the_contract_says(filled):
    """Rules version 2 (migration 0010): a date, a timestamp, booleans, a text and an
    amount, each rendered as the contract's CSV says."""
    s = {r["agreement_id"]: r for r in parse(csv_bytes(filled, "sharing_agreements"))}
    assert [s[k]["pia_done_on"] for k in ("SHA-0001", "SHA-0002")] == ["2025-12-10", ""]
    text = csv_bytes(filled, "incidents").decode("utf-8-sig")
    i = {r["incident_id"]: r for r in parse(csv_bytes(filled, "incidents"))}
    first, second, third = i["INC-2026-0001"], i["INC-2026-0002"], i["INC-2025-0009"]
    assert first["pi_authority_notified_at"] == "2026-03-02T04:15:00+08:00"
    assert (first["suspected_crime"], first["cii_involved"],
            first["important_data_involved"]) == ("true", "false", "true")
    assert (third["suspected_crime"], third["cii_involved"]) == ("", "")
    # amounts: plain digits with the column's two decimals (DECIMAL(18,2)), never an
    # exponent, a thousands separator or a currency sign; null is empty
    assert [first["economic_loss_cny"], second["economic_loss_cny"],
            third["economic_loss_cny"]] == ["1250000.50", "0.00", "30000000.00"]
    assert ",1250000.50\r\n" in text and ",30000000.00\r\n" in text   # not quoted
    # the exemption is text: neutralized against CSV injection, quoted for its newline
    assert second["user_notice_exemption"] == (
        "'-Backups were encrypted, key not exposed;\nno harm, \"PIPL 57\"")
    assert first["user_notice_exemption"] == ""


def test_amounts_export_and_import_back_exactly(store, tmp_path):
    """Every amount DECIMAL(18,2) can hold, from 0.01 to the largest, comes back from its
    exported text unchanged (the export writes what the importer reads)."""
    from dashboard import importer
    amounts = [Decimal("0.01"), Decimal("0.10"), Decimal("5000000"), Decimal("19999999.99"),
               Decimal("100000000.00"), Decimal("9999999999999999.99"), None]
    with store.write(SYSTEM, "register.edit") as w:
        w.cur.executemany(
            "INSERT INTO incidents (incident_id, title, incident_type, grade, detected_at, "
            "status, economic_loss_cny) VALUES (?, 't', 'other', 'general', ?, 'open', ?)",
            [(f"INC-{n}", T(2026, 3, 1, tzinfo=SHANGHAI), a) for n, a in enumerate(amounts)])
        w.audit("test.populate", "test")
    data = csv_bytes(store, "incidents")
    assert [r["economic_loss_cny"] for r in parse(data)] == [
        "0.01", "0.10", "5000000.00", "19999999.99", "100000000.00", "9999999999999999.99", ""]
    fresh = make_store(tmp_path / "fresh.duckdb")
    try:
        staged = importer.stage_file(fresh, "incidents", data, "incidents.csv")
        assert staged.ok, [str(e) for e in staged.errors]
        importer.commit_import(fresh, DPO, staged)
        assert [r[0] for r in fresh.rows("SELECT economic_loss_cny FROM incidents "
                                         "ORDER BY incident_id")] == amounts
        assert csv_bytes(fresh, "incidents") == data
    finally:
        fresh.close()


def test_values_already_starting_with_a_quote_survive_the_round_trip(store, tmp_path):
    """A stored value such as ``'=x`` must come back as ``'=x``: the exporter adds a
    quote (``''=x``), so the importer must strip one quote from any cell matching
    ``'+`` followed by = + - @ TAB CR, not only from ``'`` + one of them."""
    from dashboard import importer
    with store.write(SYSTEM, "register.edit") as w:
        w.cur.executemany(
            "INSERT INTO processors (processor_id, name, kind, status, service, owner) "
            "VALUES (?, ?, 'supplier', 'active', ?, ?)",
            [("PRC-0001", "'=x", "''+y", "'plain"), ("PRC-0002", "it's", "'-", "'@'")])
        w.audit("test.populate", "test")
    data = csv_bytes(store, "processors")
    fresh = make_store(tmp_path / "fresh.duckdb")
    try:
        staged = importer.stage_file(fresh, "processors", data, "processors.csv")
        assert staged.ok, [str(e) for e in staged.errors]
        importer.commit_import(fresh, DPO, staged)
        assert register_rows(fresh, "processors") == register_rows(store, "processors")
    finally:
        fresh.close()


# -- findings and snapshots (the compliance engine) --------------------------------------

def test_findings_export_matches_the_check_and_carries_the_rule_text(demo_store):
    from dashboard import engine
    from dashboard.rules import rule_map
    from conftest import DEMO_AS_OF
    as_of = DEMO_AS_OF.isoformat()
    result = engine.run_check(demo_store, DEMO_AS_OF)
    rows = parse(csv_bytes(demo_store, "findings", {"as_of": as_of}))
    assert len(rows) == len(result.findings) > 20
    assert list(rows[0]) == list(exports.FINDING_COLUMNS)
    assert {(r["rule_id"], r["entity_id"]) for r in rows} == \
        {(a, str(b)) for a, b in zip(result.findings["rule_id"], result.findings["entity_id"])}
    rules = rule_map()
    for r in rows:
        rule = rules[r["rule_id"]]
        assert (r["clause"], r["severity"], r["title"], r["fix"]) == \
            (rule.clause, rule.severity, rule.title, rule.fix)
    ranks = [{"high": 3, "medium": 2, "low": 1}[r["severity"]] for r in rows]
    assert ranks == sorted(ranks, reverse=True)                 # most severe first
    due = [r["due_at"] for r in rows if r["due_at"]]
    assert due and all(dt.datetime.fromisoformat(d).utcoffset() == dt.timedelta(hours=8)
                       for d in due)
    clause = parse(csv_bytes(demo_store, "findings", {"as_of": as_of, "clause": "5.1.4"}))
    assert clause and {r["clause"] for r in clause} == {"5.1.4"}
    assert len(clause) == int((result.findings["clause"] == "5.1.4").sum())
    article = parse(csv_bytes(demo_store, "findings", {"as_of": as_of, "clause": "5"}))
    assert {r["clause"].split(".")[0] for r in article} == {"5"}
    assert len(article) == int(result.findings["clause"].str.match(r"^5(\.|$)").sum())
    high = parse(csv_bytes(demo_store, "findings", {"as_of": as_of, "severity": "high"}))
    assert high and {r["severity"] for r in high} == {"high"}
    assert len(high) == int((result.findings["severity"] == "high").sum())


def test_findings_export_records_its_as_of(demo_store, tmp_path):
    out = tmp_path / "f.csv"
    result = exports.export_file(demo_store, AUDITOR, "findings", out, {"severity": "high"})
    assert result.filters == {"as_of": "2026-11-24", "severity": ["high"]}   # the frozen today
    assert last_entry(demo_store)["after"]["filters"]["as_of"] == "2026-11-24"
    assert "--as-of 2026-11-24" in exports.cli_command("findings", result.filters, "f.csv")


def test_snapshots_export(demo_store):
    from dashboard import engine
    from conftest import DEMO_AS_OF
    result = engine.run_check(demo_store, DEMO_AS_OF)
    engine.save_snapshot(demo_store, DPO, result)
    rows = parse(csv_bytes(demo_store, "snapshots"))
    assert len(rows) == 1
    snap = rows[0]
    assert snap["snapshot_date"] == "2026-11-24"
    assert snap["as_of"] == "2026-11-24T10:00:00+08:00"      # today means now (frozen 10:00)
    assert int(snap["findings"]) == len(result.findings)
    assert json.loads(snap["settings"])["due_soon_days"] == 30
    assert parse(csv_bytes(demo_store, "snapshots", {"from": "2026-11-25"})) == []
    scores = parse(csv_bytes(demo_store, "snapshot_scores", {"level": "article"}))
    assert scores and {r["level"] for r in scores} == {"article"}


def test_docs_list_every_dataset_and_filter():
    text = (Path(__file__).resolve().parent.parent / "docs" / "EVIDENCE.md").read_text("utf-8")
    block = text.split("<!-- datasets:start -->\n")[1].split("<!-- datasets:end -->")[0]
    assert block == exports.datasets_markdown(), \
        "docs/EVIDENCE.md's dataset table is stale: paste exports.datasets_markdown()"


# -- an --out the command cannot write ------------------------------------------------------

@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody may create files in: chmod for a normal user; for root (who
    ignores modes) the immutable attribute where the file system has it."""
    import shutil
    import subprocess
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if os.geteuid() == 0 and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(folder)],
                                   capture_output=True).returncode == 0
    try:
        (folder / ".probe").touch()
    except OSError:
        pass
    else:
        (folder / ".probe").unlink()
        pytest.skip("no way to make a read-only folder on this machine")
    yield folder
    if immutable:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def _out_cases(tmp_path, read_only_dir):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    return {
        "read-only folder": (read_only_dir / "x.csv", "permission denied"),
        "a file as folder": (a_file / "x.csv", "not a folder"),
        "a directory": (tmp_path, "is a directory"),
    }


@pytest.mark.parametrize("case", ["read-only folder", "a file as folder", "a directory"])
@pytest.mark.parametrize("command", [["export", "incidents"],
                                     ["audit", "pack", "--include", "incidents"]],
                         ids=["export", "audit pack"])
def test_an_unwritable_out_is_a_message_and_exit_2(filled, tmp_path, read_only_dir, case,
                                                   command):
    db = str(filled.path)
    before = audit_count(filled)
    filled.close()
    out, message = _out_cases(tmp_path, read_only_dir)[case]
    def listing():
        return sorted(p.name for p in tmp_path.rglob("*") if ".duckdb" not in p.name)
    files = listing()
    code, text, err = run_cli("--db", db, *command, "--out", str(out))
    assert code == 2 and text == ""
    assert err.startswith("error: cannot write") or "is a directory" in err, err
    assert message in err and str(out) in err
    assert "Traceback" not in err and ".part" not in err
    assert listing() == files                              # no partial file
    s = make_store_reopen(db)
    try:
        assert audit_count(s) == before
    finally:
        s.close()


def test_a_write_that_fails_midway_leaves_nothing(filled, tmp_path, monkeypatch):
    """The disk fills up while the CSV is written: a message, no partial file, no entry."""
    import errno
    before = audit_count(filled)

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(exports, "write_csv", full)
    with pytest.raises(exports.ExportError, match="cannot write to --out .*x.csv: "
                                                  "no space left on device"):
        exports.export_file(filled, AUDITOR, "incidents", tmp_path / "x.csv")
    assert list(tmp_path.glob("*.csv*")) == [] and list(tmp_path.glob(".x.csv*")) == []
    assert audit_count(filled) == before

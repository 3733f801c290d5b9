"""Evidence files (issue 18): attach by content type, refuse hostile files, the role matrix,
withdrawal as a new event, downloads by those who may read the record, the audit entries,
and audit packs that carry the files and verify with ``sha256sum -c``."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import ADMIN, AUDITOR, DPO, MANAGER, SYSTEM, make_store
from dashboard import audit, engine, evidence as ev, evidence_types as et, exports
from dashboard.access import PermissionDenied
from dashboard.settings import Settings


# -- files built in the test -----------------------------------------------------------------

def pdf_bytes(text: str = "evidence") -> bytes:
    body = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
            b"% " + text.encode() + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    return body


def image_bytes(fmt: str, color=(200, 30, 30)) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(buf, fmt)
    return buf.getvalue()


def docx_bytes(text: str = "Processor assessment") -> bytes:
    import docx
    d = docx.Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def xlsx_bytes() -> bytes:
    import openpyxl
    wb = openpyxl.Workbook()
    wb.active["A1"] = "audit"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rezip(data: bytes, *, add: dict[str, bytes] | None = None,
          replace: dict[str, bytes] | None = None, deflate: bool = True) -> bytes:
    """A copy of the ZIP ``data`` with parts added or replaced."""
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", method) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, (replace or {}).get(info.filename,
                                                             src.read(info.filename)))
        for name, content in (add or {}).items():
            dst.writestr(name, content)
    return out.getvalue()


def macro_docx() -> bytes:
    raw = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        types = zf.read("[Content_Types].xml").decode()
    types = types.replace(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "application/vnd.ms-word.document.macroEnabled.main+xml")
    return rezip(raw, replace={"[Content_Types].xml": types.encode()},
                 add={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64})


def macro_type_only_docx() -> bytes:
    """Macro-enabled content type, no vbaProject.bin part (renamed .docm)."""
    raw = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        types = zf.read("[Content_Types].xml").decode()
    return rezip(raw, replace={"[Content_Types].xml": types.replace(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "application/vnd.ms-word.document.macroEnabled.main+xml").encode()})


def zip_bomb() -> bytes:
    """A Word document with one part of 8 MB of zeros (deflates about a thousand times)."""
    return rezip(docx_bytes(), add={"word/media/image1.bin": b"\0" * (8 << 20)})


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("contract.pdf", pdf_bytes())
    return out.getvalue()


GOOD = {
    "scan.pdf": (pdf_bytes, "application/pdf"),
    "photo.png": (lambda: image_bytes("PNG"), "image/png"),
    "photo.jpg": (lambda: image_bytes("JPEG"), "image/jpeg"),
    "anim.gif": (lambda: image_bytes("GIF"), "image/gif"),
    "shot.webp": (lambda: image_bytes("WEBP"), "image/webp"),
    "fax.tiff": (lambda: image_bytes("TIFF"), "image/tiff"),
    "assessment.docx": (docx_bytes, et.TYPES["docx"].media_type),
    "register.xlsx": (xlsx_bytes, et.TYPES["xlsx"].media_type),
}

# name, content, words the refusal must contain
HOSTILE = [
    ("invoice.pdf", lambda: b"MZ\x90\x00\x03" + b"\0" * 200, "Windows program"),
    ("tool.pdf", lambda: b"\x7fELF\x02\x01\x01" + b"\0" * 200, "Linux program"),
    ("macho.png", lambda: b"\xcf\xfa\xed\xfe" + b"\0" * 64, "macOS program"),
    ("bundle.zip", plain_zip, "ZIP archive"),
    ("bundle.docx", plain_zip, "ZIP archive"),
    ("files.7z", lambda: b"7z\xbc\xaf\x27\x1c" + b"\0" * 64, "7-Zip archive"),
    ("files.rar", lambda: b"Rar!\x1a\x07\x01\x00" + b"\0" * 64, "RAR archive"),
    ("log.pdf", lambda: gzip.compress(b"hello" * 100), "gzip archive"),
    ("run.pdf", lambda: b"#!/bin/sh\nrm -rf /\n", "script"),
    ("page.pdf", lambda: b"<!DOCTYPE html><html><script>alert(1)</script></html>", "HTML"),
    ("logo.png", lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
                         b'<script>alert(1)</script></svg>', "SVG"),
    ("logo.svg", lambda: b"  <svg onload=alert(1)>", "SVG"),
    ("report.docx", macro_docx, "macros"),
    ("report2.docx", macro_type_only_docx, "macros"),
    ("big.docx", zip_bomb, "ZIP bomb"),
    ("old.doc", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, "legacy Office"),
    ("notes.pdf", lambda: b"just some words\n", "plain text"),
    ("cut.pdf", lambda: b"%PDF-1.7\n1 0 obj<<>>endobj\n", "incomplete PDF"),
    ("damaged.png", lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "damaged or invalid PNG"),
    ("scan.pdf", lambda: image_bytes("PNG"), "(PDF document)"),     # renamed PNG
    ("contract.exe", pdf_bytes, "(.exe)"),                          # renamed PDF
    ("sheet.xlsx", docx_bytes, "(Excel workbook"),
]


@pytest.fixture(autouse=True)
def no_demo_files(request):
    """These tests count and number the files they attach: they start from the demo store
    without its own evidence files (tests/test_demo.py checks those), removed by an audited
    write so that ``audit verify`` still holds."""
    if "demo_db" not in request.fixturenames:
        return
    from dashboard.store import Store
    s = Store(request.getfixturevalue("demo_db"), settings=Settings())
    try:
        with s.write(SYSTEM, "store.admin") as w:
            w.execute("DELETE FROM evidence_events")
            w.execute("DELETE FROM evidence_blobs")
            w.audit("test.clear_evidence", "store", None)
    finally:
        s.close()


def counts(store) -> tuple[int, int, int]:
    return (store.scalar("SELECT count(*) FROM evidence_events"),
            store.scalar("SELECT count(*) FROM evidence_blobs"),
            store.scalar("SELECT max(seq) FROM audit_log"))


@pytest.fixture
def ids(demo_store):
    s = demo_store
    found = engine.findings_page(s, engine.current_as_of(s), limit=1)
    return {
        "processor": s.scalar("SELECT min(processor_id) FROM processors"),
        "sharing_agreement": s.scalar("SELECT min(agreement_id) FROM sharing_agreements"),
        "incident": s.scalar("SELECT min(incident_id) FROM incidents"),
        "rights_request": s.scalar("SELECT min(request_id) FROM rights_requests"),
        "finding": ev.finding_key(found["rule_id"].iloc[0], found["entity_id"].iloc[0]),
    }


# -- attach: good files ----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(GOOD))
def test_each_allowed_type_is_attached_by_its_content(demo_store, ids, name):
    make, media = GOOD[name]
    data = make()
    row = ev.attach(demo_store, DPO, "processor", ids["processor"], name, data, "signed copy")
    assert row["media_type"] == media and row["file_name"] == name
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["size"] == len(data)
    assert ev.blob(demo_store, row["sha256"]) == data
    entry = demo_store.rows("SELECT action, entity_type, entity_id, values_after FROM audit_log "
                            "ORDER BY seq DESC LIMIT 1")[0]
    assert entry[:3] == ("evidence.attach", "processor", ids["processor"])
    assert json.loads(entry[3]) == {"sha256": row["sha256"], "file_name": name,
                                    "size": len(data), "media_type": media,
                                    "event_id": row["event_id"], "description": "signed copy"}


def test_a_name_without_the_types_extension_gets_it(demo_store, ids):
    row = ev.attach(demo_store, DPO, "processor", ids["processor"], "C:\\scans\\contract v2",
                    pdf_bytes())
    assert row["file_name"] == "contract v2.pdf"          # no folder; the detected type named
    row = ev.attach(demo_store, DPO, "processor", ids["processor"], "minutes.final",
                    docx_bytes())
    assert row["file_name"] == "minutes.final.docx"


# -- attach: refused -------------------------------------------------------------------------

@pytest.mark.parametrize("name,make,words", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_are_refused_and_nothing_is_written(demo_store, ids, name, make, words):
    before = counts(demo_store)
    with pytest.raises(ev.EvidenceError) as caught:
        ev.attach(demo_store, DPO, "incident", ids["incident"], name, make())
    assert set(caught.value.errors) == {"file"}
    message = caught.value.errors["file"]
    assert words in message and name in message, message
    assert counts(demo_store) == before


def test_empty_and_oversized_files_are_refused(tmp_path):
    from dashboard import demo
    import datetime as dt
    s = make_store(tmp_path / "s.duckdb", settings=Settings({"evidence_max_mb": 1}))
    demo.seed(s, SYSTEM, scale="demo", as_of=dt.date(2026, 11, 24))
    inc = s.scalar("SELECT min(incident_id) FROM incidents")
    before = counts(s)
    with pytest.raises(ev.EvidenceError, match="empty"):
        ev.attach(s, MANAGER, "incident", inc, "empty.pdf", b"")
    big = b"%PDF-1.4\n" + b"0" * (1 << 20) + b"\n%%EOF\n"
    with pytest.raises(ev.EvidenceError) as caught:
        ev.attach(s, MANAGER, "incident", inc, "big.pdf", big)
    assert "at most 1 MB" in str(caught.value) and "evidence_max_mb" in str(caught.value)
    assert counts(s) == before
    s.close()


def test_bad_record_and_description_are_refused(demo_store, ids):
    before = counts(demo_store)
    with pytest.raises(ev.EvidenceError) as caught:
        ev.attach(demo_store, DPO, "processor", "P-NOPE", "a.pdf", pdf_bytes())
    assert "record" in caught.value.errors
    with pytest.raises(ev.EvidenceError) as caught:
        ev.attach(demo_store, DPO, "finding", "NOPE:P-1", "a.pdf", pdf_bytes())
    assert "record" in caught.value.errors
    with pytest.raises(ev.EvidenceError) as caught:
        ev.attach(demo_store, DPO, "retention_record", "R-1", "a.pdf", pdf_bytes())
    assert "record" in caught.value.errors
    with pytest.raises(ev.EvidenceError) as caught:
        ev.attach(demo_store, DPO, "incident", ids["incident"], "a.exe", b"MZ" + b"\0" * 99,
                  description="x" * 2001)
    assert set(caught.value.errors) == {"file", "description"}
    assert counts(demo_store) == before


# -- the role matrix ---------------------------------------------------------------------------

ATTACH_ROLES = {"processor": {"dpo"}, "sharing_agreement": {"dpo"}, "finding": {"dpo"},
                "incident": {"dpo", "manager"}, "rights_request": {"dpo", "manager"}}
READ_ROLES = {"processor": {"dpo", "manager", "auditor", "admin"},
              "sharing_agreement": {"dpo", "manager", "auditor", "admin"},
              "finding": {"dpo", "manager", "auditor", "admin"},
              "incident": {"dpo", "manager", "auditor", "admin"},
              "rights_request": {"dpo", "manager", "auditor"}}


@pytest.mark.parametrize("entity_type", list(ATTACH_ROLES))
def test_role_matrix_attach_withdraw_download(demo_store, ids, entity_type):
    record = ids[entity_type]
    attached = []
    for actor in (DPO, MANAGER, AUDITOR, ADMIN):
        before = counts(demo_store)
        data = pdf_bytes(f"{entity_type} {actor.role}")
        assert ev.may_attach(actor, entity_type) == (actor.role in ATTACH_ROLES[entity_type])
        if actor.role in ATTACH_ROLES[entity_type]:
            attached.append(ev.attach(demo_store, actor, entity_type, record, "a.pdf", data))
        else:
            with pytest.raises(PermissionDenied):
                ev.attach(demo_store, actor, entity_type, record, "a.pdf", data)
            assert counts(demo_store) == before
    assert {r["role"] for r in ev.list_for(demo_store, entity_type, record)} \
        == ATTACH_ROLES[entity_type]
    target = attached[0]
    for actor in (AUDITOR, ADMIN, MANAGER):
        if actor.role not in ATTACH_ROLES[entity_type]:
            with pytest.raises(PermissionDenied):
                ev.withdraw(demo_store, actor, target["event_id"], "not mine")
    for actor in (DPO, MANAGER, AUDITOR, ADMIN):
        if actor.role in READ_ROLES[entity_type]:
            assert ev.content(demo_store, actor, target["event_id"]) == ev.blob(
                demo_store, target["sha256"])
            assert ev.content(demo_store, actor, target["sha256"]) == ev.blob(
                demo_store, target["sha256"])
        else:
            with pytest.raises(PermissionDenied):
                ev.content(demo_store, actor, target["event_id"])
            with pytest.raises(PermissionDenied):
                ev.content(demo_store, actor, target["sha256"])


# -- withdrawal, deduplication, the audit ------------------------------------------------------

def test_withdrawal_is_a_new_event_and_the_file_stays(demo_store, ids):
    inc = ids["incident"]
    first = ev.attach(demo_store, MANAGER, "incident", inc, "call log.pdf", pdf_bytes("a"))
    again = ev.attach(demo_store, MANAGER, "incident", inc, "copy.pdf", pdf_bytes("a"))
    assert again["sha256"] == first["sha256"]
    assert demo_store.scalar("SELECT count(*) FROM evidence_blobs") == 1     # stored once
    before = counts(demo_store)
    with pytest.raises(ev.EvidenceError) as caught:
        ev.withdraw(demo_store, MANAGER, first["event_id"], "  ")
    assert set(caught.value.errors) == {"reason"}
    assert counts(demo_store) == before
    done = ev.withdraw(demo_store, MANAGER, first["event_id"], "wrong incident")
    assert done["withdrawn"] and done["withdraw_reason"] == "wrong incident"
    assert done["withdrawn_by"] == MANAGER.name
    assert demo_store.rows("SELECT event, withdraws, reason FROM evidence_events "
                           "ORDER BY event_id") == [("attach", None, None),
                                                    ("attach", None, None),
                                                    ("withdraw", first["event_id"],
                                                     "wrong incident")]
    assert ev.blob(demo_store, first["sha256"]) == pdf_bytes("a")            # the file stays
    listed = ev.list_for(demo_store, "incident", inc)
    assert [r["event_id"] for r in listed] == [again["event_id"], first["event_id"]]
    assert [r["event_id"] for r in ev.list_for(demo_store, "incident", inc,
                                               include_withdrawn=False)] == [again["event_id"]]
    entry = demo_store.rows("SELECT action, entity_type, entity_id, values_before, "
                            "values_after FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    assert entry[:3] == ("evidence.withdraw", "incident", inc)
    assert json.loads(entry[3])["event_id"] == first["event_id"]
    after = json.loads(entry[4])
    assert after["withdraws"] == first["event_id"] and after["reason"] == "wrong incident"
    assert after["sha256"] == first["sha256"]
    with pytest.raises(ev.EvidenceError, match="withdrawn already"):
        ev.withdraw(demo_store, MANAGER, first["event_id"], "again")
    with pytest.raises(ev.EvidenceError, match="no attached evidence file"):
        ev.withdraw(demo_store, MANAGER, 999, "no such")
    result = audit.verify(demo_store)
    assert result.ok, result.problems


def test_an_attach_adds_to_the_blobs_digest_without_rereading_the_blobs(demo_store, ids,
                                                                       monkeypatch):
    """The write path's appended digests: the tables are append-only, so an attach declares
    its new rows (Writer.appended_rows) and the audit adds their sums to the last audited
    state instead of rehashing every stored file (audit.table_digest)."""
    ev.attach(demo_store, DPO, "processor", ids["processor"], "a.pdf", pdf_bytes("1"))
    digested = []
    real = audit.table_digest
    monkeypatch.setattr(audit, "table_digest",
                        lambda cur, table, secret: digested.append(table) or real(cur, table,
                                                                                   secret))
    ev.attach(demo_store, DPO, "processor", ids["processor"], "b.pdf", pdf_bytes("2"))
    ev.withdraw(demo_store, DPO, 1, "superseded")
    assert "evidence_blobs" not in digested and "evidence_events" not in digested
    monkeypatch.setattr(audit, "table_digest", real)
    result = audit.verify(demo_store)                # the added sums equal a full rehash
    assert result.ok, result.problems
    states = json.loads(demo_store.scalar(
        "SELECT digests FROM audit_log WHERE action = 'evidence.attach' ORDER BY seq DESC "
        "LIMIT 1"))
    assert states["evidence_blobs"]["rows"] == 2 and states["evidence_events"]["rows"] == 2


def test_evidence_writes_keep_the_checks_evaluation(demo_store, ids):
    before = demo_store.input_version
    row = ev.attach(demo_store, DPO, "processor", ids["processor"], "a.pdf", pdf_bytes())
    ev.withdraw(demo_store, DPO, row["event_id"], "test")
    assert demo_store.input_version == before


def test_a_finding_is_keyed_by_rule_and_entity(demo_store, ids):
    row = ev.attach(demo_store, DPO, "finding", ids["finding"], "fix.pdf", pdf_bytes())
    rule_id, _, entity_id = ids["finding"].partition(":")
    assert row["entity_id"] == f"{rule_id}:{entity_id}"
    entry = demo_store.rows("SELECT entity_type, entity_id FROM audit_log "
                            "ORDER BY seq DESC LIMIT 1")[0]
    assert entry == ("finding", ids["finding"])


# -- audit packs -------------------------------------------------------------------------------

def test_the_audit_pack_carries_the_evidence_of_the_records_it_covers(demo_store, ids,
                                                                      tmp_path):
    s = demo_store
    status = s.scalar("SELECT status FROM processors WHERE processor_id = ?",
                      [ids["processor"]])
    other = s.scalar("SELECT min(processor_id) FROM processors WHERE status <> ?", [status])
    covered = ev.attach(s, DPO, "processor", ids["processor"], "DPA 合同 (signed).pdf",
                        pdf_bytes("dpa"))
    outside = ev.attach(s, DPO, "processor", other, "other.pdf", pdf_bytes("other"))
    rule_id = ids["finding"].split(":")[0]
    finding = ev.attach(s, DPO, "finding", ids["finding"], "fix.png", image_bytes("PNG"))
    kept = ev.attach(s, MANAGER, "incident", ids["incident"], "notice.docx", docx_bytes())
    gone = ev.attach(s, MANAGER, "incident", ids["incident"], "draft.xlsx", xlsx_bytes())
    ev.withdraw(s, MANAGER, gone["event_id"], "superseded by the notice")

    out = tmp_path / "pack.zip"
    result = exports.build_pack(s, AUDITOR, [
        ("processors", {"status": [status]}),
        ("findings", {"rule_id": [rule_id]}),
        ("incident_events", {"incident_id": [ids["incident"]]}),
    ], out)
    listed = {e["sha256"]: e for e in result.manifest["evidence"]}
    assert set(listed) == {covered["sha256"], finding["sha256"], kept["sha256"],
                           gone["sha256"]}
    assert outside["sha256"] not in listed
    assert listed[gone["sha256"]]["withdrawn"] and not listed[kept["sha256"]]["withdrawn"]
    member = listed[covered["sha256"]]["name"]
    assert member == (f"evidence/processor/{ids['processor']}/{covered['sha256']}-"
                      "DPA_signed_.pdf")
    assert listed[finding["sha256"]]["name"].startswith(
        "evidence/finding/" + ids["finding"].replace(":", "_") + "/")

    # sha256sum -c passes on the unzipped pack
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(folder)
        manifest_csv = zf.read(exports.EVIDENCE_MANIFEST).decode("utf-8-sig")
    run = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    for e in listed.values():
        assert f"{e['name']}: OK" in run.stdout
    assert f"{exports.EVIDENCE_MANIFEST}: OK" in run.stdout
    assert (folder / member).read_bytes() == pdf_bytes("dpa")

    # the manifest CSV: one row per attach, the withdrawn one marked, the name as uploaded
    lines = manifest_csv.strip().splitlines()
    assert lines[0].split(",")[:6] == ["entity_type", "entity_id", "event_id", "file_name",
                                       "sha256", "size"]
    assert len(lines) == 1 + 4
    assert any("DPA 合同 (signed).pdf" in line for line in lines)
    withdrawn_line = next(line for line in lines if gone["sha256"] in line)
    assert "superseded by the notice" in withdrawn_line and ",true," in withdrawn_line

    check = exports.check_pack(out)
    assert check.ok, check.lines
    entry = json.loads(s.scalar("SELECT values_after FROM audit_log WHERE action = "
                                "'export.pack' ORDER BY seq DESC LIMIT 1"))
    assert {e["sha256"] for e in entry["evidence"]} == set(listed)

    # a file changed inside the pack: check_pack and sha256sum both say so
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == member:
                data = data.replace(b"dpa", b"dpb")
            dst.writestr(info, data)
    check = exports.check_pack(bad)
    assert not check.ok
    assert any(line.startswith("MISMATCH") and member in line for line in check.lines)


@pytest.mark.parametrize("selection", [("retention_records", None),
                                       ("processors", {"from": "2099-01-01"}),
                                       ("incidents", None)])
def test_a_pack_covering_no_file_has_no_evidence_folder(demo_store, ids, tmp_path, selection):
    ev.attach(demo_store, DPO, "processor", ids["processor"], "a.pdf", pdf_bytes())
    result = exports.build_pack(demo_store, AUDITOR, [selection], tmp_path / "p.zip")
    assert result.manifest["evidence"] == []
    assert "evidence_manifest" not in result.manifest
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert not [n for n in zf.namelist() if n.startswith("evidence/")]


# -- the pages (AppTest) -----------------------------------------------------------------------

def _section_keys(entity_type: str, entity_id: str) -> str:
    from dashboard.ui_evidence import _prefix
    return _prefix(entity_type, entity_id)


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [t.value for t in at.text] + [e.value for e in at.error]
    parts += [w.value for w in at.warning] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def test_a_manager_attaches_and_withdraws_on_the_incident_page(demo_db, monkeypatch):
    from conftest import app_test
    from dashboard.store import Store
    with Store(demo_db, settings=Settings(), clock=lambda: __import__("conftest").FROZEN_NOW) \
            as s:
        inc = s.scalar("SELECT min(incident_id) FROM incidents")
    prefix = _section_keys("incident", inc)
    at = app_test(demo_db, MANAGER, monkeypatch, page="incident", query={"id": inc})
    assert not at.exception, at.exception
    assert "Evidence files" in [h.value for h in at.subheader]
    assert "No evidence file is attached to this record." in [i.value for i in at.info]

    # a program named .pdf: refused under the file field, nothing written
    at.file_uploader(key=f"{prefix}file_0").upload("invoice.pdf", b"MZ" + b"\0" * 300,
                                                    "application/pdf")
    at.button(key=f"{prefix}attach_0").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("Windows program" in e and "invoice.pdf" in e for e in errors), errors
    with Store(demo_db, settings=Settings()) as s:
        assert s.scalar("SELECT count(*) FROM evidence_events") == 0

    # a real PDF with a description: attached, listed with its hash and a download
    data = pdf_bytes("call log")
    at.file_uploader(key=f"{prefix}file_0").clear().upload("call log.pdf", data,
                                                            "application/pdf")
    at.text_area(key=f"{prefix}description_0").input("The call with the regulator")
    at.button(key=f"{prefix}attach_0").click().run()
    assert not at.exception, at.exception
    sha = hashlib.sha256(data).hexdigest()
    shown = _texts(at)
    assert sha in shown and "call log.pdf" in shown and "The call with the regulator" in shown
    assert "PDF document" in shown and "manager.wang" in shown
    assert not [e.value for e in at.error]
    downloads = [b for b in at.get("download_button") if b.key == f"{prefix}download_1"]
    assert len(downloads) == 1
    with Store(demo_db, settings=Settings()) as s:
        assert s.rows("SELECT event, file_name, sha256, actor FROM evidence_events") == [
            ("attach", "call log.pdf", sha, MANAGER.name)]
        assert s.scalar("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1") \
            == "evidence.attach"

    # withdraw without a reason: refused; with one: marked withdrawn, still listed
    at.button(key=f"{prefix}withdraw_1").click().run()
    assert any("reason is empty" in e.value for e in at.error)
    at.text_input(key=f"{prefix}reason_1").input("Wrong incident")
    at.button(key=f"{prefix}withdraw_1").click().run()
    assert not at.exception, at.exception
    shown = _texts(at)
    assert "Withdrawn on" in shown and "Wrong incident" in shown and "call log.pdf" in shown
    with Store(demo_db, settings=Settings()) as s:
        assert [r[0] for r in s.rows("SELECT event FROM evidence_events ORDER BY event_id")] \
            == ["attach", "withdraw"]


@pytest.mark.parametrize("page,entity_type,actor,may_attach", [
    ("incident", "incident", AUDITOR, False),
    ("incident", "incident", ADMIN, False),
    ("request", "rights_request", AUDITOR, False),
    ("request", "rights_request", DPO, True),
])
def test_the_sections_form_follows_the_role(demo_db, monkeypatch, page, entity_type, actor,
                                            may_attach):
    from conftest import FROZEN_NOW, app_test
    from dashboard.store import Store
    table, column = ev.RECORD_TABLE[entity_type]
    with Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW) as s:
        record = s.scalar(f"SELECT min({column}) FROM {table}")
        ev.attach(s, DPO, entity_type, record, "a.png", image_bytes("PNG"))
    prefix = _section_keys(entity_type, record)
    at = app_test(demo_db, actor, monkeypatch, page=page, query={"id": record})
    assert not at.exception, at.exception
    assert "a.png" in _texts(at)
    assert [b.key for b in at.get("download_button") if b.key.startswith(prefix)] \
        == [f"{prefix}download_1"]                           # every reader downloads
    assert bool(at.get("file_uploader")) == may_attach
    assert bool([b for b in at.button if b.key == f"{prefix}withdraw_1"]) == may_attach


def test_the_findings_page_has_an_evidence_tab_for_the_selected_finding(demo_db, monkeypatch):
    from conftest import FROZEN_NOW, app_test
    from dashboard.store import Store
    with Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW) as s:
        found = engine.findings_page(s, engine.current_as_of(s), limit=1)
        key = ev.finding_key(found["rule_id"].iloc[0], found["entity_id"].iloc[0])
        ev.attach(s, DPO, "finding", key, "fixed.pdf", pdf_bytes("fixed"))
    prefix = _section_keys("finding", key)
    at = app_test(demo_db, DPO, monkeypatch, page="findings", query={"finding": key})
    assert not at.exception, at.exception
    assert "Evidence files" in [t.label for t in at.tabs]
    assert "fixed.pdf" in _texts(at)
    assert at.file_uploader(key=f"{prefix}file_0") is not None
    at = app_test(demo_db, AUDITOR, monkeypatch, page="findings", query={"finding": key})
    assert not at.exception, at.exception
    assert "fixed.pdf" in _texts(at) and not at.get("file_uploader")


def test_a_hostile_file_name_and_description_show_as_plain_text(demo_db, monkeypatch):
    from conftest import FROZEN_NOW, app_test
    from dashboard.store import Store
    name = "**bold** [link](http://x) <img src=x onerror=alert(1)>.pdf"
    with Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW) as s:
        inc = s.scalar("SELECT min(incident_id) FROM incidents")
        row = ev.attach(s, MANAGER, "incident", inc, name, pdf_bytes(), "_x_ <b>y</b>")
        ev.withdraw(s, MANAGER, row["event_id"], "*because* <script>")
    at = app_test(demo_db, AUDITOR, monkeypatch, page="incident", query={"id": inc})
    assert not at.exception, at.exception
    texts = [t.value for t in at.text]
    assert "img src=x onerror=alert(1)>.pdf" in row["file_name"]
    assert row["file_name"] in texts and "_x_ <b>y</b>" in texts
    warning = next(w.value for w in at.warning if "Withdrawn on" in w.value)
    assert "\\*because\\*" in warning and "\\<script\\>" in warning


def test_the_size_limit_is_a_setting_changed_in_the_app(demo_store, ids):
    from dashboard import settings_store
    from dashboard.settings import SPEC_BY_NAME, SettingsError
    spec = SPEC_BY_NAME["evidence_max_mb"]
    assert spec.default == 25 and (spec.minimum, spec.maximum) == (1, 200)
    assert spec.confidence == "P" and "not a legal one" in spec.source
    with pytest.raises((SettingsError, ValueError)):
        settings_store.set_value(demo_store, ADMIN, "evidence_max_mb", 0)
    settings_store.set_value(demo_store, ADMIN, "evidence_max_mb", 1)
    assert demo_store.settings.evidence_max_mb == 1
    big = b"%PDF-1.4\n" + b"0" * (1 << 20) + b"\n%%EOF\n"
    with pytest.raises(ev.EvidenceError, match="at most 1 MB"):
        ev.attach(demo_store, DPO, "processor", ids["processor"], "big.pdf", big)
    settings_store.set_value(demo_store, ADMIN, "evidence_max_mb", 2)
    assert ev.attach(demo_store, DPO, "processor", ids["processor"], "big.pdf",
                     big)["size"] == len(big)


def test_the_section_in_chinese_shows_words_not_codes(demo_db, monkeypatch):
    from conftest import FROZEN_NOW, app_test
    from dashboard.store import Store
    with Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW) as s:
        request = s.scalar("SELECT min(request_id) FROM rights_requests")
        row = ev.attach(s, MANAGER, "rights_request", request, "身份证明.pdf", pdf_bytes())
        ev.withdraw(s, MANAGER, row["event_id"], "重复上传")
    at = app_test(demo_db, MANAGER, monkeypatch, page="request", query={"id": request},
                  locale="zh_CN")
    assert not at.exception, at.exception
    assert "证据文件" in [h.value for h in at.subheader]
    shown = _texts(at)
    assert "PDF 文档" in shown and "由 manager.wang（经理） 于 2026年11月24日" in shown
    assert "已于 2026年11月24日" in shown and "重复上传" in shown
    for code in ("application/pdf", "rights_request", "manager)", "evidence.attach"):
        assert code not in shown, code
    assert "附加文件" in shown and "撤回" not in [b.label for b in at.button]   # withdrawn

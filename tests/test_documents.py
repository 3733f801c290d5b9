"""Incident documents (dashboard/documents.py): every required item present as a heading,
holding the stored fact or the explicit "to be completed" marker, in Chinese and in
English; the audited, never-overwritten storage; determinism; roles; the audit pack."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import docx
import pytest

from conftest import ADMIN, AUDITOR, DPO, MANAGER, SYSTEM
from dashboard import audit, documents as docs, exports, i18n
from dashboard.access import PermissionDenied

FULL = "INC-2026-0007"        # relatively major data leak, closed: every step recorded
SPARSE = "INC-2026-0037"      # relatively major, open: no root cause, not contained
RANSOM = "INC-2025-0015"      # relatively major ransomware, closed
MARKER = {"zh_CN": docs.TEXTS["missing"][0], "en": docs.TEXTS["missing"][1]}


def _open(content: bytes):
    return docx.Document(io.BytesIO(content))


def _sections(document) -> tuple[list[str], dict[str, list[str]]]:
    """(header table lines, {Heading 1 text: the paragraphs under it})."""
    header = [" | ".join(c.text for c in row.cells) for t in document.tables for row in t.rows]
    out: dict[str, list[str]] = {}
    current = None
    for p in document.paragraphs:
        if p.style.name == "Heading 1":
            current = p.text
            out[current] = []
        elif current is not None:
            out[current].append(p.text)
    return header, out


def _heading(n: int, kind: str, key: str, locale: str) -> str:
    return docs._ordinal(n, locale) + docs.text(f"item.{key}", locale)


def _check_items(doc: docs.Document, ransomware: bool = False) -> dict[str, list[str]]:
    """Every required item is a heading, in order; each field line holds a value or the
    marker, and the marker appears exactly where ``doc.items`` says a fact is missing."""
    document = _open(doc.content)
    _header, sections = _sections(document)
    keys = docs.required_items(doc.kind, ransomware=ransomware)
    expected = [_heading(n, doc.kind, key, doc.locale) for n, key in enumerate(keys, 1)]
    assert list(sections) == expected
    assert [i.key for i in doc.items] == list(keys)
    marker = MARKER[doc.locale]
    sep = docs.text("sep", doc.locale)
    by_key = {}
    for item, heading in zip(doc.items, expected):
        lines = sections[heading]
        assert lines, heading
        by_key[item.key] = lines
        missing_labels = {docs.text(f"f.{f}", doc.locale) for f in item.missing}
        for label in missing_labels:
            assert label + sep + marker in lines, (heading, label, lines)
        marked = [line for line in lines if marker in line]
        assert bool(marked) == (not item.present), (heading, lines)
        assert len(marked) == len(item.missing), (heading, lines, item.missing)
    return by_key


def _text(doc: docs.Document) -> str:
    document = _open(doc.content)
    header, sections = _sections(document)
    parts = [document.paragraphs[0].text, *header]
    for heading, lines in sections.items():
        parts += [heading, *lines]
    return "\n".join(parts)


@pytest.mark.parametrize("kind", docs.KINDS)
def test_each_kind_in_both_languages_holds_the_facts_or_the_marker(demo_store, kind):
    for incident in (FULL, SPARSE):
        for locale in ("zh_CN", "en"):
            doc = docs.generate(demo_store, MANAGER, incident, kind, locale=locale)
            assert doc.file_name == f"{incident}_{kind}_{locale}.docx"
            by_key = _check_items(doc)
            text = _text(doc)
            document = _open(doc.content)
            title = document.paragraphs[0].text
            zh = locale == "zh_CN"
            # the header: the unit (no setting, no catalog entry: marked), id, time, by
            header, _ = _sections(document)
            unit_row = header[0]
            assert unit_row.endswith(MARKER[locale])
            assert f"{'事件编号' if zh else 'Incident ID'} | {incident}" in header
            assert ("2026年11月24日 10:00 北京时间" if zh else "24 Nov 2026 10:00 Beijing time") \
                in "\n".join(header)
            assert ("manager.wang（经理）" if zh else "manager.wang (Manager)") in "\n".join(header)
            footer = document.sections[0].footer.paragraphs[0].text
            assert "SHA-256" in footer and ("审计日志" if zh else "audit log") in footer
            assert title == (docs._title(kind, {"incident_type": "data_leak"}, locale))
            # the facts the store holds, in the document's language
            if kind in ("initial_report", "summary_report", "authority_notice",
                        "supplementary_report"):
                assert ("较大（III级）" if zh else "Relatively major (grade III)") in text
            if kind in ("initial_report", "summary_report", "authority_notice"):
                detected = {FULL: ("2026年4月8日 00:57 北京时间", "8 Apr 2026 00:57 Beijing time"),
                            SPARSE: ("2026年11月24日 08:00 北京时间",
                                     "24 Nov 2026 08:00 Beijing time")}[incident]
                assert detected[0 if zh else 1] in text
            if kind in ("initial_report", "summary_report", "authority_notice",
                        "supplementary_report"):
                count = {FULL: "12,500,000", SPARSE: "1,300,000"}[incident]
                assert count + (" 人" if zh else " people") in text
            if kind in ("individual_notice", "authority_notice"):
                assert ("身份证号（敏感个人信息）" if zh
                        else "ID card number (sensitive personal information)") in text
            # what the store does not hold is marked, never invented
            if incident == SPARSE and kind in ("initial_report",):
                assert MARKER[locale] in by_key["cause_preliminary"][0]
                assert not [i for i in doc.items if i.key == "cause_preliminary"][0].present
            if incident == FULL and kind == "summary_report":
                assert "Backup copied to an unprotected staging share" in \
                    "\n".join(by_key["cause"])
                assert MARKER[locale] in "\n".join(by_key["accountability"])
                assert MARKER[locale] in "\n".join(by_key["lessons"])
            if kind == "individual_notice":
                for key in ("possible_harm", "self_help", "contact"):
                    assert MARKER[locale] in "\n".join(by_key[key])
            # no enum code reaches the document
            for code in ("relatively_major", "data_leak", "id_card_number", "facial_biometrics",
                         "_report", "_notice"):
                assert code not in text.replace(doc.file_name, ""), code


def test_ransom_details_only_for_ransomware_and_marked_missing(demo_store):
    for locale in ("zh_CN", "en"):
        ransom = docs.generate(demo_store, MANAGER, RANSOM, "initial_report", locale=locale)
        by_key = _check_items(ransom, ransomware=True)
        assert len(by_key["ransom"]) == 3
        assert all(line.endswith(MARKER[locale]) for line in by_key["ransom"])
        assert not [i for i in ransom.items if i.key == "ransom"][0].present
        leak = docs.generate(demo_store, MANAGER, FULL, "initial_report", locale=locale)
        _check_items(leak, ransomware=False)
        heading = docs.text("item.ransom", locale)
        assert heading in _text(ransom)
        assert heading not in _text(leak)
        assert docs.text("f.ransom_amount", locale) not in _text(leak)


def test_supplementary_report_lists_the_steps_after_the_initial_report(demo_store):
    doc = docs.generate(demo_store, MANAGER, FULL, "supplementary_report", locale="en")
    by_key = _check_items(doc)
    initial = "\n".join(by_key["initial"])
    assert "8 Apr 2026 03:51 Beijing time" in initial       # the regulator report's time
    assert "皖网信事件〔2026〕0149号" in initial
    changes = "\n".join(by_key["changes"])
    assert "Reported to the police" in changes and "Closed" in changes
    assert "Emergency plan activated" not in changes           # before the initial report
    # No regulator report recorded: the first generated initial report is the baseline.
    first = docs.generate(demo_store, MANAGER, SPARSE, "supplementary_report", locale="zh_CN")
    assert not [i for i in first.items if i.key == "initial"][0].present
    assert "启动应急预案" in "\n".join(_check_items(first)["changes"])
    docs.generate(demo_store, MANAGER, SPARSE, "initial_report", locale="zh_CN")
    after = docs.generate(demo_store, MANAGER, SPARSE, "supplementary_report", locale="zh_CN")
    by_key = _check_items(after)
    assert "初始报告文件生成于2026年11月24日 10:00 北京时间" in "\n".join(by_key["initial"])
    assert by_key["changes"][0].endswith(MARKER["zh_CN"])     # nothing since


def test_generation_is_stored_audited_and_never_overwritten(demo_store):
    seq_before = demo_store.scalar("SELECT max(seq) FROM audit_log")
    first = docs.generate(demo_store, DPO, FULL, "initial_report", locale="zh_CN")
    entries = demo_store.rows("SELECT action, entity_type, entity_id, values_after, actor "
                              "FROM audit_log WHERE seq > ?", [seq_before])
    assert len(entries) == 1
    action, etype, eid, after, who = entries[0]
    after = json.loads(after)
    assert (action, etype, eid, who) == ("incident.document", "incident", FULL, "dpo.li")
    stored = demo_store.rows("SELECT content, sha256, size, audit_seq, generated_by, file_name "
                             "FROM incident_documents WHERE doc_id = ?", [first.doc_id])[0]
    downloaded = docs.document_bytes(demo_store, first.doc_id)
    assert after["sha256"] == hashlib.sha256(bytes(stored[0])).hexdigest() \
        == hashlib.sha256(downloaded).hexdigest() == first.sha256 == stored[1]
    assert after["size"] == first.size == stored[2] == len(downloaded)
    assert (after["kind"], after["locale"], after["file_name"]) == \
        ("initial_report", "zh_CN", "INC-2026-0007_initial_report_zh_CN.docx")
    assert stored[3] == first.audit_seq == seq_before + 1
    assert stored[4] == "dpo.li"
    # the same facts at the same (frozen) time: the same bytes, stored again as a new row
    second = docs.generate(demo_store, DPO, FULL, "initial_report", locale="zh_CN")
    assert second.sha256 == first.sha256 and second.content == first.content
    assert second.doc_id == first.doc_id + 1
    listed = docs.list_documents(demo_store, FULL)
    assert [d["doc_id"] for d in listed] == [second.doc_id, first.doc_id]
    assert listed[0]["missing"] and listed[0]["generated_role"] == "dpo"
    # the .docx's own times are the store clock's, not the wall clock's
    props = _open(first.content).core_properties
    assert props.created.isoformat().startswith("2026-11-24T02:00:00")
    assert props.modified == props.created
    with zipfile.ZipFile(io.BytesIO(first.content)) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2026, 11, 24, 10, 0, 0)}
    assert audit.verify(demo_store).ok
    # another language or kind is another document
    english = docs.generate(demo_store, DPO, FULL, "initial_report", locale="en")
    assert english.sha256 != first.sha256


@pytest.mark.parametrize("actor,allowed", [(MANAGER, True), (DPO, True), (SYSTEM, True),
                                           (AUDITOR, False), (ADMIN, False)])
def test_who_may_generate(demo_store, actor, allowed):
    seq = demo_store.scalar("SELECT max(seq) FROM audit_log")
    if allowed:
        doc = docs.generate(demo_store, actor, FULL, "individual_notice", locale="en")
        assert demo_store.scalar("SELECT count(*) FROM incident_documents") == 1
        assert demo_store.scalar("SELECT max(seq) FROM audit_log") == seq + 1
        assert docs.document_bytes(demo_store, doc.doc_id) == doc.content
        return
    with pytest.raises(PermissionDenied):
        docs.generate(demo_store, actor, FULL, "individual_notice", locale="en")
    assert demo_store.scalar("SELECT count(*) FROM incident_documents") == 0
    assert demo_store.scalar("SELECT max(seq) FROM audit_log") == seq


def test_every_role_may_download_what_was_generated(demo_store):
    doc = docs.generate(demo_store, MANAGER, FULL, "summary_report", locale="zh_CN")
    # reading needs no write permission: the functions take no actor, the page shows the
    # list and the download buttons to every role (tests/test_i18n_documents.py)
    assert docs.list_documents(demo_store, FULL)[0]["sha256"] == doc.sha256
    assert docs.document_bytes(demo_store, doc.doc_id) == doc.content
    assert docs.list_documents(demo_store, SPARSE) == []
    with pytest.raises(docs.DocumentError):
        docs.document_bytes(demo_store, 999)


def test_bad_requests_write_nothing(demo_store):
    seq = demo_store.scalar("SELECT max(seq) FROM audit_log")
    with pytest.raises(docs.DocumentError, match="Unknown document kind"):
        docs.generate(demo_store, MANAGER, FULL, "press_release")
    with pytest.raises(docs.DocumentError, match="Unknown language"):
        docs.generate(demo_store, MANAGER, FULL, "initial_report", locale="fr")
    with pytest.raises(docs.DocumentError, match="No incident"):
        docs.generate(demo_store, MANAGER, "INC-1999-0001", "initial_report")
    assert demo_store.scalar("SELECT max(seq) FROM audit_log") == seq
    assert demo_store.scalar("SELECT count(*) FROM incident_documents") == 0


def test_the_audit_pack_carries_the_documents_of_the_incidents_it_covers(demo_store, tmp_path):
    made = [docs.generate(demo_store, MANAGER, FULL, kind, locale=loc)
            for kind in ("initial_report", "individual_notice") for loc in ("zh_CN", "en")]
    other = docs.generate(demo_store, MANAGER, "INC-2026-0036", "initial_report", locale="en")
    out = tmp_path / "pack.zip"
    result = exports.build_pack(demo_store, AUDITOR,
                                [("incidents", {"grade": ["relatively_major"]}),
                                 ("processors", None)], out)
    listed = result.manifest["documents"]
    assert {d["sha256"] for d in listed} == {d.sha256 for d in made}   # not INC-2026-0036
    assert other.sha256 not in {d["sha256"] for d in listed}
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        sums = zf.read("SHA256SUMS").decode()
        for d in listed:
            assert d["name"].startswith(f"documents/{FULL}/")
            content = zf.read(d["name"])
            assert hashlib.sha256(content).hexdigest() == d["sha256"] == d["recorded_sha256"]
            assert f"{d['sha256']}  {d['name']}" in sums
            entry = json.loads(demo_store.scalar(
                "SELECT values_after FROM audit_log WHERE seq = ?", [d["audit_seq"]]))
            assert entry["sha256"] == d["sha256"]
    assert len([n for n in names if n.startswith("documents/")]) == len(made)
    check = exports.check_pack(out)
    assert check.ok, check.lines
    assert sum(1 for line in check.lines if line.startswith("OK") and "documents/" in line) \
        == len(made)
    pack_entry = json.loads(demo_store.scalar(
        "SELECT values_after FROM audit_log WHERE action = 'export.pack' ORDER BY seq DESC "
        "LIMIT 1"))
    assert {d["sha256"] for d in pack_entry["documents"]} == {d.sha256 for d in made}

    # the timelines dataset covers incidents too; a pack with neither carries no documents
    by_events = exports.build_pack(demo_store, AUDITOR,
                                   [("incident_events", {"incident_id": ["INC-2026-0036"]})],
                                   tmp_path / "events.zip")
    assert [d["sha256"] for d in by_events.manifest["documents"]] == [other.sha256]
    none = exports.build_pack(demo_store, AUDITOR, [("processors", None)],
                              tmp_path / "none.zip")
    assert none.manifest["documents"] == []

    # a document changed inside the pack is a mismatch
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == listed[0]["name"]:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(info, data)
    check = exports.check_pack(bad)
    assert not check.ok
    assert any(line.startswith("MISMATCH") and listed[0]["name"] in line
               for line in check.lines)


def test_validation_messages_follow_the_language():
    with i18n.using("zh_CN"):
        assert docs.kind_label("initial_report") == "初始报告（报网信部门）"
        with pytest.raises(docs.DocumentError, match="未知语言"):
            docs._normalize_locale("fr")
    assert docs.kind_label("initial_report") == "Initial report to the CAC"
    with pytest.raises(docs.DocumentError, match="Unknown language"):
        docs._normalize_locale("fr")

"""The register forms in the app (issue 18): a DPO adds and edits processors and sharing
agreements, offboards and ends them; bad input shows its error under the field and writes
nothing; managers and auditors see no form. AppTest on the demo store."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from conftest import AUDITOR, DPO, FROZEN_NOW, MANAGER, app_test
from dashboard import register_edit as E
from dashboard.settings import Settings
from dashboard.store import Store


@pytest.fixture
def db(demo_db):
    return demo_db


def _store(db) -> Store:
    return Store(db, settings=Settings(), clock=lambda: FROZEN_NOW)


def _read(db, fn):
    s = _store(db)
    try:
        return fn(s)
    finally:
        s.close()


def _seq(db) -> int:
    return _read(db, lambda s: s.scalar("SELECT max(seq) FROM audit_log"))


def _errors(at, prefix: str, field: str) -> list[str]:
    return [e.value for e in at.get_by_key(f"{prefix}field_{field}").error]


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def _submit(at, prefix: str):
    """Press the form's submit button and run the page again."""
    at.button(key=prefix + "submit").click()
    return _ok(at.run())


# -- add -------------------------------------------------------------------------------------
def test_dpo_adds_a_processor_through_the_form(db, monkeypatch):
    at = _ok(app_test(db, DPO, monkeypatch, page="processors"))
    p = "add_processors_0_"
    at.text_input(key=p + "processor_id").input("PRC-9100")
    at.text_input(key=p + "name").input("Acme Cloud")
    at.selectbox(key=p + "kind").select("supplier")
    at.selectbox(key=p + "status").select("active")
    at.multiselect(key=p + "data_categories").set_value(["phone"])
    at.multiselect(key=p + "agreement_terms").set_value(["purpose", "duration"])
    at.text_input(key=p + "storage_region").input("CN")
    at.get_by_key(p + "nda_signed_on").set_value(dt.date(2026, 11, 1))
    _submit(at, p)
    assert any("PRC-9100" in s.value for s in at.success)
    row = _read(db, lambda s: E.get_record(s, "processors", "PRC-9100"))
    assert row["name"] == "Acme Cloud" and row["kind"] == "supplier"
    assert row["data_categories"] == ["phone"] and row["storage_region"] == "CN"
    assert row["nda_signed_on"] == dt.date(2026, 11, 1) and row["engaged_on"] is None
    assert row["agreement_terms"] == ["purpose", "duration"]
    history = _read(db, lambda s: E.record_history(s, "processors", "PRC-9100"))
    assert set(history["action"]) == {"register.add"}
    assert set(history["actor"]) == {DPO.name}


def test_bad_input_in_the_add_form_shows_under_the_field_and_writes_nothing(db, monkeypatch):
    seq = _seq(db)
    at = _ok(app_test(db, DPO, monkeypatch, page="sharing"))
    p = "add_sharing_agreements_0_"
    at.text_input(key=p + "agreement_id").input("SHA-0002")          # exists
    at.selectbox(key=p + "kind").select("share")
    at.selectbox(key=p + "legal_basis").select("explicit_consent")
    at.selectbox(key=p + "status").select("active")
    at.text_input(key=p + "recipient_region").input("EU")
    at.text_input(key=p + "subjects_affected").input("many")
    _submit(at, p)
    assert "already exists" in _errors(at, p, "agreement_id")[0]
    assert _errors(at, p, "counterparty") == ["required value is empty"]
    assert _errors(at, p, "recipient_region")[0].startswith(
        "not an ISO 3166-1 alpha-2 region code")
    assert _errors(at, p, "subjects_affected") == ["not a whole number"]
    assert _errors(at, p, "kind") == [] and _errors(at, p, "status") == []
    assert "Nothing was saved" in at.error[-1].value
    assert _seq(db) == seq


# -- edit, offboard, end ---------------------------------------------------------------------------
def test_dpo_edits_the_nda_date_on_the_processor_page(db, monkeypatch):
    at = _ok(app_test(db, DPO, monkeypatch, page="processor", query={"id": "PRC-0027"}))
    p = "processor_PRC-0027_0_edit_"
    at.get_by_key(p + "nda_signed_on").set_value(dt.date(2026, 11, 20))
    _submit(at, p)
    assert any("NDA signed" in s.value for s in at.success)
    row = _read(db, lambda s: E.get_record(s, "processors", "PRC-0027"))
    assert row["nda_signed_on"] == dt.date(2026, 11, 20)
    assert row["confidentiality_signed_on"] == dt.date(2026, 4, 1)      # untouched
    history = _read(db, lambda s: E.record_history(s, "processors", "PRC-0027"))
    assert list(history["field"]) == ["nda_signed_on"]
    assert (history["before"][0], history["after"][0]) == (None, "2026-11-20")
    shown = at.dataframe[-1].value                                     # the page's history
    assert list(shown["field"]) == ["NDA signed"] and shown["after"][0] == "20 Nov 2026"


def test_a_date_is_cleared_with_no_date_and_saving_unchanged_writes_nothing(db, monkeypatch):
    at = _ok(app_test(db, DPO, monkeypatch, page="processor", query={"id": "PRC-0027"}))
    p = "processor_PRC-0027_0_edit_"
    seq = _seq(db)
    _submit(at, p)
    assert _seq(db) == seq
    assert any("Nothing changed" in s.value for s in at.success)
    at.checkbox(key=p + "confidentiality_signed_on__none").check()
    _submit(at, p)
    assert _read(db, lambda s: E.get_record(s, "processors", "PRC-0027")
                 )["confidentiality_signed_on"] is None
    assert _seq(db) == seq + 1


def test_bad_input_in_the_edit_form_shows_under_the_field(db, monkeypatch):
    seq = _seq(db)
    at = _ok(app_test(db, DPO, monkeypatch, page="agreement", query={"id": "SHA-0002"}))
    p = "agreement_SHA-0002_0_edit_"
    assert "Processor PRC-0038" in [link.label for link in at.get("page_link")]
    at.text_input(key=p + "counterparty").input("  ")
    at.text_input(key=p + "recipient_region").input("cn")
    _submit(at, p)
    assert "Processor PRC-0038" in [link.label for link in at.get("page_link")]
    assert _errors(at, p, "counterparty") == ["required value is empty"]
    assert 'did you mean "CN"' in _errors(at, p, "recipient_region")[0]
    assert _errors(at, p, "kind") == []
    assert _seq(db) == seq


def test_dpo_offboards_and_ends_with_a_confirmation(db, monkeypatch):
    at = _ok(app_test(db, DPO, monkeypatch, page="processor", query={"id": "PRC-0035"}))
    p = "processor_PRC-0035_0_act_"
    at.get_by_key(p + "offboarded_on").set_value(dt.date(2026, 11, 2))
    _submit(at, p)
    assert _errors(at, p, "confirm") == ["Tick the confirmation first."]
    assert _read(db, lambda s: E.get_record(s, "processors", "PRC-0035"))["status"] == "active"
    at.checkbox(key=p + "confirm").check()
    _submit(at, p)
    row = _read(db, lambda s: E.get_record(s, "processors", "PRC-0035"))
    assert (row["status"], row["offboarded_on"]) == ("offboarded", dt.date(2026, 11, 2))

    at = _ok(app_test(db, DPO, monkeypatch, page="agreement", query={"id": "SHA-0003"}))
    p = "agreement_SHA-0003_0_act_"
    at.checkbox(key=p + "confirm").check()
    _submit(at, p)
    assert _read(db, lambda s: E.get_record(s, "sharing_agreements", "SHA-0003")
                 )["status"] == "ended"
    assert "End this agreement" not in [e.label for e in at.expander]     # done once
    assert "Ended." in at.success[0].value


# -- other roles ------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [MANAGER, AUDITOR], ids=lambda a: a.role)
def test_other_roles_read_the_record_but_see_no_form(db, monkeypatch, actor):
    at = _ok(app_test(db, actor, monkeypatch, page="processor", query={"id": "PRC-0027"}))
    assert not at.get("form") and not at.text_input
    assert "PRC-0027" in at.title[0].value
    assert any("Only a data protection officer" in c.value for c in at.caption)
    at = _ok(app_test(db, actor, monkeypatch, page="processors"))
    assert not at.get("form")
    assert at.selectbox(key="open_processor")


def test_no_id_offers_a_picker_and_an_unknown_id_says_so(db, monkeypatch):
    at = _ok(app_test(db, DPO, monkeypatch, page="agreement"))
    assert at.selectbox(key="agreement_pick")
    at = _ok(app_test(db, DPO, monkeypatch, page="processor", query={"id": "PRC-X"}))
    assert "No processor **PRC-X**." in at.error[0].value


# -- text from users is plain ----------------------------------------------------------------------
def test_hostile_values_and_ids_show_plainly(db, monkeypatch):
    from test_plain_text import HOSTILE, assert_plain
    s = _store(db)
    E.add_record(s, DPO, "processors", {"processor_id": "PRC-[x](http://e.example)",
                                        "name": HOSTILE, "kind": "supplier",
                                        "status": "active", "owner": HOSTILE})
    E.edit_record(s, DPO, "processors", "PRC-[x](http://e.example)", {"service": HOSTILE})
    s.close()
    at = app_test(db, DPO, monkeypatch, page="processor",
                  query={"id": "PRC-[x](http://e.example)"})
    assert_plain(at)
    assert_plain(app_test(db, DPO, monkeypatch, page="agreement", query={"id": HOSTILE}))
    at = app_test(db, DPO, monkeypatch, page="processors")
    p = "add_processors_0_"
    at.text_input(key=p + "processor_id").input("PRC-[x](http://e.example)")
    assert_plain(_submit(at, p), shown="PRC-[x](http://e.example)")


def test_a_date_outside_the_pickers_usual_range_still_shows(db, monkeypatch):
    s = _store(db)
    E.edit_record(s, DPO, "processors", "PRC-0027", {"engaged_on": dt.date(1985, 3, 1),
                                                     "agreement_expires_on": "2199-01-01"})
    s.close()
    at = _ok(app_test(db, DPO, monkeypatch, page="processor", query={"id": "PRC-0027"}))
    assert at.get_by_key("processor_PRC-0027_0_edit_engaged_on").value == dt.date(1985, 3, 1)


@pytest.mark.parametrize("finding,page", [("PROC-CONFIDENTIALITY:PRC-0027", "processor"),
                                          ("SHARE-EXPIRED-ACTIVE:SHA-0003", "agreement")])
def test_a_finding_links_to_its_records_page(db, monkeypatch, finding, page):
    at = _ok(app_test(db, AUDITOR, monkeypatch, page="findings", query={"finding": finding}))
    link = next(x for x in at.get("page_link") if x.value.startswith("Open in"))
    entity = finding.split(":")[1]
    assert (link.proto.page, link.proto.query_string) == (page, f"id={entity}")


def test_a_records_history_names_its_evidence_file_in_words(db, monkeypatch):
    """An attach filed under the processor shows in its history as the file's name, type and
    hash in words: no field code, no media type."""
    from dashboard import evidence
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    row = _read(db, lambda s: evidence.attach(s, DPO, "processor", "PRC-0027",
                                              "nda signed.pdf", pdf))
    at = _ok(app_test(db, DPO, monkeypatch, page="processor", query={"id": "PRC-0027"}))
    history = at.dataframe[-1].value
    rows = history[history["action"] == "Evidence file attached"]
    assert dict(zip(rows["field"], rows["after"])) == {
        "Evidence file event": str(row["event_id"]), "File name": "nda signed.pdf",
        "File type": "PDF document", "SHA-256": hashlib.sha256(pdf).hexdigest(),
        "Size in bytes": str(len(pdf))}

"""The register forms' service (issue 18): add and edit processors and sharing agreements,
offboard a processor, end an agreement. The same checks as the importer (the same bad
value is refused with the same reason), nothing written on bad input, one audit entry per
change with the changed fields before and after, the role matrix, a record's history."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import ADMIN, AUDITOR, DPO, MANAGER, SYSTEM
from dashboard import engine, importer
from dashboard import register_edit as E
from dashboard.access import PermissionDenied

AS_OF = "2026-11-24"
PROCESSOR = {"processor_id": "PRC-9001", "name": "Acme Cloud", "kind": "supplier",
             "service": "hosting", "purpose": "service_provision",
             "data_categories": ["phone", "name"], "storage_region": "CN", "status": "active",
             "engaged_on": dt.date(2026, 1, 5), "confidentiality_signed_on": dt.date(2026, 1, 2),
             "nda_signed_on": dt.date(2026, 1, 2), "agreement_expires_on": dt.date(2027, 1, 4),
             "agreement_terms": ["purpose", "duration"], "owner": "IT"}
AGREEMENT = {"agreement_id": "SHA-9001", "counterparty": "Beta Bank", "kind": "share",
             "legal_basis": "explicit_consent", "purpose": "payments",
             "data_categories": ["bank_account"], "consent": "separate",
             "confidentiality_clause": True, "recipient_region": "CN",
             "signed_on": dt.date(2026, 2, 1), "expires_on": dt.date(2027, 2, 1),
             "status": "active", "subjects_affected": 1200}
BASE = {"processors": PROCESSOR, "sharing_agreements": AGREEMENT}

# (register, field, the bad value as a form gives it) - each refused by the importer too.
BAD = [
    ("processors", "processor_id", ""),
    ("processors", "processor_id", "P" * 65),
    ("processors", "name", "   "),
    ("processors", "kind", "robot"),
    ("processors", "kind", None),
    ("processors", "purpose", "fun"),
    ("processors", "data_categories", ["phonez"]),
    ("processors", "storage_region", "UK"),
    ("processors", "storage_region", "cn"),
    ("processors", "status", "gone"),
    ("processors", "nda_signed_on", "2026-02-30"),
    ("processors", "engaged_on", "24/11/2026"),
    ("processors", "agreement_terms", ["purpose", "forever"]),
    ("processors", "owner", "x" * 201),
    ("sharing_agreements", "counterparty", ""),
    ("sharing_agreements", "kind", "gift"),
    ("sharing_agreements", "legal_basis", None),
    ("sharing_agreements", "consent", "implied"),
    ("sharing_agreements", "confidentiality_clause", "maybe"),
    ("sharing_agreements", "recipient_region", "EU"),
    ("sharing_agreements", "subjects_affected", "-3"),
    ("sharing_agreements", "subjects_affected", "many"),
    ("sharing_agreements", "expires_on", "2026-13-01"),
    ("sharing_agreements", "data_categories", ["bank_account", "dna"]),
]


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return '"' + str(value).replace('"', '""') + '"'


def _importer_reason(store, table: str, row: dict, field: str) -> str:
    """What the importer says about ``field`` of ``row`` in a CSV file."""
    names = list(row)
    text = ",".join(names) + "\n" + ",".join(_csv_cell(row[n]) for n in names) + "\n"
    staged = importer.stage_file(store, table, text.encode(), "form.csv")
    reasons = [e.reason for e in staged.errors if e.column == field]
    assert reasons, staged.errors
    return reasons[0]


def _state(store, table: str) -> tuple:
    return (store.scalar(f"SELECT count(*) FROM {table}"),
            store.scalar("SELECT max(seq) FROM audit_log"))


def _last_audit(store):
    import json
    row = store.rows("SELECT action, entity_type, entity_id, actor, values_before, "
                     "values_after FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    action, etype, eid, who, before, after = row
    return (action, etype, eid, who, json.loads(before) if before else None,
            json.loads(after) if after else None)


def _findings(store, rule_id: str) -> set[str]:
    return set(engine.findings_page(store, AS_OF, rule_id=rule_id, limit=1000)["entity_id"])


# -- add -------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", ["processors", "sharing_agreements"])
def test_add_writes_the_record_and_one_audit_entry(store, table):
    key = E.add_record(store, DPO, table, BASE[table])
    reg = E.register_of(table)
    assert key == BASE[table][reg.key]
    assert E.get_record(store, table, key) == {n: BASE[table].get(n) for n in reg.column_names}
    action, etype, eid, who, before, after = _last_audit(store)
    assert (action, etype, eid, who) == ("register.add", E.ENTITY_TYPES[table], key, DPO.name)
    assert before is None
    assert after == {n: (v.isoformat() if isinstance(v, dt.date) else v)
                     for n, v in BASE[table].items()}


@pytest.mark.parametrize("table,field,value", BAD,
                         ids=[f"{t[:4]}-{f}-{str(v)[:12]}" for t, f, v in BAD])
def test_a_value_the_importer_refuses_is_refused_with_the_same_reason(store, table, field,
                                                                      value):
    row = {**BASE[table], field: value}
    expected = _importer_reason(store, table, row, field)
    before = _state(store, table)
    with pytest.raises(E.RegisterInputError) as exc:
        E.add_record(store, DPO, table, row)
    assert exc.value.errors == {field: expected}
    assert _state(store, table) == before                    # nothing written
    # The same value as an edit of an existing record: the same reason, nothing written.
    reg = E.register_of(table)
    if field != reg.key:
        key = E.add_record(store, DPO, table, BASE[table])
        before = _state(store, table)
        with pytest.raises(E.RegisterInputError) as exc:
            E.edit_record(store, DPO, table, key, {field: value})
        assert exc.value.errors == {field: expected}
        assert _state(store, table) == before
        assert E.get_record(store, table, key)[field] == BASE[table].get(field)


def test_several_bad_fields_each_get_their_message(store):
    with pytest.raises(E.RegisterInputError) as exc:
        E.add_record(store, DPO, "processors", {**PROCESSOR, "name": "", "kind": "robot",
                                                "storage_region": "XX", "colour": "red"})
    assert set(exc.value.errors) == {"name", "kind", "storage_region", "colour"}
    assert "required value is empty" == exc.value.errors["name"]
    assert exc.value.errors["kind"].startswith("not one of supplier")
    assert exc.value.errors["colour"].startswith("unknown column; processors has: ")
    assert store.scalar("SELECT count(*) FROM processors") == 0


def test_adding_an_existing_key_is_refused_under_the_key(store):
    E.add_record(store, DPO, "processors", PROCESSOR)
    before = _state(store, "processors")
    with pytest.raises(E.RegisterInputError) as exc:
        E.add_record(store, DPO, "processors", {**PROCESSOR, "name": "Other"})
    assert list(exc.value.errors) == ["processor_id"]
    assert "PRC-9001 already exists" in exc.value.errors["processor_id"]
    assert _state(store, "processors") == before
    assert E.get_record(store, "processors", "PRC-9001")["name"] == "Acme Cloud"


def test_stored_values_are_what_an_import_stores(store):
    E.add_record(store, DPO, "processors", {**PROCESSOR, "kind": " supplier ",
                                            "nda_signed_on": "2026-03-01", "service": "",
                                            "data_categories": [" phone ", ""]})
    row = E.get_record(store, "processors", "PRC-9001")
    assert row["kind"] == "supplier" and row["nda_signed_on"] == dt.date(2026, 3, 1)
    assert row["service"] is None and row["data_categories"] == ["phone"]


# -- edit ------------------------------------------------------------------------------------
def test_edit_changes_only_the_given_fields_and_audits_before_and_after(store):
    E.add_record(store, DPO, "processors", PROCESSOR)
    changed = E.edit_record(store, DPO, "processors", "PRC-9001",
                            {"nda_signed_on": None, "owner": "Legal",
                             "data_categories": ["phone"], "name": "Acme Cloud"})
    assert changed == {"nda_signed_on": (dt.date(2026, 1, 2), None),
                       "owner": ("IT", "Legal"),
                       "data_categories": (["phone", "name"], ["phone"])}
    row = E.get_record(store, "processors", "PRC-9001")
    assert row["nda_signed_on"] is None and row["owner"] == "Legal"
    assert row["name"] == "Acme Cloud" and row["engaged_on"] == dt.date(2026, 1, 5)
    action, etype, eid, who, before, after = _last_audit(store)
    assert (action, etype, eid, who) == ("register.edit", "processor", "PRC-9001", DPO.name)
    assert before == {"nda_signed_on": "2026-01-02", "owner": "IT",
                      "data_categories": ["phone", "name"]}
    assert after == {"nda_signed_on": None, "owner": "Legal", "data_categories": ["phone"]}


def test_an_edit_that_changes_nothing_writes_nothing(store):
    E.add_record(store, DPO, "sharing_agreements", AGREEMENT)
    before = _state(store, "sharing_agreements")
    version = store.data_version
    assert E.edit_record(store, DPO, "sharing_agreements", "SHA-9001",
                         {"counterparty": "Beta Bank", "subjects_affected": "1200",
                          "expires_on": "2027-02-01"}) == {}
    assert _state(store, "sharing_agreements") == before
    assert store.data_version == version


def test_the_key_cannot_be_edited_and_an_unknown_record_is_refused(store):
    E.add_record(store, DPO, "processors", PROCESSOR)
    before = _state(store, "processors")
    with pytest.raises(E.RegisterInputError) as exc:
        E.edit_record(store, DPO, "processors", "PRC-9001", {"processor_id": "PRC-9002",
                                                             "owner": "Legal"})
    assert list(exc.value.errors) == ["processor_id"]
    with pytest.raises(E.RegisterInputError) as exc:
        E.edit_record(store, DPO, "processors", "PRC-0000", {"owner": "Legal"})
    assert list(exc.value.errors) == ["processor_id"]
    assert _state(store, "processors") == before


# -- offboard, end -----------------------------------------------------------------------------
def test_offboarding_sets_status_and_dates_and_the_return_rule_follows(demo_store):
    s = demo_store
    assert "PRC-0035" not in _findings(s, "PROC-OFFBOARD-RETURN")
    assert "PRC-0035" in _findings(s, "PROC-CONFIDENTIALITY")
    changed = E.offboard_processor(s, DPO, "PRC-0035", dt.date(2026, 9, 1))
    assert changed == {"status": ("active", "offboarded"),
                       "offboarded_on": (None, dt.date(2026, 9, 1))}
    action, etype, eid, _who, before, after = _last_audit(s)
    assert (action, etype, eid) == ("processor.offboard", "processor", "PRC-0035")
    assert before == {"status": "active", "offboarded_on": None}
    assert after == {"status": "offboarded", "offboarded_on": "2026-09-01"}
    # Offboarded on 1 Sep, no return confirmed: 30 days passed; out of the active rules.
    assert "PRC-0035" in _findings(s, "PROC-OFFBOARD-RETURN")
    assert "PRC-0035" not in _findings(s, "PROC-CONFIDENTIALITY")
    E.edit_record(s, DPO, "processors", "PRC-0035", {"data_returned_on": dt.date(2026, 9, 20)})
    assert "PRC-0035" not in _findings(s, "PROC-OFFBOARD-RETURN")


def test_offboarding_refuses_bad_input_and_writes_nothing(demo_store):
    s = demo_store
    before = _state(s, "processors")
    with pytest.raises(E.RegisterInputError) as exc:
        E.offboard_processor(s, DPO, "PRC-0035", None)
    assert exc.value.errors == {"offboarded_on": "required value is empty"}
    with pytest.raises(E.RegisterInputError) as exc:
        E.offboard_processor(s, DPO, "PRC-0035", dt.date(2026, 11, 25),
                             data_returned_on="2026-11-31")
    assert "has not happened yet" in exc.value.errors["offboarded_on"]
    assert exc.value.errors["data_returned_on"] == "not a real calendar date (YYYY-MM-DD)"
    E.offboard_processor(s, DPO, "PRC-0035", dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    before = _state(s, "processors")
    with pytest.raises(E.RegisterInputError) as exc:
        E.offboard_processor(s, DPO, "PRC-0035", dt.date(2026, 11, 3))
    assert exc.value.errors == {"status": "the processor is already offboarded"}
    assert _state(s, "processors") == before


def test_ending_an_agreement_creates_no_finding(demo_store):
    s = demo_store
    rules = [r for r in engine.findings_page(s, AS_OF, entity_id="SHA-0003", limit=100)
             ["rule_id"]]
    assert "SHARE-EXPIRED-ACTIVE" in rules
    changed = E.end_agreement(s, DPO, "SHA-0003", dt.date(2026, 11, 20))
    # It had expired on 15 Oct already: the expiry stays.
    assert changed == {"status": ("active", "ended")}
    action, etype, eid, _who, before, after = _last_audit(s)
    assert (action, etype, eid) == ("agreement.end", "sharing_agreement", "SHA-0003")
    assert before == {"status": "active"}
    assert after == {"status": "ended", "ended_on": "2026-11-20"}
    after_rules = set(engine.findings_page(s, AS_OF, entity_id="SHA-0003", limit=100)
                      ["rule_id"])
    assert "SHARE-EXPIRED-ACTIVE" not in after_rules and after_rules <= set(rules)
    # An agreement running to 2026-12-09 ended today: its expiry comes forward to today.
    changed = E.end_agreement(s, DPO, "SHA-0006")
    assert changed == {"status": ("active", "ended"),
                       "expires_on": (dt.date(2026, 12, 9), dt.date(2026, 11, 24))}
    assert engine.findings_page(s, AS_OF, entity_id="SHA-0006", limit=100).empty
    assert "SHA-0006" not in set(engine.due_page(s, AS_OF, limit=1000)["entity_id"])
    before = _state(s, "sharing_agreements")
    with pytest.raises(E.RegisterInputError) as exc:
        E.end_agreement(s, DPO, "SHA-0006")
    assert exc.value.errors == {"status": "the agreement has already ended"}
    with pytest.raises(E.RegisterInputError) as exc:
        E.end_agreement(s, DPO, "SHA-0008", dt.date(2026, 12, 1))
    assert "has not happened yet" in exc.value.errors["ended_on"]
    with pytest.raises(E.RegisterInputError) as exc:
        E.end_agreement(s, DPO, "SHA-0008", "1 Dec")
    assert exc.value.errors["ended_on"].startswith("not a date")
    assert _state(s, "sharing_agreements") == before


# -- the key scenario of the browser journey ------------------------------------------------------
def test_recording_the_nda_clears_the_missing_nda_finding(demo_store):
    """On the demo store PRC-0027 receives usage records with a confidentiality agreement
    but no NDA (rule PROC-CONFIDENTIALITY); the DPO records its NDA and the finding goes."""
    s = demo_store
    finding = engine.findings_page(s, AS_OF, rule_id="PROC-CONFIDENTIALITY",
                                   entity_id="PRC-0027", limit=1)
    assert len(finding) == 1 and "no NDA on record" in finding.iloc[0]["detail"]
    E.edit_record(s, DPO, "processors", "PRC-0027", {"nda_signed_on": dt.date(2026, 11, 20)})
    assert engine.findings_page(s, AS_OF, rule_id="PROC-CONFIDENTIALITY",
                                entity_id="PRC-0027", limit=1).empty
    assert {"PRC-0004", "PRC-0035"} <= _findings(s, "PROC-CONFIDENTIALITY")


# -- roles -------------------------------------------------------------------------------------
ACTIONS = {
    "add": lambda s, a: E.add_record(s, a, "processors", {**PROCESSOR,
                                                          "processor_id": "PRC-9002"}),
    "edit": lambda s, a: E.edit_record(s, a, "processors", "PRC-0027",
                                       {"nda_signed_on": dt.date(2026, 11, 20)}),
    "offboard": lambda s, a: E.offboard_processor(s, a, "PRC-0035", dt.date(2026, 11, 1)),
    "end": lambda s, a: E.end_agreement(s, a, "SHA-0006"),
    "bad edit": lambda s, a: E.edit_record(s, a, "processors", "PRC-0027", {"kind": "x"}),
}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_role_matrix(demo_store, name):
    s = demo_store
    for actor in (MANAGER, AUDITOR, ADMIN):
        before = (_state(s, "processors"), _state(s, "sharing_agreements"))
        with pytest.raises(PermissionDenied):
            ACTIONS[name](s, actor)
        assert (_state(s, "processors"), _state(s, "sharing_agreements")) == before
    seq = s.scalar("SELECT max(seq) FROM audit_log")
    if name == "bad edit":
        with pytest.raises(E.RegisterInputError):
            ACTIONS[name](s, DPO)
        assert s.scalar("SELECT max(seq) FROM audit_log") == seq
        return
    ACTIONS[name](s, DPO)
    assert s.scalar("SELECT max(seq) FROM audit_log") == seq + 1
    assert _last_audit(s)[3] == DPO.name


def test_the_command_line_may_write(store):
    E.add_record(store, SYSTEM, "processors", PROCESSOR)
    E.offboard_processor(store, SYSTEM, "PRC-9001", dt.date(2026, 11, 1))
    assert _last_audit(store)[:4] == ("processor.offboard", "processor", "PRC-9001",
                                      SYSTEM.name)


# -- history ---------------------------------------------------------------------------------
def test_record_history_lists_each_change_per_field(store):
    E.add_record(store, DPO, "processors", PROCESSOR)
    E.edit_record(store, DPO, "processors", "PRC-9001", {"owner": "Legal"})
    E.offboard_processor(store, SYSTEM, "PRC-9001", dt.date(2026, 11, 1),
                         dt.date(2026, 11, 10))
    E.add_record(store, DPO, "processors", {**PROCESSOR, "processor_id": "PRC-9002"})
    h = E.record_history(store, "processors", "PRC-9001")
    assert list(h["action"].unique()) == ["register.add", "register.edit",
                                          "processor.offboard"]
    add = h[h["action"] == "register.add"]
    assert list(add["field"])[:3] == ["processor_id", "name", "kind"]
    assert add["before"].isna().all()
    edit = h[h["action"] == "register.edit"].iloc[0]
    assert (edit["field"], edit["before"], edit["after"], edit["actor"]) == \
        ("owner", "IT", "Legal", DPO.name)
    off = h[h["action"] == "processor.offboard"]
    assert dict(zip(off["field"], off["after"])) == {
        "status": "offboarded", "offboarded_on": "2026-11-01",
        "data_returned_on": "2026-11-10"}
    assert E.value_words("processors", "status", "offboarded") == "Offboarded"
    assert E.value_words("processors", "offboarded_on", "2026-11-01") == "1 Nov 2026"
    assert E.record_history(store, "processors", "PRC-0000").empty


# -- the command line ----------------------------------------------------------------------------
def test_the_command_line_adds_edits_offboards_and_ends(store):
    import io

    from dashboard.cli import main
    from dashboard.store import Store
    path = str(store.path)
    store.close()                      # the command line opens the file itself

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        code = main([*argv, "--db", path], out, err)
        return code, out.getvalue(), err.getvalue()

    code, out, _err = run("register", "add", "processors", "processor_id=PRC-9001",
                          "name=Acme", "kind=supplier", "status=active",
                          "data_categories=phone;name", "nda_signed_on=2026-01-02")
    assert code == 0 and "added PRC-9001" in out
    code, _out, err = run("register", "add", "processors", "processor_id=PRC-9002",
                          "name=Acme", "kind=robot", "status=active",
                          "nda_signed_on=2026-02-30")
    assert code == 2 and "error: kind: not one of supplier" in err
    assert "error: nda_signed_on: not a real calendar date" in err
    code, out, _err = run("register", "edit", "processors", "PRC-9001", "nda_signed_on=",
                          "owner=Legal")
    assert code == 0 and "nda_signed_on: 2026-01-02 -> None" in out
    code, out, _err = run("register", "edit", "processors", "PRC-9001", "owner=Legal")
    assert code == 0 and "nothing changed" in out
    code, out, _err = run("register", "offboard", "PRC-9001", "--on", "2026-11-01")
    assert code == 0 and "status: active -> offboarded" in out
    code, _out, _err = run("register", "add", "sharing_agreements", "agreement_id=SHA-9001",
                           "counterparty=Beta", "kind=share",
                           "legal_basis=explicit_consent", "status=active",
                           "confidentiality_clause=true")
    assert code == 0
    code, out, _err = run("register", "end", "SHA-9001", "--on", "2026-11-20")
    assert code == 0 and "status: active -> ended" in out
    s = Store(path)
    try:
        rows = s.rows("SELECT action, actor FROM audit_log WHERE entity_id IN "
                      "('PRC-9001', 'SHA-9001') ORDER BY seq")
    finally:
        s.close()
    assert [a for a, _who in rows] == ["register.add", "register.edit", "processor.offboard",
                                       "register.add", "agreement.end"]
    assert {who for _a, who in rows} == {SYSTEM.name}

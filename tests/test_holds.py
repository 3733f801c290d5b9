"""Legal holds on retention records (issue 18, dashboard/holds.py): set, review and lift on one
record or on a filter; each bad field refused under its name with nothing written; the role
matrix; one audit entry naming the filter and the count; the rules RET-OVERDUE and
RET-HOLD-INVALID reading the held records; the command line; the Retention page's form."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from dashboard import audit, engine
from dashboard import holds as H
from dashboard.access import PermissionDenied
from dashboard.cli import main as cli_main
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import (ADMIN, AUDITOR, DPO, MANAGER, SHANGHAI, SYSTEM, app_test, make_store)

TODAY = dt.date(2026, 11, 24)          # FROZEN_NOW's date
LATER = "2027-03-31"

# record_id, subject_ref, category, system, collected_on, service_ended_on, deleted_on,
# hold_reason, hold_reference, hold_review_on: phone records keep 30 days after service end,
# so 1-6 are long overdue (RET-OVERDUE fails) unless held.
RECORDS = [
    (1, "S-1", "phone", "crm", "2024-01-01", "2024-03-01", None, None, None, None),
    (2, "S-1", "phone", "crm", "2024-01-01", "2024-03-01", None, None, None, None),
    (3, "S-2", "phone", "crm", "2024-01-01", "2024-03-01", None, None, None, None),
    (4, "S-2", "name", "crm", "2024-01-01", "2024-03-01", None, None, None, None),
    (5, "S-3", "phone", "iam", "2024-01-01", "2024-03-01", None, None, None, None),
    (6, "S-3", "phone", "iam", "2024-01-01", "2024-03-01", None, None, None, None),
    (7, "S-1", "phone", "crm", "2024-01-01", "2024-03-01", "2024-04-01", None, None, None),
    (8, "S-4", "phone", "crm", "2024-01-01", "2024-03-01", None,
     "law_or_regulation", "imported ref", "2027-01-15"),
    (9, "S-5", "phone", "erp", "2024-01-01", "2024-03-01", "2024-04-01", None, None, None),
]


@pytest.fixture
def hstore(tmp_path):
    s = make_store(tmp_path / "holds.duckdb")
    with s.write(SYSTEM, "register.import") as w:
        w.cur.executemany(
            "INSERT INTO retention_records (record_id, subject_ref, category, system, "
            "storage_region, collected_on, service_ended_on, deleted_on, hold_reason, "
            "hold_reference, hold_review_on) VALUES (?, ?, ?, ?, 'CN', ?, ?, ?, ?, ?, ?)",
            [list(r) for r in RECORDS])
        w.audit("test.fill", "retention_record", "holds")
    yield s
    s.close()


def state(store) -> tuple:
    """Everything a hold action may write: compared before and after a refused one."""
    return (store.scalar("SELECT count(*) FROM audit_log"),
            store.rows("SELECT * FROM legal_holds ORDER BY event_id"),
            store.rows("SELECT * FROM legal_hold_records ORDER BY hold_id, record_id"),
            store.rows("SELECT record_id, hold_reason, hold_reference, hold_review_on "
                       "FROM retention_records ORDER BY record_id"))


def holds_of(store) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in store.rows(
        "SELECT record_id, hold_reason, hold_reference, hold_review_on FROM retention_records "
        "ORDER BY record_id")}


def last_entry(store) -> dict:
    action, etype, eid, actor, before, after, digests = store.rows(
        "SELECT action, entity_type, entity_id, actor, values_before, values_after, digests "
        "FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    return {"action": action, "entity_type": etype, "entity_id": eid, "actor": actor,
            "before": json.loads(before) if before else None,
            "after": json.loads(after) if after else None,
            "digests": json.loads(digests) if digests else None}


def entries(store) -> int:
    return store.scalar("SELECT count(*) FROM audit_log")


def assert_digest_exact(store) -> None:
    """The digest of retention_records the last entry recorded (its last state plus the
    covered rows' change) equals the table's digest computed afresh, and verify passes."""
    ring = audit.load_keyring(store.path)
    recorded = last_entry(store)["digests"]["retention_records"]
    with store.cursor() as cur:
        fresh = audit.table_digest(cur, "retention_records", ring.current_secret)
    assert (recorded["rows"], recorded["digest"]) == (fresh["rows"], fresh["digest"])
    result = audit.verify(store)
    assert result.ok, result.problems


# -- preview --------------------------------------------------------------------------------
def test_preview_counts_deleted_imported_holds_and_other_holds(hstore):
    p = H.preview(hstore, {"system": "crm"})
    assert p == H.Preview(matching=6, deleted=1, held_elsewhere=1, on_other_hold=0, to_hold=4)
    H.set_hold(hstore, DPO, {"subject_ref": "S-1"}, "authority_request", "REQ-1", LATER)
    p = H.preview(hstore, {"system": "crm", "category": "phone"})
    assert p == H.Preview(matching=5, deleted=1, held_elsewhere=1, on_other_hold=2, to_hold=3)


# -- set: good input ------------------------------------------------------------------------
def test_bulk_hold_sets_the_records_and_one_audit_entry_names_filter_and_count(hstore):
    n = entries(hstore)
    result = H.set_hold(hstore, DPO, {"system": "crm", "category": "phone"},
                        "court_or_legal_proceedings", " (2026)沪0115民初4521号 ", LATER)
    assert result.count == 3 and result.action == "set" and entries(hstore) == n + 1
    held = holds_of(hstore)
    for rid in (1, 2, 3):
        assert held[rid] == ("court_or_legal_proceedings", "(2026)沪0115民初4521号",
                             dt.date(2027, 3, 31))
    assert held[4] == (None, None, None)                      # name, not phone
    assert held[7] == (None, None, None)                      # deleted: skipped
    assert held[8] == ("law_or_regulation", "imported ref", dt.date(2027, 1, 15))  # imported
    entry = last_entry(hstore)
    assert entry["action"] == "retention.hold" and entry["entity_type"] == "retention_record"
    assert entry["entity_id"] == "category=phone; system=crm" and entry["actor"] == DPO.name
    assert entry["before"] is None
    assert entry["after"] == {"hold_id": result.hold_id,
                              "filter": {"category": "phone", "system": "crm"}, "count": 3,
                              "reason": "court_or_legal_proceedings",
                              "reference": "(2026)沪0115民初4521号", "review_on": LATER}
    assert hstore.rows("SELECT hold_id, action, filter, record_count, audit_seq FROM "
                       "legal_holds") == [(result.hold_id, "set",
                                           '{"category": "phone", "system": "crm"}', 3,
                                           result.audit_seq)]
    assert sorted(r[0] for r in hstore.rows("SELECT record_id FROM legal_hold_records")) == \
        [1, 2, 3]
    assert_digest_exact(hstore)


def test_hold_on_one_record_keeps_its_old_values_as_before(hstore):
    result = H.set_hold(hstore, DPO, 4, "rights_protection", "Dispute CS-1", dt.date(2027, 1, 1))
    assert result.count == 1
    entry = last_entry(hstore)
    assert entry["entity_id"] == "4"
    assert entry["before"] == {"hold_reason": None, "hold_reference": None,
                               "hold_review_on": None}
    assert entry["after"]["filter"] == {"record_id": 4} and entry["after"]["count"] == 1
    assert holds_of(hstore)[4] == ("rights_protection", "Dispute CS-1", dt.date(2027, 1, 1))
    assert_digest_exact(hstore)


# -- set: bad input, one field at a time -------------------------------------------------------
GOOD = {"filter_or_record": {"system": "crm"}, "reason": "authority_request",
        "reference": "REQ-1", "review_on": LATER}


@pytest.mark.parametrize("change,field,words", [
    ({"filter_or_record": {}}, "filter", "at least one of subject, category and system"),
    ({"filter_or_record": {"system": "  "}}, "filter", "at least one of subject"),
    ({"filter_or_record": {"colour": "red"}}, "filter", "Unknown filter field(s): colour"),
    ({"filter_or_record": {"system": "nowhere"}}, "filter", "No record matches the filter"),
    ({"filter_or_record": {"system": "erp"}}, "filter",
     "None of the 1 records matching the filter can be held: 1 are deleted"),
    ({"filter_or_record": {"category": "unicorns"}}, "category",
     "“unicorns” is not a data category"),
    ({"filter_or_record": 404}, "record_id", "There is no record 404"),
    ({"filter_or_record": {"record_id": "x1"}}, "record_id", "is not a record ID"),
    ({"filter_or_record": 7}, "record_id", "Record 7 is deleted"),
    ({"filter_or_record": 8}, "record_id", "on a hold recorded in the register"),
    ({"filter_or_record": {"record_id": 1, "system": "crm"}}, "record_id",
     "either a record ID or a filter"),
    ({"reason": None}, "reason", "Choose the exception of policy 6.2"),
    ({"reason": "whim"}, "reason", "“whim” is not one of: Law or regulation"),
    ({"reference": ""}, "reference", "Give the hold's reference"),
    ({"reference": "   "}, "reference", "Give the hold's reference"),
    ({"reference": "x" * 501}, "reference", "At most 500 characters"),
    ({"review_on": None}, "review_on", "Give the date the hold must be reviewed by"),
    ({"review_on": "2026-11-24"}, "review_on", "must be after today (2026-11-24)"),
    ({"review_on": dt.date(2026, 1, 1)}, "review_on", "must be after today"),
    ({"review_on": "31/03/2027"}, "review_on", "is not a date (YYYY-MM-DD)"),
])
def test_set_refuses_each_bad_field_and_writes_nothing(hstore, change, field, words):
    before = state(hstore)
    with pytest.raises(H.HoldError) as exc:
        H.set_hold(hstore, DPO, **{**GOOD, **change})
    assert list(exc.value.errors) == [field]
    assert words in exc.value.errors[field]
    assert state(hstore) == before


def test_every_bad_field_is_reported_at_once(hstore):
    with pytest.raises(H.HoldError) as exc:
        H.set_hold(hstore, DPO, {}, "whim", "", "2026-11-01")
    assert set(exc.value.errors) == {"filter", "reason", "reference", "review_on"}


# -- review ---------------------------------------------------------------------------------
def test_review_moves_the_review_date_of_every_covered_record(hstore):
    hold = H.set_hold(hstore, DPO, {"subject_ref": "S-3"}, "compliance_obligation", "MLPS",
                      "2026-12-01")
    result = H.review_hold(hstore, DPO, hold.hold_id, "2027-06-30", "still needed")
    assert result.count == 2 and result.action == "reviewed"
    assert {holds_of(hstore)[r] for r in (5, 6)} == {
        ("compliance_obligation", "MLPS", dt.date(2027, 6, 30))}
    entry = last_entry(hstore)
    assert entry["action"] == "retention.hold_review"
    assert entry["entity_id"] == "subject_ref=S-3"
    assert entry["before"] == {"hold_id": hold.hold_id, "reason": "compliance_obligation",
                               "reference": "MLPS", "review_on": "2026-12-01"}
    assert entry["after"]["review_on"] == "2027-06-30" and entry["after"]["count"] == 2
    assert entry["after"]["note"] == "still needed"
    assert [r[0] for r in hstore.rows("SELECT action FROM legal_holds ORDER BY event_id")] == \
        ["set", "reviewed"]
    assert_digest_exact(hstore)


@pytest.mark.parametrize("args,field,words", [
    ((99, LATER), "hold", "There is no hold 99"),
    (("abc", LATER), "hold", "is not a hold number"),
    ((1, "2026-11-24"), "review_on", "must be after today"),
    ((1, None), "review_on", "Give the date"),
    ((1, LATER, "n" * 2001), "note", "At most 2000 characters"),
])
def test_review_refuses_bad_input_and_writes_nothing(hstore, args, field, words):
    H.set_hold(hstore, DPO, {"subject_ref": "S-3"}, "compliance_obligation", "MLPS", LATER)
    before = state(hstore)
    with pytest.raises(H.HoldError) as exc:
        H.review_hold(hstore, DPO, *args)
    assert field in exc.value.errors and words in exc.value.errors[field]
    assert state(hstore) == before


# -- lift ----------------------------------------------------------------------------------
def test_lift_releases_the_records_and_keeps_the_list(hstore):
    hold = H.set_hold(hstore, DPO, 4, "rights_protection", "Dispute CS-1", LATER)
    result = H.lift_hold(hstore, DPO, hold.hold_id, "dispute settled")
    assert result.action == "lifted" and result.count == 1
    assert holds_of(hstore)[4] == (None, None, None)
    entry = last_entry(hstore)
    assert entry["action"] == "retention.hold_lift" and entry["entity_id"] == "4"
    assert entry["before"] == {"hold_reason": "rights_protection",
                               "hold_reference": "Dispute CS-1", "hold_review_on": LATER}
    assert entry["after"]["note"] == "dispute settled"
    assert H.current_holds(hstore).empty
    assert list(H.covered_records(hstore, hold.hold_id)["record_id"]) == [4]
    assert list(H.history(hstore, hold.hold_id)["action"]) == ["set", "lifted"]
    assert_digest_exact(hstore)


def test_a_record_on_two_holds_stays_held_when_one_is_lifted(hstore):
    court = H.set_hold(hstore, DPO, {"subject_ref": "S-1"}, "court_or_legal_proceedings",
                       "Case 1", "2027-02-01")
    authority = H.set_hold(hstore, DPO, {"system": "crm"}, "authority_request", "REQ-9",
                           "2027-05-01")
    assert authority.count == 4                      # 1, 2 (also on the court's), 3, 4
    held = holds_of(hstore)
    assert held[1] == ("authority_request", "REQ-9", dt.date(2027, 5, 1))   # latest review
    H.lift_hold(hstore, DPO, authority.hold_id, "request answered")
    held = holds_of(hstore)
    assert held[1] == held[2] == ("court_or_legal_proceedings", "Case 1", dt.date(2027, 2, 1))
    assert held[3] == held[4] == (None, None, None)
    assert held[8] == ("law_or_regulation", "imported ref", dt.date(2027, 1, 15))
    assert last_entry(hstore)["after"]["count"] == 4
    assert_digest_exact(hstore)
    H.lift_hold(hstore, DPO, court.hold_id, "case closed")
    assert holds_of(hstore)[1] == (None, None, None)


@pytest.mark.parametrize("args,field,words", [
    ((1, ""), "note", "Say why the hold ends"),
    ((1, None), "note", "Say why the hold ends"),
    ((42, "done"), "hold", "There is no hold 42"),
])
def test_lift_refuses_bad_input_and_writes_nothing(hstore, args, field, words):
    H.set_hold(hstore, DPO, 4, "rights_protection", "Dispute CS-1", LATER)
    before = state(hstore)
    with pytest.raises(H.HoldError) as exc:
        H.lift_hold(hstore, DPO, *args)
    assert words in exc.value.errors[field]
    assert state(hstore) == before


def test_lifting_twice_is_refused(hstore):
    hold = H.set_hold(hstore, DPO, 4, "rights_protection", "Dispute CS-1", LATER)
    H.lift_hold(hstore, DPO, hold.hold_id, "settled")
    before = state(hstore)
    with pytest.raises(H.HoldError) as exc:
        H.lift_hold(hstore, DPO, hold.hold_id, "again")
    assert "was lifted already" in exc.value.errors["hold"]
    with pytest.raises(H.HoldError):
        H.review_hold(hstore, DPO, hold.hold_id, LATER)
    assert state(hstore) == before


# -- roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [DPO, SYSTEM])
def test_dpo_and_the_command_line_may_hold(hstore, actor):
    hold = H.set_hold(hstore, actor, 4, "rights_protection", "Dispute CS-1", LATER)
    H.review_hold(hstore, actor, hold.hold_id, "2027-09-30")
    H.lift_hold(hstore, actor, hold.hold_id, "settled")
    assert [r[0] for r in hstore.rows("SELECT actor FROM legal_holds")] == [actor.name] * 3


@pytest.mark.parametrize("actor", [MANAGER, AUDITOR, ADMIN])
def test_other_roles_are_refused_and_nothing_is_written(hstore, actor):
    hold = H.set_hold(hstore, DPO, 4, "rights_protection", "Dispute CS-1", LATER)
    before = state(hstore)
    with pytest.raises(PermissionDenied):
        H.set_hold(hstore, actor, {"system": "crm"}, "authority_request", "REQ-1", LATER)
    with pytest.raises(PermissionDenied):          # even with bad input: the role first
        H.set_hold(hstore, actor, {}, "whim", "", None)
    with pytest.raises(PermissionDenied):
        H.review_hold(hstore, actor, hold.hold_id, "2027-09-30")
    with pytest.raises(PermissionDenied):
        H.lift_hold(hstore, actor, hold.hold_id, "settled")
    assert state(hstore) == before


# -- the rules ------------------------------------------------------------------------------
def _failing(store, rule: str, as_of: dt.date) -> set[int]:
    """The records failing ``rule`` at the close of ``as_of``, checked on the day after it
    (another Store object on the file, its clock then)."""
    later = Store(store.path, settings=Settings(),
                  clock=lambda: dt.datetime.combine(as_of + dt.timedelta(days=1),
                                                    dt.time(10), tzinfo=SHANGHAI))
    try:
        findings = engine.run_check(later, as_of).findings
    finally:
        later.close()
    return {int(e) for e in findings.loc[findings["rule_id"] == rule, "entity_id"]}


def test_held_records_leave_ret_overdue_and_a_passed_review_fails_ret_hold_invalid(hstore):
    assert {1, 2, 3, 4, 5, 6} <= _failing(hstore, "RET-OVERDUE", TODAY)
    assert not {1, 2, 3} & _failing(hstore, "RET-HOLD-INVALID", TODAY)
    hold = H.set_hold(hstore, DPO, {"system": "crm", "category": "phone"},
                      "authority_request", "REQ-1", "2026-12-10")
    overdue = _failing(hstore, "RET-OVERDUE", TODAY)
    assert not {1, 2, 3} & overdue and {4, 5, 6} <= overdue
    assert not {1, 2, 3} & _failing(hstore, "RET-HOLD-INVALID", TODAY)
    # the review date passes: the hold is no longer valid
    assert {1, 2, 3} <= _failing(hstore, "RET-HOLD-INVALID", dt.date(2026, 12, 11))
    assert not {1, 2, 3} & _failing(hstore, "RET-HOLD-INVALID", dt.date(2026, 12, 10))
    # reviewed in time: valid again on that day; lifted: overdue again
    H.review_hold(hstore, DPO, hold.hold_id, "2027-02-01")
    assert not {1, 2, 3} & _failing(hstore, "RET-HOLD-INVALID", dt.date(2026, 12, 11))
    H.lift_hold(hstore, DPO, hold.hold_id, "answered")
    assert {1, 2, 3} <= _failing(hstore, "RET-OVERDUE", TODAY)


# -- the command line -----------------------------------------------------------------------
def _cli(store, *argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(store.path), "hold", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_command_line_sets_reviews_lifts_and_lists(hstore):
    path = hstore.path
    hstore.close()
    store = Store(path)
    store.close()
    code, out, _ = _cli(store, "set", "--system", "crm", "--preview")
    assert code == 0 and "a hold would cover 4" in out
    code, out, err = _cli(store, "set", "--system", "crm", "--reason", "authority_request",
                          "--reference", "REQ-1", "--review-on", "2020-01-01")
    assert code == 2 and "review_on: The review date must be after today" in err
    assert "nothing was written" in err
    code, out, _ = _cli(store, "set", "--system", "crm", "--reason", "authority_request",
                        "--reference", "REQ-1", "--review-on", "2099-01-01")
    assert code == 0 and "hold 1 set on 4 record(s)" in out
    code, out, _ = _cli(store, "list")
    assert code == 0 and "hold 1: system=crm  4 record(s)  authority_request  REQ-1" in out
    code, out, _ = _cli(store, "review", "1", "--review-on", "2099-06-01", "--note", "ok")
    assert code == 0 and "hold 1 reviewed" in out
    code, out, _ = _cli(store, "lift", "1", "--note", "done")
    assert code == 0 and "hold 1 lifted (4 record(s))" in out
    code, out, _ = _cli(store, "list", "--history", "1")
    assert code == 0 and [line.split()[1] for line in out.splitlines()] == \
        ["set", "reviewed", "lifted"]
    code, _, err = _cli(store, "lift", "1", "--note", "again")
    assert code == 2 and "hold: Hold 1 was lifted already." in err


# -- the Retention page ----------------------------------------------------------------------
def test_dpo_sets_a_bulk_hold_through_the_form(hstore, monkeypatch):
    path = hstore.path
    hstore.close()
    at = app_test(path, DPO, monkeypatch, page="retention")
    assert not at.exception
    at.selectbox(key="lh_system").set_value("crm")
    at.selectbox(key="lh_category").set_value("phone")
    at.selectbox(key="lh_reason").set_value("authority_request")
    at.text_input(key="lh_reference").input("REQ-7")
    at.date_input(key="lh_review_on").set_value(dt.date(2027, 3, 31))
    set_button = next(b for b in at.button if b.label == "Set the hold")
    set_button.click().run()                 # first: the count, to be seen
    assert not at.exception
    assert any("The hold covers **3** records" in i.value for i in at.info)
    assert any("then press “Set the hold” again" in e.value for e in at.error)
    next(b for b in at.button if b.label == "Set the hold").click().run()
    assert not at.exception
    assert any("Hold 1 is set on 3 records" in s.value for s in at.success)
    with Store(path) as store:
        assert store.scalar("SELECT count(*) FROM legal_hold_records WHERE hold_id = 1") == 3
        assert store.rows("SELECT action, actor FROM audit_log ORDER BY seq DESC LIMIT 1") == \
            [("retention.hold", DPO.name)]
    frame = at.dataframe[-1].value
    assert list(frame["count"]) == [3] and list(frame["reference"]) == ["REQ-7"]


def test_page_shows_each_error_under_its_field_and_writes_nothing(hstore, monkeypatch):
    path = hstore.path
    hstore.close()
    at = app_test(path, DPO, monkeypatch, page="retention")
    at.selectbox(key="lh_system").set_value("crm")
    at.date_input(key="lh_review_on").set_value(dt.date(2026, 11, 1))
    next(b for b in at.button if b.label == "Count the records").click().run()
    next(b for b in at.button if b.label == "Set the hold").click().run()
    assert not at.exception

    def under(name):
        return [e.value for e in at.get_by_key(f"lh_field_set_{name}").error]
    assert any("Choose the exception" in m for m in under("reason"))
    assert any("Give the hold's reference" in m for m in under("reference"))
    assert any("must be after today" in m for m in under("review_on"))
    assert under("system") == [] and under("record_id") == []
    with Store(path) as store:
        assert store.scalar("SELECT count(*) FROM legal_holds") == 0


def test_a_manager_sees_the_holds_but_no_form(hstore, monkeypatch):
    H.set_hold(hstore, DPO, {"system": "crm"}, "authority_request", "REQ-1", LATER)
    path = hstore.path
    hstore.close()
    at = app_test(path, MANAGER, monkeypatch, page="retention")
    assert not at.exception
    assert not [b for b in at.button if b.label in ("Set the hold", "Lift the hold")]
    assert any("A DPO sets, reviews and lifts legal holds here" in c.value for c in at.caption)
    assert list(at.dataframe[-1].value["reference"]) == ["REQ-1"]


def test_dpo_reviews_and_lifts_a_hold_on_the_page(hstore, monkeypatch):
    hold = H.set_hold(hstore, DPO, {"system": "crm"}, "authority_request", "REQ-1",
                      "2026-12-01")                 # within due_soon_days: marked
    path = hstore.path
    hstore.close()
    at = app_test(path, DPO, monkeypatch, page="retention")
    assert not at.exception
    assert any("1 hold is due for review" in w.value for w in at.warning)
    assert list(at.dataframe[-1].value["review"]) == ["Review due soon"]
    next(b for b in at.button if b.label == "Record the review").click().run()
    assert any("Give the date" in m for m in
               [e.value for e in at.get_by_key("lh_field_review_review_on").error])
    at.date_input(key="lh_new_review_on").set_value(dt.date(2027, 6, 30))
    next(b for b in at.button if b.label == "Record the review").click().run()
    assert any(f"Hold {hold.hold_id} is reviewed (4 records)" in s.value for s in at.success)
    next(b for b in at.button if b.label == "Lift the hold").click().run()
    assert any("Say why the hold ends" in e.value
               for e in at.get_by_key("lh_field_lift_note").error)
    at.text_area(key="lh_lift_note").input("request answered")
    next(b for b in at.button if b.label == "Lift the hold").click().run()
    assert not at.exception
    assert any(f"Hold {hold.hold_id} is lifted (4 records)" in s.value for s in at.success)
    with Store(path) as store:
        assert [r[0] for r in store.rows("SELECT action FROM legal_holds ORDER BY event_id")] \
            == ["set", "reviewed", "lifted"]


def test_the_holds_section_in_chinese_shows_words_not_codes(hstore, monkeypatch):
    H.set_hold(hstore, DPO, {"system": "crm", "category": "phone"}, "authority_request",
               "REQ-1", "2026-12-01")
    path = hstore.path
    hstore.close()
    at = app_test(path, DPO, monkeypatch, page="retention", locale="zh_CN")
    assert not at.exception
    assert "法律保留" in [h.value for h in at.subheader]
    frame = at.dataframe[-1].value
    assert list(frame["reason"]) == ["有关部门要求"]
    assert "联系电话" in frame["records"].iloc[0] and "phone" not in frame["records"].iloc[0]
    assert list(frame["review"]) == ["即将到期复核"]
    assert any("需要复核" in w.value for w in at.warning)


def test_a_change_behind_the_apps_back_is_still_caught_after_a_hold(hstore):
    """The digest a hold records is the last audited state plus the covered rows' change:
    a record altered outside the app before the hold (one the hold does not cover, and one
    it does) still makes ``audit verify`` name retention_records."""
    with hstore.cursor() as cur:
        cur.execute("UPDATE retention_records SET deleted_on = DATE '2026-01-01' "
                    "WHERE record_id = 5")
    H.set_hold(hstore, DPO, {"system": "crm"}, "authority_request", "REQ-1", LATER)
    result = audit.verify(hstore)
    assert not result.ok and any("retention_records" in p for p in result.problems)
    with hstore.cursor() as cur:           # put it back: the audited state holds again
        cur.execute("UPDATE retention_records SET deleted_on = NULL WHERE record_id = 5")
    assert audit.verify(hstore).ok
    with hstore.cursor() as cur:           # a covered record altered, then reviewed
        cur.execute("UPDATE retention_records SET subject_ref = 'S-X' WHERE record_id = 1")
    H.review_hold(hstore, DPO, 1, "2027-08-01")
    result = audit.verify(hstore)
    assert not result.ok and any("retention_records" in p for p in result.problems)

"""Rights requests (issue 14): the one write path, forward-only status, idempotent submits,
the history, the queue's working-day deadlines in SQL, the deletion proof."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from dashboard import requests as rq
from dashboard import workdays
from dashboard.access import PermissionDenied

from tests.conftest import ADMIN, AUDITOR, DPO, FROZEN_NOW, MANAGER, SHANGHAI, SYSTEM

GOOD = {"received_at": "2026-11-20 09:30", "channel": "email", "kind": "delete",
        "subject_ref": "U-000042", "handler": "privacy team", "notes": "via DPO mailbox"}


def audit_count(store) -> int:
    return store.scalar("SELECT count(*) FROM audit_log")


def counts(store) -> tuple[int, int, int]:
    return (store.scalar("SELECT count(*) FROM rights_requests"),
            store.scalar("SELECT count(*) FROM request_events"), audit_count(store))


def test_log_creates_the_request_an_event_and_one_audit_entry(store):
    before = audit_count(store)
    logged = rq.log_request(store, MANAGER, GOOD)
    assert logged.request_id == "REQ-2026-0001" and logged.created
    row = rq.request_record(store, logged.request_id)
    assert row["status"] == "received" and row["kind"] == "delete"
    assert row["received_at"] == dt.datetime(2026, 11, 20, 9, 30, tzinfo=SHANGHAI)
    assert audit_count(store) == before + 1
    entry = store.rows("SELECT actor, role, action, entity_type, entity_id, values_after "
                       "FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    assert entry[:5] == ("manager.wang", "manager", "request.log", "rights_request",
                         "REQ-2026-0001")
    after = json.loads(entry[5])
    # Received Friday 20 November 2026: 15 working days, counted from Monday 23, end on
    # Friday 11 December.
    assert after["due_at"].startswith("2026-12-11T23:59:59")
    history = rq.request_history(store, logged.request_id)
    assert list(history["kind"]) == ["logged"]
    assert "due 2026-12-11 23:59" in history["detail"][0]
    assert rq.log_request(store, DPO, {**GOOD, "kind": "access"}).request_id == "REQ-2026-0002"


@pytest.mark.parametrize("actor", [AUDITOR, ADMIN])
def test_auditors_and_admins_may_not_log_or_record(store, actor):
    logged = rq.log_request(store, DPO, GOOD)
    snapshot = counts(store)
    with pytest.raises(PermissionDenied, match="Log a rights request"):
        rq.log_request(store, actor, GOOD)
    with pytest.raises(PermissionDenied, match="Record rights-request steps"):
        rq.record_step(store, actor, logged.request_id, "in_progress", {})
    assert counts(store) == snapshot


@pytest.mark.parametrize("field,value,message", [
    ("received_at", "", "Enter the date and time"),
    ("received_at", "yesterday", "Not a date and time"),
    ("received_at", "2026-11-24 10:30", "Cannot be in the future"),
    ("channel", "fax", "Unknown value 'fax'"),
    ("kind", None, "Choose the kind of request"),
    ("subject_ref", "   ", "Enter the subject"),
    ("subject_ref", "x" * 129, "At most 128 characters"),
    ("handler", "h" * 201, "At most 200 characters"),
])
def test_bad_input_names_the_field_and_writes_nothing(store, field, value, message):
    snapshot = counts(store)
    with pytest.raises(rq.ValidationError) as err:
        rq.log_request(store, MANAGER, {**GOOD, field: value})
    assert list(err.value.errors) == [field]
    assert message in err.value.errors[field]
    assert counts(store) == snapshot


def test_steps_move_the_status_forward_only(store):
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    r = rq.record_step(store, DPO, rid, "identity_verified", {"at": "2026-11-20 11:00"})
    assert r.status == "received"
    with pytest.raises(rq.ValidationError, match="already verified"):
        rq.record_step(store, DPO, rid, "identity_verified", {"at": "2026-11-20 12:00"})
    assert rq.record_step(store, MANAGER, rid, "in_progress", {}).status == "in_progress"
    with pytest.raises(rq.ValidationError, match="only moves forward"):
        rq.record_step(store, DPO, rid, "in_progress", {})
    done = rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-23 16:00"})
    assert done.status == "completed"
    row = rq.request_record(store, rid)
    assert row["completed_at"] == dt.datetime(2026, 11, 23, 16, 0, tzinfo=SHANGHAI)
    assert row["identity_verified_at"] == dt.datetime(2026, 11, 20, 11, 0, tzinfo=SHANGHAI)
    snapshot = counts(store)
    for kind in ("refused", "withdrawn", "in_progress", "completed"):
        with pytest.raises(rq.ValidationError) as err:
            rq.record_step(store, DPO, rid, kind, {"at": "2026-11-23 17:00",
                                                   "refusal_reason": "x"})
        assert "final" in err.value.errors["step"]
    assert counts(store) == snapshot
    rq.record_step(store, DPO, rid, "note", {"text": "Confirmation sent to the user."})
    history = rq.request_history(store, rid)
    assert list(history["kind"]) == ["logged", "identity_verified", "in_progress",
                                     "completed", "note"]
    assert list(history["actor"]) == ["manager.wang", "dpo.li", "manager.wang", "dpo.li",
                                      "dpo.li"]
    assert list(history["role"]) == ["manager", "dpo", "manager", "dpo", "dpo"]
    actions = [a for (a,) in store.rows("SELECT action FROM audit_log WHERE entity_id = ? "
                                        "ORDER BY seq", [rid])]
    assert actions == ["request.log"] + ["request.update"] * 4


def test_refusal_needs_a_reason_and_records_it(store):
    rid = rq.log_request(store, DPO, GOOD).request_id
    snapshot = counts(store)
    for reason in (None, "", "   "):
        with pytest.raises(rq.ValidationError) as err:
            rq.record_step(store, DPO, rid, "refused", {"at": "2026-11-21 10:00",
                                                        "refusal_reason": reason})
        assert "PIPL Art. 50" in err.value.errors["refusal_reason"]
    with pytest.raises(rq.ValidationError, match="At most 2,000 characters"):
        rq.record_step(store, DPO, rid, "refused", {"at": "2026-11-21 10:00",
                                                    "refusal_reason": "r" * 2001})
    assert counts(store) == snapshot
    r = rq.record_step(store, DPO, rid, "refused",
                       {"at": "2026-11-21 10:00", "refusal_reason": "Records kept by law."})
    assert r.status == "refused"
    row = rq.request_record(store, rid)
    assert row["refusal_reason"] == "Records kept by law."
    assert row["completed_at"] == dt.datetime(2026, 11, 21, 10, 0, tzinfo=SHANGHAI)


def test_step_times_cannot_be_future_or_before_receipt(store):
    rid = rq.log_request(store, DPO, GOOD).request_id
    snapshot = counts(store)
    with pytest.raises(rq.ValidationError, match="Cannot be in the future"):
        rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-25 10:00"})
    with pytest.raises(rq.ValidationError, match="before the request was received"):
        rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-19 10:00"})
    with pytest.raises(rq.ValidationError, match="Enter the date and time"):
        rq.record_step(store, DPO, rid, "completed", {})
    with pytest.raises(rq.ValidationError, match="No request"):
        rq.record_step(store, DPO, "REQ-2026-9999", "completed", {"at": "2026-11-21 10:00"})
    with pytest.raises(rq.ValidationError, match="Unknown step"):
        rq.record_step(store, DPO, rid, "deleted", {})
    assert counts(store) == snapshot


def test_withdrawn_is_final(store):
    rid = rq.log_request(store, DPO, GOOD).request_id
    assert rq.record_step(store, MANAGER, rid, "withdrawn", {}).status == "withdrawn"
    with pytest.raises(rq.ValidationError, match="withdrawn: that is final"):
        rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-21 10:00"})


def test_a_resubmitted_form_writes_once(store):
    first = rq.log_request(store, MANAGER, GOOD, token="form-1:abc")
    again = rq.log_request(store, MANAGER, GOOD, token="form-1:abc")
    assert again == rq.Logged(first.request_id, first.event_id, created=False)
    assert store.scalar("SELECT count(*) FROM rights_requests") == 1
    step = rq.record_step(store, DPO, first.request_id, "in_progress", {}, token="form-2:x")
    audits = audit_count(store)
    replay = rq.record_step(store, DPO, first.request_id, "in_progress", {}, token="form-2:x")
    assert replay.event_id == step.event_id and not replay.created
    assert audit_count(store) == audits
    with pytest.raises(rq.ValidationError, match="already used for another submit"):
        rq.record_step(store, DPO, first.request_id, "note", {"text": "x"}, token="form-2:x")


def test_the_queue_deadlines_in_sql_match_the_calendar(store):
    # Across the 2026 National Day holiday and its make-up days, a year end into 2027, and
    # just after midnight Shanghai time (the previous day in UTC).
    received = ["2026-09-18 10:00", "2026-09-30 23:00", "2026-11-01 09:00",
                "2026-11-24 00:05", "2026-11-23T16:05:00+00:00", "2026-01-05 08:00"]
    ids = [rq.log_request(store, DPO, {**GOOD, "received_at": r}).request_id
           for r in received]
    rq.record_step(store, DPO, ids[5], "completed", {"at": "2026-01-06 09:00"})
    with store.transaction() as cur:   # a request received late in 2026 (the clock allows it)
        cur.execute("UPDATE rights_requests SET received_at = ? WHERE request_id = ?",
                    [dt.datetime(2026, 12, 31, 12, tzinfo=SHANGHAI), ids[2]])
    df = rq.list_requests(store, statuses=(), limit=None)
    assert len(df) == 6
    for rec in df.to_dict("records"):
        row = rq.request_record(store, rec["request_id"])
        expected = workdays.request_deadline(row["received_at"], store.settings)
        assert str(rec["due_date"])[:10] == expected.due_date.isoformat()
        assert rec["due_at"].to_pydatetime() == expected.due_at, rec["request_id"]
        assert bool(rec["provisional"]) == expected.provisional, rec["request_id"]
    # Open first, nearest deadline on top; the completed one last.
    assert list(df["request_id"])[-1] == ids[5]
    open_due = list(df["due_at"])[:-1]
    assert open_due == sorted(open_due)
    by_id = df.set_index("request_id")
    assert bool(by_id.loc[ids[2], "provisional"])   # counted into 2027
    assert bool(by_id.loc[ids[0], "overdue"]) and not bool(by_id.loc[ids[3], "overdue"])


def test_queue_filters_summary_and_display(store):
    a = rq.log_request(store, DPO, GOOD).request_id
    b = rq.log_request(store, DPO, {**GOOD, "kind": "complaint", "channel": "phone",
                                    "received_at": "2026-10-20 10:00"}).request_id
    c = rq.log_request(store, DPO, {**GOOD, "kind": "access"}).request_id
    rq.record_step(store, DPO, c, "completed", {"at": "2026-11-21 10:00"})
    assert list(rq.list_requests(store)["request_id"]) == [b, a]     # open only, by deadline
    assert list(rq.list_requests(store, kinds=["complaint"])["request_id"]) == [b]
    assert list(rq.list_requests(store, channels=["email"], statuses=())["request_id"]) == [a, c]
    assert list(rq.list_requests(store, statuses=["completed"])["request_id"]) == [c]
    assert list(rq.list_requests(store, limit=1, offset=1)["request_id"]) == [a]
    summary = rq.queue_summary(store, statuses=())
    assert summary == {"shown": 3, "open": 2, "overdue": 1, "due_soon": 0}
    shown = rq.queue_display(rq.list_requests(store, statuses=()), FROZEN_NOW)
    left = dict(zip(shown["request_id"], shown["left"]))
    assert left[b] == "⚠ OVERDUE"
    n = workdays.working_days_left(FROZEN_NOW, workdays.request_deadline(
        dt.datetime(2026, 11, 20, 9, 30, tzinfo=SHANGHAI)).due_at)
    assert left[a] == f"{n} working days left" and n == 13
    assert left[c] == "answered in time"


def _retention(store, rows):
    with store.transaction() as cur:
        cur.executemany(
            "INSERT INTO retention_records (record_id, subject_ref, category, system, "
            "storage_region, collected_on, deleted_on, hold_reason, hold_reference) "
            "VALUES (?, ?, 'contact', 'crm', 'CN', DATE '2025-01-01', ?, ?, ?)", rows)


def test_the_deletion_proof_lists_what_was_kept_on_the_completion_date(store):
    _retention(store, [
        (1, "U-000042", None, None, None),                           # kept: fails
        (2, "U-000042", dt.date(2026, 11, 23), None, None),          # deleted that day: fine
        (3, "U-000042", dt.date(2026, 11, 24), None, None),          # deleted after: fails
        (4, "U-000042", None, "law_or_regulation", "Tax law"),       # on hold: fine
        (5, "U-000099", None, None, None),                           # another subject
    ])
    rid = rq.log_request(store, DPO, GOOD).request_id
    proof = rq.deletion_proof(store, rid)
    assert not proof.applies and "not completed" in proof.reason
    # Completed late on the 23rd in Shanghai: still the 23rd there (the 23rd in UTC too).
    rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-23 23:30"})
    proof = rq.deletion_proof(store, rid)
    assert proof.applies and proof.as_of == dt.date(2026, 11, 23)
    assert proof.count == 2 and list(proof.records["record_id"]) == [1, 3]
    other = rq.log_request(store, DPO, {**GOOD, "kind": "access"}).request_id
    rq.record_step(store, DPO, other, "completed", {"at": "2026-11-23 10:00"})
    assert not rq.deletion_proof(store, other).applies


def test_system_actor_may_log(store):
    assert rq.log_request(store, SYSTEM, GOOD).created

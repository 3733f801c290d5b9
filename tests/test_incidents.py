"""The incident tracker's service layer and clocks (dashboard/incidents.py, clocks.py).

The store's clock is frozen at FROZEN_NOW = 2026-11-24 10:00 Asia/Shanghai.
"""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from dashboard import audit
from dashboard import clocks as clk
from dashboard import incidents as inc
from dashboard.access import PermissionDenied
from dashboard.registers import NOTICE_CONTENTS, TEXT_CAP
from dashboard.settings import Settings

from conftest import AUDITOR, DPO, FROZEN_NOW, MANAGER, SHANGHAI, SYSTEM, make_store

UTC = dt.timezone.utc


def sh(text: str) -> dt.datetime:
    """A Shanghai wall time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def facts(**overrides) -> dict:
    values = {
        "title": "Customer database exposed",
        "description": "A test server exposed a copy of the CRM.",
        "incident_type": "data_leak",
        "occurred_at": "2026-11-23 22:00",
        "detected_at": "2026-11-24 08:00",
        "affected_subjects": "1,200,000",
        "affected_sensitive_subjects": "300",
        "data_categories": ["name", "phone", "bank_account"],
        "systems_affected": "CRM test copy",
    }
    values.update(overrides)
    return values


def log(store, actor=MANAGER, **overrides) -> str:
    return inc.log_incident(store, actor, facts(**overrides)).incident_id


def counts(store) -> tuple:
    return tuple(store.scalar(f"SELECT count(*) FROM {t}") for t in (
        "incidents", "incident_events", "incident_event_meta", "incident_requests",
        "audit_log"))


def row(store, incident_id: str) -> dict:
    return inc.incident_record(store, incident_id).row


def events(store, incident_id: str) -> list[tuple]:
    return store.rows('SELECT event_id, kind, actor, "at", detail FROM incident_events '
                      "WHERE incident_id = ? ORDER BY event_id", [incident_id])


NOTICE = {"at": "2026-11-24 09:40", "notification_channels": ["email", "sms"],
          "audience": "All 1.2 million affected users",
          "notice_contents": list(NOTICE_CONTENTS)}
RESOLVE = {"at": "2026-11-24 09:50", "root_cause": "Test copy made without masking",
           "remediation": "Copy deleted; masking enforced in the pipeline"}


def walk(store, incident_id: str, to: str) -> None:
    """Bring an incident from open to ``to`` through the steps."""
    if to in ("contained", "resolved", "closed"):
        inc.record_step(store, MANAGER, incident_id, "contained", {"at": "2026-11-24 09:00"})
    if to in ("resolved", "closed"):
        inc.record_step(store, MANAGER, incident_id, "resolved", RESOLVE)
    if to == "closed":
        inc.record_step(store, MANAGER, incident_id, "summary_filed",
                        {"at": "2026-11-24 09:55"})
        inc.record_step(store, MANAGER, incident_id, "closed", {"at": "2026-11-24 09:58"})


# -- logging ---------------------------------------------------------------------------
def test_log_creates_the_incident_its_logged_event_and_one_audit_entry(store):
    audit_before = store.scalar("SELECT max(seq) FROM audit_log")
    result = inc.log_incident(store, MANAGER, facts(), token="form-1")
    assert result == inc.Logged("INC-2026-0001", result.event_id, created=True)
    r = row(store, "INC-2026-0001")
    assert r["title"] == "Customer database exposed" and r["status"] == "open"
    assert r["detected_at"] == sh("2026-11-24 08:00")
    assert r["occurred_at"] == sh("2026-11-23 22:00")
    assert r["affected_subjects"] == 1_200_000 and r["affected_sensitive_subjects"] == 300
    assert r["data_categories"] == ["name", "phone", "bank_account"]
    assert r["grade"] == "relatively_major"          # suggested from 1.2 M affected
    assert r["reported_by"] == MANAGER.name           # defaults to who logs it
    assert r["emergency_plan_activated_at"] is None and r["resolved_at"] is None
    [(event_id, kind, actor, at, detail)] = events(store, "INC-2026-0001")
    assert (event_id, kind, actor) == (result.event_id, "logged", MANAGER.name)
    assert at == FROZEN_NOW
    assert "detected 2026-11-24 08:00 +08:00" in detail.lower()
    entries = store.rows("SELECT actor, role, action, entity_type, entity_id, values_before, "
                         "values_after FROM audit_log WHERE seq > ?", [audit_before])
    assert len(entries) == 1
    actor, role, action, etype, eid, before, after = entries[0]
    assert (actor, role, action, etype, eid, before) == (
        MANAGER.name, "manager", "incident.log", "incident", "INC-2026-0001", None)
    assert json.loads(after)["affected_subjects"] == 1_200_000
    assert audit.verify(store).ok


def test_ids_number_per_year_of_detection_in_shanghai_time(store):
    assert log(store) == "INC-2026-0001"
    assert log(store) == "INC-2026-0002"
    # 2025-12-31 17:00 UTC is 2026-01-01 01:00 in Shanghai: a 2026 incident.
    assert log(store, detected_at="2025-12-31T17:00:00+00:00",
               occurred_at=None) == "INC-2026-0003"
    assert log(store, detected_at="2025-12-31 23:59", occurred_at=None) == "INC-2025-0001"
    # Imported ids count; ids that do not follow the pattern are skipped.
    with store.write(SYSTEM, "register.edit") as w:
        for iid in ("INC-2026-0041", "INC-2026-X7"):
            w.execute("INSERT INTO incidents (incident_id, title, incident_type, grade, "
                      "detected_at, status) VALUES (?, 't', 'other', 'general', ?, 'open')",
                      [iid, FROZEN_NOW])
        w.audit("test.import", "incident")
    assert log(store) == "INC-2026-0042"


@pytest.mark.parametrize("affected, grade", [
    (0, "general"), (999_999, "general"), (1_000_000, "relatively_major"),
    (9_999_999, "relatively_major"), (10_000_000, "major"), (99_999_999, "major"),
    (100_000_000, "particularly_major"),
])
def test_the_suggested_grade_follows_the_inc_grade_thresholds(store, affected, grade):
    assert clk.suggest_grade(affected, store.settings) == grade
    iid = log(store, affected_subjects=affected, affected_sensitive_subjects=0)
    assert row(store, iid)["grade"] == grade


def test_grade_thresholds_are_settings():
    s = Settings({"grade_relatively_major_subjects": 100, "grade_major_subjects": 1000,
                  "grade_particularly_major_subjects": 5000})
    assert [clk.suggest_grade(n, s) for n in (99, 100, 1000, 5000)] == [
        "general", "relatively_major", "major", "particularly_major"]


def test_a_manager_may_grade_higher_and_lower_with_the_finding_said(store):
    higher = log(store, affected_subjects=10, affected_sensitive_subjects=0, grade="major")
    assert row(store, higher)["grade"] == "major"
    lower = log(store, affected_subjects=20_000_000, grade="general")
    assert row(store, lower)["grade"] == "general"
    assert "INC-GRADE" in events(store, lower)[0][4]
    flags = clk.incident_flags(row(store, lower), store.settings, store.now(), None)
    assert "INC-GRADE" in [f.rule_id for f in flags]
    preview = inc.preview(facts(affected_subjects="20000000", grade="general"),
                          store.settings, store.now())
    assert preview.suggested_grade == "major" and preview.below_suggestion


def test_times_without_offset_are_shanghai_and_other_zones_are_honoured(store):
    a = log(store, detected_at="2026-11-24 08:00")
    b = log(store, detected_at="2026-11-24T00:00:00Z", occurred_at=None)
    c = log(store, detected_at=dt.datetime(2026, 11, 24, 0, 0), timezone="UTC",
            occurred_at=None)
    assert row(store, a)["detected_at"] == row(store, b)["detected_at"] == \
        row(store, c)["detected_at"] == sh("2026-11-24 08:00")


# -- bad input: one message per field, nothing written -------------------------------------
BAD_FACTS = [
    ({"title": "  "}, "title", "Enter a title"),
    ({"title": "x" * 201}, "title", "At most 200 characters; this has 201"),
    ({"description": "x" * (TEXT_CAP + 1)}, "description", "At most 10,000 characters"),
    ({"systems_affected": "s" * 1001}, "systems_affected", "At most 1,000"),
    ({"reported_by": "r" * 201}, "reported_by", "At most 200"),
    ({"incident_type": "meteor"}, "incident_type", "Unknown value 'meteor'"),
    ({"incident_type": None}, "incident_type", "Choose the type"),
    ({"grade": "catastrophic"}, "grade", "Unknown value 'catastrophic'"),
    ({"detected_at": None}, "detected_at", "Enter the date and time"),
    ({"detected_at": "yesterday morning"}, "detected_at", "Not a date and time"),
    ({"detected_at": "2026-11-24"}, "detected_at", "Not a date and time"),
    ({"detected_at": "2026-11-24 10:01"}, "detected_at", "Cannot be in the future"),
    ({"occurred_at": "2026-12-01 00:00"}, "occurred_at", "Cannot be in the future"),
    ({"occurred_at": "2026-11-24 08:30"}, "detected_at", "Detection cannot be before the "
                                                         "occurrence (2026-11-24 08:30 +08:00)"),
    ({"affected_subjects": "-5"}, "affected_subjects", "Cannot be negative"),
    ({"affected_subjects": "lots"}, "affected_subjects", "Not a whole number: 'lots'"),
    ({"affected_subjects": 2.5}, "affected_subjects", "Not a whole number"),
    ({"affected_subjects": ""}, "affected_subjects", "Enter a whole number (0 if none)"),
    ({"affected_subjects": "10000000001"}, "affected_subjects", "not plausible"),
    ({"affected_sensitive_subjects": "-1"}, "affected_sensitive_subjects", "Cannot be negative"),
    ({"affected_sensitive_subjects": "1,200,001"}, "affected_sensitive_subjects",
     "Cannot exceed the affected subjects (1,200,000)"),
    ({"data_categories": ["name", "dna_sequence"]}, "data_categories",
     "Unknown data category: dna_sequence"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
]


@pytest.mark.parametrize("overrides, field, message", BAD_FACTS,
                         ids=[f"{c[1]}:{c[2][:20]}" for c in BAD_FACTS])
def test_bad_facts_name_the_field_and_write_nothing(store, overrides, field, message):
    before = counts(store)
    with pytest.raises(inc.ValidationError) as caught:
        inc.log_incident(store, MANAGER, facts(**overrides), token="bad-form")
    assert message in caught.value.errors[field], caught.value.errors
    assert counts(store) == before


def test_every_bad_field_is_reported_at_once(store):
    with pytest.raises(inc.ValidationError) as caught:
        inc.log_incident(store, MANAGER, facts(title="", affected_subjects="-3",
                                               detected_at="soon", data_categories=["x"]))
    assert set(caught.value.errors) == {"title", "affected_subjects", "detected_at",
                                        "data_categories"}
    assert "Title: Enter a title" in str(caught.value)


# -- idempotency and permissions --------------------------------------------------------------
def test_a_double_submit_returns_the_first_incident(store):
    first = inc.log_incident(store, MANAGER, facts(), token="form-7")
    before = counts(store)
    second = inc.log_incident(store, MANAGER, facts(), token="form-7")
    assert second == inc.Logged(first.incident_id, first.event_id, created=False)
    assert counts(store) == before
    # The token is the form's: using it for another kind of write is refused.
    with pytest.raises(inc.ValidationError, match="already used"):
        inc.record_step(store, MANAGER, first.incident_id, "contained",
                        {"at": "2026-11-24 09:00"}, token="form-7")
    step = inc.record_step(store, MANAGER, first.incident_id, "note", {"text": "Call at 11"},
                           token="note-1")
    again = inc.record_step(store, MANAGER, first.incident_id, "note", {"text": "Call at 11"},
                            token="note-1")
    assert again.event_id == step.event_id and not again.created
    assert store.scalar("SELECT count(*) FROM incident_events WHERE kind = 'note'") == 1


def test_form_tokens_follow_the_form_instance_and_its_content():
    a = inc.form_token("i1", facts())
    assert a == inc.form_token("i1", facts())
    assert a != inc.form_token("i1", facts(title="Another"))
    assert a != inc.form_token("i2", facts())
    assert len(a) <= 100


def test_an_auditor_is_refused_and_nothing_is_written(store):
    iid = log(store)
    before = counts(store)
    with pytest.raises(PermissionDenied, match="auditor"):
        inc.log_incident(store, AUDITOR, facts())
    with pytest.raises(PermissionDenied):      # refused before the input is even read
        inc.log_incident(store, AUDITOR, {"title": ""})
    with pytest.raises(PermissionDenied):
        inc.record_step(store, AUDITOR, iid, "contained", {"at": "2026-11-24 09:00"})
    with pytest.raises(PermissionDenied):
        inc.correct(store, AUDITOR, iid, "facts", {"grade": "major"}, "bigger")
    assert counts(store) == before
    assert row(store, iid)["status"] == "open"


def test_the_dpo_and_the_command_line_may_log_and_update(store):
    iid = log(store, actor=DPO)
    inc.record_step(store, SYSTEM, iid, "contained", {"at": "2026-11-24 09:00"})
    assert [e[2] for e in events(store, iid)] == [DPO.name, SYSTEM.name]


# -- steps and transitions --------------------------------------------------------------------
def test_each_step_sets_its_columns_moves_the_status_and_appends_an_event(store):
    iid = log(store)
    plan = [
        ("emergency_plan_activated", {"at": "2026-11-24 08:10"},
         {"emergency_plan_activated_at": sh("2026-11-24 08:10")}, "open"),
        ("regulator_reported", {"at": "2026-11-24 09:10", "regulator": "Guangdong CAC",
                                "regulator_reference": "GD-2026-113"},
         {"regulator_reported_at": sh("2026-11-24 09:10"), "regulator": "Guangdong CAC",
          "regulator_reference": "GD-2026-113"}, "open"),
        ("police_reported", {"at": "2026-11-24 09:20", "police_reference": "PSB 77"},
         {"police_reported_at": sh("2026-11-24 09:20")}, "open"),
        ("contained", {"at": "2026-11-24 09:30"}, {"contained_at": sh("2026-11-24 09:30")},
         "contained"),
        ("users_notified", NOTICE,
         {"users_notified_at": sh("2026-11-24 09:40"),
          "notification_channels": ["email", "sms"], "notice_contents": list(NOTICE_CONTENTS)},
         "contained"),
        ("resolved", RESOLVE,
         {"resolved_at": sh("2026-11-24 09:50"), "root_cause": RESOLVE["root_cause"],
          "remediation": RESOLVE["remediation"]}, "resolved"),
        ("summary_filed", {"at": "2026-11-24 09:55", "summary_reference": "SUM-1"},
         {"summary_filed_at": sh("2026-11-24 09:55")}, "resolved"),
        ("note", {"text": "Lessons learned meeting booked"}, {}, "resolved"),
        ("closed", {"at": "2026-11-24 09:58"}, {}, "closed"),
    ]
    for kind, values, expected, status in plan:
        audit_before = store.scalar("SELECT max(seq) FROM audit_log")
        status_before = row(store, iid)["status"]
        result = inc.record_step(store, MANAGER, iid, kind, values)
        assert result.created and result.status == status
        r = row(store, iid)
        assert {k: r[k] for k in expected} == expected
        assert r["status"] == status
        last = events(store, iid)[-1]
        assert (last[0], last[1], last[2]) == (result.event_id, kind, MANAGER.name)
        assert last[3] == (sh(values["at"].replace(" ", "T")) if "at" in values
                           else FROZEN_NOW)
        [(action, before, after)] = store.rows(
            "SELECT action, values_before, values_after FROM audit_log WHERE seq > ?",
            [audit_before])
        assert action == "incident.update"
        assert json.loads(before)["status"] == status_before
        assert json.loads(after)["status"] == status and json.loads(after)["step"] == kind
    assert [e[1] for e in events(store, iid)] == ["logged"] + [p[0] for p in plan]
    details = " | ".join(e[4] for e in events(store, iid))
    assert "Reported to Guangdong CAC (reference GD-2026-113)" in details
    assert "Users notified by email, sms: All 1.2 million affected users" in details
    assert audit.verify(store).ok


V2_STEPS = ["pi_authority_notified", "police_reported", "users_notified",
            "user_notice_exempted", "grading_facts"]
TRANSITIONS = {
    "open": ["emergency_plan_activated", "contained", "regulator_reported", *V2_STEPS, "note"],
    "contained": ["emergency_plan_activated", "regulator_reported", *V2_STEPS, "resolved",
                  "note"],
    "resolved": ["emergency_plan_activated", "regulator_reported", *V2_STEPS,
                 "summary_filed", "closed", "note"],
    "closed": ["note"],
}


@pytest.mark.parametrize("status", list(TRANSITIONS))
def test_which_steps_each_status_allows(store, status):
    iid = log(store)
    walk(store, iid, status)
    record = inc.incident_record(store, iid)
    assert record.status == status
    expected = [k for k in TRANSITIONS[status]
                if not (k == "summary_filed" and record.row["summary_filed_at"])]
    assert inc.allowed_steps(record) == expected
    for kind in set(inc.STEP_ORDER) - set(expected):
        before = counts(store)
        with pytest.raises(inc.ValidationError) as caught:
            inc.record_step(store, MANAGER, iid, kind, {"at": "2026-11-24 09:59",
                                                        "close_reason": "x"})
        assert caught.value.errors["step"] == inc.step_refusal(record, kind)
        assert counts(store) == before


@pytest.mark.parametrize("status, kind, message", [
    ("open", "resolved", "Record containment first"),
    ("open", "summary_filed", "Record the resolution first"),
    ("contained", "summary_filed", "Record the resolution first"),
    ("contained", "closed", "only a resolved incident is closed"),
    ("contained", "contained", "Already past containment"),
    ("closed", "users_notified", "The incident is closed"),
])
def test_a_step_before_the_one_it_requires_is_refused(store, status, kind, message):
    iid = log(store)
    walk(store, iid, status)
    before = counts(store)
    with pytest.raises(inc.ValidationError) as caught:
        inc.record_step(store, MANAGER, iid, kind, RESOLVE)
    assert message in caught.value.errors["step"]
    assert counts(store) == before


def test_a_step_is_recorded_once_and_then_corrected(store):
    iid = log(store)
    inc.record_step(store, MANAGER, iid, "emergency_plan_activated", {"at": "2026-11-24 08:05"})
    with pytest.raises(inc.ValidationError, match="Already recorded.*correction"):
        inc.record_step(store, MANAGER, iid, "emergency_plan_activated",
                        {"at": "2026-11-24 08:06"})


def test_closing_needs_the_summary_or_a_stated_reason(store):
    iid = log(store)
    walk(store, iid, "resolved")
    with pytest.raises(inc.ValidationError) as caught:
        inc.record_step(store, MANAGER, iid, "closed", {"at": "2026-11-24 09:59"})
    assert "state why" in caught.value.errors["close_reason"]
    result = inc.record_step(store, MANAGER, iid, "closed",
                             {"at": "2026-11-24 09:59",
                              "close_reason": "General incident: no report to the CAC"})
    assert result.status == "closed"
    assert "General incident" in events(store, iid)[-1][4]
    other = log(store)
    walk(store, other, "closed")                   # summary filed: no reason needed
    assert row(store, other)["status"] == "closed"


BAD_STEPS = [
    ("contained", {"at": "2026-11-24 07:59"}, "at", "Cannot be before detection "
                                                    "(2026-11-24 08:00 +08:00)"),
    ("contained", {"at": "2026-11-24 10:05"}, "at", "Cannot be in the future"),
    ("contained", {"at": None}, "at", "Enter the date and time"),
    ("contained", {"at": "noon"}, "at", "Not a date and time"),
    ("users_notified", {**NOTICE, "at": "2026-11-24 07:00"}, "at", "Cannot be before detection"),
    ("users_notified", {**NOTICE, "notification_channels": ["fax"]}, "notification_channels",
     "Unknown channel: fax"),
    ("users_notified", {**NOTICE, "notification_channels": []}, "notification_channels",
     "Choose at least one channel"),
    ("users_notified", {**NOTICE, "notice_contents": ["cause", "apology"]}, "notice_contents",
     "Unknown notice content: apology"),
    ("users_notified", {**NOTICE, "audience": ""}, "audience", "Say who was notified"),
    ("users_notified", {**NOTICE, "audience": "a" * 501}, "audience", "At most 500"),
    ("regulator_reported", {"at": "2026-11-24 09:00", "regulator": ""}, "regulator",
     "Name the authority"),
    ("regulator_reported", {"at": "2026-11-24 09:00", "regulator": "CAC",
                            "regulator_reference": "r" * 201}, "regulator_reference",
     "At most 200"),
    ("note", {"text": "  "}, "text", "Write the note"),
    ("note", {"text": "n" * (TEXT_CAP + 1)}, "text", "At most 10,000"),
]


@pytest.mark.parametrize("kind, values, field, message", BAD_STEPS,
                         ids=[f"{c[0]}-{c[2]}-{c[3][:15]}" for c in BAD_STEPS])
def test_bad_step_input_names_the_field_and_writes_nothing(store, kind, values, field, message):
    iid = log(store)
    before = counts(store)
    with pytest.raises(inc.ValidationError) as caught:
        inc.record_step(store, MANAGER, iid, kind, values)
    assert message in caught.value.errors[field], caught.value.errors
    assert counts(store) == before


def test_step_times_keep_the_order_of_handling(store):
    iid = log(store)
    inc.record_step(store, MANAGER, iid, "contained", {"at": "2026-11-24 09:00"})
    with pytest.raises(inc.ValidationError) as caught:
        inc.record_step(store, MANAGER, iid, "resolved", {**RESOLVE, "at": "2026-11-24 08:30"})
    assert caught.value.errors["at"] == "Cannot be before containment (2026-11-24 09:00 +08:00)."
    inc.record_step(store, MANAGER, iid, "resolved", RESOLVE)
    with pytest.raises(inc.ValidationError, match="Cannot be before resolution"):
        inc.record_step(store, MANAGER, iid, "summary_filed", {"at": "2026-11-24 09:45"})
    inc.record_step(store, MANAGER, iid, "summary_filed", {"at": "2026-11-24 09:55"})
    with pytest.raises(inc.ValidationError, match="Cannot be before the summary report"):
        inc.record_step(store, MANAGER, iid, "closed", {"at": "2026-11-24 09:52"})


def test_unknown_incident_and_unknown_step_are_refused(store):
    with pytest.raises(inc.ValidationError, match="No incident 'INC-2026-9999'"):
        inc.record_step(store, MANAGER, "INC-2026-9999", "contained", {"at": "2026-11-24 09:00"})
    iid = log(store)
    with pytest.raises(inc.ValidationError, match="Unknown step 'celebrated'"):
        inc.record_step(store, MANAGER, iid, "celebrated", {})


# -- corrections --------------------------------------------------------------------------------
def test_a_correction_is_a_new_event_that_supersedes_and_updates_the_row(store):
    iid = log(store)
    step = inc.record_step(store, MANAGER, iid, "regulator_reported",
                           {"at": "2026-11-24 09:10", "regulator": "Guangdong CAC",
                            "regulator_reference": "GD-113"})
    old_events = events(store, iid)
    first = inc.correct(store, DPO, iid, "regulator_reported",
                        {"regulator_reference": "GD-2026-113"}, "Typo in the reference")
    assert first.created
    r = row(store, iid)
    assert r["regulator_reference"] == "GD-2026-113" and r["regulator"] == "Guangdong CAC"
    assert r["regulator_reported_at"] == sh("2026-11-24 09:10")
    # Nothing edited in place: the earlier events are exactly as they were.
    assert events(store, iid)[: len(old_events)] == old_events
    timeline = inc.incident_timeline(store, iid).set_index("event_id")
    assert timeline.loc[first.event_id, "kind"] == "correction"
    assert timeline.loc[first.event_id, "supersedes"] == step.event_id
    assert timeline.loc[step.event_id, "superseded_by"] == first.event_id
    assert "GD-113 → GD-2026-113" in timeline.loc[first.event_id, "detail"]
    assert "Typo in the reference" in timeline.loc[first.event_id, "detail"]
    # A second correction supersedes the first one, and keeps its values.
    second = inc.correct(store, DPO, iid, "regulator_reported", {"at": "2026-11-24 09:05"},
                         "Time from the CAC receipt")
    timeline = inc.incident_timeline(store, iid).set_index("event_id")
    assert timeline.loc[second.event_id, "supersedes"] == first.event_id
    r = row(store, iid)
    assert r["regulator_reported_at"] == sh("2026-11-24 09:05")
    assert r["regulator_reference"] == "GD-2026-113"
    [(before, after)] = store.rows(
        "SELECT values_before, values_after FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert json.loads(before)["at"].startswith("2026-11-24T09:10")
    assert json.loads(after)["at"].startswith("2026-11-24T09:05")
    assert store.scalar("SELECT count(*) FROM incident_events WHERE incident_id = ?",
                        [iid]) == 4


def test_correcting_the_facts_regrades_and_moves_the_clocks(store):
    iid = log(store, affected_subjects=500, affected_sensitive_subjects=0)
    assert row(store, iid)["grade"] == "general"
    inc.correct(store, MANAGER, iid, "facts",
                {"affected_subjects": "12,000,000", "grade": "major"}, "Full scope known")
    r = row(store, iid)
    assert (r["affected_subjects"], r["grade"]) == (12_000_000, "major")
    regulator = clk.incident_clocks(r, store.settings, store.now())[0]
    assert regulator.state == clk.DUE and regulator.deadline == sh("2026-11-24 12:00")
    inc.correct(store, MANAGER, iid, "facts", {"detected_at": "2026-11-24 05:00"},
                "Detection was at 05:00 per the SOC log")
    regulator = clk.incident_clocks(row(store, iid), store.settings, store.now())[0]
    assert regulator.state == clk.OVERDUE


@pytest.mark.parametrize("target, values, reason, field, message", [
    ("facts", {"detected_at": "2026-11-24 09:30"}, "r", "detected_at",
     "Cannot be after containment (2026-11-24 09:00 +08:00)"),
    ("facts", {"affected_sensitive_subjects": "5000000"}, "r", "affected_sensitive_subjects",
     "Cannot exceed"),
    ("facts", {"title": ""}, "r", "title", "Enter a title"),
    ("facts", {"grade": "major"}, "  ", "reason", "Say why"),
    ("facts", {"title": "Customer database exposed"}, "r", "changes", "Nothing changed"),
    ("facts", {"colour": "red"}, "r", "colour", "has no field"),
    ("contained", {"at": "2026-11-24 07:00"}, "r", "at", "Cannot be before detection"),
    ("resolved", {"root_cause": "x"}, "r", "target", "not recorded yet"),
    ("note", {"text": "x"}, "r", "target", "Cannot correct 'note'"),
])
def test_bad_corrections_write_nothing(store, target, values, reason, field, message):
    iid = log(store)
    inc.record_step(store, MANAGER, iid, "contained", {"at": "2026-11-24 09:00"})
    before = counts(store)
    with pytest.raises(inc.ValidationError) as caught:
        inc.correct(store, MANAGER, iid, target, values, reason)
    assert message in caught.value.errors[field], caught.value.errors
    assert counts(store) == before


def test_corrections_on_a_closed_incident_keep_the_close_after_the_steps(store):
    iid = log(store)
    walk(store, iid, "closed")
    record = inc.incident_record(store, iid)
    assert record.closed_at == sh("2026-11-24 09:58")
    assert "closed" in inc.correction_targets(record)
    with pytest.raises(inc.ValidationError, match="Cannot be after closing"):
        inc.correct(store, MANAGER, iid, "summary_filed", {"at": "2026-11-24 09:59"}, "r")
    inc.correct(store, MANAGER, iid, "closed", {"close_reason": "Handled"}, "Add the reason")
    assert inc.current_values(inc.incident_record(store, iid), "closed")["close_reason"] == \
        "Handled"


# -- clocks at a frozen time ----------------------------------------------------------------------
def incident(**cols) -> dict:
    base = {"detected_at": sh("2026-11-24 08:00"), "grade": "major",
            "affected_subjects": 12_000_000}
    base.update(cols)
    return base


def clocks_at(row_: dict, settings: Settings | None = None, now=FROZEN_NOW) -> dict:
    return {c.key: c for c in clk.incident_clocks(row_, settings or Settings(), now)}


def test_due_clocks_show_the_deadline_and_the_right_countdown():
    c = clocks_at(incident())
    assert c["regulator"].state == clk.DUE
    assert c["regulator"].deadline == sh("2026-11-24 12:00")
    assert c["regulator"].remaining == dt.timedelta(hours=2)
    assert clk.countdown(c["regulator"]) == "2 h left"
    assert c["user_notice"].deadline == sh("2026-11-25 08:00")        # 24 h (v2)
    assert clk.countdown(c["user_notice"]) == "22 h left"
    assert clk.format_time(c["regulator"].deadline, "Asia/Shanghai") == "2026-11-24 12:00 +08:00"
    assert clk.next_deadline(list(c.values())).key == "regulator"


def test_overdue_met_late_and_not_applicable():
    c = clocks_at(incident(detected_at=sh("2026-11-24 05:15")))
    assert c["regulator"].state == clk.OVERDUE
    assert clk.countdown(c["regulator"]) == "overdue by 45 min"
    later = sh("2026-11-24 12:30")
    c = clocks_at(incident(regulator_reported_at=sh("2026-11-24 12:00")), now=later)
    assert c["regulator"].state == clk.MET          # at the deadline is on time
    c = clocks_at(incident(regulator_reported_at=sh("2026-11-24 12:01")), now=later)
    assert c["regulator"].state == clk.LATE
    assert clk.countdown(c["regulator"]) == "done 1 min after the deadline"
    c = clocks_at(incident(grade="general", affected_subjects=0))
    assert c["regulator"].state == c["user_notice"].state == clk.NOT_APPLICABLE
    assert c["summary"].state == clk.NOT_APPLICABLE  # not resolved: not started
    assert clk.next_deadline(list(c.values())) is None


def test_the_summary_clock_runs_from_the_end_of_handling():
    c = clocks_at(incident(resolved_at=sh("2026-11-01 10:00")))
    assert c["summary"].state == clk.DUE
    assert c["summary"].deadline == sh("2026-12-01 10:00")
    assert clk.countdown(c["summary"]) == "7 d left"
    c = clocks_at(incident(resolved_at=sh("2026-10-01 10:00")))
    assert c["summary"].state == clk.OVERDUE
    c = clocks_at(incident(resolved_at=sh("2026-10-01 10:00"),
                           summary_filed_at=sh("2026-10-20 10:00")))
    assert c["summary"].state == clk.MET


def test_the_cii_setting_switches_the_regulator_clock_to_one_hour(store):
    cii = Settings({"cii_operator": True})
    c = clocks_at(incident(), cii)
    assert c["regulator"].deadline == sh("2026-11-24 09:00")
    assert c["regulator"].state == clk.OVERDUE
    assert "1 h" in clk.clock_help(cii)["regulator"]
    assert clocks_at(incident(detected_at=sh("2026-11-24 09:30")), cii)["regulator"].state == \
        clk.DUE
    c = clocks_at(incident(), Settings({"user_notice_hours": 1}))
    assert c["user_notice"].state == clk.OVERDUE


def test_a_cii_store_uses_its_setting_end_to_end(tmp_path):
    cii = make_store(tmp_path / "cii.duckdb", settings=Settings({"cii_operator": True}))
    try:
        iid = log(cii, affected_subjects=2_000_000)
        regulator = clk.incident_clocks(row(cii, iid), cii.settings, cii.now())[0]
        assert regulator.deadline == sh("2026-11-24 09:00")
        assert regulator.state == clk.OVERDUE
    finally:
        cii.close()


def test_help_text_cites_each_clock_and_its_confidence():
    text = clk.clock_help(Settings())
    assert "Art. 4 [V]" in text["regulator"] and "within 4 h" in text["regulator"]
    assert "PIPL Art. 57 [V]" in text["user_notice"] and "[P]" in text["user_notice"]
    assert "Art. 8 [V2]" in text["summary"] and "30 days" in text["summary"]


def test_flags_for_the_other_incident_rules():
    now = FROZEN_NOW
    s = Settings()
    r = incident(grade="general", users_notified_at=sh("2026-11-24 09:00"),
                 notice_contents=["cause"], status="open")
    ids = {f.rule_id for f in clk.incident_flags(r, s, now, sh("2026-11-24 09:00"))}
    assert ids == {"INC-EMERGENCY-PLAN", "INC-GRADE", "INC-NOTICE-CONTENT"}
    stale = incident(detected_at=sh("2026-11-01 08:00"), status="open",
                     emergency_plan_activated_at=sh("2026-11-01 08:00"))
    assert [f.rule_id for f in clk.incident_flags(stale, s, now, sh("2026-11-09 10:00"))] == \
        ["INC-STALE"]
    assert clk.incident_flags(stale, s, now, sh("2026-11-10 10:00")) == []   # exactly 14 days


# -- the list -------------------------------------------------------------------------------------
def listed(store, **filters):
    return inc.list_display(inc.list_incidents(store, **filters), store.now())


def test_the_list_puts_open_incidents_first_by_nearest_deadline(store):
    closed = log(store, title="closed one")
    walk(store, closed, "closed")
    quiet = log(store, title="no clock", affected_subjects=0, affected_sensitive_subjects=0)
    due = log(store, title="due in 2 h")                              # regulator 12:00
    overdue = log(store, title="overdue", detected_at="2026-11-20 08:00",
                  occurred_at=None, incident_type="ransomware")
    table = listed(store)
    assert list(table["incident_id"]) == [overdue, due, quiet, closed]
    assert list(table["overdue"]) == [True, False, False, False]
    assert table.loc[1, "countdown"] == "2 h left"
    assert table.loc[1, "next_clock"] == "Report to the regulator"
    assert table.loc[0, "regulator_clock"] == "Overdue · overdue by 3 d 22 h"
    assert table.loc[0, "countdown"] == "overdue by 3 d 22 h"
    assert table.loc[3, "summary_clock"] == "Met"
    assert table.loc[2, "flags"] == "INC-EMERGENCY-PLAN"
    assert list(listed(store, types=["ransomware"])["incident_id"]) == [overdue]
    assert set(listed(store, statuses=["closed"])["incident_id"]) == {closed}
    assert set(listed(store, grades=["general"])["incident_id"]) == {quiet}
    assert list(listed(store, overdue_only=True)["incident_id"]) == [overdue]
    days = listed(store, detected_from="2026-11-20", detected_to="2026-11-20")
    assert list(days["incident_id"]) == [overdue]
    assert len(listed(store, detected_from=dt.date(2026, 11, 21))) == 3
    assert list(inc.list_incidents(store, limit=2, offset=1)["incident_id"]) == [due, quiet]
    assert inc.list_summary(store) == {"shown": 4, "not_closed": 3, "overdue": 1,
                                       "due_soon": 1}
    assert inc.list_summary(store, now="2026-11-24T11:00:00+08:00", due_hours=1)["due_soon"] == 1
    assert inc.list_summary(store, types=["ddos"]) == dict.fromkeys(
        ("shown", "not_closed", "overdue", "due_soon"), 0)
    # At 12:01 the 12:00 regulator deadlines pass: the due one's, and the closed one's
    # (closed without a report: closing does not stop a clock).
    assert inc.list_summary(store, now="2026-11-24T12:01:00+08:00")["overdue"] == 3


def test_the_list_sql_agrees_with_the_clocks_row_by_row(store):
    """The list computes the clocks in SQL (it sorts a whole register); the page computes
    them in Python. Random incidents with deadlines falling on both sides of "now" and
    exactly on it, under two settings."""
    import random
    rng = random.Random(7)
    base = sh("2026-11-24 10:00")
    rows = []
    for n in range(300):
        detected = base - dt.timedelta(minutes=rng.choice([0, 1, 60, 239, 240, 241, 4320,
                                                           4321, rng.randrange(0, 200_000)]))
        def maybe(after_minutes):
            t = detected + dt.timedelta(minutes=after_minutes)
            return t if t <= base and rng.random() < 0.5 else None
        resolved = maybe(rng.randrange(0, 100_000))
        rows.append((f"INC-2026-{n + 1:04d}", rng.choice(inc.GRADES), detected,
                     rng.choice([0, 5, 1_000_000, 20_000_000, None]),
                     maybe(rng.choice([240, 241, rng.randrange(0, 6000)])),
                     maybe(rng.choice([4320, 4321, rng.randrange(0, 9000)])),
                     rng.choice([None, [], ["cause"], list(NOTICE_CONTENTS)]),
                     resolved,
                     (resolved + dt.timedelta(minutes=rng.choice([43200, 43201, 10])))
                     if resolved and rng.random() < 0.5 else None,
                     maybe(5) if rng.random() < 0.5 else None,
                     "resolved" if resolved else rng.choice(["open", "contained"])))
    with store.write(SYSTEM, "register.edit") as w:
        for r in rows:
            w.execute("INSERT INTO incidents (incident_id, title, incident_type, grade, "
                      "detected_at, affected_subjects, regulator_reported_at, "
                      "users_notified_at, notice_contents, resolved_at, summary_filed_at, "
                      "emergency_plan_activated_at, status) "
                      "VALUES (?, 't', 'other', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(r))
        w.audit("test.import", "incident")
    for settings in (store.settings, Settings({"cii_operator": True, "user_notice_hours": 24})):
        store.settings = settings
        table = inc.list_incidents(store)
        assert len(table) == len(rows)
        for rec in table.to_dict("records"):
            record = inc.incident_record(store, rec["incident_id"])
            clocks = clk.incident_clocks(record.row, settings, store.now())
            for c in clocks:
                assert rec[f"{c.key}_state"] == c.state, (rec["incident_id"], c.key)
                deadline = rec[f"{c.key}_deadline"]
                assert (None if pd.isna(deadline) else deadline) == c.deadline
            nxt = clk.next_deadline(clocks)
            assert (None if pd.isna(rec["next_deadline"]) else rec["next_deadline"]) == \
                (nxt.deadline if nxt else None)
            assert rec["overdue"] == any(c.state == clk.OVERDUE for c in clocks)
            flags = clk.incident_flags(record.row, settings, store.now(), record.last_event_at)
            assert list(rec["flags"]) == [f.rule_id for f in flags]

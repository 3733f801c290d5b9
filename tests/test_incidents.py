"""The incident tracker's service layer and clocks (dashboard/incidents.py, clocks.py).

The store's clock is frozen at FROZEN_NOW = 2026-11-24 10:00 Asia/Shanghai.
"""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from dashboard import audit, engine
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
     "occurrence (24 Nov 2026 08:30 Beijing time)"),
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
                                                    "(24 Nov 2026 08:00 Beijing time)"),
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
    assert caught.value.errors["at"] == \
        "Cannot be before containment (24 Nov 2026 09:00 Beijing time)."
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
     "Cannot be after containment (24 Nov 2026 09:00 Beijing time)"),
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
    exactly on it, with the version 2 facts (CII, crime, exemption, loss, important data),
    some steps recorded after "now" (not done yet), under three settings."""
    import random
    rng = random.Random(7)
    base = sh("2026-11-24 10:00")
    rows = []
    for n in range(400):
        detected = base - dt.timedelta(minutes=rng.choice([0, 1, 60, 61, 239, 240, 241, 1440,
                                                           1441, 4320, 4321,
                                                           rng.randrange(0, 200_000)]))
        def maybe(after_minutes):
            t = detected + dt.timedelta(minutes=after_minutes)
            if rng.random() < 0.05:
                return base + dt.timedelta(minutes=1)        # recorded "in the future"
            return t if t <= base and rng.random() < 0.5 else None
        resolved = maybe(rng.randrange(0, 100_000))
        resolved = resolved if resolved is None or resolved <= base else None
        rows.append((f"INC-2026-{n + 1:04d}", rng.choice(inc.GRADES), detected,
                     rng.choice([0, 5, 1_000_000, 20_000_000, None]),
                     maybe(rng.choice([60, 61, 240, 241, rng.randrange(0, 6000)])),
                     maybe(rng.choice([1440, 1441, 4320, rng.randrange(0, 9000)])),
                     rng.choice([None, [], ["cause"], list(NOTICE_CONTENTS)]),
                     resolved,
                     (resolved + dt.timedelta(minutes=rng.choice([43200, 43201, 10])))
                     if resolved and rng.random() < 0.5 else None,
                     maybe(5) if rng.random() < 0.5 else None,
                     "resolved" if resolved else rng.choice(["open", "contained"]),
                     maybe(rng.choice([1440, 1441, rng.randrange(0, 3000)])),
                     maybe(rng.choice([60, 61, 240, 241, rng.randrange(0, 600)])),
                     rng.choice([None, True, False]), rng.choice([None, True, False]),
                     rng.choice([None, True, False]),
                     rng.choice([None, 0, 4_999_999.99, 5_000_000, 20_000_000, 150_000_000]),
                     rng.choice([None, None, "", "  ", " \n", "Encrypted; key safe"])))
    with store.write(SYSTEM, "register.edit") as w:
        for r in rows:
            w.execute("INSERT INTO incidents (incident_id, title, incident_type, grade, "
                      "detected_at, affected_subjects, regulator_reported_at, "
                      "users_notified_at, notice_contents, resolved_at, summary_filed_at, "
                      "emergency_plan_activated_at, status, pi_authority_notified_at, "
                      "police_reported_at, suspected_crime, cii_involved, "
                      "important_data_involved, economic_loss_cny, user_notice_exemption) "
                      "VALUES (?, 't', 'other', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                      "?)", list(r))
        w.audit("test.import", "incident")
    for settings in (store.settings, Settings({"cii_operator": True, "user_notice_hours": 72}),
                     Settings({"grade_important_data_floor": "major",
                               "police_report_hours": 2})):
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
        # ...and the compliance engine's rules give every clock the same state.
        result = engine.run_check(store, base)
        found = set(zip(result.findings["rule_id"], result.findings["entity_id"]))
        due = dict(zip(zip(result.due["rule_id"], result.due["entity_id"]),
                       result.due["due_at"]))
        for rec in table.to_dict("records"):
            iid = rec["incident_id"]
            for key in clk.CLOCK_KEYS:
                rule, state = clk.RULE_IDS[key], rec[f"{key}_state"]
                assert ((rule, iid) in found) == (state in (clk.OVERDUE, clk.LATE)), \
                    (iid, key, state)
                assert ((rule, iid) in due) == (state == clk.DUE), (iid, key, state)
                if state == clk.DUE:
                    assert due[(rule, iid)] == rec[f"{key}_deadline"]
            assert (("INC-GRADE", iid) in found) == ("INC-GRADE" in list(rec["flags"])), iid


# -- rules version 2: the PI authority, police and exempt user-notice clocks ----------------------
DETECTED = sh("2026-11-24 08:00")


def v2(**cols) -> dict:
    """A general-graded incident with people affected: every v2 clock but the regulator's."""
    base = {"detected_at": DETECTED, "grade": "general", "affected_subjects": 500}
    base.update(cols)
    return base


def state_of(key: str, row_: dict, now, settings: Settings | None = None) -> str:
    return clocks_at(row_, settings, now)[key].state


def test_the_pi_authority_clock_runs_for_every_incident_with_people_affected():
    c = clocks_at(v2())
    authority = c["pi_authority"]
    assert authority.rule_id == "INC-PI-AUTHORITY"
    assert authority.state == clk.DUE and authority.deadline == sh("2026-11-25 08:00")
    assert clk.countdown(authority) == "22 h left"
    assert "whatever the grade" in authority.why
    assert "PIPL Art. 57 [V]" in authority.source and "[P]" in authority.source
    # A general incident: the regulator clock does not run, and says precisely why.
    assert c["regulator"].state == clk.NOT_APPLICABLE
    assert "no report is required" not in c["regulator"].why
    assert "not required for this grade" in c["regulator"].why
    assert "PIPL Art. 57 still requires notifying the authority" in c["regulator"].why
    for grade in inc.GRADES:
        assert clocks_at(v2(grade=grade))["pi_authority"].state == clk.DUE
    assert clocks_at(v2(affected_subjects=0))["pi_authority"].state == clk.NOT_APPLICABLE
    assert clocks_at(v2(affected_subjects=None))["pi_authority"].state == clk.NOT_APPLICABLE


def test_the_pi_authority_clock_at_the_exact_second():
    deadline = sh("2026-11-25 08:00")
    second = dt.timedelta(seconds=1)
    assert state_of("pi_authority", v2(), deadline) == clk.DUE            # at it: not yet past
    assert state_of("pi_authority", v2(), deadline + second) == clk.OVERDUE
    later = deadline + dt.timedelta(hours=1)
    assert state_of("pi_authority", v2(pi_authority_notified_at=deadline), later) == clk.MET
    assert state_of("pi_authority", v2(pi_authority_notified_at=deadline + second),
                    later) == clk.LATE


def test_a_regulator_report_counts_as_the_pi_authority_notice_the_earlier_one_wins():
    later = sh("2026-11-26 08:00")
    c = clocks_at(v2(grade="major", regulator_reported_at=sh("2026-11-24 09:00")), now=later)
    assert c["pi_authority"].state == clk.MET
    assert c["pi_authority"].done_at == sh("2026-11-24 09:00")
    assert c["pi_authority"].done_by == "regulator_reported_at"
    assert "done by the regulator report" in c["pi_authority"].why
    c = clocks_at(v2(regulator_reported_at=sh("2026-11-25 09:00"),
                     pi_authority_notified_at=sh("2026-11-24 20:00")), now=later)
    assert (c["pi_authority"].state, c["pi_authority"].done_by) == (
        clk.MET, "pi_authority_notified_at")
    c = clocks_at(v2(regulator_reported_at=sh("2026-11-25 09:00"),
                     pi_authority_notified_at=sh("2026-11-25 10:00")), now=later)
    assert (c["pi_authority"].state, c["pi_authority"].done_at) == (clk.LATE,
                                                                    sh("2026-11-25 09:00"))
    # A time after "now" does not count yet: the earlier one at or before now does.
    c = clocks_at(v2(regulator_reported_at=sh("2026-11-24 09:30"),
                     pi_authority_notified_at=sh("2026-11-24 09:00")),
                  now=sh("2026-11-24 09:15"))
    assert c["pi_authority"].done_at == sh("2026-11-24 09:00")
    c = clocks_at(v2(pi_authority_notified_at=sh("2026-11-24 11:00")))
    assert c["pi_authority"].state == clk.DUE and c["pi_authority"].done_at is None


def test_the_exemption_makes_the_user_notice_exempt_but_keeps_the_authority_clock():
    reason = "The file was encrypted (AES-256) and the key was not exposed."
    c = clocks_at(v2(user_notice_exemption=reason), now=sh("2026-12-01 08:00"))
    notice = c["user_notice"]
    assert notice.state == clk.EXEMPT and notice.label == "Exempt (PIPL Art. 57 ¶2)"
    assert notice.detail == reason and notice.deadline is None and not notice.pending
    assert "not a finding" in notice.why and "Art. 57 ¶2 [V]" in notice.source
    assert clk.countdown(notice) == ""
    assert c["pi_authority"].state == clk.OVERDUE          # the authority notice stays
    assert "does not remove this notice" in c["pi_authority"].why
    assert clk.next_deadline(list(c.values())).key == "pi_authority"
    # Blank text is no exemption; no people affected: nothing to be exempt from.
    assert state_of("user_notice", v2(user_notice_exemption="   "), FROZEN_NOW) == clk.DUE
    assert state_of("user_notice", v2(user_notice_exemption=""), FROZEN_NOW) == clk.DUE
    assert state_of("user_notice", v2(user_notice_exemption=reason, affected_subjects=0),
                    FROZEN_NOW) == clk.NOT_APPLICABLE


def test_the_user_notice_clock_is_24_hours_to_the_second():
    deadline = sh("2026-11-25 08:00")
    second = dt.timedelta(seconds=1)
    assert clocks_at(v2())["user_notice"].deadline == deadline
    assert state_of("user_notice", v2(), deadline) == clk.DUE
    assert state_of("user_notice", v2(), deadline + second) == clk.OVERDUE
    assert state_of("user_notice", v2(users_notified_at=deadline), deadline + second) == clk.MET
    assert state_of("user_notice", v2(users_notified_at=deadline + second),
                    deadline + second) == clk.LATE
    assert "[P]" in clocks_at(v2())["user_notice"].source


def test_the_police_clock_runs_when_a_crime_is_suspected_whatever_the_grade():
    c = clocks_at(v2(suspected_crime=True, affected_subjects=0))
    police = c["police"]
    assert police.rule_id == "INC-POLICE"
    assert police.state == clk.DUE and police.deadline == sh("2026-11-24 12:00")
    assert "independent of the regulator report" in police.why
    assert "[P]" in police.source and police.confidence == "V2 / P"
    second = dt.timedelta(seconds=1)
    deadline = police.deadline
    assert state_of("police", v2(suspected_crime=True), deadline) == clk.DUE
    assert state_of("police", v2(suspected_crime=True), deadline + second) == clk.OVERDUE
    assert state_of("police", v2(suspected_crime=True, police_reported_at=deadline),
                    deadline + second) == clk.MET
    assert state_of("police", v2(suspected_crime=True, police_reported_at=deadline + second),
                    deadline + second) == clk.LATE
    # The regulator report does not count for the police.
    assert state_of("police", v2(suspected_crime=True, grade="major",
                                 regulator_reported_at=sh("2026-11-24 09:00")),
                    sh("2026-11-24 12:01")) == clk.OVERDUE
    assert clocks_at(v2(suspected_crime=False))["police"].why == "No crime suspected (recorded)."
    assert "not recorded" in clocks_at(v2())["police"].why
    assert clocks_at(v2())["police"].state == clk.NOT_APPLICABLE


def test_cii_involved_switches_the_regulator_and_police_clocks_to_one_hour():
    row_ = v2(grade="major", suspected_crime=True, cii_involved=True)
    c = clocks_at(row_, now=sh("2026-11-24 08:30"))
    assert c["regulator"].deadline == c["police"].deadline == sh("2026-11-24 09:00")
    assert "the incident involves CII" in c["regulator"].why
    assert c["police"].source.startswith("CAC Measures for National Cybersecurity Incident "
                                         "Reporting (2025) Art. 4 [V]")
    assert c["police"].confidence == "V"
    assert state_of("police", row_, sh("2026-11-24 09:00")) == clk.DUE
    assert state_of("police", row_, sh("2026-11-24 09:00:01")) == clk.OVERDUE
    assert state_of("regulator", row_, sh("2026-11-24 09:00:01")) == clk.OVERDUE
    # The 24 h notices do not change with CII.
    assert c["pi_authority"].deadline == c["user_notice"].deadline == sh("2026-11-25 08:00")
    # cii_involved false: 4 h; a CII operator: 1 h whatever the incident says.
    c = clocks_at(v2(grade="major", suspected_crime=True, cii_involved=False))
    assert c["regulator"].deadline == c["police"].deadline == sh("2026-11-24 12:00")
    c = clocks_at(v2(grade="major", suspected_crime=True), Settings({"cii_operator": True}))
    assert c["regulator"].deadline == c["police"].deadline == sh("2026-11-24 09:00")
    c = clocks_at(v2(suspected_crime=True), Settings({"police_report_hours": 2}))
    assert c["police"].deadline == sh("2026-11-24 10:00")


def test_the_regulator_clock_follows_the_recorded_grade_not_the_implied_one():
    under = v2(grade="general", affected_subjects=20_000_000, economic_loss_cny=200_000_000)
    assert clocks_at(under)["regulator"].state == clk.NOT_APPLICABLE
    flags = {f.rule_id: f.message for f in clk.incident_flags(under, Settings(), FROZEN_NOW,
                                                               None)}
    assert "particularly major (I) its facts imply" in flags["INC-GRADE"]


def test_help_text_names_the_new_clocks_sources():
    text = clk.clock_help(Settings())
    assert "PIPL Art. 57 [V]" in text["pi_authority"] and "24 h" in text["pi_authority"]
    assert "whatever its grade" in text["pi_authority"]
    assert "[P]" in text["police"] and "Art. 4 [V]" in text["police"]
    assert "Art. 57 ¶2 [V]" in text["user_notice"]
    assert "or an incident involving CII" in text["regulator"]


# -- the grade the facts imply ---------------------------------------------------------------------
@pytest.mark.parametrize("facts_, grade, fact", [
    ({"affected_subjects": 999_999}, "general", None),
    ({"affected_subjects": 1_000_000}, "relatively_major", "affected_subjects"),
    ({"affected_subjects": 10_000_000}, "major", "affected_subjects"),
    ({"affected_subjects": 100_000_000}, "particularly_major", "affected_subjects"),
    ({"economic_loss_cny": 4_999_999.99}, "general", None),
    ({"economic_loss_cny": 5_000_000}, "relatively_major", "economic_loss_cny"),
    ({"economic_loss_cny": "19999999.99"}, "relatively_major", "economic_loss_cny"),
    ({"economic_loss_cny": 20_000_000}, "major", "economic_loss_cny"),
    ({"economic_loss_cny": 100_000_000}, "particularly_major", "economic_loss_cny"),
    ({"important_data_involved": True}, "relatively_major", "important_data_involved"),
    ({"important_data_involved": False}, "general", None),
    ({}, "general", None),
])
def test_each_grading_fact_alone_at_its_threshold(facts_, grade, fact):
    import decimal
    if isinstance(facts_.get("economic_loss_cny"), (str, float)):
        facts_ = {**facts_, "economic_loss_cny": decimal.Decimal(str(facts_["economic_loss_cny"]))}
    suggestion = clk.implied_grade(facts_, Settings())
    assert suggestion.grade == grade
    assert [r.fact for r in suggestion.drivers] == ([fact] if fact else [])
    if fact is None:
        assert suggestion.text.startswith("No fact reaches a threshold")


def test_the_highest_fact_wins_and_the_reasons_say_which_facts_drove_it():
    suggestion = clk.implied_grade({"affected_subjects": 1_200_000,
                                    "economic_loss_cny": 30_000_000,
                                    "important_data_involved": True}, Settings())
    assert suggestion.grade == "major"
    assert [r.fact for r in suggestion.drivers] == ["economic_loss_cny"]
    assert [r.fact for r in suggestion.reasons] == ["economic_loss_cny", "affected_subjects",
                                                   "important_data_involved"]
    assert suggestion.reasons[0].text.startswith(
        "30,000,000 yuan direct loss: at least major (2025 reporting measures, Annex")
    assert suggestion.reasons[1].text.startswith("1,200,000 people affected: at least "
                                                 "relatively major")
    assert "[P]" in suggestion.reasons[2].text
    tie = clk.implied_grade({"affected_subjects": 1_000_000, "important_data_involved": True},
                            Settings())
    assert tie.grade == "relatively_major" and len(tie.drivers) == 2
    assert clk.suggest_grade(10, Settings(), economic_loss_cny=150_000_000) == \
        "particularly_major"


def test_loss_thresholds_and_the_important_data_floor_are_settings():
    s = Settings({"grade_relatively_major_loss_cny": 100, "grade_major_loss_cny": 1000,
                  "grade_particularly_major_loss_cny": 5000,
                  "grade_important_data_floor": "major"})
    assert [clk.suggest_grade(0, s, economic_loss_cny=n) for n in (99, 100, 1000, 5000)] == [
        "general", "relatively_major", "major", "particularly_major"]
    assert clk.suggest_grade(0, s, important_data_involved=True) == "major"
    off = Settings({"grade_important_data_floor": "general"})
    assert clk.implied_grade({"important_data_involved": True}, off).reasons == ()


# -- rules version 2: logging and recording the new facts and steps --------------------------------
def test_logging_records_the_grading_facts_and_suggests_the_grade_from_all_of_them(store):
    iid = log(store, affected_subjects=10, affected_sensitive_subjects=0,
              economic_loss_cny="30,000,000", important_data_involved=True,
              cii_involved="true", suspected_crime=False)
    r = row(store, iid)
    import decimal
    assert r["economic_loss_cny"] == decimal.Decimal("30000000.00")
    assert (r["important_data_involved"], r["cii_involved"], r["suspected_crime"]) == (
        True, True, False)
    assert r["grade"] == "major"                       # from the loss
    detail = events(store, iid)[0][4]
    assert "Direct loss 30,000,000 yuan" in detail and "CII involved: yes" in detail
    # Without the facts they stay null (not recorded).
    plain = row(store, log(store))
    assert all(plain[k] is None for k in inc.GRADING_FIELDS)
    # Graded below what the facts imply: the event says so, with the reason.
    low = log(store, affected_subjects=10, affected_sensitive_subjects=0,
              economic_loss_cny=150_000_000, grade="major")
    assert "INC-GRADE" in events(store, low)[0][4]
    assert "150,000,000 yuan direct loss" in events(store, low)[0][4]


BAD_V2_FACTS = [
    ({"economic_loss_cny": "-1"}, "economic_loss_cny", "Cannot be negative"),
    ({"economic_loss_cny": "12.345"}, "economic_loss_cny", "At most 2 decimal places"),
    ({"economic_loss_cny": 0.001}, "economic_loss_cny", "At most 2 decimal places"),
    ({"economic_loss_cny": "lots"}, "economic_loss_cny", "Not an amount: 'lots'"),
    ({"economic_loss_cny": "1e9"}, "economic_loss_cny", "Not an amount"),
    ({"economic_loss_cny": "2000000000000"}, "economic_loss_cny", "not plausible"),
    ({"suspected_crime": "maybe"}, "suspected_crime", "Not yes or no"),
    ({"cii_involved": "perhaps"}, "cii_involved", "Not yes or no"),
]


@pytest.mark.parametrize("overrides, field, message", BAD_V2_FACTS,
                         ids=[f"{c[1]}:{c[2][:20]}" for c in BAD_V2_FACTS])
def test_bad_grading_facts_name_the_field_and_write_nothing(store, overrides, field, message):
    before = counts(store)
    with pytest.raises(inc.ValidationError) as caught:
        inc.log_incident(store, MANAGER, facts(**overrides))
    assert message in caught.value.errors[field], caught.value.errors
    assert counts(store) == before


def test_amounts_are_read_in_the_forms_people_type():
    import decimal
    D = decimal.Decimal
    assert inc.parse_amount("1,250,000.50") == D("1250000.50")
    assert inc.parse_amount("¥ 3 000") == D("3000")
    assert inc.parse_amount("3000元") == D("3000")
    assert inc.parse_amount(0.1) == D("0.1")
    assert inc.parse_amount(True) is None and inc.parse_amount("1.2.3") is None


def _last_audit(store) -> tuple:
    return store.rows("SELECT actor, action, values_before, values_after FROM audit_log "
                      "ORDER BY seq DESC LIMIT 1")[0]


def test_recording_the_pi_authority_notice(store):
    iid = log(store, affected_subjects=500, affected_sensitive_subjects=0)
    before = counts(store)
    result = inc.record_step(store, MANAGER, iid, "pi_authority_notified",
                             {"at": "2026-11-24 09:30", "pi_authority": "Guangdong CAC",
                              "pi_authority_reference": "GD-PI-7"}, token="auth-1")
    assert result.created
    assert counts(store)[:2] == (before[0], before[1] + 1)     # one timeline event
    r = row(store, iid)
    assert r["pi_authority_notified_at"] == sh("2026-11-24 09:30")
    event = events(store, iid)[-1]
    assert event[1] == "pi_authority_notified"
    assert "PI authority notified: Guangdong CAC (reference GD-PI-7)" in event[4]
    actor, action, before_json, after_json = _last_audit(store)
    assert (actor, action) == (MANAGER.name, "incident.update")
    after = json.loads(after_json)
    assert after["step"] == "pi_authority_notified" and after["pi_authority"] == "Guangdong CAC"
    assert json.loads(before_json)["pi_authority_notified_at"] is None
    again = inc.record_step(store, MANAGER, iid, "pi_authority_notified",
                            {"at": "2026-11-24 09:30", "pi_authority": "Guangdong CAC",
                             "pi_authority_reference": "GD-PI-7"}, token="auth-1")
    assert again.event_id == result.event_id and not again.created
    authority = clocks_at(r)["pi_authority"]
    assert authority.state == clk.MET and authority.done_by == "pi_authority_notified_at"
    with pytest.raises(inc.ValidationError, match="Already recorded"):
        inc.record_step(store, MANAGER, iid, "pi_authority_notified",
                        {"at": "2026-11-24 09:40", "pi_authority": "CAC"})
    assert audit.verify(store).ok


def test_recording_the_police_report_meets_the_police_clock(store):
    iid = log(store, suspected_crime=True)
    assert clocks_at(row(store, iid))["police"].state == clk.DUE
    inc.record_step(store, DPO, iid, "police_reported",
                    {"at": "2026-11-24 09:00", "police_reference": "PSB-77"})
    police = clocks_at(row(store, iid))["police"]
    assert police.state == clk.MET and police.done_at == sh("2026-11-24 09:00")
    assert "Reported to the police (reference PSB-77)" in events(store, iid)[-1][4]


def test_recording_the_user_notice_exemption_with_its_reason(store):
    iid = log(store)
    reason = "Leaked backup was encrypted; the key never left the HSM. **not bold**"
    result = inc.record_step(store, MANAGER, iid, "user_notice_exempted",
                             {"exemption_reason": reason}, token="ex-1")
    r = row(store, iid)
    assert r["user_notice_exemption"] == reason
    event = events(store, iid)[-1]
    assert (event[0], event[1], event[3]) == (result.event_id, "user_notice_exempted",
                                              FROZEN_NOW)
    assert event[4] == f"No notice to individuals needed (PIPL Art. 57 ¶2): {reason}"
    actor, action, before_json, after_json = _last_audit(store)
    assert json.loads(after_json)["user_notice_exemption"] == reason
    assert json.loads(before_json)["user_notice_exemption"] is None
    c = clocks_at(r)
    assert c["user_notice"].state == clk.EXEMPT and c["user_notice"].detail == reason
    assert c["pi_authority"].state == clk.DUE
    # Recorded once; changed by a correction, with its own reason.
    assert "user_notice_exempted" not in inc.allowed_steps(inc.incident_record(store, iid))
    inc.correct(store, DPO, iid, "user_notice_exempted",
                {"exemption_reason": "Encrypted backup; key in the HSM (checked by SOC)."},
                "Wording from the SOC report")
    assert row(store, iid)["user_notice_exemption"].startswith("Encrypted backup")


@pytest.mark.parametrize("values, field, message", [
    ({"exemption_reason": "   "}, "exemption_reason", "the exemption needs its reason"),
    ({}, "exemption_reason", "the exemption needs its reason"),
    ({"exemption_reason": "x" * 2001}, "exemption_reason", "At most 2,000 characters"),
])
def test_a_bad_exemption_writes_nothing(store, values, field, message):
    iid = log(store)
    before = counts(store)
    with pytest.raises(inc.ValidationError) as caught:
        inc.record_step(store, MANAGER, iid, "user_notice_exempted", values)
    assert message in caught.value.errors[field]
    assert counts(store) == before
    assert row(store, iid)["user_notice_exemption"] is None


def test_an_exemption_needs_people_affected_and_no_notice_sent(store):
    nobody = log(store, affected_subjects=0, affected_sensitive_subjects=0)
    with pytest.raises(inc.ValidationError, match="No affected people"):
        inc.record_step(store, MANAGER, nobody, "user_notice_exempted",
                        {"exemption_reason": "r"})
    notified = log(store)
    inc.record_step(store, MANAGER, notified, "users_notified", NOTICE)
    with pytest.raises(inc.ValidationError, match="already notified"):
        inc.record_step(store, MANAGER, notified, "user_notice_exempted",
                        {"exemption_reason": "r"})


def test_updating_the_grading_facts_after_logging(store):
    iid = log(store, affected_subjects=10, affected_sensitive_subjects=0)
    assert row(store, iid)["grade"] == "general"
    before = counts(store)
    inc.record_step(store, MANAGER, iid, "grading_facts",
                    {"economic_loss_cny": "30000000", "suspected_crime": True}, token="g-1")
    after = counts(store)
    assert (after[0], after[1], after[4]) == (before[0], before[1] + 1, before[4] + 1)
    r = row(store, iid)
    import decimal
    assert r["economic_loss_cny"] == decimal.Decimal("30000000.00")
    assert r["suspected_crime"] is True and r["cii_involved"] is None    # left out: kept
    assert r["grade"] == "general"                                       # not changed
    detail = events(store, iid)[-1][4]
    assert detail.startswith("Grading facts: direct loss 30,000,000 yuan;")
    assert "crime suspected: yes" in detail and "INC-GRADE" in detail
    assert clocks_at(r)["police"].state == clk.DUE
    _, _, before_json, after_json = _last_audit(store)
    assert json.loads(before_json)["economic_loss_cny"] is None
    assert json.loads(after_json)["economic_loss_cny"] == "30000000.00"
    # Repeatable: the next update raises the grade and sets CII.
    inc.record_step(store, DPO, iid, "grading_facts", {"cii_involved": True, "grade": "major"})
    r = row(store, iid)
    assert (r["grade"], r["cii_involved"], r["suspected_crime"]) == ("major", True, True)
    assert "INC-GRADE" not in events(store, iid)[-1][4]
    assert clocks_at(r)["regulator"].deadline == sh("2026-11-24 09:00")     # CII: 1 h
    assert "grading_facts" in inc.allowed_steps(inc.incident_record(store, iid))
    assert "grading_facts" not in inc.correction_targets(inc.incident_record(store, iid))


@pytest.mark.parametrize("values, field, message", [
    ({"economic_loss_cny": "-5"}, "economic_loss_cny", "Cannot be negative"),
    ({"economic_loss_cny": "1.999"}, "economic_loss_cny", "At most 2 decimal places"),
    ({"grade": "huge"}, "grade", "Unknown value 'huge'"),
    ({"important_data_involved": "sometimes"}, "important_data_involved", "Not yes or no"),
    ({"grade": "relatively_major"}, "grading_facts", "Nothing changed"),
    ({}, "grading_facts", "Nothing changed"),
])
def test_bad_grading_updates_write_nothing(store, values, field, message):
    iid = log(store)
    before = counts(store)
    with pytest.raises(inc.ValidationError) as caught:
        inc.record_step(store, MANAGER, iid, "grading_facts", values)
    assert message in caught.value.errors[field], caught.value.errors
    assert counts(store) == before


def test_an_auditor_cannot_record_the_v2_steps_and_nothing_is_written(store):
    iid = log(store)
    before = counts(store)
    for kind, values in (("pi_authority_notified", {"at": "2026-11-24 09:00",
                                                    "pi_authority": "CAC"}),
                         ("police_reported", {"at": "2026-11-24 09:00"}),
                         ("user_notice_exempted", {"exemption_reason": "encrypted"}),
                         ("grading_facts", {"suspected_crime": True})):
        with pytest.raises(PermissionDenied, match="auditor"):
            inc.record_step(store, AUDITOR, iid, kind, values)
    with pytest.raises(PermissionDenied):
        inc.correct(store, AUDITOR, iid, "facts", {"economic_loss_cny": "1"}, "r")
    assert counts(store) == before
    # The DPO may (access.py: incident.update).
    inc.record_step(store, DPO, iid, "user_notice_exempted", {"exemption_reason": "encrypted"})


def test_the_pi_authority_notice_keeps_the_order_of_handling(store):
    iid = log(store)
    with pytest.raises(inc.ValidationError) as caught:
        inc.record_step(store, MANAGER, iid, "pi_authority_notified",
                        {"at": "2026-11-24 07:00", "pi_authority": "CAC"})
    assert "Cannot be before detection" in caught.value.errors["at"]
    with pytest.raises(inc.ValidationError) as caught:
        inc.record_step(store, MANAGER, iid, "pi_authority_notified", {"at": "2026-11-24 09:00"})
    assert "Name the authority" in caught.value.errors["pi_authority"]


def test_correcting_the_facts_covers_the_grading_facts(store):
    iid = log(store, economic_loss_cny="100")
    inc.correct(store, MANAGER, iid, "facts", {"economic_loss_cny": "25,000,000.00",
                                              "important_data_involved": True}, "Audit figure")
    r = row(store, iid)
    import decimal
    assert r["economic_loss_cny"] == decimal.Decimal("25000000.00")
    assert r["important_data_involved"] is True
    timeline = inc.incident_timeline(store, iid)
    assert "Direct economic loss (yuan): 100 → 25,000,000" in timeline["detail"].iloc[-1]
    flags = {f.rule_id for f in clk.incident_flags(r, store.settings, store.now(), None)}
    assert "INC-GRADE" in flags                                  # 25 M yuan: at least major

"""The incident pages through AppTest: the log form, one incident's page, the list.

The app's clock is frozen at FROZEN_NOW = 2026-11-24 10:00 Asia/Shanghai.
"""
from __future__ import annotations

import datetime as dt

import pytest

from dashboard import clocks as clk
from dashboard import engine
from dashboard import incidents as inc
from dashboard import ui
from dashboard.navigation import PAGE_BY_KEY
from dashboard.registers import NOTICE_CONTENTS

from conftest import (AUDITOR, DPO, FROZEN_NOW, MANAGER, SHANGHAI, SYSTEM, app_test, make_store,
                      shown)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "pages.duckdb"
    s = make_store(path)
    yield path, s
    s.close()


def sh(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def fill_log_form(at, **values) -> None:
    defaults = {"title": "CRM copy exposed", "incident_type": "data_leak",
                "detected_at": dt.datetime(2026, 11, 24, 8, 0),
                "affected_subjects": "1,200,000"}
    defaults.update(values)
    for name, value in defaults.items():
        key = f"li_{name}"
        if name in ("incident_type", "grade", "timezone"):
            at.selectbox(key=key).select(value)
        elif name in ("occurred_at", "detected_at"):
            at.get_by_key(key).set_value(value)
        elif name == "data_categories":
            at.multiselect(key=key).set_value(value)
        elif name in inc.FLAG_FIELDS:
            at.checkbox(key=key).set_value(value)
        elif name == "description":
            at.text_area(key=key).input(value)
        else:
            at.text_input(key=key).input(value)
    at.run()
    assert not at.exception, at.exception


def field_errors(at, name: str, prefix: str = "li_field_") -> list[str]:
    return [e.value for e in at.get_by_key(f"{prefix}{name}").error]


def n_incidents(store) -> int:
    return store.scalar("SELECT count(*) FROM incidents")


# -- the log form ---------------------------------------------------------------------------
def test_logging_an_incident_shows_its_clocks_before_and_after_saving(db, monkeypatch):
    path, store = db
    at = app_test(path, MANAGER, monkeypatch, page="log_incident")
    assert not at.exception
    fill_log_form(at, occurred_at=dt.datetime(2026, 11, 23, 22, 0),
                  data_categories=["name", "bank_account"], description="Found by the SOC")
    preview = [m.value for m in at.get_by_key("li_preview").markdown]
    assert preview[0].startswith("**Report to the regulator** by "
                                 "**24 Nov 2026 12:00 Beijing time** "
                                 "(2 h left)")
    assert preview[1].startswith("**Notify the PI authority** by "
                                 "**25 Nov 2026 08:00 Beijing time** "
                                 "(22 h left)")
    assert preview[2].startswith("**Report to the police**: not applicable. No crime suspected")
    assert preview[3].startswith("**Notify affected users** by **25 Nov 2026 08:00 Beijing time**")
    assert "Starts when the incident is resolved" in preview[4]
    captions = " ".join(c.value for c in at.caption)
    assert "Suggested: **Relatively major (III)**" in captions
    assert "CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 4 [V]" in \
        captions
    assert n_incidents(store) == 0                     # nothing saved before the button
    at.button(key="li_save").click().run()
    assert not at.exception
    assert "Logged as **INC-2026-0001**" in at.success[0].value
    row = inc.incident_record(store, "INC-2026-0001").row
    assert row["title"] == "CRM copy exposed" and row["grade"] == "relatively_major"
    assert row["detected_at"] == sh("2026-11-24 08:00")
    assert row["occurred_at"] == sh("2026-11-23 22:00")
    assert row["data_categories"] == ["name", "bank_account"]
    assert row["reported_by"] == MANAGER.name
    link = at.get("page_link")[0].proto
    assert (link.page, link.query_string) == ("incident", "id=INC-2026-0001")
    lines = " ".join(m.value for m in at.markdown)
    assert "by 24 Nov 2026 12:00 Beijing time (2 h left)" in lines
    # "Log another" starts a new, empty form instance.
    instance = at.session_state["li_instance"]
    at.button(key="li_another").click().run()
    assert at.text_input(key="li_title").value == ""
    assert at.session_state["li_instance"] != instance


def test_a_double_submit_of_the_form_creates_one_incident(db, monkeypatch):
    path, store = db
    at = app_test(path, MANAGER, monkeypatch, page="log_incident")
    fill_log_form(at)
    instance = at.session_state["li_instance"]
    values = {name: at.session_state[f"li_{name}"] if f"li_{name}" in at.session_state else None
              for name in inc.FACT_FIELDS}
    values["timezone"] = at.session_state["li_timezone"]
    at.button(key="li_save").click().run()
    assert n_incidents(store) == 1
    # The second click of a double click carries the same form instance and content.
    again = inc.log_incident(store, MANAGER, values, token=inc.form_token(instance, values))
    assert again.incident_id == "INC-2026-0001" and not again.created
    assert n_incidents(store) == 1



def test_a_form_drawn_for_a_manager_writes_nothing_once_the_session_lost_that_role(
        db, monkeypatch):
    """Streamlit runs the save callback before the script's session checks: the
    callback must act as the session is now, not as it was when the form was drawn."""
    path, store = db
    at = app_test(path, MANAGER, monkeypatch, page="log_incident")
    fill_log_form(at)
    at.session_state["actor"] = AUDITOR          # e.g. the admin changed the account's role
    at.button(key="li_save").click().run()
    assert n_incidents(store) == 0
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action LIKE 'incident%'") == 0

BAD_FORMS = [
    ({"title": ""}, "title", "Enter a title"),
    ({"title": "t" * 201}, "title", "At most 200 characters"),
    ({"occurred_at": dt.datetime(2026, 11, 24, 9, 0)}, "detected_at",
     "Detection cannot be before the occurrence"),
    ({"detected_at": dt.datetime(2026, 11, 24, 10, 30)}, "detected_at",
     "Cannot be in the future"),
    ({"affected_subjects": "-20"}, "affected_subjects", "Cannot be negative"),
    ({"affected_subjects": "about a million"}, "affected_subjects", "Not a whole number"),
    ({"affected_sensitive_subjects": "2,000,000"}, "affected_sensitive_subjects",
     "Cannot exceed the affected subjects (1,200,000)"),
    ({"affected_sensitive_subjects": "some"}, "affected_sensitive_subjects",
     "Not a whole number"),
    ({"description": "d" * 10_001}, "description", "At most 10,000 characters"),
    ({"economic_loss_cny": "-5"}, "economic_loss_cny", "Cannot be negative"),
    ({"economic_loss_cny": "12.345"}, "economic_loss_cny", "At most 2 decimal places"),
    ({"economic_loss_cny": "a lot"}, "economic_loss_cny", "Not an amount"),
]


@pytest.mark.parametrize("values, field, message", BAD_FORMS,
                         ids=[f"{b[1]}:{b[2][:18]}" for b in BAD_FORMS])
def test_bad_input_shows_the_message_at_the_field_and_saves_nothing(db, monkeypatch, values,
                                                                    field, message):
    path, store = db
    at = app_test(path, MANAGER, monkeypatch, page="log_incident")
    fill_log_form(at, **values)
    at.button(key="li_save").click().run()
    assert not at.exception
    errors = field_errors(at, field)
    assert errors and message in errors[0], errors
    assert "Nothing was saved" in at.error[-1].value
    assert not at.success
    assert n_incidents(store) == 0
    # The other fields carry no message.
    for other in ("title", "incident_type", "detected_at", "affected_subjects"):
        if other != field:
            assert field_errors(at, other) == []


def test_the_form_warns_before_saving_a_grade_below_the_suggestion(db, monkeypatch):
    path, store = db
    at = app_test(path, MANAGER, monkeypatch, page="log_incident")
    fill_log_form(at, affected_subjects="15000000", grade="relatively_major")
    assert "INC-GRADE finding" in at.warning[0].value
    assert "suggested major (II)" in at.warning[0].value
    at.button(key="li_save").click().run()
    assert inc.incident_record(store, "INC-2026-0001").row["grade"] == "relatively_major"


def test_the_auditor_cannot_open_the_log_form(db, monkeypatch):
    path, store = db
    at = app_test(path, AUDITOR, monkeypatch)
    with pytest.raises(ValueError):        # not in the auditor's navigation at all
        at.switch_page(PAGE_BY_KEY["log_incident"].script)


# -- one incident's page --------------------------------------------------------------------------
def log(store, **values) -> str:
    base = {"title": "CRM copy exposed", "incident_type": "data_leak",
            "detected_at": "2026-11-24 08:00", "affected_subjects": 1_200_000,
            "affected_sensitive_subjects": 0}
    base.update(values)
    return inc.log_incident(store, MANAGER, base).incident_id


def open_incident(path, actor, monkeypatch, incident_id):
    at = app_test(path, actor, monkeypatch, page="incident", query={"id": incident_id})
    assert not at.exception, at.exception
    return at


def clock_text(at, key: str) -> str:
    return " ".join(m.value for m in at.get_by_key(f"clock_{key}").markdown)


def test_the_page_shows_each_clock_with_its_deadline_and_countdown(db, monkeypatch):
    path, store = db
    due = log(store)
    overdue = log(store, detected_at="2026-11-20 08:00", affected_subjects=0, grade="major")
    late = log(store, detected_at="2026-11-23 08:00")
    inc.record_step(store, MANAGER, late, "regulator_reported",
                    {"at": "2026-11-23 13:00", "regulator": "Provincial CAC"})
    inc.record_step(store, MANAGER, late, "users_notified",
                    {"at": "2026-11-23 20:00", "notification_channels": ["sms"],
                     "audience": "all", "notice_contents": list(NOTICE_CONTENTS)})

    at = open_incident(path, MANAGER, monkeypatch, due)
    assert at.title[0].value == f"{due} · CRM copy exposed"
    text = clock_text(at, "regulator")
    assert "Due" in text and "**2 h left**" in text and "24 Nov 2026 12:00 Beijing time" in text
    text = clock_text(at, "user_notice")
    assert "Due" in text and "22 h left" in text and "25 Nov 2026 08:00 Beijing time" in text
    assert "Not applicable" in clock_text(at, "summary")
    captions = " ".join(c.value for c in at.get_by_key("clock_regulator").caption)
    assert "Art. 4 [V]" in captions and "INC-REGULATOR-DEADLINE" in captions
    assert any("INC-EMERGENCY-PLAN" in w.value for w in at.warning)

    at = open_incident(path, MANAGER, monkeypatch, overdue)
    assert "Overdue" in clock_text(at, "regulator")
    assert "overdue by 3 d 22 h" in clock_text(at, "regulator")
    assert "Not applicable" in clock_text(at, "user_notice")

    at = open_incident(path, MANAGER, monkeypatch, late)
    text = clock_text(at, "regulator")
    assert "Late" in text and "done 1 h after the deadline" in text
    text = clock_text(at, "user_notice")
    assert "Met" in text and "Done: 23 Nov 2026 20:00 Beijing time" in text


def record_on_page(app, kind: str, **values):
    at = app
    at.selectbox(key="step_kind").select(kind).run()
    for name, value in values.items():
        key = f"step_{kind}_{name}"
        if name == "at":
            at.get_by_key(key).set_value(value)
        elif name == "notification_channels":
            at.multiselect(key=key).set_value(value)
        elif name == "notice_contents":
            for c in value:
                at.checkbox(key=f"step_{kind}_content_{c}").check()
        elif name in ("root_cause", "remediation", "close_reason", "text"):
            at.text_area(key=key).input(value)
        else:
            at.text_input(key=key).input(value)
    at.button(key=f"step_{kind}_save").click().run()
    assert not at.exception, at.exception
    return at


def test_each_step_is_recorded_from_the_incident_page(db, monkeypatch):
    path, store = db
    iid = log(store)
    at = open_incident(path, MANAGER, monkeypatch, iid)
    t = lambda hm: dt.datetime(2026, 11, 24, *map(int, hm.split(":")))  # noqa: E731
    walk = [
        ("emergency_plan_activated", {"at": t("08:05")}, "open",
         {"emergency_plan_activated_at": sh("2026-11-24 08:05")}),
        ("contained", {"at": t("08:30")}, "contained", {"contained_at": sh("2026-11-24 08:30")}),
        ("regulator_reported", {"at": t("09:00"), "regulator": "Guangdong CAC",
                                "regulator_reference": "GD-7"}, "contained",
         {"regulator_reported_at": sh("2026-11-24 09:00"), "regulator": "Guangdong CAC",
          "regulator_reference": "GD-7"}),
        ("police_reported", {"at": t("09:05"), "police_reference": "PSB-1"}, "contained",
         {"police_reported_at": sh("2026-11-24 09:05")}),
        ("users_notified", {"at": t("09:10"), "notification_channels": ["email", "sms"],
                            "audience": "All affected users",
                            "notice_contents": list(NOTICE_CONTENTS)}, "contained",
         {"users_notified_at": sh("2026-11-24 09:10"), "notification_channels": ["email", "sms"],
          "notice_contents": list(NOTICE_CONTENTS)}),
        ("resolved", {"at": t("09:20"), "root_cause": "Unmasked test copy",
                      "remediation": "Deleted; masking enforced"}, "resolved",
         {"resolved_at": sh("2026-11-24 09:20"), "root_cause": "Unmasked test copy"}),
        ("summary_filed", {"at": t("09:40"), "summary_reference": "SUM-9"}, "resolved",
         {"summary_filed_at": sh("2026-11-24 09:40")}),
        ("note", {"text": "Lessons-learned review on Friday"}, "resolved", {}),
        ("closed", {"at": t("09:50")}, "closed", {}),
    ]
    for n, (kind, values, status, columns) in enumerate(walk, start=2):
        at = record_on_page(at, kind, **values)
        assert f"timeline event #{n}" in at.success[0].value, [e.value for e in at.error]
        row = inc.incident_record(store, iid).row
        assert row["status"] == status
        assert {k: row[k] for k in columns} == columns
        timeline = at.get_by_key("timeline").dataframe[0].value
        assert list(timeline["event_id"]) == list(range(1, n + 1))
        assert timeline["kind"].iloc[-1] == inc.KIND_LABELS[kind]
        assert timeline["actor"].iloc[-1] == MANAGER.name
    # Closed: only notes remain possible.
    assert at.selectbox(key="step_kind").options == ["Note"]
    assert "Met" in clock_text(at, "summary")


def test_step_errors_show_at_the_field_and_nothing_is_recorded(db, monkeypatch):
    path, store = db
    iid = log(store)
    at = open_incident(path, MANAGER, monkeypatch, iid)
    events = store.scalar("SELECT count(*) FROM incident_events")
    at = record_on_page(at, "users_notified", at=dt.datetime(2026, 11, 24, 7, 30),
                        audience="", notice_contents=["cause"])
    assert "Cannot be before detection (24 Nov 2026 08:00 Beijing time)" in \
        field_errors(at, "users_notified_at", "step_field_")[0]
    assert "Choose at least one channel" in \
        field_errors(at, "users_notified_notification_channels", "step_field_")[0]
    assert "Say who was notified" in field_errors(at, "users_notified_audience", "step_field_")[0]
    assert not at.success
    assert store.scalar("SELECT count(*) FROM incident_events") == events
    assert inc.incident_record(store, iid).row["users_notified_at"] is None


def test_steps_not_possible_now_are_listed_with_the_reason(db, monkeypatch):
    path, store = db
    at = open_incident(path, MANAGER, monkeypatch, log(store))
    assert "Resolved" not in at.selectbox(key="step_kind").options
    blocked = " ".join(m.value for m in at.expander[0].markdown)
    assert "**Resolved** — Record containment first" in blocked
    assert "**Summary report filed** — Record the resolution first" in blocked


def test_a_correction_from_the_page_supersedes_the_step(db, monkeypatch):
    path, store = db
    iid = log(store)
    step = inc.record_step(store, MANAGER, iid, "regulator_reported",
                           {"at": "2026-11-24 09:00", "regulator": "Guangdong CAC",
                            "regulator_reference": "GD-7"})
    at = open_incident(path, DPO, monkeypatch, iid)
    at.selectbox(key="corr_target").select("regulator_reported").run()
    assert at.text_input(key="corr_regulator_reported_regulator_reference").value == "GD-7"
    at.text_input(key="corr_regulator_reported_regulator_reference").input("GD-2026-7")
    at.button(key="corr_save").click().run()          # no reason: refused at the field
    assert "Say why" in field_errors(at, "reason", "corr_field_")[0]
    assert inc.incident_record(store, iid).row["regulator_reference"] == "GD-7"
    at.text_input(key="corr_reason").input("Reference from the CAC receipt")
    at.button(key="corr_save").click().run()
    assert not at.exception
    assert "Correction recorded" in at.success[0].value
    assert inc.incident_record(store, iid).row["regulator_reference"] == "GD-2026-7"
    timeline = at.get_by_key("timeline").dataframe[0].value.set_index("event_id")
    assert timeline.loc[step.event_id, "superseded_by"] == step.event_id + 1
    assert timeline.loc[step.event_id + 1, "supersedes"] == step.event_id
    # The untouched time kept its value (the widget shows minutes only).
    assert inc.incident_record(store, iid).row["regulator_reported_at"] == sh("2026-11-24 09:00")


def test_an_auditor_follows_the_incident_but_records_nothing(db, monkeypatch):
    path, store = db
    at = open_incident(path, AUDITOR, monkeypatch, log(store))
    assert "Due" in clock_text(at, "regulator")
    with pytest.raises(KeyError):
        at.selectbox(key="step_kind")
    with pytest.raises(KeyError):
        at.selectbox(key="corr_target")
    assert "recording steps needs a manager" in at.info[0].value


def test_an_unknown_incident_id_says_so(db, monkeypatch):
    path, _ = db
    at = open_incident(path, MANAGER, monkeypatch, "INC-2026-0404")
    assert "No incident **INC-2026-0404**" in at.error[0].value


# -- the list -------------------------------------------------------------------------------------
def test_the_list_orders_marks_and_filters(db, monkeypatch):
    path, store = db
    closed = log(store, title="Closed one")
    for kind, values in (("contained", {"at": "2026-11-24 08:10"}),
                         ("resolved", {"at": "2026-11-24 08:20", "root_cause": "x",
                                       "remediation": "y"}),
                         ("summary_filed", {"at": "2026-11-24 08:30"}),
                         ("closed", {"at": "2026-11-24 08:40"})):
        inc.record_step(store, MANAGER, closed, kind, values)
    quiet = log(store, title="No clock", affected_subjects=0, grade="general")
    due = log(store, title="Due soon")
    overdue = log(store, title="Overdue one", detected_at="2026-11-20 08:00",
                  incident_type="ransomware")
    at = app_test(path, MANAGER, monkeypatch, page="incidents")
    assert not at.exception, at.exception
    table = at.dataframe(key="incident_table").value
    assert list(table["incident_id"]) == [overdue, due, quiet, closed]
    assert list(table["mark"]) == ["⚠ OVERDUE", "", "", ""]
    assert list(table["countdown"])[:2] == ["overdue by 3 d 22 h", "2 h left"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Overdue"] == "1" and metrics["Not closed"] == "3"
    assert metrics["Due within 24 h"] == "1"

    at.multiselect(key="f_type").set_value(["ransomware"]).run()
    assert list(at.dataframe(key="incident_table").value["incident_id"]) == [overdue]
    at.multiselect(key="f_type").set_value([]).run()
    at.multiselect(key="f_status").set_value(["closed"]).run()
    assert list(at.dataframe(key="incident_table").value["incident_id"]) == [closed]
    at.multiselect(key="f_status").set_value([]).run()
    at.multiselect(key="f_grade").set_value(["general"]).run()
    assert list(at.dataframe(key="incident_table").value["incident_id"]) == [quiet]
    at.multiselect(key="f_grade").set_value([]).run()
    at.date_input(key="f_from").set_value(dt.date(2026, 11, 19))
    at.date_input(key="f_to").set_value(dt.date(2026, 11, 21)).run()
    assert list(at.dataframe(key="incident_table").value["incident_id"]) == [overdue]
    at.date_input(key="f_from").set_value(None)
    at.date_input(key="f_to").set_value(None)
    at.toggle(key="f_overdue").set_value(True).run()
    assert list(at.dataframe(key="incident_table").value["incident_id"]) == [overdue]
    at.toggle(key="f_overdue").set_value(False).run()
    at.selectbox(key="open_incident").select(due).run()
    link = at.get("page_link")[-1].proto
    assert (link.label, link.page, link.query_string) == (f"Open {due}", "incident",
                                                          f"id={due}")


# -- the engine agrees with the page ------------------------------------------------------------
def agreement_set(store) -> dict[str, str]:
    """Incidents covering every clock state and every other INC-* rule, at FROZEN_NOW."""
    made = {}
    made["due"] = log(store, title="due", grade="major", affected_subjects=12_000_000)
    made["overdue"] = log(store, title="overdue", detected_at="2026-11-20 08:00",
                          affected_subjects=2_000_000)
    met = made["met"] = log(store, title="met", detected_at="2026-11-23 08:00")
    for kind, values in (
            ("emergency_plan_activated", {"at": "2026-11-23 08:10"}),
            ("regulator_reported", {"at": "2026-11-23 12:00", "regulator": "CAC"}),
            ("contained", {"at": "2026-11-23 12:30"}),
            ("users_notified", {"at": "2026-11-23 20:00", "notification_channels": ["sms"],
                                "audience": "all", "notice_contents": list(NOTICE_CONTENTS)}),
            ("resolved", {"at": "2026-11-24 09:00", "root_cause": "r", "remediation": "m"})):
        inc.record_step(store, MANAGER, met, kind, values)
    late = made["late"] = log(store, title="late", detected_at="2026-09-01 08:00")
    for kind, values in (
            ("regulator_reported", {"at": "2026-09-01 12:01", "regulator": "CAC"}),
            ("users_notified", {"at": "2026-09-05 09:00", "notification_channels": ["email"],
                                "audience": "all", "notice_contents": ["cause"]}),
            ("contained", {"at": "2026-09-02 08:00"}),
            ("resolved", {"at": "2026-09-03 08:00", "root_cause": "r", "remediation": "m"}),
            ("summary_filed", {"at": "2026-10-10 08:00"})):
        inc.record_step(store, MANAGER, late, kind, values)
    unfiled = made["summary overdue"] = log(store, title="unfiled", detected_at="2026-08-01 08:00",
                                            affected_subjects=0, grade="general")
    inc.record_step(store, MANAGER, unfiled, "contained", {"at": "2026-08-02 08:00"})
    inc.record_step(store, MANAGER, unfiled, "resolved",
                    {"at": "2026-08-05 08:00", "root_cause": "r", "remediation": "m"})
    made["under-graded"] = log(store, title="under-graded", affected_subjects=20_000_000,
                               grade="general")
    # Rules version 2: the authority notice, the police, the exemption, the grading facts.
    made["loss under-graded"] = log(store, title="loss", affected_subjects=10,
                                    economic_loss_cny="30,000,000", grade="relatively_major")
    made["important data under-graded"] = log(store, title="important", affected_subjects=0,
                                              important_data_involved=True, grade="general")
    exempt = made["exempt"] = log(store, title="exempt", detected_at="2026-11-20 08:00",
                                  affected_subjects=300, grade="general")
    inc.record_step(store, MANAGER, exempt, "user_notice_exempted",
                    {"exemption_reason": "Encrypted; the key was not exposed"})
    late_authority = made["authority late"] = log(store, title="authority late",
                                                  detected_at="2026-11-20 08:00",
                                                  affected_subjects=40, grade="general")
    inc.record_step(store, MANAGER, late_authority, "pi_authority_notified",
                    {"at": "2026-11-21 08:00:01", "pi_authority": "CAC"})
    inc.record_step(store, MANAGER, late_authority, "users_notified",
                    {"at": "2026-11-21 08:00", "notification_channels": ["sms"],
                     "audience": "all", "notice_contents": list(NOTICE_CONTENTS)})
    made["police overdue (CII)"] = log(store, title="police overdue", affected_subjects=0,
                                       grade="general", suspected_crime=True,
                                       cii_involved=True)
    made["police due"] = log(store, title="police due", affected_subjects=5, grade="major",
                             suspected_crime=True, detected_at="2026-11-24 09:00")
    police_met = made["police met"] = log(store, title="police met", affected_subjects=0,
                                          grade="general", suspected_crime=True)
    inc.record_step(store, MANAGER, police_met, "police_reported", {"at": "2026-11-24 09:59"})
    police_late = made["police late"] = log(store, title="police late", affected_subjects=0,
                                            grade="general", suspected_crime=True,
                                            detected_at="2026-11-23 08:00")
    inc.record_step(store, MANAGER, police_late, "police_reported", {"at": "2026-11-23 12:01"})
    # Imported, with no timeline at all: stale since detection.
    with store.write(SYSTEM, "register.edit") as w:
        w.execute("INSERT INTO incidents (incident_id, title, incident_type, grade, detected_at, "
                  "affected_subjects, status) VALUES ('INC-2026-0900', 'stale', 'other', "
                  "'general', ?, 0, 'open')", [sh("2026-10-01 08:00")])
        w.audit("test.import", "incident", "INC-2026-0900")
    made["stale"] = "INC-2026-0900"
    return made


def test_the_engine_findings_agree_with_the_clocks_the_page_shows(db, monkeypatch):
    path, store = db
    made = agreement_set(store)
    result = engine.run_check(store, FROZEN_NOW)
    findings = result.findings[result.findings["entity_type"] == "incident"]
    due = result.due[result.due["entity_type"] == "incident"]
    found = set(zip(findings["rule_id"], findings["entity_id"]))
    due_at = {(r, e): t for r, e, t in zip(due["rule_id"], due["entity_id"], due["due_at"])}
    seen_states = set()
    for name, iid in made.items():
        record = inc.incident_record(store, iid)
        at = open_incident(path, MANAGER, monkeypatch, iid)
        for c in clk.incident_clocks(record.row, store.settings, FROZEN_NOW):
            seen_states.add(c.state)
            # What the page shows for this clock is this state and deadline...
            text = clock_text(at, c.key)
            assert c.label in text, (name, c.key, text)
            if c.deadline is not None:
                assert clk.show_time(c.deadline, "Asia/Shanghai") in text
            # ...and the engine says the same.
            assert ((c.rule_id, iid) in found) == (c.state in (clk.OVERDUE, clk.LATE)), \
                (name, c.key, c.state)
            assert ((c.rule_id, iid) in due_at) == (c.state == clk.DUE), (name, c.key, c.state)
            if c.state == clk.DUE:
                assert due_at[(c.rule_id, iid)] == c.deadline
        flags = {f.rule_id for f in clk.incident_flags(record.row, store.settings, FROZEN_NOW,
                                                       record.last_event_at)}
        shown = {w.value.split("**")[1] for w in at.warning if w.value.startswith("**INC-")}
        assert shown == flags, name
        for rule in ("INC-EMERGENCY-PLAN", "INC-GRADE", "INC-NOTICE-CONTENT", "INC-STALE"):
            assert ((rule, iid) in found) == (rule in flags), (name, rule)
    assert seen_states == set(clk.STATES)     # the set covers every state
    # ...and every state of every version 2 clock.
    states = {(c.key, c.state) for iid in made.values()
              for c in clk.incident_clocks(inc.incident_record(store, iid).row,
                                           store.settings, FROZEN_NOW)}
    for key in ("pi_authority", "police"):
        assert {s for k, s in states if k == key} == set(clk.STATES) - {clk.EXEMPT}, key
    assert ("INC-STALE", made["stale"]) in found


def test_the_pages_work_on_the_demo_store(demo_db, monkeypatch):
    """Seeded incidents have timelines written by the seeder, not by this module."""
    at = app_test(demo_db, MANAGER, monkeypatch, page="incidents")
    assert not at.exception, at.exception
    table = at.dataframe(key="incident_table").value
    assert len(table) > 0
    active = table[table["status"] != "Closed"]
    assert (table["status"] == "Closed").iloc[: len(active)].sum() == 0   # not closed first
    deadlines = active["next_deadline"].dropna()
    assert deadlines.is_monotonic_increasing
    closed = table[table["status"] == "Closed"]["incident_id"].iloc[0]
    at = open_incident(demo_db, MANAGER, monkeypatch, closed)
    timeline = at.get_by_key("timeline").dataframe[0].value
    assert list(timeline["kind"])[0] == "Detected" and "Closed" in list(timeline["kind"])
    assert at.selectbox(key="step_kind").options == ["Note"]
    # A demo incident can be corrected like any other: its close has a time to start from.
    at.selectbox(key="corr_target").select("closed").run()
    assert not at.exception, at.exception


def test_without_an_id_the_page_offers_the_incidents_to_open(db, monkeypatch):
    path, store = db
    first = log(store, title="First")
    second = log(store, title="Second", detected_at="2026-11-24 09:00")
    inc.record_step(store, MANAGER, first, "contained", {"at": "2026-11-24 09:00"})
    at = app_test(path, MANAGER, monkeypatch, page="incident")
    picker = at.selectbox(key="incident_pick")
    assert picker.options == [f"{second} — Second", f"{first} — First"]
    picker.select(first).run()
    assert not at.exception, at.exception
    assert at.query_params["id"] in (first, [first])     # AppTest keeps lists per key
    assert at.title[0].value == f"{first} · First"


# -- rules version 2 on the pages ------------------------------------------------------------------
def test_the_log_form_asks_the_grading_facts_and_says_why_it_suggests_the_grade(db, monkeypatch):
    path, store = db
    at = app_test(path, MANAGER, monkeypatch, page="log_incident")
    fill_log_form(at, affected_subjects="1,200,000", economic_loss_cny="30,000,000",
                  important_data_involved=True, cii_involved=True, suspected_crime=True)
    captions = " ".join(c.value for c in at.caption)
    assert "Suggested: **Major (II)**, the highest grade any fact implies:" in captions
    reasons = [m.value for m in at.get_by_key("li_grade_reasons").markdown]
    assert reasons[0].startswith("- 30,000,000 yuan direct loss: at least major (2025 "
                                 "reporting measures, Annex")
    assert reasons[1].startswith("- 1,200,000 people affected: at least relatively major")
    assert reasons[2].startswith("- Important or core data involved: at least relatively major")
    preview = {m.value.split("**")[1]: m.value for m in at.get_by_key("li_preview").markdown}
    # CII: the regulator and police reports within 1 h (detected 08:00, now 10:00: overdue).
    assert ("by **24 Nov 2026 09:00 Beijing time** (overdue by 1 h)"
            in preview["Report to the regulator"])
    assert "by **24 Nov 2026 09:00 Beijing time**" in preview["Report to the police"]
    assert "by **25 Nov 2026 08:00 Beijing time**" in preview["Notify the PI authority"]
    assert n_incidents(store) == 0
    at.button(key="li_save").click().run()
    assert not at.exception, at.exception
    row = inc.incident_record(store, "INC-2026-0001").row
    assert row["grade"] == "major"
    assert (row["important_data_involved"], row["cii_involved"], row["suspected_crime"]) == (
        True, True, True)
    assert float(row["economic_loss_cny"]) == 30_000_000


def test_a_general_incident_with_people_affected_shows_the_authority_clock(db, monkeypatch):
    path, store = db
    iid = log(store, affected_subjects=800, grade="general")
    at = open_incident(path, MANAGER, monkeypatch, iid)
    everything = " ".join(e.value for e in [*at.markdown, *at.caption, *at.warning, *at.info])
    assert "no report is required" not in everything
    regulator = " ".join(c.value for c in at.get_by_key("clock_regulator").caption)
    assert "not required for this grade" in regulator
    assert "PIPL Art. 57 still requires notifying the authority" in regulator
    text = clock_text(at, "pi_authority")
    assert "Notify the PI authority" in text and "Due" in text
    assert "25 Nov 2026 08:00 Beijing time" in text and "22 h left" in text
    source = " ".join(c.value for c in at.get_by_key("clock_pi_authority").caption)
    assert "PIPL Art. 57 [V]" in source and "[P]" in source and "INC-PI-AUTHORITY" in source
    assert "Not applicable" in clock_text(at, "police")


def test_the_police_clock_shows_when_a_crime_is_suspected(db, monkeypatch):
    path, store = db
    iid = log(store, affected_subjects=0, grade="general", suspected_crime=True,
              cii_involved=True)
    at = open_incident(path, MANAGER, monkeypatch, iid)
    text = clock_text(at, "police")
    assert "Overdue" in text and "24 Nov 2026 09:00 Beijing time" in text
    source = " ".join(c.value for c in at.get_by_key("clock_police").caption)
    assert "Art. 4 [V]" in source and "1 h" in source and "INC-POLICE" in source
    assert "Not applicable" in clock_text(at, "pi_authority")     # no people affected
    assert "CII involved: **yes**" in " ".join(
        m.value for m in at.get_by_key("grading_facts").markdown)
    # Recorded from the page: the clock turns late.
    at = record_on_page(at, "police_reported", at=dt.datetime(2026, 11, 24, 9, 30),
                        police_reference="PSB-9")
    assert "Late" in clock_text(at, "police")
    assert inc.incident_record(store, iid).row["police_reported_at"] == sh("2026-11-24 09:30")


def test_the_pi_authority_notice_is_recorded_from_the_page(db, monkeypatch):
    path, store = db
    iid = log(store)
    at = open_incident(path, MANAGER, monkeypatch, iid)
    at = record_on_page(at, "pi_authority_notified", at=dt.datetime(2026, 11, 24, 9, 0),
                        pi_authority="Guangdong CAC")
    assert "PI authority notified" in at.success[0].value
    text = clock_text(at, "pi_authority")
    assert "Met" in text
    assert "Done: 24 Nov 2026 09:00 Beijing time (the PI authority's notice)" in text
    assert "Due" in clock_text(at, "regulator")      # a separate report, still to do


HOSTILE_REASON = "Encrypted **[link](http://evil.example)** <b>key</b> :red[safe]"


def test_the_exemption_is_recorded_with_its_reason_and_shown_plainly(db, monkeypatch):
    path, store = db
    iid = log(store)
    at = open_incident(path, MANAGER, monkeypatch, iid)
    at.selectbox(key="step_kind").select("user_notice_exempted").run()
    at.button(key="step_user_notice_exempted_save").click().run()      # no reason: refused
    assert "the exemption needs its reason" in field_errors(
        at, "user_notice_exempted_exemption_reason", "step_field_")[0]
    assert inc.incident_record(store, iid).row["user_notice_exemption"] is None
    at.text_area(key="step_user_notice_exempted_exemption_reason").input(HOSTILE_REASON)
    at.button(key="step_user_notice_exempted_save").click().run()
    assert not at.exception, at.exception
    assert inc.incident_record(store, iid).row["user_notice_exemption"] == HOSTILE_REASON
    text = clock_text(at, "user_notice")
    assert "Exempt (PIPL Art. 57 ¶2)" in text
    [shown_reason] = [m.value for m in at.get_by_key("clock_user_notice").markdown
                      if m.value.startswith("Reason recorded:")]
    assert shown_reason == f"Reason recorded: {ui.plain(HOSTILE_REASON)}"
    assert shown(shown_reason) == f"Reason recorded: {HOSTILE_REASON}"
    assert "Due" in clock_text(at, "pi_authority")       # the authority notice stays
    assert "user_notice_exempted" not in at.selectbox(key="step_kind").options


def test_grading_facts_are_updated_from_the_page_with_the_suggestion(db, monkeypatch):
    path, store = db
    iid = log(store, affected_subjects=10, grade="general")
    at = open_incident(path, MANAGER, monkeypatch, iid)
    at.selectbox(key="step_kind").select("grading_facts").run()
    at.text_input(key="step_grading_facts_economic_loss_cny").input("150000000")
    at.checkbox(key="step_grading_facts_suspected_crime").check().run()
    suggestion = at.get_by_key("step_grading_facts_suggestion")
    assert "imply **Particularly major (I)**" in suggestion.caption[0].value
    assert "150,000,000 yuan direct loss" in suggestion.caption[0].value
    assert "INC-GRADE" in suggestion.warning[0].value
    at.selectbox(key="step_grading_facts_grade").select("particularly_major")
    at.button(key="step_grading_facts_save").click().run()
    assert not at.exception, at.exception
    row = inc.incident_record(store, iid).row
    assert (row["grade"], row["suspected_crime"], float(row["economic_loss_cny"])) == (
        "particularly_major", True, 150_000_000)
    assert row["cii_involved"] is None and row["important_data_involved"] is None
    assert "Due" in clock_text(at, "police") and "Due" in clock_text(at, "regulator")
    # A bad amount is refused at the field, nothing written.
    at.selectbox(key="step_kind").select("grading_facts").run()
    at.text_input(key="step_grading_facts_economic_loss_cny").input("-3")
    at.button(key="step_grading_facts_save").click().run()
    assert "Cannot be negative" in field_errors(at, "grading_facts_economic_loss_cny",
                                                "step_field_")[0]
    assert float(inc.incident_record(store, iid).row["economic_loss_cny"]) == 150_000_000


def test_the_list_shows_the_new_clocks(db, monkeypatch):
    path, store = db
    crime = log(store, title="Extortion", suspected_crime=True, affected_subjects=0,
                grade="general")
    exempt = log(store, title="Encrypted laptop", affected_subjects=300, grade="general")
    inc.record_step(store, MANAGER, exempt, "user_notice_exempted",
                    {"exemption_reason": "Full-disk encryption"})
    at = app_test(path, MANAGER, monkeypatch, page="incidents")
    assert not at.exception, at.exception
    table = at.dataframe(key="incident_table").value.set_index("incident_id")
    assert table.loc[crime, "police_clock"] == "Due · 2 h left"
    assert table.loc[crime, "pi_authority_clock"] == "Not applicable"
    assert table.loc[exempt, "user_notice_clock"] == "Exempt (PIPL Art. 57 ¶2)"
    assert table.loc[exempt, "pi_authority_clock"] == "Due · 22 h left"
    assert table.loc[crime, "next_clock"] == "Report to the police"

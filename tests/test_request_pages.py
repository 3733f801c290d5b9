"""The rights-request pages through AppTest: the queue, the log form, one request's page,
the register download. The app's clock is frozen at 2026-11-24 10:00 Asia/Shanghai."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from dashboard import requests as rq
from dashboard import workdays

from conftest import (ADMIN, AUDITOR, DPO, MANAGER, SHANGHAI, app_test, make_store, shown)

GOOD = {"received_at": "2026-11-20 09:30", "channel": "email", "kind": "delete",
        "subject_ref": "U-000042"}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "pages.duckdb"
    s = make_store(path)
    yield path, s
    s.close()


def fill_log_form(at, **values):
    defaults = {"received_at": dt.datetime(2026, 11, 23, 9, 15), "channel": "web_form",
                "kind": "access", "subject_ref": "U-7"}
    defaults.update(values)
    for name, value in defaults.items():
        key = f"log_{name}"
        if name in ("channel", "kind"):
            at.selectbox(key=key).select(value)
        elif name == "received_at":
            at.get_by_key(key).set_value(value)
        elif name == "notes":
            at.text_area(key=key).input(value)
        else:
            at.text_input(key=key).input(value)
    at.button(key="log_save").click().run()
    assert not at.exception, at.exception
    return at


def test_a_manager_logs_a_request_and_sees_it_in_the_queue_with_its_deadline(db, monkeypatch):
    path, store = db
    at = app_test(path, MANAGER, monkeypatch, page="requests")
    assert not at.exception, at.exception
    at = fill_log_form(at, notes="**bold** <b>x</b>")
    assert shown(at.success[0].value) == "Logged REQ-2026-0001."
    row = rq.request_record(store, "REQ-2026-0001")
    assert row["received_at"] == dt.datetime(2026, 11, 23, 9, 15, tzinfo=SHANGHAI)
    assert row["notes"] == "**bold** <b>x</b>"
    table = at.dataframe[0].value
    assert list(table["request_id"]) == ["REQ-2026-0001"]
    due = workdays.request_deadline(row["received_at"], store.settings)
    assert table["deadline"][0] == "14 Dec 2026 23:59 Beijing time" == \
        due.due_at.strftime("%-d %b %Y %H:%M Beijing time")
    left = workdays.working_days_left(store.now(), due.due_at, store.settings)
    assert table["left"][0] == f"{left} working days left"
    # A manager logs and follows, but does not download the register.
    with pytest.raises(KeyError):
        at.get_by_key("rq_download")


def test_bad_input_shows_at_the_field_and_logs_nothing(db, monkeypatch):
    path, store = db
    at = app_test(path, DPO, monkeypatch, page="requests")
    at = fill_log_form(at, subject_ref="", received_at=dt.datetime(2026, 11, 25, 9, 0))
    errors = [e.value for e in at.get_by_key("log_field_subject_ref").error]
    assert "Enter the subject" in errors[0]
    assert "Cannot be in the future" in at.get_by_key("log_field_received_at").error[0].value
    assert store.scalar("SELECT count(*) FROM rights_requests") == 0


def test_the_queue_filters_and_counts(db, monkeypatch):
    path, store = db
    a = rq.log_request(store, DPO, GOOD).request_id
    b = rq.log_request(store, DPO, {**GOOD, "kind": "complaint", "channel": "phone",
                                    "received_at": "2026-10-20 10:00"}).request_id
    c = rq.log_request(store, DPO, {**GOOD, "kind": "access"}).request_id
    rq.record_step(store, DPO, c, "completed", {"at": "2026-11-21 10:00"})
    at = app_test(path, DPO, monkeypatch, page="requests")
    assert list(at.dataframe[0].value["request_id"]) == [b, a]
    assert at.dataframe[0].value["left"][0] == "⚠ OVERDUE"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Shown": "2", "Open": "2", "Overdue": "1", "Due within 7 days": "0"}
    at.multiselect(key="rq_kind").set_value(["complaint"]).run()
    assert list(at.dataframe[0].value["request_id"]) == [b]
    at.multiselect(key="rq_kind").set_value([]).run()
    at.multiselect(key="rq_status").set_value(["completed"]).run()
    assert list(at.dataframe[0].value["request_id"]) == [c]
    assert at.dataframe[0].value["left"][0] == "answered in time"


def test_a_dpo_records_the_steps_and_the_history_shows_them(db, monkeypatch):
    path, store = db
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    at = app_test(path, DPO, monkeypatch, page="request", query={"id": rid})
    assert not at.exception, at.exception
    deadline = at.get_by_key("request_deadline").markdown
    assert deadline[0].value == "**Reply deadline:** 11 Dec 2026 23:59 Beijing time"
    assert "13 working days left" in deadline[1].value
    for n, (kind, when) in enumerate([("identity_verified", (2026, 11, 20, 11, 0)),
                                      ("in_progress", (2026, 11, 21, 9, 0)),
                                      ("completed", (2026, 11, 23, 16, 0))], start=2):
        at.selectbox(key="rstep_kind").select(kind).run()
        at.get_by_key(f"rstep_{kind}_at").set_value(dt.datetime(*when))
        at.button(key=f"rstep_{kind}_save").click().run()
        assert not at.exception, at.exception
        assert f"history event #{n}" in at.success[0].value, [e.value for e in at.error]
    history = at.get_by_key("request_history").dataframe[0].value
    assert list(history["kind"]) == ["Logged", "Identity verified", "In progress", "Completed"]
    assert list(history["actor"]) == [MANAGER.name, DPO.name, DPO.name, DPO.name]
    assert rq.request_record(store, rid)["status"] == "completed"
    assert at.selectbox(key="rstep_kind").options == ["Note"]
    assert "Answered in time" in at.get_by_key("request_deadline").markdown[1].value
    # The deletion proof: the subject has no retention record: carried out.
    assert "Carried out" in at.get_by_key("deletion_proof").success[0].value


def test_a_refusal_needs_its_reason_on_the_page(db, monkeypatch):
    path, store = db
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    at = app_test(path, MANAGER, monkeypatch, page="request", query={"id": rid})
    at.selectbox(key="rstep_kind").select("refused").run()
    at.get_by_key("rstep_refused_at").set_value(dt.datetime(2026, 11, 23, 16, 0))
    at.button(key="rstep_refused_save").click().run()
    assert "PIPL Art. 50" in at.get_by_key("rstep_field_refused_reason").error[0].value
    assert rq.request_record(store, rid)["status"] == "received"
    at.text_area(key="rstep_refused_reason").input("Held under the <tax> law **x**")
    at.button(key="rstep_refused_save").click().run()
    assert rq.request_record(store, rid)["refusal_reason"] == "Held under the <tax> law **x**"
    facts = " ".join(shown(m.value) for m in at.markdown)
    assert "Reason for refusing: **Held under the <tax> law **x****" in facts


def test_the_deletion_proof_lists_the_records_kept(db, monkeypatch):
    path, store = db
    with store.transaction() as cur:
        cur.executemany(
            "INSERT INTO retention_records (record_id, subject_ref, category, system, "
            "storage_region, collected_on, deleted_on) VALUES (?, 'U-000042', 'contact', "
            "'crm', 'CN', DATE '2025-01-01', ?)", [(1, None), (2, dt.date(2026, 11, 22)),
                                                  (3, dt.date(2026, 11, 24))])
        # collected after the completion date (the subject came back): not the request's
        cur.execute("INSERT INTO retention_records (record_id, subject_ref, category, system, "
                    "storage_region, collected_on) VALUES (4, 'U-000042', 'contact', 'crm', "
                    "'CN', DATE '2026-11-24')")
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-23 16:00"})
    at = app_test(path, AUDITOR, monkeypatch, page="request", query={"id": rid})
    proof = at.get_by_key("deletion_proof")
    assert "Not carried out: 2 retention records of subject U" in proof.error[0].value
    assert list(proof.dataframe[0].value["record_id"]) == [1, 3]
    # dates read as dates (2026-11-24), not as midnight timestamps
    config = json.loads(proof.dataframe[0].proto.columns)
    assert config["collected_on"]["type_config"]["format"] == "YYYY-MM-DD", config
    # the page and the rule agree: DSR-DELETION-DONE counts the same two records
    from dashboard import engine
    found = engine.run_check(store).findings
    detail = found.loc[(found["rule_id"] == "DSR-DELETION-DONE")
                       & (found["entity_id"] == rid), "detail"]
    assert len(detail) == 1 and "2 retention records" in detail.iloc[0], detail.tolist()


def test_an_auditor_reads_and_downloads_but_records_nothing(db, monkeypatch):
    path, store = db
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    at = app_test(path, AUDITOR, monkeypatch, page="requests")
    assert not at.exception, at.exception
    with pytest.raises(KeyError):
        at.button(key="log_save")
    assert list(at.dataframe[0].value["request_id"]) == [rid]
    download = at.get_by_key("rq_download")
    assert download.proto.label.startswith("Download rights_requests_")
    assert "(1 rows)" in download.proto.label
    at = app_test(path, AUDITOR, monkeypatch, page="request", query={"id": rid})
    with pytest.raises(KeyError):
        at.selectbox(key="rstep_kind")
    assert "recording steps needs a manager" in at.info[0].value


def test_the_admin_cannot_open_the_request_pages(db, monkeypatch):
    path, _ = db
    at = app_test(path, ADMIN, monkeypatch, page="requests")
    assert not any("Rights requests" in t.value for t in at.title)


def test_an_unknown_request_id_says_so(db, monkeypatch):
    path, _ = db
    at = app_test(path, DPO, monkeypatch, page="request", query={"id": "REQ-2026-0404"})
    assert shown(at.error[0].value) == "No request **REQ-2026-0404**."


def test_the_request_page_shows_its_dsr_findings(db, monkeypatch):
    path, store = db
    with store.transaction() as cur:
        cur.execute("INSERT INTO retention_records (record_id, subject_ref, category, system, "
                    "storage_region, collected_on) VALUES (1, 'U-000042', 'contact', 'crm', "
                    "'CN', DATE '2025-01-01')")
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-23 16:00"})
    at = app_test(path, DPO, monkeypatch, page="request", query={"id": rid})
    assert not at.exception, at.exception
    found = at.get_by_key("request_findings").dataframe[0].value
    assert set(found["rule_id"]) == {"DSR-DELETION-DONE", "DSR-IDENTITY"}


def test_open_requests_fall_due_in_the_overview_group(db):
    from dashboard import dashboards as dash
    path, store = db
    rq.log_request(store, MANAGER, {**GOOD, "received_at": "2026-11-04 10:00"})  # due 11-25
    rq.log_request(store, MANAGER, GOOD)                                         # due 12-11
    groups = dash.due_groups(store, as_of=dash.as_of_for(store))
    mine = groups[groups["group"] == "requests"].set_index("horizon")["due"]
    assert mine[7] == 1 and mine[30] == 2
    assert groups[groups["group"] == "requests"]["label"].iloc[0] == "Rights requests"

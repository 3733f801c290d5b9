"""Reminders end to end: a frozen clock stepped across every threshold, scan and delivery
run several times at each step, a real SMTP server and a real HTTP receiver: every
reminder arrives once, with the right text and recipients (dashboard/reminders.py,
dashboard/notify.py, docs/NOTIFICATIONS.md)."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from conftest import DPO, MANAGER, SHANGHAI, SYSTEM, make_store
from receivers import HttpReceiver, SmtpServer

from dashboard import incidents, notify, reminders, remediation
from dashboard import requests as rights
from dashboard.access import Actor, PermissionDenied
from dashboard.settings import Settings


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def add_user(store, username: str, role: str, email: str) -> None:
    with store.write(SYSTEM, "user.manage") as w:
        w.execute("INSERT INTO users (username, display_name, role, email, password_hash, "
                  "created_at, updated_at, password_changed_at) VALUES (?, ?, ?, ?, 'x', ?, ?, ?)",
                  [username, username, role, email, w.at, w.at, w.at])
        w.audit("user.create", "user", username)


def seed(store) -> None:
    """An incident, an agreement, a rights request and a remediation plan, all on
    2026-11-24 10:00 (Beijing time)."""
    add_user(store, "manager.wang", "manager", "wang@example.com")
    add_user(store, "li.na", "dpo", "li.na@example.com")
    incidents.log_incident(store, MANAGER, {
        "title": "Customer database exposed", "incident_type": "data_leak",
        "detected_at": "2026-11-24 10:00", "affected_subjects": "1,200,000",
        "suspected_crime": True})
    with store.write(SYSTEM, "register.import") as w:
        w.execute("INSERT INTO sharing_agreements (agreement_id, counterparty, kind, legal_basis, "
                  "data_categories, consent, consent_evidence, confidentiality_clause, "
                  "recipient_region, effective_from, expires_on, status, pia_done_on) VALUES "
                  "('SHA-0001', 'Partner Bank', 'share', 'explicit_consent', ['name'], "
                  "'separate', 'C-1', true, 'HK', DATE '2026-01-01', DATE '2026-12-25', "
                  "'active', DATE '2025-12-01')")
        w.audit("register.import", "sharing_agreements")
    rights.log_request(store, DPO, {"received_at": "2026-11-24 10:00", "channel": "email",
                                    "kind": "delete", "subject_ref": "SUB-0001",
                                    "handler": "li.na"})
    remediation.acknowledge(store, DPO, rule_id="SHARE-CROSS-BORDER", entity_id="SHA-0001",
                            owner="li.na", target_date="2026-11-30",
                            comment="Move the recipient's storage to the mainland")


INC = "incident:INC-2026-0001"
# Each step, and the reminders that fall due at it (worked out by hand from the deadlines:
# regulator and police 4 h after detection at 10:00, PI authority and users 24 h; the
# agreement expires 2026-12-25; the request, received Tue 2026-11-24, is due at the end of
# Tue 2026-12-15, the 15th working day after; the plan's target date is 2026-11-30).
# The daily digest is left to its own test (it evaluates the rules once a day).
NO_DIGEST = Settings({"daily_check_time": "23:59"})
STEPS = [
    ("2026-11-24 10:00", set()),
    ("2026-11-24 11:59", set()),
    ("2026-11-24 12:00", {f"{INC}:regulator:50", f"{INC}:police:50"}),
    ("2026-11-24 13:11", set()),
    ("2026-11-24 13:12", {f"{INC}:regulator:80", f"{INC}:police:80"}),
    ("2026-11-24 13:59", set()),
    ("2026-11-24 14:00", {f"{INC}:regulator:100", f"{INC}:police:100"}),
    ("2026-11-24 22:00", {f"{INC}:pi_authority:50", f"{INC}:user_notice:50"}),
    ("2026-11-25 05:12", {f"{INC}:pi_authority:80", f"{INC}:user_notice:80",
                          "agreement:SHA-0001:30"}),
    ("2026-11-25 08:29", set()),
    ("2026-11-25 10:00", {f"{INC}:pi_authority:100", f"{INC}:user_notice:100"}),
    ("2026-11-30 23:00", set()),
    ("2026-12-01 09:00", {"remediation:SHARE-CROSS-BORDER:sharing_agreement:SHA-0001:1"}),
    ("2026-12-07 09:00", set()),
    ("2026-12-08 09:00", {"request:REQ-2026-0001:5"}),
    ("2026-12-10 09:00", set()),
    ("2026-12-11 09:00", {"request:REQ-2026-0001:2"}),
    ("2026-12-15 09:00", {"request:REQ-2026-0001:0"}),
    ("2026-12-16 09:00", set()),
    ("2026-12-17 09:00", set()),
    ("2026-12-18 09:00", {"agreement:SHA-0001:7"}),
    ("2026-12-25 09:00", {"agreement:SHA-0001:0"}),
    ("2026-12-26 08:00", set()),
]


@pytest.fixture
def receivers():
    with SmtpServer() as smtp, HttpReceiver() as http:
        yield smtp, http


def config_for(smtp, http) -> notify.ChannelConfig:
    return notify.load_config({"notify": {
        "dpo": http.url("dpo"),
        "manager": [smtp.url("managers@example.com"), http.url("managers-bot")],
        "smtp": smtp.url(),
    }}, environ={})


def arrived(smtp, http) -> list[tuple[str, str]]:
    """(dedupe id, where) of everything received so far."""
    out = [(p.payload.get("dedupe_id"), p.path) for p in http.received()]
    out += [(m.dedupe_id, ",".join(m.recipients)) for m in smtp.mails]
    return out


def test_every_reminder_arrives_once_with_its_recipients(tmp_path, receivers):
    smtp, http = receivers
    clock = Clock(at("2026-11-24 10:00"))
    store = make_store(tmp_path / "r.duckdb", clock=clock, settings=NO_DIGEST)
    seed(store)
    config = config_for(smtp, http)
    seen_keys: set[str] = set()
    for when, expected in STEPS:
        clock.now = at(when)
        for _ in range(2):
            reminders.scan(store, SYSTEM)
            notify.deliver(store, config=config)
        keys = {k for k, _ in arrived(smtp, http)}
        assert keys - seen_keys == expected, when
        seen_keys = keys
    counts = Counter(arrived(smtp, http))
    assert all(n == 1 for n in counts.values()), [k for k, n in counts.items() if n > 1]
    where: dict[str, set[str]] = {}
    for key, place in counts:
        where.setdefault(key, set()).add(place)
    # Incidents: the DPO's and the managers' channels, and the account that logged it.
    assert where[f"{INC}:regulator:80"] == {"/dpo", "/managers-bot", "managers@example.com",
                                            "wang@example.com"}
    # Requests and plans: the DPO's channel and the handler's / owner's own address.
    assert where["request:REQ-2026-0001:2"] == {"/dpo", "li.na@example.com"}
    assert where["remediation:SHARE-CROSS-BORDER:sharing_agreement:SHA-0001:1"] == {
        "/dpo", "li.na@example.com"}
    # Agreements: the DPO.
    assert where["agreement:SHA-0001:7"] == {"/dpo"}
    assert store.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
    # The in-app notifications: one per recipient role and account.
    bell = reminders.notifications_for(store, "li.na", "dpo", limit=500)
    assert len(bell) == store.scalar("SELECT count(*) FROM outbox")
    # Every outbox write went through the audited write path: the chain verifies.
    from dashboard import audit
    assert audit.verify(store).ok
    store.close()


def body_of(http, key: str) -> tuple[str, str]:
    post = next(p for p in http.received("/dpo") if p.payload.get("dedupe_id") == key)
    return post.payload["title"], post.payload["message"]


def test_reminder_texts_say_what_when_how_long_and_why(tmp_path, receivers):
    smtp, http = receivers
    clock = Clock(at("2026-11-24 10:00"))
    store = make_store(tmp_path / "r.duckdb", clock=clock, settings=NO_DIGEST)
    seed(store)
    config = config_for(smtp, http)
    for when, _ in STEPS:
        clock.now = at(when)
        reminders.scan(store, SYSTEM)
        notify.deliver(store, config=config)

    title, text = body_of(http, f"{INC}:regulator:80")
    # bilingual: Chinese first, the English in brackets (dashboard/reminders.py)
    assert title == (f"INC-2026-0001：向网信部门报告将于48分钟后到期 (INC-2026-0001: report to "
                     f"the regulator due in 48 min) [{INC}:regulator:80]")
    assert "Deadline: 2026-11-24 14:00 +08:00 (Beijing time)" in text
    assert "As of 2026-11-24 13:12 +08:00: 80 % of the time allowed has gone; 48 min left." \
        in text
    assert "CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 4" in text
    assert text.endswith(f"Reminder id: {INC}:regulator:80")
    # 100 % at the deadline itself: due now, not "passed".
    title, text = body_of(http, f"{INC}:regulator:100")
    assert "due now" in title and "the deadline is now" in text
    assert "passed" not in text and "overdue" not in text.lower()
    title, text = body_of(http, f"{INC}:pi_authority:50")
    assert "PIPL Art. 57" in text and "12 h left" in text
    title, text = body_of(http, f"{INC}:police:50")
    assert "police" in title and "2 h left" in text

    title, text = body_of(http, "agreement:SHA-0001:30")
    assert "Partner Bank" in title and "expires in 30 days" in title
    assert "it expires on 2026-12-25 (the end of that day, Beijing time): 30 days left" in text
    assert "SHARE-EXPIRED-ACTIVE" in text
    title, text = body_of(http, "agreement:SHA-0001:0")
    assert "expires today" in title and "expired" not in text.split("Legal source")[0]
    assert "at the end of the day (Beijing time): 14 h 59 min left" in text

    title, text = body_of(http, "request:REQ-2026-0001:5")
    assert "due in 5 working days" in title
    assert "due by the end of 2026-12-15 (23:59:59 Beijing time): 5 working days left" in text
    assert "15 working days" in text
    title, text = body_of(http, "request:REQ-2026-0001:0")
    assert "due today" in title and "14 h 59 min left" in text

    title, text = body_of(http, "remediation:SHARE-CROSS-BORDER:sharing_agreement:SHA-0001:1")
    assert ("(SHARE-CROSS-BORDER on SHA-0001: remediation plan overdue by 1 day) ["
            in title)
    assert "finding SHARE-CROSS-BORDER on sharing agreement SHA-0001" in text
    assert "target date 2026-11-30" in text and "Owner: li.na" in text

    store.close()


def test_the_daily_digest_goes_once_a_day_after_the_check_time(tmp_path, receivers):
    smtp, http = receivers
    clock = Clock(at("2026-11-24 08:29"))
    store = make_store(tmp_path / "r.duckdb", clock=clock)
    config = config_for(smtp, http)
    with store.write(SYSTEM, "register.import") as w:     # one record overdue since 2026-10-31
        w.execute("INSERT INTO retention_records VALUES (2, 'SUB-0002', 'name', 'crm', 'CN', "
                  "DATE '2025-01-01', DATE '2026-10-01', NULL, NULL, NULL, NULL)")
        w.audit("register.import", "retention_records")
    for when in ("2026-11-24 08:29", "2026-11-24 08:30", "2026-11-24 18:00",
                 "2026-11-25 08:29", "2026-11-25 09:00", "2026-11-25 12:00"):
        clock.now = at(when)
        if when == "2026-11-25 08:29":                 # a new finding in between
            with store.write(SYSTEM, "register.import") as w:
                w.execute("INSERT INTO retention_records VALUES (4, 'SUB-0004', 'name', 'crm', "
                          "'CN', DATE '2025-01-01', DATE '2026-10-24', NULL, NULL, NULL, NULL)")
                w.audit("register.import", "retention_records")
        for _ in range(2):
            reminders.scan(store, SYSTEM)
            notify.deliver(store, config=config)
    assert [p.payload["dedupe_id"] for p in http.received()] == [
        "digest:2026-11-24", "digest:2026-11-25"]
    title, text = body_of(http, "digest:2026-11-24")
    assert "as of 2026-11-24 08:30 +08:00" in text and "first digest" in text
    assert "Retention records overdue for deletion (RET-OVERDUE): 1." in text
    title, text = body_of(http, "digest:2026-11-25")
    assert "Daily digest for 2026-11-25, as of 2026-11-25 09:00 +08:00" in text
    assert "Retention records overdue for deletion (RET-OVERDUE): 2." in text
    assert "New since the previous digest (2026-11-24 08:30 +08:00): 1 (change per rule: " \
        "RET-OVERDUE +1)." in text
    assert title.startswith("2026-11-25每日摘要：") and "(Daily digest 2026-11-25:" in title
    store.close()


def test_thresholds_crossed_together_send_only_the_most_urgent(tmp_path, receivers):
    smtp, http = receivers
    clock = Clock(at("2026-11-24 10:00"))
    store = make_store(tmp_path / "r.duckdb", clock=clock, settings=NO_DIGEST)
    seed(store)
    clock.now = at("2026-11-24 15:00")            # the app was down from 10:00 to 15:00
    queued = {q.key: q.status for q in reminders.scan(store, SYSTEM)}
    assert queued[f"{INC}:regulator:100"] == "pending"
    assert queued[f"{INC}:regulator:50"] == queued[f"{INC}:regulator:80"] == "superseded"
    notify.deliver(store, config=config_for(smtp, http))
    keys = [p.payload["dedupe_id"] for p in http.received("/dpo")]
    assert f"{INC}:regulator:100" in keys and f"{INC}:regulator:80" not in keys
    title, text = body_of(http, f"{INC}:regulator:100")
    assert "overdue by 1 h" in title and "the deadline has passed: overdue by 1 h" in text
    assert reminders.scan(store, SYSTEM) == []      # and never later either
    store.close()


def test_summary_clock_runs_from_resolution(tmp_path):
    clock = Clock(at("2026-11-24 10:00"))
    store = make_store(tmp_path / "r.duckdb", clock=clock)
    with store.write(SYSTEM, "register.import") as w:
        w.execute("INSERT INTO incidents (incident_id, title, incident_type, grade, detected_at, "
                  "resolved_at, status, regulator_reported_at) VALUES ('INC-2026-0009', 'Old', "
                  "'outage', 'general', ?, ?, 'resolved', NULL)",
                  [at("2026-11-01 09:00"), at("2026-11-10 09:00")])
        w.audit("register.import", "incidents")
    clock.now = at("2026-11-25 09:00")           # 15 of 30 days after resolution: 50 %
    keys = {q.key for q in reminders.scan(store, SYSTEM) if q.kind == "incident_clock"}
    assert keys == {"incident:INC-2026-0009:summary:50"}
    text = store.scalar("SELECT body FROM outbox WHERE dedupe_key = ?", [next(iter(keys))])
    assert "Deadline: 2026-12-10 09:00 +08:00" in text and "from resolution" in text
    assert "CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 8" in text
    store.close()


def test_done_and_exempt_clocks_are_not_reminded(tmp_path):
    clock = Clock(at("2026-11-24 10:00"))
    store = make_store(tmp_path / "r.duckdb", clock=clock)
    with store.write(SYSTEM, "register.import") as w:
        w.execute("INSERT INTO incidents (incident_id, title, incident_type, grade, detected_at, "
                  "affected_subjects, status, pi_authority_notified_at, user_notice_exemption) "
                  "VALUES ('INC-2026-0002', 'Lost laptop', 'data_loss', 'general', ?, 10, "
                  "'open', ?, 'Disk encrypted')", [at("2026-11-24 10:00"), at("2026-11-24 11:00")])
        w.audit("register.import", "incidents")
    clock.now = at("2026-11-26 10:00")
    assert not [q for q in reminders.scan(store, SYSTEM) if q.kind == "incident_clock"]
    store.close()


def test_scan_needs_the_permission_and_settings_change_the_thresholds(tmp_path):
    clock = Clock(at("2026-11-24 10:00"))
    store = make_store(tmp_path / "r.duckdb", clock=clock,
                       settings=Settings({"reminder_incident_percents": "25",
                                          "daily_check_time": "23:00"}))
    with pytest.raises(PermissionDenied):
        reminders.scan(store, MANAGER)
    with store.write(SYSTEM, "register.import") as w:
        w.execute("INSERT INTO incidents (incident_id, title, incident_type, grade, detected_at, "
                  "status) VALUES ('INC-2026-0003', 'Leak', 'data_leak', 'major', ?, 'open')",
                  [at("2026-11-24 10:00")])
        w.audit("register.import", "incidents")
    clock.now = at("2026-11-24 10:59")
    assert reminders.scan(store, SYSTEM) == []
    clock.now = at("2026-11-24 11:00")
    assert [q.key for q in reminders.scan(store, DPO)] == ["incident:INC-2026-0003:regulator:25"]
    entry = store.rows("SELECT actor, action, entity_id FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert entry == [("dpo.li", "notify.queue", "1")]
    store.close()


def test_a_failed_check_is_alerted_once_a_day(tmp_path):
    clock = Clock(at("2026-11-24 08:30"))
    store = make_store(tmp_path / "r.duckdb", clock=clock)
    first = reminders.record_check_failure(
        store, "IOException: cannot open mailtos://ops:hunter2@smtp.example.com")
    assert first is not None and first.key == "check_failed:2026-11-24"
    assert reminders.record_check_failure(store, "again") is None
    body = store.scalar("SELECT body FROM outbox WHERE id = ?", [first.id])
    assert "hunter2" not in body and "smtp.example.com" in body
    assert "failed at 2026-11-24 08:30 +08:00" in body
    roles = store.scalar("SELECT recipient_roles FROM outbox WHERE id = ?", [first.id])
    assert sorted(roles) == ["admin", "dpo"]
    store.close()


def test_a_reseed_clears_the_outbox_so_new_items_of_the_same_ids_are_reminded(tmp_path):
    from conftest import DEMO_AS_OF

    from dashboard import demo
    store = make_store(tmp_path / "r.duckdb")
    reminders.record_check_failure(store, "boom")
    demo.seed(store, SYSTEM, scale="demo", as_of=DEMO_AS_OF, retention_records=0)
    assert [store.scalar(f"SELECT count(*) FROM {t}")
            for t in ("outbox", "outbox_attempts", "notifications")] == [0, 0, 0]
    store.close()


def test_an_agreement_past_its_date_and_still_active_says_so_exactly(tmp_path):
    clock = Clock(at("2026-11-24 10:00"))
    store = make_store(tmp_path / "r.duckdb", clock=clock, settings=NO_DIGEST)
    with store.write(SYSTEM, "register.import") as w:
        w.execute("INSERT INTO sharing_agreements (agreement_id, counterparty, kind, legal_basis, "
                  "expires_on, status) VALUES ('SHA-0009', 'Old Partner', 'share', "
                  "'explicit_consent', DATE '2026-11-22', 'active')")
        w.audit("register.import", "sharing_agreements")
    [queued] = [q for q in reminders.scan(store, SYSTEM) if q.status == "pending"]
    subject, body = store.rows("SELECT subject, body FROM outbox WHERE id = ?", [queued.id])[0]
    assert subject == ("SHA-0009：与Old Partner的协议已于2026-11-22到期，仍为有效状态 "
                       "(SHA-0009: agreement with Old Partner expired on 2026-11-22, still active) "
                       "[agreement:SHA-0009:0]")
    assert ("it expired at the end of 2026-11-22 (Beijing time), 1 d 10 h ago, and is still "
            "recorded as active (finding SHARE-EXPIRED-ACTIVE)") in body
    store.close()


# -- the bell: in-app notifications, read per person -----------------------------------------

def test_each_person_reads_a_role_notification_for_themselves(demo_store):
    queued = reminders.scan(demo_store, SYSTEM)
    assert queued
    for_managers = reminders.unread_count(demo_store, "manager.wang", "manager")
    assert for_managers > 0
    other = reminders.unread_count(demo_store, "manager.li", "manager")
    assert other == for_managers
    marked = reminders.mark_read(demo_store, MANAGER, MANAGER.name)
    assert marked == for_managers
    assert reminders.unread_count(demo_store, MANAGER.name, "manager") == 0
    assert reminders.unread_count(demo_store, "manager.li", "manager") == for_managers
    entry = demo_store.rows("SELECT actor, action FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert entry == [(MANAGER.name, "notification.read")]
    with pytest.raises(PermissionDenied):
        reminders.mark_read(demo_store, Actor("x", "intruder"), "x")


def test_the_bell_shows_the_unread_count_and_marks_them_read(demo_db, monkeypatch):
    from conftest import app_test
    from dashboard.store import Store
    from dashboard.settings import Settings as S
    from conftest import FROZEN_NOW
    store = Store(demo_db, settings=S(), clock=lambda: FROZEN_NOW)
    reminders.scan(store, SYSTEM)
    unread = reminders.unread_count(store, DPO.name, "dpo")
    store.close()
    assert unread > 0
    at = app_test(demo_db, DPO, monkeypatch)

    def bell():
        (popover,) = at.sidebar.get("popover")
        return popover.proto.popover.label, popover

    label, popover = bell()
    assert label == f"{unread} unread"
    subjects = [m.value for m in popover.markdown]
    assert len(subjects) == min(unread, 20) and all(s.startswith("**") for s in subjects)
    popover.button(key="bell_mark_read").click().run()
    assert bell()[0] == "Notifications"
    assert any("Nothing unread" in c.value for c in bell()[1].caption)

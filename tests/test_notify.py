"""Delivery of the outbox (dashboard/notify.py): retries with backoff, failure after the
last attempt, exactly-once recording across a kill, redaction of secrets, the channel
configuration, "send a test", and the scheduler (dashboard/scheduler.py)."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import ADMIN, DPO, MANAGER, SHANGHAI, SYSTEM, make_store
from receivers import HttpReceiver, SmtpServer

from dashboard import notify, reminders, scheduler
from dashboard.access import PermissionDenied
from dashboard.settings import Settings, SettingsError, load_settings
from dashboard.store import Store

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
QUIET = {"daily_check_time": "23:59"}           # no digest in these tests


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def add_agreements(store, n: int, expires: str = "2026-11-28") -> None:
    """n active agreements expiring within 7 days: one pending reminder each (the 7-day
    one; the 30-day one is superseded)."""
    with store.write(SYSTEM, "register.import") as w:
        w.cur.executemany(
            "INSERT INTO sharing_agreements (agreement_id, counterparty, kind, legal_basis, "
            "expires_on, status) VALUES (?, ?, 'share', 'explicit_consent', ?, 'active')",
            [[f"SHA-{i:04d}", f"Counterparty {i}", dt.date.fromisoformat(expires)]
             for i in range(1, n + 1)])
        w.audit("register.import", "sharing_agreements")


@pytest.fixture
def http():
    with HttpReceiver() as receiver:
        yield receiver


def config(**roles) -> notify.ChannelConfig:
    return notify.load_config({"notify": roles}, environ={})


def attempts(store, outbox_id: int) -> list[tuple]:
    return store.rows('SELECT attempt, "at", ok FROM outbox_attempts WHERE outbox_id = ? '
                      "ORDER BY attempt", [outbox_id])


# -- retries --------------------------------------------------------------------------------
def test_a_failing_receiver_is_retried_with_backoff_then_the_message_is_sent(tmp_path, http):
    clock = Clock(NOW)
    store = make_store(tmp_path / "n.duckdb", clock=clock, settings=Settings(QUIET))
    queued = reminders.record_check_failure(store, "boom")
    cfg = config(dpo=http.url("flaky"))
    http.fail["/flaky"] = 2
    report = notify.deliver(store, config=cfg)
    assert report.retrying == [queued.key] and http.received() == []
    row = store.rows("SELECT status, attempts, next_attempt_at FROM outbox WHERE id = ?",
                     [queued.id])[0]
    assert row[:2] == ("pending", 1) and row[2] == NOW + dt.timedelta(seconds=60)
    notify.deliver(store, config=cfg)                          # not due yet: nothing tried
    clock.now = NOW + dt.timedelta(seconds=59)
    notify.deliver(store, config=cfg)
    assert len(http.refused) == 1
    clock.now = NOW + dt.timedelta(seconds=60)                 # second attempt, fails
    notify.deliver(store, config=cfg)
    assert len(http.refused) == 2
    assert store.scalar("SELECT next_attempt_at FROM outbox WHERE id = ?", [queued.id]) == \
        clock.now + dt.timedelta(seconds=120)                  # the wait doubles
    clock.now += dt.timedelta(seconds=119)
    notify.deliver(store, config=cfg)
    assert len(http.refused) == 2 and http.received() == []
    clock.now += dt.timedelta(seconds=1)                       # third attempt, succeeds
    report = notify.deliver(store, config=cfg)
    assert report.sent == [queued.key]
    assert [p.payload["dedupe_id"] for p in http.received()] == [queued.key]
    assert [r[2] for r in attempts(store, queued.id)] == [False, False, True]
    assert store.rows("SELECT status, sent_at, last_error FROM outbox WHERE id = ?",
                      [queued.id]) == [("sent", clock.now, None)]
    clock.now += dt.timedelta(days=1)
    notify.deliver(store, config=cfg)                          # sent is sent: never again
    assert len(http.received()) == 1
    store.close()


def test_after_the_last_attempt_the_message_is_failed_and_no_secret_is_kept(tmp_path, http):
    clock = Clock(NOW)
    store = make_store(tmp_path / "n.duckdb", clock=clock,
                       settings=Settings({**QUIET, "notify_max_attempts": 3,
                                          "notify_retry_base_seconds": 10}))
    queued = reminders.record_check_failure(store, "boom")
    cfg = config(dpo=http.url("down", auth="bot:s3cret-pass@"))
    http.fail["/down"] = -1
    for _ in range(6):
        notify.deliver(store, config=cfg)
        clock.now += dt.timedelta(minutes=5)
    assert len(http.refused) == 3
    status, tries, error = store.rows("SELECT status, attempts, last_error FROM outbox "
                                      "WHERE id = ?", [queued.id])[0]
    assert (status, tries) == ("failed", 3)
    assert "json://***@127.0.0.1" in error and "s3cret-pass" not in error
    assert [r[0] for r in attempts(store, queued.id)] == [1, 2, 3]
    # The secret appears nowhere in the store: not in the attempts, not in the audit log.
    for table in ("outbox", "outbox_attempts", "audit_log"):
        dump = store.rows(f"SELECT string_agg(CAST(t AS VARCHAR), '\n') FROM {table} t")[0][0]
        assert "s3cret-pass" not in dump, table
    store.close()


def test_no_channel_configured_fails_at_once_with_a_clear_error(tmp_path):
    store = make_store(tmp_path / "n.duckdb", settings=Settings(QUIET))
    queued = reminders.record_check_failure(store, "boom")
    report = notify.deliver(store, config=config())
    assert report.failed == [queued.key]
    error = store.scalar("SELECT last_error FROM outbox WHERE id = ?", [queued.id])
    assert "no delivery channel is configured for role admin, role dpo" in error
    store.close()


def test_a_message_goes_to_each_channel_once_even_when_one_fails(tmp_path, http):
    clock = Clock(NOW)
    store = make_store(tmp_path / "n.duckdb", clock=clock, settings=Settings(QUIET))
    queued = reminders.record_check_failure(store, "boom")
    cfg = config(dpo=[http.url("good"), http.url("bad")])
    http.fail["/bad"] = 1
    notify.deliver(store, config=cfg)
    clock.now += dt.timedelta(minutes=1)
    notify.deliver(store, config=cfg)
    assert [p.path for p in http.received()] == ["/good", "/bad"]       # /good not twice
    assert store.scalar("SELECT status FROM outbox WHERE id = ?", [queued.id]) == "sent"
    store.close()


# -- exactly once across a kill ---------------------------------------------------------------
SCAN = """
import datetime as dt, os, sys
from dashboard import reminders
from dashboard.settings import Settings
from dashboard.store import Store
now = dt.datetime.fromisoformat(sys.argv[2])
store = Store(sys.argv[1], settings=Settings({"daily_check_time": "23:59"}), clock=lambda: now)
print(len(reminders.scan(store, reminders.SYSTEM)), flush=True)
os._exit(0)       # killed: the store is neither closed nor checkpointed
"""

DELIVER = """
import datetime as dt, os, sys
from dashboard import notify
from dashboard.settings import Settings
from dashboard.store import Store
now = dt.datetime.fromisoformat(sys.argv[2])
store = Store(sys.argv[1], settings=Settings({"daily_check_time": "23:59"}), clock=lambda: now)
kill_after = int(sys.argv[3])
if kill_after:
    record, done = notify._record, []
    def killing(*args, **kwargs):
        result = record(*args, **kwargs)
        done.append(result)
        if len(done) == kill_after:
            os._exit(9)       # killed in the middle of the batch
        return result
    notify._record = killing
print(notify.deliver(store), flush=True)
os._exit(0)
"""


def run(script: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_kill_after_queuing_and_in_the_middle_of_a_batch_loses_and_repeats_nothing(
        tmp_path, http):
    path = tmp_path / "k.duckdb"
    store = make_store(path, settings=Settings(QUIET))
    add_agreements(store, 4)
    store.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COMPLIANCE_NOTIFY_DPO": http.url("dpo")}
    scanned = run(SCAN, str(path), NOW.isoformat(), env=env)
    assert scanned.returncode == 0, scanned.stderr
    assert scanned.stdout.strip() == "8"                  # 4 pending, 4 superseded
    assert http.received() == []                          # queued, not sent
    killed = run(DELIVER, str(path), NOW.isoformat(), "2", env=env)
    assert killed.returncode == 9, killed.stderr
    assert len(http.received()) == 2
    rest = run(DELIVER, str(path), NOW.isoformat(), "0", env=env)
    assert rest.returncode == 0 and rest.stdout.strip().startswith("2 sent"), rest.stderr
    again = run(DELIVER, str(path), (NOW + dt.timedelta(days=1)).isoformat(), "0", env=env)
    assert again.stdout.strip().startswith("0 sent"), again.stderr
    ids = Counter(p.payload["dedupe_id"] for p in http.received())
    assert ids == Counter({f"agreement:SHA-{i:04d}:7": 1 for i in range(1, 5)})
    with Store(path, settings=Settings(QUIET), clock=lambda: NOW) as store:
        assert store.rows("SELECT status, count(*) FROM outbox GROUP BY ALL ORDER BY 1") == [
            ("sent", 4), ("superseded", 4)]
        assert store.scalar("SELECT count(*) FROM outbox_attempts") == 4


def test_a_kill_between_sending_and_recording_resends_once_with_the_same_id(tmp_path, http,
                                                                             monkeypatch):
    """The one case a receiver may see a message twice: the process dies after the channel
    took it and before the outcome was recorded. The attempt was marked first, so it is
    retried after the backoff (not in a loop), and both copies carry the same id."""
    path = tmp_path / "k.duckdb"
    clock = Clock(NOW)
    store = make_store(path, clock=clock, settings=Settings(QUIET))
    add_agreements(store, 1)
    reminders.scan(store, SYSTEM)
    cfg = config(dpo=http.url("dpo"))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")
    monkeypatch.setattr(notify, "_record", killed)
    with pytest.raises(KeyboardInterrupt):
        notify.deliver(store, config=cfg)
    monkeypatch.undo()
    store.close()
    store = Store(path, settings=Settings(QUIET), clock=clock)       # "restarted"
    assert store.rows("SELECT status, attempts FROM outbox WHERE status = 'pending'") == [
        ("pending", 1)]
    assert notify.deliver(store, config=cfg).sent == []               # backoff first
    clock.now += dt.timedelta(seconds=60)
    assert notify.deliver(store, config=cfg).sent == ["agreement:SHA-0001:7"]
    ids = [p.payload["dedupe_id"] for p in http.received()]
    assert ids == ["agreement:SHA-0001:7", "agreement:SHA-0001:7"]
    assert all("[agreement:SHA-0001:7]" in p.payload["title"] for p in http.received())
    store.close()


# -- e-mail ---------------------------------------------------------------------------------
def test_email_carries_the_text_the_subject_and_the_id(tmp_path):
    with SmtpServer() as smtp:
        store = make_store(tmp_path / "n.duckdb", settings=Settings(QUIET))
        add_agreements(store, 1)
        reminders.scan(store, SYSTEM)
        notify.deliver(store, config=config(dpo=smtp.url("dpo@example.com")))
        [mail] = smtp.mails
        store.close()
    assert mail.recipients == ["dpo@example.com"]
    assert mail.dedupe_id == "agreement:SHA-0001:7"
    # bilingual, Chinese first (dashboard/reminders.py)
    assert mail.subject == ("SHA-0001：与Counterparty 1的协议将于4天后到期 "
                            "(SHA-0001: agreement with Counterparty 1 expires in 4 days) "
                            "[agreement:SHA-0001:7]")
    assert "As of 2026-11-24 10:00 +08:00: it expires on 2026-11-28" in mail.body
    assert mail.body.rstrip().endswith("Reminder id: agreement:SHA-0001:7")


# -- configuration and redaction ------------------------------------------------------------
def test_settings_are_validated_with_a_clear_message():
    with pytest.raises(SettingsError, match=r"reminder_incident_percents .*: 120 is out of "
                                            r"range \(each value must be from 1 to 100"):
        Settings({"reminder_incident_percents": "50, 80, 120"})
    with pytest.raises(SettingsError, match="reminder_agreement_days from environment "
                                            "COMPLIANCE_REMINDER_AGREEMENT_DAYS: '30, x' is not "
                                            "a list of whole numbers"):
        load_settings(environ={"COMPLIANCE_REMINDER_AGREEMENT_DAYS": "30, x"})
    with pytest.raises(SettingsError, match="repeats a value"):
        Settings({"reminder_request_working_days": [5, 5]})
    with pytest.raises(SettingsError, match="daily_check_time .* not a time of day as HH:MM"):
        Settings({"daily_check_time": "8.30"})
    with pytest.raises(SettingsError, match="reminder_scan_minutes .* 0 is out of range"):
        Settings({"reminder_scan_minutes": 0})
    s = Settings({"reminder_agreement_days": [0, 60, 14]})
    assert s.reminder_agreement_days == (0, 14, 60)
    assert {r["setting"]: r["value"] for r in s.rows()}["reminder_agreement_days"] == "0, 14, 60"


def test_channel_configuration_from_secrets_and_environment():
    cfg = notify.load_config(
        {"notify": {"dpo": "wecombot://KEY1234567, json://hooks.example.com/in",
                    "accounts": {"Li.Na": ["feishu://TOKEN987654"]},
                    "smtp": "mailtos://ops:hunter22@smtp.example.com?from=a@example.com"}},
        environ={"COMPLIANCE_NOTIFY_MANAGER": "dingtalk://SECRET55@TOKEN66/"})
    assert cfg.roles["dpo"] == ("wecombot://KEY1234567", "json://hooks.example.com/in")
    assert cfg.roles["manager"] == ("dingtalk://SECRET55@TOKEN66/",)
    assert cfg.accounts == {"li.na": ("feishu://TOKEN987654",)}
    two = notify.load_config({"notify": {"dpo": "mailtos://u:p@smtp.example.com?from=a@example.com"
                                                "&to=b@example.com,c@example.com, json://h/x"}},
                             environ={})
    assert two.roles["dpo"] == ("mailtos://u:p@smtp.example.com?from=a@example.com"
                                "&to=b@example.com,c@example.com", "json://h/x")
    shown = json.dumps(cfg.describe())
    for secret in ("KEY1234567", "TOKEN987654", "hunter22", "SECRET55", "TOKEN66"):
        assert secret not in shown
    with pytest.raises(notify.NotifyConfigError, match="scheme ftp:// is not supported"):
        notify.load_config({"notify": {"dpo": "ftp://user:pw@host"}}, environ={})
    with pytest.raises(notify.NotifyConfigError, match="unknown key"):
        notify.load_config({"notify": {"dpos": "json://h"}}, environ={})
    with pytest.raises(notify.NotifyConfigError) as bad:
        notify.load_config({}, environ={"COMPLIANCE_NOTIFY_DPO": "mailtos://u:pw-secret@"})
    assert "pw-secret" not in str(bad.value) and "COMPLIANCE_NOTIFY_DPO" in str(bad.value)


@pytest.mark.parametrize("url, shown", [
    ("mailtos://ops:hunter22@smtp.example.com:465?from=a@example.com",
     "mailtos://***@smtp.example.com:465?from=***"),
    ("wecombot://KEY1234567", "wecombot://***"),
    ("dingtalk://SECRET55@TOKEN66/", "dingtalk://***"),
    ("feishu://TOKEN987654", "feishu://***"),
    ("json://bot:pw@hooks.example.com:8080/in/TOKEN?:x=1",
     "json://***@hooks.example.com:8080/***?:x=***"),
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd",
     "https://qyapi.weixin.qq.com/***?key=***"),
])
def test_channel_addresses_are_redacted(url, shown):
    assert notify.redact_url(url) == shown
    assert notify.redact(f"error sending to {url}: refused") == f"error sending to {shown}: refused"


def test_known_secrets_are_redacted_anywhere_in_a_text():
    cfg = config(dpo="wecombot://KEY1234567")
    assert notify.redact("the bot KEY1234567 said no", cfg.secrets) == "the bot *** said no"


# -- send a test ---------------------------------------------------------------------------
def test_send_a_test_says_what_happened_and_needs_settings_manage(tmp_path, http):
    store = make_store(tmp_path / "n.duckdb", settings=Settings(QUIET))
    cfg = config(dpo=http.url("dpo"), admin=http.url("down", auth="u:topsecret@"))
    result = notify.send_test(store, DPO, "dpo", config=cfg)
    assert result.ok and result.message == ("Test message sent to 1 channel(s) of the Data "
                                            "protection officer role: json://127.0.0.1:"
                                            f"{http.port}/***.")
    [post] = http.received()
    assert "test of the Data protection officer role" in post.payload["message"]
    assert "2026-11-24 10:00 +08:00" in post.payload["message"]
    http.fail["/down"] = -1
    result = notify.send_test(store, ADMIN, "admin", config=cfg)
    assert not result.ok and "1 of 1 channel(s) of the Administrator role failed" in str(result)
    assert "topsecret" not in result.message
    result = notify.send_test(store, DPO, "manager", config=cfg)
    assert not result.ok and "No channel is configured for the Manager role" in result.message
    assert "COMPLIANCE_NOTIFY_MANAGER" in result.message
    with pytest.raises(PermissionDenied):
        notify.send_test(store, MANAGER, "dpo", config=cfg)
    with pytest.raises(ValueError, match="role 'boss' is not one of"):
        notify.send_test(store, DPO, "boss", config=cfg)
    entries = store.rows("SELECT actor, entity_id, values_after FROM audit_log "
                         "WHERE action = 'notify.test' ORDER BY seq")
    assert [(a, e) for a, e, _ in entries] == [("dpo.li", "dpo"), ("admin.zhao", "admin")]
    assert "topsecret" not in " ".join(str(x) for _, _, x in entries)
    store.close()


# -- the scheduler ----------------------------------------------------------------------------
def test_the_scheduler_has_three_jobs_one_instance_each_and_catches_up_a_missed_check(
        tmp_path):
    store = make_store(tmp_path / "s.duckdb", settings=Settings({"daily_check_time": "07:45",
                                                                "reminder_scan_minutes": 10}))
    sched = scheduler.build(store)
    sched.start(paused=True)                 # the job defaults apply once it is started
    jobs = {job.id: job for job in sched.get_jobs()}
    sched.shutdown(wait=False)
    assert set(jobs) == {"daily_check", "reminder_scan", "deliver", "catch_up_check"}
    assert str(jobs["daily_check"].trigger) == "cron[hour='7', minute='45']"
    assert jobs["reminder_scan"].trigger.interval == dt.timedelta(minutes=10)
    assert jobs["deliver"].trigger.interval == dt.timedelta(minutes=1)
    assert all(j.max_instances == 1 and j.coalesce for j in jobs.values())
    assert str(sched.timezone) == "Asia/Shanghai"
    # Once today's snapshot is stored (or before the check time) there is nothing to catch up.
    scheduler.daily_check(store)
    assert "catch_up_check" not in {job.id for job in scheduler.build(store).get_jobs()}
    store.close()


def _run_async(coroutine_function):
    """Run a coroutine in a thread of its own: an earlier test of the session may have left
    this thread marked as running an event loop, where asyncio.run refuses."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_function())).result(timeout=60)


def test_start_is_once_per_store_and_the_lifespan_stops_it(tmp_path, monkeypatch):
    store = make_store(tmp_path / "s.duckdb", settings=Settings(QUIET))
    try:
        first = scheduler.start(store)
        assert first.running and scheduler.start(store) is first
        scheduler.stop(store)
        assert not first.running
        from dashboard import ui
        monkeypatch.setattr(ui, "get_store", lambda: store)

        async def serve():
            async with scheduler.lifespan(object()) as state:
                assert state is None
                running = scheduler._SCHEDULERS[str(store.path.resolve())]
                assert running.running
            return running
        assert not _run_async(serve).running

        def no_store():
            raise RuntimeError("the store is 2 migrations behind")
        monkeypatch.setattr(ui, "get_store", no_store)

        async def serve_without():
            async with scheduler.lifespan(object()) as state:    # the server still serves
                return state, dict(scheduler._SCHEDULERS)
        assert _run_async(serve_without) == (None, {})
    finally:
        scheduler.stop()
        store.close()


def test_the_daily_check_stores_a_snapshot_or_alerts(tmp_path, monkeypatch):
    store = make_store(tmp_path / "s.duckdb", settings=Settings(QUIET))
    assert scheduler.daily_check(store) is True
    assert store.scalar("SELECT taken_by FROM compliance_snapshots") == "scheduler"
    from dashboard import engine

    def broken(*args, **kwargs):
        raise RuntimeError("disk full at mailtos://ops:hunter22@smtp.example.com")
    monkeypatch.setattr(engine, "_fresh_summary", broken)
    assert scheduler.daily_check(store) is False
    body = store.scalar("SELECT body FROM outbox WHERE kind = 'check_failed'")
    assert "disk full" in body and "hunter22" not in body
    store.close()


def test_two_threads_scanning_and_delivering_at_once_send_each_message_once(tmp_path, http):
    import threading
    store = make_store(tmp_path / "c.duckdb", settings=Settings(QUIET))
    add_agreements(store, 5)
    cfg = config(dpo=http.url("dpo"))
    barrier = threading.Barrier(2)
    errors = []

    def work():
        try:
            barrier.wait()
            reminders.scan(store, SYSTEM)
            barrier.wait()
            notify.deliver(store, config=cfg)
        except Exception as exc:                     # reported below, not swallowed
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = Counter(p.payload["dedupe_id"] for p in http.received())
    assert ids == Counter({f"agreement:SHA-{i:04d}:7": 1 for i in range(1, 6)})
    assert store.scalar("SELECT count(*) FROM outbox") == 10          # 5 sent, 5 superseded
    assert store.scalar("SELECT count(*) FROM outbox_attempts") == 5
    store.close()


# -- the Settings page: channels shown redacted, "Send a test" ----------------------------------

def test_the_settings_page_sends_a_test_and_hides_secrets(demo_db, monkeypatch, http):
    from conftest import AUDITOR, DPO, app_test
    monkeypatch.setenv("COMPLIANCE_NOTIFY_DPO", http.url("dpo-hook", auth="bot:s3cr3tpass99@"))
    at = app_test(demo_db, DPO, monkeypatch, page="settings")
    shown = " ".join(m.value for m in at.markdown)
    assert "s3cr3tpass99" not in shown, shown
    assert "Data protection officer" in shown, [e.value for e in at.error]
    assert "no channel: reminders reach this role in the app only" in shown
    at.button(key="notify_test_dpo").click().run()
    assert any("dpo" in s.value.lower() or "sent" in s.value.lower() for s in at.success), \
        [e.value for e in at.error]
    (post,) = http.received("/dpo-hook")
    assert "test" in post.payload["title"].lower()
    auditor = app_test(demo_db, AUDITOR, monkeypatch, page="settings")
    assert not [b for b in auditor.button if b.key == "notify_test_dpo"]
    monkeypatch.setenv("COMPLIANCE_NOTIFY_DPO", "smtp://nope")
    broken = app_test(demo_db, DPO, monkeypatch, page="settings")
    assert any("channel configuration is wrong" in e.value for e in broken.error)


def test_channels_parse_in_a_fresh_app_process_where_dashboard_modules_could_shadow(demo_db,
                                                                                      http):
    """Streamlit puts dashboard/ on sys.path, where dashboard/requests.py would be imported
    as `requests` by Apprise's plugins (loaded on first use, in the page): app.py takes the
    folder off. Run in a fresh process, so that nothing has loaded Apprise before."""
    import subprocess
    import sys as _sys
    from conftest import ROOT
    script = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from conftest import DPO, FROZEN_NOW\n"
        "from streamlit.testing.v1 import AppTest\n"
        "from dashboard.navigation import PAGE_BY_KEY\n"
        "at = AppTest.from_file('dashboard/app.py', default_timeout=120)\n"
        "at.session_state['actor'] = DPO\n"
        "at.switch_page(PAGE_BY_KEY['settings'].script)\n"
        "at.run()\n"
        "import requests\n"
        "print('ERRORS', [e.value for e in at.error])\n"
        "print('REQUESTS', requests.__file__)\n")
    env = {**__import__("os").environ, "COMPLIANCE_DB": str(demo_db),
           "COMPLIANCE_FROZEN_NOW": "2026-11-24T10:00:00+08:00",
           "COMPLIANCE_NOTIFY_DPO": http.url("dpo-hook", auth="bot:s3cr3tpass99@")}
    done = subprocess.run([_sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert "ERRORS []" in done.stdout, done.stdout + done.stderr
    assert "site-packages" in done.stdout.split("REQUESTS", 1)[1]


def test_the_app_leaves_the_dashboard_package_in_place(demo_db, monkeypatch):
    """app.py forgets only bare-named modules imported from dashboard/ (the shadowing
    above), never the ``dashboard`` package itself."""
    import sys as _sys
    from conftest import DPO, app_test
    before = _sys.modules["dashboard"]
    app_test(demo_db, DPO, monkeypatch)
    assert _sys.modules["dashboard"] is before and hasattr(before, "store")

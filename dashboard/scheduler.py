"""The scheduled jobs of the server: the daily check, the reminder scan, the delivery.

An APScheduler 3.11 ``BackgroundScheduler`` (timezone Asia/Shanghai, threads in the app's
process, since DuckDB lets one process open the store) runs, acting as the system actor
``scheduler`` (``reminders.SYSTEM``):

- **daily check** at ``daily_check_time`` (08:30): the check ``python -m dashboard check``
  makes, as of now, and its snapshot stored (``engine.save_snapshot``); on failure the
  error is logged and ``reminders.record_check_failure`` queues an alert. A server started
  after that time on a day with no snapshot yet runs it once, 30 s after start;
- **reminder scan** every ``reminder_scan_minutes`` (5): ``reminders.scan``;
- **delivery** every minute: ``notify.deliver``.

Each job has ``max_instances=1`` and ``coalesce=True``: a slow run is never overlapped by
the next, and missed runs (the process was busy or asleep) run once, not once each. Any
failure is logged (``dashboard.scheduler``); the scheduler keeps going.

``start(store)`` starts one scheduler per store file per process (a second call returns
the first), ``stop()`` stops them; ``lifespan(app)`` is an async context manager for
``streamlit.starlette.App(..., lifespan=lifespan)``: it opens the app's store
(``dashboard.ui.get_store``, the ``COMPLIANCE_DB`` path) and starts the scheduler at
start-up (a store that cannot be opened is logged, and the server serves without the
scheduler), and stops it at shutdown.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
from typing import Any
from zoneinfo import ZoneInfo

from . import notify, reminders

TIMEZONE = ZoneInfo("Asia/Shanghai")
SYSTEM = reminders.SYSTEM
JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600}
FIRST_SCAN_SECONDS = 10          # after start-up: the first reminder scan
FIRST_DELIVERY_AFTER_SCAN = 30   # then the first delivery (every minute after that)
_SCHEDULERS: dict[str, Any] = {}
_GUARD = threading.Lock()
log = logging.getLogger(__name__)


def _key(store) -> str:
    return str(store.path.resolve())


def daily_check(store) -> bool:
    """The day's check and snapshot, as ``python -m dashboard check`` stores them; True if
    stored. A failure is logged and queued as an alert (``record_check_failure``)."""
    from . import engine
    try:
        moment = engine.parse_as_of(None, store.tz, store.now())
        summary = engine._fresh_summary(store, moment)     # what cmd_check evaluates
        engine.save_snapshot(store, SYSTEM, summary)
        log.info("daily check: snapshot for %s stored", moment.date())
        return True
    except Exception as exc:
        log.exception("the scheduled daily check failed")
        try:
            reminders.record_check_failure(store, f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("recording the failed check failed too")
        return False


def scan_job(store) -> None:
    try:
        queued = reminders.scan(store, SYSTEM)
        if queued:
            log.info("reminder scan: %d queued", len(queued))
    except Exception:
        log.exception("the reminder scan failed")


def deliver_job(store) -> None:
    try:
        report = notify.deliver(store)
        if report.sent or report.retrying or report.failed:
            log.info("delivery: %s", report)
    except Exception:
        log.exception("the delivery of notifications failed")


def build(store):
    """A scheduler with the three jobs, not started."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger
    settings = store.settings
    hh, mm = (int(p) for p in settings.daily_check_time.split(":"))
    sched = BackgroundScheduler(timezone=TIMEZONE, job_defaults=JOB_DEFAULTS)
    sched.add_job(daily_check, CronTrigger(hour=hh, minute=mm, timezone=TIMEZONE),
                  args=[store], id="daily_check", name="daily check and snapshot")
    first = dt.datetime.now(TIMEZONE) + dt.timedelta(seconds=FIRST_SCAN_SECONDS)
    sched.add_job(scan_job, IntervalTrigger(minutes=settings.reminder_scan_minutes,
                                            timezone=TIMEZONE),
                  args=[store], id="reminder_scan", name="reminder scan", next_run_time=first)
    sched.add_job(deliver_job, IntervalTrigger(minutes=1, timezone=TIMEZONE), args=[store],
                  id="deliver", name="outbox delivery",
                  next_run_time=first + dt.timedelta(seconds=FIRST_DELIVERY_AFTER_SCAN))
    if _check_missed(store, hh, mm):
        sched.add_job(daily_check, "date", run_date=first + dt.timedelta(seconds=20),
                      args=[store], id="catch_up_check", name="today's missed daily check")
    return sched


def _check_missed(store, hh: int, mm: int) -> bool:
    """Whether today's check time has passed with no snapshot for today (the server was
    down at 08:30): then the check runs once shortly after start."""
    now = store.now().astimezone(store.tz)
    if now.time() < dt.time(hh, mm):
        return False
    return not store.scalar("SELECT count(*) FROM compliance_snapshots WHERE snapshot_date = ?",
                            [now.date()])


def start(store):
    """Start (once per store file per process) and return the store's scheduler; None for
    a read-only store."""
    if store.read_only:
        return None
    key = _key(store)
    with _GUARD:
        running = _SCHEDULERS.get(key)
        if running is not None and running.running:
            return running
        _log_to_server_output()
        sched = build(store)
        sched.start()
        _SCHEDULERS[key] = sched
        log.info("scheduler started for %s", key)
        return sched


def _log_to_server_output() -> None:
    """The jobs' log lines (what was queued, sent, what failed) in the server's output,
    where an operator looks: Streamlit configures only its own loggers."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                               "%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def stop(store=None, *, wait: bool = True) -> None:
    """Stop the scheduler of ``store`` (all of them if None)."""
    with _GUARD:
        keys = [_key(store)] if store is not None else list(_SCHEDULERS)
        for key in keys:
            sched = _SCHEDULERS.pop(key, None)
            if sched is not None and sched.running:
                sched.shutdown(wait=wait)


SWITCH_ENV = "COMPLIANCE_SCHEDULER"     # "off": the server runs no scheduled job


def enabled() -> bool:
    """Whether the server runs the scheduled jobs: yes unless ``COMPLIANCE_SCHEDULER`` is
    ``off`` (the test suite's served apps and the benchmarks, which must not have reminders
    written behind their backs; a second server on a copy of the store)."""
    return os.environ.get(SWITCH_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


@contextlib.asynccontextmanager
async def lifespan(app):
    """For ``App(..., lifespan=lifespan)``: the scheduler runs while the server does."""
    store = None
    if not enabled():
        log.info("%s=off: no scheduled jobs in this server", SWITCH_ENV)
        yield None
        return
    try:
        from .ui import get_store
        store = get_store()
        start(store)
    except Exception:          # a store that cannot open must not stop the server serving
        log.exception("the scheduler could not start; no reminders will be sent")
    try:
        yield None
    finally:
        if store is not None:
            stop(store)

"""Reminders: what falls due, written once to the notification outbox (migration 0016).

``scan(store, actor, now=None)`` looks at the registers as of ``now`` (default the store
clock) and queues every reminder that has fallen due and is not in the outbox yet. Each
reminder has a stable key (``incident:INC-2026-0001:regulator:80``), UNIQUE in the outbox,
so running the scan again — every ``reminder_scan_minutes``, after a restart, from two
threads — queues nothing twice. Each reminder is one write: its outbox row, its in-app
notification rows and one audit entry (action ``notify.queue``), in one transaction.
``dashboard.notify.deliver`` sends the queued rows; docs/NOTIFICATIONS.md is the user's
guide.

What is reminded, when, and to whom (roles get it on the channels configured for the
role; accounts are users named on the item, who get it on their own channel or e-mail
when configured, and in the app):

- **Incident clocks** (``dashboard.clocks``: regulator report, PI authority notice
  (PIPL Art. 57), user notice, police report, summary report), while the clock is *due*
  or *overdue* (not met, late, exempt or not applicable): when ``reminder_incident_percents``
  (50, 80, 100) per cent of the time from detection (summary report: from resolution) to
  the deadline has gone. 100 is queued only once ``now >= deadline``. To the manager and
  DPO roles, and the account that logged the incident (its ``logged`` event's actor), if
  it is a user account. The register has no owner column.
- **Sharing agreements** still ``active`` with an ``expires_on`` date:
  ``reminder_agreement_days`` (30, 7, 0) days before it (0: on the day, or after it while
  still active, which is SHARE-EXPIRED-ACTIVE). To the DPO role.
- **Rights requests** still open (received, in progress): when ``reminder_request_working_days``
  (5, 2, 0) working days are left before the DSR-DEADLINE deadline, counted as the
  Requests page counts them (``workdays.working_days_left``; 0: the due day, or after it).
  To the DPO role and the request's ``handler`` if it is a user account.
- **Remediation plans** whose target date has passed while their finding is still open:
  once per plan revision (a new target date is a new revision). To the DPO role and the
  plan's ``owner`` if it is a user account.
- **Daily digest**: once per day, at the first scan at or after ``daily_check_time``
  (08:30): the open findings, by severity, their change per rule since the previous
  digest, and the retention records overdue for deletion (RET-OVERDUE). To the DPO role.
- **A failed scheduled check** (``record_check_failure``, called by the scheduler): once
  per day. To the DPO and admin roles.

When several thresholds of one item fall due in the same scan (the app was down, or an
incident was logged late), only the most urgent is sent; the others are kept in the
outbox as ``superseded``, so that they are not sent later either.

Texts are plain English, times in Beijing time (``clocks.format_time``: ``2026-11-24
14:00 +08:00``), each naming the item, the deadline, the time left or how late, and the
legal source; each ends with its key, which every channel also carries
(``dashboard.notify``) so that a receiver may drop a duplicate.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from . import clocks, workdays
from .access import Actor, require
from .clocks import format_duration, format_time

ACTION = "notify.queue"
SYSTEM = Actor("scheduler", "system")
KINDS = ("incident_clock", "agreement_expiry", "request_deadline", "remediation_overdue",
         "daily_digest", "check_failed")
MAX_TITLE = 120
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reminder:
    key: str                      # the outbox's dedupe key
    kind: str                     # one of KINDS
    item_type: str
    item_id: str
    threshold: str
    roles: tuple[str, ...]
    accounts: tuple[str, ...]
    subject: str
    body: str
    data: Mapping[str, Any] = field(default_factory=dict)
    group: str = ""               # thresholds of one item share a group
    urgency: float = 0            # the most urgent of a group is sent, the rest superseded


@dataclass(frozen=True)
class Queued:
    id: int
    key: str
    kind: str
    status: str                   # pending | superseded


def _one_line(text: Any, limit: int = MAX_TITLE) -> str:
    """User text for a subject or a line: plain, one line, at most ``limit`` characters."""
    words = " ".join(str(text or "").split())
    return words if len(words) <= limit else words[:limit - 1] + "…"


def _days(n: int, unit: str = "day") -> str:
    """``1 day``, ``3 days``, ``2 working days``."""
    return f"{n:,} {unit}{'' if n == 1 else 's'}"


def _footer(key: str) -> str:
    return f"Reminder id: {key}"


def _subject(text: str, key: str) -> str:
    return f"{text} [{key}]"


def _aware(value: Any, tz) -> dt.datetime:
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _active_users(store) -> frozenset[str]:
    """Every enabled account's username: read once per scan, not once per item."""
    return frozenset(r[0] for r in store.rows("SELECT username FROM users WHERE NOT disabled"))


def _pick(users: frozenset[str], names: Iterable[Any]) -> tuple[str, ...]:
    """The names that are enabled user accounts (lower-cased, as usernames are stored)."""
    return tuple(sorted({str(n).strip().lower() for n in names if n and str(n).strip()}
                        & users))


# -- incidents ----------------------------------------------------------------------------
def _incident_reminders(store, now: dt.datetime) -> list[Reminder]:
    settings, tz = store.settings, store.tz
    percents = settings.reminder_incident_percents
    lookback = dt.timedelta(days=settings.reminder_lookback_days)
    # Only incidents with a threshold inside the look-back: every clock but the summary
    # ends within the longest of the hour clocks after detection; the summary report's
    # within summary_report_days after resolution.
    longest = max(settings.regulator_report_hours, settings.regulator_report_hours_cii,
                  settings.user_notice_hours, settings.pi_authority_notice_hours,
                  settings.police_report_hours, settings.police_report_hours_cii)
    df = store.df(
        "SELECT * FROM incidents WHERE detected_at IS NOT NULL AND (detected_at >= ? OR "
        "resolved_at >= ?) ORDER BY incident_id",
        [now - lookback - dt.timedelta(hours=longest),
         now - lookback - dt.timedelta(days=settings.summary_report_days)])
    if df.empty:
        return []
    loggers = dict(store.rows(
        "SELECT incident_id, arg_min(actor, event_id) FROM incident_events "
        "WHERE kind = 'logged' AND list_contains(?, incident_id) GROUP BY incident_id",
        [[str(i) for i in df["incident_id"]]]))
    users = _active_users(store)
    out = []
    for row in df.to_dict("records"):
        incident_id = str(row["incident_id"])
        title = _one_line(row.get("title"))
        accounts = _pick(users, [loggers.get(incident_id)])
        for clock in clocks.incident_clocks(row, settings, now, tz):
            if not clock.pending or clock.deadline is None:
                continue
            start_col = "resolved_at" if clock.key == "summary" else "detected_at"
            start = _aware(row[start_col], tz)
            deadline = _aware(clock.deadline, tz)
            allowed = deadline - start
            for pct in percents:
                moment = deadline if pct >= 100 else start + allowed * (pct / 100)
                if now < moment or now - moment > lookback:
                    continue
                key = f"incident:{incident_id}:{clock.key}:{pct}"
                out.append(_incident_text(key, incident_id, title, clock, pct, start,
                                          start_col, deadline, now, tz, accounts))
    return out


def _incident_text(key, incident_id, title, clock, pct, start, start_col, deadline, now, tz,
                   accounts) -> Reminder:
    what = clock.title[0].lower() + clock.title[1:]
    since = "resolution" if start_col == "resolved_at" else "detection"
    if now < deadline:
        status = f"{format_duration(deadline - now)} left"
        head = f"{incident_id}: {what} due in {format_duration(deadline - now)}"
    elif now == deadline:
        status = "the deadline is now"
        head = f"{incident_id}: {what} due now"
    else:
        status = f"the deadline has passed: overdue by {format_duration(now - deadline)}"
        head = f"{incident_id}: {what} overdue by {format_duration(now - deadline)}"
    gone = (f"{pct} % of the time allowed has gone" if pct < 100
            else "all of the time allowed has gone")
    body = "\n".join([
        f"Incident {incident_id} \"{title}\": {clock.title}.",
        f"Deadline: {format_time(deadline, tz)} (Beijing time), counted from {since} at "
        f"{format_time(start, tz)}.",
        f"As of {format_time(now, tz)}: {gone}; {status}.",
        f"Why: {clock.why}",
        f"Legal source: {clock.source}",
        f"Record it on the incident's page once done (rule {clock.rule_id}).",
        _footer(key),
    ])
    return Reminder(
        key, "incident_clock", "incident", incident_id, str(pct), ("dpo", "manager"), accounts,
        _subject(head, key), body,
        {"clock": clock.key, "percent": pct, "deadline": deadline.isoformat(),
         "start": start.isoformat(), "rule_id": clock.rule_id, "state": clock.state},
        group=f"incident:{incident_id}:{clock.key}", urgency=pct)


# -- sharing agreements -------------------------------------------------------------------
AGREEMENT_SOURCE = ("Policy 5 (sharing, transfer, disclosure) and data contract rule "
                    "SHARE-EXPIRED-ACTIVE (an agreement still active after expires_on); "
                    "the reminder days are a project default [P]")


def _agreement_reminders(store, now: dt.datetime) -> list[Reminder]:
    days = store.settings.reminder_agreement_days
    today = now.astimezone(store.tz).date()
    lookback = store.settings.reminder_lookback_days
    # a reminder day d falls on expires_on - d: within the look-back, not later than today
    rows = store.rows(
        "SELECT agreement_id, counterparty, kind, expires_on FROM sharing_agreements "
        "WHERE status = 'active' AND expires_on IS NOT NULL AND expires_on <= ? "
        "AND expires_on >= ? ORDER BY agreement_id",
        [today + dt.timedelta(days=max(days)), today - dt.timedelta(days=lookback)])
    out = []
    for agreement_id, counterparty, kind, expires_on in rows:
        left = (expires_on - today).days
        for d in days:
            if left > d:
                continue
            key = f"agreement:{agreement_id}:{d}"
            who = _one_line(counterparty)
            end = dt.datetime.combine(expires_on, workdays.END_OF_DAY, tzinfo=store.tz)
            if left > 0:
                head = f"{agreement_id}: agreement with {who} expires in {_days(left)}"
                status = (f"it expires on {expires_on.isoformat()} (the end of that day, "
                          f"Beijing time): {_days(left)} left")
            elif left == 0:
                head = f"{agreement_id}: agreement with {who} expires today"
                status = (f"it expires today, {expires_on.isoformat()}, at the end of the day "
                          f"(Beijing time): {format_duration(end - now)} left")
            else:
                head = (f"{agreement_id}: agreement with {who} expired on "
                        f"{expires_on.isoformat()}, still active")
                status = (f"it expired at the end of {expires_on.isoformat()} (Beijing time), "
                          f"{format_duration(now - end)} ago, and is still recorded as active "
                          f"(finding SHARE-EXPIRED-ACTIVE)")
            body = "\n".join([
                f"Sharing agreement {agreement_id} ({kind}) with {who}.",
                f"As of {format_time(now, store.tz)}: {status}.",
                "Renew it, or end the sharing and record the agreement as ended.",
                f"Legal source: {AGREEMENT_SOURCE}",
                _footer(key),
            ])
            out.append(Reminder(
                key, "agreement_expiry", "sharing_agreement", str(agreement_id), str(d),
                ("dpo",), (), _subject(head, key), body,
                {"expires_on": expires_on.isoformat(), "days_left": left, "days": d},
                group=f"agreement:{agreement_id}", urgency=-d))
    return out


# -- rights requests ----------------------------------------------------------------------
REQUEST_SOURCE = ("App violation identification method (2019) [V2]: answer within 15 "
                  "working days (DSR-DEADLINE, setting dsr_response_working_days); PIPL "
                  "Arts. 44-50 [V] ('promptly'); mainland calendar with make-up working days")


def _request_reminders(store, now: dt.datetime) -> list[Reminder]:
    from . import requests as rights
    levels = store.settings.reminder_request_working_days
    lookback = dt.timedelta(days=store.settings.reminder_lookback_days)
    df = rights.list_requests(store, statuses=rights.OPEN, now=now, limit=None)
    users = _active_users(store)
    out = []
    for row in df.to_dict("records"):
        if row.get("due_at") is None:
            continue
        request_id = str(row["request_id"])
        due_at = _aware(row["due_at"], store.tz)
        if now - due_at > lookback:
            continue          # overdue for long: the digest and DSR-DEADLINE say so
        left = workdays.working_days_left(now, due_at, store.settings)
        accounts = _pick(users, [row.get("handler")])
        kind = rights.KIND_LABELS.get(row["kind"], row["kind"])
        for w in levels:
            if left > w:
                continue
            key = f"request:{request_id}:{w}"
            due_words = f"the end of {due_at.date().isoformat()} (23:59:59 Beijing time)"
            if now > due_at:
                head = f"{request_id}: rights request overdue"
                status = (f"the deadline, {due_words}, has passed: overdue by "
                          f"{format_duration(now - due_at)} ({_days(-left, 'working day')})")
            elif left == 0:
                head = f"{request_id}: rights request due today"
                status = f"due today, by {due_words}: {format_duration(due_at - now)} left"
            else:
                head = f"{request_id}: rights request due in {_days(left, 'working day')}"
                status = f"due by {due_words}: {_days(left, 'working day')} left"
            provisional = (" The deadline is provisional: the calendar does not know that "
                           "year's official holiday arrangement yet." if row.get("provisional")
                           else "")
            body = "\n".join([
                f"Rights request {request_id} ({kind}), received "
                f"{format_time(row['received_at'], store.tz)}, status "
                f"{rights.STATUS_LABELS.get(row['status'], row['status'])}.",
                f"As of {format_time(now, store.tz)}: {status}.{provisional}",
                "Complete it, or refuse it with reasons (PIPL Art. 50), on the Requests page.",
                f"Legal source: {REQUEST_SOURCE}",
                _footer(key),
            ])
            out.append(Reminder(
                key, "request_deadline", "rights_request", request_id, str(w),
                ("dpo",), accounts, _subject(head, key), body,
                {"due_at": due_at.isoformat(), "working_days_left": left, "level": w},
                group=f"request:{request_id}", urgency=-w))
    return out


# -- remediation plans --------------------------------------------------------------------
def _remediation_reminders(store, now: dt.datetime) -> list[Reminder]:
    from . import engine
    today = now.astimezone(store.tz).date()
    late = store.rows(
        "SELECT p.rule_id, p.entity_type, p.entity_id, p.revision FROM remediation_plans p "
        "WHERE p.target_date < ?", [today])
    keys = [f"remediation:{r}:{t}:{e}:{n}" for r, t, e, n in late]
    if not keys or store.scalar("SELECT count(*) FROM outbox WHERE list_contains(?, "
                                "dedupe_key)", [keys]) == len(keys):
        return []                 # nothing late, or reminded already: no need to evaluate
    sql, params = engine.items_query(store, now, engine.FINDING)
    rows = store.rows(
        "SELECT p.rule_id, p.entity_type, p.entity_id, p.revision, p.owner, p.target_date, "
        "p.comment, f.detail FROM remediation_plans p "
        f"JOIN ({sql}) f ON f.rule_id = p.rule_id AND f.entity_type = p.entity_type "
        "AND f.entity_id = p.entity_id WHERE p.target_date < ? "
        "ORDER BY p.target_date, p.rule_id, p.entity_id", params + [today])
    users = _active_users(store)
    out = []
    for rule_id, entity_type, entity_id, revision, owner, target, comment, detail in rows:
        late = (today - target).days
        key = f"remediation:{rule_id}:{entity_type}:{entity_id}:{revision}"
        head = f"{rule_id} on {entity_id}: remediation plan overdue by {_days(late)}"
        body = "\n".join([
            f"The remediation plan (revision {revision}) for finding {rule_id} on "
            f"{entity_type.replace('_', ' ')} {entity_id} had its target date "
            f"{target.isoformat()}; as of {format_time(now, store.tz)} the finding is still "
            f"open, {_days(late)} after it.",
            f"Owner: {_one_line(owner)}. Plan: {_one_line(comment, 300)}",
            f"Finding: {_one_line(detail, 300)}",
            "Fix the finding, or revise the plan with a new target date, on the Findings page.",
            f"Legal source: the rule's own (docs/RULES.md, {rule_id}); the target date is the "
            "plan's.",
            _footer(key),
        ])
        out.append(Reminder(
            key, "remediation_overdue", "remediation_plan", f"{rule_id}|{entity_id}",
            target.isoformat(), ("dpo",), _pick(users, [owner]), _subject(head, key), body,
            {"rule_id": rule_id, "entity_type": entity_type, "entity_id": entity_id,
             "revision": int(revision), "target_date": target.isoformat(), "days_late": late},
            group=key, urgency=0))
    return out


# -- the daily digest ---------------------------------------------------------------------
def _digest_time(settings) -> dt.time:
    hh, mm = settings.daily_check_time.split(":")
    return dt.time(int(hh), int(mm))


def _digest_reminders(store, now: dt.datetime) -> list[Reminder]:
    from . import engine
    local = now.astimezone(store.tz)
    if local.time() < _digest_time(store.settings):
        return []
    day = local.date()
    key = f"digest:{day.isoformat()}"
    if store.scalar("SELECT count(*) FROM outbox WHERE dedupe_key = ?", [key]):
        return []                 # already queued: no need to evaluate the rules
    summary = engine.check_summary(store, now)
    per_rule = {r.rule_id: int(r.failing) for r in summary.rule_scores.itertuples()}
    previous = store.rows(
        "SELECT data, created_at FROM outbox WHERE kind = 'daily_digest' "
        "ORDER BY id DESC LIMIT 1")
    sev = summary.findings_by_severity
    lines = [
        f"Daily digest for {day.isoformat()}, as of {format_time(now, store.tz)} "
        f"(Beijing time).",
        f"Open findings: {summary.finding_total:,} (high {sev.get('high', 0):,}, medium "
        f"{sev.get('medium', 0):,}, low {sev.get('low', 0):,}).",
    ]
    new_total = None
    if previous:
        before = json.loads(previous[0][0] or "{}").get("per_rule", {})
        changes = {r: per_rule.get(r, 0) - before.get(r, 0)
                   for r in sorted(set(per_rule) | set(before))}
        changes = {r: n for r, n in changes.items() if n}
        new_total = sum(n for n in changes.values() if n > 0)
        since = format_time(previous[0][1], store.tz)
        if changes:
            lines.append(f"New since the previous digest ({since}): {new_total:,} (change per "
                         "rule: " + ", ".join(f"{r} {n:+,}" for r, n in changes.items()) + ").")
        else:
            lines.append(f"No change in findings since the previous digest ({since}).")
    else:
        lines.append("This is the first digest: no earlier one to compare with.")
    overdue = per_rule.get("RET-OVERDUE", 0)
    lines += [
        f"Retention records overdue for deletion (RET-OVERDUE): {overdue:,}.",
        f"Items falling due within {store.settings.due_soon_days} days: {summary.due_total:,}.",
        "Legal source: the compliance rules (docs/RULES.md); RET-OVERDUE: policy 6.2, "
        "PIPL Arts. 19 and 47 [V].",
        _footer(key),
    ]
    head = (f"Daily digest {day.isoformat()}: {summary.finding_total:,} open findings, "
            f"{overdue:,} retention records overdue")
    return [Reminder(key, "daily_digest", "digest", day.isoformat(), day.isoformat(),
                     ("dpo",), (), _subject(head, key), "\n".join(lines),
                     {"per_rule": per_rule, "findings": summary.finding_total,
                      "new": new_total, "retention_overdue": overdue},
                     group=key)]


COLLECTORS = (_incident_reminders, _agreement_reminders, _request_reminders,
              _remediation_reminders, _digest_reminders)


# -- writing ------------------------------------------------------------------------------
class _Exists(Exception):
    pass


QUEUE_CHUNK = 500      # reminders per transaction (and audit entry) of a scan


def _queue(store, actor: Actor, r: Reminder, status: str, now: dt.datetime) -> Queued | None:
    """One reminder (``_queue_many``); None if its key is in the outbox already."""
    done = _queue_many(store, actor, [(r, status)], now)
    return done[0] if done else None


def _queue_many(store, actor: Actor, batch: list[tuple[Reminder, str]],
                now: dt.datetime) -> list[Queued]:
    """Reminders, with their outbox rows, their in-app notifications (pending ones only)
    and one audit entry listing them, in one transaction per ``QUEUE_CHUNK``: a scan's
    reminders are written together, as the scan that found them (the first scan of a
    large store queues thousands). A key in the outbox already is left out (another scan
    queued it meanwhile); a chunk left empty writes nothing."""
    queued: list[Queued] = []
    for at in range(0, len(batch), QUEUE_CHUNK):
        chunk = batch[at:at + QUEUE_CHUNK]
        known = {row[0] for row in store.rows(
            "SELECT dedupe_key FROM outbox WHERE list_contains(?, dedupe_key)",
            [[r.key for r, _s in chunk]])}
        chunk = [(r, status) for r, status in chunk if r.key not in known]
        if not chunk:
            continue
        with store.write(actor, ACTION) as w:
            taken = {row[0] for row in w.execute(
                "SELECT dedupe_key FROM outbox WHERE list_contains(?, dedupe_key)",
                [[r.key for r, _s in chunk]]).fetchall()}
            chunk = [(r, status) for r, status in chunk if r.key not in taken]
            first = int(w.execute("SELECT coalesce(max(id), 0) + 1 FROM outbox"
                                  ).fetchone()[0])
            seq = w.audit(ACTION, "outbox", first if len(chunk) == 1 else None, after={
                "queued": [{"id": first + i, "key": r.key, "kind": r.kind,
                            "status": status, "roles": list(r.roles),
                            "accounts": list(r.accounts)}
                           for i, (r, status) in enumerate(chunk)]})
            rows, notes = [], []
            for i, (r, status) in enumerate(chunk):
                new_id = first + i
                rows.append([new_id, r.key, r.kind, r.item_type, r.item_id, r.threshold,
                             list(r.roles), list(r.accounts), r.subject, r.body,
                             json.dumps(r.data, default=str), now, status,
                             now if status == "pending" else None, seq])
                if status == "pending":
                    notes += ([[new_id, "role", role] for role in r.roles]
                              + [[new_id, "account", a] for a in r.accounts])
                queued.append(Queued(new_id, r.key, r.kind, status))
            if rows:
                w.cur.executemany(
                    "INSERT INTO outbox (id, dedupe_key, kind, item_type, item_id, threshold, "
                    "recipient_roles, recipient_accounts, subject, body, data, created_at, "
                    "status, attempts, next_attempt_at, audit_seq) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)", rows)
            if notes:
                w.cur.executemany(
                    "INSERT INTO notifications (outbox_id, recipient_kind, recipient) "
                    "VALUES (?, ?, ?)", notes)
    return queued


def due_reminders(store, now: dt.datetime | None = None) -> list[Reminder]:
    """Every reminder due at ``now``, queued already or not (reads only)."""
    now = now or store.now()
    found: list[Reminder] = []
    errors = []
    for collect in COLLECTORS:
        try:
            found += collect(store, now)
        except Exception as exc:      # one broken source must not stop the others
            log.exception("reminders: %s failed", collect.__name__)
            errors.append(f"{collect.__name__.strip('_')}: {exc}")
    if errors and not found:
        raise RuntimeError("; ".join(errors))
    return found


def scan(store, actor: Actor, now: dt.datetime | None = None) -> list[Queued]:
    """Queue every reminder due at ``now`` (default: the store clock) that is not in the
    outbox yet, together (``_queue_many``: one transaction and audit entry per 500;
    permission ``notify.queue``). Of several new thresholds of one item, the most urgent is queued
    ``pending`` and the others ``superseded``. Returns what was queued, in order."""
    require(actor, ACTION)
    now = now or store.now()
    found = due_reminders(store, now)
    if not found:
        return []
    known = {r[0] for r in store.rows("SELECT dedupe_key FROM outbox WHERE list_contains(?, "
                                      "dedupe_key)", [[r.key for r in found]])}
    fresh = [r for r in found if r.key not in known]
    top: dict[str, Reminder] = {}
    for r in fresh:
        if r.group not in top or r.urgency > top[r.group].urgency:
            top[r.group] = r
    ordered = sorted(fresh, key=lambda r: (r is top[r.group], r.key))   # superseded first
    return _queue_many(store, actor, [(r, "pending" if r is top[r.group] else "superseded")
                                      for r in ordered], now)


def record_check_failure(store, error_text: str, now: dt.datetime | None = None,
                         actor: Actor = SYSTEM) -> Queued | None:
    """Queue the alert that the scheduled check failed (once per day; the error text is
    redacted of any secret). Called by the scheduler. None if today's is queued already."""
    from .notify import NotifyConfigError, load_config, redact
    require(actor, ACTION)
    now = now or store.now()
    day = now.astimezone(store.tz).date().isoformat()
    key = f"check_failed:{day}"
    try:
        known = load_config().secrets          # mask the channels' secrets too, if readable
    except (NotifyConfigError, OSError):
        known = ()
    error = _one_line(redact(str(error_text), known), 500) or "(no error text)"
    body = "\n".join([
        f"The scheduled compliance check of {day} failed at {format_time(now, store.tz)} "
        "(Beijing time).",
        f"Error: {error}",
        "The day's snapshot was not stored and the findings shown may be out of date. Run "
        "`python -m dashboard check` by hand, or see the server's log.",
        "Source: the scheduler (docs/NOTIFICATIONS.md); PIPL Art. 54 [V] asks for regular "
        "compliance audits.",
        _footer(key),
    ])
    r = Reminder(key, "check_failed", "check", day, day, ("admin", "dpo"), (),
                 _subject(f"The scheduled compliance check of {day} failed", key), body,
                 {"error": error}, group=key)
    return _queue(store, actor, r, "pending", now)


# -- reading ------------------------------------------------------------------------------
def outbox(store, *, status: str | None = None, limit: int = 100):
    """The outbox, newest first (for a page or a test): no channel address is stored."""
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    return store.df(
        "SELECT id, dedupe_key, kind, item_type, item_id, threshold, recipient_roles, "
        "recipient_accounts, subject, created_at, status, attempts, next_attempt_at, "
        f"sent_at, last_error FROM outbox {where} ORDER BY id DESC LIMIT ?",
        params + [int(limit)])


_MINE = ("FROM notifications n JOIN outbox o ON o.id = n.outbox_id "
         "WHERE ((n.recipient_kind = 'role' AND n.recipient = $role) OR "
         "(n.recipient_kind = 'account' AND n.recipient = $user))")
_UNREAD = (" AND n.read_at IS NULL AND NOT EXISTS (SELECT 1 FROM notification_reads r "
           "WHERE r.outbox_id = o.id AND r.username = $user)")


def notifications_for(store, username: str | None, role: str, *, unread_only: bool = True,
                      limit: int = 50):
    """The in-app notifications of an account and its role, newest first: for the bell.
    Unread: not read by this account (a role's notification is read by each person)."""
    return store.df(
        f"SELECT DISTINCT o.id, o.subject, o.body, o.created_at, o.kind {_MINE}"
        + (_UNREAD if unread_only else "") + " ORDER BY o.id DESC LIMIT $limit",
        {"role": role, "user": (username or "").lower(), "limit": int(limit)})


def unread_count(store, username: str | None, role: str) -> int:
    """How many notifications this account has not read (the bell's number)."""
    return int(store.scalar(f"SELECT count(DISTINCT o.id) {_MINE}{_UNREAD}",
                            {"role": role, "user": (username or "").lower()}) or 0)


def mark_read(store, actor: Actor, username: str, ids: Iterable[int] | None = None) -> int:
    """Mark this account's notifications read (``ids``; all unread if None): one write,
    one audit entry (permission ``notification.read``). How many were marked."""
    require(actor, "notification.read")
    user = (username or "").lower()
    if not user:
        raise ValueError("mark_read needs the account's username")
    with store.write(actor, "notification.read") as w:
        unread = [r[0] for r in w.execute(
            f"SELECT DISTINCT o.id {_MINE}{_UNREAD}",
            {"role": actor.role, "user": user}).fetchall()]
        chosen = unread if ids is None else [i for i in unread if i in set(ids)]
        if chosen:
            w.cur.executemany("INSERT INTO notification_reads VALUES (?, ?, ?)",
                              [[i, user, w.at] for i in chosen])
        w.audit("notification.read", "account", user, after={"read": chosen})
    return len(chosen)

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

Texts are plain text, in both languages (issue 17): the reminder is written once, to the
outbox, for recipients whose language is not known when it is queued, so

- the **subject** is bilingual in ``i18n.bilingual``'s style, Chinese first:
  ``INC-2026-0001：向网信部门报告将于48分钟后到期 (INC-2026-0001: report to the
  regulator due in 48 min) [key]``;
- the **body** is the Chinese text, then a blank line and the English text below it, then
  the key line (``Reminder id: …``) last.

Where no Chinese translation exists, the English text stands alone. Times are Beijing time:
in the English text ``clocks.format_time`` (``2026-11-24 14:00 +08:00``), in the Chinese
``i18n.fmt_datetime`` (``2026年11月24日 14:00 北京时间``). Each text names the item, the
deadline, the time left or how late, and the legal source; each ends with its key, which
every channel also carries (``dashboard.notify``) so that a receiver may drop a duplicate.
The outbox's ``data`` keeps the codes (the contract).
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
from .i18n import CHINESE, ENGLISH, N_, _, fmt_datetime, is_chinese, label, ngettext, using

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
    """``1 day``, ``3 days``, ``2 working days`` (``3天``, ``2个工作日``)."""
    if unit == "working day":
        return ngettext("{n} working day", "{n} working days", n).format(n=f"{n:,}")
    return ngettext("{n} day", "{n} days", n).format(n=f"{n:,}")


def _when(value, tz) -> str:
    """A time in a reminder: ``2026-11-24 14:00 +08:00`` in English, ``2026年11月24日 14:00
    北京时间`` in Chinese."""
    if is_chinese() and value is not None:
        return fmt_datetime(value.to_pydatetime() if hasattr(value, "to_pydatetime")
                            else value)
    return format_time(value, tz)


def _footer(key: str) -> str:
    return f"Reminder id: {key}"


def _subject(text: str, key: str) -> str:
    return f"{text} [{key}]"


def _bilingual(key: str, build) -> tuple[str, str]:
    """(subject, body) from ``build() -> (head, lines)`` run in Chinese and in English:
    ``中文 (English) [key]`` and the Chinese lines, a blank line, the English lines, the
    key line (see the module's docstring)."""
    with using(CHINESE):
        zh_head, zh_lines = build()
    with using(ENGLISH):
        en_head, en_lines = build()
    head = en_head if zh_head == en_head else f"{zh_head} ({en_head})"
    parts = [] if zh_lines == en_lines else ["\n".join(zh_lines), ""]
    body = "\n".join(parts + ["\n".join(en_lines), _footer(key)])
    return _subject(head, key), body


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
                                          start_col, deadline, now, tz, accounts,
                                          row=row, settings=settings))
    return out


def _incident_text(key, incident_id, title, clock, pct, start, start_col, deadline, now, tz,
                   accounts, *, row=None, settings=None) -> Reminder:
    def build():
        # the clock's words (title, why, source) in the language being written
        c = clock
        if row is not None:
            c = next((x for x in clocks.incident_clocks(row, settings, now, tz)
                      if x.key == clock.key), clock)
        what = c.title if is_chinese() else c.title[0].lower() + c.title[1:]
        since = _("resolution") if start_col == "resolved_at" else _("detection")
        if now < deadline:
            status = _("{duration} left").format(duration=format_duration(deadline - now))
            head = _("{id}: {what} due in {duration}").format(
                id=incident_id, what=what, duration=format_duration(deadline - now))
        elif now == deadline:
            status = _("the deadline is now")
            head = _("{id}: {what} due now").format(id=incident_id, what=what)
        else:
            status = _("the deadline has passed: overdue by {duration}").format(
                duration=format_duration(now - deadline))
            head = _("{id}: {what} overdue by {duration}").format(
                id=incident_id, what=what, duration=format_duration(now - deadline))
        gone = (_("{pct} % of the time allowed has gone").format(pct=pct) if pct < 100
                else _("all of the time allowed has gone"))
        return head, [
            _('Incident {id} "{title}": {clock}.').format(id=incident_id, title=title,
                                                          clock=c.title),
            _("Deadline: {deadline} (Beijing time), counted from {since} at {start}.").format(
                deadline=_when(deadline, tz), since=since, start=_when(start, tz)),
            _("As of {now}: {gone}; {status}.").format(now=_when(now, tz), gone=gone,
                                                         status=status),
            _("Why: {why}").format(why=c.why),
            _("Legal source: {source}").format(source=c.source),
            _("Record it on the incident's page once done (rule {rule}).").format(
                rule=c.rule_id),
        ]
    subject, body = _bilingual(key, build)
    return Reminder(
        key, "incident_clock", "incident", incident_id, str(pct), ("dpo", "manager"), accounts,
        subject, body,
        {"clock": clock.key, "percent": pct, "deadline": deadline.isoformat(),
         "start": start.isoformat(), "rule_id": clock.rule_id, "state": clock.state},
        group=f"incident:{incident_id}:{clock.key}", urgency=pct)


# -- sharing agreements -------------------------------------------------------------------
AGREEMENT_SOURCE = N_("Policy 5 (sharing, transfer, disclosure) and data contract rule "
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

            def build(agreement_id=agreement_id, who=who, end=end, left=left, kind=kind,
                      expires_on=expires_on):
                day = expires_on.isoformat()
                if left > 0:
                    head = _("{id}: agreement with {who} expires in {days}").format(
                        id=agreement_id, who=who, days=_days(left))
                    status = _("it expires on {day} (the end of that day, Beijing time): "
                               "{days} left").format(day=day, days=_days(left))
                elif left == 0:
                    head = _("{id}: agreement with {who} expires today").format(
                        id=agreement_id, who=who)
                    status = _("it expires today, {day}, at the end of the day (Beijing "
                               "time): {duration} left").format(
                        day=day, duration=format_duration(end - now))
                else:
                    head = _("{id}: agreement with {who} expired on {day}, still "
                             "active").format(id=agreement_id, who=who, day=day)
                    status = _("it expired at the end of {day} (Beijing time), {duration} "
                               "ago, and is still recorded as active (finding "
                               "SHARE-EXPIRED-ACTIVE)").format(
                        day=day, duration=format_duration(now - end))
                kind_words = label("sharing_kind", kind) if is_chinese() else kind
                return head, [
                    _("Sharing agreement {id} ({kind}) with {who}.").format(
                        id=agreement_id, kind=kind_words, who=who),
                    _("As of {now}: {status}.").format(now=_when(now, store.tz),
                                                       status=status),
                    _("Renew it, or end the sharing and record the agreement as ended."),
                    _("Legal source: {source}").format(source=_(AGREEMENT_SOURCE)),
                ]
            subject, body = _bilingual(key, build)
            out.append(Reminder(
                key, "agreement_expiry", "sharing_agreement", str(agreement_id), str(d),
                ("dpo",), (), subject, body,
                {"expires_on": expires_on.isoformat(), "days_left": left, "days": d},
                group=f"agreement:{agreement_id}", urgency=-d))
    return out


# -- rights requests ----------------------------------------------------------------------
REQUEST_SOURCE = N_("App violation identification method (2019) [V2]: answer within 15 "
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
        for w in levels:
            if left > w:
                continue
            key = f"request:{request_id}:{w}"

            def build(request_id=request_id, due_at=due_at, left=left, row=row):
                if is_chinese():
                    kind = label("request_kind", row["kind"])
                    status_words = label("request_status", row["status"])
                else:
                    kind = rights.KIND_LABELS.get(row["kind"], row["kind"])
                    status_words = rights.STATUS_LABELS.get(row["status"], row["status"])
                due_words = _("the end of {day} (23:59:59 Beijing time)").format(
                    day=due_at.date().isoformat())
                if now > due_at:
                    head = _("{id}: rights request overdue").format(id=request_id)
                    status = _("the deadline, {due}, has passed: overdue by {duration} "
                               "({days})").format(due=due_words,
                                                  duration=format_duration(now - due_at),
                                                  days=_days(-left, "working day"))
                elif left == 0:
                    head = _("{id}: rights request due today").format(id=request_id)
                    status = _("due today, by {due}: {duration} left").format(
                        due=due_words, duration=format_duration(due_at - now))
                else:
                    head = _("{id}: rights request due in {days}").format(
                        id=request_id, days=_days(left, "working day"))
                    status = _("due by {due}: {days} left").format(
                        due=due_words, days=_days(left, "working day"))
                provisional = (_(" The deadline is provisional: the calendar does not know "
                                 "that year's official holiday arrangement yet.")
                               if row.get("provisional") else "")
                return head, [
                    _("Rights request {id} ({kind}), received {received}, status "
                      "{status}.").format(id=request_id, kind=kind,
                                          received=_when(row["received_at"], store.tz),
                                          status=status_words),
                    _("As of {now}: {status}.").format(now=_when(now, store.tz),
                                                       status=status) + provisional,
                    _("Complete it, or refuse it with reasons (PIPL Art. 50), on the Requests "
                      "page."),
                    _("Legal source: {source}").format(source=_(REQUEST_SOURCE)),
                ]
            subject, body = _bilingual(key, build)
            out.append(Reminder(
                key, "request_deadline", "rights_request", request_id, str(w),
                ("dpo",), accounts, subject, body,
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
        def build(rule_id=rule_id, entity_type=entity_type, entity_id=entity_id,
                  revision=revision, owner=owner, target=target, comment=comment,
                  detail=detail, late=late):
            entity = (label("entity_type", entity_type) if is_chinese()
                      else entity_type.replace("_", " "))
            head = _("{rule} on {entity}: remediation plan overdue by {days}").format(
                rule=rule_id, entity=entity_id, days=_days(late))
            return head, [
                _("The remediation plan (revision {revision}) for finding {rule} on "
                  "{entity_type} {entity} had its target date {target}; as of {now} the "
                  "finding is still open, {days} after it.").format(
                    revision=revision, rule=rule_id, entity_type=entity, entity=entity_id,
                    target=target.isoformat(), now=_when(now, store.tz), days=_days(late)),
                _("Owner: {owner}. Plan: {plan}").format(owner=_one_line(owner),
                                                         plan=_one_line(comment, 300)),
                _("Finding: {detail}").format(detail=_one_line(detail, 300)),
                _("Fix the finding, or revise the plan with a new target date, on the "
                  "Findings page."),
                _("Legal source: the rule's own (docs/RULES.md, {rule}); the target date is "
                  "the plan's.").format(rule=rule_id),
            ]
        subject, body = _bilingual(key, build)
        out.append(Reminder(
            key, "remediation_overdue", "remediation_plan", f"{rule_id}|{entity_id}",
            target.isoformat(), ("dpo",), _pick(users, [owner]), subject, body,
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
    new_total = None
    changes: dict[str, int] = {}
    since_at = None
    if previous:
        before = json.loads(previous[0][0] or "{}").get("per_rule", {})
        changes = {r: per_rule.get(r, 0) - before.get(r, 0)
                   for r in sorted(set(per_rule) | set(before))}
        changes = {r: n for r, n in changes.items() if n}
        new_total = sum(n for n in changes.values() if n > 0)
        since_at = previous[0][1]
    overdue = per_rule.get("RET-OVERDUE", 0)

    def build():
        lines = [
            _("Daily digest for {day}, as of {now}.").format(day=day.isoformat(),
                                                             now=_when(now, store.tz))
            if is_chinese() else
            f"Daily digest for {day.isoformat()}, as of {format_time(now, store.tz)} "
            f"(Beijing time).",
            _("Open findings: {total} (high {high}, medium {medium}, low {low}).").format(
                total=f"{summary.finding_total:,}", high=f"{sev.get('high', 0):,}",
                medium=f"{sev.get('medium', 0):,}", low=f"{sev.get('low', 0):,}"),
        ]
        if previous:
            since = _when(since_at, store.tz)
            if changes:
                lines.append(_("New since the previous digest ({since}): {new} (change per "
                               "rule: {changes}).").format(
                    since=since, new=f"{new_total:,}",
                    changes=", ".join(f"{r} {n:+,}" for r, n in changes.items())))
            else:
                lines.append(_("No change in findings since the previous digest "
                               "({since}).").format(since=since))
        else:
            lines.append(_("This is the first digest: no earlier one to compare with."))
        lines += [
            _("Retention records overdue for deletion (RET-OVERDUE): {count}.").format(
                count=f"{overdue:,}"),
            _("Items falling due within {days} days: {count}.").format(
                days=store.settings.due_soon_days, count=f"{summary.due_total:,}"),
            _("Legal source: the compliance rules (docs/RULES.md); RET-OVERDUE: policy 6.2, "
              "PIPL Arts. 19 and 47 [V]."),
        ]
        head = _("Daily digest {day}: {findings} open findings, {overdue} retention records "
                 "overdue").format(day=day.isoformat(), findings=f"{summary.finding_total:,}",
                                   overdue=f"{overdue:,}")
        return head, lines
    subject, body = _bilingual(key, build)
    return [Reminder(key, "daily_digest", "digest", day.isoformat(), day.isoformat(),
                     ("dpo",), (), subject, body,
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

    def build():
        return _("The scheduled compliance check of {day} failed").format(day=day), [
            _("The scheduled compliance check of {day} failed at {when} (Beijing "
              "time).").format(day=day, when=format_time(now, store.tz)) if not is_chinese()
            else _("The scheduled compliance check of {day} failed at {when}.").format(
                day=day, when=_when(now, store.tz)),
            _("Error: {error}").format(error=error),
            _("The day's snapshot was not stored and the findings shown may be out of date. "
              "Run `python -m dashboard check` by hand, or see the server's log."),
            _("Source: the scheduler (docs/NOTIFICATIONS.md); PIPL Art. 54 [V] asks for "
              "regular compliance audits."),
        ]
    subject, body = _bilingual(key, build)
    r = Reminder(key, "check_failed", "check", day, day, ("admin", "dpo"), (),
                 subject, body,
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

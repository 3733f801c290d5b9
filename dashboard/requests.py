"""Rights requests (policy 8 and 10): log them, record each step, keep the history.

Modelled on ``dashboard/incidents.py``: the service functions are the one way in for
request writes. Each takes the acting ``Actor`` first, checks the role
(``request.log`` / ``request.update``), validates its input *before* opening the write
(a ``ValidationError`` carries one message per field; nothing is written), then, inside
``store.write(actor, ...)``, re-reads the request under the store's write lock,
re-checks, updates the ``rights_requests`` row, appends one ``request_events`` row and
writes exactly one audit entry, in one transaction.

- ``log_request(store, actor, values, token=...)`` creates ``REQ-YYYY-NNNN`` (year of
  receipt in Asia/Shanghai, next number) and a "logged" event.
- ``record_step(store, actor, request_id, kind, values, token=...)`` records one step of
  ``STEPS``: identity verified, in progress, completed, refused (with its reason),
  withdrawn, or a note. The status only moves forward: received → in_progress →
  completed | refused | withdrawn; the last three are final (``TRANSITIONS``).

``token`` makes a form submit idempotent: the event written by the first submit keeps
the token in its ``data``; a second submit with the same token returns that event
instead of writing again.

The deadline is the working-day deadline of ``dashboard.workdays`` (15 working days on
the mainland calendar, the ``dsr_response_working_days`` setting). The queue computes it
in SQL for a whole register (200,000 requests in the large store) from the same
calendar; ``tests/test_requests.py`` checks the two agree.

The deletion proof (``deletion_proof``) lists, for a completed ``delete`` or
``cancel_account`` request, the subject's retention records that were neither deleted
nor on hold on the completion date: the semantics of the DSR-DELETION-DONE rule.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd

from . import clocks as clk
from . import workdays
from .i18n import N_, _, actor_label, fmt_datetime, fmt_number, is_chinese, label, ngettext
from .access import Actor, require
from .audit import to_json
from .incidents import _Form, _check_token, _tz_for, form_token  # noqa: F401 (re-exported)
from .incidents import ValidationError as _IncidentValidationError
from .registers import (
    REQUEST_CHANNELS, REQUEST_KINDS, REQUEST_STATUSES, RIGHTS_REQUESTS, TEXT, TEXT_CAP,
)
from .settings import Settings

# -- vocabulary ---------------------------------------------------------------------------
LABELS = {
    "received_at": N_("Received"), "channel": N_("Channel"), "kind": N_("Kind of request"),
    "subject_ref": N_("Subject"), "handler": N_("Handler"), "notes": N_("Notes"),
    "at": N_("When"), "refusal_reason": N_("Reason for refusing"), "text": N_("Note"),
    "request_id": N_("Request"), "step": N_("Step"), "token": N_("Submit token"),
    "timezone": N_("Time zone"),
}
# The English words of the stored history (``request_events.detail``, written in English
# whatever the writer's language: it is the record) and of the e-mail reminders. The
# screen shows the codes' words in the reader's language: ``kind_label``, ``channel_label``,
# ``status_label`` (``dashboard.i18n.label``).
KIND_LABELS = {
    "access": "Access (8.1)", "copy": "Copy (8.1)", "correct": "Correction (8.1)",
    "delete": "Deletion (8.2)", "withdraw_consent": "Withdraw consent (8.5)",
    "cancel_account": "Cancel the account (8.5)", "explain": "Explanation (10)",
    "complaint": "Complaint or question (10)",
}
CHANNEL_LABELS = {
    "web_form": "Web form", "email": "Email", "phone": "Phone",
    "customer_service": "Customer service", "letter": "Letter", "in_app": "In the app",
}
STATUS_LABELS = {"received": "Received", "in_progress": "In progress",
                 "completed": "Completed", "refused": "Refused", "withdrawn": "Withdrawn"}
# The clause of the policy each kind answers (shown after the kind's words)
KIND_CLAUSES = {"access": "8.1", "copy": "8.1", "correct": "8.1", "delete": "8.2",
                "withdraw_consent": "8.5", "cancel_account": "8.5", "explain": "10",
                "complaint": "10"}


def kind_label(code: str) -> str:
    """A kind's words in the reader's language with its policy clause: ``Deletion (8.2)`` /
    ``删除（8.2）``; an unknown code as it is."""
    clause = KIND_CLAUSES.get(str(code))
    if clause is None:
        return label("request_kind", code)
    return _("{kind} ({clause})").format(kind=label("request_kind", code), clause=clause)


def channel_label(code: str) -> str:
    return label("request_channel", code)


def status_label(code: str) -> str:
    return label("request_status", code)


def field_label(name: str) -> str:
    """A form field's name in the reader's language (``LABELS``)."""
    words = LABELS.get(name)
    return _(words) if words else str(name)


OPEN = ("received", "in_progress")
FINAL = ("completed", "refused", "withdrawn")
TRANSITIONS = {"received": ("in_progress", *FINAL), "in_progress": FINAL}
DELETION_KINDS = ("delete", "cancel_account")
IDENTITY_KINDS = ("access", "copy", "delete", "cancel_account")   # DSR-IDENTITY

_CAPS = {c.name: (c.max_length or TEXT_CAP) for c in RIGHTS_REQUESTS.columns
         if c.type == TEXT}
_CAPS.update({"text": TEXT_CAP, "token": 100})


class ValidationError(_IncidentValidationError):
    """Bad input: ``errors`` maps each field to a message. Nothing was written."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        ValueError.__init__(self, "; ".join(f"{field_label(k)}: {v}"
                                            for k, v in self.errors.items()))


@dataclass(frozen=True)
class Step:
    kind: str
    title: str
    moves_to: str | None          # the status the step moves the request to
    statuses: tuple[str, ...]     # statuses in which it may be recorded
    column: str | None            # the time column it sets from "at"
    help: str


# ``title`` and ``help`` are English (the stored history uses the titles); the page shows
# them translated: ``_(step.title)``, ``_(step.help)``.
STEPS: dict[str, Step] = {s.kind: s for s in (
    Step("identity_verified", N_("Identity verified"), None, OPEN, "identity_verified_at",
         N_("Policy 8.3: the requester's identity is verified before the request is handled "
            "(DSR-IDENTITY flags a completed access, copy, deletion or cancellation without "
            "it).")),
    Step("in_progress", N_("In progress"), "in_progress", ("received",), None,
         N_("Handling has started. Moves the status from received to in progress.")),
    Step("completed", N_("Completed"), "completed", OPEN, "completed_at",
         N_("The reply was sent and the request carried out. Final: the deadline clock "
            "stops.")),
    Step("refused", N_("Refused"), "refused", OPEN, "completed_at",
         N_("The request is refused and the reply sent, with the reason (PIPL Art. 50: a "
            "refusal states its reason). Final.")),
    Step("withdrawn", N_("Withdrawn"), "withdrawn", OPEN, None,
         N_("The individual withdrew the request. Final: DSR-DEADLINE no longer applies.")),
    Step("note", N_("Note"), None, REQUEST_STATUSES, None,
         N_("Anything worth keeping in the history. Notes can be added in every status.")),
)}
STEP_ORDER = tuple(STEPS)
EVENT_LABELS = {"logged": N_("Logged"), **{k: s.title for k, s in STEPS.items()}}


def step_title(kind: str) -> str:
    """A step's (or history event's) title in the reader's language."""
    words = EVENT_LABELS.get(str(kind))
    return _(words) if words else str(kind)


@dataclass(frozen=True)
class Logged:
    request_id: str
    event_id: int
    created: bool       # False: the token had been used; this is the first submit's request


@dataclass(frozen=True)
class Recorded:
    request_id: str
    event_id: int
    status: str
    created: bool


# -- validation ----------------------------------------------------------------------------
class _ReqForm(_Form):
    def text(self, name: str, *, required: bool = False, message: str = "") -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, message or _("Enter the {field}.").format(
                    field=field_label(name).lower()))
            return None
        value = str(value)
        cap = _CAPS.get(name, TEXT_CAP)
        if len(value) > cap:
            self.fail(name, _("At most {cap} characters; this has {length}.").format(
                cap=fmt_number(cap), length=fmt_number(len(value))))
            return None
        return value

    def choice(self, name: str, options: Sequence[str], *, required: bool = False,
               labels: Mapping[str, str] | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, _("Choose the {field}.").format(
                    field=field_label(name).lower()))
            return None
        if value not in options:
            self.fail(name, _("Unknown value {value}; choose one of: {options}.").format(
                value=repr(str(value)[:40]), options=", ".join(options)))
            return None
        return value


def _tz(values: Mapping[str, Any], settings: Settings) -> ZoneInfo:
    try:
        return _tz_for(values, settings)
    except _IncidentValidationError as exc:
        raise ValidationError(exc.errors) from None


def validate_request(values: Mapping[str, Any], settings: Settings,
                     now: dt.datetime) -> dict[str, Any]:
    """Clean a new request's values, or raise ``ValidationError``."""
    tz = _tz(values, settings)
    f = _ReqForm(values, tz, now)
    clean = {
        "received_at": f.time("received_at", required=True),
        "channel": f.choice("channel", REQUEST_CHANNELS, required=True),
        "kind": f.choice("kind", REQUEST_KINDS, required=True),
        "subject_ref": f.text("subject_ref", required=True,
                              message=_("Enter the subject: the pseudonymous id the "
                                        "retention records use (subject_ref).")),
        "handler": f.text("handler"),
        "notes": f.text("notes"),
    }
    unknown = sorted(set(values) - set(clean) - {"timezone"})
    for name in unknown:
        f.fail(name, _("A new request has no field {name}.").format(
            name=repr(str(name)[:40])))
    if f.errors:
        raise ValidationError(f.errors)
    return clean


def step_refusal(row: Mapping[str, Any], kind: str) -> str | None:
    """Why ``kind`` cannot be recorded on a request in this state, or None."""
    step = STEPS.get(kind)
    if step is None:
        return _("Unknown step {step}; the steps are: {steps}.").format(
            step=repr(str(kind)[:40]), steps=", ".join(STEP_ORDER))
    status = row["status"]
    if status not in step.statuses:
        if status in FINAL:
            return _("The request is {status}: that is final, only notes can be "
                     "added.").format(status=status_label(status).lower())
        return _("Already {status}: the status only moves forward.").format(
            status=status_label(status).lower())
    if kind == "identity_verified" and row.get("identity_verified_at") is not None:
        return _("The identity is already verified.")
    return None


def allowed_steps(row: Mapping[str, Any]) -> list[str]:
    return [k for k in STEP_ORDER if step_refusal(row, k) is None]


def validate_step(row: Mapping[str, Any], kind: str, values: Mapping[str, Any],
                  settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """Clean one step's inputs on the request ``row``, or raise ``ValidationError``."""
    refusal = step_refusal(row, kind)
    if refusal:
        raise ValidationError({"step": refusal})
    tz = _tz(values, settings)
    f = _ReqForm(values, tz, now)
    clean: dict[str, Any] = {}
    if kind != "note":
        # In progress and withdrawn default to now; the others need their time.
        required = kind in ("identity_verified", "completed", "refused")
        clean["at"] = f.time("at", required=required)
        if clean["at"] is None and not required and "at" not in f.errors:
            clean["at"] = now
    if kind == "refused":
        clean["refusal_reason"] = f.text(
            "refusal_reason", required=True,
            message=_("State the reason for refusing: PIPL Art. 50 requires it in the reply."))
    if kind == "note":
        clean["text"] = f.text("text", required=True, message=_("Write the note."))
    at = clean.get("at")
    received = row.get("received_at")
    if at is not None and received is not None and at < received:
        f.fail("at", _("Cannot be before the request was received ({time}).").format(
            time=fmt_datetime(received)))
    if (kind in ("completed", "refused") and at is not None
            and row.get("identity_verified_at") is not None
            and at < row["identity_verified_at"]):
        f.fail("at", _("Cannot be before the identity was verified ({time}).").format(
            time=fmt_datetime(row["identity_verified_at"])))
    unknown = sorted(set(values) - {"at", "refusal_reason", "text", "timezone"})
    for name in unknown:
        f.fail(name, _("The step has no field {name}.").format(name=repr(str(name)[:40])))
    if f.errors:
        raise ValidationError(f.errors)
    return clean


# -- reading one request --------------------------------------------------------------------
_COLUMNS = tuple(RIGHTS_REQUESTS.column_names)


def _load(cur, request_id: str) -> dict[str, Any] | None:
    result = cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM rights_requests "
                         "WHERE request_id = ?", [str(request_id)])
    found = result.fetchone()
    return None if found is None else dict(zip(_COLUMNS, found))


def request_record(store, request_id: str) -> dict[str, Any] | None:
    """The request's row, or None."""
    with store.cursor() as cur:
        return _load(cur, request_id)


def request_history(store, request_id: str) -> pd.DataFrame:
    """The request's events in recording order: when, when recorded, who, role, step,
    what was recorded (and the event's JSON ``data``, from which ``history_display``
    words it in the reader's language)."""
    return store.df(
        'SELECT event_id, "at", recorded_at, actor, role, kind, detail, data '
        "FROM request_events WHERE request_id = ? ORDER BY event_id", [str(request_id)])


def _parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def event_detail(kind: str, detail: str, data: Any) -> str:
    """What an event recorded, in the reader's language. The stored ``detail`` is the
    English record; in Chinese it is worded again from the event's ``data`` (its values,
    the deadline computed when it was logged), and falls back to the stored text when the
    data does not say enough. A note is the writer's own text."""
    if not is_chinese() or kind == "note":
        return detail
    try:
        payload = json.loads(data) if isinstance(data, str) and data else (data or {})
        values = payload.get("values") or {}
    except (ValueError, AttributeError):
        return detail
    when = fmt_datetime(_parse_time(values.get("at")))
    if kind == "logged":
        received = _parse_time(values.get("received_at"))
        if not (values.get("kind") and values.get("channel") and received):
            return detail
        text = _("Logged: {kind} by {channel}, subject {subject}. Received {received}.").format(
            kind=kind_label(values["kind"]), channel=channel_label(values["channel"]).lower(),
            subject=values.get("subject_ref") or "", received=fmt_datetime(received))
        due = _parse_time(payload.get("due_at"))
        if due is not None:
            text += (_("Due {due} (provisional: the calendar does not know that year "
                             "yet).") if payload.get("provisional") else _("Due {due}.")
                           ).format(due=fmt_datetime(due))
        return text
    if kind not in STEPS or not when:
        return detail
    if kind == "refused":
        reason = values.get("refusal_reason")
        if reason:
            return _("Refused ({when}). Reason: {reason}").format(when=when, reason=reason)
        return _("Refused ({when}). No reason recorded.").format(when=when)
    return _("{step} ({when}).").format(step=step_title(kind), when=when)


def history_display(history: pd.DataFrame) -> pd.DataFrame:
    """The history as the page shows it: the step, the role and the actor in words, what
    was recorded in the reader's language. Display only (the data keeps the codes)."""
    out = history.copy()
    if out.empty:
        return out
    out["detail"] = [event_detail(k, d, j) for k, d, j in zip(
        out["kind"], out["detail"],
        out["data"] if "data" in out.columns else [None] * len(out))]
    out["kind"] = [step_title(k) for k in out["kind"]]
    out["role"] = [label("role", r) for r in out["role"]]
    out["actor"] = [actor_label(a) for a in out["actor"]]
    return out


def deadline_of(row: Mapping[str, Any], settings: Settings) -> "workdays.Deadline":
    return workdays.request_deadline(row["received_at"], settings)


# -- writing ------------------------------------------------------------------------------
class _Replay(Exception):
    def __init__(self, request_id: str, event_id: int):
        self.request_id, self.event_id = request_id, event_id


def _token(token: str | None) -> str | None:
    try:
        return _check_token(token)
    except _IncidentValidationError as exc:
        raise ValidationError(exc.errors) from None


def _find_token(cur, token: str, action: str, request_id: str | None) -> tuple | None:
    hit = cur.execute(
        "SELECT request_id, event_id, json_extract_string(data, '$.action') FROM request_events "
        "WHERE json_extract_string(data, '$.token') = ? LIMIT 1", [token]).fetchone()
    if hit is None:
        return None
    if hit[2] != action or (request_id is not None and hit[0] != request_id):
        raise ValidationError({"token": _("This form's token was already used for another "
                                          "submit; reload the form.")})
    return hit


def _next_id(cur, received_at: dt.datetime, tz: ZoneInfo) -> str:
    """``REQ-YYYY-NNNN``: year of receipt (Asia/Shanghai), one past the year's highest
    number. Callers hold the store's write lock."""
    prefix = f"REQ-{received_at.astimezone(tz).year}-"
    top = cur.execute(
        "SELECT max(TRY_CAST(regexp_extract(request_id, '^REQ-[0-9]{4}-([0-9]+)$', 1) "
        "AS BIGINT)) FROM rights_requests WHERE starts_with(request_id, ?)",
        [prefix]).fetchone()[0]
    return f"{prefix}{(top or 0) + 1:04d}"


def _append_event(w, request_id: str, *, at: dt.datetime, kind: str, detail: str,
                  data: Mapping[str, Any]) -> int:
    event_id = w.execute("SELECT coalesce(max(event_id), 0) + 1 FROM request_events"
                         ).fetchone()[0]
    w.execute('INSERT INTO request_events (event_id, request_id, "at", actor, role, kind, '
              "detail, recorded_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              [event_id, request_id, at, w.actor.name, w.actor.role, kind,
               detail[:TEXT_CAP], w.at, to_json(data)])
    w.appended_rows("request_events", "t.event_id = $event_id", {"event_id": event_id})
    return event_id


def _deadline_words(deadline, tz: ZoneInfo) -> str:
    text = f"due {clk.format_time(deadline.due_at, tz)}"
    return text + (" (provisional: the calendar does not know that year yet)"
                   if deadline.provisional else "")


def log_request(store, actor: Actor, values: Mapping[str, Any], *,
                token: str | None = None) -> Logged:
    """Log a new request; its clock starts at ``received_at``.

    ``values``: received_at (datetime or ISO text; without an offset it is in
    ``values['timezone']`` or the ``timezone`` setting), channel, kind, subject_ref,
    handler and notes (optional).
    """
    require(actor, "request.log")
    token = _token(token)
    if token:
        with store.cursor() as cur:
            hit = _find_token(cur, token, "request.log", None)
        if hit:
            return Logged(hit[0], hit[1], created=False)
    settings = store.settings
    clean = validate_request(values, settings, store.now())
    tz = ZoneInfo(settings.timezone)
    deadline = workdays.request_deadline(clean["received_at"], settings)
    try:
        with store.write(actor, "request.log") as w:
            if token and (hit := _find_token(w.cur, token, "request.log", None)):
                raise _Replay(hit[0], hit[1])
            request_id = _next_id(w.cur, clean["received_at"], tz)
            row = {"request_id": request_id, **clean, "status": "received"}
            cols = list(row)
            w.execute(f"INSERT INTO rights_requests ({', '.join(cols)}) "
                      f"VALUES ({', '.join('?' for _ in cols)})", [row[c] for c in cols])
            detail = (f"Logged: {KIND_LABELS[clean['kind']]} by "
                      f"{CHANNEL_LABELS[clean['channel']].lower()}, subject "
                      f"{clean['subject_ref']}. Received "
                      f"{clk.format_time(clean['received_at'], tz)}; "
                      f"{_deadline_words(deadline, tz)}.")
            event_id = _append_event(
                w, request_id, at=clean["received_at"], kind="logged", detail=detail,
                data={"values": clean, "token": token, "action": "request.log",
                      "due_at": deadline.due_at, "provisional": deadline.provisional})
            w.audit("request.log", "rights_request", request_id, before=None,
                    after={**row, "event_id": event_id, "due_at": deadline.due_at,
                           "provisional": deadline.provisional})
    except _Replay as replay:
        return Logged(replay.request_id, replay.event_id, created=False)
    return Logged(request_id, event_id, created=True)


def _step_detail(kind: str, clean: Mapping[str, Any], tz: ZoneInfo) -> str:
    when = clk.format_time(clean["at"], tz) if clean.get("at") else ""
    if kind == "note":
        return clean["text"]
    if kind == "refused":
        return f"Refused ({when}). Reason: {clean['refusal_reason']}"
    return f"{STEPS[kind].title} ({when})."


def record_step(store, actor: Actor, request_id: str, kind: str, values: Mapping[str, Any],
                *, token: str | None = None) -> Recorded:
    """Record one step of ``STEPS`` on a request: set its column(s), move the status
    forward if the step does, append the history event; one transaction."""
    require(actor, "request.update")
    token = _token(token)
    action = f"request.{kind}"
    if token:
        with store.cursor() as cur:
            hit = _find_token(cur, token, action, str(request_id))
        if hit:
            status = store.scalar("SELECT status FROM rights_requests WHERE request_id = ?",
                                  [str(request_id)])
            return Recorded(str(request_id), hit[1], status, created=False)
    if kind not in STEPS:
        raise ValidationError({"step": step_refusal({"status": "received"}, kind)})
    settings = store.settings
    row = request_record(store, request_id)
    if row is None:
        raise ValidationError({"request_id": _("No request {id}.").format(
            id=repr(str(request_id)[:80]))})
    validate_step(row, kind, values, settings, store.now())
    step = STEPS[kind]
    tz = ZoneInfo(settings.timezone)
    try:
        with store.write(actor, "request.update") as w:
            if token and (hit := _find_token(w.cur, token, action, row["request_id"])):
                raise _Replay(row["request_id"], hit[1])
            row = _load(w.cur, row["request_id"])      # re-read under the write lock
            clean = validate_step(row, kind, values, settings, store.now())
            sets: dict[str, Any] = {}
            if step.column:
                sets[step.column] = clean["at"]
            if kind == "refused":
                sets["refusal_reason"] = clean["refusal_reason"]
            status_before = row["status"]
            status_after = step.moves_to or status_before
            if status_after != status_before:
                sets["status"] = status_after
            before = {c: row.get(c) for c in sets}
            if sets:
                w.execute(f"UPDATE rights_requests SET {', '.join(f'{c} = ?' for c in sets)} "
                          "WHERE request_id = ?", [*sets.values(), row["request_id"]])
            event_id = _append_event(
                w, row["request_id"], at=clean.get("at") or w.at, kind=kind,
                detail=_step_detail(kind, clean, tz),
                data={"values": clean, "token": token, "action": action})
            w.audit("request.update", "rights_request", row["request_id"],
                    before={"status": status_before, **before},
                    after={"status": status_after, **sets, "step": kind,
                           "event_id": event_id,
                           **({"text": clean["text"]} if kind == "note" else {})})
    except _Replay as replay:
        status = store.scalar("SELECT status FROM rights_requests WHERE request_id = ?",
                              [replay.request_id])
        return Recorded(replay.request_id, replay.event_id, status, created=False)
    return Recorded(row["request_id"], event_id, status_after, created=True)


# -- the queue -----------------------------------------------------------------------------
def _calendar(start: dt.date, end: dt.date,
              settings: Settings) -> tuple[list[dt.date], list[bool]]:
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return days, [bool(workdays.is_working_day(d, settings)) for d in days]


def _calendar_params(store, where: str, params: dict[str, Any]) -> dict[str, Any]:
    """The calendar the deadline SQL reads: every day from the earliest receipt date
    selected to well past the latest one's deadline, each a working day or not, and
    the years the calendar does not know (deadlines in them are provisional)."""
    tz = store.settings.timezone
    lo, hi = store.rows(
        f"SELECT min(timezone('{tz}', r.received_at))::DATE, "
        f"max(timezone('{tz}', r.received_at))::DATE FROM rights_requests r WHERE {where}",
        params)[0]
    today = store.now().date()
    lo = lo or today
    hi = max(hi or today, today)
    n = int(store.settings.dsr_response_working_days)
    end = hi + dt.timedelta(days=n * 3 + 60)     # N working days lie well within 3N + 60
    days, working = _calendar(lo, end, store.settings)
    unknown = [y for y in range(lo.year, end.year + 1)
               if not workdays.known_year(y, store.settings)]
    return {"cal_days": days, "cal_working": working, "unknown_years": unknown or [0],
            "n_days": n}


_QUEUE_CTE = """
WITH cal AS (
    SELECT d, w, sum(CASE WHEN w THEN 1 ELSE 0 END) OVER (ORDER BY d) AS ord
    FROM (SELECT unnest($cal_days::DATE[]) AS d, unnest($cal_working::BOOLEAN[]) AS w)
), wd AS (SELECT d, ord FROM cal WHERE w),
base AS (
    SELECT r.*, timezone('{tz}', r.received_at)::DATE AS received_day
    FROM rights_requests r WHERE {where}
), dl AS (
    SELECT b.*, wd.d AS due_date,
           timezone('{tz}', wd.d::TIMESTAMP + INTERVAL 86399 SECOND) AS due_at,
           list_has_any($unknown_years::INTEGER[],
                        [year(b.received_day + 1)::INTEGER, year(wd.d)::INTEGER])
               AS provisional
    FROM base b
    JOIN cal c ON c.d = b.received_day
    LEFT JOIN wd ON wd.ord = c.ord + $n_days
)
"""
QUEUE_COLUMNS = ["request_id", "received_at", "channel", "kind", "subject_ref", "status",
                 "identity_verified_at", "completed_at", "handler", "due_date", "due_at",
                 "provisional", "overdue", "answered_late"]


def _queue_query(store, kinds, statuses, channels, subject, now) -> tuple[str, dict]:
    where = ["TRUE"]
    params: dict[str, Any] = {}
    for column, chosen in (("kind", kinds), ("status", statuses), ("channel", channels)):
        if chosen:
            where.append(f"list_contains(${column}s::VARCHAR[], r.{column})")
            params[f"{column}s"] = list(chosen)
    if subject:
        where.append("r.subject_ref = $subject")
        params["subject"] = str(subject).strip()
    where_sql = " AND ".join(where)
    params.update(_calendar_params(store, where_sql, params))
    params["now"] = _moment(now, store)
    sql = _QUEUE_CTE.format(tz=store.settings.timezone, where=where_sql) + (
        "SELECT *, status IN ('received', 'in_progress') AND $now > due_at AS overdue, "
        "status IN ('completed', 'refused') AND completed_at > due_at AS answered_late "
        "FROM dl")
    return sql, params


def _moment(now: Any, store) -> dt.datetime:
    if now is None:
        return store.now()
    if isinstance(now, str):
        now = dt.datetime.fromisoformat(now)
    return now if now.tzinfo else now.replace(tzinfo=ZoneInfo(store.settings.timezone))


def list_requests(store, *, kinds: Sequence[str] = (), statuses: Sequence[str] = OPEN,
                  channels: Sequence[str] = (), subject: str | None = None, now: Any = None,
                  limit: int | None = 100, offset: int = 0) -> pd.DataFrame:
    """Requests matching the filters (default: the open ones), each with its deadline
    (``due_at``, ``due_date``, ``provisional``), ``overdue`` (open past it) and
    ``answered_late``; open ones first, by nearest deadline. In DuckDB: a page at a time."""
    sql, params = _queue_query(store, kinds, statuses, channels, subject, now)
    sql = (f"SELECT {', '.join(QUEUE_COLUMNS)} FROM ({sql}) "
           "ORDER BY status NOT IN ('received', 'in_progress'), due_at NULLS LAST, "
           "received_at, request_id")
    if limit is not None:
        sql += " LIMIT $limit OFFSET $offset"
        params.update(limit=int(limit), offset=int(offset))
    return store.df(sql, params)


def queue_summary(store, *, kinds: Sequence[str] = (), statuses: Sequence[str] = OPEN,
                  channels: Sequence[str] = (), subject: str | None = None, now: Any = None,
                  due_days: int = 7) -> dict[str, int]:
    """Counts over the same selection: shown, open, overdue, open and due within
    ``due_days`` calendar days (not yet overdue)."""
    sql, params = _queue_query(store, kinds, statuses, channels, subject, now)
    params["due_days"] = int(due_days)
    row = store.rows(
        "SELECT count(*), count_if(status IN ('received', 'in_progress')), count_if(overdue), "
        "count_if(status IN ('received', 'in_progress') AND NOT overdue AND "
        "due_at <= $now + to_days(CAST($due_days AS INTEGER))) "
        f"FROM ({sql})", params)[0]
    return dict(zip(("shown", "open", "overdue", "due_soon"), (int(v or 0) for v in row)))


def queue_display(df: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """The page's text columns for the rows shown: working days left (or overdue), the
    deadline with "(provisional)". Pure: a page of rows at a time."""
    out = df.copy()
    left, shown = [], []
    for rec in df.to_dict("records"):
        due = rec.get("due_at")
        if due is None or pd.isna(due):
            left.append("")
            shown.append("")
            continue
        due = pd.Timestamp(due).to_pydatetime()
        shown.append(_("{deadline} (provisional)").format(deadline=fmt_datetime(due))
                     if rec.get("provisional") else fmt_datetime(due))
        if rec["status"] not in OPEN:
            left.append(_("answered late") if rec.get("answered_late") else
                        (_("answered in time") if rec["status"] != "withdrawn"
                         else _("withdrawn")))
        elif now > due:
            left.append(_("⚠ OVERDUE"))
        else:
            n = workdays.working_days_left(now, due)
            left.append(ngettext("{n} working day left", "{n} working days left", n).format(
                n=fmt_number(n)))
    out["deadline"] = shown
    out["left"] = left
    out["kind_label"] = [kind_label(k) for k in df["kind"]]
    out["status_label"] = [status_label(s) for s in df["status"]]
    out["channel_label"] = [channel_label(c) for c in df["channel"]]
    return out


def request_choices(store, *, limit: int = 500) -> list[tuple[str, str, str]]:
    """(request_id, kind, subject) for a picker: open first, newest first (the page words
    the kind: ``kind_label``)."""
    return [(r[0], r[1], r[2]) for r in store.rows(
        "SELECT request_id, kind, subject_ref FROM rights_requests "
        "ORDER BY status NOT IN ('received', 'in_progress'), received_at DESC, request_id "
        "LIMIT ?", [int(limit)])]


# -- the deletion proof ---------------------------------------------------------------------
PROOF_COLUMNS = ["record_id", "category", "system", "storage_region", "collected_on",
                 "service_ended_on", "deleted_on"]


@dataclass(frozen=True)
class DeletionProof:
    applies: bool            # a completed delete / cancel_account request
    reason: str              # why it does not apply, or what it covers
    as_of: dt.date | None    # the completion date in Asia/Shanghai
    count: int               # records kept (not deleted, not on hold) on that date
    records: pd.DataFrame    # the first ``limit`` of them


def deletion_proof(store, request_id: str, *, limit: int = 200) -> DeletionProof:
    """For a completed deletion or account cancellation: the subject's retention records
    collected by the completion date and neither deleted nor on hold on it (``deleted_on``
    null or after ``completed_at``'s date in Asia/Shanghai, whether or not deleted since) — what
    DSR-DELETION-DONE reports. Filters by ``subject_ref`` first (10 M records)."""
    row = request_record(store, request_id)
    empty = pd.DataFrame(columns=PROOF_COLUMNS)
    if row is None:
        return DeletionProof(False, f"No request {str(request_id)[:80]!r}.", None, 0, empty)
    if row["kind"] not in DELETION_KINDS:
        # N_: the page translates the reason it shows (the result is cached for every
        # language)
        return DeletionProof(False, N_("Only deletion and account-cancellation requests have "
                                       "a deletion proof."), None, 0, empty)
    if row["status"] != "completed" or row.get("completed_at") is None:
        return DeletionProof(False, N_("The request is not completed: the proof is taken on "
                                       "the completion date."), None, 0, empty)
    tz = ZoneInfo(store.settings.timezone)
    as_of = row["completed_at"].astimezone(tz).date()
    # the same conditions as DSR-DELETION-DONE: records collected after the completion
    # date (the subject came back) are not the request's concern
    where = ("collected_on <= $as_of AND (deleted_on IS NULL OR deleted_on > $as_of) "
             "AND hold_reason IS NULL")
    params = {"subject": row["subject_ref"], "as_of": as_of}
    # The subject's rows first, by the equality alone, then the conditions on those few:
    # one scan of the 10 M records' subject column (0.17 s on the large store, where the
    # combined filter scanned every column twice: 1.3 s).
    kept = store.df(
        f"WITH s AS MATERIALIZED (SELECT {', '.join(PROOF_COLUMNS)}, hold_reason "
        "FROM retention_records WHERE subject_ref = $subject) "
        f"SELECT {', '.join(PROOF_COLUMNS)} FROM s WHERE {where} "
        "ORDER BY record_id", params)
    count = len(kept)
    records = kept.head(int(limit)).reset_index(drop=True)
    return DeletionProof(True, f"Retention records of subject {row['subject_ref']} not deleted "
                               f"and not on hold on {as_of.isoformat()}.", as_of, count,
                         records)


def request_findings(store, request_id: str, *, as_of: str | None = None) -> pd.DataFrame:
    """The DSR-* findings of this request in the compliance check as of ``as_of``
    (default now): rule, severity, what is wrong."""
    from . import engine
    as_of = as_of or engine.current_as_of(store)
    found = engine.findings_page(store, as_of, entity_id=str(request_id), limit=100)
    mine = found[found["rule_id"].astype(str).str.startswith("DSR-")]
    return mine[["rule_id", "severity", "detail"]].reset_index(drop=True)


def json_values(data: str | None) -> dict[str, Any]:
    return json.loads(data) if data else {}

"""Security incidents (policy 7.2): log them, record each step, keep the timeline.

The service functions are the one way in for incident writes, for the app, the
command line and the tests alike. Each takes the acting ``Actor`` first, validates
its input *before* opening the write (a ``ValidationError`` carries one message
per field, and nothing is written), then, inside ``store.write(actor, ...)``,
re-reads the incident under the store's write lock, re-checks, updates the
``incidents`` row, appends one ``incident_events`` row and writes exactly one
audit entry, in one transaction.

- ``log_incident(store, actor, values, token=...)`` creates ``INC-YYYY-NNNN`` (year
  of detection in Asia/Shanghai, next number) and a "logged" event.
- ``record_step(store, actor, incident_id, kind, values, token=...)`` records one
  step of ``STEPS`` (emergency plan, contained, regulator, police, users notified,
  resolved, summary filed, closed, note). The status only moves forward:
  open → contained → resolved → closed (``TRANSITIONS``).
- ``correct(store, actor, incident_id, target, values, reason, token=...)`` records
  a correction: a new event that supersedes the event that set the values; the
  row's columns take the corrected values; nothing is edited in place or deleted.

``token`` makes a submit idempotent: the form keeps one token per form instance,
and a second submit with the same token returns what the first one wrote (the
store's ``incident_requests`` table has the token as its primary key).

The clocks themselves live in ``dashboard/clocks.py``; the reads for the pages
(``incident_record``, ``incident_timeline``, ``list_incidents``, ``list_summary``)
are at the end of this module.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd

from . import clocks as clk
from .access import Actor, require
from .audit import to_json
from .i18n import ENGLISH, N_, _, get_locale, is_chinese, label, label_list, using
from .reference import load_catalog
from .registers import (
    GRADES, INCIDENT_STATUSES, INCIDENT_TYPES, INCIDENTS, NOTICE_CONTENTS,
    NOTIFICATION_CHANNELS, TEXT, TEXT_CAP,
)
from .settings import Settings

# -- vocabulary ------------------------------------------------------------------
FACT_FIELDS = (
    "title", "description", "incident_type", "grade", "occurred_at", "detected_at",
    "reported_by", "affected_subjects", "affected_sensitive_subjects", "data_categories",
    "systems_affected", "economic_loss_cny", "important_data_involved", "cii_involved",
    "suspected_crime",
)
# The facts that grade an incident or switch its clocks (rules version 2): recorded when
# logging, updated later with the "grading_facts" step, corrected like the other facts.
GRADING_FIELDS = ("economic_loss_cny", "important_data_involved", "cii_involved",
                  "suspected_crime")
FLAG_FIELDS = ("important_data_involved", "cii_involved", "suspected_crime")
LABELS = {   # English; ``field_label`` translates
    "title": N_("Title"), "description": N_("Description"), "incident_type": N_("Type"),
    "grade": N_("Grade"), "occurred_at": N_("Occurred"), "detected_at": N_("Detected"),
    "reported_by": N_("Reported by"), "affected_subjects": N_("Affected subjects"),
    "affected_sensitive_subjects": N_("Affected sensitive subjects"),
    "data_categories": N_("Data categories"), "systems_affected": N_("Systems affected"),
    "at": N_("When"), "regulator": N_("Authority"),
    "regulator_reference": N_("Authority's reference"), "police_reference": N_("Police reference"),
    "notification_channels": N_("Channels"), "audience": N_("Audience"),
    "notice_contents": N_("Notice contents"), "root_cause": N_("Root cause"),
    "remediation": N_("Remediation"), "summary_reference": N_("Summary report reference"),
    "close_reason": N_("Reason for closing"), "text": N_("Note"),
    "reason": N_("Reason for the correction"),
    "economic_loss_cny": N_("Direct economic loss (yuan)"),
    "important_data_involved": N_("Important or core data involved"),
    "cii_involved": N_("Critical information infrastructure (CII) involved"),
    "suspected_crime": N_("A crime is suspected"), "pi_authority": N_("Authority notified"),
    "pi_authority_reference": N_("Authority's reference"),
    "exemption_reason": N_("Why no notice to individuals is needed"),
}
# English words of the codes (the command line, stored timeline text, other modules); the pages
# show ``i18n.label(kind, code)`` (``type_label``, ``status_label``, ``channel_label``).
TYPE_LABELS = {
    "data_leak": "Data leak", "data_loss": "Data loss", "data_tampering": "Data tampering",
    "unauthorized_access": "Unauthorized access", "ransomware": "Ransomware",
    "malware": "Malware", "phishing": "Phishing", "ddos": "DDoS", "outage": "Outage",
    "other": "Other",
}
STATUS_LABELS = {"open": "Open", "contained": "Contained", "resolved": "Resolved",
                 "closed": "Closed"}
CHANNEL_LABELS = {"email": "Email", "notification": "In-app notification",
                  "announcement": "Public announcement", "sms": "SMS", "phone": "Phone"}
CONTENT_LABELS = {
    "categories": N_("The personal-information categories involved"),
    "cause": N_("The cause of the incident"),
    "possible_harm": N_("The harm it may cause"),
    "remedial_measures": N_("The remedial measures taken"),
    "self_protection_advice": N_("What individuals can do to reduce the harm"),
    "contact": N_("The Platform's contact details"),
}

# Text caps: the register's max_length for its columns, these for the rest.
_CAPS = {c.name: (c.max_length or TEXT_CAP) for c in INCIDENTS.columns if c.type == TEXT}
_CAPS.update({"audience": 500, "police_reference": 200, "summary_reference": 200,
              "close_reason": 2000, "text": TEXT_CAP, "reason": 2000, "token": 100,
              "pi_authority": 200, "pi_authority_reference": 200,
              "exemption_reason": _CAPS.get("user_notice_exemption", 2000)})
MAX_SUBJECTS = 10_000_000_000   # more people than live on Earth is a typing error
# DECIMAL(18,2) holds up to 16 digits of yuan; a trillion yuan is already a typing error.
MAX_LOSS_CNY = decimal.Decimal("1000000000000")

TRANSITIONS = {"open": "contained", "contained": "resolved", "resolved": "closed"}
ACTIVE = ("open", "contained", "resolved")


@dataclass(frozen=True)
class Step:
    kind: str
    title: str
    column: str | None            # the timestamp column the step sets ("at")
    statuses: tuple[str, ...]     # statuses in which the step may be recorded
    moves_to: str | None          # the status it moves the incident to
    fields: tuple[str, ...]       # inputs besides "at"
    required: tuple[str, ...]     # inputs that must be given
    columns: Mapping[str, str]    # input -> incidents column it sets
    help: str
    timed: bool = True            # asks when it happened ("at"); untimed: the recording time
    record_column: str | None = None  # set when the step is recorded (default: ``column``);
                                  # a step with neither may be recorded again (note, facts)

    @property
    def recorded_by(self) -> str | None:
        return self.record_column or self.column

    @property
    def repeatable(self) -> bool:
        return self.recorded_by is None and self.kind != "closed"


STEPS: dict[str, Step] = {s.kind: s for s in (
    Step("emergency_plan_activated", N_("Emergency plan activated"),
         "emergency_plan_activated_at", ACTIVE, None, (), (), {},
         N_("Policy 7.2 promises to activate the emergency plan; PIPL Art. 51(5) [V] requires "
            "one.")),
    Step("contained", N_("Contained"), "contained_at", ("open",), "contained", (), (), {},
         N_("The incident no longer spreads. Moves the status from open to contained.")),
    Step("regulator_reported", N_("Reported to the regulator"), "regulator_reported_at", ACTIVE,
         None, ("regulator", "regulator_reference"), ("regulator",),
         {"regulator": "regulator", "regulator_reference": "regulator_reference"},
         N_("CAC Measures (2025) Art. 4 [V]: relatively major and above, to the provincial CAC. "
            "Art. 7 [V2]: the report gives the unit and system, discovery time, type, grade, "
            "impact and measures taken.")),
    Step("pi_authority_notified", N_("PI authority notified"), "pi_authority_notified_at",
         ACTIVE, None, ("pi_authority", "pi_authority_reference"), ("pi_authority",), {},
         N_("PIPL Art. 57 [V]: on any incident involving personal information, whatever its "
            "grade, notify the authority protecting personal information immediately (the "
            "project reads it as a set number of hours [P]). A report to the regulator counts "
            "too: record it as that step when it was one.")),
    Step("police_reported", N_("Reported to the police"), "police_reported_at", ACTIVE, None,
         ("police_reference",), (), {},
         N_("A suspected crime goes to the police promptly (CAC Measures (2025); NDSMR Art. 11 "
            "[V2]; the hours are the project's default [P]); within 1 h when CII is involved "
            "(CAC Measures (2025) Art. 4 [V]), whatever the grade.")),
    Step("users_notified", N_("Users notified"), "users_notified_at", ACTIVE, None,
         ("notification_channels", "audience", "notice_contents"),
         ("notification_channels", "audience"),
         {"notification_channels": "notification_channels", "notice_contents": "notice_contents"},
         N_("Policy 7.2: by email, notification, announcement, etc., with security advice. "
            "PIPL Art. 57 [V] lists the six contents the notice must give; NDSMR Art. 11 [V] "
            "names phone, SMS, IM, email and announcement.")),
    Step("user_notice_exempted", N_("No notice to individuals needed (Art. 57 ¶2)"), None, ACTIVE,
         None, ("exemption_reason",), ("exemption_reason",),
         {"exemption_reason": "user_notice_exemption"},
         N_("PIPL Art. 57 ¶2 [V]: no notice to the individuals is needed where the measures taken "
            "effectively avoid harm; the authority may still order one. Say why (required). The "
            "user-notice clock then shows exempt; the notice to the PI authority stays."),
         timed=False, record_column="user_notice_exemption"),
    Step("grading_facts", N_("Grading facts updated"), None, ACTIVE, None,
         GRADING_FIELDS + ("grade",), (), {**{f: f for f in GRADING_FIELDS}, "grade": "grade"},
         N_("The facts that grade the incident and switch its clocks, as known now: direct "
            "economic loss, important or core data, CII (1 h clocks), a suspected crime (the "
            "police clock). Fields left out keep their value. The form suggests the grade they "
            "imply (CAC Measures (2025) Annex [V2]); grading below it is an INC-GRADE finding."),
         timed=False),
    Step("resolved", N_("Resolved"), "resolved_at", ("contained",), "resolved",
         ("root_cause", "remediation"), ("root_cause", "remediation"),
         {"root_cause": "root_cause", "remediation": "remediation"},
         N_("Handling has ended: starts the summary report's clock (CAC Measures (2025) Art. 8 "
            "[V2]). Needs the incident contained.")),
    Step("summary_filed", N_("Summary report filed"), "summary_filed_at", ("resolved",), None,
         ("summary_reference",), (), {},
         N_("The post-incident summary report, due a set number of days after handling ends "
            "(CAC Measures (2025) Art. 8 [V2]; its clock above shows the deadline). Needs the "
            "incident resolved.")),
    Step("closed", N_("Closed"), None, ("resolved",), "closed", ("close_reason",), (), {},
         N_("Ends the record. Needs the incident resolved, and the summary report filed or a "
            "stated reason for closing without it.")),
    Step("note", N_("Note"), None, INCIDENT_STATUSES, None, ("text",), ("text",), {},
         N_("Anything worth keeping on the timeline. Notes can be added in every status.")),
)}
STEP_ORDER = tuple(STEPS)
# What a correction can address: the logged facts, or a recorded step (not a note, not a
# grading-facts update: the facts' correction covers those columns).
CORRECTABLE = ("facts",) + tuple(k for k in STEP_ORDER if k not in ("note", "grading_facts"))
TARGET_TITLES = {"facts": N_("Incident facts"), **{k: s.title for k, s in STEPS.items()}}
KIND_LABELS = {"logged": N_("Logged"), "correction": N_("Correction"), **TARGET_TITLES}
# Event kinds of timelines written by other writers (the demo seeder, imports).
OTHER_KIND_LABELS = {"detected": N_("Detected"), "reported": N_("Reported"),
                     "notified": N_("Notified"), "updated": N_("Updated")}
STEP_COLUMNS = tuple(s.column for s in STEPS.values() if s.column)

# Time order every incident keeps: (earlier, later). "closed_at" is the close event's time.
ORDER = (
    ("occurred_at", "detected_at"),
    *(("detected_at", col) for col in STEP_COLUMNS),
    ("detected_at", "closed_at"),
    ("contained_at", "resolved_at"),
    ("resolved_at", "summary_filed_at"),
    ("resolved_at", "closed_at"),
    ("summary_filed_at", "closed_at"),
)
TIME_NAMES = {
    "occurred_at": N_("the occurrence"), "detected_at": N_("detection"),
    "emergency_plan_activated_at": N_("the emergency plan's activation"),
    "contained_at": N_("containment"), "regulator_reported_at": N_("the regulator report"),
    "pi_authority_notified_at": N_("the PI authority's notice"),
    "police_reported_at": N_("the police report"), "users_notified_at": N_("the users' notice"),
    "resolved_at": N_("resolution"), "summary_filed_at": N_("the summary report"),
    "closed_at": N_("closing"),
}


def category_label(code: str) -> str:
    """A data category of the policy's catalog in words (its Chinese name in Chinese)."""
    category = load_catalog().categories.get(code)
    if category is None:
        return str(code)
    return (category.label_zh or category.label) if is_chinese() else category.label


def field_label(name: str) -> str:
    """A field's label in this run's language (``name`` itself if it has none)."""
    return _(LABELS[name]) if name in LABELS else name


def _field_words(name: str) -> str:
    """A field's label inside a sentence: lower case in English."""
    words = field_label(name)
    return words if is_chinese() else words.lower()


def step_title(kind: str) -> str:
    """A step's title in this run's language."""
    step = STEPS.get(kind)
    return _(step.title) if step else str(kind)


def step_help(kind: str) -> str:
    return _(STEPS[kind].help)


def target_title(target: str) -> str:
    """What a correction addresses (the facts or a step), in this run's language."""
    return _(TARGET_TITLES[target]) if target in TARGET_TITLES else str(target)


def kind_label(kind: str) -> str:
    """A timeline event's kind in words (any writer's kinds)."""
    if kind in KIND_LABELS:
        return _(KIND_LABELS[kind])
    if kind in OTHER_KIND_LABELS:
        return _(OTHER_KIND_LABELS[kind])
    return str(kind).replace("_", " ").capitalize()


def type_label(code: str | None) -> str:
    return label("incident_type", code) if is_chinese() else TYPE_LABELS.get(code, code or "")


def status_label(code: str | None) -> str:
    return label("incident_status", code) if is_chinese() else STATUS_LABELS.get(code,
                                                                                code or "")


def channel_label(code: str | None) -> str:
    return label("notification_channel", code) if is_chinese() else CHANNEL_LABELS.get(
        code, code or "")


def content_label(code: str) -> str:
    """A notice content as the checklist says it: ``The cause of the incident``."""
    return _(CONTENT_LABELS[code]) if code in CONTENT_LABELS else str(code)


class ValidationError(ValueError):
    """Bad input: ``errors`` maps each field to a message (in the language of the run that
    validated). Nothing was written."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field_label(k)}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Logged:
    incident_id: str
    event_id: int
    created: bool        # False: the token had been used; this is the first submit's incident


@dataclass(frozen=True)
class Recorded:
    incident_id: str
    event_id: int
    status: str
    created: bool


@dataclass
class IncidentRecord:
    """One incident as the page and the validators see it."""
    row: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # target -> event_id, values
    last_event_at: dt.datetime | None = None
    closed_event_at: dt.datetime | None = None   # the latest "closed" event (any writer)

    @property
    def incident_id(self) -> str:
        return self.row["incident_id"]

    @property
    def status(self) -> str:
        return self.row["status"]

    @property
    def closed_at(self) -> dt.datetime | None:
        corrected = (self.steps.get("closed") or {}).get("values", {}).get("at")
        return corrected or (self.closed_event_at if self.status == "closed" else None)

    def timeline_times(self) -> dict[str, dt.datetime | None]:
        times = {c: self.row.get(c) for c in ("occurred_at", "detected_at") + STEP_COLUMNS}
        times["closed_at"] = self.closed_at
        return times


# -- parsing and checking inputs ----------------------------------------------------
class _Form:
    """Reads raw input values (form widgets, CLI strings, Python values) and collects
    one message per field."""

    def __init__(self, values: Mapping[str, Any], tz: ZoneInfo, now: dt.datetime):
        self.values = values
        self.tz = tz
        self.now = now
        self.errors: dict[str, str] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        if value is not None and not isinstance(value, (list, tuple, set)) and pd.isna(value):
            return None
        return value

    def text(self, name: str, *, required: bool = False, message: str = "") -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, message or _("Enter the {field}.").format(
                    field=_field_words(name)))
            return None
        if not isinstance(value, str):
            value = str(value)
        cap = _CAPS.get(name, TEXT_CAP)
        if len(value) > cap:
            self.fail(name, _("At most {cap} characters; this has {length}.").format(
                cap=f"{cap:,}", length=f"{len(value):,}"))
            return None
        return value

    def time(self, name: str, *, required: bool = False) -> dt.datetime | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, _("Enter the date and time."))
            return None
        parsed = parse_time(value, self.tz)
        if parsed is None:
            self.fail(name, _("Not a date and time: use YYYY-MM-DD HH:MM ({zone} unless "
                              "an offset such as +08:00 is given).").format(zone=self.tz.key))
            return None
        if parsed > self.now:
            self.fail(name, _("Cannot be in the future (now is {now}).").format(
                now=clk.show_time(self.now, self.tz)))
            return None
        return parsed

    def count(self, name: str, *, required: bool = False) -> int | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, _("Enter a whole number (0 if none)."))
            return None
        number = parse_count(value)
        if number is None:
            self.fail(name, _("Not a whole number: {value}. Enter digits, e.g. 1200000.").format(
                value=repr(str(value)[:40])))
            return None
        if number < 0:
            self.fail(name, _("Cannot be negative."))
            return None
        if number > MAX_SUBJECTS:
            self.fail(name, _("More than {limit} people is not plausible.").format(
                limit=f"{MAX_SUBJECTS:,}"))
            return None
        return number

    def amount(self, name: str) -> decimal.Decimal | None:
        """An amount of yuan: not negative, at most two decimals (fen); None when empty."""
        value = self.raw(name)
        if value is None:
            return None
        amount = parse_amount(value)
        if amount is None:
            self.fail(name, _("Not an amount: {value}. Enter yuan in digits, e.g. "
                              "30000000 or 1,250,000.50.").format(value=repr(str(value)[:40])))
            return None
        if amount < 0:
            self.fail(name, _("Cannot be negative."))
            return None
        if amount != amount.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_DOWN):
            self.fail(name, _("At most 2 decimal places (fen): {value} has more.").format(
                value=repr(str(value)[:40])))
            return None
        if amount > MAX_LOSS_CNY:
            self.fail(name, _("More than {limit} yuan is not plausible.").format(
                limit=f"{MAX_LOSS_CNY:,}"))
            return None
        return amount.quantize(decimal.Decimal("0.01"))

    def flag(self, name: str) -> bool | None:
        """Yes or no (a checkbox, ``true``/``false``, ``yes``/``no``); None when not given."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        self.fail(name, _("Not yes or no: {value}. Use true or false.").format(
            value=repr(str(value)[:40])))
        return None

    def choice(self, name: str, options: Sequence[str], *, required: bool = False,
               labels: Mapping[str, str] | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, _("Choose the {field}.").format(field=_field_words(name)))
            return None
        if value not in options:
            shown = ", ".join(options)
            self.fail(name, _("Unknown value {value}; choose one of: {options}.").format(
                value=repr(str(value)[:40]), options=shown))
            return None
        return value

    def many(self, name: str, options: Sequence[str], *, required: bool = False,
             what: str = N_("value"), whats: str = N_("values")) -> list[str]:
        value = self.values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            items: list[str] = []
        elif isinstance(value, str):
            items = [v.strip() for v in value.split(";") if v.strip()]
        else:
            items = [str(v).strip() for v in value if str(v).strip()]
        unknown = [v for v in items if v not in options]
        if unknown:
            self.fail(name, _("Unknown {what}: {unknown}; choose from: {options}.").format(
                what=_(whats if len(unknown) > 1 else what),
                unknown=", ".join(u[:40] for u in unknown), options=", ".join(options)))
            return []
        if required and not items:
            self.fail(name, _("Choose at least one {what}.").format(what=_(what)))
        seen: list[str] = []
        for v in items:
            if v not in seen:
                seen.append(v)
        return seen


def parse_time(value: Any, tz: ZoneInfo) -> dt.datetime | None:
    """An aware datetime from a datetime (naive = ``tz``) or an ISO 8601 string; a date
    alone is refused (a clock needs the time). ``None`` if it cannot be read."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        text = value.strip()
        if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}", text):
            return None
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def parse_count(value: Any) -> int | None:
    """A whole number from an int or a string (``1,200,000`` and ``1 200 000`` accepted)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = re.sub(r"[,_\s\u00a0\u202f]", "", str(value))
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return None


def parse_amount(value: Any) -> decimal.Decimal | None:
    """An amount from a number or a string (``30,000,000``, ``1 250 000.50``, ``¥3000``);
    ``None`` if it cannot be read. Floats go through their shortest text (0.1 is 0.1)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value)) if value == value and abs(value) != float("inf") \
            else None
    text = re.sub(r"[,_\s\u00a0\u202f¥￥]|元$|yuan$|CNY$", "", str(value).strip(),
                  flags=re.IGNORECASE)
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        return None
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None


def _tz_for(values: Mapping[str, Any], settings: Settings) -> ZoneInfo:
    """The zone of input times without an offset: ``values['timezone']`` or the setting."""
    name = values.get("timezone") or settings.timezone
    try:
        return ZoneInfo(str(name))
    except Exception:
        raise ValidationError({"timezone": _("Unknown time zone {name}.").format(
            name=repr(str(name)[:60]))}) from None


def validate_facts(values: Mapping[str, Any], settings: Settings, now: dt.datetime, *,
                   reported_by: str | None = None) -> dict[str, Any]:
    """Clean the logged facts of an incident, or raise ``ValidationError``."""
    tz = _tz_for(values, settings)
    f = _Form(values, tz, now)
    clean: dict[str, Any] = {}
    clean["title"] = f.text("title", required=True, message=_("Enter a title: what happened, "
                                                              "in a few words."))
    clean["description"] = f.text("description")
    clean["incident_type"] = f.choice("incident_type", INCIDENT_TYPES, required=True)
    clean["occurred_at"] = f.time("occurred_at")
    clean["detected_at"] = f.time("detected_at", required=True)
    clean["reported_by"] = f.text("reported_by") or reported_by
    clean["affected_subjects"] = f.count("affected_subjects", required=True)
    sensitive = f.count("affected_sensitive_subjects")
    clean["affected_sensitive_subjects"] = 0 if sensitive is None and \
        "affected_sensitive_subjects" not in f.errors else sensitive
    catalog = load_catalog()
    clean["data_categories"] = f.many("data_categories", tuple(catalog.categories),
                                      what=N_("data category"),
                                      whats=N_("data categories"))
    clean["systems_affected"] = f.text("systems_affected")
    clean["economic_loss_cny"] = f.amount("economic_loss_cny")
    for name in FLAG_FIELDS:
        clean[name] = f.flag(name)
    grade = f.choice("grade", GRADES)
    if grade is None and "grade" not in f.errors:
        grade = clk.implied_grade(clean, settings).grade
    clean["grade"] = grade
    if (clean["occurred_at"] and clean["detected_at"]
            and clean["detected_at"] < clean["occurred_at"]):
        f.fail("detected_at", _("Detection cannot be before the occurrence ({when}).").format(
            when=clk.show_time(clean["occurred_at"], tz)))
    if (clean["affected_subjects"] is not None and clean["affected_sensitive_subjects"]
            and clean["affected_sensitive_subjects"] > clean["affected_subjects"]):
        f.fail("affected_sensitive_subjects",
               _("Cannot exceed the affected subjects ({count}).").format(
                   count=f"{clean['affected_subjects']:,}"))
    if f.errors:
        raise ValidationError(f.errors)
    return clean


def _order_errors(times: Mapping[str, dt.datetime | None], focus: Mapping[str, str],
                  tz: ZoneInfo) -> dict[str, str]:
    """Messages for the ``ORDER`` constraints that involve a column in ``focus``
    (column -> the input field to put the message on)."""
    errors: dict[str, str] = {}
    for early, late in ORDER:
        a, b = times.get(early), times.get(late)
        if a is None or b is None or a <= b:
            continue
        if late in focus:
            errors.setdefault(focus[late], _("Cannot be before {event} ({when}).").format(
                event=_(TIME_NAMES[early]), when=clk.show_time(a, tz)))
        elif early in focus:
            errors.setdefault(focus[early], _("Cannot be after {event} ({when}).").format(
                event=_(TIME_NAMES[late]), when=clk.show_time(b, tz)))
    return errors


def step_refusal(record: IncidentRecord | Mapping[str, Any], kind: str) -> str | None:
    """Why ``kind`` cannot be recorded now (status, prerequisite, already done), or None."""
    row = record.row if isinstance(record, IncidentRecord) else record
    step = STEPS.get(kind)
    if step is None:
        return _("Unknown step {kind}; the steps are: {steps}.").format(
            kind=repr(kind), steps=", ".join(STEP_ORDER))
    status = row["status"]
    if status not in step.statuses:
        if status == "closed":
            return _("The incident is closed: only notes and corrections can be added.")
        if kind == "contained":
            return _("Already past containment (status: {status}).").format(
                status=_status_words(status))
        if kind == "resolved":
            return _("Record containment first: an incident is resolved only after it is "
                     "contained.")
        if kind == "summary_filed":
            return _("Record the resolution first: the summary report follows the end of "
                     "handling.")
        if kind == "closed":
            return _("Record the resolution first: only a resolved incident is closed.")
        return _("Not possible while the incident is {status}.").format(
            status=_status_words(status))
    if step.recorded_by and row.get(step.recorded_by) is not None:
        return _("Already recorded. To change what was recorded, record a correction.")
    if kind == "user_notice_exempted":
        if not (row.get("affected_subjects") or 0) > 0:
            return _("No affected people are recorded: there is no notice to individuals to "
                     "be exempt from.")
        if row.get("users_notified_at") is not None:
            return _("The users were already notified: an exemption is no longer needed.")
    return None


def _status_words(status: str) -> str:
    """A status inside a sentence: lower case in English."""
    words = status_label(status)
    return words if is_chinese() else words.lower()


def allowed_steps(record: IncidentRecord | Mapping[str, Any]) -> list[str]:
    return [k for k in STEP_ORDER if step_refusal(record, k) is None]


def blocked_steps(record: IncidentRecord | Mapping[str, Any]) -> dict[str, str]:
    return {k: r for k in STEP_ORDER if (r := step_refusal(record, k)) is not None}


def _validate_step_fields(step: Step, values: Mapping[str, Any], record: IncidentRecord,
                          settings: Settings, now: dt.datetime) -> dict[str, Any]:
    tz = _tz_for(values, settings)
    f = _Form(values, tz, now)
    clean: dict[str, Any] = {}
    if step.timed and step.kind != "note":
        clean["at"] = f.time("at", required=True)
    if step.kind == "pi_authority_notified":
        clean["pi_authority"] = f.text(
            "pi_authority", required=True,
            message=_("Name the authority notified, e.g. the provincial CAC."))
        clean["pi_authority_reference"] = f.text("pi_authority_reference")
    elif step.kind == "user_notice_exempted":
        clean["exemption_reason"] = f.text(
            "exemption_reason", required=True,
            message=_("Say why the measures taken effectively avoid harm (PIPL Art. 57 ¶2): "
                      "the exemption needs its reason."))
    elif step.kind == "grading_facts":
        # Fields left out keep their value: the step records what is known now.
        given = {k: v for k, v in values.items() if k in step.fields}
        merged = {**{k: record.row.get(k) for k in step.fields}, **given}
        f.values = merged
        clean["economic_loss_cny"] = f.amount("economic_loss_cny")
        for name in FLAG_FIELDS:
            clean[name] = f.flag(name)
        clean["grade"] = f.choice("grade", GRADES) or record.row.get("grade")
        if not f.errors and all(_same(record.row.get(k), clean[k]) for k in step.fields):
            f.fail("grading_facts", _("Nothing changed: change at least one fact or the "
                                      "grade."))
    elif step.kind == "regulator_reported":
        clean["regulator"] = f.text("regulator", required=True,
                                    message=_("Name the authority, e.g. the provincial CAC."))
        clean["regulator_reference"] = f.text("regulator_reference")
    elif step.kind == "police_reported":
        clean["police_reference"] = f.text("police_reference")
    elif step.kind == "users_notified":
        clean["notification_channels"] = f.many(
            "notification_channels", NOTIFICATION_CHANNELS, required=True,
            what=N_("channel"), whats=N_("channels"))
        clean["audience"] = f.text("audience", required=True,
                                   message=_("Say who was notified, e.g. all affected users."))
        clean["notice_contents"] = f.many("notice_contents", NOTICE_CONTENTS,
                                          what=N_("notice content"),
                                          whats=N_("notice contents"))
    elif step.kind == "resolved":
        clean["root_cause"] = f.text("root_cause", required=True,
                                     message=_("State the root cause."))
        clean["remediation"] = f.text("remediation", required=True,
                                      message=_("State the remediation."))
    elif step.kind == "summary_filed":
        clean["summary_reference"] = f.text("summary_reference")
    elif step.kind == "closed":
        clean["close_reason"] = f.text("close_reason")
        summary_filed = record.row.get("summary_filed_at") is not None
        if not summary_filed and not clean["close_reason"] and "close_reason" not in f.errors:
            f.fail("close_reason", _("The summary report is not filed: state why the "
                                     "incident is closed without it."))
    elif step.kind == "note":
        clean["text"] = f.text("text", required=True, message=_("Write the note."))
    if clean.get("at") is not None:
        times = record.timeline_times()
        times[step.column or "closed_at"] = clean["at"]
        for name, message in _order_errors(times, {step.column or "closed_at": "at"},
                                           tz).items():
            f.fail(name, message)
    if f.errors:
        raise ValidationError(f.errors)
    return clean


def validate_step(record: IncidentRecord, kind: str, values: Mapping[str, Any],
                  settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """Clean the inputs of one step on ``record``, or raise ``ValidationError``."""
    refusal = step_refusal(record, kind)
    if refusal:
        raise ValidationError({"step": refusal})
    return _validate_step_fields(STEPS[kind], values, record, settings, now)


# -- reading one incident -------------------------------------------------------------
_TIME_KEYS = {"at"} | {c.name for c in INCIDENTS.columns if c.name.endswith("_at")}


def _decode(data: str | None) -> dict[str, Any]:
    if not data:
        return {}
    out = json.loads(data)
    values = out.get("values") or {}
    for k, v in list(values.items()):
        if k in _TIME_KEYS and isinstance(v, str):
            values[k] = dt.datetime.fromisoformat(v)
    out["values"] = values
    return out


def _load(cur, incident_id: str) -> IncidentRecord | None:
    result = cur.execute("SELECT * FROM incidents WHERE incident_id = ?", [incident_id])
    names = [d[0] for d in result.description]
    found = result.fetchone()
    if found is None:
        return None
    row = dict(zip(names, found))
    events = cur.execute(
        'SELECT e.event_id, e."at", e.kind, m.target, m.data FROM incident_events e '
        "LEFT JOIN incident_event_meta m ON m.event_id = e.event_id "
        "WHERE e.incident_id = ? ORDER BY e.event_id", [incident_id]).fetchall()
    steps: dict[str, dict[str, Any]] = {}
    last = closed = None
    for event_id, at, kind, target, data in events:
        if target is not None:
            steps[target] = {"event_id": event_id, "values": _decode(data).get("values", {})}
        if at is not None:
            last = at if last is None else max(last, at)
            if kind == "closed":
                closed = at if closed is None else max(closed, at)
    return IncidentRecord(row, steps, last, closed)


def incident_record(store, incident_id: str) -> IncidentRecord | None:
    """The incident row, each step's current values, and its last event time."""
    with store.cursor() as cur:
        return _load(cur, incident_id)


def current_values(record: IncidentRecord, target: str) -> dict[str, Any]:
    """What a correction of ``target`` starts from: the row's columns, and the latest
    event's values for inputs that have no column (audience, references, reasons)."""
    if target == "facts":
        return {k: record.row.get(k) for k in FACT_FIELDS}
    step = STEPS[target]
    last = (record.steps.get(target) or {}).get("values", {})
    values: dict[str, Any] = {}
    if step.column:
        values["at"] = record.row.get(step.column)
    elif step.timed:           # closing: the latest close event, whoever wrote it
        values["at"] = last.get("at") or record.closed_at
    for name in step.fields:
        column = step.columns.get(name)
        values[name] = record.row.get(column) if column else last.get(name)
    return values


def correction_targets(record: IncidentRecord) -> list[str]:
    """The logged facts and every step recorded so far (a step is recorded when its
    column is set, or, for closing, when the incident is closed)."""
    targets = ["facts"]
    for kind in CORRECTABLE[1:]:
        step = STEPS[kind]
        done = (record.row.get(step.recorded_by) is not None if step.recorded_by
                else record.status == "closed")
        if done:
            targets.append(kind)
    return targets


# -- writing ------------------------------------------------------------------------
class _Replay(Exception):
    def __init__(self, incident_id: str, event_id: int):
        self.incident_id, self.event_id = incident_id, event_id


def form_token(instance: str, values: Mapping[str, Any]) -> str:
    """The idempotency token of one submit: the form instance (a random id the page keeps
    until the user starts a new entry) and a digest of what it sends. A double submit of
    the same form sends the same token; a changed form sends a new one."""
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()
    return f"{instance}:{digest[:24]}"


def _check_token(token: str | None) -> str | None:
    if token is None:
        return None
    token = str(token).strip()
    if not token or len(token) > _CAPS["token"]:
        raise ValidationError({"token": _("A submit token is 1 to {cap} characters.").format(
            cap=_CAPS["token"])})
    return token


def _find_request(cur, token: str, action: str, incident_id: str | None) -> tuple | None:
    hit = cur.execute("SELECT incident_id, event_id, action FROM incident_requests "
                      "WHERE token = ?", [token]).fetchone()
    if hit is None:
        return None
    if hit[2] != action or (incident_id is not None and hit[0] != incident_id):
        raise ValidationError({"token": _("This form's token was already used for another "
                                          "submit; reload the form.")})
    return hit


def _save_request(w, token: str | None, incident_id: str, event_id: int, action: str) -> None:
    if token:
        w.execute("INSERT INTO incident_requests VALUES (?, ?, ?, ?, ?, ?)",
                  [token, incident_id, event_id, action, w.actor.name, w.at])


def _next_id(cur, detected_at: dt.datetime, tz: ZoneInfo) -> str:
    """``INC-YYYY-NNNN``: year of detection (display zone), one past the year's highest
    number. Callers hold the store's write lock, so two writers cannot take one id."""
    year = detected_at.astimezone(tz).year
    prefix = f"INC-{year}-"
    top = cur.execute(
        "SELECT max(TRY_CAST(regexp_extract(incident_id, '^INC-[0-9]{4}-([0-9]+)$', 1) "
        "AS BIGINT)) FROM incidents WHERE starts_with(incident_id, ?)", [prefix]).fetchone()[0]
    return f"{prefix}{(top or 0) + 1:04d}"


def _append_event(w, incident_id: str, *, at: dt.datetime, kind: str, detail: str,
                  target: str | None, data: Mapping[str, Any] | None,
                  supersedes: int | None = None) -> int:
    event_id = w.execute("SELECT coalesce(max(event_id), 0) + 1 FROM incident_events"
                         ).fetchone()[0]
    w.execute('INSERT INTO incident_events (event_id, incident_id, "at", actor, kind, detail) '
              "VALUES (?, ?, ?, ?, ?, ?)",
              [event_id, incident_id, at, w.actor.name, kind, detail[:TEXT_CAP]])
    w.execute("INSERT INTO incident_event_meta VALUES (?, ?, ?, ?, ?, ?)",
              [event_id, w.at, w.actor.role, target, supersedes, to_json(data)])
    return event_id


def _below_note(facts: Mapping[str, Any], settings: Settings) -> str:
    """`` Graded below the major (II) its facts imply: ... an INC-GRADE finding.`` or ``""``."""
    suggestion = clk.implied_grade(facts, settings)
    if clk.grade_rank(facts.get("grade")) >= clk.grade_rank(suggestion.grade):
        return ""
    return (f" Graded below the {clk.grade_words(suggestion.grade)} its facts imply ("
            + "; ".join(r.text for r in suggestion.drivers) + "): an INC-GRADE finding.")


def _fmt_count(n: int | None) -> str:
    return "unknown" if n is None else f"{n:,}"


def fmt_count(n: int | None) -> str:
    """A count as a page shows it: ``1,200`` or ``unknown`` (translated)."""
    return _("unknown") if n is None else f"{n:,}"


def _logged_detail(clean: Mapping[str, Any], settings: Settings, tz: ZoneInfo) -> str:
    """The "logged" event's text (stored: callers run it in English)."""
    detail = (f"Logged: {clean['title']}. Detected "
              f"{clk.format_time(clean['detected_at'], tz)}; "
              f"{clk.grade_words(clean['grade'])}; "
              f"{_fmt_count(clean['affected_subjects'])} affected "
              f"({_fmt_count(clean['affected_sensitive_subjects'])} sensitive).")
    if any(clean.get(k) is not None for k in GRADING_FIELDS):
        summary = _grading_summary({**clean, "grade": None})
        detail += f" {summary[0].upper()}{summary[1:]}."
    return detail + _below_note(clean, settings)


def log_incident(store, actor: Actor, values: Mapping[str, Any], *,
                 token: str | None = None) -> Logged:
    """Log a new incident; its clocks start at ``detected_at``.

    ``values``: the ``FACT_FIELDS`` (times as datetimes or ISO strings; without an
    offset they are in ``values['timezone']`` or the ``timezone`` setting), ``grade``
    optional (default: the grade the affected count implies).
    """
    require(actor, "incident.log")
    token = _check_token(token)
    if token:
        with store.cursor() as cur:
            hit = _find_request(cur, token, "incident.log", None)
        if hit:
            return Logged(hit[0], hit[1], created=False)
    settings = store.settings
    clean = validate_facts(values, settings, store.now(), reported_by=actor.name)
    tz = ZoneInfo(settings.timezone)
    suggestion = clk.implied_grade(clean, settings)
    suggested = suggestion.grade
    try:
        with store.write(actor, "incident.log") as w:
            if token and (hit := _find_request(w.cur, token, "incident.log", None)):
                raise _Replay(hit[0], hit[1])
            incident_id = _next_id(w.cur, clean["detected_at"], tz)
            row = {"incident_id": incident_id, **clean, "status": "open"}
            cols = list(row)
            w.execute(f"INSERT INTO incidents ({', '.join(cols)}) "
                      f"VALUES ({', '.join('?' for _ in cols)})", [row[c] for c in cols])
            with using(ENGLISH):      # the timeline's stored text: English, as the audit log
                detail = _logged_detail(clean, settings, tz)
            event_id = _append_event(w, incident_id, at=w.at, kind="logged", detail=detail,
                                     target="facts", data={"values": clean,
                                                           "suggested_grade": suggested})
            _save_request(w, token, incident_id, event_id, "incident.log")
            w.audit("incident.log", "incident", incident_id, before=None,
                    after={**row, "event_id": event_id})
    except _Replay as replay:
        return Logged(replay.incident_id, replay.event_id, created=False)
    return Logged(incident_id, event_id, created=True)


def _step_detail(step: Step, clean: Mapping[str, Any], tz: ZoneInfo) -> str:
    when = clk.format_time(clean.get("at"), tz) if clean.get("at") else ""
    if step.kind == "pi_authority_notified":
        text = f"PI authority notified: {clean['pi_authority']}"
        if clean.get("pi_authority_reference"):
            text += f" (reference {clean['pi_authority_reference']})"
    elif step.kind == "user_notice_exempted":
        return ("No notice to individuals needed (PIPL Art. 57 ¶2): "
                f"{clean['exemption_reason']}")
    elif step.kind == "grading_facts":
        return "Grading facts: " + _grading_summary(clean) + "."
    elif step.kind == "regulator_reported":
        text = f"Reported to {clean['regulator']}"
        if clean.get("regulator_reference"):
            text += f" (reference {clean['regulator_reference']})"
    elif step.kind == "police_reported":
        text = "Reported to the police"
        if clean.get("police_reference"):
            text += f" (reference {clean['police_reference']})"
    elif step.kind == "users_notified":
        channels = ", ".join(CHANNEL_LABELS[c].lower() for c in clean["notification_channels"])
        n = len(clean.get("notice_contents") or [])
        text = (f"Users notified by {channels}: {clean['audience']}. The notice covers {n} of "
                f"the 6 PIPL Art. 57 contents")
    elif step.kind == "resolved":
        text = f"Resolved. Root cause: {clean['root_cause']}. Remediation: {clean['remediation']}"
    elif step.kind == "summary_filed":
        text = "Summary report filed"
        if clean.get("summary_reference"):
            text += f" (reference {clean['summary_reference']})"
    elif step.kind == "closed":
        text = "Closed"
        if clean.get("close_reason"):
            text += f": {clean['close_reason']}"
    elif step.kind == "note":
        return clean["text"]
    else:
        text = step.title
    return f"{text} ({when})." if when else f"{text}."


def _yes_no(value: bool | None) -> str:
    return "not recorded" if value is None else ("yes" if value else "no")


def _grading_summary(clean: Mapping[str, Any]) -> str:
    """``direct loss 30,000,000 yuan; important data: no; CII: yes; crime suspected: no``."""
    loss = clean.get("economic_loss_cny")
    parts = [f"direct loss {clk.format_yuan(loss)} yuan" if loss is not None
             else "direct loss not recorded",
             f"important or core data: {_yes_no(clean.get('important_data_involved'))}",
             f"CII involved: {_yes_no(clean.get('cii_involved'))}",
             f"crime suspected: {_yes_no(clean.get('suspected_crime'))}"]
    if clean.get("grade"):
        parts.append(f"grade {clk.grade_words(clean['grade'])}")
    return "; ".join(parts)


def record_step(store, actor: Actor, incident_id: str, kind: str, values: Mapping[str, Any],
                *, token: str | None = None) -> Recorded:
    """Record one step of ``STEPS`` on an incident: set its column(s), move the status
    forward if the step does, append the timeline event; one transaction."""
    require(actor, "incident.update")
    token = _check_token(token)
    if token:
        with store.cursor() as cur:
            hit = _find_request(cur, token, f"incident.{kind}", incident_id)
        if hit:
            status = store.scalar("SELECT status FROM incidents WHERE incident_id = ?",
                                  [incident_id])
            return Recorded(incident_id, hit[1], status, created=False)
    if kind not in STEPS:
        raise ValidationError({"step": step_refusal({"status": "open"}, kind)})
    step = STEPS[kind]
    settings = store.settings
    record = incident_record(store, incident_id)
    if record is None:
        raise ValidationError({"incident_id": _("No incident {id}.").format(
            id=repr(str(incident_id)[:80]))})
    validate_step(record, kind, values, settings, store.now())
    tz = ZoneInfo(settings.timezone)
    try:
        with store.write(actor, "incident.update") as w:
            if token and (hit := _find_request(w.cur, token, f"incident.{kind}", incident_id)):
                raise _Replay(incident_id, hit[1])
            # Re-read and re-check under the write lock: another session may have moved it.
            record = _load(w.cur, incident_id)
            clean = validate_step(record, kind, values, settings, store.now())
            sets = {}
            if step.column:
                sets[step.column] = clean["at"]
            for name, column in step.columns.items():
                sets[column] = clean.get(name)
            status_before = record.status
            status_after = step.moves_to or status_before
            if status_after != status_before:
                sets["status"] = status_after
            before = {c: record.row.get(c) for c in sets}
            if sets:
                w.execute(f"UPDATE incidents SET {', '.join(f'{c} = ?' for c in sets)} "
                          "WHERE incident_id = ?", [*sets.values(), incident_id])
            at = clean.get("at") or w.at
            with using(ENGLISH):      # the timeline's stored text: English, as the audit log
                detail = _step_detail(step, clean, tz)
                if kind == "grading_facts":
                    detail += _below_note({**record.row, **clean}, settings)
            event_id = _append_event(
                w, incident_id, at=at, kind=kind, detail=detail,
                target=None if kind in ("note", "grading_facts") else kind,
                data={"values": clean})
            _save_request(w, token, incident_id, event_id, f"incident.{kind}")
            w.audit("incident.update", "incident", incident_id,
                    before={"status": status_before, **before},
                    after={"status": status_after, **sets, "step": kind, "event_id": event_id,
                           **{k: v for k, v in clean.items() if k not in step.columns}})
    except _Replay as replay:
        status = store.scalar("SELECT status FROM incidents WHERE incident_id = ?",
                              [incident_id])
        return Recorded(incident_id, replay.event_id, status, created=False)
    return Recorded(incident_id, event_id, status_after, created=True)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a == b
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return list(a or []) == list(b or [])
    return a == b


def correct(store, actor: Actor, incident_id: str, target: str, values: Mapping[str, Any],
            reason: str, *, token: str | None = None) -> Recorded:
    """Correct what was recorded for ``target`` ("facts" or a step): the values given
    replace the current ones; a "correction" event supersedes the event that set them."""
    require(actor, "incident.update")
    token = _check_token(token)
    action = f"incident.correct.{target}"
    if token:
        with store.cursor() as cur:
            hit = _find_request(cur, token, action, incident_id)
        if hit:
            status = store.scalar("SELECT status FROM incidents WHERE incident_id = ?",
                                  [incident_id])
            return Recorded(incident_id, hit[1], status, created=False)
    settings = store.settings
    now = store.now()
    record = incident_record(store, incident_id)
    if record is None:
        raise ValidationError({"incident_id": _("No incident {id}.").format(
            id=repr(str(incident_id)[:80]))})
    _validate_correction(record, target, values, reason, settings, now)
    tz = ZoneInfo(settings.timezone)
    try:
        with store.write(actor, "incident.update") as w:
            if token and (hit := _find_request(w.cur, token, action, incident_id)):
                raise _Replay(incident_id, hit[1])
            record = _load(w.cur, incident_id)
            merged, changes, reason_clean = _validate_correction(
                record, target, values, reason, settings, store.now())
            if target == "facts":
                sets = {k: new for k, (old, new) in changes.items()}
            else:
                step = STEPS[target]
                sets = {}
                if "at" in changes and step.column:
                    sets[step.column] = changes["at"][1]
                for name, column in step.columns.items():
                    if name in changes:
                        sets[column] = changes[name][1]
            if sets:
                w.execute(f"UPDATE incidents SET {', '.join(f'{c} = ?' for c in sets)} "
                          "WHERE incident_id = ?", [*sets.values(), incident_id])
            supersedes = (record.steps.get(target) or {}).get("event_id")
            shown = "; ".join(       # stored text: English (LABELS), as the audit log
                f"{LABELS.get(k, k)}: {_show(old, tz)} → {_show(new, tz)}"
                for k, (old, new) in changes.items())
            detail = (f"Correction of {TARGET_TITLES[target].lower()}"
                      f"{f' (event #{supersedes})' if supersedes else ''}: {shown}. "
                      f"Reason: {reason_clean}")
            event_id = _append_event(
                w, incident_id, at=w.at, kind="correction", detail=detail, target=target,
                supersedes=supersedes,
                data={"target": target, "values": merged, "reason": reason_clean,
                      "changes": {k: [old, new] for k, (old, new) in changes.items()}})
            _save_request(w, token, incident_id, event_id, action)
            w.audit("incident.update", "incident", incident_id,
                    before={"correction_of": target, "supersedes": supersedes,
                            **{k: old for k, (old, new) in changes.items()}},
                    after={"correction_of": target, "event_id": event_id,
                           "reason": reason_clean,
                           **{k: new for k, (old, new) in changes.items()}})
    except _Replay as replay:
        status = store.scalar("SELECT status FROM incidents WHERE incident_id = ?",
                              [incident_id])
        return Recorded(incident_id, replay.event_id, status, created=False)
    return Recorded(incident_id, event_id, record.status, created=True)


def _show(value: Any, tz: ZoneInfo) -> str:
    if value is None or value == []:
        return "(none)"
    if isinstance(value, dt.datetime):
        return clk.format_time(value, tz)
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, decimal.Decimal):
        return clk.format_yuan(value)
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def _validate_correction(record: IncidentRecord, target: str, values: Mapping[str, Any],
                         reason: str | None, settings: Settings, now: dt.datetime):
    """(merged clean values, {field: (old, new)}, reason) or ``ValidationError``."""
    if target not in CORRECTABLE:
        raise ValidationError({"target": _("Cannot correct {target}; choose one of: "
                                           "{targets}.").format(
            target=repr(str(target)[:40]), targets=", ".join(CORRECTABLE))})
    if target not in correction_targets(record):
        raise ValidationError({"target": _("{target} is not recorded yet: record the step "
                                           "instead.").format(target=target_title(target))})
    current = current_values(record, target)
    unknown = [k for k in values if k not in current and k != "timezone"]
    if unknown:
        raise ValidationError({k: _("{target} has no field {field}.").format(
            target=target_title(target), field=repr(k)) for k in unknown})
    merged_raw = {**current, **values}
    tz = _tz_for(values, settings)
    errors: dict[str, str] = {}
    reason_form = _Form({"reason": reason}, tz, now)
    reason_clean = reason_form.text("reason", required=True,
                                    message=_("Say why the record is corrected."))
    errors.update(reason_form.errors)
    try:
        if target == "facts":
            merged = validate_facts(merged_raw, settings, now,
                                    reported_by=record.row.get("reported_by"))
        else:
            merged = _validate_step_fields(STEPS[target], merged_raw, record, settings, now)
    except ValidationError as exc:
        errors.update(exc.errors)
        merged = None
    if merged is not None:
        changes = {k: (current.get(k), v) for k, v in merged.items()
                   if not _same(current.get(k), v)}
        if target == "facts":
            times = record.timeline_times()
            focus = {}
            for name in ("occurred_at", "detected_at"):
                if name in changes:
                    times[name] = merged[name]
                    focus[name] = name
            errors.update({k: v for k, v in _order_errors(times, focus, tz).items()
                           if k not in errors})
        if not changes and not errors:
            errors["changes"] = _("Nothing changed: change at least one value to correct it.")
    if errors:
        raise ValidationError(errors)
    return merged, changes, reason_clean


# -- the log form's preview -------------------------------------------------------------
@dataclass(frozen=True)
class Preview:
    suggested_grade: str
    grade_reason: str                 # why: every fact that drove it, with its source
    grade: str
    below_suggestion: bool
    clocks: list
    reasons: tuple = ()               # clocks.GradeReason per fact above general


def _loose_flag(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in ("true", "yes", "1") else False if text in ("false", "no", "0") \
        else None


def preview(values: Mapping[str, Any], settings: Settings, now: dt.datetime) -> Preview:
    """What the log form shows before saving: the suggested grade from every grading fact,
    why, and the clocks that will run, with their deadlines (best effort on unfinished
    input: never raises; a value that cannot be read counts as not given)."""
    try:
        tz = _tz_for(values, settings)
    except ValidationError:
        tz = ZoneInfo(settings.timezone)
    affected = parse_count(values.get("affected_subjects")) if values.get(
        "affected_subjects") not in (None, "") else None
    affected = affected if affected is not None and affected >= 0 else 0
    loss = parse_amount(values.get("economic_loss_cny")) if values.get(
        "economic_loss_cny") not in (None, "") else None
    loss = loss if loss is not None and loss >= 0 else None
    facts = {"affected_subjects": affected, "economic_loss_cny": loss,
             **{k: _loose_flag(values.get(k)) for k in FLAG_FIELDS}}
    suggestion = clk.implied_grade(facts, settings)
    suggested = suggestion.grade
    grade = values.get("grade") if values.get("grade") in GRADES else suggested
    detected = parse_time(values.get("detected_at"), tz) if values.get("detected_at") else None
    draft = {**facts, "detected_at": detected, "grade": grade}
    return Preview(suggested, suggestion.text, grade,
                   clk.grade_rank(grade) < clk.grade_rank(suggested),
                   clk.incident_clocks(draft, settings, now, tz), suggestion.reasons)


# -- reads for the pages ------------------------------------------------------------------
def _as_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _as_moment(value: Any, tz: ZoneInfo) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=tz)


def page_now(store) -> str:
    """``store.now()`` to the minute, as ISO text: what pages pass as ``now`` so that the
    cached list is recomputed each minute (countdowns move) and on every write."""
    return store.now().replace(second=0, microsecond=0).isoformat()


# The five clocks of clocks.py, per incident, in SQL: the list sorts and filters a whole
# register (100,000 incidents in the large demo) on them without loading it into Python.
# tests/test_incidents.py checks it against clocks.incident_clocks row by row.
def _state_sql(deadline: str, done: str) -> str:
    return (f"CASE WHEN {deadline} IS NULL THEN 'not_applicable' "
            f"WHEN {done} IS NOT NULL THEN CASE WHEN {done} <= {deadline} THEN 'met' "
            f"ELSE 'late' END WHEN $now > {deadline} THEN 'overdue' ELSE 'due' END")


def _pending_sql(state: str, deadline: str, states: Sequence[str]) -> str:
    return f"CASE WHEN {state} IN ({', '.join(repr(x) for x in states)}) THEN {deadline} END"


_KEYS = clk.CLOCK_KEYS
_REPORTABLE = ", ".join(repr(g) for g in clk.REPORTABLE_GRADES)


def _done_sql(*columns: str) -> str:
    """The earliest of ``columns`` at or before ``$now`` (a later time is not done yet)."""
    cases = [f"CASE WHEN i.{c} <= $now THEN i.{c} END" for c in columns]
    return cases[0] if len(cases) == 1 else f"least({', '.join(cases)})"


def _rank_sql(value: str, prefix: str) -> str:
    return (f"CASE WHEN {value} >= ${prefix}particularly_major THEN 3 "
            f"WHEN {value} >= ${prefix}major THEN 2 "
            f"WHEN {value} >= ${prefix}relatively_major THEN 1 ELSE 0 END")


_CII = "($cii_operator OR coalesce(i.cii_involved, false))"
# An exemption is recorded when its text has a character other than spaces (clocks.py,
# and the rule SQL of INC-USER-NOTICE).
_EXEMPT = "coalesce(trim(i.user_notice_exemption), '') <> ''"
_LIST_CTE = f"""
WITH base AS (
    SELECT i.incident_id, i.title, i.incident_type, i.grade, i.status, i.detected_at,
           i.affected_subjects, i.emergency_plan_activated_at, i.regulator_reported_at,
           i.pi_authority_notified_at, i.police_reported_at, i.suspected_crime,
           i.cii_involved, i.important_data_involved, i.economic_loss_cny,
           i.users_notified_at, i.notice_contents, i.resolved_at, i.summary_filed_at,
           e.last_event_at,
           i.affected_subjects > 0 AND {_EXEMPT} AS user_notice_exempt,
           {_done_sql("regulator_reported_at")} AS regulator_done,
           {_done_sql("pi_authority_notified_at", "regulator_reported_at")} AS pi_authority_done,
           {_done_sql("police_reported_at")} AS police_done,
           {_done_sql("users_notified_at")} AS user_notice_done,
           {_done_sql("summary_filed_at")} AS summary_done,
           CASE WHEN i.grade IN ({_REPORTABLE})
                THEN i.detected_at + to_hours(CAST(CASE WHEN {_CII}
                     THEN $regulator_hours_cii ELSE $regulator_hours END AS BIGINT)) END
               AS regulator_deadline,
           CASE WHEN i.affected_subjects > 0
                THEN i.detected_at + to_hours(CAST($pi_authority_notice_hours AS BIGINT)) END
               AS pi_authority_deadline,
           CASE WHEN i.suspected_crime
                THEN i.detected_at + to_hours(CAST(CASE WHEN {_CII}
                     THEN $police_hours_cii ELSE $police_hours END AS BIGINT)) END
               AS police_deadline,
           CASE WHEN i.affected_subjects > 0 AND NOT {_EXEMPT}
                THEN i.detected_at + to_hours(CAST($user_notice_hours AS BIGINT)) END
               AS user_notice_deadline,
           i.resolved_at + to_days(CAST($summary_report_days AS INTEGER)) AS summary_deadline
    FROM incidents i
    LEFT JOIN (SELECT incident_id, max("at") AS last_event_at FROM incident_events
               GROUP BY incident_id) e ON e.incident_id = i.incident_id
    WHERE {{where}}
), states AS (
    SELECT *,
           {", ".join(_state_sql(f"{k}_deadline", f"{k}_done") + f" AS {k}_state"
                      for k in _KEYS if k != "user_notice")},
           CASE WHEN user_notice_exempt THEN 'exempt'
                ELSE {_state_sql("user_notice_deadline", "user_notice_done")} END
               AS user_notice_state
    FROM base
), listed AS (
    SELECT *,
           least({", ".join(_pending_sql(f"{k}_state", f"{k}_deadline", ("due", "overdue"))
                             for k in _KEYS)}) AS next_deadline,
           least({", ".join(_pending_sql(f"{k}_state", f"{k}_deadline", ("due",))
                             for k in _KEYS)}) AS next_due,
           {" OR ".join(f"{k}_state = 'overdue'" for k in _KEYS)} AS overdue,
           list_filter([
               CASE WHEN emergency_plan_activated_at IS NULL THEN 'INC-EMERGENCY-PLAN' END,
               CASE WHEN list_position({list(GRADES)}, grade) - 1 < greatest(
                    {_rank_sql("coalesce(affected_subjects, 0)", "grade_subjects_")},
                    {_rank_sql("economic_loss_cny", "grade_loss_")},
                    CASE WHEN important_data_involved THEN $important_data_floor_rank
                         ELSE 0 END) THEN 'INC-GRADE' END,
               CASE WHEN users_notified_at IS NOT NULL AND len(list_filter({list(NOTICE_CONTENTS)},
                    lambda c: NOT list_contains(coalesce(notice_contents, []::VARCHAR[]), c)))
                    > 0 THEN 'INC-NOTICE-CONTENT' END,
               CASE WHEN resolved_at IS NULL AND status NOT IN ('resolved', 'closed')
                    AND $now > greatest(detected_at, last_event_at)
                               + to_days(CAST($incident_stale_days AS INTEGER))
                    THEN 'INC-STALE' END
           ], lambda f: f IS NOT NULL) AS flags
    FROM states
)
"""
_CLOCK_COLUMNS = [f"{k}_{c}" for k in _KEYS for c in ("state", "deadline")]
LIST_COLUMNS = [
    "incident_id", "title", "incident_type", "grade", "status", "detected_at",
    "affected_subjects", "regulator_reported_at", "pi_authority_notified_at",
    "police_reported_at", "users_notified_at", "resolved_at", "summary_filed_at",
    "suspected_crime", "cii_involved", *_CLOCK_COLUMNS, "next_deadline", "next_due",
    "overdue", "flags",
]


def _list_query(store, grades, statuses, types, detected_from, detected_to, now,
                overdue_only) -> tuple[str, dict[str, Any]]:
    settings = store.settings
    tz = ZoneInfo(settings.timezone)
    params: dict[str, Any] = {
        "now": _as_moment(now, tz) if now is not None else store.now(),
        "cii_operator": bool(settings.cii_operator),
        "regulator_hours": settings.regulator_report_hours,
        "regulator_hours_cii": settings.regulator_report_hours_cii,
        "pi_authority_notice_hours": settings.pi_authority_notice_hours,
        "police_hours": settings.police_report_hours,
        "police_hours_cii": settings.police_report_hours_cii,
        "user_notice_hours": settings.user_notice_hours,
        "summary_report_days": settings.summary_report_days,
        "incident_stale_days": settings.incident_stale_days,
        **{f"grade_subjects_{g}": getattr(settings, f"grade_{g}_subjects")
           for g in clk.REPORTABLE_GRADES},
        **{f"grade_loss_{g}": getattr(settings, f"grade_{g}_loss_cny")
           for g in clk.REPORTABLE_GRADES},
        "important_data_floor_rank": max(clk.grade_rank(settings.grade_important_data_floor), 0),
    }
    where = ["TRUE"]
    for column, chosen in (("grade", grades), ("status", statuses),
                           ("incident_type", types)):
        if chosen:
            where.append(f"list_contains(${column}s::VARCHAR[], i.{column})")
            params[f"{column}s"] = list(chosen)
    start, end = _as_date(detected_from), _as_date(detected_to)
    if start:
        where.append("i.detected_at >= $start")
        params["start"] = dt.datetime.combine(start, dt.time(0), tz)
    if end:
        where.append("i.detected_at < $end")
        params["end"] = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tz)
    sql = _LIST_CTE.format(where=" AND ".join(where))
    sql += " SELECT * FROM listed" + (" WHERE overdue" if overdue_only else "")
    return sql, params


def list_incidents(store, *, grades: Sequence[str] = (), statuses: Sequence[str] = (),
                   types: Sequence[str] = (), detected_from: Any = None,
                   detected_to: Any = None, now: Any = None, overdue_only: bool = False,
                   limit: int | None = None, offset: int = 0) -> pd.DataFrame:
    """Incidents matching the filters (empty = all; dates are detection dates in the display
    zone, both ends included) with their clocks at ``now``: per clock its state and
    deadline, the nearest pending deadline (``next_deadline``: due or overdue), the nearest
    one still ahead (``next_due``), ``overdue``, and the other INC-* rules it breaks
    (``flags``). Sorted: not closed first, by nearest pending deadline, then newest."""
    sql, params = _list_query(store, grades, statuses, types, detected_from, detected_to, now,
                              overdue_only)
    sql = (f"SELECT {', '.join(LIST_COLUMNS)} FROM ({sql}) "
           "ORDER BY status = 'closed', next_deadline NULLS LAST, detected_at DESC, incident_id")
    if limit is not None:
        sql += " LIMIT $limit OFFSET $offset"
        params.update(limit=int(limit), offset=int(offset))
    return store.df(sql, params)


def list_summary(store, *, grades: Sequence[str] = (), statuses: Sequence[str] = (),
                 types: Sequence[str] = (), detected_from: Any = None, detected_to: Any = None,
                 now: Any = None, overdue_only: bool = False,
                 due_hours: int = 24) -> dict[str, int]:
    """Counts over the same selection: shown, not closed, overdue, due within ``due_hours``."""
    sql, params = _list_query(store, grades, statuses, types, detected_from, detected_to, now,
                              overdue_only)
    params["due_hours"] = int(due_hours)
    row = store.rows(
        f"SELECT count(*), count_if(status <> 'closed'), count_if(overdue), "
        f"count_if(status <> 'closed' AND next_due <= $now + to_hours(CAST($due_hours AS BIGINT))) "
        f"FROM ({sql})", params)[0]
    return dict(zip(("shown", "not_closed", "overdue", "due_soon"), (int(v or 0) for v in row)))


def list_display(df: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """The list's text columns for the rows shown: each clock's state with its countdown,
    the next deadline's clock and countdown. Pure: a page of rows at a time."""
    out = df.copy()
    for key in _KEYS:
        out[f"{key}_clock"] = [
            clk.state_text(state, None if pd.isna(deadline) else deadline, now)
            for state, deadline in zip(df[f"{key}_state"], df[f"{key}_deadline"])]
    which, left = [], []
    for rec in df.to_dict("records"):
        nxt = rec["next_deadline"]
        if nxt is None or pd.isna(nxt):
            which.append("")
            left.append("")
            continue
        key = next(k for k in _KEYS if rec[f"{k}_state"] in (clk.DUE, clk.OVERDUE)
                   and rec[f"{k}_deadline"] == nxt)
        which.append(clk.title(key))
        left.append(clk.state_text(rec[f"{key}_state"], nxt, now, label=False))
    out["next_clock"] = which
    out["countdown"] = left
    out["flags"] = [", ".join(f) if f is not None and len(f) else "" for f in df["flags"]]
    # (rule ids such as INC-GRADE are names, the same in both languages)
    return out


def incident_timeline(store, incident_id: str) -> pd.DataFrame:
    """The incident's events in recording order (``event_id``), with when each was
    recorded, by whom, and which later correction supersedes it."""
    return store.df(
        'SELECT e.event_id, e."at", m.recorded_at, e.actor, m.role, e.kind, e.detail, '
        "m.supersedes, s.superseded_by "
        "FROM incident_events e "
        "LEFT JOIN incident_event_meta m ON m.event_id = e.event_id "
        "LEFT JOIN (SELECT supersedes, min(event_id) AS superseded_by FROM incident_event_meta "
        "           WHERE supersedes IS NOT NULL GROUP BY supersedes) s "
        "       ON s.supersedes = e.event_id "
        "WHERE e.incident_id = ? ORDER BY e.event_id", [incident_id])


def incident_choices(store, *, limit: int = 500) -> list[tuple[str, str]]:
    """(incident_id, title) for a picker: incidents not closed first, then the most
    recently detected, at most ``limit`` (the list page reaches every incident)."""
    return [tuple(r) for r in store.rows(
        "SELECT incident_id, title FROM incidents "
        "ORDER BY status = 'closed', detected_at DESC, incident_id LIMIT ?", [int(limit)])]

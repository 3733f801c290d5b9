"""The legal clocks of a security incident, and the grade its size implies.

One definition, shared by the log form (before saving), the incident page, the
incident list and the tests; the compliance engine's INC-* rule SQL follows the
same semantics (``docs/INCIDENTS.md``):

- an incident exists from ``detected_at`` (awareness): every clock starts there;
- *regulator report*: ``detected_at + settings.regulator_hours()`` (4 h, 1 h for a CII
  operator), when the grade is relatively major or above;
- *user notice*: ``detected_at + user_notice_hours`` (72 h), when
  ``affected_subjects > 0``;
- *summary report*: ``resolved_at + summary_report_days`` (30 d), once resolved.

A clock is **met** if done at or before its deadline, **late** if done after it,
**overdue** if not done and now is past the deadline, **due** if not done and the
deadline is ahead, **not applicable** otherwise. Nothing here reads the clock:
callers pass ``now`` (``store.now()``), so a frozen clock gives frozen answers.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from .registers import GRADES, NOTICE_CONTENTS
from .settings import Settings

MET, LATE, OVERDUE, DUE, NOT_APPLICABLE = "met", "late", "overdue", "due", "not_applicable"
STATES = (OVERDUE, DUE, LATE, MET, NOT_APPLICABLE)
STATE_LABELS = {
    MET: "Met", LATE: "Late", OVERDUE: "Overdue", DUE: "Due", NOT_APPLICABLE: "Not applicable",
}

GRADE_LABELS = {
    "general": "General (IV)",
    "relatively_major": "Relatively major (III)",
    "major": "Major (II)",
    "particularly_major": "Particularly major (I)",
}
REPORTABLE_GRADES = ("relatively_major", "major", "particularly_major")

# Where each clock comes from, with the confidence marks of shared/reference/regulations.md
# (V read in the law's text, V2 secondary source, P a project default).
SOURCES = {
    "regulator": ("CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 4", "V"),
    "user_notice": ("PIPL Art. 57 ('immediately') and NDSMR Art. 11 (channels); "
                    "the hour count is a project setting", "V / P"),
    "summary": ("CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 8",
                "V2"),
}
RULE_IDS = {
    "regulator": "INC-REGULATOR-DEADLINE",
    "user_notice": "INC-USER-NOTICE",
    "summary": "INC-SUMMARY",
}
TITLES = {
    "regulator": "Report to the regulator",
    "user_notice": "Notify affected users",
    "summary": "File the summary report",
}
DONE_COLUMNS = {
    "regulator": "regulator_reported_at",
    "user_notice": "users_notified_at",
    "summary": "summary_filed_at",
}
CLOCK_KEYS = ("regulator", "user_notice", "summary")


def grade_words(grade: str | None) -> str:
    """``relatively major (III)`` for use inside a sentence."""
    if grade not in GRADE_LABELS:
        return str(grade)
    words, numeral = GRADE_LABELS[grade].rsplit(" ", 1)
    return f"{words.lower()} {numeral}"


def grade_rank(grade: str | None) -> int:
    """0 for general .. 3 for particularly major; -1 for an unknown grade."""
    return GRADES.index(grade) if grade in GRADES else -1


def suggest_grade(affected_subjects: int | None, settings: Settings) -> str:
    """The grade the CAC Measures' Annex implies for a PI leak of this size (INC-GRADE)."""
    n = affected_subjects or 0
    if n >= settings.grade_particularly_major_subjects:
        return "particularly_major"
    if n >= settings.grade_major_subjects:
        return "major"
    if n >= settings.grade_relatively_major_subjects:
        return "relatively_major"
    return "general"


def grade_reason(affected_subjects: int | None, settings: Settings) -> str:
    """One sentence: why this grade is suggested, with the threshold and its source."""
    grade = suggest_grade(affected_subjects, settings)
    n = affected_subjects or 0
    thresholds = {
        "particularly_major": settings.grade_particularly_major_subjects,
        "major": settings.grade_major_subjects,
        "relatively_major": settings.grade_relatively_major_subjects,
    }
    source = "CAC Measures (2025) Annex, PI leaks [V2]"
    if grade == "general":
        return (f"{n:,} affected is below {settings.grade_relatively_major_subjects:,}, the "
                f"threshold for relatively major ({source}).")
    return (f"{n:,} affected is at least {thresholds[grade]:,}, the threshold for "
            f"{grade_words(grade)} ({source}).")


def clock_help(settings: Settings) -> dict[str, str]:
    """One or two sentences per clock: what it asks, from when, and its legal source."""
    hours = settings.regulator_hours()
    cii = ("the Platform is set as a CII operator" if settings.cii_operator
           else f"{settings.regulator_report_hours_cii} h for a CII operator")
    return {
        "regulator": (
            f"Report an incident graded relatively major or above to the provincial CAC within "
            f"{hours} h of detection ({cii}); a suspected crime also goes to the police. "
            f"Source: {SOURCES['regulator'][0]} [{SOURCES['regulator'][1]}]."),
        "user_notice": (
            f"Notify the affected people, by email, notification, announcement, SMS or phone, "
            f"within {settings.user_notice_hours} h of detection, with the six contents of "
            f"PIPL Art. 57 (categories, cause, possible harm, remedial measures, what they can "
            f"do, contact). PIPL Art. 57 [V] says 'immediately' and NDSMR Art. 11 [V] names the "
            f"channels; {settings.user_notice_hours} h is the project's setting [P]."),
        "summary": (
            f"File the post-incident summary report within {settings.summary_report_days} days "
            f"after handling ends (the resolved time). Source: {SOURCES['summary'][0]} "
            f"[{SOURCES['summary'][1]}]."),
    }


@dataclass(frozen=True)
class Clock:
    key: str                       # regulator | user_notice | summary
    rule_id: str                   # the compliance rule that fires when it is late/overdue
    title: str
    state: str                     # met | late | overdue | due | not_applicable
    deadline: dt.datetime | None
    done_at: dt.datetime | None
    remaining: dt.timedelta | None  # deadline - now, while not done (negative if overdue)
    why: str                       # one line: why this state
    source: str
    confidence: str

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def pending(self) -> bool:
        """Still to do, with a deadline: due or overdue."""
        return self.state in (DUE, OVERDUE)


def _get(row: Mapping[str, Any], name: str) -> Any:
    """A value of a register row given as a dict or a DataFrame record: pandas' NaT and
    NA become None, Timestamps datetimes, numpy scalars Python ones, arrays lists."""
    value = row.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "ndim") and getattr(value, "ndim", 0) > 0:   # numpy array (VARCHAR[])
        return list(value.tolist())
    try:
        import pandas as pd
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "item"):                                    # numpy scalar
        return value.item()
    return value


def _state(deadline: dt.datetime, done_at: dt.datetime | None, now: dt.datetime) -> str:
    if done_at is not None:
        return MET if done_at <= deadline else LATE
    return OVERDUE if now > deadline else DUE


def _clock(key: str, state: str, deadline, done_at, now, why: str) -> Clock:
    remaining = deadline - now if (deadline is not None and state in (DUE, OVERDUE)) else None
    source, confidence = SOURCES[key]
    return Clock(key, RULE_IDS[key], TITLES[key], state, deadline, done_at, remaining, why,
                 source, confidence)


def incident_clocks(row: Mapping[str, Any], settings: Settings, now: dt.datetime,
                    tz: ZoneInfo | None = None) -> list[Clock]:
    """The three clocks of one incident (a register row as a mapping) at ``now``."""
    tz = tz or ZoneInfo(settings.timezone)
    detected = _get(row, "detected_at")
    grade = _get(row, "grade")
    affected = _get(row, "affected_subjects") or 0
    resolved = _get(row, "resolved_at")
    clocks = []

    done = _get(row, "regulator_reported_at")
    if detected is None:
        clocks.append(_clock("regulator", NOT_APPLICABLE, None, done, now, "No detection time."))
    elif grade in REPORTABLE_GRADES:
        deadline = detected + dt.timedelta(hours=settings.regulator_hours())
        state = _state(deadline, done, now)
        clocks.append(_clock("regulator", state, deadline, done, now,
                             f"Graded {grade_words(grade)}: report within "
                             f"{settings.regulator_hours()} h of detection."))
    else:
        clocks.append(_clock("regulator", NOT_APPLICABLE, None, done, now,
                             "Graded general: no report is required (relatively major and "
                             "above are reported)."))

    done = _get(row, "users_notified_at")
    if detected is None:
        clocks.append(_clock("user_notice", NOT_APPLICABLE, None, done, now, "No detection time."))
    elif affected > 0:
        deadline = detected + dt.timedelta(hours=settings.user_notice_hours)
        clocks.append(_clock("user_notice", _state(deadline, done, now), deadline, done, now,
                             f"{affected:,} people affected: notify within "
                             f"{settings.user_notice_hours} h of detection."))
    else:
        clocks.append(_clock("user_notice", NOT_APPLICABLE, None, done, now,
                             "No affected people recorded."))

    done = _get(row, "summary_filed_at")
    if resolved is not None:
        deadline = resolved + dt.timedelta(days=settings.summary_report_days)
        clocks.append(_clock("summary", _state(deadline, done, now), deadline, done, now,
                             f"Handling ended {format_time(resolved, tz)}: file within "
                             f"{settings.summary_report_days} days."))
    else:
        clocks.append(_clock("summary", NOT_APPLICABLE, None, done, now,
                             f"Starts when the incident is resolved: "
                             f"{settings.summary_report_days} days from then."))
    return clocks


def next_deadline(clocks: list[Clock]) -> Clock | None:
    """The pending clock (due or overdue) with the nearest deadline."""
    pending = [c for c in clocks if c.pending]
    return min(pending, key=lambda c: c.deadline) if pending else None


@dataclass(frozen=True)
class Flag:
    """A rule of the contract the incident breaks now, other than the three clocks."""
    rule_id: str
    message: str


def incident_flags(row: Mapping[str, Any], settings: Settings, now: dt.datetime,
                   last_event_at: dt.datetime | None) -> list[Flag]:
    """INC-EMERGENCY-PLAN, INC-GRADE, INC-NOTICE-CONTENT and INC-STALE for one incident."""
    flags = []
    if _get(row, "emergency_plan_activated_at") is None:
        flags.append(Flag("INC-EMERGENCY-PLAN",
                          "The emergency plan is not recorded as activated (policy 7.2; "
                          "PIPL Art. 51(5) [V])."))
    affected = _get(row, "affected_subjects") or 0
    implied = suggest_grade(affected, settings)
    if grade_rank(_get(row, "grade")) < grade_rank(implied):
        flags.append(Flag("INC-GRADE",
                          f"Graded {grade_words(_get(row, 'grade'))}, "
                          f"below the {grade_words(implied)} that "
                          f"{affected:,} affected implies. {grade_reason(affected, settings)}"))
    if _get(row, "users_notified_at") is not None:
        contents = _get(row, "notice_contents") or []
        missing = [c for c in NOTICE_CONTENTS if c not in list(contents)]
        if missing:
            flags.append(Flag("INC-NOTICE-CONTENT",
                              "The users' notice lacks PIPL Art. 57 [V] contents: "
                              + ", ".join(c.replace("_", " ") for c in missing) + "."))
    if _get(row, "resolved_at") is None and _get(row, "status") not in ("resolved", "closed"):
        detected = _get(row, "detected_at")
        last = max((t for t in (detected, last_event_at) if t is not None), default=None)
        if last is not None and now > last + dt.timedelta(days=settings.incident_stale_days):
            flags.append(Flag("INC-STALE",
                              f"Unresolved with no timeline event for "
                              f"{(now - last).days} days (limit "
                              f"{settings.incident_stale_days})."))
    return flags


# -- formatting ------------------------------------------------------------------
def format_time(value: dt.datetime | None, tz: ZoneInfo | str) -> str:
    """``2026-11-24 14:00 +08:00`` in the display zone; an em dash for none."""
    if value is None:
        return "—"
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = value.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def format_duration(delta: dt.timedelta) -> str:
    """``2 d 4 h``, ``3 h 20 min``, ``35 min``: the largest two units, rounded down."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min" if mins else "under 1 min"


def state_text(state: str, deadline: dt.datetime | None, now: dt.datetime, *,
               label: bool = True) -> str:
    """``Due · 2 h left`` / ``Overdue · overdue by 1 d 3 h`` / ``Met``: a clock in a list."""
    if hasattr(deadline, "to_pydatetime"):
        deadline = deadline.to_pydatetime()
    if state == DUE and deadline is not None:
        text = f"{format_duration(deadline - now)} left"
    elif state == OVERDUE and deadline is not None:
        text = f"overdue by {format_duration(deadline - now)}"
    else:
        return STATE_LABELS[state] if label else ""
    return f"{STATE_LABELS[state]} · {text}" if label else text


def countdown(clock: Clock) -> str:
    """What the page shows under a clock's state."""
    if clock.state == DUE:
        return f"{format_duration(clock.remaining)} left"
    if clock.state == OVERDUE:
        return f"overdue by {format_duration(clock.remaining)}"
    if clock.state == MET:
        return f"done {format_duration(clock.deadline - clock.done_at)} before the deadline"
    if clock.state == LATE:
        return f"done {format_duration(clock.done_at - clock.deadline)} after the deadline"
    return ""

"""The legal clocks of a security incident, and the grade its facts imply.

One definition, shared by the log form (before saving), the incident page, the
incident list and the tests; the compliance engine's INC-* rule SQL follows the
same semantics (rules version 2, ``docs/INCIDENTS.md``):

- an incident exists from ``detected_at`` (awareness): every clock starts there;
- *regulator report* (INC-REGULATOR-DEADLINE): on the **recorded** grade, relatively
  major or above; ``detected_at + settings.regulator_hours(cii_involved)`` (4 h; 1 h
  when the Platform is a CII operator or the incident involves CII);
- *PI authority notice* (INC-PI-AUTHORITY, PIPL Art. 57): every incident with
  ``affected_subjects > 0``, whatever its grade; ``detected_at +
  pi_authority_notice_hours`` (24 h); done by ``pi_authority_notified_at`` or
  ``regulator_reported_at``, the earlier of those at or before now;
- *police report* (INC-POLICE): when ``suspected_crime`` is true, any grade;
  ``detected_at + settings.police_hours(cii_involved)`` (4 h, 1 h CII); done at
  ``police_reported_at``;
- *user notice* (INC-USER-NOTICE): when ``affected_subjects > 0`` and no
  ``user_notice_exemption`` is recorded; ``detected_at + user_notice_hours`` (24 h).
  With an exemption (PIPL Art. 57 para. 2) the clock is **exempt**, not a finding;
- *summary report* (INC-SUMMARY): ``resolved_at + summary_report_days`` (30 d).

A clock is **met** if done at or before its deadline, **late** if done after it,
**overdue** if not done and now is past the deadline, **due** if not done and the
deadline is ahead, **exempt** (user notice only) or **not applicable** otherwise. A
time after ``now`` does not count as done (as in the engine, where it is after the
check moment). Nothing here reads the clock: callers pass ``now`` (``store.now()``),
so a frozen clock gives frozen answers.

The grade suggestion (INC-GRADE, version 2) is the highest grade any fact implies:
the people affected, the direct economic loss, and important or core data
(``implied_grade``, which also says which facts drove it).
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from .i18n import N_, SHANGHAI, _, fmt_datetime, is_chinese, label, label_list
from .registers import GRADES, NOTICE_CONTENTS
from .settings import SPEC_BY_NAME, Settings

MET, LATE, OVERDUE, DUE, EXEMPT, NOT_APPLICABLE = (
    "met", "late", "overdue", "due", "exempt", "not_applicable")
STATES = (OVERDUE, DUE, LATE, MET, EXEMPT, NOT_APPLICABLE)
STATE_LABELS = {     # English; shown with ``state_label`` (translated)
    MET: N_("Met"), LATE: N_("Late"), OVERDUE: N_("Overdue"), DUE: N_("Due"),
    EXEMPT: N_("Exempt (PIPL Art. 57 ¶2)"), NOT_APPLICABLE: N_("Not applicable"),
}

# English words with the national plan's numeral; in Chinese a grade is shown as the law
# names it (特别重大 / 重大 / 较大 / 一般: ``i18n.label("grade", code)``): ``grade_label``.
GRADE_LABELS = {
    "general": "General (IV)",
    "relatively_major": "Relatively major (III)",
    "major": "Major (II)",
    "particularly_major": "Particularly major (I)",
}
REPORTABLE_GRADES = ("relatively_major", "major", "particularly_major")

# Where each clock comes from, with the confidence marks of shared/reference/regulations.md
# (V read in the law's text, V2 secondary source, P a project default). The police and
# regulator clocks' sources depend on CII (``clock_source``).
SOURCES = {   # the text marked N_: translated where a clock is built (``clock_source``)
    "regulator": (N_("CAC Measures for National Cybersecurity Incident Reporting (2025) "
                     "Art. 4 [V]"), "V"),
    "pi_authority": (N_("PIPL Art. 57 [V]: notify the authority protecting personal "
                        "information 'immediately', whatever the incident's size; the hour "
                        "count is the project's reading [P]"), "V / P"),
    "police": (N_("CAC Measures (2025) and NDSMR Art. 11 [V2]: a suspected crime goes to the "
                  "police promptly ('及时'); the hour count is the project's default [P]"),
               "V2 / P"),
    "police_cii": (N_("CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 4 "
                      "[V]: an incident involving CII goes to the protection department and "
                      "the police within 1 hour at the latest"), "V"),
    "user_notice": (N_("PIPL Art. 57 [V] ('immediately') and NDSMR Art. 11 [V] (channels); "
                       "the hour count is the project's reading [P]"), "V / P"),
    "user_notice_exempt": (N_("PIPL Art. 57 ¶2 [V]: no notice to individuals is needed where "
                              "the measures taken effectively avoid harm; the authority may "
                              "still order one"), "V"),
    "summary": (N_("CAC Measures for National Cybersecurity Incident Reporting (2025) "
                   "Art. 8 [V2]"), "V2"),
}
RULE_IDS = {
    "regulator": "INC-REGULATOR-DEADLINE",
    "pi_authority": "INC-PI-AUTHORITY",
    "police": "INC-POLICE",
    "user_notice": "INC-USER-NOTICE",
    "summary": "INC-SUMMARY",
}
TITLES = {   # English; ``title(key)`` translates
    "regulator": N_("Report to the regulator"),
    "pi_authority": N_("Notify the PI authority"),
    "police": N_("Report to the police"),
    "user_notice": N_("Notify affected users"),
    "summary": N_("File the summary report"),
}
DONE_COLUMNS = {
    "regulator": ("regulator_reported_at",),
    "pi_authority": ("pi_authority_notified_at", "regulator_reported_at"),
    "police": ("police_reported_at",),
    "user_notice": ("users_notified_at",),
    "summary": ("summary_filed_at",),
}
CLOCK_KEYS = ("regulator", "pi_authority", "police", "user_notice", "summary")

GRADE_FACTS = ("affected_subjects", "economic_loss_cny", "important_data_involved")
MEASURES = N_("2025 reporting measures, Annex")


def grade_label(grade: str | None) -> str:
    """A grade on its own: ``Relatively major (III)``; in Chinese ``较大`` (the law's word)."""
    if grade not in GRADE_LABELS:
        return "" if grade is None else str(grade)
    return label("grade", grade) if is_chinese() else GRADE_LABELS[grade]


def grade_words(grade: str | None) -> str:
    """``relatively major (III)`` for use inside a sentence (Chinese: ``较大``)."""
    if grade not in GRADE_LABELS:
        return str(grade)
    if is_chinese():
        return label("grade", grade)
    words, numeral = GRADE_LABELS[grade].rsplit(" ", 1)
    return f"{words.lower()} {numeral}"


def grade_name(grade: str | None) -> str:
    """``relatively major``: the grade's words alone (Chinese: ``较大``)."""
    if is_chinese() and grade in GRADE_LABELS:
        return label("grade", grade)
    return str(grade).replace("_", " ")


def semicolon() -> str:
    """The separator of a list of clauses: ``; `` / ``；``."""
    return "；" if is_chinese() else "; "


def full_stop() -> str:
    return "。" if is_chinese() else "."


def state_label(state: str) -> str:
    """A clock's state in words, in this run's language."""
    return _(STATE_LABELS[state])


def title(key: str) -> str:
    """A clock's title, in this run's language."""
    return _(TITLES[key])


def yes_no(value: bool | None) -> str:
    """``yes`` / ``no`` / ``not recorded`` for a fact, in this run's language."""
    return _("not recorded") if value is None else (_("yes") if value else _("no"))


def grade_rank(grade: str | None) -> int:
    """0 for general .. 3 for particularly major; -1 for an unknown grade."""
    return GRADES.index(grade) if grade in GRADES else -1


def format_yuan(value: Any) -> str:
    """``30,000,000`` or ``1,250,000.50``: an amount of yuan as the page shows it."""
    if value is None:
        return "—"
    amount = decimal.Decimal(str(value))
    if amount == amount.to_integral_value():
        return f"{int(amount):,}"
    return f"{amount:,.2f}"


# -- the grade the facts imply (INC-GRADE, version 2) ----------------------------------------
@dataclass(frozen=True)
class GradeReason:
    fact: str        # affected_subjects | economic_loss_cny | important_data_involved
    grade: str       # the lowest grade this fact alone implies
    text: str        # "30,000,000 yuan direct loss: at least major (2025 reporting ...)"


@dataclass(frozen=True)
class GradeSuggestion:
    grade: str                          # the highest grade any fact implies
    reasons: tuple[GradeReason, ...]    # every fact implying more than general, highest first
    text: str                           # one or two sentences for display

    @property
    def drivers(self) -> tuple[GradeReason, ...]:
        """The facts that imply the suggested grade itself."""
        return tuple(r for r in self.reasons if r.grade == self.grade)


def _by_threshold(value, thresholds: Mapping[str, Any]) -> str:
    for grade in ("particularly_major", "major", "relatively_major"):
        if value is not None and value >= thresholds[grade]:
            return grade
    return "general"


def implied_grade(facts: Mapping[str, Any], settings: Settings) -> GradeSuggestion:
    """The grade an incident's facts imply, and which facts drove it.

    ``facts``: ``affected_subjects`` (people whose PI is involved), ``economic_loss_cny``
    (direct loss in yuan), ``important_data_involved`` (bool); missing or None count as
    nothing. The highest of: the people affected against ``grade_*_subjects``, the loss
    against ``grade_*_loss_cny`` (both the CAC Measures (2025) Annex), and important or
    core data at least ``grade_important_data_floor`` (the project's floor).
    """
    subjects = _get(facts, "affected_subjects") or 0
    loss = _get(facts, "economic_loss_cny")
    loss = decimal.Decimal(str(loss)) if loss is not None else None
    important = bool(_get(facts, "important_data_involved"))
    reasons: list[GradeReason] = []
    people_at = {g: getattr(settings, f"grade_{g}_subjects") for g in REPORTABLE_GRADES}
    grade = _by_threshold(subjects, people_at)
    if grade != "general":
        conf = SPEC_BY_NAME[f"grade_{grade}_subjects"].confidence
        reasons.append(GradeReason(
            "affected_subjects", grade,
            _("{subjects} people affected: at least {grade} ({measures}, "
              "personal-information leaks: from {threshold} people) [{conf}]").format(
                subjects=f"{subjects:,}", grade=grade_name(grade), measures=_(MEASURES),
                threshold=f"{people_at[grade]:,}", conf=conf)))
    loss_at = {g: getattr(settings, f"grade_{g}_loss_cny") for g in REPORTABLE_GRADES}
    grade = _by_threshold(loss, loss_at)
    if grade != "general":
        conf = SPEC_BY_NAME[f"grade_{grade}_loss_cny"].confidence
        reasons.append(GradeReason(
            "economic_loss_cny", grade,
            _("{loss} yuan direct loss: at least {grade} ({measures}: "
              "from {threshold} yuan) [{conf}]").format(
                loss=format_yuan(loss), grade=grade_name(grade), measures=_(MEASURES),
                threshold=f"{loss_at[grade]:,}", conf=conf)))
    floor = settings.grade_important_data_floor
    if important and grade_rank(floor) > 0:
        reasons.append(GradeReason(
            "important_data_involved", floor,
            _("Important or core data involved: at least {grade} ({measures}: "
              "graded by the threat; this floor is the project's conservative reading) "
              "[P]").format(grade=grade_name(floor), measures=_(MEASURES))))
    reasons.sort(key=lambda r: -grade_rank(r.grade))
    suggested = reasons[0].grade if reasons else "general"
    if reasons:
        text = semicolon().join(r.text for r in reasons) + full_stop()
    else:
        loss_words = (_("{loss} yuan direct loss").format(loss=format_yuan(loss))
                      if loss is not None else _("no direct loss recorded"))
        important_words = (_("important or core data involved, but the project's floor for "
                             "it is general") if important
                           else _("no important or core data"))
        text = _("No fact reaches a threshold: {subjects} people affected (relatively major "
                 "from {people}), {loss_words} (relatively major from {loss} yuan), "
                 "{important_words} ({measures}).").format(
            subjects=f"{subjects:,}", people=f"{people_at['relatively_major']:,}",
            loss_words=loss_words, loss=f"{loss_at['relatively_major']:,}",
            important_words=important_words, measures=_(MEASURES))
    return GradeSuggestion(suggested, tuple(reasons), text)


def suggest_grade(affected_subjects: int | None, settings: Settings, *,
                  economic_loss_cny: Any = None,
                  important_data_involved: bool | None = None) -> str:
    """The grade the facts imply (``implied_grade``'s grade)."""
    return implied_grade({"affected_subjects": affected_subjects,
                          "economic_loss_cny": economic_loss_cny,
                          "important_data_involved": important_data_involved}, settings).grade


def grade_reason(affected_subjects: int | None, settings: Settings, *,
                 economic_loss_cny: Any = None,
                 important_data_involved: bool | None = None) -> str:
    """Why this grade is suggested: the facts, thresholds and sources (``implied_grade``)."""
    return implied_grade({"affected_subjects": affected_subjects,
                          "economic_loss_cny": economic_loss_cny,
                          "important_data_involved": important_data_involved}, settings).text


# -- the clocks -------------------------------------------------------------------------------
def clock_source(key: str, settings: Settings, *, cii_involved: bool | None = False,
                 exempt: bool = False) -> tuple[str, str]:
    """(source text with its confidence marks, confidence) of one clock of one incident,
    the text in this run's language."""
    cii = settings.cii_operator or bool(cii_involved)
    if key == "police" and cii:
        text, confidence = SOURCES["police_cii"]
    elif key == "user_notice" and exempt:
        text, confidence = SOURCES["user_notice_exempt"]
    else:
        text, confidence = SOURCES[key]
    return _(text), confidence


def clock_help(settings: Settings) -> dict[str, str]:
    """One or two sentences per clock: what it asks, from when, and its legal source."""
    hours = settings.regulator_hours()
    cii = (_("the Platform is set as a CII operator") if settings.cii_operator
           else _("{hours} h for a CII operator or an incident involving CII").format(
               hours=settings.regulator_report_hours_cii))
    return {
        "regulator": _(
            "Report an incident graded relatively major or above (the recorded grade) to the "
            "provincial CAC within {hours} h of detection ({cii}). "
            "Source: {source}.").format(hours=hours, cii=cii,
                                        source=_(SOURCES["regulator"][0])),
        "pi_authority": _(
            "Notify the authority protecting personal information within "
            "{hours} h of detecting any incident involving "
            "personal information, whatever its grade; a report to the regulator counts. "
            "PIPL Art. 57 [V] says 'immediately' and has no size threshold; "
            "{hours} h is the project's reading [P].").format(
                hours=settings.pi_authority_notice_hours),
        "police": _(
            "When a crime is suspected, report to the police within "
            "{hours} h of detection "
            "({cii_hours} h when the operator is CII or the incident "
            "involves CII: CAC Measures (2025) Art. 4 [V]), whatever the grade and "
            "independent of the regulator report. The law says 'promptly' (CAC Measures "
            "(2025); NDSMR Art. 11 [V2]); {default_hours} h is the project's "
            "default [P].").format(hours=settings.police_hours(),
                                   cii_hours=settings.police_report_hours_cii,
                                   default_hours=settings.police_report_hours),
        "user_notice": _(
            "Notify the affected people, by email, notification, announcement, SMS or phone, "
            "within {hours} h of detection, with the six contents of "
            "PIPL Art. 57 (categories, cause, possible harm, remedial measures, what they can "
            "do, contact). PIPL Art. 57 [V] says 'immediately' and NDSMR Art. 11 [V] names the "
            "channels; {hours} h is the project's reading [P]. Not needed "
            "where the measures taken effectively avoid harm (Art. 57 ¶2 [V]): record that "
            "exemption with its reason; the authority notice stays.").format(
                hours=settings.user_notice_hours),
        "summary": _(
            "File the post-incident summary report within {days} days "
            "after handling ends (the resolved time). Source: {source}.").format(
                days=settings.summary_report_days, source=_(SOURCES["summary"][0])),
    }


@dataclass(frozen=True)
class Clock:
    key: str                       # regulator | pi_authority | police | user_notice | summary
    rule_id: str                   # the compliance rule that fires when it is late/overdue
    title: str
    state: str                     # met | late | overdue | due | exempt | not_applicable
    deadline: dt.datetime | None
    done_at: dt.datetime | None
    remaining: dt.timedelta | None  # deadline - now, while not done (negative if overdue)
    why: str                       # one line: why this state (the app's own words)
    source: str                    # legal source, with confidence marks
    confidence: str
    detail: str | None = None      # user-supplied text (the exemption's reason): show plainly
    done_by: str | None = None     # the column that made it done (pi_authority: which notice)

    @property
    def label(self) -> str:
        """The state in words, in this run's language."""
        return _(STATE_LABELS[self.state])

    @property
    def pending(self) -> bool:
        """Still to do, with a deadline: due or overdue."""
        return self.state in (DUE, OVERDUE)


def _get(row: Mapping[str, Any], name: str) -> Any:
    """A value of a register row given as a dict or a DataFrame record: pandas' NaT and
    NA become None, Timestamps datetimes, numpy scalars Python ones, arrays lists."""
    value = row.get(name)
    if value is None or isinstance(value, (str, decimal.Decimal)):
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


def _done(row: Mapping[str, Any], key: str, now: dt.datetime) -> tuple[dt.datetime | None,
                                                                       str | None]:
    """The earliest of the clock's done columns at or before ``now``, and which it was."""
    found = [(t, c) for c in DONE_COLUMNS[key] if (t := _get(row, c)) is not None and t <= now]
    return min(found, key=lambda x: x[0]) if found else (None, None)


def _clock(key: str, state: str, deadline, done, now, why: str, source: tuple[str, str],
           detail: str | None = None) -> Clock:
    done_at, done_by = done
    remaining = deadline - now if (deadline is not None and state in (DUE, OVERDUE)) else None
    return Clock(key, RULE_IDS[key], _(TITLES[key]), state, deadline, done_at, remaining, why,
                 source[0], source[1], detail, done_by)


def is_exemption(value: Any) -> bool:
    """Whether ``user_notice_exemption`` holds a reason: text with a character other than
    spaces, as the rule SQL reads it (``trim(...) <> ''``; the list's SQL says the same).
    The service layer never stores blank text; an imported file might."""
    return isinstance(value, str) and value.strip(" ") != ""


def _hours_why(settings: Settings, cii_involved: bool, ordinary: int, cii_hours: int) -> str:
    if settings.cii_operator:
        return _(" ({cii_hours} h: the Platform is a CII operator)").format(cii_hours=cii_hours)
    if cii_involved:
        return _(" ({cii_hours} h: the incident involves CII; {ordinary} h otherwise)").format(
            cii_hours=cii_hours, ordinary=ordinary)
    return ""


def incident_clocks(row: Mapping[str, Any], settings: Settings, now: dt.datetime,
                    tz: ZoneInfo | None = None) -> list[Clock]:
    """The five clocks of one incident (a register row as a mapping) at ``now``, in the
    order of ``CLOCK_KEYS``."""
    tz = tz or ZoneInfo(settings.timezone)
    detected = _get(row, "detected_at")
    grade = _get(row, "grade")
    affected = _get(row, "affected_subjects") or 0
    resolved = _get(row, "resolved_at")
    cii = bool(_get(row, "cii_involved"))
    crime = _get(row, "suspected_crime")
    exemption = _get(row, "user_notice_exemption")
    exemption = exemption if is_exemption(exemption) else None
    clocks = []
    no_detection = _("No detection time.")

    # Report to the regulator: the recorded grade, relatively major or above.
    done = _done(row, "regulator", now)
    source = clock_source("regulator", settings, cii_involved=cii)
    hours = settings.regulator_hours(cii)
    if detected is None:
        clocks.append(_clock("regulator", NOT_APPLICABLE, None, done, now, no_detection, source))
    elif grade in REPORTABLE_GRADES:
        deadline = detected + dt.timedelta(hours=hours)
        clocks.append(_clock(
            "regulator", _state(deadline, done[0], now), deadline, done, now,
            _("Graded {grade}: report to the provincial CAC within {hours} h of "
              "detection{why}.").format(
                grade=grade_words(grade), hours=hours,
                why=_hours_why(settings, cii, settings.regulator_report_hours, hours)),
            source))
    else:
        graded = (_("Graded {grade}").format(grade=grade_words(grade))
                  if grade in GRADE_LABELS else _("No grade recorded"))
        why = _("{graded}: the CAC reporting measures' {hours} h report applies from "
                "relatively major (III) up, so it is not required for this grade.").format(
            graded=graded, hours=hours)
        if affected > 0:
            why += _(" PIPL Art. 57 still requires notifying the authority protecting personal "
                     "information, whatever the grade: see its clock.")
        if crime:
            why += _(" The suspected crime goes to the police: see that clock.")
        clocks.append(_clock("regulator", NOT_APPLICABLE, None, done, now, why, source))

    # Notify the authority protecting personal information (PIPL Art. 57): any grade.
    done = _done(row, "pi_authority", now)
    source = clock_source("pi_authority", settings)
    hours = settings.pi_authority_notice_hours
    if detected is None:
        clocks.append(_clock("pi_authority", NOT_APPLICABLE, None, done, now, no_detection,
                             source))
    elif affected > 0:
        deadline = detected + dt.timedelta(hours=hours)
        why = _("{affected} people's personal information involved: notify the authority "
                "protecting personal information within {hours} h of detection, whatever the "
                "grade").format(affected=f"{affected:,}", hours=hours)
        why += (_(" (done by the regulator report, which counts).")
                if done[1] == "regulator_reported_at" else _("; a regulator report counts."))
        if exemption:
            why += _(" The user-notice exemption does not remove this notice.")
        clocks.append(_clock("pi_authority", _state(deadline, done[0], now), deadline, done,
                             now, why, source))
    else:
        clocks.append(_clock("pi_authority", NOT_APPLICABLE, None, done, now,
                             _("No affected people recorded: PIPL Art. 57's notice applies to "
                               "incidents involving personal information."), source))

    # Report to the police: a suspected crime, any grade.
    done = _done(row, "police", now)
    source = clock_source("police", settings, cii_involved=cii)
    hours = settings.police_hours(cii)
    if detected is None:
        clocks.append(_clock("police", NOT_APPLICABLE, None, done, now, no_detection, source))
    elif crime:
        deadline = detected + dt.timedelta(hours=hours)
        clocks.append(_clock(
            "police", _state(deadline, done[0], now), deadline, done, now,
            _("Crime suspected: report to the police within {hours} h of detection"
              "{why}, whatever the grade and independent of the regulator report.").format(
                hours=hours, why=_hours_why(settings, cii, settings.police_report_hours, hours)),
            source))
    else:
        why = (_("No crime suspected (recorded).") if crime is not None else
               _("Whether a crime is suspected is not recorded: the clock runs once it is."))
        clocks.append(_clock("police", NOT_APPLICABLE, None, done, now, why, source))

    # Notify the affected people, unless exempt (PIPL Art. 57 para. 2).
    done = _done(row, "user_notice", now)
    hours = settings.user_notice_hours
    if detected is None:
        clocks.append(_clock("user_notice", NOT_APPLICABLE, None, done, now, no_detection,
                             clock_source("user_notice", settings)))
    elif affected > 0 and exemption:
        clocks.append(_clock(
            "user_notice", EXEMPT, None, done, now,
            _("Exempt (PIPL Art. 57 ¶2): the measures taken effectively avoid harm, so no "
              "notice to individuals is needed (not a finding). The authority may still order "
              "one, and the notice to the PI authority stays."),
            clock_source("user_notice", settings, exempt=True), detail=exemption))
    elif affected > 0:
        deadline = detected + dt.timedelta(hours=hours)
        clocks.append(_clock(
            "user_notice", _state(deadline, done[0], now), deadline, done, now,
            _("{affected} people affected: notify them within {hours} h of detection, unless "
              "the measures taken effectively avoid harm (record that exemption).").format(
                affected=f"{affected:,}", hours=hours),
            clock_source("user_notice", settings)))
    else:
        clocks.append(_clock("user_notice", NOT_APPLICABLE, None, done, now,
                             _("No affected people recorded."),
                             clock_source("user_notice", settings)))

    done = _done(row, "summary", now)
    source = clock_source("summary", settings)
    if resolved is not None:
        deadline = resolved + dt.timedelta(days=settings.summary_report_days)
        clocks.append(_clock("summary", _state(deadline, done[0], now), deadline, done, now,
                             _("Handling ended {when}: file within {days} days.").format(
                                 when=show_time(resolved, tz),
                                 days=settings.summary_report_days), source))
    else:
        clocks.append(_clock("summary", NOT_APPLICABLE, None, done, now,
                             _("Starts when the incident is resolved: "
                               "{days} days from then.").format(
                                 days=settings.summary_report_days), source))
    return clocks


def next_deadline(clocks: list[Clock]) -> Clock | None:
    """The pending clock (due or overdue) with the nearest deadline."""
    pending = [c for c in clocks if c.pending]
    return min(pending, key=lambda c: c.deadline) if pending else None


@dataclass(frozen=True)
class Flag:
    """A rule of the contract the incident breaks now, other than the clocks."""
    rule_id: str
    message: str


def incident_flags(row: Mapping[str, Any], settings: Settings, now: dt.datetime,
                   last_event_at: dt.datetime | None) -> list[Flag]:
    """INC-EMERGENCY-PLAN, INC-GRADE, INC-NOTICE-CONTENT and INC-STALE for one incident."""
    flags = []
    if _get(row, "emergency_plan_activated_at") is None:
        flags.append(Flag("INC-EMERGENCY-PLAN",
                          _("The emergency plan is not recorded as activated (policy 7.2; "
                            "PIPL Art. 51(5) [V]).")))
    suggestion = implied_grade(row, settings)
    if grade_rank(_get(row, "grade")) < grade_rank(suggestion.grade):
        flags.append(Flag("INC-GRADE",
                          _("Graded {grade}, below the {implied} its facts imply: "
                            "{reasons}").format(
                              grade=grade_words(_get(row, "grade")),
                              implied=grade_words(suggestion.grade),
                              reasons=semicolon().join(r.text for r in suggestion.drivers))
                          + full_stop()))
    if _get(row, "users_notified_at") is not None:
        contents = _get(row, "notice_contents") or []
        missing = [c for c in NOTICE_CONTENTS if c not in list(contents)]
        if missing:
            words = (label_list("notice_content", missing) if is_chinese()
                     else ", ".join(c.replace("_", " ") for c in missing))
            flags.append(Flag("INC-NOTICE-CONTENT",
                              _("The users' notice lacks PIPL Art. 57 [V] contents: "
                                "{missing}.").format(missing=words)))
    if _get(row, "resolved_at") is None and _get(row, "status") not in ("resolved", "closed"):
        detected = _get(row, "detected_at")
        last = max((t for t in (detected, last_event_at) if t is not None), default=None)
        if last is not None and now > last + dt.timedelta(days=settings.incident_stale_days):
            flags.append(Flag("INC-STALE",
                              _("Unresolved with no timeline event for {days} days "
                                "(limit {limit}).").format(
                                  days=(now - last).days, limit=settings.incident_stale_days)))
    return flags


# -- formatting ------------------------------------------------------------------
def format_time(value: dt.datetime | None, tz: ZoneInfo | str) -> str:
    """``2026-11-24 14:00 +08:00`` in the display zone; an em dash for none. The
    language-neutral form of the stored timeline text, the e-mails and the command line;
    pages show ``show_time``."""
    if value is None:
        return "—"
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = value.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def show_time(value: dt.datetime | None, tz: ZoneInfo | str | None = None) -> str:
    """A time as a page shows it (``i18n.fmt_datetime``): ``24 Nov 2026 14:00 Beijing
    time`` / ``2026年11月24日 14:00 北京时间``; in a zone other than Beijing's the zone's
    name follows; an em dash for none."""
    if value is None or value != value:          # None, NaN, NaT
        return "—"
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    key = tz if isinstance(tz, str) else getattr(tz, "key", None) or SHANGHAI
    if key == SHANGHAI:
        return fmt_datetime(value)
    return f"{fmt_datetime(value, tz=key, zone=False)} {key}"


def format_duration(delta: dt.timedelta) -> str:
    """``2 d 4 h``, ``3 h 20 min``, ``35 min``: the largest two units, rounded down
    (``2天4小时``, ``3小时20分钟``, ``35分钟`` in Chinese)."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return (_("{days} d {hours} h").format(days=days, hours=hours) if hours
                else _("{days} d").format(days=days))
    if hours:
        return (_("{hours} h {minutes} min").format(hours=hours, minutes=mins) if mins
                else _("{hours} h").format(hours=hours))
    return _("{minutes} min").format(minutes=mins) if mins else _("under 1 min")


def state_text(state: str, deadline: dt.datetime | None, now: dt.datetime, *,
               label: bool = True) -> str:
    """``Due · 2 h left`` / ``Overdue · overdue by 1 d 3 h`` / ``Met``: a clock in a list."""
    if hasattr(deadline, "to_pydatetime"):
        deadline = deadline.to_pydatetime()
    if state == DUE and deadline is not None:
        text = _("{duration} left").format(duration=format_duration(deadline - now))
    elif state == OVERDUE and deadline is not None:
        text = _("overdue by {duration}").format(duration=format_duration(deadline - now))
    else:
        return state_label(state) if label else ""
    return f"{state_label(state)} · {text}" if label else text


def countdown(clock: Clock) -> str:
    """What the page shows under a clock's state."""
    if clock.state == DUE:
        return _("{duration} left").format(duration=format_duration(clock.remaining))
    if clock.state == OVERDUE:
        return _("overdue by {duration}").format(duration=format_duration(clock.remaining))
    if clock.state == MET:
        return _("done {duration} before the deadline").format(
            duration=format_duration(clock.deadline - clock.done_at))
    if clock.state == LATE:
        return _("done {duration} after the deadline").format(
            duration=format_duration(clock.done_at - clock.deadline))
    return ""

"""Every deadline and threshold the checks use, with its default and legal source.

Nothing in the rules is a constant: each number below can be changed on the Settings
page by a DPO or an administrator (stored in the store, audited: dashboard/settings_store.py),
in a settings file (TOML, ``[settings]`` table, path in ``COMPLIANCE_SETTINGS`` or
``data/settings.toml``) or by an environment variable ``COMPLIANCE_<NAME>``
(upper case). Precedence: default, the app's value, the file, the environment (the last
one set wins). Confidence marks follow
``shared/reference/regulations.md``: V read in the law's text, V2 secondary source,
P a project default where the law gives no number (the policy says "timely"),
C fixed by the data contract.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .i18n import N_

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    unit: str
    source: str
    confidence: str
    help: str
    choices: tuple[str, ...] = ()       # the allowed values of a text setting
    minimum: int | None = None          # bounds of a number, or of each number of a list
    maximum: int | None = None
    kind: str = ""                      # "" (from the default's type) or "time" (HH:MM)


GRADE_CHOICES = ("general", "relatively_major", "major", "particularly_major")

SPECS: tuple[Setting, ...] = (
    Setting("regulator_report_hours", 4, N_("hours"),
            N_("CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 4"), "V",
            N_("Report an incident graded relatively major or above to the provincial CAC within "
               "this many hours of detection.")),
    Setting("regulator_report_hours_cii", 1, N_("hours"),
            N_("CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 4"), "V",
            N_("The same deadline for a critical-information-infrastructure (CII) operator.")),
    Setting("cii_operator", False, N_("true/false"),
            N_("CAC Measures (2025) Art. 4; regulations.md: the default for this company"), "V",
            N_("Whether the Platform is a CII operator (switches the regulator clock to the CII one).")),
    Setting("user_notice_hours", 24, N_("hours"),
            N_("PIPL Art. 57 ('immediately'); policy 7.2 ('inform you'); regulations.md, "
               "corrections in version 2"), "P",
            N_("Notify affected users within this many hours of detection, unless the measures "
               "taken effectively avoid harm (PIPL Art. 57 para. 2, recorded as an exemption). "
               "PIPL says 'immediately' and gives no number: 24 h is the project's reading "
               "(version 1 used 72 h); counsel may set it lower.")),
    Setting("pi_authority_notice_hours", 24, N_("hours"),
            N_("PIPL Art. 57 ('immediately', no size threshold); regulations.md, corrections "
               "in version 2"), "P",
            N_("Notify the authority protecting personal information within this many hours of "
               "detecting any incident involving personal information, whatever its grade (a "
               "regulator report counts). 24 h is the project's reading of 'immediately'.")),
    Setting("police_report_hours", 4, N_("hours"),
            N_("CAC Measures (2025); NDSMR Art. 11: report a suspected crime to the police "
               "promptly ('及时'); project default"), "P",
            N_("Report an incident in which a crime is suspected to the police within this many "
               "hours of detection (ordinary operators: the law gives no hour figure).")),
    Setting("police_report_hours_cii", 1, N_("hours"),
            N_("CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 4: an "
               "incident involving CII goes to the protection department and the police within "
               "1 hour at the latest"), "V",
            N_("The police deadline when the operator is CII or the incident involves CII.")),
    Setting("summary_report_days", 30, N_("days"),
            N_("CAC Measures (2025) Art. 8"), "V2",
            N_("File the post-incident summary report within this many days after handling ends.")),
    Setting("incident_stale_days", 14, N_("days"),
            N_("Policy 7.2 (emergency plan, rigorous management); project default"), "P",
            N_("An unresolved incident with no timeline event for this long is stale.")),
    Setting("grade_relatively_major_subjects", 1_000_000, N_("people"),
            N_("CAC Measures (2025) Annex, personal-information leaks"), "V2",
            N_("Affected people from which an incident is at least relatively major (grade III).")),
    Setting("grade_major_subjects", 10_000_000, N_("people"),
            N_("CAC Measures (2025) Annex, personal-information leaks"), "V2",
            N_("Affected people from which an incident is at least major (grade II).")),
    Setting("grade_particularly_major_subjects", 100_000_000, N_("people"),
            N_("CAC Measures (2025) Annex, personal-information leaks"), "V2",
            N_("Affected people from which an incident is particularly major (grade I).")),
    Setting("grade_relatively_major_loss_cny", 5_000_000, N_("yuan"),
            N_("CAC Measures (2025) Annex (grading guide), direct economic loss: 500万元; "
               "recalled from the guide and its 2023 draft, the republication read stops "
               "before this item"), "R",
            N_("Direct economic loss from which an incident is at least relatively major "
               "(grade III). Confirm against the Annex's text.")),
    Setting("grade_major_loss_cny", 20_000_000, N_("yuan"),
            N_("CAC Measures (2025) Annex (grading guide), direct economic loss: 2000万元; "
               "recalled from the guide and its 2023 draft, the republication read stops "
               "before this item"), "R",
            N_("Direct economic loss from which an incident is at least major (grade II). "
               "Confirm against the Annex's text.")),
    Setting("grade_particularly_major_loss_cny", 100_000_000, N_("yuan"),
            N_("CAC Measures (2025) Annex (grading guide), I.7: 'causes direct economic loss "
               "of 100 million yuan or more' (1亿元以上), read in a republication of the "
               "2025 guide"), "V2",
            N_("Direct economic loss from which an incident is particularly major (grade I).")),
    Setting("grade_important_data_floor", "relatively_major", N_("grade"),
            N_("CAC Measures (2025) Annex: core or important data are graded by how serious the "
               "threat is; regulations.md, corrections in version 2: the project's "
               "conservative floor"), "P",
            N_("The lowest grade an incident involving important or core data may carry "
               "(one of `general`, `relatively_major`, `major`, `particularly_major`)."),
            choices=GRADE_CHOICES),
    Setting("processor_assessment_days", 365, N_("days"),
            N_("PIPL Art. 21 (supervise the processor), Art. 54 (periodic audits); MLPS 2.0 annual "
               "assessment of level-3 systems; the period is the project's reading"), "P",
            N_("An active processor must have been assessed or audited within this many days. "
               "No law sets the period for processors: 365 days follows MLPS 2.0's annual "
               "assessment of level-3 systems, a project reading.")),
    Setting("offboard_return_days", 30, N_("days"),
            N_("PIPL Art. 21 (return or delete at the end of entrustment); project default"), "P",
            N_("An offboarded processor must confirm return or deletion within this many days.")),
    Setting("legal_disclosure_notice_days", 30, N_("days"),
            N_("Policy 5.3.3 ('inform you in a timely manner'); project default"), "P",
            N_("Users must be told of a legally required disclosure within this many days of it.")),
    Setting("dsr_response_working_days", 15, N_("working days"),
            N_("App violation identification method (2019), V2: 'not over 15 working days'; "
               "GB/T 35273-2020 §8.7 (R): 30 days, for comparison; PIPL Arts. 44-50 say "
               "'promptly' with no number"), "V2",
            N_("Answer a rights request (complete or refuse it) by the end (23:59:59 "
               "Asia/Shanghai) of this many working days after the day of receipt, on the "
               "mainland calendar with the State Council's make-up working days (DSR-DEADLINE).")),
    Setting("workday_calendar_file", "", N_("path"),
            N_("The State Council's yearly holiday arrangement (国务院办公厅关于…部分节假日安排的"
               "通知), when published after the calendar package the app ships"), "C",
            N_("Optional TOML file with a year's official arrangement: tables [YYYY] with "
               "holidays = [dates] and workdays = [dates] (make-up working days). A year in it "
               "counts as known (its deadlines are not provisional). Relative paths are read "
               "from the project root; empty: the package's calendar alone.")),
    Setting("due_soon_days", 30, N_("days"),
            N_("Project default (dashboard horizon)"), "P",
            N_("How far ahead the dashboard lists items that will fall due.")),
    Setting("due_urgent_days", 7, N_("days"),
            N_("Project default (dashboard horizon)"), "P",
            N_("The overview's short horizon: items falling due within this many days are "
               "shown apart (this week), beside those within due_soon_days.")),
    Setting("score_target_percent", 95, N_("percent"),
            N_("Project default (dashboard score bands)"), "P",
            N_("A compliance score at or above this is on target (green on the overview).")),
    Setting("score_warning_percent", 80, N_("percent"),
            N_("Project default (dashboard score bands)"), "P",
            N_("A compliance score below this needs action (red); between it and "
               "score_target_percent it is amber.")),
    Setting("session_idle_minutes", 30, N_("minutes"),
            N_("Project default (access control); OWASP Session Management Cheat Sheet "
               "(idle timeout)"), "P",
            N_("A signed-in session, and its browser cookie, end after this much idle time "
               "(activity in any tab of the browser counts).")),
    Setting("session_max_hours", 12, N_("hours"),
            N_("Project default (access control); OWASP Session Management Cheat Sheet "
               "(absolute timeout)"), "P",
            N_("A session cookie is refused this long after its sign-in, however active the "
               "session (the cookie's Max-Age).")),
    Setting("export_ticket_minutes", 5, N_("minutes"),
            N_("Project default (access control)"), "P",
            N_("A streamed-download link from the Exports page works once, within this many "
               "minutes of being prepared (at least 1).")),
    Setting("password_min_strength", 3, N_("zxcvbn score 0-4"),
            N_("Project default (access control); NIST SP 800-63B-4 (refuse common and "
               "breached passwords)"), "P",
            N_("A new password needs at least this zxcvbn score (3: safe against an online "
               "attack and a slow-hash offline one); a password on the breached list, or "
               "containing the username, is refused whatever its score.")),
    Setting("login_max_failures", 5, N_("attempts"),
            N_("Project default (access control); OWASP Authentication Cheat Sheet "
               "(throttling)"), "P",
            N_("Failed sign-ins for one account from one client address before sign-in from "
               "there pauses; each further failure doubles the pause.")),
    Setting("login_address_max_failures", 20, N_("attempts"),
            N_("Project default (access control); OWASP Authentication Cheat Sheet "
               "(throttling)"), "P",
            N_("Failed sign-ins from one client address, whatever the usernames, before that "
               "address pauses (password spraying).")),
    Setting("login_account_max_failures", 10, N_("attempts"),
            N_("Project default (access control); OWASP Authentication Cheat Sheet "
               "(throttling)"), "P",
            N_("Failed sign-ins for one account from all addresses before the account pauses "
               "for addresses it has never signed in from (its known addresses keep working).")),
    Setting("login_first_pause_seconds", 30, N_("seconds"),
            N_("Project default (access control)"), "P",
            N_("The first pause after too many failed sign-ins; it doubles with each "
               "further failure, up to login_lockout_minutes.")),
    Setting("login_lockout_minutes", 15, N_("minutes"),
            N_("Project default (access control)"), "P",
            N_("The longest pause after failed sign-ins (an administrator can lift it).")),
    Setting("login_window_minutes", 60, N_("minutes"),
            N_("Project default (access control; issue 11: aggregate failures per window)"), "P",
            N_("Failed sign-ins are counted, and reported in the audit log, per account and "
               "client address in windows of this length; a key with no failure for this long "
               "starts afresh.")),
    Setting("import_max_cell_chars", 100_000, N_("characters"),
            N_("Project default (import safety)"), "P",
            N_("The longest cell an imported file may hold; a longer one is refused, named by "
               "line and column. Each text column has its own, lower limit (at most 10,000).")),
    Setting("evidence_max_mb", 25, N_("MB"),
            N_("Project default (issue 18: evidence files); an operational limit, not a legal "
               "one: no law sets the size of an evidence file"), "P",
            N_("The largest evidence file (PDF, image, Word, Excel) that may be attached to a "
               "record, in megabytes (1 MB = 1,048,576 bytes); a larger one is refused. The "
               "files are kept in the store, so this also bounds how fast it grows. 1-200."),
            minimum=1, maximum=200),
    Setting("clock_refresh_seconds", 30, N_("seconds"),
            N_("Project default (issue 16: clocks that tick without a click)"), "P",
            N_("An incident page redraws its legal clocks this often while it is open, without "
               "a click (0: only when the page runs).")),
    Setting("reminder_incident_percents", (50, 80, 100), N_("percent of the time allowed"),
            N_("Project default (P); the deadlines are the incident clocks' own (CAC Measures "
               "(2025) Arts. 4 and 8, PIPL Art. 57: see the clock settings above)"), "P",
            N_("Remind of an incident clock still to do (due or overdue) when this share of the "
               "time from detection (summary report: from resolution) to its deadline has gone; "
               "100 is sent at the deadline itself, never before. Comma-separated, 1-100."),
            minimum=1, maximum=100),
    Setting("reminder_agreement_days", (30, 7, 0), N_("days before expiry"),
            N_("Project default (P); policy 5 and data contract SHARE-EXPIRED-ACTIVE (an "
               "agreement still active after expires_on)"), "P",
            N_("Remind the DPO of an active sharing agreement this many days before its "
               "expires_on date (0: on the day, and after it while still active). "
               "Comma-separated, 0-3650."), minimum=0, maximum=3650),
    Setting("reminder_request_working_days", (5, 2, 0), N_("working days left"),
            N_("Project default (P); the deadline is DSR-DEADLINE's (App violation "
               "identification method (2019), V2: 15 working days)"), "P",
            N_("Remind of an open rights request when this many working days (mainland "
               "calendar, as the Requests page counts them) are left before its deadline "
               "(0: on the due day, and after it while still open). Comma-separated, 0-60."),
            minimum=0, maximum=60),
    Setting("reminder_lookback_days", 7, N_("days"),
            N_("Project default (notifications)"), "P",
            N_("A threshold crossed longer ago than this is not reminded any more (a server "
               "started on a store with years of history does not send its old deadlines); the "
               "daily digest and the findings still count every overdue item. 1-3650."),
            minimum=1, maximum=3650),
    Setting("reminder_scan_minutes", 5, N_("minutes"),
            N_("Project default (notifications)"), "P",
            N_("How often the scheduler looks for reminders that have fallen due "
               "(docs/NOTIFICATIONS.md). 1-1440."), minimum=1, maximum=1440),
    Setting("daily_check_time", "08:30", N_("HH:MM (Asia/Shanghai)"),
            N_("Project default (notifications)"), "P",
            N_("When the scheduler runs the daily check and stores its snapshot; the daily "
               "digest goes out at the first reminder scan after it."), kind="time"),
    Setting("notify_max_attempts", 6, N_("attempts"),
            N_("Project default (notifications)"), "P",
            N_("Delivery attempts of one message before it is marked failed. 1-100."),
            minimum=1, maximum=100),
    Setting("notify_retry_base_seconds", 60, N_("seconds"),
            N_("Project default (notifications)"), "P",
            N_("The wait after a failed delivery attempt; it doubles with each further failure "
               "(60 s, 2 min, 4 min, ...). 1-86400."), minimum=1, maximum=86400),
    # Issue 17: the incident documents (dashboard/documents.py) name the reporting unit and
    # the handler's contact; empty, the documents mark them "to be completed".
    Setting("reporting_unit", "", N_("text"),
            N_("CAC Measures for National Cybersecurity Incident Reporting (2025) Art. 7: the "
               "report names the reporting unit"), "V2",
            N_("The company's name as it signs incident reports and notices (e.g. the legal "
               "entity operating the Platform). Empty: the documents mark it to be completed.")),
    Setting("pi_contact", "", N_("text"),
            N_("PIPL Art. 57: the notice gives the handler's contact details"), "V",
            N_("How individuals and authorities reach the person in charge of personal "
               "information protection (e-mail, telephone, address), as the notices print it. "
               "Empty: the documents mark it to be completed.")),
    Setting("timezone", "Asia/Shanghai", N_("IANA zone"),
            N_("Data contract: a timestamp with no offset is Asia/Shanghai time"), "C",
            N_("Zone for times without an offset, for 'today', and for display.")),
)

SPEC_BY_NAME = {s.name: s for s in SPECS}


class SettingsError(ValueError):
    """A settings file or variable holds a value of the wrong kind."""


def _bounded(spec: Setting, number: int, origin: str, value: Any) -> int:
    low = 0 if spec.minimum is None else spec.minimum
    if number < low or (spec.maximum is not None and number > spec.maximum):
        bounds = (f"from {low} to {spec.maximum}" if spec.maximum is not None
                  else f"at least {low}")
        raise SettingsError(f"setting {spec.name} from {origin}: {value!r}: {number} is out "
                            f"of range (each value must be {bounds} {spec.unit})")
    return number


def _int_list(spec: Setting, value: Any, origin: str) -> tuple[int, ...]:
    """A list of whole numbers: a TOML array or a comma-separated text (``50, 80, 100``);
    each within the setting's bounds, no repeats; kept in descending order of urgency is
    the caller's business, so returned sorted ascending."""
    items = list(value) if isinstance(value, (list, tuple)) else str(value).split(",")
    numbers = []
    for item in items:
        text = str(item).strip().replace("_", "")
        if isinstance(item, bool) or not text.lstrip("-").isdigit():
            raise SettingsError(
                f"setting {spec.name} from {origin}: {value!r} is not a list of whole "
                f"numbers ({spec.unit}), e.g. "
                f"{', '.join(str(d) for d in spec.default)}")
        numbers.append(_bounded(spec, int(text), origin, value))
    if not numbers:
        raise SettingsError(f"setting {spec.name} from {origin}: the list is empty; give at "
                            f"least one value, e.g. {', '.join(str(d) for d in spec.default)}")
    if len(set(numbers)) != len(numbers):
        raise SettingsError(f"setting {spec.name} from {origin}: {value!r} repeats a value")
    return tuple(sorted(numbers))


def _time_of_day(spec: Setting, value: Any, origin: str) -> str:
    text = str(value).strip()
    parts = text.split(":")
    if (len(parts) == 2 and all(p.isdigit() and len(p) == 2 for p in parts)
            and int(parts[0]) < 24 and int(parts[1]) < 60):
        return text
    raise SettingsError(f"setting {spec.name} from {origin}: {value!r} is not a time of day "
                        f"as HH:MM (24-hour clock), e.g. {spec.default}")


def _coerce(spec: Setting, value: Any, origin: str) -> Any:
    kind = type(spec.default)
    if kind is tuple:
        return _int_list(spec, value, origin)
    if spec.kind == "time":
        return _time_of_day(spec, value, origin)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes"):
                return True
            if text in ("false", "0", "no"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            number = int(str(value).replace("_", ""))
            if number < 0:
                raise ValueError
            return _bounded(spec, number, origin, value) if (
                spec.minimum is not None or spec.maximum is not None) else number
        text = str(value).strip()
    except SettingsError:
        raise
    except (TypeError, ValueError):
        raise SettingsError(
            f"setting {spec.name} from {origin}: {value!r} is not a valid {spec.unit} value"
        ) from None
    if spec.choices and text not in spec.choices:
        raise SettingsError(f"setting {spec.name} from {origin}: {value!r} is not one of "
                            f"{', '.join(spec.choices)}")
    return text


# Where a value set in the app comes from (``Settings.origin``): the store's
# ``settings_values`` table (migration 0020, dashboard/settings_store.py).
STORE_ORIGIN = "store"
# Settings changed only in the settings file or the environment, never in the app: the time
# zone is the data contract's, and a path names a file on the server.
FILE_ONLY = frozenset({"timezone", "workday_calendar_file"})
# Settings the server reads once, when it starts (the scheduler's timetable): a change in
# the app is in force for everything else at once, for these at the next start.
READ_AT_START = frozenset({"daily_check_time", "reminder_scan_minutes"})


class Settings:
    """Resolved settings: defaults, then the values set in the app (the store's
    ``settings_values``, see ``with_store_values``), then the settings file, then the
    environment."""

    def __init__(self, values: dict[str, Any] | None = None):
        self._values = {s.name: s.default for s in SPECS}
        self.origin = {s.name: "default" for s in SPECS}
        # values set in the app: {name: {"value", "set_by", "set_at"}}, in force or not
        # (a file or environment value wins), and those the code no longer accepts
        self.stored: dict[str, dict[str, Any]] = {}
        self.store_errors: dict[str, str] = {}
        for name, value in (values or {}).items():
            self.set(name, value, "argument")

    def with_store_values(self, rows) -> "Settings":
        """A copy with the values set in the app, ``rows`` of (name, JSON value, set_at,
        set_by): each is in force where the value is still the default (the settings file,
        the environment and an argument win). A stored value that does not pass
        validation any more (a bound changed in the code) is left out and reported in
        ``store_errors``; an unknown name (a setting since removed) is ignored."""
        import json
        out = Settings.__new__(Settings)
        out._values = dict(self._values)
        out.origin = dict(self.origin)
        out.stored = {}
        out.store_errors = {}
        for name, text, set_at, set_by in rows:
            spec = SPEC_BY_NAME.get(name)
            if spec is None or name in FILE_ONLY:
                continue
            try:
                value = _coerce(spec, json.loads(text), STORE_ORIGIN)
            except (ValueError, TypeError) as exc:      # SettingsError, bad JSON
                out.store_errors[name] = str(exc)
                continue
            out.stored[name] = {"value": value, "set_by": set_by, "set_at": set_at}
            if out.origin[name] == "default":
                out._values[name] = value
                out.origin[name] = STORE_ORIGIN
        return out

    def set(self, name: str, value: Any, origin: str) -> None:
        if name not in SPEC_BY_NAME:
            raise SettingsError(f"unknown setting {name!r} in {origin}")
        self._values[name] = _coerce(SPEC_BY_NAME[name], value, origin)
        self.origin[name] = origin

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def regulator_hours(self, cii_involved: bool | None = False) -> int:
        """The regulator clock: the CII one when the Platform is a CII operator or, in rules
        version 2, when the incident itself involves CII."""
        cii = self.cii_operator or bool(cii_involved)
        return self.regulator_report_hours_cii if cii else self.regulator_report_hours

    def police_hours(self, cii_involved: bool | None = False) -> int:
        """The police clock for an incident in which a crime is suspected (INC-POLICE)."""
        cii = self.cii_operator or bool(cii_involved)
        return self.police_report_hours_cii if cii else self.police_report_hours

    def rows(self) -> list[dict[str, Any]]:
        """One row per setting, for the docs and the settings page."""
        return [
            {"setting": s.name, "value": _shown(self._values[s.name]),
             "default": _shown(s.default),
             "unit": s.unit, "source": s.source, "confidence": s.confidence,
             "from": self.origin[s.name], "meaning": s.help}
            for s in SPECS
        ]


def _shown(value: Any) -> Any:
    """A list setting as text (``50, 80, 100``), for tables; other values as they are."""
    return ", ".join(str(v) for v in value) if isinstance(value, tuple) else value


def load_settings(path: str | os.PathLike | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    settings = Settings()
    file = path or environ.get("COMPLIANCE_SETTINGS") or (DATA_DIR / "settings.toml")
    file = Path(file)
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {file}: {exc}") from None
        for name, value in data.get("settings", {}).items():
            settings.set(name, value, str(file))
    elif path or environ.get("COMPLIANCE_SETTINGS"):
        raise SettingsError(f"settings file {file} does not exist")
    for spec in SPECS:
        var = f"COMPLIANCE_{spec.name.upper()}"
        if var in environ:
            settings.set(spec.name, environ[var], f"environment {var}")
    return settings


def settings_table_markdown() -> str:
    """Every setting as a Markdown table (the README carries exactly this text;
    tests/test_docs.py fails when the two drift)."""
    conf = {"V": "V (law's text)", "V2": "V2 (secondary source)", "P": "P (project default)",
            "C": "C (data contract)"}
    lines = ["| setting | default | unit | legal source | confidence |", "|---|---|---|---|---|"]
    for s in SPECS:
        default = str(s.default).lower() if isinstance(s.default, bool) else (
            f"{s.default:,}" if isinstance(s.default, int) else (
                _shown(s.default) if isinstance(s.default, tuple) else (s.default or "(none)")))
        lines.append(f"| `{s.name}` | {default} | {s.unit} | {s.source} | "
                     f"{conf.get(s.confidence, s.confidence)} |")
    return "\n".join(lines) + "\n"

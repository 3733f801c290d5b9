"""The mainland-China working-day calendar, for deadlines counted in working days.

Never a hand-typed list: the official arrangements (the State Council's yearly notice, with
its make-up working days, 调休) come from the maintained package ``chinese-calendar``
(``chinese_calendar``), which knows every year it ships (1.11.0: 2004-2026) and raises
``NotImplementedError`` for the others. For a year it does not know, the statutory holidays
come from ``holidays`` (``holidays.country_holidays("CN")``, with the days in lieu the law
gives when a holiday falls on a weekend) and the weekends: such a day is *provisional*.

A year's official arrangement published after the package can be given in a TOML file named
by the setting ``workday_calendar_file`` (a relative path is read from the project root)::

    [2027]
    holidays = [2027-01-01, 2027-02-05, ...]   # days off that would be working days
    workdays = [2027-02-20, ...]               # make-up working days on a weekend

A year in the file counts as known, and the file wins over the package for that year:
a day in ``workdays`` is a working day, a day in ``holidays`` is not, any other day is a
working day from Monday to Friday.

Data contract, "Working days": the day of receipt is ``received_at``'s calendar date in
Asia/Shanghai and is not counted; the deadline is 23:59:59 Asia/Shanghai of the Nth
working day after it (N = setting ``dsr_response_working_days``, default 15).
"""
from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays as holidays_pkg

from .settings import ROOT, Settings, SettingsError, load_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
END_OF_DAY = dt.time(23, 59, 59)


# -- the override file -----------------------------------------------------------------------

@dataclass(frozen=True)
class YearArrangement:
    """One year's official arrangement from the override file."""
    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]


def override_path(settings: Settings | None) -> Path | None:
    name = str(getattr(settings, "workday_calendar_file", "") or "").strip()
    if not name:
        return None
    path = Path(name)
    return path if path.is_absolute() else ROOT / path


def _as_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise SettingsError(f"{where}: {value!r} is a timestamp, not a date")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SettingsError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")


@lru_cache(maxsize=8)
def _read_override(path: str, _stamp: tuple) -> dict[int, YearArrangement]:
    where = f"workday calendar file {path}"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{where}: not valid TOML ({exc})") from None
    years: dict[int, YearArrangement] = {}
    for key, table in data.items():
        if not (isinstance(key, str) and key.isdigit() and len(key) == 4):
            raise SettingsError(f"{where}: [{key}] is not a year (tables are named [YYYY])")
        year = int(key)
        if not isinstance(table, dict):
            raise SettingsError(f"{where}: [{key}] must be a table with holidays and workdays")
        unknown = set(table) - {"holidays", "workdays"}
        if unknown:
            raise SettingsError(f"{where}: [{key}] has unknown keys {sorted(unknown)} "
                                "(only holidays and workdays)")
        lists = {}
        for name in ("holidays", "workdays"):
            values = table.get(name, [])
            if not isinstance(values, list):
                raise SettingsError(f"{where}: [{key}] {name} must be a list of dates")
            days = frozenset(_as_date(v, f"{where}: [{key}] {name}") for v in values)
            outside = sorted(d for d in days if d.year != year)
            if outside:
                raise SettingsError(f"{where}: [{key}] {name} holds {outside[0].isoformat()}, "
                                    f"not in {year}")
            lists[name] = days
        both = sorted(lists["holidays"] & lists["workdays"])
        if both:
            raise SettingsError(f"{where}: [{key}] {both[0].isoformat()} is both a holiday "
                                "and a working day")
        years[year] = YearArrangement(year, lists["holidays"], lists["workdays"])
    return years


def override_years(settings: Settings | None = None) -> dict[int, YearArrangement]:
    """The override file's years (empty without the setting); SettingsError when the file is
    missing or malformed."""
    settings = _settings(settings)
    path = override_path(settings)
    if path is None:
        return {}
    try:
        st = os.stat(path)
    except OSError:
        raise SettingsError(f"workday calendar file {path} (setting workday_calendar_file) "
                            "does not exist") from None
    return _read_override(str(path), (st.st_mtime_ns, st.st_size))


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else load_settings()


# -- the package's knowledge -----------------------------------------------------------------

def _package_years() -> frozenset[int]:
    return frozenset(d.year for d in chinese_calendar.constants.holidays) | frozenset(
        d.year for d in chinese_calendar.constants.workdays)


PACKAGE_YEARS = _package_years()


@lru_cache(maxsize=64)
def _statutory(year: int) -> frozenset[dt.date]:
    """Statutory holidays (with days in lieu) of a year, from ``holidays``."""
    return frozenset(holidays_pkg.country_holidays("CN", years=year).keys())


# -- the public API ----------------------------------------------------------------------------

def known_year(year: int, settings: Settings | None = None) -> bool:
    """True when the year's official arrangement is known: from the override file or the
    package."""
    return year in override_years(settings) or year in PACKAGE_YEARS


def is_working_day(day: dt.date, settings: Settings | None = None) -> bool:
    """Whether ``day`` is a working day on the mainland calendar (make-up days count; in a year
    the calendar does not know: Monday to Friday and not a statutory holiday)."""
    if isinstance(day, dt.datetime):
        day = day.astimezone(SHANGHAI).date() if day.tzinfo else day.date()
    extra = override_years(settings).get(day.year)
    if extra is not None:
        if day in extra.workdays:
            return True
        if day in extra.holidays:
            return False
        return day.weekday() < 5
    if day.year in PACKAGE_YEARS:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            pass
    return day.weekday() < 5 and day not in _statutory(day.year)


@dataclass(frozen=True)
class Deadline:
    due_at: dt.datetime          # 23:59:59 Asia/Shanghai of the Nth working day
    due_date: dt.date            # that day
    provisional: bool            # a day counted lies in a year the calendar does not know
    received_on: dt.date         # the day of receipt (Shanghai), not counted
    working_days: int            # N


def shanghai_date(at: dt.datetime) -> dt.date:
    """A timestamp's calendar date in Asia/Shanghai (a naive one is Shanghai time)."""
    if at.tzinfo is None:
        return at.date()
    return at.astimezone(SHANGHAI).date()


def nth_working_day_after(day: dt.date, n: int,
                          settings: Settings | None = None) -> tuple[dt.date, bool]:
    """The Nth working day after ``day`` (``day`` not counted; n = 0 gives ``day``), and
    whether any day counted lies in a year the calendar does not know."""
    settings = _settings(settings)
    provisional = False
    current = day
    left = n
    while left > 0:
        current += dt.timedelta(days=1)
        if not known_year(current.year, settings):
            provisional = True
        if is_working_day(current, settings):
            left -= 1
    return current, provisional


def request_deadline(received_at: dt.datetime, settings: Settings | None = None) -> Deadline:
    """The reply deadline of a rights request received at ``received_at``: the end
    (23:59:59 Asia/Shanghai) of the Nth working day after the day of receipt,
    N = ``settings.dsr_response_working_days``."""
    settings = _settings(settings)
    n = int(settings.dsr_response_working_days)
    received_on = shanghai_date(received_at)
    due, provisional = nth_working_day_after(received_on, n, settings)
    return Deadline(dt.datetime.combine(due, END_OF_DAY, tzinfo=SHANGHAI), due, provisional,
                    received_on, n)


def working_days_left(now: dt.datetime, due_at: dt.datetime,
                      settings: Settings | None = None) -> int:
    """Working days from ``now``'s Shanghai date to ``due_at``'s Shanghai date.

    Convention (dates in Asia/Shanghai, today = ``now``'s date, due = ``due_at``'s date):

    - today <= due: the number of working days d with today < d <= due. So 0 on the due day
      itself, 1 on the working day before it, and 15 on the day of receipt of a request
      with a 15-working-day deadline.
    - today > due (overdue): minus the number of working days d with due < d <= today, and at
      least 1: -1 from the day after the due date (a weekend included) through the first
      working day after it, -2 on the second working day after it, and so on.

    Only the dates count, not the time of day: use ``now > due_at`` for "late".
    """
    settings = _settings(settings)
    today, due = shanghai_date(now), shanghai_date(due_at)
    if today <= due:
        return _count_working(today, due, settings)
    return -max(1, _count_working(due, today, settings))


def _count_working(after: dt.date, through: dt.date, settings: Settings) -> int:
    """Working days d with after < d <= through."""
    count = 0
    d = after
    while d < through:
        d += dt.timedelta(days=1)
        if is_working_day(d, settings):
            count += 1
    return count


def calendar_rows(first_year: int, last_year: int,
                  settings: Settings | None = None) -> list[tuple[dt.date, bool, bool]]:
    """(day, working, provisional) for every day of the years, for the store's
    ``calendar_days`` table (``dashboard.reference.sync_calendar``)."""
    settings = _settings(settings)
    rows = []
    day = dt.date(first_year, 1, 1)
    end = dt.date(last_year, 12, 31)
    known = {y: known_year(y, settings) for y in range(first_year, last_year + 1)}
    while day <= end:
        rows.append((day, is_working_day(day, settings), not known[day.year]))
        day += dt.timedelta(days=1)
    return rows

"""The mainland working-day calendar and rights-request deadlines (dashboard.workdays).

2026 (State Council notice, known to chinese-calendar 1.11.0): Mid-Autumn Friday 25 September
and National Day 1-7 October are days off; Sunday 20 September and Saturday 10 October are
make-up working days. 2027 is not known to the package: its days come from weekends and the
statutory holidays of the ``holidays`` package, and are provisional.
"""
from __future__ import annotations

import datetime as dt

import pytest

from dashboard import workdays
from dashboard.settings import Settings, SettingsError
from dashboard.workdays import (Deadline, is_working_day, known_year, request_deadline,
                                working_days_left)

SH = workdays.SHANGHAI
UTC = dt.timezone.utc
DEFAULT = Settings()
D = dt.date


def at(y, m, d, hh=10, mm=0, tz=SH) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=tz)


def eod(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=SH)


@pytest.mark.parametrize("day, working", [
    (D(2026, 9, 20), True),      # Sunday, make-up working day
    (D(2026, 10, 10), True),     # Saturday, make-up working day
    (D(2026, 9, 25), False),     # Mid-Autumn Festival (Friday)
    *[(D(2026, 10, d), False) for d in range(1, 8)],   # National Day holiday
    (D(2026, 10, 8), True),
    (D(2026, 9, 19), False),     # an ordinary Saturday
    (D(2026, 9, 24), True),      # an ordinary Thursday
    (D(2026, 10, 11), False),    # an ordinary Sunday
])
def test_2026_official_arrangement(day, working):
    assert is_working_day(day, DEFAULT) is working


def test_known_years():
    assert known_year(2026, DEFAULT)
    assert known_year(2019, DEFAULT)
    assert not known_year(2027, DEFAULT)


def test_across_mid_autumn_and_national_day_with_both_make_up_days():
    # received Thursday 17 Sep: counted 18 (1), 20 Sun make-up (2), 21-24 (3-6),
    # 25 Mid-Autumn off, 28-30 (7-9), 1-7 Oct off, 8 (10), 9 (11), 10 Sat make-up (12),
    # 12 (13), 13 (14), 14 (15)
    deadline = request_deadline(at(2026, 9, 17, 15), DEFAULT)
    assert isinstance(deadline, Deadline)
    assert deadline.due_date == D(2026, 10, 14)
    assert deadline.due_at == eod(D(2026, 10, 14))
    assert deadline.due_at.utcoffset() == dt.timedelta(hours=8)
    assert deadline.provisional is False
    # Monday-to-Friday days that are not holidays give only 13 by 14 Oct: the two make-up
    # days make the 15
    plain = sum(1 for i in range(1, 28)
                if (d := D(2026, 9, 17) + dt.timedelta(days=i)).weekday() < 5
                and d not in {D(2026, 9, 25), *[D(2026, 10, k) for k in range(1, 8)]})
    assert plain == 13


def test_received_on_the_saturday_before_the_sunday_make_up_day():
    # the day of receipt (Sat 19 Sep) is not counted; Sun 20 Sep is the 1st working day
    deadline = request_deadline(at(2026, 9, 19, 9), Settings({"dsr_response_working_days": 1}))
    assert deadline.due_date == D(2026, 9, 20)


def test_received_on_a_make_up_day_is_not_counted():
    deadline = request_deadline(at(2026, 10, 10, 9), Settings({"dsr_response_working_days": 1}))
    assert deadline.due_date == D(2026, 10, 12)


def test_just_after_midnight_shanghai_counts_from_that_shanghai_day():
    # 2026-09-30T00:05+08:00 is still 29 September in UTC
    received = dt.datetime(2026, 9, 29, 16, 5, tzinfo=UTC)
    deadline = request_deadline(received, DEFAULT)
    assert deadline.received_on == D(2026, 9, 30)
    # 1-7 Oct off; 8 (1), 9 (2), 10 Sat make-up (3), 12-16 (4-8), 19-23 (9-13), 26 (14), 27
    assert deadline.due_date == D(2026, 10, 27)
    # five minutes earlier it was still the 29th in Shanghai: the 30th is the 1st working day
    earlier = request_deadline(dt.datetime(2026, 9, 29, 15, 55, tzinfo=UTC), DEFAULT)
    assert earlier.received_on == D(2026, 9, 29)
    assert earlier.due_date == D(2026, 10, 26)


def test_naive_received_at_is_shanghai_time():
    assert request_deadline(dt.datetime(2026, 9, 30, 0, 5), DEFAULT).received_on == D(2026, 9, 30)


def test_across_the_year_end_into_an_unknown_year_is_provisional():
    # received Sunday 20 Dec 2026: 21-25 (5), 28-31 (9), 1 Jan 2027 New Year (statutory),
    # 4-8 Jan (14), 11 Jan (15)
    deadline = request_deadline(at(2026, 12, 20), DEFAULT)
    assert deadline.due_date == D(2027, 1, 11)
    assert deadline.provisional is True
    assert not is_working_day(D(2027, 1, 1), DEFAULT)        # statutory, from `holidays`
    assert not is_working_day(D(2027, 1, 2), DEFAULT)        # a weekend
    assert is_working_day(D(2027, 1, 4), DEFAULT)


def test_a_deadline_inside_a_known_year_is_not_provisional():
    # received 1 Dec 2026: the 15th working day is 22 Dec, all in 2026
    deadline = request_deadline(at(2026, 12, 1), DEFAULT)
    assert deadline.due_date == D(2026, 12, 22)
    assert deadline.provisional is False


def test_statutory_holidays_in_an_unknown_year_come_from_the_package():
    # National Day 2027 (Fri 1 Oct) is a statutory holiday: not a working day even provisionally
    assert not is_working_day(D(2027, 10, 1), DEFAULT)
    assert is_working_day(D(2027, 9, 30), DEFAULT)


def test_the_number_of_working_days_is_a_setting():
    assert request_deadline(at(2026, 9, 17), Settings({"dsr_response_working_days": 10})
                            ).due_date == D(2026, 10, 8)


# -- working days left ---------------------------------------------------------------------

def test_working_days_left_convention():
    due = eod(D(2026, 10, 14))
    assert working_days_left(at(2026, 9, 17), due, DEFAULT) == 15       # day of receipt
    assert working_days_left(at(2026, 10, 14, 9), due, DEFAULT) == 0    # due today
    assert working_days_left(at(2026, 10, 13, 23, 59), due, DEFAULT) == 1
    assert working_days_left(at(2026, 9, 30), due, DEFAULT) == 6        # 8, 9, 10, 12, 13, 14
    assert working_days_left(at(2026, 10, 15), due, DEFAULT) == -1      # first day late
    assert working_days_left(at(2026, 10, 16), due, DEFAULT) == -2
    # due Friday 16 Oct: Saturday after reads -1, Monday after -1, Tuesday -2
    friday = eod(D(2026, 10, 16))
    assert working_days_left(at(2026, 10, 17), friday, DEFAULT) == -1
    assert working_days_left(at(2026, 10, 19), friday, DEFAULT) == -1
    assert working_days_left(at(2026, 10, 20), friday, DEFAULT) == -2


def test_working_days_left_uses_the_shanghai_date_of_now():
    due = eod(D(2026, 10, 14))
    # 2026-10-13T16:30Z is 14 Oct 00:30 in Shanghai: due today
    assert working_days_left(dt.datetime(2026, 10, 13, 16, 30, tzinfo=UTC), due, DEFAULT) == 0


# -- the override file ---------------------------------------------------------------------

OVERRIDE_2027 = """\
# A made-up arrangement for 2027, as the State Council might publish it
[2027]
holidays = [2027-01-01, 2027-02-05, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11]
workdays = [2027-02-20]
"""


def test_an_override_file_makes_an_unknown_year_known(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text(OVERRIDE_2027, encoding="utf-8")
    settings = Settings({"workday_calendar_file": str(path)})
    assert known_year(2027, settings)
    assert not known_year(2028, settings)
    assert is_working_day(D(2027, 2, 20), settings)            # Saturday make-up day
    assert not is_working_day(D(2027, 2, 11), settings)        # Thursday off
    assert is_working_day(D(2027, 1, 4), settings)
    deadline = request_deadline(at(2026, 12, 20), settings)
    assert deadline.due_date == D(2027, 1, 11)
    assert deadline.provisional is False
    # received 4 Feb 2027: 5, 8-11 off; 12 (1), 15-19 (2-6), 20 Sat (7), 22-26 (8-12),
    # 1-3 Mar (13-15)
    assert request_deadline(at(2027, 2, 4), settings).due_date == D(2027, 3, 3)
    assert request_deadline(at(2027, 2, 4), DEFAULT).provisional is True


def test_the_override_wins_over_the_package_for_its_year(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text("[2026]\nholidays = [2026-12-31]\nworkdays = []\n", encoding="utf-8")
    settings = Settings({"workday_calendar_file": str(path)})
    assert not is_working_day(D(2026, 12, 31), settings)
    assert is_working_day(D(2026, 12, 31), DEFAULT)


@pytest.mark.parametrize("text, message", [
    ("[2027\nholidays = [", "not valid TOML"),
    ("[next]\nholidays = []\n", "is not a year"),
    ("[2027]\nholidays = ['31 Feb']\n", "is not a date"),
    ("[2027]\nholidays = [2028-01-01]\n", "not in 2027"),
    ("[2027]\nholidays = 2027-01-01\n", "must be a list of dates"),
    ("[2027]\nholiday = [2027-01-01]\n", "unknown keys"),
    ("[2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-01]\n", "both a holiday"),
    ("[2027]\nholidays = [2027-01-01T08:00:00]\n", "is a timestamp"),
])
def test_a_bad_override_file_is_a_clear_settings_error(tmp_path, text, message):
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    settings = Settings({"workday_calendar_file": str(path)})
    with pytest.raises(SettingsError, match=message) as info:
        request_deadline(at(2026, 12, 20), settings)
    assert "workday calendar file" in str(info.value)


def test_a_missing_override_file_is_a_settings_error(tmp_path):
    settings = Settings({"workday_calendar_file": str(tmp_path / "nope.toml")})
    with pytest.raises(SettingsError, match="does not exist"):
        known_year(2027, settings)


def test_calendar_rows_mark_unknown_years_provisional():
    rows = workdays.calendar_rows(2026, 2027, DEFAULT)
    assert len(rows) == 365 + 365
    by_day = {d: (w, p) for d, w, p in rows}
    assert by_day[D(2026, 10, 10)] == (True, False)
    assert by_day[D(2026, 10, 1)] == (False, False)
    assert by_day[D(2027, 1, 1)] == (False, True)

-- 0012: the mainland working-day calendar as a reference table (issue 14). One row per day:
-- working (make-up working days 调休 count, weekends and holidays do not) and provisional
-- (the year's official arrangement is not known: weekends and statutory holidays alone).
-- Filled by dashboard.reference.sync_calendar at `init` from dashboard/workdays.py
-- (chinese-calendar and holidays packages, plus the workday_calendar_file setting), never
-- typed in. The rules engine builds its own copy for each check's settings and years.
CREATE TABLE calendar_days (
    day DATE PRIMARY KEY,
    working BOOLEAN NOT NULL,
    provisional BOOLEAN NOT NULL
);

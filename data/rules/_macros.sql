-- Helper macros for the rules in this folder. They only format text and turn a
-- date into the moment its deadline passes; no rule logic lives here.
-- The engine (dashboard/engine.py) runs this file on its cursor before the rules,
-- with the session time zone set to the settings' timezone (Asia/Shanghai), so
-- DATE -> TIMESTAMPTZ casts and strftime on timestamps use Shanghai time.

-- The last moment of a date deadline: a thing due "by D" is on time until D 23:59:59.
CREATE OR REPLACE TEMP MACRO rule_end_of_day(d) AS
    CAST(d AS TIMESTAMPTZ) + INTERVAL '23:59:59';

-- A date or a timestamp as text: 2026-09-30 / 2026-09-30 14:05 (Shanghai time).
CREATE OR REPLACE TEMP MACRO rule_date(d) AS strftime(d, '%Y-%m-%d');
CREATE OR REPLACE TEMP MACRO rule_time(t) AS strftime(t, '%Y-%m-%d %H:%M');

-- A count of days as text: "1 day", "55 days" (sign dropped; the sentence says which way).
CREATE OR REPLACE TEMP MACRO rule_days(n) AS
    CAST(abs(n) AS VARCHAR) || CASE WHEN abs(n) = 1 THEN ' day' ELSE ' days' END;

-- The span between two timestamps as text: "12 s", "40 min", "2 h 10 min", "3 d 4 h".
CREATE OR REPLACE TEMP MACRO rule_span(a, b) AS
    CASE
        WHEN abs(epoch(b - a)) < 60
            THEN CAST(CAST(floor(abs(epoch(b - a))) AS BIGINT) AS VARCHAR) || ' s'
        WHEN abs(epoch(b - a)) < 3600
            THEN CAST(CAST(floor(abs(epoch(b - a)) / 60) AS BIGINT) AS VARCHAR) || ' min'
        WHEN abs(epoch(b - a)) < 172800
            THEN CAST(CAST(floor(abs(epoch(b - a)) / 3600) AS BIGINT) AS VARCHAR) || ' h '
                 || CAST(CAST(floor((abs(epoch(b - a)) % 3600) / 60) AS BIGINT) AS VARCHAR) || ' min'
        ELSE CAST(CAST(floor(abs(epoch(b - a)) / 86400) AS BIGINT) AS VARCHAR) || ' d '
             || CAST(CAST(floor((abs(epoch(b - a)) % 86400) / 3600) AS BIGINT) AS VARCHAR) || ' h'
    END;

-- The span between a timestamp and the check moment, for a text that changes as time
-- passes ("passed 3 h 5 min ago", "in 40 min"): rule_live_span(deadline, $as_of) is
-- rule_span(deadline, $as_of). The stored evaluation (dashboard/stored.py) keeps such a
-- rule's result while no deadline passes and writes this span afresh at each read.
CREATE OR REPLACE TEMP MACRO rule_live_span(t, now) AS rule_span(t, now);

-- A list as text: "name, phone"; an empty or missing list as "none".
CREATE OR REPLACE TEMP MACRO rule_list(l) AS
    CASE WHEN l IS NULL OR len(l) = 0 THEN 'none' ELSE array_to_string(l, ', ') END;

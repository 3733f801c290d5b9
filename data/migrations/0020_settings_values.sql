-- 0020 (issue 18): settings changed in the app (Settings page, dashboard/settings_store.py) by
-- a DPO or an administrator. One row per setting set in the app; resetting it deletes the
-- row. ``value`` is the value as JSON (a number, true/false, a text, or a list of numbers),
-- validated like a settings-file value before it is written. Precedence: default, then this
-- table, then the settings file, then the environment (the file and the environment win).
-- Every change is audited (``settings.set`` / ``settings.reset``, before and after).
CREATE TABLE settings_values (
    name VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL,
    set_at TIMESTAMPTZ NOT NULL,
    set_by VARCHAR NOT NULL
);

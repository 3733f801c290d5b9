-- Issue 17: each account remembers its language (dashboard/i18n.py): 'zh_CN' or 'en';
-- NULL until the user chooses one (the browser's language is used until then).
-- (DuckDB cannot add a column with a CHECK constraint: accounts.set_locale validates.)
ALTER TABLE users ADD COLUMN locale VARCHAR;

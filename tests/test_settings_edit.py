"""Settings changed in the app (issue 18): validated, audited, refused when the settings
file or the environment wins, kept in the store, used by the next check at once, and
edited on the Settings page by DPOs and admins only."""
from __future__ import annotations

import json

import pytest

from dashboard import engine, i18n
from dashboard import settings_store as SS
from dashboard.access import PermissionDenied
from dashboard.settings import STORE_ORIGIN, Settings, load_settings
from dashboard.store import Store, StoreError

from conftest import (ADMIN, AUDITOR, DEMO_AS_OF, DPO, FROZEN_NOW, MANAGER, app_test, make_store,
                      shown)


def audit_count(store) -> int:
    return store.scalar("SELECT count(*) FROM audit_log")


def last_entry(store) -> dict:
    seq, action, etype, eid, actor, role, before, after = store.rows(
        "SELECT seq, action, entity_type, entity_id, actor, role, values_before, values_after "
        "FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    return {"seq": seq, "action": action, "entity_type": etype, "entity_id": eid,
            "actor": actor, "role": role, "before": json.loads(before) if before else None,
            "after": json.loads(after) if after else None}


def stored_rows(store) -> list[tuple]:
    return store.rows("SELECT name, value, set_by FROM settings_values ORDER BY name")


# -- validation: each kind, good and bad ------------------------------------------------------
@pytest.mark.parametrize("name,value,expected", [
    ("due_soon_days", 14, 14),
    ("due_soon_days", "21", 21),
    ("due_soon_days", 0, 0),
    ("reminder_scan_minutes", 1440, 1440),
    ("grade_major_subjects", "20,000,000", 20_000_000),
    ("cii_operator", True, True),
    ("cii_operator", "false", False),
    ("grade_important_data_floor", "major", "major"),
    ("daily_check_time", "07:05", "07:05"),
    ("reminder_incident_percents", "80, 50", (50, 80)),
    ("reminder_agreement_days", [0, 14], (0, 14)),
    ("reporting_unit", "示例科技有限公司", "示例科技有限公司"),
    ("pi_contact", "", ""),
])
def test_good_values_are_stored_and_in_force(store, name, value, expected):
    change = SS.set_value(store, DPO, name, value)
    assert getattr(store.settings, name) == expected
    assert store.settings.origin[name] == (STORE_ORIGIN if change.changed else "default")
    if change.changed:
        assert stored_rows(store) == [(name, json.dumps(
            list(expected) if isinstance(expected, tuple) else expected, ensure_ascii=False),
            DPO.name)]


@pytest.mark.parametrize("name,value,words", [
    ("due_soon_days", "soon", "“soon” is not a whole number of days"),
    ("due_soon_days", "2.5", "is not a whole number"),
    ("due_soon_days", 2.5, "is not a whole number"),
    ("due_soon_days", True, "is not a whole number"),
    ("due_soon_days", -3, "-3 is out of range: it must be at least 0 (days)"),
    ("reminder_scan_minutes", 0, "0 is out of range: it must be from 1 to 1,440 (minutes)"),
    ("reminder_scan_minutes", 5000, "5,000 is out of range"),
    ("cii_operator", "maybe", "“maybe” is neither true nor false"),
    ("grade_important_data_floor", "severe",
     "“severe” is not one of: General, Relatively major, Major, Particularly major"),
    ("daily_check_time", "8.30", "“8.30” is not a time of day as HH:MM"),
    ("daily_check_time", "24:00", "is not a time of day"),
    ("daily_check_time", "7:05", "is not a time of day"),
    ("reminder_incident_percents", "50, 80, 120", "120 is out of range: each value must be "
                                                  "from 1 to 100"),
    ("reminder_incident_percents", "50, x", "is not a list of whole numbers"),
    ("reminder_incident_percents", "50, 50", "gives a value twice"),
    ("reminder_incident_percents", " , ", "the list is empty"),
    ("pi_contact", "line one\nline two", "line break"),
    ("pi_contact", "x" * 501, "the text is 501 characters long; at most 500"),
    ("timezone", "UTC", "changed in the settings file or an environment variable only"),
    ("workday_calendar_file", "/etc/passwd", "not in the app"),
    ("no_such_setting", 1, "There is no setting named “no_such_setting”"),
])
def test_bad_values_are_refused_naming_the_setting_and_nothing_is_written(store, name, value,
                                                                        words):
    before = audit_count(store)
    with pytest.raises(SS.SettingValueError) as exc:
        SS.set_value(store, DPO, name, value)
    assert words in str(exc.value)
    assert str(exc.value).startswith(name) or name == "no_such_setting"
    assert audit_count(store) == before
    assert stored_rows(store) == []


def test_errors_are_in_the_readers_language(store):
    with i18n.using("zh_CN"), pytest.raises(SS.SettingValueError) as exc:
        SS.set_value(store, DPO, "reminder_scan_minutes", 0)
    assert str(exc.value) == "reminder_scan_minutes：0 超出范围：必须在 1 到 1,440 之间（分钟）。"
    with i18n.using("zh_CN"), pytest.raises(SS.SettingValueError) as exc:
        SS.set_value(store, DPO, "grade_important_data_floor", "severe")
    assert "一般、较大、重大、特别重大" in str(exc.value)


# -- who may ----------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [DPO, ADMIN], ids=lambda a: a.role)
def test_dpo_and_admin_may_change_a_setting(store, actor):
    SS.set_value(store, actor, "incident_stale_days", 10)
    assert store.settings.incident_stale_days == 10
    assert store.settings.stored["incident_stale_days"]["set_by"] == actor.name
    SS.reset_value(store, actor, "incident_stale_days")
    assert store.settings.incident_stale_days == 14


@pytest.mark.parametrize("actor", [MANAGER, AUDITOR], ids=lambda a: a.role)
def test_managers_and_auditors_may_not_and_nothing_is_written(store, actor):
    SS.set_value(store, DPO, "incident_stale_days", 10)
    before = audit_count(store)
    with pytest.raises(PermissionDenied):
        SS.set_value(store, actor, "incident_stale_days", 12)
    with pytest.raises(PermissionDenied):            # the role is checked before the value
        SS.set_value(store, actor, "incident_stale_days", "nonsense")
    with pytest.raises(PermissionDenied):
        SS.reset_value(store, actor, "incident_stale_days")
    assert audit_count(store) == before
    assert store.settings.incident_stale_days == 10


# -- the audit entry --------------------------------------------------------------------------
def test_one_audit_entry_with_before_and_after(store):
    n = audit_count(store)
    SS.set_value(store, DPO, "user_notice_hours", 12)
    assert audit_count(store) == n + 1
    entry = last_entry(store)
    assert entry["action"] == "settings.set" and entry["entity_type"] == "settings"
    assert entry["entity_id"] == "user_notice_hours"
    assert (entry["actor"], entry["role"]) == (DPO.name, "dpo")
    assert entry["before"] == {"value": 24, "from": "default"}
    assert entry["after"] == {"value": 12, "from": "store", "set_by": DPO.name,
                              "set_at": FROZEN_NOW.isoformat()}
    SS.set_value(store, ADMIN, "user_notice_hours", 6)
    entry = last_entry(store)
    assert entry["before"] == {"value": 12, "from": "store", "set_by": DPO.name,
                               "set_at": FROZEN_NOW.isoformat()}
    assert entry["after"]["value"] == 6 and entry["after"]["set_by"] == ADMIN.name
    SS.reset_value(store, DPO, "user_notice_hours")
    entry = last_entry(store)
    assert entry["action"] == "settings.reset"
    assert entry["before"]["value"] == 6 and entry["before"]["from"] == "store"
    assert entry["after"] == {"value": 24, "from": "default"}
    assert audit_count(store) == n + 3
    assert stored_rows(store) == []
    from dashboard import audit
    assert audit.verify(store).ok


def test_an_unchanged_value_writes_nothing(store):
    n = audit_count(store)
    change = SS.set_value(store, DPO, "due_soon_days", 30)       # the default
    assert not change.changed and audit_count(store) == n
    SS.set_value(store, DPO, "due_soon_days", 20)
    assert not SS.set_value(store, DPO, "due_soon_days", "20").changed
    assert audit_count(store) == n + 1


def test_reset_without_a_value_in_the_app_is_refused(store):
    n = audit_count(store)
    with pytest.raises(SS.SettingValueError, match="has no value set in the app"):
        SS.reset_value(store, DPO, "due_soon_days")
    assert audit_count(store) == n


def test_a_list_value_is_audited_as_a_list(store):
    SS.set_value(store, DPO, "reminder_agreement_days", "7, 30")
    entry = last_entry(store)
    assert entry["before"]["value"] == [30, 7, 0]          # the default, as written
    assert entry["after"]["value"] == [7, 30]


# -- precedence: default < app < file < environment ---------------------------------------
def _file(tmp_path, text: str):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return path


def test_the_settings_file_wins_and_a_change_in_the_app_is_refused(tmp_path):
    path = _file(tmp_path, "[settings]\ndue_soon_days = 14\n")
    store = make_store(tmp_path / "f.duckdb", settings=load_settings(path, environ={}))
    n = audit_count(store)
    with pytest.raises(SS.SettingValueError) as exc:
        SS.set_value(store, DPO, "due_soon_days", 7)
    assert f"set by the settings file {path}" in str(exc.value)
    assert "would have no effect" in str(exc.value)
    assert audit_count(store) == n and stored_rows(store) == []
    # another setting is not in the file: the app's value is in force
    SS.set_value(store, DPO, "due_urgent_days", 3)
    assert (store.settings.due_urgent_days, store.settings.origin["due_urgent_days"]) == \
        (3, STORE_ORIGIN)
    store.close()


def test_the_environment_wins_over_the_file_and_the_app(tmp_path):
    path = _file(tmp_path, "[settings]\n")
    environ = {"COMPLIANCE_SETTINGS": str(path), "COMPLIANCE_DUE_SOON_DAYS": "9"}
    store = make_store(tmp_path / "e.duckdb", settings=load_settings(environ=environ))
    with pytest.raises(SS.SettingValueError, match="environment variable "
                                                   "COMPLIANCE_DUE_SOON_DAYS, which wins"):
        SS.set_value(store, ADMIN, "due_soon_days", 7)
    assert store.settings.due_soon_days == 9
    store.close()


def test_a_value_set_before_the_file_named_it_is_kept_but_not_in_force(tmp_path):
    store = make_store(tmp_path / "k.duckdb")
    SS.set_value(store, DPO, "due_soon_days", 7)
    store.close()
    path = _file(tmp_path, "[settings]\ndue_soon_days = 14\n")
    store = Store(tmp_path / "k.duckdb", settings=load_settings(path, environ={}),
                  clock=lambda: FROZEN_NOW)
    assert store.settings.due_soon_days == 14
    assert store.settings.origin["due_soon_days"] == str(path)
    assert store.settings.stored["due_soon_days"]["value"] == 7     # shown, not in force
    SS.reset_value(store, DPO, "due_soon_days")                     # clearing it is allowed
    entry = last_entry(store)
    assert entry["before"]["in_force"] is False
    assert entry["after"] == {"value": 14, "from": str(path)}
    assert "due_soon_days" not in store.settings.stored
    store.close()


def test_settings_given_by_the_caller_win_over_the_app(tmp_path):
    store = make_store(tmp_path / "c.duckdb", settings=Settings({"due_soon_days": 10}))
    with pytest.raises(SS.SettingValueError, match="start-up arguments"):
        SS.set_value(store, DPO, "due_soon_days", 7)
    store.close()


def test_load_settings_without_a_store_still_works():
    s = load_settings(environ={})
    assert s.due_soon_days == 30 and s.origin["due_soon_days"] == "default"
    assert s.stored == {}


# -- the store: reopen, other Store objects, before the migration --------------------------
def test_a_reopened_store_keeps_the_value(tmp_path):
    store = make_store(tmp_path / "r.duckdb")
    SS.set_value(store, DPO, "grade_important_data_floor", "major")
    SS.set_value(store, DPO, "reminder_incident_percents", "25, 100")
    store.close()
    again = Store(tmp_path / "r.duckdb", settings=Settings(), clock=lambda: FROZEN_NOW)
    assert again.settings.grade_important_data_floor == "major"
    assert again.settings.reminder_incident_percents == (25, 100)
    assert again.settings.origin["grade_important_data_floor"] == STORE_ORIGIN
    info = again.settings.stored["grade_important_data_floor"]
    assert info["set_by"] == DPO.name and info["set_at"] == FROZEN_NOW
    again.close()
    ro = Store(tmp_path / "r.duckdb", read_only=True, settings=Settings())
    assert ro.settings.grade_important_data_floor == "major"
    ro.close()


def test_another_store_object_on_the_file_sees_the_change_at_once(store):
    other = Store(store.path, settings=Settings(), clock=lambda: FROZEN_NOW)
    assert other.settings.due_soon_days == 30
    SS.set_value(store, DPO, "due_soon_days", 12)
    assert other.settings.due_soon_days == 12
    SS.reset_value(other, ADMIN, "due_soon_days")
    assert store.settings.due_soon_days == 30


def test_a_store_value_the_code_no_longer_accepts_is_ignored_and_reported(store):
    with store.write(DPO, "settings.manage") as w:      # as an older version might have
        w.execute("INSERT INTO settings_values VALUES ('reminder_scan_minutes', '0', ?, ?)",
                  [w.at, "dpo.li"])
        w.audit("settings.set", "settings", "reminder_scan_minutes")
    assert store.settings.reminder_scan_minutes == 5
    assert "out of range" in store.settings.store_errors["reminder_scan_minutes"]
    SS.reset_value(store, DPO, "reminder_scan_minutes")
    assert store.settings.store_errors == {}


def test_a_store_before_the_migration_opens_and_refuses_plainly(tmp_path):
    bare = Store(tmp_path / "bare.duckdb", settings=Settings(), clock=lambda: FROZEN_NOW)
    assert bare.settings.due_soon_days == 30            # no table: the defaults
    from conftest import SYSTEM
    bare.migrate(SYSTEM)                                # 0020 creates it: read at once
    SS.set_value(bare, DPO, "due_soon_days", 11)
    assert bare.settings.due_soon_days == 11
    bare.close()


def test_a_store_without_the_table_refuses_a_change(tmp_path, monkeypatch):
    from dashboard import store as store_module
    real = store_module.migrations
    monkeypatch.setattr(store_module, "migrations",
                        lambda: [m for m in real() if m.version < 20])
    s = make_store(tmp_path / "old.duckdb")
    n = audit_count(s)
    with pytest.raises(StoreError, match="dashboard init"):
        SS.set_value(s, DPO, "due_soon_days", 11)
    assert audit_count(s) == n
    s.close()


# -- the effect on rules at once --------------------------------------------------------------
def test_the_next_evaluation_uses_a_value_saved_in_the_app(demo_store):
    before = engine.check_summary(demo_store, DEMO_AS_OF)
    version = demo_store.input_version
    SS.set_value(demo_store, DPO, "processor_assessment_days", 90)
    assert demo_store.input_version == version + 1           # the rules' inputs changed
    after = engine.check_summary(demo_store, DEMO_AS_OF)
    assert after.settings["processor_assessment_days"] == 90
    assert after.finding_total > before.finding_total
    rules = after.rule_scores.set_index("rule_id")["failing"]
    was = before.rule_scores.set_index("rule_id")["failing"]
    assert rules["PROC-ASSESSMENT"] > was["PROC-ASSESSMENT"]
    assert (rules.drop("PROC-ASSESSMENT") == was.drop("PROC-ASSESSMENT")).all()
    SS.set_value(demo_store, DPO, "due_soon_days", 7)
    fewer_due = engine.check_summary(demo_store, DEMO_AS_OF)
    assert fewer_due.due_total < after.due_total
    SS.reset_value(demo_store, DPO, "processor_assessment_days")
    SS.reset_value(demo_store, DPO, "due_soon_days")
    again = engine.check_summary(demo_store, DEMO_AS_OF)
    assert (again.finding_total, again.due_total) == (before.finding_total, before.due_total)


def test_the_overview_shows_the_effect_at_once(demo_db, monkeypatch):
    at = app_test(demo_db, MANAGER, monkeypatch, page="overview")
    assert not at.exception

    def open_findings(at):
        return next(m.value for m in at.metric if m.label == "Open findings")

    shown = open_findings(at)
    with Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW) as store:
        SS.set_value(store, DPO, "processor_assessment_days", 90)
    at.run()
    assert not at.exception
    assert int(open_findings(at).replace(",", "")) > int(shown.replace(",", ""))


# -- the Settings page --------------------------------------------------------------------------
def _page(db, actor, monkeypatch, locale=None):
    at = app_test(db, actor, monkeypatch, page="settings", locale=locale)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _choose(at, name):
    at.selectbox(key="setting_to_change").select(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _save(at, label="Save"):
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_edits_a_value(store, monkeypatch):
    at = _choose(_page(store.path, DPO, monkeypatch), "incident_stale_days")
    markdown = " ".join(shown(m.value) for m in at.markdown)
    assert "**In force:** 14, default. **Default:** 14." in markdown
    assert any("Legal source: Policy 7.2" in shown(c.value) for c in at.caption)
    field = at.number_input(key="setting_value_incident_stale_days")
    assert field.label == "New value (days)"
    field.set_value(10)
    _save(at)
    assert [shown(s.value) for s in at.success] == [
        "incident_stale_days is now 10 (was 14), set in the app; the checks use it from "
        "now on."]
    assert store.settings.incident_stale_days == 10
    assert last_entry(store)["action"] == "settings.set"
    table = at.dataframe[0].value.set_index("setting")
    assert table.loc["incident_stale_days", "value"] == "10"
    assert table.loc["incident_stale_days", "from"] == "set in the app"
    markdown = " ".join(shown(m.value) for m in at.markdown)
    assert "set in the app by dpo.li on 24 Nov 2026 10:00" in markdown
    # and back: the reset button
    _save(at, "Remove the value set in the app (back to 14, default)")
    assert store.settings.incident_stale_days == 14
    assert last_entry(store)["action"] == "settings.reset"


def test_the_page_shows_the_error_under_the_field_and_saves_nothing(store, monkeypatch):
    at = _choose(_page(store.path, ADMIN, monkeypatch), "daily_check_time")
    n = audit_count(store)
    at.text_input(key="setting_value_daily_check_time").input("8.30")
    _save(at)
    assert len(at.error) == 1
    assert "is not a time of day as HH:MM" in shown(at.error[0].value)
    assert not at.success
    assert audit_count(store) == n and stored_rows(store) == []
    assert any("next start" in shown(i.value) for i in at.info)   # read when the server starts
    # a list, a choice and a switch
    _choose(at, "reminder_incident_percents")
    at.text_input(key="setting_value_reminder_incident_percents").input("50, 80, 120")
    _save(at)
    assert "120 is out of range" in shown(at.error[0].value)
    _choose(at, "grade_important_data_floor")
    at.selectbox(key="setting_value_grade_important_data_floor").select("major")
    _save(at)
    assert store.settings.grade_important_data_floor == "major"
    _choose(at, "cii_operator")
    at.checkbox(key="setting_value_cii_operator").check()
    _save(at)
    assert store.settings.cii_operator is True


def test_the_page_says_which_value_wins(tmp_path, monkeypatch):
    path = _file(tmp_path, "[settings]\ndue_soon_days = 14\n")
    monkeypatch.setenv("COMPLIANCE_SETTINGS", str(path))
    monkeypatch.setenv("COMPLIANCE_DUE_URGENT_DAYS", "3")
    store = make_store(tmp_path / "w.duckdb")
    at = _choose(_page(store.path, DPO, monkeypatch), "due_soon_days")
    assert any(f"set by the settings file {path}" in shown(w.value)
               for w in at.warning)
    assert not [b for b in at.button if b.label == "Save"]
    table = at.dataframe[0].value.set_index("setting")
    assert table.loc["due_soon_days", "from"] == f"settings file {path}"
    assert table.loc["due_urgent_days", "from"] == "environment variable " \
                                                   "COMPLIANCE_DUE_URGENT_DAYS"
    _choose(at, "timezone")
    assert any("only, not in the app" in shown(i.value) for i in at.info)
    store.close()


@pytest.mark.parametrize("actor", [MANAGER, AUDITOR], ids=lambda a: a.role)
def test_managers_and_auditors_see_the_values_read_only(store, monkeypatch, actor):
    at = _page(store.path, actor, monkeypatch)
    assert not [w for w in at.selectbox if w.key == "setting_to_change"]
    assert not [b for b in at.button if b.label == "Save"]
    assert at.dataframe[0].value.shape[0] > 40
    assert any("A DPO or an administrator can change" in shown(c.value) for c in at.caption)


def test_the_page_in_chinese(store, monkeypatch):
    at = _choose(_page(store.path, DPO, monkeypatch, locale="zh_CN"), "daily_check_time")
    n = audit_count(store)
    at.text_input(key="setting_value_daily_check_time").input("25:00")
    _save(at, "保存")
    assert shown(at.error[0].value) == ("daily_check_time：“25:00”不是 HH:MM 格式（24 小时制）"
                                        "的时刻，例如 08:30。")
    assert audit_count(store) == n and stored_rows(store) == []
    _choose(at, "reminder_scan_minutes")
    assert any("**生效值：**5，默认值。" in m.value for m in at.markdown)
    field = at.number_input(key="setting_value_reminder_scan_minutes")
    assert field.label == "新值（分钟）"
    field.set_value(10)
    _save(at, "保存")
    assert [shown(s.value) for s in at.success] == [
        "reminder_scan_minutes 现为 10（原为 5），已在应用中设置；检查从现在起使用该值。"]
    assert store.settings.reminder_scan_minutes == 10
    assert any("由 dpo.li 于 2026年11月24日 10:00 北京时间 在应用中设置" in shown(m.value)
               for m in at.markdown), [m.value for m in at.markdown]
    table = at.dataframe[0].value.set_index("setting")
    assert table.loc["reminder_scan_minutes", "from"] == "在应用中设置"


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_setting_in_the_picker_shows_no_raw_code(store, monkeypatch, locale):
    """The sweep of tests/test_i18n.py sees the first setting only: here every one, with a
    value set in the app for some."""
    from screen_text import raw_codes
    from dashboard.settings import SPECS
    SS.set_value(store, DPO, "grade_important_data_floor", "particularly_major")
    SS.set_value(store, ADMIN, "cii_operator", True)
    at = _page(store.path, DPO, monkeypatch, locale=locale)
    for spec in SPECS:
        _choose(at, spec.name)
        codes = raw_codes(at)
        assert not codes, (spec.name, locale, sorted(codes))


def test_the_page_shows_the_effect_on_the_rules_at_once(demo_db, monkeypatch):
    at = _choose(_page(demo_db, DPO, monkeypatch), "processor_assessment_days")

    def assessment_line(at):
        text = " ".join(shown(m.value) for m in at.markdown)
        assert "Rules that read this setting" in text
        import re
        found = re.search(r"\*\*PROC-ASSESSMENT\*\* [^:]+: ([0-9,]+) open findings", text)
        assert found, text
        return int(found.group(1).replace(",", ""))

    before = assessment_line(at)
    at.number_input(key="setting_value_processor_assessment_days").set_value(90)
    _save(at)
    assert at.success
    assert assessment_line(at) > before
    _choose(at, "session_idle_minutes")
    assert any("No compliance rule reads this setting." in shown(c.value) for c in at.caption)
    _choose(at, "due_soon_days")
    assert any("items fall due within 30 days now" in shown(m.value) for m in at.markdown)


# -- the command line ----------------------------------------------------------------------
def test_the_command_line_shows_sets_and_resets(store, monkeypatch):
    import io

    from dashboard.cli import main
    path = str(store.path)
    monkeypatch.delenv("COMPLIANCE_DUE_SOON_DAYS", raising=False)

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        code = main([*argv, "--db", path], out, err)
        return code, out.getvalue(), err.getvalue()

    store.close()                      # the command line opens the file itself
    code, out, _err = run("settings", "set", "due_soon_days", "14")
    assert code == 0 and "due_soon_days = 14 (was 30, from default)" in out
    code, _out, err = run("settings", "set", "due_soon_days", "soon")
    assert code == 2 and "“soon” is not a whole number of days" in err
    code, out, _err = run("settings", "show")
    assert code == 0
    assert "due_soon_days = 14  [set in the app by cli:" in out
    assert "cii_operator = false  [default]" in out
    monkeypatch.setenv("COMPLIANCE_DUE_SOON_DAYS", "5")
    code, _out, err = run("settings", "set", "due_soon_days", "3")
    assert code == 2 and "environment variable COMPLIANCE_DUE_SOON_DAYS, which wins" in err
    code, out, _err = run("settings", "show")
    assert "due_soon_days = 5  [environment COMPLIANCE_DUE_SOON_DAYS (a value set in the app " \
           "is not in force)]" in out
    monkeypatch.delenv("COMPLIANCE_DUE_SOON_DAYS")
    code, out, _err = run("settings", "reset", "due_soon_days")
    assert code == 0 and "30 from default is in force" in out
    code, _out, err = run("settings", "reset", "due_soon_days")
    assert code == 2 and "has no value set in the app" in err
    with Store(path, settings=Settings()) as again:
        actions = [r[0] for r in again.rows(
            "SELECT action FROM audit_log WHERE entity_type = 'settings' ORDER BY seq")]
        assert actions == ["settings.set", "settings.reset"]

"""Issue 17, the admin area in Chinese: the sign-in page (and its error messages), the
sidebar's language switcher remembered per account, the browser's language, the Users and
Settings pages, and the service messages those pages show (English on the command line)."""
from __future__ import annotations

import re

import pytest

from dashboard import access, accounts, i18n, sessions, settings, tokens
from dashboard.access import Actor, PermissionDenied
from dashboard.settings import Settings

from conftest import ADMIN, AUDITOR, DPO, MANAGER, SYSTEM, app_test, make_store

PASSWORD = "Sesame-Open-42!"
CHINESE_FAILED = "登录失败：用户名或密码错误"

pytestmark = pytest.mark.usefixtures("cheap_hasher")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_LOGIN_MAX_FAILURES", "3")
    s = make_store(tmp_path / "i18n.duckdb", settings=Settings())
    accounts.create_user(s, SYSTEM, "boss", "admin", PASSWORD, display_name="Zhao Boss")
    accounts.create_user(s, SYSTEM, "li", "dpo", PASSWORD)
    yield s
    s.close()


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def everything(at) -> str:
    """Every text of a page run a reader sees (not the tables: see ``cells``)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "error", "success"):
        parts += texts(getattr(at, kind))
    parts += [m.label for m in at.metric] + [b.label for b in at.button]
    parts += [t.label for t in at.tabs] + [e.label for e in at.expander]
    return "\n".join(str(p) for p in parts)


def cells(frame, columns) -> set[str]:
    return {str(v) for c in columns if c in frame.columns for v in frame[c].tolist()}


def sign_in(at, username: str, password: str):
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    next(b for b in at.button if b.label in ("Sign in", "登录")).click().run()
    return at


def has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


# -- the sign-in page -------------------------------------------------------------------------
def test_sign_in_page_in_chinese_with_its_error_messages(store, monkeypatch):
    at = app_test(store.path, None, monkeypatch, locale="zh_CN")
    assert not at.exception
    assert texts(at.title) == ["登录"]
    assert "个人信息保护合规：登录后可查看您的角色权限范围内的内容。" in texts(at.caption)
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert at.selectbox(key="language_choice").value == "zh_CN"
    # nothing typed
    sign_in(at, "", "")
    assert texts(at.error) == ["请输入用户名和密码。"]
    # a wrong password: the one message, in Chinese
    sign_in(at, "li", "wrong-password-1")
    assert at.error[0].value.startswith(CHINESE_FAILED), at.error[0].value
    # paused after too many failures (COMPLIANCE_LOGIN_MAX_FAILURES=3): the same message
    for n in range(3):
        sign_in(at, "li", f"wrong-password-{n + 2}")
    sign_in(at, "li", PASSWORD)
    assert at.error and at.error[0].value.startswith(CHINESE_FAILED)
    assert "Sign-in failed" not in everything(at)
    # the English page is unchanged
    en = app_test(store.path, None, monkeypatch)
    assert texts(en.title) == ["Sign in"] and [t.label for t in en.text_input] == [
        "Username", "Password"]


def test_a_session_ended_notice_and_the_sidebar_in_chinese(store, monkeypatch):
    at = app_test(store.path, None, monkeypatch, locale="zh_CN")
    sign_in(at, "boss", PASSWORD)
    assert not at.exception and not at.error
    sidebar = "\n".join(texts(at.sidebar.caption))
    assert "当前登录：**Zhao Boss (boss)** · 管理员" in sidebar, sidebar
    assert "退出登录" in [b.label for b in at.sidebar.button]
    # section names and page titles of the navigation are translated by app.py
    at.button(key="sign_out").click().run()
    assert "您已退出登录。" in [i.value for i in at.info], texts(at.info)
    # an administrator's change ends the session: the reason, in Chinese, on the sign-in page
    sign_in(at, "li", PASSWORD)
    accounts.set_role(store, SYSTEM, "li", "auditor")
    at.run()
    notice = " ".join(texts(at.info))
    assert "管理员已更改您的角色（由个人信息保护负责人改为审计员）。请重新登录。" in notice, notice


# -- the language switcher, remembered per account ------------------------------------------
def test_switching_to_chinese_rerenders_and_the_account_remembers_it(store, monkeypatch):
    at = app_test(store.path, None, monkeypatch)
    assert texts(at.title) == ["Sign in"]
    sign_in(at, "boss", PASSWORD)
    assert "Overview" in texts(at.title) or not at.exception
    assert accounts.preferred_locale(store, "boss") is None
    at.selectbox(key="language_choice").set_value("zh_CN").run()
    assert not at.exception
    assert has_cjk(" ".join(texts(at.sidebar.caption)))
    assert "退出登录" in [b.label for b in at.sidebar.button]
    assert accounts.preferred_locale(store, "boss") == "zh_CN"
    audit = store.rows("SELECT actor, action, entity_id, values_after FROM audit_log "
                       "WHERE action = 'user.set_locale'")
    assert [(a, b, c) for a, b, c, _d in audit] == [("boss", "user.set_locale", "boss")]
    assert "zh_CN" in str(audit[0][3])
    # a new session of the same account opens in Chinese: from its session cookie (the
    # actor known on the first run) ...
    again = app_test(store.path, Actor("boss", "admin"), monkeypatch, page="users")
    assert texts(again.title) == ["用户"], texts(again.title)
    assert again.selectbox(key="language_choice").value == "zh_CN"
    # ... and through the sign-in form of a browser that names no language
    fresh = app_test(store.path, None, monkeypatch)
    assert texts(fresh.title) == ["Sign in"]
    sign_in(fresh, "boss", PASSWORD)
    fresh.switch_page(str(i18n.ROOT / "pages" / "users.py")).run()
    assert texts(fresh.title) == ["用户"], texts(fresh.title)
    # another account is not affected
    other = app_test(store.path, Actor("li", "dpo"), monkeypatch, page="settings")
    assert texts(other.title) == ["Settings"]
    # back to English: remembered too
    again.selectbox(key="language_choice").set_value("en").run()
    assert texts(again.title) == ["Users"] and accounts.preferred_locale(store, "boss") == "en"


def test_the_browser_language_decides_when_nothing_is_chosen(store, monkeypatch):
    from dashboard import ui
    monkeypatch.setattr(ui, "_browser_locale", lambda: "zh_CN")
    at = app_test(store.path, None, monkeypatch)
    assert texts(at.title) == ["登录"] and at.selectbox(key="language_choice").value == "zh_CN"
    # an account's remembered choice wins over the browser's
    accounts.set_locale(store, Actor("li", "dpo"), "li", "en")
    at = app_test(store.path, Actor("li", "dpo"), monkeypatch, page="settings")
    assert texts(at.title) == ["Settings"]
    # and the sidebar's choice over both
    at = app_test(store.path, Actor("li", "dpo"), monkeypatch, page="settings", locale="zh_CN")
    assert texts(at.title) == ["设置"]
    monkeypatch.setattr(ui, "_browser_locale", lambda: None)
    assert texts(app_test(store.path, None, monkeypatch).title) == ["Sign in"]


def test_a_refused_page_says_so_in_chinese(store, monkeypatch):
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("COMPLIANCE_DB", str(store.path))
    at = AppTest.from_file(str(i18n.ROOT / "pages" / "users.py"), default_timeout=60)
    at.session_state["locale"] = "zh_CN"
    at.run()
    assert texts(at.error) == ["无法打开 **用户**：您尚未登录。"]
    at = AppTest.from_file(str(i18n.ROOT / "pages" / "users.py"), default_timeout=60)
    at.session_state["locale"] = "zh_CN"
    at.session_state["actor"] = Actor("li", "dpo")
    at.run()
    assert texts(at.error) == ["无法打开 **用户**：您的角色（个人信息保护负责人）无权访问该页面。"]


# -- the Users page ---------------------------------------------------------------------------
ROLE_CODES = {"dpo", "manager", "auditor", "admin"}
STATUS_CODES = {"active", "locked", "disabled", "revoked"}


def test_users_page_in_chinese(store, monkeypatch):
    tokens.create_token(store, SYSTEM, "siem", "auditor", "SOC")
    for n in range(5):       # this store object has the default settings: 5 failures
        with pytest.raises(accounts.AuthError):
            accounts.authenticate(store, "li", f"wrong-password-{n}", address="10.0.0.9")
    at = app_test(store.path, Actor("boss", "admin"), monkeypatch, page="users",
                  locale="zh_CN")
    assert not at.exception
    shown = everything(at)
    assert texts(at.title) == ["用户"]
    for words in ("添加用户", "修改用户", "API 令牌", "创建令牌"):
        assert words in shown, words
    users = at.dataframe[0].value
    assert not cells(users, ["role", "status"]) & (ROLE_CODES | STATUS_CODES)
    assert {"管理员", "个人信息保护负责人"} <= cells(users, ["role"])
    assert {"登录已暂停", "有效"} <= cells(users, ["status"])
    listed = at.dataframe[1].value
    assert cells(listed, ["role"]) == {"审计员"} and not cells(listed, ["status"]) & STATUS_CODES
    assert at.selectbox(key="add_role").options == ["个人信息保护负责人", "经理", "审计员", "管理员"]
    assert not re.search(r"\b(dpo|manager|auditor|admin|locked|active)\b",
                         " ".join(texts(at.caption)))
    # an error from accounts, in Chinese
    at.text_input(key="add_username").input("chen")
    at.text_input(key="add_password").input("short")
    at.text_input(key="add_password2").input("short")
    next(b for b in at.button if b.label == "添加用户").click().run()
    assert texts(at.error) == ["密码太短：至少需要 12 个字符。未保存任何内容。"]
    at.text_input(key="add_password").input("Jade-Lantern-Orbit-7")
    at.text_input(key="add_password2").input("Jade-Lantern-Orbit-7")
    at.selectbox(key="add_role").select("auditor")
    next(b for b in at.button if b.label == "添加用户").click().run()
    assert "已添加 chen，角色为审计员。" in texts(at.success), texts(at.success)
    # the values behind the select boxes stay codes
    assert accounts.get_user(store, "chen")["role"] == "auditor"
    # the English page shows words too
    en = app_test(store.path, Actor("boss", "admin"), monkeypatch, page="users")
    users = en.dataframe[0].value
    assert not cells(users, ["role", "status"]) & (ROLE_CODES | STATUS_CODES)
    assert {"Administrator", "Sign-in paused", "Active"} <= cells(users, ["role", "status"])


# -- the Settings page ------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [DPO, MANAGER, AUDITOR, ADMIN], ids=lambda a: a.role)
def test_settings_page_in_chinese(demo_db, monkeypatch, actor):
    at = app_test(demo_db, actor, monkeypatch, page="settings", locale="zh_CN")
    assert not at.exception
    assert texts(at.title) == ["设置"]
    shown = everything(at)
    for words in ("截止时间和阈值", "通知渠道", "政策目录", "个人信息保护负责人", "审计员"):
        assert words in shown, words
    table = at.dataframe[0].value.set_index("setting")
    row = table.loc["regulator_report_hours"]
    assert row["unit"] == "小时"
    assert row["source"] == "《网络安全事件报告管理办法》（2025年）第四条"
    assert "省级网信部门" in row["meaning"]
    assert table.loc["dsr_response_working_days", "unit"] == "工作日"
    assert table.loc["grade_major_loss_cny", "unit"] == "元"
    assert table.loc["grade_major_subjects", "unit"] == "人"
    assert "第五十七条" in table.loc["user_notice_hours", "source"]
    assert table.loc["grade_important_data_floor", "value"] == "较大"
    assert table.loc["due_soon_days", "from"] == "默认值"
    assert not has_cjk("".join(table.index))          # the names a settings file uses
    for column in ("unit", "source", "meaning"):
        untranslated = [n for n, v in table[column].items() if v and not has_cjk(v)
                        and v not in ("%",)]
        assert not untranslated, (column, untranslated)
    assert "relatively_major" not in cells(table, ["value", "default"])
    categories = at.dataframe[1].value
    assert "身份证号" in categories["label"].tolist()
    purposes = at.dataframe[2].value
    assert "身份验证" in purposes["label"].tolist() or has_cjk(" ".join(purposes["label"]))


# -- service messages: Chinese in the app, English on the command line ----------------------
def test_service_messages_in_chinese_and_english():
    with pytest.raises(accounts.AccountError) as exc:
        accounts.validate_password("short", "li")
    assert str(exc.value) == "password is too short: it must be at least 12 characters long"
    with i18n.using("zh_CN"), pytest.raises(accounts.AccountError) as exc:
        accounts.validate_password("short", "li")
    assert str(exc.value) == "密码太短：至少需要 12 个字符"
    with i18n.using("zh_CN"), pytest.raises(accounts.AccountError) as exc:
        accounts.validate_password("li-is-my-name-really", "li")
    assert str(exc.value) == "密码不能包含用户名"
    with i18n.using("zh_CN"), pytest.raises(accounts.AccountError) as exc:
        accounts.validate_role("boss")
    assert "管理员（admin）" in str(exc.value) and str(exc.value).startswith("角色 'boss' 无效")
    with i18n.using("zh_CN"), pytest.raises(PermissionDenied) as exc:
        access.require(Actor("wang", "manager"), "user.manage")
    assert str(exc.value) == ("wang 的角色为经理，不得执行“管理用户账号”；需要以下角色之一："
                              "管理员。")
    with pytest.raises(PermissionDenied) as exc:
        access.require(Actor("wang", "manager"), "user.manage")
    assert str(exc.value) == ("Manage user accounts is not allowed for wang, whose role is "
                              "manager; it needs one of: admin.")
    with i18n.using("zh_CN"), pytest.raises(tokens.TokenError) as exc:
        tokens.validate_name("SIEM <b>")
    assert str(exc.value).startswith("令牌名称 'SIEM <b>' 无效")


def test_sign_in_errors_and_session_endings_in_chinese(store):
    with i18n.using("zh_CN"):
        with pytest.raises(accounts.AuthError) as exc:
            accounts.authenticate(store, "li", "wrong-password")
        assert str(exc.value).startswith(CHINESE_FAILED)
        with pytest.raises(sessions.SessionEnded) as ended:
            sessions.read_cookie(store, None)
        assert str(ended.value) == "您的会话已结束。请重新登录。"
    with pytest.raises(accounts.AuthError) as exc:
        accounts.authenticate(store, "li", "wrong-password")
    assert str(exc.value) == accounts.SIGN_IN_FAILED
    with pytest.raises(sessions.SessionEnded) as ended:
        sessions.read_cookie(store, None)
    assert str(ended.value) == "Your session has ended. Sign in again."


def test_the_documents_tables_stay_english_whatever_the_locale():
    english = access.role_matrix_markdown(), settings.settings_table_markdown()
    with i18n.using("zh_CN"):
        assert (access.role_matrix_markdown(), settings.settings_table_markdown()) == english
    assert not has_cjk(english[0])


def test_every_admin_message_has_a_chinese_translation():
    mine = ("dashboard/ui.py", "dashboard/navigation.py", "dashboard/access.py",
            "dashboard/accounts.py", "dashboard/sessions.py", "dashboard/settings.py",
            "dashboard/tokens.py", "dashboard/notify.py", "pages/sign_in.py",
            "pages/users.py", "pages/settings.py")
    missing = set(i18n.missing_translations())
    untranslated = [m.id for m in i18n.extract()
                    if m.id and (m.id if isinstance(m.id, str) else m.id[0]) in missing
                    and any(loc[0] in mine for loc in m.locations)]
    assert not untranslated


def test_an_idle_session_and_an_empty_store_are_explained_in_chinese(store, tmp_path,
                                                                     monkeypatch):
    import datetime as dt

    from streamlit.testing.v1 import AppTest

    from conftest import FROZEN_NOW
    monkeypatch.setenv("COMPLIANCE_DB", str(store.path))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", FROZEN_NOW.isoformat())
    at = AppTest.from_file(str(i18n.ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.session_state["actor"] = Actor("li", "dpo")
    at.session_state["account"] = {"method": "password", "username": "li"}
    at.session_state["last_activity"] = FROZEN_NOW - dt.timedelta(hours=2)
    at.session_state["locale"] = "zh_CN"
    at.run()
    assert texts(at.title) == ["登录"]
    assert "您已 30 分钟无操作，会话已结束。请重新登录。" in texts(at.info), texts(at.info)
    empty = make_store(tmp_path / "empty.duckdb")
    empty.close()
    at = app_test(empty.path, None, monkeypatch, locale="zh_CN")
    assert at.warning[0].value.startswith("本数据库尚无账号。"), at.warning[0].value
    assert "`python -m dashboard user add NAME --role admin`" in at.warning[0].value

"""The app's sign-in, navigation per role, refused pages, idle timeout, sign-out,
the Users page and single sign-on mapping, driven through AppTest on app.py."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from dashboard import accounts, ui
from dashboard.access import ROLES, Actor
from dashboard.navigation import PAGE_BY_KEY, pages_for
from dashboard.settings import Settings

from conftest import FROZEN_NOW, SYSTEM, make_store, shown

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Sesame-Open-42!"
FAILED = accounts.SIGN_IN_FAILED


pytestmark = pytest.mark.usefixtures("cheap_hasher")   # conftest: fast Argon2


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("COMPLIANCE_LOGIN_LOCKOUT_MINUTES", "15")
    monkeypatch.setenv("COMPLIANCE_SESSION_IDLE_MINUTES", "30")
    s = make_store(tmp_path / "app.duckdb", settings=Settings())
    accounts.create_user(s, SYSTEM, "boss", "admin", PASSWORD, display_name="Zhao Boss")
    accounts.create_user(s, SYSTEM, "li", "dpo", PASSWORD, email="li@example.com")
    accounts.create_user(s, SYSTEM, "wang", "manager", PASSWORD)
    yield s
    s.close()


def new_app(store, monkeypatch, *, actor: Actor | None = None, secrets=None, user=None,
            session: dict | None = None) -> AppTest:
    monkeypatch.setenv("COMPLIANCE_DB", str(store.path))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", FROZEN_NOW.isoformat())
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    if secrets:
        at.secrets.update(secrets)
    if user is not None:
        at.user = user
    if actor is not None:
        at.session_state["actor"] = actor
    for key, value in (session or {}).items():
        at.session_state[key] = value
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    return at


def listed_pages(at: AppTest) -> set[str]:
    """The page files the last run registered with st.navigation (AppTest keeps them)."""
    return {Path(i["script_path"]).resolve().relative_to(ROOT).as_posix()
            for i in at._registered_pages.values() if i.get("script_path")}


def expected_pages(role: str) -> set[str]:
    return {p.path for p in pages_for(role) if (ROOT / p.path).exists()}


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def signed_in(at: AppTest) -> Actor | None:
    return at.session_state["actor"] if "actor" in at.session_state else None


def test_signed_out_session_sees_only_the_sign_in_page(store, monkeypatch):
    at = new_app(store, monkeypatch).run()
    assert not at.exception
    assert texts(at.title) == ["Sign in"]
    assert listed_pages(at) == {"pages/sign_in.py"}
    assert not at.warning          # the store has accounts: no "create an administrator" hint


def test_empty_store_says_how_to_create_the_first_administrator(tmp_path, monkeypatch):
    empty = make_store(tmp_path / "empty.duckdb")
    at = new_app(empty, monkeypatch).run()
    assert "user add NAME --role admin" in at.warning[0].value
    empty.close()


def test_good_password_signs_in_into_the_role_navigation(store, monkeypatch):
    at = sign_in(new_app(store, monkeypatch).run(), "Boss", PASSWORD)
    assert not at.exception and not at.error
    assert signed_in(at) == Actor("boss", "admin")
    assert listed_pages(at) == expected_pages("admin") and "pages/users.py" in listed_pages(at)
    assert "Signed in as **Zhao Boss (boss)**" in at.sidebar.caption[0].value
    assert at.session_state["last_activity"] == FROZEN_NOW
    assert store.rows("SELECT action, entity_id FROM audit_log ORDER BY seq DESC LIMIT 1") == [
        ("auth.sign_in", "boss")]


def test_bad_password_and_unknown_user_are_refused_alike(store, monkeypatch):
    at = sign_in(new_app(store, monkeypatch).run(), "boss", "not-the-password")
    assert texts(at.error) == [FAILED] and signed_in(at) is None
    at = sign_in(at, "nobody", "not-the-password")
    assert texts(at.error) == [FAILED] and signed_in(at) is None
    at = sign_in(at, "boss", "")
    assert texts(at.error) == ["Enter your username and your password."]


def test_a_pause_says_nothing_more_than_a_wrong_password(store, monkeypatch):
    at = new_app(store, monkeypatch).run()
    for n in range(3):
        sign_in(at, "wang", f"wrong-password-{n}")
        assert texts(at.error) == [FAILED]
    icon = at.error[0].proto.icon
    sign_in(at, "wang", PASSWORD)                 # paused: even the right password
    assert texts(at.error) == [FAILED] and at.error[0].proto.icon == icon
    assert signed_in(at) is None
    # The pause is for this client address: the same account elsewhere signs in.
    monkeypatch.setattr(ui, "client_address", lambda: "10.20.30.40")
    sign_in(at, "wang", PASSWORD)
    assert signed_in(at) == Actor("wang", "manager")


def test_the_sign_in_form_throttles_by_the_client_address(store, monkeypatch):
    monkeypatch.setattr(ui, "client_address", lambda: "203.0.113.7")
    at = new_app(store, monkeypatch).run()
    for n in range(3):
        sign_in(at, "wang", f"wrong-password-{n}")
    entry = store.rows("SELECT action, values_after FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    assert entry[0] == "auth.lockout" and '"address":"203.0.113.7"' in entry[1]


def test_disabled_account_gets_the_same_message(store, monkeypatch):
    accounts.disable_user(store, SYSTEM, "wang")
    at = sign_in(new_app(store, monkeypatch).run(), "wang", PASSWORD)
    assert texts(at.error) == [FAILED] and signed_in(at) is None


@pytest.mark.parametrize("role", ROLES)
def test_each_role_navigation_lists_only_its_pages(store, monkeypatch, role):
    at = new_app(store, monkeypatch, actor=Actor(f"t.{role}", role)).run()
    assert not at.exception
    assert listed_pages(at) == expected_pages(role)
    for spec in PAGE_BY_KEY.values():
        if not (ROOT / spec.path).exists():
            continue
        if role in spec.roles:
            at.switch_page(spec.script)        # registered: no error
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(spec.script)


def test_forbidden_page_reached_by_its_address_is_refused(store, monkeypatch):
    at = new_app(store, monkeypatch, actor=Actor("wang", "manager")).run()
    assert "pages/users.py" not in listed_pages(at)
    # What a browser asks for when it opens /users: that page's script hash.
    at._page_hash = calc_hash("users")
    at.run()
    # st.navigation knows no /users for a manager: Streamlit answers "page not found"
    # (a dialog in the browser) and runs the role's default page; nothing of Users runs.
    assert not at.exception
    assert "Users" not in texts(at.title)
    assert "Compliance overview" in texts(at.title)
    assert not any("add_username" == getattr(w, "key", None) for w in at.text_input)


def test_users_page_refuses_a_signed_out_session_when_run_on_its_own(store, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_DB", str(store.path))
    at = AppTest.from_file(str(ROOT / "pages" / "users.py"), default_timeout=60).run()
    assert texts(at.error) == ["**Users** is not available. You are not signed in."]
    assert not at.dataframe


def test_idle_session_is_signed_out_and_told_why(store, monkeypatch):
    at = new_app(store, monkeypatch, actor=Actor("li", "dpo"),
                 session={"last_activity": FROZEN_NOW - dt.timedelta(minutes=29)}).run()
    assert signed_in(at) == Actor("li", "dpo")
    assert at.session_state["last_activity"] == FROZEN_NOW      # activity moves the clock on
    at = new_app(store, monkeypatch, actor=Actor("li", "dpo"),
                 session={"last_activity": FROZEN_NOW - dt.timedelta(minutes=31)}).run()
    assert signed_in(at) is None
    assert texts(at.title) == ["Sign in"] and listed_pages(at) == {"pages/sign_in.py"}
    assert "ended after 30 minutes without activity" in at.info[0].value


def test_session_with_only_an_actor_counts_as_active_now(store, monkeypatch):
    at = new_app(store, monkeypatch, actor=Actor("li", "dpo")).run()
    assert signed_in(at) == Actor("li", "dpo") and not at.exception
    assert at.session_state["last_activity"] == FROZEN_NOW


def test_idle_timeout_also_holds_when_a_page_file_runs_directly(store, monkeypatch):
    at = sign_in(new_app(store, monkeypatch).run(), "boss", PASSWORD)
    at.switch_page(PAGE_BY_KEY["users"].script).run()
    assert "Users" in texts(at.title)
    at.session_state["last_activity"] = FROZEN_NOW - dt.timedelta(hours=2)
    at.run()
    assert signed_in(at) is None
    assert texts(at.title) == ["Sign in"] and not at.dataframe
    assert "without activity" in at.info[0].value


def test_sign_out_from_the_sidebar(store, monkeypatch):
    at = sign_in(new_app(store, monkeypatch).run(), "boss", PASSWORD)
    at.switch_page(PAGE_BY_KEY["users"].script).run()
    at.button(key="sign_out").click().run()
    assert signed_in(at) is None and "account" not in at.session_state
    assert texts(at.title) == ["Sign in"] and texts(at.info) == ["You signed out."]
    at.run()
    assert signed_in(at) is None


@pytest.mark.parametrize("change,message", [
    (lambda s: accounts.set_role(s, SYSTEM, "boss", "dpo"),
     "Your role was changed (from admin to dpo)"),
    (lambda s: accounts.reset_password(s, SYSTEM, "boss", "Another-Sesame-43!"),
     "Your password was changed"),
    (lambda s: accounts.disable_user(s, SYSTEM, "boss"), "disabled by an administrator"),
])
def test_a_role_change_password_reset_or_disabling_ends_the_open_session(store, monkeypatch,
                                                                        change, message):
    """Today a session survives a password reset, and a role change applies in it."""
    accounts.create_user(store, SYSTEM, "second", "admin", PASSWORD)
    at = sign_in(new_app(store, monkeypatch).run(), "boss", PASSWORD)
    at.switch_page(PAGE_BY_KEY["users"].script).run()
    assert "Users" in texts(at.title)
    change(store)
    at.run()
    assert signed_in(at) is None
    assert texts(at.title) == ["Sign in"] and not at.dataframe
    assert message in at.info[0].value


# -- the Users page --------------------------------------------------------------------
@pytest.fixture
def users_page(store, monkeypatch):
    at = sign_in(new_app(store, monkeypatch).run(), "boss", PASSWORD)
    return at.switch_page(PAGE_BY_KEY["users"].script).run()


def test_users_page_lists_accounts_without_hashes(users_page):
    df = users_page.dataframe[0].value
    assert set(df["username"]) == {"boss", "li", "wang"}
    assert "password_hash" not in df.columns


def test_users_page_adds_a_user(users_page, store):
    at = users_page
    at.text_input(key="add_username").input("Chen")
    at.text_input(key="add_display_name").input("Chen Jing")
    at.selectbox(key="add_role").select("auditor")
    at.text_input(key="add_password").input("short")
    at.text_input(key="add_password2").input("short")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert "at least 12 characters" in at.error[0].value and "Nothing was saved" in at.error[0].value
    assert accounts.get_user(store, "chen") is None
    at.text_input(key="add_password").input("password1234")
    at.text_input(key="add_password2").input("password1234")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert "common and breached" in at.error[0].value and accounts.get_user(store, "chen") is None
    at.text_input(key="add_password").input("Jade-Lantern-Orbit-7")
    at.text_input(key="add_password2").input("Jade-Lantern-Orbit-8")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert "differ" in at.error[0].value and accounts.get_user(store, "chen") is None
    at.text_input(key="add_password2").input("Jade-Lantern-Orbit-7")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert not at.error
    assert "Added chen as Auditor (auditor)." in texts(at.success)
    assert accounts.get_user(store, "chen")["display_name"] == "Chen Jing"
    assert store.rows("SELECT actor, action FROM audit_log ORDER BY seq DESC LIMIT 1") == [
        ("boss", "user.create")]


def test_users_page_disables_enables_resets_and_changes_role(users_page, store):
    at = users_page
    at.selectbox(key="change_user").select("wang").run()
    at.button(key="disable_user").click().run()
    assert accounts.get_user(store, "wang")["disabled"] is True
    at.selectbox(key="change_user").select("wang").run()
    at.button(key="enable_user").click().run()
    assert accounts.get_user(store, "wang")["disabled"] is False
    at.selectbox(key="change_user").select("wang").run()
    at.selectbox(key="new_role").select("auditor")
    next(b for b in at.button if b.label == "Change role").click().run()
    assert accounts.get_user(store, "wang")["role"] == "auditor"
    at.selectbox(key="change_user").select("wang").run()
    at.text_input(key="reset_password1").input("Copper-Kettle-Rain-9")
    at.text_input(key="reset_password2").input("Copper-Kettle-Rain-9")
    next(b for b in at.button if b.label == "Reset password").click().run()
    assert "was reset" in at.success[0].value
    assert accounts.authenticate(store, "wang", "Copper-Kettle-Rain-9") == Actor("wang", "auditor")
    at.selectbox(key="change_user").select("boss").run()
    at.button(key="disable_user").click().run()
    assert "cannot disable your own account" in at.error[0].value
    assert accounts.get_user(store, "boss")["disabled"] is False


def test_users_page_unlocks_an_account(users_page, store):
    at = users_page
    at.selectbox(key="change_user").select("wang").run()
    assert not [b for b in at.button if b.key == "unlock_user"]     # nothing to unlock
    for n in range(5):       # this store object has the default settings: 5 failures
        with pytest.raises(accounts.AuthError):
            accounts.authenticate(store, "wang", f"wrong-password-{n}", address="10.0.0.9")
    at.run()
    at.selectbox(key="change_user").select("wang").run()
    row = at.dataframe[0].value.set_index("username").loc["wang"]
    assert row["status"] == "Sign-in paused" and row["failed_attempts"] == 5
    at.button(key="unlock_user").click().run()
    assert "wang is unlocked" in at.success[0].value
    assert store.rows("SELECT actor, action, entity_id FROM audit_log ORDER BY seq DESC "
                      "LIMIT 1") == [("boss", "user.unlock", "wang")]
    assert accounts.authenticate(store, "wang", PASSWORD, address="10.0.0.9").name == "wang"


def test_creating_the_first_real_admin_on_the_users_page_says_the_demo_accounts_are_off(
        tmp_path, monkeypatch):
    demo = make_store(tmp_path / "demo.duckdb")
    accounts.ensure_demo_accounts(demo, SYSTEM)
    at = sign_in(new_app(demo, monkeypatch).run(), "admin", "admin-demo-password")
    assert "Demo accounts are enabled" in at.error[0].value          # the red banner
    at.switch_page(PAGE_BY_KEY["users"].script).run()
    at.text_input(key="add_username").input("zhao")
    at.selectbox(key="add_role").select("admin")
    at.text_input(key="add_password").input("Jade-Lantern-Orbit-7")
    at.text_input(key="add_password2").input("Jade-Lantern-Orbit-7")
    next(b for b in at.button if b.label == "Add user").click().run()
    # The demo admin's own session ends with the demo accounts, and is told why.
    assert signed_in(at) is None
    assert "demo accounts were disabled" in at.info[0].value
    assert not any("Demo accounts are enabled" in e.value for e in at.error)
    assert accounts.enabled_demo_accounts(demo) == []
    entry = demo.rows("SELECT action, values_after FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    assert entry[0] == "user.create" and "demo_accounts_disabled" in entry[1]
    demo.close()


def test_no_banner_without_demo_accounts(store, monkeypatch):
    at = sign_in(new_app(store, monkeypatch).run(), "boss", PASSWORD)
    assert not at.error


# -- single sign-on ----------------------------------------------------------------------
SECRETS = {"auth": {
    "redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
    "corp": {"client_id": "compliance-app", "client_secret": "x", "label": "Corp SSO",
             "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"},
    "roles": {"claim": "groups",
              "values": {"security-managers": "manager", "internal-audit": "auditor"},
              "emails": {"zhou@example.com": "dpo"}},
}}


def test_sign_in_page_offers_single_sign_on_when_configured(store, monkeypatch):
    at = new_app(store, monkeypatch, secrets=SECRETS, user={"is_logged_in": False}).run()
    assert [b.label for b in at.button] == ["Sign in with Corp SSO", "Sign in"]
    assert signed_in(at) is None
    at = new_app(store, monkeypatch, user={"is_logged_in": False}).run()
    assert [b.label for b in at.button] == ["Sign in"]      # no [auth]: local accounts only


def test_sso_user_is_mapped_by_claim(store, monkeypatch):
    at = new_app(store, monkeypatch, secrets=SECRETS, user={
        "is_logged_in": True, "provider": "corp", "email": "sun@example.com", "name": "Sun Li",
        "email_verified": True,
        "groups": ["staff", "security-managers"]}).run()
    assert not at.exception
    assert signed_in(at) == Actor("sun@example.com", "manager")
    assert listed_pages(at) == expected_pages("manager")
    assert "Signed in as **Sun Li (sun@example.com)**" in shown(at.sidebar.caption[0].value)
    assert at.session_state["account"]["method"] == "sso"


def test_sso_user_is_mapped_by_email_table_and_by_account(store, monkeypatch):
    at = new_app(store, monkeypatch, secrets=SECRETS, user={
        "is_logged_in": True, "provider": "corp", "email": "Zhou@example.com",
        "email_verified": True}).run()
    assert signed_in(at) == Actor("zhou@example.com", "dpo")
    at = new_app(store, monkeypatch, secrets=SECRETS, user={
        "is_logged_in": True, "provider": "corp", "email": "li@example.com",
        "email_verified": True, "groups": ["internal-audit"]}).run()
    assert signed_in(at) == Actor("li", "dpo")      # the account with that e-mail wins


def test_unmapped_sso_user_is_refused_with_a_clear_message(store, monkeypatch):
    at = new_app(store, monkeypatch, secrets=SECRETS, user={
        "is_logged_in": True, "provider": "corp", "email": "eve@example.com",
        "email_verified": True, "groups": ["staff"]}).run()
    assert signed_in(at) is None and listed_pages(at) == {"pages/sign_in.py"}
    assert "eve@example.com is signed in with single sign-on but has no role in this app" in \
        shown(at.error[0].value)
    assert store.rows("SELECT action, entity_id FROM audit_log ORDER BY seq DESC LIMIT 1") == [
        ("auth.sso_refused", "eve@example.com")]
    at.run()                                        # refused once per session, not per run
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'auth.sso_refused'") == 1
    at.button(key="sso_logout").click().run()
    assert at.user == {"is_logged_in": False}


def test_sso_sign_out_logs_out_of_streamlit_too(store, monkeypatch):
    at = new_app(store, monkeypatch, secrets=SECRETS, user={
        "is_logged_in": True, "provider": "corp", "email": "zhou@example.com",
        "email_verified": True}).run()
    assert signed_in(at) == Actor("zhou@example.com", "dpo")
    # AppTest runs the page file itself from its second run on (see ui.page_guard): render
    # the sidebar there once, so that the click below reaches the same button.
    at.run()
    at.button(key="sign_out").click().run()
    assert signed_in(at) is None and at.user == {"is_logged_in": False}
    at.run()       # a browser would now be back from /auth/logout
    assert signed_in(at) is None and texts(at.info) == ["You signed out."]


def test_misconfigured_role_mapping_is_reported(store, monkeypatch):
    bad = {"auth": {**SECRETS["auth"], "roles": {"claim": "groups",
                                                 "values": {"it": "superuser"}}}}
    at = new_app(store, monkeypatch, secrets=bad, user={
        "is_logged_in": True, "provider": "corp", "email": "x@example.com",
        "groups": ["it"]}).run()
    assert signed_in(at) is None
    assert any("maps 'it' to 'superuser'" in e.value for e in at.error)


CALLBACK_SCRIPT = """
import streamlit as st
from dashboard import ui

def _act():
    actor = ui.callback_actor("users")
    st.session_state["acted_as"] = actor

st.button("Act", key="act", on_click=_act)
"""


@pytest.mark.parametrize("minutes_idle,expected", [(5, Actor("boss", "admin")), (31, None)])
def test_callbacks_get_no_actor_once_the_session_has_ended(store, monkeypatch, minutes_idle,
                                                          expected):
    monkeypatch.setenv("COMPLIANCE_DB", str(store.path))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", FROZEN_NOW.isoformat())
    at = AppTest.from_string(CALLBACK_SCRIPT, default_timeout=60)
    at.session_state["actor"] = Actor("boss", "admin")
    at.session_state["account"] = {"method": "password", "username": "boss"}
    at.run()
    at.session_state["last_activity"] = FROZEN_NOW - dt.timedelta(minutes=minutes_idle)
    at.button(key="act").click().run()
    assert at.session_state["acted_as"] == expected
    assert signed_in(at) == expected


def test_callbacks_get_no_actor_for_a_page_outside_the_role(store, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_DB", str(store.path))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", FROZEN_NOW.isoformat())
    at = AppTest.from_string(CALLBACK_SCRIPT, default_timeout=60)
    at.session_state["actor"] = Actor("boss", "admin")
    at.session_state["account"] = {"method": "password", "username": "boss"}
    at.run()
    accounts.create_user(store, SYSTEM, "second", "admin", PASSWORD)
    accounts.set_role(store, SYSTEM, "boss", "dpo")     # demoted while the page was open
    at.button(key="act").click().run()
    assert at.session_state["acted_as"] is None
    assert signed_in(at) == Actor("boss", "dpo")

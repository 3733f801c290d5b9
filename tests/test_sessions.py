"""Sessions that survive a reload and a new tab (issue 12): the signed, HttpOnly, SameSite
session cookie, its route, and the rules that end it (idle time, sign-out, a password
reset, a role change, a disabled account).

AppTest has no browser: the cookie a tab would send with its WebSocket handshake is
given to the app through ``ui._session_cookie``, and the redirect the sign-in form sends
the browser is caught from ``ui._redirect``. The route is driven with Starlette's test
client. tests/browser/test_journeys.py does the same in a real browser.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from dashboard import accounts, sessions, ui
from dashboard.navigation import APP_SCRIPT
from dashboard.access import Actor

from conftest import FROZEN_NOW, SYSTEM, make_store

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Sesame-Open-42!"


pytestmark = pytest.mark.usefixtures("cheap_hasher")   # conftest: fast Argon2


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_DB", str(tmp_path / "app.duckdb"))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", FROZEN_NOW.isoformat())
    s = make_store(tmp_path / "app.duckdb")
    accounts.create_user(s, SYSTEM, "boss", "admin", PASSWORD, display_name="Zhao Boss")
    accounts.create_user(s, SYSTEM, "li", "dpo", PASSWORD)
    accounts.create_user(s, SYSTEM, "chen", "auditor", PASSWORD)
    yield s
    s.close()


@pytest.fixture
def served(monkeypatch):
    """As under server.py: the route is mounted, so a sign-in sets the cookie."""
    state = sessions._state()
    monkeypatch.setattr(state, "route", "/session/start")
    redirects: list[str] = []
    monkeypatch.setattr(ui, "_redirect", redirects.append)
    return redirects


def route_client() -> TestClient:
    app = Starlette(routes=[Route("/session/start", sessions.start, methods=["GET"])])
    return TestClient(app, base_url="http://127.0.0.1:8501", follow_redirects=False)


def tab(monkeypatch, cookie: str | None, *, page: str | None = None,
        query: dict | None = None) -> AppTest:
    """A new browser tab (a reload, or a shared link) that sends ``cookie``."""
    monkeypatch.setattr(ui, "_session_cookie", lambda: cookie)
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    if page:
        at._page_hash = calc_hash(page)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def signed_in(at: AppTest) -> Actor | None:
    return at.session_state["actor"] if "actor" in at.session_state else None


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def sign_in_for_cookie(store, monkeypatch, served, username="li", *, page=None, query=None):
    """Sign in with the form in a tab, follow the redirect through the route; returns the
    route's response."""
    at = tab(monkeypatch, None, page=page, query=query)
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception
    assert signed_in(at) is not None and at.session_state["account"]["sid"]
    (url,) = served
    served.clear()
    assert url.startswith("/session/start?ticket=")
    return route_client().get(url)


def test_sign_in_sets_a_signed_httponly_samesite_cookie_and_opens_the_page(store, monkeypatch,
                                                                          served):
    response = sign_in_for_cookie(store, monkeypatch, served, page="processors",
                                  query={"q": "PRC-0007"})
    assert response.status_code == 303
    assert response.headers["location"] == "/processors?q=PRC-0007"
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{sessions.COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=43200"):
        assert attribute in set_cookie, set_cookie
    assert "Secure" not in set_cookie                         # plain http here
    value = response.cookies[sessions.COOKIE]
    assert PASSWORD not in value and "$argon2" not in value
    # The ticket worked once.
    again = route_client().get(f"/session/start?{urlsplit(response.request.url.raw_path.decode()).query}")
    assert again.status_code == 403 and "not valid, has been used or has expired" in again.text


def test_a_reload_or_a_new_tab_stays_signed_in(store, monkeypatch, served):
    """Today a reload or a new tab signs the user out, so every shared link asks for the
    password again."""
    value = sign_in_for_cookie(store, monkeypatch, served).cookies[sessions.COOKIE]
    reloaded = tab(monkeypatch, value)
    assert signed_in(reloaded) == Actor("li", "dpo") and "Sign in" not in titles(reloaded)
    shared = tab(monkeypatch, value, page="findings", query={"rule": "PROC-PIA"})
    assert signed_in(shared) == Actor("li", "dpo")
    assert titles(shared)[0] == "Findings" and shared.query_params["rule"] == "PROC-PIA"
    # No audit entry per tab: resuming a session is not a sign-in.
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'auth.sign_in'") == 1


def test_a_link_outside_the_role_opens_the_default_page_with_the_refusal(store, monkeypatch,
                                                                       served):
    response = sign_in_for_cookie(store, monkeypatch, served, username="chen",
                                  page="log_incident")
    assert response.headers["location"] == "/"
    at = tab(monkeypatch, response.cookies[sessions.COOKIE])
    assert signed_in(at) == Actor("chen", "auditor")
    assert any("**Log an incident** is not available. Your role (auditor) may not open it."
               == w.value for w in at.warning)
    again = tab(monkeypatch, response.cookies[sessions.COOKIE])     # said once
    assert not any("not available" in w.value for w in again.warning)


@pytest.mark.parametrize("change,message", [
    (lambda s: accounts.reset_password(s, SYSTEM, "li", "Another-Sesame-43!"),
     "Your password was changed"),
    (lambda s: accounts.set_role(s, SYSTEM, "li", "auditor"), "Your role was changed"),
    (lambda s: accounts.disable_user(s, SYSTEM, "li"), "disabled by an administrator"),
])
def test_a_password_reset_role_change_or_disabled_account_ends_every_session_and_cookie(
        store, monkeypatch, served, change, message):
    """Today a session survives a password reset."""
    value = sign_in_for_cookie(store, monkeypatch, served).cookies[sessions.COOKIE]
    open_tab = tab(monkeypatch, value)
    assert signed_in(open_tab) == Actor("li", "dpo")
    change(store)
    open_tab.run()                                       # its next request
    assert signed_in(open_tab) is None and titles(open_tab) == ["Sign in"]
    assert message in open_tab.info[0].value
    new_tab = tab(monkeypatch, value)                    # the cookie no longer signs in
    assert signed_in(new_tab) is None and titles(new_tab) == ["Sign in"]
    assert message in new_tab.info[0].value


def test_a_disabled_then_enabled_account_does_not_get_its_old_sessions_back(store, monkeypatch,
                                                                          served):
    value = sign_in_for_cookie(store, monkeypatch, served).cookies[sessions.COOKIE]
    accounts.disable_user(store, SYSTEM, "li")
    accounts.enable_user(store, SYSTEM, "li")
    at = tab(monkeypatch, value)
    assert signed_in(at) is None and "sessions were ended" in at.info[0].value


def test_signing_out_ends_the_cookie_in_every_tab(store, monkeypatch, served):
    value = sign_in_for_cookie(store, monkeypatch, served).cookies[sessions.COOKIE]
    first, second = tab(monkeypatch, value), tab(monkeypatch, value)
    first.run()          # AppTest runs the page file itself from the second run on
    first.button(key="sign_out").click().run()
    assert signed_in(first) is None and [i.value for i in first.info] == ["You signed out."]
    second.run()
    assert signed_in(second) is None and [i.value for i in second.info] == ["You signed out."]
    assert signed_in(tab(monkeypatch, value)) is None


def test_the_idle_timeout_ends_the_cookie_activity_in_any_tab_counts(store, monkeypatch,
                                                                    served):
    value = sign_in_for_cookie(store, monkeypatch, served).cookies[sessions.COOKIE]
    at = tab(monkeypatch, value)
    sid = at.session_state["account"]["sid"]
    session = sessions._state().sessions[sid]
    # Another tab was active 20 minutes ago; this one has been idle for 40.
    at.session_state["last_activity"] = FROZEN_NOW - dt.timedelta(minutes=40)
    session.last_seen = FROZEN_NOW - dt.timedelta(minutes=20)
    at.run()
    assert signed_in(at) == Actor("li", "dpo")
    session.last_seen = FROZEN_NOW - dt.timedelta(minutes=31)
    at.session_state["last_activity"] = FROZEN_NOW - dt.timedelta(minutes=31)
    at.run()
    assert signed_in(at) is None
    assert "ended after 30 minutes without activity" in at.info[0].value
    later = tab(monkeypatch, value)
    assert signed_in(later) is None and "without activity" in later.info[0].value


@pytest.mark.parametrize("forge", [
    lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),      # signature altered
    lambda v: v.replace(v.split(".")[0], v.split(".")[0][:-1] + "x"),  # payload altered
    lambda v: "not-a-cookie",
])
def test_a_tampered_cookie_signs_no_one_in(store, monkeypatch, served, forge):
    value = sign_in_for_cookie(store, monkeypatch, served).cookies[sessions.COOKIE]
    at = tab(monkeypatch, forge(value))
    assert signed_in(at) is None and titles(at) == ["Sign in"]


def test_a_cookie_of_another_store_or_a_restarted_app_signs_no_one_in(store, monkeypatch,
                                                                     served, tmp_path):
    value = sign_in_for_cookie(store, monkeypatch, served).cookies[sessions.COOKIE]
    monkeypatch.setattr(sessions._state(), "sessions", {})      # what a restart forgets
    at = tab(monkeypatch, value)
    assert signed_in(at) is None and "Your session has ended" in at.info[0].value


def test_the_cookie_is_signed_with_a_secret_kept_beside_the_store(store, monkeypatch):
    monkeypatch.delenv(sessions.SECRET_ENV, raising=False)
    secret = sessions.store_secret(store)                  # made on first use
    path = sessions.secret_path(store)
    assert path.read_text().strip().encode() == secret
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    assert len(path.read_text().strip()) == 64
    monkeypatch.setenv(sessions.SECRET_ENV, "short")
    with pytest.raises(ValueError, match="at least 32 characters"):
        sessions.store_secret(store)


def test_without_the_route_a_sign_in_lasts_one_tab(store, monkeypatch):
    monkeypatch.setattr(sessions._state(), "route", None)
    redirects: list[str] = []
    monkeypatch.setattr(ui, "_redirect", redirects.append)
    at = tab(monkeypatch, None)
    at.text_input(key="sign_in_username").input("li")
    at.text_input(key="sign_in_password").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert signed_in(at) == Actor("li", "dpo") and redirects == []
    assert "sid" not in at.session_state["account"]


def test_the_route_refuses_a_missing_or_unknown_ticket():
    client = route_client()
    for url in ("/session/start", "/session/start?ticket=nope", "/session/start?ticket=" + "x" * 500):
        response = client.get(url)
        assert response.status_code == 403 and "set-cookie" not in response.headers


def test_open_session_refuses_a_next_url_off_the_app(store):
    role, binding = accounts.session_binding(store, "li")
    for bad in ("https://evil.example/", "//evil.example/", "findings"):
        with pytest.raises(ValueError):
            sessions.open_session(store, "li", role, binding, next_url=bad)
    _, ticket = sessions.open_session(store, "li", role, binding, next_url="/")
    assert parse_qs(urlsplit(ticket.url).query)["ticket"] == [ticket.token]

"""A real OpenID Connect sign-in, end to end, on this machine.

A small OIDC provider runs in the test on 127.0.0.1: discovery, an authorization
endpoint with a login form, a token endpoint (client secret, PKCE S256, one-time
codes), JWKS, userinfo; ID tokens are RS256 JWTs signed with joserfc (Authlib's JOSE
library). The app is served by `streamlit run` with a secrets file whose `[auth]`
section points at that provider, and Debian's Chromium (through Playwright) clicks
"Sign in with Local IdP", logs in at the provider, comes back through Streamlit's
/oauth2callback, and lands in the navigation of the role its `groups` claim maps to.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

pytest.importorskip("authlib", reason="st.login needs Authlib (see docs/ACCESS.md)")
from joserfc import jwt  # noqa: E402  (installed with Authlib)
from joserfc.jwk import RSAKey  # noqa: E402

from dashboard import accounts  # noqa: E402
from dashboard.store import Store  # noqa: E402
from dashboard.ui import WORD_JOINER  # noqa: E402

from conftest import SYSTEM, make_store  # noqa: E402
from serving import free_port, served  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CLIENT_ID, CLIENT_SECRET = "compliance-app", secrets.token_urlsafe(24)
IDP_USERS = {   # username -> (password, claims)
    "sun": ("sun-idp-password", {"email": "sun@example.com", "email_verified": True,
                                 "name": "Sun Li", "groups": ["staff", "security-managers"]}),
    "li": ("li-idp-password", {"email": "li@example.com", "email_verified": True,
                               "name": "Li Wang", "groups": ["staff"]}),
    "eve": ("eve-idp-password", {"email": "eve@example.com", "email_verified": True,
                                 "name": "Eve", "groups": ["staff"]}),
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """A minimal but complete OIDC authorization-code provider (confidential client)."""

    def __init__(self, redirect_uri: str):
        self.redirect_uri = redirect_uri
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def metadata(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name", "groups"],
        }

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):     # keep the test output clean
                pass

            def _send(self, status: int, body: bytes | str = b"", ctype="application/json",
                      headers: dict | None = None):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _json(self, status: int, obj: dict):
                self._send(status, json.dumps(obj), headers={"Cache-Control": "no-store"})

            def do_GET(self):
                url = urlparse(self.path)
                provider.requests.append(f"GET {url.path}")
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    return self._json(200, provider.metadata())
                if url.path == "/jwks":
                    return self._json(200, {"keys": [provider.key.as_dict(private=False)]})
                if url.path == "/authorize":
                    problem = provider.check_authorize(q)
                    if problem:
                        return self._send(400, problem, "text/plain")
                    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" '
                                     f'value="{html.escape(v)}">' for k, v in q.items())
                    return self._send(200, (
                        "<!doctype html><title>Local IdP</title><h1>Local IdP sign-in</h1>"
                        f'<form method="post" action="/authorize">{hidden}'
                        '<label>IdP username <input name="idp_user"></label>'
                        '<label>IdP password <input name="idp_password" type="password"></label>'
                        '<button type="submit">Continue</button></form>'), "text/html")
                if url.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    claims = provider.tokens.get(token)
                    return self._json(200, claims) if claims else self._json(
                        401, {"error": "invalid_token"})
                self._send(404, "not found", "text/plain")

            def do_POST(self):
                url = urlparse(self.path)
                provider.requests.append(f"POST {url.path}")
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if url.path == "/authorize":
                    problem = provider.check_authorize(form)
                    user = IDP_USERS.get(form.get("idp_user", ""))
                    if problem or user is None or user[0] != form.get("idp_password"):
                        return self._send(401, problem or "wrong IdP credentials", "text/plain")
                    code = secrets.token_urlsafe(24)
                    provider.codes[code] = {"user": form["idp_user"], "nonce": form.get("nonce"),
                                            "challenge": form["code_challenge"],
                                            "redirect_uri": form["redirect_uri"]}
                    target = f"{form['redirect_uri']}?{urlencode({'code': code, 'state': form['state']})}"
                    return self._send(302, b"", "text/plain", {"Location": target})
                if url.path == "/token":
                    status, body = provider.token(form, self.headers.get("Authorization", ""))
                    return self._json(status, body)
                self._send(404, "not found", "text/plain")

        return Handler

    def check_authorize(self, q: dict) -> str | None:
        if q.get("client_id") != CLIENT_ID:
            return "unknown client_id"
        if q.get("redirect_uri") != self.redirect_uri:
            return "redirect_uri is not registered"
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            return "only the authorization-code flow with scope openid"
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return "PKCE S256 required"
        if not q.get("state") or not q.get("nonce"):
            return "state and nonce required"
        return None

    def token(self, form: dict, authorization: str) -> tuple[int, dict]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(
                authorization[6:]).decode().partition(":")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.codes.pop(form.get("code", ""), None)          # one-time codes
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE check failed"}
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": f"idp-{grant['user']}", "aud": CLIENT_ID,
                  "iat": now, "exp": now + 600, "nonce": grant["nonce"],
                  **IDP_USERS[grant["user"]][1]}
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        access_token = secrets.token_urlsafe(24)
        self.tokens[access_token] = {k: v for k, v in claims.items()
                                     if k not in ("iss", "aud", "iat", "exp", "nonce")}
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 600,
                     "id_token": id_token, "scope": "openid email profile"}


@pytest.fixture(scope="module")
def sso_app(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium")
    tmp = tmp_path_factory.mktemp("oidc")
    db = tmp / "sso.duckdb"
    s = make_store(db)
    accounts.create_user(s, SYSTEM, "li", "dpo", "Local-Harbour-Lamp-31", email="li@example.com",
                         display_name="Li Wang")
    s.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Provider(f"{base}/oauth2callback") as idp:
        secrets_file = tmp / "secrets.toml"
        secrets_file.write_text(f'''
[auth]
redirect_uri = "{base}/oauth2callback"
cookie_secret = "{secrets.token_urlsafe(32)}"

[auth.localidp]
label = "Local IdP"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{idp.issuer}/.well-known/openid-configuration"

[auth.roles]
claim = "groups"
[auth.roles.values]
"security-managers" = "manager"
''')
        env = {k: v for k, v in os.environ.items() if k != "COMPLIANCE_FROZEN_NOW"}
        env["COMPLIANCE_DB"] = str(db)
        log = tmp / "streamlit.log"
        with served("server.py", env=env, log=log, port=port,
                    args=["--secrets.files", str(secrets_file)]) as server:
            assert server.base == base
            yield {"base": base, "idp": idp, "db": db, "log": log, "server": server}


@pytest.fixture
def page(browser, sso_app):
    """A fresh context in the session's one browser (tests/browser/conftest.py): one
    sync Playwright per process, as Playwright requires."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _idle(pg) -> None:
    pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                         state="attached")


def _sso_sign_in(pg, base: str, idp_user: str) -> None:
    pg.goto(base)
    pg.get_by_role("button", name="Sign in with Local IdP").click()
    pg.wait_for_url("**/authorize?**")
    pg.get_by_label("IdP username").fill(idp_user)
    pg.get_by_label("IdP password").fill(IDP_USERS[idp_user][0])
    pg.get_by_role("button", name="Continue").click()
    pg.wait_for_url(f"{base}/**")
    _idle(pg)


def test_oidc_sign_in_maps_the_groups_claim_and_refuses_pages_outside_the_role(sso_app, page):
    base, idp = sso_app["base"], sso_app["idp"]
    _sso_sign_in(page, base, "sun")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Signed in as").wait_for()
    # (ui.plain puts an invisible word joiner before the "@": no mailto link)
    assert "Sun Li (sun@example.com)" in sidebar.inner_text().replace(WORD_JOINER, "")
    assert "Manager" in sidebar.inner_text()
    nav = page.get_by_test_id("stSidebarNav").inner_text()
    assert "Log an incident" in nav and "Users" not in nav and "Exports" not in nav
    # The provider saw the whole authorization-code flow.
    assert {"GET /.well-known/openid-configuration", "GET /authorize", "POST /authorize",
            "POST /token", "GET /jwks"} <= set(idp.requests)

    # A page outside the role, by its URL: Streamlit says "page not found" and runs the
    # default page instead; nothing of the Users page renders.
    page.goto(f"{base}/users")
    _idle(page)
    page.get_by_text("Page not found").wait_for()
    assert page.get_by_text("Add a user").count() == 0
    assert page.get_by_role("heading", name="Users").count() == 0

    # Sign out: the app calls st.logout(), which drops Streamlit's identity cookie.
    page.keyboard.press("Escape")
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in with Local IdP").wait_for()
    page.goto(base)
    _idle(page)
    page.get_by_role("button", name="Sign in with Local IdP").wait_for()
    assert page.get_by_text("Signed in as").count() == 0


def test_oidc_user_with_an_account_email_acts_as_that_account(sso_app, page):
    _sso_sign_in(page, sso_app["base"], "li")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Signed in as").wait_for()
    assert "Li Wang (li)" in sidebar.inner_text() and "Data protection officer" in sidebar.inner_text()


def test_oidc_user_without_a_role_is_refused(sso_app, page):
    _sso_sign_in(page, sso_app["base"], "eve")
    page.get_by_text("has no role in this app").wait_for()
    assert page.get_by_text("Signed in as").count() == 0


def test_sign_ins_were_recorded_in_the_audit_log(sso_app):
    # Runs last in this module: stop the server to read its store (DuckDB: one process).
    sso_app["server"].stop()
    with Store(sso_app["db"], read_only=True) as s:
        rows = s.rows("SELECT actor, role, action, entity_id, values_after FROM audit_log "
                      "WHERE action LIKE 'auth.%' ORDER BY seq")
    actions = [(r[2], r[3]) for r in rows]
    assert ("auth.sign_in", "sun@example.com") in actions
    assert ("auth.sign_in", "li") in actions
    assert ("auth.sso_refused", "eve@example.com") in actions
    assert all(r[0] == "sign-in" and r[1] == "auth" for r in rows)
    assert all('"method":"sso:localidp"' in r[4] for r in rows)
    text = json.dumps([list(map(str, r)) for r in rows])
    assert CLIENT_SECRET not in text and "idp-password" not in text

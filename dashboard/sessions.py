"""Sessions that survive a reload and a new tab: a signed, HttpOnly, SameSite cookie.

A Streamlit session lives as long as its browser tab's WebSocket: a reload or a new tab
starts a new one. A local sign-in is therefore also kept in a cookie, which the browser
sends with the WebSocket handshake of every tab (``st.context.cookies``):

1. **Sign-in.** The sign-in form checks the password (``accounts.authenticate``), signs the
   tab's session in, and calls ``open_session``: a new session id (128 random bits) goes
   into this process's registry with the username, the account's *binding* (an HMAC of
   its password hash, role and session epoch, ``accounts.session_binding``), the sign-in
   time and the last activity; a one-time ticket (256 random bits, usable once within
   ``TICKET_SECONDS``) holds the signed cookie value and the page to open.
2. **Cookie.** The page sends the browser to ``GET /session/start?ticket=...`` (the route
   ``start`` below, mounted by ``server.py``), which takes the ticket out of the registry,
   sets the cookie and answers ``303 See Other`` to the page the person was opening. The
   cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page
   sends it), ``Secure`` when the app is reached over HTTPS, scoped to the app's path, with
   ``Max-Age`` = ``session_max_hours``. Its value is the session id, the username and the
   binding, signed with ``itsdangerous`` (HMAC-SHA1 over a key derived from the store's
   secret, with a timestamp): it cannot be forged or altered, and it holds no secret.
3. **Every run** of every tab (``ui.enforce_session``) reads the cookie when the tab is not
   signed in yet, and re-checks a signed-in tab's session: the signature and its age
   (``session_max_hours``), that the session id is in the registry and not ended, that the
   session was active within ``session_idle_minutes`` (any tab's activity counts, and
   refreshes it), and that the binding still matches the account (``accounts``): a
   password reset, a role change or a disabled account ends every session and cookie of
   the user at their next request.

The registry is in the server process (one ``streamlit run`` process per store, as
DuckDB requires), like the export tickets: stopping the app ends every session. Signing
out ends the session in the registry, so the cookie no longer signs anyone in, in any tab.

The secret comes from ``COMPLIANCE_SESSION_SECRET`` (at least 32 characters) if set, else
from a file beside the store (``<store>.secret``, created on first use with 256 random
bits, readable by its owner only). It also keys the throttle's account keys
(``throttle.account_key``). Deleting the file ends every session (and forgets the throttle
counters of accounts).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .i18n import N_, _

COOKIE = "compliance_session"
START_ROUTE = "session/start"
TICKET_SECONDS = 60
SECRET_ENV = "COMPLIANCE_SESSION_SECRET"
_SALT = "compliance-session-cookie"
_clock = time.monotonic          # ticket lifetimes (tests replace it)

# Why a session ended: told to the person in the language of the run that finds it out
# (English on the command line and in the API).
ENDED = N_("Your session has ended. Sign in again.")
SIGNED_OUT = N_("You signed out.")
_IDLE = N_("Your session ended after {minutes} minutes without activity. Sign in again.")
_TOO_OLD = N_("Your session ended {hours} hours after you signed in. Sign in again.")


class SessionEnded(Exception):
    """A cookie or session that no longer signs anyone in; the message says why."""


# -- the secret ---------------------------------------------------------------------------
_SECRETS: dict[str, bytes] = {}
_SECRETS_GUARD = threading.Lock()


def secret_path(store) -> Path:
    return Path(str(store.path) + ".secret")


def store_secret(store) -> bytes:
    """The secret that signs session cookies and keys the throttle (see the module)."""
    env = os.environ.get(SECRET_ENV)
    if env:
        if len(env) < 32:
            raise ValueError(f"{SECRET_ENV} must be at least 32 characters long")
        return env.encode("utf-8")
    path = secret_path(store)
    key = str(path.resolve())
    with _SECRETS_GUARD:
        if key in _SECRETS:
            return _SECRETS[key]
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            value = path.read_text(encoding="ascii").strip()
        else:
            value = secrets.token_hex(32)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(value + "\n")
        if len(value) < 32:
            raise ValueError(f"the session secret in {path} is too short: delete the file "
                             "and a new one is made")
        _SECRETS[key] = value.encode("ascii")
        return _SECRETS[key]


def keyed_digest(store, purpose: str, text: str, length: int = 32) -> str:
    """HMAC-SHA256 of ``text`` under the store's secret, for ``purpose`` (hex)."""
    mac = hmac.new(store_secret(store), f"{purpose}\x00{text}".encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:length]


def _serializer(store) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(store_secret(store), salt=_SALT)


# -- process-wide state (survives Streamlit re-importing the module, as in stream.py) -----
_STATE_NAME = "_compliance_session_state"


def _state() -> Any:
    state = sys.modules.get(_STATE_NAME)
    if state is None:
        fresh = types.ModuleType(_STATE_NAME, "dashboard.sessions' process-wide state")
        fresh.lock = threading.Lock()
        fresh.sessions = {}     # session id -> Session
        fresh.tickets = {}      # sha256(token) -> Ticket
        fresh.route = None      # the mounted route's path, set by server.py
        state = sys.modules.setdefault(_STATE_NAME, fresh)
    return state


def route_path() -> str:
    """``/session/start``, below ``server.baseUrlPath`` if set."""
    return f"{base_path()}/{START_ROUTE}"


def base_path() -> str:
    """The app's base path without a trailing slash ('' at the root)."""
    try:
        from streamlit import config
        base = (config.get_option("server.baseUrlPath") or "").strip("/")
    except Exception:  # pragma: no cover - outside Streamlit
        base = ""
    return f"/{base}" if base else ""


def serve_at(path: str) -> None:
    """Record that this process serves the cookie route (``server.py`` calls it)."""
    _state().route = path


def served() -> bool:
    return _state().route is not None


@dataclass
class Session:
    sid: str
    store_key: str
    username: str
    role: str
    binding: str
    signed_in_at: dt.datetime          # store clock
    last_seen: dt.datetime             # store clock: the last run of any tab
    ended: str | None = None           # why it ended (shown to the next tab)
    target: str | None = None          # the page key the sign-in form was opened for


@dataclass(frozen=True)
class Ticket:
    token: str = field(repr=False)
    cookie: str = field(repr=False)
    next_url: str
    max_age: int
    deadline: float = field(repr=False)

    @property
    def url(self) -> str:
        return f"{route_path()}?ticket={self.token}"


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _store_key(store) -> str:
    return str(Path(store.path).resolve())


def open_session(store, username: str, role: str, binding: str, *, next_url: str,
                 target: str | None = None) -> tuple[Session, Ticket]:
    """Register a new session for ``username`` and the one-time ticket that sets its cookie.

    ``next_url``: where the route sends the browser (a path on this app, built by the page,
    never taken from a request). ``target``: the page key the sign-in was for (the next
    tab shows the refusal when the role may not open it).
    """
    if not next_url.startswith("/") or next_url.startswith("//"):
        raise ValueError("next_url must be a path on this app")
    now = store.now()
    session = Session(secrets.token_urlsafe(16), _store_key(store), username, role, binding,
                      now, now, target=target)
    cookie = _serializer(store).dumps({"sid": session.sid, "u": username, "b": binding})
    token = secrets.token_urlsafe(32)
    max_age = int(store.settings.session_max_hours) * 3600
    ticket = Ticket(token, cookie, next_url, max_age, _clock() + TICKET_SECONDS)
    state = _state()
    with state.lock:
        _purge(state, store)
        state.sessions[session.sid] = session
        state.tickets[_key(token)] = ticket
    return session, ticket


def _purge(state: Any, store) -> None:
    now = _clock()
    for key, ticket in list(state.tickets.items()):
        if ticket.deadline <= now:
            del state.tickets[key]
    horizon = store.now() - dt.timedelta(hours=int(store.settings.session_max_hours) + 1)
    for sid, session in list(state.sessions.items()):
        if session.signed_in_at < horizon:
            del state.sessions[sid]


def redeem(token: str | None) -> Ticket | None:
    """Take a ticket out of the registry (single use); None when unknown or expired."""
    if not token or len(token) > 128:
        return None
    state = _state()
    with state.lock:
        ticket = state.tickets.pop(_key(token), None)
    if ticket is None or _clock() >= ticket.deadline:
        return None
    return ticket


def read_cookie(store, value: str | None) -> Session:
    """The session a cookie names, if it may still sign its holder in (the account's binding
    is checked by the caller), else raise ``SessionEnded`` saying why."""
    if not value:
        raise SessionEnded(_(ENDED))
    try:
        data = _serializer(store).loads(value, max_age=int(store.settings.session_max_hours)
                                        * 3600)
    except SignatureExpired:
        raise SessionEnded(_(_TOO_OLD).format(hours=store.settings.session_max_hours)) from None
    except BadSignature:
        raise SessionEnded(_(ENDED)) from None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        raise SessionEnded(_(ENDED))
    state = _state()
    with state.lock:
        session = state.sessions.get(data["sid"])
    if session is None or session.store_key != _store_key(store) \
            or session.username != data.get("u") or session.binding != data.get("b"):
        raise SessionEnded(_(ENDED))
    return session


def touch(store, sid: str, *, since: dt.datetime | None = None) -> Session:
    """Record activity on session ``sid`` now, or raise ``SessionEnded`` when it has ended
    (signed out, or idle for longer than ``session_idle_minutes``; ``since``: the tab's own
    last activity, which also counts)."""
    state = _state()
    now = store.now()
    idle = int(store.settings.session_idle_minutes)
    with state.lock:
        session = state.sessions.get(sid)
        if session is None:
            raise SessionEnded(_(ENDED))
        if session.ended:
            raise SessionEnded(session.ended)
        last = max(session.last_seen, since) if since else session.last_seen
        if idle and now - last > dt.timedelta(minutes=idle):
            session.ended = _(_IDLE).format(minutes=idle)
            raise SessionEnded(session.ended)
        if now - session.signed_in_at > dt.timedelta(hours=int(store.settings.session_max_hours)):
            session.ended = _(_TOO_OLD).format(hours=store.settings.session_max_hours)
            raise SessionEnded(session.ended)
        session.last_seen = max(last, now)
        return session


def end(sid: str | None, reason: str) -> None:
    """End session ``sid``: its cookie no longer signs anyone in; ``reason`` is told to the
    next tab that brings it."""
    if not sid:
        return
    state = _state()
    with state.lock:
        session = state.sessions.get(sid)
        if session is not None and not session.ended:
            session.ended = reason


def pop_target(sid: str) -> str | None:
    """The page key the sign-in was for, once (for the first tab the cookie signs in)."""
    state = _state()
    with state.lock:
        session = state.sessions.get(sid)
        if session is None:
            return None
        target, session.target = session.target, None
        return target


# -- the route ------------------------------------------------------------------------------
async def start(request):
    """``GET /session/start?ticket=...``: set the session cookie and go to the page."""
    from starlette.responses import PlainTextResponse, RedirectResponse
    if request.method != "GET":
        return PlainTextResponse("Use GET.\n", status_code=405)
    ticket = redeem(request.query_params.get("ticket"))
    if ticket is None:
        return PlainTextResponse(
            "This sign-in link is not valid, has been used or has expired. Open the app "
            "and sign in again.\n", status_code=403, headers={"Cache-Control": "no-store"})
    response = RedirectResponse(ticket.next_url, status_code=303,
                                headers={"Cache-Control": "no-store"})
    response.set_cookie(COOKIE, ticket.cookie, max_age=ticket.max_age, path=base_path() or "/",
                        secure=request.url.scheme == "https", httponly=True, samesite="strict")
    return response

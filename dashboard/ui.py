"""Streamlit glue shared by the pages: the store, the signed-in actor, cached queries.

Pages stay thin: they read inputs, call ``dashboard`` functions (through
``cached`` for reads), and render. Nothing here holds SQL.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import re
from typing import Any, Callable

import pandas as pd
import streamlit as st

from .access import Actor
from .i18n import _, fmt_datetime, is_chinese, label, page_title
from .navigation import PAGE_BY_KEY, sign_in_script
from .store import Store, default_db_path


@st.cache_resource(show_spinner=False)
def _open_store(path: str, frozen_now: str | None) -> Store:
    clock = None
    if frozen_now:  # demos and tests: a fixed "now" (COMPLIANCE_FROZEN_NOW, ISO 8601)
        fixed = dt.datetime.fromisoformat(frozen_now)
        if fixed.tzinfo is None:
            raise ValueError("COMPLIANCE_FROZEN_NOW needs an offset, e.g. +08:00")
        clock = lambda: fixed  # noqa: E731
    store = Store(path, clock=clock)
    store.require_current()
    from . import stored
    stored.start_renewer(store)     # on the server only: results kept current in between
    return store


def get_store() -> Store:
    """The process's one store (DuckDB allows one read-write process per file).

    ``Store`` is thread-safe as used here: a fresh cursor per call, writes under a lock.
    """
    return _open_store(str(default_db_path()), os.environ.get("COMPLIANCE_FROZEN_NOW"))


# -- the signed-in session ----------------------------------------------------------
# Session-state keys: "actor" (an Actor: the signed-in marker), "account" (how the
# session signed in: method, username of a local account, display name, provider;
# for a local account also "role" and "binding", what the session is bound to, and
# "sid", its session cookie's id, see dashboard/sessions.py), "last_activity" (the
# store clock at the last run), "sign_in_notice" (why the session ended, shown on the
# sign-in page), "sso_refusal" / "sso_suppressed" (single sign-on identity refused, or
# not to be used again in this session), "cookie_checked" (this tab's session cookie
# has been read).
_SESSION_KEYS = ("actor", "account", "last_activity")


def current_actor() -> Actor | None:
    return st.session_state.get("actor")


def set_actor(actor: Actor | None, *, account: dict | None = None) -> None:
    """Sign ``actor`` in for this session (``None`` signs out, without a reason)."""
    if actor is None:
        for key in _SESSION_KEYS:
            st.session_state.pop(key, None)
        return
    st.session_state["actor"] = actor
    account = dict(account or {"method": "password", "username": actor.name})
    if account.get("username") and "binding" not in account:
        account.update(_binding(account["username"]))
    st.session_state["account"] = account
    st.session_state["last_activity"] = get_store().now()
    for key in ("sign_in_notice", "sso_refusal"):
        st.session_state.pop(key, None)


def sign_out(reason: str | None = None) -> None:
    """End the session; ``reason`` is shown on the sign-in page.

    A single sign-on session is not signed in again from the browser's identity
    cookie in this session (``sso_suppressed``); ``sidebar_account`` also calls
    ``st.logout()`` to drop that cookie when the user signs out.
    """
    account = st.session_state.get("account") or {}
    if account.get("method") == "sso":
        st.session_state["sso_suppressed"] = True
    _end_cookie_session(account, reason)
    set_actor(None)
    if reason:
        st.session_state["sign_in_notice"] = reason
    else:
        st.session_state.pop("sign_in_notice", None)


def sso_config():
    """The single sign-on set-up from ``st.secrets`` (None without an ``[auth]`` section)."""
    from .accounts import sso_config as parse
    try:
        return parse(st.secrets)
    except FileNotFoundError:
        return None


def _user_claims() -> dict:
    try:
        return st.user.to_dict()
    except Exception:  # no script context / no user info
        return {}


def enforce_session() -> Actor | None:
    """Run first on every page run (``app.py``): the actor allowed to use this run.

    - ends a session idle for longer than ``session_idle_minutes`` (a session with
      no recorded activity counts as active now; with a session cookie, activity in
      any tab of the browser counts);
    - re-reads a local account: a password reset, a role change or a disabled account
      ends the session (``accounts.check_session``);
    - signs a new tab in from its session cookie (``dashboard/sessions.py``);
    - signs in a single sign-on identity (``st.user``) mapped to a role, or
      records why it was refused.
    """
    from .accounts import AccountError, AuthError, sign_in_sso
    _run_locale()       # the messages of an ended session in the session's language
    store = get_store()
    now = store.now()
    actor = current_actor()
    if actor is not None:
        idle_minutes = store.settings.session_idle_minutes
        last = st.session_state.get("last_activity") or now
        account = st.session_state.get("account") or {}
        if account.get("sid"):
            ended = _touch_cookie_session(store, account["sid"], last)
            if ended:
                sign_out(ended)
                return None
        elif idle_minutes and now - last > dt.timedelta(minutes=idle_minutes):
            sign_out(_("Your session ended after {minutes} minutes without activity. "
                       "Sign in again.").format(minutes=idle_minutes))
            return None
        if account.get("username"):
            try:
                fresh = _recheck_account(store, account)
            except AuthError as exc:
                sign_out(str(exc))
                return None
            if fresh != actor:
                st.session_state["actor"] = actor = fresh
        st.session_state["last_activity"] = now
        return actor
    restored = _resume_from_cookie(store)
    if restored is not None:
        return restored
    claims = _user_claims()
    if not claims.get("is_logged_in") or st.session_state.get("sso_suppressed"):
        return None
    try:
        config = sso_config()
    except AccountError as exc:
        st.session_state["sso_refusal"] = _("Single sign-on is misconfigured: {error}").format(
            error=exc)
        st.session_state["sso_suppressed"] = True
        return None
    if config is None:
        return None
    try:
        actor, account = sign_in_sso(store, claims, config, claims.get("provider"))
    except AuthError as exc:
        st.session_state["sso_refusal"] = str(exc)
        st.session_state["sso_suppressed"] = True
        return None
    set_actor(actor, account=account)
    return actor


# -- sessions that survive a reload: the session cookie (dashboard/sessions.py) --------
def client_address() -> str:
    """The sign-in throttle's client address: the WebSocket peer's address as the server
    sees it (``st.context.ip_address``; behind a reverse proxy on the same machine uvicorn
    takes it from ``X-Forwarded-For``, see docs/ACCESS.md), "local" for a browser on the
    server's own machine."""
    from .throttle import normalize_address
    try:
        address = st.context.ip_address
    except Exception:  # no script context
        address = None
    return normalize_address(address if isinstance(address, str) else None)


def _session_cookie() -> str | None:
    """This tab's session cookie (sent with the WebSocket handshake), or None."""
    from .sessions import COOKIE
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no script context
        return None
    return value if isinstance(value, str) else None   # (AppTest has no real client)


def _binding(username: str) -> dict:
    from .accounts import session_binding
    role, binding = session_binding(get_store(), username)
    return {"role": role, "binding": binding}


def _recheck_account(store, account: dict) -> Actor:
    """The actor of a local account's session now, or ``AuthError`` (session ended)."""
    from .accounts import check_session, session_actor
    if "binding" not in account:     # a session made by a test: role and state only
        return session_actor(store, account["username"])
    return check_session(store, account["username"], account.get("role", ""),
                         account["binding"])


def _touch_cookie_session(store, sid: str, last) -> str | None:
    """Record activity on a cookie session; why it has ended, or None."""
    from .sessions import SessionEnded, touch
    try:
        touch(store, sid, since=last)
    except SessionEnded as exc:
        return str(exc)
    return None


def _end_cookie_session(account: dict, reason: str | None) -> None:
    from .sessions import SIGNED_OUT, end
    end(account.get("sid"), reason or _(SIGNED_OUT))


def _resume_from_cookie(store) -> Actor | None:
    """Sign this tab in from its session cookie (once per tab), or say why it cannot."""
    from . import sessions
    from .accounts import AuthError, check_session, get_user
    if st.session_state.get("cookie_checked"):
        return None
    value = _session_cookie()
    if not value:
        return None
    st.session_state["cookie_checked"] = True
    try:
        session = sessions.read_cookie(store, value)
        sessions.touch(store, session.sid)
        actor = check_session(store, session.username, session.role, session.binding)
    except sessions.SessionEnded as exc:
        st.session_state["sign_in_notice"] = str(exc)
        return None
    except AuthError as exc:
        sessions.end(session.sid, str(exc))
        st.session_state["sign_in_notice"] = str(exc)
        return None
    user = get_user(store, actor.name) or {}
    set_actor(actor, account={"method": "password", "username": actor.name,
                              "display_name": user.get("display_name") or actor.name,
                              "role": session.role, "binding": session.binding,
                              "sid": session.sid})
    target = sessions.pop_target(session.sid)
    if target:
        st.session_state["sign_in_target"] = target
    return actor


def _page_url(actor: Actor) -> tuple[str, str | None]:
    """Where a tab that has just signed in goes: the page the sign-in form was opened at,
    with its query (a shared link), or the role's default page when the role may not open
    it (then also that page's key, for ``refused_link``)."""
    from urllib.parse import urlencode

    from .sessions import base_path
    spec = PAGE_BY_KEY.get(st.session_state.get("sign_in_target") or "")
    if spec is not None and actor.role not in spec.roles:
        return f"{base_path()}/", spec.key
    path = f"{base_path()}/{spec.key}" if spec is not None and not spec.default else \
        f"{base_path()}/"
    query = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    return path + (f"?{query}" if query else ""), None


def remember_sign_in(actor: Actor) -> None:
    """After a password sign-in (``set_actor`` done): keep it in the session cookie and open
    the page. Served by ``server.py``, the browser goes through ``/session/start`` (which
    sets the cookie) to the page; served another way (``streamlit run app.py``, AppTest)
    the sign-in lasts this tab, and the page reruns into the role's navigation."""
    from . import sessions
    account = st.session_state.get("account") or {}
    if not sessions.served() or not account.get("binding"):
        st.rerun()
    next_url, refused = _page_url(actor)
    session, ticket = sessions.open_session(get_store(), actor.name, account["role"],
                                            account["binding"], next_url=next_url,
                                            target=refused)
    account["sid"] = session.sid
    st.session_state["account"] = account
    _redirect(ticket.url)
    st.stop()


def _redirect(url: str) -> None:
    """Send the browser to ``url`` (a path on this app). Streamlit has no public call for
    it; this is the message ``st.login`` and ``st.logout`` send (the frontend sets
    ``window.location.href``)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    msg = ForwardMsg()
    msg.auth_redirect.url = url
    ctx.enqueue(msg)


def demo_banner() -> None:
    """A red banner on every page while a demo account (published password) can sign in."""
    from .accounts import enabled_demo_accounts
    names = cached(enabled_demo_accounts)     # once per store change, not every rerun
    if names:
        st.error(_("**Demo accounts are enabled** ({names}): their passwords are "
                   "published in the README, so anyone can sign in with them. Create a real "
                   "administrator (Users page, or `python -m dashboard user add NAME --role "
                   "admin`): that disables them.").format(
                       names=("、" if is_chinese() else ", ").join(names)),
                 icon=":material/warning:")


def sign_in_navigation():
    """``st.navigation`` for a signed-out session: the sign-in form, at ``/sign_in`` and
    at every page's own address.

    A shared link (``/findings?rule=PROC-PIA``) opened by a signed-out browser (a new
    tab: local sign-in lasts one tab) thus shows the sign-in form *at that address*,
    with its query parameters, instead of Streamlit's "page not found" and the root
    URL. On success ``st.rerun()`` reruns the same page, now in the role's
    navigation: the linked page opens with the link's filters, or, when the role may
    not open it, the role's default page with a warning (``refused_link``).
    ``sign_in_target`` (the page's key) names the page for the form's caption.
    """
    form = sign_in_script()
    title = _("Sign in")
    pages = [st.Page(form, title=title, icon=":material/login:", url_path="sign_in",
                     default=True)]
    pages += [st.Page(form, title=title, icon=":material/login:", url_path=spec.key)
              for spec in PAGE_BY_KEY.values()]
    nav = st.navigation(pages, position="hidden")
    st.session_state["sign_in_target"] = nav.url_path if nav.url_path in PAGE_BY_KEY else None
    return nav


def refused_link(actor: Actor) -> None:
    """On the first run after signing in from a link to a page the role may not open
    (the role's default page runs instead): say so, as ``page_guard`` words it."""
    spec = PAGE_BY_KEY.get(st.session_state.pop("sign_in_target", None) or "")
    if spec is not None and actor.role not in spec.roles:
        st.warning(_("**{page}** is not available. Your role ({role}) may not open it.").format(
            page=page_title(spec.title), role=role_words(actor.role)), icon=":material/block:")


def page_guard(key: str) -> Actor:
    """Refuse the page unless the signed-in user's role may open it.

    Navigation already lists only the role's pages, and a URL naming a page outside
    them gets Streamlit's "page not found" and the default page; this holds when a
    page file is run some other way (a test, a future change to app.py). It re-applies
    the session rules (idle timeout, account re-check) itself.

    The entry point (``dashboard/app.py``) does not sit beside ``pages/``: with a
    ``pages/`` folder beside the main script, Streamlit 1.67 starts each process in its
    old multipage mode, where a URL naming a page file runs it directly, before
    ``app.py`` (its role filter and session checks) has ever run.
    ``tests/test_navigation.py`` keeps it that way.
    """
    actor = enforce_session()
    spec = PAGE_BY_KEY[key]
    if actor is None or actor.role not in spec.roles:
        if actor is None:
            text = _("**{page}** is not available. You are not signed in.")
        else:
            text = _("**{page}** is not available. Your role ({role}) may not open it.")
        st.error(text.format(page=page_title(spec.title), role=role_words(actor.role) if actor else ""),
                 icon=":material/block:")
        st.stop()
    return actor


def callback_actor(key: str) -> Actor | None:
    """The actor a widget callback on page ``key`` may act as, or None.

    Streamlit runs ``on_click``/``on_change`` callbacks before the script, so before
    ``app.py``'s ``enforce_session`` and the page's ``page_guard``: a callback that
    writes must start with ``actor = ui.callback_actor("<page key>")`` and do nothing
    when it is None (session idle too long, account disabled, role changed).
    """
    actor = enforce_session()
    if actor is None or actor.role not in PAGE_BY_KEY[key].roles:
        return None
    return actor


def _resolve(qualname: str) -> Callable[..., Any]:
    module, _sep, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


@st.cache_data(show_spinner=False, max_entries=512, ttl=3600)
def _cached_call(qualname: str, db: str, data_version: int, kwargs_json: str,
                 locale: str = "en") -> Any:
    from . import i18n
    with i18n.using(locale):      # a result that holds words is kept per language
        return _resolve(qualname)(get_store(), **json.loads(kwargs_json))


def cached(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Call ``fn(store, **kwargs)`` through ``st.cache_data``.

    The key includes the language (a result may hold words, e.g. a validation message)
    and the store's ``data_version``, which every commit bumps, so a
    write drops stale results at once. ``fn`` must be a module-level function
    whose keyword arguments are JSON-serializable (dates become ISO strings).
    """
    store = get_store()
    qualname = f"{fn.__module__}.{fn.__qualname__}"
    payload = json.dumps(kwargs, sort_keys=True, default=_json_default)
    from . import i18n
    return _cached_call(qualname, str(store.path), store.data_version, payload,
                        i18n.get_locale())


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value)
    raise TypeError(f"cannot cache on argument {value!r}")


def format_columns(df: pd.DataFrame, register) -> dict[str, Any]:
    """``st.dataframe`` column_config for a register: headings in the run's language (the
    registers' headings are English, marked ``N_``), date formats."""
    from .registers import DATE, INTEGER, LIST, NUMBER, TIMESTAMP, BOOLEAN
    config: dict[str, Any] = {}
    for col in register.columns:
        if col.name not in df.columns:
            continue
        heading = _(col.heading)
        if col.type == DATE:
            config[col.name] = st.column_config.DateColumn(heading, format="YYYY-MM-DD")
        elif col.type == TIMESTAMP:
            config[col.name] = st.column_config.DatetimeColumn(
                heading, format="YYYY-MM-DD HH:mm")
        elif col.type == INTEGER:
            config[col.name] = st.column_config.NumberColumn(heading, format="localized")
        elif col.type == NUMBER:
            # an amount in yuan: thousands separated, always two decimals (1,250,000.50)
            config[col.name] = st.column_config.NumberColumn(heading, format="accounting")
        elif col.type == LIST:
            config[col.name] = st.column_config.ListColumn(heading)
        elif col.type == BOOLEAN:
            config[col.name] = st.column_config.CheckboxColumn(heading)
        else:
            config[col.name] = st.column_config.TextColumn(heading)
    return config


# -- the language (dashboard/i18n.py) ------------------------------------------------------
def _browser_locale() -> str | None:
    from . import i18n
    try:
        value = st.context.locale
    except Exception:  # noqa: BLE001 - no script context
        value = None
    found = i18n.normalize(value if isinstance(value, str) else None)
    if found:
        return found
    try:
        header = st.context.headers.get("Accept-Language")
    except Exception:  # noqa: BLE001
        header = None
    return i18n.from_accept_language(header if isinstance(header, str) else None)


def _run_locale() -> None:
    """Before ``app.py`` sets this run's language (``enforce_session`` runs first): the
    session's language so far, else the browser's, so that a session ended on the first
    run of a tab says why in the reader's language."""
    from . import i18n
    i18n.set_locale(i18n.normalize(st.session_state.get("locale")) or _browser_locale())


def role_words(role: str) -> str:
    """A role in a sentence: its words in Chinese (管理员); in English its code as before
    ("Your role (auditor) ..."), which reads as a word."""
    return label("role", role) if is_chinese() else str(role)


def session_locale(actor: Actor | None) -> str:
    """This session's language: chosen in the sidebar (``locale`` in session state), else the
    signed-in account's remembered choice, else the browser's language, else English.

    A language this function derived itself (no choice, no account: the browser's or
    English, e.g. on the sign-in page) is marked ``locale_derived``: once the session signs
    in, the account's remembered choice replaces it. (Without the mark the sign-in page's
    English stuck, and a password sign-in never opened in the account's language.)"""
    from . import i18n
    chosen = i18n.normalize(st.session_state.get("locale"))
    if chosen and not st.session_state.get("locale_derived"):
        return chosen
    remembered = None
    if actor is not None:
        from .accounts import preferred_locale
        remembered = cached(preferred_locale, username=actor.name)
    locale = i18n.normalize(remembered) or chosen or _browser_locale() or i18n.DEFAULT_LOCALE
    st.session_state["locale"] = locale
    st.session_state["locale_derived"] = not remembered
    return locale


def language_switcher(actor: Actor | None) -> None:
    """The sidebar's language choice (语言 / Language, in both languages so anyone finds
    it); a signed-in local account remembers it.

    Note: the choice is applied by the select box's callback, which Streamlit runs before
    the script: it sets ``locale`` in session state (an explicit choice, which wins over the
    account's and the browser's, see ``session_locale``) and, for a signed-in local account,
    stores it with ``accounts.set_locale`` (audited ``user.set_locale``, permission
    ``account.preference``), so that the account's next session opens in it. A single
    sign-on identity has no account row: the choice lasts the session. The codes are the
    select box's values (``zh_CN``, ``en``); the names are shown (``i18n.LOCALES``)."""
    from . import i18n
    codes = list(i18n.LOCALES)
    current = i18n.get_locale()

    def changed() -> None:
        new = st.session_state.get("language_choice")
        if not new or new == st.session_state.get("locale"):
            return
        st.session_state["locale"] = new
        st.session_state.pop("locale_derived", None)     # chosen: it wins from now on
        who = callback_actor_any()
        if who is not None:
            from .accounts import AccountError, set_locale
            try:
                set_locale(get_store(), who, who.name, new)
            except AccountError:
                pass    # a single sign-on identity has no account row: this session only

    st.session_state["language_choice"] = current
    st.sidebar.selectbox("语言 / Language", codes, key="language_choice",
                         format_func=i18n.LOCALES.get, on_change=changed)


def callback_actor_any() -> Actor | None:
    """The signed-in actor in a widget callback on any page (session rules applied)."""
    return enforce_session()


def sidebar_account(actor: Actor) -> None:
    account = st.session_state.get("account") or {}
    shown = account.get("display_name") or actor.name
    who = shown if shown == actor.name else f"{shown} ({actor.name})"
    with st.sidebar:
        st.caption(_("Signed in as **{name}** · {role}").format(
            name=plain(who), role=label("role", actor.role)))
        notification_bell(actor)
        if st.button(_("Sign out"), key="sign_out", icon=":material/logout:"):
            from .sessions import SIGNED_OUT
            via_sso = account.get("method") == "sso"
            sign_out(_(SIGNED_OUT))
            if via_sso:
                # Drops Streamlit's identity cookie: the browser goes to /auth/logout and
                # comes back in a new session. Stop (not rerun: a rerun would drop the
                # redirect before it reaches the browser).
                st.logout()
                st.stop()
            st.rerun()


def notification_bell(actor: Actor) -> None:
    """The bell: how many reminders this user has not read, and the latest of them
    (dashboard/reminders.py); "Mark all as read" records it (audited)."""
    from . import reminders
    store = get_store()
    # cached on the store's data version: a rerun without a write (a widget, a fragment)
    # does not query again; a reminder queued or read bumps it
    count = cached(reminders.unread_count, username=actor.name, role=actor.role)
    title = _("{count} unread").format(count=count) if count else _("Notifications")
    with st.popover(title, icon=":material/notifications_active:" if count
                    else ":material/notifications:", width="stretch"):
        items = cached(reminders.notifications_for, username=actor.name, role=actor.role,
                       limit=20)
        if items.empty:
            st.caption(_("Nothing unread. Reminders of deadlines (incident clocks, expiring "
                         "agreements, rights requests, overdue plans) and the daily digest "
                         "show here."))
            return
        if count > len(items):
            st.caption(_("The latest {shown} of {count}.").format(shown=len(items), count=count))
        for item in items.itertuples(index=False):
            st.markdown(f"**{plain(item.subject)}**")
            st.caption(fmt_datetime(item.created_at, tz=str(store.tz)))
            with st.expander(_("Details")):
                st.text(item.body)
        if st.button(_("Mark all as read"), key="bell_mark_read", icon=":material/done_all:"):
            reminders.mark_read(store, actor, actor.name)
            st.rerun()


# -- text from users, files and URLs ------------------------------------------------------
# Characters that open Markdown or HTML wherever they stand.
_MARKDOWN_ANYWHERE = re.compile(r"([\\`*_\[\]<>~$&|])")
# At the start of a line (after up to three spaces): a heading, quote, list item or
# underline: "# ", "> ", "- ", "+ ", "= ", "1. ", "1) ".
_MARKDOWN_LINE_START = re.compile(r"^( {0,3})([#>+=-])", re.M)
_ORDERED_MARKER = re.compile(r"^( {0,3}\d{1,9})([.)])(?=[ \t]|$)", re.M)   # "1. ", not "5.9"
WORD_JOINER = "\u2060"   # invisible, zero width, no line break: breaks Streamlit's text patterns


def field_error(errors: dict | None, name: str) -> None:
    """The message of ``errors`` (``{field: message}``, as the services raise them) for the
    field ``name``, shown under its input as plain text; nothing when it has none."""
    message = (errors or {}).get(name)
    if message:
        st.error(plain(message), icon=":material/error:")


def plain(value: Any) -> str:
    """``value`` (text a user typed, a file held or a URL carried) escaped so that it shows
    as the very characters it holds wherever Streamlit renders Markdown: ``st.markdown``,
    ``st.caption``, ``st.error``/``warning``/``info``/``success``, titles, headers, and the
    labels of widgets, tabs and expanders. Use it for the value only, inside the app's own
    Markdown: ``st.error(f"No incident **{ui.plain(incident_id)}**.")``. ``st.text``,
    ``st.code``, ``st.dataframe`` and widget values show text as it is and need nothing.

    - A backslash (CommonMark's escape) before every character that opens Markdown or HTML
      anywhere: ``\\ ` * _ [ ] < > ~ $ & |`` (links and images need ``[``, HTML and
      autolinks ``<``, maths ``$``, entities ``&``), and before the marker of a heading,
      quote, list or underline at the start of a line (``#``, ``>``, ``-``, ``+``, ``=``,
      ``1.``, ``1)``). Other punctuation stays as typed, so ordinary text is unchanged.
    - Streamlit also finds bare links (``http://``, ``www.``), e-mail addresses, emoji
      shortcodes and its icon and colour directives (``:material/…:``, ``:red[…]``) in
      the text *after* Markdown is parsed, where escapes are gone: an invisible word
      joiner goes after a ``:`` that is followed by a letter or ``/``, between ``www``
      and ``.``, and before an ``@`` that follows a word, which breaks all of them
      without changing what the reader sees.
    - A line break stays a line break (two trailing spaces: a hard break).
    """
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace(WORD_JOINER, "")
    text = _MARKDOWN_ANYWHERE.sub(r"\\\1", text)
    text = _ORDERED_MARKER.sub(r"\1\\\2", text)
    text = _MARKDOWN_LINE_START.sub(r"\1\\\2", text)
    text = re.sub(r":(?=[^\s\d])", ":" + WORD_JOINER, text)
    text = re.sub(r"(?i)\b(www)\.", r"\1" + WORD_JOINER + ".", text)
    text = re.sub(r"(?<=[\w.+-])@", WORD_JOINER + "@", text)
    return text.replace("\n", "  \n")

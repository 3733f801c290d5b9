"""User accounts, sign-in and single sign-on role mapping.

Local accounts live in the ``users`` table (migration 0004). Passwords are hashed
with Argon2id (``argon2-cffi``); the hash never leaves this module: ``list_users``,
``get_user``, exports and audit entries carry only the public fields.

- Administration (``create_user``, ``disable_user``, ``enable_user``,
  ``reset_password``, ``set_role``) takes the acting ``Actor`` first and writes
  through ``store.write(actor, "user.manage")``: role check, one transaction,
  one audit entry.
- ``authenticate`` signs a user in with a password, throttled by account, by client
  address and by both, with growing pauses (``dashboard/throttle.py``). Every failure
  gets the same message. The sign-in service actor (role ``auth``, action
  ``account.sign_in``) records every success and every pause that starts, and failures
  aggregated per account, address and window (no secret in any entry).
- ``unlock_user`` lifts an account's pauses (Users page, ``user unlock NAME``).
- ``session_binding`` / ``check_session``: what a session (and its cookie,
  ``dashboard/sessions.py``) is bound to: the password hash, the role and the session
  epoch. A password reset, a role change or disabling the account ends every session.
- Passwords follow ``dashboard/passwords.py`` (length, not the username, not breached,
  zxcvbn strength). Demo accounts (``DEMO_ACCOUNTS``, published passwords) are disabled
  when the first real administrator is created or appointed.
- ``sso_config`` reads the single sign-on set-up from Streamlit secrets and
  ``sign_in_sso`` maps an OIDC identity (``st.user``) to a role: a users row with
  that e-mail, else the ``[auth.roles.emails]`` table, else the configured claim.

The command line (``python -m dashboard user ...``) calls the same functions.
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import hmac
import re
import secrets
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, TextIO

import pandas as pd
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from . import passwords, throttle
from .access import ROLE_TITLES, ROLES, Actor, require
from .i18n import N_, _, is_chinese, label

PASSWORD_MIN_LENGTH = passwords.MIN_LENGTH
PASSWORD_MAX_LENGTH = passwords.MAX_LENGTH
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DISPLAY_NAME_MAX = 100

# Argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile). Hashes made
# with other parameters still verify, and are rehashed on the next good sign-in.
HASHER = PasswordHasher(type=Type.ID)

# Who records sign-in attempts: the sign-in service, not the (unproven) user.
SIGN_IN_SERVICE = throttle.SIGN_IN_SERVICE

# One message for every failed sign-in (wrong password, unknown username, paused after
# too many failures, disabled account): it tells no one whether an account exists.
# Messages are English (the command line) and translated where they are raised, in the
# language of the page run that raises them (``_``); constants are marked ``N_``.
SIGN_IN_FAILED = N_("Sign-in failed: wrong username or password, or sign-in is paused after "
                    "too many failed attempts. Check both and try again in a few minutes; if "
                    "it keeps failing, ask an administrator.")
BAD_CREDENTIALS = SIGN_IN_FAILED

# `make run` on a fresh demo store: one account per role, passwords published in
# the README. `user demo-accounts` refuses a store that holds any other account.
DEMO_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    # username, role, display name, password
    ("dpo", "dpo", "Demo data protection officer", "dpo-demo-password"),
    ("manager", "manager", "Demo manager", "manager-demo-password"),
    ("auditor", "auditor", "Demo auditor", "auditor-demo-password"),
    ("admin", "admin", "Demo administrator", "admin-demo-password"),
)

PUBLIC_COLUMNS = ("username", "display_name", "role", "email", "disabled", "demo",
                  "last_sign_in_at", "created_at", "updated_at", "password_changed_at")


class AccountError(ValueError):
    """Bad input to account administration (unknown user, weak password, ...).

    Nothing was written. The command line exits 2 with this message.
    """


class AuthError(Exception):
    """A sign-in was refused. The message is safe to show to the person signing in."""

    def __init__(self, message: str, reason: str = "bad_credentials",
                 locked_until: dt.datetime | None = None):
        super().__init__(message)
        self.reason = reason   # for tests and logs only: the message is the same for all
        self.locked_until = locked_until   # failures (wrong password, unknown, paused, disabled)


# -- validation -----------------------------------------------------------------
def normalize_username(username: Any) -> str:
    return str(username or "").strip().lower()


def validate_username(username: Any) -> str:
    name = normalize_username(username)
    if not USERNAME_RE.match(name):
        raise AccountError(_(
            "username {name} is not valid: use 2 to 32 characters, starting with "
            "a letter, made of letters, digits, '.', '_' or '-' (case does not matter)").format(
                name=repr(str(username))))
    return name


def validate_role(role: Any) -> str:
    text = str(role or "").strip().lower()
    if text not in ROLES:
        raise AccountError(_("role {role} is not one of: {roles}").format(
            role=repr(str(role)), roles=_roles_list()))
    return text


def validate_password(password: Any, username: str | None = None, *, settings=None,
                      context: tuple = ()) -> str:
    """The password policy (``dashboard/passwords.py``); ``AccountError`` says what is wrong.
    ``context``: the display name, e-mail and the like, words an attacker tries first."""
    strength = 3 if settings is None else int(settings.password_min_strength)
    try:
        return passwords.check(password, username, min_strength=strength, context=context)
    except passwords.PasswordRefused as exc:
        raise AccountError(password_message(str(exc))) from None


def _roles_list() -> str:
    """The roles a message lists: their codes in English (what the command line takes),
    their words in Chinese."""
    if is_chinese():
        return "、".join(f"{label('role', r)}（{r}）" for r in ROLES)
    return ", ".join(ROLES)


# dashboard/passwords.py words its refusals in English; the app shows them translated.
_PASSWORD_MESSAGES: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"password is too short: it must be at least (?P<n>\d+) characters long"),
     N_("password is too short: it must be at least {n} characters long")),
    (re.compile(r"password is too long: at most (?P<n>\d+) characters"),
     N_("password is too long: at most {n} characters")),
    (re.compile(r"password must not be only spaces"), N_("password must not be only spaces")),
    (re.compile(r"password must not be the username"), N_("password must not be the username")),
    (re.compile(r"password must not contain the username"),
     N_("password must not contain the username")),
    (re.compile(r"password is on the list of common and breached passwords: choose another"),
     N_("password is on the list of common and breached passwords: choose another")),
    (re.compile(r"password is (?P<words>[a-z ]+?)(?P<hint> \(.*\))?: use a longer one, "
                r"e\.g\. a few unrelated words", re.S),
     N_("password is {words}: use a longer one, e.g. a few unrelated words")),
)
_STRENGTH_WORDS = {"very easy to guess": N_("very easy to guess"),
                   "easy to guess": N_("easy to guess"), "guessable": N_("guessable"),
                   "hard to guess": N_("hard to guess"),
                   "very hard to guess": N_("very hard to guess"),
                   "too weak": N_("too weak")}


def password_message(text: str) -> str:
    """A refusal of ``dashboard/passwords.py`` in this run's language (as it is in English;
    zxcvbn's English hint is kept in English only)."""
    if not is_chinese():
        return text
    for pattern, template in _PASSWORD_MESSAGES:
        m = pattern.fullmatch(text)
        if m:
            values = m.groupdict()
            if "words" in values:
                values["words"] = _(_STRENGTH_WORDS.get(values["words"], values["words"]))
            values.pop("hint", None)
            return _(template).format(**values)
    return text


def validate_email(email: Any) -> str | None:
    if email is None or not str(email).strip():
        return None
    text = str(email).strip().lower()
    if not EMAIL_RE.match(text) or len(text) > 254:
        raise AccountError(_("e-mail {email} is not a valid address").format(
            email=repr(str(email))))
    return text


def validate_display_name(display_name: Any, username: str) -> str:
    text = " ".join(str(display_name or "").split())
    if len(text) > DISPLAY_NAME_MAX:
        raise AccountError(_("display name is too long: at most {n} characters").format(
            n=DISPLAY_NAME_MAX))
    return text or username


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH: str | None = None


def _verify_dummy(password: str) -> None:
    """Spend the time a real verification takes, so that an unknown username cannot
    be told apart from a wrong password by the response time."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))
    _verify(_DUMMY_HASH, password)


# -- reading --------------------------------------------------------------------
def _public(row: tuple) -> dict[str, Any]:
    return dict(zip(PUBLIC_COLUMNS, row))


def get_user(store, username: str) -> dict[str, Any] | None:
    """One account's public fields (no hash), or None."""
    rows = store.rows(f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM users WHERE username = ?",
                      [normalize_username(username)])
    return _public(rows[0]) if rows else None


def count_users(store) -> int:
    return store.scalar("SELECT count(*) FROM users")


def list_users(store) -> pd.DataFrame:
    """Every account, without password hashes, with its status at the store's now:
    ``disabled``, ``locked`` (a sign-in pause concerns it: ``locked_until``), else
    ``active``; ``failed_attempts``: its failed sign-ins in the current window."""
    df = store.df(
        "SELECT username, display_name, role, email, disabled, demo, last_sign_in_at, "
        "created_at, updated_at, password_changed_at FROM users ORDER BY username")
    statuses = [throttle.status(store, throttle.account_key(store, n)) for n in df["username"]]
    df.insert(4, "failed_attempts", pd.array([f for f, _until in statuses], dtype="Int64"))
    df.insert(5, "locked_until", pd.Series([u for _, u in statuses], dtype=object))
    df["locked_until"] = pd.to_datetime(df["locked_until"], utc=True).dt.tz_convert(store.tz)
    df.insert(4, "status", ["disabled" if d else ("locked" if u is not None else "active")
                            for d, (_, u) in zip(df["disabled"], statuses)])
    return df.drop(columns=["disabled"])


def enabled_demo_accounts(store) -> list[str]:
    """The demo accounts (published passwords) that can still sign in."""
    return [r[0] for r in store.rows(
        "SELECT username FROM users WHERE demo AND NOT disabled ORDER BY username")]


def _require_user(w, username: str) -> dict[str, Any]:
    rows = w.execute(f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM users WHERE username = ?",
                     [username]).fetchall()
    if not rows:
        raise AccountError(_("there is no user named {name}").format(name=repr(username)))
    return _public(rows[0])


def _other_enabled_admins(w, username: str) -> int:
    return w.execute("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled "
                     "AND username <> ?", [username]).fetchone()[0]


def _audit_view(user: Mapping[str, Any]) -> dict[str, Any]:
    """What an audit entry may say about an account: never a hash or password."""
    return {k: user[k] for k in ("username", "display_name", "role", "email", "disabled")
            if k in user}


# -- administration (action user.manage) ------------------------------------------
DEMO_RETIRED = N_("The demo accounts ({names}) were disabled: their passwords are published, "
                  "and this store now has a real administrator.")


def _retire_demo_accounts(w) -> list[str]:
    """Inside the write that creates or appoints a real administrator: disable every
    enabled demo account (and end its sessions: the epoch moves on)."""
    names = [r[0] for r in w.execute("SELECT username FROM users WHERE demo AND NOT disabled "
                                     "ORDER BY username").fetchall()]
    if names:
        w.execute("UPDATE users SET disabled = true, session_epoch = session_epoch + 1, "
                  "updated_at = ? WHERE demo AND NOT disabled", [w.at])
    return names


def create_user(store, actor: Actor, username: str, role: str, password: str,
                display_name: str | None = None, email: str | None = None, *,
                _demo: bool = False) -> dict[str, Any]:
    """Create an account. The first real (non-demo) administrator disables the demo
    accounts in the same write; the returned dict then lists them in
    ``demo_accounts_disabled``."""
    name = validate_username(username)
    role = validate_role(role)
    email = validate_email(email)
    display = validate_display_name(display_name, name)
    if not _demo:      # the demo accounts' passwords are published anyway
        validate_password(password, name, settings=store.settings, context=(display, email))
    digest = hash_password(password)            # slow: outside the write lock
    retired: list[str] = []
    with store.write(actor, "user.manage") as w:
        if w.execute("SELECT 1 FROM users WHERE username = ?", [name]).fetchone():
            raise AccountError(_("a user named {name} already exists (usernames ignore case)").format(
                name=repr(name)))
        if email and w.execute("SELECT username FROM users WHERE email = ?", [email]).fetchone():
            raise AccountError(_("another user already has the e-mail {email}").format(
                email=repr(email)))
        w.execute(
            "INSERT INTO users (username, display_name, role, email, password_hash, disabled, "
            "demo, created_at, updated_at, password_changed_at) "
            "VALUES (?, ?, ?, ?, ?, false, ?, ?, ?, ?)",
            [name, display, role, email, digest, _demo, w.at, w.at, w.at])
        if role == "admin" and not _demo:
            retired = _retire_demo_accounts(w)
        user = {"username": name, "display_name": display, "role": role, "email": email,
                "disabled": False}
        after = _audit_view(user)
        if _demo:
            after["demo"] = True
        if retired:
            after["demo_accounts_disabled"] = retired
        w.audit("user.create", "user", name, after=after)
    made = get_user(store, name)
    made["demo_accounts_disabled"] = retired
    return made


def disable_user(store, actor: Actor, username: str) -> dict[str, Any]:
    """Disable an account: it can no longer sign in, and every open session and cookie of
    it ends at its next request (the session epoch moves on)."""
    name = normalize_username(username)
    with store.write(actor, "user.manage") as w:
        user = _require_user(w, name)
        if user["disabled"]:
            raise AccountError(_("user {name} is already disabled; nothing changed").format(
                name=repr(name)))
        if name == actor.name:
            raise AccountError(_("you cannot disable your own account"))
        if user["role"] == "admin" and not _other_enabled_admins(w, name):
            raise AccountError(_("{name} is the only enabled administrator: enable or create "
                                 "another administrator first").format(name=repr(name)))
        w.execute("UPDATE users SET disabled = true, session_epoch = session_epoch + 1, "
                  "updated_at = ? WHERE username = ?", [w.at, name])
        w.audit("user.disable", "user", name, before={"disabled": False},
                after={"disabled": True})
    return get_user(store, name)


def enable_user(store, actor: Actor, username: str) -> dict[str, Any]:
    """Enable a disabled account (and lift its sign-in pauses)."""
    name = normalize_username(username)
    akey = throttle.account_key(store, name)
    addresses = throttle.addresses_of(store, akey)
    with store.write(actor, "user.manage") as w:
        user = _require_user(w, name)
        if not user["disabled"]:
            raise AccountError(_("user {name} is not disabled; nothing changed (to lift a "
                                 "sign-in pause, unlock it)").format(name=repr(name)))
        w.execute("UPDATE users SET disabled = false, updated_at = ? WHERE username = ?",
                  [w.at, name])
        throttle.clear_account(w, akey, addresses)
        w.audit("user.enable", "user", name, before={"disabled": True},
                after={"disabled": False})
    throttle.forget_account(store, akey, addresses)
    return get_user(store, name)


def unlock_user(store, actor: Actor, username: str) -> dict[str, Any]:
    """Lift every sign-in pause and failure count of an account (the Users page's Unlock,
    ``user unlock NAME``); one ``user.unlock`` audit entry."""
    name = normalize_username(username)
    akey = throttle.account_key(store, name)
    failures, until = throttle.status(store, akey)
    addresses = throttle.addresses_of(store, akey)
    if get_user(store, name) is None:
        raise AccountError(_("there is no user named {name}").format(name=repr(name)))
    if until is None and not failures:
        raise AccountError(_("user {name} is not locked and has no failed sign-ins; "
                             "nothing changed").format(name=repr(name)))
    with store.write(actor, "user.manage") as w:
        _require_user(w, name)
        throttle.clear_account(w, akey, addresses)
        w.audit("user.unlock", "user", name,
                before={"locked_until": until, "failed_attempts": failures},
                after={"locked_until": None, "failed_attempts": 0})
    throttle.forget_account(store, akey, addresses)
    return get_user(store, name)


def reset_password(store, actor: Actor, username: str, password: str) -> dict[str, Any]:
    """Set a new password (and lift the sign-in pauses). Every open session and cookie of
    the account ends at its next request (they are bound to the old hash)."""
    name = normalize_username(username)
    user = get_user(store, name)                 # fail fast, before the slow hash
    if user is None:
        raise AccountError(_("there is no user named {name}").format(name=repr(name)))
    validate_password(password, name, settings=store.settings,
                      context=(user["display_name"], user["email"]))
    digest = hash_password(password)
    akey = throttle.account_key(store, name)
    addresses = throttle.addresses_of(store, akey)
    with store.write(actor, "user.manage") as w:
        _require_user(w, name)
        w.execute("UPDATE users SET password_hash = ?, password_changed_at = ?, demo = false, "
                  "updated_at = ? WHERE username = ?", [digest, w.at, w.at, name])
        throttle.clear_account(w, akey, addresses)
        w.audit("user.reset_password", "user", name, after={"password": "changed"})
    throttle.forget_account(store, akey, addresses)
    return get_user(store, name)


def set_role(store, actor: Actor, username: str, role: str) -> dict[str, Any]:
    """Change an account's role; its open sessions end at their next request. Appointing
    a real (non-demo) account administrator disables the demo accounts."""
    name = normalize_username(username)
    role = validate_role(role)
    retired: list[str] = []
    with store.write(actor, "user.manage") as w:
        user = _require_user(w, name)
        if user["role"] == role:
            raise AccountError(_("user {name} already has the role {role}; nothing changed")
                               .format(name=repr(name), role=_role_word(role)))
        if name == actor.name:
            raise AccountError(_("you cannot change your own role"))
        if user["role"] == "admin" and not user["disabled"] and not _other_enabled_admins(w, name):
            raise AccountError(_("{name} is the only enabled administrator: make another user "
                                 "an administrator first").format(name=repr(name)))
        w.execute("UPDATE users SET role = ?, updated_at = ? WHERE username = ?",
                  [role, w.at, name])
        if role == "admin" and not user["demo"] and not user["disabled"]:
            retired = _retire_demo_accounts(w)
        after = {"role": role}
        if retired:
            after["demo_accounts_disabled"] = retired
        w.audit("user.set_role", "user", name, before={"role": user["role"]}, after=after)
    changed = get_user(store, name)
    changed["demo_accounts_disabled"] = retired
    return changed


def preferred_locale(store, username: str) -> str | None:
    """The language the account chose last (``zh_CN``, ``en``), or None."""
    rows = store.rows("SELECT locale FROM users WHERE username = ?",
                      [normalize_username(username)])
    return rows[0][0] if rows else None


def set_locale(store, actor: Actor, username: str, locale: str) -> str:
    """Remember ``username``'s language (the sidebar's choice). A user sets only their own
    (an administrator anyone's); audited as ``user.set_locale``. Sessions are not ended:
    the language is not part of the session binding."""
    from .i18n import LOCALES, normalize
    name = normalize_username(username)
    value = normalize(locale)
    if value not in LOCALES:
        raise AccountError(_("unknown language {locale}: choose one of {choices}").format(
            locale=repr(locale), choices=", ".join(LOCALES)))
    action = "account.preference" if name == actor.name else "user.manage"
    require(actor, action)
    if preferred_locale(store, name) == value:
        return value                      # nothing to change, nothing to record
    with store.write(actor, action) as w:
        rows = w.execute("SELECT locale FROM users WHERE username = ?", [name]).fetchall()
        if not rows:
            raise AccountError(_("there is no user named {name}").format(name=repr(name)))
        before = rows[0][0]
        w.execute("UPDATE users SET locale = ? WHERE username = ?", [value, name])
        w.audit("user.set_locale", "user", name, before={"locale": before},
                after={"locale": value})
    return value


def ensure_demo_accounts(store, actor: Actor) -> list[tuple[str, str, str, bool]]:
    """Create the demo accounts that do not exist yet.

    Returns (username, role, password, created) per demo account. Refuses a store
    that holds any account other than the demo ones: published passwords must never
    reach a store with real users.
    """
    demo_names = {d[0] for d in DEMO_ACCOUNTS}
    existing = {r[0] for r in store.rows("SELECT username FROM users")}
    real = sorted(existing - demo_names)
    if real:
        raise AccountError(
            f"this store has real accounts ({', '.join(real[:5])}{'...' if len(real) > 5 else ''}):"
            " demo accounts, whose passwords are published, are only for demo stores")
    result = []
    for username, role, display, password in DEMO_ACCOUNTS:
        created = username not in existing
        if created:
            create_user(store, actor, username, role, password, display_name=display,
                        _demo=True)
        result.append((username, role, password, created))
    return result


# -- sign-in ----------------------------------------------------------------------
def authenticate(store, username: str, password: str, *, address: str | None = None) -> Actor:
    """Check a username and password from client ``address``; return the signed-in ``Actor``.

    Raises ``AuthError`` with one message (``SIGN_IN_FAILED``) for every failure: wrong
    password, unknown username, a sign-in pause (throttle), a disabled account;
    ``reason`` tells them apart for tests and logs. Throttling and what is recorded in the
    audit log: ``dashboard/throttle.py``. An unknown username is never written down (people
    sometimes type their password into that field), and takes as long as a wrong password.
    """
    if not username or not str(username).strip() or not password:
        raise AuthError(_("Enter your username and your password."), reason="missing")
    name = normalize_username(username)
    password = str(password)
    address = throttle.normalize_address(address)
    throttle.flush_due(store)
    akey = throttle.account_key(store, name)
    row = None
    if USERNAME_RE.match(name) and len(password) <= PASSWORD_MAX_LENGTH:
        found = store.rows("SELECT password_hash, role, disabled FROM users WHERE username = ?",
                           [name])
        row = found[0] if found else None
    entity = name if row is not None else None

    paused = throttle.blocked(store, akey, address)
    if paused:                       # refused unchecked: no hashing under an attack
        throttle.failed(store, akey=akey, entity=entity, address=address, reason="paused",
                        checked=False)
        raise AuthError(_(SIGN_IN_FAILED), reason="paused", locked_until=max(u for _, u in paused))

    if row is None:
        _verify_dummy(password)
        ok, reason = False, "unknown username"
    else:
        ok = _verify(row[0], password)
        reason = "wrong password" if not ok else ("disabled" if row[2] else None)
    if reason is not None:
        started = throttle.failed(store, akey=akey, entity=entity, address=address,
                                  reason=reason, checked=True)
        raise AuthError(_(SIGN_IN_FAILED), reason="locked" if started else (
            "disabled" if reason == "disabled" else "bad_credentials"),
            locked_until=max((u for _, u in started), default=None))

    new_hash = hash_password(password) if HASHER.check_needs_rehash(row[0]) else None
    before = throttle.succeeded(store, akey=akey, entity=name, address=address)
    with store.write(SIGN_IN_SERVICE, "account.sign_in") as w:
        current = w.execute("SELECT role FROM users WHERE username = ?", [name]).fetchone()
        role = current[0] if current else row[1]
        if new_hash:
            w.execute("UPDATE users SET password_hash = ? WHERE username = ?", [new_hash, name])
        w.execute("UPDATE users SET last_sign_in_at = ? WHERE username = ?", [w.at, name])
        throttle.record_success(w, akey=akey, address=address)
        after = {"method": "password", "role": role, "address": address,
                 "password_rehashed": bool(new_hash)}
        if before:
            after["failures_before"] = before
        w.audit("auth.sign_in", "user", name, after=after)
    return Actor(name, role)


DISABLED_MESSAGE = N_("This account is disabled. Ask an administrator to enable it.")


# -- sessions: what a signed-in session is bound to -----------------------------------
def session_binding(store, username: str) -> tuple[str, str]:
    """(role, binding) of a local account now. The binding is an HMAC, under the store's
    secret, of the password hash, the role and the session epoch: a password reset, a
    role change or disabling the account changes it. Raises ``AuthError`` when the
    account was removed or is disabled."""
    from .sessions import keyed_digest
    name = normalize_username(username)
    rows = store.rows("SELECT role, disabled, demo, session_epoch, password_hash FROM users "
                      "WHERE username = ?", [name])
    if not rows:
        raise AuthError(_("Your account no longer exists. You have been signed out."),
                        reason="removed")
    role, disabled, demo, epoch, digest = rows[0]
    if disabled:
        if demo:
            raise AuthError(_("The demo accounts were disabled when a real administrator was "
                              "created. Sign in with a real account."), reason="disabled")
        raise AuthError(_("Your account has been disabled by an administrator. "
                          "You have been signed out."), reason="disabled")
    return role, keyed_digest(store, "session-binding", f"{name}\x00{role}\x00{epoch}\x00{digest}")


def _role_word(role: str) -> str:
    """A role in a message: the code in English (as the command line takes it), the words
    in Chinese."""
    return label("role", role) if is_chinese() else str(role)


def check_session(store, username: str, role: str, binding: str) -> Actor:
    """The actor of a session bound (at sign-in) to ``role`` and ``binding``, or
    ``AuthError`` saying why the session has ended."""
    now_role, now_binding = session_binding(store, username)
    if now_role != role:
        raise AuthError(_("Your role was changed (from {old} to {new}) by an "
                          "administrator. Sign in again.").format(
                              old=_role_word(role), new=_role_word(now_role)),
                        reason="role_changed")
    if not hmac.compare_digest(now_binding, binding or ""):
        raise AuthError(_("Your password was changed, or your sessions were ended by an "
                          "administrator. Sign in again."), reason="password_changed")
    return Actor(normalize_username(username), role)


def session_actor(store, username: str) -> Actor:
    """Re-check a local account (the streamed-download route): the role as it is now.

    Raises ``AuthError`` when the account was removed or disabled.
    """
    role, _binding = session_binding(store, username)
    return Actor(normalize_username(username), role)


# -- single sign-on (OIDC through st.login) --------------------------------------------
_PROVIDER_KEYS = ("client_id", "server_metadata_url")


@dataclass(frozen=True)
class SsoProvider:
    name: str | None        # argument for st.login (None: the [auth] section itself)
    label: str


@dataclass(frozen=True)
class SsoConfig:
    providers: tuple[SsoProvider, ...]
    claim: str | None = None
    claim_roles: Mapping[str, str] = field(default_factory=dict)
    email_roles: Mapping[str, str] = field(default_factory=dict)
    match_accounts: bool = True


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return dict(value)


def sso_config(secrets_: Mapping[str, Any]) -> SsoConfig | None:
    """The single sign-on set-up from Streamlit secrets, or None without ``[auth]``.

    Raises ``AccountError`` naming the key when the role mapping is malformed.
    """
    try:
        auth = secrets_.get("auth") if secrets_ is not None else None
    except FileNotFoundError:   # st.secrets with no secrets.toml
        return None
    if not auth:
        return None
    auth = _as_dict(auth)
    providers = []
    if any(k in auth for k in _PROVIDER_KEYS):
        providers.append(SsoProvider(None, str(auth.get("label") or _("single sign-on"))))
    for key, value in auth.items():
        if key != "roles" and isinstance(value, Mapping) and any(k in value for k in _PROVIDER_KEYS):
            providers.append(SsoProvider(key, str(value.get("label") or key.replace("-", " ").title())))
    roles = _as_dict(auth.get("roles"))
    claim = roles.get("claim")
    if claim is not None and (not isinstance(claim, str) or not claim.strip()):
        raise AccountError(_("secrets [auth.roles] claim must be the name of a claim, e.g. "
                             "\"groups\""))
    claim_roles = {str(k): str(v) for k, v in _as_dict(roles.get("values")).items()}
    email_roles = {str(k).strip().lower(): str(v) for k, v in _as_dict(roles.get("emails")).items()}
    for table, mapping in (("values", claim_roles), ("emails", email_roles)):
        for key, role in mapping.items():
            if role not in ROLES:
                raise AccountError(_("secrets [auth.roles.{table}] maps {key} to {role}, "
                                     "which is not one of: {roles}").format(
                                         table=table, key=repr(key), role=repr(role),
                                         roles=", ".join(ROLES)))
    if claim_roles and not claim:
        raise AccountError(_("secrets [auth.roles.values] needs [auth.roles] claim = "
                             "\"<claim name>\""))
    match = roles.get("match_accounts", True)
    if not isinstance(match, bool):
        raise AccountError(_("secrets [auth.roles] match_accounts must be true or false"))
    return SsoConfig(tuple(providers), claim.strip() if claim else None, claim_roles, email_roles,
                     match)


def _claim_values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    return [str(value)]


def verified_email(claims: Mapping[str, Any]) -> str | None:
    """The identity's e-mail, only when the provider says it is verified: the claim
    ``email_verified`` must be the JSON boolean ``true`` (a missing claim, ``"true"`` as a
    string, ``1`` or ``"false"`` prove nothing)."""
    email = str(claims.get("email") or "").strip().lower()
    return email if email and claims.get("email_verified") is True else None


def _identity(claims: Mapping[str, Any], provider: str | None) -> str:
    """Who the audit log names: the verified e-mail, else provider:subject (an unverified
    address could be anyone's)."""
    email = verified_email(claims)
    if email:
        return email
    sub = str(claims.get("sub") or "").strip()
    return f"{provider or 'sso'}:{sub}" if sub else ""


def sign_in_sso(store, claims: Mapping[str, Any], config: SsoConfig,
                provider: str | None = None) -> tuple[Actor, dict[str, Any]]:
    """Map an OIDC identity to an ``Actor`` and record the sign-in.

    In order: a users row with the (verified) e-mail, the ``[auth.roles.emails]``
    table, then the ``claim`` through ``[auth.roles.values]``. Returns the actor
    and the account details for the session; raises ``AuthError`` (recorded) when
    the identity maps to no role, to more than one, or to a disabled account.
    """
    identity = _identity(claims, provider)
    email = verified_email(claims)          # an unverified address proves nothing
    display = str(claims.get("name") or identity or "")
    method = f"sso:{provider or 'default'}"
    actor = None
    account: dict[str, Any] = {"method": "sso", "provider": provider, "display_name": display}
    error: AuthError | None = None
    via = None
    if not identity:
        error = AuthError(_("The identity provider sent neither a verified e-mail nor a "
                            "subject: cannot tell who you are."), reason="unmapped")
    elif email and config.match_accounts:
        rows = store.rows("SELECT username, role, disabled, display_name FROM users "
                          "WHERE email = ?", [email])
        if rows:
            username, role, disabled, display_name = rows[0]
            if disabled:
                error = AuthError(_(DISABLED_MESSAGE), reason="disabled")
            else:
                actor = Actor(username, role)
                account.update(username=username, display_name=display_name)
                via = "account"
    if actor is None and error is None and email and email in config.email_roles:
        actor, via = Actor(identity, config.email_roles[email]), "email table"
    if actor is None and error is None and config.claim:
        values = _claim_values(claims.get(config.claim))
        roles = sorted({config.claim_roles[v] for v in values if v in config.claim_roles})
        if len(roles) == 1:
            actor, via = Actor(identity, roles[0]), f"claim {config.claim}"
        elif len(roles) > 1:
            error = AuthError(
                _("Your {claim} claim maps to more than one role ({roles}). "
                  "Ask an administrator to give you exactly one.").format(
                      claim=repr(config.claim),
                      roles=("、" if is_chinese() else ", ").join(_role_word(r) for r in roles)),
                reason="ambiguous")
    if actor is None and error is None:
        error = AuthError(
            _("{identity} is signed in with single sign-on but has no role in this app. "
              "Ask an administrator to map your account to a role.").format(identity=identity),
            reason="unmapped")
    with store.write(SIGN_IN_SERVICE, "account.sign_in") as w:
        if error is not None:
            w.audit("auth.sso_refused", "user", identity or None,
                    after={"method": method, "reason": error.reason})
        else:
            if account.get("username"):
                w.execute("UPDATE users SET last_sign_in_at = ? WHERE username = ?",
                          [w.at, account["username"]])
            w.audit("auth.sign_in", "user", actor.name,
                    after={"method": method, "role": actor.role, "mapped_by": via})
    if error is not None:
        raise error
    return actor, account


# -- command line ---------------------------------------------------------------------
def read_new_password(err: TextIO) -> str:
    """A new password: prompted twice on a terminal, else one line of standard input.

    Never an argument: command lines end up in shell histories and process lists.
    """
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        first = getpass.getpass(f"New password (at least {PASSWORD_MIN_LENGTH} characters): ")
        second = getpass.getpass("Repeat the password: ")
        if first != second:
            raise AccountError("the two passwords differ; nothing was written")
        return first
    line = stdin.readline() if stdin is not None else ""
    if not line:
        raise AccountError("no password given: type it at the prompt, or pipe one line "
                           "into standard input")
    return line.rstrip("\r\n")


def _open(args):
    from .cli import open_store
    return open_store(args, must_exist=True)


def _refuse_password_argument(args) -> None:
    if getattr(args, "password_arg", None) is not None:
        raise AccountError("passwords are never taken from the command line (shell histories and "
                           "process lists keep them): leave out --password, and type it at the "
                           "prompt or pipe one line into standard input")


def cmd_add(args, out, err) -> int:
    from .access import cli_actor
    _refuse_password_argument(args)
    name = validate_username(args.name)
    validate_role(args.role)
    validate_email(args.email)
    with _open(args) as store:
        if get_user(store, name) is not None:
            raise AccountError(_("a user named {name} already exists (usernames ignore case)").format(
                name=repr(name)))
        password = read_new_password(err)
        user = create_user(store, cli_actor(), name, args.role, password,
                           display_name=args.display_name, email=args.email)
    out.write(f"created user {user['username']} ({user['role']}: "
              f"{ROLE_TITLES[user['role']]})\n")
    if user["demo_accounts_disabled"]:
        out.write(DEMO_RETIRED.format(names=", ".join(user["demo_accounts_disabled"])) + "\n")
    return 0


def cmd_list(args, out, err) -> int:
    with _open(args) as store:
        df = list_users(store)
    if args.format == "csv":
        from .exports import write_frame_csv       # the one injection-safe CSV writer
        write_frame_csv(df, out, timezone=store.settings.timezone, bom=False)
        return 0
    if df.empty:
        out.write("no user accounts yet: create an administrator with "
                  "`python -m dashboard user add NAME --role admin`\n")
        return 0
    show = df[["username", "display_name", "role", "email", "status", "locked_until",
               "last_sign_in_at"]].copy()
    for col in ("locked_until", "last_sign_in_at"):
        show[col] = [v.strftime("%Y-%m-%d %H:%M") if isinstance(v, (dt.datetime, pd.Timestamp))
                     and not pd.isna(v) else "" for v in show[col]]
    show = show.astype(object).where(show.notna(), "")
    out.write(show.to_string(index=False) + "\n")
    return 0


def cmd_disable(args, out, err) -> int:
    from .access import cli_actor
    with _open(args) as store:
        disable_user(store, cli_actor(), args.name)
    out.write(f"disabled user {normalize_username(args.name)}\n")
    return 0


def cmd_enable(args, out, err) -> int:
    from .access import cli_actor
    with _open(args) as store:
        enable_user(store, cli_actor(), args.name)
    out.write(f"enabled user {normalize_username(args.name)} (and lifted any sign-in pause)\n")
    return 0


def cmd_unlock(args, out, err) -> int:
    from .access import cli_actor
    with _open(args) as store:
        unlock_user(store, cli_actor(), args.name)
    out.write(f"unlocked user {normalize_username(args.name)}: its sign-in pauses and failed "
              "sign-ins are cleared\n")
    return 0


def cmd_reset_password(args, out, err) -> int:
    from .access import cli_actor
    _refuse_password_argument(args)
    with _open(args) as store:
        if get_user(store, args.name) is None:
            raise AccountError(_("there is no user named {name}").format(
                name=repr(normalize_username(args.name))))
        password = read_new_password(err)
        reset_password(store, cli_actor(), args.name, password)
    out.write(f"password of {normalize_username(args.name)} changed (account unlocked; "
              "its open sessions end)\n")
    return 0


def cmd_set_role(args, out, err) -> int:
    from .access import cli_actor
    with _open(args) as store:
        user = set_role(store, cli_actor(), args.name, args.role)
    out.write(f"user {user['username']} now has the role {user['role']} (its open sessions "
              "end)\n")
    if user["demo_accounts_disabled"]:
        out.write(DEMO_RETIRED.format(names=", ".join(user["demo_accounts_disabled"])) + "\n")
    return 0


def cmd_demo_accounts(args, out, err) -> int:
    from .access import cli_actor
    with _open(args) as store:
        result = ensure_demo_accounts(store, cli_actor())
    out.write("Demo accounts (for a demo store only; the passwords are public):\n")
    for username, role, password, created in result:
        out.write(f"  {role:<8} username {username:<8} password {password}"
                  f"{'' if created else '   (already there)'}\n")
    out.write("Open the app at the address `make run` prints (Serving on http://...) and sign "
              "in with one of them.\n")
    return 0


def register_cli(sub) -> None:
    user = sub.add_parser("user", help="manage user accounts (passwords are read from a "
                                       "prompt or standard input, never from arguments)")
    cmds = user.add_subparsers(dest="user_command", required=True,
                               parser_class=type(user))
    p = cmds.add_parser("add", help="create an account")
    p.add_argument("name")
    p.add_argument("--role", required=True, help=f"one of: {', '.join(ROLES)}")
    p.add_argument("--display-name", default=None)
    p.add_argument("--email", default=None)
    p.add_argument("--password", dest="password_arg", default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_add)
    p = cmds.add_parser("list", help="list accounts (no password hashes)")
    p.add_argument("--format", choices=("table", "csv"), default="table")
    p.set_defaults(handler=cmd_list)
    p = cmds.add_parser("disable", help="disable an account (it can no longer sign in)")
    p.add_argument("name")
    p.set_defaults(handler=cmd_disable)
    p = cmds.add_parser("enable", help="enable a disabled account")
    p.add_argument("name")
    p.set_defaults(handler=cmd_enable)
    p = cmds.add_parser("unlock", help="lift an account's sign-in pauses (after failed "
                                       "sign-ins)")
    p.add_argument("name")
    p.set_defaults(handler=cmd_unlock)
    p = cmds.add_parser("reset-password", help="set a new password (read from a prompt or stdin)")
    p.add_argument("name")
    p.add_argument("--password", dest="password_arg", default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_reset_password)
    p = cmds.add_parser("set-role", help="change an account's role")
    p.add_argument("name")
    p.add_argument("role", help=f"one of: {', '.join(ROLES)}")
    p.set_defaults(handler=cmd_set_role)
    p = cmds.add_parser("demo-accounts", help="create one demo account per role "
                                              "(demo stores only; `make run` does this)")
    p.set_defaults(handler=cmd_demo_accounts)

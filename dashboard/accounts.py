"""User accounts, sign-in and single sign-on role mapping.

Local accounts live in the ``users`` table (migration 0004). Passwords are hashed
with Argon2id (``argon2-cffi``); the hash never leaves this module: ``list_users``,
``get_user``, exports and audit entries carry only the public fields.

- Administration (``create_user``, ``disable_user``, ``enable_user``,
  ``reset_password``, ``set_role``) takes the acting ``Actor`` first and writes
  through ``store.write(actor, "user.manage")``: role check, one transaction,
  one audit entry.
- ``authenticate`` signs a user in with a password. Every attempt that names a
  username is recorded (one audit entry each, with no secret in it) by the
  sign-in service actor (role ``auth``, action ``account.sign_in``): a failure
  counts towards ``login_max_failures``, after which the account is locked for
  ``login_lockout_minutes``; a success resets the count.
- ``sso_config`` reads the single sign-on set-up from Streamlit secrets and
  ``sign_in_sso`` maps an OIDC identity (``st.user``) to a role: a users row with
  that e-mail, else the ``[auth.roles.emails]`` table, else the configured claim.

The command line (``python -m dashboard user ...``) calls the same functions.
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import re
import secrets
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, TextIO

import pandas as pd
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .access import AUTH_ROLE, ROLE_TITLES, ROLES, Actor

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DISPLAY_NAME_MAX = 100

# Argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile). Hashes made
# with other parameters still verify, and are rehashed on the next good sign-in.
HASHER = PasswordHasher(type=Type.ID)

# Who records sign-in attempts: the sign-in service, not the (unproven) user.
SIGN_IN_SERVICE = Actor("sign-in", AUTH_ROLE)

BAD_CREDENTIALS = "Wrong username or password."

# `make run` on a fresh demo store: one account per role, passwords published in
# the README. `user demo-accounts` refuses a store that holds any other account.
DEMO_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    # username, role, display name, password
    ("dpo", "dpo", "Demo data protection officer", "dpo-demo-password"),
    ("manager", "manager", "Demo manager", "manager-demo-password"),
    ("auditor", "auditor", "Demo auditor", "auditor-demo-password"),
    ("admin", "admin", "Demo administrator", "admin-demo-password"),
)

PUBLIC_COLUMNS = ("username", "display_name", "role", "email", "disabled", "failed_attempts",
                  "locked_until", "last_sign_in_at", "created_at", "updated_at",
                  "password_changed_at")


class AccountError(ValueError):
    """Bad input to account administration (unknown user, weak password, ...).

    Nothing was written. The command line exits 2 with this message.
    """


class AuthError(Exception):
    """A sign-in was refused. The message is safe to show to the person signing in."""

    def __init__(self, message: str, reason: str = "bad_credentials",
                 locked_until: dt.datetime | None = None):
        super().__init__(message)
        self.reason = reason          # bad_credentials | locked | disabled | unmapped | ...
        self.locked_until = locked_until


# -- validation -----------------------------------------------------------------
def normalize_username(username: Any) -> str:
    return str(username or "").strip().lower()


def validate_username(username: Any) -> str:
    name = normalize_username(username)
    if not USERNAME_RE.match(name):
        raise AccountError(
            f"username {str(username)!r} is not valid: use 2 to 32 characters, starting with "
            "a letter, made of letters, digits, '.', '_' or '-' (case does not matter)")
    return name


def validate_role(role: Any) -> str:
    text = str(role or "").strip().lower()
    if text not in ROLES:
        raise AccountError(f"role {str(role)!r} is not one of: {', '.join(ROLES)}")
    return text


def validate_password(password: Any, username: str | None = None) -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(
            f"password is too short: it must be at least {PASSWORD_MIN_LENGTH} characters long")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(f"password is too long: at most {PASSWORD_MAX_LENGTH} characters")
    if not password.strip():
        raise AccountError("password must not be only spaces")
    if username and password.strip().lower() == username.lower():
        raise AccountError("password must not be the username")
    return password


def validate_email(email: Any) -> str | None:
    if email is None or not str(email).strip():
        return None
    text = str(email).strip().lower()
    if not EMAIL_RE.match(text) or len(text) > 254:
        raise AccountError(f"e-mail {str(email)!r} is not a valid address")
    return text


def validate_display_name(display_name: Any, username: str) -> str:
    text = " ".join(str(display_name or "").split())
    if len(text) > DISPLAY_NAME_MAX:
        raise AccountError(f"display name is too long: at most {DISPLAY_NAME_MAX} characters")
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
    """Every account, without password hashes, with its status at the store's now."""
    return store.df(
        "SELECT username, display_name, role, email, "
        "CASE WHEN disabled THEN 'disabled' "
        "     WHEN locked_until > ? THEN 'locked' ELSE 'active' END AS status, "
        "failed_attempts, locked_until, last_sign_in_at, created_at, updated_at, "
        "password_changed_at "
        "FROM users ORDER BY username", [store.now()])


def _require_user(w, username: str) -> dict[str, Any]:
    rows = w.execute(f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM users WHERE username = ?",
                     [username]).fetchall()
    if not rows:
        raise AccountError(f"there is no user named {username!r}")
    return _public(rows[0])


def _other_enabled_admins(w, username: str) -> int:
    return w.execute("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled "
                     "AND username <> ?", [username]).fetchone()[0]


def _audit_view(user: Mapping[str, Any]) -> dict[str, Any]:
    """What an audit entry may say about an account: never a hash or password."""
    return {k: user[k] for k in ("username", "display_name", "role", "email", "disabled")
            if k in user}


# -- administration (action user.manage) ------------------------------------------
def create_user(store, actor: Actor, username: str, role: str, password: str,
                display_name: str | None = None, email: str | None = None) -> dict[str, Any]:
    name = validate_username(username)
    role = validate_role(role)
    validate_password(password, name)
    email = validate_email(email)
    display = validate_display_name(display_name, name)
    digest = hash_password(password)            # slow: outside the write lock
    with store.write(actor, "user.manage") as w:
        if w.execute("SELECT 1 FROM users WHERE username = ?", [name]).fetchone():
            raise AccountError(f"a user named {name!r} already exists (usernames ignore case)")
        if email and w.execute("SELECT username FROM users WHERE email = ?", [email]).fetchone():
            raise AccountError(f"another user already has the e-mail {email!r}")
        w.execute(
            "INSERT INTO users (username, display_name, role, email, password_hash, disabled, "
            "failed_attempts, created_at, updated_at, password_changed_at) "
            "VALUES (?, ?, ?, ?, ?, false, 0, ?, ?, ?)",
            [name, display, role, email, digest, w.at, w.at, w.at])
        user = {"username": name, "display_name": display, "role": role, "email": email,
                "disabled": False}
        w.audit("user.create", "user", name, after=_audit_view(user))
    return get_user(store, name)


def disable_user(store, actor: Actor, username: str) -> dict[str, Any]:
    name = normalize_username(username)
    with store.write(actor, "user.manage") as w:
        user = _require_user(w, name)
        if user["disabled"]:
            raise AccountError(f"user {name!r} is already disabled; nothing changed")
        if name == actor.name:
            raise AccountError("you cannot disable your own account")
        if user["role"] == "admin" and not _other_enabled_admins(w, name):
            raise AccountError(f"{name!r} is the only enabled administrator: enable or create "
                               "another administrator first")
        w.execute("UPDATE users SET disabled = true, updated_at = ? WHERE username = ?",
                  [w.at, name])
        w.audit("user.disable", "user", name, before={"disabled": False},
                after={"disabled": True})
    return get_user(store, name)


def enable_user(store, actor: Actor, username: str) -> dict[str, Any]:
    """Enable a disabled account, and unlock it (clears the failed sign-in count)."""
    name = normalize_username(username)
    with store.write(actor, "user.manage") as w:
        user = _require_user(w, name)
        locked = user["locked_until"] is not None and user["locked_until"] > w.at
        if not user["disabled"] and not locked and not user["failed_attempts"]:
            raise AccountError(f"user {name!r} is already enabled and not locked; nothing changed")
        w.execute("UPDATE users SET disabled = false, failed_attempts = 0, locked_until = NULL, "
                  "updated_at = ? WHERE username = ?", [w.at, name])
        w.audit("user.enable", "user", name,
                before={"disabled": user["disabled"], "locked": locked,
                        "failed_attempts": user["failed_attempts"]},
                after={"disabled": False, "locked": False, "failed_attempts": 0})
    return get_user(store, name)


def reset_password(store, actor: Actor, username: str, password: str) -> dict[str, Any]:
    """Set a new password (and unlock the account)."""
    name = normalize_username(username)
    validate_password(password, name)
    if get_user(store, name) is None:             # fail fast, before the slow hash
        raise AccountError(f"there is no user named {name!r}")
    digest = hash_password(password)
    with store.write(actor, "user.manage") as w:
        _require_user(w, name)
        w.execute("UPDATE users SET password_hash = ?, password_changed_at = ?, "
                  "failed_attempts = 0, locked_until = NULL, updated_at = ? WHERE username = ?",
                  [digest, w.at, w.at, name])
        w.audit("user.reset_password", "user", name, after={"password": "changed"})
    return get_user(store, name)


def set_role(store, actor: Actor, username: str, role: str) -> dict[str, Any]:
    name = normalize_username(username)
    role = validate_role(role)
    with store.write(actor, "user.manage") as w:
        user = _require_user(w, name)
        if user["role"] == role:
            raise AccountError(f"user {name!r} already has the role {role}; nothing changed")
        if name == actor.name:
            raise AccountError("you cannot change your own role")
        if user["role"] == "admin" and not user["disabled"] and not _other_enabled_admins(w, name):
            raise AccountError(f"{name!r} is the only enabled administrator: make another user "
                               "an administrator first")
        w.execute("UPDATE users SET role = ?, updated_at = ? WHERE username = ?",
                  [role, w.at, name])
        w.audit("user.set_role", "user", name, before={"role": user["role"]},
                after={"role": role})
    return get_user(store, name)


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
            create_user(store, actor, username, role, password, display_name=display)
        result.append((username, role, password, created))
    return result


# -- sign-in ----------------------------------------------------------------------
def _format_until(store, when: dt.datetime) -> str:
    local = when.astimezone(store.tz)
    if local.date() == store.now().date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def _locked_message(store, until: dt.datetime, failures: int | None = None) -> str:
    why = f" after {failures} failed sign-ins" if failures else " after too many failed sign-ins"
    return (f"This account is locked{why} until {_format_until(store, until)}. "
            "Try again then, or ask an administrator to unlock it.")


DISABLED_MESSAGE = "This account is disabled. Ask an administrator to enable it."


def authenticate(store, username: str, password: str) -> Actor:
    """Check a username and password; return the signed-in ``Actor``.

    Raises ``AuthError``: the same message for an unknown user and a wrong password;
    the time until which a locked account stays locked; a disabled account (said
    only once the password is right). Every attempt is recorded in the audit log
    (no password, no hash; an unknown username is not written down, since people
    sometimes type their password into that field).
    """
    if not username or not str(username).strip() or not password:
        raise AuthError("Enter your username and your password.", reason="missing")
    name = normalize_username(username)
    password = str(password)
    row = None
    if USERNAME_RE.match(name) and len(password) <= PASSWORD_MAX_LENGTH:
        found = store.rows("SELECT password_hash, locked_until FROM users WHERE username = ?",
                           [name])
        row = found[0] if found else None
    if row is None:
        _verify_dummy(password)
        with store.write(SIGN_IN_SERVICE, "account.sign_in") as w:
            w.audit("auth.sign_in_failed", "user", None, after={"reason": "unknown username"})
        raise AuthError(BAD_CREDENTIALS)

    now = store.now()
    stored_hash, locked_until = row
    if locked_until is not None and locked_until > now:
        with store.write(SIGN_IN_SERVICE, "account.sign_in") as w:
            w.audit("auth.sign_in_refused", "user", name,
                    after={"reason": "locked", "locked_until": locked_until})
        raise AuthError(_locked_message(store, locked_until), reason="locked",
                        locked_until=locked_until)

    ok = _verify(stored_hash, password)
    new_hash = hash_password(password) if ok and HASHER.check_needs_rehash(stored_hash) else None
    settings = store.settings
    error: AuthError | None = None
    with store.write(SIGN_IN_SERVICE, "account.sign_in") as w:
        current = w.execute("SELECT role, disabled, failed_attempts, locked_until FROM users "
                            "WHERE username = ?", [name]).fetchone()
        if current is None:                      # deleted meanwhile
            w.audit("auth.sign_in_failed", "user", None, after={"reason": "unknown username"})
            error = AuthError(BAD_CREDENTIALS)
        else:
            role, disabled, failures, locked_until = current
            if locked_until is not None and locked_until <= w.at:
                failures = 0                     # the lock has run out: count afresh
            if not ok:
                failures += 1
                max_failures = max(1, settings.login_max_failures)
                if failures >= max_failures:
                    until = w.at + dt.timedelta(minutes=settings.login_lockout_minutes)
                    w.execute("UPDATE users SET failed_attempts = ?, locked_until = ? "
                              "WHERE username = ?", [failures, until, name])
                    w.audit("auth.lockout", "user", name,
                            after={"failed_attempts": failures, "locked_until": until})
                    error = AuthError(f"{BAD_CREDENTIALS} {_locked_message(store, until, failures)}",
                                      reason="locked", locked_until=until)
                else:
                    w.execute("UPDATE users SET failed_attempts = ?, locked_until = NULL "
                              "WHERE username = ?", [failures, name])
                    w.audit("auth.sign_in_failed", "user", name,
                            after={"reason": "wrong password", "failed_attempts": failures})
                    error = AuthError(BAD_CREDENTIALS)
            elif disabled:
                w.audit("auth.sign_in_refused", "user", name, after={"reason": "disabled"})
                error = AuthError(DISABLED_MESSAGE, reason="disabled")
            else:
                if new_hash:
                    w.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                              [new_hash, name])
                w.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL, "
                          "last_sign_in_at = ? WHERE username = ?", [w.at, name])
                w.audit("auth.sign_in", "user", name,
                        after={"method": "password", "role": role,
                               "password_rehashed": bool(new_hash)})
    if error is not None:
        raise error
    return Actor(name, role)


def session_actor(store, username: str) -> Actor:
    """Re-check a signed-in local account on each page run: the role as it is now.

    Raises ``AuthError`` when the account was removed or disabled since sign-in.
    """
    rows = store.rows("SELECT role, disabled FROM users WHERE username = ?",
                      [normalize_username(username)])
    if not rows:
        raise AuthError("Your account no longer exists. You have been signed out.",
                        reason="removed")
    role, disabled = rows[0]
    if disabled:
        raise AuthError("Your account has been disabled by an administrator. "
                        "You have been signed out.", reason="disabled")
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
        providers.append(SsoProvider(None, str(auth.get("label") or "single sign-on")))
    for key, value in auth.items():
        if key != "roles" and isinstance(value, Mapping) and any(k in value for k in _PROVIDER_KEYS):
            providers.append(SsoProvider(key, str(value.get("label") or key.replace("-", " ").title())))
    roles = _as_dict(auth.get("roles"))
    claim = roles.get("claim")
    if claim is not None and (not isinstance(claim, str) or not claim.strip()):
        raise AccountError("secrets [auth.roles] claim must be the name of a claim, e.g. \"groups\"")
    claim_roles = {str(k): str(v) for k, v in _as_dict(roles.get("values")).items()}
    email_roles = {str(k).strip().lower(): str(v) for k, v in _as_dict(roles.get("emails")).items()}
    for table, mapping in (("values", claim_roles), ("emails", email_roles)):
        for key, role in mapping.items():
            if role not in ROLES:
                raise AccountError(f"secrets [auth.roles.{table}] maps {key!r} to {role!r}, "
                                   f"which is not one of: {', '.join(ROLES)}")
    if claim_roles and not claim:
        raise AccountError("secrets [auth.roles.values] needs [auth.roles] claim = \"<claim name>\"")
    match = roles.get("match_accounts", True)
    if not isinstance(match, bool):
        raise AccountError("secrets [auth.roles] match_accounts must be true or false")
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


def _identity(claims: Mapping[str, Any], provider: str | None) -> str:
    email = str(claims.get("email") or "").strip().lower()
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
    email = str(claims.get("email") or "").strip().lower() or None
    if claims.get("email_verified") is False:
        email = None                        # an unverified address proves nothing
    display = str(claims.get("name") or identity or "")
    method = f"sso:{provider or 'default'}"
    actor = None
    account: dict[str, Any] = {"method": "sso", "provider": provider, "display_name": display}
    error: AuthError | None = None
    via = None
    if not identity:
        error = AuthError("The identity provider sent neither an e-mail nor a subject: "
                          "cannot tell who you are.", reason="unmapped")
    elif email and config.match_accounts:
        rows = store.rows("SELECT username, role, disabled, display_name FROM users "
                          "WHERE email = ?", [email])
        if rows:
            username, role, disabled, display_name = rows[0]
            if disabled:
                error = AuthError(DISABLED_MESSAGE, reason="disabled")
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
                f"Your {config.claim!r} claim maps to more than one role ({', '.join(roles)}). "
                "Ask an administrator to give you exactly one.", reason="ambiguous")
    if actor is None and error is None:
        error = AuthError(
            f"{identity} is signed in with single sign-on but has no role in this app. "
            "Ask an administrator to map your account to a role.", reason="unmapped")
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
    from pathlib import Path

    from .cli import open_store
    from .store import default_db_path
    path = default_db_path(args.db)
    if not Path(path).exists():
        raise AccountError(f"no store at {path}: run `python -m dashboard init` first")
    return open_store(args)


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
            raise AccountError(f"a user named {name!r} already exists (usernames ignore case)")
        password = read_new_password(err)
        user = create_user(store, cli_actor(), name, args.role, password,
                           display_name=args.display_name, email=args.email)
    out.write(f"created user {user['username']} ({user['role']}: "
              f"{ROLE_TITLES[user['role']]})\n")
    return 0


def cmd_list(args, out, err) -> int:
    with _open(args) as store:
        df = list_users(store)
    if args.format == "csv":
        df.to_csv(out, index=False)
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
    out.write(f"enabled user {normalize_username(args.name)} (and cleared any lock)\n")
    return 0


def cmd_reset_password(args, out, err) -> int:
    from .access import cli_actor
    _refuse_password_argument(args)
    with _open(args) as store:
        if get_user(store, args.name) is None:
            raise AccountError(f"there is no user named {normalize_username(args.name)!r}")
        password = read_new_password(err)
        reset_password(store, cli_actor(), args.name, password)
    out.write(f"password of {normalize_username(args.name)} changed (account unlocked)\n")
    return 0


def cmd_set_role(args, out, err) -> int:
    from .access import cli_actor
    with _open(args) as store:
        user = set_role(store, cli_actor(), args.name, args.role)
    out.write(f"user {user['username']} now has the role {user['role']}\n")
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
    p = cmds.add_parser("enable", help="enable a disabled or locked account")
    p.add_argument("name")
    p.set_defaults(handler=cmd_enable)
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

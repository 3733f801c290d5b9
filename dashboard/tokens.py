"""API tokens (issue 16): one bearer token per integration, bound to one role.

An admin creates a token for each integration (a SIEM logging incidents, a web form
logging rights requests, monitoring reading the check, the command line talking to the
running app) with ``python -m dashboard token add NAME --role ROLE``; the token is
printed once and never again:

    cpt_<token id>_<secret>

- Only the SHA-256 of the secret is stored (``api_tokens``, migration 0015). The secret is
  256 random bits, so a fast hash is as safe as a slow one here (nothing to guess by brute
  force) and checking a token costs microseconds on every API call; passwords, which
  people choose, keep argon2 (``dashboard/passwords.py``). The comparison is constant-time.
- A token acts as the user ``api:<name>`` with its role: every permission of
  ``dashboard/access.py`` applies to it as to a person with that role.
- A token is revoked, never deleted (``token revoke NAME``): the audit entries naming it
  keep their meaning, and a revoked token is refused with the date it was revoked.
- Creating and revoking are audited (``token.create``, ``token.revoke``; the secret is in
  neither), and so is every use (``dashboard/api.py``: ``api.call``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, TextIO

from .access import ROLES, Actor, require
from .i18n import _, fmt_datetime, is_chinese, label

PREFIX = "cpt_"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
_TOKEN = re.compile(r"cpt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
MAX_NOTE = 200


class TokenError(ValueError):
    """Bad input for a token command: nothing was written."""


class TokenRefused(Exception):
    """A request's token cannot be used: ``status`` (401) and a message for the caller.
    ``token_id``/``name`` are set when the token is one of ours (revoked, wrong secret)."""

    def __init__(self, message: str, *, token_id: str | None = None, name: str | None = None,
                 role: str | None = None):
        super().__init__(message)
        self.status = 401
        self.message = message
        self.token_id = token_id
        self.name = name
        self.role = role


@dataclass(frozen=True)
class Principal:
    """Who is calling the API: the token's id and name, and the actor it acts as."""

    token_id: str
    name: str
    actor: Actor


@dataclass(frozen=True)
class Created:
    token_id: str
    name: str
    role: str
    token: str          # the whole bearer token: shown once


def actor_for(name: str, role: str) -> Actor:
    return Actor(f"api:{name}", role)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def validate_name(name: Any) -> str:
    text = str(name or "").strip().lower()
    if not _NAME.fullmatch(text):
        raise TokenError(_("token name {name}: use 2 to 40 characters, lower-case "
                           "letters, digits, '.', '_' or '-', starting with a letter or digit "
                           "(e.g. siem, cron, web-form)").format(name=repr(str(name)[:60])))
    return text


def validate_role(role: Any) -> str:
    text = str(role or "").strip().lower()
    if text not in ROLES:
        roles = ("、".join(f"{label('role', r)}（{r}）" for r in ROLES) if is_chinese()
                 else ", ".join(ROLES))
        raise TokenError(_("role {role}: one of {roles}").format(role=repr(str(role)[:40]),
                                                                 roles=roles))
    return text


def create_token(store, actor: Actor, name: str, role: str, note: str | None = None) -> Created:
    """Create a token for the integration ``name`` acting with ``role`` (permission
    ``token.manage``). Returns the token, which is not stored and cannot be shown again."""
    require(actor, "token.manage")
    name, role = validate_name(name), validate_role(role)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise TokenError(_("the note is {length} characters; at most {limit}").format(
            length=len(note), limit=MAX_NOTE))
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with store.write(actor, "token.manage") as w:
        if w.cur.execute("SELECT 1 FROM api_tokens WHERE name = ?", [name]).fetchall():
            raise TokenError(_("a token named {name} exists already (revoked tokens keep their "
                               "name): choose another name").format(name=name))
        w.execute("INSERT INTO api_tokens (token_id, name, role, secret_sha256, note, "
                  "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [token_id, name, role, _digest(secret), note, w.at, actor.name])
        w.audit("token.create", "api_token", name,
                after={"token_id": token_id, "name": name, "role": role, "note": note})
    return Created(token_id, name, role, f"{PREFIX}{token_id}_{secret}")


def revoke_token(store, actor: Actor, name: str) -> dt.datetime:
    """Revoke the token named ``name`` (permission ``token.manage``); when it was revoked."""
    require(actor, "token.manage")
    name = validate_name(name)
    with store.write(actor, "token.manage") as w:
        rows = w.cur.execute("SELECT token_id, role, revoked_at FROM api_tokens WHERE name = ?",
                             [name]).fetchall()
        if not rows:
            raise TokenError(_("no token named {name} (python -m dashboard token list)").format(
                name=name))
        token_id, role, revoked_at = rows[0]
        if revoked_at is not None:
            when = (fmt_datetime(revoked_at, tz=str(store.tz)) if is_chinese() else
                    f"{revoked_at.astimezone(store.tz):%Y-%m-%d %H:%M} Beijing time")
            raise TokenError(_("the token {name} was revoked already, on {when}").format(
                name=name, when=when))
        w.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                  [w.at, actor.name, token_id])
        w.audit("token.revoke", "api_token", name,
                before={"token_id": token_id, "role": role, "revoked_at": None},
                after={"token_id": token_id, "role": role, "revoked_at": w.at.isoformat()})
    return w.at


def list_tokens(store, actor: Actor) -> list[dict[str, Any]]:
    """Every token, revoked ones too (never a secret or its hash)."""
    require(actor, "token.manage")
    with store.cursor() as cur:
        rows = cur.execute("SELECT name, token_id, role, note, created_at, created_by, "
                           "revoked_at, last_used_at FROM api_tokens ORDER BY name").fetchall()
    keys = ("name", "token_id", "role", "note", "created_at", "created_by", "revoked_at",
            "last_used_at")
    return [dict(zip(keys, r)) for r in rows]


def authenticate(store, header: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer cpt_...`` header, or ``TokenRefused``."""
    how = f"Send the token as the header 'Authorization: Bearer {PREFIX}...'."
    if not header:
        raise TokenRefused(f"No API token. {how}")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise TokenRefused(f"The Authorization header is not a bearer token. {how}")
    m = _TOKEN.fullmatch(value.strip())
    if not m:
        raise TokenRefused("The token is not one this app issued (it should look like "
                           f"{PREFIX}<12 hex digits>_<43 characters>).")
    token_id, secret = m.groups()
    with store.cursor() as cur:
        rows = cur.execute("SELECT name, role, secret_sha256, revoked_at FROM api_tokens "
                           "WHERE token_id = ?", [token_id]).fetchall()
    if not rows:
        raise TokenRefused("The token is not valid (unknown or mistyped).")
    name, role, digest, revoked_at = rows[0]
    if not hmac.compare_digest(digest, _digest(secret)):
        raise TokenRefused("The token is not valid (unknown or mistyped).", token_id=token_id,
                           name=name, role=role)
    if revoked_at is not None:
        raise TokenRefused(f"The token {name} was revoked on "
                           f"{revoked_at.astimezone(store.tz):%Y-%m-%d %H:%M} Beijing time; "
                           "ask an admin for a new one.", token_id=token_id, name=name,
                           role=role)
    return Principal(token_id, name, actor_for(name, role))


# -- command line: python -m dashboard token add|list|revoke ------------------------------

def _fmt(value: Any, tz) -> str:
    if value is None:
        return "-"
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def cmd_add(args, out: TextIO, err: TextIO) -> int:
    from .access import cli_actor
    from .cli import open_store
    with open_store(args) as store:
        made = create_token(store, cli_actor(), args.name, args.role, args.note)
    out.write(f"created token {made.name} (role {made.role}, id {made.token_id}). Keep it now; "
              "it is not shown again:\n")
    out.write(made.token + "\n")
    return 0


def cmd_revoke(args, out: TextIO, err: TextIO) -> int:
    from .access import cli_actor
    from .cli import open_store
    with open_store(args) as store:
        at = revoke_token(store, cli_actor(), args.name)
        out.write(f"revoked token {validate_name(args.name)} at {_fmt(at, store.tz)} "
                  "Beijing time\n")
    return 0


def cmd_list(args, out: TextIO, err: TextIO) -> int:
    from .access import cli_actor
    from .cli import open_store
    with open_store(args) as store:
        rows = list_tokens(store, cli_actor())
        tz = store.tz
    if not rows:
        out.write("no API tokens (python -m dashboard token add NAME --role ROLE)\n")
        return 0
    out.write(f"{'name':<20}{'id':<14}{'role':<9}{'created':<18}{'last used':<18}revoked\n")
    for r in rows:
        out.write(f"{r['name']:<20}{r['token_id']:<14}{r['role']:<9}"
                  f"{_fmt(r['created_at'], tz):<18}{_fmt(r['last_used_at'], tz):<18}"
                  f"{_fmt(r['revoked_at'], tz)}\n")
    return 0


def register_cli(sub) -> None:
    tok = sub.add_parser("token", help="API tokens for integrations (REST API /api/v1)")
    cmds = tok.add_subparsers(dest="token_command", required=True,
                              parser_class=type(tok))
    p = cmds.add_parser("add", help="create a token bound to a role; printed once")
    p.add_argument("name", help="the integration, e.g. siem, cron, web-form")
    p.add_argument("--role", required=True, help=f"one of: {', '.join(ROLES)}")
    p.add_argument("--note", default=None, help="what it is for (kept, shown in the list)")
    p.set_defaults(handler=cmd_add)
    p = cmds.add_parser("list", help="list tokens (never their secrets)")
    p.set_defaults(handler=cmd_list)
    p = cmds.add_parser("revoke", help="revoke a token: refused from now on")
    p.add_argument("name")
    p.set_defaults(handler=cmd_revoke)


__all__ = ["Created", "Principal", "TokenError", "TokenRefused", "actor_for", "authenticate",
           "create_token", "list_tokens", "revoke_token"]

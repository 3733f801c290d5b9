"""Delivery of the outbox (migration 0016) through Apprise: e-mail, WeCom, DingTalk, Feishu,
JSON webhooks. docs/NOTIFICATIONS.md is the user's guide.

Channels are configured per role (and optionally per account) — never in the store, since
their addresses hold passwords and bot tokens:

- ``.streamlit/secrets.toml``, table ``[notify]``: ``dpo = "mailtos://...,wecombot://..."``
  (a comma-separated text or an array), likewise ``manager``, ``auditor``, ``admin``;
  ``smtp = "mailtos://user:pass@smtp.example.com?from=compliance@example.com"``: the mail
  server through which accounts named on an item (an incident's logger, a request's
  handler, a plan's owner) get an e-mail at their account's address (``users.email``);
  ``[notify.accounts]``: ``"li.na" = "wecombot://..."``, channels of one account;
- environment variables, which win: ``COMPLIANCE_NOTIFY_DPO``, ``..._MANAGER``,
  ``..._AUDITOR``, ``..._ADMIN``, ``COMPLIANCE_NOTIFY_SMTP``.

Apprise 2.x URL formats: ``mailto://`` / ``mailtos://`` (SMTP, STARTTLS or TLS),
``wecombot://{botkey}``, ``dingtalk://{token}/`` or ``dingtalk://{secret}@{token}/``,
``feishu://{token}``, ``json://host[:port]/path`` / ``jsons://`` (a generic JSON POST:
``{"version", "title", "message", "type", ...}``).

``deliver(store, now=None, *, limit=...)`` sends the pending rows whose ``next_attempt_at``
has come: for each, one write marks the attempt (``attempts + 1``, the next try pushed back
by the backoff), the message goes to every channel of its recipients not done yet, and one
write records the attempt (``outbox_attempts``) with the outcome: ``sent`` (in that same
transaction), ``pending`` again after ``notify_retry_base_seconds`` x 2^(attempts-1), or
``failed`` after ``notify_max_attempts``. A row recorded as sent is never sent again; a
row queued and not yet sent is sent after a restart. A process killed between sending and
recording may send that one message twice, so every message carries its outbox key (the
subject's ``[...]`` suffix, the last line of the text, the JSON field ``dedupe_id``, the
e-mail header ``X-Compliance-Id``): a receiver can drop a duplicate by it.

No secret reaches the audit log, a message, a stored error or a text shown: every channel
address and error is passed through ``redact`` first.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

from .access import ROLES, ROLE_TITLES, Actor, require
from .i18n import _
from .settings import ROOT

ACTION = "notify.queue"
SYSTEM = Actor("scheduler", "system")
SECRETS_FILE = ROOT / ".streamlit" / "secrets.toml"
ENV_PREFIX = "COMPLIANCE_NOTIFY_"
SUPPORTED = ("mailto", "mailtos", "wecombot", "dingtalk", "feishu", "json", "jsons")
# Schemes whose host or path is itself the secret (a bot key or token).
TOKEN_SCHEMES = frozenset({"wecombot", "dingtalk", "feishu", "lark"})
_SEND_LOCK = threading.Lock()       # Apprise's log capture is process-wide: one send at a time
log = logging.getLogger(__name__)



class NotifyConfigError(ValueError):
    """The channel configuration is wrong (the message names it, redacted)."""


# -- redaction -----------------------------------------------------------------------------
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://([^\s'\"<>]+)")
# Between two addresses in one setting: a comma before the next scheme, or white space.
_BETWEEN = re.compile(r",\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)|\s+")


def redact_url(url: str) -> str:
    """A channel address with every secret masked: ``mailtos://***@smtp.example.com:465``,
    ``wecombot://***``, ``json://hooks.example.com/***?dedupe_id=***``."""
    m = _URL.match(url.strip())
    if not m:
        return "***"
    scheme = m.group(1).lower()
    if scheme in TOKEN_SCHEMES:
        return f"{scheme}://***"
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"{scheme}://***"
    user = "***@" if parts.username or parts.password else ""
    path = "/***" if parts.path.strip("/") else ""
    query = ("?" + "&".join(f"{k.split('=')[0]}=***" for k in parts.query.split("&") if k)
             if parts.query else "")
    return f"{scheme}://{user}{host}{port}{path}{query}"


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """``text`` with every URL in it redacted (``redact_url``) and every known secret
    (parts of the configured channel addresses) replaced by ``***``."""
    def one(m: re.Match) -> str:
        url = m.group(0)
        tail = len(url) - len(url.rstrip(".,:;)]}!?"))
        return redact_url(url[:len(url) - tail]) + url[len(url) - tail:]
    out = _URL.sub(one, str(text))
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret and len(secret) >= 4:
            out = out.replace(secret, "***")
    return out


_SECRET_KEYS = re.compile(r"(key|token|secret|pass|sign|auth)", re.IGNORECASE)


def _secret_parts(url: str) -> list[str]:
    """The parts of a channel address that are or may be secret, to mask in free text: the
    password; a token scheme's whole address; a path segment that looks like a token (8+
    characters with a digit); the values of query keys such as key, token, secret."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return [url]
    found = [parts.password] if parts.password else []
    if parts.scheme.lower() in TOKEN_SCHEMES:
        found += [s for s in re.split(r"[/@:]", parts.netloc + parts.path) if s]
    else:
        found += [s for s in parts.path.split("/")
                  if len(s) >= 8 and any(c.isdigit() for c in s)]
    found += [kv.split("=", 1)[1] for kv in parts.query.split("&")
              if "=" in kv and _SECRET_KEYS.search(kv.split("=", 1)[0])]
    return found


# -- configuration -------------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelConfig:
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    smtp: str | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        urls = [u for us in self.roles.values() for u in us]
        urls += [u for us in self.accounts.values() for u in us]
        urls += [self.smtp] if self.smtp else []
        return tuple(s for u in urls for s in _secret_parts(u))

    def describe(self) -> dict[str, list[str]]:
        """Each role's and account's channels, redacted: safe to show."""
        out = {f"role {r}": [redact_url(u) for u in us] for r, us in self.roles.items()}
        out.update({f"account {a}": [redact_url(u) for u in us]
                    for a, us in self.accounts.items()})
        if self.smtp:
            out["accounts' e-mail"] = [redact_url(self.smtp)]
        return out


def _urls(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else _BETWEEN.split(str(value).strip())
    urls = []
    for item in items:
        url = str(item).strip()
        if not url:
            continue
        m = _URL.match(url)
        if not m or m.end() != len(url):
            raise NotifyConfigError(f"{where}: {redact_url(url)!s} is not a channel address "
                                    f"such as mailtos://..., wecombot://..., json://...")
        scheme = m.group(1).lower()
        if scheme not in SUPPORTED:
            raise NotifyConfigError(f"{where}: the scheme {scheme}:// is not supported; use "
                                    f"one of {', '.join(s + '://' for s in SUPPORTED)}")
        import apprise
        if apprise.Apprise.instantiate(url) is None:
            raise NotifyConfigError(f"{where}: {redact_url(url)} is not a valid {scheme}:// "
                                    "address (see docs/NOTIFICATIONS.md for its format)")
        urls.append(url)
    return tuple(urls)


def load_config(secrets: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> ChannelConfig:
    """The channels from ``secrets`` (the ``[notify]`` table of a secrets mapping; default
    ``.streamlit/secrets.toml``) and the environment (``COMPLIANCE_NOTIFY_<ROLE>``,
    ``COMPLIANCE_NOTIFY_SMTP``), the environment winning. Raises NotifyConfigError."""
    environ = os.environ if environ is None else environ
    if secrets is None:
        secrets = {}
        if SECRETS_FILE.exists():
            try:
                secrets = tomllib.loads(SECRETS_FILE.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise NotifyConfigError(f"{SECRETS_FILE}: {exc}") from None
    table = dict(secrets.get("notify", {}) or {})
    roles: dict[str, tuple[str, ...]] = {}
    for role in ROLES:
        var = ENV_PREFIX + role.upper()
        if var in environ:
            roles[role] = _urls(environ[var], f"environment {var}")
        elif role in table:
            roles[role] = _urls(table[role], f"secrets [notify] {role}")
    unknown = set(table) - set(ROLES) - {"smtp", "accounts"}
    if unknown:
        raise NotifyConfigError(f"secrets [notify]: unknown key(s) {', '.join(sorted(unknown))}"
                                f"; use a role ({', '.join(ROLES)}), smtp or [notify.accounts]")
    accounts = {str(name).lower(): _urls(value, f"secrets [notify.accounts] {name}")
                for name, value in dict(table.get("accounts", {}) or {}).items()}
    smtp_raw = environ.get(ENV_PREFIX + "SMTP", table.get("smtp"))
    smtp = None
    if smtp_raw:
        found = _urls(smtp_raw, "smtp")
        if len(found) != 1 or not found[0].lower().startswith(("mailto://", "mailtos://")):
            raise NotifyConfigError("smtp: give one mailto:// or mailtos:// address (the mail "
                                    "server accounts are e-mailed through)")
        smtp = found[0]
    return ChannelConfig({r: u for r, u in roles.items() if u},
                         {a: u for a, u in accounts.items() if u}, smtp)


# -- sending -------------------------------------------------------------------------------
def target_id(url: str) -> str:
    """A stable id of a channel address that reveals nothing of it."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _with_id(url: str, key: str) -> str:
    """The address with the message's id added where its channel carries one."""
    scheme = url.split("://", 1)[0].lower()
    sep = "&" if "?" in url else "?"
    if scheme in ("json", "jsons"):
        return f"{url}{sep}:dedupe_id={quote(key, safe='')}"
    if scheme in ("mailto", "mailtos"):
        return f"{url}{sep}+X-Compliance-Id={quote(key, safe='')}"
    return url


def _with_recipient(smtp: str, email: str) -> str:
    sep = "&" if "?" in smtp else "?"
    return f"{smtp}{sep}to={quote(email, safe='@')}"


def resolve_targets(store, config: ChannelConfig, roles, accounts) -> list[tuple[str, str]]:
    """(target id, address) of every channel of these recipients, each once."""
    urls: list[str] = []
    for role in roles or ():
        urls += config.roles.get(role, ())
    names = [str(a).lower() for a in (accounts or ())]
    for name in names:
        urls += config.accounts.get(name, ())
    if config.smtp and names:
        for (email,) in store.rows("SELECT email FROM users WHERE list_contains(?, username) "
                                   "AND NOT disabled AND email IS NOT NULL ORDER BY username",
                                   [names]):
            urls.append(_with_recipient(config.smtp, email))
    seen, out = set(), []
    for url in urls:
        tid = target_id(url)
        if tid not in seen:
            seen.add(tid)
            out.append((tid, url))
    return out


def send_one(url: str, subject: str, body: str, key: str,
             secrets: tuple[str, ...] = ()) -> tuple[bool, str]:
    """Send one message to one channel: (ok, redacted error text or "")."""
    import apprise
    with _SEND_LOCK:
        obj = apprise.Apprise()
        if not obj.add(_with_id(url, key)):
            return False, f"{redact_url(url)} is not a valid channel address"
        try:
            with apprise.LogCapture(level=logging.WARNING) as logs:
                ok = bool(obj.notify(body=body, title=subject,
                                     body_format=apprise.NotifyFormat.TEXT))
            text = logs.getvalue()
        except Exception as exc:             # a plugin bug must not stop the batch
            ok, text = False, f"{type(exc).__name__}: {exc}"
    if ok:
        return True, ""
    lines = [ln.split(" - ", 2)[-1] for ln in text.strip().splitlines() if ln.strip()]
    error = "; ".join(lines[-3:]) or "the channel refused the message"
    return False, f"{redact_url(url)}: {redact(error, secrets + tuple(_secret_parts(url)))}"


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)       # outbox keys
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{len(self.sent)} sent, {len(self.retrying)} to retry, "
                f"{len(self.failed)} failed")


class _Skip(Exception):
    pass


def backoff(settings, attempt: int) -> dt.timedelta:
    """The wait after failed attempt number ``attempt`` (1, 2, ...)."""
    return dt.timedelta(seconds=settings.notify_retry_base_seconds * 2 ** max(attempt - 1, 0))


def _claim(store, actor: Actor, row_id: int, attempts: int, now: dt.datetime) -> int | None:
    """Mark the attempt before sending: attempts + 1, the next try pushed back by the
    backoff (so a process killed while sending retries later, not in a loop). None if the
    row changed meanwhile (another deliverer took it)."""
    attempt = attempts + 1
    try:
        with store.write(actor, ACTION) as w:
            state = w.execute("SELECT status, attempts FROM outbox WHERE id = ?",
                              [row_id]).fetchone()
            if state is None or state[0] != "pending" or state[1] != attempts:
                raise _Skip
            w.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?",
                      [attempt, now + backoff(store.settings, attempt), row_id])
            w.audit("notify.attempt", "outbox", row_id, after={"attempt": attempt})
    except _Skip:
        return None
    return attempt


def _record(store, actor: Actor, row_id: int, attempt: int, now: dt.datetime, ok: bool,
            error: str, tried: list[str], done: list[str], final_fail: bool) -> str:
    """The attempt and its outcome, in one transaction: sent, pending (retry) or failed."""
    status = "sent" if ok else ("failed" if final_fail else "pending")
    with store.write(actor, ACTION) as w:
        w.execute('INSERT INTO outbox_attempts (outbox_id, attempt, "at", ok, error, targets) '
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  [row_id, attempt, now, ok, error or None, ", ".join(tried) or None])
        w.execute("UPDATE outbox SET status = ?, sent_at = ?, last_error = ?, "
                  "delivered_targets = ?, next_attempt_at = CASE WHEN ? = 'pending' "
                  "THEN next_attempt_at END WHERE id = ?",
                  [status, now if ok else None, None if ok else error, done, status, row_id])
        w.audit({"sent": "notify.sent", "failed": "notify.failed",
                 "pending": "notify.retry"}[status], "outbox", row_id,
                after={"attempt": attempt, "status": status, "targets": tried,
                       **({"error": error} if error else {})})
    return status


def deliver(store, now: dt.datetime | None = None, *, limit: int = 50,
            config: ChannelConfig | None = None, actor: Actor = SYSTEM) -> DeliveryReport:
    """Send up to ``limit`` pending outbox rows whose ``next_attempt_at`` has come, oldest
    first (module docstring: marking, retries, exactly-once recording)."""
    require(actor, ACTION)
    now = now or store.now()
    config = load_config() if config is None else config
    secrets = config.secrets
    report = DeliveryReport()
    rows = store.rows(
        "SELECT id, dedupe_key, subject, body, recipient_roles, recipient_accounts, attempts, "
        "delivered_targets FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, id LIMIT ?", [now, int(limit)])
    max_attempts = store.settings.notify_max_attempts
    for row_id, key, subject, body, roles, accounts, attempts, delivered in rows:
        attempt = _claim(store, actor, row_id, attempts, now)
        if attempt is None:
            continue
        targets = resolve_targets(store, config, roles, accounts)
        done = list(delivered or [])
        todo = [(tid, url) for tid, url in targets if tid not in done]
        errors, tried = [], []
        if not targets:
            who = ", ".join([f"role {r}" for r in roles or ()]
                            + [f"account {a}" for a in accounts or ()])
            errors.append(f"no delivery channel is configured for {who} (set [notify] in "
                          ".streamlit/secrets.toml or COMPLIANCE_NOTIFY_<ROLE>; "
                          "docs/NOTIFICATIONS.md)")
        for tid, url in todo:
            tried.append(redact_url(url))
            ok, error = send_one(url, subject, body, key, secrets)
            if ok:
                done.append(tid)
            else:
                errors.append(error)
        ok = bool(targets) and not errors
        final = not ok and (attempt >= max_attempts or not targets)
        status = _record(store, actor, row_id, attempt, now, ok, "; ".join(errors)[:2000],
                         tried, done, final)
        {"sent": report.sent, "pending": report.retrying, "failed": report.failed}[
            status].append(key)
        if status != "sent":
            log.warning("notification %s: attempt %s failed (%s)", key, attempt, status)
    return report


# -- "send a test" (the Settings page) -----------------------------------------------------
@dataclass(frozen=True)
class TestResult:
    ok: bool
    message: str

    def __str__(self) -> str:
        return self.message


def send_test(store, actor: Actor, target_role: str, *,
              config: ChannelConfig | None = None) -> TestResult:
    """Send a test message to every channel configured for ``target_role`` (permission
    ``settings.manage``) and say plainly what happened; one audit entry, redacted."""
    require(actor, "settings.manage")
    if target_role not in ROLES:
        raise ValueError(f"role {target_role!r} is not one of {', '.join(ROLES)}")
    title = ROLE_TITLES[target_role]
    try:
        config = load_config() if config is None else config
    except NotifyConfigError as exc:
        return TestResult(False, _("The channel configuration is wrong: {error}").format(
            error=exc))
    urls = config.roles.get(target_role, ())
    if not urls:
        return TestResult(False, _("No channel is configured for the {title} role: set "
                                   "[notify] {role} = \"...\" in .streamlit/secrets.toml "
                                   "or {variable} (docs/NOTIFICATIONS.md). Nothing was "
                                   "sent.").format(title=_(title), role=target_role,
                                                   variable=f"{ENV_PREFIX}{target_role.upper()}"))
    from .clocks import format_time
    now = store.now()
    key = f"test:{target_role}:{now.astimezone(store.tz):%Y%m%dT%H%M%S}"
    subject = f"Test message from the compliance dashboard [{key}]"
    body = (f"This is a test of the {title} role's notification channels, sent by "
            f"{actor.name} at {format_time(now, store.tz)} (Beijing time). Nothing to do.\n"
            f"Reminder id: {key}")
    results = []
    for url in urls:
        ok, error = send_one(url, subject, body, key, config.secrets)
        results.append((redact_url(url), ok, error))
    with store.write(actor, "settings.manage") as w:
        w.audit("notify.test", "notify_channel", target_role,
                after={"channels": [{"channel": c, "ok": ok, **({"error": e} if e else {})}
                                    for c, ok, e in results]})
    good = [c for c, ok, _error in results if ok]
    bad = [e for _, ok, e in results if not ok]
    if not bad:
        return TestResult(True, _("Test message sent to {count} channel(s) of the {title} "
                                  "role: {channels}.").format(count=len(good), title=_(title),
                                                              channels=", ".join(good)))
    text = _("{failed} of {count} channel(s) of the {title} role failed: {errors}.").format(
        failed=len(bad), count=len(results), title=_(title), errors="; ".join(bad))
    if good:
        text += _(" Sent to: {channels}.").format(channels=", ".join(good))
    return TestResult(False, text)

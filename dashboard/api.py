"""The REST API, ``/api/v1`` (issue 16): JSON over HTTP for integrations, served by
``server.py`` on the app's own port, from the process that holds the store.

docs/API.md documents every endpoint with examples (``tests/test_api.py`` runs them).

- **Tokens.** Every call carries ``Authorization: Bearer cpt_...``: a token an admin
  created for the integration (``python -m dashboard token add NAME --role ROLE``,
  ``dashboard/tokens.py``), bound to one role. The token acts as ``api:<name>`` with
  that role, and every permission of ``dashboard/access.py`` applies to it.
- **Every use audited.** Each call made with a valid token appends one ``api.call``
  audit entry (token, method, path, status; for ``cli`` the command), and the token's
  ``last_used_at`` is set, in one transaction. A call with a known token that is
  revoked or has a wrong secret appends ``api.refused`` (at most once a minute per token). Unknown tokens are only logged
  (a scanner cannot fill the audit log). What an endpoint writes (an incident, a
  rights request, a snapshot, an export's entry) has its own entry besides.
- **Errors** are JSON ``{"error": "...", "fields": {...}}`` with 400 (the body is not
  a JSON object, an unknown field), 401 (no token, bad or revoked token), 403 (the
  token's role may not), 404, 405, 413 (body over ``MAX_BODY`` bytes), 422 (a value is
  wrong: ``fields`` names each), 503 (the store cannot be opened); a failure inside is
  a 500 with a reference to the server log, never a traceback. A refused or invalid
  request writes nothing but its ``api.call`` entry.
- **Idempotency.** ``POST /incidents`` and ``POST /requests`` take an
  ``Idempotency-Key`` header (1 to 64 characters): the same key sent again returns
  the first call's record (``created: false``) instead of logging a second one, so a
  client may retry after a timeout without duplicates.
- DuckDB never runs on the event loop: each call's work runs on a worker thread.

Endpoints (``PATH``, permission):

- ``GET /api/v1/check`` (``check.read``): the compliance check now (or ``?as_of=DATE``):
  overall score, findings by severity, scores per rule and clause;
- ``GET /api/v1/findings`` (``check.read``): the findings, in the shape of ``check
  --format json``, filtered (``severity``, ``rule_id``, ``clause``) and paged (``limit``
  at most ``MAX_PAGE``, ``offset``);
- ``POST /api/v1/incidents`` (``incident.log``): log an incident (a SIEM);
- ``POST /api/v1/requests`` (``request.log``): log a rights request (a web form);
- ``POST /api/v1/exports`` (``export.download``): start an export stream: a one-time
  link to ``/export/csv`` (``dashboard/stream.py``); ``GET /api/v1/exports/receipt
  ?ticket=...``: what a complete download sent (rows, SHA-256, audit entry);
- ``POST /api/v1/cli`` (the command's permission): run ``check``, ``audit verify``,
  ``user enable`` or ``user disable`` on the served store, with the command line's own
  code, output and exit code (``python -m dashboard --server URL ...``,
  ``dashboard/remote.py``).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import tokens
from .access import PermissionDenied, require

PREFIX = "/api/v1"
MAX_BODY = 256 * 1024            # bytes: an incident or a request is a few kilobytes
MAX_PAGE = 10_000                # findings per page
DEFAULT_PAGE = 1_000
_LOG = logging.getLogger(__name__)
_KEY = re.compile(r"[\x21-\x7e]{1,64}")


class ApiError(Exception):
    """A request refused with ``status`` and a message (and per-field messages)."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}


@dataclass(frozen=True)
class Call:
    """One API request as the endpoint functions see it (no Starlette objects)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


# -- endpoint functions: (store, principal, call) -> (status, payload); run on a thread ---

def _check(store, principal, call: Call) -> tuple[int, dict]:
    from .engine import check_summary, parse_as_of
    _only(call.query, {"as_of"})
    try:
        as_of = parse_as_of(call.query.get("as_of"), store.tz, store.now())
    except ValueError as exc:
        raise ApiError(422, f"as_of: {exc}", {"as_of": str(exc)}) from None
    summary = check_summary(store, as_of)
    return 200, {
        "as_of": summary.as_of.isoformat(),
        "overall_score": summary.overall,
        "findings_total": summary.finding_total,
        "findings_by_severity": summary.findings_by_severity,
        "due_total": summary.due_total,
        "entities_applicable": summary.entities_applicable,
        "entities_failing": summary.entities_failing,
        "rules_digest": summary.rules_digest,
        "rules": _records(summary.rule_scores),
        "clauses": _records(summary.clause_scores),
        "articles": _records(summary.article_scores),
    }


def _findings(store, principal, call: Call) -> tuple[int, dict]:
    from .engine import (SEVERITIES, check_summary, finding_counts, finding_records,
                         findings_page)
    _only(call.query, {"severity", "rule_id", "clause", "limit", "offset"})
    limit = _int(call.query, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    offset = _int(call.query, "offset", 0, 0, None)
    severity = call.query.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise ApiError(422, f"severity {severity[:20]!r}: one of {', '.join(SEVERITIES)}",
                       {"severity": f"one of {', '.join(SEVERITIES)}"})
    summary = check_summary(store)
    where = {"severity": severity, "rule_id": call.query.get("rule_id"),
             "clause": call.query.get("clause")}
    frame = findings_page(store, summary.as_of, limit=limit, offset=offset, **where)
    counted = finding_counts(store, summary.as_of, by=None, **where)
    total = int(counted["findings"].iloc[0]) if len(counted) else 0
    return 200, {"as_of": summary.as_of.isoformat(), "total": total, "offset": offset,
                 "limit": limit, "findings": finding_records(frame)}


def _log_incident(store, principal, call: Call) -> tuple[int, dict]:
    from .incidents import FACT_FIELDS, log_incident
    body = _object(call.body, set(FACT_FIELDS) | {"timezone"})
    logged = log_incident(store, principal.actor, body, token=_idempotency(call))
    return (201 if logged.created else 200), {"incident_id": logged.incident_id,
                                              "created": logged.created}


def _log_request(store, principal, call: Call) -> tuple[int, dict]:
    from .requests import log_request
    body = _object(call.body, None)          # log_request names an unknown field (422)
    logged = log_request(store, principal.actor, body, token=_idempotency(call))
    return (201 if logged.created else 200), {"request_id": logged.request_id,
                                              "created": logged.created}


def _export(store, principal, call: Call) -> tuple[int, dict]:
    from . import stream
    body = _object(call.body, {"table", "filters"})
    if not isinstance(body.get("table"), str):
        raise ApiError(422, "table: which register or dataset to export (e.g. incidents)",
                       {"table": "required, a dataset name"})
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise ApiError(422, "filters: a JSON object (e.g. {\"from\": \"2026-11-01\"})",
                       {"filters": "a JSON object"})
    if not stream.served():
        raise ApiError(503, "streamed exports need the app served by `streamlit run "
                            "server.py`")
    ticket = stream.issue_ticket(store, principal.actor, body["table"], filters)
    path = stream.route_path()
    return 201, {"url": f"{path}?ticket={ticket.token}", "ticket": ticket.token,
                 "file_name": ticket.file_name, "dataset": ticket.dataset,
                 "filters": ticket.filters, "expires_at": ticket.expires_at.isoformat(),
                 "receipt": f"{PREFIX}/exports/receipt?ticket={ticket.token}"}


def _receipt(store, principal, call: Call) -> tuple[int, dict]:
    from . import stream
    _only(call.query, {"ticket"})
    found = stream.receipt(call.query.get("ticket"), principal.actor)
    if found is None:
        raise ApiError(404, "no complete download for this ticket (not downloaded yet, "
                            "stopped before the end, another token's, or over an hour ago)")
    from .exports import head_dict
    with store.cursor() as cur:
        head = head_dict(cur)
    found["head"] = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
                     for k, v in head.items()}
    return 200, found


def _cli(store, principal, call: Call) -> tuple[int, dict]:
    from .cli import run_served
    body = _object(call.body, {"argv"})
    argv = body.get("argv")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) \
            or not argv or len(argv) > 40 or sum(len(a) for a in argv) > 4000:
        raise ApiError(422, "argv: the command's arguments, a list of 1 to 40 strings "
                            '(e.g. ["check", "--format", "json"])', {"argv": "a list of strings"})
    code, out, err = run_served(store, principal.actor, argv)
    return 200, {"exit_code": code, "stdout": out, "stderr": err}


# (method, path below PREFIX) -> (permission checked before the call, function)
ENDPOINTS: dict[tuple[str, str], tuple[str | None, Callable]] = {
    ("GET", "/check"): ("check.read", _check),
    ("GET", "/findings"): ("check.read", _findings),
    ("POST", "/incidents"): ("incident.log", _log_incident),
    ("POST", "/requests"): ("request.log", _log_request),
    ("POST", "/exports"): ("export.download", _export),
    ("GET", "/exports/receipt"): ("export.download", _receipt),
    ("POST", "/cli"): (None, _cli),          # the command's own permission (cli.run_served)
}


# -- helpers ---------------------------------------------------------------------------

def _records(frame) -> list[dict]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: (None if v is None or (isinstance(v, float) and v != v) else
                        v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else
                        v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return out


def _only(query: dict[str, str], allowed: set[str]) -> None:
    extra = sorted(set(query) - allowed)
    if extra:
        raise ApiError(400, f"unknown parameter {extra[0]!r}; this endpoint takes: "
                            f"{', '.join(sorted(allowed)) or 'none'}")


def _int(query: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        span = f"{low} to {high}" if high is not None else f"{low} or more"
        raise ApiError(422, f"{name} {text[:20]!r}: a whole number, {span}",
                       {name: f"a whole number, {span}"})
    return value


def _object(body: Any, allowed: set[str] | None) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    extra = sorted(set(body) - allowed) if allowed is not None else []
    if extra:
        raise ApiError(400, f"unknown field {extra[0][:40]!r}; the fields are: "
                            f"{', '.join(sorted(allowed))}", {extra[0][:40]: "unknown field"})
    return body


def _idempotency(call: Call) -> str | None:
    key = call.headers.get("idempotency-key")
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise ApiError(400, "Idempotency-Key: 1 to 64 printable ASCII characters, no spaces")
    return f"api:{key}"


def _error(status: int, message: str, fields: dict | None = None) -> JSONResponse:
    payload: dict[str, Any] = {"error": message}
    if fields:
        payload["fields"] = fields
    return JSONResponse(payload, status_code=status, headers={"Cache-Control": "no-store"})


def _audit(store, principal, action: str, call: Call, status: int, extra: dict) -> None:
    with store.write(principal.actor, "api.use") as w:
        w.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?",
                  [w.at, principal.token_id])
        w.audit(action, "api_token", principal.name,
                after={"token_id": principal.token_id, "method": call.method,
                       "path": call.path, "status": status, **extra})


# A refused call with a known token is audited at most once a minute per token: someone
# who knows a token's id (it is not secret) cannot fill the audit log with wrong secrets.
REFUSED_AUDIT_SECONDS = 60.0
_REFUSED_AT: dict[str, float] = {}
_REFUSED_LOCK = threading.Lock()


def _audit_refused(store, refused: tokens.TokenRefused, call: Call) -> None:
    now = time.monotonic()
    with _REFUSED_LOCK:
        last = _REFUSED_AT.get(refused.token_id)
        if last is not None and now - last < REFUSED_AUDIT_SECONDS:
            return
        _REFUSED_AT[refused.token_id] = now
    principal = tokens.Principal(refused.token_id, refused.name,
                                 tokens.actor_for(refused.name, refused.role))
    _audit(store, principal, "api.refused", call, 401, {"reason": refused.message})


def _handle(get_store: Callable[[], Any], call: Call, authorization: str | None
            ) -> tuple[int, Any]:
    """The whole of one call, on a worker thread: (status, JSON payload)."""
    try:
        store = get_store()
    except Exception as exc:  # noqa: BLE001 - reported as 503 without paths
        _LOG.error("API: the store cannot be opened: %s", exc)
        return 503, {"error": "the store cannot be opened; see the server log"}
    try:
        principal = tokens.authenticate(store, authorization)
    except tokens.TokenRefused as exc:
        _LOG.info("API call refused (%s %s): %s", call.method, call.path, exc.message)
        if exc.name is not None:
            _audit_refused(store, exc, call)
        return 401, {"error": exc.message}
    endpoint = ENDPOINTS.get((call.method, call.path))
    extra: dict[str, Any] = {}
    if endpoint is None:
        methods = sorted(m for m, p in ENDPOINTS if p == call.path)
        status, payload = ((405, {"error": f"use {' or '.join(methods)} for {PREFIX}"
                                           f"{call.path}"}) if methods else
                           (404, {"error": f"no endpoint {PREFIX}{call.path}; see "
                                           "docs/API.md"}))
    else:
        permission, function = endpoint
        if call.path == "/cli" and isinstance(call.body, dict):
            extra["argv"] = [str(a)[:200] for a in call.body.get("argv") or []][:40] \
                if isinstance(call.body.get("argv"), list) else None
        try:
            if isinstance(call.body, ApiError):
                raise call.body
            if permission is not None:
                require(principal.actor, permission)
            status, payload = function(store, principal, call)
        except ApiError as exc:
            status, payload = exc.status, {"error": exc.message, **(
                {"fields": exc.fields} if exc.fields else {})}
        except PermissionDenied as exc:
            status, payload = 403, {"error": str(exc)}
        except ValueError as exc:      # the services' validation errors (nothing written)
            fields = getattr(exc, "errors", None)
            status, payload = 422, {"error": str(exc), **({"fields": dict(fields)}
                                                          if fields else {})}
        except Exception:  # noqa: BLE001 - a 500 with a reference, the trace in the log
            ref = secrets.token_hex(4)
            _LOG.exception("API %s %s failed (reference %s)", call.method, call.path, ref)
            status, payload = 500, {"error": f"the server failed (reference {ref} in its "
                                             "log)"}
    try:
        _audit(store, principal, "api.call", call, status, extra)
    except Exception:  # noqa: BLE001 - a call that cannot be audited is not answered
        ref = secrets.token_hex(4)
        _LOG.exception("API %s %s: the audit entry failed (reference %s)", call.method,
                       call.path, ref)
        return 500, {"error": f"the call could not be audited (reference {ref} in the "
                              "server log)"}
    return status, payload


async def _read_body(request: Request) -> Any:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return ApiError(413, f"the body is over {MAX_BODY // 1024} KiB")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return ApiError(400, "the body is empty; send a JSON object")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ApiError(400, f"the body is not valid JSON ({exc.__class__.__name__}: "
                             f"{str(exc)[:80]})")


def routes(get_store: Callable[[], Any] | None = None, prefix: str = PREFIX) -> list[Route]:
    """The API's routes under ``prefix`` (``server.py`` mounts them below its base URL).
    ``get_store``: the store the app serves (default ``dashboard.ui.get_store``)."""
    if get_store is None:
        def get_store():
            from .ui import get_store as served
            return served()

    async def endpoint(request: Request) -> JSONResponse:
        sub = request.url.path[len(prefix):] if request.url.path.startswith(prefix) else "/"
        sub = "/" + sub.strip("/")
        body = await _read_body(request)
        call = Call(request.method, sub, dict(request.query_params),
                    body, {k.lower(): v for k, v in request.headers.items()})
        status, payload = await anyio.to_thread.run_sync(
            _handle, get_store, call, request.headers.get("authorization"))
        return JSONResponse(payload, status_code=status, headers={"Cache-Control": "no-store"})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return [Route(prefix, endpoint, methods=methods),
            Route(prefix + "/{rest:path}", endpoint, methods=methods)]


def route_prefix() -> str:
    """``/api/v1`` below ``server.baseUrlPath`` when one is set."""
    try:
        from streamlit import config
        base = (config.get_option("server.baseUrlPath") or "").strip("/")
    except Exception:  # pragma: no cover - outside Streamlit
        base = ""
    return f"/{base}{PREFIX}" if base else PREFIX


__all__ = ["ApiError", "ENDPOINTS", "PREFIX", "routes", "route_prefix"]

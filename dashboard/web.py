"""HTTP hardening for the served app (``server.py``): security headers on every response,
and Streamlit's ``/_stcore/metrics`` closed to anyone without the metrics token.

Both are ASGI middleware that ``server.py`` passes to ``streamlit.starlette.App``; user
middleware wraps Streamlit's own, so they see every request: the app's page, its static
files, ``/_stcore/*`` endpoints, the WebSocket upgrade and ``/export/csv``.

**Headers** (``SECURITY_HEADERS``): a Content-Security-Policy that lets the page load
only from its own origin (no outside host: no remote image, font, script or connection;
a user's ``![x](http://…)`` could not be fetched even if it were ever rendered) and
forbids framing (``frame-ancestors 'none'``, and ``X-Frame-Options: DENY`` for old
browsers); ``X-Content-Type-Options: nosniff``; ``Referrer-Policy: same-origin``. The one
inline script of Streamlit's ``index.html`` is allowed by its SHA-256, computed from the
installed Streamlit at start-up. Styles must allow ``'unsafe-inline'``: Streamlit's
frontend (Emotion) writes its CSS into ``<style>`` elements at run time.

**Metrics**: ``/_stcore/metrics`` (session counts, cache sizes) answers 404 unless
``COMPLIANCE_METRICS_TOKEN`` is set and the request carries ``Authorization: Bearer
<token>`` (what a Prometheus scraper sends). A Streamlit sign-in lives in one WebSocket
session, which an HTTP request cannot show; ``metrics_allowed`` is the one place to
also accept a signed-in session once the app has an HTTP session cookie.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

METRICS_TOKEN_ENV = "COMPLIANCE_METRICS_TOKEN"
# /_stcore/metrics below any server.baseUrlPath, with or without a trailing slash.
_METRICS_PATH = re.compile(r"(^|/)_stcore/metrics/*$")

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _inline_script_hashes() -> list[str]:
    """CSP hash sources of the inline ``<script>`` elements of Streamlit's index.html."""
    import streamlit
    index = Path(streamlit.__file__).parent / "static" / "index.html"
    try:
        html = index.read_text(encoding="utf-8")
    except OSError:
        return []
    bodies = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S)
    return ["'sha256-" + base64.b64encode(hashlib.sha256(b.encode("utf-8")).digest()).decode()
            + "'" for b in bodies]


def content_security_policy() -> str:
    scripts = " ".join(["'self'", *_inline_script_hashes()])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": content_security_policy(),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """Set ``SECURITY_HEADERS`` on every HTTP response and on the WebSocket handshake
    (replacing any value an inner app set)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] | None = None) -> None:
        self.app = app
        raw = (headers or SECURITY_HEADERS).items()
        self.raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in raw]
        self.names = {k for k, _ in self.raw}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept",
                                   "websocket.http.response.start"):
                kept = [(k, v) for k, v in message.get("headers") or []
                        if k.lower() not in self.names]
                message = {**message, "headers": kept + self.raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def metrics_allowed(headers: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a request to ``/_stcore/metrics`` may be answered: only with
    ``Authorization: Bearer <COMPLIANCE_METRICS_TOKEN>``; never when no token is set."""
    token = environ.get(METRICS_TOKEN_ENV, "")
    if not token:
        return False
    scheme, _, given = (headers.get("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


class MetricsGate:
    """Answer 404 to ``/_stcore/metrics`` (any method) unless ``metrics_allowed``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _METRICS_PATH.search(scope.get("path", "")):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope.get("headers") or []}
            if not metrics_allowed(headers):
                from starlette.responses import PlainTextResponse
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def middleware() -> list[Any]:
    """The middleware ``server.py`` gives ``streamlit.starlette.App`` (outermost first)."""
    from starlette.middleware import Middleware
    return [Middleware(SecurityHeaders), Middleware(MetricsGate)]

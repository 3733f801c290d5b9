"""Streamed CSV downloads over HTTP: one-time tickets and the ``/export/csv`` route.

``st.download_button`` keeps the whole file in Streamlit's in-memory media store,
which does not scale to a 10-million-row register. When the app is served by
``streamlit run server.py`` (a ``streamlit.starlette.App`` with this module's
route), the Exports page offers the CSV as a link to ``GET /export/csv?ticket=...``
instead, and the file is generated while it is sent:

1. **Ticket.** On the user's click, the page (same process) calls
   ``issue_ticket(store, actor, dataset, filters)``: the ``export.download``
   permission is checked (``PermissionDenied``) and the dataset and filters are
   resolved with ``exports.resolve_filters`` (``ExportError``); nothing is written.
   The ticket is a random 256-bit token, kept in a process-local registry (only
   its SHA-256) with the actor, the dataset, the resolved filters, the file name
   and the Store the page uses. It works once, within ``export_ticket_minutes``
   (setting, default 5, at least 1).
2. **Route.** ``export_csv`` takes the ticket out of the registry (missing or
   unknown: 403; already used or expired: 410; a plain-text message, nothing
   written), re-checks a local account (disabled or no longer allowed: 403), and
   returns a ``StreamingResponse`` (``Content-Disposition: attachment``).
3. **Stream.** ``exports.write_csv`` runs on a worker thread (DuckDB never runs
   on the event loop, so other sessions are not held up) and hands each batch of
   at most ``BATCH_ROWS`` lines to the response through a queue of at most
   ``QUEUE_BATCHES`` batches: when the client reads slowly the writer waits, so
   the server holds at most ``QUEUE_BATCHES + 1`` batches whatever the file's
   size. The bytes are exactly ``exports.write_csv``'s, read from one snapshot.
4. **Audit.** Every accepted ticket leads to exactly one ``export.download``
   entry, written through ``exports`` like the other downloads:

   - the whole file sent: ``{dataset, filters, file, rows, bytes, sha256,
     delivery: "stream", complete: true}``, written *before* the response's
     last chunk, so a client holds a complete file only once it is logged (if
     the entry cannot be written, the response is cut and the browser reports a
     failed download);
   - the download stopped before the end (client disconnected, server error or
     shutdown): ``{dataset, filters, file, rows, bytes, delivery: "stream",
     complete: false, reason}``, where ``rows``/``bytes`` count what was handed
     to the connection (whole lines, the first ``rows`` of the export in its
     stable order); no SHA-256, since no complete file was handed out.

   A refused ticket writes nothing.

The registry lives in the server process: a ticket is only valid in the process
that issued it (one ``streamlit run`` process per store, as DuckDB requires).
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from . import exports
from .access import Actor, PermissionDenied, require

ROUTE = "export/csv"            # below the app's base URL; the page links to it relatively
BATCH_ROWS = exports.BATCH_ROWS  # lines per batch the writer hands over
QUEUE_BATCHES = 2               # batches waiting for a slow client, at most
FORGET_AFTER_SECONDS = 3600     # a used or expired ticket is answered 410 this long, then 403
_MAX_TOKEN = 128
_LOG = logging.getLogger(__name__)
_clock = time.monotonic         # ticket lifetimes (tests replace it)


# -- process-wide state ----------------------------------------------------------------
# Streamlit's file watcher drops every module of the app folder from sys.modules when
# a source file changes, so this module can be imported again while the route still
# runs the old copy. The state lives in one object registered under a name outside
# the ``dashboard`` package, which both copies find.
_STATE_NAME = "_compliance_export_stream_state"


def _state() -> Any:
    state = sys.modules.get(_STATE_NAME)
    if state is None:
        fresh = types.ModuleType(_STATE_NAME, "dashboard.stream's process-wide state")
        fresh.lock = threading.Lock()
        fresh.tickets = {}      # sha256(token) -> Ticket
        fresh.spent = {}        # sha256(token) -> when to forget it (used or expired)
        fresh.route = None      # the mounted route's path, set by server.py
        fresh.receipts = {}     # sha256(token) -> (forget at, receipt) of a complete download
        state = sys.modules.setdefault(_STATE_NAME, fresh)
    return state


def route_path() -> str:
    """The route's absolute path: ``/export/csv``, below ``server.baseUrlPath`` if set."""
    try:
        from streamlit import config
        base = (config.get_option("server.baseUrlPath") or "").strip("/")
    except Exception:  # pragma: no cover - outside Streamlit
        base = ""
    return f"/{base}/{ROUTE}" if base else f"/{ROUTE}"


def serve_at(path: str) -> None:
    """Record that this process serves the route (``server.py`` calls it), so that
    the Exports page offers streamed links. Without it (``streamlit run app.py``)
    the page keeps ``st.download_button``."""
    _state().route = path


def served() -> bool:
    """Whether this process serves the ``/export/csv`` route."""
    return _state().route is not None


# -- tickets -----------------------------------------------------------------------------

class TicketRefused(Exception):
    """A ticket that cannot be used: ``status`` (403, 405 or 410) and a plain message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Ticket:
    """A one-time right to download one export. ``token`` is the secret in the URL."""

    token: str = field(repr=False)
    actor: Actor
    dataset: str
    filters: dict
    file_name: str
    expires_at: dt.datetime             # in the store's zone, for display
    deadline: float = field(repr=False)  # on ``_clock``
    store: Any = field(repr=False, compare=False)
    account: str | None = None          # the local account to re-check at download time

    @property
    def url(self) -> str:
        """The link for the page: relative, so it resolves below the app's base URL."""
        return f"{ROUTE}?ticket={self.token}"


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _purge(state: Any, now: float) -> None:
    for key, ticket in list(state.tickets.items()):
        if ticket.deadline + FORGET_AFTER_SECONDS <= now:
            del state.tickets[key]
    for key, forget in list(state.spent.items()):
        if forget <= now:
            del state.spent[key]


def ticket_minutes(store) -> int:
    return max(1, int(store.settings.export_ticket_minutes))


def issue_ticket(store, actor: Actor, dataset: str, filters: dict | None = None, *,
                 account: str | None = None) -> Ticket:
    """A one-time ticket for ``dataset`` under ``filters``, for ``actor``.

    Raises ``PermissionDenied`` without ``export.download`` and ``ExportError`` on a
    bad dataset or filter; writes nothing (the audit entry comes with the download).
    ``account``: the signed-in local account's username, re-checked when the ticket
    is used (disabled, removed or no longer allowed to export: refused).
    """
    require(actor, exports.EXPORT_ACTION)
    name = exports.get_dataset(dataset).name
    clean = exports.resolve_filters(store, name, filters)
    minutes = ticket_minutes(store)
    now_store = store.now()
    token = secrets.token_urlsafe(32)                 # 256 random bits
    ticket = Ticket(token=token, actor=actor, dataset=name, filters=clean,
                    file_name=exports.file_name(name, clean, now_store),
                    expires_at=now_store + dt.timedelta(minutes=minutes),
                    deadline=_clock() + minutes * 60, store=store, account=account)
    state = _state()
    with state.lock:
        _purge(state, _clock())
        state.tickets[_key(token)] = ticket
    return ticket


def is_pending(token: str | None) -> bool:
    """Whether ``token`` is a ticket that can still be used (for the page)."""
    if not token:
        return False
    state = _state()
    with state.lock:
        ticket = state.tickets.get(_key(token))
        return ticket is not None and _clock() < ticket.deadline


def revoke(token: str | None) -> None:
    """Withdraw an unused ticket (the page does when its filters change)."""
    if not token:
        return
    state = _state()
    with state.lock:
        ticket = state.tickets.pop(_key(token), None)
        if ticket is not None:
            state.spent[_key(token)] = ticket.deadline + FORGET_AFTER_SECONDS


AGAIN = "Open the Exports page and prepare the download again."


def _keep_receipt(ticket: Ticket, receipt: dict) -> None:
    state = _state()
    with state.lock:
        receipts = state.__dict__.setdefault("receipts", {})
        receipts[_key(ticket.token)] = (_clock() + FORGET_AFTER_SECONDS, ticket.actor, receipt)


def receipt(token: str | None, actor: Actor) -> dict | None:
    """What a complete streamed download of ``token`` sent (rows, bytes, SHA-256 and its
    audit entry), for the actor it was issued to; ``None`` if it is not complete (yet),
    or was another's. The command line's ``export --server`` prints it (dashboard/remote.py)."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    state = _state()
    with state.lock:
        receipts = state.__dict__.setdefault("receipts", {})
        now = _clock()
        for key, (forget, _a, _r) in list(receipts.items()):
            if forget <= now:
                del receipts[key]
        hit = receipts.get(_key(token))
    if hit is None or hit[1].name != actor.name:
        return None
    return dict(hit[2])


def redeem(token: str | None) -> Ticket:
    """Take the ticket out of the registry (single use), or raise ``TicketRefused``."""
    if not token:
        raise TicketRefused(403, f"This download link has no ticket. {AGAIN}")
    key = _key(token) if len(token) <= _MAX_TOKEN else None
    state = _state()
    with state.lock:
        now = _clock()
        _purge(state, now)
        ticket = state.tickets.pop(key, None) if key else None
        if ticket is None:
            if key in state.spent:
                raise TicketRefused(410, f"This download link has already been used. {AGAIN}")
            raise TicketRefused(403, f"This download link is not valid. {AGAIN}")
        state.spent[key] = ticket.deadline + FORGET_AFTER_SECONDS
    if now >= ticket.deadline:
        raise TicketRefused(410, f"This download link has expired (links work for "
                                 f"{ticket_minutes(ticket.store)} minutes). {AGAIN}")
    return ticket


def _recheck(ticket: Ticket) -> Ticket:
    """The ticket's actor as the store sees it now (local accounts only)."""
    if ticket.account is None:
        return ticket
    from .accounts import AuthError, session_actor
    try:
        actor = session_actor(ticket.store, ticket.account)
    except AuthError as exc:
        raise TicketRefused(403, str(exc)) from None
    try:
        require(actor, exports.EXPORT_ACTION)
    except PermissionDenied as exc:
        raise TicketRefused(403, str(exc)) from None
    return ticket if actor == ticket.actor else dataclasses.replace(ticket, actor=actor)


# -- the route ---------------------------------------------------------------------------

def _plain(status: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=status,
                             headers={"Cache-Control": "no-store"})


async def export_csv(request: Request) -> Response:
    """``GET /export/csv?ticket=...``: the ticket's CSV, streamed (see the module)."""
    if request.method != "GET":      # Starlette adds HEAD to GET routes: never spend a ticket
        return _plain(405, "Use GET to download.")
    try:
        ticket = redeem(request.query_params.get("ticket"))
        if ticket.account is not None:
            ticket = await anyio.to_thread.run_sync(_recheck, ticket)
    except TicketRefused as exc:
        _LOG.info("export download refused (%s): %s", exc.status, exc.message)
        return _plain(exc.status, exc.message)
    return stream_response(ticket)


def stream_response(ticket: Ticket, *, batch_rows: int | None = None,
                    queue_batches: int | None = None) -> StreamingResponse:
    """The response that generates and sends ``ticket``'s CSV (already redeemed)."""
    job = _ExportJob(ticket, batch_rows or BATCH_ROWS, queue_batches or QUEUE_BATCHES)
    return ExportStreamResponse(job)


class ExportStreamError(RuntimeError):
    """The export failed on the server while it was being streamed."""


class _Aborted(Exception):
    """The response is gone: the writer stops."""


_DONE, _DATA, _ERROR = "done", "data", "error"


class _Pipe:
    """``write_csv``'s output file: collects what was written since the last batch
    and hands it to the response (``flush``), waiting while ``depth`` batches are
    queued (back-pressure from the client's reading speed)."""

    def __init__(self, job: "_ExportJob"):
        self.job = job
        self.pending: list[bytes | memoryview] = []

    def write(self, data) -> int:
        if self.job.cancelled.is_set():
            raise _Aborted()
        # A memoryview into the batch's Arrow buffer: kept (not copied) until sent.
        self.pending.append(data)
        return len(data)

    def flush(self, rows: int, size: int) -> None:
        if not self.pending:
            return
        pieces, self.pending = self.pending, []
        while not self.job.slots.acquire(timeout=0.25):
            if self.job.cancelled.is_set():
                raise _Aborted()
        self.job.post((_DATA, pieces, rows, size))


class _ExportJob:
    def __init__(self, ticket: Ticket, batch_rows: int, depth: int):
        self.ticket = ticket
        self.batch_rows = batch_rows
        self.slots = threading.Semaphore(max(1, depth))
        self.cancelled = threading.Event()
        self.queue: asyncio.Queue | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.sent_rows = 0
        self.sent_bytes = 0
        self.logged = False
        self.failure: str | None = None

    # -- the worker thread ----------------------------------------------------------
    def post(self, item: tuple) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:       # the event loop is closed: nobody is listening
            self.cancelled.set()
            raise _Aborted() from None

    def run(self) -> None:
        t = self.ticket
        pipe = _Pipe(self)
        try:
            stats = exports.write_csv(t.store, t.dataset, t.filters, pipe,
                                      batch_rows=self.batch_rows, on_batch=pipe.flush)
            pipe.flush(stats.rows, stats.bytes)          # a file with no rows: the header
            self.post((_DONE, stats))
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported to the response
            try:
                self.post((_ERROR, exc))
            except _Aborted:
                pass

    # -- the event loop -------------------------------------------------------------
    async def chunks(self):
        """The body: each batch as the worker hands it over; the audit entry before
        the end."""
        self.loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue()
        self.thread = threading.Thread(target=self.run, daemon=True,
                                       name=f"export-stream:{self.ticket.dataset}")
        self.thread.start()
        while True:
            item = await self.queue.get()
            if item[0] == _DATA:
                _, pieces, rows, size = item
                for piece in pieces:
                    yield piece
                self.sent_rows, self.sent_bytes = rows, size
                self.slots.release()
            elif item[0] == _DONE:
                stats = item[1]
                break
            else:
                exc = item[1]
                self.failure = f"server error: {type(exc).__name__}: {exc}"
                _LOG.error("streamed export of %s failed", self.ticket.dataset, exc_info=exc)
                raise ExportStreamError(f"the export of {self.ticket.dataset} failed: {exc}")
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.log_complete, stats)

    def log_complete(self, stats: exports.CsvStats) -> None:
        t = self.ticket
        result = exports.ExportResult(t.dataset, t.filters, t.file_name, stats.rows,
                                      stats.bytes, stats.sha256)
        seq = exports._log(t.store, t.actor, "export.download", "export", t.dataset,
                           {**result.summary(), "delivery": "stream", "complete": True})
        self.logged = True
        _keep_receipt(t, {"dataset": t.dataset, "file": t.file_name, "rows": stats.rows,
                          "bytes": stats.bytes, "sha256": stats.sha256, "audit_seq": seq})

    def log_incomplete(self, reason: str) -> None:
        t = self.ticket
        exports._log(t.store, t.actor, "export.download", "export", t.dataset, {
            "dataset": t.dataset, "filters": t.filters, "file": t.file_name,
            "rows": self.sent_rows, "bytes": self.sent_bytes, "delivery": "stream",
            "complete": False, "reason": reason})
        self.logged = True

    async def close(self, reason: str) -> None:
        """After the response (complete or not): stop the worker, log if not yet."""
        self.cancelled.set()
        if not self.logged:
            reason = self.failure or reason
            _LOG.warning("streamed export of %s stopped after %d rows: %s",
                         self.ticket.dataset, self.sent_rows, reason)
            try:
                await anyio.to_thread.run_sync(self.log_incomplete, reason)
            except Exception:  # noqa: BLE001 - nothing more can be done; say so
                _LOG.exception("could not log the incomplete export of %s",
                               self.ticket.dataset)
        if self.thread is not None:
            await anyio.to_thread.run_sync(self.thread.join, 60)


class ExportStreamResponse(StreamingResponse):
    """A ``StreamingResponse`` that starts only once the first batch is ready (an
    export that fails before that gets a plain 500), and that logs an incomplete
    download however the response ends."""

    def __init__(self, job: _ExportJob):
        t = job.ticket
        super().__init__(job.chunks(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{t.file_name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        })
        self.job = job

    async def stream_response(self, send: Send) -> None:
        try:
            first = await self.body_iterator.__anext__()
        except ExportStreamError as exc:
            body = (str(exc) + "\n").encode("utf-8")
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": body})
            return
        except StopAsyncIteration:       # pragma: no cover - the header always comes
            first = b""
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        async for chunk in self.body_iterator:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = "the download stopped before the end (the client disconnected)"
        try:
            await super().__call__(scope, receive, send)
        except BaseException as exc:
            if not isinstance(exc, (OSError, asyncio.CancelledError)) and \
                    type(exc).__name__ != "ClientDisconnect":
                reason = f"server error: {type(exc).__name__}: {exc}"
            raise
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self.body_iterator.aclose()
                except RuntimeError:       # still running: it ends with the task
                    pass
                await self.job.close(reason)

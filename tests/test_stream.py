"""Streamed downloads (dashboard/stream.py, server.py): tickets, the /export/csv route,
its audit entries, streaming with bounded memory, and the Exports page's link."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard import exports, stream
from dashboard.access import PermissionDenied
from dashboard.settings import Settings

from serving import served as serve_app
from conftest import ADMIN, AUDITOR, DPO, FROZEN_NOW, MANAGER, ROOT, SYSTEM, app_test, make_store
from test_exports import audit_count, csv_bytes, last_entry, parse, populate


async def ping(request):
    return PlainTextResponse("pong")


def make_app() -> Starlette:
    """A small app mounting the same endpoint as server.py."""
    return Starlette(routes=[Route("/export/csv", stream.export_csv, methods=["GET"]),
                             Route("/ping", ping)])


@pytest.fixture
def client():
    with TestClient(make_app()) as c:
        yield c


@pytest.fixture
def filled(store):
    populate(store)
    return store


@pytest.fixture
def clock(monkeypatch):
    """Tickets' clock, moved by hand: ``clock.now += 301``."""
    class Clock:
        now = 1_000_000.0

        def __call__(self):
            return self.now
    c = Clock()
    monkeypatch.setattr(stream, "_clock", c)
    return c


def fill_retention(store, n: int, width: int = 40) -> None:
    with store.write(SYSTEM, "register.import") as w:
        w.execute("INSERT INTO retention_records SELECT i, 'SUB-' || i, 'name', "
                  "'crm ' || repeat('x', ?), 'CN', DATE '2025-01-01' + CAST(i % 300 AS INTEGER),"
                  " NULL, NULL, NULL, NULL, NULL FROM range(1, ? + 1) t(i)", [width, n])
        w.audit("test.fill", "retention_records")


def get(client, ticket_or_token, **kw):
    token = getattr(ticket_or_token, "token", ticket_or_token)
    return client.get(f"/export/csv?ticket={token}", **kw)


# -- a ticket streams the export --------------------------------------------------------------

@pytest.mark.parametrize("dataset, filters", [
    ("processors", {"status": "active"}),
    ("incidents", {}),
    ("retention_records", {"category": ["name", "phone"]}),
    ("findings", {}),
    ("audit_log", {"action": "test.populate"}),
])
def test_a_ticket_streams_the_same_bytes_as_write_csv_logged_once(filled, client, dataset,
                                                                   filters):
    ticket = stream.issue_ticket(filled, AUDITOR, dataset, filters)
    expected = csv_bytes(filled, dataset, ticket.filters)
    before = audit_count(filled)
    response = get(client, ticket)
    assert response.status_code == 200
    assert response.content == expected
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == \
        f'attachment; filename="{ticket.file_name}"'
    assert ticket.file_name.startswith(dataset + "_") and ticket.file_name.endswith(".csv")
    assert response.headers["cache-control"] == "no-store"
    assert audit_count(filled) == before + 1
    entry = last_entry(filled)
    assert (entry["action"], entry["entity_type"], entry["entity_id"]) == \
        ("export.download", "export", dataset)
    assert (entry["actor"], entry["role"]) == (AUDITOR.name, "auditor")
    assert entry["after"] == {
        "dataset": dataset, "filters": ticket.filters, "file": ticket.file_name,
        "rows": len(parse(expected)), "bytes": len(expected),
        "sha256": hashlib.sha256(expected).hexdigest(), "delivery": "stream",
        "complete": True}


def test_findings_ticket_fixes_its_as_of(filled):
    ticket = stream.issue_ticket(filled, DPO, "findings", {"severity": "high"})
    assert ticket.filters == {"as_of": FROZEN_NOW.date().isoformat(), "severity": ["high"]}


def test_an_empty_export_streams_the_header(filled, client):
    ticket = stream.issue_ticket(filled, AUDITOR, "incidents", {"from": "2030-01-01"})
    response = get(client, ticket)
    assert response.status_code == 200 and parse(response.content) == []
    assert response.content == csv_bytes(filled, "incidents", {"from": "2030-01-01"})
    assert last_entry(filled)["after"]["rows"] == 0


# -- refused tickets write nothing ---------------------------------------------------------

def test_missing_unknown_reused_or_expired_tickets_are_refused(filled, client, clock):
    before = audit_count(filled)
    r = client.get("/export/csv")
    assert r.status_code == 403 and "no ticket" in r.text
    assert get(client, "not-a-ticket").status_code == 403
    assert get(client, "x" * 10_000).status_code == 403
    assert "not valid" in get(client, "not-a-ticket").text
    assert audit_count(filled) == before

    used = stream.issue_ticket(filled, AUDITOR, "processors")
    assert get(client, used).status_code == 200
    assert audit_count(filled) == before + 1
    again = get(client, used)
    assert again.status_code == 410 and "already been used" in again.text
    assert again.headers["content-type"].startswith("text/plain")

    old = stream.issue_ticket(filled, AUDITOR, "processors")
    assert stream.is_pending(old.token)
    clock.now += 5 * 60 + 1                       # the default: 5 minutes
    assert not stream.is_pending(old.token)
    expired = get(client, old)
    assert expired.status_code == 410 and "expired" in expired.text
    assert get(client, old).status_code == 410    # still answered as spent
    clock.now += stream.FORGET_AFTER_SECONDS + 1  # then forgotten: unknown
    assert get(client, old).status_code == 403
    assert audit_count(filled) == before + 1      # only the one download


def test_head_does_not_spend_a_ticket(filled, client):
    ticket = stream.issue_ticket(filled, AUDITOR, "processors")
    assert client.head(f"/export/csv?ticket={ticket.token}").status_code == 405
    assert get(client, ticket).status_code == 200


def test_a_revoked_ticket_is_refused(filled, client):
    ticket = stream.issue_ticket(filled, AUDITOR, "processors")
    stream.revoke(ticket.token)
    assert not stream.is_pending(ticket.token)
    assert get(client, ticket).status_code == 410


def test_ticket_lifetime_is_a_setting(tmp_path, client, clock):
    s = make_store(tmp_path / "s.duckdb", settings=Settings({"export_ticket_minutes": 1}))
    try:
        ticket = stream.issue_ticket(s, AUDITOR, "processors")
        assert ticket.expires_at == FROZEN_NOW.replace(minute=1)
        clock.now += 61
        assert get(client, ticket).status_code == 410
    finally:
        s.close()
    s = make_store(tmp_path / "z.duckdb", settings=Settings({"export_ticket_minutes": 0}))
    try:
        assert stream.ticket_minutes(s) == 1               # never a link that cannot work
    finally:
        s.close()


def test_tokens_are_256_bit_random_and_not_kept_in_clear(filled):
    a = stream.issue_ticket(filled, AUDITOR, "processors")
    b = stream.issue_ticket(filled, AUDITOR, "processors")
    assert a.token != b.token and len(a.token) >= 43        # 32 bytes, URL-safe base64
    assert a.url == f"export/csv?ticket={a.token}"
    assert a.token not in repr(a)
    assert a.token not in stream._state().tickets           # only its SHA-256


@pytest.mark.parametrize("actor", [AUDITOR, DPO])
def test_auditors_and_dpos_get_tickets(filled, actor):
    assert stream.issue_ticket(filled, actor, "processors").actor == actor


@pytest.mark.parametrize("actor", [MANAGER, ADMIN, None])
def test_others_are_refused_a_ticket_and_nothing_is_written(filled, actor):
    before, tickets = audit_count(filled), len(stream._state().tickets)
    with pytest.raises(PermissionDenied):
        stream.issue_ticket(filled, actor, "processors")
    assert audit_count(filled) == before and len(stream._state().tickets) == tickets


@pytest.mark.parametrize("dataset, filters, message", [
    ("nonsense", {}, "unknown table"),
    ("incidents", {"status": "burning"}, "has no value 'burning'"),
    ("processors", {"from": "2026-13-01"}, "must be a date"),
])
def test_bad_input_is_refused_before_a_ticket(filled, dataset, filters, message):
    before, tickets = audit_count(filled), len(stream._state().tickets)
    with pytest.raises(exports.ExportError, match=message):
        stream.issue_ticket(filled, AUDITOR, dataset, filters)
    assert audit_count(filled) == before and len(stream._state().tickets) == tickets


def test_an_account_disabled_after_its_ticket_is_refused(filled, client):
    from dashboard import accounts
    accounts.create_user(filled, SYSTEM, "auditor.kim", "auditor", "a-long-password-42")
    accounts.create_user(filled, SYSTEM, "auditor.lee", "auditor", "a-long-password-43")
    kim = accounts.session_actor(filled, "auditor.kim")
    ok = stream.issue_ticket(filled, kim, "processors", account="auditor.kim")
    assert get(client, ok).status_code == 200
    stale = stream.issue_ticket(filled, kim, "processors", account="auditor.kim")
    accounts.disable_user(filled, SYSTEM, "auditor.kim")
    lee = accounts.session_actor(filled, "auditor.lee")
    moved = stream.issue_ticket(filled, lee, "processors", account="auditor.lee")
    accounts.set_role(filled, SYSTEM, "auditor.lee", "manager")
    before = audit_count(filled)
    refused = get(client, stale)
    assert refused.status_code == 403 and "disabled" in refused.text
    refused = get(client, moved)
    assert refused.status_code == 403 and "manager" in refused.text
    assert audit_count(filled) == before


# -- streaming: in batches, bounded, off the event loop ---------------------------------------

@pytest.fixture
def produced(monkeypatch):
    """The rows the writer has finished, batch by batch (it reports them before it
    hands each batch over)."""
    seen: list[int] = []
    original = exports.write_csv

    def spy(*args, on_batch=None, **kw):
        if on_batch is None:                     # not the route's writer
            return original(*args, **kw)

        def observe(rows, size):
            seen.append(rows)
            on_batch(rows, size)
        return original(*args, on_batch=observe, **kw)
    monkeypatch.setattr(exports, "write_csv", spy)
    return seen


def test_large_export_streams_in_batches_with_bounded_memory(store, client, produced,
                                                             monkeypatch):
    n, batch = 100_000, 1_000
    fill_retention(store, n, width=100)
    monkeypatch.setattr(stream, "BATCH_ROWS", batch)
    expected = csv_bytes(store, "retention_records")
    ticket = stream.issue_ticket(store, AUDITOR, "retention_records")
    digest, size, rows, chunks, ahead = hashlib.sha256(), 0, 0, 0, 0
    tracemalloc.start()
    with client.stream("GET", f"/export/csv?ticket={ticket.token}") as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            digest.update(chunk)
            size += len(chunk)
            rows += chunk.count(b"\r\n")
            chunks += 1
            # the writer never runs ahead of the client by more than the queue
            ahead = max(ahead, (produced[-1] if produced else 0) - (rows - 1))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert size == len(expected) > 10_000_000
    assert digest.hexdigest() == hashlib.sha256(expected).hexdigest()
    assert chunks >= n // batch                       # one body message per batch at least
    assert len(produced) == n // batch
    assert ahead <= (stream.QUEUE_BATCHES + 2) * batch, ahead
    # neither the server nor this client held more than a small fraction of the file
    assert peak < size / 10, (peak, size)
    entry = last_entry(store)
    assert entry["after"]["rows"] == n and entry["after"]["complete"] is True
    assert entry["after"]["sha256"] == digest.hexdigest()


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("export-stream")]


def test_a_download_stopped_midway_logs_one_incomplete_entry(store, client, monkeypatch):
    n, batch = 50_000, 1_000
    fill_retention(store, n)
    monkeypatch.setattr(stream, "BATCH_ROWS", batch)
    ticket = stream.issue_ticket(store, AUDITOR, "retention_records")
    before = audit_count(store)
    received = 0
    with client.stream("GET", f"/export/csv?ticket={ticket.token}") as response:
        for i, chunk in enumerate(response.iter_raw()):
            received += len(chunk)
            if i == 5:
                break                               # the client goes away
    assert audit_count(store) == before + 1
    entry = last_entry(store)
    after = entry["after"]
    assert entry["action"] == "export.download" and entry["actor"] == AUDITOR.name
    assert after["complete"] is False and after["delivery"] == "stream"
    assert "stopped before the end" in after["reason"]
    assert 0 < after["rows"] < n and after["rows"] % batch == 0
    assert 0 < after["bytes"] <= received
    assert "sha256" not in after
    assert not worker_threads()                     # the writer stopped (its snapshot closed)
    assert get(client, ticket).status_code == 410   # and the ticket is spent


def test_other_requests_and_writes_go_on_while_a_download_is_paused(store, client,
                                                                    monkeypatch):
    n = 30_000
    fill_retention(store, n)
    monkeypatch.setattr(stream, "BATCH_ROWS", 1_000)
    expected = csv_bytes(store, "retention_records")
    ticket = stream.issue_ticket(store, AUDITOR, "retention_records")
    with client.stream("GET", f"/export/csv?ticket={ticket.token}") as response:
        body = iter(response.iter_raw())
        parts = [next(body)]
        # the event loop still answers, and a writer commits at once
        assert client.get("/ping").text == "pong"
        t0 = time.monotonic()
        with store.write(SYSTEM, "register.edit") as w:
            w.execute("UPDATE retention_records SET system = 'changed' WHERE record_id = ?",
                      [n])
            w.audit("test.edit", "retention_record", n)
        assert time.monotonic() - t0 < 5
        parts.extend(body)
    # the file is the snapshot the download started from
    assert b"".join(parts) == expected
    assert last_entry(store)["after"]["complete"] is True


def test_a_failure_before_the_first_batch_answers_500_and_is_logged(filled, client,
                                                                    monkeypatch):
    def broken(*args, **kw):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(exports, "write_csv", broken)
    ticket = stream.issue_ticket(filled, AUDITOR, "processors")
    before = audit_count(filled)
    response = get(client, ticket)
    assert response.status_code == 500 and "disk on fire" in response.text
    assert audit_count(filled) == before + 1
    after = last_entry(filled)["after"]
    assert after["complete"] is False and after["rows"] == 0
    assert after["reason"].startswith("server error: RuntimeError")


# -- the Exports page ----------------------------------------------------------------------------

@pytest.fixture
def db(tmp_path):
    s = make_store(tmp_path / "pages.duckdb")
    populate(s)
    s.close()
    return tmp_path / "pages.duckdb"


@pytest.fixture
def served(monkeypatch):
    """As when server.py serves the app: the route is mounted in this process."""
    monkeypatch.setattr(stream._state(), "route", "/export/csv")


def app_store():
    from dashboard.store import Store
    return Store(os.environ["COMPLIANCE_DB"], settings=Settings(), clock=lambda: FROZEN_NOW)


def link_buttons(at) -> list:
    return [e for e in at.get("link_button")]


def csv_download_buttons(at) -> list:
    """The one-dataset download button (not the audit pack's)."""
    return [b for b in at.get("download_button") if "exp_download" in b.proto.id]


def test_page_without_the_route_keeps_the_download_button(db, monkeypatch):
    at = app_test(db, AUDITOR, monkeypatch, page="exports")
    assert not at.exception
    assert csv_download_buttons(at) and not link_buttons(at)
    assert not [b for b in at.button if b.key == "exp_prepare"]


def test_page_issues_a_ticket_only_when_asked_and_the_link_streams(db, monkeypatch, served,
                                                                   client):
    tickets = len(stream._state().tickets)
    at = app_test(db, AUDITOR, monkeypatch, page="exports")
    assert not at.exception
    assert csv_download_buttons(at)                        # small: both ways
    assert not link_buttons(at)
    assert len(stream._state().tickets) == tickets         # nothing issued yet
    at.button(key="exp_prepare").click().run()
    assert not at.exception
    (link,) = link_buttons(at)
    assert link.proto.label == "Download CSV (streamed)"
    url = link.proto.url
    assert url.startswith("export/csv?ticket=")
    assert len(stream._state().tickets) == tickets + 1
    store = app_store()
    before = audit_count(store)
    response = client.get("/" + url)
    assert response.status_code == 200
    assert response.content == csv_bytes(store, "processors")
    assert audit_count(store) == before + 1
    assert last_entry(store)["actor"] == AUDITOR.name
    # the spent link is replaced by a new "prepare" button on the next run
    at.run()
    assert not link_buttons(at) and at.button(key="exp_prepare")


def test_page_shows_the_link_in_place_of_the_button(db, monkeypatch, served):
    at = app_test(db, AUDITOR, monkeypatch, page="exports")
    at.button(key="exp_prepare").click().run()
    assert link_buttons(at) and not [b for b in at.button if b.key == "exp_prepare"]


def test_page_changing_filters_revokes_the_prepared_link(db, monkeypatch, served, client):
    at = app_test(db, DPO, monkeypatch, page="exports")
    at.button(key="exp_prepare").click().run()
    (link,) = link_buttons(at)
    at.selectbox(key="exp_dataset").set_value("incidents").run()
    assert not link_buttons(at)
    assert client.get("/" + link.proto.url).status_code == 410


def two_million(store, dataset, filters=None) -> int:
    return 2_000_000


def test_page_offers_only_the_stream_for_large_exports(db, monkeypatch, served):
    monkeypatch.setattr(exports, "count_rows", two_million)   # ui.cached resolves it by name
    at = app_test(db, AUDITOR, monkeypatch, page="exports")
    assert not at.exception
    assert not csv_download_buttons(at)
    prepare = at.button(key="exp_prepare")
    assert prepare.proto.label == "Prepare the download"


# -- server.py ---------------------------------------------------------------------------------

def test_server_py_is_discovered_as_the_asgi_app():
    from streamlit.web.server.app_discovery import discover_asgi_app
    found = discover_asgi_app(ROOT / "server.py")
    assert found.is_asgi_app and found.import_string == "server:app"


def _status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@pytest.mark.slow
def test_streamlit_run_server_py_serves_the_app_and_the_route(tmp_path):
    db = tmp_path / "served.duckdb"
    subprocess.run([sys.executable, "-m", "dashboard", "--db", str(db), "init"], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)
    env = {"COMPLIANCE_DB": str(db), "COMPLIANCE_FROZEN_NOW": FROZEN_NOW.isoformat()}
    with serve_app("server.py", env=env, log=tmp_path / "streamlit.log") as server:
        base = server.base
        status, text = _status(f"{base}/export/csv")
        assert status == 403 and "no ticket" in text
        assert _status(f"{base}/export/csv?ticket=forged")[0] == 403
        status, html = _status(f"{base}/")
        assert status == 200 and '<div id="root">' in html
        assert _status(f"{base}/exports")[0] == 200           # the app's pages as before


def test_a_complete_file_is_handed_out_only_once_logged(filled, client, monkeypatch):
    original = exports._log

    def failing(store, actor, action, entity_type, entity_id, after):
        if after.get("complete"):
            raise RuntimeError("audit log unavailable")
        return original(store, actor, action, entity_type, entity_id, after)
    monkeypatch.setattr(exports, "_log", failing)
    ticket = stream.issue_ticket(filled, AUDITOR, "processors")
    before = audit_count(filled)
    with pytest.raises(RuntimeError, match="audit log unavailable"):
        get(client, ticket)          # the response is cut before its end: no complete file
    assert audit_count(filled) == before + 1
    after = last_entry(filled)["after"]
    assert after["complete"] is False and "audit log unavailable" in after["reason"]

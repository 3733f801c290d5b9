"""The web server (issue 12): security headers on every response of `server.py`,
`/_stcore/metrics` closed without the metrics token, `make run` on 127.0.0.1 printing the
address it serves. Real-browser checks are in tests/browser/test_web.py."""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

from dashboard import web

from serving import free_port, served

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def assert_secure(headers, what: str) -> None:
    for name, value in REQUIRED.items():
        assert headers.get(name) == value, f"{what}: {name} is {headers.get(name)!r}"
    csp = headers.get("content-security-policy") or ""
    assert "frame-ancestors 'none'" in csp, f"{what}: CSP {csp!r}"
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    # Nothing from another host: every source list names only this origin (and data:/blob:).
    for name, sources in directives.items():
        for source in sources.split():
            assert source in ("'self'", "'none'", "'unsafe-inline'", "data:", "blob:") \
                or source.startswith("'sha256-"), f"{what}: {name} allows {source}"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]


# -- the middleware on its own ------------------------------------------------------------
def _tiny_app() -> Starlette:
    async def hello(request):
        return PlainTextResponse("hi", headers={"X-Frame-Options": "SAMEORIGIN"})

    async def echo(ws):
        await ws.accept()
        await ws.send_text("ok")
        await ws.close()

    from starlette.middleware import Middleware
    return Starlette(routes=[Route("/", hello), Route("/_stcore/metrics", hello),
                             WebSocketRoute("/ws", echo)],
                     middleware=[Middleware(web.SecurityHeaders), Middleware(web.MetricsGate)])


def test_headers_on_http_responses_replace_the_inner_apps_values():
    with TestClient(_tiny_app()) as client:
        r = client.get("/")
        assert r.text == "hi"
        assert_secure(r.headers, "/")
        assert r.headers.get_list("x-frame-options") == ["DENY"]
        assert_secure(client.get("/missing").headers, "a 404")


def test_headers_on_the_websocket_handshake():
    # Starlette's TestClient does not expose handshake headers: call the middleware directly.
    import asyncio
    sent = []

    async def inner(scope, receive, send):
        await send({"type": "websocket.accept", "subprotocol": None, "headers": []})

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "websocket.connect"}

    # In a thread of its own: an earlier test (AppTest, a TestClient) may have left an event
    # loop running in this one, where asyncio.run refuses to start.
    import threading
    worker = threading.Thread(target=lambda: asyncio.run(web.SecurityHeaders(inner)(
        {"type": "websocket", "path": "/ws"}, receive, send)))
    worker.start()
    worker.join(timeout=30)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    assert_secure(headers, "websocket.accept")


@pytest.mark.parametrize("path", ["/_stcore/metrics", "/_stcore/metrics/",
                                  "/base/_stcore/metrics", "/_stcore/metrics//"])
def test_metrics_path_is_recognised_under_any_base_path(path):
    assert web._METRICS_PATH.search(path)


@pytest.mark.parametrize("path", ["/_stcore/health", "/metrics", "/_stcore/metricsx"])
def test_other_paths_are_not_the_metrics_path(path):
    assert not web._METRICS_PATH.search(path)


@pytest.mark.parametrize("environ,authorization,allowed", [
    ({}, None, False),                                              # no token set: closed
    ({}, "Bearer ", False),
    ({web.METRICS_TOKEN_ENV: ""}, "Bearer ", False),
    ({web.METRICS_TOKEN_ENV: "s3cret-token"}, None, False),
    ({web.METRICS_TOKEN_ENV: "s3cret-token"}, "Bearer wrong", False),
    ({web.METRICS_TOKEN_ENV: "s3cret-token"}, "Basic s3cret-token", False),
    ({web.METRICS_TOKEN_ENV: "s3cret-token"}, "Bearer s3cret-token", True),
    ({web.METRICS_TOKEN_ENV: "s3cret-token"}, "bearer  s3cret-token", True),
])
def test_metrics_need_the_token(environ, authorization, allowed):
    headers = {"authorization": authorization} if authorization is not None else {}
    assert web.metrics_allowed(headers, environ) is allowed


def test_metrics_gate_answers_404_without_the_token(monkeypatch):
    monkeypatch.delenv(web.METRICS_TOKEN_ENV, raising=False)
    with TestClient(_tiny_app()) as client:
        assert client.get("/_stcore/metrics").status_code == 404
        assert client.options("/_stcore/metrics").status_code == 404
    monkeypatch.setenv(web.METRICS_TOKEN_ENV, "tok-123")
    with TestClient(_tiny_app()) as client:
        assert client.get("/_stcore/metrics").status_code == 404
        ok = client.get("/_stcore/metrics", headers={"Authorization": "Bearer tok-123"})
        assert ok.status_code == 200 and ok.text == "hi"


def test_the_inline_script_of_streamlits_page_is_allowed_by_its_hash():
    hashes = web._inline_script_hashes()
    assert len(hashes) >= 1 and all(h.startswith("'sha256-") for h in hashes)
    assert all(h in web.content_security_policy() for h in hashes)


# -- the served app -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    db = tmp / "web.duckdb"
    subprocess.run([sys.executable, "-m", "dashboard", "--db", str(db), "init"], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)
    env = {"COMPLIANCE_DB": str(db), web.METRICS_TOKEN_ENV: "metrics-token-for-the-test"}
    with served("server.py", env=env, log=tmp / "streamlit.log") as server:
        yield server.base


def _static_asset(base: str) -> str:
    html = httpx.get(f"{base}/").text
    return "/" + re.search(r'src="\./(static/js/[^"]+\.js)"', html).group(1)


@pytest.mark.slow
def test_every_kind_of_response_carries_the_security_headers(served_app):
    paths = ["/", "/findings", "/users?user=x", "/_stcore/health", "/_stcore/host-config",
             "/favicon.png", _static_asset(served_app), "/export/csv", "/export/csv?ticket=x",
             "/no/such/page.txt", "/_stcore/metrics"]
    with httpx.Client(base_url=served_app, timeout=30) as client:
        for path in paths:
            r = client.get(path)
            assert_secure(r.headers, f"GET {path} ({r.status_code})")
        r = client.head("/")
        assert_secure(r.headers, "HEAD /")


@pytest.mark.slow
def test_the_websocket_handshake_carries_the_security_headers(served_app):
    from websockets.sync.client import connect
    url = served_app.replace("http://", "ws://") + "/_stcore/stream"
    with connect(url, subprotocols=["streamlit"], open_timeout=30) as ws:
        assert_secure({k.lower(): v for k, v in ws.response.headers.raw_items()}, "websocket")


@pytest.mark.slow
def test_metrics_are_refused_without_the_token_and_served_with_it(served_app):
    with httpx.Client(base_url=served_app, timeout=30) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "metrics-token-for-the-test"}):
            r = client.get("/_stcore/metrics", headers=headers)
            assert r.status_code == 404 and "session" not in r.text, headers
        assert client.get("/_stcore/metrics/").status_code in (404, 307)
        assert client.get("/_stcore/metrics/", follow_redirects=True).status_code == 404
        r = client.get("/_stcore/metrics",
                       headers={"Authorization": "Bearer metrics-token-for-the-test"})
        assert r.status_code == 200 and "session" in r.text


# -- make run -----------------------------------------------------------------------------
def _make_run(**variables: str) -> list[str]:
    """The commands `make run` would run (make -n), one per line."""
    args = [f"{k}={v}" for k, v in variables.items()]
    out = subprocess.run(["make", "-n", "run", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return out.splitlines()


def _serve_command(lines: list[str]) -> str:
    return next(line for line in lines if "streamlit run server.py" in line)


def test_make_run_listens_on_localhost_unless_told_otherwise():
    lines = _make_run(PORT="8765", DB="/tmp/none.duckdb")
    assert 'echo "Serving on http://127.0.0.1:8765"' in lines
    assert "--server.address 127.0.0.1 --server.port 8765" in _serve_command(lines)
    lines = _make_run(HOST="0.0.0.0", PORT="9123", DB="/tmp/none.duckdb")
    assert 'echo "Serving on http://0.0.0.0:9123"' in lines
    assert "--server.address 0.0.0.0 --server.port 9123" in _serve_command(lines)


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))      # no packet is sent: picks the outgoing address
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.mark.slow
def test_make_runs_server_answers_on_the_address_it_prints_and_only_there(tmp_path):
    db = tmp_path / "run.duckdb"
    subprocess.run([sys.executable, "-m", "dashboard", "--db", str(db), "init"], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    lines = _make_run(PORT=str(port), DB=str(db))
    printed = next(line for line in lines if line.startswith('echo "Serving on '))
    address = re.search(r"http://[^\"]+", printed).group(0)
    assert address == f"http://127.0.0.1:{port}"
    command = _serve_command(lines).replace(".venv/bin/python", shlex.quote(sys.executable))
    log = open(tmp_path / "make-run.log", "w")
    proc = subprocess.Popen(["sh", "-c", command], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        from serving import _healthy
        import time
        deadline = time.monotonic() + 90
        while not _healthy(address):
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "make-run.log").read_text()
            time.sleep(0.2)   # polling the server's health endpoint while it starts
        assert httpx.get(f"{address}/_stcore/health").text == "ok"
        other = _other_address()
        if other:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{other}:{port}/_stcore/health", timeout=5)
        assert f"URL: {address}" in (tmp_path / "make-run.log").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()

"""Real-browser harness: the app served by `streamlit run` on a fresh demo store,
driven by Playwright through Debian's Chromium (/usr/bin/chromium).

- `served_app` (session): builds a demo store with the command line exactly as
  `make run` does, serves it (`streamlit run server.py`, as `make run`) on a free
  localhost port with a frozen clock, and stops it at the end. The server does not
  watch the source files: an edit made in the working tree while the tests run does
  not make Streamlit re-import the app's modules under them.
- `reference_store` (session): a read-only copy of that demo store, taken after it is
  built and before the server opens it (the server holds the file itself, DuckDB
  allows one process). The demo data is deterministic: tests compare what the app
  shows and hands out with it.
- `page`: a fresh browser context per test (1400x1000, Asia/Shanghai, downloads on);
  on failure a full-page screenshot of every tab of the context goes to
  tests/artifacts/failures/<test>[-<tab>].png. The server's log is
  tests/artifacts/streamlit.log.
- `save_screenshot(pg, name)` writes docs/screenshots/<name>.png (the README's);
  `wait_for_app(pg)` waits until Streamlit has finished running the script.
Tests wait on the page's state (locators, expect), never on sleeps.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from dashboard import audit
from serving import served

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# The demo's "today" and the served app's frozen clock (same as tests/conftest.py).
AS_OF = "2026-11-24"
FROZEN_NOW = "2026-11-24T10:00:00+08:00"

pytestmark = pytest.mark.browser


def _cli(db: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "dashboard", "--db", str(db), *args],
                          cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"dashboard {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@pytest.fixture(scope="session")
def demo_store_path(tmp_path_factory) -> Path:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium")
    db = tmp_path_factory.mktemp("browser") / "demo.duckdb"
    _cli(db, "init")
    _cli(db, "seed", "--scale", "demo", "--as-of", AS_OF)
    _cli(db, "user", "demo-accounts")
    # The copy the tests compare with, taken before the server opens the store.
    copy = db.with_name("reference.duckdb")
    audit.copy_store(db, copy)          # with its WAL, audit key and head record
    return db


@pytest.fixture(scope="session")
def reference_store(demo_store_path: Path):
    """The demo store as built, before any test changed it (read-only, frozen clock)."""
    from dashboard.store import Store
    now = dt.datetime.fromisoformat(FROZEN_NOW)
    store = Store(demo_store_path.with_name("reference.duckdb"), read_only=True,
                  clock=lambda: now)
    yield store
    store.close()


@pytest.fixture(scope="session")
def served_app(demo_store_path: Path):
    env = {"COMPLIANCE_DB": str(demo_store_path), "COMPLIANCE_FROZEN_NOW": FROZEN_NOW}
    with served("server.py", env=env, log=ARTIFACTS / "streamlit.log") as server:
        yield server.base


@contextmanager
def own_server(demo_store_path: Path, folder: Path, log_name: str) -> Iterator[str]:
    """A server of its own on a fresh copy of the demo store as built (for a journey that
    changes what the shared server's journeys compare with the demo store); its address."""
    db = folder / "demo.duckdb"
    audit.copy_store(demo_store_path.with_name("reference.duckdb"), db)
    env = {"COMPLIANCE_DB": str(db), "COMPLIANCE_FROZEN_NOW": FROZEN_NOW}
    with served("server.py", env=env, log=ARTIFACTS / log_name) as server:
        yield server.base


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def page(browser, served_app, request, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True, timezone_id="Asia/Shanghai")
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.base_url = served_app  # type: ignore[attr-defined]
    yield pg
    failed = any(getattr(request.node, f"rep_{w}", None) is not None
                 and getattr(request.node, f"rep_{w}").failed for w in ("setup", "call"))
    if failed:
        shots = ARTIFACTS / "failures"
        shots.mkdir(parents=True, exist_ok=True)
        # Every tab the test opened (a shared link is opened in a second tab).
        for i, tab in enumerate(p for p in context.pages if not p.is_closed()):
            name = request.node.name + (f"-tab{i + 1}" if i else "")
            try:
                tab.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            except Exception:  # the page may already be gone
                pass
    context.close()


def save_screenshot(pg, name: str) -> Path:
    """Write a README screenshot (docs/screenshots/<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=False)
    return path


def wait_for_app(pg) -> None:
    """Wait until Streamlit has finished running the script: the app root carries
    data-test-script-state="notRunning" once a run is over (Streamlit's own test hook)."""
    pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                         state="attached")

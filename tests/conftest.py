"""Shared fixtures: fresh stores, a frozen clock, the demo store."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.access import Actor, cli_actor
from dashboard.reference import sync_reference
from dashboard.settings import Settings
from dashboard.store import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The demo's "today": every test that uses the demo store sees the same data.
DEMO_AS_OF = dt.date(2026, 11, 24)
FROZEN_NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)

SYSTEM = cli_actor()
DPO = Actor("dpo.li", "dpo")
MANAGER = Actor("manager.wang", "manager")
AUDITOR = Actor("auditor.chen", "auditor")
ADMIN = Actor("admin.zhao", "admin")


def make_store(path: Path, *, settings: Settings | None = None, clock=None) -> Store:
    store = Store(path, settings=settings or Settings(), clock=clock or (lambda: FROZEN_NOW))
    store.migrate(SYSTEM)
    with store.write(SYSTEM, "store.admin") as w:
        sync_reference(w.cur)
        w.audit("reference.sync", "reference")
    return store


@pytest.fixture
def cheap_hasher(monkeypatch):
    """Argon2 at its cheapest, for tests that create and sign in many accounts."""
    from argon2 import PasswordHasher
    from dashboard import accounts
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024,
                                                           parallelism=1))
    monkeypatch.setattr(accounts, "_DUMMY_HASH", None)


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path / "test.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory) -> Path:
    """A demo store built once per session; copy it before writing to it."""
    from dashboard import demo
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    s = make_store(path)
    demo.seed(s, SYSTEM, scale="demo", as_of=DEMO_AS_OF)
    s.close()
    return path


@pytest.fixture
def demo_db(demo_db_template, tmp_path) -> Path:
    """A private copy of the demo store file (safe to write to)."""
    path = tmp_path / "demo.duckdb"
    from dashboard import audit
    audit.copy_store(demo_db_template, path)
    return path


@pytest.fixture
def demo_store(demo_db):
    s = Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW)
    yield s
    s.close()


ROOT = Path(__file__).resolve().parent.parent


def app_test(db_path: Path, actor: Actor | None, monkeypatch, *, page: str | None = None,
             query: dict | None = None, frozen_now: dt.datetime = FROZEN_NOW,
             locale: str | None = None):
    """An AppTest of app.py on ``db_path``, signed in as ``actor``, run once on ``page``
    (a key of ``dashboard.navigation.PAGE_BY_KEY``; the default page if None) with
    ``query`` in the URL, as a browser opening ``/<page>?<query>`` does: the page's
    first run sees the query, so URL-bound widgets start from it. ``locale`` ("zh_CN",
    "en") is the language chosen in the sidebar; None: the app's default (English, as
    AppTest's browser names no language).
    """
    from streamlit.testing.v1 import AppTest

    from dashboard.navigation import PAGE_BY_KEY

    monkeypatch.setenv("COMPLIANCE_DB", str(db_path))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", frozen_now.isoformat())
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    if actor is not None:
        at.session_state["actor"] = actor
    if locale is not None:
        at.session_state["locale"] = locale
    at.query_params.update(query or {})
    if page is not None:
        at.switch_page(PAGE_BY_KEY[page].script)
    return at.run()


def shown(text: str) -> str:
    """What a reader sees of Markdown that holds ``ui.plain`` values: the backslash
    escapes and invisible word joiners gone (for comparing a message with its text)."""
    import re
    from dashboard.ui import WORD_JOINER
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text.replace(WORD_JOINER, ""))

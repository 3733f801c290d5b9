"""A link to a page, opened by a signed-out browser (a shared link, a new tab: a local
sign-in lasts one tab), survives the sign-in: the form is shown at the link's address,
and once signed in the linked page runs with the link's query parameters (issue 8).
The real-browser journeys (tests/browser/test_journeys.py) submit the form, follow a
shared link and check that a page outside the role is refused with a warning."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from dashboard import accounts
from dashboard.access import Actor

from conftest import FROZEN_NOW, SYSTEM, make_store

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Sesame-Open-42!"


pytestmark = pytest.mark.usefixtures("cheap_hasher")   # conftest: fast Argon2


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path / "app.duckdb")
    accounts.create_user(s, SYSTEM, "li", "dpo", PASSWORD)
    yield s
    s.close()


def opened_at(store, monkeypatch, key: str, query: dict | None = None) -> AppTest:
    """What a browser runs when it opens /<key>?<query> in a new session."""
    monkeypatch.setenv("COMPLIANCE_DB", str(store.path))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", FROZEN_NOW.isoformat())
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at._page_hash = calc_hash(key)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def sign_in(at: AppTest, username: str, role: str) -> AppTest:
    """What the form does on success (``ui.set_actor``, then a rerun of the same page).
    AppTest starts each run in the old multipage mode (below), whose rerun through
    app.py drops a form submission: the browser journeys submit the form for real."""
    at.session_state["actor"] = Actor(username, role)
    at.session_state["account"] = {"method": "password", "username": username}
    return at.run()


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_a_link_shows_the_sign_in_form_and_then_its_page_with_its_filters(store, monkeypatch):
    # AppTest starts every run in Streamlit's old multipage mode, where the URL's page
    # file runs by itself (as a server's first request does): page_guard sends the
    # signed-out session through app.py, which shows the form at the page's address.
    at = opened_at(store, monkeypatch, "processors", {"q": "PRC-0007"})
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"] and not at.error
    assert "Sign in to open **Processors**." in captions(at)
    sign_in(at, "li", "dpo")
    assert not at.exception and not at.warning and not at.error
    assert [t.value for t in at.title] == ["Processors"]
    assert at.text_input(key="q").value == "PRC-0007"
    assert at.query_params["q"] == "PRC-0007"


def test_the_plain_sign_in_page_names_no_page(store, monkeypatch):
    at = opened_at(store, monkeypatch, "sign_in")
    assert [t.value for t in at.title] == ["Sign in"]
    assert not any(c.startswith("Sign in to open") for c in captions(at))

"""Issue 16: an incident page's legal clocks tick without a click (``st.fragment(run_every=
clock_refresh_seconds)``). Served on a copy of the demo store with the real clock (not the
other browser tests' frozen one) and a 2-second refresh, so the test sees time pass."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from dashboard import audit
from serving import served

from .conftest import ARTIFACTS, wait_for_app
from .test_journeys import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ticking_app(demo_store_path, tmp_path_factory):
    copy = tmp_path_factory.mktemp("ticking") / "demo.duckdb"
    audit.copy_store(demo_store_path.with_name("reference.duckdb"), copy)
    env = {"COMPLIANCE_DB": str(copy), "COMPLIANCE_CLOCK_REFRESH_SECONDS": "2"}
    with served("server.py", env=env, log=ARTIFACTS / "streamlit-ticking.log") as server:
        yield server.base


def test_the_clocks_of_an_incident_redraw_themselves(browser, ticking_app):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(30_000)
    pg = context.new_page()
    try:
        pg.goto(f"{ticking_app}/incident?id=INC-2026-0001")
        wait_for_app(pg)
        sign_in(pg, "manager")
        pg.goto(f"{ticking_app}/incident?id=INC-2026-0001")
        wait_for_app(pg)
        caption = pg.get_by_text(re.compile(r"Clocks as of \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d Beijing time"))
        expect(caption).to_be_visible()
        first = caption.inner_text()
        assert "redrawn every 2 s" in first
        expect(pg.get_by_text("Regulator report").first).to_be_visible()
        # no click, no key: the fragment runs again on its own
        deadline = time.monotonic() + 20
        while caption.inner_text() == first:
            assert time.monotonic() < deadline, "the clocks were not redrawn within 20 s"
            pg.wait_for_timeout(250)
        stamp = lambda text: re.search(r"\d\d:\d\d:\d\d", text).group(0)  # noqa: E731
        assert stamp(caption.inner_text()) > stamp(first)
    finally:
        context.close()

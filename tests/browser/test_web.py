"""The web server in a real browser (issue 12): a protected page as the very first request
to a freshly started server shows the sign-in form (no legacy multipage mode); signing in
and the overview fetch nothing from another host and break no Content-Security-Policy
rule; the metrics are not served to a browser that is not signed in."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from serving import served

from .conftest import ARTIFACTS, FROZEN_NOW, _cli, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """A server of its own, started for this module, that no request has reached yet."""
    db = tmp_path_factory.mktemp("fresh") / "fresh.duckdb"
    _cli(db, "init")
    _cli(db, "user", "demo-accounts")
    env = {"COMPLIANCE_DB": str(db), "COMPLIANCE_FROZEN_NOW": FROZEN_NOW}
    with served("server.py", env=env, log=ARTIFACTS / "streamlit-fresh.log") as server:
        yield server.base


def test_a_protected_page_as_a_fresh_servers_first_request_shows_the_sign_in_form(
        browser, fresh_server):
    # Streamlit's legacy multipage mode (a pages/ folder beside the main script) would run
    # pages/users.py itself on this first request, and list every page file in the sidebar.
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(30_000)
    try:
        pg: Page = context.new_page()
        pg.goto(f"{fresh_server}/users?user=admin")
        wait_for_app(pg)
        expect(pg.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
        expect(pg.get_by_text("Sign in to open Users.")).to_be_visible()
        expect(pg.get_by_role("textbox", name="Username")).to_be_visible()
        assert pg.get_by_test_id("stSidebarNav").count() == 0
        assert pg.get_by_text("is not available").count() == 0
        assert pg.get_by_role("heading", name="Users").count() == 0
        assert re.search(r"/users\?user=admin$", pg.url)
        # Signing in opens the page the link named.
        pg.get_by_role("textbox", name="Username").fill("admin")
        pg.get_by_label("Password", exact=True).fill("admin-demo-password")
        pg.get_by_role("button", name="Sign in").click()
        expect(pg.get_by_test_id("stSidebar")).to_contain_text("Signed in as")
        expect(pg.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    finally:
        context.close()


def test_sign_in_and_the_overview_request_nothing_from_another_host(page: Page):
    """Every request the browser makes (documents, scripts, fonts, icons, the favicon,
    the WebSocket) goes to the app's own address, and the Content-Security-Policy blocks
    nothing the app needs."""
    pg = page
    origin = urlsplit(pg.base_url)
    requests: list[str] = []
    violations: list[str] = []
    pg.context.on("request", lambda r: requests.append(r.url))
    pg.on("websocket", lambda ws: requests.append(ws.url))
    pg.on("console", lambda m: violations.append(m.text)
          if "Content Security Policy" in m.text or "Refused to" in m.text else None)

    pg.goto(pg.base_url)
    wait_for_app(pg)
    pg.get_by_role("textbox", name="Username").fill("dpo")
    pg.get_by_label("Password", exact=True).fill("dpo-demo-password")
    pg.get_by_role("button", name="Sign in").click()
    expect(pg.get_by_test_id("stSidebar")).to_contain_text("Signed in as")
    expect(pg.get_by_role("heading", name="Compliance overview", exact=True)).to_be_visible()
    plots = pg.get_by_test_id("stMain").locator(".js-plotly-plot")
    plots.first.wait_for()
    wait_for_app(pg)
    plots.first.locator(".bars .point path").first.wait_for(state="attached")
    # The tab's icon is the app's own file.
    icon = pg.evaluate("document.querySelector(\"link[rel*='icon']\").href")
    assert urlsplit(icon).netloc == origin.netloc, icon

    assert requests, "no request was recorded"
    outside = sorted({u for u in requests
                      if urlsplit(u).scheme not in ("data", "blob")
                      and (urlsplit(u).hostname, urlsplit(u).port)
                      != (origin.hostname, origin.port)})
    assert outside == [], outside
    assert violations == [], violations


def test_metrics_are_not_served_to_a_browser_that_is_not_signed_in(page: Page, fresh_server):
    response = page.request.get(f"{fresh_server}/_stcore/metrics")
    assert response.status == 404
    assert "session" not in response.text()
    assert response.headers["x-frame-options"] == "DENY"

"""`ui.plain` in a real browser (issue 12): a hostile value shown through it in every
element that renders Markdown (markdown, caption, alert, heading, button, expander, tab
and metric labels) comes out as the very characters it holds: no image, no link, no
HTML, no formatting, no directive; and the browser requests nothing for it."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from dashboard.ui import WORD_JOINER
from serving import served

from .conftest import ARTIFACTS, wait_for_app
from .hostile import HOSTILE

pytestmark = pytest.mark.browser

# Elements only Markdown would have made out of the values (the page's own Markdown adds
# one <strong> per case, and its subheader is an <h3>).
MARKUP = ("img, a, h1, h2, ul, ol, li, blockquote, code, pre, em, del, table, hr, .katex, "
          "[style*='color']")


@pytest.fixture(scope="module")
def plain_app():
    with served("tests/browser/plain_text_app.py", env={},
                log=ARTIFACTS / "streamlit-plain.log") as server:
        yield server.base


def _flat(text: str) -> str:
    """Whitespace collapsed, and without ui.plain's invisible word joiners."""
    return " ".join(text.replace(WORD_JOINER, "").split())


def test_hostile_values_show_as_plain_text_everywhere(browser, plain_app):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(30_000)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    try:
        pg = context.new_page()
        pg.goto(plain_app)
        wait_for_app(pg)
        for i, value in enumerate(HOSTILE):
            case = pg.locator(f".st-key-case_{i}")
            expect(case).to_be_visible()
            for prefix in ("Value:", "Caption", "Error", "Heading", "Button", "Expander",
                           "Tab", "Metric"):
                element = case.get_by_text(prefix, exact=False).first
                expect(element).to_be_visible()
            text = _flat(case.inner_text())
            for prefix in ("Value:", "Caption", "Error", "Heading", "Button", "Expander",
                           "Tab", "Metric"):
                assert f"{prefix} {_flat(value)}" in text, (prefix, value, text)
            found = case.locator(MARKUP)
            assert found.count() == 0, (value, [found.nth(k).evaluate("e => e.outerHTML")
                                                for k in range(found.count())])
            assert case.locator("strong").count() == 1, value
        outside = {u for u in requests if urlsplit(u).netloc != urlsplit(plain_app).netloc
                   and urlsplit(u).scheme not in ("data", "blob")}
        assert outside == set(), outside
    finally:
        context.close()

"""bench/bench_browser.py's "drawn" test and its trivial pass, in Chromium, untimed: the
trivial page is not drawn while it shows its form only, and a pass gives both steps."""
from __future__ import annotations

import pytest

from bench import bench_browser as B
from serving import served

from .conftest import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser


def test_drawn_waits_for_the_chart_and_a_trivial_pass_times_both_steps(browser):
    with served(B.TRIVIAL_APP, env={}, log=ARTIFACTS / "streamlit-trivial.log") as server:
        context = browser.new_context(viewport=B.VIEWPORT)
        context.set_default_timeout(30_000)
        context.add_init_script(B.STATE_LOG_JS)
        try:
            pg = context.new_page()
            pg.goto(server.base)
            wait_for_app(pg)
            # The form drawn (its inputs' code loaded: no placeholder left), and no chart.
            form = {"path": "/", "charts": 0, "fold": False}
            pg.wait_for_function(B.DRAWN_JS, arg=form)
            assert pg.evaluate(B.DRAWN_JS, form | {"charts": 1}) is False
            assert pg.evaluate(B.DRAWN_JS, form | {"path": "/findings"}) is False
            pg.close()

            times = B.trivial_pass(context, server.base, timeout=60)
            assert times["trivial"] > 0 and times["trivial_load"] > 0
        finally:
            context.close()

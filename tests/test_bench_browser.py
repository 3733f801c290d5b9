"""bench/bench_browser.py's own logic, untimed: the trivial page it measures the app
against runs (AppTest), and its tables come out of the passes as its docstring says.
The browser side is in tests/browser/test_bench_browser.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench import bench_browser as B

ROOT = Path(__file__).resolve().parent.parent


def test_trivial_app_draws_one_chart_after_its_form_is_submitted():
    at = AppTest.from_file(str(ROOT / B.TRIVIAL_APP), default_timeout=30).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert len(at.get("plotly_chart")) == 0
    at.text_input[0].input("dpo")
    at.text_input[1].input("secret")
    at.button[0].click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1


def test_trivial_app_draws_its_chart_at_once_with_chart_1_in_the_address():
    at = AppTest.from_file(str(ROOT / B.TRIVIAL_APP), default_timeout=30)
    at.query_params["chart"] = "1"
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1
    assert len(at.text_input) == 0


def test_summary_and_ratio():
    assert B.summary([3.0, 1.0, 2.0, 10.0]) == {"median": 2.5, "min": 1.0, "max": 10.0}
    assert B.summary([]) is None
    assert B.ratio(3.0, 2.0) == 1.5
    assert B.ratio(None, 2.0) is None and B.ratio(3.0, 0.0) is None


def _passes(overview: list[float], trivial: list[float]) -> list[dict[str, float]]:
    return [{"overview": o, "overview.fold": o - 0.5, "tab": 0.75, "tab.run": 0.5,
             "tab.after": 0.25, "drill": 1.0, "trivial": t, "trivial_load": 2.0,
             "overview.run": 1.0, "overview.after": o - 1.0, "overview.request": 0.25}
            for o, t in zip(overview, trivial)]


def test_table_first_pass_apart_warm_median_min_max_and_ratios():
    # the first pass (cold) is not in the warm figures
    results = {"demo": _passes([9.0, 2.0, 2.6, 2.4], [1.5, 2.0, 2.0, 2.0]),
               "large": _passes([20.0, 4.0], [2.0, 2.0])}
    lines = B.table(results)
    assert lines[0] == "| store | step | first pass | median | min | max |"
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): line
            for line in lines[2:]}
    assert rows[("demo", "sign-in → Overview drawn")].endswith(
        "| 9.00 s | 2.40 s | 2.00 s | 2.60 s |")
    assert rows[("demo", "sign-in → Overview first screen")].endswith(
        "| 8.50 s | 1.90 s | 1.50 s | 2.10 s |")
    assert "| 6.00x | 1.20x | met: aim ≤ 1.3x |" in rows[("demo", "**Overview / trivial click**")]
    assert "| 10.00x | 2.00x | missed: aim ≤ 1.3x |" in rows[
        ("large", "**Overview / trivial click**")]
    assert "| 4.50x | 1.20x |" in rows[("demo", "**Overview / trivial page load**")]
    assert len(lines) == 2 + 2 * (len(B.STEPS) + len(B.RATIOS))


def test_table_without_warm_passes_shows_dashes():
    lines = B.table({"demo": _passes([9.0], [1.5])})
    assert "| demo | sign-in → Overview drawn | 9.00 s | — | — | — |" in lines
    assert any("**Overview / trivial click** | 6.00x | — |" in line for line in lines)


def test_breakdown_medians_of_the_parts():
    lines = B.breakdown({"demo": _passes([9.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 2.0])})
    assert lines[2] == ("| demo | sign-in → Overview drawn | 0.25 s | 1.00 s | 3.00 s | "
                        "2.00 s |")
    # a rerun (a tab opened) has no page load; a step without a visible run, no parts
    assert lines[3] == ("| demo | “What falls due” tab → its charts drawn | — | 0.50 s | "
                        "0.75 s | 0.25 s |")
    assert lines[4] == "| demo | clause bar → Findings drawn | — | — | 1.00 s | — |"
    assert len(lines) == 2 + len([k for k, _ in B.STEPS if "." not in k])


def test_the_overview_steps_wait_for_the_charts_of_the_open_tab():
    # read from dashboard.dashboards.OVERVIEW_TABS, the list pages/overview.py draws from
    assert B.FIRST_TAB == "Scores" and B.OVERVIEW_CHARTS == 2
    assert B.OVERVIEW_TABS[B.OTHER_TAB] == ("chart_due",)

"""Time the app as a person sees it: Chromium, from a click to the page drawn, next to a
trivial one-chart Streamlit page measured the same way in the same run.

    .venv/bin/python -m bench.bench_browser [--db PATH] [--demo] [--repeat N]
                                            [--timeout S] [--out FILE]

The stores: ``--demo`` (the default when no ``--db`` is given) builds a demo store in a
temporary directory with the commands ``make run`` uses (``init``, ``seed --scale demo``,
``user demo-accounts``, through ``tests/browser/conftest.py``'s helper) and serves it with
the browser tests' frozen clock; ``--db`` serves a store made by ``python -m dashboard seed
--scale large`` (bench/run.py's bench/out/large.duckdb) with its clock frozen at the
moment it was seeded (its ``store.seed`` audit entry, as ``bench_pages``). The bench adds
the demo accounts to that store (``user demo-accounts``: nothing if they exist; refused,
and the bench stops, when the store holds any other account) and writes to it what the app
writes when a DPO signs in and opens the Overview (sign-ins, audit entries, the day's
snapshot).

Each store is served by ``streamlit run server.py`` (``tests/serving.py``, as the browser
tests serve it: a free localhost port, no file watcher), and ``bench/trivial_app.py`` by
``streamlit run`` with the same flags on its own port. Debian's Chromium (headless, the
browser tests' flags), driven by Playwright, makes ``1 + --repeat`` passes per store in
one browser context (1400x1000, Asia/Shanghai): from the second pass on, the browser's
cache is warm. Cookies are cleared before each pass, so each signs in afresh, and every
step starts in a new tab (a new Streamlit session, no script loaded yet). A pass times:

1. **sign-in → Overview**: the sign-in page with the DPO's username and password filled
   in; from the click on "Sign in" to the Overview drawn. The click's rerun checks the
   password, then the browser goes through ``/session/start`` (which sets the cookie) to
   the Overview: a page load. The Overview draws its KPI cards and its first tab
   ("Scores": the article and clause charts) only;
2. **tab**: on that Overview, from a click on the tab "What falls due" to its charts
   drawn (a rerun that reads and sends that tab only; Plotly's code is loaded already).
   Then back to "Scores", untimed;
3. **drill-down**: on that Overview, from a click on the lowest bar of "Compliance score
   per policy clause" (scrolled into view first) to the Findings page, filtered to that
   clause, drawn (the Overview reruns with the selection, then switches page);
4. **trivial, page load**: from asking for ``trivial_app.py?chart=1`` to its chart drawn;
5. **trivial, click**: on ``trivial_app.py``'s sign-in-like form, from the click on
   "Sign in" to its one chart drawn (a rerun, no page load).

**Drawn** is one test, evaluated in the page at every animation frame
(``wait_for_function``, ``polling="raf"``), the same for every step:

- Streamlit has finished the run: ``stApp``'s ``data-test-script-state`` is
  ``notRunning`` (what the browser tests' ``wait_for_app`` waits for), at the step's page
  (the address's path);
- nothing in the main area is stale (left from the previous page or run) or still a
  placeholder (``stSkeleton``: an element whose code is loading, such as Plotly's 4.7 MB
  bundle, fetched on the first chart a tab shows);
- every Plotly chart in the main area is drawn: its ``.main-svg`` and its marks (bars,
  scatter points or lines; a chart without data counts once Plotly has laid it out), and
  there are at least as many as the page has (the Overview's open tab's, as
  ``dashboard.dashboards.OVERVIEW_TABS`` lists them: 2 on a first visit; Findings 0;
  trivial 1), among them the charts the step waits for by key (the open tab's);
- every table (``st.dataframe``) in the main area has its canvas.

**First screen** is the same test for what the 1400x1000 window shows only, with at least
one chart drawn there when the page has charts: on the Overview, the two charts of the
"Scores" tab, whose tops show under the KPI cards. The time stops when Playwright sees
the test true, a few milliseconds after the frame.

Reported per store and step: the first pass (a fresh server process, a cold browser
cache: the Overview's first render includes the engine's evaluation of every rule and the
day's snapshot) and the median, min and max of the ``--repeat`` (default 5) warm passes;
the ratios Overview / trivial click (the issue's aim: 1.3x) and Overview / trivial page
load, of the medians and of the first passes; and where each step's time went (warm
medians): until the browser asked for the new page, until Streamlit's last script run
ended (the moments the page saw, recorded by a script the context adds to every page),
and the drawing after it. Printed with the cores, the load (``/proc/loadavg``) before
and after, Chromium's and Streamlit's versions and the stores' sizes; the tables go to
standard output and to ``bench/out/browser.md``, the servers' logs to
``bench/out/browser-*.log``. Never a timed assertion: figures are for reading, and depend
on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from bench.common import cores
from dashboard.dashboards import OVERVIEW_TABS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TRIVIAL_APP = "bench/trivial_app.py"
VIEWPORT = {"width": 1400, "height": 1000}
AIM_RATIO = 1.3
DPO = ("dpo", "dpo-demo-password")          # dashboard.accounts.DEMO_ACCOUNTS
FIRST_TAB = next(iter(OVERVIEW_TABS))         # open on a first visit (pages/overview.py)
OVERVIEW_CHARTS = len(OVERVIEW_TABS[FIRST_TAB])
OTHER_TAB = "What falls due"                  # the tab the "tab" step opens

# (key, label) of the timed steps, in the table's order; "x.fold": step x's first screen.
STEPS = (
    ("overview", "sign-in → Overview drawn"),
    ("overview.fold", "sign-in → Overview first screen"),
    ("tab", f"“{OTHER_TAB}” tab → its charts drawn"),
    ("drill", "clause bar → Findings drawn"),
    ("trivial", "trivial: Sign in → its chart drawn"),
    ("trivial_load", "trivial: page load → its chart drawn"),
)
RATIOS = (("overview", "trivial", "Overview / trivial click"),
          ("overview", "trivial_load", "Overview / trivial page load"))

# The page's state, evaluated in the page at every animation frame (see "Drawn" above).
DRAWN_JS = """({path, charts, fold, keys = []}) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (path !== null && location.pathname !== path) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || main.querySelector('[data-stale="true"]')) return false;
  const seen = el => {
    if (!fold) return true;
    const r = el.getBoundingClientRect();
    return r.bottom > 0 && r.top < window.innerHeight;
  };
  if ([...main.querySelectorAll('[data-testid^="stSkeleton"]')].some(seen)) return false;
  const plots = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')];
  const plotted = el => {
    const gd = el.querySelector('.js-plotly-plot');
    if (!gd || !gd._fullLayout || !gd.querySelector('.main-svg')) return false;
    if (gd.querySelector('.bars .point path, .scatterlayer .points path, '
                        + '.scatterlayer .js-line')) return true;
    return (gd._fullData || []).every(t => t.visible !== true || !t._length);
  };
  const shown = plots.filter(seen);
  if (fold ? (charts > 0 && shown.length === 0) : plots.length < charts) return false;
  const keyed = k => main.querySelector(`.st-key-${k} [data-testid="stPlotlyChart"]`);
  if (!fold && !keys.every(keyed)) return false;
  if (!shown.every(plotted)) return false;
  const tables = [...main.querySelectorAll('[data-testid="stDataFrame"]')].filter(seen);
  return tables.every(t => t.querySelector('canvas') !== null);
}"""


@dataclass
class Store:
    name: str
    path: Path
    now: str                 # the served app's frozen clock
    size_mb: float = 0.0
    records: int = 0         # retention records


# -- figures (pure) -----------------------------------------------------------------------------
def summary(values: Sequence[float]) -> dict[str, float] | None:
    """Median, min and max of some timings; None when there are none."""
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _cell(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:.2f}{unit}"


def _median(passes: Sequence[dict[str, float]], key: str) -> float | None:
    s = summary([p[key] for p in passes if key in p])
    return s["median"] if s else None


def table(results: dict[str, list[dict[str, float]]]) -> list[str]:
    """The Markdown table: per store, a row per step (the first pass, then the median, min
    and max of the warm passes) and the ratios of the Overview to the trivial page (of the
    medians; of the first passes). ``results[store name]`` is the store's passes, the
    first one cold, each a dict step key -> seconds."""
    cols = ("store", "step", "first pass", "median", "min", "max")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, passes in results.items():
        first, warm = (passes[0] if passes else {}), passes[1:]
        for key, label in STEPS:
            s = summary([p[key] for p in warm if key in p])
            lines.append(f"| {name} | {label} | {_cell(first.get(key), ' s')} | "
                         + " | ".join(_cell(s[k] if s else None, " s")
                                      for k in ("median", "min", "max")) + " |")
        for num, den, label in RATIOS:
            warm_ratio = ratio(_median(warm, num), _median(warm, den))
            aim = "" if den != "trivial" or warm_ratio is None else (
                f"{'met' if warm_ratio <= AIM_RATIO else 'missed'}: aim ≤ {AIM_RATIO:g}x")
            lines.append(f"| {name} | **{label}** | "
                         f"{_cell(ratio(first.get(num), first.get(den)), 'x')} | "
                         f"{_cell(warm_ratio, 'x')} | {aim} | |")
    return lines


def breakdown(results: dict[str, list[dict[str, float]]]) -> list[str]:
    """Where the time of each step went, medians of the warm passes: until the browser
    asked for the new page (steps that load one), until Streamlit's last script run ended,
    the page drawn, and the drawing after that run (``key.request``, ``key.run``, ``key``,
    ``key.after``)."""
    cols = ("store", "step", "new page asked for", "script run ended", "drawn",
            "drawing after the run")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, passes in results.items():
        warm = passes[1:]
        for key, label in STEPS:
            if "." in key:
                continue
            cells = (_median(warm, k) for k in
                     (f"{key}.request", f"{key}.run", key, f"{key}.after"))
            lines.append(f"| {name} | {label} | "
                         + " | ".join(_cell(c, " s") for c in cells) + " |")
    return lines


# -- the browser ---------------------------------------------------------------------------------
# In every document the context opens: the moments (epoch ms) at which Streamlit's script
# state changes, to tell the server's run from the drawing after it.
STATE_LOG_JS = """(() => {
  const log = window.__benchStates = [];
  const now = () => performance.timeOrigin + performance.now();
  const watch = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return false;
    let last = null;
    const note = () => {
      const state = app.getAttribute('data-test-script-state');
      if (state !== last) { log.push([state, now()]); last = state; }
    };
    note();
    new MutationObserver(note).observe(app, {attributes: true,
                                             attributeFilter: ['data-test-script-state']});
    return true;
  };
  const look = new MutationObserver(() => { if (watch()) look.disconnect(); });
  look.observe(document, {childList: true, subtree: true});
})();"""


def wait_drawn(pg, *, path: str | None, charts: int, fold: bool = False,
               keys: Sequence[str] = (), timeout: float = 60) -> float:
    """Wait until the page is drawn (or its first screen, ``fold``); return the moment
    (``time.perf_counter``). A navigation under way (the sign-in's page load) destroys the
    page's context: the wait starts again in the new document."""
    from playwright.sync_api import Error
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"page not drawn within {timeout:g} s: {pg.url}")
        try:
            pg.wait_for_function(DRAWN_JS, arg={"path": path, "charts": charts, "fold": fold,
                                                "keys": list(keys)},
                                 polling="raf", timeout=left * 1000)
            return time.perf_counter()
        except Error as exc:
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise


def timed(pg, key: str, act: Callable[[], object], *, path: str, charts: int,
          timeout: float, fold: bool = False, keys: Sequence[str] = ()) -> dict[str, float]:
    """Time ``act`` (a click, a page asked for) to the page drawn, in seconds: ``key``,
    ``key.fold`` (the first screen, with ``fold``), and where the time went:
    ``key.request`` (when the new page was asked for, for a step that loads one),
    ``key.run`` (when Streamlit's last script run ended) and ``key.after`` (the drawing
    after that run)."""
    out: dict[str, float] = {}
    wall, t0 = time.time(), time.perf_counter()
    act()
    if fold:
        out[f"{key}.fold"] = wait_drawn(pg, path=path, charts=charts, fold=True,
                                        timeout=timeout) - t0
    out[key] = wait_drawn(pg, path=path, charts=charts, keys=keys, timeout=timeout) - t0
    origin, states = pg.evaluate("() => [performance.timeOrigin, window.__benchStates || []]")
    if origin / 1000 > wall:
        out[f"{key}.request"] = origin / 1000 - wall
    # The last run that ended between the act and the page drawn. A rerun too quick to
    # show "running" leaves no mark: then the run's end is unknown.
    ends = [at for state, at in states
            if state == "notRunning" and wall < at / 1000 <= wall + out[key]]
    if ends:
        out[f"{key}.run"] = ends[-1] / 1000 - wall
        out[f"{key}.after"] = out[key] - out[f"{key}.run"]
    return out


def wait_idle(pg) -> None:
    """Streamlit has finished running the script (tests/browser/conftest.py)."""
    _helpers()[1].wait_for_app(pg)


def fill_sign_in(pg, base: str) -> None:
    """Open ``base`` and fill the DPO's name and password (the app's sign-in and the
    trivial page's look-alike form have the same fields); the click is the timed step."""
    pg.goto(base)
    pg.get_by_role("textbox", name="Username").fill(DPO[0])
    pg.get_by_label("Password", exact=True).fill(DPO[1])
    wait_idle(pg)


def app_pass(context, base: str, timeout: float, notes: list[str]) -> dict[str, float]:
    """Sign in as the DPO (the Overview opens), open another of its tabs and come back,
    then drill down from its clause chart."""
    out: dict[str, float] = {}
    context.clear_cookies()                     # sign in afresh; the browser cache stays
    pg = context.new_page()
    try:
        fill_sign_in(pg, base)
        out |= timed(pg, "overview", pg.get_by_role("button", name="Sign in").click,
                     path="/", charts=OVERVIEW_CHARTS, keys=OVERVIEW_TABS[FIRST_TAB],
                     timeout=timeout, fold=True)
        main = pg.get_by_test_id("stMain")
        if not main.get_by_role("heading", name="Compliance overview").is_visible():
            raise RuntimeError(f"the Overview did not open after the sign-in: {pg.url}")
        n = main.get_by_test_id("stPlotlyChart").count()
        if n != OVERVIEW_CHARTS:
            notes.append(f"the Overview showed {n} charts, not {OVERVIEW_CHARTS}")

        keys = OVERVIEW_TABS[OTHER_TAB]
        out |= timed(pg, "tab", main.get_by_role("tab", name=OTHER_TAB, exact=True).click,
                     path="/", charts=len(keys), keys=keys, timeout=timeout)
        if "tab=" not in pg.url:
            notes.append(f"the tab {OTHER_TAB!r} is not in the address: {pg.url}")
        main.get_by_role("tab", name=FIRST_TAB, exact=True).click()
        wait_drawn(pg, path="/", charts=OVERVIEW_CHARTS, keys=OVERVIEW_TABS[FIRST_TAB],
                   timeout=timeout)

        bars = pg.locator(".st-key-chart_clause .bars .point")
        values = [float(bars.nth(i).text_content().split()[0]) for i in range(bars.count())]
        bar = bars.nth(values.index(min(values)))
        bar.scroll_into_view_if_needed()
        wait_idle(pg)
        box = bar.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        out |= timed(pg, "drill", lambda: pg.mouse.click(x, y), path="/findings", charts=0,
                     timeout=timeout)
        if "clause=" not in pg.url:
            notes.append(f"the drill-down opened {pg.url}, without a clause filter")
    finally:
        pg.close()
    return out


def trivial_pass(context, base: str, timeout: float) -> dict[str, float]:
    """The trivial page, each step in a new tab: a page load to its chart, then its form's
    click to its chart (a new tab has not loaded Plotly's code yet, as the Overview's)."""
    out: dict[str, float] = {}
    pg = context.new_page()
    try:
        out |= timed(pg, "trivial_load", lambda: pg.goto(f"{base}/?chart=1",
                                                         wait_until="commit"),
                     path="/", charts=1, timeout=timeout)
    finally:
        pg.close()
    pg = context.new_page()
    try:
        fill_sign_in(pg, base)
        out |= timed(pg, "trivial", pg.get_by_role("button", name="Sign in").click,
                     path="/", charts=1, timeout=timeout)
    finally:
        pg.close()
    return out


# -- the run -------------------------------------------------------------------------------------
def _helpers():
    """The browser tests' helpers: tests/serving.py is imported as ``serving`` there (pytest
    puts tests/ on the path), and tests/browser/conftest.py as ``browser.conftest``."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import serving
    from browser import conftest
    return serving, conftest


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _sizes(store: Store) -> None:
    import duckdb
    files = [store.path, store.path.with_name(store.path.name + ".wal")]
    store.size_mb = sum(f.stat().st_size for f in files if f.exists()) / 2**20
    con = duckdb.connect(str(store.path), read_only=True)
    try:
        store.records = con.execute("SELECT count(*) FROM retention_records").fetchone()[0]
    finally:
        con.close()


def measure(browser, store: Store, trivial_base: str, repeat: int, timeout: float,
            served: Callable, notes: list[str]) -> list[dict[str, float]]:
    """1 + ``repeat`` passes on one store, in a new browser context (the first pass with a
    cold cache, the others warm). A pass that fails is noted, and left out (empty)."""
    env = {"COMPLIANCE_DB": str(store.path), "COMPLIANCE_FROZEN_NOW": store.now}
    passes: list[dict[str, float]] = []
    with served("server.py", env=env, log=OUT / f"browser-{store.name}.log") as app:
        context = browser.new_context(viewport=VIEWPORT, timezone_id="Asia/Shanghai")
        context.set_default_timeout(timeout * 1000)
        context.add_init_script(STATE_LOG_JS)
        try:
            for i in range(1 + repeat):
                result: dict[str, float] = {}
                try:
                    result |= app_pass(context, app.base, timeout, notes)
                    result |= trivial_pass(context, trivial_base, timeout)
                except Exception as exc:            # noted; the other passes go on
                    notes.append(f"{store.name} pass {i + 1} failed: "
                                 f"{' '.join(str(exc).split())[:200]}")
                passes.append(result)
                print(f"  {store.name} pass {i + 1}{' (first)' if i == 0 else ''}: "
                      + ", ".join(f"{k} {v:.2f}" for k, v in result.items() if "." not in k)
                      + f"; load {_load()}", flush=True)
        finally:
            context.close()
    return passes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_browser", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="a large store (python -m dashboard seed --scale large)")
    ap.add_argument("--demo", action="store_true",
                    help="also a demo store built in a temporary directory (the default "
                         "without --db)")
    ap.add_argument("--repeat", type=int, default=5, help="warm passes per store (default 5)")
    ap.add_argument("--timeout", type=float, default=180,
                    help="seconds a step may take before the bench gives up (default 180)")
    ap.add_argument("--out", default=str(OUT / "browser.md"), help="the Markdown table's file")
    args = ap.parse_args(argv)
    serving, conftest = _helpers()
    from playwright.sync_api import sync_playwright

    from bench.bench_pages import _default_now
    if not Path(conftest.CHROMIUM).exists():
        ap.error(f"no Chromium at {conftest.CHROMIUM}: `make chromium` installs Debian's")
    OUT.mkdir(parents=True, exist_ok=True)
    load_before = _load()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        stores: list[Store] = []
        if args.demo or not args.db:
            db = Path(tmp) / "demo.duckdb"
            started = time.perf_counter()
            conftest._cli(db, "init")
            conftest._cli(db, "seed", "--scale", "demo", "--as-of", conftest.AS_OF)
            conftest._cli(db, "user", "demo-accounts")
            print(f"demo store built in {time.perf_counter() - started:.1f} s", flush=True)
            stores.append(Store("demo", db, conftest.FROZEN_NOW))
        if args.db:
            db = Path(args.db)
            if not db.exists():
                ap.error(f"no store at {db}: `python -m dashboard --db {db} init`, then "
                         "`seed --scale large`")
            try:
                conftest._cli(db, "user", "demo-accounts")
            except RuntimeError as exc:
                raise SystemExit(f"bench_browser: {exc}") from None
            stores.append(Store("large" if "large" in db.name else db.stem, db,
                                _default_now(db)))
        for store in stores:
            _sizes(store)
        with serving.served(TRIVIAL_APP, env={}, log=OUT / "browser-trivial.log") as trivial, \
                sync_playwright() as p:
            browser = p.chromium.launch(executable_path=conftest.CHROMIUM,
                                        args=conftest.CHROMIUM_FLAGS)
            import streamlit
            header = (
                f"Browser benchmark: cores {cores()}; load {load_before} before the run; "
                f"Chromium {browser.version} (headless, Playwright), Streamlit "
                f"{streamlit.__version__}; window {VIEWPORT['width']}x{VIEWPORT['height']}\n"
                "stores: " + "; ".join(
                    f"{s.name} {s.size_mb:,.0f} MiB, {s.records:,} retention records, "
                    f"clock {s.now}" for s in stores) + "\n"
                f"first pass = fresh server, cold browser cache; then {args.repeat} warm "
                "passes (median, min, max); times in seconds from the click (or the "
                "address asked for) to the page drawn (bench/bench_browser.py)")
            print(header + "\n", flush=True)
            results: dict[str, list[dict[str, float]]] = {}
            try:
                for store in stores:
                    results[store.name] = measure(browser, store, trivial.base, args.repeat,
                                                  args.timeout, serving.served, notes)
            finally:
                browser.close()
    load_after = _load()
    text = (f"load {load_after} after the run\n\n" + "\n".join(table(results))
            + "\n\nWhere the time went (medians of the warm passes, seconds from the "
              "click):\n\n" + "\n".join(breakdown(results)) + "\n"
            + ("\nNotes:\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes)) + "\n"
               if notes else ""))
    print("\n" + text, end="")
    text = header + "\n" + text
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"\ntable written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Render every page server-side (AppTest) beside the same page's queries in raw DuckDB.

    .venv/bin/python -m bench.bench_pages [--db PATH] [--now ISO] [--pages a,b] [--repeat N]
                                          [--profile PAGE] [--out FILE]

Run it on a store made by ``python -m dashboard seed --scale large`` (10,000,000 retention
records, 100,000 incidents, 50,000 agreements, 10,000 processors). For each page (as a
DPO; the Users page as an administrator) it measures, each in a fresh process:

- **app cold**: the first render of the page in a process that has imported everything
  but not opened the store: opening the store, every query (the compliance engine's
  evaluation of all rules included), Streamlit's script run, the charts and tables;
- **app warm**: the page rendered again (median of ``--repeat``), as a user changing a
  widget or another user opening it sees it: Streamlit's data cache and the engine's
  evaluation are kept, keyed by the store's data version;
- **raw cold / warm**: every SQL statement the page's cold render sent to DuckDB, with the
  same parameters, replayed in order on a plain ``duckdb.connect`` to the same file and
  fetched, in a fresh process (cold), then again on that connection (warm, median) -
  the engine's in-memory results database included, so the raw side redoes the rule
  evaluation as the app's first render did;
- the ratios app / raw. "Raw warm" repeats the queries; "app warm" serves them from its
  caches, so the warm ratio can be far below 1.

Before measuring, the as-of day's compliance snapshot is stored if missing or stale (as
``check`` does), so that the Overview opened by a DPO reads and does not write. ``--now``
is the app's frozen clock (default: the moment the store was seeded, from its
``store.seed`` audit entry; else ``COMPLIANCE_FROZEN_NOW``; else the real time). With
``--tick`` the Overview and Findings are also rendered one minute later in the same process
(the engine's evaluation is keyed to the minute). Never a timed assertion: figures are for
reading, and depend on the machine (its cores are printed with the table).

The table goes to standard output and to ``bench/out/pages.md``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import cores

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
AIM_COLD, AIM_WARM, AIM_RATIO = 2.0, 1.0, 1.5


@dataclass(frozen=True)
class PageRun:
    label: str
    page: str                       # key of dashboard.navigation.PAGE_BY_KEY
    role: str = "dpo"
    query: dict = field(default_factory=dict)


def page_runs(ctx: dict[str, str]) -> list[PageRun]:
    """Every page a DPO opens (the Users page as an administrator), and the drill-downs."""
    runs = [
        PageRun("Overview", "overview"),
        PageRun("Findings", "findings"),
        PageRun("Findings: rule filter, finding open", "findings",
                query={"rule": ctx["rule"], "finding": ctx["finding"]}),
        PageRun("Findings: due within 7 days", "findings",
                query={"view": "Due soon", "within": "7"}),
        PageRun("Processors", "processors"),
        PageRun("Sharing agreements", "sharing"),
        PageRun("Retention", "retention"),
        PageRun("Incidents", "incidents"),
        PageRun("Incident", "incident", query={"id": ctx["incident"]} if ctx["incident"]
                else {}),
        PageRun("Log an incident", "log_incident"),
        PageRun("Exports", "exports"),
        PageRun("Audit log", "audit_log"),
        PageRun("Import", "import"),
        PageRun("Policy", "policy"),
        PageRun("Settings", "settings"),
        PageRun("Users", "users", role="admin"),
    ]
    return runs




# -- the app worker: AppTest, with every statement recorded -----------------------------

class _Recording:
    """A DuckDB cursor that records each statement it runs (SQL, parameters)."""

    def __init__(self, cur, log: list):
        self._cur = cur
        self._log = log

    def execute(self, sql, params=None):
        self._log.append(("execute", sql, params))
        if params is None:
            self._cur.execute(sql)
        else:
            self._cur.execute(sql, params)
        return self

    def executemany(self, sql, params):
        params = list(params)
        self._log.append(("executemany", sql, params))
        self._cur.executemany(sql, params)
        return self

    def register(self, view_name, python_object):
        self._log.append(("register", view_name, python_object))
        self._cur.register(view_name, python_object)
        return self

    def unregister(self, view_name):
        self._log.append(("unregister", view_name, None))
        self._cur.unregister(view_name)
        return self

    def __getattr__(self, name):
        return getattr(self._cur, name)


def _install_recorder(log: list) -> None:
    from dashboard.store import Store
    original = Store.cursor

    @contextmanager
    def cursor(self):
        with original(self) as cur:
            yield _Recording(cur, log)

    Store.cursor = cursor


def _import_everything() -> None:
    """Import what the pages import, so that the cold run does not time Python imports."""
    import importlib
    import pkgutil

    import dashboard
    for mod in pkgutil.iter_modules(dashboard.__path__):
        if mod.name != "__main__":
            importlib.import_module(f"dashboard.{mod.name}")
    import plotly.graph_objects  # noqa: F401
    import streamlit.testing.v1  # noqa: F401


def _profile_script_thread():
    """Profile the script's own thread (AppTest runs the page on a thread of its own)."""
    import cProfile

    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
    profiler = cProfile.Profile()
    original = ScriptRunner._run_script

    def run_script(self, rerun_data):
        profiler.enable()
        try:
            return original(self, rerun_data)
        finally:
            profiler.disable()

    ScriptRunner._run_script = run_script
    profiler.original = original
    return profiler


def app_worker(args) -> dict[str, Any]:
    os.environ["COMPLIANCE_DB"] = str(args.db)
    os.environ["COMPLIANCE_FROZEN_NOW"] = args.now
    _import_everything()
    from streamlit.testing.v1 import AppTest

    from dashboard.access import Actor
    from dashboard.navigation import PAGE_BY_KEY

    log: list = []
    _install_recorder(log)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=900)
    at.session_state["actor"] = Actor(f"bench.{args.role}", args.role)
    at.query_params.update(json.loads(args.query))
    at.switch_page(PAGE_BY_KEY[args.page].script)
    # A server scans the installed components once when it starts; AppTest does it on its
    # first run: do it before the clock starts, as a running server has.
    from streamlit.components.v2.component_manager import BidiComponentManager
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    at._bidi_component_manager = components
    profiler = None
    if args.profile:
        profiler = _profile_script_thread()
    started = time.perf_counter()
    at.run()
    cold = time.perf_counter() - started
    if profiler is not None:
        from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
        ScriptRunner._run_script = profiler.original
    problems = [e.value for e in at.exception]
    statements = list(log)
    log.clear()
    warm = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - started)
    warm_statements = len(log) / max(args.repeat, 1)
    tick = None
    if args.tick:
        later = dt.datetime.fromisoformat(args.now) + dt.timedelta(minutes=1)
        os.environ["COMPLIANCE_FROZEN_NOW"] = later.isoformat()
        started = time.perf_counter()
        at.run()
        tick = time.perf_counter() - started
    with open(args.capture, "wb") as fh:
        pickle.dump(statements, fh)
    out = {"cold": cold, "warm": statistics.median(warm) if warm else None,
           "statements": len(statements), "warm_statements": warm_statements,
           "tick": tick, "problems": problems,
           "title": at.title[0].value if len(at.title) else ""}
    if profiler is not None:
        import io
        import pstats
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
        out["profile"] = text.getvalue()
    return out


# -- the raw worker: the same statements on a plain connection ---------------------------

def _writes(statements: list) -> list[bool]:
    """Which statements belong to a write transaction (skipped by the replay)."""
    inside, marks = False, []
    for kind, sql, _params in statements:
        head = sql.strip().upper() if kind in ("execute", "executemany") else ""
        if head.startswith("BEGIN"):
            inside = True
        marks.append(inside)
        if head.startswith(("COMMIT", "ROLLBACK")):
            inside = False
    return marks


def _replay(cur, statements: list, skip: list[bool], timings: list | None = None) -> float:
    started = time.perf_counter()
    for (kind, sql, params), skipped in zip(statements, skip):
        if skipped:
            continue
        t0 = time.perf_counter()
        if kind == "executemany":
            cur.executemany(sql, params)
        elif kind == "register":
            cur.register(sql, params)
        elif kind == "unregister":
            cur.unregister(sql)
        else:
            result = cur.execute(sql) if params is None else cur.execute(sql, params)
            if result.description is not None:
                result.fetchall()
        if timings is not None:
            timings.append((time.perf_counter() - t0, sql))
    return time.perf_counter() - started


def raw_worker(args) -> dict[str, Any]:
    import duckdb

    from dashboard.engine import CACHE_DB
    from dashboard.settings import load_settings
    with open(args.capture, "rb") as fh:
        statements = pickle.load(fh)
    skip = _writes(statements)
    timezone = load_settings().timezone
    timings: list = []
    started = time.perf_counter()
    con = duckdb.connect(str(args.db))
    cur = con.cursor()
    cur.execute(f"SET TimeZone = '{timezone}'")
    _replay(cur, statements, skip, timings)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(args.repeat):
        cur.execute(f"DETACH DATABASE IF EXISTS {CACHE_DB}")   # start as the app's first run
        warm.append(_replay(cur, statements, skip))
    con.close()
    slowest = sorted(timings, key=lambda t: -t[0])[:3]
    return {"cold": cold, "warm": statistics.median(warm) if warm else None,
            "skipped": sum(skip),
            "slowest": [(round(s, 3), " ".join(sql.split())[:110]) for s, sql in slowest]}


# -- the parent ------------------------------------------------------------------------------

def _default_now(path: Path) -> str:
    import duckdb
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT values_after FROM audit_log WHERE action = 'store.seed' "
                          "ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        con.close()
    if row and row[0]:
        moment = json.loads(row[0]).get("moment")
        if moment:
            return moment
    env = os.environ.get("COMPLIANCE_FROZEN_NOW")
    if env:
        return env
    from zoneinfo import ZoneInfo

    from dashboard.settings import load_settings
    return dt.datetime.now(ZoneInfo(load_settings().timezone)).replace(
        second=0, microsecond=0).isoformat()


def prepare(path: Path, now: str) -> dict[str, Any]:
    """Store the day's snapshot if missing or stale; pick a finding and an incident for
    the drill-down pages; the registers' sizes and DuckDB's threads."""
    import duckdb

    from dashboard import dashboards, engine
    from dashboard.access import cli_actor
    from dashboard.store import Store, StoreError
    moment = dt.datetime.fromisoformat(now)
    store = Store(path, clock=lambda: moment)
    try:
        try:
            store.require_current()
        except StoreError as exc:
            raise SystemExit(f"bench_pages: {exc}") from None
        as_of = engine.current_as_of(store)
        started = time.perf_counter()
        summary = engine.check_summary(store, as_of)
        evaluation = time.perf_counter() - started
        state = dashboards.snapshot_state(store, as_of=as_of)
        if state != "fresh":
            engine.save_snapshot(store, cli_actor(), summary)
        first = engine.findings_page(store, as_of, rule_id="PROC-PIA", limit=1)
        if first.empty:
            first = engine.findings_page(store, as_of, limit=1)
        incident = store.scalar("SELECT incident_id FROM incidents ORDER BY detected_at DESC "
                                "LIMIT 1")
        sizes = {t: store.scalar(f"SELECT count(*) FROM {t}")     # literal table names
                 for t in ("processors", "sharing_agreements", "retention_records",
                           "incidents", "incident_events", "audit_log")}
        threads = store.scalar("SELECT current_setting('threads')")
    finally:
        store.close()
    rule = first["rule_id"].iloc[0] if not first.empty else "PROC-PIA"
    entity = first["entity_id"].iloc[0] if not first.empty else ""
    return {"rule": rule, "finding": f"{rule}:{entity}", "incident": incident or "",
            "sizes": sizes, "threads": threads, "snapshot": state,
            "findings": summary.finding_total, "evaluation": evaluation,
            "duckdb": duckdb.__version__}


def _worker(kind: str, args, run: PageRun, capture: Path, tick: bool = False,
            profile: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_pages", "--worker", kind, "--db", str(args.db),
           "--now", args.now, "--page", run.page, "--role", run.role,
           "--query", json.dumps(run.query), "--capture", str(capture),
           "--repeat", str(args.repeat)]
    if tick:
        cmd.append("--tick")
    if profile:
        cmd += ["--profile", run.page]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or not b else f"{a / b:.2f}x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_pages", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="the store (default: $COMPLIANCE_DB or data/compliance.duckdb)")
    ap.add_argument("--now", help="the app's frozen clock, ISO 8601 with an offset "
                                  "(default: when the store was seeded)")
    ap.add_argument("--pages", help="comma-separated page keys (default: all)")
    ap.add_argument("--repeat", type=int, default=5, help="warm runs (the median is shown)")
    ap.add_argument("--cold", type=int, default=3,
                    help="cold runs, each in fresh processes (the median is shown)")
    ap.add_argument("--tick", action="store_true",
                    help="also render Overview and Findings one minute later")
    ap.add_argument("--profile", metavar="PAGE",
                    help="print a cProfile of this page's cold render (a page key)")
    ap.add_argument("--out", default=str(OUT / "pages.md"), help="the Markdown table's file")
    # internal: one measurement in a fresh process
    ap.add_argument("--worker", choices=("app", "raw"), help=argparse.SUPPRESS)
    ap.add_argument("--page", help=argparse.SUPPRESS)
    ap.add_argument("--role", default="dpo", help=argparse.SUPPRESS)
    ap.add_argument("--query", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--capture", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from dashboard.store import default_db_path
    args.db = default_db_path(args.db)
    if not args.db.exists():
        ap.error(f"no store at {args.db}: run `python -m dashboard --db {args.db} init` and "
                 "`python -m dashboard --db ... seed --scale large` first")
    if args.worker:
        result = app_worker(args) if args.worker == "app" else raw_worker(args)
        print(json.dumps(result, default=str))
        return 0

    args.now = args.now or _default_now(args.db)
    ctx = prepare(args.db, args.now)
    wanted = set(args.pages.split(",")) if args.pages else None
    runs = [r for r in page_runs(ctx) if wanted is None or r.page in wanted]
    header = (f"Pages benchmark: cores {cores()}, DuckDB {ctx['duckdb']} with {ctx['threads']} "
              f"threads; store {args.db} ({args.db.stat().st_size / 2**30:.2f} GiB)\n"
              "registers: " + ", ".join(f"{t} {n:,}" for t, n in ctx["sizes"].items()) + "\n"
              f"now {args.now}; {ctx['findings']:,} open findings; snapshot {ctx['snapshot']} "
              f"before the run; engine evaluation in the parent {ctx['evaluation']:.2f} s\n"
              f"cold = median of {args.cold} fresh processes, warm = median of {args.repeat}; "
              f"aim: cold < {AIM_COLD:g} s, warm < {AIM_WARM:g} s, app within {AIM_RATIO:g}x "
              "of raw")
    print(header + "\n", flush=True)
    cols = ("page", "SQL stmts", "app cold s", "raw cold s", "cold ratio", "app warm s",
            "raw warm s", "warm ratio", "aim")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    print(lines[0], flush=True)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        for i, run in enumerate(runs):
            capture = Path(tmp) / f"{i}.pickle"
            tick = args.tick and run.page in ("overview", "findings") and not run.query
            app = _worker("app", args, run, capture, tick=tick,
                          profile=args.profile == run.page and not run.query)
            if "error" in app:
                line = f"| {run.label} | failed: {' '.join(app['error'])[:120]} |"
                lines.append(line)
                print(line, flush=True)
                continue
            raw = _worker("raw", args, run, capture) if app["statements"] else \
                {"cold": None, "warm": None, "slowest": [], "skipped": 0}
            if "error" in raw:
                raw = {"cold": None, "warm": None, "slowest": [], "skipped": 0,
                       "failed": raw["error"]}
            # more cold runs, each in fresh processes: the median is shown
            for _ in range(max(args.cold, 1) - 1):
                again = _worker("app", args, run, capture)
                if "error" not in again:
                    app.setdefault("colds", [app["cold"]]).append(again["cold"])
                if raw["cold"] is not None:
                    again = _worker("raw", args, run, capture)
                    if "error" not in again:
                        raw.setdefault("colds", [raw["cold"]]).append(again["cold"])
            for side in (app, raw):
                if side.get("colds"):
                    side["cold"] = statistics.median(side["colds"])
            missed = [name for name, hit in (
                ("cold", app["cold"] < AIM_COLD), ("warm", app["warm"] < AIM_WARM),
                ("ratio", raw["cold"] is None or app["cold"] <= AIM_RATIO * raw["cold"]))
                if not hit]
            line = (f"| {run.label} | {app['statements']} | {_s(app['cold'])} | "
                    f"{_s(raw['cold'])} | {_ratio(app['cold'], raw['cold'])} | "
                    f"{_s(app['warm'])} | {_s(raw['warm'])} | "
                    f"{_ratio(app['warm'], raw['warm'])} | "
                    f"{'met' if not missed else 'missed: ' + ', '.join(missed)} |")
            lines.append(line)
            print(line, flush=True)
            if app["problems"]:
                notes.append(f"- {run.label}: the page raised {app['problems'][:1]}")
            if raw.get("skipped"):
                notes.append(f"- {run.label}: the render wrote ({raw['skipped']} statements in "
                             "a write transaction, not replayed)")
            if raw.get("failed"):
                notes.append(f"- {run.label}: the raw replay failed: {raw['failed']}")
            if raw.get("slowest"):
                top = "; ".join(f"{s:.2f} s `{sql[:80]}`" for s, sql in raw["slowest"][:2])
                notes.append(f"- {run.label}: slowest raw statements: {top}")
            if app.get("tick") is not None:
                notes.append(f"- {run.label}: one minute later (a new as-of minute: the engine "
                             f"evaluates every rule again): {app['tick']:.2f} s")
            if app.get("profile"):
                print(app["profile"])
    text = (header + "\n\n" + "\n".join(lines) + "\n\n" +
            ("Notes:\n" + "\n".join(notes) + "\n" if notes else ""))
    if notes:
        print("\nNotes:\n" + "\n".join(notes))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"\ntable written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

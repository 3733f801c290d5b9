"""Render every page server-side (AppTest) beside the same page's queries in raw DuckDB.

    .venv/bin/python -m bench.bench_pages [--db PATH] [--now ISO] [--pages a,b] [--repeat N]
                                          [--cold N] [--after-write a,b] [--profile a,b]
                                          [--in-place] [--out FILE]

Run it on a store made by ``python -m dashboard seed --scale large`` (10,000,000 retention
records, 100,000 incidents, 50,000 agreements, 10,000 processors). The store given is
copied first, with its WAL, audit key and chain head, to a temporary folder (``--in-place``:
measure the store itself; the run stores a snapshot and, for the after-write renders,
changes a processor). For each page (as a DPO; the Users page as an administrator) it
measures, each in a fresh process:

- **app cold**: the first render of the page in a process that has imported everything
  but not opened the store: opening the store, every query (the compliance engine's
  evaluation included: on a store with migration 0013 the stored results of
  ``dashboard/stored.py``, current since the run's start unless a deadline passed
  since), Streamlit's script run, the charts and tables;
- **after write**: for the pages of ``--after-write`` (default: overview, findings,
  exports), the first render after a one-row write: in the measuring process, before the
  clock starts, one processor's ``last_assessed_on`` is changed through ``store.write``
  on the same store file (``bench.common.one_row_write``: audited, the tables' versions
  bumped) and the store closed again; then the page is rendered cold as above, so the
  render renews the stored results of the rules that read ``processors``. The rules it
  renewed are listed in the notes;
- **RSS**: the process's peak resident memory (VmHWM of /proc/self/status) after the cold
  render (the largest of the cold and after-write runs); the Overview's after its cold
  renders is also stated against 1 GiB in the notes;
- **app warm**: the page rendered again (median of ``--repeat``), as a user changing a
  widget or another user opening it sees it: Streamlit's data cache and the engine's
  evaluation are kept, keyed by the store's data version;
- **raw cold / warm**: every SQL statement the page's cold render sent to DuckDB, with the
  same parameters, replayed in order on a plain ``duckdb.connect`` to the same file and
  fetched, in a fresh process (cold), then again on that connection (warm, median) -
  the engine's in-memory results database included, so the raw side redoes the rule
  evaluation as the app's first render did (the moment rules, the assembly of the run
  from the stored results, the counts). A transaction that writes to the store (the
  audit log, a snapshot, the stored evaluation's results) is not replayed: the raw side
  only reads;
- the ratios app / raw. "Raw warm" repeats the queries; "app warm" serves them from its
  caches, so the warm ratio can be far below 1.

Before measuring, the stored results are brought up to date for the app's moment and the
as-of day's compliance snapshot is stored if missing or stale (as ``check`` does), so that
the Overview opened by a DPO reads and does not write; after a page's after-write renders
the stored results are brought up to date again, so that the next page's cold render
starts as the first did. The aims are the issue's (15): cold under 1 s (after a write
too), warm under 0.3 s, the app within 1.5x of raw, and the server's resident memory after
the Overview under 1 GiB. The notes give, for each page, how much of its first cold render
was spent in DuckDB's ``execute`` and its slowest statements. ``--now`` is the app's frozen clock (default: the moment the store was seeded, from its
``store.seed`` audit entry; else ``COMPLIANCE_FROZEN_NOW``; else the real time). With
``--tick`` the Overview and Findings are also rendered one minute later in the same process
(the engine's evaluation is keyed to the minute). ``--profile`` prints a cProfile of the
named pages' cold render (and after-write render), from an extra run not counted in the
figures: the page's and the engine's functions by cumulative time, then every function by
its own time. Never a timed assertion: figures are for reading, and depend on the machine
(its cores and load averages are printed with the table).

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

from bench.common import copy_store, cores, load, one_row_write, vm_hwm_mb

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
AIM_COLD, AIM_WARM, AIM_RATIO = 1.0, 0.3, 1.5     # issue 15: seconds, seconds, app / raw
AIM_RSS_MB = 1024                                 # issue 15: after the Overview, large store
AFTER_WRITE = "overview,findings,exports"


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
    """A DuckDB cursor that records each statement it runs (SQL, parameters) and the time
    its ``execute`` took (seconds, SQL) in ``times``."""

    def __init__(self, cur, log: list, times: list):
        self._cur = cur
        self._log = log
        self._times = times

    def execute(self, sql, params=None):
        self._log.append(("execute", sql, params))
        started = time.perf_counter()
        if params is None:
            self._cur.execute(sql)
        else:
            self._cur.execute(sql, params)
        self._times.append((time.perf_counter() - started, sql))
        return self

    def executemany(self, sql, params):
        params = list(params)
        self._log.append(("executemany", sql, params))
        started = time.perf_counter()
        self._cur.executemany(sql, params)
        self._times.append((time.perf_counter() - started, sql))
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


def _install_recorder(log: list, times: list) -> None:
    from dashboard.store import Store
    original = Store.cursor

    @contextmanager
    def cursor(self):
        with original(self) as cur:
            yield _Recording(cur, log, times)

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


def _sql_head(sql: str, width: int = 160) -> str:
    """A statement on one line, its comment lines left out, cut to ``width``."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return " ".join(" ".join(lines).split())[:width]


def _rule_gens(path: Path) -> dict[str, int]:
    """Each stored rule's generation (``evaluation.rule_state``; none before migration
    0013). A connection like the store's: it shares the app's DuckDB instance if open."""
    import duckdb
    con = duckdb.connect(str(path))
    try:
        return dict(con.execute("SELECT rule_id, gen FROM evaluation.rule_state").fetchall())
    except duckdb.Error:
        return {}
    finally:
        con.close()


def _write_one_row(args) -> dict[str, Any]:
    """The one-row write before an after-write render, on the same store file, with the
    app's frozen clock; the store is closed again, so the render opens it as a cold one."""
    from dashboard.store import Store
    moment = dt.datetime.fromisoformat(args.now)
    before = _rule_gens(args.db)
    store = Store(args.db, clock=lambda: moment)
    try:
        started = time.perf_counter()
        processor = one_row_write(store)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return {"processor": processor, "seconds": seconds, "gens": before}


def _profile_text(profiler) -> str:
    import io
    import pstats
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    text.write("-- the page's and the engine's functions, by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(r"(dashboard|pages)/", 35)
    text.write("-- every function, by its own time:\n")
    stats.sort_stats("tottime").print_stats(20)
    return text.getvalue()


def app_worker(args) -> dict[str, Any]:
    os.environ["COMPLIANCE_DB"] = str(args.db)
    os.environ["COMPLIANCE_FROZEN_NOW"] = args.now
    _import_everything()
    from streamlit.testing.v1 import AppTest

    from dashboard.access import Actor
    from dashboard.navigation import PAGE_BY_KEY

    write = _write_one_row(args) if args.write else None
    log: list = []
    times: list = []
    _install_recorder(log, times)
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
    hwm = vm_hwm_mb()
    if profiler is not None:
        from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
        ScriptRunner._run_script = profiler.original
    renewed = None
    if write is not None:
        after = _rule_gens(args.db)
        renewed = sorted(r for r, g in after.items() if write["gens"].get(r) != g)
    problems = [e.value for e in at.exception]
    statements = list(log)
    log.clear()
    cold_times = list(times)
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
           "tick": tick, "problems": problems, "hwm": hwm, "renewed": renewed,
           "sql": sum(t for t, _sql in cold_times),
           "slowest_sql": [(round(t, 3), _sql_head(sql))
                           for t, sql in sorted(cold_times, key=lambda x: -x[0])[:10]],
           "write": None if write is None else {k: write[k] for k in ("processor", "seconds")},
           "title": at.title[0].value if len(at.title) else ""}
    if profiler is not None:
        out["profile"] = _profile_text(profiler)
    return out


# -- the raw worker: the same statements on a plain connection ---------------------------

def _writes(statements: list) -> list[bool]:
    """Which statements the replay skips: those of a transaction that writes to the store
    (a table outside the engine's in-memory database: a register, the audit log, the
    snapshots, the stored evaluation), since the raw side only reads the store. A
    transaction that writes only the in-memory database (the stored evaluation's run: one
    snapshot of the store, BEGIN ... COMMIT) is replayed."""
    from dashboard.engine import CACHE_DB
    from dashboard.store import written_tables
    marks = [False] * len(statements)
    start, writes = None, False
    for i, (kind, sql, _params) in enumerate(statements):
        head = sql.strip().upper() if kind in ("execute", "executemany") else ""
        if head.startswith("BEGIN"):
            start, writes = i, False
        if start is not None and head:
            writes = writes or any(not t.startswith(CACHE_DB + ".")
                                   for t in written_tables(sql))
        if start is not None and head.startswith(("COMMIT", "ROLLBACK")):
            if writes:
                marks[start:i + 1] = [True] * (i + 1 - start)
            start = None
    if start is not None and writes:
        marks[start:] = [True] * (len(statements) - start)
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
            "slowest": [(round(s, 3), _sql_head(sql, 110)) for s, sql in slowest]}


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


def settle(path: Path, now: str) -> tuple[float, list[str]]:
    """Bring the stored results up to date for the app's moment ``now`` (what the first
    page render after a write would otherwise do): the seconds it took (a fresh DuckDB
    instance: the moment rules run) and the stored rules it renewed (none when the last
    render left them current)."""
    from dashboard import engine, stored
    from dashboard.store import Store
    moment = dt.datetime.fromisoformat(now)
    store = Store(path, clock=lambda: moment)
    try:
        gens = (lambda: dict(store.rows("SELECT rule_id, gen FROM evaluation.rule_state"))
                if stored.available(store) else {})
        before = gens()
        started = time.perf_counter()
        engine.check_summary(store, engine.current_as_of(store))
        seconds = time.perf_counter() - started
        return seconds, sorted(r for r, g in gens().items() if before.get(r) != g)
    finally:
        store.close()


def prepare(path: Path, now: str) -> dict[str, Any]:
    """Bring the stored results up to date and store the day's snapshot if missing or
    stale; pick a finding and an incident for the drill-down pages; the registers' sizes
    and DuckDB's threads."""
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
            profile: bool = False, write: bool = False, repeat: int | None = None
            ) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_pages", "--worker", kind, "--db", str(args.db),
           "--now", args.now, "--page", run.page, "--role", run.role,
           "--query", json.dumps(run.query), "--capture", str(capture),
           "--repeat", str(args.repeat if repeat is None else repeat)]
    if tick:
        cmd.append("--tick")
    if profile:
        cmd += ["--profile", run.page]
    if write:
        cmd.append("--write")
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
    ap.add_argument("--after-write", dest="after_write", default=AFTER_WRITE,
                    help="comma-separated page keys also rendered cold after a one-row write "
                         f"(default: {AFTER_WRITE}; 'none': no after-write renders)")
    ap.add_argument("--tick", action="store_true",
                    help="also render Overview and Findings one minute later")
    ap.add_argument("--profile", metavar="PAGES",
                    help="print a cProfile of these pages' cold render (comma-separated page "
                         "keys; an extra run each, not counted)")
    ap.add_argument("--in-place", dest="in_place", action="store_true",
                    help="measure the store given, not a copy (it gets a snapshot and, for "
                         "the after-write renders, processor edits)")
    ap.add_argument("--out", default=str(OUT / "pages.md"), help="the Markdown table's file")
    # internal: one measurement in a fresh process
    ap.add_argument("--worker", choices=("app", "raw"), help=argparse.SUPPRESS)
    ap.add_argument("--page", help=argparse.SUPPRESS)
    ap.add_argument("--role", default="dpo", help=argparse.SUPPRESS)
    ap.add_argument("--query", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--capture", help=argparse.SUPPRESS)
    ap.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
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
    after_write = set() if args.after_write in ("", "none") else set(args.after_write.split(","))
    profiled = set(args.profile.split(",")) if args.profile else set()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        given = args.db
        if not args.in_place:
            args.db = copy_store(given, Path(tmp) / given.name)
        return _measure(args, Path(tmp), given, after_write, profiled)


def _measure(args, tmp: Path, given: Path, after_write: set[str], profiled: set[str]) -> int:
    ctx = prepare(args.db, args.now)
    wanted = set(args.pages.split(",")) if args.pages else None
    runs = [r for r in page_runs(ctx) if wanted is None or r.page in wanted]
    measured = "the store itself" if args.db == given else f"a copy: {args.db}"
    header = (f"Pages benchmark: cores {cores()}, DuckDB {ctx['duckdb']} with {ctx['threads']} "
              f"threads; {load()}\n"
              f"store {given} ({given.stat().st_size / 2**30:.2f} GiB), measured on "
              f"{measured}\n"
              "registers: " + ", ".join(f"{t} {n:,}" for t, n in ctx["sizes"].items()) + "\n"
              f"now {args.now}; {ctx['findings']:,} open findings; snapshot {ctx['snapshot']} "
              f"before the run; engine evaluation in the parent {ctx['evaluation']:.2f} s "
              "(stored results brought up to date)\n"
              f"cold = median of {args.cold} fresh processes, warm = median of {args.repeat}; "
              f"after write = median of {args.cold} fresh processes, each rendering cold after "
              f"a one-row write; RSS = peak resident memory (VmHWM) after the cold render, "
              f"largest of the cold and after-write runs; aim (issue 15): cold and after write < {AIM_COLD:g} "
              f"s, warm < {AIM_WARM:g} s, app within {AIM_RATIO:g}x of raw")
    print(header + "\n", flush=True)
    cols = ("page", "SQL stmts", "app cold s", "raw cold s", "cold ratio", "after write s",
            "app warm s", "raw warm s", "warm ratio", "RSS MiB", "aim")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    print(lines[0], flush=True)
    notes: list[str] = []
    profiles: list[str] = []
    overview_hwm = None
    for i, run in enumerate(runs):
        capture = tmp / f"{i}.pickle"
        tick = args.tick and run.page in ("overview", "findings") and not run.query
        app = _worker("app", args, run, capture, tick=tick)
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
        hwms = [app["hwm"]]
        for _ in range(max(args.cold, 1) - 1):
            again = _worker("app", args, run, capture)
            if "error" not in again:
                app.setdefault("colds", [app["cold"]]).append(again["cold"])
                hwms.append(again["hwm"])
            if raw["cold"] is not None:
                again = _worker("raw", args, run, capture)
                if "error" not in again:
                    raw.setdefault("colds", [raw["cold"]]).append(again["cold"])
        for side in (app, raw):
            if side.get("colds"):
                side["cold"] = statistics.median(side["colds"])
        hwm = max(hwms)
        if run.page == "overview" and not run.query:
            overview_hwm = hwm
        # the first render after a one-row write, cold; then the stored results settled
        written = None
        if run.page in after_write and not run.query:
            writes = [_worker("app", args, run, tmp / f"{i}.write.pickle", write=True,
                              repeat=0) for _ in range(max(args.cold, 1))]
            ok = [w for w in writes if "error" not in w]
            if ok:
                written = statistics.median(w["cold"] for w in ok)
                renewed = sorted({r for w in ok for r in (w["renewed"] or [])})
                notes.append(
                    f"- {run.label}: after a one-row write (processor "
                    f"{ok[0]['write']['processor']}, the write {ok[0]['write']['seconds']:.2f} s, "
                    f"not timed): cold renders {', '.join(format(w['cold'], '.2f') for w in ok)} s; "
                    f"the render renewed {len(renewed)} stored rules: "
                    f"{', '.join(renewed) or 'none'}; in DuckDB's execute "
                    f"{statistics.median(w['sql'] for w in ok):.2f} s (median), slowest: "
                    + "; ".join(f"{t:.2f} s `{q[:90]}`" for t, q in ok[0]["slowest_sql"][:3]))
                hwm = max([hwm] + [w["hwm"] for w in ok])
            for w in writes:
                if "error" in w:
                    notes.append(f"- {run.label}: an after-write render failed: {w['error']}")
            seconds, renewed = settle(args.db, args.now)
            notes.append(f"- {run.label}: stored results settled again in {seconds:.2f} s "
                         f"(a fresh instance in the bench process; renewed: "
                         f"{', '.join(renewed) or 'none'})")
        missed = [name for name, hit in (
            ("cold", app["cold"] < AIM_COLD), ("warm", app["warm"] < AIM_WARM),
            ("after write", written is None or written < AIM_COLD),
            ("ratio", raw["cold"] is None or app["cold"] <= AIM_RATIO * raw["cold"]))
            if not hit]
        line = (f"| {run.label} | {app['statements']} | {_s(app['cold'])} | "
                f"{_s(raw['cold'])} | {_ratio(app['cold'], raw['cold'])} | {_s(written)} | "
                f"{_s(app['warm'])} | {_s(raw['warm'])} | "
                f"{_ratio(app['warm'], raw['warm'])} | {hwm:.0f} | "
                f"{'met' if not missed else 'missed: ' + ', '.join(missed)} |")
        lines.append(line)
        print(line, flush=True)
        notes.append(f"- {run.label}: first cold render {app['colds'][0] if app.get('colds') else app['cold']:.2f} s, "
                     f"of which {app['sql']:.2f} s in DuckDB's execute ({app['statements']} "
                     "statements; the rest: Python, Streamlit, fetching, charts); slowest: "
                     + "; ".join(f"{t:.2f} s `{q[:90]}`" for t, q in app["slowest_sql"][:3]))
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
            notes.append(f"- {run.label}: one minute later (a new as-of minute: the moment "
                         f"rules run again): {app['tick']:.2f} s")
        # profiles: an extra run each, not counted in the figures
        if run.page in profiled and not run.query:
            for write in ((False, True) if run.page in after_write else (False,)):
                prof = _worker("app", args, run, tmp / f"{i}.profile.pickle", profile=True,
                               write=write, repeat=0)
                what = f"{run.label}, {'after a one-row write' if write else 'cold'}"
                if "error" in prof:
                    profiles.append(f"=== profile of {what}: failed {prof['error']}")
                    continue
                slowest = "\n".join(f"  {t:7.3f} s  {q}" for t, q in prof["slowest_sql"])
                profiles.append(f"=== profile of {what} render ({prof['cold']:.2f} s under the "
                                f"profiler, {prof['sql']:.2f} s of it in DuckDB's execute; "
                                f"{load()})\n-- slowest statements:\n{slowest}\n"
                                f"{prof.get('profile', '')}")
                if write:
                    settle(args.db, args.now)
    if overview_hwm is not None:
        notes.append(f"- Overview: the server process's peak resident memory after its cold "
                     f"render: {overview_hwm:.0f} MiB (VmHWM; aim < {AIM_RSS_MB} MiB: "
                     f"{'met' if overview_hwm < AIM_RSS_MB else 'missed'})")
    notes.append(f"- at the end: {load()}")
    text = (header + "\n\n" + "\n".join(lines) + "\n\n" +
            ("Notes:\n" + "\n".join(notes) + "\n" if notes else ""))
    print("\nNotes:\n" + "\n".join(notes))
    for prof in profiles:
        print("\n" + prof)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"\ntable written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

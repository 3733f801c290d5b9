"""Time ``check`` end to end next to the raw rule SQL in DuckDB, on a copy of the store.

    .venv/bin/python -m bench.bench_check [--db PATH] [--as-of DATE] [--repeat N]
                                          [--rows N] [--parts full,stored] [--profile]
                                          [--work DIR]

Run it on a store made by ``python -m dashboard seed --scale large`` (10,000,000
retention records). The store given is never modified: it is copied with the files that go
with it (``<name>.wal``, ``<name>.audit-key``, ``<name>.audit-head``) to ``--work``
(default: a temporary folder, removed at the end), and the copy is migrated with
``python -m dashboard --db COPY init`` if migrations are pending (0013 and 0014 hold the
stored evaluation). Every measurement below runs on the copy. It prints the machine (cores, DuckDB
threads, load averages), the registers' sizes, and two parts.

**full** - the full evaluation in memory (``engine._evaluate``): ``--as-of DATE``, a past
date (default: yesterday in Asia/Shanghai), is the close of that day, not "now", so every
rule runs in memory as for any past ``--as-of`` or a read-only store:

1. ``check`` as cron or CI runs it: ``python -m dashboard check --as-of DATE --format csv``
   in a fresh process (interpreter start, imports, opening the store, every rule, all
   findings written as CSV to /dev/null, the day's snapshot stored) - cold;
2. the same command in this process (``dashboard.cli.main``), first opening the store
   (a fresh DuckDB instance: cold), then with the store held open (warm, best of
   ``--repeat``); and, warm, the API's parts (``run_check``, the CSV, the snapshot);
3. the raw rule SQL, run directly in DuckDB on a plain read-only connection: for every
   rule file, with the same parameters bound, its counts
   (``SELECT count(*), count_if(failing) FROM (<rule>)``) and its findings and due items
   (``CREATE TEMP TABLE raw_items AS SELECT * FROM (<rule>) WHERE failing OR due_at <=
   $horizon``: the rows kept in DuckDB, as the shell would produce them before printing) -
   the same information the engine gives, less the distinct-entity counts of clauses and
   articles and without bringing anything into Python - cold (fresh connection) and warm.

**stored** - the stored, incremental evaluation (issue 15, ``dashboard/stored.py``):
``python -m dashboard check --format csv`` without ``--as-of`` (a moment of now, on a
writable store: the stored results are used and renewed where stale), each in a fresh
process (interpreter start, imports, opening the store, the evaluation, the CSV to
/dev/null, the snapshot), in this order:

a. **fresh**: ``check --fresh``: every rule re-run and its result stored (the first check
   of the day costs about this: on a new date every stored result is stale);
b. **current**: ``check`` when the stored results are current (what cron finds after the
   pages or an earlier check ran today): no rule runs, unless one of a "moment" rule's
   deadlines passed since (an incident clock): then that rule runs;
c. **one-row write**: one processor's ``last_assessed_on`` changed through ``store.write``
   (``bench.common.one_row_write``: audited, the tables' versions bumped), then ``check``:
   the rules that read ``processors`` run again;
d. **import**: ``--rows`` (default 1,000,000; 0 skips it) retention records imported with
   ``python -m dashboard import retention_records FILE`` (the Parquet file of
   ``bench.bench_import.generate``, record ids after the store's; the import is not timed),
   then ``check``: a full re-evaluation of the rules that read ``retention_records``;
e. **the re-evaluation alone**: as d (another ``--rows`` records imported), then, in a
   fresh process with the store open, ``dashboard.stored.evaluate`` timed alone (the rules
   renewed and the run assembled: no interpreter start, no CSV, no snapshot; RSS not
   measured).

Each is set against the raw rule SQL of every rule (as in part 3 above, cold: a fresh
read-only connection, at the moment of now; for d after the import), and against the raw
SQL of the rules that ran in that scenario: those whose ``evaluation.rule_state.gen``
changed. For d it also gives the raw SQL of
the rules that read ``retention_records`` (found in their SQL as ``dashboard.stored.reads``
finds them), alone. The table names the rules each scenario renewed, with the seconds the
engine recorded for each (``rule_state.seconds``), and each ``check``'s peak resident memory
(its ``ru_maxrss``). The fresh process's own start (``python -m dashboard check --help``:
the interpreter and the imports, no store) is printed beside it.

Never a timed assertion: figures are for reading. ``check`` stores the day's compliance
snapshot, as every ``check`` does (on the copy). ``--profile`` runs the stored part's
checks under cProfile and prints, for each, the dashboard's functions by cumulative time
and every function by its own time (its figures then include the profiler's overhead).
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from dashboard import engine, stored
from dashboard.access import cli_actor
from dashboard.rules import load_rules, macros_sql
from dashboard.settings import load_settings
from dashboard.store import Store, default_db_path

from bench.common import copy_store, cores, load, one_row_write, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent


def raw_rules(path: Path, as_of, only: set[str] | None = None
              ) -> tuple[float, dict[str, float], int]:
    """Every rule's (or the rules ``only`` names') counts, findings and due items on a
    fresh plain read-only DuckDB connection: (seconds, per rule, findings)."""
    settings = load_settings()
    values = engine.rule_parameters(settings, as_of)
    horizon = engine.due_horizon(as_of, int(settings.due_soon_days))
    rules = [r for r in load_rules() if only is None or r.rule_id in only]
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.cursor()
        started = time.perf_counter()
        cur.execute(f"SET TimeZone = '{settings.timezone}'")
        cur.execute(macros_sql())
        # the DSR rules read the working-day calendar: the same in-memory table the engine
        # builds (part of the work, so it is timed on both sides)
        if any("calendar_days" in r.query for r in rules):
            cur.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {engine.CACHE_DB} (READ_WRITE)")
            engine._prepare_calendar(cur, settings, as_of)
        per_rule, findings = {}, 0
        for rule in rules:
            params = {p: values[p] for p in rule.params}
            t0 = time.perf_counter()
            cur.execute(f"SELECT count(*), count_if(failing) FROM ({rule.query})", params).fetchall()
            cur.execute(f"CREATE OR REPLACE TEMP TABLE raw_items AS SELECT * FROM ({rule.query}) "
                        "WHERE failing OR due_at <= $horizon", {**params, "horizon": horizon})
            findings += cur.execute("SELECT count_if(failing) FROM raw_items").fetchone()[0]
            per_rule[rule.rule_id] = time.perf_counter() - t0
        return time.perf_counter() - started, per_rule, findings
    finally:
        con.close()


def check_in_process(path: Path, as_of: str) -> float:
    """``check --format csv`` through ``dashboard.cli.main`` in this process (CSV into
    memory), as a subprocess would run it but without the interpreter's start."""
    from dashboard.cli import main as cli_main
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = cli_main(["--db", str(path), "check", "--as-of", as_of, "--format", "csv"], out, err)
    elapsed = time.perf_counter() - started
    if code not in (0, 1):
        raise SystemExit(f"check failed ({code}): {err.getvalue()}")
    return elapsed


def api_parts(store: Store, as_of) -> dict[str, float]:
    """The API's parts on an open store: run_check (evaluation + both frames), the CSV of
    the findings, the snapshot."""
    parts = {}
    t0 = time.perf_counter()
    result = engine.run_check(store, as_of)
    parts["run_check"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.write_csv(result.findings, io.StringIO())
    parts["csv"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.save_snapshot(store, cli_actor(), result)
    parts["snapshot"] = time.perf_counter() - t0
    parts["findings"] = result.finding_total
    parts["due"] = result.due_total
    return parts


# Starts the measured process and reports its wall time and peak resident memory. A child
# started straight from this process would report this process's peak as its own (Linux
# counts the memory of the image it replaced at exec, and this process holds DuckDB's
# buffers of the raw runs): a small launcher in between keeps the figure the child's.
_LAUNCHER = """\
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    out.write(f"{code} {seconds} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
"""


def _timed_child(args: list[str], what: str, profile: Path | None = None
                 ) -> tuple[float, float]:
    """Run ``python -m ARGS`` in a fresh process (stdout to /dev/null; under cProfile,
    written to ``profile``, if given): (seconds, its peak resident memory in MiB)."""
    cmd = [sys.executable, "-m", *args]
    if profile is not None:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", *args]
    with tempfile.TemporaryFile(mode="w+") as errors, \
            tempfile.NamedTemporaryFile(mode="r", suffix=".txt") as report:
        subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, report.name, *cmd],
                       stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT, check=True)
        code, seconds, maxrss = report.read().split()
        if int(code) not in (0, 1):
            errors.seek(0)
            raise SystemExit(f"{what} failed ({code}): {errors.read()[-2000:]}")
    return float(seconds), int(maxrss) / 1024          # ru_maxrss: KiB on Linux


def cli_check(path: Path, as_of: str | None = None, *, fresh: bool = False,
              profile: Path | None = None) -> tuple[float, float]:
    """``python -m dashboard check --format csv`` in a fresh process: (seconds, MiB)."""
    cmd = ["dashboard", "--db", str(path), "check", "--format", "csv"]
    if as_of is not None:
        cmd += ["--as-of", as_of]
    if fresh:
        cmd.append("--fresh")
    return _timed_child(cmd, "check", profile)


def profile_text(path: Path) -> str:
    """A check's cProfile: the dashboard's functions by cumulative time, then every
    function by its own time (DuckDB's ``execute`` and the fetches among them)."""
    import pstats
    text = io.StringIO()
    stats = pstats.Stats(str(path), stream=text)
    text.write("-- the dashboard's functions, by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(r"dashboard/", 30)
    text.write("-- every function, by its own time:\n")
    stats.sort_stats("tottime").print_stats(12)
    return text.getvalue()


def _ro(path: Path):
    return duckdb.connect(str(path), read_only=True)


def rule_states(path: Path) -> dict[str, tuple[int, float]]:
    """Each stored rule's generation and the seconds its last renewal took."""
    con = _ro(path)
    try:
        return {r: (g, s) for r, g, s in con.execute(
            f"SELECT rule_id, gen, seconds FROM {stored.SCHEMA}.rule_state").fetchall()}
    finally:
        con.close()


def renewed(before: dict, after: dict) -> dict[str, float]:
    """The rules renewed between two ``rule_states``: their recorded seconds."""
    return {r: s for r, (g, s) in after.items() if before.get(r, (None,))[0] != g}


def readers(path: Path, table: str) -> list[str]:
    """The rules whose SQL reads ``table`` (directly or through a view), as the stored
    evaluation decides what a write to it makes stale."""
    con = _ro(path)
    try:
        tables, views = stored._catalog(con.cursor())
    finally:
        con.close()
    return [r.rule_id for r in load_rules() if table in stored.reads(r.query, tables, views)]


def import_retention(path: Path, rows: int, work: Path) -> float:
    """Append ``rows`` retention records (bench_import's generated file, ids after the
    store's) with ``python -m dashboard import``; the seconds it took (not a figure of
    this benchmark: printed for context)."""
    from bench.bench_import import generate
    con = _ro(path)
    try:
        first = (con.execute("SELECT max(record_id) FROM retention_records").fetchone()[0]
                 or 0) + 1
    finally:
        con.close()
    parquet = work / f"retention_{rows}.parquet"
    generate(parquet, rows, first_id=first)
    try:
        seconds, _rss = _timed_child(["dashboard", "--db", str(path), "import",
                                      "retention_records", str(parquet)], "import")
    finally:
        parquet.unlink(missing_ok=True)
    return seconds


_EVALUATE = """\
import sys, time
from dashboard import stored
from dashboard.rules import load_rules
from dashboard.settings import load_settings
from dashboard.store import Store
store = Store(sys.argv[1], settings=load_settings())
rules = load_rules()
started = time.perf_counter()
stored.evaluate(store, store.now(), rules)
print(time.perf_counter() - started)
store.close()
"""


def child_evaluation(path: Path) -> float:
    """The evaluation alone (``dashboard.stored.evaluate`` at the moment of now: the stale
    rules renewed and the run assembled), timed inside a fresh process after the store is
    open: the re-evaluation without the interpreter, the CSV or the snapshot."""
    out = subprocess.run([sys.executable, "-c", _EVALUATE, str(path)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def _now(tz) -> dt.datetime:
    return dt.datetime.now(tz)


def part_full(path: Path, as_of: dt.datetime, as_of_text: str, repeat: int) -> None:
    cli, _rss = cli_check(path, as_of_text)
    raw_cold, per_rule, raw_findings = raw_rules(path, as_of)
    raw_warm = min(raw_rules(path, as_of)[0] for _ in range(max(repeat, 1)))

    # check in this process: the first run opens the store (a fresh DuckDB instance, cold
    # buffers); a store held open keeps the instance, so later runs are warm.
    in_cold = check_in_process(path, as_of_text)
    keep = Store(path, settings=load_settings())
    in_warm = min(check_in_process(path, as_of_text) for _ in range(max(repeat, 1)))
    parts = api_parts(keep, as_of)
    keep.close()
    if parts["findings"] != raw_findings:
        print(f"!! the engine found {parts['findings']} findings, the raw SQL {raw_findings}")

    print(f"== full evaluation in memory, as of {as_of_text} (a past moment: "
          f"engine._evaluate; {load()})")
    print(f"findings {parts['findings']:,}, due items {parts['due']:,}\n")
    print(f"{'measurement':<60}{'cold':>9}{'warm':>9}")
    print(f"{'check, fresh process (python -m dashboard check --format csv)':<60}"
          f"{cli:>8.2f}s{'':>9}")
    print(f"{'check in process (cli.main, csv into memory, snapshot)':<60}{in_cold:>8.2f}s"
          f"{in_warm:>8.2f}s")
    print(f"{'raw rule SQL in DuckDB (counts, findings, due per rule)':<60}{raw_cold:>8.2f}s"
          f"{raw_warm:>8.2f}s")
    print(f"{'ratio check in process / raw':<60}{in_cold / raw_cold:>8.2f}x"
          f"{in_warm / raw_warm:>8.2f}x")
    print(f"{'ratio check fresh process / raw cold':<60}{cli / raw_cold:>8.2f}x")
    print(f"\nAPI, warm: run_check {parts['run_check']:.2f} s (evaluation, findings and due "
          f"items as DataFrames), CSV {parts['csv']:.2f} s, snapshot {parts['snapshot']:.2f} s")
    slowest = sorted(per_rule.items(), key=lambda kv: -kv[1])[:5]
    print("slowest raw rules (cold): " + ", ".join(f"{k} {v:.2f} s" for k, v in slowest))
    print(f"({load()})\n")


def part_stored(path: Path, tz, rows: int, work: Path, profile: bool = False) -> None:
    rules = load_rules()
    profiles: list[tuple[str, Path]] = []

    def prof(key: str) -> Path | None:
        if not profile:
            return None
        out = work / f"check-{key}.pstats"
        profiles.append((key, out))
        return out

    retention_ids = readers(path, "retention_records")
    startup, _rss = _timed_child(["dashboard", "check", "--help"], "check --help")

    raw_all, per_rule, _n = raw_rules(path, _now(tz))
    rows_out: list[dict] = []

    def scenario(name: str, seconds: float, rss: float, before: dict, after: dict,
                 raw_base: float, raw_ran: float | None = None) -> dict:
        ran = renewed(before, after)
        if raw_ran is None:
            ids = set(ran)
            raw_ran = raw_all if len(ids) == len(rules) else \
                raw_rules(path, _now(tz), only=ids)[0] if ids else 0.0
        row = {"name": name, "check": seconds, "rss": rss, "raw": raw_base, "ran": ran,
               "raw_ran": raw_ran, "load": load()}
        rows_out.append(row)
        print(f"  {name}: check {seconds:.2f} s, {len(ran)} stored rules renewed ({load()})",
              flush=True)
        return row

    print(f"== stored, incremental evaluation: check at the moment of now "
          f"(python -m dashboard check --format csv, fresh process each"
          f"{'; UNDER cProfile: the figures include its overhead' if profile else ''})",
          flush=True)
    if not rule_states(path):
        print("  (no stored result yet: the first check stores them all)")
    s0 = rule_states(path)
    t, rss = cli_check(path, fresh=True, profile=prof("a"))
    s1 = rule_states(path)
    scenario("a. check --fresh (every rule re-run and stored)", t, rss, s0, s1, raw_all,
             raw_all)
    t, rss = cli_check(path, profile=prof("b"))
    s2 = rule_states(path)
    scenario("b. check, stored results current", t, rss, s1, s2, raw_all)
    store = Store(path, settings=load_settings())
    try:
        pid = one_row_write(store)
    finally:
        store.close()
    t, rss = cli_check(path, profile=prof("c"))
    s3 = rule_states(path)
    scenario(f"c. check after a one-row write (processor {pid})", t, rss, s2, s3, raw_all)
    imported = None
    if rows > 0:
        imported = import_retention(path, rows, work)
        t, rss = cli_check(path, profile=prof("d"))
        s4 = rule_states(path)
        raw_after, _per, _n = raw_rules(path, _now(tz))
        row = scenario(f"d. check after importing {rows:,} retention records", t, rss, s3,
                       s4, raw_after)
        raw_ret = raw_rules(path, _now(tz), only=set(retention_ids))[0]
        # e. the re-evaluation alone, after a second import of the same size
        import_retention(path, rows, work)
        seconds = child_evaluation(path)
        s5 = rule_states(path)
        raw_after2, _per, _n = raw_rules(path, _now(tz))
        scenario(f"e. evaluation alone after importing {rows:,} more", seconds, 0.0, s4, s5,
                 raw_after2)

    print(f"\n{'scenario':<52}{'check s':>9}{'raw all s':>11}{'ratio':>8}"
          f"{'rules run':>11}{'raw run s':>11}{'ratio':>8}{'RSS MiB':>9}")
    for r in rows_out:
        ratio = f"{r['check'] / r['raw_ran']:>7.2f}x" if r["raw_ran"] else f"{'-':>8}"
        print(f"{r['name'][:51]:<52}{r['check']:>9.2f}{r['raw']:>11.2f}"
              f"{r['check'] / r['raw']:>7.2f}x{len(r['ran']):>11}{r['raw_ran']:>11.2f}"
              f"{ratio}" + (f"{r['rss']:>9.0f}" if r["rss"] else f"{'-':>9}"))
    print(f"\nraw all = the raw SQL of all {len(rules)} rules (fresh read-only connection, "
          "at the moment of now; for d after the import); raw run = the raw SQL of the rules "
          "that ran (the stored rules renewed; a \"moment\" rule runs again once one of its "
          "deadlines has passed).")
    print(f"fresh process start (python -m dashboard check --help: interpreter and imports, "
          f"no store): {startup:.2f} s, included in every check figure")
    if rows > 0:
        print(f"d. the import itself ({rows:,} rows, python -m dashboard import, not in the "
              f"figures): {imported:.2f} s. Rules reading retention_records: "
              f"{', '.join(retention_ids)}; their raw SQL alone after the import "
              f"{raw_ret:.2f} s: check / that {row['check'] / raw_ret:.2f}x; the raw SQL of "
              f"every rule went from {raw_all:.2f} s to {raw_after:.2f} s with the import")
    print("\nrules renewed (stored), with the seconds the engine recorded for each:")
    for r in rows_out:
        ran = sorted(r["ran"].items(), key=lambda kv: -kv[1])
        listing = ", ".join(f"{k} {v:.2f}" for k, v in ran) if ran else "none"
        print(f"- {r['name']}: {len(ran)} renewed, {sum(r['ran'].values()):.2f} s in all: "
              f"{listing} [{r['load']}]")
    slowest = sorted(per_rule.items(), key=lambda kv: -kv[1])[:5]
    print("slowest raw rules at now (cold, before any write): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in slowest))
    for key, out in profiles:
        print(f"\n=== profile of scenario {key}'s check\n{profile_text(out)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="the store, only read (default: $COMPLIANCE_DB or "
                                     "data/compliance.duckdb)")
    parser.add_argument("--as-of", dest="as_of", default=None,
                        help="the full part's check date, a past date (default: yesterday "
                             "in Asia/Shanghai)")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs (best is shown)")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="retention records imported before scenario d (0: skip d)")
    parser.add_argument("--parts", default="full,stored",
                        help="comma-separated: full, stored (default both)")
    parser.add_argument("--profile", action="store_true",
                        help="run the stored part's checks under cProfile and print where "
                             "their time goes (the figures then include its overhead)")
    parser.add_argument("--work", help="folder for the copy of the store (kept; default: a "
                                       "temporary folder, removed at the end)")
    args = parser.parse_args(argv)
    path = default_db_path(args.db)
    if not path.exists():
        parser.error(f"no store at {path}: run `python -m dashboard seed --scale large` first")
    parts = set(args.parts.split(","))
    if not parts or parts - {"full", "stored"}:
        parser.error("--parts: full, stored or both")
    settings = load_settings()
    from zoneinfo import ZoneInfo
    tz = ZoneInfo(settings.timezone)
    now = dt.datetime.now(tz)
    as_of_text = args.as_of or (now.date() - dt.timedelta(days=1)).isoformat()
    try:
        as_of = engine.parse_as_of(as_of_text, tz, now)
    except ValueError as exc:
        parser.error(f"--as-of: {exc}")
    if now - as_of < engine.LIVE_REUSE:
        parser.error("--as-of: give a past date (the full part measures the evaluation in "
                     "memory; a check at now is the stored part)")

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-check-"))
    try:
        copy = copy_store(path, work / path.name)       # migrated if behind
        con = _ro(copy)
        sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]   # literal names
                 for t in ("processors", "sharing_agreements", "retention_records",
                           "incidents", "incident_events", "rights_requests")}
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        con.close()
        print(f"check benchmark: cores {cores()}, DuckDB {duckdb.__version__} with {threads} "
              f"threads, {load()}")
        print(f"store {path} ({path.stat().st_size / 2**30:.2f} GiB), measured on a copy: "
              f"{copy}")
        print("registers: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()) + "\n",
              flush=True)
        if "full" in parts:
            part_full(copy, as_of, as_of_text, args.repeat)
        if "stored" in parts:
            part_stored(copy, tz, args.rows, work, args.profile)
        print(f"\npeak memory of this process: {peak_rss_mb():.0f} MiB; {load()}")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time ``check`` end to end next to the raw rule SQL in DuckDB, on the same store.

    .venv/bin/python -m bench.bench_check [--db PATH] [--as-of DATE] [--repeat N]

Run it on a store made by ``python -m dashboard seed --scale large`` (10,000,000
retention records). It prints the machine (cores, DuckDB threads), the registers' sizes,
and three measurements:

1. ``check`` as cron or CI runs it: ``python -m dashboard check --format csv`` in a fresh
   process (interpreter start, imports, opening the store, every rule, all findings
   written as CSV to /dev/null, the day's snapshot stored) - cold;
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

and the ratios engine / raw. Never a timed assertion: figures are for reading. The
check stores the as-of day's compliance snapshot, as every ``check`` does.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from dashboard import engine
from dashboard.access import cli_actor
from dashboard.rules import load_rules, macros_sql
from dashboard.settings import load_settings
from dashboard.store import Store, default_db_path

from bench.common import cores, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent






def raw_rules(path: Path, as_of) -> tuple[float, dict[str, float], int]:
    """Every rule's counts, findings and due items on a plain DuckDB connection:
    (seconds, per rule, findings)."""
    settings = load_settings()
    values = engine.rule_parameters(settings, as_of)
    horizon = engine.due_horizon(as_of, int(settings.due_soon_days))
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.cursor()
        started = time.perf_counter()
        cur.execute(f"SET TimeZone = '{settings.timezone}'")
        cur.execute(macros_sql())
        # the DSR rules read the working-day calendar: the same in-memory table the engine
        # builds (part of the work, so it is timed on both sides)
        cur.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {engine.CACHE_DB} (READ_WRITE)")
        engine._prepare_calendar(cur, settings, as_of)
        per_rule, findings = {}, 0
        for rule in load_rules():
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


def cli_check(path: Path, as_of: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard", "--db", str(path), "check", "--as-of", as_of,
         "--format", "csv"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"check failed ({proc.returncode}): {proc.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="the store (default: $COMPLIANCE_DB or "
                                     "data/compliance.duckdb)")
    parser.add_argument("--as-of", dest="as_of", default=None,
                        help="check date (default: today in Asia/Shanghai)")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs (best is shown)")
    args = parser.parse_args(argv)
    path = default_db_path(args.db)
    if not path.exists():
        parser.error(f"no store at {path}: run `python -m dashboard seed --scale large` first")
    settings = load_settings()
    from zoneinfo import ZoneInfo
    tz = ZoneInfo(settings.timezone)
    as_of = engine.parse_as_of(args.as_of, tz, dt.datetime.now(tz))
    as_of_text = args.as_of or as_of.isoformat()

    con = duckdb.connect(str(path), read_only=True)
    sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]   # literal table names
             for t in ("processors", "sharing_agreements", "retention_records", "incidents",
                       "incident_events")}
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    print(f"check benchmark: cores {cores()}, DuckDB {duckdb.__version__} with {threads} "
          f"threads, store {path} ({path.stat().st_size / 2**30:.2f} GiB)")
    print("registers: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
    print(f"as of {as_of.isoformat()}\n")

    cli = cli_check(path, as_of_text)
    raw_cold, per_rule, raw_findings = raw_rules(path, as_of)
    raw_warm = min(raw_rules(path, as_of)[0] for _ in range(max(args.repeat, 1)))

    # check in this process: the first run opens the store (a fresh DuckDB instance, cold
    # buffers); a store held open keeps the instance, so later runs are warm.
    in_cold = check_in_process(path, as_of_text)
    keep = Store(path, settings=settings)
    in_warm = min(check_in_process(path, as_of_text) for _ in range(max(args.repeat, 1)))
    parts = api_parts(keep, as_of)
    keep.close()
    if parts["findings"] != raw_findings:
        print(f"!! the engine found {parts['findings']} findings, the raw SQL {raw_findings}")

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
    print(f"peak memory of this process: {peak_rss_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time ``check`` end to end next to the raw rule SQL in DuckDB, on the same store.

    .venv/bin/python -m bench.bench_check [--db PATH] [--as-of DATE] [--repeat N]

Run it on a store made by ``python -m dashboard seed --scale large`` (10,000,000
retention records). It prints the machine (cores, DuckDB threads), the registers' sizes,
and three measurements:

1. ``check`` as cron or CI runs it: ``python -m dashboard check --format csv`` in a fresh
   process (interpreter start, imports, opening the store, every rule, all findings
   written as CSV to /dev/null, the day's snapshot stored) - cold;
2. the same work in this process: ``run_check`` + the CSV + ``save_snapshot``, first on
   a freshly opened store (cold), then again (warm, best of ``--repeat``);
3. the raw rule SQL, run directly in DuckDB on a plain read-only connection: for every
   rule file, with the same parameters bound, its counts
   (``SELECT count(*), count_if(failing) FROM (<rule>)``) and its findings
   (``SELECT * FROM (<rule>) WHERE failing``, fetched) - cold (fresh connection) and
   warm.

and the ratios engine / raw. Never a timed assertion: figures are for reading. The
check stores the as-of day's compliance snapshot, as every ``check`` does.
"""
from __future__ import annotations

import argparse
import io
import os
import resource
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

ROOT = Path(__file__).resolve().parent.parent


def _cores() -> str:
    online = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        usable = online
    return f"{usable} usable of {online}"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB


def raw_rules(path: Path, as_of) -> tuple[float, dict[str, float], int]:
    """Every rule's counts and findings on a plain DuckDB connection: (seconds, per rule,
    findings)."""
    settings = load_settings()
    values = engine.rule_parameters(settings, as_of)
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.cursor()
        started = time.perf_counter()
        cur.execute(f"SET TimeZone = '{settings.timezone}'")
        cur.execute(macros_sql())
        per_rule, findings = {}, 0
        for rule in load_rules():
            params = {p: values[p] for p in rule.params}
            t0 = time.perf_counter()
            cur.execute(f"SELECT count(*), count_if(failing) FROM ({rule.query})", params).fetchall()
            findings += len(cur.execute(f"SELECT * FROM ({rule.query}) WHERE failing",
                                        params).fetchall())
            per_rule[rule.rule_id] = time.perf_counter() - t0
        return time.perf_counter() - started, per_rule, findings
    finally:
        con.close()


def engine_check(path: Path, as_of, store: Store | None = None) -> tuple[float, dict, Store]:
    """run_check + CSV + snapshot in this process; opens the store if not given."""
    timings = {}
    started = time.perf_counter()
    if store is None:
        store = Store(path, settings=load_settings())
        store.require_current()
    timings["open"] = time.perf_counter() - started
    t0 = time.perf_counter()
    result = engine.run_check(store, as_of)
    timings["run_check"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sink = io.StringIO()
    engine.write_csv(result.findings, sink)
    timings["csv"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.save_snapshot(store, cli_actor(), result)
    timings["snapshot"] = time.perf_counter() - t0
    timings["findings"] = result.finding_total
    timings["due"] = result.due_total
    return time.perf_counter() - started, timings, store


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
    as_of = engine.parse_as_of(args.as_of, tz, None if args.as_of else
                               __import__("datetime").datetime.now(tz))
    as_of_text = args.as_of or as_of.isoformat()

    con = duckdb.connect(str(path), read_only=True)
    sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]   # literal table names
             for t in ("processors", "sharing_agreements", "retention_records", "incidents",
                       "incident_events")}
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    print(f"check benchmark: cores {_cores()}, DuckDB {duckdb.__version__} with {threads} "
          f"threads, store {path} ({path.stat().st_size / 2**30:.2f} GiB)")
    print("registers: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
    print(f"as of {as_of.isoformat()}\n")

    cli = cli_check(path, as_of_text)
    raw_cold, per_rule, raw_findings = raw_rules(path, as_of)
    raw_warm = min(raw_rules(path, as_of)[0] for _ in range(max(args.repeat, 1)))

    eng_cold, cold_t, store = engine_check(path, as_of)
    warm = [engine_check(path, as_of, store) for _ in range(max(args.repeat, 1))]
    store.close()
    eng_warm, warm_t, _ = min(warm, key=lambda w: w[0])
    if warm_t["findings"] != raw_findings:
        print(f"!! the engine found {warm_t['findings']} findings, the raw SQL {raw_findings}")

    def split(t):
        return (f"run_check {t['run_check']:.2f} s, CSV {t['csv']:.2f} s, "
                f"snapshot {t['snapshot']:.2f} s")

    print(f"findings {warm_t['findings']:,}, due items {warm_t['due']:,}\n")
    print(f"{'measurement':<58}{'cold':>9}{'warm':>9}")
    print(f"{'check CLI, fresh process (csv to /dev/null, snapshot)':<58}{cli:>8.2f}s{'':>9}")
    print(f"{'engine in process (run_check + csv + snapshot)':<58}{eng_cold:>8.2f}s"
          f"{eng_warm:>8.2f}s")
    print(f"{'raw rule SQL in DuckDB (counts + findings per rule)':<58}{raw_cold:>8.2f}s"
          f"{raw_warm:>8.2f}s")
    print(f"{'ratio engine / raw':<58}{eng_cold / raw_cold:>8.2f}x{eng_warm / raw_warm:>8.2f}x")
    print(f"{'ratio check CLI / raw (cold)':<58}{cli / raw_cold:>8.2f}x")
    print(f"\nengine cold: open {cold_t['open']:.2f} s, {split(cold_t)}")
    print(f"engine warm: {split(warm_t)}")
    slowest = sorted(per_rule.items(), key=lambda kv: -kv[1])[:5]
    print("slowest raw rules (cold): " + ", ".join(f"{k} {v:.2f} s" for k, v in slowest))
    print(f"peak memory of this process: {_peak_rss_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make bench`: every benchmark, at the large scale the issues name, against raw DuckDB.

1. builds (or, with --reuse, reuses) bench/out/large.duckdb with
   `python -m dashboard seed --scale large` (10,000 processors, 50,000 agreements,
   10,000,000 retention records, 100,000 incidents, 200,000 rights requests);
2. runs each benchmark module in its own process (so one's memory does not colour the
   next's), prints its output, and keeps it in bench/out/<name>.txt. The last,
   `browser` (Chromium: sign-in → Overview drawn next to a trivial one-chart page, on a
   demo store and on this one), adds the demo accounts to the large store.

Benchmarks measure; they never assert a time. Figures depend on the machine: each
benchmark prints the core count next to its table.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
AS_OF = "2026-11-24"


def _run(name: str, args: list[str], log: Path | None = None) -> int:
    cmd = [sys.executable, "-m", *args]
    print(f"\n=== {name}: {' '.join(args)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True)
    took = time.perf_counter() - started
    text = proc.stdout + (f"\n[stderr]\n{proc.stderr}" if proc.returncode else "")
    print(text, end="", flush=True)
    print(f"--- {name}: exit {proc.returncode}, {took:.1f} s wall", flush=True)
    if log is not None:
        log.write_text(text, encoding="utf-8")
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reuse", action="store_true",
                    help="reuse bench/out/large.duckdb if it exists")
    ap.add_argument("--only", help="comma-separated subset: seed,import,check,pages,export,stream,"
                         "requests,holds,evidence,browser")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / "large.duckdb"
    only = set(args.only.split(",")) if args.only else None
    want = (lambda n: only is None or n in only)
    print(f"benchmarks on {os.cpu_count()} cores; store {db}")

    failures = 0
    if not (args.reuse and db.exists()):
        for stale in (db, db.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
        failures += _run("large store", ["dashboard", "--db", str(db), "init"])
        failures += _run("large store", ["dashboard", "--db", str(db), "seed", "--scale",
                                         "large", "--as-of", AS_OF],
                         OUT / "large_store.txt")
    plan = [
        ("seed", ["bench.bench_seed"]),
        ("import", ["bench.bench_import", "--rows", "1000000", "--repeat", "2"]),
        ("check", ["bench.bench_check", "--db", str(db), "--as-of", AS_OF]),
        ("pages", ["bench.bench_pages", "--db", str(db)]),
        ("export", ["bench.bench_export", "--db", str(db)]),
        ("stream", ["bench.bench_stream", "--db", str(db), "--compare", "copy"]),
        ("requests", ["bench.bench_requests", "--db", str(db), "--as-of", AS_OF]),
        ("holds", ["bench.bench_holds", "--db", str(db)]),
        ("evidence", ["bench.bench_evidence"]),
        # last: it adds the demo accounts to the store and signs in (audit entries)
        ("browser", ["bench.bench_browser", "--db", str(db), "--demo"]),
    ]
    for name, cmd in plan:
        if not want(name):
            continue
        if not (ROOT / "bench" / f"{cmd[0].split('.')[-1]}.py").exists():
            print(f"\n=== {name}: {cmd[0]} not present, skipped")
            continue
        failures += _run(name, cmd, OUT / f"{name}.txt") != 0
    print(f"\noutputs in {OUT}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

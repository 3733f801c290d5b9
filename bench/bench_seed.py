"""Time ``seed --scale large`` into a fresh temporary store.

    .venv/bin/python -m bench.bench_seed [--retention-records N] [--seed N] [--keep]

Prints the machine (cores, DuckDB threads), the time per table, the total and the
peak memory, and beside the retention generator a raw-DuckDB baseline on the same
rows: copying the generated ``retention_records`` into an identical table (same
primary key), i.e. what writing those rows costs before any generating is done.
Never a timed assertion: figures are for reading.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

from dashboard import demo
from dashboard.access import cli_actor
from dashboard.reference import sync_reference
from dashboard.settings import load_settings
from dashboard.store import Store

from bench.common import cores, peak_rss_mb

AS_OF = dt.date(2026, 11, 24)






def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_seed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--retention-records", type=int,
                        default=demo.LARGE_COUNTS["retention_records"], metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true",
                        help="keep the store and print its path (default: delete it)")
    args = parser.parse_args(argv)
    if args.retention_records < 0:
        parser.error("--retention-records must not be negative")

    tmp = tempfile.mkdtemp(prefix="bench_seed_")
    path = Path(tmp) / "large.duckdb"
    actor = cli_actor()
    store = Store(path, settings=load_settings())
    try:
        store.migrate(actor)
        with store.write(actor, "store.admin") as w:
            sync_reference(w.cur)
            w.audit("reference.sync", "reference")
        threads = store.scalar("SELECT current_setting('threads')")
        print(f"seed --scale large: cores {cores()}, DuckDB {__import__('duckdb').__version__}"
              f" with {threads} threads, as of {AS_OF}, seed {args.seed}")

        timings: dict[str, float] = {}
        started = time.perf_counter()
        counts = demo.seed(store, actor, scale="large", as_of=AS_OF, seed=args.seed,
                           retention_records=args.retention_records, timings=timings)
        total = time.perf_counter() - started
        seed_rss = peak_rss_mb()
        with store.cursor() as cur:
            cur.execute("CHECKPOINT")
        file_mb = path.stat().st_size / 2**20

        # Raw DuckDB baseline: write the same rows into an identical table in the same
        # store, inside a transaction like the seed's (timed without the commit; rolled back).
        with store.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            cur.execute("CREATE TABLE bench_raw_copy AS "
                        "SELECT * FROM retention_records LIMIT 0")
            cur.execute("ALTER TABLE bench_raw_copy ADD PRIMARY KEY (record_id)")
            t0 = time.perf_counter()
            cur.execute("INSERT INTO bench_raw_copy SELECT * FROM retention_records")
            raw = time.perf_counter() - t0
            cur.execute("ROLLBACK")

        rows = [(table, timings.get(table, 0.0)) for table in demo.TABLES]
        print(f"{'table':<20} {'rows':>12} {'seconds':>9} {'rows/s':>12}")
        for table, seconds in rows:
            n = counts[table]
            rate = f"{n / seconds:,.0f}" if seconds > 0 else "-"
            print(f"{table:<20} {n:>12,} {seconds:>9.2f} {rate:>12}")
        other = total - sum(s for _, s in rows)
        print(f"{'(clear, reference, audit, commit)':<33} {other:>9.2f}")
        print(f"{'total':<20} {sum(counts.values()):>12,} {total:>9.2f}")
        ret = timings.get("retention_records", 0.0)
        n = counts["retention_records"]
        if n:
            print(f"raw DuckDB baseline: copying the {n:,} retention records into an identical "
                  f"table takes {raw:.2f} s; generating them took {ret:.2f} s "
                  f"({ret / raw if raw else float('nan'):.1f}x)")
        print(f"peak memory (RSS) during the seed {seed_rss:,.0f} MB; store file "
              f"{file_mb:,.0f} MB")
    finally:
        store.close()
        if args.keep:
            print(f"kept {path}")
        else:
            for p in Path(tmp).glob("*"):
                p.unlink()
            os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Import benchmark: ``dashboard.importer`` against a raw DuckDB INSERT of the same file.

    .venv/bin/python -m bench.bench_import [--rows N] [--repeat K] [--keep DIR]

Generates a retention_records Parquet of N rows (default 1,000,000; realistic
shape: native BIGINT, VARCHAR and DATE columns, a few holds, several regions),
then, each in a fresh child process on a fresh store:

- ``import``: ``importer.import_file`` (the CLI's ``import``: SHA-256, staging,
  every contract check, duplicate and existing-key checks, strict casts, one
  transaction, one audit entry);
- ``raw``: ``INSERT INTO retention_records SELECT * FROM read_parquet(...)`` in one
  transaction: no checks beyond the table's own constraints, the floor.

Prints both times (best of ``--repeat`` runs, alternated), their ratio, rows per
second, each run's peak resident memory (VmHWM), the machine's core count and its
load average. Never run by the tests.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, rows: int, first_id: int = 1) -> None:
    """A deterministic retention_records Parquet, written by DuckDB (bounded memory); its
    record ids run from ``first_id`` (to append to a store that has records already)."""
    import duckdb

    sys.path.insert(0, str(ROOT))
    from dashboard.reference import load_catalog

    codes = list(load_catalog().categories)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        """
        COPY (
          SELECT i + $first_id AS record_id,
                 'SUBJ-' || lpad(CAST(h % 30000000 AS VARCHAR), 8, '0') AS subject_ref,
                 $codes[1 + CAST((h >> 8) % len($codes) AS INTEGER)] AS category,
                 ['account-service', 'recruitment-portal', 'courier-dispatch', 'face-verify',
                  'crm', 'analytics', '招聘平台', '客服工单'][1 + CAST((h >> 16) % 8 AS INTEGER)]
                   AS system,
                 CASE WHEN h % 97 = 0 THEN 'HK' WHEN h % 89 = 0 THEN 'SG'
                      WHEN h % 83 = 0 THEN 'US' ELSE 'CN' END AS storage_region,
                 DATE '2019-01-01' + CAST((h >> 20) % 2500 AS INTEGER) AS collected_on,
                 CASE WHEN (h >> 32) % 3 = 0 THEN DATE '2019-01-01'
                      + CAST((h >> 20) % 2500 + (h >> 40) % 400 AS INTEGER) END
                   AS service_ended_on,
                 CASE WHEN (h >> 32) % 5 = 0 THEN DATE '2019-01-01'
                      + CAST((h >> 20) % 2500 + 420 AS INTEGER) END AS deleted_on,
                 CASE WHEN h % 211 = 0 THEN 'court_or_legal_proceedings'
                      WHEN h % 307 = 0 THEN 'law_or_regulation' END AS hold_reason,
                 CASE WHEN h % 211 = 0 THEN '(2026)京0105民初' || CAST(h % 9000 AS VARCHAR)
                      || '号' END AS hold_reference,
                 CASE WHEN h % 211 = 0 OR h % 307 = 0 THEN DATE '2026-06-30'
                      + CAST(h % 365 AS INTEGER) END AS hold_review_on
          FROM (SELECT i, hash(i) AS h FROM range($rows) t(i))
        ) TO $path (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)
        """,
        {"codes": codes, "rows": rows, "path": str(path), "first_id": first_id},
    )
    con.close()


def _fresh_store(path: Path):
    sys.path.insert(0, str(ROOT))
    from dashboard.access import cli_actor
    from dashboard.reference import sync_reference
    from dashboard.store import Store

    store = Store(path)
    store.migrate(cli_actor())
    with store.write(cli_actor(), "store.admin") as w:
        sync_reference(w.cur)
        w.audit("reference.sync", "reference")
    return store


def _peak_rss() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(kind: str, parquet: Path, db: Path) -> dict:
    """One measured run, in its own process (clean memory high-water mark)."""
    sys.path.insert(0, str(ROOT))
    from dashboard.access import cli_actor
    from dashboard.importer import import_file

    store = _fresh_store(db)
    try:
        start = time.perf_counter()
        if kind == "import":
            rows = import_file(store, cli_actor(), "retention_records", parquet).rows_written
        else:
            with store.cursor() as cur:
                cur.execute("BEGIN TRANSACTION")
                rows = cur.execute("INSERT INTO retention_records SELECT * FROM "
                                   "read_parquet($p)", {"p": str(parquet)}).fetchone()[0]
                cur.execute("COMMIT")
        seconds = time.perf_counter() - start
        stored = store.scalar("SELECT count(*) FROM retention_records")
    finally:
        store.close()
    return {"kind": kind, "seconds": seconds, "rows": rows, "stored": stored,
            "peak_rss": _peak_rss()}


def _run_child(kind: str, parquet: Path, db: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_import", "--child", kind, "--parquet", str(parquet),
         "--db", str(db)],
        cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each, alternated; the best time is reported (the machine "
                         "may be shared: best-of-N damps other load)")
    ap.add_argument("--keep", help="write the Parquet and stores here and keep them")
    ap.add_argument("--child", choices=("import", "raw"), help=argparse.SUPPRESS)
    ap.add_argument("--parquet", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, Path(args.parquet), Path(args.db))))
        return 0
    if args.rows < 1:
        ap.error("--rows must be at least 1")

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        parquet = work / f"retention_{args.rows}.parquet"
        t0 = time.perf_counter()
        generate(parquet, args.rows)
        gen = time.perf_counter() - t0
        size_mb = parquet.stat().st_size / 1e6
        runs: dict[str, list[dict]] = {"raw": [], "import": []}
        for _ in range(max(args.repeat, 1)):
            for kind in ("raw", "import"):
                db = work / f"{kind}.duckdb"
                for p in (db, Path(str(db) + ".wal")):
                    p.unlink(missing_ok=True)
                run = _run_child(kind, parquet, db)
                assert run["stored"] == args.rows, run
                runs[kind].append(run)
        results = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}

    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    imp, raw = results["import"], results["raw"]
    print(f"retention_records Parquet: {args.rows:,} rows, {size_mb:,.1f} MB "
          f"(generated in {gen:.1f} s)")
    print(f"cores: {cores} ({usable} usable by this process)")
    for label, r in (("importer.import_file", imp), ("raw DuckDB INSERT ... SELECT * "
                                                             "FROM read_parquet", raw)):
        print(f"  {label:<50} {r['seconds']:8.2f} s  {r['rows'] / r['seconds']:>12,.0f} rows/s"
              f"  peak RSS {r['peak_rss'] / 2**20:,.0f} MiB")
    print(f"  ratio import / raw: {imp['seconds'] / raw['seconds']:.2f}x")
    if args.repeat > 1:
        for kind, label in (("import", "import"), ("raw", "raw")):
            times = ", ".join(f"{r['seconds']:.2f}" for r in runs[kind])
            print(f"  {label} runs (s): {times}  (best reported)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  load average at the end: {load:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Export benchmark: the contract CSV writer against raw DuckDB ``COPY ... TO``.

    .venv/bin/python -m bench.bench_export [--rows N] [--db STORE] [--keep]

Builds (or reuses, with ``--db``) a store holding N retention records (default
10,000,000), then measures, each in a fresh child process so that the memory
high-water mark belongs to that run alone:

- ``export``: ``dashboard.exports.export_file`` (the CLI's ``export``: permission
  check, BOM, RFC 4180, ISO dates, CSV-injection guard, SHA-256, audit entry);
- ``zip``: the Exports page's compressed download (``open_download(compress=True)``);
- ``copy``: raw ``COPY (SELECT * ... ORDER BY record_id) TO 'f.csv' (HEADER)``, the floor.

Reported per run: rows per second, MB written, peak resident memory (VmHWM) minus
the process's resident memory after opening the store, and the Python heap's
peak (tracemalloc). The CSV writer holds at most one batch of lines in Python;
DuckDB's own working memory (the ORDER BY) is in the RSS figure for both runs.
Never run by the tests (no timed assertions there).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _vm(field: str) -> int:
    """A /proc/self/status figure in bytes (VmRSS, VmHWM); ru_maxrss elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def build_store(path: Path, rows: int, source: str = "auto") -> None:
    """A store with ``rows`` retention records: the demo seed when it is there,
    else a deterministic generator in SQL (same shape, some injection-prone text)."""
    sys.path.insert(0, str(ROOT))
    from dashboard.access import cli_actor
    from dashboard.reference import sync_reference
    from dashboard.store import Store

    store = Store(path)
    store.migrate(cli_actor())
    with store.write(cli_actor(), "store.admin") as w:
        sync_reference(w.cur)
        w.audit("reference.sync", "reference")
    demo = None
    if source in ("auto", "demo"):
        try:
            from dashboard import demo
        except ImportError:
            if source == "demo":
                raise
    if demo is not None:
        demo.seed(store, cli_actor(), scale="large", retention_records=rows)
        how = "dashboard.demo.seed(scale='large')"
    else:
        with store.write(cli_actor(), "register.import") as w:
            w.execute(
                "INSERT INTO retention_records SELECT i, 'SUB-' || lpad(CAST(i % 5000000 AS "
                "VARCHAR), 8, '0'), (['name','phone','address','location','resume','photo'])"
                "[1 + i % 6], (['crm','app','hr','billing'])[1 + i % 4], "
                "CASE WHEN i % 50 = 0 THEN 'HK' ELSE 'CN' END, "
                "DATE '2020-01-01' + CAST(i % 2000 AS INTEGER), "
                "CASE WHEN i % 3 = 0 THEN DATE '2025-01-01' + CAST(i % 600 AS INTEGER) END, "
                "CASE WHEN i % 7 = 0 THEN DATE '2026-01-01' END, "
                "CASE WHEN i % 97 = 0 THEN 'law_or_regulation' END, "
                "CASE WHEN i % 97 = 0 THEN '=HOLD-' || CAST(i AS VARCHAR) END, "
                "CASE WHEN i % 97 = 0 THEN DATE '2027-01-01' END "
                "FROM range(1, ? + 1) t(i)", [rows])
            w.audit("register.import", "retention_records", None, after={"rows": rows})
        how = "SQL generator"
    n = store.scalar("SELECT count(*) FROM retention_records")
    store.close()
    print(f"store {path}: {n:,} retention records ({how})", file=sys.stderr)


def child(kind: str, db: str, out: str) -> dict:
    """One measured run (in its own process)."""
    sys.path.insert(0, str(ROOT))
    from dashboard.access import cli_actor
    from dashboard.store import Store
    from dashboard import exports

    store = Store(db)
    with store.cursor() as cur:           # warm the catalog, as a running app would be
        cur.execute("SELECT count(*) FROM retention_records").fetchone()
    base = _vm("VmRSS")
    hwm_reset = _reset_hwm()
    tracemalloc.start()
    t0 = time.perf_counter()
    if kind == "export":
        result = exports.export_file(store, cli_actor(), "retention_records", out)
        rows, size = result.rows, result.bytes
    elif kind == "zip":
        dl = exports.open_download(store, cli_actor(), "retention_records", compress=True)
        rows = dl.result.rows
        size = os.fstat(dl.file.fileno()).st_size
        dl.file.close()
    elif kind == "copy":
        with store.cursor() as cur:
            cur.execute(f"COPY (SELECT * FROM retention_records ORDER BY record_id) TO "
                        f"'{out}' (FORMAT csv, HEADER true)")
        rows = store.scalar("SELECT count(*) FROM retention_records")
        size = os.path.getsize(out)
    else:
        raise SystemExit(f"unknown run {kind}")
    seconds = time.perf_counter() - t0
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm = _vm("VmHWM")
    store.close()
    return {"run": kind, "rows": rows, "seconds": round(seconds, 2),
            "rows_per_s": int(rows / seconds) if seconds else 0,
            "mb": round(size / 1e6, 1),
            "peak_rss_over_base_mb": round((hwm - base) / 1e6, 1) if hwm_reset else None,
            "peak_rss_mb": round(hwm / 1e6, 1),
            "python_heap_peak_mb": round(py_peak / 1e6, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--db", help="reuse this store (must hold retention records)")
    ap.add_argument("--source", choices=("auto", "demo", "sql"), default="auto",
                    help="how to fill a new store: the demo seed (auto: when present) or a "
                         "SQL generator")
    ap.add_argument("--runs", default="export,copy,zip",
                    help="comma-separated: export, copy, zip")
    ap.add_argument("--keep", action="store_true", help="keep the temporary store and files")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.child, args.db, args.out)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    db = Path(args.db) if args.db else work / "bench.duckdb"
    if not args.db:
        t0 = time.perf_counter()
        build_store(db, args.rows, args.source)
        print(f"built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    results = []
    for kind in [k.strip() for k in args.runs.split(",") if k.strip()]:
        out = work / f"{kind}.csv"
        env = {**os.environ, "COMPLIANCE_EXPORT_TMP": str(work)}
        proc = subprocess.run([sys.executable, "-m", "bench.bench_export", "--child", kind,
                               "--db", str(db), "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True, env=env)
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        out.unlink(missing_ok=True)
    head = ("run", "rows", "seconds", "rows_per_s", "mb", "peak_rss_over_base_mb",
            "peak_rss_mb", "python_heap_peak_mb")
    print(" | ".join(head))
    for r in results:
        print(" | ".join(f"{r[h]:,}" if isinstance(r[h], int) else str(r[h]) for h in head))
    by = {r["run"]: r for r in results}
    if "export" in by and "copy" in by and by["copy"]["rows_per_s"]:
        print(f"export speed = {by['export']['rows_per_s'] / by['copy']['rows_per_s']:.2f} x "
              f"raw COPY")
    if not args.keep and not args.db:
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    elif args.keep:
        print(f"kept {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

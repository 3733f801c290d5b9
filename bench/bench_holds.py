"""Time a bulk legal hold (issue 18, ``dashboard/holds.py``) on the large store, next to raw
DuckDB doing the same UPDATE on a copy of the same data.

    .venv/bin/python -m bench.bench_holds [--db PATH] [--filter FIELD=VALUE ...] [--work DIR]

The store given (default bench/out/large.duckdb, made by ``python -m dashboard seed --scale
large``: 10,000,000 retention records, a third in the system ``web-analytics``) is never
modified: it is copied twice to ``--work`` (default: a temporary folder, removed at the end)
with its sidecar files (``bench.common.copy_store``; the copy is migrated to migration 0021 if
behind), once for the app and once for raw DuckDB. It prints the machine, the records the
filter matches, and:

1. **set**: ``holds.set_hold`` on the filter (``--filter``, default ``system=web-analytics``):
   the validation and preview count, then one write: the covered records listed in
   ``legal_hold_records`` (one INSERT ... SELECT), one ``legal_holds`` row, the records' hold
   columns set (one UPDATE), the audit entry with the digests of the three tables, the commit;
   the same for **review** (a new review date) and **lift**;
2. the part of each spent on the audit's digests (the keyed sums of the covered rows before
   and after, ``Writer.changing_rows``, and of the appended rows), and what a digest of the
   whole ``retention_records`` table costs (what each write would pay without
   ``changing_rows``);
3. **raw DuckDB**, on the other copy, in a plain connection: the same UPDATE of the hold
   columns over the same records (``WHERE <filter> AND not deleted AND hold_reason IS
   NULL``), committed; then the same with the membership INSERT as the app writes it; the
   review's and the lift's UPDATEs;
4. that the audit log verifies afterwards (``audit.verify``: every table's digest recomputed),
   i.e. the digests the entries recorded are exact.

Never a timed assertion: figures are for reading.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from bench.common import copy_store, cores, load, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = ROOT / "bench" / "out" / "large.duckdb"

TIMERS: dict[str, float] = {}


@contextmanager
def timed(name: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        TIMERS[name] = TIMERS.get(name, 0.0) + time.perf_counter() - t0


def _instrument() -> None:
    """Count the time spent in the audit's digests (the keyed sums of rows) apart."""
    from dashboard import audit

    for name in ("rows_sums", "table_digest"):
        original = getattr(audit, name)

        def wrapper(*a, _original=original, **kw):
            with timed("digests"):
                return _original(*a, **kw)
        setattr(audit, name, wrapper)


def _parse_filter(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        field, _, value = item.partition("=")
        out[field.strip()] = value.strip()
    return out


def _raw(path: Path, filter_: dict[str, str], today: dt.date) -> dict[str, float]:
    """The same changes in a plain DuckDB connection, each committed."""
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    where = " AND ".join(f"{k} = ${k}" for k in filter_)
    params = {**filter_, "today": today}
    target = (f"{where} AND (deleted_on IS NULL OR deleted_on > $today) "
              "AND hold_reason IS NULL")
    out = {}

    def run(name, sql, p):
        t0 = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        for statement in ([sql] if isinstance(sql, str) else sql):
            con.execute(statement, {k: v for k, v in p.items() if f"${k}" in statement})
        con.execute("COMMIT")
        out[name] = time.perf_counter() - t0

    run("update", f"UPDATE retention_records SET hold_reason = 'court_or_legal_proceedings', "
                  f"hold_reference = 'bench', hold_review_on = DATE '2027-06-30' "
                  f"WHERE {target}", params)
    n = con.execute("SELECT count(*) FROM retention_records WHERE hold_reference = 'bench'"
                    ).fetchone()[0]
    out["records"] = n
    run("review", "UPDATE retention_records SET hold_review_on = DATE '2027-12-31' "
                  "WHERE hold_reference = 'bench'", {})
    run("lift", "UPDATE retention_records SET hold_reason = NULL, hold_reference = NULL, "
                "hold_review_on = NULL WHERE hold_reference = 'bench'", {})
    # as the app writes a hold: the list of covered records, then the UPDATE by that list
    run("insert_update", [
        f"INSERT INTO legal_hold_records SELECT 999, record_id FROM retention_records "
        f"WHERE {target}",
        "UPDATE retention_records SET hold_reason = 'court_or_legal_proceedings', "
        "hold_reference = 'bench2', hold_review_on = DATE '2027-06-30' WHERE record_id IN "
        "(SELECT record_id FROM legal_hold_records WHERE hold_id = 999)"], params)
    con.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_holds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--filter", action="append", default=None, metavar="FIELD=VALUE",
                        help="subject_ref, category or system (repeat to combine); default "
                             "system=web-analytics")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the copies (default: a temporary one, removed)")
    args = parser.parse_args(argv)
    if not args.db.exists():
        parser.error(f"no store at {args.db}: make one with `python -m dashboard --db "
                     f"{args.db} init` and `seed --scale large`")
    filter_ = _parse_filter(args.filter or ["system=web-analytics"])

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_holds_"))
    try:
        app_path = copy_store(args.db, work / "holds_app.duckdb")
        raw_path = copy_store(args.db, work / "holds_raw.duckdb")
        return _bench(app_path, raw_path, filter_)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _bench(app_path: Path, raw_path: Path, filter_: dict[str, str]) -> int:
    sys.path.insert(0, str(ROOT))
    from dashboard import audit
    from dashboard import holds as H
    from dashboard.access import cli_actor
    from dashboard.store import Store

    _instrument()
    actor = cli_actor()
    store = Store(app_path)
    today = store.now().date()
    threads = store.scalar("SELECT current_setting('threads')")
    total = store.scalar("SELECT count(*) FROM retention_records")
    print(f"legal holds: cores {cores()}, DuckDB {duckdb.__version__} with {threads} threads, "
          f"{load()}")
    print(f"store {app_path.name}: {total:,} retention records; filter {filter_}; "
          f"today {today}")

    with timed("preview"):
        p = H.preview(store, filter_)
    print(f"preview: {p.matching:,} match, {p.deleted:,} deleted, {p.held_elsewhere:,} on an "
          f"imported hold, {p.on_other_hold:,} on another hold: the hold covers "
          f"{p.to_hold:,} ({TIMERS['preview']:.2f} s)")

    review_on = today + dt.timedelta(days=180)
    rows = []
    held: dict[str, int] = {}
    for name, call in (
            ("set", lambda: H.set_hold(store, actor, filter_, "court_or_legal_proceedings",
                                       "(2026)沪0115民初4521号 preservation order", review_on)),
            ("review", lambda: H.review_hold(store, actor, held["id"], review_on
                                             + dt.timedelta(days=90), "still needed")),
            ("lift", lambda: H.lift_hold(store, actor, held["id"], "case closed"))):
        TIMERS.pop("digests", None)
        t0 = time.perf_counter()
        result = call()
        took = time.perf_counter() - t0
        held["id"] = result.hold_id
        rows.append((name, result.count, took, TIMERS.get("digests", 0.0)))

    ring = audit.load_keyring(store.path)
    with store.cursor() as cur:
        t0 = time.perf_counter()
        audit.table_digest(cur, "retention_records", ring.current_secret)
        full_digest = time.perf_counter() - t0
    t0 = time.perf_counter()
    verified = audit.verify(store)
    verify_s = time.perf_counter() - t0
    store.close()

    raw = _raw(raw_path, filter_, today)
    print()
    print(f"{'action':<8} {'records':>11} {'app s':>8} {'of which digests s':>19} "
          f"{'raw DuckDB s':>13} {'app / raw':>10}")
    raw_for = {"set": raw["update"], "review": raw["review"], "lift": raw["lift"]}
    for name, count, took, digests in rows:
        print(f"{name:<8} {count:>11,} {took:>8.2f} {digests:>19.2f} {raw_for[name]:>13.2f} "
              f"{took / raw_for[name]:>9.1f}x")
    print()
    print(f"raw DuckDB, the hold as the app writes it (INSERT of the covered list + UPDATE by "
          f"it): {raw['insert_update']:.2f} s for {raw['records']:,} records")
    print(f"a digest of the whole retention_records table ({total:,} rows), what each write "
          f"would add without Writer.changing_rows: {full_digest:.2f} s")
    print(f"audit verify after the three actions: {'ok' if verified.ok else 'FAILED'} "
          f"({verified.tables_checked} tables recomputed, {verify_s:.1f} s)"
          + ("" if verified.ok else f": {verified.reason}"))
    print(f"peak RSS {peak_rss_mb():.0f} MiB")
    return 0 if verified.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Time the rights requests' deletion proof on the large store, next to raw DuckDB.

    .venv/bin/python -m bench.bench_requests [--db PATH] [--as-of DATE] [--repeat N]

Run it on a store made by ``python -m dashboard seed --scale large`` (10,000,000 retention
records, 200,000 rights requests). It prints the machine (cores, DuckDB threads), the
sizes, and:

1. **the deletion proof for one subject**, as the Request page shows it:
   ``dashboard.requests.deletion_proof(store, request_id)`` (the request, the count of the
   subject's records neither deleted nor on hold on the completion date, and the first 200
   of them), on a completed deletion whose proof is not empty - cold (a store just opened
   in this process) and warm (median of ``--repeat``); raw: the same statements on a plain
   ``duckdb.connect`` (cold: a fresh connection; warm: median);
2. **the proof for all completed deletions**: DSR-DELETION-DONE's SQL (data/rules), that
   is every completed deletion or account cancellation against the 10 M records, counted
   (``SELECT count(*), count_if(failing) FROM (<rule>)``) - through the store's cursor with
   the engine's macros, and on a plain connection, cold and warm.

Never a timed assertion: figures are for reading and depend on the machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _proof_sql() -> tuple[str, str, str]:
    where = ("subject_ref = $subject AND (deleted_on IS NULL OR deleted_on > $as_of) "
             "AND hold_reason IS NULL")
    from dashboard.requests import PROOF_COLUMNS
    return ("SELECT * FROM rights_requests WHERE request_id = $id",
            f"SELECT count(*) FROM retention_records WHERE {where}",
            f"SELECT {', '.join(PROOF_COLUMNS)} FROM retention_records WHERE {where} "
            "ORDER BY record_id LIMIT 200")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_requests", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="the store (default: $COMPLIANCE_DB or data/compliance.duckdb)")
    ap.add_argument("--as-of", default="2026-11-24", help="the check date (default 2026-11-24)")
    ap.add_argument("--repeat", type=int, default=5, help="warm runs (the median is shown)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.common import cores, peak_rss_mb
    from dashboard import requests
    from dashboard.rules import load_rules, macros_sql
    from dashboard.settings import load_settings
    from dashboard.store import Store, default_db_path

    path = default_db_path(args.db)
    settings = load_settings()
    tz = settings.timezone
    as_of = dt.datetime.combine(dt.date.fromisoformat(args.as_of), dt.time(23, 59, 59),
                                dt.timezone(dt.timedelta(hours=8)))
    rule = next(r for r in load_rules() if r.rule_id == "DSR-DELETION-DONE")

    con = duckdb.connect(str(path), read_only=True)
    con.execute(f"SET TimeZone = '{tz}'")
    sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
             for t in ("retention_records", "rights_requests", "request_events")}
    done = con.execute("SELECT count(*) FROM rights_requests WHERE status = 'completed' "
                       "AND kind IN ('delete', 'cancel_account')").fetchone()[0]
    # a completed deletion whose proof is not empty (the page's interesting case), the
    # first by id; else the first completed deletion
    rid, subject, completed = con.execute("""
        SELECT q.request_id, q.subject_ref, q.completed_at FROM rights_requests q
        WHERE q.status = 'completed' AND q.kind IN ('delete', 'cancel_account')
        ORDER BY EXISTS (SELECT 1 FROM retention_records r WHERE r.subject_ref = q.subject_ref
                         AND r.hold_reason IS NULL AND (r.deleted_on IS NULL
                              OR r.deleted_on > CAST(q.completed_at AS DATE))) DESC,
                 q.request_id LIMIT 1""").fetchone()
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    version = duckdb.__version__
    con.close()
    proof_on = completed.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    print(f"Rights requests benchmark: cores {cores()}, DuckDB {version} with {threads} "
          f"threads; store {path} ({path.stat().st_size / 2**30:.2f} GiB)")
    print("sizes: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items())
          + f"; completed deletions and cancellations {done:,}")
    print(f"one subject: {rid} ({subject}, completed {proof_on}); warm = median of "
          f"{args.repeat}\n")

    # 1. the deletion proof for one subject -------------------------------------------
    t0 = time.perf_counter()
    store = Store(path, read_only=True, settings=settings)
    proof = requests.deletion_proof(store, rid)
    app_cold = time.perf_counter() - t0
    app_warm = _median(lambda: requests.deletion_proof(store, rid), args.repeat)
    q_req, q_count, q_rows = _proof_sql()
    params = {"subject": subject, "as_of": proof_on}

    def raw(c) -> None:
        c.execute(q_req, {"id": rid}).fetchall()
        c.execute(q_count, params).fetchall()
        c.execute(q_rows, params).fetchall()

    t0 = time.perf_counter()
    c = duckdb.connect(str(path), read_only=True)
    c.execute(f"SET TimeZone = '{tz}'")
    raw(c)
    raw_cold = time.perf_counter() - t0
    raw_warm = _median(lambda: raw(c), args.repeat)
    c.close()

    # 2. all completed deletions: DSR-DELETION-DONE ------------------------------------
    count_sql = f"SELECT count(*), count_if(failing) FROM ({rule.query})"
    rparams = {p: as_of for p in rule.params}
    with store.cursor() as cur:
        cur.execute(macros_sql())
        t0 = time.perf_counter()
        n_app, failing = cur.execute(count_sql, rparams).fetchone()
        rule_app_first = time.perf_counter() - t0
        rule_app_warm = _median(lambda: cur.execute(count_sql, rparams).fetchall(),
                                args.repeat)
    store.close()
    t0 = time.perf_counter()
    c = duckdb.connect(str(path), read_only=True)
    c.execute(f"SET TimeZone = '{tz}'")
    c.execute(macros_sql())
    n_raw, _ = c.execute(count_sql, rparams).fetchone()
    rule_raw_cold = time.perf_counter() - t0
    rule_raw_warm = _median(lambda: c.execute(count_sql, rparams).fetchall(), args.repeat)
    c.close()

    rows = [
        ("deletion proof, one subject (app: requests.deletion_proof)",
         app_cold, raw_cold, app_warm, raw_warm,
         f"{proof.count:,} records kept"),
        ("all completed deletions (DSR-DELETION-DONE, counted)",
         rule_app_first, rule_raw_cold, rule_app_warm, rule_raw_warm,
         f"{n_app:,} requests, {failing:,} failing"),
    ]
    print("| measurement | app cold s | raw cold s | app warm s | raw warm s | result |")
    print("|---|---|---|---|---|---|")
    for label, a_c, r_c, a_w, r_w, what in rows:
        print(f"| {label} | {a_c:.3f} | {r_c:.3f} | {a_w:.3f} | {r_w:.3f} | {what} |")
    assert n_app == n_raw      # the same query on the same data (a sanity check, not a time)
    print(f"\n(app cold for the rule: first run on the store's connection, opened for the "
          f"proof above; peak RSS {peak_rss_mb():.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

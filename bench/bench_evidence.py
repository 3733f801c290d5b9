"""Attaching the 10,000th evidence file: the audit digest adds the new rows, it does not
rehash the files already stored.

`python -m bench.bench_evidence [--files 9999] [--kb 50]` builds a fresh store in a
temporary folder, loads ``--files`` files of ``--kb`` KB (distinct filler, one audited write
with the digests computed in full), then times

- one attach through ``dashboard.evidence.attach`` (the appended digest: the new rows only);
- what a write that did not declare its appended rows would add: ``audit.table_digest`` of
  ``evidence_blobs`` (every stored byte) and of ``evidence_events``;
- ``audit verify`` (reads everything, as it must);
- an audit pack of one incident with its files.

Measures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import cores, load, peak_rss_mb


def main(argv: list[str] | None = None) -> int:
    from dashboard import audit, demo, evidence, exports
    from dashboard.access import Actor, cli_actor
    from dashboard.reference import sync_reference
    from dashboard.settings import Settings
    from dashboard.store import Store

    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=9_999)
    parser.add_argument("--kb", type=int, default=50)
    args = parser.parse_args(argv)
    now = dt.datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    system, dpo = cli_actor(), Actor("dpo.li", "dpo")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb", settings=Settings(), clock=lambda: now)
        store.migrate(system)
        with store.write(system, "store.admin") as w:
            sync_reference(w.cur)
            w.audit("reference.sync", "reference")
        demo.seed(store, system, scale="demo", as_of=now.date())
        incident = store.scalar("SELECT min(incident_id) FROM incidents")
        started = time.perf_counter()
        size = args.kb * 1024
        with store.write(system, "store.admin") as w:
            # distinct binary filler per file (a random md5's 16 bytes, repeated: escaped
            # as \xNN when a row is hashed, like a real compressed file's bytes)
            w.execute(
                "INSERT INTO evidence_blobs SELECT sha256(c), octet_length(c), "
                "'application/pdf', c FROM (SELECT CAST('%PDF-1.4 ' || i || ' ' AS BLOB) || "
                f"unhex(repeat(md5(CAST(random() AS VARCHAR)), {size // 16})) AS c "
                f"FROM range({args.files}) t(i))")
            w.execute(
                "INSERT INTO evidence_events SELECT row_number() OVER (ORDER BY sha256), "
                "'incident', ?, 'attach', sha256, 'file.pdf', media_type, size, "
                "NULL, NULL, NULL, 'cli:bench', 'system', ?, 0 FROM evidence_blobs", [incident, now])
            w.audit("schema.migrate", "schema", None, after={"bench": "evidence files"})
        loaded = time.perf_counter() - started
        stored_mb = store.scalar("SELECT sum(size) FROM evidence_blobs") / 1048576
        pdf = b"%PDF-1.4\n% the 10,000th file\n%%EOF\n"

        attach_s = []
        for n in range(3):
            started = time.perf_counter()
            evidence.attach(store, dpo, "incident", incident, f"last{n}.pdf", pdf + b"%" * n)
            attach_s.append(time.perf_counter() - started)

        ring = store.keyring()
        with store.cursor() as cur:
            started = time.perf_counter()
            audit.table_digest(cur, "evidence_blobs", ring.current_secret)
            audit.table_digest(cur, "evidence_events", ring.current_secret)
            full_s = time.perf_counter() - started

        started = time.perf_counter()
        result = audit.verify(store)
        verify_s = time.perf_counter() - started

        started = time.perf_counter()
        pack = exports.build_pack(store, dpo, [("incident_events",
                                                {"incident_id": [incident]})],
                                  io.BytesIO()) if args.files < 990 else None
        pack_s = time.perf_counter() - started
        store.close()
    print(f"evidence files: {args.files:,} stored ({stored_mb:,.0f} MB) in {loaded:.1f} s; "
          f"{cores()} cores; {load()}")
    print("| what | seconds |")
    print("|---|---|")
    print(f"| attach files {args.files + 1:,} to {args.files + 3:,} (appended digest: their "
          f"rows only), each | {' / '.join(f'{t:.3f}' for t in attach_s)} |")
    print(f"| a full rehash of evidence_blobs + evidence_events (what an undeclared append "
          f"would add to every attach) | {full_s:.3f} |")
    print(f"| audit verify (everything; ok={result.ok}) | {verify_s:.2f} |")
    if pack is not None:
        print(f"| audit pack of the incident ({len(pack.manifest['evidence'])} files) | "
              f"{pack_s:.2f} |")
    print(f"peak RSS {peak_rss_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Streamed-download benchmark: the ``/export/csv`` route of ``streamlit run server.py``
against raw DuckDB ``COPY ... TO``, on the 10,000,000-row retention register.

    .venv/bin/python -m bench.bench_stream [--db STORE] [--rows N] [--gzip] [--keep]

The store: ``--db`` (made by ``python -m dashboard seed --scale large``; the demo
accounts are added with ``python -m dashboard user demo-accounts``, which refuses a
store holding real accounts), or else one built under /tmp with those commands
(``--rows`` retention records, default 10,000,000).

Then, as a user would:

1. ``streamlit run server.py`` serves the store on a free localhost port;
2. Chromium (Playwright) signs in as the demo auditor, opens Exports, chooses the
   retention register and clicks "Prepare the download": the page issues a ticket
   in the server process and shows the one-time link (its ``href`` as the browser
   resolves it, so the relative link is checked too); then the bench waits until
   the server is idle (the pages opened on the way have finished their queries);
3. this process downloads the link over HTTP (``httpx``, ``Accept-Encoding:
   identity``, or ``gzip`` with ``--gzip``, as browsers send), hashing what
   arrives, while it samples the server's memory and times ``/_stcore/health``
   every 0.25 s (the event loop's responsiveness for the other users);
4. the server is stopped and the store's last audit entry is checked against the
   download (rows, SHA-256, ``complete``).

Reported: rows/s, MB, the server's peak RSS (VmHWM, reset just before the download,
minus its RSS then), the largest RSS sampled, the health check's worst latency;
and the same register written by raw ``COPY (SELECT * ... ORDER BY record_id) TO``
and by ``exports.export_file`` (fresh processes, see ``bench.bench_export``).
Never run by the tests (no timed assertions there).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AUDITOR = ("auditor", "auditor-demo-password")     # dashboard.accounts.DEMO_ACCOUNTS


def _cli(db: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "dashboard", "--db", str(db), *args],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"dashboard {' '.join(args)} failed:\n{proc.stderr}")


def build_store(db: Path, rows: int) -> None:
    t0 = time.perf_counter()
    _cli(db, "init")
    seed = ["seed", "--scale", "large", "--as-of", "2026-11-24"]
    if rows != 10_000_000:
        seed += ["--retention-records", str(rows)]
    _cli(db, *seed)
    _cli(db, "user", "demo-accounts")
    print(f"built {db} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = 300) -> float:
    """Wait until the server has used under 5% of a core for two seconds running (the
    pages the browser opened, e.g. the overview's compliance check over the whole
    store, may still be finishing), so that the download is measured alone."""
    t0 = time.monotonic()
    quiet = 0
    while quiet < 2 and time.monotonic() - t0 < timeout:
        before = _cpu_seconds(pid)
        time.sleep(1)
        quiet = quiet + 1 if _cpu_seconds(pid) - before < 0.05 else 0
    return time.monotonic() - t0


def serve(db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    import httpx
    port = _free_port()
    env = dict(os.environ, COMPLIANCE_DB=str(db), PYTHONUNBUFFERED="1")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/_stcore/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


def ticket_url(base: str) -> str:
    """Sign in as the demo auditor and prepare the retention register's link."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(base)
        page.get_by_role("textbox", name="Username").fill(AUDITOR[0])
        page.get_by_role("textbox", name="Password").fill(AUDITOR[1])
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Exports").click()
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="Retention", exact=True).click()
        page.get_by_role("button", name="Prepare the download").click()
        link = page.get_by_role("link", name="Download CSV (streamed)")
        url = link.evaluate("a => a.href")          # the relative href, resolved
        browser.close()
    return url


def download(url: str, pid: int, base: str, gzip: bool) -> dict:
    import httpx
    stop = threading.Event()
    rss_max = [0]
    health: list[float] = []

    def sample() -> None:
        while not stop.is_set():
            rss_max[0] = max(rss_max[0], _status(pid)["VmRSS"])
            stop.wait(0.05)

    def poll_health() -> None:
        with httpx.Client(timeout=30) as c:
            while not stop.is_set():
                t = time.perf_counter()
                c.get(f"{base}/_stcore/health")
                health.append(time.perf_counter() - t)
                stop.wait(0.25)

    Path(f"/proc/{pid}/clear_refs").write_text("5")     # VmHWM := VmRSS (Linux)
    before = _status(pid)
    threads = [threading.Thread(target=sample), threading.Thread(target=poll_health)]
    for t in threads:
        t.start()
    digest, size, wire, first = hashlib.sha256(), 0, 0, None
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    t0 = time.perf_counter()
    try:
        with httpx.stream("GET", url, headers=headers, timeout=600) as r:
            if r.status_code != 200:
                raise SystemExit(f"download refused: {r.status_code} {r.read()!r}")
            disposition = r.headers.get("content-disposition")
            encoding = r.headers.get("content-encoding", "identity")
            for chunk in r.iter_bytes(1 << 20):
                if first is None:
                    first = time.perf_counter() - t0
                digest.update(chunk)
                size += len(chunk)
            wire = r.num_bytes_downloaded
        seconds = time.perf_counter() - t0
    finally:
        stop.set()
        for t in threads:
            t.join()
    after = _status(pid)
    return {"seconds": seconds, "first_byte_s": first, "bytes": size, "wire_bytes": wire,
            "sha256": digest.hexdigest(), "disposition": disposition, "encoding": encoding,
            "rss_before": before["VmRSS"], "hwm": after["VmHWM"], "rss_max": rss_max[0],
            "health_max_s": max(health) if health else None,
            "health_median_s": statistics.median(health) if health else None,
            "health_checks": len(health)}


def last_export_entry(db: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from dashboard.store import Store
    with Store(db, read_only=True) as store:
        row = store.rows("SELECT actor, values_after FROM audit_log "
                         "WHERE action = 'export.download' ORDER BY seq DESC LIMIT 1")[0]
    return {"actor": row[0], **json.loads(row[1])}


def compare(kind: str, db: Path, work: Path) -> dict:
    out = work / f"{kind}.csv"
    proc = subprocess.run([sys.executable, "-m", "bench.bench_export", "--child", kind,
                           "--db", str(db), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**os.environ, "COMPLIANCE_EXPORT_TMP": str(work)})
    out.unlink(missing_ok=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_stream", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="a store from `seed --scale large` (demo accounts are added)")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--gzip", action="store_true",
                    help="accept gzip, as browsers do (Streamlit's middleware compresses)")
    ap.add_argument("--compare", default="copy,export",
                    help="also run these bench.bench_export runs (comma-separated; '' none)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    try:
        return run(args, work)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:                      # the folder holds the built store (if any) and the log
            for p in work.iterdir():
                p.unlink()
            work.rmdir()


def run(args, work: Path) -> int:
    db = Path(args.db) if args.db else work / "large.duckdb"
    if not args.db:
        build_store(db, args.rows)
    else:       # idempotent; refuses a store with real accounts (published passwords)
        _cli(db, "user", "demo-accounts")
    proc, base = serve(db, work / "streamlit.log")
    try:
        url = ticket_url(base)
        print(f"ticket link: {url.split('ticket=')[0]}ticket=…", file=sys.stderr)
        waited = wait_idle(proc.pid)
        print(f"server idle after {waited:.0f} s; downloading", file=sys.stderr)
        r = download(url, proc.pid, base, args.gzip)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    entry = last_export_entry(db)
    ok = entry.get("sha256") == r["sha256"] and entry.get("complete") is True \
        and entry.get("bytes") == r["bytes"]
    rows = entry["rows"]
    results = [{
        "run": "stream" + (" (gzip)" if args.gzip else ""), "rows": rows,
        "seconds": round(r["seconds"], 2), "rows_per_s": int(rows / r["seconds"]),
        "mb": round(r["bytes"] / 1e6, 1),
        "peak_rss_over_base_mb": round((r["hwm"] - r["rss_before"]) / 1e6, 1),
        "peak_rss_mb": round(r["hwm"] / 1e6, 1), "python_heap_peak_mb": "—"}]
    for kind in [k.strip() for k in args.compare.split(",") if k.strip()]:
        results.append(compare(kind, db, work))
    head = ("run", "rows", "seconds", "rows_per_s", "mb", "peak_rss_over_base_mb",
            "peak_rss_mb", "python_heap_peak_mb")
    print(" | ".join(head))
    for x in results:
        print(" | ".join(f"{x[h]:,}" if isinstance(x[h], int) else str(x[h]) for h in head))
    print(f"stream: first byte after {r['first_byte_s']:.1f} s; {r['wire_bytes'] / 1e6:.1f} MB "
          f"on the wire ({r['encoding']}); largest sampled server RSS "
          f"{r['rss_max'] / 1e6:.0f} MB (before: {r['rss_before'] / 1e6:.0f} MB); "
          f"/_stcore/health during the download: median {r['health_median_s'] * 1000:.0f} ms, "
          f"worst {r['health_max_s'] * 1000:.0f} ms over {r['health_checks']} checks")
    print(f"audit entry: {entry['actor']}, rows {rows:,}, complete {entry.get('complete')}, "
          f"sha256 {'matches' if ok else 'DOES NOT MATCH'} the download; {r['disposition']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

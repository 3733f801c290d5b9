"""Issue 16: the server's scheduler sends every reminder once, also when the server is
killed between queuing and sending. A demo store served by ``streamlit run server.py``
with its scheduler on, every role's channel a local JSON receiver (Apprise ``json://``):
the first scan queues the reminders; the server is killed (SIGKILL) before its first
delivery, started again, and delivers each queued reminder exactly once."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import DEMO_AS_OF, ROOT
from receivers import HttpReceiver
from serving import served

pytestmark = pytest.mark.slow


def _wait_for(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_killed_server_delivers_each_queued_reminder_once_after_restart(tmp_path):
    db = tmp_path / "store.duckdb"
    for args in (["init"], ["seed", "--scale", "demo", "--as-of", DEMO_AS_OF.isoformat()]):
        done = subprocess.run([sys.executable, "-m", "dashboard", "--db", str(db), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    with HttpReceiver() as bots:
        hook = bots.url("reminders")
        env = {"COMPLIANCE_DB": str(db), "COMPLIANCE_SCHEDULER": "on",
               **{f"COMPLIANCE_NOTIFY_{role}": hook
                  for role in ("DPO", "MANAGER", "AUDITOR", "ADMIN")}}
        first_log = tmp_path / "first.log"
        with served("server.py", env=env, log=first_log) as server:
            # the first scan runs 10 s after start, the first delivery 30 s after it
            _wait_for(lambda: "reminder scan:" in first_log.read_text(), "the first scan")
            os.kill(server.proc.pid, signal.SIGKILL)        # no shutdown, no delivery
            server.proc.wait(timeout=30)
        assert not bots.received(), "something was sent before the kill"
        assert "delivery:" not in first_log.read_text()
        queued = int(first_log.read_text().split("reminder scan: ")[1].split()[0])
        assert queued > 0

        second_log = tmp_path / "second.log"
        with served("server.py", env=env, log=second_log):
            _wait_for(lambda: "delivery:" in second_log.read_text(), "the delivery", 180)
            time.sleep(2)
        line = next(ln for ln in second_log.read_text().splitlines() if "delivery:" in ln)
        ids = collections.Counter(p.payload.get("dedupe_id") or p.payload["message"]
                                  .rsplit("\n", 1)[-1] for p in bots.received("/reminders"))
    assert "reminder scan:" not in second_log.read_text()   # nothing queued a second time
    assert sum(ids.values()) == len(ids), [k for k, n in ids.items() if n > 1]
    from dashboard.store import Store
    store = Store(db, read_only=True)
    try:
        rows = store.rows("SELECT dedupe_key, status FROM outbox ORDER BY id")
    finally:
        store.close()
    sent = [k for k, status in rows if status == "sent"]
    assert len(rows) >= queued and sent and f"{len(sent)} sent" in line
    assert all(status in ("sent", "superseded") for _k, status in rows), rows
    assert sorted(sent) == sorted(ids), "each sent reminder arrived exactly once"

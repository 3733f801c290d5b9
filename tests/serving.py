"""Serve the app with `streamlit run` on a free localhost port, for tests that need a real
server (the browser journeys, the OIDC round trip, the streamed-download route)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str                  # http://127.0.0.1:<port>
    proc: subprocess.Popen

    def stop(self) -> None:
        """Stop the server (and so release the DuckDB file it holds)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def served(script: str, *, env: dict[str, str], log: Path, port: int | None = None,
           args: Sequence[str] = (), start_timeout: float = 90) -> Iterator[Server]:
    """Run ``streamlit run <script>`` (from the repo root) and yield it once
    ``/_stcore/health`` answers; stop the server afterwards. The server's output goes to
    ``log``, whose tail is in the error if it does not start.

    Hot reload is off: an edit elsewhere in the working tree must not make Streamlit
    re-import the app's modules in the middle of a test.
    """
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
             "--server.runOnSave", "false", *args],
            # No scheduled jobs unless the test asks for them (dashboard/scheduler.py):
            # reminders and a daily check written behind a test's back would change it.
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", "COMPLIANCE_SCHEDULER": "off",
                           **env},
            stdout=out, stderr=subprocess.STDOUT)
    server = Server(base, proc)
    try:
        deadline = time.monotonic() + start_timeout
        while not _healthy(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit run {script} did not start; see {log}:\n"
                                   f"{log.read_text()[-3000:]}")
            time.sleep(0.2)   # polling the server's health endpoint while it starts
        yield server
    finally:
        server.stop()


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False

"""The command line while the app serves (issue 16): ``--server URL`` with a token from
the environment runs ``check``, ``audit verify``, ``export`` and ``user enable|disable``
through the running app, with the same output and exit codes; the README's cron example
runs as written against a served app."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest

from serving import served as serve_app
from conftest import DEMO_AS_OF, FROZEN_NOW, ROOT


def cli(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A demo store served by ``streamlit run server.py``, with tokens for cron (dpo), an
    auditor and an admin, made with the command line before the app starts."""
    tmp = tmp_path_factory.mktemp("remote")
    db = tmp / "store.duckdb"
    for args in (["init"], ["seed", "--scale", "demo", "--as-of", DEMO_AS_OF.isoformat()],
                 ["user", "demo-accounts"]):
        done = cli("--db", str(db), *args, timeout=300)
        assert done.returncode == 0, done.stderr
    made = {}
    for name, role in (("cron", "dpo"), ("evidence", "auditor"), ("ops", "admin")):
        done = cli("--db", str(db), "token", "add", name, "--role", role)
        assert done.returncode == 0, done.stderr
        made[name] = done.stdout.strip().splitlines()[-1]
    env = {"COMPLIANCE_DB": str(db), "COMPLIANCE_FROZEN_NOW": FROZEN_NOW.isoformat()}
    with serve_app("server.py", env=env, log=tmp / "streamlit.log") as server:
        server.db, server.tokens, server.tmp = db, made, tmp
        # the app opens the store (a page or an API call does): from now on it holds it
        first = cli("--server", server.base, "audit", "verify",
                    env={"COMPLIANCE_API_TOKEN": made["evidence"]})
        assert first.returncode == 0, first.stderr
        yield server


def remote(app, token: str, *args: str) -> subprocess.CompletedProcess:
    return cli("--server", app.base, *args, env={"COMPLIANCE_API_TOKEN": app.tokens[token]})


def test_without_server_the_locked_store_is_refused_plainly(app):
    done = cli("--db", str(app.db), "check")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--server" in done.stderr       # the message says what to do instead


def test_check_through_the_app_prints_and_exits_as_the_command_line(app):
    done = remote(app, "cron", "check", "--format", "json", "--fail-on", "high")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    assert findings and {"rule_id", "clause", "severity", "entity_type", "entity_id",
                         "detail"} <= set(findings[0])
    assert "finding(s) at or above high" in done.stderr
    table = remote(app, "cron", "check", "--limit", "3")
    assert table.returncode == 0 and "Snapshot for 2026-11-24 stored." in table.stdout
    # an auditor's token may read but not store the snapshot: the command line's message
    refused = remote(app, "evidence", "check")
    assert refused.returncode == 2 and "Store a compliance snapshot is not allowed" in \
        refused.stderr
    assert remote(app, "evidence", "check", "--no-snapshot", "--format", "csv").returncode == 0


def test_audit_verify_export_and_user_disable_through_the_app(app):
    verify = remote(app, "evidence", "audit", "verify")
    assert verify.returncode == 0 and "audit chain intact" in verify.stdout
    out = app.tmp / "incidents.csv"
    done = remote(app, "evidence", "export", "incidents", "--out", str(out))
    assert done.returncode == 0, done.stderr
    m = re.search(r"wrote (\d+) rows of incidents to .* \(sha256 ([0-9a-f]{64}); audit entry "
                  r"(\d+)\)", done.stdout)
    assert m and "audit chain head: entry" in done.stdout
    text = out.read_text(encoding="utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(text)))) == int(m.group(1)) > 0
    import hashlib
    assert hashlib.sha256(out.read_bytes()).hexdigest() == m.group(2)
    anchored = remote(app, "evidence", "audit", "verify", "--anchor",
                      re.search(r"--anchor (\d+:[0-9a-f]{64})", done.stdout).group(1))
    assert anchored.returncode == 0 and "anchor entry" in anchored.stdout
    disable = remote(app, "ops", "user", "disable", "auditor")
    assert (disable.returncode, disable.stdout) == (0, "disabled user auditor\n")
    assert remote(app, "ops", "user", "enable", "auditor").returncode == 0
    not_admin = remote(app, "cron", "user", "disable", "auditor")
    assert not_admin.returncode == 2 and "Manage user accounts" in not_admin.stderr


@pytest.mark.parametrize("args, env, words", [
    (["import", "incidents", "x.csv"], "cron", "does not run through --server"),
    (["check"], None, "COMPLIANCE_API_TOKEN"),
    (["check"], "cpt_0123456789ab_" + "A" * 43, "not valid"),
    (["export", "incidents", "--out", "x.csv", "--from", "last week"], "evidence", "--from"),
])
def test_bad_input_through_the_app_exits_2_with_a_plain_message(app, args, env, words):
    token = app.tokens.get(env, env) if env else ""
    done = cli("--server", app.base, *args, env={"COMPLIANCE_API_TOKEN": token})
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_app_is_named(tmp_path):
    done = cli("--server", "http://127.0.0.1:9", "check",
               env={"COMPLIANCE_API_TOKEN": "cpt_0123456789ab_" + "A" * 43})
    assert done.returncode == 2 and "cannot reach the app at http://127.0.0.1:9" in done.stderr


def test_the_readme_cron_example_runs_as_written(app):
    """The crontab line of the README, with its paths and port pointed at this test's."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- cron-example -->\n```[a-z]*\n(.*?)```", readme, re.S).group(1)
    (line,) = [ln for ln in block.splitlines() if re.match(r"^[0-9*]", ln)]
    command = line.split(None, 5)[5]                  # after the five time fields
    token_file = app.tmp / "cron.token"
    token_file.write_text(app.tokens["cron"] + "\n")
    log = app.tmp / "check.json"
    command = (command.replace("/srv/compliance", str(ROOT))
                      .replace("/etc/compliance/cron.token", str(token_file))
                      .replace("/var/log/compliance/check.json", str(log))
                      .replace("http://127.0.0.1:8501", app.base)
                      .replace(".venv/bin/python", sys.executable))
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stderr         # high findings in the demo store
    assert json.loads(log.read_text())[0]["severity"] == "high"

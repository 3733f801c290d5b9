"""``python -m dashboard check``: formats, exit codes, bad arguments, snapshots, and the
output equal to ``run_check``'s findings."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import engine
from dashboard.cli import main

from conftest import SYSTEM
from test_rules import D, T0, add, days, incident, processor, record

ROOT = Path(__file__).resolve().parent.parent


def run(store, *args):
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(store.path), "check", *args], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def mixed(store):
    """Findings of every severity, a detail with commas, and a due item."""
    add(store, processor, "PRC-1", storage_region="HK")                       # high
    add(store, processor, "PRC-2", agreement_terms=["purpose"])               # medium, commas
    add(store, record, 7, hold_reason="authority_request", hold_reference=None,
        service_ended_on=days(-300))                                          # low
    add(store, processor, "PRC-3", agreement_expires_on=days(10))             # due only
    return store


def test_json_is_one_array_equal_to_run_check(mixed):
    code, out, err = run(mixed, "--as-of", "2026-11-24", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list) and len(data) == 3
    expected = engine.finding_records(engine.run_check(mixed, D).findings)
    assert data == expected
    for item in data:
        assert {"rule_id", "clause", "severity", "entity_type", "entity_id", "detail"} <= set(item)
    assert [d["severity"] for d in data] == ["high", "medium", "low"]


def test_csv_follows_the_contract_and_equals_run_check(mixed):
    code, out, _ = run(mixed, "--as-of", "2026-11-24", "--format", "csv")
    assert code == 0
    assert out.startswith("rule_id,clause,severity,entity_type,entity_id,detail,due_at\r\n")
    assert "\r\n" in out and not out.replace("\r\n", "").count("\n")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    findings = engine.run_check(mixed, D).findings
    assert [r["rule_id"] for r in rows] == list(findings["rule_id"])
    assert [r["entity_id"] for r in rows] == list(findings["entity_id"])
    assert [r["detail"] for r in rows] == list(findings["detail"])
    terms = next(r for r in rows if r["rule_id"] == "PROC-TERMS")
    assert terms["detail"].startswith("agreement lacks duration, method")   # quoted commas
    assert '"agreement lacks duration, method' in out
    assert all(r["due_at"] == "" for r in rows)


def test_table_lists_findings_then_due_then_scores(mixed):
    code, out, _ = run(mixed, "--as-of", "2026-11-24")
    assert code == 0
    f, d, s, o = (out.index(k) for k in ("FINDINGS: 3", "DUE, not late yet", "SCORES", "OVERALL"))
    assert f < d < s < o
    assert "PROC-LOCATION  [high]  clause 6.1" in out
    assert "processor PRC-1  stores data in HK, outside Chinese Mainland" in out
    assert "PROC-AGREEMENT-EXPIRED  processor PRC-3" in out[d:s]
    assert "Snapshot for 2026-11-24 stored." in out


def test_table_limit_per_rule(store):
    for i in range(1, 6):
        add(store, record, i, storage_region="US")
    _, out, _ = run(store, "--as-of", "2026-11-24", "--limit", "2")
    assert "... and 3 more" in out
    _, out, _ = run(store, "--as-of", "2026-11-24", "--limit", "0")
    assert "more (--limit" not in out


@pytest.mark.parametrize("fail_on, code", [(None, 0), ("high", 1), ("medium", 1), ("low", 1)])
def test_fail_on_counts_findings_at_or_above(mixed, fail_on, code):
    args = ["--as-of", "2026-11-24", "--format", "json"] + (["--fail-on", fail_on] if fail_on else [])
    got, _, err = run(mixed, *args)
    assert got == code
    if code:
        assert f"at or above {fail_on}" in err


def test_fail_on_ignores_lower_findings_and_due_items(store):
    add(store, record, 7, hold_reason="authority_request", hold_reference=None)    # low
    add(store, processor, "PRC-3", agreement_expires_on=days(10))                   # due
    assert run(store, "--as-of", "2026-11-24", "--fail-on", "medium")[0] == 0
    assert run(store, "--as-of", "2026-11-24", "--fail-on", "low")[0] == 1
    with store.write(SYSTEM, "register.edit") as w:
        w.execute("DELETE FROM retention_records")
        w.audit("test.delete", "retention_records")
    assert run(store, "--as-of", "2026-11-24", "--fail-on", "low")[0] == 0   # due only


@pytest.mark.parametrize("args, message", [
    (["--as-of", "2026-02-30"], "--as-of"),
    (["--as-of", "tomorrow"], "not a date"),
    (["--format", "xml"], "invalid choice: 'xml'"),
    (["--fail-on", "urgent"], "invalid choice: 'urgent'"),
    (["--limit", "-1"], "--limit -1"),
    (["--limit", "ten"], "invalid int value"),
])
def test_bad_arguments_exit_2_with_a_clear_message(store, args, message):
    code, out, err = run(store, *args)
    assert code == 2
    assert message in err and err.startswith("error:")
    assert out == ""
    assert store.scalar("SELECT count(*) FROM compliance_snapshots") == 0


def test_check_stores_the_days_snapshot_as_the_system_user(store):
    add(store, processor, "PRC-1", storage_region="HK")
    run(store, "--as-of", "2026-11-24T09:00")
    run(store, "--as-of", "2026-11-24", "--format", "csv")
    snaps = engine.snapshots(store)
    assert len(snaps) == 1 and snaps.iloc[0]["taken_by"].startswith("cli:")
    assert str(snaps.iloc[0]["as_of"]).startswith("2026-11-24 23:59:59")   # the later run won
    run(store, "--as-of", "2026-11-25", "--no-snapshot")
    assert len(engine.snapshots(store)) == 1


def test_as_of_timestamp_sets_the_clock(store):
    add(store, incident, "INC-1", grade="major", detected_at=T0, users_notified_at=None,
        affected_subjects=0)
    _, early, _ = run(store, "--as-of", "2026-11-20T13:00:00+08:00", "--format", "json")
    _, late, _ = run(store, "--as-of", "2026-11-20T14:00:01+08:00", "--format", "json")
    assert json.loads(early) == []
    assert [f["rule_id"] for f in json.loads(late)] == ["INC-REGULATOR-DEADLINE"]


def test_check_from_a_shell(tmp_path):
    """End to end as cron or CI runs it: a separate process, exit code, JSON on stdout."""
    from conftest import make_store
    store = make_store(tmp_path / "cli.duckdb")
    add(store, processor, "PRC-1", storage_region="HK")
    store.close()
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard", "--db", str(tmp_path / "cli.duckdb"), "check",
         "--as-of", "2026-11-24", "--format", "json", "--fail-on", "high"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert [f["entity_id"] for f in json.loads(proc.stdout)] == ["PRC-1"]


def test_a_check_that_cannot_run_exits_2_not_1(store, monkeypatch):
    import duckdb

    def broken(*_a, **_k):
        raise duckdb.IOException("disk gone")
    monkeypatch.setattr(engine, "_fresh_summary", broken)
    code, out, err = run(store, "--as-of", "2026-11-24", "--fail-on", "low")
    assert code == 2 and "the check could not run: " in err and "disk gone" in err

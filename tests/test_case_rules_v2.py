"""The project's own end-to-end case for rules version 2 (tests/cases/rules_v2/README.md).

Files in the data contract's format go in through the command line, as a user's script
would feed them, and the check's JSON must name exactly the findings of expected.json:
every v2 rule fires where it should, and nowhere else.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dashboard import engine
from dashboard.store import Store

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "tests" / "cases" / "rules_v2"
EXPECTED = json.loads((CASE / "expected.json").read_text(encoding="utf-8"))
V2_RULES = {"PROC-TERMS", "PROC-PIA", "SHARE-CONSENT", "INC-USER-NOTICE",
            "INC-REGULATOR-DEADLINE", "INC-GRADE", "INC-PI-AUTHORITY", "INC-POLICE",
            "SHARE-SEPARATE-CONSENT", "SHARE-PIA"}


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard", "--db", str(db), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=180)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    db = tmp_path_factory.mktemp("case") / "case.duckdb"
    assert _cli(db, "init").returncode == 0
    for table in ("processors", "sharing_agreements", "incidents"):
        proc = _cli(db, "import", table, str(CASE / f"{table}.csv"))
        assert proc.returncode == 0, proc.stderr
    return db


def test_the_check_names_exactly_the_expected_findings(imported):
    proc = _cli(imported, "check", "--as-of", EXPECTED["as_of"], "--format", "json")
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout)
    got = sorted((f["rule_id"], f["entity_id"]) for f in findings)
    assert got == sorted(tuple(x) for x in EXPECTED["findings"])


def test_every_v2_rule_is_exercised():
    assert {rule for rule, _ in EXPECTED["findings"]} == V2_RULES


def test_due_items_are_not_findings(imported):
    store = Store(imported)
    try:
        result = engine.run_check(store, EXPECTED["as_of"])
    finally:
        store.close()
    got = sorted((r.rule_id, r.entity_id, pd.Timestamp(r.due_at))
                 for r in result.due.itertuples(index=False))
    want = sorted((rule, entity, pd.Timestamp(at)) for rule, entity, at in EXPECTED["due"])
    assert got == want


def test_the_files_land_whole(imported):
    store = Store(imported)
    try:
        assert store.scalar("SELECT count(*) FROM processors") == 3
        assert store.scalar("SELECT count(*) FROM sharing_agreements") == 8
        assert store.scalar("SELECT count(*) FROM incidents") == 8
        assert store.scalar("SELECT list_contains(agreement_terms, 'rights_obligations') "
                            "FROM processors WHERE processor_id = 'PRC-E2E-01'")
        assert store.scalar("SELECT user_notice_exemption FROM incidents "
                            "WHERE incident_id = 'INC-E2E-05'").startswith("备份磁带")
        assert store.scalar("SELECT economic_loss_cny FROM incidents "
                            "WHERE incident_id = 'INC-E2E-03'") == 30_000_000
    finally:
        store.close()

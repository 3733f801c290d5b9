"""The store's foundations: migrations, settings, locking, the write path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import audit
from dashboard.access import PermissionDenied
from dashboard.registers import REGISTERS
from dashboard.settings import SPECS, Settings, SettingsError, load_settings
from dashboard.store import Store, StoreError, StoreLocked, migrations

from conftest import AUDITOR, SYSTEM, make_store

ROOT = Path(__file__).resolve().parent.parent


def test_migrations_apply_to_empty_store_and_rerun_is_noop(tmp_path):
    s = Store(tmp_path / "m.duckdb")
    applied = s.migrate(SYSTEM)
    assert [m.version for m in applied] == [m.version for m in migrations()]
    assert s.schema_version() == migrations()[-1].version
    entries = s.scalar("SELECT count(*) FROM audit_log")
    assert s.migrate(SYSTEM) == []
    assert s.scalar("SELECT count(*) FROM audit_log") == entries
    assert s.scalar("SELECT count(*) FROM schema_version") == len(migrations())


def test_a_migration_numbered_below_the_current_version_is_still_applied(tmp_path,
                                                                        monkeypatch):
    migs = tmp_path / "migs"
    migs.mkdir()
    for m in migrations()[:1]:
        (migs / m.path.name).write_text(m.sql)
    (migs / "0009_late.sql").write_text("CREATE TABLE late (x INT);")
    monkeypatch.setattr("dashboard.store.MIGRATIONS_DIR", migs)
    s = Store(tmp_path / "o.duckdb")
    s.migrate(SYSTEM)
    assert s.applied_versions() == {1, 9}
    (migs / "0005_merged_later.sql").write_text("CREATE TABLE merged_later (x INT);")
    assert [m.version for m in s.pending_migrations()] == [5]
    with pytest.raises(StoreError, match="migration"):
        s.require_current()
    s.migrate(SYSTEM)
    assert s.applied_versions() == {1, 5, 9}
    assert s.scalar("SELECT count(*) FROM merged_later") == 0


def test_register_tables_match_the_contract_specs(store):
    for reg in REGISTERS.values():
        cols = store.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position", [reg.name])
        assert [c[0] for c in cols][: len(reg.columns)] == reg.column_names


def test_failed_migration_leaves_nothing_behind(tmp_path, monkeypatch):
    bad = tmp_path / "migs"
    bad.mkdir()
    (bad / "0001_ok.sql").write_text("CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, "
                                     "logged_at TIMESTAMPTZ, actor VARCHAR, role VARCHAR, "
                                     "action VARCHAR, entity_type VARCHAR, entity_id VARCHAR,"
                                     " values_before VARCHAR, values_after VARCHAR, "
                                     "prev_hash VARCHAR, hash VARCHAR);")
    (bad / "0002_bad.sql").write_text("CREATE TABLE half (x INT);\nCREATE TABLE broken (;")
    monkeypatch.setattr("dashboard.store.MIGRATIONS_DIR", bad)
    s = Store(tmp_path / "f.duckdb")
    with pytest.raises(Exception):
        s.migrate(SYSTEM)
    assert s.schema_version() == 1
    assert s.scalar("SELECT count(*) FROM information_schema.tables "
                    "WHERE table_name = 'half'") == 0


def test_write_requires_role_and_writes_nothing_when_refused(store):
    before = store.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(PermissionDenied, match="auditor"):
        with store.write(AUDITOR, "register.edit") as w:
            w.execute("DELETE FROM processors")
    assert store.scalar("SELECT count(*) FROM audit_log") == before


def test_write_without_audit_entry_is_rolled_back(store):
    with pytest.raises(StoreError, match="exactly one audit entry"):
        with store.write(SYSTEM, "register.edit") as w:
            w.execute("INSERT INTO processors (processor_id, name, kind, status) "
                      "VALUES ('PRC-X', 'x', 'supplier', 'active')")
    assert store.scalar("SELECT count(*) FROM processors") == 0


def test_every_write_bumps_data_version(store):
    v = store.data_version
    with store.write(SYSTEM, "register.edit") as w:
        w.audit("noop", "test")
    assert store.data_version == v + 1


def test_audit_chain_verifies_and_detects_tampering(store):
    for i in range(3):
        with store.write(SYSTEM, "register.edit") as w:
            w.audit("test.write", "test", i, after={"i": i})
    assert audit.verify(store).ok
    n = store.scalar("SELECT max(seq) FROM audit_log")
    store.rows("UPDATE audit_log SET values_after = '{\"i\":9}' WHERE seq = ?", [n - 1])
    result = audit.verify(store)
    assert not result.ok and result.broken_seq == n - 1


def test_store_held_by_another_process_fails_at_once(tmp_path):
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(30)", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked, match="in use by another process"):
            Store(path)
        proc = subprocess.run([sys.executable, "-m", "dashboard", "--db", str(path), "init"],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert proc.returncode == 2
        assert "in use by another process" in proc.stderr
    finally:
        holder.kill()
        holder.wait()


def test_every_setting_has_a_source_and_can_be_overridden(tmp_path):
    for spec in SPECS:
        assert spec.source and spec.help and spec.unit
    f = tmp_path / "s.toml"
    f.write_text("[settings]\nregulator_report_hours = 6\n")
    s = load_settings(f, environ={"COMPLIANCE_INCIDENT_STALE_DAYS": "7"})
    assert s.regulator_report_hours == 6 and s.origin["regulator_report_hours"] == str(f)
    assert s.incident_stale_days == 7
    assert Settings().regulator_hours() == 4
    assert Settings({"cii_operator": True}).regulator_hours() == 1
    with pytest.raises(SettingsError, match="regulator_report_hours"):
        load_settings(f, environ={"COMPLIANCE_REGULATOR_REPORT_HOURS": "soon"})
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings({"nonsense": 1})


def test_policy_copy_matches_shared_policy():
    shared = ROOT.parent / "shared" / "policy" / "privacy-policy.txt"
    if not shared.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert (ROOT / "data" / "policy" / "privacy-policy.txt").read_bytes() == shared.read_bytes()


def test_policy_clauses_are_numbered_as_in_the_document(store):
    clauses = dict(store.rows("SELECT clause, parent FROM policy_clauses"))
    for number in ("1", "2.2.1", "5.1.4", "5.3.2", "6.1", "6.2", "7.2", "10"):
        assert number in clauses
    assert clauses["5.1.4"] == "5.1" and clauses["5"] is None
    body = store.scalar("SELECT body FROM policy_clauses WHERE clause = '7.2'")
    assert "emergency plan" in body

"""The keyed audit trail against an attacker who can open the store file but lacks the key.

Each attack is done with plain DuckDB (behind the app's back), then `audit verify` must fail,
naming what it found; an untouched store verifies.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat

import duckdb
import pytest

from dashboard import audit, exports, incidents
from dashboard.cli import main as cli_main
from dashboard.settings import Settings
from dashboard.store import Store, StoreError

from conftest import AUDITOR, FROZEN_NOW, MANAGER, SYSTEM, make_store
import small_registers


def verify(path, *extra) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(path), "audit", "verify", *extra], out, err)
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def keyed(tmp_path):
    """A closed store with registers, an incident and an export: a realistic log."""
    path = tmp_path / "keyed.duckdb"
    s = make_store(path)
    small_registers.fill(s)
    incidents.log_incident(s, MANAGER, {
        "title": "Lost laptop", "description": "An unencrypted laptop was lost.",
        "incident_type": "data_leak", "occurred_at": "2026-11-24 08:00",
        "detected_at": "2026-11-24 09:00", "affected_subjects": "12",
        "affected_sensitive_subjects": "0", "data_categories": ["name"],
        "systems_affected": "laptop"})
    exports.export_file(s, AUDITOR, "processors", tmp_path / "p.csv")
    s.close()
    return path


def raw(path, sql, params=None):
    """An attacker with the file and plain DuckDB (no app, no key)."""
    con = duckdb.connect(str(path))
    try:
        con.execute(sql, params)
        return con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    finally:
        con.close()


def test_an_untouched_store_verifies_with_every_table_checked(keyed):
    code, text = verify(keyed)
    assert code == 0, text
    assert "every signature valid" in text and "tables match their last audited state" in text
    assert "head: entry" in text
    con = duckdb.connect(str(keyed), read_only=True)
    keyed_entries = con.execute("SELECT count(*) FROM audit_log WHERE key_id IS NOT NULL"
                                ).fetchone()[0]
    con.close()
    assert keyed_entries > 3


def test_key_file_is_outside_the_store_and_readable_by_its_owner_only(keyed):
    key = audit.key_path(keyed)
    assert key.exists() and key.parent == keyed.parent and key != keyed
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = json.loads(key.read_text())["keys"][0]["secret"]
    assert secret.encode() not in keyed.read_bytes()          # the secret is not in the store


def test_emptied_log_fails(keyed):
    raw(keyed, "DELETE FROM audit_log")
    code, text = verify(keyed)
    assert code == 1 and "the audit log is empty" in text and "truncated" in text


def test_truncated_log_fails(keyed):
    raw(keyed, "DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log)")
    code, text = verify(keyed)
    assert code == 1 and "the last 3 entries were deleted (the log was truncated)" in text


def test_forged_append_with_the_public_hash_function_fails(keyed):
    con = duckdb.connect(str(keyed))
    seq, prev = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    at = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.timezone.utc)
    forged = audit.entry_hash(seq + 1, at, "dpo.li", "dpo", "user.create", "user", "mallory",
                              None, '{"role":"admin"}', prev)
    con.execute("INSERT INTO audit_log (seq, logged_at, actor, role, action, entity_type, "
                "entity_id, values_before, values_after, prev_hash, hash) VALUES "
                "(?, ?, 'dpo.li', 'dpo', 'user.create', 'user', 'mallory', NULL, "
                "'{\"role\":\"admin\"}', ?, ?)", [seq + 1, at, prev, forged])
    con.close()
    code, text = verify(keyed)
    assert code == 1 and f"BROKEN at entry {seq + 1}" in text
    assert "not keyed" in text
    # and one that copies a key id but can only guess the MAC
    raw(keyed, "UPDATE audit_log SET key_id = (SELECT max(key_id) FROM audit_log) "
               "WHERE seq = ?", [seq + 1])
    code, text = verify(keyed)
    assert code == 1 and "signature does not match" in text


def test_rewritten_entry_with_the_chain_recomputed_fails(keyed):
    con = duckdb.connect(str(keyed))
    rows = con.execute("SELECT seq, logged_at, actor, role, action, entity_type, entity_id, "
                       "values_before, values_after, prev_hash, hash FROM audit_log "
                       "ORDER BY seq").fetchall()
    target = next(r[0] for r in rows if r[4] == "incident.log")
    prev = None
    for r in rows:
        seq = r[0]
        if seq < target:
            prev = r[10]
            continue
        actor = "someone.else" if seq == target else r[2]
        digest = audit.entry_hash(seq, r[1], actor, r[3], r[4], r[5], r[6], r[7], r[8], prev)
        con.execute("UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    [actor, prev, digest, seq])
        prev = digest
    con.close()
    code, text = verify(keyed)
    assert code == 1 and f"BROKEN at entry {target}" in text


def test_register_row_updated_directly_fails(keyed):
    raw(keyed, "UPDATE processors SET nda_signed_on = DATE '2020-01-01' "
               "WHERE processor_id = (SELECT min(processor_id) FROM processors)")
    code, text = verify(keyed)
    assert code == 1
    assert "table processors differs from its last audited state" in text
    assert "rows changed outside the app" in text


def test_register_row_deleted_directly_fails(keyed):
    raw(keyed, "DELETE FROM incident_events WHERE event_id = (SELECT max(event_id) "
               "FROM incident_events)")
    code, text = verify(keyed)
    assert code == 1 and "table incident_events differs" in text and "1 row(s) deleted" in text


def test_table_created_outside_the_app_fails(keyed):
    raw(keyed, "CREATE TABLE side_channel AS SELECT 1 AS x")
    code, text = verify(keyed)
    assert code == 1 and "table side_channel has no audited state" in text


def test_head_record_altered_fails(keyed):
    head = audit.head_path(keyed)
    data = json.loads(head.read_text())
    data["seq"] -= 2
    head.write_text(json.dumps(data))
    code, text = verify(keyed)
    assert code == 1 and "was altered" in text


def test_anchor_from_a_pack_manifest_proves_a_cut_tail(keyed, tmp_path):
    s = Store(keyed, settings=Settings(), clock=lambda: FROZEN_NOW)
    pack = tmp_path / "pack.zip"
    result = exports.build_pack(s, AUDITOR, [("processors", {})], pack)
    head = result.manifest["audit_chain"]
    assert set(head) == {"head_seq", "head_hash", "head_at"} and head["head_at"]
    s.close()
    assert verify(keyed, "--anchor", str(pack))[0] == 0
    raw(keyed, "DELETE FROM audit_log WHERE seq >= ?", [head["head_seq"]])
    audit.head_path(keyed).unlink()            # the attacker removes the local head too
    code, text = verify(keyed, "--anchor", str(pack))
    assert code == 1 and "the chain was cut" in text


def test_bad_anchor_argument_is_exit_2(keyed, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(keyed), "audit", "verify", "--anchor", str(junk)], out, err)
    assert code == 2 and "not a manifest" in err.getvalue() and str(tmp_path) not in err.getvalue()


def test_missing_key_refuses_writes_and_fails_verify(keyed):
    key = audit.key_path(keyed)
    saved = key.read_bytes()
    key.unlink()
    s = Store(keyed, settings=Settings(), clock=lambda: FROZEN_NOW)
    with pytest.raises(StoreError, match="audit key .* is missing"):
        with s.write(SYSTEM, "register.edit") as w:
            w.audit("test.write")
    s.close()
    code, text = verify(keyed)
    assert code == 1 and "cannot be checked" in text
    key.write_bytes(saved)
    os.chmod(key, 0o600)
    assert verify(keyed)[0] == 0


def test_key_file_readable_by_others_is_refused(keyed):
    os.chmod(audit.key_path(keyed), 0o644)
    code, text = verify(keyed)
    assert code == 1 and "chmod 600" in text


def test_rotation_keeps_old_entries_verifiable(keyed):
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["--db", str(keyed), "audit", "rotate-key"], out, err) == 0, err.getvalue()
    ring = audit.load_keyring(keyed)
    assert len(ring.keys) == 2
    code, text = verify(keyed)
    assert code == 0, text
    raw(keyed, "UPDATE processors SET name = 'x' WHERE processor_id = "
               "(SELECT min(processor_id) FROM processors)")
    assert verify(keyed)[0] == 1                 # tables are checked under the new key


def test_lost_key_is_recorded_and_verify_says_what_cannot_be_checked(keyed):
    audit.key_path(keyed).unlink()
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(keyed), "audit", "rotate-key", "--key-lost"], out, err)
    assert code == 0, err.getvalue()
    code, text = verify(keyed)
    assert code == 1 and "cannot be checked" in text       # the truth: those are unproven
    con = duckdb.connect(str(keyed), read_only=True)
    reason = con.execute("SELECT values_after FROM audit_log WHERE action = 'audit.seal' "
                         "ORDER BY seq DESC LIMIT 1").fetchone()[0]
    con.close()
    assert "audit key lost" in reason


def test_seal_after_a_restore_accepts_the_present_state(keyed, tmp_path):
    backup = tmp_path / "backup.duckdb"
    audit.copy_store(keyed, backup)
    s = Store(keyed, settings=Settings(), clock=lambda: FROZEN_NOW)
    with s.write(SYSTEM, "register.edit") as w:
        w.audit("test.write", "test", 1)
    s.close()
    # restore the older store file under the same name: the head outside proves the loss
    keyed.unlink()
    backup.rename(keyed)
    code, text = verify(keyed)
    assert code == 1 and "truncated" in text
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["--db", str(keyed), "audit", "seal", "--reason", "short"], out, err) == 2
    assert cli_main(["--db", str(keyed), "audit", "seal", "--reason",
                     "restored from the 2026-11-24 backup"], out, err) == 0, err.getvalue()
    assert verify(keyed)[0] == 0


def test_a_store_from_before_keying_is_upgraded_and_its_old_entries_covered(tmp_path):
    """Entries written before migration 0008 stay plain SHA-256; the first keyed entry
    links to them, so rewriting them (with the public hash) is still caught."""
    path = tmp_path / "fresh.duckdb"
    make_store(path).close()
    con = duckdb.connect(str(path))
    legacy = con.execute("SELECT count(*) FROM audit_log WHERE key_id IS NULL").fetchone()[0]
    row = con.execute("SELECT * FROM audit_log WHERE seq = 1").fetchone()
    con.close()
    assert legacy >= 1
    forged = audit.entry_hash(1, row[1], "forger", row[3], row[4], row[5], row[6], row[7],
                              row[8], row[9])
    raw(path, "UPDATE audit_log SET actor = 'forger', hash = ? WHERE seq = 1", [forged])
    code, text = verify(path)
    assert code == 1 and "BROKEN at entry 2" in text


def test_audit_log_page_checks_the_registers_on_request(keyed, monkeypatch):
    from conftest import app_test
    raw(keyed, "DELETE FROM processors WHERE processor_id = (SELECT min(processor_id) "
               "FROM processors)")
    at = app_test(keyed, AUDITOR, monkeypatch, page="audit_log")
    assert not at.exception
    assert "Chain intact" in at.success[0].value           # the chain itself is untouched
    at.button(key="log_check_tables").click().run()
    assert any("Changed outside the app" in e.value and "table processors" in e.value
               for e in at.error)


def _retention_csv(first: int, n: int) -> str:
    head = ("record_id,subject_ref,category,system,storage_region,collected_on,"
            "service_ended_on,deleted_on,hold_reason,hold_reference,hold_review_on\r\n")
    return head + "".join(f"{i},SUBJ-{i},phone,crm,CN,2026-01-0{1 + i % 9},,,,,\r\n"
                          for i in range(first, first + n))


def test_an_append_import_records_the_same_digest_as_a_full_read(keyed, tmp_path):
    """Appends add their rows' sums to the last audited state (no scan of the rows already
    there); the result must equal the table's digest computed afresh."""
    s = Store(keyed, settings=Settings(), clock=lambda: FROZEN_NOW)
    from dashboard import importer
    for k, first in enumerate((100_000, 200_000, 300_000)):
        path = tmp_path / f"r{k}.csv"
        path.write_text(_retention_csv(first, 50), encoding="utf-8")
        importer.import_file(s, SYSTEM, "retention_records", path)
        ring = audit.load_keyring(keyed)
        with s.cursor() as cur:
            recorded = audit.last_state(cur, "retention_records", ring.current)
            fresh = audit.table_digest(cur, "retention_records", ring.current_secret)
        assert recorded == fresh
    s.close()
    assert verify(keyed)[0] == 0


def test_tampering_before_an_append_is_still_caught(keyed, tmp_path):
    raw(keyed, "UPDATE retention_records SET system = 'elsewhere' WHERE record_id = "
               "(SELECT min(record_id) FROM retention_records)")
    s = Store(keyed, settings=Settings(), clock=lambda: FROZEN_NOW)
    from dashboard import importer
    path = tmp_path / "r.csv"
    path.write_text(_retention_csv(500_000, 10), encoding="utf-8")
    importer.import_file(s, SYSTEM, "retention_records", path)
    s.close()
    code, text = verify(keyed)
    assert code == 1 and "table retention_records differs" in text

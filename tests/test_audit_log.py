"""The audit log as evidence: `audit verify`, anchors, the page's reads, offline checks."""
from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import audit, exports
from dashboard.access import Actor
from dashboard.cli import main as cli_main
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import AUDITOR, DPO, FROZEN_NOW, SYSTEM, make_store

ROOT = Path(__file__).resolve().parent.parent


def reopen(path) -> Store:
    return Store(path, settings=Settings(), clock=lambda: FROZEN_NOW)


@pytest.fixture
def chain(tmp_path):
    """A closed store whose log holds a dozen varied entries; yields its path."""
    s = make_store(tmp_path / "chain.duckdb")
    odd = Actor("=evil", "dpo")                       # injection-prone, and not ASCII below
    for i in range(8):
        with s.write(SYSTEM if i % 2 else odd, "register.edit") as w:
            w.audit("test.write", "processor" if i % 3 else None, f"PRC-{i:04d}",
                    before=None if i % 2 else {"name": "旧", "n": -i},
                    after={"name": f"-{i}", "when": dt.date(2026, 1, i + 1)})
    s.close()
    return tmp_path / "chain.duckdb"


def verify(path, *extra) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(path), "audit", "verify", *extra], out, err)
    return code, out.getvalue() + err.getvalue()


def entries(path) -> int:
    s = reopen(path)
    try:
        return s.scalar("SELECT count(*) FROM audit_log")
    finally:
        s.close()


def tamper(path, sql, params=None):
    s = reopen(path)
    try:
        s.rows(sql, params)          # behind the service layer's back, as an attacker would
    finally:
        s.close()


def test_intact_chain_verifies_and_counts_entries(chain):
    code, text = verify(chain)
    assert code == 0
    assert f"audit chain intact: {entries(chain)} entries checked" in text


@pytest.mark.parametrize("column, value", [
    ("values_after", '{"name":"forged"}'),
    ("actor", "someone.else"),
    ("action", "test.read"),
    ("entity_id", "PRC-9999"),
    ("values_before", None),
    ("logged_at", dt.datetime(2026, 11, 24, 10, 0, 1, tzinfo=dt.timezone.utc)),
])
def test_changing_any_field_of_an_entry_breaks_the_chain_at_that_entry(chain, column, value):
    s = reopen(chain)
    target = s.scalar("SELECT min(seq) FROM audit_log WHERE action = 'test.write' AND "
                      "values_before IS NOT NULL")        # one with every field filled
    s.close()
    tamper(chain, f"UPDATE audit_log SET {column} = ? WHERE seq = ?", [value, target])
    code, text = verify(chain)
    assert code == 1
    assert f"BROKEN at entry {target}:" in text
    assert f"({target} entries checked" in text
    assert "signature does not match" in text


def test_recomputing_one_hash_still_breaks_the_next_entry(chain):
    s = reopen(chain)
    row = s.rows("SELECT * FROM audit_log WHERE seq = 5")[0]
    forged = audit.entry_hash(5, row[1], "forger", row[3], row[4], row[5], row[6], row[7],
                              row[8], row[9])
    s.rows("UPDATE audit_log SET actor = 'forger', hash = ? WHERE seq = 5", [forged])
    s.close()
    code, text = verify(chain)
    assert code == 1 and "BROKEN at entry 6" in text and "previous entry's hash" in text


def test_deleting_an_entry_breaks_the_chain_where_it_was(chain):
    tamper(chain, "DELETE FROM audit_log WHERE seq = 4")
    code, text = verify(chain)
    assert code == 1
    assert "BROKEN at entry 5" in text and "entry 4 is missing" in text


def test_reordering_entries_breaks_the_chain_at_the_first_moved_entry(chain):
    tamper(chain, "UPDATE audit_log SET seq = CASE seq WHEN 6 THEN 7 ELSE 6 END "
                  "WHERE seq IN (6, 7)")
    code, text = verify(chain)
    assert code == 1 and "BROKEN at entry 6" in text


def test_cutting_the_tail_is_caught_by_an_anchor(chain):
    s = reopen(chain)
    seq, digest = s.rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    s.close()
    assert verify(chain, "--anchor", f"{seq}:{digest}")[0] == 0
    tamper(chain, "DELETE FROM audit_log WHERE seq = ?", [seq])
    # The head record beside the store sees the cut; with it gone too, the anchor still does.
    code, text = verify(chain)
    assert code == 1 and "truncated" in text
    audit.head_path(chain).unlink()
    code, text = verify(chain, "--anchor", f"{seq}:{digest}")
    assert code == 1 and "the chain was cut" in text


def test_verify_on_a_missing_store_exits_2(tmp_path):
    code, text = verify(tmp_path / "none.duckdb")
    assert code == 2 and "no store" in text


# -- every service write appends exactly one entry ----------------------------------------

@pytest.mark.parametrize("call", [
    lambda s, d: exports.export_file(s, AUDITOR, "processors", d / "p.csv"),
    lambda s, d: exports.open_download(s, DPO, "audit_log").file.close(),
    lambda s, d: exports.download_bytes(s, AUDITOR, "incidents", compress=True),
    lambda s, d: exports.build_pack(s, AUDITOR, [("processors", None), ("audit_log", None)],
                                    d / "pack.zip"),
    lambda s, d: exports.pack_bytes(s, DPO, [("retention_records", {"state": "kept"})]),
], ids=["export_file", "open_download", "download_bytes", "build_pack", "pack_bytes"])
def test_each_export_appends_exactly_one_entry_and_keeps_the_chain(chain, tmp_path, call):
    s = reopen(chain)
    try:
        before = s.scalar("SELECT count(*) FROM audit_log")
        call(s, tmp_path)
        assert s.scalar("SELECT count(*) FROM audit_log") == before + 1
        assert audit.verify(s).ok
        action = s.scalar("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1")
        assert action in ("export.download", "export.pack")
    finally:
        s.close()


# -- the page's reads ------------------------------------------------------------------------

def test_audit_entries_filter_and_paginate_in_sql(chain):
    s = reopen(chain)
    try:
        everything = exports.audit_entries(s, page_size=25)
        assert everything["total"] == s.scalar("SELECT count(*) FROM audit_log")
        first = exports.audit_entries(s, filters={"action": ["test.write"]}, page_size=25)
        assert first["total"] == 8 and first["pages"] == 1
        assert list(first["rows"]["seq"]) == sorted(first["rows"]["seq"], reverse=True)
        by_actor = exports.audit_entries(s, filters={"actor": ["=evil"],
                                                     "entity_type": ["processor"]})
        assert set(by_actor["rows"]["actor"]) == {"=evil"}
        assert set(by_actor["rows"]["entity_type"]) == {"processor"}
        paged = [exports.audit_entries(s, filters={"action": "test.write"}, page=p,
                                       page_size=25)["rows"] for p in (1, 2)]
        assert len(paged[0]) == 8 and list(paged[1]["seq"]) == list(paged[0]["seq"])  # clamped
        day = exports.audit_entries(s, filters={"from": "2026-11-24", "to": "2026-11-24"})
        assert day["total"] == everything["total"]
        assert exports.audit_entries(s, filters={"to": "2026-11-23"})["total"] == 0
        facets = exports.audit_facets(s)
        assert "=evil" in facets["actors"] and "test.write" in facets["actions"]
        assert facets["first"] == dt.date(2026, 11, 24)
        status = exports.chain_status(s)
        assert status["ok"] and status["entries"] == everything["total"] == status["head_seq"]
        with pytest.raises(exports.ExportError, match="no filter 'colour'"):
            exports.audit_entries(s, filters={"colour": "red"})
    finally:
        s.close()


# -- an auditor re-checks the chain from an exported file alone ----------------------------

def docs_snippet() -> str:
    text = (ROOT / "docs" / "EVIDENCE.md").read_text(encoding="utf-8")
    m = re.search(r"```python verify_audit_csv\.py\n(.*?)```", text, re.S)
    assert m, "docs/EVIDENCE.md lost its verify_audit_csv.py snippet"
    return m.group(1)


def test_the_documented_offline_check_verifies_an_exported_log(chain, tmp_path):
    s = reopen(chain)
    full = tmp_path / "audit_log.csv"
    exports.export_file(s, AUDITOR, "audit_log", full)
    part = tmp_path / "part.csv"
    exports.export_file(s, AUDITOR, "audit_log", part, {"actor": "=evil"})
    s.close()
    script = tmp_path / "verify_audit_csv.py"
    script.write_text(docs_snippet(), encoding="utf-8")

    key = audit.key_path(chain)

    def run(path, *extra):
        return subprocess.run([sys.executable, str(script), str(path), *map(str, extra)],
                              capture_output=True, text=True, timeout=60)

    ok = run(full, key)
    assert ok.returncode == 0, ok.stderr
    assert f"intact: {entries(chain) - 2} entries" in ok.stdout   # the log before 2 exports
    assert "not checked" not in ok.stdout
    unkeyed = run(full)                   # without the key: the links only, and it says so
    assert unkeyed.returncode == 0 and "signatures not checked" in unkeyed.stdout
    # a filtered export is not contiguous: the check says where the gap is
    gap = run(part)
    assert gap.returncode == 1 and "missing" in gap.stderr
    forged = tmp_path / "forged.csv"
    forged.write_bytes(full.read_bytes().replace(b'"{""name"":""-3""', b'"{""name"":""-4""'))
    bad = run(forged, key)
    assert bad.returncode == 1 and "BROKEN at entry" in bad.stderr

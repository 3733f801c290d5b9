"""Policy vs law (dashboard/policy_law.py): the clauses where the law asks more than the
policy's text says, built without Streamlit from the rules, the clause texts and the
engine's scores; its CSV goes through the one writer and its download is logged."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from dashboard import engine
from dashboard import policy_law as PL
from dashboard import queries as Q
from dashboard.access import PermissionDenied
from dashboard.reference import clause_map
from dashboard.rules import _load, load_rules

from conftest import ADMIN, AUDITOR, DPO, MANAGER

SQL = ("-- fixture rule\nSELECT 'E-1' AS entity_id, false AS failing, '' AS detail, "
       "CAST(NULL AS TIMESTAMPTZ) AS due_at\n")


def _entry(rule_id: str, clause: str, **extra) -> str:
    fields = {
        "rule_id": rule_id, "clause": clause, "severity": "medium",
        "severity_reason": "why", "entity_type": "incident", "title": f"Title of {rule_id}",
        "promise": f"Clause {clause}: the promise of {rule_id}.",
        "breach": "breach", "fix": "fix", "legal_source": f"Source of {rule_id} (V)",
        "reading": "reading", **extra}
    lines = ["[[rule]]"]
    for key, value in fields.items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines)


@pytest.fixture
def fixture_rules(tmp_path) -> list:
    """A small rules.toml in the shape version 2 gives it: unchanged and changed v1 rules,
    and v2 rules filed under one clause or several (also_clauses)."""
    entries = [
        _entry("PROC-CONFIDENTIALITY", "5.1.4"),
        _entry("SHARE-CONSENT", "5.1.1",
               v2_change="Transfers and disclosures too, not only shares."),
        _entry("INC-PI-AUTHORITY", "7.2", introduced=2,
               law_beyond_policy="Notify the authority protecting personal information "
                                 "of any incident, whatever its grade (PIPL Art. 57).",
               legal_source="PIPL Art. 57 (V); 24 h: project default (P)"),
        _entry("SHARE-PIA", "5.1", introduced=2, also_clauses=["5.2", "5.3"],
               law_beyond_policy="=HYPERLINK(\"http://evil.example\") an impact assessment "
                                 "before providing PI to another handler.",
               legal_source="PIPL Art. 55(3) (V)"),
        _entry("INC-GRADE", "7.2", v2_change="Economic loss and important data grade too.",
               legal_source="CAC Measures (2025) Annex (V2)"),
        _entry("INC-POLICE", "7.2", introduced=2,
               law_beyond_policy="Report a suspected crime to the police promptly.",
               legal_source="2025 measures; NDSMR Art. 11 (V2); 4 h (1 h for CII): project "
                            "default (P)"),
    ]
    toml = tmp_path / "rules.toml"
    toml.write_text("\n\n".join(entries) + "\n", encoding="utf-8")
    for rule_id in ("PROC-CONFIDENTIALITY", "SHARE-CONSENT", "INC-PI-AUTHORITY", "SHARE-PIA",
                    "INC-GRADE", "INC-POLICE"):
        (tmp_path / f"{rule_id}.sql").write_text(SQL, encoding="utf-8")
    return list(_load(toml, tmp_path))


def scores(**per_rule) -> pd.DataFrame:
    """The engine's rule_scores shape: rule_id, applicable, failing, due, score."""
    rows = [{"rule_id": rid, "applicable": a, "failing": f, "due": d,
             "score": (a - f) / a if a else math.nan}
            for rid, (a, f, d) in per_rule.items()]
    return pd.DataFrame(rows)


# -- the view, from rules, clause texts and scores ------------------------------------------------
def test_lists_exactly_the_v2_rules_under_each_of_their_clauses(fixture_rules):
    df = PL.beyond_policy(fixture_rules, clause_map())
    assert list(df.columns) == PL.BEYOND_COLUMNS
    assert list(zip(df["clause"], df["rule_id"])) == [
        ("5.1", "SHARE-PIA"), ("5.2", "SHARE-PIA"), ("5.3", "SHARE-PIA"),
        ("7.2", "INC-PI-AUTHORITY"), ("7.2", "INC-POLICE")]      # policy order, then seq


def test_each_row_says_what_the_policy_says_and_what_the_law_asks(fixture_rules):
    df = PL.beyond_policy(fixture_rules, clause_map()).set_index(["clause", "rule_id"])
    row = df.loc[("7.2", "INC-PI-AUTHORITY")]
    rule = {r.rule_id: r for r in fixture_rules}["INC-PI-AUTHORITY"]
    assert row["policy_says"] == rule.promise
    assert row["law_asks"] == rule.law_beyond_policy
    assert row["legal_source"] == "PIPL Art. 57 (V); 24 h: project default (P)"
    assert row["confidence"] == "V, P"
    assert df.loc[("7.2", "INC-POLICE"), "confidence"] == "V2, P"
    assert row["rule_title"] == "Title of INC-PI-AUTHORITY" and row["severity"] == "medium"
    # the clause's title and words from the policy; 7.2's incident paragraph, not its
    # opening sentence about security measures
    assert row["clause_title"] == clause_map()["7.2"].title
    assert row["policy_text"].startswith("… In case of personal information disclosure")
    assert not row["policy_text"].startswith("7.2")
    assert df.loc[("5.2", "SHARE-PIA"), "policy_text"].startswith("We will not transfer")


def test_results_come_from_the_scores(fixture_rules):
    given = scores(**{"INC-PI-AUTHORITY": (40, 3, 1), "INC-POLICE": (0, 0, 0),
                      "SHARE-CONSENT": (200, 1, 0)})
    df = PL.beyond_policy(fixture_rules, clause_map(), given).set_index(["clause", "rule_id"])
    row = df.loc[("7.2", "INC-PI-AUTHORITY")]
    assert (row["findings"], row["due"], row["applicable"]) == (3, 1, 40)
    assert row["score"] == pytest.approx(37 / 40) and row["score_pct"] == "92.5 %"
    police = df.loc[("7.2", "INC-POLICE")]                  # nothing applies: n/a, no score
    assert police["findings"] == 0 and math.isnan(police["score"])
    assert police["score_pct"] == "n/a"
    pia = df.loc[("5.1", "SHARE-PIA")]                      # not evaluated: unknown, not 0
    assert pd.isna(pia["findings"]) and pia["score_pct"] == "n/a"
    assert str(df["findings"].dtype) == "Int64"
    changed = PL.changed_in_v2(fixture_rules, clause_map(), given).set_index("rule_id")
    assert changed.loc["SHARE-CONSENT", "score_pct"] == "99.5 %"     # 199/200, rounded down


def test_changed_rules_are_the_v1_rules_with_a_v2_change(fixture_rules):
    df = PL.changed_in_v2(fixture_rules, clause_map())
    assert list(df.columns) == PL.CHANGED_COLUMNS
    assert list(df["rule_id"]) == ["SHARE-CONSENT", "INC-GRADE"]
    row = df.set_index("rule_id").loc["INC-GRADE"]
    assert row["v2_change"] == "Economic loss and important data grade too."
    assert row["clause"] == "7.2" and row["confidence"] == "V2"


def test_no_v2_rules_gives_empty_frames_with_their_columns(fixture_rules):
    v1 = [r for r in fixture_rules if r.introduced == 1 and not r.v2_change]
    assert PL.beyond_policy(v1, clause_map()).empty
    assert list(PL.changed_in_v2(v1, clause_map()).columns) == PL.CHANGED_COLUMNS
    out = PL.csv_frame(PL.beyond_policy(v1, clause_map()), PL.changed_in_v2(v1, clause_map()))
    assert out.empty and list(out.columns) == PL.CSV_COLUMNS


def test_the_store_clause_table_and_the_parser_give_the_same_view(fixture_rules, store):
    from_store = PL.beyond_policy(fixture_rules, Q.policy_clauses(store))
    pd.testing.assert_frame_equal(from_store, PL.beyond_policy(fixture_rules, clause_map()))


def test_clause_missing_from_the_policy_keeps_its_rule(fixture_rules):
    odd = dataclasses.replace(fixture_rules[2], rule_id="X-NEW", clause="99.1", also_clauses=())
    df = PL.beyond_policy([odd], clause_map())
    assert list(df["clause"]) == ["99.1"] and df["policy_text"].tolist() == [""]


# -- pieces ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("source,marks", [
    ("PIPL Art. 57 (V); 24 h: project default (P)", "V, P"),
    ("CAC Measures (2025) Art. 8: summary report within 30 days (V2)", "V2"),
    ("PIPL Art. 21 (agreement states the duration) (V); NDSMR Art. 12 (V)", "V"),
    ("Policy 5.3.2 (notify prior to the transfer); PIPL Art. 22 (R)", "R"),
    ("PIPL Art. 23 (V, P)", "V, P"),
    ("Policy 7.2 only", ""),
])
def test_confidence_marks(source, marks):
    assert PL.confidence_marks(source) == marks


def test_excerpt_drops_the_number_and_cuts_at_a_word():
    body = "5.1.4 " + "word " * 100
    text = PL.excerpt(body, "5.1.4", limit=40)
    assert text.startswith("word word") and text.endswith(" …") and len(text) <= 42
    assert PL.excerpt("8.3 Short.", "8.3") == "Short."
    assert PL.excerpt("", "8.3") == ""
    bullets = "5.3.1 Intro:\n\n• first point\n\n• second point"
    assert PL.excerpt(bullets, "5.3.1") == "Intro: first point second point"
    assert PL.excerpt(bullets, "5.3.1", hint="second point") == "… second point"


def test_clause_order():
    assert sorted(["7.2", "10", "5.1.1", "5.1", "5.2"], key=PL.clause_key) == [
        "5.1", "5.1.1", "5.2", "7.2", "10"]


# -- the CSV ----------------------------------------------------------------------------------------
def _parse(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")                          # BOM, for Excel
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def test_csv_holds_both_lists_through_the_one_writer(fixture_rules):
    given = scores(**{"INC-PI-AUTHORITY": (40, 3, 1)})
    frame = PL.csv_frame(PL.beyond_policy(fixture_rules, clause_map(), given),
                         PL.changed_in_v2(fixture_rules, clause_map(), given),
                         "2026-11-24 10:00 +0800")
    buf = io.BytesIO()
    stats = PL.write_csv(frame, buf)
    data = buf.getvalue()
    assert stats.rows == 7 and stats.sha256 == hashlib.sha256(data).hexdigest()
    rows = _parse(data)
    assert list(rows[0]) == PL.CSV_COLUMNS
    assert [r["section"] for r in rows] == ["law_beyond_policy"] * 5 + ["changed_in_v2"] * 2
    first = next(r for r in rows if r["rule_id"] == "INC-PI-AUTHORITY")
    assert (first["clause"], first["findings"], first["score"], first["confidence"]) == (
        "7.2", "3", "92.5 %", "V, P")
    assert first["as_of"] == "2026-11-24 10:00 +0800" and first["v2_change"] == ""
    unknown = next(r for r in rows if r["rule_id"] == "SHARE-PIA")
    assert (unknown["findings"], unknown["score"]) == ("", "n/a")
    grade = next(r for r in rows if r["rule_id"] == "INC-GRADE")
    assert grade["v2_change"].startswith("Economic loss") and grade["law_asks"] == ""
    # a cell a spreadsheet would read as a formula is neutralized, as in every export
    assert all(not v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert unknown["law_asks"].startswith("'=HYPERLINK")


# -- from the store: the engine's evaluation, the download -----------------------------------------
@pytest.fixture
def one_v2_rule(monkeypatch):
    """The real rules with PROC-PIA marked as added in version 2 (so that the engine has
    scores for it), until the real version 2 rules are in rules.toml."""
    rules = [dataclasses.replace(r, introduced=2, law_beyond_policy="The law asks more.",
                                 also_clauses=("5.3.1",))
             if r.rule_id == "PROC-PIA" else dataclasses.replace(r, introduced=1,
                                                                 law_beyond_policy="")
             for r in load_rules()]
    monkeypatch.setattr("dashboard.rules.load_rules", lambda: list(rules))
    return rules


def test_store_view_carries_the_engines_latest_result(demo_store, one_v2_rule):
    from dashboard import dashboards as D
    as_of = D.as_of_for(demo_store)
    df = PL.beyond_policy_view(demo_store, as_of=as_of)
    assert list(zip(df["clause"], df["rule_id"])) == [("5.1.4", "PROC-PIA"),
                                                      ("5.3.1", "PROC-PIA")]
    rule = engine.check_summary(demo_store, as_of).rule_scores.set_index("rule_id").loc[
        "PROC-PIA"]
    row = df.iloc[0]
    assert (row["findings"], row["applicable"], row["due"]) == (
        rule["failing"], rule["applicable"], rule["due"])
    assert row["findings"] > 0                    # the demo has processors failing PROC-PIA
    assert row["score_pct"] == D.percent(rule["score"])


def test_download_is_for_dpo_and_auditor_and_is_logged(demo_store, one_v2_rule):
    from dashboard import dashboards as D
    as_of = D.as_of_for(demo_store)
    for actor in (MANAGER, ADMIN):
        with pytest.raises(PermissionDenied):
            PL.download_bytes(demo_store, actor, as_of=as_of, name="x.csv")
    for actor in (DPO, AUDITOR):
        before = demo_store.scalar("SELECT max(seq) FROM audit_log")
        name = PL.file_name(demo_store.now())
        data = PL.download_bytes(demo_store, actor, as_of=as_of, name=name)
        assert name == "policy_vs_law_20261124T100000.csv"
        rows = _parse(data)
        assert [r["rule_id"] for r in rows if r["section"] == "law_beyond_policy"] == [
            "PROC-PIA", "PROC-PIA"]
        entry = demo_store.rows("SELECT seq, actor, action, entity_type, entity_id, "
                                "values_after FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
        assert entry[0] == before + 1
        assert entry[1:5] == (actor.name, "export.download", "export", "policy_vs_law")
        after = json.loads(entry[5])
        assert after["sha256"] == hashlib.sha256(data).hexdigest()
        assert after["rows"] == len(rows) and after["file"] == name


# -- the real rules (data/rules/rules.toml) ---------------------------------------------------------
V2_ADDED = {"INC-PI-AUTHORITY": ("7.2",), "INC-POLICE": ("7.2",),
            "SHARE-SEPARATE-CONSENT": ("5.1.1", "5.2.1", "5.3.1"),
            "SHARE-PIA": ("5.1", "5.2", "5.3"),
            "DSR-DEADLINE": ("8", "10"), "DSR-REFUSAL-REASON": ("8.3", "8.4"),
            "DSR-DELETION-DONE": ("8.2", "8.5"), "DSR-IDENTITY": ("8.3",)}
V2_CHANGED = {"PROC-TERMS", "PROC-PIA", "SHARE-CONSENT", "INC-USER-NOTICE",
              "INC-REGULATOR-DEADLINE", "INC-GRADE"}


def test_real_rules_view_lists_exactly_the_eight_new_rules_under_their_clauses():
    rules = load_rules()
    df = PL.beyond_policy(rules, clause_map())
    assert set(df["rule_id"]) == set(V2_ADDED)
    for rule_id, clauses in V2_ADDED.items():
        assert tuple(df[df["rule_id"] == rule_id]["clause"]) == clauses, rule_id
    assert all(text.strip() for text in df["law_asks"])
    assert all(text.strip() for text in df["policy_text"])       # every clause has text
    assert all(df["confidence"] != ""), "every legal source carries a confidence mark"


def test_every_v2_rule_says_what_the_law_asks_beyond_the_policy():
    added = [r for r in load_rules() if r.introduced == 2]
    assert {r.rule_id for r in added} >= set(V2_ADDED)
    for r in added:
        assert r.law_beyond_policy.strip(), r.rule_id


def test_real_rules_changed_list_is_the_six_rules_version_2_changed():
    df = PL.changed_in_v2(load_rules(), clause_map())
    assert set(df["rule_id"]) == V2_CHANGED
    assert all(text.strip() for text in df["v2_change"])


def test_excerpt_leaves_out_a_heading_line():
    assert PL.excerpt("5.2 Transfer\n\nWe will not transfer.", "5.2", title="Transfer") == \
        "We will not transfer."
    assert PL.excerpt("5.2 Transfer", "5.2", title="Transfer") == "Transfer"


# -- the catalog's notes (data/policy/catalog.toml), corrected in version 2 ------------------------
def test_catalog_notes_follow_the_version_2_corrections(store):
    from dashboard.reference import load_catalog
    cats = load_catalog().categories
    # NDSMR Art. 24 gives no number of days: the 30 days are the project's schedule
    name = cats["name"].basis
    assert "NDSMR Art. 24" in name and "no number of days" in name
    assert "30 days to close the account: the project's schedule (P)" in name
    assert "(NDSMR Art. 24)" not in name
    # GB/T 45574-2025 lists ID-card images; the number is kept sensitive, conservatively
    note = cats["id_card_number"].note
    assert cats["id_card_number"].sensitive
    assert "conservative" in note and "PIPL Art. 28 does not name it" in note
    assert "GB/T 35273-2020 Annex B" in note and "GB/T 45574-2025" in note
    assert "ID-card images" in note
    # every basis says how sure it is; a period the law does not give is marked P
    for c in cats.values():
        assert PL.confidence_marks(c.basis), c.code
    # `init` syncs it into the store
    assert store.scalar("SELECT note FROM data_categories WHERE code = 'id_card_number'") == note
    assert store.scalar("SELECT basis FROM retention_rules WHERE category = 'name'") == name

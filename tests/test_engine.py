"""The engine around the rules: as-of, scores and their definitions, due items, pages'
SQL access to findings, snapshots, the rule files themselves, and docs/RULES.md."""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from dashboard import engine, rules
from dashboard.access import PermissionDenied
from dashboard.rules import PARAMETERS, RULES_DIR, load_rules

from conftest import AUDITOR, DEMO_AS_OF, DPO, FROZEN_NOW, SHANGHAI, SYSTEM
from test_rules import D, T0, add, agreement, days, incident, processor, record

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT.parent / "shared" / "reference" / "data-contract.md"


# -- as-of ---------------------------------------------------------------------------------

def test_as_of_readings():
    tz = SHANGHAI
    later = dt.datetime(2026, 11, 26, 10, 0, tzinfo=tz)          # "now" two days on
    close = dt.datetime(2026, 11, 24, 23, 59, 59, 999999, tzinfo=tz)
    assert engine.parse_as_of(dt.date(2026, 11, 24), tz, later) == close
    assert engine.parse_as_of("2026-11-24", "Asia/Shanghai", later) == close
    assert engine.parse_as_of("2026-11-24T09:30", tz, later) == \
        dt.datetime(2026, 11, 24, 9, 30, tzinfo=tz)
    utc = engine.parse_as_of("2026-11-24T01:30:00+00:00", tz, later)
    assert utc == dt.datetime(2026, 11, 24, 9, 30, tzinfo=tz) and utc.tzinfo == tz
    assert engine.parse_as_of(None, tz, now=FROZEN_NOW) == FROZEN_NOW
    with pytest.raises(ValueError, match="does not read the clock"):
        engine.parse_as_of(None, tz)
    for bad in ("2026-13-01", "yesterday", "24/11/2026", ""):
        with pytest.raises(ValueError, match="not a date"):
            engine.parse_as_of(bad, tz, later)


def test_today_means_now_and_the_future_is_refused():
    tz = SHANGHAI
    now = dt.datetime(2026, 11, 24, 1, 17, tzinfo=tz)
    # today's date, as a date or as text, is the current moment, not the close of the day
    assert engine.parse_as_of(dt.date(2026, 11, 24), tz, now) == now
    assert engine.parse_as_of("2026-11-24", tz, now) == now
    # "today" is Shanghai's: 2026-11-23 17:17 UTC is already the 24th there
    assert engine.parse_as_of("2026-11-24", tz, now.astimezone(dt.timezone.utc)) == now
    for future in ("2026-11-25", dt.date(2026, 12, 1), "2026-11-24T01:18:00+08:00"):
        with pytest.raises(ValueError, match="in the future"):
            engine.parse_as_of(future, tz, now)


def test_check_without_as_of_uses_the_stores_clock_not_the_system_clock(store):
    result = engine.run_check(store)
    assert result.as_of == FROZEN_NOW
    assert result.as_of.tzinfo is not None
    assert engine.check_summary(store).as_of == FROZEN_NOW.replace(second=0, microsecond=0)


def test_an_event_late_on_the_as_of_day_counts(store):
    """--as-of DATE (a past day) is the close of that day: an incident detected at 23:30
    is in scope."""
    add(store, incident, "INC-1", detected_at=dt.datetime(2026, 11, 23, 23, 30, tzinfo=SHANGHAI),
        emergency_plan_activated_at=None)
    assert list(engine.run_check(store, dt.date(2026, 11, 23)).findings["rule_id"]) == [
        "INC-EMERGENCY-PLAN"]
    assert engine.run_check(store, dt.date(2026, 11, 22)).findings.empty


# -- scores -------------------------------------------------------------------------------

@pytest.fixture
def scored(store):
    """A hand-made data set with known scores (see docs/RULES.md, Scores)."""
    add(store, processor, "P1")
    add(store, processor, "P2", nda_signed_on=None, agreement_terms=["purpose"])
    add(store, processor, "P3", storage_region="HK")
    add(store, processor, "P4", last_assessed_on=None)
    add(store, processor, "P5", status="suspended", storage_region="US")
    add(store, agreement, "A1")
    add(store, agreement, "A2", recipient_region="US")
    add(store, record, 1)
    add(store, record, 2, service_ended_on=days(-100))
    add(store, record, 3, storage_region="HK")
    add(store, record, 4, storage_region="HK", service_ended_on=days(-100))
    add(store, incident, "I1")
    return engine.run_check(store, D)


def test_rule_scores(scored):
    s = scored.rule_scores.set_index("rule_id")
    expect = {
        "PROC-CONFIDENTIALITY": (4, 1), "PROC-TERMS": (4, 1), "PROC-LOCATION": (4, 1),
        "PROC-ASSESSMENT": (4, 1), "PROC-AGREEMENT-EXPIRED": (4, 0), "PROC-PIA": (4, 0),
        "SHARE-CROSS-BORDER": (2, 1), "SHARE-CONSENT": (2, 0), "RET-OVERDUE": (4, 2),
        "RET-LOCATION": (4, 2), "RET-HOLD-INVALID": (0, 0), "INC-STALE": (1, 0),
        "SHARE-PIA": (2, 0), "SHARE-SEPARATE-CONSENT": (2, 0), "INC-PI-AUTHORITY": (1, 0),
        "INC-POLICE": (0, 0),
    }
    for rule_id, (applicable, failing) in expect.items():
        assert (s.loc[rule_id, "applicable"], s.loc[rule_id, "failing"]) == (applicable, failing)
    assert s.loc["PROC-CONFIDENTIALITY", "score"] == 0.75
    assert s.loc["RET-OVERDUE", "score"] == 0.5
    assert math.isnan(s.loc["RET-HOLD-INVALID", "score"])  # nothing applies: no score, not 100 %
    assert math.isnan(s.loc["INC-POLICE", "score"])
    assert list(scored.rule_scores["rule_id"]) == [r.rule_id for r in load_rules()]


def test_clause_and_article_scores_count_distinct_entities(scored):
    c = scored.clause_scores.set_index("clause")
    # 5.1.4: P1..P4 apply; P2 fails two rules but counts once, P4 fails one -> 2 of 4 comply
    assert (c.loc["5.1.4", "applicable"], c.loc["5.1.4", "failing"]) == (4, 2)
    # 6.1: 4 processors + 2 agreements + 4 records; P3, A2, records 3 and 4 fail
    assert (c.loc["6.1", "applicable"], c.loc["6.1", "failing"]) == (10, 4)
    assert c.loc["6.1", "score"] == pytest.approx(0.6)
    assert (c.loc["6.2", "applicable"], c.loc["6.2", "failing"]) == (4, 2)
    assert math.isnan(c.loc["5.2.1", "score"])
    assert c.loc["5.1.4", "title"]                       # the clause's words, from the policy
    a = scored.article_scores.set_index("article")
    # article 5: P1..P4 and A1, A2; P2 and P4 fail (P3 and A2 fail only 6.1 rules)
    assert (a.loc["5", "applicable"], a.loc["5", "failing"]) == (6, 2)
    # article 6: P1..P4, A1, A2, records 1-4; P3, A2, records 2, 3, 4 fail
    assert (a.loc["6", "applicable"], a.loc["6", "failing"]) == (10, 5)
    assert a.loc["7", "score"] == 1.0


def test_overall_is_the_mean_of_the_clause_scores(scored):
    # clauses with applicable entities: 5 (1.0), 5.1 (1.0: SHARE-PIA), 5.1.1 (1.0),
    # 5.1.4 (0.5), 5.3.1 (1.0), 6.1 (0.6), 6.2 (0.5), 7.2 (1.0)
    assert scored.overall == pytest.approx((1 + 1 + 1 + 0.5 + 1 + 0.6 + 0.5 + 1) / 8)
    assert (scored.entities_applicable, scored.entities_failing) == (11, 7)
    assert scored.finding_total == len(scored.findings) == 9
    assert scored.findings_by_severity == {
        "high": int((scored.findings["severity"] == "high").sum()),
        "medium": int((scored.findings["severity"] == "medium").sum()),
        "low": int((scored.findings["severity"] == "low").sum())}


def test_empty_store_has_no_score(store):
    result = engine.run_check(store, D)
    assert result.overall is None
    assert result.rule_scores["applicable"].sum() == 0
    assert result.findings.empty and result.due.empty


# -- due items ------------------------------------------------------------------------------

def test_due_items_are_apart_from_findings_and_soonest_first(store):
    add(store, processor, "P1", agreement_expires_on=days(20))
    add(store, record, 1, service_ended_on=days(-10))                  # due in 20 days
    now = dt.datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    add(store, incident, "I1", grade="major", detected_at=now - dt.timedelta(hours=2),
        users_notified_at=None)
    result = engine.run_check(store, now)
    assert result.findings.empty
    due = result.due
    assert list(due.columns) == engine.DUE_COLUMNS
    assert list(due["rule_id"][:2]) == ["INC-REGULATOR-DEADLINE", "INC-USER-NOTICE"]
    assert due.iloc[0]["due_at"] == pd.Timestamp(now + dt.timedelta(hours=2))
    assert "in 2 h 0 min" in due.iloc[0]["detail"]
    assert list(due["due_at"]) == sorted(due["due_at"])
    assert result.rule_scores.set_index("rule_id").loc["RET-OVERDUE", "due"] == 1


# -- pages ---------------------------------------------------------------------------------

@pytest.fixture
def paged(store):
    for i in range(1, 26):
        add(store, record, i, storage_region="HK" if i % 5 == 0 else "CN",
            service_ended_on=days(-100) if i % 2 else days(-10))
    add(store, processor, "P1", nda_signed_on=None)
    return store


def test_findings_page_filters_and_pages_in_sql(paged):
    as_of = "2026-11-24"
    counts = engine.finding_counts(paged, as_of)
    assert dict(zip(counts["rule_id"], counts["findings"])) == {
        "RET-OVERDUE": 13, "RET-LOCATION": 5, "PROC-CONFIDENTIALITY": 1}
    by_sev = engine.finding_counts(paged, as_of, by="severity")
    assert dict(zip(by_sev["severity"], by_sev["findings"])) == {"medium": 13, "high": 6}
    total = engine.finding_counts(paged, as_of, by=None)
    assert total.iloc[0]["findings"] == 19
    page1 = engine.findings_page(paged, as_of, rule_id="RET-OVERDUE", limit=5)
    page3 = engine.findings_page(paged, as_of, rule_id="RET-OVERDUE", limit=5, offset=10)
    assert list(page1["entity_id"]) == ["1", "3", "5", "7", "9"]      # numeric order
    assert list(page3["entity_id"]) == ["21", "23", "25"]
    high = engine.findings_page(paged, as_of, severity="high", clause="6.1")
    assert set(high["rule_id"]) == {"RET-LOCATION"} and len(high) == 5
    one = engine.findings_page(paged, as_of, entity_type="processor", entity_id="P1")
    assert list(one["rule_id"]) == ["PROC-CONFIDENTIALITY"]
    full = engine.run_check(paged, as_of).findings
    all_rows = engine.findings_page(paged, as_of, limit=1000)
    assert all_rows[engine.FINDING_COLUMNS].equals(full)


def test_due_page_and_counts(paged):
    as_of = "2026-11-24"
    due = engine.due_page(paged, as_of)
    assert set(due["rule_id"]) == {"RET-OVERDUE"} and len(due) == 12
    assert engine.due_page(paged, as_of, within_days=7).empty        # all due in 20 days
    counts = engine.due_counts(paged, as_of, within_days=30)
    assert counts.iloc[0]["due"] == 12
    assert counts.iloc[0]["next_due_at"] == pd.Timestamp(dt.datetime(2026, 12, 14, 23, 59, 59,
                                                                      tzinfo=SHANGHAI))


def test_page_queries_reuse_one_evaluation_until_data_changes(paged):
    first = engine.check_summary(paged, "2026-11-24")
    assert engine.check_summary(paged, "2026-11-24").run_id == first.run_id
    add(paged, processor, "P2", storage_region="US")                   # a write bumps data_version
    second = engine.check_summary(paged, "2026-11-24")
    assert second.run_id != first.run_id
    assert second.finding_total == first.finding_total + 1


def test_page_arguments_are_checked(paged):
    with pytest.raises(ValueError, match="severity"):
        engine.findings_page(paged, "2026-11-24", severity="urgent")
    with pytest.raises(ValueError, match="rule_id"):
        engine.finding_counts(paged, "2026-11-24", rule_id="NOPE")
    with pytest.raises(ValueError, match="limit"):
        engine.findings_page(paged, "2026-11-24", limit=0)
    with pytest.raises(ValueError, match="by"):
        engine.finding_counts(paged, "2026-11-24", by="detail")


def test_items_query_joins_with_other_tables(paged):
    sql, params = engine.items_query(paged, "2026-11-24", rule_id="PROC-CONFIDENTIALITY")
    rows = paged.rows(f"SELECT f.entity_id, p.name FROM ({sql}) f "
                      "JOIN processors p ON p.processor_id = f.entity_id", params)
    assert rows == [("P1", "Acme Verify")]


# -- snapshots ------------------------------------------------------------------------------

def test_snapshot_replaces_the_same_day_and_keeps_others(store):
    add(store, processor, "P1", nda_signed_on=None)
    first = engine.run_check(store, "2026-11-24T09:00")
    engine.save_snapshot(store, DPO, first)
    add(store, processor, "P2", storage_region="US")
    second = engine.run_check(store, "2026-11-24T09:30")
    audit_before = store.scalar("SELECT count(*) FROM audit_log")
    engine.save_snapshot(store, SYSTEM, second)
    assert store.scalar("SELECT count(*) FROM audit_log") == audit_before + 1
    entry = store.rows("SELECT action, entity_type, entity_id, actor, values_before "
                       "FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    assert entry[:4] == ("check.snapshot", "compliance_snapshot", "2026-11-24", SYSTEM.name)
    assert entry[4] is not None                        # the replaced snapshot, for the record
    engine.save_snapshot(store, SYSTEM, engine.run_check(store, "2026-11-23"))
    snaps = engine.snapshots(store)
    assert list(snaps["snapshot_date"].astype(str)) == ["2026-11-23", "2026-11-24"]
    day1 = snaps.iloc[1]
    assert day1["findings"] == second.finding_total == 2
    assert day1["overall"] == pytest.approx(second.overall)
    assert day1["taken_by"] == SYSTEM.name
    rules_hist = engine.snapshot_scores(store, "rule", "PROC-LOCATION")
    assert list(rules_hist["failing"]) == [1, 1]
    clauses = engine.snapshot_scores(store, "clause")
    assert len(clauses) == 2 * len(second.clause_scores)
    assert store.scalar("SELECT count(*) FROM compliance_snapshot_scores "
                        "WHERE snapshot_date = DATE '2026-11-24'") == (
        len(second.rule_scores) + len(second.clause_scores) + len(second.article_scores))


def test_snapshot_needs_the_permission_and_writes_nothing_when_refused(store):
    result = engine.run_check(store, D)
    entries = store.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(PermissionDenied):
        engine.save_snapshot(store, AUDITOR, result)
    assert store.scalar("SELECT count(*) FROM compliance_snapshots") == 0
    assert store.scalar("SELECT count(*) FROM audit_log") == entries


# -- the rule files --------------------------------------------------------------------------

def _contract_rules() -> list[tuple[str, str]]:
    text = CONTRACT.read_text(encoding="utf-8")
    # version 1's table: its section ends where the next one ("version 2") begins
    section = text.split("\n## Compliance rules\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| ([A-Z]+-[A-Z-]+) \| ([\d.]+) \|", section, re.M)


def _contract_v2() -> tuple[list[str], list[tuple[str, tuple[str, ...]]]]:
    """Version 2: the ids whose scope changed, and the new rules with their clauses."""
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split("\n## Compliance rules, version 2\n", 1)[1].split("\n## ", 1)[0]
    changed_part, new_part = section.split("New rules:", 1)
    changed = re.findall(r"^\| ([A-Z]+-[A-Z-]+) \|", changed_part, re.M)
    new = [(rid, tuple(c.strip() for c in clauses.split(",")))
           for rid, clauses in re.findall(r"^\| ([A-Z]+-[A-Z-]+) \| ([\d., ]+) \|", new_part,
                                          re.M)]
    return changed, new


def test_rules_are_the_contracts_rules_in_its_order():
    if not CONTRACT.exists():
        pytest.skip("shared/ is not beside this checkout")
    contract = _contract_rules()
    assert len(contract) == 26
    changed, new = _contract_v2()
    assert [rid for rid, _ in new] == ["INC-PI-AUTHORITY", "INC-POLICE",
                                       "SHARE-SEPARATE-CONSENT", "SHARE-PIA",
                                       "DSR-DEADLINE", "DSR-REFUSAL-REASON",
                                       "DSR-DELETION-DONE", "DSR-IDENTITY"]
    assert dict(new)["DSR-DEADLINE"] == ("8", "10")     # the rights-request rules (issue 14)
    loaded = load_rules()
    assert [(r.rule_id, r.clause) for r in loaded[:26]] == contract
    assert [(r.rule_id, (r.clause,) + r.also_clauses) for r in loaded[26:]] == new
    assert all(r.introduced == 1 for r in loaded[:26])
    assert all(r.introduced == 2 and r.law_beyond_policy for r in loaded[26:])
    # every rule version 2 changed says what changed; no other version 1 rule does
    assert sorted(r.rule_id for r in loaded if r.v2_change) == sorted(changed)
    assert len(changed) == 6


def test_every_rule_file_is_readable_by_an_auditor():
    loaded = load_rules()
    sql_files = {p.name for p in RULES_DIR.glob("*.sql")} - {"_macros.sql"}
    assert sql_files == {f"{r.rule_id}.sql" for r in loaded}
    for r in loaded:
        header = "\n".join(line for line in r.sql.splitlines() if line.startswith("--"))
        clauses = (r.clause,) + r.also_clauses
        named = (f"policy clause {r.clause}" if len(clauses) == 1
                 else f"policy clauses {', '.join(clauses)}")
        assert header.startswith(f"-- {r.rule_id} · {named} · {r.entity_type}"), r.rule_id
        for part in ("Applies to:", "Parameters:", "Output"):
            assert part in header, (r.rule_id, part)
        documented = set(re.findall(r"^--\s+\$([a-z_]+)\s", header, re.M))
        assert documented == set(r.params), r.rule_id
        assert "as_of" in r.params or "as_of_date" in r.params
        assert r.severity in engine.SEVERITIES
        assert r.legal_source and re.search(r"\((V|V2|R|P)\)|Policy", r.legal_source)


def test_rule_parameters_come_from_settings(store):
    from dashboard.settings import Settings
    values = engine.rule_parameters(Settings({"cii_operator": True}), FROZEN_NOW)
    assert set(values) == set(PARAMETERS)
    assert values["regulator_hours"] == 1
    assert values["as_of_date"] == dt.date(2026, 11, 24)


def test_a_broken_rule_is_refused(tmp_path, monkeypatch):
    (tmp_path / "X-RULE.sql").write_text("SELECT 1 AS entity_id WHERE $nonsense")
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nrule_id = "X-RULE"\nclause = "5"\nseverity = "high"\nseverity_reason = "x"\n'
        'entity_type = "processor"\ntitle = "x"\npromise = "x"\nbreach = "x"\nfix = "x"\n'
        'legal_source = "x"\nreading = "x"\n')
    with pytest.raises(rules.RuleError, match=r"unknown parameter\(s\) \$nonsense"):
        rules._load(tmp_path / "rules.toml", tmp_path)
    (tmp_path / "rules.toml").write_text(
        (tmp_path / "rules.toml").read_text().replace('"high"', '"urgent"'))
    with pytest.raises(rules.RuleError, match="severity 'urgent'"):
        rules._load(tmp_path / "rules.toml", tmp_path)


def test_rules_doc_is_up_to_date():
    current = rules.DOC_PATH.read_text(encoding="utf-8")
    assert rules.render_doc(current) == current, \
        "docs/RULES.md is out of date: run `.venv/bin/python -m dashboard.rules`"
    for r in load_rules():
        assert f"`{r.rule_id}`" in current


# -- the demo store --------------------------------------------------------------------------

def test_every_rule_fires_on_the_demo_store(demo_store):
    result = engine.run_check(demo_store, DEMO_AS_OF)
    counts = result.rule_scores.set_index("rule_id")["failing"]
    silent = [rule_id for rule_id, n in counts.items() if n == 0]
    if not demo_store.scalar("SELECT count(*) FROM rights_requests"):
        # the demo's rights requests come with its generator (issue 14); until then the
        # DSR rules have nothing to fire on (tests/test_rules.py covers them)
        silent = [rule_id for rule_id in silent if not rule_id.startswith("DSR-")]
    assert not silent, f"rules with no finding on the demo store: {silent}"
    assert not result.due.empty


def test_bitmap_and_mask_counts_agree(scored, store, monkeypatch):
    """Retention counts come from bitmaps; forcing the GROUP BY path gives the same scores."""
    monkeypatch.setattr(engine, "BITMAP_MAX_BITS", 0)
    again = engine.run_check(store, D)
    for name in ("rule_scores", "clause_scores", "article_scores"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(scored, name))
    assert again.overall == scored.overall
    assert (again.entities_applicable, again.entities_failing) == (
        scored.entities_applicable, scored.entities_failing)


def test_a_rule_returning_an_entity_twice_is_refused(store, monkeypatch):
    add(store, record, 1)
    add(store, processor, "P1")
    for rule_id in ("RET-LOCATION", "PROC-LOCATION"):
        rule = next(r for r in load_rules() if r.rule_id == rule_id)
        doubled = f"{rule.query}\nUNION ALL\n{rule.query}"
        patched = [r if r.rule_id != rule_id else dataclasses.replace(r, sql=doubled)
                   for r in load_rules()]
        monkeypatch.setattr(engine, "load_rules", lambda patched=patched: patched)
        with pytest.raises(rules.RuleError, match="more than once"):
            engine.run_check(store, D)


def test_a_findings_due_at_is_the_missed_deadline(store):
    add(store, processor, "P1", status="offboarded", offboarded_on=days(-40),
        data_returned_on=days(-5))                                 # returned 5 days late
    add(store, incident, "I1", grade="major", regulator_reported_at=T0 + dt.timedelta(hours=6))
    findings = engine.run_check(store, D).findings.set_index("rule_id")
    assert findings.loc["PROC-OFFBOARD-RETURN", "due_at"] == pd.Timestamp(
        dt.datetime(2026, 11, 14, 23, 59, 59, tzinfo=SHANGHAI))
    assert findings.loc["INC-REGULATOR-DEADLINE", "due_at"] == pd.Timestamp(
        T0 + dt.timedelta(hours=4))


def test_rule_sql_comments_are_stripped_and_strings_kept():
    assert rules.strip_sql("-- header\nSELECT 'a-b' AS x -- note\n;") == "SELECT 'a-b' AS x"
    with pytest.raises(rules.RuleError, match="inside a string literal"):
        rules.strip_sql("SELECT 'a -- b' AS x")

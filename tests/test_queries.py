"""The register pages' queries on a small hand-made store with known answers."""
from __future__ import annotations

import datetime as dt
import sys

import pandas as pd
import pytest

from dashboard import queries as Q
from dashboard.settings import Settings

import small_registers as S
from conftest import DEMO_AS_OF, make_store

AS_OF = DEMO_AS_OF.isoformat()


@pytest.fixture
def small(store):
    S.fill(store)
    return store


def _breakdown(df: pd.DataFrame, dimension: str, count: str) -> dict:
    part = Q.pick(df, dimension)
    return {(r.value, r.status): getattr(r, count) for r in part.itertuples()}


# -- processors ------------------------------------------------------------------------
def test_processor_kpis(small):
    assert Q.processor_kpis(small, as_of=AS_OF) == {
        "processors": 7, "active": 5, "expired": 1, "expiring": 2, "no_agreement": 1,
        "outside_cn": 2}


def test_processor_breakdown_counts_each_dimension_by_status(small):
    df = Q.processor_breakdown(small, as_of=AS_OF)
    assert _breakdown(df, "agreement", "processors") == {
        ("valid", "active"): 1, ("valid", "suspended"): 1, ("expiring", "active"): 2,
        ("expiring", "offboarded"): 1, ("expired", "active"): 1, ("none", "active"): 1}
    assert _breakdown(df, "region", "processors") == {
        ("CN", "active"): 3, ("CN", "suspended"): 1, ("HK", "active"): 1, ("SG", "active"): 1,
        (Q.NOT_RECORDED, "offboarded"): 1}
    kinds = Q.pick(df, "kind")
    assert kinds["processors"].sum() == 7
    # the largest value comes first: service_provider (2) before the singletons
    assert kinds["value"].iloc[0] == "service_provider"


def test_processor_expiries_ahead_by_month(small):
    df = Q.processor_expiries(small, as_of=AS_OF)
    assert len(df) == 12 and df["month"].iloc[0] == pd.Timestamp("2026-11-01")
    got = {m.strftime("%Y-%m"): n for m, n in zip(df["month"], df["processors"]) if n}
    # PRC-0006 expires in December but is offboarded; PRC-0003 expired already.
    assert got == {"2026-11": 1, "2026-12": 1, "2027-01": 1, "2027-06": 1}


def test_processor_rows_sort_page_and_agreement_state(small):
    rows = Q.processor_rows(small, as_of=AS_OF, sort="expires", limit=3)
    assert list(rows["processor_id"]) == ["PRC-0003", "PRC-0007", "PRC-0006"]
    assert list(rows["agreement"]) == ["expired", "expiring", "expiring"]
    rest = Q.processor_rows(small, as_of=AS_OF, sort="expires", limit=3, offset=6)
    assert list(rest["processor_id"]) == ["PRC-0004"]          # no expiry date: last
    assert list(rows.columns) == list(Q.PROCESSOR_COLUMNS)


def test_processor_filters(small):
    f = {"category": ["location", "phone"]}      # any of: 0002 (phone), 0005, 0003, 0007
    assert Q.processor_kpis(small, as_of=AS_OF, filters=f)["processors"] == 4
    assert Q.processor_kpis(small, as_of=AS_OF, filters={"q": "  face "})["processors"] == 1
    assert Q.processor_kpis(small, as_of=AS_OF, filters={"q": "招聘"})["processors"] == 1
    f = {"agreement": ["expiring"], "status": ["active"]}
    assert set(Q.processor_rows(small, as_of=AS_OF, filters=f)["processor_id"]) == {
        "PRC-0002", "PRC-0007"}
    f = {"expires": ["2026-12-01", "2026-12-31"]}
    assert set(Q.processor_rows(small, as_of=AS_OF, filters=f)["processor_id"]) == {
        "PRC-0002", "PRC-0006"}
    f = {"expires": [None, "2026-11-24"]}
    assert Q.processor_kpis(small, as_of=AS_OF, filters=f)["processors"] == 2
    f = {"region": [Q.NOT_RECORDED], "purpose": [Q.NOT_RECORDED]}
    assert list(Q.processor_rows(small, as_of=AS_OF, filters=f)["processor_id"]) == ["PRC-0006"]


def test_due_soon_days_is_a_setting(tmp_path):
    s = make_store(tmp_path / "s.duckdb", settings=Settings({"due_soon_days": 10}))
    S.fill(s)
    # PRC-0002 expires 2026-12-10, 16 days ahead: no longer "expiring" with 10 days.
    assert Q.processor_kpis(s, as_of=AS_OF)["expiring"] == 1
    # record 11 is due 2026-12-20: active with a 10-day horizon.
    kpis = Q.retention_summary(s, as_of=AS_OF)["kpis"]
    assert (kpis["due"], kpis["active"]) == (1, 3)
    s.close()


# -- sharing ---------------------------------------------------------------------------
def test_sharing_kpis_and_breakdown(small):
    assert Q.sharing_kpis(small, as_of=AS_OF) == {
        "agreements": 5, "active": 4, "cross_border": 2, "active_past_expiry": 1,
        "no_confidentiality": 2, "subjects_active": 4500}
    df = Q.sharing_breakdown(small, as_of=AS_OF)
    assert _breakdown(df, "kind", "agreements") == {
        ("share", "active"): 3, ("transfer", "active"): 1, ("disclosure", "ended"): 1}
    assert _breakdown(df, "consent_code", "agreements") == {
        ("separate", "active"): 1, ("explicit", "active"): 1, ("bundled", "active"): 1,
        ("none", "ended"): 1, (Q.NOT_RECORDED, "active"): 1}
    assert set(Q.pick(df, "legal_basis")["value"]) == {
        "explicit_consent", "merger_acquisition", "legal_requirement", "entrusted_processing",
        "affiliate_service"}


def test_sharing_filters_and_rows(small):
    f = {"basis": ["explicit_consent", "merger_acquisition"], "status": ["active"]}
    assert Q.sharing_kpis(small, as_of=AS_OF, filters=f)["agreements"] == 2
    f = {"region": ["US", "HK"], "category": ["name"]}
    assert list(Q.sharing_rows(small, as_of=AS_OF, filters=f)["agreement_id"]) == ["SHA-0002"]
    rows = Q.sharing_rows(small, as_of=AS_OF, sort="subjects", limit=2)
    assert list(rows["agreement_id"]) == ["SHA-0004", "SHA-0001"]
    f = {"effective": ["2026-03-01", "2026-04-30"]}
    assert Q.sharing_kpis(small, as_of=AS_OF, filters=f)["agreements"] == 2
    f = {"q": "prc-0001"}
    assert list(Q.sharing_rows(small, as_of=AS_OF, filters=f)["agreement_id"]) == ["SHA-0004"]


# -- retention -------------------------------------------------------------------------
def test_retention_kpis(small):
    assert Q.retention_summary(small, as_of=AS_OF)["kpis"] == {
        "records": 12, **S.RETENTION_STATUS, "outside_cn": 2}
    assert Q.retention_holds(small, as_of=AS_OF)["kpis"] == {
        "on_hold": 2, "review_passed": 1, "no_reference": 1}


def test_retention_status_of_each_record(small):
    rows = Q.retention_rows(small, as_of=AS_OF, limit=50)
    status = dict(zip(rows["record_id"], rows["status"]))
    assert status == {1: "active", 2: "overdue", 3: "due", 4: "overdue", 5: "overdue",
                      6: "active", 7: "deleted", 8: "on_hold", 9: "on_hold", 10: "overdue",
                      11: "due", 12: "deleted"}
    due = dict(zip(rows["record_id"], rows["due_on"]))
    assert due[3] == pd.Timestamp("2026-11-24") and pd.isna(due[1])


def test_retention_as_of_reads_deletions_and_due_dates_on_that_date(small):
    # On 2026-08-01 record 12 (deleted 2026-09-01) was still stored, on hold;
    # record 2 (due 2026-10-31) was active and record 10 (due 2026-06-01) overdue.
    rows = Q.retention_rows(small, as_of="2026-08-01", limit=50)
    status = dict(zip(rows["record_id"], rows["status"]))
    assert (status[12], status[2], status[10], status[7]) == (
        "on_hold", "active", "overdue", "deleted")


def test_retention_breakdown_in_one_frame(small):
    df = Q.retention_summary(small, as_of=AS_OF)["breakdown"]
    by_status = {r.value: r.records for r in Q.pick(df, "status").itertuples()}
    assert by_status == S.RETENTION_STATUS
    assert _breakdown(df, "system", "records") == {
        ("crm", "active"): 1, ("crm", "overdue"): 2, ("crm", "due"): 2, ("crm", "on_hold"): 1,
        ("app", "overdue"): 1, ("app", "active"): 1, ("hr", "deleted"): 1,
        ("hr", "on_hold"): 1, ("web", "overdue"): 1, ("web", "deleted"): 1}
    assert Q.pick(df, "category")["records"].sum() == 12
    assert Q.pick(df, "system")["value"].iloc[0] == "crm"          # largest first


def test_retention_overdue_trend(small):
    df = Q.retention_summary(small, as_of=AS_OF)["overdue_trend"]
    got = [(m.date().isoformat(), r, c) for m, r, c in
           zip(df["month"], df["records"], df["cumulative"])]
    assert got == S.OVERDUE_MONTHS


def test_retention_holds(small):
    holds = Q.retention_holds(small, as_of=AS_OF)
    assert holds["by_reason"].to_dict("records") == [
        {"hold_reason": "court_or_legal_proceedings", "review_state": "passed", "records": 1},
        {"hold_reason": "law_or_regulation", "review_state": "ahead", "records": 1}]
    months = holds["by_review_month"]
    assert [(m.strftime("%Y-%m"), s, n) for m, s, n in
            zip(months["month"], months["review_state"], months["records"])] == [
        ("2026-11", "passed", 1), ("2027-02", "ahead", 1)]


def test_retention_filters_apply_to_every_query_alike(small):
    f = {"system": ["crm"], "status": ["overdue", "due"]}
    expected = small.scalar(
        "SELECT count(*) FROM retention_due WHERE system = 'crm' AND hold_reason IS NULL "
        "AND (deleted_on IS NULL OR deleted_on > DATE '2026-11-24') "
        "AND due_on <= DATE '2026-12-24'")
    assert expected == 4
    summary = Q.retention_summary(small, as_of=AS_OF, filters=f)
    assert summary["kpis"]["records"] == expected
    df = summary["breakdown"]
    assert Q.pick(df, "status")["records"].sum() == expected
    assert Q.pick(df, "category")["records"].sum() == expected
    assert len(Q.retention_rows(small, as_of=AS_OF, filters=f)) == expected
    assert summary["overdue_trend"]["records"].sum() == 2
    assert Q.retention_holds(small, as_of=AS_OF, filters=f)["kpis"]["on_hold"] == 0
    f = {"hold": ["law_or_regulation"]}
    assert Q.retention_holds(small, as_of=AS_OF, filters=f)["kpis"] == {
        "on_hold": 1, "review_passed": 0, "no_reference": 1}


def test_nothing_matching_gives_zeros_and_empty_frames(small):
    summary = Q.retention_summary(small, as_of=AS_OF, filters={"q": "nobody"})
    assert set(summary["kpis"].values()) == {0}
    assert summary["breakdown"].empty and summary["overdue_trend"].empty
    holds = Q.retention_holds(small, as_of=AS_OF, filters={"q": "nobody"})
    assert set(holds["kpis"].values()) == {0} and holds["by_reason"].empty


def test_retention_search_and_date_filters(small):
    rows = Q.retention_rows(small, as_of=AS_OF, filters={"q": "7"})
    assert list(rows["record_id"]) == [7]                       # an exact record id ...
    rows = Q.retention_rows(small, as_of=AS_OF, filters={"q": "sub-001"})
    assert list(rows["record_id"]) == [10, 11, 12]              # ... or part of a subject
    f = {"due": ["2026-11-01", "2026-12-31"]}
    assert set(Q.retention_rows(small, as_of=AS_OF, filters=f)["record_id"]) == {3, 4, 6, 11}
    f = {"collected": ["2026-01-01", "2026-01-01"], "hold": ["court_or_legal_proceedings"]}
    assert list(Q.retention_rows(small, as_of=AS_OF, filters=f)["record_id"]) == [8]


def test_retention_options(small):
    assert Q.retention_options(small) == {"system": ["app", "crm", "hr", "web"],
                                          "region": ["CN", "HK", "SG"]}
    assert Q.processor_options(small) == {"region": ["CN", "HK", "SG", Q.NOT_RECORDED]}
    assert Q.sharing_options(small) == {"region": ["CN", "HK", "US"]}


# -- the filter machinery ---------------------------------------------------------------
def test_filter_values_are_bound_not_spliced(small):
    evil = "x') OR TRUE OR ('"
    assert Q.processor_kpis(small, as_of=AS_OF, filters={"q": evil})["processors"] == 0
    assert Q.processor_kpis(small, as_of=AS_OF, filters={"kind": [evil]})["processors"] == 0
    sql, params = Q.where_clause(Q.PROCESSOR_FILTERS, {"q": evil, "kind": [evil]})
    assert evil not in sql and evil.lower() in params.values()


def test_unknown_filters_and_sorts_are_refused(small):
    with pytest.raises(ValueError, match="unknown filter"):
        Q.processor_kpis(small, as_of=AS_OF, filters={"colour": ["red"]})
    with pytest.raises(ValueError, match="unknown sort"):
        Q.retention_rows(small, as_of=AS_OF, sort="record_id; DROP TABLE x")


def test_empty_filters_mean_everything():
    assert Q.where_clause(Q.RETENTION_FILTERS, {"q": " ", "status": [], "due": [None, None]}) \
        == ("TRUE", {})
    assert Q.active_filters({"q": "", "status": ["due"], "due": [None, "2026-01-01"]}) == 2


def test_rows_are_a_bounded_page(small):
    assert len(Q.retention_rows(small, as_of=AS_OF, limit=10**9)) == 12   # capped at 1000
    assert len(Q.retention_rows(small, as_of=AS_OF, limit=5, offset=10)) == 2
    assert Q.page_count(0, 100) == 1 and Q.page_count(101, 100) == 2


def test_labels():
    assert Q.label("kind", "service_provider") == "Service provider"
    assert Q.label("category", "id_card_number") == "ID card number"
    assert Q.label("retention_status", "on_hold") == "On hold"
    assert Q.label("region", "CN") == "CN"
    assert Q.label("region", Q.NOT_RECORDED) == "Not recorded"
    assert Q.label("consent", "none") == "No consent"
    df = pd.DataFrame({"kind": ["supplier", None], "cats": [["name", "phone"], None]})
    out = Q.labelled(df, {"kind": "kind", "cats": "category"})
    assert out["kind"].iloc[0] == "Supplier" and pd.isna(out["kind"].iloc[1])
    assert out["cats"].iloc[0] == ["Name", "Contact number"]
    assert df["kind"].iloc[0] == "supplier"                     # the input is left alone


def test_every_filter_choice_has_a_distinct_label():
    for specs in Q.FILTERS.values():
        for f in specs:
            labels = [Q.label(f.label_family, o) for o in f.options]
            assert len(set(labels)) == len(labels), f.key


# -- policy, settings, catalog -----------------------------------------------------------
def test_policy_clauses_in_document_order(store):
    df = Q.policy_clauses(store)
    assert list(df["clause"][:3]) == ["0", "1", "1.1"]
    assert df["ordinal"].is_monotonic_increasing
    assert "face recognition" in df.set_index("clause").loc["5.1.4", "body"]


def test_rules_by_clause_degrades_without_the_engine(monkeypatch):
    monkeypatch.setitem(sys.modules, "dashboard.engine", None)
    assert Q.rules_by_clause() == {}


def test_rules_by_clause_lists_each_rule_under_its_clause():
    engine = pytest.importorskip("dashboard.engine")
    rules = engine.load_rules()
    by_clause = Q.rules_by_clause()
    assert sum(len(v) for v in by_clause.values()) == sum(1 + len(r.also_clauses)
                                                          for r in rules)
    # a rule named for several clauses is listed under each (SHARE-PIA: 5.1, 5.2, 5.3)
    for clause in ("5.1", "5.2", "5.3"):
        assert "SHARE-PIA" in {r["rule_id"] for r in by_clause[clause]}
    assert "SHARE-SEPARATE-CONSENT" in {r["rule_id"] for r in by_clause["5.2.1"]}
    ids = {r["rule_id"] for r in by_clause["5.1.4"]}
    assert {"PROC-CONFIDENTIALITY", "PROC-PIA"} <= ids
    assert {r["rule_id"] for r in by_clause["6.2"]} >= {"RET-OVERDUE", "RET-HOLD-INVALID"}
    assert all(r["severity"] in ("low", "medium", "high") for v in by_clause.values() for r in v)


def test_settings_table_lists_every_setting_with_its_source():
    s = Settings({"due_soon_days": 14})
    df = Q.settings_table(s)
    assert len(df) == len(s.rows())
    row = df.set_index("setting").loc["due_soon_days"]
    assert (row["value"], row["default"], row["unit"], bool(row["changed"])) == (
        "14", "30", "days", True)
    assert df.set_index("setting").loc["cii_operator", "value"] == "false"
    assert df["source"].str.len().min() > 0 and set(df["confidence"]) <= set(Q.CONFIDENCE)


def test_catalog_frames():
    cats = Q.catalog_categories().set_index("code")
    assert set(cats.index[cats["sensitive"]]) == {
        "facial_biometrics", "bank_account", "location", "id_card_number"}
    assert cats.loc["resume", "max_age_days"] == 180
    assert pd.isna(cats.loc["name", "max_age_days"])
    purposes = Q.catalog_purposes().set_index("code")
    assert purposes.loc["identity_verification", "categories"] == [
        "name", "id_card_number", "phone", "facial_biometrics"]


def test_as_of_accepts_dates_and_strings(small):
    assert Q.retention_summary(small, as_of=dt.date(2026, 11, 24))["kpis"] == \
        Q.retention_summary(small, as_of="2026-11-24")["kpis"]

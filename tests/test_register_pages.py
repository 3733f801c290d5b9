"""The register, Policy and Settings pages under AppTest: they render for every role that
may open them, their filters change their numbers (checked against direct SQL), the URL
restores a view, and the Policy page opens on a linked clause."""
from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.navigation import PAGE_BY_KEY
from dashboard.store import Store

import small_registers as S
from conftest import AUDITOR, DPO, ADMIN, MANAGER, app_test, make_store

MY_PAGES = ("processors", "sharing", "retention", "policy", "settings")
ACTORS = {"dpo": DPO, "manager": MANAGER, "auditor": AUDITOR, "admin": ADMIN}


@pytest.fixture
def small_db(tmp_path):
    path = tmp_path / "small.duckdb"
    s = make_store(path)
    S.fill(s)
    s.close()
    return path


def open_page(db, actor, monkeypatch, page, query=None) -> AppTest:
    """Run app.py straight onto ``page`` with ``query`` in the URL (conftest.app_test)."""
    return app_test(db, actor, monkeypatch, page=page, query=query)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def count(text: str) -> int:
    return int(text.replace(",", ""))


def _rendered(at, page):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == {"sharing": "Sharing agreements",
                                 "policy": "Privacy policy"}.get(page, PAGE_BY_KEY[page].title)


# -- every page, every role -------------------------------------------------------------
CASES = [(page, role) for page in MY_PAGES for role in sorted(PAGE_BY_KEY[page].roles)]


@pytest.mark.parametrize("page,role", CASES)
def test_page_renders_for_each_role_on_small_store(small_db, monkeypatch, page, role):
    _rendered(open_page(small_db, ACTORS[role], monkeypatch, page), page)


@pytest.mark.parametrize("page,role", CASES)
def test_page_renders_for_each_role_on_demo_store(demo_db, monkeypatch, page, role):
    at = open_page(demo_db, ACTORS[role], monkeypatch, page)
    _rendered(at, page)
    if page in ("processors", "sharing", "retention"):
        first = next(iter(metrics(at).values()))
        assert count(first) > 0                      # the demo has rows in every register
        assert at.dataframe and len(at.dataframe[0].value) > 0


# -- register pages: KPIs, charts and table on the small store ----------------------------
def test_processors_page_numbers(small_db, monkeypatch):
    at = open_page(small_db, DPO, monkeypatch, "processors")
    assert metrics(at) == {"Processors": "7", "Active": "5", "Expired": "1",
                           "Expiring ≤ 30 days": "2", "No expiry date": "1",
                           "Stored outside CN": "2"}
    assert len(at.get("plotly_chart")) == 4
    table = at.dataframe[0].value
    assert len(table) == 7 and table["kind"].iloc[0] == "Service provider"
    assert "Processors 1–7 of 7" in " ".join(c.value for c in at.caption)
    links = [link.value for link in at.get("page_link")]
    assert "Policy 5.1.4 · entrusted partners" in links


def test_sharing_page_numbers(small_db, monkeypatch):
    at = open_page(small_db, AUDITOR, monkeypatch, "sharing")
    assert metrics(at)["Agreements"] == "5" and metrics(at)["Subjects (active)"] == "4,500"
    assert len(at.get("plotly_chart")) == 3
    links = [link.value for link in at.get("page_link")]
    assert {"Policy 5.1 · sharing", "Policy 5.2 · transfer", "Policy 5.3 · disclosure"} <= \
        set(links)


def test_retention_page_numbers(small_db, monkeypatch):
    at = open_page(small_db, MANAGER, monkeypatch, "retention")
    m = metrics(at)
    assert {k: m[k] for k in ("Records", "Overdue", "Due ≤ 30 days", "On hold", "Active",
                              "Deleted")} == {
        "Records": "12", "Overdue": "4", "Due ≤ 30 days": "2", "On hold": "2", "Active": "2",
        "Deleted": "2"}
    assert (m["Holds past review date"], m["Holds without reference"]) == ("1", "1")
    assert len(at.get("plotly_chart")) == 6
    assert {"Policy 6.1 · storage in Chinese Mainland",
            "Policy 6.2 · retention and holds"} <= {x.value for x in at.get("page_link")}


# -- filters change the numbers, as direct SQL says ---------------------------------------
def _sql_count(db, sql, params=None) -> int:
    with Store(db) as s:
        return s.scalar(sql, params)


def test_retention_filters_change_kpis_and_table(small_db, monkeypatch):
    expected = _sql_count(
        small_db, "SELECT count(*) FROM retention_due WHERE category IN ('name', 'location') "
                  "AND deleted_on IS NULL AND hold_reason IS NULL AND due_on < DATE '2026-11-24'")
    assert expected == 3
    at = open_page(small_db, DPO, monkeypatch, "retention")
    at.multiselect(key="status").set_value(["overdue"]).run()
    assert metrics(at)["Records"] == "4"
    at.multiselect(key="category").set_value(["name", "location"]).run()
    m = metrics(at)
    assert count(m["Records"]) == count(m["Overdue"]) == expected
    assert m["Deleted"] == "0"
    assert sorted(at.dataframe[0].value["record_id"]) == [2, 4, 5]
    assert "**3** records match 2 filters." in [x.value for x in at.markdown]
    # a date range and a search narrow it further
    at.date_input(key="due").set_value((dt.date(2026, 10, 1), dt.date(2026, 11, 30))).run()
    assert metrics(at)["Records"] == "2"
    at.text_input(key="q").set_value("SUB-0004").run()
    assert metrics(at)["Records"] == "1"
    # clearing brings everything back
    clear = next(b for b in at.button if b.label == "Clear filters")
    assert not clear.disabled
    clear.click().run()
    assert metrics(at)["Records"] == "12"
    assert at.multiselect(key="status").value == [] and at.text_input(key="q").value == ""


def test_processor_filters_change_kpis(small_db, monkeypatch):
    expected = _sql_count(small_db, "SELECT count(*) FROM processors WHERE "
                                    "kind IN ('service_provider', 'agent')")
    at = open_page(small_db, DPO, monkeypatch, "processors")
    at.multiselect(key="kind").set_value(["service_provider", "agent"]).run()
    m = metrics(at)
    assert count(m["Processors"]) == expected == 3
    assert m["Stored outside CN"] == "2"                        # HK hosting, SG analytics
    at.multiselect(key="region").set_value(["CN"]).run()
    assert metrics(at)["Processors"] == "1"
    assert list(at.dataframe[0].value["processor_id"]) == ["PRC-0001"]


def test_sharing_filters_change_kpis(small_db, monkeypatch):
    expected = _sql_count(small_db, "SELECT count(*) FROM sharing_agreements WHERE "
                                    "list_has_any(data_categories, ['facial_biometrics', "
                                    "'id_card_number'])")
    at = open_page(small_db, DPO, monkeypatch, "sharing")
    at.multiselect(key="category").set_value(["facial_biometrics", "id_card_number"]).run()
    assert count(metrics(at)["Agreements"]) == expected == 2
    assert metrics(at)["Subjects (active)"] == "3,000"


def test_no_match_shows_a_message_not_an_error(small_db, monkeypatch):
    at = open_page(small_db, DPO, monkeypatch, "retention", {"q": "nobody"})
    assert metrics(at)["Records"] == "0" and not at.exception
    assert any("No records match" in i.value for i in at.info)


# -- the URL holds the view ---------------------------------------------------------------
def test_query_params_restore_retention_filters(small_db, monkeypatch):
    at = open_page(small_db, DPO, monkeypatch, "retention",
                   {"status": "Overdue", "category": ["Name", "Location"], "sort": "Due date "
                    "(earliest first)"})
    assert at.multiselect(key="status").value == ["overdue"]
    assert at.multiselect(key="category").value == ["name", "location"]
    assert metrics(at)["Records"] == "3"
    assert list(at.dataframe[0].value["record_id"]) == [5, 2, 4]      # by due date


def test_query_params_restore_processor_and_sharing_filters(small_db, monkeypatch):
    at = open_page(small_db, DPO, monkeypatch, "processors",
                   {"agreement": "Expiring soon", "status": "Active"})
    assert metrics(at)["Processors"] == "2"
    at = open_page(small_db, DPO, monkeypatch, "sharing",
                   {"basis": "Merger or acquisition", "effective": ["2026-01-01", "2026-12-31"]})
    assert metrics(at)["Agreements"] == "1"
    assert at.date_input(key="effective").value == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def test_a_filter_value_unknown_to_the_page_is_ignored(small_db, monkeypatch):
    at = open_page(small_db, DPO, monkeypatch, "retention", {"status": "Nonsense"})
    assert metrics(at)["Records"] == "12" and not at.exception


# -- settings are settings ------------------------------------------------------------------
def test_due_soon_days_from_the_environment_reaches_pages(small_db, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_DUE_SOON_DAYS", "10")
    at = open_page(small_db, DPO, monkeypatch, "retention")
    assert metrics(at)["Due ≤ 10 days"] == "1"
    at = open_page(small_db, DPO, monkeypatch, "settings")
    table = at.dataframe[0].value.set_index("setting")
    assert table.loc["due_soon_days", "value"] == "10"
    assert table.loc["due_soon_days", "from"] == "environment variable COMPLIANCE_DUE_SOON_DAYS"
    assert any("**1** changed from the default" in x.value for x in at.markdown)


# -- policy --------------------------------------------------------------------------------
def test_policy_page_shows_clause_text_with_numbers(small_db, monkeypatch):
    at = open_page(small_db, AUDITOR, monkeypatch, "policy")
    text = "\n".join(m.value for m in at.markdown)
    assert "**5.1.4** We may entrust reliable partners" in text
    assert "<span" not in text          # a file's text, rendered without HTML (no anchors
    # in the text: articles are headers with anchors, a clause opens with ?clause=)
    assert "](#clause-5)" in text       # the contents link to the articles' header anchors
    headers = [h.value for h in at.header]
    assert "5. How will we share, transfer and disclose your information" in headers
    assert at.selectbox(key="policy_clause").value is None          # no clause linked


def test_policy_link_opens_on_the_clause(small_db, monkeypatch):
    at = open_page(small_db, MANAGER, monkeypatch, "policy", {"clause": "6.2"})
    assert at.selectbox(key="policy_clause").value == "6.2"
    assert [h.value for h in at.subheader][0] == "Clause 6.2"
    assert "Article 6. How will we store your information" in [c.value for c in at.caption]
    focused = [m.value for m in at.markdown if m.value.startswith("**6.2**")]
    assert focused and "court decisions" in focused[0]
    assert any("Linked clause" in m.value for m in at.markdown)
    assert at.query_params["clause"] == "6.2"
    # choosing another clause moves the URL with it
    at.selectbox(key="policy_clause").set_value("5.1.4").run()
    assert at.query_params["clause"] == "5.1.4"
    assert [h.value for h in at.subheader][0] == "Clause 5.1.4"


def test_policy_lists_the_rules_that_test_a_clause(small_db, monkeypatch):
    pytest.importorskip("dashboard.engine")
    at = open_page(small_db, DPO, monkeypatch, "policy", {"clause": "5.1.4"})
    rules = at.dataframe[0].value
    assert {"PROC-CONFIDENTIALITY", "PROC-TERMS", "PROC-PIA"} <= set(rules["rule_id"])
    assert any("PROC-CONFIDENTIALITY" in m.value for m in at.markdown)    # badges in the text
    links = {x.value for x in at.get("page_link")}
    assert "Processors" in links


def test_policy_unknown_clause_warns(small_db, monkeypatch):
    at = open_page(small_db, DPO, monkeypatch, "policy", {"clause": "5.9"})
    assert "no clause 5.9" in at.warning[0].value
    assert at.selectbox(key="policy_clause").value is None and not at.exception


# -- settings ------------------------------------------------------------------------------
def test_settings_page_lists_settings_and_catalog(small_db, monkeypatch):
    from dashboard.settings import SPECS
    at = open_page(small_db, ADMIN, monkeypatch, "settings")
    settings = at.dataframe[0].value
    assert list(settings["setting"]) == [s.name for s in SPECS]
    row = settings.set_index("setting").loc["regulator_report_hours"]
    assert (row["value"], row["unit"], row["confidence"]) == ("4", "hours", "V")
    assert "CAC Measures" in row["source"]
    categories, purposes, retention = (d.value for d in at.dataframe[1:4])
    assert len(categories) == 14 and categories["sensitive"].sum() == 4
    assert "Identity verification" not in purposes["label"].tolist()   # the catalog's labels
    assert retention.set_index("label").loc["Resume", "max_age_days"] == 180
    assert any("COMPLIANCE_" in c.value for c in at.code)
    # an administrator edits one setting at a time (tests/test_settings_edit.py); a manager
    # only reads them
    ro = open_page(small_db, MANAGER, monkeypatch, "settings")
    assert not ro.exception
    assert not ro.text_input and not ro.number_input and not ro.toggle    # read-only
    assert [b.label for b in ro.button if b.label != "Sign out"] == []


# -- large registers: a bounded page, the URL's page number, back to page 1 on a filter ----
def test_table_pages_follow_the_url_and_reset_on_a_new_filter(demo_db, monkeypatch):
    total = _sql_count(demo_db, "SELECT count(*) FROM retention_records")
    assert total > 300
    at = open_page(demo_db, DPO, monkeypatch, "retention", {"page": "3"})
    assert len(at.dataframe[0].value) == 100                     # never the whole register
    assert f"Records 201–300 of {total:,}" in " ".join(c.value for c in at.caption)
    at.multiselect(key="category").set_value(["name"]).run()
    named = _sql_count(demo_db, "SELECT count(*) FROM retention_records WHERE category = 'name'")
    assert metrics(at)["Records"] == f"{named:,}"
    assert f"Records 1–{min(named, 100)} of {named:,}" in " ".join(c.value for c in at.caption)


def test_kpi_counts_fit_their_cards():
    from dashboard.views import count_text
    assert count_text(12_345) == ("12,345", "")
    assert count_text(10_000_000) == ("10.0 M", "Exactly 10,000,000.")

"""The Policy page's "Policy vs law" view under AppTest: beside the compliance score, the
clauses where the law asks more than the policy's text says, with the engine's results;
its CSV download (DPOs and auditors) is the pure function's table and is logged; every
text from the rules shows as plain text."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import pytest

from dashboard import dashboards as D
from dashboard import engine
from dashboard import policy_law as PL
from dashboard.reference import clause_map
V2_ADDED = ("INC-PI-AUTHORITY", "INC-POLICE", "SHARE-SEPARATE-CONSENT", "SHARE-PIA",
            "DSR-DEADLINE", "DSR-REFUSAL-REASON", "DSR-DELETION-DONE", "DSR-IDENTITY")
from dashboard.rules import load_rules
from dashboard.settings import Settings
from dashboard.store import Store
from dashboard.ui import plain

from conftest import ADMIN, AUDITOR, DPO, FROZEN_NOW, MANAGER, app_test

HOSTILE = ("<img src=x onerror=alert(1)> **bold** [link](http://evil.example) "
           ":red[red] =1+1")


@pytest.fixture
def downloads(monkeypatch):
    """Each deferred download the page registers: file name -> its data callable (a
    browser click makes Streamlit call it on another thread; the tests call it)."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    seen: dict[str, tuple] = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = (data_callable, mimetype)
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return seen


@pytest.fixture
def patched_rules(monkeypatch):
    """The real rules with PROC-PIA marked as added in version 2 (the engine scores it)
    with a hostile law_beyond_policy, and PROC-TERMS marked as changed by version 2: the
    view's shape whatever rules.toml holds."""
    def patch(r):
        if r.rule_id == "PROC-PIA":
            return dataclasses.replace(r, introduced=2, law_beyond_policy=HOSTILE,
                                       also_clauses=("5.3.1",), v2_change="")
        if r.introduced == 2:
            return dataclasses.replace(r, introduced=1, law_beyond_policy="", v2_change="")
        if r.rule_id == "PROC-TERMS":
            return dataclasses.replace(r, v2_change="Also the rights and obligations term.")
        return dataclasses.replace(r, v2_change="")
    rules = [patch(r) for r in load_rules()]
    monkeypatch.setattr("dashboard.rules.load_rules", lambda: list(rules))
    return rules


def app_store() -> Store:
    """Another handle on the app's store file (the same DuckDB instance in this process)."""
    return Store(os.environ["COMPLIANCE_DB"], settings=Settings(), clock=lambda: FROZEN_NOW)


def open_policy(db, actor, monkeypatch, query=None):
    at = app_test(db, actor, monkeypatch, page="policy", query=query)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + \
        "\n".join(c.value for c in at.caption)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def buttons(at) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


@pytest.mark.parametrize("actor", [DPO, AUDITOR], ids=lambda a: a.role)
def test_policy_page_shows_policy_vs_law_and_downloads_it(demo_db, monkeypatch, downloads,
                                                          patched_rules, actor):
    at = open_policy(demo_db, actor, monkeypatch)
    assert "Policy vs law" in [h.value for h in at.subheader]
    store = app_store()
    as_of = D.as_of_for(store)
    summary = engine.check_summary(store, as_of)
    m = metrics(at)
    assert m["Compliance score"] == D.percent(summary.overall)
    assert m["Clauses where the law asks more"] == "2"                # 5.1.4 and 5.3.1
    pia = summary.rule_scores.set_index("rule_id").loc["PROC-PIA"]
    assert m["Findings of those rules"] == f"{int(pia['failing']):,}"  # counted once
    assert m["Rules version 2 changed"] == "1"
    text = markdown(at)
    assert "**Clause 5.1.4**" in text and "**Clause 5.3.1**" in text
    assert f"**What the law asks.** {plain(HOSTILE)}" in text        # plain, once in full
    assert text.count("**What the law asks.**") == 1
    assert "as under clause 5.1.4 above" in text
    assert f"of {int(pia['applicable']):,} checked · score **{D.percent(pia['score'])}**" \
        in text
    assert "confidence **V**" in text
    assert "The policy's text: “We may entrust reliable partners" in text
    changed = next(d.value for d in at.dataframe if "v2_change" in d.value.columns)
    assert changed["rule_id"].tolist() == ["PROC-TERMS"]
    links = {x.value for x in at.get("page_link")}
    assert "Findings of PROC-PIA" in links

    # the download: the pure function's table through the one writer, logged
    assert buttons(at) == ["Download policy vs law (CSV)"]
    (name,) = [n for n in downloads if n.startswith("policy_vs_law_")]
    data_callable, mime = downloads[name]
    before = store.scalar("SELECT max(seq) FROM audit_log")
    data = data_callable()
    assert mime == "text/csv" and data.startswith(b"\xef\xbb\xbf")
    frame = PL.csv_frame(PL.beyond_policy(patched_rules, clause_map(), summary.rule_scores),
                         PL.changed_in_v2(patched_rules, clause_map(), summary.rule_scores),
                         PL.evaluated_at(store, as_of=as_of))
    import io
    expected = io.BytesIO()
    PL.write_csv(frame, expected)
    assert data == expected.getvalue()
    assert b"'=1+1" not in data and b",=" not in data          # the formula guard
    entry = store.rows("SELECT seq, actor, action, entity_id, values_after FROM audit_log "
                       "ORDER BY seq DESC LIMIT 1")[0]
    assert entry[:4] == (before + 1, actor.name, "export.download", "policy_vs_law")
    after = json.loads(entry[4])
    assert after["sha256"] == hashlib.sha256(data).hexdigest() and after["file"] == name
    store.close()


@pytest.mark.parametrize("actor", [MANAGER, ADMIN], ids=lambda a: a.role)
def test_other_roles_see_the_view_without_the_download(demo_db, monkeypatch, downloads,
                                                       patched_rules, actor):
    at = open_policy(demo_db, actor, monkeypatch)
    assert "Policy vs law" in [h.value for h in at.subheader]
    assert f"**What the law asks.** {plain(HOSTILE)}" in markdown(at)
    assert buttons(at) == [] and not downloads
    assert any("permission: Download exports and audit packs" in c.value for c in at.caption)


def test_the_view_sits_after_a_linked_clause(demo_db, monkeypatch, patched_rules):
    at = open_policy(demo_db, DPO, monkeypatch, {"clause": "6.2"})
    subheaders = [h.value for h in at.subheader]
    assert subheaders.index("Clause 6.2") < subheaders.index("Policy vs law")
    assert not at.expander[0].proto.expanded            # folded while a clause is linked
    at = open_policy(demo_db, DPO, monkeypatch)
    assert at.expander[0].proto.expanded


def test_the_sidebar_links_to_the_view(demo_db, monkeypatch, patched_rules):
    at = open_policy(demo_db, AUDITOR, monkeypatch)
    assert any("[Policy vs law](#policy-vs-law)" in m.value for m in at.sidebar.markdown)


def test_real_rules_on_the_demo_store(demo_db, monkeypatch, downloads):
    """The rules.toml of version 2: the eight rules it added, under their clauses, and the
    six it changed; the CSV holds one row per clause and rule of both lists."""
    import csv
    import io
    at = open_policy(demo_db, DPO, monkeypatch)
    text = markdown(at)
    for clause in ("5.1", "5.1.1", "5.2", "5.2.1", "5.3", "5.3.1", "7.2", "8", "8.2", "8.3",
                   "8.4", "8.5", "10"):
        assert f"**Clause {clause}**" in text, clause
    for rule_id in V2_ADDED:
        assert f"-badge[{plain(rule_id)}] **" in text, rule_id          # told in full once
    assert text.count("**What the law asks.**") == 8
    assert "**Clause 5.1** · Share" in text                  # a heading is named; a clause's
    assert "**Clause 5.1.1**\n" in text + "\n"               # first words are its excerpt
    assert metrics(at)["Clauses where the law asks more"] == "13"
    assert metrics(at)["Rules version 2 changed"] == "6"
    changed = next(d.value for d in at.dataframe if "v2_change" in d.value.columns)
    assert set(changed["rule_id"]) == {"PROC-TERMS", "PROC-PIA", "SHARE-CONSENT",
                                       "INC-USER-NOTICE", "INC-REGULATOR-DEADLINE",
                                       "INC-GRADE"}
    (name,) = [n for n in downloads if n.startswith("policy_vs_law_")]
    data = downloads[name][0]()
    rows = list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))
    assert [r["section"] for r in rows].count("law_beyond_policy") == 15
    assert [r["section"] for r in rows].count("changed_in_v2") == 6
    assert {r["rule_id"] for r in rows if r["section"] == "law_beyond_policy"} == set(V2_ADDED)
    assert all(r["law_asks"] for r in rows if r["section"] == "law_beyond_policy")

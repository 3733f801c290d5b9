"""The REST API (issue 16, dashboard/api.py) and its tokens (dashboard/tokens.py): every
endpoint and role, bad tokens, bad bodies (clear 4xx JSON, nothing written), a revoked
token, and the audit entry of every use."""
from __future__ import annotations

import hashlib
import io
import json

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard import accounts, api, engine, stream, tokens
from dashboard.access import Actor, PermissionDenied
from dashboard.cli import main as cli_main

from conftest import DPO, SYSTEM
from test_incidents import facts

GOOD_REQUEST = {"received_at": "2026-11-20 09:30", "channel": "web_form", "kind": "delete",
                "subject_ref": "U-000123"}


def audit_rows(store, since: int) -> list[tuple]:
    return store.rows("SELECT seq, actor, role, action, entity_id, values_after FROM audit_log "
                      "WHERE seq > ? ORDER BY seq", [since])


def head(store) -> int:
    return store.scalar("SELECT coalesce(max(seq), 0) FROM audit_log")


def count(store, table: str) -> int:
    return store.scalar(f"SELECT count(*) FROM {table}")


@pytest.fixture
def served(demo_store, monkeypatch):
    """The demo store behind the API's routes and the stream route, as server.py mounts
    them; one token per role."""
    monkeypatch.setattr(stream._state(), "route", "/export/csv")
    app = Starlette(routes=[*api.routes(lambda: demo_store),
                            Route("/export/csv", stream.export_csv, methods=["GET"])])
    made = {role: tokens.create_token(demo_store, SYSTEM, f"it-{role}", role)
            for role in ("dpo", "manager", "auditor", "admin")}
    with TestClient(app) as client:
        client.store = demo_store
        client.tokens = {role: m.token for role, m in made.items()}
        yield client


def call(client, method: str, path: str, role: str | None = "dpo", **kw):
    headers = kw.pop("headers", {})
    if role is not None:
        headers["Authorization"] = f"Bearer {client.tokens[role]}"
    return client.request(method, f"/api/v1{path}", headers=headers, **kw)


# -- tokens ----------------------------------------------------------------------------------

def test_a_token_is_stored_hashed_shown_once_and_managed_by_admins_only(demo_store):
    made = tokens.create_token(demo_store, SYSTEM, "SIEM", "manager", "the SOC's SIEM")
    assert made.name == "siem" and made.token.startswith(f"cpt_{made.token_id}_")
    secret = made.token.split("_", 2)[2]
    stored = demo_store.rows("SELECT secret_sha256, role FROM api_tokens WHERE name = 'siem'")
    assert stored == [(hashlib.sha256(secret.encode()).hexdigest(), "manager")]
    assert secret not in json.dumps(demo_store.rows("SELECT * FROM audit_log"), default=str)
    with pytest.raises(PermissionDenied):
        tokens.create_token(demo_store, DPO, "ci", "auditor")
    with pytest.raises(tokens.TokenError, match="exists already"):
        tokens.create_token(demo_store, SYSTEM, "siem", "dpo")
    for name, role, words in [("x", "dpo", "2 to 40"), ("ok-name", "root", "one of"),
                              ("a b", "dpo", "lower-case")]:
        before = count(demo_store, "api_tokens")
        with pytest.raises(tokens.TokenError, match=words):
            tokens.create_token(demo_store, SYSTEM, name, role)
        assert count(demo_store, "api_tokens") == before
    principal = tokens.authenticate(demo_store, f"Bearer {made.token}")
    assert principal.actor == Actor("api:siem", "manager")


def test_token_commands_add_list_revoke(demo_db):
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["--db", str(demo_db), "token", "add", "cron", "--role", "dpo"], out,
                    err) == 0
    token = out.getvalue().splitlines()[-1]
    assert token.startswith("cpt_")
    out = io.StringIO()
    assert cli_main(["--db", str(demo_db), "token", "list"], out, err) == 0
    listing = out.getvalue()
    assert "cron" in listing and "dpo" in listing and token.split("_", 2)[2] not in listing
    out = io.StringIO()
    assert cli_main(["--db", str(demo_db), "token", "revoke", "cron"], out, err) == 0
    assert "revoked token cron" in out.getvalue()
    err = io.StringIO()
    assert cli_main(["--db", str(demo_db), "token", "revoke", "cron"], io.StringIO(), err) == 2
    assert "revoked already" in err.getvalue()
    err = io.StringIO()
    assert cli_main(["--db", str(demo_db), "token", "add", "x y", "--role", "dpo"],
                    io.StringIO(), err) == 2
    assert "lower-case" in err.getvalue() and "Traceback" not in err.getvalue()


# -- authentication ----------------------------------------------------------------------------

@pytest.mark.parametrize("header, words", [
    (None, "No API token"),
    ("Basic abc", "not a bearer token"),
    ("Bearer cpt_nothex", "not one this app issued"),
    ("Bearer cpt_0123456789ab_" + "A" * 43, "not valid"),
])
def test_bad_tokens_get_401_json_and_write_nothing(served, header, words):
    before = head(served.store)
    headers = {"Authorization": header} if header else {}
    resp = served.get("/api/v1/check", headers=headers)
    assert resp.status_code == 401 and words in resp.json()["error"]
    assert head(served.store) == before        # an unknown token is not audited


def test_a_wrong_secret_or_a_revoked_token_is_refused_and_audited(served, monkeypatch):
    monkeypatch.setattr(api, "_REFUSED_AT", {})
    store = served.store
    token = served.tokens["auditor"]
    token_id = token.split("_")[1]
    before = head(store)
    resp = served.get("/api/v1/check", headers={"Authorization":
                                                f"Bearer cpt_{token_id}_{'B' * 43}"})
    assert resp.status_code == 401 and "not valid" in resp.json()["error"]
    tokens.revoke_token(store, SYSTEM, "it-auditor")
    resp = call(served, "GET", "/check", "auditor")
    assert resp.status_code == 401
    assert "revoked on" in resp.json()["error"] and "Beijing time" in resp.json()["error"]
    actions = [(r[1], r[3]) for r in audit_rows(store, before)]
    # the second refusal came within the minute: logged by the server, not audited again
    assert actions == [("api:it-auditor", "api.refused"), (SYSTEM.name, "token.revoke")]
    monkeypatch.setattr(api, "REFUSED_AUDIT_SECONDS", 0.0)
    assert call(served, "GET", "/check", "auditor").status_code == 401
    assert [r[3] for r in audit_rows(store, before)][-1] == "api.refused"


# -- reading: check and findings ------------------------------------------------------------

@pytest.mark.parametrize("role", ["dpo", "manager", "auditor", "admin"])
def test_every_role_reads_the_check_and_each_call_is_audited(served, role):
    store = served.store
    before = head(store)
    resp = call(served, "GET", "/check", role)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    summary = engine.check_summary(store)
    assert body["findings_total"] == summary.finding_total > 0
    assert body["findings_by_severity"] == summary.findings_by_severity
    assert {r["rule_id"] for r in body["rules"]} == set(summary.rule_scores["rule_id"])
    assert body["as_of"].startswith("2026-11-24T10:00")
    (entry,) = audit_rows(store, before)
    after = json.loads(entry[5])
    assert entry[1:5] == (f"api:it-{role}", role, "api.call", f"it-{role}")
    assert after["method"] == "GET" and after["path"] == "/check" and after["status"] == 200
    assert store.scalar("SELECT last_used_at FROM api_tokens WHERE name = ?",
                        [f"it-{role}"]) is not None


def test_findings_are_paged_filtered_and_shaped_as_check_json(served):
    store = served.store
    total = engine.check_summary(store).finding_total
    resp = call(served, "GET", "/findings", "auditor", params={"limit": 5, "offset": 2})
    body = resp.json()
    assert resp.status_code == 200 and body["total"] == total and len(body["findings"]) == 5
    out = io.StringIO()
    engine.write_json(engine.run_check(store).findings, out)
    everything = json.loads(out.getvalue())
    assert body["findings"] == everything[2:7]
    high = call(served, "GET", "/findings", params={"severity": "high", "limit": 10000}).json()
    assert high["total"] == sum(1 for f in everything if f["severity"] == "high")
    assert all(f["severity"] == "high" for f in high["findings"])


@pytest.mark.parametrize("params, status, words", [
    ({"limit": 0}, 422, "limit"), ({"limit": "ten"}, 422, "whole number"),
    ({"limit": 10001}, 422, "1 to 10000"), ({"offset": -1}, 422, "offset"),
    ({"severity": "urgent"}, 422, "one of low, medium, high"),
    ({"sort": "x"}, 400, "unknown parameter 'sort'"),
])
def test_bad_query_parameters_are_named(served, params, status, words):
    resp = call(served, "GET", "/findings", params=params)
    assert resp.status_code == status and words in resp.json()["error"]


# -- writing: incidents and rights requests ----------------------------------------------------

def test_a_siem_logs_an_incident_once_per_idempotency_key(served):
    store = served.store
    before, incidents = head(store), count(store, "incidents")
    body = facts(detected_at="2026-11-24T09:00:00+08:00", occurred_at="2026-11-24 08:00",
                 affected_subjects=1200)
    resp = call(served, "POST", "/incidents", "manager", json=body,
                headers={"Idempotency-Key": "siem-4711"})
    assert resp.status_code == 201, resp.text
    incident_id = resp.json()["incident_id"]
    again = call(served, "POST", "/incidents", "manager", json=body,
                 headers={"Idempotency-Key": "siem-4711"})
    assert again.status_code == 200 and again.json() == {"incident_id": incident_id,
                                                          "created": False}
    assert count(store, "incidents") == incidents + 1
    row = store.rows("SELECT title, affected_subjects FROM incidents WHERE incident_id = ?",
                     [incident_id])
    assert row == [("Customer database exposed", 1200)]
    actions = [(r[1], r[3]) for r in audit_rows(store, before)]
    assert actions == [("api:it-manager", "incident.log"), ("api:it-manager", "api.call"),
                       ("api:it-manager", "api.call")]


@pytest.mark.parametrize("path, body", [("/incidents", facts()), ("/requests", GOOD_REQUEST)])
@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_roles_that_may_not_log_get_403_and_nothing_is_written(served, path, body, role):
    store = served.store
    before = (count(store, "incidents"), count(store, "rights_requests"))
    resp = call(served, "POST", path, role, json=body)
    assert resp.status_code == 403 and f"whose role is {role}" in resp.json()["error"]
    assert (count(store, "incidents"), count(store, "rights_requests")) == before


@pytest.mark.parametrize("raw, status, words", [
    (b"", 400, "body is empty"), (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"), (b"\xff\xfe", 400, "not valid JSON"),
    (json.dumps({**facts(), "detected_at": "yesterday-ish"}).encode(), 422, "Detected"),
    (json.dumps({**facts(), "colour": "red"}).encode(), 400, "unknown field 'colour'"),
    (json.dumps({k: v for k, v in facts().items() if k != "title"}).encode(), 422, "Title"),
])
def test_bad_incident_bodies_get_clear_4xx_json_and_nothing_is_written(served, raw, status,
                                                                         words):
    store = served.store
    before = count(store, "incidents")
    resp = call(served, "POST", "/incidents", "manager", content=raw,
                headers={"Content-Type": "application/json"})
    assert resp.status_code == status, resp.text
    assert words in resp.text and "Traceback" not in resp.text and "/tmp" not in resp.text
    if status == 422 or "field" in words:
        assert resp.json()["fields"]
    assert count(store, "incidents") == before


def test_a_web_form_logs_a_rights_request(served):
    store = served.store
    resp = call(served, "POST", "/requests", "dpo", json=GOOD_REQUEST)
    assert resp.status_code == 201, resp.text
    request_id = resp.json()["request_id"]
    assert store.rows("SELECT kind, channel FROM rights_requests WHERE request_id = ?",
                      [request_id]) == [("delete", "web_form")]
    bad = call(served, "POST", "/requests", "dpo", json={**GOOD_REQUEST, "kind": "teleport"})
    assert bad.status_code == 422 and "kind" in bad.json()["fields"]


def test_body_too_large_unknown_endpoint_and_wrong_method(served):
    big = call(served, "POST", "/incidents", "manager",
               content=b"{" + b" " * (api.MAX_BODY + 10) + b"}")
    assert big.status_code == 413 and "KiB" in big.json()["error"]
    assert call(served, "GET", "/nothing").status_code == 404
    wrong = call(served, "DELETE", "/incidents")
    assert wrong.status_code == 405 and "POST" in wrong.json()["error"]


# -- exports ------------------------------------------------------------------------------------

def test_an_auditor_starts_an_export_stream_and_reads_its_receipt(served):
    store = served.store
    resp = call(served, "POST", "/exports", "auditor", json={"table": "incidents"})
    assert resp.status_code == 201, resp.text
    ticket = resp.json()
    csv = served.get(ticket["url"])
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbfincident_id,")
    receipt = call(served, "GET", ticket["receipt"][len("/api/v1"):], "auditor").json()
    assert receipt["sha256"] == hashlib.sha256(csv.content).hexdigest()
    assert receipt["rows"] == count(store, "incidents")
    entry = store.rows("SELECT actor, action FROM audit_log WHERE seq = ?",
                       [receipt["audit_seq"]])
    assert entry == [("api:it-auditor", "export.download")]
    # another token cannot read the receipt; a manager cannot export
    other = call(served, "GET", ticket["receipt"][len("/api/v1"):], "dpo")
    assert other.status_code == 404
    assert call(served, "POST", "/exports", "manager",
                json={"table": "incidents"}).status_code == 403
    bad = call(served, "POST", "/exports", "auditor", json={"table": "passwords"})
    assert bad.status_code == 422 and "passwords" in bad.json()["error"]


# -- the command line's commands on the served store --------------------------------------------

def test_cli_endpoint_runs_check_with_the_same_output_and_exit_code(served, demo_db):
    resp = call(served, "POST", "/cli", "dpo",
                json={"argv": ["check", "--format", "json", "--fail-on", "high"]})
    body = resp.json()
    assert resp.status_code == 200 and body["exit_code"] == 1
    findings = json.loads(body["stdout"])
    assert len(findings) == engine.check_summary(served.store).finding_total
    assert "finding(s) at or above high" in body["stderr"]
    snap = served.store.rows("SELECT count(*) FROM audit_log WHERE action = 'check.snapshot' "
                             "AND actor = 'api:it-dpo'")
    assert snap == [(1,)]


def test_cli_output_over_the_cap_is_refused_plainly(served, monkeypatch):
    from dashboard import cli
    monkeypatch.setattr(cli, "MAX_SERVED_OUTPUT", 1000)
    body = call(served, "POST", "/cli", "dpo",
                json={"argv": ["check", "--format", "json", "--no-snapshot"]}).json()
    assert body["exit_code"] == 2 and body["stdout"] == ""
    assert "more than a command run through --server may print" in body["stderr"]


@pytest.mark.parametrize("role, argv, status, words", [
    ("dpo", ["import", "incidents", "x.csv"], 422, "does not run through the API"),
    ("dpo", ["check", "--db", "/etc/passwd"], 422, "--db"),
    ("dpo", ["user", "disable", "auditor"], 403, "Manage user accounts"),
    ("manager", ["audit", "verify"], 403, "Read the audit log"),
    ("dpo", ["audit", "verify", "--anchor", "pack.zip"], 422, "SEQ:HASH"),
    ("dpo", "check", 422, "list"),
])
def test_cli_endpoint_refuses_what_it_must(served, role, argv, status, words):
    before = count(served.store, "users")
    resp = call(served, "POST", "/cli", role, json={"argv": argv})
    assert resp.status_code == status and words in resp.json()["error"], resp.text
    assert count(served.store, "users") == before


def test_cli_endpoint_user_disable_and_audit_verify(served, cheap_hasher):
    store = served.store
    accounts.ensure_demo_accounts(store, SYSTEM)
    resp = call(served, "POST", "/cli", "admin", json={"argv": ["user", "disable", "auditor"]})
    assert resp.json() == {"exit_code": 0, "stdout": "disabled user auditor\n", "stderr": ""}
    assert store.scalar("SELECT disabled FROM users WHERE username = 'auditor'") is True
    entry = store.rows("SELECT actor, role FROM audit_log WHERE action = 'user.disable' "
                       "ORDER BY seq DESC LIMIT 1")
    assert entry == [("api:it-admin", "admin")]
    verify = call(served, "POST", "/cli", "auditor", json={"argv": ["audit", "verify"]}).json()
    assert verify["exit_code"] == 0 and "audit chain intact" in verify["stdout"]


# -- the Users page's "API tokens" tab ------------------------------------------------------------

def test_an_admin_creates_a_token_on_the_users_page_sees_it_once_and_revokes_it(
        demo_db, monkeypatch):
    from conftest import ADMIN, app_test
    from dashboard.store import Store
    at = app_test(demo_db, ADMIN, monkeypatch, page="users")
    at.text_input(key="token_name").input("SIEM <b>x</b>")
    [b for b in at.button if b.label == "Create token"][0].click().run()
    assert any("lower-case letters" in e.value and "Nothing was saved" in e.value
               for e in at.error)
    at.text_input(key="token_name").input("siem")
    at.selectbox(key="token_role").select("manager")
    at.text_input(key="token_note").input("the SOC's SIEM")
    [b for b in at.button if b.label == "Create token"][0].click().run()
    (code,) = [c.value for c in at.code]
    assert code.startswith("cpt_") and any("not shown again" in w.value for w in at.warning)
    at.run()                                   # the next run: the token is gone from the page
    assert not [c for c in at.code if c.value.startswith("cpt_")]
    store = Store(demo_db)
    try:
        principal = tokens.authenticate(store, f"Bearer {code}")
    finally:
        store.close()
    assert principal.actor == Actor("api:siem", "manager")
    at.selectbox(key="token_revoke_name").select("siem")
    [b for b in at.button if b.label == "Revoke"][0].click().run()
    assert any("Revoked the token siem" in s.value for s in at.success)
    store = Store(demo_db)
    try:
        with pytest.raises(tokens.TokenRefused, match="revoked"):
            tokens.authenticate(store, f"Bearer {code}")
    finally:
        store.close()


# -- docs/API.md: every example runs ------------------------------------------------------------

def test_the_examples_of_docs_api_md_work(served):
    import re
    from conftest import ROOT
    text = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    examples = re.findall(r"<!-- example: role=(\w+) status=(\d+) -->\n```http\n(.*?)```\n\n"
                          r"```json\n(.*?)```", text, re.S)
    assert len(examples) >= 9
    for role, status, request, documented in examples:
        head_part, _, body = request.partition("\n\n")
        first, *header_lines = head_part.splitlines()
        method, path = first.split(" ", 1)
        headers = dict(line.split(": ", 1) for line in header_lines)
        resp = call(served, method, path[len("/api/v1"):], role, headers=headers,
                    content=body.strip().encode() if body.strip() else None)
        assert resp.status_code == int(status), (first, resp.text)
        shown, got = json.loads(documented), resp.json()
        assert set(shown) <= set(got), (first, set(shown) - set(got))
        if "fields" in shown:
            assert set(shown["fields"]) <= set(got["fields"]), first


# -- every endpoint x every role: allowed exactly as access.PERMISSIONS says -------------------

ENDPOINT_CALLS = [
    ("GET", "/check", None, "check.read"),
    ("GET", "/findings", None, "check.read"),
    ("POST", "/incidents", {"json": facts()}, "incident.log"),
    ("POST", "/requests", {"json": GOOD_REQUEST}, "request.log"),
    ("POST", "/exports", {"json": {"table": "processors"}}, "export.download"),
    ("POST", "/cli", {"json": {"argv": ["audit", "verify"]}}, "audit.read"),
    ("POST", "/cli", {"json": {"argv": ["user", "enable", "nobody"]}}, "user.manage"),
]


@pytest.mark.parametrize("role", ["dpo", "manager", "auditor", "admin"])
def test_every_endpoint_allows_exactly_the_roles_of_its_permission(served, role):
    from dashboard.access import PERMISSIONS
    store = served.store
    for method, path, kw, permission in ENDPOINT_CALLS:
        before = (count(store, "incidents"), count(store, "rights_requests"))
        resp = call(served, method, path, role, **(kw or {}))
        allowed = role in PERMISSIONS[permission]
        if allowed:
            assert resp.status_code in (200, 201), (role, path, resp.text)
        else:
            assert resp.status_code == 403, (role, path, resp.text)
            assert f"whose role is {role}" in resp.json()["error"]
            assert (count(store, "incidents"), count(store, "rights_requests")) == before

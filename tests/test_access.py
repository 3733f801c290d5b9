"""The role × action matrix: documented once, enforced where data is written.

docs/ACCESS.md carries the matrix rendered from ``PERMISSIONS``; these tests read
the matrix back out of that document and check that every role is allowed or
refused every action exactly as it says, through ``store.write`` and through the
account service functions, and that a refusal writes nothing and leaves no audit
entry.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from dashboard import accounts, audit
from dashboard.access import (ACTION_TITLES, AUTH_ROLE, PERMISSIONS, ROLES, SYSTEM_ROLE, Actor,
                              PermissionDenied, require, role_matrix_markdown)
from dashboard.navigation import PAGE_BY_KEY
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import FROZEN_NOW, SYSTEM, make_store

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ACCESS.md"
COLUMNS = [*ROLES, SYSTEM_ROLE]


def documented_matrix() -> dict[str, set[str]]:
    """action -> roles marked "yes" in docs/ACCESS.md's table."""
    matrix: dict[str, set[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| .*\(`([a-z_.]+)`\) \|(.*)\|$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(2).split("|")]
        assert len(cells) == len(COLUMNS), line
        matrix[m.group(1)] = {role for role, cell in zip(COLUMNS, cells) if cell == "yes"}
    return matrix


def test_access_doc_carries_exactly_the_rendered_matrix():
    text = DOC.read_text(encoding="utf-8")
    rendered = role_matrix_markdown()
    assert rendered in text, "docs/ACCESS.md is out of date: paste role_matrix_markdown() in"
    assert text.count("| Action |") == 1


def test_matrix_lists_every_action_and_matches_the_issue_role_descriptions():
    doc = documented_matrix()
    internal = {a for a, roles in PERMISSIONS.items() if not roles & set(COLUMNS)}
    assert set(doc) | internal == set(PERMISSIONS)
    assert internal == {"account.sign_in"}
    assert set(ACTION_TITLES) == set(PERMISSIONS)
    # every role reads the check (Overview, Findings) and may call the API with a token
    # (issue 16), which audits each call: below, what the roles do besides
    common = {"check.read", "api.use", "notification.read", "account.preference"}
    # admin: users, API tokens and settings (and reading the audit trail of what it
    # changed); issue 7 gives the Import page to "DPOs and admins"
    assert {a for a, r in doc.items() if "admin" in r} - common == {
        "user.manage", "token.manage", "settings.manage", "store.admin", "audit.read",
        "register.import"}
    # dpo: everything but user and token administration (and installing the store)
    assert {a for a, r in doc.items() if "dpo" not in r} == {"user.manage", "token.manage",
                                                             "store.admin"}
    # manager: log and update incidents and rights requests (issue 14), and attach their
    # evidence files (issue 18: the service also asks for the record's own permission)
    assert {a for a, r in doc.items() if "manager" in r} - common == {
        "incident.log", "incident.update", "request.log", "request.update", "evidence.attach"}
    # auditor: read everything, download exports and audit packs, change nothing
    assert {a for a, r in doc.items() if "auditor" in r} - common == {"export.download",
                                                                      "audit.read"}
    # the command line may do everything the people may
    assert all(SYSTEM_ROLE in r for r in doc.values())


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory):
    s = make_store(tmp_path_factory.mktemp("matrix") / "m.duckdb")
    yield s
    s.close()


def _counts(store) -> tuple[int, int]:
    return (store.scalar("SELECT count(*) FROM audit_log"),
            store.scalar("SELECT count(*) FROM users"))


@pytest.mark.parametrize("role", [*ROLES, SYSTEM_ROLE, AUTH_ROLE, "intruder"])
@pytest.mark.parametrize("action", list(PERMISSIONS))
def test_store_write_allows_or_refuses_as_the_matrix_says(matrix_store, role, action):
    expected = PERMISSIONS[action]
    if action in documented_matrix():
        assert documented_matrix()[action] == expected - {AUTH_ROLE}
    actor = Actor(f"t-{role}", role)
    username = f"{role}~{action}"
    before = _counts(matrix_store)
    try:
        with matrix_store.write(actor, action) as w:
            w.execute("INSERT INTO users (username, display_name, role, password_hash, "
                      "created_at, updated_at, password_changed_at) "
                      "VALUES (?, 'x', 'dpo', 'not-a-hash', ?, ?, ?)", [username, w.at, w.at, w.at])
            w.audit("test.write", "user", username)
    except PermissionDenied as exc:
        assert role not in expected, f"{role} should be allowed {action}"
        assert action in str(exc) or ACTION_TITLES[action] in str(exc)
        assert _counts(matrix_store) == before      # nothing written, no audit entry
        assert not matrix_store.rows("SELECT 1 FROM users WHERE username = ?", [username])
    else:
        assert role in expected, f"{role} must be refused {action}"
        assert _counts(matrix_store) == (before[0] + 1, before[1] + 1)
        last = matrix_store.rows("SELECT actor, role, action FROM audit_log "
                                 "ORDER BY seq DESC LIMIT 1")[0]
        assert last == (actor.name, role, "test.write")   # the audit log records the actor


def test_signed_out_and_unknown_action_are_refused():
    with pytest.raises(PermissionDenied, match="must be signed in"):
        require(None, "incident.log")
    with pytest.raises(KeyError):
        require(SYSTEM, "no.such.action")




ACCOUNT_CALLS = {
    "create_user": lambda s, a: accounts.create_user(s, a, "newcomer", "auditor",
                                                     "long-enough-password"),
    "disable_user": lambda s, a: accounts.disable_user(s, a, "target"),
    "enable_user": lambda s, a: accounts.enable_user(s, a, "locked.one"),
    "reset_password": lambda s, a: accounts.reset_password(s, a, "target",
                                                           "another-long-password"),
    "set_role": lambda s, a: accounts.set_role(s, a, "target", "manager"),
}


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("accounts") / "a.duckdb"
    s = make_store(path)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    for name in ("target", "locked.one"):
        with s.write(SYSTEM, "user.manage") as w:    # rows as create_user writes them
            w.execute("INSERT INTO users (username, display_name, role, password_hash, "
                      "created_at, updated_at, password_changed_at, disabled) "
                      "VALUES (?, ?, 'dpo', ?, ?, ?, ?, ?)",
                      [name, name, cheap.hash(f"{name}-password-1"), w.at, w.at, w.at,
                       name == "locked.one"])
            w.audit("user.create", "user", name)
    s.close()
    return path


@pytest.mark.parametrize("role", [*ROLES, SYSTEM_ROLE, AUTH_ROLE])
@pytest.mark.parametrize("call", list(ACCOUNT_CALLS))
def test_account_services_follow_user_manage(tmp_path, accounts_template, cheap_hasher,
                                             role, call):
    audit.copy_store(accounts_template, tmp_path / "a.duckdb")
    store = Store(tmp_path / "a.duckdb", settings=Settings(), clock=lambda: FROZEN_NOW)
    snapshot = store.rows("SELECT * FROM users ORDER BY username")
    audit_before = store.scalar("SELECT count(*) FROM audit_log")
    actor = Actor(f"someone-{role}", role)
    if role in PERMISSIONS["user.manage"]:
        ACCOUNT_CALLS[call](store, actor)
        assert store.scalar("SELECT count(*) FROM audit_log") == audit_before + 1
        assert store.rows("SELECT actor, role FROM audit_log ORDER BY seq DESC LIMIT 1") == [
            (actor.name, role)]
    else:
        with pytest.raises(PermissionDenied, match="Manage user accounts"):
            ACCOUNT_CALLS[call](store, actor)
        assert store.rows("SELECT * FROM users ORDER BY username") == snapshot
        assert store.scalar("SELECT count(*) FROM audit_log") == audit_before
    store.close()


@pytest.mark.parametrize("page,action", [
    ("log_incident", "incident.log"), ("exports", "export.download"),
    ("audit_log", "audit.read"), ("import", "register.import"), ("users", "user.manage"),
])
def test_pages_that_act_are_listed_only_for_roles_allowed_the_action(page, action):
    assert PAGE_BY_KEY[page].roles == PERMISSIONS[action] - {SYSTEM_ROLE, AUTH_ROLE}

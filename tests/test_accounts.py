"""Local accounts: hashing, sign-in, lockout, disabled users, SSO role mapping,
secrets kept out of the audit log and exports, and the `user` commands."""
from __future__ import annotations

import datetime as dt
import io
import sys

import pytest
from argon2 import PasswordHasher

from dashboard import accounts
from dashboard.access import Actor, PermissionDenied
from dashboard.accounts import AccountError, AuthError
from dashboard.cli import main
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import ADMIN, FROZEN_NOW, SYSTEM, make_store

PASSWORD = "Sesame-Open-42!"          # distinctive: searched for in the audit log


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += dt.timedelta(**kw)


CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch):
    """Argon2id with small costs, so the tests stay fast (one test uses the real one)."""
    monkeypatch.setattr(accounts, "HASHER", CHEAP)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", None)


@pytest.fixture
def clock():
    return Clock(FROZEN_NOW)


@pytest.fixture
def st_(tmp_path, clock):
    """A store with a frozen, movable clock and lockout after 3 failures for 15 minutes."""
    s = make_store(tmp_path / "acc.duckdb",
                   settings=Settings({"login_max_failures": 3, "login_lockout_minutes": 15}),
                   clock=clock)
    yield s
    s.close()


def audit(store, since: int = 0) -> list[tuple]:
    return store.rows("SELECT actor, role, action, entity_id, values_before, values_after "
                      "FROM audit_log WHERE seq > ? ORDER BY seq", [since])


def last_seq(store) -> int:
    return store.scalar("SELECT max(seq) FROM audit_log")


# -- creating accounts -------------------------------------------------------------
def test_create_user_stores_an_argon2id_hash_and_normalizes_names(st_):
    user = accounts.create_user(st_, ADMIN, "  Li.Wang ", "dpo", PASSWORD,
                                display_name="Li  Wang", email="Li.Wang@Example.COM")
    assert user["username"] == "li.wang" and user["role"] == "dpo"
    assert user["email"] == "li.wang@example.com" and user["display_name"] == "Li Wang"
    assert "password_hash" not in user
    digest = st_.scalar("SELECT password_hash FROM users WHERE username = 'li.wang'")
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    assert PasswordHasher().verify(digest, PASSWORD)
    assert audit(st_)[-1][:4] == (ADMIN.name, "admin", "user.create", "li.wang")


def test_real_hasher_is_argon2id_and_old_hashes_are_rehashed_on_sign_in(st_, monkeypatch):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)          # cheap parameters
    old = st_.scalar("SELECT password_hash FROM users WHERE username = 'li'")
    assert old.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher())          # the production one
    assert accounts.HASHER.check_needs_rehash(old)
    assert accounts.authenticate(st_, "li", PASSWORD) == Actor("li", "dpo")
    new = st_.scalar("SELECT password_hash FROM users WHERE username = 'li'")
    assert new.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not accounts.HASHER.check_needs_rehash(new)
    assert '"password_rehashed":true' in audit(st_)[-1][5]
    assert accounts.authenticate(st_, "li", PASSWORD) == Actor("li", "dpo")   # still works
    assert st_.scalar("SELECT password_hash FROM users WHERE username = 'li'") == new


@pytest.mark.parametrize("kwargs,message", [
    (dict(username="x", role="dpo", password=PASSWORD), "username 'x' is not valid"),
    (dict(username="li wang", role="dpo", password=PASSWORD), "is not valid"),
    (dict(username="li", role="boss", password=PASSWORD), "role 'boss' is not one of"),
    (dict(username="li", role="dpo", password="short-pass"), "at least 12 characters"),
    (dict(username="li", role="dpo", password=" " * 14), "only spaces"),
    (dict(username="li.wang.long", role="dpo", password="LI.WANG.LONG"), "must not be the username"),
    (dict(username="li", role="dpo", password=PASSWORD, email="not-an-address"),
     "not a valid address"),
])
def test_bad_account_input_is_refused_and_nothing_written(st_, kwargs, message):
    before = last_seq(st_)
    with pytest.raises(AccountError, match=message):
        accounts.create_user(st_, ADMIN, **kwargs)
    assert last_seq(st_) == before
    assert accounts.count_users(st_) == 0


def test_usernames_and_emails_are_unique_regardless_of_case(st_):
    accounts.create_user(st_, ADMIN, "li", "dpo", PASSWORD, email="li@example.com")
    before = last_seq(st_)
    with pytest.raises(AccountError, match="already exists"):
        accounts.create_user(st_, ADMIN, "LI", "auditor", PASSWORD)
    with pytest.raises(AccountError, match="already has the e-mail"):
        accounts.create_user(st_, ADMIN, "wang", "auditor", PASSWORD, email="LI@example.com")
    assert last_seq(st_) == before and accounts.count_users(st_) == 1


def test_list_users_has_no_hashes_and_shows_status(st_, clock):
    accounts.create_user(st_, SYSTEM, "a.one", "dpo", PASSWORD)
    accounts.create_user(st_, SYSTEM, "b.two", "auditor", PASSWORD)
    accounts.create_user(st_, SYSTEM, "c.three", "manager", PASSWORD)
    accounts.disable_user(st_, SYSTEM, "b.two")
    for _ in range(3):
        with pytest.raises(AuthError):
            accounts.authenticate(st_, "c.three", "wrong-password-x")
    df = accounts.list_users(st_)
    assert "password_hash" not in df.columns
    assert dict(zip(df["username"], df["status"])) == {
        "a.one": "active", "b.two": "disabled", "c.three": "locked"}
    clock.advance(minutes=16)
    assert dict(zip(accounts.list_users(st_)["username"],
                    accounts.list_users(st_)["status"]))["c.three"] == "active"


# -- signing in --------------------------------------------------------------------
def test_good_password_signs_in_and_records_it(st_):
    accounts.create_user(st_, SYSTEM, "li", "manager", PASSWORD)
    since = last_seq(st_)
    assert accounts.authenticate(st_, "LI ", PASSWORD) == Actor("li", "manager")
    assert st_.scalar("SELECT last_sign_in_at FROM users") == FROZEN_NOW
    (entry,) = audit(st_, since)
    assert entry[:4] == ("sign-in", "auth", "auth.sign_in", "li")


def test_wrong_password_and_unknown_user_get_the_same_message(st_):
    accounts.create_user(st_, SYSTEM, "li", "manager", PASSWORD)
    since = last_seq(st_)
    with pytest.raises(AuthError) as wrong:
        accounts.authenticate(st_, "li", "not-the-password")
    with pytest.raises(AuthError) as unknown:
        accounts.authenticate(st_, "nobody", "not-the-password")
    with pytest.raises(AuthError) as typed_password:
        accounts.authenticate(st_, PASSWORD, PASSWORD)   # password typed as the username
    assert str(wrong.value) == str(unknown.value) == str(typed_password.value) == \
        "Wrong username or password."
    entries = audit(st_, since)
    assert [e[2] for e in entries] == ["auth.sign_in_failed"] * 3
    assert entries[0][3] == "li" and entries[1][3] is None and entries[2][3] is None
    assert "nobody" not in str(entries) and PASSWORD not in str(entries)
    with pytest.raises(AuthError, match="Enter your username and your password"):
        accounts.authenticate(st_, "li", "")


def test_lockout_after_max_failures_and_unlock_after_lockout_time(st_, clock):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    since = last_seq(st_)
    for attempt in (1, 2):
        with pytest.raises(AuthError, match="^Wrong username or password.$"):
            accounts.authenticate(st_, "li", f"wrong-password-{attempt}")
    with pytest.raises(AuthError, match="locked after 3 failed sign-ins until 10:15") as third:
        accounts.authenticate(st_, "li", "wrong-password-3")
    assert third.value.reason == "locked"
    clock.advance(minutes=14)
    with pytest.raises(AuthError, match="locked .*until 10:15") as right_but_locked:
        accounts.authenticate(st_, "li", PASSWORD)        # even the right password
    assert right_but_locked.value.locked_until == FROZEN_NOW + dt.timedelta(minutes=15)
    assert [e[2] for e in audit(st_, since)] == [
        "auth.sign_in_failed", "auth.sign_in_failed", "auth.lockout", "auth.sign_in_refused"]
    clock.advance(minutes=2)                               # 10:16: the lock has run out
    with pytest.raises(AuthError, match="^Wrong username or password.$"):
        accounts.authenticate(st_, "li", "wrong-again-after")   # counts afresh: 1 of 3
    assert st_.scalar("SELECT failed_attempts FROM users") == 1
    assert accounts.authenticate(st_, "li", PASSWORD) == Actor("li", "dpo")
    assert st_.rows("SELECT failed_attempts, locked_until FROM users") == [(0, None)]


def test_success_resets_the_failure_count(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    for _ in range(2):
        with pytest.raises(AuthError):
            accounts.authenticate(st_, "li", "wrong-password-x")
    accounts.authenticate(st_, "li", PASSWORD)
    for _ in range(2):
        with pytest.raises(AuthError, match="^Wrong username or password.$"):
            accounts.authenticate(st_, "li", "wrong-password-x")   # not locked: 2 of 3


def test_admin_unlocks_with_enable_or_password_reset(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    for _ in range(3):
        with pytest.raises(AuthError):
            accounts.authenticate(st_, "li", "wrong-password-x")
    accounts.enable_user(st_, ADMIN, "li")
    assert accounts.authenticate(st_, "li", PASSWORD).role == "dpo"
    for _ in range(3):
        with pytest.raises(AuthError):
            accounts.authenticate(st_, "li", "wrong-password-x")
    accounts.reset_password(st_, ADMIN, "li", "a-brand-new-password")
    with pytest.raises(AuthError):
        accounts.authenticate(st_, "li", PASSWORD)           # the old one no longer works
    assert accounts.authenticate(st_, "li", "a-brand-new-password").role == "dpo"


def test_disabled_user_cannot_sign_in_and_is_told_only_with_the_right_password(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    accounts.disable_user(st_, ADMIN, "li")
    with pytest.raises(AuthError, match="^Wrong username or password.$"):
        accounts.authenticate(st_, "li", "wrong-password-x")
    with pytest.raises(AuthError, match="disabled") as exc:
        accounts.authenticate(st_, "li", PASSWORD)
    assert exc.value.reason == "disabled"
    assert audit(st_)[-1][2:4] == ("auth.sign_in_refused", "li")
    with pytest.raises(AuthError, match="disabled"):
        accounts.session_actor(st_, "li")                     # an open session ends too
    accounts.enable_user(st_, ADMIN, "li")
    assert accounts.authenticate(st_, "li", PASSWORD) == Actor("li", "dpo")


def test_session_actor_follows_role_changes_and_removal(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    accounts.set_role(st_, ADMIN, "li", "auditor")
    assert accounts.session_actor(st_, "li") == Actor("li", "auditor")
    with pytest.raises(AuthError, match="no longer exists"):
        accounts.session_actor(st_, "ghost")


def test_admin_guards(st_):
    accounts.create_user(st_, SYSTEM, "boss", "admin", PASSWORD)
    before = last_seq(st_)
    with pytest.raises(AccountError, match="only enabled administrator"):
        accounts.disable_user(st_, SYSTEM, "boss")
    with pytest.raises(AccountError, match="only enabled administrator"):
        accounts.set_role(st_, SYSTEM, "boss", "dpo")
    boss = Actor("boss", "admin")
    accounts.create_user(st_, boss, "second", "admin", PASSWORD)
    before = last_seq(st_)
    with pytest.raises(AccountError, match="your own account"):
        accounts.disable_user(st_, boss, "boss")
    with pytest.raises(AccountError, match="your own role"):
        accounts.set_role(st_, boss, "boss", "auditor")
    with pytest.raises(AccountError, match="already has the role"):
        accounts.set_role(st_, boss, "second", "admin")
    with pytest.raises(AccountError, match="no user named 'ghost'"):
        accounts.disable_user(st_, boss, "ghost")
    with pytest.raises(AccountError, match="already enabled"):
        accounts.enable_user(st_, boss, "second")
    assert last_seq(st_) == before
    accounts.disable_user(st_, boss, "second")
    with pytest.raises(AccountError, match="already disabled"):
        accounts.disable_user(st_, boss, "second")


def test_no_password_or_hash_in_audit_log_or_users_export(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD, email="li@example.com")
    accounts.authenticate(st_, "li", PASSWORD)
    with pytest.raises(AuthError):
        accounts.authenticate(st_, "li", PASSWORD + "x")
    accounts.reset_password(st_, ADMIN, "li", PASSWORD + "-2")
    accounts.set_role(st_, ADMIN, "li", "auditor")
    accounts.disable_user(st_, ADMIN, "li")
    accounts.enable_user(st_, ADMIN, "li")
    digest = st_.scalar("SELECT password_hash FROM users")
    log = "\n".join(str(r) for r in st_.rows("SELECT * FROM audit_log"))
    export = accounts.list_users(st_).to_csv(index=False)
    out = io.StringIO()
    main(["--db", str(st_.path), "user", "list", "--format", "csv"], out, io.StringIO())
    for text in (log, export, out.getvalue()):
        assert PASSWORD not in text and "$argon2" not in text and digest not in text
    assert "li@example.com" in export


def test_init_store_has_no_account(tmp_path):
    db = tmp_path / "fresh.duckdb"
    assert main(["--db", str(db), "init"], io.StringIO(), io.StringIO()) == 0
    with Store(db) as s:
        assert accounts.count_users(s) == 0


# -- single sign-on mapping --------------------------------------------------------------
SECRETS = {"auth": {
    "redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32,
    "corp": {"client_id": "app", "client_secret": "x", "label": "Corp SSO",
             "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"},
    "roles": {"claim": "groups",
              "values": {"privacy-office": "dpo", "security": "manager", "audit": "auditor"},
              "emails": {"Chen@Example.com": "auditor"}},
}}


def test_sso_config_reads_providers_and_mapping():
    cfg = accounts.sso_config(SECRETS)
    assert cfg.providers == (accounts.SsoProvider("corp", "Corp SSO"),)
    assert cfg.claim == "groups" and cfg.email_roles == {"chen@example.com": "auditor"}
    default = accounts.sso_config({"auth": {"client_id": "a", "server_metadata_url": "u"}})
    assert default.providers == (accounts.SsoProvider(None, "single sign-on"),)
    assert accounts.sso_config({}) is None
    with pytest.raises(AccountError, match=r"\[auth.roles.values\] maps 'x' to 'root'"):
        accounts.sso_config({"auth": {"roles": {"claim": "g", "values": {"x": "root"}}}})
    with pytest.raises(AccountError, match="needs \\[auth.roles\\] claim"):
        accounts.sso_config({"auth": {"roles": {"values": {"x": "dpo"}}}})


def test_sso_maps_by_account_email_then_email_table_then_claim(st_):
    cfg = accounts.sso_config(SECRETS)
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD, email="li@example.com",
                         display_name="Li Wang")
    actor, account = accounts.sign_in_sso(
        st_, {"email": "LI@example.com", "groups": ["security"], "name": "L"}, cfg, "corp")
    assert actor == Actor("li", "dpo") and account["username"] == "li"
    assert st_.scalar("SELECT last_sign_in_at FROM users") == FROZEN_NOW
    actor, _ = accounts.sign_in_sso(st_, {"email": "chen@example.com", "groups": "security"},
                                    cfg, "corp")
    assert actor == Actor("chen@example.com", "auditor")
    actor, account = accounts.sign_in_sso(st_, {"email": "wang@example.com",
                                                "groups": ["staff", "security"]}, cfg, "corp")
    assert actor == Actor("wang@example.com", "manager") and "username" not in account
    entry = audit(st_)[-1]
    assert entry[:4] == ("sign-in", "auth", "auth.sign_in", "wang@example.com")
    assert '"mapped_by":"claim groups"' in entry[5] and '"method":"sso:corp"' in entry[5]


def test_sso_refuses_unmapped_ambiguous_unverified_and_disabled(st_):
    cfg = accounts.sso_config(SECRETS)
    with pytest.raises(AuthError, match="has no role in this app") as exc:
        accounts.sign_in_sso(st_, {"email": "x@example.com", "groups": ["staff"]}, cfg, "corp")
    assert exc.value.reason == "unmapped"
    assert audit(st_)[-1][2:4] == ("auth.sso_refused", "x@example.com")
    with pytest.raises(AuthError, match=r"more than one role \(auditor, dpo\)"):
        accounts.sign_in_sso(st_, {"email": "y@example.com",
                                   "groups": ["audit", "privacy-office"]}, cfg, "corp")
    with pytest.raises(AuthError, match="no role"):   # the e-mail table needs a verified e-mail
        accounts.sign_in_sso(st_, {"email": "chen@example.com", "email_verified": False},
                             cfg, "corp")
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD, email="li@example.com")
    accounts.disable_user(st_, SYSTEM, "li")
    with pytest.raises(AuthError, match="disabled"):
        accounts.sign_in_sso(st_, {"email": "li@example.com", "groups": ["security"]},
                             cfg, "corp")
    with pytest.raises(AuthError, match="neither an e-mail nor a subject"):
        accounts.sign_in_sso(st_, {"groups": ["security"]}, cfg, "corp")


# -- command line ---------------------------------------------------------------------------
def cli(db, *args, stdin: str | None = None, monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db), *args], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.duckdb"
    assert main(["--db", str(path), "init"], io.StringIO(), io.StringIO()) == 0
    return path


def users_in(db) -> list[tuple]:
    with Store(db) as s:
        return s.rows("SELECT username, role, disabled FROM users ORDER BY username")


def test_cli_user_add_reads_the_password_from_stdin(db, monkeypatch):
    code, out, err = cli(db, "user", "add", "Zhao", "--role", "admin", "--display-name",
                         "Zhao Min", "--email", "zhao@example.com", stdin=PASSWORD + "\n",
                         monkeypatch=monkeypatch)
    assert (code, err) == (0, "") and "created user zhao (admin" in out
    assert users_in(db) == [("zhao", "admin", False)]
    with Store(db) as s:
        assert accounts.authenticate(s, "zhao", PASSWORD) == Actor("zhao", "admin")
        assert s.rows("SELECT actor, role, action FROM audit_log WHERE action = 'user.create'")[0][
            1:] == ("system", "user.create")


def test_cli_user_add_prompts_twice_on_a_terminal(db, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    answers = iter([PASSWORD, PASSWORD + "typo"])
    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(accounts.getpass, "getpass", lambda prompt="": next(answers))
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", str(db), "user", "add", "li", "--role", "dpo"], out, err) == 2
    assert "the two passwords differ" in err.getvalue() and users_in(db) == []
    answers = iter([PASSWORD, PASSWORD])
    assert main(["--db", str(db), "user", "add", "li", "--role", "dpo"], out, err) == 0
    assert users_in(db) == [("li", "dpo", False)]


@pytest.mark.parametrize("args,stdin,message", [
    (["user", "add", "li", "--role", "boss"], PASSWORD, "role 'boss' is not one of"),
    (["user", "add", "li", "--role", "dpo"], "short\n", "at least 12 characters"),
    (["user", "add", "li", "--role", "dpo"], "", "no password given"),
    (["user", "add", "l i", "--role", "dpo"], PASSWORD, "is not valid"),
    (["user", "add", "li", "--role", "dpo", "--email", "nope"], PASSWORD, "not a valid address"),
    (["user", "add", "li", "--role", "dpo", "--password", PASSWORD], "", "never taken from the command line"),
    (["user", "reset-password", "li", "--password", PASSWORD], "", "never taken from the command line"),
    (["user", "add", "li"], PASSWORD, "--role"),
    (["user", "disable", "ghost"], "", "no user named 'ghost'"),
    (["user", "enable", "ghost"], "", "no user named 'ghost'"),
    (["user", "reset-password", "ghost"], PASSWORD, "no user named 'ghost'"),
    (["user", "set-role", "ghost", "dpo"], "", "no user named 'ghost'"),
    (["user", "set-role", "ghost", "root"], "", "role 'root' is not one of"),
    (["user", "frobnicate"], "", "invalid choice"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(db, monkeypatch, args, stdin, message):
    with Store(db) as s:
        before = s.scalar("SELECT count(*) FROM audit_log")
    code, out, err = cli(db, *args, stdin=stdin, monkeypatch=monkeypatch)
    assert code == 2, (out, err)
    assert message in err and PASSWORD not in err
    assert users_in(db) == []
    with Store(db) as s:
        assert s.scalar("SELECT count(*) FROM audit_log") == before


def test_cli_duplicate_user_exits_2(db, monkeypatch):
    assert cli(db, "user", "add", "li", "--role", "dpo", stdin=PASSWORD,
               monkeypatch=monkeypatch)[0] == 0
    code, _, err = cli(db, "user", "add", "LI", "--role", "auditor", stdin=PASSWORD,
                       monkeypatch=monkeypatch)
    assert code == 2 and "already exists" in err


def test_cli_missing_store_exits_2_and_creates_nothing(tmp_path, monkeypatch):
    code, _, err = cli(tmp_path / "none.duckdb", "user", "list", monkeypatch=monkeypatch)
    assert code == 2 and "run `python -m dashboard init` first" in err
    assert not (tmp_path / "none.duckdb").exists()


def test_cli_list_disable_enable_reset_and_set_role(db, monkeypatch):
    code, out, _ = cli(db, "user", "list", monkeypatch=monkeypatch)
    assert code == 0 and "no user accounts yet" in out
    cli(db, "user", "add", "li", "--role", "dpo", "--email", "li@example.com", stdin=PASSWORD,
        monkeypatch=monkeypatch)
    code, out, _ = cli(db, "user", "list", monkeypatch=monkeypatch)
    assert code == 0 and "li@example.com" in out and "active" in out and "$argon2" not in out
    assert cli(db, "user", "disable", "LI", monkeypatch=monkeypatch)[:2] == (0, "disabled user li\n")
    assert users_in(db) == [("li", "dpo", True)]
    code, out, _ = cli(db, "user", "list", "--format", "csv", monkeypatch=monkeypatch)
    assert out.splitlines()[0].startswith("username,display_name,role,email,status")
    assert ",disabled," in out
    code, _, err = cli(db, "user", "disable", "li", monkeypatch=monkeypatch)
    assert code == 2 and "already disabled" in err
    assert cli(db, "user", "enable", "li", monkeypatch=monkeypatch)[0] == 0
    assert cli(db, "user", "reset-password", "li", stdin="short", monkeypatch=monkeypatch)[0] == 2
    code, out, _ = cli(db, "user", "reset-password", "li", stdin="the-new-password-1\n",
                       monkeypatch=monkeypatch)
    assert code == 0 and "password of li changed" in out
    assert cli(db, "user", "set-role", "li", "manager", monkeypatch=monkeypatch)[0] == 0
    assert users_in(db) == [("li", "manager", False)]
    with Store(db) as s:
        assert accounts.authenticate(s, "li", "the-new-password-1") == Actor("li", "manager")


def test_cli_demo_accounts_once_per_role_and_only_on_demo_stores(db, monkeypatch):
    code, out, err = cli(db, "user", "demo-accounts", monkeypatch=monkeypatch)
    assert code == 0, err
    for username, role, _, password in accounts.DEMO_ACCOUNTS:
        assert f"username {username}" in out and password in out
    assert "sign in" in out
    assert users_in(db) == [("admin", "admin", False), ("auditor", "auditor", False),
                            ("dpo", "dpo", False), ("manager", "manager", False)]
    code, out, _ = cli(db, "user", "demo-accounts", monkeypatch=monkeypatch)
    assert code == 0 and out.count("(already there)") == 4
    with Store(db) as s:
        for username, role, _, password in accounts.DEMO_ACCOUNTS:
            assert accounts.authenticate(s, username, password) == Actor(username, role)
    cli(db, "user", "add", "real.person", "--role", "dpo", stdin=PASSWORD,
        monkeypatch=monkeypatch)
    code, _, err = cli(db, "user", "demo-accounts", monkeypatch=monkeypatch)
    assert code == 2 and "real accounts (real.person)" in err


def test_permission_denied_for_a_non_admin_service_call(st_):
    with pytest.raises(PermissionDenied):
        accounts.create_user(st_, Actor("m", "manager"), "li", "dpo", PASSWORD)
    assert accounts.count_users(st_) == 0

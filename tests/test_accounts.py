"""Local accounts: hashing, sign-in, lockout, disabled users, SSO role mapping,
secrets kept out of the audit log and exports, and the `user` commands."""
from __future__ import annotations

import collections
import datetime as dt
import io
import json
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
    """A store with a frozen, movable clock; sign-in pauses after 3 failures of one account
    from one address, 6 from one address, 5 of one account; first pause 1 minute."""
    s = make_store(tmp_path / "acc.duckdb", settings=Settings({
        "login_max_failures": 3, "login_lockout_minutes": 15, "login_first_pause_seconds": 60,
        "login_address_max_failures": 6, "login_account_max_failures": 5,
        "login_window_minutes": 60}), clock=clock)
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
    assert df.set_index("username").at["c.three", "locked_until"] == \
        FROZEN_NOW + dt.timedelta(minutes=1)
    clock.advance(minutes=2)
    assert dict(zip(accounts.list_users(st_)["username"],
                    accounts.list_users(st_)["status"]))["c.three"] == "active"


# -- the password policy (issue 12) --------------------------------------------------
@pytest.mark.parametrize("password,message", [
    ("aaaaaaaaaaaa", "very easy to guess"),                # repeats
    ("123456789012", "easy to guess"),                     # a sequence
    ("password1234", "common and breached passwords"),     # on zxcvbn's breached list
    ("qwertyuiop12", "common and breached passwords"),     # a keyboard walk, listed
    ("Password1234", "common and breached passwords"),     # case does not matter
    ("li.wang.long", "must not be the username"),
    ("my-Li.Wang.Long-2026!", "must not contain the username"),
    ("short-pass", "at least 12 characters"),
])
def test_weak_passwords_are_refused_for_new_accounts_and_resets(st_, password, message):
    before = last_seq(st_)
    with pytest.raises(AccountError, match=message):
        accounts.create_user(st_, ADMIN, "li.wang.long", "dpo", password)
    assert last_seq(st_) == before and accounts.count_users(st_) == 0
    accounts.create_user(st_, ADMIN, "li.wang.long", "dpo", PASSWORD)
    digest = st_.scalar("SELECT password_hash FROM users")
    with pytest.raises(AccountError, match=message):
        accounts.reset_password(st_, ADMIN, "li.wang.long", password)
    assert st_.scalar("SELECT password_hash FROM users") == digest


def test_the_strength_threshold_is_a_setting(tmp_path):
    weak_ok = make_store(tmp_path / "lenient.duckdb", settings=Settings({"password_min_strength": 1}))
    accounts.create_user(weak_ok, SYSTEM, "li", "dpo", "123456789012")   # score 1: allowed here
    with pytest.raises(AccountError, match="common and breached"):      # the list still holds
        accounts.create_user(weak_ok, SYSTEM, "wang", "dpo", "password1234")
    weak_ok.close()


# -- signing in --------------------------------------------------------------------
FAILED = accounts.SIGN_IN_FAILED


def fail(store, username, password="wrong-password-x", address="10.0.0.1"):
    with pytest.raises(AuthError) as exc:
        accounts.authenticate(store, username, password, address=address)
    assert str(exc.value) == FAILED
    return exc.value


def test_good_password_signs_in_and_records_it(st_):
    accounts.create_user(st_, SYSTEM, "li", "manager", PASSWORD)
    since = last_seq(st_)
    assert accounts.authenticate(st_, "LI ", PASSWORD, address="10.0.0.1") == Actor("li", "manager")
    assert st_.scalar("SELECT last_sign_in_at FROM users") == FROZEN_NOW
    (entry,) = audit(st_, since)
    assert entry[:4] == ("sign-in", "auth", "auth.sign_in", "li")
    assert '"address":"10.0.0.1"' in entry[5]


def test_every_failure_gets_the_same_message(st_, clock):
    accounts.create_user(st_, SYSTEM, "li", "manager", PASSWORD)
    accounts.create_user(st_, SYSTEM, "off", "manager", PASSWORD)
    accounts.disable_user(st_, SYSTEM, "off")
    since = last_seq(st_)
    assert fail(st_, "li").reason == "bad_credentials"
    assert fail(st_, "nobody").reason == "bad_credentials"
    fail(st_, PASSWORD, PASSWORD)                          # password typed as the username
    assert fail(st_, "off", PASSWORD, address="10.0.0.2").reason == "disabled"
    for _ in range(2):
        fail(st_, "li")
    assert fail(st_, "li", PASSWORD).reason == "paused"   # even the right password
    entries = audit(st_, since)
    assert [e[2:4] for e in entries] == [
        ("auth.sign_in_failed", "li"), ("auth.sign_in_failed", None),
        ("auth.sign_in_failed", "off"), ("auth.lockout", "li")]
    assert "nobody" not in str(entries) and PASSWORD not in str(entries)
    with pytest.raises(AuthError, match="Enter your username and your password"):
        accounts.authenticate(st_, "li", "")


def test_unknown_and_existing_usernames_are_throttled_alike(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    seen = {}
    for name in ("li", "nobody"):
        seen[name] = [(str(e), e.reason, e.locked_until)
                      for e in (fail(st_, name, address=f"10.1.0.{len(seen)}") for _ in range(5))]
    assert seen["li"] == seen["nobody"]
    assert [r for _, r, _ in seen["li"]] == ["bad_credentials", "bad_credentials", "locked",
                                            "paused", "paused"]


def test_pauses_grow_and_a_real_admin_is_not_locked_out_from_elsewhere(st_, clock):
    """Today five wrong passwords for ' admin' lock the real admin for 15 minutes, again
    and again. Now the attacker's address pauses, for longer each time; the admin's own
    address keeps working, and an administrator can lift the pause on the account."""
    accounts.create_user(st_, SYSTEM, "admin", "admin", PASSWORD)
    assert accounts.authenticate(st_, "admin", PASSWORD, address="10.9.9.9")   # her office
    pauses = []
    for _ in range(4):
        for _ in range(3):
            error = fail(st_, " admin", address="203.0.113.7")
        pauses.append(error.locked_until - clock.now)
        assert accounts.authenticate(st_, "ADMIN", PASSWORD, address="10.9.9.9") == \
            Actor("admin", "admin")                                   # not locked out
        clock.advance(seconds=pauses[-1].total_seconds())           # the pause runs out
    assert pauses[0] == dt.timedelta(seconds=60)
    assert all(later > earlier for earlier, later in zip(pauses, pauses[1:]))
    # Failures from many addresses pause the account, but only for unknown addresses.
    for n in range(5):
        fail(st_, "admin", address=f"198.51.100.{n}")
    assert fail(st_, "admin", PASSWORD, address="198.51.100.200").reason == "paused"
    assert accounts.authenticate(st_, "admin", PASSWORD, address="10.9.9.9").name == "admin"
    status = accounts.list_users(st_).set_index("username").loc["admin"]
    assert status["status"] == "locked" and status["failed_attempts"] > 0
    accounts.unlock_user(st_, SYSTEM, "admin")
    assert accounts.authenticate(st_, "admin", PASSWORD, address="198.51.100.200").name == "admin"


def test_one_address_spraying_many_accounts_is_paused(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    for n in range(6):            # login_address_max_failures = 6 here, one try per name
        fail(st_, f"user{n}", "Spring2026!", address="192.0.2.66")
    assert fail(st_, "li", PASSWORD, address="192.0.2.66").reason == "paused"
    assert accounts.authenticate(st_, "li", PASSWORD, address="192.0.2.1") == Actor("li", "dpo")


def test_a_thousand_failures_write_a_bounded_number_of_audit_entries(st_, clock):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    accounts.create_user(st_, SYSTEM, "wang", "dpo", PASSWORD)
    since = last_seq(st_)
    # One client hammering one account, as fast as it can (the clock does not move).
    for n in range(1000):
        fail(st_, "li", f"guess-{n}", address="203.0.113.7")
    hammer = audit(st_, since)
    assert [e[2] for e in hammer] == ["auth.sign_in_failed", "auth.lockout"]
    # A spray of 1,000 usernames from one address.
    since = last_seq(st_)
    for n in range(1000):
        fail(st_, f"name{n}", "Spring2026!", address="203.0.113.8")
    assert len(audit(st_, since)) <= 3
    # A patient client: one guess a minute for 1,000 minutes. Every pause that starts and
    # every success is an entry; the other failures are reported per window.
    since = last_seq(st_)
    started = successes = 0
    for n in range(1000):
        clock.advance(minutes=1)
        try:
            accounts.authenticate(st_, "wang", f"guess-{n}", address="198.51.100.9")
        except AuthError as exc:
            started += exc.reason == "locked"
        if n % 250 == 0:
            assert accounts.authenticate(st_, "wang", PASSWORD, address="10.0.0.1")
            successes += 1
    entries = audit(st_, since)
    actions = collections.Counter(e[2] for e in entries)
    assert actions["auth.lockout"] == started > 0
    assert actions["auth.sign_in"] == successes
    assert len(entries) < 150                           # not 1,000
    # Nothing lost: every failure is in an entry, its first, a pause's, a success's or a
    # window's report, once the last window has been reported.
    clock.advance(hours=2)
    fail(st_, "someone-else", address="10.0.0.99")
    reported = 0
    for action, entity, after in st_.rows(
            "SELECT action, entity_id, values_after FROM audit_log WHERE seq > ? "
            "AND values_after LIKE '%198.51.100.9%'", [since]):
        data = json.loads(after)
        if action in ("auth.sign_in_failed", "auth.lockout"):
            reported += 1 + sum(data.get("unreported_before", {}).values())
        elif action == "auth.sign_in_failures":
            reported += data["unreported"] if isinstance(data["unreported"], int) else 0
    assert reported == 1000


def test_pauses_are_kept_when_the_app_restarts(st_, clock):
    from dashboard import throttle
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    for _ in range(3):
        fail(st_, "li", address="10.0.0.5")
    throttle.forget(st_)                      # what a new process knows: the table
    assert fail(st_, "li", PASSWORD, address="10.0.0.5").reason == "paused"


def test_admin_unlocks_with_unlock_or_password_reset(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    with pytest.raises(AccountError, match="not locked"):
        accounts.unlock_user(st_, ADMIN, "li")
    with pytest.raises(AccountError, match="no user named 'ghost'"):
        accounts.unlock_user(st_, ADMIN, "ghost")
    for _ in range(3):
        fail(st_, "li")
    before = last_seq(st_)
    accounts.unlock_user(st_, ADMIN, "li")
    (entry,) = audit(st_, before)
    assert entry[:4] == ("admin.zhao", "admin", "user.unlock", "li")
    assert accounts.authenticate(st_, "li", PASSWORD, address="10.0.0.1").role == "dpo"
    for _ in range(3):
        fail(st_, "li")
    accounts.reset_password(st_, ADMIN, "li", "a-brand-new-password")
    fail(st_, "li", PASSWORD)                              # the old one no longer works
    assert accounts.authenticate(st_, "li", "a-brand-new-password",
                                 address="10.0.0.1").role == "dpo"
    with pytest.raises(PermissionDenied):
        accounts.unlock_user(st_, Actor("m", "manager"), "li")


def test_disabled_user_cannot_sign_in(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    accounts.disable_user(st_, ADMIN, "li")
    assert fail(st_, "li", "wrong-password-x").reason == "bad_credentials"
    assert fail(st_, "li", PASSWORD).reason == "disabled"
    with pytest.raises(AuthError, match="disabled"):
        accounts.session_actor(st_, "li")                     # an open session ends too
    accounts.enable_user(st_, ADMIN, "li")
    assert accounts.authenticate(st_, "li", PASSWORD, address="10.0.0.2") == Actor("li", "dpo")


def test_a_session_is_bound_to_the_password_role_and_state(st_):
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD)
    accounts.create_user(st_, SYSTEM, "wang", "dpo", PASSWORD)
    role, binding = accounts.session_binding(st_, "li")
    assert accounts.check_session(st_, "li", role, binding) == Actor("li", "dpo")
    assert binding != accounts.session_binding(st_, "wang")[1]
    assert PASSWORD not in binding and st_.scalar("SELECT password_hash FROM users "
                                                  "WHERE username = 'li'") not in binding
    accounts.reset_password(st_, ADMIN, "li", PASSWORD + "-2")   # even to a similar one
    with pytest.raises(AuthError, match="password was changed"):
        accounts.check_session(st_, "li", role, binding)
    role, binding = accounts.session_binding(st_, "li")
    accounts.set_role(st_, ADMIN, "li", "auditor")
    with pytest.raises(AuthError, match="role was changed"):
        accounts.check_session(st_, "li", role, binding)
    role, binding = accounts.session_binding(st_, "li")
    accounts.disable_user(st_, ADMIN, "li")
    with pytest.raises(AuthError, match="disabled"):
        accounts.check_session(st_, "li", role, binding)
    accounts.enable_user(st_, ADMIN, "li")                 # enabled again: still ended
    with pytest.raises(AuthError, match="sessions were ended"):
        accounts.check_session(st_, "li", role, binding)
    with pytest.raises(AuthError, match="no longer exists"):
        accounts.session_binding(st_, "ghost")


# -- demo accounts ------------------------------------------------------------------
def test_the_first_real_administrator_disables_the_demo_accounts(st_):
    accounts.ensure_demo_accounts(st_, SYSTEM)
    assert accounts.enabled_demo_accounts(st_) == ["admin", "auditor", "dpo", "manager"]
    made = accounts.create_user(st_, SYSTEM, "real.dpo", "dpo", PASSWORD)
    assert made["demo_accounts_disabled"] == [] and len(accounts.enabled_demo_accounts(st_)) == 4
    role, binding = accounts.session_binding(st_, "admin")
    before = last_seq(st_)
    made = accounts.create_user(st_, Actor("admin", "admin"), "zhao", "admin", PASSWORD)
    assert made["demo_accounts_disabled"] == ["admin", "auditor", "dpo", "manager"]
    assert accounts.enabled_demo_accounts(st_) == []
    (entry,) = audit(st_, before)
    assert entry[2] == "user.create" and '"demo_accounts_disabled":["admin"' in entry[5]
    with pytest.raises(AuthError, match="demo accounts were disabled"):
        accounts.check_session(st_, "admin", role, binding)
    assert fail(st_, "dpo", "dpo-demo-password").reason == "disabled"
    # Appointing a real account administrator does it too.
    accounts.enable_user(st_, SYSTEM, "auditor")
    changed = accounts.set_role(st_, SYSTEM, "real.dpo", "admin")
    assert changed["demo_accounts_disabled"] == ["auditor"]


def test_cli_says_when_it_disables_the_demo_accounts(db, monkeypatch):
    cli(db, "user", "demo-accounts", monkeypatch=monkeypatch)
    code, out, err = cli(db, "user", "add", "zhao", "--role", "admin", stdin=PASSWORD,
                         monkeypatch=monkeypatch)
    assert code == 0, err
    assert "demo accounts (admin, auditor, dpo, manager) were disabled" in out
    assert users_in(db) == [("admin", "admin", True), ("auditor", "auditor", True),
                            ("dpo", "dpo", True), ("manager", "manager", True),
                            ("zhao", "admin", False)]


def test_cli_unlock(db, monkeypatch):
    cli(db, "user", "add", "li", "--role", "dpo", stdin=PASSWORD, monkeypatch=monkeypatch)
    with Store(db, settings=Settings({"login_max_failures": 2})) as s:
        for _ in range(2):
            fail(s, "li")
    code, out, err = cli(db, "user", "unlock", "LI", monkeypatch=monkeypatch)
    assert (code, err) == (0, "") and "unlocked user li" in out
    code, _, err = cli(db, "user", "unlock", "li", monkeypatch=monkeypatch)
    assert code == 2 and "not locked" in err
    code, _, err = cli(db, "user", "unlock", "ghost", monkeypatch=monkeypatch)
    assert code == 2 and "no user named 'ghost'" in err
    with Store(db) as s:
        assert accounts.authenticate(s, "li", PASSWORD, address="10.0.0.1") == Actor("li", "dpo")
        assert s.scalar("SELECT count(*) FROM audit_log WHERE action = 'user.unlock'") == 1


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
    with pytest.raises(AccountError, match="is not disabled"):
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


V = {"email_verified": True}


def test_sso_maps_by_account_email_then_email_table_then_claim(st_):
    cfg = accounts.sso_config(SECRETS)
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD, email="li@example.com",
                         display_name="Li Wang")
    actor, account = accounts.sign_in_sso(
        st_, {**V, "email": "LI@example.com", "groups": ["security"], "name": "L"}, cfg, "corp")
    assert actor == Actor("li", "dpo") and account["username"] == "li"
    assert st_.scalar("SELECT last_sign_in_at FROM users") == FROZEN_NOW
    actor, _ = accounts.sign_in_sso(st_, {**V, "email": "chen@example.com",
                                          "groups": "security"}, cfg, "corp")
    assert actor == Actor("chen@example.com", "auditor")
    actor, account = accounts.sign_in_sso(st_, {**V, "email": "wang@example.com",
                                                "groups": ["staff", "security"]}, cfg, "corp")
    assert actor == Actor("wang@example.com", "manager") and "username" not in account
    entry = audit(st_)[-1]
    assert entry[:4] == ("sign-in", "auth", "auth.sign_in", "wang@example.com")
    assert '"mapped_by":"claim groups"' in entry[5] and '"method":"sso:corp"' in entry[5]


@pytest.mark.parametrize("verified", [None, False, "false", "true", "True", 1, "yes"])
def test_sso_signs_in_by_email_only_when_email_verified_is_the_boolean_true(st_, verified):
    """Today a missing claim or the string "false" signs in as the local admin who owns
    the address. Only the JSON boolean true proves the address."""
    cfg = accounts.sso_config(SECRETS)
    accounts.create_user(st_, SYSTEM, "boss", "admin", PASSWORD, email="boss@example.com")
    claims = {"sub": "idp-mallory", "email": "boss@example.com", "groups": ["security"]}
    if verified is not None:
        claims["email_verified"] = verified
    actor, account = accounts.sign_in_sso(st_, claims, cfg, "corp")
    assert actor == Actor("corp:idp-mallory", "manager")      # by the claim, not the e-mail
    assert "username" not in account
    entry = audit(st_)[-1]
    assert entry[3] == "corp:idp-mallory" and "boss" not in entry[3]
    with pytest.raises(AuthError, match="no role"):          # the e-mail table likewise
        accounts.sign_in_sso(st_, {**claims, "email": "chen@example.com", "groups": []},
                             cfg, "corp")
    actor, _ = accounts.sign_in_sso(st_, {**claims, "email_verified": True}, cfg, "corp")
    assert actor == Actor("boss", "admin")


def test_sso_refuses_unmapped_ambiguous_unverified_and_disabled(st_):
    cfg = accounts.sso_config(SECRETS)
    with pytest.raises(AuthError, match="has no role in this app") as exc:
        accounts.sign_in_sso(st_, {**V, "email": "x@example.com", "groups": ["staff"]}, cfg,
                             "corp")
    assert exc.value.reason == "unmapped"
    assert audit(st_)[-1][2:4] == ("auth.sso_refused", "x@example.com")
    with pytest.raises(AuthError, match=r"more than one role \(auditor, dpo\)"):
        accounts.sign_in_sso(st_, {**V, "email": "y@example.com",
                                   "groups": ["audit", "privacy-office"]}, cfg, "corp")
    with pytest.raises(AuthError, match="no role"):   # the e-mail table needs a verified e-mail
        accounts.sign_in_sso(st_, {"sub": "s1", "email": "chen@example.com",
                                   "email_verified": False}, cfg, "corp")
    accounts.create_user(st_, SYSTEM, "li", "dpo", PASSWORD, email="li@example.com")
    accounts.disable_user(st_, SYSTEM, "li")
    with pytest.raises(AuthError, match="disabled"):
        accounts.sign_in_sso(st_, {**V, "email": "li@example.com", "groups": ["security"]},
                             cfg, "corp")
    with pytest.raises(AuthError, match="neither a verified e-mail nor a subject"):
        accounts.sign_in_sso(st_, {"groups": ["security"]}, cfg, "corp")
    with pytest.raises(AuthError, match="neither a verified e-mail nor a subject"):
        accounts.sign_in_sso(st_, {"email": "z@example.com", "groups": ["security"]}, cfg,
                             "corp")


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

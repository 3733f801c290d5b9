"""Users (administrators): list accounts, add one, disable or enable, unlock (lift the
sign-in pauses after failed sign-ins), reset a password, change a role; and the REST API's
tokens (create one per integration, shown once; revoke). Every change goes through
dashboard.accounts and dashboard.tokens, the same functions the `python -m dashboard user ...`
and `token ...` commands call."""
import streamlit as st

from dashboard import accounts, tokens, ui
from dashboard.access import ROLE_TITLES, ROLES, PermissionDenied
from dashboard.accounts import AccountError

actor = ui.page_guard("users")
store = ui.get_store()

st.title("Users", anchor=False)
st.caption("Accounts that may sign in, and their roles. Passwords are stored only as "
           "Argon2id hashes and are never shown. Resetting a password, changing a role or "
           "disabling an account ends that user's open sessions.")
PASSWORD_HELP = (f"At least {accounts.PASSWORD_MIN_LENGTH} characters, not containing the "
                 "username, not a common or breached password, and hard to guess: a few "
                 "unrelated words work well.")

flash = st.session_state.pop("users_flash", None)
if flash:
    st.success(ui.plain(flash), icon=":material/check_circle:")


def _done(message: str) -> None:
    st.session_state["users_flash"] = message
    st.rerun()


def _role_label(role: str) -> str:
    return f"{ROLE_TITLES[role]} ({role})"


def _retired(user: dict) -> str:
    names = user.get("demo_accounts_disabled") or []
    return " " + accounts.DEMO_RETIRED.format(names=", ".join(names)) if names else ""


users = accounts.list_users(store)
st.dataframe(
    users.assign(email=users["email"].fillna("")), hide_index=True, width="stretch",
    column_order=["username", "display_name", "role", "email", "status", "failed_attempts",
                  "locked_until", "last_sign_in_at", "created_at"],
    column_config={
        "username": st.column_config.TextColumn("Username"),
        "display_name": st.column_config.TextColumn("Name"),
        "role": st.column_config.TextColumn("Role"),
        "email": st.column_config.TextColumn("E-mail"),
        "status": st.column_config.TextColumn("Status"),
        "failed_attempts": st.column_config.NumberColumn("Failed sign-ins (this hour)"),
        "locked_until": st.column_config.DatetimeColumn("Sign-in paused until",
                                                        format="YYYY-MM-DD HH:mm"),
        "last_sign_in_at": st.column_config.DatetimeColumn("Last sign-in",
                                                           format="YYYY-MM-DD HH:mm"),
        "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
    },
)

add_tab, change_tab, token_tab = st.tabs(["Add a user", "Change a user", "API tokens"])

with add_tab:
    with st.form("add_user", clear_on_submit=False):
        c1, c2 = st.columns(2)
        new_name = c1.text_input("Username", key="add_username",
                                 help="2–32 characters: letters, digits, '.', '_' or '-'")
        new_display = c2.text_input("Name shown", key="add_display_name")
        new_email = c1.text_input("E-mail (optional; also matches single sign-on)",
                                  key="add_email")
        new_role = c2.selectbox("Role", ROLES, format_func=_role_label, key="add_role")
        pw1 = c1.text_input(f"Password (at least {accounts.PASSWORD_MIN_LENGTH} characters)",
                            type="password", key="add_password", autocomplete="new-password",
                            help=PASSWORD_HELP)
        pw2 = c2.text_input("Repeat the password", type="password", key="add_password2",
                            autocomplete="new-password")
        add = st.form_submit_button("Add user", type="primary", icon=":material/person_add:")
    if add:
        if pw1 != pw2:
            st.error("The two passwords differ. Nothing was saved.", icon=":material/error:")
        else:
            try:
                made = accounts.create_user(store, actor, new_name, new_role, pw1,
                                            display_name=new_display, email=new_email)
            except (AccountError, PermissionDenied) as exc:
                st.error(f"{ui.plain(exc)}. Nothing was saved.", icon=":material/error:")
            else:
                _done(f"Added {made['username']} as {_role_label(made['role'])}."
                      + _retired(made))

with change_tab:
    if users.empty:
        st.info("No accounts yet.")
    else:
        names = users["username"].tolist()
        chosen = st.selectbox("User", names, key="change_user",
                              format_func=lambda n: f"{n} · {users.set_index('username').at[n, 'status']}")
        row = users.set_index("username").loc[chosen]
        st.caption(f"Role **{_role_label(row['role'])}** · status **{row['status']}**"
                   f"{' · ' + str(row['failed_attempts']) + ' failed sign-ins' if row['failed_attempts'] else ''}")

        c1, c2, c3 = st.columns(3)
        if row["status"] == "disabled":
            if c1.button("Enable", key="enable_user", icon=":material/check_circle:"):
                try:
                    accounts.enable_user(store, actor, chosen)
                except (AccountError, PermissionDenied) as exc:
                    st.error(f"{ui.plain(exc)}.", icon=":material/error:")
                else:
                    _done(f"{chosen} is enabled.")
        if row["status"] == "locked" or row["failed_attempts"]:
            if c3.button("Unlock", key="unlock_user", icon=":material/lock_open:",
                         help="Lift the pauses that failed sign-ins put on this account"):
                try:
                    accounts.unlock_user(store, actor, chosen)
                except (AccountError, PermissionDenied) as exc:
                    st.error(f"{exc}.", icon=":material/error:")
                else:
                    _done(f"{chosen} is unlocked: its sign-in pauses and failed sign-ins "
                          "are cleared.")
        if row["status"] != "disabled":
            if c2.button("Disable", key="disable_user", icon=":material/block:"):
                try:
                    accounts.disable_user(store, actor, chosen)
                except (AccountError, PermissionDenied) as exc:
                    st.error(f"{ui.plain(exc)}.", icon=":material/error:")
                else:
                    _done(f"{chosen} is disabled: it can no longer sign in, and an open "
                          "session ends on its next action.")

        with st.form("set_role"):
            role = st.selectbox("New role", ROLES, index=ROLES.index(row["role"]),
                                format_func=_role_label, key="new_role")
            change = st.form_submit_button("Change role", icon=":material/badge:")
        if change:
            try:
                changed_role = accounts.set_role(store, actor, chosen, role)
            except (AccountError, PermissionDenied) as exc:
                st.error(f"{ui.plain(exc)}.", icon=":material/error:")
            else:
                _done(f"{chosen} now has the role {_role_label(role)}; their open sessions "
                      "end." + _retired(changed_role))

        with st.form("reset_password", clear_on_submit=True):
            r1 = st.text_input(f"New password (at least {accounts.PASSWORD_MIN_LENGTH} characters)",
                               type="password", key="reset_password1", autocomplete="new-password",
                               help=PASSWORD_HELP)
            r2 = st.text_input("Repeat the new password", type="password", key="reset_password2",
                               autocomplete="new-password")
            reset = st.form_submit_button("Reset password", icon=":material/password:")
        if reset:
            if r1 != r2:
                st.error("The two passwords differ. Nothing was saved.", icon=":material/error:")
            else:
                try:
                    accounts.reset_password(store, actor, chosen, r1)
                except (AccountError, PermissionDenied) as exc:
                    st.error(f"{ui.plain(exc)}. Nothing was saved.", icon=":material/error:")
                else:
                    _done(f"The password of {chosen} was reset (and the account unlocked); "
                          "their open sessions end.")

with token_tab:
    st.caption("One bearer token per integration (a SIEM, a web form, cron through "
               "`--server`), bound to a role: it may do what a person with that role may. "
               "Only a hash is kept: the token is shown once, when it is created. Every call "
               "it makes is in the audit log. See docs/API.md.")
    once = st.session_state.pop("users_token_once", None)
    if once:
        st.warning("Copy this token now: it is not shown again.", icon=":material/key:")
        st.code(once, language=None)
    listed = tokens.list_tokens(store, actor)
    if listed:
        st.dataframe(
            [{**t, "status": "revoked" if t["revoked_at"] else "active"} for t in listed],
            hide_index=True, width="stretch",
            column_order=["name", "role", "status", "note", "created_at", "created_by",
                          "last_used_at", "revoked_at"],
            column_config={
                "name": st.column_config.TextColumn("Name"),
                "role": st.column_config.TextColumn("Role"),
                "status": st.column_config.TextColumn("Status"),
                "note": st.column_config.TextColumn("What it is for"),
                "created_at": st.column_config.DatetimeColumn("Created",
                                                              format="YYYY-MM-DD HH:mm"),
                "created_by": st.column_config.TextColumn("Created by"),
                "last_used_at": st.column_config.DatetimeColumn("Last used",
                                                                format="YYYY-MM-DD HH:mm"),
                "revoked_at": st.column_config.DatetimeColumn("Revoked",
                                                              format="YYYY-MM-DD HH:mm"),
            })
    else:
        st.info("No API tokens yet.")
    with st.form("add_token", clear_on_submit=True):
        c1, c2 = st.columns(2)
        token_name = c1.text_input("Name of the integration", key="token_name",
                                   help="2–40 characters: lower-case letters, digits, '.', '_' "
                                        "or '-', e.g. siem, cron, web-form")
        token_role = c2.selectbox("Role", ROLES, format_func=_role_label, key="token_role")
        token_note = st.text_input("What it is for (optional)", key="token_note")
        create = st.form_submit_button("Create token", type="primary", icon=":material/key:")
    if create:
        try:
            made_token = tokens.create_token(store, actor, token_name, token_role, token_note)
        except (tokens.TokenError, PermissionDenied) as exc:
            st.error(f"{ui.plain(exc)}. Nothing was saved.", icon=":material/error:")
        else:
            st.session_state["users_token_once"] = made_token.token
            _done(f"Created the token {made_token.name} ({_role_label(made_token.role)}).")
    active = [t["name"] for t in listed if not t["revoked_at"]]
    if active:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        to_revoke = c1.selectbox("Token to revoke", active, key="token_revoke_name")
        if c2.button("Revoke", key="token_revoke", icon=":material/key_off:"):
            try:
                tokens.revoke_token(store, actor, to_revoke)
            except (tokens.TokenError, PermissionDenied) as exc:
                st.error(f"{ui.plain(exc)}.", icon=":material/error:")
            else:
                _done(f"Revoked the token {to_revoke}: it is refused from now on.")

"""Users (administrators): list accounts, add one, disable or enable, unlock (lift the
sign-in pauses after failed sign-ins), reset a password, change a role; and the REST API's
tokens (create one per integration, shown once; revoke). Every change goes through
dashboard.accounts and dashboard.tokens, the same functions the `python -m dashboard user ...`
and `token ...` commands call."""
import streamlit as st

from dashboard import accounts, tokens, ui
from dashboard.access import ROLES, PermissionDenied
from dashboard.accounts import AccountError
from dashboard.i18n import N_, _, fmt_number, is_chinese, label, ngettext

actor = ui.page_guard("users")
store = ui.get_store()

st.title(_("Users"), anchor=False)
st.caption(_("Accounts that may sign in, and their roles. Passwords are stored only as "
             "Argon2id hashes and are never shown. Resetting a password, changing a role or "
             "disabling an account ends that user's open sessions."))
PASSWORD_HELP = _("At least {n} characters, not containing the "
                  "username, not a common or breached password, and hard to guess: a few "
                  "unrelated words work well.").format(n=accounts.PASSWORD_MIN_LENGTH)
# An account's status (accounts.list_users) and a token's, in words
STATUS_WORDS = {"active": N_("Active"), "locked": N_("Sign-in paused"),
                "disabled": N_("Disabled"), "revoked": N_("Revoked")}
CHINESE = is_chinese()

flash = st.session_state.pop("users_flash", None)
if flash:
    st.success(ui.plain(flash), icon=":material/check_circle:")


def _done(message: str) -> None:
    st.session_state["users_flash"] = message
    st.rerun()


def _role_label(role: str) -> str:
    # English: the title and the code the command line takes; Chinese: the title
    return label("role", role) if CHINESE else f"{label('role', role)} ({role})"


# format_func values are computed here, in the page's language: a select box's format_func
# may also be called outside the page run (AppTest does, in its own thread)
ROLE_NAMES = {role: _role_label(role) for role in ROLES}


def _status(status: str) -> str:
    """An account's or token's status in words (the codes stay in the data and the CLI)."""
    return _(STATUS_WORDS.get(status, status))


def _retired(user: dict) -> str:
    names = user.get("demo_accounts_disabled") or []
    if not names:
        return ""
    return " " + _(accounts.DEMO_RETIRED).format(names=("、" if CHINESE else ", ").join(names))


def _error(exc: Exception) -> str:
    # a Chinese message may end with its own full stop (PermissionDenied): not two of them
    text = str(exc)
    return ui.plain(text.rstrip("。") if CHINESE else text)


def _failed(exc: Exception) -> str:
    return _("{error}. Nothing was saved.").format(error=_error(exc))


def _refused(exc: Exception) -> str:
    return _("{error}.").format(error=_error(exc))


users = accounts.list_users(store)
shown_users = users.assign(email=users["email"].fillna(""),
                           role=[label("role", r) for r in users["role"]],
                           status=[_status(s) for s in users["status"]])
st.dataframe(
    shown_users, hide_index=True, width="stretch",
    column_order=["username", "display_name", "role", "email", "status", "failed_attempts",
                  "locked_until", "last_sign_in_at", "created_at"],
    column_config={
        "username": st.column_config.TextColumn(_("Username")),
        "display_name": st.column_config.TextColumn(_("Name")),
        "role": st.column_config.TextColumn(_("Role")),
        "email": st.column_config.TextColumn(_("E-mail")),
        "status": st.column_config.TextColumn(_("Status")),
        "failed_attempts": st.column_config.NumberColumn(_("Failed sign-ins (this hour)")),
        "locked_until": st.column_config.DatetimeColumn(_("Sign-in paused until"),
                                                        format="YYYY-MM-DD HH:mm"),
        "last_sign_in_at": st.column_config.DatetimeColumn(_("Last sign-in"),
                                                           format="YYYY-MM-DD HH:mm"),
        "created_at": st.column_config.DatetimeColumn(_("Created"), format="YYYY-MM-DD HH:mm"),
    },
)

add_tab, change_tab, token_tab = st.tabs([_("Add a user"), _("Change a user"), _("API tokens")])

with add_tab:
    with st.form("add_user", clear_on_submit=False):
        c1, c2 = st.columns(2)
        new_name = c1.text_input(_("Username"), key="add_username",
                                 help=_("2–32 characters: letters, digits, '.', '_' or '-'"))
        new_display = c2.text_input(_("Name shown"), key="add_display_name")
        new_email = c1.text_input(_("E-mail (optional; also matches single sign-on)"),
                                  key="add_email")
        new_role = c2.selectbox(_("Role"), ROLES, format_func=ROLE_NAMES.get, key="add_role")
        pw1 = c1.text_input(_("Password (at least {n} characters)").format(
                                n=accounts.PASSWORD_MIN_LENGTH),
                            type="password", key="add_password", autocomplete="new-password",
                            help=PASSWORD_HELP)
        pw2 = c2.text_input(_("Repeat the password"), type="password", key="add_password2",
                            autocomplete="new-password")
        add = st.form_submit_button(_("Add user"), type="primary", icon=":material/person_add:")
    if add:
        if pw1 != pw2:
            st.error(_("The two passwords differ. Nothing was saved."), icon=":material/error:")
        else:
            try:
                made = accounts.create_user(store, actor, new_name, new_role, pw1,
                                            display_name=new_display, email=new_email)
            except (AccountError, PermissionDenied) as exc:
                st.error(_failed(exc), icon=":material/error:")
            else:
                _done(_("Added {name} as {role}.").format(name=made["username"],
                                                         role=_role_label(made["role"]))
                      + _retired(made))

with change_tab:
    if users.empty:
        st.info(_("No accounts yet."))
    else:
        names = users["username"].tolist()
        by_name = users.set_index("username")
        user_names = {n: f"{n} · {_status(by_name.at[n, 'status'])}" for n in names}
        chosen = st.selectbox(_("User"), names, key="change_user", format_func=user_names.get)
        row = by_name.loc[chosen]
        failed = int(row["failed_attempts"]) if row["failed_attempts"] else 0
        st.caption(_("Role **{role}** · status **{status}**").format(
                       role=_role_label(row["role"]), status=_status(row["status"]))
                   + (" · " + ngettext("{n} failed sign-in", "{n} failed sign-ins",
                                       failed).format(n=fmt_number(failed)) if failed else ""))

        c1, c2, c3 = st.columns(3)
        if row["status"] == "disabled":
            if c1.button(_("Enable"), key="enable_user", icon=":material/check_circle:"):
                try:
                    accounts.enable_user(store, actor, chosen)
                except (AccountError, PermissionDenied) as exc:
                    st.error(_refused(exc), icon=":material/error:")
                else:
                    _done(_("{name} is enabled.").format(name=chosen))
        if row["status"] == "locked" or row["failed_attempts"]:
            if c3.button(_("Unlock"), key="unlock_user", icon=":material/lock_open:",
                         help=_("Lift the pauses that failed sign-ins put on this account")):
                try:
                    accounts.unlock_user(store, actor, chosen)
                except (AccountError, PermissionDenied) as exc:
                    st.error(_refused(exc), icon=":material/error:")
                else:
                    _done(_("{name} is unlocked: its sign-in pauses and failed sign-ins "
                            "are cleared.").format(name=chosen))
        if row["status"] != "disabled":
            if c2.button(_("Disable"), key="disable_user", icon=":material/block:"):
                try:
                    accounts.disable_user(store, actor, chosen)
                except (AccountError, PermissionDenied) as exc:
                    st.error(_refused(exc), icon=":material/error:")
                else:
                    _done(_("{name} is disabled: it can no longer sign in, and an open "
                            "session ends on its next action.").format(name=chosen))

        with st.form("set_role"):
            role = st.selectbox(_("New role"), ROLES, index=ROLES.index(row["role"]),
                                format_func=ROLE_NAMES.get, key="new_role")
            change = st.form_submit_button(_("Change role"), icon=":material/badge:")
        if change:
            try:
                changed_role = accounts.set_role(store, actor, chosen, role)
            except (AccountError, PermissionDenied) as exc:
                st.error(_refused(exc), icon=":material/error:")
            else:
                _done(_("{name} now has the role {role}; their open sessions end.").format(
                    name=chosen, role=_role_label(role)) + _retired(changed_role))

        with st.form("reset_password", clear_on_submit=True):
            r1 = st.text_input(_("New password (at least {n} characters)").format(
                                   n=accounts.PASSWORD_MIN_LENGTH),
                               type="password", key="reset_password1", autocomplete="new-password",
                               help=PASSWORD_HELP)
            r2 = st.text_input(_("Repeat the new password"), type="password",
                               key="reset_password2", autocomplete="new-password")
            reset = st.form_submit_button(_("Reset password"), icon=":material/password:")
        if reset:
            if r1 != r2:
                st.error(_("The two passwords differ. Nothing was saved."),
                         icon=":material/error:")
            else:
                try:
                    accounts.reset_password(store, actor, chosen, r1)
                except (AccountError, PermissionDenied) as exc:
                    st.error(_failed(exc), icon=":material/error:")
                else:
                    _done(_("The password of {name} was reset (and the account unlocked); "
                            "their open sessions end.").format(name=chosen))

with token_tab:
    st.caption(_("One bearer token per integration (a SIEM, a web form, cron through "
                 "`--server`), bound to a role: it may do what a person with that role may. "
                 "Only a hash is kept: the token is shown once, when it is created. Every call "
                 "it makes is in the audit log. See docs/API.md."))
    once = st.session_state.pop("users_token_once", None)
    if once:
        st.warning(_("Copy this token now: it is not shown again."), icon=":material/key:")
        st.code(once, language=None)
    listed = tokens.list_tokens(store, actor)
    if listed:
        st.dataframe(
            [{**t, "status": _status("revoked" if t["revoked_at"] else "active"),
              "role": label("role", t["role"])} for t in listed],
            hide_index=True, width="stretch",
            column_order=["name", "role", "status", "note", "created_at", "created_by",
                          "last_used_at", "revoked_at"],
            column_config={
                "name": st.column_config.TextColumn(_("Name")),
                "role": st.column_config.TextColumn(_("Role")),
                "status": st.column_config.TextColumn(_("Status")),
                "note": st.column_config.TextColumn(_("What it is for")),
                "created_at": st.column_config.DatetimeColumn(_("Created"),
                                                              format="YYYY-MM-DD HH:mm"),
                "created_by": st.column_config.TextColumn(_("Created by")),
                "last_used_at": st.column_config.DatetimeColumn(_("Last used"),
                                                                format="YYYY-MM-DD HH:mm"),
                "revoked_at": st.column_config.DatetimeColumn(_("Revoked"),
                                                              format="YYYY-MM-DD HH:mm"),
            })
    else:
        st.info(_("No API tokens yet."))
    with st.form("add_token", clear_on_submit=True):
        c1, c2 = st.columns(2)
        token_name = c1.text_input(_("Name of the integration"), key="token_name",
                                   help=_("2–40 characters: lower-case letters, digits, '.', '_' "
                                          "or '-', e.g. siem, cron, web-form"))
        token_role = c2.selectbox(_("Role"), ROLES, format_func=ROLE_NAMES.get, key="token_role")
        token_note = st.text_input(_("What it is for (optional)"), key="token_note")
        create = st.form_submit_button(_("Create token"), type="primary", icon=":material/key:")
    if create:
        try:
            made_token = tokens.create_token(store, actor, token_name, token_role, token_note)
        except (tokens.TokenError, PermissionDenied) as exc:
            st.error(_failed(exc), icon=":material/error:")
        else:
            st.session_state["users_token_once"] = made_token.token
            _done(_("Created the token {name} ({role}).").format(
                name=made_token.name, role=_role_label(made_token.role)))
    active = [t["name"] for t in listed if not t["revoked_at"]]
    if active:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        to_revoke = c1.selectbox(_("Token to revoke"), active, key="token_revoke_name")
        if c2.button(_("Revoke"), key="token_revoke", icon=":material/key_off:"):
            try:
                tokens.revoke_token(store, actor, to_revoke)
            except (tokens.TokenError, PermissionDenied) as exc:
                st.error(_refused(exc), icon=":material/error:")
            else:
                _done(_("Revoked the token {name}: it is refused from now on.").format(
                    name=to_revoke))

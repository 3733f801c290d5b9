"""Sign in: a local account (username and password), or single sign-on when
`.streamlit/secrets.toml` has an `[auth]` section. app.py routes every signed-out
session here; on success the session reruns into the role's navigation."""
import streamlit as st
from streamlit.errors import StreamlitAuthError

from dashboard import accounts, ui
from dashboard.accounts import AccountError, AuthError
from dashboard.i18n import _, page_title
from dashboard.navigation import PAGE_BY_KEY

store = ui.get_store()
if ui.enforce_session() is not None:
    # Signed in, yet here (this file run on its own, e.g. by a test): rerun into app.py.
    st.rerun()

_left, column, _right = st.columns([1, 2, 1])   # a narrow, centred form on the wide layout
with column:
    st.title(_("Sign in"), anchor=False)
    st.caption(_("Privacy compliance: sign in to see what your role allows."))
    target = PAGE_BY_KEY.get(st.session_state.get("sign_in_target") or "")
    if target:   # opened from a link to a page: it opens, with the link's view, once signed in
        st.caption(_("Sign in to open **{page}**.").format(page=page_title(target.title)))

    notice = st.session_state.get("sign_in_notice")
    if notice:
        st.info(ui.plain(notice), icon=":material/info:")

    refusal = st.session_state.get("sso_refusal")
    if refusal:
        st.error(ui.plain(refusal), icon=":material/block:")
        if st.user.get("is_logged_in"):
            if st.button(_("Sign out of single sign-on"), key="sso_logout", icon=":material/logout:"):
                st.logout()

    try:
        sso = ui.sso_config()
    except AccountError as exc:
        sso = None
        st.error(_("Single sign-on is misconfigured: {error}").format(error=ui.plain(exc)),
                 icon=":material/error:")

    if sso and sso.providers:
        for provider in sso.providers:
            if st.button(_("Sign in with {provider}").format(provider=provider.label), key=f"sso_{provider.name or 'default'}",
                         icon=":material/key:", type="primary"):
                st.session_state.pop("sso_suppressed", None)
                st.session_state.pop("sso_refusal", None)
                try:
                    st.login(provider.name)
                except StreamlitAuthError as exc:
                    st.error(_("Single sign-on is not set up correctly: {error}").format(
                        error=ui.plain(exc)), icon=":material/error:")
        st.caption(_("Or sign in with a local account:"))

    if accounts.count_users(store) == 0:
        st.warning(_("This store has no accounts yet. An operator creates the first "
                     "administrator with `python -m dashboard user add NAME --role admin` (the "
                     "password is asked for at the prompt)."), icon=":material/person_add:")

    with st.form("sign_in_form"):
        username = st.text_input(_("Username"), key="sign_in_username",
                                 autocomplete="username")
        password = st.text_input(_("Password"), type="password", key="sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(_("Sign in"), type="primary", icon=":material/login:")

    if submitted:
        try:
            actor = accounts.authenticate(store, username, password,
                                          address=ui.client_address())
        except AuthError as exc:
            # One message, one icon for every failure: nothing tells whether the account
            # exists, is paused or is disabled.
            st.error(ui.plain(exc), icon=":material/error:")
        else:
            user = accounts.get_user(store, actor.name) or {}
            ui.set_actor(actor, account={"method": "password", "username": actor.name,
                                         "display_name": user.get("display_name") or actor.name})
            ui.remember_sign_in(actor)   # the session cookie, then the page (or a rerun)

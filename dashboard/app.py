"""The app's navigation entry point, served by `server.py` (`make run`, i.e.
`streamlit run server.py`, which adds the streamed-download route).

It lives in dashboard/, not beside pages/: a folder named `pages` beside Streamlit's main
script puts the process in Streamlit's legacy multipage mode, where the first request to
`/<page>` would run `pages/<page>.py` directly, before the session checks below
(dashboard/navigation.py, APP_SCRIPT). Page files are named by absolute path
(`PageSpec.script`).

Navigation lists only the pages the signed-in user's role may open
(`dashboard/navigation.py`); each page re-checks on the server side.
"""
import streamlit as st

from dashboard import ui
from dashboard.navigation import PAGE_ICON, pages_for

st.set_page_config(page_title="Privacy compliance", page_icon=str(PAGE_ICON),
                   layout="wide")

# Idle timeout, account re-check and single sign-on, before any page runs.
actor = ui.enforce_session()

if actor is None:
    # The sign-in form, also at every page's address: a shared link survives sign-in.
    nav = ui.sign_in_navigation()
else:
    sections: dict[str, list] = {}
    for spec in pages_for(actor.role):
        sections.setdefault(spec.section, []).append(
            st.Page(spec.script, title=spec.title, icon=spec.icon, url_path=spec.key,
                    default=spec.default))
    nav = st.navigation(sections)
    ui.sidebar_account(actor)
    ui.refused_link(actor)   # signed in from a link to a page outside the role

ui.demo_banner()   # red, on every page, while a demo account (published password) is enabled
nav.run()

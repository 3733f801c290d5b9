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
import sys
from pathlib import Path

# Streamlit puts the main script's folder (dashboard/) first on sys.path, where its modules
# would shadow installed packages of the same name for every later import: Apprise's
# plugins, loaded on first use, would import dashboard/requests.py as `requests` and stop
# half-way (every channel address "unparseable"). The app imports its modules as
# dashboard.* from the repository root, so that folder comes off the path, and a module
# already imported from it under a bare name is forgotten.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]
for _name, _module in list(sys.modules.items()):
    _file = getattr(_module, "__file__", None)
    if _file and "." not in _name and not _name.startswith("_") and \
            Path(_file).name != "__init__.py" and Path(_file).resolve().parent == _HERE:
        del sys.modules[_name]        # e.g. "requests" from dashboard/requests.py, not "dashboard"

import streamlit as st  # noqa: E402

from dashboard import i18n, ui  # noqa: E402
from dashboard.navigation import PAGE_ICON, pages_for  # noqa: E402

# Idle timeout, account re-check and single sign-on, before any page runs.
actor = ui.enforce_session()
# The language of this run: the session's choice, the account's, the browser's, English.
i18n.set_locale(ui.session_locale(actor))
# (Streamlit 1.67 takes the page config at any point of the run: set here, in the language.)
st.set_page_config(page_title=i18n._("Privacy compliance"), page_icon=str(PAGE_ICON),
                   layout="wide")

if actor is None:
    # The sign-in form, also at every page's address: a shared link survives sign-in.
    nav = ui.sign_in_navigation()
else:
    sections: dict[str, list] = {}
    for spec in pages_for(actor.role):
        sections.setdefault(i18n._(spec.section), []).append(
            st.Page(spec.script, title=i18n.page_title(spec.title), icon=spec.icon, url_path=spec.key,
                    default=spec.default))
    nav = st.navigation(sections, expanded=True)   # every page listed (no "View more")
    ui.sidebar_account(actor)
    ui.refused_link(actor)   # signed in from a link to a page outside the role

ui.language_switcher(actor)   # 语言 / Language, in the sidebar on every page
ui.demo_banner()   # red, on every page, while a demo account (published password) is enabled
nav.run()

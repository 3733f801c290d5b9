"""The app's pages and who may open them.

``app.py`` passes ``st.navigation`` only the pages a role may see, and each page
calls ``ui.page_guard(<its key>)`` so that a page reached by URL outside the role
is refused on the server side too. Add a page here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .i18n import N_, NP_

# The repository: pages/ holds the page files, dashboard/app.py is the navigation entry
# point. The entry point does not sit beside pages/ (see APP_SCRIPT).
ROOT = Path(__file__).resolve().parent.parent
# Streamlit's navigation entry point, served by server.py. It lives in dashboard/, not
# beside pages/: Streamlit 1.67 puts a process in its legacy multipage mode when a folder
# named "pages" sits beside the main script (PagesManager.uses_pages_directory), and in
# that mode the first request to /<page> runs pages/<page>.py directly, before app.py's
# session checks and role filter. tests/test_navigation.py keeps it that way.
APP_SCRIPT = ROOT / "dashboard" / "app.py"
SIGN_IN_PAGE = "pages/sign_in.py"
# The browser tab's icon, a file served by the app itself: a ":material/...:" or emoji
# page icon makes Streamlit's frontend fetch the favicon from fonts.gstatic.com.
PAGE_ICON = ROOT / "dashboard" / "assets" / "icon.png"

ALL = frozenset({"dpo", "manager", "auditor", "admin"})


@dataclass(frozen=True)
class PageSpec:
    key: str            # also the URL path: /<key>
    path: str           # the page file, relative to the repository (pages/<key>.py)
    title: str          # English, marked N_: shown as i18n._(title)
    icon: str
    section: str        # English, marked N_: shown as i18n._(section)
    roles: frozenset[str]
    default: bool = False

    @property
    def script(self) -> str:
        """The page file's absolute path: what st.Page, st.page_link and st.switch_page
        take (a relative path would be read from dashboard/, the entry point's folder)."""
        return str(ROOT / self.path)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "pages/overview.py", N_("Overview"), ":material/dashboard:",
             N_("Compliance"), ALL, default=True),
    PageSpec("findings", "pages/findings.py", N_("Findings"), ":material/rule:",
             N_("Compliance"), ALL),
    PageSpec("processors", "pages/processors.py", N_("Processors"), ":material/handshake:",
             N_("Registers"), ALL),
    PageSpec("sharing", "pages/sharing.py", N_("Sharing agreements"), ":material/share:",
             N_("Registers"), ALL),
    PageSpec("processor", "pages/processor.py", N_("Processor"), ":material/badge:",
             N_("Registers"), ALL),
    PageSpec("agreement", "pages/agreement.py", N_("Sharing agreement"),
             ":material/contract:", N_("Registers"), ALL),
    PageSpec("retention", "pages/retention.py", N_("Retention"), ":material/inventory_2:",
             N_("Registers"), ALL),
    PageSpec("incidents", "pages/incidents.py", N_("Incidents"), ":material/emergency:",
             N_("Incidents"), ALL),
    PageSpec("log_incident", "pages/log_incident.py", N_("Log an incident"),
             ":material/add_alert:", N_("Incidents"), frozenset({"manager", "dpo"})),
    PageSpec("incident", "pages/incident.py", N_("Incident"), ":material/timeline:",
             N_("Incidents"), ALL),
    PageSpec("requests", "pages/requests.py", N_("Rights requests"),
             ":material/assignment_ind:", N_("Requests"), frozenset({"dpo", "manager", "auditor"})),
    PageSpec("request", "pages/request.py", N_("Rights request"), ":material/assignment:",
             N_("Requests"), frozenset({"dpo", "manager", "auditor"})),
    PageSpec("exports", "pages/exports.py", N_("Exports"), ":material/download:",
             N_("Evidence"), frozenset({"dpo", "auditor"})),
    PageSpec("audit_log", "pages/audit_log.py", N_("Audit log"), ":material/history:",
             N_("Evidence"), frozenset({"dpo", "auditor", "admin"})),
    PageSpec("import", "pages/import.py", N_("Import"), ":material/upload_file:",
             N_("Evidence"), frozenset({"dpo", "admin"})),
    PageSpec("policy", "pages/policy.py", N_("Policy"), ":material/policy:",
             N_("Reference"), ALL),
    PageSpec("settings", "pages/settings.py", N_("Settings"), ":material/tune:",
             N_("Reference"), ALL),
    PageSpec("users", "pages/users.py", N_("Users"), ":material/group:", N_("Administration"),
             frozenset({"admin"})),
)

PAGE_BY_KEY = {p.key: p for p in PAGES}

# Page titles whose Chinese differs from the same English word elsewhere (i18n.page_title):
# the page "Incident" (one incident's record) is 事件详情, an incident 安全事件.
_PAGE_MEANINGS = (NP_("page title", "Incident"), NP_("page title", "Rights request"))


def script(key: str) -> str:
    """The absolute path of page ``key``'s file, for ``st.page_link``/``st.switch_page``."""
    return PAGE_BY_KEY[key].script


def sign_in_script() -> str:
    """The absolute path of the sign-in form's page file."""
    return str(ROOT / SIGN_IN_PAGE)


def pages_for(role: str | None) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]

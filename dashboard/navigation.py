"""The app's pages and who may open them.

``app.py`` passes ``st.navigation`` only the pages a role may see, and each page
calls ``ui.page_guard(<its key>)`` so that a page reached by URL outside the role
is refused on the server side too. Add a page here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    title: str
    icon: str
    section: str
    roles: frozenset[str]
    default: bool = False

    @property
    def script(self) -> str:
        """The page file's absolute path: what st.Page, st.page_link and st.switch_page
        take (a relative path would be read from dashboard/, the entry point's folder)."""
        return str(ROOT / self.path)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "pages/overview.py", "Overview", ":material/dashboard:",
             "Compliance", ALL, default=True),
    PageSpec("findings", "pages/findings.py", "Findings", ":material/rule:",
             "Compliance", ALL),
    PageSpec("processors", "pages/processors.py", "Processors", ":material/handshake:",
             "Registers", ALL),
    PageSpec("sharing", "pages/sharing.py", "Sharing agreements", ":material/share:",
             "Registers", ALL),
    PageSpec("retention", "pages/retention.py", "Retention", ":material/inventory_2:",
             "Registers", ALL),
    PageSpec("incidents", "pages/incidents.py", "Incidents", ":material/emergency:",
             "Incidents", ALL),
    PageSpec("log_incident", "pages/log_incident.py", "Log an incident",
             ":material/add_alert:", "Incidents", frozenset({"manager", "dpo"})),
    PageSpec("incident", "pages/incident.py", "Incident", ":material/timeline:",
             "Incidents", ALL),
    PageSpec("requests", "pages/requests.py", "Rights requests", ":material/assignment_ind:",
             "Requests", frozenset({"dpo", "manager", "auditor"})),
    PageSpec("request", "pages/request.py", "Rights request", ":material/assignment:",
             "Requests", frozenset({"dpo", "manager", "auditor"})),
    PageSpec("exports", "pages/exports.py", "Exports", ":material/download:",
             "Evidence", frozenset({"dpo", "auditor"})),
    PageSpec("audit_log", "pages/audit_log.py", "Audit log", ":material/history:",
             "Evidence", frozenset({"dpo", "auditor", "admin"})),
    PageSpec("import", "pages/import.py", "Import", ":material/upload_file:",
             "Evidence", frozenset({"dpo", "admin"})),
    PageSpec("policy", "pages/policy.py", "Policy", ":material/policy:", "Reference", ALL),
    PageSpec("settings", "pages/settings.py", "Settings", ":material/tune:", "Reference", ALL),
    PageSpec("users", "pages/users.py", "Users", ":material/group:", "Administration",
             frozenset({"admin"})),
)

PAGE_BY_KEY = {p.key: p for p in PAGES}


def script(key: str) -> str:
    """The absolute path of page ``key``'s file, for ``st.page_link``/``st.switch_page``."""
    return PAGE_BY_KEY[key].script


def sign_in_script() -> str:
    """The absolute path of the sign-in form's page file."""
    return str(ROOT / SIGN_IN_PAGE)


def pages_for(role: str | None) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]

"""The app's pages and who may open them.

``app.py`` passes ``st.navigation`` only the pages a role may see, and each page
calls ``ui.page_guard(<its key>)`` so that a page reached by URL outside the role
is refused on the server side too. Add a page here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

ALL = frozenset({"dpo", "manager", "auditor", "admin"})


@dataclass(frozen=True)
class PageSpec:
    key: str            # also the URL path: /<key>
    path: str           # file under app_pages/
    title: str
    icon: str
    section: str
    roles: frozenset[str]
    default: bool = False


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "app_pages/overview.py", "Overview", ":material/dashboard:",
             "Compliance", ALL, default=True),
    PageSpec("findings", "app_pages/findings.py", "Findings", ":material/rule:",
             "Compliance", ALL),
    PageSpec("processors", "app_pages/processors.py", "Processors", ":material/handshake:",
             "Registers", ALL),
    PageSpec("sharing", "app_pages/sharing.py", "Sharing agreements", ":material/share:",
             "Registers", ALL),
    PageSpec("retention", "app_pages/retention.py", "Retention", ":material/inventory_2:",
             "Registers", ALL),
    PageSpec("incidents", "app_pages/incidents.py", "Incidents", ":material/emergency:",
             "Incidents", ALL),
    PageSpec("log_incident", "app_pages/log_incident.py", "Log an incident",
             ":material/add_alert:", "Incidents", frozenset({"manager", "dpo"})),
    PageSpec("incident", "app_pages/incident.py", "Incident", ":material/timeline:",
             "Incidents", ALL),
    PageSpec("exports", "app_pages/exports.py", "Exports", ":material/download:",
             "Evidence", frozenset({"dpo", "auditor"})),
    PageSpec("audit_log", "app_pages/audit_log.py", "Audit log", ":material/history:",
             "Evidence", frozenset({"dpo", "auditor", "admin"})),
    PageSpec("import", "app_pages/import.py", "Import", ":material/upload_file:",
             "Evidence", frozenset({"dpo", "admin"})),
    PageSpec("policy", "app_pages/policy.py", "Policy", ":material/policy:", "Reference", ALL),
    PageSpec("settings", "app_pages/settings.py", "Settings", ":material/tune:", "Reference", ALL),
    PageSpec("users", "app_pages/users.py", "Users", ":material/group:", "Administration",
             frozenset({"admin"})),
)

PAGE_BY_KEY = {p.key: p for p in PAGES}


def pages_for(role: str | None) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]

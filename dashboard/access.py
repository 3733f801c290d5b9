"""Who may do what. Checked by every service function that writes or exports.

The README's role matrix is generated from ``PERMISSIONS`` (``tests/test_access.py``
keeps the two in step), so the documentation cannot drift from the code.
"""
from __future__ import annotations

import getpass
from dataclasses import dataclass

ROLES = ("dpo", "manager", "auditor", "admin")
SYSTEM_ROLE = "system"   # the command line and scheduled jobs

ROLE_TITLES = {
    "dpo": "Data protection officer",
    "manager": "Manager",
    "auditor": "Auditor",
    "admin": "Administrator",
    "system": "System (command line)",
}

# action -> roles allowed. "system" is the command line acting on the operator's behalf.
PERMISSIONS: dict[str, frozenset[str]] = {
    "incident.log": frozenset({"manager", "dpo", "system"}),
    "incident.update": frozenset({"manager", "dpo", "system"}),
    "register.import": frozenset({"dpo", "admin", "system"}),
    "register.edit": frozenset({"dpo", "system"}),
    "finding.acknowledge": frozenset({"dpo", "system"}),
    "check.snapshot": frozenset({"dpo", "system"}),
    "export.download": frozenset({"dpo", "auditor", "system"}),
    "audit.read": frozenset({"dpo", "auditor", "admin", "system"}),
    "user.manage": frozenset({"admin", "system"}),
    "settings.manage": frozenset({"admin", "system"}),
    "store.admin": frozenset({"admin", "system"}),
}

ACTION_TITLES = {
    "incident.log": "Log an incident",
    "incident.update": "Record incident steps",
    "register.import": "Import a register file",
    "register.edit": "Edit register records",
    "finding.acknowledge": "Acknowledge findings (remediation plan)",
    "check.snapshot": "Store a compliance snapshot",
    "export.download": "Download exports and audit packs",
    "audit.read": "Read the audit log",
    "user.manage": "Manage user accounts",
    "settings.manage": "Change settings",
    "store.admin": "Initialise, migrate and seed the store",
}


class PermissionDenied(PermissionError):
    """The acting user's role does not allow the action. Nothing was written."""


@dataclass(frozen=True)
class Actor:
    name: str
    role: str

    def may(self, action: str) -> bool:
        return self.role in PERMISSIONS.get(action, frozenset())

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"


def require(actor: Actor | None, action: str) -> Actor:
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")
    if actor is None:
        raise PermissionDenied(f"{ACTION_TITLES[action]}: you must be signed in.")
    if not actor.may(action):
        allowed = ", ".join(sorted(PERMISSIONS[action] - {SYSTEM_ROLE}))
        raise PermissionDenied(
            f"{ACTION_TITLES[action]} is not allowed for {actor.name}, whose role is "
            f"{actor.role}; it needs one of: {allowed}."
        )
    return actor


def cli_actor() -> Actor:
    """The named system user the command line acts as: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "unknown"
    return Actor(f"cli:{user}", SYSTEM_ROLE)

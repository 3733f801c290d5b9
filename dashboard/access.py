"""Who may do what. Checked by every service function that writes or exports.

The README's role matrix is generated from ``PERMISSIONS`` (``tests/test_access.py``
keeps the two in step), so the documentation cannot drift from the code.
"""
from __future__ import annotations

import getpass
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from .i18n import N_, _, is_chinese, label

ROLES = ("dpo", "manager", "auditor", "admin")
SYSTEM_ROLE = "system"   # the command line and scheduled jobs
AUTH_ROLE = "auth"       # the sign-in service: records sign-in attempts, nothing else

# English, marked N_ (the docs' role matrix stays English): shown as _(ROLE_TITLES[r])
# or i18n.label("role", r).
ROLE_TITLES = {
    "dpo": N_("Data protection officer"),
    "manager": N_("Manager"),
    "auditor": N_("Auditor"),
    "admin": N_("Administrator"),
    "system": N_("System (command line)"),
    "auth": N_("Sign-in service"),
}

# action -> roles allowed. "system" is the command line acting on the operator's behalf.
PERMISSIONS: dict[str, frozenset[str]] = {
    "incident.log": frozenset({"manager", "dpo", "system"}),
    "incident.update": frozenset({"manager", "dpo", "system"}),
    # Issue 14: rights requests (policy 8, 10) are handled by DPOs and managers; auditors
    # read the register on the Requests page and download it (export.download).
    "request.log": frozenset({"manager", "dpo", "system"}),
    "request.update": frozenset({"manager", "dpo", "system"}),
    # Issue 7: the Import page is for DPOs and admins (admins load registers for the DPO).
    "register.import": frozenset({"dpo", "admin", "system"}),
    # Issue 18: DPOs keep the processors and sharing-agreements registers in the app
    # (add, edit, offboard a processor, end an agreement), and set, review and lift legal
    # holds on retention records.
    "register.edit": frozenset({"dpo", "system"}),
    "retention.hold": frozenset({"dpo", "system"}),
    # Issue 18: evidence files. Attaching or withdrawing one also needs the right to change
    # the record it belongs to (a manager attaches to incidents and rights requests, a DPO
    # to any record); reading follows the record's page.
    "evidence.attach": frozenset({"dpo", "manager", "system"}),
    "finding.acknowledge": frozenset({"dpo", "system"}),
    "check.snapshot": frozenset({"dpo", "system"}),
    "export.download": frozenset({"dpo", "auditor", "system"}),
    "audit.read": frozenset({"dpo", "auditor", "admin", "system"}),
    "user.manage": frozenset({"admin", "system"}),
    "settings.manage": frozenset({"dpo", "admin", "system"}),
    "store.admin": frozenset({"admin", "system"}),
    # Issue 16: the REST API. Reading the check's summary and findings is open to every
    # role (every role sees the Overview and Findings pages); admins create and revoke
    # the API tokens; every call a token makes is audited (api.use: any role's token).
    "check.read": frozenset({"dpo", "manager", "auditor", "admin", "system"}),
    "token.manage": frozenset({"admin", "system"}),
    "api.use": frozenset({"dpo", "manager", "auditor", "admin", "system"}),
    # Issue 16: reminders are queued in the outbox and delivered by the scheduler (the
    # system role); a DPO may run a scan or a delivery by hand.
    "notify.queue": frozenset({"dpo", "system"}),
    # Everyone reads their own notifications (the bell); marking them read is recorded.
    "notification.read": frozenset({"dpo", "manager", "auditor", "admin", "system"}),
    # Issue 17: each user's own preferences (the language), remembered on the account.
    "account.preference": frozenset({"dpo", "manager", "auditor", "admin", "system"}),
    # Internal: the sign-in service records each attempt (counts, lockout, last
    # sign-in) on the users row; no user holds this role.
    "account.sign_in": frozenset({AUTH_ROLE}),
}

ACTION_TITLES = {
    "incident.log": N_("Log an incident"),
    "incident.update": N_("Record incident steps"),
    "request.log": N_("Log a rights request"),
    "request.update": N_("Record rights-request steps"),
    "register.import": N_("Import a register file"),
    "register.edit": N_("Edit register records"),
    "retention.hold": N_("Set, review and lift legal holds on retention records"),
    "evidence.attach": N_("Attach and withdraw evidence files"),
    "finding.acknowledge": N_("Acknowledge findings (remediation plan)"),
    "check.snapshot": N_("Store a compliance snapshot"),
    "export.download": N_("Download exports and audit packs"),
    "audit.read": N_("Read the audit log"),
    "user.manage": N_("Manage user accounts"),
    "settings.manage": N_("Change settings"),
    "store.admin": N_("Initialise, migrate and seed the store"),
    "check.read": N_("Read the check's scores and findings"),
    "token.manage": N_("Create and revoke API tokens"),
    "api.use": N_("Call the REST API with a token (each call audited)"),
    "notify.queue": N_("Queue and deliver reminders (the scheduler)"),
    "notification.read": N_("Read one's notifications (the bell)"),
    "account.preference": N_("Change one's own preferences (language)"),
    "account.sign_in": N_("Record a sign-in attempt"),
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
        raise PermissionDenied(_("{action}: you must be signed in.").format(
            action=_(ACTION_TITLES[action])))
    if not actor.may(action):
        # the command line (English) names the role codes; the app, the roles' words
        allowed_roles = sorted(PERMISSIONS[action] - {SYSTEM_ROLE})
        chinese = is_chinese()
        allowed = ("、" if chinese else ", ").join(
            label("role", r) if chinese else r for r in allowed_roles)
        raise PermissionDenied(
            _("{action} is not allowed for {name}, whose role is {role}; it needs one of: "
              "{allowed}.").format(action=_(ACTION_TITLES[action]), name=actor.name,
                                   role=label("role", actor.role) if chinese else actor.role,
                                   allowed=allowed)
        )
    return actor


# A command run for an API caller (``python -m dashboard --server URL ...``, see
# dashboard/api.py) acts as the caller's token, not as the server's operating-system user.
_ACTING: ContextVar[Actor | None] = ContextVar("acting_actor", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Within the block (this thread or task), ``cli_actor()`` is ``actor``."""
    token = _ACTING.set(actor)
    try:
        yield actor
    finally:
        _ACTING.reset(token)


def cli_actor() -> Actor:
    """The named system user the command line acts as: ``cli:<os user>`` (or, for a
    command an API caller runs on the server, the caller's token: ``acting_as``)."""
    acting = _ACTING.get()
    if acting is not None:
        return acting
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "unknown"
    return Actor(f"cli:{user}", SYSTEM_ROLE)


def role_matrix_markdown() -> str:
    """The role matrix as a Markdown table, rendered from ``PERMISSIONS``.

    docs/ACCESS.md (and the README) carry exactly this text; tests/test_access.py
    fails when they drift from the code.
    """
    columns = [*ROLES, SYSTEM_ROLE]
    head = ["Action", *(f"`{r}`" for r in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    internal = []
    for action, roles in PERMISSIONS.items():
        if not roles & set(columns):
            internal.append((action, roles))
            continue
        cells = ["yes" if r in roles else "—" for r in columns]
        lines.append(f"| {ACTION_TITLES[action]} (`{action}`) | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n\n" + "; ".join(
        f"`{r}`: {ROLE_TITLES[r]}" for r in columns) + ".\n"
    for action, roles in internal:
        holders = ", ".join(f"{ROLE_TITLES.get(r, r)} (`{r}`)" for r in sorted(roles))
        text += (f"\n{ACTION_TITLES[action]} (`{action}`) is done only by the {holders}, "
                 "a role no user account can hold.\n")
    return text

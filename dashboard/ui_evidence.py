"""A record's "Evidence files" section (issue 18): the files attached to a processor, a sharing
agreement, an incident, a rights request or a finding (``dashboard/evidence.py``), each with
its download, and the forms to attach one and to withdraw one, for the roles that may.

Self-contained: a page calls ``render(actor, entity_type, entity_id)`` below its own
sections (widget keys are derived from the record, so two records' sections never share
state). The page guards who opens it; reading a file is checked again when it is served.
"""
from __future__ import annotations

import hashlib
import math
from functools import partial

import streamlit as st

from . import evidence as ev
from . import evidence_types as et
from . import i18n, ui
from .access import Actor, PermissionDenied
from .i18n import _

# What the upload widget offers (the content is checked whatever the name says).
UPLOAD_TYPES = sorted({ext.lstrip(".") for t in et.TYPES.values() for ext in t.extensions})


def _prefix(entity_type: str, entity_id: str) -> str:
    digest = hashlib.sha256(f"{entity_type}|{entity_id}".encode()).hexdigest()[:10]
    return f"evidence_{entity_type}_{digest}_"


def _type_label(media_type: str) -> str:
    kind = et.BY_MEDIA_TYPE.get(media_type)
    return _(kind.label) if kind else media_type


def _who(name: str, role: str | None) -> str:
    who = i18n.actor_label(name)
    return _("{name} ({role})").format(name=who, role=i18n.label("role", role)) if role else who


def _size(n: int) -> str:
    if n >= 1 << 20:
        return _("{n} MB").format(n=i18n.fmt_number(n / (1 << 20), decimals=1))
    if n >= 1 << 10:
        return _("{n} KB").format(n=i18n.fmt_number(n / (1 << 10), decimals=1))
    return _("{n} bytes").format(n=i18n.fmt_number(n))


def _attach(actor: Actor, entity_type: str, entity_id: str, prefix: str) -> None:
    """The upload form's submit: attach the file, or keep each error for its field."""
    state = st.session_state
    n = state.get(prefix + "form", 0)
    upload = state.get(f"{prefix}file_{n}")
    description = state.get(f"{prefix}description_{n}", "")
    if upload is None:
        state[prefix + "errors"] = {"file": _("Choose a file to attach.")}
        return
    try:
        row = ev.attach(ui.get_store(), actor, entity_type, entity_id, upload.name,
                        upload.getvalue(), description)
    except ev.EvidenceError as exc:
        state[prefix + "errors"] = exc.errors
    except PermissionDenied as exc:
        state[prefix + "errors"] = {"record": str(exc)}
    else:
        state.pop(prefix + "errors", None)
        state[prefix + "form"] = n + 1          # new widget keys: an empty form
        state[prefix + "flash"] = _("Attached **{name}** (SHA-256 `{sha}`).").format(
            name=ui.plain(row["file_name"]), sha=row["sha256"])


def _withdraw(actor: Actor, event_id: int, prefix: str) -> None:
    state = st.session_state
    reason = state.get(f"{prefix}reason_{event_id}", "")
    try:
        row = ev.withdraw(ui.get_store(), actor, event_id, reason)
    except (ev.EvidenceError, PermissionDenied) as exc:
        errors = getattr(exc, "errors", None) or {"reason": str(exc)}
        state[f"{prefix}withdraw_errors_{event_id}"] = errors
    else:
        state.pop(f"{prefix}withdraw_errors_{event_id}", None)
        state[prefix + "flash"] = _("Withdrew **{name}**: it stays on record, marked "
                                    "withdrawn.").format(name=ui.plain(row["file_name"]))


def render(actor: Actor, entity_type: str, entity_id: str, *, heading: bool = True) -> None:
    """The Evidence files section of one record (``heading=False``: without its subheader,
    in a tab that already says "Evidence files")."""
    store = ui.get_store()
    state = st.session_state
    entity_id = str(entity_id)
    prefix = _prefix(entity_type, entity_id)
    may_attach = ev.may_attach(actor, entity_type)
    if heading:
        st.subheader(_("Evidence files"), anchor=False)
    st.caption(_("Files kept with this record: PDF documents, images, Word and Excel files, "
                 "checked by their content. Each is stored once by its SHA-256 and never "
                 "changed or deleted; a withdrawn file stays on record, marked withdrawn. "
                 "Audit packs that cover the record include them."))
    flash = state.pop(prefix + "flash", None)
    if flash:
        st.success(flash, icon=":material/check_circle:")

    rows = ui.cached(ev.list_for, entity_type=entity_type, entity_id=entity_id)
    if not rows:
        st.info(_("No evidence file is attached to this record."), icon=":material/info:")
    for row in rows:
        _file(store, actor, row, prefix, may_attach)

    if not may_attach:
        return
    errors = state.get(prefix + "errors") or {}
    n = state.get(prefix + "form", 0)
    ui.field_error(errors, "record")
    with st.form(f"{prefix}form_{n}", border=True):
        st.markdown("**" + _("Attach a file") + "**")
        st.file_uploader(
            _("File"), type=UPLOAD_TYPES, key=f"{prefix}file_{n}",
            # The widget states the setting's limit (not the server's 200 MB for imports)
            # and refuses a larger file before it is sent; attach() checks it again.
            max_upload_size=max(1, math.ceil(store.settings.evidence_max_mb)),
            help=_("PDF, PNG, JPEG, GIF, WebP, TIFF, Word (.docx) or Excel (.xlsx), at most "
                   "{mb} MB. Programs, archives, web pages and files with macros are "
                   "refused.").format(mb=store.settings.evidence_max_mb))
        ui.field_error(errors, "file")
        st.text_area(_("Description (optional)"), key=f"{prefix}description_{n}",
                     max_chars=ev.MAX_DESCRIPTION,
                     placeholder=_("What the file shows, e.g. the signed agreement."))
        ui.field_error(errors, "description")
        st.form_submit_button(_("Attach"), type="primary", icon=":material/attach_file:",
                              key=f"{prefix}attach_{n}",
                              on_click=_attach, args=(actor, entity_type, entity_id, prefix))


def _file(store, actor: Actor, row: dict, prefix: str, may_attach: bool) -> None:
    event_id = int(row["event_id"])
    with st.container(border=True, key=f"{prefix}event_{event_id}"):
        info, action = st.columns([4, 1])
        info.text(row["file_name"])                    # as uploaded: plain text
        info.caption(_("{kind} · {size} · attached by {who} on {at}").format(
            kind=ui.plain(_type_label(row["media_type"])), size=_size(int(row["size"])),
            who=ui.plain(_who(row["actor"], row["role"])),
            at=i18n.fmt_datetime(row["at"])))
        info.caption(_("SHA-256: `{sha}` · audit entry #{seq}").format(
            sha=row["sha256"], seq=row["audit_seq"]))
        if row["description"]:
            info.text(row["description"])
        if row["withdrawn"]:
            info.warning(_("Withdrawn on {at} by {who}: {reason}").format(
                at=i18n.fmt_datetime(row["withdrawn_at"]),
                who=ui.plain(_who(row["withdrawn_by"], row["withdrawn_role"])),
                reason=ui.plain(row["withdraw_reason"])), icon=":material/block:")
        action.download_button(          # the bytes are read when clicked, not per run
            _("Download"), data=partial(ev.content, store, actor, event_id),
            on_click="ignore", file_name=row["file_name"], mime=row["media_type"],
            key=f"{prefix}download_{event_id}", icon=":material/download:")
        if may_attach and not row["withdrawn"]:
            errors = st.session_state.get(f"{prefix}withdraw_errors_{event_id}") or {}
            with info.expander(_("Withdraw this file"), expanded=bool(errors)):
                ui.field_error(errors, "event")
                st.text_input(_("Reason"), key=f"{prefix}reason_{event_id}",
                              max_chars=ev.MAX_REASON,
                              placeholder=_("Why the file no longer counts as evidence"))
                ui.field_error(errors, "reason")
                st.button(_("Withdraw"), key=f"{prefix}withdraw_{event_id}",
                          icon=":material/block:", on_click=_withdraw,
                          args=(actor, event_id, prefix))

"""The incident page's "Documents" section (issue 17): generate the reports and notices of
``dashboard/documents.py`` (managers and DPOs) and download the ones generated (every role).

``pages/incident.py`` calls ``render(actor, incident_id)``.
"""
from __future__ import annotations

from functools import partial

import streamlit as st

from . import documents as docs
from . import i18n, ui
from .access import Actor, PermissionDenied
from .i18n import _


def _default_locale() -> str:
    return "zh_CN" if i18n.is_chinese() else "en"


def render(actor: Actor, incident_id: str) -> None:
    """The Documents section of one incident."""
    store = ui.get_store()
    state = st.session_state
    st.subheader(_("Documents"), anchor=False)
    st.caption(_("Reports and notices written from this incident's record, in Chinese or "
                 "in English, as Word files. Facts the register does not hold are marked "
                 "**to be completed**; nothing is made up. Each generation is stored and "
                 "recorded in the audit log with its SHA-256."))

    if actor.may(docs.PERMISSION):
        left, right = st.columns([3, 1])
        kind = left.selectbox(_("Document"), docs.KINDS, format_func=i18n.in_locale(docs.kind_label),
                              key="doc_kind")
        languages = list(docs.LOCALES)
        locale = right.radio(_("Language"), languages,
                             index=languages.index(_default_locale()),
                             format_func=i18n.in_locale(docs.locale_label), key="doc_locale", horizontal=True)
        st.caption(_(docs.KIND_HELP[kind]))
        if st.button(_("Generate"), key="doc_generate", type="primary",
                     icon=":material/description:"):
            try:
                doc = docs.generate(store, actor, incident_id, kind, locale=locale)
            except (PermissionDenied, docs.DocumentError) as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                state["doc_generated"] = {"incident_id": incident_id, "doc_id": doc.doc_id,
                                          "missing": [i.heading for i in doc.missing_items]}
        generated = state.get("doc_generated")
        if generated and generated.get("incident_id") == incident_id:
            _generated_notice(store, generated)

    rows = docs.list_documents(store, incident_id)
    st.markdown("**" + _("Documents generated") + "**")
    if not rows:
        st.info(_("No document has been generated for this incident yet."),
                icon=":material/info:")
        return
    for row in rows:
        with st.container(border=True):
            info, action = st.columns([4, 1])
            info.markdown("**{kind}** · {language}".format(
                kind=ui.plain(docs.kind_label(row["kind"])),
                language=ui.plain(docs.locale_label(row["locale"]))))
            info.caption(_("Generated {at} by {who} · {size} bytes").format(
                at=i18n.fmt_datetime(row["generated_at"]),
                who=ui.plain(_actor(row["generated_by"], row["generated_role"])),
                size=i18n.fmt_number(row["size"])))
            info.caption(_("SHA-256: `{sha}` · audit entry #{seq}").format(
                sha=row["sha256"], seq=row["audit_seq"]))
            if row["missing"]:
                info.caption(_("To be completed: {items}").format(
                    items=ui.plain(_headings(row))))
            action.download_button(       # the bytes are read when clicked, not per run
                _("Download"), data=partial(docs.document_bytes, store, row["doc_id"]),
                on_click="ignore",
                file_name=row["file_name"], mime=docs.DOCX_MIME,
                key=f"doc_download_{row['doc_id']}", icon=":material/download:")


def _actor(name: str, role: str | None) -> str:
    who = i18n.actor_label(name)
    return _("{name} ({role})").format(name=who, role=i18n.label("role", role)) if role else who


def _headings(row: dict) -> str:
    """The headings of the items still to be completed, in the page's language."""
    locale = "zh_CN" if i18n.is_chinese() else "en"
    words = [docs.text(f"item.{m['item']}", locale) for m in row["missing"]
             if f"item.{m['item']}" in docs.TEXTS]
    return ("、" if i18n.is_chinese() else "; ").join(words)


def _generated_notice(store, generated: dict) -> None:
    rows = [r for r in docs.list_documents(store, generated["incident_id"])
            if r["doc_id"] == generated["doc_id"]]
    if not rows:
        return
    row = rows[0]
    missing = generated.get("missing") or []
    if missing:
        st.warning(i18n.ngettext(
            "Generated **{name}**. {n} item is not recorded and is marked to be completed: "
            "{items}.",
            "Generated **{name}**. {n} items are not recorded and are marked to be completed: "
            "{items}.", len(missing)).format(name=ui.plain(row["file_name"]), n=len(missing),
                                             items=ui.plain(_headings(row))),
            icon=":material/edit_note:")
    else:
        st.success(_("Generated **{name}**: every item is recorded.").format(
            name=ui.plain(row["file_name"])), icon=":material/check_circle:")
    st.download_button(_("Download the new document"),
                       data=docs.document_bytes(store, row["doc_id"]),
                       file_name=row["file_name"], mime=docs.DOCX_MIME,
                       key=f"doc_new_download_{row['doc_id']}", icon=":material/download:")

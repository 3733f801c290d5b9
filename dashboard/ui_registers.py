"""Streamlit glue for the register forms (issue 18): the record pages ``processor`` and
``agreement`` (fields, edit form, offboard / end, history) and, on the register pages, the
"add a record" form and the "open a record" picker. Every write goes through
``dashboard.register_edit``; each field's error shows under the field."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from . import navigation as nav
from . import register_edit as E
from . import registers as R
from . import ui, ui_evidence
from .access import PermissionDenied
from .i18n import _, actor_label, fmt_datetime, in_locale, label, page_title
from .reference import category_label

# Per register: the record page, the register page, the column naming a record.
PAGES = {"processors": ("processor", "processors", "name"),
         "sharing_agreements": ("agreement", "sharing", "counterparty")}
DATE_MIN, DATE_MAX = dt.date(1990, 1, 1), dt.date(2100, 12, 31)
state = st.session_state


# -- one record's fields as widgets -----------------------------------------------------------
def _choice_words(table: str, col: R.Column):
    kind = R.LABEL_KINDS.get(table, {}).get(col.name)

    def words(code: Any) -> str:
        if code is None:
            return _("— none —")
        if col.type == R.BOOLEAN:
            return _("yes") if code else _("no")
        return category_label(code) if kind == "category" else label(kind, code)
    return in_locale(words)


def _widget(table: str, col: R.Column, value: Any, key: str) -> None:
    """The input for one column, starting from ``value`` (the record's, or empty)."""
    title = _(col.heading) + (" *" if col.required else "")
    help_text = _(col.help) if col.help else None
    if col.type == R.ENUM or col.type == R.BOOLEAN:
        options = list(col.choices) if col.type == R.ENUM else [True, False]
        if col.categories:
            options = E.category_codes()
        if not col.required:
            options = [None, *options]
        index = options.index(value) if value in options else (None if col.required else 0)
        st.selectbox(title, options, index=index, key=key, help=help_text,
                     format_func=_choice_words(table, col), placeholder=_("Choose"))
    elif col.type == R.LIST:
        options = E.category_codes() if col.categories else list(col.choices)
        chosen = [v for v in (value or []) if v in options]
        st.multiselect(title, options, default=chosen, key=key, help=help_text,
                       format_func=_choice_words(table, col), placeholder=_("None"))
    elif col.type == R.DATE:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        with left:
            st.date_input(title, value=value, key=key, format="YYYY-MM-DD", help=help_text,
                          min_value=min(DATE_MIN, value or DATE_MIN),   # any stored date
                          max_value=max(DATE_MAX, value or DATE_MAX))
        with right:
            st.checkbox(_("No date"), key=key + "__none", value=False,
                        help=_("Tick to clear the date (the record then has none)."))
    else:           # text, region, whole number: typed, checked as an import checks them
        st.text_input(title, value="" if value is None else str(value), key=key,
                      help=help_text)


def _read(col: R.Column, key: str) -> Any:
    value = state.get(key)
    if col.type == R.DATE and state.get(key + "__none"):
        return None
    if col.type == R.REGION and isinstance(value, str):
        return value.strip()
    return value


def _unchanged(old: Any, new: Any) -> bool:
    """The input still shows the stored value (so it is not sent: an unchanged text is
    never re-read, e.g. stripped of a leading quote, by the checks)."""
    if old is None:
        return new in (None, "", [])
    if isinstance(old, (list, tuple)):
        return list(old) == list(new or [])
    return old == new or (isinstance(new, str) and str(old) == new)


def _fields(table: str, columns, values: dict, prefix: str, errors: dict) -> None:
    """Two columns of inputs, each with its error under it."""
    cols = st.columns(2)
    for i, col in enumerate(columns):
        with cols[i % 2], st.container(key=f"{prefix}field_{col.name}"):
            _widget(table, col, values.get(col.name), prefix + col.name)
            ui.field_error(errors, col.name)


def _noun(table: str) -> str:
    return _("processor") if table == "processors" else _("sharing agreement")


# -- the register pages: add a record, open a record -----------------------------------------
def register_tools(table: str, actor) -> None:
    """Under a register page's title: a picker opening a record's page, and (DPO) the form
    adding a record."""
    record_page, _register_page, _name = PAGES[table]
    spec = nav.PAGE_BY_KEY[record_page]
    choices = ui.cached(E.record_choices, table=table)
    names = dict(choices)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        picked = st.selectbox(
            _("Open a record"), list(names), index=None, key=f"open_{record_page}",
            format_func=lambda k: f"{k} — {names.get(k, '')}",
            placeholder=_("Choose an ID"))
        if picked:
            st.page_link(spec.script, label=_("Open {id}").format(id=ui.plain(picked)),
                         icon=spec.icon, query_params={"id": picked})
    if actor.may(E.PERMISSION):
        add_form(table)


def add_form(table: str) -> None:
    reg = E.register_of(table)
    record_page, register_page, _name = PAGES[table]
    prefix = f"add_{table}_{state.get(f'add_{table}_gen', 0)}_"
    title = (_("Add a processor") if table == "processors" else _("Add a sharing agreement"))
    done = state.pop(f"add_{table}_done", None)
    if done:
        st.success(_("Added **{id}**.").format(id=ui.plain(done)), icon=":material/check_circle:")
        st.page_link(nav.script(record_page), label=_("Open {id}").format(id=ui.plain(done)),
                     icon=nav.PAGE_BY_KEY[record_page].icon, query_params={"id": done})
    errors = state.get(prefix + "errors", {})

    def save() -> None:
        values = {c.name: _read(c, prefix + c.name) for c in reg.columns}
        key = _attempt(register_page, prefix,
                       lambda store, acting: E.add_record(store, acting, table, values))
        if key is not _FAILED:
            state[f"add_{table}_gen"] = state.get(f"add_{table}_gen", 0) + 1
            state[f"add_{table}_done"] = key

    _form(title, ":material/add:", prefix, errors, save, title,
          lambda: _fields(table, reg.columns, {}, prefix, errors),
          _("Checked exactly as an imported file is (docs/REGISTERS.md); fields "
            "marked * are required."))


_FAILED = object()


def _attempt(page: str, prefix: str, write):
    """Run ``write(store, actor)`` in a form's callback as the session's actor: its errors
    go to the form (by field), and ``_FAILED`` comes back; else its result."""
    acting = ui.callback_actor(page)
    if acting is None:
        return _FAILED
    try:
        result = write(ui.get_store(), acting)
    except E.RegisterInputError as exc:
        state[prefix + "errors"] = exc.errors
        return _FAILED
    except PermissionDenied as exc:
        state[prefix + "errors"] = {E.RECORD: str(exc)}
        return _FAILED
    state[prefix + "errors"] = {}
    return result


def _form(title: str, icon: str, prefix: str, errors: dict, on_submit, submit: str,
          body, caption: str | None = None, below: tuple[str, ...] = (E.RECORD,)) -> None:
    """An expander holding a form: its inputs (``body``), the record-level error, the
    submit button, and "nothing was saved" while any field is wrong. ``below``: the errors
    shown above the button (those of no input in ``body``)."""
    with st.expander(title, icon=icon, expanded=bool(errors)):
        if caption:
            st.caption(caption)
        with st.form(prefix + "form", enter_to_submit=False, border=False):
            body()
            for name in below:
                ui.field_error(errors, name)
            st.form_submit_button(submit, type="primary", icon=icon, on_click=on_submit,
                                  key=prefix + "submit")
        if errors:
            st.error(_("Nothing was saved: correct the fields marked above."),
                     icon=":material/error:")


# -- a record's page -------------------------------------------------------------------------
def record_page(table: str, actor) -> None:
    """The whole page of one record (``?id=``); with no id, a picker."""
    reg = E.register_of(table)
    record_page_key, register_page, name_col = PAGES[table]
    spec = nav.PAGE_BY_KEY[record_page_key]
    register_spec = nav.PAGE_BY_KEY[register_page]
    key = st.query_params.get("id")
    if not key:
        st.title(page_title(spec.title), anchor=False)
        choices = ui.cached(E.record_choices, table=table)
        if not choices:
            st.info(_("The register is empty."), icon=":material/info:")
        else:
            names = dict(choices)
            picked = st.selectbox(_("Open a record"), list(names), index=None,
                                  key=f"{record_page_key}_pick",
                                  format_func=lambda k: f"{k} — {names[k]}",
                                  placeholder=_("Choose an ID"))
            if picked:
                st.query_params["id"] = picked
                st.rerun()
        st.page_link(register_spec.script, label=page_title(register_spec.title),
                     icon=register_spec.icon)
        return
    record = ui.cached(E.get_record, table=table, key=key)
    if record is None:
        st.title(page_title(spec.title), anchor=False)
        st.error(_("No {noun} **{id}**.").format(noun=_noun(table), id=ui.plain(key)),
                 icon=":material/search_off:")
        st.page_link(register_spec.script, label=page_title(register_spec.title),
                     icon=register_spec.icon)
        return
    kind = R.LABEL_KINDS[table]["status"]
    st.title(f"{ui.plain(key)} · {ui.plain(record[name_col])}", anchor=False)
    st.markdown(f":blue-badge[{label(kind, record['status'])}] "
                f":gray-badge[{label(R.LABEL_KINDS[table]['kind'], record['kind'])}]")
    with st.container(horizontal=True):
        st.page_link(register_spec.script, label=page_title(register_spec.title),
                     icon=register_spec.icon)
        if table == "sharing_agreements" and record["processor_id"]:
            st.page_link(nav.script("processor"), icon=nav.PAGE_BY_KEY["processor"].icon,
                         label=_("Processor {id}").format(id=ui.plain(record["processor_id"])),
                         query_params={"id": record["processor_id"]})
    flash = state.pop(f"{record_page_key}_flash", None)
    if flash:
        st.success(ui.plain(flash), icon=":material/check_circle:")

    st.subheader(_("Record"), anchor=False)
    shown = pd.DataFrame({
        "field": [_(c.heading) for c in reg.columns],
        "value": [E.value_words(table, c.name, record[c.name]) for c in reg.columns]})
    st.dataframe(shown, hide_index=True, column_config={
        "field": st.column_config.TextColumn(_("Field")),
        "value": st.column_config.TextColumn(_("Value"), width="large")})

    if actor.may(E.PERMISSION):
        _edit_form(table, key, record)
        _action_form(table, key, record)
    else:
        st.caption(_("Only a data protection officer can change this record."))

    ui_evidence.render(actor, E.ENTITY_TYPES[table], key)

    st.subheader(_("History"), anchor=False)
    _history(table, key)


def _gen(page: str, key: str) -> str:
    return f"{page}_{key}_{state.get(f'{page}_gen', 0)}_"


def _saved(page: str, message: str) -> None:
    state[f"{page}_gen"] = state.get(f"{page}_gen", 0) + 1
    state[f"{page}_flash"] = message


def _edit_form(table: str, key: str, record: dict) -> None:
    reg = E.register_of(table)
    page = PAGES[table][0]
    prefix = _gen(page, key) + "edit_"
    errors = state.get(prefix + "errors", {})
    columns = [c for c in reg.columns if c.name != reg.key]

    def save() -> None:
        changes = {c.name: _read(c, prefix + c.name) for c in columns}
        changes = {n: v for n, v in changes.items() if not _unchanged(record[n], v)}
        changed = _attempt(page, prefix, lambda store, acting: E.edit_record(
            store, acting, table, key, changes))
        if changed is _FAILED:
            return
        if not changed:
            state[f"{page}_flash"] = _("Nothing changed: nothing was saved.")
            return
        _saved(page, _("Saved: {fields}.").format(
            fields=", ".join(E.field_heading(table, n) for n in changed)))

    _form(_("Edit"), ":material/edit:", prefix, errors, save, _("Save changes"),
          lambda: _fields(table, columns, record, prefix, errors))


def _action_form(table: str, key: str, record: dict) -> None:
    """Offboard a processor / end an agreement, with a confirmation."""
    page = PAGES[table][0]
    prefix = _gen(page, key) + "act_"
    errors = state.get(prefix + "errors", {})
    store = ui.get_store()
    today = store.now().date()
    if table == "processors":
        if record["status"] == "offboarded":
            return
        title = _("Offboard this processor")
        dates = [("offboarded_on", _("Offboarded on"), today),
                 ("data_returned_on", _("Data returned or deleted on (if confirmed)"), None)]
        confirm_text = _("I confirm: {id} no longer processes data for us.").format(
            id=ui.plain(key))
    else:
        if record["status"] == "ended":
            return
        title = _("End this agreement")
        dates = [("ended_on", _("Ended on"), today)]
        confirm_text = _("I confirm: no more data goes to {id}'s counterparty under it."
                         ).format(id=ui.plain(key))

    def write(store, acting):
        if not state.get(prefix + "confirm"):
            raise E.RegisterInputError({"confirm": _("Tick the confirmation first.")})
        values = {name: state.get(prefix + name) for name, *_rest in dates}
        if table == "processors":
            return E.offboard_processor(store, acting, key, values["offboarded_on"],
                                        values["data_returned_on"])
        return E.end_agreement(store, acting, key, values["ended_on"])

    def act() -> None:
        if _attempt(page, prefix, write) is not _FAILED:
            _saved(page, _("Offboarded.") if table == "processors" else _("Ended."))

    def body() -> None:
        for name, words, default in dates:
            with st.container(key=f"{prefix}field_{name}"):
                st.date_input(words, value=default, min_value=DATE_MIN, max_value=today,
                              key=prefix + name, format="YYYY-MM-DD")
                ui.field_error(errors, name)
        with st.container(key=f"{prefix}field_confirm"):
            st.checkbox(confirm_text, key=prefix + "confirm")
            ui.field_error(errors, "confirm")

    _form(title, ":material/block:", prefix, errors, act, title, body,
          below=("status", E.RECORD))


def _history(table: str, key: str) -> None:
    history = ui.cached(E.record_history, table=table, key=key)
    if history.empty:
        st.caption(_("No change made in the app yet (imports are in the audit log)."))
        return
    shown = pd.DataFrame({
        "seq": history["seq"],
        "when": [fmt_datetime(t) for t in history["logged_at"]],
        "who": [actor_label(a) for a in history["actor"]],
        "action": [label("audit_action", a) for a in history["action"]],
        "field": [E.field_heading(table, f) for f in history["field"]],
        "before": [E.value_words(table, f, v) for f, v in zip(history["field"],
                                                              history["before"])],
        "after": [E.value_words(table, f, v) for f, v in zip(history["field"],
                                                             history["after"])],
    })
    st.dataframe(shown, hide_index=True, column_config={
        "seq": st.column_config.NumberColumn("#"), "when": _("When"), "who": _("Who"),
        "action": _("Action"), "field": _("Field"), "before": _("Before"),
        "after": _("After")})

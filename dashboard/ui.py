"""Streamlit glue shared by the pages: the store, the signed-in actor, cached queries.

Pages stay thin: they read inputs, call ``dashboard`` functions (through
``cached`` for reads), and render. Nothing here holds SQL.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import os
from typing import Any, Callable

import pandas as pd
import streamlit as st

from .access import Actor
from .navigation import PAGE_BY_KEY
from .store import Store, default_db_path


@st.cache_resource(show_spinner=False)
def _open_store(path: str, frozen_now: str | None) -> Store:
    clock = None
    if frozen_now:  # demos and tests: a fixed "now" (COMPLIANCE_FROZEN_NOW, ISO 8601)
        fixed = dt.datetime.fromisoformat(frozen_now)
        if fixed.tzinfo is None:
            raise ValueError("COMPLIANCE_FROZEN_NOW needs an offset, e.g. +08:00")
        clock = lambda: fixed  # noqa: E731
    store = Store(path, clock=clock)
    store.require_current()
    return store


def get_store() -> Store:
    """The process's one store (DuckDB allows one read-write process per file).

    ``Store`` is thread-safe as used here: a fresh cursor per call, writes under a lock.
    """
    return _open_store(str(default_db_path()), os.environ.get("COMPLIANCE_FROZEN_NOW"))


def current_actor() -> Actor | None:
    return st.session_state.get("actor")


def set_actor(actor: Actor | None) -> None:
    if actor is None:
        st.session_state.pop("actor", None)
    else:
        st.session_state["actor"] = actor


def page_guard(key: str) -> Actor:
    """Refuse the page unless the signed-in user's role may open it.

    Navigation already lists only the role's pages; this holds when a page is
    reached some other way (a URL, a stale link).
    """
    actor = current_actor()
    spec = PAGE_BY_KEY[key]
    if actor is None or actor.role not in spec.roles:
        who = "You are not signed in" if actor is None else f"Your role ({actor.role}) may not open it"
        st.error(f"**{spec.title}** is not available. {who}.", icon=":material/block:")
        st.stop()
    return actor


def _resolve(qualname: str) -> Callable[..., Any]:
    module, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


@st.cache_data(show_spinner=False, max_entries=512, ttl=3600)
def _cached_call(qualname: str, db: str, data_version: int, kwargs_json: str) -> Any:
    return _resolve(qualname)(get_store(), **json.loads(kwargs_json))


def cached(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Call ``fn(store, **kwargs)`` through ``st.cache_data``.

    The key includes the store's ``data_version``, which every commit bumps, so a
    write drops stale results at once. ``fn`` must be a module-level function
    whose keyword arguments are JSON-serializable (dates become ISO strings).
    """
    store = get_store()
    qualname = f"{fn.__module__}.{fn.__qualname__}"
    payload = json.dumps(kwargs, sort_keys=True, default=_json_default)
    return _cached_call(qualname, str(store.path), store.data_version, payload)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value)
    raise TypeError(f"cannot cache on argument {value!r}")


def format_columns(df: pd.DataFrame, register) -> dict[str, Any]:
    """``st.dataframe`` column_config for a register: English headings, date formats."""
    from .registers import DATE, INTEGER, LIST, TIMESTAMP, BOOLEAN
    config: dict[str, Any] = {}
    for col in register.columns:
        if col.name not in df.columns:
            continue
        if col.type == DATE:
            config[col.name] = st.column_config.DateColumn(col.heading, format="YYYY-MM-DD")
        elif col.type == TIMESTAMP:
            config[col.name] = st.column_config.DatetimeColumn(
                col.heading, format="YYYY-MM-DD HH:mm")
        elif col.type == INTEGER:
            config[col.name] = st.column_config.NumberColumn(col.heading, format="localized")
        elif col.type == LIST:
            config[col.name] = st.column_config.ListColumn(col.heading)
        elif col.type == BOOLEAN:
            config[col.name] = st.column_config.CheckboxColumn(col.heading)
        else:
            config[col.name] = st.column_config.TextColumn(col.heading)
    return config


def sidebar_account(actor: Actor) -> None:
    from .access import ROLE_TITLES
    with st.sidebar:
        st.caption(f"Signed in as **{actor.name}** · {ROLE_TITLES.get(actor.role, actor.role)}")
        if st.button("Sign out", key="sign_out", icon=":material/logout:"):
            set_actor(None)
            st.rerun()

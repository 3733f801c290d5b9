"""The register forms in the app (issue 18): a DPO adds and edits processors and sharing
agreements, offboards and ends; bad input shows its error under the field and writes
nothing; other roles see no form. AppTest on the demo store."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import ADMIN, AUDITOR, DPO, MANAGER, app_test
from dashboard import register_edit as E
from dashboard.settings import Settings
from dashboard.store import Store
from conftest import FROZEN_NOW


def _open(db):
    return Store(db, settings=Settings(), clock=lambda: FROZEN_NOW)


def _last_seq(db) -> int:
    s = _open(db)
    try:
        return s.scalar("SELECT max(seq) FROM audit_log")
    finally:
        s.close()


def _errors_under(at, field: str) -> list[str]:
    """The error messages shown inside the container of ``field``."""
    for c in at.get("flex_container") + list(at.main.children.values()):
        pass
    return [e.value for e in at.error if _inside(e, field)]


def _inside(element, field: str) -> bool:
    node = element
    while node is not None:
        key = getattr(node, "key", None) or ""
        if isinstance(key, str) and key.endswith(f"field_{field}"):
            return True
        node = getattr(node, "parent", None)
    return False


def test_smoke(demo_db, monkeypatch):
    at = app_test(demo_db, DPO, monkeypatch, page="processor", query={"id": "PRC-0027"})
    assert not at.exception, at.exception
    print([t.value for t in at.title], [e.label for e in at.expander])

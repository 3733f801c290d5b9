"""The compliance check's run ids survive Streamlit's hot reload.

When a source file of the app changes, Streamlit imports the app's modules afresh: the
engine gets a new run-id counter and an empty summary cache, while the store (and the
in-memory results database attached to its DuckDB instance) lives on. A new run must
not reuse an id still stored there (it did: "Duplicate key run_id: 1", the Overview
failing until the server restarted)."""
from __future__ import annotations

import itertools

from dashboard import engine


def test_run_ids_stay_unique_when_the_engine_module_is_imported_afresh(store, monkeypatch):
    first = engine.check_summary(store, "2026-11-24")
    monkeypatch.setattr(engine, "_RUN_IDS", itertools.count(1))   # a fresh module's state
    monkeypatch.setattr(engine, "_RUNS", {})
    second = engine.check_summary(store, "2026-11-23")
    assert second.run_id > first.run_id
    assert engine.check_summary(store, "2026-11-24").run_id not in (first.run_id,
                                                                    second.run_id)

"""Twenty sessions logging and updating incidents at once lose nothing."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from dashboard import audit
from dashboard import incidents as inc
from dashboard.access import Actor

from conftest import MANAGER

THREADS, PER_THREAD = 20, 50


def _values(thread: int, i: int) -> dict:
    return {
        "title": f"Session {thread} incident {i}",
        "incident_type": "data_leak" if i % 2 else "unauthorized_access",
        "detected_at": f"2026-11-{1 + (i % 20):02d} {thread % 24:02d}:{i % 60:02d}",
        "affected_subjects": thread * 1000 + i,
        "affected_sensitive_subjects": i % 7,
        "data_categories": ["name", "phone"],
    }


def _run_threads(target, n: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def wrapped(k: int) -> None:
        try:
            barrier.wait()
            target(k)
        except BaseException as exc:   # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a session hung"
    return errors


@pytest.mark.slow   # 2,000 serialized writes: about 15-30 s on a shared 2-core machine
def test_twenty_sessions_logging_and_updating_lose_nothing(store):
    steps = ("contained", "emergency_plan_activated", "regulator_reported", "users_notified")
    step_values = {
        "contained": {"at": "2026-11-24 09:00"},
        "emergency_plan_activated": {"at": "2026-11-24 09:00"},
        "regulator_reported": {"at": "2026-11-24 09:00", "regulator": "Provincial CAC",
                               "regulator_reference": "R-1"},
        "users_notified": {"at": "2026-11-24 09:00", "notification_channels": ["email"],
                           "audience": "affected users", "notice_contents": ["cause"]},
    }
    logged: dict[int, list[tuple[str, str]]] = {}
    audit_before = store.scalar("SELECT count(*) FROM audit_log")

    def session(k: int) -> None:
        actor = Actor(f"manager.{k:02d}", "manager")
        mine = []
        for i in range(PER_THREAD):
            result = inc.log_incident(store, actor, _values(k, i), token=f"log-{k}-{i}")
            assert result.created
            kind = steps[(k + i) % len(steps)]
            step = inc.record_step(store, actor, result.incident_id, kind, step_values[kind],
                                   token=f"step-{k}-{i}")
            assert step.created
            mine.append((result.incident_id, kind))
        logged[k] = mine

    errors = _run_threads(session, THREADS)
    assert errors == []
    total = THREADS * PER_THREAD
    ids = [i for mine in logged.values() for i, _ in mine]
    assert len(ids) == total and len(set(ids)) == total
    assert store.scalar("SELECT count(*) FROM incidents") == total
    # Numbers are contiguous: the id allocation never skipped or reused one.
    assert sorted(ids) == [f"INC-2026-{n:04d}" for n in range(1, total + 1)]
    # Every timeline event is there: one "logged" and one step per incident, in that order.
    events = store.rows('SELECT incident_id, list(kind ORDER BY event_id) FROM incident_events '
                        "GROUP BY incident_id")
    by_incident = dict(events)
    expected = {i: ["logged", kind] for mine in logged.values() for i, kind in mine}
    assert by_incident == expected
    assert store.scalar("SELECT count(DISTINCT event_id) FROM incident_events") == 2 * total
    assert store.scalar("SELECT count(*) FROM incident_event_meta") == 2 * total
    # Each row carries its step, and each incident was written by its own session.
    status = Counter(r[0] for r in store.rows("SELECT status FROM incidents"))
    assert status["contained"] == sum(1 for v in expected.values() if v[1] == "contained")
    actors = dict(store.rows("SELECT incident_id, actor FROM incident_events "
                             "WHERE kind = 'logged'"))
    for k, mine in logged.items():
        assert {actors[i] for i, _ in mine} == {f"manager.{k:02d}"}
    # Every write has its audit entry and the chain is intact.
    actions = Counter(r[0] for r in store.rows("SELECT action FROM audit_log WHERE seq > ?",
                                               [audit_before]))
    assert actions == {"incident.log": total, "incident.update": total}
    assert audit.verify(store).ok


def test_concurrent_double_submits_of_one_form_create_one_incident(store):
    values = _values(1, 1)
    results = []

    def submit(_k: int) -> None:
        results.append(inc.log_incident(store, MANAGER, values, token="one-form"))

    assert _run_threads(submit, 8) == []
    assert len({r.incident_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert store.scalar("SELECT count(*) FROM incidents") == 1
    assert store.scalar("SELECT count(*) FROM incident_events") == 1


def test_two_sessions_recording_the_same_step_record_it_once(store):
    incident_id = inc.log_incident(store, MANAGER, _values(2, 2)).incident_id
    outcomes = []

    def contain(k: int) -> None:
        try:
            inc.record_step(store, Actor(f"manager.{k}", "manager"), incident_id, "contained",
                            {"at": f"2026-11-24 09:{k:02d}"})
            outcomes.append("recorded")
        except inc.ValidationError as exc:
            outcomes.append(exc.errors["step"])

    assert _run_threads(contain, 6) == []
    assert outcomes.count("recorded") == 1
    assert all("Already past containment" in o for o in outcomes if o != "recorded")
    assert store.scalar("SELECT count(*) FROM incident_events WHERE kind = 'contained'") == 1

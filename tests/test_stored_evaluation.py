"""Stored, incremental evaluation (issue 15, ``dashboard.stored``): after any sequence of
writes and of time passing, the results read from the store equal a full evaluation of
every rule at the same moment; a write re-runs only the rules that read what it changed;
a new day re-runs the date rules."""
from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pandas as pd
import pytest

from conftest import DPO, FROZEN_NOW, MANAGER, SYSTEM
from dashboard import engine, stored
from dashboard import incidents as inc
from dashboard import requests as rq
from dashboard.rules import load_rules
from dashboard.settings import Settings
from dashboard.store import Store


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def live(demo_db):
    clock = Clock(FROZEN_NOW)
    s = Store(demo_db, settings=Settings(), clock=clock)
    yield s, clock
    s.close()


def full(store) -> tuple[engine.Summary, pd.DataFrame, pd.DataFrame]:
    """Every rule run now over the registers, in memory: the reference."""
    rules, as_of = load_rules(), store.now()
    run_id, counts = engine._evaluate(store, as_of, rules)
    summary = engine._summarise(store, as_of, rules, run_id, counts)
    return (summary, engine._items_frame(store, run_id, engine.FINDING),
            engine._items_frame(store, run_id, engine.DUE))


def assert_same_as_full(store, context: str = "") -> engine.CheckResult:
    got = engine.run_check(store)
    assert stored.available(store) and engine._live(store, got.as_of), context
    want, findings, due = full(store)
    assert got.as_of == want.as_of
    for name in ("rule_scores", "clause_scores", "article_scores"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name), obj=name)
    pd.testing.assert_frame_equal(got.findings.reset_index(drop=True),
                                  findings.reset_index(drop=True), obj=f"findings {context}")
    pd.testing.assert_frame_equal(got.due.reset_index(drop=True), due.reset_index(drop=True),
                                  obj=f"due items {context}")
    assert (got.finding_total, got.due_total, got.entities_failing) == \
        (want.finding_total, want.due_total, want.entities_failing), context
    return got


def gens(store) -> dict[str, int]:
    return dict(store.rows("SELECT rule_id, gen FROM evaluation.rule_state"))


# -- the writes of the random sequences ----------------------------------------------------

def _one(store, sql: str, rnd: random.Random):
    rows = store.rows(sql)
    return rnd.choice(rows)[0] if rows else None


def w_processor(store, clock, rnd):
    pid = _one(store, "SELECT processor_id FROM processors ORDER BY 1", rnd)
    change = rnd.choice([
        "agreement_expires_on = CAST(? AS DATE) - 1",
        "last_assessed_on = CAST(? AS DATE) - 400",
        "confidentiality_signed_on = NULL, nda_signed_on = NULL, pia_done_on = ?",
        "agreement_terms = list_filter(agreement_terms, lambda t: t <> 'rights_obligations'), "
        "engaged_on = CAST(? AS DATE) - 10",
    ])
    with store.transaction() as cur:
        cur.execute(f"UPDATE processors SET {change} WHERE processor_id = ?",
                    [clock().date(), pid])


def w_sharing(store, clock, rnd):
    aid = _one(store, "SELECT agreement_id FROM sharing_agreements ORDER BY 1", rnd)
    change = rnd.choice(["consent = 'bundled'", "confidentiality_clause = false",
                         "expires_on = CAST(? AS DATE) - 2", "recipient_region = 'US'"])
    params = [clock().date()] if "?" in change else []
    with store.transaction() as cur:
        cur.execute(f"UPDATE sharing_agreements SET {change} WHERE agreement_id = ?",
                    params + [aid])


def w_retention(store, clock, rnd):
    today = clock().date()
    with store.transaction() as cur:
        if rnd.random() < 0.5:           # new records: the key range grows
            top = cur.execute("SELECT max(record_id) FROM retention_records").fetchall()[0][0]
            cur.executemany(
                "INSERT INTO retention_records (record_id, subject_ref, category, system, "
                "storage_region, collected_on, service_ended_on) VALUES (?, ?, 'phone', 'crm', "
                "?, ?, ?)",
                [[top + i + 1, f"U-RND-{i}", rnd.choice(["CN", "SG"]),
                  today - dt.timedelta(days=rnd.randint(10, 2000)),
                  rnd.choice([None, today - dt.timedelta(days=rnd.randint(1, 900))])]
                 for i in range(rnd.randint(1, 5))])
        else:
            rid = cur.execute("SELECT record_id FROM retention_records WHERE deleted_on IS NULL "
                              "ORDER BY record_id LIMIT 1 OFFSET ?",
                              [rnd.randint(0, 50)]).fetchall()
            if rid:
                cur.execute("UPDATE retention_records SET deleted_on = ? WHERE record_id = ?",
                            [today, rid[0][0]])


def w_retention_rule(store, clock, rnd):
    with store.transaction() as cur:
        cur.execute("UPDATE retention_rules SET max_age_days = coalesce(max_age_days, 3650) "
                    "- ? WHERE category = (SELECT min(category) FROM retention_rules)",
                    [rnd.randint(30, 400)])


def w_category(store, clock, rnd):
    code = _one(store, "SELECT code FROM data_categories ORDER BY 1", rnd)
    with store.transaction() as cur:
        cur.execute("UPDATE data_categories SET sensitive = NOT sensitive WHERE code = ?", [code])


def w_incident(store, clock, rnd):
    detected = clock() - dt.timedelta(hours=rnd.randint(0, 80))
    inc.log_incident(store, MANAGER, {
        "title": "Random incident", "description": "From the property test.",
        "incident_type": rnd.choice(["data_leak", "unauthorized_access"]),
        "occurred_at": (detected - dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"),
        "detected_at": detected.strftime("%Y-%m-%d %H:%M"),
        "affected_subjects": str(rnd.choice([10, 5000, 2_000_000])),
        "data_categories": ["name", "phone"], "systems_affected": "CRM"})


def w_request(store, clock, rnd):
    now = clock()
    if rnd.random() < 0.5:
        received = now - dt.timedelta(hours=rnd.randint(0, 400))
        rq.log_request(store, MANAGER, {
            "received_at": received.strftime("%Y-%m-%d %H:%M"), "channel": "email",
            "kind": rnd.choice(["delete", "access", "cancel_account"]),
            "subject_ref": rnd.choice(["U-RND-0", "U-RND-1", "U-000042"])})
        return
    rid = _one(store, "SELECT request_id FROM rights_requests WHERE status IN "
                      "('received', 'in_progress') ORDER BY 1", rnd)
    if rid:
        rq.record_step(store, DPO, rid, "completed",
                       {"at": now.strftime("%Y-%m-%d %H:%M")})


def w_future(store, clock, rnd):
    """Something recorded as happening later (an import could): the "data" rules must not
    count it before its time, and must count it once it has come."""
    rid = _one(store, "SELECT request_id FROM rights_requests WHERE kind = 'delete' "
                      "ORDER BY 1", rnd)
    with store.transaction() as cur:
        cur.execute("UPDATE rights_requests SET status = 'completed', completed_at = ? "
                    "WHERE request_id = ?",
                    [clock() + dt.timedelta(minutes=rnd.randint(5, 300)), rid])


def w_time(store, clock, rnd):
    clock.now += dt.timedelta(minutes=rnd.choice([1, 59, 61, 7 * 60, 16 * 60, 26 * 60]))


WRITES = [w_processor, w_sharing, w_retention, w_retention_rule, w_category, w_incident,
          w_request, w_future, w_time, w_time]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stored_results_equal_a_full_evaluation_after_random_writes(live, seed):
    store, clock = live
    rnd = random.Random(seed)
    assert_same_as_full(store, "first evaluation")
    done = []
    for _ in range(14):
        write = rnd.choice(WRITES)
        write(store, clock, rnd)
        done.append(f"{write.__name__}@{clock().isoformat(timespec='minutes')}")
        assert_same_as_full(store, " -> ".join(done))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 18))
def test_stored_results_equal_a_full_evaluation_long_sequences(live, seed):
    store, clock = live
    rnd = random.Random(seed)
    done = []
    for _ in range(30):
        write = rnd.choice(WRITES)
        write(store, clock, rnd)
        done.append(write.__name__)
        assert_same_as_full(store, " -> ".join(done))


# -- what re-runs --------------------------------------------------------------------------

def test_a_processor_edit_re_runs_the_rules_that_read_processors_only(live):
    store, clock = live
    engine.run_check(store)
    before = gens(store)
    w_processor(store, clock, random.Random(5))
    engine.run_check(store)
    after = gens(store)
    renewed = {r for r in after if after[r] != before[r]}
    rules = {r.rule_id: r for r in load_rules()}
    assert renewed, "the edit re-ran nothing"
    assert {r for r in renewed if not r.startswith("PROC-")} <= \
        {r for r in rules if "processors" in rules[r].query}, renewed
    assert not any(r.startswith(("RET-", "INC-", "DSR-")) for r in renewed), renewed
    assert all(r in renewed for r in rules if r.startswith("PROC-")), renewed
    assert_same_as_full(store)


def test_a_run_reads_the_stored_items_in_place_and_copies_only_the_moment_rules(live,
                                                                               monkeypatch):
    """A stored run copies no rows but the moment rules' (their texts are written for its
    moment): the others are read from the stored items of their generation, with the
    rule's metadata as the run found it. A changed severity (metadata, not SQL) shows in
    the next run; a dropped run leaves nothing in memory."""
    store, clock = live
    first = engine.run_check(store)
    rules = {r.rule_id: r for r in load_rules()}
    copied = dict(store.rows(
        f"SELECT rule_id, count(*) FROM {engine.CACHE_DB}.run_rows WHERE run_id = ? "
        "GROUP BY ALL",
        [first.run_id]))
    assert copied and all(rules[r].refresh == "moment" for r in copied)
    read_in_place = store.scalar(f"SELECT count(*) FROM {engine.CACHE_DB}.run_stored "
                                 "WHERE run_id = ?", [first.run_id])
    assert read_in_place == sum(1 for r in rules.values() if r.refresh != "moment")
    assert first.findings["rule_id"].eq("RET-OVERDUE").sum() > 0
    w_processor(store, clock, random.Random(5))
    second = engine.run_check(store)
    assert_same_as_full(store)
    # a severity changed in rules.toml: the SQL, hence the stored result, is the same
    changed = [dataclasses.replace(r, severity="high") if r.rule_id == "RET-OVERDUE" else r
               for r in load_rules()]
    monkeypatch.setattr(engine, "load_rules", lambda: changed)
    third = engine._fresh_summary(store, store.now())
    severities = store.rows(f"SELECT DISTINCT severity FROM {engine.run_items(store)} "
                            "WHERE run_id = ? AND rule_id = 'RET-OVERDUE'", [third.run_id])
    assert severities == [("high",)]
    before = store.rows(f"SELECT DISTINCT severity FROM {engine.run_items(store)} "
                        "WHERE run_id = ? AND rule_id = 'RET-OVERDUE'", [first.run_id])
    assert before == [(rules["RET-OVERDUE"].severity,)]     # an older run keeps its own
    for run in (first, second, third):
        engine._drop_run(store, run.run_id)
        assert not store.rows(f"SELECT 1 FROM {engine.run_items(store)} WHERE run_id = ?",
                              [run.run_id])


def test_nothing_re_runs_without_a_write_the_same_day_and_a_new_day_re_runs_the_date_rules(live):
    store, clock = live
    engine.run_check(store)
    first = gens(store)
    until = dict(store.rows("SELECT rule_id, valid_until FROM evaluation.rule_state"))
    clock.now = FROZEN_NOW.replace(hour=23, minute=30)          # same day, no write
    engine.run_check(store)
    moment = {r.rule_id for r in load_rules() if r.refresh == "moment"}
    # only a "moment" rule one of whose deadlines passed meanwhile re-runs
    assert {r for r in first if gens(store)[r] != first[r]} == \
        {r for r in moment if until[r] is not None and until[r] <= clock.now}
    assert_same_as_full(store)
    clock.now = FROZEN_NOW.replace(hour=0, minute=5) + dt.timedelta(days=1)   # a new day
    engine.run_check(store)
    second = gens(store)
    assert all(second[r] != first[r] for r in first), "a new day re-runs every stored rule"
    days = dict(store.rows("SELECT rule_id, as_of_date FROM evaluation.rule_state"))
    assert set(days.values()) == {clock.now.date()}
    assert_same_as_full(store)


def test_a_moment_rule_holds_until_its_next_deadline_and_its_spans_follow_the_clock(live):
    store, clock = live
    rid = inc.log_incident(store, MANAGER, {
        "title": "Clock", "description": "x", "incident_type": "data_leak",
        "occurred_at": "2026-11-23 11:00", "detected_at": "2026-11-23 12:00",
        "affected_subjects": "10", "data_categories": ["name"], "systems_affected": "CRM"}
    ).incident_id
    deadline = FROZEN_NOW.replace(hour=12)          # 24 h after detection: today at 12:00

    def notice(result):
        f, d = result.findings, result.due
        rows = pd.concat([f.assign(kind="finding"), d.assign(kind="due")])
        return rows.loc[(rows["rule_id"] == "INC-USER-NOTICE") & (rows["entity_id"] == rid),
                        ["kind", "detail"]].iloc[0].tolist()

    def due_text(now):
        left = int((deadline - now).total_seconds() // 60)
        return ["due", "10 people affected, detected 2026-11-23 12:00; notify users by "
                       f"2026-11-24 12:00, in {left // 60} h {left % 60} min"]

    assert notice(engine.run_check(store)) == due_text(FROZEN_NOW)
    state = gens(store)
    until = store.scalar("SELECT valid_until FROM evaluation.rule_state "
                         "WHERE rule_id = 'INC-USER-NOTICE'")
    assert FROZEN_NOW < until <= deadline          # this or an earlier incident's deadline
    clock.now = FROZEN_NOW + (until - FROZEN_NOW) / 2
    assert notice(assert_same_as_full(store, "before the next deadline")) == due_text(clock.now)
    assert gens(store)["INC-USER-NOTICE"] == state["INC-USER-NOTICE"]    # stored, not re-run
    clock.now = deadline + dt.timedelta(minutes=5)
    assert notice(assert_same_as_full(store, "after the deadline")) == [
        "finding", "10 people affected, detected 2026-11-23 12:00; users not notified; the "
                   "24 h deadline of 2026-11-24 12:00 passed 5 min ago"]
    assert gens(store)["INC-USER-NOTICE"] > state["INC-USER-NOTICE"]
    assert store.scalar("SELECT valid_until FROM evaluation.rule_state "
                        "WHERE rule_id = 'INC-USER-NOTICE'") > clock.now
    kept = store.scalar("SELECT detail FROM evaluation.items WHERE rule_id = "
                        "'INC-USER-NOTICE' AND entity_id = ?", [rid])
    assert kept.endswith(" passed \x01%d\x01 ago" % (deadline.timestamp() * 1_000_000)), \
        "the stored text keeps the span to the check moment as a marker"


def test_a_future_completion_counts_only_once_its_time_has_come(live):
    store, clock = live
    rid = rq.log_request(store, MANAGER, {"received_at": "2026-11-20 09:30", "channel": "email",
                                          "kind": "delete", "subject_ref": "U-FUTURE"}).request_id
    with store.transaction() as cur:
        cur.execute("INSERT INTO retention_records (record_id, subject_ref, category, system, "
                    "storage_region, collected_on) VALUES (990001, 'U-FUTURE', 'phone', 'crm', "
                    "'CN', DATE '2025-01-01')")
        cur.execute("UPDATE rights_requests SET status = 'completed', completed_at = ? "
                    "WHERE request_id = ?", [FROZEN_NOW + dt.timedelta(hours=2), rid])

    def deletion_findings():
        f = engine.run_check(store).findings
        return set(f.loc[f["rule_id"] == "DSR-DELETION-DONE", "entity_id"])

    assert rid not in deletion_findings()                 # completed later: not yet
    until = store.scalar("SELECT valid_until FROM evaluation.rule_state "
                         "WHERE rule_id = 'DSR-DELETION-DONE'")
    assert until == FROZEN_NOW + dt.timedelta(hours=2)
    clock.now = FROZEN_NOW + dt.timedelta(hours=2, minutes=1)
    assert rid in deletion_findings()                     # its time has come: kept record
    assert_same_as_full(store)


def test_fresh_re_runs_everything_and_a_read_only_store_is_evaluated_in_full(live, demo_db):
    store, clock = live
    engine.run_check(store)
    before = gens(store)
    stored_result = engine.run_check(store, fresh=True)
    assert all(gens(store)[r] > before[r] for r in before)
    store.close()
    ro = Store(demo_db, read_only=True, settings=Settings(), clock=clock)
    try:
        assert not engine._live(ro, ro.now())
        assert engine.run_check(ro).finding_total == stored_result.finding_total
    finally:
        ro.close()


def test_the_evaluation_is_derived_data_the_audit_does_not_vouch_for(live):
    from dashboard import audit
    store, clock = live
    engine.run_check(store)
    with store.cursor() as cur:
        assert not any(t.startswith("evaluation") or t in ("items", "rule_state")
                       for t in audit.audited_tables(cur))
    assert audit.verify(store).ok


def test_writes_bump_the_versions_of_the_tables_they_change(live):
    store, clock = live
    before = dict(store.rows("SELECT * FROM evaluation.table_versions"))
    inc.log_incident(store, MANAGER, {
        "title": "Versions", "description": "x", "incident_type": "data_leak",
        "occurred_at": "2026-11-24 07:00", "detected_at": "2026-11-24 08:00",
        "affected_subjects": "10", "data_categories": ["name"], "systems_affected": "CRM"})
    after = dict(store.rows("SELECT * FROM evaluation.table_versions"))
    assert after["incidents"] == before.get("incidents", 0) + 1
    assert after.get("processors") == before.get("processors")
    assert after.get("retention_records") == before.get("retention_records")


def test_check_fresh_on_the_command_line_re_runs_every_stored_rule(live):
    import io
    from dashboard.cli import main
    store, clock = live
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", str(store.path), "check", "--no-snapshot", "--format", "json"],
                out, err) == 0, err.getvalue()
    before = gens(store)
    assert before, "check at the current moment stores its results"
    assert main(["--db", str(store.path), "check", "--no-snapshot", "--format", "json"],
                out, err) == 0
    assert gens(store) == before                   # nothing changed: nothing re-ran
    assert main(["--db", str(store.path), "check", "--fresh", "--no-snapshot", "--format",
                 "json"], out, err) == 0
    assert all(gens(store)[r] > before[r] for r in before)


# -- the refresh classes, checked against the SQL (rules.py) -----------------------------

def _klass(sql: str, **entry):
    from dashboard.rules import _refresh
    import re
    params = tuple(p for p in ("as_of", "as_of_date") if re.search(rf"\${p}\b", sql))
    return _refresh("TEST", entry, params, sql)


MOMENT_SQL = ("SELECT incident_id AS entity_id, $as_of > deadline AS failing, "
              "'passed ' || rule_live_span(deadline, $as_of) || ' ago' AS detail, "
              "deadline AS due_at FROM (SELECT *, detected_at + INTERVAL 1 HOUR AS deadline "
              "FROM incidents WHERE detected_at <= $as_of AND "
              "NOT coalesce(\"resolved_at\" <= $as_of, false))")


def test_the_refresh_classes_are_checked_against_the_sql():
    from dashboard.rules import RuleError
    cols = ["incidents.detected_at", "incidents.resolved_at"]
    assert _klass("SELECT 1 WHERE x <= $as_of_date") == ("day", ())
    assert _klass(MOMENT_SQL, changes_at=cols) == ("moment", tuple(cols))
    assert _klass(MOMENT_SQL, refresh="moment", changes_at=cols)[0] == "moment"
    refused = [
        (MOMENT_SQL, {}),                                           # no changes_at
        (MOMENT_SQL, {"changes_at": cols[:1]}),                     # resolved_at not named
        (MOMENT_SQL, {"refresh": "data", "changes_at": cols}),      # "data": <= only
        (MOMENT_SQL.replace("rule_live_span", "rule_span"), {"changes_at": cols}),
        (MOMENT_SQL.replace("$as_of > deadline", "$as_of > deadline + INTERVAL 1 DAY"),
         {"changes_at": cols}),
        (MOMENT_SQL.replace("$as_of > deadline", "$as_of - deadline > INTERVAL 1 DAY"),
         {"changes_at": cols}),
        ("SELECT 1 WHERE x <= $as_of_date", {"refresh": "moment"}),
        (MOMENT_SQL, {"refresh": "hourly", "changes_at": cols}),
    ]
    for sql, entry in refused:
        with pytest.raises(RuleError):
            _klass(sql, **entry)


def test_every_moment_rule_states_its_deadline_as_due_at():
    """The stored result of a "moment" rule holds until its earliest due_at ahead: each
    such rule compares the moment with its deadline only where due_at is that deadline."""
    for rule in load_rules():
        if rule.refresh == "moment":
            assert rule.changes_at and "due_at" in rule.query, rule.rule_id


# -- stored page summaries (migration 0014) ------------------------------------------------

def _retention_frames(store):
    from dashboard import queries as Q
    got = Q.retention_summary(store, as_of=store.now().date())
    return got["kpis"], got["breakdown"].reset_index(drop=True), \
        got["overdue_trend"].reset_index(drop=True)


def test_a_page_summary_is_kept_until_what_it_reads_changes(live, monkeypatch):
    store, clock = live
    assert stored.summaries_available(store)
    kpis, breakdown, trend = _retention_frames(store)
    assert store.scalar("SELECT count(*) FROM evaluation.summaries") == 1
    read_back = []
    real = stored.pd.read_parquet
    monkeypatch.setattr(stored.pd, "read_parquet",
                        lambda *a, **k: read_back.append(1) or real(*a, **k))
    inputs = store.scalar("SELECT inputs FROM evaluation.summaries")
    again = _retention_frames(store)                         # read back, not computed
    assert read_back == [1] and again[0] == kpis
    pd.testing.assert_frame_equal(again[1], breakdown)
    pd.testing.assert_frame_equal(again[2], trend)
    rid = store.scalar("SELECT min(record_id) FROM retention_records WHERE deleted_on IS NULL "
                       "AND hold_reason IS NULL")
    with store.transaction() as cur:                          # a write to what it reads
        cur.execute("UPDATE retention_records SET deleted_on = ? WHERE record_id = ?",
                    [clock().date(), rid])
    after = _retention_frames(store)
    assert read_back == [1], "the write made the page compute its summary again"
    assert after[0]["deleted"] == kpis["deleted"] + 1
    assert store.scalar("SELECT inputs FROM evaluation.summaries") != inputs
    with store.transaction() as cur:                          # a write to another register
        cur.execute("UPDATE processors SET name = name || ' Ltd' WHERE processor_id = "
                    "(SELECT min(processor_id) FROM processors)")
    assert _retention_frames(store)[0] == after[0] and read_back == [1, 1]


def test_a_read_only_store_computes_its_summaries(live, demo_db):
    store, clock = live
    kpis = _retention_frames(store)[0]
    store.close()
    ro = Store(demo_db, read_only=True, settings=Settings(), clock=clock)
    try:
        assert not stored.summaries_available(ro)
        assert _retention_frames(ro)[0] == kpis
    finally:
        ro.close()


# -- the renewer thread (server only) ------------------------------------------------------

def _wait(predicate, seconds: float = 60.0) -> bool:
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_the_renewer_keeps_the_stored_results_current_between_page_views(live, monkeypatch):
    store, clock = live
    assert stored.start_renewer(store) is None, "only a server starts a renewer"
    monkeypatch.setitem(stored._RENEWER, "enabled", True)
    engine.run_check(store)
    before = gens(store)
    w_processor(store, clock, random.Random(5))          # a write: the PROC rules are stale
    stop = stored.start_renewer(store, every=0.1)
    assert stop is not None
    try:
        assert stored.start_renewer(store) is None, "one renewer per store"
        proc = [r.rule_id for r in load_rules() if r.rule_id.startswith("PROC-")]
        assert _wait(lambda: all(gens(store)[r] != before[r] for r in proc))
        renewed = gens(store)
        assert not any(renewed[r] != before[r] for r in renewed if r.startswith("RET-"))
        clock.now = clock.now + dt.timedelta(days=1)      # a new day: every rule, by the thread
        assert _wait(lambda: all(gens(store)[r] > renewed[r] for r in renewed))
        _wait(lambda: stored.renew(store) == [])          # settled
        settled = gens(store)
        assert_same_as_full(store, "the page finds them current")
        assert gens(store) == settled, "the page renewed nothing: the thread had"
    finally:
        stop.set()
    assert _wait(lambda: str(store.path) not in stored._RENEWER["threads"], 10)

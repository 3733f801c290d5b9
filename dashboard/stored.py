"""Stored, incremental evaluation (issue 15): each rule's result is kept in the store and
renewed only when what it reads changes.

Why
---
Evaluating all rules over 10 million retention records takes seconds; a page must not wait
for that each time it is opened, nor every minute. Evaluation is work done once per change,
not once per view.

What is stored (schema ``evaluation``, migration 0013; derived data: not audited, not
exported, rebuilt by ``check --fresh``)
------------------------------------------------------------------------------------
- ``table_versions``: a counter per register table, bumped in the same transaction as
  every write that changes the table (``dashboard.store``: every write goes through
  ``Store.transaction``, which notes the tables its statements write to).
- ``rule_state``: per rule, its *fingerprint* (its SQL, the macros, the parameter values
  from the settings, the working-day calendar for the rules that read it), its *inputs*
  (the versions of the tables and views it reads, found in its SQL), the moment and day it
  was computed for and, for a "data" or "moment" rule, until when it holds.
- ``items`` (findings and due items), ``entities`` / ``bitmaps`` (every entity the rule
  applies to and whether it fails, for the distinct-entity counts behind clause and article
  scores) and ``group_counts`` (those counts per entity type);
- ``summaries`` (migration 0014): a register page's counts over the whole register (the
  Retention page's, over 10 M records), kept with the versions of the tables they read
  (``summary``).

When a rule runs again (the refresh classes of ``rules.REFRESH_CLASSES``, docs/RULES.md)
---------------------------------------------------------------------------------------
- any rule: when a table it reads has changed, its SQL or parameters have changed, or the
  date (Asia/Shanghai) is not the one it was computed for. So a processor edit re-runs the
  PROC rules (and the SHARE rules that read the processors' data categories), never the
  10 M retention rows;
- a "data" rule (uses the check moment only as "recorded by then"): also once the earliest
  of its ``changes_at`` values later than its moment has come;
- a "moment" rule (the incident clocks and the rights-request deadline: hours to a
  deadline, time spans in its text): as a "data" rule, and also once the earliest of its
  deadlines (``due_at``) not yet passed at its moment has passed: until then no entity's
  finding, due item or count can change (rules.py allows such a rule to use ``$as_of``
  only in ``column <= $as_of`` with a column of ``changes_at``, in ``$as_of > deadline``
  and in ``rule_live_span(x, $as_of)``). Its texts state time spans to the check moment
  ("passed 3 h 5 min ago"): those spans are stored as markers (``_LIVE_SPAN``) and
  written at each read for the moment read (``_RENDER``), so the text is the one a full
  evaluation at that moment gives.

A page's evaluation (``engine.check_summary``) at a moment of now then runs the rules
whose stored result is stale, and assembles the run from the stored results: the same run (``compliance_check.run_items``, the counts) the full evaluation makes, so
every page, export and ``check`` reads it the same way. A past moment (``check --as-of
2026-11-20``), or a read-only store, is evaluated in full in memory
(``engine._evaluate``); a test compares the two after random write sequences.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import time
from typing import Any

import pandas as pd

from . import engine as eng
from .rules import ENTITY_REGISTER, ENTITY_TYPES, Rule, RuleError, macros_sql

SCHEMA = "evaluation"
FORMAT = 3          # bump when what is stored changes meaning: every state is then stale

# A "moment" rule's time spans to the check moment are stored as a marker holding the
# other end (microseconds since the epoch, between two \x01), and written at each read.
# The span is ``rule_span`` of the same two instants (in UTC, so exact to the microsecond):
# the text equals a full evaluation's at the moment read (tests/test_stored_evaluation.py).
_LIVE_SPAN = ("CREATE OR REPLACE TEMP MACRO rule_live_span(t, now) AS "
              "chr(1) || CAST(epoch_us(t) AS VARCHAR) || chr(1)")
_RENDER = ("CREATE OR REPLACE TEMP MACRO rule_live_render(detail, now) AS "
           "CASE WHEN contains(detail, chr(1)) THEN array_to_string(list_transform("
           "string_split(detail, chr(1)), lambda part, i: CASE WHEN i % 2 = 0 THEN "
           "rule_span(make_timestamp(CAST(part AS BIGINT)), timezone('UTC', now)) "
           "ELSE part END), '') ELSE detail END")


def available(store) -> bool:
    """Whether the store has the evaluation schema (migration 0013)."""
    with store.cursor() as cur:
        return store.has_evaluation(cur)


# -- what a rule reads -------------------------------------------------------------------

def _catalog(cur) -> tuple[set[str], dict[str, str]]:
    tables = {r[0] for r in cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main'").fetchall()}
    views = dict(cur.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT internal").fetchall())
    return tables, views


def reads(query: str, tables: set[str], views: dict[str, str]) -> set[str]:
    """The store's tables ``query`` reads: every table or view whose name appears in it as
    a word, views replaced by the tables they read. Conservative: a name that appears only
    in a string or a column counts too (it can only make a rule re-run more often)."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query.lower()))
    found: set[str] = set()
    for name in words & set(views):
        found |= reads(views[name], tables, {k: v for k, v in views.items() if k != name})
    return found | (words & tables)


# -- fingerprints and inputs -------------------------------------------------------------

def _fingerprint(rule: Rule, values: dict[str, Any], settings, calendar_key: str | None) -> str:
    h = hashlib.sha256()
    for part in (f"format {FORMAT}", rule.sql, macros_sql(), settings.timezone,
                 f"due_soon_days {settings.due_soon_days}",
                 *(f"{p}={values[p]!r}" for p in rule.params if p not in ("as_of", "as_of_date")),
                 calendar_key if eng._reads_calendar(rule) and calendar_key else ""):
        h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _versions(cur) -> dict[str, int]:
    return dict(cur.execute(f"SELECT table_name, version FROM {SCHEMA}.table_versions").fetchall())


def _inputs(read: set[str], versions: dict[str, int]) -> str:
    return json.dumps({t: versions.get(t, 0) for t in sorted(read)}, separators=(",", ":"))


def _current(state: tuple | None, rule: Rule, fingerprint: str, inputs: str,
             as_of: dt.datetime) -> bool:
    """Whether a stored state holds for ``as_of`` (see the module's docstring)."""
    if state is None:
        return False
    _gen, fp, inp, st_as_of, st_date, valid_until = state
    if fp != fingerprint or inp != inputs or st_date != as_of.date():
        return False
    if rule.refresh in ("data", "moment"):
        return st_as_of <= as_of and (valid_until is None or as_of < valid_until)
    return True


# -- computing and storing one rule ------------------------------------------------------

def _store_rule(store, cur, rule: Rule, values: dict[str, Any], as_of: dt.datetime,
                horizon: dt.datetime, fingerprint: str, read: set[str]) -> None:
    """Run ``rule`` and replace its stored result, in one transaction of its own (its
    snapshot of the registers is the one its inputs' versions are read from), on ``cur``:
    the cursor ``_refresh`` prepared, the store's write lock held."""
    params = {p: values[p] for p in rule.params}
    integer = eng._integer_key(rule.entity_type)
    numeric = "CAST(entity_id AS BIGINT)" if integer else "CAST(NULL AS BIGINT)"
    started = time.perf_counter()
    cur.execute("BEGIN TRANSACTION")
    try:
        inputs = _inputs(read, _versions(cur))
        # Never a number used before, even after ``forget`` emptied rule_state: a run of
        # the engine reads a rule's items by (rule, generation) (engine.run_items).
        gen = cur.execute(f"SELECT greatest(coalesce(max(gen), 0) + 1, "
                          f"epoch_us(get_current_timestamp())) FROM {SCHEMA}.rule_state"
                          ).fetchall()[0][0]
        for table in ("items", "entities", "bitmaps"):
            cur.execute(f"DELETE FROM {SCHEMA}.{table} WHERE rule_id = ?", [rule.rule_id])
        cur.execute(
            f"INSERT INTO {SCHEMA}.items (rule_id, kind, entity_id, entity_num, detail, due_at, "
            "gen) SELECT $rule_id, CASE WHEN failing THEN "
            f"'{eng.FINDING}' ELSE '{eng.DUE}' END, CAST(entity_id AS VARCHAR), {numeric}, "
            f"detail, due_at, $gen FROM (\n{rule.query}\n) AS q "
            "WHERE failing OR (due_at IS NOT NULL AND due_at <= $horizon)",
            {**params, "rule_id": rule.rule_id, "horizon": horizon, "gen": gen})
        key_range = eng._key_range(cur, rule.entity_type)
        if key_range is not None:
            lo, hi = key_range
            cur.execute(
                f"INSERT INTO {SCHEMA}.bitmaps SELECT $rule_id, $lo, $hi, "
                "bitstring_agg(entity_id, $lo, $hi), "
                "bitstring_agg(entity_id, $lo, $hi) FILTER (WHERE failing), "
                f"count(*), coalesce(count_if(failing IS NULL), 0) FROM (\n{rule.query}\n) AS q",
                {**params, "rule_id": rule.rule_id, "lo": lo, "hi": hi})
            n, nulls, distinct = cur.execute(
                f"SELECT n, nulls, coalesce(bit_count(applies), 0) FROM {SCHEMA}.bitmaps "
                "WHERE rule_id = ?", [rule.rule_id]).fetchall()[0]
        else:
            cur.execute(f"INSERT INTO {SCHEMA}.entities SELECT $rule_id, "
                        f"CAST(entity_id AS VARCHAR), failing FROM (\n{rule.query}\n) AS q",
                        {**params, "rule_id": rule.rule_id})
            n, nulls, distinct = cur.execute(
                f"SELECT count(*), count_if(failing IS NULL), count(DISTINCT entity_id) "
                f"FROM {SCHEMA}.entities WHERE rule_id = ?", [rule.rule_id]).fetchall()[0]
        if nulls:
            raise RuleError(f"{rule.rule_id} returned failing = NULL for {nulls} entities")
        if n != distinct:
            raise RuleError(f"{rule.rule_id} returned the same entity more than once")
        valid_until = _next_change(cur, rule, as_of)
        cur.execute(f"INSERT OR REPLACE INTO {SCHEMA}.rule_state VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [rule.rule_id, gen, fingerprint, inputs, as_of, as_of.date(),
                     valid_until, store.now(), time.perf_counter() - started])
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


def _next_change(cur, rule: Rule, as_of: dt.datetime) -> dt.datetime | None:
    """Until when a "data" or "moment" rule's result at ``as_of`` holds: the earliest of its
    ``changes_at`` values later than ``as_of`` (something recorded as happening later: from
    then on the result may differ) and, for a "moment" rule, of its ``due_at`` values at or
    after ``as_of`` (a deadline passing: ``$as_of > deadline`` turns true just after it)."""
    if rule.refresh == "day":
        return None
    found = []
    for ref in rule.changes_at:            # table.column, checked by rules.py
        table, column = ref.split(".")
        found.append(cur.execute(f'SELECT min("{column}") FROM {table} WHERE "{column}" > ?',
                                 [as_of]).fetchall()[0][0])
    if rule.refresh == "moment":
        # From the items just stored, not by running the rule again: an item leaves out
        # only rows neither failing nor due by the horizon, the close of a day after
        # as_of's; such a deadline comes after the date has changed, which renews the rule.
        found.append(cur.execute(f"SELECT min(due_at) FROM {SCHEMA}.items "
                                 "WHERE rule_id = ? AND due_at >= ?",
                                 [rule.rule_id, as_of]).fetchall()[0][0])
    best = None
    for value in found:
        if value is None:
            continue
        if not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time.min, tzinfo=as_of.tzinfo)
        best = value if best is None or value < best else best
    return best


# -- a run at a moment of now ---------------------------------------------------------------

def _refresh(store, as_of: dt.datetime, rules: list[Rule], values: dict[str, Any],
             horizon: dt.datetime, fresh: bool) -> list[str]:
    """Renew every stored rule whose state does not hold for ``as_of``; the ids renewed.
    The states are read under the store's write lock: a page and the renewer thread
    (``start_renewer``) arriving together renew a rule once, the second finding it
    current. One cursor, prepared once, serves the look and every renewal (each renewal
    in its own transaction)."""
    with store._write_lock, store.cursor() as cur:
        eng._prepare(cur, rules)
        calendar = (eng._prepare_calendar(cur, store.settings, as_of, store)
                    if any(eng._reads_calendar(r) for r in rules) else None)
        tables, views = _catalog(cur)
        versions = _versions(cur)
        states = {row[0]: row[1:] for row in cur.execute(
            f"SELECT rule_id, gen, fingerprint, inputs, as_of, as_of_date, valid_until "
            f"FROM {SCHEMA}.rule_state").fetchall()}
        ranges = {row[0]: (row[1], row[2]) for row in cur.execute(
            f"SELECT rule_id, lo, hi FROM {SCHEMA}.bitmaps").fetchall()}
        key_ranges = {t: eng._key_range(cur, t) for t in ENTITY_TYPES
                      if eng._integer_key(t) is not None}
        stale = []
        for rule in rules:
            read = reads(rule.query, tables, views)
            fingerprint = _fingerprint(rule, values, store.settings, calendar)
            current = _current(states.get(rule.rule_id), rule, fingerprint,
                               _inputs(read, versions), as_of)
            key_range = key_ranges.get(rule.entity_type)
            if current and key_range is not None and ranges.get(rule.rule_id) != key_range:
                current = False         # the bitmaps must share the register's key range
            if fresh or not current:
                stale.append((rule, fingerprint, read))
        if stale:
            # The "moment" rules' texts keep their spans to the check moment as markers.
            # Only they call rule_live_span (rules.py: the others use $as_of otherwise or
            # not at all), so the macro is redefined on this cursor for all.
            cur.execute(_LIVE_SPAN)
            for rule, fingerprint, read in stale:
                _store_rule(store, cur, rule, values, as_of, horizon, fingerprint, read)
    return [rule.rule_id for rule, _f, _r in stale]


def renew(store, as_of: dt.datetime | None = None, rules: list[Rule] | None = None, *,
          fresh: bool = False) -> list[str]:
    """Renew the stored results that do not hold for ``as_of`` (default: now; every one
    with ``fresh``), without assembling a run: the ids renewed."""
    as_of = as_of or store.now()
    rules = rules if rules is not None else eng.load_rules()
    values = eng.rule_parameters(store.settings, as_of)
    horizon = eng.due_horizon(as_of, int(store.settings.due_soon_days), store.tz)
    return _refresh(store, as_of, rules, values, horizon, fresh)


def evaluate(store, as_of: dt.datetime, rules: list[Rule], *,
             fresh: bool = False) -> tuple[int, dict]:
    """``engine._evaluate`` for a moment of now: the same run id, items and counts, from
    the stored results (renewed first where stale; the time spans of the "moment" rules'
    texts written for ``as_of``)."""
    if len({r.seq for r in rules}) != len(rules) or max(r.seq for r in rules) > 62:
        raise RuleError("rules need distinct positions below 63 (one bit each)")
    renew(store, as_of, rules, fresh=fresh)
    counts: dict[str, dict[int, tuple]] = {}
    to_keep: list[tuple[str, str, dict]] = []
    with store.cursor() as cur:
        eng._prepare(cur, rules)
        cur.execute(_RENDER)
        run_id = eng._new_run_id(cur)
        # One snapshot of the stored results.
        cur.execute("BEGIN TRANSACTION")
        try:
            gens = dict(cur.execute(f"SELECT rule_id, gen FROM {SCHEMA}.rule_state").fetchall())
            missing = [r.rule_id for r in rules if r.rule_id not in gens]
            if missing:
                raise RuleError(f"no stored result for {', '.join(missing)}")
            _assemble_items(cur, rules, gens, run_id, as_of)
            for entity_type in ENTITY_TYPES:
                group = [r for r in rules if r.entity_type == entity_type]
                if not group:
                    continue
                subsets = eng._subsets(rules, group)
                state_key = json.dumps([sorted((r.rule_id, r.seq, gens[r.rule_id])
                                               for r in group), subsets])
                hit = cur.execute(f"SELECT counts FROM {SCHEMA}.group_counts "
                                  "WHERE entity_type = ? AND state_key = ?",
                                  [entity_type, state_key]).fetchall()
                if hit:
                    counts[entity_type] = {int(k): tuple(v)
                                           for k, v in json.loads(hit[0][0]).items()}
                    continue
                key_range = eng._key_range(cur, entity_type)
                if key_range is None:
                    counts[entity_type] = eng._mask_counts(cur, group, {}, subsets, stored=group)
                else:
                    counts[entity_type] = eng._bitmap_counts(cur, group, {}, subsets,
                                                             *key_range, stored=group)
                to_keep.append((entity_type, state_key, counts[entity_type]))
            cur.execute(f"INSERT INTO {eng.CACHE_DB}.runs VALUES (?, ?)", [run_id, as_of])
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
    if to_keep:
        # A transaction writes one database: the counts go to the store in their own.
        with store._write_lock, store.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            cur.executemany(f"INSERT OR REPLACE INTO {SCHEMA}.group_counts VALUES (?, ?, ?)",
                            [[t, key, json.dumps({str(k): list(v) for k, v in c.items()})]
                             for t, key, c in to_keep])
            cur.execute("COMMIT")
    return run_id, counts


def _assemble_items(cur, rules: list[Rule], gens: dict[str, int], run_id: int,
                    as_of: dt.datetime) -> None:
    """The run's findings and due items (``engine.run_items``): a rule's stored items are
    read in place, by its generation, with the rule's metadata as it is now
    (``run_stored``): nothing is copied, so a run over 10 M records costs no more after a
    write than before. A "moment" rule's texts are written for ``as_of``: its items are
    copied, rendered, into the run's rows (a few thousand)."""
    live = [r for r in rules if r.refresh == "moment"]
    cur.execute(
        f"INSERT INTO {eng.CACHE_DB}.run_stored SELECT $run_id, m.rule_id, s.gen, m.rule_seq, "
        "m.clause, m.article, m.severity, m.severity_rank, m.entity_type "
        f"FROM {eng.CACHE_DB}.rules m JOIN (SELECT unnest($ids) AS rule_id, unnest($gens) "
        "AS gen) s ON s.rule_id = m.rule_id",
        {"run_id": run_id, "ids": [r.rule_id for r in rules if r not in live],
         "gens": [gens[r.rule_id] for r in rules if r not in live]})
    if live:
        cur.execute(
            f"INSERT INTO {eng.CACHE_DB}.run_rows SELECT $run_id, e.kind, m.rule_seq, "
            "m.rule_id, m.clause, m.article, m.severity, m.severity_rank, m.entity_type, "
            "e.entity_id, e.entity_num, rule_live_render(e.detail, $as_of), e.due_at "
            f"FROM {SCHEMA}.items e JOIN {eng.CACHE_DB}.rules m ON m.rule_id = e.rule_id "
            "WHERE list_contains($ids, e.rule_id)",
            {"run_id": run_id, "as_of": as_of, "ids": [r.rule_id for r in live]})


# -- the renewer: stored results kept current between page views ---------------------------

RENEW_EVERY = 60.0      # seconds between two looks at the stored results (server only)
_RENEWER: dict[str, Any] = {"enabled": False, "threads": {}}


def enable_renewer() -> None:
    """Record that this process is the app's server (``server.py`` calls it): the store the
    app opens gets a renewer thread (``start_renewer``). Tests of pages (AppTest) and the
    command line never start one."""
    _RENEWER["enabled"] = True


def start_renewer(store, every: float = RENEW_EVERY) -> "threading.Event | None":
    """On a server (``enable_renewer``), a daemon thread that renews ``store``'s stale
    results now and then every ``every`` seconds: at a new day (every rule), after a write
    (the rules that read it) or once an incident deadline has passed, the work is done
    between page views, so that a page finds the results current. At most one thread per
    store file; it ends when the store is closed. Returns the event that stops it (None
    when not a server or already running, or the store is read-only or has no stored
    evaluation)."""
    import logging
    import threading
    key = str(store.path)
    if not _RENEWER["enabled"] or store.read_only or key in _RENEWER["threads"]:
        return None
    if not available(store):
        return None
    stop = threading.Event()
    log = logging.getLogger(__name__)

    def run() -> None:
        try:
            while not stop.is_set():
                try:
                    renew(store)
                except Exception as exc:           # a closed store ends the thread
                    if "closed" in str(exc).lower():
                        return
                    log.warning("renewing the stored evaluation failed: %s", exc)
                stop.wait(every)
        finally:
            _RENEWER["threads"].pop(key, None)

    thread = threading.Thread(target=run, name="evaluation-renewer", daemon=True)
    _RENEWER["threads"][key] = (thread, stop)
    thread.start()
    return stop


# -- stored page summaries (migration 0014) ------------------------------------------------

SUMMARY_DAYS = 2     # a summary computed longer ago than this is dropped when another is kept


def summaries_available(store) -> bool:
    """Whether the store keeps page summaries: writable, with migration 0014."""
    if store.read_only:
        return False
    with store.cursor() as cur:
        if not store.has_evaluation(cur):
            return False
        return cur.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                           "current_database() AND schema_name = ? AND table_name = "
                           "'summaries'", [SCHEMA]).fetchall()[0][0] == 1


def summary(store, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    """``sql``'s result, as ``store.df`` gives it, kept in the store until a table it reads
    changes: the first page that asks computes it (one scan of the register), the next
    reads it back. Its key is the query and its parameters (the check date among them, so
    a new day computes it afresh). A read-only store, or one without migration 0014,
    computes it each time."""
    if not summaries_available(store):
        return store.df(sql, params)
    key = hashlib.sha256(json.dumps([FORMAT, sql, sorted(params.items())], default=str)
                         .encode()).hexdigest()
    started = time.perf_counter()
    with store.cursor() as cur:
        tables, views = _catalog(cur)
        read = reads(sql, tables, views)
        cur.execute("BEGIN TRANSACTION")        # the versions and the result: one snapshot
        try:
            inputs = _inputs(read, _versions(cur))
            hit = cur.execute(f"SELECT frame FROM {SCHEMA}.summaries WHERE key = ? AND "
                              "inputs = ?", [key, inputs]).fetchall()
            frame = None if hit else cur.execute(sql, params).df()
        finally:
            cur.execute("COMMIT")
    if hit:
        return pd.read_parquet(io.BytesIO(hit[0][0]))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    with store._write_lock, store.cursor() as cur:
        cur.execute("BEGIN TRANSACTION")
        cur.execute(f"DELETE FROM {SCHEMA}.summaries WHERE computed_at < ?",
                    [store.now() - dt.timedelta(days=SUMMARY_DAYS)])
        cur.execute(f"INSERT OR REPLACE INTO {SCHEMA}.summaries VALUES (?, ?, ?, ?, ?)",
                    [key, inputs, store.now(), time.perf_counter() - started,
                     buffer.getvalue()])
        cur.execute("COMMIT")
    return frame


def forget(store) -> None:
    """Drop every stored result (``check --fresh`` re-runs them all) and page summary:
    derived data only."""
    tables = ["rule_state", "items", "entities", "bitmaps", "group_counts"]
    if summaries_available(store):
        tables.append("summaries")
    with store._write_lock, store.cursor() as cur:
        cur.execute("BEGIN TRANSACTION")
        for table in tables:
            cur.execute(f"DELETE FROM {SCHEMA}.{table}")
        cur.execute("COMMIT")

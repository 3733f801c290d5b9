"""The compliance engine: rules -> findings, due items, scores, snapshots, and ``check``.

How a check runs
----------------
Every rule (``dashboard.rules``) is a SELECT over the registers that yields its
*applicable* entities with ``failing``, ``detail`` and ``due_at``. For each entity type
the engine makes two passes over that type's rules, all parameters bound (never
formatted in):

1. the rows that matter - failing ones (findings) and open ones whose ``due_at`` falls
   within ``settings.due_soon_days`` (due items) - go into an in-memory DuckDB table
   (``compliance_check.run_rows``, an attached ``:memory:`` database shared by every cursor
   of the store's connection; nothing is written to the store file; a stored run reads
   them from the stored evaluation instead, ``run_items``);
2. the counts behind the scores, over distinct entities: for every rule, clause,
   article and all rules, how many entities at least one of the rules applies to and how
   many fail at least one. For a register keyed by integers (retention records) each rule
   becomes two bitmaps over the key range (applies, fails) and a set of rules counts the
   bits of their union - one scan per rule, no GROUP BY over millions of ids; for the
   others, one GROUP BY entity gives per entity the bitmask of rules that apply and that
   fail, counted per (applies, fails) pair.

So a check over 10 million retention records never brings a register into Python, and
pages aggregate and page through findings in SQL (``finding_counts``, ``findings_page``,
``due_counts``, ``due_page``), keyed by ``as_of`` and the store's ``data_version``.

Time: the engine never reads the clock. ``as_of`` is a date (the close of that day in
the settings' time zone, Asia/Shanghai), an ISO timestamp, or an aware datetime; ``None``
means ``store.now()`` (the store's clock, frozen in tests). Scores: see docs/RULES.md.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence, TextIO
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from .access import Actor
from .rules import (ENTITY_REGISTER, ENTITY_TYPES, PARAMETERS, SEVERITIES, SEVERITY_RANK, Rule,
                    RuleError, load_rules, macros_sql, rules_digest)
from .settings import Settings
from . import stored

__all__ = [
    "CheckResult", "Summary", "RuleError", "load_rules", "parse_as_of", "rule_parameters",
    "run_check", "check_summary", "findings_page", "finding_counts", "due_page", "due_counts",
    "items_query", "save_snapshot", "snapshots", "snapshot_scores", "current_as_of",
    "register_cli", "SEVERITIES",
]

CACHE_DB = "compliance_check"          # the attached in-memory database's name
RUNS_KEPT = 4                          # evaluations kept per store for the pages
FINDING, DUE = "finding", "due"

FINDING_COLUMNS = ["rule_id", "clause", "severity", "entity_type", "entity_id", "detail",
                   "due_at"]
DUE_COLUMNS = ["rule_id", "clause", "severity", "entity_type", "entity_id", "due_at", "detail"]
GROUPABLE = ("rule_id", "clause", "article", "severity", "entity_type")


# -- as_of ----------------------------------------------------------------------------------

def parse_as_of(value: dt.date | dt.datetime | str | None, tz: ZoneInfo | str,
                now: dt.datetime | None = None) -> dt.datetime:
    """The check moment as an aware datetime in ``tz``.

    "Today" means now: ``None``, or today's date (in ``tz``), is ``now``; a past date (or
    ``YYYY-MM-DD``) is the close of that day in ``tz`` (23:59:59.999999), so everything that
    happened that day counts; an ISO timestamp without an offset is ``tz`` time. A date or
    moment after ``now`` is refused: the engine never states what is not true yet. ``now``
    is required (the engine does not read the clock). Raises ``ValueError`` naming the value.
    """
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    if now is None:
        raise ValueError("as_of needs the current moment: the engine does not read the clock")
    now = now.astimezone(tz)
    if value is None:
        return now
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                value = dt.date.fromisoformat(text)
            else:
                value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"as-of {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 timestamp "
                f"(2026-11-24T09:30:00+08:00)") from None
    if isinstance(value, dt.datetime):
        moment = value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
        if moment > now:
            raise ValueError(f"as-of {moment.isoformat(timespec='seconds')} is in the future "
                             f"(now is {now.isoformat(timespec='seconds')}): a check states "
                             "only what is true already")
        return moment
    if isinstance(value, dt.date):
        today = now.date()
        if value > today:
            raise ValueError(f"as-of {value.isoformat()} is in the future (today is "
                             f"{today.isoformat()} in {tz.key}): a check states only what "
                             "is true already")
        if value == today:
            return now
        return dt.datetime.combine(value, dt.time.max, tzinfo=tz)
    raise ValueError(f"as-of {value!r} is not a date, a datetime or an ISO string")


def due_horizon(as_of: dt.datetime, days: int, tz: ZoneInfo | str | None = None) -> dt.datetime:
    """The one boundary of every "due within N days" in the app, the CLI and the exports:
    the close of day ``N`` counted from ``as_of``'s day (today is day 0) in ``tz`` (default
    ``as_of``'s zone). So "within 30 days" includes everything due on the 30th day, whatever
    the hour, and a date-only deadline (``due_on``) is within it exactly when
    ``due_on <= as_of's date + N`` (``due_horizon_date``)."""
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"within {days!r} days: must be a whole number of days, 0 or more")
    tz = ZoneInfo(tz) if isinstance(tz, str) else (tz or as_of.tzinfo)
    last_day = as_of.astimezone(tz).date() + dt.timedelta(days=days)
    return dt.datetime.combine(last_day, dt.time.max, tzinfo=tz)


def due_horizon_date(as_of: dt.date, days: int) -> dt.date:
    """``due_horizon`` for date-only deadlines: the last day that is still "within"."""
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"within {days!r} days: must be a whole number of days, 0 or more")
    return as_of + dt.timedelta(days=days)


# How long a live evaluation serves the pages when nothing it reads has changed. Time-only
# changes (an incident clock passing its deadline) show within this; every write shows at
# once (the store's data version moves, so pages ask for a new moment).
LIVE_REUSE = dt.timedelta(seconds=60)
_LIVE_MOMENTS: dict[str, tuple[int, dt.datetime]] = {}


def current_as_of(store) -> str:
    """The ``as_of`` the pages pass for "now", as ISO text: the current moment, kept for
    ``LIVE_REUSE`` while the store does not change (so a page's cached queries share one
    evaluation), and renewed at once after any write, including a plan or an
    acknowledgement, so that what was just saved shows on the next render in every session."""
    now = store.now()
    key = _store_key(store)
    with _GUARD:
        hit = _LIVE_MOMENTS.get(key)
        if hit is not None and hit[0] == store.data_version and \
                dt.timedelta(0) <= now - hit[1] < LIVE_REUSE:
            return hit[1].isoformat()
        _LIVE_MOMENTS[key] = (store.data_version, now)
    return now.isoformat()


def rule_parameters(settings: Settings, as_of: dt.datetime) -> dict[str, Any]:
    """Every parameter of ``rules.PARAMETERS``, from the settings and the check moment."""
    values: dict[str, Any] = {"as_of": as_of, "as_of_date": as_of.date()}
    for name, (_type, _meaning, setting) in PARAMETERS.items():
        if name in values:
            continue
        values[name] = settings.regulator_hours() if name == "regulator_hours" \
            else getattr(settings, setting)
    return values


# -- results --------------------------------------------------------------------------------

@dataclass
class Summary:
    """Scores and counts of one evaluation (no findings loaded)."""

    as_of: dt.datetime
    rule_scores: pd.DataFrame
    clause_scores: pd.DataFrame
    article_scores: pd.DataFrame
    overall: float | None
    entities_applicable: int
    entities_failing: int
    finding_total: int
    due_total: int
    findings_by_severity: dict[str, int]
    settings: dict[str, Any]
    rules_digest: str
    run_id: int = field(repr=False, default=0)

    @property
    def snapshot_date(self) -> dt.date:
        return self.as_of.date()


@dataclass
class CheckResult(Summary):
    """A check: its scores plus every finding and due item."""

    findings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FINDING_COLUMNS))
    due: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DUE_COLUMNS))


# -- evaluation ----------------------------------------------------------------------------

_RUN_IDS = itertools.count(1)
_GUARD = threading.Lock()
_STORE_LOCKS: dict[str, threading.RLock] = {}
_RUNS: dict[str, "OrderedDict[tuple, Summary]"] = {}


def _store_key(store) -> str:
    return str(store.path.resolve())


def _lock_for(store) -> threading.RLock:
    with _GUARD:
        return _STORE_LOCKS.setdefault(_store_key(store), threading.RLock())


# A run's findings and due items (``run_items``) come from two places: rows in memory
# (``run_rows``: a full evaluation's, and the "moment" rules' of a stored run, their texts
# written for its moment) and, for the other rules of a stored run (dashboard/stored.py),
# the stored items of the rule's generation, read in place with the rule's metadata as
# the run found it (``run_stored``). So a stored run copies no rows but the moment rules':
# after a write, or in a fresh process, the million findings of the 10 M-record rules are
# not copied again.
_CACHE_DDL = f"""
CREATE TABLE IF NOT EXISTS {CACHE_DB}.rules (
    rule_seq INTEGER PRIMARY KEY, rule_id VARCHAR, clause VARCHAR, article VARCHAR,
    severity VARCHAR, severity_rank INTEGER, entity_type VARCHAR, title VARCHAR);
CREATE TABLE IF NOT EXISTS {CACHE_DB}.run_rows (
    run_id BIGINT, kind VARCHAR, rule_seq INTEGER, rule_id VARCHAR, clause VARCHAR,
    article VARCHAR, severity VARCHAR, severity_rank INTEGER, entity_type VARCHAR,
    entity_id VARCHAR, entity_num BIGINT, detail VARCHAR, due_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS {CACHE_DB}.run_stored (
    run_id BIGINT, rule_id VARCHAR, gen BIGINT, rule_seq INTEGER, clause VARCHAR,
    article VARCHAR, severity VARCHAR, severity_rank INTEGER, entity_type VARCHAR);
CREATE TABLE IF NOT EXISTS {CACHE_DB}.runs (run_id BIGINT PRIMARY KEY, as_of TIMESTAMPTZ);
"""


def run_items(store) -> str:
    """The SQL of every run's findings and due items, as a parenthesised subquery to
    select from with ``WHERE run_id = ?``: the columns of ``run_rows``."""
    rows = f"SELECT * FROM {CACHE_DB}.run_rows"
    if not stored.available(store):
        return f"({rows})"
    return (f"({rows} UNION ALL SELECT s.run_id, e.kind, s.rule_seq, s.rule_id, s.clause, "
            "s.article, s.severity, s.severity_rank, s.entity_type, e.entity_id, e.entity_num, "
            f"e.detail, e.due_at FROM {CACHE_DB}.run_stored s JOIN {stored.SCHEMA}.items e "
            "ON e.rule_id = s.rule_id AND e.gen = s.gen)")


def _prepare(cur, rules: list[Rule]) -> None:
    """Attach the in-memory results database (once per DuckDB instance), load the rule
    metadata into it, and define the rules' helper macros on this cursor."""
    cur.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {CACHE_DB} (READ_WRITE)")
    cur.execute(_CACHE_DDL)
    wanted = [(r.seq, r.rule_id, r.clause, r.article, r.severity, r.severity_rank,
               r.entity_type, r.title) for r in rules]
    known = cur.execute(f"SELECT * FROM {CACHE_DB}.rules ORDER BY rule_seq").fetchall()
    if known != wanted:
        cur.execute(f"DELETE FROM {CACHE_DB}.rules")
        # one statement (executemany runs one per row: 0.02 s for 34 rules)
        cur.execute(f"INSERT INTO {CACHE_DB}.rules VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(wanted)),
                    [v for row in wanted for v in row])
    cur.execute(macros_sql())


CALENDAR = f"{CACHE_DB}.calendar_days"


def _prepare_calendar(cur, settings: Settings, as_of: dt.datetime, store=None) -> str:
    """The working-day calendar the DSR rules read (``compliance_check.calendar_days``):
    one row per day with ``working``, ``provisional`` and ``working_seq`` (working days
    from the first day through this one), from ``dashboard.workdays`` with the check's
    settings (the override file included), for 2019 (or the earliest request's year)
    through two years after the as-of or the latest request. Rebuilt only when the
    settings or the years change; like the results, it lives in the in-memory database,
    so a read-only store can be checked. With ``store`` (the stored evaluation: a writable
    store with migration 0013) the rows are also kept in ``evaluation.calendar`` under
    their key, so that another process reads them instead of computing them. Returns the
    key."""
    from . import reference, workdays
    lo, hi = cur.execute("SELECT min(year(received_at)), max(year(received_at)) "
                         "FROM rights_requests").fetchone()
    years = [y for y in (lo, hi) if y is not None]
    first, last = reference.calendar_range(as_of.date(), *years)
    path = workdays.override_path(settings)
    stamp = _calendar_stamp(settings)      # "missing": workdays raises SettingsError below
    key = json.dumps([first, last, str(path), stamp, max(workdays.PACKAGE_YEARS)],
                     default=str)
    cur.execute(f"CREATE TABLE IF NOT EXISTS {CACHE_DB}.calendar_meta (key VARCHAR)")
    cur.execute(f"CREATE TABLE IF NOT EXISTS {CALENDAR} (day DATE PRIMARY KEY, "
                "working BOOLEAN, provisional BOOLEAN, working_seq INTEGER, "
                "provisional_seq INTEGER)")
    if cur.execute(f"SELECT key FROM {CACHE_DB}.calendar_meta").fetchone() == (key,):
        return key
    cur.execute(f"DELETE FROM {CALENDAR}")
    if store is not None and cur.execute(
            "SELECT count(*) FROM evaluation.calendar WHERE key = ?", [key]).fetchall()[0][0]:
        # built by an earlier process for the same key (dashboard.stored)
        cur.execute(f"INSERT INTO {CALENDAR} SELECT day, working, provisional, working_seq, "
                    "provisional_seq FROM evaluation.calendar WHERE key = ?", [key])
    else:
        rows = workdays.calendar_rows(first, last, settings)
        frame = pd.DataFrame(rows, columns=["day", "working", "provisional"])
        frame["working_seq"] = frame["working"].astype("int64").cumsum()
        frame["provisional_seq"] = frame["provisional"].astype("int64").cumsum()
        cur.register("engine_calendar_rows", frame)
        try:
            cur.execute(f"INSERT INTO {CALENDAR} SELECT CAST(day AS DATE), working, "
                        "provisional, working_seq, provisional_seq FROM engine_calendar_rows")
        finally:
            cur.unregister("engine_calendar_rows")
        if store is not None:
            with store._write_lock, store.cursor() as w:
                w.execute("BEGIN TRANSACTION")
                w.execute("DELETE FROM evaluation.calendar")
                w.execute(f"INSERT INTO evaluation.calendar SELECT ?, * FROM {CALENDAR}", [key])
                w.execute("COMMIT")
    cur.execute(f"DELETE FROM {CACHE_DB}.calendar_meta")
    cur.execute(f"INSERT INTO {CACHE_DB}.calendar_meta VALUES (?)", [key])
    return key


def _branch_params(rules: Iterable[Rule], values: dict[str, Any], extra: dict[str, Any]) -> dict:
    names: dict[str, None] = {}
    for r in rules:
        for p in r.params:
            names.setdefault(p, None)
    params = {n: values[n] for n in names}
    params.update(extra)
    return params


def _integer_key(entity_type: str) -> str | None:
    """The register's key column if it holds integers (retention records), else None."""
    from .registers import INTEGER, REGISTERS
    register = REGISTERS[ENTITY_REGISTER[entity_type]]
    return register.key if register.column(register.key).type == INTEGER else None


def _items_sql(rules: list[Rule]) -> str:
    numeric = _integer_key(rules[0].entity_type) is not None   # sort record ids as numbers
    branches = []
    for r in rules:
        num = "CAST(entity_id AS BIGINT)" if numeric else "CAST(NULL AS BIGINT)"
        branches.append(
            f"SELECT {r.seq} AS rule_seq, CAST(entity_id AS VARCHAR) AS entity_id, "
            f"{num} AS entity_num, failing, detail, due_at\n"
            f"FROM (\n{r.query}\n) AS rule_{r.seq}\n"
            f"WHERE failing OR (due_at IS NOT NULL AND due_at <= $horizon)")
    union = "\nUNION ALL\n".join(branches)
    return (
        f"INSERT INTO {CACHE_DB}.run_rows\n"
        f"SELECT $run_id, CASE WHEN u.failing THEN '{FINDING}' ELSE '{DUE}' END, u.rule_seq, "
        f"m.rule_id, m.clause, m.article, m.severity, m.severity_rank, m.entity_type, "
        f"u.entity_id, u.entity_num, u.detail, u.due_at\n"
        f"FROM (\n{union}\n) AS u JOIN {CACHE_DB}.rules m ON m.rule_seq = u.rule_seq")


BITMAP_MAX_BITS = 1 << 27    # 16 MiB per bitmap; wider integer key ranges use the masks


def _subsets(rules: list[Rule], group: list[Rule]) -> list[int]:
    """The sets of rules (bitmasks of rule positions), within one entity type, whose
    distinct-entity counts the scores need: each rule, each clause, each article, all."""
    group_bits = sum(1 << r.seq for r in group)
    sets = {1 << r.seq for r in group} | {group_bits}
    for level in ("clause", "article"):
        by: dict[str, int] = {}
        for r in rules:
            by[getattr(r, level)] = by.get(getattr(r, level), 0) | (1 << r.seq)
        sets |= {bits & group_bits for bits in by.values() if bits & group_bits}
    return sorted(sets)


def _masks_sql(rules: list[Rule], stored: Sequence[Rule] = ()) -> str:
    """``stored``: rules of the group whose applicable entities are read from the stored
    evaluation (``dashboard.stored``) instead of running them; their ids are the
    parameter ``$stored_ids``. Entity ids are compared as text then."""
    as_text = "CAST(entity_id AS VARCHAR)" if stored else "entity_id"
    branches = [
        f"SELECT {as_text} AS entity_id, failing, CAST({1 << r.seq} AS UBIGINT) AS bit\n"
        f"FROM (\n{r.query}\n) AS rule_{r.seq}"
        for r in rules
    ]
    if stored:
        branches.append(
            "SELECT e.entity_id, e.failing, CAST(1 AS UBIGINT) << m.rule_seq AS bit\n"
            f"FROM evaluation.entities e JOIN {CACHE_DB}.rules m ON m.rule_id = e.rule_id\n"
            "WHERE list_contains($stored_ids, e.rule_id)")
    union = "\nUNION ALL\n".join(branches)
    return (
        "SELECT app, fail, count(*) AS n, sum(nulls) AS nulls, sum(dups) AS dups FROM (\n"
        "  SELECT entity_id, bit_or(bit) AS app,\n"
        "         bit_or(CASE WHEN failing THEN bit ELSE CAST(0 AS UBIGINT) END) AS fail,\n"
        "         count_if(failing IS NULL) AS nulls, count(*) - bit_count(bit_or(bit)) AS dups\n"
        f"  FROM (\n{union}\n  ) AS u GROUP BY entity_id\n"
        ") AS per_entity GROUP BY app, fail")


def _mask_counts(cur, group: list[Rule], params: dict, subsets: list[int],
                 stored: Sequence[Rule] = ()) -> dict[int, tuple]:
    """Distinct-entity counts from one GROUP BY entity: per entity, the bitmask of the rules
    that apply and of those that fail; entities counted per (applies, fails) pair.
    ``group`` holds the rules run here, ``stored`` those read from the stored evaluation."""
    run = [r for r in group if r not in stored]
    if stored:
        params = {**params, "stored_ids": [r.rule_id for r in stored]}
    rows = cur.execute(_masks_sql(run, stored), params).fetchall()
    return _mask_rows_counts(rows, group, subsets)


def _mask_rows_counts(rows: list[tuple], group: list[Rule], subsets: list[int]
                      ) -> dict[int, tuple]:
    """The counts from the (applies mask, fails mask, entities, nulls, duplicates) rows of
    ``_masks_sql``."""
    for app, _fail, _n, nulls, dups in rows:
        if nulls or dups:
            bad = ", ".join(r.rule_id for r in group if int(app) >> r.seq & 1)
            raise RuleError(f"a rule among {bad} returned " + (
                "failing = NULL" if nulls else "the same entity more than once"))
    return {
        bits: (sum(int(n) for app, _f, n, _x, _d in rows if int(app) & bits),
               sum(int(n) for _a, fail, n, _x, _d in rows if int(fail) & bits))
        for bits in subsets
    }


def _bitmap_counts(cur, group: list[Rule], params: dict, subsets: list[int],
                   lo: int, hi: int, stored: Sequence[Rule] = ()) -> dict[int, tuple]:
    """The same counts for an integer-keyed register (retention records), without a GROUP BY:
    each rule becomes two bitmaps over the key range (entities that apply, that fail), and
    a set of rules counts the bits of their union. One scan per rule; a rule of ``stored``
    reads its bitmaps from the stored evaluation (computed over the same key range).

    An empty set is a NULL bitmap (``bitstring_agg`` of no rows). A stored one is known
    before the query and left out of the unions; a computed one is replaced by a zero
    bitmap once, in its materialised CTE: a ``coalesce`` with a zero bitmap of 10 M bits
    in every union cost 0.05 s each (1 s a count on the large store)."""
    empty: set[tuple[int, str]] = set()
    if stored:
        seqs = {r.rule_id: r.seq for r in stored}
        for rule_id, no_a, no_f in cur.execute(
                "SELECT rule_id, applies IS NULL, fails IS NULL FROM evaluation.bitmaps "
                "WHERE list_contains(?, rule_id)", [list(seqs)]).fetchall():
            empty |= {(seqs[rule_id], k) for k, none in (("a", no_a), ("f", no_f)) if none}
    computed = [r for r in group if r not in stored]
    ctes = ["z AS MATERIALIZED (SELECT bitstring('0', CAST($hi - $lo + 1 AS INTEGER)) AS zero)"
            ] if computed else []
    ctes += [
        f"r{r.seq} AS (SELECT applies AS a, fails AS f, n, nulls FROM evaluation.bitmaps "
        f"WHERE rule_id = '{r.rule_id}')" if r in stored else          # ids: [A-Z0-9-]
        f"r{r.seq} AS MATERIALIZED (SELECT coalesce(a, zero) AS a, coalesce(f, zero) AS f, "
        f"n, nulls FROM (SELECT bitstring_agg(entity_id, $lo, $hi) AS a, "
        f"bitstring_agg(entity_id, $lo, $hi) FILTER (WHERE failing) AS f, "
        f"count(*) AS n, count_if(failing IS NULL) AS nulls FROM (\n{r.query}\n) AS q), z)"
        for r in group
    ]

    def union(kind: str, bits: int) -> str:
        parts = [f"r{r.seq}.{kind}" for r in group
                 if bits >> r.seq & 1 and (r.seq, kind) not in empty]
        return f"bit_count({' | '.join(parts)})" if parts else "0"

    checks = [f"r{r.seq}.n, r{r.seq}.nulls, {union('a', 1 << r.seq)}" for r in group]
    counts = [f"{union('a', bits)}, {union('f', bits)}" for bits in subsets]
    sql = (f"WITH {', '.join(ctes)}\nSELECT {', '.join(checks + counts)}\n"
           f"FROM {', '.join(f'r{r.seq}' for r in group)}")
    row = cur.execute(sql, {**params, "lo": lo, "hi": hi} if computed else params
                      ).fetchall()[0]
    for i, r in enumerate(group):
        n, nulls, distinct = row[3 * i: 3 * i + 3]
        if nulls:
            raise RuleError(f"{r.rule_id} returned failing = NULL for {nulls} entities")
        if n != distinct:
            raise RuleError(f"{r.rule_id} returned the same entity more than once")
    rest = row[3 * len(group):]
    return {bits: (int(rest[2 * i]), int(rest[2 * i + 1])) for i, bits in enumerate(subsets)}


def _key_range(cur, entity_type: str) -> tuple[int, int] | None:
    """(min, max) of the register's key if it is an integer key narrow enough for bitmaps."""
    key = _integer_key(entity_type)
    if key is None:
        return None
    lo, hi = cur.execute(f"SELECT min({key}), max({key}) "   # names from registers.py
                         f"FROM {ENTITY_REGISTER[entity_type]}").fetchone()
    if lo is None:
        return (0, 0)
    return (lo, hi) if hi - lo + 1 <= BITMAP_MAX_BITS else None


def _new_run_id(cur) -> int:
    """A run id not in use. Ids are unique per DuckDB instance, whose in-memory results
    outlive this module when Streamlit imports it afresh after a source file changed (a new
    counter): never reuse an id still stored there."""
    stored = cur.execute(f"SELECT max(run_id) FROM {CACHE_DB}.runs").fetchall()[0][0]
    return max(next(_RUN_IDS), (stored or 0) + 1)


def _reads_calendar(rule: Rule) -> bool:
    """Whether the rule reads the working-day calendar (``_prepare_calendar``)."""
    return "calendar_days" in rule.query


def _evaluate(store, as_of: dt.datetime, rules: list[Rule]) -> tuple[int, dict]:
    """Run every rule; store findings and due items under a new run id; return it and, per
    entity type, {rule-set bitmask: (distinct applicable, distinct failing)}."""
    if len({r.seq for r in rules}) != len(rules) or max(r.seq for r in rules) > 62:
        raise RuleError("rules need distinct positions below 63 (one bit each)")
    values = rule_parameters(store.settings, as_of)
    horizon = due_horizon(as_of, int(store.settings.due_soon_days), store.tz)
    counts: dict[str, dict[int, tuple]] = {}
    with store.cursor() as cur:
        _prepare(cur, rules)
        if any(_reads_calendar(r) for r in rules):
            _prepare_calendar(cur, store.settings, as_of)
        run_id = _new_run_id(cur)
        # One snapshot for every statement of the evaluation: a write committed meanwhile
        # (an import, an acknowledgement) is either wholly in it or wholly out, so the
        # findings stored and the counts behind the scores always agree.
        cur.execute("BEGIN TRANSACTION")
        try:
            for entity_type in ENTITY_TYPES:
                group = [r for r in rules if r.entity_type == entity_type]
                if not group:
                    continue
                params = _branch_params(group, values, {})
                cur.execute(_items_sql(group), {**params, "run_id": run_id, "horizon": horizon})
                subsets = _subsets(rules, group)
                key_range = _key_range(cur, entity_type)
                if key_range is None:
                    counts[entity_type] = _mask_counts(cur, group, params, subsets)
                else:
                    counts[entity_type] = _bitmap_counts(cur, group, params, subsets, *key_range)
            cur.execute(f"INSERT INTO {CACHE_DB}.runs VALUES (?, ?)", [run_id, as_of])
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
    return run_id, counts


def _score(applicable: int, failing: int) -> float:
    return (applicable - failing) / applicable if applicable else math.nan


def _count(counts: dict[str, dict[int, tuple]], bits: int) -> tuple[int, int]:
    """Distinct entities that the rules in ``bits`` apply to, and that fail one of them
    (entity types never overlap, so their counts add up)."""
    applicable = failing = 0
    for per_set in counts.values():
        group_bits = max(per_set)                 # the whole group is the widest set
        sub = bits & group_bits
        if sub:
            a, f = per_set[sub]
            applicable += a
            failing += f
    return applicable, failing


def _summarise(store, as_of: dt.datetime, rules: list[Rule], run_id: int,
               counts: dict[str, dict[int, tuple]]) -> Summary:
    from .reference import clause_map
    with store.cursor() as cur:
        per_rule = dict(
            ((seq, kind), n) for seq, kind, n in cur.execute(
                f"SELECT rule_seq, kind, count(*) FROM {run_items(store)} WHERE run_id = ? "
                "GROUP BY ALL", [run_id]).fetchall())
        due_by = {}
        for level in ("clause", "article"):
            due_by[level] = dict(cur.execute(
                f"SELECT {level}, count(DISTINCT (entity_type, entity_id)) FROM {run_items(store)} "
                f"WHERE run_id = ? AND kind = '{DUE}' GROUP BY ALL", [run_id]).fetchall())
    rule_rows = []
    for r in rules:
        applicable, failing = _count(counts, 1 << r.seq)
        if failing != per_rule.get((r.seq, FINDING), 0):
            raise RuleError(f"{r.rule_id}: {failing} failing entities but "
                            f"{per_rule.get((r.seq, FINDING), 0)} findings stored")
        rule_rows.append({
            "rule_id": r.rule_id, "clause": r.clause, "article": r.article,
            "severity": r.severity, "title": r.title, "entity_type": r.entity_type,
            "applicable": applicable, "failing": failing,
            "due": per_rule.get((r.seq, DUE), 0), "score": _score(applicable, failing),
        })
    clauses = clause_map()

    def grouped(level: str) -> pd.DataFrame:
        keys: dict[str, int] = {}
        for r in rules:
            key = getattr(r, level)
            keys[key] = keys.get(key, 0) | (1 << r.seq)
        rows = []
        for key in sorted(keys, key=lambda k: [int(p) for p in k.split(".")]):
            applicable, failing = _count(counts, keys[key])
            c = clauses.get(key)
            rows.append({
                level: key,
                **({"article": key.split(".")[0]} if level == "clause" else {}),
                "title": c.title if c else "",
                "rules": bin(keys[key]).count("1"),
                "applicable": applicable, "failing": failing,
                "due": due_by[level].get(key, 0), "score": _score(applicable, failing),
            })
        return pd.DataFrame(rows)

    clause_scores = grouped("clause")
    article_scores = grouped("article")
    applicable_clauses = clause_scores[clause_scores["applicable"] > 0]
    overall = float(applicable_clauses["score"].mean()) if len(applicable_clauses) else None
    all_bits = sum(1 << r.seq for r in rules)
    entities_applicable, entities_failing = _count(counts, all_bits)
    by_severity = {s: 0 for s in SEVERITIES}
    for row in rule_rows:
        by_severity[row["severity"]] += row["failing"]
    return Summary(
        as_of=as_of, rule_scores=pd.DataFrame(rule_rows), clause_scores=clause_scores,
        article_scores=article_scores, overall=overall,
        entities_applicable=entities_applicable, entities_failing=entities_failing,
        finding_total=sum(row["failing"] for row in rule_rows),
        due_total=sum(row["due"] for row in rule_rows), findings_by_severity=by_severity,
        settings=store.settings.as_dict(), rules_digest=rules_digest(), run_id=run_id,
    )


def _cache_key(store, as_of: dt.datetime) -> tuple:
    return (as_of.isoformat(), getattr(store, "input_version", store.data_version),
            json.dumps(store.settings.as_dict(), sort_keys=True, default=str), rules_digest(),
            _calendar_stamp(store.settings))


def _calendar_stamp(settings: Settings) -> Any:
    """The working-day override file's modification time and size, if the settings name one:
    editing the file (a year's official arrangement) renews the evaluation."""
    from .workdays import override_path
    path = override_path(settings)
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return "missing"
    return (st.st_mtime_ns, st.st_size)


def _drop_run(store, run_id: int) -> None:
    """Forget a run and its rows (called under ``_lock_for``)."""
    with store.cursor() as cur:
        try:
            cur.execute("BEGIN TRANSACTION")
            for table in ("run_rows", "run_stored", "runs"):
                cur.execute(f"DELETE FROM {CACHE_DB}.{table} WHERE run_id = ?", [run_id])
            cur.execute("COMMIT")
        except duckdb.Error:       # the instance was reopened: nothing left to drop
            try:
                cur.execute("ROLLBACK")
            except duckdb.Error:
                pass


def _remember(store, key: tuple, summary: Summary) -> None:
    runs = _RUNS.setdefault(_store_key(store), OrderedDict())
    old = runs.pop(key, None)
    if old is not None:
        _drop_run(store, old.run_id)
    runs[key] = summary
    while len(runs) > RUNS_KEPT:
        _k, evicted = runs.popitem(last=False)
        _drop_run(store, evicted.run_id)


def _run_exists(store, run_id: int) -> bool:
    with store.cursor() as cur:
        try:
            return cur.execute(f"SELECT count(*) FROM {CACHE_DB}.runs WHERE run_id = ?",
                               [run_id]).fetchone()[0] == 1
        except duckdb.Error:       # the instance was reopened: the in-memory cache is gone
            return False


def _fresh_summary(store, as_of: dt.datetime, *, fresh: bool = False) -> Summary:
    rules = load_rules()
    with _lock_for(store):
        key = _cache_key(store, as_of)
        if _live(store, as_of):
            run_id, counts = stored.evaluate(store, as_of, rules, fresh=fresh)
        else:
            run_id, counts = _evaluate(store, as_of, rules)
        summary = _summarise(store, as_of, rules, run_id, counts)
        _remember(store, key, summary)
        return summary


def _page_moment(store, as_of) -> dt.datetime:
    return parse_as_of(current_as_of(store) if as_of is None else as_of, store.tz, store.now())


def check_summary(store, as_of: dt.date | dt.datetime | str | None = None) -> Summary:
    """Scores and counts as of ``as_of``, evaluated once per (as_of, data version, settings,
    rules) and kept for the pages; findings stay in DuckDB (see ``findings_page``).
    ``as_of=None`` means now (``current_as_of``). A live moment (within ``LIVE_REUSE`` of
    now) reuses an evaluation of the same inputs made up to ``LIVE_REUSE`` before it; the
    summary's ``as_of`` says which moment it states."""
    moment = _page_moment(store, as_of)
    with _lock_for(store):
        key = _cache_key(store, moment)
        runs = _RUNS.get(_store_key(store), OrderedDict())
        hit = runs.get(key)
        if hit is None and store.now() - moment < LIVE_REUSE:
            for other_key, other in reversed(runs.items()):
                if other_key[1:] == key[1:] and \
                        dt.timedelta(0) <= moment - other.as_of < LIVE_REUSE:
                    hit, key = other, other_key
                    break
        if hit is not None and _run_exists(store, hit.run_id):
            runs.move_to_end(key)
            return hit
        if hit is not None:
            runs.clear()
        return _fresh_summary(store, moment)


def _live(store, moment: dt.datetime) -> bool:
    """Whether ``moment`` is "now" for the stored evaluation (``dashboard.stored``): within
    ``LIVE_REUSE`` of the store's clock, on a store this process may write that has the
    evaluation schema (migration 0013). A past moment (``check --as-of 2026-11-20``) and a
    read-only store are evaluated in full, in memory, as before."""
    if store.read_only or not dt.timedelta(0) <= store.now() - moment < LIVE_REUSE:
        return False
    return stored.available(store)


def run_check(store, as_of: dt.date | dt.datetime | str | None = None, *,
              fresh: bool = False) -> CheckResult:
    """Evaluate every rule as of ``as_of`` and load all findings and due items.

    ``as_of``: a date (the close of that day, Asia/Shanghai), an ISO timestamp or date
    string, an aware datetime, or ``None`` for ``store.now()``. For now, the stored results
    of the rules whose inputs have not changed are used (``dashboard.stored``), the same
    the pages show; ``fresh`` re-runs every rule first. A past moment is always evaluated
    in full.
    """
    moment = parse_as_of(as_of, store.tz, store.now())
    summary = _fresh_summary(store, moment, fresh=fresh)
    return CheckResult(**{f: getattr(summary, f) for f in Summary.__dataclass_fields__},
                       findings=_items_frame(store, summary.run_id, FINDING),
                       due=_items_frame(store, summary.run_id, DUE))


def _items_frame(store, run_id: int, kind: str, *, per_rule: int | None = None,
                 limit: int | None = None) -> pd.DataFrame:
    """A run's findings (most severe first, then rule order, then entity) or due items
    (soonest first); ``per_rule`` keeps the first n of each rule, ``limit`` the first n."""
    columns = FINDING_COLUMNS if kind == FINDING else DUE_COLUMNS
    order = ("severity_rank DESC, rule_seq, entity_num, entity_id" if kind == FINDING
             else "due_at, rule_seq, entity_num, entity_id")
    sql = f"SELECT {', '.join(columns)} FROM {run_items(store)} WHERE run_id = ? AND kind = ?"
    params: list[Any] = [run_id, kind]
    if per_rule is not None:
        sql += f" QUALIFY row_number() OVER (PARTITION BY rule_seq ORDER BY {order}) <= ?"
        params.append(per_rule)
    sql += f" ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return store.df(sql, params)


# -- pages: findings and due items in SQL ------------------------------------------------

def _filters(rule_id=None, clause=None, article=None, severity=None, entity_type=None,
             entity_id=None) -> tuple[list[str], list[Any]]:
    where, params = [], []
    known = {r.rule_id for r in load_rules()}
    checks = (("rule_id", rule_id, known), ("severity", severity, set(SEVERITIES)),
              ("entity_type", entity_type, set(ENTITY_TYPES)),
              ("clause", clause, None), ("article", article, None), ("entity_id", entity_id, None))
    for column, value, allowed in checks:
        if value is None or value == "" or value == []:
            continue
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        values = [str(v) for v in values]
        if allowed is not None:
            wrong = [v for v in values if v not in allowed]
            if wrong:
                raise ValueError(f"{column}: {', '.join(map(repr, wrong))} is not one of "
                                 f"{', '.join(sorted(allowed))}")
        where.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params.extend(values)
    return where, params


def _page_args(limit: int, offset: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise ValueError(f"limit {limit!r} must be a whole number from 1 to 100000")
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset {offset!r} must be a whole number, 0 or more")


def _by_columns(by: str | Sequence[str] | None) -> list[str]:
    cols = [by] if isinstance(by, str) else list(by or [])
    wrong = [c for c in cols if c not in GROUPABLE]
    if wrong:
        raise ValueError(f"by: {', '.join(map(repr, wrong))} is not one of {', '.join(GROUPABLE)}")
    return cols


def items_query(store, as_of=None, kind: str = FINDING, **filters) -> tuple[str, list[Any]]:
    """``(sql, params)`` selecting the findings (or due items) as of ``as_of``, for joining
    with other tables in SQL (e.g. acknowledgements on rule_id, entity_type, entity_id).

    Columns: rule_id, clause, article, severity, severity_rank, entity_type, entity_id,
    entity_num, detail, due_at, rule_seq.
    """
    if kind not in (FINDING, DUE):
        raise ValueError(f"kind {kind!r} is not one of {FINDING}, {DUE}")
    summary = check_summary(store, as_of)
    where, params = _filters(**filters)
    sql = (f"SELECT rule_id, clause, article, severity, severity_rank, entity_type, entity_id, "
           f"entity_num, detail, due_at, rule_seq FROM {run_items(store)} "
           f"WHERE run_id = ? AND kind = ?" + "".join(f" AND {w}" for w in where))
    return sql, [summary.run_id, kind] + params


def findings_page(store, as_of=None, *, rule_id=None, clause=None, article=None, severity=None,
                  entity_type=None, entity_id=None, limit: int = 100,
                  offset: int = 0) -> pd.DataFrame:
    """One page of findings, most severe first (then rule order, then entity)."""
    _page_args(limit, offset)
    sql, params = items_query(store, as_of, FINDING, rule_id=rule_id, clause=clause,
                              article=article, severity=severity, entity_type=entity_type,
                              entity_id=entity_id)
    return store.df(
        f"SELECT {', '.join(FINDING_COLUMNS)}, article FROM ({sql}) "
        "ORDER BY severity_rank DESC, rule_seq, entity_num, entity_id LIMIT ? OFFSET ?",
        params + [limit, offset])


def finding_counts(store, as_of=None, *, by: str | Sequence[str] | None = ("rule_id",),
                   rule_id=None, clause=None, article=None, severity=None, entity_type=None,
                   entity_id=None) -> pd.DataFrame:
    """Findings counted by the ``by`` columns (any of rule_id, clause, article, severity,
    entity_type; none for the total), with the same filters as ``findings_page``."""
    cols = _by_columns(by)
    sql, params = items_query(store, as_of, FINDING, rule_id=rule_id, clause=clause,
                              article=article, severity=severity, entity_type=entity_type,
                              entity_id=entity_id)
    select = ", ".join(cols + ["count(*) AS findings"])
    group = f" GROUP BY {', '.join(cols)} ORDER BY findings DESC, {', '.join(cols)}" if cols else ""
    return store.df(f"SELECT {select} FROM ({sql}){group}", params)


def _within(store, as_of, within_days: int | None) -> tuple[str, list[Any]]:
    if within_days is None:
        return "", []
    return " WHERE due_at <= ?", [due_horizon(_page_moment(store, as_of), within_days, store.tz)]


def due_page(store, as_of=None, *, within_days: int | None = None, rule_id=None, clause=None,
             article=None, severity=None, entity_type=None, entity_id=None, limit: int = 100,
             offset: int = 0) -> pd.DataFrame:
    """One page of due items (not late yet), soonest first; ``within_days`` narrows the
    horizon below ``settings.due_soon_days``."""
    _page_args(limit, offset)
    sql, params = items_query(store, as_of, DUE, rule_id=rule_id, clause=clause, article=article,
                              severity=severity, entity_type=entity_type, entity_id=entity_id)
    where, wparams = _within(store, as_of, within_days)
    return store.df(
        f"SELECT {', '.join(DUE_COLUMNS)}, article FROM ({sql}){where} "
        "ORDER BY due_at, rule_seq, entity_num, entity_id LIMIT ? OFFSET ?",
        params + wparams + [limit, offset])


def due_counts(store, as_of=None, *, by: str | Sequence[str] | None = ("rule_id",),
               within_days: int | None = None, rule_id=None, clause=None, article=None,
               severity=None, entity_type=None, entity_id=None) -> pd.DataFrame:
    """Due items counted by the ``by`` columns, within ``within_days`` if given."""
    cols = _by_columns(by)
    sql, params = items_query(store, as_of, DUE, rule_id=rule_id, clause=clause, article=article,
                              severity=severity, entity_type=entity_type, entity_id=entity_id)
    where, wparams = _within(store, as_of, within_days)
    select = ", ".join(cols + ["count(*) AS due", "min(due_at) AS next_due_at"])
    group = f" GROUP BY {', '.join(cols)} ORDER BY next_due_at, {', '.join(cols)}" if cols else ""
    return store.df(f"SELECT {select} FROM ({sql}){where}{group}", params + wparams)


# -- snapshots ----------------------------------------------------------------------------

def _nan_to_none(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def backfill_snapshots(store, actor: Actor, *, until: dt.date, weeks: int) -> list[dt.date]:
    """Store a snapshot for each of the ``weeks`` weeks before ``until`` (same weekday),
    each the check as of the close of that day, so a new store's trend has a history.

    These points are reconstructed from the registers as they are now (a dated fact after
    a point counts as not done yet at that point; status columns are today's), which is why
    only the demo seed uses it by default; ``taken_at`` later than ``as_of`` marks them.
    Each point replaces that day's snapshot, as every check does. Returns the days stored.
    """
    if weeks < 0:
        raise ValueError("weeks must not be negative")
    days = [until - dt.timedelta(weeks=k) for k in range(weeks, 0, -1)]
    for day in days:
        save_snapshot(store, actor, check_summary(store, day))
    return days


def save_snapshot(store, actor: Actor, result: Summary) -> None:
    """Store ``result``'s scores as the snapshot of its day (the Shanghai date of its as_of),
    replacing a snapshot already stored for that day. Permission ``check.snapshot``."""
    if not isinstance(result, Summary):
        raise ValueError("save_snapshot needs the result of run_check or check_summary")
    day = result.as_of.astimezone(store.tz).date()
    score_rows = []
    for level, frame, key in (("rule", result.rule_scores, "rule_id"),
                              ("clause", result.clause_scores, "clause"),
                              ("article", result.article_scores, "article")):
        for row in frame.itertuples(index=False):
            score_rows.append((day, level, getattr(row, key), int(row.applicable),
                               int(row.failing), int(row.due), _nan_to_none(row.score)))
    header = {
        "snapshot_date": day.isoformat(), "as_of": result.as_of.isoformat(),
        "overall": _nan_to_none(result.overall), "findings": result.finding_total,
        "due": result.due_total, "entities_applicable": result.entities_applicable,
        "entities_failing": result.entities_failing, "rules_digest": result.rules_digest,
    }
    with store.write(actor, "check.snapshot") as w:
        before = w.execute(
            "SELECT as_of, overall, findings, due FROM compliance_snapshots "
            "WHERE snapshot_date = ?", [day]).fetchone()
        w.execute("DELETE FROM compliance_snapshot_scores WHERE snapshot_date = ?", [day])
        w.execute("DELETE FROM compliance_snapshots WHERE snapshot_date = ?", [day])
        sev = result.findings_by_severity
        w.execute(
            "INSERT INTO compliance_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [day, result.as_of, w.at, actor.name, _nan_to_none(result.overall),
             result.entities_applicable, result.entities_failing, result.finding_total,
             sev.get("high", 0), sev.get("medium", 0), sev.get("low", 0), result.due_total,
             result.rules_digest, json.dumps(result.settings, sort_keys=True, default=str)])
        w.cur.executemany(
            "INSERT INTO compliance_snapshot_scores VALUES (?, ?, ?, ?, ?, ?, ?)", score_rows)
        w.audit("check.snapshot", "compliance_snapshot", day.isoformat(),
                before=None if before is None else {
                    "as_of": before[0], "overall": before[1], "findings": before[2],
                    "due": before[3]},
                after=header)


def snapshots(store) -> pd.DataFrame:
    """Every stored snapshot, oldest first: the overall score's history."""
    return store.df("SELECT * EXCLUDE (settings) FROM compliance_snapshots ORDER BY snapshot_date")


def snapshot_scores(store, level: str = "rule", code: str | None = None) -> pd.DataFrame:
    """Per-rule, per-clause or per-article scores over time (``code`` narrows to one)."""
    if level not in ("rule", "clause", "article"):
        raise ValueError(f"level {level!r} is not one of rule, clause, article")
    sql = ("SELECT snapshot_date, code, applicable, failing, due, score "
           "FROM compliance_snapshot_scores WHERE level = ?")
    params: list[Any] = [level]
    if code is not None:
        sql += " AND code = ?"
        params.append(code)
    return store.df(sql + " ORDER BY snapshot_date, code", params)


# -- the command line -------------------------------------------------------------------

def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _percent(value) -> str:
    """A score to one decimal, rounded down: 99.96 % shows as 99.9 %, never as 100 %."""
    if value is None or pd.isna(value):
        return "n/a"
    return f"{math.floor(value * 1000 + 1e-9) / 10:.1f}%"


def _with_iso_due(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings' columns, due_at as ISO 8601 text (None where there is no deadline)."""
    frame = findings[FINDING_COLUMNS].copy()
    frame["due_at"] = _iso_series(frame["due_at"])
    return frame


def _iso_series(values: pd.Series) -> pd.Series:
    """ISO 8601 text of aware timestamps (``2026-11-24T14:00:00+08:00``), None where there is
    no value. Deadlines repeat a lot (records fall due on the same days), so each distinct
    value is formatted once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = [pd.Timestamp(v).isoformat() for v in uniques] + [None]
    return pd.Series([texts[c] for c in codes], index=values.index, dtype=object)


def finding_records(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Findings as plain dicts (due_at ISO 8601 or None), the ``--format json`` objects."""
    frame = _with_iso_due(findings)
    columns = [[None if _missing(v) else v for v in frame[c].tolist()] for c in FINDING_COLUMNS]
    return [dict(zip(FINDING_COLUMNS, row)) for row in zip(*columns)]


def write_json(findings: pd.DataFrame, out: TextIO) -> None:
    """One JSON array of findings (non-ASCII text kept as is)."""
    json.dump(finding_records(findings), out, ensure_ascii=False)
    out.write("\n")


def write_csv(findings: pd.DataFrame, out: TextIO, timezone: str = "Asia/Shanghai") -> None:
    """The contract's CSV (header row, RFC 4180 quoting, CRLF line ends, no BOM on a
    terminal), through the project's one CSV writer: a cell that a spreadsheet would read
    as a formula (``=HYPERLINK(...)`` in an entity id) gets the leading quote."""
    from .exports import write_frame_csv
    write_frame_csv(findings[FINDING_COLUMNS], out, timezone=timezone, bom=False)


def write_table(summary: Summary, findings: pd.DataFrame, due: pd.DataFrame,
                due_by_rule: pd.DataFrame, out: TextIO, limit: int) -> None:
    """The terminal report: findings by rule (the first ``limit`` of each; 0 for all), due
    items apart (per rule, then the soonest), then every score."""
    sev = summary.findings_by_severity
    out.write(f"Compliance check as of {summary.as_of.isoformat(sep=' ', timespec='seconds')} "
              f"({summary.as_of.tzinfo})\n\n")
    out.write(f"FINDINGS: {summary.finding_total} "
              f"({sev['high']} high, {sev['medium']} medium, {sev['low']} low)\n")
    scores = summary.rule_scores.set_index("rule_id")
    for rule_id, shown in findings.groupby("rule_id", sort=False):
        first, total = shown.iloc[0], int(scores.loc[rule_id, "failing"])
        out.write(f"\n{rule_id}  [{first['severity']}]  clause {first['clause']}  "
                  f"{scores.loc[rule_id, 'title']}  ({total})\n")
        width = max(len(str(e)) for e in shown["entity_id"])
        for row in shown.itertuples(index=False):
            out.write(f"  {row.entity_type} {str(row.entity_id).ljust(width)}  {row.detail}\n")
        if total > len(shown):
            out.write(f"  ... and {total - len(shown)} more "
                      "(--limit 0 lists all; --format csv for a file)\n")
    horizon = summary.settings.get("due_soon_days")
    out.write(f"\nDUE, not late yet (within {horizon} days; never counted for --fail-on): "
              f"{summary.due_total}\n")
    for row in due_by_rule.itertuples(index=False):
        out.write(f"  {row.rule_id:<24} {row.due:>7}  next "
                  f"{pd.Timestamp(row.next_due_at).strftime('%Y-%m-%d %H:%M')}\n")
    if len(due) < summary.due_total:
        out.write(f"  soonest {len(due)}:\n")
    for row in due.itertuples(index=False):
        when = pd.Timestamp(row.due_at).strftime("%Y-%m-%d %H:%M")
        out.write(f"  {when}  {row.rule_id}  {row.entity_type} {row.entity_id}  {row.detail}\n")
    out.write("\nSCORES (share of applicable entities that comply)\n")
    out.write(f"  {'rule':<24} {'clause':<6} {'severity':<8} {'applicable':>10} "
              f"{'failing':>8} {'due':>6} {'score':>7}\n")
    for r in summary.rule_scores.itertuples(index=False):
        out.write(f"  {r.rule_id:<24} {r.clause:<6} {r.severity:<8} {r.applicable:>10} "
                  f"{r.failing:>8} {r.due:>6} {_percent(r.score):>7}\n")
    out.write("\n  by clause: " + ", ".join(
        f"{c.clause} {_percent(c.score)}" for c in summary.clause_scores.itertuples(index=False)))
    out.write("\n  by article: " + ", ".join(
        f"{a.article} {_percent(a.score)}" for a in summary.article_scores.itertuples(index=False)))
    out.write(f"\n\nOVERALL: {_percent(summary.overall)} (mean of the clause scores); "
              f"{summary.entities_failing} of {summary.entities_applicable} entities fail "
              "at least one rule\n")


def cmd_check(args, out: TextIO, err: TextIO) -> int:
    """``check``: the same evaluation as ``run_check``; only what the format prints is
    loaded into Python (all findings for csv/json; the first ``--limit`` per rule and the
    due items' summary for the table)."""
    from .access import cli_actor
    from .cli import EXIT_FINDINGS, EXIT_OK, UsageError, open_store
    if args.limit < 0:
        raise UsageError(f"--limit {args.limit}: must be 0 (all) or more")
    with open_store(args) as store:
        try:
            as_of = parse_as_of(args.as_of, store.tz, store.now())
        except ValueError as exc:
            raise UsageError(f"--as-of: {exc}") from None
        try:
            summary = _fresh_summary(store, as_of, fresh=args.fresh)
        except duckdb.Error as exc:      # never exit 1 (findings) on a failure
            raise RuleError(f"the check could not run: {exc}") from None
        if not args.no_snapshot:
            save_snapshot(store, cli_actor(), summary)
        limit = args.limit or None
        if args.format == "table":
            findings = _items_frame(store, summary.run_id, FINDING, per_rule=limit)
            due = _items_frame(store, summary.run_id, DUE, limit=limit)
            due_by_rule = store.df(
                f"SELECT rule_id, count(*) AS due, min(due_at) AS next_due_at "
                f"FROM {run_items(store)} WHERE run_id = ? AND kind = ? "
                "GROUP BY rule_id ORDER BY next_due_at, rule_id", [summary.run_id, DUE])
        else:
            findings = _items_frame(store, summary.run_id, FINDING)
    if args.format == "json":
        write_json(findings, out)
    elif args.format == "csv":
        write_csv(findings, out, store.settings.timezone)
    else:
        write_table(summary, findings, due, due_by_rule, out, args.limit)
        if not args.no_snapshot:
            out.write(f"Snapshot for {summary.as_of.date().isoformat()} stored.\n")
    if args.fail_on:
        threshold = SEVERITY_RANK[args.fail_on]
        hits = sum(n for s, n in summary.findings_by_severity.items()
                   if SEVERITY_RANK[s] >= threshold)
        if hits:
            err.write(f"check: {hits} finding(s) at or above {args.fail_on}\n")
            return EXIT_FINDINGS
    return EXIT_OK


def register_cli(sub) -> None:
    p = sub.add_parser(
        "check", help="run the compliance rules and report findings",
        description="Run every compliance rule (data/rules/) on the store and print the findings; "
                    "store the day's compliance snapshot. Exit 1 when findings at or above "
                    "--fail-on exist, 0 otherwise, 2 on a bad argument.")
    p.add_argument("--as-of", dest="as_of", metavar="DATE",
                   help="check as of this date (the close of that day, Asia/Shanghai) or ISO "
                        "timestamp; default: now")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table (default, for a terminal), csv (the contract's CSV) or json "
                        "(one array of findings)")
    p.add_argument("--fail-on", dest="fail_on", choices=SEVERITIES,
                   help="exit 1 if any finding has this severity or a higher one")
    p.add_argument("--limit", type=int, default=20,
                   help="table format: findings listed per rule (0: all; default 20)")
    p.add_argument("--no-snapshot", dest="no_snapshot", action="store_true",
                   help="do not store the day's compliance snapshot")
    p.add_argument("--fresh", action="store_true",
                   help="re-run every rule instead of using the stored results of the rules "
                        "whose inputs have not changed (docs/RULES.md, 'Stored, incremental "
                        "evaluation')")
    p.set_defaults(handler=cmd_check)

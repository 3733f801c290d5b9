"""The DuckDB store: one connection per process, a cursor per call, serialized writes.

DuckDB lets one process open a file read-write, and then no other process may open
it at all; inside the process each thread needs its own cursor, and a result owns
its cursor until fetched. So:

- ``Store`` holds the process's single connection; ``cursor()`` hands out a fresh
  cursor per call (cheap) and closes it after, so no thread ever shares one and a
  Streamlit script thread leaves nothing behind;
- every write goes through ``write(actor, action)``: it checks the actor's role,
  takes the process-wide write lock (one writer at a time, so no transaction
  conflicts), runs in one explicit transaction, and requires exactly one audit
  entry before it commits;
- a store held by another process fails at once with ``StoreLocked``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from . import audit
from .access import Actor, require
from .settings import DATA_DIR, Settings, load_settings

MIGRATIONS_DIR = DATA_DIR / "migrations"
DEFAULT_DB = DATA_DIR / "compliance.duckdb"


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()
_DATA_VERSIONS: dict[str, int] = {}
_NEUTRAL_COMMITS: dict[str, int] = {}
# Commits that changed ``settings_values`` (the values set in the app, migration 0020), per
# store file: every ``Store`` on the file re-reads its settings when the count moves.
_SETTINGS_GENERATIONS: dict[str, int] = {}
SETTINGS_TABLE = "settings_values"

# Writes that never change what the compliance rules (data/rules/) read: results stored
# from a check, remediation plans, exports' and sign-ins' audit entries, user accounts,
# API tokens and the audit entries of API calls, the notification outbox (reminders
# queued and delivered), evidence files (issue 18: no rule reads them).
# ``Store.input_version`` leaves them out, so the engine keeps its evaluation across them.
RULE_NEUTRAL_ACTIONS = frozenset({"check.snapshot", "finding.acknowledge", "export.download",
                                  "account.sign_in", "user.manage", "token.manage", "api.use",
                                  "notify.queue", "notification.read",
                                  "account.preference", "evidence.attach"})


def _write_lock_for(path: Path) -> threading.RLock:
    """One write lock per store file: two ``Store`` objects on the same file in one
    process share one DuckDB instance, so they must share the writer's lock too."""
    key = str(path.resolve())
    with _LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


class StoreError(RuntimeError):
    """The store cannot be used as asked."""


class StoreLocked(StoreError):
    """Another process holds the store."""


def default_db_path(explicit: str | os.PathLike | None = None) -> Path:
    """``--db`` if given, else ``COMPLIANCE_DB``, else ``data/compliance.duckdb``."""
    return Path(explicit or os.environ.get("COMPLIANCE_DB") or DEFAULT_DB)


@dataclass
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations() -> list[Migration]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = re.match(r"(\d+)_(.+)\.sql$", path.name)
        if not m:
            raise StoreError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"two migrations share a version number: {versions}")
    return found


# The tables a statement writes to: what a write's audit entry must vouch for.
_WRITES = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|"
    r"(?:CREATE|ALTER|DROP)\s+TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|COPY)\s+"
    r"(?:\"?([A-Za-z_][A-Za-z0-9_]*)\"?\.)?\"?([A-Za-z_][A-Za-z0-9_]*)\"?", re.IGNORECASE)


def written_tables(sql: str) -> set[str]:
    """Names of the tables ``sql`` may write to (lower case), for the audit's digests and
    the evaluation's table versions. A table of another schema than ``main`` keeps its
    schema (``evaluation.items``): neither the audit nor the versions count those."""
    out = set()
    for m in _WRITES.finditer(sql):
        schema, name = (m.group(1) or "").lower(), m.group(2).lower()
        out.add(name if schema in ("", "main") else f"{schema}.{name}")
    return out


VERSIONS_TABLE = "evaluation.table_versions"


def bump_versions(cur, tables: set[str]) -> None:
    """Count a change to each of ``tables`` (the register tables a write touched) in
    ``evaluation.table_versions``, inside the write's transaction: the stored evaluation of
    a rule is current only while the tables it reads keep the versions it was computed on
    (dashboard/stored.py). Only on a store with migration 0013 (``Store.has_evaluation``)."""
    names = sorted(t for t in tables if "." not in t)
    if not names:
        return
    cur.executemany(f"INSERT INTO {VERSIONS_TABLE} VALUES (?, 1) ON CONFLICT (table_name) "
                    "DO UPDATE SET version = version + 1", [[n] for n in names])


class _TrackingCursor:
    """A write's cursor: every statement passes through, and the tables it writes are
    noted, so that the write's audit entry records their digests as they stand after it."""

    def __init__(self, cur, touched: set[str]):
        self._cur = cur
        self._touched = touched

    def execute(self, sql, *args, **kwargs):
        self._touched.update(written_tables(sql))
        self._cur.execute(sql, *args, **kwargs)
        return self

    def executemany(self, sql, *args, **kwargs):
        self._touched.update(written_tables(sql))
        self._cur.executemany(sql, *args, **kwargs)
        return self

    def sql(self, sql, *args, **kwargs):
        self._touched.update(written_tables(sql))
        return self._cur.sql(sql, *args, **kwargs)

    def touch(self, *tables: str) -> None:
        self._touched.update(t.lower() for t in tables)

    def __getattr__(self, name):
        return getattr(self._cur, name)


@dataclass
class _Pending:
    seq: int
    prev: str
    action: str
    entity_type: str | None
    entity_id: Any
    before: Any
    after: Any


@dataclass
class Writer:
    """What a service function gets inside ``Store.write``."""

    cur: Any
    actor: Actor
    at: dt.datetime
    audited: int = 0
    touched: set[str] = field(default_factory=set)
    pending: _Pending | None = None
    appended: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    ring: Any = None
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def execute(self, sql: str, params: Any = None):
        return self.cur.execute(sql, params) if params is not None else self.cur.execute(sql)

    def appended_rows(self, table: str, where: str, params: dict | None = None) -> None:
        """Declare that this write's only change to ``table`` is appending the rows matching
        ``where`` (SQL over the table's alias ``t``; named ``params``), once they are in:
        its digest is then the last audited one plus theirs, without reading the rows that
        were there already (10 M retention records). Call it right after the INSERT."""
        if self.ring is None:
            return
        n, hi, lo = audit.rows_sums(self.cur, table, self.ring.current_secret, where,
                                    params or {})
        self.appended[table.lower()] = (n, hi, lo)

    @contextmanager
    def changing_rows(self, table: str, where: str, params: dict | None = None):
        """Declare that the statements run inside this block change ``table`` only in the
        rows matching ``where`` (SQL over the alias ``t``; named ``params``), and that
        ``where`` picks the same rows before and after them (by a key the block does not
        change: e.g. ``t.record_id IN (<ids>)``; rows may be updated, inserted or deleted).

        The table's digest is then its last audited state minus the keyed sums of those rows
        before the block plus their sums after it (the multiset hash is additive, exact
        integer sums): a set-based UPDATE of 1 M of 10 M records reads 1 M rows twice
        instead of all 10 M. The guarantee is the one of ``appended_rows``: if the table
        was changed behind the app's back before, the old difference carries into the new
        state, and ``audit verify`` names the table as it would have; a block that changed
        other rows than declared gives a state that differs from the table's, which verify
        reports too (a false alarm, never a missed change)."""
        if self.ring is None:
            yield
            return
        secret = self.ring.current_secret
        n0, hi0, lo0 = audit.rows_sums(self.cur, table, secret, where, params or {})
        yield
        n1, hi1, lo1 = audit.rows_sums(self.cur, table, secret, where, params or {})
        key = table.lower()
        n, hi, lo = self.appended.get(key, (0, 0, 0))
        self.appended[key] = (n + n1 - n0, hi + hi1 - hi0, lo + lo1 - lo0)

    def audit(self, action: str, entity_type: str | None = None, entity_id: Any = None,
              before: Any = None, after: Any = None) -> int:
        """The write's audit entry: its number now (services store it with their rows);
        it is signed and appended when the write's statements are done, with the digest
        of every table they changed."""
        self.audited += 1
        if self.pending is not None:
            return self.pending.seq           # store.write refuses a second entry
        seq, prev = audit.last_entry(self.cur)
        self.pending = _Pending(seq + 1, prev, action, entity_type, entity_id, before, after)
        return seq + 1


class Store:
    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False,
                 settings: Settings | None = None,
                 clock: Callable[[], dt.datetime] | None = None):
        self.path = default_db_path(path)
        self.read_only = read_only
        # defaults, the settings file and the environment (or the caller's settings); the
        # values set in the app are layered in by the ``settings`` property
        self._base_settings = settings or load_settings()
        self._settings = self._base_settings
        self._settings_seen: int | None = None
        self._settings_lock = threading.Lock()
        self.tz = ZoneInfo(self._base_settings.timezone)
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}: run `python -m dashboard init` first")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                holder = re.search(r"held in (.+?)(?: See also|$)", text)
                raise StoreLocked(
                    f"The store {self.path} is in use by another process"
                    f"{' (' + holder.group(1).strip().rstrip('.') + ')' if holder else ''}. "
                    "DuckDB lets only one process open it. If it is the app: run check, audit "
                    "verify, export or user enable|disable through it with --server URL and "
                    "an API token in COMPLIANCE_API_TOKEN (docs/API.md); otherwise stop the "
                    "app (or the other command) and try again, or point --db / COMPLIANCE_DB "
                    "at another store. Nothing was written."
                ) from None
            raise StoreError(f"cannot open the store {self.path}: {text}") from None
        self._write_lock = _write_lock_for(self.path)
        self._key = str(self.path.resolve())
        self._ring = None
        self._keyed_columns = False
        self._evaluation_schema = False
        self.settings           # the values set in the app, read as the store opens

    @property
    def settings(self) -> Settings:
        """The settings in force: default, then the values set in the app (the store's
        ``settings_values``), then the settings file, then the environment
        (``Settings.with_store_values``). Re-read after a commit that changed the app's
        values, by whichever ``Store`` object on this file made it, so the next check uses
        a value the moment it is saved."""
        generation = _SETTINGS_GENERATIONS.get(self._key, 0)
        if self._settings_seen != generation:
            with self._settings_lock:
                if self._settings_seen != generation:
                    self._settings = self._read_store_settings()
                    self._settings_seen = generation
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        with self._settings_lock:
            self._base_settings = self._settings = value
            self._settings_seen = None
            self.tz = ZoneInfo(value.timezone)

    @property
    def base_settings(self) -> Settings:
        """The settings without the values set in the app: defaults, the settings file and
        the environment (or those the store was opened with)."""
        return self._base_settings

    def _read_store_settings(self) -> Settings:
        """The base settings with the store's values; the base alone on a store without the
        table yet (before migration 0020) or one that cannot be read."""
        base = self._base_settings
        try:
            cur = self._con.cursor()
        except duckdb.Error:
            return base
        try:
            cur.execute(f"SET TimeZone = '{base.timezone}'")
            present = cur.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND table_name = ?", [SETTINGS_TABLE]).fetchone()[0]
            if not present:
                return base
            rows = cur.execute(f"SELECT name, value, set_at, set_by FROM {SETTINGS_TABLE} "
                               "ORDER BY name").fetchall()
        except duckdb.Error:
            return base
        finally:
            cur.close()
        return base.with_store_values(rows)

    @property
    def data_version(self) -> int:
        """Bumped on every commit to this file in this process: caches key on it,
        so a write drops stale results at once."""
        return _DATA_VERSIONS.get(self._key, 0)

    @property
    def input_version(self) -> int:
        """``data_version`` less the commits of ``RULE_NEUTRAL_ACTIONS``: bumped only by
        writes that may change the rules' inputs (the engine keys its evaluation on it)."""
        return _DATA_VERSIONS.get(self._key, 0) - _NEUTRAL_COMMITS.get(self._key, 0)

    # -- reading ---------------------------------------------------------------
    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._con.cursor()
        try:
            cur.execute(f"SET TimeZone = '{self.tz.key}'")  # validated by ZoneInfo
            yield cur
        finally:
            cur.close()

    def df(self, sql: str, params: Any = None) -> pd.DataFrame:
        with self.cursor() as cur:
            return cur.execute(sql, params).df()

    def rows(self, sql: str, params: Any = None) -> list[tuple]:
        with self.cursor() as cur:
            return cur.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self.cursor() as cur:
            row = cur.execute(sql, params).fetchone()
            return row[0] if row else None

    def now(self) -> dt.datetime:
        return self.clock().astimezone(self.tz)

    def has_evaluation(self, cur) -> bool:
        """Whether the store has the evaluation schema (migration 0013); once it has, it
        keeps it, so the answer is remembered."""
        if not self._evaluation_schema:
            self._evaluation_schema = cur.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'evaluation' AND table_name = 'table_versions'"
            ).fetchall()[0][0] == 1
        return self._evaluation_schema

    # -- writing ---------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A raw write transaction, for migrations and reference sync only.

        Service code uses ``write()``, which adds the role check and the audit entry.
        """
        if self.read_only:
            raise StoreError(f"the store {self.path} is open read-only")
        with self._write_lock, self.cursor() as raw:
            touched: set[str] = set()
            cur = _TrackingCursor(raw, touched)
            raw.execute("BEGIN TRANSACTION")
            try:
                yield cur
                if touched and self.has_evaluation(raw):
                    bump_versions(raw, touched)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
            with _LOCKS_GUARD:
                _DATA_VERSIONS[self._key] = _DATA_VERSIONS.get(self._key, 0) + 1
                if SETTINGS_TABLE in touched:
                    _SETTINGS_GENERATIONS[self._key] = \
                        _SETTINGS_GENERATIONS.get(self._key, 0) + 1

    @contextmanager
    def write(self, actor: Actor, action: str) -> Iterator[Writer]:
        """The one way in for writes: role check, one transaction, one audit entry.

        The entry is appended last, signed with the audit key and carrying the digest of
        every table the write changed (``dashboard.audit``); after the commit the chain's
        head is recorded outside the store.
        """
        require(actor, action)
        with self._write_lock:
            ring = self.keyring()
            with self.transaction() as cur:
                writer = Writer(None, actor, self.clock())
                writer.cur = _TrackingCursor(cur, writer.touched)
                writer.ring = ring if ring is not None and self._keyed(cur) else None
                yield writer
                if writer.audited != 1 or writer.pending is None:
                    raise StoreError(
                        f"{action}: a service write must append exactly one audit entry "
                        f"(appended {writer.audited}); rolled back"
                    )
                p = writer.pending
                keyed = ring is not None and self._keyed(cur)   # 0008 keys it mid-write
                digests = (audit.digests_for(cur, writer.touched, ring.current_secret,
                                             ring.current, writer.appended)
                           if keyed else None)
                head = audit.append(cur, seq=p.seq, prev=p.prev, at=writer.at,
                                    actor=actor.name, role=actor.role, action=p.action,
                                    entity_type=p.entity_type, entity_id=p.entity_id,
                                    before=p.before, after=p.after, digests=digests,
                                    ring=ring if keyed else None)
            if ring is not None and keyed:
                audit.write_head(self.path, ring, p.seq, head, writer.at)
        if action in RULE_NEUTRAL_ACTIONS:
            with _LOCKS_GUARD:
                _NEUTRAL_COMMITS[self._key] = _NEUTRAL_COMMITS.get(self._key, 0) + 1

    # -- the audit key -----------------------------------------------------------------
    def keyring(self) -> "audit.Keyring | None":
        """The audit key ring; None only while the store has no keyed entry yet (it is
        created by ``migrate``). A keyed store without its key refuses every write."""
        if self._ring is None:
            try:
                self._ring = audit.load_keyring(self.path)
            except audit.AuditKeyError as exc:
                raise StoreError(f"{exc}. Nothing was written.") from None
            if self._ring is None and self._has_keyed_entries():
                raise StoreError(
                    f"the audit key for this store ({audit.key_path(self.path).name}, or "
                    f"{audit.KEY_ENV}) is missing, so no entry can be signed: restore the key "
                    "file from its backup (docs/EVIDENCE.md, 'The audit key'). Nothing was "
                    "written.")
        return self._ring

    def _keyed(self, cur) -> bool:
        """Whether audit_log has the keyed columns (migration 0008): asked once per store,
        since they never go away."""
        if not self._keyed_columns:
            self._keyed_columns = audit.keyed_columns(cur)
        return self._keyed_columns

    def _has_keyed_entries(self) -> bool:
        with self.cursor() as cur:
            if not cur.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                               "'audit_log' AND database_name = current_database()"
                               ).fetchone()[0]:
                return False
            if not audit.keyed_columns(cur):
                return False
            return cur.execute("SELECT count(*) FROM audit_log WHERE key_id IS NOT NULL"
                               ).fetchone()[0] > 0

    def seal(self, actor: Actor, reason: str) -> int:
        """An ``audit.seal`` entry vouching for every table as it stands now: the baseline
        of a store just keyed, and the record of an accepted restore or key change."""
        with self.write(actor, "store.admin") as w:
            w.cur.touch(*audit.audited_tables(w.cur))
            return w.audit("audit.seal", "audit_log", None, after={"reason": reason})

    def rotate_key(self, actor: Actor, *, lost: bool = False) -> str:
        """Make a new audit key current (the old ones stay, to verify older entries), and
        seal every table under it. ``lost``: the current key file is gone; start a new one
        and record that the entries signed before can no longer be checked."""
        require(actor, "store.admin")
        with self._write_lock:
            at = self.clock()
            if lost:
                if audit.load_keyring(self.path) is not None:
                    raise StoreError("the audit key is present: rotate it without --key-lost")
                path = audit.key_path(self.path)
                old = sorted(set(r[0] for r in self.rows(
                    "SELECT DISTINCT key_id FROM audit_log WHERE key_id IS NOT NULL")))
                self._ring = audit.create_keyring(self.path, at)
                reason = (f"audit key lost ({', '.join(old) or 'none'}); new key "
                          f"{self._ring.current} in {path.name}: entries signed before "
                          "cannot be checked")
            else:
                ring = self.keyring()
                if ring is None:
                    raise StoreError("the store has no audit key yet: run init")
                old = [ring.current]
                self._ring = audit.add_key(ring, at)
                reason = f"audit key rotated from {old[0]} to {self._ring.current}"
            self.seal(actor, reason)
            return self._ring.current

    # -- schema ----------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'")
        if not exists:
            return 0
        return self.scalar("SELECT coalesce(max(version), 0) FROM schema_version")

    def applied_versions(self) -> set[int]:
        if not self.scalar("SELECT count(*) FROM information_schema.tables "
                           "WHERE table_name = 'schema_version'"):
            return set()
        return {r[0] for r in self.rows("SELECT version FROM schema_version")}

    def pending_migrations(self) -> list[Migration]:
        """Every migration not applied yet, in version order — including one numbered
        below the store's current version (branches merged out of order), which a
        "greater than the maximum" rule would silently skip."""
        applied = self.applied_versions()
        return [m for m in migrations() if m.version not in applied]

    def migrate(self, actor: Actor) -> list[Migration]:
        """Apply pending migrations in order, each in one transaction with its audit entry."""
        require(actor, "store.admin")
        with self.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "name VARCHAR NOT NULL, checksum VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
        if (not self.read_only and audit.load_keyring(self.path) is None
                and not self._has_keyed_entries()):
            self._ring = audit.create_keyring(self.path, self.clock())
        applied = []
        for m in self.pending_migrations():
            with self.write(actor, "store.admin") as w:
                w.execute(m.sql)
                w.execute("INSERT INTO schema_version VALUES (?, ?, ?, ?)",
                          [m.version, m.name, m.checksum, w.at])
                w.audit("schema.migrate", "schema", m.version, after={"migration": m.path.name})
            applied.append(m)
        if self.scalar("SELECT count(*) FROM audit_log WHERE action = 'audit.seal'") == 0 \
                and self.keyring() is not None:
            self.seal(actor, "the store's first keyed state: every table vouched for")
        return applied

    def require_current(self) -> None:
        pending = self.pending_migrations()
        if pending:
            raise StoreError(
                f"the store {self.path} is at schema version {self.schema_version()}, "
                f"{len(pending)} migration(s) behind: run `python -m dashboard init`"
            )

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

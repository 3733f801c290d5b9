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

# Writes that never change what the compliance rules (data/rules/) read: results stored
# from a check, remediation plans, exports' and sign-ins' audit entries, user accounts.
# ``Store.input_version`` leaves them out, so the engine keeps its evaluation across them.
RULE_NEUTRAL_ACTIONS = frozenset({"check.snapshot", "finding.acknowledge", "export.download",
                                  "account.sign_in", "user.manage"})


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


@dataclass
class Writer:
    """What a service function gets inside ``Store.write``."""

    cur: Any
    actor: Actor
    at: dt.datetime
    audited: int = 0
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def execute(self, sql: str, params: Any = None):
        return self.cur.execute(sql, params) if params is not None else self.cur.execute(sql)

    def audit(self, action: str, entity_type: str | None = None, entity_id: Any = None,
              before: Any = None, after: Any = None) -> int:
        self.audited += 1
        return audit.append(self.cur, at=self.at, actor=self.actor.name, role=self.actor.role,
                            action=action, entity_type=entity_type, entity_id=entity_id,
                            before=before, after=after)


class Store:
    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False,
                 settings: Settings | None = None,
                 clock: Callable[[], dt.datetime] | None = None):
        self.path = default_db_path(path)
        self.read_only = read_only
        self.settings = settings or load_settings()
        self.tz = ZoneInfo(self.settings.timezone)
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
                    "DuckDB lets only one process open it: stop the app (or the other command) "
                    "and try again, or point --db / COMPLIANCE_DB at another store. "
                    "Nothing was written."
                ) from None
            raise StoreError(f"cannot open the store {self.path}: {text}") from None
        self._write_lock = _write_lock_for(self.path)
        self._key = str(self.path.resolve())

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
            cur.execute(f"SET TimeZone = '{self.settings.timezone}'")  # validated by ZoneInfo
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

    # -- writing ---------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A raw write transaction, for migrations and reference sync only.

        Service code uses ``write()``, which adds the role check and the audit entry.
        """
        if self.read_only:
            raise StoreError(f"the store {self.path} is open read-only")
        with self._write_lock, self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
            with _LOCKS_GUARD:
                _DATA_VERSIONS[self._key] = _DATA_VERSIONS.get(self._key, 0) + 1

    @contextmanager
    def write(self, actor: Actor, action: str) -> Iterator[Writer]:
        """The one way in for writes: role check, one transaction, one audit entry."""
        require(actor, action)
        with self.transaction() as cur:
            writer = Writer(cur, actor, self.clock())
            yield writer
            if writer.audited != 1:
                raise StoreError(
                    f"{action}: a service write must append exactly one audit entry "
                    f"(appended {writer.audited}); rolled back"
                )
        if action in RULE_NEUTRAL_ACTIONS:
            with _LOCKS_GUARD:
                _NEUTRAL_COMMITS[self._key] = _NEUTRAL_COMMITS.get(self._key, 0) + 1

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
        applied = []
        for m in self.pending_migrations():
            with self.write(actor, "store.admin") as w:
                w.execute(m.sql)
                w.execute("INSERT INTO schema_version VALUES (?, ?, ?, ?)",
                          [m.version, m.name, m.checksum, w.at])
                w.audit("schema.migrate", "schema", m.version, after={"migration": m.path.name})
            applied.append(m)
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

"""The append-only, keyed audit log: evidence that proves itself.

What an entry proves
--------------------
Each entry carries ``hash``: the HMAC-SHA-256, under a secret key kept **outside the
store**, of a canonical JSON array of its fields, the digests of the registers the write
changed, the key's id and the previous entry's hash. So nobody who can open the store
file but lacks the key can append, rewrite, reorder or recompute entries unnoticed: the
chain's public hash function is no help to a forger.

Every write also records, inside its entry, a keyed digest of each table it changed as
the table stood after the write (``digests``: rows and a digest of the table's rows as a
multiset). ``verify`` recomputes each table's digest and compares it with the last audited
state: a register row updated, inserted or deleted behind the app's back is named.

Outside the store, beside it, the *head record* (``<store>.audit-head``: the last entry's
seq, hash and time, itself keyed) is rewritten after every audited write. It proves a cut
tail and an emptied log; a copy held elsewhere (any export's or pack's manifest prints the
head) does the same through ``audit verify --anchor``.

The key
-------
``COMPLIANCE_AUDIT_KEY`` (64+ hex digits; e.g. from the deployment's secret store), else the
key file ``COMPLIANCE_AUDIT_KEY_FILE``, else ``<store>.audit-key`` beside the store. The file
is created by ``init`` (mode 0600: readable by its owner only) and refused when others may
read it. It is a key *ring*: rotation (``audit rotate-key``) adds a key and makes it
current; older keys stay to verify older entries. Entries written before a store was keyed
(schema < 8) are plain SHA-256; the first keyed entry covers their head, so they cannot be
rewritten either. See docs/EVIDENCE.md for the life cycle (loss, rotation, backups).

Row digests: ``md5`` keyed with the secret over each row's text, summed as two 64-bit
halves (an additive multiset hash: order-free, so no sort over 10 M rows; keyed, so no
compensating change can be computed without the secret), then HMAC'ed with the count.
Being additive, a write that only appends rows (an import in append mode) records the last
audited state plus the rows it added, without reading the rows already there.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .i18n import _

GENESIS = "0" * 64
KEYRING_FORMAT = "privacy-compliance audit keyring"
KEY_ENV, KEY_FILE_ENV, HEAD_FILE_ENV = ("COMPLIANCE_AUDIT_KEY", "COMPLIANCE_AUDIT_KEY_FILE",
                                        "COMPLIANCE_AUDIT_HEAD_FILE")

# Tables that change without an audit entry of their own, so that their digest cannot be
# kept: none yet. (The engine's results live in an attached in-memory database, the
# importer's staging in the temp schema: neither is in the store's main schema.)
UNAUDITED_TABLES: set[str] = {"audit_log"}


class AuditKeyError(RuntimeError):
    """The audit key cannot be used as asked (missing, unreadable, open to others)."""


def to_json(value: Any) -> str | None:
    """Canonical JSON for the before/after values (sorted keys, ISO dates)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_default,
                      separators=(",", ":"))


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if hasattr(value, "tolist"):      # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def utc_iso(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times must carry a zone")
    return at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def entry_hash(seq: int, at: dt.datetime, actor: str, role: str, action: str,
               entity_type: str | None, entity_id: str | None, before: str | None,
               after: str | None, prev_hash: str) -> str:
    """The unkeyed SHA-256 of an entry written before the store was keyed (schema < 8)."""
    payload = json.dumps(
        [seq, utc_iso(at), actor, role, action, entity_type, entity_id, before, after, prev_hash],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def entry_mac(secret: bytes, seq: int, at: dt.datetime, actor: str, role: str, action: str,
              entity_type: str | None, entity_id: str | None, before: str | None,
              after: str | None, digests: str | None, key_id: str, prev_hash: str) -> str:
    """HMAC-SHA-256 of a keyed entry: every field, the digests, the key id, the previous hash."""
    payload = json.dumps(
        ["v2", seq, utc_iso(at), actor, role, action, entity_type, entity_id, before, after,
         digests, key_id, prev_hash],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).hexdigest()


# -- the key ring -----------------------------------------------------------------------------

@dataclass
class Keyring:
    """The audit keys: ``current`` signs new entries; every key verifies its own."""

    keys: dict[str, bytes]
    current: str
    source: str                         # where it came from, for messages (no secret)
    path: Path | None = None            # the file, when it came from one

    def secret(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise AuditKeyError(f"the audit key {key_id!r} is not in {self.source}") from None

    @property
    def current_secret(self) -> bytes:
        return self.keys[self.current]


def key_path(store_path: Path) -> Path:
    explicit = os.environ.get(KEY_FILE_ENV)
    return Path(explicit) if explicit else store_path.with_name(store_path.name + ".audit-key")


def head_path(store_path: Path) -> Path:
    explicit = os.environ.get(HEAD_FILE_ENV)
    return Path(explicit) if explicit else store_path.with_name(store_path.name + ".audit-head")


def sidecar_files(store_path: Path) -> list[Path]:
    """The files that belong with a store file: copy and back them up together
    (the key file is better kept in a separate backup: see docs/EVIDENCE.md)."""
    return [p for p in (store_path.with_name(store_path.name + ".wal"), key_path(store_path),
                        head_path(store_path)) if p.exists()]


def copy_store(src: Path, dst: Path) -> None:
    """Copy a store file with its WAL, audit key and head record (tests, benchmarks)."""
    import shutil
    shutil.copy(src, dst)
    for side in (".wal", ".audit-key", ".audit-head", ".secret"):
        s = src.with_name(src.name + side)
        if s.exists():
            shutil.copy(s, dst.with_name(dst.name + side))


def _env_keyring() -> Keyring | None:
    raw = os.environ.get(KEY_ENV)
    if not raw:
        return None
    text = raw.strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise AuditKeyError(f"{KEY_ENV} must be hex digits (64 or more)") from None
    if len(secret) < 32:
        raise AuditKeyError(f"{KEY_ENV} must hold at least 64 hex digits (256 bits)")
    key_id = "env-" + hashlib.sha256(b"key id:" + secret).hexdigest()[:12]
    return Keyring({key_id: secret}, key_id, f"the environment variable {KEY_ENV}")


def load_keyring(store_path: Path) -> Keyring | None:
    """The store's key ring, or None when there is none yet (a store not keyed yet)."""
    env = _env_keyring()
    if env is not None:
        return env
    path = key_path(store_path)
    if not path.exists():
        return None
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditKeyError(
            f"the audit key file {path.name} may be read by others "
            f"(mode {stat.S_IMODE(mode):o}): run `chmod 600` on it, as its owner")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != KEYRING_FORMAT:
            raise ValueError("not a key ring")
        keys = {k["id"]: bytes.fromhex(k["secret"]) for k in data["keys"]}
        current = data["current"]
        if current not in keys:
            raise ValueError("the current key is not in the ring")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditKeyError(f"the audit key file {path.name} cannot be read: {exc}") from None
    return Keyring(keys, current, f"the key file {path.name}", path)


def _new_key_id(at: dt.datetime) -> str:
    return f"k{at.astimezone(dt.timezone.utc):%Y%m%d}-{secrets.token_hex(3)}"


def _write_keyring(path: Path, keys: list[dict], current: str) -> None:
    body = json.dumps({"format": KEYRING_FORMAT, "current": current, "keys": keys},
                      indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def create_keyring(store_path: Path, at: dt.datetime) -> Keyring:
    """A new key file with one key (``init`` on a store not keyed yet)."""
    path = key_path(store_path)
    if path.exists():
        raise AuditKeyError(f"the audit key file {path.name} exists already")
    key_id = _new_key_id(at)
    secret = secrets.token_bytes(32)
    _write_keyring(path, [{"id": key_id, "secret": secret.hex(),
                           "created_at": at.isoformat(timespec="seconds")}], key_id)
    return Keyring({key_id: secret}, key_id, f"the key file {path.name}", path)


def add_key(ring: Keyring, at: dt.datetime, *, lost: Iterable[str] = ()) -> Keyring:
    """Rotation: a new current key in the same file; the older keys stay for verifying."""
    if ring.path is None:
        raise AuditKeyError(
            f"the audit key comes from {ring.source}: rotate it there (set a new "
            f"{KEY_ENV} and keep the old one in a key file; see docs/EVIDENCE.md)")
    data = json.loads(ring.path.read_text(encoding="utf-8"))
    key_id = _new_key_id(at)
    secret = secrets.token_bytes(32)
    keys = [k for k in data["keys"] if k["id"] not in set(lost)]
    keys.append({"id": key_id, "secret": secret.hex(),
                 "created_at": at.isoformat(timespec="seconds")})
    _write_keyring(ring.path, keys, key_id)
    return load_keyring_file(ring.path)


def load_keyring_file(path: Path) -> Keyring:
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = {k["id"]: bytes.fromhex(k["secret"]) for k in data["keys"]}
    return Keyring(keys, data["current"], f"the key file {path.name}", path)


# -- the head record outside the store --------------------------------------------------------

def _head_mac(secret: bytes, seq: int, digest: str, at: str) -> str:
    return hmac.new(secret, f"head|{seq}|{digest}|{at}".encode(), hashlib.sha256).hexdigest()


def write_head(store_path: Path, ring: Keyring, seq: int, digest: str, at: dt.datetime) -> None:
    """Record the chain's head beside the store (atomically; after every audited commit)."""
    path = head_path(store_path)
    when = utc_iso(at)
    body = json.dumps({"seq": seq, "hash": digest, "at": when, "key_id": ring.current,
                       "mac": _head_mac(ring.current_secret, seq, digest, when)}) + "\n"
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    os.replace(tmp, path)


def read_head(store_path: Path, ring: Keyring | None) -> tuple[dict | None, str | None]:
    """(head, problem): the head record, or why it cannot be trusted."""
    path = head_path(store_path)
    if not path.exists():
        return None, None
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
        seq, digest, at, key_id, mac = (int(head["seq"]), str(head["hash"]), str(head["at"]),
                                        str(head["key_id"]), str(head["mac"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None, _("the head record {name} beside the store cannot be read").format(
            name=path.name)
    if ring is None or key_id not in ring.keys:
        return None, _("the head record {name} is signed with key {key}, which is missing"
                       ).format(name=path.name, key=key_id)
    if not hmac.compare_digest(mac, _head_mac(ring.keys[key_id], seq, digest, at)):
        return None, _("the head record {name} was altered (its signature does not match)"
                       ).format(name=path.name)
    return {"seq": seq, "hash": digest, "at": at}, None


# -- table digests ------------------------------------------------------------------------

def audited_tables(cur) -> list[str]:
    """The store's own tables whose content every write's entry vouches for."""
    rows = cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name").fetchall()
    return [r[0] for r in rows if r[0] not in UNAUDITED_TABLES]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_SUMS_SQL = ("SELECT count(*), coalesce(sum(CAST(h >> 64 AS UBIGINT)), 0), "
             "coalesce(sum(CAST(h & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT)), 0) "
             "FROM (SELECT md5_number($audit_key || CAST(t AS VARCHAR)) AS h FROM {rows}) AS d")


def _state(secret: bytes, table: str, n: int, hi: int, lo: int) -> dict:
    mac = hmac.new(secret, f"table|{table}|{n}|{hi}|{lo}".encode(), hashlib.sha256).hexdigest()
    return {"rows": int(n), "sum": [int(hi), int(lo)], "digest": mac}


def table_digest(cur, table: str, secret: bytes) -> dict:
    """``{"rows", "sum", "digest"}`` of a table's rows as a multiset, keyed with ``secret``:
    ``sum`` is the exact sum of the rows' keyed MD5 halves (additive: rows added to a table
    add their sums), ``digest`` the HMAC of the count and the sums."""
    n, hi, lo = cur.execute(_SUMS_SQL.format(rows=f"{_ident(table)} AS t"),
                            {"audit_key": secret.hex()}).fetchone()
    return _state(secret, table, n, hi, lo)


def rows_sums(cur, table: str, secret: bytes, where: str, params: dict) -> tuple[int, int, int]:
    """Count and keyed sums of the rows of ``table`` matching ``where`` (SQL over alias
    ``t``; ``params`` bound by name): what an append adds to the table's digest."""
    sql = _SUMS_SQL.format(rows=f"{_ident(table)} AS t WHERE {where}")
    n, hi, lo = cur.execute(sql, {**params, "audit_key": secret.hex()}).fetchone()
    return int(n), int(hi), int(lo)


def last_state(cur, table: str, key_id: str) -> dict | None:
    """The table's state recorded by the last audited write that changed it, if that entry
    was signed with ``key_id`` and recorded the sums (else None: compute it afresh)."""
    row = cur.execute(
        "SELECT key_id, json_extract(digests, ?) FROM audit_log WHERE digests IS NOT NULL "
        "AND json_exists(digests, ?) ORDER BY seq DESC LIMIT 1",
        [f'$."{table}"', f'$."{table}"']).fetchone()
    if row is None or row[0] != key_id or row[1] is None:
        return None
    state = json.loads(row[1]) if isinstance(row[1], str) else row[1]
    if not isinstance(state, dict) or "sum" not in state or state.get("dropped"):
        return None
    return state


def appended_digest(cur, table: str, secret: bytes, key_id: str,
                    added: tuple[int, int, int]) -> dict | None:
    """The table's state after rows summing to ``added`` were appended to it: the last
    audited state plus them (no scan of the rows already there), or None when there is no
    usable last state. If the table was changed behind the app's back before, the result
    differs from its real digest, and ``verify`` says so, as it would have."""
    prev = last_state(cur, table, key_id)
    if prev is None:
        return None
    n, hi, lo = added
    return _state(secret, table, prev["rows"] + n, prev["sum"][0] + hi, prev["sum"][1] + lo)


def digests_for(cur, tables: Iterable[str], secret: bytes, key_id: str | None = None,
                appended: dict[str, tuple[int, int, int]] | None = None) -> dict[str, dict]:
    """The states of ``tables`` after a write: each computed afresh, except a table the write
    only appended to (``appended``: its added count and sums), which is its last audited
    state plus the rows added."""
    existing = set(audited_tables(cur))
    out: dict[str, dict] = {}
    for table in sorted(set(tables) - UNAUDITED_TABLES):
        if "." in table:          # another schema (evaluation): derived, not vouched for
            continue
        if table not in existing:
            out[table] = {"dropped": True}
            continue
        state = None
        if appended and table in appended and key_id is not None:
            state = appended_digest(cur, table, secret, key_id, appended[table])
        out[table] = state or table_digest(cur, table, secret)
    return out


# -- appending ------------------------------------------------------------------------------

def keyed_columns(cur) -> bool:
    """Whether the store's audit_log has the keyed columns yet (migration 0008)."""
    return cur.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND table_name = 'audit_log' AND column_name IN ('digests', 'key_id')").fetchone()[0] == 2


def last_entry(cur) -> tuple[int, str]:
    last = cur.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(last[0]), last[1]) if last else (0, GENESIS)


def append(cur, *, seq: int, prev: str, at: dt.datetime, actor: str, role: str, action: str,
           entity_type: str | None = None, entity_id: Any = None, before: Any = None,
           after: Any = None, digests: dict | None = None, ring: Keyring | None = None) -> str:
    """Insert entry ``seq`` (its number was taken when the service called ``audit``) inside
    the caller's transaction; returns its hash. Keyed when ``ring`` is given."""
    before_json, after_json = to_json(before), to_json(after)
    at = at.astimezone(dt.timezone.utc)
    eid = None if entity_id is None else str(entity_id)
    if ring is None:
        digest = entry_hash(seq, at, actor, role, action, entity_type, eid, before_json,
                            after_json, prev)
        cur.execute("INSERT INTO audit_log (seq, logged_at, actor, role, action, entity_type, "
                    "entity_id, values_before, values_after, prev_hash, hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [seq, at, actor, role, action, entity_type, eid, before_json, after_json,
                     prev, digest])
        return digest
    digests_json = to_json(digests) if digests else None
    digest = entry_mac(ring.current_secret, seq, at, actor, role, action, entity_type, eid,
                       before_json, after_json, digests_json, ring.current, prev)
    cur.execute("INSERT INTO audit_log (seq, logged_at, actor, role, action, entity_type, "
                "entity_id, values_before, values_after, prev_hash, hash, digests, key_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, at, actor, role, action, entity_type, eid, before_json, after_json, prev,
                 digest, digests_json, ring.current])
    return digest


# -- verifying ------------------------------------------------------------------------------

@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    broken_seq: int | None = None
    reason: str = ""
    head: dict | None = None                      # {"seq", "hash", "at"} of the last entry
    problems: tuple[str, ...] = ()                # every problem found, first one = reason
    warnings: tuple[str, ...] = ()
    tables_checked: int = 0


@dataclass
class _Walk:
    ring: Keyring | None
    count: int = 0
    expected_prev: str = GENESIS
    expected_seq: int = 1
    keyed_seen: bool = False
    last: tuple | None = None
    digests: dict[str, tuple[int, str | None, dict]] = field(default_factory=dict)
    missing_keys: set[str] = field(default_factory=set)


def _walk(rows: Iterable[tuple], ring: Keyring | None) -> tuple[_Walk, str | None, int | None]:
    """Walk the chain in seq order; returns the walk and the first break (reason, seq)."""
    w = _Walk(ring)
    for row in rows:
        (seq, at, actor, role, action, etype, eid, before, after, prev, digest,
         digests, key_id) = row
        w.count += 1
        if seq != w.expected_seq:
            if seq < w.expected_seq:
                return w, _("entry {seq} appears twice or out of order").format(seq=seq), seq
            gap = (_("entry {seq} is missing").format(seq=w.expected_seq)
                   if seq == w.expected_seq + 1 else
                   _("entries {first} to {last} are missing").format(first=w.expected_seq,
                                                                     last=seq - 1))
            return w, _("entry {seq} follows entry {previous}: {gap} (deleted) or out of "
                        "order").format(seq=seq, previous=w.expected_seq - 1, gap=gap), seq
        if prev != w.expected_prev:
            return w, _("entry {seq} does not point at the previous entry's hash (entries "
                        "were removed, reordered or rewritten)").format(seq=seq), seq
        if key_id is None:
            if w.keyed_seen:
                return w, _("entry {seq} is not keyed, after keyed entries: it was added or "
                            "rewritten without the audit key").format(seq=seq), seq
            if entry_hash(seq, at, actor, role, action, etype, eid, before, after, prev) != digest:
                return w, _("entry {seq}'s contents do not match its hash").format(seq=seq), seq
        else:
            w.keyed_seen = True
            if ring is None or key_id not in ring.keys:
                w.missing_keys.add(key_id)
            elif not hmac.compare_digest(digest, entry_mac(
                    ring.keys[key_id], seq, at, actor, role, action, etype, eid, before, after,
                    digests, key_id, prev)):
                return w, _("entry {seq}'s signature does not match its contents: it was "
                            "forged or rewritten without the audit key").format(seq=seq), seq
            if digests:
                for table, state in json.loads(digests).items():
                    w.digests[table] = (seq, key_id, state)
        w.expected_prev, w.expected_seq = digest, seq + 1
        w.last = (seq, digest, at)
    return w, None, None


def _rows(cur, keyed: bool) -> Iterator[tuple]:
    cols = ("seq, logged_at, actor, role, action, entity_type, entity_id, values_before, "
            "values_after, prev_hash, hash")
    cols += ", digests, key_id" if keyed else ", NULL, NULL"
    cur.execute(f"SELECT {cols} FROM audit_log ORDER BY seq")
    while batch := cur.fetchmany(10_000):
        yield from batch


def verify(store, *, tables: bool = True) -> VerifyResult:
    """Walk the whole chain (streamed, bounded memory), check every signature, the head
    record outside the store and (``tables``) every table against its last audited digest.
    """
    problems: list[str] = []
    warnings: list[str] = []
    broken: int | None = None
    try:
        ring = load_keyring(store.path)
    except AuditKeyError as exc:
        ring = None
        problems.append(str(exc))
    with store.cursor() as cur:
        keyed = keyed_columns(cur)
        walk, reason, broken = _walk(_rows(cur, keyed), ring)
        if reason:
            problems.append(reason)
        head = None
        if walk.last is not None:
            seq, digest, at = walk.last
            head = {"seq": seq, "hash": digest, "at": utc_iso(at)}
        if walk.missing_keys:
            problems.append(
                _("entries signed with the key(s) {keys} cannot be checked: that key is not in "
                  "{source} (restore the key file from its backup)").format(
                    keys=", ".join(sorted(walk.missing_keys)),
                    source=ring.source if ring else _("any key file")))
        if walk.count == 0:
            problems.append(_("the audit log is empty: every store's log starts with its "
                              "creation, so the log was emptied"))
        elif keyed and not walk.keyed_seen and ring is not None and reason is None:
            problems.append(_("the store has an audit key but no keyed entry: the keyed "
                              "entries were removed"))
        outside, head_problem = read_head(store.path, ring)
        if head_problem:
            problems.append(head_problem)
        elif outside is None:
            if walk.keyed_seen:
                problems.append(_("the head record {name} beside the store is missing, so a "
                                  "cut tail cannot be ruled out").format(
                                      name=head_path(store.path).name))
        else:
            last_seq = head["seq"] if head else 0
            if last_seq < outside["seq"]:
                problems.append(
                    _("the log ends at entry {last}, but entry {seq} was written at {at}: the "
                      "last {count} entries were deleted (the log was truncated)").format(
                        last=last_seq, seq=outside["seq"], at=outside["at"],
                        count=outside["seq"] - last_seq))
            else:
                stored = cur.execute("SELECT hash FROM audit_log WHERE seq = ?",
                                     [outside["seq"]]).fetchone()
                if stored is None or stored[0] != outside["hash"]:
                    problems.append(_("entry {seq} no longer has the hash recorded outside the "
                                      "store: the log was rewritten").format(seq=outside["seq"]))
        checked = 0
        if tables and not reason and ring is not None and walk.keyed_seen:
            present = set(audited_tables(cur))
            for table in sorted(present | set(walk.digests)):
                state = walk.digests.get(table)
                if state is None:
                    problems.append(_("table {table} has no audited state: it was created "
                                      "outside the app").format(table=table))
                    continue
                seq, key_id, recorded = state
                if recorded.get("dropped"):
                    if table in present:
                        problems.append(_("table {table} was dropped at entry {seq} but exists"
                                          ).format(table=table, seq=seq))
                    continue
                if table not in present:
                    problems.append(_("table {table} (audited at entry {seq}) is gone: it was "
                                      "dropped outside the app").format(table=table, seq=seq))
                    continue
                if key_id not in (ring.keys if ring else {}):
                    continue
                now = table_digest(cur, table, ring.keys[key_id])
                checked += 1
                if (now["rows"], now["digest"]) != (recorded.get("rows"), recorded.get("digest")):
                    diff = now["rows"] - recorded["rows"]
                    how = (_("{n} row(s) deleted").format(n=-diff) if diff < 0 else
                           _("{n} row(s) added").format(n=diff) if diff > 0 else
                           _("rows changed"))
                    problems.append(
                        _("table {table} differs from its last audited state (entry {seq}): "
                          "{then} rows then, {now} now ({how} outside the app)").format(
                            table=table, seq=seq, then=recorded["rows"], now=now["rows"],
                            how=how))
        elif tables and ring is None and walk.count:
            warnings.append("no audit key: the tables were not checked")
    ok = not problems
    return VerifyResult(ok, walk.count, broken, problems[0] if problems else "", head,
                        tuple(problems), tuple(warnings), checked)


def verify_rows(rows: Iterable[tuple], ring: Keyring | None = None) -> VerifyResult:
    """The chain check alone over rows (seq, at, actor, role, action, entity_type, entity_id,
    before, after, prev_hash, hash[, digests, key_id]) in ascending ``seq`` order."""
    padded = (tuple(r) + (None, None) if len(r) == 11 else tuple(r) for r in rows)
    walk, reason, broken = _walk(padded, ring)
    return VerifyResult(reason is None, walk.count, broken, reason or "")

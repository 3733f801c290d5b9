"""The append-only, hash-chained audit log.

Each entry's ``hash`` is the SHA-256 of a canonical JSON array of its fields and
the previous entry's hash, so changing, deleting or reordering any entry breaks
the chain at that entry. ``verify`` walks the chain in ``seq`` order.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

GENESIS = "0" * 64


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
    payload = json.dumps(
        [seq, utc_iso(at), actor, role, action, entity_type, entity_id, before, after, prev_hash],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(cur, *, at: dt.datetime, actor: str, role: str, action: str,
           entity_type: str | None = None, entity_id: str | None = None,
           before: Any = None, after: Any = None) -> int:
    """Append one entry inside the caller's transaction; returns its ``seq``.

    Callers hold the store's write lock, so ``max(seq) + 1`` cannot race.
    """
    last = cur.execute(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    before_json, after_json = to_json(before), to_json(after)
    at = at.astimezone(dt.timezone.utc)
    digest = entry_hash(seq, at, actor, role, action, entity_type,
                        None if entity_id is None else str(entity_id),
                        before_json, after_json, prev)
    cur.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, at, actor, role, action, entity_type,
         None if entity_id is None else str(entity_id), before_json, after_json, prev, digest],
    )
    return seq


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    broken_seq: int | None = None
    reason: str = ""


def verify_rows(rows: Iterable[tuple]) -> VerifyResult:
    """Rows: (seq, at, actor, role, action, entity_type, entity_id, before, after,
    prev_hash, hash), in ascending ``seq`` order."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for row in rows:
        seq, at, actor, role, action, etype, eid, before, after, prev, digest = row
        count += 1
        if seq != expected_seq:
            return VerifyResult(False, count, seq,
                                f"entry {seq} follows entry {expected_seq - 1}: "
                                f"entry {expected_seq} is missing or out of order")
        if prev != expected_prev:
            return VerifyResult(False, count, seq,
                                f"entry {seq} does not point at the previous entry's hash")
        recomputed = entry_hash(seq, at, actor, role, action, etype, eid, before, after, prev)
        if recomputed != digest:
            return VerifyResult(False, count, seq,
                                f"entry {seq}'s contents do not match its hash")
        expected_prev, expected_seq = digest, seq + 1
    return VerifyResult(True, count)


def verify(store) -> VerifyResult:
    """Walk the whole chain, streaming it in batches (bounded memory)."""
    def rows():
        with store.cursor() as cur:
            cur.execute("SELECT * FROM audit_log ORDER BY seq")
            while batch := cur.fetchmany(10_000):
                yield from batch
    return verify_rows(rows())

"""Evidence files (issue 18): a PDF, an image, a Word or an Excel file attached to a processor,
a sharing agreement, an incident, a rights request or a finding.

Where the files live: **in the store** (migration 0022). ``evidence_blobs`` holds each
distinct file once, keyed by the SHA-256 of its bytes; ``evidence_events`` is the
append-only history: an ``attach`` names a file on a record, a ``withdraw`` names the attach
it withdraws and why. Nothing is updated or deleted, so the store's backup holds every file
ever attached, and an attach is one transaction with its audit entry.

One way in for each write:

- ``attach(store, actor, entity_type, entity_id, filename, data, description="")``
- ``withdraw(store, actor, event_id, reason)``

Both check the record's own write permission first (``RECORD_PERMISSION``: a processor, an
agreement → ``register.edit``; a finding → ``finding.acknowledge``; an incident →
``incident.update``; a rights request → ``request.update``), then ``evidence.attach``; then
the record, the file (type by content, ``dashboard/evidence_types.py``; the size limit, the
setting ``evidence_max_mb``); then one write with one audit entry (``evidence.attach`` /
``evidence.withdraw``, entity = the record, so its history shows it). Bad input raises
``EvidenceError`` (``errors``: field → message); nothing is written.

Reads: ``list_for`` (every attach on a record, withdrawn or not), ``content`` (the bytes, to
those who may read the record: the roles of its page in ``dashboard/navigation.py``), and
``for_pack`` (``dashboard/exports.py``: the files of the records an audit pack covers).

A finding is keyed as the remediation plans key it (``dashboard/remediation.py``): its rule
and its entity. Its ``entity_id`` here is ``"<rule_id>:<entity id>"``, the Findings page's
own key (``dashboards.finding_key``, the ``?finding=`` parameter); the rule gives the entity's
type. Rule ids hold no colon.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from typing import Any, Mapping, Sequence

from . import evidence_types as types
from .access import Actor, PermissionDenied, SYSTEM_ROLE, require
# A finding's entity_id for its evidence is the Findings page's key, "<rule_id>:<entity id>"
from .dashboards import finding_key, parse_finding_key  # noqa: F401 (finding_key re-exported)
from .i18n import _, fmt_datetime, label
from .navigation import PAGE_BY_KEY

ACTION = "evidence.attach"             # the write permission of both writes
ATTACH, WITHDRAW = "evidence.attach", "evidence.withdraw"   # the audit actions
ENTITY_TYPES = ("processor", "sharing_agreement", "incident", "rights_request", "finding")

# The permission to change the record, checked before evidence.attach.
RECORD_PERMISSION = {"processor": "register.edit", "sharing_agreement": "register.edit",
                     "incident": "incident.update", "rights_request": "request.update",
                     "finding": "finding.acknowledge"}
# The page that shows the record: who may open it may read (download) its evidence.
RECORD_PAGE = {"processor": "processors", "sharing_agreement": "sharing",
               "incident": "incident", "rights_request": "request", "finding": "findings"}
# The record's table and key column (a finding: see _finding_exists).
RECORD_TABLE = {"processor": ("processors", "processor_id"),
                "sharing_agreement": ("sharing_agreements", "agreement_id"),
                "incident": ("incidents", "incident_id"),
                "rights_request": ("rights_requests", "request_id")}

MAX_DESCRIPTION = 2000
MAX_REASON = 2000
MAX_NAME = 200


class EvidenceError(ValueError):
    """Bad input for an evidence write: one message per field (``file``, ``record``,
    ``description``, ``reason``, ``event``). Nothing was written."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


def may_read(actor: Actor | None, entity_type: str) -> bool:
    """Whether ``actor`` may read the records of ``entity_type`` (open its page)."""
    if actor is None or entity_type not in RECORD_PAGE:
        return False
    return actor.role == SYSTEM_ROLE or actor.role in PAGE_BY_KEY[RECORD_PAGE[entity_type]].roles


def may_attach(actor: Actor | None, entity_type: str) -> bool:
    """Whether ``actor`` may attach files to (and withdraw them from) such a record."""
    return (actor is not None and entity_type in RECORD_PERMISSION
            and actor.may(RECORD_PERMISSION[entity_type]) and actor.may(ACTION))


def _require_attach(actor: Actor, entity_type: str) -> None:
    if entity_type not in RECORD_PERMISSION:
        raise EvidenceError({"record": _("Evidence files attach to a processor, a sharing "
                                         "agreement, an incident, a rights request or a "
                                         "finding, not to {type}.").format(
            type=repr(str(entity_type)[:40]))})
    require(actor, RECORD_PERMISSION[entity_type])
    require(actor, ACTION)


def _type_words(entity_type: str) -> str:
    return label("entity_type", entity_type)


def _finding_exists(store, key: str) -> bool:
    """A finding is a record while it is open now or has a remediation plan (a finding
    resolved since keeps its plan, and so its evidence)."""
    from . import engine
    from .rules import load_rules
    parsed = parse_finding_key(key)
    if parsed is None:
        return False
    rule_id, entity_id = parsed
    rule = next(r for r in load_rules() if r.rule_id == rule_id)
    if store.scalar("SELECT count(*) FROM remediation_plan_revisions WHERE rule_id = ? AND "
                    "entity_type = ? AND entity_id = ?", [rule_id, rule.entity_type, entity_id]):
        return True
    found = engine.findings_page(store, engine.current_as_of(store), rule_id=rule_id,
                                 entity_id=entity_id, limit=1)
    return not found.empty


def record_exists(store, entity_type: str, entity_id: str) -> bool:
    if entity_type == "finding":
        return _finding_exists(store, entity_id)
    table, column = RECORD_TABLE[entity_type]
    return bool(store.scalar(f"SELECT count(*) FROM {table} WHERE {column} = ?", [entity_id]))


def _require_record(store, entity_type: str, entity_id: str) -> None:
    if not entity_id or not record_exists(store, entity_type, entity_id):
        raise EvidenceError({"record": _("There is no {type} {id}: a file can only be "
                                         "attached to a record that exists.").format(
            type=_type_words(entity_type), id=entity_id[:80])})


def clean_name(filename: Any) -> str:
    """The uploaded file's name as kept: its last path part (no folders), without control
    characters, at most ``MAX_NAME`` characters; ``evidence`` when nothing is left."""
    text = unicodedata.normalize("NFC", str(filename or ""))
    text = re.split(r"[\\/]", text)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip().strip(".")
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        text = (stem[:MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 \
            else text[:MAX_NAME]
    return text or "evidence"


def max_bytes(store) -> int:
    return int(store.settings.evidence_max_mb) * 1024 * 1024


def check_file(store, filename: Any, data: bytes) -> tuple[str, types.FileType]:
    """The name the file is kept under and its type, or ``EvidenceError`` (field ``file``)."""
    name = clean_name(filename)
    try:
        if data is None or len(data) == 0:
            raise types.FileRefused(_("{name} is empty (0 bytes): there is nothing to "
                                      "attach.").format(name=name))
        limit = max_bytes(store)
        if len(data) > limit:
            raise types.FileRefused(_("{name} is {size} MB; evidence files may be at most {mb} "
                                      "MB (the setting evidence_max_mb).").format(
                name=name, size=f"{len(data) / 1048576:.1f}", mb=store.settings.evidence_max_mb))
        kind = types.detect(bytes(data))
        return types.check_name(name, kind), kind
    except types.FileRefused as exc:
        text = str(exc)
        if not text.startswith(name):
            text = _("{name}: {why}").format(name=name, why=text)
        raise EvidenceError({"file": text}) from None


def attach(store, actor: Actor, entity_type: str, entity_id: Any, filename: Any, data: bytes,
           description: Any = "") -> dict:
    """Attach ``data`` (named ``filename`` by the uploader) to the record; returns the new
    event (as ``list_for`` lists it). Refused (nothing written): ``PermissionDenied``;
    ``EvidenceError`` for no such record, a file refused (type, size, name), a description
    too long."""
    entity_type = str(entity_type or "")
    _require_attach(actor, entity_type)
    entity_id = str(entity_id or "").strip()
    _require_record(store, entity_type, entity_id)
    text = str(description or "").strip()
    errors: dict[str, str] = {}
    if len(text) > MAX_DESCRIPTION:
        errors["description"] = _("The description is {length} characters long; at most "
                                  "{limit}.").format(length=len(text), limit=MAX_DESCRIPTION)
    try:
        name, kind = check_file(store, filename, data)
    except EvidenceError as exc:
        errors.update(exc.errors)
    if errors:
        raise EvidenceError(errors)
    content = bytes(data)
    digest = hashlib.sha256(content).hexdigest()
    with store.write(actor, ACTION) as w:
        event_id = w.execute("SELECT coalesce(max(event_id), 0) + 1 FROM evidence_events"
                             ).fetchone()[0]
        seq = w.audit(ATTACH, entity_type, entity_id, after={
            "sha256": digest, "file_name": name, "size": len(content),
            "media_type": kind.media_type, "event_id": event_id,
            **({"description": text} if text else {})})
        new_blob = not w.execute("SELECT count(*) FROM evidence_blobs WHERE sha256 = ?",
                                 [digest]).fetchone()[0]
        if new_blob:
            w.execute("INSERT INTO evidence_blobs (sha256, size, media_type, content) "
                      "VALUES (?, ?, ?, ?)", [digest, len(content), kind.media_type, content])
            w.appended_rows("evidence_blobs", "t.sha256 = $sha", {"sha": digest})
        w.execute("INSERT INTO evidence_events (event_id, entity_type, entity_id, event, "
                  "sha256, file_name, media_type, size, description, actor, role, \"at\", "
                  "audit_seq) VALUES (?, ?, ?, 'attach', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [event_id, entity_type, entity_id, digest, name, kind.media_type,
                   len(content), text or None, actor.name, actor.role, w.at, seq])
        w.appended_rows("evidence_events", "t.event_id = $id", {"id": event_id})
    return event(store, event_id)


def withdraw(store, actor: Actor, event_id: Any, reason: Any) -> dict:
    """Withdraw the attached file ``event_id`` (an attach event) with ``reason``: a new
    ``withdraw`` event; the file stays in the store and in the history."""
    try:
        target = int(event_id)
    except (TypeError, ValueError):
        raise EvidenceError({"event": _("{id} is not an evidence file number.").format(
            id=repr(str(event_id)[:40]))}) from None
    row = event(store, target)
    if row is None or row["event"] != "attach":
        if row is None:
            require(actor, ACTION)
        raise EvidenceError({"event": _("There is no attached evidence file #{id}.").format(
            id=target)})
    _require_attach(actor, row["entity_type"])
    text = str(reason or "").strip()
    if row["withdrawn"]:
        raise EvidenceError({"event": _("{name} was withdrawn already, on {at}.").format(
            name=row["file_name"], at=fmt_datetime(row["withdrawn_at"]))})
    if not text:
        raise EvidenceError({"reason": _("Say why the file is withdrawn (the reason is "
                                         "empty).")})
    if len(text) > MAX_REASON:
        raise EvidenceError({"reason": _("The reason is {length} characters long; at most "
                                         "{limit}.").format(length=len(text), limit=MAX_REASON)})
    with store.write(actor, ACTION) as w:
        new_id = w.execute("SELECT coalesce(max(event_id), 0) + 1 FROM evidence_events"
                           ).fetchone()[0]
        if w.execute("SELECT count(*) FROM evidence_events WHERE event = 'withdraw' AND "
                     "withdraws = ?", [target]).fetchone()[0]:
            raise EvidenceError({"event": _("{name} was withdrawn already.").format(
                name=row["file_name"])})
        seq = w.audit(WITHDRAW, row["entity_type"], row["entity_id"],
                      before={"event_id": target, "sha256": row["sha256"],
                              "file_name": row["file_name"], "withdrawn": False},
                      after={"event_id": new_id, "withdraws": target, "sha256": row["sha256"],
                             "file_name": row["file_name"], "size": row["size"],
                             "media_type": row["media_type"], "reason": text})
        w.execute("INSERT INTO evidence_events (event_id, entity_type, entity_id, event, "
                  "sha256, file_name, media_type, size, withdraws, reason, actor, role, "
                  "\"at\", audit_seq) VALUES (?, ?, ?, 'withdraw', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [new_id, row["entity_type"], row["entity_id"], row["sha256"],
                   row["file_name"], row["media_type"], row["size"], target, text,
                   actor.name, actor.role, w.at, seq])
        w.appended_rows("evidence_events", "t.event_id = $id", {"id": new_id})
    return event(store, target)


# -- reads -----------------------------------------------------------------------------------

LIST_COLUMNS = ("event_id", "entity_type", "entity_id", "event", "sha256", "file_name",
                "media_type", "size", "description", "actor", "role", "at", "audit_seq",
                "withdrawn", "withdrawn_at", "withdrawn_by", "withdrawn_role",
                "withdraw_reason", "withdraw_event_id")

# Each attach event with its withdrawal (if any). No parameters; filter in an outer WHERE.
_LISTED = (
    "SELECT a.event_id, a.entity_type, a.entity_id, a.event, a.sha256, a.file_name, "
    "a.media_type, a.size, a.description, a.actor, a.role, a.\"at\", a.audit_seq, "
    "w.event_id IS NOT NULL AS withdrawn, w.\"at\" AS withdrawn_at, w.actor AS withdrawn_by, "
    "w.role AS withdrawn_role, w.reason AS withdraw_reason, w.event_id AS withdraw_event_id "
    "FROM evidence_events a LEFT JOIN evidence_events w "
    "ON w.event = 'withdraw' AND w.withdraws = a.event_id WHERE a.event = 'attach'")


def _has_tables(store) -> bool:
    return bool(store.scalar(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'evidence_events'"))


def event(store, event_id: int) -> dict | None:
    """One event: an attach as ``list_for`` lists it; a withdraw with its own columns."""
    rows = store.rows(f"SELECT * FROM ({_LISTED}) WHERE event_id = ?", [int(event_id)])
    if rows:
        return dict(zip(LIST_COLUMNS, rows[0]))
    rows = store.rows("SELECT event_id, entity_type, entity_id, event, sha256, file_name, "
                      "media_type, size FROM evidence_events WHERE event_id = ?",
                      [int(event_id)])
    if not rows:
        return None
    return dict(zip(LIST_COLUMNS[:8], rows[0]))


def list_for(store, entity_type: str, entity_id: Any, include_withdrawn: bool = True
             ) -> list[dict]:
    """The files attached to one record, newest first, each with its withdrawal (who, when,
    why) when it was withdrawn (``include_withdrawn=False``: only those in force)."""
    if not _has_tables(store):
        return []
    sql = f"SELECT * FROM ({_LISTED}) WHERE entity_type = ? AND entity_id = ?"
    if not include_withdrawn:
        sql += " AND NOT withdrawn"
    rows = store.rows(sql + ' ORDER BY "at" DESC, event_id DESC',
                      [entity_type, str(entity_id)])
    return [dict(zip(LIST_COLUMNS, r)) for r in rows]


def content(store, actor: Actor, ref: Any) -> bytes:
    """The bytes of a file, by its SHA-256 (64 hex digits) or its event number, for a
    download. ``PermissionDenied`` unless ``actor`` may read a record the file is attached
    to (the roles of that record's page)."""
    text = str(ref).strip().lower()
    if re.fullmatch(r"[0-9a-f]{64}", text):
        records = store.rows("SELECT DISTINCT entity_type FROM evidence_events WHERE sha256 = ?",
                             [text])
        digest = text
    else:
        try:
            found = event(store, int(text))
        except ValueError:
            found = None
        records = [(found["entity_type"],)] if found else []
        digest = found["sha256"] if found else None
    if not records:
        raise EvidenceError({"event": _("There is no evidence file {ref}.").format(
            ref=str(ref)[:80])})
    if not any(may_read(actor, r[0]) for r in records):
        who = "?" if actor is None else actor.role
        raise PermissionDenied(_("Reading this evidence file is not allowed for role {role}: "
                                 "it is attached to a record of type {type}, whose page the "
                                 "role cannot open.").format(role=label("role", who) if actor else who,
                                          type=_type_words(records[0][0])))
    return blob(store, digest)


def blob(store, sha256: str) -> bytes:
    """The stored bytes of ``sha256`` (no permission check: callers check the record)."""
    rows = store.rows("SELECT content FROM evidence_blobs WHERE sha256 = ?", [sha256])
    if not rows:
        raise EvidenceError({"event": _("There is no evidence file {ref}.").format(ref=sha256)})
    return bytes(rows[0][0])


# -- audit packs -----------------------------------------------------------------------------

PACK_COLUMNS = ("entity_type", "entity_id", "event_id", "file_name", "sha256", "size",
                "media_type", "description", "attached_by", "attached_role", "attached_at",
                "withdrawn", "withdrawn_at", "withdrawn_by", "withdraw_reason", "member")


def pack_content(cur, sha256: str) -> bytes:
    """A file's bytes read on the pack's cursor (inside its snapshot)."""
    return bytes(cur.execute("SELECT content FROM evidence_blobs WHERE sha256 = ?",
                             [sha256]).fetchone()[0])


def _safe(text: str, fallback: str) -> str:
    """ASCII letters, digits, '.', '_' and '-' only (a ZIP member and a SHA256SUMS line
    that every unzip and ``sha256sum -c`` reads alike); runs of others become one '_'."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return out[:120] or fallback


def pack_member(row: Mapping[str, Any]) -> str:
    """A file's name inside an audit pack:
    ``evidence/<entity_type>/<entity_id>/<sha256>-<safe file name>``."""
    name = _safe(row["file_name"], "file")
    return (f"evidence/{row['entity_type']}/{_safe(str(row['entity_id']), 'record')}/"
            f"{row['sha256']}-{name}")


def for_pack(cur, selections: Sequence[tuple[str, str, Sequence[Any]]]) -> list[dict]:
    """Every file attached to the records the pack covers, withdrawn ones included (marked):
    ``selections`` are (entity_type, SQL selecting the records' ids, params), read on the
    pack's cursor inside its snapshot. Rows carry ``PACK_COLUMNS`` (``member``: the name in
    the pack; two events of one file on one record share it)."""
    has = cur.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                      "current_database() AND schema_name = 'main' AND table_name = "
                      "'evidence_events'").fetchone()[0]
    if not has or not selections:
        return []
    parts, params = [], []
    for entity_type, id_sql, p in selections:
        parts.append(f"(entity_type = ? AND entity_id IN ({id_sql}))")
        params.extend([entity_type, *p])
    rows = cur.execute(
        f"SELECT * FROM ({_LISTED}) WHERE {' OR '.join(parts)} "
        "ORDER BY entity_type, entity_id, event_id", params).fetchall()
    out = []
    for r in rows:
        item = dict(zip(LIST_COLUMNS, r))
        out.append({
            "entity_type": item["entity_type"], "entity_id": item["entity_id"],
            "event_id": item["event_id"], "file_name": item["file_name"],
            "sha256": item["sha256"], "size": item["size"], "media_type": item["media_type"],
            "description": item["description"], "attached_by": item["actor"],
            "attached_role": item["role"], "attached_at": item["at"],
            "withdrawn": bool(item["withdrawn"]), "withdrawn_at": item["withdrawn_at"],
            "withdrawn_by": item["withdrawn_by"], "withdraw_reason": item["withdraw_reason"],
            "member": pack_member(item)})
    return out

"""Legal holds on retention records (issue 18, docs/HOLDS.md): a DPO sets a hold on one record
or on every record matching a filter (subject, category, system), reviews it (a new review
date) and lifts it. Policy 6.2: information is kept past its due date only under one of five
exceptions (``registers.HOLD_REASONS``), documented (a reference) and reviewed (a date).

Where things are
----------------
- ``retention_records.hold_reason`` / ``hold_reference`` / ``hold_review_on`` stay the
  record's current hold: RET-OVERDUE leaves held records out, RET-HOLD-INVALID checks the
  reference and the review date, the exports and the Retention page show them.
- ``legal_holds`` (migration 0021): one row per action (set / reviewed / lifted) with the
  filter, the count, the values, who and when, and the action's audit entry.
- ``legal_hold_records``: the records each hold covers, written once when it is set.

Why a table of covered records and no ``hold_id`` column on ``retention_records``: a record
may fall under two holds (a court order and an authority's request on the same customer);
one column could name only one of them, and lifting the other would then release a record
that is still held. The list also answers "which records does hold H cover" for a lifted
hold. And the register's eleven columns are the data contract's: positional INSERTs of the
register (tests, benchmarks, other tools) and its exports stay as they are.

What a hold does with the records it matches
--------------------------------------------
- deleted records (``deleted_on`` on or before today) are skipped: there is nothing left to
  keep; the preview counts them;
- records on a hold that is not in this list (imported with the register: ``hold_reason``
  set, no current hold covers them) are skipped too, and counted: that hold is the
  register's, changed by an import, and overwriting it would lose it when this one is lifted;
- records already on another hold set here are covered by both. A record's columns show the
  current hold covering it whose review date falls last (ties: the later hold); lifting one
  of its holds leaves it held by the other.

Every action is one set-based UPDATE of the covered records (no loop over rows), one row in
``legal_holds`` and exactly one audit entry (``retention.hold`` / ``retention.hold_review`` /
``retention.hold_lift``, entity ``retention_record``: the record id for a hold on one record,
else the filter in words) whose ``after`` names the filter and the count. The digest of
``retention_records`` in that entry is its last audited state plus the change to the covered
rows (``Writer.changing_rows``), not a scan of the whole register.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Mapping

from .access import Actor, require
from .i18n import _, is_chinese, label
from .reference import category_label, load_catalog
from .registers import HOLD_REASONS

PERMISSION = "retention.hold"
FILTER_FIELDS = ("subject_ref", "category", "system")
REFERENCE_MAX = 500          # registers.RETENTION_RECORDS: hold_reference max_length
NOTE_MAX = 2000
FILTER_VALUE_MAX = 200
ACTIONS = {"set": "retention.hold", "reviewed": "retention.hold_review",
           "lifted": "retention.hold_lift"}


class HoldError(ValueError):
    """Bad input: ``errors`` maps each field (``filter``, ``record_id``, ``subject_ref``,
    ``category``, ``system``, ``reason``, ``reference``, ``review_on``, ``note``, ``hold``) to
    a message in the reader's language. Nothing was written."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Preview:
    """What a hold on a filter would cover, as of ``today``."""
    matching: int          # records matching the filter
    deleted: int           # of which deleted (skipped)
    held_elsewhere: int    # of which held by a hold not set here (imported; skipped)
    on_other_hold: int     # of which already on a hold set here (covered by both)
    to_hold: int           # what the hold would cover


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    action: str            # set | reviewed | lifted
    count: int
    audit_seq: int


# -- filters ------------------------------------------------------------------------------------

def clean_filter(filter_or_record: Any) -> dict[str, Any]:
    """``{"record_id": n}`` for one record (an int, or a mapping with ``record_id``), else the
    filter's non-empty fields among subject_ref, category, system (trimmed). Raises HoldError
    naming the field."""
    if isinstance(filter_or_record, bool):
        raise HoldError({"record_id": _("Give a record ID (a whole number).")})
    if isinstance(filter_or_record, int):
        filter_or_record = {"record_id": filter_or_record}
    if not isinstance(filter_or_record, Mapping):
        raise HoldError({"filter": _("Give a record ID, or at least one of subject, category "
                                     "and system.")})
    raw = dict(filter_or_record)
    if raw.get("record_id") not in (None, ""):
        value = raw["record_id"]
        try:
            record_id = int(str(value).strip())
        except ValueError:
            raise HoldError({"record_id": _("“{value}” is not a record ID (a whole number)."
                                            ).format(value=value)}) from None
        if record_id <= 0 or isinstance(value, float) and value != record_id:
            raise HoldError({"record_id": _("“{value}” is not a record ID (a whole number)."
                                            ).format(value=value)})
        others = [f for f in FILTER_FIELDS if str(raw.get(f) or "").strip()]
        if others:
            raise HoldError({"record_id": _("Give either a record ID or a filter, not both.")})
        return {"record_id": record_id}
    unknown = sorted(set(raw) - set(FILTER_FIELDS) - {"record_id"})
    if unknown:
        raise HoldError({"filter": _("Unknown filter field(s): {fields}.").format(
            fields=", ".join(map(str, unknown)))})
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in FILTER_FIELDS:
        value = raw.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            errors[field] = _("Must be a text.")
            continue
        value = value.strip()
        if not value:
            continue
        if len(value) > FILTER_VALUE_MAX:
            errors[field] = _("At most {n} characters.").format(n=FILTER_VALUE_MAX)
            continue
        if field == "category" and value not in load_catalog().categories:
            errors[field] = _("“{value}” is not a data category of the policy catalog."
                              ).format(value=value)
            continue
        out[field] = value
    if errors:
        raise HoldError(errors)
    if not out:
        raise HoldError({"filter": _("Give a record ID, or at least one of subject, category "
                                     "and system.")})
    return out


def describe(filter_: Mapping[str, Any]) -> str:
    """The filter as the audit log's entity id: ``record 42`` or
    ``category=phone; system=crm`` (English, codes: the log is a contract)."""
    if "record_id" in filter_:
        return str(filter_["record_id"])
    return "; ".join(f"{k}={filter_[k]}" for k in FILTER_FIELDS if k in filter_)


def filter_words(filter_: Mapping[str, Any]) -> str:
    """The filter in the reader's words: ``Record 42`` or ``Category: Phone; System: crm``."""
    if "record_id" in filter_:
        return _("Record {id}").format(id=filter_["record_id"])
    words = {"subject_ref": _("Subject"), "category": _("Category"), "system": _("System")}
    sep = "；" if is_chinese() else "; "
    return sep.join(f"{words[k]}: " + (category_label(filter_[k]) if k == "category"
                                       else str(filter_[k]))
                    for k in FILTER_FIELDS if k in filter_)


def review_state(review_on: dt.date, today: dt.date, soon_days: int) -> str | None:
    """``passed`` (review date before today: RET-HOLD-INVALID fails), ``due`` (today or
    within ``soon_days``), or None."""
    if review_on < today:
        return "passed"
    if review_on <= today + dt.timedelta(days=soon_days):
        return "due"
    return None


def _where(filter_: Mapping[str, Any], alias: str = "r") -> tuple[str, dict[str, Any]]:
    """SQL over ``alias`` (retention_records) for the filter, with named parameters."""
    if "record_id" in filter_:
        return f"{alias}.record_id = $f_record_id", {"f_record_id": filter_["record_id"]}
    parts = [f"{alias}.{k} = $f_{k}" for k in FILTER_FIELDS if k in filter_]
    return " AND ".join(parts), {f"f_{k}": filter_[k] for k in FILTER_FIELDS if k in filter_}


# Current holds: those with no "lifted" row; their values are those of their last row.
_CURRENT_SQL = """
    SELECT hold_id,
           arg_max(hold_reason, event_id) AS hold_reason,
           arg_max(hold_reference, event_id) AS hold_reference,
           arg_max(hold_review_on, event_id) AS hold_review_on
    FROM legal_holds GROUP BY hold_id HAVING count_if(action = 'lifted') = 0
"""


def _counts_sql(where: str) -> str:
    return f"""
        WITH m AS (SELECT r.record_id, r.hold_reason,
                          r.deleted_on IS NOT NULL AND r.deleted_on <= $today AS deleted
                   FROM retention_records r WHERE {where}),
        covered AS (SELECT DISTINCT h.record_id FROM legal_hold_records h
                    JOIN ({_CURRENT_SQL}) c USING (hold_id)
                    WHERE h.record_id IN (SELECT record_id FROM m))
        SELECT count(*),
               count_if(deleted),
               count_if(NOT deleted AND hold_reason IS NOT NULL AND cv.record_id IS NULL),
               count_if(NOT deleted AND cv.record_id IS NOT NULL)
        FROM m LEFT JOIN covered cv USING (record_id)
    """


def _preview(cur, filter_: Mapping[str, Any], today: dt.date) -> Preview:
    where, params = _where(filter_)
    n, deleted, elsewhere, other = cur.execute(_counts_sql(where),
                                               {**params, "today": today}).fetchone()
    n, deleted, elsewhere, other = (int(v or 0) for v in (n, deleted, elsewhere, other))
    return Preview(n, deleted, elsewhere, other, n - deleted - elsewhere)


def preview(store, filter_or_record: Any) -> Preview:
    """What a hold on ``filter_or_record`` would cover today: records matching, deleted,
    held by an imported hold, already on another hold here, and the count it would hold.
    Raises HoldError on a bad filter."""
    filter_ = clean_filter(filter_or_record)
    with store.cursor() as cur:
        return _preview(cur, filter_, store.now().date())


# -- validation ---------------------------------------------------------------------------------

def _review_date(value: Any, today: dt.date, errors: dict[str, str]) -> dt.date | None:
    if value is None or value == "":
        errors["review_on"] = _("Give the date the hold must be reviewed by.")
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            errors["review_on"] = _("“{value}” is not a date (YYYY-MM-DD).").format(value=value)
            return None
    if not isinstance(value, dt.date):
        errors["review_on"] = _("Give the date the hold must be reviewed by.")
        return None
    if value <= today:
        errors["review_on"] = _("The review date must be after today ({today}).").format(
            today=today.isoformat())
        return None
    return value


def _text(value: Any, field: str, errors: dict[str, str], *, required: bool, limit: int,
          missing: str) -> str | None:
    text = value.strip() if isinstance(value, str) else ("" if value is None else None)
    if text is None:
        errors[field] = _("Must be a text.")
        return None
    if not text:
        if required:
            errors[field] = missing
        return None
    if len(text) > limit:
        errors[field] = _("At most {n} characters.").format(n=limit)
        return None
    return text


def _reason(value: Any, errors: dict[str, str]) -> str | None:
    if value in HOLD_REASONS:
        return value
    if value in (None, ""):
        errors["reason"] = _("Choose the exception of policy 6.2 the hold rests on.")
    else:
        errors["reason"] = _("“{value}” is not one of: {choices}.").format(
            value=value, choices=", ".join(label("hold_reason", r) for r in HOLD_REASONS))
    return None


# -- the records' columns -------------------------------------------------------------------

def _covered(hold_param: str = "$hold") -> str:
    return f"(SELECT m.record_id FROM legal_hold_records m WHERE m.hold_id = {hold_param})"


# The columns of the records hold $hold covers, from the current holds covering each (the
# one reviewed last, then the later hold), or empty when none does any more: one UPDATE.
_APPLY_SQL = f"""
UPDATE retention_records AS r
SET hold_reason = x.hold_reason, hold_reference = x.hold_reference,
    hold_review_on = x.hold_review_on
FROM (
    SELECT t.record_id, b.hold_reason, b.hold_reference, b.hold_review_on
    FROM {_covered()} AS t
    LEFT JOIN (
        SELECT m.record_id,
               arg_max(c.hold_reason, (c.hold_review_on, c.hold_id)) AS hold_reason,
               arg_max(c.hold_reference, (c.hold_review_on, c.hold_id)) AS hold_reference,
               max(c.hold_review_on) AS hold_review_on
        FROM legal_hold_records m JOIN ({_CURRENT_SQL}) c USING (hold_id)
        WHERE m.record_id IN {_covered()}
        GROUP BY m.record_id
    ) AS b USING (record_id)
) AS x
WHERE r.record_id = x.record_id
"""


# The same when no other hold is current: the hold's own values (or none, once lifted) for
# every record it covers, without ranking the holds of each record (a third of the time).
_APPLY_ALONE_SQL = f"""
UPDATE retention_records
SET hold_reason = $reason, hold_reference = $reference, hold_review_on = $review_on
WHERE record_id IN {_covered()}
"""


def _apply(w, hold_id: int) -> None:
    """Set the columns of the records ``hold_id`` covers, declaring the change for the
    audit's digest (the covered rows, by id, before and after)."""
    others = w.execute(f"SELECT count(*) FROM ({_CURRENT_SQL}) WHERE hold_id <> ?",
                       [hold_id]).fetchone()[0]
    with w.changing_rows("retention_records", f"t.record_id IN {_covered()}",
                         {"hold": hold_id}):
        if others:
            w.execute(_APPLY_SQL, {"hold": hold_id})
            return
        row = w.execute(f"SELECT hold_reason, hold_reference, hold_review_on FROM "
                        f"({_CURRENT_SQL}) WHERE hold_id = ?", [hold_id]).fetchone()
        reason, reference, review_on = row if row else (None, None, None)
        w.execute(_APPLY_ALONE_SQL, {"hold": hold_id, "reason": reason,
                                     "reference": reference, "review_on": review_on})


def _record_hold(cur, record_id: int) -> dict[str, Any] | None:
    row = cur.execute("SELECT hold_reason, hold_reference, hold_review_on FROM "
                      "retention_records WHERE record_id = ?", [record_id]).fetchone()
    if row is None:
        return None
    return {"hold_reason": row[0], "hold_reference": row[1],
            "hold_review_on": None if row[2] is None else row[2].isoformat()}


def _event(w, *, hold_id: int, action: str, filter_: Mapping[str, Any], count: int,
           reason: str, reference: str, review_on: dt.date, note: str | None,
           seq: int) -> None:
    event_id = w.execute("SELECT coalesce(max(event_id), 0) + 1 FROM legal_holds"
                         ).fetchone()[0]
    w.execute('INSERT INTO legal_holds (event_id, hold_id, action, filter, record_count, '
              'hold_reason, hold_reference, hold_review_on, note, actor, role, "at", '
              'audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
              [event_id, hold_id, action, json.dumps(dict(filter_), sort_keys=True,
                                                     ensure_ascii=False),
               count, reason, reference, review_on, note, w.actor.name, w.actor.role, w.at,
               seq])
    w.appended_rows("legal_holds", "t.event_id = $event_id", {"event_id": event_id})


# -- the actions --------------------------------------------------------------------------------

def set_hold(store, actor: Actor, filter_or_record: Any, reason: Any, reference: Any,
             review_on: Any) -> HoldResult:
    """Hold the records matching ``filter_or_record`` (a record id, ``{"record_id": n}``, or a
    filter of subject_ref / category / system): one row per record in
    ``legal_hold_records``, the records' hold columns set in one UPDATE, one audit entry
    ``retention.hold`` with the filter and the count. Raises ``PermissionDenied`` or
    ``HoldError`` (nothing written)."""
    require(actor, PERMISSION)
    today = store.now().date()
    errors: dict[str, str] = {}
    try:
        filter_ = clean_filter(filter_or_record)
    except HoldError as exc:
        errors.update(exc.errors)
        filter_ = None
    reason = _reason(reason, errors)
    reference = _text(reference, "reference", errors, required=True, limit=REFERENCE_MAX,
                      missing=_("Give the hold's reference (the law, case, order or request "
                                "it rests on)."))
    review_on = _review_date(review_on, today, errors)
    if filter_ is not None:
        with store.cursor() as cur:
            _check_target(cur, filter_, today, errors)
    if errors:
        raise HoldError(errors)
    single = "record_id" in filter_
    with store.write(actor, PERMISSION) as w:
        where, params = _where(filter_)
        hold_id = w.execute("SELECT coalesce(max(hold_id), 0) + 1 FROM legal_holds"
                            ).fetchone()[0]
        before = _record_hold(w.cur, filter_["record_id"]) if single else None
        # the records it covers: matching, not deleted, not held by a hold not set here
        w.execute(f"""
            INSERT INTO legal_hold_records
            SELECT $hold, r.record_id FROM retention_records r
            WHERE {where}
              AND (r.deleted_on IS NULL OR r.deleted_on > $today)
              AND (r.hold_reason IS NULL OR r.record_id IN (
                    SELECT h.record_id FROM legal_hold_records h
                    JOIN ({_CURRENT_SQL}) c USING (hold_id)))
        """, {**params, "hold": hold_id, "today": today})
        count = w.execute("SELECT count(*) FROM legal_hold_records WHERE hold_id = ?",
                          [hold_id]).fetchone()[0]
        if count == 0:     # changed since the check above (the write lock was not held)
            raise HoldError({"filter": _("No record matching the filter can be held.")})
        w.appended_rows("legal_hold_records", "t.hold_id = $hold", {"hold": hold_id})
        seq = w.audit(ACTIONS["set"], "retention_record", describe(filter_), before=before,
                      after=_after(hold_id, filter_, count, reason, reference, review_on))
        _event(w, hold_id=hold_id, action="set", filter_=filter_, count=count, reason=reason,
               reference=reference, review_on=review_on, note=None, seq=seq)
        _apply(w, hold_id)
    return HoldResult(hold_id, "set", count, seq)


def _check_target(cur, filter_: Mapping[str, Any], today: dt.date,
                  errors: dict[str, str]) -> None:
    """Refuse a filter that would hold nothing, saying why (the field it belongs to)."""
    p = _preview(cur, filter_, today)
    if "record_id" in filter_:
        rid = filter_["record_id"]
        if p.matching == 0:
            errors["record_id"] = _("There is no record {id}.").format(id=rid)
        elif p.deleted:
            errors["record_id"] = _("Record {id} is deleted: there is nothing to hold.").format(
                id=rid)
        elif p.held_elsewhere:
            errors["record_id"] = _("Record {id} is on a hold recorded in the register "
                                    "(imported), not one set here: change it in the register."
                                    ).format(id=rid)
        return
    if p.matching == 0:
        errors["filter"] = _("No record matches the filter.")
    elif p.to_hold == 0:
        errors["filter"] = _("None of the {n} records matching the filter can be held: "
                             "{deleted} are deleted and {held} are on a hold recorded in "
                             "the register.").format(n=p.matching, deleted=p.deleted,
                                                     held=p.held_elsewhere)


def _after(hold_id: int, filter_: Mapping[str, Any], count: int, reason: str, reference: str,
           review_on: dt.date, **extra: Any) -> dict[str, Any]:
    return {"hold_id": hold_id, "filter": dict(filter_), "count": int(count), "reason": reason,
            "reference": reference, "review_on": review_on.isoformat(), **extra}


def _current(cur, hold: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    """The current hold ``hold`` (its id) with its filter and values, or an error under
    ``hold``."""
    try:
        hold_id = int(str(hold).strip())
    except (TypeError, ValueError):
        errors["hold"] = _("“{value}” is not a hold number.").format(value=hold)
        return None
    rows = cur.execute(
        "SELECT action, filter, hold_reason, hold_reference, hold_review_on FROM legal_holds "
        "WHERE hold_id = ? ORDER BY event_id", [hold_id]).fetchall()
    if not rows:
        errors["hold"] = _("There is no hold {id}.").format(id=hold_id)
        return None
    if any(r[0] == "lifted" for r in rows):
        errors["hold"] = _("Hold {id} was lifted already.").format(id=hold_id)
        return None
    last = rows[-1]
    count = cur.execute("SELECT count(*) FROM legal_hold_records WHERE hold_id = ?",
                        [hold_id]).fetchone()[0]
    return {"hold_id": hold_id, "filter": json.loads(rows[0][1]), "reason": last[2],
            "reference": last[3], "review_on": last[4], "count": int(count)}


def _before(hold: Mapping[str, Any]) -> dict[str, Any]:
    return {"hold_id": hold["hold_id"], "reason": hold["reason"],
            "reference": hold["reference"], "review_on": hold["review_on"].isoformat()}


def review_hold(store, actor: Actor, hold: Any, review_on: Any, note: Any = None,
                reference: Any = None) -> HoldResult:
    """Record a review of current hold ``hold`` (its number): a new review date (after
    today), an optional note, and a new reference if given. The covered records' columns
    follow, in one UPDATE; one audit entry ``retention.hold_review``."""
    require(actor, PERMISSION)
    today = store.now().date()
    errors: dict[str, str] = {}
    with store.cursor() as cur:
        current = _current(cur, hold, errors)
    review_on = _review_date(review_on, today, errors)
    note = _text(note, "note", errors, required=False, limit=NOTE_MAX, missing="")
    new_reference = _text(reference, "reference", errors, required=False,
                          limit=REFERENCE_MAX, missing="")
    if errors:
        raise HoldError(errors)
    return _act(store, actor, current, "reviewed", review_on=review_on, note=note,
                reference=new_reference or current["reference"])


def lift_hold(store, actor: Actor, hold: Any, note: Any) -> HoldResult:
    """Lift current hold ``hold`` (its number), saying why (``note``, required). Its records
    leave it: those another current hold covers take that hold's values, the others are
    released (their hold columns emptied), in one UPDATE; one audit entry
    ``retention.hold_lift``."""
    require(actor, PERMISSION)
    errors: dict[str, str] = {}
    with store.cursor() as cur:
        current = _current(cur, hold, errors)
    note = _text(note, "note", errors, required=True, limit=NOTE_MAX,
                 missing=_("Say why the hold ends."))
    if errors:
        raise HoldError(errors)
    return _act(store, actor, current, "lifted", review_on=current["review_on"], note=note,
                reference=current["reference"])


def _act(store, actor: Actor, current: Mapping[str, Any], action: str, *,
         review_on: dt.date, note: str | None, reference: str) -> HoldResult:
    hold_id, filter_ = current["hold_id"], current["filter"]
    with store.write(actor, PERMISSION) as w:
        again: dict[str, str] = {}
        if _current(w.cur, hold_id, again) is None:      # lifted meanwhile
            raise HoldError(again)
        count = current["count"]
        single = "record_id" in filter_
        before = (_record_hold(w.cur, filter_["record_id"]) if single else _before(current))
        extra = {"note": note} if note else {}
        seq = w.audit(ACTIONS[action], "retention_record", describe(filter_), before=before,
                      after=_after(hold_id, filter_, count, current["reason"], reference,
                                   review_on, **extra))
        _event(w, hold_id=hold_id, action=action, filter_=filter_, count=count,
               reason=current["reason"], reference=reference, review_on=review_on, note=note,
               seq=seq)
        _apply(w, hold_id)
    return HoldResult(hold_id, action, count, seq)


# -- reading ------------------------------------------------------------------------------------

def current_holds(store) -> "pd.DataFrame":   # noqa: F821
    """Every current hold: hold_id, filter (JSON), reason, reference, review_on, count (the
    records it covers), set_by, set_at, last_by, last_at (its last action)."""
    return store.df(f"""
        WITH c AS ({_CURRENT_SQL}),
        e AS (SELECT hold_id,
                     arg_min(filter, event_id) AS filter,
                     arg_min(actor, event_id) AS set_by, min("at") AS set_at,
                     arg_max(actor, event_id) AS last_by, max("at") AS last_at,
                     arg_max(action, event_id) AS last_action
              FROM legal_holds GROUP BY hold_id),
        n AS (SELECT hold_id, count(*) AS count FROM legal_hold_records
              WHERE hold_id IN (SELECT hold_id FROM c) GROUP BY hold_id)
        SELECT c.hold_id, e.filter, c.hold_reason AS reason, c.hold_reference AS reference,
               c.hold_review_on AS review_on, coalesce(n.count, 0) AS count,
               e.set_by, e.set_at, e.last_by, e.last_at, e.last_action
        FROM c JOIN e USING (hold_id) LEFT JOIN n USING (hold_id)
        ORDER BY c.hold_review_on, c.hold_id
    """)


def history(store, hold_id: int) -> "pd.DataFrame":   # noqa: F821
    """Hold ``hold_id``'s actions, oldest first."""
    return store.df('SELECT event_id, action, record_count AS count, hold_reason AS reason, '
                    'hold_reference AS reference, hold_review_on AS review_on, note, actor, '
                    'role, "at", audit_seq FROM legal_holds WHERE hold_id = ? '
                    'ORDER BY event_id', [int(hold_id)])


def covered_records(store, hold_id: int, *, limit: int = 1000) -> "pd.DataFrame":  # noqa: F821
    """The first ``limit`` records hold ``hold_id`` covers (or covered), by record id."""
    return store.df("SELECT r.record_id, r.subject_ref, r.category, r.system, r.deleted_on, "
                    "r.hold_reason, r.hold_reference, r.hold_review_on FROM retention_records r "
                    "WHERE r.record_id IN (SELECT record_id FROM legal_hold_records "
                    "WHERE hold_id = ?) ORDER BY r.record_id LIMIT ?", [int(hold_id), limit])


# -- the command line: python -m dashboard hold set|review|lift|list ---------------------------

def _cli_errors(exc: HoldError, err) -> int:
    from .cli import EXIT_BAD_INPUT
    for field, message in exc.errors.items():
        err.write(f"{field}: {message}\n")
    err.write("nothing was written\n")
    return EXIT_BAD_INPUT


def _cli_filter(args) -> Any:
    if args.record_id is not None:
        return {"record_id": args.record_id, "subject_ref": args.subject,
                "category": args.category, "system": args.system}
    return {"subject_ref": args.subject, "category": args.category, "system": args.system}


def cmd_set(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_OK, open_store
    try:
        with open_store(args, read_only=args.preview, must_exist=True) as store:
            if args.preview:
                p = preview(store, _cli_filter(args))
                out.write(f"matching {p.matching}, deleted {p.deleted} (skipped), on a hold "
                          f"recorded in the register {p.held_elsewhere} (skipped), already "
                          f"on another hold {p.on_other_hold} (covered by both): a hold "
                          f"would cover {p.to_hold}\n")
                return EXIT_OK
            result = set_hold(store, cli_actor(), _cli_filter(args), args.reason,
                              args.reference, args.review_on)
    except HoldError as exc:
        return _cli_errors(exc, err)
    out.write(f"hold {result.hold_id} set on {result.count} record(s); audited as "
              f"retention.hold (entry {result.audit_seq})\n")
    return EXIT_OK


def _cli_act(args, out, err, act, words: str) -> int:
    """Review or lift a hold from the command line: ``act(store, actor)`` does it."""
    from .access import cli_actor
    from .cli import EXIT_OK, open_store
    try:
        with open_store(args, must_exist=True) as store:
            result = act(store, cli_actor())
    except HoldError as exc:
        return _cli_errors(exc, err)
    out.write(f"hold {result.hold_id} {words} ({result.count} record(s)); audited as "
              f"{ACTIONS[result.action]} (entry {result.audit_seq})\n")
    return EXIT_OK


def cmd_review(args, out, err) -> int:
    return _cli_act(args, out, err, lambda store, actor: review_hold(
        store, actor, args.hold, args.review_on, args.note, args.reference),
        f"reviewed, next review {args.review_on}")


def cmd_lift(args, out, err) -> int:
    return _cli_act(args, out, err,
                    lambda store, actor: lift_hold(store, actor, args.hold, args.note), "lifted")


def cmd_list(args, out, err) -> int:
    from .cli import EXIT_BAD_INPUT, EXIT_OK, open_store
    with open_store(args, read_only=True, must_exist=True) as store:
        if args.history is not None:
            frame = history(store, args.history)
            if frame.empty:
                err.write(f"hold: there is no hold {args.history}\n")
                return EXIT_BAD_INPUT
            for row in frame.itertuples():
                out.write(f"{row.at.isoformat()}  {row.action:<8}  {row.count:>9}  "
                          f"{row.reason}  {row.reference}  review {row.review_on:%Y-%m-%d}  "
                          f"{row.actor} ({row.role})  entry {row.audit_seq}"
                          + (f"  note: {row.note}" if isinstance(row.note, str) else "") + "\n")
            return EXIT_OK
        frame = current_holds(store)
        today = store.now().date()
        if frame.empty:
            out.write("no current hold\n")
        for row in frame.itertuples():
            review = row.review_on.date() if hasattr(row.review_on, "date") else row.review_on
            state = review_state(review, today, store.settings.due_soon_days)
            due = {"passed": "  REVIEW PASSED", "due": "  REVIEW DUE"}.get(state, "")
            out.write(f"hold {row.hold_id}: {describe(json.loads(row.filter))}  "
                      f"{row.count} record(s)  {row.reason}  {row.reference}  review "
                      f"{review:%Y-%m-%d}{due}  set by {row.set_by} at "
                      f"{row.set_at.isoformat()}\n")
    return EXIT_OK


def register_cli(sub) -> None:
    p = sub.add_parser("hold", help="legal holds on retention records: set, review, lift, list")
    cmds = p.add_subparsers(dest="hold_command", required=True, parser_class=type(p))
    c = cmds.add_parser("set", help="hold one record (--record-id) or every record matching "
                                    "--subject/--category/--system (audited retention.hold)")
    c.add_argument("--record-id", type=int, default=None)
    c.add_argument("--subject", default=None, help="subject_ref")
    c.add_argument("--category", default=None, help="data category code")
    c.add_argument("--system", default=None)
    c.add_argument("--reason", default=None, help="one of: " + ", ".join(HOLD_REASONS))
    c.add_argument("--reference", default=None, help="the law, case, order or request")
    c.add_argument("--review-on", default=None, metavar="YYYY-MM-DD",
                   help="review date, after today")
    c.add_argument("--preview", action="store_true",
                   help="only count what the hold would cover; write nothing")
    c.set_defaults(handler=cmd_set)
    c = cmds.add_parser("review", help="record a review of a hold: a new review date")
    c.add_argument("hold", help="the hold's number (hold list)")
    c.add_argument("--review-on", required=True, metavar="YYYY-MM-DD")
    c.add_argument("--note", default=None)
    c.add_argument("--reference", default=None, help="a new reference, if it changed")
    c.set_defaults(handler=cmd_review)
    c = cmds.add_parser("lift", help="lift a hold; its records are released unless another "
                                     "current hold covers them")
    c.add_argument("hold", help="the hold's number (hold list)")
    c.add_argument("--note", required=True, help="why the hold ends")
    c.set_defaults(handler=cmd_lift)
    c = cmds.add_parser("list", help="current holds (or one hold's history with --history)")
    c.add_argument("--history", type=int, default=None, metavar="HOLD")
    c.set_defaults(handler=cmd_list)

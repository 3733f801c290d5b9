"""Add and edit processors and sharing agreements, offboard a processor, end an agreement
(issue 18); a record's history for its page.

Validation is the import's own: each record goes through ``importer.check_record``, which
checks it as a one-row Parquet file with the very rules an uploaded file meets
(``registers.py`` describes the columns; ``importer._Validation`` checks them in SQL). A
value the import refuses is refused here with the same reason, and what is stored is what
an import of the value would store (empty text is empty, i.e. NULL; one quote before
``= + - @`` is taken off, as for an exported file). Bad input raises
``RegisterInputError`` carrying ``{field: message}``; nothing is written.

Every change is one write (``store.write(actor, "register.edit")``: the DPO, or the
command line), one INSERT or UPDATE, and one audit entry whose entity is the record
(``processor`` / ``sharing_agreement`` and its key), ``before`` the changed fields' old
values (None when the record is added) and ``after`` their new values. An edit that changes
nothing writes nothing. docs/REGISTERS.md describes it for users.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Mapping

import duckdb
import pandas as pd

from . import importer
from . import registers as R
from .access import Actor, require
from .i18n import N_, _, fmt_date, label, is_chinese
from .reference import category_label

PERMISSION = "register.edit"
# The registers the forms edit, and the audit entity type of their records.
ENTITY_TYPES = {"processors": "processor", "sharing_agreements": "sharing_agreement"}
TABLE_OF = {v: k for k, v in ENTITY_TYPES.items()}
# Record-level messages (no single field) go under this key.
RECORD = "_record"


class RegisterInputError(ValueError):
    """Bad input: ``errors`` maps each field (a column name, or ``RECORD``) to a message in
    the language of the run that validated. Nothing was written."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def register_of(table: str) -> R.Register:
    """The register behind a form: ``processors`` or ``sharing_agreements``."""
    if table not in ENTITY_TYPES:
        raise ValueError(f"the forms edit {', '.join(ENTITY_TYPES)}, not {table!r}")
    return R.get_register(table)


# -- reads ---------------------------------------------------------------------------------
def get_record(store, table: str, key: str) -> dict[str, Any] | None:
    """The record as Python values (dates, lists, booleans), or None."""
    reg = register_of(table)
    names = reg.column_names
    with store.cursor() as cur:
        row = cur.execute(f"SELECT {', '.join(names)} FROM {reg.name} WHERE {reg.key} = ?",
                          [str(key)]).fetchone()
    return None if row is None else dict(zip(names, row))


def record_choices(store, table: str) -> list[tuple[str, str]]:
    """(key, name) of every record, by key: for the "open a record" select boxes."""
    reg = register_of(table)
    name = "name" if table == "processors" else "counterparty"
    return [(str(k), str(n)) for k, n in store.rows(
        f"SELECT {reg.key}, {name} FROM {reg.name} ORDER BY {reg.key}")]


def category_codes() -> list[str]:
    """The data category codes a list may hold (the policy catalog)."""
    return importer._category_codes()


def record_history(store, table: str, key: str) -> pd.DataFrame:
    """The record's audit entries, oldest first, one row per changed field: ``seq``,
    ``logged_at``, ``actor``, ``role``, ``action``, ``field``, ``before``, ``after`` (values
    as the audit log holds them: JSON values, dates as ISO text). Imports are not listed:
    their entries name a file, not the records it held."""
    order = {n: i for i, n in enumerate(register_of(table).column_names)}
    rows = store.rows(
        "SELECT seq, logged_at, actor, role, action, values_before, values_after "
        "FROM audit_log WHERE entity_type = ? AND entity_id = ? ORDER BY seq",
        [ENTITY_TYPES[table], str(key)])
    out = []
    for seq, at, who, role, action, before, after in rows:
        b, a = _load(before), _load(after)
        b = b if isinstance(b, dict) else {}
        a = a if isinstance(a, dict) else {}
        names = sorted(dict.fromkeys([*a, *b]), key=lambda n: order.get(n, len(order)))
        for name in names or [None]:
            out.append((seq, at, who, role, action, name, b.get(name), a.get(name)))
    columns = ["seq", "logged_at", "actor", "role", "action", "field", "before", "after"]
    return pd.DataFrame({c: pd.Series([r[i] for r in out], dtype=object)
                         for i, c in enumerate(columns)})


def value_words(table: str, name: str | None, value: Any) -> str:
    """A field's value as the pages show it: codes in words, dates in the locale, lists
    joined; "—" for none."""
    if value is None or name is None:
        return "—"
    reg = register_of(table)
    if name == "media_type":                   # an evidence file's type, in words
        from .evidence_types import BY_MEDIA_TYPE
        kind = BY_MEDIA_TYPE.get(str(value))
        return _(kind.label) if kind else str(value)
    if name not in reg.column_names:           # ended_on: the date an agreement ended
        return _date_words(value)
    col = reg.column(name)
    kind = R.LABEL_KINDS.get(table, {}).get(name)
    one = (category_label if kind == "category" else
           (lambda c: label(kind, c)) if kind else str)
    if isinstance(value, (list, tuple)):
        return ("、" if is_chinese() else ", ").join(one(v) for v in value) if value else "—"
    if col.type == R.DATE:
        return _date_words(value)
    if col.type == R.BOOLEAN:
        return _("yes") if value else _("no")
    return one(value)


def field_heading(table: str, name: str | None) -> str:
    if name is None:
        return ""
    reg = register_of(table)
    if name in reg.column_names:
        return _(reg.column(name).heading)
    return _(_AUDIT_FIELDS[name]) if name in _AUDIT_FIELDS else name


# Fields of audit entries about a record that are not register columns: the end date of an
# agreement, and an evidence file's attach/withdraw entry (dashboard/evidence.py).
_AUDIT_FIELDS = {
    "ended_on": N_("Ended on"), "event_id": N_("Evidence file event"),
    "file_name": N_("File name"), "media_type": N_("File type"), "sha256": N_("SHA-256"),
    "size": N_("Size in bytes"), "withdraws": N_("Withdraws event"), "reason": N_("Reason"),
    "description": N_("Description"),
}


# -- writes --------------------------------------------------------------------------------
def add_record(store, actor: Actor, table: str, values: Mapping[str, Any]) -> str:
    """Add a record; returns its key. ``values``: column -> value (missing ones empty).
    Raises ``PermissionDenied``, or ``RegisterInputError`` (an existing key is refused under
    the key field); nothing written then."""
    require(actor, PERMISSION)
    reg = register_of(table)
    row = {name: values.get(name) for name in reg.column_names}
    errors = {name: importer._unknown_column(reg, name) for name in values
              if name not in reg.column_names}
    clean, found = importer.check_record(store, table, row)
    errors.update(_by_field(found))
    key = clean.get(reg.key, row[reg.key])
    if reg.key not in errors and get_record(store, table, key) is not None:
        errors[reg.key] = _exists(reg, key)
    if errors:
        raise RegisterInputError(errors)
    names = list(clean)
    try:
        with store.write(actor, PERMISSION) as w:
            w.execute(f"INSERT INTO {reg.name} ({', '.join(names)}) "
                      f"VALUES ({', '.join('?' for _n in names)})", [clean[n] for n in names])
            w.audit("register.add", ENTITY_TYPES[table], key, before=None,
                    after={n: v for n, v in clean.items() if v is not None})
    except duckdb.ConstraintException:        # added meanwhile by someone else
        raise RegisterInputError({reg.key: _exists(reg, key)}) from None
    return key


def edit_record(store, actor: Actor, table: str, key: str,
                changes: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Change fields of a record: ``changes`` maps a column to its new value (None or ""
    empties it). The whole record, changed, must pass the import's checks. The key cannot
    change. Returns ``{field: (old, new)}`` of what changed: empty when nothing did, and
    then nothing is written (no audit entry either)."""
    return _change(store, actor, table, key, dict(changes), "register.edit")


def offboard_processor(store, actor: Actor, processor_id: str, offboarded_on: dt.date | None,
                       data_returned_on: dt.date | None = None) -> dict[str, tuple[Any, Any]]:
    """Offboard a processor: status ``offboarded``, ``offboarded_on`` (required, not after
    today) and, when given, ``data_returned_on`` (return or deletion of the data confirmed;
    not after today). Rule PROC-OFFBOARD-RETURN then expects that confirmation within
    ``offboard_return_days`` of the offboarding. Audited ``processor.offboard``."""
    require(actor, PERMISSION)
    today = store.now().date()
    errors: dict[str, str] = {}
    if offboarded_on is None or offboarded_on == "":
        errors["offboarded_on"] = _("required value is empty")
    changes: dict[str, Any] = {"status": "offboarded", "offboarded_on": offboarded_on}
    if data_returned_on not in (None, ""):
        changes["data_returned_on"] = data_returned_on
    current = get_record(store, "processors", processor_id)
    if current is not None and current["status"] == "offboarded":
        errors["status"] = _("the processor is already offboarded")
    return _change(store, actor, "processors", processor_id, changes, "processor.offboard",
                   errors=errors, not_after=today)


def end_agreement(store, actor: Actor, agreement_id: str,
                  ended_on: dt.date | None = None) -> dict[str, tuple[Any, Any]]:
    """End a sharing agreement on ``ended_on`` (default today; not after today): status
    ``ended``, and ``expires_on`` brought forward to that day when it was later or not
    recorded (an ended agreement is in no rule's scope: the status-filtered rules read active
    ones only, and those reading ended ones do not read the expiry). Audited
    ``agreement.end`` with ``ended_on`` in its after values."""
    require(actor, PERMISSION)
    today = store.now().date()
    errors: dict[str, str] = {}
    if ended_on in (None, ""):
        ended_on = today
    elif not isinstance(ended_on, dt.date):
        try:
            ended_on = dt.date.fromisoformat(str(ended_on).strip())
        except ValueError:
            errors["ended_on"] = _("not a date: expected YYYY-MM-DD, e.g. 2026-03-01")
    if isinstance(ended_on, dt.date) and ended_on > today:
        errors["ended_on"] = _future(today)
    changes: dict[str, Any] = {"status": "ended"}
    current = get_record(store, "sharing_agreements", agreement_id)
    if current is not None:
        if current["status"] == "ended":
            errors["status"] = _("the agreement has already ended")
        expires = current["expires_on"]
        if isinstance(ended_on, dt.date) and (expires is None or expires > ended_on):
            changes["expires_on"] = ended_on
    return _change(store, actor, "sharing_agreements", agreement_id, changes, "agreement.end",
                   errors=errors, note={"ended_on": ended_on})


# -- internals -----------------------------------------------------------------------------
def _change(store, actor: Actor, table: str, key: str, changes: dict[str, Any], action: str,
            *, errors: dict[str, str] | None = None, note: dict | None = None,
            not_after: dt.date | None = None) -> dict[str, tuple[Any, Any]]:
    """Check the record with ``changes`` applied (``not_after``: the changed dates may not
    be later), then one UPDATE of the fields that differ and one audit entry."""
    require(actor, PERMISSION)
    reg = register_of(table)
    errors = dict(errors or {})
    current = get_record(store, table, key)
    if current is None:
        raise _missing(reg, key)
    if reg.key in changes:
        if changes.pop(reg.key) not in (key, current[reg.key]):
            errors[reg.key] = _("the ID of a record cannot be changed")
    errors.update({name: importer._unknown_column(reg, name) for name in changes
                   if name not in reg.column_names})
    changes = {n: v for n, v in changes.items() if n in reg.column_names}
    clean, found = importer.check_record(store, table, {**current, **changes})
    for name, message in _by_field(found).items():
        errors.setdefault(name, message)
    if not_after is not None:
        for name in changes:
            value = clean.get(name, changes[name])
            if isinstance(value, dt.date) and value > not_after:
                errors.setdefault(name, _future(not_after))
    if errors:
        raise RegisterInputError(errors)
    changed = {n: (current[n], clean[n]) for n in changes if not _same(current[n], clean[n])}
    if not changed:
        return {}
    names = list(changed)
    with store.write(actor, PERMISSION) as w:
        # The values as they stand inside the write (another change may have come first).
        old = w.execute(f"SELECT {', '.join(names)} FROM {reg.name} WHERE {reg.key} = ?",
                        [current[reg.key]]).fetchone()
        if old is None:
            raise _missing(reg, key)
        changed = {n: (o, changed[n][1]) for n, o in zip(names, old)}
        w.execute(f"UPDATE {reg.name} SET {', '.join(f'{n} = ?' for n in names)} "
                  f"WHERE {reg.key} = ?", [changed[n][1] for n in names] + [current[reg.key]])
        w.audit(action, ENTITY_TYPES[table], current[reg.key],
                before={n: o for n, (o, _new) in changed.items()},
                after={**{n: new for n, (_old, new) in changed.items()}, **(note or {})})
    return changed


def _by_field(errors: list[importer.RowError]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in errors:
        out.setdefault(e.column or RECORD, e.reason)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return list(a or []) == list(b or [])
    return a == b


def _missing(reg: R.Register, key: Any) -> RegisterInputError:
    return RegisterInputError({reg.key: _("no {table} record {key}").format(
        table=reg.name, key=key)})


def _exists(reg: R.Register, key: Any) -> str:
    return _("{key} already exists: open its page to change it").format(key=key)


def _future(today: dt.date) -> str:
    return _("a date after today ({today}) has not happened yet").format(
        today=fmt_date(today))


def _date_words(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return fmt_date(value) if isinstance(value, dt.date) else str(value)


def _load(value: Any) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


# -- the command line ----------------------------------------------------------------------------
def _assignments(table: str, pairs: list[str]) -> dict[str, Any]:
    """``field=value`` words as a CSV cell would hold them: empty clears, a list is
    ``;``-joined."""
    reg = register_of(table)
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise RegisterInputError({pair: "expected field=value"})
        name = name.strip()
        if name in reg.column_names and reg.column(name).type == R.LIST:
            out[name] = [v for v in (x.strip() for x in value.split(";")) if v]
        else:
            out[name] = value
    return out


def cmd_register(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_BAD_INPUT, EXIT_OK, open_store
    actor = cli_actor()
    with open_store(args, must_exist=True) as store:
        try:
            if args.register_command == "add":
                key = add_record(store, actor, args.table,
                                 _assignments(args.table, args.values))
                out.write(f"{args.table}: added {key}; audited as register.add\n")
                return EXIT_OK
            if args.register_command == "edit":
                changed = edit_record(store, actor, args.table, args.key,
                                      _assignments(args.table, args.values))
                action = "register.edit"
            elif args.register_command == "offboard":
                changed = offboard_processor(store, actor, args.key, args.on,
                                             args.data_returned)
                action = "processor.offboard"
            else:
                changed = end_agreement(store, actor, args.key, args.on)
                action = "agreement.end"
        except RegisterInputError as exc:
            for name, message in exc.errors.items():
                err.write(f"error: {name}: {message}\n")
            err.write("nothing was written\n")
            return EXIT_BAD_INPUT
        if not changed:
            out.write(f"{args.key}: nothing changed; nothing was written\n")
        for name, (old, new) in changed.items():
            out.write(f"{args.key}: {name}: {old} -> {new}\n")
        if changed:
            out.write(f"audited as {action}\n")
    return EXIT_OK


def register_cli(sub) -> None:
    p = sub.add_parser("register", help="add or edit a processor or sharing agreement, "
                                        "offboard a processor, end an agreement (audited)",
                       description="The register forms' writes from the command line: the "
                                   "same checks as an import, one audit entry each; bad "
                                   "input is listed per field (exit 2) and nothing is written.")
    cmds = p.add_subparsers(dest="register_command", required=True, parser_class=type(p))
    tables = sorted(ENTITY_TYPES)
    c = cmds.add_parser("add", help="add a record: field=value ... (lists joined by ';')")
    c.add_argument("table", choices=tables)
    c.add_argument("values", nargs="*", metavar="field=value")
    c.set_defaults(handler=cmd_register)
    c = cmds.add_parser("edit", help="change fields of a record: field=value ... "
                                     "(field= clears it)")
    c.add_argument("table", choices=tables)
    c.add_argument("key")
    c.add_argument("values", nargs="+", metavar="field=value")
    c.set_defaults(handler=cmd_register)
    c = cmds.add_parser("offboard", help="offboard a processor")
    c.add_argument("key", metavar="processor_id")
    c.add_argument("--on", required=True, help="offboarded on (YYYY-MM-DD)")
    c.add_argument("--data-returned", help="return or deletion of the data confirmed on "
                                           "(YYYY-MM-DD)")
    c.set_defaults(handler=cmd_register)
    c = cmds.add_parser("end", help="end a sharing agreement")
    c.add_argument("key", metavar="agreement_id")
    c.add_argument("--on", help="ended on (YYYY-MM-DD; default today)")
    c.set_defaults(handler=cmd_register)

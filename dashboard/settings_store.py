"""Settings changed in the app (issue 18): a DPO or an administrator sets a value on the
Settings page; it is validated like a settings-file value, stored in ``settings_values``
(migration 0020) and audited (``settings.set`` / ``settings.reset``, before and after).

Precedence, lowest first: the default, the value set in the app, the settings file, the
environment (``Store.settings`` layers them; ``Settings.origin`` names the winner). A
setting the file or the environment sets cannot be changed in the app: ``set_value``
refuses, naming the file or the variable that wins, since the value would have no effect
(an administrator changes or removes it there). ``reset_value`` deletes the app's value,
so the file's, the environment's or the default takes over; it is allowed while a file or
variable wins too, to clear a value that no longer counts.

The time zone (the data contract's) and the working-day calendar file (a path on the
server) are changed in the file or the environment only (``settings.FILE_ONLY``).

A value saved here is used by the next evaluation at once: the write bumps the store's
input version and every ``Store`` on the file re-reads its settings (``Store.settings``).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from .access import Actor, require
from .i18n import _, is_chinese, label
from .settings import (FILE_ONLY, SPEC_BY_NAME, SPECS, STORE_ORIGIN, Setting, Settings,
                       SettingsError, _coerce)
from .store import SETTINGS_TABLE, StoreError

ACTION = "settings.manage"
TEXT_MAX_CHARS = 500        # reporting_unit, pi_contact: one line, as the documents print it


class SettingValueError(ValueError):
    """A value the app refuses (wrong kind, out of range, overridden): nothing was written.
    The message names the setting and says what is wrong, in the reader's language."""


@dataclass(frozen=True)
class Change:
    name: str
    before: dict[str, Any]
    after: dict[str, Any]
    changed: bool


def editable(name: str) -> bool:
    """Whether the setting may be changed in the app at all."""
    return name in SPEC_BY_NAME and name not in FILE_ONLY


def kind_of(spec: Setting) -> str:
    """The widget a setting needs: ``int``, ``bool``, ``choice``, ``time``, ``list``,
    ``text``."""
    if isinstance(spec.default, bool):
        return "bool"
    if isinstance(spec.default, int):
        return "int"
    if isinstance(spec.default, tuple):
        return "list"
    if spec.kind == "time":
        return "time"
    if spec.choices:
        return "choice"
    return "text"


def value_words(spec: Setting, value: Any) -> str:
    """A value as the page shows it: a grade in words, a list comma-separated, true/false
    in words."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    if spec.choices and value in spec.choices:
        return label("grade", value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value) if value != "" else _("(empty)")


# Settings a rule parameter depends on besides its own (``engine.rule_parameters``).
_ALSO_READ = {"regulator_hours": ("regulator_report_hours_cii", "cii_operator")}


def rules_using(name: str) -> list[str]:
    """The ids of the compliance rules whose result depends on setting ``name``: those whose
    SQL reads a parameter taken from it (``rules.PARAMETERS``); ``due_soon_days`` sets every
    rule's due-item horizon, ``workday_calendar_file`` the calendar the working-day rules
    read."""
    from .rules import PARAMETERS, load_rules
    rules = load_rules()
    if name == "due_soon_days":
        return [r.rule_id for r in rules]
    if name == "workday_calendar_file":
        return [r.rule_id for r in rules if "calendar_days" in r.query]
    params = {p for p, (_t, _m, setting) in PARAMETERS.items()
              if setting == name or name in _ALSO_READ.get(p, ())}
    return [r.rule_id for r in rules if params & set(r.params)]


def overridden_by(settings: Settings, name: str) -> str | None:
    """The origin that wins over a value set in the app (a settings file's path,
    ``environment COMPLIANCE_<NAME>``, ``argument``), or None."""
    origin = settings.origin[name]
    return None if origin in ("default", STORE_ORIGIN) else origin


def origin_words(origin: str) -> str:
    """Where a value comes from, in words (the settings page)."""
    if origin == "default":
        return _("default")
    if origin == STORE_ORIGIN:
        return _("set in the app")
    if origin.startswith("environment "):
        return _("environment variable {variable}").format(variable=origin[len("environment "):])
    if origin == "argument":
        return _("the server's start-up arguments")
    return _("settings file {path}").format(path=origin)


def _bounds_words(spec: Setting) -> str:
    low = 0 if spec.minimum is None else spec.minimum
    if spec.maximum is None:
        return _("at least {low}").format(low=f"{low:,}")
    return _("from {low} to {high}").format(low=f"{low:,}", high=f"{spec.maximum:,}")


def _problem(spec: Setting, value: Any) -> str | None:
    """What is wrong with ``value`` for ``spec``, in the reader's words; None if nothing."""
    name, unit = spec.name, _(spec.unit)
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                             default=str)
    kind = kind_of(spec)
    if kind == "bool":
        if isinstance(value, bool) or str(value).strip().lower() in (
                "true", "false", "1", "0", "yes", "no"):
            return None
        return _("{setting}: “{value}” is neither true nor false.").format(
            setting=name, value=shown)
    if kind == "int":
        number = None
        if isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            text = value.strip().replace("_", "").replace(",", "")
            if re.fullmatch(r"-?[0-9]+", text):
                number = int(text)
        if number is None:
            return _("{setting}: “{value}” is not a whole number of {unit}.").format(
                setting=name, value=shown, unit=unit)
        low = 0 if spec.minimum is None else spec.minimum
        if number < low or (spec.maximum is not None and number > spec.maximum):
            return _("{setting}: {value} is out of range: it must be {bounds} "
                     "({unit}).").format(setting=name, value=f"{number:,}",
                                         bounds=_bounds_words(spec), unit=unit)
        return None
    if kind == "list":
        example = ", ".join(str(d) for d in spec.default)
        items = list(value) if isinstance(value, (list, tuple)) else str(value).split(",")
        if not [i for i in items if str(i).strip()]:
            return _("{setting}: the list is empty; give at least one value, for example "
                     "{example}.").format(setting=name, example=example)
        numbers = []
        for item in items:
            text = str(item).strip().replace("_", "")
            if isinstance(item, bool) or not text.lstrip("-").isdigit():
                return _("{setting}: “{value}” is not a list of whole numbers separated by "
                         "commas, for example {example}.").format(
                             setting=name, value=shown, example=example)
            numbers.append(int(text))
        for number in numbers:
            low = 0 if spec.minimum is None else spec.minimum
            if number < low or (spec.maximum is not None and number > spec.maximum):
                return _("{setting}: {value} is out of range: each value must be {bounds} "
                         "({unit}).").format(setting=name, value=f"{number:,}",
                                             bounds=_bounds_words(spec), unit=unit)
        if len(set(numbers)) != len(numbers):
            return _("{setting}: “{value}” gives a value twice.").format(setting=name,
                                                                        value=shown)
        return None
    if kind == "time":
        try:
            _coerce(spec, value, STORE_ORIGIN)
        except SettingsError:
            return _("{setting}: “{value}” is not a time of day as HH:MM (24-hour clock), "
                     "for example {example}.").format(setting=name, value=shown,
                                                      example=spec.default)
        return None
    if kind == "choice":
        if str(value).strip() in spec.choices:
            return None
        return _("{setting}: “{value}” is not one of: {choices}.").format(
            setting=name, value=shown,
            choices=("、" if is_chinese() else ", ").join(value_words(spec, c)
                                                        for c in spec.choices))
    text = str(value)
    if len(text) > TEXT_MAX_CHARS:
        return _("{setting}: the text is {count} characters long; at most {limit} are "
                 "allowed.").format(setting=name, count=f"{len(text):,}",
                                    limit=f"{TEXT_MAX_CHARS:,}")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return _("{setting}: the text holds a line break or another control character; "
                 "write it on one line.").format(setting=name)
    return None


def validate(name: str, value: Any) -> Any:
    """The value as the app would store it (the settings file's own validation,
    ``settings._coerce``), or ``SettingValueError`` naming the setting and the fault."""
    spec = SPEC_BY_NAME.get(name)
    if spec is None:
        raise SettingValueError(_("There is no setting named “{setting}”.").format(
            setting=name))
    if name in FILE_ONLY:
        raise SettingValueError(_("{setting} is changed in the settings file or an "
                                  "environment variable only, not in the app.").format(
                                      setting=name))
    problem = _problem(spec, value)
    if problem:
        raise SettingValueError(problem)
    if kind_of(spec) == "int":
        value = int(value) if not isinstance(value, str) else \
            value.strip().replace(",", "")
    try:
        return _coerce(spec, value, STORE_ORIGIN)
    except SettingsError as exc:       # a case _problem missed: the file's own words
        raise SettingValueError(str(exc)) from None


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _where(settings: Settings, name: str) -> dict[str, Any]:
    """A value and where it comes from, for the audit entry."""
    origin = settings.origin[name]
    out: dict[str, Any] = {"value": _jsonable(getattr(settings, name)), "from": origin}
    if origin == STORE_ORIGIN:
        stored = settings.stored[name]
        at = stored["set_at"]
        out.update(set_by=stored["set_by"],
                   set_at=at.isoformat() if isinstance(at, dt.datetime) else str(at))
    return out


def _require_table(store) -> None:
    if not store.scalar("SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                        "current_database() AND schema_name = 'main' AND table_name = ?",
                        [SETTINGS_TABLE]):
        raise StoreError(_("This store cannot hold settings changed in the app yet: run "
                           "`python -m dashboard init` to bring it up to date. Nothing was "
                           "saved."))


def overridden_message(name: str, origin: str) -> str:
    """Why a change in the app would have no effect: the file or the variable that wins."""
    if origin.startswith("environment "):
        return _("{setting} is set by the environment variable {variable}, which wins over a "
                 "value set in the app: a change here would have no effect. Change or remove "
                 "the variable on the server instead. Nothing was saved.").format(
                     setting=name, variable=origin[len("environment "):])
    if origin == "argument":
        return _("{setting} is fixed by the server's start-up arguments, which win over a "
                 "value set in the app: a change here would have no effect. Nothing was "
                 "saved.").format(setting=name)
    return _("{setting} is set by the settings file {path}, which wins over a value set in "
             "the app: a change here would have no effect. Change or remove it in that file "
             "instead. Nothing was saved.").format(setting=name, path=origin)


def set_value(store, actor: Actor, name: str, value: Any) -> Change:
    """Set ``name`` to ``value`` in the app (permission ``settings.manage``: DPO, admin).
    Validated first; refused, with nothing written, when the value is wrong or when the
    settings file or the environment sets the setting (it would win). An unchanged value
    writes nothing (``Change.changed`` False). One audit entry ``settings.set`` with the
    value and its origin before and after."""
    require(actor, ACTION)
    new = validate(name, value)
    current = store.settings
    winner = overridden_by(current, name)
    if winner is not None:
        raise SettingValueError(overridden_message(name, winner))
    before = _where(current, name)
    after = {"value": _jsonable(new), "from": STORE_ORIGIN, "set_by": actor.name}
    if getattr(current, name) == new:
        return Change(name, before, before, False)
    _require_table(store)
    with store.write(actor, ACTION) as w:
        w.execute(f"INSERT INTO {SETTINGS_TABLE} (name, value, set_at, set_by) "
                  "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                  "value = excluded.value, set_at = excluded.set_at, set_by = excluded.set_by",
                  [name, json.dumps(_jsonable(new), ensure_ascii=False), w.at, actor.name])
        after["set_at"] = w.at.isoformat()
        w.audit("settings.set", "settings", name, before=before, after=after)
    return Change(name, before, after, True)


def reset_value(store, actor: Actor, name: str) -> Change:
    """Remove the app's value of ``name``: the settings file's, the environment's or the
    default takes over. One audit entry ``settings.reset``; refused (nothing written) when
    the app holds no value for it."""
    require(actor, ACTION)
    if name not in SPEC_BY_NAME:
        raise SettingValueError(_("There is no setting named “{setting}”.").format(
            setting=name))
    current = store.settings
    if name not in current.stored and name not in current.store_errors:
        raise SettingValueError(_("{setting} has no value set in the app: it already comes "
                                  "from {origin}. Nothing was changed.").format(
                                      setting=name, origin=origin_words(current.origin[name])))
    _require_table(store)
    base = store.base_settings
    if name in current.stored:
        stored = current.stored[name]
        at = stored["set_at"]
        before = {"value": _jsonable(stored["value"]), "from": STORE_ORIGIN,
                  "set_by": stored["set_by"],
                  "set_at": at.isoformat() if isinstance(at, dt.datetime) else str(at),
                  **({"in_force": False} if current.origin[name] != STORE_ORIGIN else {})}
    else:
        before = {"value": None, "from": STORE_ORIGIN, "error": current.store_errors[name]}
    after = {"value": _jsonable(getattr(base, name)), "from": base.origin[name]}
    with store.write(actor, ACTION) as w:
        w.execute(f"DELETE FROM {SETTINGS_TABLE} WHERE name = ?", [name])
        w.audit("settings.reset", "settings", name, before=before, after=after)
    return Change(name, before, after, True)


# -- the command line: python -m dashboard settings show|set|reset ------------------------
def cmd_show(args, out, err) -> int:
    from .cli import EXIT_OK, open_store
    with open_store(args, read_only=True, must_exist=True) as store:
        settings = store.settings
        for spec in SPECS:
            name = spec.name
            value = getattr(settings, name)
            shown = ", ".join(str(v) for v in value) if isinstance(value, tuple) else (
                str(value).lower() if isinstance(value, bool) else str(value))
            origin = settings.origin[name]
            if origin == STORE_ORIGIN:
                info = settings.stored[name]
                at = info["set_at"]
                origin = (f"set in the app by {info['set_by']} at "
                          f"{at.isoformat() if isinstance(at, dt.datetime) else at}")
            elif name in settings.stored:
                origin += " (a value set in the app is not in force)"
            out.write(f"{name} = {shown}  [{origin}]\n")
        for name, error in settings.store_errors.items():
            err.write(f"warning: the value of {name} set in the app is not used: {error}\n")
    return EXIT_OK


def cmd_set(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_OK, open_store
    with open_store(args, must_exist=True) as store:
        change = set_value(store, cli_actor(), args.name, args.value)
        if change.changed:
            out.write(f"{args.name} = {args.value!s} (was {change.before['value']}, from "
                      f"{change.before['from']}); audited as settings.set\n")
        else:
            out.write(f"{args.name} already has this value: nothing was written\n")
    return EXIT_OK


def cmd_reset(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_OK, open_store
    with open_store(args, must_exist=True) as store:
        change = reset_value(store, cli_actor(), args.name)
        out.write(f"{args.name}: the value set in the app is removed; "
                  f"{change.after['value']} from {change.after['from']} is in force; "
                  "audited as settings.reset\n")
    return EXIT_OK


def register_cli(sub) -> None:
    p = sub.add_parser("settings", help="settings in force, and values set in the app")
    cmds = p.add_subparsers(dest="settings_command", required=True, parser_class=type(p))
    c = cmds.add_parser("show", help="every setting's value and where it comes from")
    c.set_defaults(handler=cmd_show)
    c = cmds.add_parser("set", help="set a value in the app's store (validated, audited; "
                                    "refused when the settings file or environment sets it)")
    c.add_argument("name")
    c.add_argument("value", help="a number, true/false, HH:MM, a grade, comma-separated "
                                 "numbers or a text, as the setting needs")
    c.set_defaults(handler=cmd_set)
    c = cmds.add_parser("reset", help="remove the value set in the app (the file's, the "
                                      "environment's or the default takes over)")
    c.add_argument("name")
    c.set_defaults(handler=cmd_reset)

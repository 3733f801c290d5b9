"""The command line: ``python -m dashboard COMMAND`` (see the data contract).

Every command takes ``--db PATH`` (else ``COMPLIANCE_DB``, else
``data/compliance.duckdb``). Exit 0 on success, 1 when ``check`` finds what
``--fail-on`` names, 2 on bad input (message on stderr, nothing written).
The command line acts as the system user ``cli:<os user>``.

Each feature module adds its own subcommands through a ``register_cli(sub)``
function listed in ``COMMAND_MODULES``; a handler takes ``(args, out, err)`` and
returns the exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence, TextIO

from .access import PermissionDenied, cli_actor
from .settings import SettingsError, load_settings
from .store import Store, StoreError

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2

# Modules that contribute subcommands (each defines register_cli(subparsers)).
COMMAND_MODULES = (
    "dashboard.cli",
    "dashboard.importer",
    "dashboard.demo",
    "dashboard.engine",
    "dashboard.exports",
    "dashboard.accounts",
)


class UsageError(ValueError):
    """A command-line argument is wrong: exit 2, nothing written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 too; keep the message plain
        raise UsageError(f"{self.prog}: {message}")


def open_store(args, *, read_only: bool = False, migrate: bool = False) -> Store:
    store = Store(args.db, read_only=read_only, settings=load_settings())
    if migrate:
        store.migrate(cli_actor())
    else:
        store.require_current()
    return store


def cmd_init(args, out: TextIO, err: TextIO) -> int:
    from .reference import sync_reference
    store = Store(args.db, settings=load_settings())
    with store:
        applied = store.migrate(cli_actor())
        with store.write(cli_actor(), "store.admin") as w:
            sync_reference(w.cur, store.settings)
            w.audit("reference.sync", "reference", None,
                    after={"catalog": "data/policy/catalog.toml",
                           "policy": "data/policy/privacy-policy.txt"})
        out.write(f"store {store.path} at schema version {store.schema_version()}"
                  f" ({len(applied)} migration(s) applied)\n")
    return EXIT_OK


def register_cli(sub) -> None:
    p = sub.add_parser("init", help="create or migrate the store")
    p.set_defaults(handler=cmd_init)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dashboard",
                     description="Privacy-policy compliance: store, checks and evidence.")
    parser.add_argument("--db", help="store file (default: $COMPLIANCE_DB or "
                                     "data/compliance.duckdb)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:      # a feature module not written yet
                continue
            raise
        module.register_cli(sub)
    # Let `--db` also follow the subcommand, as in `python -m dashboard check --db x`.
    for choice in sub.choices.values():
        _add_db(choice)
    return parser


def _add_db(parser: argparse.ArgumentParser) -> None:
    if not any("--db" in a.option_strings for a in parser._actions):
        parser.add_argument("--db", dest="db_sub", default=None, help=argparse.SUPPRESS)
    sub_actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in sub_actions:
        for child in action.choices.values():
            _add_db(child)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "db_sub", None):
            args.db = args.db_sub
        return args.handler(args, out, err)
    except UsageError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    except (StoreError, SettingsError, PermissionDenied, ValueError) as exc:
        err.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT

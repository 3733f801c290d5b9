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
import io
import re
import sys
from contextvars import ContextVar
from typing import Sequence, TextIO

from .access import PermissionDenied, cli_actor
from .settings import SettingsError, load_settings
from .store import Store, StoreError

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2
_ANCHOR = re.compile(r"\d+:[0-9a-f]{64}")

# Modules that contribute subcommands (each defines register_cli(subparsers)).
COMMAND_MODULES = (
    "dashboard.cli",
    "dashboard.importer",
    "dashboard.demo",
    "dashboard.engine",
    "dashboard.exports",
    "dashboard.accounts",
    "dashboard.tokens",
    "dashboard.settings_store",
    "dashboard.holds",
    "dashboard.register_edit",
)


class UsageError(ValueError):
    """A command-line argument is wrong: exit 2, nothing written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 too; keep the message plain
        raise UsageError(f"{self.prog}: {message}")


# A command an API caller runs on the server (``run_served``) uses the server's store.
_SERVED: ContextVar[Store | None] = ContextVar("served_store", default=None)


class _Served:
    """The server's store lent to one command: ``with`` gives it, nothing closes it."""

    def __init__(self, store: Store):
        self._store = store

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def __enter__(self) -> Store:
        return self._store

    def __exit__(self, *exc) -> None:
        return None

    def close(self) -> None:
        return None


def open_store(args, *, read_only: bool = False, migrate: bool = False,
               must_exist: bool = False) -> Store:
    """The store a command works on: the server's, when the command runs for an API caller
    (``run_served``), else ``--db``'s. ``must_exist``: refuse to create a missing file."""
    served = _SERVED.get()
    if served is not None:
        return _Served(served)      # type: ignore[return-value]
    if must_exist:
        from pathlib import Path

        from .store import default_db_path
        path = default_db_path(args.db)
        if not Path(path).exists():
            raise StoreError(f"no store at {path}: run `python -m dashboard init` first")
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
    parser.add_argument("--server", metavar="URL",
                        help="run check, audit verify, export or user enable|disable through "
                             "the running app at URL (e.g. http://127.0.0.1:8501), with the "
                             "API token in $COMPLIANCE_API_TOKEN (docs/API.md)")
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
    if not any("--server" in a.option_strings for a in parser._actions):
        parser.add_argument("--server", dest="server_sub", default=None,
                            help=argparse.SUPPRESS)
    sub_actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in sub_actions:
        for child in action.choices.values():
            _add_db(child)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        args = build_parser().parse_args(argv)
        if getattr(args, "db_sub", None):
            args.db = args.db_sub
        if getattr(args, "server_sub", None):
            args.server = args.server_sub
        if getattr(args, "server", None):
            if _SERVED.get() is not None:
                raise UsageError("--server cannot be given to the server itself")
            from .remote import run_remote
            return run_remote(args, argv, out, err)
        return args.handler(args, out, err)
    except UsageError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    except (StoreError, SettingsError, PermissionDenied, ValueError) as exc:
        err.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT


# -- commands run for an API caller on the server (POST /api/v1/cli) ------------------------

def served_commands() -> dict:
    """The commands ``--server`` runs on the server, by handler, with the permission the
    caller's token needs (besides what the command's services check themselves)."""
    from .accounts import cmd_disable, cmd_enable
    from .engine import cmd_check
    from .exports import cmd_audit_verify
    return {cmd_check: "check.read", cmd_audit_verify: "audit.read",
            cmd_enable: "user.manage", cmd_disable: "user.manage"}


def run_served(store: Store, actor, argv: list[str]) -> tuple[int, str, str]:
    """Run one allowed command on the server's ``store`` as ``actor`` (the API token's):
    the command line's own code, so the output and the exit code are the same.
    ``UsageError`` for a command that cannot run this way; ``PermissionDenied`` when the
    token's role may not."""
    from .access import acting_as, require
    if any(a == "--db" or a.startswith("--db=") or a == "--server" or a.startswith("--server=")
           for a in argv):
        raise UsageError("--db and --server are not taken through the API: the server runs "
                         "the command on the store it holds")
    args = build_parser().parse_args(argv)
    allowed = served_commands()
    if args.handler not in allowed:
        raise UsageError(f"{argv[0]!r} does not run through the API; these do: check, audit "
                         "verify, user enable, user disable (and export, which streams)")
    anchor = getattr(args, "anchor", None)
    if anchor is not None and not _ANCHOR.fullmatch(anchor.strip()):
        raise UsageError("--anchor through the API: give SEQ:HASH (python -m dashboard "
                         "--server ... reads a pack's manifest for you)")
    require(actor, allowed[args.handler])
    out, err = _Bounded(MAX_SERVED_OUTPUT), _Bounded(MAX_SERVED_OUTPUT)
    token = _SERVED.set(store)
    try:
        with acting_as(actor):
            code = main(argv, out, err)
    finally:
        _SERVED.reset(token)
    return code, ("" if out.over else out.getvalue()), err.getvalue()


# What one command run for an API caller may print: the answer is built in the server's
# memory. check --format json on 10 M retention records prints hundreds of megabytes: page
# through GET /api/v1/findings or stream ``export findings`` instead.
MAX_SERVED_OUTPUT = 64 * 1024 * 1024


class _Bounded(io.StringIO):
    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.size, self.over = limit, 0, False

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > self.limit:
            self.over = True
            raise UsageError(f"the output is over {self.limit // (1024 * 1024)} MiB, more than "
                             "a command run through --server may print: use --format table, "
                             "or `export findings --out FILE` (streamed), or the API's "
                             "/api/v1/findings pages")
        return super().write(text)



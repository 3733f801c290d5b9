"""The command line while the app serves: ``python -m dashboard --server URL COMMAND``.

DuckDB lets one process open the store file; while the app runs, that process is the
app, and ``check``, ``audit verify``, ``export`` and ``user enable|disable`` would exit 2
on the locked file. With ``--server URL`` (the app's address, e.g.
``http://127.0.0.1:8501``) and an API token in ``COMPLIANCE_API_TOKEN``, the command is
carried out by the app through its API (``dashboard/api.py``), on the store it holds:

- ``check``, ``audit verify``, ``user enable|disable``: the arguments go to
  ``POST /api/v1/cli``; the server runs the command line's own code for them
  (``cli.run_served``) as the token's user, and this process prints what it printed and
  exits with its exit code. ``audit verify --anchor PACK.zip`` reads the pack's
  manifest here and sends its ``SEQ:HASH``;
- ``export TABLE --out FILE``: the filters are checked here, the server issues a
  one-time streamed download (``POST /api/v1/exports``), the CSV is streamed into a
  temporary file beside FILE and its SHA-256 compared with the server's receipt (the
  audit entry of the download) before the file is put in place.

Exit codes are the command line's: 0, 1 (``check --fail-on``, ``audit verify`` broken),
2 for bad input *and* for anything that keeps the command from running on the server
(unreachable, token missing, refused or revoked, role not allowed): the message says
which, without a traceback.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

TOKEN_ENV = "COMPLIANCE_API_TOKEN"
TIMEOUT = httpx.Timeout(600.0, connect=10.0)   # a check on 10 M records takes seconds


class RemoteError(ValueError):
    """The command could not run on the server: exit 2 with this message."""


def _strip(argv: list[str]) -> list[str]:
    """``argv`` without ``--server URL`` and ``--db PATH`` (the server uses its store)."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--server", "--db"):
            skip = True
            continue
        if a.startswith("--server=") or a.startswith("--db="):
            continue
        out.append(a)
    return out


def _base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RemoteError(f"--server {url[:80]!r}: give the app's address, e.g. "
                          "http://127.0.0.1:8501 (or https://... with its base path)")
    return url.strip().rstrip("/")


def _token() -> str:
    token = (os.environ.get(TOKEN_ENV) or "").strip()
    if not token:
        raise RemoteError(f"--server needs an API token in ${TOKEN_ENV}: an admin creates one "
                          "on the server with `python -m dashboard token add NAME --role "
                          "ROLE` (docs/API.md)")
    return token


def _message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        text = str(data.get("error") or data)
    except ValueError:
        text = resp.text.strip()[:300] or resp.reason_phrase
    return f"the app refused the command ({resp.status_code}): {text}"


def _request(client: httpx.Client, method: str, url: str, **kw) -> httpx.Response:
    try:
        return client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        raise RemoteError(f"cannot reach the app at {_origin(url)}: {exc.__class__.__name__}"
                          f"{': ' + str(exc) if str(exc) else ''}. Is it running "
                          "(make run)?") from None


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def run_remote(args, argv: list[str], out: TextIO, err: TextIO) -> int:
    from .cli import served_commands
    from .exports import cmd_export
    base = _base(args.server)
    headers = {"Authorization": f"Bearer {_token()}", "User-Agent": "dashboard-cli"}
    forward = _strip(argv)
    if args.handler is cmd_export:
        return _export(args, base, headers, out)
    if args.handler not in served_commands():
        raise RemoteError(f"{args.command!r} does not run through --server; these do: check, "
                          "audit verify, export, user enable, user disable. Run it on the "
                          "server's machine with the app stopped.")
    if getattr(args, "anchor", None):
        from .exports import read_anchor
        seq, digest = read_anchor(args.anchor)
        i = forward.index("--anchor") if "--anchor" in forward else None
        if i is not None:
            forward[i + 1] = f"{seq}:{digest}"
        else:
            forward = [f"--anchor={seq}:{digest}" if a.startswith("--anchor=") else a
                       for a in forward]
    with httpx.Client(timeout=TIMEOUT, headers=headers) as client:
        resp = _request(client, "POST", f"{base}/api/v1/cli", json={"argv": forward})
    if resp.status_code != 200:
        raise RemoteError(_message(resp))
    data = resp.json()
    out.write(data.get("stdout", ""))
    err.write(data.get("stderr", ""))
    return int(data["exit_code"])


def _export(args, base: str, headers: dict, out: TextIO) -> int:
    from .exports import _check_out, _filters_from_args, get_dataset, normalize_filters
    dataset = get_dataset(args.table).name
    filters = _filters_from_args(dataset, args)
    normalize_filters(dataset, filters)           # bad input: exit 2 before asking
    target = Path(args.out)
    _check_out(target, "CSV")
    with httpx.Client(timeout=TIMEOUT, headers=headers) as client:
        resp = _request(client, "POST", f"{base}/api/v1/exports",
                        json={"table": dataset, "filters": filters})
        if resp.status_code != 201:
            raise RemoteError(_message(resp))
        ticket: dict[str, Any] = resp.json()
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                   dir=target.parent if str(target.parent) else ".")
        try:
            with os.fdopen(fd, "wb") as fh:
                try:
                    with client.stream("GET", _origin(base) + ticket["url"]) as stream:
                        if stream.status_code != 200:
                            stream.read()
                            raise RemoteError(f"the download was refused "
                                              f"({stream.status_code}): "
                                              f"{stream.text.strip()[:300]}")
                        for chunk in stream.iter_bytes():
                            fh.write(chunk)
                            digest.update(chunk)
                except httpx.HTTPError as exc:
                    raise RemoteError(f"the download stopped before the end "
                                      f"({exc.__class__.__name__}); nothing was written to "
                                      f"{target.name}") from None
            got = _request(client, "GET", _origin(base) + ticket["receipt"])
            if got.status_code != 200:
                raise RemoteError(_message(got))
            receipt = got.json()
            if receipt.get("sha256") != digest.hexdigest():
                raise RemoteError("the file received does not match the server's record of "
                                  f"what it sent (SHA-256); nothing was written to "
                                  f"{target.name}")
            os.replace(tmp, target)
            tmp = None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
        head = receipt.get("head") or {}
    out.write(f"wrote {receipt['rows']} rows of {dataset} to {args.out} "
              f"(sha256 {receipt['sha256']}; audit entry {receipt['audit_seq']})\n")
    if head:
        out.write(f"audit chain head: entry {head['head_seq']}, hash {head['head_hash']}, at "
                  f"{head['head_at']} (keep it: audit verify --anchor "
                  f"{head['head_seq']}:{head['head_hash']})\n")
    return 0

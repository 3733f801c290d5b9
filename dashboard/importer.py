"""Import a register from a CSV, Excel or Parquet file: all or nothing, every bad row named.

``python -m dashboard import TABLE FILE [--replace] [--encoding utf-8|gb18030]`` and
the Import page share
this module. The file is checked against the data contract
(``shared/reference/data-contract.md``) using ``registers.py`` as the single
source for columns, types, enums, required/key flags and maximum lengths, and
``reference.load_catalog()`` for the data category codes.

How it works (set-based: Python loops over rows only to read a workbook's sheet and
to name the records of a CSV that DuckDB refused as a whole):

0. The file (a path, or the uploaded bytes) is copied to a private snapshot, so
   what is hashed, checked and written is one and the same file. Its first bytes
   say what it is (``_sniff``): Parquet and .xlsx are read as such whatever the
   name; .xls, PDF, ZIP and binary files are refused saying what they are. A
   workbook's first sheet is written beside the snapshot as a Parquet file of
   text cells (openpyxl, read-only), checked then like a CSV's cells; a GB18030
   CSV is transcoded to UTF-8 there and takes the CSV path below.
1. One streaming pass over its bytes: SHA-256, and for CSV a strict UTF-8 check
   (naming GB18030 or UTF-16 when it looks like them), a newline count, whether a
   NUL byte occurs and the longest record (bounded memory, C speed / numpy).
2. The header (CSV) or schema (Parquet) is checked: missing required, unknown
   and repeated columns are file-level errors, reported before any row is read.
3. Staging, in the caller's cursor, never in the store file: CSV is loaded by
   DuckDB into a TEMP table with every cell as text (RFC 4180; ragged or badly
   quoted records are collected by ``store_rejects``; ``max_line_size`` is the
   longest record found, so no record is dropped; should DuckDB give up on the
   whole file, Python's csv reader names the malformed records); Parquet, columnar and
   typed already, is staged as a TEMP view over the snapshot, so each check
   reads only its columns and memory stays bounded at 10,000,000 rows.
4. One aggregate query counts, per column, the rows whose cell is bad (each
   column's SQL ``CASE`` yields an error code; a text cell over
   ``import_max_cell_chars`` or holding NUL comes first); only when some are bad are
   detail queries run, capped at ``MAX_LISTED_ERRORS``. Duplicate keys in the
   file and (append mode) keys already in the store are found with GROUP BY and
   a semi-join.
5. ``commit_import`` repeats 1-4 inside the write transaction and then runs one
   ``INSERT ... SELECT`` with strict casts, so nothing invalid can be written.

Line numbers: the CSV header is line 1 and an error names the physical line on
which its record starts (quoted newlines push later records further down); the
map from record to line is computed with numpy over the file's bytes (quote
parity), and only when it differs from "row + 1". Parquet errors name the
1-based data row, workbook errors the sheet's row. Messages and formats are
documented in docs/IMPORT.md.
"""
from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import decimal
import difflib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import duckdb
import numpy as np
import pandas as pd

from . import registers as R
from .access import Actor, require
from .i18n import N_, _, fmt_number, is_chinese, ngettext
from .reference import load_catalog

TABLES: tuple[str, ...] = tuple(R.REGISTERS)
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
# Text encodings a CSV may come in: the contract's UTF-8, and GB18030 (a superset of GBK
# and GB2312), what Excel in China writes for "CSV (comma delimited)".
ENCODINGS = ("utf-8", "gb18030")
DUCKDB_MAX_LINE = 2_000_000       # read_csv's default max_line_size (bytes per record)
SNIFF_BYTES = 8192                # the head of a file looked at to tell what it is
SHOWN_VALUE_CHARS = 1000          # a longer bad value is shown cut short
EXCEL_MAX_ROWS, EXCEL_MAX_COLUMNS = 1_048_576, 16_384     # the .xlsx format's limits
PREVIEW_ROWS = 50
MAX_LISTED_ERRORS = 1000          # row errors listed in full; the rest are counted
CHUNK_BYTES = 16 << 20
STAGE = "_import_stage"
REJECTS_TABLE = "_import_rejects"
REJECTS_SCAN = "_import_reject_scans"

# ISO 3166-1 alpha-2: the 249 officially assigned codes (ISO 3166 Maintenance Agency,
# as listed in the IANA time zone database's iso3166.tab). CN is the Chinese Mainland;
# HK, MO and TW have their own codes.
ISO_3166_ALPHA2: frozenset[str] = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())
# Codes people often write that ISO 3166-1 does not assign (exceptionally reserved).
_REGION_HINTS = {"UK": "GB", "EL": "GR", "EU": None, "XK": None}

# Exports neutralize CSV injection (OWASP) by prefixing "'" to a cell starting with one
# of these; import takes that quote off again so export -> import is lossless.
INJECTION_LEADS = ("=", "+", "-", "@", "\t", "\r")
_UNQUOTE_RE = "^'+[=+\\-@\\t\\r]"          # RE2, as a bound parameter
_UNQUOTE_PY = re.compile(_UNQUOTE_RE)

_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TS_RE = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
          r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?")
_OFFSET_RE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_INT_RE = r"[+-]?[0-9]+"
# An amount (NUMBER, e.g. economic_loss_cny): digits with an optional decimal part; no
# thousands separators, currency signs or exponents. At most two decimals that count
# (trailing zeros beyond them lose nothing): more precision is refused, never rounded.
_NUM_RE = r"[+-]?[0-9]+(\.[0-9]+)?"
_NUM_SCALE_RE = r"[+-]?[0-9]+(\.[0-9]{1,2}0*)?"
NUMBER_SQL = R.SQL_TYPES[R.NUMBER]                       # DECIMAL(18,2)
NUMBER_MAX = "9999999999999999.99"                       # the largest DECIMAL(18,2)

_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
              "UINTEGER", "UBIGINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_NAIVE_TS_TYPES = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"}
_TZ_TS_TYPES = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}
_PANDAS_INDEX_RE = re.compile(r"__index_level_\d+__$")


# -- public API ------------------------------------------------------------------------
@dataclass
class RowError:
    """One bad cell, row or file. ``line`` is None for file-level errors.

    For CSV ``line`` is the physical line on which the record starts (header = 1);
    for Parquet it is the 1-based data row and ``unit`` is "row".
    """

    line: int | None
    column: str | None
    value: str | None
    reason: str
    unit: str = "line"

    def __str__(self) -> str:
        """``line 12, column kind, value "x": reason`` in this run's locale (the command
        line's is English)."""
        parts = []
        if self.line is not None:
            where = _("row {n}") if self.unit == "row" else _("line {n}")
            parts.append(where.format(n=self.line))
        if self.column:
            parts.append(_("column {name}").format(name=self.column))
        if self.value is not None:
            parts.append(_('value "{value}"').format(value=_show(self.value)))
        if not parts:
            return self.reason
        comma, colon = ("，", "：") if is_chinese() else (", ", ": ")
        return f"{comma.join(parts)}{colon}{self.reason}"


@dataclass
class StagedImport:
    """A checked file, not yet written. ``ok`` when it has no errors."""

    table: str
    source_name: str
    rows: int
    errors: list[RowError]
    preview: pd.DataFrame
    sha256: str
    format: str = "csv"                                   # csv, parquet or xlsx (by content)
    columns: list[str] = field(default_factory=list)      # the file's contract columns
    encoding: str = "utf-8"                               # a CSV's text encoding
    _source: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def missing_columns(self) -> list[str]:
        """Optional contract columns the file leaves out (imported as empty)."""
        return [c for c in R.get_register(self.table).column_names if c not in self.columns]

    def errors_frame(self) -> pd.DataFrame:
        """The errors as a table for display: line (CSV) or row, column, value, reason."""
        unit = "line" if self.format == "csv" else "row"
        return pd.DataFrame({
            unit: pd.array([e.line for e in self.errors], dtype="Int64"),
            "column": [e.column for e in self.errors],
            "value": [e.value for e in self.errors],
            "reason": [e.reason for e in self.errors],
        })


@dataclass(frozen=True)
class ImportResult:
    table: str
    rows_written: int
    replaced_rows: int = 0


class ImportRejected(ValueError):
    """The file was refused; nothing was written. ``str()`` lists every error."""

    def __init__(self, errors: list[RowError], *, table: str | None = None,
                 source_name: str | None = None):
        self.errors = list(errors)
        self.table = table
        self.source_name = source_name
        super().__init__(self._message())

    def _message(self) -> str:
        where = ""
        if self.source_name and self.table:
            where = _("{file} into {table}: ").format(file=self.source_name, table=self.table)
        n = len(self.errors)
        head = where + ngettext("import refused, nothing was written ({n} problem):",
                                "import refused, nothing was written ({n} problems):",
                                n).format(n=n)
        return "\n".join([head, *(f"  {e}" for e in self.errors)])

    def __str__(self) -> str:
        return self._message()


def stage_file(store, table: str, data: bytes | str | os.PathLike,
               filename: str | None = None, *, replace: bool = False,
               encoding: str = "utf-8") -> StagedImport:
    """Check a file for ``table`` without writing anything.

    ``data`` is a path or the uploaded bytes. The content decides the format: a
    Parquet file or an Excel workbook (.xlsx) is read as one whatever its name; other
    text is CSV when named ``.csv`` (or given as bytes without a name). ``encoding``
    is a CSV's text encoding, ``utf-8`` (the contract's) or ``gb18030`` (GBK too).
    ``replace`` checks it as a replacement of the whole register (keys already in the
    store are then no error), as ``commit_import(..., replace=True)`` will write it.
    Bad input never raises: it comes back in ``errors`` (an unknown ``encoding`` is a
    programming error: ValueError).
    """
    reg = R.get_register(table)
    src = _Source.of(data, filename, encoding)
    with src.snapshot() as path, store.cursor() as cur:
        check = _Validation(store, cur, reg, src, mode="replace" if replace else "append",
                            preview=True)
        result = check.run(path)
        check.drop()
    return StagedImport(
        table=reg.name, source_name=src.name, rows=result.rows, errors=result.errors,
        preview=result.preview, sha256=result.sha256, format=result.format or src.fmt,
        columns=result.columns, encoding=src.encoding, _source=src,
    )


def commit_import(store, actor: Actor, staged: StagedImport, *,
                  replace: bool = False) -> ImportResult:
    """Write a staged file: re-checked inside the write transaction, then one INSERT.

    Append mode refuses keys already in the store; ``replace=True`` empties the
    register and loads the file in the same transaction. One audit entry.
    Raises ``PermissionDenied`` (nothing read or written) or ``ImportRejected``.
    """
    src = staged._source
    if src is None:
        raise ValueError("commit_import needs a StagedImport returned by stage_file")
    return _commit(store, actor, R.get_register(staged.table), src, replace=replace,
                   expected_sha256=staged.sha256)


def import_file(store, actor: Actor, table: str, path: str | os.PathLike, *,
                replace: bool = False, encoding: str = "utf-8") -> ImportResult:
    """Check and write a file in one go (the command line). Raises ``ImportRejected``.

    The checks run once, inside the write transaction, which rolls back on any error.
    """
    reg = R.get_register(table)
    return _commit(store, actor, reg, _Source.of(Path(path), None, encoding),
                   replace=replace)


def check_record(store, table: str, values: dict[str, Any]
                 ) -> tuple[dict[str, Any], list[RowError]]:
    """One record checked by the import's own rules, for a form (``register_edit``).

    ``values`` (column -> a Python value: text, date, bool, int, a list of text, or None)
    becomes a one-row Parquet file, and that file is checked exactly as an uploaded one is
    (every column's type, required flag, choices, data categories, region, length, and the
    cell checks), so a value the import refuses is refused here with the same reason. The
    key is not looked up in the store (the caller knows whether it adds or edits). Returns
    the values as an import would store them (column -> Python value) and no errors, or
    ``{}`` and the errors (``RowError.column`` names the column; None for the record).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    reg = R.get_register(table)
    unknown = [name for name in values if name not in reg.column_names]
    if unknown:
        return {}, [RowError(None, name, None, _unknown_column(reg, name)) for name in unknown]
    arrays, names = [], []
    for col in reg.columns:
        if col.name not in values:
            continue
        value = values[col.name]
        if isinstance(value, (list, tuple, set, frozenset)):
            array = pa.array([[str(v) for v in value]], pa.list_(pa.string()))
        elif value is None:
            array = pa.array([None], pa.string())
        else:
            array = pa.array([value])
        arrays.append(array)
        names.append(col.name)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=names), buf)
    src = _Source.of(buf.getvalue(), "record.parquet")
    with src.snapshot() as path, store.cursor() as cur:
        check = _Validation(store, cur, reg, src, mode="replace", preview=False)
        try:
            result = check.run(path)
            if result.errors:
                return {}, result.errors
            row = check._execute(
                f"SELECT {', '.join(p.typed for p in check.plans)} "
                f"FROM ({check._layer1()}) s").fetchone()
        finally:
            check.drop()
    return {p.col.name: v for p, v in zip(check.plans, row)}, []


# -- the command line ------------------------------------------------------------------
def cmd_import(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_BAD_INPUT, EXIT_OK, open_store

    path = Path(args.file)
    if path.is_dir():
        err.write(f"error: {path} is a folder; name the file to import\n")
        return EXIT_BAD_INPUT
    if not path.is_file():
        err.write(f"error: {path}: no such file\n")
        return EXIT_BAD_INPUT
    store = open_store(args)
    with store:
        try:
            result = import_file(store, cli_actor(), args.table, path, replace=args.replace,
                                 encoding=args.encoding)
        except ImportRejected as exc:
            err.write(f"error: {exc}\n")
            return EXIT_BAD_INPUT
    mode = "replaced the register with" if args.replace else "appended"
    extra = f" ({result.replaced_rows:,} rows removed)" if args.replace else ""
    rows = f"{result.rows_written:,} row{'s' if result.rows_written != 1 else ''}"
    out.write(f"{result.table}: {mode} {rows} from {path.name}{extra}\n")
    return EXIT_OK


def register_cli(sub) -> None:
    p = sub.add_parser(
        "import", help="load a CSV, Excel (.xlsx) or Parquet file into a register "
                       "(all or nothing)",
        description="Load a CSV (UTF-8, comma separated, header row), an Excel workbook "
                    "(.xlsx: the first sheet, header in row 1) or a Parquet file into a "
                    "register. All or nothing: one bad row and nothing is written; every bad "
                    "row is reported by line (or row), column, value and reason (exit 2).")
    p.add_argument("table", choices=TABLES, help="the register to load")
    p.add_argument("file", help="a .csv, .xlsx or .parquet file with the contract's column "
                                "names")
    p.add_argument("--encoding", choices=ENCODINGS, default="utf-8",
                   help="a CSV file's text encoding: utf-8 (default, the contract's; a BOM "
                        "is fine) or gb18030 (also GBK/GB2312: what Excel in China saves "
                        "as \"CSV (comma delimited)\")")
    p.add_argument("--replace", action="store_true",
                   help="replace the register's contents wholesale (default: append; a key "
                        "already in the store is then an error)")
    p.set_defaults(handler=cmd_import)


# -- the source file -------------------------------------------------------------------
@dataclass
class _Source:
    name: str
    fmt: str | None               # from the name: "csv" | "parquet" | "xlsx" | None
    path: Path | None = None
    data: bytes | None = None
    suffix: str = ""
    encoding: str = "utf-8"

    @classmethod
    def of(cls, data: bytes | str | os.PathLike, filename: str | None,
           encoding: str = "utf-8") -> "_Source":
        encoding = (encoding or "utf-8").lower().replace("_", "-")
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, "
                             f"not {encoding!r}")
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
            if filename:
                suffix = Path(filename).suffix.lower()
                fmt = FORMATS.get(suffix)
            else:  # no name: the content tells (Parquet, a workbook), else CSV
                suffix, fmt = "", "csv"
            return cls(Path(filename).name if filename else "upload", fmt, data=data,
                       suffix=suffix, encoding=encoding)
        path = Path(data)
        suffix = Path(filename or path.name).suffix.lower()
        return cls(Path(filename).name if filename else path.name, FORMATS.get(suffix),
                   path=path, suffix=suffix, encoding=encoding)

    @contextmanager
    def snapshot(self) -> Iterator[Path | None]:
        """A private copy of the file for one check (and insert), so that what is hashed,
        checked and written is one and the same even if the original changes meanwhile.
        None when there is no such file. Files derived from it (a transcoded CSV, a
        workbook's sheet as CSV) are made beside it and go with it."""
        if self.path is not None and not self.path.is_file():
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="import-") as tmp:
            p = Path(tmp) / "source"
            if self.path is not None:
                shutil.copyfile(self.path, p)
            else:
                p.write_bytes(self.data or b"")
            yield p


@dataclass
class _Scan:
    sha256: str = ""
    size: int = 0
    newline: int = 10            # the byte that ends a line (LF; CR for old Mac files)
    newlines: int = 0
    ends_with_newline: bool = False
    head: bytes = b""
    error: RowError | None = None
    has_nul: bool = False        # a NUL byte somewhere (CSV): cells are checked for it
    longest: int = 0             # bytes in the longest record (CSV, by quote parity)


def _scan(path: Path, fmt: str) -> _Scan:
    """One pass over the bytes: SHA-256; for CSV strict UTF-8, newline counts, NUL
    bytes and the longest record (vectorized; bounded memory)."""
    s = _Scan()
    digest = hashlib.sha256()
    pending = b""                # a character split across two chunks
    lf = cr = 0
    last = b""
    quotes = 0                   # quote characters so far (their parity: inside quotes)
    record_start = 0             # offset where the current record began
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            if len(s.head) < (1 << 20):
                s.head += chunk[: (1 << 20) - len(s.head)]
            if fmt == "csv":
                if s.error is None:
                    buf = pending + chunk
                    try:
                        _text, consumed = codecs.utf_8_decode(buf, "strict", False)
                        pending = buf[consumed:]
                    except UnicodeDecodeError as exc:
                        s.error = _utf8_error(path, s.size - len(pending) + exc.start)
                lf += chunk.count(b"\n")
                cr += chunk.count(b"\r")
                s.has_nul = s.has_nul or b"\x00" in chunk
                # An LF outside quotes ends a record (RFC 4180 quotes come in pairs).
                a = np.frombuffer(chunk, dtype=np.uint8)
                ends = np.flatnonzero(a == 10)
                if len(ends):
                    qs = np.flatnonzero(a == 34) if b'"' in chunk else ends[:0]
                    if len(qs):
                        ends = ends[((np.searchsorted(qs, ends) + quotes) & 1) == 0]
                    quotes += len(qs)
                    if len(ends):
                        ends = ends.astype(np.int64) + s.size
                        gaps = np.diff(ends, prepend=record_start)
                        s.longest = max(s.longest, int(gaps.max()))
                        record_start = int(ends[-1]) + 1
                else:
                    quotes += chunk.count(b'"')
            s.size += len(chunk)
            last = chunk[-1:]
    if fmt == "csv":
        # The last record; in a file of CR line ends (old Mac) this is the whole file:
        # the cell checks then run, and DuckDB may read a record of that size.
        s.longest = max(s.longest, s.size - record_start)
    if fmt == "csv" and s.error is None and pending:
        s.error = _utf8_error(path, s.size - len(pending))
    s.sha256 = digest.hexdigest()
    s.newline = 13 if (lf == 0 and cr > 0) else 10
    s.newlines = lf if s.newline == 10 else cr
    s.ends_with_newline = last == bytes([s.newline])
    return s


def _count_newlines(path: Path, upto: int, newline: int = 10) -> int:
    count, left = 0, upto
    with open(path, "rb") as f:
        while left > 0:
            chunk = f.read(min(CHUNK_BYTES, left))
            if not chunk:
                break
            count += chunk.count(bytes([newline]))
            left -= len(chunk)
    return count


def _utf8_error(path: Path, offset: int) -> RowError:
    offset = max(offset, 0)
    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(offset)
        bad = f.read(1)
    line = _count_newlines(path, offset) + 1
    hint = _("save it as \"CSV UTF-8\"")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = _("it looks like UTF-16 (Excel's \"Unicode text\"); save it as \"CSV UTF-8\"")
    elif _looks_like_gb18030(path, offset):
        hint = _(GB18030_HINT)
    return RowError(line, None, None,
                    _("the file is not UTF-8 text (byte 0x{byte} at byte offset {offset}); "
                      "{hint}").format(byte=bad.hex().upper(), offset=fmt_number(offset),
                                       hint=hint))


GB18030_HINT = N_("it looks like GB18030/GBK Chinese text, as Excel in China saves \"CSV "
                "(comma delimited)\": import it with --encoding gb18030 (on the Import page: "
                   "Encoding GB18030), or save it from Excel as \"CSV UTF-8\"")


def _looks_like_gb18030(path: Path, offset: int, window: int = 65536) -> bool:
    """Whether the text around the first non-UTF-8 byte reads as Chinese in GB18030.

    The window starts at the beginning of that byte's line (a newline is never part
    of a GB18030 character) and must decode strictly. Then nearly every non-ASCII
    character must be either a two-byte GB2312 character (both bytes 0xA1-0xFE: the
    common simplified characters and full-width punctuation) or a four-byte GB18030
    one. Latin-1 or Windows-1252 text fails this: an accented letter followed by an
    ASCII letter makes a two-byte sequence whose second byte is below 0x80.
    """
    start = max(0, offset - 4096)
    with open(path, "rb") as f:
        f.seek(start)
        before = f.read(offset - start)
        data = f.read(window)
    cut = max(before.rfind(b"\n"), before.rfind(b"\r"))
    sample = before[cut + 1:] + data
    try:
        text = codecs.getincrementaldecoder("gb18030")("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    wide = [c for c in text if ord(c) > 0x7F]
    if not wide:
        return False
    plausible = 0
    for c in wide:
        b = c.encode("gb18030")
        if len(b) == 4 or (len(b) == 2 and b[0] >= 0xA1 and b[1] >= 0xA1):
            plausible += 1
    return plausible >= 0.9 * len(wide)


def _transcode_gb18030(src: Path, dst: Path) -> tuple[str, RowError | None]:
    """Write ``src`` (GB18030) to ``dst`` as UTF-8, streaming; the SHA-256 of ``src``.

    Refuses a file that is UTF-8 already (anything beyond ASCII in it would become
    mojibake), and names the line of the first byte sequence GB18030 does not have.
    """
    digest = hashlib.sha256()
    gb = codecs.getincrementaldecoder("gb18030")("strict")
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    is_utf8, non_ascii = True, False
    done = 0                       # bytes of src decoded so far
    error: RowError | None = None
    with open(src, "rb") as f, open(dst, "w", encoding="utf-8", newline="") as out:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            if is_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
            non_ascii = non_ascii or not chunk.isascii()
            if error is not None:
                done += len(chunk)
                continue
            pending = len(gb.getstate()[0])       # bytes of a character split by the read
            try:
                out.write(gb.decode(chunk))
            except UnicodeDecodeError as exc:
                error = _not_gb18030(src, done - pending + exc.start)
            done += len(chunk)
        if error is None:
            pending = len(gb.getstate()[0])
            try:
                out.write(gb.decode(b"", final=True))
            except UnicodeDecodeError:
                error = _not_gb18030(src, done - pending)
        if is_utf8:
            try:
                utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                is_utf8 = False
    if is_utf8 and non_ascii:
        error = RowError(None, None, None,
                         _("the file is UTF-8 text, not GB18030: import it as UTF-8 (without "
                           "--encoding gb18030; on the Import page: Encoding UTF-8)"))
    return digest.hexdigest(), error


def _not_gb18030(path: Path, offset: int) -> RowError:
    offset = max(offset, 0)
    with open(path, "rb") as f:
        f.seek(offset)
        bad = f.read(2)
    shown = " ".join(f"0x{b:02X}" for b in bad)
    return RowError(_count_newlines(path, offset) + 1, None, None,
                    _("the file is not GB18030 text (bytes {bytes} at byte offset {offset}); "
                      "check the encoding it was saved in, or save it as \"CSV UTF-8\""
                      ).format(bytes=shown, offset=fmt_number(offset)))


# -- what a file is ----------------------------------------------------------------------
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_XLS_ADVICE = N_("open it in Excel and save it as \"Excel Workbook (.xlsx)\" or "
                  "\"CSV UTF-8\"")


def _sniff(path: Path) -> tuple[str, str | None]:
    """What the bytes are, whatever the file's name: (kind, reason to refuse or None).

    kind: "parquet", "xlsx", "text", or "refused" (the reason says what it is).
    """
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if head.startswith(b"PAR1"):
        return "parquet", None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(path)
    if head.startswith(_OLE2):
        return "refused", _(
            "the file is an Excel 97-2003 workbook (.xls) or another file of old Microsoft "
            "Office (a password-protected workbook looks the same), not a CSV: "
            "{advice}, then import that").format(advice=_(_XLS_ADVICE))
    if head.startswith(b"%PDF-"):
        return "refused", _("the file is a PDF document, not a CSV: export the register from "
                            "its source as \"CSV UTF-8\" or .xlsx")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "text", None            # UTF-16 with a BOM: the UTF-8 check names it
    controls = sum(head.count(bytes([b])) for b in (*range(0, 9), 11, 12, *range(14, 32), 127))
    if controls > max(4, len(head) // 20):
        if _looks_like_utf16(head):
            return "refused", _("the file is UTF-16 text without a byte-order mark, not "
                                "UTF-8: save it as \"CSV UTF-8\"")
        return "refused", _("the file holds binary data, not CSV text (is it an image, an "
                            "archive or a database file?): import a .csv (UTF-8), .xlsx or "
                            ".parquet file")
    return "text", None


def _looks_like_utf16(head: bytes) -> bool:
    even, odd = head[0::2], head[1::2]
    n = min(len(even), len(odd))
    if n < 8:
        return False
    return odd.count(0) >= 0.3 * n and even.count(0) <= 0.05 * n or \
        even.count(0) >= 0.3 * n and odd.count(0) <= 0.05 * n


def _sniff_zip(path: Path) -> tuple[str, str | None]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError):
        return "refused", _("the file starts like an Excel workbook (.xlsx) or a ZIP archive "
                            "but cannot be read: it is damaged or incomplete; save or export "
                            "it again")
    if "xl/workbook.xml" in names:
        return "xlsx", None
    if "word/document.xml" in names:
        what = _("a Word document (.docx)")
    elif "ppt/presentation.xml" in names:
        what = _("a PowerPoint presentation (.pptx)")
    elif b"opendocument.spreadsheet" in mimetype:
        return "refused", _("the file is an OpenDocument spreadsheet (.ods), not a CSV: save "
                            "it as \"Excel Workbook (.xlsx)\" or \"CSV UTF-8\", then import "
                            "that")
    else:
        what = _("a ZIP archive")
    return "refused", _("the file is {what}, not a CSV or an Excel workbook: take the "
                        "register's file out of it and import that").format(what=what)


# -- validation -------------------------------------------------------------------------
@dataclass
class _Result:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    preview: pd.DataFrame | None = None
    sha256: str = ""
    columns: list[str] = field(default_factory=list)
    format: str | None = None


@dataclass
class _Plan:
    """SQL for one contract column present in the file.

    ``norm`` reads the staged cell (layer 1, aliased ``n<i>``); ``code`` (over ``n<i>``)
    gives an error code or NULL; ``typed`` / ``strict`` give the stored value (NULL for
    a bad cell / a cast error).
    """

    index: int
    col: R.Column
    raw: str
    norm: str
    code: str | None
    typed: str
    strict: str
    display: str
    pre: str | None = None        # cell checks on the raw text (length, NUL): ``x<i>``


class _Validation:
    def __init__(self, store, cur, reg: R.Register, src: _Source, *, mode: str,
                 preview: bool):
        self.store, self.cur, self.reg, self.src = store, cur, reg, src
        self.mode, self.want_preview = mode, preview
        self.result = _Result()
        self.max_cell = int(store.settings.import_max_cell_chars)
        self.params: dict[str, Any] = {"tz": store.settings.timezone,
                                       "unquote_re": _UNQUOTE_RE, "max_cell": self.max_cell}
        self.plans: list[_Plan] = []
        self.staged_rows = 0
        self.rejects: list[tuple] = []     # (record ordinal, error type, line text, message)
        self.reject_ordinals = np.zeros(0, np.int64)
        self.reject_count = 0
        self.scan: _Scan | None = None
        self._line_map: np.ndarray | None = None
        self._line_map_done = False
        self._path: Path | None = None
        self.fmt = src.fmt
        self.unit = "row" if src.fmt == "parquet" else "line"
        self.row_expr = "rowid - $row_base"
        self.stage_kind: str | None = None
        self.check_length = self.check_nul = True     # narrowed by the CSV byte scan
        self.extra_errors: list[tuple[int, RowError]] = []   # found while converting
        self._sheet_rows = np.zeros(0, np.int64)      # a workbook's data row -> sheet row

    # -- driver ---------------------------------------------------------------------
    def run(self, path: Path | None) -> _Result:
        """Check the snapshot at ``path``; leaves the staging table for ``insert``."""
        res = self.result
        res.preview = _empty_preview(self.reg)
        src = self.src
        if path is None:
            res.errors = [RowError(None, None, None,
                                   _("{path}: no such file").format(path=src.path))]
            return res
        # What the bytes are decides, not the name: a workbook renamed .csv is a workbook.
        kind, refusal = _sniff(path)
        if refusal:
            res.sha256 = _sha256_file(path)
            res.errors = [RowError(None, None, None, refusal)]
            return res
        if kind in ("parquet", "xlsx"):
            fmt = kind
        elif src.fmt in ("csv", "parquet"):
            fmt = src.fmt        # a .parquet that is text: "not a Parquet file" below
        else:
            res.sha256 = _sha256_file(path)
            reason = (_unsupported_format(src.suffix) if src.fmt is None else
                      _("the file is named .xlsx but is not an Excel workbook (it does not "
                        "start like one); save it from Excel again, or as \"CSV UTF-8\""))
            res.errors = [RowError(None, None, None, reason)]
            return res
        self.fmt = res.format = fmt
        self.unit = "line" if fmt == "csv" else "row"
        sha256 = None
        if fmt == "xlsx":
            sha256 = _sha256_file(path)
            path, errors = self._xlsx_to_parquet(path)
            if errors:
                res.sha256, res.errors = sha256, errors
                return res
        elif fmt == "csv" and src.encoding == "gb18030":
            utf8 = path.with_name("source.utf-8")
            sha256, error = _transcode_gb18030(path, utf8)
            if error:
                res.sha256, res.errors = sha256, [error]
                return res
            path = utf8
        self._path = path
        self.scan = _scan(path, "csv" if fmt == "csv" else "parquet")
        res.sha256 = sha256 or self.scan.sha256
        if self.scan.error:
            res.errors = [self.scan.error]
            return res
        if self.scan.size == 0:
            res.errors = [RowError(None, None, None,
                                   _("the file is empty; expected a header row with the "
                                     "column names of {table}").format(table=self.reg.name))]
            return res
        if fmt != "csv":
            file_errors = self._load_parquet(path)
        else:
            # Cell checks cost nothing when the bytes show they cannot fire.
            self.check_length = self.scan.longest > self.max_cell
            self.check_nul = self.scan.has_nul
            file_errors = self._load_csv(path)
        if file_errors:
            res.errors = file_errors
            return res
        res.rows = self.staged_rows + self.reject_count
        if res.rows == 0 and not self.extra_errors:
            res.errors = [RowError(None, None, None,
                                   _("the file has column names but no data rows"))]
            return res
        try:
            res.errors = self._check_rows()
            if self.want_preview:
                res.preview = self._preview()
        except duckdb.Error as exc:
            if fmt != "parquet":
                raise
            # The Parquet view reads the file lazily: a damaged page shows up here.
            res.errors = [RowError(None, None, None,
                                   _("the Parquet file cannot be read: {error}").format(
                                       error=self._clean(exc)))]
        return res

    def _clean(self, exc: Exception) -> str:
        """An exception's first line, with no server path in it (the snapshot's folder
        is named by the user's file name instead)."""
        text = _first_line(exc)
        if self._path is not None:
            for p in (str(self._path), str(self._path.parent)):
                text = text.replace(p, self.src.name)
        return re.sub(r"(?<![\w.])/[^\s'\"]+", self.src.name, text)

    def drop(self) -> None:
        if self.stage_kind:
            self.cur.execute(f"DROP {self.stage_kind} IF EXISTS {STAGE}")
            self.stage_kind = None

    # -- loading --------------------------------------------------------------------
    def _load_csv(self, path: Path) -> list[RowError]:
        header, error = _csv_header(self.scan.head)
        if error:
            return [error]
        errors = self._check_header(header)
        if errors:
            return errors
        columns = ", ".join(f"{_lit(name)}: 'VARCHAR'" for name in header)
        try:
            self._read_csv(path, columns)
        except duckdb.Error as exc:
            # DuckDB gave up on the whole file (it does, e.g., on a short row whose line
            # end differs from the file's): find and name the lines ourselves.
            return _csv_failure(path, len(header), self.scan.newline, self._clean(exc))
        self.stage_kind = "TABLE"
        self._number_rows()
        self.reject_count = self.cur.execute(
            f"SELECT count(DISTINCT line) FROM {REJECTS_TABLE}").fetchone()[0]
        if self.reject_count:
            # DuckDB's ``line`` is the record's ordinal (header = 1, blank lines counted,
            # quoted newlines not); _record_starts turns it into the physical line.
            self.reject_ordinals = self.cur.execute(
                f"SELECT DISTINCT line AS o FROM {REJECTS_TABLE} ORDER BY o"
            ).fetchnumpy()["o"].astype(np.int64)
            first = "coalesce(column_idx, -1)"    # NULL for a record-level error
            self.rejects = self.cur.execute(
                f"SELECT line, arg_min(error_type, {first}), "
                f"arg_min(left(csv_line, {SHOWN_VALUE_CHARS}), {first}), "
                f"arg_min(error_message, {first}) FROM {REJECTS_TABLE} GROUP BY line "
                f"ORDER BY line LIMIT {MAX_LISTED_ERRORS + 1}").fetchall()
        self.cur.execute(f"DROP TABLE IF EXISTS {REJECTS_TABLE}")
        self.cur.execute(f"DROP TABLE IF EXISTS {REJECTS_SCAN}")
        types = {name: "VARCHAR" for name in header}
        self._make_plans(types)
        return []

    def _read_csv(self, path: Path, columns: str) -> None:
        # DuckDB drops a record longer than its max_line_size and its buffer (silently,
        # when over 32 MB): let it read the longest record the byte scan found, and
        # name an over-long cell ourselves (``import_max_cell_chars``).
        longest = self.scan.longest + 64
        max_line = DUCKDB_MAX_LINE if longest < DUCKDB_MAX_LINE else longest + (1 << 16)
        self.cur.execute(
            f"CREATE TEMP TABLE {STAGE} AS SELECT * FROM read_csv($path, header = true, "
            f"auto_detect = false, columns = {{{columns}}}, all_varchar = true, "
            f"delim = ',', quote = '\"', escape = '\"', "
            f"encoding = 'utf-8', strict_mode = true, null_padding = false, "
            f"max_line_size = {int(max_line)}, "
            f"ignore_errors = true, store_rejects = true, rejects_table = '{REJECTS_TABLE}', "
            f"rejects_scan = '{REJECTS_SCAN}')",
            {"path": str(path)})

    def _load_parquet(self, path: Path) -> list[RowError]:
        head = self.scan.head[:4]
        if head != b"PAR1":
            return [RowError(None, None, None,
                             _("not a Parquet file (it does not start with the Parquet magic "
                               "bytes PAR1); export it again as Parquet, or use a .csv name "
                               "for a CSV file"))]
        try:
            schema = self.cur.execute(
                "DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(path)}).fetchall()
        except Exception as exc:  # duckdb raises several kinds for a broken file
            return [RowError(None, None, None, _("the Parquet file cannot be read: {error}"
                                                 ).format(error=self._clean(exc)))]
        pandas_index = self._pandas_index_columns(path)
        types = {}
        for name, sql_type, *_rest in schema:
            if name not in self.reg.column_names and (
                    name in pandas_index or _PANDAS_INDEX_RE.match(name)):
                continue          # a DataFrame's saved index (pandas metadata), not data
            types[name] = sql_type.strip('"').upper()
        errors = self._check_header(list(types))
        errors += self._check_parquet_types(types)
        if errors:
            return errors
        # Parquet is columnar and typed: the staging "table" is a view over the private
        # snapshot (each check reads only its columns; memory stays bounded whatever
        # the row count). The path is the snapshot's, made here, not user input.
        cols = ", ".join(_q(n) for n in types)
        try:
            self.cur.execute(
                f"CREATE TEMP VIEW {STAGE} AS SELECT file_row_number AS __n, {cols} "
                f"FROM read_parquet({_lit(str(path))}, file_row_number = true)")
            self.stage_kind = "VIEW"
            self.staged_rows = self.cur.execute(f"SELECT count(*) FROM {STAGE}").fetchone()[0]
        except duckdb.Error as exc:
            return [RowError(None, None, None, _("the Parquet file cannot be read: {error}"
                                                 ).format(error=self._clean(exc)))]
        self.row_expr = "__n"
        self._make_plans(types)
        return []

    def _xlsx_to_parquet(self, path: Path) -> tuple[Path, list[RowError]]:
        """The workbook's first sheet as a Parquet file of text columns beside the
        snapshot: the checks then read it exactly as they read a CSV's cells.

        Row 1 is the header. Each non-empty row becomes one data row and keeps its sheet
        row number (errors name it: ``row N``). Cells become the contract's text: whole
        numbers without ".0", true/false, a date cell in a date column YYYY-MM-DD, other
        date-times ISO 8601 without offset (read as the ``timezone`` setting's time).
        A value right of the header's last column is an error. openpyxl reads the
        workbook in read-only mode and the rows go out in batches (bounded memory;
        defusedxml guards the XML).
        """
        import openpyxl
        import pyarrow as pa
        import pyarrow.parquet as pq
        from openpyxl.utils import get_column_letter

        out = path.with_name("sheet.parquet")
        wb = writer = None
        fh = open(path, "rb")
        try:
            # A file object: openpyxl would refuse a path for its name (the snapshot has
            # none; the user's may be .csv).
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            sheet = wb.worksheets[0]
            # Excel's own limits bound the work a crafted workbook can ask for.
            rows = sheet.iter_rows(values_only=True, max_col=EXCEL_MAX_COLUMNS)
            first = next(rows, None)
            if first is None or all(_xlsx_blank(v) for v in first):
                text = (_("the workbook's first sheet is empty; expected the header row with "
                          "the column names of {table} in row 1") if first is None else
                        _("the workbook's first sheet has nothing in row 1; expected the "
                          "header row with the column names of {table} in row 1"))
                return out, [RowError(None, None, None, text.format(table=self.reg.name))]
            header = ["" if v is None else str(v).strip() for v in first]
            while header and header[-1] == "":
                header.pop()
            errors = self._check_header(header)
            if errors:
                return out, errors
            width = len(header)
            kinds = [self.reg.column(h).type for h in header]
            schema = pa.schema([(h, pa.string()) for h in header])
            writer = pq.ParquetWriter(out, schema)
            batch: list[list[str | None]] = [[] for _ in header]
            lines: list[int] = []

            def flush() -> None:
                writer.write_table(pa.Table.from_arrays(
                    [pa.array(c, pa.string()) for c in batch], schema=schema))
                for c in batch:
                    c.clear()

            for number, row in enumerate(rows, start=2):
                if number > EXCEL_MAX_ROWS:
                    return out, [RowError(None, None, None,
                                          _("the sheet has more than {rows} rows, more than "
                                            "Excel allows: the workbook is damaged or was not "
                                            "made by Excel").format(
                                              rows=fmt_number(EXCEL_MAX_ROWS)))]
                if all(_xlsx_blank(v) for v in row):
                    continue
                extra = [(j, v) for j, v in enumerate(row[width:], start=width)
                         if not _xlsx_blank(v)]
                if extra and len(self.extra_errors) <= MAX_LISTED_ERRORS:
                    j, v = extra[0]
                    self.extra_errors.append((number, RowError(
                        number, None, _cut(_xlsx_text(v, R.TEXT), None),
                        _("a value in column {column}, right of the header's last column "
                          "{last} (beyond the header): give the column a name in row 1 or "
                          "remove the value").format(column=get_column_letter(j + 1),
                                                     last=get_column_letter(width)),
                        "row")))
                for i, kind in enumerate(kinds):
                    batch[i].append(_xlsx_text(row[i], kind) if i < len(row) else "")
                lines.append(number)
                if len(batch[0]) >= 50_000:
                    flush()
            flush()
        except Exception as exc:     # openpyxl raises many kinds for a damaged workbook
            return out, [RowError(None, None, None,
                                  _("the Excel workbook cannot be read ({error}); open it in "
                                    "Excel and save it again, or save it as \"CSV UTF-8\""
                                    ).format(error=self._clean(exc)))]
        finally:
            if writer is not None:
                writer.close()
            if wb is not None:
                wb.close()
            fh.close()
        self._sheet_rows = np.asarray(lines, dtype=np.int64)
        return out, []

    def _number_rows(self) -> None:
        """``__r``: the 0-based position of each staged row in the file.

        The staging table keeps the file's order (insertion order is preserved), but
        inside a transaction DuckDB numbers uncommitted rows from a large base, so
        rows are counted from the smallest ``rowid``.
        """
        lo, hi, n = self.cur.execute(
            f"SELECT min(rowid), max(rowid), count(*) FROM {STAGE}").fetchone()
        self.staged_rows = int(n)
        self.params["row_base"] = int(lo or 0)
        if n and hi - lo + 1 != n:      # not expected; stay right if it ever happens
            self.row_expr = "row_number() OVER (ORDER BY rowid) - 1"

    def _pandas_index_columns(self, path: Path) -> set[str]:
        """Columns that pandas' ``to_parquet`` wrote from a DataFrame's index."""
        try:
            meta = self.cur.execute("SELECT key, value FROM parquet_kv_metadata($path)",
                                    {"path": str(path)}).fetchall()
            for key, value in meta:
                if bytes(key) == b"pandas":
                    index = json.loads(bytes(value).decode("utf-8")).get("index_columns", [])
                    return {c for c in index if isinstance(c, str)}
        except (duckdb.Error, ValueError, AttributeError):
            pass
        return set()

    def _check_header(self, names: list[str]) -> list[RowError]:
        reg = self.reg
        known = set(reg.column_names)
        errors: list[RowError] = []
        seen: set[str] = set()
        for i, name in enumerate(names, 1):
            if name == "":
                errors.append(RowError(None, None, None,
                                       _("header cell {n} is empty: every column needs a name"
                                         ).format(n=i)))
            elif name in seen:
                errors.append(RowError(None, name, None, _("the column appears more than once "
                                                           "in the header")))
            elif name not in known:
                errors.append(RowError(None, name, None, _unknown_column(reg, name)))
            seen.add(name)
        for name in reg.required:
            if name not in seen:
                errors.append(RowError(None, name, None,
                                       _("missing required column (the {table} file must "
                                         "have: {columns})").format(
                                           table=reg.name, columns=", ".join(reg.required))))
        self.result.columns = [n for n in reg.column_names if n in seen]
        return errors

    def _check_parquet_types(self, types: dict[str, str]) -> list[RowError]:
        def nested(t: str) -> bool:
            return t.endswith("]") or t.startswith(("STRUCT", "MAP", "UNION"))

        errors = []
        for name, t in types.items():
            if name not in self.reg.column_names:
                continue
            col = self.reg.column(name)
            if col.type == R.LIST and t.endswith("[]"):
                refused = nested(t[:-2]) or t[:-2] == "BLOB"
            else:
                refused = nested(t) or t == "BLOB"
            if refused:
                errors.append(RowError(None, name, None,
                                       _("Parquet type {type} cannot hold {kind}").format(
                                           type=t, kind=_kind_phrase(col))))
        return errors

    # -- SQL plans ------------------------------------------------------------------
    def _param(self, name: str, value: Any) -> str:
        self.params[name] = value
        return f"${name}"

    def _make_plans(self, types: dict[str, str]) -> None:
        for i, col in enumerate(self.reg.columns):
            if col.name in types:
                plan = self._plan(i, col, types[col.name])
                if types[col.name] == "VARCHAR":
                    self._add_cell_checks(plan)
                self.plans.append(plan)

    def _add_cell_checks(self, p: _Plan) -> None:
        """Checks on any text cell, before its column's own: longer than the
        ``import_max_cell_chars`` setting (``strlen`` first: bytes are never fewer
        than characters, and it costs nothing), or holding a NUL character."""
        whens = []
        if self.check_length:
            whens.append(f"WHEN strlen({p.raw}) > $max_cell AND length({p.raw}) > $max_cell "
                         f"THEN 'cell_too_long'")
        if self.check_nul:
            whens.append(f"WHEN contains({p.raw}, chr(0)) THEN 'nul'")
        if whens:
            p.pre = f"CASE {' '.join(whens)} END"
            p.code = f"coalesce(x{p.index}, {p.code or 'NULL'})"

    def _plan(self, i: int, col: R.Column, t: str) -> _Plan:
        r = _q(col.name)
        s = r if t == "VARCHAR" else f"CAST({r} AS VARCHAR)"
        n = f"n{i}"
        req = "'required'" if col.required else "NULL"
        display = f"array_to_string({r}, ';')" if t.endswith("[]") else s
        strip = f"NULLIF(trim({s}), '')"

        def plan(norm, code, typed, strict=None):
            return _Plan(i, col, r, norm, code, typed, strict or typed, display)

        if col.type == R.TEXT:
            limit = col.max_length or R.TEXT_CAP
            return plan(_unquote(s),
                        f"CASE WHEN {n} IS NULL OR trim({n}) = '' THEN {req} "
                        f"WHEN length({n}) > {int(limit)} THEN 'too_long' END", n)

        if col.type in (R.ENUM, R.REGION):
            if col.type == R.REGION:
                allowed, code = self._param("regions", sorted(ISO_3166_ALPHA2)), "region"
            elif col.categories:
                allowed, code = self._param("categories", _category_codes()), "category"
            else:
                allowed, code = self._param(f"choices_{i}", list(col.choices)), "enum"
            return plan(strip,
                        f"CASE WHEN {n} IS NULL THEN {req} "
                        f"WHEN {n} NOT IN (SELECT unnest({allowed})) THEN '{code}' END", n)

        if col.type == R.LIST:
            if col.categories:
                allowed, code = self._param("categories", _category_codes()), "list_category"
            else:
                allowed, code = self._param(f"choices_{i}", list(col.choices)), "item"
            if t.endswith("[]"):
                items = f"CAST({r} AS VARCHAR[])" if t != "VARCHAR[]" else r
                norm = (f"list_filter(list_transform({items}, lambda x: trim(x)), "
                        f"lambda x: x IS NOT NULL AND x <> '')")
            else:
                norm = (f"list_filter(list_transform(string_split({_unquote(s)}, ';'), "
                        f"lambda x: trim(x)), lambda x: x <> '')")
            return plan(norm,
                        f"CASE WHEN {n} IS NULL OR len({n}) = 0 THEN {req} "
                        f"WHEN NOT list_has_all({allowed}, {n}) THEN '{code}' END",
                        f"CASE WHEN len({n}) > 0 THEN {n} END")

        if col.type == R.DATE:
            if t == "DATE":
                return plan(r, f"CASE WHEN {n} IS NULL THEN {req} END", n)
            if t in _NAIVE_TS_TYPES:
                return plan(r,
                            f"CASE WHEN {n} IS NULL THEN {req} "
                            f"WHEN CAST({n} AS TIME) <> TIME '00:00:00' "
                            f"THEN 'date_time_of_day' END", f"CAST({n} AS DATE)")
            return plan(strip,
                        f"CASE WHEN {n} IS NULL THEN {req} "
                        f"WHEN NOT regexp_full_match({n}, '{_DATE_RE}') THEN 'date_format' "
                        f"WHEN try_cast({n} AS DATE) IS NULL THEN 'date_invalid' END",
                        f"try_cast({n} AS DATE)", f"CAST({n} AS DATE)")

        if col.type == R.TIMESTAMP:
            if t in _TZ_TS_TYPES:
                return plan(r, f"CASE WHEN {n} IS NULL THEN {req} END", n)
            if t in _NAIVE_TS_TYPES:
                return plan(r, f"CASE WHEN {n} IS NULL THEN {req} END",
                            f"timezone($tz, CAST({n} AS TIMESTAMP))")

            def ts(cast):
                return (f"CASE WHEN regexp_matches({n}, '{_OFFSET_RE}') "
                        f"THEN {cast}({n} AS TIMESTAMPTZ) "
                        f"ELSE timezone($tz, {cast}({n} AS TIMESTAMP)) END")
            return plan(strip,
                        f"CASE WHEN {n} IS NULL THEN {req} "
                        f"WHEN NOT regexp_full_match({n}, '{_TS_RE}') THEN 'ts_format' "
                        f"WHEN ({ts('try_cast')}) IS NULL THEN 'ts_invalid' END",
                        ts("try_cast"), ts("CAST"))

        if col.type == R.BOOLEAN:
            if t == "BOOLEAN":
                return plan(r, f"CASE WHEN {n} IS NULL THEN {req} END", n)
            return plan(strip,
                        f"CASE WHEN {n} IS NULL THEN {req} "
                        f"WHEN lower({n}) NOT IN ('true', 'false') THEN 'bool' END",
                        f"lower({n}) = 'true'")

        if col.type == R.INTEGER:
            if t in _INT_TYPES:
                return plan(r,
                            f"CASE WHEN {n} IS NULL THEN {req} "
                            f"WHEN try_cast({n} AS BIGINT) IS NULL THEN 'int_range' "
                            f"WHEN {n} < 0 THEN 'int_negative' END",
                            f"try_cast({n} AS BIGINT)", f"CAST({n} AS BIGINT)")
            if t in _FLOAT_TYPES or t.startswith("DECIMAL"):
                d = f"CAST({n} AS DOUBLE)"
                return plan(r,
                            f"CASE WHEN {n} IS NULL THEN {req} "
                            f"WHEN NOT isfinite({d}) OR {d} <> trunc({d}) THEN 'int_format' "
                            f"WHEN try_cast({n} AS BIGINT) IS NULL THEN 'int_range' "
                            f"WHEN {n} < 0 THEN 'int_negative' END",
                            f"try_cast({n} AS BIGINT)", f"CAST({n} AS BIGINT)")
            return plan(strip,
                        f"CASE WHEN {n} IS NULL THEN {req} "
                        f"WHEN NOT regexp_full_match({n}, '{_INT_RE}') THEN 'int_format' "
                        f"WHEN try_cast({n} AS BIGINT) IS NULL THEN 'int_range' "
                        f"WHEN try_cast({n} AS BIGINT) < 0 THEN 'int_negative' END",
                        f"try_cast({n} AS BIGINT)", f"CAST({n} AS BIGINT)")
        if col.type == R.NUMBER:
            dec = f"try_cast({n} AS {NUMBER_SQL})"
            tail = (f"WHEN {dec} IS NULL THEN 'num_range' END")
            if t in _INT_TYPES:
                return plan(r,
                            f"CASE WHEN {n} IS NULL THEN {req} "
                            f"WHEN {n} < 0 THEN 'num_negative' {tail}",
                            dec, f"CAST({n} AS {NUMBER_SQL})")
            if t in _FLOAT_TYPES:
                # A float holds 0.1 as the nearest binary fraction: it "has two decimals"
                # when rounding it to two gives back the very same float.
                d = f"CAST({n} AS DOUBLE)"
                return plan(r,
                            f"CASE WHEN {n} IS NULL THEN {req} "
                            f"WHEN NOT isfinite({d}) THEN 'num_finite' "
                            f"WHEN {d} < 0 THEN 'num_negative' "
                            f"WHEN round({d}, 2) <> {d} THEN 'num_scale' {tail}",
                            dec, f"CAST({n} AS {NUMBER_SQL})")
            if t.startswith("DECIMAL"):
                return plan(r,
                            f"CASE WHEN {n} IS NULL THEN {req} "
                            f"WHEN {n} < 0 THEN 'num_negative' "
                            f"WHEN round({n}, 2) <> {n} THEN 'num_scale' {tail}",
                            dec, f"CAST({n} AS {NUMBER_SQL})")
            return plan(strip,
                        f"CASE WHEN {n} IS NULL THEN {req} "
                        f"WHEN NOT regexp_full_match({n}, '{_NUM_RE}') THEN 'num_format' "
                        f"WHEN starts_with({n}, '-') AND try_cast({n} AS DOUBLE) <> 0 "
                        f"THEN 'num_negative' "
                        f"WHEN NOT regexp_full_match({n}, '{_NUM_SCALE_RE}') THEN 'num_scale' "
                        f"{tail}",
                        dec, f"CAST({n} AS {NUMBER_SQL})")
        raise AssertionError(f"no import rule for column type {col.type}")  # pragma: no cover

    def _layer1(self, plans: list[_Plan] | None = None, *, display: bool = False) -> str:
        plans = self.plans if plans is None else plans
        cols = [f"{self.row_expr} AS __r"] + [f"{p.norm} AS n{p.index}" for p in plans]
        cols += [f"{p.pre} AS x{p.index}" for p in plans if p.pre]
        if display:
            cols += [f"{p.display} AS d{p.index}" for p in plans]
        return f"SELECT {', '.join(cols)} FROM {STAGE}"

    def _execute(self, sql: str):
        used = set(re.findall(r"\$(\w+)", sql))
        return self.cur.execute(sql, {k: v for k, v in self.params.items() if k in used})

    def _key_plan(self) -> _Plan:
        return next(p for p in self.plans if p.col.name == self.reg.key)

    # -- row checks -----------------------------------------------------------------
    def _check_rows(self) -> list[RowError]:
        checked = [p for p in self.plans if p.code]
        counts: dict[int, int] = {}
        if checked:
            select = ", ".join(f"count(*) FILTER (WHERE ({p.code}) IS NOT NULL)" for p in checked)
            row = self._execute(f"SELECT {select} FROM ({self._layer1(checked)}) s").fetchone()
            counts = {p.index: c for p, c in zip(checked, row) if c}
        found: list[tuple[int, int, str | None, str, str]] = []   # (row, col index, ...)
        bad = [p for p in checked if p.index in counts]
        if bad:
            def length(p: _Plan) -> str:       # the length a message states
                return f"length(n{p.index})" if p.col.type == R.TEXT else f"length(d{p.index})"
            branches = [
                f"SELECT __r, {p.index} AS i, left(d{p.index}, {SHOWN_VALUE_CHARS}) AS v, "
                f"CASE WHEN code IN ('too_long', 'cell_too_long') THEN {length(p)} END AS k, "
                f"code FROM (SELECT *, ({p.code}) AS code "
                f"FROM ({self._layer1([p], display=True)}) s) s" for p in bad]
            rows = self._execute(
                f"SELECT __r, i, v, k, code FROM ({' UNION ALL '.join(branches)}) e "
                f"WHERE code IS NOT NULL ORDER BY __r, i LIMIT {MAX_LISTED_ERRORS + 1}"
            ).fetchall()
            by_index = {p.index: p for p in bad}
            for r, i, v, k, code in rows:
                found.append((r, i, _cut(v, k), by_index[i].col.name,
                              self._reason(by_index[i].col, code, v, k)))
        key = self._key_plan()
        key_count = 0
        dup_count, dups = self._duplicate_keys(key)
        key_count += dup_count
        for r, v, first in dups:
            where = _("row {n}") if self.unit == "row" else _("line {n}")
            found.append((r, key.index, v, key.col.name,
                          _("duplicate {column} within the file: the same key is on {where}"
                            ).format(column=key.col.name,
                                     where=where.format(n=self._lines([first])[0]))))
        if self.mode == "append":
            store_count, clashes = self._keys_in_store(key)
            key_count += store_count
            for r, v in clashes:
                found.append((r, key.index, v, key.col.name,
                              _("{column} already in the store (an append never overwrites: "
                                "leave the row out, or replace the whole register)").format(
                                  column=key.col.name)))
        total = sum(counts.values()) + key_count + self.reject_count + len(self.extra_errors)
        if total == 0:
            return []
        found.sort(key=lambda f: (f[0], f[1]))
        found = found[:MAX_LISTED_ERRORS + 1]
        lines = self._lines([f[0] for f in found])
        errors = [(line, i, RowError(line, col, v, reason, self.unit))
                  for line, (r, i, v, col, reason) in zip(lines, found)]
        errors += [(line, -1, err) for line, err in self._reject_errors()]
        errors += [(line, -1, err) for line, err in self.extra_errors]
        errors.sort(key=lambda e: (e[0] if e[0] is not None else 0, e[1]))
        listed = [e for _line, _i, e in errors[:MAX_LISTED_ERRORS]]
        if total > len(listed):
            by_col = {p.col.name: counts[p.index] for p in bad}
            if key_count:
                by_col[key.col.name] = by_col.get(key.col.name, 0) + key_count
            if self.reject_count:
                by_col[_("(malformed records)")] = self.reject_count
            if self.extra_errors:
                by_col[_("(values beyond the header)")] = len(self.extra_errors)
            summary = "; ".join(f"{c} {fmt_number(k)}" for c, k in by_col.items())
            listed.append(RowError(
                None, None, None,
                _("... and {more} more errors not listed ({total} in all; by column: "
                  "{summary}). Fix these and check the file again.").format(
                    more=fmt_number(total - len(listed)), total=fmt_number(total),
                    summary=summary)))
        return listed

    def _duplicate_keys(self, key: _Plan) -> tuple[int, list[tuple]]:
        keyed = (f"SELECT __r, {key.typed} AS k, left(d{key.index}, {SHOWN_VALUE_CHARS}) AS v "
                 f"FROM ({self._layer1([key], display=True)}) s")
        count = self._execute(
            f"SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM ({keyed}) k "
            f"WHERE k IS NOT NULL GROUP BY k HAVING count(*) > 1) d").fetchone()[0]
        if not count:
            return 0, []
        rows = self._execute(
            f"SELECT __r, v, first FROM (SELECT __r, v, min(__r) OVER (PARTITION BY k) AS first "
            f"FROM ({keyed}) k WHERE k IS NOT NULL) d WHERE __r <> first "
            f"ORDER BY __r LIMIT {MAX_LISTED_ERRORS + 1}").fetchall()
        return int(count), rows

    def _keys_in_store(self, key: _Plan) -> tuple[int, list[tuple]]:
        table, keycol = self.reg.name, _q(self.reg.key)
        if not self.cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
            return 0, []
        keyed = (f"SELECT __r, {key.typed} AS k, left(d{key.index}, {SHOWN_VALUE_CHARS}) AS v "
                 f"FROM ({self._layer1([key], display=True)}) s")
        clash = f"FROM ({keyed}) k WHERE k IN (SELECT {keycol} FROM {table})"
        count = self._execute(f"SELECT count(*) {clash}").fetchone()[0]
        if not count:
            return 0, []
        rows = self._execute(
            f"SELECT __r, v {clash} ORDER BY __r LIMIT {MAX_LISTED_ERRORS + 1}").fetchall()
        return count, rows

    def _reason(self, col: R.Column, code: str, value: str | None, length: int | None) -> str:
        if code == "cell_too_long":
            return _("the cell is {length} characters long; a cell may hold at most {limit} "
                     "characters (setting import_max_cell_chars)").format(
                length=fmt_number(length), limit=fmt_number(self.max_cell))
        if code == "nul":
            return _("the cell holds a NUL character (byte 0x00), which is not text: remove "
                     "it (it comes from binary data or a damaged export)")
        return _reason(col, code, value, length)

    def _reject_errors(self) -> list[tuple[int | None, RowError]]:
        out = []
        for ordinal, kind, text, message in self.rejects:
            line = self._line_of_ordinal(ordinal)
            out.append((line, RowError(line, None, _strip_line(text),
                                       _reject_reason(kind, message, len(self.result.columns)))))
        return out

    # -- line numbers ---------------------------------------------------------------
    def _lines(self, rowids: list[int]) -> list[int | None]:
        """The line (CSV: physical line where the record starts) or row (Parquet: the
        data row; a workbook: the sheet's row)."""
        if self.fmt == "parquet":
            return [r + 1 for r in rowids]
        if self.fmt == "xlsx":
            rows = self._sheet_rows
            return [int(rows[r]) if 0 <= r < len(rows) else None for r in rowids]
        lines = self._csv_line_map()
        if lines is None:
            return [r + 2 for r in rowids]
        return [int(lines[r]) if 0 <= r < len(lines) else None for r in rowids]

    def _csv_line_map(self) -> np.ndarray | None:
        """Start line of each staged record, or None when it is simply ``row + 2``."""
        if self._line_map_done:
            return self._line_map
        self._line_map_done = True
        sc = self.scan
        physical = sc.newlines + (0 if sc.ends_with_newline else 1)
        if not self.reject_count and physical == self.staged_rows + 1:
            return None
        self._records = _record_starts(self._path, sc.size, sc.newline)
        lines, blank = self._records
        keep = ~blank
        if self.reject_count:
            keep &= ~np.isin(np.arange(len(lines)) + 2, self.reject_ordinals)
        kept = lines[keep]
        # The byte scan and DuckDB agree on any file DuckDB reads; if they ever did
        # not (odd quoting), fall back to row + 2 rather than name a wrong line.
        self._line_map = kept if len(kept) == self.staged_rows else None
        return self._line_map

    def _line_of_ordinal(self, ordinal: int) -> int:
        self._csv_line_map()
        lines = self._records[0] if getattr(self, "_records", None) else np.zeros(0)
        i = int(ordinal) - 2
        if 0 <= i < len(lines):
            return int(lines[i])
        return int(ordinal)

    # -- preview --------------------------------------------------------------------
    def _preview(self) -> pd.DataFrame:
        present = {p.col.name: p for p in self.plans}
        cols = []
        for col in self.reg.columns:
            p = present.get(col.name)
            expr = p.typed if p else f"CAST(NULL AS {col.sql_type})"
            cols.append(f"{expr} AS {_q(col.name)}")
        df = self._execute(
            f"SELECT __r, {', '.join(cols)} FROM ({self._layer1()}) s "
            f"ORDER BY __r LIMIT {PREVIEW_ROWS}").df()
        lines = self._lines([int(r) for r in df["__r"]])
        df = df.drop(columns="__r")
        df.index = pd.Index(lines, name=self.unit)
        return df

    # -- writing --------------------------------------------------------------------
    def declare_appended(self, w) -> None:
        """Tell the write path which rows this append added (their keys, from the staged
        file), so that the audit digest of the register adds them instead of reading all."""
        key = self._key_plan()
        keys = f"SELECT {key.strict} FROM ({self._layer1()}) s"
        used = set(re.findall(r"\$(\w+)", keys))
        w.appended_rows(self.reg.name, f"t.{_q(key.col.name)} IN ({keys})",
                        {k: v for k, v in self.params.items() if k in used})

    def insert(self, *, replace: bool) -> tuple[int, int]:
        table = self.reg.name
        replaced = 0
        if replace:
            replaced = self.cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            self.cur.execute(f"DELETE FROM {table}")
        names = ", ".join(_q(p.col.name) for p in self.plans)
        values = ", ".join(p.strict for p in self.plans)
        written = self._execute(
            f"INSERT INTO {table} ({names}) SELECT {values} FROM ({self._layer1()}) s"
        ).fetchone()[0]
        return int(written), int(replaced)


def _commit(store, actor: Actor, reg: R.Register, src: _Source, *, replace: bool,
            expected_sha256: str | None = None) -> ImportResult:
    mode = "replace" if replace else "append"
    require(actor, "register.import")        # refuse before reading anything
    with src.snapshot() as path, store.write(actor, "register.import") as w:
        check = _Validation(store, w.cur, reg, src, mode=mode, preview=False)
        result = check.run(path)
        if result.errors:
            raise ImportRejected(result.errors, table=reg.name, source_name=src.name)
        if expected_sha256 is not None and result.sha256 != expected_sha256:
            raise ImportRejected(
                [RowError(None, None, None,
                          _("the file changed after it was checked; check it again before "
                            "importing"))], table=reg.name, source_name=src.name)
        written, replaced = check.insert(replace=replace)
        if not replace:
            check.declare_appended(w)        # the digest adds the new rows, reads no others
        check.drop()
        w.audit("register.import", reg.name, None,
                before={"rows": replaced} if replace else None,
                after={"file": src.name, "sha256": result.sha256, "rows": written,
                       "mode": mode,
                       **({"encoding": src.encoding} if src.encoding != "utf-8" else {})})
    return ImportResult(reg.name, written, replaced)


# -- helpers ----------------------------------------------------------------------------
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """A SQL string literal, for the file's column names once checked against the
    register (they are contract names by then, never arbitrary input)."""
    return "'" + text.replace("'", "''") + "'"


def _unquote(expr: str) -> str:
    """Empty -> NULL, and take off the one quote an export put before = + - @ TAB CR.

    The exporter quotes a cell matching ``'*[=+-@TAB CR]`` (a stored ``'=x`` goes out
    as ``''=x``); taking one quote off a cell matching ``'+[=+-@TAB CR]`` undoes it.
    """
    return (f"CASE WHEN {expr} = '' THEN NULL "
            f"WHEN starts_with({expr}, chr(39)) AND regexp_matches({expr}, $unquote_re) "
            f"THEN substr({expr}, 2) ELSE {expr} END")


def _category_codes() -> list[str]:
    return list(load_catalog().categories)


def _empty_preview(reg: R.Register) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series([], dtype=object) for c in reg.columns})


def _cut(value: str | None, length: int | None) -> str | None:
    """A bad value as listed: a very long one is cut short (its length is in the reason)."""
    if value is None or len(value) < SHOWN_VALUE_CHARS:
        return value
    return value[:100] + "…"


def _xlsx_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _xlsx_text(value: Any, kind: str) -> str:
    """A workbook cell as the contract's CSV text for a column of type ``kind``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2 ** 63:
            return str(int(value))
        if kind == R.NUMBER and np.isfinite(value):
            # an amount as plain digits (1e+20 would read as "not an amount")
            return format(decimal.Decimal(repr(value)), "f")
        return repr(value)
    if isinstance(value, dt.datetime):
        if kind == R.DATE and value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep="T")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _show(value: str, limit: int = 80) -> str:
    text = value.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _strip_line(text: str | None) -> str | None:
    if text is None:
        return None
    return text.strip("\r\n")


def _unsupported_format(suffix: str) -> str:
    if suffix:
        return _("'{suffix}' files are not supported: import a .csv, .xlsx or .parquet file"
                 ).format(suffix=suffix)
    return _("a file without an extension is not supported: import a .csv, .xlsx or .parquet "
             "file")


_KIND_PHRASES = {
    R.TEXT: N_("text"), R.ENUM: N_("a text code"), R.REGION: N_("a region code"),
    R.LIST: N_("a list of text codes"), R.DATE: N_("a date"), R.TIMESTAMP: N_("a timestamp"),
    R.BOOLEAN: N_("a true/false value"), R.INTEGER: N_("a whole number"),
    R.NUMBER: N_("an amount (a decimal number)"),
}


def _kind_phrase(col: R.Column) -> str:
    return _(_KIND_PHRASES[col.type])


def _unknown_column(reg: R.Register, name: str) -> str:
    columns = ", ".join(reg.column_names)
    msg = _("unknown column; {table} has: {columns}").format(table=reg.name, columns=columns)
    close = difflib.get_close_matches(name.lower(), reg.column_names, n=1, cutoff=0.75)
    if close:
        msg = _("unknown column (did you mean {name}?); {table} has: {columns}").format(
            name=close[0], table=reg.name, columns=columns)
    for sep, label in ((";", N_("semicolons")), ("\t", N_("tabs"))):
        if sep in name:
            msg = _("unknown column; the header seems to be separated by {separator}, but the "
                    "contract's CSV is comma separated").format(separator=_(label))
    return msg


def _csv_header(head: bytes) -> tuple[list[str], RowError | None]:
    text = codecs.getincrementaldecoder("utf-8-sig")("replace").decode(head, final=False)
    try:
        row = next(csv.reader(io.StringIO(text, newline=""), strict=True), None)
    except csv.Error as exc:
        return [], RowError(1, None, None,
                            _("the header row cannot be read: {error}").format(error=exc))
    if not row or all(not c.strip() for c in row):
        return [], RowError(1, None, None, _("the first line is empty; expected the header row "
                                             "with the column names"))
    return [c.strip() for c in row], None


def _record_starts(path: Path, size: int, newline: int) -> tuple[np.ndarray, np.ndarray]:
    """The physical start line of each CSV record after the header, and whether it is
    a blank line (which DuckDB's reader skips).

    A newline ends a record when the number of quote characters before it is even
    (RFC 4180: quotes come in pairs inside a quoted field). Index ``i`` is the record
    DuckDB numbers ``i + 2``. Vectorized over 16 MB chunks: bounded memory.
    """
    starts, lines = [], []
    quotes = newlines = base = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            a = np.frombuffer(chunk, dtype=np.uint8)
            nl = np.flatnonzero(a == newline)
            qs = np.flatnonzero(a == 34)
            if len(nl):
                ends = ((np.searchsorted(qs, nl) + quotes) & 1) == 0
                idx = np.flatnonzero(ends)
                starts.append(base + nl[idx] + 1)
                lines.append(newlines + idx + 2)
            quotes += len(qs)
            newlines += len(nl)
            base += len(chunk)
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    s = np.concatenate(starts).astype(np.int64)
    ln = np.concatenate(lines).astype(np.int64)
    keep = s < size
    s, ln = s[keep], ln[keep]
    blank = np.zeros(len(s), bool)
    if len(s):
        mm = np.memmap(path, dtype=np.uint8, mode="r")
        first = mm[s]
        blank = first == newline
        if newline == 10:
            nxt = mm[np.minimum(s + 1, size - 1)]
            blank |= (first == 13) & (nxt == 10) & (s + 1 < size)
        del mm
    return ln, blank


STRAY_CR = N_("a carriage return (CR) stands alone in an unquoted field; quote the field "
              "(RFC 4180) or remove the CR")


def _csv_failure(path: Path, fields: int, newline: int, message: str) -> list[RowError]:
    """A CSV DuckDB cannot read at all (not just a bad record): say where."""
    if newline == 10:
        line = _stray_cr_line(path)
        if line is not None:
            return [RowError(line, None, None, _(STRAY_CR))]
    found = _locate_bad_records(path, fields, newline)
    if found:
        return found
    return [RowError(None, None, None,
                     _("the CSV file cannot be read ({error}); check its quoting and line "
                       "ends, or save it again as \"CSV UTF-8\"").format(error=message))]


def _locate_bad_records(path: Path, fields: int, newline: int,
                        limit: int = MAX_LISTED_ERRORS) -> list[RowError]:
    """Python's strict RFC 4180 reader over the physical lines: every record whose field
    count differs from the header's (extra empty fields at the end are allowed, as on
    the fast path), every badly quoted one, each by the line it starts on.

    Only run after DuckDB gave up on the whole file, so a loop over rows is fine here.
    """
    sep = bytes([newline])
    state = {"line": 0, "text": []}

    def lines() -> Iterator[str]:
        with open(path, "rb") as f:
            for i, raw in enumerate(_split_lines(f, sep)):
                text = raw.decode("utf-8-sig" if i == 0 else "utf-8", "replace")
                state["line"] += 1
                state["text"].append(text)
                yield text

    errors: list[RowError] = []
    reader = csv.reader(lines(), strict=True)
    header = True
    while len(errors) <= limit:
        start = state["line"] + 1
        state["text"] = []
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            text = "".join(state["text"])
            if "new-line" in str(exc):
                reason = _(STRAY_CR)
            elif "field limit" in str(exc):
                reason = _("a cell of the record is over {limit} characters long: check for a "
                           "double quote that is not closed").format(
                    limit=fmt_number(csv.field_size_limit()))
            else:
                reason = _reject_reason("UNQUOTED VALUE", "", fields)
            errors.append(RowError(start, None, _cut(_strip_line(text), len(text)), reason))
            continue
        if header:
            header = False
            continue
        if not record:
            continue                                  # a blank line
        n = len(record)
        if n == fields or (n > fields and not any(record[fields:])):
            continue
        text = _strip_line("".join(state["text"]))
        errors.append(RowError(start, None, _cut(text, len(text)),
                               _reject_reason("MISSING COLUMNS", f"Found: {n}", fields)))
    if len(errors) > limit:
        errors = errors[:limit] + [RowError(None, None, None,
                                            _("... and more malformed records after line "
                                              "{line}; fix these and check the file again."
                                              ).format(line=errors[limit - 1].line))]
    return errors


def _split_lines(f, sep: bytes) -> Iterator[bytes]:
    """The physical lines of a binary file, each with its line end, in bounded memory."""
    rest = b""
    while chunk := f.read(CHUNK_BYTES):
        parts = (rest + chunk).split(sep)
        rest = parts.pop()
        for part in parts:
            yield part + sep
    if rest:
        yield rest


def _stray_cr_line(path: Path) -> int | None:
    """The line of the first CR outside quotes that does not end a line (CRLF)."""
    quotes = newlines = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            a = np.frombuffer(chunk, dtype=np.uint8)
            crs = np.flatnonzero(a == 13)
            qs = np.flatnonzero(a == 34)
            if len(crs):
                outside = ((np.searchsorted(qs, crs) + quotes) & 1) == 0
                nxt = np.append(a, np.frombuffer(f.peek(1)[:1] or b"\n", np.uint8))[crs + 1]
                stray = crs[outside & (nxt != 10)]
                if len(stray):
                    return newlines + int(np.count_nonzero(a[: stray[0]] == 10)) + 1
            quotes += len(qs)
            newlines += int(np.count_nonzero(a == 10))
    return None


def _reject_reason(kind: str, message: str, expected: int) -> str:
    kind = (kind or "").upper()
    found = re.search(r"Found:\s*(\d+)", message or "")
    if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        n = found.group(1) if found else _("a different number of")
        return _("the record has {n} fields but the header has {expected}; check for a "
                 "missing or extra comma, or an unquoted comma in a value").format(
            n=n, expected=expected)
    if kind == "UNQUOTED VALUE":
        return _("badly quoted field: a quote is not closed, or text follows a closing quote "
                 "(RFC 4180: wrap the value in double quotes and double any quote inside it)")
    if kind == "LINE SIZE OVER MAXIMUM":
        return _("the record is too long to read as one record: check for a double quote "
                 "that is not closed (it makes the rest of the file one cell)")
    if kind == "INVALID ENCODING":
        return _("the record is not UTF-8 text; save the file as \"CSV UTF-8\"")
    return _("the record cannot be read: {error}").format(
        error=_first_line(Exception(message)))


def _reason(col: R.Column, code: str, value: str | None, length: int | None = None) -> str:
    """Why a cell is refused, in this run's locale (the codes and column names it quotes
    are the data contract's, as the file must hold them)."""
    v = (value or "").strip()
    if code == "required":
        return _("required value is empty")
    if code == "too_long":
        n = length if length is not None else len(_unquote_py(value or ""))
        return _("text is {length} characters long; the limit for {column} is {limit}").format(
            length=fmt_number(n), column=col.name,
            limit=fmt_number(col.max_length or R.TEXT_CAP))
    if code == "enum":
        return _("not one of {allowed}{hint}").format(
            allowed=", ".join(col.choices), hint=_did_you_mean(v, col.choices))
    if code == "category":
        codes = _category_codes()
        return _("not a known data category{hint}; expected one of {allowed}").format(
            hint=_did_you_mean(v, codes), allowed=", ".join(codes))
    if code in ("item", "list_category"):
        allowed = _category_codes() if code == "list_category" else list(col.choices)
        items = [x.strip() for x in _unquote_py(value or "").split(";") if x.strip()]
        bad = [x for x in items if x not in allowed] or items
        quoted = ", ".join(f'"{x}"' for x in bad)
        hint = _did_you_mean(bad[0], allowed) if bad else ""
        if code == "list_category":
            text = ngettext("{items} is not a known data category{hint}; allowed items "
                            "(joined by ';'): {allowed}",
                            "{items} are not a known data category{hint}; allowed items "
                            "(joined by ';'): {allowed}", len(bad))
        else:
            text = ngettext("{items} is not allowed in {column}{hint}; allowed items (joined "
                            "by ';'): {allowed}",
                            "{items} are not allowed in {column}{hint}; allowed items (joined "
                            "by ';'): {allowed}", len(bad))
        return text.format(items=quoted, column=col.name, hint=hint, allowed=", ".join(allowed))
    if code == "region":
        hint = ""
        if v.upper() in ISO_3166_ALPHA2:
            hint = _(' (did you mean "{value}"?)').format(value=v.upper())
        elif _REGION_HINTS.get(v.upper()):
            hint = _(' (did you mean "{value}"?)').format(value=_REGION_HINTS[v.upper()])
        return _("not an ISO 3166-1 alpha-2 region code{hint}; use two capital letters, e.g. "
                 "CN for the Chinese Mainland (HK, MO and TW have their own codes)").format(
            hint=hint)
    if code == "date_format":
        return _("not a date: expected YYYY-MM-DD, e.g. 2026-03-01")
    if code == "date_invalid":
        return _("not a real calendar date (YYYY-MM-DD)")
    if code == "date_time_of_day":
        return _("has a time of day; expected a date (YYYY-MM-DD)")
    if code == "ts_format":
        return _("not an ISO 8601 timestamp: expected e.g. 2026-03-01T09:30:00+08:00 "
                 "(without an offset the time is read as Asia/Shanghai time)")
    if code == "ts_invalid":
        return _("not a real date and time (ISO 8601, e.g. 2026-03-01T09:30:00+08:00)")
    if code == "bool":
        return _("not a boolean: expected true or false")
    if code == "int_format":
        return _("not a whole number")
    if code == "int_negative":
        return _("negative; expected a whole number of 0 or more")
    if code == "int_range":
        return _("too large for a whole number (at most 9223372036854775807)")
    if code == "num_format":
        return _("not an amount: expected digits with at most two decimals after a point, "
                 "e.g. 1250000 or 1250000.50{hint}").format(hint=_amount_hint(v))
    if code == "num_finite":
        return _("not a finite number (NaN or infinity); expected an amount, e.g. 1250000.50")
    if code == "num_negative":
        return _("negative; expected an amount of 0 or more")
    if code == "num_scale":
        return _("more than two decimals: amounts are recorded to the fen (0.01 yuan); round "
                 "the value in the file (the import never rounds)")
    if code == "num_range":
        return _("too large for an amount (at most {limit})").format(limit=NUMBER_MAX)
    return code  # pragma: no cover


def _amount_hint(value: str) -> str:
    """The plain digits the contract wants, for an amount written as people often do
    (``1,250,000``, ``¥1250000``, ``1.25e6``); "" when there is no sure reading (``125万``)."""
    text = value.strip()
    for mark in (",", "，", " ", "\u00a0", "_", "¥", "￥", "CNY", "RMB", "元", "yuan"):
        text = text.replace(mark, "")
    if re.fullmatch(r"[0-9]{1,30}(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,2})?", text):
        plain = text
        if "e" in text.lower():
            try:
                plain = format(decimal.Decimal(text).normalize(), "f")
            except ArithmeticError:                         # pragma: no cover
                return ""
        if plain != value.strip() and len(plain) <= 40 \
                and re.fullmatch(_NUM_SCALE_RE, plain):
            return _(' (did you mean "{value}"? no thousands separators, currency signs '
                     'or exponents)').format(value=plain)
    return ""


def _unquote_py(text: str) -> str:
    return text[1:] if _UNQUOTE_PY.match(text) else text


def _did_you_mean(value: str, allowed) -> str:
    if not value:
        return ""
    lowered = value.strip().lower().replace(" ", "_").replace("-", "_")
    if lowered in allowed:
        return _(' (did you mean "{value}"?)').format(value=lowered)
    close = difflib.get_close_matches(lowered, list(allowed), n=1, cutoff=0.8)
    return _(' (did you mean "{value}"?)').format(value=close[0]) if close else ""

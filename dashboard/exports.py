"""Auditor evidence: contract CSV exports, audit packs, and the audit log's views.

Everything an auditor downloads comes from here, and the page, the command line
and the tests call the same functions, so ``python -m dashboard export`` writes
byte for byte the CSV the Exports page serves.

The CSV format is the data contract's (``shared/reference/data-contract.md``):
UTF-8 with a BOM, a header row, RFC 4180 quoting and CRLF line ends, lists
joined by ``;``, dates ``YYYY-MM-DD``, timestamps ISO 8601 with their offset in
the store's zone (Asia/Shanghai), booleans ``true``/``false``, empty for null.
Text and list cells are neutralized against CSV injection (OWASP): a cell that
would start with ``=``, ``+``, ``-``, ``@``, TAB or CR gets a leading single
quote, and so does a cell that already starts with quotes followed by one of
those, so that the importer, which strips one such quote, gives back exactly the
stored value.

Streaming: each CSV line is rendered inside DuckDB (vectorized, in parallel) and
fetched as Arrow record batches of at most ``batch_rows`` lines; the writer puts
each batch's bytes straight from the Arrow buffer into the output and the SHA-256,
so Python never holds more than one batch, whatever the size of the register.

Every export is an audited action: ``export.download`` is checked before any
work, and one audit entry names the dataset, the filters, the rows and the
SHA-256 of what was handed out (an audit pack: one entry for the whole pack).
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import json
import os
import re
import shlex
import tempfile
import threading
import zipfile
from zlib import error as zlib_error
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

import pyarrow as pa

from . import audit
from .i18n import N_, _
from .access import ROLES, SYSTEM_ROLE, Actor, require
from .rules import ENTITY_TYPES, SEVERITIES, load_rules
from .registers import (
    GRADES, HOLD_REASONS, INCIDENT_STATUSES, INCIDENT_TYPES, INCIDENTS, LEGAL_BASES,
    CONSENT_TYPES, PROCESSOR_KINDS, PROCESSOR_STATUSES, PROCESSORS, PURPOSES,
    REQUEST_CHANNELS, REQUEST_KINDS, REQUEST_STATUSES, RETENTION_RECORDS, RIGHTS_REQUESTS,
    SHARING_AGREEMENTS, SHARING_KINDS, SHARING_STATUSES,
)

BOM = b"\xef\xbb\xbf"
EOL = "\r\n"
BATCH_ROWS = 50_000          # lines per Arrow batch: the most the writer holds at once
CHUNK_ROWS = 250_000         # rows DuckDB sorts at a time for a large register
CSV_MIME = "text/csv"
ZIP_MIME = "application/zip"
EXPORT_ACTION = "export.download"   # the permission every export needs
PACK_FORMAT = "privacy-compliance audit pack"
PACK_VERSION = 1
MAX_MANIFEST_BYTES = 16 << 20        # a manifest larger than this is not one of ours


# A cell that a spreadsheet could read as a formula: it starts with one of these,
# possibly after single quotes (so that the importer's "strip one quote" undoes
# exactly what the exporter added).
INJECTION_CHARS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER = re.compile(r"'*[=+\-@\t\r]")
_TRIGGER_SQL = "^''*[=+\\-@\\t\\r]"       # the same pattern inside a SQL literal
_NEEDS_QUOTES_SQL = '[",\\r\\n]'


class ExportError(ValueError):
    """A dataset, filter or output named for an export is wrong: nothing was written."""


def neutralize(text: str) -> str:
    """The OWASP CSV-injection guard for one text cell (the SQL writer does the same)."""
    return "'" + text if _TRIGGER.match(text) else text


# -- datasets and their filters ------------------------------------------------------

@dataclass(frozen=True)
class FilterSpec:
    """One filter a dataset takes: the key in filter dicts, manifests and audit
    entries, and ``--<key>`` on the command line."""

    key: str
    label: str
    kind: str                  # any | text | list_any | clause | from | to | as_of | custom
    column: str | None = None
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    timestamp: bool = False    # from/to on a TIMESTAMPTZ column (else DATE)
    where: Callable[[list[str]], tuple[str, list]] | None = None   # kind "custom"
    help: str = ""
    heading: str = ""          # from/to: the date column's words (N_-marked), for the page

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def multiple(self) -> bool:
        return self.kind in ("any", "text", "list_any", "clause", "custom")

    def allowed(self) -> tuple[str, ...]:
        return tuple(self.choices()) if callable(self.choices) else tuple(self.choices)


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    description: str
    order_by: str                              # output columns giving a stable order
    filters: tuple[FilterSpec, ...]
    table: str | None = None                   # a store table, or
    columns: tuple[str, ...] = ()              # its exported columns, in order
    source: Callable[..., tuple[str, list[str], list]] | None = None   # engine-fed data
    sort_columns: tuple[str, ...] = ()         # selected for ORDER BY only, not exported
    chunk_key: str | None = None               # integer key leading order_by: sort by range

    def filter(self, key: str) -> FilterSpec:
        for f in self.filters:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def date_filter(self) -> FilterSpec | None:
        return next((f for f in self.filters if f.kind == "from"), None)


def _categories() -> tuple[str, ...]:
    from .reference import load_catalog
    return tuple(sorted(load_catalog().categories))


def _date_range(column: str, *, timestamp: bool = False, what: str = "") -> tuple[FilterSpec, ...]:
    label = what or column.replace("_", " ")
    heading = _DATE_HEADINGS.get(label, label.capitalize())
    return (
        FilterSpec("from", f"{label.capitalize()} from", "from", column, timestamp=timestamp,
                   help=f"keep rows whose {label} is on or after this date (YYYY-MM-DD)",
                   heading=heading),
        FilterSpec("to", f"{label.capitalize()} to", "to", column, timestamp=timestamp,
                   help=f"keep rows whose {label} is on or before this date (YYYY-MM-DD)",
                   heading=heading),
    )


# The words of each date range's column, for the Exports page (the command line's help
# keeps the English above).
_DATE_HEADINGS = {
    "engaged on": N_("Engaged on"), "signed on": N_("Signed on"),
    "collected on": N_("Collected on"), "detected": N_("Detected"),
    "event time": N_("Event time"), "received": N_("Received"),
    "snapshot date": N_("Snapshot date"), "logged": N_("Logged"),
}


def filter_label(spec: FilterSpec) -> str:
    """A filter's label on the Exports page, in this run's locale."""
    if spec.kind == "from" and spec.heading:
        return _("{what} from").format(what=_(spec.heading))
    if spec.kind == "to" and spec.heading:
        return _("{what} to").format(what=_(spec.heading))
    return _(spec.label)


def filter_help(spec: FilterSpec) -> str:
    """A filter's help on the Exports page, in this run's locale ("" when none)."""
    if spec.kind == "from" and spec.heading:
        return _("keep rows whose {what} is on or after this date (YYYY-MM-DD)").format(
            what=_(spec.heading).lower())
    if spec.kind == "to" and spec.heading:
        return _("keep rows whose {what} is on or before this date (YYYY-MM-DD)").format(
            what=_(spec.heading).lower())
    return _(spec.help) if spec.help else ""


# The words of a filter's choices on the Exports page: ``(dataset, filter key)`` -> the
# enum kind of ``dashboard.i18n.LABELS`` (the values stay codes: they are the contract's).
FILTER_KINDS = {
    ("processors", "status"): "processor_status", ("processors", "kind"): "processor_kind",
    ("processors", "purpose"): "purpose",
    ("sharing_agreements", "status"): "sharing_status",
    ("sharing_agreements", "kind"): "sharing_kind",
    ("sharing_agreements", "legal_basis"): "legal_basis",
    ("sharing_agreements", "consent"): "consent_type",
    ("retention_records", "hold_reason"): "hold_reason",
    ("incidents", "status"): "incident_status", ("incidents", "grade"): "grade",
    ("incidents", "type"): "incident_type",
    ("incident_events", "status"): "incident_status", ("incident_events", "grade"): "grade",
    ("rights_requests", "status"): "request_status", ("rights_requests", "kind"): "request_kind",
    ("rights_requests", "channel"): "request_channel",
    ("request_events", "status"): "request_status",
    ("findings", "severity"): "severity", ("findings", "entity_type"): "entity_type",
    ("audit_log", "role"): "role", ("audit_log", "action"): "audit_action",
    ("audit_log", "entity_type"): "entity_type",
}
_CHOICE_WORDS = {
    "state": {"kept": N_("Kept"), "on_hold": N_("On hold"), "deleted": N_("Deleted")},
    "level": {"rule": N_("Rule"), "clause": N_("Clause"), "article": N_("Article")},
}


def choice_formatter(dataset: str, spec: FilterSpec) -> Callable[[Any], str]:
    """A ``format_func`` showing a filter's codes in words in this run's locale."""
    from .i18n import actor_label, label
    from .reference import category_label
    kind = FILTER_KINDS.get((dataset, spec.key))
    if kind:
        return lambda code: label(kind, code)
    if spec.key == "category":
        return category_label
    if spec.key == "actor":
        return actor_label
    words = _CHOICE_WORDS.get(spec.key)
    if words:
        return lambda code: _(words[code]) if code in words else str(code)
    return str


def _retention_state(values: list[str]) -> tuple[str, list]:
    parts = {
        "deleted": "deleted_on IS NOT NULL",
        "on_hold": "(deleted_on IS NULL AND hold_reason IS NOT NULL)",
        "kept": "(deleted_on IS NULL AND hold_reason IS NULL)",
    }
    return "(" + " OR ".join(parts[v] for v in values) + ")", []


def _incident_attr(column: str) -> Callable[[list[str]], tuple[str, list]]:
    # column is a literal from this module, never user input
    def where(values: list[str]) -> tuple[str, list]:
        marks = ", ".join("?" for _ in values)
        return (f"incident_id IN (SELECT incident_id FROM incidents WHERE {column} IN ({marks}))",
                list(values))
    return where


DATASETS: dict[str, Dataset] = {}


def _add(ds: Dataset) -> None:
    DATASETS[ds.name] = ds


_add(Dataset(
    "processors", PROCESSORS.title,
    N_("Entrusted partners, suppliers, service providers and affiliates (policy 5.1.4, 5.3.1)."),
    order_by="processor_id", table="processors", columns=tuple(PROCESSORS.column_names),
    filters=(
        FilterSpec("status", N_("Status"), "any", "status", PROCESSOR_STATUSES),
        FilterSpec("kind", N_("Kind"), "any", "kind", PROCESSOR_KINDS),
        FilterSpec("purpose", N_("Purpose"), "any", "purpose", PURPOSES),
        FilterSpec("region", N_("Storage region"), "text", "storage_region",
                   help=N_("ISO 3166-1 alpha-2 code, e.g. CN")),
        FilterSpec("category", N_("Receives data category"), "list_any", "data_categories",
                   _categories),
        *_date_range("engaged_on", what="engaged on"),
    ),
))
_add(Dataset(
    "sharing_agreements", SHARING_AGREEMENTS.title,
    N_("Sharing, transfer and disclosure of personal information (policy 5.1-5.3)."),
    order_by="agreement_id", table="sharing_agreements",
    columns=tuple(SHARING_AGREEMENTS.column_names),
    filters=(
        FilterSpec("status", N_("Status"), "any", "status", SHARING_STATUSES),
        FilterSpec("kind", N_("Kind"), "any", "kind", SHARING_KINDS),
        FilterSpec("legal_basis", N_("Legal basis"), "any", "legal_basis", LEGAL_BASES),
        FilterSpec("consent", N_("Consent"), "any", "consent", CONSENT_TYPES),
        FilterSpec("region", N_("Recipient region"), "text", "recipient_region"),
        FilterSpec("processor_id", N_("Processor ID"), "text", "processor_id"),
        FilterSpec("category", N_("Covers data category"), "list_any", "data_categories",
                   _categories),
        *_date_range("signed_on", what="signed on"),
    ),
))
_add(Dataset(
    "retention_records", RETENTION_RECORDS.title,
    N_("Retention status of every stored record (policy 6.1, 6.2). Up to tens of millions of "
    "rows: streamed, never loaded whole."),
    order_by="record_id", table="retention_records",
    columns=tuple(RETENTION_RECORDS.column_names), chunk_key="record_id",
    filters=(
        FilterSpec("category", N_("Data category"), "any", "category", _categories),
        FilterSpec("system", N_("System"), "text", "system"),
        FilterSpec("region", N_("Storage region"), "text", "storage_region"),
        FilterSpec("state", N_("State"), "custom", choices=("kept", "on_hold", "deleted"),
                   where=_retention_state,
                   help=N_("kept (not deleted, no hold), on_hold (not deleted, held under 6.2), "
                        "deleted")),
        FilterSpec("hold_reason", N_("Hold reason"), "any", "hold_reason", HOLD_REASONS),
        *_date_range("collected_on", what="collected on"),
    ),
))
_add(Dataset(
    "incidents", INCIDENTS.title,
    N_("Security incidents (policy 7.2)."),
    order_by="incident_id", table="incidents", columns=tuple(INCIDENTS.column_names),
    filters=(
        FilterSpec("status", N_("Status"), "any", "status", INCIDENT_STATUSES),
        FilterSpec("grade", N_("Grade"), "any", "grade", GRADES),
        FilterSpec("type", N_("Type"), "any", "incident_type", INCIDENT_TYPES),
        *_date_range("detected_at", timestamp=True, what="detected"),
    ),
))
_add(Dataset(
    "incident_events", N_("Incident timelines"),
    N_("Each incident's append-only timeline: who did what, when."),
    order_by='incident_id, "at", event_id', table="incident_events",
    columns=("event_id", "incident_id", "at", "actor", "kind", "detail"),
    filters=(
        FilterSpec("incident_id", N_("Incident ID"), "text", "incident_id"),
        FilterSpec("kind", N_("Event kind"), "text", "kind"),
        FilterSpec("status", N_("Incident status"), "custom", choices=INCIDENT_STATUSES,
                   where=_incident_attr("status")),
        FilterSpec("grade", N_("Incident grade"), "custom", choices=GRADES,
                   where=_incident_attr("grade")),
        *_date_range("at", timestamp=True, what="event time"),
    ),
))

_add(Dataset(
    "rights_requests", RIGHTS_REQUESTS.title,
    N_("Requests from individuals: access, copy, correction, deletion, withdrawal of consent, "
    "account cancellation, questions and complaints (policy 8, 10)."),
    order_by="request_id", table="rights_requests", columns=tuple(RIGHTS_REQUESTS.column_names),
    filters=(
        FilterSpec("status", N_("Status"), "any", "status", REQUEST_STATUSES),
        FilterSpec("kind", N_("Kind"), "any", "kind", REQUEST_KINDS),
        FilterSpec("channel", N_("Channel"), "any", "channel", REQUEST_CHANNELS),
        FilterSpec("subject_ref", N_("Subject"), "text", "subject_ref"),
        *_date_range("received_at", timestamp=True, what="received"),
    ),
))


def _request_attr(column: str) -> Callable[[list[str]], tuple[str, list]]:
    # column is a literal from this module, never user input
    def where(values: list[str]) -> tuple[str, list]:
        marks = ", ".join("?" for _ in values)
        return (f"request_id IN (SELECT request_id FROM rights_requests "
                f"WHERE {column} IN ({marks}))", list(values))
    return where


_add(Dataset(
    "request_events", N_("Request histories"),
    N_("Each rights request's append-only history: who recorded which step, when."),
    order_by='request_id, "at", event_id', table="request_events",
    columns=("event_id", "request_id", "at", "actor", "role", "kind", "detail", "recorded_at"),
    filters=(
        FilterSpec("request_id", N_("Request ID"), "text", "request_id"),
        FilterSpec("kind", N_("Event kind"), "text", "kind"),
        FilterSpec("status", N_("Request status"), "custom", choices=REQUEST_STATUSES,
                   where=_request_attr("status")),
        *_date_range("at", timestamp=True, what="event time"),
    ),
))


FINDING_COLUMNS = ("rule_id", "clause", "severity", "title", "entity_type", "entity_id",
                   "detail", "due_at", "promise", "breach", "fix", "legal_source", "reading")


def _findings_source(store, cur, filters: dict) -> tuple[str, list[str], list]:
    """The compliance check's findings as of ``filters['as_of']`` (the close of that
    day, Asia/Shanghai), with each rule's title and explanation.

    The findings stay in DuckDB: the engine's ``items_query`` selects them from its
    in-memory results (evaluated once per as-of and data version), and the rules'
    texts are joined from a small frame registered on this cursor.
    """
    import pandas as pd
    from . import engine

    sql, params = engine.items_query(store, filters["as_of"], "finding")
    rules = pd.DataFrame(
        [{"r_rule_id": r.rule_id, "title": r.title, "promise": r.promise, "breach": r.breach,
          "fix": r.fix, "legal_source": r.legal_source, "reading": r.reading}
         for r in load_rules()],
        columns=["r_rule_id", "title", "promise", "breach", "fix", "legal_source", "reading"])
    cur.register("export_rule_texts", rules)
    relation = (
        "(SELECT i.rule_id, i.clause, i.severity, r.title, i.entity_type, "
        "CAST(i.entity_id AS VARCHAR) AS entity_id, i.detail, i.due_at, r.promise, r.breach, "
        "r.fix, r.legal_source, r.reading, i.severity_rank, i.rule_seq, i.entity_num "
        f"FROM ({sql}) AS i LEFT JOIN export_rule_texts AS r ON r.r_rule_id = i.rule_id) "
        "AS findings")
    return relation, list(FINDING_COLUMNS), list(params)


def _rule_ids() -> tuple[str, ...]:
    return tuple(r.rule_id for r in load_rules())


_add(Dataset(
    "findings", N_("Findings"),
    N_("The compliance check's findings as of a date (the close of that day): rule, policy "
    "clause, severity, the rule's title and explanation (promise, breach, fix, legal source, "
    "reading), the entity and why it breaches; most severe first."),
    order_by="severity_rank DESC, rule_seq, entity_num, entity_id",
    sort_columns=("severity_rank", "rule_seq", "entity_num"), source=_findings_source,
    filters=(
        FilterSpec("as_of", N_("As of"), "as_of",
                   help=N_("the check's day (YYYY-MM-DD): today (the default, Asia/Shanghai) "
                        "means now; a past day means the close of that day")),
        FilterSpec("clause", N_("Policy clause"), "clause", "clause",
                   help=N_("e.g. 5.1.4, or 5 for the whole article")),
        FilterSpec("severity", N_("Severity"), "any", "severity", SEVERITIES),
        FilterSpec("rule_id", N_("Rule"), "any", "rule_id", _rule_ids),
        FilterSpec("entity_type", N_("Entity type"), "any", "entity_type", ENTITY_TYPES),
    ),
))
_add(Dataset(
    "snapshots", N_("Compliance snapshots"),
    N_("The compliance snapshot of each day a check was stored: overall score, findings by "
    "severity, due items, the rules' digest and the settings the check used."),
    order_by="snapshot_date", table="compliance_snapshots",
    columns=("snapshot_date", "as_of", "taken_at", "taken_by", "overall",
             "entities_applicable", "entities_failing", "findings", "findings_high",
             "findings_medium", "findings_low", "due", "rules_digest", "settings"),
    filters=_date_range("snapshot_date", what="snapshot date"),
))
_add(Dataset(
    "snapshot_scores", N_("Compliance snapshot scores"),
    N_("Each snapshot's score per rule, clause and article (applicable, failing, due, score)."),
    order_by="snapshot_date, level, code", table="compliance_snapshot_scores",
    columns=("snapshot_date", "level", "code", "applicable", "failing", "due", "score"),
    filters=(
        FilterSpec("level", N_("Level"), "any", "level", ("rule", "clause", "article")),
        FilterSpec("code", N_("Rule, clause or article"), "text", "code"),
        *_date_range("snapshot_date", what="snapshot date"),
    ),
))
_add(Dataset(
    "audit_log", N_("Audit log"),
    N_("Every write, with the values before and after, the digests of the tables it changed and "
    "the chain (prev_hash, hash, key_id), so the chain can be re-verified from the file alone "
    "(the signatures with the audit key)."),
    order_by="seq", table="audit_log", chunk_key="seq",
    columns=("seq", "logged_at", "actor", "role", "action", "entity_type", "entity_id",
             "values_before", "values_after", "prev_hash", "hash", "digests", "key_id"),
    filters=(
        FilterSpec("actor", N_("Actor"), "text", "actor"),
        FilterSpec("role", N_("Role"), "any", "role", (*ROLES, SYSTEM_ROLE)),
        FilterSpec("action", N_("Action"), "text", "action"),
        FilterSpec("entity_type", N_("Entity type"), "text", "entity_type"),
        FilterSpec("entity_id", N_("Entity ID"), "text", "entity_id"),
        *_date_range("logged_at", timestamp=True, what="logged"),
    ),
))

TABLES = tuple(DATASETS)


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ExportError(
            _("unknown table {name}; expected one of: {names}").format(
                name=repr(name), names=", ".join(DATASETS))) from None


def datasets_markdown() -> str:
    """The datasets and their filters as a Markdown table (docs/EVIDENCE.md carries
    exactly this text; a test keeps the two in step)."""
    lines = ["| TABLE | what | filters (`--flag`) |", "|---|---|---|"]
    for ds in DATASETS.values():
        flags = []
        for f in ds.filters:
            if f.kind == "to":
                continue
            if f.kind == "from":
                flags.append(f"`--from`/`--to` on `{f.column}`")
                continue
            allowed = f.allowed() if not callable(f.choices) else ()
            what = f" ({' / '.join(allowed)})" if allowed and len(allowed) <= 6 else ""
            flags.append(f"`{f.flag}`{what}")
        lines.append(f"| `{ds.name}` | {ds.description} | {', '.join(flags) or '—'} |")
    return "\n".join(lines) + "\n"


# -- filters ---------------------------------------------------------------------------

_CLAUSE_RE = re.compile(r"\d+(\.\d+)*")
_MAX_FILTER_TEXT = 200


def _values(spec: FilterSpec, raw: Any) -> list[str]:
    items = raw if isinstance(raw, (list, tuple, set, frozenset)) else [raw]
    out: list[str] = []
    for item in items:
        if item is None:
            continue
        text = str(item)
        parts = text.split(",") if spec.kind in ("any", "list_any", "custom", "clause") else [text]
        out.extend(p.strip() for p in parts if p.strip())
    return sorted(set(out))


def _parse_date(spec: FilterSpec, dataset: str, raw: Any) -> str:
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    text = str(raw).strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ExportError(
            _("{dataset}: filter {key} ({flag}) must be a date YYYY-MM-DD, got {value}").format(
                dataset=dataset, key=spec.key, flag=spec.flag, value=repr(text))) from None


def normalize_filters(dataset: str, filters: dict | None) -> dict[str, Any]:
    """Check ``filters`` against the dataset and return their canonical form:
    only the set filters, lists sorted and deduplicated, dates ``YYYY-MM-DD``.

    The canonical form is what manifests, audit entries and cache keys record.
    Raises ``ExportError`` naming the filter, the value and what is allowed.
    """
    ds = get_dataset(dataset)
    known = {f.key: f for f in ds.filters}
    clean: dict[str, Any] = {}
    for key, raw in (filters or {}).items():
        if raw is None or raw == "" or (isinstance(raw, (list, tuple, set)) and not raw):
            continue
        spec = known.get(key)
        if spec is None:
            takes = ", ".join(f.flag for f in ds.filters) or _("no filters")
            raise ExportError(_("{dataset} has no filter {key} ({flag}); it takes: {takes}").format(
                dataset=dataset, key=repr(key), flag="--" + key.replace("_", "-"), takes=takes))
        if spec.kind in ("from", "to", "as_of"):
            clean[key] = _parse_date(spec, dataset, raw)
            continue
        values = _values(spec, raw)
        if not values:
            continue
        allowed = spec.allowed()
        for v in values:
            if len(v) > _MAX_FILTER_TEXT:
                raise ExportError(_("{dataset}: filter {key} value is longer than {limit} "
                                    "characters").format(dataset=dataset, key=spec.key,
                                                         limit=_MAX_FILTER_TEXT))
            if allowed and v not in allowed:
                raise ExportError(_("{dataset}: filter {key} ({flag}) has no value {value}; "
                                    "expected one of: {allowed}").format(
                    dataset=dataset, key=spec.key, flag=spec.flag, value=repr(v),
                    allowed=", ".join(allowed)))
            if spec.kind == "clause" and not _CLAUSE_RE.fullmatch(v):
                raise ExportError(_("{dataset}: filter clause must be a policy clause number "
                                    "such as 5.1.4 or 7, got {value}").format(
                    dataset=dataset, value=repr(v)))
        clean[key] = values
    if "from" in clean and "to" in clean and clean["from"] > clean["to"]:
        raise ExportError(_("{dataset}: the date range is empty: from {start} is after to "
                            "{end}").format(dataset=dataset, start=clean["from"],
                                            end=clean["to"]))
    return dict(sorted(clean.items()))


def resolve_filters(store, dataset: str, filters: dict | None) -> dict[str, Any]:
    """``normalize_filters`` plus the defaults an export fixes (findings: ``as_of`` =
    today in the store's zone), so that the recorded filters reproduce the file."""
    clean = normalize_filters(dataset, filters)
    today = store.now().date()
    if dataset == "findings" and "as_of" not in clean:
        clean["as_of"] = today.isoformat()
        clean = dict(sorted(clean.items()))
    if clean.get("as_of", "") > today.isoformat():
        raise ExportError(_("{dataset}: as of {as_of} is in the future (today is {today} in "
                            "{zone}); the findings as of today are those of this moment").format(
            dataset=dataset, as_of=clean["as_of"], today=today.isoformat(),
            zone=store.settings.timezone))
    return clean


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _where(ds: Dataset, filters: dict) -> tuple[str, list]:
    parts: list[str] = []
    params: list = []
    for key, value in filters.items():
        spec = ds.filter(key)
        col = _ident(spec.column) if spec.column else None
        if spec.kind in ("any", "text"):
            parts.append(f"{col} IN ({', '.join('?' for _ in value)})")
            params.extend(value)
        elif spec.kind == "list_any":
            parts.append(f"list_has_any({col}, CAST(? AS VARCHAR[]))")
            params.append(list(value))
        elif spec.kind == "clause":
            parts.append("(" + " OR ".join(f"({col} = ? OR starts_with({col}, ?))"
                                           for _ in value) + ")")
            for v in value:
                params.extend([v, v + "."])
        elif spec.kind == "custom":
            sql, p = spec.where(value)
            parts.append(sql)
            params.extend(p)
        elif spec.kind == "from":
            bound = "CAST(CAST(? AS DATE) AS TIMESTAMPTZ)" if spec.timestamp else "CAST(? AS DATE)"
            parts.append(f"{col} >= {bound}")
            params.append(value)
        elif spec.kind == "to":
            if spec.timestamp:     # the whole day, in the store's zone
                parts.append(f"{col} < CAST(CAST(? AS DATE) + 1 AS TIMESTAMPTZ)")
            else:
                parts.append(f"{col} <= CAST(? AS DATE)")
            params.append(value)
        # as_of feeds the source, not the WHERE
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _query(store, cur, ds: Dataset, filters: dict) -> tuple[str, list, list[str]]:
    """The dataset's rows under ``filters`` on ``cur``: (SQL, params, exported columns).

    The SQL also selects ``ds.sort_columns`` (for the ORDER BY; not exported).
    """
    base: list = []
    if ds.source is not None:
        relation, columns, base = ds.source(store, cur, filters)
    else:
        relation, columns = ds.table, list(ds.columns)
    where, params = _where(ds, filters)
    cols = ", ".join(_ident(c) for c in [*columns, *ds.sort_columns])
    return f"SELECT {cols} FROM {relation}{where}", [*base, *params], list(columns)


# -- the CSV writer ----------------------------------------------------------------------

def _text_cell(expr: str) -> str:
    neutral = (f"CASE WHEN regexp_matches({expr}, '{_TRIGGER_SQL}') "
               f"THEN '''' || {expr} ELSE {expr} END")
    return _quoted(neutral, expr)


def _quoted(value: str, null_test: str) -> str:
    return (f"CASE WHEN {null_test} IS NULL THEN '' "
            f"WHEN regexp_matches({null_test}, '{_NEEDS_QUOTES_SQL}') "
            f"THEN '\"' || replace({value}, '\"', '\"\"') || '\"' ELSE {value} END")


def _timestamp_cell(expr: str) -> str:
    zone = f"strftime({expr}, '%z')"
    offset = f"CASE WHEN length({zone}) = 3 THEN {zone} || ':00' ELSE {zone} END"
    return (f"CASE WHEN {expr} IS NULL THEN '' "
            f"WHEN epoch_us({expr}) % 1000000 = 0 "
            f"THEN strftime({expr}, '%Y-%m-%dT%H:%M:%S') || {offset} "
            f"ELSE strftime({expr}, '%Y-%m-%dT%H:%M:%S.%f') || {offset} END")


_NUMERIC = re.compile(r"(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|"
                      r"UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$")


def cell_sql(column: str, duck_type: str) -> str:
    """The SQL rendering one column's value as a contract CSV cell (never NULL)."""
    c = _ident(column)
    t = duck_type.upper()
    if t.endswith("[]"):
        return _text_cell(f"array_to_string({c}, ';')")
    if t == "DATE":
        return f"coalesce(strftime({c}, '%Y-%m-%d'), '')"
    if t.startswith("TIMESTAMP WITH TIME ZONE"):
        return _timestamp_cell(c)
    if t.startswith("TIMESTAMP"):      # no zone: the contract reads it as Shanghai time
        return _timestamp_cell(f"CAST({c} AS TIMESTAMPTZ)")
    if t == "BOOLEAN":
        return f"CASE WHEN {c} IS NULL THEN '' WHEN {c} THEN 'true' ELSE 'false' END"
    if t.startswith("DECIMAL"):
        # An amount (NUMBER, DECIMAL(18,2): economic_loss_cny) as DuckDB spells a decimal:
        # plain digits, a point and exactly the column's two decimals (1250000.50, 0.00).
        # Exact (never a float, never rounded), no exponent, thousands separator or
        # currency sign, so a spreadsheet reads it as a number; the same value always
        # gives the same bytes; and it is what the importer accepts (digits, at most two
        # decimals), so export -> import gives back the stored amount. Not trimmed to
        # 1250000.5: two decimals are how an amount of money in yuan is written.
        return f"coalesce(CAST({c} AS VARCHAR), '')"
    if _NUMERIC.match(t):
        return f"coalesce(CAST({c} AS VARCHAR), '')"
    if t == "VARCHAR":
        return _text_cell(c)
    return _text_cell(f"CAST({c} AS VARCHAR)")


def _header(columns: Sequence[str]) -> bytes:
    cells = []
    for name in columns:
        cells.append('"' + name.replace('"', '""') + '"' if re.search(r'[",\r\n]', name)
                     else name)
    return (",".join(cells) + EOL).encode("utf-8")


def _batch_bytes(array: pa.Array) -> memoryview:
    """The bytes of a batch of rendered lines, straight from the Arrow buffer (no copy)."""
    if array.null_count:
        raise RuntimeError("the CSV renderer produced a NULL line")
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())
    _validity, offsets, data = array.buffers()
    width = "i" if pa.types.is_string(array.type) else "q"
    offs = memoryview(offsets).cast(width)
    start, end = offs[array.offset], offs[array.offset + len(array)]
    return memoryview(data)[start:end] if data is not None else memoryview(b"")


@dataclass(frozen=True)
class CsvStats:
    rows: int
    bytes: int
    sha256: str
    columns: tuple[str, ...]
    batches: int
    max_batch_rows: int


def _key_ranges(cur, sql: str, params: list, key: str, chunk_rows: int
                ) -> list[tuple[Any, Any]]:
    """Half-open ranges ``[lo, hi)`` of ``key`` (``None``: unbounded) holding about
    ``chunk_rows`` rows each, cut at the key's approximate quantiles, so that sparse
    or skewed keys split as evenly as dense ones."""
    k = _ident(key)
    n = cur.execute(f"SELECT count(*) FROM ({sql}) AS src", params or None).fetchall()[0][0]
    if n <= chunk_rows:
        return [(None, None)]
    parts = -(-n // chunk_rows)
    cuts = cur.execute(
        f"SELECT approx_quantile({k}, CAST(? AS FLOAT[])) FROM ({sql}) AS src",
        [[i / parts for i in range(1, parts)], *params]).fetchall()[0][0]
    bounds = sorted({c for c in cuts if c is not None})
    edges = [None, *bounds, None]
    return list(zip(edges[:-1], edges[1:]))


def write_query_csv(cur, sql: str, params: list, order_by: str, out: BinaryIO, *,
                    columns: Sequence[str] | None = None, chunk_key: str | None = None,
                    chunk_rows: int = CHUNK_ROWS, batch_rows: int = BATCH_ROWS,
                    on_batch: Callable[[int, int], None] | None = None,
                    bom: bool = True) -> CsvStats:
    """Write the rows of ``sql`` (ordered by ``order_by``) to ``out`` as contract CSV:
    all its columns, or only ``columns`` (the others may serve the ORDER BY).

    ``chunk_key``: an integer column that ``order_by`` starts with (ascending). The
    rows are then sorted range by range of about ``chunk_rows`` rows (cut at the
    key's quantiles), so that DuckDB's sort never holds the whole register (10 M
    retention records: a few hundred MB at the peak instead of 1.3 GB); the output
    is the same. Run it inside a transaction for one snapshot. ``on_batch(rows_so_far, bytes_written_so_far)`` is called after each
    batch has been written (tests use it to see the streaming).
    """
    rel = cur.sql(sql, params=params or None)
    kinds = {name: str(t) for name, t in zip(rel.columns, rel.types)}
    columns = tuple(columns or rel.columns)
    missing = [c for c in columns if c not in kinds]
    if missing:
        raise ExportError(f"the query has no column {missing[0]!r}")
    line = " || ',' || ".join(cell_sql(c, kinds[c]) for c in columns)
    ranges: list[tuple[Any, Any]] = [(None, None)]
    if chunk_key is not None:
        if not order_by.replace('"', "").startswith(chunk_key):
            raise ValueError(f"chunk_key {chunk_key} must lead the order {order_by}")
        ranges = _key_ranges(cur, sql, params, chunk_key, chunk_rows)
    digest = hashlib.sha256()
    head = (BOM if bom else b"") + _header(columns)
    out.write(head)
    digest.update(head)
    size, rows, batches, largest = len(head), 0, 0, 0
    for lo, hi in ranges:
        conds, extra = [], []
        if lo is not None:
            conds.append(f"{_ident(chunk_key)} >= ?")
            extra.append(lo)
        if hi is not None:
            conds.append(f"{_ident(chunk_key)} < ?")
            extra.append(hi)
        where = (" WHERE " + " AND ".join(conds)) if conds else ""
        query = (f"SELECT {line} || chr(13) || chr(10) AS line FROM ({sql}) AS src{where} "
                 f"ORDER BY {order_by}")
        reader = cur.sql(query, params=[*params, *extra] or None).to_arrow_reader(batch_rows)
        try:
            for batch in reader:
                if not batch.num_rows:
                    continue
                chunk = _batch_bytes(batch.column(0))
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                rows += batch.num_rows
                batches += 1
                largest = max(largest, batch.num_rows)
                del chunk, batch
                if on_batch is not None:
                    on_batch(rows, size)
        finally:
            # An open result blocks the cursor: without this, the caller's ROLLBACK
            # after a failed write (or a streamed download cut short) would raise
            # ResourceInUseException and hide the real error.
            reader.close()
    return CsvStats(rows, size, digest.hexdigest(), columns, batches, largest)


class _TextSink:
    """Bytes in, text out: the writer's batches end at line ends, so no character splits."""

    def __init__(self, out):
        self.out = out

    def write(self, data) -> int:
        self.out.write(bytes(data).decode("utf-8"))
        return len(data)


def write_frame_csv(frame, out, *, timezone: str = "Asia/Shanghai", bom: bool = True) -> CsvStats:
    """Any table the project prints as CSV (``check --format csv``, ``user list --format
    csv``, ...) through the one writer: the frame is read by DuckDB and rendered by
    ``write_query_csv``, so every cell gets the same quoting and CSV-injection guard as the
    exports. ``out``: a binary or a text stream. ``bom=False`` for a terminal or a pipe."""
    import duckdb
    import pandas as pd
    frame = pd.DataFrame(frame).reset_index(drop=True)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    ordered = frame.assign(__row=range(len(frame)))
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = ?", [timezone])
        con.register("printed_frame", ordered)
        sink = out if not isinstance(out, io.TextIOBase) else _TextSink(out)
        return write_query_csv(con, "SELECT * FROM printed_frame", [], '"__row"', sink,
                               columns=columns, bom=bom)
    finally:
        con.close()


def write_csv(store, dataset: str, filters: dict | None, out: BinaryIO, *,
              batch_rows: int = BATCH_ROWS, chunk_rows: int = CHUNK_ROWS, cur=None,
              on_batch: Callable[[int, int], None] | None = None) -> CsvStats:
    """Write one dataset under (already resolved) ``filters`` to ``out``.

    A read only: no permission check and no audit entry. Use ``export_file``,
    ``open_download`` or ``build_pack`` to hand data to a person. With its own
    cursor it reads in one transaction (one snapshot, however many chunks); a
    caller passing ``cur`` manages the transaction.
    """
    ds = get_dataset(dataset)
    filters = normalize_filters(dataset, filters)
    if dataset == "findings" and "as_of" not in filters:
        raise ExportError("findings: resolve the filters first (as_of is required)")
    if cur is not None:
        sql, params, columns = _query(store, cur, ds, filters)
        return write_query_csv(cur, sql, params, ds.order_by, out, columns=columns,
                               chunk_key=ds.chunk_key, chunk_rows=chunk_rows,
                               batch_rows=batch_rows, on_batch=on_batch)
    with store.cursor() as own:
        sql, params, columns = _query(store, own, ds, filters)   # the engine runs first
        own.execute("BEGIN TRANSACTION")
        try:
            stats = write_query_csv(own, sql, params, ds.order_by, out, columns=columns,
                                    chunk_key=ds.chunk_key, chunk_rows=chunk_rows,
                                    batch_rows=batch_rows, on_batch=on_batch)
        except BaseException:
            own.execute("ROLLBACK")
            raise
        own.execute("COMMIT")
        return stats


# -- reads for the pages -------------------------------------------------------------------

def count_rows(store, dataset: str, filters: dict | None = None) -> int:
    """How many rows an export of ``dataset`` under ``filters`` will have."""
    ds = get_dataset(dataset)
    clean = resolve_filters(store, dataset, filters)
    with store.cursor() as cur:
        sql, params, _cols = _query(store, cur, ds, clean)
        return int(cur.execute(f"SELECT count(*) FROM ({sql})", params or None).fetchall()[0][0])


def preview_rows(store, dataset: str, filters: dict | None = None, limit: int = 20):
    """The first ``limit`` rows of the export, as stored (a DataFrame)."""
    ds = get_dataset(dataset)
    clean = resolve_filters(store, dataset, filters)
    limit = max(1, min(int(limit), 1000))
    with store.cursor() as cur:
        sql, params, columns = _query(store, cur, ds, clean)
        cols = ", ".join(_ident(c) for c in columns)
        return cur.execute(f"SELECT {cols} FROM ({sql}) AS src ORDER BY {ds.order_by} LIMIT ?",
                           [*params, limit]).df()


def file_name(dataset: str, filters: dict, at: dt.datetime) -> str:
    """``<dataset>_<yyyymmddThhmmss>.csv``: what the download and the pack call a file."""
    return f"{dataset}_{at.strftime('%Y%m%dT%H%M%S')}.csv"


def cli_command(dataset: str, filters: dict, out: str) -> str:
    """The command that writes this export again (for manifests and the page)."""
    ds = get_dataset(dataset)
    words = ["python", "-m", "dashboard", "export", dataset, "--out", out]
    for key, value in filters.items():
        spec = ds.filter(key)
        for v in (value if isinstance(value, list) else [value]):
            words += [spec.flag, v]
    return " ".join(shlex.quote(w) for w in words)


# -- exports: checked, written, logged ------------------------------------------------------

@dataclass(frozen=True)
class ExportResult:
    dataset: str
    filters: dict
    file_name: str
    rows: int
    bytes: int
    sha256: str
    audit_seq: int | None = None

    def summary(self) -> dict:
        return {"dataset": self.dataset, "filters": self.filters, "file": self.file_name,
                "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


def _log(store, actor: Actor, action: str, entity_type: str, entity_id: str,
         after: dict) -> int:
    with store.write(actor, EXPORT_ACTION) as w:
        return w.audit(action, entity_type, entity_id, after=after)


def export_file(store, actor: Actor, dataset: str, out: str | os.PathLike,
                filters: dict | None = None, *, batch_rows: int = BATCH_ROWS) -> ExportResult:
    """Write ``dataset`` to the file ``out`` (the CLI's ``export``): permission
    check, filters checked before anything is written, the CSV streamed to a
    temporary file beside ``out``, one audit entry, then the file put in place."""
    require(actor, EXPORT_ACTION)
    clean = resolve_filters(store, dataset, filters)
    out = Path(out)
    _check_out(out, "CSV")
    with _PartFile(out) as (fh, tmp):
        with fh:
            stats = write_csv(store, dataset, clean, fh, batch_rows=batch_rows)
        result = ExportResult(dataset, clean, out.name, stats.rows, stats.bytes, stats.sha256)
        seq = _log(store, actor, "export.download", "export", dataset,
                   {**result.summary(), "delivery": "file"})
        os.replace(tmp, out)
    return ExportResult(dataset, clean, out.name, stats.rows, stats.bytes, stats.sha256, seq)


def _check_out(out: Path, what: str) -> None:
    """Refuse an ``--out`` that cannot be a file before anything is read or logged."""
    if out.is_dir():
        raise ExportError(f"--out {out} is a directory; name the {what} file to write")
    if not out.parent.exists():
        raise ExportError(f"--out {out}: the folder {out.parent} does not exist")
    if not out.parent.is_dir():
        raise ExportError(f"cannot write to --out {out}: {out.parent} is not a folder")


_WHY_NOT = {
    errno.EACCES: "permission denied", errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only", errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "the disk quota is exceeded", errno.ENOTDIR: "a part of the path is not a "
    "folder", errno.EISDIR: "it is a directory", errno.ENAMETOOLONG: "the name is too long",
}


class _PartFile:
    """A temporary ``.part`` file beside ``out``, removed unless it was put in place.

    An OS error (no permission, read-only or full disk, ...) becomes an ExportError
    naming ``out`` as the user typed it, and no server path: exit 2, no traceback.
    """

    def __init__(self, out: Path):
        self.out = out
        self.tmp: str | None = None

    def _refused(self, exc: OSError) -> ExportError:
        why = _WHY_NOT.get(exc.errno) or (exc.strerror or "the system refused").lower()
        return ExportError(f"cannot write to --out {self.out}: {why}")

    def __enter__(self):
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.out.name}.", suffix=".part",
                                            dir=self.out.parent)
        except OSError as exc:
            raise self._refused(exc) from None
        return os.fdopen(fd, "wb"), self.tmp

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            return False
        try:
            Path(self.tmp).unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise self._refused(exc) from None
        return False


_GENERATING: dict[str, threading.Lock] = {}
_GENERATING_GUARD = threading.Lock()


def _generation_lock(key: str) -> threading.Lock:
    with _GENERATING_GUARD:
        return _GENERATING.setdefault(key, threading.Lock())


@dataclass
class Download:
    """A generated file ready to serve: ``file`` is open for reading and already
    unlinked from disk (it disappears when closed)."""

    file: BinaryIO
    file_name: str
    mime: str
    result: ExportResult


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


def _temp_dir() -> str | None:
    return os.environ.get("COMPLIANCE_EXPORT_TMP") or None


def _reopen_unlinked(path: str) -> BinaryIO:
    fh = open(path, "rb")
    try:
        os.unlink(path)
    except OSError:
        pass
    return fh


def open_download(store, actor: Actor, dataset: str, filters: dict | None = None, *,
                  compress: bool = False, name: str | None = None,
                  batch_rows: int = BATCH_ROWS) -> Download:
    """Generate a download for the Exports page: the CSV (or a ZIP holding it)
    streamed to a temporary file, logged, and returned open for reading.

    Runs on Streamlit's download thread (``st.download_button(data=<callable>)``),
    so the page stays responsive; one generation at a time per export. ``name``
    is the CSV's file name (default ``<dataset>_<time>.csv``); a ZIP is named after it.
    """
    require(actor, EXPORT_ACTION)
    clean = resolve_filters(store, dataset, filters)
    if name is not None and not _SAFE_NAME.fullmatch(name):
        raise ExportError(f"file name {name!r} must be letters, digits, '.', '_' or '-'")
    key = json.dumps([str(store.path), actor.name, dataset, clean, compress], sort_keys=True)
    with _generation_lock(key):
        at = store.now()
        name = name or file_name(dataset, clean, at)
        if compress and name.endswith(".zip"):
            name = name[:-4] + ".csv"
        fd, tmp = tempfile.mkstemp(prefix="export-", suffix=".zip" if compress else ".csv",
                                   dir=_temp_dir())
        try:
            with os.fdopen(fd, "wb") as fh:
                if compress:
                    with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                        info = zipfile.ZipInfo(name, _zip_time(at))
                        info.compress_type = zipfile.ZIP_DEFLATED
                        with zf.open(info, "w", force_zip64=True) as entry:
                            stats = write_csv(store, dataset, clean, entry,
                                              batch_rows=batch_rows)
                else:
                    stats = write_csv(store, dataset, clean, fh, batch_rows=batch_rows)
            result = ExportResult(dataset, clean, name, stats.rows, stats.bytes, stats.sha256)
            after = {**result.summary(), "delivery": "download"}
            served = name
            if compress:
                served = (name[:-4] if name.endswith(".csv") else name) + ".zip"
                after["zip"] = {"file": served, "sha256": _sha256_file(tmp)}
            seq = _log(store, actor, "export.download", "export", dataset, after)
            fh = _reopen_unlinked(tmp)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return Download(fh, served, ZIP_MIME if compress else CSV_MIME,
                    ExportResult(dataset, clean, name, stats.rows, stats.bytes, stats.sha256,
                                 seq))


def download_bytes(store, actor: Actor, dataset: str, filters: dict | None = None, *,
                   compress: bool = False, name: str | None = None) -> bytes:
    """``open_download``'s file, read and closed: what ``st.download_button(data=...)``
    serves (Streamlit keeps the served bytes in memory, so the page offers a ZIP
    for large exports)."""
    dl = open_download(store, actor, dataset, filters, compress=compress, name=name)
    with dl.file:
        return dl.file.read()


def _sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _zip_time(at: dt.datetime) -> tuple[int, int, int, int, int, int]:
    return (max(at.year, 1980), at.month, at.day, at.hour, at.minute, at.second)


# -- the audit pack -------------------------------------------------------------------------

@dataclass(frozen=True)
class PackResult:
    file_name: str
    sha256: str
    manifest: dict
    audit_seq: int | None = None


def chain_head(cur) -> tuple[int, str, str | None]:
    """The audit chain's head: (seq, hash, time in UTC ISO 8601) of the last entry."""
    rows = cur.execute(
        "SELECT seq, hash, logged_at FROM audit_log ORDER BY seq DESC LIMIT 1").fetchall()
    if not rows:
        return (0, audit.GENESIS, None)
    return int(rows[0][0]), rows[0][1], audit.utc_iso(rows[0][2])


def head_dict(cur) -> dict:
    """The head as manifests print it (``audit verify --anchor`` takes it back)."""
    seq, digest, at = chain_head(cur)
    return {"head_seq": seq, "head_hash": digest, "head_at": at}


def build_pack(store, actor: Actor, selections: Sequence[tuple[str, dict | None]],
               out: BinaryIO | str | os.PathLike, *, name: str | None = None,
               batch_rows: int = BATCH_ROWS) -> PackResult:
    """Write an audit pack: one ZIP with each selected dataset's CSV and a
    ``manifest.json`` (per file: name, rows, SHA-256, filters, the command that
    rewrites it; and the store's schema version, generated at/by, the audit
    chain's head seq and hash), plus ``SHA256SUMS`` for ``sha256sum -c``.

    All files are read in one transaction, so they and the chain head are one
    consistent snapshot. One audit entry records the whole pack.
    """
    require(actor, EXPORT_ACTION)
    if not selections:
        raise ExportError("an audit pack needs at least one dataset")
    resolved: list[tuple[str, dict]] = []
    seen: set[str] = set()
    for dataset, filters in selections:
        clean = resolve_filters(store, dataset, filters)
        if dataset in seen:
            raise ExportError(f"the pack names {dataset} twice; one file per dataset")
        seen.add(dataset)
        resolved.append((dataset, clean))
    if name is not None and not _SAFE_NAME.fullmatch(name):
        raise ExportError(f"file name {name!r} must be letters, digits, '.', '_' or '-'")
    at = store.now()
    pack_name = name or pack_file_name(at)
    if isinstance(out, (str, os.PathLike)):
        path = Path(out)
        _check_out(path, "ZIP")
        with _PartFile(path) as (fh, tmp):
            with fh:
                manifest = _write_pack(store, actor, resolved, fh, at, batch_rows)
            digest = _sha256_file(tmp)
            seq = _log_pack(store, actor, path.name, manifest, digest)
            os.replace(tmp, path)
        return PackResult(path.name, digest, manifest, seq)
    hashing = _HashingWriter(out)
    manifest = _write_pack(store, actor, resolved, hashing, at, batch_rows)
    digest = hashing.hexdigest()
    seq = _log_pack(store, actor, pack_name, manifest, digest)
    return PackResult(pack_name, digest, manifest, seq)


def pack_file_name(at: dt.datetime) -> str:
    return f"audit-pack_{at.strftime('%Y%m%dT%H%M%S')}.zip"


class _HashingWriter:
    """A write-only file that hashes what passes through (for packs written to a stream)."""

    def __init__(self, inner: BinaryIO):
        self.inner = inner
        self.digest = hashlib.sha256()
        self.pos = 0

    def write(self, data) -> int:
        self.inner.write(data)
        self.digest.update(data)
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        self.inner.flush()

    def seekable(self) -> bool:
        return False

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def _write_pack(store, actor: Actor, resolved: list[tuple[str, dict]], fh,
                at: dt.datetime, batch_rows: int) -> dict:
    stamp = _zip_time(at)
    files: list[dict] = []
    with store.cursor() as cur, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        # Build every query first: the findings' evaluation (the engine) is done here,
        # so that the transaction below sees its results.
        queries = [(dataset, clean, _query(store, cur, get_dataset(dataset), clean))
                   for dataset, clean in resolved]
        cur.execute("BEGIN TRANSACTION")     # one snapshot for every file and the head
        try:
            head = head_dict(cur)
            for dataset, clean, (sql, params, columns) in queries:
                name = f"{dataset}.csv"
                info = zipfile.ZipInfo(name, stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as entry:
                    ds = get_dataset(dataset)
                    stats = write_query_csv(cur, sql, params, ds.order_by, entry,
                                            columns=columns, chunk_key=ds.chunk_key,
                                            batch_rows=batch_rows)
                files.append({
                    "name": name, "dataset": dataset, "title": get_dataset(dataset).title,
                    "rows": stats.rows, "bytes": stats.bytes, "sha256": stats.sha256,
                    "columns": list(stats.columns), "filters": clean,
                    "command": cli_command(dataset, clean, name),
                })
            # The incident documents (dashboard/documents.py) of the incidents the pack
            # covers, as generated and audited: documents/<incident>/<doc id>_<name>.docx
            documents = _pack_documents(zf, cur, resolved, stamp, len(files))
            # The evidence files (dashboard/evidence.py) of the records the pack covers,
            # withdrawn ones included and marked: evidence/<type>/<id>/<sha256>-<name>,
            # listed in evidence/manifest.csv
            evidence_files, evidence_list = _pack_evidence(
                zf, cur, queries, stamp, len(files) + len(documents), store.settings.timezone)
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
        manifest = {
            "format": PACK_FORMAT,
            "format_version": PACK_VERSION,
            "generated_at": at.isoformat(timespec="seconds"),
            "generated_by": {"name": actor.name, "role": actor.role},
            "store": {"file": Path(store.path).name, "schema_version": store.schema_version(),
                      "timezone": store.settings.timezone},
            "audit_chain": head,
            "csv_format": "UTF-8 with BOM, RFC 4180, CRLF, lists joined by ';', dates "
                          "YYYY-MM-DD, timestamps ISO 8601 with offset, booleans true/false, "
                          "empty = null; cells starting with = + - @ TAB CR carry a leading "
                          "single quote (CSV-injection guard)",
            "files": files,
            "documents": documents,
            "evidence": evidence_files,
        }
        if evidence_list is not None:
            manifest["evidence_manifest"] = evidence_list
        body = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        zf.writestr(zipfile.ZipInfo("manifest.json", stamp), body, zipfile.ZIP_DEFLATED)
        sums = "".join(f"{f['sha256']}  {f['name']}\n"
                       for f in [*files, *documents, *evidence_files,
                                 *([evidence_list] if evidence_list else [])]).encode("ascii")
        zf.writestr(zipfile.ZipInfo("SHA256SUMS", stamp), sums, zipfile.ZIP_DEFLATED)
    manifest["manifest_sha256"] = hashlib.sha256(body).hexdigest()
    return manifest


# The datasets whose rows name incidents: a pack holding one of them covers those incidents,
# and carries the documents generated for them (dashboard/documents.py).
_INCIDENT_DATASETS = ("incidents", "incident_events")


def _pack_documents(zf: zipfile.ZipFile, cur, resolved: list[tuple[str, dict]], stamp,
                    n_files: int) -> list[dict]:
    """Write the stored documents of the incidents the pack's incident datasets select
    (under their filters) into the pack; their manifest entries (name, SHA-256, bytes, and
    what each is: incident, kind, language, when and by whom, its audit entry)."""
    parts, params = [], []
    for dataset, clean in resolved:
        if dataset in _INCIDENT_DATASETS:
            ds = get_dataset(dataset)
            where, p = _where(ds, clean)
            parts.append(f"SELECT incident_id FROM {_ident(ds.table)}{where}")
            params.extend(p)
    if not parts:
        return []
    from . import documents
    docs = documents.pack_documents(cur, " UNION ".join(parts), params)
    if n_files + len(docs) + 2 > PACK_MAX_MEMBERS:
        raise ExportError(f"the pack would hold {len(docs):,} incident documents, more than "
                          f"an audit pack may ({PACK_MAX_MEMBERS:,} files): narrow the "
                          "incidents' filters")
    out = []
    for doc in docs:
        name = documents.pack_member(doc)
        content = bytes(doc["content"])
        info = zipfile.ZipInfo(name, stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, content)
        out.append({
            "name": name, "incident_id": doc["incident_id"], "kind": doc["kind"],
            "locale": doc["locale"], "bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "recorded_sha256": doc["sha256"],
            "generated_at": doc["generated_at"].isoformat(timespec="seconds"),
            "generated_by": doc["generated_by"], "audit_seq": int(doc["audit_seq"]),
        })
    return out


# The datasets whose rows name records that evidence files attach to: (the evidence's
# entity type, the record's id as the dataset's query selects it).
_EVIDENCE_DATASETS = {
    "processors": ("processor", "processor_id"),
    "sharing_agreements": ("sharing_agreement", "agreement_id"),
    "incidents": ("incident", "incident_id"),
    "incident_events": ("incident", "incident_id"),
    "rights_requests": ("rights_request", "request_id"),
    "request_events": ("rights_request", "request_id"),
    "findings": ("finding", "rule_id || ':' || entity_id"),
}
EVIDENCE_MANIFEST = "evidence/manifest.csv"


def _pack_evidence(zf: zipfile.ZipFile, cur, queries, stamp, n_files: int,
                   timezone: str) -> tuple[list[dict], dict | None]:
    """Write the evidence files of the records the pack's datasets select (under their
    filters) into the pack, each file once per record, stored as it is (no compression:
    the files are compressed already, and a blank scan that deflates a thousand times
    would look like a ZIP bomb to ``check_pack``); and ``evidence/manifest.csv`` (through
    the one CSV writer) with one row per attach: record, file name, SHA-256, size, who
    attached it and when, and whether, when, by whom and why it was withdrawn. Withdrawn
    files are included: the pack shows what was on record. Returns the manifest entries
    of the files and of the CSV (None, and no CSV, when the records covered have no file)."""
    from . import evidence
    selections = []
    for dataset, _clean, (sql, params, _columns) in queries:
        if dataset in _EVIDENCE_DATASETS:
            entity_type, key = _EVIDENCE_DATASETS[dataset]
            selections.append((entity_type, f"SELECT {key} FROM ({sql}) AS covered",
                               list(params)))
    if not selections:
        return [], None
    rows = evidence.for_pack(cur, selections)
    if not rows:                 # no file on the records covered: manifest.json says so
        return [], None
    members: dict[str, dict] = {}
    in_force: set[str] = set()          # members with an attach not withdrawn
    for row in rows:
        members.setdefault(row["member"], row)
        if not row["withdrawn"]:
            in_force.add(row["member"])
    if n_files + len(members) + 3 > PACK_MAX_MEMBERS:
        raise ExportError(f"the pack would hold {len(members):,} evidence files, more than an "
                          f"audit pack may ({PACK_MAX_MEMBERS:,} files): narrow the filters")
    out = []
    for name, row in members.items():
        content = evidence.pack_content(cur, row["sha256"])
        info = zipfile.ZipInfo(name, stamp)
        info.compress_type = zipfile.ZIP_STORED
        zf.writestr(info, content)
        digest = hashlib.sha256(content).hexdigest()
        out.append({"name": name, "entity_type": row["entity_type"],
                    "entity_id": row["entity_id"], "file_name": row["file_name"],
                    "bytes": len(content), "sha256": digest,
                    "recorded_sha256": row["sha256"], "media_type": row["media_type"],
                    "withdrawn": name not in in_force})
    import pandas as pd
    frame = pd.DataFrame(rows, columns=list(evidence.PACK_COLUMNS))
    buffer = io.BytesIO()
    stats = write_frame_csv(frame, buffer, timezone=timezone)
    info = zipfile.ZipInfo(EVIDENCE_MANIFEST, stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, buffer.getvalue())
    return out, {"name": EVIDENCE_MANIFEST, "rows": stats.rows, "bytes": stats.bytes,
                 "sha256": stats.sha256}


def _log_pack(store, actor: Actor, name: str, manifest: dict, digest: str) -> int:
    return _log(store, actor, "export.pack", "audit_pack", name, {
        "file": name, "sha256": digest, "manifest_sha256": manifest["manifest_sha256"],
        "audit_chain": manifest["audit_chain"],
        "files": [{k: f[k] for k in ("dataset", "name", "filters", "rows", "sha256")}
                  for f in manifest["files"]],
        "documents": [{k: d[k] for k in ("name", "incident_id", "kind", "locale", "sha256")}
                      for d in manifest.get("documents", [])],
        "evidence": [{k: e[k] for k in ("name", "entity_type", "entity_id", "sha256",
                                         "withdrawn")} for e in manifest.get("evidence", [])],
    })


def open_pack_download(store, actor: Actor, selections: Sequence[tuple[str, dict | None]], *,
                       name: str | None = None, batch_rows: int = BATCH_ROWS) -> Download:
    """The audit pack for the Exports page, as an unlinked temporary file."""
    require(actor, EXPORT_ACTION)
    key = json.dumps([str(store.path), actor.name, "pack",
                      [(d, normalize_filters(d, f)) for d, f in selections]], sort_keys=True)
    with _generation_lock(key):
        fd, tmp = tempfile.mkstemp(prefix="audit-pack-", suffix=".zip", dir=_temp_dir())
        try:
            with os.fdopen(fd, "wb") as fh:
                result = build_pack(store, actor, selections, fh, name=name,
                                    batch_rows=batch_rows)
            handle = _reopen_unlinked(tmp)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    total = sum(f["rows"] for f in result.manifest["files"])
    return Download(handle, result.file_name, ZIP_MIME,
                    ExportResult("audit_pack", {}, result.file_name, total, 0, result.sha256,
                                 result.audit_seq))


def pack_bytes(store, actor: Actor, selections: Sequence[tuple[str, dict | None]], *,
               name: str | None = None) -> bytes:
    """The audit pack's ZIP for ``st.download_button(data=...)``."""
    dl = open_pack_download(store, actor, selections, name=name)
    with dl.file:
        return dl.file.read()


@dataclass(frozen=True)
class PackCheck:
    ok: bool
    lines: list[str] = field(default_factory=list)
    manifest: dict | None = None


# A pack is read as hostile input: these bound what reading one may cost, checked while
# streaming (a ZIP's declared sizes can lie). Ours hold one CSV per dataset (about 12), a
# manifest of a few KB, and CSVs that deflate 3-20 times.
PACK_MAX_MEMBERS = 1_000
PACK_MAX_MEMBER_BYTES = 64 << 30           # 64 GiB inflated: far above 10 M records (~1.5 GB)
PACK_MAX_TOTAL_BYTES = 128 << 30
PACK_MAX_RATIO = 200                       # inflated / compressed, past the first MiB
_READ_CHUNK = 1 << 20


class PackRefused(ExportError):
    """A pack that cannot be read safely or is not an audit pack: exit 2, not a mismatch."""


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, what: str):
    """Yield the member's inflated bytes in chunks, refusing it the moment it exceeds
    ``limit`` bytes or inflates more than ``PACK_MAX_RATIO`` times its compressed size."""
    seen = 0
    ratio_cap = max(PACK_MAX_RATIO * max(info.compress_size, 1), _READ_CHUNK)
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_READ_CHUNK):
                seen += len(chunk)
                if seen > limit:
                    raise PackRefused(f"{what} is larger than {_size(limit)} once inflated: "
                                      "refused unread (not an audit pack of this app)")
                if seen > ratio_cap:
                    raise PackRefused(f"{what} inflates more than {PACK_MAX_RATIO} times its "
                                      "compressed size (a ZIP bomb): refused unread")
                yield chunk
    except (zipfile.BadZipFile, zlib_error, EOFError, OSError, NotImplementedError) as exc:
        raise PackRefused(f"{what} cannot be read: the ZIP is damaged ({exc})") from None


def _size(n: int) -> str:
    return f"{n / (1 << 30):.0f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def _csv_records(chunks) -> tuple[str, int, int]:
    """SHA-256, bytes and data rows of a CSV read as chunks: records end at a line break
    outside quotes (RFC 4180), counted without holding a line, however long."""
    digest, size, breaks, quoted = hashlib.sha256(), 0, 0, False
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if not quoted and b'"' not in chunk:
            breaks += chunk.count(b"\n")
            continue
        for i, part in enumerate(chunk.split(b'"')):
            if i:
                quoted = not quoted
            if not quoted:
                breaks += part.count(b"\n")
    return digest.hexdigest(), size, max(breaks - 1, 0)


def _manifest_files(manifest: Any) -> list[dict]:
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise PackRefused("manifest.json is not an audit pack's manifest (no "
                          f"\"format\": \"{PACK_FORMAT}\")")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise PackRefused("manifest.json has no list of files")
    for i, f in enumerate(files, 1):
        if not (isinstance(f, dict) and isinstance(f.get("name"), str)
                and isinstance(f.get("sha256"), str) and isinstance(f.get("rows"), int)
                and not isinstance(f.get("rows"), bool)):
            raise PackRefused(f"manifest.json: file entry {i} needs a name, a sha256 and a "
                              "whole number of rows")
    return files


def _manifest_documents(manifest: dict, key: str = "documents") -> list[dict]:
    """The manifest's incident documents (``key`` "documents") or evidence files
    ("evidence", with "evidence_manifest", the CSV listing them): checked by SHA-256 and
    size; no rows."""
    documents = manifest.get(key, [])
    if key == "evidence" and manifest.get("evidence_manifest") is not None:
        documents = [*documents, manifest["evidence_manifest"]] \
            if isinstance(documents, list) else documents
    if not isinstance(documents, list):
        raise PackRefused(f"manifest.json: \"{key}\" is not a list")
    for i, d in enumerate(documents, 1):
        if not (isinstance(d, dict) and isinstance(d.get("name"), str)
                and isinstance(d.get("sha256"), str) and isinstance(d.get("bytes"), int)
                and not isinstance(d.get("bytes"), bool)):
            raise PackRefused(f"manifest.json: {key} entry {i} needs a name, a sha256 and "
                              "a whole number of bytes")
    return documents


def check_pack(path: str | os.PathLike) -> PackCheck:
    """Check each file of an audit pack against its manifest (SHA-256 and rows), reading
    every member as a stream under the ``PACK_MAX_*`` limits. Needs no store.

    Raises ``PackRefused`` (exit 2) for what is not a readable audit pack (not a ZIP, no or
    malformed manifest, too many members, a member too large or a ZIP bomb, damaged data);
    returns ``ok=False`` (exit 1) only for a real mismatch with the manifest.
    """
    name = Path(path).name
    lines: list[str] = []
    ok = True
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise PackRefused(f"{name}: no such file") from None
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise PackRefused(f"{name} is not a readable ZIP file ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > PACK_MAX_MEMBERS:
            raise PackRefused(f"{name} holds {len(infos):,} members (an audit pack holds one "
                              f"CSV per dataset; the limit is {PACK_MAX_MEMBERS:,})")
        by_name = {i.filename: i for i in infos}
        if len(by_name) != len(infos):
            raise PackRefused(f"{name} holds two members with the same name")
        info = by_name.get("manifest.json")
        if info is None:
            raise PackRefused(f"{name} has no manifest.json: not an audit pack")
        raw = b"".join(_read_capped(zf, info, MAX_MANIFEST_BYTES, "manifest.json"))
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PackRefused(f"manifest.json is not valid JSON ({exc})") from None
        files = _manifest_files(manifest)
        total = 0
        for f in files:
            member = by_name.get(f["name"])
            if member is None:
                ok = False
                lines.append(f"MISSING  {f['name']}")
                continue
            budget = min(PACK_MAX_MEMBER_BYTES, PACK_MAX_TOTAL_BYTES - total)
            digest, size, rows = _csv_records(_read_capped(zf, member, budget, f["name"]))
            total += size
            good = digest == f["sha256"] and rows == f["rows"]
            ok &= good
            lines.append(f"{'OK      ' if good else 'MISMATCH'} {f['name']}: {rows} rows, "
                         f"sha256 {digest}"
                         + ("" if good else f" (manifest: {f['rows']} rows, "
                                            f"sha256 {f['sha256']})"))
        documents = [*_manifest_documents(manifest),
                     *_manifest_documents(manifest, "evidence")]
        for d in documents:
            member = by_name.get(d["name"])
            if member is None:
                ok = False
                lines.append(f"MISSING  {d['name']}")
                continue
            budget = min(PACK_MAX_MEMBER_BYTES, PACK_MAX_TOTAL_BYTES - total)
            digest, size = hashlib.sha256(), 0
            for chunk in _read_capped(zf, member, budget, d["name"]):
                digest.update(chunk)
                size += len(chunk)
            total += size
            good = digest.hexdigest() == d["sha256"] and size == d["bytes"]
            ok &= good
            lines.append(f"{'OK      ' if good else 'MISMATCH'} {d['name']}: {size} bytes, "
                         f"sha256 {digest.hexdigest()}"
                         + ("" if good else f" (manifest: {d['bytes']} bytes, "
                                            f"sha256 {d['sha256']})"))
        extra = (set(by_name) - {f["name"] for f in files} - {d["name"] for d in documents}
                 - {"manifest.json", "SHA256SUMS"})
        for member in sorted(extra):
            ok = False
            lines.append(f"UNLISTED {member}")
    return PackCheck(ok, lines, manifest)


# -- the audit log's views -----------------------------------------------------------------

AUDIT_PAGE_SIZES = (25, 50, 100, 200)


def audit_entries(store, *, filters: dict | None = None, page: int = 1,
                  page_size: int = 50) -> dict:
    """One page of the audit log, newest first, filtered and paginated in SQL.

    Returns ``{"total", "page", "pages", "page_size", "rows"}`` (rows: a DataFrame).
    """
    ds = DATASETS["audit_log"]
    clean = normalize_filters("audit_log", filters)
    page_size = page_size if page_size in AUDIT_PAGE_SIZES else 50
    where, params = _where(ds, clean)
    with store.cursor() as cur:
        total = int(cur.execute(f"SELECT count(*) FROM audit_log{where}",
                                params or None).fetchone()[0])
        pages = max(1, -(-total // page_size))
        page = min(max(1, int(page)), pages)
        rows = cur.execute(
            "SELECT seq, logged_at, actor, role, action, entity_type, entity_id, "
            f"values_before, values_after, hash FROM audit_log{where} "
            "ORDER BY seq DESC LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size]).df()
    return {"total": total, "page": page, "pages": pages, "page_size": page_size,
            "rows": rows}


def audit_facets(store) -> dict:
    """The values the audit-log filters offer: actors, actions, entity types, dates."""
    with store.cursor() as cur:
        def distinct(col: str) -> list[str]:
            return [r[0] for r in cur.execute(
                f"SELECT DISTINCT {col} FROM audit_log WHERE {col} IS NOT NULL "
                f"ORDER BY {col}").fetchall()]
        first, last = cur.execute(
            "SELECT min(logged_at)::DATE, max(logged_at)::DATE FROM audit_log").fetchone()
        return {"actors": distinct("actor"), "actions": distinct("action"),
                "entity_types": distinct("entity_type"), "first": first, "last": last}


def chain_status(store, tables: bool = False, locale: str | None = None) -> dict:
    """The audit chain walked end to end (``audit.verify``: signatures, the head record
    outside the store; with ``tables``, every table's digest too) and its head. The
    problems are worded in ``locale`` (the page passes its own, so that a cached result
    is one language's)."""
    from .i18n import get_locale, using
    with using(locale or get_locale()):
        result = audit.verify(store, tables=tables)
    with store.cursor() as cur:
        head_seq, head_hash, head_at = chain_head(cur)
    return {"ok": result.ok, "entries": result.entries, "broken_seq": result.broken_seq,
            "reason": result.reason, "problems": list(result.problems),
            "head_seq": head_seq, "head_hash": head_hash, "head_at": head_at,
            "tables_checked": result.tables_checked}


def verify_anchor(store, seq: int, expected_hash: str) -> str | None:
    """None when entry ``seq`` still carries ``expected_hash`` (e.g. a pack's chain
    head); otherwise why not. Detects a chain truncated or rewritten since then."""
    row = store.rows("SELECT hash FROM audit_log WHERE seq = ?", [seq])
    if not row:
        return f"entry {seq} (the anchor) is no longer in the audit log: the chain was cut"
    if row[0][0] != expected_hash:
        return (f"entry {seq} no longer has the anchored hash {expected_hash[:12]}...: "
                f"the chain was rewritten up to it")
    return None


# -- command line -------------------------------------------------------------------------

def _filter_specs() -> dict[str, FilterSpec]:
    """Every filter flag any dataset takes (one argparse option each)."""
    specs: dict[str, FilterSpec] = {}
    for ds in DATASETS.values():
        for f in ds.filters:
            specs.setdefault(f.key, f)
    return specs


def _filters_from_args(dataset: str, args) -> dict:
    ds = get_dataset(dataset)
    own = {f.key for f in ds.filters}
    given: dict[str, Any] = {}
    for key in _filter_specs():
        value = getattr(args, f"f_{key}", None)
        if value is None:
            continue
        if key not in own:
            takes = ", ".join(f.flag for f in ds.filters) or "no filters"
            raise ExportError(f"{dataset} does not take --{key.replace('_', '-')}; "
                              f"it takes: {takes}")
        given[key] = value
    return given


def cmd_export(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_OK, open_store
    dataset = get_dataset(args.table).name
    filters = _filters_from_args(dataset, args)
    normalize_filters(dataset, filters)       # bad input: exit 2 before opening anything
    with open_store(args) as store:
        result = export_file(store, cli_actor(), dataset, args.out, filters)
        with store.cursor() as cur:
            head = head_dict(cur)
    out.write(f"wrote {result.rows} rows of {dataset} to {args.out} "
              f"(sha256 {result.sha256}; audit entry {result.audit_seq})\n")
    out.write(f"audit chain head: entry {head['head_seq']}, hash {head['head_hash']}, at "
              f"{head['head_at']} (keep it: audit verify --anchor "
              f"{head['head_seq']}:{head['head_hash']})\n")
    return EXIT_OK


def read_anchor(text: str) -> tuple[int, str]:
    """An anchor from ``SEQ:HASH``, or a pack's ZIP or ``manifest.json`` (its
    ``audit_chain`` head)."""
    m = re.fullmatch(r"(\d+):([0-9a-f]{64})", text.strip())
    if m:
        return int(m.group(1)), m.group(2)
    path = Path(text)
    if not path.is_file():
        raise ExportError("--anchor must be SEQ:HASH (64 hex digits) or a pack's "
                          "manifest.json or ZIP holding the chain's head")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                info = zf.getinfo("manifest.json")
                if info.file_size > MAX_MANIFEST_BYTES:
                    raise ValueError("its manifest.json is too large")
                data = json.loads(zf.read(info).decode("utf-8"))
        else:
            if path.stat().st_size > MAX_MANIFEST_BYTES:
                raise ValueError("the file is too large for a manifest")
            data = json.loads(path.read_text(encoding="utf-8"))
        head = data["audit_chain"]
        seq, digest = int(head["head_seq"]), str(head["head_hash"])
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or seq < 0:
            raise ValueError("its audit_chain head is malformed")
    except (KeyError, TypeError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ExportError(f"--anchor {path.name}: not a manifest with an audit_chain head "
                          f"({exc})") from None
    return seq, digest


def cmd_audit_verify(args, out, err) -> int:
    from .cli import EXIT_FINDINGS, EXIT_OK, open_store
    anchor = read_anchor(args.anchor) if args.anchor else None
    with open_store(args, read_only=True) as store:
        result = audit.verify(store, tables=not args.chain_only)
        problems = list(result.problems)
        if anchor and result.broken_seq is None:
            problem = verify_anchor(store, *anchor)
            if problem:
                problems.append(problem)
    head = result.head
    head_text = (f"head: entry {head['seq']}, hash {head['hash']}, at {head['at']}"
                 if head else "head: none")
    if problems:
        where = f" at entry {result.broken_seq}" if result.broken_seq else ""
        out.write(f"audit chain BROKEN{where}: {problems[0]}\n")
        for more in problems[1:]:
            out.write(f"  also: {more}\n")
        out.write(f"({result.entries} entries checked; {head_text})\n")
        return EXIT_FINDINGS
    for warning in result.warnings:
        out.write(f"warning: {warning}\n")
    out.write(f"audit chain intact: {result.entries} entries checked, every signature valid"
              + (f", {result.tables_checked} tables match their last audited state"
                 if not args.chain_only else "")
              + (f", anchor entry {anchor[0]} matches" if anchor else "") + "\n")
    out.write(head_text + "\n")
    return EXIT_OK


def cmd_audit_seal(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_OK, UsageError, open_store
    reason = (args.reason or "").strip()
    if len(reason) < 10:
        raise UsageError("--reason is required (10 characters or more): say why the tables' "
                         "present state is accepted, e.g. 'restored from the 2026-12-01 backup'")
    with open_store(args) as store:
        seq = store.seal(cli_actor(), reason)
    out.write(f"sealed: entry {seq} vouches for every table as it stands now\n")
    return EXIT_OK


def cmd_audit_rotate_key(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_OK, open_store
    with open_store(args) as store:
        key_id = store.rotate_key(cli_actor(), lost=args.key_lost)
    out.write(f"audit key {key_id} is now current; older keys stay in the key file to verify "
              "older entries. Back the key file up now (docs/EVIDENCE.md).\n")
    return EXIT_OK


def cmd_audit_pack(args, out, err) -> int:
    from .access import cli_actor
    from .cli import EXIT_OK, open_store
    names = [n.strip() for part in (args.include or []) for n in part.split(",") if n.strip()]
    names = names or list(DATASETS)
    for n in names:
        get_dataset(n)
    selections = []
    for n in names:
        ds = DATASETS[n]
        f: dict[str, Any] = {}
        if ds.date_filter is not None:
            f.update({"from": args.date_from, "to": args.date_to})
        if n == "findings":
            f["as_of"] = args.as_of
        selections.append((n, f))
    for n, f in selections:
        normalize_filters(n, f)
    with open_store(args) as store:
        result = build_pack(store, cli_actor(), selections, args.out)
    for f in result.manifest["files"]:
        out.write(f"{f['name']}: {f['rows']} rows, sha256 {f['sha256']}\n")
    out.write(f"wrote audit pack {args.out} (sha256 {result.sha256}; audit entry "
              f"{result.audit_seq}; chain head {result.manifest['audit_chain']['head_seq']})\n")
    return EXIT_OK


def cmd_audit_check_pack(args, out, err) -> int:
    from .cli import EXIT_FINDINGS, EXIT_OK
    check = check_pack(args.pack)
    for line in check.lines:
        out.write(line + "\n")
    out.write(("pack intact" if check.ok else "pack does NOT match its manifest") + "\n")
    head = check.manifest.get("audit_chain") if isinstance(check.manifest, dict) else None
    if isinstance(head, dict) and "head_seq" in head:
        out.write(f"audit chain head recorded in the pack: entry {head.get('head_seq')}, hash "
                  f"{head.get('head_hash')}, at {head.get('head_at') or '-'}; prove the store "
                  f"still holds it: python -m dashboard audit verify --anchor PACK.zip\n")
    return EXIT_OK if check.ok else EXIT_FINDINGS


def register_cli(sub) -> None:
    p = sub.add_parser(
        "export", help="write a dataset as contract CSV (the same file as the Exports page)",
        description="Write TABLE as CSV (UTF-8 with BOM, RFC 4180). Each export is logged "
                    "in the audit log. Filters: " + "; ".join(
                        f"{ds.name}: {', '.join(f.flag for f in ds.filters) or 'none'}"
                        for ds in DATASETS.values()))
    p.add_argument("table", metavar="TABLE", help="one of: " + ", ".join(DATASETS))
    p.add_argument("--out", required=True, metavar="FILE", help="the CSV file to write")
    for key, spec in _filter_specs().items():
        if spec.kind in ("from", "to", "as_of"):
            p.add_argument(spec.flag, dest=f"f_{key}", metavar="YYYY-MM-DD",
                           help=spec.help or spec.label)
        else:
            p.add_argument(spec.flag, dest=f"f_{key}", action="append", metavar="VALUE",
                           help=(spec.help or spec.label) + " (repeat or comma-separate)")
    p.set_defaults(handler=cmd_export)

    a = sub.add_parser("audit", help="the audit log: verify the chain, build or check packs")
    asub = a.add_subparsers(dest="audit_command", required=True, parser_class=type(a))
    v = asub.add_parser("verify", help="walk the hash chain; exit 1 naming the first broken "
                                       "entry, 0 when intact")
    v.add_argument("--anchor", metavar="SEQ:HASH|MANIFEST",
                   help="also require entry SEQ to still carry HASH: SEQ:HASH, or a copy of "
                        "an audit pack (ZIP) or its manifest.json kept outside the host")
    v.add_argument("--chain-only", dest="chain_only", action="store_true",
                   help="check the chain and signatures only, not the tables' digests")
    v.set_defaults(handler=cmd_audit_verify)
    se = asub.add_parser("seal", help="record that every table's present state is accepted "
                                      "(after a restore from backup); needs the audit key")
    se.add_argument("--reason", required=True, help="why (kept in the audit log)")
    se.set_defaults(handler=cmd_audit_seal)
    rk = asub.add_parser("rotate-key", help="make a new audit key current (older keys stay "
                                            "to verify older entries)")
    rk.add_argument("--key-lost", dest="key_lost", action="store_true",
                    help="the key file is lost: start a new one; entries signed before can "
                         "no longer be checked (recorded in the log)")
    rk.set_defaults(handler=cmd_audit_rotate_key)
    k = asub.add_parser("pack", help="write an audit pack (ZIP of CSVs + manifest.json)")
    k.add_argument("--out", required=True, metavar="FILE.zip")
    k.add_argument("--include", action="append", metavar="TABLE[,TABLE]",
                   help="datasets to include (default: all)")
    k.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD",
                   help="date range start, applied to each dataset's date column")
    k.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    k.add_argument("--as-of", dest="as_of", metavar="YYYY-MM-DD",
                   help="the findings' as-of date (default today)")
    k.set_defaults(handler=cmd_audit_pack)
    c = asub.add_parser("check-pack", help="check a pack's files against its manifest")
    c.add_argument("pack", metavar="PACK.zip")
    c.set_defaults(handler=cmd_audit_check_pack)

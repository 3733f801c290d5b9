"""Read queries behind the pages: each ``fn(store, **kwargs)`` returns a DataFrame or a small dict.

Pages call them through ``ui.cached(fn, **kwargs)``, so keyword arguments are
JSON-able (dates as ISO strings, filters as a dict of lists/strings). Every query
aggregates in DuckDB and every table read is a bounded page: nothing here loads a
whole register (``retention_records`` has 10,000,000 rows at the large scale).

Register filters are declared once (``PROCESSOR_FILTERS`` ...): the pages build their
widgets from the declarations and the queries build their ``WHERE`` from the same
declarations, so a filter cannot apply to a table and not to its KPIs or charts.
All values are bound as parameters; identifiers come from this module only.

Derived statuses, as of a date (the pages pass today in Asia/Shanghai, ``store.now()``),
with "soon" = ``settings.due_soon_days``:

- a processor's agreement is ``expired`` (``agreement_expires_on`` before as-of, as
  PROC-AGREEMENT-EXPIRED), ``expiring`` (on as-of or within the horizon), ``valid``
  (later), or ``none`` (no expiry date recorded);
- a retention record (``retention_due`` view, migration 0002) is ``deleted``
  (``deleted_on`` on or before as-of, as the RET-* rules read it), else ``on_hold``
  (a ``hold_reason``), else ``overdue`` (``due_on`` before as-of, as RET-OVERDUE), else
  ``due`` (due on as-of or within the horizon), else ``active`` (due later, or no due
  date while the service lasts).
"""
from __future__ import annotations

import datetime as dt
import importlib
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from . import registers as R
from .i18n import N_, _, is_chinese
from .i18n import label as enum_label
from .reference import category_label, load_catalog

NOT_RECORDED = "not_recorded"   # shown for a null enum/region, so it can be filtered and counted

# -- filter declarations --------------------------------------------------------------
CHOICE = "choice"          # one of several values of a scalar column
CONTAINS_ANY = "contains"  # a list column holding any of the chosen values
TEXT = "text"              # free-text search (case-insensitive substring, or exact ids)
DATES = "dates"            # a date column within [from, to] (either end optional)


@dataclass(frozen=True)
class Filter:
    key: str                      # the keyword in ``filters`` and the URL query parameter
    label: str                    # the widget's label
    kind: str
    expr: str = ""                # the column (of the query's base relation) it tests
    options: tuple[str, ...] = ()  # fixed choices; empty: the page asks ``*_options``
    family: str = ""              # label family of the choices (see ``label``)
    contains: tuple[str, ...] = ()  # TEXT: columns searched by substring
    exact: tuple[str, ...] = ()     # TEXT: columns matched exactly (ids)
    help: str = ""

    @property
    def label_family(self) -> str:
        return self.family or self.key


CATEGORY_CODES = tuple(load_catalog().categories)

AGREEMENT_STATES = ("valid", "expiring", "expired", "none")
RETENTION_STATES = ("active", "due", "overdue", "on_hold", "deleted")
REVIEW_STATES = ("passed", "ahead", "none")

PROCESSOR_FILTERS: tuple[Filter, ...] = (
    Filter("q", N_("Search"), TEXT, contains=("processor_id", "name", "service", "owner"),
           help=N_("Part of a processor ID, name, service or owner.")),
    Filter("status", N_("Status"), CHOICE, "status", R.PROCESSOR_STATUSES, "processor_status"),
    Filter("agreement", N_("Agreement"), CHOICE, "agreement", AGREEMENT_STATES,
           help=N_("Valid; expiring within the due-soon horizon (a setting); expired before "
                "today; or no expiry date recorded.")),
    Filter("kind", N_("Kind"), CHOICE, "kind", R.PROCESSOR_KINDS),
    Filter("purpose", N_("Purpose"), CHOICE, "purpose_code", R.PURPOSES + (NOT_RECORDED,)),
    Filter("region", N_("Storage region"), CHOICE, "region", family="region",
           help=N_("ISO 3166-1 alpha-2; CN is Chinese Mainland (policy 6.1).")),
    Filter("category", N_("Data category"), CONTAINS_ANY, "data_categories", CATEGORY_CODES,
           "category", help=N_("Processors receiving any of these categories.")),
    Filter("expires", N_("Agreement expires between"), DATES, "agreement_expires_on"),
)

SHARING_FILTERS: tuple[Filter, ...] = (
    Filter("q", N_("Search"), TEXT,
           contains=("agreement_id", "counterparty", "processor_id", "purpose"),
           help=N_("Part of an agreement ID, counterparty, processor ID or purpose.")),
    Filter("status", N_("Status"), CHOICE, "status", R.SHARING_STATUSES, "sharing_status"),
    Filter("kind", N_("Kind"), CHOICE, "kind", R.SHARING_KINDS, "sharing_kind",
           help=N_("Share (policy 5.1), transfer (5.2) or disclosure (5.3).")),
    Filter("basis", N_("Legal basis"), CHOICE, "legal_basis", R.LEGAL_BASES, "legal_basis"),
    Filter("consent", N_("Consent"), CHOICE, "consent_code", R.CONSENT_TYPES + (NOT_RECORDED,),
           "consent"),
    Filter("region", N_("Recipient region"), CHOICE, "region", family="region",
           help=N_("ISO 3166-1 alpha-2; CN is Chinese Mainland.")),
    Filter("category", N_("Data category"), CONTAINS_ANY, "data_categories", CATEGORY_CODES,
           "category", help=N_("Agreements covering any of these categories.")),
    Filter("effective", N_("Effective from between"), DATES, "effective_from"),
)

RETENTION_FILTERS: tuple[Filter, ...] = (
    Filter("q", N_("Record ID or subject"), TEXT, contains=("subject_ref",),
           exact=("CAST(record_id AS VARCHAR)",),
           help=N_("An exact record ID, or part of a pseudonymous subject reference.")),
    Filter("status", N_("Status"), CHOICE, "status", RETENTION_STATES, "retention_status",
           help=N_("Deleted; on hold (a 6.2 exception); overdue (due date passed); due within "
                "the due-soon horizon; active (due later or still in service).")),
    Filter("category", N_("Data category"), CHOICE, "category", CATEGORY_CODES, "category"),
    Filter("system", N_("System"), CHOICE, "system", family="system"),
    Filter("region", N_("Storage region"), CHOICE, "storage_region", family="region"),
    Filter("hold", N_("Hold reason"), CHOICE, "hold_reason", R.HOLD_REASONS, "hold_reason"),
    Filter("collected", N_("Collected between"), DATES, "collected_on"),
    Filter("due", N_("Due for deletion between"), DATES, "due_on"),
)

FILTERS: dict[str, tuple[Filter, ...]] = {
    "processors": PROCESSOR_FILTERS,
    "sharing": SHARING_FILTERS,
    "retention": RETENTION_FILTERS,
}


def where_clause(specs: Sequence[Filter], values: Mapping[str, Any] | None
                 ) -> tuple[str, dict[str, Any]]:
    """``(sql, params)`` for the filters in ``values``: ``"TRUE"`` when none is set.

    ``values`` maps a filter key to a list of choices, a search string, or a
    ``[from, to]`` pair of ISO dates (either may be null). Unknown keys are an error.
    """
    values = dict(values or {})
    by_key = {f.key: f for f in specs}
    unknown = set(values) - set(by_key)
    if unknown:
        raise ValueError(f"unknown filter(s) {sorted(unknown)}; expected: {sorted(by_key)}")
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, f in enumerate(specs):
        value = values.get(f.key)
        if value in (None, "", [], ()):
            continue
        p = f"f{i}"
        if f.kind == CHOICE:
            params[p] = [str(v) for v in value]
            parts.append(f"list_contains(${p}::VARCHAR[], {f.expr})")
        elif f.kind == CONTAINS_ANY:
            params[p] = [str(v) for v in value]
            parts.append(f"list_has_any({f.expr}, ${p}::VARCHAR[])")
        elif f.kind == TEXT:
            term = str(value).strip()
            if not term:
                continue
            params[p] = term.lower()
            tests = [f"contains(lower({c}), ${p})" for c in f.contains]
            if f.exact:
                params[p + "x"] = term
                tests += [f"{c} = ${p}x" for c in f.exact]
            parts.append("(" + " OR ".join(tests) + ")")
        elif f.kind == DATES:
            lo, hi = (list(value) + [None, None])[:2]
            if lo:
                params[p + "a"] = _date(lo)
                parts.append(f"{f.expr} >= ${p}a")
            if hi:
                params[p + "b"] = _date(hi)
                parts.append(f"{f.expr} <= ${p}b")
        else:  # pragma: no cover - declarations above are fixed
            raise ValueError(f"filter {f.key}: unknown kind {f.kind}")
    return (" AND ".join(parts) or "TRUE"), params


def active_filters(values: Mapping[str, Any] | None) -> int:
    """How many filters are set (for "n filters active")."""
    count = 0
    for v in (values or {}).values():
        if isinstance(v, (list, tuple)):
            count += any(x for x in v)
        elif v:
            count += 1
    return count


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


# -- labels ----------------------------------------------------------------------------
_LABELS: dict[str, dict[str, str]] = {
    "agreement": {"valid": N_("Valid"), "expiring": N_("Expiring soon"), "expired": N_("Expired"),
                  "none": N_("No expiry date")},
    "retention_status": {"active": N_("Active"), "due": N_("Due soon"), "overdue": N_("Overdue"),
                         "on_hold": N_("On hold"), "deleted": N_("Deleted")},
    "review_state": {"passed": N_("Review date passed"), "ahead": N_("Review ahead"),
                     "none": N_("No review date")},
    "consent": {"none": N_("No consent")},
    "legal_basis": {"explicit_consent": N_("Explicit consent"),
                    "legal_requirement": N_("Legal requirement"),
                    "dispute_resolution": N_("Dispute resolution"),
                    "entrusted_processing": N_("Entrusted processing"),
                    "affiliate_service": N_("Affiliate service"),
                    "merger_acquisition": N_("Merger or acquisition")},
}
_RAW_FAMILIES = {"region", "system"}   # shown as stored (CN, HK, crm ...)


# The families whose words are the app-wide enum labels (``dashboard.i18n.LABELS``).
_ENUM_KINDS = {
    "processor_status": "processor_status", "kind": "processor_kind", "purpose": "purpose",
    "agreement_term": "agreement_term", "sharing_kind": "sharing_kind",
    "legal_basis": "legal_basis", "sharing_status": "sharing_status",
    "consent": "consent_type", "hold_reason": "hold_reason",
}


def label(family: str, code: Any) -> str:
    """The label of a code in this run's locale: ``label("kind", "service_provider")`` →
    "Service provider" (服务提供者 in Chinese)."""
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return _("Not recorded")
    code = str(code)
    if code == NOT_RECORDED:
        return _("Not recorded")
    if family == "category":
        return category_label(code)
    if family in _LABELS and code in _LABELS[family]:
        return _(_LABELS[family][code])
    if family in _ENUM_KINDS and is_chinese():
        # English keeps the register pages' own words (URLs bind them: ?consent=Bundled)
        words = enum_label(_ENUM_KINDS[family], code)
        if words != code:
            return words
    if family in _RAW_FAMILIES:
        return code
    return code.replace("_", " ").capitalize()


def labelled(df: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """A copy of a (bounded) page of rows with codes replaced by labels, lists included."""
    out = df.copy()
    for col, family in families.items():
        if col not in out.columns:
            continue
        out[col] = [
            [label(family, x) for x in v] if _is_list(v)
            else (None if _is_null(v) else label(family, v))
            for v in out[col]
        ]
    return out


def _is_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) or (hasattr(v, "tolist") and not isinstance(v, str)
                                             and getattr(v, "ndim", 0) == 1)


def _is_null(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def pick(df: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """The rows of one dimension of a ``*_breakdown`` frame (a selection, not an aggregate)."""
    return df[df["dimension"] == dimension].drop(columns="dimension").reset_index(drop=True)


def page_count(total: int, size: int) -> int:
    return max(1, math.ceil(int(total) / size))


# -- shared helpers --------------------------------------------------------------------
def _as_of(as_of: Any) -> dt.date:
    return _date(as_of)


def _horizon(store, as_of: dt.date) -> dict[str, dt.date]:
    from .engine import due_horizon_date      # the one "within N days" boundary
    return {"as_of": as_of,
            "soon_until": due_horizon_date(as_of, int(store.settings.due_soon_days))}


def _frame(store, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    return store.df(sql, params)


def _breakdown(store, base: str, params: dict[str, Any], where: str,
               dims: Sequence[str], stack: str, count_name: str) -> pd.DataFrame:
    """Counts per (dimension value, stack value) for several dimensions in one scan.

    Returns ``dimension, value, <stack>, <count_name>``, each dimension's values ordered
    by their total, largest first. ``dims`` are columns of ``base`` with no nulls.
    """
    sets = ", ".join(f"({d}, {stack})" if d != stack else f"({stack})" for d in dims)
    which = " ".join(f"WHEN grouping({d}) = 0 THEN '{d}'" for d in dims if d != stack)
    case = f"CASE {which} ELSE '{stack}' END" if which else f"'{stack}'"
    value = "coalesce(" + ", ".join([d for d in dims if d != stack] + [stack]) + ")"
    sql = f"""
        WITH base AS ({base}),
        grouped AS (
            SELECT {case} AS dimension, {value} AS value, {stack},
                   count(*) AS {count_name}
            FROM base WHERE {where}
            GROUP BY GROUPING SETS ({sets})
        )
        SELECT dimension, value, {stack}, {count_name}
        FROM grouped
        ORDER BY dimension, sum({count_name}) OVER (PARTITION BY dimension, value) DESC,
                 value, {count_name} DESC
    """
    df = _frame(store, sql, params)
    df[count_name] = df[count_name].astype("int64")
    return df


def _rows(store, base: str, params: dict[str, Any], where: str, columns: Sequence[str],
          order: str, limit: int, offset: int) -> pd.DataFrame:
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    sql = (f"WITH base AS ({base}) SELECT {', '.join(columns)} FROM base WHERE {where} "
           f"ORDER BY {order} LIMIT $limit OFFSET $offset")
    return _frame(store, sql, {**params, "limit": limit, "offset": offset})


def _sort(sorts: Mapping[str, tuple[str, str]], sort: str) -> str:
    if sort not in sorts:
        raise ValueError(f"unknown sort {sort!r}; expected one of {sorted(sorts)}")
    return sorts[sort][1]


def _regions(store, sql: str) -> list[str]:
    return [r[0] for r in store.rows(sql)]


_REGION_ORDER = "ORDER BY region = 'not_recorded', region <> 'CN', region"


# -- processors ------------------------------------------------------------------------
PROCESSORS_BASE = """
    SELECT p.*,
           coalesce(nullif(upper(trim(p.storage_region)), ''), 'not_recorded') AS region,
           coalesce(p.purpose, 'not_recorded') AS purpose_code,
           CASE WHEN p.agreement_expires_on IS NULL THEN 'none'
                WHEN p.agreement_expires_on < $as_of THEN 'expired'
                WHEN p.agreement_expires_on <= $soon_until THEN 'expiring'
                ELSE 'valid' END AS agreement
    FROM processors p
"""

PROCESSOR_SORTS: dict[str, tuple[str, str]] = {
    "id": (N_("Processor ID"), "processor_id"),
    "name": (N_("Name"), "name, processor_id"),
    "expires": (N_("Agreement expires (soonest first)"),
                "agreement_expires_on NULLS LAST, processor_id"),
    "assessed": (N_("Last assessed (oldest first)"), "last_assessed_on NULLS FIRST, processor_id"),
}

PROCESSOR_COLUMNS = (
    "processor_id", "name", "kind", "status", "agreement", "agreement_expires_on", "service",
    "purpose", "data_categories", "storage_region", "engaged_on", "confidentiality_signed_on",
    "nda_signed_on", "agreement_terms", "pia_done_on", "last_assessed_on", "offboarded_on",
    "data_returned_on", "owner",
)


def processor_options(store) -> dict[str, list[str]]:
    """Choices that come from the data: storage regions present (CN first)."""
    return {"region": _regions(store, "SELECT DISTINCT coalesce(nullif(upper(trim("
                                      "storage_region)), ''), 'not_recorded') AS region "
                                      f"FROM processors {_REGION_ORDER}")}


def processor_kpis(store, *, as_of: Any, filters: Mapping[str, Any] | None = None
                   ) -> dict[str, int]:
    """Counts for the KPI row, over the filtered processors."""
    where, params = where_clause(PROCESSOR_FILTERS, filters)
    sql = f"""
        WITH base AS ({PROCESSORS_BASE})
        SELECT count(*) AS processors,
               count(*) FILTER (WHERE status = 'active') AS active,
               count(*) FILTER (WHERE status = 'active' AND agreement = 'expired') AS expired,
               count(*) FILTER (WHERE status = 'active' AND agreement = 'expiring') AS expiring,
               count(*) FILTER (WHERE status = 'active' AND agreement = 'none') AS no_agreement,
               count(*) FILTER (WHERE status = 'active' AND region <> 'CN') AS outside_cn
        FROM base WHERE {where}
    """
    return _one_row(store, sql, {**_horizon(store, _as_of(as_of)), **params})


def processor_breakdown(store, *, as_of: Any, filters: Mapping[str, Any] | None = None
                        ) -> pd.DataFrame:
    """Processors per storage region, kind and agreement state, each split by status.

    Columns ``dimension`` (region | kind | agreement), ``value``, ``status``, ``processors``.
    """
    where, params = where_clause(PROCESSOR_FILTERS, filters)
    return _breakdown(store, PROCESSORS_BASE, {**_horizon(store, _as_of(as_of)), **params},
                      where, ("region", "kind", "agreement"), "status", "processors")


def processor_expiries(store, *, as_of: Any, filters: Mapping[str, Any] | None = None,
                       months: int = 12) -> pd.DataFrame:
    """Agreements expiring in each of the next ``months`` calendar months (from as-of's
    month, expiry on or after as-of), for filtered processors not offboarded.

    Columns ``month`` (first day), ``processors``; every month present, zeros included.
    """
    where, params = where_clause(PROCESSOR_FILTERS, filters)
    sql = f"""
        WITH base AS ({PROCESSORS_BASE}),
        months AS (
            SELECT (date_trunc('month', $as_of::DATE) + to_months(i::INTEGER))::DATE AS month
            FROM range($months) t(i)
        ),
        ahead AS (
            SELECT date_trunc('month', agreement_expires_on)::DATE AS month
            FROM base
            WHERE {where} AND status <> 'offboarded' AND agreement_expires_on >= $as_of
        )
        SELECT m.month, count(a.month) AS processors
        FROM months m LEFT JOIN ahead a ON a.month = m.month
        GROUP BY m.month ORDER BY m.month
    """
    df = _frame(store, sql, {**_horizon(store, _as_of(as_of)), **params,
                             "months": max(1, min(int(months), 60))})
    df["processors"] = df["processors"].astype("int64")
    return df


def processor_rows(store, *, as_of: Any, filters: Mapping[str, Any] | None = None,
                   sort: str = "id", limit: int = 100, offset: int = 0) -> pd.DataFrame:
    """One page of filtered processors, with the derived ``agreement`` state."""
    where, params = where_clause(PROCESSOR_FILTERS, filters)
    return _rows(store, PROCESSORS_BASE, {**_horizon(store, _as_of(as_of)), **params}, where,
                 PROCESSOR_COLUMNS, _sort(PROCESSOR_SORTS, sort), limit, offset)


# -- sharing agreements ----------------------------------------------------------------
SHARING_BASE = """
    SELECT s.*,
           coalesce(s.consent, 'not_recorded') AS consent_code,
           coalesce(nullif(upper(trim(s.recipient_region)), ''), 'not_recorded') AS region
    FROM sharing_agreements s
"""

SHARING_SORTS: dict[str, tuple[str, str]] = {
    "id": (N_("Agreement ID"), "agreement_id"),
    "counterparty": (N_("Counterparty"), "counterparty, agreement_id"),
    "effective": (N_("Effective from (latest first)"), "effective_from DESC NULLS LAST, agreement_id"),
    "expires": (N_("Expires (soonest first)"), "expires_on NULLS LAST, agreement_id"),
    "subjects": (N_("Subjects affected (most first)"),
                 "subjects_affected DESC NULLS LAST, agreement_id"),
}

SHARING_COLUMNS = (
    "agreement_id", "counterparty", "kind", "legal_basis", "status", "consent",
    "recipient_region", "data_categories", "purpose", "processor_id", "consent_evidence",
    "confidentiality_clause", "signed_on", "effective_from", "expires_on",
    "users_notified_on", "legal_reference", "subjects_affected",
)


def sharing_options(store) -> dict[str, list[str]]:
    """Choices that come from the data: recipient regions present (CN first)."""
    return {"region": _regions(store, "SELECT DISTINCT coalesce(nullif(upper(trim("
                                      "recipient_region)), ''), 'not_recorded') AS region "
                                      f"FROM sharing_agreements {_REGION_ORDER}")}


def sharing_kpis(store, *, as_of: Any, filters: Mapping[str, Any] | None = None
                 ) -> dict[str, int]:
    """Counts for the KPI row, over the filtered agreements."""
    where, params = where_clause(SHARING_FILTERS, filters)
    sql = f"""
        WITH base AS ({SHARING_BASE})
        SELECT count(*) AS agreements,
               count(*) FILTER (WHERE status = 'active') AS active,
               count(*) FILTER (WHERE status = 'active' AND region <> 'CN') AS cross_border,
               count(*) FILTER (WHERE status = 'active' AND expires_on < $as_of)
                   AS active_past_expiry,
               count(*) FILTER (WHERE status = 'active' AND legal_basis <> 'legal_requirement'
                                AND confidentiality_clause IS NOT TRUE) AS no_confidentiality,
               coalesce(sum(subjects_affected) FILTER (WHERE status = 'active'), 0)::BIGINT
                   AS subjects_active
        FROM base WHERE {where}
    """
    return _one_row(store, sql, {"as_of": _as_of(as_of), **params})


def sharing_breakdown(store, *, as_of: Any, filters: Mapping[str, Any] | None = None
                      ) -> pd.DataFrame:
    """Agreements per legal basis, kind and consent type, each split by status.

    Columns ``dimension`` (legal_basis | kind | consent_code), ``value``, ``status``,
    ``agreements``. (``as_of`` is accepted for symmetry; the split needs no date.)
    """
    where, params = where_clause(SHARING_FILTERS, filters)
    return _breakdown(store, SHARING_BASE, params, where,
                      ("legal_basis", "kind", "consent_code"), "status", "agreements")


def sharing_rows(store, *, as_of: Any, filters: Mapping[str, Any] | None = None,
                 sort: str = "id", limit: int = 100, offset: int = 0) -> pd.DataFrame:
    """One page of filtered agreements."""
    where, params = where_clause(SHARING_FILTERS, filters)
    return _rows(store, SHARING_BASE, params, where, SHARING_COLUMNS,
                 _sort(SHARING_SORTS, sort), limit, offset)


# -- retention -------------------------------------------------------------------------
RETENTION_BASE = """
    SELECT r.*,
           CASE WHEN r.deleted_on <= $as_of THEN 'deleted'
                WHEN r.hold_reason IS NOT NULL THEN 'on_hold'
                WHEN r.due_on < $as_of THEN 'overdue'
                WHEN r.due_on <= $soon_until THEN 'due'
                ELSE 'active' END AS status
    FROM retention_due r
"""

RETENTION_SORTS: dict[str, tuple[str, str]] = {
    "id": (N_("Record ID"), "record_id"),
    "due": (N_("Due date (earliest first)"), "due_on NULLS LAST, record_id"),
    "collected": (N_("Collected (oldest first)"), "collected_on, record_id"),
    "review": (N_("Hold review (earliest first)"), "hold_review_on NULLS LAST, record_id"),
}

RETENTION_COLUMNS = (
    "record_id", "subject_ref", "category", "system", "storage_region", "status", "due_on",
    "collected_on", "service_ended_on", "deleted_on", "hold_reason", "hold_reference",
    "hold_review_on",
)


def retention_options(store) -> dict[str, list[str]]:
    """Choices that come from the data: systems and storage regions present."""
    rows = store.rows("""
        SELECT 'system' AS field, system AS value FROM retention_records GROUP BY system
        UNION ALL
        SELECT 'region', storage_region FROM retention_records GROUP BY storage_region
        ORDER BY field, value <> 'CN', value
    """)
    out: dict[str, list[str]] = {"system": [], "region": []}
    for field, value in rows:
        out[field].append(value)
    return out


def retention_summary(store, *, as_of: Any, filters: Mapping[str, Any] | None = None
                      ) -> dict[str, Any]:
    """Everything the Retention page counts, over the filtered records, from one scan.

    The 10,000,000 rows are grouped once, by status, category, system, region and (for
    overdue records) due date; the page's numbers are regrouped from those few thousand
    rows, all in DuckDB:

    - ``kpis``: ``records``, one count per status (``active`` ``due`` ``overdue``
      ``on_hold`` ``deleted``), ``outside_cn`` (not deleted, storage region not CN or not
      recorded, as RET-LOCATION reads it);
    - ``breakdown``: ``dimension`` (status | category | system), ``value``, ``status``,
      ``records``, each dimension's values largest first;
    - ``overdue_trend``: ``month``, ``records``, ``cumulative`` — overdue records by the
      month of their due date, with the running total (how today's backlog built up).
    """
    where, params = where_clause(RETENTION_FILTERS, filters)
    sql = f"""
        WITH base AS ({RETENTION_BASE}),
        fine AS (
            SELECT status, category, system, storage_region,
                   CASE WHEN status = 'overdue' THEN due_on END AS overdue_due,
                   count(*) AS n
            FROM base WHERE {where}
            GROUP BY ALL
        ),
        sets AS (
            SELECT grouping(status, category, system, overdue_month) AS g,
                   status, category, system, overdue_month,
                   coalesce(sum(n), 0)::BIGINT AS records,
                   coalesce(sum(n) FILTER (WHERE status <> 'deleted' AND
                       coalesce(upper(trim(storage_region)) <> 'CN', true)), 0)::BIGINT
                       AS outside_cn
            FROM (SELECT *, date_trunc('month', overdue_due)::DATE AS overdue_month FROM fine)
            GROUP BY GROUPING SETS ((), (status), (category, status), (system, status),
                                    (overdue_month))
        ),
        named AS (
            SELECT CASE g WHEN 15 THEN 'total' WHEN 7 THEN 'status' WHEN 3 THEN 'category'
                          WHEN 5 THEN 'system' ELSE 'overdue_month' END AS dimension,
                   CASE g WHEN 3 THEN category WHEN 5 THEN system ELSE status END AS value,
                   status, overdue_month, records, outside_cn
            FROM sets
            WHERE g <> 14 OR overdue_month IS NOT NULL
        )
        SELECT dimension, value, status, overdue_month, records, outside_cn,
               sum(records) OVER (PARTITION BY dimension ORDER BY overdue_month)::BIGINT
                   AS cumulative
        FROM named
        ORDER BY dimension, sum(records) OVER (PARTITION BY dimension, value) DESC, value,
                 records DESC, overdue_month
    """
    from . import stored        # kept in the store until the records change (issue 15)
    df = stored.summary(store, sql, {**_horizon(store, _as_of(as_of)), **params})
    total = df[df["dimension"] == "total"]
    by_status = dict(zip(df.loc[df["dimension"] == "status", "status"],
                         df.loc[df["dimension"] == "status", "records"]))
    kpis = {"records": int(total["records"].iloc[0]) if len(total) else 0,
            **{s: int(by_status.get(s, 0)) for s in RETENTION_STATES},
            "outside_cn": int(total["outside_cn"].iloc[0]) if len(total) else 0}
    parts = df[df["dimension"].isin(["status", "category", "system"])]
    trend = df[df["dimension"] == "overdue_month"].sort_values("overdue_month")
    return {
        "kpis": kpis,
        "breakdown": parts[["dimension", "value", "status", "records"]]
        .reset_index(drop=True),
        "overdue_trend": trend[["overdue_month", "records", "cumulative"]]
        .rename(columns={"overdue_month": "month"}).reset_index(drop=True),
    }


def retention_holds(store, *, as_of: Any, filters: Mapping[str, Any] | None = None
                    ) -> dict[str, Any]:
    """Records on hold (not deleted, a ``hold_reason``), over the filtered records:

    - ``kpis``: ``on_hold``, ``review_passed`` (review date before as-of),
      ``no_reference`` (no ``hold_reference``) — the two failures of RET-HOLD-INVALID;
    - ``by_reason``: ``hold_reason``, ``review_state``, ``records``;
    - ``by_review_month``: ``month``, ``review_state``, ``records`` (holds with a review
      date), where ``review_state`` is ``passed``, ``ahead`` or ``none`` (no review date).
    """
    where, params = where_clause(RETENTION_FILTERS, filters)
    sql = f"""
        WITH base AS ({RETENTION_BASE}),
        holds AS (
            SELECT hold_reason,
                   date_trunc('month', hold_review_on)::DATE AS review_month,
                   CASE WHEN hold_review_on IS NULL THEN 'none'
                        WHEN hold_review_on < $as_of THEN 'passed'
                        ELSE 'ahead' END AS review_state,
                   coalesce(trim(hold_reference), '') = '' AS no_reference
            FROM base
            -- the status test spelled out on stored columns, so DuckDB filters the scan
            WHERE {where} AND status = 'on_hold'
              AND hold_reason IS NOT NULL AND (deleted_on IS NULL OR deleted_on > $as_of)
        )
        SELECT grouping(hold_reason, review_month, review_state) AS g,
               hold_reason, review_month, review_state, count(*)::BIGINT AS records,
               count(*) FILTER (WHERE no_reference)::BIGINT AS no_reference,
               count(*) FILTER (WHERE review_state = 'passed')::BIGINT AS review_passed
        FROM holds
        GROUP BY GROUPING SETS ((), (hold_reason, review_state), (review_month, review_state))
        ORDER BY g, hold_reason, review_month, review_state
    """
    df = _frame(store, sql, {**_horizon(store, _as_of(as_of)), **params})
    total = df[df["g"] == 7]
    reason = df[df["g"] == 2]
    month = df[(df["g"] == 4) & df["review_month"].notna()]
    first = total.iloc[0] if len(total) else {"records": 0, "review_passed": 0,
                                              "no_reference": 0}
    return {
        "kpis": {"on_hold": int(first["records"]), "review_passed": int(first["review_passed"]),
                 "no_reference": int(first["no_reference"])},
        "by_reason": reason[["hold_reason", "review_state", "records"]].reset_index(drop=True),
        "by_review_month": month[["review_month", "review_state", "records"]]
        .rename(columns={"review_month": "month"}).reset_index(drop=True),
    }


def retention_rows(store, *, as_of: Any, filters: Mapping[str, Any] | None = None,
                   sort: str = "id", limit: int = 100, offset: int = 0) -> pd.DataFrame:
    """One page of filtered records with their due date and status."""
    where, params = where_clause(RETENTION_FILTERS, filters)
    return _rows(store, RETENTION_BASE, {**_horizon(store, _as_of(as_of)), **params}, where,
                 RETENTION_COLUMNS, _sort(RETENTION_SORTS, sort), limit, offset)


def _one_row(store, sql: str, params: dict[str, Any]) -> dict[str, int]:
    with store.cursor() as cur:
        result = cur.execute(sql, params)
        names = [d[0] for d in result.description]
        row = result.fetchone()
    return {n: int(v or 0) for n, v in zip(names, row)}


# -- policy ----------------------------------------------------------------------------
def policy_clauses(store) -> pd.DataFrame:
    """The policy's clauses as numbered in the document (``policy_clauses``), in order.

    ``parent`` is ``""`` for the preamble and the articles (no nulls to trip on)."""
    return store.df("SELECT clause, article, coalesce(parent, '') AS parent, title, body, "
                    "ordinal FROM policy_clauses ORDER BY ordinal")


def rules_by_clause() -> dict[str, list[dict[str, str]]]:
    """The compliance rules that test each clause, from ``dashboard.engine.load_rules()``.

    Empty until the engine is installed (the import is lazy so this page works first).
    Each rule is ``{"rule_id", "clause", "severity", "title"}``.
    """
    try:
        engine = importlib.import_module("dashboard.engine")
    except ModuleNotFoundError as exc:
        if exc.name not in ("dashboard.engine",):
            raise
        return {}
    out: dict[str, list[dict[str, str]]] = {}
    for rule in engine.load_rules():
        get = (rule.get if isinstance(rule, Mapping)
               else lambda name, default="", _r=rule: getattr(_r, name, default))
        item = {k: str(get(k, "") or "") for k in ("rule_id", "clause", "severity", "title")}
        # a rule the contract names for several clauses tests each of them (SHARE-PIA: 5.1,
        # 5.2, 5.3); its findings carry the first, item["clause"]
        for clause in (item["clause"], *(get("also_clauses", ()) or ())):
            out.setdefault(str(clause), []).append(item)
    for rules in out.values():
        rules.sort(key=lambda r: r["rule_id"])
    return out


# -- settings and catalog (files, no store) --------------------------------------------
# What each confidence mark means (translate where shown: ``_(meaning)``).
CONFIDENCE = {
    "V": N_("read in the law's text or a faithful republication"),
    "V2": N_("only through a secondary source (law firm note, news)"),
    "R": N_("recalled, unverified"),
    "P": N_("a project default where the law gives no number"),
    "C": N_("fixed by the data contract"),
}


def settings_table(settings) -> pd.DataFrame:
    """Every setting with its value, default, unit, where the value came from, legal
    source and confidence (``Settings.rows()``), values shown as text."""
    rows = settings.rows()
    df = pd.DataFrame(rows, columns=["setting", "value", "default", "unit", "from", "source",
                                     "confidence", "meaning"])
    for col in ("value", "default"):
        df[col] = [_show(v) for v in df[col]]
    df["changed"] = [r["value"] != r["default"] for r in rows]
    return df


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def catalog_categories() -> pd.DataFrame:
    """The catalog's data categories with their sensitive flag and retention rule."""
    cats = load_catalog().categories.values()
    return pd.DataFrame(
        [{"code": c.code, "label": c.label, "label_zh": c.label_zh, "sensitive": c.sensitive,
          "clause": c.clause, "days_after_service_end": c.days_after_service_end,
          "max_age_days": c.max_age_days, "basis": c.basis, "note": c.note}
         for c in cats],
    ).astype({"days_after_service_end": "Int64", "max_age_days": "Int64"})


def catalog_purposes() -> pd.DataFrame:
    """The catalog's purposes and the data categories each needs (PROC-MINIMUM-DATA)."""
    return pd.DataFrame(
        [{"code": p.code, "label": p.label, "clause": p.clause, "categories": list(p.categories)}
         for p in load_catalog().purposes.values()],
    )

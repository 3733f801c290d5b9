"""Reference data: data categories, purposes, retention rules, and the policy's clauses.

The catalog (``data/policy/catalog.toml``) and the policy text
(``data/policy/privacy-policy.txt``, a copy of ``shared/policy``) are the sources;
``sync_reference`` writes them into the store's reference tables so the rule SQL
can join them. The policy parser numbers clauses exactly as the document does.
"""
from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from .settings import DATA_DIR

CATALOG_PATH = DATA_DIR / "policy" / "catalog.toml"
POLICY_PATH = DATA_DIR / "policy" / "privacy-policy.txt"


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    label_zh: str
    sensitive: bool
    clause: str
    note: str
    days_after_service_end: int | None
    max_age_days: int | None
    basis: str


@dataclass(frozen=True)
class Purpose:
    code: str
    label: str
    clause: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Clause:
    clause: str       # "5.1.4", or "5" for an article
    article: str      # "5"
    parent: str | None
    title: str        # the article's heading, or the clause's first words
    body: str
    ordinal: int


@dataclass(frozen=True)
class Catalog:
    categories: dict[str, Category]
    purposes: dict[str, Purpose]

    @property
    def sensitive(self) -> frozenset[str]:
        return frozenset(c.code for c in self.categories.values() if c.sensitive)


def category_label(code: str) -> str:
    """A data category's words in this run's locale: the catalog's ``label_zh`` in
    Chinese (its English ``label`` when it has none), its ``label`` in English; an
    unknown code as it is."""
    from .i18n import is_chinese
    cat = load_catalog().categories.get(str(code))
    if cat is None:
        return str(code)
    return (cat.label_zh or cat.label) if is_chinese() else cat.label


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    categories = {
        code: Category(
            code=code, label=c["label"], label_zh=c.get("label_zh", ""),
            sensitive=bool(c["sensitive"]), clause=c.get("clause", ""), note=c.get("note", ""),
            days_after_service_end=c.get("retention_days_after_service_end"),
            max_age_days=c.get("max_age_days"), basis=c.get("basis", ""),
        )
        for code, c in data["categories"].items()
    }
    purposes = {}
    for code, p in data["purposes"].items():
        unknown = set(p["categories"]) - set(categories)
        if unknown:
            raise ValueError(f"catalog purpose {code} names unknown categories {sorted(unknown)}")
        purposes[code] = Purpose(code, p["label"], p.get("clause", ""), tuple(p["categories"]))
    return Catalog(categories, purposes)


_CLAUSE_RE = re.compile(r"^(\d+(?:\.\d+)*)(\.?)\s+(\S.*)$")


@lru_cache(maxsize=4)
def parse_policy(path: Path = POLICY_PATH) -> tuple[Clause, ...]:
    """Split the policy into numbered clauses, as numbered in the document.

    An article heading is ``N. Title`` (``5. How will we share...``); a clause is
    ``N.N[.N] text``. A clause's body runs to the next numbered line. Text before
    the first article is the preamble, kept as clause ``0``.
    """
    text = Path(path).read_text(encoding="utf-8")
    clauses: list[dict] = [{"clause": "0", "title": "Preamble", "lines": []}]
    for raw in text.splitlines():
        line = raw.replace("\u00a0", " ").strip()
        m = _CLAUSE_RE.match(line)
        if m and (m.group(2) or "." in m.group(1)):
            number, rest = m.group(1), m.group(3).strip()
            is_article = "." not in number
            clauses.append({
                "clause": number,
                "title": rest if is_article else _first_words(rest),
                "lines": [] if is_article else [line],
            })
        elif line:
            clauses[-1]["lines"].append(line)
    out = []
    for i, c in enumerate(clauses):
        number = c["clause"]
        parts = number.split(".")
        parent = ".".join(parts[:-1]) if len(parts) > 1 else None
        body = "\n\n".join(c["lines"]) or c["title"]
        out.append(Clause(number, parts[0], parent, c["title"], body, i))
    return tuple(out)


def _first_words(text: str, limit: int = 60) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def clause_map() -> dict[str, Clause]:
    return {c.clause: c for c in parse_policy()}


def article_title(article: str) -> str:
    c = clause_map().get(article)
    return f"{article}. {c.title}" if c else article


CALENDAR_FIRST_YEAR = 2019      # the App violation identification method (15 working days)
CALENDAR_YEARS_AHEAD = 2


def calendar_range(today: dt.date | None = None, *years: int) -> tuple[int, int]:
    """The years the calendar table covers: 2019 (or an earlier year given) through the
    current year + 2 (or a later year given, + 2)."""
    today = today or dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    first = min([CALENDAR_FIRST_YEAR, *years])
    last = max([today.year, *years]) + CALENDAR_YEARS_AHEAD
    return first, last


def sync_calendar(cur, settings=None, today: dt.date | None = None) -> int:
    """Replace ``calendar_days`` with the working-day calendar of ``dashboard.workdays``
    (the packages plus the ``workday_calendar_file`` override) for ``calendar_range``,
    extended to the years of the rights requests in the store. Returns the number of days."""
    from . import workdays
    years = [int(y) for (y,) in cur.execute(
        "SELECT DISTINCT year(received_at) FROM rights_requests "
        "WHERE received_at IS NOT NULL").fetchall()] if _has_table(cur, "rights_requests") else []
    first, last = calendar_range(today, *years)
    import pyarrow as pa
    rows = workdays.calendar_rows(first, last, settings)
    days, working, provisional = (list(c) for c in zip(*rows))
    table = pa.table({"day": pa.array(days, pa.date32()), "working": working,
                      "provisional": provisional})
    cur.execute("DELETE FROM calendar_days")
    cur.register("reference_calendar_rows", table)
    try:
        cur.execute("INSERT INTO calendar_days SELECT day, working, provisional "
                    "FROM reference_calendar_rows ORDER BY day")
    finally:
        cur.unregister("reference_calendar_rows")
    return len(rows)


def _has_table(cur, name: str) -> bool:
    return bool(cur.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
                            "AND database_name = current_database()", [name]).fetchone()[0])


def sync_reference(cur, settings=None) -> None:
    """Replace the reference tables' contents with the catalog and the policy text, and the
    working-day calendar (``sync_calendar``, with ``settings`` or the loaded ones).

    Runs inside the caller's transaction (``init`` and ``seed`` call it).
    """
    catalog = load_catalog()
    for table in ("data_categories", "purposes", "purpose_categories", "retention_rules",
                  "policy_clauses"):
        cur.execute(f"DELETE FROM {table}")  # table names are literals above, not input
    cur.executemany(
        "INSERT INTO data_categories VALUES (?, ?, ?, ?, ?, ?)",
        [(c.code, c.label, c.label_zh, c.sensitive, c.clause, c.note)
         for c in catalog.categories.values()],
    )
    cur.executemany(
        "INSERT INTO retention_rules VALUES (?, ?, ?, ?)",
        [(c.code, c.days_after_service_end, c.max_age_days, c.basis)
         for c in catalog.categories.values()],
    )
    cur.executemany("INSERT INTO purposes VALUES (?, ?, ?)",
                    [(p.code, p.label, p.clause) for p in catalog.purposes.values()])
    cur.executemany(
        "INSERT INTO purpose_categories VALUES (?, ?)",
        [(p.code, cat) for p in catalog.purposes.values() for cat in p.categories],
    )
    cur.executemany(
        "INSERT INTO policy_clauses VALUES (?, ?, ?, ?, ?, ?)",
        [(c.clause, c.article, c.parent, c.title, c.body, c.ordinal) for c in parse_policy()],
    )
    if _has_table(cur, "calendar_days"):
        sync_calendar(cur, settings)

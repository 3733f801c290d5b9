"""Policy vs law: where the law asks more than the privacy policy's text says.

Version 1 of the rules followed the policy's text; version 2 also follows the laws the
policy's promises rest on (``shared/reference/regulations.md``, "Corrections in version
2"). The rules that version 2 *added* (``introduced = 2`` in ``data/rules/rules.toml``)
each test something the policy's text does not say; ``law_beyond_policy`` says what. The
Policy page lists them by clause, each with the clause's words, what the policy promises,
what the law asks, the legal source and its confidence mark, and the rule's result in the
engine's latest evaluation; and, separately, the version 1 rules that version 2 changed
(``v2_change``). A DPO downloads it as CSV to take to the policy's owner.

The frames are built by pure functions (rules + clause texts + scores -> DataFrame),
tested without Streamlit; ``beyond_policy_view``/``changed_view`` compose them from the
store for ``ui.cached``, and ``download_bytes`` writes the CSV through the one CSV writer
(``exports.write_frame_csv``) and logs it like every download. Nothing here renders: every
text comes from a file (the policy, ``rules.toml``), and the page shows it as plain text.
"""
from __future__ import annotations

import io
import math
import re
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .rules import Rule

DATASET = "policy_vs_law"           # the download's name in its file and audit entry
EXCERPT_CHARS = 280

# One row per (clause, rule): a rule the contract files under several clauses (its
# ``clause`` and ``also_clauses``) is listed under each of them.
BEYOND_COLUMNS = ["clause", "clause_title", "policy_text", "rule_id", "rule_title",
                  "severity", "policy_says", "law_asks", "legal_source", "confidence",
                  "findings", "due", "applicable", "score", "score_pct"]
CHANGED_COLUMNS = ["clause", "clause_title", "rule_id", "rule_title", "severity",
                   "v2_change", "legal_source", "confidence", "findings", "due",
                   "applicable", "score", "score_pct"]
# The CSV: both lists, one row each, ``section`` saying which.
CSV_COLUMNS = ["section", "clause", "clause_title", "policy_text", "rule_id", "rule_title",
               "severity", "policy_says", "law_asks", "v2_change", "legal_source",
               "confidence", "findings", "due", "applicable", "score", "as_of"]
SECTIONS = {"law_beyond_policy": "The law asks more than the policy's text says (rule "
                                 "added in version 2)",
            "changed_in_v2": "Rule of version 1 that version 2 changed"}

_MARK_RE = re.compile(r"\(\s*((?:V2|V|R|P|C)(?:\s*[,/]\s*(?:V2|V|R|P|C))*)\s*\)")
_WORD_RE = re.compile(r"[a-z]{4,}")


# -- small pieces ------------------------------------------------------------------------------

def confidence_marks(legal_source: str) -> str:
    """The confidence marks a legal source carries, each once, in order: ``"V, P"`` for
    ``"PIPL Art. 57 (V); 24 h: project default (P)"``; ``""`` when it carries none.
    (V law text, V2 secondary source, R recalled, P project default, C data contract.)"""
    seen: dict[str, None] = {}
    for group in _MARK_RE.findall(str(legal_source or "")):
        for mark in re.split(r"\s*[,/]\s*", group):
            seen.setdefault(mark, None)
    return ", ".join(seen)


def clause_key(clause: str) -> tuple[int, ...]:
    """Policy order: ``5.1`` < ``5.1.1`` < ``5.2`` < ``7.2`` < ``10``."""
    return tuple(int(p) if p.isdigit() else 0 for p in str(clause).split("."))


def excerpt(body: str, clause: str = "", hint: str = "", limit: int = EXCERPT_CHARS, *,
            title: str = "") -> str:
    """A short excerpt of a clause's text: its number dropped (and its heading, ``title``,
    when the text opens with it on a line of its own: ``5.2 Transfer``), bullets and
    spacing flattened, cut at a word boundary to about ``limit`` characters. With a
    ``hint`` (what the rules under it say), the paragraph sharing most words with it is
    chosen (7.2's incident paragraph, not its opening sentence), marked ``…`` where text
    was left out."""
    text = str(body or "").replace("\u00a0", " ").strip()
    if clause and text.startswith(f"{clause} "):
        text = text[len(clause) + 1:]
    paragraphs = [" ".join(p.replace("•", " ").split()) for p in text.split("\n\n")]
    paragraphs = [p for p in paragraphs if p]
    if title and len(paragraphs) > 1 and paragraphs[0] == " ".join(title.split()):
        paragraphs = paragraphs[1:]
    if not paragraphs:
        return ""
    index = 0
    if hint and len(paragraphs) > 1:
        wanted = set(_WORD_RE.findall(hint.lower()))
        overlaps = [len(wanted & set(_WORD_RE.findall(p.lower()))) for p in paragraphs]
        best = max(overlaps)
        if best > overlaps[0]:
            index = overlaps.index(best)
    chosen = " ".join(paragraphs[index:])
    lead = "… " if index else ""
    if len(chosen) <= limit:
        tail = ""
    else:
        chosen = chosen[:limit].rsplit(" ", 1)[0].rstrip(",;:")
        tail = " …"
    return f"{lead}{chosen}{tail}"


def percent(score: Any) -> str:
    """A score as the pages print it (``dashboards.percent``: rounded down, ``n/a`` when
    nothing applies)."""
    from .dashboards import percent as shown
    return shown(None if _missing(score) else float(score))


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _clause_text(clauses: Mapping[str, Any], clause: str) -> tuple[str, str]:
    """``(title, body)`` of a clause from ``reference.clause_map()`` or the rows of the
    ``policy_clauses`` table (anything with ``title`` and ``body``); empty when unknown."""
    c = clauses.get(clause)
    if c is None:
        return "", ""
    get = c.get if isinstance(c, Mapping) else (lambda k, _c=c: getattr(_c, k, ""))
    return str(get("title") or ""), str(get("body") or "")


def clause_lookup(clauses: Any) -> dict[str, Any]:
    """Clause number -> clause, from ``clause_map()``, a ``policy_clauses`` frame or rows."""
    if isinstance(clauses, pd.DataFrame):
        return {str(r.clause): r for r in clauses.itertuples(index=False)}
    if isinstance(clauses, Mapping):
        return dict(clauses)
    return {str(getattr(c, "clause")): c for c in clauses}


def _results(scores: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """Rule id -> its latest result (findings, due, applicable, score)."""
    if scores is None or len(scores) == 0:
        return {}
    key = "rule_id" if "rule_id" in scores.columns else "code"
    out = {}
    for row in scores.to_dict("records"):
        out[str(row[key])] = {
            "findings": int(row.get("failing", 0) or 0),
            "due": int(row.get("due", 0) or 0),
            "applicable": int(row.get("applicable", 0) or 0),
            "score": None if _missing(row.get("score")) else float(row["score"]),
        }
    return out


def _result_of(results: Mapping[str, Mapping[str, Any]], rule_id: str) -> dict[str, Any]:
    r = results.get(rule_id)
    if r is None:       # not evaluated (no scores given): unknown, not zero
        return {"findings": pd.NA, "due": pd.NA, "applicable": pd.NA, "score": math.nan,
                "score_pct": "n/a"}
    return {**r, "score": math.nan if r["score"] is None else r["score"],
            "score_pct": percent(r["score"])}


def _typed(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    df = pd.DataFrame(df, columns=list(columns)).reset_index(drop=True)
    for col in ("findings", "due", "applicable"):
        if col in df.columns:
            df[col] = df[col].astype("Int64")
    if "score" in df.columns:
        df["score"] = df["score"].astype(float)
    return df


# -- Chinese: the clause titles (unofficial translation) and the rules' texts -------------------

@lru_cache(maxsize=2)
def _clause_titles_zh(path: str) -> dict[str, str]:
    import tomllib
    from pathlib import Path
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return {str(k): str(v.get("title_zh", "")) for k, v in data.get("clauses", {}).items()
            if str(v.get("title_zh", "")).strip()}


def clause_titles_zh() -> dict[str, str]:
    """Clause number -> its title in Chinese (``[clauses."5.1.4"] title_zh`` of
    ``data/policy/catalog.toml``): the project's unofficial translation, the published
    policy being English."""
    from .reference import CATALOG_PATH
    return _clause_titles_zh(str(CATALOG_PATH))


def clause_title(clause: Any, english: str = "") -> str:
    """A clause's (or article's) title in the page's locale: the unofficial Chinese
    translation in Chinese, else ``english`` (the policy's own words)."""
    from .i18n import is_chinese
    if is_chinese():
        return clause_titles_zh().get(str(clause)) or english
    return english


# The view's columns that hold a rule's text -> the rule's field (rules.TEXT_FIELDS).
RULE_TEXT_COLUMNS = {"rule_title": "title", "policy_says": "promise",
                     "law_asks": "law_beyond_policy", "legal_source": "legal_source",
                     "v2_change": "v2_change"}


def localized(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``beyond_policy``'s or ``changed_in_v2``'s frame for the screen, its rules'
    texts and clause titles in the page's locale (the CSV keeps the English: a contract).
    The policy's own text (``policy_text``) stays as published."""
    from .rules import rule_map, text
    out = frame.copy()
    rules = rule_map()
    for column, name in RULE_TEXT_COLUMNS.items():
        if column in out.columns and "rule_id" in out.columns:
            out[column] = [text(rules[r], name) if r in rules else v
                           for r, v in zip(out["rule_id"], out[column])]
    if "clause_title" in out.columns:
        out["clause_title"] = [clause_title(c, t) for c, t in
                               zip(out["clause"], out["clause_title"])]
    return out


# -- the view ---------------------------------------------------------------------------------

def beyond_policy(rules: Iterable[Rule], clauses: Any, scores: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """Each policy clause where the law asks more than the policy's text says: the rules
    version 2 added (``introduced == 2``), one row per (clause, rule) over the rule's
    ``clause`` and ``also_clauses``, in policy order, then the contract's order.

    ``clauses``: ``reference.clause_map()`` or the ``policy_clauses`` frame; ``scores``:
    the engine's rule scores (``Summary.rule_scores``: rule_id, applicable, failing, due,
    score), None when not evaluated. Columns: ``BEYOND_COLUMNS``; ``findings`` is the
    rule's failing entities, ``score`` 0..1 (NaN when nothing applies), ``score_pct`` as
    the pages print it. ``policy_text`` is an excerpt of the clause (the paragraph
    nearest to what its rules say), ``policy_says`` the rule's ``promise``, ``law_asks``
    its ``law_beyond_policy``."""
    clauses = clause_lookup(clauses)
    results = _results(scores)
    added = sorted((r for r in rules if r.introduced == 2), key=lambda r: r.seq)
    by_clause: dict[str, list[Rule]] = {}
    for r in added:
        for clause in dict.fromkeys((r.clause, *r.also_clauses)):
            by_clause.setdefault(clause, []).append(r)
    rows = []
    for clause in sorted(by_clause, key=clause_key):
        group = by_clause[clause]
        title, body = _clause_text(clauses, clause)
        text = excerpt(body, clause, " ".join(f"{r.promise} {r.law_beyond_policy}"
                                              for r in group), title=title)
        for r in group:
            rows.append({
                "clause": clause, "clause_title": title, "policy_text": text,
                "rule_id": r.rule_id, "rule_title": r.title, "severity": r.severity,
                "policy_says": r.promise, "law_asks": r.law_beyond_policy,
                "legal_source": r.legal_source, "confidence": confidence_marks(r.legal_source),
                **_result_of(results, r.rule_id),
            })
    return _typed(pd.DataFrame(rows), BEYOND_COLUMNS)


def changed_in_v2(rules: Iterable[Rule], clauses: Any, scores: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """The version 1 rules that version 2 changed (``introduced == 1`` with a
    ``v2_change``), in the contract's order, each once under its clause, with what
    changed and its latest result. Columns: ``CHANGED_COLUMNS``."""
    clauses = clause_lookup(clauses)
    results = _results(scores)
    rows = []
    for r in sorted(rules, key=lambda r: r.seq):
        if r.introduced != 1 or not r.v2_change.strip():
            continue
        title, _body = _clause_text(clauses, r.clause)
        rows.append({
            "clause": r.clause, "clause_title": title, "rule_id": r.rule_id,
            "rule_title": r.title, "severity": r.severity, "v2_change": r.v2_change,
            "legal_source": r.legal_source, "confidence": confidence_marks(r.legal_source),
            **_result_of(results, r.rule_id),
        })
    return _typed(pd.DataFrame(rows), CHANGED_COLUMNS)


def csv_frame(beyond: pd.DataFrame, changed: pd.DataFrame, as_of: str = "") -> pd.DataFrame:
    """Both lists as one table for the CSV (``CSV_COLUMNS``): ``section`` is
    ``law_beyond_policy`` or ``changed_in_v2``; ``score`` as the pages print it
    (``97.5 %``, ``n/a``); ``as_of`` the evaluation the results come from."""
    parts = []
    for section, df in (("law_beyond_policy", beyond), ("changed_in_v2", changed)):
        if len(df):
            part = df.drop(columns=["score"]).rename(columns={"score_pct": "score"})
            part.insert(0, "section", section)
            parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out = out.reindex(columns=CSV_COLUMNS)
    out["as_of"] = as_of
    for col in CSV_COLUMNS:
        if col not in ("findings", "due", "applicable"):
            out[col] = out[col].astype(object).where(out[col].notna(), "")
    for col in ("findings", "due", "applicable"):
        out[col] = out[col].astype("Int64")
    return out.reset_index(drop=True)


def write_csv(frame: pd.DataFrame, out, *, timezone: str = "Asia/Shanghai"):
    """The CSV through the project's one writer (BOM, RFC 4180, formula guard)."""
    from .exports import write_frame_csv
    return write_frame_csv(frame, out, timezone=timezone)


# -- from the store ------------------------------------------------------------------------------

def _inputs(store, as_of: str):
    from . import engine
    from .queries import policy_clauses
    from .rules import load_rules
    summary = engine.check_summary(store, as_of)
    return load_rules(), policy_clauses(store), summary


def beyond_policy_view(store, *, as_of: str) -> pd.DataFrame:
    """``beyond_policy`` on the loaded rules, the store's ``policy_clauses`` and the
    engine's evaluation as of ``as_of`` (``dashboards.as_of_for``): for ``ui.cached``."""
    rules, clauses, summary = _inputs(store, as_of)
    return beyond_policy(rules, clauses, summary.rule_scores)


def changed_view(store, *, as_of: str) -> pd.DataFrame:
    """``changed_in_v2`` likewise."""
    rules, clauses, summary = _inputs(store, as_of)
    return changed_in_v2(rules, clauses, summary.rule_scores)


def evaluated_at(store, *, as_of: str) -> str:
    """The moment the results state, as the CSV's ``as_of`` (Asia/Shanghai, minutes)."""
    from . import engine
    moment = engine.check_summary(store, as_of).as_of.astimezone(store.tz)
    return moment.strftime("%Y-%m-%d %H:%M %z")


def file_name(at) -> str:
    """``policy_vs_law_<yyyymmddThhmmss>.csv``, as the Exports page names its files."""
    from .exports import file_name as named
    return named(DATASET, {}, at)


def download_bytes(store, actor, *, as_of: str, name: str) -> bytes:
    """The view as CSV for ``st.download_button(data=<callable>)``: permission
    ``export.download`` (DPOs, auditors), and, like every download, one audit entry
    (``export.download``, entity ``export``/``policy_vs_law``: file, rows, bytes, SHA-256,
    as_of) written before the bytes are handed out."""
    from .access import require
    from .exports import EXPORT_ACTION
    require(actor, EXPORT_ACTION)
    rules, clauses, summary = _inputs(store, as_of)
    when = evaluated_at(store, as_of=as_of)
    frame = csv_frame(beyond_policy(rules, clauses, summary.rule_scores),
                      changed_in_v2(rules, clauses, summary.rule_scores), when)
    buf = io.BytesIO()
    stats = write_csv(frame, buf, timezone=store.settings.timezone)
    with store.write(actor, EXPORT_ACTION) as w:
        w.audit(EXPORT_ACTION, "export", DATASET, after={
            "dataset": DATASET, "filters": {}, "file": name, "rows": stats.rows,
            "bytes": stats.bytes, "sha256": stats.sha256, "as_of": when,
            "rules_digest": summary.rules_digest, "delivery": "download"})
    return buf.getvalue()

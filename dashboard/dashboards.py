"""Queries and view-models of the Overview and Findings pages, composed from the engine.

Every read is ``fn(store, **kwargs)`` with JSON-able keyword arguments, for
``ui.cached``. Scores and counts come from the engine (``check_summary``,
``finding_counts``, ``due_counts``, snapshots); lists of findings are the engine's
``items_query`` joined in DuckDB with the remediation plans (migration 0007), filtered,
counted and paged in SQL: nothing here loads the findings or a register into Python,
only bounded pages and small aggregates.

``as_of`` is what the engine takes: the pages pass ``as_of_for(store, day)``, i.e. the
current moment (``engine.current_as_of``, renewed after every write) for today, or a past date (the close of that
day, Asia/Shanghai). Plans count as of the same moment: the revision in force then.

Findings filters (also the Findings page's URL query parameters):

====================  =============================================================
``rule``              rule ids (``PROC-PIA``)
``clause``            policy clauses (``5.1.4``)
``article``           policy articles (``5``)
``severity``          ``high`` ``medium`` ``low`` (URL: the label in the page's locale,
                      ``High`` / ``高``)
``type``              entity types (URL: the label, ``Sharing agreement`` / ``共享协议``)
``plan``              ``unplanned`` ``planned`` ``overdue`` (findings only)
``entity``            one entity id, exact (``PRC-0007``, a retention record number)
``search``            text in the entity id or the finding's detail (case-insensitive; not
                      ``q``, the register pages' search: Streamlit drops a link's parameter
                      that a widget of the page being left is bound to)
====================  =============================================================
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

import pandas as pd

from . import engine
from . import i18n
from .i18n import N_, _
from . import remediation as rem
from .access import Actor
from .reference import clause_map
from .registers import REGISTERS
from .rules import ENTITY_REGISTER, ENTITY_TYPES, SEVERITIES, load_rules

LEVELS = ("rule", "clause", "article")
SEVERITY_ORDER = ("high", "medium", "low")          # most severe first, for display
# English words (msgids): shown with ``_()``, or in the locale by ``severity_label`` etc.
SEVERITY_LABELS = {"high": N_("High"), "medium": N_("Medium"), "low": N_("Low")}
TYPE_LABELS = {"processor": N_("Processor"), "sharing_agreement": N_("Sharing agreement"),
               "retention_record": N_("Retention record"), "incident": N_("Incident"),
               "rights_request": N_("Rights request")}
PLAN_LABELS = {k: rem.PLAN_LABELS[k] for k in rem.PLAN_STATES}
BANDS = ("action", "warning", "target", "none")
BAND_LABELS = {"target": N_("On target"), "warning": N_("Below target"),
               "action": N_("Needs action"), "none": N_("Nothing applies")}
FILTER_KEYS = ("rule", "clause", "article", "severity", "type", "plan", "entity", "search")
SORTS: dict[str, tuple[str, str]] = {
    "severity": (N_("Most severe first"), "severity_rank DESC, rule_seq, entity_num, entity_id"),
    "deadline": (N_("Deadline (earliest first)"),
                 "due_at NULLS LAST, severity_rank DESC, rule_seq, entity_num, entity_id"),
    "target": (N_("Plan target date (earliest first)"),
               "target_date NULLS LAST, severity_rank DESC, rule_seq, entity_num, entity_id"),
    "entity": (N_("Entity"), "entity_type, entity_num, entity_id, rule_seq"),
}
# What falls due, grouped as a DPO plans the week. Rules not named are "Other deadlines".
DUE_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("regulator", N_("Reports to the regulator, the PI authority and the police"),
     ("INC-REGULATOR-DEADLINE", "INC-PI-AUTHORITY", "INC-POLICE", "INC-SUMMARY")),
    ("notices", N_("Notices to users"), ("INC-USER-NOTICE", "SHARE-MERGER-NOTICE",
                                     "SHARE-LEGAL-NOTICE")),
    ("agreements", N_("Agreements expiring"), ("PROC-AGREEMENT-EXPIRED", "SHARE-EXPIRED-ACTIVE")),
    ("deletion", N_("Records due for deletion"), ("RET-OVERDUE",)),
    ("requests", N_("Rights requests"), ("DSR-DEADLINE",)),
    ("reviews", N_("Assessments and hold reviews"), ("PROC-ASSESSMENT", "SHARE-PIA",
                                                 "RET-HOLD-INVALID")),
    ("other", N_("Other deadlines"), ()),
)
INCIDENT_STATUS_ORDER = ("open", "contained", "resolved", "closed")
GRADE_ORDER = ("particularly_major", "major", "relatively_major", "general")
REGISTER_PAGES = {                      # the page showing an entity's register row
    "processor": ("processor", "id"), "sharing_agreement": ("agreement", "id"),
    "retention_record": ("retention", "q"), "incident": ("incident", "id"),
    "rights_request": ("request", "id"),
}
PAGE_SIZE = 100


# -- as-of, numbers ------------------------------------------------------------------------

def as_of_for(store, day: dt.date | str | None = None) -> str:
    """The ``as_of`` a page passes: now (``engine.current_as_of``) for today (or no day);
    else the date, meaning the close of that day in Asia/Shanghai. A future day is today."""
    today = store.now().date()
    if day in (None, ""):
        return engine.current_as_of(store)
    day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
    if isinstance(day, dt.datetime):
        day = day.date()
    return engine.current_as_of(store) if day >= today else day.isoformat()


def moment(store, as_of: str | None) -> dt.datetime:
    return engine.parse_as_of(as_of, store.tz, store.now())


def percent(score: float | None) -> str:
    """A score as a percentage to one decimal, rounded down (99.96 % is 99.9 %, never
    100 %), as the ``check`` command prints it; ``n/a`` when nothing applies."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "n/a"
    return f"{math.floor(score * 1000 + 1e-9) / 10:.1f} %"


def percent_text(score: float | None) -> str:
    """``percent`` for the screen: ``n/a`` in the page's locale."""
    text = percent(score)
    return _("n/a") if text == "n/a" else text


def band(score: float | None, settings) -> str:
    """The score band: ``target`` (at or above ``score_target_percent``), ``warning``,
    ``action`` (below ``score_warning_percent``), ``none`` (nothing applies)."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "none"
    pct = score * 100
    if pct >= settings.score_target_percent - 1e-9:
        return "target"
    if pct >= settings.score_warning_percent - 1e-9:
        return "warning"
    return "action"


def _short(text: str, limit: int = 48) -> str:
    text = " ".join(str(text).split()).rstrip("…")
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


# -- words in the page's locale (display only: the cached frames keep English and codes) -----

def severity_label(code: Any) -> str:
    return _(SEVERITY_LABELS[code]) if code in SEVERITY_LABELS else i18n.label("severity", code)


def type_label(code: Any) -> str:
    return _(TYPE_LABELS[code]) if code in TYPE_LABELS else i18n.label("entity_type", code)


def plan_label(code: Any) -> str:
    return _(PLAN_LABELS[code]) if code in PLAN_LABELS else i18n.label("plan_state", code)


def band_label(code: Any) -> str:
    return _(BAND_LABELS[code]) if code in BAND_LABELS else str(code)


def sort_label(code: str) -> str:
    return _(SORTS[code][0])


def due_group_label(group: str) -> str:
    for key, title, _rules in DUE_GROUPS:
        if key == group:
            return _(title)
    return str(group)


def window_label(days: int) -> str:
    return _("Within {days} days").format(days=int(days))


def detail_text(text: Any) -> Any:
    """A finding's ``detail`` (the rule SQL's English text, a contract: exports and the API
    keep it) for the screen: the codes it names become words in both languages
    (``graded relatively_major`` → "graded relatively major" / 较大; data categories by the
    policy catalog's names). The rest of the sentence is the rule's English in both."""
    from .reference import load_catalog
    categories = {code: (c.label_zh if i18n.is_chinese() and c.label_zh else c.label)
                  for code, c in load_catalog().categories.items() if "_" in code}
    return i18n.words_in(text, categories)


def rule_title(rule_id: str, english: str = "") -> str:
    """A rule's title in the page's locale (``rules.toml``'s ``title_zh``)."""
    from .rules import rule_map, text
    r = rule_map().get(str(rule_id))
    return text(r, "title") if r is not None else english


def score_label(level: str, code: Any, title: str = "") -> str:
    """The axis label of a score bar or trend line in the page's locale: ``Art. 5 · How
    will we share…`` / ``第5条 · 我们如何共享…``, ``5.1.4 · We may entrust…``, ``PROC-PIA ·
    Personal information entrusted…``. ``title`` is the English one (the frames')."""
    code = str(code)
    zh = i18n.is_chinese()
    if level == "overall" or code == "overall" and level == "trend":
        return _("Overall")
    if level == "rule":
        shown = rule_title(code, title)
    else:
        from .policy_law import clause_title
        shown = clause_title(code, title)
    if level in ("article", "trend"):
        limit = (34 if level == "article" else 32) // (2 if zh else 1)
        return _("Art. {article} · {title}").format(article=code, title=_short(shown, limit))
    return f"{code} · {_short(shown, 20 if zh else 40)}"


# -- the overview ------------------------------------------------------------------------------

def summary(store, *, as_of: str) -> dict[str, Any]:
    """The headline numbers of one evaluation."""
    s = engine.check_summary(store, as_of)
    overall = s.overall
    return {
        "as_of": s.as_of, "overall": overall, "band": band(overall, store.settings),
        "findings": int(s.finding_total), "due": int(s.due_total),
        "by_severity": {k: int(v) for k, v in s.findings_by_severity.items()},
        "entities_applicable": int(s.entities_applicable),
        "entities_failing": int(s.entities_failing), "rules_digest": s.rules_digest,
    }


def scores(store, *, as_of: str, level: str) -> pd.DataFrame:
    """Scores per rule, clause or article, worst first (nothing applicable last).

    Columns: code, label (code and title, for a chart axis), title, score (0..1, NaN when
    nothing applies), score_pct, applicable, failing, due, band; for rules also clause,
    severity, entity_type."""
    if level not in LEVELS:
        raise ValueError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    s = engine.check_summary(store, as_of)
    frame = {"rule": s.rule_scores, "clause": s.clause_scores, "article": s.article_scores}[level]
    key = {"rule": "rule_id", "clause": "clause", "article": "article"}[level]
    df = frame.copy()
    df["code"] = df[key].astype(str)
    if level == "article":
        df["label"] = [f"Art. {c} · {_short(t, 34)}" for c, t in zip(df["code"], df["title"])]
    elif level == "clause":
        df["label"] = [f"{c} · {_short(t, 40)}" for c, t in zip(df["code"], df["title"])]
    else:
        df["label"] = [f"{c} · {_short(t, 40)}" for c, t in zip(df["code"], df["title"])]
    df["score"] = df["score"].astype(float)
    df["score_pct"] = df["score"] * 100
    df["band"] = [band(x, store.settings) for x in df["score"]]
    df["_none"] = df["score"].isna()
    order = ["_none", "score", "failing"]
    df = df.sort_values(order, ascending=[True, True, False], kind="stable")
    keep = ["code", "label", "title", "score", "score_pct", "applicable", "failing", "due",
            "band"]
    if level == "rule":
        keep += ["clause", "severity", "entity_type"]
    out = df[keep].reset_index(drop=True)
    for col in ("applicable", "failing", "due"):
        out[col] = out[col].astype("int64")
    return out


def previous_snapshot(store, *, as_of: str) -> dict[str, Any] | None:
    """The last stored snapshot of a day before the as-of day (the overview's "since")."""
    day = moment(store, as_of).date()
    snaps = engine.snapshots(store)
    if snaps.empty:
        return None
    dates = pd.to_datetime(snaps["snapshot_date"]).dt.date
    before = snaps[dates < day]
    if before.empty:
        return None
    row = before.iloc[-1]
    return {"snapshot_date": pd.Timestamp(row["snapshot_date"]).date(),
            "overall": None if pd.isna(row["overall"]) else float(row["overall"]),
            "findings": int(row["findings"]), "findings_high": int(row["findings_high"]),
            "due": int(row["due"])}


def snapshot_state(store, *, as_of: str) -> str:
    """``fresh`` when the as-of day's snapshot holds the numbers of this evaluation,
    ``stale`` when it holds others, ``missing`` when there is none."""
    s = engine.check_summary(store, as_of)
    day = s.as_of.astimezone(store.tz).date()
    row = store.rows(
        "SELECT overall, findings, findings_high, findings_medium, findings_low, due, "
        "entities_applicable, entities_failing, rules_digest FROM compliance_snapshots "
        "WHERE snapshot_date = ?", [day])
    if not row:
        return "missing"
    overall, findings, high, medium, low, due, applicable, failing, digest = row[0]
    sev = s.findings_by_severity
    same_overall = (overall is None and s.overall is None) or (
        overall is not None and s.overall is not None and abs(overall - s.overall) < 1e-12)
    same = (same_overall and findings == s.finding_total and due == s.due_total
            and (high, medium, low) == (sev.get("high", 0), sev.get("medium", 0),
                                        sev.get("low", 0))
            and (applicable, failing) == (s.entities_applicable, s.entities_failing)
            and digest == s.rules_digest)
    return "fresh" if same else "stale"


def refresh_snapshot(actor: Actor, store, *, as_of: str) -> str:
    """Store the as-of day's compliance snapshot when it is missing or stale (a DPO opening
    the overview on today). Returns ``saved``, ``fresh`` or ``not allowed`` (the actor may
    not store snapshots: nothing is written). Permission ``check.snapshot``."""
    if not actor.may("check.snapshot"):
        return "not allowed"
    if snapshot_state(store, as_of=as_of) == "fresh":
        return "fresh"
    engine.save_snapshot(store, actor, engine.check_summary(store, as_of))
    return "saved"


def trend(store, *, as_of: str) -> pd.DataFrame:
    """The overall score and each article's, one point per day: the stored snapshots of
    days before the as-of day, then this evaluation for the as-of day (``live``).

    Columns: day (date), series (code: ``overall`` or an article), label, score (0..1),
    score_pct, live."""
    s = engine.check_summary(store, as_of)
    day = s.as_of.astimezone(store.tz).date()
    titles = {a.article: a.title for a in s.article_scores.itertuples(index=False)}
    rows: list[dict[str, Any]] = []
    snaps = engine.snapshots(store)
    if not snaps.empty:
        for r in snaps.itertuples(index=False):
            d = pd.Timestamp(r.snapshot_date).date()
            if d < day and not pd.isna(r.overall):
                rows.append({"day": d, "series": "overall", "score": float(r.overall),
                             "live": False})
        arts = engine.snapshot_scores(store, "article")
        for r in arts.itertuples(index=False):
            d = pd.Timestamp(r.snapshot_date).date()
            if d < day and not pd.isna(r.score) and r.code in titles:
                rows.append({"day": d, "series": str(r.code), "score": float(r.score),
                             "live": False})
    if s.overall is not None:
        rows.append({"day": day, "series": "overall", "score": float(s.overall), "live": True})
    for a in s.article_scores.itertuples(index=False):
        if not pd.isna(a.score):
            rows.append({"day": day, "series": str(a.article), "score": float(a.score),
                         "live": True})
    df = pd.DataFrame(rows, columns=["day", "series", "score", "live"])
    df["label"] = ["Overall" if c == "overall" else f"Art. {c} · {_short(titles.get(c, ''), 32)}"
                   for c in df["series"]]
    df["score_pct"] = df["score"].astype(float) * 100
    order = {c: i for i, c in enumerate(["overall", *titles])}
    df["_o"] = [order.get(c, 99) for c in df["series"]]
    df = df.sort_values(["_o", "day"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return df[["day", "series", "label", "score", "score_pct", "live"]]


# -- findings joined with their plans ---------------------------------------------------------

def clean_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The filters as lists of codes / strings, unknown keys refused."""
    filters = dict(filters or {})
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"unknown filter(s) {sorted(unknown)}; expected: {list(FILTER_KEYS)}")
    out: dict[str, Any] = {}
    for key in FILTER_KEYS:
        value = filters.get(key)
        if value in (None, "", [], ()):
            continue
        if key in ("entity", "search"):
            text = str(value).strip()
            if text:
                out[key] = text
        else:
            values = [str(v) for v in (value if isinstance(value, (list, tuple, set))
                                       else [value])]
            if key == "plan":
                wrong = [v for v in values if v not in rem.PLAN_STATES]
                if wrong:
                    raise ValueError(f"plan: {', '.join(map(repr, wrong))} is not one of "
                                     f"{', '.join(rem.PLAN_STATES)}")
            out[key] = sorted(set(values))
    return out


def _engine_filters(f: Mapping[str, Any]) -> dict[str, Any]:
    return {"rule_id": f.get("rule"), "clause": f.get("clause"), "article": f.get("article"),
            "severity": f.get("severity"), "entity_type": f.get("type"),
            "entity_id": f.get("entity")}


def _joined(store, as_of: str, kind: str, filters: Mapping[str, Any] | None,
            within_days: int | None = None) -> tuple[str, list[Any]]:
    """``(sql, params)``: the findings (or due items) as of ``as_of`` matching ``filters``,
    each with the plan in force at that moment and its state."""
    f = clean_filters(filters)
    at = moment(store, as_of)
    items_sql, params = engine.items_query(store, as_of, kind, **_engine_filters(f))
    where: list[str] = []
    wparams: list[Any] = []
    if f.get("plan") and kind == engine.FINDING:
        where.append(f"plan_state IN ({', '.join('?' for _ in f['plan'])})")
        wparams += f["plan"]
    if f.get("search"):
        where.append("(contains(lower(entity_id), ?) OR contains(lower(detail), ?))")
        wparams += [f["search"].lower()] * 2
    if within_days is not None:
        where.append("due_at <= ?")
        wparams.append(engine.due_horizon(at, within_days, store.tz))
    sql = (
        f"WITH f AS ({items_sql}),\n"
        f"p AS ({rem.PLANS_AS_OF_SQL}),\n"
        "j AS (SELECT f.*, p.owner, p.target_date, p.revision AS plan_revision, "
        "p.acknowledged_by, p.acknowledged_at, "
        f"{rem.PLAN_STATE_SQL} AS plan_state "
        "FROM f LEFT JOIN p USING (rule_id, entity_type, entity_id))\n"
        "SELECT * FROM j" + (" WHERE " + " AND ".join(where) if where else ""))
    return sql, params + [at, at.date()] + wparams


def findings_breakdown(store, *, as_of: str, by: str | Sequence[str],
                       filters: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Open findings counted by ``by`` (rule_id, clause, article, severity, entity_type)
    and plan state. Columns: the ``by`` columns, plan_state, findings, then label columns:
    ``label`` (rule: id and title; severity/entity type: English) and, for rules,
    ``severity``."""
    cols = [by] if isinstance(by, str) else list(by)
    wrong = [c for c in cols if c not in engine.GROUPABLE]
    if wrong or not cols:
        raise ValueError(f"by: {wrong or cols} must be some of {', '.join(engine.GROUPABLE)}")
    sql, params = _joined(store, as_of, engine.FINDING, filters)
    group = ", ".join(cols)
    extra = ", any_value(severity) AS rule_severity, min(rule_seq) AS seq" \
        if cols == ["rule_id"] else ""
    df = store.df(
        f"SELECT {group}, plan_state, count(*) AS findings{extra} FROM ({sql}) "
        f"GROUP BY {group}, plan_state", params)
    df["findings"] = df["findings"].astype("int64")
    totals = df.groupby(cols)["findings"].transform("sum") if not df.empty else df["findings"]
    df["_total"] = totals
    plan_rank = {p: i for i, p in enumerate(rem.PLAN_STATES)}
    df["_plan"] = df["plan_state"].map(plan_rank)
    if cols == ["severity"]:
        sev_rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
        df["_k"] = df["severity"].map(sev_rank)
        df = df.sort_values(["_k", "_plan"])
    else:
        df = df.sort_values(["_total", *cols, "_plan"], ascending=[False, *[True] * len(cols),
                                                                   True], kind="stable")
    if cols == ["rule_id"]:
        titles = {r.rule_id: r.title for r in load_rules()}
        df["label"] = df["rule_id"].astype(str)
        df["title"] = [titles.get(r, "") for r in df["rule_id"]]
        df = df.rename(columns={"rule_severity": "severity"}).drop(columns="seq")
    elif cols == ["severity"]:
        df["label"] = [SEVERITY_LABELS.get(s, s) for s in df["severity"]]
    elif cols == ["entity_type"]:
        df["label"] = [TYPE_LABELS.get(t, t) for t in df["entity_type"]]
    else:
        df["label"] = df[cols[0]].astype(str) if len(cols) == 1 else \
            df[cols].astype(str).agg(" · ".join, axis=1)
    return df.drop(columns=[c for c in ("_total", "_plan", "_k") if c in df]).reset_index(
        drop=True)


def finding_stats(store, *, as_of: str, filters: Mapping[str, Any] | None = None
                  ) -> dict[str, int]:
    """Counts of the open findings matching ``filters``: total, per severity, per plan
    state (unplanned, planned, overdue)."""
    sql, params = _joined(store, as_of, engine.FINDING, filters)
    rows = store.rows(f"SELECT severity, plan_state, count(*) FROM ({sql}) GROUP BY ALL",
                      params)
    out = {"findings": 0, **{s: 0 for s in SEVERITIES}, **{p: 0 for p in rem.PLAN_STATES}}
    for severity, plan, n in rows:
        out["findings"] += int(n)
        out[severity] += int(n)
        out[plan] += int(n)
    return out


FINDING_ROW_COLUMNS = ["severity", "rule_id", "clause", "entity_type", "entity_id", "detail",
                       "due_at", "plan_state", "owner", "target_date"]


def findings_rows(store, *, as_of: str, filters: Mapping[str, Any] | None = None,
                  sort: str = "severity", limit: int = PAGE_SIZE, offset: int = 0
                  ) -> pd.DataFrame:
    """One page of open findings with their plan, sorted in SQL (``SORTS``)."""
    if sort not in SORTS:
        raise ValueError(f"sort {sort!r} is not one of {', '.join(SORTS)}")
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    sql, params = _joined(store, as_of, engine.FINDING, filters)
    return store.df(f"SELECT {', '.join(FINDING_ROW_COLUMNS)} FROM ({sql}) "
                    f"ORDER BY {SORTS[sort][1]} LIMIT ? OFFSET ?", params + [limit, offset])


DUE_ROW_COLUMNS = ["due_at", "severity", "rule_id", "clause", "entity_type", "entity_id",
                   "detail"]


def due_stats(store, *, as_of: str, filters: Mapping[str, Any] | None = None,
              within_days: int | None = None) -> dict[str, Any]:
    """Due items (not late yet) matching ``filters`` within ``within_days``: count and the
    next deadline."""
    f = {k: v for k, v in clean_filters(filters).items() if k != "plan"}
    sql, params = _joined(store, as_of, engine.DUE, f, within_days)
    n, first = store.rows(f"SELECT count(*), min(due_at) FROM ({sql})", params)[0]
    return {"due": int(n), "next_due_at": first}


def due_rows(store, *, as_of: str, filters: Mapping[str, Any] | None = None,
             within_days: int | None = None, limit: int = PAGE_SIZE, offset: int = 0
             ) -> pd.DataFrame:
    """One page of due items, soonest first."""
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    f = {k: v for k, v in clean_filters(filters).items() if k != "plan"}
    sql, params = _joined(store, as_of, engine.DUE, f, within_days)
    return store.df(f"SELECT {', '.join(DUE_ROW_COLUMNS)} FROM ({sql}) "
                    "ORDER BY due_at, rule_seq, entity_num, entity_id LIMIT ? OFFSET ?",
                    params + [limit, offset])


def due_group_of(rule_id: str) -> str:
    for key, _title, rules in DUE_GROUPS:
        if rule_id in rules:
            return key
    return "other"


def due_groups(store, *, as_of: str) -> pd.DataFrame:
    """What falls due, per group (reports to the regulator, notices to users, agreements
    expiring, records due for deletion ...), within ``due_urgent_days`` and within
    ``due_soon_days``. Columns: group, label, horizon (days), window (label), due,
    next_due_at, rules (the group's rule ids with items). Every group is listed."""
    urgent = int(store.settings.due_urgent_days)
    soon = int(store.settings.due_soon_days)
    rows = []
    for days in sorted({min(urgent, soon), soon}):
        counts = engine.due_counts(store, as_of, by="rule_id", within_days=days)
        by_group: dict[str, dict[str, Any]] = {}
        for r in counts.itertuples(index=False):
            g = by_group.setdefault(due_group_of(r.rule_id), {"due": 0, "next": None,
                                                             "rules": []})
            g["due"] += int(r.due)
            g["rules"].append(r.rule_id)
            nxt = pd.Timestamp(r.next_due_at)
            g["next"] = nxt if g["next"] is None or nxt < g["next"] else g["next"]
        for key, title, _rules in DUE_GROUPS:
            g = by_group.get(key, {"due": 0, "next": None, "rules": []})
            rows.append({"group": key, "label": title, "horizon": days,
                         "window": f"Within {days} days", "due": g["due"],  # English
                         "next_due_at": g["next"], "rules": sorted(g["rules"])})
    df = pd.DataFrame(rows, columns=["group", "label", "horizon", "window", "due",
                                     "next_due_at", "rules"])
    df["due"] = df["due"].astype("int64")
    return df


# The Overview's tabs under its KPI cards, in order: label (also the value of its ``tab``
# query parameter) -> the keys of the charts it draws. Only the open tab runs and is sent
# to the browser (pages/overview.py), so a first visit draws the first tab's charts only
# (bench/bench_browser.py counts them).
OVERVIEW_TABS: dict[str, tuple[str, ...]] = {
    N_("Scores"): ("chart_article", "chart_clause"),
    N_("Trend"): ("chart_trend",),
    N_("Findings and incidents"): ("chart_rule", "chart_severity", "chart_incidents"),
    N_("What falls due"): ("chart_due",),
    N_("Every rule"): (),
}
OVERVIEW_TAB_PARAM = "tab"


def incident_breakdown(store, *, as_of: str) -> pd.DataFrame:
    """Incidents detected by the as-of moment, by grade and (current) status.
    Columns: grade, status, incidents; grades most serious first."""
    at = moment(store, as_of)
    df = store.df("SELECT grade, status, count(*) AS incidents FROM incidents "
                  "WHERE detected_at <= ? GROUP BY ALL", [at])
    df["incidents"] = df["incidents"].astype("int64")
    g = {k: i for i, k in enumerate(GRADE_ORDER)}
    s = {k: i for i, k in enumerate(INCIDENT_STATUS_ORDER)}
    df["_g"] = df["grade"].map(lambda x: g.get(x, 99))
    df["_s"] = df["status"].map(lambda x: s.get(x, 99))
    return df.sort_values(["_g", "_s"]).drop(columns=["_g", "_s"]).reset_index(drop=True)


def rule_table(store, *, as_of: str) -> pd.DataFrame:
    """Every rule's score with its findings by plan state: the overview's rule table.
    Columns: rule_id, title, clause, severity, entity_type, applicable, failing, due, score,
    score_pct, band, unplanned, planned, overdue, link (the Findings page for the rule)."""
    df = scores(store, as_of=as_of, level="rule").rename(columns={"code": "rule_id"})
    plans = findings_breakdown(store, as_of=as_of, by="rule_id")
    pivot = {(r.rule_id, r.plan_state): int(r.findings) for r in plans.itertuples(index=False)}
    for state in rem.PLAN_STATES:
        df[state] = [pivot.get((r, state), 0) for r in df["rule_id"]]
    df["link"] = [finding_link(rule=[r], as_of=None if is_now(as_of) else as_of)
                  for r in df["rule_id"]]
    return df[["rule_id", "title", "clause", "severity", "entity_type", "applicable",
               "failing", "due", "score", "score_pct", "band", *rem.PLAN_STATES, "link"]]


def is_now(as_of: str | None) -> bool:
    """Whether ``as_of`` (from ``as_of_for``) is the current moment, not a past day."""
    return as_of is None or len(str(as_of)) > 10


# -- links -------------------------------------------------------------------------------

def url_params(*, as_of: str | None = None, view: str | None = None,
               within: int | None = None, finding: str | None = None,
               **filters: Any) -> dict[str, str | list[str]]:
    """The Findings page's query parameters for a view: filter codes become the values its
    widgets show (severity, entity type and plan as labels, in the page's locale: Streamlit
    puts a bound widget's shown words in the address). Empty values are left out."""
    f = clean_filters(filters)
    out: dict[str, str | list[str]] = {}
    if as_of:
        out["as_of"] = str(as_of)[:10]
    if view == "due":
        out["view"] = _("Due soon")
    for key in FILTER_KEYS:
        if key not in f:
            continue
        value = f[key]
        if key == "severity":
            value = [_(SEVERITY_LABELS[v]) for v in SEVERITY_ORDER if v in value]
        elif key == "type":
            value = [_(TYPE_LABELS[t]) for t in ENTITY_TYPES if t in value]
        elif key == "plan":
            value = [_(PLAN_LABELS[p]) for p in rem.PLAN_STATES if p in value]
        out[key] = value if isinstance(value, str) or len(value) != 1 else value[0]
    if within is not None:
        out["within"] = str(within)
    if finding:
        out["finding"] = finding
    return out


def finding_link(**kwargs: Any) -> str:
    """A relative link to the Findings page for a view (``findings?rule=PROC-PIA``)."""
    params = url_params(**kwargs)
    return "findings" + ("?" + urlencode(params, doseq=True) if params else "")


def finding_key(rule_id: str, entity_id: Any) -> str:
    """The ``finding`` query parameter: ``PROC-PIA:PRC-0007``."""
    return f"{rule_id}:{entity_id}"


def parse_finding_key(text: str | None) -> tuple[str, str] | None:
    if not text or ":" not in str(text):
        return None
    rule_id, _, entity_id = str(text).partition(":")
    rule_id, entity_id = rule_id.strip(), entity_id.strip()
    if rule_id not in {r.rule_id for r in load_rules()} or not entity_id:
        return None
    return rule_id, entity_id


def drill_params(custom: Sequence[Any], *, as_of: str | None = None
                 ) -> dict[str, str | list[str]] | None:
    """The Findings page's query parameters for a clicked chart segment, from its
    ``customdata`` (``dashboard.charts_compliance``), whose first item names the chart:
    ``[article|clause|rule, code, ...]`` (score bars), ``[rule|severity, code, plan_state]``
    (findings by plan), ``["due", group, horizon, rules JSON]``, ``[article, code, ...]``
    (trend). ``None`` when the segment leads to no findings list: the overall trend line,
    a group with nothing due, an incident segment (see ``incident_filters``)."""
    custom = list(custom or [])
    if len(custom) < 2:
        return None
    kind, code = str(custom[0]), custom[1]
    if kind in ("article", "clause", "rule"):
        plan = [custom[2]] if len(custom) > 2 and custom[2] in rem.PLAN_STATES else None
        return url_params(as_of=as_of, **{kind: [str(code)]}, plan=plan)
    if kind == "severity":
        plan = [custom[2]] if len(custom) > 2 and custom[2] in rem.PLAN_STATES else None
        return url_params(as_of=as_of, severity=[str(code)], plan=plan)
    if kind == "due":
        rules = json.loads(custom[3]) if len(custom) > 3 and custom[3] else []
        if not rules:
            return None
        return url_params(as_of=as_of, view="due", rule=rules, within=int(custom[2]))
    return None


def incident_filters(custom: Sequence[Any]) -> dict[str, list[str]] | None:
    """The Incidents page's filters (its widget keys ``f_grade``, ``f_status``) for a
    clicked segment of the incidents chart (``["incident", grade, status]``)."""
    custom = list(custom or [])
    if len(custom) < 3 or custom[0] != "incident":
        return None
    return {"f_grade": [str(custom[1])], "f_status": [str(custom[2])]}


# -- one finding ----------------------------------------------------------------------------

def filter_options() -> dict[str, list[str]]:
    """The Findings page's choices: rules (contract order), clauses and articles with
    rules (policy order), severities, entity types, plan states."""
    rules = load_rules()

    def key(c: str) -> tuple[int, ...]:
        return tuple(int(p) for p in c.split("."))

    return {
        "rule": [r.rule_id for r in rules],
        "clause": sorted({r.clause for r in rules}, key=key),
        "article": sorted({r.article for r in rules}, key=key),
        "severity": list(SEVERITY_ORDER), "type": list(ENTITY_TYPES),
        "plan": list(rem.PLAN_STATES),
    }


def rule_info(rule_id: str) -> dict[str, str] | None:
    """A rule's metadata and plain-language explanation (``data/rules/rules.toml``)."""
    for r in load_rules():
        if r.rule_id == rule_id:
            return {"rule_id": r.rule_id, "title": r.title, "clause": r.clause,
                    "article": r.article, "severity": r.severity,
                    "severity_reason": r.severity_reason, "entity_type": r.entity_type,
                    "promise": r.promise, "breach": r.breach, "fix": r.fix,
                    "legal_source": r.legal_source, "reading": r.reading,
                    "sql_file": f"data/rules/{r.sql_path.name}"}
    return None


def clause_info(clause: str) -> dict[str, str] | None:
    """A policy clause's text and its article's title."""
    clauses = clause_map()
    c = clauses.get(clause)
    if c is None:
        return None
    article = clauses.get(c.article)
    return {"clause": c.clause, "title": c.title, "body": c.body, "article": c.article,
            "parent": c.parent or "",
            "article_title": article.title if article is not None else ""}


def entity_record(store, *, entity_type: str, entity_id: str) -> pd.DataFrame:
    """The entity's register row as (field, heading, value) text rows; empty when the
    register has no such row. Retention records show their deletion due date too."""
    if entity_type not in ENTITY_REGISTER:
        raise ValueError(f"entity type {entity_type!r} is not one of {', '.join(ENTITY_TYPES)}")
    reg = REGISTERS[ENTITY_REGISTER[entity_type]]
    names = [c.name for c in reg.columns]
    source = reg.name
    if entity_type == "retention_record":
        source, names = "retention_due", names + ["due_on"]
        key_sql = f"{reg.key} = TRY_CAST(? AS BIGINT)"
    else:
        key_sql = f"{reg.key} = ?"
    with store.cursor() as cur:        # Python values: a DATE stays a date, not a timestamp
        row = cur.execute(f"SELECT {', '.join(names)} FROM {source} WHERE {key_sql} LIMIT 1",
                          [str(entity_id)]).fetchone()
    headings = {c.name: _(c.heading) for c in reg.columns}
    headings["due_on"] = _("Due for deletion (retention rule)")
    if row is None:
        return pd.DataFrame(columns=["field", "heading", "value"])
    from .registers import LABEL_KINDS
    from .reference import category_label
    kinds = LABEL_KINDS.get(reg.name, {})

    def words(name: str, value: Any) -> Any:
        """Codes in words (the page shows this table; it is never exported)."""
        kind = kinds.get(name)
        if kind is None or value is None:
            return value
        one = category_label if kind == "category" else (lambda c: i18n.label(kind, c))
        if isinstance(value, (list, tuple)):
            return [one(v) for v in value]
        return one(value)

    return pd.DataFrame([{"field": n, "heading": headings.get(n, n),
                          "value": str(v) if n == reg.key else show_value(words(n, v),
                                                                            store.tz)}
                         for n, v in zip(names, row)])


def show_value(value: Any, tz=None) -> str:
    """A register value as text: lists joined, dates ISO, times to the minute."""
    if value is None:
        return "—"
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "—"
    try:
        if pd.isna(value):
            return "—"
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and tz is not None:
            value = value.astimezone(tz)
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def entity_history(store, *, entity_type: str, entity_id: str, limit: int = 100
                   ) -> pd.DataFrame:
    """The audit log's entries about the entity (its own, e.g. incident steps and
    acknowledgements of its findings), and the imports into its register, newest first."""
    register = ENTITY_REGISTER.get(entity_type, entity_type)
    return store.df(
        "SELECT seq, logged_at, actor, role, action, entity_type, entity_id, values_before, "
        "values_after FROM audit_log "
        "WHERE (entity_type IN (?, ?) AND entity_id = ?) "
        "   OR (entity_type = ? AND entity_id IS NULL AND action = 'register.import') "
        "ORDER BY seq DESC LIMIT ?",
        [entity_type, register, str(entity_id), register, int(limit)])


def finding_detail(store, *, as_of: str, rule_id: str, entity_id: str) -> dict[str, Any]:
    """Everything the drill-down shows for one (rule, entity): the finding as of
    ``as_of`` (or the due item, or neither), the rule and its clause, the entity's record,
    its history (audit entries; an incident's timeline), the plan and its revisions, and
    the other rules the entity fails."""
    rule = rule_info(rule_id)
    if rule is None:
        raise ValueError(f"unknown rule {rule_id!r}")
    entity_id = str(entity_id)
    etype = rule["entity_type"]
    finding = engine.findings_page(store, as_of, rule_id=rule_id, entity_id=entity_id, limit=1)
    due = engine.due_page(store, as_of, rule_id=rule_id, entity_id=entity_id, limit=1)
    others = engine.findings_page(store, as_of, entity_type=etype, entity_id=entity_id,
                                  limit=100)
    others = others[others["rule_id"] != rule_id].reset_index(drop=True)
    plan = rem.plan_for(store, rule_id=rule_id, entity_type=etype, entity_id=entity_id)
    at = moment(store, as_of)
    state = None
    if not finding.empty:
        state = "unplanned"
        if plan is not None and pd.Timestamp(plan["acknowledged_at"]) <= pd.Timestamp(at):
            state = "overdue" if plan["target_date"] < at.date() else "planned"
    timeline = None
    if etype == "incident":
        from .incidents import incident_timeline
        timeline = incident_timeline(store, entity_id)
    page, param = REGISTER_PAGES[etype]
    return {
        "rule": rule, "entity_type": etype, "entity_id": entity_id,
        "finding": None if finding.empty else finding.iloc[0].to_dict(),
        "due": None if due.empty else due.iloc[0].to_dict(),
        "plan_state": state, "plan": plan,
        "plan_history": rem.plan_history(store, rule_id=rule_id, entity_type=etype,
                                         entity_id=entity_id),
        "clause": clause_info(rule["clause"]),
        "record": entity_record(store, entity_type=etype, entity_id=entity_id),
        "history": entity_history(store, entity_type=etype, entity_id=entity_id),
        "timeline": timeline,
        "others": others,
        "register_page": page, "register_param": {param: entity_id},
    }


def history_display(df: pd.DataFrame, tz=None) -> pd.DataFrame:
    """Audit entries for a table: the values before/after as short ``field: value`` text."""
    out = pd.DataFrame({
        "seq": df["seq"], "logged_at": df["logged_at"], "actor": df["actor"],
        "role": df["role"], "action": df["action"],
        "change": [_change_text(b, a) for b, a in zip(df["values_before"], df["values_after"])],
    })
    return out


def _change_text(before: Any, after: Any) -> str:
    def load(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        try:
            return json.loads(v)
        except (TypeError, ValueError):
            return v
    b, a = load(before), load(after)
    if isinstance(a, dict):
        parts = []
        for k, v in a.items():
            old = b.get(k) if isinstance(b, dict) else None
            shown = v if not isinstance(v, (list, dict)) else json.dumps(v, ensure_ascii=False)
            parts.append(f"{k}: {old} → {shown}" if old is not None and old != v
                         else f"{k}: {shown}")
        return "; ".join(parts)
    return "" if a is None else str(a)

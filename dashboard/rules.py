"""The compliance rules as data: metadata in ``data/rules/rules.toml``, SQL in one file per rule.

An auditor reads ``data/rules/<RULE-ID>.sql`` to see exactly how a rule is checked; a
DPO reads the rule's plain-language explanation (promise, breach, fix, legal source,
reading). ``docs/RULES.md`` is generated from the same data: run
``.venv/bin/python -m dashboard.rules`` after changing a rule (a test keeps it in step).

Rule SQL contract: a single SELECT yielding one row per *applicable* entity with the
columns ``entity_id``, ``failing`` (boolean, never null), ``detail`` (text for the DPO)
and ``due_at`` (TIMESTAMPTZ: the deadline of an obligation still open or missed, null
when met or when the rule has none). Parameters are named (``$as_of_date``) and bound by
the engine; the known ones are in ``PARAMETERS``.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Mapping

from .settings import DATA_DIR, ROOT

RULES_DIR = DATA_DIR / "rules"
RULES_TOML = RULES_DIR / "rules.toml"
MACROS_PATH = RULES_DIR / "_macros.sql"
DOC_PATH = ROOT / "docs" / "RULES.md"

SEVERITIES = ("low", "medium", "high")          # ascending
SEVERITY_RANK = {s: i + 1 for i, s in enumerate(SEVERITIES)}
ENTITY_TYPES = ("processor", "sharing_agreement", "retention_record", "incident",
                "rights_request")
ENTITY_REGISTER = {
    "processor": "processors",
    "sharing_agreement": "sharing_agreements",
    "retention_record": "retention_records",
    "incident": "incidents",
    "rights_request": "rights_requests",
}

# Every parameter a rule may use: name -> (SQL type, meaning, setting it comes from).
PARAMETERS: dict[str, tuple[str, str, str | None]] = {
    "as_of": ("TIMESTAMPTZ", "the check moment: --as-of DATE means the close of that day "
                             "(23:59:59.999999 Asia/Shanghai)", None),
    "as_of_date": ("DATE", "the check date: the Asia/Shanghai date of as_of", None),
    "regulator_hours": ("INTEGER", "hours to report to the regulator: regulator_report_hours, "
                                   "or regulator_report_hours_cii when cii_operator is true",
                        "regulator_report_hours"),
    "regulator_report_hours": ("INTEGER", "hours to report to the regulator (ordinary operator "
                               "and incident)", "regulator_report_hours"),
    "regulator_report_hours_cii": ("INTEGER", "hours to report to the regulator when the "
                                   "operator is CII or the incident involves CII",
                                   "regulator_report_hours_cii"),
    "cii_operator": ("BOOLEAN", "whether the Platform is a CII operator", "cii_operator"),
    "user_notice_hours": ("INTEGER", "hours to notify affected users", "user_notice_hours"),
    "pi_authority_notice_hours": ("INTEGER", "hours to notify the authority protecting personal "
                                  "information (PIPL Art. 57)", "pi_authority_notice_hours"),
    "police_report_hours": ("INTEGER", "hours to report a suspected crime to the police",
                            "police_report_hours"),
    "police_report_hours_cii": ("INTEGER", "hours to report a suspected crime to the police "
                                "when the operator is CII or the incident involves CII",
                                "police_report_hours_cii"),
    "summary_report_days": ("INTEGER", "days after resolution to file the summary report",
                            "summary_report_days"),
    "incident_stale_days": ("INTEGER", "days without a timeline step before an incident is stale",
                            "incident_stale_days"),
    "grade_relatively_major_subjects": ("BIGINT", "affected people from which an incident is "
                                        "at least relatively major",
                                        "grade_relatively_major_subjects"),
    "grade_major_subjects": ("BIGINT", "affected people from which an incident is at least major",
                             "grade_major_subjects"),
    "grade_particularly_major_subjects": ("BIGINT", "affected people from which an incident is "
                                          "particularly major",
                                          "grade_particularly_major_subjects"),
    "grade_relatively_major_loss_cny": ("BIGINT", "direct economic loss (yuan) from which an "
                                        "incident is at least relatively major",
                                        "grade_relatively_major_loss_cny"),
    "grade_major_loss_cny": ("BIGINT", "direct economic loss (yuan) from which an incident is "
                             "at least major", "grade_major_loss_cny"),
    "grade_particularly_major_loss_cny": ("BIGINT", "direct economic loss (yuan) from which an "
                                          "incident is particularly major",
                                          "grade_particularly_major_loss_cny"),
    "grade_important_data_floor": ("VARCHAR", "the lowest grade of an incident involving "
                                   "important or core data", "grade_important_data_floor"),
    "processor_assessment_days": ("INTEGER", "days within which an active processor must have "
                                  "been assessed", "processor_assessment_days"),
    "offboard_return_days": ("INTEGER", "days after offboarding to confirm return or deletion",
                             "offboard_return_days"),
    "legal_disclosure_notice_days": ("INTEGER", "days after a legal disclosure to notify users",
                                     "legal_disclosure_notice_days"),
    "dsr_response_working_days": ("INTEGER", "working days after the day of receipt to answer "
                                  "a rights request (mainland calendar)",
                                  "dsr_response_working_days"),
}

_PARAM_RE = re.compile(r"\$([a-z_][a-z0-9_]*)")
# The texts a reader sees, each with a Chinese twin ``<field>_zh`` in rules.toml (issue 17):
# ``text(rule, field)`` gives the one of the page's locale.
TEXT_FIELDS = ("title", "promise", "breach", "fix", "legal_source", "reading",
               "severity_reason", "v2_change", "law_beyond_policy")
_REQUIRED_FIELDS = ("rule_id", "clause", "severity", "severity_reason", "entity_type", "title",
                    "promise", "breach", "fix", "legal_source", "reading")


class RuleError(ValueError):
    """A rule file or the rules' metadata is malformed, or a rule's SQL misbehaves."""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    clause: str
    article: str
    severity: str
    title: str
    entity_type: str
    promise: str
    breach: str
    fix: str
    legal_source: str
    sql: str                     # the file's text, header comment included
    sql_path: Path
    severity_reason: str = ""
    reading: str = ""
    params: tuple[str, ...] = ()  # named parameters the SQL uses, in first-use order
    seq: int = 0                  # position in rules.toml (the contract's order)
    also_clauses: tuple[str, ...] = ()  # further clauses the contract names for the rule
                                  # (findings carry the first, ``clause``; see docs/RULES.md)
    introduced: int = 1           # contract version that added the rule (1 or 2)
    v2_change: str = ""           # for a v1 rule version 2 changed: what changed and why
    law_beyond_policy: str = ""   # for a v2 rule: what the law asks that the policy's text
                                  # does not say (the Policy page's "policy vs law" view)
    refresh: str = "day"          # when its stored result is renewed (REFRESH_CLASSES)
    changes_at: tuple[str, ...] = ()  # "data", "moment": the table.column values it compares
                                  # with $as_of (a later value is when the result may change)
    zh: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False,
                                  repr=False)  # TEXT_FIELDS in Chinese (``title`` -> ``title_zh``)

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK[self.severity]

    @cached_property
    def query(self) -> str:
        """The SQL without comments and without a trailing semicolon, ready to nest."""
        return strip_sql(self.sql)

    @property
    def explanation(self) -> str:
        """The plain-language explanation for the DPO (help text), in the page's locale."""
        from .i18n import _
        return _("**Promise.** {promise}\n\n**Why this is a finding.** {breach}\n\n"
                 "**What fixes it.** {fix}\n\n**Legal source.** {legal_source}\n\n"
                 "**Reading.** {reading}").format(
            promise=text(self, "promise"), breach=text(self, "breach"), fix=text(self, "fix"),
            legal_source=text(self, "legal_source"), reading=text(self, "reading"))


def text(rule: Rule, name: str) -> str:
    """A rule's displayed text ``name`` (one of ``TEXT_FIELDS``) in the page's locale
    (``i18n.get_locale()``): the ``<name>_zh`` of rules.toml in Chinese, else the English;
    the codes it names in words (docs/RULES.md keeps the codes: it documents the contract)."""
    if name not in TEXT_FIELDS:
        raise KeyError(f"{name!r} is not one of {', '.join(TEXT_FIELDS)}")
    english = str(getattr(rule, name) or "")
    from .i18n import is_chinese, words_in
    # the contract's codes a text names (legal_basis explicit_consent ...) in words
    if english and is_chinese():
        return words_in(rule.zh.get(name) or english)
    return words_in(english)


def strip_sql(sql: str) -> str:
    """Drop ``--`` comments and a trailing semicolon, ready to nest as a subquery.

    Rule SQL must not hold ``--`` inside a string literal (refused here, not mangled)."""
    lines = []
    for number, line in enumerate(sql.splitlines(), start=1):
        code, dashes, _comment = line.partition("--")
        if dashes and code.count("'") % 2:
            raise RuleError(f"line {number}: '--' inside a string literal; rule SQL keeps "
                            "'--' for comments only")
        lines.append(code.rstrip())
    text = "\n".join(line for line in lines if line.strip())
    return text.rstrip().rstrip(";").rstrip()


def sql_params(sql: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in _PARAM_RE.findall(strip_sql(sql)):
        seen.setdefault(name, None)
    return tuple(seen)


@lru_cache(maxsize=2)
def _load(toml_path: Path, rules_dir: Path) -> tuple[Rule, ...]:
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{toml_path}: {exc}") from None
    rules: list[Rule] = []
    seen: set[str] = set()
    for seq, entry in enumerate(data.get("rule", [])):
        where = f"{toml_path.name}, rule #{seq + 1}"
        missing = [f for f in _REQUIRED_FIELDS if not str(entry.get(f, "")).strip()]
        if missing:
            raise RuleError(f"{where}: missing {', '.join(missing)}")
        rule_id = entry["rule_id"]
        where = f"{toml_path.name}, rule {rule_id}"
        if not re.fullmatch(r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)*", rule_id):
            raise RuleError(f"{where}: rule_id is upper-case words joined by '-'")
        if rule_id in seen:
            raise RuleError(f"{where}: rule_id appears twice")
        seen.add(rule_id)
        if entry["severity"] not in SEVERITIES:
            raise RuleError(f"{where}: severity {entry['severity']!r} is not one of "
                            f"{', '.join(SEVERITIES)}")
        if entry["entity_type"] not in ENTITY_TYPES:
            raise RuleError(f"{where}: entity_type {entry['entity_type']!r} is not one of "
                            f"{', '.join(ENTITY_TYPES)}")
        if entry.get("introduced", 1) not in (1, 2):
            raise RuleError(f"{where}: introduced must be 1 or 2 (the contract's version)")
        if entry.get("introduced", 1) == 2 and not entry.get("law_beyond_policy", "").strip():
            raise RuleError(f"{where}: a version 2 rule says what the law asks beyond the "
                            "policy (law_beyond_policy)")
        if not re.fullmatch(r"\d+(\.\d+)*", entry["clause"]):
            raise RuleError(f"{where}: clause {entry['clause']!r} is not a clause number")
        path = rules_dir / f"{rule_id}.sql"
        if not path.exists():
            raise RuleError(f"{where}: its SQL file {path} does not exist")
        sql = path.read_text(encoding="utf-8")
        params = sql_params(sql)
        unknown = [p for p in params if p not in PARAMETERS]
        if unknown:
            raise RuleError(f"{path.name}: unknown parameter(s) {', '.join('$' + p for p in unknown)}"
                            f"; known: {', '.join('$' + p for p in PARAMETERS)}")
        refresh, changes_at = _refresh(where, entry, params, sql)
        rules.append(Rule(
            rule_id=rule_id, clause=entry["clause"], article=entry["clause"].split(".")[0],
            severity=entry["severity"], title=entry["title"], entity_type=entry["entity_type"],
            promise=entry["promise"], breach=entry["breach"], fix=entry["fix"],
            legal_source=entry["legal_source"], sql=sql, sql_path=path,
            severity_reason=entry["severity_reason"], reading=entry["reading"],
            params=params, seq=seq, introduced=int(entry.get("introduced", 1)),
            also_clauses=tuple(entry.get("also_clauses", ())),
            v2_change=entry.get("v2_change", ""),
            law_beyond_policy=entry.get("law_beyond_policy", ""),
            refresh=refresh, changes_at=changes_at,
            zh=dict({f: str(entry[f"{f}_zh"]) for f in TEXT_FIELDS
                                 if str(entry.get(f"{f}_zh", "")).strip()}),
        ))
    if not rules:
        raise RuleError(f"{toml_path}: no [[rule]] entries")
    return tuple(rules)


# How long a rule's stored result holds (dashboard/engine.py, docs/RULES.md "Stored,
# incremental evaluation"); every class is also renewed when a table it reads changes.
REFRESH_CLASSES = {
    "day": "reads the check date only ($as_of_date): its result holds for the whole day",
    "data": "reads the check moment ($as_of) only to leave out what is recorded as happening "
            "later (changes_at): its result holds for the day, until the earliest such later "
            "value comes",
    "moment": "counts hours to a deadline (the incident clocks, the rights-request "
              "deadline): as \"data\", and also until the earliest of its deadlines (due_at) "
              "not yet passed; the time spans in its text (rule_live_span) are written afresh "
              "at each read",
}
_COMPARED = re.compile(r'"?([A-Za-z_][A-Za-z0-9_.]*)"?\s*<=\s*\$as_of\b')
# The other uses of $as_of a "moment" rule may make: a deadline passing (``$as_of >
# deadline``: the rule's due_at wherever that decides, so the stored result holds until the
# earliest due_at) and a time span in its text (``rule_live_span(x, $as_of)``).
_MOMENT_USES = re.compile(r"\$as_of\s*>\s*[A-Za-z_][A-Za-z0-9_.]*\b(?!\s*[-+*/(])"
                          r"|rule_live_span\(\s*[A-Za-z_][A-Za-z0-9_.]*\s*,\s*\$as_of\s*\)")


def _refresh(where: str, entry: dict, params: tuple[str, ...], sql: str
             ) -> tuple[str, tuple[str, ...]]:
    """The rule's refresh class, checked against its SQL: "day" when it does not read
    $as_of; else "data" or "moment" as rules.toml declares (default "moment"), with
    ``changes_at`` naming every column the SQL compares with $as_of as ``column <=
    $as_of``. A "data" rule uses $as_of in no other way; a "moment" rule may also in
    ``$as_of > deadline`` and ``rule_live_span(x, $as_of)`` (``_MOMENT_USES``)."""
    declared = entry.get("refresh")
    changes_at = tuple(entry.get("changes_at", ()))
    if "as_of" not in params:
        if declared not in (None, "day") or changes_at:
            raise RuleError(f"{where}: a rule that does not read $as_of is a \"day\" rule")
        return "day", ()
    refresh = declared or "moment"
    if refresh not in ("data", "moment"):
        raise RuleError(f"{where}: refresh {declared!r} is not one of "
                        f"{', '.join(REFRESH_CLASSES)}")
    if not changes_at or not all(re.fullmatch(r"[a-z_]+\.[a-z_]+", c) for c in changes_at):
        raise RuleError(f"{where}: a \"{refresh}\" rule names the table.column values it "
                        "compares with $as_of (changes_at)")
    query = strip_sql(sql)
    columns = {c.rsplit(".", 1)[-1] for c in changes_at}
    compared = _COMPARED.findall(query)
    rest = _COMPARED.sub("", query)
    allowed = "`column <= $as_of` with a column of changes_at"
    if refresh == "moment":
        rest = _MOMENT_USES.sub("", rest)
        allowed += ", `$as_of > deadline` and `rule_live_span(x, $as_of)`"
    if re.search(r"\$as_of\b", rest) or any(c.rsplit(".", 1)[-1] not in columns
                                             for c in compared):
        raise RuleError(f"{where}: a \"{refresh}\" rule may use $as_of only as {allowed} "
                        f"({', '.join(changes_at)})")
    return refresh, changes_at


def load_rules() -> list[Rule]:
    """Every rule, in the contract's order (the order of ``rules.toml``)."""
    return list(_load(RULES_TOML, RULES_DIR))


def rule_map() -> dict[str, Rule]:
    return {r.rule_id: r for r in load_rules()}


@lru_cache(maxsize=2)
def _read_macros(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def macros_sql() -> str:
    """The helper macros the rules' detail strings use (``data/rules/_macros.sql``)."""
    return _read_macros(MACROS_PATH)


@lru_cache(maxsize=2)
def _digest(toml_path: Path, macros_path: Path, rules_dir: Path) -> str:
    h = hashlib.sha256()
    paths = [toml_path, macros_path] + [r.sql_path for r in _load(toml_path, rules_dir)]
    for path in paths:
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def rules_digest() -> str:
    """SHA-256 over rules.toml, the macros and every rule file, as loaded by this process:
    it names the rules that made a result (snapshots record it)."""
    return _digest(RULES_TOML, MACROS_PATH, RULES_DIR)


# -- docs/RULES.md ------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_rule_table(rules: list[Rule] | None = None) -> str:
    rules = rules or load_rules()
    lines = ["| rule_id | clause | severity | entity | fires when | legal source |",
             "|---|---|---|---|---|---|"]
    for r in rules:
        lines.append(f"| `{r.rule_id}` | {r.clause} | {r.severity} | {r.entity_type} | "
                     f"{_cell(r.breach)} | {_cell(r.legal_source)} |")
    return "\n".join(lines)


def render_rule_details(rules: list[Rule] | None = None) -> str:
    rules = rules or load_rules()
    out = []
    for r in rules:
        params = ", ".join(f"`${p}`" for p in r.params)
        out.append(
            f"### {r.rule_id} — {r.title}\n\n"
            f"Clause {r.clause} · severity **{r.severity}** · {r.entity_type} · "
            f"SQL: [`data/rules/{r.sql_path.name}`](../data/rules/{r.sql_path.name}) · "
            f"parameters: {params} · refresh: **{r.refresh}**"
            f"{' (' + ', '.join(f'`{c}`' for c in r.changes_at) + ')' if r.changes_at else ''}"
            "\n\n"
            f"- **Promise.** {r.promise}\n"
            f"- **Why this is a finding.** {r.breach}\n"
            f"- **What fixes it.** {r.fix}\n"
            f"- **Legal source.** {r.legal_source}\n"
            f"- **Reading.** {r.reading}\n"
            f"- **Why {r.severity}.** {r.severity_reason}\n"
        )
    return "\n".join(out).rstrip()


def render_parameters() -> str:
    from .settings import SPEC_BY_NAME
    lines = ["| parameter | type | meaning | setting (default, confidence) |", "|---|---|---|---|"]
    for name, (sql_type, meaning, setting) in PARAMETERS.items():
        if setting:
            spec = SPEC_BY_NAME[setting]
            default = (str(spec.default).lower() if isinstance(spec.default, bool)
                       else f"{spec.default:,}" if isinstance(spec.default, int)
                       else spec.default)
            src = f"`{setting}` ({default} {spec.unit}, {spec.confidence})"
            if name == "regulator_hours":
                cii = SPEC_BY_NAME["regulator_report_hours_cii"]
                src += (f"; `regulator_report_hours_cii` ({cii.default:,} {cii.unit}, "
                        f"{cii.confidence})")
        else:
            src = "—"
        lines.append(f"| `${name}` | {sql_type} | {_cell(meaning)} | {src} |")
    return "\n".join(lines)


def render_refresh() -> str:
    lines = ["| refresh | when the stored result is renewed | rules |", "|---|---|---|"]
    rules = load_rules()
    for name, meaning in REFRESH_CLASSES.items():
        ids = ", ".join(f"`{r.rule_id}`" for r in rules if r.refresh == name)
        lines.append(f"| **{name}** | {_cell(meaning)} | {ids or '—'} |")
    return "\n".join(lines)


SECTIONS = {
    "refresh": render_refresh,
    "rule-table": render_rule_table,
    "rule-details": render_rule_details,
    "parameters": render_parameters,
}


def render_doc(text: str) -> str:
    """``text`` with every generated section (between BEGIN/END markers) regenerated."""
    for name, render in SECTIONS.items():
        begin = f"<!-- BEGIN GENERATED: {name} -->"
        end = f"<!-- END GENERATED: {name} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise RuleError(f"{DOC_PATH.name} has no section marked {begin} ... {end}")
        body = render()
        text = pattern.sub(lambda _m: f"{begin}\n{body}\n{end}", text)
    return text


def main() -> int:
    current = DOC_PATH.read_text(encoding="utf-8")
    updated = render_doc(current)
    if updated != current:
        DOC_PATH.write_text(updated, encoding="utf-8")
        print(f"updated {DOC_PATH}")
    else:
        print(f"{DOC_PATH} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

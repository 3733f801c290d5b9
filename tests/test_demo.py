"""The demo and large data generator (dashboard/demo.py) and `python -m dashboard seed`.

The rule checks here are written straight from the data contract's rule tables (version 1,
as changed and extended by "Compliance rules, version 2"), in plain SQL, independently of
the compliance engine: they say what the generator promises (a few true violations of
every rule, due items that are not late yet, entities outside each rule's scope) whatever
the engine does. One test then checks that the engine finds exactly the same.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dashboard import audit, demo
from dashboard.access import PermissionDenied
from dashboard.cli import main as cli_main
from dashboard.reference import load_catalog
from dashboard.registers import (
    AGREEMENT_TERMS, CONSENT_TYPES, GRADES, HOLD_REASONS, INCIDENT_STATUSES, INCIDENT_TYPES,
    LEGAL_BASES, NOTICE_CONTENTS, NOTIFICATION_CHANNELS, PROCESSOR_KINDS, PROCESSOR_STATUSES,
    PURPOSES, REQUEST_CHANNELS, REQUEST_KINDS, REQUEST_STATUSES, SHARING_KINDS,
    SHARING_STATUSES,
)
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import ADMIN, DEMO_AS_OF, DPO, FROZEN_NOW, MANAGER, SYSTEM, make_store

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT.parent / "shared" / "reference" / "data-contract.md"
MOMENT = demo.reference_moment(DEMO_AS_OF, Settings())
LARGE_N = 50_000

KEYS = {"processors": "processor_id", "sharing_agreements": "agreement_id",
        "retention_records": "record_id", "incidents": "incident_id",
        "incident_events": "event_id", "rights_requests": "request_id",
        "request_events": "event_id"}

# -- the contract's rule table, as plain SQL --------------------------------------------------
# $as_of is the check date, $moment the check instant (for the hour clocks). Where version 2
# changed a rule, the SQL is version 2's.
_SEVEN_TERMS = "['purpose', 'duration', 'method', 'categories', 'protection_measures', " \
               "'rights_obligations', 'return_or_delete']"
_SIX_CONTENTS = "['categories', 'cause', 'possible_harm', 'remedial_measures', " \
                "'self_protection_advice', 'contact']"
_SENSITIVE = "(SELECT list(code) FROM data_categories WHERE sensitive)"
_REPORTABLE = "('relatively_major', 'major', 'particularly_major')"
_GRADES = "['general', 'relatively_major', 'major', 'particularly_major']"

RULE_SQL = {
    "PROC-CONFIDENTIALITY": """
        SELECT processor_id FROM processors
        WHERE status = 'active' AND len(coalesce(data_categories, [])) > 0
          AND (confidentiality_signed_on IS NULL OR nda_signed_on IS NULL)""",
    "PROC-AGREEMENT-EXPIRED": """
        SELECT processor_id FROM processors
        WHERE status = 'active' AND agreement_expires_on < $as_of""",
    "PROC-TERMS": f"""
        SELECT processor_id FROM processors
        WHERE status = 'active'
          AND NOT list_has_all(coalesce(agreement_terms, []), {_SEVEN_TERMS})""",
    "PROC-MINIMUM-DATA": """
        WITH need AS (SELECT purpose, list(category) AS cats FROM purpose_categories
                      GROUP BY purpose)
        SELECT p.processor_id FROM processors p LEFT JOIN need n ON n.purpose = p.purpose
        WHERE p.status = 'active'
          AND NOT list_has_all(coalesce(n.cats, []), coalesce(p.data_categories, []))""",
    "PROC-PIA": """
        SELECT processor_id FROM processors
        WHERE status = 'active' AND len(coalesce(data_categories, [])) > 0
          AND (pia_done_on IS NULL OR pia_done_on > engaged_on OR pia_done_on > $as_of)""",
    "PROC-ASSESSMENT": """
        SELECT processor_id FROM processors
        WHERE status = 'active'
          AND (last_assessed_on IS NULL OR last_assessed_on < $as_of - $assess::INTEGER)""",
    "PROC-LOCATION": """
        SELECT processor_id FROM processors WHERE status = 'active' AND storage_region <> 'CN'""",
    "PROC-OFFBOARD-RETURN": """
        SELECT processor_id FROM processors
        WHERE status = 'offboarded'
          AND ((data_returned_on IS NULL AND offboarded_on + $ret::INTEGER < $as_of)
               OR data_returned_on > offboarded_on + $ret::INTEGER)""",
    "SHARE-CONSENT": """
        SELECT agreement_id FROM sharing_agreements
        WHERE status = 'active' AND kind IN ('share', 'transfer', 'disclosure')
          AND legal_basis = 'explicit_consent'
          AND (consent IS NULL OR consent NOT IN ('explicit', 'separate')
               OR coalesce(trim(consent_evidence), '') = '')""",
    "SHARE-SENSITIVE-CONSENT": f"""
        SELECT agreement_id FROM sharing_agreements
        WHERE status = 'active' AND legal_basis = 'explicit_consent'
          AND list_has_any(data_categories, {_SENSITIVE})
          AND consent IS DISTINCT FROM 'separate'""",
    "SHARE-TRANSFER-BASIS": """
        SELECT agreement_id FROM sharing_agreements
        WHERE kind = 'transfer'
          AND legal_basis NOT IN ('explicit_consent', 'merger_acquisition')""",
    "SHARE-MERGER-NOTICE": """
        SELECT agreement_id FROM sharing_agreements
        WHERE legal_basis = 'merger_acquisition'
          AND ((users_notified_on IS NULL AND effective_from <= $as_of)
               OR users_notified_on >= effective_from)""",
    "SHARE-LEGAL-NOTICE": """
        SELECT agreement_id FROM sharing_agreements
        WHERE kind = 'disclosure' AND legal_basis = 'legal_requirement'
          AND (coalesce(trim(legal_reference), '') = ''
               OR (users_notified_on IS NULL AND effective_from + $notice::INTEGER < $as_of)
               OR users_notified_on > effective_from + $notice::INTEGER)""",
    "SHARE-CONFIDENTIALITY": """
        SELECT agreement_id FROM sharing_agreements
        WHERE status = 'active' AND legal_basis <> 'legal_requirement'
          AND confidentiality_clause IS NOT TRUE""",
    "SHARE-EXPIRED-ACTIVE": """
        SELECT agreement_id FROM sharing_agreements
        WHERE status = 'active' AND expires_on < $as_of""",
    "SHARE-CROSS-BORDER": """
        SELECT agreement_id FROM sharing_agreements
        WHERE status = 'active' AND recipient_region <> 'CN'""",
    "RET-OVERDUE": """
        SELECT record_id FROM retention_due
        WHERE deleted_on IS NULL AND due_on < $as_of AND hold_reason IS NULL""",
    "RET-HOLD-INVALID": """
        SELECT record_id FROM retention_records
        WHERE hold_reason IS NOT NULL
          AND (coalesce(trim(hold_reference), '') = '' OR hold_review_on < $as_of)""",
    "RET-LOCATION": """
        SELECT record_id FROM retention_records
        WHERE deleted_on IS NULL AND storage_region <> 'CN'""",
    "INC-EMERGENCY-PLAN": """
        SELECT incident_id FROM incidents WHERE emergency_plan_activated_at IS NULL""",
    "INC-REGULATOR-DEADLINE": f"""
        WITH i AS (SELECT *, to_hours(CASE WHEN cii_involved THEN $reg_h_cii ELSE $reg_h END)
                             AS clock FROM incidents)
        SELECT incident_id FROM i
        WHERE grade IN {_REPORTABLE}
          AND ((regulator_reported_at IS NULL AND detected_at + clock < $moment)
               OR regulator_reported_at > detected_at + clock)""",
    "INC-GRADE": f"""
        SELECT incident_id FROM incidents
        WHERE list_position({_GRADES}, grade) < greatest(
            CASE WHEN affected_subjects >= $pm THEN 4 WHEN affected_subjects >= $major THEN 3
                 WHEN affected_subjects >= $rm THEN 2 ELSE 1 END,
            CASE WHEN economic_loss_cny >= $pm_loss THEN 4
                 WHEN economic_loss_cny >= $major_loss THEN 3
                 WHEN economic_loss_cny >= $rm_loss THEN 2 ELSE 1 END,
            CASE WHEN important_data_involved THEN list_position({_GRADES}, $floor)
                 ELSE 1 END)""",
    "INC-USER-NOTICE": """
        SELECT incident_id FROM incidents
        WHERE affected_subjects > 0 AND coalesce(trim(user_notice_exemption), '') = ''
          AND ((users_notified_at IS NULL AND detected_at + to_hours($notice_h) < $moment)
               OR users_notified_at > detected_at + to_hours($notice_h))""",
    "INC-NOTICE-CONTENT": f"""
        SELECT incident_id FROM incidents
        WHERE users_notified_at IS NOT NULL
          AND NOT list_has_all(coalesce(notice_contents, []), {_SIX_CONTENTS})""",
    "INC-SUMMARY": """
        SELECT incident_id FROM incidents
        WHERE resolved_at IS NOT NULL
          AND ((summary_filed_at IS NULL AND resolved_at + to_days($summary_d) < $moment)
               OR summary_filed_at > resolved_at + to_days($summary_d))""",
    "INC-STALE": """
        SELECT i.incident_id FROM incidents i
        LEFT JOIN (SELECT incident_id, max("at") AS last_at FROM incident_events
                   GROUP BY incident_id) e ON e.incident_id = i.incident_id
        WHERE i.resolved_at IS NULL
          AND coalesce(e.last_at, i.detected_at) < $moment - to_days($stale_d)""",
    # -- version 2's new rules
    "INC-PI-AUTHORITY": """
        WITH i AS (SELECT *, least(pi_authority_notified_at, regulator_reported_at) AS told
                   FROM incidents)
        SELECT incident_id FROM i
        WHERE affected_subjects > 0
          AND ((told IS NULL AND detected_at + to_hours($auth_h) < $moment)
               OR told > detected_at + to_hours($auth_h))""",
    "INC-POLICE": """
        WITH i AS (SELECT *, to_hours(CASE WHEN cii_involved THEN $police_h_cii
                                           ELSE $police_h END) AS clock FROM incidents)
        SELECT incident_id FROM i
        WHERE suspected_crime
          AND ((police_reported_at IS NULL AND detected_at + clock < $moment)
               OR police_reported_at > detected_at + clock)""",
    "SHARE-SEPARATE-CONSENT": """
        SELECT agreement_id FROM sharing_agreements
        WHERE status = 'active' AND kind IN ('share', 'transfer', 'disclosure')
          AND len(coalesce(data_categories, [])) > 0 AND processor_id IS NULL
          AND legal_basis IN ('explicit_consent', 'dispute_resolution', 'affiliate_service')
          AND consent IS DISTINCT FROM 'separate'""",
    "SHARE-PIA": """
        SELECT agreement_id FROM sharing_agreements
        WHERE status = 'active' AND kind IN ('share', 'transfer', 'disclosure')
          AND len(coalesce(data_categories, [])) > 0 AND processor_id IS NULL
          AND legal_basis <> 'legal_requirement' AND effective_from <= $as_of
          AND (pia_done_on IS NULL OR pia_done_on > effective_from OR pia_done_on > $as_of)""",
    # -- the rights requests' rules. $workdays: the mainland working days, in order (from
    # the calendar package, below); a request's deadline is the end of the $wd-th working
    # day after the day of receipt (Asia/Shanghai)
    "DSR-DEADLINE": """
        WITH cal AS (SELECT unnest($workdays) AS d, generate_subscripts($workdays, 1) AS n),
        q AS (SELECT *, (received_at AT TIME ZONE $tz)::DATE AS rd FROM rights_requests),
        due AS (SELECT q.request_id, q.status, q.completed_at,
                       timezone($tz, (c2.d + 1)::TIMESTAMP) AS deadline
                FROM q ASOF JOIN cal c1 ON q.rd >= c1.d JOIN cal c2 ON c2.n = c1.n + $wd)
        SELECT request_id FROM due
        WHERE status <> 'withdrawn'
          AND ((status NOT IN ('completed', 'refused') AND deadline <= $moment)
               OR (status IN ('completed', 'refused') AND completed_at >= deadline))""",
    "DSR-REFUSAL-REASON": """
        SELECT request_id FROM rights_requests
        WHERE status = 'refused' AND coalesce(trim(refusal_reason), '') = ''""",
    "DSR-DELETION-DONE": """
        SELECT q.request_id FROM rights_requests q
        WHERE q.status = 'completed' AND q.kind IN ('delete', 'cancel_account')
          AND EXISTS (SELECT 1 FROM retention_records r
                      WHERE r.subject_ref = q.subject_ref AND r.hold_reason IS NULL
                        AND (r.deleted_on IS NULL
                             OR r.deleted_on > (q.completed_at AT TIME ZONE $tz)::DATE))""",
    "DSR-IDENTITY": """
        SELECT request_id FROM rights_requests
        WHERE status = 'completed' AND kind IN ('access', 'copy', 'delete', 'cancel_account')
          AND (identity_verified_at IS NULL OR identity_verified_at > completed_at)""",
}
V2_RULES = ("INC-PI-AUTHORITY", "INC-POLICE", "SHARE-SEPARATE-CONSENT", "SHARE-PIA",
            "DSR-DEADLINE", "DSR-REFUSAL-REASON", "DSR-DELETION-DONE", "DSR-IDENTITY")


@functools.lru_cache(maxsize=None)
def mainland_working_days(first: int = 2024, last: int = 2028) -> tuple[dt.date, ...]:
    """Working days on the mainland calendar: the official arrangement (holidays and
    make-up days) from ``chinese_calendar`` where it knows the year, else weekends and the
    statutory holidays (``holidays``), as the data contract says for an unknown year."""
    import chinese_calendar
    import holidays
    days, d = [], dt.date(first, 1, 1)
    while d.year <= last:
        try:
            work = chinese_calendar.is_workday(d)
        except NotImplementedError:
            work = d.weekday() < 5 and d not in holidays.China(years=d.year)
        if work:
            days.append(d)
        d += dt.timedelta(days=1)
    return tuple(days)


def test_the_test_calendar_knows_the_2026_arrangement():
    """The State Council's 2026 arrangement (the issue's): 20 September and 10 October are
    working days, 25 September and 1-7 October are not."""
    days = set(mainland_working_days())
    assert {dt.date(2026, 9, 20), dt.date(2026, 10, 10)} <= days
    assert not ({dt.date(2026, 9, 25)} | {dt.date(2026, 10, k) for k in range(1, 8)}) & days


def _params(sql: str, settings: Settings, as_of: dt.date, moment: dt.datetime) -> dict:
    values = {
        "as_of": as_of, "moment": moment, "assess": settings.processor_assessment_days,
        "ret": settings.offboard_return_days, "notice": settings.legal_disclosure_notice_days,
        "reg_h": settings.regulator_hours(), "notice_h": settings.user_notice_hours,
        "summary_d": settings.summary_report_days, "stale_d": settings.incident_stale_days,
        "rm": settings.grade_relatively_major_subjects, "major": settings.grade_major_subjects,
        "pm": settings.grade_particularly_major_subjects,
        "reg_h_cii": settings.regulator_hours(True), "auth_h": settings.pi_authority_notice_hours,
        "police_h": settings.police_hours(), "police_h_cii": settings.police_hours(True),
        "rm_loss": settings.grade_relatively_major_loss_cny,
        "major_loss": settings.grade_major_loss_cny,
        "pm_loss": settings.grade_particularly_major_loss_cny,
        "floor": settings.grade_important_data_floor,
        "tz": settings.timezone, "wd": demo._working_days_setting(settings),
    }
    if re.search(r"\$workdays\b", sql):
        values["workdays"] = list(mainland_working_days())
    return {k: v for k, v in values.items() if re.search(rf"\${k}\b", sql)}


def violations(store, rule: str, as_of: dt.date = DEMO_AS_OF,
               moment: dt.datetime = MOMENT) -> list:
    sql = RULE_SQL[rule]
    return [r[0] for r in store.rows(sql, _params(sql, store.settings, as_of, moment))]


def contents_hash(store) -> dict[str, str]:
    """An MD5 per table over every row, in key order (byte-identical contents)."""
    return {t: store.scalar(f"SELECT md5(coalesce(string_agg(t::VARCHAR, chr(10) "
                            f"ORDER BY {k}), '')) FROM {t} t")
            for t, k in KEYS.items()}


def rows_digest(store) -> dict[str, tuple]:
    """A cheap order-independent digest per table (for the large tables): row count and
    two aggregates of DuckDB's hash of each whole row."""
    return {t: tuple(store.rows(f"SELECT count(*), bit_xor(hash(t)), "
                                f"sum(hash(t)::HUGEINT) FROM {t} t")[0]) for t in KEYS}


def counts(store) -> dict[str, int]:
    return {t: store.scalar(f"SELECT count(*) FROM {t}") for t in KEYS}


def timeline_problems(store, moment: dt.datetime) -> list[tuple]:
    """Where incident_events and the incidents' timestamp columns disagree."""
    return store.rows("""
        WITH cols AS (
            SELECT incident_id, 'detected' AS kind, detected_at AS ts FROM incidents
            UNION ALL SELECT incident_id, 'emergency_plan_activated', emergency_plan_activated_at
                      FROM incidents WHERE emergency_plan_activated_at IS NOT NULL
            UNION ALL SELECT incident_id, 'contained', contained_at
                      FROM incidents WHERE contained_at IS NOT NULL
            UNION ALL SELECT incident_id, 'regulator_reported', regulator_reported_at
                      FROM incidents WHERE regulator_reported_at IS NOT NULL
            UNION ALL SELECT incident_id, 'pi_authority_notified', pi_authority_notified_at
                      FROM incidents WHERE pi_authority_notified_at IS NOT NULL
            UNION ALL SELECT incident_id, 'police_reported', police_reported_at
                      FROM incidents WHERE police_reported_at IS NOT NULL
            UNION ALL SELECT incident_id, 'users_notified', users_notified_at
                      FROM incidents WHERE users_notified_at IS NOT NULL
            UNION ALL SELECT incident_id, 'resolved', resolved_at
                      FROM incidents WHERE resolved_at IS NOT NULL
            UNION ALL SELECT incident_id, 'summary_filed', summary_filed_at
                      FROM incidents WHERE summary_filed_at IS NOT NULL
        ), ev AS (SELECT * FROM incident_events
                  WHERE kind NOT IN ('note', 'closed', 'user_notice_exempted')),
        exempted AS (SELECT incident_id, count(*) AS n FROM incident_events
                     WHERE kind = 'user_notice_exempted' GROUP BY incident_id),
        closed AS (SELECT incident_id, count(*) AS n, min("at") AS at
                   FROM incident_events WHERE kind = 'closed' GROUP BY incident_id)
        SELECT 'column without its event', c.incident_id, c.kind FROM cols c
        LEFT JOIN ev ON ev.incident_id = c.incident_id AND ev.kind = c.kind AND ev."at" = c.ts
        WHERE ev.event_id IS NULL
        UNION ALL
        SELECT 'event without its column', ev.incident_id, ev.kind FROM ev
        LEFT JOIN cols c ON ev.incident_id = c.incident_id AND ev.kind = c.kind AND ev."at" = c.ts
        WHERE c.incident_id IS NULL
        UNION ALL
        SELECT 'exemption without its one step', i.incident_id, i.status
        FROM incidents i FULL JOIN exempted x ON x.incident_id = i.incident_id
        WHERE (i.user_notice_exemption IS NOT NULL) <> (x.n IS NOT NULL) OR x.n > 1
        UNION ALL
        SELECT 'event of an unknown incident', e.incident_id, e.kind FROM incident_events e
        ANTI JOIN incidents i ON i.incident_id = e.incident_id
        UNION ALL
        SELECT 'event outside detection..moment', e.incident_id, e.kind
        FROM incident_events e JOIN incidents i USING (incident_id)
        WHERE e."at" < i.detected_at OR e."at" > $moment
        UNION ALL
        SELECT 'status does not match the timeline', i.incident_id, i.status
        FROM incidents i LEFT JOIN closed ON closed.incident_id = i.incident_id
        WHERE i.status <> CASE
                WHEN closed.n = 1 AND i.summary_filed_at IS NOT NULL THEN 'closed'
                WHEN closed.n IS NULL AND i.resolved_at IS NOT NULL THEN 'resolved'
                WHEN closed.n IS NULL AND i.contained_at IS NOT NULL THEN 'contained'
                WHEN closed.n IS NULL THEN 'open' ELSE 'inconsistent' END
        UNION ALL
        SELECT 'steps out of order', incident_id, status FROM incidents
        WHERE contained_at < detected_at OR emergency_plan_activated_at < detected_at
           OR resolved_at < contained_at OR summary_filed_at < resolved_at
           OR occurred_at > detected_at
           OR pi_authority_notified_at < detected_at OR police_reported_at < detected_at
           OR regulator_reported_at < detected_at OR users_notified_at < detected_at
           OR (resolved_at IS NOT NULL AND contained_at IS NULL)
           OR (summary_filed_at IS NOT NULL AND resolved_at IS NULL)
        UNION ALL
        SELECT 'notice fields without a notice', incident_id, status FROM incidents
        WHERE (users_notified_at IS NULL) <> (notice_contents IS NULL)
           OR (users_notified_at IS NULL) <> (notification_channels IS NULL)
           OR affected_sensitive_subjects > affected_subjects
           OR (user_notice_exemption IS NOT NULL AND users_notified_at IS NOT NULL)
           OR (police_reported_at IS NOT NULL AND NOT suspected_crime)
           OR economic_loss_cny < 0
        """, {"moment": moment})


# -- the rule SQL above is the contract's whole table -----------------------------------------

def test_rule_sql_covers_the_contracts_rule_table():
    if not CONTRACT.exists():
        pytest.skip("shared/ is not beside this checkout")
    text = CONTRACT.read_text(encoding="utf-8")
    v1 = text.split("\n## Compliance rules\n", 1)[1].split("\n## ", 1)[0]
    v2 = text.split("\n## Compliance rules, version 2\n", 1)[1].split("\n## ", 1)[0]
    rule_ids = re.findall(r"^\| ([A-Z]+(?:-[A-Z]+)+) \|", v1, flags=re.M)
    assert len(rule_ids) >= 26
    changed, new = v2.split("New rules:", 1)
    assert set(re.findall(r"^\| ([A-Z]+(?:-[A-Z]+)+) \|", changed, flags=re.M)) <= set(rule_ids)
    added = re.findall(r"^\| ([A-Z]+(?:-[A-Z]+)+) \|", new, flags=re.M)
    assert set(added) == set(V2_RULES)
    assert set(rule_ids) | set(added) == set(RULE_SQL)


# -- demo scale ------------------------------------------------------------------------------

def test_reference_moment_is_the_tests_frozen_clock():
    assert MOMENT == FROZEN_NOW


def test_demo_counts_are_in_range(demo_store):
    c = counts(demo_store)
    assert 30 <= c["processors"] <= 50
    assert 60 <= c["sharing_agreements"] <= 120
    assert 20_000 <= c["retention_records"] <= 60_000
    assert 30 <= c["incidents"] <= 60
    assert c["incident_events"] >= 4 * c["incidents"]
    assert 130 <= c["rights_requests"] <= 170
    assert c["request_events"] >= 3 * c["rights_requests"]


def _values(store, sql: str) -> set:
    return {r[0] for r in store.rows(sql)}


def test_demo_has_every_enum_value_that_matters(demo_store):
    s = demo_store
    catalog = load_catalog()
    assert _values(s, "SELECT kind FROM processors") == set(PROCESSOR_KINDS)
    assert _values(s, "SELECT purpose FROM processors") == set(PURPOSES)
    assert _values(s, "SELECT status FROM processors") == set(PROCESSOR_STATUSES)
    assert _values(s, "SELECT unnest(agreement_terms) FROM processors") == set(AGREEMENT_TERMS)
    assert _values(s, "SELECT kind FROM sharing_agreements") == set(SHARING_KINDS)
    assert _values(s, "SELECT legal_basis FROM sharing_agreements") == set(LEGAL_BASES)
    assert _values(s, "SELECT consent FROM sharing_agreements") == set(CONSENT_TYPES)
    assert _values(s, "SELECT status FROM sharing_agreements") == set(SHARING_STATUSES)
    # every kind on the basis the policy gives it
    pairs = s.rows("SELECT DISTINCT kind, legal_basis FROM sharing_agreements")
    for pair in [("share", "explicit_consent"), ("share", "entrusted_processing"),
                 ("share", "dispute_resolution"), ("share", "affiliate_service"),
                 ("transfer", "explicit_consent"), ("transfer", "merger_acquisition"),
                 ("disclosure", "legal_requirement"), ("disclosure", "affiliate_service")]:
        assert pair in pairs
    assert _values(s, "SELECT category FROM retention_records") == set(catalog.categories)
    assert _values(s, "SELECT hold_reason FROM retention_records "
                      "WHERE hold_reason IS NOT NULL") == set(HOLD_REASONS)
    assert len(_values(s, "SELECT system FROM retention_records")) >= 8
    assert _values(s, "SELECT incident_type FROM incidents") == set(INCIDENT_TYPES)
    assert _values(s, "SELECT grade FROM incidents") == set(GRADES)
    assert _values(s, "SELECT status FROM incidents") == set(INCIDENT_STATUSES)
    assert _values(s, "SELECT unnest(notification_channels) FROM incidents") == set(
        NOTIFICATION_CHANNELS)
    assert _values(s, "SELECT unnest(notice_contents) FROM incidents") == set(NOTICE_CONTENTS)
    assert _values(s, "SELECT kind FROM incident_events") == {
        "detected", "emergency_plan_activated", "contained", "regulator_reported",
        "pi_authority_notified", "police_reported", "users_notified", "user_notice_exempted",
        "resolved", "summary_filed", "closed", "note"}
    # rules version 2: every new column has values of each kind (not only null)
    for column in ("suspected_crime", "cii_involved", "important_data_involved"):
        assert _values(s, f"SELECT {column} FROM incidents") == {True, False}, column
    assert s.scalar("SELECT count(*) FILTER (WHERE user_notice_exemption IS NOT NULL) "
                    "FROM incidents") >= 2
    assert s.scalar("SELECT count(DISTINCT economic_loss_cny) FROM incidents") >= 20
    assert s.scalar("SELECT count(*) FROM processors WHERE list_contains(agreement_terms, "
                    "'rights_obligations')") >= 30
    # rights requests: every kind, channel and status
    assert _values(s, "SELECT kind FROM rights_requests") == set(REQUEST_KINDS)
    assert _values(s, "SELECT channel FROM rights_requests") == set(REQUEST_CHANNELS)
    assert _values(s, "SELECT status FROM rights_requests") == set(REQUEST_STATUSES)


def test_demo_names_are_bilingual_and_the_policy_processors_are_there(demo_store):
    names = [r[0] for r in demo_store.rows("SELECT name FROM processors")]
    assert all(" / " in n for n in names)
    assert all(re.search(r"[\u4e00-\u9fff]", n) and re.search(r"[A-Za-z]", n) for n in names)
    services = " ".join(r[0].lower() for r in demo_store.rows(
        "SELECT service || ' ' || purpose || ' ' || kind FROM processors WHERE status = 'active'"))
    for needle in ("face recognition", "sms verification", "cloud hosting", "recruitment",
                   "courier", "product testing", "affiliate", "consulting", "analytics",
                   "technical_support", "legal counsel"):
        assert needle in services, needle


@pytest.mark.parametrize("rule", sorted(RULE_SQL))
def test_demo_has_a_few_true_violations_of_every_rule(demo_store, rule):
    found = violations(demo_store, rule)
    if rule == "RET-OVERDUE":
        # a deletion backlog, spread over time: a few tens, well under 1 % of records
        assert 2 <= len(found) <= 0.01 * counts(demo_store)["retention_records"], found
    else:
        assert 2 <= len(found) <= 6, (rule, found)


def _one(store, sql: str, params=None) -> list:
    rows = store.rows(sql, params)
    assert rows, sql
    return rows


def test_demo_violations_are_the_believable_ones(demo_store):
    s = demo_store
    by_rule = {rule: set(violations(s, rule)) for rule in RULE_SQL}
    def pid(sql: str, params=None) -> set:
        return {r[0] for r in _one(s, sql, params)}

    # an NDA signed but no confidentiality agreement
    assert pid("SELECT processor_id FROM processors WHERE status = 'active' "
               "AND nda_signed_on IS NOT NULL AND confidentiality_signed_on IS NULL") \
        <= by_rule["PROC-CONFIDENTIALITY"]
    # a face-recognition vendor whose PIA came after engagement
    assert pid("SELECT processor_id FROM processors WHERE service ILIKE '%face recognition%' "
               "AND pia_done_on > engaged_on AND status = 'active'") <= by_rule["PROC-PIA"]
    # a recruitment platform receiving location
    assert pid("SELECT processor_id FROM processors WHERE purpose = 'recruitment' "
               "AND list_contains(data_categories, 'location')") <= by_rule["PROC-MINIMUM-DATA"]
    # an overseas analytics partner
    assert pid("SELECT processor_id FROM processors WHERE purpose = 'consulting_analysis' "
               "AND storage_region <> 'CN' AND status = 'active'") <= by_rule["PROC-LOCATION"]
    # a bundled-consent share
    assert pid("SELECT agreement_id FROM sharing_agreements WHERE consent = 'bundled' "
               "AND status = 'active'") <= by_rule["SHARE-CONSENT"]
    # a court-order disclosure with no user notice
    assert pid("SELECT agreement_id FROM sharing_agreements WHERE counterparty LIKE '%Court%' "
               "AND users_notified_on IS NULL") <= by_rule["SHARE-LEGAL-NOTICE"]
    # resumes kept past their maximum age
    assert pid("SELECT record_id FROM retention_due WHERE category = 'resume' "
               "AND service_ended_on IS NULL AND deleted_on IS NULL AND hold_reason IS NULL "
               "AND due_on < ?", [DEMO_AS_OF]) <= by_rule["RET-OVERDUE"]
    # holds with no reference, and holds whose review date has passed
    assert pid("SELECT record_id FROM retention_records WHERE hold_reason IS NOT NULL "
               "AND hold_reference IS NULL") <= by_rule["RET-HOLD-INVALID"]
    assert pid("SELECT record_id FROM retention_records WHERE hold_reason IS NOT NULL "
               "AND hold_reference IS NOT NULL AND hold_review_on < ?", [DEMO_AS_OF]) \
        <= by_rule["RET-HOLD-INVALID"]
    # an incident graded general despite 1.2 M affected
    assert pid("SELECT incident_id FROM incidents WHERE grade = 'general' "
               "AND affected_subjects >= 1200000") <= by_rule["INC-GRADE"]
    # a notice missing 'self_protection_advice'
    assert pid("SELECT incident_id FROM incidents WHERE users_notified_at IS NOT NULL AND NOT "
               "list_contains(notice_contents, 'self_protection_advice')") \
        <= by_rule["INC-NOTICE-CONTENT"]


def test_demo_v2_violations_are_the_believable_ones(demo_store):
    """The findings rules version 2 adds or widens, each planted as a story."""
    s = demo_store
    by_rule = {rule: set(violations(s, rule)) for rule in RULE_SQL}

    def ids(sql: str, params=None) -> set:
        return {r[0] for r in _one(s, sql, params)}

    # processors on the old template: the six terms of version 1, no rights and obligations
    old_template = ids("SELECT processor_id FROM processors WHERE status = 'active' AND "
                       "list_has_all(agreement_terms, ['purpose', 'duration', 'method', "
                       "'categories', 'protection_measures', 'return_or_delete']) AND NOT "
                       "list_contains(agreement_terms, 'rights_obligations')")
    assert len(old_template) >= 2 and old_template <= by_rule["PROC-TERMS"]
    # a processor receiving phone numbers only (nothing sensitive) with no PIA
    assert ids("SELECT processor_id FROM processors WHERE status = 'active' "
               "AND data_categories = ['phone'] AND pia_done_on IS NULL") <= by_rule["PROC-PIA"]
    # ... while every other active processor receiving PI had its PIA before engagement
    assert len(by_rule["PROC-PIA"]) == 3
    # a transfer and a disclosure on explicit consent that was never really given
    widened = ids("SELECT agreement_id FROM sharing_agreements WHERE status = 'active' "
                  "AND kind IN ('transfer', 'disclosure') AND legal_basis = 'explicit_consent' "
                  "AND consent IN ('none', 'bundled')")
    assert len(widened) == 2 and widened <= by_rule["SHARE-CONSENT"]
    assert widened <= by_rule["SHARE-SEPARATE-CONSENT"]
    # an affiliate share and a dispute-resolution share of ID numbers and bank accounts to
    # another handler, with no consent at all
    other = ids("SELECT agreement_id FROM sharing_agreements WHERE status = 'active' "
                "AND legal_basis IN ('affiliate_service', 'dispute_resolution') "
                "AND processor_id IS NULL AND consent = 'none' "
                "AND list_has_all(data_categories, ['id_card_number', 'bank_account'])")
    assert len(other) == 2 and other <= by_rule["SHARE-SEPARATE-CONSENT"]
    assert not other & (by_rule["SHARE-CONSENT"] | by_rule["SHARE-PIA"])
    # SHARE-PIA: none on record, one done after the agreement took effect, one dated ahead
    pia = by_rule["SHARE-PIA"]
    assert ids("SELECT agreement_id FROM sharing_agreements WHERE pia_done_on > ?",
               [DEMO_AS_OF]) <= pia
    assert ids("SELECT agreement_id FROM sharing_agreements WHERE status = 'active' "
               "AND processor_id IS NULL AND pia_done_on > effective_from") <= pia
    # ... while most agreements to other handlers had theirs before taking effect
    assessed = ids("SELECT agreement_id FROM sharing_agreements WHERE status = 'active' "
                   "AND processor_id IS NULL AND legal_basis <> 'legal_requirement' "
                   "AND pia_done_on <= effective_from")
    assert len(assessed) >= 4 * len(pia)
    # the case: 900,000 people's face images and ID numbers, graded general, no
    # authority told after nine days; under the 1 M threshold, so not INC-GRADE's
    case = ids("""SELECT incident_id FROM incidents WHERE grade = 'general'
                  AND affected_subjects = 900000
                  AND list_has_all(data_categories, ['facial_biometrics', 'id_card_number'])
                  AND pi_authority_notified_at IS NULL AND regulator_reported_at IS NULL
                  AND detected_at < $moment - INTERVAL 9 DAY""", {"moment": MOMENT})
    assert case <= by_rule["INC-PI-AUTHORITY"] and not case & by_rule["INC-GRADE"]
    # most incidents with people affected told the authority within hours
    told = s.scalar("SELECT count(*) FILTER (WHERE pi_authority_notified_at <= detected_at "
                    "+ INTERVAL 12 HOUR) / count(*) FROM incidents WHERE affected_subjects > 0")
    assert told >= 0.8
    # the police: told two days late after a weekend attack, never after a defacement; the
    # others on time
    police = by_rule["INC-POLICE"]
    assert len(police) == 2
    assert ids("SELECT incident_id FROM incidents WHERE suspected_crime "
               "AND police_reported_at > detected_at + INTERVAL 1 DAY") <= police
    assert ids("SELECT incident_id FROM incidents WHERE suspected_crime "
               "AND police_reported_at IS NULL AND detected_at < $moment - INTERVAL 1 DAY",
               {"moment": MOMENT}) <= police
    assert len(ids("SELECT incident_id FROM incidents WHERE suspected_crime "
                   "AND police_reported_at <= detected_at + to_hours($h)",
                   {"h": s.settings.police_hours()})) >= 10
    # critical information infrastructure: reported after 2 h, late for the 1 h clock
    cii = ids("SELECT incident_id FROM incidents WHERE cii_involved AND "
              "regulator_reported_at >= detected_at + INTERVAL 2 HOUR")
    assert cii <= by_rule["INC-REGULATOR-DEADLINE"]
    assert ids("SELECT incident_id FROM incidents WHERE cii_involved AND "
               "regulator_reported_at <= detected_at + INTERVAL 1 HOUR") \
        - by_rule["INC-REGULATOR-DEADLINE"]
    # INC-GRADE: 30 million yuan lost, graded relatively major; important data, graded general
    assert ids("SELECT incident_id FROM incidents WHERE grade = 'relatively_major' "
               "AND economic_loss_cny = 30000000") <= by_rule["INC-GRADE"]
    assert ids("SELECT incident_id FROM incidents WHERE grade = 'general' "
               "AND important_data_involved") <= by_rule["INC-GRADE"]
    # an exemption recorded: no notice to the users, and no finding for it
    exempt = ids("SELECT incident_id FROM incidents WHERE user_notice_exemption IS NOT NULL "
                 "AND affected_subjects > 0 AND users_notified_at IS NULL")
    assert not exempt & by_rule["INC-USER-NOTICE"]
    assert not exempt & by_rule["INC-PI-AUTHORITY"]       # the authority was told


def test_the_engine_finds_what_the_contract_says(demo_store):
    """At the seed's moment the compliance engine's findings are, rule by rule, the
    entities the contract's SQL above names: the demo shows every rule's true findings."""
    from dashboard import engine
    findings = engine.run_check(demo_store, MOMENT).findings
    for rule in RULE_SQL:
        found = {str(e) for e in findings.loc[findings.rule_id == rule, "entity_id"]}
        assert found == {str(e) for e in violations(demo_store, rule)}, rule


def test_demo_due_items_exist_and_are_not_late_yet(demo_store):
    _assert_due_items(demo_store, DEMO_AS_OF, MOMENT)


def _assert_due_items(s, as_of: dt.date, moment: dt.datetime) -> None:
    st = s.settings
    hours = dt.timedelta(hours=1)
    # an incident detected a couple of hours ago, regulator report and user notice running
    rows = _one(s, f"""
        SELECT incident_id, detected_at FROM incidents
        WHERE grade IN {_REPORTABLE} AND regulator_reported_at IS NULL
          AND detected_at <= $moment AND detected_at + to_hours($reg_h) > $moment
          AND affected_subjects > 0 AND users_notified_at IS NULL""",
        {"moment": moment, "reg_h": st.regulator_hours()})
    assert any(moment - d == st.regulator_hours() / 2 * hours for _, d in rows)
    # a contained incident whose user notice is still within its period
    _one(s, """SELECT incident_id FROM incidents WHERE affected_subjects > 0
               AND users_notified_at IS NULL AND status = 'contained'
               AND detected_at + to_hours($h) > $moment""",
         {"moment": moment, "h": st.user_notice_hours})
    # a resolved incident whose summary report is due in about ten days
    rows = _one(s, """SELECT resolved_at + to_days($d) FROM incidents
                      WHERE resolved_at IS NOT NULL AND summary_filed_at IS NULL
                        AND resolved_at + to_days($d) > $moment""",
                {"moment": moment, "d": st.summary_report_days})
    assert any(dt.timedelta(days=9) <= r[0] - moment <= dt.timedelta(days=11) for r in rows)
    # agreements expiring within 20 days (processors and their agreements)
    assert len(_one(s, "SELECT processor_id FROM processors WHERE status = 'active' AND "
                       "agreement_expires_on BETWEEN ? AND ?",
                    [as_of, as_of + dt.timedelta(days=20)])) >= 2
    assert len(_one(s, "SELECT agreement_id FROM sharing_agreements WHERE status = 'active' "
                       "AND expires_on BETWEEN ? AND ?",
                    [as_of, as_of + dt.timedelta(days=20)])) >= 2
    # records falling due for deletion next month
    next_month = (as_of.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    after = (next_month + dt.timedelta(days=32)).replace(day=1)
    assert len(_one(s, "SELECT record_id FROM retention_due WHERE deleted_on IS NULL AND "
                       "hold_reason IS NULL AND due_on >= ? AND due_on < ?",
                    [next_month, after])) >= 3
    # a merger transfer whose notice, and PIA, must come before it takes effect
    _one(s, "SELECT agreement_id FROM sharing_agreements WHERE legal_basis = "
            "'merger_acquisition' AND users_notified_on IS NULL AND pia_done_on IS NULL "
            "AND effective_from > ?", [as_of])
    # rules version 2: the incident detected a couple of hours ago has its authority notice
    # and its police report running too
    _one(s, """SELECT incident_id FROM incidents WHERE affected_subjects > 0
               AND pi_authority_notified_at IS NULL AND regulator_reported_at IS NULL
               AND suspected_crime AND police_reported_at IS NULL
               AND detected_at + to_hours($h) > $moment""",
         {"moment": moment, "h": min(st.police_hours(), st.pi_authority_notice_hours)})
    # a legal disclosure whose user notice is still within its period
    _one(s, "SELECT agreement_id FROM sharing_agreements WHERE legal_basis = "
            "'legal_requirement' AND users_notified_on IS NULL AND legal_reference IS NOT NULL "
            "AND effective_from + ?::INTEGER >= ?", [st.legal_disclosure_notice_days, as_of])
    # an offboarded processor whose return/deletion confirmation is not late yet
    _one(s, "SELECT processor_id FROM processors WHERE status = 'offboarded' AND "
            "data_returned_on IS NULL AND offboarded_on + ?::INTEGER >= ?",
         [st.offboard_return_days, as_of])
    # rights requests due within the week: open, their deadline in the next seven days
    assert len(_one(s, """
        WITH cal AS (SELECT unnest($workdays) AS d, generate_subscripts($workdays, 1) AS n),
        q AS (SELECT *, (received_at AT TIME ZONE $tz)::DATE AS rd FROM rights_requests
              WHERE status IN ('received', 'in_progress'))
        SELECT q.request_id FROM q ASOF JOIN cal c1 ON q.rd >= c1.d
        JOIN cal c2 ON c2.n = c1.n + $wd
        WHERE c2.d > $as_of AND c2.d <= $as_of + 7""",
        _params("$workdays $tz $wd $as_of", st, as_of, moment))) >= 3
    # an assessment falling due soon
    _one(s, "SELECT processor_id FROM processors WHERE status = 'active' AND "
            "last_assessed_on BETWEEN ? AND ?",
         [as_of - dt.timedelta(days=st.processor_assessment_days),
          as_of - dt.timedelta(days=st.processor_assessment_days - 15)])


def test_demo_has_entities_outside_each_rules_scope(demo_store):
    s = demo_store
    by_rule = {rule: set(violations(s, rule)) for rule in RULE_SQL}
    flagged = set().union(*by_rule.values())
    out_of_scope = {
        # suspended processors with every problem the active rules look for
        "suspended": "SELECT processor_id FROM processors WHERE status = 'suspended' AND "
                     "(pia_done_on IS NULL OR nda_signed_on IS NULL OR storage_region <> 'CN' "
                     "OR agreement_expires_on < $as_of)",
        "offboarded in time": "SELECT processor_id FROM processors WHERE status = 'offboarded' "
                              "AND data_returned_on <= offboarded_on + $ret::INTEGER",
        "no PI, no NDA": "SELECT processor_id FROM processors WHERE status = 'active' "
                         "AND len(data_categories) = 0 AND nda_signed_on IS NULL",
        "ended and expired": "SELECT agreement_id FROM sharing_agreements "
                             "WHERE status = 'ended' AND expires_on < $as_of",
        "ended bundled consent": "SELECT agreement_id FROM sharing_agreements "
                                 "WHERE status = 'ended' AND consent = 'bundled'",
        "ended abroad": "SELECT agreement_id FROM sharing_agreements "
                        "WHERE status = 'ended' AND recipient_region <> 'CN'",
        "disclosure on dispute resolution, no notice":
            "SELECT agreement_id FROM sharing_agreements WHERE kind = 'disclosure' "
            "AND legal_basis = 'dispute_resolution' AND users_notified_on IS NULL",
        "deleted abroad": "SELECT record_id::VARCHAR FROM retention_records "
                          "WHERE deleted_on IS NOT NULL AND storage_region <> 'CN'",
        "held past due": "SELECT record_id::VARCHAR FROM retention_due WHERE hold_reason IS NOT "
                         "NULL AND due_on < $as_of AND hold_reference IS NOT NULL "
                         "AND hold_review_on >= $as_of",
        "general, never reported": f"SELECT incident_id FROM incidents WHERE grade = 'general' "
                                   f"AND regulator_reported_at IS NULL "
                                   f"AND affected_subjects < $rm",
        "no one affected, no notice": "SELECT incident_id FROM incidents "
                                      "WHERE affected_subjects = 0 AND users_notified_at IS NULL",
    }
    for label, sql in out_of_scope.items():
        params = _params(sql, s.settings, DEMO_AS_OF, MOMENT)
        ids = {str(r[0]) for r in s.rows(sql, params)}
        assert ids, f"no entity: {label}"
        if label == "suspended":
            assert not ids & flagged, label
        elif label not in ("ended and expired", "ended abroad", "deleted abroad"):
            clean = ids - {str(x) for x in flagged}
            assert clean, f"every '{label}' entity is flagged by some rule"
        else:
            assert not ids & by_rule[{"ended and expired": "SHARE-EXPIRED-ACTIVE",
                                      "ended abroad": "SHARE-CROSS-BORDER",
                                      "deleted abroad": "RET-LOCATION"}[label]]


def test_most_demo_entities_comply(demo_store):
    s = demo_store
    by_rule = {rule: set(violations(s, rule)) for rule in RULE_SQL}

    def share_clean(table: str, prefix: str) -> float:
        bad = set().union(*(v for r, v in by_rule.items() if r.startswith(prefix)))
        return 1 - len(bad) / counts(s)[table]

    for table, prefix in (("processors", "PROC-"), ("sharing_agreements", "SHARE-"),
                          ("incidents", "INC-")):
        assert 0.72 <= share_clean(table, prefix) <= 0.92, table
    assert 0.88 <= share_clean("rights_requests", "DSR-") <= 0.97
    assert share_clean("retention_records", "RET-") >= 0.99


REQUEST_EVENT_KINDS = {"logged", "identity_verified", "in_progress", "completed",
                       "refused", "withdrawn"}


def request_timeline_problems(store, moment: dt.datetime) -> list[tuple]:
    """Where request_events and the requests' columns disagree, or a time is impossible."""
    return store.rows("""
        WITH cols AS (
            SELECT request_id, 'logged' AS kind, received_at AS ts FROM rights_requests
            UNION ALL SELECT request_id, 'identity_verified', identity_verified_at
                      FROM rights_requests WHERE identity_verified_at IS NOT NULL
            UNION ALL SELECT request_id, status, completed_at FROM rights_requests
                      WHERE status IN ('completed', 'refused')
        ), ev AS (SELECT * FROM request_events
                  WHERE kind IN ('logged', 'identity_verified', 'completed', 'refused'))
        SELECT 'column without its event', c.request_id, c.kind FROM cols c
        LEFT JOIN ev ON ev.request_id = c.request_id AND ev.kind = c.kind AND ev."at" = c.ts
        WHERE ev.event_id IS NULL
        UNION ALL
        SELECT 'event without its column', ev.request_id, ev.kind FROM ev
        LEFT JOIN cols c ON ev.request_id = c.request_id AND ev.kind = c.kind AND ev."at" = c.ts
        WHERE c.request_id IS NULL
        UNION ALL
        SELECT 'withdrawn without its one step', q.request_id, q.status
        FROM rights_requests q LEFT JOIN (SELECT request_id, count(*) AS n FROM request_events
                                          WHERE kind = 'withdrawn' GROUP BY request_id) w
             ON w.request_id = q.request_id
        WHERE (q.status = 'withdrawn') <> (w.n IS NOT NULL) OR w.n > 1
        UNION ALL
        SELECT 'event of an unknown request', e.request_id, e.kind FROM request_events e
        ANTI JOIN rights_requests q ON q.request_id = e.request_id
        UNION ALL
        SELECT 'event outside receipt..moment', e.request_id, e.kind
        FROM request_events e JOIN rights_requests q USING (request_id)
        WHERE e."at" < q.received_at OR e."at" > $moment OR e.recorded_at < e."at"
           OR e.recorded_at > $moment OR e.role NOT IN ('manager', 'dpo')
        UNION ALL
        SELECT 'answer fields without an answer', request_id, status FROM rights_requests
        WHERE (status IN ('completed', 'refused')) <> (completed_at IS NOT NULL)
           OR (refusal_reason IS NOT NULL AND status <> 'refused')
           OR completed_at < received_at OR identity_verified_at < received_at
           OR received_at > $moment
        """, {"moment": moment})


def test_demo_requests_are_about_real_subjects_and_have_histories(demo_store):
    s = demo_store
    assert request_timeline_problems(s, MOMENT) == []
    assert _values(s, "SELECT kind FROM request_events") == REQUEST_EVENT_KINDS
    # every request is about someone the retention records know
    assert s.scalar("SELECT count(*) FROM rights_requests q ANTI JOIN retention_records r "
                    "USING (subject_ref)") == 0
    # over the last ~6 months, mostly answered within days
    first = s.scalar("SELECT min(received_at) FROM rights_requests")
    assert dt.timedelta(days=150) <= MOMENT - first <= dt.timedelta(days=190)
    assert s.scalar("SELECT median(completed_at - received_at) FROM rights_requests "
                    "WHERE status = 'completed'") <= dt.timedelta(days=9)
    # bilingual notes and refusal reasons
    notes = [r[0] for r in s.rows("SELECT notes FROM rights_requests WHERE notes IS NOT NULL "
                                  "UNION ALL SELECT refusal_reason FROM rights_requests "
                                  "WHERE refusal_reason IS NOT NULL")]
    assert len(notes) >= 40
    assert all(re.search(r"[\u4e00-\u9fff]", n) and re.search(r"[A-Za-z]", n) for n in notes)


def test_demo_dsr_findings_are_the_planted_stories(demo_store):
    s = demo_store
    by_rule = {rule: set(violations(s, rule)) for rule in RULE_SQL if rule.startswith("DSR-")}

    def ids(sql: str, params=None) -> set:
        return {r[0] for r in _one(s, sql, params)}

    # DSR-DEADLINE: answered after five weeks, refused after six, still open after seven
    late = by_rule["DSR-DEADLINE"]
    assert len(late) == 3
    assert ids("SELECT request_id FROM rights_requests WHERE status = 'completed' "
               "AND completed_at - received_at > INTERVAL 30 DAY") <= late
    assert ids("SELECT request_id FROM rights_requests WHERE status = 'refused' "
               "AND completed_at - received_at > INTERVAL 30 DAY") <= late
    assert ids("SELECT request_id FROM rights_requests WHERE status = 'in_progress' "
               "AND received_at < $m - INTERVAL 40 DAY", {"m": MOMENT}) <= late
    # the calendar: received before the 2026 National Day holidays, answered 27 days later
    # on its 14th working day: compliant, though 15 weekdays had passed
    nd = ids("SELECT request_id FROM rights_requests WHERE received_at::DATE = '2026-09-24' "
             "AND completed_at::DATE = '2026-10-21'")
    assert not nd & late
    # DSR-REFUSAL-REASON: two refusals with no reason, every other refusal gives one
    assert len(by_rule["DSR-REFUSAL-REASON"]) == 2
    assert s.scalar("SELECT count(*) FROM rights_requests WHERE status = 'refused' "
                    "AND refusal_reason IS NOT NULL") >= 3
    # DSR-DELETION-DONE: a phone number left in the SMS gateway, a photo purged late; a
    # deletion with a record on legal hold is done
    undone = by_rule["DSR-DELETION-DONE"]
    assert len(undone) == 2
    assert ids("""SELECT q.request_id FROM rights_requests q JOIN retention_records r
                  USING (subject_ref) WHERE q.kind = 'cancel_account' AND q.status = 'completed'
                  AND r.system = 'sms-gateway' AND r.deleted_on IS NULL""") <= undone
    assert ids("""SELECT q.request_id FROM rights_requests q JOIN retention_records r
                  USING (subject_ref) WHERE q.kind = 'delete' AND q.status = 'completed'
                  AND r.deleted_on > (q.completed_at AT TIME ZONE 'Asia/Shanghai')::DATE""") \
        <= undone
    held = ids("""SELECT q.request_id FROM rights_requests q JOIN retention_records r
                  USING (subject_ref) WHERE q.kind IN ('delete', 'cancel_account')
                  AND q.status = 'completed' AND r.hold_reason IS NOT NULL""")
    assert not held & undone
    done = s.scalar("SELECT count(*) FROM rights_requests WHERE status = 'completed' "
                    "AND kind IN ('delete', 'cancel_account')")
    assert done >= 10 + len(undone)
    # DSR-IDENTITY: an answer sent with no identity check, a copy sent before it
    assert len(by_rule["DSR-IDENTITY"]) == 2
    assert ids("SELECT request_id FROM rights_requests WHERE status = 'completed' "
               "AND identity_verified_at > completed_at") <= by_rule["DSR-IDENTITY"]
    # withdrawn requests never fire, even the one never answered for ten weeks
    withdrawn = ids("SELECT request_id FROM rights_requests WHERE status = 'withdrawn'")
    assert len(withdrawn) >= 3
    assert not withdrawn & set().union(*by_rule.values())


def test_demo_timeline_agrees_with_the_incidents(demo_store):
    assert timeline_problems(demo_store, MOMENT) == []
    # no timestamp anywhere later than the seed's moment, no date after as_of but the
    # ones meant to lie ahead (expiry, review, an announced merger)
    assert demo_store.scalar("SELECT max(detected_at) FROM incidents") <= MOMENT
    assert demo_store.scalar("SELECT max(collected_on) FROM retention_records") < DEMO_AS_OF
    assert demo_store.scalar("SELECT max(deleted_on) FROM retention_records") <= DEMO_AS_OF
    assert demo_store.scalar("SELECT max(engaged_on) FROM processors") <= DEMO_AS_OF


def test_demo_history_has_a_shape(demo_store):
    s = demo_store
    overdue_months = s.scalar(
        "SELECT count(DISTINCT date_trunc('month', due_on)) FROM retention_due "
        "WHERE deleted_on IS NULL AND due_on < ? AND hold_reason IS NULL", [DEMO_AS_OF])
    assert overdue_months >= 8
    span = s.scalar("SELECT max(collected_on) - min(collected_on) FROM retention_records")
    assert 900 <= span <= 3 * 366
    # more records collected lately (the Platform grows)
    recent, older = s.rows("SELECT count(*) FILTER (WHERE collected_on >= ? - 365), "
                           "count(*) FILTER (WHERE collected_on < ? - 730) "
                           "FROM retention_records", [DEMO_AS_OF, DEMO_AS_OF])[0]
    assert recent > 3 * older
    first = s.scalar("SELECT min(detected_at) FROM incidents")
    assert dt.timedelta(days=650) <= MOMENT - first <= dt.timedelta(days=740)


def test_demo_is_deterministic_and_replaces_contents(tmp_path):
    a = make_store(tmp_path / "a.duckdb")
    b = make_store(tmp_path / "b.duckdb")
    try:
        counts_a = demo.seed(a, SYSTEM, scale="demo", as_of=DEMO_AS_OF, seed=0)
        demo.seed(b, SYSTEM, scale="demo", as_of=DEMO_AS_OF, seed=0)
        first = contents_hash(a)
        assert first == contents_hash(b)
        assert counts_a == counts(a)
        # seeding again replaces the contents: same data, one audit entry per seed
        demo.seed(a, SYSTEM, scale="demo", as_of=DEMO_AS_OF, seed=0)
        assert contents_hash(a) == first
        entries = a.rows("SELECT values_after FROM audit_log WHERE action = 'store.seed' "
                         "ORDER BY seq")
        assert len(entries) == 2
        after = json.loads(entries[-1][0])
        assert after == {"scale": "demo", "seed": 0, "as_of": DEMO_AS_OF.isoformat(),
                         "moment": MOMENT.isoformat(), "counts": counts_a}
        assert audit.verify(a).ok
        # another seed gives other data, and still every rule has its violations
        demo.seed(b, SYSTEM, scale="demo", as_of=DEMO_AS_OF, seed=7)
        other = contents_hash(b)
        assert all(other[t] != first[t] for t in KEYS), other
        for rule in RULE_SQL:
            assert violations(b, rule), rule
        _assert_due_items(b, DEMO_AS_OF, MOMENT)
        # another as_of moves everything with it
        later = DEMO_AS_OF + dt.timedelta(days=100)
        demo.seed(b, SYSTEM, scale="demo", as_of=later, seed=0)
        for rule in RULE_SQL:
            assert violations(b, rule, later, demo.reference_moment(later, b.settings)), rule
    finally:
        a.close()
        b.close()


def test_demo_without_as_of_is_as_of_the_store_clock(tmp_path):
    odd = dt.datetime(2027, 3, 5, 16, 47, 31, tzinfo=FROZEN_NOW.tzinfo)
    s = make_store(tmp_path / "now.duckdb", clock=lambda: odd)
    try:
        demo.seed(s, SYSTEM)
        moment = odd.replace(second=0)
        assert s.scalar("SELECT max(detected_at) FROM incidents") <= moment
        assert timeline_problems(s, moment) == []
        _assert_due_items(s, odd.date(), moment)
        after = json.loads(s.scalar("SELECT values_after FROM audit_log "
                                    "WHERE action = 'store.seed'"))
        assert after["as_of"] == "2027-03-05" and after["moment"] == moment.isoformat()
    finally:
        s.close()


def test_planted_violations_follow_the_settings(tmp_path):
    settings = Settings({"cii_operator": True, "user_notice_hours": 24,
                         "summary_report_days": 15, "incident_stale_days": 7,
                         "processor_assessment_days": 180, "offboard_return_days": 10,
                         "legal_disclosure_notice_days": 10})
    s = make_store(tmp_path / "settings.duckdb", settings=settings)
    try:
        demo.seed(s, SYSTEM, scale="demo", as_of=DEMO_AS_OF)
        for rule in RULE_SQL:
            assert violations(s, rule), rule
        _assert_due_items(s, DEMO_AS_OF, MOMENT)
        assert timeline_problems(s, MOMENT) == []
    finally:
        s.close()


def test_demo_honours_a_retention_override(tmp_path):
    s = make_store(tmp_path / "small.duckdb")
    try:
        c = demo.seed(s, SYSTEM, scale="demo", as_of=DEMO_AS_OF, retention_records=1_000)
        assert c["retention_records"] == 1_000
        assert s.scalar("SELECT max(record_id) FROM retention_records") == 1_000
        for rule in ("RET-OVERDUE", "RET-HOLD-INVALID", "RET-LOCATION"):
            assert violations(s, rule), rule
        assert demo.seed(s, SYSTEM, scale="demo", as_of=DEMO_AS_OF,
                         retention_records=0)["retention_records"] == 0
    finally:
        s.close()


def test_seed_clears_what_other_modules_keep_beside_incidents(demo_store):
    present = {r[0] for r in demo_store.rows("SELECT table_name FROM information_schema.tables")}
    satellites = [t for t in demo.SATELLITE_TABLES if t in present]
    if not satellites:
        pytest.skip("the incident tracker's tables are not in this schema")
    event = demo_store.scalar("SELECT min(event_id) FROM incident_events")
    with demo_store.write(SYSTEM, "incident.update") as w:
        if "incident_event_meta" in satellites:
            w.execute("INSERT INTO incident_event_meta (event_id, recorded_at, role) "
                      "VALUES (?, ?, 'manager')", [event, FROZEN_NOW])
        if "incident_requests" in satellites:
            w.execute("INSERT INTO incident_requests VALUES ('tok', 'INC-2026-0001', ?, "
                      "'incident.log', 'manager.wang', ?)", [event, FROZEN_NOW])
        w.audit("test.insert", "incident_event", event)
    demo.seed(demo_store, SYSTEM, scale="demo", as_of=DEMO_AS_OF, retention_records=100)
    seeded = {"evidence_events", "evidence_blobs"}     # the demo's own files, made afresh
    for table in set(satellites) - seeded:
        assert demo_store.scalar(f"SELECT count(*) FROM {table}") == 0, table


def test_seed_is_refused_for_a_manager_and_writes_nothing(demo_store):
    before, entries = contents_hash(demo_store), demo_store.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(PermissionDenied, match="manager"):
        demo.seed(demo_store, MANAGER, scale="demo", as_of=DEMO_AS_OF, seed=3)
    assert contents_hash(demo_store) == before
    assert demo_store.scalar("SELECT count(*) FROM audit_log") == entries


def test_seed_is_allowed_for_an_admin(tmp_path):
    s = make_store(tmp_path / "admin.duckdb")
    try:
        demo.seed(s, ADMIN, scale="demo", as_of=DEMO_AS_OF, retention_records=100)
        assert s.scalar("SELECT actor FROM audit_log WHERE action = 'store.seed'") == ADMIN.name
    finally:
        s.close()


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": "huge"}, "scale 'huge' is not one of: demo, large"),
    ({"retention_records": -1}, "retention_records -1 must be a whole number"),
    ({"retention_records": 2.5}, "retention_records 2.5 must be a whole number"),
    ({"seed": -3}, "seed -3 must be a whole number"),
    ({"seed": True}, "seed True must be a whole number"),
    ({"as_of": dt.datetime(2026, 11, 24, 9)}, "must be a date"),
    ({"as_of": "2026-11-24"}, "must be a date"),
    ({"as_of": dt.date(1900, 1, 1)}, "out of range"),
])
def test_bad_arguments_are_refused_before_anything_is_written(demo_store, kwargs, message):
    before, entries = contents_hash(demo_store), demo_store.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(demo.SeedError, match=re.escape(message)):
        demo.seed(demo_store, SYSTEM, **kwargs)
    assert contents_hash(demo_store) == before
    assert demo_store.scalar("SELECT count(*) FROM audit_log") == entries


# -- large scale, at a small size -------------------------------------------------------------

@pytest.fixture(scope="module")
def large_store(tmp_path_factory):
    s = make_store(tmp_path_factory.mktemp("large") / "large.duckdb")
    demo.seed(s, SYSTEM, scale="large", as_of=DEMO_AS_OF, seed=0, retention_records=LARGE_N)
    yield s
    s.close()


def test_large_gives_the_requested_counts(large_store):
    c = counts(large_store)
    assert c["processors"] == demo.LARGE_COUNTS["processors"]
    assert c["sharing_agreements"] == demo.LARGE_COUNTS["sharing_agreements"]
    assert c["retention_records"] == LARGE_N
    assert c["incidents"] == demo.LARGE_COUNTS["incidents"]
    assert c["rights_requests"] == demo.LARGE_COUNTS["rights_requests"] == 200_000
    assert 3 * c["rights_requests"] <= c["request_events"] <= 5 * c["rights_requests"]
    assert 3 * c["incidents"] <= c["incident_events"] <= 10 * c["incidents"]


def test_large_keys_are_unique_and_references_resolve(large_store):
    s = large_store
    for table, key in KEYS.items():
        assert s.scalar(f"SELECT count(DISTINCT {key}) = count(*) FROM {table}"), table
    assert s.scalar("SELECT min(record_id), max(record_id) FROM retention_records") == 1
    assert s.scalar("SELECT max(record_id) FROM retention_records") == LARGE_N
    assert s.scalar("SELECT count(*) FROM sharing_agreements a ANTI JOIN processors p "
                    "ON p.processor_id = a.processor_id WHERE a.processor_id IS NOT NULL") == 0
    assert s.scalar("SELECT count(*) FROM processors WHERE NOT regexp_full_match(processor_id, "
                    "'PRC-[0-9]{5}')") == 0
    assert s.scalar("SELECT count(*) FROM incidents WHERE NOT regexp_full_match(incident_id, "
                    "'INC-[0-9]{4}-[0-9]{6}') OR incident_id[5:8]::INTEGER "
                    "<> year(detected_at)") == 0


def test_large_values_are_valid(large_store):
    s = large_store
    catalog = set(load_catalog().categories)

    def within(sql: str, allowed) -> None:
        found = _values(s, sql) - {None}
        assert found <= set(allowed), (sql, found - set(allowed))

    within("SELECT kind FROM processors", PROCESSOR_KINDS)
    within("SELECT purpose FROM processors", PURPOSES)
    within("SELECT status FROM processors", PROCESSOR_STATUSES)
    within("SELECT unnest(data_categories) FROM processors", catalog)
    within("SELECT unnest(agreement_terms) FROM processors", AGREEMENT_TERMS)
    within("SELECT kind FROM sharing_agreements", SHARING_KINDS)
    within("SELECT legal_basis FROM sharing_agreements", LEGAL_BASES)
    within("SELECT consent FROM sharing_agreements", CONSENT_TYPES)
    within("SELECT unnest(data_categories) FROM sharing_agreements", catalog)
    within("SELECT category FROM retention_records", catalog)
    within("SELECT hold_reason FROM retention_records", HOLD_REASONS)
    within("SELECT incident_type FROM incidents", INCIDENT_TYPES)
    within("SELECT grade FROM incidents", GRADES)
    within("SELECT status FROM incidents", INCIDENT_STATUSES)
    within("SELECT unnest(notification_channels) FROM incidents", NOTIFICATION_CHANNELS)
    within("SELECT unnest(notice_contents) FROM incidents", NOTICE_CONTENTS)
    for table, col in (("processors", "storage_region"),
                       ("sharing_agreements", "recipient_region"),
                       ("retention_records", "storage_region")):
        assert s.scalar(f"SELECT count(*) FROM {table} WHERE {col} IS NOT NULL AND NOT "
                        f"regexp_full_match({col}, '[A-Z]{{2}}')") == 0
    # at scale too, every value that matters appears
    assert _values(s, "SELECT grade FROM incidents") == set(GRADES)
    assert _values(s, "SELECT incident_type FROM incidents") == set(INCIDENT_TYPES)
    assert _values(s, "SELECT status FROM incidents") == set(INCIDENT_STATUSES)
    assert _values(s, "SELECT legal_basis FROM sharing_agreements") == set(LEGAL_BASES)
    assert _values(s, "SELECT kind FROM processors") == set(PROCESSOR_KINDS)
    assert _values(s, "SELECT hold_reason FROM retention_records "
                      "WHERE hold_reason IS NOT NULL") == set(HOLD_REASONS)
    # dates in order
    assert s.scalar("SELECT count(*) FROM retention_records WHERE service_ended_on < collected_on "
                    "OR deleted_on < collected_on OR deleted_on > ? OR collected_on >= ?",
                    [DEMO_AS_OF, DEMO_AS_OF]) == 0
    assert s.scalar("SELECT count(*) FROM processors WHERE offboarded_on < engaged_on "
                    "OR data_returned_on < offboarded_on OR data_returned_on > ?",
                    [DEMO_AS_OF]) == 0


def test_large_timeline_agrees_with_the_incidents(large_store):
    assert timeline_problems(large_store, MOMENT) == []


def test_large_has_findings_of_every_rule_in_realistic_proportions(large_store):
    s = large_store
    c = counts(s)
    for rule in RULE_SQL:
        found = len(violations(s, rule))
        table = {"PROC": "processors", "SHARE": "sharing_agreements",
                 "RET": "retention_records", "INC": "incidents",
                 "DSR": "rights_requests"}[rule.split("-")[0]]
        assert 0 < found <= 0.06 * c[table], (rule, found)


def test_large_requests_are_about_real_subjects_with_a_realistic_mix(large_store):
    s = large_store
    assert request_timeline_problems(s, MOMENT) == []
    assert s.scalar("SELECT count(*) FROM rights_requests q ANTI JOIN retention_records r "
                    "USING (subject_ref)") == 0
    assert _values(s, "SELECT kind FROM rights_requests") == set(REQUEST_KINDS)
    assert _values(s, "SELECT channel FROM rights_requests") == set(REQUEST_CHANNELS)
    assert _values(s, "SELECT status FROM rights_requests") == set(REQUEST_STATUSES)
    completed, open_ = s.rows("SELECT count(*) FILTER (WHERE status = 'completed') / count(*), "
                              "count(*) FILTER (WHERE status IN ('received', 'in_progress')) "
                              "/ count(*) FROM rights_requests")[0]
    assert 0.8 <= completed <= 0.92 and 0.01 <= open_ <= 0.05
    # a completed deletion was carried out in the retention records, but for a few
    done = s.scalar("SELECT count(*) FROM rights_requests WHERE status = 'completed' "
                    "AND kind IN ('delete', 'cancel_account')")
    assert 0 < len(violations(s, "DSR-DELETION-DONE")) <= 0.06 * done


def test_large_is_deterministic(large_store, tmp_path):
    other = make_store(tmp_path / "again.duckdb")
    try:
        demo.seed(other, SYSTEM, scale="large", as_of=DEMO_AS_OF, seed=0,
                  retention_records=LARGE_N)
        assert rows_digest(other) == rows_digest(large_store)
        # the digest does see a one-value change
        other.rows("UPDATE incident_events SET detail = detail || '.' WHERE event_id = 1")
        assert rows_digest(other)["incident_events"] != rows_digest(large_store)[
            "incident_events"]
    finally:
        other.close()


def test_every_generated_value_draws_on_the_seed():
    # Each pseudo-random draw of the SQL generators is hash(i, $seed, k) with its own k,
    # so another seed moves every table (tested end to end at the demo scale).
    for sql in (demo._RETENTION_SQL, demo._PROCESSORS_SQL, demo._AGREEMENTS_SQL,
                demo._INCIDENTS_SQL, demo._REQUESTS_SQL):
        calls = re.findall(r"hash\(([^)]*)\)", sql)
        assert calls and all(re.fullmatch(r"i, \$seed, \d+", c) for c in calls), calls
    streams = [re.findall(r"hash\(i, \$seed, (\d+)\)", sql)
               for sql in (demo._RETENTION_SQL, demo._PROCESSORS_SQL, demo._AGREEMENTS_SQL,
                           demo._INCIDENTS_SQL, demo._REQUESTS_SQL)]
    flat = [k for ks in streams for k in ks]
    assert len(flat) == len(set(flat))     # no two draws share a stream


# -- the command line -------------------------------------------------------------------------

def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_seed_prints_the_counts_and_the_time(tmp_path):
    db = tmp_path / "cli.duckdb"
    code, out, err = _cli("--db", str(db), "seed", "--as-of", "2026-11-24",
                          "--retention-records", "2000", "--seed", "5")
    assert code == 0, err
    assert "seeded demo data (seed 5, as of 2026-11-24)" in out
    assert re.search(r"in \d+\.\d s", out)
    assert re.search(r"processors\s+48\b", out)
    assert re.search(r"retention_records\s+2,000\b", out)
    with Store(db, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM retention_records") == 2000
        after = json.loads(s.scalar("SELECT values_after FROM audit_log "
                                    "WHERE action = 'store.seed'"))
        assert after["seed"] == 5 and after["as_of"] == "2026-11-24"
        assert s.scalar("SELECT actor FROM audit_log WHERE action = 'store.seed'") \
            .startswith("cli:")


@pytest.mark.parametrize("args, message", [
    (["--as-of", "2026-13-01"], "--as-of: '2026-13-01' is not a date; use YYYY-MM-DD"),
    (["--as-of", "yesterday"], "--as-of: 'yesterday' is not a date"),
    (["--retention-records", "-5"], "--retention-records: -5 is negative"),
    (["--retention-records", "lots"], "--retention-records: 'lots' is not a whole number"),
    (["--seed", "-1"], "--seed: -1 is negative"),
    (["--scale", "huge"], "invalid choice: 'huge'"),
])
def test_cli_seed_rejects_bad_input_with_exit_2_and_writes_nothing(tmp_path, demo_db, args,
                                                                   message):
    fresh = tmp_path / "never.duckdb"
    code, out, err = _cli("--db", str(fresh), "seed", *args)
    assert code == 2 and message in err and out == ""
    assert not fresh.exists()
    with Store(demo_db, read_only=True) as s:
        entries = s.scalar("SELECT count(*) FROM audit_log")
    code, _, err = _cli("--db", str(demo_db), "seed", *args)
    assert code == 2 and message in err
    with Store(demo_db, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM audit_log") == entries


def test_python_m_dashboard_seed_runs(tmp_path):
    db = tmp_path / "sub.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard", "--db", str(db), "seed", "--as-of", "2026-11-24",
         "--retention-records", "500"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"incidents\s+58\b", proc.stdout)
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard", "--db", str(db), "seed", "--as-of", "24/11/2026"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "is not a date" in proc.stderr


def test_the_demo_seed_gives_the_trend_chart_a_weekly_history(tmp_path):
    import io

    from dashboard import engine
    from dashboard.cli import main

    db = tmp_path / "history.duckdb"
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", str(db), "seed", "--as-of", "2026-11-24", "--history-weeks", "3"],
                out, err) == 0, err.getvalue()
    assert "3 weekly snapshots" in out.getvalue()
    from dashboard.store import Store
    with Store(db) as store:
        snaps = engine.snapshots(store)
        days = [d.date() for d in pd.to_datetime(snaps["snapshot_date"])]
        assert days == [dt.date(2026, 11, 3), dt.date(2026, 11, 10), dt.date(2026, 11, 17)]
        # each point is the check as of the close of its day, recomputed on demand
        again = engine.check_summary(store, dt.date(2026, 11, 10))
        row = snaps.iloc[days.index(dt.date(2026, 11, 10))]
        assert row["overall"] == pytest.approx(again.overall)
        actions = store.rows("SELECT action FROM audit_log WHERE action = 'check.snapshot'")
        assert len(actions) == 3


def test_a_reseed_leaves_no_hold_or_evidence_file_to_a_record_reusing_an_id(demo_store):
    """Legal holds and evidence files name their records by id; a re-seed reuses the ids, so
    it clears them with the registers (a new PRC-0027 must not carry the old one's NDA)."""
    import datetime as dt
    import hashlib

    from dashboard import evidence, holds
    record = demo_store.scalar("SELECT min(record_id) FROM retention_records "
                               "WHERE deleted_on IS NULL AND hold_reason IS NULL")
    holds.set_hold(demo_store, DPO, record, "authority_request", "REQ-1",
                   dt.date(2027, 3, 31))
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    evidence.attach(demo_store, DPO, "processor", "PRC-0027", "nda.pdf", pdf)
    tables = ("legal_holds", "legal_hold_records", "evidence_events", "evidence_blobs")
    assert all(demo_store.scalar(f"SELECT count(*) FROM {t}") for t in tables)
    files = ("SELECT entity_type, entity_id, event, file_name, sha256 FROM evidence_events "
             "ORDER BY event_id")
    seeded = demo_store.rows(files)
    demo.seed(demo_store, SYSTEM, scale="demo", as_of=DEMO_AS_OF, retention_records=100)
    assert demo_store.scalar("SELECT count(*) FROM legal_holds") == 0
    assert demo_store.scalar("SELECT count(*) FROM legal_hold_records") == 0
    # Only the demo's own files, made afresh: the one attached to PRC-0027 is gone.
    after = demo_store.rows(files)
    assert seeded[-1][:2] == ("processor", "PRC-0027") and seeded[-1][1:] not in [
        r[1:] for r in after]
    assert "nda.pdf" not in {r[3] for r in after}
    assert evidence.list_for(demo_store, "processor", "PRC-0027") == []
    assert not demo_store.scalar("SELECT count(*) FROM evidence_blobs WHERE sha256 = ?",
                                 [hashlib.sha256(pdf).hexdigest()])


def test_demo_has_evidence_files_each_one_the_app_would_accept(demo_store):
    """The demo's evidence files (issue 18): a processor's signed DPA with its withdrawn
    draft, an agreement's consent wording, a regulator's receipt, a deletion's confirmation;
    each passes the app's content check and is attached after the step it proves."""
    import hashlib

    from dashboard import evidence, evidence_types
    rows = demo_store.rows('SELECT entity_type, event, sha256, "at" FROM evidence_events '
                           "ORDER BY event_id")
    assert sorted({(t, e) for t, e, _, _ in rows}) == [
        ("incident", "attach"), ("processor", "attach"), ("processor", "withdraw"),
        ("rights_request", "attach"), ("sharing_agreement", "attach")]
    assert all(at <= MOMENT for *_, at in rows)
    for sha, data in demo_store.rows("SELECT sha256, content FROM evidence_blobs"):
        assert hashlib.sha256(data).hexdigest() == sha
        evidence_types.detect(bytes(data))           # raises FileRefused if the app would
    (incident, reported), = demo_store.rows(
        "SELECT e.entity_id, i.regulator_reported_at FROM evidence_events e JOIN incidents i "
        "ON i.incident_id = e.entity_id WHERE e.entity_type = 'incident'")
    attached = evidence.list_for(demo_store, "incident", incident)[0]["at"]
    assert reported < attached
    processor = demo_store.scalar("SELECT entity_id FROM evidence_events "
                                  "WHERE event = 'withdraw'")
    listed = evidence.list_for(demo_store, "processor", processor)
    assert [(r["withdrawn"], r["file_name"].endswith("signed.pdf")) for r in listed] == [
        (False, True), (True, False)]

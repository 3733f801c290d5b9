"""Every compliance rule: a compliant case, a violating case (exactly one finding), the
boundary (the day, hour or second the deadline passes), its scope exclusions, and its
due items.

All cases live in one store (each entity has its own id) and are checked with one
``run_check`` per as-of, so the whole matrix costs a handful of checks. A case names the
entity it builds (a compliant default plus overrides) and what the check must say about
that entity:

- ``OK``: no finding for it at all, and no due item for the rule;
- ``FAIL``: its findings are exactly this rule (plus ``also``), and no due item;
- ``DUE(t)``: no finding for it, and one due item for the rule with due_at ``t``;
- ``OUT``: outside the rule's scope: no finding and no due item for it (these cases
  would fail the rule if it applied).
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest

from dashboard import engine
from dashboard.registers import AGREEMENT_TERMS, NOTICE_CONTENTS
from dashboard.rules import load_rules

from conftest import SHANGHAI, SYSTEM, make_store

# -- the check moments ---------------------------------------------------------------------
D = dt.date(2026, 11, 24)                                   # --as-of 2026-11-24: close of day
T = dt.datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI)       # a timestamp as-of, for clocks
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
# The stores' "now": after every check moment, so that D is a past day (the close of that
# day, as the cases were written) and T is in the past ("today" would mean now).
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def store(tmp_path):
    """A fresh store whose clock reads ``NOW`` (the shared fixture's reads D, 10:00)."""
    s = make_store(tmp_path / "rules.duckdb", clock=lambda: NOW)
    yield s
    s.close()


def days(n: int) -> dt.date:
    """The date n days after D (negative: before)."""
    return D + dt.timedelta(days=n)


def eod(day: dt.date) -> dt.datetime:
    """How a date deadline appears as due_at: the end of that day, Shanghai time."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=SHANGHAI)


# -- compliant defaults and insert helpers ---------------------------------------------
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)     # default detection: 4 days before D


def processor(**over) -> dict:
    row = dict(
        name="Acme Verify", kind="supplier", service="face recognition",
        purpose="identity_verification", data_categories=["name", "phone"],
        storage_region="CN", status="active", engaged_on=dt.date(2026, 1, 10),
        confidentiality_signed_on=dt.date(2026, 1, 5), nda_signed_on=dt.date(2026, 1, 5),
        agreement_expires_on=dt.date(2027, 12, 31), agreement_terms=list(AGREEMENT_TERMS),
        pia_done_on=dt.date(2026, 1, 2), last_assessed_on=dt.date(2026, 6, 1),
        offboarded_on=None, data_returned_on=None, owner="it.sec")
    row.update(over)
    return row


def offboarded(**over) -> dict:
    base = dict(status="offboarded", offboarded_on=days(-40), data_returned_on=days(-20))
    base.update(over)
    return processor(**base)


def agreement(**over) -> dict:
    row = dict(
        counterparty="Partner Co", processor_id=None, kind="share", legal_basis="explicit_consent",
        purpose="joint service", data_categories=["name"], consent="separate",
        consent_evidence="consent log CL-1", confidentiality_clause=True, recipient_region="CN",
        signed_on=dt.date(2026, 1, 1), effective_from=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 12, 31), status="active", users_notified_on=None,
        legal_reference=None, subjects_affected=10, pia_done_on=dt.date(2025, 12, 20))
    row.update(over)
    return row


def merger(**over) -> dict:
    base = dict(kind="transfer", legal_basis="merger_acquisition", signed_on=days(-40),
                effective_from=days(-10), users_notified_on=days(-11))
    base.update(over)
    return agreement(**base)


def disclosure(**over) -> dict:
    base = dict(kind="disclosure", legal_basis="legal_requirement", counterparty="Court",
                legal_reference="(2026) Court order 123", signed_on=days(-40),
                effective_from=days(-40), users_notified_on=days(-20),
                confidentiality_clause=None)
    base.update(over)
    return agreement(**base)


def record(**over) -> dict:
    row = dict(subject_ref="S-1", category="name", system="crm", storage_region="CN",
               collected_on=dt.date(2026, 1, 1), service_ended_on=None, deleted_on=None,
               hold_reason=None, hold_reference=None, hold_review_on=None)
    row.update(over)
    return row


def held(**over) -> dict:
    base = dict(service_ended_on=days(-200), hold_reason="court_or_legal_proceedings",
                hold_reference="(2026) case 7", hold_review_on=days(60))
    base.update(over)
    return record(**base)


def incident(**over) -> dict:
    detected = over.get("detected_at", T0)
    row = dict(
        title="Test incident", description="", incident_type="data_leak", grade="general",
        occurred_at=None, detected_at=detected, reported_by="soc", affected_subjects=100,
        affected_sensitive_subjects=0, data_categories=["name"], systems_affected="crm",
        emergency_plan_activated_at=detected + 0.5 * H, contained_at=None,
        regulator_reported_at=None, regulator=None, regulator_reference=None,
        police_reported_at=None, users_notified_at=detected + 12 * H,
        notification_channels=["email"], notice_contents=list(NOTICE_CONTENTS),
        resolved_at=None, summary_filed_at=None, status="open", root_cause=None,
        remediation=None, pi_authority_notified_at=detected + 6 * H, user_notice_exemption=None,
        suspected_crime=False, cii_involved=False, important_data_involved=False,
        economic_loss_cny=None)
    row.update(over)
    return row


RQ = dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)     # default receipt: Monday 2 Nov 2026


def request(**over) -> dict:
    """A rights request answered in time (deadline: 23 Nov 2026), identity verified first."""
    row = dict(received_at=RQ, channel="web_form", kind="access", subject_ref="S-NONE",
               identity_verified_at=RQ + H, status="completed", completed_at=RQ + 4 * DAY,
               refusal_reason=None, handler="dpo", notes=None)
    row.update(over)
    return row


def erasure(**over) -> dict:
    """A completed deletion request (completed 6 Nov 2026, 10:00)."""
    base = dict(kind="delete")
    base.update(over)
    return request(**base)


KEYS = {"processors": "processor_id", "sharing_agreements": "agreement_id",
        "retention_records": "record_id", "incidents": "incident_id",
        "rights_requests": "request_id"}
TABLE_OF = {processor: "processors", offboarded: "processors", agreement: "sharing_agreements",
            merger: "sharing_agreements", disclosure: "sharing_agreements",
            record: "retention_records", held: "retention_records", incident: "incidents",
            request: "rights_requests", erasure: "rights_requests"}
ENTITY_TYPE = {"processors": "processor", "sharing_agreements": "sharing_agreement",
               "retention_records": "retention_record", "incidents": "incident",
               "rights_requests": "rights_request"}


def insert(store, table: str, rows: list[dict]) -> None:
    """Insert register rows the one way in: a write with its audit entry."""
    if not rows:
        return
    with store.write(SYSTEM, "register.edit") as w:
        for row in rows:
            cols = list(row)
            w.execute(f"INSERT INTO {table} ({', '.join(cols)}) "
                      f"VALUES ({', '.join('?' for _ in cols)})", [row[c] for c in cols])
        w.audit("test.insert", table, None, after={"rows": len(rows)})


_event_ids = itertools.count(1)


def add_events(store, incident_id: str, times: list[dt.datetime]) -> None:
    with store.write(SYSTEM, "incident.update") as w:
        for at in times:
            w.execute('INSERT INTO incident_events (event_id, incident_id, "at", actor, kind, '
                      "detail) VALUES (?, ?, ?, 'soc', 'note', 'step')",
                      [next(_event_ids), incident_id, at])
        w.audit("test.events", "incident", incident_id)


def add(store, factory, entity_id, events: list[dt.datetime] = (), **over) -> str:
    table = TABLE_OF[factory]
    row = factory(**over)
    row[KEYS[table]] = entity_id
    insert(store, table, [row])
    if events:
        add_events(store, entity_id, list(events))
    return str(entity_id)


_record_ids = itertools.count(900_001)


def add_subject_records(store, subject_ref: str, records: list[dict]) -> None:
    """Retention records of a request's subject (DSR-DELETION-DONE): each a dict of
    overrides of ``record``."""
    rows = []
    for over in records:
        row = record(**{**over, "subject_ref": subject_ref})
        row["record_id"] = next(_record_ids)
        rows.append(row)
    insert(store, "retention_records", rows)


# -- the case matrix -----------------------------------------------------------------------

@dataclass(frozen=True)
class Expect:
    kind: str                       # ok | fail | due | out
    due_at: dt.datetime | None = None


OK, FAIL, OUT = Expect("ok"), Expect("fail"), Expect("out")


def DUE(at: dt.datetime) -> Expect:
    return Expect("due", at)


@dataclass
class Case:
    rule_id: str
    name: str
    factory: Any
    over: dict
    expect: Expect
    as_of: Any = D
    boundary: bool = False
    also: tuple[str, ...] = ()      # other rules this entity rightly fails too
    detail: str | None = None       # text the finding's detail must contain
    events: tuple = ()
    entity_id: str = field(default="", init=False)


def C(rule_id, name, factory, expect, as_of=D, boundary=False, also=(), detail=None,
      events=(), **over) -> Case:
    return Case(rule_id, name, factory, over, expect, as_of, boundary, tuple(also), detail,
                tuple(events))


SENSITIVE_IDV = ["name", "facial_biometrics"]      # identity_verification needs both

CASES: list[Case] = [
    # PROC-CONFIDENTIALITY
    C("PROC-CONFIDENTIALITY", "both signed", processor, OK),
    C("PROC-CONFIDENTIALITY", "no NDA", processor, FAIL, nda_signed_on=None,
      detail="no NDA on record"),
    C("PROC-CONFIDENTIALITY", "no confidentiality agreement", processor, FAIL,
      confidentiality_signed_on=None),
    C("PROC-CONFIDENTIALITY", "NDA signed on the check date", processor, OK, boundary=True,
      nda_signed_on=D),
    C("PROC-CONFIDENTIALITY", "NDA signed the day after", processor, FAIL, boundary=True,
      nda_signed_on=days(1)),
    C("PROC-CONFIDENTIALITY", "suspended", processor, OUT, status="suspended", nda_signed_on=None),
    C("PROC-CONFIDENTIALITY", "offboarded", offboarded, OUT, nda_signed_on=None),
    C("PROC-CONFIDENTIALITY", "engaged after as-of", processor, OUT, engaged_on=days(1),
      nda_signed_on=None),
    C("PROC-CONFIDENTIALITY", "receives no PI", processor, OUT, data_categories=[],
      nda_signed_on=None),
    # PROC-AGREEMENT-EXPIRED
    C("PROC-AGREEMENT-EXPIRED", "valid for long", processor, OK),
    C("PROC-AGREEMENT-EXPIRED", "no expiry recorded", processor, OK, agreement_expires_on=None),
    C("PROC-AGREEMENT-EXPIRED", "expired 55 days ago", processor, FAIL,
      agreement_expires_on=days(-55), detail="55 days ago"),
    C("PROC-AGREEMENT-EXPIRED", "expires on the check date", processor, DUE(eod(D)),
      boundary=True, agreement_expires_on=D),
    C("PROC-AGREEMENT-EXPIRED", "expired the day before", processor, FAIL, boundary=True,
      agreement_expires_on=days(-1)),
    C("PROC-AGREEMENT-EXPIRED", "expires in 20 days", processor, DUE(eod(days(20))),
      agreement_expires_on=days(20)),
    C("PROC-AGREEMENT-EXPIRED", "expires in 30 days (horizon)", processor, DUE(eod(days(30))),
      agreement_expires_on=days(30)),
    C("PROC-AGREEMENT-EXPIRED", "expires in 31 days", processor, OK,
      agreement_expires_on=days(31)),
    C("PROC-AGREEMENT-EXPIRED", "suspended", processor, OUT, status="suspended",
      agreement_expires_on=days(-55)),
    # PROC-TERMS
    C("PROC-TERMS", "all terms", processor, OK),
    C("PROC-TERMS", "no_subentrust is not required", processor, OK,
      agreement_terms=[t for t in AGREEMENT_TERMS if t != "no_subentrust"]),
    C("PROC-TERMS", "lacks return_or_delete", processor, FAIL, boundary=True,
      agreement_terms=[t for t in AGREEMENT_TERMS if t != "return_or_delete"],
      detail="lacks return_or_delete"),
    C("PROC-TERMS", "no terms recorded", processor, FAIL, agreement_terms=None),
    C("PROC-TERMS", "v2: lacks rights_obligations", processor, FAIL, boundary=True,
      agreement_terms=[t for t in AGREEMENT_TERMS if t != "rights_obligations"],
      detail="lacks rights_obligations"),
    C("PROC-TERMS", "v1's six terms are not enough", processor, FAIL,
      agreement_terms=["purpose", "duration", "method", "categories", "protection_measures",
                       "return_or_delete"], detail="lacks rights_obligations"),
    C("PROC-TERMS", "suspended", processor, OUT, status="suspended", agreement_terms=None),
    # PROC-MINIMUM-DATA
    C("PROC-MINIMUM-DATA", "only what the purpose needs", processor, OK,
      data_categories=["name", "phone", "id_card_number", "facial_biometrics"]),
    C("PROC-MINIMUM-DATA", "one category too many", processor, FAIL, boundary=True,
      data_categories=["name", "phone", "bank_account"],
      detail="purpose identity_verification does not need bank_account"),
    C("PROC-MINIMUM-DATA", "no purpose recorded", processor, FAIL, purpose=None),
    C("PROC-MINIMUM-DATA", "suspended", processor, OUT, status="suspended",
      data_categories=["resume"]),
    # PROC-PIA
    C("PROC-PIA", "PIA before engagement", processor, OK, data_categories=SENSITIVE_IDV),
    C("PROC-PIA", "PIA on the engagement day", processor, OK, boundary=True,
      data_categories=SENSITIVE_IDV, pia_done_on=dt.date(2026, 1, 10)),
    C("PROC-PIA", "PIA the day after engagement", processor, FAIL, boundary=True,
      data_categories=SENSITIVE_IDV, pia_done_on=dt.date(2026, 1, 11), detail="1 day after"),
    C("PROC-PIA", "no PIA", processor, FAIL, data_categories=SENSITIVE_IDV, pia_done_on=None),
    C("PROC-PIA", "no engagement date", processor, FAIL, data_categories=SENSITIVE_IDV,
      engaged_on=None),
    C("PROC-PIA", "id_card_number counts as sensitive", processor, FAIL,
      data_categories=["name", "id_card_number"], pia_done_on=None),
    C("PROC-PIA", "v2: non-sensitive data needs a PIA too", processor, FAIL,
      data_categories=["phone"], purpose="technical_support", pia_done_on=None,
      detail="receives phone; no impact assessment"),
    C("PROC-PIA", "v2: non-sensitive, PIA on the engagement day", processor, OK, boundary=True,
      pia_done_on=dt.date(2026, 1, 10)),
    C("PROC-PIA", "v2: non-sensitive, PIA a day late", processor, FAIL, boundary=True,
      pia_done_on=dt.date(2026, 1, 11)),
    C("PROC-PIA", "PIA dated after as-of", processor, FAIL, pia_done_on=days(1)),
    C("PROC-PIA", "receives no PI", processor, OUT, data_categories=[], pia_done_on=None,
      also=()),
    C("PROC-PIA", "suspended", processor, OUT, status="suspended",
      data_categories=SENSITIVE_IDV, pia_done_on=None),
    # PROC-ASSESSMENT
    C("PROC-ASSESSMENT", "assessed this year", processor, OK),
    C("PROC-ASSESSMENT", "assessed exactly 365 days ago", processor, DUE(eod(D)),
      boundary=True, last_assessed_on=days(-365)),
    C("PROC-ASSESSMENT", "assessed 366 days ago", processor, FAIL, boundary=True,
      last_assessed_on=days(-366)),
    C("PROC-ASSESSMENT", "never assessed", processor, FAIL, last_assessed_on=None),
    C("PROC-ASSESSMENT", "assessment dated after as-of", processor, FAIL,
      last_assessed_on=days(1)),
    C("PROC-ASSESSMENT", "next assessment in 15 days", processor, DUE(eod(days(15))),
      last_assessed_on=days(-350)),
    C("PROC-ASSESSMENT", "suspended", processor, OUT, status="suspended", last_assessed_on=None),
    # PROC-LOCATION
    C("PROC-LOCATION", "Mainland", processor, OK),
    C("PROC-LOCATION", "Hong Kong", processor, FAIL, boundary=True, storage_region="HK",
      detail="HK, outside Chinese Mainland"),
    C("PROC-LOCATION", "abroad", processor, FAIL, storage_region="SG"),
    C("PROC-LOCATION", "no region", processor, FAIL, storage_region=None),
    C("PROC-LOCATION", "suspended", processor, OUT, status="suspended", storage_region="US"),
    # PROC-OFFBOARD-RETURN
    C("PROC-OFFBOARD-RETURN", "returned in time", offboarded, OK),
    C("PROC-OFFBOARD-RETURN", "returned on day 30", offboarded, OK, boundary=True,
      offboarded_on=days(-40), data_returned_on=days(-10)),
    C("PROC-OFFBOARD-RETURN", "returned on day 31", offboarded, FAIL, boundary=True,
      offboarded_on=days(-40), data_returned_on=days(-9), detail="1 day after the deadline"),
    C("PROC-OFFBOARD-RETURN", "not returned, last day", offboarded, DUE(eod(D)), boundary=True,
      offboarded_on=days(-30), data_returned_on=None),
    C("PROC-OFFBOARD-RETURN", "not returned, a day late", offboarded, FAIL, boundary=True,
      offboarded_on=days(-31), data_returned_on=None),
    C("PROC-OFFBOARD-RETURN", "no offboarding date, not returned", offboarded, FAIL,
      offboarded_on=None, data_returned_on=None),
    C("PROC-OFFBOARD-RETURN", "no offboarding date, returned", offboarded, OK,
      offboarded_on=None, data_returned_on=days(-5)),
    C("PROC-OFFBOARD-RETURN", "suspended is not offboarded", processor, OUT, status="suspended",
      offboarded_on=days(-100)),
    C("PROC-OFFBOARD-RETURN", "offboarded after as-of", offboarded, OUT, offboarded_on=days(1),
      data_returned_on=None),
    # SHARE-CONSENT
    C("SHARE-CONSENT", "separate consent with evidence", agreement, OK),
    C("SHARE-CONSENT", "explicit consent with evidence", agreement, OK, boundary=True,
      consent="explicit", also=("SHARE-SEPARATE-CONSENT",)),
    C("SHARE-CONSENT", "bundled consent", agreement, FAIL, boundary=True, consent="bundled",
      detail="consent is bundled", also=("SHARE-SEPARATE-CONSENT",)),
    C("SHARE-CONSENT", "no evidence", agreement, FAIL, consent_evidence=None),
    C("SHARE-CONSENT", "blank evidence", agreement, FAIL, consent_evidence="  "),
    C("SHARE-CONSENT", "no consent recorded", agreement, FAIL, consent=None,
      also=("SHARE-SEPARATE-CONSENT",)),
    C("SHARE-CONSENT", "ended", agreement, OUT, status="ended", consent="bundled"),
    C("SHARE-CONSENT", "v2: a transfer on consent none", agreement, FAIL, kind="transfer",
      consent="none", also=("SHARE-SEPARATE-CONSENT",), detail="transfer on explicit consent"),
    C("SHARE-CONSENT", "v2: a disclosure on bundled consent", agreement, FAIL,
      kind="disclosure", consent="bundled", also=("SHARE-SEPARATE-CONSENT",)),
    C("SHARE-CONSENT", "a transfer with separate consent", agreement, OK, kind="transfer"),
    C("SHARE-CONSENT", "another basis", agreement, OUT, legal_basis="merger_acquisition",
      kind="transfer", consent="bundled", users_notified_on=dt.date(2025, 12, 1)),
    C("SHARE-CONSENT", "signed after as-of", agreement, OUT, signed_on=days(1),
      effective_from=days(5), consent="bundled", pia_done_on=None),
    # SHARE-SENSITIVE-CONSENT
    C("SHARE-SENSITIVE-CONSENT", "separate consent", agreement, OK,
      data_categories=["name", "bank_account"]),
    C("SHARE-SENSITIVE-CONSENT", "explicit, not separate", agreement, FAIL, boundary=True,
      data_categories=["name", "bank_account"], consent="explicit",
      detail="covers sensitive bank_account", also=("SHARE-SEPARATE-CONSENT",)),
    C("SHARE-SENSITIVE-CONSENT", "a disclosure on consent", agreement, FAIL, kind="disclosure",
      data_categories=["location"], consent="explicit", also=("SHARE-SEPARATE-CONSENT",)),
    C("SHARE-SENSITIVE-CONSENT", "nothing sensitive", agreement, OUT, consent="explicit",
      also=("SHARE-SEPARATE-CONSENT",)),
    C("SHARE-SENSITIVE-CONSENT", "ended", agreement, OUT, status="ended",
      data_categories=["bank_account"], consent="explicit"),
    # SHARE-TRANSFER-BASIS
    C("SHARE-TRANSFER-BASIS", "transfer on consent", agreement, OK, kind="transfer"),
    C("SHARE-TRANSFER-BASIS", "transfer in a merger", merger, OK),
    C("SHARE-TRANSFER-BASIS", "transfer on a legal requirement", agreement, FAIL, boundary=True,
      kind="transfer", legal_basis="legal_requirement"),
    C("SHARE-TRANSFER-BASIS", "ended transfer to an affiliate", agreement, FAIL,
      kind="transfer", legal_basis="affiliate_service", status="ended"),
    C("SHARE-TRANSFER-BASIS", "a share is not a transfer", agreement, OUT,
      legal_basis="affiliate_service"),
    # SHARE-MERGER-NOTICE
    C("SHARE-MERGER-NOTICE", "notified the day before", merger, OK, boundary=True),
    C("SHARE-MERGER-NOTICE", "notified on the effective date", merger, FAIL, boundary=True,
      users_notified_on=days(-10), detail="not before the transfer"),
    C("SHARE-MERGER-NOTICE", "not notified, transfer tomorrow", merger, DUE(eod(D)),
      boundary=True, effective_from=days(1), users_notified_on=None),
    C("SHARE-MERGER-NOTICE", "not notified, transfer today", merger, FAIL, boundary=True,
      effective_from=D, users_notified_on=None),
    C("SHARE-MERGER-NOTICE", "no effective date", merger, FAIL, effective_from=None,
      users_notified_on=days(-5), also=("SHARE-PIA",)),
    C("SHARE-MERGER-NOTICE", "ended, notified late", merger, FAIL, status="ended",
      users_notified_on=days(-5)),
    C("SHARE-MERGER-NOTICE", "notice dated after as-of", merger, FAIL, users_notified_on=days(2)),
    C("SHARE-MERGER-NOTICE", "signed after as-of", merger, OUT, signed_on=days(1),
      effective_from=days(3), users_notified_on=None),
    # SHARE-LEGAL-NOTICE
    C("SHARE-LEGAL-NOTICE", "reference and timely notice", disclosure, OK),
    C("SHARE-LEGAL-NOTICE", "notified on day 30", disclosure, OK, boundary=True,
      effective_from=days(-40), users_notified_on=days(-10)),
    C("SHARE-LEGAL-NOTICE", "notified on day 31", disclosure, FAIL, boundary=True,
      effective_from=days(-40), users_notified_on=days(-9)),
    C("SHARE-LEGAL-NOTICE", "not notified, last day", disclosure, DUE(eod(D)), boundary=True,
      effective_from=days(-30), users_notified_on=None),
    C("SHARE-LEGAL-NOTICE", "not notified, a day late", disclosure, FAIL, boundary=True,
      effective_from=days(-31), users_notified_on=None),
    C("SHARE-LEGAL-NOTICE", "no legal reference", disclosure, FAIL, legal_reference=None,
      detail="no legal reference"),
    C("SHARE-LEGAL-NOTICE", "no effective date, not notified", disclosure, FAIL,
      signed_on=None, effective_from=None, users_notified_on=None),
    C("SHARE-LEGAL-NOTICE", "no effective date, notified", disclosure, OK,
      signed_on=None, effective_from=None),
    C("SHARE-LEGAL-NOTICE", "ended, never notified", disclosure, FAIL, status="ended",
      users_notified_on=None),
    C("SHARE-LEGAL-NOTICE", "disclosure on consent", agreement, OUT, kind="disclosure",
      legal_reference=None),
    # SHARE-CONFIDENTIALITY
    C("SHARE-CONFIDENTIALITY", "clause", agreement, OK),
    C("SHARE-CONFIDENTIALITY", "no clause", agreement, FAIL, boundary=True,
      confidentiality_clause=False),
    C("SHARE-CONFIDENTIALITY", "not recorded", agreement, FAIL, confidentiality_clause=None),
    C("SHARE-CONFIDENTIALITY", "legal requirement", disclosure, OUT, confidentiality_clause=False),
    C("SHARE-CONFIDENTIALITY", "ended", agreement, OUT, status="ended",
      confidentiality_clause=False),
    # SHARE-EXPIRED-ACTIVE
    C("SHARE-EXPIRED-ACTIVE", "in force", agreement, OK),
    C("SHARE-EXPIRED-ACTIVE", "no expiry", agreement, OK, expires_on=None),
    C("SHARE-EXPIRED-ACTIVE", "expires on the check date", agreement, DUE(eod(D)), boundary=True,
      expires_on=D),
    C("SHARE-EXPIRED-ACTIVE", "expired the day before", agreement, FAIL, boundary=True,
      expires_on=days(-1), detail="expired on 2026-11-23, 1 day ago"),
    C("SHARE-EXPIRED-ACTIVE", "expires in 20 days", agreement, DUE(eod(days(20))),
      expires_on=days(20)),
    C("SHARE-EXPIRED-ACTIVE", "ended", agreement, OUT, status="ended", expires_on=days(-100)),
    # SHARE-CROSS-BORDER
    C("SHARE-CROSS-BORDER", "Mainland", agreement, OK),
    C("SHARE-CROSS-BORDER", "Taiwan", agreement, FAIL, boundary=True, recipient_region="TW"),
    C("SHARE-CROSS-BORDER", "Macao", agreement, FAIL, recipient_region="MO"),
    C("SHARE-CROSS-BORDER", "no region", agreement, FAIL, recipient_region=None),
    C("SHARE-CROSS-BORDER", "ended", agreement, OUT, status="ended", recipient_region="US"),
    # RET-OVERDUE (name: due 30 days after service end; resume: at most 180 days old)
    C("RET-OVERDUE", "service ongoing", record, OK),
    C("RET-OVERDUE", "due on the check date", record, DUE(eod(D)), boundary=True,
      service_ended_on=days(-30)),
    C("RET-OVERDUE", "a day overdue", record, FAIL, boundary=True, service_ended_on=days(-31),
      detail="1 day overdue"),
    C("RET-OVERDUE", "due in 20 days", record, DUE(eod(days(20))), service_ended_on=days(-10)),
    C("RET-OVERDUE", "resume at its maximum age", record, DUE(eod(D)), boundary=True,
      category="resume", collected_on=days(-180)),
    C("RET-OVERDUE", "resume a day past its maximum age", record, FAIL, boundary=True,
      category="resume", collected_on=days(-181)),
    C("RET-OVERDUE", "deleted on the check date", record, OUT, service_ended_on=days(-200),
      deleted_on=D),
    C("RET-OVERDUE", "deletion dated after as-of", record, FAIL, service_ended_on=days(-200),
      deleted_on=days(1)),
    C("RET-OVERDUE", "on hold", held, OUT),
    C("RET-OVERDUE", "collected after as-of", record, OUT, category="resume",
      collected_on=days(1), service_ended_on=days(-300)),
    # RET-HOLD-INVALID
    C("RET-HOLD-INVALID", "documented hold", held, OK),
    C("RET-HOLD-INVALID", "no review date", held, OK, hold_review_on=None),
    C("RET-HOLD-INVALID", "no reference", held, FAIL, hold_reference=None,
      detail="no hold reference"),
    C("RET-HOLD-INVALID", "review on the check date", held, DUE(eod(D)), boundary=True,
      hold_review_on=D),
    C("RET-HOLD-INVALID", "review passed yesterday", held, FAIL, boundary=True,
      hold_review_on=days(-1)),
    C("RET-HOLD-INVALID", "deleted", held, OUT, hold_reference=None, deleted_on=days(-1)),
    # RET-LOCATION
    C("RET-LOCATION", "Mainland", record, OK),
    C("RET-LOCATION", "Hong Kong", record, FAIL, boundary=True, storage_region="HK"),
    C("RET-LOCATION", "held abroad", held, FAIL, storage_region="US"),
    C("RET-LOCATION", "deleted", record, OUT, storage_region="US", deleted_on=days(-3)),
    # INC-EMERGENCY-PLAN
    C("INC-EMERGENCY-PLAN", "activated", incident, OK),
    C("INC-EMERGENCY-PLAN", "not activated", incident, FAIL, emergency_plan_activated_at=None),
    C("INC-EMERGENCY-PLAN", "activated at the check moment", incident, OK, as_of=T,
      boundary=True, emergency_plan_activated_at=T),
    C("INC-EMERGENCY-PLAN", "activated a second after", incident, FAIL, as_of=T, boundary=True,
      emergency_plan_activated_at=T + S),
    C("INC-EMERGENCY-PLAN", "detected after as-of", incident, OUT, as_of=T,
      detected_at=T + S, emergency_plan_activated_at=None),
    # INC-REGULATOR-DEADLINE (4 h)
    C("INC-REGULATOR-DEADLINE", "reported after 3 h", incident, OK, grade="relatively_major",
      regulator_reported_at=T0 + 3 * H),
    C("INC-REGULATOR-DEADLINE", "reported at 4 h", incident, OK, boundary=True, grade="major",
      regulator_reported_at=T0 + 4 * H),
    C("INC-REGULATOR-DEADLINE", "reported at 4 h + 1 s", incident, FAIL, boundary=True,
      grade="major", regulator_reported_at=T0 + 4 * H + S, detail="1 s after the 4 h deadline"),
    C("INC-REGULATOR-DEADLINE", "not reported, deadline now", incident, DUE(T), as_of=T,
      boundary=True, grade="particularly_major", detected_at=T - 4 * H),
    C("INC-REGULATOR-DEADLINE", "not reported, deadline a second ago", incident, FAIL, as_of=T,
      boundary=True, grade="relatively_major", detected_at=T - 4 * H - S),
    C("INC-REGULATOR-DEADLINE", "detected 2 h ago", incident, DUE(T + 2 * H), as_of=T,
      grade="relatively_major", detected_at=T - 2 * H),
    C("INC-REGULATOR-DEADLINE", "report dated after as-of", incident, FAIL, as_of=T,
      grade="major", detected_at=T - 5 * H, regulator_reported_at=T + H),
    C("INC-REGULATOR-DEADLINE", "general grade", incident, OUT, grade="general"),
    C("INC-REGULATOR-DEADLINE", "v2: under-graded is INC-GRADE's finding only", incident, OUT,
      grade="general", affected_subjects=2_000_000, also=("INC-GRADE",)),
    C("INC-REGULATOR-DEADLINE", "v2: CII involved, reported at 1 h", incident, OK,
      boundary=True, grade="major", cii_involved=True, regulator_reported_at=T0 + H),
    C("INC-REGULATOR-DEADLINE", "v2: CII involved, reported at 1 h + 1 s", incident, FAIL,
      boundary=True, grade="major", cii_involved=True, regulator_reported_at=T0 + H + S,
      detail="after the 1 h (CII) deadline"),
    C("INC-REGULATOR-DEADLINE", "v2: CII involved, due within the hour", incident,
      DUE(T + 0.5 * H), as_of=T, grade="relatively_major", cii_involved=True,
      detected_at=T - 0.5 * H, emergency_plan_activated_at=T - 0.25 * H,
      pi_authority_notified_at=None, users_notified_at=None),
    # INC-GRADE
    C("INC-GRADE", "below the threshold", incident, OK, affected_subjects=999_999),
    C("INC-GRADE", "at 1 M, graded general", incident, FAIL, boundary=True,
      affected_subjects=1_000_000, detail="at least relatively_major"),
    C("INC-GRADE", "at 1 M, graded relatively major", incident, OK, boundary=True,
      grade="relatively_major", affected_subjects=1_000_000, regulator_reported_at=T0 + H),
    C("INC-GRADE", "10 M graded relatively major", incident, FAIL, grade="relatively_major",
      affected_subjects=10_000_000, regulator_reported_at=T0 + H),
    C("INC-GRADE", "100 M graded major", incident, FAIL, grade="major",
      affected_subjects=100_000_000, regulator_reported_at=T0 + H),
    C("INC-GRADE", "over-graded", incident, OK, grade="particularly_major", affected_subjects=5,
      regulator_reported_at=T0 + H),
    C("INC-GRADE", "count unknown", incident, OUT, affected_subjects=None),
    C("INC-GRADE", "v2: loss below 5 M yuan", incident, OK, affected_subjects=None,
      economic_loss_cny=4_999_999.99),
    C("INC-GRADE", "v2: loss at 5 M yuan, graded general", incident, FAIL, boundary=True,
      affected_subjects=None, economic_loss_cny=5_000_000,
      detail="5,000,000 yuan direct economic loss makes it at least relatively_major"),
    C("INC-GRADE", "v2: loss of 30 M graded relatively major", incident, FAIL,
      grade="relatively_major", economic_loss_cny=30_000_000, regulator_reported_at=T0 + H,
      detail="at least major"),
    C("INC-GRADE", "v2: loss at 20 M, graded major", incident, OK, boundary=True,
      grade="major", economic_loss_cny=20_000_000, regulator_reported_at=T0 + H),
    C("INC-GRADE", "v2: loss at 100 M graded major", incident, FAIL, boundary=True,
      grade="major", economic_loss_cny=100_000_000, regulator_reported_at=T0 + H,
      detail="at least particularly_major"),
    C("INC-GRADE", "v2: important data graded general", incident, FAIL, affected_subjects=None,
      important_data_involved=True, detail="important or core data involved"),
    C("INC-GRADE", "v2: important data graded relatively major", incident, OK,
      grade="relatively_major", important_data_involved=True, regulator_reported_at=T0 + H),
    C("INC-GRADE", "v2: highest criterion wins", incident, FAIL, grade="relatively_major",
      affected_subjects=2_000_000, economic_loss_cny=25_000_000, important_data_involved=True,
      regulator_reported_at=T0 + H, detail="25,000,000 yuan direct economic loss makes it at least major"),
    C("INC-GRADE", "v2: no grading fact recorded", incident, OUT, affected_subjects=None,
      economic_loss_cny=None, important_data_involved=None, also=()),
    C("INC-GRADE", "v2: 900,000 people's face and ID data is not yet relatively major",
      incident, OK, affected_subjects=900_000,
      data_categories=["facial_biometrics", "id_card_number"]),
    # INC-USER-NOTICE (v2: 24 h, exemption)
    C("INC-USER-NOTICE", "notified after 12 h", incident, OK),
    C("INC-USER-NOTICE", "notified at 24 h", incident, OK, boundary=True,
      users_notified_at=T0 + 24 * H),
    C("INC-USER-NOTICE", "notified at 24 h + 1 s", incident, FAIL, boundary=True,
      users_notified_at=T0 + 24 * H + S, detail="1 s after the 24 h deadline"),
    C("INC-USER-NOTICE", "v2: notified at 72 h is late", incident, FAIL,
      users_notified_at=T0 + 72 * H),
    C("INC-USER-NOTICE", "not notified, deadline now", incident, DUE(T), as_of=T, boundary=True,
      detected_at=T - 24 * H, users_notified_at=None, pi_authority_notified_at=T - 20 * H),
    C("INC-USER-NOTICE", "not notified, a second late", incident, FAIL, as_of=T, boundary=True,
      detected_at=T - 24 * H - S, users_notified_at=None, pi_authority_notified_at=T - 20 * H),
    C("INC-USER-NOTICE", "nobody affected", incident, OUT, affected_subjects=0,
      users_notified_at=None, notice_contents=None),
    C("INC-USER-NOTICE", "v2: Art. 57 para. 2 exemption recorded", incident, OUT,
      users_notified_at=None, notice_contents=None,
      user_notice_exemption="Leaked file was encrypted (AES-256, key not exposed)"),
    C("INC-USER-NOTICE", "v2: blank exemption is no exemption", incident, FAIL,
      users_notified_at=None, notice_contents=None, user_notice_exemption="   "),
    # INC-NOTICE-CONTENT
    C("INC-NOTICE-CONTENT", "all six items", incident, OK),
    C("INC-NOTICE-CONTENT", "no contact", incident, FAIL, boundary=True,
      notice_contents=[c for c in NOTICE_CONTENTS if c != "contact"], detail="lacks contact"),
    C("INC-NOTICE-CONTENT", "contents not recorded", incident, FAIL, notice_contents=None),
    C("INC-NOTICE-CONTENT", "not notified yet", incident, OUT, affected_subjects=0,
      users_notified_at=None, notice_contents=None),
    # INC-SUMMARY (30 days)
    C("INC-SUMMARY", "filed after 10 days", incident, OK, status="resolved",
      resolved_at=T0 - 40 * DAY, summary_filed_at=T0 - 30 * DAY, detected_at=T0 - 50 * DAY),
    C("INC-SUMMARY", "filed at 30 days", incident, OK, boundary=True, status="resolved",
      detected_at=T0 - 50 * DAY, resolved_at=T0 - 40 * DAY, summary_filed_at=T0 - 10 * DAY),
    C("INC-SUMMARY", "filed at 30 days + 1 s", incident, FAIL, boundary=True, status="resolved",
      detected_at=T0 - 50 * DAY, resolved_at=T0 - 40 * DAY, summary_filed_at=T0 - 10 * DAY + S),
    C("INC-SUMMARY", "not filed, deadline now", incident, DUE(T), as_of=T, boundary=True,
      status="resolved", detected_at=T - 40 * DAY, resolved_at=T - 30 * DAY),
    C("INC-SUMMARY", "not filed, a second late", incident, FAIL, as_of=T, boundary=True,
      status="closed", detected_at=T - 40 * DAY, resolved_at=T - 30 * DAY - S),
    C("INC-SUMMARY", "not resolved", incident, OUT, detected_at=T0 - 2 * DAY,
      summary_filed_at=None),
    # INC-STALE (14 days)
    C("INC-STALE", "recent step", incident, DUE(T0 + 13 * DAY), detected_at=T0 - 60 * DAY,
      events=[T0 - DAY]),
    C("INC-STALE", "no step for exactly 14 days", incident, DUE(T), as_of=T, boundary=True,
      detected_at=T - 14 * DAY),
    C("INC-STALE", "no step for 14 days + 1 s", incident, FAIL, as_of=T, boundary=True,
      detected_at=T - 14 * DAY - S, detail="more than 14 days"),
    C("INC-STALE", "last event 14 days + 1 s ago", incident, FAIL, as_of=T,
      detected_at=T - 90 * DAY, events=[T - 60 * DAY, T - 14 * DAY - S]),
    C("INC-STALE", "event after as-of ignored", incident, FAIL, as_of=T,
      detected_at=T - 30 * DAY, events=[T + H]),
    C("INC-STALE", "resolved after as-of", incident, FAIL, as_of=T, status="resolved",
      detected_at=T - 30 * DAY, resolved_at=T + DAY, summary_filed_at=T + 2 * DAY),
    C("INC-STALE", "resolved", incident, OUT, status="resolved", detected_at=T0 - 90 * DAY,
      resolved_at=T0 - 5 * DAY),
    C("INC-STALE", "closed", incident, OUT, status="closed", detected_at=T0 - 90 * DAY),
]

CASES += [
    # INC-PI-AUTHORITY (v2: any grade, 24 h; a regulator report counts)
    C("INC-PI-AUTHORITY", "notified after 6 h", incident, OK),
    C("INC-PI-AUTHORITY", "notified at 24 h", incident, OK, boundary=True,
      pi_authority_notified_at=T0 + 24 * H),
    C("INC-PI-AUTHORITY", "notified at 24 h + 1 s", incident, FAIL, boundary=True,
      pi_authority_notified_at=T0 + 24 * H + S, detail="1 s after the 24 h deadline"),
    C("INC-PI-AUTHORITY", "regulator report counts", incident, OK, grade="relatively_major",
      pi_authority_notified_at=None, regulator_reported_at=T0 + 3 * H,
      detail="regulator report"),
    C("INC-PI-AUTHORITY", "the issue's case: 900,000 people, general, none after 9 days",
      incident, FAIL, as_of=T, detected_at=T - 9 * DAY, affected_subjects=900_000,
      data_categories=["facial_biometrics", "id_card_number"], pi_authority_notified_at=None,
      users_notified_at=T - 9 * DAY + 10 * H, detail="passed 8 d 0 h ago"),
    C("INC-PI-AUTHORITY", "not notified, deadline now", incident, DUE(T), as_of=T,
      boundary=True, detected_at=T - 24 * H, pi_authority_notified_at=None),
    C("INC-PI-AUTHORITY", "not notified, a second late", incident, FAIL, as_of=T,
      boundary=True, detected_at=T - 24 * H - S, pi_authority_notified_at=None),
    C("INC-PI-AUTHORITY", "notice dated after as-of", incident, FAIL, as_of=T,
      detected_at=T - 30 * H, users_notified_at=T - 20 * H, pi_authority_notified_at=T + H),
    C("INC-PI-AUTHORITY", "exemption does not remove it", incident, FAIL,
      pi_authority_notified_at=None, users_notified_at=None, notice_contents=None,
      user_notice_exemption="Data encrypted; key not exposed"),
    C("INC-PI-AUTHORITY", "nobody affected", incident, OUT, affected_subjects=0,
      pi_authority_notified_at=None, users_notified_at=None, notice_contents=None),
    C("INC-PI-AUTHORITY", "count not recorded", incident, OUT, affected_subjects=None,
      pi_authority_notified_at=None, users_notified_at=None, notice_contents=None),
    # INC-POLICE (v2: suspected crime, 4 h; 1 h with CII)
    C("INC-POLICE", "reported after 3 h", incident, OK, suspected_crime=True,
      police_reported_at=T0 + 3 * H),
    C("INC-POLICE", "reported at 4 h", incident, OK, boundary=True, suspected_crime=True,
      police_reported_at=T0 + 4 * H),
    C("INC-POLICE", "reported at 4 h + 1 s", incident, FAIL, boundary=True,
      suspected_crime=True, police_reported_at=T0 + 4 * H + S,
      detail="1 s after the 4 h deadline"),
    C("INC-POLICE", "not reported, deadline now", incident, DUE(T), as_of=T, boundary=True,
      suspected_crime=True, detected_at=T - 4 * H, pi_authority_notified_at=None,
      users_notified_at=None),
    C("INC-POLICE", "not reported, a second late", incident, FAIL, as_of=T, boundary=True,
      suspected_crime=True, detected_at=T - 4 * H - S, pi_authority_notified_at=None,
      users_notified_at=None, detail="not reported to the police"),
    C("INC-POLICE", "CII involved: reported at 2 h is late", incident, FAIL,
      suspected_crime=True, cii_involved=True, police_reported_at=T0 + 2 * H,
      detail="1 h (CII) deadline"),
    C("INC-POLICE", "CII involved: reported at 1 h", incident, OK, boundary=True,
      suspected_crime=True, cii_involved=True, police_reported_at=T0 + H),
    C("INC-POLICE", "independent of the regulator report", incident, FAIL, grade="major",
      suspected_crime=True, regulator_reported_at=T0 + H, police_reported_at=T0 + 5 * H),
    C("INC-POLICE", "no crime suspected", incident, OUT, suspected_crime=False),
    C("INC-POLICE", "not recorded", incident, OUT, suspected_crime=None),
    # SHARE-SEPARATE-CONSENT (v2: Art. 23)
    C("SHARE-SEPARATE-CONSENT", "separate consent", agreement, OK),
    C("SHARE-SEPARATE-CONSENT", "explicit is not separate", agreement, FAIL, boundary=True,
      consent="explicit", detail="PIPL Art. 23 needs separate consent"),
    C("SHARE-SEPARATE-CONSENT", "the issue's case: affiliate share of ID and bank data",
      agreement, FAIL, legal_basis="affiliate_service", consent="none",
      consent_evidence=None, data_categories=["id_card_number", "bank_account"],
      detail="share of bank_account, id_card_number to another handler on affiliate_service"),
    C("SHARE-SEPARATE-CONSENT", "the issue's case: dispute-resolution share", agreement, FAIL,
      legal_basis="dispute_resolution", consent="none", consent_evidence=None,
      data_categories=["id_card_number", "bank_account"]),
    C("SHARE-SEPARATE-CONSENT", "affiliate with separate consent", agreement, OK,
      legal_basis="affiliate_service"),
    C("SHARE-SEPARATE-CONSENT", "an entrusted processor is not another handler", agreement,
      OUT, legal_basis="affiliate_service", processor_id="PRC-9999", consent="none"),
    C("SHARE-SEPARATE-CONSENT", "legal requirement", disclosure, OUT, consent="none"),
    C("SHARE-SEPARATE-CONSENT", "merger", merger, OUT, consent="none"),
    C("SHARE-SEPARATE-CONSENT", "no data categories", agreement, OUT, data_categories=[],
      consent="explicit"),
    C("SHARE-SEPARATE-CONSENT", "ended", agreement, OUT, status="ended", consent="none"),
    C("SHARE-SEPARATE-CONSENT", "signed after as-of", agreement, OUT, signed_on=days(1),
      effective_from=days(5), consent="explicit"),
    # SHARE-PIA (v2: Art. 55(3))
    C("SHARE-PIA", "PIA before it took effect", agreement, OK),
    C("SHARE-PIA", "PIA on the effective date", agreement, OK, boundary=True,
      pia_done_on=dt.date(2026, 1, 1)),
    C("SHARE-PIA", "PIA the day after", agreement, FAIL, boundary=True,
      pia_done_on=dt.date(2026, 1, 2), detail="1 day after it took effect"),
    C("SHARE-PIA", "no PIA", agreement, FAIL, pia_done_on=None,
      detail="no impact assessment (PIA) on record"),
    C("SHARE-PIA", "PIA dated after as-of", agreement, FAIL, pia_done_on=days(1)),
    C("SHARE-PIA", "no effective date", agreement, FAIL, effective_from=None),
    C("SHARE-PIA", "merger transfer without PIA", merger, FAIL, pia_done_on=None),
    C("SHARE-PIA", "takes effect tomorrow, no PIA yet", agreement, DUE(eod(days(1))),
      boundary=True, signed_on=days(-3), effective_from=days(1), pia_done_on=None),
    C("SHARE-PIA", "takes effect today, no PIA", agreement, FAIL, boundary=True,
      signed_on=days(-3), effective_from=D, pia_done_on=None),
    C("SHARE-PIA", "legal requirement is left out", disclosure, OUT, pia_done_on=None),
    C("SHARE-PIA", "registered processor", agreement, OUT, processor_id="PRC-9999",
      legal_basis="entrusted_processing", pia_done_on=None),
    C("SHARE-PIA", "no data categories", agreement, OUT, data_categories=[], pia_done_on=None),
    C("SHARE-PIA", "ended", agreement, OUT, status="ended", pia_done_on=None),
]

UTC = dt.timezone.utc
ND = dt.datetime(2026, 9, 29, 16, 5, tzinfo=UTC)     # 2026-09-30 00:05 Shanghai, still the 29th UTC
ND_DEADLINE = eod(dt.date(2026, 10, 27))             # 15 working days after 30 Sep 2026
MAKE_UP = dt.datetime(2026, 9, 17, 15, 0, tzinfo=SHANGHAI)
MAKE_UP_DEADLINE = eod(dt.date(2026, 10, 14))        # through 20 Sep and 10 Oct (make-up days)
DONE = RQ + 4 * DAY                                  # the default completion: 6 Nov, 10:00
CASES += [
    # DSR-DEADLINE (v2: 15 working days on the mainland calendar)
    C("DSR-DEADLINE", "completed after 4 days", request, OK),
    C("DSR-DEADLINE", "National Day: completed at 23:59:59 of the 15th working day", request,
      OK, boundary=True, received_at=ND, identity_verified_at=ND + H,
      completed_at=ND_DEADLINE),
    C("DSR-DEADLINE", "National Day: completed a second later", request, FAIL, boundary=True,
      received_at=ND, identity_verified_at=ND + H, completed_at=ND_DEADLINE + S,
      detail="1 s after the deadline (deadline 2026-10-27, 15 working days after 2026-09-30"),
    C("DSR-DEADLINE", "just after midnight Shanghai counts from that day, not the UTC one",
      request, OK, boundary=True, received_at=ND, identity_verified_at=ND + H,
      completed_at=eod(dt.date(2026, 10, 27)) - 12 * H),
    C("DSR-DEADLINE", "make-up days count: completed on the 15th working day", request, OK,
      boundary=True, received_at=MAKE_UP, identity_verified_at=MAKE_UP + H,
      completed_at=MAKE_UP_DEADLINE),
    C("DSR-DEADLINE", "make-up days count: completed the day after", request, FAIL,
      boundary=True, received_at=MAKE_UP, identity_verified_at=MAKE_UP + H,
      completed_at=MAKE_UP_DEADLINE + S, detail="deadline 2026-10-14"),
    C("DSR-DEADLINE", "refused in time with a reason", request, OK, status="refused",
      refusal_reason="Records kept under the Accounting Law (Art. 35)"),
    C("DSR-DEADLINE", "refused after the deadline", request, FAIL, status="refused",
      refusal_reason="Statutory retention", received_at=ND, identity_verified_at=ND + H,
      completed_at=ND_DEADLINE + DAY, detail="refused 2026-10-28 23:59, 24 h 0 min after"),
    C("DSR-DEADLINE", "not answered, 15th working day is today", request, DUE(eod(D)),
      boundary=True, received_at=dt.datetime(2026, 11, 3, 9, tzinfo=SHANGHAI),
      status="in_progress", completed_at=None),
    C("DSR-DEADLINE", "not answered, 15th working day was yesterday", request, FAIL,
      boundary=True, received_at=RQ, status="in_progress", completed_at=None,
      detail="not answered (in_progress), the deadline passed"),
    C("DSR-DEADLINE", "received last Friday, due in 15 working days", request,
      DUE(eod(dt.date(2026, 12, 11))), received_at=dt.datetime(2026, 11, 20, 10, tzinfo=SHANGHAI),
      status="received", identity_verified_at=None, completed_at=None),
    C("DSR-DEADLINE", "completed after as-of: unanswered then", request, FAIL,
      received_at=dt.datetime(2026, 10, 20, 10, tzinfo=SHANGHAI),
      identity_verified_at=None, completed_at=NOW + H),
    C("DSR-DEADLINE", "marked completed without completed_at", request, FAIL,
      completed_at=None, detail="no completed_at recorded"),
    C("DSR-DEADLINE", "withdrawn never fires", request, OUT, status="withdrawn",
      received_at=dt.datetime(2026, 9, 1, 10, tzinfo=SHANGHAI), completed_at=None),
    C("DSR-DEADLINE", "received after as-of", request, OUT, received_at=NOW - H,
      status="received", identity_verified_at=None, completed_at=None),
    # DSR-REFUSAL-REASON (v2: PIPL Art. 50)
    C("DSR-REFUSAL-REASON", "refused with a reason", request, OK, status="refused",
      refusal_reason="Information kept under a court order"),
    C("DSR-REFUSAL-REASON", "refused without a reason", request, FAIL, status="refused",
      detail="no refusal reason recorded"),
    C("DSR-REFUSAL-REASON", "a blank reason is no reason", request, FAIL, boundary=True,
      status="refused", refusal_reason="   "),
    C("DSR-REFUSAL-REASON", "a one-letter reason is a reason", request, OK, boundary=True,
      status="refused", refusal_reason="x"),
    C("DSR-REFUSAL-REASON", "completed", request, OUT, refusal_reason=None),
    C("DSR-REFUSAL-REASON", "withdrawn", request, OUT, status="withdrawn", completed_at=None),
    # DSR-IDENTITY (v2: policy 8.3, low)
    C("DSR-IDENTITY", "verified before completion", request, OK),
    C("DSR-IDENTITY", "verified in the same second", request, OK, boundary=True,
      identity_verified_at=DONE),
    C("DSR-IDENTITY", "verified a second after completion", request, FAIL, boundary=True,
      identity_verified_at=DONE + S, detail="1 s after it was completed"),
    C("DSR-IDENTITY", "not verified", erasure, FAIL, identity_verified_at=None,
      subject_ref="S-IDV", detail="no identity verification on record"),
    C("DSR-IDENTITY", "verification dated after as-of", request, FAIL,
      identity_verified_at=NOW + H),
    C("DSR-IDENTITY", "a correction is out", request, OUT, kind="correct",
      identity_verified_at=None),
    C("DSR-IDENTITY", "a complaint is out", request, OUT, kind="complaint",
      identity_verified_at=None),
    C("DSR-IDENTITY", "in progress", request, OUT, status="in_progress", completed_at=None,
      identity_verified_at=None, received_at=RQ + 18 * DAY),
    C("DSR-IDENTITY", "refused", request, OUT, status="refused", refusal_reason="Not the subject",
      identity_verified_at=None),
    # DSR-DELETION-DONE (v2: PIPL Art. 47, NDSMR Art. 24)
    C("DSR-DELETION-DONE", "every record deleted by completion", erasure, OK,
      subject_ref="S-DEL-1", events=[dict(deleted_on=dt.date(2026, 11, 4)),
                                     dict(category="phone", deleted_on=dt.date(2026, 11, 5))]),
    C("DSR-DELETION-DONE", "deleted on the completion date", erasure, OK, boundary=True,
      subject_ref="S-DEL-2", events=[dict(deleted_on=dt.date(2026, 11, 6))]),
    C("DSR-DELETION-DONE", "deleted the day after completion", erasure, FAIL, boundary=True,
      subject_ref="S-DEL-3", events=[dict(deleted_on=dt.date(2026, 11, 7))],
      detail="not deleted on 2026-11-06 and not on hold; deleted since"),
    C("DSR-DELETION-DONE", "a record still kept", erasure, FAIL, subject_ref="S-DEL-4",
      events=[dict(deleted_on=dt.date(2026, 11, 1)), dict(category="phone"),
              dict(category="address", deleted_on=dt.date(2026, 11, 20))],
      detail="2 retention records (address, phone, first record"),
    C("DSR-DELETION-DONE", "account cancellation with a record kept", erasure, FAIL,
      kind="cancel_account", subject_ref="S-DEL-5", events=[dict()],
      detail="1 still not deleted"),
    C("DSR-DELETION-DONE", "completed 00:30 Shanghai (previous day UTC), deleted that day",
      erasure, OK, boundary=True, subject_ref="S-DEL-6",
      completed_at=dt.datetime(2026, 11, 5, 16, 30, tzinfo=UTC),
      events=[dict(deleted_on=dt.date(2026, 11, 6))]),
    C("DSR-DELETION-DONE", "a record on hold is not kept against the request", erasure, OK,
      subject_ref="S-DEL-7", events=[dict(service_ended_on=dt.date(2026, 10, 1),
                                          hold_reason="court_or_legal_proceedings",
                                          hold_reference="(2026) case 9",
                                          hold_review_on=days(60))]),
    C("DSR-DELETION-DONE", "a record collected after completion is new data", erasure, OK,
      subject_ref="S-DEL-8", events=[dict(collected_on=dt.date(2026, 11, 7))]),
    C("DSR-DELETION-DONE", "no records of the subject", erasure, OK, subject_ref="S-DEL-9"),
    C("DSR-DELETION-DONE", "another subject's records do not count", erasure, OK,
      subject_ref="S-DEL-10", events=[]),
    C("DSR-DELETION-DONE", "an access request is out", request, OUT, subject_ref="S-DEL-11",
      events=[dict()]),
    C("DSR-DELETION-DONE", "a refused deletion is out", erasure, OUT, status="refused",
      refusal_reason="Statutory retention (Accounting Law)", subject_ref="S-DEL-12",
      events=[dict()]),
    C("DSR-DELETION-DONE", "in progress is out", erasure, OUT, status="in_progress",
      completed_at=None, received_at=RQ + 18 * DAY, subject_ref="S-DEL-13", events=[dict()]),
    C("DSR-DELETION-DONE", "completed after as-of is out", erasure, OUT,
      received_at=dt.datetime(2026, 11, 20, 10, tzinfo=SHANGHAI),
      identity_verified_at=dt.datetime(2026, 11, 20, 11, tzinfo=SHANGHAI),
      completed_at=NOW + H, subject_ref="S-DEL-14", events=[dict()]),
]

PREFIX = {"processors": "PRC", "sharing_agreements": "SHA", "incidents": "INC",
          "rights_requests": "REQ"}


def _assign_ids() -> None:
    for i, case in enumerate(CASES, start=1):
        table = TABLE_OF[case.factory]
        case.entity_id = str(i) if table == "retention_records" else f"{PREFIX[table]}-{i:04d}"


_assign_ids()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """One store holding every case's entity; one check per as-of."""
    store = make_store(tmp_path_factory.mktemp("rules") / "matrix.duckdb", clock=lambda: NOW)
    by_table: dict[str, list[dict]] = {}
    for case in CASES:
        table = TABLE_OF[case.factory]
        row = case.factory(**case.over)
        row[KEYS[table]] = int(case.entity_id) if table == "retention_records" else case.entity_id
        by_table.setdefault(table, []).append(row)
    for table, rows in by_table.items():
        insert(store, table, rows)
    for case in CASES:
        if case.events and TABLE_OF[case.factory] == "rights_requests":
            add_subject_records(store, case.over["subject_ref"], list(case.events))
        elif case.events:
            add_events(store, case.entity_id, list(case.events))
    results = {key: engine.run_check(store, key) for key in {c.as_of for c in CASES}}
    yield results
    store.close()


def _entity_rows(frame: pd.DataFrame, case: Case) -> pd.DataFrame:
    etype = ENTITY_TYPE[TABLE_OF[case.factory]]
    return frame[(frame["entity_type"] == etype) & (frame["entity_id"] == case.entity_id)]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule_id}: {c.name}" for c in CASES])
def test_rule_case(matrix, case):
    result = matrix[case.as_of]
    findings = _entity_rows(result.findings, case)
    due = _entity_rows(result.due, case)
    due_here = due[due["rule_id"] == case.rule_id]
    kind = case.expect.kind
    if kind == "fail":
        assert sorted(findings["rule_id"]) == sorted((case.rule_id,) + case.also), findings
        row = findings[findings["rule_id"] == case.rule_id].iloc[0]
        rule = next(r for r in load_rules() if r.rule_id == case.rule_id)
        assert (row["clause"], row["severity"]) == (rule.clause, rule.severity)
        assert row["detail"]
        if case.detail:
            assert case.detail in row["detail"], row["detail"]
        assert due_here.empty, "a finding is never also a due item"
    else:
        assert list(findings["rule_id"]) == list(case.also), findings
        if kind == "due":
            assert len(due_here) == 1, due
            assert due_here.iloc[0]["due_at"] == pd.Timestamp(case.expect.due_at)
            assert due_here.iloc[0]["detail"]
        else:
            assert due_here.empty, due_here


def test_every_rule_has_compliant_violating_and_boundary_cases():
    for rule in load_rules():
        kinds = {c.expect.kind for c in CASES if c.rule_id == rule.rule_id}
        assert {"ok", "fail"} <= kinds or {"due", "fail"} <= kinds, rule.rule_id
        assert any(c.boundary for c in CASES if c.rule_id == rule.rule_id), rule.rule_id


def test_compliant_defaults_give_no_finding_at_all(store):
    add(store, processor, "PRC-1")
    add(store, offboarded, "PRC-2")
    add(store, agreement, "SHA-1")
    add(store, merger, "SHA-2")
    add(store, disclosure, "SHA-3")
    add(store, record, 1)
    add(store, held, 2)
    add(store, incident, "INC-1")
    add(store, request, "REQ-1")
    add(store, erasure, "REQ-2", subject_ref="S-2")
    result = engine.run_check(store, D)
    assert result.findings.empty, result.findings
    # every rule that has a compliant default entity in scope counts it as applicable
    applicable = dict(zip(result.rule_scores["rule_id"], result.rule_scores["applicable"]))
    for rule_id in ("PROC-CONFIDENTIALITY", "PROC-OFFBOARD-RETURN", "SHARE-CONSENT",
                    "SHARE-MERGER-NOTICE", "SHARE-LEGAL-NOTICE", "RET-OVERDUE",
                    "RET-HOLD-INVALID", "INC-USER-NOTICE", "INC-NOTICE-CONTENT",
                    "PROC-PIA", "PROC-TERMS", "SHARE-SEPARATE-CONSENT", "SHARE-PIA",
                    "INC-PI-AUTHORITY", "INC-GRADE", "DSR-DEADLINE", "DSR-IDENTITY",
                    "DSR-DELETION-DONE"):
        assert applicable[rule_id] >= 1, rule_id


def test_scope_is_exact_applicable_counts(store):
    """The scopes' edges, counted: what a rule applies to is exactly what it says."""
    add(store, processor, "PRC-A")                                  # active
    add(store, processor, "PRC-S", status="suspended")
    add(store, offboarded, "PRC-O")
    add(store, processor, "PRC-F", engaged_on=days(1))              # engaged after as-of
    add(store, processor, "PRC-N", data_categories=[])              # receives no PI
    add(store, agreement, "SHA-A")
    add(store, agreement, "SHA-E", status="ended")
    add(store, record, 1)
    add(store, record, 2, deleted_on=days(-1))
    add(store, held, 3)
    add(store, incident, "INC-G")                                   # general
    add(store, incident, "INC-M", grade="major", regulator_reported_at=T0 + H)
    add(store, incident, "INC-F", detected_at=T + DAY)              # after as-of (T)
    scores = engine.run_check(store, T).rule_scores.set_index("rule_id")["applicable"]
    assert scores["PROC-CONFIDENTIALITY"] == 1          # PRC-A (PRC-N receives nothing)
    assert scores["PROC-TERMS"] == 2                    # PRC-A, PRC-N
    assert scores["PROC-OFFBOARD-RETURN"] == 1          # PRC-O
    assert scores["SHARE-CONSENT"] == 1                 # SHA-A
    assert scores["SHARE-TRANSFER-BASIS"] == 0
    assert scores["RET-OVERDUE"] == 1                   # record 1 (2 deleted, 3 held)
    assert scores["RET-HOLD-INVALID"] == 1              # record 3
    assert scores["RET-LOCATION"] == 2                  # records 1 and 3
    assert scores["INC-EMERGENCY-PLAN"] == 2            # INC-G, INC-M
    assert scores["INC-REGULATOR-DEADLINE"] == 1        # INC-M
    assert scores["INC-PI-AUTHORITY"] == 2              # INC-G, INC-M (people affected)
    assert scores["INC-POLICE"] == 0                    # no crime suspected
    assert scores["PROC-PIA"] == 1                      # PRC-A (PRC-N receives nothing)
    assert scores["SHARE-SEPARATE-CONSENT"] == 1        # SHA-A
    assert scores["SHARE-PIA"] == 1                     # SHA-A


@pytest.mark.parametrize("values, expect", [
    ({}, {"INC-PI-AUTHORITY": "due", "INC-POLICE": "fail", "INC-USER-NOTICE": "due"}),
    ({"pi_authority_notice_hours": 2, "user_notice_hours": 2},
     {"INC-PI-AUTHORITY": "fail", "INC-POLICE": "fail", "INC-USER-NOTICE": "fail"}),
    ({"police_report_hours": 6}, {"INC-PI-AUTHORITY": "due", "INC-POLICE": "due",
                                  "INC-USER-NOTICE": "due"}),
    ({"police_report_hours": 6, "cii_operator": True},      # the CII clock: 1 h
     {"INC-PI-AUTHORITY": "due", "INC-POLICE": "fail", "INC-USER-NOTICE": "due"}),
    ({"police_report_hours": 6, "police_report_hours_cii": 6, "cii_operator": True},
     {"INC-PI-AUTHORITY": "due", "INC-POLICE": "due", "INC-USER-NOTICE": "due"}),
])
def test_v2_incident_clocks_follow_settings(tmp_path, values, expect):
    store = _settings_store(tmp_path, **values)
    add(store, incident, "INC-1", detected_at=T - 5 * H, suspected_crime=True,
        pi_authority_notified_at=None, users_notified_at=None)
    result = engine.run_check(store, T)
    for rule_id, want in expect.items():
        got = ("fail" if len(_rule_findings(result, rule_id))
               else "due" if (result.due["rule_id"] == rule_id).any() else "ok")
        assert got == want, (rule_id, got)
    store.close()


@pytest.mark.parametrize("values, grade_fails", [
    ({}, {"INC-L": True, "INC-D": True}),
    ({"grade_relatively_major_loss_cny": 7_000_000}, {"INC-L": False, "INC-D": True}),
    ({"grade_important_data_floor": "general"}, {"INC-L": True, "INC-D": False}),
    ({"grade_important_data_floor": "major"}, {"INC-L": True, "INC-D": True}),
])
def test_grading_thresholds_are_settings(tmp_path, values, grade_fails):
    store = _settings_store(tmp_path, **values)
    add(store, incident, "INC-L", affected_subjects=None, economic_loss_cny=6_000_000)
    add(store, incident, "INC-D", affected_subjects=None, important_data_involved=True)
    add(store, incident, "INC-R", grade="relatively_major", affected_subjects=None,
        important_data_involved=True, regulator_reported_at=T0 + H)
    found = set(_rule_findings(engine.run_check(store, D), "INC-GRADE")["entity_id"])
    assert {i for i, fails in grade_fails.items() if fails} == found - {"INC-R"}
    # a relatively major incident with important data fails only when the floor is major
    assert ("INC-R" in found) == (values.get("grade_important_data_floor") == "major")
    store.close()


def test_a_bad_grade_floor_setting_is_refused():
    from dashboard.settings import Settings, SettingsError
    with pytest.raises(SettingsError, match="is not one of general, relatively_major"):
        Settings({"grade_important_data_floor": "severe"})


# -- settings change the results ------------------------------------------------------

def _settings_store(tmp_path, **values):
    from dashboard.settings import Settings
    return make_store(tmp_path / "s.duckdb", settings=Settings(values), clock=lambda: NOW)


def _rule_findings(result, rule_id):
    return result.findings[result.findings["rule_id"] == rule_id]


@pytest.mark.parametrize("values, expect", [
    ({}, "due"),                                        # 4 h: detected 2 h ago is due
    ({"cii_operator": True}, "fail"),                   # 1 h: late
    ({"regulator_report_hours": 1}, "fail"),
    ({"cii_operator": True, "regulator_report_hours_cii": 3}, "due"),
])
def test_regulator_clock_follows_settings(tmp_path, values, expect):
    store = _settings_store(tmp_path, **values)
    add(store, incident, "INC-1", grade="major", detected_at=T - 2 * H)
    result = engine.run_check(store, T)
    findings = _rule_findings(result, "INC-REGULATOR-DEADLINE")
    due = result.due[result.due["rule_id"] == "INC-REGULATOR-DEADLINE"]
    assert (len(findings), len(due)) == ((1, 0) if expect == "fail" else (0, 1))
    hours = store.settings.regulator_hours()
    if expect == "due":
        assert due.iloc[0]["due_at"] == pd.Timestamp(T - 2 * H + hours * H)
    else:
        assert f"the {hours} h" in findings.iloc[0]["detail"]
    store.close()


def test_day_and_threshold_settings_change_results(tmp_path):
    store = _settings_store(tmp_path, processor_assessment_days=400, incident_stale_days=30,
                            grade_relatively_major_subjects=500, due_soon_days=5,
                            offboard_return_days=60, legal_disclosure_notice_days=10,
                            user_notice_hours=24, summary_report_days=10)
    add(store, processor, "PRC-1", last_assessed_on=days(-366))       # fine within 400 days
    add(store, offboarded, "PRC-2", offboarded_on=days(-58), data_returned_on=None)  # due
    add(store, disclosure, "SHA-1", effective_from=days(-11), users_notified_on=None)
    add(store, agreement, "SHA-2", expires_on=days(6))                # beyond 5-day horizon
    add(store, incident, "INC-1", affected_subjects=600, users_notified_at=T0 + 25 * H)
    add(store, incident, "INC-2", detected_at=T0 - 20 * DAY, status="resolved",
        resolved_at=T0 - 11 * DAY)
    add(store, incident, "INC-3", detected_at=T0 - 20 * DAY)          # stale after 30 days only
    result = engine.run_check(store, D)
    got = sorted(zip(result.findings["rule_id"], result.findings["entity_id"]))
    assert got == [("INC-GRADE", "INC-1"), ("INC-SUMMARY", "INC-2"),
                   ("INC-USER-NOTICE", "INC-1"), ("SHARE-LEGAL-NOTICE", "SHA-1")]
    due = set(zip(result.due["rule_id"], result.due["entity_id"]))
    assert ("PROC-OFFBOARD-RETURN", "PRC-2") in due
    assert ("SHARE-EXPIRED-ACTIVE", "SHA-2") not in due
    store.close()


def test_sensitive_categories_and_purpose_map_come_from_the_reference_tables(store):
    add(store, processor, "PRC-1", data_categories=["name", "phone"])
    assert engine.run_check(store, D).findings.empty
    with store.write(SYSTEM, "store.admin") as w:
        w.execute("UPDATE data_categories SET sensitive = true WHERE code = 'phone'")
        w.execute("DELETE FROM purpose_categories WHERE purpose = 'identity_verification' "
                  "AND category = 'phone'")
        w.audit("test.reference", "reference")
    got = sorted(engine.run_check(store, D).findings["rule_id"])
    assert got == ["PROC-MINIMUM-DATA"]     # PIA dated before engagement, so PROC-PIA is met
    add(store, processor, "PRC-2", data_categories=["phone"], pia_done_on=None,
        purpose="technical_support")
    got = sorted(zip(*[engine.run_check(store, D).findings[c] for c in ("rule_id", "entity_id")]))
    assert ("PROC-PIA", "PRC-2") in got


# -- rights requests on the working-day calendar -------------------------------------------

def test_a_deadline_in_a_year_the_calendar_does_not_know_is_provisional(tmp_path):
    """Received Sunday 20 Dec 2026: the 15th working day is Monday 11 Jan 2027, counted from
    weekends and statutory holidays (1 Jan) alone; due, then late, and said provisional."""
    later = dt.datetime(2027, 2, 1, 9, 0, tzinfo=SHANGHAI)
    store = make_store(tmp_path / "p.duckdb", clock=lambda: later)
    received = dt.datetime(2026, 12, 20, 10, 0, tzinfo=SHANGHAI)
    add(store, request, "REQ-P", received_at=received, status="in_progress",
        identity_verified_at=None, completed_at=None)
    add(store, request, "REQ-K", received_at=dt.datetime(2026, 11, 30, 10, tzinfo=SHANGHAI),
        status="in_progress", identity_verified_at=None, completed_at=None)
    result = engine.run_check(store, dt.date(2027, 1, 5))
    due = result.due[result.due["rule_id"] == "DSR-DEADLINE"].set_index("entity_id")
    assert due.loc["REQ-P", "due_at"] == pd.Timestamp(eod(dt.date(2027, 1, 11)))
    assert "provisional" in due.loc["REQ-P", "detail"]
    late = engine.run_check(store, dt.date(2027, 1, 12)).findings.set_index("entity_id")
    assert late.loc["REQ-P", "rule_id"] == "DSR-DEADLINE"
    assert "provisional" in late.loc["REQ-P", "detail"]
    # 30 Nov 2026 + 15 working days = 21 Dec 2026, all in the known year: not provisional
    assert "provisional" not in late.loc["REQ-K", "detail"]
    store.close()


def test_an_override_file_makes_the_deadline_official(tmp_path):
    later = dt.datetime(2027, 2, 1, 9, 0, tzinfo=SHANGHAI)
    calendar = tmp_path / "calendar.toml"
    calendar.write_text("[2027]\nholidays = [2027-01-01, 2027-01-04]\nworkdays = []\n",
                        encoding="utf-8")
    from dashboard.settings import Settings
    store = make_store(tmp_path / "o.duckdb", clock=lambda: later,
                       settings=Settings({"workday_calendar_file": str(calendar)}))
    add(store, request, "REQ-P", received_at=dt.datetime(2026, 12, 20, 10, tzinfo=SHANGHAI),
        status="in_progress", identity_verified_at=None, completed_at=None)
    due = engine.run_check(store, dt.date(2027, 1, 5)).due.set_index("entity_id")
    # 4 Jan 2027 is a day off in the override: the deadline moves to 12 Jan, not provisional
    assert due.loc["REQ-P", "due_at"] == pd.Timestamp(eod(dt.date(2027, 1, 12)))
    assert "provisional" not in due.loc["REQ-P", "detail"]
    store.close()


def test_the_working_days_are_a_setting(tmp_path):
    store = _settings_store(tmp_path, dsr_response_working_days=10)
    # received 2 Nov: 10 working days end on 16 Nov; completed on the 18th is late
    add(store, request, "REQ-1", completed_at=dt.datetime(2026, 11, 18, 10, tzinfo=SHANGHAI))
    findings = _rule_findings(engine.run_check(store, D), "DSR-DEADLINE")
    assert list(findings["entity_id"]) == ["REQ-1"]
    assert "10 working days after 2026-11-02" in findings.iloc[0]["detail"]
    store.close()


def test_request_scope_counts(store):
    add(store, request, "REQ-A")                                        # completed access
    add(store, erasure, "REQ-D", subject_ref="S-9")                     # completed delete
    add(store, request, "REQ-R", status="refused", refusal_reason="x")
    add(store, request, "REQ-W", status="withdrawn", completed_at=None)
    add(store, request, "REQ-F", received_at=NOW - H, completed_at=None,
        status="received")                                              # after as-of (D)
    scores = engine.run_check(store, D).rule_scores.set_index("rule_id")["applicable"]
    assert scores["DSR-DEADLINE"] == 3              # A, D, R (W withdrawn, F later)
    assert scores["DSR-REFUSAL-REASON"] == 1        # R
    assert scores["DSR-IDENTITY"] == 2              # A, D
    assert scores["DSR-DELETION-DONE"] == 1         # D

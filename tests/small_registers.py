"""A small hand-made store for the register pages' tests, with known answers.

As of 2026-11-24 (``conftest.DEMO_AS_OF``) with the default ``due_soon_days`` = 30,
so "soon" runs to 2026-12-24. The expected counts are written out next to the rows,
from the catalog's retention rules, not computed by the code under test.
"""
from __future__ import annotations

import datetime as dt

from conftest import SYSTEM

D = dt.date.fromisoformat

# processor_id, name, kind, service, purpose, data_categories, storage_region, status,
# agreement_expires_on, agreement_terms, last_assessed_on, owner
PROCESSORS = [
    ("PRC-0001", "旷视 Face ID Ltd", "service_provider", "face recognition",
     "identity_verification", ["name", "id_card_number", "facial_biometrics"], "CN", "active",
     "2027-06-30", ["purpose", "duration"], "2026-05-01", "li.na"),        # valid
    ("PRC-0002", "SMS Gateway Co", "supplier", "SMS verification codes",
     "identity_verification", ["phone"], "CN", "active", "2026-12-10", None, None,
     "wang.wei"),                                                            # expiring
    ("PRC-0003", "Cloud Hosting HK", "service_provider", "cloud hosting",
     "service_provision", ["name", "phone", "address"], "HK", "active", "2026-10-01", None,
     None, "li.na"),                                                         # expired
    ("PRC-0004", "智联招聘 Recruitment", "partner", "recruitment platform", "recruitment",
     ["resume", "name"], "CN", "active", None, None, None, "zhao.lei"),      # none
    ("PRC-0005", "Shunfeng Courier", "contractor", "offline delivery", "delivery",
     ["address", "phone"], "CN", "suspended", "2027-01-15", None, None, "wang.wei"),  # valid
    ("PRC-0006", "Group Affiliate", "affiliate", None, None, ["usage_records"], None,
     "offboarded", "2026-12-01", None, None, None),                          # expiring
    ("PRC-0007", "Insight Analytics", "agent", "consulting and analysis",
     "consulting_analysis", ["usage_records", "location"], "SG", "active", "2026-11-24",
     None, None, "li.na"),                                                   # expiring (today)
]
# As of 2026-11-24: active 5; active expired 1 (0003); active expiring 2 (0002, 0007);
# active with no expiry date 1 (0004); active outside CN 2 (0003 HK, 0007 SG).
# Expiries ahead, not offboarded: 2026-11: 0007; 2026-12: 0002; 2027-01: 0005; 2027-06: 0001.

# agreement_id, counterparty, processor_id, kind, legal_basis, data_categories, consent,
# consent_evidence, confidentiality_clause, recipient_region, effective_from, expires_on,
# status, subjects_affected
SHARING = [
    ("SHA-0001", "Partner Bank", None, "share", "explicit_consent", ["name", "phone"],
     "separate", "CONSENT-1", True, "CN", "2026-01-01", "2027-12-31", "active", 1000),
    ("SHA-0002", "Acquirer Ltd", None, "transfer", "merger_acquisition", ["name"], None, None,
     False, "HK", "2026-02-01", "2026-06-30", "active", 500),
    ("SHA-0003", "District Court", None, "disclosure", "legal_requirement", ["id_card_number"],
     "none", None, None, "CN", "2026-03-01", None, "ended", 20),
    ("SHA-0004", "旷视 Face ID Ltd", "PRC-0001", "share", "entrusted_processing",
     ["facial_biometrics"], "explicit", "CONSENT-4", True, "CN", "2026-04-01", "2027-04-01",
     "active", 3000),
    ("SHA-0005", "Group Affiliate US", None, "share", "affiliate_service", ["usage_records"],
     "bundled", None, None, "US", "2026-05-01", None, "active", None),
]
# active 4; cross-border active 2 (0002 HK, 0005 US); active past expiry 1 (0002);
# active, basis not legal_requirement, no confidentiality clause 2 (0002, 0005);
# subjects affected by active agreements 4500.

# record_id, subject_ref, category, system, storage_region, collected_on, service_ended_on,
# deleted_on, hold_reason, hold_reference, hold_review_on
RETENTION = [
    (1, "SUB-0001", "name", "crm", "CN", "2025-01-01", None, None, None, None, None),
    # ^ in service, name has no max age: no due date -> active
    (2, "SUB-0002", "name", "crm", "CN", "2025-01-01", "2026-10-01", None, None, None, None),
    # ^ due 2026-10-31 -> overdue
    (3, "SUB-0003", "name", "crm", "CN", "2025-01-01", "2026-10-25", None, None, None, None),
    # ^ due 2026-11-24 (as-of) -> due
    (4, "SUB-0004", "name", "crm", "CN", "2025-01-01", "2026-10-24", None, None, None, None),
    # ^ due 2026-11-23 -> overdue
    (5, "SUB-0005", "location", "app", "CN", "2026-01-01", None, None, None, None, None),
    # ^ max age 90 days: due 2026-04-01 -> overdue
    (6, "SUB-0006", "location", "app", "HK", "2026-10-01", None, None, None, None, None),
    # ^ due 2026-12-30, after the horizon -> active; undeleted outside CN
    (7, "SUB-0007", "resume", "hr", "CN", "2026-01-01", "2026-03-01", "2026-04-02", None, None,
     None),                                                   # deleted
    (8, "SUB-0008", "resume", "hr", "CN", "2026-01-01", "2026-02-01", None,
     "court_or_legal_proceedings", "(2026) Court 123", "2026-11-01"),  # on hold, review passed
    (9, "SUB-0009", "name", "crm", "CN", "2025-01-01", "2026-05-01", None, "law_or_regulation",
     None, "2027-02-01"),                                     # on hold, no reference
    (10, "SUB-0010", "cookie_identifier", "web", "SG", "2025-06-01", None, None, None, None,
     None),
    # ^ max age 365: due 2026-06-01 -> overdue; undeleted outside CN
    (11, "SUB-0011", "phone", "crm", "CN", "2026-01-01", "2026-11-20", None, None, None, None),
    # ^ due 2026-12-20 -> due
    (12, "SUB-0012", "cookie_identifier", "web", "CN", "2026-01-01", None, "2026-09-01",
     "authority_request", "REQ-9", None),                     # deleted (deletion wins)
]
RETENTION_STATUS = {"active": 2, "due": 2, "overdue": 4, "on_hold": 2, "deleted": 2}
# Overdue by due month: 2026-04 (5), 2026-06 (10), 2026-10 (2), 2026-11 (4).
OVERDUE_MONTHS = [("2026-04-01", 1, 1), ("2026-06-01", 1, 2), ("2026-10-01", 1, 3),
                  ("2026-11-01", 1, 4)]


def _dates(row, positions):
    row = list(row)
    for i in positions:
        if row[i] is not None:
            row[i] = D(row[i])
    return row


def fill(store) -> None:
    """Insert the rows above through the audited write path."""
    with store.write(SYSTEM, "register.import") as w:
        w.cur.executemany(
            "INSERT INTO processors (processor_id, name, kind, service, purpose, data_categories,"
            " storage_region, status, agreement_expires_on, agreement_terms, last_assessed_on,"
            " owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_dates(r, (8, 10)) for r in PROCESSORS])
        w.cur.executemany(
            "INSERT INTO sharing_agreements (agreement_id, counterparty, processor_id, kind,"
            " legal_basis, data_categories, consent, consent_evidence, confidentiality_clause,"
            " recipient_region, effective_from, expires_on, status, subjects_affected)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_dates(r, (10, 11)) for r in SHARING])
        w.cur.executemany(
            "INSERT INTO retention_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_dates(r, (5, 6, 7, 10)) for r in RETENTION])
        w.audit("test.fill", "registers", "small")

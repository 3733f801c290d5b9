"""The four registers of the data contract, described once.

Validation, import, export, the migrations' tests and the pages all read these
specs, so a column's name, type, enum and "required" flag live in one place.
Names follow ``shared/reference/data-contract.md`` to the letter: they are
stable for users' files and tools (add columns, never rename them).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .i18n import N_

# Column types of the contract.
TEXT = "text"
INTEGER = "integer"
NUMBER = "number"      # a decimal amount (yuan, two decimals)
DATE = "date"
TIMESTAMP = "timestamp"
BOOLEAN = "boolean"
ENUM = "enum"
LIST = "list"          # ';'-joined in CSV, VARCHAR[] in the store
REGION = "region"      # ISO 3166-1 alpha-2

SQL_TYPES = {
    TEXT: "VARCHAR",
    INTEGER: "BIGINT",
    NUMBER: "DECIMAL(18,2)",
    DATE: "DATE",
    TIMESTAMP: "TIMESTAMPTZ",
    BOOLEAN: "BOOLEAN",
    ENUM: "VARCHAR",
    LIST: "VARCHAR[]",
    REGION: "VARCHAR",
}

PROCESSOR_KINDS = ("supplier", "service_provider", "affiliate", "contractor", "agent", "partner")
PURPOSES = (
    "service_provision", "identity_verification", "personalization", "service_optimization",
    "recruitment", "delivery", "technical_support", "consulting_analysis", "legal_compliance",
)
PROCESSOR_STATUSES = ("active", "suspended", "offboarded")
AGREEMENT_TERMS = (
    "purpose", "duration", "method", "categories", "protection_measures", "rights_obligations",
    "return_or_delete", "no_subentrust",
)
SHARING_KINDS = ("share", "transfer", "disclosure")
LEGAL_BASES = (
    "explicit_consent", "legal_requirement", "dispute_resolution", "entrusted_processing",
    "affiliate_service", "merger_acquisition",
)
CONSENT_TYPES = ("none", "bundled", "explicit", "separate")
SHARING_STATUSES = ("active", "ended")
HOLD_REASONS = (
    "law_or_regulation", "court_or_legal_proceedings", "authority_request",
    "compliance_obligation", "rights_protection",
)
INCIDENT_TYPES = (
    "data_leak", "data_loss", "data_tampering", "unauthorized_access", "ransomware", "malware",
    "phishing", "ddos", "outage", "other",
)
# Ordered from the least to the most serious (national emergency plan grades IV..I).
GRADES = ("general", "relatively_major", "major", "particularly_major")
NOTIFICATION_CHANNELS = ("email", "notification", "announcement", "sms", "phone")
NOTICE_CONTENTS = (
    "categories", "cause", "possible_harm", "remedial_measures", "self_protection_advice",
    "contact",
)
INCIDENT_STATUSES = ("open", "contained", "resolved", "closed")
# Rights requests (policy 8 and 10; data contract, rights_requests, version 2)
REQUEST_CHANNELS = ("web_form", "email", "phone", "customer_service", "letter", "in_app")
REQUEST_KINDS = ("access", "copy", "correct", "delete", "withdraw_consent", "cancel_account",
                 "explain", "complaint")
REQUEST_STATUSES = ("received", "in_progress", "completed", "refused", "withdrawn")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    key: bool = False
    choices: tuple[str, ...] = ()        # enum values, or allowed list items
    categories: bool = False              # a list of data category codes (reference data)
    max_length: int = 0                   # text cap; 0 means the default cap
    label: str = ""                       # English column heading in the app
    help: str = ""

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    @property
    def heading(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Register:
    name: str
    title: str
    key: str
    columns: tuple[Column, ...]
    clause: str
    order_by: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


TEXT_CAP = 10_000  # longest free text accepted anywhere (descriptions, details)

PROCESSORS = Register(
    name="processors",
    title=N_("Processors"),
    key="processor_id",
    clause="5.1.4",
    order_by="processor_id",
    columns=(
        Column("processor_id", TEXT, required=True, key=True, max_length=64, label=N_("Processor ID")),
        Column("name", TEXT, required=True, max_length=300, label=N_("Name")),
        Column("kind", ENUM, required=True, choices=PROCESSOR_KINDS, label=N_("Kind")),
        Column("service", TEXT, max_length=500, label=N_("Service")),
        Column("purpose", ENUM, choices=PURPOSES, label=N_("Purpose")),
        Column("data_categories", LIST, categories=True, label=N_("Data categories")),
        Column("storage_region", REGION, label=N_("Storage region")),
        Column("status", ENUM, required=True, choices=PROCESSOR_STATUSES, label=N_("Status")),
        Column("engaged_on", DATE, label=N_("Engaged on")),
        Column("confidentiality_signed_on", DATE, label=N_("Confidentiality signed")),
        Column("nda_signed_on", DATE, label=N_("NDA signed")),
        Column("agreement_expires_on", DATE, label=N_("Agreement expires")),
        Column("agreement_terms", LIST, choices=AGREEMENT_TERMS, label=N_("Agreement terms")),
        Column("pia_done_on", DATE, label=N_("PIA done")),
        Column("last_assessed_on", DATE, label=N_("Last assessed")),
        Column("offboarded_on", DATE, label=N_("Offboarded on")),
        Column("data_returned_on", DATE, label=N_("Data returned")),
        Column("owner", TEXT, max_length=200, label=N_("Owner")),
    ),
)

SHARING_AGREEMENTS = Register(
    name="sharing_agreements",
    title=N_("Sharing agreements"),
    key="agreement_id",
    clause="5",
    order_by="agreement_id",
    columns=(
        Column("agreement_id", TEXT, required=True, key=True, max_length=64, label=N_("Agreement ID")),
        Column("counterparty", TEXT, required=True, max_length=300, label=N_("Counterparty")),
        Column("processor_id", TEXT, max_length=64, label=N_("Processor ID")),
        Column("kind", ENUM, required=True, choices=SHARING_KINDS, label=N_("Kind")),
        Column("legal_basis", ENUM, required=True, choices=LEGAL_BASES, label=N_("Legal basis")),
        Column("purpose", TEXT, max_length=1000, label=N_("Purpose")),
        Column("data_categories", LIST, categories=True, label=N_("Data categories")),
        Column("consent", ENUM, choices=CONSENT_TYPES, label=N_("Consent")),
        Column("consent_evidence", TEXT, max_length=1000, label=N_("Consent evidence")),
        Column("confidentiality_clause", BOOLEAN, label=N_("Confidentiality clause")),
        Column("recipient_region", REGION, label=N_("Recipient region")),
        Column("signed_on", DATE, label=N_("Signed on")),
        Column("effective_from", DATE, label=N_("Effective from")),
        Column("expires_on", DATE, label=N_("Expires on")),
        Column("status", ENUM, required=True, choices=SHARING_STATUSES, label=N_("Status")),
        Column("users_notified_on", DATE, label=N_("Users notified")),
        Column("legal_reference", TEXT, max_length=500, label=N_("Legal reference")),
        Column("subjects_affected", INTEGER, label=N_("Subjects affected")),
        # v2 (migration 0010): impact assessment before providing or disclosing, PIPL Art. 55(3)
        Column("pia_done_on", DATE, label=N_("PIA done")),
    ),
)

RETENTION_RECORDS = Register(
    name="retention_records",
    title=N_("Retention"),
    key="record_id",
    clause="6.2",
    order_by="record_id",
    columns=(
        Column("record_id", INTEGER, required=True, key=True, label=N_("Record ID")),
        Column("subject_ref", TEXT, required=True, max_length=128, label=N_("Subject")),
        Column("category", ENUM, required=True, categories=True, label=N_("Category")),
        Column("system", TEXT, required=True, max_length=200, label=N_("System")),
        Column("storage_region", REGION, required=True, label=N_("Storage region")),
        Column("collected_on", DATE, required=True, label=N_("Collected on")),
        Column("service_ended_on", DATE, label=N_("Service ended")),
        Column("deleted_on", DATE, label=N_("Deleted on")),
        Column("hold_reason", ENUM, choices=HOLD_REASONS, label=N_("Hold reason")),
        Column("hold_reference", TEXT, max_length=500, label=N_("Hold reference")),
        Column("hold_review_on", DATE, label=N_("Hold review")),
    ),
)

INCIDENTS = Register(
    name="incidents",
    title=N_("Incidents"),
    key="incident_id",
    clause="7.2",
    order_by="detected_at DESC",
    columns=(
        Column("incident_id", TEXT, required=True, key=True, max_length=64, label=N_("Incident ID")),
        Column("title", TEXT, required=True, max_length=200, label=N_("Title")),
        Column("description", TEXT, max_length=TEXT_CAP, label=N_("Description")),
        Column("incident_type", ENUM, required=True, choices=INCIDENT_TYPES, label=N_("Type")),
        Column("grade", ENUM, required=True, choices=GRADES, label=N_("Grade")),
        Column("occurred_at", TIMESTAMP, label=N_("Occurred")),
        Column("detected_at", TIMESTAMP, required=True, label=N_("Detected")),
        Column("reported_by", TEXT, max_length=200, label=N_("Reported by")),
        Column("affected_subjects", INTEGER, label=N_("Affected subjects")),
        Column("affected_sensitive_subjects", INTEGER, label=N_("Sensitive subjects")),
        Column("data_categories", LIST, categories=True, label=N_("Data categories")),
        Column("systems_affected", TEXT, max_length=1000, label=N_("Systems")),
        Column("emergency_plan_activated_at", TIMESTAMP, label=N_("Emergency plan")),
        Column("contained_at", TIMESTAMP, label=N_("Contained")),
        Column("regulator_reported_at", TIMESTAMP, label=N_("Regulator reported")),
        Column("regulator", TEXT, max_length=200, label=N_("Regulator")),
        Column("regulator_reference", TEXT, max_length=200, label=N_("Regulator reference")),
        Column("police_reported_at", TIMESTAMP, label=N_("Police reported")),
        Column("users_notified_at", TIMESTAMP, label=N_("Users notified")),
        Column("notification_channels", LIST, choices=NOTIFICATION_CHANNELS, label=N_("Channels")),
        Column("notice_contents", LIST, choices=NOTICE_CONTENTS, label=N_("Notice contents")),
        Column("resolved_at", TIMESTAMP, label=N_("Resolved")),
        Column("summary_filed_at", TIMESTAMP, label=N_("Summary filed")),
        Column("status", ENUM, required=True, choices=INCIDENT_STATUSES, label=N_("Status")),
        Column("root_cause", TEXT, max_length=TEXT_CAP, label=N_("Root cause")),
        Column("remediation", TEXT, max_length=TEXT_CAP, label=N_("Remediation")),
        # v2 (migration 0010): the facts PIPL Art. 57 and the 2025 reporting measures turn on
        Column("pi_authority_notified_at", TIMESTAMP, label=N_("PI authority notified"),
               help=N_("Notice to the authority protecting personal information (PIPL Art. 57); "
                    "a regulator report counts too.")),
        Column("user_notice_exemption", TEXT, max_length=2000, label=N_("User notice exemption"),
               help=N_("Why no notice to individuals is needed: the measures taken effectively "
                    "avoid harm (PIPL Art. 57 para. 2).")),
        Column("suspected_crime", BOOLEAN, label=N_("Suspected crime"),
               help=N_("A crime is suspected: the police are told promptly.")),
        Column("cii_involved", BOOLEAN, label=N_("CII involved"),
               help=N_("The incident involves critical information infrastructure: the 1 h "
                       "clocks apply.")),
        Column("important_data_involved", BOOLEAN, label=N_("Important data involved"),
               help=N_("Important or core data is involved: at least relatively major.")),
        Column("economic_loss_cny", NUMBER, label=N_("Economic loss (CNY)"),
               help=N_("Direct economic loss in yuan (2025 reporting measures, Annex).")),
    ),
)

RIGHTS_REQUESTS = Register(
    name="rights_requests",
    title=N_("Rights requests"),
    key="request_id",
    clause="8",
    order_by="received_at DESC",
    columns=(
        Column("request_id", TEXT, required=True, key=True, max_length=64, label=N_("Request ID")),
        Column("received_at", TIMESTAMP, required=True, label=N_("Received"),
               help=N_("When the request reached the company: the clock starts here.")),
        Column("channel", ENUM, required=True, choices=REQUEST_CHANNELS, label=N_("Channel")),
        Column("kind", ENUM, required=True, choices=REQUEST_KINDS, label=N_("Kind")),
        Column("subject_ref", TEXT, required=True, max_length=128, label=N_("Subject"),
               help=N_("The same pseudonymous id as retention_records.subject_ref.")),
        Column("identity_verified_at", TIMESTAMP, label=N_("Identity verified")),
        Column("status", ENUM, required=True, choices=REQUEST_STATUSES, label=N_("Status")),
        Column("completed_at", TIMESTAMP, label=N_("Completed"),
               help=N_("Completed, or refused: the reply was sent.")),
        Column("refusal_reason", TEXT, max_length=2000, label=N_("Refusal reason")),
        Column("handler", TEXT, max_length=200, label=N_("Handler")),
        Column("notes", TEXT, max_length=TEXT_CAP, label=N_("Notes")),
    ),
)

REGISTERS: dict[str, Register] = {
    r.name: r for r in (PROCESSORS, SHARING_AGREEMENTS, RETENTION_RECORDS, INCIDENTS,
                        RIGHTS_REQUESTS)
}


# The enum kind (``dashboard.i18n.LABELS``) of each coded column, for showing a register's
# rows in words; ``category`` columns hold the catalog's data category codes.
LABEL_KINDS: dict[str, dict[str, str]] = {
    "processors": {"kind": "processor_kind", "purpose": "purpose",
                   "status": "processor_status", "agreement_terms": "agreement_term",
                   "data_categories": "category"},
    "sharing_agreements": {"kind": "sharing_kind", "legal_basis": "legal_basis",
                           "consent": "consent_type", "status": "sharing_status",
                           "data_categories": "category"},
    "retention_records": {"category": "category", "hold_reason": "hold_reason"},
    "incidents": {"incident_type": "incident_type", "grade": "grade",
                  "status": "incident_status", "notification_channels": "notification_channel",
                  "notice_contents": "notice_content", "data_categories": "category"},
    "rights_requests": {"channel": "request_channel", "kind": "request_kind",
                        "status": "request_status"},
}

def get_register(name: str) -> Register:
    try:
        return REGISTERS[name]
    except KeyError:
        raise ValueError(
            f"unknown register {name!r}; expected one of: {', '.join(REGISTERS)}"
        ) from None

"""Incident documents (issue 17): the reports and notices an incident needs, written as
Word files (.docx) from what the register holds, in Chinese or in English.

- ``initial_report``: the report to the 网信部门 that 《网络安全事件报告管理办法》(2025)
  requires for an incident graded 较大 or above (Art. 4: within 4 h of detection, 1 h for
  CII), with the contents of Art. 7;
- ``supplementary_report``: what changed since the initial report (the timeline's steps
  after it);
- ``summary_report``: the summary after handling ends (Art. 8: within 30 days): cause,
  emergency measures, harm, accountability, rectification, lessons learned;
- ``individual_notice``: the notice to the individuals, with the six contents of
  《中华人民共和国个人信息保护法》第五十七条;
- ``authority_notice``: the notice to the authority protecting personal information
  (履行个人信息保护职责的部门, PIPL Art. 57).

Each required item is a heading and the facts the store holds. What the store does not hold
is never made up: the item says so in a highlighted marker (``MISSING``), and
``Document.items`` lists it, for the manager to complete before filing.

Every fixed text of a document (titles, headings, item names, the marker) is in ``TEXTS``
with its Chinese and English side by side, not in the gettext catalogs: a document is
written in the language asked for, whatever the language of the page. Enum values (grade,
type, status, channels) use ``i18n.label`` under ``i18n.using(locale)``; data categories
use the policy catalog's ``label_zh`` / ``label``. Free text recorded by users (titles,
descriptions, root causes) is reproduced as recorded.

Generating is an audited write (``store.write(actor, "incident.update")``: managers, DPOs
and the command line): the document is stored in ``incident_documents`` (migration 0019,
one row per generation, never overwritten) with one ``incident.document`` audit entry whose
``after`` holds its kind, locale, file name, size and SHA-256. The bytes are deterministic
for the same stored facts and time (the .docx's core properties and ZIP entries carry the
store clock's time). Every role that reads incidents may list and download stored
documents (``list_documents``, ``document_bytes``); audit packs that cover an incident
include its documents (``pack_documents``, used by ``dashboard/exports.py``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from . import i18n
from .access import Actor, require
from .i18n import N_, _
from .reference import load_catalog

KINDS = ("initial_report", "supplementary_report", "summary_report", "individual_notice",
         "authority_notice")
LOCALES = ("zh_CN", "en")
ACTION = "incident.document"          # the audit entry's action
PERMISSION = "incident.update"        # who may generate (managers, DPOs, the command line)
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# The page's names of the kinds (gettext: the UI's language).
KIND_LABELS = {
    "initial_report": N_("Initial report to the CAC"),
    "supplementary_report": N_("Supplementary report to the CAC"),
    "summary_report": N_("Summary report to the CAC"),
    "individual_notice": N_("Notice to individuals"),
    "authority_notice": N_("Notice to the PI protection authority"),
}
KIND_HELP = {
    "initial_report": N_("The report to the cyberspace administration (CAC) for an incident "
                         "graded relatively major or above, with the items of Art. 7 of the "
                         "2025 incident-reporting measures: due within 4 hours of detection "
                         "(1 hour for CII)."),
    "supplementary_report": N_("What changed since the initial report: the timeline's steps "
                               "recorded after it, and the incident's current facts."),
    "summary_report": N_("The summary report after handling ends (Art. 8 of the 2025 "
                         "measures: within 30 days): cause, emergency measures, harm, "
                         "accountability, rectification and lessons learned."),
    "individual_notice": N_("The notice to the individuals concerned, with the six contents "
                            "of PIPL Art. 57."),
    "authority_notice": N_("The notice to the authority protecting personal information "
                           "(PIPL Art. 57)."),
}
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}


def kind_label(kind: str) -> str:
    """The kind's name in the page's language."""
    words = KIND_LABELS.get(kind)
    return _(words) if words else str(kind)


def locale_label(locale: str) -> str:
    return LOCALE_NAMES.get(locale, str(locale))


class DocumentError(ValueError):
    """A document cannot be generated as asked. Nothing was written."""


# -- the documents' fixed texts: Chinese and English side by side ---------------------------
TEXTS: dict[str, tuple[str, str]] = {
    # the marker of an item the store does not hold
    "missing": ("【待填写】此项信息尚未记录，请经理补充。",
                "[TO BE COMPLETED] Not recorded yet: the manager must fill this in."),
    "sep": ("：", ": "),
    "list_sep": ("、", ", "),
    # titles and legal bases
    "title.initial_report": ("网络安全事件报告（初始报告）",
                             "Cybersecurity incident report (initial report)"),
    "title.supplementary_report": ("网络安全事件报告（补充报告）",
                                   "Cybersecurity incident report (supplementary report)"),
    "title.summary_report": ("网络安全事件总结报告", "Cybersecurity incident summary report"),
    "title.individual_notice.leak": ("个人信息泄露告知书",
                                     "Notice to individuals of a personal information leak"),
    "title.individual_notice.tampering": ("个人信息篡改告知书",
                                          "Notice to individuals of personal information "
                                          "tampering"),
    "title.individual_notice.loss": ("个人信息丢失告知书",
                                     "Notice to individuals of a personal information loss"),
    "title.individual_notice": ("个人信息安全事件告知书",
                                "Notice to individuals of a personal information security "
                                "incident"),
    "title.authority_notice": ("个人信息安全事件报告（致履行个人信息保护职责的部门）",
                               "Report of a personal information security incident to the "
                               "authority protecting personal information"),
    "basis.initial_report": ("依据《网络安全事件报告管理办法》第四条、第七条",
                             "Under Arts. 4 and 7 of the CAC Measures for National "
                             "Cybersecurity Incident Reporting (2025)"),
    "basis.supplementary_report": ("依据《网络安全事件报告管理办法》第七条（补充报告）",
                                   "Under Art. 7 of the CAC Measures for National "
                                   "Cybersecurity Incident Reporting (2025): supplementary "
                                   "report"),
    "basis.summary_report": ("依据《网络安全事件报告管理办法》第八条",
                             "Under Art. 8 of the CAC Measures for National Cybersecurity "
                             "Incident Reporting (2025)"),
    "basis.individual_notice": ("依据《中华人民共和国个人信息保护法》第五十七条",
                                "Under Art. 57 of the Personal Information Protection Law "
                                "of the PRC (PIPL)"),
    "basis.authority_notice": ("依据《中华人民共和国个人信息保护法》第五十七条",
                               "Under Art. 57 of the Personal Information Protection Law "
                               "of the PRC (PIPL)"),
    # the header table
    "head.unit": ("报告单位", "Reporting unit"),
    "head.handler": ("个人信息处理者", "Personal information handler"),
    "head.incident_id": ("事件编号", "Incident ID"),
    "head.title": ("事件名称", "Incident"),
    "head.recipient": ("报送单位", "Submitted to"),
    "head.deadline": ("报告截止时间", "Report deadline"),
    "head.generated_at": ("生成时间", "Generated at"),
    "head.generated_by": ("生成人", "Generated by"),
    "footer": ("本文件由安全事件台账自动生成，其 SHA-256 值记录于审计日志。"
               "标注“待填写”的事项须经理补充后方可报送或发出。",
               "Generated from the security incident register; its SHA-256 is recorded in "
               "the audit log. Items marked TO BE COMPLETED must be filled in by the manager "
               "before the document is filed or sent."),
    "note.not_reportable": ("注：本事件定级为“{grade}”。《网络安全事件报告管理办法》第四条要求报告的"
                            "是较大及以上级别的事件；如定级有变化，请先更新定级。",
                            "Note: this incident is graded {grade}. Art. 4 of the 2025 "
                            "measures requires a report for incidents graded relatively major "
                            "or above; if the grade changes, update it first."),
    "note.deadline": ("发现后 {hours} 小时内（{deadline}）", "within {hours} h of detection "
                      "({deadline})"),
    "intro.individual_notice": ("尊敬的用户：我们于{detected}发现一起{type}事件，"
                                "可能涉及您的个人信息。根据《中华人民共和国个人信息保护法》"
                                "第五十七条的规定，现将有关情况告知如下。",
                                "Dear user, on {detected} we discovered an incident "
                                "({type}) that may involve your personal information. As "
                                "Art. 57 of the Personal Information Protection Law "
                                "requires, we inform you as follows."),
    # item headings
    "item.unit_system": ("报告单位及受影响的系统、设施情况",
                         "Reporting unit and affected system or facility"),
    "item.discovery": ("事件发现时间、地点", "Time and place of discovery"),
    "item.type_grade": ("事件类型及级别", "Incident type and grade"),
    "item.harm": ("事件造成的危害和影响", "Harm and impact"),
    "item.measures": ("已采取的应对措施及效果", "Measures taken and their effect"),
    "item.ransom": ("勒索情况（勒索金额、方式、日期）",
                    "Ransom demanded (amount, means, date)"),
    "item.development": ("事态发展趋势及可能造成的进一步危害",
                         "Likely development and further harm"),
    "item.cause_preliminary": ("初步原因分析", "Preliminary analysis of the cause"),
    "item.leads": ("调查分析线索（攻击者信息、攻击路径、存在的漏洞等）",
                   "Leads for the investigation (attacker, attack path, vulnerabilities)"),
    "item.further": ("拟进一步采取的应对措施及需要支援的事项",
                     "Further measures planned and requests for support"),
    "item.scene": ("事件现场保护情况", "Preservation of the scene"),
    "item.other": ("其他需要报告的情况", "Anything else to report"),
    "item.initial": ("初始报告情况", "The initial report"),
    "item.changes": ("初始报告后的进展情况", "Developments since the initial report"),
    "item.current": ("事件最新情况", "The incident's current facts"),
    "item.cause": ("事件原因", "Cause of the incident"),
    "item.basic": ("事件基本情况", "The incident"),
    "item.emergency": ("采取的应急处置措施", "Emergency measures taken"),
    "item.harm_caused": ("事件造成的危害", "Harm caused"),
    "item.accountability": ("责任追究情况", "Accountability"),
    "item.rectification": ("整改情况", "Rectification"),
    "item.lessons": ("经验教训", "Lessons learned"),
    "item.categories": ("涉及的个人信息种类", "Categories of personal information involved"),
    "item.pi_cause": ("事件发生的原因", "Cause of the incident"),
    "item.possible_harm": ("可能造成的危害", "Possible harm"),
    "item.remedial": ("已采取的补救措施", "Remedial measures taken"),
    "item.self_help": ("个人可以采取的减轻危害的措施",
                       "What you can do to reduce the harm"),
    "item.contact": ("个人信息处理者的联系方式", "How to contact us"),
    "item.handler": ("个人信息处理者", "The personal information handler"),
    "item.scale": ("涉及的个人信息种类及规模",
                   "Personal information involved and the number of people"),
    "item.individuals": ("告知个人的情况", "Notice to the individuals"),
    # field labels
    "f.unit": ("报告单位", "Reporting unit"),
    "f.handler": ("名称", "Name"),
    "f.systems": ("受影响的系统、设施", "Affected system or facility"),
    "f.cii": ("是否涉及关键信息基础设施", "Critical information infrastructure involved"),
    "f.detected": ("发现时间", "Time of discovery"),
    "f.occurred": ("发生时间", "Time of occurrence"),
    "f.place": ("发现地点", "Place of discovery"),
    "f.reported_by": ("发现途径（报告人）", "Discovered by"),
    "f.title": ("事件名称", "Incident"),
    "f.type": ("事件类型", "Incident type"),
    "f.grade": ("事件级别", "Grade"),
    "f.description": ("事件概况", "What happened"),
    "f.affected": ("涉及个人信息的人数", "People whose personal information is involved"),
    "f.sensitive": ("其中涉及敏感个人信息的人数", "Of whom, sensitive personal information"),
    "f.categories": ("涉及的个人信息种类", "Categories of personal information"),
    "f.loss": ("直接经济损失", "Direct economic loss"),
    "f.important": ("是否涉及重要数据或核心数据", "Important or core data involved"),
    "f.measures": ("已采取的措施", "Measures taken"),
    "f.effect": ("措施效果", "Effect"),
    "f.ransom_amount": ("勒索金额", "Amount demanded"),
    "f.ransom_means": ("勒索方式（支付方式）", "Means (how payment is demanded)"),
    "f.ransom_date": ("勒索日期", "Date of the demand"),
    "f.status": ("当前状态", "Current status"),
    "f.development": ("发展趋势及进一步危害研判", "Likely development and further harm"),
    "f.cause_preliminary": ("初步原因", "Preliminary cause"),
    "f.attacker": ("攻击者信息", "Attacker"),
    "f.attack_path": ("攻击路径", "Attack path"),
    "f.vulnerabilities": ("存在的漏洞", "Vulnerabilities"),
    "f.crime": ("是否涉嫌违法犯罪", "Crime suspected"),
    "f.police": ("向公安机关报案", "Reported to the police"),
    "f.planned": ("拟采取的措施", "Further measures planned"),
    "f.support": ("需要支援的事项", "Support requested"),
    "f.scene": ("现场保护情况", "Preservation of the scene"),
    "f.notes": ("其他情况（时间线备注）", "Other facts (notes on the timeline)"),
    "f.initial_at": ("初始报告时间", "Initial report at"),
    "f.regulator": ("报送单位", "Submitted to"),
    "f.regulator_reference": ("报告编号", "Reference"),
    "f.changes": ("初始报告后记录的事项", "Steps recorded since the initial report"),
    "f.root_cause": ("原因", "Cause"),
    "f.resolved": ("处置结束时间", "Handling ended"),
    "f.summary_deadline": ("总结报告截止时间", "Summary report due"),
    "f.accountability": ("责任认定及追究", "Responsibility found and action taken"),
    "f.remediation": ("整改措施", "Rectification measures"),
    "f.lessons": ("经验教训及改进建议", "Lessons learned and improvements"),
    "f.possible_harm": ("可能造成的危害", "Possible harm"),
    "f.remedial": ("补救措施", "Remedial measures"),
    "f.self_help": ("建议您采取的措施", "What you can do"),
    "f.contact": ("联系方式", "Contact"),
    "f.users_notified": ("告知时间及方式", "Notified at, by"),
    "f.audience": ("告知对象", "Notified"),
    "f.exemption": ("无需告知个人的理由（第五十七条第二款）",
                    "Why no notice to individuals is needed (Art. 57 ¶2)"),
    # values
    "v.yes": ("是", "Yes"),
    "v.no": ("否", "No"),
    "v.people": ("{n} 人", "{n} people"),
    "v.no_pi": ("不涉及个人信息（登记的涉及人数为 0）",
                "No personal information involved (0 people recorded)"),
    "v.sensitive_mark": ("（敏感个人信息）", " (sensitive personal information)"),
    "v.grade": ("{grade}（{level}级）", "{grade} (grade {level})"),
    "v.contained": ("已于{at}控制事态，事件不再扩散。", "Contained at {at}: the incident no "
                    "longer spreads."),
    "v.not_contained": ("尚未控制（事件状态：{status}）。", "Not contained yet (status: "
                        "{status})."),
    "v.status_since": ("{status}", "{status}"),
    "v.police_at": ("已于{at}报案", "Reported at {at}"),
    "v.police_ref": ("（报案回执：{ref}）", " (reference {ref})"),
    "v.initial_doc": ("初始报告文件生成于{at}（报送时间未记录）",
                      "Initial report document generated at {at} (the filing time is not "
                      "recorded)"),
    "v.superseded": ("（已被第 {n} 号记录更正）", " (corrected by entry #{n})"),
    "v.event": ("{at} {step}（{actor}）：{detail}", "{at} {step} ({actor}): {detail}"),
    "v.event_bare": ("{at} {step}（{actor}）", "{at} {step} ({actor})"),
    "v.measure": ("{at}：{text}", "{at}: {text}"),
    "v.notified": ("{at}，通过{channels}", "{at}, by {channels}"),
    "v.deadline_days": ("处置结束后 {days} 日内（{deadline}）",
                        "within {days} days after handling ended ({deadline})"),
    "v.actor_role": ("{name}（{role}）", "{name} ({role})"),
    # measures (from the register's columns)
    "m.emergency_plan": ("启动网络安全事件应急预案", "Emergency plan activated"),
    "m.contained": ("控制事态，事件不再扩散", "Incident contained: it no longer spreads"),
    "m.regulator": ("向{authority}报告", "Reported to {authority}"),
    "m.regulator_ref": ("（报告编号：{ref}）", " (reference {ref})"),
    "m.pi_authority": ("通知履行个人信息保护职责的部门{authority}",
                       "Authority protecting personal information notified{authority}"),
    "m.police": ("向公安机关报案", "Reported to the police"),
    "m.users": ("通过{channels}告知受影响的个人", "Affected individuals notified by {channels}"),
    "m.exempt": ("依《中华人民共和国个人信息保护法》第五十七条第二款无需告知个人：{reason}",
                 "No notice to individuals needed (PIPL Art. 57 ¶2): {reason}"),
    "m.resolved": ("处置结束", "Handling ended"),
    "m.resolved_remediation": ("处置结束；整改措施：{text}", "Handling ended; remediation: {text}"),
    "m.the_cac": ("网信部门", "the CAC"),
    "m.summary": ("提交总结报告", "Summary report filed"),
    # timeline step names
    "e.detected": ("发现事件", "Detected"),
    "e.logged": ("登记事件", "Logged"),
    "e.emergency_plan_activated": ("启动应急预案", "Emergency plan activated"),
    "e.contained": ("控制事态", "Contained"),
    "e.regulator_reported": ("向网信部门报告", "Reported to the regulator"),
    "e.pi_authority_notified": ("通知个人信息保护职责部门", "PI authority notified"),
    "e.police_reported": ("向公安机关报案", "Reported to the police"),
    "e.users_notified": ("告知个人", "Users notified"),
    "e.user_notice_exempted": ("无需告知个人（第五十七条第二款）",
                               "No notice to individuals needed (Art. 57 ¶2)"),
    "e.grading_facts": ("更新定级事实", "Grading facts updated"),
    "e.resolved": ("处置结束", "Resolved"),
    "e.summary_filed": ("提交总结报告", "Summary report filed"),
    "e.closed": ("关闭事件", "Closed"),
    "e.note": ("备注", "Note"),
    "e.correction": ("更正记录", "Correction"),
}
GRADE_LEVELS = {"general": "IV", "relatively_major": "III", "major": "II",
                "particularly_major": "I"}
_ZH_NUMERALS = "一二三四五六七八九十"


def text(key: str, locale: str) -> str:
    """A document's fixed text in ``locale`` ("zh_CN" or "en")."""
    zh, en = TEXTS[key]
    return zh if locale == "zh_CN" else en


def _ordinal(n: int, locale: str) -> str:
    if locale != "zh_CN":
        return f"{n}. "
    if n <= 10:
        word = _ZH_NUMERALS[n - 1]
    elif n < 20:
        word = "十" + _ZH_NUMERALS[n - 11]
    else:
        word = str(n)
    return f"{word}、"


# -- what a document is made of -----------------------------------------------------------
@dataclass(frozen=True)
class Field:
    key: str
    label: str
    value: str | list[str] | None       # None: not recorded (the missing marker)


@dataclass(frozen=True)
class Section:
    key: str
    heading: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class DocItem:
    """One required item of a document: present when every fact it asks for is recorded;
    ``missing`` names the facts marked to be completed."""
    key: str
    heading: str
    present: bool
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    doc_id: int
    incident_id: str
    kind: str
    locale: str
    file_name: str
    content: bytes
    sha256: str
    generated_at: dt.datetime
    generated_by: str
    audit_seq: int
    items: tuple[DocItem, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def missing_items(self) -> list[DocItem]:
        return [i for i in self.items if not i.present]


def file_name(incident_id: str, kind: str, locale: str) -> str:
    return f"{incident_id}_{kind}_{locale}.docx"


# -- where the reporting unit and the contact come from -------------------------------------
# The settings reporting_unit and pi_contact (Settings page, data/settings.toml or
# COMPLIANCE_<NAME>); empty, the documents mark them "to be completed".
def reporting_unit(settings, locale: str = "zh_CN") -> str | None:
    """The company's name for the documents, or None (marked to be completed)."""
    return (getattr(settings, "reporting_unit", "") or "").strip() or None


def handler_contact(settings, locale: str = "zh_CN") -> str | None:
    """How individuals and authorities reach the handler (PIPL Art. 57(5)), or None."""
    return (getattr(settings, "pi_contact", "") or "").strip() or None


# -- the facts, in the document's language ---------------------------------------------------
class _Facts:
    """The incident's row and timeline, formatted in ``locale``."""

    def __init__(self, row: Mapping[str, Any], steps: Mapping[str, Any], events: list[dict],
                 settings, locale: str, baseline: tuple[dt.datetime, str] | None,
                 at: dt.datetime):
        self.row = row
        self.steps = steps
        self.events = events
        self.settings = settings
        self.locale = locale
        self.baseline = baseline
        self.at = at
        self.tz = ZoneInfo(settings.timezone)
        self.catalog = load_catalog()

    def t(self, key: str, **values: Any) -> str:
        words = text(key, self.locale)
        return words.format(**values) if values else words

    def get(self, name: str) -> Any:
        value = self.row.get(name)
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def time(self, value: Any) -> str | None:
        if value is None:
            return None
        with i18n.using(self.locale):
            return i18n.fmt_datetime(value, tz=self.settings.timezone)

    def label(self, kind: str, code: Any) -> str | None:
        if code is None:
            return None
        with i18n.using(self.locale):
            return i18n.label(kind, code)

    def labels(self, kind: str, codes: Iterable[Any] | None) -> str | None:
        codes = list(codes or [])
        if not codes:
            return None
        return self.t("list_sep").join(self.label(kind, c) for c in codes)

    def number(self, n: Any) -> str:
        with i18n.using(self.locale):
            return i18n.fmt_number(n)

    def people(self, n: Any) -> str | None:
        return None if n is None else self.t("v.people", n=self.number(n))

    def money(self, value: Any) -> str | None:
        if value is None:
            return None
        with i18n.using(self.locale):
            return i18n.fmt_money(value)

    def yes_no(self, value: Any) -> str | None:
        return None if value is None else self.t("v.yes" if value else "v.no")

    def grade(self) -> str | None:
        grade = self.get("grade")
        if grade is None:
            return None
        return self.t("v.grade", grade=self.label("grade", grade),
                      level=GRADE_LEVELS.get(grade, "?"))

    def categories(self) -> list[str] | str | None:
        codes = list(self.get("data_categories") or [])
        if not codes:
            return self.t("v.no_pi") if (self.get("affected_subjects") == 0) else None
        out = []
        for code in codes:
            cat = self.catalog.categories.get(code)
            if cat is None:
                out.append(str(code))
                continue
            words = (cat.label_zh or cat.label) if self.locale == "zh_CN" else cat.label
            out.append(words + (self.t("v.sensitive_mark") if cat.sensitive else ""))
        return out

    def actor(self, name: str | None, role: str | None = None) -> str:
        with i18n.using(self.locale):
            who = i18n.actor_label(name) or ""
            if role:
                return self.t("v.actor_role", name=who, role=i18n.label("role", role))
            return who

    # the measures taken, from the row's (corrected) columns, in time order
    def measures(self, *, remedial_only: bool = False) -> list[str]:
        row, out = self.row, []

        def add(at, key, **values):
            if at is not None:
                out.append((at, self.t("v.measure", at=self.time(at), text=self.t(key, **values))))

        add(row.get("emergency_plan_activated_at"), "m.emergency_plan")
        add(row.get("contained_at"), "m.contained")
        if not remedial_only:
            if row.get("regulator_reported_at") is not None:
                authority = self.get("regulator") or self.t("m.the_cac")
                words = self.t("m.regulator", authority=authority)
                if self.get("regulator_reference"):
                    words += self.t("m.regulator_ref", ref=self.get("regulator_reference"))
                out.append((row["regulator_reported_at"],
                            self.t("v.measure", at=self.time(row["regulator_reported_at"]),
                                   text=words)))
            if row.get("pi_authority_notified_at") is not None:
                name = (self.steps.get("pi_authority_notified") or {}).get(
                    "values", {}).get("pi_authority")
                authority = (f"（{name}）" if self.locale == "zh_CN" else f" ({name})") \
                    if name else ""
                add(row["pi_authority_notified_at"], "m.pi_authority", authority=authority)
            add(row.get("police_reported_at"), "m.police")
            if row.get("users_notified_at") is not None:
                channels = self.labels("notification_channel",
                                       row.get("notification_channels")) or "—"
                add(row["users_notified_at"], "m.users", channels=channels)
            exemption = self.get("user_notice_exemption")
            if exemption:
                out.append((None, self.t("m.exempt", reason=exemption)))
        if row.get("resolved_at") is not None:
            words = (self.t("m.resolved_remediation", text=self.get("remediation"))
                     if self.get("remediation") else self.t("m.resolved"))
            out.append((row["resolved_at"], self.t("v.measure", at=self.time(row["resolved_at"]),
                                                   text=words)))
        far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
        return [words for at, words in sorted(out, key=lambda p: p[0] or far)]

    def effect(self) -> str:
        if self.row.get("contained_at") is not None:
            return self.t("v.contained", at=self.time(self.row["contained_at"]))
        return self.t("v.not_contained", status=self.label("incident_status",
                                                           self.get("status")))

    def event_line(self, e: Mapping[str, Any]) -> str:
        step = (text(f"e.{e['kind']}", self.locale) if f"e.{e['kind']}" in TEXTS
                else str(e["kind"]))
        detail = (e.get("detail") or "").strip()
        values = {"at": self.time(e["at"]), "step": step, "actor": self.actor(e["actor"])}
        line = (self.t("v.event", detail=detail, **values) if detail
                else self.t("v.event_bare", **values))
        if e.get("superseded_by") is not None:
            line += self.t("v.superseded", n=int(e["superseded_by"]))
        return line

    def notes(self) -> list[str] | None:
        lines = [self.event_line(e) for e in self.events if e["kind"] == "note"]
        return lines or None


def _f(facts: _Facts, key: str, value: Any) -> Field:
    if isinstance(value, (list, tuple)):
        value = list(value) or None
    elif isinstance(value, str) and not value.strip():
        value = None
    return Field(key, facts.t(f"f.{key}"), value)


def _section(facts: _Facts, key: str, *fields: Field) -> Section:
    return Section(key, facts.t(f"item.{key}"), tuple(fields))


def _detection_fields(x: _Facts) -> list[Field]:
    return [_f(x, "detected", x.time(x.get("detected_at"))),
            _f(x, "occurred", x.time(x.get("occurred_at")))]


def _harm_fields(x: _Facts) -> list[Field]:
    affected = x.get("affected_subjects")
    return [
        _f(x, "description", x.get("description")),
        _f(x, "affected", x.people(affected)),
        _f(x, "sensitive", x.people(x.get("affected_sensitive_subjects"))),
        _f(x, "categories", x.categories()),
        _f(x, "loss", x.money(x.get("economic_loss_cny"))),
        _f(x, "important", x.yes_no(x.get("important_data_involved"))),
    ]


def _police(x: _Facts) -> str | None:
    at = x.get("police_reported_at")
    if at is None:
        return None
    words = x.t("v.police_at", at=x.time(at))
    ref = (x.steps.get("police_reported") or {}).get("values", {}).get("police_reference")
    return words + (x.t("v.police_ref", ref=ref) if ref else "")


def _initial_report(x: _Facts, unit: str | None, contact: str | None) -> list[Section]:
    sections = [
        _section(x, "unit_system", _f(x, "unit", unit), _f(x, "systems", x.get("systems_affected")),
                 _f(x, "cii", x.yes_no(x.get("cii_involved")))),
        _section(x, "discovery", *_detection_fields(x), _f(x, "place", None),
                 _f(x, "reported_by", x.get("reported_by"))),
        _section(x, "type_grade", _f(x, "title", x.get("title")),
                 _f(x, "type", x.label("incident_type", x.get("incident_type"))),
                 _f(x, "grade", x.grade())),
        _section(x, "harm", *_harm_fields(x)),
        _section(x, "measures", _f(x, "measures", x.measures()), _f(x, "effect", x.effect())),
    ]
    if x.get("incident_type") == "ransomware":
        # The register has no ransom columns: always to be completed for ransomware.
        sections.append(_section(x, "ransom", _f(x, "ransom_amount", None),
                                 _f(x, "ransom_means", None), _f(x, "ransom_date", None)))
    sections += [
        _section(x, "development",
                 _f(x, "status", x.label("incident_status", x.get("status"))),
                 _f(x, "development", None)),
        _section(x, "cause_preliminary", _f(x, "cause_preliminary", x.get("root_cause"))),
        _section(x, "leads", _f(x, "attacker", None), _f(x, "attack_path", None),
                 _f(x, "vulnerabilities", None), _f(x, "crime", x.yes_no(x.get("suspected_crime"))),
                 *([_f(x, "police", _police(x))] if x.get("suspected_crime") else [])),
        _section(x, "further", _f(x, "planned", None), _f(x, "support", None)),
        _section(x, "scene", _f(x, "scene", None)),
        _section(x, "other", _f(x, "notes", x.notes())),
    ]
    return sections


def _supplementary_report(x: _Facts, unit: str | None, contact: str | None) -> list[Section]:
    if x.baseline is None:
        initial_at = None
    elif x.baseline[1] == "regulator_reported":
        initial_at = x.time(x.baseline[0])
    else:
        initial_at = x.t("v.initial_doc", at=x.time(x.baseline[0]))
    since = x.baseline[0] if x.baseline else None
    changed = [x.event_line(e) for e in x.events
               if since is None or e["at"] > since
               or (e.get("recorded_at") is not None and e["recorded_at"] > since)]
    return [
        _section(x, "initial", _f(x, "initial_at", initial_at),
                 _f(x, "regulator", x.get("regulator")),
                 _f(x, "regulator_reference", x.get("regulator_reference"))),
        _section(x, "changes", _f(x, "changes", changed)),
        _section(x, "current", _f(x, "type", x.label("incident_type", x.get("incident_type"))),
                 _f(x, "grade", x.grade()),
                 _f(x, "status", x.label("incident_status", x.get("status"))),
                 *_harm_fields(x)[1:]),
        _section(x, "cause", _f(x, "root_cause", x.get("root_cause"))),
        _section(x, "measures", _f(x, "measures", x.measures()), _f(x, "effect", x.effect())),
        _section(x, "further", _f(x, "planned", None), _f(x, "support", None)),
    ]


def _summary_report(x: _Facts, unit: str | None, contact: str | None) -> list[Section]:
    resolved = x.get("resolved_at")
    due = None
    if resolved is not None:
        days = x.settings.summary_report_days
        due = x.t("v.deadline_days", days=days,
                  deadline=x.time(resolved + dt.timedelta(days=days)))
    return [
        _section(x, "basic", _f(x, "unit", unit), _f(x, "title", x.get("title")),
                 _f(x, "type", x.label("incident_type", x.get("incident_type"))),
                 _f(x, "grade", x.grade()), *_detection_fields(x),
                 _f(x, "systems", x.get("systems_affected")),
                 _f(x, "resolved", x.time(resolved)), _f(x, "summary_deadline", due)),
        _section(x, "cause", _f(x, "root_cause", x.get("root_cause"))),
        _section(x, "emergency", _f(x, "measures", x.measures()), _f(x, "effect", x.effect())),
        _section(x, "harm_caused", *_harm_fields(x)),
        _section(x, "accountability", _f(x, "accountability", None)),
        _section(x, "rectification", _f(x, "remediation", x.get("remediation"))),
        _section(x, "lessons", _f(x, "lessons", None)),
    ]


def _individual_notice(x: _Facts, unit: str | None, contact: str | None) -> list[Section]:
    return [
        _section(x, "categories", _f(x, "categories", x.categories())),
        _section(x, "pi_cause", _f(x, "root_cause", x.get("root_cause"))),
        _section(x, "possible_harm", _f(x, "possible_harm", None)),
        _section(x, "remedial", _f(x, "remedial", x.measures(remedial_only=True))),
        _section(x, "self_help", _f(x, "self_help", None)),
        _section(x, "contact", _f(x, "contact", contact)),
    ]


def _individuals_fields(x: _Facts) -> list[Field]:
    exemption = x.get("user_notice_exemption")
    if exemption and x.get("users_notified_at") is None:
        return [_f(x, "exemption", exemption)]
    at = x.get("users_notified_at")
    notified = None
    if at is not None:
        notified = x.t("v.notified", at=x.time(at),
                       channels=x.labels("notification_channel",
                                         x.get("notification_channels")) or "—")
    audience = (x.steps.get("users_notified") or {}).get("values", {}).get("audience")
    fields = [_f(x, "users_notified", notified)]
    if at is not None:
        fields.append(_f(x, "audience", audience))
    return fields


def _authority_notice(x: _Facts, unit: str | None, contact: str | None) -> list[Section]:
    return [
        _section(x, "handler", _f(x, "handler", unit), _f(x, "contact", contact)),
        _section(x, "basic", _f(x, "title", x.get("title")),
                 _f(x, "type", x.label("incident_type", x.get("incident_type"))),
                 _f(x, "grade", x.grade()), *_detection_fields(x),
                 _f(x, "systems", x.get("systems_affected")),
                 _f(x, "description", x.get("description"))),
        _section(x, "scale", _f(x, "categories", x.categories()),
                 _f(x, "affected", x.people(x.get("affected_subjects"))),
                 _f(x, "sensitive", x.people(x.get("affected_sensitive_subjects")))),
        _section(x, "cause", _f(x, "root_cause", x.get("root_cause"))),
        _section(x, "possible_harm", _f(x, "possible_harm", None)),
        _section(x, "remedial", _f(x, "remedial", x.measures(remedial_only=True))),
        _section(x, "individuals", *_individuals_fields(x)),
    ]


_BUILDERS = {"initial_report": _initial_report, "supplementary_report": _supplementary_report,
             "summary_report": _summary_report, "individual_notice": _individual_notice,
             "authority_notice": _authority_notice}


def required_items(kind: str, *, ransomware: bool = False) -> tuple[str, ...]:
    """The item keys a document of ``kind`` always has (tests and docs read it)."""
    keys = {
        "initial_report": ("unit_system", "discovery", "type_grade", "harm", "measures",
                           *(("ransom",) if ransomware else ()), "development",
                           "cause_preliminary", "leads", "further", "scene", "other"),
        "supplementary_report": ("initial", "changes", "current", "cause", "measures",
                                 "further"),
        "summary_report": ("basic", "cause", "emergency", "harm_caused", "accountability",
                           "rectification", "lessons"),
        "individual_notice": ("categories", "pi_cause", "possible_harm", "remedial",
                              "self_help", "contact"),
        "authority_notice": ("handler", "basic", "scale", "cause", "possible_harm",
                             "remedial", "individuals"),
    }
    return keys[kind]


def heading_text(kind: str, item: str, locale: str) -> str:
    return text(f"item.{item}", locale)


def _title(kind: str, row: Mapping[str, Any], locale: str) -> str:
    if kind == "individual_notice":
        variant = {"data_leak": ".leak", "unauthorized_access": ".leak",
                   "data_tampering": ".tampering", "data_loss": ".loss"}.get(
            row.get("incident_type"), "")
        return text(f"title.individual_notice{variant}", locale)
    return text(f"title.{kind}", locale)


# -- the .docx ------------------------------------------------------------------------------
_FONTS = {"zh_CN": ("Times New Roman", "宋体", "黑体"), "en": ("Calibri", "宋体", "黑体")}


def _set_font(style, latin: str, east_asia: str) -> None:
    from docx.oxml.ns import qn
    style.font.name = latin
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)


def _marker(paragraph, locale: str) -> None:
    from docx.enum.text import WD_COLOR_INDEX
    run = paragraph.add_run(text("missing", locale))
    run.bold = True
    run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def _render(kind: str, locale: str, title: str, header: list[tuple[str, str | None]],
            notes: list[str], sections: list[Section], at: dt.datetime,
            author: str, incident_id: str) -> bytes:
    from docx import Document as new_docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    doc = new_docx()
    latin, body_ea, head_ea = _FONTS[locale]
    _set_font(doc.styles["Normal"], latin, body_ea)
    doc.styles["Normal"].font.size = Pt(11)
    for name in ("Title", "Heading 1"):
        _set_font(doc.styles[name], latin, head_ea)
    heading = doc.add_heading(title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    basis = doc.add_paragraph(text(f"basis.{kind}", locale))
    basis.alignment = WD_ALIGN_PARAGRAPH.CENTER
    basis.runs[0].italic = True

    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in header:
        cells = table.add_row().cells
        cells[0].paragraphs[0].add_run(label).bold = True
        if value is None:
            _marker(cells[1].paragraphs[0], locale)
        else:
            cells[1].paragraphs[0].add_run(value)
    for note in notes:
        doc.add_paragraph(note)

    sep = text("sep", locale)
    for n, section in enumerate(sections, 1):
        doc.add_heading(_ordinal(n, locale) + section.heading, level=1)
        for f in section.fields:
            p = doc.add_paragraph()
            p.add_run(f.label + sep).bold = True
            if f.value is None:
                _marker(p, locale)
            elif isinstance(f.value, list):
                for item in f.value:
                    doc.add_paragraph(item, style="List Bullet")
            else:
                p.add_run(f.value)

    footer = doc.sections[0].footer.paragraphs[0]
    footer.text = text("footer", locale)
    footer.runs[0].font.size = Pt(8)

    props = doc.core_properties
    utc = at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    props.title = title
    props.subject = incident_id
    props.keywords = kind
    props.category = "incident document"
    props.author = author
    props.last_modified_by = author
    props.comments = text("footer", locale)
    props.language = "zh-CN" if locale == "zh_CN" else "en"
    props.identifier = incident_id
    props.revision = 1
    props.created = utc
    props.modified = utc
    props.last_printed = utc
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue(), at)


def _fixed_zip(raw: bytes, at: dt.datetime) -> bytes:
    """The .docx rewritten with every ZIP entry dated ``at`` (python-docx dates them with
    the wall clock), so that the same facts at the same time give the same bytes."""
    stamp = (max(at.year, 1980), at.month, at.day, at.hour, at.minute, at.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 0
            entry.external_attr = 0
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


# -- reading the facts ------------------------------------------------------------------------
def _events(cur, incident_id: str) -> list[dict]:
    result = cur.execute(
        'SELECT e.event_id, e."at", e.actor, e.kind, e.detail, m.recorded_at, m.role, '
        "s.superseded_by FROM incident_events e "
        "LEFT JOIN incident_event_meta m ON m.event_id = e.event_id "
        "LEFT JOIN (SELECT supersedes, min(event_id) AS superseded_by FROM incident_event_meta "
        "           WHERE supersedes IS NOT NULL GROUP BY supersedes) s "
        "       ON s.supersedes = e.event_id "
        "WHERE e.incident_id = ? ORDER BY e.\"at\", e.event_id", [incident_id])
    names = [d[0] for d in result.description]
    return [dict(zip(names, r)) for r in result.fetchall()]


def _baseline(cur, row: Mapping[str, Any]) -> tuple[dt.datetime, str] | None:
    """When the initial report was made: the regulator report's recorded time, else the
    first initial report generated from the register, else None."""
    if row.get("regulator_reported_at") is not None:
        return row["regulator_reported_at"], "regulator_reported"
    first = cur.execute("SELECT min(generated_at) FROM incident_documents "
                        "WHERE incident_id = ? AND kind = 'initial_report'",
                        [row["incident_id"]]).fetchone()[0]
    return (first, "initial_document") if first is not None else None


def _normalize_locale(locale: str | None) -> str:
    value = i18n.normalize(locale) if locale else None
    if value not in LOCALES:
        raise DocumentError(_("Unknown language {locale}: choose zh_CN or en.").format(
            locale=repr(str(locale)[:20])))
    return value


def build(cur, settings, incident_id: str, kind: str, locale: str, at: dt.datetime,
          generated_by: str, generated_role: str | None = None
          ) -> tuple[bytes, tuple[DocItem, ...]]:
    """The document's bytes and its items, from the store as ``cur`` sees it (no write)."""
    from .incidents import _load
    record = _load(cur, incident_id)
    if record is None:
        raise DocumentError(_("No incident {id}.").format(id=incident_id))
    row = record.row
    tz = ZoneInfo(settings.timezone)
    at = at.astimezone(tz)
    facts = _Facts(row, record.steps, _events(cur, incident_id), settings, locale,
                   _baseline(cur, row) if kind == "supplementary_report" else None, at)
    unit = reporting_unit(settings, locale)
    contact = handler_contact(settings, locale)
    sections = _BUILDERS[kind](facts, unit, contact)
    header: list[tuple[str, str | None]] = [
        (facts.t("head.handler" if kind in ("individual_notice", "authority_notice")
                 else "head.unit"), unit),
        (facts.t("head.incident_id"), incident_id),
        (facts.t("head.title"), facts.get("title")),
    ]
    notes: list[str] = []
    if kind in ("initial_report", "supplementary_report", "summary_report"):
        # the authority the report went to, once recorded; before that the law names it
        # (the 2025 measures: the cyberspace administration, 网信部门)
        header.append((facts.t("head.recipient"),
                       facts.get("regulator") or facts.t("m.the_cac")))
    if kind == "initial_report":
        detected = row.get("detected_at")
        hours = settings.regulator_hours(bool(row.get("cii_involved")))
        header.append((facts.t("head.deadline"), facts.t(
            "note.deadline", hours=hours,
            deadline=facts.time(detected + dt.timedelta(hours=hours)))
            if detected is not None else None))
        if row.get("grade") not in GRADE_LEVELS or row.get("grade") == "general":
            notes.append(facts.t("note.not_reportable",
                                 grade=facts.label("grade", row.get("grade"))))
    header += [(facts.t("head.generated_at"), facts.time(at)),
               (facts.t("head.generated_by"), facts.actor(generated_by, generated_role))]
    if kind == "individual_notice":
        notes.append(facts.t("intro.individual_notice",
                             detected=facts.time(row.get("detected_at")) or "—",
                             type=facts.label("incident_type", row.get("incident_type"))))
    content = _render(kind, locale, _title(kind, row, locale), header, notes, sections, at,
                      generated_by, incident_id)
    items = tuple(
        DocItem(s.key, s.heading, all(f.value is not None for f in s.fields),
                tuple(f.key for f in s.fields if f.value is None))
        for s in sections)
    return content, items


# -- generating (an audited write) ---------------------------------------------------------------
def generate(store, actor: Actor, incident_id: str, kind: str, *,
             locale: str = "zh_CN") -> Document:
    """Generate a document of ``kind`` for the incident in ``locale`` ("zh_CN" or "en"),
    store it (a new row) and audit it (one ``incident.document`` entry)."""
    require(actor, PERMISSION)
    if kind not in KINDS:
        raise DocumentError(_("Unknown document kind {kind}; the kinds are: {kinds}.").format(
            kind=repr(str(kind)[:40]), kinds=", ".join(KINDS)))
    locale = _normalize_locale(locale)
    incident_id = str(incident_id or "").strip()
    if not store.scalar("SELECT count(*) FROM incidents WHERE incident_id = ?", [incident_id]):
        raise DocumentError(_("No incident {id}.").format(id=incident_id[:80]))
    name = file_name(incident_id, kind, locale)
    with store.write(actor, PERMISSION) as w:
        at = w.at.astimezone(store.tz)
        content, items = build(w.cur, store.settings, incident_id, kind, locale, at,
                               actor.name, actor.role)
        digest = hashlib.sha256(content).hexdigest()
        doc_id = w.execute("SELECT coalesce(max(doc_id), 0) + 1 FROM incident_documents"
                           ).fetchone()[0]
        missing = [{"item": i.key, "missing": list(i.missing)} for i in items if not i.present]
        seq = w.audit(ACTION, "incident", incident_id, after={
            "doc_id": doc_id, "kind": kind, "locale": locale, "file_name": name,
            "size": len(content), "sha256": digest,
            "missing_items": [m["item"] for m in missing]})
        w.execute("INSERT INTO incident_documents (doc_id, incident_id, kind, locale, "
                  "file_name, sha256, size, content, generated_at, generated_by, "
                  "generated_role, audit_seq, missing) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [doc_id, incident_id, kind, locale, name, digest, len(content), content, at,
                   actor.name, actor.role, seq, json.dumps(missing, ensure_ascii=False)])
        w.appended_rows("incident_documents", "t.doc_id = $doc_id", {"doc_id": doc_id})
    return Document(doc_id, incident_id, kind, locale, name, content, digest, at, actor.name,
                    seq, items)


# -- reading stored documents (every role) -----------------------------------------------------
LIST_COLUMNS = ("doc_id", "incident_id", "kind", "locale", "file_name", "sha256", "size",
                "generated_at", "generated_by", "generated_role", "audit_seq", "missing")


def _has_table(store_or_cur) -> bool:
    sql = ("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
           "AND schema_name = 'main' AND table_name = 'incident_documents'")
    if hasattr(store_or_cur, "scalar"):
        return bool(store_or_cur.scalar(sql))
    return bool(store_or_cur.execute(sql).fetchone()[0])


def list_documents(store, incident_id: str) -> list[dict]:
    """The documents generated for the incident, newest first (without their bytes)."""
    if not _has_table(store):
        return []
    rows = store.rows(f"SELECT {', '.join(LIST_COLUMNS)} FROM incident_documents "
                      "WHERE incident_id = ? ORDER BY generated_at DESC, doc_id DESC",
                      [incident_id])
    out = []
    for r in rows:
        item = dict(zip(LIST_COLUMNS, r))
        item["missing"] = json.loads(item["missing"]) if item["missing"] else []
        out.append(item)
    return out


def document_bytes(store, doc_id: int) -> bytes:
    """The stored bytes of document ``doc_id`` (exactly what was generated and audited)."""
    row = store.rows("SELECT content FROM incident_documents WHERE doc_id = ?", [int(doc_id)])
    if not row:
        raise DocumentError(_("No document #{id}.").format(id=doc_id))
    return bytes(row[0][0])


def pack_documents(cur, incident_sql: str, params: Sequence[Any]) -> list[dict]:
    """The stored documents of the incidents ``incident_sql`` selects (a query returning
    ``incident_id``), with their bytes, for an audit pack (``dashboard/exports.py``): read
    on the pack's cursor, inside its snapshot."""
    if not _has_table(cur):
        return []
    result = cur.execute(
        "SELECT doc_id, incident_id, kind, locale, file_name, sha256, size, content, "
        "generated_at, generated_by, audit_seq FROM incident_documents "
        f"WHERE incident_id IN ({incident_sql}) ORDER BY incident_id, doc_id", list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, r)) for r in result.fetchall()]


def pack_member(doc: Mapping[str, Any]) -> str:
    """A document's name inside an audit pack: unique (one per generation)."""
    return f"documents/{doc['incident_id']}/{int(doc['doc_id']):06d}_{doc['file_name']}"

"""Two languages, 简体中文 and English (issue 17): one translation function, the enum
labels, and dates and numbers formatted by Babel for the locale.

- **Messages** are written in English in the code, marked ``_("…")`` (translated where it
  runs) or ``N_("…")`` (marked for extraction only: module-level constants, translated
  where they are shown with ``_(constant)``). Placeholders are named, ``str.format`` style:
  ``_("{count} findings").format(count=n)``, so that a translation may move them.
- **Catalogs** are standard gettext: ``locale/zh_CN/LC_MESSAGES/*.po`` in the repository
  (one file per area of the app, all in the ``messages`` domain's sense: merged into one
  catalog when loaded), extracted with Babel (``babel.cfg``; ``python -m dashboard.i18n
  extract`` writes ``locale/messages.pot``) and compiled at set-up (``python -m
  dashboard.i18n compile``, run by ``make setup``; the ``.mo`` files are not committed).
  A catalog whose ``.mo`` is missing or older than its ``.po`` is compiled in memory, so a
  checkout that skipped set-up still shows Chinese.
- **The locale** of a page run is the session's choice (sidebar), else the account's
  remembered choice, else the browser's language (``st.context.locale``), else English.
  The command line, the REST API and the CSV exports are contracts: they stay in English
  and keep the codes.
- **Codes never reach the screen**: ``label(kind, code)`` gives an enum value's words in the
  locale (``relatively_major`` → 较大 / Relatively major); ``label_frame`` does it for
  columns of a table before it is shown.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import io
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "locale"
POT_FILE = LOCALE_DIR / "messages.pot"
BABEL_CFG = ROOT / "babel.cfg"

ENGLISH = "en"
CHINESE = "zh_CN"
LOCALES: dict[str, str] = {CHINESE: "简体中文", ENGLISH: "English"}
DEFAULT_LOCALE = ENGLISH       # the command line, the API, exports; an unknown browser
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "NP_": ((1, "c"), 2)}

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("locale", default=None)


# -- the locale --------------------------------------------------------------------------
def normalize(value: str | None) -> str | None:
    """A supported locale from a browser or user value (``zh-CN``, ``zh_Hans_CN``, ``zh``,
    ``en-GB``), or None."""
    if not value or not isinstance(value, str):
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        # 简体: mainland, Singapore, "Hans"; Taiwan and Hong Kong read 繁體, which the app
        # does not have: they get Chinese too (closer than English)
        return CHINESE
    if tag.startswith("en"):
        return ENGLISH
    return None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an ``Accept-Language`` header (quality order)."""
    if not header:
        return None
    ranked = []
    for i, part in enumerate(header.split(",")):
        lang, _sep, params = part.strip().partition(";")
        q = 1.0
        m = re.search(r"q=([0-9.]+)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        ranked.append((-q, i, lang))
    for _q, _i, lang in sorted(ranked):
        found = normalize(lang)
        if found:
            return found
    return None


def get_locale() -> str:
    """The locale of this run: set by ``set_locale``/``using``, else (inside a Streamlit
    run, e.g. a widget callback before the page sets it) the session's, else English."""
    value = _current.get()
    if value:
        return value
    st = sys.modules.get("streamlit")
    if st is not None:
        try:
            from streamlit.runtime.scriptrunner import get_script_run_ctx
            if get_script_run_ctx() is not None:
                return st.session_state.get("locale") or DEFAULT_LOCALE
        except Exception:  # noqa: BLE001 - no session: English
            pass
    return DEFAULT_LOCALE


def set_locale(locale: str | None) -> str:
    value = normalize(locale) or DEFAULT_LOCALE
    _current.set(value)
    return value


@contextlib.contextmanager
def using(locale: str | None) -> Iterator[str]:
    """Run a block in ``locale`` (documents, tests)."""
    token = _current.set(normalize(locale) or DEFAULT_LOCALE)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def is_chinese() -> bool:
    return get_locale() == CHINESE


# -- catalogs -----------------------------------------------------------------------------
def po_files(locale: str = CHINESE) -> list[Path]:
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


def read_catalog(path: Path):
    from babel.messages.pofile import read_po
    with path.open("rb") as fh:
        return read_po(fh, locale=path.parent.parent.name)


@functools.lru_cache(maxsize=None)
def _translations(locale: str):
    """All of ``locale``'s catalogs merged (gettext's Translations)."""
    from babel.support import NullTranslations, Translations
    merged = None
    for po in po_files(locale):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            with mo.open("rb") as fh:
                part = Translations(fh)
        else:
            from babel.messages.mofile import write_mo
            buf = io.BytesIO()
            write_mo(buf, read_catalog(po))
            buf.seek(0)
            part = Translations(buf)
        merged = part if merged is None else merged.merge(part)
    return merged or NullTranslations()


def reload() -> None:
    """Forget the loaded catalogs (after ``compile`` or an edit, in tests)."""
    _translations.cache_clear()


def _(message: str) -> str:
    """``message`` (English) in this run's locale."""
    if not message:
        return message
    locale = get_locale()
    if locale == ENGLISH:
        return message
    return _translations(locale).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    locale = get_locale()
    if locale == ENGLISH:
        return singular if n == 1 else plural
    return _translations(locale).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in this run's locale, as meant in ``context`` (one English word, two
    Chinese ones: the page "Incident" is 事件详情, the entity an incident 安全事件)."""
    locale = get_locale()
    if locale == ENGLISH:
        return message
    return _translations(locale).pgettext(context, message)


def NP_(context: str, message: str) -> str:
    """Mark ``message`` in ``context`` for extraction (see ``pgettext``)."""
    return message


PAGE_CONTEXT = "page title"


def page_title(title: str) -> str:
    """A page's title (navigation.PAGES) in this run's locale: its "page title" meaning
    where the catalogs give one, else the plain translation."""
    shown = pgettext(PAGE_CONTEXT, title)
    return shown if shown != title or get_locale() == ENGLISH else _(title)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; translate it where it is shown, with ``_()``."""
    return message


def bilingual(message: str) -> str:
    """``message`` in Chinese and in English (documents' headings, notices)."""
    with using(CHINESE):
        zh = _(message)
    return zh if zh == message else f"{zh} ({message})"


# -- formatting (Babel) ------------------------------------------------------------------
SHANGHAI = "Asia/Shanghai"


def _babel_locale() -> str:
    return "zh_Hans_CN" if get_locale() == CHINESE else "en_GB"


def zone_name() -> str:
    """How the app names its time zone (Asia/Shanghai)."""
    return _("Beijing time")


def fmt_date(value: dt.date | dt.datetime | None) -> str:
    """``2026年12月3日`` / ``3 Dec 2026``; empty for None."""
    if value is None or (hasattr(value, "year") is False):
        return ""
    from babel.dates import format_date
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value, "medium", locale=_babel_locale())


def fmt_datetime(value: dt.datetime | None, *, tz: str = SHANGHAI, zone: bool = True,
                 seconds: bool = False) -> str:
    """``2026年12月3日 14:05 北京时间`` / ``3 Dec 2026 14:05 Beijing time`` (Asia/Shanghai)."""
    if value is None:
        return ""
    from zoneinfo import ZoneInfo

    from babel.dates import format_date, format_time
    if getattr(value, "tzinfo", None) is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    local = value.astimezone(ZoneInfo(tz))
    text = (f"{format_date(local.date(), 'medium', locale=_babel_locale())} "
            f"{format_time(local.time(), 'HH:mm:ss' if seconds else 'HH:mm', locale=_babel_locale())}")
    return f"{text} {zone_name()}" if zone else text


def fmt_number(value: int | float | Decimal | None, *, decimals: int | None = None) -> str:
    """``1,022`` in both languages (Babel's grouping for the locale)."""
    if value is None:
        return ""
    from babel.numbers import format_decimal
    if decimals is None:
        return format_decimal(value, locale=_babel_locale())
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=_babel_locale())


def fmt_percent(value: float | None, *, decimals: int = 0) -> str:
    if value is None:
        return ""
    from babel.numbers import format_percent
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
    return format_percent(value, format=pattern, locale=_babel_locale())


def fmt_money(value: int | float | Decimal | None) -> str:
    """A yuan amount: ``¥1,250,000.50`` in both languages."""
    if value is None:
        return ""
    return "¥" + fmt_number(value, decimals=2)


def fmt_duration(delta: dt.timedelta) -> str:
    """``3 d 4 h`` / ``3天4小时``; ``12 min`` / ``12分钟`` under an hour."""
    total = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)


# -- enum labels -----------------------------------------------------------------------------
# Every code the registers, the services and the audit log store, with its words. The
# Chinese words are in locale/zh_CN/LC_MESSAGES/labels.po; the statutory terms follow the
# law's own wording (PIPL 个人信息保护法, the 2025 incident-reporting measures 网络安全事件
# 报告管理办法, the national emergency plan's grades 特别重大/重大/较大/一般).
LABELS: dict[str, dict[str, str]] = {
    "role": {
        "dpo": N_("Data protection officer"), "manager": N_("Manager"),
        "auditor": N_("Auditor"), "admin": N_("Administrator"),
        "system": N_("System (command line)"), "auth": N_("Sign-in service"),
    },
    "processor_kind": {
        "supplier": N_("Supplier"), "service_provider": N_("Service provider"),
        "affiliate": N_("Affiliate"), "contractor": N_("Contractor"), "agent": N_("Agent"),
        "partner": N_("Partner"),
    },
    "purpose": {
        "service_provision": N_("Providing the service"),
        "identity_verification": N_("Identity verification"),
        "personalization": N_("Personalization"),
        "service_optimization": N_("Service optimization"),
        "recruitment": N_("Recruitment"), "delivery": N_("Delivery"),
        "technical_support": N_("Technical support"),
        "consulting_analysis": N_("Consulting and analysis"),
        "legal_compliance": N_("Legal compliance"),
    },
    "processor_status": {
        "active": N_("Active"), "suspended": N_("Suspended"), "offboarded": N_("Offboarded"),
    },
    "agreement_term": {
        "purpose": N_("Purpose"), "duration": N_("Duration"), "method": N_("Method"),
        "categories": N_("Categories of personal information"),
        "protection_measures": N_("Protection measures"),
        "rights_obligations": N_("Rights and obligations"),
        "return_or_delete": N_("Return or deletion"),
        "no_subentrust": N_("No sub-entrustment"),
    },
    "sharing_kind": {
        "share": N_("Sharing"), "transfer": N_("Transfer"), "disclosure": N_("Public disclosure"),
    },
    "legal_basis": {
        "explicit_consent": N_("Explicit consent"),
        "legal_requirement": N_("Legal requirement"),
        "dispute_resolution": N_("Dispute resolution"),
        "entrusted_processing": N_("Entrusted processing"),
        "affiliate_service": N_("Affiliate service"),
        "merger_acquisition": N_("Merger or acquisition"),
    },
    "consent_type": {
        "none": N_("No consent"), "bundled": N_("Bundled consent"),
        "explicit": N_("Explicit consent"), "separate": N_("Separate consent"),
    },
    "sharing_status": {"active": N_("Active"), "ended": N_("Ended")},
    "hold_reason": {
        "law_or_regulation": N_("Law or regulation"),
        "court_or_legal_proceedings": N_("Court or legal proceedings"),
        "authority_request": N_("Request of an authority"),
        "compliance_obligation": N_("Compliance obligation"),
        "rights_protection": N_("Protection of rights"),
    },
    "incident_type": {
        "data_leak": N_("Data leak"), "data_loss": N_("Data loss"),
        "data_tampering": N_("Data tampering"), "unauthorized_access": N_("Unauthorized access"),
        "ransomware": N_("Ransomware"), "malware": N_("Malware"), "phishing": N_("Phishing"),
        "ddos": N_("Denial of service"), "outage": N_("Outage"), "other": N_("Other"),
    },
    "grade": {
        "general": N_("General"), "relatively_major": N_("Relatively major"),
        "major": N_("Major"), "particularly_major": N_("Particularly major"),
    },
    "notification_channel": {
        "email": N_("E-mail"), "notification": N_("In-app notification"),
        "announcement": N_("Public announcement"), "sms": N_("Text message"),
        "phone": N_("Telephone"),
    },
    "notice_content": {
        "categories": N_("Categories of personal information"), "cause": N_("Cause"),
        "possible_harm": N_("Possible harm"), "remedial_measures": N_("Remedial measures"),
        "self_protection_advice": N_("What individuals can do"),
        "contact": N_("Contact"),
    },
    "incident_status": {
        "open": N_("Open"), "contained": N_("Contained"), "resolved": N_("Resolved"),
        "closed": N_("Closed"),
    },
    "request_channel": {
        "web_form": N_("Web form"), "email": N_("E-mail"), "phone": N_("Telephone"),
        "customer_service": N_("Customer service"), "letter": N_("Letter"),
        "in_app": N_("In the app"),
    },
    "request_kind": {
        "access": N_("Access"), "copy": N_("Copy"), "correct": N_("Correction"),
        "delete": N_("Deletion"), "withdraw_consent": N_("Withdrawal of consent"),
        "cancel_account": N_("Account cancellation"), "explain": N_("Explanation"),
        "complaint": N_("Complaint"),
    },
    "request_status": {
        "received": N_("Received"), "in_progress": N_("In progress"),
        "completed": N_("Completed"), "refused": N_("Refused"), "withdrawn": N_("Withdrawn"),
    },
    "severity": {"low": N_("Low"), "medium": N_("Medium"), "high": N_("High")},
    "plan_state": {
        "unplanned": N_("Unplanned"), "planned": N_("Planned"), "overdue": N_("Overdue"),
    },
    "entity_type": {
        "processor": N_("Processor"), "sharing_agreement": N_("Sharing agreement"),
        "retention_record": N_("Retention record"), "incident": N_("Incident"),
        "rights_request": N_("Rights request"), "user": N_("User"),
        "finding": N_("Finding"), "evidence_file": N_("Evidence file"),
        "api_token": N_("API token"), "store": N_("Store"),
        "settings": N_("Settings"), "notification": N_("Notification"),
        "outbox": N_("Outbox message"), "audit_log": N_("Audit log"),
        "reference": N_("Policy catalog"), "schema": N_("Database schema"),
    },
    "audit_action": {
        "incident.log": N_("Incident logged"), "incident.update": N_("Incident step recorded"),
        "incident.document": N_("Incident document generated"),
        "request.log": N_("Rights request logged"),
        "request.update": N_("Rights-request step recorded"),
        "register.import": N_("Register imported"),
        "register.add": N_("Register record added"),
        "register.edit": N_("Register record edited"),
        "processor.offboard": N_("Processor offboarded"),
        "agreement.end": N_("Sharing agreement ended"),
        "retention.hold": N_("Legal hold set"),
        "retention.hold_review": N_("Legal hold reviewed"),
        "retention.hold_lift": N_("Legal hold lifted"),
        "evidence.attach": N_("Evidence file attached"),
        "evidence.withdraw": N_("Evidence file withdrawn"),
        "finding.acknowledge": N_("Finding acknowledged"),
        "check.snapshot": N_("Compliance snapshot stored"),
        "export.download": N_("Export downloaded"), "export.pack": N_("Audit pack downloaded"),
        "auth.sign_in": N_("Signed in"), "auth.sign_in_failed": N_("Sign-in failed"),
        "auth.sign_in_failures": N_("Failed sign-ins"), "auth.lockout": N_("Account locked"),
        "auth.sso_refused": N_("Single sign-on refused"),
        "user.create": N_("User created"), "user.disable": N_("User disabled"),
        "user.enable": N_("User enabled"), "user.reset_password": N_("Password reset"),
        "user.set_role": N_("Role changed"), "user.unlock": N_("User unlocked"),
        "user.set_locale": N_("Language changed"),
        "token.create": N_("API token created"), "token.revoke": N_("API token revoked"),
        "api.call": N_("API call"), "api.refused": N_("API call refused"),
        "notify.attempt": N_("Delivery attempted"), "notify.test": N_("Test message sent"),
        "notify.queue": N_("Reminders queued"), "notify.sent": N_("Reminder sent"),
        "notify.failed": N_("Reminder failed"), "notify.retry": N_("Reminder retried"),
        "notification.read": N_("Notifications read"),
        "settings.manage": N_("Settings changed"), "settings.toml": N_("Settings file changed"),
        "settings.set": N_("Setting changed in the app"),
        "settings.reset": N_("Setting reset to the file or default"),
        "store.seed": N_("Demo data seeded"), "schema.migrate": N_("Store migrated"),
        "reference.sync": N_("Policy catalog synchronized"), "audit.seal": N_("Audit log sealed"),
    },
}


def label(kind: str, code: Any) -> str:
    """The words for ``code`` of enum ``kind`` in this run's locale. An unknown code (a value
    the contract does not list) is shown as it is: it is data, and hiding it would hide an
    error."""
    if code is None or (isinstance(code, float) and code != code):
        return ""
    words = LABELS.get(kind, {}).get(str(code))
    return _(words) if words else str(code)


def labels(kind: str) -> dict[str, str]:
    """``{code: words}`` for a select box's ``format_func`` (``labels(k).get``)."""
    return {code: _(words) for code, words in LABELS[kind].items()}


def formatter(kind: str):
    """A ``format_func`` for ``st.selectbox``/``st.multiselect`` over codes of ``kind``.

    It keeps the locale of the run that drew the widget: Streamlit may call it again
    outside a script run (AppTest sets a widget's value from the test's own thread)."""
    return in_locale(lambda code: label(kind, code))


def in_locale(fn, locale: str | None = None):
    """``fn`` made to run in ``locale`` (default: this run's), wherever it is called from:
    for ``format_func`` callables that translate."""
    fixed = locale or get_locale()

    def call(*args, **kwargs):
        with using(fixed):
            return fn(*args, **kwargs)
    return call


def label_list(kind: str, codes: Iterable[Any] | None) -> str:
    if codes is None:
        return ""
    return ("、" if is_chinese() else ", ").join(label(kind, c) for c in codes)


def label_frame(frame, columns: Mapping[str, str]):
    """A copy of ``frame`` with each of ``columns`` (``{column: kind}``) in words; list
    columns become joined words. Columns not in the frame are skipped."""
    out = frame.copy()
    for column, kind in columns.items():
        if column not in out.columns:
            continue
        mapping = {code: _(words) for code, words in LABELS[kind].items()}

        def convert(value, mapping=mapping):
            if value is None:
                return value
            if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
                items = value.tolist() if hasattr(value, "tolist") else value
                return [mapping.get(str(v), v) for v in items]
            if isinstance(value, float) and value != value:
                return value
            return mapping.get(str(value), value)

        out[column] = out[column].map(convert).astype(object)
    return out


_WORDY_CODE = re.compile(r"(?<![\w`/-])([a-z]+(?:[_.][a-z]+)+)(?![\w`/-])")


def _in_sentence(words: str) -> str:
    """English words inside a sentence: "Relatively major" → "relatively major" (an
    acronym such as "API token" stays)."""
    if get_locale() == ENGLISH and len(words) > 1 and words[0].isupper() and words[1].islower():
        return words[0].lower() + words[1:]
    return words


def words_in(text: Any, extra: Mapping[str, str] | None = None, *,
             grades: bool = True) -> Any:
    """Text that names codes (a rule's English ``detail``: ``graded relatively_major``,
    ``not answered (in_progress)``, ``on explicit_consent``) with each code of ``LABELS``
    (and of ``extra``: {code: words already in the locale}) in words. In Chinese the plain
    grade words (major, general) are translated too. Text that is not a string is
    returned as it is."""
    if not isinstance(text, str) or not text:
        return text
    extra = extra or {}

    def words(m: "re.Match[str]") -> str:
        code = m.group(1)
        if code in extra:
            return _in_sentence(extra[code])
        for kind, codes in LABELS.items():
            if code in codes:
                return _in_sentence(_(codes[code]))
        return code
    out = _WORDY_CODE.sub(words, text)
    if grades and is_chinese():
        out = re.sub(r"\b(particularly major|major|general)\b",
                     lambda m: label("grade", m.group(1).replace(" ", "_")), out)
    return out


def actor_label(actor: str | None) -> str:
    """An audit actor in words: ``cli:root`` → 命令行（root）/ Command line (root);
    ``api:<token>`` → API 令牌 …; a username as it is."""
    if not actor:
        return ""
    kind, sep, rest = str(actor).partition(":")
    if not sep:
        return str(actor)
    words = {"cli": N_("Command line ({name})"), "api": N_("API token ({name})"),
             "scheduler": N_("Scheduler ({name})"), "system": N_("System ({name})"),
             "sso": N_("Single sign-on ({name})"), "auth": N_("Sign-in service ({name})")}
    template = words.get(kind)
    return _(template).format(name=rest) if template else str(actor)


# -- catalogs' upkeep (python -m dashboard.i18n extract|compile|check) ---------------------
def extract():
    """The messages the code marks, as a Babel catalog (``babel.cfg``'s method map)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    catalog = Catalog(project="privacy-compliance", charset="utf-8")
    with BABEL_CFG.open() as fh:
        method_map, _options = parse_mapping_cfg(fh)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True):
        if filename.startswith(("tests", "bench", ".venv")):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def compile_all() -> list[Path]:
    """Compile every ``.po`` to its ``.mo`` (``make setup``)."""
    from babel.messages.mofile import write_mo
    written = []
    for locale in LOCALES:
        for po in po_files(locale):
            with po.with_suffix(".mo").open("wb") as fh:
                write_mo(fh, read_catalog(po))
            written.append(po.with_suffix(".mo"))
    reload()
    return written


def merged_catalog(locale: str = CHINESE) -> dict[Any, str]:
    """``{msgid: msgstr}`` over every ``.po`` of ``locale`` (``(context, msgid)`` for an
    entry with a context; fuzzy entries count as untranslated: gettext ignores them)."""
    out: dict[Any, str] = {}
    for po in po_files(locale):
        for msg in read_catalog(po):
            if not msg.id:
                continue
            text = msg.string
            if msg.fuzzy:
                text = "" if isinstance(text, str) else ("",)
            out[(msg.context, msg.id) if msg.context else msg.id] = text
    return out


def missing_translations(locale: str = CHINESE) -> list[str]:
    """Messages the code marks that ``locale``'s catalogs do not translate."""
    have = merged_catalog(locale)
    missing = []
    for msg in extract():
        if not msg.id:
            continue
        text = have.get((msg.context, msg.id) if msg.context else msg.id)
        if isinstance(text, tuple):
            ok = all(text)
        else:
            ok = bool(text)
        if not ok:
            missing.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return missing


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m dashboard.i18n",
                                     description="Keep the translation catalogs.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="write locale/messages.pot from the code")
    sub.add_parser("compile", help="compile locale/*/LC_MESSAGES/*.po to .mo")
    sub.add_parser("check", help="list messages with no Chinese translation")
    args = parser.parse_args(argv)
    if args.command == "extract":
        from babel.messages.pofile import write_po
        POT_FILE.parent.mkdir(parents=True, exist_ok=True)
        with POT_FILE.open("wb") as fh:
            write_po(fh, extract(), width=100, sort_by_file=True)
        print(f"wrote {POT_FILE.relative_to(ROOT)}")
    elif args.command == "compile":
        for path in compile_all():
            print(f"compiled {path.relative_to(ROOT)}")
    else:
        missing = missing_translations()
        for message in missing:
            print(message)
        print(f"{len(missing)} messages without a Chinese translation", file=sys.stderr)
        return 1 if missing else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

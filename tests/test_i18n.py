"""Two languages (issue 17): the catalogs are complete and consistent, every page in both
languages shows no raw code, and the language is chosen, remembered and formatted as the
users expect.

The page sweep opens every page for every role that may open it, in 简体中文 and in
English, on the demo store (where every register, incident and request state occurs), and
reads everything the run drew (``tests/screen_text.py``).
"""
from __future__ import annotations

import datetime as dt
import re
import string

import pandas as pd
import pytest

from dashboard import accounts, i18n
from dashboard.access import Actor, PermissionDenied, cli_actor
from dashboard.navigation import PAGE_BY_KEY, PAGES

from conftest import app_test
from screen_text import raw_codes, screen_texts

FORMATTER = string.Formatter()
HAN = re.compile(r"[\u4e00-\u9fff]")


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in FORMATTER.parse(text) if name is not None}


# -- the catalogs ---------------------------------------------------------------------------
def test_every_marked_message_has_a_chinese_translation():
    missing = i18n.missing_translations()
    assert not missing, f"{len(missing)} messages without Chinese, e.g. {missing[:10]}"


def test_translations_keep_placeholders_and_markup():
    bad = []
    for po in i18n.po_files():
        for msg in i18n.read_catalog(po):
            if not msg.id or not msg.string:
                continue
            ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
            strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
            for text in strings:
                if fields(text) != fields(ids[0]):
                    bad.append((po.name, ids[0], text))
                if ids[0].count("**") != text.count("**") or ids[0].count("`") != text.count("`"):
                    bad.append((po.name, ids[0], text))
    assert not bad, bad[:10]


def test_a_message_has_one_translation_across_the_catalogs():
    seen: dict[str, tuple[str, str]] = {}
    conflicts = []
    for po in i18n.po_files():
        for msg in i18n.read_catalog(po):
            if not msg.id or not msg.string or isinstance(msg.id, tuple):
                continue
            key = (msg.context, msg.id)      # a context is another meaning (pgettext)
            if key in seen and seen[key][1] != msg.string:
                conflicts.append((key, seen[key], (po.name, msg.string)))
            seen.setdefault(key, (po.name, msg.string))
    assert not conflicts, conflicts[:10]


def test_chinese_translations_are_chinese():
    """An entry copied from English untranslated is as bad as a missing one (names,
    codes and formats without words are allowed)."""
    untranslated = []
    for po in i18n.po_files():
        for msg in i18n.read_catalog(po):
            if not msg.id or isinstance(msg.id, tuple) or not msg.string:
                continue
            words = re.sub(r"\{[^}]*\}|`[^`]*`|\*\*", "", msg.id)
            if re.search(r"[A-Za-z]{4,}\s+[A-Za-z]{3,}", words) and not HAN.search(msg.string):
                untranslated.append(msg.id)
    assert not untranslated, untranslated[:10]


def test_every_enum_code_has_words_in_both_languages():
    for kind, codes in i18n.LABELS.items():
        for code, words in codes.items():
            assert words and words != code, (kind, code)
            with i18n.using("zh_CN"):
                zh = i18n.label(kind, code)
            assert HAN.search(zh) or zh.startswith("API"), (kind, code, zh)


def test_statutory_terms_are_the_laws_own_words():
    with i18n.using("zh_CN"):
        assert [i18n.label("grade", g) for g in
                ("particularly_major", "major", "relatively_major", "general")] == \
            ["特别重大", "重大", "较大", "一般"]
        assert i18n.label("consent_type", "separate") == "单独同意"
        assert i18n.label("legal_basis", "entrusted_processing") == "委托处理"
        assert i18n.label("role", "dpo") == "个人信息保护负责人"
        assert i18n.zone_name() == "北京时间"


def test_compiled_catalogs_match_the_sources(tmp_path):
    """What ``make setup`` compiles loads and says the same as the .po files."""
    from babel.messages.mofile import write_mo
    from babel.support import Translations
    for po in i18n.po_files():
        catalog = i18n.read_catalog(po)
        out = tmp_path / (po.stem + ".mo")
        with out.open("wb") as fh:
            write_mo(fh, catalog)
        with out.open("rb") as fh:
            compiled = Translations(fh)
        for msg in list(catalog)[1:20]:
            if msg.string and not isinstance(msg.id, tuple):
                assert compiled.gettext(msg.id) == msg.string


# -- formatting -------------------------------------------------------------------------------
def test_dates_times_and_numbers_follow_the_locale():
    at = dt.datetime(2026, 12, 3, 6, 5, tzinfo=dt.timezone.utc)     # 14:05 in Beijing
    with i18n.using("zh_CN"):
        assert i18n.fmt_datetime(at) == "2026年12月3日 14:05 北京时间"
        assert i18n.fmt_date(at.date()) == "2026年12月3日"
        assert i18n.fmt_number(1022) == "1,022"
        assert i18n.fmt_duration(dt.timedelta(days=3, hours=4)) == "3天4小时"
    with i18n.using("en"):
        assert i18n.fmt_datetime(at) == "3 Dec 2026 14:05 Beijing time"
        assert i18n.fmt_number(1022) == "1,022"
        assert i18n.fmt_money(1_250_000.5) == "¥1,250,000.50"
        assert i18n.fmt_duration(dt.timedelta(minutes=12)) == "12 min"


@pytest.mark.parametrize("given,expected", [
    ("zh-CN", "zh_CN"), ("zh_Hans_CN", "zh_CN"), ("zh", "zh_CN"), ("zh-TW", "zh_CN"),
    ("en-US", "en"), ("en", "en"), ("fr-FR", None), ("", None), (None, None),
])
def test_browser_languages_are_understood(given, expected):
    assert i18n.normalize(given) == expected


def test_accept_language_picks_the_first_supported_by_quality():
    assert i18n.from_accept_language("fr-FR,zh-CN;q=0.8,en;q=0.5") == "zh_CN"
    assert i18n.from_accept_language("de;q=0.9,en-GB;q=0.7,zh;q=0.3") == "en"
    assert i18n.from_accept_language("de, fr") is None


def test_label_frame_turns_codes_into_words_and_leaves_the_data():
    frame = pd.DataFrame({"grade": ["major", "relatively_major", None],
                          "data_categories": [["contact", "x"], [], None],
                          "title": ["relatively_major", "a", "b"]})
    with i18n.using("zh_CN"):
        shown = i18n.label_frame(frame, {"grade": "grade"})
    assert list(shown["grade"][:2]) == ["重大", "较大"] and pd.isna(shown["grade"][2])
    assert list(shown["title"]) == ["relatively_major", "a", "b"]      # not an enum column
    assert list(frame["grade"][:2]) == ["major", "relatively_major"]   # a copy
    with i18n.using("en"):
        assert i18n.label("grade", "relatively_major") == "Relatively major"
        assert i18n.label("grade", "not_a_grade") == "not_a_grade"      # data: shown as is
        assert i18n.actor_label("cli:root") == "Command line (root)"
    with i18n.using("zh_CN"):
        assert i18n.actor_label("cli:root") == "命令行（root）"
        assert i18n.actor_label("alice") == "alice"


# -- the language is chosen and remembered --------------------------------------------------
def test_an_account_remembers_its_language_audited(store):
    accounts.create_user(store, cli_actor(), "li.wei", "manager",
                         "a-long-enough-passphrase-93")
    me = Actor("li.wei", "manager")
    assert accounts.preferred_locale(store, "li.wei") is None
    assert accounts.set_locale(store, me, "li.wei", "zh-CN") == "zh_CN"
    assert accounts.preferred_locale(store, "li.wei") == "zh_CN"
    entry = store.rows("SELECT action, actor, values_after FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    assert entry[0] == "user.set_locale" and entry[1] == "li.wei" and "zh_CN" in entry[2]
    seq = store.scalar("SELECT max(seq) FROM audit_log")
    accounts.set_locale(store, me, "li.wei", "zh_CN")                 # unchanged: no entry
    assert store.scalar("SELECT max(seq) FROM audit_log") == seq
    with pytest.raises(accounts.AccountError, match="unknown language"):
        accounts.set_locale(store, me, "li.wei", "fr")
    with pytest.raises(PermissionDenied):        # another user's: administrators only
        accounts.set_locale(store, Actor("auditor", "auditor"), "li.wei", "en")
    assert accounts.preferred_locale(store, "li.wei") == "zh_CN"
    assert store.scalar("SELECT max(seq) FROM audit_log") == seq


# -- every page, every role, both languages ----------------------------------------------------
def _query(key: str, db) -> dict:
    if key == "incident":
        return {"id": "INC-2026-0003"}
    if key == "request":
        return {"id": "REQ-2026-0004"}
    if key == "processor":
        return {"id": "PRC-0027"}
    if key == "agreement":
        return {"id": "SHA-0003"}
    return {}


SWEEP = [(spec.key, role) for spec in PAGES for role in sorted(spec.roles)]


@pytest.fixture(scope="module")
def sweep_db(demo_db_template, tmp_path_factory):
    import shutil
    folder = tmp_path_factory.mktemp("sweep")
    for path in demo_db_template.parent.iterdir():
        if path.name.startswith(demo_db_template.name):
            shutil.copy(path, folder / path.name)
    return folder / demo_db_template.name


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("key,role", SWEEP)
def test_no_page_shows_a_raw_code(sweep_db, monkeypatch, key, role, locale):
    at = app_test(sweep_db, Actor(role, role), monkeypatch, page=key,
                  query=_query(key, sweep_db), locale=locale)
    assert not at.exception, [e.value for e in at.exception]
    codes = raw_codes(at)
    assert not codes, f"{key} as {role} in {locale} shows codes {sorted(codes)}"
    texts = screen_texts(at)
    han = sum(1 for t in texts if HAN.search(t))
    if locale == "zh_CN":
        assert han >= 3, f"{key} in Chinese shows almost no Chinese: {texts[:20]}"
        title = PAGE_BY_KEY[key].title
        with i18n.using("zh_CN"):
            assert i18n._(title) != title
    else:
        # An English page shows no text of the Chinese catalogs (data may be Chinese: the
        # demo's company names are)
        translated = _catalog_chinese()
        leaked = [t for t in texts if t in translated]
        assert not leaked, leaked[:10]


@__import__("functools").lru_cache(maxsize=1)
def _catalog_chinese() -> frozenset[str]:
    out = set()
    for po in i18n.po_files():
        for msg in i18n.read_catalog(po):
            for text in (msg.string if isinstance(msg.string, tuple) else (msg.string,)):
                if text and len(text) >= 4 and HAN.search(text):
                    out.add(text)
    return frozenset(out)


@pytest.mark.parametrize("locale,heading", [("zh_CN", "登录"), ("en", "Sign in")])
def test_sign_in_page_in_both_languages(store, monkeypatch, locale, heading):
    at = app_test(store.path, None, monkeypatch, locale=locale)
    assert not at.exception
    assert any(heading in t.value for t in at.title)
    assert not raw_codes(at)

"""The Documents section (dashboard/ui_documents.py) in Chinese and in English: managers and
DPOs generate, every role lists and downloads; no raw code on screen."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import AUDITOR, DPO, FROZEN_NOW, MANAGER
from dashboard import documents as docs, i18n
from dashboard.settings import Settings
from dashboard.store import Store

PAGE = Path(__file__).resolve().parent / "documents_page.py"
CODES = ("initial_report", "supplementary_report", "summary_report", "individual_notice",
         "authority_notice", "zh_CN", "relatively_major", "manager.wang (manager)")


def _run(db, actor, monkeypatch, locale=None, incident="INC-2026-0007"):
    monkeypatch.setenv("COMPLIANCE_DB", str(db))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", FROZEN_NOW.isoformat())
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.session_state["actor"] = actor
    at.session_state["incident_id"] = incident
    if locale:
        at.session_state["locale"] = locale
    return at.run()


def _shown(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "subheader", "info", "warning",
                                  "success", "error") for e in at.get(kind)]
    parts += [b.proto.label for b in at.get("download_button")]
    parts += [b.label for b in at.button]
    return "\n".join(str(p) for p in parts)


def test_a_manager_generates_in_chinese(demo_db, monkeypatch):
    at = _run(demo_db, MANAGER, monkeypatch, locale="zh_CN")
    assert not at.exception
    assert at.subheader[0].value == "事件文书"
    assert "本事件尚未生成任何文书。" in _shown(at)
    kind = at.selectbox(key="doc_kind")
    assert kind.label == "文书"
    assert list(kind.options) == [
        "初始报告（报网信部门）", "补充报告（报网信部门）", "总结报告（报网信部门）", "个人告知书",
        "报履行个人信息保护职责的部门"]
    language = at.radio(key="doc_locale")
    assert list(language.options) == ["中文", "English"]
    assert language.proto.default == 0            # the page's language first
    # The test thread formats the widgets' values with their format_func when it sends
    # them back: it must use the page's language too.
    with i18n.using("zh_CN"):
        at.button(key="doc_generate").click().run()
    assert not at.exception
    shown = _shown(at)
    assert "已生成 **INC-2026-0007\\_initial\\_report\\_zh\\_CN.docx**" in shown or \
        "已生成 **INC-2026-0007" in shown
    assert "项信息尚未记录，已标注为待填写" in shown
    assert "下载新生成的文书" in shown
    assert "已生成的文书" in shown and "初始报告（报网信部门）** · 中文" in shown
    assert "2026年11月24日 10:00 北京时间" in shown and "manager.wang（经理）" in shown
    assert "待填写：" in shown
    for code in CODES:
        assert code not in shown.replace("\\_", "_").replace(
            "INC-2026-0007_initial_report_zh_CN.docx", ""), code
    buttons = at.get("download_button")
    assert len(buttons) == 2
    with Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW) as s:
        listed = docs.list_documents(s, "INC-2026-0007")
    assert len(listed) == 1 and listed[0]["locale"] == "zh_CN"


def test_english_for_a_dpo(demo_db, monkeypatch):
    at = _run(demo_db, DPO, monkeypatch)
    assert not at.exception
    assert at.subheader[0].value == "Documents"
    at.selectbox(key="doc_kind").set_value("summary_report").run()
    assert "Art. 8 of the 2025 measures" in _shown(at)
    at.button(key="doc_generate").click().run()
    shown = _shown(at)
    assert "Summary report to the CAC** · English" in shown
    assert "24 Nov 2026 10:00 Beijing time" in shown
    assert "items are not recorded and are marked to be completed" in shown


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_an_auditor_downloads_but_cannot_generate(demo_db, monkeypatch, locale):
    with Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW) as s:
        made = docs.generate(s, MANAGER, "INC-2026-0007", "individual_notice", locale="en")
    at = _run(demo_db, AUDITOR, monkeypatch, locale=locale)
    assert not at.exception
    assert not [b for b in at.button if b.key == "doc_generate"]
    assert not at.get("selectbox")
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == (["下载"] if locale == "zh_CN" else ["Download"])
    shown = _shown(at)
    assert made.sha256 in shown
    assert ("个人告知书** · English" if locale == "zh_CN"
            else "Notice to individuals** · English") in shown
    for code in CODES:
        assert code not in shown, code

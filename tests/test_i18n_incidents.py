"""The incident pages and services in Chinese (issue 17): the list, one incident, the log
form, the validation messages, the clocks' words and the bilingual reminders.

Each page runs through AppTest with the sidebar's language set to 简体中文, for every role
that may open it: no exception, the key Chinese words are there, and no raw code (a grade
like ``relatively_major``, a type like ``data_leak``, a role, an actor like ``cli:root``)
is shown. The English pages are covered by tests/test_incident_pages.py.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest

from dashboard import clocks as clk
from dashboard import i18n
from dashboard import incidents as inc
from dashboard import reminders
from dashboard.i18n import LABELS, using

from conftest import (ADMIN, AUDITOR, DPO, FROZEN_NOW, MANAGER, SHANGHAI, app_test,
                      make_store)

ZH = "zh_CN"
GRADES_ZH = {"特别重大", "重大", "较大", "一般"}
MY_FILES = ("pages/incidents.py", "pages/incident.py", "pages/log_incident.py",
            "dashboard/incidents.py", "dashboard/clocks.py", "dashboard/reminders.py")
# Codes that must never reach the screen: every code of the enums these pages show that
# cannot be mistaken for a word of a title or a description (an underscore or a colon).
KINDS = ("grade", "incident_status", "incident_type", "notification_channel",
         "notice_content", "role", "entity_type", "audit_action")
RAW = sorted({c for k in KINDS for c in LABELS[k] if "_" in c or "." in c}
             | {"cli:root", "scheduler:", "not_applicable"})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "i18n.duckdb"
    s = make_store(path)
    yield path, s
    s.close()


def _log(store, **values) -> str:
    facts = {"title": "CRM copy exposed", "incident_type": "data_leak",
             "detected_at": "2026-11-24 08:00", "affected_subjects": "1,200,000"}
    facts.update(values)
    return inc.log_incident(store, MANAGER, facts).incident_id


def _texts(at) -> list[str]:
    """Every text a reader sees: titles, headers, markdown, captions, alerts, metrics,
    widget labels and options."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "error", "success"):
        out += [e.value for e in getattr(at, kind)]
    out += [f"{m.label} {m.value}" for m in at.metric]
    for kind in ("selectbox", "multiselect", "text_input", "text_area", "checkbox",
                 "toggle", "button", "date_input"):
        for w in getattr(at, kind):
            out.append(str(w.label))
            out += [str(o) for o in getattr(w, "options", []) or []]
    return out


LIST_SHOWN = ["mark", "incident_id", "title", "status", "grade", "incident_type", "next_clock",
              "countdown", "regulator_clock", "pi_authority_clock", "police_clock",
              "user_notice_clock", "summary_clock", "flags"]
TIMELINE_SHOWN = ["kind", "detail", "actor", "role"]


def _frame_texts(at) -> list[str]:
    """The text cells of the columns the list and the timeline show."""
    out = []
    for frame in at.dataframe:
        df = frame.value
        for col in LIST_SHOWN if "countdown" in df.columns else TIMELINE_SHOWN:
            out += [str(v) for v in df[col].dropna()]
    return out


def _no_raw_codes(texts: list[str]) -> None:
    for text in texts:
        for code in RAW:
            assert not re.search(rf"(?<![\w.:-]){re.escape(code)}(?![\w-])", text), \
                (code, text)


def _has_chinese(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


# -- the list -------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [DPO, MANAGER, AUDITOR, ADMIN], ids=lambda a: a.role)
def test_the_list_in_chinese_on_the_demo_store(demo_db, monkeypatch, actor):
    at = app_test(demo_db, actor, monkeypatch, page="incidents", locale=ZH)
    assert not at.exception, at.exception
    assert at.title[0].value == "安全事件"
    texts = _texts(at)
    assert any("法定时限" in t for t in texts)
    metrics = {m.label for m in at.metric}
    assert {"显示", "未关闭", "已逾期", "24小时内到期"} <= metrics
    table = at.dataframe(key="incident_table").value
    assert set(table["grade"]) <= GRADES_ZH, set(table["grade"])
    with using(ZH):
        statuses = {i18n.label("incident_status", c) for c in LABELS["incident_status"]}
    assert set(table["status"]) <= statuses, set(table["status"])
    assert all(_has_chinese(t) for t in table["incident_type"])
    clocks_shown = set(table["regulator_clock"]) | set(table["user_notice_clock"])
    assert clocks_shown and all(_has_chinese(t) for t in clocks_shown if t)
    assert "Not applicable" not in clocks_shown and "不适用" in clocks_shown
    assert set(table["mark"]) <= {"⚠ 已逾期", ""}
    _no_raw_codes(texts + _frame_texts(at))
    # the filters offer words, and keep the codes as values
    grade_filter = at.multiselect(key="f_grade")
    assert set(grade_filter.options) == GRADES_ZH
    grade_filter.set_value(["relatively_major"]).run()
    assert not at.exception, at.exception
    assert set(at.dataframe(key="incident_table").value["grade"]) <= {"较大"}


def test_the_list_in_english_keeps_english_words(demo_db, monkeypatch):
    at = app_test(demo_db, MANAGER, monkeypatch, page="incidents", locale="en")
    assert not at.exception, at.exception
    assert at.title[0].value == "Incidents"
    table = at.dataframe(key="incident_table").value
    assert set(table["grade"]) <= {"General", "Relatively major", "Major", "Particularly major"}
    page_words = ([c.value for c in at.caption] + [m.label for m in at.metric]
                  + list(table["status"]) + list(table["incident_type"])
                  + list(table["regulator_clock"]) + list(table["countdown"]))
    assert not any(_has_chinese(t) for t in page_words), "Chinese on the English page"
    assert {"Shown", "Not closed", "Overdue", "Due within 24 h"} <= {m.label for m in at.metric}


# -- one incident ---------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [MANAGER, AUDITOR], ids=lambda a: a.role)
def test_one_incident_in_chinese(db, monkeypatch, actor):
    path, store = db
    incident_id = _log(store, suspected_crime=True, grade="relatively_major")
    inc.record_step(store, MANAGER, incident_id, "contained", {"at": "2026-11-24 09:00"})
    at = app_test(path, actor, monkeypatch, page="incident", query={"id": incident_id},
                  locale=ZH)
    assert not at.exception, at.exception
    texts = _texts(at)
    joined = "\n".join(texts)
    for words in ("法定时限", "向网信部门报告", "通知个人信息保护职责部门", "向公安机关报案",
                  "北京时间", "2026年11月24日", "《中华人民共和国个人信息保护法》第五十七条",
                  "《网络安全事件报告管理办法》（2025）第四条", "时间线"):
        assert words in joined, words
    header = next(m.value for m in at.markdown if "badge" in m.value)
    assert ":orange-badge[较大]" in header and ":blue-badge[已控制]" in header
    assert ":gray-badge[数据泄露]" in header
    regulator = " ".join(m.value for m in at.get_by_key("clock_regulator").markdown)
    assert "待完成" in regulator and "剩余2小时" in regulator, regulator
    timeline = at.get_by_key("timeline").dataframe[0].value
    with using(ZH):
        kinds = {inc.kind_label("logged"), inc.kind_label("contained")}
    assert set(timeline["role"]) == {"经理"} and set(timeline["kind"]) == kinds
    _no_raw_codes(texts + _frame_texts(at))
    if actor is AUDITOR:
        assert any("审计员" in t or "角色" in t for t in texts)
    else:
        step = at.selectbox(key="step_kind")
        assert "已向网信部门报告" in step.options and "备注" in step.options


def test_a_step_refused_in_chinese_shows_chinese_errors(db, monkeypatch):
    path, store = db
    incident_id = _log(store)
    at = app_test(path, MANAGER, monkeypatch, page="incident", query={"id": incident_id},
                  locale=ZH)
    at.selectbox(key="step_kind").select("regulator_reported").run()
    assert not at.exception, at.exception
    at.button(key="step_regulator_reported_save").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.get_by_key("step_field_regulator_reported_regulator").error]
    assert errors == ["请填写主管部门，例如省级网信部门。"], errors


# -- the log form ---------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [DPO, MANAGER], ids=lambda a: a.role)
def test_the_log_form_in_chinese(db, monkeypatch, actor):
    path, _store = db
    at = app_test(path, actor, monkeypatch, page="log_incident", locale=ZH)
    assert not at.exception, at.exception
    assert at.title[0].value == "登记安全事件"
    labels = {w.label for w in at.text_input} | {w.label for w in at.selectbox}
    assert {"标题", "类型", "报告人", "受影响个人数量", "直接经济损失（元）", "等级", "时区"} <= labels
    kinds = at.selectbox(key="li_incident_type")
    assert "数据泄露" in kinds.options and "data_leak" not in kinds.options
    assert set(at.selectbox(key="li_grade").options) == GRADES_ZH
    categories = at.multiselect(key="li_data_categories").options
    assert "姓名" in categories and "身份证号（敏感）" in categories, categories
    _no_raw_codes(_texts(at))
    # Nothing filled in: every message in Chinese, nothing saved.
    at.text_input(key="li_affected_subjects").input("很多").run()
    at.button(key="li_save").click().run()
    assert not at.exception, at.exception
    assert at.get_by_key("li_field_title").error[0].value == "请填写标题：用几个词概括发生了什么。"
    assert at.get_by_key("li_field_incident_type").error[0].value == "请选择类型。"
    assert "不是整数" in at.get_by_key("li_field_affected_subjects").error[0].value
    assert any(e.value == "未保存任何内容：请更正上方标出的字段。" for e in at.error)
    # A whole form: the grade suggested in the law's words, the clocks in Chinese.
    at.text_input(key="li_title").input("测试服务器暴露客户数据")
    at.selectbox(key="li_incident_type").select("data_leak")
    at.get_by_key("li_detected_at").set_value(dt.datetime(2026, 11, 24, 8, 0))
    at.text_input(key="li_affected_subjects").input("1,200,000").run()
    captions = " ".join(c.value for c in at.caption)
    assert "建议：**较大**" in captions, captions
    preview = [m.value for m in at.get_by_key("li_preview").markdown]
    assert preview[0].startswith("**向网信部门报告** 截止于 **2026年11月24日 12:00 北京时间**"
                                 "（剩余2小时）"), preview[0]
    at.button(key="li_save").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("已登记为 **INC-2026-")


# -- services ---------------------------------------------------------------------------------
def test_validation_messages_follow_the_language(store):
    bad = {"title": "", "incident_type": "meteor", "detected_at": "2026-11-24 11:00",
           "affected_subjects": "-3"}
    with using(ZH), pytest.raises(inc.ValidationError) as zh:
        inc.log_incident(store, MANAGER, bad)
    assert zh.value.errors["title"] == "请填写标题：用几个词概括发生了什么。"
    assert zh.value.errors["incident_type"].startswith("未知的值 'meteor'")
    assert zh.value.errors["detected_at"] == \
        "不能晚于当前时间（现在是2026年11月24日 10:00 北京时间）。"
    assert zh.value.errors["affected_subjects"] == "不能为负数。"
    with pytest.raises(inc.ValidationError) as en:
        inc.log_incident(store, MANAGER, bad)
    assert en.value.errors["title"] == "Enter a title: what happened, in a few words."
    assert en.value.errors["affected_subjects"] == "Cannot be negative."
    assert en.value.errors["detected_at"] == \
        "Cannot be in the future (now is 24 Nov 2026 10:00 Beijing time)."


def test_step_refusals_and_titles_follow_the_language(store):
    incident_id = _log(store)
    record = inc.incident_record(store, incident_id)
    with using(ZH):
        assert inc.step_refusal(record, "resolved") == \
            "请先记录控制：事件须先控制，才能处置完毕。"
        assert inc.step_title("user_notice_exempted") == "无需通知个人（第五十七条第二款）"
        assert inc.field_label("economic_loss_cny") == "直接经济损失（元）"
        assert inc.kind_label("logged") == "登记"
    assert inc.step_refusal(record, "resolved").startswith("Record containment first")
    assert inc.step_title("user_notice_exempted") == \
        "No notice to individuals needed (Art. 57 ¶2)"


def test_the_stored_timeline_stays_english_when_written_in_chinese(store):
    with using(ZH):
        incident_id = _log(store, grade="general")      # below the suggestion: a note
        inc.record_step(store, MANAGER, incident_id, "regulator_reported",
                        {"at": "2026-11-24 09:00", "regulator": "广东省网信办"})
    details = list(inc.incident_timeline(store, incident_id)["detail"])
    assert details[0].startswith("Logged: CRM copy exposed. Detected 2026-11-24 08:00 +08:00; "
                                 "general (IV)"), details[0]
    assert "Graded below the relatively major (III) its facts imply" in details[0]
    assert details[1].startswith("Reported to 广东省网信办 (2026-11-24 09:00 +08:00)")


def test_the_clocks_words_follow_the_language(store):
    incident_id = _log(store, grade="relatively_major", cii_involved=True,
                       economic_loss_cny="60000000")
    row = inc.incident_record(store, incident_id).row
    with using(ZH):
        clocks = {c.key: c for c in clk.incident_clocks(row, store.settings, FROZEN_NOW)}
        regulator = clocks["regulator"]
        assert regulator.title == "向网信部门报告" and regulator.label == "已逾期"
        assert clk.countdown(regulator) == "逾期1小时"
        assert regulator.source == "《网络安全事件报告管理办法》（2025）第四条 [V]"
        assert "关键信息基础设施" in regulator.why
        assert clk.grade_label("particularly_major") == "特别重大"
        assert clk.grade_words("relatively_major") == "较大"
        suggestion = clk.implied_grade(row, store.settings)
        assert suggestion.grade == "major"
        assert suggestion.reasons[0].text.startswith("直接经济损失60,000,000元：至少为重大")
        help_text = clk.clock_help(store.settings)
        assert "《中华人民共和国个人信息保护法》第五十七条" in help_text["pi_authority"]
        assert "《网络安全事件报告管理办法》（2025）第八条" in help_text["summary"]
        assert clk.format_duration(dt.timedelta(days=2)) == "2天"
        assert clk.format_duration(dt.timedelta(seconds=20)) == "不足1分钟"
        flags = {f.rule_id: f.message for f in clk.incident_flags(row, store.settings,
                                                                    FROZEN_NOW, None)}
        assert flags["INC-GRADE"].startswith("定级为较大，低于其事实所对应的重大")
    regulator = clk.incident_clocks(row, store.settings, FROZEN_NOW)[0]
    assert regulator.title == "Report to the regulator" and regulator.label == "Overdue"
    assert clk.grade_label("particularly_major") == "Particularly major (I)"


def test_reminders_are_bilingual_chinese_first(tmp_path):
    clock_at = dt.datetime(2026, 11, 24, 13, 12, tzinfo=SHANGHAI)
    s = make_store(tmp_path / "r.duckdb", clock=lambda: clock_at)
    try:
        inc.log_incident(s, MANAGER, {"title": "CRM copy exposed", "incident_type": "data_leak",
                                      "detected_at": "2026-11-24 10:00",
                                      "affected_subjects": "1200", "grade": "major"})
        with using(ZH):      # the scan's language does not matter: both are written
            found = {r.key: r for r in reminders.due_reminders(s, clock_at)}
        r = found["incident:INC-2026-0001:regulator:80"]
        assert r.subject == ("INC-2026-0001：向网信部门报告将于48分钟后到期 (INC-2026-0001: "
                             "report to the regulator due in 48 min) "
                             "[incident:INC-2026-0001:regulator:80]")
        zh, en = r.body.split("\n\n")
        assert zh.startswith("安全事件INC-2026-0001“CRM copy exposed”：向网信部门报告。")
        assert "截止时间：2026年11月24日 14:00 北京时间，自发现时间（2026年11月24日 10:00 北京时间）起算。" \
            in zh
        assert "截至2026年11月24日 13:12 北京时间：允许时间已过去80%；剩余48分钟。" in zh
        assert "《网络安全事件报告管理办法》（2025）第四条" in zh
        assert en.startswith('Incident INC-2026-0001 "CRM copy exposed": Report to the regulator.')
        assert "Deadline: 2026-11-24 14:00 +08:00 (Beijing time)" in en
        assert r.body.endswith("Reminder id: incident:INC-2026-0001:regulator:80")
        assert not _has_chinese(en.replace("CRM copy exposed", ""))
    finally:
        s.close()


def test_every_message_of_the_incident_pages_has_a_chinese_translation():
    have = i18n.merged_catalog()
    missing = []
    for msg in i18n.extract():
        if not msg.id or not any(loc[0] in MY_FILES for loc in msg.locations):
            continue
        text = have.get(msg.id)
        if not (all(text) if isinstance(text, tuple) else text):
            missing.append(msg.id)
    assert not missing, missing


def test_the_catalog_keeps_placeholders_and_markdown():
    from babel.messages.pofile import read_po
    path = i18n.LOCALE_DIR / ZH / "LC_MESSAGES" / "incidents.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=ZH)
    count = 0
    for msg in catalog:
        if not msg.id:
            continue
        count += 1
        src = msg.id if isinstance(msg.id, str) else msg.id[0]
        dst = msg.string if isinstance(msg.string, str) else msg.string[0]
        assert set(re.findall(r"\{\w*\}", src)) == set(re.findall(r"\{\w*\}", dst)), src
        assert src.count("**") == dst.count("**"), src
        assert _has_chinese(dst) or not re.search(r"[A-Za-z]{3}", re.sub(r"\{\w*\}", "", src)), src
        for term in ("网监", "监管机构", "个人信息处理人", "PIPL", "CAC"):
            assert term not in dst, (term, dst)
    assert count > 350


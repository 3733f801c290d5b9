"""The compliance pages (Overview, Findings, Policy), their charts and services in Chinese
(issue 17): every rule's texts exist in Chinese (rules.toml ``*_zh``) with the same
confidence marks and the laws by their Chinese names; the policy's clause titles have an
unofficial Chinese translation; charts built under ``i18n.using("zh_CN")`` have Chinese
titles, axes and legends and no raw code in a trace name; the pages in Chinese show no
enum code; the acknowledgement's messages come out in the locale. The English pages are
covered (unchanged) by test_overview.py, test_findings_page.py and test_policy_page.py."""
from __future__ import annotations

import re
import tomllib

import pandas as pd
import pytest

from dashboard import charts as C
from dashboard import charts_compliance as CC
from dashboard import dashboards as D
from dashboard import engine
from dashboard import i18n
from dashboard import policy_law as PL
from dashboard import remediation as rem
from dashboard import rules as R
from dashboard.navigation import PAGE_BY_KEY
from dashboard.reference import parse_policy
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import ADMIN, AUDITOR, DPO, FROZEN_NOW, MANAGER, app_test

ACTORS = {"dpo": DPO, "manager": MANAGER, "auditor": AUDITOR, "admin": ADMIN}
HAN = re.compile(r"[\u4e00-\u9fff]")
# Codes that must never reach the screen of these pages (enum values, audit actions, actors)
RAW_CODES = ("relatively_major", "particularly_major", "sharing_agreement",
             "retention_record", "rights_request", "unplanned", "in_progress",
             "finding.acknowledge", "auth.sign_in", "cli:root", "check.snapshot")
ENGLISH_LAWS = {"PIPL": "《中华人民共和国个人信息保护法》", "NDSMR": "《网络数据安全管理条例》",
                "CAC Measures": "《网络安全事件报告管理办法》"}


def chinese(text: str) -> bool:
    return bool(HAN.search(str(text)))


# -- the rules' texts ---------------------------------------------------------------------

def test_every_rule_has_chinese_for_every_text_it_has_in_english():
    data = tomllib.loads(R.RULES_TOML.read_text(encoding="utf-8"))
    assert len(data["rule"]) == len(R.load_rules())
    for entry in data["rule"]:
        for name in R.TEXT_FIELDS:
            english, zh = entry.get(name, ""), entry.get(f"{name}_zh", "")
            if str(english).strip():
                assert str(zh).strip(), f"{entry['rule_id']}: no {name}_zh"
                assert chinese(zh), f"{entry['rule_id']}: {name}_zh is not Chinese"
            else:
                assert not zh, f"{entry['rule_id']}: {name}_zh without {name}"


def test_legal_sources_in_chinese_keep_the_confidence_marks_and_cite_the_laws_by_name():
    for r in R.load_rules():
        zh = r.zh["legal_source"]
        assert PL.confidence_marks(zh) == PL.confidence_marks(r.legal_source), r.rule_id
        for english, name in ENGLISH_LAWS.items():
            if english in r.legal_source:
                assert name in zh, f"{r.rule_id}: {english} not cited as {name}"
        if "Art." in r.legal_source:
            assert re.search(r"第[一二三四五六七八九十]+条", zh), r.rule_id


def test_rule_text_follows_the_locale():
    rule = R.rule_map()["PROC-PIA"]
    assert R.text(rule, "title") == rule.title
    with i18n.using("zh_CN"):
        assert R.text(rule, "title") == "委托处理个人信息前未进行个人信息保护影响评估"
        assert "个人信息保护影响评估" in R.text(rule, "promise")
        assert "**政策承诺。**" in rule.explanation
    assert rule.explanation.startswith("**Promise.**")
    with pytest.raises(KeyError):
        R.text(rule, "sql")


def test_every_policy_clause_has_an_unofficial_chinese_title():
    titles = PL.clause_titles_zh()
    assert {c.clause for c in parse_policy()} <= set(titles)
    assert all(chinese(t) for t in titles.values())
    assert PL.clause_title("5.1", "Share") == "Share"
    with i18n.using("zh_CN"):
        assert PL.clause_title("5.1", "Share") == "共享"


def test_the_policy_vs_law_view_in_chinese_keeps_the_csv_english(demo_store):
    as_of = engine.current_as_of(demo_store)
    beyond = PL.beyond_policy_view(demo_store, as_of=as_of)
    with i18n.using("zh_CN"):
        shown = PL.localized(beyond)
    assert all(chinese(t) for t in shown["rule_title"]) and all(chinese(t) for t in
                                                                shown["law_asks"])
    assert list(shown["policy_text"]) == list(beyond["policy_text"])     # the policy: English
    assert not any(chinese(t) for t in beyond["rule_title"])             # the source unchanged
    frame = PL.csv_frame(beyond, PL.changed_view(demo_store, as_of=as_of))
    assert not frame.astype(str).apply(lambda col: col.map(chinese)).any().any()


# -- the acknowledgement's messages ----------------------------------------------------------

def test_acknowledgement_errors_come_out_in_the_locale(demo_store):
    def errors():
        with pytest.raises(rem.AcknowledgementError) as exc:
            rem.validate(demo_store, rule_id="PROC-PIA", entity_id="PRC-9999", owner="",
                         target_date="2020-01-01", comment="")
        return exc.value.errors
    english = errors()
    assert english["owner"] == "Name the owner who will fix the finding."
    assert english["target_date"].startswith("The target date 2020-01-01 is in the past")
    assert "processor PRC-9999" in english["finding"]
    with i18n.using("zh_CN"):
        zh = errors()
    assert zh["owner"] == "请填写负责整改的责任人。"
    assert zh["comment"] == "请说明将如何整改（说明为空）。"
    assert "2020-01-01" in zh["target_date"] and chinese(zh["target_date"])
    assert "受托方 PRC-9999" in zh["finding"] and "processor" not in zh["finding"]


# -- charts ---------------------------------------------------------------------------------

def trace_names(fig) -> list[str]:
    return [t.name for t in fig.data if t.name and t.showlegend is not False]


def assert_no_codes(names) -> None:
    for name in names:
        assert not re.fullmatch(r"[a-z_]+", str(name)), f"raw code {name!r} in a trace name"


@pytest.fixture
def as_of(demo_store) -> str:
    return engine.current_as_of(demo_store)


def test_overview_charts_in_chinese(demo_store, as_of):
    with i18n.using("zh_CN"):
        articles = D.scores(demo_store, as_of=as_of, level="article")
        fig = CC.score_bars(articles, level="article", title=i18n._("Compliance score per "
                                                                     "policy article"),
                            axis_title=i18n._("Article"), target=95, warning=80)
        assert fig.layout.title.text == "各政策章节的合规得分"
        assert fig.layout.xaxis.title.text == "得分（%）"
        assert fig.layout.yaxis.title.text == "章"
        assert all(chinese(n) for n in trace_names(fig)), trace_names(fig)
        assert all(str(y).startswith("第") for t in fig.data if t.type == "bar" for y in t.y)
        assert_no_codes(trace_names(fig))

        trend = CC.score_trend(D.trend(demo_store, as_of=as_of), target=95, warning=80)
        assert trend.layout.title.text == "合规得分趋势"
        assert "总体" in trace_names(trend)

        by_plan = CC.findings_by_plan(
            D.findings_breakdown(demo_store, as_of=as_of, by="severity"), code="severity",
            chart="severity", title=i18n._("Open findings by severity"),
            axis_title=i18n._("Severity"))
        assert by_plan.layout.title.text == "按严重程度统计的未关闭发现项"
        assert by_plan.layout.xaxis.title.text == "未关闭的发现项"
        assert set(trace_names(by_plan)) <= {"未计划", "已计划", "计划逾期"}
        assert {y for t in by_plan.data if t.type == "bar" for y in t.y} <= {"高", "中", "低"}
        rules = CC.findings_by_plan(
            D.findings_breakdown(demo_store, as_of=as_of, by="rule_id"), code="rule_id",
            chart="rule", title="t", axis_title="r")
        hover = {c[3] for t in rules.data if t.type == "bar" for c in t.customdata}
        assert hover and all(chinese(h) for h in hover)

        due = CC.due_bars(D.due_groups(demo_store, as_of=as_of))
        assert due.layout.title.text == "即将到期事项"
        assert all(chinese(n) for n in trace_names(due))
        assert all(chinese(y) for t in due.data for y in t.y)

        incidents = CC.incidents_by_grade(D.incident_breakdown(demo_store, as_of=as_of))
        assert incidents.layout.title.text == "按等级和状态统计的安全事件"
        assert incidents.layout.xaxis.title.text.startswith("等级")
        assert {x for t in incidents.data for x in t.x} <= {"特别重大", "重大", "较大", "一般"}
        assert_no_codes(trace_names(incidents))
        for fig in (trend, by_plan, rules, due, incidents):
            assert_no_codes(trace_names(fig))
    # and in English, as before
    english = CC.due_bars(D.due_groups(demo_store, as_of=as_of))
    assert english.layout.title.text == "What falls due"


def test_register_charts_titles_and_axes_in_chinese():
    df = pd.DataFrame({"value": ["CN"], "status": ["active"], "processors": [3]})
    with i18n.using("zh_CN"):
        fig = C.processors_by_region(df)
        empty = C.processors_by_kind(df.iloc[0:0])
    assert fig.layout.title.text == "按存储地区统计的受托方"
    assert fig.layout.yaxis.title.text == "存储地区" and fig.layout.xaxis.title.text == "受托方"
    assert empty.layout.annotations[0].text == "没有符合筛选条件的数据"
    assert C.processors_by_region(df).layout.title.text == "Processors by storage region"


def test_links_carry_the_labels_of_the_locale():
    assert D.url_params(severity=["high"], plan=["overdue"], view="due") == {
        "view": "Due soon", "severity": "High", "plan": "Plan overdue"}
    with i18n.using("zh_CN"):
        assert D.url_params(severity=["high"], plan=["overdue"], view="due") == {
            "view": "即将到期", "severity": "高", "plan": "计划逾期"}


# -- the pages in Chinese ------------------------------------------------------------------

def page_texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [s.value for s in at.success] + [i.value for i in at.info]
    parts += [t.value for t in at.title] + [s.value for s in at.subheader]
    parts += [h.value for h in at.header]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def table_cells(at) -> str:
    return "\n".join(d.value.astype(str).to_csv(index=False) for d in at.dataframe)


def open_zh(db, actor, monkeypatch, page, query=None):
    at = app_test(db, actor, monkeypatch, page=page, query=query, locale="zh_CN")
    assert not at.exception, [e.value for e in at.exception]
    return at


def assert_no_raw_codes(at) -> None:
    shown = page_texts(at) + "\n" + "\n".join(
        str(d.value[c].tolist()) for d in at.dataframe for c in d.value.columns
        if c in ("severity", "entity_type", "plan_state", "role", "action", "actor", "detail"))
    for code in RAW_CODES:
        assert code not in shown, f"raw code {code!r} on the page"


@pytest.mark.parametrize("role", sorted(PAGE_BY_KEY["overview"].roles))
def test_overview_in_chinese(demo_db, monkeypatch, role):
    at = open_zh(demo_db, ACTORS[role], monkeypatch, "overview")
    assert at.title[0].value == "合规概览"
    labels = {m.label for m in at.metric}
    assert {"总体得分", "未关闭的发现项", "严重程度为高", "未计划", "已计划", "计划逾期"} <= labels
    assert "北京时间" in page_texts(at)
    assert [t.label for t in at.tabs][:2] == ["得分", "趋势"]
    assert_no_raw_codes(at)


def test_overview_rule_table_in_chinese(demo_db, monkeypatch):
    at = open_zh(demo_db, DPO, monkeypatch, "overview", {"tab": "全部规则"})
    rules = at.dataframe[0].value
    assert set(rules["severity"]) <= {"高", "中", "低"}
    assert all(chinese(t) for t in rules["title"])
    assert_no_raw_codes(at)


def test_findings_in_chinese(demo_db, monkeypatch):
    at = open_zh(demo_db, DPO, monkeypatch, "findings")
    assert at.title[0].value == "发现项"
    table = at.dataframe[0].value
    assert set(table["severity"]) <= {"高", "中", "低"}
    assert set(table["plan_state"]) <= {"未计划", "已计划", "计划逾期"}
    assert set(table["entity_type"]) <= {"受托方", "共享协议", "存储记录", "安全事件",
                                         "权利请求"}
    assert "第 1–100 行，共 204 行" in page_texts(at)
    assert {m.label for m in at.metric} >= {"发现项", "高", "中", "低", "未计划"}
    assert_no_raw_codes(at)


def test_a_finding_in_chinese_and_a_chinese_link(demo_db, monkeypatch):
    with Store(demo_db, settings=Settings(), clock=lambda: FROZEN_NOW) as store:
        entity = engine.findings_page(store, engine.current_as_of(store), rule_id="PROC-PIA",
                                      limit=1)["entity_id"].iloc[0]
        rem.acknowledge(store, DPO, rule_id="PROC-PIA", entity_id=entity, owner="供应商团队",
                        target_date="2026-12-15", comment="完成评估。")
    at = open_zh(demo_db, DPO, monkeypatch, "findings",
                 {"rule": "PROC-PIA", "entity": entity, "severity": "高"})
    assert [m.value for m in at.metric if m.label == "发现项"] == ["1"]
    body = page_texts(at)
    assert "委托处理个人信息前未进行个人信息保护影响评估" in body
    assert "**整改方法。**" in body and "《中华人民共和国个人信息保护法》第五十五条" in body
    assert "2026年12月15日" in body and "供应商团队" in body
    assert "(V)" in body                                   # the confidence marks kept
    links = {link.value for link in at.get("page_link")}
    assert "隐私政策第5.1.4条" in links
    assert_no_raw_codes(at)
    history = next(d.value for d in at.dataframe if "change" in d.value.columns)
    assert "finding.acknowledge" not in history["action"].tolist()


def test_finding_details_name_grades_in_words(demo_db, monkeypatch):
    text = "graded relatively_major, but 12,500,000 affected people makes it at least major"
    # English: the rule's own text, its codes in words
    assert D.detail_text(text) == text.replace("relatively_major", "relatively major")
    with i18n.using("zh_CN"):
        assert D.detail_text(text) == ("graded 较大, but 12,500,000 affected people makes it "
                                       "at least 重大")
    at = open_zh(demo_db, DPO, monkeypatch, "findings", {"rule": "INC-GRADE"})
    details = at.dataframe[0].value["detail"].tolist()
    assert details and any("较大" in d or "重大" in d for d in details)
    assert_no_raw_codes(at)


def test_a_link_in_the_other_language_still_filters(demo_db, monkeypatch):
    zh = open_zh(demo_db, DPO, monkeypatch, "findings", {"severity": "High"})
    assert [m.value for m in zh.metric if m.label in ("发现项", "高")] == ["52", "52"]
    en = app_test(demo_db, DPO, monkeypatch, page="findings", query={"plan": "未计划",
                                                                     "severity": "高"})
    assert not en.exception and [m.value for m in en.metric if m.label == "Findings"] == ["52"]
    assert not en.warning


def test_due_view_in_chinese(demo_db, monkeypatch):
    at = open_zh(demo_db, MANAGER, monkeypatch, "findings", {"view": "即将到期", "within": "7"})
    assert at.title[0].value == "即将到期"
    assert any(m.label == "7天内到期" for m in at.metric)
    assert_no_raw_codes(at)


@pytest.mark.parametrize("role", ["dpo", "manager"])
def test_policy_in_chinese(demo_db, monkeypatch, role):
    at = open_zh(demo_db, ACTORS[role], monkeypatch, "policy", {"clause": "5.1.4"})
    assert at.title[0].value == "隐私政策"
    body = page_texts(at)
    assert "非官方译文" in body
    assert "政策与法律对照" in [s.value for s in at.subheader]
    assert "我们如何共享、转让和公开披露您的信息" in body            # an article's title
    assert "We may entrust reliable partners" in body               # the policy text: English
    assert "《中华人民共和国个人信息保护法》" in body                   # the law beyond the policy
    rules = next(d.value for d in at.dataframe if "rule_id" in d.value.columns)
    assert set(rules["severity"]) <= {"高", "中", "低"} and all(chinese(t)
                                                                for t in rules["title"])
    assert_no_raw_codes(at)

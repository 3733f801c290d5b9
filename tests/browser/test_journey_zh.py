"""The journey in 简体中文 (issue 17), in Debian's Chromium with the browser's language set
to zh-CN: the app opens in Chinese by itself (``st.context.locale``), the DPO signs in,
reads the overview, drills from the worst clause's bar into its findings and one finding's
record, logs an incident and downloads its initial report to the 网信部门, a Word file in
Chinese whose SHA-256 the incident's page shows (as the audit log holds it) and whose
required items are present or marked to be completed.

It runs on a server of its own, on a copy of the demo store as built (the other journeys
count the incidents and the audit pack's files of the shared one). It writes the README's
Chinese screenshots: docs/screenshots/overview_zh.png, findings_zh.png and incident_zh.png.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from dashboard import documents as docs
from dashboard import engine, i18n

from .conftest import FROZEN_NOW, own_server, save_screenshot, wait_for_app
from .test_journeys import bars_by_tick, click_bar

pytestmark = pytest.mark.browser

NOW = dt.datetime.fromisoformat(FROZEN_NOW)
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def zh_app(demo_store_path, tmp_path_factory):
    with own_server(demo_store_path, tmp_path_factory.mktemp("zh"), "streamlit-zh.log") as base:
        yield base


@pytest.fixture
def zh_page(browser, zh_app):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True, timezone_id="Asia/Shanghai",
                                  locale="zh-CN")
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.base_url = zh_app  # type: ignore[attr-defined]
    yield pg
    context.close()


def zh(message: str) -> str:
    """The app's Chinese for ``message`` (the catalogs are what the page shows)."""
    with i18n.using("zh_CN"):
        return i18n._(message)


def test_dpo_journey_in_chinese(zh_page: Page, reference_store):
    pg = zh_page
    check = engine.run_check(reference_store, NOW)
    clauses = check.clause_scores.set_index("clause")["score"]
    worst = clauses.idxmin()
    expected = check.findings[check.findings["clause"] == worst]

    # The browser speaks Chinese: so does the sign-in page, before anyone signs in.
    pg.goto(pg.base_url)
    expect(pg.get_by_role("heading", name="登录", exact=True)).to_be_visible()
    pg.get_by_role("textbox", name="用户名").fill("dpo")
    pg.get_by_label("密码", exact=True).fill("dpo-demo-password")
    pg.get_by_role("button", name="登录").click()
    sidebar = pg.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("当前登录")
    expect(sidebar).to_contain_text("个人信息保护负责人")
    wait_for_app(pg)

    # The overview: Chinese headings, Beijing time, no code on screen.
    expect(pg.get_by_role("heading", name="合规概览", exact=True)).to_be_visible()
    main = pg.get_by_test_id("stMain")
    expect(main).to_contain_text("2026年11月24日 10:00 北京时间")
    plots = main.locator(".js-plotly-plot")
    clause_plot = plots.filter(has=pg.locator(".gtitle", has_text="各政策条款"))
    bars = clause_plot.locator(".bars .point")
    expect(bars).to_have_count(len(clauses))
    text = main.inner_text()
    for code in ("relatively_major", "in_progress", "explicit_consent", "cli:root"):
        assert code not in text
    nav = pg.get_by_test_id("stSidebarNav")
    for title in ("总览", "发现项", "受托方", "共享协议", "安全事件", "登记安全事件", "事件详情"):
        expect(nav).to_contain_text(title)
    save_screenshot(pg, "overview_zh")

    # Drill down: the worst clause's bar opens its findings.
    click_bar(pg, bars_by_tick(clause_plot)[worst])
    pg.wait_for_url(re.compile(r"/findings\?"))
    assert parse_qs(urlsplit(pg.url).query)["clause"] == [worst]
    expect(pg.get_by_role("heading", name="发现项", exact=True)).to_be_visible()
    wait_for_app(pg)
    canvas = pg.get_by_test_id("stDataFrame").first.locator(
        'canvas[data-testid="data-grid-canvas"]')
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    pg.mouse.click(box["x"] + 15, box["y"] + 36 + 17)
    pg.wait_for_url(re.compile(r"finding="))
    rule_id, entity_id = parse_qs(urlsplit(pg.url).query)["finding"][0].split(":")
    assert ((expected.rule_id == rule_id) & (expected.entity_id == entity_id)).any()
    expect(pg.get_by_test_id("stAlert").filter(has_text="发现项：")).to_be_visible()
    pg.get_by_role("tab", name="记录", exact=True).click()
    expect(pg.get_by_role("tabpanel", name="记录", exact=True).get_by_test_id("stDataFrame")
           ).to_be_visible()
    wait_for_app(pg)
    save_screenshot(pg, "findings_zh")

    # Log an incident: a data leak detected at 07:30, a million people affected.
    nav.get_by_role("link", name="登记安全事件", exact=True).click()
    expect(pg.get_by_role("heading", name="登记安全事件", exact=True)).to_be_visible()
    wait_for_app(pg)
    title = "测试服务器上的客户数据库被公开访问"
    box = pg.get_by_role("textbox", name="标题", exact=True)
    box.fill(title)
    box.press("Tab")
    pg.get_by_role("combobox", name="类型", exact=True).click()
    pg.get_by_role("option", name="数据泄露", exact=True).click()
    pg.get_by_role("spinbutton", name=re.compile(r"^hour, ")).first.click()
    pg.keyboard.type("0730")
    pg.keyboard.press("Tab")
    affected = pg.get_by_role("textbox", name="受影响个人数量", exact=True)
    affected.fill("很多")
    affected.press("Tab")
    wait_for_app(pg)
    pg.get_by_role("button", name="登记事件").click()
    expect(pg.get_by_text("未保存任何内容：请更正上方标出的字段。")).to_be_visible()
    wait_for_app(pg)
    affected.fill("1,200,000")
    affected.press("Tab")
    box = pg.get_by_role("textbox", name="受影响的系统")
    box.fill("CRM、测试服务器 ts-03")
    box.press("Tab")
    wait_for_app(pg)
    pg.get_by_role("button", name="登记事件").click()
    logged = pg.get_by_test_id("stAlert").filter(has_text=re.compile(r"INC-2026-\d{4}"))
    expect(logged).to_be_visible()
    incident_id = re.search(r"INC-2026-\d{4}", logged.inner_text()).group(0)
    wait_for_app(pg)

    # Its page: the clocks in Chinese, the grade in the law's words, then the initial report.
    pg.goto(f"{pg.base_url}/incident?id={incident_id}")
    expect(pg.get_by_role("heading", name=re.compile(re.escape(incident_id)))).to_be_visible()
    main = pg.get_by_test_id("stMain")
    expect(main).to_contain_text("较大")
    expect(main).to_contain_text("向网信部门报告")
    expect(main).to_contain_text("北京时间")
    wait_for_app(pg)
    documents = pg.get_by_role("heading", name="事件文书")
    documents.scroll_into_view_if_needed()
    pg.get_by_role("button", name="生成").click()
    wait_for_app(pg)
    with pg.expect_download() as info:
        pg.get_by_role("button", name="下载新生成的文书").click()
    download = info.value
    data = open(download.path(), "rb").read()
    assert download.suggested_filename == f"{incident_id}_initial_report_zh_CN.docx"

    # The file: Chinese, every required item present or marked, its hash as recorded.
    from docx import Document
    document = Document(io.BytesIO(data))
    text = "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for r in t.rows for c in r.cells])
    assert "网信部门" in text and title in text and "较大" in text
    for item in docs.required_items("initial_report"):
        assert docs.heading_text("initial_report", item, "zh_CN") in text, item
    assert "【待填写】" in text         # what the register does not hold is marked, not made up
    digest = hashlib.sha256(data).hexdigest()
    expect(main).to_contain_text(digest)
    main.get_by_text(digest).scroll_into_view_if_needed()
    save_screenshot(pg, "incident_zh")

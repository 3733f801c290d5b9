"""The register pages (Processors, Sharing agreements, Retention), Import, Exports and the
Audit log in Chinese (issue 17): key texts in 简体中文, enum codes shown as words, and the
services' messages (import problems, export filters, audit chain) in the page's language
while the command line and the default stay English."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from dashboard import exports, i18n, importer
from dashboard import queries as Q
from dashboard import views
from dashboard.registers import PROCESSORS

from conftest import ADMIN, AUDITOR, DPO, MANAGER, app_test, make_store
from test_export_pages import db, reopen  # noqa: F401 - the same small filled store

ACTORS = {"dpo": DPO, "manager": MANAGER, "auditor": AUDITOR, "admin": ADMIN}
ZH = "zh_CN"

# Codes of these pages that must never be shown as they are (any cell, any text).
RAW_CODES = {
    "service_provider", "consulting_analysis", "identity_verification", "service_provision",
    "technical_support", "no_subentrust", "return_or_delete", "protection_measures",
    "rights_obligations", "explicit_consent", "legal_requirement", "entrusted_processing",
    "affiliate_service", "dispute_resolution", "merger_acquisition", "law_or_regulation",
    "court_or_legal_proceedings", "authority_request", "compliance_obligation",
    "rights_protection", "on_hold", "not_recorded", "relatively_major", "particularly_major",
    "in_progress", "auth.sign_in", "store.seed", "register.import", "export.download",
    "schema.migrate", "cli:root", "sharing_agreement", "retention_record",
}
# Codes without an underscore: wrong only as a whole cell or option.
WHOLE_CODES = {"supplier", "affiliate", "contractor", "agent", "partner", "active",
               "suspended", "offboarded", "ended", "share", "transfer", "disclosure",
               "bundled", "separate", "explicit", "none", "processor", "incident",
               "expiring", "expired", "valid", "overdue", "due", "deleted"}




def shown_texts(at) -> list[str]:
    """Every text a reader sees: titles, markdown, captions, alerts, metrics, widget labels
    and their option words, tab labels."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success",
                 "warning", "error", "text"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [f"{m.label} {m.value}" for m in at.metric]
    for kind in ("multiselect", "selectbox", "radio"):
        for w in getattr(at, kind):
            out.append(str(w.label))
            out += [str(o) for o in w.options]
    out += [str(t.label) for t in at.tabs]
    out += [str(b.label) for b in at.button]
    out += [str(p.proto.label) for p in at.get("page_link")]
    return out


def cells(at) -> list[str]:
    """Every cell of every table shown (as text), lists flattened."""
    out = []
    for d in at.dataframe:
        frame = d.value
        if not isinstance(frame, pd.DataFrame):
            continue
        for column in frame.columns:
            if column in ("values_before", "values_after"):      # JSON shown as data
                continue
            for v in frame[column]:
                items = v.tolist() if hasattr(v, "tolist") else v
                if isinstance(items, (list, tuple)):
                    out += [str(x) for x in items]
                else:
                    out.append(str(v))
    return out


def assert_no_codes(at, *, tables: bool = True) -> None:
    texts = shown_texts(at)
    joined = "\n".join(texts)
    leaked = sorted(c for c in RAW_CODES if c in joined)
    assert not leaked, leaked
    table = cells(at) if tables else []
    leaked = sorted({c for c in table if c in RAW_CODES or c in WHOLE_CODES})
    assert not leaked, leaked
    options = [str(o) for kind in ("multiselect", "selectbox", "radio")
               for w in getattr(at, kind) for o in w.options]
    leaked = sorted({o for o in options if o in RAW_CODES or o in WHOLE_CODES})
    assert not leaked, leaked


def rerun(at):
    """Run again: AppTest formats the widgets' values in the test's thread, so it needs the
    page's language there too."""
    with i18n.using(ZH):
        return at.run()


def rendered(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# -- the register pages ----------------------------------------------------------------------
REGISTER_PAGES = {
    "processors": ("受托方", ["个受托方", "受托方编号", "在中国大陆境内存储"]),
    "sharing": ("共享协议", ["份协议", "法律依据", "跨境"]),
    "retention": ("保存期限", ["条记录", "法律保留", "删除截止日期", "北京时间"]),
}


@pytest.mark.parametrize("page", sorted(REGISTER_PAGES))
@pytest.mark.parametrize("role", sorted(ACTORS))
def test_register_page_in_chinese(demo_db, monkeypatch, page, role):
    at = app_test(demo_db, ACTORS[role], monkeypatch, page=page, locale=ZH)
    rendered(at)
    title, phrases = REGISTER_PAGES[page]
    assert at.title[0].value == title
    joined = "\n".join(shown_texts(at))
    for phrase in phrases:
        assert phrase in joined, phrase
    assert "筛选" in joined and "排序方式" in joined
    assert_no_codes(at)
    assert "Policy " not in joined and " match " not in joined


def test_processor_table_shows_words_and_chinese_headings(demo_db, monkeypatch):
    at = app_test(demo_db, DPO, monkeypatch, page="processors", locale=ZH)
    rendered(at)
    table = at.dataframe[0].value
    with i18n.using(ZH):
        words = set(i18n.labels("processor_kind").values())
        terms = set(i18n.labels("agreement_term").values())
    kinds = set(table["kind"])
    assert kinds and kinds <= words
    listed = {t for v in table["agreement_terms"] if v is not None for t in v}
    assert listed and listed <= terms
    headings = {c: cfg.get("label") for c, cfg in
                json.loads(at.dataframe[0].proto.columns).items()}
    assert headings["processor_id"] == "受托方编号" and headings["kind"] == "类型"
    assert headings["agreement_expires_on"] == "协议到期"


def test_retention_query_params_keep_codes_under_chinese(demo_db, monkeypatch):
    """The URL's values are the widget's words: a Chinese link opens the same view."""
    with i18n.using(ZH):
        overdue = Q.label("retention_status", "overdue")
    at = app_test(demo_db, DPO, monkeypatch, page="retention", locale=ZH,
                  query={"status": overdue})
    rendered(at)
    assert at.multiselect(key="status").value == ["overdue"]


# -- Import ------------------------------------------------------------------------------------
BAD = ("processor_id,name,kind,status,engaged_on\r\n"
       "PRC-0100,Good Co,supplier,active,2026-01-01\r\n"
       "PRC-0101,Bad Co,wholesaler,active,2026-01-01\r\n"
       "PRC-0102,,supplier,active,01/02/2026\r\n").encode()


@pytest.mark.parametrize("actor", [DPO, ADMIN])
def test_import_page_in_chinese(db, monkeypatch, actor):
    at = app_test(db, actor, monkeypatch, page="import", locale=ZH)
    rendered(at)
    assert at.title[0].value == "导入"
    joined = "\n".join(shown_texts(at))
    assert "CSV 文件编码" in joined and "追加到台账" in joined
    assert "受托方" in [str(o) for o in at.selectbox(key="imp_table").options]


def test_import_page_problems_in_chinese(db, monkeypatch):
    at = app_test(db, DPO, monkeypatch, page="import", locale=ZH)
    at.file_uploader(key="imp_file").set_value(("bad.csv", BAD, "text/csv"))
    rerun(at)
    assert not at.exception
    assert "未写入任何数据" in at.error[0].value and "3 个问题" in at.error[0].value
    problems = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    by_column = dict(zip(problems["column"], problems["problem"]))
    assert by_column["kind"].startswith("不是 supplier, service_provider")
    assert by_column["name"] == "必填值为空"
    assert "不是日期" in by_column["engaged_on"]
    assert not any("not one of" in p or "required value" in p for p in problems["problem"])


def test_import_page_rechecks_when_the_language_changes(db, monkeypatch):
    at = app_test(db, DPO, monkeypatch, page="import")
    at.file_uploader(key="imp_file").set_value(("bad.csv", BAD, "text/csv"))
    at.run()
    problems = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert "required value is empty" in list(problems["problem"])
    at.session_state["locale"] = ZH
    at.run()                             # the widgets shown were English
    problems = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert "必填值为空" in list(problems["problem"])


def test_importer_messages_follow_the_locale(tmp_path):
    store = make_store(tmp_path / "s.duckdb")
    try:
        english = importer.stage_file(store, "processors", BAD, "bad.csv")
        with i18n.using(ZH):
            chinese = importer.stage_file(store, "processors", BAD, "bad.csv")
            zh_text = str(chinese.errors[0])
            zh_refused = str(importer.ImportRejected(chinese.errors, table="processors",
                                                     source_name="bad.csv"))
        en_text = str(english.errors[0])
    finally:
        store.close()
    assert en_text.startswith('line 3, column kind, value "wholesaler": not one of supplier')
    assert zh_text.startswith("第 3 行，列 kind，值“wholesaler”：不是 supplier")
    assert "import refused, nothing was written (3 problems)" in str(
        importer.ImportRejected(english.errors, table="processors", source_name="bad.csv"))
    assert "导入被拒绝，未写入任何数据（3 个问题）" in zh_refused


def test_importer_file_level_message_in_chinese(tmp_path):
    store = make_store(tmp_path / "s.duckdb")
    try:
        with i18n.using(ZH):
            staged = importer.stage_file(store, "processors", b"%PDF-1.7 ...", "x.csv")
        english = importer.stage_file(store, "processors", b"%PDF-1.7 ...", "x.csv")
    finally:
        store.close()
    assert staged.errors[0].reason.startswith("该文件是 PDF 文档")
    assert english.errors[0].reason.startswith("the file is a PDF document")


def test_import_cli_stays_english(db, tmp_path, capsys):
    import subprocess
    import sys
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BAD)
    proc = subprocess.run([sys.executable, "-m", "dashboard", "--db", str(db), "import",
                           "processors", str(bad)], capture_output=True, text=True,
                          env={**__import__("os").environ, "LANG": "zh_CN.UTF-8"},
                          cwd=str(i18n.ROOT))
    assert proc.returncode == 2, proc.stderr
    assert "not one of supplier" in proc.stderr and "不是" not in proc.stderr


# -- Exports -----------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [AUDITOR, DPO])
def test_exports_page_in_chinese(db, monkeypatch, actor):
    at = app_test(db, actor, monkeypatch, page="exports", locale=ZH)
    rendered(at)
    assert at.title[0].value == "导出"
    assert [t.label for t in at.tabs] == ["单个数据集", "审计证据包"]
    assert any(m.label == "文件行数" for m in at.metric)
    status = at.multiselect(key="exp_processors_status")
    assert status.label == "状态"
    with i18n.using(ZH):
        assert set(status.options) == {i18n.label("processor_status", c)
                                       for c in ("active", "suspended", "offboarded")}
    buttons = at.get("download_button")
    assert any(b.proto.label.startswith("下载 processors_") for b in buttons)   # file name kept
    at.selectbox(key="exp_dataset").set_value("incidents")
    rerun(at)
    grade = at.multiselect(key="exp_incidents_grade")
    assert "较大" in grade.options and "relatively_major" not in grade.options
    assert any(d.label == "发现时间（起）" for d in at.date_input)
    # the preview is the CSV file's content "as stored": its codes are the contract's
    assert_no_codes(at, tables=False)


def test_exports_page_filter_error_in_chinese(db, monkeypatch):
    import datetime as dt
    at = app_test(db, DPO, monkeypatch, page="exports", locale=ZH)
    at.selectbox(key="exp_dataset").set_value("incidents")
    rerun(at)
    at.date_input(key="exp_incidents_from").set_value(dt.date(2026, 3, 2))
    at.date_input(key="exp_incidents_to").set_value(dt.date(2026, 3, 1))
    rerun(at)
    assert "日期范围为空" in at.error[0].value


def test_export_filter_errors_follow_the_locale():
    with pytest.raises(exports.ExportError, match="has no value 'dormant'"):
        exports.normalize_filters("processors", {"status": "dormant"})
    with i18n.using(ZH), pytest.raises(exports.ExportError, match="没有值 'dormant'"):
        exports.normalize_filters("processors", {"status": "dormant"})
    # the contract's names stay: manifests and the command line read these
    assert exports.DATASETS["incidents"].title == "Incidents"
    with i18n.using(ZH):
        assert exports.filter_label(exports.DATASETS["audit_log"].filter("from")) == \
            "登记（起）"
    assert exports.filter_label(exports.DATASETS["audit_log"].filter("from")) == "Logged from"


# -- Audit log ---------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [AUDITOR, DPO, ADMIN])
def test_audit_log_page_in_chinese(demo_db, monkeypatch, actor):
    at = app_test(demo_db, actor, monkeypatch, page="audit_log", locale=ZH)
    rendered(at)
    assert at.title[0].value == "审计日志"
    assert "哈希链完整" in at.success[0].value and "北京时间" in at.success[0].value
    rows = next(d.value for d in at.dataframe if "hash" in d.value.columns)
    with i18n.using(ZH):
        assert i18n.label("audit_action", "store.seed") in set(rows["action"])
        assert "命令行（root）" in set(rows["actor"]) or any(
            a.startswith("命令行") for a in rows["actor"])
    assert not any(":" in a and a.split(":")[0] in ("cli", "api", "system") for a in rows["actor"])
    options = at.multiselect(key="log_action").options
    assert "auth.sign_in" not in options and "store.seed" not in options
    assert_no_codes(at)


def test_audit_log_broken_chain_in_chinese(db, monkeypatch):
    s = reopen(db)
    s.rows("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    s.close()
    at = app_test(db, AUDITOR, monkeypatch, page="audit_log", locale=ZH)
    assert not at.exception
    assert "哈希链在第 3 条记录处断裂" in at.error[0].value
    assert "第 3 条记录的内容与其哈希值不符；" in at.error[0].value
    assert "Chain broken" not in at.error[0].value and "entry 3" not in at.error[0].value


# -- display helpers -----------------------------------------------------------------------------
def test_labels_and_summaries_follow_the_locale():
    assert Q.label("kind", "service_provider") == "Service provider"
    assert Q.label("category", "location") == "Location"
    assert views.filter_summary(1022, "processors", {"status": ["active"]}) == \
        "**1,022** processors match 1 filter."
    with i18n.using(ZH):
        assert Q.label("kind", "service_provider") == "服务提供商"
        assert Q.label("agreement_term", "no_subentrust") == "不得转委托"
        assert Q.label("retention_status", "on_hold") == "法律保留"
        assert Q.label("status", None) == "未记录"
        assert Q.label("category", "location") == "位置信息"
        assert views.filter_summary(1022, "processors", {"status": ["active"]}) == \
            "**1,022** 个受托方符合 1 个筛选条件。"
        assert views.count_text(6_800_000) == ("680万", "精确值为 6,800,000。")
        frame = views.register_words(pd.DataFrame({
            "kind": ["supplier"], "agreement_terms": [["purpose", "no_subentrust"]],
            "data_categories": [["location"]], "name": ["甲公司"]}), PROCESSORS)
    assert frame.loc[0, "kind"] == "供应商"
    assert list(frame.loc[0, "agreement_terms"])[1] == "不得转委托"
    assert list(frame.loc[0, "data_categories"]) == ["位置信息"]
    assert frame.loc[0, "name"] == "甲公司"


def test_every_marked_message_of_this_area_has_a_translation():
    mine = ("pages/processors.py", "pages/sharing.py", "pages/retention.py", "pages/import.py",
            "pages/exports.py", "pages/audit_log.py", "dashboard/registers.py",
            "dashboard/importer.py", "dashboard/exports.py", "dashboard/audit.py",
            "dashboard/views.py", "dashboard/queries.py", "dashboard/reference.py")
    have = i18n.merged_catalog()
    missing = []
    for msg in i18n.extract():
        if not msg.id or not any(loc[0] in mine for loc in msg.locations):
            continue
        text = have.get(msg.id)
        if not (all(text) if isinstance(text, tuple) else text):
            missing.append(msg.id)
    assert not missing, missing[:10]

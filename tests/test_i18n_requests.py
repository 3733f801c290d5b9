"""The rights-request pages and service in 简体中文 (issue 17): the words of the catalog
on screen, enum codes shown as words, dates in Chinese; the service's validation messages
in the reader's language, English by default."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from dashboard import i18n
from dashboard import requests as rq

from conftest import AUDITOR, DPO, MANAGER, app_test, make_store, shown

GOOD = {"received_at": "2026-11-20 09:30", "channel": "email", "kind": "delete",
        "subject_ref": "U-000042"}

# Codes of the page's enums that must never be read on screen (as whole words)
CODES = ("received", "in_progress", "completed", "refused", "withdrawn", "web_form", "email",
         "phone", "customer_service", "letter", "in_app", "access", "copy", "correct",
         "delete", "withdraw_consent", "cancel_account", "explain", "complaint",
         "identity_verified", "logged", "note", "dpo", "manager", "auditor", "low", "medium",
         "high")
# (whole words; not a part of a user name such as dpo.li)
CODE_RE = re.compile(r"(?<![\w/.-])(" + "|".join(CODES) + r")(?![\w/-]|\.\w)")
# the columns a table shows (the others are hidden by column_order or are ids)
SHOWN_COLUMNS = {
    "queue": ["left", "deadline", "status_label", "kind_label", "channel_label"],
    "history": ["kind", "detail", "role"],       # "actor": user names are data
    "findings": ["severity"],
}


def texts(at) -> list[str]:
    out = []
    for group in (at.title, at.subheader, at.caption, at.markdown, at.info, at.success,
                  at.error, at.warning):
        out += [shown(e.value) for e in group]
    for m in at.metric:
        out += [str(m.label), str(m.value)]
    for box in list(at.selectbox) + list(at.multiselect):
        if box.label == "语言 / Language":
            continue
        out += [box.label] + [str(o) for o in box.options]
    return out


def sidebar_free(at) -> list[str]:
    """The page's own texts (the sidebar belongs to the app shell, not to this page)."""
    side = {shown(e.value) for e in list(at.sidebar.caption) + list(at.sidebar.markdown)}
    return [t for t in texts(at) if t not in side]


def raw_codes(values) -> list[str]:
    return [f"{m.group(1)!r} in {v!r}" for v in values
            for m in [CODE_RE.search(str(v))] if m]


def no_ascii_sentence(values) -> list[str]:
    """Texts that still read as English: three ASCII words in a row."""
    return [v for v in values if re.search(r"[A-Za-z]{3,} [A-Za-z]{3,} [A-Za-z]{3,}", v)]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "i18n.duckdb"
    s = make_store(path)
    yield path, s
    s.close()


# -- the queue ---------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [DPO, MANAGER, AUDITOR], ids=lambda a: a.role)
def test_the_queue_in_chinese(demo_db, monkeypatch, actor):
    at = app_test(demo_db, actor, monkeypatch, page="requests", locale="zh_CN")
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["权利请求"]
    caption = at.caption[0].value
    assert "《中华人民共和国个人信息保护法》第四十四条至第五十条" in caption
    assert "第15个工作日" in caption and "北京时间" in caption
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"显示", "未结", "已逾期", "7 天内到期"}, metrics
    table = at.dataframe[0].value
    assert len(table) > 0
    cells = [str(v) for c in SHOWN_COLUMNS["queue"] for v in table[c]]
    assert not raw_codes(cells), raw_codes(cells)
    assert all("北京时间" in d for d in table["deadline"] if d)
    assert any(re.fullmatch(r"剩余 \d+ 个工作日", v) for v in table["left"]), list(table["left"])
    with i18n.using("zh_CN"):
        words = {rq.kind_label(k) for k in rq.KIND_CLAUSES}
    assert set(table["kind_label"]) <= words, set(table["kind_label"])
    assert "删除（8.2）" in at.multiselect(key="rq_kind").options
    assert at.multiselect(key="rq_status").options == ["已接收", "处理中", "已完成", "已拒绝",
                                                      "已撤回"]
    # the values stay codes: filters and service calls
    assert at.multiselect(key="rq_status").value == ["received", "in_progress"]
    page = sidebar_free(at)
    assert not raw_codes(page), raw_codes(page)
    assert not no_ascii_sentence(page), no_ascii_sentence(page)
    if actor.may("export.download"):
        assert at.get_by_key("rq_download").proto.label.startswith("下载 rights_requests_")
    if actor.may("request.log"):
        assert at.selectbox(key="log_channel").options[:2] == ["网页表单", "电子邮件"]


def test_the_log_form_says_what_is_wrong_in_chinese(db, monkeypatch):
    path, store = db
    at = app_test(path, MANAGER, monkeypatch, page="requests", locale="zh_CN")
    # AppTest words a select box's value with its format_func in the test's thread: in
    # the page's language
    with i18n.using("zh_CN"):
        at.selectbox(key="log_channel").select("web_form")
        at.selectbox(key="log_kind").select("access")
        at.get_by_key("log_received_at").set_value(dt.datetime(2026, 11, 23, 9, 15))
        at.button(key="log_save").click().run()
        assert not at.exception, at.exception
        error = at.get_by_key("log_field_subject_ref").error[0].value
        assert error.startswith("请填写个人信息主体"), error
        assert store.scalar("SELECT count(*) FROM rights_requests") == 0
        at.text_input(key="log_subject_ref").input("U-7")
        at.button(key="log_save").click().run()
    assert shown(at.success[0].value) == "已登记 REQ-2026-0001。"
    # the record stays English (the history is the record, whoever wrote it)
    detail = rq.request_history(store, "REQ-2026-0001")["detail"][0]
    assert detail.startswith("Logged: Access (8.1) by web form, subject U-7."), detail


# -- one request ---------------------------------------------------------------------------------
def test_one_request_in_chinese(db, monkeypatch):
    path, store = db
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    rq.record_step(store, DPO, rid, "in_progress", {"at": "2026-11-21 09:00"})
    at = app_test(path, DPO, monkeypatch, page="request", query={"id": rid}, locale="zh_CN")
    assert not at.exception, at.exception
    assert at.title[0].value == f"{rid} · 删除（8.2）"
    head = at.markdown[0].value
    assert ":blue-badge[处理中]" in head and ":gray-badge[电子邮件]" in head
    assert "2026年11月20日 09:30 北京时间" in head
    deadline = at.get_by_key("request_deadline")
    assert deadline.markdown[0].value == "**答复截止时间：**2026年12月11日 23:59 北京时间"
    assert "剩余 13 个工作日" in deadline.markdown[1].value
    assert "第15个工作日" in deadline.caption[0].value
    history = at.get_by_key("request_history").dataframe[0].value
    assert list(history["kind"]) == ["登记", "处理中"]
    assert list(history["role"]) == ["经理", "个人信息保护负责人"]
    assert history["detail"][0].startswith("已登记：删除（8.2），渠道：电子邮件"), history["detail"][0]
    assert "截止时间：2026年12月11日 23:59 北京时间" in history["detail"][0]
    assert history["detail"][1] == "处理中（2026年11月21日 09:00 北京时间）。"
    cells = [str(v) for c in SHOWN_COLUMNS["history"] for v in history[c]]
    assert not raw_codes(cells), raw_codes(cells)
    assert at.selectbox(key="rstep_kind").options == ["身份已核验", "已完成", "已拒绝", "已撤回",
                                                      "备注"]
    # the not-completed deletion proof, translated where it is shown
    assert at.get_by_key("deletion_proof").info[0].value.startswith("该请求尚未办结")
    page = sidebar_free(at)
    assert not raw_codes(page), raw_codes(page)
    assert not no_ascii_sentence(page), no_ascii_sentence(page)

    # a refusal without its reason: the law, cited in Chinese
    with i18n.using("zh_CN"):
        at.selectbox(key="rstep_kind").select("refused").run()
        at.get_by_key("rstep_refused_at").set_value(dt.datetime(2026, 11, 23, 16, 0))
        at.button(key="rstep_refused_save").click().run()
        error = at.get_by_key("rstep_field_refused_reason").error[0].value
        assert "《中华人民共和国个人信息保护法》第五十条" in error, error
        at.text_area(key="rstep_refused_reason").input("依法须保留")
        at.button(key="rstep_refused_save").click().run()
    assert not at.exception, at.exception
    assert shown(at.success[0].value) == "已记录：已拒绝（历史事件 #3）。"
    history = at.get_by_key("request_history").dataframe[0].value
    assert history["detail"].iloc[-1] == "已拒绝（2026年11月23日 16:00 北京时间）。理由：依法须保留"
    assert ":green-badge[按时答复]" in at.get_by_key("request_deadline").markdown[1].value


def test_an_auditor_reads_a_request_in_chinese(demo_db, demo_store, monkeypatch):
    rid = demo_store.scalar("SELECT request_id FROM rights_requests WHERE status = 'completed' "
                            "AND kind = 'delete' ORDER BY request_id LIMIT 1")
    at = app_test(demo_db, AUDITOR, monkeypatch, page="request", query={"id": rid},
                  locale="zh_CN")
    assert not at.exception, at.exception
    with i18n.using("zh_CN"):
        role = i18n.label("role", "auditor")
    assert role != "Auditor"
    assert at.info[0].value == (f"您的角色（{role}）可以查看请求；记录处理步骤需由经理或个人信息"
                                "保护负责人进行。")
    proof = at.get_by_key("deletion_proof")
    assert [e.value for e in proof.success] or [e.value for e in proof.error]
    for e in list(proof.success) + list(proof.error):
        assert "落实" in e.value and "年" in e.value, e.value
    page = sidebar_free(at)
    assert not raw_codes(page), raw_codes(page)
    history = at.get_by_key("request_history").dataframe[0].value
    cells = [str(v) for c in SHOWN_COLUMNS["history"] for v in history[c]]
    assert not raw_codes(cells), raw_codes(cells)
    assert not any(c.startswith(("Logged:", "Completed (", "In progress (")) for c in
                   history["detail"]), list(history["detail"])


def test_the_request_picker_and_unknown_id_in_chinese(db, monkeypatch):
    path, store = db
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    at = app_test(path, DPO, monkeypatch, page="request", locale="zh_CN")
    assert not at.exception, at.exception
    assert at.selectbox(key="request_pick").options == [f"{rid} — 删除（8.2），U-000042"]
    at = app_test(path, DPO, monkeypatch, page="request", query={"id": "REQ-2026-0404"},
                  locale="zh_CN")
    assert shown(at.error[0].value) == "没有请求 **REQ-2026-0404**。"


def test_the_english_pages_keep_their_words(db, monkeypatch):
    path, store = db
    rid = rq.log_request(store, MANAGER, GOOD).request_id
    at = app_test(path, DPO, monkeypatch, page="request", query={"id": rid}, locale="en")
    assert at.title[0].value == f"{rid} · Deletion (8.2)"
    assert at.get_by_key("request_deadline").markdown[0].value == \
        "**Reply deadline:** 11 Dec 2026 23:59 Beijing time"
    history = at.get_by_key("request_history").dataframe[0].value
    assert history["detail"][0] == rq.request_history(store, rid)["detail"][0]
    assert list(history["role"]) == ["Manager"]


# -- the service's messages ------------------------------------------------------------------------
def test_validation_messages_follow_the_locale(store):
    bad = {**GOOD, "subject_ref": "", "channel": None}
    with pytest.raises(rq.ValidationError) as err:
        rq.log_request(store, DPO, bad)
    assert err.value.errors["subject_ref"].startswith("Enter the subject: the pseudonymous id")
    assert err.value.errors["channel"] == "Choose the channel."
    with i18n.using("zh_CN"):
        with pytest.raises(rq.ValidationError) as err:
            rq.log_request(store, DPO, bad)
        assert err.value.errors["channel"] == "请选择渠道。"
        assert err.value.errors["subject_ref"].startswith("请填写个人信息主体")
        assert "渠道: 请选择渠道。" in str(err.value)
        rid = rq.log_request(store, DPO, GOOD).request_id
        with pytest.raises(rq.ValidationError) as err:
            rq.record_step(store, DPO, rid, "refused", {"at": "2026-11-23 16:00"})
        assert err.value.errors["refusal_reason"] == (
            "请说明拒绝理由：《中华人民共和国个人信息保护法》第五十条要求在答复中说明理由。")
        with pytest.raises(rq.ValidationError) as err:
            rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-19 16:00"})
        assert err.value.errors["at"] == "不得早于请求接收时间（2026年11月20日 09:30 北京时间）。"
        rq.record_step(store, DPO, rid, "completed", {"at": "2026-11-23 16:00"})
        with pytest.raises(rq.ValidationError) as err:
            rq.record_step(store, DPO, rid, "in_progress", {})
        assert err.value.errors["step"] == "该请求已完成：此为最终状态，只能添加备注。"
    # the stored record stays English whatever the writer's language
    detail = rq.request_history(store, rid)["detail"]
    assert detail.iloc[-1] == "Completed (2026-11-23 16:00 +08:00)."
    with pytest.raises(rq.ValidationError) as err:
        rq.record_step(store, DPO, rid, "in_progress", {})
    assert err.value.errors["step"] == "The request is completed: that is final, only notes " \
                                       "can be added."


def test_queue_words_follow_the_locale(db):
    _path, store = db
    rq.log_request(store, DPO, GOOD)
    now = store.now()
    rows = rq.list_requests(store, now=now)
    english = rq.queue_display(rows, now)
    assert english["left"][0] == "13 working days left"
    assert english["kind_label"][0] == "Deletion (8.2)"
    with i18n.using("zh_CN"):
        chinese = rq.queue_display(rows, now)
    assert chinese["left"][0] == "剩余 13 个工作日"
    assert (chinese["kind_label"][0], chinese["status_label"][0],
            chinese["channel_label"][0]) == ("删除（8.2）", "已接收", "电子邮件")
    assert chinese["deadline"][0] == "2026年12月11日 23:59 北京时间"


def test_every_message_of_the_area_has_a_translation():
    mine = ("pages/requests.py", "pages/request.py", "dashboard/requests.py",
            "dashboard/workdays.py")
    have = i18n.merged_catalog()
    missing = []
    for msg in i18n.extract():
        if not msg.id or not any(f in mine for f, _line in msg.locations):
            continue
        text = have.get(msg.id)
        ok = all(text) if isinstance(text, tuple) else bool(text)
        if not ok:
            missing.append(msg.id)
    assert not missing, missing

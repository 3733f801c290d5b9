"""The Exports, Audit log and Import pages, driven through AppTest."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from dashboard import exports
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import ADMIN, AUDITOR, DPO, FROZEN_NOW, app_test, make_store
from test_exports import csv_bytes, parse, populate


@pytest.fixture
def db(tmp_path):
    """A small filled store, closed so that the app can open it."""
    s = make_store(tmp_path / "pages.duckdb")
    populate(s)
    s.close()
    return tmp_path / "pages.duckdb"


def reopen(path) -> Store:
    return Store(path, settings=Settings(), clock=lambda: FROZEN_NOW)


def app_store():
    """Another handle on the app's store file (the same DuckDB instance in this process)."""
    import os
    return reopen(os.environ["COMPLIANCE_DB"])


def table_with(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


@pytest.fixture
def downloads(monkeypatch):
    """Each deferred download the page registers: file name -> its data callable.

    A browser click makes Streamlit call the callable on another thread
    (``MediaFileManager.execute_deferred``); the tests call it the same way."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    seen: dict[str, tuple] = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = (data_callable, mimetype)
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return seen


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + \
        [e.value for e in at.error] + [s.value for s in at.success] + \
        [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def metric(at, label) -> str:
    return next(m.value for m in at.metric if m.label == label)


def click_download(downloads, prefix: str) -> tuple[bytes, str]:
    (name,) = [n for n in downloads if n.startswith(prefix)]
    data_callable, mime = downloads[name]
    data = data_callable()
    assert isinstance(data, bytes)
    return data, mime


# -- Exports ---------------------------------------------------------------------------------

@pytest.mark.parametrize("actor", [AUDITOR, DPO])
def test_exports_page_renders_and_downloads_the_csv(db, monkeypatch, downloads, actor):
    at = app_test(db, actor, monkeypatch, page="exports")
    assert not at.exception
    assert at.title[0].value == "Exports"
    assert metric(at, "Rows in the file") == "3"                      # processors
    buttons = at.get("download_button")
    assert any(b.proto.label.startswith("Download processors_") for b in buttons)
    store = app_store()
    before = store.scalar("SELECT count(*) FROM audit_log")
    data, mime = click_download(downloads, "processors_")
    assert mime == "text/csv"
    assert data == csv_bytes(store, "processors")
    assert store.scalar("SELECT count(*) FROM audit_log") == before + 1
    after = json.loads(store.scalar(
        "SELECT values_after FROM audit_log ORDER BY seq DESC LIMIT 1"))
    assert after["sha256"] == hashlib.sha256(data).hexdigest()
    assert store.scalar("SELECT actor FROM audit_log ORDER BY seq DESC LIMIT 1") == actor.name


def test_exports_page_filters_restrict_the_file(db, monkeypatch, downloads):
    at = app_test(db, AUDITOR, monkeypatch, page="exports")
    at.selectbox(key="exp_dataset").set_value("incidents").run()
    assert metric(at, "Rows in the file") == "3"
    at.multiselect(key="exp_incidents_grade").set_value(["general"]).run()
    assert not at.exception
    assert metric(at, "Rows in the file") == "2"
    assert any("--grade general" in c.value for c in at.code)
    downloads.clear()
    at.run()
    data, _ = click_download(downloads, "incidents_")
    assert sorted(r["incident_id"] for r in parse(data)) == ["INC-2025-0009", "INC-2026-0002"]


def test_exports_page_shows_a_bad_date_range(db, monkeypatch):
    import datetime as dt
    at = app_test(db, AUDITOR, monkeypatch, page="exports")
    at.selectbox(key="exp_dataset").set_value("incidents").run()
    at.date_input(key="exp_incidents_from").set_value(dt.date(2026, 3, 2))
    at.date_input(key="exp_incidents_to").set_value(dt.date(2026, 3, 1)).run()
    assert "the date range is empty" in texts(at)
    assert not any(b.proto.label.startswith("Download incidents_")
                   for b in at.get("download_button"))


def test_audit_pack_button_builds_a_verifiable_pack(db, monkeypatch, downloads, tmp_path):
    at = app_test(db, AUDITOR, monkeypatch, page="exports")
    at.multiselect(key="pack_sets").set_value(["processors", "incidents", "audit_log"]).run()
    assert not at.exception
    store = app_store()
    before = store.scalar("SELECT count(*) FROM audit_log")
    data, mime = click_download(downloads, "audit-pack_")
    assert mime == "application/zip"
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    check = exports.check_pack(path)
    assert check.ok, check.lines
    assert [f["dataset"] for f in check.manifest["files"]] == \
        ["processors", "incidents", "audit_log"]
    assert check.manifest["generated_by"] == {"name": AUDITOR.name, "role": "auditor"}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("processors.csv") == csv_bytes(store, "processors")
    assert store.scalar("SELECT count(*) FROM audit_log") == before + 1
    assert store.scalar("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1") == \
        "export.pack"


# -- Audit log -----------------------------------------------------------------------------

@pytest.mark.parametrize("actor", [AUDITOR, ADMIN])
def test_audit_log_page_shows_the_chain_and_filters(db, monkeypatch, actor):
    at = app_test(db, actor, monkeypatch, page="audit_log")
    assert not at.exception
    assert "Chain intact" in at.success[0].value
    store = app_store()
    total = store.scalar("SELECT count(*) FROM audit_log")
    assert f"**{total:,}** entries match" in texts(at)
    at.multiselect(key="log_action").set_value(["test.populate"]).run()
    assert "**1** entries match the filters." in texts(at)
    assert list(table_with(at, "hash")["action"]) == ["test.populate"]
    can_download = any(b.proto.label.startswith("Download these")
                       for b in at.get("download_button"))
    assert can_download == (actor.role == "auditor")


def test_audit_log_page_paginates_in_sql(db, monkeypatch):
    s = reopen(db)
    from conftest import SYSTEM
    for i in range(60):
        with s.write(SYSTEM, "register.edit") as w:
            w.audit("test.bulk", "test", i)
    s.close()
    at = app_test(db, AUDITOR, monkeypatch, page="audit_log")
    at.multiselect(key="log_action").set_value(["test.bulk"]).run()
    assert len(table_with(at, "hash")) == 50
    assert list(table_with(at, "hash")["entity_id"])[:2] == ["59", "58"]     # newest first
    at.number_input(key="log_page").set_value(2).run()
    assert list(table_with(at, "hash")["entity_id"]) == [str(i) for i in range(9, -1, -1)]


def test_audit_log_page_reports_a_broken_chain(db, monkeypatch):
    s = reopen(db)
    s.rows("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    s.close()
    at = app_test(db, AUDITOR, monkeypatch, page="audit_log")
    assert "Chain broken at entry 3" in at.error[0].value


# -- Import --------------------------------------------------------------------------------

def upload(at, name: str, data: bytes, mime: str = "text/csv"):
    at.file_uploader(key="imp_file").set_value((name, data, mime))
    return at.run()


def test_import_page_shows_every_error_and_writes_nothing(db, monkeypatch):
    at = app_test(db, DPO, monkeypatch, page="import")
    assert not at.exception
    store = app_store()
    rows_before = store.scalar("SELECT count(*) FROM processors")
    log_before = store.scalar("SELECT count(*) FROM audit_log")
    bad = ("processor_id,name,kind,status,engaged_on\r\n"
           "PRC-0100,Good Co,supplier,active,2026-01-01\r\n"
           "PRC-0101,Bad Co,wholesaler,active,2026-01-01\r\n"
           "PRC-0102,,supplier,active,01/02/2026\r\n").encode()
    upload(at, "bad.csv", bad)
    assert not at.exception
    assert "Nothing was written" in at.error[0].value
    errors = table_with(at, "problem")
    found = {(int(r.line), r.column) for r in errors.itertuples()}
    assert {(3, "kind"), (4, "name"), (4, "engaged_on")} <= found
    assert not any(b.label.startswith("Import ") for b in at.button)
    assert store.scalar("SELECT count(*) FROM processors") == rows_before
    assert store.scalar("SELECT count(*) FROM audit_log") == log_before


def test_import_page_commits_a_good_file(db, monkeypatch):
    at = app_test(db, DPO, monkeypatch, page="import")
    store = app_store()
    log_before = store.scalar("SELECT count(*) FROM audit_log")
    good = ("processor_id,name,kind,status,data_categories\r\n"
            "PRC-0100,Good Co,supplier,active,name;phone\r\n"
            "PRC-0101,\"'=Formula Co\",agent,suspended,\r\n").encode("utf-8")
    upload(at, "good.csv", b"\xef\xbb\xbf" + good)
    assert not at.exception and not at.error
    assert metric(at, "Rows in the file") == "2"
    assert store.scalar("SELECT count(*) FROM processors") == 3     # nothing yet
    at.button(key="imp_commit").click().run()
    assert not at.exception
    assert "Imported 2 rows into Processors" in at.success[0].value
    assert store.scalar("SELECT count(*) FROM processors") == 5
    assert store.rows("SELECT name, data_categories FROM processors WHERE processor_id IN "
                      "('PRC-0100', 'PRC-0101') ORDER BY processor_id") == \
        [("Good Co", ["name", "phone"]), ("=Formula Co", None)]
    assert store.scalar("SELECT count(*) FROM audit_log") == log_before + 1
    assert store.scalar("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1") == \
        "register.import"


NEW_RETENTION = ("record_id,subject_ref,category,system,storage_region,collected_on\r\n"
                 "101,SUB-0101,name,crm,CN,2026-01-01\r\n"
                 "102,SUB-0102,phone,app,CN,2026-02-01\r\n").encode()


def test_import_page_replace_needs_confirmation(db, monkeypatch):
    at = app_test(db, DPO, monkeypatch, page="import")
    at.selectbox(key="imp_table").set_value("retention_records").run()
    at.radio(key="imp_mode").set_value("replace").run()
    upload(at, "new.csv", NEW_RETENTION)
    assert not at.error
    assert at.button(key="imp_commit").disabled
    at.checkbox(key="imp_confirm").check().run()
    at.button(key="imp_commit").click().run()
    assert not at.exception
    assert "Imported 2 rows into Retention, replacing 5 rows" in at.success[0].value
    store = app_store()
    assert [r[0] for r in store.rows("SELECT record_id FROM retention_records ORDER BY 1")] == \
        [101, 102]


def test_import_page_replaces_a_register_with_its_corrected_export(db, monkeypatch):
    at = app_test(db, DPO, monkeypatch, page="import")
    at.selectbox(key="imp_table").set_value("retention_records").run()
    at.radio(key="imp_mode").set_value("replace").run()
    data = csv_bytes(app_store(), "retention_records", {"state": "kept"})
    upload(at, "kept.csv", data)
    assert not at.error
    at.checkbox(key="imp_confirm").check().run()
    at.button(key="imp_commit").click().run()
    assert "replacing 5 rows" in at.success[0].value
    assert [r[0] for r in app_store().rows(
        "SELECT record_id FROM retention_records ORDER BY 1")] == [1, 2, 3]


def test_import_page_names_a_gbk_file_and_imports_it_as_gb18030(db, monkeypatch):
    at = app_test(db, DPO, monkeypatch, page="import")
    at.selectbox(key="imp_table").set_value("retention_records").run()
    gbk = ("record_id,subject_ref,category,system,storage_region,collected_on\r\n"
           "201,张伟,name,招聘平台,CN,2026-01-01\r\n"
           "202,欧阳娜娜,phone,客服工单,CN,2026-02-01\r\n").encode("gbk")
    upload(at, "gbk.csv", gbk)
    assert not at.exception
    problem = table_with(at, "problem")["problem"][0]
    assert "GB18030" in problem and "Encoding GB18030" in problem
    assert [t.value for t in at.text] == ["line 2: " + problem]      # in full, plain text
    store = app_store()
    before = store.scalar("SELECT count(*) FROM retention_records")
    at.selectbox(key="imp_encoding").set_value("gb18030").run()
    assert not at.exception and not at.error
    assert metric(at, "Rows in the file") == "2"
    at.button(key="imp_commit").click().run()
    assert not at.exception
    assert "Imported 2 rows into Retention" in at.success[0].value
    assert store.rows("SELECT subject_ref, system FROM retention_records "
                      "WHERE record_id >= 201 ORDER BY record_id") == [
        ("张伟", "招聘平台"), ("欧阳娜娜", "客服工单")]
    assert store.scalar("SELECT count(*) FROM retention_records") == before + 2


def test_import_page_takes_an_excel_workbook(db, monkeypatch):
    import datetime as dt

    import openpyxl
    wb = openpyxl.Workbook()
    wb.active.append(["processor_id", "name", "kind", "status", "engaged_on"])
    wb.active.append(["PRC-0200", "北京旷视科技有限公司", "supplier", "active",
                      dt.datetime(2026, 1, 2)])
    wb.active.append(["PRC-0201", "Bad Co", "wholesaler", "active", None])
    buf = io.BytesIO()
    wb.save(buf)
    at = app_test(db, DPO, monkeypatch, page="import")
    upload(at, "processors.xlsx", buf.getvalue(),
           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert not at.exception
    assert metric(at, "Format") == "XLSX"
    errors = table_with(at, "problem")
    assert [(int(r.line), r.column) for r in errors.itertuples()] == [(3, "kind")]
    assert not any(b.label.startswith("Import ") for b in at.button)

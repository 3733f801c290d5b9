"""The Import page in Chromium with a file Excel in China writes (issue 12): a GBK CSV is
refused naming its encoding; chosen as GB18030 it checks clean and its Chinese text is
previewed. Nothing is imported, so the other journeys' data stays as it was."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import ARTIFACTS, wait_for_app
from .test_journeys import metric, open_page, sign_in

pytestmark = pytest.mark.browser

GBK_CSV = ("record_id,subject_ref,category,system,storage_region,collected_on\r\n"
           "90001,张伟,name,招聘平台,CN,2026-01-01\r\n"
           "90002,欧阳娜娜,phone,客服工单,CN,2026-02-01\r\n").encode("gbk")


def test_a_gbk_csv_is_named_then_read_as_gb18030(page: Page, tmp_path):
    pg = page
    pg.goto(pg.base_url)
    sign_in(pg, "dpo")
    open_page(pg, "Import")
    expect(pg.get_by_role("heading", name="Import", exact=True)).to_be_visible()
    wait_for_app(pg)
    pg.get_by_role("combobox", name="Register").click()
    pg.get_by_role("option", name="Retention", exact=True).click()
    wait_for_app(pg)

    upload = tmp_path / "保留记录.csv"
    upload.write_bytes(GBK_CSV)
    pg.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
    expect(pg.get_by_text("Nothing was written.")).to_be_visible()
    expect(metric(pg, "Problems")).to_have_text("1")
    wait_for_app(pg)
    pg.screenshot(path=str(ARTIFACTS / "import-gbk-refused.png"), full_page=True)

    pg.get_by_role("combobox", name="Encoding of a CSV file").click()
    pg.get_by_role("option", name="GB18030 / GBK", exact=False).click()
    expect(metric(pg, "Problems")).to_have_text("0")
    expect(metric(pg, "Rows in the file")).to_have_text("2")
    expect(pg.get_by_text("保留记录.csv · GB18030", exact=False)).to_be_visible()
    expect(pg.get_by_role("heading", name="Preview")).to_be_visible()
    expect(pg.get_by_role("button", name="Import 2 rows into Retention")).to_be_enabled()
    wait_for_app(pg)
    pg.screenshot(path=str(ARTIFACTS / "import-gb18030-preview.png"), full_page=True)

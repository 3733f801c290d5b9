"""Issue 18's journey, in Debian's Chromium: a DPO learns that processor PRC-0027's NDA was
signed, records the date on the processor's page and attaches the signed PDF (after the
page refused a program renamed .pdf); the PROC-CONFIDENTIALITY finding about the missing
NDA disappears; an auditor, in another browser, downloads the audit pack and finds the
file in it, its SHA-256 the one the page showed, and the pack verifies with
``sha256sum -c``.

It runs on a server of its own, on a copy of the demo store as built: the other journeys
compare the shared server's processors register and findings with the demo store. It
writes the README's screenshot docs/screenshots/processor.png.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import zipfile

import pytest
from playwright.sync_api import Page, expect

from dashboard import demo, engine

from .conftest import FROZEN_NOW, own_server, save_screenshot, wait_for_app
from .test_journeys import metric, new_browser_page, open_page, sign_in

pytestmark = pytest.mark.browser

NOW = dt.datetime.fromisoformat(FROZEN_NOW)
PROCESSOR = "PRC-0027"          # a confidentiality agreement on record, no NDA (demo data)
RULE = "PROC-CONFIDENTIALITY"
NDA_DATE = "2026-11-20"


def signed_pdf() -> bytes:
    """The "signed NDA": a well-formed one-page PDF."""
    return demo.pdf_document([f"Non-disclosure agreement - {PROCESSOR}", "Signed 2026-11-20."])


@pytest.fixture(scope="module")
def registers_app(demo_store_path, tmp_path_factory):
    with own_server(demo_store_path, tmp_path_factory.mktemp("registers"),
                    "streamlit-registers.log") as base:
        yield base


def test_dpo_records_the_nda_and_its_pdf_auditor_finds_it_in_the_pack(
        page: Page, registers_app, reference_store, tmp_path):
    pg = page
    pg.base_url = registers_app  # type: ignore[attr-defined]
    check = engine.run_check(reference_store, NOW)
    open_before = check.findings[check.findings["rule_id"] == RULE]
    assert PROCESSOR in set(open_before["entity_id"])
    finding_url = f"{registers_app}/findings?rule={RULE}&finding={RULE}%3A{PROCESSOR}"

    # The finding, as the DPO sees it before: no NDA on record.
    pg.goto(finding_url)
    sign_in(pg, "dpo")
    expect(pg.get_by_role("heading", name=f"{RULE} · {PROCESSOR}", exact=True)).to_be_visible()
    main = pg.get_by_test_id("stMain")
    expect(main).to_contain_text("no NDA on record")
    expect(metric(pg, "Findings")).to_have_text(str(len(open_before)))

    # From the finding's record to the processor's own page.
    pg.get_by_role("tab", name="Record").click()
    pg.get_by_role("link", name="Open in Processor").click()
    pg.wait_for_url(re.compile(rf"/processor\?id={PROCESSOR}$"))
    expect(pg.get_by_role("heading", name=re.compile(rf"^{PROCESSOR} · "))).to_be_visible()
    wait_for_app(pg)

    # Edit: the NDA's date.
    pg.get_by_text("Edit", exact=True).click()
    nda = pg.get_by_test_id("stDateInput").filter(has_text="NDA signed").locator("input")
    nda.fill(NDA_DATE)
    nda.press("Enter")
    nda.press("Escape")                 # the calendar closed: the next click reaches the button
    expect(pg.locator('[data-baseweb="calendar"]')).to_have_count(0)
    pg.get_by_role("button", name="Save changes").click()
    expect(pg.get_by_test_id("stAlert").filter(has_text="Saved")).to_contain_text("NDA signed")
    wait_for_app(pg)

    # Attach: a program renamed .pdf is refused, nothing attached; then the signed PDF.
    uploader = pg.get_by_test_id("stFileUploaderDropzoneInput")
    uploader.set_input_files(files=[{"name": "nda-signed.pdf", "mimeType": "application/pdf",
                                     "buffer": b"MZ\x90\x00" + b"\x00" * 200}])
    pg.get_by_role("button", name="Attach").click()
    expect(main).to_contain_text("a Windows program")
    expect(main).to_contain_text("No evidence file is attached to this record.")
    wait_for_app(pg)
    pdf = signed_pdf()
    sha = hashlib.sha256(pdf).hexdigest()
    pg.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "PRC-0027 NDA signed.pdf", "mimeType": "application/pdf",
                "buffer": pdf}])
    pg.get_by_role("button", name="Attach").click()
    expect(pg.get_by_test_id("stAlert").filter(has_text="Attached")).to_contain_text(sha)
    expect(main).to_contain_text(f"SHA-256: {sha}")
    expect(main).to_contain_text("attached by")
    wait_for_app(pg)
    # The history names the edit, with the date before and after.
    expect(main).to_contain_text(NDA_DATE)
    pg.get_by_role("heading", name="Evidence files", exact=True).scroll_into_view_if_needed()
    pg.mouse.move(700, 10)                       # no hover effect in the picture
    save_screenshot(pg, "processor")

    # The finding is gone: the same address now says the rule finds nothing.
    pg.goto(finding_url)
    expect(main).to_contain_text(f"{RULE} finds nothing on {PROCESSOR}")
    expect(metric(pg, "Findings")).to_have_text(str(len(open_before) - 1))

    # The auditor, in another browser: the audit pack holds the file, with its hash.
    other = new_browser_page(pg)
    other.goto(registers_app)
    sign_in(other, "auditor")
    open_page(other, "Exports")
    other.get_by_role("tab", name="Audit pack").click()
    button = other.get_by_role("button", name=re.compile(r"Download audit-pack_.*\.zip"))
    expect(button).to_be_visible()
    wait_for_app(other)
    with other.expect_download() as info:
        button.click()
    pack = tmp_path / info.value.suggested_filename
    info.value.save_as(pack)
    unpacked = tmp_path / "pack"
    with zipfile.ZipFile(pack) as zf:
        zf.extractall(unpacked)
        names = zf.namelist()
    ours = [n for n in names if n.startswith(f"evidence/processor/{PROCESSOR}/")]
    assert len(ours) == 1 and ours[0].startswith(f"evidence/processor/{PROCESSOR}/{sha}-")
    assert hashlib.sha256((unpacked / ours[0]).read_bytes()).hexdigest() == sha
    assert (unpacked / ours[0]).read_bytes() == pdf
    assert f"{sha}  {ours[0]}" in (unpacked / "SHA256SUMS").read_text().splitlines()
    manifest = json.loads((unpacked / "manifest.json").read_text())
    assert [(e["entity_type"], e["entity_id"], e["sha256"], e["withdrawn"])
            for e in manifest["evidence"] if e["name"] == ours[0]] == [
        ("processor", PROCESSOR, sha, False)]
    listing = (unpacked / "evidence" / "manifest.csv").read_text(encoding="utf-8-sig")
    assert sha in listing and "PRC-0027 NDA signed.pdf" in listing
    if shutil.which("sha256sum"):
        run = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=unpacked,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"{ours[0]}: OK" in run.stdout

    # The auditor reads the processor's page and its file, and has no form to change either.
    other.goto(f"{registers_app}/processor?id={PROCESSOR}")
    wait_for_app(other)
    expect(other.get_by_test_id("stMain")).to_contain_text(f"SHA-256: {sha}")
    expect(other.get_by_role("button", name="Save changes")).to_have_count(0)
    expect(other.get_by_role("button", name="Attach")).to_have_count(0)
    with other.expect_download() as info:
        other.get_by_test_id("stDownloadButton").get_by_role(
            "button", name="Download", exact=True).click()
    got = tmp_path / "download.pdf"
    info.value.save_as(got)
    assert hashlib.sha256(got.read_bytes()).hexdigest() == sha
    other.context.close()

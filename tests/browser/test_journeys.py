"""The three users' journeys (issue 8), in Debian's Chromium driven by Playwright, against
the app served by `streamlit run server.py` on a fresh demo store (`conftest.py`).

Each journey starts on the sign-in page and moves through the app as a person does: the
sidebar and the app's own links, charts and tables. A sign-in is kept in the session
cookie, so a reload or a new tab of the same browser stays signed in; a link shared with
a colleague is opened in another browser (a new context, without the cookie), which
signs in first.

What the app shows and hands out is compared with `reference_store`, a copy of the demo
store taken before the server opened it (the demo data is deterministic). The journeys
are independent of their order: each compares only data the others do not change (the
manager logs an incident; the overview and the exports write snapshots and audit
entries).

The tests wait on the page's state (locators, `expect`, `wait_for_app`), never on sleeps.
They write the README's screenshots: docs/screenshots/overview.png, incident.png and
exports.png.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboard import dashboards as D
from dashboard import engine, exports

from .conftest import FROZEN_NOW, save_screenshot, wait_for_app

pytestmark = pytest.mark.browser

NOW = dt.datetime.fromisoformat(FROZEN_NOW)
# Plotly's drawn marks: bars, scatter points and lines.
MARKS = ".bars .point path, .scatterlayer .points path, .scatterlayer .js-line"


# -- helpers ------------------------------------------------------------------------------
def sign_in(pg: Page, role: str) -> None:
    """Sign in on the sign-in page shown in this tab, with the role's demo account."""
    pg.get_by_role("textbox", name="Username").fill(role)
    pg.get_by_label("Password", exact=True).fill(f"{role}-demo-password")
    pg.get_by_role("button", name="Sign in").click()
    expect(pg.get_by_test_id("stSidebar")).to_contain_text("Signed in as")
    wait_for_app(pg)


def new_browser_page(pg: Page) -> Page:
    """A tab of another browser (a new context: no session cookie) at the same app."""
    context = pg.context.browser.new_context(viewport={"width": 1400, "height": 1000},
                                             accept_downloads=True,
                                             timezone_id="Asia/Shanghai")
    context.set_default_timeout(30_000)
    return context.new_page()


def open_page(pg: Page, title: str) -> None:
    """Click a page in the sidebar navigation."""
    pg.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()


def choose(pg: Page, box: Locator, option: str) -> None:
    """Pick ``option`` in the select box ``box``. Opening it again when its list did not
    show: under load a rerun (a clock's fragment, every 30 s) may redraw the box just as it
    opens, and the list closes with it."""
    for _ in range(3):
        box.click()
        try:
            pg.get_by_role("option", name=option).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            pg.keyboard.press("Escape")
            wait_for_app(pg)
    raise AssertionError(f"the option {option!r} never showed in its list")


def metric(pg: Page, label: str) -> Locator:
    """The value of the KPI card labelled ``label``."""
    return (pg.get_by_test_id("stMetric").filter(has=pg.get_by_text(label, exact=True))
            .get_by_test_id("stMetricValue"))


def click_table_row(pg: Page, table: Locator, row: int) -> None:
    """Tick row ``row`` (0 = first) of an ``st.dataframe``: its cells are drawn on a
    canvas, so click the row's selection box at its place (header 36 px, rows 35 px)."""
    canvas = table.locator('canvas[data-testid="data-grid-canvas"]')
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    pg.mouse.click(box["x"] + 15, box["y"] + 36 + 35 * row + 17)


def tick_codes(plot: Locator) -> dict[float, str]:
    """A horizontal bar chart's y ticks: {middle height: the code that starts the label}
    ("5.1.4 · We may entrust…" → "5.1.4")."""
    ticks = plot.locator(".ytick text")
    labels = {}
    for i in range(ticks.count()):
        box = ticks.nth(i).bounding_box()
        labels[box["y"] + box["height"] / 2] = ticks.nth(i).text_content().split(" · ")[0]
    return labels


def bars_by_tick(plot: Locator) -> dict[str, Locator]:
    """The chart's bars by the code of the tick level with each."""
    labels = tick_codes(plot)
    bars = plot.locator(".bars .point")
    out = {}
    for i in range(bars.count()):
        box = bars.nth(i).bounding_box()
        code = min(labels.items(), key=lambda kv: abs(kv[0] - box["y"] - box["height"] / 2))[1]
        out[code] = bars.nth(i)
    return out


def click_bar(pg: Page, bar: Locator) -> None:
    """Click a Plotly bar in its middle (once the app is idle)."""
    bar.scroll_into_view_if_needed()
    wait_for_app(pg)
    box = bar.bounding_box()
    pg.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def url_view(url: str) -> tuple[str, dict[str, list[str]]]:
    """A URL's path and query parameters, to compare views."""
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)


def csv_records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def reference_csv(store, dataset: str, filters: dict | None = None) -> bytes:
    """The file the exporter writes from the reference store (no audit entry)."""
    out = io.BytesIO()
    exports.write_csv(store, dataset, filters or {}, out)
    return out.getvalue()


# -- the data protection officer ----------------------------------------------------------
def test_dpo_overview_failing_clause_findings_record_and_shared_link(page: Page,
                                                                      reference_store):
    pg = page
    check = engine.run_check(reference_store, NOW)
    clauses = check.clause_scores.set_index("clause")["score"]
    worst = clauses.idxmin()
    expected = check.findings[check.findings["clause"] == worst]
    assert clauses[worst] < 1 and len(expected) > 0          # the demo has a failing clause

    pg.goto(pg.base_url)
    sign_in(pg, "dpo")
    expect(pg.get_by_role("heading", name="Compliance overview", exact=True)).to_be_visible()

    # Under the cards, the first tab ("Scores") and its charts only, drawn with marks, not
    # an empty frame; each other tab draws its own charts when clicked, and is in the
    # address: a reload (a bookmark) opens it again.
    plots = pg.get_by_test_id("stMain").locator(".js-plotly-plot")

    def charts_drawn(keys: tuple[str, ...]) -> None:
        wait_for_app(pg)
        for key in keys:
            pg.locator(f".st-key-{key} .js-plotly-plot").locator(MARKS).first.wait_for(
                state="attached")
        expect(plots).to_have_count(len(keys))

    charts_drawn(D.OVERVIEW_TABS["Scores"])
    for label, keys in list(D.OVERVIEW_TABS.items())[1:]:
        pg.get_by_role("tab", name=label, exact=True).click()
        pg.wait_for_url(lambda url: url_view(url) == ("/", {"tab": [label]}))
        expect(pg.get_by_role("tab", name=label, exact=True)).to_have_attribute(
            "aria-selected", "true")
        charts_drawn(keys)
        if label == "What falls due":
            pg.reload()
            expect(pg.get_by_role("tab", name=label, exact=True)).to_have_attribute(
                "aria-selected", "true")
            charts_drawn(keys)
    expect(pg.get_by_test_id("stMain").get_by_test_id("stDataFrame")).to_be_visible()
    pg.get_by_role("tab", name="Scores", exact=True).click()
    pg.wait_for_url(lambda url: url_view(url) == ("/", {}))
    charts_drawn(D.OVERVIEW_TABS["Scores"])
    # The clause chart: one bar per clause that a rule tests, as the store says.
    clause_plot = plots.filter(has=pg.locator(".gtitle", has_text="per policy clause"))
    bars = clause_plot.locator(".bars .point")
    expect(bars).to_have_count(len(clauses))
    assert sorted(tick_codes(clause_plot).values()) == sorted(clauses.index)
    scores = bars_by_tick(clause_plot)
    save_screenshot(pg, "overview")

    # From the worst clause's bar to its findings.
    bar = scores[worst]
    assert float(bar.text_content().split()[0]) == pytest.approx(clauses[worst] * 100, abs=0.06)
    click_bar(pg, bar)
    pg.wait_for_url(re.compile(r"/findings\?"))
    assert url_view(pg.url) == ("/findings", {"clause": [worst]})
    matching = pg.get_by_text("findings match 1 filter.")
    expect(matching).to_have_text(f"{len(expected)} findings match 1 filter.")
    expect(pg.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect")
           .filter(has_text="Policy clause")).to_contain_text(worst)
    wait_for_app(pg)

    # One finding: its rule, its detail and its record.
    click_table_row(pg, pg.get_by_test_id("stDataFrame").first, 0)
    pg.wait_for_url(re.compile(r"finding="))
    rule_id, entity_id = parse_qs(urlsplit(pg.url).query)["finding"][0].split(":")
    finding = expected[(expected.rule_id == rule_id) & (expected.entity_id == entity_id)]
    assert len(finding) == 1, (rule_id, entity_id)
    expect(pg.get_by_role("heading", name=f"{rule_id} · {entity_id}", exact=True)
           ).to_be_visible()
    expect(pg.get_by_test_id("stAlert").filter(has_text="Finding:")).to_contain_text(
        D.detail_text(finding.iloc[0]["detail"]))
    pg.get_by_role("tab", name="Record").click()
    record = pg.get_by_role("tabpanel", name="Record")
    expect(record.get_by_test_id("stDataFrame")).to_be_visible()
    expect(record.get_by_role("link", name=re.compile(r"^Open in "))).to_have_attribute(
        "href", re.compile(rf"\?(q|id)={re.escape(entity_id)}$"))   # the register or the record
    wait_for_app(pg)

    # Share the view: the address bar holds it (so does "Share this view", tested below).
    link = pg.url
    assert url_view(link) == (
        "/findings", {"clause": [worst], "finding": [f"{rule_id}:{entity_id}"]})

    # The same person opens it in a new tab: still signed in (the session cookie), same view.
    again = pg.context.new_page()
    again.goto(link)
    expect(again.get_by_role("heading", name=f"{rule_id} · {entity_id}", exact=True)
           ).to_be_visible()
    expect(again.get_by_test_id("stSidebar")).to_contain_text("Signed in as")
    assert url_view(again.url) == url_view(link)
    again.reload()
    expect(again.get_by_role("heading", name=f"{rule_id} · {entity_id}", exact=True)
           ).to_be_visible()
    again.close()

    # A colleague opens it in another browser (signs in first) and lands on the same view.
    other = new_browser_page(pg)
    other.goto(link)
    expect(other.get_by_text("Sign in to open Findings.")).to_be_visible()
    assert url_view(other.url) == url_view(link)
    sign_in(other, "dpo")
    expect(other.get_by_role("heading", name=f"{rule_id} · {entity_id}", exact=True)
           ).to_be_visible()
    expect(other.get_by_text("findings match 1 filter.")).to_have_text(
        f"{len(expected)} findings match 1 filter.")
    expect(other.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect")
           .filter(has_text="Policy clause")).to_contain_text(worst)
    assert url_view(other.url) == url_view(link)


# -- the manager --------------------------------------------------------------------------
def test_manager_logs_an_incident_and_meets_the_regulator_clock(page: Page, reference_store):
    """A bad value is refused with nothing saved, then the incident is logged with its
    grading facts (the form suggests the grade and says why), tops the list of open
    incidents with its clocks, the regulator report meets its clock and the PI authority's,
    and the users' notice is exempted with its reason (PIPL Art. 57 para. 2).

    "Nothing saved" is checked through the app, since the server holds the store: after
    the refused submit and the accepted one, the list counts exactly one incident more
    than the store held, and the new incident has the next free number, so the refused
    submit neither stored an incident nor used up a number."""
    pg = page
    total = reference_store.scalar("SELECT count(*) FROM incidents")
    still_open = reference_store.scalar("SELECT count(*) FROM incidents WHERE status = 'open'")
    last = reference_store.scalar(
        "SELECT max(incident_id) FROM incidents WHERE incident_id LIKE 'INC-2026-%'")
    new_id = f"INC-2026-{int(last[-4:]) + 1:04d}"
    title = "Customer database exposed on a test server"

    pg.goto(pg.base_url)
    sign_in(pg, "manager")
    open_page(pg, "Incidents")
    expect(metric(pg, "Shown")).to_have_text(str(total))
    wait_for_app(pg)
    pg.get_by_test_id("stMain").get_by_role("link", name="Log an incident").click()
    expect(pg.get_by_role("heading", name="Log an incident", exact=True)).to_be_visible()
    wait_for_app(pg)

    # The form, with a bad affected count. Each field is committed (Tab) as a person
    # leaves it; detection at 07:30, two and a half hours before now (10:00).
    box = pg.get_by_role("textbox", name="Title", exact=True)
    box.fill(title)
    box.press("Tab")
    pg.get_by_role("combobox", name="Type", exact=True).click()
    pg.get_by_role("option", name="Data leak", exact=True).click()
    pg.get_by_role("spinbutton", name="hour, Detected").click()
    pg.keyboard.type("0730")
    pg.keyboard.press("Tab")
    affected = pg.get_by_role("textbox", name="Affected subjects", exact=True)
    affected.fill("about a million")
    affected.press("Tab")
    sensitive = pg.get_by_role("textbox", name="Of whom with sensitive information")
    sensitive.fill("300,000")
    sensitive.press("Tab")
    box = pg.get_by_role("textbox", name="Systems affected")
    box.fill("CRM, test server ts-03")
    box.press("Tab")
    # The grading facts: a bad loss (three decimals), a suspected crime.
    loss = pg.get_by_role("textbox", name="Direct economic loss (yuan)")
    loss.fill("30000000.125")
    loss.press("Tab")
    pg.get_by_text("A crime is suspected", exact=True).click()
    wait_for_app(pg)
    pg.get_by_role("button", name="Log the incident").click()
    expect(pg.get_by_text("Nothing was saved: correct the fields marked above.")).to_be_visible()
    expect(pg.locator(".st-key-li_field_affected_subjects")).to_contain_text(
        "Not a whole number: 'about a million'. Enter digits, e.g. 1200000.")
    expect(pg.locator(".st-key-li_field_economic_loss_cny")).to_contain_text(
        "At most 2 decimal places (fen)")
    expect(pg.get_by_text("Logged as")).to_have_count(0)
    wait_for_app(pg)

    # Corrected: the preview shows the clocks with their deadlines, then it is logged.
    affected.fill("1,200,000")
    affected.press("Tab")
    loss.fill("30,000,000")
    loss.press("Tab")
    wait_for_app(pg)
    expect(pg.get_by_text("Suggested: Major (II), the highest grade any fact implies:")
           ).to_be_visible()
    reasons = pg.locator(".st-key-li_grade_reasons")
    expect(reasons).to_contain_text("30,000,000 yuan direct loss: at least major (2025 "
                                    "reporting measures, Annex")
    expect(reasons).to_contain_text("1,200,000 people affected: at least relatively major")
    preview = pg.locator(".st-key-li_preview")
    expect(preview).to_contain_text("Report to the regulator by 24 Nov 2026 11:30 Beijing time "
                                    "(1 h 30 min left)")
    expect(preview).to_contain_text("Notify the PI authority by 25 Nov 2026 07:30 Beijing time")
    expect(preview).to_contain_text("Report to the police by 24 Nov 2026 11:30 Beijing time")
    expect(preview).to_contain_text("Notify affected users by 25 Nov 2026 07:30 Beijing time")
    wait_for_app(pg)
    pg.get_by_role("button", name="Log the incident").click()
    expect(pg.get_by_text("Logged as")).to_contain_text(f"Logged as {new_id}.")
    main = pg.get_by_test_id("stMain")
    expect(main).to_contain_text("Report to the regulator — Due: by 24 Nov 2026 11:30 Beijing time "
                                 "(1 h 30 min left)")
    expect(main).to_contain_text("Notify affected users — Due: by 25 Nov 2026 07:30 Beijing time")
    wait_for_app(pg)

    # The list: one incident more (so the refused submit stored none); among the open
    # incidents, nearest deadline first, it is on top.
    open_page(pg, "Incidents")
    expect(metric(pg, "Shown")).to_have_text(str(total + 1))
    wait_for_app(pg)
    pg.get_by_role("combobox", name="Status").click()
    pg.get_by_role("option", name="Open", exact=True).click()
    pg.keyboard.press("Escape")
    expect(metric(pg, "Shown")).to_have_text(str(still_open + 1))
    wait_for_app(pg)
    pg.get_by_role("combobox", name="Open an incident").click()   # lists the table's order
    expect(pg.get_by_role("option").first).to_have_text(f"{new_id} — {title}")
    pg.keyboard.press("Escape")
    click_table_row(pg, pg.get_by_test_id("stDataFrame"), 0)
    pg.wait_for_url(f"**/incident?id={new_id}")
    expect(pg.get_by_role("heading", name=f"{new_id} · {title}", exact=True)).to_be_visible()
    expect(pg.locator(".st-key-grading_facts")).to_contain_text(
        "Direct economic loss: 30,000,000 yuan")

    regulator = pg.locator(".st-key-clock_regulator")
    expect(regulator).to_contain_text("Due 1 h 30 min left")
    expect(regulator).to_contain_text("Deadline: 24 Nov 2026 11:30 Beijing time")
    authority = pg.locator(".st-key-clock_pi_authority")
    expect(authority).to_contain_text("Due 21 h 30 min left")
    expect(pg.locator(".st-key-clock_police")).to_contain_text("Due 1 h 30 min left")
    notice = pg.locator(".st-key-clock_user_notice")
    expect(notice).to_contain_text("Due 21 h 30 min left")
    expect(notice).to_contain_text("Deadline: 25 Nov 2026 07:30 Beijing time")
    expect(pg.locator(".st-key-clock_summary")).to_contain_text("Not applicable")
    wait_for_app(pg)

    # Report to the regulator now (10:00): the clock is met.
    step = pg.get_by_role("combobox", name="Step")
    step.scroll_into_view_if_needed()          # the list opens where the box is
    choose(pg, step, "Reported to the regulator")
    box = pg.get_by_role("textbox", name="Authority", exact=True)
    box.fill("Guangdong Provincial CAC")
    box.press("Tab")
    box = pg.get_by_role("textbox", name="Authority's reference (optional)")
    box.fill("GD-CAC-2026-1124-07")
    box.press("Tab")
    wait_for_app(pg)
    pg.get_by_role("button", name="Record: reported to the regulator").click()
    expect(pg.get_by_text("Recorded: reported to the regulator")).to_be_visible()
    expect(regulator).to_contain_text("Met done 1 h 30 min before the deadline")
    expect(regulator).to_contain_text("Done: 24 Nov 2026 10:00 Beijing time")
    expect(authority).to_contain_text("Done: 24 Nov 2026 10:00 Beijing time (the regulator report)")
    expect(authority).to_contain_text("Met")
    expect(notice).to_contain_text("Due")
    expect(step).to_have_value("")                 # the step box is empty again
    wait_for_app(pg)

    # The users' notice is not needed (PIPL Art. 57 para. 2): the reason is required, and
    # shown as typed.
    choose(pg, step, "No notice to individuals needed (Art. 57 ¶2)")
    wait_for_app(pg)
    pg.get_by_role("button", name="Record: no notice to individuals needed").click()
    expect(pg.locator(".st-key-step_field_user_notice_exempted_exemption_reason")
           ).to_contain_text("the exemption needs its reason")
    expect(notice).to_contain_text("Due")
    reason = "The copy was encrypted (AES-256) and its key never left the *vault*."
    box = pg.get_by_role("textbox", name="Why no notice to individuals is needed")
    box.fill(reason)
    box.press("Tab")
    wait_for_app(pg)
    pg.get_by_role("button", name="Record: no notice to individuals needed").click()
    expect(notice).to_contain_text("Exempt (PIPL Art. 57 ¶2)")
    expect(notice).to_contain_text(f"Reason recorded: {reason}")
    expect(authority).to_contain_text("Met")
    wait_for_app(pg)

    pg.get_by_role("heading", name=f"{new_id} · {title}", exact=True).scroll_into_view_if_needed()
    pg.mouse.move(700, 10)                       # no hover effect in the picture
    save_screenshot(pg, "incident")


# -- the auditor --------------------------------------------------------------------------
def test_auditor_downloads_processors_csv_and_audit_pack_and_cannot_log(page: Page,
                                                                        reference_store,
                                                                        tmp_path):
    pg = page
    processors = reference_store.rows(
        "SELECT processor_id, name, status FROM processors ORDER BY processor_id")
    expected_csv = reference_csv(reference_store, "processors")

    pg.goto(pg.base_url)
    sign_in(pg, "auditor")
    open_page(pg, "Exports")
    expect(pg.get_by_role("heading", name="Exports", exact=True)).to_be_visible()
    expect(pg.get_by_role("combobox", name="Dataset")).to_have_value("Processors")
    expect(metric(pg, "Rows in the file")).to_have_text(str(len(processors)))
    wait_for_app(pg)
    pg.mouse.move(700, 10)                       # no hover effect in the picture
    save_screenshot(pg, "exports")

    # The processors CSV, from the download button...
    with pg.expect_download() as info:
        pg.get_by_role("button", name=re.compile(r"Download processors_.*\.csv")).click()
    download = info.value
    assert download.suggested_filename == "processors_20261124T100000.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfprocessor_id,") and data.endswith(b"\r\n")
    records = csv_records(data)
    header, body = records[0], records[1:]
    assert [(r[header.index("processor_id")], r[header.index("name")],
             r[header.index("status")]) for r in body] == processors
    assert data == expected_csv                   # byte for byte, as the exporter writes it

    # ... and the same file from the streamed one-time link (server.py's route).
    pg.get_by_role("button", name="Prepare a streamed download").click()
    with pg.expect_download() as info:
        pg.get_by_role("link", name="Download CSV (streamed)").click()
    streamed = info.value
    assert streamed.suggested_filename == download.suggested_filename
    streamed.save_as(tmp_path / "streamed.csv")
    assert (tmp_path / "streamed.csv").read_bytes() == data
    expect(pg.get_by_role("button", name="Prepare a streamed download")).to_be_visible()
    wait_for_app(pg)

    # The audit pack: every file against the manifest's hashes and row counts.
    pg.get_by_role("tab", name="Audit pack").click()
    button = pg.get_by_role("button", name=re.compile(r"Download audit-pack_.*\.zip"))
    expect(button).to_be_visible()
    wait_for_app(pg)
    with pg.expect_download() as info:
        button.click()
    pack = info.value
    assert re.fullmatch(r"audit-pack_20261124T100000\.zip", pack.suggested_filename)
    pack.save_as(tmp_path / pack.suggested_filename)
    with zipfile.ZipFile(tmp_path / pack.suggested_filename) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    sums = files.pop("SHA256SUMS").decode()
    assert manifest["generated_by"] == {"name": "auditor", "role": "auditor"}
    assert manifest["generated_at"] == FROZEN_NOW
    # The demo's evidence files of the records the pack covers (issue 18), with their hashes.
    attached = {n: files.pop(n) for n in list(files) if n.startswith("evidence/")}
    assert {e["name"] for e in manifest["evidence"]} | {"evidence/manifest.csv"} == set(attached)
    for e in manifest["evidence"]:
        assert hashlib.sha256(attached[e["name"]]).hexdigest() == e["sha256"]
        assert f"{e['sha256']}  {e['name']}" in sums.splitlines()
    assert {e["entity_type"] for e in manifest["evidence"]} >= {"processor", "incident"}
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == set(files) and len(files) >= 9
    for name, body in files.items():
        digest = hashlib.sha256(body).hexdigest()
        assert digest == listed[name]["sha256"], name
        assert f"{digest}  {name}" in sums.splitlines(), name
        assert len(csv_records(body)) - 1 == listed[name]["rows"], name
    # The registers no journey changes are the store's, byte for byte.
    assert files["processors.csv"] == data
    for dataset in ("sharing_agreements", "retention_records"):
        assert files[f"{dataset}.csv"] == reference_csv(reference_store, dataset), dataset
    # The chain's head in the manifest is the last audit entry in the pack, and both
    # downloads of the CSV are in the log with the file's SHA-256.
    audit = csv_records(files["audit_log.csv"])
    cols = audit[0]
    last = dict(zip(cols, audit[-1]))
    assert (int(last["seq"]), last["hash"]) == (manifest["audit_chain"]["head_seq"],
                                                manifest["audit_chain"]["head_hash"])
    sha = hashlib.sha256(data).hexdigest()
    logged = [json.loads(r[cols.index("values_after")]) for r in audit[1:]
              if r[cols.index("action")] == "export.download"
              and r[cols.index("actor")] == "auditor"
              and sha in r[cols.index("values_after")]]
    assert sorted(e["delivery"] for e in logged) == ["download", "stream"]

    # The incident form, by its address in another browser (signs in first): refused.
    other = new_browser_page(pg)
    other.goto(f"{pg.base_url}/log_incident")
    expect(other.get_by_text("Sign in to open Log an incident.")).to_be_visible()
    sign_in(other, "auditor")
    expect(other.get_by_test_id("stAlert").filter(has_text="not available")).to_contain_text(
        "Log an incident is not available. Your role (auditor) may not open it.")
    expect(other.get_by_role("heading", name="Compliance overview", exact=True)).to_be_visible()
    expect(other.get_by_role("heading", name="Log an incident", exact=True)).to_have_count(0)
    expect(other.get_by_role("button", name="Log the incident")).to_have_count(0)
    expect(other.get_by_test_id("stSidebarNav")).not_to_contain_text("Log an incident")


# -- links that must survive navigation (each of these was a bug found by the journeys) ----
def test_a_findings_record_link_opens_the_records_page(page: Page):
    """An agreement's finding opens the agreement's own page (issue 18), with its edit form
    for the DPO and its history."""
    pg = page
    pg.goto(f"{pg.base_url}/findings?rule=SHARE-CONSENT&finding=SHARE-CONSENT%3ASHA-0051")
    sign_in(pg, "dpo")
    expect(pg.get_by_role("heading", name="SHARE-CONSENT · SHA-0051", exact=True)
           ).to_be_visible()
    pg.get_by_role("tab", name="Record").click()
    pg.get_by_role("link", name="Open in Sharing agreement").click()
    pg.wait_for_url(re.compile(r"/agreement\?id=SHA-0051$"))
    expect(pg.get_by_role("heading", name=re.compile(r"^SHA-0051 · "))).to_be_visible()
    expect(pg.get_by_text("Edit", exact=True)).to_be_visible()
    expect(pg.get_by_role("heading", name="History", exact=True)).to_be_visible()
    wait_for_app(pg)


def test_share_this_view_names_the_finding_just_opened(page: Page):
    pg = page
    pg.goto(f"{pg.base_url}/findings?clause=5.1.1")
    sign_in(pg, "dpo")
    expect(pg.get_by_text("findings match 1 filter.")).to_be_visible()
    wait_for_app(pg)
    click_table_row(pg, pg.get_by_test_id("stDataFrame").first, 0)
    pg.wait_for_url(re.compile(r"finding="))
    wait_for_app(pg)
    pg.get_by_text("Share this view").click()
    shared = pg.get_by_test_id("stExpander").filter(has_text="Share this view").locator("code")
    assert url_view(f"{pg.base_url}/{shared.inner_text().strip()}") == url_view(pg.url)


def test_a_past_day_overview_bar_opens_that_days_findings(page: Page):
    pg = page
    pg.goto(f"{pg.base_url}/?day=2026-11-01")
    sign_in(pg, "dpo")
    plot = pg.get_by_test_id("stMain").locator(".js-plotly-plot").filter(
        has=pg.locator(".gtitle", has_text="per policy clause"))
    bar = plot.locator(".bars .point").first
    bar.wait_for()
    bar.scroll_into_view_if_needed()
    wait_for_app(pg)
    box = bar.bounding_box()
    pg.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    landed = pg.get_by_role("heading", name="Findings", exact=True).or_(
        pg.get_by_test_id("stException"))
    landed.first.wait_for()
    assert pg.get_by_test_id("stException").count() == 0
    path, query = url_view(pg.url)
    assert path == "/findings" and query.get("as_of") == ["2026-11-01"]


# -- sessions (issue 12) --------------------------------------------------------------------
def sign_in_as(pg: Page, username: str, password: str) -> None:
    pg.get_by_role("textbox", name="Username").fill(username)
    pg.get_by_label("Password", exact=True).fill(password)
    pg.get_by_role("button", name="Sign in").click()
    expect(pg.get_by_test_id("stSidebar")).to_contain_text("Signed in as")
    wait_for_app(pg)


def test_a_reload_keeps_the_session_and_a_password_reset_ends_it(page: Page):
    """The demo banner is up; an administrator adds a user, who signs in in another browser,
    reloads and opens a new tab still signed in; the administrator resets the user's
    password, and the user's next click lands on the sign-in page, told why."""
    admin = page
    admin.goto(admin.base_url)
    expect(admin.get_by_test_id("stAlert").filter(has_text="Demo accounts are enabled")
           ).to_be_visible()
    sign_in(admin, "admin")
    open_page(admin, "Users")
    expect(admin.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    wait_for_app(admin)
    admin.get_by_role("textbox", name="Username", exact=True).fill("kim.journey")
    admin.get_by_role("textbox", name="Password (at least 12 characters)", exact=True).fill("Jade-Lantern-Orbit-7")
    admin.get_by_role("textbox", name="Repeat the password", exact=True).fill("Jade-Lantern-Orbit-7")
    admin.get_by_role("button", name="Add user").click()
    expect(admin.get_by_text("Added kim.journey as")).to_be_visible()
    wait_for_app(admin)

    user = new_browser_page(admin)
    user.goto(f"{admin.base_url}/policy")
    sign_in_as(user, "kim.journey", "Jade-Lantern-Orbit-7")
    expect(user.get_by_role("heading", name="Privacy policy", exact=True)).to_be_visible()
    user.reload()                                         # today: signed out
    expect(user.get_by_test_id("stSidebar")).to_contain_text("Signed in as")
    expect(user.get_by_role("heading", name="Privacy policy", exact=True)).to_be_visible()
    second = user.context.new_page()
    second.goto(f"{admin.base_url}/settings")
    expect(second.get_by_test_id("stSidebar")).to_contain_text("Signed in as")
    wait_for_app(second)
    second.close()

    admin.reload()                                       # the admin stays signed in too
    expect(admin.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    wait_for_app(admin)
    admin.get_by_role("tab", name="Change a user").click()
    admin.get_by_role("combobox", name="User", exact=True).click()
    admin.get_by_role("option", name=re.compile(r"^kim\.journey")).click()
    wait_for_app(admin)
    admin.get_by_role("textbox", name="New password (at least 12 characters)", exact=True).fill("Copper-Kettle-Rain-9")
    admin.get_by_role("textbox", name="Repeat the new password", exact=True).fill("Copper-Kettle-Rain-9")
    admin.get_by_role("button", name="Reset password").click()
    expect(admin.get_by_text("The password of kim.journey was reset")).to_be_visible()

    wait_for_app(user)
    open_page(user, "Overview")
    expect(user.get_by_text("Your password was changed")).to_be_visible()
    expect(user.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    user.reload()                                         # the cookie signs no one in
    expect(user.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    user.context.close()


# -- rights requests (issue 14) ---------------------------------------------------------------
def test_manager_logs_a_request_dpo_completes_it_auditor_downloads_the_register(
        page: Page, reference_store, tmp_path):
    """A manager logs a deletion request received now (Tuesday 24 November 2026, 10:00):
    its deadline is the end of the 15th working day after that day, Tuesday 15 December,
    15 working days left. A DPO, in another browser, opens the link, completes it; the
    history shows both steps. An auditor downloads the register: the request is in it,
    completed, and the download is logged."""
    from dashboard import workdays
    pg = page
    last = reference_store.scalar(
        "SELECT max(request_id) FROM rights_requests WHERE request_id LIKE 'REQ-2026-%'")
    new_id = f"REQ-2026-{int(last[-4:]) + 1 if last else 1:04d}"
    due = workdays.request_deadline(NOW, reference_store.settings)
    assert due.due_date == dt.date(2026, 12, 15) and not due.provisional

    pg.goto(pg.base_url)
    sign_in(pg, "manager")
    open_page(pg, "Rights requests")
    expect(pg.get_by_role("heading", name="Rights requests", exact=True)).to_be_visible()
    wait_for_app(pg)
    pg.get_by_text("Log a request", exact=True).click()
    wait_for_app(pg)
    pg.locator(".st-key-log_field_channel").get_by_role("combobox", name="Channel").click()
    pg.get_by_role("option", name="E-mail", exact=True).click()
    pg.locator(".st-key-log_field_kind").get_by_role("combobox").click()
    pg.get_by_role("option", name="Deletion (8.2)", exact=True).click()
    box = pg.locator(".st-key-log_field_subject_ref").get_by_role("textbox")
    box.fill("U-JOURNEY-1")
    box.press("Tab")
    wait_for_app(pg)
    pg.get_by_role("button", name="Log the request").click()
    expect(pg.get_by_text(f"Logged {new_id}.")).to_be_visible()
    wait_for_app(pg)
    pg.get_by_test_id("stMain").get_by_role("link", name=f"Open {new_id}").click()
    deadline = pg.locator(".st-key-request_deadline")
    expect(deadline).to_contain_text("Reply deadline: 15 Dec 2026 23:59 Beijing time")
    expect(deadline).to_contain_text("15 working days left")
    wait_for_app(pg)
    url = pg.url

    # The DPO opens the link in another browser, signs in and completes the request.
    dpo = new_browser_page(pg)
    dpo.goto(url)
    sign_in(dpo, "dpo")
    expect(dpo.get_by_role("heading", name=re.compile(new_id))).to_be_visible()
    dpo.get_by_role("combobox", name="Step").click()
    dpo.get_by_role("option", name="Completed", exact=True).click()
    wait_for_app(dpo)
    dpo.get_by_role("button", name="Record: completed").click()
    expect(dpo.get_by_text(re.compile(r"^Recorded: Completed \(history event #\d+\)\.$"))).to_be_visible()
    expect(dpo.locator(".st-key-request_deadline")).to_contain_text(
        "Reply deadline: 15 Dec 2026 23:59 Beijing time")
    expect(dpo.locator(".st-key-request_deadline")).to_contain_text("Answered in time")
    expect(dpo.locator(".st-key-request_history")).to_contain_text(
        "2 events; the latest: Completed by dpo (Data protection officer), "
        "24 Nov 2026 10:00 Beijing time.")
    expect(dpo.locator(".st-key-deletion_proof")).to_contain_text("Carried out")

    # The auditor downloads the register with the completed requests.
    auditor = new_browser_page(pg)
    auditor.goto(auditor_url := f"{pg.base_url}/requests")
    sign_in(auditor, "auditor")
    expect(auditor.get_by_role("heading", name="Rights requests", exact=True)).to_be_visible()
    expect(auditor.get_by_role("button", name="Log the request")).to_have_count(0)
    auditor.locator(".st-key-request_filters").get_by_role("combobox", name="Status").click()
    auditor.get_by_role("option", name="Completed", exact=True).click()
    auditor.keyboard.press("Escape")
    wait_for_app(auditor)
    with auditor.expect_download() as info:
        auditor.get_by_role("button", name=re.compile(r"Download rights_requests_.*\.csv")
                            ).click()
    download = info.value
    assert download.suggested_filename == "rights_requests_20261124T100000.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    records = csv_records(path.read_bytes())
    header, body = records[0], records[1:]
    mine = [dict(zip(header, r)) for r in body if r[header.index("request_id")] == new_id]
    assert len(mine) == 1, auditor_url
    assert (mine[0]["status"], mine[0]["kind"], mine[0]["channel"], mine[0]["subject_ref"]) \
        == ("completed", "delete", "email", "U-JOURNEY-1")
    assert mine[0]["completed_at"].startswith("2026-11-24")
    assert {r[header.index("status")] for r in body} <= {"received", "in_progress",
                                                         "completed"}

"""Text from users, files and URLs is shown as plain text, never rendered as Markdown or
HTML (issue 12). `ui.plain` escapes a value for Streamlit's Markdown; every page is run
(AppTest) with a hostile value in its text fields and query parameters, and no element
that renders Markdown (text, captions, alerts, headings, widget/tab/expander labels)
holds the value unescaped. tests/browser/test_plain_text.py checks in a real browser that
what `ui.plain` gives renders as the very characters of the value."""
from __future__ import annotations

import datetime as dt
import re
import string

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import charts, engine, incidents as inc, remediation as rem
from dashboard.navigation import APP_SCRIPT, PAGE_BY_KEY
from dashboard.store import Store
from dashboard.ui import WORD_JOINER, plain

from conftest import DEMO_AS_OF, DPO, FROZEN_NOW, MANAGER, ADMIN

HOSTILE = "![x](http://127.0.0.1:9/x.png) [click](http://evil.example) <img src=x onerror=alert(1)>"
# What Markdown or HTML would act on, once backslash-escaped characters are set aside:
# none may reach an element that renders Markdown.
# (The app's own links to anchors on the page, "](#clause-5)", are not the values'.)
LIVE = re.compile(r"!\[|\]\((?!#)|<img|<a |http://|www\.|@evil")


# -- the helper ---------------------------------------------------------------------------
def unescape(text: str) -> str:
    """What the reader sees of ``plain``'s output: escapes and word joiners gone."""
    out, i = [], 0
    text = text.replace(WORD_JOINER, "").replace("  \n", "\n")
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in string.punctuation:
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


@pytest.mark.parametrize("value", [
    HOSTILE, "[click](http://evil.example)", "<a href='x'>y</a> &amp; &lt;",
    ":red[alarm] :material/warning: :smile: $x^2$", "www.evil.example mail@evil.example",
    "# Heading\n- item\n1. first\n> quote\n`code` **strong** _em_ ~~del~~",
    "back\\slash \\[not\\]", "INC-2026-0001", "Zhao Min 赵敏", "", "50% off | a=b",
])
def test_plain_keeps_the_text_the_reader_sees(value):
    assert unescape(plain(value)) == value


@pytest.mark.parametrize("value,escaped", [
    ("![x](http://h/x.png)", "!\\[x\\](http:" + WORD_JOINER + "//h/x.png)"),
    ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
    ("`code` **b** _e_ ~~d~~ $m$ a & b | c \\", "\\`code\\` \\*\\*b\\*\\* \\_e\\_ "
     "\\~\\~d\\~\\~ \\$m\\$ a \\& b \\| c \\\\"),
    ("# h\n> q\n- l\n+ l\n  1. o\n2) o\n===", "\\# h  \n\\> q  \n\\- l  \n\\+ l  \n"
     "  1\\. o  \n2\\) o  \n\\==="),
    ("Wrong username or password.", "Wrong username or password."),   # ordinary text as is
    ("locked until 10:15 (2026-11-24), 50% off; x-y", "locked until 10:15 (2026-11-24), 50% off; x-y"),
])
def test_plain_escapes_what_opens_markdown_and_leaves_ordinary_text(value, escaped):
    assert plain(value) == escaped


def test_plain_breaks_the_patterns_streamlit_finds_after_parsing():
    shown = plain("http://a.example www.b.example c@d.example :red[x] :smile: :material/x:")
    for pattern in ("http://", "www.", "c@", ":red", ":smile", ":material"):
        assert pattern not in shown, pattern
    assert "http:" + WORD_JOINER + "//" in shown and "www" + WORD_JOINER + "." in shown
    assert "c" + WORD_JOINER + "@d" in shown
    assert plain(None) == "" and plain(12) == "12"
    assert plain("a\nb") == "a  \nb"                       # a line break stays one
    assert plain(WORD_JOINER + "x") == "x"                 # no smuggled joiners


def test_chart_labels_show_html_as_text():
    assert charts.chart_text('<a href="http://evil.example">x</a> & co') == \
        '&lt;a href="http://evil.example"&gt;x&lt;/a&gt; &amp; co'
    import pandas as pd
    fig = charts.retention_by_system(pd.DataFrame({
        "value": ["<a href='http://evil.example'>sys</a>"], "status": ["active"], "records": [3]}))
    assert all("<a " not in str(y) for trace in fig.data for y in trace.y)


# -- every page, with hostile values -------------------------------------------------------
def rendered(at: AppTest) -> list[str]:
    """Every string an element renders as Markdown: bodies and labels of all elements and
    blocks (markdown, captions, alerts, headings, buttons, page links, tabs, expanders,
    metrics ...), the sidebar included."""
    out: list[str] = []

    def scan(message) -> None:
        for field, value in message.ListFields():
            if field.type == field.TYPE_MESSAGE:
                for item in (value if not hasattr(value, "ListFields") else [value]):
                    scan(item)
            elif field.name in ("body", "label", "title") and isinstance(value, str):
                out.append(value)

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            scan(proto)
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return out


def live(text: str) -> bool:
    """Whether Markdown would find a link, an image or HTML in ``text``: escaped
    characters (a backslash and the character) do not count."""
    bare = re.sub(r"\\[!-/:-@\[-`{-~]", "\x00", text)
    return LIVE.search(bare) is not None


def assert_plain(at: AppTest, *, shown: str | None = HOSTILE) -> list[str]:
    assert not at.exception, at.exception
    texts = rendered(at)
    found = [t for t in texts if live(t)]
    assert found == [], found
    if shown is not None:          # the value is there, escaped: the reader sees it
        assert any(plain(shown) in t for t in texts), (plain(shown), texts)
    return texts


def run_page(db, monkeypatch, actor, page: str, query: dict | None = None,
             session: dict | None = None) -> AppTest:
    monkeypatch.setenv("COMPLIANCE_DB", str(db))
    monkeypatch.setenv("COMPLIANCE_FROZEN_NOW", FROZEN_NOW.isoformat())
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=120)
    at.session_state["actor"] = actor
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.query_params.update(query or {})
    at.switch_page(PAGE_BY_KEY[page].script)
    return at.run()


@pytest.fixture
def seeded(demo_db):
    """The demo store with a hostile incident and a hostile remediation plan."""
    s = Store(demo_db, clock=lambda: FROZEN_NOW)
    logged = inc.log_incident(s, MANAGER, {
        "title": HOSTILE, "description": HOSTILE + "\n\nsecond paragraph",
        "incident_type": "data_leak", "detected_at": "2026-11-24 08:00",
        "affected_subjects": 1200, "affected_sensitive_subjects": 0,
        "reported_by": "[click](http://evil.example)", "systems_affected": HOSTILE})
    inc.record_step(s, MANAGER, logged.incident_id, "note", {"text": HOSTILE})
    finding = engine.run_check(s, FROZEN_NOW).findings.iloc[0]
    rem.acknowledge(s, DPO, rule_id=finding["rule_id"], entity_id=finding["entity_id"],
                    owner="[click](http://evil.example)",
                    target_date=DEMO_AS_OF + dt.timedelta(days=30), comment=HOSTILE)
    s.close()
    return {"db": demo_db, "incident": logged.incident_id,
            "finding": f"{finding['rule_id']}:{finding['entity_id']}"}


def test_incident_page_shows_the_incidents_text_plainly(seeded, monkeypatch):
    at = run_page(seeded["db"], monkeypatch, MANAGER, "incident", {"id": seeded["incident"]})
    texts = assert_plain(at)
    assert any(plain("[click](http://evil.example)") in t for t in texts)   # reported by


def test_incident_page_shows_a_hostile_id_from_the_url_plainly(seeded, monkeypatch):
    at = run_page(seeded["db"], monkeypatch, MANAGER, "incident", {"id": HOSTILE})
    assert_plain(at)
    assert "No incident" in at.error[0].value


def test_incident_list_and_the_incident_chooser(seeded, monkeypatch):
    assert_plain(run_page(seeded["db"], monkeypatch, DPO, "incidents"), shown=None)
    assert_plain(run_page(seeded["db"], monkeypatch, DPO, "incident"), shown=None)


def test_findings_page_shows_a_hostile_plan_plainly(seeded, monkeypatch):
    at = run_page(seeded["db"], monkeypatch, DPO, "findings", {"finding": seeded["finding"]})
    texts = assert_plain(at)
    assert any(plain("[click](http://evil.example)") in t for t in texts)   # the owner


def test_findings_page_shows_a_hostile_entity_from_the_url_plainly(seeded, monkeypatch):
    rule = seeded["finding"].split(":")[0]
    at = run_page(seeded["db"], monkeypatch, DPO, "findings", {"finding": f"{rule}:{HOSTILE}"})
    assert_plain(at)


def test_policy_page_shows_a_hostile_clause_from_the_url_plainly(seeded, monkeypatch):
    at = run_page(seeded["db"], monkeypatch, DPO, "policy", {"clause": HOSTILE})
    assert_plain(at)
    assert "has no clause" in at.warning[0].value


@pytest.mark.parametrize("page", ["overview", "processors", "sharing", "retention",
                                  "settings", "exports", "audit_log", "import"])
def test_other_pages_with_hostile_query_parameters(seeded, monkeypatch, page):
    query = {"q": HOSTILE, "search": HOSTILE, "entity": HOSTILE, "day": HOSTILE,
             "tab": HOSTILE}
    assert_plain(run_page(seeded["db"], monkeypatch, DPO, page, query), shown=None)


def test_the_sidebar_shows_a_hostile_display_name_plainly(seeded, monkeypatch):
    # A single sign-on display name comes from the identity provider's claims.
    at = run_page(seeded["db"], monkeypatch, DPO, "settings",
                  session={"account": {"method": "sso", "display_name": HOSTILE}})
    assert_plain(at)


def test_log_form_errors_show_a_hostile_value_plainly(seeded, monkeypatch):
    at = run_page(seeded["db"], monkeypatch, MANAGER, "log_incident")
    at.text_input(key="li_title").input("Exposed")
    at.selectbox(key="li_incident_type").select("data_leak")
    at.get_by_key("li_detected_at").set_value(dt.datetime(2026, 11, 24, 8, 0))
    at.text_input(key="li_affected_subjects").input(HOSTILE)
    at.run()
    at.button(key="li_save").click().run()
    assert at.error, "the bad number is refused"
    assert_plain(at, shown=None)


def test_audit_log_filter_echo_is_plain(seeded, monkeypatch):
    at = run_page(seeded["db"], monkeypatch, DPO, "audit_log")
    at.text_input(key="log_entity_id").input(HOSTILE).run()
    assert_plain(at, shown=None)


def test_import_page_shows_a_hostile_file_name_and_values_plainly(seeded, monkeypatch):
    at = run_page(seeded["db"], monkeypatch, ADMIN, "import")
    name = "![x](x.png) [click](evil.example) <img src=x onerror=alert(1)>.csv"   # no "/"
    data = ("processor_id,name,kind,status,engaged_on\r\n"
            f"PRC-0900,\"{HOSTILE}\",wholesaler,active,2026-01-01\r\n").encode()
    at.file_uploader(key="imp_file").set_value((name, data, "text/csv"))
    at.run()
    texts = assert_plain(at, shown=None)
    assert any(plain(name) in t for t in texts)
    assert not any("![x](x.png)" in t or "[click](evil" in t for t in texts)

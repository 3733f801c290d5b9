"""The navigation table (dashboard/navigation.py) and the page files agree."""
from __future__ import annotations

import re

import pytest

from dashboard.access import ROLES
from dashboard.navigation import APP_SCRIPT, PAGES, SIGN_IN_PAGE, pages_for

from conftest import ROOT


@pytest.mark.parametrize("spec", PAGES, ids=lambda s: s.key)
def test_every_page_file_exists(spec):
    assert (ROOT / spec.path).is_file(), f"{spec.key}: {spec.path} is missing"


@pytest.mark.parametrize("spec", [s for s in PAGES if (ROOT / s.path).is_file()],
                         ids=lambda s: s.key)
def test_every_page_guards_itself_with_its_own_key(spec):
    source = (ROOT / spec.path).read_text(encoding="utf-8")
    assert re.search(rf"""ui\.page_guard\(\s*["']{re.escape(spec.key)}["']\s*\)""", source), \
        f"{spec.path} must call ui.page_guard({spec.key!r})"


@pytest.mark.parametrize("path", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_no_sql_in_pages(path):
    source = path.read_text(encoding="utf-8")
    assert "execute(" not in source and "sql(" not in source, path.name


def test_pages_live_in_pages_and_every_page_file_is_navigable():
    # The design card's layout: dashboard/ pages/ data/ tests/ .streamlit/.
    assert all(p.path == f"pages/{p.key}.py" for p in PAGES)
    files = {f"pages/{f.name}" for f in (ROOT / "pages").glob("*.py")}
    assert files == {p.path for p in PAGES} | {SIGN_IN_PAGE}
    assert not (ROOT / "app_pages").exists() and not (ROOT / "app.py").exists()


def test_the_entry_point_does_not_sit_beside_pages():
    # With a folder named pages/ beside the main script, Streamlit starts each process in
    # its legacy multipage mode: the first request to /<page> runs pages/<page>.py
    # directly, before app.py's session checks and role filter. Streamlit's own test:
    from streamlit.runtime.pages_manager import PagesManager
    assert APP_SCRIPT.is_file() and not (APP_SCRIPT.parent / "pages").exists()
    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = None
        PagesManager(str(APP_SCRIPT), setup_watcher=False)
        assert PagesManager.uses_pages_directory is False
    finally:
        PagesManager.uses_pages_directory = saved


def test_server_py_serves_the_entry_point_in_dashboard():
    # server.py is read, not imported: importing it would mount the streamed route in
    # this process (stream.serve_at). The served entry point is APP_SCRIPT.
    source = (ROOT / "server.py").read_text(encoding="utf-8")
    assert re.search(r"^app = App\(APP_SCRIPT,", source, re.M)
    assert "from dashboard.navigation import APP_SCRIPT" in source


def test_keys_paths_and_default_are_unique():
    assert len({p.key for p in PAGES}) == len(PAGES)
    assert len({p.path for p in PAGES}) == len(PAGES)
    assert [p.key for p in PAGES if p.default] == ["overview"]
    for p in PAGES:
        assert re.fullmatch(r"[a-z_]+", p.key) and p.roles and p.roles <= set(ROLES)


def test_every_role_has_pages_and_the_reference_pages():
    for role in ROLES:
        keys = {p.key for p in pages_for(role)}
        assert {"policy", "settings", "processors", "sharing", "retention"} <= keys
    assert pages_for(None) == []

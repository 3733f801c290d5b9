"""The navigation table (dashboard/navigation.py) and the page files agree."""
from __future__ import annotations

import re

import pytest

from dashboard.access import ROLES
from dashboard.navigation import PAGES, pages_for

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


@pytest.mark.parametrize("path", sorted((ROOT / "app_pages").glob("*.py")), ids=lambda p: p.name)
def test_no_sql_in_pages(path):
    source = path.read_text(encoding="utf-8")
    assert "execute(" not in source and "sql(" not in source, path.name


def test_no_pages_folder_beside_the_entry_point():
    # With a pages/ folder beside app.py, Streamlit runs a URL's page file directly
    # (its old multipage mode) before app.py's role filter and session checks.
    assert not (ROOT / "pages").exists()
    assert all(p.path.startswith("app_pages/") for p in PAGES)


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

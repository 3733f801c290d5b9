"""The docs say what the code does: generated tables match, commands exist, links resolve."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from dashboard.access import role_matrix_markdown
from dashboard.cli import build_parser
from dashboard.navigation import PAGES
from dashboard.settings import settings_table_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md")}


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block


def test_readme_carries_the_role_matrix_rendered_from_the_code():
    assert role_matrix_markdown().rstrip() in README


def test_readme_carries_the_settings_table_rendered_from_the_code():
    assert settings_table_markdown().rstrip() in README


def test_readme_lists_every_page():
    for page in PAGES:
        assert f"| **{page.title}** |" in README, page.title


def _subcommands() -> dict[str, set[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = {}
    for name, child in sub.choices.items():
        nested = [a for a in child._actions if a.__class__.__name__ == "_SubParsersAction"]
        out[name] = set(nested[0].choices) if nested else set()
    return out


COMMAND = re.compile(r"python -m dashboard ((?:[a-z][a-z_-]*)(?: [a-z][a-z_-]*)?)")


@pytest.mark.parametrize("name", ["README.md", *sorted(DOCS)])
def test_every_documented_command_exists(name):
    text = README if name == "README.md" else DOCS[name]
    commands = _subcommands()
    for match in COMMAND.finditer(text):
        words = match.group(1).split()
        assert words[0] in commands, f"{name}: `python -m dashboard {words[0]}` does not exist"
        if commands[words[0]] and len(words) > 1 and words[1] not in ("--db",):
            assert words[1] in commands[words[0]], \
                f"{name}: `python -m dashboard {' '.join(words)}` does not exist"


def test_documented_check_examples_parse():
    parser = build_parser()
    for line in README.splitlines():
        if line.startswith("python -m dashboard check") and "[" not in line:  # not synopses
            argv = shlex.split(line.split("#")[0])[3:]
            parser.parse_args(argv)   # raises UsageError on a wrong flag


@pytest.mark.parametrize("name", ["README.md", *sorted(DOCS)])
def test_relative_links_resolve(name):
    base = ROOT if name == "README.md" else ROOT / "docs"
    text = README if name == "README.md" else DOCS[name]
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (base / target).exists(), f"{name} links to missing {target}"

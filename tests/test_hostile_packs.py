"""`audit check-pack` reads hostile packs safely: bounded memory, exit 2 for what is not a
readable audit pack, exit 1 only for a real mismatch with the manifest.

The bombs are built by streaming zeros through deflate (a few MB on disk), and checked in a
child process whose peak resident memory is measured (VmHWM).
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dashboard import exports
from dashboard.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20


def check(path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["audit", "check-pack", str(path)], out, err)
    return code, out.getvalue(), err.getvalue()


def manifest(files) -> bytes:
    return json.dumps({"format": exports.PACK_FORMAT, "format_version": 1,
                       "audit_chain": {"head_seq": 1, "head_hash": "0" * 64},
                       "files": files}).encode()


def zeros_member(zf: zipfile.ZipFile, name: str, size: int) -> None:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    chunk = b"\0" * (8 * MiB)
    with zf.open(info, "w", force_zip64=True) as fh:
        left = size
        while left:
            n = min(left, len(chunk))
            fh.write(chunk[:n])
            left -= n


def peak_rss_mb_of_check(path: Path) -> tuple[int, float, str]:
    """Run check-pack in a child process; (exit code, its peak RSS in MB, its output)."""
    code = (
        "import re, sys, io\n"
        "from dashboard.cli import main\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        f"rc = main(['audit', 'check-pack', {str(path)!r}], out, err)\n"
        "status = open('/proc/self/status').read()\n"        # VmHWM: this process's peak;
        "peak = int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) / 1024\n"  # ru_maxrss
        # would carry the forking pytest's peak across exec

        "print(rc, peak, (out.getvalue() + err.getvalue()).replace(chr(10), ' | '))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    rc, peak, text = done.stdout.strip().split(" ", 2)
    return int(rc), float(peak), text


@pytest.mark.slow
def test_a_manifest_bomb_is_refused_in_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compresslevel=1) as zf:
        zeros_member(zf, "manifest.json", 3 << 30)            # 3 GiB of NULs
    assert bomb.stat().st_size < 20 * MiB
    rc, peak, text = peak_rss_mb_of_check(bomb)
    assert rc == 2 and "manifest.json" in text and ("larger than" in text or "bomb" in text)
    print(f"manifest bomb ({bomb.stat().st_size / MiB:.1f} MB zip, 3 GiB inflated): "
          f"peak RSS {peak:.0f} MB")
    assert peak < 400


@pytest.mark.slow
def test_a_huge_member_is_refused_in_bounded_memory(tmp_path):
    bomb = tmp_path / "huge.zip"
    with zipfile.ZipFile(bomb, "w", compresslevel=1) as zf:
        zf.writestr("manifest.json", manifest([{"name": "processors.csv", "rows": 1,
                                                "sha256": "0" * 64}]))
        zeros_member(zf, "processors.csv", 4 << 30)           # 4 GiB, one "line"
    rc, peak, text = peak_rss_mb_of_check(bomb)
    assert rc == 2 and "processors.csv" in text and "bomb" in text
    print(f"huge member ({bomb.stat().st_size / MiB:.1f} MB zip, 4 GiB inflated): "
          f"peak RSS {peak:.0f} MB")
    assert peak < 400


def test_a_long_line_is_counted_without_a_field_limit(tmp_path):
    """A 200 MB cell (no bomb: random-looking text) is read as a stream, not as a line."""
    import hashlib
    import os
    body = b"a,b\r\n" + os.urandom(8 * MiB).hex().encode() + b",x\r\n"
    pack = tmp_path / "long.zip"
    with zipfile.ZipFile(pack, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", manifest([{"name": "t.csv", "rows": 1,
                                                "sha256": hashlib.sha256(body).hexdigest()}]))
        zf.writestr("t.csv", body)
    code, out, err = check(pack)
    assert code == 0, out + err
    assert "OK       t.csv: 1 rows" in out


@pytest.mark.parametrize("content, words", [
    (b"not a zip at all", "not a readable ZIP"),
    ("no-manifest", "no manifest.json"),
    ("bad-json", "not valid JSON"),
    ("not-ours", "not an audit pack's manifest"),
    ("bad-entry", "file entry 1 needs"),
    ("many", "members"),
])
def test_malformed_packs_are_exit_2_with_a_message(tmp_path, content, words):
    path = tmp_path / "p.zip"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as zf:
            if content == "bad-json":
                zf.writestr("manifest.json", "{nope")
            elif content == "not-ours":
                zf.writestr("manifest.json", json.dumps([1, 2]))
            elif content == "bad-entry":
                zf.writestr("manifest.json", manifest([{"name": "x.csv", "rows": "7"}]))
            elif content == "many":
                zf.writestr("manifest.json", manifest([]))
                for i in range(exports.PACK_MAX_MEMBERS + 1):
                    zf.writestr(f"f{i}.csv", b"")
            else:
                zf.writestr("other.txt", b"x")
    code, out, err = check(path)
    assert code == 2, out + err
    assert words in err and "Traceback" not in err and str(tmp_path) not in err


def test_a_changed_file_is_exit_1(tmp_path):
    body = b"a\r\n1\r\n"
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", manifest([{"name": "t.csv", "rows": 1,
                                                "sha256": "0" * 64}]))
        zf.writestr("t.csv", body)
    code, out, err = check(path)
    assert code == 1 and "MISMATCH t.csv" in out

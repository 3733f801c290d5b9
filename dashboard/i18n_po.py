"""Write or update one Chinese catalog file from a ``{msgid: msgstr}`` mapping, keeping
entries already there (``python -m dashboard.i18n_po FILE.po < pairs.json`` or from code).
Used when translating: the catalogs themselves are the source of truth."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .i18n import CHINESE, LOCALE_DIR


def update(name: str, pairs: dict[str, str], *, locale: str = CHINESE) -> Path:
    from babel.messages.catalog import Catalog, Message
    from babel.messages.pofile import read_po, write_po
    path = LOCALE_DIR / locale / "LC_MESSAGES" / name
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
    else:
        catalog = Catalog(locale=locale, project="privacy-compliance", charset="utf-8")
    for msgid, msgstr in pairs.items():
        if msgid in catalog:
            catalog.delete(msgid)         # (setting an existing id keeps its old string)
        catalog[msgid] = Message(msgid, msgstr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True, omit_header=False)
    return path


if __name__ == "__main__":
    target = sys.argv[1]
    print(update(Path(target).name, json.load(sys.stdin)))

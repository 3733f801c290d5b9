"""What a page run shows, as text, for the language tests (issue 17): every string of every
element Streamlit was asked to draw (Markdown, captions, alerts, titles, metric labels and
values, widget labels, options and help, tab and expander labels), the cells and headings
of its tables, and the titles, axes, legends, tick labels and hover texts of its charts.

``raw_codes(at)`` lists the enum codes of ``dashboard.i18n.LABELS`` (``relatively_major``,
``in_progress``, ``auth.sign_in``, ``cli:root`` …) that such a text holds: a code on screen
is a label that was never translated.
"""
from __future__ import annotations

import json
import re
from typing import Iterator

from dashboard.i18n import LABELS

# Codes that cannot be ordinary words: with "_" or "." (relatively_major, auth.sign_in).
_WORDY = sorted({code for kind in LABELS.values() for code in kind if re.search(r"[_.]", code)},
                key=len, reverse=True)
CODE_IN_TEXT = re.compile(r"(?<![\w.`/-])(" + "|".join(re.escape(c) for c in _WORDY)
                          + r")(?![\w`/-]|\.\w)")
# Actors as the audit log stores them (cli:root, api:3f2a…, scheduler:…).
ACTOR_CODE = re.compile(r"(?<![\w/])(cli|api|scheduler|system|sso):[\w.-]+")
# Every code, for table cells: a cell holding exactly a code (open, high, share …); not the
# role codes, which are also the demo accounts' user names (dpo, manager …).
ALL_CODES = {code for name, kind in LABELS.items() if name != "role" for code in kind}
# Tables whose cells are data a user supplied as it is (an uploaded file's preview):
# codes there are the file's own values.


# String fields of element protos that are not shown as text.
_HIDDEN_FIELDS = frozenset({
    "id", "form_id", "key", "icon", "spec", "theme", "data", "columns", "url",
    "page_script_hash", "tag", "type", "language", "page", "format", "page_name",
    "url_path", "script_hash", "default", "label_visibility", "color", "width", "height",
    "fragment_id", "element_id", "placement", "mime", "file_name", "deferred_file_id",
})


def _proto_strings(message) -> Iterator[str]:
    for field, value in message.ListFields():
        if field.type == field.TYPE_STRING:
            if field.is_repeated:
                yield from value
            elif field.name not in _HIDDEN_FIELDS:
                yield value
        elif field.type == field.TYPE_MESSAGE:
            items = value if field.is_repeated else [value]
            for item in items:
                if hasattr(item, "ListFields"):
                    yield from _proto_strings(item)


def _chart_strings(spec: str) -> Iterator[str]:
    try:
        figure = json.loads(spec)
    except ValueError:
        return
    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("customdata", "meta", "uid", "ids", "legendgroup", "offsetgroup",
                         "alignmentgroup", "hovertemplate", "texttemplate", "type", "mode",
                         "xaxis", "yaxis", "template", "font", "marker", "line", "colorscale",
                         "color", "colorway", "fillcolor", "bgcolor", "shapes"):
                    continue
                yield from walk(v, k)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v, key)
        elif isinstance(node, str) and key in ("text", "name", "x", "y", "labels", "title",
                                                "ticktext", "hovertext", "parents", "ids"):
            yield node
    yield from walk(figure.get("data", []))
    yield from walk(figure.get("layout", {}))


def elements(at):
    """Every element of the run, depth first (main area and sidebar)."""
    stack = [at._tree]
    while stack:
        node = stack.pop()
        if contract_block(node):
            continue
        yield node
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            stack.extend(children[k] for k in sorted(children, reverse=True))


def screen_texts(at) -> list[str]:
    out: list[str] = []
    for el in elements(at):
        proto = getattr(el, "proto", None)
        kind = getattr(el, "type", "")
        if proto is None:
            continue
        if kind in ("arrow_data_frame", "dataframe", "table") or hasattr(proto, "columns") and \
                hasattr(proto, "data") and kind != "plotly_chart":
            out.extend(_table_strings(el))
            continue
        if kind == "plotly_chart" or hasattr(proto, "spec"):
            out.extend(_chart_strings(getattr(proto, "spec", "") or ""))
            continue
        out.extend(s for s in _proto_strings(proto) if s)
    return out


def _shown_columns(el, frame) -> list[tuple[str, dict]]:
    """(column, its config) of the columns a table shows: ``column_order`` when the page
    gives one (the others are not drawn), less the hidden ones."""
    try:
        config = json.loads(el.proto.columns or "{}")
    except (ValueError, AttributeError):
        config = {}
    order = list(getattr(el.proto, "column_order", []) or [])
    names = [c for c in (order or list(frame.columns)) if c in frame.columns]
    out = []
    for column in names:
        shown = config.get(f"col:name:{column}") or config.get(str(column)) or {}
        if not shown.get("hidden"):
            out.append((column, shown))
    return out


def contract_block(node) -> bool:
    """A container that shows a file's own contract values on purpose (an export's
    preview, the import's column reference): its key starts with "contract_"."""
    proto = getattr(node, "proto", None)
    return "contract_" in (getattr(proto, "id", "") or "") if proto is not None and \
        getattr(node, "type", "") == "flex_container" else False


def contract_table(el) -> bool:
    return False


def _table_strings(el) -> list[str]:
    if contract_table(el):
        return []
    try:
        frame = el.value
    except Exception:  # noqa: BLE001 - not a table after all
        return []
    out: list[str] = []
    for column, shown in _shown_columns(el, frame):
        out.append(str(shown.get("label") or column))
        for value in frame[column].head(200):
            if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
                items = value.tolist() if hasattr(value, "tolist") else value
                out.extend(str(v) for v in (items if isinstance(items, list) else [items]))
            elif isinstance(value, str):
                out.append(value)
    return out


def table_cells(at) -> list[tuple[str, str]]:
    """(column heading, cell text) of every shown table's string cells."""
    out = []
    for el in elements(at):
        if getattr(el, "type", "") not in ("arrow_data_frame", "dataframe", "table") or \
                contract_table(el):
            continue
        try:
            frame = el.value
        except Exception:  # noqa: BLE001
            continue
        for column, shown in _shown_columns(el, frame):
            for value in frame[column].head(200):
                if isinstance(value, str):
                    out.append((str(shown.get("label") or column), value))
    return out


def raw_codes(at) -> set[str]:
    """Codes on screen: a code with ``_``/``.`` anywhere in the text, an audit actor code,
    or a table cell that is exactly a code."""
    found: set[str] = set()
    for text in screen_texts(at):
        found.update(m.group(1) for m in CODE_IN_TEXT.finditer(text))
        found.update(m.group(0) for m in ACTOR_CODE.finditer(text))
    for _heading, cell in table_cells(at):
        if cell in ALL_CODES:
            found.add(cell)
    return found

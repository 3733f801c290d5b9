"""What an evidence file is, judged by its bytes, never by its name (issue 18).

``detect(data)`` returns the ``FileType`` of a file the app accepts as evidence (PDF; PNG,
JPEG, GIF, WebP and TIFF images; Word .docx; Excel .xlsx) or raises ``FileRefused`` with a
message in the user's words naming what the content is. It refuses:

- programs: Windows PE/MZ, Linux ELF, macOS Mach-O (and Java classes), scripts (``#!``);
- archives: ZIP (other than a Word or Excel file), 7z, RAR, gzip, bzip2, xz, zstd, tar, CAB;
- active content: HTML, SVG, XML;
- Word and Excel files with macros (a ``vbaProject.bin`` part, a macro-enabled content
  type, ActiveX controls), and the legacy binary .doc/.xls (OLE compound files: their
  macros cannot be checked here; save them as .docx/.xlsx);
- ZIP bombs: more than ``ZIP_MAX_MEMBERS`` parts, more than ``ZIP_MAX_TOTAL`` bytes once
  inflated, or a part inflating more than ``ZIP_MAX_RATIO`` times (as the central directory
  declares them: nothing is inflated but ``[Content_Types].xml``, capped);
- images Pillow cannot read or that decompress to more than its pixel limit (an image bomb).

No library outside the requirements: Pillow (pinned in constraints.txt, already installed
with Streamlit) verifies the images, ``zipfile`` and defusedxml read the Office files, and
the rest are the formats' published signatures. PDFs are checked by their header and end
marker; a PDF's JavaScript is not refused (a valid PDF may carry it): the app never opens a
PDF, it only stores it and serves it as a download (docs/EVIDENCE.md).

``check_name(file_name, file_type)`` compares the name's extension with the content.
"""
from __future__ import annotations

import io
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from .i18n import N_, _


class FileRefused(ValueError):
    """A file the app does not keep as evidence; the message says why. Nothing written."""


@dataclass(frozen=True)
class FileType:
    code: str               # pdf, png, jpeg, gif, webp, tiff, docx, xlsx
    media_type: str
    extensions: tuple[str, ...]   # the first is the one given to a file named otherwise
    label: str              # English, marked N_: shown with _()


TYPES: dict[str, FileType] = {t.code: t for t in (
    FileType("pdf", "application/pdf", (".pdf",), N_("PDF document")),
    FileType("png", "image/png", (".png",), N_("PNG image")),
    FileType("jpeg", "image/jpeg", (".jpg", ".jpeg", ".jpe"), N_("JPEG image")),
    FileType("gif", "image/gif", (".gif",), N_("GIF image")),
    FileType("webp", "image/webp", (".webp",), N_("WebP image")),
    FileType("tiff", "image/tiff", (".tif", ".tiff"), N_("TIFF image")),
    FileType("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             (".docx",), N_("Word document (.docx)")),
    FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             (".xlsx",), N_("Excel workbook (.xlsx)")),
)}
BY_MEDIA_TYPE = {t.media_type: t for t in TYPES.values()}

# Extensions that name some other kind of file: a file called so whose content is one of
# ours was renamed (or is a polyglot), and is refused rather than renamed.
FOREIGN_EXTENSIONS = frozenset({
    ".exe", ".dll", ".com", ".scr", ".msi", ".bat", ".cmd", ".ps1", ".vbs", ".js", ".jse",
    ".wsf", ".sh", ".py", ".pl", ".rb", ".php", ".jar", ".class", ".app", ".elf", ".so",
    ".dylib", ".bin", ".zip", ".7z", ".rar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".tar",
    ".cab", ".iso", ".html", ".htm", ".xhtml", ".svg", ".svgz", ".xml", ".hta", ".lnk",
    ".docm", ".dotm", ".xlsm", ".xltm", ".xlam", ".pptm", ".doc", ".dot", ".xls", ".xlt",
    ".ppt", ".pptx", ".rtf", ".txt", ".csv", ".odt", ".ods", ".bmp", ".ico", ".heic",
})

ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_TOTAL = 512 << 20         # bytes once inflated, as the central directory declares
ZIP_MAX_RATIO = 100               # inflated / compressed, for a part over ZIP_RATIO_FLOOR
ZIP_RATIO_FLOOR = 1 << 20
_CONTENT_TYPES_MAX = 1 << 20

_WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_EXCEL_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_MACRO_TYPES = ("macroenabled", "vbaproject", "activex", "vbadata")


def _refuse(what: str, hint: str = "") -> FileRefused:
    text = _("The file's content is {what}: evidence files must be PDF documents, images "
             "(PNG, JPEG, GIF, WebP, TIFF), Word (.docx) or Excel (.xlsx) files.").format(
        what=what)
    return FileRefused(text + (" " + hint if hint else ""))


# Signatures of what is refused, checked first (offset, bytes, what it is).
_REFUSED_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"MZ", N_("a Windows program (PE/MZ executable)")),
    (0, b"\x7fELF", N_("a Linux program (ELF executable)")),
    (0, b"\xfe\xed\xfa\xce", N_("a macOS program (Mach-O executable)")),
    (0, b"\xfe\xed\xfa\xcf", N_("a macOS program (Mach-O executable)")),
    (0, b"\xce\xfa\xed\xfe", N_("a macOS program (Mach-O executable)")),
    (0, b"\xcf\xfa\xed\xfe", N_("a macOS program (Mach-O executable)")),
    (0, b"\xca\xfe\xba\xbe", N_("a program (Mach-O universal binary or Java class)")),
    (0, b"#!", N_("a script (it starts with #!)")),
    (0, b"7z\xbc\xaf\x27\x1c", N_("a 7-Zip archive")),
    (0, b"Rar!\x1a\x07", N_("a RAR archive")),
    (0, b"\x1f\x8b", N_("a gzip archive")),
    (0, b"BZh", N_("a bzip2 archive")),
    (0, b"\xfd7zXZ\x00", N_("an xz archive")),
    (0, b"\x28\xb5\x2f\xfd", N_("a Zstandard archive")),
    (0, b"MSCF", N_("a Windows cabinet archive")),
    (257, b"ustar", N_("a tar archive")),
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|svg|script|\?xml|body|head|iframe|xsl)",
                     re.IGNORECASE)


def detect(data: bytes) -> FileType:
    """The accepted type of ``data``, or ``FileRefused`` saying what it is."""
    if not data:
        raise FileRefused(_("The file is empty (0 bytes)."))
    for offset, magic, what in _REFUSED_MAGIC:
        if data[offset:offset + len(magic)] == magic:
            hint = (_("Archives are refused: attach the files inside it one by one.")
                    if "archive" in what else "")
            raise _refuse(_(what), hint)
    if data.startswith(_OLE):
        raise _refuse(_("a legacy Office file (.doc, .xls or .ppt, an OLE compound file)"),
                      _("Its macros cannot be checked here: save it as .docx or .xlsx and "
                        "attach that."))
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _office(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _image(data, "png", "PNG")
    if data.startswith(b"\xff\xd8\xff"):
        return _image(data, "jpeg", "JPEG")
    if data.startswith((b"GIF87a", b"GIF89a")):
        return _image(data, "gif", "GIF")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _image(data, "webp", "WEBP")
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return _image(data, "tiff", "TIFF")
    head = data[:1024]
    if b"%PDF-" in head:
        return _pdf(data, head)
    text = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if _MARKUP.search(text[:1024]) or text.startswith(b"<"):
        raise _refuse(_("HTML, SVG or XML (a page or drawing that can run scripts)"))
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(_("of a kind the app does not recognise")) from None
    raise _refuse(_("plain text"))


def _pdf(data: bytes, head: bytes) -> FileType:
    start = head.index(b"%PDF-")
    if not re.match(rb"%PDF-\d\.\d", head[start:start + 8]):
        raise _refuse(_("damaged: it has no valid PDF header"))
    if head[:start].strip(b"\x00 \t\r\n\x0c"):
        raise _refuse(_("something else with a PDF header inside it (bytes before the "
                        "header)"))
    if b"%%EOF" not in data[-2048:]:
        raise _refuse(_("an incomplete PDF (no end-of-file marker: cut short?)"))
    return TYPES["pdf"]


def _image(data: bytes, code: str, pil_format: str) -> FileType:
    from PIL import Image
    try:
        with warnings.catch_warnings():
            # more pixels than Image.MAX_IMAGE_PIXELS is an image bomb: an error here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format != pil_format:
                    raise _refuse(_("not a valid {kind} image").format(kind=pil_format))
                img.verify()
    except FileRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(_("an image of more pixels than the app will read (an image bomb)")
                      ) from None
    except Exception:        # Pillow raises many kinds for a damaged image
        raise _refuse(_("a damaged or invalid {kind} image").format(kind=pil_format)) from None
    return TYPES[code]


def _office(data: bytes) -> FileType:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise _refuse(_("a damaged ZIP file")) from None
    with zf:
        if len(infos) > ZIP_MAX_MEMBERS:
            raise _refuse(_("a ZIP file of {n} parts (a ZIP bomb?)").format(n=len(infos)))
        total = sum(i.file_size for i in infos)
        if total > ZIP_MAX_TOTAL:
            raise _refuse(_("a ZIP file that inflates to {mb} MB (a ZIP bomb)").format(
                mb=total >> 20))
        for i in infos:
            if i.file_size > ZIP_RATIO_FLOOR and \
                    i.file_size > ZIP_MAX_RATIO * max(i.compress_size, 1):
                raise _refuse(_("a ZIP file with a part that inflates {n} times (a ZIP "
                                "bomb)").format(n=i.file_size // max(i.compress_size, 1)))
            if i.flag_bits & 0x1:
                raise _refuse(_("an encrypted ZIP file"))
        names = {i.filename for i in infos}
        lower = {n.lower() for n in names}
        if any(PurePosixPath(n).name == "vbaproject.bin" or "/activex/" in "/" + n
               for n in lower):
            raise _refuse(_("a Word or Excel file with macros or ActiveX controls"),
                          _("Save it without macros (.docx or .xlsx) and attach that."))
        if "[Content_Types].xml" not in names:
            raise _refuse(_("a ZIP archive"),
                          _("Archives are refused: attach the files inside it one by one."))
        types = _content_types(zf)
        if any(m in t for t in types.values() for m in _MACRO_TYPES):
            raise _refuse(_("a Word or Excel file with macros (macro-enabled)"),
                          _("Save it without macros (.docx or .xlsx) and attach that."))
        if "word/document.xml" in names and types.get("/word/document.xml") == _WORD_MAIN:
            return TYPES["docx"]
        if "xl/workbook.xml" in names and types.get("/xl/workbook.xml") == _EXCEL_MAIN:
            return TYPES["xlsx"]
        raise _refuse(_("an Office file that is neither a Word document nor an Excel "
                        "workbook (or a ZIP archive)"))


def _content_types(zf: zipfile.ZipFile) -> dict[str, str]:
    """``[Content_Types].xml``'s overrides (part name → content type, lower case), read with
    defusedxml and capped: the OOXML package's own account of what each part is."""
    from defusedxml import ElementTree
    with zf.open("[Content_Types].xml") as fh:
        raw = fh.read(_CONTENT_TYPES_MAX + 1)
    if len(raw) > _CONTENT_TYPES_MAX:
        raise _refuse(_("an Office file with an oversized [Content_Types].xml"))
    try:
        root = ElementTree.fromstring(raw)
    except Exception:                     # ParseError, defusedxml's refusals
        raise _refuse(_("a damaged Office file ([Content_Types].xml cannot be read)")
                      ) from None
    out: dict[str, str] = {}
    for el in root:
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "Override":
            out[el.get("PartName", "")] = el.get("ContentType", "").lower()
        elif tag == "Default":
            out["*." + el.get("Extension", "").lower()] = el.get("ContentType", "").lower()
    return out


def check_name(file_name: str, kind: FileType) -> str:
    """The name the file is kept under: ``file_name`` when its extension is one of the
    detected type's; with the type's extension added when it has none (or one that names no
    kind of file, like ``contract.v2``); ``FileRefused`` when the name claims another type
    (``scan.pdf`` holding a PNG, ``report.exe`` holding a PDF)."""
    suffix = PurePosixPath(file_name).suffix.lower()
    if suffix in kind.extensions:
        return file_name
    claimed = next((t for t in TYPES.values() if suffix in t.extensions), None)
    if claimed is not None or suffix in FOREIGN_EXTENSIONS:
        what = _(claimed.label) if claimed else suffix
        raise FileRefused(_("The file is named {name} ({claimed}), but its content is of "
                            "another type: {actual}. Rename it {ext} if it is what you meant "
                            "to attach.").format(name=file_name, claimed=what,
                                                 actual=_(kind.label), ext=kind.extensions[0]))
    return file_name + kind.extensions[0]

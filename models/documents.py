"""Document facts: what a registered deliverable file is (hash, size, format) and which sections it has.

This is an I/O adapter: it reads a file once, hashes it while reading, and extracts section titles so the
pure documentation criteria (``gates/documentation.py``) can check a documentation standard without touching
the disk. Sections are read from Markdown (ATX and setext headings), DOCX (paragraphs in heading styles) and
PDF (bookmarks, else the lines of its text). Other formats (xlsx, mpp, ...) have no sections we can read:
``headings`` is None, which a criterion reports as missing evidence rather than as a missing section.

A damaged DOCX or PDF must not stop a registration: its hash and size are still facts, so ``headings`` is
None and ``unreadable_reason`` says why. A file that cannot be opened, is not a regular file or is over a size
cap (the document's bytes, a DOCX's unzipped XML, a PDF's pages: ``gates.vocabulary.limits``) is an ``InputError``:
parsers multiply their input, and a file too big to read for its sections is refused rather than half-read.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.limits import DEFAULT_LIMITS, IntakeLimits, megabytes, raise_hint
from phasegate.models.file_intake import CHUNK, FileTooLargeError, open_regular, read_chunks

__all__ = ["CHUNK", "DocumentFacts", "current_sha256", "inspect_document", "markdown_headings", "sections_of"]

log = logging.getLogger(__name__)

MARKDOWN_FORMATS = frozenset({"md", "markdown"})
SECTION_FORMATS = MARKDOWN_FORMATS | {"docx", "pdf"}
"""Formats whose sections can be read; any other format gets ``headings=None``."""

PDF_LINE_CHARS = 120
"""A PDF without bookmarks contributes each text line, cut to this length: titles are short, body lines long."""

PDF_MAX_LINES = 5000
"""At most this many distinct text lines from a PDF without bookmarks, so the evidence packet stays small."""


class DocumentFacts(BaseModel):
    """What one file is, read at one moment. ``headings`` None: the format has no readable sections."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    sha256: str
    size: int
    format: str
    headings: tuple[str, ...] | None
    unreadable_reason: str | None = None


def file_format(path: Path) -> str:
    """The lower-case extension without the dot ("" when there is none): what ``DeliverableDef.formats`` lists."""
    return path.suffix[1:].lower()


def inspect_document(path: Path, *, limits: IntakeLimits = DEFAULT_LIMITS, label: str = "FILE") -> DocumentFacts:
    """Hash ``path`` and read its section titles, reading the file once. Unopenable, not a regular file or over
    a cap: ``InputError`` naming ``label`` (the option or field the path came from)."""
    fmt = file_format(path)
    digest = hashlib.sha256()
    size = 0
    keep = fmt in SECTION_FORMATS
    chunks: list[bytes] = []
    cap, what, setting = limits.document_bytes, "documents", "document_bytes"
    try:
        with open_regular(path, label=label, max_bytes=cap, what=what, setting=setting) as handle:
            for chunk in read_chunks(handle, label=label, path=path, max_bytes=cap, what=what, setting=setting):
                digest.update(chunk)
                size += len(chunk)
                if keep:
                    chunks.append(chunk)
    except OSError as err:
        raise InputError(f"{label}: cannot read {str(path)!r}: {err.strerror or err}") from None
    headings, reason = sections_of(fmt, b"".join(chunks), limits=limits, label=label, path=path)
    return DocumentFacts(sha256=digest.hexdigest(), size=size, format=fmt, headings=headings, unreadable_reason=reason)


def sections_of(
    fmt: str, content: bytes, *, limits: IntakeLimits, label: str, path: Path
) -> tuple[tuple[str, ...] | None, str | None]:
    """Section titles of a file's bytes (None for formats without sections) and why they could not be read.

    A DOCX whose XML unzips past ``limits.docx_xml_bytes`` or a PDF with more than ``limits.pdf_pages`` pages
    is refused (``FileTooLargeError``) before the parser builds anything from it."""
    if fmt not in SECTION_FORMATS:
        return None, None
    if fmt == "docx":
        _check_docx_xml(content, limits=limits, label=label, path=path)
    try:
        headings, reason = _headings(fmt, content, limits=limits)
    except _TooManyPagesError as err:
        raise FileTooLargeError(
            f"{label}: {str(path)!r} has {err.pages} pages; PDFs read for sections may have at most "
            f"{limits.pdf_pages} pages ({raise_hint('pdf_pages')}); nothing was written"
        ) from None
    if reason is not None:
        log.warning("cannot read sections of %s: %s", path, reason)
    return headings, reason


def _check_docx_xml(content: bytes, *, limits: IntakeLimits, label: str, path: Path) -> None:
    """Sum the XML parts' sizes from the zip directory (no part is inflated): python-docx needs about 16 times
    the XML's size in memory. A damaged zip is left to the parser, which reports it as unreadable."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            xml = sum(i.file_size for i in archive.infolist() if i.filename.endswith((".xml", ".rels")))
    except (zipfile.BadZipFile, ValueError, OSError):
        return
    if xml > limits.docx_xml_bytes:
        raise FileTooLargeError(
            f"{label}: {str(path)!r} holds {megabytes(xml)} of XML once unzipped; DOCX files read for sections may "
            f"hold at most {megabytes(limits.docx_xml_bytes)} ({raise_hint('docx_xml_bytes')}); nothing was written"
        )


def current_sha256(path: Path) -> str | None:
    """The file's hash now; None when it is gone, cannot be read or is not a regular file (never blocks)."""
    digest = hashlib.sha256()
    try:
        with open_regular(
            path, label="FILE", max_bytes=2**62, what="files", setting="document_bytes", follow_symlinks=False
        ) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except (OSError, InputError):
        return None
    return digest.hexdigest()


class _TooManyPagesError(Exception):
    def __init__(self, pages: int) -> None:
        super().__init__(pages)
        self.pages = pages


def _headings(fmt: str, content: bytes, *, limits: IntakeLimits) -> tuple[tuple[str, ...] | None, str | None]:
    """Section titles, or None with the reason. Parsers of untrusted files raise many exception types
    (zip, XML, PDF syntax, decryption), so any exception here means "damaged file", never a crash; a PDF over
    the page cap is not damaged but refused (``_TooManyPagesError``)."""
    try:
        if fmt in MARKDOWN_FORMATS:
            return tuple(markdown_headings(_decode(content))), None
        if fmt == "docx":
            return tuple(docx_headings(content)), None
        return pdf_headings(content, max_pages=limits.pdf_pages), None
    except _TooManyPagesError:
        raise
    except Exception as err:  # see the docstring: a damaged file is a fact, not a crash
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return None, f"{fmt} file is damaged or not a {fmt} file ({type(err).__name__}: {message})"[:300]


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM) first; GB18030 next, since Chinese Windows editors still save in it."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("utf-8", errors="replace")


# --- Markdown ----------------------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^ {0,3}(?:[>*+-]|\d{1,9}[.)])(?:[ \t]|$)|^(?: {4}|\t)")


def markdown_headings(text: str) -> Iterator[str]:
    """ATX (``# Title``) and setext (``Title`` over ``===``/``---``) headings, outside fenced code blocks.

    YAML front matter is skipped, so its closing ``---`` does not turn the last key into a heading.
    """
    lines = text.splitlines()
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is not None:
            start = end + 1
    fence: str | None = None
    paragraph: list[str] = []
    for line in lines[start:]:
        if fence is not None:
            closing = _FENCE.match(line)
            marker = closing.group(1) if closing and not closing.group(2).strip() else ""
            if marker[:1] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        opening = _FENCE.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence, paragraph = opening.group(1), []
            continue
        atx = _ATX.match(line)
        if atx:
            paragraph = []
            title = (atx.group(2) or "").strip()
            if title:
                yield title
            continue
        if _SETEXT.match(line):  # underlines a paragraph, or alone is a thematic break; never starts one
            if paragraph:
                yield " ".join(part.strip() for part in paragraph)
            paragraph = []
            continue
        if not line.strip() or (not paragraph and _NOT_PARAGRAPH.match(line)):
            paragraph = []
            continue
        paragraph.append(line)


# --- DOCX --------------------------------------------------------------------------------------------------

_HEADING_STYLE_NAME = re.compile(r"^(?:heading|标题)\s*[1-9]$|^(?:title|标题)$", re.IGNORECASE)
_HEADING_STYLE_ID = re.compile(r"^(?:heading)?[1-9]$|^title$", re.IGNORECASE)
_BODY_TEXT_LEVEL = 9
"""``w:outlineLvl`` 0-8 are outline (heading) levels; 9 means body text."""


def docx_headings(content: bytes) -> Iterator[str]:
    """Paragraphs in a heading style, in document order, including those inside tables and content controls.

    A style is a heading style when its name is "Heading N"/"Title" (python-docx shows Word's built-in
    names in English whatever the UI language), a localized name such as "标题 1" (WPS), a localized style
    id such as "1" (Chinese Word names Heading 1's id "1"), or when it or a style it is based on carries an
    outline level: that catches custom styles built on Heading N. A paragraph's own outline level counts too.
    """
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.ns import qn

    document = Document(io.BytesIO(content))
    verdicts: dict[str | None, bool] = {}
    for paragraph in document.element.body.iter(qn("w:p")):
        text = " ".join(paragraph.text.split())
        if not text:
            continue
        style_id = paragraph.style
        if style_id not in verdicts:
            verdicts[style_id] = _is_heading_style(document.part.get_style(style_id, WD_STYLE_TYPE.PARAGRAPH))
        if verdicts[style_id] or _outline_level(paragraph.pPr) is not None:
            yield text


def _is_heading_style(style: Any) -> bool:
    """``style`` is a python-docx paragraph style (typed loosely: its base-style chain is untyped)."""
    seen: set[int] = set()
    current = style
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _HEADING_STYLE_NAME.match(current.name or "") or _HEADING_STYLE_ID.match(current.style_id or ""):
            return True
        if _outline_level(current.element.pPr) is not None:
            return True
        current = current.base_style
    return False


def _outline_level(properties: Any) -> int | None:
    """The outline level 0-8 set in a ``w:pPr`` element, or None (absent, or 9 meaning body text)."""
    level = None if properties is None or properties.outlineLvl is None else properties.outlineLvl.val
    return level if isinstance(level, int) and 0 <= level < _BODY_TEXT_LEVEL else None


# --- PDF ---------------------------------------------------------------------------------------------------


def pdf_headings(content: bytes, *, max_pages: int = DEFAULT_LIMITS.pdf_pages) -> tuple[str, ...]:
    """Bookmark titles when the PDF has an outline (authoring tools write one from the headings); otherwise
    every distinct non-empty text line, cut to ``PDF_LINE_CHARS``, since untagged PDFs do not mark headings.
    More than ``max_pages`` pages: ``_TooManyPagesError``, before any page is parsed."""
    from pypdf import PasswordType, PdfReader

    reader = PdfReader(io.BytesIO(content))
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise ValueError("the PDF is encrypted with a password")
    pages = len(reader.pages)
    if pages > max_pages:
        raise _TooManyPagesError(pages)
    titles = tuple(_outline_titles(reader.outline))
    if titles:
        return titles
    lines: dict[str, None] = {}
    for page in reader.pages:
        for line in page.extract_text().splitlines():
            text = " ".join(line.split())[:PDF_LINE_CHARS]
            if text:
                lines.setdefault(text)
                if len(lines) >= PDF_MAX_LINES:
                    return tuple(lines)
    return tuple(lines)


def _outline_titles(outline: Iterable[Any]) -> Iterator[str]:
    """Depth-first titles of a pypdf outline: a list holds destinations, with a nested list for children."""
    for item in outline:
        if isinstance(item, list):
            yield from _outline_titles(item)
            continue
        title = " ".join(str(getattr(item, "title", "") or "").split())
        if title:
            yield title

"""Document facts from real files: Markdown, DOCX made with python-docx, PDF made with fpdf2 (with and without
bookmarks), damaged and unsupported files, and hashing that matches hashlib whatever the file size."""

from __future__ import annotations

import hashlib
import io
import os
import random
from pathlib import Path

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from phasegate.gates.vocabulary.errors import InputError
from phasegate.models.documents import CHUNK, PDF_LINE_CHARS, current_sha256, inspect_document, markdown_headings

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- Markdown ----------------------------------------------------------------------------------------------

MARKDOWN = """---
title: Project charter
owner: alice
---
# 1. Objectives

Body text with a # hash in it.

## Scope ##

Budget and
funding
=======

```python
# not a heading: inside a fenced block
```

~~~~
## also not a heading
~~~
## still inside: a shorter fence does not close it
~~~~

    # indented code, not a heading

Risks
-----

- a list item
---

####### seven hashes is a paragraph
#hashtag is a paragraph too
### Closing: C#
"""


def test_markdown_headings_atx_setext_outside_fences(tmp_path: Path) -> None:
    path = tmp_path / "charter.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    facts = inspect_document(path)
    assert facts.headings == ("1. Objectives", "Scope", "Budget and funding", "Risks", "Closing: C#")
    assert facts.format == "md"
    assert facts.sha256 == sha(path)
    assert facts.size == len(MARKDOWN.encode())
    assert facts.unreadable_reason is None


def test_markdown_without_front_matter_keeps_a_leading_setext_heading() -> None:
    assert list(markdown_headings("Title\n=====\ntext\n")) == ["Title"]
    assert list(markdown_headings("---\nnot closed front matter\n")) == []


def test_markdown_in_gb18030_and_with_bom(tmp_path: Path) -> None:
    gbk = tmp_path / "章程.MARKDOWN"
    gbk.write_bytes("# 一、项目目标\n\n正文\n\n## 第二章 范围\n".encode("gb18030"))
    facts = inspect_document(gbk)
    assert facts.format == "markdown"
    assert facts.headings == ("一、项目目标", "第二章 范围")
    bom = tmp_path / "bom.md"
    bom.write_bytes(b"\xef\xbb\xbf# Scope\n")
    assert inspect_document(bom).headings == ("Scope",)


# --- DOCX --------------------------------------------------------------------------------------------------


def write_docx(path: Path) -> None:
    document = docx.Document()
    document.add_heading("Project charter", 0)  # "Title" style
    document.add_heading("1. Objectives", 1)
    document.add_paragraph("Normal body text that is not a heading.")
    document.add_heading("2.3 Scope", 2)
    wps = document.styles.add_style("标题 1", WD_STYLE_TYPE.PARAGRAPH)  # WPS writes localized style names
    document.add_paragraph("预算", style=wps)
    by_id = document.styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    by_id.style_id = "3"  # Chinese Word gives heading styles bare level numbers as ids
    document.add_paragraph("Milestones", style=by_id)
    custom = document.styles.add_style("Company Heading", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 1"]  # inherits the outline level
    document.add_paragraph("Risks", style=custom)
    body_level = document.styles.add_style("Sidebar", WD_STYLE_TYPE.PARAGRAPH)
    body_level.element.get_or_add_pPr().get_or_add_outlineLvl().val = 9  # 9 is body text, not a heading
    document.add_paragraph("Sidebar text", style=body_level)
    direct = document.add_paragraph("Stakeholders")
    direct._p.get_or_add_pPr().get_or_add_outlineLvl().val = 1  # outline level set on the paragraph itself
    document.add_heading("   ", 1)  # an empty heading is skipped
    table = document.add_table(rows=1, cols=1)
    cell = table.cell(0, 0).paragraphs[0]
    cell.text = "Approvals"
    cell.style = document.styles["Heading 3"]
    document.save(str(path))


def test_docx_headings_by_style(tmp_path: Path) -> None:
    path = tmp_path / "Charter.DOCX"
    write_docx(path)
    facts = inspect_document(path)
    assert facts.format == "docx"
    assert facts.headings == (
        "Project charter",
        "1. Objectives",
        "2.3 Scope",
        "预算",
        "Milestones",
        "Risks",
        "Stakeholders",
        "Approvals",
    )
    assert facts.unreadable_reason is None
    assert facts.sha256 == sha(path) and facts.size == path.stat().st_size


@pytest.mark.parametrize(
    ("name", "content", "mentions"),
    [
        ("random.docx", random.Random(1).randbytes(2000), "docx"),
        ("empty.docx", b"", "docx"),
        ("random.pdf", b"%PDF-1.4\n" + random.Random(2).randbytes(2000), "pdf"),
        ("text.pdf", b"this is not a pdf at all", "pdf"),
    ],
    ids=["random.docx", "empty.docx", "random.pdf", "text.pdf"],  # xdist workers must collect the same ids
)
def test_damaged_files_have_no_headings_and_a_reason(tmp_path: Path, name: str, content: bytes, mentions: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    facts = inspect_document(path)
    assert facts.headings is None
    assert facts.unreadable_reason is not None and mentions in facts.unreadable_reason
    assert facts.sha256 == hashlib.sha256(content).hexdigest()
    assert facts.size == len(content)


def test_zip_that_is_not_a_word_document(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "plan.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    facts = inspect_document(path)
    assert facts.headings is None and facts.unreadable_reason is not None


# --- PDF ---------------------------------------------------------------------------------------------------

LONG_LINE = "Body text " * 9 + "x" * 200


def pdf_bytes(*, bookmarks: bool) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for title, level in (("1. Scope", 0), ("2. Budget", 0), ("2.1 Contingency", 1)):
        if bookmarks:
            pdf.start_section(title, level=level)
        pdf.cell(text=title, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 5, text="Body text " * 25)
    pdf.set_font("Helvetica", size=3)  # tiny, so this one line stays longer than PDF_LINE_CHARS
    pdf.cell(text=LONG_LINE, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_pdf_bookmarks_are_the_headings(tmp_path: Path) -> None:
    path = tmp_path / "plan.pdf"
    path.write_bytes(pdf_bytes(bookmarks=True))
    facts = inspect_document(path)
    assert facts.headings == ("1. Scope", "2. Budget", "2.1 Contingency")
    assert facts.format == "pdf" and facts.unreadable_reason is None


def test_pdf_without_bookmarks_gives_its_distinct_text_lines(tmp_path: Path) -> None:
    path = tmp_path / "plan.pdf"
    path.write_bytes(pdf_bytes(bookmarks=False))
    facts = inspect_document(path)
    assert facts.headings is not None
    assert facts.headings[0] == "1. Scope"
    assert "2. Budget" in facts.headings and "2.1 Contingency" in facts.headings
    assert len(facts.headings) == len(set(facts.headings))
    assert all(0 < len(line) <= PDF_LINE_CHARS for line in facts.headings)
    assert LONG_LINE[:PDF_LINE_CHARS] in facts.headings


def encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(bookmarks=True))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_password_protected_pdf_is_unreadable_but_open_encryption_is_read(tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypted("secret"))
    facts = inspect_document(locked)
    assert facts.headings is None
    assert facts.unreadable_reason is not None and "password" in facts.unreadable_reason
    opened = tmp_path / "open.pdf"
    opened.write_bytes(encrypted(""))
    assert inspect_document(opened).headings == ("1. Scope", "2. Budget", "2.1 Contingency")


# --- other formats, errors, hashing ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["budget.xlsx", "schedule.mpp", "notes.txt", "README"])
def test_formats_without_sections(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"# looks like a heading but the format has no sections\n")
    facts = inspect_document(path)
    assert facts.headings is None and facts.unreadable_reason is None
    assert facts.format == (name.rsplit(".", 1)[1] if "." in name else "")


def test_missing_file_and_directory_are_input_errors(tmp_path: Path) -> None:
    missing = tmp_path / "gone.md"
    with pytest.raises(InputError, match=r"^FILE: cannot read '.*gone\.md': No such file or directory$"):
        inspect_document(missing)
    with pytest.raises(InputError, match=r"^FILE: '.*' is a directory, not a regular file; "):
        inspect_document(tmp_path)


def test_large_file_hashes_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "model.xlsx"
    content = os.urandom(CHUNK * 2 + 12345)
    path.write_bytes(content)
    facts = inspect_document(path)
    assert facts.sha256 == hashlib.sha256(content).hexdigest()
    assert facts.size == len(content)
    assert current_sha256(path) == facts.sha256


def test_current_sha256_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "charter.md"
    path.write_text("# Scope\n", encoding="utf-8")
    registered = inspect_document(path).sha256
    assert current_sha256(path) == registered
    path.write_text("# Scope\nchanged\n", encoding="utf-8")
    assert current_sha256(path) == sha(path) != registered
    path.unlink()
    assert current_sha256(path) is None
    assert current_sha256(tmp_path) is None


# --- caps and the document store ---------------------------------------------------------------------------


def test_pdf_pages_and_docx_xml_over_their_caps_are_refused(tmp_path: Path) -> None:
    from phasegate.gates.vocabulary.limits import IntakeLimits
    from phasegate.models.file_intake import FileTooLargeError

    pdf = FPDF()
    for page in range(5):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.cell(text=f"Section {page}")
    path = tmp_path / "plan.pdf"
    pdf.output(str(path))
    assert inspect_document(path, limits=IntakeLimits(pdf_pages=5)).headings is not None
    with pytest.raises(FileTooLargeError, match=r"has 5 pages; PDFs read for sections may have at most 4 pages "):
        inspect_document(path, limits=IntakeLimits(pdf_pages=4))

    charter = tmp_path / "charter.docx"
    document = docx.Document()
    document.add_heading("Scope", 1)
    document.save(str(charter))
    assert inspect_document(charter).headings == ("Scope",)
    with pytest.raises(FileTooLargeError, match=r"of XML once unzipped; .*PHASEGATE_MAX_DOCX_XML_MB"):
        inspect_document(charter, limits=IntakeLimits(docx_xml_bytes=1000))


def test_the_store_writes_once_read_only_and_repairs_a_tampered_copy(tmp_path: Path) -> None:
    from phasegate.models.document_store import DocumentStore

    store = DocumentStore(tmp_path / "store")
    path = tmp_path / "charter.md"
    path.write_text("# Scope\n", encoding="utf-8")
    first = store.put(path)
    assert first.created and first.key == f"sha256/{sha(path)[:2]}/{sha(path)[2:]}" and first.headings == ("Scope",)
    copy = store.path_of(first.key)
    assert copy.read_bytes() == path.read_bytes() and copy.stat().st_mode & 0o777 == 0o444
    assert not store.put(path).created, "the same bytes are stored once"
    assert list((tmp_path / "store" / "tmp").iterdir()) == [], "no staging file is left behind"

    copy.chmod(0o644)
    copy.write_text("# forged\n", encoding="utf-8")
    assert store.sha256_of(first.key) != first.sha256
    assert store.put(path).created and store.sha256_of(first.key) == first.sha256

    store.forget(first)
    assert store.sha256_of(first.key) is None
    with pytest.raises(ValueError, match="not a document store key"):
        store.path_of("../../etc/passwd")
    assert store.sha256_of("/etc/passwd") is None, "an original path is never read through the store"

"""Size caps on what phasegate reads from outside: documents, imports, section extraction, HTTP bodies.

Why caps at all: a gate engine reads files that people hand it, and parsers multiply their input. A 300,000-row
XLSX took 42 s and 730 MB to import, a DOCX whose XML unzips to 68 MB took 1.1 GB to read for its headings, and
``/dev/zero`` registered as a deliverable hung a server thread forever. Each cap is a setting
(``PHASEGATE_<NAME>``); every refusal names the file or field, the cap and that setting, so a PMO with a real
need knows what to raise. The defaults are far above any deliverable or status report seen in practice.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MB = 1024 * 1024


class IntakeLimits(BaseModel):
    """The caps in force, in bytes, rows and pages; built from ``Settings`` by entry points."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    document_bytes: int = Field(default=50 * MB, ge=1)
    import_bytes: int = Field(default=20 * MB, ge=1)
    import_rows: int = Field(default=100_000, ge=1)
    xlsx_unzipped_bytes: int = Field(default=50 * MB, ge=1)
    docx_xml_bytes: int = Field(default=20 * MB, ge=1)
    pdf_pages: int = Field(default=2_000, ge=1)
    request_bytes: int = Field(default=1 * MB, ge=1)


SETTING = {
    "document_bytes": "PHASEGATE_MAX_DOCUMENT_MB",
    "import_bytes": "PHASEGATE_MAX_IMPORT_MB",
    "import_rows": "PHASEGATE_MAX_IMPORT_ROWS",
    "xlsx_unzipped_bytes": "PHASEGATE_MAX_XLSX_UNZIPPED_MB",
    "docx_xml_bytes": "PHASEGATE_MAX_DOCX_XML_MB",
    "pdf_pages": "PHASEGATE_MAX_PDF_PAGES",
    "request_bytes": "PHASEGATE_MAX_REQUEST_KB",
}
"""The environment variable that raises each cap: every refusal names it."""

DEFAULT_LIMITS = IntakeLimits()


def megabytes(size: int) -> str:
    """A size as people read it in a refusal: ``61.2 MB``, ``512 KB``, ``20 MB``."""
    if size >= MB:
        return f"{size / MB:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{size} bytes"


def raise_hint(name: str) -> str:
    """The tail of every refusal: which setting changes the cap."""
    return f"set {SETTING[name]} to change the limit"

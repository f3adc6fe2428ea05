"""What the intake caps cost and save: files that used to take tens of seconds and gigabytes, refused at once.

Builds, in a temporary folder, a 300,000-row risk register as XLSX (openpyxl, write-only) and as CSV, and a
DOCX whose XML unzips to 68 MB, then times the default caps refusing them; then times the largest import the
caps allow (100,000 rows) and copying a 50 MB document into the document store. Each figure is printed as a
``name: value`` line; ``peak_rss_mb`` is the process's high-water mark at the end.

    .venv/bin/python bench/intake.py [--rows 300000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from phasegate.gates.vocabulary.errors import InputError
from phasegate.models.document_store import DocumentStore
from phasegate.models.documents import inspect_document
from phasegate.models.imports import parse_risks

HEADER = ("project", "id", "title", "probability", "impact", "owner", "response")


def _row(number: int) -> tuple[object, ...]:
    return (f"P{number % 500}", f"R-{number}", f"Supplier delay on work package {number}", 3, 4, "alice", "mitigate")


def _xlsx(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("risks")
    sheet.append(HEADER)
    for number in range(rows):
        sheet.append(_row(number))
    book.save(str(path))


def _csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(HEADER) + "\n")
        for number in range(rows):
            out.write(",".join(str(v) for v in _row(number)) + "\n")


def _docx_bomb(path: Path, xml_mb: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w") as part:
            for _ in range(xml_mb):
                part.write(b" " * (1024 * 1024))


def _refusal(call: object) -> float:
    start = time.perf_counter()
    try:
        call()  # type: ignore[operator]
    except InputError:
        return time.perf_counter() - start
    raise SystemExit("expected a refusal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="phasegate-intake-") as folder:
        root = Path(folder)
        xlsx = root / "risks.xlsx"
        _xlsx(xlsx, args.rows)
        with zipfile.ZipFile(xlsx) as archive:
            unzipped = sum(i.file_size for i in archive.infolist())
        print(f"xlsx_{args.rows}_rows_file_mb: {xlsx.stat().st_size / 2**20:.1f}")
        print(f"xlsx_{args.rows}_rows_unzipped_mb: {unzipped / 2**20:.1f}")
        print(f"xlsx_{args.rows}_rows_refused_seconds: {_refusal(lambda: parse_risks(xlsx)):.3f}")

        csv = root / "risks.csv"
        _csv(csv, args.rows)
        print(f"csv_{args.rows}_rows_refused_seconds: {_refusal(lambda: parse_risks(csv)):.3f}")

        docx = root / "charter.docx"
        _docx_bomb(docx, 68)
        print(f"docx_68mb_xml_file_kb: {docx.stat().st_size / 1024:.0f}")
        print(f"docx_68mb_xml_refused_seconds: {_refusal(lambda: inspect_document(docx)):.3f}")

        allowed = root / "allowed.xlsx"
        _xlsx(allowed, 100_000)
        start = time.perf_counter()
        parse_risks(allowed)
        print(f"xlsx_100000_rows_import_seconds: {time.perf_counter() - start:.2f}")

        document = root / "model.xlsx"
        document.write_bytes(os.urandom(50 * 2**20))
        store = DocumentStore(root / "store")
        start = time.perf_counter()
        store.put(document)
        print(f"store_50mb_document_seconds: {time.perf_counter() - start:.2f}")
    print(f"peak_rss_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()

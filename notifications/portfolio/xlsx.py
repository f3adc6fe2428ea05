"""The report as a workbook: one sheet per table with numbers kept as numbers, and a sheet of the charts."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from phasegate.gates.portfolio import PortfolioReport
from phasegate.notifications.portfolio.charts import Chart
from phasegate.notifications.portfolio.labels import word
from phasegate.notifications.portfolio.tables import Cell, Table, decisions_table, portfolio_table, risks_table

SHEETS = ("portfolio", "decisions", "risks", "rag_trend", "s_curve", "charts")


def _cell(value: Cell) -> object:
    if isinstance(value, Decimal):
        return float(value)  # spreadsheets compute in binary floating point; the exact figure is in the text views
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones; every time in the report is UTC
    return value


def _fill(sheet: Worksheet, table: Table) -> None:
    headers, rows = table
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(v) for v in row])
    sheet.freeze_panes = "A2"


def render_xlsx(report: PortfolioReport, lang: str, charts: list[Chart]) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = word(lang, "portfolio")[:31]
    _fill(first, portfolio_table(report, lang))
    _fill(book.create_sheet(word(lang, "decisions")[:31]), decisions_table(report, lang))
    _fill(book.create_sheet(word(lang, "risks")[:31]), risks_table(report, lang))
    trend: list[list[Cell]] = [[w.week_end, w.green, w.amber, w.red, w.unknown] for w in report.rag_trend]
    _fill(
        book.create_sheet("RAG"),
        ([word(lang, k) for k in ("week", "green", "amber", "red", "unknown")], trend),
    )
    curve: list[list[Cell]] = [[p.on, p.pv, p.ev, p.ac] for p in report.s_curve]
    _fill(book.create_sheet("S-curve"), ([word(lang, k) for k in ("week", "pv", "ev", "ac")], curve))
    pictures = book.create_sheet("Charts")
    for index, chart in enumerate(charts):
        image = Image(io.BytesIO(chart.png))
        pictures.add_image(image, f"A{1 + index * 22}")
    meta = book.create_sheet("Report")
    meta.append([word(lang, "title"), report.period.label])
    meta.append([word(lang, "period"), report.period.start, report.period.end])
    meta.append([word(lang, "generated"), report.generated_at.replace(tzinfo=None)])
    meta.append([word(lang, "exceptions"), word(lang, "not_yet_available")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_xlsx(table: Table, title: str) -> bytes:
    """One table as a workbook (the dashboard's filtered portfolio table)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    _fill(sheet, table)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

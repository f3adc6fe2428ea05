"""The report as a PDF (A4 landscape) with the font embedded, so Chinese reads the same on every machine."""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from phasegate.gates.portfolio import PRINTED_ROWS, PortfolioReport, needing_attention
from phasegate.notifications.portfolio.charts import Chart
from phasegate.notifications.portfolio.labels import word
from phasegate.notifications.portfolio.tables import (
    Table,
    decisions_table,
    exceptions_table,
    maturity_heading,
    maturity_table,
    portfolio_table,
    prioritisation_summary,
    prioritisation_table,
    risks_table,
    text,
)

HEADING = FontFace(emphasis="BOLD", fill_color=(238, 238, 238))


HEADER_WIDTH = 8


def _width(value: str) -> int:
    """Printed width in Latin letters: a CJK character takes about two."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in value)


def _header_width(word: str) -> int:
    width = _width(word)
    return min(width, HEADER_WIDTH) if width > len(word) else width


def column_widths(printed: list[list[str]]) -> tuple[int, ...]:
    """Relative column widths: each column's widest cell, its header counted by its longest word (headers wrap
    between words, Chinese ones anywhere: ``HEADER_WIDTH``), so a long header never squeezes the dates and figures
    beneath it."""
    headers, *rows = printed
    return tuple(
        max([_header_width(w) for w in str(header).split()] + [_width(row[i]) for row in rows] + [2]) + 1
        for i, header in enumerate(headers)
    )


class _Report(FPDF):
    def __init__(self, font: Path | None) -> None:
        super().__init__(orientation="landscape", format="A4")
        self.set_auto_page_break(auto=True, margin=12)
        self.set_creator("phasegate")
        self.set_margins(10, 10, 10)
        if font is not None:
            self.add_font("report", "", str(font))
            self.add_font("report", "B", str(font))
            self.family = "report"
        else:
            self.family = "helvetica"

    def say(self, value: str) -> str:
        """Text as the font can print it: the core font covers Latin-1 only (an English report without a CJK font)."""
        if self.family == "report":
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    def heading(self, value: str, size: int = 13) -> None:
        self.set_font(self.family, "B", size)
        self.cell(0, 8, self.say(value), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 8)

    def note(self, value: str) -> None:
        self.set_font(self.family, "", 9)
        self.multi_cell(0, 5, self.say(value), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def grid(self, table: Table, size: float = 6.5) -> None:
        headers, rows = table
        if not rows:
            self.note(word("en", "none") if self.family != "report" else "-")
            return
        self.set_font(self.family, "", size)
        printed = [list(headers), *[[text(c) for c in r] for r in rows]]
        with self.table(
            headings_style=HEADING,
            line_height=size * 0.55,
            first_row_as_headings=True,
            col_widths=column_widths(printed),
        ) as grid:
            for row in printed:
                line = grid.row()
                for cell in row:
                    line.cell(self.say(str(cell)))
        self.ln(3)


def render_pdf(report: PortfolioReport, lang: str, charts: list[Chart], *, font: Path | None) -> bytes:
    pdf = _Report(font)
    pdf.set_title(f"{word(lang, 'title')} {report.period.label}")
    pdf.add_page()
    pdf.heading(f"{word(lang, 'title')}: {report.period.label}", 16)
    totals = ", ".join(f"{word(lang, k)} {v}" for k, v in report.totals.items())
    pdf.note(
        f"{word(lang, 'period')}: {report.period.start} - {report.period.end}   "
        f"{word(lang, 'generated')}: {text(report.generated_at)}   {word(lang, 'totals')}: {totals}"
    )
    width = (pdf.epw - 6) / 2
    for index, chart in enumerate(charts):
        if index % 2 == 0 and index:
            pdf.ln(width * 3.6 / 7 + 2)
        if pdf.get_y() + width * 3.6 / 7 > pdf.h - 12:
            pdf.add_page()
        x = pdf.l_margin + (index % 2) * (width + 6)
        pdf.image(io.BytesIO(chart.png), x=x, y=pdf.get_y(), w=width)
    pdf.add_page()
    pdf.heading(word(lang, "portfolio"))
    if len(report.rows) <= PRINTED_ROWS:
        pdf.grid(portfolio_table(report, lang))
    else:  # ten thousand projects are not a management report: those needing attention, the rest in HTML/XLSX
        shown = needing_attention(report.rows)
        pdf.note(word(lang, "attention_note").format(shown=len(shown), total=len(report.rows)))
        pdf.grid(portfolio_table(report, lang, shown))
    pdf.heading(word(lang, "decisions"))
    pdf.grid(decisions_table(report, lang), 7.5)
    pdf.heading(word(lang, "exceptions"))
    pdf.grid(exceptions_table(report, lang), 7.5)
    pdf.heading(word(lang, "risks"))
    pdf.grid(risks_table(report, lang), 7.5)
    if report.maturity is not None:
        pdf.heading(maturity_heading(report, lang))
        pdf.grid(maturity_table(report, lang), 7.5)
    if report.prioritisation is not None:
        pdf.heading(word(lang, "prioritisation"))
        pdf.note(prioritisation_summary(report, lang))
        pdf.grid(prioritisation_table(report, lang))
    return bytes(pdf.output())

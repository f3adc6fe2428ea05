"""The report as a PDF (A4 landscape) with the font embedded, so Chinese reads the same on every machine."""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from phasegate.gates.portfolio import PortfolioReport
from phasegate.notifications.portfolio.charts import Chart
from phasegate.notifications.portfolio.labels import word
from phasegate.notifications.portfolio.tables import Table, decisions_table, portfolio_table, risks_table, text

HEADING = FontFace(emphasis="BOLD", fill_color=(238, 238, 238))


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
        with self.table(headings_style=HEADING, line_height=size * 0.55, first_row_as_headings=True) as grid:
            for row in [list(headers), *[[text(c) for c in r] for r in rows]]:
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
    pdf.grid(portfolio_table(report, lang))
    pdf.heading(word(lang, "decisions"))
    pdf.grid(decisions_table(report, lang), 7.5)
    pdf.heading(word(lang, "exceptions"))
    pdf.note(word(lang, "not_yet_available"))
    pdf.heading(word(lang, "risks"))
    pdf.grid(risks_table(report, lang), 7.5)
    return bytes(pdf.output())

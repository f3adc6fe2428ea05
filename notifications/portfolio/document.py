"""One entry point for every format: render the charts once, then the document the caller asked for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phasegate.gates.portfolio import PortfolioReport
from phasegate.gates.vocabulary.errors import InputError, ReportFontError
from phasegate.notifications.portfolio import FORMATS, LANGS
from phasegate.notifications.portfolio.fonts import cjk_font

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class RenderedReport:
    format: str
    lang: str
    content: bytes
    file_name: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def check_choice(fmt: str, lang: str) -> None:
    """``InputError`` naming the option and what is allowed, before any work is done."""
    if fmt not in FORMATS:
        raise InputError(f"--format: {fmt!r} is not a report format; use one of: {', '.join(FORMATS)}")
    if lang not in LANGS:
        raise InputError(f"--lang: {lang!r} is not a report language; use one of: {', '.join(LANGS)}")


def report_font(lang: str, configured: Path | None) -> Path | None:
    """Chinese needs the font (a clear error without it); English uses it when there is one, for Chinese names."""
    try:
        return cjk_font(configured)
    except ReportFontError:
        if lang == "zh-CN" or configured is not None:
            raise
        return None


def render(report: PortfolioReport, fmt: str, lang: str, *, font_setting: Path | None = None) -> RenderedReport:
    check_choice(fmt, lang)
    from phasegate.notifications.portfolio.charts import render_charts

    font = report_font(lang, font_setting)
    charts = render_charts(report, lang, font=font)
    if fmt == "html":
        from phasegate.notifications.portfolio.html import render_html

        content = render_html(report, lang, charts).encode("utf-8")
    elif fmt == "xlsx":
        from phasegate.notifications.portfolio.xlsx import render_xlsx

        content = render_xlsx(report, lang, charts)
    else:
        from phasegate.notifications.portfolio.pdf import render_pdf

        content = render_pdf(report, lang, charts, font=font)
    return RenderedReport(fmt, lang, content, f"portfolio-{report.period.label}.{lang}.{fmt}")

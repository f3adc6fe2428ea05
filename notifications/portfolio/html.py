"""The report as one self-contained HTML page (inline SVG charts), in English or Chinese."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from phasegate.gates.portfolio import PortfolioReport
from phasegate.notifications.portfolio.charts import Chart
from phasegate.notifications.portfolio.labels import labels, word
from phasegate.notifications.portfolio.tables import decisions_table, portfolio_table, risks_table, text

_ENV = Environment(
    loader=PackageLoader("phasegate.notifications", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def chart_markup(chart: Chart) -> Markup:
    """matplotlib's SVG without its XML prolog, to sit inside a page (it is our own output, not user text)."""
    svg = chart.svg
    return Markup(svg[svg.index("<svg") :])


def render_html(report: PortfolioReport, lang: str, charts: list[Chart]) -> str:
    return _ENV.get_template("report_portfolio.html.j2").render(
        report=report,
        lang=lang,
        t=labels(lang),
        word=lambda key: word(lang, key),
        text=text,
        charts=[(c.title, chart_markup(c)) for c in charts],
        portfolio=portfolio_table(report, lang),
        decisions=decisions_table(report, lang),
        risks=risks_table(report, lang),
    )

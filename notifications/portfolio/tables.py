"""The report's tables as headers and typed cells, so XLSX keeps numbers as numbers and every format agrees.

A cell is ``str``, ``int``, ``float``, ``Decimal``, ``date``, ``datetime`` or ``None`` (shown empty).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from phasegate.gates.portfolio import PortfolioReport
from phasegate.notifications.portfolio.labels import stage_name, word

Cell = str | int | float | Decimal | date | datetime | None
Table = tuple[list[str], list[list[Cell]]]

PORTFOLIO_COLUMNS = (
    "project", "name", "template", "stage", "status", "sponsor", "as_of", "cpi", "spi", "eac", "bac",
    "budget_rag", "schedule_rag", "next_gate", "next_gate_due", "open_conditions", "open_exceptions",
)  # fmt: skip


def portfolio_table(report: PortfolioReport, lang: str) -> Table:
    """One row per project; open exceptions say "not yet available" until tolerances exist (issue #14)."""
    rows: list[list[Cell]] = [
        [
            r.key,
            r.name,
            r.template_id,
            stage_name(lang, r),
            word(lang, r.status),
            r.sponsor,
            r.as_of,
            r.cpi,
            r.spi,
            r.eac,
            r.bac,
            word(lang, r.budget_rag),
            word(lang, r.schedule_rag),
            r.next_gate,
            r.next_gate_due,
            r.open_conditions,
            word(lang, "not_yet_available"),
        ]
        for r in report.rows
    ]
    return [word(lang, c) for c in PORTFOLIO_COLUMNS], rows


def decisions_table(report: PortfolioReport, lang: str) -> Table:
    headers = [word(lang, c) for c in ("project", "gate", "decision", "decided_at", "decided_by", "reason")]
    rows: list[list[Cell]] = [
        [d.project_key, d.gate_id, word(lang, d.decision), d.decided_at, ", ".join(d.decided_by), d.reason]
        for d in report.decisions
    ]
    return headers, rows


def risks_table(report: PortfolioReport, lang: str) -> Table:
    headers = [word(lang, c) for c in ("project", "risk", "name", "owner", "probability", "impact", "score")]
    rows: list[list[Cell]] = [
        [r.project_key, r.id, r.title, r.owner, r.probability, r.impact, r.probability * r.impact]
        for r in report.top_risks
    ]
    return headers, rows


def text(cell: Cell) -> str:
    """A cell as printed in HTML and PDF: dates ISO, times to the minute in UTC, ratios and money as stored."""
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float):
        return f"{cell:.2f}"
    if isinstance(cell, Decimal):
        return format(cell, ",f")
    return str(cell)


def csv_text(table: Table) -> str:
    """The table as CSV (RFC 4180, UTF-8 with a BOM so spreadsheet programs read Chinese right)."""
    import csv
    import io

    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    headers, rows = table
    writer.writerow(headers)
    for row in rows:
        writer.writerow(
            ["" if cell is None else (str(cell) if not isinstance(cell, float) else repr(cell)) for cell in row]
        )
    return out.getvalue()

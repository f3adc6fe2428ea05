"""The report's tables as headers and typed cells, so XLSX keeps numbers as numbers and every format agrees.

A cell is ``str``, ``int``, ``float``, ``Decimal``, ``date``, ``datetime`` or ``None`` (shown empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from phasegate.gates.portfolio import MONITORED, PortfolioReport, PortfolioRow
from phasegate.notifications.portfolio.labels import stage_name, word

Cell = str | int | float | Decimal | date | datetime | None
Table = tuple[list[str], list[list[Cell]]]

PORTFOLIO_COLUMNS = (
    "project", "name", "template", "stage", "status", "sponsor", "as_of", "cpi", "spi", "eac", "bac",
    "budget_rag", "schedule_rag", "rag_time", "rag_cost", "rag_quality", "rag_risk", "rag_overall",
    "next_gate", "next_gate_due", "open_conditions", "open_exceptions",
)  # fmt: skip


def rag_word(lang: str, rag: str) -> str:
    """A colour's word; ``none`` (no tolerance, or nothing recorded) is not the "none in this period" note."""
    return word(lang, "none_rag" if rag == "none" else rag)


def portfolio_table(report: PortfolioReport, lang: str, rows: Sequence[PortfolioRow] | None = None) -> Table:
    """One row per project (of ``rows``, default all): EVM bands, the monitor's RAG per dimension, open
    conditions and exceptions."""
    printed: list[list[Cell]] = [
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
            *(rag_word(lang, getattr(r, f"rag_{d}")) for d in MONITORED),
            r.next_gate,
            r.next_gate_due,
            r.open_conditions,
            r.open_exceptions,
        ]
        for r in (report.rows if rows is None else rows)
    ]
    return [word(lang, c) for c in PORTFOLIO_COLUMNS], printed


def exceptions_table(report: PortfolioReport, lang: str) -> Table:
    """The exceptions raised or decided in the period: the breach, whose tolerance, and what was decided."""
    columns = (
        "project",
        "dimension",
        "scope",
        "tolerance_level",
        "owner",
        "baseline",
        "forecast",
        "deviation",
        "allowance",
    )
    headers = [word(lang, c) for c in (*columns, "raised_at", "status", "decided_at", "decided_by")]
    rows: list[list[Cell]] = [
        [
            e.project_key,
            word(lang, f"dim_{e.dimension}"),
            word(lang, "whole_project") if e.scope == "*" else e.scope,
            word(lang, e.level),
            e.owner_id,
            e.baseline,
            e.forecast,
            e.deviation,
            e.allowance,
            e.raised_at,
            word(lang, e.decision) if e.decision else word(lang, "exception_open"),
            e.decided_at,
            e.decided_by,
        ]
        for e in report.exceptions
    ]
    return headers, rows


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


def maturity_table(report: PortfolioReport, lang: str) -> Table:
    """One row per maturity dimension of the quarter: level (empty without evidence), evidence, next step."""
    headers = [word(lang, c) for c in ("dimension", "level", "evidence", "next_step")]
    if report.maturity is None:
        return headers, []
    zh = lang == "zh-CN"
    rows: list[list[Cell]] = [
        [
            d.name_zh if zh else d.name,
            d.level,
            d.evidence_zh if zh else d.evidence,
            d.next_step_zh if zh else d.next_step,
        ]
        for d in report.maturity.current.dimensions
    ]
    return headers, rows


def maturity_heading(report: PortfolioReport, lang: str) -> str:
    if report.maturity is None:
        return word(lang, "maturity")
    current = report.maturity.current
    level = "-" if current.overall is None else str(current.overall)
    return f"{word(lang, 'maturity')} {current.quarter}: {word(lang, 'maturity_overall')} {level}"


PRIORITY_COLUMNS = (
    "rank", "selected", "project", "name", "status", "remaining_cost", "expected_benefit", "value_per_cost",
    "scorecard", "why",
)  # fmt: skip


def prioritisation_table(report: PortfolioReport, lang: str) -> Table:
    """The ranking with the proposed selection; each project left out says why (empty when none was asked)."""
    proposal = report.prioritisation
    headers = [word(lang, c) for c in PRIORITY_COLUMNS]
    if proposal is None:
        return headers, []
    zh = lang == "zh-CN"
    rows: list[list[Cell]] = [
        [
            r.rank,
            word(lang, "yes") if r.selected else "",
            r.key,
            r.name,
            word(lang, r.status),
            r.cost,
            r.benefit,
            r.value_per_cost,
            r.score,
            "" if r.selected else (r.detail_zh if zh else r.detail),
        ]
        for r in proposal.ranked
    ]
    return headers, rows


def prioritisation_summary(report: PortfolioReport, lang: str) -> str:
    """One line: the budget, how many selected, what they cost and bring, and that capacity is not modelled."""
    proposal = report.prioritisation
    if proposal is None:
        return ""
    line = word(lang, "prioritisation_summary").format(
        budget=f"{proposal.budget:,.2f}",
        count=len(proposal.selected),
        spent=f"{proposal.spent:,.2f}",
        unspent=f"{proposal.unspent:,.2f}",
        benefit=f"{proposal.total_benefit:,.2f}",
    )
    note = proposal.capacity_note_zh if lang == "zh-CN" else proposal.capacity_note
    return f"{line} ({note})"


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

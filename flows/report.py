"""Markdown and table renderings of evaluations, decisions and the portfolio report, for Prefect artifacts and
the terminal."""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

from phasegate.gates.portfolio import PortfolioReport, overall
from phasegate.gates.vocabulary.snapshots import Evaluation, RoundSnapshot
from phasegate.usecases.approvals import DecisionApplied


def evaluation_rows(evaluation: Evaluation) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "kind": c.kind.value,
            "result": c.result.replace("_", " "),
            "measured": c.measured or "",
            "threshold": c.threshold or "",
            "message": c.message,
            "remediation": c.remediation,
        }
        for c in evaluation.criteria
    ]


def evaluation_markdown(evaluation: Evaluation, *, round_id: UUID | None, approvers: tuple[str, ...]) -> str:
    lines = [
        f"# Gate review: {evaluation.project_key} at {evaluation.gate_id}",
        "",
        f"**Recommendation:** `{evaluation.recommendation.value.upper()}`",
        f"**Evidence hash:** `{evaluation.evidence_hash}`",
        "",
        "| criterion | result | measured | threshold | message |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in evaluation_rows(evaluation):
        lines.append(
            f"| `{row['code']}` | {row['result']} | {row['measured']} | {row['threshold']} | {row['message']} |"
        )
    lines += ["", "| deliverable | present | approved | version |", "| --- | --- | --- | --- |"]
    for d in evaluation.required_deliverables:
        lines.append(
            f"| {d.id} | {'yes' if d.present else 'no'} | {'yes' if d.approved else 'no'} | {d.version or ''} |"
        )
    lines.append("")
    if round_id is None:
        lines.append("**Not ready:** no approval round was opened. " + " ".join(evaluation.reasons))
    else:
        lines.append(f"**Approval round** `{round_id}` is open for: {', '.join(approvers)}.")
    return "\n".join(lines)


def decision_markdown(applied: DecisionApplied, current: RoundSnapshot) -> str:
    lines = [
        f"# Gate decision: {applied.project_key} at {applied.gate_id}",
        "",
        f"**Decision:** `{applied.decision.value.upper()}` → project is **{applied.status.value}**, stage "
        f"`{applied.stage_id}`",
        f"**Evidence hash voted on:** `{current.evidence_hash}`",
        "",
        "| approver | act | reason | cast at (UTC) | evidence |",
        "| --- | --- | --- | --- | --- |",
    ]
    for vote in current.votes:
        act = vote.decision.value if vote.decision else vote.kind.value
        state = "superseded" if vote.superseded else vote.evidence_hash[:12]
        lines.append(f"| {vote.signature} | {act} | {vote.reason} | {vote.cast_at.isoformat()} | {state} |")
    return "\n".join(lines)


def round_rows(current: RoundSnapshot) -> list[dict[str, Any]]:
    """One row per seat: who acted (and for whom), what, why, or that the request is pending or closed."""
    acts = {v.voter_id: v for v in current.live_votes}
    rows = []
    for seat in current.seats:
        person = str(seat.get("person_id"))
        vote = acts.get(person)
        state = "voted" if vote else ("closed" if person in current.closed_seats else "pending")
        rows.append(
            {
                "approver": person,
                "role": seat.get("role", ""),
                "state": state,
                "act": (vote.decision.value if vote.decision else vote.kind.value) if vote else "",
                "signed by": vote.signature if vote else "",
                "reason": vote.reason if vote else "",
            }
        )
    return rows


def portfolio_summary(report: PortfolioReport) -> dict[str, Any]:
    """The figures a management notice and the flow's summary artifact carry (the PDF carries the rest)."""
    active = [r for r in report.rows if r.status == "active"]
    bands = Counter(overall(r.budget_rag, r.schedule_rag) for r in active)
    return {
        "period": report.period.label,
        "period_start": report.period.start.isoformat(),
        "period_end": report.period.end.isoformat(),
        "projects": len(report.rows),
        "active": len(active),
        "rag": {band: bands[band] for band in ("green", "amber", "red", "unknown")},
        "decisions": len(report.decisions),
        "open_conditions": sum(r.open_conditions for r in report.rows),
    }


def portfolio_summary_rows(report: PortfolioReport) -> list[dict[str, Any]]:
    """The summary as a table artifact: one row per figure."""
    summary = portfolio_summary(report)
    rows = [{"figure": name, "value": summary[name]} for name in ("projects", "active", "decisions", "open_conditions")]
    rows += [{"figure": f"rag {band}", "value": count} for band, count in summary["rag"].items()]
    return rows


def portfolio_markdown(report: PortfolioReport, *, sent: bool, link: str | None) -> str:
    summary = portfolio_summary(report)
    rag = summary["rag"]
    lines = [
        f"# Portfolio report {report.period.label}",
        "",
        f"{summary['period_start']} to {summary['period_end']}: **{summary['projects']}** projects "
        f"({summary['active']} active); EVM RAG {rag['green']} green, {rag['amber']} amber, {rag['red']} red, "
        f"{rag['unknown']} without figures; {summary['decisions']} decisions; {summary['open_conditions']} open "
        "conditions.",
        "",
        "Sent to the `management` channels with the PDF attached."
        if sent
        else "Already sent for this period: nothing was sent again.",
    ]
    if link:
        lines += ["", f"[Open the report]({link})"]
    return "\n".join(lines)

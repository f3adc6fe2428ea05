"""CLI: Gate checks, reviews and votes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, acting, emit, now, runtime_for, sub_app
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Gate checks, reviews and votes.")


def _criterion_document(c: Any) -> dict[str, Any]:
    return {
        "code": c.code,
        "kind": c.kind.value,
        "passed": c.passed,
        "result": c.result,
        "remediable": c.remediable,
        "message": c.message,
        "message_zh": c.message_zh,
        "measured": c.measured,
        "threshold": c.threshold,
        "evidence_ref": c.evidence_ref,
        "remediation": c.remediation,
        "remediation_zh": c.remediation_zh,
    }


def evaluation_document(evaluation: Any, evidence: Any = None) -> dict[str, Any]:
    from phasegate.gates.evm import compute

    trace = [_criterion_document(c) for c in evaluation.criteria]
    doc: dict[str, Any] = {
        "project": evaluation.project_key,
        "gate": evaluation.gate_id,
        "recommendation": evaluation.recommendation.value,
        "reasons": list(evaluation.reasons),
        "evidence_hash": evaluation.evidence_hash,
        "criteria": [{k: t[k] for k in ("code", "passed", "message")} for t in trace],
        "trace": trace,
        "required_deliverables": [
            {"id": d.id, "present": d.present, "approved": d.approved, "version": d.version, "sha256": d.sha256}
            for d in evaluation.required_deliverables
        ],
    }
    if evidence is not None:
        doc["as_of"] = evidence.as_of.isoformat() if evidence.as_of else None
        doc["evm"] = compute(evidence.evm).as_json() if evidence.evm is not None else None
    return doc


def _print_evaluation(doc: dict[str, Any]) -> None:
    typer.echo(f"{doc['project']} at gate {doc['gate']}: recommendation {doc['recommendation'].upper()}")
    for c in doc["trace"]:
        mark = {"pass": "PASS", "fail": "FAIL", "missing_evidence": "MISS"}[c["result"]]
        measured = f" [{c['measured']} vs {c['threshold']}]" if c["measured"] is not None else ""
        typer.echo(f"  [{mark}] {c['code']}: {c['message']}{measured}")
        if not c["passed"] and c["remediation"]:
            typer.echo(f"         fix: {c['remediation']}")
    evm = doc.get("evm")
    if evm:
        typer.echo(
            f"  EVM as of {evm['as_of']}: CPI {evm['cpi']}  SPI {evm['spi']}  EAC {evm['eac_cpi']}  "
            f"VAC {evm['vac']}  TCPI {evm['tcpi_bac']}"
        )
    typer.echo(f"  evidence sha256 {doc['evidence_hash']}")


@app.command("check")
def gate_check(
    key: str,
    gate: Annotated[str | None, typer.Option("--gate", help="Preview another gate of the lifecycle")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Evaluate the project's current gate (or --gate); writes nothing."""
    from phasegate.usecases.assessment import check_gate

    rt = runtime_for(db)
    check = check_gate(key, uow=rt.reader, now=now(), probe=rt.probe, gate_id=gate, registry=rt.registry)
    doc = evaluation_document(check.evaluation, check.evidence)
    if as_json:
        emit(doc)
    else:
        _print_evaluation(doc)


@app.command("review")
def gate_review(
    key: str,
    requested_by: ActFor = None,
    meeting: Annotated[
        str | None, typer.Option("--meeting", help="Review meeting, e.g. 2026-12-03T10:00+08:00: approvers get an .ics")
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Run the gate-review flow: evaluate, record, open the approval round (or record why not) and notify."""
    from phasegate.flows.trigger import prepare_prefect, run_flow  # here: ``gate check`` runs no flow
    from phasegate.usecases import reviews

    meeting_at(meeting)
    rt = runtime_for(db)
    reviews.reviewable_gate(key, uow=rt.reader)  # fail fast on user mistakes, before paying for Prefect
    actor = acting(rt, requested_by)
    prepare_prefect()
    from phasegate.flows.gate_review import gate_review_flow

    sealed = rt.seal_actor(actor, project_key=key)
    result, state = run_flow(lambda: gate_review_flow(key, sealed, meeting, return_state=True))
    if as_json:
        emit(result | {"state": state.name})
        return
    print_review(key, result, state.name, sent=f"{result['dispatch'].get('sent', 0)} sent")


def meeting_at(meeting: str | None) -> Any:
    """``--meeting`` as an aware datetime (None when not given); a naive or malformed one is exit 2."""
    from datetime import datetime

    if meeting is None:
        return None
    try:
        when = datetime.fromisoformat(meeting)
    except ValueError:
        raise InputError(f"--meeting: {meeting!r} is not a date and time; use e.g. 2026-12-03T10:00+08:00") from None
    if when.tzinfo is None:
        raise InputError(f"--meeting: {meeting!r} needs a UTC offset, e.g. 2026-12-03T10:00+08:00")
    return when


def print_review(key: str, result: dict[str, Any], state: str, *, sent: str) -> None:
    """What ``gate review`` prints, locally and through the server (``sent``: who sends the requests)."""
    evaluation = result["evaluation"]
    typer.echo(
        f"{key} at gate {evaluation['gate_id']}: recommendation {evaluation['recommendation'].upper()} ({state})"
    )
    for c in evaluation["criteria"]:
        typer.echo(f"  [{'PASS' if c['passed'] else 'FAIL'}] {c['code']}: {c['message']}")
    if result["round_id"]:
        typer.echo(
            f"approval round {result['round_id']} open for {', '.join(result['approvers'])}; "
            f"{result['notifications']} notification(s) queued, {sent}"
        )
    else:
        typer.echo("not ready: no approval round opened")

"""CLI: votes, approval rounds, delegation, conditions, and what follows a decision (resume, close)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from flows.cli.common import Db, Json, command, emit, now, parse_date, parse_round_id, runtime_for, sub_app
from models.errors import InputError

rounds_app = sub_app("Approval rounds.")
conditions_app = sub_app("Conditions of CONDITIONAL_GO decisions.")

DECISIONS = ("go", "conditional_go", "recycle", "hold", "kill", "abstain", "recuse")  # models.commands.VOTE_CHOICES
VOTE_OPTIONS = {
    "decision": "--decision",
    "reason": "--reason",
    "voter_id": "--as",
    "conditions": "--condition",
    "on_behalf_of": "--on-behalf-of",
    "idempotency_key": "--idempotency-key",
}


def vote(
    round_ref: Annotated[str, typer.Argument(metavar="ROUND")],
    voter: Annotated[str, typer.Option("--as", help="Who acts (the approver, or their delegate)")],
    decision: Annotated[str, typer.Option("--decision", help=", ".join(DECISIONS))],
    reason: Annotated[str, typer.Option("--reason", help="Required for anything but go")] = "",
    on_behalf_of: Annotated[str | None, typer.Option("--on-behalf-of", help="The approver a delegate acts for")] = None,
    condition: Annotated[
        list[str] | None, typer.Option("--condition", help="TEXT;OWNER;DUE;VERIFICATION (conditional_go, repeatable)")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key", help="Retry-safe key")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Part 11 gates: read your password from stdin's first line (and a one-time code from the second)",
        ),
    ] = False,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Vote on an approval round; a deciding vote runs the gate-decision flow.

    On a gate that takes electronic signatures (``signature: part11``) the signer re-enters their password:
    at a prompt, or from stdin with --password-stdin.
    """
    from gates import approvals
    from models.commands import CastVote

    cmd = CastVote.from_door(
        round_id=parse_round_id(round_ref),
        voter_id=voter,
        choice=decision,
        reason=reason,
        on_behalf_of=on_behalf_of,
        conditions=condition or (),
        idempotency_key=idempotency_key,
        labels=VOTE_OPTIONS,
    )
    rt = runtime_for(db)
    signature = _signature_from_stdin() if password_stdin else None
    try:
        voted = rt.vote(cmd, signature=signature)
    except InputError as err:
        if err.code != approvals.SIGNATURE_REQUIRED or signature is not None:
            raise
        if not sys.stdin.isatty():
            raise InputError(
                f"--password-stdin: {err.message.removeprefix('password: ')}: run in a terminal to be asked, "
                "or write the password to stdin with --password-stdin",
                code=err.code,
            ) from None
        voted = rt.vote(cmd, signature=_prompt_signature(rt, voter))
    result = voted.result
    doc: dict[str, Any] = result.model_dump(mode="json")
    if voted.after.decision is not None:
        doc["applied"] = voted.after.decision
    if as_json:
        emit(doc)
        return
    signer = f"{result.signer_id} on behalf of {result.voter_id}" if result.signer_id != result.voter_id else voter
    typer.echo(
        f"{signer}: {decision} on round {result.round_id} ({result.project_key})"
        + (" [already recorded]" if result.replayed else "")
    )
    if result.explanation:
        typer.echo(f"  {result.explanation}")
    if "applied" in doc and "scheduled_flow_run" in doc["applied"]:
        a = doc["applied"]
        typer.echo(
            f"round resolved: {result.round_decision}; gate-decision runs as flow run "
            f"{a['scheduled_flow_run']} ({a['flow_run_name']})"
        )
    elif "applied" in doc and "deferred" in doc["applied"]:
        typer.echo(
            f"round resolved: {result.round_decision}; the Prefect server did not answer, so the decision will be "
            "applied by the next reconciliation (approval-reminders, or 'phasegate rounds reconcile')"
        )
    elif "applied" in doc:
        a = doc["applied"]
        typer.echo(f"round resolved: {a['decision']}; {a['project_key']} is {a['status']} in stage {a['stage_id']}")
    elif result.pending:
        typer.echo(f"  waiting for: {', '.join(result.pending)}")


def _signature_from_stdin() -> Any:
    from pydantic import SecretStr

    from models.identity import SignatureProof

    lines = sys.stdin.read().splitlines()
    if not lines or not lines[0]:
        raise InputError("--password-stdin: stdin is empty; write your password on its first line")
    code = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return SignatureProof(password=SecretStr(lines[0]), one_time_code=code)


def _prompt_signature(rt: Any, voter: str) -> Any:
    from pydantic import SecretStr

    from models.credentials import has_totp
    from models.identity import SignatureProof

    typer.echo("This gate takes electronic signatures (21 CFR Part 11): your password signs this vote.", err=True)
    password = typer.prompt(f"Password of {voter}", hide_input=True, err=True)
    with rt.read_sessions() as session:
        wants_code = has_totp(session, voter)
    code = typer.prompt("One-time code", err=True) if wants_code else None
    return SignatureProof(password=SecretStr(password), one_time_code=code)


@rounds_app.command("list")
def rounds_list(
    pending: Annotated[bool, typer.Option("--pending", help="Open rounds only")] = False,
    person: Annotated[str | None, typer.Option("--as", help="Rounds where this person has a seat")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Approval rounds with who voted what and who is pending."""
    from gates import approvals

    rows: list[dict[str, Any]] = []
    for current in approvals.list_rounds(uow=runtime_for(db).reader, pending_only=pending, person_id=person):
        state = approvals.round_tally(current)
        rows.append(
            {
                "id": str(current.id),
                "project": current.project_key,
                "gate": current.gate_id,
                "policy": current.policy,
                "status": current.status.value,
                "decision": current.decision.value if current.decision else None,
                "approvers": list(current.approvers),
                "pending": list(state.next_up or state.pending),
                "votes": [
                    {
                        "by": v.signature,
                        "kind": v.kind.value,
                        "decision": v.decision.value if v.decision else None,
                        "reason": v.reason,
                        "cast_at": v.cast_at.isoformat(),
                    }
                    for v in current.live_votes
                ],
                "opened_at": current.opened_at.isoformat(),
                "due_at": current.due_at.isoformat() if current.due_at else None,
            }
        )
    if as_json:
        emit(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['id']}  {row['project']:<12} {row['gate']:<20} {row['status']:<9} "
            f"{row['decision'] or '-':<15} pending: {', '.join(row['pending']) or '-'}"
        )


@rounds_app.command("reassign")
def rounds_reassign(
    round_ref: Annotated[str, typer.Argument(metavar="ROUND")],
    from_person: Annotated[str, typer.Option("--from", help="The approver whose seat moves")],
    to_person: Annotated[str, typer.Option("--to", help="Who takes the seat")],
    by: Annotated[str, typer.Option("--as", help="Who makes this admin change")],
    reason: Annotated[str, typer.Option("--reason")],
    db: Db = None,
) -> None:
    """Move an approver's seat to another person (转交), audited as an admin change."""
    from flows.runtime import approval_links
    from gates import approvals

    rt = runtime_for(db)
    current = approvals.reassign_seat(
        parse_round_id(round_ref),
        from_person=from_person,
        to_person=to_person,
        by=by,
        reason=reason,
        uow=rt.uow,
        now=now(),
        links=approval_links(rt.settings),
    )
    typer.echo(f"round {current.id}: {from_person}'s seat now held by {to_person}")


@rounds_app.command("reconcile")
def rounds_reconcile(db: Db = None) -> None:
    """Apply decisions of rounds that resolved but whose gate-decision flow never ran (after a crash)."""
    from gates import approvals

    rt = runtime_for(db)
    pending = approvals.unapplied_rounds(uow=rt.uow)
    failed = 0
    for round_id in pending:
        try:  # one round that cannot be applied must not keep the others waiting
            applied = rt.apply_decision(round_id)
        except Exception as err:
            failed += 1
            typer.echo(f"round {round_id}: failed: {type(err).__name__}: {err}", err=True)
            continue
        typer.echo(
            f"round {round_id}: "
            + (
                f"applied {applied['decision']} to {applied['project_key']}"
                if "decision" in applied
                else "gate-decision scheduled"
                if "scheduled_flow_run" in applied
                else "the Prefect server did not answer; try again later"
            )
        )
    if not pending:
        typer.echo("nothing to reconcile")
    if failed:
        raise typer.Exit(1)


def delegate(
    principal: str,
    delegate_to: Annotated[str, typer.Argument(metavar="DELEGATE")],
    valid_from: Annotated[str, typer.Option("--from", help="YYYY-MM-DD")],
    valid_to: Annotated[str, typer.Option("--to", help="YYYY-MM-DD")],
    template: Annotated[str | None, typer.Option("--template")] = None,
    gate: Annotated[str | None, typer.Option("--gate")] = None,
    db: Db = None,
) -> None:
    """Let DELEGATE act for PRINCIPAL between two dates, optionally for one template or gate (never cascades)."""
    from gates import approvals
    from models.commands import Delegate

    cmd = command(
        Delegate,
        {"valid_to": "--to", "valid_from": "--from", "principal_id": "PRINCIPAL", "delegate_id": "DELEGATE"},
        principal_id=principal,
        delegate_id=delegate_to,
        valid_from=parse_date(valid_from, "--from"),
        valid_to=parse_date(valid_to, "--to"),
        template_id=template,
        gate_id=gate,
    )
    record = approvals.delegate(cmd, uow=runtime_for(db).uow, now=now())
    scope = f" for {template}" + (f"/{gate}" if gate else "") if template else ""
    typer.echo(f"{delegate_to} may act for {principal} from {record.valid_from} to {record.valid_to}{scope}")


@conditions_app.command("list")
def conditions_list(
    project: Annotated[str | None, typer.Option("--project")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, met, missed or waived")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Conditions of CONDITIONAL_GO decisions, with owner, due date and verification."""
    from gates import approvals

    found = approvals.list_conditions(uow=runtime_for(db).reader, project_key=project, status=status)
    if as_json:
        emit([c.model_dump(mode="json") for c in found])
        return
    for c in found:
        typer.echo(
            f"{c.id}  {c.project_key:<12} {c.status:<7} due {c.due_on}  {c.owner_id:<10} {c.text}  [{c.verification}]"
        )


@conditions_app.command("verify")
def conditions_verify(
    condition_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str, typer.Option("--as")],
    missed: Annotated[bool, typer.Option("--missed", help="Record the condition as missed")] = False,
    db: Db = None,
) -> None:
    """Record that a condition was met (or, with --missed, missed)."""
    from uuid import UUID

    from gates import approvals

    try:
        parsed = UUID(condition_id)
    except ValueError:
        raise InputError(f"ID: {condition_id!r} is not a condition id (see 'phasegate conditions list')") from None
    record = approvals.resolve_condition(parsed, by=by, met=not missed, uow=runtime_for(db).uow, now=now())
    typer.echo(f"condition {record.id}: {record.status}")


def project_resume(
    key: str, by: Annotated[str, typer.Option("--as")], reason: Annotated[str, typer.Option("--reason")], db: Db = None
) -> None:
    """Take a project off hold."""
    from gates import approvals

    approvals.resume_project(key, by=by, reason=reason, uow=runtime_for(db).uow, now=now())
    typer.echo(f"{key} resumed")


def project_close(
    key: str,
    by: Annotated[str, typer.Option("--as")],
    lessons: Annotated[str, typer.Option("--lessons", help="Lessons learned (经验教训)")] = "",
    db: Db = None,
) -> None:
    """Close a killed or completed project; lessons learned are required."""
    from gates import approvals

    approvals.close_project(key, by=by, lessons=lessons, uow=runtime_for(db).uow, now=now())
    typer.echo(f"{key} closed")

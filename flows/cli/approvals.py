"""CLI: votes, approval rounds, delegation, conditions, and what follows a decision (resume, close)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from phasegate.flows.cli.common import (
    ActFor,
    Db,
    DelegationPerson,
    GateScope,
    IdArg,
    Json,
    Lessons,
    Missed,
    Reason,
    RoundArg,
    SeatFrom,
    SeatTo,
    TemplateScope,
    ValidFrom,
    ValidTo,
    acting,
    command,
    emit,
    now,
    parse_date,
    parse_round_id,
    runtime_for,
    sub_app,
)
from phasegate.gates.vocabulary.errors import InputError

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

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Part 11 gates: read your password from stdin's first line (and a one-time code from the second)",
    ),
]


class GrantByDefault(TyperGroup):
    """``delegate PRINCIPAL DELEGATE ...`` stays what it always was: ``delegate grant PRINCIPAL DELEGATE ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["grant", *args]
        return super().parse_args(ctx, args)


delegate_app = typer.Typer(
    cls=GrantByDefault, no_args_is_help=True, help="Delegation: grant (the default), revoke, list."
)


def vote(
    round_ref: Annotated[str, typer.Argument(metavar="ROUND")],
    decision: Annotated[str, typer.Option("--decision", help=", ".join(DECISIONS))],
    voter: ActFor = None,
    reason: Annotated[str, typer.Option("--reason", help="Required for anything but go")] = "",
    on_behalf_of: Annotated[str | None, typer.Option("--on-behalf-of", help="The approver a delegate acts for")] = None,
    condition: Annotated[
        list[str] | None, typer.Option("--condition", help="TEXT;OWNER;DUE;VERIFICATION (conditional_go, repeatable)")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key", help="Retry-safe key")] = None,
    password_stdin: PasswordStdin = False,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Vote on an approval round; a deciding vote runs the gate-decision flow.

    On a gate that takes electronic signatures (``signature: part11``) the signer re-enters their password:
    at a prompt, or from stdin with --password-stdin.
    """
    from phasegate.gates.vocabulary.commands import CastVote
    from phasegate.usecases import approvals

    rt = runtime_for(db)
    actor = acting(rt, voter)
    cmd = CastVote.from_door(
        round_id=parse_round_id(round_ref),
        voter_id=actor.person_id,
        choice=decision,
        reason=reason,
        on_behalf_of=on_behalf_of,
        conditions=condition or (),
        idempotency_key=idempotency_key,
        labels=VOTE_OPTIONS,
    )
    signature = signature_from_stdin() if password_stdin else None
    try:
        voted = rt.vote(cmd, actor=actor, signature=signature)
    except InputError as err:
        if err.code != approvals.SIGNATURE_REQUIRED or signature is not None:
            raise
        require_terminal(err.message)
        voted = rt.vote(
            cmd, actor=actor, signature=prompt_signature(actor.person_id, wants_code=_has_totp(rt, actor.person_id))
        )
    result = voted.result
    doc: dict[str, Any] = result.model_dump(mode="json")
    if voted.after.decision is not None:
        doc["applied"] = voted.after.decision
    if as_json:
        emit(doc)
        return
    signer = (
        f"{result.signer_id} on behalf of {result.voter_id}" if result.signer_id != result.voter_id else actor.person_id
    )
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
        typer.echo(
            f"round resolved: {a['decision']}; {a['project_key']} is {a['status']} in stage {a['stage_id']}"
            + (f" (gate-decision ran in this process: {a['ran_here']})" if "ran_here" in a else "")
        )
    elif result.pending:
        typer.echo(f"  waiting for: {', '.join(result.pending)}")


def require_terminal(why: str) -> None:
    """A Part 11 gate asked for a signature the command was not given: ask for it only where someone can type."""
    if not sys.stdin.isatty():
        raise InputError(
            f"--password-stdin: {why.removeprefix('password: ')}: run in a terminal to be asked, "
            "or write the password to stdin with --password-stdin",
            code="signature.required",
        )


def signature_from_stdin() -> Any:
    from pydantic import SecretStr

    from phasegate.gates.vocabulary.identity import SignatureProof

    lines = sys.stdin.read().splitlines()
    if not lines or not lines[0]:
        raise InputError("--password-stdin: stdin is empty; write your password on its first line")
    code = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return SignatureProof(password=SecretStr(lines[0]), one_time_code=code)


def _has_totp(rt: Any, voter: str) -> bool:
    from phasegate.models.credentials import has_totp

    with rt.read_sessions() as session:
        return has_totp(session, voter)


def prompt_signature(voter: str, *, wants_code: bool | None) -> Any:
    """Ask for the signer's password (and one-time code: always when ``wants_code``, optionally when unknown)."""
    from pydantic import SecretStr

    from phasegate.gates.vocabulary.identity import SignatureProof

    typer.echo("This gate takes electronic signatures (21 CFR Part 11): your password signs this vote.", err=True)
    password = typer.prompt(f"Password of {voter}", hide_input=True, err=True)
    if wants_code is None:
        code = typer.prompt("One-time code (empty if you have none)", default="", show_default=False, err=True)
    else:
        code = typer.prompt("One-time code", err=True) if wants_code else None
    return SignatureProof(password=SecretStr(password), one_time_code=code.strip() or None if code else None)


@rounds_app.command("list")
def rounds_list(
    pending: Annotated[bool, typer.Option("--pending", help="Open rounds only")] = False,
    person: Annotated[str | None, typer.Option("--as", help="Rounds where this person has a seat")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Approval rounds with who voted what and who is pending."""
    from phasegate.usecases import approvals

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
    round_ref: RoundArg,
    from_person: SeatFrom,
    to_person: SeatTo,
    reason: Reason,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Move an approver's seat to another person (转交), audited as an admin change (pmo_admin)."""
    from phasegate.flows.runtime import approval_links
    from phasegate.usecases import approvals

    rt = runtime_for(db)
    current = approvals.reassign_seat(
        parse_round_id(round_ref),
        from_person=from_person,
        to_person=to_person,
        actor=acting(rt, by),
        reason=reason,
        uow=rt.uow,
        now=now(),
        links=approval_links(rt.settings),
    )
    typer.echo(f"round {current.id}: {from_person}'s seat now held by {to_person}")


@rounds_app.command("cancel")
def rounds_cancel(
    round_ref: RoundArg,
    reason: Reason,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """End an open round without a decision (pmo_admin); its approvers are told, the project stays put."""
    from phasegate.usecases import approvals

    rt = runtime_for(db)
    current = approvals.cancel_round(
        parse_round_id(round_ref), actor=acting(rt, by), reason=reason, uow=rt.uow, now=now()
    )
    typer.echo(f"round {current.id} ({current.project_key}, {current.gate_id}) cancelled")


@rounds_app.command("reconcile")
def rounds_reconcile(db: Db = None) -> None:
    """Apply decisions of rounds that resolved but whose gate-decision flow never ran (after a crash)."""
    from phasegate.usecases import approvals, services

    rt = runtime_for(db)
    services.begin_operation("rounds reconcile", actor=acting(rt, None), uow=rt.uow, now=now())
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


@delegate_app.command("grant")
def delegate(
    principal: str,
    delegate_to: Annotated[str, typer.Argument(metavar="DELEGATE")],
    valid_from: ValidFrom,
    valid_to: ValidTo,
    template: TemplateScope = None,
    gate: GateScope = None,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Let DELEGATE act for PRINCIPAL between two dates, optionally for one template or gate (never cascades)."""
    from phasegate.usecases import approvals

    cmd = delegation_command(principal, delegate_to, valid_from, valid_to, template, gate)
    rt = runtime_for(db)
    record = approvals.delegate(cmd, actor=acting(rt, by), uow=rt.uow, now=now())
    typer.echo(granted_line(record))


def delegation_command(
    principal: str, delegate_to: str, valid_from: str, valid_to: str, template: str | None, gate: str | None
) -> Any:
    """The ``Delegate`` command both trees build from the options, so a mistake reads the same in both."""
    from phasegate.gates.vocabulary.commands import Delegate

    return command(
        Delegate,
        {"valid_to": "--to", "valid_from": "--from", "principal_id": "PRINCIPAL", "delegate_id": "DELEGATE"},
        principal_id=principal,
        delegate_id=delegate_to,
        valid_from=parse_date(valid_from, "--from"),
        valid_to=parse_date(valid_to, "--to"),
        template_id=template,
        gate_id=gate,
    )


def granted_line(record: Any) -> str:
    scope = (
        f" for {record.template_id}" + (f"/{record.gate_id}" if record.gate_id else "") if record.template_id else ""
    )
    return (
        f"delegation {record.id}: {record.delegate_id} may act for {record.principal_id} from {record.valid_from} "
        f"to {record.valid_to}{scope}"
    )


def parse_delegation_id(value: str) -> Any:
    from uuid import UUID

    try:
        return UUID(value)
    except ValueError:
        raise InputError(f"ID: {value!r} is not a delegation id (see 'phasegate delegate list')") from None


def delegation_lines(records: Any, as_json: bool) -> None:
    """``delegate list``'s output, the same whichever tree read the records."""
    if as_json:
        emit([r.model_dump(mode="json") for r in records])
        return
    for r in records:
        scope = (r.template_id or "any") + (f"/{r.gate_id}" if r.gate_id else "")
        state = "revoked" if r.revoked else "active"
        typer.echo(f"{r.id}  {r.principal_id} -> {r.delegate_id}  {r.valid_from}..{r.valid_to}  {scope}  {state}")


def parse_condition_id(value: str) -> Any:
    from uuid import UUID

    try:
        return UUID(value)
    except ValueError:
        raise InputError(f"ID: {value!r} is not a condition id (see 'phasegate conditions list')") from None


@delegate_app.command("revoke")
def delegate_revoke(delegation_ref: IdArg, by: ActFor = None, db: Db = None) -> None:
    """End a delegation now (its principal or a pmo_admin); votes already cast under it stand."""
    from phasegate.usecases import approvals

    delegation_id = parse_delegation_id(delegation_ref)
    rt = runtime_for(db)
    record = approvals.revoke_delegation(delegation_id, actor=acting(rt, by), uow=rt.uow, now=now())
    typer.echo(f"delegation {record.id}: {record.delegate_id} no longer acts for {record.principal_id}")


@delegate_app.command("list")
def delegate_list(person: DelegationPerson = None, db: Db = None, as_json: Json = False) -> None:
    """Delegations with their period, scope and state."""
    from phasegate.usecases import approvals

    delegation_lines(approvals.list_delegations(uow=runtime_for(db).reader, person_id=person), as_json)


@conditions_app.command("list")
def conditions_list(
    project: Annotated[str | None, typer.Option("--project")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, met, missed or waived")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Conditions of CONDITIONAL_GO decisions, with owner, due date and verification."""
    from phasegate.usecases import approvals

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
    condition_id: IdArg,
    missed: Missed = False,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Record that a condition was met (or, with --missed, missed)."""
    from phasegate.usecases import approvals

    parsed = parse_condition_id(condition_id)
    rt = runtime_for(db)
    record = approvals.resolve_condition(parsed, actor=acting(rt, by), met=not missed, uow=rt.uow, now=now())
    typer.echo(f"condition {record.id}: {record.status}")


def project_resume(key: str, reason: Reason, by: ActFor = None, db: Db = None) -> None:
    """Take a project off hold (its sponsor or a pmo_admin)."""
    from phasegate.usecases import approvals

    rt = runtime_for(db)
    approvals.resume_project(key, actor=acting(rt, by), reason=reason, uow=rt.uow, now=now())
    typer.echo(f"{key} resumed")


def project_close(
    key: str,
    lessons: Lessons = "",
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Close a killed or completed project (its sponsor or a pmo_admin); lessons learned are required."""
    from phasegate.usecases import approvals

    rt = runtime_for(db)
    approvals.close_project(key, actor=acting(rt, by), lessons=lessons, uow=rt.uow, now=now())
    typer.echo(f"{key} closed")

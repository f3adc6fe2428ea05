"""Remote ``vote``, ``rounds list|cancel|reassign``, ``conditions list|verify``, ``delegate grant|revoke|list``
and ``project resume|close``: the same options and output as the local commands, through ``/api/v1`` with the
login's token.

A vote is checked here with the same ``CastVote`` command the local CLI builds (so a mistake reads the same
and costs no request), then bound to the evidence hash of the round as the server shows it now, and sent with
``--idempotency-key`` as the ``Idempotency-Key`` header. The server records it as the token's person and, when
the vote decides the round, has its gate-decision flow apply the decision (or start on a worker).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from phasegate.flows.cli.approvals import (
    DECISIONS,
    VOTE_OPTIONS,
    GrantByDefault,
    PasswordStdin,
    delegation_command,
    delegation_lines,
    granted_line,
    parse_condition_id,
    parse_delegation_id,
    prompt_signature,
    require_terminal,
    signature_from_stdin,
)
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
    emit,
    parse_round_id,
    sub_app,
)
from phasegate.flows.cli.remote.session import acting_person, iso, refuse_db, server
from phasegate.gates.vocabulary.errors import InputError, RemoteError

rounds_app = sub_app("Approval rounds (through the server).")
conditions_app = sub_app("Conditions of CONDITIONAL_GO decisions (through the server).")
CONDITION_STATUSES = ("open", "met", "missed", "waived")


def vote(
    round_ref: Annotated[str, typer.Argument(metavar="ROUND")],
    decision: Annotated[str, typer.Option("--decision", help=", ".join(DECISIONS))],
    voter: Annotated[
        str | None, typer.Option("--as", help="Who acts: through the server, the token's person (may be omitted)")
    ] = None,
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
    """Vote on an approval round as the token's person; a deciding vote applies the decision on the server.

    On a gate that takes electronic signatures the server asks for the signer's web password: at a prompt, or
    from stdin with --password-stdin; it travels in the request body over the login's HTTPS connection.
    """
    from phasegate.gates.vocabulary.commands import CastVote
    from phasegate.usecases.approvals import SIGNATURE_REQUIRED, VoteResult

    if decision not in DECISIONS:
        raise InputError(f"--decision: {decision!r} is not allowed; use one of {', '.join(DECISIONS)}")
    if idempotency_key is not None and not re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", idempotency_key):
        raise InputError(
            f"--idempotency-key: {idempotency_key!r} is not allowed through the server; use 8 to 128 of "
            "A-Z a-z 0-9 . _ : -"
        )
    round_id = parse_round_id(round_ref)
    with server(act_as=voter) as remote:
        refuse_db(db, remote.login.url)
        me = acting_person(remote)
        cmd = CastVote.from_door(
            round_id=round_id,
            voter_id=me["person_id"],
            choice=decision,
            reason=reason,
            on_behalf_of=on_behalf_of,
            conditions=condition or (),
            idempotency_key=idempotency_key,
            labels=VOTE_OPTIONS,
        )
        # The vote is bound to the packet the server holds now: what `gate check` and the round show.
        current = remote.get(f"/rounds/{round_id}")
        body: dict[str, Any] = {
            "decision": decision,
            "reason": cmd.reason,
            "evidence_hash": current["evidence_hash"],
            "on_behalf_of": cmd.on_behalf_of,
        }
        if cmd.conditions:
            body["conditions"] = [c.model_dump(mode="json") for c in cmd.conditions]
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        signature = signature_from_stdin() if password_stdin else None
        try:
            outcome = remote.call("POST", f"/rounds/{round_id}/votes", body=body | _signed(signature), headers=headers)
        except RemoteError as err:  # nothing was recorded: the server asks for the signature before the vote
            if err.server_code != SIGNATURE_REQUIRED or signature is not None:
                raise
            require_terminal(err.message)
            signature = prompt_signature(me["person_id"], wants_code=None)
            outcome = remote.call("POST", f"/rounds/{round_id}/votes", body=body | _signed(signature), headers=headers)
    result = VoteResult.model_validate(outcome["vote"])
    doc: dict[str, Any] = result.model_dump(mode="json")
    if outcome.get("applied") is not None:  # applied by the server; its dispatcher sends the notices
        doc["applied"] = outcome["applied"] | {"dispatch": {}}
    elif outcome.get("decision_flow_run"):  # the server started its gate-decision deployment
        doc["applied"] = {"scheduled_flow_run": outcome["decision_flow_run"], "round_id": str(result.round_id)}
    if as_json:
        emit(doc)
        return
    signer = (
        f"{result.signer_id} on behalf of {result.voter_id}" if result.signer_id != result.voter_id else me["person_id"]
    )
    typer.echo(
        f"{signer}: {decision} on round {result.round_id} ({result.project_key})"
        + (" [already recorded]" if result.replayed else "")
    )
    if result.explanation:
        typer.echo(f"  {result.explanation}")
    if "applied" in doc and "scheduled_flow_run" in doc["applied"]:
        typer.echo(
            f"round resolved: {result.round_decision}; gate-decision runs as flow run "
            f"{doc['applied']['scheduled_flow_run']}"
        )
    elif "applied" in doc:
        a = doc["applied"]
        typer.echo(f"round resolved: {a['decision']}; {a['project_key']} is {a['status']} in stage {a['stage_id']}")
    elif result.round_decision is not None and not result.replayed:
        typer.echo(f"round resolved: {result.round_decision.value}; the server applies it")
    elif result.pending:
        typer.echo(f"  waiting for: {', '.join(result.pending)}")


def _signed(signature: Any) -> dict[str, Any]:
    """The vote body's Part 11 fields for ``signature`` (none without one)."""
    if signature is None:
        return {}
    return {"password": signature.password.get_secret_value(), "one_time_code": signature.one_time_code}


def round_row(item: dict[str, Any]) -> dict[str, Any]:
    """A round as the API shows it (``RoundOut``), shaped as the local ``rounds list`` shapes a round."""
    live = [v for v in item["votes"] if not v["superseded"]]
    return {
        "id": item["id"],
        "project": item["project_key"],
        "gate": item["gate_id"],
        "policy": item["policy"],
        "status": item["status"],
        "decision": item["decision"],
        "approvers": list(item["approvers"]),
        "pending": list(item["pending"]),
        "votes": [
            {
                "by": v["voter_id"]
                if v["signer_id"] == v["voter_id"]
                else f"{v['signer_id']} on behalf of {v['voter_id']}",
                "kind": v["kind"],
                "decision": v["decision"],
                "reason": v["reason"],
                "cast_at": iso(v["cast_at"]),
            }
            for v in live
        ],
        "opened_at": iso(item["opened_at"]),
        "due_at": iso(item["due_at"]),
    }


@rounds_app.command("list")
def rounds_list(
    pending: Annotated[bool, typer.Option("--pending", help="Open rounds only")] = False,
    person: Annotated[str | None, typer.Option("--as", help="Rounds where this person has a seat")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Approval rounds with who voted what and who is pending."""
    with server() as remote:
        refuse_db(db, remote.login.url)
        items = list(remote.pages("/rounds", status="open" if pending else None, person=person))
    rows = [round_row(item) for item in items]
    if as_json:
        emit(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['id']}  {row['project']:<12} {row['gate']:<20} {row['status']:<9} "
            f"{row['decision'] or '-':<15} pending: {', '.join(row['pending']) or '-'}"
        )


@conditions_app.command("list")
def conditions_list(
    project: Annotated[str | None, typer.Option("--project")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, met, missed or waived")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Conditions of CONDITIONAL_GO decisions, with owner, due date and verification."""
    from phasegate.gates.vocabulary.snapshots import ConditionRecord

    if status is not None and status not in CONDITION_STATUSES:
        raise InputError(f"--status: {status!r} is not allowed; use one of {', '.join(CONDITION_STATUSES)}")
    with server() as remote:
        refuse_db(db, remote.login.url)
        found = [ConditionRecord.model_validate(c) for c in remote.pages("/conditions", project=project, status=status)]
    if as_json:
        emit([c.model_dump(mode="json") for c in found])
        return
    for c in found:
        typer.echo(
            f"{c.id}  {c.project_key:<12} {c.status:<7} due {c.due_on}  {c.owner_id:<10} {c.text}  [{c.verification}]"
        )


@rounds_app.command("cancel")
def rounds_cancel(round_ref: RoundArg, reason: Reason, by: ActFor = None, db: Db = None) -> None:
    """End an open round without a decision (pmo_admin); its approvers are told, the project stays put."""
    round_id = parse_round_id(round_ref)
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        current = remote.call("POST", f"/rounds/{round_id}/cancel", body={"reason": reason})
    typer.echo(f"round {current['id']} ({current['project_key']}, {current['gate_id']}) cancelled")


@rounds_app.command("reassign")
def rounds_reassign(
    round_ref: RoundArg, from_person: SeatFrom, to_person: SeatTo, reason: Reason, by: ActFor = None, db: Db = None
) -> None:
    """Move an approver's seat to another person (转交), audited as an admin change (pmo_admin)."""
    round_id = parse_round_id(round_ref)
    body = {"from_person": from_person, "to_person": to_person, "reason": reason}
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        current = remote.call("POST", f"/rounds/{round_id}/reassign", body=body)
    typer.echo(f"round {current['id']}: {from_person}'s seat now held by {to_person}")


@conditions_app.command("verify")
def conditions_verify(condition_id: IdArg, missed: Missed = False, by: ActFor = None, db: Db = None) -> None:
    """Record that a condition was met (or, with --missed, missed)."""
    parsed = parse_condition_id(condition_id)
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        record = remote.call("POST", f"/conditions/{parsed}/verification", body={"met": not missed})
    typer.echo(f"condition {record['id']}: {record['status']}")


delegate_app = typer.Typer(
    cls=GrantByDefault, no_args_is_help=True, help="Delegation (through the server): grant (the default), revoke, list."
)


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
    from phasegate.gates.vocabulary.snapshots import DelegationRecord

    cmd = delegation_command(principal, delegate_to, valid_from, valid_to, template, gate)
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        record = DelegationRecord.model_validate(remote.call("POST", "/delegations", body=cmd.model_dump(mode="json")))
    typer.echo(granted_line(record))


@delegate_app.command("revoke")
def delegate_revoke(delegation_ref: IdArg, by: ActFor = None, db: Db = None) -> None:
    """End a delegation now (its principal or a pmo_admin); votes already cast under it stand."""
    delegation_id = parse_delegation_id(delegation_ref)
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        record = remote.call("DELETE", f"/delegations/{delegation_id}")
    typer.echo(f"delegation {record['id']}: {record['delegate_id']} no longer acts for {record['principal_id']}")


@delegate_app.command("list")
def delegate_list(person: DelegationPerson = None, db: Db = None, as_json: Json = False) -> None:
    """Delegations with their period, scope and state."""
    from phasegate.gates.vocabulary.snapshots import DelegationRecord

    with server() as remote:
        refuse_db(db, remote.login.url)
        records = [DelegationRecord.model_validate(d) for d in remote.pages("/delegations", person=person)]
    delegation_lines(records, as_json)


def project_resume(key: str, reason: Reason, by: ActFor = None, db: Db = None) -> None:
    """Take a project off hold (its sponsor or a pmo_admin)."""
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        remote.call("POST", f"/projects/{key}/resume", body={"reason": reason})
    typer.echo(f"{key} resumed")


def project_close(key: str, lessons: Lessons = "", by: ActFor = None, db: Db = None) -> None:
    """Close a killed or completed project (its sponsor or a pmo_admin); lessons learned are required."""
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        remote.call("POST", f"/projects/{key}/close", body={"lessons": lessons})
    typer.echo(f"{key} closed")

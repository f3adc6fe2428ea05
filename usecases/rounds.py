"""Approval rounds: reading them, where their quorum stands, and moving a seat (转交) as an audited admin change."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from phasegate.gates.authorization import Act
from phasegate.gates.quorum import Ballot, Seat, Tally, tally
from phasegate.gates.vocabulary.enums import (
    RoundStatus,
)
from phasegate.gates.vocabulary.errors import ConflictError, InputError, SecurityRefusedError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.snapshots import (
    OutboxRequest,
    RoundSnapshot,
)
from phasegate.gates.vocabulary.template import ApprovalDef
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import require_person, require_project, require_round, require_template
from phasegate.usecases.messages import approval_request, messages_for, request_context
from phasegate.usecases.ports import ApprovalLinks
from phasegate.usecases.result import UowFactory


def seats_of(current: RoundSnapshot) -> tuple[Seat, ...]:
    return tuple(Seat.model_validate(seat) for seat in current.seats)


def ballots_of(current: RoundSnapshot) -> tuple[Ballot, ...]:
    return tuple(Ballot(person_id=v.voter_id, kind=v.kind, decision=v.decision) for v in current.live_votes)


def policy_of(current: RoundSnapshot) -> ApprovalDef:
    return ApprovalDef.model_validate(current.policy_spec)


def round_tally(current: RoundSnapshot) -> Tally:
    return tally(policy_of(current), seats_of(current), ballots_of(current))


def get_round(round_id: UUID, *, uow: UowFactory) -> RoundSnapshot:
    with uow() as tx:
        return require_round(tx, round_id)


def list_rounds(*, uow: UowFactory, pending_only: bool = False, person_id: str | None = None) -> list[RoundSnapshot]:
    with uow() as tx:
        return tx.reviews.list_rounds(status=RoundStatus.OPEN if pending_only else None, person_id=person_id)


def unapplied_rounds(*, uow: UowFactory) -> list[UUID]:
    """Rounds that resolved but whose decision was never applied (a crash between the two): reconcile them."""
    with uow() as tx:
        return tx.reviews.unapplied_rounds()


@refusals_audited(Act.REASSIGN_ROUND)
def reassign_seat(
    round_id: UUID,
    *,
    from_person: str,
    to_person: str,
    actor: Actor,
    reason: str,
    uow: UowFactory,
    now: datetime,
    links: ApprovalLinks | None = None,
) -> RoundSnapshot:
    """Move one approver's seat to another person (转交): an audited admin change of the round's snapshot."""
    if not reason.strip():
        raise InputError("--reason: reassigning an approver's seat needs a reason")
    with uow() as tx:
        current = require_round(tx, round_id, for_update=True)
        permit(tx, actor, Act.REASSIGN_ROUND, entity=f"round:{current.id}")
        require_person(tx, to_person, field="--to")
        if current.status is not RoundStatus.OPEN:
            raise ConflictError(
                f"round {current.id} is {current.status.value}; only open rounds change approvers", code="round.closed"
            )
        seats = list(current.seats)
        held = [i for i, seat in enumerate(seats) if seat.get("person_id") == from_person]
        if not held:
            raise InputError(
                f"--from: {from_person} holds no seat on round {current.id}; seats: {', '.join(current.approvers)}",
                code="round.no_seat",
            )
        if any(v.voter_id == from_person for v in current.live_votes):
            raise ConflictError(
                f"{from_person} has already acted on round {current.id}; their seat cannot move", code="round.seat_used"
            )
        if to_person in current.approvers:
            raise ConflictError(f"{to_person} already holds a seat on round {current.id}", code="round.seat_taken")
        project = require_project(tx, current.project_key)
        if to_person == project.manager_id or to_person == current.requested_by:
            raise SecurityRefusedError(f"refused: {to_person} may not approve this gate (segregation of duties)")
        if require_person(tx, to_person, field="--to").disabled:
            raise ConflictError(f"--to: {to_person} is disabled and cannot hold a seat", code="round.seat_disabled")
        seats[held[0]] = seats[held[0]] | {"person_id": to_person}
        approvers = [to_person if person == from_person else person for person in current.approvers]
        tx.reviews.replace_seats(current.id, seats, approvers)
        tx.append_audit(
            actor=audit_name(actor),
            action="round.reassigned",
            entity=f"round:{current.id}",
            payload={"from": from_person, "to": to_person, "reason": reason, "meaning": "admin change", "seats": seats}
            | stamp(actor),
            at=now,
        )
        gate = require_template(tx, project.template_id, project.template_version).template.gate(current.gate_id)
        assert gate is not None
        messages = approval_request(
            tx,
            current.id,
            to_person,
            request_context(project, gate),
            evidence_hash=current.evidence_hash,
            links=links,
            subject_suffix=":reassigned",
        )
        tx.enqueue(messages, now=now)
        tx.commit()
    return current.model_copy(update={"seats": tuple(seats), "approvers": tuple(approvers)})


@refusals_audited(Act.CANCEL_ROUND)
def cancel_round(round_id: UUID, *, actor: Actor, reason: str, uow: UowFactory, now: datetime) -> RoundSnapshot:
    """End an open round without a decision (an administrator's act): nothing is applied to the project.

    Why it exists: a round can wait forever (nothing becomes GO by timeout), and sometimes the review itself
    was a mistake (wrong gate, superseded plan). Its approvers are told it no longer needs them; the project
    stays where it is and a new review can be requested.
    """
    if not reason.strip():
        raise InputError("--reason: cancelling an approval round needs a reason")
    with uow() as tx:
        current = require_round(tx, round_id, for_update=True)
        permit(tx, actor, Act.CANCEL_ROUND, entity=f"round:{current.id}")
        if current.status is not RoundStatus.OPEN:
            raise ConflictError(
                f"round {current.id} is {current.status.value}; only open rounds can be cancelled", code="round.closed"
            )
        project = require_project(tx, current.project_key)
        tx.reviews.cancel_round(current.id, current.review_id, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="round.cancelled",
            entity=f"round:{current.id}",
            payload={
                "project": project.key,
                "gate": current.gate_id,
                "reason": reason,
                "meaning": "admin change",
                "votes": len(current.live_votes),
                "evidence_hash": current.evidence_hash,
            }
            | stamp(actor),
            at=now,
        )
        gate = require_template(tx, project.template_id, project.template_version).template.gate(current.gate_id)
        context = (request_context(project, gate) if gate else {"project_key": project.key}) | {
            "round_id": str(current.id),
            "reason": reason,
        }
        messages: list[OutboxRequest] = []
        for person_id in dict.fromkeys(current.approvers):
            messages += messages_for(
                require_person(tx, person_id, field="approver"), "round_cancelled", f"round:{current.id}", context
            )
        tx.enqueue(messages, now=now)
        tx.commit()
    return current.model_copy(update={"status": RoundStatus.CANCELLED, "resolved_at": now})

"""Approval use cases: votes, delegation, conditions, resuming and closing projects, reminders.

Each function is one transaction. A vote is checked (eligibility, delegation, segregation of duties,
sequence, duplicates, stale evidence), recorded bound to the evidence hash, audited, tallied under the
round's policy and, when the outcome is certain, resolved with its decision in the same commit. Refused
attempts that touch segregation of duties are recorded as security events in their own transaction, so
the refusal is audited even though nothing else is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from gates.authorization import Act
from gates.calendar import WorkingCalendar
from gates.criteria import Criterion
from gates.escalation import plan_condition_steps, plan_notifications
from gates.evaluation import evaluate_gate
from gates.guard import audit_name, permit, refusals_audited, refuse, stamp
from gates.lifecycle import apply_decision as lifecycle_move
from gates.ports import ApprovalLinks, DocumentProbe, UnitOfWork
from gates.quorum import Ballot, Seat, Tally, tally
from gates.registry import default_registry
from gates.services import (
    SYSTEM,
    Result,
    UowFactory,
    approval_request,
    collect_evidence,
    criteria_context,
    messages_for,
    org_notice,
    project_roles,
    require_person,
    require_project,
    require_round,
    require_template,
)
from models.commands import CastVote, Delegate
from models.enums import BallotKind, Decision, ProjectStatus, ReviewStatus, RoundStatus
from models.errors import AuthorizationError, ConflictError, InputError, NotFoundError, PermissionDeniedError
from models.identity import Actor
from models.snapshots import (
    ConditionRecord,
    DelegationRecord,
    OutboxRequest,
    ProjectSnapshot,
    RoundSnapshot,
    VoteRecord,
)
from models.template import ApprovalDef, GateDef, SegregationDef


class VoteResult(Result):
    round_id: UUID
    project_key: str
    voter_id: str
    signer_id: str
    kind: BallotKind
    decision: Decision | None
    round_status: RoundStatus
    round_decision: Decision | None
    pending: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()
    explanation: str = ""
    replayed: bool = False


class DecisionApplied(Result):
    round_id: UUID
    project_key: str
    gate_id: str
    decision: Decision
    status: ProjectStatus
    stage_id: str
    already_applied: bool
    notifications: int
    conditions: int = 0


class SecurityRefusedError(PermissionDeniedError):
    """A refused attempt that is also a security event (segregation of duties, delegation abuse)."""

    code = "security.refused"


# ------------------------------------------------------------------------------------------------ votes
def _seats(current: RoundSnapshot) -> tuple[Seat, ...]:
    return tuple(Seat.model_validate(seat) for seat in current.seats)


def _ballots(current: RoundSnapshot) -> tuple[Ballot, ...]:
    return tuple(Ballot(person_id=v.voter_id, kind=v.kind, decision=v.decision) for v in current.live_votes)


def _policy(current: RoundSnapshot) -> ApprovalDef:
    return ApprovalDef.model_validate(current.policy_spec)


def _active_delegation(
    tx: UnitOfWork, principal: str, delegate: str, *, on: date, template_id: str, gate_id: str
) -> DelegationRecord | None:
    for record in tx.delegations(principal):
        if (
            record.principal_id == principal
            and record.delegate_id == delegate
            and not record.revoked
            and record.valid_from <= on <= record.valid_to
            and record.template_id in (None, template_id)
            and record.gate_id in (None, gate_id)
        ):
            return record
    return None


def _segregation(
    segregation: SegregationDef, project: ProjectSnapshot, current: RoundSnapshot, principal: str, signer: str
) -> str | None:
    """The first segregation-of-duties rule this act breaks, in words, or None. Checked for both people."""
    for who, person in (("the approver", principal), ("the signer", signer)):
        if segregation.manager_cannot_approve and person == project.manager_id:
            return f"{who} {person} is the project's manager, who cannot approve their own project's gate"
        if segregation.requester_cannot_approve and current.requested_by and person == current.requested_by:
            return f"{who} {person} requested this review and cannot approve it"
    if segregation.delegate_cannot_approve_own_submission and signer != principal and current.requested_by == signer:
        return f"delegate {signer} submitted this review and cannot approve it on behalf of {principal}"
    return None


def _refuse(
    uow: UowFactory,
    *,
    cmd: CastVote,
    actor: Actor,
    round_id: UUID,
    why: str,
    code: str,
    now: datetime,
    security: bool,
) -> None:
    """Record a refused vote in its own transaction, with the round's evidence and policy in force."""
    with uow() as tx:
        current = tx.get_round(round_id)
    refuse(
        uow,
        actor=actor,
        action="security.refused" if security else "vote.refused",
        entity=f"round:{round_id}",
        why=why,
        code=code,
        now=now,
        payload={
            "act": Act.VOTE.value,
            "on_behalf_of": cmd.on_behalf_of,
            "attempt": cmd.kind.value,
            "decision": cmd.decision,
            "reason": cmd.reason,
            "conditions": [c.model_dump(mode="json") for c in cmd.conditions],
            "evidence_hash": current.evidence_hash if current else None,
            "policy": current.policy_spec if current else None,
        },
    )


def _replay(tx: UnitOfWork, cmd: CastVote) -> VoteResult | None:
    """A retried command with the same idempotency key returns the first result, or is a clear conflict."""
    if cmd.idempotency_key is None:
        return None
    found = tx.vote_by_key(cmd.idempotency_key)
    if found is None:
        return None
    round_id, vote = found
    same = (round_id, vote.signer_id, vote.kind, vote.decision) == (cmd.round_id, cmd.voter_id, cmd.kind, cmd.decision)
    if not same:
        raise ConflictError(
            f"idempotency key {cmd.idempotency_key!r} was already used for a different act", code="vote.key_reused"
        )
    current = require_round(tx, round_id)
    return VoteResult(
        round_id=round_id,
        project_key=current.project_key,
        voter_id=vote.voter_id,
        signer_id=vote.signer_id,
        kind=vote.kind,
        decision=vote.decision,
        round_status=current.status,
        round_decision=current.decision,
        replayed=True,
    )


def cast_vote(
    cmd: CastVote,
    *,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None = None,
    links: ApprovalLinks | None = None,
) -> VoteResult:
    """Record one act on a round; resolve the round in the same transaction when its outcome is certain.

    Every refused attempt is audited (segregation and delegation breaches as security events) in a
    transaction of its own, then the error is raised for the entry point to show.
    """
    try:
        return _cast_vote(cmd, actor=actor, uow=uow, now=now, probe=probe, registry=registry, links=links)
    except (SecurityRefusedError, AuthorizationError) as refused:
        _refuse(
            uow,
            cmd=cmd,
            actor=actor,
            round_id=cmd.round_id,
            why=refused.message,
            code=refused.code,
            now=now,
            security=True,
        )
        raise
    except (ConflictError, PermissionDeniedError, NotFoundError) as refused:
        if refused.code not in ("round.not_found", "person.not_found"):
            _refuse(
                uow,
                cmd=cmd,
                actor=actor,
                round_id=cmd.round_id,
                why=refused.message,
                code=refused.code,
                now=now,
                security=False,
            )
        raise


def _cast_vote(
    cmd: CastVote,
    *,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None = None,
    links: ApprovalLinks | None = None,
) -> VoteResult:
    """Record one act on a round; resolve the round in the same transaction when its outcome is certain."""
    stale = None
    with uow() as tx:
        # Lock the round before looking the key up: a retry racing its first attempt then waits for it and
        # replays its result, instead of passing the lookup and failing as a duplicate or a closed round.
        current = require_round(tx, cmd.round_id, for_update=True)
        if cmd.voter_id != actor.person_id:
            raise AuthorizationError(
                f"{actor.person_id} may not vote as {cmd.voter_id}: a vote is its voter's own act", code="auth.voter"
            )
        permit(tx, actor, Act.VOTE, entity=f"round:{current.id}")
        replayed = _replay(tx, cmd)
        if replayed is not None:
            return replayed
        signer = require_person(tx, cmd.voter_id, field="--as").id
        principal = require_person(tx, cmd.on_behalf_of, field="--on-behalf-of").id if cmd.on_behalf_of else signer
        if current.status is not RoundStatus.OPEN:
            raise ConflictError(
                f"round {current.id} is {current.status.value} (decision: {current.decision}); votes are closed",
                code="round.closed",
            )
        project = require_project(tx, current.project_key, for_update=True)
        template = require_template(tx, project.template_id, project.template_version).template
        gate = template.gate(current.gate_id)
        assert gate is not None, "a round always names a gate of its project's pinned template"
        seats = _seats(current)
        if principal not in {seat.person_id for seat in seats}:
            raise PermissionDeniedError(
                f"{principal} is not an approver of round {current.id}; approvers: {', '.join(current.approvers)}",
                code="vote.not_approver",
            )
        if principal in current.closed_seats:
            raise ConflictError(
                f"{principal}'s request on round {current.id} was closed: the outcome was already certain",
                code="vote.request_closed",
            )
        delegation_ok = principal == signer or _active_delegation(
            tx, principal, signer, on=now.date(), template_id=template.id, gate_id=gate.id
        )
        violation = (
            None
            if delegation_ok
            else (f"{signer} holds no delegation from {principal} valid on {now.date()} for {template.id}/{gate.id}")
        )
        violation = violation or _segregation(gate.segregation, project, current, principal, signer)
        earlier = next((v for v in current.live_votes if v.voter_id == principal), None)
        if earlier is not None and violation is None:
            raise ConflictError(
                f"{principal} already cast {earlier.decision or earlier.kind} on round {current.id} at "
                f"{earlier.cast_at.isoformat(timespec='seconds')}"
                + (f" (signed by {earlier.signer_id})" if earlier.on_behalf else "")
                + "; an act cannot be cast twice",
                code="vote.duplicate",
            )
        policy = _policy(current)
        before = tally(policy, seats, _ballots(current))
        if violation is None and before.next_up and principal not in before.next_up:
            raise ConflictError(
                f"round {current.id} is sequential: waiting for {', '.join(before.next_up)} before {principal}",
                code="vote.not_your_turn",
            )
        if violation is None and project.evidence_version != current.evidence_version:
            stale = (current, project)
        elif violation is None and cmd.seen_evidence_hash and cmd.seen_evidence_hash != current.evidence_hash:
            raise ConflictError(
                "the packet you reviewed is not the round's current evidence; reload it and vote again",
                code="vote.evidence_mismatch",
            )
        if violation is None and stale is None:
            result = _record(
                tx, cmd, actor, current, project, gate, policy, seats, before, principal, signer, now, links
            )
            tx.commit()
            return result
    if violation is not None:
        raise SecurityRefusedError(f"refused: {violation}")
    _refresh(uow, round_id=current.id, now=now, probe=probe, registry=registry, links=links)
    raise ConflictError(
        f"the evidence of {current.project_key} changed after round {current.id} opened (a new document, cost or "
        "status report); the gate was re-evaluated, earlier votes were superseded and approvers asked again: "
        "review the packet and vote again",
        code="vote.evidence_changed",
    )


def _record(
    tx: UnitOfWork,
    cmd: CastVote,
    actor: Actor,
    current: RoundSnapshot,
    project: ProjectSnapshot,
    gate: GateDef,
    policy: ApprovalDef,
    seats: tuple[Seat, ...],
    before: Tally,
    principal: str,
    signer: str,
    now: datetime,
    links: ApprovalLinks | None,
) -> VoteResult:
    vote = VoteRecord(
        voter_id=principal,
        signer_id=signer,
        kind=cmd.kind,
        decision=cmd.decision,
        reason=cmd.reason,
        cast_at=now,
        evidence_hash=current.evidence_hash,
        conditions=cmd.conditions,
        idempotency_key=cmd.idempotency_key,
    )
    vote_id = tx.add_vote(current.id, vote)
    seat_role = next((seat.role for seat in seats if seat.person_id == principal), "")
    signer_name = tx.get_person(signer) or tx.get_person(principal)
    ballots = (*_ballots(current), Ballot(person_id=principal, kind=cmd.kind, decision=cmd.decision))
    after = tally(policy, seats, ballots)
    meaning = {BallotKind.ABSTAIN: "abstained", BallotKind.RECUSE: "recused"}.get(
        cmd.kind, "approved" if cmd.decision in (Decision.GO, Decision.CONDITIONAL_GO) else "rejected"
    )
    tx.append_audit(
        actor=audit_name(actor),
        action="vote.cast",
        entity=f"round:{current.id}",
        payload={
            "vote": vote_id,
            "kind": cmd.kind.value,
            "seat_role": seat_role,
            "signer_name": signer_name.name if signer_name else signer,
            "on_behalf_of": principal if principal != signer else None,
            "meaning": meaning,
            "decision": cmd.decision,
            "reason": cmd.reason,
            "conditions": [c.model_dump(mode="json") for c in cmd.conditions],
            "evidence_hash": current.evidence_hash,
            "policy": current.policy_spec,
            "quorum": after.explanation,
        }
        | stamp(actor),
        at=now,
    )
    messages: list[OutboxRequest] = []
    if after.closed:
        tx.close_seats(current.id, after.closed)
        for person in after.closed:
            tx.append_audit(
                actor=SYSTEM,
                action="request.closed",
                entity=f"round:{current.id}",
                payload={"approver": person, "why": "the outcome was certain without this vote"},
                at=now,
            )
    if after.outcome is not None:
        decided_by = sorted({v.voter_id for v in current.live_votes} | {principal})
        tx.resolve_round(current, decision=after.outcome, decided_by=decided_by, reason=cmd.reason, now=now)
        tx.append_audit(
            actor=SYSTEM,
            action="round.resolved",
            entity=f"round:{current.id}",
            payload={
                "decision": after.outcome,
                "decided_by": decided_by,
                "reason": cmd.reason,
                "quorum": after.explanation,
                "policy": current.policy_spec,
                "evidence_hash": current.evidence_hash,
            },
            at=now,
        )
    elif before.next_up:
        base = _request_context(project, gate)
        for person in after.next_up:
            if person not in before.next_up:
                messages += approval_request(
                    tx, current.id, person, base, evidence_hash=current.evidence_hash, links=links
                )
    tx.enqueue(messages, now=now)
    return VoteResult(
        round_id=current.id,
        project_key=current.project_key,
        voter_id=principal,
        signer_id=signer,
        kind=cmd.kind,
        decision=cmd.decision,
        round_status=RoundStatus.RESOLVED if after.outcome is not None else RoundStatus.OPEN,
        round_decision=after.outcome,
        pending=after.pending,
        closed=after.closed,
        explanation=after.explanation,
    )


def _request_context(project: ProjectSnapshot, gate: GateDef) -> dict[str, Any]:
    return {
        "project_key": project.key,
        "project_name": project.name,
        "gate_id": gate.id,
        "gate_name": gate.name,
        "gate_name_zh": gate.name_zh or gate.name,
    }


def _refresh(
    uow: UowFactory,
    *,
    round_id: UUID,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None,
    links: ApprovalLinks | None,
) -> None:
    """Evidence changed under an open round: re-evaluate, supersede the votes, ask every open seat again."""
    with uow() as tx:
        current = require_round(tx, round_id, for_update=True)
        project = require_project(tx, current.project_key, for_update=True)
        if current.status is not RoundStatus.OPEN or project.evidence_version == current.evidence_version:
            return  # someone else refreshed it first
        template = require_template(tx, project.template_id, project.template_version).template
        gate = template.gate(current.gate_id)
        assert gate is not None
        evidence = collect_evidence(tx, project, gate, as_of=now.date(), probe=probe)
        evaluation = evaluate_gate(template, gate, evidence, registry or default_registry())
        review_id = tx.add_review(
            project_key=project.key,
            gate_id=gate.id,
            stage_id=project.stage_id,
            status=ReviewStatus.AWAITING_APPROVAL,
            recommendation=evaluation.recommendation,
            evaluation=evaluation.model_dump(mode="json"),
            evidence=evidence.model_dump(mode="json"),
            evidence_hash=evaluation.evidence_hash,
            requested_by=current.requested_by,
            now=now,
        )
        superseded = tx.supersede_votes(current.id, now=now)
        tx.refresh_round(
            current.id,
            review_id=review_id,
            evidence_hash=evaluation.evidence_hash,
            evidence_version=project.evidence_version,
            now=now,
        )
        tx.append_audit(
            actor=SYSTEM,
            action="round.refreshed",
            entity=f"round:{current.id}",
            payload={
                "from_hash": current.evidence_hash,
                "to_hash": evaluation.evidence_hash,
                "superseded_votes": superseded,
                "recommendation": evaluation.recommendation,
            },
            at=now,
        )
        base = _request_context(project, gate) | {
            "recommendation": evaluation.recommendation.value,
            "criteria": criteria_context(evaluation),
        }
        fresh = tally(_policy(current), _seats(current), ())
        messages: list[OutboxRequest] = []
        for person in fresh.next_up or fresh.pending:
            messages += approval_request(
                tx,
                current.id,
                person,
                base,
                evidence_hash=evaluation.evidence_hash,
                links=links,
                subject_suffix=f":{evaluation.evidence_hash[:12]}",
            )
        tx.enqueue(messages, now=now)
        tx.commit()


# ------------------------------------------------------------------------------------------------ decisions
def apply_round_decision(round_id: UUID, *, uow: UowFactory, now: datetime) -> DecisionApplied:
    """Apply a resolved round to the lifecycle exactly once; a second call reports what was applied."""
    with uow() as tx:
        current = require_round(tx, round_id, for_update=True)
        if current.status is not RoundStatus.RESOLVED or current.decision is None:
            raise ConflictError(
                f"round {current.id} is {current.status.value}; only resolved rounds are applied",
                code="round.not_resolved",
            )
        project = require_project(tx, current.project_key, for_update=True)
        if current.applied_at is not None:
            return DecisionApplied(
                round_id=current.id,
                project_key=project.key,
                gate_id=current.gate_id,
                decision=current.decision,
                status=project.status,
                stage_id=project.stage_id,
                already_applied=True,
                notifications=0,
            )
        template = require_template(tx, project.template_id, project.template_version).template
        move = lifecycle_move(template, project, current.gate_id, current.decision)
        tx.update_project_state(
            project.key, status=move.status, stage_id=move.stage_id, recycle_count=move.recycle_count, now=now
        )
        tx.mark_round_applied(current.id, now=now)
        conditions = _conditions_of(current) if current.decision is Decision.CONDITIONAL_GO else []
        tx.add_conditions(conditions, now=now)
        tx.append_audit(
            actor=SYSTEM,
            action="decision.applied",
            entity=f"project:{project.key}",
            payload={
                "round": current.id,
                "gate": current.gate_id,
                "decision": current.decision,
                "from_stage": project.stage_id,
                "to_stage": move.stage_id,
                "status": move.status,
                "conditions": [c.model_dump(mode="json") for c in conditions],
            },
            at=now,
        )
        gate = template.gate(current.gate_id)
        stage = template.stage(move.stage_id)
        moved = move.stage_id != project.stage_id
        context = {
            "project_key": project.key,
            "project_name": project.name,
            "gate_name": gate.name if gate else current.gate_id,
            "gate_name_zh": (gate.name_zh or gate.name) if gate else current.gate_id,
            "decision": current.decision.value,
            "decided_by": ", ".join(v.signature for v in current.live_votes),
            "reason": "; ".join(v.reason for v in current.live_votes if v.reason),
            "new_stage": stage.name if moved else None,
            "new_stage_zh": (stage.name_zh or stage.name) if moved else None,
            "project_status": move.status.value,
        }
        messages: list[OutboxRequest] = []
        for person_id in dict.fromkeys((project.sponsor_id, project.manager_id)):
            messages += messages_for(
                require_person(tx, person_id, field="recipient"), "decision_made", f"round:{current.id}", context
            )
        messages.append(
            org_notice("decision_made", f"round:{current.id}", context, ("sponsor", "pmo", f"project:{project.key}"))
        )
        queued = tx.enqueue(messages, now=now)
        tx.commit()
    return DecisionApplied(
        round_id=current.id,
        project_key=project.key,
        gate_id=current.gate_id,
        decision=current.decision,
        status=move.status,
        stage_id=move.stage_id,
        already_applied=False,
        notifications=queued,
        conditions=len(conditions),
    )


def _conditions_of(current: RoundSnapshot) -> list[ConditionRecord]:
    records: dict[tuple[str, str, date], ConditionRecord] = {}
    for vote in current.live_votes:
        for spec in vote.conditions:
            records.setdefault(
                (spec.text, spec.owner_id, spec.due_on),
                ConditionRecord(
                    id=uuid4(),
                    project_key=current.project_key,
                    round_id=current.id,
                    gate_id=current.gate_id,
                    text=spec.text,
                    owner_id=spec.owner_id,
                    due_on=spec.due_on,
                    verification=spec.verification,
                    status="open",
                ),
            )
    return list(records.values())


def unapplied_rounds(*, uow: UowFactory) -> list[UUID]:
    """Rounds that resolved but whose decision was never applied (a crash between the two): reconcile them."""
    with uow() as tx:
        return tx.unapplied_rounds()


def list_rounds(*, uow: UowFactory, pending_only: bool = False, person_id: str | None = None) -> list[RoundSnapshot]:
    with uow() as tx:
        return tx.list_rounds(status=RoundStatus.OPEN if pending_only else None, person_id=person_id)


def round_tally(current: RoundSnapshot) -> Tally:
    return tally(_policy(current), _seats(current), _ballots(current))


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
        tx.replace_seats(current.id, seats, approvers)
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
            _request_context(project, gate),
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
        tx.cancel_round(current.id, now=now)
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
        context = (_request_context(project, gate) if gate else {"project_key": project.key}) | {
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


# ------------------------------------------------------------------------------------------------ delegation
@refusals_audited(Act.GRANT_DELEGATION)
def delegate(cmd: Delegate, *, actor: Actor, uow: UowFactory, now: datetime) -> DelegationRecord:
    """Record a bounded delegation. It never cascades: only the principal's own seats can be acted on."""
    with uow() as tx:
        permit(tx, actor, Act.GRANT_DELEGATION, subject=cmd.principal_id, entity=f"person:{cmd.principal_id}")
        require_person(tx, cmd.principal_id, field="PRINCIPAL")
        require_person(tx, cmd.delegate_id, field="DELEGATE")
        if cmd.template_id is not None:
            stored = tx.get_template(cmd.template_id)
            if stored is None:
                raise NotFoundError(f"--template: unknown template {cmd.template_id!r}", code="template.not_found")
            if cmd.gate_id is not None and stored.template.gate(cmd.gate_id) is None:
                raise InputError(f"--gate: {cmd.gate_id!r} is not a gate of {cmd.template_id}", code="gate.unknown")
        elif cmd.gate_id is not None:
            raise InputError("--gate needs --template: a gate id means something only within a lifecycle")
        record = DelegationRecord(
            id=uuid4(),
            principal_id=cmd.principal_id,
            delegate_id=cmd.delegate_id,
            valid_from=cmd.valid_from,
            valid_to=cmd.valid_to,
            template_id=cmd.template_id,
            gate_id=cmd.gate_id,
        )
        tx.add_delegation(record, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="delegation.granted",
            entity=f"person:{cmd.principal_id}",
            payload=record.model_dump(mode="json") | stamp(actor),
            at=now,
        )
        tx.commit()
    return record


@refusals_audited(Act.REVOKE_DELEGATION)
def revoke_delegation(delegation_id: UUID, *, actor: Actor, uow: UowFactory, now: datetime) -> DelegationRecord:
    """End a delegation now, by its principal or a PMO admin; votes already cast under it stand."""
    with uow() as tx:
        record = tx.get_delegation(delegation_id)
        if record is None:
            raise NotFoundError(
                f"ID: unknown delegation {delegation_id}; see 'phasegate delegate list'", code="delegation.not_found"
            )
        permit(tx, actor, Act.REVOKE_DELEGATION, subject=record.principal_id, entity=f"delegation:{delegation_id}")
        if record.revoked:
            raise ConflictError(f"delegation {delegation_id} is already revoked", code="delegation.revoked")
        tx.revoke_delegation(delegation_id, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="delegation.revoked",
            entity=f"person:{record.principal_id}",
            payload={"delegation": delegation_id, "delegate": record.delegate_id} | stamp(actor),
            at=now,
        )
        tx.commit()
    return record.model_copy(update={"revoked": True})


def list_delegations(*, uow: UowFactory, person_id: str | None = None) -> list[DelegationRecord]:
    with uow() as tx:
        return tx.delegations(person_id)


# ------------------------------------------------------------------------------------------------ lifecycle
@refusals_audited(Act.RESUME_PROJECT)
def resume_project(key: str, *, actor: Actor, reason: str, uow: UowFactory, now: datetime) -> ProjectSnapshot:
    """Take a project off HOLD, by decision of a named person with a reason."""
    if not reason.strip():
        raise InputError("--reason: resuming a held project needs a reason")
    with uow() as tx:
        project = require_project(tx, key, for_update=True)
        permit(tx, actor, Act.RESUME_PROJECT, project=project)
        if project.status is not ProjectStatus.ON_HOLD:
            raise ConflictError(
                f"project {key} is {project.status.value}; only projects on hold resume", code="project.not_on_hold"
            )
        tx.update_project_state(
            key, status=ProjectStatus.ACTIVE, stage_id=project.stage_id, recycle_count=project.recycle_count, now=now
        )
        tx.append_audit(
            actor=audit_name(actor),
            action="project.resumed",
            entity=f"project:{key}",
            payload={"reason": reason} | stamp(actor),
            at=now,
        )
        tx.commit()
    return project.model_copy(update={"status": ProjectStatus.ACTIVE})


@refusals_audited(Act.CLOSE_PROJECT)
def close_project(key: str, *, actor: Actor, lessons: str, uow: UowFactory, now: datetime) -> ProjectSnapshot:
    """Close a killed or completed project; lessons learned are required first (经验教训)."""
    with uow() as tx:
        project = require_project(tx, key, for_update=True)
        permit(tx, actor, Act.CLOSE_PROJECT, project=project)
        by = actor.person_id
        if project.status not in (ProjectStatus.KILLED, ProjectStatus.COMPLETED):
            raise ConflictError(
                f"project {key} is {project.status.value}; only killed or completed projects close",
                code="project.not_closable",
            )
        if project.closed:
            raise ConflictError(f"project {key} is already closed", code="project.closed")
        if lessons.strip():
            tx.add_lessons(key, lessons.strip(), by=by, now=now)
        if not tx.has_lessons(key):
            raise InputError("--lessons: a killed or completed project needs its lessons learned before closure")
        tx.close_project(key, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="project.closed",
            entity=f"project:{key}",
            payload={"status": project.status, "lessons": bool(lessons.strip())} | stamp(actor),
            at=now,
        )
        tx.commit()
    return project.model_copy(update={"closed": True})


# ------------------------------------------------------------------------------------------------ conditions
def list_conditions(
    *, uow: UowFactory, project_key: str | None = None, status: str | None = None
) -> list[ConditionRecord]:
    with uow() as tx:
        return tx.conditions(project_key=project_key, status=status)


@refusals_audited(Act.VERIFY_CONDITION)
def resolve_condition(
    condition_id: UUID, *, actor: Actor, met: bool, uow: UowFactory, now: datetime
) -> ConditionRecord:
    """A named verifier (or a gatekeeper or PMO admin) marks a condition met or missed; never the project's manager."""
    by = actor.person_id
    with uow() as tx:
        found = next((c for c in tx.conditions() if c.id == condition_id), None)
        if found is None:
            raise NotFoundError(
                f"unknown condition {condition_id}; see 'phasegate conditions list'", code="condition.not_found"
            )
        permit(
            tx,
            actor,
            Act.VERIFY_CONDITION,
            project=require_project(tx, found.project_key),
            entity=f"condition:{condition_id}",
        )
        if found.status != "open":
            raise ConflictError(f"condition {condition_id} is already {found.status}", code="condition.closed")
        verifier = found.verification.removeprefix("verifier:") if found.verification.startswith("verifier:") else None
        if verifier is not None and by != verifier:
            raise PermissionDeniedError(
                f"condition {condition_id} is verified by {verifier}, not {by}", code="condition.not_verifier"
            )
        status = "met" if met else "missed"
        tx.set_condition_status(condition_id, status, by=by, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action=f"condition.{status}",
            entity=f"project:{found.project_key}",
            payload={"condition": condition_id, "text": found.text} | stamp(actor),
            at=now,
        )
        tx.commit()
    return found.model_copy(update={"status": status, "resolved_by": by})


# ------------------------------------------------------------------------------------------------ reminders
class ReminderReport(Result):
    reminders: int = 0
    escalations: int = 0
    condition_notices: int = 0


EscalationTargets = Callable[[UnitOfWork, RoundSnapshot, str, str], list[str]]


def send_reminders(*, uow: UowFactory, now: datetime, links: ApprovalLinks | None = None) -> ReminderReport:
    """Plan and queue due reminders and escalations for open rounds, and condition notices; each step once.

    Nothing here decides: an overdue round is escalated up its ladder, never approved by timeout.
    """
    reminders = escalations = notices = 0
    with uow() as tx:
        for current in tx.list_rounds(status=RoundStatus.OPEN):
            if current.due_at is None:
                continue
            project = require_project(tx, current.project_key)
            template = require_template(tx, project.template_id, project.template_version).template
            gate = template.gate(current.gate_id)
            assert gate is not None
            calendar = WorkingCalendar.from_def(template.calendar)
            subject = f"round:{current.id}"
            steps = plan_notifications(
                current.opened_at, current.due_at, now, tx.steps_taken(subject), calendar=calendar
            )
            if not steps:
                continue
            waiting = round_tally(current)
            asked = waiting.next_up or waiting.pending
            base = _request_context(project, gate) | {
                "due_at": current.due_at.isoformat(),
                "overdue": now > current.due_at,
            }
            messages: list[OutboxRequest] = []
            for step in steps:
                if step.kind == "reminder":
                    reminders += 1
                    for person in asked:
                        messages += approval_request(
                            tx,
                            current.id,
                            person,
                            base,
                            evidence_hash=current.evidence_hash,
                            links=links,
                            kind="reminder",
                            subject_suffix=f":{step.id}",
                        )
                else:
                    escalations += 1
                    level = int(step.id.split(":", 1)[0].rsplit("-", 1)[-1]) if "-" in step.id else 1
                    for person in _escalation_audience(tx, project, step.audience, asked, now.date()):
                        messages += approval_request(
                            tx,
                            current.id,
                            person,
                            base | {"escalation_level": level},
                            evidence_hash=current.evidence_hash,
                            links=links,
                            kind="escalation",
                            subject_suffix=f":{step.id}",
                        )
                tx.append_audit(
                    actor=SYSTEM,
                    action=f"round.{step.kind}",
                    entity=subject,
                    payload={"step": step.id, "audience": step.audience, "waiting_for": list(asked)},
                    at=now,
                )
            tx.record_steps(subject, [step.id for step in steps], now=now)
            tx.enqueue(messages, now=now)
        for condition in tx.conditions(status="open"):
            project = require_project(tx, condition.project_key)
            template = require_template(tx, project.template_id, project.template_version).template
            gate = template.gate(condition.gate_id)
            grace = gate.condition_grace_days if gate else 5
            subject = f"condition:{condition.id}"
            steps = plan_condition_steps(
                condition.due_on,
                grace,
                now,
                tx.steps_taken(subject),
                calendar=WorkingCalendar.from_def(template.calendar),
            )
            messages = []
            for step in steps:
                notices += 1
                missed = step.id == "condition-missed"
                context = {
                    "project_key": project.key,
                    "project_name": project.name,
                    "condition": condition.text,
                    "owner": condition.owner_id,
                    "due_on": condition.due_on.isoformat(),
                    "verification": condition.verification,
                    "proposal": "hold" if missed else None,
                }
                gatekeepers = tx.get_round(condition.round_id)
                audience = (
                    condition.owner_id,
                    *(gatekeepers.approvers if missed and gatekeepers else ()),
                    project.sponsor_id,
                )
                for person_id in dict.fromkeys(audience):
                    messages += messages_for(
                        require_person(tx, person_id, field="recipient"),
                        "condition_missed" if missed else "condition_due",
                        f"{subject}:{step.id}",
                        context,
                    )
                tx.append_audit(
                    actor=SYSTEM,
                    action=f"condition.{'missed' if missed else 'due'}",
                    entity=subject,
                    payload={"step": step.id, "proposal": "hold" if missed else None},
                    at=now,
                )
            tx.record_steps(subject, [step.id for step in steps], now=now)
            tx.enqueue(messages, now=now)
        tx.commit()
    return ReminderReport(reminders=reminders, escalations=escalations, condition_notices=notices)


def _escalation_audience(
    tx: UnitOfWork, project: ProjectSnapshot, audience: str, waiting: tuple[str, ...], on: date
) -> list[str]:
    """Who hears an escalation at this rung of the ladder: delegates, the PMO, then the sponsor."""
    if audience == "approver":
        return list(waiting)
    if audience == "delegate_or_manager":
        delegates = [
            d.delegate_id
            for person in waiting
            for d in tx.delegations(person)
            if d.principal_id == person and not d.revoked and d.valid_from <= on <= d.valid_to
        ]
        return list(dict.fromkeys(delegates or [project.manager_id]))
    if audience == "pmo":
        return list(project_roles(tx, project).get("pmo", ())) or [project.sponsor_id]
    return [project.sponsor_id]


def send_weekly_digests(*, uow: UowFactory, now: datetime, links: ApprovalLinks | None = None) -> int:
    """Queue, once per ISO week, one digest per person of the approvals and conditions waiting for them."""
    year, week, _ = now.isocalendar()
    step = f"{year}-W{week:02d}"
    sent = 0
    with uow() as tx:
        waiting: dict[str, list[dict[str, Any]]] = {}
        for current in tx.list_rounds(status=RoundStatus.OPEN):
            project = require_project(tx, current.project_key)
            gate = require_template(tx, project.template_id, project.template_version).template.gate(current.gate_id)
            state = round_tally(current)
            for approver in state.next_up or state.pending:
                waiting.setdefault(approver, []).append(
                    {
                        "project_key": project.key,
                        "project_name": project.name,
                        "gate_name": gate.name if gate else current.gate_id,
                        "gate_name_zh": (gate.name_zh or gate.name) if gate else current.gate_id,
                        "round_id": str(current.id),
                        "waiting_days": (now - current.opened_at).days,
                        "due_at": current.due_at.isoformat() if current.due_at else "",
                        "approval_url": links(current.id, approver, current.evidence_hash) if links else None,
                    }
                )
        owed: dict[str, list[dict[str, Any]]] = {}
        for condition in tx.conditions(status="open"):
            project = require_project(tx, condition.project_key)
            owed.setdefault(condition.owner_id, []).append(
                {
                    "project_key": project.key,
                    "project_name": project.name,
                    "condition": condition.text,
                    "owner": condition.owner_id,
                    "due_on": condition.due_on.isoformat(),
                    "verification": condition.verification,
                }
            )
        for person_id in sorted(set(waiting) | set(owed)):
            subject = f"digest:{person_id}"
            if step in tx.steps_taken(subject):
                continue
            person = require_person(tx, person_id, field="recipient")
            context = {
                "person_name": person.name,
                "items": waiting.get(person_id, []),
                "conditions": owed.get(person_id, []),
            }
            tx.enqueue(messages_for(person, "weekly_digest", f"{subject}:{step}", context), now=now)
            tx.record_steps(subject, [step], now=now)
            sent += 1
        tx.commit()
    return sent

"""Votes: one act on a round, checked (eligibility, delegation, segregation of duties, sequence, duplicates,
stale evidence, the people a condition names), recorded bound to the evidence hash, audited, tallied and, when
the outcome is certain, resolved in the same commit. Refused attempts are audited in a transaction of their
own (security events for segregation and delegation breaches), so the refusal is on record although nothing
else is written. The result carries events; the composition root reacts to them after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from uuid import UUID

from pydantic import Field

from phasegate.gates.audit import SECURITY_REFUSED
from phasegate.gates.authorization import Act
from phasegate.gates.criteria import Criterion
from phasegate.gates.delegation import delegation_covers
from phasegate.gates.meaning import vote_meaning
from phasegate.gates.quorum import Ballot, Seat, Tally, tally
from phasegate.gates.segregation import segregation_breach
from phasegate.gates.vocabulary.commands import CastVote
from phasegate.gates.vocabulary.enums import (
    BallotKind,
    Decision,
    RoundStatus,
)
from phasegate.gates.vocabulary.errors import (
    AuthorizationError,
    ConflictError,
    EvidenceChangedError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    SecurityRefusedError,
)
from phasegate.gates.vocabulary.events import DomainEvent, RoundResolved, queued
from phasegate.gates.vocabulary.identity import Actor, SignatureProof
from phasegate.gates.vocabulary.snapshots import (
    DelegationRecord,
    OutboxRequest,
    ProjectSnapshot,
    RoundSnapshot,
    VoteRecord,
)
from phasegate.gates.vocabulary.template import ApprovalDef, GateDef
from phasegate.usecases.guard import audit_name, checked_people, permit, refuse, stamp
from phasegate.usecases.lookups import require_person, require_project, require_round, require_template
from phasegate.usecases.messages import approval_request, request_context
from phasegate.usecases.ports import ApprovalLinks, Credentials, DocumentProbe, UnitOfWork
from phasegate.usecases.result import SYSTEM, Result, UowFactory
from phasegate.usecases.reviews import reassess_open_round
from phasegate.usecases.rounds import ballots_of, policy_of, seats_of


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
    events: tuple[DomainEvent, ...] = Field(default=(), exclude=True)  # for the after-commit handler, not output


def _active_delegation(
    tx: UnitOfWork, principal: str, delegate: str, *, on: date, template_id: str, gate_id: str
) -> DelegationRecord | None:
    found = (
        record
        for record in tx.delegations.delegations(principal)
        if delegation_covers(
            record, principal=principal, delegate=delegate, on=on, template_id=template_id, gate_id=gate_id
        )
    )
    return next(found, None)


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
        current = tx.reviews.get_round(round_id)
    refuse(
        uow,
        actor=actor,
        action=SECURITY_REFUSED if security else "vote.refused",
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
    found = tx.reviews.vote_by_key(cmd.idempotency_key)
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
    credentials: Credentials | None = None,
    signature: SignatureProof | None = None,
) -> VoteResult:
    """Record one act on a round; resolve the round in the same transaction when its outcome is certain.

    Every refused attempt is audited (segregation and delegation breaches as security events) in a
    transaction of its own, then the error is raised for the entry point to show. On a gate whose template
    says ``signature: part11`` the signer re-authenticates (``signature``, checked by ``credentials``).
    """
    try:
        try:
            return _cast_vote(cmd, actor=actor, uow=uow, now=now, probe=probe, registry=registry, links=links)
        except _SignatureNeededError as needed:  # a Part 11 gate: verify outside the round's lock, then again
            _throttle_signatures(cmd.voter_id, uow=uow, now=now)
            _verify_signature(cmd, needed.gate_id, credentials=credentials, signature=signature)
            return _cast_vote(
                cmd, actor=actor, uow=uow, now=now, probe=probe, registry=registry, links=links, signed=True
            )
    except (SecurityRefusedError, AuthorizationError, ConflictError, PermissionDeniedError, NotFoundError) as refused:
        security = isinstance(refused, (SecurityRefusedError, AuthorizationError))
        if security or refused.code not in ("round.not_found", "person.not_found"):
            _refuse(
                uow,
                cmd=cmd,
                actor=actor,
                round_id=cmd.round_id,
                why=refused.message,
                code=refused.code,
                now=now,
                security=security,
            )
        raise


SIGNATURE_REQUIRED = "signature.required"
SIGNATURE_REFUSED = "signature.refused"
SIGNATURE_THROTTLED = "signature.throttled"
SIGNATURE_ATTEMPTS = 5
SIGNATURE_WINDOW = timedelta(minutes=15)


def _throttle_signatures(voter_id: str, *, uow: UowFactory, now: datetime) -> None:
    """After ``SIGNATURE_ATTEMPTS`` wrong signatures in ``SIGNATURE_WINDOW``, refuse before checking another.

    Why counted from the audit log: every door (CLI, page, API, any number of server processes) re-authenticates
    against the same record, so a guesser gains nothing by switching doors; the refusals are already audited.
    """
    with uow() as tx:
        failures = tx.count_refusals(person_id=voter_id, code=SIGNATURE_REFUSED, since=now - SIGNATURE_WINDOW)
    if failures >= SIGNATURE_ATTEMPTS:
        raise SecurityRefusedError(
            f"refused: {failures} wrong signatures by {voter_id} in the last "
            f"{int(SIGNATURE_WINDOW.total_seconds() // 60)} minutes; wait, then sign again",
            code=SIGNATURE_THROTTLED,
        )


class _SignatureNeededError(Exception):
    """Leaves the vote's transaction (rolled back) so the signer's credentials are checked without its lock."""

    def __init__(self, gate_id: str) -> None:
        super().__init__(gate_id)
        self.gate_id = gate_id


def _verify_signature(
    cmd: CastVote, gate_id: str, *, credentials: Credentials | None, signature: SignatureProof | None
) -> None:
    """A Part 11 gate takes a vote only from a signer who has just proved who they are (21 CFR 11.200).

    Missing proof is an input error (nothing to audit); wrong proof is a security refusal, audited by
    ``cast_vote``. Checked outside the vote's transaction: argon2 is slow on purpose and must not hold the lock.
    """
    if signature is None or credentials is None:
        raise InputError(
            f"password: gate {gate_id} takes electronic signatures (Part 11); re-enter your password to sign",
            code=SIGNATURE_REQUIRED,
        )
    code = signature.one_time_code
    if not credentials.verify(cmd.voter_id, signature.password.get_secret_value(), code.strip() if code else None):
        raise SecurityRefusedError(
            f"refused: the signature of {cmd.voter_id} did not verify (password or one-time code is wrong)",
            code=SIGNATURE_REFUSED,
        )


def _cast_vote(
    cmd: CastVote,
    *,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None = None,
    links: ApprovalLinks | None = None,
    signed: bool = False,
) -> VoteResult:
    """Record one act on a round; resolve the round in the same transaction when its outcome is certain."""
    stale = None
    with uow() as tx:
        # Lock the round before looking the key up: a retry racing its first attempt then waits for it and
        # replays its result, instead of passing the lookup and failing as a duplicate or a closed round. Its
        # project (locked after it, as every use case locks them) and the people a vote looks up are read with it.
        with tx.together():
            tx.reviews.read_ahead_round(cmd.round_id)
            tx.projects.read_ahead(round_id=cmd.round_id)
            signers = {cmd.voter_id} | ({cmd.on_behalf_of} if cmd.on_behalf_of else set())
            tx.people.read_ahead(checked_people(actor) | signers, round_id=cmd.round_id)
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
        _require_condition_people(tx, cmd)
        project = require_project(tx, current.project_key, for_update=True)
        template = require_template(tx, project.template_id, project.template_version).template
        gate = template.gate(current.gate_id)
        assert gate is not None, "a round always names a gate of its project's pinned template"
        seats = seats_of(current)
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
        violation = violation or segregation_breach(gate.segregation, project, current, principal, signer)
        earlier = next((v for v in current.live_votes if v.voter_id == principal), None)
        if earlier is not None and violation is None:
            raise ConflictError(
                f"{principal} already cast {earlier.decision or earlier.kind} on round {current.id} at "
                f"{earlier.cast_at.isoformat(timespec='seconds')}"
                + (f" (signed by {earlier.signer_id})" if earlier.on_behalf else "")
                + "; an act cannot be cast twice",
                code="vote.duplicate",
            )
        policy = policy_of(current)
        before = tally(policy, seats, ballots_of(current))
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
            if gate.signature == "part11" and not signed:
                raise _SignatureNeededError(gate.id)
            result = _record(
                tx, cmd, actor, current, project, gate, policy, seats, before, principal, signer, now, links
            )
            tx.commit()
            return result
    if violation is not None:
        raise SecurityRefusedError(f"refused: {violation}")
    events = reassess_open_round(uow, round_id=current.id, now=now, probe=probe, registry=registry, links=links)
    raise EvidenceChangedError(
        f"the evidence of {current.project_key} changed after round {current.id} opened (a new document, cost or "
        "status report); the gate was re-evaluated, earlier votes were superseded and approvers asked again: "
        "review the packet and vote again",
        events=events,
    )


def _require_condition_people(tx: UnitOfWork, cmd: CastVote) -> None:
    """Every condition's owner (and named verifier) must be a known person, checked before anything is written.

    Why here: the conditions are stored only when the decision is applied, after the round resolved; an
    unknown owner found then would leave a round decided but never applied.
    """
    named = [(i, "owner", c.owner_id) for i, c in enumerate(cmd.conditions, 1)] + [
        (i, "verifier", c.verification.removeprefix("verifier:"))
        for i, c in enumerate(cmd.conditions, 1)
        if c.verification.startswith("verifier:")
    ]
    if not named:
        return
    known = tx.people.get_people({person for _, _, person in named})
    for index, role, person in named:
        if person not in known:
            raise InputError(
                f"condition {index} {role}: unknown person {person!r}; a condition names people phasegate knows "
                "(add them with 'phasegate person add')",
                code="vote.condition_person_unknown",
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
    vote_id = tx.reviews.add_vote(current.id, vote)
    seat_role = next((seat.role for seat in seats if seat.person_id == principal), "")
    signer_name = tx.people.get_person(signer) or tx.people.get_person(principal)
    ballots = (*ballots_of(current), Ballot(person_id=principal, kind=cmd.kind, decision=cmd.decision))
    after = tally(policy, seats, ballots)
    meaning = vote_meaning(cmd.kind, cmd.decision)
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
            "signed_at_utc": now.isoformat(timespec="seconds"),
            "signature": gate.signature or "none",
        }
        | stamp(actor),
        at=now,
    )
    messages: list[OutboxRequest] = []
    if after.closed:
        tx.reviews.close_seats(current, after.closed)
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
        tx.reviews.resolve_round(current, decision=after.outcome, decided_by=decided_by, reason=cmd.reason, now=now)
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
        base = request_context(project, gate)
        for person in after.next_up:
            if person not in before.next_up:
                messages += approval_request(
                    tx, current.id, person, base, evidence_hash=current.evidence_hash, links=links
                )
    sent = tx.enqueue(messages, now=now)
    resolved = (
        (RoundResolved(round_id=current.id, project_key=current.project_key, decision=after.outcome),)
        if after.outcome is not None
        else ()
    )
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
        events=(*resolved, *queued(sent)),
    )

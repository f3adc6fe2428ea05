"""Gate reviews: the one path that records a gate's assessment (``usecases.assessment.assess_gate``: evidence,
criteria, the recycle limit) with its packet. ``start_review`` opens a round or says why not;
``reassess_open_round`` re-reviews a round whose evidence changed; ``check_gate`` (in ``usecases.assessment``)
evaluates and writes nothing. All three go through ``assess_gate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from phasegate.gates.authorization import Act
from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.criteria import Criterion
from phasegate.gates.quorum import resolve_seats, tally
from phasegate.gates.vocabulary.commands import RequestReview
from phasegate.gates.vocabulary.enums import (
    Recommendation,
    ReviewStatus,
    RoundStatus,
)
from phasegate.gates.vocabulary.errors import ConflictError
from phasegate.gates.vocabulary.events import DomainEvent, ReviewRecorded, queued
from phasegate.gates.vocabulary.events import queued as queued_event
from phasegate.gates.vocabulary.identity import Actor, AuthMethod
from phasegate.gates.vocabulary.notices import ApprovalRequested, GateNotReady
from phasegate.gates.vocabulary.snapshots import (
    Evaluation,
    OutboxRequest,
    ProjectSnapshot,
)
from phasegate.gates.vocabulary.template import GateDef, LifecycleTemplate
from phasegate.usecases.assessment import GateCheck, assess_gate
from phasegate.usecases.guard import audit_name, checked_people, permit, refusals_audited, stamp
from phasegate.usecases.lessons import lessons_context, surface_lessons
from phasegate.usecases.lookups import (
    current_gate,
    project_roles,
    require_person,
    require_project,
    require_round,
    require_template,
)
from phasegate.usecases.messages import (
    approval_request,
    criteria_context,
    gate_packet,
    messages_for,
    org_notice,
    request_context,
)
from phasegate.usecases.ports import ApprovalLinks, DocumentProbe, UnitOfWork
from phasegate.usecases.result import SYSTEM, Result, UowFactory
from phasegate.usecases.rounds import policy_of, seats_of


class ReviewResult(Result):
    review_id: UUID
    round_id: UUID | None
    evaluation: Evaluation
    approvers: tuple[str, ...]
    notifications: int
    lessons: tuple[dict[str, Any], ...] = ()  # lessons learned shown with the review (gates.relevance)
    events: tuple[DomainEvent, ...] = Field(default=(), exclude=True)  # for the after-commit handler, not output


def record_review(
    tx: UnitOfWork,
    assessed: GateCheck,
    project: ProjectSnapshot,
    gate: GateDef,
    *,
    status: ReviewStatus,
    requested_by: str | None,
    now: datetime,
    actor: Actor | None = None,
) -> ReviewRecorded:
    """Record an assessment as a review with its evidence and hash, and audit it (the caller commits).

    ``actor`` is who asked for the review, stamped into the audit entry; a refresh under an open round has
    none of its own and keeps the round's requester."""
    evaluation = assessed.evaluation
    review_id = tx.reviews.add_review(
        project_key=project.key,
        gate_id=gate.id,
        stage_id=project.stage_id,
        status=status,
        recommendation=evaluation.recommendation,
        evaluation=evaluation.model_dump(mode="json"),
        evidence=assessed.evidence.model_dump(mode="json"),
        evidence_hash=evaluation.evidence_hash,
        requested_by=requested_by,
        now=now,
    )
    tx.append_audit(
        actor=audit_name(actor) if actor is not None else requested_by or SYSTEM,
        action="review.recorded",
        entity=f"project:{project.key}/gate:{gate.id}",
        payload={
            "review": review_id,
            "recommendation": evaluation.recommendation,
            "evidence_hash": evaluation.evidence_hash,
        }
        | (stamp(actor) if actor is not None else {}),
        at=now,
    )
    return ReviewRecorded(
        review_id=review_id, project_key=project.key, gate_id=gate.id, recommendation=evaluation.recommendation
    )


def _reviewable(
    tx: UnitOfWork, project_key: str, *, for_update: bool = False
) -> tuple[ProjectSnapshot, LifecycleTemplate, GateDef]:
    project = require_project(tx, project_key, for_update=for_update)
    template = require_template(tx, project.template_id, project.template_version).template
    gate = current_gate(project, template)
    pending = tx.reviews.open_rounds(project.key)
    if pending:
        raise ConflictError(
            f"project {project.key} already has an open approval round {pending[0].id} for gate "
            f"{pending[0].gate_id}; vote on it or wait for it to resolve",
            code="review.round_open",
        )
    return project, template, gate


@refusals_audited(Act.REQUEST_REVIEW)
def check_review_request(project_key: str, *, actor: Actor, uow: UowFactory, now: datetime) -> str:
    """What ``start_review`` checks before it evaluates (a gate to review, an actor who may ask), writing nothing.

    A door that hands the review to a flow run checks first, so a mistake or a refusal is the door's 4xx or exit 2
    (a refusal audited) instead of a failed flow run. Returns the gate the review would evaluate.
    """
    with uow() as tx:
        project, _, gate = _reviewable(tx, project_key)
        permit(tx, actor, Act.REQUEST_REVIEW, project=project)
        return gate.id


def latest_review(project_key: str, *, uow: UowFactory) -> ReviewResult | None:
    """The project's newest review as a door reports it: what a gate-review flow run on a worker recorded.

    ``notifications`` is 0: that flow run queued and sent its requests itself.
    """
    with uow() as tx:
        found = tx.reviews.latest_review(project_key)
        if found is None:
            return None
        review_id, evaluation = found
        opened = next((r for r in tx.reviews.open_rounds(project_key) if r.review_id == review_id), None)
    return ReviewResult(
        review_id=review_id,
        round_id=opened.id if opened else None,
        evaluation=evaluation,
        approvers=tuple(dict.fromkeys(opened.approvers)) if opened else (),
        notifications=0,
    )


def reviewable_gate(project_key: str, *, uow: UowFactory) -> str:
    """The gate a review of the project would evaluate, or the user error a review would meet; reads little.

    Entry points call it before paying for Prefect, so a mistake fails fast without evaluating the gate twice.
    """
    with uow() as tx:
        return _reviewable(tx, project_key)[2].id


@refusals_audited(Act.REQUEST_REVIEW)
def start_review(
    cmd: RequestReview,
    *,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None = None,
    links: ApprovalLinks | None = None,
) -> ReviewResult:
    """Evaluate, record the evaluation with its evidence hash, and open a round unless the gate is not ready."""
    cmd = cmd.model_copy(update={"requested_by": None if actor.method is AuthMethod.SYSTEM else actor.person_id})
    with uow() as tx:
        with tx.together():  # what a review reads before it evaluates: one round trip on PostgreSQL
            tx.projects.read_ahead(key=cmd.project_key)
            tx.reviews.read_ahead_open_rounds(cmd.project_key)
            tx.projects.read_ahead_roles(cmd.project_key)
            tx.people.read_ahead(checked_people(actor), project_key=cmd.project_key)
            tx.lessons.read_ahead_register_stamp()
            tx.evidence.read_ahead_gate(cmd.project_key, now.date())  # as ``assess_gate`` will ask
        project, template, gate = _reviewable(tx, cmd.project_key, for_update=True)
        _read_people(tx, actor, project)
        permit(tx, actor, Act.REQUEST_REVIEW, project=project)
        assessed = assess_gate(tx, project, template, gate, now=now, probe=probe, registry=registry)
        evaluation, evidence = assessed.evaluation, assessed.evidence
        ready = evaluation.recommendation is not Recommendation.NOT_READY
        status = ReviewStatus.AWAITING_APPROVAL if ready else ReviewStatus.NOT_READY
        recorded = record_review(
            tx, assessed, project, gate, status=status, requested_by=cmd.requested_by, now=now, actor=actor
        )
        review_id = recorded.review_id
        base = request_context(project, gate) | {
            "recommendation": evaluation.recommendation.value,
            "criteria": criteria_context(evaluation),
        }
        round_id: UUID | None = None
        shown: list[dict[str, Any]] = []
        approvers: tuple[str, ...] = ()
        messages: list[OutboxRequest] = []
        if ready:
            seats = resolve_seats(  # the roles the evidence holds: read in this transaction, so still current
                gate.approval, _enabled(tx, evidence.roles), one_seat_per_person=gate.segregation.one_seat_per_person
            )
            approvers = tuple(dict.fromkeys(seat.person_id for seat in seats))
            # Dumped once: the round's row and its audit entry take the same values, and neither changes them.
            seat_rows = [seat.model_dump(mode="json") for seat in seats]
            policy_spec = gate.approval.model_dump(mode="json")
            calendar = WorkingCalendar.from_def(template.calendar)
            round_id = tx.reviews.open_round(
                review_id=review_id,
                project_key=project.key,
                gate_id=gate.id,
                policy=gate.approval.policy.value,
                approvers=approvers,
                evidence_hash=evaluation.evidence_hash,
                due_at=calendar.add_business_days(now, gate.sla_business_days),
                now=now,
                seats=seat_rows,
                policy_spec=policy_spec,
                requested_by=cmd.requested_by,
                evidence_version=project.evidence_version,
            )
            tx.append_audit(
                actor=audit_name(actor),
                action="round.opened",
                entity=f"round:{round_id}",
                payload={
                    "project": project.key,
                    "gate": gate.id,
                    "policy": policy_spec,
                    "seats": seat_rows,
                    "evidence_hash": evaluation.evidence_hash,
                },
                at=now,
            )
            opening = tally(gate.approval, seats, ())
            asked = opening.next_up or opening.pending
            shown = lessons_context(
                surface_lessons(tx, project, gate, evaluation, review_id=review_id, round_id=round_id, now=now)
            )
            packet = gate_packet(evaluation, evidence, project, gate, round_id, asked, now) | {"lessons": shown}
            request = base | {"packet": packet, "lessons": shown}
            if cmd.meeting_at is not None:
                request |= {
                    "review_meeting": {
                        "starts_at": cmd.meeting_at.isoformat(),
                        "duration_minutes": cmd.meeting_minutes,
                    },
                    "requested_at": now.isoformat(),
                }
            for approver_id in asked:
                messages += approval_request(
                    tx, round_id, approver_id, request, evidence_hash=evaluation.evidence_hash, links=links
                )
            names = ", ".join(require_person(tx, person, field="approver").name for person in asked)
            team = ApprovalRequested(
                **base,
                round_id=str(round_id),
                approver_name=names,
                approval_url=None,
                vote_command=f"phasegate vote {round_id} --decision go",
            )
            messages.append(org_notice(team, f"round:{round_id}", ("pmo", f"project:{project.key}")))
        else:
            manager = require_person(tx, project.manager_id, field="manager")
            not_ready = GateNotReady(**request_context(project, gate), criteria=base["criteria"])
            messages += messages_for(manager, not_ready, f"review:{review_id}")
            messages.append(org_notice(not_ready, f"review:{review_id}", (f"project:{project.key}",)))
        queued = tx.enqueue(messages, now=now)
        tx.commit()
    return ReviewResult(
        review_id=review_id,
        round_id=round_id,
        evaluation=evaluation,
        approvers=approvers,
        notifications=queued,
        lessons=tuple(shown),
        events=(recorded.model_copy(update={"round_id": round_id}), *queued_event(queued)),
    )


def reassess_open_round(
    uow: UowFactory,
    *,
    round_id: UUID,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None,
    links: ApprovalLinks | None,
) -> tuple[DomainEvent, ...]:
    """Evidence changed under an open round: re-assess the gate (the same path as a review: recycle limit and
    packet included), supersede the votes, and send every open seat the fresh packet."""
    with uow() as tx:
        current = require_round(tx, round_id, for_update=True)
        project = require_project(tx, current.project_key, for_update=True)
        if current.status is not RoundStatus.OPEN or project.evidence_version == current.evidence_version:
            return ()  # someone else refreshed it first
        template = require_template(tx, project.template_id, project.template_version).template
        gate = template.gate(current.gate_id)
        assert gate is not None
        assessed = assess_gate(tx, project, template, gate, now=now, probe=probe, registry=registry)
        evaluation = assessed.evaluation
        recorded = record_review(
            tx,
            assessed,
            project,
            gate,
            status=ReviewStatus.AWAITING_APPROVAL,
            requested_by=current.requested_by,
            now=now,
        )
        superseded = tx.reviews.supersede_votes(current.id, now=now)
        tx.reviews.refresh_round(
            current.id,
            review_id=recorded.review_id,
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
        fresh = tally(policy_of(current), seats_of(current), ())
        asked = fresh.next_up or fresh.pending
        shown = lessons_context(
            surface_lessons(tx, project, gate, evaluation, review_id=recorded.review_id, round_id=current.id, now=now)
        )
        request = request_context(project, gate) | {
            "recommendation": evaluation.recommendation.value,
            "criteria": criteria_context(evaluation),
            "packet": gate_packet(evaluation, assessed.evidence, project, gate, current.id, asked, now)
            | {"lessons": shown},
            "lessons": shown,
        }
        messages: list[OutboxRequest] = []
        for person in asked:
            messages += approval_request(
                tx,
                current.id,
                person,
                request,
                evidence_hash=evaluation.evidence_hash,
                links=links,
                subject_suffix=f":{evaluation.evidence_hash[:12]}",
            )
        sent = tx.enqueue(messages, now=now)
        tx.commit()
    return (recorded.model_copy(update={"round_id": current.id}), *queued(sent))


def _read_people(tx: UnitOfWork, actor: Actor, project: ProjectSnapshot) -> None:
    """Read, in one statement, everyone a review looks up: who asks (``permit``) and the project's role holders
    (the seats, the manager, the names in the request), kept by the unit of work; they were two reads."""
    holders = {person for people in project_roles(tx, project).values() for person in people}
    tx.people.get_people(holders | checked_people(actor))


def _enabled(tx: UnitOfWork, roles: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """The project's roles without disabled people: a disabled person is never seated in a new round."""
    people = tx.people.get_people({person for holders in roles.values() for person in holders})
    return {
        role: tuple(p for p in holders if not (p in people and people[p].disabled)) for role, holders in roles.items()
    }

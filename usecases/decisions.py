"""Decisions: applying a resolved round to the project's lifecycle exactly once (advance, conditional go with
its tracked conditions, recycle, hold, kill), and reconciling rounds a crash left unapplied, one at a time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import Field

from phasegate.gates.lifecycle import apply_decision as lifecycle_move
from phasegate.gates.vocabulary.enums import (
    Decision,
    ProjectStatus,
    RoundStatus,
)
from phasegate.gates.vocabulary.errors import ConflictError
from phasegate.gates.vocabulary.events import DomainEvent, queued
from phasegate.gates.vocabulary.lessons import LessonDueRecord
from phasegate.gates.vocabulary.notices import DecisionMade, LessonDue
from phasegate.gates.vocabulary.snapshots import (
    ConditionRecord,
    OutboxRequest,
    RoundSnapshot,
)
from phasegate.usecases.lookups import require_person, require_project, require_round, require_template
from phasegate.usecases.messages import messages_for, org_notice
from phasegate.usecases.result import SYSTEM, Result, UowFactory
from phasegate.usecases.rounds import unapplied_rounds


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
    events: tuple[DomainEvent, ...] = Field(default=(), exclude=True)  # for the after-commit handler, not output


def apply_round_decision(round_id: UUID, *, uow: UowFactory, now: datetime) -> DecisionApplied:
    """Apply a resolved round to the lifecycle exactly once; a second call reports what was applied."""
    with uow() as tx:
        with tx.together():  # the round, its project (both locked), who is told, whether lessons are owed
            tx.reviews.read_ahead_round(round_id)
            tx.projects.read_ahead(round_id=round_id)
            tx.people.read_ahead(round_id=round_id)
            tx.lessons.read_ahead_has_lessons(round_id)
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
        tx.projects.update_project_state(
            project.key, status=move.status, stage_id=move.stage_id, recycle_count=move.recycle_count, now=now
        )
        tx.reviews.mark_round_applied(current.id, now=now)
        conditions = _conditions_of(current) if current.decision is Decision.CONDITIONAL_GO else []
        tx.conditions.add_conditions(conditions, now=now)
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
        due = current.decision is Decision.KILL and not tx.lessons.has_lessons(project.key)
        if due:  # never blocks the kill: the manager owes the lessons, and closure waits for them
            tx.lessons.open_lesson_due(
                LessonDueRecord(
                    project_key=project.key,
                    round_id=current.id,
                    gate_id=current.gate_id,
                    owner_id=project.manager_id,
                    opened_at=now,
                )
            )
        gate = template.gate(current.gate_id)
        stage = template.stage(move.stage_id)
        moved = move.stage_id != project.stage_id
        about: dict[str, Any] = {
            "project_key": project.key,
            "project_name": project.name,
            "gate_id": current.gate_id,
            "gate_name": gate.name if gate else current.gate_id,
            "gate_name_zh": (gate.name_zh or gate.name) if gate else current.gate_id,
        }
        notice = DecisionMade(
            **about,
            decision=current.decision.value,
            decided_by=", ".join(v.signature for v in current.live_votes),
            reason="; ".join(v.reason for v in current.live_votes if v.reason),
            new_stage=stage.name if moved else None,
            new_stage_zh=(stage.name_zh or stage.name) if moved else None,
            project_status=move.status.value,
        )
        messages: list[OutboxRequest] = []
        tx.people.get_people({project.sponsor_id, project.manager_id})  # both in one read; kept for the unit's life
        for person_id in dict.fromkeys((project.sponsor_id, project.manager_id)):
            messages += messages_for(require_person(tx, person_id, field="recipient"), notice, f"round:{current.id}")
        messages.append(org_notice(notice, f"round:{current.id}", ("sponsor", "pmo", f"project:{project.key}")))
        if due:
            lesson = LessonDue(
                **about, lesson_command=f"phasegate lesson add {project.key} --gate {current.gate_id} --what ..."
            )
            messages += messages_for(
                require_person(tx, project.manager_id, field="manager"), lesson, f"project:{project.key}"
            )
        count = tx.enqueue(messages, now=now)
        tx.commit()
    return DecisionApplied(
        round_id=current.id,
        project_key=project.key,
        gate_id=current.gate_id,
        decision=current.decision,
        status=move.status,
        stage_id=move.stage_id,
        already_applied=False,
        notifications=count,
        conditions=len(conditions),
        events=queued(count),
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


class RoundFailure(Result):
    """A round a batch could not handle, and why: reported, never allowed to stop the other rounds."""

    round_id: UUID
    error: str


class ReconcileReport(Result):
    applied: tuple[DecisionApplied, ...] = ()
    failed: tuple[RoundFailure, ...] = ()


def reconcile_decisions(*, uow: UowFactory, now: datetime) -> ReconcileReport:
    """Apply every resolved-but-unapplied round, each in its own transaction; one that fails is reported.

    Why each alone: a round whose decision cannot be applied (data written before a check existed) must not
    keep every later round, reminder and dispatch waiting behind it.
    """
    applied: list[DecisionApplied] = []
    failed: list[RoundFailure] = []
    for round_id in unapplied_rounds(uow=uow):
        try:
            applied.append(apply_round_decision(round_id, uow=uow, now=now))
        except Exception as err:  # reported with the round; the next round is tried all the same
            failed.append(RoundFailure(round_id=round_id, error=one_line(err)))
    return ReconcileReport(applied=tuple(applied), failed=tuple(failed))


def one_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:500]

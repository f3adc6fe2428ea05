"""Reminders, escalations, condition notices and weekly digests: planned on business calendars, each step
taken once. Nothing here decides; an overdue round is escalated, never approved by timeout, and a round that
cannot be planned is reported without holding up the others.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.escalation import plan_condition_steps, plan_notifications
from phasegate.gates.vocabulary.enums import (
    RoundStatus,
)
from phasegate.gates.vocabulary.errors import NotFoundError
from phasegate.gates.vocabulary.snapshots import (
    ConditionRecord,
    OutboxRequest,
    ProjectSnapshot,
    RoundSnapshot,
)
from phasegate.usecases.decisions import RoundFailure, one_line
from phasegate.usecases.lookups import project_roles, require_person, require_project, require_template
from phasegate.usecases.messages import approval_request, messages_for, request_context
from phasegate.usecases.ports import ApprovalLinks, UnitOfWork
from phasegate.usecases.result import SYSTEM, Result, UowFactory
from phasegate.usecases.rounds import round_tally


class ReminderReport(Result):
    reminders: int = 0
    escalations: int = 0
    condition_notices: int = 0
    failed: tuple[RoundFailure, ...] = ()


EscalationTargets = Callable[[UnitOfWork, RoundSnapshot, str, str], list[str]]


class _Plan(Result):
    """What one round's (or condition's) due steps will write, built before anything is written."""

    subject: str
    steps: tuple[str, ...]
    messages: tuple[OutboxRequest, ...]
    audits: tuple[tuple[str, dict[str, Any]], ...]
    reminders: int = 0
    escalations: int = 0
    notices: int = 0


def send_reminders(*, uow: UowFactory, now: datetime, links: ApprovalLinks | None = None) -> ReminderReport:
    """Plan and queue due reminders and escalations for open rounds, and condition notices; each step once.

    Nothing here decides: an overdue round is escalated up its ladder, never approved by timeout. Each round's
    steps are planned in full before any is written, so a round that cannot be planned (a person or template
    gone) is reported in ``failed`` and the others still get theirs.
    """
    plans: list[_Plan] = []
    failed: list[RoundFailure] = []
    with uow() as tx:
        for current in tx.reviews.list_rounds(status=RoundStatus.OPEN):
            try:
                plans.append(_plan_round(tx, current, now, links))
            except Exception as err:  # reported with the round; the others go on
                failed.append(RoundFailure(round_id=current.id, error=one_line(err)))
        for condition in tx.conditions.conditions(status="open"):
            try:
                plans.append(_plan_condition(tx, condition, now))
            except Exception as err:
                failed.append(RoundFailure(round_id=condition.round_id, error=one_line(err)))
        for plan in plans:
            if not plan.steps:
                continue
            for action, payload in plan.audits:
                tx.append_audit(actor=SYSTEM, action=action, entity=plan.subject, payload=payload, at=now)
            tx.record_steps(plan.subject, list(plan.steps), now=now)
            tx.enqueue(plan.messages, now=now)
        tx.commit()
    return ReminderReport(
        reminders=sum(p.reminders for p in plans),
        escalations=sum(p.escalations for p in plans),
        condition_notices=sum(p.notices for p in plans),
        failed=tuple(failed),
    )


def _plan_round(tx: UnitOfWork, current: RoundSnapshot, now: datetime, links: ApprovalLinks | None) -> _Plan:
    subject = f"round:{current.id}"
    if current.due_at is None:
        return _Plan(subject=subject, steps=(), messages=(), audits=())
    project = require_project(tx, current.project_key)
    template = require_template(tx, project.template_id, project.template_version).template
    gate = template.gate(current.gate_id)
    if gate is None:
        raise NotFoundError(f"gate {current.gate_id!r} is not in {template.id}@{template.version}")
    calendar = WorkingCalendar.from_def(template.calendar)
    steps = plan_notifications(current.opened_at, current.due_at, now, tx.steps_taken(subject), calendar=calendar)
    if not steps:
        return _Plan(subject=subject, steps=(), messages=(), audits=())
    waiting = round_tally(current)
    asked = waiting.next_up or waiting.pending
    base = request_context(project, gate) | {"due_at": current.due_at.isoformat(), "overdue": now > current.due_at}
    messages: list[OutboxRequest] = []
    audits: list[tuple[str, dict[str, Any]]] = []
    reminders = escalations = 0
    for step in steps:
        if step.kind == "reminder":
            reminders += 1
            audience, context = list(asked), base
        else:
            escalations += 1
            level = int(step.id.split(":", 1)[0].rsplit("-", 1)[-1]) if "-" in step.id else 1
            audience = _escalation_audience(tx, project, step.audience, asked, now.date())
            context = base | {"escalation_level": level}
        for person in audience:
            messages += approval_request(
                tx,
                current.id,
                person,
                context,
                evidence_hash=current.evidence_hash,
                links=links,
                kind=step.kind,
                subject_suffix=f":{step.id}",
            )
        audits.append((f"round.{step.kind}", {"step": step.id, "audience": step.audience, "waiting_for": list(asked)}))
    return _Plan(
        subject=subject,
        steps=tuple(step.id for step in steps),
        messages=tuple(messages),
        audits=tuple(audits),
        reminders=reminders,
        escalations=escalations,
    )


def _plan_condition(tx: UnitOfWork, condition: ConditionRecord, now: datetime) -> _Plan:
    project = require_project(tx, condition.project_key)
    template = require_template(tx, project.template_id, project.template_version).template
    gate = template.gate(condition.gate_id)
    grace = gate.condition_grace_days if gate else 5
    subject = f"condition:{condition.id}"
    steps = plan_condition_steps(
        condition.due_on, grace, now, tx.steps_taken(subject), calendar=WorkingCalendar.from_def(template.calendar)
    )
    messages: list[OutboxRequest] = []
    audits: list[tuple[str, dict[str, Any]]] = []
    for step in steps:
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
        gatekeepers = tx.reviews.get_round(condition.round_id)
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
        audits.append(
            (f"condition.{'missed' if missed else 'due'}", {"step": step.id, "proposal": "hold" if missed else None})
        )
    return _Plan(
        subject=subject,
        steps=tuple(step.id for step in steps),
        messages=tuple(messages),
        audits=tuple(audits),
        notices=len(steps),
    )


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
            for d in tx.delegations.delegations(person)
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
        for current in tx.reviews.list_rounds(status=RoundStatus.OPEN):
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
        for condition in tx.conditions.conditions(status="open"):
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

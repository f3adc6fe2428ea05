"""The HOLD queue: projects on hold waiting for capacity, ranked for when it frees up, and the notice that tells
a held project's sponsor, manager and the PMO channel once its next stage fits.

Why a queue and not a list: freed capacity goes to one project first. Walking down the ranks, each project whose
next stage fits reserves its hours, so a lower-ranked project is never told it fits with hours a higher-ranked
one will take.

The ranks: projects with an expected benefit first, in prioritisation's order (``gates.prioritisation``: value
per remaining cost, then the scorecard over all its gates), since that is the order the PMO's portfolio proposal
defends; then the projects the model cannot value, by the PMO's manual priority (higher first, unset last), then
the scorecard score at the gate they are held at, then key.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from phasegate.gates.capacity import shortfall_text, shortfalls
from phasegate.gates.prioritisation import Candidate, candidates_from, rank_order, value_per_cost
from phasegate.gates.vocabulary.canonical import sha256_hex
from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.notices import CapacityAvailable
from phasegate.gates.vocabulary.snapshots import ProjectQuery
from phasegate.usecases.lookups import require_template
from phasegate.usecases.messages import messages_for, org_notice
from phasegate.usecases.resources import stage_evidence
from phasegate.usecases.result import SYSTEM, Result, UowFactory

QueueOrder = tuple[int, tuple[int, Decimal, float, str], int, Decimal, str]


class QueueEntry(Result):
    rank: int
    project_key: str
    name: str
    stage_id: str
    next_stage: str | None
    priority: int | None
    value_per_cost: Decimal | None = None
    """Expected benefit per remaining cost (prioritisation's), when the project has an expected benefit."""
    score: Decimal | None
    """Mean scorecard score at the gate the project is held at (0-10), when gatekeepers scored it."""
    demand_hours: Decimal
    fits: bool
    """The next stage fits the capacity left after active projects and the projects ranked above that fit."""
    shortfalls: tuple[str, ...]


def _queue_order(valued: Candidate | None, priority: int | None, score: Decimal | None, key: str) -> QueueOrder:
    """Valued projects by prioritisation's order; the others after them by priority, gate score, key."""
    if valued is not None:
        return (0, rank_order(valued), 0, Decimal(0), key)
    return (1, (0, Decimal(0), 0.0, ""), -(priority if priority is not None else -1), -(score or Decimal(-1)), key)


def hold_queue(*, uow: UowFactory) -> list[QueueEntry]:
    """Projects on hold, ranked for when capacity frees up: those with an expected benefit by value per
    remaining cost, then scorecard (prioritisation's order); the rest by priority (higher first, unset last),
    then the mean scorecard score at their gate, then key. Walking down the ranks, each project that fits
    reserves its hours, so ``fits`` says who could resume now without taking capacity from a higher-ranked one."""
    with uow() as tx:
        held, _ = tx.projects.list_projects(ProjectQuery(status=ProjectStatus.ON_HOLD))
        priorities = tx.resources.priorities()
        valued = {
            c.key: c for c in candidates_from(tx.strategy.priority_facts()) if c.benefit is not None and c.benefit > 0
        }
        candidates = []
        for project in held:
            template = require_template(tx, project.template_id, project.template_version).template
            gate = template.gate_after(project.stage_id)
            scores = [s.score for s in tx.evidence.scores(project.key, gate.id)] if gate is not None else []
            score = (Decimal(sum(scores)) / len(scores)).quantize(Decimal("0.1")) if scores else None
            candidates.append((project, template, priorities.get(project.key), score, valued.get(project.key)))
        candidates.sort(key=lambda c: _queue_order(c[4], c[2], c[3], c[0].key))
        reserved: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
        entries = []
        for rank, (project, template, priority, score, worth) in enumerate(candidates, start=1):
            found = stage_evidence(tx, project, template, reserved=dict(reserved))
            short = shortfalls(found.lines)
            fits = bool(found.lines) and not short
            if fits:
                for line in found.lines:
                    reserved[line.role, _month_of(line.month)] += line.demand
            entries.append(
                QueueEntry(
                    rank=rank,
                    project_key=project.key,
                    name=project.name,
                    stage_id=project.stage_id,
                    next_stage=found.next_stage,
                    priority=priority,
                    value_per_cost=None if worth is None else value_per_cost(worth),
                    score=score,
                    demand_hours=sum((line.demand for line in found.lines), Decimal(0)),
                    fits=fits,
                    shortfalls=tuple(shortfall_text(line) for line in short),
                )
            )
    return entries


def _month_of(label: str) -> date:
    year, month = label.split("-")
    return date(int(year), int(month), 1)


def announce_capacity(*, uow: UowFactory, now: datetime) -> list[str]:
    """Tell each held project's sponsor, manager and the PMO channel once its next stage fits the capacity now
    free (the HOLD queue's ``fits``, higher ranks served first): the gatekeepers may resume it. Once per plan:
    the same demand never announces twice, a changed plan that fits again does. Returns the projects announced."""
    announced = []
    for entry in hold_queue(uow=uow):
        if not entry.fits:
            continue
        with uow() as tx:
            project = tx.projects.get_project(entry.project_key)
            if project is None or project.status is not ProjectStatus.ON_HOLD:
                continue
            plan = [line for line in tx.resources.demand(project_key=project.key) if line.stage_id == entry.next_stage]
            digest = sha256_hex([entry.next_stage, [line.model_dump(mode="json") for line in plan]])[:12]
            subject = f"capacity:{project.key}:{digest}"
            if not tx.claim_step(subject, "announced", now=now):
                continue
            template = require_template(tx, project.template_id, project.template_version).template
            stage = template.stage(entry.next_stage) if entry.next_stage else None
            notice = CapacityAvailable(
                project_key=project.key,
                project_name=project.name,
                next_stage=stage.name if stage else "",
                next_stage_zh=stage.name_zh if stage else None,
                demand_hours=str(entry.demand_hours),
                rank=entry.rank,
                resume_command=f"phasegate project resume {project.key} --reason ...",
            )
            people = tx.people.get_people([project.sponsor_id, project.manager_id])
            messages = [m for person in people.values() for m in messages_for(person, notice, subject)]
            tx.enqueue([*messages, org_notice(notice, subject, ("pmo",))], now=now)
            tx.append_audit(
                actor=SYSTEM,
                action="resources.capacity_available",
                entity=f"project:{project.key}",
                payload={"next_stage": entry.next_stage, "rank": entry.rank, "hours": entry.demand_hours},
                at=now,
            )
            tx.commit()
        announced.append(entry.project_key)
    return announced

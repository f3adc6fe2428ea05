"""Projects: creation pinned to a template version, roles, views, and the moves a person makes outside a gate
(resuming a held project, closing a killed or completed one after its lessons learned).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from phasegate.gates.authorization import Act, check_sponsor_and_manager
from phasegate.gates.vocabulary.commands import CreateProject, UpdateProject
from phasegate.gates.vocabulary.enums import (
    ProjectStatus,
)
from phasegate.gates.vocabulary.errors import ConflictError, InputError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.snapshots import (
    ProjectQuery,
    ProjectSnapshot,
    RoundSnapshot,
)
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lessons import record_closing_lesson
from phasegate.usecases.lookups import require_person, require_project, require_template
from phasegate.usecases.result import Result, UowFactory


@refusals_audited(Act.CREATE_PROJECT)
def create_project(cmd: CreateProject, *, actor: Actor, uow: UowFactory, now: datetime) -> ProjectSnapshot:
    with uow() as tx:
        permit(tx, actor, Act.CREATE_PROJECT, entity=f"project:{cmd.key}")
        check_sponsor_and_manager(cmd.sponsor_id, cmd.manager_id)
        stored = require_template(tx, cmd.template_id, cmd.template_version)
        for role, person_id in (("sponsor", cmd.sponsor_id), ("manager", cmd.manager_id)):
            require_person(tx, person_id, field=f"--{role}")
        if tx.projects.get_project(cmd.key) is not None:
            raise ConflictError(f"project {cmd.key!r} already exists", code="project.exists")
        project = ProjectSnapshot(
            key=cmd.key,
            name=cmd.name,
            template_id=stored.template.id,
            template_version=stored.template.version,
            template_hash=stored.content_hash,
            sponsor_id=cmd.sponsor_id,
            manager_id=cmd.manager_id,
            budget=cmd.budget,
            currency=cmd.currency,
            status=ProjectStatus.ACTIVE,
            stage_id=stored.template.stages[0].id,
            recycle_count=0,
        )
        tx.projects.add_project(project, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="project.created",
            entity=f"project:{cmd.key}",
            payload={
                "template": f"{project.template_id}@{project.template_version}",
                "template_hash": project.template_hash,
                "budget": project.budget,
                "currency": project.currency,
                "sponsor": cmd.sponsor_id,
                "manager": cmd.manager_id,
            }
            | stamp(actor),
            at=now,
        )
        tx.commit()
    return project


class ProjectView(Result):
    project: ProjectSnapshot
    gate_id: str | None
    pending_rounds: tuple[RoundSnapshot, ...]
    history: tuple[Any, ...]


def project_view(key: str, *, uow: UowFactory) -> ProjectView:
    with uow() as tx:
        project = require_project(tx, key)
        template = require_template(tx, project.template_id, project.template_version).template
        gate = template.gate_after(project.stage_id) if project.status is ProjectStatus.ACTIVE else None
        return ProjectView(
            project=project,
            gate_id=gate.id if gate else None,
            pending_rounds=tuple(tx.reviews.open_rounds(key)),
            history=tuple(tx.reviews.decision_history(key)),
        )


def list_projects(*, uow: UowFactory, query: ProjectQuery | None = None) -> tuple[list[ProjectSnapshot], int]:
    """A page of projects and the number matching (the whole portfolio when no limit is given)."""
    with uow() as tx:
        return tx.projects.list_projects(query)


@refusals_audited(Act.ASSIGN_PROJECT_ROLE)
def assign_role(project_key: str, role: str, person_id: str, *, actor: Actor, uow: UowFactory, now: datetime) -> bool:
    """Give a person a role on a project (pmo, finance, a group); roles resolve approvers and document signers."""
    if role in ("sponsor", "manager"):
        raise InputError(
            f"ROLE: {role!r} is set when the project is created; assign another role such as pmo", code="role.reserved"
        )
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.ASSIGN_PROJECT_ROLE, project=project)
        require_person(tx, person_id, field="PERSON")
        created = tx.projects.assign_role(project.key, role, person_id, now=now)
        if created:
            tx.append_audit(
                actor=audit_name(actor),
                action="role.assigned",
                entity=f"project:{project.key}",
                payload={"role": role, "person": person_id} | stamp(actor),
                at=now,
            )
            tx.projects.bump_evidence_version(project.key)
        tx.commit()
    return created


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
        tx.projects.update_project_state(
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
        if project.status not in (ProjectStatus.KILLED, ProjectStatus.COMPLETED):
            raise ConflictError(
                f"project {key} is {project.status.value}; only killed or completed projects close",
                code="project.not_closable",
            )
        if project.closed:
            raise ConflictError(f"project {key} is already closed", code="project.closed")
        if lessons.strip():
            record_closing_lesson(tx, project, lessons.strip(), actor=actor, now=now)
        if not tx.lessons.has_lessons(key):
            raise InputError(
                f"--lessons: project {key} has no lessons learned yet; a killed or completed project closes only "
                f"after at least one (give --lessons TEXT, or file one with 'phasegate lesson add {key} ...')",
                code="lesson.required",
            )
        tx.projects.close_project(key, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="project.closed",
            entity=f"project:{key}",
            payload={"status": project.status, "lessons": bool(lessons.strip())} | stamp(actor),
            at=now,
        )
        tx.commit()
    return project.model_copy(update={"closed": True})


@refusals_audited(Act.UPDATE_PROJECT)
def update_project(cmd: UpdateProject, *, actor: Actor, uow: UowFactory, now: datetime) -> ProjectSnapshot:
    """Change a running project's name, budget, sponsor or manager: the PMO admin's act, with a reason, audited
    with the values before and after.

    Why only the admin: the sponsor judges the manager's work and the budget is what earned value is measured
    against, so neither side of that judgement may rewrite it. The sponsor and manager stay two people. A new
    budget is evidence (budget criteria read it), so the evidence version moves and a vote cast on the old
    figure is superseded; approvers already seated in an open round keep their seats (reassign them with
    ``rounds reassign``).
    """
    with uow() as tx:
        project = require_project(tx, cmd.key, for_update=True)
        permit(tx, actor, Act.UPDATE_PROJECT, project=project)
        if project.status in (ProjectStatus.KILLED, ProjectStatus.COMPLETED):
            raise ConflictError(
                f"project {cmd.key} is {project.status.value}; a finished project's record does not change",
                code="project.finished",
            )
        asked = {"name": cmd.name, "sponsor_id": cmd.sponsor_id, "manager_id": cmd.manager_id, "budget": cmd.budget}
        changes = {
            field: (getattr(project, field), value)
            for field, value in asked.items()
            if value is not None and value != getattr(project, field)
        }
        if not changes:
            return project
        updated = project.model_copy(update={field: after for field, (_, after) in changes.items()})
        check_sponsor_and_manager(updated.sponsor_id, updated.manager_id)
        for field in ("sponsor_id", "manager_id"):
            if field in changes:
                require_person(tx, getattr(updated, field), field=f"--{field.removesuffix('_id')}")
        tx.projects.update_project_charter(
            project.key,
            name=updated.name,
            sponsor_id=updated.sponsor_id,
            manager_id=updated.manager_id,
            budget=updated.budget,
            now=now,
        )
        tx.append_audit(
            actor=audit_name(actor),
            action="project.updated",
            entity=f"project:{project.key}",
            payload={
                "reason": cmd.reason,
                "changes": {field: {"before": before, "after": after} for field, (before, after) in changes.items()},
            }
            | stamp(actor),
            at=now,
        )
        tx.projects.bump_evidence_version(project.key)
        tx.commit()
    return updated

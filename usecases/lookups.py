"""Finding what a use case acts on inside its transaction, or the one-line error that names what is missing."""

from __future__ import annotations

from uuid import UUID

from phasegate.gates.vocabulary.enums import (
    ProjectStatus,
)
from phasegate.gates.vocabulary.errors import ConflictError, NotFoundError
from phasegate.gates.vocabulary.snapshots import (
    PersonSnapshot,
    ProjectSnapshot,
    RoundSnapshot,
    StoredTemplate,
)
from phasegate.gates.vocabulary.template import GateDef, LifecycleTemplate
from phasegate.usecases.ports import UnitOfWork


def require_person(tx: UnitOfWork, person_id: str, *, field: str) -> PersonSnapshot:
    person = tx.people.get_person(person_id)
    if person is None:
        raise NotFoundError(
            f"{field}: unknown person {person_id!r}; add them with 'phasegate person add'", code="person.not_found"
        )
    return person


def require_project(tx: UnitOfWork, key: str, *, for_update: bool = False) -> ProjectSnapshot:
    project = tx.projects.get_project(key, for_update=for_update)
    if project is None:
        raise NotFoundError(f"unknown project {key!r}; see 'phasegate project list'", code="project.not_found")
    return project


def require_template(tx: UnitOfWork, template_id: str, version: int | None) -> StoredTemplate:
    stored = tx.templates.get_template(template_id, version)
    if stored is None:
        known = sorted({f"{s.template.id}@{s.template.version}" for s in tx.templates.list_templates()})
        wanted = template_id if version is None else f"{template_id}@{version}"
        raise NotFoundError(
            f"unknown template {wanted!r}; published: {', '.join(known) or 'none (run phasegate db upgrade)'}",
            code="template.not_found",
        )
    return stored


def require_round(tx: UnitOfWork, round_id: UUID, *, for_update: bool = False) -> RoundSnapshot:
    found = tx.reviews.get_round(round_id, for_update=for_update)
    if found is None:
        raise NotFoundError(
            f"unknown approval round {round_id}; see 'phasegate project show KEY'", code="round.not_found"
        )
    return found


def project_roles(tx: UnitOfWork, project: ProjectSnapshot) -> dict[str, tuple[str, ...]]:
    """Role -> people on the project: sponsor and manager from the project, the rest as assigned."""
    return {"sponsor": (project.sponsor_id,), "manager": (project.manager_id,)} | tx.projects.project_roles(project.key)


def current_gate(project: ProjectSnapshot, template: LifecycleTemplate) -> GateDef:
    if project.status is not ProjectStatus.ACTIVE:
        raise ConflictError(
            f"project {project.key} is {project.status.value}; gates are evaluated for active projects only",
            code="project.not_active",
        )
    gate = template.gate_after(project.stage_id)
    if gate is None:
        raise ConflictError(f"stage {project.stage_id!r} of project {project.key} has no gate", code="gate.none")
    return gate

"""In-memory fakes of the repositories the use cases depend on (``usecases.ports``), for the unit tier.

Why fakes and not mocks: a fake keeps the ports' promises, so a use case runs on it exactly as on SQL, in
microseconds. The promise that matters most is the unit of work's: what a use case writes is visible only
after ``commit()``, and leaving the ``with`` block without it leaves the store as it was (each transaction
works on a copy of the store and commit puts the copy back). The SQL repositories are tested against the
same use cases on SQLite and PostgreSQL in the integration tier.

Only the aggregates the unit tier's use cases touch are here (people, templates, projects, delegations,
conditions, plus the unit's own audit journal and outbox); a use case reaching another repository fails with
an AttributeError naming it, rather than getting a silent default.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Self
from uuid import UUID

from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.identity import OrgRole
from phasegate.gates.vocabulary.snapshots import (
    ConditionRecord,
    DelegationRecord,
    OutboxRequest,
    PersonSnapshot,
    ProjectQuery,
    ProjectSnapshot,
    StoredTemplate,
)
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.usecases.ports import (
    ConditionRepository,
    DelegationRepository,
    PeopleRepository,
    ProjectRepository,
    TemplateRepository,
)


@dataclass
class Store:
    """The "database": what committed transactions left behind."""

    people: dict[str, PersonSnapshot] = field(default_factory=dict)
    templates: dict[tuple[str, int], StoredTemplate] = field(default_factory=dict)
    projects: dict[str, ProjectSnapshot] = field(default_factory=dict)
    project_roles: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    delegations: dict[UUID, DelegationRecord] = field(default_factory=dict)
    conditions: dict[UUID, ConditionRecord] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[OutboxRequest] = field(default_factory=list)
    steps: set[tuple[str, str]] = field(default_factory=set)

    def actions(self) -> list[str]:
        return [entry["action"] for entry in self.audit]


class FakePeople:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get_person(self, person_id: str) -> PersonSnapshot | None:
        return self.store.people.get(person_id)

    def get_people(self, person_ids: Iterable[str]) -> dict[str, PersonSnapshot]:
        return {pid: self.store.people[pid] for pid in person_ids if pid in self.store.people}

    def add_person(self, person: PersonSnapshot, *, now: datetime) -> None:
        self.store.people[person.id] = person

    def update_person(self, person: PersonSnapshot) -> None:
        self.store.people[person.id] = person

    def person_by_login(self, login: str) -> PersonSnapshot | None:
        return next((p for p in self.store.people.values() if p.login == login), None)

    def people_with_role(self, role: OrgRole) -> list[str]:
        return sorted(p.id for p in self.store.people.values() if role in p.roles)


class FakeTemplates:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get_template(self, template_id: str, version: int | None = None) -> StoredTemplate | None:
        versions = sorted(v for (tid, v) in self.store.templates if tid == template_id)
        if not versions:
            return None
        return self.store.templates.get((template_id, version if version is not None else versions[-1]))

    def list_templates(self) -> list[StoredTemplate]:
        return [self.store.templates[k] for k in sorted(self.store.templates)]

    def add_template(self, template: LifecycleTemplate, *, content_hash: str, source: str, now: datetime) -> None:
        self.store.templates[(template.id, template.version)] = StoredTemplate(
            template=template, content_hash=content_hash, published_at=now
        )


class FakeProjects:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get_project(self, key: str, *, for_update: bool = False) -> ProjectSnapshot | None:
        return self.store.projects.get(key)

    def add_project(self, project: ProjectSnapshot, *, now: datetime) -> None:
        self.store.projects[project.key] = project

    def list_projects(self, query: ProjectQuery | None = None) -> tuple[list[ProjectSnapshot], int]:
        query = query or ProjectQuery()
        found = [
            p
            for _, p in sorted(self.store.projects.items())
            if (query.status is None or p.status is query.status)
            and (query.stage_id is None or p.stage_id == query.stage_id)
            and (query.template_id is None or p.template_id == query.template_id)
        ]
        end = None if query.limit is None else query.offset + query.limit
        return found[query.offset : end], len(found)

    def update_project_state(
        self, key: str, *, status: ProjectStatus, stage_id: str, recycle_count: int, now: datetime
    ) -> None:
        self._update(key, status=status, stage_id=stage_id, recycle_count=recycle_count)

    def update_project_charter(
        self, key: str, *, name: str, sponsor_id: str, manager_id: str, budget: Decimal, now: datetime
    ) -> None:
        self._update(key, name=name, sponsor_id=sponsor_id, manager_id=manager_id, budget=budget)

    def existing_project_keys(self, keys: Sequence[str]) -> set[str]:
        return set(keys) & set(self.store.projects)

    def bump_evidence_version(self, key: str) -> None:
        self._update(key, evidence_version=self.store.projects[key].evidence_version + 1)

    def close_project(self, key: str, *, now: datetime) -> None:
        self._update(key, closed=True)

    def set_expected_benefit(self, key: str, amount: Decimal | None, *, now: datetime) -> None:
        self._update(key, expected_benefit=amount)

    def active_project_keys(self) -> list[str]:
        return sorted(k for k, p in self.store.projects.items() if p.status is ProjectStatus.ACTIVE)

    def _update(self, key: str, **values: Any) -> None:
        self.store.projects[key] = self.store.projects[key].model_copy(update=values)

    def project_roles(self, key: str) -> dict[str, tuple[str, ...]]:
        return dict(self.store.project_roles.get(key, {}))

    def assign_role(self, key: str, role: str, person_id: str, *, now: datetime) -> bool:
        roles = self.store.project_roles.setdefault(key, {})
        if person_id in roles.get(role, ()):
            return False
        roles[role] = (*roles.get(role, ()), person_id)
        return True


class FakeDelegations:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add_delegation(self, record: DelegationRecord, *, now: datetime) -> None:
        self.store.delegations[record.id] = record

    def revoke_delegation(self, delegation_id: UUID, *, now: datetime) -> None:
        found = self.store.delegations[delegation_id]
        self.store.delegations[delegation_id] = found.model_copy(update={"revoked": True})

    def get_delegation(self, delegation_id: UUID) -> DelegationRecord | None:
        return self.store.delegations.get(delegation_id)

    def delegations(self, person_id: str | None = None) -> list[DelegationRecord]:
        found = sorted(self.store.delegations.values(), key=lambda d: d.valid_from)
        return [d for d in found if person_id is None or person_id in (d.principal_id, d.delegate_id)]


class FakeConditions:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add_conditions(self, records: Sequence[ConditionRecord], *, now: datetime) -> None:
        self.store.conditions.update({r.id: r for r in records})

    def conditions(self, *, project_key: str | None = None, status: str | None = None) -> list[ConditionRecord]:
        found = sorted(self.store.conditions.values(), key=lambda c: (c.due_on, c.id))
        return [
            c
            for c in found
            if (project_key is None or c.project_key == project_key) and (status is None or c.status == status)
        ]

    def set_condition_status(self, condition_id: UUID, status: str, *, by: str, now: datetime) -> None:
        found = self.store.conditions[condition_id]
        self.store.conditions[condition_id] = found.model_copy(update={"status": status, "resolved_by": by})


class FakeUnitOfWork:
    """One transaction over a copy of ``store``; ``commit()`` puts the copy back."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Self:
        self.working = copy.deepcopy(self.store)
        self.people = FakePeople(self.working)
        self.templates = FakeTemplates(self.working)
        self.projects = FakeProjects(self.working)
        self.delegations = FakeDelegations(self.working)
        self.conditions = FakeConditions(self.working)
        return self

    def __exit__(self, *exc: object) -> None:
        del self.working

    def commit(self) -> None:
        for name in vars(self.store):
            setattr(self.store, name, copy.deepcopy(getattr(self.working, name)))

    def append_audit(self, *, actor: str, action: str, entity: str, payload: dict[str, Any], at: datetime) -> None:
        self.working.audit.append({"actor": actor, "action": action, "entity": entity, "payload": payload, "at": at})

    def count_refusals(self, *, person_id: str, code: str, since: datetime) -> int:
        return sum(
            1
            for e in self.working.audit
            if e["action"] == "security.refused"
            and e["at"] >= since
            and e["payload"].get("code") == code
            and e["payload"].get("person") == person_id
        )

    def enqueue(self, items: Sequence[OutboxRequest], *, now: datetime) -> int:
        mine = [item for item in items if item.target]  # organisation notices need the org router: none here
        self.working.outbox.extend(mine)
        return len(mine)

    def steps_taken(self, subject: str) -> frozenset[str]:
        return frozenset(step for s, step in self.working.steps if s == subject)

    def record_steps(self, subject: str, steps: Sequence[str], *, now: datetime) -> None:
        self.working.steps.update((subject, step) for step in steps)

    def claim_step(self, subject: str, step: str, *, now: datetime) -> bool:
        if (subject, step) in self.working.steps:
            return False
        self.working.steps.add((subject, step))
        return True


def _conforms(
    store: Store,
) -> tuple[PeopleRepository, TemplateRepository, ProjectRepository, DelegationRepository, ConditionRepository]:
    """Never called: ``make typecheck`` (mypy --strict on this file) proves each fake implements its port."""
    return FakePeople(store), FakeTemplates(store), FakeProjects(store), FakeDelegations(store), FakeConditions(store)

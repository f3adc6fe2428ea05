"""Projects: the charter, the lifecycle state, the people in project roles.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, select, update

from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.snapshots import (
    ProjectQuery,
    ProjectSnapshot,
)
from phasegate.models import statements as q
from phasegate.models.prepared import Prepared
from phasegate.models.read_ahead import ReadAhead
from phasegate.models.repositories.repository import SqlRepository, Transaction

# Every review, vote and decision runs these: on the driver (models.prepared).
_PROJECT = Prepared(q.PROJECT)
_PROJECT_FOR_UPDATE = Prepared(q.PROJECT_FOR_UPDATE)
_PROJECT_ROLES = Prepared(q.PROJECT_ROLES)
_ROUNDS_PROJECT_FOR_UPDATE = Prepared(q.ROUNDS_PROJECT_FOR_UPDATE)
_UPDATE_PROJECT = Prepared(q.UPDATE_PROJECT)


def project_snapshot(row: Row[Any] | Any) -> ProjectSnapshot:
    return ProjectSnapshot(
        key=row.key,
        name=row.name,
        template_id=row.template_id,
        template_version=row.template_version,
        template_hash=row.template_hash,
        sponsor_id=row.sponsor_id,
        manager_id=row.manager_id,
        budget=row.budget,
        currency=row.currency,
        status=ProjectStatus(row.status),
        stage_id=row.stage_id,
        recycle_count=row.recycle_count,
        evidence_version=row.evidence_version,
        closed=row.closed_at is not None,
        expected_benefit=row.expected_benefit,
    )


class SqlProjects(SqlRepository):
    def __init__(self, tx: Transaction) -> None:
        super().__init__(tx)
        # A review reads a project's roles twice (who to read among people, then its evidence): kept for the unit's
        # life, dropped when this repository assigns one (nothing else writes them).
        self._roles: dict[str, dict[str, tuple[str, ...]]] = {}
        self._ahead = ReadAhead()

    def read_ahead(self, *, key: str | None = None, round_id: UUID | None = None) -> None:
        """Send the read of project ``key`` (or of round ``round_id``'s), locked, for ``get_project`` to take."""
        if key is not None:
            self._ahead.send(self.connection, ("project", key), (_PROJECT_FOR_UPDATE, {"key": key}))
        elif round_id is not None:
            self._ahead.send(
                self.connection, ("project", round_id), (_ROUNDS_PROJECT_FOR_UPDATE, {"round_id": round_id})
            )

    def read_ahead_roles(self, key: str) -> None:
        self._ahead.send(self.connection, ("roles", key), (_PROJECT_ROLES, {"key": key}))

    def get_project(self, key: str, *, for_update: bool = False) -> ProjectSnapshot | None:
        # A project read ahead was read locked: what an unlocked read would see too, and the lock is held.
        ahead = next((rows[0] for (rows,) in self._ahead.take_all("project") if rows and rows[0].key == key), None)
        row = ahead or (_PROJECT_FOR_UPDATE if for_update else _PROJECT).first(self.connection, {"key": key})
        return project_snapshot(row) if row else None

    def list_projects(self, query: ProjectQuery | None = None) -> tuple[list[ProjectSnapshot], int]:
        """One page of projects (all of them without a limit) and how many match the filters, in key order."""
        query = query or ProjectQuery()
        projects = q.PROJECTS.c
        conditions = []
        if query.status is not None:
            conditions.append(projects.status == query.status.value)
        if query.stage_id is not None:
            conditions.append(projects.stage_id == query.stage_id)
        if query.template_id is not None:
            conditions.append(projects.template_id == query.template_id)
        after = [] if query.after is None else [projects.key > query.after]
        page = select(q.PROJECTS).where(*conditions, *after).order_by(projects.key).offset(query.offset)
        if query.limit is not None:
            page = page.limit(query.limit)
        items = [project_snapshot(row) for row in self.connection.execute(page)]
        if query.limit is None and query.offset == 0 and query.after is None:
            return items, len(items)
        total = self.connection.scalar(select(func.count()).select_from(q.PROJECTS).where(*conditions)) or 0
        return items, int(total)

    def add_project(self, project: ProjectSnapshot, *, now: datetime) -> None:
        from phasegate.models import tables as t

        self.session.add(t.Project(**project.model_dump(exclude={"closed"}), created_at=now, updated_at=now))
        self.session.flush()

    def update_project_state(
        self, key: str, *, status: ProjectStatus, stage_id: str, recycle_count: int, now: datetime
    ) -> None:
        """Deferred (``Prepared.defer``): a decision's move leaves with its next statement."""
        _UPDATE_PROJECT.defer(
            self.connection,
            {
                "project_key": key,
                "status": status.value,
                "stage_id": stage_id,
                "recycle_count": recycle_count,
                "updated_at": now,
            },
        )

    def update_project_charter(
        self, key: str, *, name: str, sponsor_id: str, manager_id: str, budget: Decimal, now: datetime
    ) -> None:
        from phasegate.models import tables as t

        self.session.execute(
            update(t.Project)
            .where(t.Project.key == key)
            .values(name=name, sponsor_id=sponsor_id, manager_id=manager_id, budget=budget, updated_at=now)
        )

    def project_roles(self, key: str) -> dict[str, tuple[str, ...]]:
        kept = self._roles.get(key)
        if kept is None:
            roles: dict[str, list[str]] = {}
            ahead = self._ahead.take(("roles", key))
            rows = ahead[0] if ahead is not None else _PROJECT_ROLES.rows(self.connection, {"key": key})
            for role, person_id in rows:
                roles.setdefault(role, []).append(person_id)
            kept = self._roles[key] = {role: tuple(people) for role, people in roles.items()}
        return dict(kept)  # the caller's own copy: the kept one stays as read

    def assign_role(self, key: str, role: str, person_id: str, *, now: datetime) -> bool:
        from phasegate.models import tables as t

        self._roles.pop(key, None)
        if self.session.get(t.ProjectRole, (key, role, person_id)) is not None:
            return False
        self.session.add(t.ProjectRole(project_key=key, role=role, person_id=person_id, assigned_at=now))
        self.session.flush()
        return True

    def existing_project_keys(self, keys: Sequence[str]) -> set[str]:
        from phasegate.models import tables as t

        if not keys:
            return set()
        return set(self.session.scalars(select(t.Project.key).where(t.Project.key.in_(list(set(keys))))))

    def bump_evidence_version(self, key: str) -> None:
        from phasegate.models import tables as t

        self.session.execute(
            update(t.Project).where(t.Project.key == key).values(evidence_version=t.Project.evidence_version + 1)
        )

    def close_project(self, key: str, *, now: datetime) -> None:
        from phasegate.models import tables as t

        self.session.execute(update(t.Project).where(t.Project.key == key).values(closed_at=now, updated_at=now))

    def active_project_keys(self) -> list[str]:
        from phasegate.models import tables as t

        query = select(t.Project.key).where(t.Project.status == ProjectStatus.ACTIVE.value).order_by(t.Project.key)
        return list(self.session.scalars(query))

    def set_expected_benefit(self, key: str, amount: Decimal | None, *, now: datetime) -> None:
        from phasegate.models import tables as t

        self.session.execute(
            update(t.Project).where(t.Project.key == key).values(expected_benefit=amount, updated_at=now)
        )

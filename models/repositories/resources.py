"""The resources repository: resource profiles, per-month capacity overrides, demand lines and priorities.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits. Writes are upserts or
replace-by-scope, so repeating a command or an import leaves the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, select, tuple_

from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.resources import CapacityOverride, DemandLine, PriorityRecord, ResourceProfile
from phasegate.models import tables as t
from phasegate.models.repositories.repository import SqlRepository


def _profile(row: t.ResourceProfileRow) -> ResourceProfile:
    return ResourceProfile(
        person_id=row.person_id,
        role=row.role,
        fte=row.fte,
        hours_per_day=row.hours_per_day,
        region=row.region,
        set_by=row.set_by,
        set_at=row.set_at,
    )


class SqlResources(SqlRepository):
    def put_resource_profile(self, profile: ResourceProfile, *, now: datetime) -> None:
        row = self.session.get(t.ResourceProfileRow, profile.person_id)
        if row is None:
            row = t.ResourceProfileRow(person_id=profile.person_id)
            self.session.add(row)
        row.role, row.fte, row.hours_per_day = profile.role, profile.fte, profile.hours_per_day
        row.region, row.set_by, row.set_at = profile.region, profile.set_by, now

    def resource_profiles(self, *, role: str | None = None) -> list[ResourceProfile]:
        query = select(t.ResourceProfileRow).order_by(t.ResourceProfileRow.person_id)
        if role is not None:
            query = query.where(t.ResourceProfileRow.role == role)
        return [_profile(row) for row in self.session.scalars(query)]

    def put_capacity_override(self, override: CapacityOverride, *, now: datetime) -> None:
        row = self.session.get(t.CapacityOverrideRow, (override.person_id, override.month))
        if row is None:
            row = t.CapacityOverrideRow(person_id=override.person_id, month=override.month)
            self.session.add(row)
        row.hours, row.set_by, row.set_at = override.hours, override.set_by, now

    def clear_capacity_override(self, person_id: str, month: date) -> bool:
        row = self.session.get(t.CapacityOverrideRow, (person_id, month))
        if row is None:
            return False
        self.session.delete(row)
        return True

    def capacity_overrides(self, first: date, last: date) -> list[CapacityOverride]:
        rows = self.session.scalars(
            select(t.CapacityOverrideRow)
            .where(t.CapacityOverrideRow.month >= first, t.CapacityOverrideRow.month <= last)
            .order_by(t.CapacityOverrideRow.person_id, t.CapacityOverrideRow.month)
        )
        return [
            CapacityOverride(person_id=r.person_id, month=r.month, hours=r.hours, set_by=r.set_by, set_at=r.set_at)
            for r in rows
        ]

    def replace_demand(
        self, scopes: Sequence[tuple[str, str]], lines: Sequence[DemandLine], *, by: str, now: datetime
    ) -> int:
        """Replace every line of each (project, stage) in ``scopes`` with ``lines``; returns lines written."""
        if scopes:
            self.session.execute(
                delete(t.DemandRow).where(tuple_(t.DemandRow.project_key, t.DemandRow.stage_id).in_(list(scopes)))
            )
        self.session.add_all(t.DemandRow(**line.model_dump(), imported_by=by, imported_at=now) for line in lines)
        self.session.flush()
        return len(lines)

    def demand(
        self, *, project_key: str | None = None, first: date | None = None, last: date | None = None
    ) -> list[DemandLine]:
        query = select(t.DemandRow).order_by(
            t.DemandRow.project_key, t.DemandRow.stage_id, t.DemandRow.role, t.DemandRow.month, t.DemandRow.person_id
        )
        if project_key is not None:
            query = query.where(t.DemandRow.project_key == project_key)
        if first is not None:
            query = query.where(t.DemandRow.month >= first)
        if last is not None:
            query = query.where(t.DemandRow.month <= last)
        return [
            DemandLine(
                project_key=r.project_key,
                stage_id=r.stage_id,
                role=r.role,
                month=r.month,
                hours=r.hours,
                person_id=r.person_id,
            )
            for r in self.session.scalars(query)
        ]

    def project_stages(self, keys: Sequence[str]) -> dict[str, tuple[ProjectStatus, str]]:
        """Status and current stage of each project named, in one query per thousand keys (not one per key)."""
        found: dict[str, tuple[ProjectStatus, str]] = {}
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            query = select(t.Project.key, t.Project.status, t.Project.stage_id).where(t.Project.key.in_(chunk))
            for key, status, stage in self.session.execute(query):
                found[key] = (ProjectStatus(status), stage)
        return found

    def put_priority(self, record: PriorityRecord, *, now: datetime) -> None:
        row = self.session.get(t.ProjectPriority, record.project_key)
        if row is None:
            row = t.ProjectPriority(project_key=record.project_key)
            self.session.add(row)
        row.priority, row.set_by, row.set_at = record.priority, record.set_by, now

    def priorities(self) -> dict[str, int]:
        return {row.project_key: row.priority for row in self.session.scalars(select(t.ProjectPriority))}

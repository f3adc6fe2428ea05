"""Conditions attached to a conditional go: owner, due date, verification, status.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update

from phasegate.gates.vocabulary.snapshots import (
    ConditionRecord,
)
from phasegate.models import tables as t
from phasegate.models.repositories.repository import SqlRepository


def _condition(row: t.Condition) -> ConditionRecord:
    return ConditionRecord(
        id=row.id,
        project_key=row.project_key,
        round_id=row.round_id,
        gate_id=row.gate_id,
        text=row.text,
        owner_id=row.owner_id,
        due_on=row.due_on,
        verification=row.verification,
        status=row.status,
        resolved_by=row.resolved_by,
    )


class SqlConditions(SqlRepository):
    def add_conditions(self, records: Sequence[ConditionRecord], *, now: datetime) -> None:
        if not records:  # every decision asks; only a conditional go has any, and a session costs the others
            return
        for record in records:
            self.session.add(t.Condition(**record.model_dump(), created_at=now))
        self.session.flush()

    def conditions(self, *, project_key: str | None = None, status: str | None = None) -> list[ConditionRecord]:
        query = select(t.Condition).order_by(t.Condition.due_on, t.Condition.id)
        if project_key is not None:
            query = query.where(t.Condition.project_key == project_key)
        if status is not None:
            query = query.where(t.Condition.status == status)
        return [_condition(row) for row in self.session.scalars(query)]

    def set_condition_status(self, condition_id: UUID, status: str, *, by: str, now: datetime) -> None:
        self.session.execute(
            update(t.Condition)
            .where(t.Condition.id == condition_id)
            .values(status=status, resolved_by=by, resolved_at=now)
        )

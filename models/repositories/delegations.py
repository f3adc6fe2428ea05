"""Delegations of approval authority: who may act for whom, when and for which gates.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update

from phasegate.gates.vocabulary.snapshots import (
    DelegationRecord,
)
from phasegate.models import tables as t
from phasegate.models.repositories.repository import SqlRepository


def _delegation(row: t.Delegation) -> DelegationRecord:
    return DelegationRecord(
        id=row.id,
        principal_id=row.principal_id,
        delegate_id=row.delegate_id,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        template_id=row.template_id,
        gate_id=row.gate_id,
        revoked=row.revoked_at is not None,
    )


class SqlDelegations(SqlRepository):
    def add_delegation(self, record: DelegationRecord, *, now: datetime) -> None:
        self.session.add(
            t.Delegation(
                id=record.id,
                principal_id=record.principal_id,
                delegate_id=record.delegate_id,
                valid_from=record.valid_from,
                valid_to=record.valid_to,
                template_id=record.template_id,
                gate_id=record.gate_id,
                created_at=now,
            )
        )
        self.session.flush()

    def revoke_delegation(self, delegation_id: UUID, *, now: datetime) -> None:
        self.session.execute(update(t.Delegation).where(t.Delegation.id == delegation_id).values(revoked_at=now))

    def get_delegation(self, delegation_id: UUID) -> DelegationRecord | None:
        row = self.session.get(t.Delegation, delegation_id)
        return None if row is None else _delegation(row)

    def delegations(self, person_id: str | None = None) -> list[DelegationRecord]:
        query = select(t.Delegation).order_by(t.Delegation.valid_from)
        if person_id is not None:
            query = query.where((t.Delegation.principal_id == person_id) | (t.Delegation.delegate_id == person_id))
        return [_delegation(row) for row in self.session.scalars(query)]

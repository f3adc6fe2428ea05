"""Tolerances as data, the exceptions raised against them and the RAG history.

The n-th exception on a project, scope and dimension is one unique row, so raising is exactly-once.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from phasegate.gates.vocabulary.monitoring import RagRow
from phasegate.gates.vocabulary.tolerance import (
    Dimension,
    ExceptionDecision,
    ToleranceException,
    ToleranceLevel,
    ToleranceRecord,
    plain,
)
from phasegate.models import statements as q
from phasegate.models import tables as t
from phasegate.models.repositories.repository import SqlRepository
from phasegate.models.row_keys import new_row_key


def tolerance_record(row: t.Tolerance) -> ToleranceRecord:
    return ToleranceRecord(
        project_key=row.project_key,
        scope=row.scope,
        dimension=Dimension(row.dimension),
        level=ToleranceLevel(row.level),
        owner_id=row.owner_id,
        percent=plain(row.percent),
        amount=plain(row.amount),
        none=row.no_tolerance,
        reason=row.reason,
        set_by=row.set_by,
        set_at=row.set_at,
    )


def exception_record(row: t.ToleranceExceptionRow) -> ToleranceException:
    return ToleranceException(
        id=row.id,
        project_key=row.project_key,
        scope=row.scope,
        dimension=Dimension(row.dimension),
        seq=row.seq,
        level=ToleranceLevel(row.level),
        owner_id=row.owner_id,
        baseline=row.baseline,
        forecast=row.forecast,
        allowance=row.allowance,
        deviation=row.deviation,
        raised_at=row.raised_at,
        status=row.status,
        decision=ExceptionDecision(row.decision) if row.decision else None,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )


class SqlTolerances(SqlRepository):
    def tolerances(self, project_key: str) -> list[ToleranceRecord]:
        query = (
            select(t.Tolerance)
            .where(t.Tolerance.project_key == project_key)
            .order_by(t.Tolerance.scope, t.Tolerance.dimension)
        )
        return [tolerance_record(row) for row in self.session.scalars(query)]

    def put_tolerance(self, record: ToleranceRecord) -> None:
        """Insert or replace the one row of (project, scope, dimension); the caller audits the change."""
        values = {
            "level": record.level.value,
            "owner_id": record.owner_id,
            "percent": record.percent,
            "amount": record.amount,
            "no_tolerance": record.none,
            "reason": record.reason,
            "set_by": record.set_by,
            "set_at": record.set_at,
        }
        changed = self.session.execute(
            update(t.Tolerance)
            .where(
                t.Tolerance.project_key == record.project_key,
                t.Tolerance.scope == record.scope,
                t.Tolerance.dimension == record.dimension.value,
            )
            .values(**values)
        )
        if not getattr(changed, "rowcount", 0):
            self.session.execute(
                insert(t.Tolerance).values(
                    id=new_row_key(),
                    project_key=record.project_key,
                    scope=record.scope,
                    dimension=record.dimension.value,
                    **values,
                )
            )

    def latest_exception(self, project_key: str, scope: str, dimension: str) -> ToleranceException | None:
        row = self.session.scalars(
            select(t.ToleranceExceptionRow)
            .where(
                t.ToleranceExceptionRow.project_key == project_key,
                t.ToleranceExceptionRow.scope == scope,
                t.ToleranceExceptionRow.dimension == dimension,
            )
            .order_by(t.ToleranceExceptionRow.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else exception_record(row)

    def add_exceptions(self, records: Sequence[ToleranceException]) -> set[UUID]:
        """Insert the scan's new exceptions in one statement; the ids of those inserted.

        ``ON CONFLICT DO NOTHING`` on the unique key (project, scope, dimension, seq): an exception another
        scanner raised first is left out of the answer instead of failing the whole chunk, so it is notified once.
        """
        if not records:
            return set()
        dialect = self.connection.dialect.name
        statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(q.TOLERANCE_EXCEPTIONS)
        statement = statement.on_conflict_do_nothing(index_elements=["project_key", "scope", "dimension", "seq"])
        rows = [
            record.model_dump(exclude={"dimension", "level", "decision"})
            | {"dimension": record.dimension.value, "level": record.level.value, "decision": None}
            for record in records
        ]
        return set(self.session.scalars(statement.returning(q.TOLERANCE_EXCEPTIONS.c.id), rows))

    def get_exception(self, exception_id: UUID, *, for_update: bool = False) -> ToleranceException | None:
        query = select(t.ToleranceExceptionRow).where(t.ToleranceExceptionRow.id == exception_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.scalars(query).first()
        return None if row is None else exception_record(row)

    def close_exception(self, exception_id: UUID, *, decision: str, by: str, reason: str, now: datetime) -> None:
        self.session.execute(
            update(t.ToleranceExceptionRow)
            .where(t.ToleranceExceptionRow.id == exception_id)
            .values(status="closed", decision=decision, decided_by=by, decided_at=now, reason=reason)
        )

    def exceptions(self, *, project_key: str | None = None, status: str | None = None) -> list[ToleranceException]:
        query = select(t.ToleranceExceptionRow).order_by(
            t.ToleranceExceptionRow.raised_at.desc(), t.ToleranceExceptionRow.project_key
        )
        if project_key is not None:
            query = query.where(t.ToleranceExceptionRow.project_key == project_key)
        if status is not None:
            query = query.where(t.ToleranceExceptionRow.status == status)
        return [exception_record(row) for row in self.session.scalars(query)]

    def record_rag(self, rows: Sequence[RagRow], *, now: datetime) -> int:
        """Write the day's snapshot rows, replacing a row of the same project, day and dimension.

        An upsert (``ON CONFLICT DO UPDATE``, which SQLite and PostgreSQL both have) rather than delete then
        insert: two monitors scanning the same chunk at once must both succeed, the later one's values winning.
        """
        if not rows:
            return 0
        dialect = self.connection.dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # The table, not the mapped class: the ORM's bulk path leaves out each row's None values, so rows of
        # different shapes went one statement each (4 per project); Core sends them all as one executemany.
        statement = upsert(q.RAG_SNAPSHOTS)
        statement = statement.on_conflict_do_update(
            index_elements=["project_key", "as_of", "dimension"],
            set_={
                "rag": statement.excluded.rag,
                "deviation": statement.excluded.deviation,
                "allowance": statement.excluded.allowance,
                "taken_at": statement.excluded.taken_at,
            },
        )
        self.session.execute(statement, [r.model_dump() | {"taken_at": now} for r in rows])
        return len(rows)

    def rag_history(self, project_key: str) -> list[RagRow]:
        query = (
            select(t.RagSnapshot)
            .where(t.RagSnapshot.project_key == project_key)
            .order_by(t.RagSnapshot.as_of, t.RagSnapshot.dimension)
        )
        return [
            RagRow(
                project_key=r.project_key,
                as_of=r.as_of,
                dimension=r.dimension,
                rag=r.rag,
                deviation=r.deviation,
                allowance=r.allowance,
            )
            for r in self.session.scalars(query)
        ]

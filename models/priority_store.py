"""The prioritisation repository: each project's expected benefit, and the facts the ranking reads.

A mixin of ``SqlUnitOfWork``: it shares the unit's session and never commits. The facts are one set-based query
(the latest actual cost and the mean scorecard score are correlated subqueries), so ranking several hundred
projects is one round trip.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from phasegate.gates.prioritisation import PriorityFact
from phasegate.models import tables as t


class PriorityRepository:
    session: Session

    def set_expected_benefit(self, key: str, amount: Decimal | None, *, now: datetime) -> None:
        self.session.execute(
            update(t.Project).where(t.Project.key == key).values(expected_benefit=amount, updated_at=now)
        )

    def priority_facts(self) -> tuple[PriorityFact, ...]:
        """Every project with its BAC (baseline, else charter budget), expected benefit, the actual cost of its
        latest status report that has one, and its mean scorecard score."""
        actual = (
            select(t.EvmReport.actual_cost)
            .where(t.EvmReport.project_key == t.Project.key, t.EvmReport.actual_cost.is_not(None))
            .order_by(t.EvmReport.as_of.desc())
            .limit(1)
            .scalar_subquery()
        )
        score = select(func.avg(t.Score.score)).where(t.Score.project_key == t.Project.key).scalar_subquery()
        rows = self.session.execute(
            select(
                t.Project.key,
                t.Project.name,
                t.Project.status,
                func.coalesce(t.Baseline.bac, t.Project.budget),
                t.Project.expected_benefit,
                actual,
                score,
            )
            .outerjoin(t.Baseline, t.Baseline.project_key == t.Project.key)
            .order_by(t.Project.key)
        ).all()
        return tuple(
            PriorityFact(
                key=r[0],
                name=r[1],
                status=r[2],
                bac=Decimal(r[3]),
                expected_benefit=None if r[4] is None else Decimal(r[4]),
                actual_cost=None if r[5] is None else Decimal(r[5]),
                score=None if r[6] is None else float(r[6]),
            )
            for r in rows
        )

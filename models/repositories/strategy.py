"""Read models for the PMO's strategy views: the facts prioritisation ranks and the maturity score reads beyond
``gate_facts`` (reviews, gate dates, projects' lives, status-report dates, exceptions raised, lessons used).

Each is a handful of set-based queries (correlated subqueries for the latest actual cost and the mean scorecard
score), so ranking several hundred projects or scoring a quarter is a few round trips; each review's
documentation verdict is read from its stored evaluation here, so the pure score never sees JSON.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from phasegate.gates.maturity import (
    LessonUseFact,
    LifeFact,
    MaturityFacts,
    MilestoneFact,
    ReviewFact,
    documentation_compliant,
)
from phasegate.gates.prioritisation import PriorityFact
from phasegate.models import tables as t
from phasegate.models.repositories.repository import SqlRepository


class SqlStrategy(SqlRepository):
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

    def maturity_facts(self) -> MaturityFacts:
        s = self.session
        reviews = s.execute(
            select(
                t.GateReview.id,
                t.GateReview.project_key,
                t.GateReview.gate_id,
                t.GateReview.created_at,
                t.GateReview.evaluation,
            )
        ).all()
        milestones = s.execute(select(t.Milestone.project_key, t.Milestone.id, t.Milestone.due)).all()
        lives = s.execute(select(t.Project.key, t.Project.created_at, t.Project.closed_at)).all()
        reports = s.execute(select(t.EvmReport.project_key, t.EvmReport.as_of)).all()
        exceptions = s.execute(select(t.ToleranceExceptionRow.project_key, t.ToleranceExceptionRow.raised_at)).all()
        uses = s.execute(select(t.LessonUse.review_id, t.LessonUse.kind).distinct()).all()
        return MaturityFacts(
            reviews=tuple(
                ReviewFact(str(r[0]), r[1], r[2], r[3], documentation_compliant(r[4] or {})) for r in reviews
            ),
            milestones=tuple(MilestoneFact(r[0], r[1], r[2]) for r in milestones),
            lives=tuple(LifeFact(r[0], r[1], r[2]) for r in lives),
            status_reports=tuple((r[0], r[1]) for r in reports),
            exceptions=tuple((r[0], r[1]) for r in exceptions),
            lesson_uses=tuple(LessonUseFact(str(r[0]), r[1]) for r in uses),
        )

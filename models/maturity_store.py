"""The maturity repository: the facts the maturity score needs beyond ``gate_facts`` (reviews, gate dates,
projects' lives, status-report dates, exceptions raised and lessons shown or applied).

A mixin of ``SqlUnitOfWork``: it shares the unit's session and never commits. Six set-based queries; each
review's documentation verdict is read from its stored evaluation here, so the pure score never sees JSON.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from phasegate.gates.maturity import (
    LessonUseFact,
    LifeFact,
    MaturityFacts,
    MilestoneFact,
    ReviewFact,
    documentation_compliant,
)
from phasegate.models import tables as t


class MaturityRepository:
    session: Session

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

"""Report read models (gate analytics, portfolio report facts) and the report runs that make
distribution exactly once per period.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from phasegate.gates import portfolio as pf
from phasegate.gates.analytics import ConditionFact, GateFacts, ProjectFact, ReviewCount, RoundFact
from phasegate.gates.vocabulary.enums import Decision, RoundStatus
from phasegate.gates.vocabulary.snapshots import (
    ReportRunRecord,
)
from phasegate.models import tables as t
from phasegate.models.repositories.repository import SqlRepository


class SqlReports(SqlRepository):
    def gate_facts(self) -> GateFacts:
        """Rounds, review counts, conditions and projects of the whole portfolio: four set-based queries."""
        s = self.session
        round_rows = s.execute(
            select(
                t.ApprovalRound.project_key,
                t.Project.template_id,
                t.ApprovalRound.gate_id,
                t.ApprovalRound.opened_at,
                t.ApprovalRound.due_at,
                t.ApprovalRound.resolved_at,
                t.ApprovalRound.decision,
                t.ApprovalRound.status,
            ).join(t.Project, t.Project.key == t.ApprovalRound.project_key)
        ).all()
        automatic = t.GateReview.requested_by.is_(None)
        review_rows = s.execute(
            select(t.Project.template_id, t.GateReview.gate_id, automatic, func.count())
            .join(t.Project, t.Project.key == t.GateReview.project_key)
            .group_by(t.Project.template_id, t.GateReview.gate_id, automatic)
        ).all()
        condition_rows = s.execute(
            select(
                t.Project.template_id,
                t.Condition.gate_id,
                t.Condition.due_on,
                t.Condition.status,
                t.Condition.resolved_at,
            ).join(t.Project, t.Project.key == t.Condition.project_key)
        ).all()
        project_rows = s.execute(
            select(t.Project.key, t.Project.template_id, t.Project.template_version, t.Project.created_at)
        ).all()
        return GateFacts(
            rounds=tuple(
                RoundFact(
                    project_key=r[0],
                    template_id=r[1],
                    gate_id=r[2],
                    opened_at=r[3],
                    due_at=r[4],
                    resolved_at=r[5] if r[7] == RoundStatus.RESOLVED.value else None,
                    decision=Decision(r[6]) if r[6] is not None and r[7] == RoundStatus.RESOLVED.value else None,
                )
                for r in round_rows
                if r[7] != RoundStatus.CANCELLED.value
            ),
            reviews=tuple(ReviewCount(r[0], r[1], bool(r[2]), int(r[3])) for r in review_rows),
            conditions=tuple(ConditionFact(r[0], r[1], r[2], r[3], r[4]) for r in condition_rows),
            projects=tuple(ProjectFact(r[0], r[1], r[2], r[3]) for r in project_rows),
        )

    def portfolio_facts(self, start: date, end: date) -> pf.PortfolioFacts:
        """The portfolio report's facts for a period (both ends inclusive, UTC days): ten set-based queries."""
        s = self.session
        sponsor = select(t.Person.name).where(t.Person.id == t.Project.sponsor_id).scalar_subquery()
        projects = s.execute(
            select(
                t.Project.key,
                t.Project.name,
                t.Project.template_id,
                t.Project.template_version,
                t.Project.status,
                t.Project.stage_id,
                t.Project.sponsor_id,
                sponsor,
                func.coalesce(t.Baseline.bac, t.Project.budget),
            ).outerjoin(t.Baseline, t.Baseline.project_key == t.Project.key)
        ).all()
        planned = (
            select(t.BaselinePeriod.planned_value)
            .where(
                t.BaselinePeriod.project_key == t.EvmReport.project_key,
                t.BaselinePeriod.period_end <= t.EvmReport.as_of,
            )
            .order_by(t.BaselinePeriod.period_end.desc())
            .limit(1)
            .scalar_subquery()
        )
        evm = s.execute(
            select(
                t.EvmReport.project_key,
                t.EvmReport.as_of,
                func.coalesce(t.EvmReport.planned_value, planned),
                t.EvmReport.earned_value,
                t.EvmReport.actual_cost,
            ).where(t.EvmReport.as_of <= end)
        ).all()
        rounds = s.execute(
            select(t.ApprovalRound.project_key, t.ApprovalRound.gate_id, t.ApprovalRound.due_at)
            .where(t.ApprovalRound.status == RoundStatus.OPEN.value)
            .order_by(t.ApprovalRound.opened_at)
        ).all()
        conditions = s.execute(
            select(t.Condition.project_key, func.count())
            .where(t.Condition.status == "open")
            .group_by(t.Condition.project_key)
        ).all()
        since = datetime(start.year, start.month, start.day, tzinfo=UTC)
        until = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
        decisions = s.execute(
            select(
                t.GateDecision.project_key,
                t.GateDecision.gate_id,
                t.GateDecision.decision,
                t.GateDecision.decided_at,
                t.GateDecision.decided_by,
                t.GateDecision.reason,
            ).where(t.GateDecision.decided_at >= since, t.GateDecision.decided_at < until)
        ).all()
        risks = s.execute(
            select(t.Risk.project_key, t.Risk.id, t.Risk.title, t.Risk.owner, t.Risk.probability, t.Risk.impact).where(
                t.Risk.status == "open"
            )
        ).all()
        scores = s.execute(select(t.Score.project_key, func.avg(t.Score.score)).group_by(t.Score.project_key)).all()
        latest = (
            select(t.RagSnapshot.project_key, t.RagSnapshot.dimension, func.max(t.RagSnapshot.as_of).label("as_of"))
            .where(t.RagSnapshot.as_of <= end)
            .group_by(t.RagSnapshot.project_key, t.RagSnapshot.dimension)
            .subquery()
        )
        rag = s.execute(
            select(t.RagSnapshot.project_key, t.RagSnapshot.dimension, t.RagSnapshot.as_of, t.RagSnapshot.rag).join(
                latest,
                (t.RagSnapshot.project_key == latest.c.project_key)
                & (t.RagSnapshot.dimension == latest.c.dimension)
                & (t.RagSnapshot.as_of == latest.c.as_of),
            )
        ).all()
        x = t.ToleranceExceptionRow
        open_exceptions = s.execute(
            select(x.project_key, func.count()).where(x.status == "open").group_by(x.project_key)
        ).all()
        exceptions = s.scalars(
            select(x).where(
                ((x.raised_at >= since) & (x.raised_at < until)) | ((x.decided_at >= since) & (x.decided_at < until))
            )
        ).all()
        return pf.PortfolioFacts(
            projects=tuple(
                pf.ProjectFact(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] or r[6], r[8]) for r in projects
            ),
            evm=tuple(pf.EvmFact(r[0], r[1], r[2], r[3], r[4]) for r in evm),
            open_rounds=tuple(pf.OpenRoundFact(r[0], r[1], r[2]) for r in rounds),
            open_conditions={r[0]: int(r[1]) for r in conditions},
            decisions=tuple(pf.DecisionFact(r[0], r[1], r[2], r[3], tuple(r[4]), r[5]) for r in decisions),
            risks=tuple(pf.RiskFact(r[0], r[1], r[2], r[3], r[4], r[5]) for r in risks),
            value_scores={r[0]: float(r[1]) for r in scores},
            rag=tuple(pf.RagFact(r[0], r[1], r[2], r[3]) for r in rag),
            open_exceptions={r[0]: int(r[1]) for r in open_exceptions},
            exceptions=tuple(
                pf.ExceptionFact(
                    e.project_key,
                    e.dimension,
                    e.scope,
                    e.level,
                    e.owner_id,
                    e.baseline,
                    e.forecast,
                    e.allowance,
                    e.deviation,
                    e.raised_at,
                    e.status,
                    e.decision,
                    e.decided_at,
                    e.decided_by,
                )
                for e in exceptions
            ),
        )

    def report_run(self, kind: str, period: str) -> ReportRunRecord | None:
        row = self.session.get(t.ReportRun, (kind, period))
        return None if row is None else ReportRunRecord.model_validate(row, from_attributes=True)

    def add_report_run(self, record: ReportRunRecord) -> bool:
        """Claim the period for this report; False when another run already has (the row is the claim)."""
        try:
            with self.session.begin_nested():
                self.session.execute(insert(t.ReportRun).values(**record.model_dump()))
        except IntegrityError:
            return False
        return True

    def set_report_notifications(self, kind: str, period: str, count: int) -> None:
        self.session.execute(
            update(t.ReportRun)
            .where(t.ReportRun.kind == kind, t.ReportRun.period == period)
            .values(notifications=count)
        )

"""What the portfolio monitor reads: one chunk of projects with everything their forecasts need.

A read model: a handful of set-based queries per chunk, never one round trip per project.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import case, func, select

from phasegate.gates.risk import CLOSED_STATUSES
from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.evidence import EvmSnapshot
from phasegate.gates.vocabulary.monitoring import MonitorInput
from phasegate.gates.vocabulary.snapshots import (
    ProjectSnapshot,
)
from phasegate.gates.vocabulary.tolerance import (
    ToleranceException,
    ToleranceRecord,
)
from phasegate.models import statements as q
from phasegate.models import tables as t
from phasegate.models.repositories.projects import project_snapshot
from phasegate.models.repositories.repository import SqlRepository
from phasegate.models.repositories.tolerances import exception_record, tolerance_record

HISTORY_DAYS = 120
"""How far back the monitor reads earlier snapshots for a trend (it needs only the last two periods)."""


class SqlMonitoring(SqlRepository):
    def monitor_inputs(self, keys: Sequence[str], as_of: date) -> list[MonitorInput]:
        """Everything the monitor needs about these projects in nine queries, however many there are."""
        wanted = list(keys)
        projects = [
            project_snapshot(row)
            for row in self.session.execute(
                select(q.PROJECTS).where(
                    q.PROJECTS.c.key.in_(wanted), q.PROJECTS.c.status == ProjectStatus.ACTIVE.value
                )
            )
        ]
        if not projects:
            return []
        active = [p.key for p in projects]
        bac_query = select(t.Baseline.project_key, t.Baseline.bac).where(t.Baseline.project_key.in_(active))
        bacs: dict[str, Decimal] = {row.project_key: row.bac for row in self.session.execute(bac_query)}
        newest = (
            select(t.EvmReport.project_key, func.max(t.EvmReport.as_of).label("as_of"))
            .where(t.EvmReport.project_key.in_(active), t.EvmReport.as_of <= as_of)
            .group_by(t.EvmReport.project_key)
            .subquery()
        )
        reports = {
            row.project_key: row
            for row in self.session.execute(
                select(t.EvmReport).join(
                    newest,
                    (t.EvmReport.project_key == newest.c.project_key) & (t.EvmReport.as_of == newest.c.as_of),
                )
            ).scalars()
        }
        periods: dict[str, list[tuple[date, Decimal]]] = {}
        for key, end, value in self.session.execute(
            select(t.BaselinePeriod.project_key, t.BaselinePeriod.period_end, t.BaselinePeriod.planned_value)
            .where(t.BaselinePeriod.project_key.in_(active))
            .order_by(t.BaselinePeriod.period_end)
        ):
            periods.setdefault(key, []).append((end, value))
        live = func.lower(func.trim(t.Risk.status)).not_in(CLOSED_STATUSES)
        risks = {
            row.project_key: row
            for row in self.session.execute(
                select(
                    t.Risk.project_key,
                    func.count().label("total"),
                    func.max(case((live, t.Risk.probability * t.Risk.impact))).label("worst"),
                    func.max(t.Risk.updated_at).label("changed"),
                )
                .where(t.Risk.project_key.in_(active))
                .group_by(t.Risk.project_key)
            )
        }
        tolerances: dict[str, list[ToleranceRecord]] = {}
        for tolerance in self.session.scalars(select(t.Tolerance).where(t.Tolerance.project_key.in_(active))):
            tolerances.setdefault(tolerance.project_key, []).append(tolerance_record(tolerance))
        roles: dict[str, dict[str, list[str]]] = {}
        for key, role, person in self.session.execute(
            select(t.ProjectRole.project_key, t.ProjectRole.role, t.ProjectRole.person_id)
            .where(t.ProjectRole.project_key.in_(active))
            .order_by(t.ProjectRole.role, t.ProjectRole.person_id)
        ):
            roles.setdefault(key, {}).setdefault(role, []).append(person)
        top = (
            select(
                t.ToleranceExceptionRow.project_key,
                t.ToleranceExceptionRow.scope,
                t.ToleranceExceptionRow.dimension,
                func.max(t.ToleranceExceptionRow.seq).label("seq"),
            )
            .where(t.ToleranceExceptionRow.project_key.in_(active))
            .group_by(
                t.ToleranceExceptionRow.project_key, t.ToleranceExceptionRow.scope, t.ToleranceExceptionRow.dimension
            )
            .subquery()
        )
        exceptions: dict[str, dict[str, ToleranceException]] = {}
        for row in self.session.scalars(
            select(t.ToleranceExceptionRow).join(
                top,
                (t.ToleranceExceptionRow.project_key == top.c.project_key)
                & (t.ToleranceExceptionRow.scope == top.c.scope)
                & (t.ToleranceExceptionRow.dimension == top.c.dimension)
                & (t.ToleranceExceptionRow.seq == top.c.seq),
            )
        ):
            exceptions.setdefault(row.project_key, {})[f"{row.scope}:{row.dimension}"] = exception_record(row)
        history: dict[str, dict[str, list[Decimal]]] = {}
        for key, dimension, deviation in self.session.execute(
            select(t.RagSnapshot.project_key, t.RagSnapshot.dimension, t.RagSnapshot.deviation)
            .where(
                t.RagSnapshot.project_key.in_(active),
                t.RagSnapshot.as_of < as_of,
                t.RagSnapshot.as_of >= as_of - timedelta(days=HISTORY_DAYS),
                t.RagSnapshot.deviation.is_not(None),
            )
            .order_by(t.RagSnapshot.as_of)
        ):
            if deviation is not None:
                history.setdefault(key, {}).setdefault(dimension, []).append(deviation)
        found = []
        for project in projects:
            bac = bacs.get(project.key, project.budget)
            report = reports.get(project.key)
            risk = risks.get(project.key)
            evm = None
            if report is not None:
                planned = report.planned_value
                if planned is None:
                    planned = next(
                        (v for end, v in reversed(periods.get(project.key, [])) if end <= report.as_of), None
                    )
                try:
                    evm = EvmSnapshot(
                        as_of=report.as_of,
                        bac=bac,
                        pv=planned,
                        ev=report.earned_value,
                        ac=report.actual_cost,
                        etc=report.estimate_to_complete,
                    )
                except ValueError:
                    evm = None  # figures that contradict the baseline forecast nothing (the RAG shows unknown)
            assigned = {role: tuple(people) for role, people in roles.get(project.key, {}).items()}
            found.append(
                MonitorInput(
                    project=project,
                    bac=bac,
                    evm=evm,
                    test_pass_rate=report.test_pass_rate if report is not None else None,
                    acceptance=report.acceptance if report is not None else None,
                    plan=tuple(periods.get(project.key, ())),
                    risks=risk.total if risk is not None else 0,
                    worst_risk=risk.worst if risk is not None else None,
                    risks_changed=risk.changed.date() if risk is not None and risk.changed else None,
                    tolerances=tuple(tolerances.get(project.key, ())),
                    roles={"sponsor": (project.sponsor_id,), "manager": (project.manager_id,)} | assigned,
                    latest_exceptions=exceptions.get(project.key, {}),
                    history={d: tuple(v[-2:]) for d, v in history.get(project.key, {}).items()},
                )
            )
        return found

    def gate_schedule(self, keys: Sequence[str]) -> list[tuple[ProjectSnapshot, dict[str, date]]]:
        """These active projects with their open milestones (id -> due date), in two queries."""
        projects = [
            project_snapshot(row)
            for row in self.session.execute(
                select(q.PROJECTS).where(
                    q.PROJECTS.c.key.in_(list(keys)), q.PROJECTS.c.status == ProjectStatus.ACTIVE.value
                )
            )
        ]
        dates: dict[str, dict[str, date]] = {}
        for key, milestone, due in self.session.execute(
            select(t.Milestone.project_key, t.Milestone.id, t.Milestone.due).where(
                t.Milestone.project_key.in_([p.key for p in projects]), t.Milestone.done_on.is_(None)
            )
        ):
            dates.setdefault(key, {})[milestone] = due
        return [(p, dates.get(p.key, {})) for p in projects]

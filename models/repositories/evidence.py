"""Gate evidence of a project: documents, costs, baseline and stage budgets, status reports (EVM),
risks, milestones and scorecards.

Each is appended or upserted by an import or a command and read by the gate criteria.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Row, delete, func, insert, select, update

from phasegate.gates.vocabulary.enums import DocumentStatus
from phasegate.gates.vocabulary.evidence import DocumentEvidence, MilestoneEvidence, RiskEvidence, ScoreEvidence
from phasegate.gates.vocabulary.snapshots import (
    BaselineRecord,
    EvidenceFigures,
    EvmReportRecord,
    GateEvidenceReads,
)
from phasegate.models import catalog as c
from phasegate.models import statements as q
from phasegate.models.db import pipelined
from phasegate.models.prepared import Prepared
from phasegate.models.read_ahead import ReadAhead
from phasegate.models.repositories.repository import SqlRepository, Transaction
from phasegate.models.row_keys import new_row_key

# Every review reads all of these (``usecases.evidence.collect_evidence``): run on the driver (models.prepared).
_LATEST_DOCUMENTS = Prepared(q.LATEST_DOCUMENTS)
_BASELINE = Prepared(q.BASELINE)
_STAGE_BUDGET = Prepared(q.STAGE_BUDGET)
_SPEND = Prepared(q.SPEND)
_LATEST_EVM_REPORT = Prepared(q.LATEST_EVM_REPORT)
_PROJECT_RISKS = Prepared(q.PROJECT_RISKS)
_PROJECT_MILESTONES = Prepared(q.PROJECT_MILESTONES)
_GATE_SCORES = Prepared(q.GATE_SCORES)
_EVIDENCE_FIGURES = Prepared(q.EVIDENCE_FIGURES)
_STAGE_EVIDENCE_FIGURES = Prepared(q.STAGE_EVIDENCE_FIGURES)
_PROJECT_SCORES = Prepared(q.PROJECT_SCORES)
_CENT = Decimal("0.01")


def _cents(amount: Decimal | int | None) -> Decimal:
    """A ledger sum as money: 0 for no rows, to the cent."""
    return Decimal(amount or 0).quantize(_CENT)


def _baseline(row: Row[Any]) -> BaselineRecord:
    return BaselineRecord(bac=row.bac, contingency=row.contingency, contingency_used=row.contingency_used)


def _evm_report(row: Row[Any]) -> EvmReportRecord:
    return EvmReportRecord(
        project_key=row.project_key,
        as_of=row.as_of,
        planned_value=row.planned_value,
        earned_value=row.earned_value,
        actual_cost=row.actual_cost,
        estimate_to_complete=row.estimate_to_complete,
        defects=row.defects,
        test_pass_rate=row.test_pass_rate,
        acceptance=row.acceptance,
    )


def _documents(rows: Sequence[Any]) -> list[DocumentEvidence]:
    return [
        DocumentEvidence(
            deliverable_id=row.deliverable_id,
            version=row.version,
            sha256=row.sha256,
            size=row.size,
            path=row.path,
            status=DocumentStatus(row.status),
            approved_by=row.approved_by,
            format=row.format,
            headings=tuple(row.headings) if row.headings is not None else None,
            store_key=row.store_key,
            registered_at=row.registered_at,
            approved_at=row.approved_at,
        )
        for row in rows
    ]


def _figures(row: Row[Any] | None) -> EvidenceFigures:
    if row is None:  # no such project: nothing of it is stored
        return EvidenceFigures(baseline=None, report=None, spent=_cents(0), stage_spent=_cents(0), stage_budget=None)
    values = row._asdict()
    report = None
    if values[q.REPORT_PREFIX + "as_of"] is not None:
        report = EvmReportRecord(**{name: values[q.REPORT_PREFIX + name] for name in EvmReportRecord.model_fields})
    return EvidenceFigures(
        baseline=None if row.bac is None else _baseline(row),  # bac is not nullable: null means no baseline row
        report=report,
        spent=_cents(row.spent),
        stage_spent=_cents(row.stage_spent),
        stage_budget=row.stage_budget,
    )


def _risks(rows: Sequence[Any]) -> list[RiskEvidence]:
    return [
        RiskEvidence(
            id=r.id,
            title=r.title,
            category=r.category,
            owner=r.owner,
            probability=r.probability,
            impact=r.impact,
            response=r.response,
            mitigation=r.mitigation,
            cause=r.cause,
            effect=r.effect,
            status=r.status,
        )
        for r in rows
    ]


def _milestones(rows: Sequence[Any]) -> list[MilestoneEvidence]:
    return [MilestoneEvidence(id=r.id, name=r.name, due=r.due, done_on=r.done_on) for r in rows]


def _scores(rows: Sequence[Any]) -> list[ScoreEvidence]:
    return [ScoreEvidence(gatekeeper=r.gatekeeper, factor=r.factor, score=r.score) for r in rows]


class SqlEvidence(SqlRepository):
    def __init__(self, tx: Transaction) -> None:
        super().__init__(tx)
        self._ahead = ReadAhead()

    def latest_documents(self, key: str) -> list[DocumentEvidence]:
        return _documents(_LATEST_DOCUMENTS.rows(self.connection, {"key": key}))

    def read_ahead_gate(self, key: str, as_of: date) -> None:
        """Send ``gate_reads``'s five reads before the gate is known, with a review's first reads (``gate_reads``
        takes them): the figures of the stage the project stands in, as the database has it, and its scores at
        every gate (the gate is the template's, found in Python), filtered when taken."""
        self._ahead.send(
            self.connection,
            ("gate", key, as_of),
            (_LATEST_DOCUMENTS, {"key": key}),
            (_STAGE_EVIDENCE_FIGURES, {"key": key, "as_of": as_of}),
            (_PROJECT_RISKS, {"key": key}),
            (_PROJECT_MILESTONES, {"key": key}),
            (_PROJECT_SCORES, {"key": key}),
        )

    def gate_reads(self, key: str, stage_id: str, gate_id: str, as_of: date) -> GateEvidenceReads:
        """``latest_documents``, ``figures``, ``risks``, ``milestones`` and ``scores`` sent together (a review's):
        on PostgreSQL in one pipeline, so one round trip for the five, read after it (``Prepared.send``), or none
        when ``read_ahead_gate`` sent them for the stage asked for."""
        ahead = self._ahead.take(("gate", key, as_of))
        if ahead is not None and ahead[1] and ahead[1][0].project_stage_id == stage_id:
            documents, figures, risks, milestones, scores = ahead
            scores = [row for row in scores if row.gate_id == gate_id]
        else:
            with pipelined(self.connection):
                sent = (
                    _LATEST_DOCUMENTS.send(self.connection, {"key": key}),
                    _EVIDENCE_FIGURES.send(self.connection, {"key": key, "stage_id": stage_id, "as_of": as_of}),
                    _PROJECT_RISKS.send(self.connection, {"key": key}),
                    _PROJECT_MILESTONES.send(self.connection, {"key": key}),
                    _GATE_SCORES.send(self.connection, {"key": key, "gate_id": gate_id}),
                )
            documents, figures, risks, milestones, scores = (read() for read in sent)
        return GateEvidenceReads(
            documents=_documents(documents),
            figures=_figures(next(iter(figures), None)),
            risks=_risks(risks),
            milestones=_milestones(milestones),
            scores=_scores(scores),
        )

    def next_document_version(self, key: str, deliverable_id: str) -> int:
        from phasegate.models import tables as t

        current = self.session.scalar(
            select(func.max(t.Document.version)).where(
                t.Document.project_key == key, t.Document.deliverable_id == deliverable_id
            )
        )
        return (current or 0) + 1

    def add_document(
        self, key: str, document: DocumentEvidence, *, approved_at: datetime | None, now: datetime
    ) -> UUID:
        from phasegate.models import tables as t

        document_id = new_row_key()
        self.session.add(
            t.Document(
                id=document_id,
                project_key=key,
                deliverable_id=document.deliverable_id,
                version=document.version,
                path=document.path,
                sha256=document.sha256,
                size=document.size,
                status=document.status.value,
                approved_by=document.approved_by,
                approved_at=approved_at,
                registered_at=now,
                format=document.format,
                headings=list(document.headings) if document.headings is not None else None,
                store_key=document.store_key,
            )
        )
        self.session.flush()
        return document_id

    def set_document_store_key(self, key: str, deliverable_id: str, version: int, store_key: str) -> bool:
        """Record the stored copy of a version registered before the store; False when it already has one."""
        from phasegate.models import tables as t

        result = self.session.execute(
            update(t.Document)
            .where(
                t.Document.project_key == key,
                t.Document.deliverable_id == deliverable_id,
                t.Document.version == version,
                t.Document.store_key.is_(None),
            )
            .values(store_key=store_key)
        )
        return bool(getattr(result, "rowcount", 0))

    def total_actual_cost(self, key: str) -> Decimal:
        total = self.connection.execute(q.ACTUAL_COST, {"key": key}).scalar()
        return _cents(total)

    def add_cost(self, key: str, amount: Decimal, *, note: str, stage_id: str, now: datetime) -> UUID:
        from phasegate.models import tables as t

        entry_id = new_row_key()
        self.session.add(
            t.CostEntry(id=entry_id, project_key=key, amount=amount, note=note, stage_id=stage_id, recorded_at=now)
        )
        self.session.flush()
        return entry_id

    def get_baseline(self, key: str) -> BaselineRecord | None:
        row = _BASELINE.first(self.connection, {"key": key})
        return None if row is None else _baseline(row)

    def set_baseline(self, key: str, baseline: BaselineRecord, *, now: datetime) -> None:
        from phasegate.models import tables as t

        row = self.session.get(t.Baseline, key)
        if row is None:
            self.session.add(t.Baseline(project_key=key, set_at=now, **baseline.model_dump()))
        else:
            row.bac, row.contingency, row.contingency_used = (
                baseline.bac,
                baseline.contingency,
                baseline.contingency_used,
            )
            row.set_at = now
        self.session.flush()

    def baseline_periods(self, key: str) -> list[tuple[date, Decimal]]:
        """The time-phased plan (cumulative planned value per period end), oldest first."""
        from phasegate.models import tables as t

        rows = self.session.execute(
            select(t.BaselinePeriod.period_end, t.BaselinePeriod.planned_value)
            .where(t.BaselinePeriod.project_key == key)
            .order_by(t.BaselinePeriod.period_end)
        )
        return [(when, value) for when, value in rows]

    def replace_baseline_periods(self, key: str, periods: Sequence[tuple[date, Decimal]]) -> None:
        from phasegate.models import tables as t

        self.session.execute(delete(t.BaselinePeriod).where(t.BaselinePeriod.project_key == key))
        if periods:
            self.session.execute(
                insert(t.BaselinePeriod),
                [{"project_key": key, "period_end": end, "planned_value": value} for end, value in periods],
            )

    def planned_value_at(self, key: str, as_of: date) -> Decimal | None:
        periods = c.BASELINE_PERIODS.c
        return self.connection.scalar(
            select(periods.planned_value)
            .where(periods.project_key == key, periods.period_end <= as_of)
            .order_by(periods.period_end.desc())
            .limit(1)
        )

    def set_stage_budget(self, key: str, stage_id: str, amount: Decimal) -> None:
        from phasegate.models import tables as t

        row = self.session.get(t.StageBudget, (key, stage_id))
        if row is None:
            self.session.add(t.StageBudget(project_key=key, stage_id=stage_id, amount=amount))
        else:
            row.amount = amount
        self.session.flush()

    def stage_budget(self, key: str, stage_id: str) -> Decimal | None:
        row = _STAGE_BUDGET.first(self.connection, {"key": key, "stage_id": stage_id})
        amount: Decimal | None = None if row is None else row[0]
        return amount

    def spend(self, key: str, stage_id: str) -> tuple[Decimal, Decimal]:
        """Actual cost recorded on the project in all, and in one stage: one pass over its ledger."""
        total, stage = _SPEND.rows(self.connection, {"key": key, "stage_id": stage_id})[0]
        return _cents(total), _cents(stage)

    def figures(self, key: str, stage_id: str, as_of: date) -> EvidenceFigures:
        """``get_baseline``, ``latest_evm_report``, ``spend`` and ``stage_budget`` in one statement (a review's)."""
        return _figures(_EVIDENCE_FIGURES.first(self.connection, {"key": key, "stage_id": stage_id, "as_of": as_of}))

    def upsert_evm_reports(self, reports: Sequence[EvmReportRecord], *, now: datetime) -> int:
        from phasegate.models import tables as t

        if not reports:
            return 0
        for key in {r.project_key for r in reports}:
            dates = [r.as_of for r in reports if r.project_key == key]
            self.session.execute(
                delete(t.EvmReport).where(t.EvmReport.project_key == key, t.EvmReport.as_of.in_(dates))
            )
        self.session.execute(insert(t.EvmReport), [r.model_dump() | {"recorded_at": now} for r in reports])
        return len(reports)

    def latest_evm_report(self, key: str, as_of: date) -> EvmReportRecord | None:
        row = _LATEST_EVM_REPORT.first(self.connection, {"key": key, "as_of": as_of})
        return _evm_report(row) if row else None

    def evm_history(self, key: str) -> list[EvmReportRecord]:
        return [_evm_report(row) for row in self.connection.execute(q.EVM_HISTORY, {"key": key})]

    def upsert_risks(self, key: str, risks: Sequence[RiskEvidence], *, now: datetime) -> int:
        from phasegate.models import tables as t

        if not risks:
            return 0
        self.session.execute(delete(t.Risk).where(t.Risk.project_key == key, t.Risk.id.in_([r.id for r in risks])))
        self.session.execute(insert(t.Risk), [r.model_dump() | {"project_key": key, "updated_at": now} for r in risks])
        return len(risks)

    def risks(self, key: str) -> list[RiskEvidence]:
        return _risks(_PROJECT_RISKS.rows(self.connection, {"key": key}))

    def upsert_milestone(self, key: str, milestone: MilestoneEvidence) -> None:
        from phasegate.models import tables as t

        row = self.session.get(t.Milestone, (key, milestone.id))
        if row is None:
            self.session.add(t.Milestone(project_key=key, **milestone.model_dump()))
        else:
            row.name, row.due, row.done_on = milestone.name, milestone.due, milestone.done_on
        self.session.flush()

    def milestones(self, key: str) -> list[MilestoneEvidence]:
        return _milestones(_PROJECT_MILESTONES.rows(self.connection, {"key": key}))

    def upsert_scores(self, key: str, gate_id: str, gatekeeper: str, scores: dict[str, int], *, now: datetime) -> None:
        from phasegate.models import tables as t

        self.session.execute(
            delete(t.Score).where(
                t.Score.project_key == key,
                t.Score.gate_id == gate_id,
                t.Score.gatekeeper == gatekeeper,
                t.Score.factor.in_(list(scores)),
            )
        )
        self.session.execute(
            insert(t.Score),
            [
                {
                    "project_key": key,
                    "gate_id": gate_id,
                    "gatekeeper": gatekeeper,
                    "factor": factor,
                    "score": value,
                    "scored_at": now,
                }
                for factor, value in scores.items()
            ],
        )

    def scores(self, key: str, gate_id: str) -> list[ScoreEvidence]:
        return _scores(_GATE_SCORES.rows(self.connection, {"key": key, "gate_id": gate_id}))

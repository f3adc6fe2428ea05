"""View models: what each page shows, assembled from the use cases and the stored packet.

Kept apart from the routes so that the pages' content can be tested without HTTP, and so the routes only
decide status codes, cookies and which template to render.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from phasegate.flows.runtime import Runtime
from phasegate.gates.evm import EvmFigures, compute, rag_band
from phasegate.gates.scorecard import ScorecardSummary, summarize
from phasegate.gates.tolerance import EffectiveTolerance
from phasegate.gates.vocabulary.errors import PhasegateError
from phasegate.gates.vocabulary.evidence import EvmSnapshot, GateEvidence, RiskEvidence
from phasegate.gates.vocabulary.snapshots import (
    ConditionRecord,
    Evaluation,
    EvmReportRecord,
    ProjectSnapshot,
    RoundSnapshot,
    VoteRecord,
)
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.gates.vocabulary.tolerance import ToleranceException
from phasegate.models.audit_store import iter_audit
from phasegate.usecases import approvals, services
from phasegate.usecases.result import UowFactory
from phasegate.web import store
from phasegate.web.chart import Point, evm_chart

TOP_RISKS = 5
AUDIT_ROWS = 60
RAG_LIST = 50


# ------------------------------------------------------------------------------------------------ EVM
def rag_of(bac: Decimal, pv: Decimal | None, ev: Decimal | None, ac: Decimal | None, on: date) -> tuple[str, str]:
    """(budget band from CPI, schedule band from SPI); "unknown" when a figure is missing or inconsistent."""
    try:
        figures = compute(EvmSnapshot(as_of=on, bac=bac, pv=pv, ev=ev, ac=ac))
    except ValueError:
        return "unknown", "unknown"
    return rag_band(figures.cpi), rag_band(figures.spi)


def _pv_on(periods: list[tuple[date, Decimal]], on: date) -> Decimal | None:
    planned = [value for end, value in periods if end <= on]
    return planned[-1] if planned else None


def chart_points(
    history: tuple[EvmReportRecord, ...], periods: list[tuple[date, Decimal]], *, until: date | None
) -> list[Point]:
    """One point per status report up to ``until``; PV from the report, else from the time-phased baseline."""
    return [
        Point(
            on=r.as_of,
            pv=r.planned_value if r.planned_value is not None else _pv_on(periods, r.as_of),
            ev=r.earned_value,
            ac=r.actual_cost,
        )
        for r in history
        if until is None or r.as_of <= until
    ]


def evm_rows(figures: EvmFigures) -> list[tuple[str, str | None]]:
    data = figures.as_json()
    names = (
        ("bac", "BAC"),
        ("pv", "PV"),
        ("ev", "EV"),
        ("ac", "AC"),
        ("cv", "CV"),
        ("sv", "SV"),
        ("cpi", "CPI"),
        ("spi", "SPI"),
        ("eac_cpi", "EAC (BAC / CPI)"),
        ("etc", "ETC"),
        ("vac", "VAC"),
        ("tcpi_bac", "TCPI (BAC)"),
    )
    return [(label, data.get(key)) for key, label in names if key in data]


# ------------------------------------------------------------------------------------------------ packet
@dataclass
class Packet:
    """The gate packet of one round as the approver sees it: frozen evidence, plus who has voted."""

    project: ProjectSnapshot
    template: LifecycleTemplate
    current: RoundSnapshot
    evaluation: Evaluation
    evidence: GateEvidence
    gate_name: str
    gate_name_zh: str
    evm: list[tuple[str, str | None]]
    evm_bands: tuple[str, str]
    chart: Markup | None
    risks: list[RiskEvidence]
    scorecard: ScorecardSummary | None
    votes: tuple[VoteRecord, ...]
    waiting: tuple[str, ...]
    explanation: str
    explanation_zh: str
    conditions: list[ConditionRecord]
    names: dict[str, str] = field(default_factory=dict)
    evidence_moved: bool = False


def packet(
    rt: Runtime, current: RoundSnapshot, *, reader: UowFactory | None = None, sessions: store.Sessions | None = None
) -> Packet:
    """The round's packet; ``reader`` and ``sessions`` (the page's one shared read, ``models.one_read``) serve
    every read, by default each its own read-only transaction."""
    reader = reader or rt.reader
    sessions = sessions or rt.read_sessions
    stored = store.review(sessions, current)
    if stored is None:
        raise PhasegateError(f"round {current.id} has no stored review", code="round.no_review")
    evaluation = Evaluation.model_validate(stored.evaluation)
    evidence = GateEvidence.model_validate(stored.evidence)
    view = services.project_view(current.project_key, uow=reader)
    project = view.project
    template = services.get_template(project.template_id, project.template_version, uow=reader).template
    gate = template.gate(current.gate_id)
    figures = compute(evidence.evm) if evidence.evm is not None else None
    bands = (rag_band(figures.cpi), rag_band(figures.spi)) if figures is not None else ("unknown", "unknown")
    data = services.project_data(project.key, uow=reader)
    periods = store.baseline_periods(sessions, project.key)
    bac = evidence.evm.bac if evidence.evm is not None else evidence.budget
    chart = evm_chart(chart_points(data.evm_history, periods, until=evidence.as_of), title="PV / EV / AC", bac=bac)
    live = [r for r in evidence.risks if r.status == "open"]
    risks = sorted(live, key=lambda r: (-r.score, r.id))[:TOP_RISKS]
    scorecard = summarize(gate.scorecard, evidence.scores) if gate is not None and gate.scorecard else None
    state = approvals.round_tally(current)
    names = _names(reader, {*current.approvers, *(v.signer_id for v in current.live_votes)})
    return Packet(
        project=project,
        template=template,
        current=current,
        evaluation=evaluation,
        evidence=evidence,
        gate_name=gate.name if gate else current.gate_id,
        gate_name_zh=(gate.name_zh or gate.name) if gate else current.gate_id,
        evm=evm_rows(figures) if figures is not None else [],
        evm_bands=bands,
        chart=chart,
        risks=risks,
        scorecard=scorecard,
        votes=current.live_votes,
        waiting=state.next_up or state.pending,
        explanation=state.explanation,
        explanation_zh=state.explanation_zh,
        conditions=approvals.list_conditions(uow=reader, project_key=project.key, status="open"),
        names=names,
        evidence_moved=project.evidence_version != current.evidence_version,
    )


def _names(reader: UowFactory, ids: set[str]) -> dict[str, str]:
    with reader() as tx:
        return {person_id: person.name for person_id, person in tx.people.get_people(ids).items()}


# ------------------------------------------------------------------------------------------------ dashboard
@dataclass(frozen=True)
class PendingRow:
    current: RoundSnapshot
    age_hours: int
    overdue: bool
    waiting: tuple[str, ...]


def pending_rows(rounds: list[RoundSnapshot], now: datetime) -> list[PendingRow]:
    rows = []
    for current in rounds:
        state = approvals.round_tally(current)
        rows.append(
            PendingRow(
                current=current,
                age_hours=int((now - current.opened_at).total_seconds() // 3600),
                overdue=current.due_at is not None and now > current.due_at,
                waiting=state.next_up or state.pending,
            )
        )
    return sorted(rows, key=lambda r: (not r.overdue, r.current.due_at or r.current.opened_at))


@dataclass(frozen=True)
class StageCount:
    stage_id: str
    name: str
    name_zh: str
    count: int


@dataclass(frozen=True)
class Funnel:
    template: str
    stages: tuple[StageCount, ...]
    other: dict[str, int]

    @property
    def widest(self) -> int:
        return max([s.count for s in self.stages] + [1])


@dataclass(frozen=True)
class RagRow:
    key: str
    name: str
    as_of: date
    budget: str
    schedule: str


@dataclass
class Portfolio:
    total: int
    funnels: list[Funnel]
    budget_bands: Counter[str]
    schedule_bands: Counter[str]
    watch: list[RagRow]
    pending: list[PendingRow]
    overdue_conditions: list[ConditionRecord]
    decisions: list[store.RecentDecision]


@dataclass(frozen=True)
class _Summary:
    """The part of the dashboard read from every project (counts, bands, the watch list)."""

    total: int
    funnels: list[Funnel]
    budget_bands: Counter[str]
    schedule_bands: Counter[str]
    watch: list[RagRow]


def _summary(rt: Runtime) -> _Summary:
    projects, _ = services.list_projects(uow=rt.reader)
    templates = {(s.template.id, s.template.version): s.template for s in services.list_templates(uow=rt.reader)}
    by_template: dict[str, tuple[LifecycleTemplate, Counter[str], Counter[str]]] = {}
    for project in projects:
        template = templates.get((project.template_id, project.template_version))
        if template is None:
            continue
        _, stages, other = by_template.setdefault(template.id, (template, Counter(), Counter()))
        if project.status.value == "active":
            stages[project.stage_id] += 1
        else:
            other[project.status.value] += 1
    funnels = [
        Funnel(
            template=template_id,
            stages=tuple(StageCount(s.id, s.name, s.name_zh or s.name, stages[s.id]) for s in template.stages),
            other=dict(other),
        )
        for template_id, (template, stages, other) in sorted(by_template.items())
    ]
    names = {p.key: p.name for p in projects}
    budget_bands: Counter[str] = Counter()
    schedule_bands: Counter[str] = Counter()
    watch: list[RagRow] = []
    reports = store.latest_reports(rt.read_sessions)
    for key in names:
        report = reports.get(key)
        if report is None:
            budget_bands["unknown"] += 1
            schedule_bands["unknown"] += 1
            continue
        budget, schedule = rag_of(report.bac, report.pv, report.ev, report.ac, report.as_of)
        budget_bands[budget] += 1
        schedule_bands[schedule] += 1
        if {budget, schedule} & {"red", "amber"}:
            watch.append(RagRow(key, names[key], report.as_of, budget, schedule))
    order = {"red": 0, "amber": 1, "unknown": 2, "green": 3}
    watch.sort(key=lambda r: (min(order[r.budget], order[r.schedule]), r.key))
    return _Summary(len(projects), funnels, budget_bands, schedule_bands, watch[:RAG_LIST])


def portfolio(rt: Runtime, now: datetime, *, version: str | None = None) -> Portfolio:
    """The dashboard's summary; with a ``version`` (``Runtime.change_stamp``, read before), what this process
    read and computed from the same committed state is reused: the counts and bands, and the pending rounds,
    open conditions and recent decisions. Ages and what is overdue depend on the time of day, so they are
    worked out from those rows on every request."""

    def pending_work() -> tuple[list[ConditionRecord], list[RoundSnapshot], list[store.RecentDecision]]:
        return (
            approvals.list_conditions(uow=rt.reader, status="open"),
            approvals.list_rounds(uow=rt.reader, pending_only=True),
            store.recent_decisions(rt.read_sessions),
        )

    if version is None:
        summary, (conditions, rounds, decisions) = _summary(rt), pending_work()
    else:
        summary = rt.memo.get(("dashboard_summary", version), lambda: _summary(rt), version=version)
        conditions, rounds, decisions = rt.memo.get(("dashboard_pending", version), pending_work, version=version)
    today = now.date()
    overdue = [c for c in conditions if c.due_on < today]
    return Portfolio(
        total=summary.total,
        funnels=summary.funnels,
        budget_bands=summary.budget_bands,
        schedule_bands=summary.schedule_bands,
        watch=summary.watch,
        pending=pending_rows(rounds, now),
        overdue_conditions=sorted(overdue, key=lambda c: c.due_on),
        decisions=decisions,
    )


# ------------------------------------------------------------------------------------------------ project page
@dataclass
class ProjectPage:
    view: services.ProjectView
    template: LifecycleTemplate
    stage_name: str
    stage_name_zh: str
    evaluation: Evaluation | None
    evaluation_problem: str | None
    evm: list[tuple[str, str | None]]
    evm_as_of: date | None
    bands: tuple[str, str]
    chart: Markup | None
    pending: list[PendingRow]
    conditions: list[ConditionRecord]
    audit: list[Any]
    tolerances: list[EffectiveTolerance]
    exceptions: list[ToleranceException]
    rag: services.ProjectRag
    hold: services.QueueEntry | None = None
    """Where the project waits in the HOLD queue, when it is on hold."""


def project_page(rt: Runtime, key: str, now: datetime) -> ProjectPage:
    view = services.project_view(key, uow=rt.reader)
    project = view.project
    template = services.get_template(project.template_id, project.template_version, uow=rt.reader).template
    stage = template.stage(project.stage_id)
    evaluation: Evaluation | None = None
    problem: str | None = None
    try:
        evaluation = services.check_gate(key, uow=rt.reader, now=now, probe=rt.probe, registry=rt.registry).evaluation
    except PhasegateError as err:
        problem = str(err)
    data = services.project_data(key, uow=rt.reader)
    periods = store.baseline_periods(rt.read_sessions, key)
    latest = data.evm_history[-1] if data.evm_history else None
    rows: list[tuple[str, str | None]] = []
    bands = ("unknown", "unknown")
    if latest is not None:
        bac = store.bac_of(rt.read_sessions, key) or project.budget
        pv = latest.planned_value if latest.planned_value is not None else _pv_on(periods, latest.as_of)
        try:
            figures = compute(
                EvmSnapshot(as_of=latest.as_of, bac=bac, pv=pv, ev=latest.earned_value, ac=latest.actual_cost)
            )
            rows = evm_rows(figures)
            bands = (rag_band(figures.cpi), rag_band(figures.spi))
        except ValueError as err:
            problem = problem or str(err)
    chart = evm_chart(chart_points(data.evm_history, periods, until=None), title="PV / EV / AC", bac=project.budget)
    return ProjectPage(
        view=view,
        template=template,
        stage_name=stage.name,
        stage_name_zh=stage.name_zh or stage.name,
        evaluation=evaluation,
        evaluation_problem=problem,
        evm=rows,
        evm_as_of=latest.as_of if latest else None,
        bands=bands,
        chart=chart,
        pending=pending_rows(list(view.pending_rounds), now),
        conditions=approvals.list_conditions(uow=rt.reader, project_key=key),
        audit=audit_trail(rt, key),
        tolerances=[
            t for t in services.list_tolerances(key, uow=rt.reader).tolerances if t.scope in ("*", project.stage_id)
        ],
        exceptions=services.list_exceptions(uow=rt.reader, project_key=key),
        rag=services.project_rag(key, uow=rt.reader),
        hold=_queue_place(rt, key) if project.status.value == "on_hold" else None,
    )


def _queue_place(rt: Runtime, key: str) -> services.QueueEntry | None:
    return next((entry for entry in services.hold_queue(uow=rt.reader) if entry.project_key == key), None)


def audit_trail(rt: Runtime, key: str) -> list[Any]:
    """The project's entries (and its rounds'), newest first: the whole chain is read, only these are kept."""
    rounds = {f"round:{rid}" for rid in store.round_ids_of(rt.read_sessions, key)}
    prefix = f"project:{key}"
    kept: list[Any] = []
    with rt.read_sessions() as session:
        for record in iter_audit(session):
            entity = record.entity
            if entity == prefix or entity.startswith(prefix + "/") or entity in rounds:
                kept.append(record)
    return kept[::-1][:AUDIT_ROWS]


def lessons_page(rt: Runtime, query: str) -> list[services.LessonRow]:
    return services.lesson_board(query, uow=rt.reader)


@dataclass(frozen=True)
class ResourcesPage:
    allocation: services.AllocationView
    queue: list[services.QueueEntry]
    roles: list[str]


def resources_page(rt: Runtime, *, role: str | None, first: str | None, last: str | None) -> ResourcesPage:
    """The allocation view (``first``/``last`` as YYYY-MM) and the HOLD queue, as ``/resources`` shows them."""
    from phasegate.flows.runtime import utc_now
    from phasegate.gates.vocabulary.resources import parse_month

    view = services.allocation_view(
        uow=rt.reader,
        today=utc_now().date(),
        first=None if first is None else parse_month(first, field="from"),
        last=None if last is None else parse_month(last, field="to"),
        role=role,
    )
    roles = sorted({p.role for p in services.resource_people(uow=rt.reader)})
    return ResourcesPage(allocation=view, queue=services.hold_queue(uow=rt.reader), roles=roles)

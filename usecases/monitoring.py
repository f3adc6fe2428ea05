"""The portfolio scan: forecasts against tolerances, computed RAG with history, and exceptions raised once.

Why a use case and not flow code: the ``portfolio-monitor`` flow runs it chunk by chunk, and a test or any
other door must get the same rows from the same inputs. One chunk is one transaction: its reads are a handful
of set-based queries (``UnitOfWork.monitor_inputs``), its writes the day's RAG rows, the new exceptions, their
notices (outbox) and audit entries, committed together.

Raising is exactly-once by construction: the n-th exception on a project, scope and dimension is one unique
row, so a scan that dies before its commit raises nothing (the next one raises it), and two scans racing raise
it once (the loser's insert is a no-op in a savepoint).

What is forecast, each against the project's own tolerance (the stage's where it has one):

- **cost**: the EAC (variances continue) against BAC;
- **time**: earned schedule on the template's working calendar (``gates.earned_schedule``): IEAC(t) - PD, the
  working days the forecast finish lies beyond the planned finish, against the time tolerance (percent of the
  planned duration or an amount of working days). The plan's start is its zero point (``plan_start``): a plan
  without one, or no earned value yet, forecasts nothing (``unknown``);
- **quality**: the latest status report's test pass rate and acceptance: the shortfall from 100 % in points,
  against the quality tolerance as a share of 100 %;
- **risk**: the worst live risk's score (probability x impact) beyond the template's risk appetite (the edge of
  its top band, ``gates.risk.risk_appetite``), against the risk tolerance in score points. A project with an
  empty register has no risk data (``unknown``); one whose risks are all closed has none beyond its appetite.

**Scope and benefits** tolerances are recorded and shown, but not forecast: the status report carries no scope
or benefits measure (``models.imports.ActualsRow``), and a colour made up without data would be dishonest. They
take no part in the RAG and raise no exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from uuid import uuid4

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.criteria import Criterion
from phasegate.gates.earned_schedule import plan_start, schedule_forecast, working_days
from phasegate.gates.exceptions import CENT, Breach, breach_of, cost_forecast, next_sequence, quality_shortfall
from phasegate.gates.rag import DimensionRag, Rag, adverse_trend, dimension_rag, overall
from phasegate.gates.risk import risk_appetite
from phasegate.gates.tolerance import EffectiveTolerance, effective_tolerances, in_force
from phasegate.gates.vocabulary.enums import Recommendation
from phasegate.gates.vocabulary.monitoring import MonitorInput, RagRow
from phasegate.gates.vocabulary.notices import EvidenceWarning, ToleranceExceptionRaised
from phasegate.gates.vocabulary.snapshots import Evaluation, OutboxRequest, ProjectSnapshot
from phasegate.gates.vocabulary.template import CalendarDef, LifecycleTemplate
from phasegate.gates.vocabulary.tolerance import PROJECT_SCOPE, Dimension, ToleranceException
from phasegate.usecases.assessment import check_gate
from phasegate.usecases.lookups import require_project
from phasegate.usecases.messages import criteria_context, messages_for, org_notice
from phasegate.usecases.ports import DocumentProbe
from phasegate.usecases.result import SYSTEM, Result, UowFactory

KIND = "tolerance_exception"
HUNDRED = Decimal(100)


class ProjectHealth(Result):
    """One project's line in the scan summary."""

    project_key: str
    overall: Rag
    cost: Rag
    cost_deviation: str | None
    cost_allowance: str | None
    time: Rag = Rag.NONE
    time_deviation: str | None = None
    """Working days the forecast finish lies beyond the planned finish (negative: ahead)."""
    time_allowance: str | None = None
    forecast_finish: str | None = None
    quality: Rag
    risk: Rag = Rag.NONE
    raised: int


class ScanReport(Result):
    """What one scan of a chunk found and raised."""

    scanned: int
    breaches: int
    raised: tuple[ToleranceException, ...]
    health: tuple[ProjectHealth, ...]


UNITS: dict[Dimension, tuple[str, str]] = {
    Dimension.TIME: ("working days", "工作日"),
    Dimension.QUALITY: ("%", "%"),
    Dimension.RISK: ("score points", "风险分"),
}
"""The unit of a non-money exception in each locale's notice (money dimensions show the project's currency)."""


def _notice(project: ProjectSnapshot, record: ToleranceException, owner_name: str | None) -> ToleranceExceptionRaised:
    unit, unit_zh = UNITS.get(record.dimension, (project.currency, project.currency))
    return ToleranceExceptionRaised(
        project_key=project.key,
        project_name=project.name,
        exception_id=str(record.id),
        dimension=record.dimension.value,
        scope=record.scope,
        level=record.level.value,
        owner=owner_name or "",
        baseline=str(record.baseline),
        forecast=str(record.forecast),
        allowance=str(record.allowance),
        deviation=str(record.deviation),
        currency=unit,
        unit_zh=unit_zh,
        decide_command=f"phasegate exceptions decide {record.id} --decision approve_plan|premature_close|accept "
        '--reason "..."',
    )


Assessed = tuple[DimensionRag, Breach | None, date]
"""One dimension's colour, its breach if any, and the date of the evidence it was computed from."""


def _rag(
    item: MonitorInput, dimension: Dimension, deviation: Decimal | None, allowance: Decimal | None
) -> DimensionRag:
    return dimension_rag(
        dimension,
        deviation=None if deviation is None else deviation.quantize(CENT),
        allowance=None if allowance is None else allowance.quantize(CENT),
        history=item.history.get(dimension.value, ()),
    )


@cache
def calendar_of(definition: CalendarDef) -> WorkingCalendar:
    """A template's working calendar, built once per process (a scan colours thousands of projects on a few)."""
    return WorkingCalendar.from_def(definition)


def assess_time(
    item: MonitorInput, project_wide: list[EffectiveTolerance], template: LifecycleTemplate, as_of: date
) -> tuple[Assessed, str | None]:
    """Time: earned schedule's IEAC(t) - PD (working days late) against the time tolerance on PD; the forecast
    finish date (ISO) rides along for the summary."""
    tolerance = in_force(project_wide, Dimension.TIME, item.project.stage_id)
    calendar = calendar_of(template.calendar)
    split = plan_start(item.plan)
    duration = Decimal(working_days(calendar, split[0], split[1][-1][0])) if split else Decimal(0)
    allowance = tolerance.allowance(duration) if tolerance is not None else None
    es = None
    if item.evm is not None:
        es = schedule_forecast(item.plan, ev=item.evm.ev, as_of=item.evm.as_of, calendar=calendar)
    if es is None or es.delay_days is None or es.ieac_t is None:
        return (_rag(item, Dimension.TIME, None, allowance), None, as_of), None
    rag = _rag(item, Dimension.TIME, es.delay_days, allowance)
    breach = breach_of(item.project.key, tolerance, baseline=duration, forecast=es.ieac_t, deviation=es.delay_days)
    finish = es.forecast_finish.isoformat() if es.forecast_finish else None
    return (rag, breach, es.as_of), finish


def assess_risk(
    item: MonitorInput, project_wide: list[EffectiveTolerance], template: LifecycleTemplate, as_of: date
) -> Assessed:
    """Risk: the worst live risk's score beyond the template's appetite, against the risk tolerance in points."""
    tolerance = in_force(project_wide, Dimension.RISK, item.project.stage_id)
    appetite = Decimal(risk_appetite(template.risk_scale))
    allowance = tolerance.allowance(appetite) if tolerance is not None else None
    if item.risks == 0:
        return _rag(item, Dimension.RISK, None, allowance), None, as_of
    worst = Decimal(item.worst_risk or 0)
    rag = _rag(item, Dimension.RISK, worst - appetite, allowance)
    breach = breach_of(item.project.key, tolerance, baseline=appetite, forecast=worst)
    return rag, breach, item.risks_changed or as_of


def assess_quality(item: MonitorInput, project_wide: list[EffectiveTolerance]) -> tuple[DimensionRag, Breach | None]:
    """Quality from the latest report's test pass rate and acceptance: the shortfall from 100 % in points,
    against the quality tolerance as a share of 100 % (5 % allows 5 points)."""
    tolerance = in_force(project_wide, Dimension.QUALITY, item.project.stage_id)
    shortfall = quality_shortfall(item.test_pass_rate, item.acceptance)
    allowance = tolerance.allowance(HUNDRED) if tolerance is not None else None
    rag = _rag(item, Dimension.QUALITY, shortfall, allowance)
    forecast = None if shortfall is None else HUNDRED - shortfall
    return rag, breach_of(item.project.key, tolerance, baseline=HUNDRED, forecast=forecast, deviation=shortfall)


def assess_cost(item: MonitorInput, project_wide: list[EffectiveTolerance]) -> tuple[DimensionRag, Breach | None]:
    """Cost: the EAC (variances continue) against BAC and the cost tolerance."""
    tolerance = in_force(project_wide, Dimension.COST, item.project.stage_id)
    forecast = cost_forecast(item.evm)
    allowance = tolerance.allowance(item.bac) if tolerance is not None else None
    deviation = None if forecast is None else forecast - item.bac
    rag = _rag(item, Dimension.COST, deviation, allowance)
    return rag, breach_of(item.project.key, tolerance, baseline=item.bac, forecast=forecast)


class Assessment(Result):
    """Every forecast dimension of one project on one day (pure result of ``assess``)."""

    cost: Assessed
    time: Assessed
    quality: Assessed
    risk: Assessed
    forecast_finish: str | None = None

    @property
    def dimensions(self) -> tuple[Assessed, ...]:
        return (self.cost, self.time, self.quality, self.risk)


def assess(item: MonitorInput, template: LifecycleTemplate, as_of: date) -> Assessment:
    """The RAG of each forecast dimension of one project (cost, time, quality, risk) and its breach, if any."""
    tolerances = effective_tolerances(template, item.project, item.roles, item.tolerances)
    project_wide = [t for t in tolerances if t.scope == PROJECT_SCOPE]
    report_date = item.evm.as_of if item.evm is not None else as_of
    time, finish = assess_time(item, project_wide, template, as_of)
    return Assessment(
        cost=(*assess_cost(item, project_wide), report_date),
        time=time,
        quality=(*assess_quality(item, project_wide), report_date),
        risk=assess_risk(item, project_wide, template, as_of),
        forecast_finish=finish,
    )


def scan_projects(keys: Sequence[str], *, uow: UowFactory, now: datetime) -> ScanReport:
    """Scan one chunk of projects: record today's RAG, raise each new breach once with its notice and audit."""
    as_of = now.date()
    raised: list[ToleranceException] = []
    health: list[ProjectHealth] = []
    rows: list[RagRow] = []
    messages: list[OutboxRequest] = []
    breaches = 0
    with uow() as tx:
        inputs = tx.monitoring.monitor_inputs(keys, as_of)
        templates: dict[tuple[str, int], LifecycleTemplate] = {}
        pending: list[tuple[MonitorInput, Breach, int]] = []
        for item in inputs:
            project = item.project
            pinned = (project.template_id, project.template_version)
            if pinned not in templates:
                stored = tx.templates.get_template(*pinned)
                if stored is None:
                    continue
                templates[pinned] = stored.template
            assessed = assess(item, templates[pinned], as_of)
            colours = [rag for rag, _, _ in assessed.dimensions]
            whole = overall(colours)
            rows += [
                RagRow(
                    project_key=project.key,
                    as_of=as_of,
                    dimension=rag.dimension.value,
                    rag=rag.rag.value,
                    deviation=rag.deviation,
                    allowance=rag.allowance,
                )
                for rag in colours
            ]
            rows.append(RagRow(project_key=project.key, as_of=as_of, dimension="overall", rag=whole.value))
            for _, breach, evidence_as_of in assessed.dimensions:
                if breach is None:
                    continue
                breaches += 1
                latest = item.latest_exceptions.get(f"{breach.scope}:{breach.dimension.value}")
                seq = next_sequence(breach, latest, evidence_as_of=evidence_as_of)
                if seq is not None:
                    pending.append((item, breach, seq))
            cost, time = assessed.cost[0], assessed.time[0]
            health.append(
                ProjectHealth(
                    project_key=project.key,
                    overall=whole,
                    cost=cost.rag,
                    cost_deviation=None if cost.deviation is None else str(cost.deviation),
                    cost_allowance=None if cost.allowance is None else str(cost.allowance),
                    time=time.rag,
                    time_deviation=None if time.deviation is None else str(time.deviation),
                    time_allowance=None if time.allowance is None else str(time.allowance),
                    forecast_finish=assessed.forecast_finish,
                    quality=assessed.quality[0].rag,
                    risk=assessed.risk[0].rag,
                    raised=0,
                )
            )
        owners = tx.people.get_people({b.owner_id for _, b, _ in pending if b.owner_id})
        records = [
            (item, breach, ToleranceException(id=uuid4(), seq=seq, raised_at=now, **breach.model_dump()))
            for item, breach, seq in pending
        ]
        inserted = tx.tolerances.add_exceptions([record for _, _, record in records])
        for item, breach, record in records:
            if record.id not in inserted:
                continue  # another scan raised this one first
            owner = owners.get(record.owner_id or "")
            subject = f"{record.project_key}:{record.scope}:{record.dimension.value}:{record.seq}"
            notice = _notice(item.project, record, owner.name if owner else None)
            messages += (
                messages_for(owner, notice, subject) if owner is not None else [org_notice(notice, subject, ("pmo",))]
            )
            tx.append_audit(
                actor=SYSTEM,
                action="exception.raised",
                entity=f"project:{record.project_key}",
                payload={"exception": str(record.id), "seq": record.seq}
                | breach.model_dump(mode="json", exclude={"project_key"}),
                at=now,
            )
            raised.append(record)
        tx.tolerances.record_rag(rows, now=now)
        tx.enqueue(messages, now=now)
        tx.commit()
    raised_keys = {r.project_key for r in raised}
    return ScanReport(
        scanned=len(health),
        breaches=breaches,
        raised=tuple(raised),
        health=tuple(
            h.model_copy(update={"raised": sum(r.project_key == h.project_key for r in raised)})
            if h.project_key in raised_keys
            else h.model_copy(update={"raised": 0})
            for h in health
        ),
    )


def active_projects(*, uow: UowFactory) -> list[str]:
    """The keys of every active project, in order (what one monitor run scans, chunk by chunk)."""
    with uow() as tx:
        return tx.projects.active_project_keys()


def rag_history(key: str, *, uow: UowFactory) -> list[RagRow]:
    """A project's recorded RAG, oldest first."""
    with uow() as tx:
        return tx.tolerances.rag_history(key)


SHOWN_DIMENSIONS = ("time", "cost", "quality", "risk", "overall")
"""What the monitor colours, in the order pages and reports show it (scope and benefits are not forecast)."""
HEALTH_DAYS = 10
"""How many recorded days a project's RAG history shows."""


class DimensionStatus(Result):
    """One dimension's latest recorded colour, what it consumed, and whether its deviation grew two periods."""

    dimension: str
    rag: Rag
    as_of: date | None = None
    deviation: Decimal | None = None
    allowance: Decimal | None = None
    trend_adverse: bool = False


class RagDay(Result):
    """The colours recorded on one day, per dimension."""

    as_of: date
    colours: dict[str, Rag]


class ProjectRag(Result):
    """A project's computed RAG for pages and the API: latest per dimension, recent days, open exceptions."""

    dimensions: tuple[DimensionStatus, ...]
    history: tuple[RagDay, ...]
    """The last ``HEALTH_DAYS`` recorded days, oldest first."""
    open_exceptions: tuple[ToleranceException, ...]


def project_rag(key: str, *, uow: UowFactory) -> ProjectRag:
    """What the monitor last said about a project, with its recent history and open exceptions (one read)."""
    with uow() as tx:
        require_project(tx, key)
        rows = tx.tolerances.rag_history(key)
        open_exceptions = tx.tolerances.exceptions(project_key=key, status="open")
    by_dimension: dict[str, list[RagRow]] = {}
    days: dict[date, dict[str, Rag]] = {}
    for row in rows:
        by_dimension.setdefault(row.dimension, []).append(row)
        days.setdefault(row.as_of, {})[row.dimension] = Rag(row.rag)
    statuses = []
    for dimension in SHOWN_DIMENSIONS:
        found = by_dimension.get(dimension)
        if not found:
            statuses.append(DimensionStatus(dimension=dimension, rag=Rag.NONE))
            continue
        last = found[-1]
        deviations = [r.deviation for r in found[-3:] if r.deviation is not None]
        statuses.append(
            DimensionStatus(
                dimension=dimension,
                rag=Rag(last.rag),
                as_of=last.as_of,
                deviation=last.deviation,
                allowance=last.allowance,
                trend_adverse=len(deviations) == 3 and adverse_trend(deviations),
            )
        )
    recent = sorted(days)[-HEALTH_DAYS:]
    return ProjectRag(
        dimensions=tuple(statuses),
        history=tuple(RagDay(as_of=day, colours=days[day]) for day in recent),
        open_exceptions=tuple(open_exceptions),
    )


WARN_WORKING_DAYS = 5
"""How many working days ahead of a gate date the manager hears that evidence is still missing."""


class GateDateReport(Result):
    """What the monitor does about gates, besides RAG: reviews to open and managers warned."""

    ready: tuple[str, ...] = ()
    """Projects whose gate says ``auto_review: when_ready`` and whose check recommends GO or CONDITIONAL_GO."""
    due: tuple[str, ...] = ()
    """Projects whose gate says ``auto_review: on_date`` and whose gate date has come (each once per date)."""
    warned: tuple[str, ...] = ()
    """Projects whose manager was warned that evidence is missing ahead of the gate date (once per date)."""


def gate_actions(
    keys: Sequence[str],
    *,
    uow: UowFactory,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None = None,
) -> GateDateReport:
    """Decide which gate reviews the monitor opens and which managers it warns, for one chunk of projects.

    A project's **gate date** is its open milestone whose id is the current gate's id (``phasegate milestone
    add KEY GATE_ID --name ... --due DATE``): the schedule already holds it, so it is not kept twice.

    - ``auto_review: when_ready``: the check recommends GO or CONDITIONAL_GO and no round is open. Why not any
      recommendation but NOT_READY: a project the engine would send back (RECYCLE, KILL) is off track, which
      exceptions report; re-opening its review on every scan right after the gatekeepers recycled it on the
      same evidence would only repeat their decision.
    - ``auto_review: on_date``: the gate date has come, no round is open and the gate has not been reviewed
      since that date; so once per gate date (the review itself says NOT_READY, and tells the team what is
      missing, if it is not), and a crash before the review leaves it due for the next scan.
    - ahead of a gate date (``WARN_WORKING_DAYS`` working days of the template's calendar, or fewer) with the
      check NOT_READY: the manager hears what is missing, once per gate date.

    Only projects with such a gate or a gate date are evaluated, so the cost stays with them.
    """
    today = now.date()
    ready_candidates: list[str] = []
    warn_candidates: list[tuple[str, str, date, int]] = []
    due: list[str] = []
    dated: list[tuple[str, str, date]] = []
    with uow() as tx:
        templates: dict[tuple[str, int], LifecycleTemplate] = {}
        for project, dates in tx.monitoring.gate_schedule(keys):
            pinned = (project.template_id, project.template_version)
            if pinned not in templates:
                stored = tx.templates.get_template(*pinned)
                if stored is None:
                    continue
                templates[pinned] = stored.template
            template = templates[pinned]
            gate = template.gate_after(project.stage_id)
            if gate is None:
                continue
            gate_date = dates.get(gate.id)
            if gate.auto_review is None and gate_date is None:
                continue
            if tx.reviews.open_rounds(project.key):
                continue
            if gate.auto_review == "when_ready":
                ready_candidates.append(project.key)
            if gate_date is None:
                continue
            if gate.auto_review == "on_date" and gate_date <= today:
                dated.append((project.key, gate.id, gate_date))
                continue
            left = working_days(WorkingCalendar.from_def(template.calendar), today, gate_date)
            if today <= gate_date and left <= WARN_WORKING_DAYS:
                warn_candidates.append((project.key, gate.id, gate_date, left))
        # The review row is the record that the date's review happened, not a step claimed before it: a
        # monitor that dies between deciding and reviewing leaves no review, so the next scan opens it.
        reviewed = tx.reviews.last_reviewed([key for key, _, _ in dated])
        for key, gate_id, gate_date in dated:
            last = reviewed.get((key, gate_id))
            if last is None or last.date() < gate_date:
                due.append(key)
        tx.commit()
    ready = []
    for key in ready_candidates:
        found = check_gate(key, uow=uow, now=now, probe=probe, registry=registry)
        if found.evaluation.recommendation in (Recommendation.GO, Recommendation.CONDITIONAL_GO):
            ready.append(key)
    warned = []
    for key, gate_id, gate_date, left in warn_candidates:
        found = check_gate(key, uow=uow, now=now, probe=probe, registry=registry)
        if found.evaluation.recommendation is Recommendation.NOT_READY and _warn(
            key, gate_id, gate_date, left, found.evaluation, uow=uow, now=now
        ):
            warned.append(key)
    return GateDateReport(ready=tuple(ready), due=tuple(due), warned=tuple(warned))


def _warn(
    key: str, gate_id: str, gate_date: date, left: int, evaluation: Evaluation, *, uow: UowFactory, now: datetime
) -> bool:
    """Tell the manager what is missing ahead of the gate date, once per date (one transaction)."""
    with uow() as tx:
        project = tx.projects.get_project(key)
        stored = tx.templates.get_template(project.template_id, project.template_version) if project else None
        if project is None or stored is None:
            return False
        subject = f"gate-date:{key}:{gate_id}:{gate_date}"
        if not tx.claim_step(subject, "evidence-warning", now=now):
            return False
        gate = stored.template.gate(gate_id)
        manager = tx.people.get_person(project.manager_id)
        warning = EvidenceWarning(
            project_key=project.key,
            project_name=project.name,
            gate_id=gate_id,
            gate_name=gate.name if gate else gate_id,
            gate_name_zh=gate.name_zh if gate else None,
            gate_date=gate_date.isoformat(),
            working_days_left=left,
            criteria=criteria_context(evaluation),
        )
        if manager is not None:
            tx.enqueue(messages_for(manager, warning, subject), now=now)
        tx.append_audit(
            actor=SYSTEM,
            action="gate.evidence_warning",
            entity=f"project:{key}",
            payload={"gate": gate_id, "gate_date": gate_date.isoformat(), "working_days_left": left},
            at=now,
        )
        tx.commit()
    return True

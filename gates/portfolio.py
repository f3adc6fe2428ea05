"""The portfolio report to management: one model, computed from plain facts, that every format renders.

Why pure and sectioned: the HTML, XLSX and PDF renderings and the web page must show the same numbers, so they
all render this one model; each section is computed by its own small function.

Two kinds of RAG are shown, because they answer different questions. The EVM bands the dashboard always had:
budget from CPI, schedule from SPI (``gates.evm.rag_band``), the worse of the two as a project's band in the RAG
trend. And the **monitor's RAG per dimension** (time, cost, quality, risk and overall), each from how much of the
project's own tolerance its forecast consumes (``gates.rag``), as the ``portfolio-monitor`` flow last recorded it
on or before the period's end; ``none`` where the monitor has not recorded one. Open exceptions and conditions
are counted as they stand now; the exceptions of the period are those raised or decided within it.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from phasegate.gates.evm import Band, compute, rag_band
from phasegate.gates.maturity import MaturityReport
from phasegate.gates.prioritisation import Proposal
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import EvmSnapshot
from phasegate.gates.vocabulary.template import LifecycleTemplate

TREND_WEEKS = 8
CURVE_POINTS = 26
TOP_RISKS = 10
PRINTED_ROWS = 100
"""A printed report's portfolio table lists every project up to this many; beyond, those needing attention."""
MONITORED = ("time", "cost", "quality", "risk", "overall")
"""The dimensions the monitor forecasts and colours, in the order the table shows them (scope and benefits
tolerances are recorded but not forecast: ``gates.usecases.monitoring``)."""

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A reporting period: an ISO week (``2026-W48``) or a calendar month (``2026-11``), both ends inclusive."""

    label: str
    start: date
    end: date


def parse_period(text: str, *, field: str = "--period") -> Period:
    """The period named by ``text``, or ``InputError`` naming ``field`` (the option or query parameter the person
    typed it in) and saying what is allowed."""
    value = text.strip()
    if week := _WEEK.match(value):
        year, number = int(week.group(1)), int(week.group(2))
        try:
            start = date.fromisocalendar(year, number, 1)
        except ValueError:
            raise InputError(f"{field}: {text!r}: {year} has no ISO week {number}") from None
        return Period(label=value, start=start, end=start + timedelta(days=6))
    if month := _MONTH.match(value):
        year, number = int(month.group(1)), int(month.group(2))
        if not 1 <= number <= 12:
            raise InputError(f"{field}: {text!r}: month must be 01 to 12")
        start = date(year, number, 1)
        following = date(year + number // 12, number % 12 + 1, 1)
        return Period(label=value, start=start, end=following - timedelta(days=1))
    raise InputError(f"{field}: {text!r} is not a period; use an ISO week such as 2026-W48 or a month such as 2026-11")


def week_of(day: date) -> Period:
    year, number, _ = day.isocalendar()
    return parse_period(f"{year}-W{number:02d}")


# --------------------------------------------------------------------------------------------------- facts in
@dataclass(frozen=True)
class ProjectFact:
    key: str
    name: str
    template_id: str
    template_version: int
    status: str
    stage_id: str
    sponsor_id: str
    sponsor_name: str
    bac: Decimal


@dataclass(frozen=True)
class EvmFact:
    project_key: str
    as_of: date
    pv: Decimal | None
    ev: Decimal | None
    ac: Decimal | None


@dataclass(frozen=True)
class OpenRoundFact:
    project_key: str
    gate_id: str
    due_at: datetime | None


@dataclass(frozen=True)
class DecisionFact:
    project_key: str
    gate_id: str
    decision: str
    decided_at: datetime
    decided_by: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class RiskFact:
    project_key: str
    id: str
    title: str
    owner: str | None
    probability: int
    impact: int


@dataclass(frozen=True)
class RagFact:
    """The monitor's latest colour of one project's dimension (or ``overall``) on or before the period's end."""

    project_key: str
    dimension: str
    as_of: date
    rag: str


@dataclass(frozen=True)
class ExceptionFact:
    """A tolerance exception raised or decided within the period."""

    project_key: str
    dimension: str
    scope: str
    level: str
    owner_id: str | None
    baseline: Decimal
    forecast: Decimal
    allowance: Decimal
    deviation: Decimal
    raised_at: datetime
    status: str
    decision: str | None
    decided_at: datetime | None
    decided_by: str | None


@dataclass(frozen=True)
class PortfolioFacts:
    """What the read model returns for a period: a handful of set-based queries, nothing computed."""

    projects: tuple[ProjectFact, ...] = ()
    evm: tuple[EvmFact, ...] = ()
    """Every status report up to the period's end, PV filled from the time-phased baseline where missing."""
    open_rounds: tuple[OpenRoundFact, ...] = ()
    open_conditions: Mapping[str, int] = field(default_factory=dict)
    decisions: tuple[DecisionFact, ...] = ()
    """Decisions taken within the period."""
    risks: tuple[RiskFact, ...] = ()
    """Open risks."""
    value_scores: Mapping[str, float] = field(default_factory=dict)
    """Each project's mean scorecard score (0 to 10 scale as scored), where gatekeepers scored it."""
    rag: tuple[RagFact, ...] = ()
    """The monitor's latest RAG per project and dimension on or before the period's end."""
    open_exceptions: Mapping[str, int] = field(default_factory=dict)
    exceptions: tuple[ExceptionFact, ...] = ()
    """Exceptions raised or decided within the period."""


# ------------------------------------------------------------------------------------------------ model out
@dataclass(frozen=True)
class PortfolioRow:
    key: str
    name: str
    template_id: str
    stage_id: str
    stage_name: str
    stage_name_zh: str
    status: str
    sponsor: str
    as_of: date | None
    cpi: Decimal | None
    spi: Decimal | None
    eac: Decimal | None
    bac: Decimal
    budget_rag: Band
    schedule_rag: Band
    next_gate: str | None
    next_gate_due: date | None
    open_conditions: int
    open_exceptions: int = 0
    rag_time: str = "none"
    rag_cost: str = "none"
    rag_quality: str = "none"
    rag_risk: str = "none"
    rag_overall: str = "none"
    """The monitor's RAG per dimension (``none``: not recorded, or no tolerance to consume)."""


@dataclass(frozen=True)
class FunnelStage:
    template_id: str
    stage_id: str
    name: str
    name_zh: str
    count: int


@dataclass(frozen=True)
class RagWeek:
    week_end: date
    green: int
    amber: int
    red: int
    unknown: int


@dataclass(frozen=True)
class CurvePoint:
    on: date
    pv: Decimal
    ev: Decimal
    ac: Decimal


@dataclass(frozen=True)
class Bubble:
    key: str
    value: float
    risk: int
    bac: Decimal
    band: Band


@dataclass(frozen=True)
class PortfolioReport:
    period: Period
    generated_at: datetime
    totals: Mapping[str, int]
    rows: tuple[PortfolioRow, ...]
    funnel: tuple[FunnelStage, ...]
    rag_trend: tuple[RagWeek, ...]
    s_curve: tuple[CurvePoint, ...]
    bubbles: tuple[Bubble, ...]
    decisions: tuple[DecisionFact, ...]
    top_risks: tuple[RiskFact, ...]
    exceptions: tuple[ExceptionFact, ...] = ()
    maturity: MaturityReport | None = None
    """The maturity score of the quarter the period ends in (``gates.maturity``)."""
    prioritisation: Proposal | None = None
    """The proposed portfolio within a budget, when the report was asked for one (``gates.prioritisation``)."""


_WORST: dict[Band, int] = {"red": 0, "amber": 1, "green": 2, "unknown": 3}


def overall(budget: Band, schedule: Band) -> Band:
    """The worse of two bands; unknown only when both are unknown."""
    known = [b for b in (budget, schedule) if b != "unknown"]
    return min(known, key=_WORST.__getitem__) if known else "unknown"


def _figures(project: ProjectFact, report: EvmFact | None) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    if report is None:
        return None, None, None
    try:
        figures = compute(EvmSnapshot(as_of=report.as_of, bac=project.bac, pv=report.pv, ev=report.ev, ac=report.ac))
    except ValueError:
        return None, None, None
    return figures.cpi, figures.spi, figures.eac_cpi


class _History:
    """Each project's status reports by date, to find the latest one on or before any day."""

    def __init__(self, evm: Iterable[EvmFact]) -> None:
        self._by: dict[str, list[EvmFact]] = defaultdict(list)
        for report in sorted(evm, key=lambda r: r.as_of):
            self._by[report.project_key].append(report)
        self._dates = {key: [r.as_of for r in reports] for key, reports in self._by.items()}

    def on(self, key: str, day: date) -> EvmFact | None:
        found = bisect.bisect_right(self._dates.get(key, []), day)
        return self._by[key][found - 1] if found else None

    def first(self) -> date | None:
        return min((reports[0].as_of for reports in self._by.values()), default=None)


def portfolio_rows(
    facts: PortfolioFacts, templates: Mapping[tuple[str, int], LifecycleTemplate], history: _History, end: date
) -> tuple[PortfolioRow, ...]:
    rounds: dict[str, OpenRoundFact] = {}
    for r in facts.open_rounds:
        rounds.setdefault(r.project_key, r)
    colours: dict[str, dict[str, str]] = defaultdict(dict)
    for fact in sorted(facts.rag, key=lambda f: f.as_of):
        colours[fact.project_key][fact.dimension] = fact.rag  # the latest wins
    rows = []
    for p in sorted(facts.projects, key=lambda p: p.key):
        template = templates.get((p.template_id, p.template_version))
        stage = next((s for s in template.stages if s.id == p.stage_id), None) if template else None
        gate = template.gate_after(p.stage_id) if template is not None and p.status == "active" else None
        report = history.on(p.key, end)
        cpi, spi, eac = _figures(p, report)
        waiting = rounds.get(p.key)
        rows.append(
            PortfolioRow(
                key=p.key,
                name=p.name,
                template_id=p.template_id,
                stage_id=p.stage_id,
                stage_name=stage.name if stage else p.stage_id,
                stage_name_zh=(stage.name_zh or stage.name) if stage else p.stage_id,
                status=p.status,
                sponsor=p.sponsor_name,
                as_of=report.as_of if report else None,
                cpi=cpi,
                spi=spi,
                eac=eac,
                bac=p.bac,
                budget_rag=rag_band(cpi),
                schedule_rag=rag_band(spi),
                next_gate=waiting.gate_id if waiting else (gate.id if gate else None),
                next_gate_due=waiting.due_at.date() if waiting and waiting.due_at else None,
                open_conditions=facts.open_conditions.get(p.key, 0),
                open_exceptions=facts.open_exceptions.get(p.key, 0),
                **{f"rag_{d}": colours[p.key].get(d, "none") for d in MONITORED},
            )
        )
    return tuple(rows)


def funnel(facts: PortfolioFacts, templates: Mapping[tuple[str, int], LifecycleTemplate]) -> tuple[FunnelStage, ...]:
    """Active projects per stage, per template in use, in the template's stage order."""
    counts = Counter((p.template_id, p.stage_id) for p in facts.projects if p.status == "active")
    newest: dict[str, LifecycleTemplate] = {}
    for (template_id, _), template in sorted(templates.items()):
        newest[template_id] = template
    used = sorted({p.template_id for p in facts.projects} & set(newest))
    return tuple(
        FunnelStage(t, s.id, s.name, s.name_zh or s.name, counts[(t, s.id)]) for t in used for s in newest[t].stages
    )


def rag_trend(facts: PortfolioFacts, history: _History, end: date, weeks: int = TREND_WEEKS) -> tuple[RagWeek, ...]:
    """Overall EVM band of the active projects at each of the last ``weeks`` week ends up to ``end``."""
    by_key = {p.key: p for p in facts.projects if p.status == "active"}
    trend = []
    for back in range(weeks - 1, -1, -1):
        day = end - timedelta(weeks=back)
        bands: Counter[str] = Counter()
        for p in by_key.values():
            cpi, spi, _ = _figures(p, history.on(p.key, day))
            bands[overall(rag_band(cpi), rag_band(spi))] += 1
        trend.append(RagWeek(day, bands["green"], bands["amber"], bands["red"], bands["unknown"]))
    return tuple(trend)


def s_curve(facts: PortfolioFacts, history: _History, end: date, points: int = CURVE_POINTS) -> tuple[CurvePoint, ...]:
    """Portfolio PV, EV and AC (sums of each project's latest report) at weekly steps up to ``end``."""
    first = history.first()
    if first is None or first > end:
        return ()
    weeks = min(points - 1, (end - first).days // 7)
    curve = []
    for back in range(weeks, -1, -1):
        day = end - timedelta(weeks=back)
        pv = ev = ac = Decimal(0)
        for p in facts.projects:
            report = history.on(p.key, day)
            if report is not None:
                pv += report.pv or 0
                ev += report.ev or 0
                ac += report.ac or 0
        curve.append(CurvePoint(day, pv, ev, ac))
    return tuple(curve)


def bubbles(facts: PortfolioFacts, rows: Sequence[PortfolioRow]) -> tuple[Bubble, ...]:
    """Portfolio balance: value (mean scorecard score) against risk (sum of probability x impact of open risks),
    sized by BAC; only projects still in the portfolio (active or on hold) that gatekeepers scored are placed."""
    exposure: Counter[str] = Counter()
    for r in facts.risks:
        exposure[r.project_key] += r.probability * r.impact
    return tuple(
        Bubble(
            row.key, facts.value_scores[row.key], exposure[row.key], row.bac, overall(row.budget_rag, row.schedule_rag)
        )
        for row in rows
        if row.status in ("active", "on_hold") and row.key in facts.value_scores
    )


def top_risks(facts: PortfolioFacts, limit: int = TOP_RISKS) -> tuple[RiskFact, ...]:
    return tuple(sorted(facts.risks, key=lambda r: (-r.probability * r.impact, r.project_key, r.id))[:limit])


def needing_attention(rows: Sequence[PortfolioRow], limit: int = PRINTED_ROWS) -> tuple[PortfolioRow, ...]:
    """The projects a board reads first when the whole portfolio does not fit on paper (management by exception).

    Red anywhere (the monitor's overall colour, the EVM budget or schedule band) before amber, then those whose
    only flag is an open exception or condition; most open exceptions first, then by key. A project with nothing
    to report is left out, and at most ``limit`` are kept: the HTML and XLSX files carry every project.
    """

    def severity(row: PortfolioRow) -> int | None:
        colours = {row.rag_overall, row.budget_rag, row.schedule_rag}
        if "red" in colours:
            return 0
        if "amber" in colours:
            return 1
        return 2 if row.open_exceptions or row.open_conditions else None

    flagged = [(rank, row) for row in rows if (rank := severity(row)) is not None]
    flagged.sort(key=lambda item: (item[0], -item[1].open_exceptions, -item[1].open_conditions, item[1].key))
    return tuple(row for _, row in flagged[:limit])


def portfolio_report(
    facts: PortfolioFacts, *, templates: Sequence[LifecycleTemplate], period: Period, generated_at: datetime
) -> PortfolioReport:
    """The report of ``period``: EVM figures as of its last day, its decisions, open risks and conditions now."""
    by_version = {(t.id, t.version): t for t in templates}
    history = _History(facts.evm)
    rows = portfolio_rows(facts, by_version, history, period.end)
    totals = Counter(p.status for p in facts.projects)
    return PortfolioReport(
        period=period,
        generated_at=generated_at,
        totals={"projects": len(facts.projects), **dict(sorted(totals.items()))},
        rows=rows,
        funnel=funnel(facts, by_version),
        rag_trend=rag_trend(facts, history, period.end),
        s_curve=s_curve(facts, history, period.end),
        bubbles=bubbles(facts, rows),
        decisions=tuple(sorted(facts.decisions, key=lambda d: (d.decided_at, d.project_key))),
        top_risks=top_risks(facts),
        exceptions=tuple(sorted(facts.exceptions, key=lambda e: (e.raised_at, e.project_key, e.dimension))),
    )

"""Strategic reads for management: the proposed portfolio within a budget (``gates.prioritisation``) and the
maturity score (``gates.maturity``).

Why use cases for reads: every door (CLI, API, web page, portfolio report) asks for the same figures with the
same check (``Act.READ``), and a refused read is audited like any refused act. Facts come from read models in
one transaction; the computing is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from phasegate.gates.authorization import Act
from phasegate.gates.capacity import Capacities, months_between, next_month
from phasegate.gates.maturity import MaturityReport, maturity, parse_quarter, quarter_of
from phasegate.gates.prioritisation import (
    CANDIDATE_STATUSES,
    CapacityPlan,
    PriorityFact,
    Proposal,
    candidates_from,
    parse_budget,
    prioritise,
)
from phasegate.gates.vocabulary.identity import Actor
from phasegate.usecases.guard import permit, refusals_audited
from phasegate.usecases.ports import UnitOfWork
from phasegate.usecases.resources import MAX_MONTHS
from phasegate.usecases.result import UowFactory

PLANNING_MONTHS = MAX_MONTHS
"""The planning window: this month and the months after it, as far as the allocation view can look."""


@refusals_audited(Act.READ)
def prioritise_portfolio(
    *,
    budget: str,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    reader: UowFactory | None = None,
    with_capacity: bool | None = None,
) -> Proposal:
    """Rank the projects still in the portfolio and propose the best set within ``budget`` (exact selection).

    ``with_capacity``: None (the default) constrains by capacity too whenever a demand plan is recorded for a
    candidate in the planning window, since a PMO never wants a proposal that books people twice; False asks
    for budget only (to compare); True asks for capacity even with no plan recorded (then nothing is
    constrained, and the note says so). ``reader``, when given, serves the reads (a page never waits for a
    writer); ``uow`` audits a refusal at ``now``."""
    amount = parse_budget(budget)
    with (reader or uow)() as tx:
        permit(tx, actor, Act.READ, entity="report:prioritisation")
        facts = tx.strategy.priority_facts()
        plan = capacity_plan(tx, facts, now.date(), with_capacity)
    return prioritise(candidates_from(facts), amount, plan)


def capacity_plan(
    tx: UnitOfWork, facts: Sequence[PriorityFact], today: date, with_capacity: bool | None = None
) -> CapacityPlan | None:
    """The candidates' remaining demand (months from this one on, every stage still in it) against each role's
    capacity in those months (``gates.capacity``); None for budget only (``with_capacity`` False, or None and
    no demand recorded). Every active project is a candidate, so nothing is committed outside the selection:
    the whole capacity is there to share."""
    if with_capacity is False:
        return None
    months = months_between(date(today.year, today.month, 1), _months_on(today, PLANNING_MONTHS - 1))
    keys = {f.key for f in facts if f.status in CANDIDATE_STATUSES}
    lines = [line for line in tx.resources.demand(first=months[0], last=months[-1]) if line.project_key in keys]
    wanted = sorted({line.month for line in lines}) or months[:1]
    capacities = Capacities.of(
        tx.resources.resource_profiles(), tx.resources.capacity_overrides(wanted[0], wanted[-1]), wanted
    )
    plan = CapacityPlan.of(capacities, lines, keys)
    return None if with_capacity is None and not plan.demand else plan


def _months_on(today: date, count: int) -> date:
    month = date(today.year, today.month, 1)
    for _ in range(count):
        month = next_month(month)
    return month


@refusals_audited(Act.READ)
def maturity_report(
    *,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    quarter: str | None = None,
    reader: UowFactory | None = None,
) -> MaturityReport:
    """The maturity score of ``quarter`` (``2026-Q4``; default: the current one) with the trend of the quarters
    before it.

    ``reader``, when given, serves the reads (a page never waits for a writer); ``uow`` audits a refusal."""
    chosen = parse_quarter(quarter) if quarter else quarter_of(now.date())
    with (reader or uow)() as tx:
        permit(tx, actor, Act.READ, entity=f"report:maturity/{chosen.label}")
        templates = [stored.template for stored in tx.templates.list_templates()]
        gate = tx.reports.gate_facts()
        facts = tx.strategy.maturity_facts()
    return maturity(gate, facts, templates=templates, quarter=chosen, today=now.date())

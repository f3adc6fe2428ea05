"""Strategic reads for management: the proposed portfolio within a budget (``gates.prioritisation``) and the
maturity score (``gates.maturity``).

Why use cases for reads: every door (CLI, API, web page, portfolio report) asks for the same figures with the
same check (``Act.READ``), and a refused read is audited like any refused act. Facts come from read models in
one transaction; the computing is pure.
"""

from __future__ import annotations

from datetime import datetime

from phasegate.gates.authorization import Act
from phasegate.gates.maturity import MaturityReport, maturity, parse_quarter, quarter_of
from phasegate.gates.prioritisation import Proposal, candidates_from, parse_budget, prioritise
from phasegate.gates.vocabulary.identity import Actor
from phasegate.usecases.guard import permit, refusals_audited
from phasegate.usecases.result import UowFactory


@refusals_audited(Act.READ)
def prioritise_portfolio(
    *, budget: str, actor: Actor, uow: UowFactory, now: datetime, reader: UowFactory | None = None
) -> Proposal:
    """Rank the projects still in the portfolio and propose the best set within ``budget`` (exact selection).

    ``reader``, when given, serves the reads (a page never waits for a writer); ``uow`` audits a refusal at
    ``now``."""
    amount = parse_budget(budget)
    with (reader or uow)() as tx:
        permit(tx, actor, Act.READ, entity="report:prioritisation")
        facts = tx.strategy.priority_facts()
    return prioritise(candidates_from(facts), amount)


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

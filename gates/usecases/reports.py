"""Reports to management: gate analytics and the portfolio report.

Why a use case for a read: every door (CLI, web page, scheduled flow) asks for the same figures with the same
check (``Act.READ``), and a refused read is audited like any refused act. The figures come from a read model
(``UnitOfWork.gate_facts``) and are computed by the pure ``gates.analytics``.
"""

from __future__ import annotations

from datetime import datetime

from gates.analytics import GateAnalytics, gate_analytics
from gates.authorization import Act
from gates.guard import permit, refusals_audited
from gates.portfolio import PortfolioReport, parse_period
from gates.portfolio import portfolio_report as build_portfolio_report
from gates.usecases.result import UowFactory
from models.errors import InputError
from models.identity import Actor


@refusals_audited(Act.READ)
def gate_report(*, actor: Actor, uow: UowFactory, now: datetime, template_id: str | None = None) -> GateAnalytics:
    """Per gate and template: outcome rates, first-time pass, decision latency against SLA, cycle time per
    stage, conditions closed on time and reviews opened automatically or by hand (``gates.analytics``)."""
    with uow() as tx:
        permit(tx, actor, Act.READ, entity="report:gates")
        templates = [stored.template for stored in tx.list_templates()]
        if template_id is not None and template_id not in {t.id for t in templates}:
            known = ", ".join(sorted({t.id for t in templates})) or "(none published)"
            raise InputError(f"--template: no template {template_id!r}; published templates are: {known}")
        facts = tx.gate_facts()
    return gate_analytics(facts, templates=templates, today=now.date(), template_id=template_id)


@refusals_audited(Act.READ)
def portfolio_report(*, period: str, actor: Actor, uow: UowFactory, now: datetime) -> PortfolioReport:
    """The portfolio report of ``period`` (an ISO week ``2026-W48`` or a month ``2026-11``; ``gates.portfolio``)."""
    parsed = parse_period(period)
    with uow() as tx:
        permit(tx, actor, Act.READ, entity=f"report:portfolio/{parsed.label}")
        templates = [stored.template for stored in tx.list_templates()]
        facts = tx.portfolio_facts(parsed.start, parsed.end)
    return build_portfolio_report(facts, templates=templates, period=parsed, generated_at=now)

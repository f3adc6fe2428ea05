"""Reports to management: gate analytics and the portfolio report.

Why a use case for a read: every door (CLI, web page, scheduled flow) asks for the same figures with the same
check (``Act.READ``), and a refused read is audited like any refused act. The figures come from a read model
(``UnitOfWork.gate_facts``) and are computed by the pure ``gates.analytics``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from phasegate.gates.analytics import GateAnalytics, gate_analytics
from phasegate.gates.authorization import Act
from phasegate.gates.maturity import maturity, quarter_of
from phasegate.gates.portfolio import PortfolioReport, parse_period
from phasegate.gates.portfolio import portfolio_report as build_portfolio_report
from phasegate.gates.prioritisation import candidates_from, parse_budget, prioritise
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.notices import FileAttachment, PortfolioReportReady
from phasegate.gates.vocabulary.snapshots import ReportRunRecord
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.memo import Memo
from phasegate.usecases.messages import org_notice
from phasegate.usecases.result import UowFactory
from phasegate.usecases.strategy import capacity_plan


@refusals_audited(Act.READ)
def gate_report(
    *,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    template_id: str | None = None,
    reader: UowFactory | None = None,
    memo: Memo | None = None,
    version: str | None = None,
) -> GateAnalytics:
    """Per gate and template: outcome rates, first-time pass, decision latency against SLA, cycle time per
    stage, conditions closed on time and reviews opened automatically or by hand (``gates.analytics``).

    ``reader``, when given, serves the reads (a page never waits for a writer); ``uow`` audits a refusal.
    ``memo`` and ``version`` (a stamp read before this call, ``usecases.memo``) reuse the analytics computed
    from the same committed state on the same day; who asks is checked on every call."""
    with (reader or uow)() as tx:
        permit(tx, actor, Act.READ, entity="report:gates")

        def build() -> GateAnalytics:  # all of it kept per state and day: a page reads nothing more than ``permit``
            templates = [stored.template for stored in tx.templates.list_templates()]
            if template_id is not None and template_id not in {t.id for t in templates}:
                known = ", ".join(sorted({t.id for t in templates})) or "(none published)"
                raise InputError(f"--template: no template {template_id!r}; published templates are: {known}")
            facts = tx.reports.gate_facts()
            return gate_analytics(facts, templates=templates, today=now.date(), template_id=template_id)

        if memo is None or version is None:
            return build()
        return memo.get(("gate_report", version, now.date(), template_id), build, version=version)


@refusals_audited(Act.READ)
def portfolio_report(
    *,
    period: str,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    reader: UowFactory | None = None,
    budget: str | None = None,
    memo: Memo | None = None,
    version: str | None = None,
    with_maturity: bool = True,
) -> PortfolioReport:
    """The portfolio report of ``period`` (an ISO week ``2026-W48`` or a month ``2026-11``; ``gates.portfolio``),
    with the maturity score of the quarter the period ends in and, given a ``budget``, the proposed portfolio
    (within capacity too whenever a demand plan is recorded, as ``prioritise_portfolio`` by default).

    ``reader``, when given, serves the reads (a page never waits for a writer); ``uow`` audits a refusal.
    ``memo`` and ``version`` (a stamp read before this call, ``usecases.memo``) reuse the report computed from
    the same committed state on the same day, with ``generated_at`` set to ``now``; who asks is checked on
    every call. ``with_maturity=False`` leaves out the maturity score (the dashboard does not show it)."""
    parsed = parse_period(period)
    amount = parse_budget(budget) if budget is not None else None
    with (reader or uow)() as tx:
        permit(tx, actor, Act.READ, entity=f"report:portfolio/{parsed.label}")

        def build() -> PortfolioReport:
            templates = [stored.template for stored in tx.templates.list_templates()]
            facts = tx.reports.portfolio_facts(parsed.start, parsed.end)
            priorities = tx.strategy.priority_facts() if amount is not None else ()
            plan = capacity_plan(tx, priorities, now.date()) if amount is not None else None
            report = build_portfolio_report(facts, templates=templates, period=parsed, generated_at=now)
            score = None
            if with_maturity:
                gate, extra = tx.reports.gate_facts(), tx.strategy.maturity_facts()
                score = maturity(gate, extra, templates=templates, quarter=quarter_of(parsed.end), today=now.date())
            proposal = prioritise(candidates_from(priorities), amount, plan) if amount is not None else None
            return dataclasses.replace(report, maturity=score, prioritisation=proposal)

        if memo is None or version is None:
            return build()
        key = ("portfolio_report", version, now.date(), parsed.label, amount, with_maturity)
        kept = memo.get(key, build, version=version)
    return dataclasses.replace(kept, generated_at=now)


class ReportSent(BaseModel):
    """What sending a period's report did: ``sent`` False when the period had been sent before (nothing queued)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    sent: bool
    run: ReportRunRecord


MANAGEMENT_TAG = "management"


@refusals_audited(Act.SEND_REPORT)
def send_portfolio_report(
    period: str,
    *,
    document: bytes,
    file_name: str,
    summary: PortfolioReportReady,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    tags: tuple[str, ...] = (MANAGEMENT_TAG,),
) -> ReportSent:
    """Queue the rendered report to the organisation's ``management`` channels, once per period.

    Why one transaction: the ``report_runs`` row (the claim on the period), the outbox rows and the audit entry
    commit together, so a crash before the commit leaves nothing (a rerun sends) and after it leaves the claim
    (a rerun finds it and sends nothing); the outbox then delivers at least once with per-target idempotency keys.
    """
    with uow() as tx:
        permit(tx, actor, Act.SEND_REPORT, entity=f"report:portfolio/{period}")
        earlier = tx.reports.report_run("portfolio", period)
        if earlier is not None:
            return ReportSent(sent=False, run=earlier)
        digest = hashlib.sha256(document).hexdigest()
        attachment = FileAttachment(
            name=file_name,
            content_type="application/pdf",
            content_base64=base64.b64encode(document).decode("ascii"),
        )
        notice = org_notice(summary.model_copy(update={"attachments": [attachment]}), period, tags)
        record = ReportRunRecord(
            kind="portfolio",
            period=period,
            created_at=now,
            created_by=audit_name(actor),
            document_sha256=digest,
            summary=summary.model_dump(mode="json", exclude={"attachments"}),
            notifications=0,
        )
        if not tx.reports.add_report_run(record):
            claimed = tx.reports.report_run("portfolio", period)
            assert claimed is not None
            return ReportSent(sent=False, run=claimed)
        queued = tx.enqueue([notice], now=now)
        tx.reports.set_report_notifications("portfolio", period, queued)
        tx.append_audit(
            actor=audit_name(actor),
            action="report.sent",
            entity=f"report:portfolio/{period}",
            payload={"period": period, "sha256": digest, "notifications": queued, "tags": list(tags)} | stamp(actor),
            at=now,
        )
        tx.commit()
    return ReportSent(sent=True, run=record.model_copy(update={"notifications": queued}))

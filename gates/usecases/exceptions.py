"""Tolerance exceptions: raised once when a forecast breaches a tolerance, routed to the level and owner that
set it, closed by that level's decision.

Why the scan is a use case and not flow code: the portfolio monitor, a test and any other door must raise the
same exceptions the same way. Raising is exactly-once by construction: the n-th exception on a project, scope
and dimension is one unique row, written in the same transaction as its notifications (the outbox) and its
audit entry, so a scan that crashes raises nothing and the next one raises it; two scans racing raise it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from gates.authorization import Act, authorize_level
from gates.exceptions import Breach, breach_of, cost_forecast, next_sequence
from gates.guard import audit_name, permit, refusals_audited, stamp
from gates.ports import UnitOfWork
from gates.tolerance import effective_tolerances, in_force
from gates.usecases.lookups import project_roles, require_project, require_template
from gates.usecases.messages import messages_for, org_notice
from gates.usecases.result import SYSTEM, Result, UowFactory
from models.enums import ProjectStatus
from models.errors import ConflictError, InputError, NotFoundError
from models.evidence import EvmSnapshot
from models.identity import Actor
from models.snapshots import BaselineRecord, OutboxRequest, ProjectSnapshot
from models.tolerance import Dimension, ExceptionDecision, ToleranceException

KIND = "tolerance_exception"


class ScanReport(Result):
    """What one scan of a chunk of projects found and raised."""

    scanned: int
    breaches: int
    raised: tuple[ToleranceException, ...]


def _cost_breach(tx: UnitOfWork, project: ProjectSnapshot, as_of: date) -> tuple[Breach, date] | None:
    """The cost breach on the latest status report up to ``as_of``, with that report's date."""
    template = require_template(tx, project.template_id, project.template_version).template
    tolerances = effective_tolerances(template, project, project_roles(tx, project), tx.tolerances(project.key))
    tolerance = in_force([t for t in tolerances if t.scope == "*"], Dimension.COST, project.stage_id)
    baseline = tx.get_baseline(project.key)
    bac = baseline.bac if baseline else project.budget
    report = tx.latest_evm_report(project.key, as_of)
    if report is None:
        return None
    planned = report.planned_value if report.planned_value is not None else tx.planned_value_at(project.key, as_of)
    evm = EvmSnapshot(
        as_of=report.as_of,
        bac=bac,
        pv=planned,
        ev=report.earned_value,
        ac=report.actual_cost,
        etc=report.estimate_to_complete,
    )
    breach = breach_of(project.key, tolerance, baseline=bac, forecast=cost_forecast(evm))
    return None if breach is None else (breach, report.as_of)


def _context(project: ProjectSnapshot, record: ToleranceException, owner_name: str | None) -> dict[str, Any]:
    return {
        "project_key": project.key,
        "project_name": project.name,
        "exception_id": str(record.id),
        "dimension": record.dimension.value,
        "scope": record.scope,
        "level": record.level.value,
        "owner": owner_name or "",
        "baseline": str(record.baseline),
        "forecast": str(record.forecast),
        "allowance": str(record.allowance),
        "deviation": str(record.deviation),
        "currency": project.currency,
        "decide_command": f"phasegate exceptions decide {record.id} --decision approve_plan|premature_close|accept "
        '--reason "..."',
    }


def raise_exceptions(keys: Sequence[str], *, uow: UowFactory, now: datetime) -> ScanReport:
    """Scan these projects (one chunk, one transaction) and raise each new breach once, with its notices."""
    raised: list[ToleranceException] = []
    breaches = 0
    scanned = 0
    with uow() as tx:
        for key in keys:
            project = tx.get_project(key)
            if project is None or project.status is not ProjectStatus.ACTIVE:
                continue
            scanned += 1
            found = _cost_breach(tx, project, now.date())
            if found is None:
                continue
            breach, evidence_as_of = found
            breaches += 1
            latest = tx.latest_exception(key, breach.scope, breach.dimension.value)
            seq = next_sequence(breach, latest, evidence_as_of=evidence_as_of)
            if seq is None:
                continue
            record = ToleranceException(id=uuid4(), seq=seq, raised_at=now, **breach.model_dump())
            if not tx.add_exception(record):
                continue  # another scan raised this one first
            owner = tx.get_person(record.owner_id) if record.owner_id else None
            subject = f"{key}:{record.scope}:{record.dimension.value}:{seq}"
            context = _context(project, record, owner.name if owner else None)
            messages: list[OutboxRequest] = (
                messages_for(owner, KIND, subject, context)
                if owner is not None
                else [org_notice(KIND, subject, context, ("pmo",))]
            )
            tx.enqueue(messages, now=now)
            tx.append_audit(
                actor=SYSTEM,
                action="exception.raised",
                entity=f"project:{key}",
                payload={"exception": str(record.id)}
                | breach.model_dump(mode="json", exclude={"project_key"})
                | {"seq": seq},
                at=now,
            )
            raised.append(record)
        tx.commit()
    return ScanReport(scanned=scanned, breaches=breaches, raised=tuple(raised))


@refusals_audited(Act.DECIDE_EXCEPTION)
def decide_exception(
    exception_id: UUID,
    decision: ExceptionDecision,
    *,
    reason: str,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    new_bac: Decimal | None = None,
) -> ToleranceException:
    """Close an open exception as the level that set the tolerance: approve the exception plan (a cost
    exception re-baselines BAC, to ``new_bac`` or else the forecast, audited), ask for a premature close, or
    accept the forecast (no new exception until it gets worse)."""
    if not reason.strip():
        raise InputError("--reason: say why; the decision on an exception is audited with it")
    with uow() as tx:
        found = tx.get_exception(exception_id, for_update=True)
        if found is None:
            raise NotFoundError(
                f"ID: unknown exception {exception_id}; see 'phasegate exceptions list'", code="exception.not_found"
            )
        project = require_project(tx, found.project_key)
        permit(tx, actor, Act.DECIDE_EXCEPTION, project=project, entity=f"exception:{exception_id}")
        authorize_level(actor, found.level, project=project)
        if found.status != "open":
            raise ConflictError(
                f"exception {exception_id} is already closed ({found.decision})", code="exception.closed"
            )
        if new_bac is not None and (decision is not ExceptionDecision.APPROVE_PLAN or found.dimension != "cost"):
            raise InputError("--bac: a new budget at completion goes with approve_plan on a cost exception only")
        payload: dict[str, Any] = {"exception": str(exception_id), "decision": decision.value, "reason": reason}
        if decision is ExceptionDecision.APPROVE_PLAN and found.dimension is Dimension.COST:
            before = tx.get_baseline(project.key)
            bac = new_bac if new_bac is not None else found.forecast
            tx.set_baseline(
                project.key,
                BaselineRecord(
                    bac=bac,
                    contingency=before.contingency if before else None,
                    contingency_used=before.contingency_used if before else None,
                ),
                now=now,
            )
            payload |= {"bac_before": str(before.bac if before else project.budget), "bac_after": str(bac)}
            tx.append_audit(
                actor=audit_name(actor),
                action="baseline.rebaselined",
                entity=f"project:{project.key}",
                payload=payload | stamp(actor),
                at=now,
            )
        tx.close_exception(exception_id, decision=decision.value, by=actor.person_id, reason=reason, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="exception.decided",
            entity=f"project:{project.key}",
            payload=payload | stamp(actor),
            at=now,
        )
        tx.commit()
    return found.model_copy(
        update={
            "status": "closed",
            "decision": decision,
            "decided_by": actor.person_id,
            "decided_at": now,
            "reason": reason,
        }
    )


def list_exceptions(
    *, uow: UowFactory, project_key: str | None = None, status: str | None = None
) -> list[ToleranceException]:
    """Exceptions, newest first; optionally one project's, optionally only open or closed ones."""
    if status not in (None, "open", "closed"):
        raise InputError(f"status: {status!r} is not allowed; allowed: open, closed")
    with uow() as tx:
        if project_key is not None:
            require_project(tx, project_key)
        return tx.exceptions(project_key=project_key, status=status)

"""Tolerance exceptions: closed by the decision of the level that set the breached tolerance, and listed.

They are raised by the portfolio scan (``usecases.monitoring``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from phasegate.gates.authorization import Act, authorize_level
from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.earned_schedule import stretch_plan
from phasegate.gates.vocabulary.errors import ConflictError, InputError, NotFoundError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.snapshots import BaselineRecord, ProjectSnapshot
from phasegate.gates.vocabulary.tolerance import Dimension, ExceptionDecision, ToleranceException
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import require_project, require_template
from phasegate.usecases.ports import UnitOfWork
from phasegate.usecases.result import UowFactory

KIND = "tolerance_exception"


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
    exception re-baselines BAC, to ``new_bac`` or else the forecast; a time exception re-times the plan to the
    forecast duration; both audited), ask for a premature close, or accept the forecast (no new exception until
    it gets worse)."""
    if not reason.strip():
        raise InputError("--reason: say why; the decision on an exception is audited with it")
    with uow() as tx:
        found = tx.tolerances.get_exception(exception_id, for_update=True)
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
            before = tx.evidence.get_baseline(project.key)
            bac = new_bac if new_bac is not None else found.forecast
            tx.evidence.set_baseline(
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
        if decision is ExceptionDecision.APPROVE_PLAN and found.dimension is Dimension.TIME:
            payload |= _reschedule(tx, project, found, actor=actor, now=now)
        tx.tolerances.close_exception(exception_id, decision=decision.value, by=actor.person_id, reason=reason, now=now)
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


def _reschedule(
    tx: UnitOfWork, project: ProjectSnapshot, found: ToleranceException, *, actor: Actor, now: datetime
) -> dict[str, Any]:
    """Approving a time exception's plan re-baselines the schedule: the planned-value curve is re-timed to finish
    at the forecast duration (``gates.earned_schedule.stretch_plan``), audited with the finish before and after."""
    template = require_template(tx, project.template_id, project.template_version).template
    calendar = WorkingCalendar.from_def(template.calendar)
    before = tx.evidence.baseline_periods(project.key)
    after = stretch_plan(before, found.forecast, calendar=calendar)
    if after is None:
        raise ConflictError(
            f"exception {found.id}: the project's plan has no start (a first row with planned value 0), so it "
            "cannot be re-timed; re-baseline it with 'phasegate baseline set' and accept the exception",
            code="exception.no_plan_start",
        )
    tx.evidence.replace_baseline_periods(project.key, after)
    tx.projects.bump_evidence_version(project.key)
    change = {"finish_before": before[-1][0].isoformat(), "finish_after": after[-1][0].isoformat()}
    tx.append_audit(
        actor=audit_name(actor),
        action="baseline.rescheduled",
        entity=f"project:{project.key}",
        payload={"exception": str(found.id)} | change | stamp(actor),
        at=now,
    )
    return change


def list_exceptions(
    *, uow: UowFactory, project_key: str | None = None, status: str | None = None
) -> list[ToleranceException]:
    """Exceptions, newest first; optionally one project's, optionally only open or closed ones."""
    if status not in (None, "open", "closed"):
        raise InputError(f"status: {status!r} is not allowed; allowed: open, closed")
    with uow() as tx:
        if project_key is not None:
            require_project(tx, project_key)
        return tx.tolerances.exceptions(project_key=project_key, status=status)

"""Conditions of CONDITIONAL_GO decisions: listing them and recording them met or missed by their verifier."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from phasegate.gates.authorization import Act
from phasegate.gates.vocabulary.errors import ConflictError, NotFoundError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.snapshots import (
    ConditionRecord,
)
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import require_project
from phasegate.usecases.result import UowFactory


def list_conditions(
    *, uow: UowFactory, project_key: str | None = None, status: str | None = None
) -> list[ConditionRecord]:
    with uow() as tx:
        return tx.conditions.conditions(project_key=project_key, status=status)


@refusals_audited(Act.VERIFY_CONDITION)
def resolve_condition(
    condition_id: UUID, *, actor: Actor, met: bool, uow: UowFactory, now: datetime
) -> ConditionRecord:
    """A named verifier (or a gatekeeper or PMO admin) marks a condition met or missed; never the project's manager."""
    by = actor.person_id
    with uow() as tx:
        found = next((c for c in tx.conditions.conditions() if c.id == condition_id), None)
        if found is None:
            raise NotFoundError(
                f"unknown condition {condition_id}; see 'phasegate conditions list'", code="condition.not_found"
            )
        permit(
            tx,
            actor,
            Act.VERIFY_CONDITION,
            project=require_project(tx, found.project_key),
            entity=f"condition:{condition_id}",
        )
        if found.status != "open":
            raise ConflictError(f"condition {condition_id} is already {found.status}", code="condition.closed")
        verifier = found.verification.removeprefix("verifier:") if found.verification.startswith("verifier:") else None
        if verifier is not None and by != verifier:
            raise PermissionDeniedError(
                f"condition {condition_id} is verified by {verifier}, not {by}", code="condition.not_verifier"
            )
        status = "met" if met else "missed"
        tx.conditions.set_condition_status(condition_id, status, by=by, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action=f"condition.{status}",
            entity=f"project:{found.project_key}",
            payload={"condition": condition_id, "text": found.text} | stamp(actor),
            at=now,
        )
        tx.commit()
    return found.model_copy(update={"status": status, "resolved_by": by})

"""Delegations: a principal lets a delegate act for them, within dates and optionally one template or gate."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from phasegate.gates.authorization import Act
from phasegate.gates.vocabulary.commands import Delegate
from phasegate.gates.vocabulary.errors import ConflictError, InputError, NotFoundError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.snapshots import (
    DelegationRecord,
)
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import require_person
from phasegate.usecases.result import UowFactory


@refusals_audited(Act.GRANT_DELEGATION)
def delegate(cmd: Delegate, *, actor: Actor, uow: UowFactory, now: datetime) -> DelegationRecord:
    """Record a bounded delegation. It never cascades: only the principal's own seats can be acted on."""
    with uow() as tx:
        permit(tx, actor, Act.GRANT_DELEGATION, subject=cmd.principal_id, entity=f"person:{cmd.principal_id}")
        require_person(tx, cmd.principal_id, field="PRINCIPAL")
        require_person(tx, cmd.delegate_id, field="DELEGATE")
        if cmd.template_id is not None:
            stored = tx.templates.get_template(cmd.template_id)
            if stored is None:
                raise NotFoundError(f"--template: unknown template {cmd.template_id!r}", code="template.not_found")
            if cmd.gate_id is not None and stored.template.gate(cmd.gate_id) is None:
                raise InputError(f"--gate: {cmd.gate_id!r} is not a gate of {cmd.template_id}", code="gate.unknown")
        elif cmd.gate_id is not None:
            raise InputError("--gate needs --template: a gate id means something only within a lifecycle")
        record = DelegationRecord(
            id=uuid4(),
            principal_id=cmd.principal_id,
            delegate_id=cmd.delegate_id,
            valid_from=cmd.valid_from,
            valid_to=cmd.valid_to,
            template_id=cmd.template_id,
            gate_id=cmd.gate_id,
        )
        tx.delegations.add_delegation(record, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="delegation.granted",
            entity=f"person:{cmd.principal_id}",
            payload=record.model_dump(mode="json") | stamp(actor),
            at=now,
        )
        tx.commit()
    return record


@refusals_audited(Act.REVOKE_DELEGATION)
def revoke_delegation(delegation_id: UUID, *, actor: Actor, uow: UowFactory, now: datetime) -> DelegationRecord:
    """End a delegation now, by its principal or a PMO admin; votes already cast under it stand."""
    with uow() as tx:
        record = tx.delegations.get_delegation(delegation_id)
        if record is None:
            raise NotFoundError(
                f"ID: unknown delegation {delegation_id}; see 'phasegate delegate list'", code="delegation.not_found"
            )
        permit(tx, actor, Act.REVOKE_DELEGATION, subject=record.principal_id, entity=f"delegation:{delegation_id}")
        if record.revoked:
            raise ConflictError(f"delegation {delegation_id} is already revoked", code="delegation.revoked")
        tx.delegations.revoke_delegation(delegation_id, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="delegation.revoked",
            entity=f"person:{record.principal_id}",
            payload={"delegation": delegation_id, "delegate": record.delegate_id} | stamp(actor),
            at=now,
        )
        tx.commit()
    return record.model_copy(update={"revoked": True})


def list_delegations(*, uow: UowFactory, person_id: str | None = None) -> list[DelegationRecord]:
    with uow() as tx:
        return tx.delegations.delegations(person_id)

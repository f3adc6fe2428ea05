"""Delegations: a principal lets a delegate act for them, within dates and optionally one template or gate."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from gates.usecases.lookups import require_person
from gates.usecases.result import UowFactory
from models.commands import Delegate
from models.errors import InputError, NotFoundError
from models.snapshots import (
    DelegationRecord,
)


def delegate(cmd: Delegate, *, uow: UowFactory, now: datetime) -> DelegationRecord:
    """Record a bounded delegation. It never cascades: only the principal's own seats can be acted on."""
    with uow() as tx:
        require_person(tx, cmd.principal_id, field="PRINCIPAL")
        require_person(tx, cmd.delegate_id, field="DELEGATE")
        if cmd.template_id is not None:
            stored = tx.get_template(cmd.template_id)
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
        tx.add_delegation(record, now=now)
        tx.append_audit(
            actor=cmd.principal_id,
            action="delegation.granted",
            entity=f"person:{cmd.principal_id}",
            payload=record.model_dump(mode="json"),
            at=now,
        )
        tx.commit()
    return record

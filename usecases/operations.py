"""Operations: the acts that keep phasegate itself running (upgrading the schema, sealing the audit chain,
re-queuing notifications, applying decisions a crash left unapplied), allowed to the PMO admin only.

Why a use case for acts that change no project: each one can change what the record says or who hears of it
(a seal vouches for entries; a retry re-sends a decision), so the same actor check and the same audit entry
apply as for any other act, and a refusal is on record too.
"""

from __future__ import annotations

from datetime import datetime

from phasegate.gates.authorization import Act
from phasegate.gates.vocabulary.identity import Actor
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.result import UowFactory


@refusals_audited(Act.OPERATE)
def begin_operation(operation: str, *, actor: Actor, uow: UowFactory, now: datetime, audited: bool = True) -> None:
    """Allow ``operation`` (e.g. ``notify retry``) to the actor or refuse it; an allowed one is audited as started
    unless the operation writes its own entry naming the actor (``audited=False``: the audit seal)."""
    entity = f"operation:{operation}"
    with uow() as tx:
        permit(tx, actor, Act.OPERATE, entity=entity)
        if audited:
            tx.append_audit(
                actor=audit_name(actor), action="operation.started", entity=entity, payload=stamp(actor), at=now
            )
            tx.commit()

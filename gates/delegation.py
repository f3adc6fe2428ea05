"""Delegation: whether a recorded delegation lets one person act for another on one gate on one day (pure).

Delegations are bounded (dates, optionally a template or a gate) and never cascade: only the principal's own
seat can be filled by the delegate, so the check names both people exactly.
"""

from __future__ import annotations

from datetime import date

from phasegate.gates.vocabulary.snapshots import DelegationRecord


def delegation_covers(
    record: DelegationRecord, *, principal: str, delegate: str, on: date, template_id: str, gate_id: str
) -> bool:
    """True when ``record`` lets ``delegate`` act for ``principal`` on ``on`` at ``template_id``/``gate_id``."""
    return (
        record.principal_id == principal
        and record.delegate_id == delegate
        and not record.revoked
        and record.valid_from <= on <= record.valid_to
        and record.template_id in (None, template_id)
        and record.gate_id in (None, gate_id)
    )

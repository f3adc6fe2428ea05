"""Segregation of duties: who may not approve a gate, as a pure rule over the project, the round and two people.

Checked for both the approver whose seat is used and the person signing (a delegate), because a delegation must
never launder an act the signer could not do in their own name.
"""

from __future__ import annotations

from phasegate.gates.vocabulary.snapshots import ProjectSnapshot, RoundSnapshot
from phasegate.gates.vocabulary.template import SegregationDef


def segregation_breach(
    segregation: SegregationDef, project: ProjectSnapshot, current: RoundSnapshot, principal: str, signer: str
) -> str | None:
    """The first segregation-of-duties rule this act breaks, in words, or None. Checked for both people."""
    for who, person in (("the approver", principal), ("the signer", signer)):
        if segregation.manager_cannot_approve and person == project.manager_id:
            return f"{who} {person} is the project's manager, who cannot approve their own project's gate"
        if segregation.requester_cannot_approve and current.requested_by and person == current.requested_by:
            return f"{who} {person} requested this review and cannot approve it"
    if segregation.delegate_cannot_approve_own_submission and signer != principal and current.requested_by == signer:
        return f"delegate {signer} submitted this review and cannot approve it on behalf of {principal}"
    return None

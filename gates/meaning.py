"""The meaning of a signed act (21 CFR Part 11 asks each signature to say what it means): pure vocabulary."""

from __future__ import annotations

from phasegate.gates.vocabulary.enums import BallotKind, Decision


def vote_meaning(kind: BallotKind, decision: Decision | None) -> str:
    """approved (GO, CONDITIONAL_GO), rejected (HOLD, RECYCLE, KILL), abstained or recused."""
    if kind is BallotKind.ABSTAIN:
        return "abstained"
    if kind is BallotKind.RECUSE:
        return "recused"
    return "approved" if decision in (Decision.GO, Decision.CONDITIONAL_GO) else "rejected"

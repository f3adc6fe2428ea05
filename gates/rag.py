"""Computed RAG: each dimension's colour from how much of *its own* tolerance the forecast consumes.

Why from tolerance and not fixed bands: there are no standard RAG thresholds (DOMAIN.md); a project allowed
10 % over budget and one allowed 2 % are not equally "amber" at 5 %. The rule, per PRINCE2 practice:

- **red**: the forecast breaches the tolerance (the adverse deviation exceeds the allowance; exactly at the
  allowance is still inside it);
- **amber**: 50 % or more of the allowance consumed, or the deviation grew in each of the last two periods
  (an adverse trend two periods long), even while little is consumed;
- **green**: otherwise.

A dimension with explicitly no tolerance, or none set, has no colour (``none``): nothing to consume. A
dimension whose forecast cannot be computed (missing figures) is ``unknown``, never green. Overall is the worst
coloured dimension, except that a dimension lacking figures keeps the whole from being green (``unknown``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from phasegate.gates.vocabulary.tolerance import Dimension

AMBER_AT = Decimal("0.5")
"""Share of the allowance consumed from which a dimension is amber."""


class Rag(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    UNKNOWN = "unknown"
    NONE = "none"


_WORST = (Rag.RED, Rag.AMBER, Rag.UNKNOWN, Rag.GREEN, Rag.NONE)


class DimensionRag(BaseModel):
    """One dimension's colour, what it consumed of its allowance, and why."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    dimension: Dimension
    rag: Rag
    deviation: Decimal | None
    allowance: Decimal | None
    consumed: Decimal | None
    """Adverse deviation / allowance (0 when on or better than plan); ``None`` without both."""
    trend_adverse: bool = False
    reason: str


def consumed(deviation: Decimal, allowance: Decimal) -> Decimal | None:
    """Share of ``allowance`` used by an adverse ``deviation``; ``None`` for a zero allowance already exceeded."""
    adverse = max(deviation, Decimal(0))
    if allowance == 0:
        return Decimal(0) if adverse == 0 else None
    return adverse / allowance


def adverse_trend(history: Sequence[Decimal]) -> bool:
    """The deviation grew in each of the last two periods (needs three readings, oldest first)."""
    if len(history) < 3:
        return False
    a, b, c = history[-3:]
    return a < b < c


def dimension_rag(
    dimension: Dimension,
    *,
    deviation: Decimal | None,
    allowance: Decimal | None,
    history: Sequence[Decimal] = (),
) -> DimensionRag:
    """Colour one dimension. ``deviation`` is the forecast's adverse deviation from plan in the dimension's unit
    (positive is worse: EAC - BAC, days late); ``allowance`` the tolerance (``None``: no tolerance);
    ``history`` the previous periods' deviations, oldest first (the current one is appended here)."""
    if allowance is None:
        return DimensionRag(
            dimension=dimension, rag=Rag.NONE, deviation=deviation, allowance=None, consumed=None, reason="no tolerance"
        )
    if deviation is None:
        return DimensionRag(
            dimension=dimension,
            rag=Rag.UNKNOWN,
            deviation=None,
            allowance=allowance,
            consumed=None,
            reason="no forecast: figures missing",
        )
    share = consumed(deviation, allowance)
    trend = adverse_trend([*history, deviation])
    if deviation > allowance:
        rag, reason = Rag.RED, f"forecast breaches the tolerance: deviation {deviation} > allowance {allowance}"
    elif share is not None and share >= AMBER_AT:
        rag, reason = Rag.AMBER, f"{(share * 100).quantize(Decimal('0.1'))} % of the tolerance consumed"
    elif trend:
        rag, reason = Rag.AMBER, "deviation grew in each of the last two periods"
    else:
        rag, reason = Rag.GREEN, "under half of the tolerance consumed"
    return DimensionRag(
        dimension=dimension,
        rag=rag,
        deviation=deviation,
        allowance=allowance,
        consumed=share,
        trend_adverse=trend,
        reason=reason,
    )


def overall(colours: Mapping[Dimension, DimensionRag] | Sequence[DimensionRag]) -> Rag:
    """The worst colour of any dimension: red > amber > unknown > green (a missing forecast never lets the
    project show green); ``none`` when no dimension has a tolerance at all."""
    found = {c.rag for c in (colours.values() if isinstance(colours, Mapping) else colours)}
    return next((rag for rag in _WORST if rag in found), Rag.NONE)

"""Exceptions (PRINCE2): when a forecast breaches a tolerance, and whether a new exception must be raised.

Why pure: "raised once" is a rule about the previous exception on the same project, scope and dimension, not
about timing. An open one already covers the breach; a closed one was decided, so a breach still present
after it is a new exception, except after **accept**, which covers the breach until the forecast gets worse
than what was accepted. The storage side (a unique sequence number per project, scope and dimension) turns
"the n-th exception" into exactly one row however many scans, scanners or crashes there are.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from phasegate.gates.evm import compute
from phasegate.gates.tolerance import EffectiveTolerance
from phasegate.gates.vocabulary.evidence import EvmSnapshot
from phasegate.gates.vocabulary.tolerance import Dimension, ExceptionDecision, ToleranceException, ToleranceLevel

CENT = Decimal("0.01")


class Breach(BaseModel):
    """A forecast beyond a tolerance: how far, against what, and whose tolerance it was."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    project_key: str
    scope: str
    dimension: Dimension
    level: ToleranceLevel
    owner_id: str | None
    baseline: Decimal
    forecast: Decimal
    allowance: Decimal
    deviation: Decimal


def cost_forecast(evm: EvmSnapshot | None) -> Decimal | None:
    """The cost forecast at completion: the EAC the gate criteria already use (variances continue, BAC / CPI)."""
    return None if evm is None else compute(evm).eac_cpi


def quality_shortfall(test_pass_rate: Decimal | None, acceptance: Decimal | None) -> Decimal | None:
    """How far the latest quality metrics fall short of 100 %, in percentage points: the worse of the test pass
    rate and acceptance; ``None`` when the report had neither (no forecast, never "on target")."""
    rates = [rate for rate in (test_pass_rate, acceptance) if rate is not None]
    return None if not rates else Decimal(100) - min(rates)


def breach_of(
    project_key: str,
    tolerance: EffectiveTolerance | None,
    *,
    baseline: Decimal,
    forecast: Decimal | None,
    deviation: Decimal | None = None,
) -> Breach | None:
    """The breach when the adverse ``deviation`` (default: ``forecast - baseline``) exceeds what the tolerance
    allows on ``baseline``; else ``None``. For quality the baseline is 100 % and the deviation the shortfall.

    No tolerance (unset or explicitly none) and no forecast are never breaches.
    """
    if tolerance is None or forecast is None or tolerance.level is None:
        return None
    exact = tolerance.allowance(baseline)
    if exact is None:
        return None
    allowance = exact.quantize(CENT)
    deviation = (forecast - baseline if deviation is None else deviation).quantize(CENT)
    if deviation <= allowance:
        return None
    return Breach(
        project_key=project_key,
        scope=tolerance.scope,
        dimension=tolerance.dimension,
        level=tolerance.level,
        owner_id=tolerance.owner_id,
        baseline=baseline,
        forecast=forecast,
        allowance=allowance,
        deviation=deviation,
    )


def next_sequence(breach: Breach, latest: ToleranceException | None, *, evidence_as_of: date) -> int | None:
    """The sequence number of the exception to raise for ``breach``, or ``None`` when one already covers it.

    - an open exception covers any breach on its dimension (it is being decided);
    - an accepted one covers it until the forecast deviates further than what was accepted;
    - an approved exception plan (or a premature-close request) covers it until a status report dated after the
      decision still breaches: the figures it was decided on cannot raise it again.
    """
    if latest is None:
        return 1
    if latest.status == "open":
        return None
    if latest.decision is ExceptionDecision.ACCEPT:
        return None if breach.deviation <= latest.deviation else latest.seq + 1
    decided = latest.decided_at.date() if latest.decided_at is not None else None
    if decided is not None and evidence_as_of <= decided:
        return None
    return latest.seq + 1

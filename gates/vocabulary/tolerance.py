"""Tolerances: how far a project or stage may deviate from its plan before it is an exception (PRINCE2).

Why a vocabulary module of its own: the template (defaults), the table (what a level set), the use case
(who may set what) and the monitor (forecast against tolerance) all speak of the same six dimensions and
three levels, and they must not drift apart.

A tolerance is "an amount or a percentage of the baseline, whichever is greater" (DOMAIN.md), or explicitly
**none**: the level that owns the dimension has said it is not held to a tolerance. "None" is a decision and
is recorded as one; a dimension nobody spoke about is *unset*, which is shown as such and never read as none.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator


class Dimension(StrEnum):
    """The six PRINCE2 tolerance dimensions."""

    TIME = "time"
    COST = "cost"
    SCOPE = "scope"
    QUALITY = "quality"
    RISK = "risk"
    BENEFITS = "benefits"


class ToleranceLevel(StrEnum):
    """Who set a tolerance; an exception goes back to this level, which alone decides on it.

    Ordered from the top: a lower level may not overwrite what a higher one set.
    """

    CORPORATE = "corporate"  # corporate or programme management, the portfolio
    PROJECT_BOARD = "project_board"
    PROJECT_MANAGER = "project_manager"

    @property
    def rank(self) -> int:
        """0 for the top level (corporate); a larger rank is a lower level."""
        return list(ToleranceLevel).index(self)


UNITS: dict[Dimension, str] = {
    Dimension.TIME: "working days",
    Dimension.COST: "money",
    Dimension.SCOPE: "scope items",
    Dimension.QUALITY: "points",
    Dimension.RISK: "risk score",
    Dimension.BENEFITS: "money",
}
"""What ``amount`` is counted in, per dimension (``percent`` is always of the dimension's baseline)."""

PROJECT_SCOPE = "*"
"""The ``scope`` of a tolerance on the whole project; any other scope is a stage id of the template."""

Percent = Annotated[Decimal, Field(ge=0, le=1000, max_digits=9, decimal_places=4, allow_inf_nan=False)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2, allow_inf_nan=False)]


def plain(value: Decimal | None) -> Decimal | None:
    """``value`` without trailing zeros or an exponent (``8.0000`` -> ``8``, ``15000.00`` -> ``15000``), so a
    tolerance reads back from either database as it was given."""
    if value is None:
        return None
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def limit_problem(percent: Decimal | None, amount: Decimal | None, *, none: bool) -> str | None:
    """What is wrong with a limit as given, in words; ``None`` when it is a limit or an explicit none."""
    has_limit = percent is not None or amount is not None
    if none and has_limit:
        return "'none' means no tolerance: give it without a percent or an amount"
    if not none and not has_limit:
        return "give a percent, an amount (or both: whichever is greater), or none"
    return None


class ToleranceLimit(BaseModel):
    """A limit (percent and/or amount, whichever is greater) or an explicit ``none``; never both, never neither."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    percent: Percent | None = Field(default=None, description="Share of the baseline, in percent (10 = 10 %).")
    amount: Amount | None = Field(default=None, description="Absolute allowance, in the dimension's unit.")
    none: bool = Field(default=False, description="Explicitly no tolerance on this dimension.")

    @model_validator(mode="after")
    def _limit_or_none(self) -> Self:
        problem = limit_problem(self.percent, self.amount, none=self.none)
        if problem:
            raise ValueError(problem)
        return self

    def allowance(self, baseline: Decimal) -> Decimal | None:
        """The allowed deviation from ``baseline`` in the dimension's unit; ``None`` when there is no tolerance."""
        if self.none:
            return None
        by_percent = baseline * self.percent / 100 if self.percent is not None else Decimal(0)
        return max(by_percent, self.amount if self.amount is not None else Decimal(0))


ProjectRole = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]


class ToleranceDef(ToleranceLimit):
    """A template's default tolerance for one dimension: the level that owns it and which project role names the
    owner (``sponsor``, ``manager`` or a role assigned with ``project assign``)."""

    dimension: Dimension
    level: ToleranceLevel = ToleranceLevel.PROJECT_BOARD
    owner_role: ProjectRole = "sponsor"


def duplicate_dimensions(defs: tuple[ToleranceDef, ...]) -> list[str]:
    """Dimensions given more than once in one list (a template must say one thing per dimension)."""
    seen: set[Dimension] = set()
    twice: list[str] = []
    for tolerance in defs:
        if tolerance.dimension in seen:
            twice.append(tolerance.dimension.value)
        seen.add(tolerance.dimension)
    return twice


class ToleranceRecord(ToleranceLimit):
    """A tolerance a level set on a project (``scope`` ``*``) or one of its stages, and who set it when."""

    project_key: str
    scope: str = PROJECT_SCOPE
    dimension: Dimension
    level: ToleranceLevel
    owner_id: str
    reason: str = ""
    set_by: str
    set_at: datetime


class ExceptionDecision(StrEnum):
    """How the level that set a tolerance closes an exception on it (PRINCE2)."""

    APPROVE_PLAN = "approve_plan"  # approve the exception plan: re-baseline (audited)
    PREMATURE_CLOSE = "premature_close"  # ask for the project to be closed early
    ACCEPT = "accept"  # accept the forecast as it is: no new exception unless it worsens


class ToleranceException(BaseModel):
    """A forecast that breaches a tolerance, raised once and routed to the level and owner that set it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    id: UUID
    project_key: str
    scope: str
    dimension: Dimension
    seq: int
    """The n-th exception on this project, scope and dimension: (project, scope, dimension, seq) is unique, which
    is what makes raising it exactly-once across repeated scans, concurrent scanners and crashes."""
    level: ToleranceLevel
    owner_id: str | None
    baseline: Decimal
    forecast: Decimal
    allowance: Decimal
    deviation: Decimal
    raised_at: datetime
    status: str = "open"
    decision: ExceptionDecision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""

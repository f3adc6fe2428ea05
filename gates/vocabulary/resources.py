"""Resources vocabulary: who can work how much (a person's resource role, FTE, working calendar, and per-month
overrides), what each project's plan asks for (hours per role and month, per stage), a project's priority for the
HOLD queue, and the figures a gate's ``resources.committed`` criterion reads.

Why hours: capacity comes from working days (which differ per region and month: China's Golden Week, US
Thanksgiving) times a person's FTE times their hours per day, and demand in a plan is estimated in hours or
person-days; one unit makes the two comparable without rounding in between. FTE-days are converted to hours
at the person's hours per day (``DEFAULT_HOURS_PER_DAY`` when the demand names only a role).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from phasegate.gates.vocabulary.errors import InputError

DEFAULT_HOURS_PER_DAY = Decimal("8")
HOURS = Decimal("0.01")
MAX_HOURS = Decimal("1000000")
"""Upper bound for one month's hours of a person or one demand line: far above any real plan, still exact."""

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_ROLE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def parse_month(text: str, *, field: str) -> date:
    """``YYYY-MM`` as the first day of that month; anything else is refused naming ``field``."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise InputError(f"{field}: {text!r} is not a month; write it as YYYY-MM (for example 2027-01)")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _role(value: str) -> str:
    role = value.strip().lower()
    if not _ROLE.fullmatch(role):
        raise ValueError(
            f"role {value!r}: use lower-case letters, digits, '-' or '_' (at most 64), for example data-engineer"
        )
    return role


def _first_of_month(value: date) -> date:
    if value.day != 1:
        raise ValueError(f"a month is its first day; got {value.isoformat()}")
    return value


ResourceRole = Annotated[str, AfterValidator(_role)]
Month = Annotated[date, AfterValidator(_first_of_month)]
Hours = Annotated[Decimal, Field(ge=0, le=MAX_HOURS, decimal_places=2, allow_inf_nan=False)]


class _Record(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class ResourceProfile(_Record):
    """A person as a resource: one role (what plans ask for), their share of a full-time week and the
    working calendar (holidays of ``region``) their working days come from."""

    person_id: str
    role: ResourceRole
    fte: Decimal = Field(default=Decimal("1"), gt=0, le=1, decimal_places=2)
    hours_per_day: Decimal = Field(default=DEFAULT_HOURS_PER_DAY, gt=0, le=24, decimal_places=2)
    region: str = Field(default="US", min_length=2, max_length=2)
    set_by: str = ""
    set_at: datetime | None = None


class CapacityOverride(_Record):
    """A person's hours in one month when the calendar rule does not hold (leave, training, a part-time month)."""

    person_id: str
    month: Month
    hours: Hours
    set_by: str = ""
    set_at: datetime | None = None


class DemandLine(_Record):
    """Hours of a role a project's plan needs in one month of one stage, optionally named to a person."""

    project_key: str
    stage_id: str
    role: ResourceRole
    month: Month
    hours: Hours
    person_id: str | None = None


class PriorityRecord(_Record):
    """A project's rank in the HOLD queue: a higher number goes first (set by the PMO)."""

    project_key: str
    priority: int = Field(ge=0, le=1000)
    set_by: str = ""
    set_at: datetime | None = None


class ResourceLine(_Record):
    """One role and month of a gate's next stage: what it needs, what the role has, and what active projects
    already hold of it (their current stage's demand, committed by the GO that started it)."""

    role: str
    month: str
    demand: Decimal
    capacity: Decimal
    committed: Decimal

    @property
    def available(self) -> Decimal:
        return self.capacity - self.committed

    @property
    def shortfall(self) -> Decimal:
        return max(Decimal(0), self.demand - self.available)


class AllocationRow(_Record):
    """One role (``person`` empty) or one person in one month: capacity, committed and planned hours, what is
    free (negative when over-allocated) and the projects holding the committed hours."""

    role: str
    person: str = ""
    month: str
    capacity: Decimal
    committed: Decimal
    planned: Decimal
    free: Decimal
    over_allocated: bool
    projects: tuple[str, ...] = ()


class ResourceEvidence(_Record):
    """What ``resources.committed`` reads: the next stage's demand against capacity, per role and month."""

    next_stage: str | None
    lines: tuple[ResourceLine, ...] = ()

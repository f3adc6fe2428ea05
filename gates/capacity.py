"""Capacity and allocation: hours people can give per month, hours plans ask for, and where they collide. Pure.

The rules, as a PMO reads them:
- A person's capacity in a month is ``working days x FTE x hours per day``, the working days from the working
  calendar of their region (weekends, public holidays and China's make-up working days, ``gates.calendar``);
  an explicit override for that month (leave, training) replaces the rule.
- A role's capacity is the sum of its people's.
- Demand is **committed** when the GO that started its stage has been given: the current stage of an active
  project. Demand of later stages, and of projects on hold, is only **planned**: nobody has committed people
  to it yet, so it does not count against capacity until its gate says GO.
- A role (or person) is **over-allocated** in a month when its committed hours exceed its capacity.
- A gate fits when, for every role and month of the next stage's demand, that demand is at most the capacity
  left after what other active projects have committed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.resources import (
    HOURS,
    AllocationRow,
    CapacityOverride,
    DemandLine,
    ResourceLine,
    ResourceProfile,
    month_label,
)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last`` inclusive (both first days of their months)."""
    found = []
    current = first
    while current <= last:
        found.append(current)
        current = next_month(current)
    return found


def working_days(calendar: WorkingCalendar, month: date) -> int:
    """Working days of ``month`` in ``calendar`` (make-up working days on weekends count)."""
    end = next_month(month)
    day, count = month, 0
    while day < end:
        count += calendar.is_working_day(day)
        day += timedelta(days=1)
    return count


@cache
def region_days(region: str, month: date) -> int:
    """Working days of a region's month, once per process: a view of a thousand people asks for a few regions."""
    return working_days(WorkingCalendar(region=region), month)


def person_capacity(profile: ResourceProfile, month: date, override: CapacityOverride | None = None) -> Decimal:
    """Hours ``profile`` can work in ``month``: the override when one is set, else the calendar rule."""
    if override is not None:
        return override.hours
    days = region_days(profile.region, month)
    return (days * profile.fte * profile.hours_per_day).quantize(HOURS)


def is_committed(line: DemandLine, stage_of: Mapping[str, tuple[ProjectStatus, str]]) -> bool:
    """Committed: the line is the current stage of an active project (``stage_of``: project -> status, stage)."""
    status, stage = stage_of.get(line.project_key, (ProjectStatus.COMPLETED, ""))
    return status is ProjectStatus.ACTIVE and line.stage_id == stage


@dataclass(frozen=True)
class Capacities:
    """Everyone's capacity, by person and by role, for the months asked about."""

    by_person: Mapping[tuple[str, date], Decimal]
    by_role: Mapping[tuple[str, date], Decimal]
    role_of: Mapping[str, str]

    @classmethod
    def of(
        cls, profiles: Iterable[ResourceProfile], overrides: Iterable[CapacityOverride], months: Iterable[date]
    ) -> Capacities:
        chosen = {(o.person_id, o.month): o for o in overrides}
        by_person: dict[tuple[str, date], Decimal] = {}
        by_role: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
        role_of = {}
        wanted = sorted(set(months))
        for profile in profiles:
            role_of[profile.person_id] = profile.role
            for month in wanted:
                hours = person_capacity(profile, month, chosen.get((profile.person_id, month)))
                by_person[profile.person_id, month] = hours
                by_role[profile.role, month] += hours
        return cls(by_person, dict(by_role), role_of)

    def role(self, role: str, month: date) -> Decimal:
        return self.by_role.get((role, month), Decimal(0))


def allocation(
    capacities: Capacities,
    demand: Sequence[DemandLine],
    stage_of: Mapping[str, tuple[ProjectStatus, str]],
    months: Sequence[date],
    *,
    by_person: bool = False,
    role: str | None = None,
) -> list[AllocationRow]:
    """Per role (or per person) and month: capacity, committed and planned demand, what is free, and the flag.

    Demand of a closed or killed project is neither. Per person, only demand lines that name the person count.
    """
    wanted = set(months)
    committed: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    planned: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    holders: dict[tuple[str, date], set[str]] = defaultdict(set)
    for line in demand:
        if line.month not in wanted:
            continue
        key = line.person_id if by_person else line.role
        if key is None:
            continue
        status, _ = stage_of.get(line.project_key, (ProjectStatus.COMPLETED, ""))
        if is_committed(line, stage_of):
            committed[key, line.month] += line.hours
            holders[key, line.month].add(line.project_key)
        elif status in (ProjectStatus.ACTIVE, ProjectStatus.ON_HOLD):
            planned[key, line.month] += line.hours
    if by_person:
        names = sorted(capacities.role_of) + sorted({p for p, _ in committed | planned} - set(capacities.role_of))
    else:
        names = sorted(set(capacities.role_of.values()) | {r for r, _ in committed | planned})
    rows = []
    for name in names:
        person_role = capacities.role_of.get(name, "") if by_person else name
        if role is not None and person_role != role:
            continue
        for month in sorted(wanted):
            if by_person:
                capacity = capacities.by_person.get((name, month), Decimal(0))
            else:
                capacity = capacities.role(name, month)
            held = committed.get((name, month), Decimal(0)).quantize(HOURS)
            rows.append(
                AllocationRow(
                    role=person_role,
                    person=name if by_person else "",
                    month=month_label(month),
                    capacity=capacity.quantize(HOURS),
                    committed=held,
                    planned=planned.get((name, month), Decimal(0)).quantize(HOURS),
                    free=(capacity - held).quantize(HOURS),
                    over_allocated=held > capacity,
                    projects=tuple(sorted(holders.get((name, month), ()))),
                )
            )
    return rows


def next_stage_lines(
    capacities: Capacities,
    wanted: Sequence[DemandLine],
    others: Sequence[DemandLine],
    stage_of: Mapping[str, tuple[ProjectStatus, str]],
    *,
    reserved: Mapping[tuple[str, date], Decimal] | None = None,
) -> tuple[ResourceLine, ...]:
    """The ``wanted`` demand (one project's next stage) per role and month against each role's capacity and
    what ``others`` (every other project's demand) commit there; ``reserved`` adds hours promised meanwhile
    (the HOLD queue gives capacity to projects ranked above)."""
    needs: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for line in wanted:
        needs[line.role, line.month] += line.hours
    held: dict[tuple[str, date], Decimal] = defaultdict(Decimal, reserved or {})
    for line in others:
        if (line.role, line.month) in needs and is_committed(line, stage_of):
            held[line.role, line.month] += line.hours
    return tuple(
        ResourceLine(
            role=role,
            month=month_label(month),
            demand=hours.quantize(HOURS),
            capacity=capacities.role(role, month).quantize(HOURS),
            committed=held.get((role, month), Decimal(0)).quantize(HOURS),
        )
        for (role, month), hours in sorted(needs.items())
    )


def shortfalls(lines: Iterable[ResourceLine]) -> list[ResourceLine]:
    """The lines whose demand does not fit what is left of the role's capacity."""
    return [line for line in lines if line.shortfall > 0]


def shortfall_text(line: ResourceLine) -> str:
    return (
        f"{line.role} {line.month}: needs {line.demand} h, capacity {line.capacity} h, "
        f"committed to other projects {line.committed} h, short {line.shortfall} h"
    )


def shortfall_text_zh(line: ResourceLine) -> str:
    return (
        f"{line.role} {line.month}：需求 {line.demand} 小时，产能 {line.capacity} 小时，"
        f"已承诺给其他项目 {line.committed} 小时，缺口 {line.shortfall} 小时"
    )

"""Earned schedule (Lipke): how far along the *schedule* the earned value is, in working days, and when the
project will finish if it keeps its time performance.

Why earned schedule and not SPI: SPI = EV / PV drifts back to 1.0 as a late project nears completion (EV
reaches BAC eventually), so it stops warning exactly when a PMO needs it. ES measures time: the moment in the
plan at which PV equalled today's EV. Time is counted in **working days** of the project's calendar
(``gates.calendar``), so holidays and weekends are not "late".

Formulas, with the time-phased baseline as cumulative PV at period ends t_1 < t_2 < ... (t_0 = the plan's
start, PV 0), and C the last point whose PV <= EV:

- ES = t_C + (EV - PV_C) / (PV_{C+1} - PV_C) x (t_{C+1} - t_C)     (linear within the period)
- AT = working days from the start to the status date; PD = working days from the start to the last point
- SPI(t) = ES / AT;  SV(t) = ES - AT (working days; negative is late)
- IEAC(t) = AT + (PD - ES) / SPI(t)   (the remaining plan at the current time performance) = PD / SPI(t)
- forecast finish = the start shifted by IEAC(t) working days, rounded up to a whole day; the time variance
  against plan is IEAC(t) - PD (positive is late)

Undefined stays undefined (``None``): no EV or no time elapsed gives no SPI(t) and no forecast, never "on time".
Work complete (EV = BAC) finishes on the status date.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal, localcontext
from functools import cache

from pydantic import BaseModel, ConfigDict

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.evm import EXACT
from phasegate.gates.vocabulary.errors import InputError

DAYS = Decimal("0.01")
RATIO = Decimal("0.0001")


class EarnedSchedule(BaseModel):
    """The earned-schedule figures at one status date; times in working days from the plan's start."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    as_of: date
    planned_finish: date
    planned_duration: int
    actual_time: int
    es: Decimal | None
    spi_t: Decimal | None
    sv_t: Decimal | None
    ieac_t: Decimal | None
    forecast_finish: date | None
    delay_days: Decimal | None
    """IEAC(t) - PD: working days beyond the planned finish (negative: ahead of plan)."""


def working_days(calendar: WorkingCalendar, start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` <= ``start``)."""
    if end <= start:
        return 0
    if start.year == end.year:
        return _through(calendar, end) - _through(calendar, start)
    between = sum(_year_counts(calendar, year)[-1] for year in range(start.year + 1, end.year))
    return _year_counts(calendar, start.year)[-1] - _through(calendar, start) + between + _through(calendar, end)


@cache
def _year_counts(calendar: WorkingCalendar, year: int) -> tuple[int, ...]:
    """Working days of ``year`` from 1 January through each of its days (cached per calendar and year).

    Why: the portfolio monitor counts the working days of every active project's plan at every scan; asking the
    calendar day by day cost about a millisecond a plan, a lookup here costs nothing.
    """
    counts, total = [], 0
    first = date(year, 1, 1).toordinal()
    for ordinal in range(first, date(year, 12, 31).toordinal() + 1):
        total += calendar.is_working_day(date.fromordinal(ordinal))
        counts.append(total)
    return tuple(counts)


def _through(calendar: WorkingCalendar, day: date) -> int:
    return _year_counts(calendar, day.year)[day.timetuple().tm_yday - 1]


def shift(calendar: WorkingCalendar, start: date, n: int) -> date:
    """The n-th working day after ``start`` (n >= 1): ``WorkingCalendar.shift_working_days`` from the cached year
    tables, so a forecast finish years out costs a lookup, not a walk."""
    need = n + _through(calendar, start)
    year = start.year
    while True:
        counts = _year_counts(calendar, year)
        if counts[-1] >= need:
            return date(year, 1, 1) + timedelta(days=bisect.bisect_left(counts, need))
        need -= counts[-1]
        year += 1


def offsets(calendar: WorkingCalendar, start: date, ends: Sequence[date]) -> list[int]:
    """``working_days(start, end)`` for each of ``ends``."""
    return [working_days(calendar, start, end) for end in ends]


def _checked(start: date, baseline: Sequence[tuple[date, Decimal]]) -> list[tuple[date, Decimal]]:
    points = sorted(baseline)
    if not points:
        raise InputError("earned schedule needs a time-phased baseline (cumulative planned value per period)")
    if points[0][0] <= start:
        raise InputError(f"baseline: the first period ends {points[0][0]}, not after the plan's start {start}")
    previous = Decimal(0)
    for end, value in points:
        if value < previous:
            raise InputError(f"baseline: cumulative planned value falls at {end} ({value} < {previous})")
        previous = value
    return points


def earned_schedule(
    *,
    start: date,
    baseline: Sequence[tuple[date, Decimal]],
    ev: Decimal | None,
    as_of: date,
    calendar: WorkingCalendar,
) -> EarnedSchedule:
    """Earned schedule at ``as_of`` for earned value ``ev`` against ``baseline`` (cumulative PV at period ends)."""
    points = _checked(start, baseline)
    *counted, at = offsets(calendar, start, [end for end, _ in points] + [as_of])
    times = [(t, value) for t, (_, value) in zip(counted, points, strict=True)]
    planned_finish = points[-1][0]
    pd = times[-1][0]
    bac = times[-1][1]
    empty = EarnedSchedule(
        as_of=as_of,
        planned_finish=planned_finish,
        planned_duration=pd,
        actual_time=at,
        es=None,
        spi_t=None,
        sv_t=None,
        ieac_t=None,
        forecast_finish=None,
        delay_days=None,
    )
    if ev is None or ev <= 0:
        return empty
    with localcontext(EXACT):
        if ev >= bac:
            # Complete: the plan's whole duration is earned; it finishes when the work did.
            es = Decimal(next(t for t, value in times if value >= bac))
        else:
            t_c, pv_c = 0, Decimal(0)
            for t, value in times:
                if value > ev:
                    es = t_c + (ev - pv_c) / (value - pv_c) * (t - t_c)
                    break
                t_c, pv_c = t, value
        if at == 0:
            return empty.model_copy(update={"es": es.quantize(DAYS)})
        spi_t = es / at
        if ev >= bac:
            ieac = Decimal(at)
            finish = as_of
        else:
            ieac = at + (pd - es) / spi_t
            whole = int(ieac.to_integral_value(rounding=ROUND_CEILING))
            finish = shift(calendar, start, whole) if whole > 0 else start
        return EarnedSchedule(
            as_of=as_of,
            planned_finish=planned_finish,
            planned_duration=pd,
            actual_time=at,
            es=es.quantize(DAYS),
            spi_t=spi_t.quantize(RATIO),
            sv_t=(es - at).quantize(DAYS),
            ieac_t=ieac.quantize(DAYS),
            forecast_finish=finish,
            delay_days=(ieac - pd).quantize(DAYS),
        )


def plan_start(plan: Sequence[tuple[date, Decimal]]) -> tuple[date, list[tuple[date, Decimal]]] | None:
    """Split a time-phased plan into its start and its periods: the start is the plan's first point when that
    point's cumulative planned value is 0 (``KEY,2026-03-06,0``: nothing is planned before the work starts).

    Why this and not the project's creation date: a project is often registered after (or long before) its plan
    starts, and guessing the start would turn every guess into "late" or "early". A plan without a zero point
    has no known start, so time is not forecast (the RAG shows ``unknown``, never green).
    """
    points = sorted(plan)
    if len(points) < 2 or points[0][1] != 0:
        return None
    return points[0][0], points[1:]


def stretch_plan(
    plan: Sequence[tuple[date, Decimal]], duration: Decimal, *, calendar: WorkingCalendar
) -> list[tuple[date, Decimal]] | None:
    """The plan re-baselined to last ``duration`` working days: each point keeps its planned value and moves to
    the same share of the new duration (working days after the plan's start), so the shape of the work stays.

    Why this is the exception plan for time: the board that approves it says "the forecast is the new plan";
    re-timing the curve (not truncating or padding it) keeps SPI(t) meaningful after the change. ``None`` when
    the plan has no known start (no time exception can exist then).
    """
    split = plan_start(plan)
    if split is None:
        return None
    start, points = split
    planned = working_days(calendar, start, points[-1][0])
    if planned == 0:
        return None
    factor = duration / planned
    moved = [(start, Decimal(0))]
    for when, value in points:
        n = int((working_days(calendar, start, when) * factor).to_integral_value())
        moved.append((shift(calendar, start, n) if n >= 1 else start, value))
    return moved


def schedule_forecast(
    plan: Sequence[tuple[date, Decimal]], *, ev: Decimal | None, as_of: date, calendar: WorkingCalendar
) -> EarnedSchedule | None:
    """Earned schedule for a stored plan (start point included), or ``None`` when the plan has no start."""
    split = plan_start(plan)
    if split is None:
        return None
    start, periods = split
    return earned_schedule(start=start, baseline=periods, ev=ev, as_of=as_of, calendar=calendar)

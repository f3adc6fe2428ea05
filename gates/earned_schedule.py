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

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_CEILING, Decimal, localcontext

from pydantic import BaseModel, ConfigDict

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.evm import EXACT
from phasegate.gates.vocabulary.errors import InputError

DAYS = Decimal("0.01")
RATIO = Decimal("0.0001")


class EarnedSchedule(BaseModel):
    """The earned-schedule figures at one status date; times in working days from the plan's start."""

    model_config = ConfigDict(frozen=True)

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
    count = 0
    day = start
    while day < end:
        day = date.fromordinal(day.toordinal() + 1)
        if calendar.is_working_day(day):
            count += 1
    return count


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
    times = [(working_days(calendar, start, end), value) for end, value in points]
    planned_finish = points[-1][0]
    pd = times[-1][0]
    at = working_days(calendar, start, as_of)
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
            finish = calendar.shift_working_days(start, whole) if whole > 0 else start
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

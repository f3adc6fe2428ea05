"""Earned schedule and computed RAG, pure: hand-computed cases, each RAG boundary, and properties.

The hand-computed plan: start Friday 2026-03-06 (US calendar, no holidays until Memorial Day), four weekly
periods ending on Fridays: 5, 10, 15 and 20 working days in, cumulative PV 100, 300, 600, 1000 (BAC 1000).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.earned_schedule import EarnedSchedule, earned_schedule, working_days
from phasegate.gates.rag import Rag, dimension_rag, overall
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.tolerance import Dimension

US = WorkingCalendar(region="US", timezone="America/New_York")
START = date(2026, 3, 6)
PLAN = [
    (date(2026, 3, 13), Decimal(100)),
    (date(2026, 3, 20), Decimal(300)),
    (date(2026, 3, 27), Decimal(600)),
    (date(2026, 4, 3), Decimal(1000)),
]


def _es(ev: str | None, as_of: date, plan: list[tuple[date, Decimal]] = PLAN) -> EarnedSchedule:
    return earned_schedule(start=START, baseline=plan, ev=None if ev is None else Decimal(ev), as_of=as_of, calendar=US)


def test_late_project_by_hand() -> None:
    # At 2026-03-20 (AT = 10) EV = 200: C is t=5 (PV 100), next t=10 (PV 300):
    # ES = 5 + (200-100)/(300-100) x 5 = 7.5; SPI(t) = 0.75; SV(t) = -2.5; IEAC(t) = 20 / 0.75 = 26.67;
    # 27 working days after Friday 03-06: 04-03 is day 20, then 04-06..04-10 (25), 04-13 (26), 04-14 (27).
    es = _es("200", date(2026, 3, 20))
    assert (es.actual_time, es.planned_duration, es.planned_finish) == (10, 20, date(2026, 4, 3))
    assert es.es == Decimal("7.50") and es.spi_t == Decimal("0.7500") and es.sv_t == Decimal("-2.50")
    assert es.ieac_t == Decimal("26.67") and es.delay_days == Decimal("6.67")
    assert es.forecast_finish == date(2026, 4, 14)


def test_early_project_by_hand() -> None:
    # At 2026-03-13 (AT = 5) EV = 450: between t=10 (300) and t=15 (600): ES = 10 + 150/300 x 5 = 12.5;
    # SPI(t) = 2.5; IEAC(t) = 20 / 2.5 = 8 working days: Wednesday 2026-03-18; 12 days ahead.
    es = _es("450", date(2026, 3, 13))
    assert es.es == Decimal("12.50") and es.spi_t == Decimal("2.5000")
    assert es.ieac_t == Decimal("8.00") and es.forecast_finish == date(2026, 3, 18)
    assert es.delay_days == Decimal("-12.00")


def test_on_plan_finishes_on_the_planned_date_and_complete_finishes_today() -> None:
    on_plan = _es("600", date(2026, 3, 27))
    assert on_plan.es == Decimal("15.00") and on_plan.spi_t == Decimal("1.0000")
    assert on_plan.forecast_finish == date(2026, 4, 3) and on_plan.delay_days == Decimal("0.00")
    done = _es("1000", date(2026, 4, 8))  # finished three working days late
    assert done.es == Decimal("20.00") and done.forecast_finish == date(2026, 4, 8)
    assert done.delay_days == Decimal("3.00")


def test_nothing_earned_or_no_time_elapsed_forecasts_nothing() -> None:
    for ev in (None, "0"):
        es = _es(ev, date(2026, 3, 20))
        assert es.es is None and es.spi_t is None and es.forecast_finish is None
    at_start = _es("50", START)
    assert at_start.actual_time == 0 and at_start.es == Decimal("2.50") and at_start.spi_t is None


def test_time_counts_working_days_of_the_projects_calendar() -> None:
    # Independence Day 2026 is observed on Friday July 3: the week before it has four working days.
    assert working_days(US, date(2026, 6, 26), date(2026, 7, 3)) == 4
    assert working_days(WorkingCalendar(region="GB"), date(2026, 6, 26), date(2026, 7, 3)) == 5
    plan = [(date(2026, 7, 3), Decimal(100)), (date(2026, 7, 10), Decimal(200))]  # t = 4, 9
    es = earned_schedule(start=date(2026, 6, 26), baseline=plan, ev=Decimal(100), as_of=date(2026, 7, 10), calendar=US)
    # ES = 4, AT = 9: IEAC(t) = 9 x 9 / 4 = 20.25 -> 21 working days after 06-26, skipping July 3: 2026-07-28.
    assert es.es == Decimal("4.00") and es.ieac_t == Decimal("20.25") and es.forecast_finish == date(2026, 7, 28)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "needs a time-phased baseline"),
        ([(START, Decimal(1))], "not after the plan's start"),
        ([(date(2026, 3, 13), Decimal(5)), (date(2026, 3, 20), Decimal(4))], "cumulative planned value falls"),
    ],
)
def test_a_baseline_that_cannot_be_a_plan_is_refused(plan: list[tuple[date, Decimal]], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _es("1", date(2026, 3, 20), plan)


@given(ev=st.integers(min_value=1, max_value=1000), later=st.integers(min_value=1, max_value=999))
def test_es_stays_within_the_plan_and_grows_with_earned_value(ev: int, later: int) -> None:
    at = date(2026, 3, 20)
    first = _es(str(ev), at)
    more = _es(str(min(1000, ev + later)), at)
    assert first.es is not None and more.es is not None
    assert Decimal(0) < first.es <= Decimal(20)
    assert more.es >= first.es
    assert (first.forecast_finish is not None) and (first.delay_days is not None)
    if ev < 1000:  # later when behind the plan, earlier when ahead: SV(t) and the delay have opposite signs
        assert first.sv_t is not None and (first.sv_t < 0) == (first.delay_days > 0)


# --- RAG: each boundary -------------------------------------------------------------------------------------

COST = Dimension.COST


@pytest.mark.parametrize(
    ("deviation", "allowance", "rag"),
    [
        ("-500", "1000", Rag.GREEN),  # under budget consumes nothing
        ("0", "1000", Rag.GREEN),
        ("499.99", "1000", Rag.GREEN),  # just under half
        ("500", "1000", Rag.AMBER),  # exactly half: amber
        ("999.99", "1000", Rag.AMBER),
        ("1000", "1000", Rag.AMBER),  # exactly at the tolerance: consumed, not breached
        ("1000.01", "1000", Rag.RED),  # the forecast breaches
        ("0", "0", Rag.GREEN),  # a zero tolerance on plan
        ("0.01", "0", Rag.RED),  # a zero tolerance exceeded at all
    ],
)
def test_rag_boundaries(deviation: str, allowance: str, rag: Rag) -> None:
    found = dimension_rag(COST, deviation=Decimal(deviation), allowance=Decimal(allowance))
    assert found.rag is rag, found.reason


def test_two_adverse_periods_make_amber_even_when_little_is_consumed() -> None:
    rising = dimension_rag(COST, deviation=Decimal(30), allowance=Decimal(1000), history=[Decimal(10), Decimal(20)])
    assert rising.rag is Rag.AMBER and rising.trend_adverse and rising.consumed == Decimal("0.03")
    one_period = dimension_rag(COST, deviation=Decimal(30), allowance=Decimal(1000), history=[Decimal(20)])
    assert one_period.rag is Rag.GREEN  # one adverse period is not a trend
    flat = dimension_rag(COST, deviation=Decimal(20), allowance=Decimal(1000), history=[Decimal(10), Decimal(20)])
    assert flat.rag is Rag.GREEN  # a period without growth breaks the trend
    recovered = dimension_rag(COST, deviation=Decimal(5), allowance=Decimal(1000), history=[Decimal(30), Decimal(10)])
    assert recovered.rag is Rag.GREEN


def test_no_tolerance_has_no_colour_and_no_forecast_is_never_green() -> None:
    assert dimension_rag(COST, deviation=Decimal(10**9), allowance=None).rag is Rag.NONE
    assert dimension_rag(COST, deviation=None, allowance=Decimal(1)).rag is Rag.UNKNOWN


def test_overall_is_the_worst_and_missing_figures_keep_it_from_green() -> None:
    green = dimension_rag(Dimension.TIME, deviation=Decimal(0), allowance=Decimal(5))
    amber = dimension_rag(COST, deviation=Decimal(3), allowance=Decimal(5))
    red = dimension_rag(Dimension.QUALITY, deviation=Decimal(6), allowance=Decimal(5))
    unknown = dimension_rag(Dimension.RISK, deviation=None, allowance=Decimal(5))
    none = dimension_rag(Dimension.SCOPE, deviation=Decimal(9), allowance=None)
    assert overall([green, none]) is Rag.GREEN
    assert overall([green, unknown, none]) is Rag.UNKNOWN
    assert overall([green, amber, unknown]) is Rag.AMBER
    assert overall([green, amber, red, unknown]) is Rag.RED
    assert overall([none]) is Rag.NONE and overall([]) is Rag.NONE


@given(
    deviation=st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False),
    allowance=st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False),
)
def test_rag_is_red_exactly_when_the_forecast_breaches(deviation: Decimal, allowance: Decimal) -> None:
    found = dimension_rag(COST, deviation=deviation, allowance=allowance)
    assert (found.rag is Rag.RED) == (deviation > allowance)
    if found.rag is Rag.GREEN:
        assert found.consumed is not None and found.consumed < Decimal("0.5")

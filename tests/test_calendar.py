"""Working calendars: China's 2026 golden week with its make-up days, US Thanksgiving, weekends, time zones and
daylight saving, checked against hand-checked dates and the ``holidays`` library's own data; plus properties
tying ``add_business_days`` and ``business_days_between`` together.

Hand-checked 2026 dates come from the State Council's notice for 2026: National Day and Mid-Autumn are off
October 1-7, with Sunday September 20 and Saturday October 10 worked; the Spring Festival is off February
15-23, with Saturdays February 14 and 28 worked. Thanksgiving 2026 is Thursday November 26.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasegate.gates.calendar import START_OF_BUSINESS, WorkingCalendar, _holidays_of
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.template import CalendarDef

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
CN = WorkingCalendar(region="CN", timezone="Asia/Shanghai")
US = WorkingCalendar(region="US", timezone="America/New_York")


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --- China, 2026 --------------------------------------------------------------------------------------------


def test_golden_week_2026_is_off_and_its_make_up_days_are_worked() -> None:
    assert [CN.is_working_day(d) for d in days(date(2026, 10, 1), date(2026, 10, 7))] == [False] * 7
    assert CN.is_working_day(date(2026, 9, 20))  # Sunday, worked
    assert CN.is_working_day(date(2026, 10, 10))  # Saturday, worked
    assert CN.is_working_day(date(2026, 9, 30)) and CN.is_working_day(date(2026, 10, 8))
    assert not CN.is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert not CN.is_working_day(date(2026, 9, 19))  # an ordinary Saturday
    assert CN.holiday_name(date(2026, 10, 1)) == "National Day"
    assert CN.holiday_name(date(2026, 10, 8)) is None


def test_spring_festival_2026_hand_checked() -> None:
    assert [CN.is_working_day(d) for d in days(date(2026, 2, 15), date(2026, 2, 23))] == [False] * 9
    assert CN.is_working_day(date(2026, 2, 14)) and CN.is_working_day(date(2026, 2, 28))
    assert CN.is_working_day(date(2026, 2, 24))


def test_cn_2026_agrees_with_the_library_data() -> None:
    """Every 2026 holiday of the library is off and every make-up day it lists is worked; other days follow
    the Saturday/Sunday weekend."""
    data = holidays.country_holidays("CN", years=2026)
    make_up = {d for d in data.weekend_workdays if d.year == 2026}
    assert make_up == {
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    }
    for d in days(date(2026, 1, 1), date(2026, 12, 31)):
        expected = d in make_up or (d.weekday() < 5 and d not in data)
        assert CN.is_working_day(d) is expected, d


def test_golden_week_sla_arithmetic() -> None:
    eve = datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    assert CN.add_business_days(eve, 1) == datetime(2026, 10, 8, 15, 0, tzinfo=SHANGHAI)
    assert CN.add_business_days(eve, 3) == datetime(2026, 10, 10, 15, 0, tzinfo=SHANGHAI)  # the make-up Saturday
    assert CN.add_business_days(eve, 4) == datetime(2026, 10, 12, 15, 0, tzinfo=SHANGHAI)
    assert CN.business_days_between(eve, datetime(2026, 10, 10, 14, 59, tzinfo=SHANGHAI)) == 2
    assert CN.business_days_between(eve, datetime(2026, 10, 10, 15, 0, tzinfo=SHANGHAI)) == 3


def test_a_start_on_a_holiday_counts_from_the_next_working_days_start_of_business() -> None:
    holiday = datetime(2026, 10, 3, 16, 45, tzinfo=SHANGHAI)
    assert CN.add_business_days(holiday, 0) == datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)
    assert CN.add_business_days(holiday, 1) == datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI)
    assert CN.business_days_between(holiday, datetime(2026, 10, 8, 23, 0, tzinfo=SHANGHAI)) == 0
    assert CN.business_days_between(holiday, datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI)) == 1


# --- United States -----------------------------------------------------------------------------------------


def test_thanksgiving_2026() -> None:
    assert not US.is_working_day(date(2026, 11, 26))
    assert US.is_working_day(date(2026, 11, 25)) and US.is_working_day(date(2026, 11, 27))
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=NEW_YORK)
    assert US.add_business_days(wednesday, 1) == datetime(2026, 11, 27, 10, 0, tzinfo=NEW_YORK)
    assert US.add_business_days(wednesday, 2) == datetime(2026, 11, 30, 10, 0, tzinfo=NEW_YORK)


def test_friday_plus_one_business_day_is_monday_at_the_same_time() -> None:
    friday = datetime(2026, 6, 5, 15, 30, tzinfo=NEW_YORK)
    assert US.add_business_days(friday, 1) == datetime(2026, 6, 8, 15, 30, tzinfo=NEW_YORK)
    assert US.add_business_days(friday, 0) == friday
    assert US.add_business_days(friday, -1) == datetime(2026, 6, 4, 15, 30, tzinfo=NEW_YORK)
    saturday = datetime(2026, 6, 6, 10, 0, tzinfo=NEW_YORK)
    assert US.add_business_days(saturday, 1) == datetime(2026, 6, 9, START_OF_BUSINESS.hour, 0, tzinfo=NEW_YORK)


def test_observed_independence_day_is_off() -> None:
    assert not US.is_working_day(date(2026, 7, 3))  # July 4 2026 is a Saturday


# --- time zones and daylight saving --------------------------------------------------------------------------


def test_the_calendars_zone_decides_which_day_an_instant_is() -> None:
    instant = datetime(2026, 6, 4, 23, 30, tzinfo=UTC)  # Thursday in UTC, Friday 07:30 in Shanghai
    cn_utc = WorkingCalendar(region="CN", timezone="UTC")
    assert CN.local_date(instant) == date(2026, 6, 5)
    assert CN.add_business_days(instant, 1) == datetime(2026, 6, 8, 7, 30, tzinfo=SHANGHAI)
    assert cn_utc.add_business_days(instant, 1) == datetime(2026, 6, 5, 23, 30, tzinfo=UTC)
    # September 30 17:00 UTC is already October 1 (a holiday) in Shanghai.
    late = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
    assert CN.add_business_days(late, 1) == datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI)
    assert cn_utc.add_business_days(late, 1) == datetime(2026, 10, 8, 17, 0, tzinfo=UTC)


def test_results_are_in_the_calendars_zone_whatever_zone_the_start_is_in() -> None:
    start = datetime(2026, 6, 5, 19, 30, tzinfo=UTC)  # Friday 15:30 in New York
    due = US.add_business_days(start, 1)
    assert due.tzinfo == NEW_YORK and due == datetime(2026, 6, 8, 15, 30, tzinfo=NEW_YORK)


def test_spring_forward_keeps_the_local_time_of_day() -> None:
    friday = datetime(2026, 3, 6, 10, 0, tzinfo=NEW_YORK)  # EST; clocks go forward on Sunday March 8
    monday = US.add_business_days(friday, 1)
    assert monday == datetime(2026, 3, 9, 10, 0, tzinfo=NEW_YORK)
    assert monday.utcoffset() == timedelta(hours=-4)
    assert monday.astimezone(UTC) - friday.astimezone(UTC) == timedelta(hours=71)  # one hour fewer


def test_fall_back_keeps_the_local_time_of_day() -> None:
    friday = datetime(2026, 10, 30, 10, 0, tzinfo=NEW_YORK)  # EDT; clocks go back on Sunday November 1
    monday = US.add_business_days(friday, 1)
    assert monday == datetime(2026, 11, 2, 10, 0, tzinfo=NEW_YORK)
    assert monday.astimezone(UTC) - friday.astimezone(UTC) == timedelta(hours=73)  # one hour more


def test_gap_and_repeated_local_times() -> None:
    gap = US.at_local(date(2026, 3, 8), time(2, 30))  # does not exist: moves forward by the hour
    assert (gap.hour, gap.minute, gap.utcoffset()) == (3, 30, timedelta(hours=-4))
    twice = US.at_local(date(2026, 11, 1), time(1, 30))  # occurs twice: the first (EDT) one
    assert twice.utcoffset() == timedelta(hours=-4)


# --- validation and construction ---------------------------------------------------------------------------


def test_from_def() -> None:
    calendar = WorkingCalendar.from_def(CalendarDef(region="CN", timezone="Asia/Shanghai"))
    assert calendar == CN and calendar.zone == SHANGHAI


@pytest.mark.parametrize("region", ["ZZ", "cn", "CHN", ""])
def test_unknown_region_names_the_field_and_examples(region: str) -> None:
    with pytest.raises(InputError, match=r"calendar\.region: unknown region .*CN, US"):
        WorkingCalendar(region=region)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd"])
def test_unknown_time_zone_names_the_field(name: str) -> None:
    with pytest.raises(InputError, match=r"calendar\.timezone: .*Asia/Shanghai"):
        WorkingCalendar(region="US", timezone=name)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 6, 5, 15, 0)
    with pytest.raises(InputError, match="start: must be a timezone-aware datetime"):
        US.add_business_days(naive, 1)
    with pytest.raises(InputError, match="b: must be a timezone-aware datetime"):
        US.business_days_between(datetime(2026, 6, 5, tzinfo=UTC), naive)


def test_holiday_tables_are_built_lazily_per_year_and_reused() -> None:
    _holidays_of.cache_clear()
    calendar = WorkingCalendar(region="DE", timezone="Europe/Berlin")
    assert _holidays_of.cache_info().currsize == 0
    assert not calendar.is_working_day(date(2031, 5, 1))  # Labour Day
    assert calendar.is_working_day(date(2031, 5, 2))
    info = _holidays_of.cache_info()
    assert (info.currsize, info.misses, info.hits) == (1, 1, 1)
    assert calendar.add_business_days(datetime(2031, 12, 30, 9, 0, tzinfo=UTC), 2).date() == date(2032, 1, 2)
    assert _holidays_of.cache_info().currsize == 2  # 2031 and 2032, nothing else


# --- properties --------------------------------------------------------------------------------------------

CALENDARS = st.sampled_from(
    [
        CN,
        US,
        WorkingCalendar(region="CN", timezone="UTC"),
        WorkingCalendar(region="US", timezone="Europe/London"),
        WorkingCalendar(region="AE", timezone="Asia/Dubai"),  # a Saturday-Sunday weekend since 2022
    ]
)
INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@given(calendar=CALENDARS, start=INSTANTS, n=st.integers(min_value=0, max_value=40))
def test_add_lands_on_a_working_day_and_between_inverts_it(calendar: WorkingCalendar, start: datetime, n: int) -> None:
    due = calendar.add_business_days(start, n)
    assert calendar.is_working_day(calendar.local_date(due))
    assert due >= start
    assert calendar.business_days_between(start, due) == n
    assert calendar.add_business_days(start, n + 1) > due


@given(calendar=CALENDARS, a=INSTANTS, b=INSTANTS)
def test_between_counts_whole_business_days(calendar: WorkingCalendar, a: datetime, b: datetime) -> None:
    elapsed = calendar.business_days_between(a, b)
    assert calendar.business_days_between(b, a) == -elapsed
    if b < a:
        return
    assert elapsed >= 0
    if b < calendar.add_business_days(a, 0):
        assert elapsed == 0
    else:
        assert calendar.add_business_days(a, elapsed) <= b < calendar.add_business_days(a, elapsed + 1)


@given(calendar=CALENDARS, start=INSTANTS, n=st.integers(min_value=1, max_value=20))
def test_walking_back_lands_on_a_working_day_before(calendar: WorkingCalendar, start: datetime, n: int) -> None:
    earlier = calendar.add_business_days(start, -n)
    assert earlier < start
    assert calendar.is_working_day(calendar.local_date(earlier))

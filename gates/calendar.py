"""Working calendars: which days count towards an SLA, and when a number of business days runs out.

A calendar is a region's public holidays (the ``holidays`` library: its data is data, so using it keeps this
module pure) plus an IANA time zone. Days are judged in that zone: a round opened at 23:30 UTC on a Thursday
is opened on Friday in Asia/Shanghai, and counts from Friday there.

A working day is a weekday of the region (the library knows each region's weekend) that is not a public
holiday, or a weekend day the region made a working day: China's make-up working days (调休), which the
library lists in ``weekend_workdays``. China's arrangement for a year is published by the State Council late in
the year before; until a ``holidays`` release carries it, that year has only the fixed-date holidays and no
make-up days. Upgrading ``holidays`` is how a new year's arrangement arrives.

Rules for SLA arithmetic (``add_business_days``), chosen so that a request always gets whole working days:
- The due time keeps the local time of day of the start, on the n-th working day after the start's day:
  Friday 15:00 plus 1 business day is Monday 15:00. Hours of the day are not modelled, only days, so a request
  sent on Friday at 23:00 is due on Monday at 23:00.
- A start on a day that is not a working day counts from the next working day's start of business (09:00
  local by default): Saturday 10:00 plus 1 is Tuesday 09:00, because Monday is the first whole working day.
- A local time that does not exist on the due day (a daylight-saving gap) moves forward by the gap; one that
  occurs twice takes the first occurrence. Results are aware datetimes in the calendar's zone.

Holiday tables are built per (region, year) on first use and cached for the process: they never change for a
given library version, and a calendar spanning New Year builds just the two years it touches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.template import CalendarDef

if TYPE_CHECKING:
    import holidays

START_OF_BUSINESS = time(9, 0)
"""Where counting starts when a period opens on a day that is not a working day."""

_REGION = re.compile(r"^[A-Z]{2}$")
_REGION_EXAMPLES = "CN, US, GB, DE, JP, SG"


@cache
def _is_supported(region: str) -> bool:
    """Whether the library has ``region``; loads that region's module only (listing them all loads ~200).

    ``holidays`` is imported here and in ``_holidays_of``, not at the top: most commands import this module
    without computing a due date, and the import costs about 30 ms of their start-up.
    """
    import holidays

    try:
        holidays.country_holidays(region, years=[])
    except NotImplementedError:
        return False
    return True


@cache
def _holidays_of(region: str, year: int) -> holidays.HolidayBase:
    """One year of one region, never expanded afterwards, so the cached object is only ever read."""
    import holidays

    return holidays.country_holidays(region, years=year, expand=False)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name}: must be a timezone-aware datetime (for example 2026-10-09T15:00+08:00)")
    return value


@dataclass(frozen=True)
class WorkingCalendar:
    """Public holidays of ``region`` and the time zone that decides which day an instant falls on."""

    region: str = "US"
    timezone: str = "UTC"
    start_of_business: time = START_OF_BUSINESS
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _REGION.match(self.region) or not _is_supported(self.region):
            raise InputError(
                f"calendar.region: unknown region {self.region!r}; use an ISO 3166-1 alpha-2 code the holidays "
                f"library supports, for example {_REGION_EXAMPLES}"
            )
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise InputError(
                f"calendar.timezone: unknown time zone {self.timezone!r}; use an IANA name, for example "
                "Asia/Shanghai, America/New_York, Europe/London, UTC"
            ) from error
        if self.start_of_business.tzinfo is not None:
            raise InputError("calendar.start_of_business: must be a local time of day without a time zone")
        object.__setattr__(self, "zone", zone)

    @classmethod
    def from_def(cls, definition: CalendarDef) -> WorkingCalendar:
        """The calendar a lifecycle template declares."""
        return cls(region=definition.region, timezone=definition.timezone)

    # --- days ------------------------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Weekdays that are not public holidays, plus the region's make-up working days on weekends."""
        return bool(_holidays_of(self.region, d.year).is_working_day(d))

    def holiday_name(self, d: date) -> str | None:
        """The library's name for the holiday on ``d`` (for messages such as "due after National Day")."""
        name = _holidays_of(self.region, d.year).get(d)
        return None if name is None else str(name)

    def shift_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d`` (before it when n < 0); n == 0 gives ``d`` itself when it is a
        working day, else the next one. ``d`` itself is never counted as one of the n."""
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        current = d
        if n == 0:
            while not self.is_working_day(current):
                current += step
            return current
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
        return current

    def local_date(self, instant: datetime) -> date:
        """The calendar day ``instant`` falls on in this calendar's zone."""
        return _aware(instant, "instant").astimezone(self.zone).date()

    def at_local(self, d: date, time_of_day: time) -> datetime:
        """``time_of_day`` on ``d`` in this zone, a DST gap moved forward and a repeated hour taken first."""
        wall = datetime.combine(d, time_of_day.replace(tzinfo=None, fold=0)).replace(tzinfo=self.zone)
        return wall.astimezone(UTC).astimezone(self.zone)

    # --- SLA arithmetic -------------------------------------------------------------------------------------

    def _anchor(self, start: datetime) -> tuple[date, time]:
        """The day counting starts from and the local time of day the result keeps (see the module rules)."""
        local = _aware(start, "start").astimezone(self.zone)
        if self.is_working_day(local.date()):
            return local.date(), local.time()
        return self.shift_working_days(local.date(), 0), self.start_of_business

    def add_business_days(self, start: datetime, n: int) -> datetime:
        """The same local time of day on the n-th working day after ``start`` (see the module rules).

        n == 0 gives ``start`` when it falls on a working day, else the next working day's start of business.
        n < 0 walks back instead (used for "remind one business day before the due time"): the same local
        time of day on the |n|-th working day before the start's local day, with no start-of-business rule.
        """
        if n < 0:
            local = _aware(start, "start").astimezone(self.zone)
            return self.at_local(self.shift_working_days(local.date(), n), local.time())
        day, time_of_day = self._anchor(start)
        return self.at_local(self.shift_working_days(day, n) if n else day, time_of_day)

    def business_days_between(self, a: datetime, b: datetime) -> int:
        """Whole business days elapsed from ``a`` to ``b``: the largest n with ``add_business_days(a, n) <= b``
        (0 when ``b`` comes before ``a``'s first counted instant), and minus the count from ``b`` to ``a``
        when ``b < a``. So ``business_days_between(a, add_business_days(a, n)) == n`` for every n >= 0."""
        # Compared in UTC: Python compares two datetimes sharing a tzinfo by wall clock, which is wrong in the
        # hour that occurs twice when daylight saving ends.
        a_utc, b_utc = _aware(a, "a").astimezone(UTC), _aware(b, "b").astimezone(UTC)
        if b_utc < a_utc:
            return -self.business_days_between(b, a)
        day, time_of_day = self._anchor(a)
        if b_utc < self.at_local(day, time_of_day).astimezone(UTC):
            return 0
        end = b.astimezone(self.zone).date()
        count = 0
        current = day
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        if count and self.is_working_day(end) and self.at_local(end, time_of_day).astimezone(UTC) > b_utc:
            count -= 1
        return count

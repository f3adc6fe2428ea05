"""Reminder and escalation ladder of a round, condition steps, and the properties the scheduler relies on:
idempotent by step id, monotone in time, ordered by due time, and unable to decide anything.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import phasegate.gates.escalation as escalation
from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.escalation import (
    DEFAULT_LADDER,
    NotificationStep,
    condition_steps,
    plan_condition_steps,
    plan_notifications,
    round_steps,
)
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.errors import InputError

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
US = WorkingCalendar(region="US", timezone="America/New_York")
CN = WorkingCalendar(region="CN", timezone="Asia/Shanghai")
NONE: frozenset[str] = frozenset()

# Opened Monday before Thanksgiving with a 2-business-day SLA: due Wednesday 10:00.
OPENED = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
DUE = US.add_business_days(OPENED, 2)


def ny(day: int, month: int = 11, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=NEW_YORK)


def ids(steps: list[NotificationStep]) -> list[str]:
    return [step.id for step in steps]


def test_the_full_ladder_skips_thanksgiving_and_stops_at_the_top() -> None:
    assert ny(25) == DUE
    steps = round_steps(OPENED, DUE, calendar=US)
    assert [(s.id, s.kind, s.audience, s.due) for s in steps] == [
        ("remind-before", "reminder", "approver", ny(24)),
        ("remind-due", "reminder", "approver", ny(25)),
        ("escalate-1:delegate_or_manager", "escalation", "delegate_or_manager", ny(27)),  # Thursday 26 is off
        ("escalate-2:pmo", "escalation", "pmo", ny(30)),
        ("escalate-3:sponsor", "escalation", "sponsor", ny(1, month=12)),
    ]
    assert all(s.due.tzinfo is UTC for s in steps)


def test_nothing_before_the_first_step_then_exactly_what_is_due() -> None:
    assert plan_notifications(OPENED, DUE, ny(24) - timedelta(seconds=1), NONE, calendar=US) == []
    assert ids(plan_notifications(OPENED, DUE, ny(24), NONE, calendar=US)) == ["remind-before"]
    assert ids(plan_notifications(OPENED, DUE, ny(26, hour=12), frozenset({"remind-before"}), calendar=US)) == [
        "remind-due"
    ]


def test_a_late_scheduler_gets_every_overdue_step_at_once_in_order() -> None:
    later = datetime(2026, 12, 20, tzinfo=UTC)
    assert ids(plan_notifications(OPENED, DUE, later, NONE, calendar=US)) == ids(round_steps(OPENED, DUE, calendar=US))
    sent = frozenset({"remind-due", "escalate-2:pmo"})
    assert ids(plan_notifications(OPENED, DUE, later, sent, calendar=US)) == [
        "remind-before",
        "escalate-1:delegate_or_manager",
        "escalate-3:sponsor",
    ]


def test_after_the_top_of_the_ladder_nothing_more_is_ever_planned() -> None:
    everything = frozenset(ids(round_steps(OPENED, DUE, calendar=US)))
    for years in (1, 5):
        assert plan_notifications(OPENED, DUE, OPENED + timedelta(days=365 * years), everything, calendar=US) == []


def test_escalation_interval_and_a_short_ladder() -> None:
    steps = round_steps(OPENED, DUE, calendar=US, escalate_every_business_days=2, ladder=("approver", "pmo"))
    assert [(s.id, s.due) for s in steps] == [
        ("remind-before", ny(24)),
        ("remind-due", ny(25)),
        ("escalate-1:pmo", ny(30)),  # Friday 27 is 1 business day after, Monday 30 is 2
    ]
    only_reminders = round_steps(OPENED, DUE, calendar=US, ladder=("approver",))
    assert ids(only_reminders) == ["remind-before", "remind-due"]


def test_no_early_reminder_when_it_would_not_come_after_the_round_opened() -> None:
    one_day = US.add_business_days(OPENED, 1)
    assert "remind-before" not in ids(round_steps(OPENED, one_day, calendar=US))  # would be the opening moment
    assert "remind-before" in ids(round_steps(OPENED - timedelta(minutes=1), one_day, calendar=US))
    assert "remind-before" not in ids(round_steps(OPENED, DUE, calendar=US, remind_before_business_days=0))
    assert round_steps(OPENED, DUE, calendar=US, remind_before_business_days=2)[0].id == "remind-due"


def test_reminders_follow_the_chinese_calendar() -> None:
    opened = datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    due = CN.add_business_days(opened, 3)  # October 8, 9, and the make-up Saturday 10
    steps = round_steps(opened, due, calendar=CN)
    local = [(s.id, s.due.astimezone(SHANGHAI).date()) for s in steps]
    assert local == [
        ("remind-before", date(2026, 10, 9)),
        ("remind-due", date(2026, 10, 10)),
        ("escalate-1:delegate_or_manager", date(2026, 10, 12)),
        ("escalate-2:pmo", date(2026, 10, 13)),
        ("escalate-3:sponsor", date(2026, 10, 14)),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"now": datetime(2026, 11, 25, 10, 0)}, "now: must be a timezone-aware"),
        ({"due_at": OPENED - timedelta(days=1)}, "due_at: must not be before opened_at"),
        ({"escalate_every_business_days": 0}, "escalate_every_business_days: must be 1 or more"),
        ({"remind_before_business_days": -1}, "remind_before_business_days: must be 0"),
        ({"ladder": ()}, "ladder: must list at least one audience"),
        ({"ladder": ("approver", " ")}, "ladder: must list at least one audience"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"opened_at": OPENED, "due_at": DUE, "now": ny(30), "sent": NONE, "calendar": US}
    arguments.update(kwargs)
    with pytest.raises(InputError, match=message):
        plan_notifications(**arguments)  # type: ignore[arg-type]


# --- conditions --------------------------------------------------------------------------------------------


def test_condition_due_on_a_holiday_warns_the_working_day_before_and_misses_after_grace() -> None:
    steps = condition_steps(date(2026, 10, 3), 2, calendar=CN)
    assert [(s.id, s.kind, s.audience, s.due.astimezone(SHANGHAI)) for s in steps] == [
        ("condition-due", "reminder", "condition_owner", datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)),
        # Grace: October 8 and 9; missed at the start of the make-up Saturday, October 10.
        ("condition-missed", "escalation", "pmo", datetime(2026, 10, 10, 9, 0, tzinfo=SHANGHAI)),
    ]


def test_condition_with_no_grace_is_missed_the_next_working_morning() -> None:
    friday = date(2026, 11, 20)
    steps = condition_steps(friday, 0, calendar=US)
    assert [s.due for s in steps] == [ny(20, hour=9), ny(23, hour=9)]
    before = plan_condition_steps(friday, 0, ny(23, hour=8), NONE, US)
    assert ids(before) == ["condition-due"]
    assert ids(plan_condition_steps(friday, 0, ny(23, hour=9), frozenset(ids(before)), US)) == ["condition-missed"]
    assert plan_condition_steps(friday, 0, ny(1, month=12), frozenset(ids(steps)), US) == []


def test_condition_settings_are_checked() -> None:
    with pytest.raises(InputError, match="grace_business_days: must be 0"):
        condition_steps(date(2026, 11, 20), -1, calendar=US)
    with pytest.raises(InputError, match="now: must be a timezone-aware"):
        plan_condition_steps(date(2026, 11, 20), 1, datetime(2026, 11, 20), NONE, US)


# --- nothing decides ---------------------------------------------------------------------------------------


def test_the_module_has_no_way_to_decide() -> None:
    """A step only informs: its fields carry no outcome, and the module cannot even name one."""
    assert [f.name for f in dataclasses.fields(NotificationStep)] == ["id", "kind", "audience", "due"]
    tree = ast.parse(inspect.getsource(escalation))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {
        "__future__",
        "collections.abc",
        "dataclasses",
        "datetime",
        "typing",
        "phasegate.gates.calendar",
        "phasegate.gates.vocabulary.errors",
    }
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not names & {"Decision", "Recommendation", "RoundStatus", "GO", "KILL", "HOLD"}
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not strings & {d.value for d in Decision}
    public = {name for name, value in vars(escalation).items() if callable(value) and not name.startswith("_")}
    assert not {name for name in public if "decid" in name.lower() or "resolve" in name.lower()}


# --- properties --------------------------------------------------------------------------------------------

CALENDARS = st.sampled_from([US, CN, WorkingCalendar(region="US", timezone="UTC")])
INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC))
LADDERS = st.lists(st.sampled_from(DEFAULT_LADDER), min_size=1, max_size=5).map(tuple)


class RoundSetup(TypedDict):
    opened_at: datetime
    due_at: datetime
    calendar: WorkingCalendar
    remind_before_business_days: int
    ladder: Sequence[str]
    escalate_every_business_days: int


@st.composite
def rounds(draw: st.DrawFn) -> RoundSetup:
    calendar = draw(CALENDARS)
    opened = draw(INSTANTS)
    return {
        "opened_at": opened,
        "due_at": calendar.add_business_days(opened, draw(st.integers(min_value=0, max_value=10))),
        "calendar": calendar,
        "remind_before_business_days": draw(st.integers(min_value=0, max_value=3)),
        "ladder": draw(LADDERS),
        "escalate_every_business_days": draw(st.integers(min_value=1, max_value=3)),
    }


LATER = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=45))


@given(setup=rounds(), offset=LATER, data=st.data())
def test_planning_is_idempotent_ordered_and_complete(setup: RoundSetup, offset: timedelta, data: st.DataObject) -> None:
    everything = round_steps(**setup)
    sent = frozenset(data.draw(st.lists(st.sampled_from([s.id for s in everything]), unique=True)))
    opened = setup["opened_at"]
    now = opened + offset
    planned = plan_notifications(now=now, sent=sent, **setup)
    dues = [s.due for s in planned]
    assert dues == sorted(dues)
    assert all(s.id not in sent and s.due <= now for s in planned)
    assert ids(planned) == [s.id for s in everything if s.id not in sent and s.due <= now]  # nothing left behind
    assert all(s.kind in ("reminder", "escalation") for s in planned)
    again = plan_notifications(now=now, sent=sent | set(ids(planned)), **setup)
    assert again == []


@given(setup=rounds(), first=LATER, gap=LATER)
def test_a_later_now_never_unplans_a_step(setup: RoundSetup, first: timedelta, gap: timedelta) -> None:
    opened = setup["opened_at"]
    early = plan_notifications(now=opened + first, sent=NONE, **setup)
    late = plan_notifications(now=opened + first + gap, sent=NONE, **setup)
    assert set(ids(early)) <= set(ids(late))
    assert ids(late)[: len(early)] == ids(early)  # what was due earlier comes first


@given(setup=rounds(), ticks=st.lists(LATER, min_size=1, max_size=8))
def test_a_scheduler_ticking_at_any_times_sends_each_step_once_in_order(
    setup: RoundSetup, ticks: list[timedelta]
) -> None:
    opened = setup["opened_at"]
    sent: frozenset[str] = NONE
    log: list[NotificationStep] = []
    for tick in sorted(ticks):
        batch = plan_notifications(now=opened + tick, sent=sent, **setup)
        log.extend(batch)
        sent = sent | set(ids(batch))
    assert len(ids(log)) == len(set(ids(log)))
    assert [s.due for s in log] == sorted(s.due for s in log)
    last = opened + max(ticks)
    everything = round_steps(**setup)
    assert ids(log) == [s.id for s in everything if s.due <= last]


@given(
    calendar=CALENDARS,
    due=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 6, 30)),
    grace=st.integers(min_value=0, max_value=10),
    offset=st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=40)),
)
def test_condition_steps_are_ordered_idempotent_and_on_working_days(
    calendar: WorkingCalendar, due: date, grace: int, offset: timedelta
) -> None:
    steps = condition_steps(due, grace, calendar=calendar)
    reminder, missed = steps
    assert reminder.due < missed.due
    assert calendar.local_date(reminder.due) <= due < calendar.local_date(missed.due)
    assert all(calendar.is_working_day(calendar.local_date(s.due)) for s in steps)
    assert calendar.business_days_between(calendar.at_local(due, calendar.start_of_business), missed.due) >= grace
    now = datetime.combine(due, datetime.min.time(), tzinfo=UTC) + offset
    planned = plan_condition_steps(due, grace, now, NONE, calendar)
    assert plan_condition_steps(due, grace, now, frozenset(ids(planned)), calendar) == []
    assert ids(planned) == [s.id for s in steps if s.due <= now]

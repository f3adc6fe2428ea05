"""Reminders and the escalation ladder of an open approval round, and the due/missed steps of a condition.

The plan is a pure function of the round's times, the calendar, ``now`` and the ids of the steps already
sent: the scheduled flow calls it, sends what it returns, and records each id as sent in the same
transaction as the outbox row. Because a step's id is stable and a sent id is never planned again, running
the schedule twice, or late, or after a crash sends each step once; a schedule that was down for days sends
every step whose time has come at once, oldest first, so the audit trail still reads in order.

The ladder for a round (all times from the calendar's business-day arithmetic):
- ``remind-before``: the approvers, ``remind_before_business_days`` before the due time. Left out when that
  moment is not after the round opened (a short SLA: the request itself was the reminder) or when the
  setting is 0.
- ``remind-due``: the approvers, at the due time.
- ``escalate-k:<audience>``: k * ``escalate_every_business_days`` business days after the due time, to
  ``ladder[k]``, for k = 1 .. len(ladder) - 1. ``ladder[0]`` is who is reminded; each escalation climbs one
  rung. The top rung is the final step: nothing repeats after it. A round that is still open then stays
  visible in the overdue report, but no one is paged daily forever (people learn to ignore that).

Nothing here decides. A step informs people; the round resolves only through gatekeepers' votes, so nothing
becomes GO, or anything else, by timeout. A missed condition yields a ``condition-missed`` step and the use
case *proposes* HOLD or KILL to the gatekeepers; it does not apply it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.vocabulary.errors import InputError

StepKind = Literal["reminder", "escalation"]

REMIND_BEFORE = "remind-before"
REMIND_DUE = "remind-due"
ESCALATE_PREFIX = "escalate-"
CONDITION_DUE = "condition-due"
CONDITION_MISSED = "condition-missed"

DEFAULT_LADDER: tuple[str, ...] = ("approver", "delegate_or_manager", "pmo", "sponsor")


@dataclass(frozen=True)
class NotificationStep:
    """One message to send: ``id`` is stable across plans (the idempotency key), ``due`` is when it is due, in
    UTC (what the outbox stores, and what compares correctly in the hour that repeats when daylight saving ends;
    the calendar's ``zone`` turns it back into local time for a message)."""

    id: str
    kind: StepKind
    audience: str
    due: datetime


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name}: must be a timezone-aware datetime (for example 2026-10-09T15:00+08:00)")


def _due_now(steps: list[NotificationStep], now: datetime, sent: frozenset[str]) -> list[NotificationStep]:
    """Steps whose time has come and that were not sent, by due time (ties keep the ladder's order)."""
    ready = [(step.due, index, step) for index, step in enumerate(steps) if step.id not in sent and step.due <= now]
    return [step for _, _, step in sorted(ready, key=lambda item: (item[0], item[1]))]


def round_steps(
    opened_at: datetime,
    due_at: datetime,
    *,
    calendar: WorkingCalendar,
    remind_before_business_days: int = 1,
    ladder: Sequence[str] = DEFAULT_LADDER,
    escalate_every_business_days: int = 1,
) -> list[NotificationStep]:
    """Every step a round will ever have, whether due yet or not (for "next reminder at ..." displays)."""
    _aware(opened_at, "opened_at")
    _aware(due_at, "due_at")
    if due_at.astimezone(UTC) < opened_at.astimezone(UTC):
        raise InputError("due_at: must not be before opened_at")
    if remind_before_business_days < 0:
        raise InputError("remind_before_business_days: must be 0 (no early reminder) or more")
    if escalate_every_business_days < 1:
        raise InputError("escalate_every_business_days: must be 1 or more")
    if not ladder or any(not audience.strip() for audience in ladder):
        raise InputError("ladder: must list at least one audience (who is reminded first), none of them blank")
    steps: list[NotificationStep] = []
    if remind_before_business_days:
        before = calendar.add_business_days(due_at, -remind_before_business_days).astimezone(UTC)
        if before > opened_at.astimezone(UTC):
            steps.append(NotificationStep(REMIND_BEFORE, "reminder", ladder[0], before))
    steps.append(NotificationStep(REMIND_DUE, "reminder", ladder[0], due_at.astimezone(UTC)))
    for k, audience in enumerate(ladder[1:], start=1):
        when = calendar.add_business_days(due_at, k * escalate_every_business_days).astimezone(UTC)
        steps.append(NotificationStep(f"{ESCALATE_PREFIX}{k}:{audience}", "escalation", audience, when))
    return steps


def plan_notifications(
    opened_at: datetime,
    due_at: datetime,
    now: datetime,
    sent: frozenset[str],
    *,
    remind_before_business_days: int = 1,
    ladder: Sequence[str] = DEFAULT_LADDER,
    escalate_every_business_days: int = 1,
    calendar: WorkingCalendar,
) -> list[NotificationStep]:
    """The reminders and escalations of a round that are due at ``now`` and not in ``sent``, oldest first.

    Call it only while the round is open: a decided round needs no reminders, and that is the caller's
    check (this module knows nothing of votes).
    """
    _aware(now, "now")
    steps = round_steps(
        opened_at,
        due_at,
        calendar=calendar,
        remind_before_business_days=remind_before_business_days,
        ladder=ladder,
        escalate_every_business_days=escalate_every_business_days,
    )
    return _due_now(steps, now, sent)


def condition_steps(
    due: date,
    grace_business_days: int,
    *,
    calendar: WorkingCalendar,
    owner_audience: str = "condition_owner",
    missed_audience: str = "pmo",
) -> list[NotificationStep]:
    """Both steps of a condition of a CONDITIONAL_GO, whether due yet or not.

    ``condition-due`` comes at start of business on the due date, or on the last working day before it when the
    due date is not a working day, so the owner hears while there is still a working day to act. The grace
    period ends when the ``grace_business_days``-th working day after the due date is over; ``condition-missed``
    comes at start of business on the next working day, when someone is there to act on it.
    """
    if grace_business_days < 0:
        raise InputError("grace_business_days: must be 0 (missed the day after the due date) or more")
    if not owner_audience.strip() or not missed_audience.strip():
        raise InputError("owner_audience, missed_audience: must not be blank")
    reminder_day = due if calendar.is_working_day(due) else calendar.shift_working_days(due, -1)
    missed_day = calendar.shift_working_days(due, grace_business_days + 1)
    reminder_at = calendar.at_local(reminder_day, calendar.start_of_business).astimezone(UTC)
    missed_at = calendar.at_local(missed_day, calendar.start_of_business).astimezone(UTC)
    return [
        NotificationStep(CONDITION_DUE, "reminder", owner_audience, reminder_at),
        NotificationStep(CONDITION_MISSED, "escalation", missed_audience, missed_at),
    ]


def plan_condition_steps(
    due: date,
    grace_business_days: int,
    now: datetime,
    sent: frozenset[str],
    calendar: WorkingCalendar,
    *,
    owner_audience: str = "condition_owner",
    missed_audience: str = "pmo",
) -> list[NotificationStep]:
    """The steps of one condition due at ``now`` and not in ``sent``. A returned ``condition-missed`` tells
    the use case to propose HOLD or KILL to the gatekeepers (as DOMAIN.md asks); it is never a decision.
    Call it only while the condition is open: a condition verified as met needs no steps."""
    _aware(now, "now")
    steps = condition_steps(
        due,
        grace_business_days,
        calendar=calendar,
        owner_audience=owner_audience,
        missed_audience=missed_audience,
    )
    return _due_now(steps, now, sent)

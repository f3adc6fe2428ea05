"""Events: what a use case reports happened, so the composition root can react after the commit.

Why events rather than door code: a vote from the CLI, the approval page or the REST API must lead to the
same follow-up (a ``gate-decision`` flow run for a resolved round, the outbox dispatched). The use case
knows what happened; it says so in its result, and one after-commit handler (``flows.runtime``) reacts.
Events are facts about committed state: a handler may run them late or twice (every reaction is idempotent).
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from phasegate.gates.vocabulary.enums import Decision, Recommendation


class Event(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)


class ReviewRecorded(Event):
    """A gate was evaluated and the evaluation recorded (a new review, or a refresh of an open round's)."""

    name: Literal["review.recorded"] = "review.recorded"
    review_id: UUID
    project_key: str
    gate_id: str
    recommendation: Recommendation
    round_id: UUID | None = None


class RoundResolved(Event):
    """A round's outcome became certain: its decision waits to be applied by the gate-decision flow."""

    name: Literal["round.resolved"] = "round.resolved"
    round_id: UUID
    project_key: str
    decision: Decision


class NotificationsQueued(Event):
    """Rows were written to the outbox in the committed transaction: the dispatcher has work."""

    name: Literal["notifications.queued"] = "notifications.queued"
    count: int


DomainEvent = ReviewRecorded | RoundResolved | NotificationsQueued


def queued(count: int) -> tuple[NotificationsQueued, ...]:
    """The event for ``count`` outbox rows, or nothing when none were written."""
    return (NotificationsQueued(count=count),) if count > 0 else ()

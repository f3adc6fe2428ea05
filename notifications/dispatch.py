"""Deliver the outbox: claim due rows, send each through Apprise, record what happened.

Why an outbox: services write notification rows in the same transaction as the decision that caused them,
so a notification exists if and only if the decision committed; this dispatcher runs afterwards and a failed
delivery never undoes anything. It only ever touches ``outbox`` rows.

How a row is sent once, even with several dispatchers running:
1. *Claim* in one short transaction: due rows (pending or failed, ``next_attempt_at <= now``, no live lease)
   get ``lease_until = now + lease_seconds``. On PostgreSQL the select uses ``FOR UPDATE SKIP LOCKED`` so
   dispatchers take disjoint rows without waiting; on SQLite the engine starts every transaction with
   ``BEGIN IMMEDIATE``, so claims are serialized. The lease value is the claim marker: a later claim of
   the same row (after this lease expired) always writes a later value.
2. *Send* outside any transaction (a slow receiver must not hold a database lock), one ``apprise.Apprise()``
   per row holding exactly that row's target. A send starts only while the lease still has room for a
   whole send (``send_timeout_seconds``); rows that run out of room are released for the next run.
3. *Record* in another short transaction, guarded by ``lease_until = <our lease>``: if another dispatcher
   re-claimed the row meanwhile, our write is dropped and counted as ``lease_lost``.

A send Apprise stopped waiting for (its call deadline, ``send_timeout_seconds``) may or may not have
arrived: it becomes ``maybe_sent`` and is not retried automatically, since a repeat could reach a person
twice. A plugin's own socket timeout (e.g. the HTTP read timeout, ``rto``, 4 s by default) is reported by
Apprise 2.0 as a plain failure, indistinguishable at warning level from a refused connection, so it is
retried. Every message therefore carries its idempotency key (a footer line, and an ``X-Idempotency-Key``
header for json/form/xml targets) so a receiver can drop such repeats and those of the one remaining gap
(a dispatcher dying between send and record).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.vocabulary.enums import OutboxStatus
from phasegate.gates.vocabulary.errors import ConflictError, InputError, NotFoundError
from phasegate.models.tables import OutboxMessage
from phasegate.notifications.targets import redact_target

if TYPE_CHECKING:
    from phasegate.notifications.delivery import Delivery
    from phasegate.notifications.links import LinkSigner

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class DispatchReport:
    """What one ``dispatch_due`` call did. ``released``: claimed but not sent because the lease ran short."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    maybe_sent: int = 0
    released: int = 0
    lease_lost: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain counts, for flow results and artifacts."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


class _Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    MAYBE_SENT = "maybe_sent"
    RELEASED = "released"
    LEASE_LOST = "lease_lost"


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: uuid.UUID
    idempotency_key: str
    kind: str
    target: str
    locale: str
    context: dict[str, Any]
    attempts: int
    lease_until: datetime
    recipient_id: str | None


def dispatch_due(
    session_factory: sessionmaker[Session],
    *,
    now: datetime | None = None,
    batch_size: int = 100,
    max_attempts: int = 5,
    lease_seconds: int = 60,
    worker_id: str | None = None,
    send_timeout_seconds: float = 20.0,
    concurrency: int = 8,
    links: LinkSigner | None = None,
) -> DispatchReport:
    """Claim up to ``batch_size`` due outbox rows, send them, record each result; never raises for delivery.

    ``now`` fixes the clock for every timestamp this call writes (tests move it forward to make retries due);
    by default the wall clock is read at each step. ``links`` signs the approval links rows store as link
    requests (``notifications.links``): a row holding one fails, and is retried, while there is no signer.
    """
    if batch_size < 1:
        raise InputError(f"batch_size: must be at least 1, got {batch_size}")
    if max_attempts < 1:
        raise InputError(f"max_attempts: must be at least 1, got {max_attempts}")
    if send_timeout_seconds <= 0:
        raise InputError(f"send_timeout_seconds: must be positive, got {send_timeout_seconds}")
    if lease_seconds <= send_timeout_seconds:
        raise InputError(
            f"lease_seconds: must exceed send_timeout_seconds ({send_timeout_seconds}) so a send ends inside its "
            f"lease, got {lease_seconds}"
        )
    if concurrency < 1:
        raise InputError(f"concurrency: must be at least 1, got {concurrency}")
    if now is not None and now.tzinfo is None:
        raise InputError("now: must be a timezone-aware datetime")
    worker = worker_id or f"dispatcher-{uuid.uuid4().hex[:8]}"

    def clock() -> datetime:
        return now if now is not None else datetime.now(UTC)

    claimed = _claim(session_factory, clock(), batch_size, lease_seconds)
    if not claimed:
        return DispatchReport()
    # Last moment a send may start and still finish (Apprise's call deadline) before the lease expires.
    send_deadline = time.monotonic() + lease_seconds - send_timeout_seconds

    from phasegate.notifications.delivery import deliver as send  # Apprise is loaded only when there is a row to send

    def deliver(row: _Claimed) -> _Outcome:
        if time.monotonic() > send_deadline:
            return _release(session_factory, row)
        delivery = send(row, send_timeout_seconds, links=links)
        return _record(session_factory, row, delivery, clock(), max_attempts)

    with ThreadPoolExecutor(max_workers=min(concurrency, len(claimed)), thread_name_prefix=worker) as pool:
        outcomes = Counter(pool.map(deliver, claimed))
    report = DispatchReport(
        claimed=len(claimed),
        sent=outcomes[_Outcome.SENT],
        failed=outcomes[_Outcome.FAILED],
        dead=outcomes[_Outcome.DEAD],
        maybe_sent=outcomes[_Outcome.MAYBE_SENT],
        released=outcomes[_Outcome.RELEASED],
        lease_lost=outcomes[_Outcome.LEASE_LOST],
    )
    logger.info("%s dispatched outbox batch: %s", worker, report)
    return report


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outbox row as shown to people: the target redacted, the error as recorded (already scrubbed)."""

    id: uuid.UUID
    idempotency_key: str
    kind: str
    recipient_id: str | None
    target: str
    locale: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (ids and times as strings)."""
        shown: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, uuid.UUID):
                value = str(value)
            shown[item.name] = value
        return shown


def list_outbox(
    session_factory: sessionmaker[Session], *, statuses: Sequence[OutboxStatus] = (), limit: int = 100
) -> list[OutboxEntry]:
    """The newest ``limit`` outbox rows (only ``statuses`` when given), targets redacted for display."""
    if limit < 1:
        raise InputError(f"limit: must be at least 1, got {limit}")
    table = OutboxMessage
    query = select(table).order_by(table.created_at.desc(), table.id).limit(limit)
    if statuses:
        query = query.where(table.status.in_([status.value for status in statuses]))
    with session_factory() as session:
        rows = session.execute(query).scalars().all()
        return [
            OutboxEntry(
                id=row.id,
                idempotency_key=row.idempotency_key,
                kind=row.kind,
                recipient_id=row.recipient_id,
                target=redact_target(row.target),
                locale=row.locale,
                status=OutboxStatus(row.status),
                attempts=row.attempts,
                next_attempt_at=row.next_attempt_at,
                last_error=row.last_error,
                created_at=row.created_at,
                sent_at=row.sent_at,
            )
            for row in rows
        ]


_RETRYABLE = (OutboxStatus.FAILED, OutboxStatus.DEAD, OutboxStatus.MAYBE_SENT)


def requeue(
    session_factory: sessionmaker[Session], *, ref: str | None = None, all_dead: bool = False, now: datetime
) -> int:
    """Make rows due again with a fresh attempt budget: one row by id (or idempotency key), or every dead row.

    Why a person decides this: a dead row failed ``max_attempts`` times and a ``maybe_sent`` one may already
    have arrived, so only someone who fixed the target (or checked with the receiver) should send it again.
    A sent row is a ConflictError (it would arrive twice); a row a dispatcher is sending right now too.
    """
    if (ref is None) == (not all_dead):
        raise InputError("notify retry: give either one ID or --all-dead")
    table = OutboxMessage
    reset = {"status": OutboxStatus.PENDING.value, "attempts": 0, "next_attempt_at": now, "lease_until": None}
    not_leased = or_(table.lease_until.is_(None), table.lease_until <= now)
    with session_factory() as session, session.begin():
        if all_dead:
            result = session.execute(
                update(table)
                .where(table.status == OutboxStatus.DEAD.value, not_leased)
                .values(**reset)
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0)
        assert ref is not None
        row = session.execute(select(table).where(_ref_filter(ref))).scalar_one_or_none()
        if row is None:
            raise NotFoundError(
                f"ID: no outbox message has id or idempotency key {ref!r}; see 'phasegate notify list'",
                code="outbox.not_found",
            )
        status = OutboxStatus(row.status)
        if status == OutboxStatus.SENT:
            raise ConflictError(
                f"ID {row.id}: already sent at {row.sent_at}; sending again would deliver it twice",
                code="outbox.already_sent",
            )
        if status not in _RETRYABLE:
            return 0  # pending: already queued
        if row.lease_until is not None and row.lease_until > now:
            raise ConflictError(f"ID {row.id}: a dispatcher is sending it right now; try again in a minute")
        row.status = OutboxStatus.PENDING.value
        row.attempts = 0
        row.next_attempt_at = now
        row.lease_until = None
        return 1


def _ref_filter(ref: str) -> Any:
    try:
        return OutboxMessage.id == uuid.UUID(ref)
    except ValueError:
        return OutboxMessage.idempotency_key == ref


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempts`` (1-based): 30 s doubling to a 1 h cap, with equal jitter.

    Equal jitter (half fixed, half random) keeps every retry at least half the nominal delay away, so a
    receiver that is down is not hammered, while spreading retries of a burst that failed together.
    """
    nominal = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempts - 1))
    draw: float = (rng or random).random()
    return nominal / 2 + draw * nominal / 2


def _claim(
    session_factory: sessionmaker[Session], now: datetime, batch_size: int, lease_seconds: int
) -> list[_Claimed]:
    table = OutboxMessage
    lease_until = now + timedelta(seconds=lease_seconds)
    with session_factory() as session, session.begin():
        query = (
            select(
                table.id,
                table.idempotency_key,
                table.kind,
                table.target,
                table.locale,
                table.context,
                table.attempts,
                table.recipient_id,
            )
            .where(
                table.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value]),
                table.next_attempt_at <= now,
                or_(table.lease_until.is_(None), table.lease_until <= now),
            )
            .order_by(table.next_attempt_at, table.id)
            .limit(batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return []
        session.execute(
            update(table)
            .where(table.id.in_([row.id for row in rows]))
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
    return [
        _Claimed(
            id=row.id,
            idempotency_key=row.idempotency_key,
            kind=row.kind,
            target=row.target,
            locale=row.locale,
            context=dict(row.context or {}),
            attempts=row.attempts,
            lease_until=lease_until,
            recipient_id=row.recipient_id,
        )
        for row in rows
    ]


def _record(
    session_factory: sessionmaker[Session], row: _Claimed, delivery: Delivery, now: datetime, max_attempts: int
) -> _Outcome:
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "lease_until": None, "last_error": delivery.error}
    if delivery.status == OutboxStatus.SENT:
        outcome = _Outcome.SENT
        values.update(status=OutboxStatus.SENT.value, sent_at=now)
    elif delivery.status == OutboxStatus.MAYBE_SENT:
        outcome = _Outcome.MAYBE_SENT
        values.update(status=OutboxStatus.MAYBE_SENT.value)
    elif delivery.status == OutboxStatus.DEAD or attempts >= max_attempts:
        outcome = _Outcome.DEAD
        values.update(status=OutboxStatus.DEAD.value)
    else:
        outcome = _Outcome.FAILED
        values.update(
            status=OutboxStatus.FAILED.value, next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts))
        )
    if not _update_if_still_ours(session_factory, row, values):
        logger.warning("outbox %s: lease lost before recording %s; another dispatcher owns it", row.id, outcome)
        return _Outcome.LEASE_LOST
    if outcome is not _Outcome.SENT:
        logger.warning("outbox %s to %s: %s (%s)", row.id, redact_target(row.target), outcome, delivery.error)
    return outcome


def _release(session_factory: sessionmaker[Session], row: _Claimed) -> _Outcome:
    _update_if_still_ours(session_factory, row, {"lease_until": None})
    return _Outcome.RELEASED


def _update_if_still_ours(session_factory: sessionmaker[Session], row: _Claimed, values: dict[str, Any]) -> bool:
    table = OutboxMessage
    with session_factory() as session, session.begin():
        result = session.execute(
            update(table)
            .where(table.id == row.id, table.lease_until == row.lease_until)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

"""The SQL unit of work: one connection, one transaction, one repository per aggregate, snapshots out.

Nothing here commits on its own: ``commit()`` is called once by a service, and leaving the ``with`` block
without it rolls back. Row locks (``FOR UPDATE``) matter on PostgreSQL; SQLite transactions already hold
the write lock from their ``BEGIN IMMEDIATE``.

The repositories (``models.repositories``, one module per aggregate) are built when first used in the block and
share its transaction: its Core connection, taken when first used, and an ORM session on that connection, made
only when a repository needs the mapped classes (``models.repositories.repository``). So everything a use case
does through ``tx.projects``, ``tx.reviews`` and the rest is one transaction, and a command that only reads
(``gate check``) imports neither the ORM nor the mapped classes. What is not any aggregate's stays here: the
audit journal, the outbox and the steps taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from phasegate.gates.audit import SECURITY_REFUSED
from phasegate.gates.vocabulary.snapshots import OutboxRequest
from phasegate.models import catalog as c
from phasegate.models import statements as q
from phasegate.models.audit_store import AuditDraft, lock_audit_head, write_audit_entries
from phasegate.models.db import committing, pipelined
from phasegate.models.prepared import Prepared, send_deferred
from phasegate.models.row_keys import new_row_key

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from phasegate.models.repositories.conditions import SqlConditions
    from phasegate.models.repositories.delegations import SqlDelegations
    from phasegate.models.repositories.evidence import SqlEvidence
    from phasegate.models.repositories.lessons import SqlLessons
    from phasegate.models.repositories.monitoring import SqlMonitoring
    from phasegate.models.repositories.people import SqlPeople
    from phasegate.models.repositories.projects import SqlProjects
    from phasegate.models.repositories.reports import SqlReports
    from phasegate.models.repositories.repository import ClashTranslator
    from phasegate.models.repositories.resources import SqlResources
    from phasegate.models.repositories.reviews import SqlReviews
    from phasegate.models.repositories.strategy import SqlStrategy
    from phasegate.models.repositories.templates import SqlTemplates
    from phasegate.models.repositories.tolerances import SqlTolerances

_INSERT_OUTBOX = Prepared(q.INSERT_OUTBOX)  # every commit that notifies: on the driver (models.prepared)

OrgRoute = Callable[[Sequence[str]], list[str]]
"""Organisation targets (Apprise URLs) for a set of tags, OR-ed: injected by entry points from the org config."""


class SqlUnitOfWork:
    """One transaction over phasegate's tables (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        org_route: OrgRoute | None = None,
        org_locale: str = "en",
        audit_key: bytes | None = None,
    ) -> None:
        """``engine``: the database's (``models.db.reader_engine`` of it for a unit that only reads)."""
        self._engine = engine
        self._audit_key = audit_key
        self._org_route = org_route
        self._org_locale = org_locale
        self._audit: list[AuditDraft] = []
        self._outbox: list[dict[str, Any]] = []  # rows queued by ``enqueue``, written at commit with the audit
        self._connection: Connection | None = None
        self._session: Session | None = None
        self._clashes: list[ClashTranslator] = []  # see ``on_clash``

    def __enter__(self) -> Self:  # the connection and the session are taken on first use (``__exit__`` drops them)
        for name in _REPOSITORIES:  # a unit entered again starts with fresh repositories (their caches are its own)
            self.__dict__.pop(name, None)
        return self

    @property
    def connection(self) -> Connection:
        """The transaction's Core connection, taken and begun on first use (a unit that fails before it reads
        takes no connection and, on SQLite, no write lock)."""
        if self._connection is None:
            connection = self._engine.connect()
            connection.begin()
            self._connection = connection
        return self._connection

    @property
    def session(self) -> Session:
        """An ORM session in the unit's transaction, made when a repository first needs the mapped classes.

        It joins the connection's transaction without owning it (``rollback_only``): the unit commits the
        connection after flushing the session, and a failed flush rolls the transaction back, as a session that
        owned it would.
        """
        if self._session is None:
            from sqlalchemy.orm import Session

            self._session = Session(bind=self.connection, join_transaction_mode="rollback_only", expire_on_commit=False)
        return self._session

    # The repositories, each made when a use case first asks in this transaction, from a module imported then: a
    # command imports only what it uses (``gate check`` reads projects, templates and evidence, and so never
    # imports the ORM classes the writers load). Each stands on the unit's transaction.
    @cached_property
    def people(self) -> SqlPeople:
        from phasegate.models.repositories.people import SqlPeople

        return SqlPeople(self)

    @cached_property
    def templates(self) -> SqlTemplates:
        from phasegate.models.repositories.templates import SqlTemplates

        return SqlTemplates(self)

    @cached_property
    def projects(self) -> SqlProjects:
        from phasegate.models.repositories.projects import SqlProjects

        return SqlProjects(self)

    @cached_property
    def evidence(self) -> SqlEvidence:
        from phasegate.models.repositories.evidence import SqlEvidence

        return SqlEvidence(self)

    @cached_property
    def reviews(self) -> SqlReviews:
        from phasegate.models.repositories.reviews import SqlReviews

        return SqlReviews(self)

    @cached_property
    def delegations(self) -> SqlDelegations:
        from phasegate.models.repositories.delegations import SqlDelegations

        return SqlDelegations(self)

    @cached_property
    def conditions(self) -> SqlConditions:
        from phasegate.models.repositories.conditions import SqlConditions

        return SqlConditions(self)

    @cached_property
    def lessons(self) -> SqlLessons:
        from phasegate.models.repositories.lessons import SqlLessons

        return SqlLessons(self)

    @cached_property
    def resources(self) -> SqlResources:
        from phasegate.models.repositories.resources import SqlResources

        return SqlResources(self)

    @cached_property
    def tolerances(self) -> SqlTolerances:
        from phasegate.models.repositories.tolerances import SqlTolerances

        return SqlTolerances(self)

    @cached_property
    def monitoring(self) -> SqlMonitoring:
        from phasegate.models.repositories.monitoring import SqlMonitoring

        return SqlMonitoring(self)

    @cached_property
    def reports(self) -> SqlReports:
        from phasegate.models.repositories.reports import SqlReports

        return SqlReports(self)

    @cached_property
    def strategy(self) -> SqlStrategy:
        from phasegate.models.repositories.strategy import SqlStrategy

        return SqlStrategy(self)

    def __exit__(self, *exc: object) -> None:
        self._audit.clear()
        self._outbox.clear()
        clashes, self._clashes = self._clashes, []
        session, connection = self._session, self._connection
        self._session = self._connection = None
        if connection is None:
            return
        try:
            if session is not None:
                session.close()  # leaves the joined transaction to the connection
            connection.rollback()  # nothing to undo after a commit
        finally:
            connection.close()
        error = exc[1] if len(exc) > 1 else None
        if isinstance(error, IntegrityError):
            for translate in clashes:
                if (translated := translate(error)) is not None:
                    raise translated from error

    def on_clash(self, translate: ClashTranslator) -> None:
        """A deferred write's clash on a unique key (``Prepared.defer``) is raised by whatever statement follows it,
        or by the commit: ``translate`` turns it into its writer's own error as it leaves the unit, rolled back."""
        self._clashes.append(translate)

    def commit(self) -> None:
        """Write the queued outbox rows and append the buffered audit entries (one lock and one chain-head read for
        the whole transaction), then commit. On PostgreSQL the outbox rows, the lock and the head read leave in one
        pipeline (``models.db.pipelined``), and the audit insert with the COMMIT in another (``models.db.committing``):
        two round trips, not five. A unit with neither skips the first pipeline (an empty one still costs a round
        trip); its deferred writes, if any, leave with the COMMIT."""
        if self._session is not None:
            self._session.flush()  # the ORM's pending rows first: its flush reads results, a pipeline gives it none
        connection = self.connection
        read_head = None
        if self._outbox or self._audit:
            with pipelined(connection):
                send_deferred(connection)  # the writes deferred (models.prepared) join the pipeline, in order
                if self._outbox:
                    _INSERT_OUTBOX.run(connection, self._outbox)
                if self._audit:
                    read_head = lock_audit_head(connection)
        with committing(connection):
            if read_head is not None:
                write_audit_entries(connection, read_head(), self._audit, key=self._audit_key)
        self._audit.clear()
        self._outbox.clear()

    def together(self) -> AbstractContextManager[None]:
        """The repositories' reads sent ahead inside leave in one pipeline (``models.read_ahead``)."""
        return pipelined(self.connection)

    def steps_taken(self, subject: str) -> frozenset[str]:
        return frozenset(
            self.connection.scalars(
                select(c.NOTIFICATION_STEPS.c.step).where(c.NOTIFICATION_STEPS.c.subject == subject)
            )
        )

    def record_steps(self, subject: str, steps: Sequence[str], *, now: datetime) -> None:
        if steps:
            self.connection.execute(
                insert(c.NOTIFICATION_STEPS), [{"subject": subject, "step": step, "taken_at": now} for step in steps]
            )

    def count_refusals(self, *, person_id: str, code: str, since: datetime) -> int:
        """Security refusals with ``code`` of ``person_id`` since ``since`` (read from the audit log, so every
        server process and CLI sees the same count), through the partial index ``ix_audit_log_refusals``."""
        audit = c.AUDIT_LOG.c
        rows = self.connection.execute(
            select(audit.payload["code"].as_string(), audit.payload["person"].as_string()).where(
                audit.action == SECURITY_REFUSED, audit.at >= since
            )
        )
        return sum(1 for found, person in rows if found == code and person == person_id)

    def claim_step(self, subject: str, step: str, *, now: datetime) -> bool:
        """Record that ``step`` was taken for ``subject``; ``False`` when it already was (by this or a racing
        transaction: the savepoint keeps the rest of the transaction)."""
        try:
            with self.connection.begin_nested():
                self.connection.execute(insert(c.NOTIFICATION_STEPS).values(subject=subject, step=step, taken_at=now))
        except IntegrityError:
            return False
        return True

    def append_audit(self, *, actor: str, action: str, entity: str, payload: dict[str, Any], at: datetime) -> None:
        self._audit.append(AuditDraft(actor=actor, action=action, entity=entity, payload=payload, at=at))

    def enqueue(self, items: Sequence[OutboxRequest], *, now: datetime) -> int:
        rows = [row for item in items for row in self._expand(item)]
        self._outbox.extend(
            [
                {
                    "id": new_row_key(),
                    "idempotency_key": item.idempotency_key,
                    "kind": item.kind,
                    "recipient_id": item.recipient_id,
                    "target": item.target,
                    "locale": item.locale,
                    "context": item.context,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for item in rows
            ]
        )
        return len(rows)

    def _expand(self, item: OutboxRequest) -> list[OutboxRequest]:
        """A personal request is one row; an organisation notice becomes one row per tagged org target."""
        if item.target:
            return [item]
        if self._org_route is None or not item.tags:
            return []
        return [
            item.model_copy(
                update={
                    "target": url,
                    "locale": self._org_locale,
                    "idempotency_key": f"{item.idempotency_key}:{hashlib.sha256(url.encode()).hexdigest()[:16]}",
                }
            )
            for url in self._org_route(item.tags)
        ]


_REPOSITORIES = tuple(name for name, value in vars(SqlUnitOfWork).items() if isinstance(value, cached_property))
"""The unit's repositories by name: what ``__enter__`` drops so a unit entered again starts with fresh ones."""

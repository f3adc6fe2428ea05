"""What every SQL repository stands on: its unit of work's transaction, as a Core connection and, for the
writers that map rows to objects, an ORM session on that same connection.

Why both: most reads (a `gate check`, a listing, a page) are Core statements, which need no ORM; the session is
made the first time a repository asks for it (``models.uow.SqlUnitOfWork.session``), so a command that only
reads never imports ``sqlalchemy.orm``. Both are the one transaction: a Core statement never autoflushes the
session (SQLAlchemy autoflushes for ORM statements only), so a writer flushes what a later Core read must see,
as the repositories do after each ``add``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.exc import IntegrityError

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session


class Transaction(Protocol):
    """A unit of work's transaction (``models.uow.SqlUnitOfWork``)."""

    @property
    def connection(self) -> Connection: ...

    @property
    def session(self) -> Session: ...

    def on_clash(self, translate: ClashTranslator) -> None:
        """Have ``translate`` turn a unique-key clash that ends the transaction into the caller's own error."""


ClashTranslator = Callable[[IntegrityError], Exception | None]
"""The error a clash on a deferred write means to its caller (say a ``ConflictError``), or None if not its own."""


class SqlRepository:
    """A repository of one aggregate, in the transaction of the unit of work that made it."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    @property
    def connection(self) -> Connection:
        """The transaction's Core connection: for Core statements and ``models.prepared``."""
        return self._tx.connection

    @property
    def session(self) -> Session:
        """The transaction's ORM session (made on first use): for statements on the mapped classes."""
        return self._tx.session

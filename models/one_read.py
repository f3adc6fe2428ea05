"""One read-only transaction shared by every read a page makes: one snapshot, one BEGIN, one connection.

Why: the approval page reads its round, the link's use, the stored review, the project, its template, its EVM
history and baseline, its open conditions and people's names through a dozen use cases and helpers, each of
which opens its own unit of work. Nine transactions a request cost more than the reads, and each could see a
different state. Inside ``with OneRead(reader) as read``, ``read.uow`` is a unit-of-work factory whose units are
all that one transaction (leaving them neither commits nor closes it) and ``read.sessions`` hands out its session
the same way; the transaction ends, rolled back, with the block. Nothing may write through it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Engine

from phasegate.models.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class _Joined:
    """A unit of work that is the shared one: entering returns it, leaving leaves it open."""

    def __init__(self, shared: SqlUnitOfWork) -> None:
        self._shared = shared

    def __enter__(self) -> SqlUnitOfWork:
        return self._shared

    def __exit__(self, *exc: object) -> None:
        return None


class OneRead:
    """See the module docstring; ``reader`` is the database's engine for reads (``models.db.reader_engine``)."""

    def __init__(self, reader: Engine) -> None:
        self._tx = SqlUnitOfWork(reader)

    def __enter__(self) -> Self:
        self._tx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._tx.__exit__(*exc)

    def uow(self) -> Any:
        """A unit of work in the shared transaction (typed ``Any``: it stands for ``usecases.ports.UnitOfWork``,
        which adapters do not import)."""
        return _Joined(self._tx)

    def sessions(self) -> AbstractContextManager[Session]:
        """The shared session, for helpers that take a session factory (``web.store``)."""
        return nullcontext(self._tx.session)

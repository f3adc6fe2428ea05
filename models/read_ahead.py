"""Reads sent before a use case asks for them, so that on PostgreSQL they leave together (issue #17).

Why: a review, a vote and a decision begin by reading what they check (the project and its lock, the round and its
votes, the people, the open rounds, the roles), each read one round trip when asked for in turn: eight round trips
a review before this, most of them spent waiting. The use case names what it is about to read inside
``UnitOfWork.together()`` (``models.db.pipelined``); each repository sends those reads there and keeps how to read
their rows, and its ordinary getter takes the kept rows instead of reading again. The server runs them in the order
sent, each after the one before has its locks, so a read sent after a lock sees what the lock waited for.

Only on PostgreSQL: SQLite has no round trip to save, and a read sent ahead that a refusal then leaves unused would
be a statement for nothing. A read sent ahead and never asked for is dropped with its repository (the unit's life).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import Connection

from phasegate.models.prepared import Params, Prepared


class ReadAhead:
    """One repository's reads sent ahead, by what its getter will ask (a key such as ``("project", "P1")``)."""

    def __init__(self) -> None:
        self._sent: dict[Hashable, list[Callable[[], list[Any]]]] = {}

    def send(self, connection: Connection, key: Hashable, *reads: tuple[Prepared, Params]) -> None:
        """Send ``reads`` now, in order (inside ``together()`` they join its pipeline), to be taken under ``key``."""
        if connection.dialect.name != "postgresql" or key in self._sent:
            return
        self._sent[key] = [prepared.send(connection, params) for prepared, params in reads]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._sent

    def take(self, key: Hashable) -> list[list[Any]] | None:
        """The rows of each read sent under ``key`` (once: a later ask reads afresh), or None if none was sent."""
        sent = self._sent.pop(key, None)
        return None if sent is None else [read() for read in sent]

    def take_all(self, kind: str) -> list[list[list[Any]]]:
        """The rows of every read sent under a key ``(kind, ...)``: for a getter that does not know the key the read
        was sent under (a project read by its round's id, asked for by its own key). All are taken: one the getter
        does not use is gone, and read afresh if asked for later."""
        keys = [key for key in self._sent if isinstance(key, tuple) and key[0] == kind]
        return [taken for key in keys if (taken := self.take(key)) is not None]

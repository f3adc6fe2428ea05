"""A stamp of what phasegate shows: equal stamps mean no transaction that changed it was committed in between.

Why: a page over the whole portfolio (the dashboard, ``/reports``) costs seconds to compute from 10,000
projects, yet the portfolio changes far less often than it is looked at. A stamp read *before* the data lets
the web process reuse what it computed from the same state (``usecases.memo``) without ever showing a state
older than the stamp says: a commit between the stamp and the reads only makes the kept result newer than its
key, and the next request sees a new stamp and computes again.

The stamp is the sum of ``change_counters`` (migration 0016): triggers on every table but ``UNWATCHED`` bump it
in the transaction that writes, so it moves when that transaction commits, and only then. Writes no memoised
page reads (a sign-in's session, an API token's use mark, the audit log, the outbox) leave it alone; so do
commits to other databases of a PostgreSQL server. A counter only grows, so a later commit can never bring back
an earlier stamp, whatever order concurrent writers commit in.

- SQLite: one connection per database and process that never writes first reads ``PRAGMA data_version``
  (which SQLite changes whenever any *other* connection commits): while it stays the same, the last sum still
  holds and nothing is queried.
- PostgreSQL: one statement, ``SELECT sum(changes)``, on a connection of its own (autocommit: it sees every
  transaction committed before it), so reading the stamp never waits for the pool nor pings.
- A database older than migration 0016 falls back to ``data_version`` / ``pg_current_snapshot()``, which move
  with every commit.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

UNWATCHED = frozenset(
    {
        "audit_log",
        "outbox",
        "web_sessions",
        "web_credentials",
        "external_identities",
        "change_counters",
        "register_stamps",
    }
)
"""Tables whose writes leave the stamp alone: no page kept per stamp reads them (``register_stamps`` is written
only with the table it stamps, which moves the stamp)."""
UNWATCHED_COLUMNS = {"api_tokens": frozenset({"last_used_at"})}
"""Columns whose updates leave the stamp alone (an API token's use mark, written at most once an hour)."""

SUM = "SELECT coalesce(sum(changes), 0) FROM change_counters"


class _SqliteWatcher:
    def __init__(self, database: str) -> None:
        self.lock = threading.Lock()
        self.connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
        self.seen: int | None = None
        self.stamp: str | None = None

    def read(self) -> str | None:
        with self.lock:
            row = self.connection.execute("PRAGMA data_version").fetchone()
            version = row[0] if row is not None else None
            if version is None or version != self.seen or self.stamp is None:
                try:
                    self.stamp = f"changes:{self.connection.execute(SUM).fetchone()[0]}"
                except sqlite3.OperationalError:  # no change_counters yet: every commit moves the stamp
                    self.stamp = f"sqlite:{version}"
                self.seen = version
            return self.stamp


class _PostgresWatcher:
    def __init__(self, engine: Engine) -> None:
        self.lock = threading.Lock()
        self.engine = engine
        self.connection: Any = None

    def _connect(self) -> Any:
        import psycopg

        url = self.engine.url.set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def read(self) -> str | None:
        import psycopg

        with self.lock:
            for attempt in (1, 2):
                try:
                    if self.connection is None or self.connection.closed:
                        self.connection = self._connect()
                    row = self.connection.execute(SUM).fetchone()
                    return f"changes:{row[0]}"
                except psycopg.errors.UndefinedTable:
                    break
                except psycopg.OperationalError:  # the server restarted or dropped us: once more, afresh
                    self.connection = None
                    if attempt == 2:
                        raise
        with self.engine.connect() as pg:  # no change_counters yet: every commit moves the stamp
            return f"postgresql:{pg.execute(text('SELECT pg_current_snapshot()::text')).scalar_one()}"


_watchers: WeakKeyDictionary[Engine, _SqliteWatcher | _PostgresWatcher] = WeakKeyDictionary()
_guard = threading.Lock()


def _watcher(engine: Engine) -> _SqliteWatcher | _PostgresWatcher:
    with _guard:
        found = _watchers.get(engine)
        if found is None:
            if engine.dialect.name == "sqlite":
                found = _SqliteWatcher(engine.url.database or "")
            else:
                found = _PostgresWatcher(engine)
            _watchers[engine] = found
            event.listen(engine, "engine_disposed", lambda _engine: _forget(_engine))
        return found


def _forget(engine: Engine) -> None:
    """Close the stamp's own connection with the engine's pool (a PostgreSQL database can then be dropped)."""
    with _guard:
        found = _watchers.pop(engine, None)
    if isinstance(found, _PostgresWatcher):
        with found.lock:
            if found.connection is not None:
                found.connection.close()
                found.connection = None
    elif found is not None:
        with found.lock:
            found.connection.close()


def change_stamp(engine: Engine) -> str | None:
    """The stamp of what is committed now; None when it cannot be known (an in-memory database): then reuse
    nothing."""
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:") or str(engine.url.database).startswith("file:"):
            return None
        return _watcher(engine).read()
    if engine.dialect.name == "postgresql":
        return _watcher(engine).read()
    return None

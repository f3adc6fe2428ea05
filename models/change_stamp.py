"""A stamp of the database's committed state: equal stamps mean nothing was committed in between.

Why: a page over the whole portfolio (the dashboard, ``/reports``) costs seconds to compute from 10,000
projects, yet the portfolio changes far less often than it is looked at. A stamp read *before* the data lets
the web process reuse what it computed from the same state (``usecases.memo``) without ever showing a state
older than the stamp says: a commit between the stamp and the reads only makes the kept result newer than its
key, and the next request sees a new stamp and computes again.

- SQLite: ``PRAGMA data_version`` on one connection per database and process that never writes: SQLite
  changes it whenever any *other* connection, of this process or another, commits a change.
- PostgreSQL: ``pg_current_snapshot()``: every transaction that wrote has an id that is either in the
  snapshot's in-progress list or at or beyond its upper bound, so any commit since changes the text.
  (Any commit to any database of the cluster changes it too: then the stamp only misses more often.)
"""

from __future__ import annotations

import sqlite3
import threading
from weakref import WeakKeyDictionary

from sqlalchemy import text
from sqlalchemy.engine import Engine

_watchers: WeakKeyDictionary[Engine, tuple[threading.Lock, sqlite3.Connection]] = WeakKeyDictionary()
_guard = threading.Lock()


def _watcher(engine: Engine) -> tuple[threading.Lock, sqlite3.Connection]:
    with _guard:
        found = _watchers.get(engine)
        if found is None:
            database = engine.url.database or ""
            connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
            found = _watchers[engine] = (threading.Lock(), connection)
        return found


def change_stamp(engine: Engine) -> str | None:
    """The stamp of what is committed now; None when it cannot be known (an in-memory database): then reuse
    nothing."""
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:") or str(engine.url.database).startswith("file:"):
            return None
        lock, connection = _watcher(engine)
        with lock:
            row = connection.execute("PRAGMA data_version").fetchone()
        version = row[0] if row is not None else None
        return f"sqlite:{version}"
    if engine.dialect.name == "postgresql":
        with engine.connect() as pg:
            snapshot = pg.execute(text("SELECT pg_current_snapshot()::text")).scalar_one()
        return f"postgresql:{snapshot}"
    return None

"""What one engine's run measured, and the SQLite connection settings every engine shares.

Why one place for the pragmas: the comparison is only fair when every engine commits with the same
journal mode and the same ``synchronous`` level, so each peer opens its SQLite store through here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=30000")


@dataclass(frozen=True)
class Timing:
    """Rounds completed, wall-clock seconds of the timed part, and transactions committed in it; for phasegate
    also the SQL statements it ran, what its cheapest statement costs and, on PostgreSQL, the round trips a round
    waits for (see ``bench/decisions.py``)."""

    rounds: int
    seconds: float
    commits: int
    statements: int = 0
    statement_us: float | None = None
    round_trips: float | None = None

    @property
    def rounds_per_s(self) -> float:
        return self.rounds / self.seconds

    @property
    def commits_per_s(self) -> float:
        return self.commits / self.seconds


def apply_sqlite_pragmas(connection: sqlite3.Connection, synchronous: str) -> None:
    for pragma in SQLITE_PRAGMAS:
        connection.execute(pragma)
    connection.execute(f"PRAGMA synchronous={synchronous}")


def fresh_sqlite_path(directory: Path, name: str) -> Path:
    """A path with no database, WAL or shared-memory file beside it."""
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path

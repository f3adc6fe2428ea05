"""Wiring for entry points: settings, one engine per process, a unit-of-work factory and the clock.

Flows and CLI commands share it, so a flow run by a worker and a command typed at a terminal see the
same database when they share ``PHASEGATE_DATABASE_URL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gates.ports import UnitOfWork
from models.db import make_engine, make_session_factory
from models.settings import Settings
from models.uow import SqlUnitOfWork


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.sessions)

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url


def utc_now() -> datetime:
    return datetime.now(UTC)


@cache
def _runtime_for(url: str, synchronous: str) -> Runtime:
    settings = Settings(database_url=url, sqlite_synchronous=synchronous)
    engine = make_engine(url, sqlite_synchronous=synchronous)
    return Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine))


def runtime(database_url: str | None = None) -> Runtime:
    """The process's runtime; ``database_url`` (``--db``) wins over ``PHASEGATE_DATABASE_URL``."""
    if database_url:
        os.environ["PHASEGATE_DATABASE_URL"] = database_url  # flows run in-process read the same database
    settings = Settings()
    current = _runtime_for(settings.resolved_database_url, settings.sqlite_synchronous)
    return Runtime(settings=settings, engine=current.engine, sessions=current.sessions)

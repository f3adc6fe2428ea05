"""Wiring for entry points: settings, one engine per process, a unit-of-work factory and the clock.

Flows and CLI commands share it, so a flow run by a worker and a command typed at a terminal see the
same database when they share ``PHASEGATE_DATABASE_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from uuid import UUID

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gates.criteria import Criterion
from gates.ports import ApprovalLinks, UnitOfWork
from gates.registry import CriterionSpec, template_problems, with_plugins
from models.db import make_engine, make_reader_factory, make_session_factory
from models.documents import current_sha256
from models.errors import PhasegateError
from models.plugins import plugin_criteria
from models.settings import Settings
from models.template import LifecycleTemplate, Location
from models.uow import OrgRoute, SqlUnitOfWork


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(
            self.sessions, org_route=_org_route(self.settings.notify_config), org_locale=self.settings.notify_org_locale
        )

    def reader(self) -> UnitOfWork:
        """A unit of work for commands that only read: on SQLite it never waits for the write lock."""
        return SqlUnitOfWork(self.read_sessions)

    @property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions that only read (see ``models.db.make_reader_factory``)."""
        return make_reader_factory(self.engine)

    @property
    def registry(self) -> dict[str, Criterion]:
        return {code: spec.evaluate for code, spec in criteria_specs().items()}

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url


def utc_now() -> datetime:
    return datetime.now(UTC)


@cache
def _org_route(config_path: Path | None) -> OrgRoute | None:
    """Tags -> the organisation's Apprise targets, from PHASEGATE_NOTIFY_CONFIG (read once per process)."""
    if config_path is None:
        return None
    from notifications.routing import expand_targets, load_configured

    config = load_configured(config_path)
    if config is None:
        return None

    def route(tags: Sequence[str]) -> list[str]:
        return expand_targets((), list(tags), config)

    return route


@cache
def criteria_specs() -> dict[str, CriterionSpec]:
    """Built-in and plug-in criteria; plug-ins are looked up once per process."""
    try:
        return with_plugins(plugin_criteria())
    except ValueError as err:
        raise PhasegateError(str(err), code="plugin.clash") from None


def template_check(template: LifecycleTemplate) -> list[tuple[Location, str]]:
    """Problems a template has against the criteria this installation knows."""
    return template_problems(template, criteria_specs())


def approval_links(settings: Settings, *, valid_days: int = 7) -> ApprovalLinks:
    """Signed, expiring links to the approval page, bound to round, approver and evidence (see web/)."""
    from notifications.links import approval_token, approval_url

    secret = settings.secret_key.get_secret_value()

    def link(round_id: UUID, approver_id: str, evidence_hash: str) -> str:
        token = approval_token(
            secret,
            round_id=round_id,
            approver_id=approver_id,
            evidence_hash=evidence_hash,
            expires_at=utc_now() + timedelta(days=valid_days),
        )
        return approval_url(settings.public_url, token)

    return link


def probe_file(path: str) -> str | None:
    """The file's sha256 now, or None when it is gone: evidence for ``doc.unchanged_since_approval``."""
    return current_sha256(Path(path))


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

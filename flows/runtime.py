"""The composition root: every door (CLI, flows, approval pages, REST API) gets its wiring here, once.

Settings, one engine per process, the unit-of-work factory (with the organisation's notification router),
the reader, the clock, the criteria registry, the document probe and the approval links live on ``Runtime``,
and so does what follows a use case: doors call ``Runtime.vote`` / ``Runtime.start_review`` (the use case with
its dependencies) and hand the events the result carries to ``Runtime.after_commit``, the one handler that
triggers the ``gate-decision`` flow for a resolved round and dispatches the outbox. A vote through the CLI,
the approval page or the API therefore gives the same rows, the same notifications and the same flow run.

Flows and CLI commands share it, so a flow run by a worker and a command typed at a terminal see the same
database when they share ``PHASEGATE_DATABASE_URL``. Nothing here imports Prefect: only a resolved round
reaches ``flows.trigger``, which imports it when a flow is really about to run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Engine

from phasegate.gates.criteria import Criterion
from phasegate.gates.registry import CriterionSpec, KnownCriteria, template_problems, with_plugins
from phasegate.gates.vocabulary.errors import EvidenceChangedError, PhasegateError
from phasegate.gates.vocabulary.events import DomainEvent, NotificationsQueued, RoundResolved
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, Actor, SignatureProof
from phasegate.gates.vocabulary.template import LifecycleTemplate, Location
from phasegate.models.change_stamp import change_stamp
from phasegate.models.db import make_engine, make_reader_factory, make_session_factory, reader_engine
from phasegate.models.document_store import DocumentStore
from phasegate.models.keys import audit_key, secret_key
from phasegate.models.plugins import plugin_criteria
from phasegate.models.settings import Settings
from phasegate.models.uow import OrgRoute, SqlUnitOfWork
from phasegate.usecases.memo import Memo
from phasegate.usecases.ports import ApprovalLinks, UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from phasegate.gates.vocabulary.commands import CastVote, RequestReview
    from phasegate.notifications.links import LinkSigner
    from phasegate.usecases.approvals import VoteResult
    from phasegate.usecases.reviews import ReviewResult

logger = logging.getLogger(__name__)

Defer = Callable[[Callable[[], object]], object]
"""How a door runs work after its answer (the web's background tasks); without one it runs at once."""


@dataclass(frozen=True)
class AfterCommit:
    """What the after-commit handler did: the decision it had applied (or scheduled) and what it dispatched."""

    decisions: tuple[dict[str, Any], ...] = ()
    dispatch: dict[str, int] | None = None
    deferred: bool = False

    @property
    def decision(self) -> dict[str, Any] | None:
        return self.decisions[0] if self.decisions else None


@dataclass(frozen=True)
class Voted:
    """A vote recorded, and what followed it."""

    result: VoteResult
    after: AfterCommit


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime] = field(default=lambda: utc_now())

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        """A runtime with an engine of its own (the caller disposes ``engine``): an app on another database."""
        engine = make_engine(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        return cls(settings=settings, engine=engine)

    # ------------------------------------------------------------------------------------------- dependencies
    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """ORM sessions, for what works through one (credentials, the outbox's dispatch, the audit commands); the
        use cases' units of work run on a connection and make a session only when a writer needs one."""
        return make_session_factory(self.engine)

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            org_route=_org_route(self.settings.notify_config),
            org_locale=self.settings.notify_org_locale,
            audit_key=self.audit_key,
        )

    @cached_property
    def audit_key(self) -> bytes | None:
        """The audit chain's key (``models.keys.audit_key``), read once per runtime."""
        return audit_key(self.settings)

    def reader(self) -> UnitOfWork:
        """A unit of work for commands that only read: on SQLite it never waits for the write lock."""
        return SqlUnitOfWork(reader_engine(self.engine))

    @property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions that only read (see ``models.db.make_reader_factory``)."""
        return make_reader_factory(self.engine)

    @cached_property
    def memo(self) -> Memo:
        """What this process computed from one committed state (the portfolio report, the dashboard's summary),
        kept for the next request of the same state (``usecases.memo``)."""
        return Memo()

    @cached_property
    def packets(self) -> Memo:
        """What approval pages read of one committed state, per link (apart from ``memo``: many links, small)."""
        return Memo(size=512)

    @cached_property
    def pages(self) -> Memo:
        """API list pages of one committed state, per query (apart from ``memo``: many queries, small)."""
        return Memo(size=256)

    @cached_property
    def bodies(self) -> Memo:
        """Pages' bodies rendered from one committed state, per language and query (``web.page_body``): apart
        from ``memo``, so many queries never push out the report they were rendered from."""
        return Memo(size=32)

    @cached_property
    def callers(self) -> Memo:
        """API tokens and their persons' actors as read in one committed state (``web.auth``)."""
        return Memo(size=256)

    @cached_property
    def token_marks(self) -> dict[UUID, datetime]:
        """When this process last wrote each API token's use mark (``web.auth``: at most once an hour a token)."""
        return {}

    def change_stamp(self) -> str | None:
        """The database's committed state now (``models.change_stamp``); read it before the data it keys."""
        return change_stamp(self.engine)

    @property
    def registry(self) -> Mapping[str, Criterion]:
        return _KNOWN_CRITERIA

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url

    def now(self) -> datetime:
        return self.clock()

    def document_store(self) -> DocumentStore:
        return DocumentStore.from_settings(self.settings)

    def probe(self, path: str) -> str | None:
        """The stored copy's sha256 now (``doc.unchanged_since_approval``); see ``probe_file``."""
        return self.document_store().sha256_of(path)

    def links(self) -> ApprovalLinks:
        return approval_links(self.settings, clock=self.clock)

    def seal_actor(self, actor: Actor, *, project_key: str) -> str:
        """The actor a door proved, sealed for a flow run on ``project_key`` (``models.actor_seal``)."""
        from phasegate.models.actor_seal import seal_actor

        return seal_actor(actor, project_key=project_key, secret=secret_key(self.settings), now=self.now())

    def open_actor(self, seal: str | None, *, project_key: str) -> Actor:
        """Who a flow run acts for: the sealed actor, or the system when there is no seal. A seal that does not
        open (forged, expired, for another project) is refused and audited, and the run acts for nobody."""
        from phasegate.gates.vocabulary.errors import PermissionDeniedError
        from phasegate.models.actor_seal import open_actor
        from phasegate.usecases.guard import refuse

        if seal is None:
            return SYSTEM_ACTOR
        try:
            return open_actor(seal, project_key=project_key, secret=secret_key(self.settings), now=self.now())
        except PermissionDeniedError as refused:
            refuse(
                self.uow,
                actor=SYSTEM_ACTOR,
                entity=f"project:{project_key}",
                why=refused.message,
                code=refused.code,
                now=self.now(),
                payload={"door": "prefect deployment"},
            )
            raise

    # ------------------------------------------------------------------------------------------- use cases
    def vote(
        self,
        cmd: CastVote,
        *,
        actor: Actor,
        defer: Defer | None = None,
        signature: SignatureProof | None = None,
    ) -> Voted:
        """Cast a vote through the one use case, then react to what it committed (now, or via ``defer``).

        A vote refused because the evidence changed still committed a refresh (fresh requests to send), so
        its events are reacted to before the error goes back to the door. ``actor`` is who the door proved
        acts (the use case checks it may vote as ``cmd.voter_id``). ``signature`` is the signer's
        re-entered password (and one-time code) for a gate with Part 11 signatures (docs/security.md).
        """
        from phasegate.usecases import approvals

        try:
            result = approvals.cast_vote(
                cmd,
                actor=actor,
                uow=self.uow,
                now=self.now(),
                probe=self.probe,
                registry=self.registry,
                links=self.links(),
                credentials=_SignerCheck(self),
                signature=signature,
            )
        except EvidenceChangedError as changed:
            self._react(changed.events, defer)
            raise
        return Voted(result=result, after=self._react(result.events, defer))

    def start_review(self, cmd: RequestReview, *, actor: Actor) -> ReviewResult:
        """Evaluate (recycle limit included), record, open the round or say why not; the caller reacts."""
        from phasegate.usecases.reviews import start_review

        return start_review(
            cmd,
            actor=actor,
            uow=self.uow,
            now=self.now(),
            probe=self.probe,
            registry=self.registry,
            links=self.links(),
        )

    # ------------------------------------------------------------------------------------------- after commit
    def _react(self, events: Sequence[DomainEvent], defer: Defer | None) -> AfterCommit:
        if defer is None:
            return self.after_commit(events)
        defer(lambda: self.after_commit(events, quiet=True))
        return AfterCommit(deferred=True)

    def after_commit(self, events: Sequence[DomainEvent], *, quiet: bool = False) -> AfterCommit:
        """The one reaction to committed events: a resolved round runs ``gate-decision``; queued notices go out.

        The gate-decision flow dispatches the outbox itself, so a resolved round needs no second dispatch.
        With ``quiet`` (background work, whose caller has already answered) failures are logged, not raised:
        the decision waits for ``phasegate rounds reconcile`` and the notices stay in the outbox.
        """
        try:
            decisions = tuple(self.apply_decision(e.round_id) for e in events if isinstance(e, RoundResolved))
            queued = any(isinstance(e, NotificationsQueued) for e in events)
            sent = self.dispatch() if queued and not decisions else None
        except Exception:
            if not quiet:
                raise
            logger.exception("reacting to %s failed; 'phasegate rounds reconcile' and the dispatcher catch up", events)
            return AfterCommit()
        return AfterCommit(decisions=decisions, dispatch=sent)

    @property
    def flows_see_this_database(self) -> bool:
        """Flows read their database from the environment: only then can one apply this runtime's rounds."""
        return Settings().resolved_database_url == self.settings.resolved_database_url

    def apply_decision(self, round_id: UUID) -> dict[str, Any]:
        """Request the ``gate-decision`` flow run for a resolved round (``flows.trigger.apply_decision_flow``).

        Where flows would read another database (an app built for one of its own, as tests do), or when the flow
        run fails, the decision is applied directly by the service the flow's task runs: idempotent either way.
        """
        if self.flows_see_this_database:
            from phasegate.flows.trigger import apply_decision_flow

            try:
                return apply_decision_flow(str(round_id))
            except Exception:
                logger.exception("the gate-decision flow failed for round %s; applying it directly", round_id)
        from phasegate.usecases import approvals

        applied = approvals.apply_round_decision(round_id, uow=self.uow, now=self.now())
        return applied.model_dump(mode="json") | {"dispatch": self.dispatch()}

    def dispatch(self) -> dict[str, int]:
        """Send what is due in the outbox now; what fails stays there for the scheduled dispatcher."""
        from phasegate.notifications.dispatch import dispatch_due

        report = dispatch_due(
            self.sessions, max_attempts=self.settings.notify_max_attempts, links=link_signer(self.settings)
        )
        return report.as_dict()


@dataclass(frozen=True)
class _SignerCheck:
    """``usecases.ports.Credentials`` for a vote: ``models.credentials`` (argon2, the ORM) is loaded only when a
    gate asks its signer to re-authenticate, not for every vote a door casts."""

    runtime: Runtime

    def verify(self, person_id: str, password: str, one_time_code: str | None) -> bool:
        from phasegate.models.credentials import SqlCredentials

        return SqlCredentials(self.runtime.sessions).verify(person_id, password, one_time_code)


def utc_now() -> datetime:
    return datetime.now(UTC)


@cache
def _org_route(config_path: Path | None) -> OrgRoute | None:
    """Tags -> the organisation's Apprise targets, from PHASEGATE_NOTIFY_CONFIG (read once per process)."""
    if config_path is None:
        return None
    from phasegate.notifications.routing import expand_targets, load_configured

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


_KNOWN_CRITERIA = KnownCriteria(criteria_specs)  # plug-ins looked up on first need (gates.registry)


def template_check(template: LifecycleTemplate) -> list[tuple[Location, str]]:
    """Problems a template has against the criteria this installation knows."""
    return template_problems(template, criteria_specs())


def approval_links(
    settings: Settings, *, valid_days: int = 7, clock: Callable[[], datetime] = utc_now
) -> ApprovalLinks:
    """Approval links as outbox rows store them: round, approver, evidence hash and expiry, never a token.

    The dispatcher signs them when it sends (``link_signer``), so no outbox row, backup or listing holds a
    working link. The key is checked here all the same: a command that queues links must not run on an
    installation that could never send them (and a review must not open a round nobody can be invited to).
    This is the one place links are made (``Runtime.links`` calls it).
    """
    from phasegate.notifications.links import link_request

    secret_key(settings)

    def link(round_id: UUID, approver_id: str, evidence_hash: str) -> dict[str, Any]:
        expires_at = clock() + timedelta(days=valid_days)
        return link_request(
            round_id=round_id, approver_id=approver_id, evidence_hash=evidence_hash, expires_at=expires_at
        )

    return link


def require_secret_key() -> None:
    """Every flow's first act: a worker without a real key refuses before it opens the database or sends a link.

    Why in the flow body: a team's workers run these flows from prefect.yaml's entry points, not through a CLI
    command that would have checked the key already.
    """
    secret_key(Settings())


def link_signer(settings: Settings) -> LinkSigner:
    """What the dispatcher signs stored link requests with; SecretKeyError when this process has no key."""
    from phasegate.notifications.links import link_signer as signer

    return signer(secret_key(settings), settings.public_url)


def probe_file(path: str) -> str | None:
    """The sha256 of the stored copy a store key names, now, for ``doc.unchanged_since_approval``; None when
    the copy is gone or ``path`` is not a store key (an original path is never re-read)."""
    return DocumentStore.from_settings(Settings()).sha256_of(path)


@cache
def _engine_for(url: str, synchronous: str) -> Engine:
    """One engine per database and process, whatever settings a runtime reads."""
    return make_engine(url, sqlite_synchronous=synchronous)


def runtime(database_url: str | None = None) -> Runtime:
    """The process's runtime; ``database_url`` (``--db``) wins over ``PHASEGATE_DATABASE_URL``."""
    if database_url:
        os.environ["PHASEGATE_DATABASE_URL"] = database_url  # flows run in-process read the same database
    settings = Settings()
    engine = _engine_for(settings.resolved_database_url, settings.sqlite_synchronous)
    return Runtime(settings=settings, engine=engine)

"""Who is calling the REST API: bearer tokens, the Actor they stand for, and the runtime the API works on.

This door proves identity only; what the caller may do is decided by the use cases (``gates.authorization``,
see docs/security.md). A token belongs to one person and has a scope (``phasegate token create PERSON --role
...``) that limits the organisation roles the person acts with through it:

| scope    | roles it can carry (of the person's current ones) | note                                        |
| -------- | ------------------------------------------------- | ------------------------------------------- |
| viewer   | viewer                                            | read-only: every act but reading is refused |
| approver | gatekeeper, viewer                                | votes, scores, verifies conditions          |
| pmo      | pmo_admin, manager, viewer                        | people, projects, evidence, rounds          |

Why a PMO token cannot vote: PMO tokens drive integrations (a scheduler, a finance export), and a vote is a
gatekeeper's own act, bound to the evidence they reviewed; a gatekeeper who also works in the PMO holds two
tokens. A disabled person's tokens stop working at once (401), because their roles are read per request.

A token is looked up by the sha256 of what was presented (only hashes are stored). ``last_used_at`` is
written at most once an hour per token, so reading the API does not turn every request into a write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from gates.criteria import Criterion
from gates.people import person_actor
from gates.ports import ApprovalLinks, UnitOfWork
from gates.registry import with_plugins
from models.db import make_engine, make_reader_factory, make_session_factory
from models.documents import current_sha256
from models.errors import AuthorizationError, PhasegateError
from models.identity import Actor, AuthMethod, OrgRole
from models.plugins import plugin_criteria
from models.settings import Settings
from models.tokens import TokenRole, find_token, mark_used, token_hash
from models.uow import SqlUnitOfWork
from notifications.links import approval_token, approval_url
from web.problems import ApiProblem

LINK_VALID_DAYS = 7
USE_RECORD_INTERVAL = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApiRuntime:
    """What the API's handlers need: sessions on the system of record, criteria, links, a clock.

    Built on the first request from ``app.state.runtime`` (``web.app.create_app`` puts its settings and session
    factory there, so pages and API share one engine) and kept as ``app.state.api_runtime``.
    """

    settings: Settings
    sessions: sessionmaker[Session]
    registry: dict[str, Criterion]
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_settings(cls, settings: Settings, *, sessions: sessionmaker[Session] | None = None) -> ApiRuntime:
        if sessions is None:
            engine = make_engine(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
            sessions = make_session_factory(engine)
        try:
            specs = with_plugins(plugin_criteria())
        except ValueError as err:
            raise PhasegateError(str(err), code="plugin.clash") from None
        return cls(settings=settings, sessions=sessions, registry={code: s.evaluate for code, s in specs.items()})

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.sessions)

    def reader(self) -> UnitOfWork:
        """For handlers that only read: on SQLite it answers from the last commit, never waiting for a writer."""
        return SqlUnitOfWork(self.read_sessions)

    @property
    def read_sessions(self) -> sessionmaker[Session]:
        return make_reader_factory(self.sessions.kw["bind"])

    def now(self) -> datetime:
        return self.clock()

    @staticmethod
    def probe(path: str) -> str | None:
        """The registered file's sha256 now, or None when it is gone (``doc.unchanged_since_approval``)."""
        return current_sha256(Path(path))

    def links(self) -> ApprovalLinks:
        """Signed approval-page links, as the CLI and flows make them (bound to round, person and evidence)."""
        secret = self.settings.secret_key.get_secret_value()
        public_url = self.settings.public_url

        def link(round_id: UUID, approver_id: str, evidence_hash: str) -> str:
            token = approval_token(
                secret,
                round_id=round_id,
                approver_id=approver_id,
                evidence_hash=evidence_hash,
                expires_at=self.now() + timedelta(days=LINK_VALID_DAYS),
            )
            return approval_url(public_url, token)

        return link


_build_lock = threading.Lock()


def _from_app_state(state: Any) -> ApiRuntime:
    """Share the app's engine when ``create_app`` put a runtime (settings and sessions) on ``app.state``."""
    shared = getattr(state, "runtime", None)
    settings = getattr(shared, "settings", None) or getattr(state, "settings", None)
    sessions = getattr(shared, "sessions", None)
    if not isinstance(settings, Settings):
        settings = Settings()
    return ApiRuntime.from_settings(settings, sessions=sessions if isinstance(sessions, sessionmaker) else None)


def api_runtime(request: Request) -> ApiRuntime:
    """The app's ApiRuntime, built once per app on first use."""
    state = request.app.state
    found = getattr(state, "api_runtime", None)
    if isinstance(found, ApiRuntime):
        return found
    with _build_lock:
        found = getattr(state, "api_runtime", None)
        if not isinstance(found, ApiRuntime):
            found = _from_app_state(state)
            state.api_runtime = found
    return found


@dataclass(frozen=True)
class Principal:
    """The caller: the person a token was issued to, and that token's role."""

    token_id: UUID
    person_id: str
    role: TokenRole


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="A token from `phasegate token create PERSON --role viewer|approver|pmo`.",
)
Runtime = Annotated[ApiRuntime, Depends(api_runtime)]


def _unauthorized(detail: str, code: str) -> ApiProblem:
    return ApiProblem(
        401, detail, code=code, headers={"WWW-Authenticate": 'Bearer realm="phasegate", error="invalid_token"'}
    )


def authenticate(
    rt: Runtime, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The caller behind the bearer token; 401 for a missing, unknown or revoked token."""
    if credentials is None or not credentials.credentials:
        raise ApiProblem(
            401,
            "Authorization: send 'Bearer TOKEN' (create one with 'phasegate token create PERSON --role ROLE')",
            code="auth.missing",
            headers={"WWW-Authenticate": 'Bearer realm="phasegate"'},
        )
    with rt.read_sessions() as session, session.begin():
        record = find_token(session, token_hash(credentials.credentials))
    if record is None:
        raise _unauthorized("Authorization: unknown token", "auth.invalid")
    if not record.active:
        raise _unauthorized("Authorization: this token was revoked", "auth.revoked")
    now = rt.now()
    # The only write of a read request, and a throttled one: most requests never wait for SQLite's write lock.
    if record.last_used_at is None or now - record.last_used_at >= USE_RECORD_INTERVAL:
        with rt.sessions() as session, session.begin():
            mark_used(session, record.id, now)
    return Principal(token_id=record.id, person_id=record.person_id, role=record.role)


Caller = Annotated[Principal, Depends(authenticate)]


TOKEN_SCOPES: dict[TokenRole, frozenset[OrgRole]] = {
    TokenRole.VIEWER: frozenset({OrgRole.VIEWER}),
    TokenRole.APPROVER: frozenset({OrgRole.GATEKEEPER, OrgRole.VIEWER}),
    TokenRole.PMO: frozenset({OrgRole.PMO_ADMIN, OrgRole.MANAGER, OrgRole.VIEWER}),
}
"""The organisation roles a token can carry: the person's current roles, limited to its scope."""


def acting(rt: Runtime, principal: Caller) -> Actor:
    """The token's person as the use cases' Actor; a disabled person's tokens stop working (401, audited).

    Permissions are decided by the use cases (``gates.authorization``), not here: the token's scope only
    limits the roles the actor carries, and a viewer token is read-only whatever the person's relationships.
    """
    try:
        actor = person_actor(
            principal.person_id,
            method=AuthMethod.API_TOKEN,
            uow=rt.uow,
            now=rt.now(),
            within=TOKEN_SCOPES[principal.role],
            reader=rt.reader,
        )
    except AuthorizationError as refused:
        raise _unauthorized(f"Authorization: {refused.message}", refused.code) from None
    return actor.model_copy(update={"read_only": principal.role is TokenRole.VIEWER})


Acting = Annotated[Actor, Depends(acting)]
Reader = Acting
"""Any enabled person's token reads; what else it may do, each use case decides."""

"""Who is calling the REST API: bearer tokens and the Actor they stand for.

The API works on the app's ``flows.runtime.Runtime``, the composition root every door shares (``Runtime``
below is the FastAPI dependency that hands it to a handler).

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

Every 401 is audited (``security.api_refused``) through the app's rate-limited refusal ledger, so a flood of
bad tokens from one address costs the audit log a bounded number of entries per minute; a 403 is the use
case's refusal, audited by the use case (``security.refused``).

A token is looked up by the sha256 of what was presented (only hashes are stored). ``last_used_at`` is
written at most once an hour per token, so reading the API does not turn every request into a write.

The token's record and its person's actor are kept per committed state (``Runtime.callers``, keyed by the change
stamp read once per request before any lookup, ``request_stamp``): revoking a token, disabling a person or
changing their roles moves the stamp (``models.change_stamp``), so the next request looks them up again. Every
refusal is still decided and audited on each request; only lookups are reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from phasegate.flows.runtime import Runtime as AppRuntime
from phasegate.gates.vocabulary.errors import AuthorizationError
from phasegate.gates.vocabulary.identity import Actor, AuthMethod, OrgRole
from phasegate.models.tokens import TokenRecord, TokenRole, find_token, mark_used, token_hash
from phasegate.usecases.people import claimed_actor, person_actor
from phasegate.web.problems import ApiProblem
from phasegate.web.refusals import ANONYMOUS, audit_refusal

USE_RECORD_INTERVAL = timedelta(hours=1)


async def app_runtime(request: Request) -> AppRuntime:
    """The app's runtime (``web.app.create_app`` puts it on ``app.state``): the same one the pages use."""
    rt: AppRuntime = request.app.state.runtime
    return rt


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
Runtime = Annotated[AppRuntime, Depends(app_runtime)]


def request_stamp(request: Request, rt: AppRuntime) -> str | None:
    """The change stamp of this request (``Runtime.change_stamp``), read once, before the request's first lookup."""
    if "change_stamp" not in request.scope.setdefault("state", {}):
        request.state.change_stamp = rt.change_stamp()
    stamp: str | None = request.state.change_stamp
    return stamp


async def stamp_of(request: Request, rt: AppRuntime) -> str | None:
    """``request_stamp`` from the event loop: SQLite's is read in place (a page of shared memory, no query while
    nothing was committed), PostgreSQL's in the thread pool (a round trip)."""
    if rt.engine.dialect.name == "sqlite":
        return request_stamp(request, rt)
    return await run_in_threadpool(request_stamp, request, rt)


def _mark_due(rt: AppRuntime, record: TokenRecord, now: datetime) -> bool:
    """Whether this use of the token is to be recorded (``USE_RECORD_INTERVAL``). A kept record keeps the use mark
    it was read with (the mark leaves the stamp alone): this process's own marks since then count too."""
    marked = max((m for m in (record.last_used_at, rt.token_marks.get(record.id)) if m is not None), default=None)
    return marked is None or now - marked >= USE_RECORD_INTERVAL


def _unauthorized(detail: str, code: str) -> ApiProblem:
    return ApiProblem(
        401, detail, code=code, headers={"WWW-Authenticate": 'Bearer realm="phasegate", error="invalid_token"'}
    )


API_REFUSED = "security.api_refused"


def _audit(request: Request, rt: AppRuntime, *, status: int, code: str, actor: str = ANONYMOUS) -> None:
    """Every refused API call is audited, through the app's rate-limited ledger (``web.refusals``)."""
    payload = {"status": status, "code": code, "method": request.method, "path": request.url.path}
    audit_refusal(request, rt.uow, action=API_REFUSED, entity="api", payload=payload, now=rt.now(), actor=actor)


def _authenticate(
    request: Request, rt: Runtime, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The caller behind the bearer token; 401 for a missing, unknown or revoked token (each one audited)."""
    if credentials is None or not credentials.credentials:
        _audit(request, rt, status=401, code="auth.missing")
        raise ApiProblem(
            401,
            "Authorization: send 'Bearer TOKEN' (create one with 'phasegate token create PERSON --role ROLE')",
            code="auth.missing",
            headers={"WWW-Authenticate": 'Bearer realm="phasegate"'},
        )
    version = request_stamp(request, rt)
    hashed = token_hash(credentials.credentials)

    def lookup() -> TokenRecord | None:
        with rt.read_sessions() as session, session.begin():
            return find_token(session, hashed)

    record = lookup() if version is None else rt.callers.get(("token", hashed), lookup, version=version)
    if record is None:
        _audit(request, rt, status=401, code="auth.invalid")
        raise _unauthorized("Authorization: unknown token", "auth.invalid")
    if not record.active:
        _audit(request, rt, status=401, code="auth.revoked", actor=record.person_id)
        raise _unauthorized("Authorization: this token was revoked", "auth.revoked")
    now = rt.now()
    # The only write of a read request, and a throttled one: most requests never wait for SQLite's write lock.
    if _mark_due(rt, record, now):
        with rt.sessions() as session, session.begin():
            mark_used(session, record.id, now)
        rt.token_marks[record.id] = now
    return Principal(token_id=record.id, person_id=record.person_id, role=record.role)


async def authenticate(
    request: Request, rt: Runtime, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The caller behind the bearer token; 401 for a missing, unknown or revoked token (each one audited).

    A token kept for this request's stamp, active, with no use mark due, is answered on the event loop; anything
    else (a lookup, a refusal and its audit, a use mark) runs in the thread pool (``_authenticate``)."""
    if credentials is not None and credentials.credentials:
        version = await stamp_of(request, rt)
        found, record = rt.callers.kept(("token", token_hash(credentials.credentials)), version=version)
        if found and isinstance(record, TokenRecord) and record.active and not _mark_due(rt, record, rt.now()):
            return Principal(token_id=record.id, person_id=record.person_id, role=record.role)
    return await run_in_threadpool(_authenticate, request, rt, credentials)


Caller = Annotated[Principal, Depends(authenticate)]


TOKEN_SCOPES: dict[TokenRole, frozenset[OrgRole]] = {
    TokenRole.VIEWER: frozenset({OrgRole.VIEWER}),
    TokenRole.APPROVER: frozenset({OrgRole.GATEKEEPER, OrgRole.VIEWER}),
    TokenRole.PMO: frozenset({OrgRole.PMO_ADMIN, OrgRole.MANAGER, OrgRole.VIEWER}),
}
"""The organisation roles a token can carry: the person's current roles, limited to its scope."""


ACT_AS = "X-Phasegate-Act-As"
"""The header the CLI sends for ``--as PERSON``: anyone but the token's person is refused (403) and audited."""


def _acting(
    request: Request,
    rt: Runtime,
    principal: Caller,
    act_as: Annotated[
        str | None,
        # Not in the OpenAPI document: only the CLI sends it (docs/cli.md), and any value but the token's person
        # is a refusal, so a generated client has nothing to fill in.
        Header(alias=ACT_AS, include_in_schema=False),
    ] = None,
) -> Actor:
    """The token's person as the use cases' Actor; a disabled person's tokens stop working (401, audited).

    Permissions are decided by the use cases (``gates.authorization``), not here: the token's scope only
    limits the roles the actor carries, and a viewer token is read-only whatever the person's relationships.
    The use case that refuses a disabled person audits it (``usecases.people.person_actor``); one that claims to
    act as someone else (``X-Phasegate-Act-As``) is refused and audited by ``usecases.people.claimed_actor``.
    """
    version = request_stamp(request, rt)

    def resolve() -> Actor:  # a refusal raises, is audited, and is not kept
        return person_actor(
            principal.person_id,
            method=AuthMethod.API_TOKEN,
            uow=rt.uow,
            now=rt.now(),
            within=TOKEN_SCOPES[principal.role],
            reader=rt.reader,
        )

    try:
        if version is None:
            actor = resolve()
        else:
            actor = rt.callers.get(("actor", principal.person_id, principal.role), resolve, version=version)
    except AuthorizationError as refused:
        raise _unauthorized(f"Authorization: {refused.message}", refused.code) from None
    actor = actor.model_copy(update={"read_only": principal.role is TokenRole.VIEWER})
    return claimed_actor(actor, act_as, uow=rt.uow, now=rt.now())


async def acting(
    request: Request,
    rt: Runtime,
    principal: Caller,
    act_as: Annotated[str | None, Header(alias=ACT_AS, include_in_schema=False)] = None,
) -> Actor:
    """``_acting`` (the token's person as the use cases' Actor): an actor kept for this request's stamp, acting as
    themselves, is answered on the event loop; anything else runs in the thread pool."""
    if act_as is None or act_as == principal.person_id:
        version = await stamp_of(request, rt)
        found, actor = rt.callers.kept(("actor", principal.person_id, principal.role), version=version)
        if found and isinstance(actor, Actor):
            return actor.model_copy(update={"read_only": principal.role is TokenRole.VIEWER})
    return await run_in_threadpool(_acting, request, rt, principal, act_as)


Acting = Annotated[Actor, Depends(acting)]
Reader = Acting
"""Any enabled person's token reads; what else it may do, each use case decides."""

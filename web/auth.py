"""Who is calling the REST API, and may they: bearer tokens and their roles.

The API works on the app's ``flows.runtime.Runtime``, the composition root every door shares (``Runtime``
below is the FastAPI dependency that hands it to a handler).

Roles (``phasegate token create PERSON --role ...``) are not a ladder; each grants its own permissions:

| role     | read | vote on rounds (own seat, or as a delegate) | write project data, start reviews |
| -------- | ---- | ------------------------------------------- | --------------------------------- |
| viewer   | yes  | no                                          | no                                |
| approver | yes  | yes                                         | no                                |
| pmo      | yes  | no                                          | yes                               |

Why a PMO token cannot vote: PMO tokens drive integrations (a scheduler, a finance export), and a vote is a
gatekeeper's own act, bound to the evidence they reviewed; a gatekeeper who also works in the PMO holds two
tokens. Why an approver token cannot write project data: approvers must not shape the evidence they judge.
Seats, delegation and segregation of duties are still checked by the vote service, whatever the token says.

Every 401 and 403 is audited (``security.api_refused``) through the app's rate-limited refusal ledger, so a
flood of bad tokens from one address costs the audit log a bounded number of entries per minute.

A token is looked up by the sha256 of what was presented (only hashes are stored). ``last_used_at`` is
written at most once an hour per token, so reading the API does not turn every request into a write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flows.runtime import Runtime as AppRuntime
from models.tokens import TokenRole, find_token, mark_used, token_hash
from web.problems import ApiProblem
from web.refusals import ANONYMOUS, audit_refusal

USE_RECORD_INTERVAL = timedelta(hours=1)


class Permission(StrEnum):
    READ = "read"
    VOTE = "vote"
    WRITE = "write"


ROLE_PERMISSIONS: dict[TokenRole, frozenset[Permission]] = {
    TokenRole.VIEWER: frozenset({Permission.READ}),
    TokenRole.APPROVER: frozenset({Permission.READ, Permission.VOTE}),
    TokenRole.PMO: frozenset({Permission.READ, Permission.WRITE}),
}


def app_runtime(request: Request) -> AppRuntime:
    """The app's runtime (``web.app.create_app`` puts it on ``app.state``): the same one the pages use."""
    rt: AppRuntime = request.app.state.runtime
    return rt


@dataclass(frozen=True)
class Principal:
    """The caller: the person a token was issued to, and that token's role."""

    token_id: UUID
    person_id: str
    role: TokenRole

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="A token from `phasegate token create PERSON --role viewer|approver|pmo`.",
)
Runtime = Annotated[AppRuntime, Depends(app_runtime)]


def _unauthorized(detail: str, code: str) -> ApiProblem:
    return ApiProblem(
        401, detail, code=code, headers={"WWW-Authenticate": 'Bearer realm="phasegate", error="invalid_token"'}
    )


API_REFUSED = "security.api_refused"


def _audit(request: Request, rt: AppRuntime, *, status: int, code: str, actor: str = ANONYMOUS) -> None:
    """Every refused API call is audited, through the app's rate-limited ledger (``web.refusals``)."""
    payload = {"status": status, "code": code, "method": request.method, "path": request.url.path}
    audit_refusal(request, rt.uow, action=API_REFUSED, entity="api", payload=payload, now=rt.now(), actor=actor)


def authenticate(
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
    with rt.read_sessions() as session, session.begin():
        record = find_token(session, token_hash(credentials.credentials))
    if record is None:
        _audit(request, rt, status=401, code="auth.invalid")
        raise _unauthorized("Authorization: unknown token", "auth.invalid")
    if not record.active:
        _audit(request, rt, status=401, code="auth.revoked", actor=record.person_id)
        raise _unauthorized("Authorization: this token was revoked", "auth.revoked")
    now = rt.now()
    # The only write of a read request, and a throttled one: most requests never wait for SQLite's write lock.
    if record.last_used_at is None or now - record.last_used_at >= USE_RECORD_INTERVAL:
        with rt.sessions() as session, session.begin():
            mark_used(session, record.id, now)
    return Principal(token_id=record.id, person_id=record.person_id, role=record.role)


Caller = Annotated[Principal, Depends(authenticate)]


def require(permission: Permission) -> Callable[..., Principal]:
    """A dependency that admits callers whose role grants ``permission`` (403 otherwise)."""

    def check(principal: Caller, request: Request, rt: Runtime) -> Principal:
        if not principal.may(permission):
            _audit(request, rt, status=403, code="auth.role", actor=principal.person_id)
            allowed = ", ".join(r.value for r, perms in ROLE_PERMISSIONS.items() if permission in perms)
            raise ApiProblem(
                403,
                f"role {principal.role.value} may not {permission.value}; roles that may: {allowed}",
                code="auth.role",
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require(Permission.READ))]
Voter = Annotated[Principal, Depends(require(Permission.VOTE))]
Writer = Annotated[Principal, Depends(require(Permission.WRITE))]

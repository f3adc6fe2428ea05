"""What the command line needs from ``/api/v1`` when it talks to a server (``phasegate login``).

Why a module of its own: a gatekeeper's laptop holds a personal token instead of database credentials, so
every command it runs remotely must have an operation here that calls the same use case as the local
command. ``web.api`` already serves most of them; this module adds the two it lacked:

- ``GET /api/v1/me``: who the token belongs to and its role, so ``phasegate login`` can check a token before
  storing it and ``phasegate whoami`` can say who the CLI acts as.
- ``GET /api/v1/conditions``: the conditions of CONDITIONAL_GO decisions, as ``phasegate conditions list``.
- ``POST /api/v1/projects/{key}/scores``: a gatekeeper's scorecard scores, as ``phasegate score``. A score is
  the gatekeeper's own judgement of the gate (the use case checks the role), and the scorer is the token's person.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from phasegate.gates.vocabulary.commands import ProjectKey
from phasegate.gates.vocabulary.identity import AuthMethod, OrgRole
from phasegate.gates.vocabulary.snapshots import ConditionRecord
from phasegate.models.tokens import TokenRole
from phasegate.usecases import approvals, services
from phasegate.web.auth import Acting, Caller, Reader, Runtime
from phasegate.web.problems import ProblemRoute, responses, single_valued_query

router = APIRouter(prefix="/api/v1", route_class=ProblemRoute, dependencies=[Depends(single_valued_query)])

MAX_LIMIT = 200


class Me(BaseModel):
    """The caller as the server knows them: the token's person and what the token allows."""

    person_id: str
    name: str | None = Field(description="The person's printed name; null if the person record is gone.")
    email: str | None
    locale: str | None
    token_id: UUID
    role: TokenRole = Field(description="The token's scope: viewer, approver or pmo.")
    roles: list[OrgRole] = Field(
        description="The organisation roles the caller acts with through this token: their current roles, "
        "limited to its scope (what each role may do: docs/security.md)."
    )
    method: AuthMethod = Field(description="How the server proved who the caller is (always api_token here).")


@router.get("/me", responses=responses(401, 403, 422), tags=["session"])
def me(caller: Caller, actor: Acting, rt: Runtime) -> Me:
    """Who this token belongs to and its role (``phasegate login`` and ``whoami`` ask this)."""
    with rt.reader() as tx:
        person = tx.people.get_person(caller.person_id)
    return Me(
        person_id=caller.person_id,
        name=person.name if person else None,
        email=person.email if person else None,
        locale=person.locale if person else None,
        token_id=caller.token_id,
        role=caller.role,
        roles=sorted(actor.roles),
        method=AuthMethod.API_TOKEN,
    )


class ConditionPage(BaseModel):
    items: list[ConditionRecord]
    total: int
    limit: int
    offset: int


ConditionStatus = Literal["open", "met", "missed", "waived"]


@router.get("/conditions", responses=responses(401, 403, 422), tags=["rounds"])
def list_conditions(
    _: Reader,
    rt: Runtime,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1..{MAX_LIMIT}).")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip.")] = 0,
    project: Annotated[ProjectKey | None, Query(description="Conditions of this project.")] = None,
    condition_status: Annotated[ConditionStatus | None, Query(alias="status")] = None,
) -> ConditionPage:
    """Conditions of CONDITIONAL_GO decisions with owner, due date and verification (``conditions list``)."""
    found = approvals.list_conditions(uow=rt.reader, project_key=project, status=condition_status)
    return ConditionPage(items=found[offset : offset + limit], total=len(found), limit=limit, offset=offset)


Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class ScoresIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Keys are checked against the gate's scorecard by the use case (an unknown factor is a 422 naming it):
    # a key pattern here is not carried into OpenAPI clients' generators, which then send keys it refuses.
    scores: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)], Annotated[int, Field(ge=0, le=1000)]
    ] = Field(
        min_length=1, max_length=50, description="Factor id to score (0..the scorecard's maximum, 10 by default)."
    )
    gate: Ident | None = Field(default=None, description="Default: the project's current gate.")


class ScoresOut(BaseModel):
    project_key: str
    gate_id: str
    gatekeeper: str = Field(description="Who scored: the token's person.")
    scored: int = Field(description="How many factors were scored.")


@router.post(
    "/projects/{key}/scores",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 404, 409, 422),
    tags=["evidence"],
)
def record_scores(
    actor: Acting, rt: Runtime, key: Annotated[str, Path(description="The project key, e.g. P1.")], body: ScoresIn
) -> ScoresOut:
    """Record the token's person's scorecard scores for the current gate (or ``gate``); a factor scored again
    replaces the earlier score."""
    gate_id = services.record_scores(key, body.scores, actor=actor, uow=rt.uow, now=rt.now(), gate_id=body.gate)
    return ScoresOut(project_key=key, gate_id=gate_id, gatekeeper=actor.person_id, scored=len(body.scores))

"""What the command line needs from ``/api/v1`` when it talks to a server (``phasegate login``).

Why a module of its own: a gatekeeper's laptop holds a personal token instead of database credentials, so
every command it runs remotely must have an operation here that calls the same use case as the local
command. ``web.api`` already serves most of them; this module adds the two it lacked:

- ``GET /api/v1/me``: who the token belongs to and its role, so ``phasegate login`` can check a token before
  storing it and ``phasegate whoami`` can say who the CLI acts as.
- ``GET /api/v1/conditions``: the conditions of CONDITIONAL_GO decisions, as ``phasegate conditions list``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gates import approvals
from models.identity import AuthMethod
from models.snapshots import ConditionRecord
from models.tokens import TokenRole
from web.auth import ROLE_PERMISSIONS, Permission, Reader, Runtime
from web.problems import ProblemRoute, responses, single_valued_query

router = APIRouter(prefix="/api/v1", route_class=ProblemRoute, dependencies=[Depends(single_valued_query)])

MAX_LIMIT = 200


class Me(BaseModel):
    """The caller as the server knows them: the token's person and what the token allows."""

    person_id: str
    name: str | None = Field(description="The person's printed name; null if the person record is gone.")
    email: str | None
    locale: str | None
    token_id: UUID
    role: TokenRole = Field(description="The token's role: viewer, approver or pmo.")
    permissions: list[Permission]
    method: AuthMethod = Field(description="How the server proved who the caller is (always api_token here).")


@router.get("/me", responses=responses(401, 422), tags=["session"])
def me(caller: Reader, rt: Runtime) -> Me:
    """Who this token belongs to and its role (``phasegate login`` and ``whoami`` ask this)."""
    with rt.reader() as tx:
        person = tx.get_person(caller.person_id)
    return Me(
        person_id=caller.person_id,
        name=person.name if person else None,
        email=person.email if person else None,
        locale=person.locale if person else None,
        token_id=caller.token_id,
        role=caller.role,
        permissions=sorted(ROLE_PERMISSIONS[caller.role]),
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
    project: Annotated[str | None, Query(max_length=64, description="Conditions of this project.")] = None,
    condition_status: Annotated[ConditionStatus | None, Query(alias="status")] = None,
) -> ConditionPage:
    """Conditions of CONDITIONAL_GO decisions with owner, due date and verification (``conditions list``)."""
    found = approvals.list_conditions(uow=rt.reader, project_key=project, status=condition_status)
    return ConditionPage(items=found[offset : offset + limit], total=len(found), limit=limit, offset=offset)

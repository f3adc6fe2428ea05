"""The REST API's acts a team member runs from a laptop (``phasegate login``), beyond what ``web.api`` serves:
reassigning a seat, verifying a condition, resuming and closing a project, milestones, and importing a status
report or risk register file in one request.

Why a module of its own: ``web.api`` is near a thousand lines and other work adds to it too; these handlers
share its types and conventions (thin: validate the body, call the one use case the CLI calls, shape the
answer). Why imports are batches: a file is one act, so the CLI parses it on the laptop with the same code the
local command uses (row errors read the same, nothing is sent when a row is bad) and sends every row in ONE
request, which the use case records in ONE transaction: all or nothing, as locally.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StringConstraints

from phasegate.flows.runtime import approval_links
from phasegate.gates.vocabulary.commands import PersonId
from phasegate.gates.vocabulary.evidence import MilestoneEvidence, RiskEvidence
from phasegate.gates.vocabulary.snapshots import ConditionRecord, EvmReportRecord, ProjectSnapshot
from phasegate.usecases import approvals, services
from phasegate.web.api import (
    WRITE,
    Body,
    GivenReason,
    Ident,
    Key,
    LongText,
    Money,
    Name,
    RiskIn,
    RoundOut,
    _round,
)
from phasegate.web.auth import Acting, Runtime
from phasegate.web.problems import ProblemRoute, single_valued_query

router = APIRouter(prefix="/api/v1", route_class=ProblemRoute, dependencies=[Depends(single_valued_query)])

MAX_ROWS = 10_000
"""Rows one import request may carry: the local importer's own row limit is of the same order."""


# ------------------------------------------------------------------------------------------------ rounds
class ReassignIn(Body):
    from_person: PersonId = Field(description="The approver whose seat moves.")
    to_person: PersonId = Field(description="Who takes the seat.")
    reason: GivenReason


@router.post("/rounds/{round_id}/reassign", responses=WRITE, tags=["rounds"])
def reassign_seat(actor: Acting, rt: Runtime, round_id: UUID, body: ReassignIn) -> RoundOut:
    """Move an approver's seat on an open round to another person (转交; pmo_admin, audited as an admin change)."""
    approvals.reassign_seat(
        round_id,
        from_person=body.from_person,
        to_person=body.to_person,
        actor=actor,
        reason=body.reason,
        uow=rt.uow,
        now=rt.now(),
        links=approval_links(rt.settings),
    )
    return _round(services.get_round(round_id, uow=rt.reader))


# ------------------------------------------------------------------------------------------------ conditions
class VerificationIn(Body):
    met: bool = Field(description="true: the condition was met; false: it was missed.")


@router.post("/conditions/{condition_id}/verification", responses=WRITE, tags=["conditions"])
def verify_condition(actor: Acting, rt: Runtime, condition_id: UUID, body: VerificationIn) -> ConditionRecord:
    """Record that a CONDITIONAL_GO condition was met or missed (its verifier, or a pmo_admin)."""
    return approvals.resolve_condition(condition_id, actor=actor, met=body.met, uow=rt.uow, now=rt.now())


# ------------------------------------------------------------------------------------------------ projects
class ResumeIn(Body):
    reason: GivenReason


class CloseIn(Body):
    lessons: LongText = Field(default="", description="Lessons learned (经验教训); the template may require them.")


@router.post("/projects/{key}/resume", responses=WRITE, tags=["projects"])
def resume_project(actor: Acting, rt: Runtime, key: Key, body: ResumeIn) -> ProjectSnapshot:
    """Take a project off hold (its sponsor or a pmo_admin)."""
    return approvals.resume_project(key, actor=actor, reason=body.reason, uow=rt.uow, now=rt.now())


@router.post("/projects/{key}/close", responses=WRITE, tags=["projects"])
def close_project(actor: Acting, rt: Runtime, key: Key, body: CloseIn) -> ProjectSnapshot:
    """Close a killed or completed project (its sponsor or a pmo_admin)."""
    return approvals.close_project(key, actor=actor, lessons=body.lessons, uow=rt.uow, now=rt.now())


# ------------------------------------------------------------------------------------------------ milestones
class MilestoneIn(Body):
    name: Name
    due: date
    done_on: date | None = None


class MilestoneDoneIn(Body):
    on: date | None = Field(default=None, description="Default: today on the server (UTC).")


@router.put("/projects/{key}/milestones/{milestone_id}", responses=WRITE, tags=["evidence"])
def set_milestone(actor: Acting, rt: Runtime, key: Key, milestone_id: Ident, body: MilestoneIn) -> MilestoneEvidence:
    """Add or update a milestone."""
    milestone = MilestoneEvidence(id=milestone_id, **body.model_dump())
    services.set_milestone(key, milestone, actor=actor, uow=rt.uow, now=rt.now())
    return milestone


@router.post("/projects/{key}/milestones/{milestone_id}/done", responses=WRITE, tags=["evidence"])
def complete_milestone(
    actor: Acting, rt: Runtime, key: Key, milestone_id: Ident, body: MilestoneDoneIn
) -> MilestoneDoneIn:
    """Mark a milestone done; the answer says on which day."""
    when = body.on or rt.now().date()
    services.complete_milestone(key, milestone_id, when, actor=actor, uow=rt.uow, now=rt.now())
    return MilestoneDoneIn(on=when)


# ------------------------------------------------------------------------------------------------ imports
FileProject = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A project key as a file gives it: an unknown one is the use case's "unknown project(s)", as locally."""


class StatusRowIn(Body):
    project: FileProject
    as_of: date
    planned_value: Money
    earned_value: Money
    actual_cost: Money
    estimate_to_complete: Money | None = None


class StatusImportIn(Body):
    reports: list[StatusRowIn] = Field(min_length=1, max_length=MAX_ROWS)


class RiskRowIn(RiskIn):
    project: FileProject


class RiskImportIn(Body):
    risks: list[RiskRowIn] = Field(min_length=1, max_length=MAX_ROWS)


class ImportOut(BaseModel):
    imported: int
    projects: list[str]


@router.post("/status-reports/import", responses=WRITE, tags=["evidence"])
def import_status_reports(actor: Acting, rt: Runtime, body: StatusImportIn) -> ImportOut:
    """Record an actuals file's EVM status reports, for one or many projects, in one transaction (all or nothing).

    The same use case as ``phasegate actuals import`` on the server: an unknown project, a value above BAC or a
    project the caller may not write writes nothing.
    """
    records = [
        EvmReportRecord(
            project_key=r.project,
            as_of=r.as_of,
            planned_value=r.planned_value,
            earned_value=r.earned_value,
            actual_cost=r.actual_cost,
            estimate_to_complete=r.estimate_to_complete,
        )
        for r in body.reports
    ]
    count = services.record_status(records, actor=actor, uow=rt.uow, now=rt.now())
    return ImportOut(imported=count, projects=sorted({r.project_key for r in records}))


@router.post("/risks/import", responses=WRITE, tags=["evidence"])
def import_risks(actor: Acting, rt: Runtime, body: RiskImportIn) -> ImportOut:
    """Record a risk register file's rows, for one or many projects, in one transaction (all or nothing)."""
    by_project: dict[str, list[RiskEvidence]] = {}
    for row in body.risks:
        by_project.setdefault(row.project, []).append(RiskEvidence(**row.model_dump(exclude={"project"})))
    services.import_risks(by_project, actor=actor, uow=rt.uow, now=rt.now())
    return ImportOut(imported=len(body.risks), projects=sorted(by_project))

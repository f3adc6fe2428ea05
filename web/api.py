"""The REST API, ``/api/v1``: templates, projects and their evidence, reviews, rounds and votes, the audit log.

Every operation needs a bearer token and checks its role (``web.auth``: viewer reads, approver also votes,
pmo also writes project data and starts reviews); every error is an RFC 9457 problem (``web.problems``).
Handlers are thin: they validate the request, call the same use cases as the CLI (``usecases.services``,
``usecases.approvals``) and shape the answer. Lists are paged with ``limit`` (at most 200) and ``offset``;
projects also with ``after`` (keyset: the previous page's ``next_after``).

Choices worth knowing:

- **Documents are registered, not uploaded.** Deliverables live on the server's disk (or a share it mounts),
  as with ``phasegate doc add``; a client sends the absolute path with the sha256 and size it computed. The
  server copies the file into its document store (``models.document_store``), refuses it when the hash or
  size differ, and gates read that copy from then on: a file changed after registration changes nothing.
- **Starting a review is a ``gate-review`` flow run where a Prefect server serves phasegate's deployments**
  (``phasegate server start``, a team's workers): the request creates the run over Prefect's REST API (no
  Prefect import), waits for it to end and answers what it recorded, with the run's id and name. Where nothing
  serves them, the review runs in the request; the requests it queues are dispatched by the composition
  root's after-commit handler once the answer is sent.
- **A deciding vote requests the ``gate-decision`` flow run**, as the CLI and the approval page do: the
  composition root (``flows.runtime.Runtime.vote``) reacts to the round-resolved event. When the flow runs in
  this process the answer carries ``applied`` (the project's new stage); on a team server a worker applies it
  and the answer names ``decision_flow_run``. An app serving a database other than ``PHASEGATE_DATABASE_URL``
  applies the decision directly, by the service the flow's task runs. ``phasegate rounds reconcile`` and the
  scheduled reconciliation catch a crash in between.
- **Votes are the caller's own.** The voter is the token's person (``on_behalf_of`` names a principal when
  acting as their delegate); ``evidence_hash`` must be the hash of the packet the caller reviewed (from
  ``GET /rounds/{id}``); an ``Idempotency-Key`` header makes a retried request return the first answer.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path as FilePath
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Path, Query, Request, Response, status
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from starlette.concurrency import run_in_threadpool

from phasegate.flows.runtime import Runtime as AppRuntime
from phasegate.gates.audit import KEYED
from phasegate.gates.maturity import MaturityReport
from phasegate.gates.prioritisation import Proposal
from phasegate.gates.vocabulary.commands import (
    CastVote,
    CreateProject,
    Delegate,
    Email,
    PersonId,
    ProjectKey,
    RecordCost,
    RegisterDocument,
    RequestReview,
    UpdatePerson,
    UpdateProject,
)
from phasegate.gates.vocabulary.enums import BallotKind, Decision, LessonCategory, ProjectStatus, RoundStatus
from phasegate.gates.vocabulary.errors import ConflictError, InputError
from phasegate.gates.vocabulary.evidence import DocumentEvidence, RiskEvidence
from phasegate.gates.vocabulary.identity import Actor, OrgRole, SignatureProof
from phasegate.gates.vocabulary.lessons import LessonDraft, LessonDueRecord, LessonEdit, LessonRecord
from phasegate.gates.vocabulary.snapshots import (
    BaselineRecord,
    ConditionSpec,
    DecisionRecord,
    DelegationRecord,
    Evaluation,
    EvmReportRecord,
    PersonSnapshot,
    ProjectQuery,
    ProjectSnapshot,
    RoundSnapshot,
    StoredTemplate,
)
from phasegate.gates.vocabulary.tolerance import ExceptionDecision, ToleranceException
from phasegate.models.audit_store import audit_head, verify_audit
from phasegate.models.document_store import check_remote_source
from phasegate.usecases import approvals, people, services
from phasegate.web.auth import Acting, Reader, Runtime, stamp_of
from phasegate.web.problems import ApiProblem, ProblemRoute, responses, single_valued_query

router = APIRouter(prefix="/api/v1", route_class=ProblemRoute, dependencies=[Depends(single_valued_query)])

MAX_LIMIT = 200
MAX_OFFSET = 1_000_000_000
MAX_INT = 2**31 - 1
"""Integers a client sends are capped at PostgreSQL's INTEGER so no value overflows a column."""

Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
MONEY_PATTERN = r"^[0-9]{1,16}(\.[0-9]{1,2})?$"
Money = Annotated[
    Decimal,
    BeforeValidator(lambda value: _money(value)),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["1200.50"]}, mode="validation"),
]
"""Amounts are decimal strings ("1200.50"): JSON numbers are binary floats and would lose cents."""
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]
Title = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Short = Annotated[str, StringConstraints(max_length=64)]
Note = Annotated[str, StringConstraints(max_length=500)]
Heading = Annotated[str, StringConstraints(max_length=500)]
Reason = Annotated[str, StringConstraints(max_length=4000)]
GivenReason = Annotated[str, StringConstraints(max_length=4000, pattern=r"\S")]
# At least one character that is not white space to Python (which CastVote strips), Rust's regex (which
# Pydantic checks with) and ECMAScript (which OpenAPI clients check with): their sets of spaces differ.
VISIBLE = r"[^\s\x1c-\x1f\x85\ufeff]"
ConditionText = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=VISIBLE)]
Verification = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=VISIBLE)]
RiskResponse = Literal["avoid", "mitigate", "transfer", "accept", "escalate", "exploit", "enhance", "share"]
LongText = Annotated[str, StringConstraints(max_length=10_000)]


def _money(value: object) -> Decimal:
    if not isinstance(value, str) or not re.fullmatch(MONEY_PATTERN, value):
        raise ValueError('an amount is a string of digits with at most 2 decimals, e.g. "1200.50"')
    return Decimal(value)


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1..{MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
Key = Annotated[str, Path(description="The project key, e.g. P1.")]
ItemT = TypeVar("ItemT")

READ = responses(401, 403, 422)
READ_ONE = responses(401, 403, 404, 422)
WRITE = responses(400, 401, 403, 404, 409, 422)


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: ``total`` counts every item, ``items`` holds at most ``limit`` from ``offset``."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int


class ProjectPage(Page[ProjectSnapshot]):
    """A page of projects; ``next_after`` is the ``after`` that asks for the next page (None after the last)."""

    next_after: str | None


def _page(items: list[ItemT], limit: int, offset: int) -> Page[ItemT]:
    return Page[ItemT](items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------------ templates
class TemplateSummary(BaseModel):
    id: str
    version: int
    name: str
    name_zh: str | None
    content_hash: str
    published_at: datetime
    stages: list[str]
    gates: list[str]


class TemplateDetail(TemplateSummary):
    content: dict[str, Any] = Field(description="The template as published (the YAML's data, validated).")


def _template_summary(stored: StoredTemplate) -> TemplateSummary:
    template = stored.template
    return TemplateSummary(
        id=template.id,
        version=template.version,
        name=template.name,
        name_zh=template.name_zh,
        content_hash=stored.content_hash,
        published_at=stored.published_at,
        stages=[s.id for s in template.stages],
        gates=[g.id for g in template.gates],
    )


@router.get("/templates", responses=READ, tags=["templates"])
def list_templates(_: Reader, rt: Runtime, limit: Limit = 50, offset: Offset = 0) -> Page[TemplateSummary]:
    """Published lifecycle template versions."""
    return _page([_template_summary(s) for s in services.list_templates(uow=rt.reader)], limit, offset)


@router.get("/templates/{template_id}/{version}", responses=READ_ONE, tags=["templates"])
def get_template(
    _: Reader, rt: Runtime, template_id: str, version: Annotated[int, Path(ge=1, le=MAX_INT)]
) -> TemplateDetail:
    """One published template version with its full content."""
    stored = services.get_template(template_id, version, uow=rt.reader)
    return TemplateDetail(**_template_summary(stored).model_dump(), content=stored.template.model_dump(mode="json"))


# ------------------------------------------------------------------------------------------------ projects
class ProjectIn(Body):
    key: ProjectKey
    name: Name
    template_id: Ident
    template_version: Annotated[int, Field(ge=1, le=MAX_INT)] | None = Field(
        default=None, description="Default: the latest published version."
    )
    sponsor_id: PersonId
    manager_id: PersonId
    budget: Money
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"


class VoteOut(BaseModel):
    voter_id: str = Field(description="The seat (the principal).")
    signer_id: str = Field(description="Who acted: the principal, or their delegate.")
    kind: BallotKind
    decision: Decision | None
    reason: str
    cast_at: datetime
    evidence_hash: str
    conditions: list[ConditionSpec]
    superseded: bool


class RoundOut(BaseModel):
    id: UUID
    project_key: str
    gate_id: str
    policy: str
    status: RoundStatus
    decision: Decision | None
    approvers: list[str]
    pending: list[str] = Field(description="Approvers asked now and not yet heard from.")
    explanation: str = Field(description="Where the quorum stands, in words.")
    evidence_hash: str = Field(description="The packet a vote must be bound to (send it as evidence_hash).")
    evidence_version: int
    opened_at: datetime
    due_at: datetime | None
    resolved_at: datetime | None
    applied_at: datetime | None
    votes: list[VoteOut]


def _round(current: RoundSnapshot) -> RoundOut:
    state = approvals.round_tally(current)
    return RoundOut(
        id=current.id,
        project_key=current.project_key,
        gate_id=current.gate_id,
        policy=current.policy,
        status=current.status,
        decision=current.decision,
        approvers=list(current.approvers),
        pending=list(state.next_up or state.pending),
        explanation=state.explanation,
        evidence_hash=current.evidence_hash,
        evidence_version=current.evidence_version,
        opened_at=current.opened_at,
        due_at=current.due_at,
        resolved_at=current.resolved_at,
        applied_at=current.applied_at,
        votes=[
            VoteOut(
                voter_id=v.voter_id,
                signer_id=v.signer_id or v.voter_id,
                kind=v.kind,
                decision=v.decision,
                reason=v.reason,
                cast_at=v.cast_at,
                evidence_hash=v.evidence_hash,
                conditions=list(v.conditions),
                superseded=v.superseded,
            )
            for v in current.votes
        ],
    )


class ProjectDetail(BaseModel):
    project: ProjectSnapshot
    gate_id: str | None = Field(description="The gate that closes the current stage (none when not active).")
    pending_rounds: list[RoundOut]
    decisions: list[DecisionRecord]
    rag: services.ProjectRag = Field(
        description="The portfolio monitor's computed RAG: latest per dimension (time, cost, quality, risk, overall) "
        "with deviation, allowance and adverse trend, the recent days' colours, and the open tolerance exceptions."
    )


@router.get("/projects", responses=READ, tags=["projects"], response_model=ProjectPage)
async def list_projects(
    _: Reader,
    request: Request,
    rt: Runtime,
    limit: Limit = 50,
    offset: Offset = 0,
    after: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="Only projects whose key sorts after this one: the previous page's `next_after` "
            "(keyset paging, as fast at the end of a large portfolio as at its start).",
        ),
    ] = None,
    project_status: Annotated[ProjectStatus | None, Query(alias="status")] = None,
    stage: Annotated[Ident | None, Query(description="Only projects in this stage.")] = None,
    template: Annotated[Ident | None, Query(description="Only projects on this template.")] = None,
) -> Response:
    """Projects by key, one page at a time (one indexed page query and a count); walk them with ``after``.

    The page's JSON is kept per committed state and query (``Runtime.pages``, keyed by the request's change stamp,
    read before the caller's lookups): a client polling the list reads the database once per change, and a kept
    page is answered from the event loop. Who asks is checked every time."""
    query = ProjectQuery(
        status=project_status, stage_id=stage, template_id=template, limit=limit, offset=offset, after=after
    )
    version = await stamp_of(request, rt)  # before any read: what is kept is never older than its key
    key = ("api_projects", version, query)
    found, body = rt.pages.kept(key, version=version)
    if not found:

        def page() -> bytes:
            items, total = services.list_projects(uow=rt.reader, query=query)
            last = items[-1].key if len(items) == limit else None  # a full page may be followed by an empty one
            page = ProjectPage(items=items, total=total, limit=limit, offset=offset, next_after=last)
            return page.model_dump_json().encode()

        body = await run_in_threadpool(page if version is None else lambda: rt.pages.get(key, page, version=version))
    return Response(body, media_type="application/json")


@router.post("/projects", status_code=status.HTTP_201_CREATED, responses=WRITE, tags=["projects"])
def create_project(actor: Acting, rt: Runtime, body: ProjectIn) -> ProjectSnapshot:
    """Create a project pinned to a published template version; it starts in the template's first stage."""
    cmd = CreateProject(**body.model_dump())
    return services.create_project(cmd, actor=actor, uow=rt.uow, now=rt.now())


class ProjectChangeIn(Body):
    name: Name | None = None
    sponsor_id: PersonId | None = None
    manager_id: PersonId | None = None
    budget: Money | None = None
    expected_benefit: Money | None = Field(default=None, description="Expected benefit, weighed in prioritisation.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="Why: recorded in the audit log with the values before and after."
    )


@router.patch("/projects/{key}", responses=WRITE, tags=["projects"])
def update_project(actor: Acting, rt: Runtime, key: Key, body: ProjectChangeIn) -> ProjectSnapshot:
    """Change a project's name, budget, sponsor, manager or expected benefit (PMO admin only; sponsor and manager
    stay two people).

    Fields left out are unchanged; the stage, status and template pin only move through gate decisions.
    """
    cmd = UpdateProject(key=key, **body.model_dump())
    return services.update_project(cmd, actor=actor, uow=rt.uow, now=rt.now())


@router.get("/projects/{key}", responses=READ_ONE, tags=["projects"])
def get_project(_: Reader, rt: Runtime, key: Key) -> ProjectDetail:
    """A project with its current gate, open rounds and decision history."""
    view = services.project_view(key, uow=rt.reader)
    return ProjectDetail(
        project=view.project,
        gate_id=view.gate_id,
        pending_rounds=[_round(r) for r in view.pending_rounds],
        decisions=list(view.history),
        rag=services.project_rag(key, uow=rt.reader),
    )


@router.get("/projects/{key}/tolerances", responses=READ_ONE, tags=["projects"])
def list_tolerances(_: Reader, rt: Runtime, key: Key) -> services.ToleranceList:
    """The tolerances in force per dimension: the whole project's, then each stage's own. ``source`` says whether
    a level set it, it is the template's default, or nothing was said (``unset``; ``none`` is an explicit no)."""
    return services.list_tolerances(key, uow=rt.reader)


@router.get("/exceptions", responses=READ_ONE, tags=["projects"])
def list_exceptions(
    _: Reader,
    rt: Runtime,
    limit: Limit = 50,
    offset: Offset = 0,
    project: Annotated[ProjectKey | None, Query(description="One project's exceptions.")] = None,
    status: Annotated[Literal["open", "closed"] | None, Query(description="Only open or closed ones.")] = None,
) -> Page[ToleranceException]:
    """Tolerance exceptions, newest first: the breach, the level and owner that decide it, and the decision."""
    return _page(services.list_exceptions(uow=rt.reader, project_key=project, status=status), limit, offset)


class ExceptionDecisionIn(Body):
    decision: ExceptionDecision = Field(description="approve_plan (re-baseline), premature_close or accept.")
    reason: str = Field(min_length=1, max_length=2000, description="Why; audited.")
    bac: Money | None = Field(default=None, description="approve_plan on cost: the new BAC (default: the forecast).")


@router.post("/exceptions/{exception_id}/decision", responses=WRITE, tags=["projects"])
def decide_exception(actor: Acting, rt: Runtime, exception_id: UUID, body: ExceptionDecisionIn) -> ToleranceException:
    """Close an exception as the level that set the breached tolerance (403 for any other level)."""
    return services.decide_exception(
        exception_id, body.decision, reason=body.reason, actor=actor, uow=rt.uow, now=rt.now(), new_bac=body.bac
    )


@router.get("/projects/{key}/evaluation", responses=responses(401, 403, 404, 409, 422), tags=["projects"])
def evaluate_project(
    _: Reader,
    rt: Runtime,
    key: Key,
    gate: Annotated[Ident | None, Query(description="Preview another gate of the template.")] = None,
) -> services.GateCheck:
    """The gate check: evaluate the current gate (or ``gate``) on the evidence now, writing nothing."""
    return services.check_gate(key, uow=rt.reader, now=rt.now(), probe=rt.probe, gate_id=gate, registry=rt.registry)


class RoleIn(Body):
    role: Ident = Field(description="pmo, finance or a named group; sponsor and manager are set at creation.")
    person_id: PersonId


class RoleOut(BaseModel):
    project_key: str
    role: str
    person_id: str
    created: bool = Field(description="False when the person already held the role.")


@router.post("/projects/{key}/roles", status_code=status.HTTP_201_CREATED, responses=WRITE, tags=["projects"])
def assign_role(actor: Acting, rt: Runtime, key: Key, body: RoleIn) -> RoleOut:
    """Give a person a role on the project: roles resolve approvers' seats and who may sign documents."""
    created = services.assign_role(key, body.role, body.person_id, actor=actor, uow=rt.uow, now=rt.now())
    return RoleOut(project_key=key, role=body.role, person_id=body.person_id, created=created)


# ------------------------------------------------------------------------------------------------ evidence
class DocumentIn(Body):
    deliverable_id: Ident
    path: Annotated[str, StringConstraints(max_length=1024, pattern=r"^/[^\x00]*$")] = Field(
        description="Absolute path of a regular file on the server's disk (not a symbolic link); the server copies "
        "it into its document store, and gates read that copy from then on."
    )
    sha256: Sha256 = Field(description="The file's sha256 as the client computed it; the server's copy must match.")
    size: Annotated[int, Field(ge=0, le=MAX_INT)]
    approved_by: PersonId | None = None
    format: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{0,16}$")] = Field(
        default="", description="Ignored: the server takes the format from the file name."
    )
    headings: list[Heading] | None = Field(
        default=None, max_length=500, description="Ignored: the server reads the sections from its stored copy."
    )


@router.post(
    "/projects/{key}/documents",
    status_code=status.HTTP_201_CREATED,
    responses=WRITE | {200: {"description": "The same file is already the latest version: nothing was added."}},
    tags=["evidence"],
)
def register_document(actor: Acting, rt: Runtime, key: Key, body: DocumentIn, response: Response) -> DocumentEvidence:
    """Register a new version of a deliverable: the server copies the file into its document store.

    The file must be a regular file within the server's size caps, and hash to ``sha256`` (422 otherwise).
    Sections and format are read by the server from its copy. The same file again is not a new version: 200
    with the latest version instead of 201. A path that is not a regular file, or a hash that is not the
    file's, is also audited (``security.document_refused``): a client probing the server's disk shows in the log.
    """
    try:
        return _register_document(rt, actor, key, body, response)
    except InputError as err:
        services.record_document_refusal(key, err, actor=actor, path=body.path, uow=rt.uow, now=rt.now())
        raise


def _register_document(
    rt: AppRuntime, actor: Actor, key: str, body: DocumentIn, response: Response
) -> DocumentEvidence:
    services.check_document_target(key, body.deliverable_id, body.approved_by, actor=actor, uow=rt.uow, now=rt.now())
    settings = rt.settings
    check_remote_source(
        FilePath(body.path),
        roots=settings.allowed_document_roots,
        barred=(settings.home, settings.document_store_root, settings.resolved_secret_key_file),
        label="body.path",
    )
    with rt.document_store().custody(FilePath(body.path), label="body.path", follow_symlinks=False) as stored:
        if stored.sha256 != body.sha256 or stored.size != body.size:
            raise InputError(
                f"body.sha256: the file at body.path hashes to {stored.sha256} ({stored.size} bytes), not "
                f"{body.sha256} ({body.size} bytes); send the hash and size of the file being registered",
                code="document.hash_mismatch",
            )
        cmd = RegisterDocument(
            project_key=key,
            deliverable_id=body.deliverable_id,
            path=body.path,
            approved_by=body.approved_by,
            **stored.registered_as(),
        )
        registered = services.register_document(cmd, actor=actor, uow=rt.uow, now=rt.now())
    if not registered.created:
        response.status_code = status.HTTP_200_OK
    return registered.document


@router.post(
    "/projects/{key}/documents/{deliverable}/approval",
    status_code=status.HTTP_201_CREATED,
    responses=WRITE | {200: {"description": "You already approved the latest version: nothing was added."}},
    tags=["evidence"],
)
def approve_document(actor: Acting, rt: Runtime, key: Key, deliverable: Ident, response: Response) -> DocumentEvidence:
    """Sign the latest version of a deliverable in the token owner's name.

    Only whoever holds the deliverable's approver role on the project (or a PMO admin) may; the project's
    manager never may when the deliverable's standard says so (403, audited). An approval is always the
    signer's own: there is no field naming someone else.
    """
    approved = services.approve_document(key, deliverable, actor=actor, uow=rt.uow, now=rt.now())
    if not approved.created:
        response.status_code = status.HTTP_200_OK
    return approved.document


class CostIn(Body):
    kind: Literal["cost"]
    amount: Money
    note: Note = ""


class StatusIn(Body):
    kind: Literal["status"]
    as_of: date
    planned_value: Money | None = Field(default=None, description="Default: from the baseline's time-phased plan.")
    earned_value: Money | None = None
    actual_cost: Money | None = None
    estimate_to_complete: Money | None = None


class ActualsOut(BaseModel):
    kind: Literal["cost", "status"]
    actual_cost_to_date: Decimal | None = Field(default=None, description="The cost ledger's total (kind cost).")
    as_of: date | None = Field(default=None, description="The status date recorded (kind status).")


@router.post("/projects/{key}/actuals", status_code=status.HTTP_201_CREATED, responses=WRITE, tags=["evidence"])
def record_actuals(
    actor: Acting, rt: Runtime, key: Key, body: Annotated[CostIn | StatusIn, Field(discriminator="kind")]
) -> ActualsOut:
    """Record cost spent (``kind: cost``, added to the ledger) or a dated earned-value status report."""
    if isinstance(body, CostIn):
        total = services.record_cost(
            RecordCost(project_key=key, amount=body.amount, note=body.note), actor=actor, uow=rt.uow, now=rt.now()
        )
        return ActualsOut(kind="cost", actual_cost_to_date=total)
    record = EvmReportRecord(
        project_key=key,
        as_of=body.as_of,
        planned_value=body.planned_value,
        earned_value=body.earned_value,
        actual_cost=body.actual_cost,
        estimate_to_complete=body.estimate_to_complete,
    )
    services.record_status([record], actor=actor, uow=rt.uow, now=rt.now())
    return ActualsOut(kind="status", as_of=body.as_of)


class RiskIn(Body):
    id: Ident
    title: Title
    category: Short = ""
    owner: PersonId | None = None
    probability: Annotated[int, Field(ge=1, le=100)]
    impact: Annotated[int, Field(ge=1, le=100)]
    response: RiskResponse | None = None
    mitigation: LongText = ""
    cause: LongText = ""
    effect: LongText = ""
    status: Literal["open", "closed"] = "open"


class RiskOut(BaseModel):
    id: str
    title: str
    category: str
    owner: str | None
    probability: int
    impact: int
    score: int = Field(description="probability x impact")
    response: str | None
    mitigation: str
    cause: str
    effect: str
    status: str


def _risk_out(risk: RiskEvidence) -> RiskOut:
    return RiskOut(**risk.model_dump(), score=risk.score)


@router.get("/projects/{key}/risks", responses=READ_ONE, tags=["evidence"])
def list_risks(_: Reader, rt: Runtime, key: Key, limit: Limit = 50, offset: Offset = 0) -> Page[RiskOut]:
    """The project's risk register, highest score first."""
    risks = sorted(services.project_data(key, uow=rt.reader).risks, key=lambda r: (-r.score, r.id))
    return _page([_risk_out(r) for r in risks], limit, offset)


@router.post("/projects/{key}/risks", status_code=status.HTTP_201_CREATED, responses=WRITE, tags=["evidence"])
def record_risk(actor: Acting, rt: Runtime, key: Key, body: RiskIn) -> RiskOut:
    """Add a risk, or replace the one with the same id (probability and impact on the template's scale)."""
    risk = RiskEvidence(**body.model_dump())
    services.record_risks(key, [risk], actor=actor, uow=rt.uow, now=rt.now())
    return _risk_out(risk)


class PlanPeriodIn(Body):
    period_end: date
    planned_value: Money = Field(description="Cumulative planned value at the end of the period.")


class StageBudgetIn(Body):
    stage_id: Ident
    amount: Money


class BaselineIn(Body):
    bac: Money = Field(description="Budget at completion.")
    contingency: Money | None = None
    contingency_used: Money | None = None
    periods: list[PlanPeriodIn] | None = Field(
        default=None, max_length=1200, description="The time-phased plan; null keeps the current one."
    )
    stage_budgets: list[StageBudgetIn] = Field(default_factory=list, max_length=100)


@router.put("/projects/{key}/baseline", responses=WRITE, tags=["evidence"])
def set_baseline(actor: Acting, rt: Runtime, key: Key, body: BaselineIn) -> BaselineRecord:
    """Set the cost baseline: BAC, contingency, optionally the time-phased plan and stage budgets."""
    periods = [(p.period_end, p.planned_value) for p in body.periods] if body.periods is not None else None
    if periods is not None and len({end for end, _ in periods}) != len(periods):
        raise InputError("periods: each period_end may appear once", code="baseline.duplicate_period")
    budgets = {b.stage_id: b.amount for b in body.stage_budgets}
    if len(budgets) != len(body.stage_budgets):
        raise InputError("stage_budgets: each stage_id may appear once", code="baseline.duplicate_stage")
    record = BaselineRecord(bac=body.bac, contingency=body.contingency, contingency_used=body.contingency_used)
    return services.set_baseline(
        key, record, actor=actor, periods=periods, stage_budgets=budgets, uow=rt.uow, now=rt.now()
    )


# ------------------------------------------------------------------------------------------------ reviews
class ReviewOut(BaseModel):
    review_id: UUID
    round_id: UUID | None = Field(description="The approval round opened; null when the gate is not ready.")
    recommendation: str
    approvers: list[str]
    notifications: int = Field(
        description="Notifications queued for the dispatcher (0 when the gate-review flow run sent them itself)."
    )
    evaluation: Evaluation
    flow_run_id: UUID | None = Field(
        default=None, description="The gate-review flow run that recorded it, when a served deployment ran it."
    )
    flow_run_name: str | None = Field(
        default=None, description="Its name in the Prefect UI, e.g. `ERP / gate / review`."
    )


class ReviewIn(Body):
    meeting_at: AwareDatetime | None = Field(
        default=None, description="When the gate review meeting is held: approvers get a calendar invitation."
    )


@router.post(
    "/projects/{key}/reviews",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 404, 409, 422, 503),
    tags=["reviews"],
)
def start_review(
    actor: Acting, rt: Runtime, key: Key, background: BackgroundTasks, body: ReviewIn | None = None
) -> ReviewOut:
    """Start a gate review: evaluate, record it with its evidence hash, and open the approval round if ready.

    Where a Prefect server serves phasegate's deployments for this database (``phasegate server start``, or a
    team's workers), the review is a ``gate-review`` flow run, as from the CLI: the answer comes when the run has
    ended and names it (503 when it has not ended within a minute: it is still recorded when it does). Otherwise
    the review runs in the request.
    """
    meeting_at = body.meeting_at if body is not None else None
    ran = _served_review(rt, actor, key, meeting_at)
    if ran is not None:
        return ran
    result = rt.start_review(
        RequestReview(project_key=key, requested_by=actor.person_id, meeting_at=meeting_at), actor=actor
    )
    background.add_task(rt.after_commit, result.events, quiet=True)  # the requests go out after the answer
    return _review_out(result)


def _review_out(result: services.ReviewResult, **flow_run: Any) -> ReviewOut:
    return ReviewOut(
        review_id=result.review_id,
        round_id=result.round_id,
        recommendation=result.evaluation.recommendation.value,
        approvers=list(result.approvers),
        notifications=result.notifications,
        evaluation=result.evaluation,
        **flow_run,
    )


def _served_review(rt: AppRuntime, actor: Actor, key: str, meeting_at: datetime | None) -> ReviewOut | None:
    """The review as a flow run of the served deployment; None when nothing serves this database's flows."""
    if not rt.flows_see_this_database:
        return None
    from phasegate.flows.trigger import served_review

    services.check_review_request(key, actor=actor, uow=rt.uow, now=rt.now())  # a mistake is a 4xx, not a run
    ran = served_review(
        key,
        requested_by=rt.seal_actor(actor, project_key=key),
        meeting_at=meeting_at.isoformat() if meeting_at is not None else None,
    )
    if ran is None:
        return None
    state, name = ran["state"], ran["flow_run_name"]
    if state["type"] != "COMPLETED":
        raise ApiProblem(
            503,
            f"the gate-review flow run {name!r} is {state['name'] or 'not started'}"
            + (f": {state['message']}" if state["message"] else "")
            + f"; see it in the Prefect UI, and the review on GET /api/v1/projects/{key} once it has run",
            code="review.flow_run_pending",
            headers={"Retry-After": "30"},
        )
    result = services.latest_review(key, uow=rt.reader)
    assert result is not None, "a completed gate-review run recorded a review"
    return _review_out(result, flow_run_id=ran["flow_run_id"], flow_run_name=name)


# ------------------------------------------------------------------------------------------------ rounds
@router.get("/rounds", responses=READ, tags=["rounds"])
def list_rounds(
    _: Reader,
    rt: Runtime,
    limit: Limit = 50,
    offset: Offset = 0,
    round_status: Annotated[RoundStatus | None, Query(alias="status")] = None,
    person: Annotated[PersonId | None, Query(description="Rounds where this person holds a seat.")] = None,
    project: Annotated[ProjectKey | None, Query(description="Rounds of this project.")] = None,
) -> Page[RoundOut]:
    """Approval rounds, oldest first, with who voted what and who is pending."""
    found = approvals.list_rounds(uow=rt.reader, pending_only=round_status is RoundStatus.OPEN, person_id=person)
    found = [
        r
        for r in found
        if (round_status is None or r.status is round_status) and (project is None or r.project_key == project)
    ]
    return Page[RoundOut](
        items=[_round(r) for r in found[offset : offset + limit]], total=len(found), limit=limit, offset=offset
    )


@router.get("/rounds/{round_id}", responses=READ_ONE, tags=["rounds"])
def get_round(_: Reader, rt: Runtime, round_id: UUID) -> RoundOut:
    """One round: policy, seats, votes, pending approvers and the evidence hash a vote must carry."""
    return _round(services.get_round(round_id, uow=rt.reader))


class ConditionIn(Body):
    text: ConditionText
    owner_id: PersonId
    due_on: date
    verification: Verification = Field(description="A criterion code, or 'verifier:PERSON' for a named verifier.")


class _VoteBase(Body):
    evidence_hash: Sha256 = Field(description="The round's evidence_hash as shown when the packet was reviewed.")
    on_behalf_of: PersonId | None = Field(default=None, description="The approver a delegate acts for.")
    password: Annotated[SecretStr, StringConstraints(max_length=1024)] | None = Field(
        default=None,
        description="Gates with `signature: part11` only: the signer's web password, re-entered to sign this vote.",
    )
    one_time_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,8}$")] | None = Field(
        default=None, description="With `password`, when the signer's account has one-time codes (TOTP) enabled."
    )


class GoVote(_VoteBase):
    decision: Literal["go"]
    reason: Reason = ""


class ConditionalGoVote(_VoteBase):
    decision: Literal["conditional_go"]
    reason: GivenReason
    conditions: list[ConditionIn] = Field(min_length=1, max_length=50)


class OtherVote(_VoteBase):
    """Rejections and stepping aside: each needs a reason."""

    decision: Literal["recycle", "hold", "kill", "abstain", "recuse"]
    reason: GivenReason


VoteIn = Annotated[GoVote | ConditionalGoVote | OtherVote, Field(discriminator="decision")]


class VoteOutcome(BaseModel):
    vote: approvals.VoteResult
    applied: approvals.DecisionApplied | None = Field(
        default=None, description="The decision applied to the project, when this vote resolved the round."
    )
    decision_flow_run: str | None = Field(
        default=None,
        description="The gate-decision flow run a team's worker applies the decision in (then `applied` is null).",
    )


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9._:-]{8,128}$",
        description="Retry-safe key (8..128 of A-Z a-z 0-9 . _ : -): a retry returns the first answer with 200.",
    ),
]


@router.post(
    "/rounds/{round_id}/votes",
    status_code=status.HTTP_201_CREATED,
    responses=WRITE | {200: {"model": VoteOutcome, "description": "A retry with the same Idempotency-Key."}},
    tags=["rounds"],
)
def cast_vote(
    actor: Acting, rt: Runtime, round_id: UUID, body: VoteIn, response: Response, idempotency_key: IdempotencyKey = ""
) -> VoteOutcome:
    """Vote, abstain or recuse on a round as the token's person, bound to the evidence hash reviewed."""
    conditions = body.conditions if isinstance(body, ConditionalGoVote) else []
    cmd = CastVote.from_door(
        round_id=round_id,
        voter_id=actor.person_id,
        choice=body.decision,
        reason=body.reason,
        # Acting "on behalf of" oneself is simply one's own vote.
        on_behalf_of=body.on_behalf_of if body.on_behalf_of != actor.person_id else None,
        conditions=[(c.text, c.owner_id, c.due_on.isoformat(), c.verification) for c in conditions],
        idempotency_key=f"api:{actor.person_id}:{idempotency_key}" if idempotency_key else None,
        seen_evidence_hash=body.evidence_hash,
        labels={"conditions": "conditions"},
    )
    signature = SignatureProof(password=body.password, one_time_code=body.one_time_code) if body.password else None
    voted = rt.vote(cmd, actor=actor, signature=signature)
    if voted.result.replayed:
        response.status_code = status.HTTP_200_OK
    decision = voted.after.decision or {}
    return VoteOutcome(
        vote=voted.result,
        applied=approvals.DecisionApplied.model_validate(decision) if "decision" in decision else None,
        decision_flow_run=str(decision["scheduled_flow_run"]) if "scheduled_flow_run" in decision else None,
    )


class CancelIn(Body):
    reason: GivenReason = Field(description="Why the round ends without a decision (sent to its approvers).")


@router.post("/rounds/{round_id}/cancel", responses=WRITE, tags=["rounds"])
def cancel_round(actor: Acting, rt: Runtime, round_id: UUID, body: CancelIn) -> RoundOut:
    """End an open round without a decision (pmo_admin): its approvers are told, the project stays where it is."""
    approvals.cancel_round(round_id, actor=actor, reason=body.reason, uow=rt.uow, now=rt.now())
    return _round(services.get_round(round_id, uow=rt.reader))


# ------------------------------------------------------------------------------------------------ delegation
@router.get("/delegations", responses=READ, tags=["delegation"])
def list_delegations(
    _: Reader,
    rt: Runtime,
    limit: Limit = 50,
    offset: Offset = 0,
    person: Annotated[PersonId | None, Query(description="Delegations from or to this person.")] = None,
) -> Page[DelegationRecord]:
    """Delegations with their period, scope and whether revoked."""
    return _page(approvals.list_delegations(uow=rt.reader, person_id=person), limit, offset)


class DelegationIn(Body):
    principal_id: PersonId = Field(description="Who delegates: yourself, unless you are a pmo_admin.")
    delegate_id: PersonId
    valid_from: date
    valid_to: date
    template_id: Ident | None = Field(default=None, description="Only this template's gates (default: any).")
    gate_id: Ident | None = Field(default=None, description="Only this gate (default: any).")


@router.post("/delegations", status_code=status.HTTP_201_CREATED, responses=WRITE, tags=["delegation"])
def grant_delegation(actor: Acting, rt: Runtime, body: DelegationIn) -> DelegationRecord:
    """Let a delegate vote for the principal within the dates (its principal or a pmo_admin; audited). The gate's
    segregation rules still apply to the delegate, and votes name both people."""
    try:
        cmd = Delegate(**body.model_dump())
    except ValidationError as err:  # rules across fields, which the schema cannot state: a conflict, not a shape
        message = str(err.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConflictError(f"body: {message}", code="delegation.invalid") from None
    return approvals.delegate(cmd, actor=actor, uow=rt.uow, now=rt.now())


@router.delete("/delegations/{delegation_id}", responses=WRITE, tags=["delegation"])
def revoke_delegation(actor: Acting, rt: Runtime, delegation_id: UUID) -> DelegationRecord:
    """End a delegation now (its principal or a pmo_admin); votes already cast under it stand."""
    return approvals.revoke_delegation(delegation_id, actor=actor, uow=rt.uow, now=rt.now())


# ------------------------------------------------------------------------------------------------ people
class PersonOut(BaseModel):
    id: str
    name: str
    email: str | None = Field(description="Shown to the person and to PMO admins only (null otherwise).")
    locale: str
    login: str | None = Field(description="Shown to the person and to PMO admins only (null otherwise).")
    notify_urls: list[str] = Field(
        default=[], description="Notification targets: shown to the person and to PMO admins only (empty otherwise)."
    )
    roles: list[OrgRole]
    disabled: bool


def _person(person: PersonSnapshot) -> PersonOut:
    return PersonOut(
        id=person.id,
        name=person.name,
        email=person.email or None,
        locale=person.locale,
        login=person.login,
        notify_urls=list(person.notify_urls),
        roles=sorted(person.roles),
        disabled=person.disabled,
    )


class PersonPatch(Body):
    """Fields to change; absent fields keep their value. ``roles`` replaces the roles; ``login: null`` unmaps."""

    name: Name | None = None
    email: Email | None = None
    locale: Literal["en", "zh-CN"] | None = None
    login: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$")] | None = None
    roles: list[OrgRole] | None = Field(default=None, max_length=4)
    enable: bool = False


class DisableIn(Body):
    reason: GivenReason


@router.get("/people/{person_id}", responses=READ_ONE, tags=["people"])
def get_person(reader: Reader, rt: Runtime, person_id: PersonId) -> PersonOut:
    """A person: name, organisation roles, whether disabled; email and login only to the person and PMO admins."""
    return _person(people.get_person(person_id, uow=rt.reader, actor=reader))


@router.patch("/people/{person_id}", responses=WRITE, tags=["people"])
def update_person(actor: Acting, rt: Runtime, person_id: PersonId, body: PersonPatch) -> PersonOut:
    """Change a person's details, login or organisation roles (pmo_admin)."""
    given = body.model_dump(exclude_unset=True)
    try:
        cmd = UpdatePerson(
            id=person_id,
            name=body.name,
            email=body.email,
            locale=body.locale,  # type: ignore[arg-type]
            login=body.login,
            clear_login="login" in given and body.login is None,
            roles=frozenset(body.roles) if body.roles is not None else None,
            enable=body.enable,
        )
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    return _person(people.update_person(cmd, actor=actor, uow=rt.uow, now=rt.now()))


@router.post("/people/{person_id}/disable", responses=WRITE, tags=["people"])
def disable_person(actor: Acting, rt: Runtime, person_id: PersonId, body: DisableIn) -> PersonOut:
    """Stop a person acting by any door; their tokens stop working (pmo_admin)."""
    return _person(people.disable_person(person_id, actor=actor, reason=body.reason, uow=rt.uow, now=rt.now()))


# ------------------------------------------------------------------------------------------------ audit
class AuditBreak(BaseModel):
    seq: int
    kind: str
    reason: str


class AuditVerification(BaseModel):
    intact: bool
    entries: int
    keyed: bool = Field(description="The chain's newest entry is keyed (HMAC under the server's secret key).")
    head_hash: str | None
    first_break: AuditBreak | None = Field(description="The first entry where the chain stops being trustworthy.")


class AuditHead(BaseModel):
    seq: int
    hash: str | None
    at: datetime | None


@router.get("/audit/verify", responses=READ, tags=["audit"])
def verify_audit_log(_: Reader, rt: Runtime) -> AuditVerification:
    """Verify the audit chain (edits, deletions and insertions are detected; keyed entries with the server's key)."""
    with rt.read_sessions() as session:  # one snapshot: the chain and its head agree
        broken = verify_audit(session, key=rt.audit_key)
        head = audit_head(session)
    return AuditVerification(
        intact=broken is None,
        entries=head.seq if head else 0,
        keyed=head is not None and head.scheme == KEYED,
        head_hash=head.hash if head else None,
        first_break=AuditBreak(seq=broken.seq, kind=str(broken.kind), reason=broken.reason) if broken else None,
    )


@router.get("/audit/head", responses=READ, tags=["audit"])
def get_audit_head(_: Reader, rt: Runtime) -> AuditHead:
    """The latest audit entry's sequence number and hash: keep it elsewhere to detect a truncated log."""
    with rt.read_sessions() as session:
        head = audit_head(session)
    return AuditHead(seq=head.seq if head else 0, hash=head.hash if head else None, at=head.at if head else None)


# ------------------------------------------------------------------------------------------------ lessons
class LessonIn(Body):
    project_key: ProjectKey
    what_happened: Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=VISIBLE)]
    category: LessonCategory = LessonCategory.OTHER
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=VISIBLE)]] = Field(
        default=[], max_length=20
    )
    repeat: Annotated[str, StringConstraints(max_length=4000)] = ""
    avoid: Annotated[str, StringConstraints(max_length=4000)] = ""
    gate_id: Ident | None = Field(default=None, description="The gate it was learned at.")
    round_id: UUID | None = Field(default=None, description="The approval round whose decision taught it.")


class LessonPatch(Body):
    what_happened: Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=VISIBLE)] | None = None
    category: LessonCategory | None = None
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=VISIBLE)]] | None = Field(
        default=None, max_length=20
    )
    repeat: Annotated[str, StringConstraints(max_length=4000)] | None = None
    avoid: Annotated[str, StringConstraints(max_length=4000)] | None = None


class AppliedIn(Body):
    round_id: UUID = Field(description="The approval round in which the lesson shaped your decision.")


class AppliedOut(BaseModel):
    lesson_id: int
    round_id: UUID
    recorded: bool = Field(description="False when it was already recorded for you in this round.")


LessonNumber = Annotated[int, Path(ge=1, le=MAX_INT, description="The lesson's number, e.g. 3.")]


@router.get("/lessons", responses=READ, tags=["lessons"])
def list_lessons(
    _: Reader,
    rt: Runtime,
    limit: Limit = 50,
    offset: Offset = 0,
    q: Annotated[
        str | None, Query(max_length=200, description="Full-text search, Chinese or English; every word must match.")
    ] = None,
    project: Annotated[ProjectKey | None, Query(description="One project's lessons.")] = None,
    template: Annotated[Ident | None, Query(description="A lifecycle template's id, e.g. it-pmo.")] = None,
    category: LessonCategory | None = None,
) -> Page[LessonRecord]:
    """Lessons learned: all (oldest first), a project's, a template's or a category's, or those matching ``q``
    (best first)."""
    if q is not None and q.strip():
        found = [
            lesson
            for lesson in services.search_lessons(q, uow=rt.reader)
            if (project is None or lesson.project_key == project)
            and (template is None or lesson.template_id == template)
            and (category is None or lesson.category == category)
        ]
    else:
        found = services.list_lessons(uow=rt.reader, project_key=project, template_id=template, category=category)
    return _page(found, limit, offset)


@router.get("/lessons/due", responses=READ, tags=["lessons"])
def lessons_due(
    _: Reader,
    rt: Runtime,
    owner: Annotated[PersonId | None, Query(description="Only this manager's.")] = None,
) -> list[LessonDueRecord]:
    """Killed projects whose lessons learned are still due (each closes once one is filed)."""
    return services.lessons_due(uow=rt.reader, owner_id=owner)


@router.get("/lessons/{lesson_id}", responses=READ_ONE, tags=["lessons"])
def show_lesson(_: Reader, rt: Runtime, lesson_id: LessonNumber) -> services.LessonView:
    """One lesson with the reviews that showed it and the gatekeepers who applied it."""
    return services.show_lesson(lesson_id, uow=rt.reader)


@router.post("/lessons", status_code=status.HTTP_201_CREATED, responses=WRITE, tags=["lessons"])
def add_lesson(actor: Acting, rt: Runtime, body: LessonIn) -> LessonRecord:
    """File a lesson learned (the project's manager or sponsor, a gatekeeper or a pmo_admin; audited)."""
    return services.add_lesson(LessonDraft(**body.model_dump()), actor=actor, uow=rt.uow, now=rt.now())


@router.patch("/lessons/{lesson_id}", responses=WRITE, tags=["lessons"])
def edit_lesson(actor: Acting, rt: Runtime, lesson_id: LessonNumber, body: LessonPatch) -> LessonRecord:
    """Rewrite a lesson (its author or a pmo_admin); the audit keeps the fields before and after. A body that
    changes nothing changes nothing (the lesson as it is), as ``PATCH /projects/{key}`` does."""
    edit = LessonEdit(**body.model_dump(exclude_none=True))
    if not edit.model_dump(exclude_none=True):
        return services.show_lesson(lesson_id, uow=rt.reader).lesson
    return services.edit_lesson(lesson_id, edit, actor=actor, uow=rt.uow, now=rt.now())


@router.post("/lessons/{lesson_id}/applied", responses=WRITE, tags=["lessons"])
def lesson_applied(actor: Acting, rt: Runtime, lesson_id: LessonNumber, body: AppliedIn) -> AppliedOut:
    """Record that the lesson shaped your decision in an approval round (its gatekeepers)."""
    recorded = services.mark_applied(lesson_id, body.round_id, actor=actor, uow=rt.uow, now=rt.now())
    return AppliedOut(lesson_id=lesson_id, round_id=body.round_id, recorded=recorded)


# ------------------------------------------------------------------------------------------------ strategy
@router.get("/portfolio/prioritisation", responses=READ, tags=["reports"])
def portfolio_prioritisation(
    actor: Reader,
    rt: Runtime,
    budget: Annotated[
        str, Query(pattern=r"^[0-9]{1,16}(\.[0-9]{1,2})?$", description="Money available, e.g. 1200000 or 1200000.50.")
    ],
    with_capacity: Annotated[
        bool | None,
        Query(
            description="true: constrain by each role's capacity per month too; false: budget only; "
            "absent: capacity whenever a demand plan is recorded."
        ),
    ] = None,
) -> Proposal:
    """Projects ranked by expected benefit per remaining cost and scorecard, and the set with the most expected
    benefit within ``budget`` (and, with a demand plan, within every role's capacity per month: exact 0/1
    selection), with why each other project is left out (``over_capacity`` names the role, month and hours)."""
    return services.prioritise_portfolio(
        budget=budget, actor=actor, uow=rt.uow, now=rt.now(), reader=rt.reader, with_capacity=with_capacity
    )


@router.get("/reports/maturity", responses=READ, tags=["reports"])
def maturity_report(
    actor: Reader,
    rt: Runtime,
    quarter: Annotated[
        str | None,
        Query(pattern=r"^(19[7-9][0-9]|2[0-9]{3})-Q[1-4]$", description="A quarter such as 2026-Q4; default: now."),
    ] = None,
) -> MaturityReport:
    """The maturity score of a quarter from the record: eight dimensions at levels 1-5 with their evidence and
    next step, the overall level (the lowest) and the trend over four quarters."""
    return services.maturity_report(actor=actor, uow=rt.uow, now=rt.now(), quarter=quarter, reader=rt.reader)

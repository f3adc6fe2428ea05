"""Use cases: one function each, one unit of work each, committed once; they return results, not rows.

Services receive their dependencies as keyword arguments (a unit-of-work factory and the current time)
so that entry points decide where data lives and tests decide what time it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from gates.authorization import Act, check_sponsor_and_manager
from gates.calendar import WorkingCalendar
from gates.criteria import Criterion
from gates.evaluation import evaluate_gate
from gates.evm import compute as compute_evm
from gates.guard import audit_name, permit, refusals_audited, stamp
from gates.ports import ApprovalLinks, DocumentProbe, UnitOfWork
from gates.quorum import resolve_seats, tally
from gates.registry import default_registry
from models.commands import AddPerson, CreateProject, RecordCost, RegisterDocument, RequestReview
from models.enums import (
    DocumentStatus,
    ProjectStatus,
    Recommendation,
    ReviewStatus,
)
from models.errors import ConflictError, InputError, NotFoundError
from models.evidence import DocumentEvidence, EvmSnapshot, GateEvidence, MilestoneEvidence, RiskEvidence
from models.identity import Actor, AuthMethod
from models.snapshots import (
    BaselineRecord,
    Evaluation,
    EvmReportRecord,
    OutboxRequest,
    PersonSnapshot,
    ProjectQuery,
    ProjectSnapshot,
    RoundSnapshot,
    StoredTemplate,
)
from models.template import GateDef, LifecycleTemplate

UowFactory = Callable[[], UnitOfWork]
SYSTEM = "system"


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class PublishResult(Result):
    template_id: str
    version: int
    content_hash: str
    created: bool


class ReviewResult(Result):
    review_id: UUID
    round_id: UUID | None
    evaluation: Evaluation
    approvers: tuple[str, ...]
    notifications: int


# ------------------------------------------------------------------------------------------------ people
@refusals_audited(Act.MANAGE_PEOPLE)
def add_person(cmd: AddPerson, *, actor: Actor, uow: UowFactory, now: datetime) -> PersonSnapshot:
    person = PersonSnapshot(
        id=cmd.id,
        name=cmd.name,
        email=str(cmd.email),
        locale=cmd.locale.value,
        notify_urls=cmd.notify_urls,
        login=cmd.login,
        roles=cmd.roles,
    )
    with uow() as tx:
        permit(tx, actor, Act.MANAGE_PEOPLE, entity=f"person:{cmd.id}")
        existing = tx.get_person(cmd.id)
        if existing == person:
            return existing
        if existing is not None:
            raise ConflictError(f"person {cmd.id!r} already exists with other details", code="person.exists")
        require_free_login(tx, cmd.login, cmd.id)
        tx.add_person(person, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="person.added",
            entity=f"person:{cmd.id}",
            payload={
                "name": cmd.name,
                "locale": person.locale,
                "targets": len(cmd.notify_urls),
                "login": cmd.login,
                "roles": sorted(cmd.roles),
            }
            | stamp(actor),
            at=now,
        )
        tx.commit()
    return person


def require_free_login(tx: UnitOfWork, login: str | None, person_id: str) -> None:
    """One OS login maps to one person: the CLI could not tell who acts otherwise."""
    if login is None:
        return
    holder = tx.person_by_login(login)
    if holder is not None and holder.id != person_id:
        raise ConflictError(f"--login: {login!r} is already the login of {holder.id}", code="person.login_taken")


# ------------------------------------------------------------------------------------------------ templates
@refusals_audited(Act.PUBLISH_TEMPLATE)
def publish_template(
    template: LifecycleTemplate, *, content_hash: str, source: str, actor: Actor, uow: UowFactory, now: datetime
) -> PublishResult:
    """Store an immutable version. The same content again is a no-op; other content under it is refused."""
    with uow() as tx:
        permit(tx, actor, Act.PUBLISH_TEMPLATE, entity=f"template:{template.id}@{template.version}")
        existing = tx.get_template(template.id, template.version)
        if existing is not None:
            if existing.content_hash != content_hash:
                raise ConflictError(
                    f"template {template.id}@{template.version} is already published with other content; "
                    f"published versions are immutable: raise 'version' to {_next_version(tx, template.id)}",
                    code="template.version_taken",
                )
            return PublishResult(
                template_id=template.id, version=template.version, content_hash=content_hash, created=False
            )
        tx.add_template(template, content_hash=content_hash, source=source, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="template.published",
            entity=f"template:{template.id}@{template.version}",
            payload={"content_hash": content_hash} | stamp(actor),
            at=now,
        )
        tx.commit()
    return PublishResult(template_id=template.id, version=template.version, content_hash=content_hash, created=True)


def _next_version(tx: UnitOfWork, template_id: str) -> int:
    latest = tx.get_template(template_id)
    return (latest.template.version + 1) if latest else 1


def get_template(template_id: str, version: int | None, *, uow: UowFactory) -> StoredTemplate:
    with uow() as tx:
        return require_template(tx, template_id, version)


def require_template(tx: UnitOfWork, template_id: str, version: int | None) -> StoredTemplate:
    stored = tx.get_template(template_id, version)
    if stored is None:
        known = sorted({f"{s.template.id}@{s.template.version}" for s in tx.list_templates()})
        wanted = template_id if version is None else f"{template_id}@{version}"
        raise NotFoundError(
            f"unknown template {wanted!r}; published: {', '.join(known) or 'none (run phasegate db upgrade)'}",
            code="template.not_found",
        )
    return stored


# ------------------------------------------------------------------------------------------------ projects
@refusals_audited(Act.CREATE_PROJECT)
def create_project(cmd: CreateProject, *, actor: Actor, uow: UowFactory, now: datetime) -> ProjectSnapshot:
    with uow() as tx:
        permit(tx, actor, Act.CREATE_PROJECT, entity=f"project:{cmd.key}")
        check_sponsor_and_manager(cmd.sponsor_id, cmd.manager_id)
        stored = require_template(tx, cmd.template_id, cmd.template_version)
        for role, person_id in (("sponsor", cmd.sponsor_id), ("manager", cmd.manager_id)):
            require_person(tx, person_id, field=f"--{role}")
        if tx.get_project(cmd.key) is not None:
            raise ConflictError(f"project {cmd.key!r} already exists", code="project.exists")
        project = ProjectSnapshot(
            key=cmd.key,
            name=cmd.name,
            template_id=stored.template.id,
            template_version=stored.template.version,
            template_hash=stored.content_hash,
            sponsor_id=cmd.sponsor_id,
            manager_id=cmd.manager_id,
            budget=cmd.budget,
            currency=cmd.currency,
            status=ProjectStatus.ACTIVE,
            stage_id=stored.template.stages[0].id,
            recycle_count=0,
        )
        tx.add_project(project, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="project.created",
            entity=f"project:{cmd.key}",
            payload={
                "template": f"{project.template_id}@{project.template_version}",
                "template_hash": project.template_hash,
                "budget": project.budget,
                "currency": project.currency,
                "sponsor": cmd.sponsor_id,
                "manager": cmd.manager_id,
            }
            | stamp(actor),
            at=now,
        )
        tx.commit()
    return project


def require_person(tx: UnitOfWork, person_id: str, *, field: str) -> PersonSnapshot:
    person = tx.get_person(person_id)
    if person is None:
        raise NotFoundError(
            f"{field}: unknown person {person_id!r}; add them with 'phasegate person add'", code="person.not_found"
        )
    return person


def require_project(tx: UnitOfWork, key: str, *, for_update: bool = False) -> ProjectSnapshot:
    project = tx.get_project(key, for_update=for_update)
    if project is None:
        raise NotFoundError(f"unknown project {key!r}; see 'phasegate project list'", code="project.not_found")
    return project


@refusals_audited(Act.WRITE_EVIDENCE)
def register_document(cmd: RegisterDocument, *, actor: Actor, uow: UowFactory, now: datetime) -> DocumentEvidence:
    with uow() as tx:
        project = require_project(tx, cmd.project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        template = require_template(tx, project.template_id, project.template_version).template
        known = [d.id for d in template.deliverables]
        if cmd.deliverable_id not in known:
            raise InputError(
                f"DELIVERABLE: {cmd.deliverable_id!r} is not a deliverable of {template.id}@{template.version}; "
                f"allowed: {', '.join(known)}",
                code="document.unknown_deliverable",
            )
        if cmd.approved_by is not None:
            require_person(tx, cmd.approved_by, field="--approved-by")
        document = DocumentEvidence(
            deliverable_id=cmd.deliverable_id,
            version=tx.next_document_version(project.key, cmd.deliverable_id),
            sha256=cmd.sha256,
            size=cmd.size,
            path=cmd.path,
            status=DocumentStatus.APPROVED if cmd.approved_by else DocumentStatus.REGISTERED,
            approved_by=cmd.approved_by,
            format=cmd.format,
            headings=cmd.headings,
        )
        tx.add_document(project.key, document, approved_at=now if cmd.approved_by else None, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="document.registered",
            entity=f"project:{project.key}/doc:{cmd.deliverable_id}@{document.version}",
            payload={"sha256": cmd.sha256, "size": cmd.size, "approved_by": cmd.approved_by} | stamp(actor),
            at=now,
        )
        tx.bump_evidence_version(project.key)
        tx.commit()
    return document


@refusals_audited(Act.WRITE_EVIDENCE)
def record_cost(cmd: RecordCost, *, actor: Actor, uow: UowFactory, now: datetime) -> Decimal:
    """Record actual cost; returns the project's new total."""
    with uow() as tx:
        project = require_project(tx, cmd.project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        tx.add_cost(project.key, cmd.amount, note=cmd.note, stage_id=project.stage_id, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="actuals.recorded",
            entity=f"project:{project.key}",
            payload={"amount": cmd.amount, "note": cmd.note} | stamp(actor),
            at=now,
        )
        total = tx.total_actual_cost(project.key)
        tx.bump_evidence_version(project.key)
        tx.commit()
    return total


# ------------------------------------------------------------------------------------------------ gates
def current_gate(project: ProjectSnapshot, template: LifecycleTemplate) -> GateDef:
    if project.status is not ProjectStatus.ACTIVE:
        raise ConflictError(
            f"project {project.key} is {project.status.value}; gates are evaluated for active projects only",
            code="project.not_active",
        )
    gate = template.gate_after(project.stage_id)
    if gate is None:
        raise ConflictError(f"stage {project.stage_id!r} of project {project.key} has no gate", code="gate.none")
    return gate


def collect_evidence(
    tx: UnitOfWork, project: ProjectSnapshot, gate: GateDef, *, as_of: date, probe: DocumentProbe
) -> GateEvidence:
    """Collect everything the gate's criteria read, as of one date, in one transaction."""
    key = project.key
    roles = project_roles(tx, project)
    held = {
        person: tuple(sorted(r for r, people in roles.items() if person in people))
        for people in roles.values()
        for person in people
    }
    documents = tuple(
        doc.model_copy(
            update={"current_sha256": probe(doc.path), "approver_roles": held.get(doc.approved_by or "", ())}
        )
        for doc in tx.latest_documents(key)
    )
    baseline = tx.get_baseline(key)
    report = tx.latest_evm_report(key, as_of)
    ledger, stage_spend = tx.spend(key, project.stage_id)
    bac = baseline.bac if baseline else project.budget
    evm = None
    if report is not None:
        planned = report.planned_value if report.planned_value is not None else tx.planned_value_at(key, report.as_of)
        evm = EvmSnapshot(
            as_of=report.as_of,
            bac=bac,
            pv=planned,
            ev=report.earned_value,
            ac=report.actual_cost,
            etc=report.estimate_to_complete,
        )
    return GateEvidence(
        project_key=key,
        template=f"{project.template_id}@{project.template_version}#{project.template_hash}",
        gate_id=gate.id,
        stage_id=project.stage_id,
        as_of=as_of,
        budget=project.budget,
        currency=project.currency,
        actual_cost=evm.ac if evm is not None and evm.ac is not None else ledger,
        documents=documents,
        roles=roles,
        evm=evm,
        stage_budget=tx.stage_budget(key, project.stage_id),
        stage_spend=stage_spend,
        contingency=baseline.contingency if baseline else None,
        contingency_used=baseline.contingency_used if baseline else None,
        risks=tuple(tx.risks(key)),
        milestones=tuple(tx.milestones(key)),
        scores=tuple(tx.scores(key, gate.id)),
    )


class GateCheck(Result):
    evaluation: Evaluation
    evidence: GateEvidence


def check_gate(
    project_key: str,
    *,
    uow: UowFactory,
    now: datetime,
    probe: DocumentProbe,
    gate_id: str | None = None,
    registry: Mapping[str, Criterion] | None = None,
) -> GateCheck:
    """Evaluate the project's current gate (or ``gate_id``, to preview another) without writing anything."""
    with uow() as tx:
        project = require_project(tx, project_key)
        template = require_template(tx, project.template_id, project.template_version).template
        if gate_id is None:
            gate = current_gate(project, template)
        else:
            found = template.gate(gate_id)
            if found is None:
                raise InputError(
                    f"--gate: {gate_id!r} is not a gate of {template.id}@{template.version}; "
                    f"gates: {', '.join(g.id for g in template.gates)}",
                    code="gate.unknown",
                )
            gate = found
        evidence = collect_evidence(tx, project, gate, as_of=now.date(), probe=probe)
    return GateCheck(
        evaluation=evaluate_gate(template, gate, evidence, registry or default_registry()), evidence=evidence
    )


def project_roles(tx: UnitOfWork, project: ProjectSnapshot) -> dict[str, tuple[str, ...]]:
    """Role -> people on the project: sponsor and manager from the project, the rest as assigned."""
    return {"sponsor": (project.sponsor_id,), "manager": (project.manager_id,)} | tx.project_roles(project.key)


def criteria_context(evaluation: Evaluation) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "passed": c.passed,
            "message": c.message,
            "message_zh": c.message_zh,
            "remediation": c.remediation,
            "remediation_zh": c.remediation_zh,
        }
        for c in evaluation.criteria
    ]


def _reviewable(
    tx: UnitOfWork, project_key: str, *, for_update: bool = False
) -> tuple[ProjectSnapshot, LifecycleTemplate, GateDef]:
    project = require_project(tx, project_key, for_update=for_update)
    template = require_template(tx, project.template_id, project.template_version).template
    gate = current_gate(project, template)
    pending = tx.open_rounds(project.key)
    if pending:
        raise ConflictError(
            f"project {project.key} already has an open approval round {pending[0].id} for gate "
            f"{pending[0].gate_id}; vote on it or wait for it to resolve",
            code="review.round_open",
        )
    return project, template, gate


def reviewable_gate(project_key: str, *, uow: UowFactory) -> str:
    """The gate a review of the project would evaluate, or the user error a review would meet; reads little.

    Entry points call it before paying for Prefect, so a mistake fails fast without evaluating the gate twice.
    """
    with uow() as tx:
        return _reviewable(tx, project_key)[2].id


@refusals_audited(Act.REQUEST_REVIEW)
def start_review(
    cmd: RequestReview,
    *,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None = None,
    links: ApprovalLinks | None = None,
) -> ReviewResult:
    """Evaluate, record the evaluation with its evidence hash, and open a round unless the gate is not ready."""
    cmd = cmd.model_copy(update={"requested_by": None if actor.method is AuthMethod.SYSTEM else actor.person_id})
    with uow() as tx:
        project, template, gate = _reviewable(tx, cmd.project_key, for_update=True)
        permit(tx, actor, Act.REQUEST_REVIEW, project=project)
        evidence = collect_evidence(tx, project, gate, as_of=now.date(), probe=probe)
        evaluation = _with_recycle_limit(
            evaluate_gate(template, gate, evidence, registry or default_registry()), project, gate
        )
        ready = evaluation.recommendation is not Recommendation.NOT_READY
        review_id = tx.add_review(
            project_key=project.key,
            gate_id=gate.id,
            stage_id=project.stage_id,
            status=ReviewStatus.AWAITING_APPROVAL if ready else ReviewStatus.NOT_READY,
            recommendation=evaluation.recommendation,
            evaluation=evaluation.model_dump(mode="json"),
            evidence=evidence.model_dump(mode="json"),
            evidence_hash=evaluation.evidence_hash,
            requested_by=cmd.requested_by,
            now=now,
        )
        tx.append_audit(
            actor=audit_name(actor),
            action="review.recorded",
            entity=f"project:{project.key}/gate:{gate.id}",
            payload={
                "review": review_id,
                "recommendation": evaluation.recommendation,
                "evidence_hash": evaluation.evidence_hash,
            }
            | stamp(actor),
            at=now,
        )
        base = {
            "project_key": project.key,
            "project_name": project.name,
            "gate_id": gate.id,
            "gate_name": gate.name,
            "gate_name_zh": gate.name_zh or gate.name,
            "recommendation": evaluation.recommendation.value,
            "criteria": criteria_context(evaluation),
        }
        round_id: UUID | None = None
        approvers: tuple[str, ...] = ()
        messages: list[OutboxRequest] = []
        if ready:
            seats = resolve_seats(  # the roles the evidence holds: read in this transaction, so still current
                gate.approval, _enabled(tx, evidence.roles), one_seat_per_person=gate.segregation.one_seat_per_person
            )
            approvers = tuple(dict.fromkeys(seat.person_id for seat in seats))
            calendar = WorkingCalendar.from_def(template.calendar)
            round_id = tx.open_round(
                review_id=review_id,
                project_key=project.key,
                gate_id=gate.id,
                policy=gate.approval.policy.value,
                approvers=approvers,
                evidence_hash=evaluation.evidence_hash,
                due_at=calendar.add_business_days(now, gate.sla_business_days),
                now=now,
                seats=[seat.model_dump(mode="json") for seat in seats],
                policy_spec=gate.approval.model_dump(mode="json"),
                requested_by=cmd.requested_by,
                evidence_version=project.evidence_version,
            )
            tx.append_audit(
                actor=audit_name(actor),
                action="round.opened",
                entity=f"round:{round_id}",
                payload={
                    "project": project.key,
                    "gate": gate.id,
                    "policy": gate.approval.model_dump(mode="json"),
                    "seats": [seat.model_dump(mode="json") for seat in seats],
                    "evidence_hash": evaluation.evidence_hash,
                },
                at=now,
            )
            opening = tally(gate.approval, seats, ())
            asked = opening.next_up or opening.pending
            request = base | {"packet": _packet(evaluation, evidence, project, gate, round_id, asked, now)}
            if cmd.meeting_at is not None:
                request |= {
                    "review_meeting": {
                        "starts_at": cmd.meeting_at.isoformat(),
                        "duration_minutes": cmd.meeting_minutes,
                    },
                    "requested_at": now.isoformat(),
                }
            for approver_id in asked:
                messages += approval_request(
                    tx, round_id, approver_id, request, evidence_hash=evaluation.evidence_hash, links=links
                )
            names = ", ".join(require_person(tx, person, field="approver").name for person in asked)
            team = base | {
                "round_id": str(round_id),
                "approver_name": names,
                "approval_url": None,
                "vote_command": f"phasegate vote {round_id} --decision go",
            }
            messages.append(
                org_notice("approval_requested", f"round:{round_id}", team, ("pmo", f"project:{project.key}"))
            )
        else:
            manager = require_person(tx, project.manager_id, field="manager")
            messages += messages_for(manager, "gate_not_ready", f"review:{review_id}", base)
            messages.append(org_notice("gate_not_ready", f"review:{review_id}", base, (f"project:{project.key}",)))
        queued = tx.enqueue(messages, now=now)
        tx.commit()
    return ReviewResult(
        review_id=review_id, round_id=round_id, evaluation=evaluation, approvers=approvers, notifications=queued
    )


def _enabled(tx: UnitOfWork, roles: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """The project's roles without disabled people: a disabled person is never seated in a new round."""
    people = tx.get_people({person for holders in roles.values() for person in holders})
    return {
        role: tuple(p for p in holders if not (p in people and people[p].disabled)) for role, holders in roles.items()
    }


def _packet(
    evaluation: Evaluation,
    evidence: GateEvidence,
    project: ProjectSnapshot,
    gate: GateDef,
    round_id: UUID,
    asked: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """The gate packet approvers receive with the request: the evaluation, EVM figures, top risks, who is asked."""
    top_risks = sorted(evidence.risks, key=lambda r: -r.score)[:10]
    return evaluation.model_dump(mode="json") | {
        "project_name": project.name,
        "gate_name": gate.name,
        "gate_name_zh": gate.name_zh or gate.name,
        "round_id": str(round_id),
        "generated_at": now.isoformat(),
        "evm": compute_evm(evidence.evm).as_json() if evidence.evm else None,
        "risks": [r.model_dump(mode="json") | {"score": r.score} for r in top_risks],
        "pending": list(asked),
    }


def _with_recycle_limit(evaluation: Evaluation, project: ProjectSnapshot, gate: GateDef) -> Evaluation:
    """After the template's recycle limit ("three strikes") the engine proposes KILL, whatever the criteria say."""
    if project.recycle_count < gate.recycle_limit:
        return evaluation
    reason = f"recycled {project.recycle_count} times at this gate; the limit is {gate.recycle_limit}"
    return evaluation.model_copy(
        update={"recommendation": Recommendation.KILL, "reasons": (*evaluation.reasons, reason)}
    )


def approval_request(
    tx: UnitOfWork,
    round_id: UUID,
    approver_id: str,
    base: dict[str, Any],
    *,
    evidence_hash: str,
    links: ApprovalLinks | None,
    kind: str = "approval_requested",
    subject_suffix: str = "",
) -> list[OutboxRequest]:
    """The request one approver receives: how to vote by command and, when links are configured, by page."""
    approver = require_person(tx, approver_id, field="approver")
    context = base | {
        "round_id": str(round_id),
        "approver_name": approver.name,
        "vote_command": f"phasegate vote {round_id} --decision go",  # run from the approver's own OS login
        "approval_url": links(round_id, approver.id, evidence_hash) if links else None,
    }
    return messages_for(approver, kind, f"round:{round_id}{subject_suffix}", context)


def org_notice(kind: str, subject: str, context: dict[str, Any], tags: tuple[str, ...]) -> OutboxRequest:
    """A notice to the organisation's tagged channels (a PMO chat group, a project team's WeCom group)."""
    return OutboxRequest(
        idempotency_key=f"{kind}:{subject}:org",
        kind=kind,
        recipient_id=None,
        target="",
        locale="en",
        context=context,
        tags=tags,
    )


def messages_for(person: PersonSnapshot, kind: str, subject: str, context: dict[str, Any]) -> list[OutboxRequest]:
    return [
        OutboxRequest(
            idempotency_key=f"{kind}:{subject}:{person.id}:{index}",
            kind=kind,
            recipient_id=person.id,
            target=target,
            locale=person.locale,
            context=context,
        )
        for index, target in enumerate(person.notify_urls)
    ]


# ------------------------------------------------------------------------------------------------ approvals
def get_round(round_id: UUID, *, uow: UowFactory) -> RoundSnapshot:
    with uow() as tx:
        return require_round(tx, round_id)


def require_round(tx: UnitOfWork, round_id: UUID, *, for_update: bool = False) -> RoundSnapshot:
    found = tx.get_round(round_id, for_update=for_update)
    if found is None:
        raise NotFoundError(
            f"unknown approval round {round_id}; see 'phasegate project show KEY'", code="round.not_found"
        )
    return found


# ------------------------------------------------------------------------------------------------ views
class ProjectView(Result):
    project: ProjectSnapshot
    gate_id: str | None
    pending_rounds: tuple[RoundSnapshot, ...]
    history: tuple[Any, ...]


def project_view(key: str, *, uow: UowFactory) -> ProjectView:
    with uow() as tx:
        project = require_project(tx, key)
        template = require_template(tx, project.template_id, project.template_version).template
        gate = template.gate_after(project.stage_id) if project.status is ProjectStatus.ACTIVE else None
        return ProjectView(
            project=project,
            gate_id=gate.id if gate else None,
            pending_rounds=tuple(tx.open_rounds(key)),
            history=tuple(tx.decision_history(key)),
        )


def list_projects(*, uow: UowFactory, query: ProjectQuery | None = None) -> tuple[list[ProjectSnapshot], int]:
    """A page of projects and the number matching (the whole portfolio when no limit is given)."""
    with uow() as tx:
        return tx.list_projects(query)


def list_templates(*, uow: UowFactory) -> list[StoredTemplate]:
    with uow() as tx:
        return tx.list_templates()


# ------------------------------------------------------------------------------------------------ project data
@refusals_audited(Act.ASSIGN_PROJECT_ROLE)
def assign_role(project_key: str, role: str, person_id: str, *, actor: Actor, uow: UowFactory, now: datetime) -> bool:
    """Give a person a role on a project (pmo, finance, a group); roles resolve approvers and document signers."""
    if role in ("sponsor", "manager"):
        raise InputError(
            f"ROLE: {role!r} is set when the project is created; assign another role such as pmo", code="role.reserved"
        )
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.ASSIGN_PROJECT_ROLE, project=project)
        require_person(tx, person_id, field="PERSON")
        created = tx.assign_role(project.key, role, person_id, now=now)
        if created:
            tx.append_audit(
                actor=audit_name(actor),
                action="role.assigned",
                entity=f"project:{project.key}",
                payload={"role": role, "person": person_id} | stamp(actor),
                at=now,
            )
            tx.bump_evidence_version(project.key)
        tx.commit()
    return created


@refusals_audited(Act.WRITE_EVIDENCE)
def set_baseline(
    project_key: str,
    baseline: BaselineRecord,
    *,
    actor: Actor,
    periods: Sequence[tuple[date, Decimal]] | None,
    stage_budgets: Mapping[str, Decimal],
    uow: UowFactory,
    now: datetime,
) -> BaselineRecord:
    """Set the cost baseline (BAC, contingency), optionally its time-phased plan and stage budgets."""
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        template = require_template(tx, project.template_id, project.template_version).template
        stages = [s.id for s in template.stages]
        for stage_id in stage_budgets:
            if stage_id not in stages:
                raise InputError(
                    f"--stage-budget: {stage_id!r} is not a stage of {template.id}; stages: {', '.join(stages)}",
                    code="baseline.unknown_stage",
                )
        if periods is not None:
            too_high = [f"{end}: {value}" for end, value in periods if value > baseline.bac]
            if too_high:
                raise InputError(
                    f"plan: cumulative planned value cannot exceed BAC {baseline.bac} ({too_high[0]})",
                    code="baseline.pv_over_bac",
                )
            tx.replace_baseline_periods(project.key, periods)
        tx.set_baseline(project.key, baseline, now=now)
        for stage_id, amount in stage_budgets.items():
            tx.set_stage_budget(project.key, stage_id, amount)
        tx.append_audit(
            actor=audit_name(actor),
            action="baseline.set",
            entity=f"project:{project.key}",
            payload=baseline.model_dump(mode="json")
            | {
                "periods": len(periods) if periods is not None else None,
                "stage_budgets": {k: str(v) for k, v in stage_budgets.items()},
            }
            | stamp(actor),
            at=now,
        )
        tx.bump_evidence_version(project.key)
        tx.commit()
    return baseline


@refusals_audited(Act.WRITE_EVIDENCE)
def record_status(reports: Sequence[EvmReportRecord], *, actor: Actor, uow: UowFactory, now: datetime) -> int:
    """Store dated EVM status reports for one or many projects, all or nothing (re-reporting a date replaces it)."""
    with uow() as tx:
        keys = sorted({r.project_key for r in reports})
        unknown = sorted(set(keys) - tx.existing_project_keys(keys))
        if unknown:
            raise NotFoundError(
                f"unknown project(s) {', '.join(unknown)}; nothing was imported", code="project.not_found"
            )
        for key in keys:
            permit(tx, actor, Act.WRITE_EVIDENCE, project=require_project(tx, key))
        for report in reports:
            project = require_project(tx, report.project_key)
            baseline = tx.get_baseline(project.key)
            bac = baseline.bac if baseline else project.budget
            for name, value in (("planned_value", report.planned_value), ("earned_value", report.earned_value)):
                if value is not None and value > bac:
                    raise InputError(
                        f"{report.project_key} as of {report.as_of}: {name} {value} exceeds the budget at completion "
                        f"{bac}; planned and earned value are shares of BAC (set the baseline first if BAC changed)",
                        code="status.over_bac",
                    )
        count = tx.upsert_evm_reports(reports, now=now)
        for key in keys:
            dates = sorted(r.as_of for r in reports if r.project_key == key)
            tx.append_audit(
                actor=audit_name(actor),
                action="status.recorded",
                entity=f"project:{key}",
                payload={"reports": len(dates), "from": dates[0], "to": dates[-1]} | stamp(actor),
                at=now,
            )
            tx.bump_evidence_version(key)
        tx.commit()
    return count


@refusals_audited(Act.WRITE_EVIDENCE)
def record_risks(
    project_key: str, risks: Sequence[RiskEvidence], *, actor: Actor, uow: UowFactory, now: datetime
) -> int:
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        scale = require_template(tx, project.template_id, project.template_version).template.risk_scale
        for item in risks:
            if item.probability > scale.probability_max or item.impact > scale.impact_max:
                raise InputError(
                    f"risk {item.id}: probability and impact must be 1..{scale.probability_max} and "
                    f"1..{scale.impact_max} on this template's scale",
                    code="risk.scale",
                )
        count = tx.upsert_risks(project.key, risks, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="risks.recorded",
            entity=f"project:{project.key}",
            payload={"risks": [r.id for r in risks]} | stamp(actor),
            at=now,
        )
        tx.bump_evidence_version(project.key)
        tx.commit()
    return count


@refusals_audited(Act.WRITE_EVIDENCE)
def set_milestone(
    project_key: str, milestone: MilestoneEvidence, *, actor: Actor, uow: UowFactory, now: datetime
) -> None:
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        tx.upsert_milestone(project.key, milestone)
        tx.append_audit(
            actor=audit_name(actor),
            action="milestone.set",
            entity=f"project:{project.key}/milestone:{milestone.id}",
            payload=milestone.model_dump(mode="json") | stamp(actor),
            at=now,
        )
        tx.bump_evidence_version(project.key)
        tx.commit()


@refusals_audited(Act.WRITE_EVIDENCE)
def complete_milestone(
    project_key: str, milestone_id: str, done_on: date, *, actor: Actor, uow: UowFactory, now: datetime
) -> None:
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        current = next((m for m in tx.milestones(project.key) if m.id == milestone_id), None)
        if current is None:
            raise NotFoundError(f"unknown milestone {milestone_id!r} of {project.key}", code="milestone.not_found")
        tx.upsert_milestone(project.key, current.model_copy(update={"done_on": done_on}))
        tx.append_audit(
            actor=audit_name(actor),
            action="milestone.done",
            entity=f"project:{project.key}/milestone:{milestone_id}",
            payload={"done_on": done_on} | stamp(actor),
            at=now,
        )
        tx.bump_evidence_version(project.key)
        tx.commit()


@refusals_audited(Act.SCORE)
def record_scores(
    project_key: str,
    scores: Mapping[str, int],
    *,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
    gate_id: str | None = None,
) -> str:
    """Store the acting gatekeeper's scorecard scores for the project's current gate (or ``gate_id``)."""
    gatekeeper = actor.person_id
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.SCORE, project=project)
        template = require_template(tx, project.template_id, project.template_version).template
        gate = template.gate(gate_id) if gate_id else current_gate(project, template)
        if gate is None or gate.scorecard is None:
            raise InputError(
                f"gate {gate_id or '(current)'} of {project.key} has no scorecard to score", code="score.no_scorecard"
            )
        factors = {f.id for f in gate.scorecard.factors}
        for factor, value in scores.items():
            if factor not in factors:
                raise InputError(
                    f"{factor}: not a factor of gate {gate.id}; factors: {', '.join(sorted(factors))}",
                    code="score.unknown_factor",
                )
            if not 0 <= value <= gate.scorecard.max_score:
                raise InputError(
                    f"{factor}: score {value} is outside 0..{gate.scorecard.max_score}", code="score.range"
                )
        tx.upsert_scores(project.key, gate.id, gatekeeper, dict(scores), now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="scores.recorded",
            entity=f"project:{project.key}/gate:{gate.id}",
            payload=dict(scores) | {"gatekeeper": gatekeeper} | stamp(actor),
            at=now,
        )
        tx.bump_evidence_version(project.key)
        tx.commit()
    return gate.id


class ProjectData(Result):
    risks: tuple[RiskEvidence, ...]
    milestones: tuple[MilestoneEvidence, ...]
    evm_history: tuple[EvmReportRecord, ...]


def project_data(project_key: str, *, uow: UowFactory) -> ProjectData:
    with uow() as tx:
        project = require_project(tx, project_key)
        return ProjectData(
            risks=tuple(tx.risks(project.key)),
            milestones=tuple(tx.milestones(project.key)),
            evm_history=tuple(tx.evm_history(project.key)),
        )

"""Evidence: what a gate's criteria read (documents, costs, baseline, status reports, risks, milestones,
scores), recorded one transaction at a time, each bumping the project's evidence version; and collecting it
all, as of one date, for an evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from phasegate.gates.authorization import Act, check_recorded_approval
from phasegate.gates.vocabulary.commands import RecordCost, RegisterDocument
from phasegate.gates.vocabulary.enums import (
    DocumentStatus,
)
from phasegate.gates.vocabulary.errors import AuthorizationError, InputError, NotFoundError, PhasegateError
from phasegate.gates.vocabulary.evidence import (
    DocumentEvidence,
    EvmSnapshot,
    GateEvidence,
    MilestoneEvidence,
    RiskEvidence,
)
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.snapshots import (
    BaselineRecord,
    EvmReportRecord,
    ProjectSnapshot,
)
from phasegate.gates.vocabulary.template import GateDef
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import (
    current_gate,
    project_roles,
    require_person,
    require_project,
    require_template,
)
from phasegate.usecases.ports import DocumentProbe, UnitOfWork
from phasegate.usecases.resources import gate_resources
from phasegate.usecases.result import Result, UowFactory


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
    stored = tx.evidence.gate_reads(key, project.stage_id, gate.id, as_of)  # sent together: one round trip
    documents = tuple(
        doc.model_copy(
            update={
                "current_sha256": probe(doc.store_key or doc.path),
                "approver_roles": held.get(doc.approved_by or "", ()),
            }
        )
        for doc in stored.documents
    )
    figures = stored.figures
    baseline, report, ledger = figures.baseline, figures.report, figures.spent
    bac = baseline.bac if baseline else project.budget
    evm = None
    if report is not None:
        planned = (
            report.planned_value
            if report.planned_value is not None
            else tx.evidence.planned_value_at(key, report.as_of)
        )
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
        stage_budget=figures.stage_budget,
        stage_spend=figures.stage_spent,
        contingency=baseline.contingency if baseline else None,
        contingency_used=baseline.contingency_used if baseline else None,
        risks=tuple(stored.risks),
        milestones=tuple(stored.milestones),
        scores=tuple(stored.scores),
        resources=gate_resources(tx, project, gate),
    )


def _require_deliverable(
    tx: UnitOfWork, project: ProjectSnapshot, deliverable_id: str, approved_by: str | None
) -> None:
    template = require_template(tx, project.template_id, project.template_version).template
    known = [d.id for d in template.deliverables]
    if deliverable_id not in known:
        raise InputError(
            f"DELIVERABLE: {deliverable_id!r} is not a deliverable of {template.id}@{template.version}; "
            f"allowed: {', '.join(known)}",
            code="document.unknown_deliverable",
        )
    if approved_by is not None:
        require_person(tx, approved_by, field="--approved-by")


@refusals_audited(Act.WRITE_EVIDENCE)
def check_document_target(
    project_key: str, deliverable_id: str, approved_by: str | None, *, actor: Actor, uow: UowFactory, now: datetime
) -> None:
    """What ``register_document`` checks before writing, without writing: doors run it before they copy a file
    into the document store, so a request naming no project or deliverable, or from someone who may not write
    the project's evidence (refused and audited), never touches the disk."""
    with uow() as tx:
        project = require_project(tx, project_key)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        _require_deliverable(tx, project, deliverable_id, approved_by)
        check_recorded_approval(actor, approved_by)


class DocumentRegistration(Result):
    document: DocumentEvidence
    created: bool
    """False: the deliverable's latest version already is this file (same sha256, same stored copy) and there
    was nothing new to record, so no version was added."""


@refusals_audited(Act.WRITE_EVIDENCE)
def register_document(cmd: RegisterDocument, *, actor: Actor, uow: UowFactory, now: datetime) -> DocumentRegistration:
    """Record a new version of a deliverable, unless it is the latest version again (then a no-op that says so).

    Registering the same bytes again is what people do when unsure whether the first try worked; a new version
    for it would supersede votes in an open round for nothing. An approval given with the same file is new
    information, so it is recorded as a new version; re-stating the approver already recorded is not.
    """
    with uow() as tx:
        project = require_project(tx, cmd.project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        _require_deliverable(tx, project, cmd.deliverable_id, cmd.approved_by)
        check_recorded_approval(actor, cmd.approved_by)
        latest = next(
            (d for d in tx.evidence.latest_documents(project.key) if d.deliverable_id == cmd.deliverable_id), None
        )
        if (
            latest is not None
            and latest.sha256 == cmd.sha256
            and latest.store_key == cmd.store_key
            and cmd.approved_by in (None, latest.approved_by)
        ):
            return DocumentRegistration(document=latest, created=False)
        document = _add_version(tx, project, cmd, actor=actor, action="document.registered", now=now)
        tx.commit()
    return DocumentRegistration(document=document, created=True)


def _add_version(
    tx: UnitOfWork, project: ProjectSnapshot, cmd: RegisterDocument, *, actor: Actor, action: str, now: datetime
) -> DocumentEvidence:
    """Write one new version of a deliverable with its audit entry; the evidence changes, so its version moves."""
    document = DocumentEvidence(
        deliverable_id=cmd.deliverable_id,
        version=tx.evidence.next_document_version(project.key, cmd.deliverable_id),
        sha256=cmd.sha256,
        size=cmd.size,
        path=cmd.path,
        status=DocumentStatus.APPROVED if cmd.approved_by else DocumentStatus.REGISTERED,
        approved_by=cmd.approved_by,
        format=cmd.format,
        headings=cmd.headings,
        store_key=cmd.store_key,
    )
    tx.evidence.add_document(project.key, document, approved_at=now if cmd.approved_by else None, now=now)
    recorded_for = cmd.approved_by not in (None, actor.person_id)
    tx.append_audit(
        actor=audit_name(actor),
        action=action,
        entity=f"project:{project.key}/doc:{cmd.deliverable_id}@{document.version}",
        payload={"sha256": cmd.sha256, "size": cmd.size, "approved_by": cmd.approved_by, "store_key": cmd.store_key}
        | ({"approval_recorded_by": actor.person_id} if recorded_for else {})
        | stamp(actor),
        at=now,
    )
    tx.projects.bump_evidence_version(project.key)
    return document


@refusals_audited(Act.APPROVE_DOCUMENT)
def approve_document(
    project_key: str, deliverable_id: str, *, actor: Actor, uow: UowFactory, now: datetime
) -> DocumentRegistration:
    """The deliverable's approver signs its latest version, in their own name.

    Why a use case of its own: the approver (a sponsor, the PMO) is rarely the person who files the document, and
    may not write the project's evidence; this is the only write they need. The signed version is a new version
    of the same stored file, so a vote bound to the unsigned version is superseded as for any evidence change.
    Who may sign: whoever holds the deliverable's approver role on the project (or a PMO admin); the project's
    manager is refused when the deliverable's standard says its approver may not be the manager.
    """
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        _require_deliverable(tx, project, deliverable_id, None)
        template = require_template(tx, project.template_id, project.template_version).template
        standard = template.deliverable(deliverable_id)
        signers = frozenset(project_roles(tx, project).get(standard.approver_role, ()))
        entity = f"project:{project.key}/doc:{deliverable_id}"
        permit(tx, actor, Act.APPROVE_DOCUMENT, project=project, signers=signers, entity=entity)
        if standard.approver_not_manager and actor.person_id == project.manager_id:
            raise AuthorizationError(
                f"refused: {actor.person_id} is the manager of {project.key} and {deliverable_id} may not be "
                "approved by the project's own manager",
                code="auth.conflict_of_interest",
                entity=entity,
            )
        latest = next(
            (d for d in tx.evidence.latest_documents(project.key) if d.deliverable_id == deliverable_id), None
        )
        if latest is None:
            raise NotFoundError(
                f"{project.key} has no {deliverable_id} to approve yet; register it first ('phasegate doc add')",
                code="document.not_found",
            )
        if latest.status is DocumentStatus.APPROVED and latest.approved_by == actor.person_id:
            return DocumentRegistration(document=latest, created=False)
        cmd = RegisterDocument(
            project_key=project.key,
            deliverable_id=deliverable_id,
            path=latest.path,
            sha256=latest.sha256,
            size=latest.size,
            format=latest.format,
            headings=latest.headings,
            store_key=latest.store_key,
            approved_by=actor.person_id,
        )
        document = _add_version(tx, project, cmd, actor=actor, action="document.approved", now=now)
        tx.commit()
    return DocumentRegistration(document=document, created=True)


def documents_outside_store(project_key: str, *, uow: UowFactory) -> list[DocumentEvidence]:
    """The project's latest document versions that have no stored copy (registered before the store)."""
    with uow() as tx:
        project = require_project(tx, project_key)
        return [d for d in tx.evidence.latest_documents(project.key) if d.store_key is None]


@refusals_audited(Act.WRITE_EVIDENCE)
def adopt_document(
    project_key: str,
    document: DocumentEvidence,
    *,
    store_key: str,
    sha256: str,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
) -> bool:
    """Take a version registered before the document store into custody: record its stored copy, but only if
    the copy's sha256 is the one recorded at registration (the file still is what was registered and signed).
    No new version: it is the same document, now kept by phasegate. False when there was nothing to do."""
    if sha256 != document.sha256:
        return False
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        if not tx.evidence.set_document_store_key(project.key, document.deliverable_id, document.version, store_key):
            return False
        tx.append_audit(
            actor=audit_name(actor),
            action="document.taken_into_custody",
            entity=f"project:{project.key}/doc:{document.deliverable_id}@{document.version}",
            payload={"sha256": sha256, "store_key": store_key, "path": document.path} | stamp(actor),
            at=now,
        )
        tx.projects.bump_evidence_version(project.key)
        tx.commit()
    return True


DOCUMENT_SECURITY_REFUSALS = frozenset({"input.not_regular_file", "document.hash_mismatch", "document.outside_roots"})
"""Refused document registrations that look like probing the disk: a device, FIFO or link, a hash not the file's."""


def record_document_refusal(
    project_key: str, refused: PhasegateError, *, actor: Actor, path: str, uow: UowFactory, now: datetime
) -> None:
    """Audit a document registration refused for a security reason (``DOCUMENT_SECURITY_REFUSALS``), whichever
    door it came through; any other refusal (a typo in a path) is the caller's to show, not an event."""
    if refused.code not in DOCUMENT_SECURITY_REFUSALS:
        return
    with uow() as tx:
        tx.append_audit(
            actor=audit_name(actor),
            action="security.document_refused",
            entity=f"project:{project_key}",
            payload={"path": path, "code": refused.code, "why": refused.message} | stamp(actor),
            at=now,
        )
        tx.commit()


@refusals_audited(Act.WRITE_EVIDENCE)
def record_cost(cmd: RecordCost, *, actor: Actor, uow: UowFactory, now: datetime) -> Decimal:
    """Record actual cost; returns the project's new total."""
    with uow() as tx:
        project = require_project(tx, cmd.project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        tx.evidence.add_cost(project.key, cmd.amount, note=cmd.note, stage_id=project.stage_id, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="actuals.recorded",
            entity=f"project:{project.key}",
            payload={"amount": cmd.amount, "note": cmd.note} | stamp(actor),
            at=now,
        )
        total = tx.evidence.total_actual_cost(project.key)
        tx.projects.bump_evidence_version(project.key)
        tx.commit()
    return total


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
            tx.evidence.replace_baseline_periods(project.key, periods)
        tx.evidence.set_baseline(project.key, baseline, now=now)
        for stage_id, amount in stage_budgets.items():
            tx.evidence.set_stage_budget(project.key, stage_id, amount)
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
        tx.projects.bump_evidence_version(project.key)
        tx.commit()
    return baseline


@refusals_audited(Act.WRITE_EVIDENCE)
def record_status(reports: Sequence[EvmReportRecord], *, actor: Actor, uow: UowFactory, now: datetime) -> int:
    """Store dated EVM status reports for one or many projects, all or nothing (re-reporting a date replaces it)."""
    with uow() as tx:
        keys = sorted({r.project_key for r in reports})
        unknown = sorted(set(keys) - tx.projects.existing_project_keys(keys))
        if unknown:
            raise NotFoundError(
                f"unknown project(s) {', '.join(unknown)}; nothing was imported", code="project.not_found"
            )
        for key in keys:
            permit(tx, actor, Act.WRITE_EVIDENCE, project=require_project(tx, key))
        for report in reports:
            project = require_project(tx, report.project_key)
            baseline = tx.evidence.get_baseline(project.key)
            bac = baseline.bac if baseline else project.budget
            for name, value in (("planned_value", report.planned_value), ("earned_value", report.earned_value)):
                if value is not None and value > bac:
                    raise InputError(
                        f"{report.project_key} as of {report.as_of}: {name} {value} exceeds the budget at completion "
                        f"{bac}; planned and earned value are shares of BAC (set the baseline first if BAC changed)",
                        code="status.over_bac",
                    )
        count = tx.evidence.upsert_evm_reports(reports, now=now)
        for key in keys:
            dates = sorted(r.as_of for r in reports if r.project_key == key)
            tx.append_audit(
                actor=audit_name(actor),
                action="status.recorded",
                entity=f"project:{key}",
                payload={"reports": len(dates), "from": dates[0], "to": dates[-1]} | stamp(actor),
                at=now,
            )
            tx.projects.bump_evidence_version(key)
        tx.commit()
    return count


@refusals_audited(Act.WRITE_EVIDENCE)
def record_risks(
    project_key: str, risks: Sequence[RiskEvidence], *, actor: Actor, uow: UowFactory, now: datetime
) -> int:
    with uow() as tx:
        count = _upsert_risks(tx, project_key, risks, actor=actor, now=now)
        tx.commit()
    return count


@refusals_audited(Act.WRITE_EVIDENCE)
def import_risks(
    by_project: Mapping[str, Sequence[RiskEvidence]], *, actor: Actor, uow: UowFactory, now: datetime
) -> int:
    """Record a risk register file's rows for one or many projects in ONE transaction: all or nothing.

    Why not ``record_risks`` per project: a file is one act; a refusal or a bad row in its third project must
    not leave the first two written. The CLI's ``risk import`` and the API's batch endpoint both call this.
    """
    with uow() as tx:
        keys = sorted(by_project)
        unknown = sorted(set(keys) - tx.projects.existing_project_keys(keys))
        if unknown:
            raise NotFoundError(
                f"unknown project(s) {', '.join(unknown)}; nothing was imported", code="project.not_found"
            )
        count = sum(_upsert_risks(tx, key, by_project[key], actor=actor, now=now) for key in keys)
        tx.commit()
    return count


def _upsert_risks(
    tx: UnitOfWork, project_key: str, risks: Sequence[RiskEvidence], *, actor: Actor, now: datetime
) -> int:
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
    count = tx.evidence.upsert_risks(project.key, risks, now=now)
    tx.append_audit(
        actor=audit_name(actor),
        action="risks.recorded",
        entity=f"project:{project.key}",
        payload={"risks": [r.id for r in risks]} | stamp(actor),
        at=now,
    )
    tx.projects.bump_evidence_version(project.key)
    return count


@refusals_audited(Act.WRITE_EVIDENCE)
def set_milestone(
    project_key: str, milestone: MilestoneEvidence, *, actor: Actor, uow: UowFactory, now: datetime
) -> None:
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        tx.evidence.upsert_milestone(project.key, milestone)
        tx.append_audit(
            actor=audit_name(actor),
            action="milestone.set",
            entity=f"project:{project.key}/milestone:{milestone.id}",
            payload=milestone.model_dump(mode="json") | stamp(actor),
            at=now,
        )
        tx.projects.bump_evidence_version(project.key)
        tx.commit()


@refusals_audited(Act.WRITE_EVIDENCE)
def complete_milestone(
    project_key: str, milestone_id: str, done_on: date, *, actor: Actor, uow: UowFactory, now: datetime
) -> None:
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.WRITE_EVIDENCE, project=project)
        current = next((m for m in tx.evidence.milestones(project.key) if m.id == milestone_id), None)
        if current is None:
            raise NotFoundError(f"unknown milestone {milestone_id!r} of {project.key}", code="milestone.not_found")
        tx.evidence.upsert_milestone(project.key, current.model_copy(update={"done_on": done_on}))
        tx.append_audit(
            actor=audit_name(actor),
            action="milestone.done",
            entity=f"project:{project.key}/milestone:{milestone_id}",
            payload={"done_on": done_on} | stamp(actor),
            at=now,
        )
        tx.projects.bump_evidence_version(project.key)
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
        tx.evidence.upsert_scores(project.key, gate.id, gatekeeper, dict(scores), now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="scores.recorded",
            entity=f"project:{project.key}/gate:{gate.id}",
            payload=dict(scores) | {"gatekeeper": gatekeeper} | stamp(actor),
            at=now,
        )
        tx.projects.bump_evidence_version(project.key)
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
            risks=tuple(tx.evidence.risks(project.key)),
            milestones=tuple(tx.evidence.milestones(project.key)),
            evm_history=tuple(tx.evidence.evm_history(project.key)),
        )

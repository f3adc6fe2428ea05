"""The SQL unit of work: one session, one transaction, repositories as methods, snapshots out.

Nothing here commits on its own: ``commit()`` is called once by a service, and leaving the ``with`` block
without it rolls back. Row locks (``FOR UPDATE``) matter on PostgreSQL; SQLite transactions already hold
the write lock from their ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Self
from uuid import UUID, uuid4

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates import portfolio as pf
from phasegate.gates.analytics import ConditionFact, GateFacts, ProjectFact, ReviewCount, RoundFact
from phasegate.gates.vocabulary.enums import (
    BallotKind,
    Decision,
    DocumentStatus,
    ProjectStatus,
    Recommendation,
    ReviewStatus,
    RoundStatus,
)
from phasegate.gates.vocabulary.errors import ConflictError
from phasegate.gates.vocabulary.evidence import (
    DocumentEvidence,
    EvmSnapshot,
    MilestoneEvidence,
    RiskEvidence,
    ScoreEvidence,
)
from phasegate.gates.vocabulary.identity import OrgRole
from phasegate.gates.vocabulary.monitoring import MonitorInput, RagRow
from phasegate.gates.vocabulary.snapshots import (
    BaselineRecord,
    ConditionRecord,
    ConditionSpec,
    DecisionRecord,
    DelegationRecord,
    Evaluation,
    EvmReportRecord,
    OutboxRequest,
    PersonSnapshot,
    ProjectQuery,
    ProjectSnapshot,
    ReportRunRecord,
    RoundSnapshot,
    StoredTemplate,
    VoteRecord,
)
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.gates.vocabulary.tolerance import (
    Dimension,
    ExceptionDecision,
    ToleranceException,
    ToleranceLevel,
    ToleranceRecord,
    plain,
)
from phasegate.models import statements as q
from phasegate.models import tables as t
from phasegate.models.audit_store import AuditDraft, append_audit_entries
from phasegate.models.lesson_store import LessonRepository
from phasegate.models.resource_store import ResourceRepository


def _project(row: Row[Any]) -> ProjectSnapshot:
    return ProjectSnapshot(
        key=row.key,
        name=row.name,
        template_id=row.template_id,
        template_version=row.template_version,
        template_hash=row.template_hash,
        sponsor_id=row.sponsor_id,
        manager_id=row.manager_id,
        budget=row.budget,
        currency=row.currency,
        status=ProjectStatus(row.status),
        stage_id=row.stage_id,
        recycle_count=row.recycle_count,
        evidence_version=row.evidence_version,
        closed=row.closed_at is not None,
    )


def _evm_report(row: Row[Any]) -> EvmReportRecord:
    return EvmReportRecord(
        project_key=row.project_key,
        as_of=row.as_of,
        planned_value=row.planned_value,
        earned_value=row.earned_value,
        actual_cost=row.actual_cost,
        estimate_to_complete=row.estimate_to_complete,
        defects=row.defects,
        test_pass_rate=row.test_pass_rate,
        acceptance=row.acceptance,
    )


def _tolerance(row: t.Tolerance) -> ToleranceRecord:
    return ToleranceRecord(
        project_key=row.project_key,
        scope=row.scope,
        dimension=Dimension(row.dimension),
        level=ToleranceLevel(row.level),
        owner_id=row.owner_id,
        percent=plain(row.percent),
        amount=plain(row.amount),
        none=row.no_tolerance,
        reason=row.reason,
        set_by=row.set_by,
        set_at=row.set_at,
    )


def _exception(row: t.ToleranceExceptionRow) -> ToleranceException:
    return ToleranceException(
        id=row.id,
        project_key=row.project_key,
        scope=row.scope,
        dimension=Dimension(row.dimension),
        seq=row.seq,
        level=ToleranceLevel(row.level),
        owner_id=row.owner_id,
        baseline=row.baseline,
        forecast=row.forecast,
        allowance=row.allowance,
        deviation=row.deviation,
        raised_at=row.raised_at,
        status=row.status,
        decision=ExceptionDecision(row.decision) if row.decision else None,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )


def _vote(row: Row[Any]) -> VoteRecord:
    return VoteRecord(
        id=row.id,
        voter_id=row.voter_id,
        signer_id=row.signer_id,
        kind=BallotKind(row.kind),
        decision=Decision(row.decision) if row.decision else None,
        reason=row.reason,
        cast_at=row.cast_at,
        evidence_hash=row.evidence_hash,
        conditions=tuple(ConditionSpec.model_validate(c) for c in row.conditions or ()),
        superseded=row.superseded_at is not None,
        idempotency_key=row.idempotency_key,
    )


def _round(row: Row[Any], votes: Sequence[VoteRecord]) -> RoundSnapshot:
    return RoundSnapshot(
        id=row.id,
        review_id=row.review_id,
        project_key=row.project_key,
        gate_id=row.gate_id,
        policy=row.policy,
        approvers=tuple(row.approvers),
        evidence_hash=row.evidence_hash,
        status=RoundStatus(row.status),
        decision=Decision(row.decision) if row.decision else None,
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        applied_at=row.applied_at,
        votes=tuple(votes),
        seats=tuple(row.seats or ()),
        policy_spec=row.policy_spec or {},
        requested_by=row.requested_by,
        closed_seats=tuple(row.closed_seats or ()),
        evidence_version=row.evidence_version,
        due_at=row.due_at,
    )


def _delegation(row: t.Delegation) -> DelegationRecord:
    return DelegationRecord(
        id=row.id,
        principal_id=row.principal_id,
        delegate_id=row.delegate_id,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        template_id=row.template_id,
        gate_id=row.gate_id,
        revoked=row.revoked_at is not None,
    )


def _condition(row: t.Condition) -> ConditionRecord:
    return ConditionRecord(
        id=row.id,
        project_key=row.project_key,
        round_id=row.round_id,
        gate_id=row.gate_id,
        text=row.text,
        owner_id=row.owner_id,
        due_on=row.due_on,
        verification=row.verification,
        status=row.status,
        resolved_by=row.resolved_by,
    )


_VALIDATED: dict[str, LifecycleTemplate] = {}
_PUBLISHED: dict[tuple[str, str, int | None], StoredTemplate] = {}


def _template(content_hash: str, content: dict[str, Any]) -> LifecycleTemplate:
    """Published versions never change, so each content hash is validated once per process."""
    template = _VALIDATED.get(content_hash)
    if template is None:
        template = LifecycleTemplate.model_validate(content)
        if len(_VALIDATED) < 1024:
            _VALIDATED[content_hash] = template
    return template


def _stored_template(row: t.TemplateVersion) -> StoredTemplate:
    return StoredTemplate(
        template=_template(row.content_hash, row.content),
        content_hash=row.content_hash,
        published_at=row.published_at,
    )


HISTORY_DAYS = 120
"""How far back the monitor reads earlier snapshots for a trend (it needs only the last two periods)."""

OrgRoute = Callable[[Sequence[str]], list[str]]
"""Organisation targets (Apprise URLs) for a set of tags, OR-ed: injected by entry points from the org config."""


class SqlUnitOfWork(LessonRepository, ResourceRepository):
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        org_route: OrgRoute | None = None,
        org_locale: str = "en",
        audit_key: bytes | None = None,
    ) -> None:
        self._factory = session_factory
        self._audit_key = audit_key
        self._org_route = org_route
        self._org_locale = org_locale
        self._audit: list[AuditDraft] = []
        self._people: dict[str, PersonSnapshot] = {}

    def __enter__(self) -> Self:
        self.session = self._factory()
        self.session.begin()
        return self

    def __exit__(self, *exc: object) -> None:
        self._audit.clear()
        self._people.clear()
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        """Append the buffered audit entries (one chain-head read for the whole transaction), then commit."""
        append_audit_entries(self.session, self._audit, key=self._audit_key)
        self._audit.clear()
        self.session.commit()

    # people -------------------------------------------------------------------------------------------
    def get_person(self, person_id: str) -> PersonSnapshot | None:
        # A review or a vote asks for the same approver several times (message, names, segregation checks);
        # people are never updated in a transaction that reads them, so a found one is kept for the unit's life.
        person = self._people.get(person_id)
        if person is not None:
            return person
        row = self.session.execute(q.PERSON, {"id": person_id}).first()
        return None if row is None else self._keep(row)

    def get_people(self, person_ids: Iterable[str]) -> dict[str, PersonSnapshot]:
        """The ones of ``person_ids`` who exist, by id, read in one query (those already kept are not read)."""
        wanted = set(person_ids)
        missing = [person_id for person_id in wanted if person_id not in self._people]
        if missing:
            for row in self.session.execute(q.PEOPLE_BY_ID, {"ids": missing}):
                self._keep(row)
        return {person_id: self._people[person_id] for person_id in wanted if person_id in self._people}

    def _keep(self, row: Row[Any]) -> PersonSnapshot:
        person = PersonSnapshot(
            id=row.id,
            name=row.name,
            email=row.email,
            locale=row.locale,
            notify_urls=tuple(row.notify_urls),
            login=row.login,
            roles=frozenset(OrgRole(r) for r in row.org_roles or ()),
            disabled=bool(row.disabled),
        )
        self._people[person.id] = person
        return person

    def add_person(self, person: PersonSnapshot, *, now: datetime) -> None:
        self.session.add(
            t.Person(
                id=person.id,
                name=person.name,
                email=person.email,
                locale=person.locale,
                notify_urls=list(person.notify_urls),
                created_at=now,
                login=person.login,
                org_roles=sorted(person.roles),
                disabled=person.disabled,
            )
        )
        self.session.flush()

    def update_person(self, person: PersonSnapshot) -> None:
        """Replace a person's details, login, roles and disabled flag with ``person``'s."""
        self.session.execute(
            update(t.Person)
            .where(t.Person.id == person.id)
            .values(
                name=person.name,
                email=person.email,
                locale=person.locale,
                notify_urls=list(person.notify_urls),
                login=person.login,
                org_roles=sorted(person.roles),
                disabled=person.disabled,
            )
        )
        self._people.pop(person.id, None)

    def person_by_login(self, login: str) -> PersonSnapshot | None:
        row = self.session.execute(q.PERSON_BY_LOGIN, {"login": login}).first()
        return None if row is None else self._keep(row)

    def people_with_role(self, role: OrgRole) -> list[str]:
        """Ids of enabled people holding an organisation role (few people, read whole: roles are a JSON list)."""
        rows = self.session.execute(select(t.Person.id, t.Person.org_roles).where(t.Person.disabled.is_(False)))
        return sorted(person_id for person_id, roles in rows if role.value in (roles or ()))

    # templates ----------------------------------------------------------------------------------------
    def get_template(self, template_id: str, version: int | None = None) -> StoredTemplate | None:
        # A published version never changes, so a pinned (id, version) is read once per database and process;
        # "the latest version" is always asked of the database.
        key = (str(self.session.get_bind().engine.url), template_id, version)
        if version is not None and key in _PUBLISHED:
            return _PUBLISHED[key]
        query = select(t.TemplateVersion).where(t.TemplateVersion.template_id == template_id)
        if version is None:
            query = query.order_by(t.TemplateVersion.version.desc()).limit(1)
        else:
            query = query.where(t.TemplateVersion.version == version)
        row = self.session.scalars(query).first()
        if row is None:
            return None
        stored = _stored_template(row)
        if version is not None and len(_PUBLISHED) < 4096:
            _PUBLISHED[key] = stored
        return stored

    def list_templates(self) -> list[StoredTemplate]:
        rows = self.session.scalars(
            select(t.TemplateVersion).order_by(t.TemplateVersion.template_id, t.TemplateVersion.version)
        )
        return [_stored_template(row) for row in rows]

    def add_template(self, template: LifecycleTemplate, *, content_hash: str, source: str, now: datetime) -> None:
        self.session.add(
            t.TemplateVersion(
                template_id=template.id,
                version=template.version,
                name=template.name,
                content_hash=content_hash,
                content=template.model_dump(mode="json"),
                source=source,
                published_at=now,
            )
        )
        self.session.flush()

    # projects -----------------------------------------------------------------------------------------
    def get_project(self, key: str, *, for_update: bool = False) -> ProjectSnapshot | None:
        row = self.session.execute(q.PROJECT_FOR_UPDATE if for_update else q.PROJECT, {"key": key}).first()
        return _project(row) if row else None

    def list_projects(self, query: ProjectQuery | None = None) -> tuple[list[ProjectSnapshot], int]:
        """One page of projects (all of them without a limit) and how many match, in key order."""
        query = query or ProjectQuery()
        projects = q.PROJECTS.c
        conditions = []
        if query.status is not None:
            conditions.append(projects.status == query.status.value)
        if query.stage_id is not None:
            conditions.append(projects.stage_id == query.stage_id)
        if query.template_id is not None:
            conditions.append(projects.template_id == query.template_id)
        page = select(q.PROJECTS).where(*conditions).order_by(projects.key).offset(query.offset)
        if query.limit is not None:
            page = page.limit(query.limit)
        items = [_project(row) for row in self.session.execute(page)]
        if query.limit is None and query.offset == 0:
            return items, len(items)
        total = self.session.scalar(select(func.count()).select_from(q.PROJECTS).where(*conditions)) or 0
        return items, int(total)

    def add_project(self, project: ProjectSnapshot, *, now: datetime) -> None:
        self.session.add(t.Project(**project.model_dump(exclude={"closed"}), created_at=now, updated_at=now))
        self.session.flush()

    def update_project_state(
        self, key: str, *, status: ProjectStatus, stage_id: str, recycle_count: int, now: datetime
    ) -> None:
        self.session.execute(
            q.UPDATE_PROJECT,
            {
                "project_key": key,
                "status": status.value,
                "stage_id": stage_id,
                "recycle_count": recycle_count,
                "updated_at": now,
            },
        )

    def update_project_charter(
        self, key: str, *, name: str, sponsor_id: str, manager_id: str, budget: Decimal, now: datetime
    ) -> None:
        self.session.execute(
            update(t.Project)
            .where(t.Project.key == key)
            .values(name=name, sponsor_id=sponsor_id, manager_id=manager_id, budget=budget, updated_at=now)
        )

    # evidence -----------------------------------------------------------------------------------------
    def latest_documents(self, key: str) -> list[DocumentEvidence]:
        rows = self.session.execute(q.LATEST_DOCUMENTS, {"key": key})
        return [
            DocumentEvidence(
                deliverable_id=row.deliverable_id,
                version=row.version,
                sha256=row.sha256,
                size=row.size,
                path=row.path,
                status=DocumentStatus(row.status),
                approved_by=row.approved_by,
                format=row.format,
                headings=tuple(row.headings) if row.headings is not None else None,
                store_key=row.store_key,
                registered_at=row.registered_at,
                approved_at=row.approved_at,
            )
            for row in rows
        ]

    def next_document_version(self, key: str, deliverable_id: str) -> int:
        current = self.session.scalar(
            select(func.max(t.Document.version)).where(
                t.Document.project_key == key, t.Document.deliverable_id == deliverable_id
            )
        )
        return (current or 0) + 1

    def add_document(
        self, key: str, document: DocumentEvidence, *, approved_at: datetime | None, now: datetime
    ) -> UUID:
        document_id = uuid4()
        self.session.add(
            t.Document(
                id=document_id,
                project_key=key,
                deliverable_id=document.deliverable_id,
                version=document.version,
                path=document.path,
                sha256=document.sha256,
                size=document.size,
                status=document.status.value,
                approved_by=document.approved_by,
                approved_at=approved_at,
                registered_at=now,
                format=document.format,
                headings=list(document.headings) if document.headings is not None else None,
                store_key=document.store_key,
            )
        )
        self.session.flush()
        return document_id

    def set_document_store_key(self, key: str, deliverable_id: str, version: int, store_key: str) -> bool:
        """Record the stored copy of a version registered before the store; False when it already has one."""
        result = self.session.execute(
            update(t.Document)
            .where(
                t.Document.project_key == key,
                t.Document.deliverable_id == deliverable_id,
                t.Document.version == version,
                t.Document.store_key.is_(None),
            )
            .values(store_key=store_key)
        )
        return bool(getattr(result, "rowcount", 0))

    def total_actual_cost(self, key: str) -> Decimal:
        total = self.session.execute(q.ACTUAL_COST, {"key": key}).scalar()
        return Decimal(total or 0).quantize(Decimal("0.01"))

    def add_cost(self, key: str, amount: Decimal, *, note: str, stage_id: str, now: datetime) -> UUID:
        entry_id = uuid4()
        self.session.add(
            t.CostEntry(id=entry_id, project_key=key, amount=amount, note=note, stage_id=stage_id, recorded_at=now)
        )
        self.session.flush()
        return entry_id

    # project data the gate criteria read ------------------------------------------------------------
    def project_roles(self, key: str) -> dict[str, tuple[str, ...]]:
        roles: dict[str, list[str]] = {}
        for role, person_id in self.session.execute(q.PROJECT_ROLES, {"key": key}):
            roles.setdefault(role, []).append(person_id)
        return {role: tuple(people) for role, people in roles.items()}

    def assign_role(self, key: str, role: str, person_id: str, *, now: datetime) -> bool:
        if self.session.get(t.ProjectRole, (key, role, person_id)) is not None:
            return False
        self.session.add(t.ProjectRole(project_key=key, role=role, person_id=person_id, assigned_at=now))
        self.session.flush()
        return True

    def get_baseline(self, key: str) -> BaselineRecord | None:
        row = self.session.execute(q.BASELINE, {"key": key}).first()
        if row is None:
            return None
        return BaselineRecord(bac=row.bac, contingency=row.contingency, contingency_used=row.contingency_used)

    def set_baseline(self, key: str, baseline: BaselineRecord, *, now: datetime) -> None:
        row = self.session.get(t.Baseline, key)
        if row is None:
            self.session.add(t.Baseline(project_key=key, set_at=now, **baseline.model_dump()))
        else:
            row.bac, row.contingency, row.contingency_used = (
                baseline.bac,
                baseline.contingency,
                baseline.contingency_used,
            )
            row.set_at = now
        self.session.flush()

    def replace_baseline_periods(self, key: str, periods: Sequence[tuple[date, Decimal]]) -> None:
        self.session.execute(delete(t.BaselinePeriod).where(t.BaselinePeriod.project_key == key))
        if periods:
            self.session.execute(
                insert(t.BaselinePeriod),
                [{"project_key": key, "period_end": end, "planned_value": value} for end, value in periods],
            )

    def planned_value_at(self, key: str, as_of: date) -> Decimal | None:
        return self.session.scalar(
            select(t.BaselinePeriod.planned_value)
            .where(t.BaselinePeriod.project_key == key, t.BaselinePeriod.period_end <= as_of)
            .order_by(t.BaselinePeriod.period_end.desc())
            .limit(1)
        )

    def set_stage_budget(self, key: str, stage_id: str, amount: Decimal) -> None:
        row = self.session.get(t.StageBudget, (key, stage_id))
        if row is None:
            self.session.add(t.StageBudget(project_key=key, stage_id=stage_id, amount=amount))
        else:
            row.amount = amount
        self.session.flush()

    def stage_budget(self, key: str, stage_id: str) -> Decimal | None:
        amount: Decimal | None = self.session.execute(q.STAGE_BUDGET, {"key": key, "stage_id": stage_id}).scalar()
        return amount

    def spend(self, key: str, stage_id: str) -> tuple[Decimal, Decimal]:
        """Actual cost recorded on the project in all, and in one stage: one pass over its ledger."""
        total, stage = self.session.execute(q.SPEND, {"key": key, "stage_id": stage_id}).one()
        return Decimal(total or 0).quantize(Decimal("0.01")), Decimal(stage or 0).quantize(Decimal("0.01"))

    def upsert_evm_reports(self, reports: Sequence[EvmReportRecord], *, now: datetime) -> int:
        if not reports:
            return 0
        for key in {r.project_key for r in reports}:
            dates = [r.as_of for r in reports if r.project_key == key]
            self.session.execute(
                delete(t.EvmReport).where(t.EvmReport.project_key == key, t.EvmReport.as_of.in_(dates))
            )
        self.session.execute(insert(t.EvmReport), [r.model_dump() | {"recorded_at": now} for r in reports])
        return len(reports)

    def latest_evm_report(self, key: str, as_of: date) -> EvmReportRecord | None:
        row = self.session.execute(q.LATEST_EVM_REPORT, {"key": key, "as_of": as_of}).first()
        return _evm_report(row) if row else None

    def evm_history(self, key: str) -> list[EvmReportRecord]:
        return [_evm_report(row) for row in self.session.execute(q.EVM_HISTORY, {"key": key})]

    def upsert_risks(self, key: str, risks: Sequence[RiskEvidence], *, now: datetime) -> int:
        if not risks:
            return 0
        self.session.execute(delete(t.Risk).where(t.Risk.project_key == key, t.Risk.id.in_([r.id for r in risks])))
        self.session.execute(insert(t.Risk), [r.model_dump() | {"project_key": key, "updated_at": now} for r in risks])
        return len(risks)

    def risks(self, key: str) -> list[RiskEvidence]:
        rows = self.session.execute(q.PROJECT_RISKS, {"key": key})
        return [
            RiskEvidence(
                id=r.id,
                title=r.title,
                category=r.category,
                owner=r.owner,
                probability=r.probability,
                impact=r.impact,
                response=r.response,
                mitigation=r.mitigation,
                cause=r.cause,
                effect=r.effect,
                status=r.status,
            )
            for r in rows
        ]

    def upsert_milestone(self, key: str, milestone: MilestoneEvidence) -> None:
        row = self.session.get(t.Milestone, (key, milestone.id))
        if row is None:
            self.session.add(t.Milestone(project_key=key, **milestone.model_dump()))
        else:
            row.name, row.due, row.done_on = milestone.name, milestone.due, milestone.done_on
        self.session.flush()

    def milestones(self, key: str) -> list[MilestoneEvidence]:
        rows = self.session.execute(q.PROJECT_MILESTONES, {"key": key})
        return [MilestoneEvidence(id=r.id, name=r.name, due=r.due, done_on=r.done_on) for r in rows]

    def upsert_scores(self, key: str, gate_id: str, gatekeeper: str, scores: dict[str, int], *, now: datetime) -> None:
        self.session.execute(
            delete(t.Score).where(
                t.Score.project_key == key,
                t.Score.gate_id == gate_id,
                t.Score.gatekeeper == gatekeeper,
                t.Score.factor.in_(list(scores)),
            )
        )
        self.session.execute(
            insert(t.Score),
            [
                {
                    "project_key": key,
                    "gate_id": gate_id,
                    "gatekeeper": gatekeeper,
                    "factor": factor,
                    "score": value,
                    "scored_at": now,
                }
                for factor, value in scores.items()
            ],
        )

    def scores(self, key: str, gate_id: str) -> list[ScoreEvidence]:
        rows = self.session.execute(q.GATE_SCORES, {"key": key, "gate_id": gate_id})
        return [ScoreEvidence(gatekeeper=r.gatekeeper, factor=r.factor, score=r.score) for r in rows]

    def existing_project_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        return set(self.session.scalars(select(t.Project.key).where(t.Project.key.in_(list(set(keys))))))

    # reviews, rounds, votes, decisions ---------------------------------------------------------------
    def add_review(
        self,
        *,
        project_key: str,
        gate_id: str,
        stage_id: str,
        status: ReviewStatus,
        recommendation: Recommendation,
        evaluation: dict[str, Any],
        evidence: dict[str, Any],
        evidence_hash: str,
        requested_by: str | None,
        now: datetime,
    ) -> UUID:
        review_id = uuid4()
        self.session.execute(
            q.INSERT_REVIEW,
            {
                "id": review_id,
                "project_key": project_key,
                "gate_id": gate_id,
                "stage_id": stage_id,
                "status": status.value,
                "recommendation": recommendation.value,
                "evaluation": evaluation,
                "evidence": evidence,
                "evidence_hash": evidence_hash,
                "requested_by": requested_by,
                "created_at": now,
            },
        )
        return review_id

    def latest_review(self, project_key: str) -> tuple[UUID, Evaluation] | None:
        row = self.session.execute(
            select(t.GateReview.id, t.GateReview.evaluation)
            .where(t.GateReview.project_key == project_key)
            .order_by(t.GateReview.created_at.desc())
            .limit(1)
        ).first()
        return None if row is None else (row.id, Evaluation.model_validate(row.evaluation))

    def set_review_status(self, review_id: UUID, status: ReviewStatus) -> None:
        self.session.execute(q.UPDATE_REVIEW, {"review_id": review_id, "status": status.value})

    def open_round(
        self,
        *,
        review_id: UUID,
        project_key: str,
        gate_id: str,
        policy: str,
        approvers: Sequence[str],
        evidence_hash: str,
        due_at: datetime | None,
        now: datetime,
        seats: Sequence[dict[str, Any]] = (),
        policy_spec: dict[str, Any] | None = None,
        requested_by: str | None = None,
        evidence_version: int = 0,
    ) -> UUID:
        round_id = uuid4()
        self.session.execute(
            q.INSERT_ROUND,
            {
                "id": round_id,
                "review_id": review_id,
                "project_key": project_key,
                "gate_id": gate_id,
                "policy": policy,
                "approvers": list(approvers),
                "evidence_hash": evidence_hash,
                "status": RoundStatus.OPEN.value,
                "due_at": due_at,
                "opened_at": now,
                "seats": list(seats),
                "policy_spec": policy_spec or {},
                "requested_by": requested_by,
                "evidence_version": evidence_version,
                "closed_seats": [],
            },
        )
        return round_id

    def _rounds(self, rows: Sequence[Row[Any]]) -> list[RoundSnapshot]:
        """Rounds with their votes, read for all of them in one query."""
        if not rows:
            return []
        votes: dict[UUID, list[VoteRecord]] = {row.id: [] for row in rows}
        for vote in self.session.execute(q.ROUNDS_VOTES, {"round_ids": list(votes)}):
            votes[vote.round_id].append(_vote(vote))
        return [_round(row, votes[row.id]) for row in rows]

    def get_round(self, round_id: UUID, *, for_update: bool = False) -> RoundSnapshot | None:
        row = self.session.execute(q.ROUND_FOR_UPDATE if for_update else q.ROUND, {"id": round_id}).first()
        return self._rounds([row])[0] if row else None

    def open_rounds(self, project_key: str) -> list[RoundSnapshot]:
        return self._rounds(self.session.execute(q.OPEN_ROUNDS, {"key": project_key}).all())

    def add_vote(self, round_id: UUID, vote: VoteRecord) -> UUID:
        """Insert one act. The unique keys are the last line of defence: a race the locks did not order
        (the same idempotency key on two rounds at once) surfaces as a conflict, never as a second vote."""
        vote_id = uuid4()
        try:
            self.session.execute(
                q.INSERT_VOTE,
                {
                    "id": vote_id,
                    "round_id": round_id,
                    "voter_id": vote.voter_id,
                    "signer_id": vote.signer_id or vote.voter_id,
                    "kind": vote.kind.value,
                    "decision": vote.decision.value if vote.decision else None,
                    "reason": vote.reason,
                    "conditions": [c.model_dump(mode="json") for c in vote.conditions],
                    "evidence_hash": vote.evidence_hash,
                    "idempotency_key": vote.idempotency_key,
                    "cast_at": vote.cast_at,
                },
            )
        except IntegrityError as err:
            raise ConflictError(
                f"{vote.voter_id}'s act on round {round_id} conflicts with one recorded at the same moment "
                "(idempotency key or seat already used)",
                code="vote.key_reused" if vote.idempotency_key else "vote.duplicate",
            ) from err
        return vote_id

    def vote_by_key(self, idempotency_key: str) -> tuple[UUID, VoteRecord] | None:
        row = self.session.execute(q.VOTE_BY_KEY, {"key": idempotency_key}).first()
        return (row.round_id, _vote(row)) if row else None

    def supersede_votes(self, round_id: UUID, *, now: datetime) -> int:
        result = self.session.execute(
            update(t.Vote)
            .where(t.Vote.round_id == round_id, t.Vote.superseded_at.is_(None))
            .values(superseded_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def refresh_round(
        self, round_id: UUID, *, review_id: UUID, evidence_hash: str, evidence_version: int, now: datetime
    ) -> None:
        self.session.execute(
            update(t.ApprovalRound)
            .where(t.ApprovalRound.id == round_id)
            .values(
                review_id=review_id, evidence_hash=evidence_hash, evidence_version=evidence_version, refreshed_at=now
            )
        )
        self.session.execute(
            update(t.GateReview).where(t.GateReview.id == review_id).values(status=ReviewStatus.AWAITING_APPROVAL.value)
        )

    def replace_seats(self, round_id: UUID, seats: Sequence[dict[str, Any]], approvers: Sequence[str]) -> None:
        self.session.execute(
            update(t.ApprovalRound)
            .where(t.ApprovalRound.id == round_id)
            .values(seats=list(seats), approvers=list(approvers))
        )

    def close_seats(self, round_id: UUID, seats: Sequence[str]) -> None:
        closed = self.session.execute(q.ROUND_CLOSED_SEATS, {"id": round_id}).scalar_one()
        self.session.execute(
            q.UPDATE_ROUND, {"round_id": round_id, "closed_seats": sorted(set(closed or []) | set(seats))}
        )

    def bump_evidence_version(self, key: str) -> None:
        self.session.execute(
            update(t.Project).where(t.Project.key == key).values(evidence_version=t.Project.evidence_version + 1)
        )

    def list_rounds(self, *, status: RoundStatus | None = None, person_id: str | None = None) -> list[RoundSnapshot]:
        query = select(q.ROUNDS).order_by(t.ApprovalRound.opened_at)
        if status is not None:
            query = query.where(t.ApprovalRound.status == status.value)
        rounds = self._rounds(self.session.execute(query).all())
        if person_id is not None:
            rounds = [r for r in rounds if person_id in r.approvers]
        return rounds

    def unapplied_rounds(self) -> list[UUID]:
        return list(
            self.session.scalars(
                select(t.ApprovalRound.id).where(
                    t.ApprovalRound.status == RoundStatus.RESOLVED.value, t.ApprovalRound.applied_at.is_(None)
                )
            )
        )

    # delegation, conditions, steps (lessons: models.lesson_store) ------------------------------------------
    def add_delegation(self, record: DelegationRecord, *, now: datetime) -> None:
        self.session.add(
            t.Delegation(
                id=record.id,
                principal_id=record.principal_id,
                delegate_id=record.delegate_id,
                valid_from=record.valid_from,
                valid_to=record.valid_to,
                template_id=record.template_id,
                gate_id=record.gate_id,
                created_at=now,
            )
        )
        self.session.flush()

    def revoke_delegation(self, delegation_id: UUID, *, now: datetime) -> None:
        self.session.execute(update(t.Delegation).where(t.Delegation.id == delegation_id).values(revoked_at=now))

    def get_delegation(self, delegation_id: UUID) -> DelegationRecord | None:
        row = self.session.get(t.Delegation, delegation_id)
        return None if row is None else _delegation(row)

    def delegations(self, person_id: str | None = None) -> list[DelegationRecord]:
        query = select(t.Delegation).order_by(t.Delegation.valid_from)
        if person_id is not None:
            query = query.where((t.Delegation.principal_id == person_id) | (t.Delegation.delegate_id == person_id))
        return [_delegation(row) for row in self.session.scalars(query)]

    def add_conditions(self, records: Sequence[ConditionRecord], *, now: datetime) -> None:
        for record in records:
            self.session.add(t.Condition(**record.model_dump(), created_at=now))
        self.session.flush()

    def conditions(self, *, project_key: str | None = None, status: str | None = None) -> list[ConditionRecord]:
        query = select(t.Condition).order_by(t.Condition.due_on, t.Condition.id)
        if project_key is not None:
            query = query.where(t.Condition.project_key == project_key)
        if status is not None:
            query = query.where(t.Condition.status == status)
        return [_condition(row) for row in self.session.scalars(query)]

    def set_condition_status(self, condition_id: UUID, status: str, *, by: str, now: datetime) -> None:
        self.session.execute(
            update(t.Condition)
            .where(t.Condition.id == condition_id)
            .values(status=status, resolved_by=by, resolved_at=now)
        )

    def steps_taken(self, subject: str) -> frozenset[str]:
        return frozenset(
            self.session.scalars(select(t.NotificationStep.step).where(t.NotificationStep.subject == subject))
        )

    def record_steps(self, subject: str, steps: Sequence[str], *, now: datetime) -> None:
        if steps:
            self.session.execute(
                insert(t.NotificationStep), [{"subject": subject, "step": step, "taken_at": now} for step in steps]
            )

    def close_project(self, key: str, *, now: datetime) -> None:
        self.session.execute(update(t.Project).where(t.Project.key == key).values(closed_at=now, updated_at=now))

    def resolve_round(
        self, round_: RoundSnapshot, *, decision: Decision, decided_by: Sequence[str], reason: str, now: datetime
    ) -> None:
        """Takes the round as the caller read it (locked) rather than its id, to spare reading it again."""
        round_id = round_.id
        self.session.execute(
            q.UPDATE_ROUND,
            {
                "round_id": round_id,
                "status": RoundStatus.RESOLVED.value,
                "decision": decision.value,
                "resolved_at": now,
            },
        )
        self.session.execute(
            q.INSERT_DECISION,
            {
                "round_id": round_id,
                "project_key": round_.project_key,
                "gate_id": round_.gate_id,
                "decision": decision.value,
                "decided_by": list(decided_by),
                "reason": reason,
                "decided_at": now,
            },
        )
        self.session.execute(q.UPDATE_REVIEW, {"review_id": round_.review_id, "status": ReviewStatus.DECIDED.value})

    def cancel_round(self, round_id: UUID, review_id: UUID, *, now: datetime) -> None:
        """End an open round and its review without a decision (nothing is applied to the project)."""
        self.session.execute(
            q.UPDATE_ROUND, {"round_id": round_id, "status": RoundStatus.CANCELLED.value, "resolved_at": now}
        )
        self.session.execute(q.UPDATE_REVIEW, {"review_id": review_id, "status": ReviewStatus.CANCELLED.value})

    def mark_round_applied(self, round_id: UUID, *, now: datetime) -> None:
        self.session.execute(q.UPDATE_ROUND, {"round_id": round_id, "applied_at": now})

    def decision_history(self, project_key: str) -> list[DecisionRecord]:
        rows = self.session.scalars(
            select(t.GateDecision).where(t.GateDecision.project_key == project_key).order_by(t.GateDecision.decided_at)
        )
        return [
            DecisionRecord(
                round_id=row.round_id,
                gate_id=row.gate_id,
                decision=Decision(row.decision),
                decided_by=tuple(row.decided_by),
                decided_at=row.decided_at,
                reason=row.reason,
            )
            for row in rows
        ]

    # reports ------------------------------------------------------------------------------------------
    def gate_facts(self) -> GateFacts:
        """Rounds, review counts, conditions and projects of the whole portfolio: four set-based queries."""
        s = self.session
        round_rows = s.execute(
            select(
                t.ApprovalRound.project_key,
                t.Project.template_id,
                t.ApprovalRound.gate_id,
                t.ApprovalRound.opened_at,
                t.ApprovalRound.due_at,
                t.ApprovalRound.resolved_at,
                t.ApprovalRound.decision,
                t.ApprovalRound.status,
            ).join(t.Project, t.Project.key == t.ApprovalRound.project_key)
        ).all()
        automatic = t.GateReview.requested_by.is_(None)
        review_rows = s.execute(
            select(t.Project.template_id, t.GateReview.gate_id, automatic, func.count())
            .join(t.Project, t.Project.key == t.GateReview.project_key)
            .group_by(t.Project.template_id, t.GateReview.gate_id, automatic)
        ).all()
        condition_rows = s.execute(
            select(
                t.Project.template_id,
                t.Condition.gate_id,
                t.Condition.due_on,
                t.Condition.status,
                t.Condition.resolved_at,
            ).join(t.Project, t.Project.key == t.Condition.project_key)
        ).all()
        project_rows = s.execute(
            select(t.Project.key, t.Project.template_id, t.Project.template_version, t.Project.created_at)
        ).all()
        return GateFacts(
            rounds=tuple(
                RoundFact(
                    project_key=r[0],
                    template_id=r[1],
                    gate_id=r[2],
                    opened_at=r[3],
                    due_at=r[4],
                    resolved_at=r[5] if r[7] == RoundStatus.RESOLVED.value else None,
                    decision=Decision(r[6]) if r[6] is not None and r[7] == RoundStatus.RESOLVED.value else None,
                )
                for r in round_rows
                if r[7] != RoundStatus.CANCELLED.value
            ),
            reviews=tuple(ReviewCount(r[0], r[1], bool(r[2]), int(r[3])) for r in review_rows),
            conditions=tuple(ConditionFact(r[0], r[1], r[2], r[3], r[4]) for r in condition_rows),
            projects=tuple(ProjectFact(r[0], r[1], r[2], r[3]) for r in project_rows),
        )

    def report_run(self, kind: str, period: str) -> ReportRunRecord | None:
        row = self.session.get(t.ReportRun, (kind, period))
        return None if row is None else ReportRunRecord.model_validate(row, from_attributes=True)

    def add_report_run(self, record: ReportRunRecord) -> bool:
        """Claim the period for this report; False when another run already has (the row is the claim)."""
        try:
            with self.session.begin_nested():
                self.session.execute(insert(t.ReportRun).values(**record.model_dump()))
        except IntegrityError:
            return False
        return True

    def set_report_notifications(self, kind: str, period: str, count: int) -> None:
        self.session.execute(
            update(t.ReportRun)
            .where(t.ReportRun.kind == kind, t.ReportRun.period == period)
            .values(notifications=count)
        )

    def portfolio_facts(self, start: date, end: date) -> pf.PortfolioFacts:
        """The portfolio report's facts for a period (both ends inclusive, UTC days): seven set-based queries."""
        s = self.session
        sponsor = select(t.Person.name).where(t.Person.id == t.Project.sponsor_id).scalar_subquery()
        projects = s.execute(
            select(
                t.Project.key,
                t.Project.name,
                t.Project.template_id,
                t.Project.template_version,
                t.Project.status,
                t.Project.stage_id,
                t.Project.sponsor_id,
                sponsor,
                func.coalesce(t.Baseline.bac, t.Project.budget),
            ).outerjoin(t.Baseline, t.Baseline.project_key == t.Project.key)
        ).all()
        planned = (
            select(t.BaselinePeriod.planned_value)
            .where(
                t.BaselinePeriod.project_key == t.EvmReport.project_key,
                t.BaselinePeriod.period_end <= t.EvmReport.as_of,
            )
            .order_by(t.BaselinePeriod.period_end.desc())
            .limit(1)
            .scalar_subquery()
        )
        evm = s.execute(
            select(
                t.EvmReport.project_key,
                t.EvmReport.as_of,
                func.coalesce(t.EvmReport.planned_value, planned),
                t.EvmReport.earned_value,
                t.EvmReport.actual_cost,
            ).where(t.EvmReport.as_of <= end)
        ).all()
        rounds = s.execute(
            select(t.ApprovalRound.project_key, t.ApprovalRound.gate_id, t.ApprovalRound.due_at)
            .where(t.ApprovalRound.status == RoundStatus.OPEN.value)
            .order_by(t.ApprovalRound.opened_at)
        ).all()
        conditions = s.execute(
            select(t.Condition.project_key, func.count())
            .where(t.Condition.status == "open")
            .group_by(t.Condition.project_key)
        ).all()
        since = datetime(start.year, start.month, start.day, tzinfo=UTC)
        until = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
        decisions = s.execute(
            select(
                t.GateDecision.project_key,
                t.GateDecision.gate_id,
                t.GateDecision.decision,
                t.GateDecision.decided_at,
                t.GateDecision.decided_by,
                t.GateDecision.reason,
            ).where(t.GateDecision.decided_at >= since, t.GateDecision.decided_at < until)
        ).all()
        risks = s.execute(
            select(t.Risk.project_key, t.Risk.id, t.Risk.title, t.Risk.owner, t.Risk.probability, t.Risk.impact).where(
                t.Risk.status == "open"
            )
        ).all()
        scores = s.execute(select(t.Score.project_key, func.avg(t.Score.score)).group_by(t.Score.project_key)).all()
        return pf.PortfolioFacts(
            projects=tuple(
                pf.ProjectFact(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] or r[6], r[8]) for r in projects
            ),
            evm=tuple(pf.EvmFact(r[0], r[1], r[2], r[3], r[4]) for r in evm),
            open_rounds=tuple(pf.OpenRoundFact(r[0], r[1], r[2]) for r in rounds),
            open_conditions={r[0]: int(r[1]) for r in conditions},
            decisions=tuple(pf.DecisionFact(r[0], r[1], r[2], r[3], tuple(r[4]), r[5]) for r in decisions),
            risks=tuple(pf.RiskFact(r[0], r[1], r[2], r[3], r[4], r[5]) for r in risks),
            value_scores={r[0]: float(r[1]) for r in scores},
        )

    # cross-cutting ------------------------------------------------------------------------------------
    def count_refusals(self, *, person_id: str, code: str, since: datetime) -> int:
        """Security refusals with ``code`` of ``person_id`` since ``since`` (read from the audit log, so every
        server process and CLI sees the same count)."""
        rows = self.session.execute(
            select(t.AuditEntry.payload["code"].as_string(), t.AuditEntry.payload["person"].as_string()).where(
                t.AuditEntry.action == "security.refused", t.AuditEntry.at >= since
            )
        )
        return sum(1 for found, person in rows if found == code and person == person_id)

    # tolerances ---------------------------------------------------------------------------------------
    def tolerances(self, project_key: str) -> list[ToleranceRecord]:
        query = (
            select(t.Tolerance)
            .where(t.Tolerance.project_key == project_key)
            .order_by(t.Tolerance.scope, t.Tolerance.dimension)
        )
        return [_tolerance(row) for row in self.session.scalars(query)]

    def put_tolerance(self, record: ToleranceRecord) -> None:
        """Insert or replace the one row of (project, scope, dimension); the caller audits the change."""
        values = {
            "level": record.level.value,
            "owner_id": record.owner_id,
            "percent": record.percent,
            "amount": record.amount,
            "no_tolerance": record.none,
            "reason": record.reason,
            "set_by": record.set_by,
            "set_at": record.set_at,
        }
        changed = self.session.execute(
            update(t.Tolerance)
            .where(
                t.Tolerance.project_key == record.project_key,
                t.Tolerance.scope == record.scope,
                t.Tolerance.dimension == record.dimension.value,
            )
            .values(**values)
        )
        if not getattr(changed, "rowcount", 0):
            self.session.execute(
                insert(t.Tolerance).values(
                    id=uuid4(),
                    project_key=record.project_key,
                    scope=record.scope,
                    dimension=record.dimension.value,
                    **values,
                )
            )

    # portfolio monitor: set-based reads per chunk --------------------------------------------------------
    def active_project_keys(self) -> list[str]:
        query = select(t.Project.key).where(t.Project.status == ProjectStatus.ACTIVE.value).order_by(t.Project.key)
        return list(self.session.scalars(query))

    def monitor_inputs(self, keys: Sequence[str], as_of: date) -> list[MonitorInput]:
        """Everything the monitor needs about these projects in eight queries, however many there are."""
        wanted = list(keys)
        projects = [
            _project(row)
            for row in self.session.execute(
                select(q.PROJECTS).where(
                    q.PROJECTS.c.key.in_(wanted), q.PROJECTS.c.status == ProjectStatus.ACTIVE.value
                )
            )
        ]
        if not projects:
            return []
        active = [p.key for p in projects]
        bac_query = select(t.Baseline.project_key, t.Baseline.bac).where(t.Baseline.project_key.in_(active))
        bacs: dict[str, Decimal] = {row.project_key: row.bac for row in self.session.execute(bac_query)}
        newest = (
            select(t.EvmReport.project_key, func.max(t.EvmReport.as_of).label("as_of"))
            .where(t.EvmReport.project_key.in_(active), t.EvmReport.as_of <= as_of)
            .group_by(t.EvmReport.project_key)
            .subquery()
        )
        reports = {
            row.project_key: row
            for row in self.session.execute(
                select(t.EvmReport).join(
                    newest,
                    (t.EvmReport.project_key == newest.c.project_key) & (t.EvmReport.as_of == newest.c.as_of),
                )
            ).scalars()
        }
        periods: dict[str, list[tuple[date, Decimal]]] = {}
        for key, end, value in self.session.execute(
            select(t.BaselinePeriod.project_key, t.BaselinePeriod.period_end, t.BaselinePeriod.planned_value)
            .where(t.BaselinePeriod.project_key.in_(active), t.BaselinePeriod.period_end <= as_of)
            .order_by(t.BaselinePeriod.period_end)
        ):
            periods.setdefault(key, []).append((end, value))
        tolerances: dict[str, list[ToleranceRecord]] = {}
        for tolerance in self.session.scalars(select(t.Tolerance).where(t.Tolerance.project_key.in_(active))):
            tolerances.setdefault(tolerance.project_key, []).append(_tolerance(tolerance))
        roles: dict[str, dict[str, list[str]]] = {}
        for key, role, person in self.session.execute(
            select(t.ProjectRole.project_key, t.ProjectRole.role, t.ProjectRole.person_id)
            .where(t.ProjectRole.project_key.in_(active))
            .order_by(t.ProjectRole.role, t.ProjectRole.person_id)
        ):
            roles.setdefault(key, {}).setdefault(role, []).append(person)
        top = (
            select(
                t.ToleranceExceptionRow.project_key,
                t.ToleranceExceptionRow.scope,
                t.ToleranceExceptionRow.dimension,
                func.max(t.ToleranceExceptionRow.seq).label("seq"),
            )
            .where(t.ToleranceExceptionRow.project_key.in_(active))
            .group_by(
                t.ToleranceExceptionRow.project_key, t.ToleranceExceptionRow.scope, t.ToleranceExceptionRow.dimension
            )
            .subquery()
        )
        exceptions: dict[str, dict[str, ToleranceException]] = {}
        for row in self.session.scalars(
            select(t.ToleranceExceptionRow).join(
                top,
                (t.ToleranceExceptionRow.project_key == top.c.project_key)
                & (t.ToleranceExceptionRow.scope == top.c.scope)
                & (t.ToleranceExceptionRow.dimension == top.c.dimension)
                & (t.ToleranceExceptionRow.seq == top.c.seq),
            )
        ):
            exceptions.setdefault(row.project_key, {})[f"{row.scope}:{row.dimension}"] = _exception(row)
        history: dict[str, dict[str, list[Decimal]]] = {}
        for key, dimension, deviation in self.session.execute(
            select(t.RagSnapshot.project_key, t.RagSnapshot.dimension, t.RagSnapshot.deviation)
            .where(
                t.RagSnapshot.project_key.in_(active),
                t.RagSnapshot.as_of < as_of,
                t.RagSnapshot.as_of >= as_of - timedelta(days=HISTORY_DAYS),
                t.RagSnapshot.deviation.is_not(None),
            )
            .order_by(t.RagSnapshot.as_of)
        ):
            if deviation is not None:
                history.setdefault(key, {}).setdefault(dimension, []).append(deviation)
        found = []
        for project in projects:
            bac = bacs.get(project.key, project.budget)
            report = reports.get(project.key)
            evm = None
            if report is not None:
                planned = report.planned_value
                if planned is None:
                    planned = next(
                        (v for end, v in reversed(periods.get(project.key, [])) if end <= report.as_of), None
                    )
                try:
                    evm = EvmSnapshot(
                        as_of=report.as_of,
                        bac=bac,
                        pv=planned,
                        ev=report.earned_value,
                        ac=report.actual_cost,
                        etc=report.estimate_to_complete,
                    )
                except ValueError:
                    evm = None  # figures that contradict the baseline forecast nothing (the RAG shows unknown)
            assigned = {role: tuple(people) for role, people in roles.get(project.key, {}).items()}
            found.append(
                MonitorInput(
                    project=project,
                    bac=bac,
                    evm=evm,
                    test_pass_rate=report.test_pass_rate if report is not None else None,
                    acceptance=report.acceptance if report is not None else None,
                    tolerances=tuple(tolerances.get(project.key, ())),
                    roles={"sponsor": (project.sponsor_id,), "manager": (project.manager_id,)} | assigned,
                    latest_exceptions=exceptions.get(project.key, {}),
                    history={d: tuple(v[-2:]) for d, v in history.get(project.key, {}).items()},
                )
            )
        return found

    def gate_schedule(self, keys: Sequence[str]) -> list[tuple[ProjectSnapshot, dict[str, date]]]:
        """These active projects with their open milestones (id -> due date), in two queries."""
        projects = [
            _project(row)
            for row in self.session.execute(
                select(q.PROJECTS).where(
                    q.PROJECTS.c.key.in_(list(keys)), q.PROJECTS.c.status == ProjectStatus.ACTIVE.value
                )
            )
        ]
        dates: dict[str, dict[str, date]] = {}
        for key, milestone, due in self.session.execute(
            select(t.Milestone.project_key, t.Milestone.id, t.Milestone.due).where(
                t.Milestone.project_key.in_([p.key for p in projects]), t.Milestone.done_on.is_(None)
            )
        ):
            dates.setdefault(key, {})[milestone] = due
        return [(p, dates.get(p.key, {})) for p in projects]

    def claim_step(self, subject: str, step: str, *, now: datetime) -> bool:
        """Record that ``step`` was taken for ``subject``; ``False`` when it already was (by this or a racing
        transaction: the savepoint keeps the rest of the transaction)."""
        try:
            with self.session.begin_nested():
                self.session.execute(insert(t.NotificationStep).values(subject=subject, step=step, taken_at=now))
        except IntegrityError:
            return False
        return True

    def record_rag(self, rows: Sequence[RagRow], *, now: datetime) -> int:
        """Write the day's snapshot rows, replacing a row of the same project, day and dimension.

        An upsert (``ON CONFLICT DO UPDATE``, which SQLite and PostgreSQL both have) rather than delete then
        insert: two monitors scanning the same chunk at once must both succeed, the later one's values winning.
        """
        if not rows:
            return 0
        dialect = self.session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = upsert(t.RagSnapshot)
        statement = statement.on_conflict_do_update(
            index_elements=["project_key", "as_of", "dimension"],
            set_={
                "rag": statement.excluded.rag,
                "deviation": statement.excluded.deviation,
                "allowance": statement.excluded.allowance,
                "taken_at": statement.excluded.taken_at,
            },
        )
        self.session.execute(statement, [r.model_dump() | {"taken_at": now} for r in rows])
        return len(rows)

    def rag_history(self, project_key: str) -> list[RagRow]:
        query = (
            select(t.RagSnapshot)
            .where(t.RagSnapshot.project_key == project_key)
            .order_by(t.RagSnapshot.as_of, t.RagSnapshot.dimension)
        )
        return [
            RagRow(
                project_key=r.project_key,
                as_of=r.as_of,
                dimension=r.dimension,
                rag=r.rag,
                deviation=r.deviation,
                allowance=r.allowance,
            )
            for r in self.session.scalars(query)
        ]

    # exceptions ---------------------------------------------------------------------------------------
    def latest_exception(self, project_key: str, scope: str, dimension: str) -> ToleranceException | None:
        row = self.session.scalars(
            select(t.ToleranceExceptionRow)
            .where(
                t.ToleranceExceptionRow.project_key == project_key,
                t.ToleranceExceptionRow.scope == scope,
                t.ToleranceExceptionRow.dimension == dimension,
            )
            .order_by(t.ToleranceExceptionRow.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else _exception(row)

    def add_exception(self, record: ToleranceException) -> bool:
        """Insert the n-th exception; ``False`` when another scan already inserted it (its unique key).

        A savepoint keeps the rest of the transaction: a concurrent scanner that raised the same exception
        first makes this insert a no-op instead of failing the whole chunk.
        """
        values = record.model_dump(exclude={"dimension", "level", "decision"}) | {
            "dimension": record.dimension.value,
            "level": record.level.value,
            "decision": None,
        }
        try:
            with self.session.begin_nested():
                self.session.execute(insert(t.ToleranceExceptionRow).values(**values))
        except IntegrityError:
            return False
        return True

    def get_exception(self, exception_id: UUID, *, for_update: bool = False) -> ToleranceException | None:
        query = select(t.ToleranceExceptionRow).where(t.ToleranceExceptionRow.id == exception_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.scalars(query).first()
        return None if row is None else _exception(row)

    def close_exception(self, exception_id: UUID, *, decision: str, by: str, reason: str, now: datetime) -> None:
        self.session.execute(
            update(t.ToleranceExceptionRow)
            .where(t.ToleranceExceptionRow.id == exception_id)
            .values(status="closed", decision=decision, decided_by=by, decided_at=now, reason=reason)
        )

    def exceptions(self, *, project_key: str | None = None, status: str | None = None) -> list[ToleranceException]:
        query = select(t.ToleranceExceptionRow).order_by(
            t.ToleranceExceptionRow.raised_at.desc(), t.ToleranceExceptionRow.project_key
        )
        if project_key is not None:
            query = query.where(t.ToleranceExceptionRow.project_key == project_key)
        if status is not None:
            query = query.where(t.ToleranceExceptionRow.status == status)
        return [_exception(row) for row in self.session.scalars(query)]

    def append_audit(self, *, actor: str, action: str, entity: str, payload: dict[str, Any], at: datetime) -> None:
        self._audit.append(AuditDraft(actor=actor, action=action, entity=entity, payload=payload, at=at))

    def enqueue(self, items: Sequence[OutboxRequest], *, now: datetime) -> int:
        rows = [row for item in items for row in self._expand(item)]
        if not rows:
            return 0
        self.session.execute(
            q.INSERT_OUTBOX,
            [
                {
                    "id": uuid4(),
                    "idempotency_key": item.idempotency_key,
                    "kind": item.kind,
                    "recipient_id": item.recipient_id,
                    "target": item.target,
                    "locale": item.locale,
                    "context": item.context,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for item in rows
            ],
        )
        return len(rows)

    def _expand(self, item: OutboxRequest) -> list[OutboxRequest]:
        """A personal request is one row; an organisation notice becomes one row per tagged org target."""
        if item.target:
            return [item]
        if self._org_route is None or not item.tags:
            return []
        return [
            item.model_copy(
                update={
                    "target": url,
                    "locale": self._org_locale,
                    "idempotency_key": f"{item.idempotency_key}:{hashlib.sha256(url.encode()).hexdigest()[:16]}",
                }
            )
            for url in self._org_route(item.tags)
        ]

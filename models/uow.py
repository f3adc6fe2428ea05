"""The SQL unit of work: one session, one transaction, repositories as methods, snapshots out.

Nothing here commits on its own: ``commit()`` is called once by a service, and leaving the ``with`` block
without it rolls back. Row locks (``FOR UPDATE``) matter on PostgreSQL; SQLite transactions already hold
the write lock from their ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self
from uuid import UUID, uuid4

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import statements as q
from models import tables as t
from models.audit_store import AuditDraft, append_audit_entries
from models.enums import BallotKind, Decision, DocumentStatus, ProjectStatus, Recommendation, ReviewStatus, RoundStatus
from models.errors import ConflictError
from models.evidence import DocumentEvidence, MilestoneEvidence, RiskEvidence, ScoreEvidence
from models.identity import OrgRole
from models.lesson_store import LessonRepository
from models.snapshots import (
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
    RoundSnapshot,
    StoredTemplate,
    VoteRecord,
)
from models.template import LifecycleTemplate


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


OrgRoute = Callable[[Sequence[str]], list[str]]
"""Organisation targets (Apprise URLs) for a set of tags, OR-ed: injected by entry points from the org config."""


class SqlUnitOfWork(LessonRepository):
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

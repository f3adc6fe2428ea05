"""In-memory fakes of the repositories the use cases depend on (``usecases.ports``), for the unit tier.

Why fakes and not mocks: a fake keeps the ports' promises, so a use case runs on it exactly as on SQL, in
microseconds. The promise that matters most is the unit of work's: what a use case writes is visible only
after ``commit()``, and leaving the ``with`` block without it leaves the store as it was (each transaction
works on a copy of the store and commit puts the copy back). The SQL repositories are tested against the
same use cases on SQLite and PostgreSQL in the integration tier.

Every repository of ``usecases.ports.UnitOfWork`` is here (people, templates, projects, evidence, reviews with
their rounds and votes, lessons, delegations, conditions, tolerances with their exceptions and RAG history,
resources, report runs, plus the unit's own audit journal, outbox and steps), and so are the read models
(``MonitoringReads``, ``ReportRepository``'s facts, ``StrategyReads``): each aggregation is computed from the
store's rows as the SQL version computes it from its tables (``models/repositories/*.py``), so the pure code
behind a report sees the same facts. Where a table's column type changes a value (money kept to the cent), the
fake stores what the column would give back, and where a check constraint refuses a row (a risk's status) the fake
refuses it too. ``tests/test_fakes_contract.py`` plays one scenario on the fakes and on SQLite and PostgreSQL, so
the two cannot drift apart unnoticed. Not imitated: row locks (``for_update``), savepoints and the races they
settle (the integration tier's concurrency tests).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self
from uuid import UUID, uuid4

from phasegate.gates.relevance import Candidate, candidate
from phasegate.gates.vocabulary.enums import (
    Decision,
    LessonCategory,
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
from phasegate.gates.vocabulary.lessons import LessonDueRecord, LessonRecord, LessonUseRecord
from phasegate.gates.vocabulary.monitoring import MonitorInput, RagRow
from phasegate.gates.vocabulary.resources import CapacityOverride, DemandLine, PriorityRecord, ResourceProfile
from phasegate.gates.vocabulary.snapshots import (
    BaselineRecord,
    ConditionRecord,
    DecisionRecord,
    DelegationRecord,
    Evaluation,
    EvidenceFigures,
    EvmReportRecord,
    GateEvidenceReads,
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
from phasegate.gates.vocabulary.tolerance import ExceptionDecision, ToleranceException, ToleranceRecord, plain
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.usecases.ports import (
    ConditionRepository,
    DelegationRepository,
    EvidenceRepository,
    LessonRepository,
    MonitoringReads,
    PeopleRepository,
    ProjectRepository,
    ReportRepository,
    ResourceRepository,
    ReviewRepository,
    StrategyReads,
    TemplateRepository,
    ToleranceRepository,
    UnitOfWork,
)

if TYPE_CHECKING:  # imported where used, as the SQL repositories' users do: the unit tier need not pay for them
    from phasegate.gates.analytics import GateFacts
    from phasegate.gates.maturity import MaturityFacts
    from phasegate.gates.portfolio import PortfolioFacts
    from phasegate.gates.prioritisation import PriorityFact

CENT = Decimal("0.01")
HISTORY_DAYS = 120
"""How far back the monitor's read model looks for earlier RAG rows (``models.repositories.monitoring``)."""


def money(value: Decimal) -> Decimal:
    """What a ``MONEY`` column (``Numeric(18, 2)``) gives back."""
    return value.quantize(CENT)


def _money_or_none(value: Decimal | None) -> Decimal | None:
    return None if value is None else money(value)


@dataclass(frozen=True)
class ReviewRow:
    """A recorded gate review, as the ``gate_reviews`` table keeps it."""

    project_key: str
    gate_id: str
    stage_id: str
    status: ReviewStatus
    recommendation: Recommendation
    evaluation: dict[str, Any]
    evidence: dict[str, Any]
    evidence_hash: str
    requested_by: str | None
    created_at: datetime


@dataclass
class Store:
    """The "database": what committed transactions left behind."""

    people: dict[str, PersonSnapshot] = field(default_factory=dict)
    templates: dict[tuple[str, int], StoredTemplate] = field(default_factory=dict)
    projects: dict[str, ProjectSnapshot] = field(default_factory=dict)
    project_roles: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    delegations: dict[UUID, DelegationRecord] = field(default_factory=dict)
    conditions: dict[UUID, ConditionRecord] = field(default_factory=dict)
    documents: dict[str, list[DocumentEvidence]] = field(default_factory=dict)  # every version, per project
    costs: list[tuple[str, str, Decimal]] = field(default_factory=list)  # (project, stage, amount)
    baselines: dict[str, BaselineRecord] = field(default_factory=dict)
    baseline_periods: dict[str, list[tuple[date, Decimal]]] = field(default_factory=dict)
    stage_budgets: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    evm_reports: dict[tuple[str, date], EvmReportRecord] = field(default_factory=dict)
    risks: dict[tuple[str, str], RiskEvidence] = field(default_factory=dict)
    milestones: dict[tuple[str, str], MilestoneEvidence] = field(default_factory=dict)
    scores: dict[tuple[str, str, str, str], int] = field(default_factory=dict)  # (project, gate, who, factor)
    reviews: dict[UUID, ReviewRow] = field(default_factory=dict)
    rounds: dict[UUID, RoundSnapshot] = field(default_factory=dict)  # votes live in their round
    decisions: list[tuple[str, DecisionRecord]] = field(default_factory=list)  # (project, decision)
    lessons: dict[int, LessonRecord] = field(default_factory=dict)
    lesson_uses: list[LessonUseRecord] = field(default_factory=list)
    lessons_owed: dict[str, LessonDueRecord] = field(default_factory=dict)
    # columns the snapshots do not carry: projects.created_at and closed_at, conditions.resolved_at,
    # risks.updated_at
    project_created: dict[str, datetime] = field(default_factory=dict)
    project_closed: dict[str, datetime] = field(default_factory=dict)
    condition_resolved: dict[UUID, datetime] = field(default_factory=dict)
    risk_updated: dict[tuple[str, str], datetime] = field(default_factory=dict)
    tolerances: dict[tuple[str, str, str], ToleranceRecord] = field(default_factory=dict)  # (project, scope, dim)
    exceptions: dict[UUID, ToleranceException] = field(default_factory=dict)
    rag: dict[tuple[str, date, str], RagRow] = field(default_factory=dict)  # (project, day, dimension)
    report_runs: dict[tuple[str, str], ReportRunRecord] = field(default_factory=dict)  # (kind, period)
    resource_profiles: dict[str, ResourceProfile] = field(default_factory=dict)
    capacity_overrides: dict[tuple[str, date], CapacityOverride] = field(default_factory=dict)
    demand: list[DemandLine] = field(default_factory=list)
    priorities: dict[str, PriorityRecord] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[OutboxRequest] = field(default_factory=list)
    steps: set[tuple[str, str]] = field(default_factory=set)

    def actions(self) -> list[str]:
        return [entry["action"] for entry in self.audit]


class FakePeople:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get_person(self, person_id: str) -> PersonSnapshot | None:
        return self.store.people.get(person_id)

    def get_people(self, person_ids: Iterable[str]) -> dict[str, PersonSnapshot]:
        return {pid: self.store.people[pid] for pid in person_ids if pid in self.store.people}

    def read_ahead(
        self, also: Iterable[str] = (), *, project_key: str | None = None, round_id: UUID | None = None
    ) -> None:
        """A fake has no round trips to save: its getters read the store when asked (so do all read_ahead*)."""

    def add_person(self, person: PersonSnapshot, *, now: datetime) -> None:
        self.store.people[person.id] = person

    def update_person(self, person: PersonSnapshot) -> None:
        self.store.people[person.id] = person

    def person_by_login(self, login: str) -> PersonSnapshot | None:
        return next((p for p in self.store.people.values() if p.login == login), None)

    def people_with_role(self, role: OrgRole) -> list[str]:
        return sorted(p.id for p in self.store.people.values() if role in p.roles)


class FakeTemplates:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get_template(self, template_id: str, version: int | None = None) -> StoredTemplate | None:
        versions = sorted(v for (tid, v) in self.store.templates if tid == template_id)
        if not versions:
            return None
        return self.store.templates.get((template_id, version if version is not None else versions[-1]))

    def list_templates(self) -> list[StoredTemplate]:
        return [self.store.templates[k] for k in sorted(self.store.templates)]

    def add_template(self, template: LifecycleTemplate, *, content_hash: str, source: str, now: datetime) -> None:
        self.store.templates[(template.id, template.version)] = StoredTemplate(
            template=template, content_hash=content_hash, published_at=now
        )


class FakeProjects:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get_project(self, key: str, *, for_update: bool = False) -> ProjectSnapshot | None:
        return self.store.projects.get(key)

    def add_project(self, project: ProjectSnapshot, *, now: datetime) -> None:
        self.store.projects[project.key] = project
        self.store.project_created[project.key] = now

    def list_projects(self, query: ProjectQuery | None = None) -> tuple[list[ProjectSnapshot], int]:
        query = query or ProjectQuery()
        found = [
            p
            for _, p in sorted(self.store.projects.items())
            if (query.status is None or p.status is query.status)
            and (query.stage_id is None or p.stage_id == query.stage_id)
            and (query.template_id is None or p.template_id == query.template_id)
        ]
        page = [p for p in found if query.after is None or p.key > query.after]
        end = None if query.limit is None else query.offset + query.limit
        return page[query.offset : end], len(found)

    def update_project_state(
        self, key: str, *, status: ProjectStatus, stage_id: str, recycle_count: int, now: datetime
    ) -> None:
        self._update(key, status=status, stage_id=stage_id, recycle_count=recycle_count)

    def update_project_charter(
        self, key: str, *, name: str, sponsor_id: str, manager_id: str, budget: Decimal, now: datetime
    ) -> None:
        self._update(key, name=name, sponsor_id=sponsor_id, manager_id=manager_id, budget=budget)

    def existing_project_keys(self, keys: Sequence[str]) -> set[str]:
        return set(keys) & set(self.store.projects)

    def bump_evidence_version(self, key: str) -> None:
        self._update(key, evidence_version=self.store.projects[key].evidence_version + 1)

    def close_project(self, key: str, *, now: datetime) -> None:
        self._update(key, closed=True)
        self.store.project_closed[key] = now

    def set_expected_benefit(self, key: str, amount: Decimal | None, *, now: datetime) -> None:
        self._update(key, expected_benefit=amount)

    def active_project_keys(self) -> list[str]:
        return sorted(k for k, p in self.store.projects.items() if p.status is ProjectStatus.ACTIVE)

    def _update(self, key: str, **values: Any) -> None:
        self.store.projects[key] = self.store.projects[key].model_copy(update=values)

    def read_ahead(self, *, key: str | None = None, round_id: UUID | None = None) -> None:
        pass

    def read_ahead_roles(self, key: str) -> None:
        pass

    def project_roles(self, key: str) -> dict[str, tuple[str, ...]]:
        return dict(self.store.project_roles.get(key, {}))

    def assign_role(self, key: str, role: str, person_id: str, *, now: datetime) -> bool:
        roles = self.store.project_roles.setdefault(key, {})
        if person_id in roles.get(role, ()):
            return False
        roles[role] = (*roles.get(role, ()), person_id)
        return True


class FakeDelegations:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add_delegation(self, record: DelegationRecord, *, now: datetime) -> None:
        self.store.delegations[record.id] = record

    def revoke_delegation(self, delegation_id: UUID, *, now: datetime) -> None:
        found = self.store.delegations[delegation_id]
        self.store.delegations[delegation_id] = found.model_copy(update={"revoked": True})

    def get_delegation(self, delegation_id: UUID) -> DelegationRecord | None:
        return self.store.delegations.get(delegation_id)

    def delegations(self, person_id: str | None = None) -> list[DelegationRecord]:
        found = sorted(self.store.delegations.values(), key=lambda d: d.valid_from)
        return [d for d in found if person_id is None or person_id in (d.principal_id, d.delegate_id)]


class FakeConditions:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add_conditions(self, records: Sequence[ConditionRecord], *, now: datetime) -> None:
        self.store.conditions.update({r.id: r for r in records})

    def conditions(self, *, project_key: str | None = None, status: str | None = None) -> list[ConditionRecord]:
        found = sorted(self.store.conditions.values(), key=lambda c: (c.due_on, c.id))
        return [
            c
            for c in found
            if (project_key is None or c.project_key == project_key) and (status is None or c.status == status)
        ]

    def set_condition_status(self, condition_id: UUID, status: str, *, by: str, now: datetime) -> None:
        found = self.store.conditions[condition_id]
        self.store.conditions[condition_id] = found.model_copy(update={"status": status, "resolved_by": by})
        self.store.condition_resolved[condition_id] = now


class FakeEvidence:
    def __init__(self, store: Store) -> None:
        self.store = store

    def latest_documents(self, key: str) -> list[DocumentEvidence]:
        latest: dict[str, DocumentEvidence] = {}
        for doc in self.store.documents.get(key, []):
            if doc.deliverable_id not in latest or doc.version > latest[doc.deliverable_id].version:
                latest[doc.deliverable_id] = doc
        return [latest[d] for d in sorted(latest)]

    def next_document_version(self, key: str, deliverable_id: str) -> int:
        versions = [d.version for d in self.store.documents.get(key, []) if d.deliverable_id == deliverable_id]
        return max(versions, default=0) + 1

    def add_document(
        self, key: str, document: DocumentEvidence, *, approved_at: datetime | None, now: datetime
    ) -> UUID:
        stored = document.model_copy(  # what a row keeps: no probe result, no project roles
            update={"registered_at": now, "approved_at": approved_at, "current_sha256": None, "approver_roles": ()}
        )
        self.store.documents.setdefault(key, []).append(stored)
        return uuid4()

    def set_document_store_key(self, key: str, deliverable_id: str, version: int, store_key: str) -> bool:
        docs = self.store.documents.get(key, [])
        for i, doc in enumerate(docs):
            if (doc.deliverable_id, doc.version) == (deliverable_id, version) and doc.store_key is None:
                docs[i] = doc.model_copy(update={"store_key": store_key})
                return True
        return False

    def total_actual_cost(self, key: str) -> Decimal:
        return self.spend(key, "")[0]

    def add_cost(self, key: str, amount: Decimal, *, note: str, stage_id: str, now: datetime) -> UUID:
        self.store.costs.append((key, stage_id, amount))
        return uuid4()

    def get_baseline(self, key: str) -> BaselineRecord | None:
        return self.store.baselines.get(key)

    def set_baseline(self, key: str, baseline: BaselineRecord, *, now: datetime) -> None:
        self.store.baselines[key] = baseline

    def baseline_periods(self, key: str) -> list[tuple[date, Decimal]]:
        return sorted(self.store.baseline_periods.get(key, []))

    def replace_baseline_periods(self, key: str, periods: Sequence[tuple[date, Decimal]]) -> None:
        self.store.baseline_periods[key] = list(periods)

    def planned_value_at(self, key: str, as_of: date) -> Decimal | None:
        due = [value for end, value in self.baseline_periods(key) if end <= as_of]
        return due[-1] if due else None

    def set_stage_budget(self, key: str, stage_id: str, amount: Decimal) -> None:
        self.store.stage_budgets[(key, stage_id)] = amount

    def stage_budget(self, key: str, stage_id: str) -> Decimal | None:
        return self.store.stage_budgets.get((key, stage_id))

    def spend(self, key: str, stage_id: str) -> tuple[Decimal, Decimal]:
        mine = [(stage, amount) for k, stage, amount in self.store.costs if k == key]
        total = sum((amount for _, amount in mine), Decimal(0))
        in_stage = sum((amount for stage, amount in mine if stage == stage_id), Decimal(0))
        return total.quantize(CENT), in_stage.quantize(CENT)

    def figures(self, key: str, stage_id: str, as_of: date) -> EvidenceFigures:
        spent, stage_spent = self.spend(key, stage_id)
        return EvidenceFigures(
            baseline=self.get_baseline(key),
            report=self.latest_evm_report(key, as_of),
            spent=spent,
            stage_spent=stage_spent,
            stage_budget=self.stage_budget(key, stage_id),
        )

    def read_ahead_gate(self, key: str, as_of: date) -> None:
        pass  # no round trips to save: gate_reads reads the dicts

    def gate_reads(self, key: str, stage_id: str, gate_id: str, as_of: date) -> GateEvidenceReads:
        return GateEvidenceReads(
            documents=self.latest_documents(key),
            figures=self.figures(key, stage_id, as_of),
            risks=self.risks(key),
            milestones=self.milestones(key),
            scores=self.scores(key, gate_id),
        )

    def upsert_evm_reports(self, reports: Sequence[EvmReportRecord], *, now: datetime) -> int:
        self.store.evm_reports.update({(r.project_key, r.as_of): r for r in reports})
        return len(reports)

    def latest_evm_report(self, key: str, as_of: date) -> EvmReportRecord | None:
        due = [r for r in self.evm_history(key) if r.as_of <= as_of]
        return due[-1] if due else None

    def evm_history(self, key: str) -> list[EvmReportRecord]:
        return [r for (k, _), r in sorted(self.store.evm_reports.items()) if k == key]

    def upsert_risks(self, key: str, risks: Sequence[RiskEvidence], *, now: datetime) -> int:
        refused = [r.id for r in risks if r.status not in ("open", "closed")]
        if refused:  # the risks table's check constraint (the doors and the importer normalise the status first)
            raise ValueError(f"risks {refused}: status must be 'open' or 'closed' (CHECK constraint ck_risks_status)")
        self.store.risks.update({(key, r.id): r for r in risks})
        self.store.risk_updated.update({(key, r.id): now for r in risks})
        return len(risks)

    def risks(self, key: str) -> list[RiskEvidence]:
        return [r for (k, _), r in sorted(self.store.risks.items()) if k == key]

    def upsert_milestone(self, key: str, milestone: MilestoneEvidence) -> None:
        self.store.milestones[(key, milestone.id)] = milestone

    def milestones(self, key: str) -> list[MilestoneEvidence]:
        return sorted((m for (k, _), m in self.store.milestones.items() if k == key), key=lambda m: (m.due, m.id))

    def upsert_scores(self, key: str, gate_id: str, gatekeeper: str, scores: dict[str, int], *, now: datetime) -> None:
        self.store.scores.update({(key, gate_id, gatekeeper, factor): value for factor, value in scores.items()})

    def scores(self, key: str, gate_id: str) -> list[ScoreEvidence]:
        return [
            ScoreEvidence(gatekeeper=who, factor=factor, score=value)
            for (k, gate, who, factor), value in sorted(self.store.scores.items())
            if (k, gate) == (key, gate_id)
        ]


class FakeReviews:
    """Reviews, rounds (each holding its votes, ordered by cast time) and decisions, with the SQL schema's rules:
    an idempotency key names one vote, and a voter acts once per round and evidence hash."""

    def __init__(self, store: Store) -> None:
        self.store = store

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
        self.store.reviews[review_id] = ReviewRow(
            project_key=project_key,
            gate_id=gate_id,
            stage_id=stage_id,
            status=status,
            recommendation=recommendation,
            evaluation=evaluation,
            evidence=evidence,
            evidence_hash=evidence_hash,
            requested_by=requested_by,
            created_at=now,
        )
        return review_id

    def latest_review(self, project_key: str) -> tuple[UUID, Evaluation] | None:
        mine = [
            (r.created_at, i, rid)
            for i, (rid, r) in enumerate(self.store.reviews.items())
            if r.project_key == project_key
        ]
        if not mine:
            return None
        review_id = max(mine)[2]  # the newest; of two at the same instant, the later recorded
        return review_id, Evaluation.model_validate(self.store.reviews[review_id].evaluation)

    def _set_review_status(self, review_id: UUID, status: ReviewStatus) -> None:
        self.store.reviews[review_id] = dataclasses.replace(self.store.reviews[review_id], status=status)

    def last_reviewed(self, keys: Sequence[str]) -> dict[tuple[str, str], datetime]:
        last: dict[tuple[str, str], datetime] = {}
        for row in self.store.reviews.values():
            at = (row.project_key, row.gate_id)
            if row.project_key in keys and (at not in last or row.created_at > last[at]):
                last[at] = row.created_at
        return last

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
        self.store.rounds[round_id] = RoundSnapshot(
            id=round_id,
            review_id=review_id,
            project_key=project_key,
            gate_id=gate_id,
            policy=policy,
            approvers=tuple(approvers),
            evidence_hash=evidence_hash,
            status=RoundStatus.OPEN,
            decision=None,
            opened_at=now,
            resolved_at=None,
            applied_at=None,
            seats=tuple(seats),
            policy_spec=policy_spec or {},
            requested_by=requested_by,
            evidence_version=evidence_version,
            due_at=due_at,
        )
        return round_id

    def read_ahead_round(self, round_id: UUID) -> None:
        pass

    def read_ahead_open_rounds(self, project_key: str) -> None:
        pass

    def get_round(self, round_id: UUID, *, for_update: bool = False) -> RoundSnapshot | None:
        return self.store.rounds.get(round_id)

    def open_rounds(self, project_key: str) -> list[RoundSnapshot]:
        return [r for r in self.list_rounds(status=RoundStatus.OPEN) if r.project_key == project_key]

    def add_vote(self, round_id: UUID, vote: VoteRecord) -> UUID:
        votes = [(rid, v) for rid, r in self.store.rounds.items() for v in r.votes]
        key_used = vote.idempotency_key is not None and any(v.idempotency_key == vote.idempotency_key for _, v in votes)
        seat_used = any(
            (rid, v.voter_id, v.evidence_hash) == (round_id, vote.voter_id, vote.evidence_hash) for rid, v in votes
        )
        if key_used or seat_used:  # the unique keys of the votes table
            raise ConflictError(
                f"{vote.voter_id}'s act on round {round_id} conflicts with one recorded at the same moment "
                "(idempotency key or seat already used)",
                code="vote.key_reused" if vote.idempotency_key else "vote.duplicate",
            )
        vote_id = uuid4()
        stored = vote.model_copy(update={"id": vote_id, "signer_id": vote.signer_id or vote.voter_id})
        current = self.store.rounds[round_id]
        ordered = sorted((*current.votes, stored), key=lambda v: v.cast_at)
        self._update(round_id, votes=tuple(ordered))
        return vote_id

    def vote_by_key(self, idempotency_key: str) -> tuple[UUID, VoteRecord] | None:
        found = (
            (rid, v) for rid, r in self.store.rounds.items() for v in r.votes if v.idempotency_key == idempotency_key
        )
        return next(found, None)

    def supersede_votes(self, round_id: UUID, *, now: datetime) -> int:
        votes = self.store.rounds[round_id].votes
        self._update(round_id, votes=tuple(v.model_copy(update={"superseded": True}) for v in votes))
        return sum(1 for v in votes if not v.superseded)

    def refresh_round(
        self, round_id: UUID, *, review_id: UUID, evidence_hash: str, evidence_version: int, now: datetime
    ) -> None:
        self._update(round_id, review_id=review_id, evidence_hash=evidence_hash, evidence_version=evidence_version)
        self._set_review_status(review_id, ReviewStatus.AWAITING_APPROVAL)

    def replace_seats(self, round_id: UUID, seats: Sequence[dict[str, Any]], approvers: Sequence[str]) -> None:
        self._update(round_id, seats=tuple(seats), approvers=tuple(approvers))

    def close_seats(self, round_: RoundSnapshot, seats: Sequence[str]) -> None:
        self._update(round_.id, closed_seats=tuple(sorted({*round_.closed_seats, *seats})))

    def list_rounds(self, *, status: RoundStatus | None = None, person_id: str | None = None) -> list[RoundSnapshot]:
        return [
            r
            for r in sorted(self.store.rounds.values(), key=lambda r: r.opened_at)
            if (status is None or r.status is status) and (person_id is None or person_id in r.approvers)
        ]

    def unapplied_rounds(self) -> list[UUID]:
        return [r.id for r in self.list_rounds(status=RoundStatus.RESOLVED) if r.applied_at is None]

    def resolve_round(
        self, round_: RoundSnapshot, *, decision: Decision, decided_by: Sequence[str], reason: str, now: datetime
    ) -> None:
        self._update(round_.id, status=RoundStatus.RESOLVED, decision=decision, resolved_at=now)
        self.store.decisions.append(
            (
                round_.project_key,
                DecisionRecord(
                    round_id=round_.id,
                    gate_id=round_.gate_id,
                    decision=decision,
                    decided_by=tuple(decided_by),
                    decided_at=now,
                    reason=reason,
                ),
            )
        )
        self._set_review_status(round_.review_id, ReviewStatus.DECIDED)

    def cancel_round(self, round_id: UUID, review_id: UUID, *, now: datetime) -> None:
        self._update(round_id, status=RoundStatus.CANCELLED, resolved_at=now)
        self._set_review_status(review_id, ReviewStatus.CANCELLED)

    def mark_round_applied(self, round_id: UUID, *, now: datetime) -> None:
        self._update(round_id, applied_at=now)

    def decision_history(self, project_key: str) -> list[DecisionRecord]:
        return sorted((d for k, d in self.store.decisions if k == project_key), key=lambda d: d.decided_at)

    def _update(self, round_id: UUID, **values: Any) -> None:
        self.store.rounds[round_id] = self.store.rounds[round_id].model_copy(update=values)


class FakeLessons:
    """Lessons numbered 1, 2, 3 as the database numbers them; search matches every term as a substring of
    ``LessonRecord.search_text`` (the SQL ranking by trigram similarity is not imitated: newest first)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add_lesson(self, record: LessonRecord) -> int:
        lesson_id = max(self.store.lessons, default=0) + 1
        self.store.lessons[lesson_id] = record.model_copy(update={"id": lesson_id})
        return lesson_id

    def update_lesson(self, record: LessonRecord) -> None:
        edited = ("category", "tags", "what_happened", "repeat", "avoid", "edited_at", "edited_by")
        found = self.store.lessons[record.id]
        self.store.lessons[record.id] = found.model_copy(update={name: getattr(record, name) for name in edited})

    def get_lesson(self, lesson_id: int, *, for_update: bool = False) -> LessonRecord | None:
        return self.store.lessons.get(lesson_id)

    def lessons(
        self,
        *,
        project_key: str | None = None,
        template_id: str | None = None,
        category: LessonCategory | None = None,
    ) -> list[LessonRecord]:
        return [
            lesson
            for _, lesson in sorted(self.store.lessons.items())
            if (project_key is None or lesson.project_key == project_key)
            and (template_id is None or lesson.template_id == template_id)
            and (category is None or lesson.category is category)
        ]

    def candidates(self) -> list[Candidate]:
        return [candidate(lesson) for lesson in self.lessons()]

    def lessons_by_id(self, lesson_ids: Collection[int]) -> dict[int, LessonRecord]:
        return {i: self.store.lessons[i] for i in lesson_ids if i in self.store.lessons}

    def read_ahead_register_stamp(self) -> None:
        pass

    def read_ahead_has_lessons(self, round_id: UUID) -> None:
        pass

    def has_lessons(self, key: str) -> bool:
        return bool(self.lessons(project_key=key))

    def search_lessons(self, query: str, *, limit: int = 50) -> list[LessonRecord]:
        terms = list(dict.fromkeys(query.lower().split()))
        found = [lesson for lesson in self.lessons() if terms and all(t in lesson.search_text() for t in terms)]
        return found[::-1][:limit]

    def record_lesson_uses(self, uses: Sequence[LessonUseRecord]) -> int:
        added = 0
        for use in uses:
            same = (use.lesson_id, use.review_id, use.kind, use.person_id)
            if not any((u.lesson_id, u.review_id, u.kind, u.person_id) == same for u in self.store.lesson_uses):
                self.store.lesson_uses.append(use)
                added += 1
        return added

    def lesson_uses(self, *, lesson_id: int | None = None, project_key: str | None = None) -> list[LessonUseRecord]:
        return [
            u
            for u in sorted(self.store.lesson_uses, key=lambda u: (u.at, u.lesson_id))
            if (lesson_id is None or u.lesson_id == lesson_id) and (project_key is None or u.project_key == project_key)
        ]

    def open_lesson_due(self, record: LessonDueRecord) -> bool:
        if record.project_key in self.store.lessons_owed:
            return False
        self.store.lessons_owed[record.project_key] = record
        return True

    def lessons_due(self, *, open_only: bool = True, owner_id: str | None = None) -> list[LessonDueRecord]:
        return [
            d
            for d in sorted(self.store.lessons_owed.values(), key=lambda d: d.opened_at)
            if (not open_only or d.resolved_at is None) and (owner_id is None or d.owner_id == owner_id)
        ]

    def resolve_lesson_due(self, project_key: str, *, lesson_id: int, now: datetime) -> bool:
        owed = self.store.lessons_owed.get(project_key)
        if owed is None or owed.resolved_at is not None:
            return False
        self.store.lessons_owed[project_key] = owed.model_copy(update={"resolved_at": now, "lesson_id": lesson_id})
        return True


class FakeTolerances:
    """Tolerances (one per project, scope and dimension: setting one again replaces it), exceptions (the n-th on a
    project, scope and dimension is unique, so raising it twice is a no-op) and the RAG history (one row per
    project, day and dimension, the later write winning), as ``models.repositories.tolerances`` keeps them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def tolerances(self, project_key: str) -> list[ToleranceRecord]:
        return [record for (key, _, _), record in sorted(self.store.tolerances.items()) if key == project_key]

    def put_tolerance(self, record: ToleranceRecord) -> None:
        stored = record.model_copy(update={"percent": plain(record.percent), "amount": plain(record.amount)})
        self.store.tolerances[(record.project_key, record.scope, record.dimension.value)] = stored

    def latest_exception(self, project_key: str, scope: str, dimension: str) -> ToleranceException | None:
        mine = [
            e
            for e in self.store.exceptions.values()
            if (e.project_key, e.scope, e.dimension) == (project_key, scope, dimension)
        ]
        return max(mine, key=lambda e: e.seq, default=None)

    def add_exceptions(self, records: Sequence[ToleranceException]) -> set[UUID]:
        inserted: set[UUID] = set()
        for record in records:
            same = (record.project_key, record.scope, record.dimension, record.seq)
            if record.id in self.store.exceptions or any(
                (e.project_key, e.scope, e.dimension, e.seq) == same for e in self.store.exceptions.values()
            ):
                continue  # the unique key (project, scope, dimension, seq): another scan raised it first
            self.store.exceptions[record.id] = record.model_copy(
                update={
                    "baseline": money(record.baseline),
                    "forecast": money(record.forecast),
                    "allowance": money(record.allowance),
                    "deviation": money(record.deviation),
                    "decision": None,
                }
            )
            inserted.add(record.id)
        return inserted

    def get_exception(self, exception_id: UUID, *, for_update: bool = False) -> ToleranceException | None:
        return self.store.exceptions.get(exception_id)

    def close_exception(self, exception_id: UUID, *, decision: str, by: str, reason: str, now: datetime) -> None:
        found = self.store.exceptions[exception_id]
        self.store.exceptions[exception_id] = found.model_copy(
            update={
                "status": "closed",
                "decision": ExceptionDecision(decision),
                "decided_by": by,
                "decided_at": now,
                "reason": reason,
            }
        )

    def exceptions(self, *, project_key: str | None = None, status: str | None = None) -> list[ToleranceException]:
        found = [
            e
            for e in self.store.exceptions.values()
            if (project_key is None or e.project_key == project_key) and (status is None or e.status == status)
        ]
        found.sort(key=lambda e: e.project_key)
        return sorted(found, key=lambda e: e.raised_at, reverse=True)  # newest first, then by project (stable)

    def record_rag(self, rows: Sequence[RagRow], *, now: datetime) -> int:
        for row in rows:
            stored = row.model_copy(
                update={"deviation": _money_or_none(row.deviation), "allowance": _money_or_none(row.allowance)}
            )
            self.store.rag[(row.project_key, row.as_of, row.dimension)] = stored
        return len(rows)

    def rag_history(self, project_key: str) -> list[RagRow]:
        return [row for (key, _, _), row in sorted(self.store.rag.items()) if key == project_key]


def _active(store: Store, keys: Sequence[str]) -> list[ProjectSnapshot]:
    return [
        store.projects[key]
        for key in sorted(set(keys))
        if key in store.projects and store.projects[key].status is ProjectStatus.ACTIVE
    ]


def _bac(store: Store, project: ProjectSnapshot) -> Decimal:
    """The baseline's BAC, else the charter budget (``coalesce(baselines.bac, projects.budget)``)."""
    baseline = store.baselines.get(project.key)
    return baseline.bac if baseline is not None else project.budget


def _planned_at(store: Store, key: str, as_of: date) -> Decimal | None:
    """The cumulative planned value of the last baseline period ending on or before ``as_of``."""
    due = [value for end, value in sorted(store.baseline_periods.get(key, [])) if end <= as_of]
    return due[-1] if due else None


class FakeMonitoring:
    """The portfolio monitor's read model (``models.repositories.monitoring``), computed from the store's rows."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def monitor_inputs(self, keys: Sequence[str], as_of: date) -> list[MonitorInput]:
        from phasegate.gates.risk import CLOSED_STATUSES

        store = self.store
        found = []
        for project in _active(store, keys):
            key = project.key
            bac = _bac(store, project)
            reports = [r for (k, day), r in sorted(store.evm_reports.items()) if k == key and day <= as_of]
            report = reports[-1] if reports else None
            evm = None
            if report is not None:
                planned = report.planned_value
                if planned is None:
                    planned = _planned_at(store, key, report.as_of)
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
                    evm = None
            risks = [(risk, store.risk_updated.get((k, rid))) for (k, rid), risk in store.risks.items() if k == key]
            live = [r.probability * r.impact for r, _ in risks if r.status.strip().lower() not in CLOSED_STATUSES]
            changed = [at for _, at in risks if at is not None]
            roles: dict[str, tuple[str, ...]] = {
                role: tuple(sorted(people)) for role, people in sorted(store.project_roles.get(key, {}).items())
            }
            latest: dict[str, ToleranceException] = {}
            for exception in store.exceptions.values():
                at = f"{exception.scope}:{exception.dimension.value}"
                if exception.project_key == key and (at not in latest or exception.seq > latest[at].seq):
                    latest[at] = exception
            history: dict[str, list[Decimal]] = {}
            for (k, day, dimension), row in sorted(store.rag.items()):
                recent = as_of - timedelta(days=HISTORY_DAYS) <= day < as_of
                if k == key and recent and row.deviation is not None:
                    history.setdefault(dimension, []).append(row.deviation)
            found.append(
                MonitorInput(
                    project=project,
                    bac=bac,
                    evm=evm,
                    test_pass_rate=report.test_pass_rate if report is not None else None,
                    acceptance=report.acceptance if report is not None else None,
                    plan=tuple(sorted(store.baseline_periods.get(key, []))),
                    risks=len(risks),
                    worst_risk=max(live, default=None),
                    risks_changed=max(changed).date() if changed else None,
                    tolerances=tuple(FakeTolerances(store).tolerances(key)),
                    roles={"sponsor": (project.sponsor_id,), "manager": (project.manager_id,)} | roles,
                    latest_exceptions=latest,
                    history={d: tuple(v[-2:]) for d, v in history.items()},
                )
            )
        return found

    def gate_schedule(self, keys: Sequence[str]) -> list[tuple[ProjectSnapshot, dict[str, date]]]:
        return [
            (
                project,
                {m.id: m.due for (k, _), m in self.store.milestones.items() if k == project.key and m.done_on is None},
            )
            for project in _active(self.store, keys)
        ]


def _utc_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class FakeReports:
    """Gate analytics and portfolio report facts (``models.repositories.reports``), computed from the store's
    rows, and the report runs whose (kind, period) key makes distribution exactly once."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def gate_facts(self) -> GateFacts:
        from phasegate.gates.analytics import ConditionFact, GateFacts, ProjectFact, ReviewCount, RoundFact

        store = self.store
        template_of = {key: p.template_id for key, p in store.projects.items()}
        reviews = Counter(
            (template_of[r.project_key], r.gate_id, r.requested_by is None) for r in store.reviews.values()
        )
        return GateFacts(
            rounds=tuple(
                RoundFact(
                    project_key=r.project_key,
                    template_id=template_of[r.project_key],
                    gate_id=r.gate_id,
                    opened_at=r.opened_at,
                    due_at=r.due_at,
                    resolved_at=r.resolved_at if r.status is RoundStatus.RESOLVED else None,
                    decision=r.decision if r.status is RoundStatus.RESOLVED else None,
                )
                for r in store.rounds.values()
                if r.status is not RoundStatus.CANCELLED
            ),
            reviews=tuple(ReviewCount(t, g, automatic, n) for (t, g, automatic), n in sorted(reviews.items())),
            conditions=tuple(
                ConditionFact(
                    template_of[c.project_key], c.gate_id, c.due_on, c.status, store.condition_resolved.get(c.id)
                )
                for c in store.conditions.values()
            ),
            projects=tuple(
                ProjectFact(p.key, p.template_id, p.template_version, store.project_created[p.key])
                for p in store.projects.values()
            ),
        )

    def portfolio_facts(self, start: date, end: date) -> PortfolioFacts:
        from phasegate.gates import portfolio as pf

        store = self.store
        since, until = _utc_day(start), _utc_day(end) + timedelta(days=1)
        people = store.people
        scores: dict[str, list[int]] = {}
        for (key, _, _, _), value in store.scores.items():
            scores.setdefault(key, []).append(value)
        latest_rag: dict[tuple[str, str], RagRow] = {}
        for (key, day, dimension), row in sorted(store.rag.items()):
            if day <= end:
                latest_rag[(key, dimension)] = row
        return pf.PortfolioFacts(
            projects=tuple(
                pf.ProjectFact(
                    p.key,
                    p.name,
                    p.template_id,
                    p.template_version,
                    p.status.value,
                    p.stage_id,
                    p.sponsor_id,
                    people[p.sponsor_id].name if p.sponsor_id in people else p.sponsor_id,
                    _bac(store, p),
                )
                for p in store.projects.values()
            ),
            evm=tuple(
                pf.EvmFact(
                    r.project_key,
                    r.as_of,
                    r.planned_value if r.planned_value is not None else _planned_at(store, r.project_key, r.as_of),
                    r.earned_value,
                    r.actual_cost,
                )
                for r in store.evm_reports.values()
                if r.as_of <= end
            ),
            open_rounds=tuple(
                pf.OpenRoundFact(r.project_key, r.gate_id, r.due_at)
                for r in sorted(store.rounds.values(), key=lambda r: r.opened_at)
                if r.status is RoundStatus.OPEN
            ),
            open_conditions=dict(Counter(c.project_key for c in store.conditions.values() if c.status == "open")),
            decisions=tuple(
                pf.DecisionFact(key, d.gate_id, d.decision.value, d.decided_at, tuple(d.decided_by), d.reason)
                for key, d in store.decisions
                if since <= d.decided_at < until
            ),
            risks=tuple(
                pf.RiskFact(key, r.id, r.title, r.owner, r.probability, r.impact)
                for (key, _), r in store.risks.items()
                if r.status == "open"
            ),
            value_scores={key: sum(values) / len(values) for key, values in scores.items()},
            rag=tuple(pf.RagFact(r.project_key, r.dimension, r.as_of, r.rag) for r in latest_rag.values()),
            open_exceptions=dict(Counter(e.project_key for e in store.exceptions.values() if e.status == "open")),
            exceptions=tuple(
                pf.ExceptionFact(
                    e.project_key,
                    e.dimension.value,
                    e.scope,
                    e.level.value,
                    e.owner_id,
                    e.baseline,
                    e.forecast,
                    e.allowance,
                    e.deviation,
                    e.raised_at,
                    e.status,
                    None if e.decision is None else e.decision.value,
                    e.decided_at,
                    e.decided_by,
                )
                for e in store.exceptions.values()
                if since <= e.raised_at < until or (e.decided_at is not None and since <= e.decided_at < until)
            ),
        )

    def report_run(self, kind: str, period: str) -> ReportRunRecord | None:
        return self.store.report_runs.get((kind, period))

    def add_report_run(self, record: ReportRunRecord) -> bool:
        if (record.kind, record.period) in self.store.report_runs:
            return False  # the primary key (kind, period): the period is claimed already
        self.store.report_runs[(record.kind, record.period)] = record
        return True

    def set_report_notifications(self, kind: str, period: str, count: int) -> None:
        found = self.store.report_runs.get((kind, period))
        if found is not None:  # an UPDATE of no row changes nothing
            self.store.report_runs[(kind, period)] = found.model_copy(update={"notifications": count})


class FakeStrategy:
    """Prioritisation's and the maturity score's read models (``models.repositories.strategy``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def priority_facts(self) -> tuple[PriorityFact, ...]:
        from phasegate.gates.prioritisation import PriorityFact

        store = self.store
        facts = []
        for key, project in sorted(store.projects.items()):
            reported = [
                r.actual_cost
                for (k, _), r in sorted(store.evm_reports.items())
                if k == key and r.actual_cost is not None
            ]
            scores = [value for (k, _, _, _), value in store.scores.items() if k == key]
            facts.append(
                PriorityFact(
                    key=key,
                    name=project.name,
                    status=project.status.value,
                    bac=_bac(store, project),
                    expected_benefit=project.expected_benefit,
                    actual_cost=reported[-1] if reported else None,
                    score=sum(scores) / len(scores) if scores else None,
                )
            )
        return tuple(facts)

    def maturity_facts(self) -> MaturityFacts:
        from phasegate.gates.maturity import (
            LessonUseFact,
            LifeFact,
            MaturityFacts,
            MilestoneFact,
            ReviewFact,
            documentation_compliant,
        )

        store = self.store
        return MaturityFacts(
            reviews=tuple(
                ReviewFact(
                    str(rid), r.project_key, r.gate_id, r.created_at, documentation_compliant(r.evaluation or {})
                )
                for rid, r in store.reviews.items()
            ),
            milestones=tuple(MilestoneFact(key, m.id, m.due) for (key, _), m in store.milestones.items()),
            lives=tuple(
                LifeFact(key, store.project_created[key], store.project_closed.get(key)) for key in store.projects
            ),
            status_reports=tuple((key, day) for key, day in store.evm_reports),
            exceptions=tuple((e.project_key, e.raised_at) for e in store.exceptions.values()),
            lesson_uses=tuple(
                LessonUseFact(review, kind)
                for review, kind in dict.fromkeys((str(u.review_id), u.kind.value) for u in store.lesson_uses)
            ),
        )


class FakeResources:
    """Resource profiles and capacity overrides (upserts), demand lines (replaced per project and stage) and
    HOLD-queue priorities, as ``models.repositories.resources`` keeps them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put_resource_profile(self, profile: ResourceProfile, *, now: datetime) -> None:
        self.store.resource_profiles[profile.person_id] = profile.model_copy(update={"set_at": now})

    def resource_profiles(self, *, role: str | None = None) -> list[ResourceProfile]:
        return [p for _, p in sorted(self.store.resource_profiles.items()) if role is None or p.role == role]

    def put_capacity_override(self, override: CapacityOverride, *, now: datetime) -> None:
        self.store.capacity_overrides[(override.person_id, override.month)] = override.model_copy(
            update={"set_at": now}
        )

    def clear_capacity_override(self, person_id: str, month: date) -> bool:
        return self.store.capacity_overrides.pop((person_id, month), None) is not None

    def capacity_overrides(self, first: date, last: date) -> list[CapacityOverride]:
        return [o for (_, month), o in sorted(self.store.capacity_overrides.items()) if first <= month <= last]

    def replace_demand(
        self, scopes: Sequence[tuple[str, str]], lines: Sequence[DemandLine], *, by: str, now: datetime
    ) -> int:
        replaced = set(scopes)
        kept = [line for line in self.store.demand if (line.project_key, line.stage_id) not in replaced]
        self.store.demand = [*kept, *lines]
        return len(lines)

    def demand(
        self, *, project_key: str | None = None, first: date | None = None, last: date | None = None
    ) -> list[DemandLine]:
        found = [
            line
            for line in self.store.demand
            if (project_key is None or line.project_key == project_key)
            and (first is None or line.month >= first)
            and (last is None or line.month <= last)
        ]
        # ORDER BY project, stage, role, month, person: a line for no one in particular first, as SQLite sorts NULL
        return sorted(
            found,
            key=lambda d: (d.project_key, d.stage_id, d.role, d.month, d.person_id is not None, d.person_id or ""),
        )

    def project_stages(self, keys: Sequence[str]) -> dict[str, tuple[ProjectStatus, str]]:
        projects = self.store.projects
        return {key: (projects[key].status, projects[key].stage_id) for key in sorted(set(keys)) if key in projects}

    def put_priority(self, record: PriorityRecord, *, now: datetime) -> None:
        self.store.priorities[record.project_key] = record.model_copy(update={"set_at": now})

    def priorities(self) -> dict[str, int]:
        return {key: record.priority for key, record in self.store.priorities.items()}


def _shared(store: Store) -> dict[int, Any]:
    """A deepcopy memo that keeps the published templates as they are: a version never changes once stored (a
    frozen model, replaced never edited), and copying their trees was most of what a fake transaction cost."""
    return {id(stored): stored for stored in store.templates.values()}


class FakeUnitOfWork:
    """One transaction over a copy of ``store``; ``commit()`` puts the copy back.

    ``org_route`` (tags -> the organisation's target URLs) and ``org_locale`` are ``SqlUnitOfWork``'s: without a
    route an organisation notice queues nothing, with one it becomes one outbox row per target."""

    def __init__(
        self, store: Store, *, org_route: Callable[[Sequence[str]], list[str]] | None = None, org_locale: str = "en"
    ) -> None:
        self.store = store
        self.org_route = org_route
        self.org_locale = org_locale

    def __enter__(self) -> Self:
        self.working = copy.deepcopy(self.store, _shared(self.store))
        self.people = FakePeople(self.working)
        self.templates = FakeTemplates(self.working)
        self.projects = FakeProjects(self.working)
        self.delegations = FakeDelegations(self.working)
        self.conditions = FakeConditions(self.working)
        self.evidence = FakeEvidence(self.working)
        self.reviews = FakeReviews(self.working)
        self.lessons = FakeLessons(self.working)
        self.tolerances = FakeTolerances(self.working)
        self.monitoring = FakeMonitoring(self.working)
        self.reports = FakeReports(self.working)
        self.strategy = FakeStrategy(self.working)
        self.resources = FakeResources(self.working)
        return self

    def __exit__(self, *exc: object) -> None:
        del self.working

    def together(self) -> AbstractContextManager[None]:
        return nullcontext()

    def commit(self) -> None:
        shared = _shared(self.working)
        for name in vars(self.store):
            setattr(self.store, name, copy.deepcopy(getattr(self.working, name), shared))

    def append_audit(self, *, actor: str, action: str, entity: str, payload: dict[str, Any], at: datetime) -> None:
        self.working.audit.append({"actor": actor, "action": action, "entity": entity, "payload": payload, "at": at})

    def count_refusals(self, *, person_id: str, code: str, since: datetime) -> int:
        return sum(
            1
            for e in self.working.audit
            if e["action"] == "security.refused"
            and e["at"] >= since
            and e["payload"].get("code") == code
            and e["payload"].get("person") == person_id
        )

    def enqueue(self, items: Sequence[OutboxRequest], *, now: datetime) -> int:
        rows = [row for item in items for row in self._expand(item)]
        self.working.outbox.extend(rows)
        return len(rows)

    def _expand(self, item: OutboxRequest) -> list[OutboxRequest]:
        """A personal request is one row; an organisation notice one row per tagged target (``SqlUnitOfWork``)."""
        if item.target:
            return [item]
        if self.org_route is None or not item.tags:
            return []
        return [
            item.model_copy(
                update={
                    "target": url,
                    "locale": self.org_locale,
                    "idempotency_key": f"{item.idempotency_key}:{hashlib.sha256(url.encode()).hexdigest()[:16]}",
                }
            )
            for url in self.org_route(item.tags)
        ]

    def steps_taken(self, subject: str) -> frozenset[str]:
        return frozenset(step for s, step in self.working.steps if s == subject)

    def record_steps(self, subject: str, steps: Sequence[str], *, now: datetime) -> None:
        self.working.steps.update((subject, step) for step in steps)

    def claim_step(self, subject: str, step: str, *, now: datetime) -> bool:
        if (subject, step) in self.working.steps:
            return False
        self.working.steps.add((subject, step))
        return True


def _conforms(
    store: Store,
) -> tuple[
    UnitOfWork,
    PeopleRepository,
    TemplateRepository,
    ProjectRepository,
    EvidenceRepository,
    ReviewRepository,
    LessonRepository,
    DelegationRepository,
    ConditionRepository,
    ToleranceRepository,
    MonitoringReads,
    ReportRepository,
    StrategyReads,
    ResourceRepository,
]:
    """Never called: ``make typecheck`` (mypy --strict on this file) proves each fake implements its port and the
    unit of work all of them."""
    return (
        FakeUnitOfWork(store),
        FakePeople(store),
        FakeTemplates(store),
        FakeProjects(store),
        FakeEvidence(store),
        FakeReviews(store),
        FakeLessons(store),
        FakeDelegations(store),
        FakeConditions(store),
        FakeTolerances(store),
        FakeMonitoring(store),
        FakeReports(store),
        FakeStrategy(store),
        FakeResources(store),
    )


def publish_shipped(store: Store, *, now: datetime) -> None:
    """Every shipped lifecycle template in ``store``, as ``phasegate db upgrade`` publishes them."""
    with FakeUnitOfWork(store) as tx:
        for _, template in shipped_templates():
            tx.templates.add_template(template, content_hash=template_content_hash(template), source="test", now=now)
        tx.commit()

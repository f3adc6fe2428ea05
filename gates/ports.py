"""What the use cases need from storage, as protocols: services depend on these, adapters implement them.

Keeping the ports here lets `gates/` stay free of SQLAlchemy while services still own the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, Self
from uuid import UUID

from models.enums import (
    Decision,
    ProjectStatus,
    Recommendation,
    ReviewStatus,
)
from models.evidence import DocumentEvidence
from models.snapshots import (
    DecisionRecord,
    OutboxRequest,
    PersonSnapshot,
    ProjectSnapshot,
    RoundSnapshot,
    StoredTemplate,
)
from models.template import LifecycleTemplate


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls everything back."""

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...

    # people
    def get_person(self, person_id: str) -> PersonSnapshot | None: ...
    def add_person(self, person: PersonSnapshot, *, now: datetime) -> None: ...

    # templates
    def get_template(self, template_id: str, version: int | None = None) -> StoredTemplate | None: ...
    def list_templates(self) -> list[StoredTemplate]: ...
    def add_template(self, template: LifecycleTemplate, *, content_hash: str, source: str, now: datetime) -> None: ...

    # projects
    def get_project(self, key: str, *, for_update: bool = False) -> ProjectSnapshot | None: ...
    def add_project(self, project: ProjectSnapshot, *, now: datetime) -> None: ...
    def list_projects(self) -> list[ProjectSnapshot]: ...
    def update_project_state(
        self, key: str, *, status: ProjectStatus, stage_id: str, recycle_count: int, now: datetime
    ) -> None: ...

    # evidence
    def latest_documents(self, key: str) -> list[DocumentEvidence]: ...
    def next_document_version(self, key: str, deliverable_id: str) -> int: ...
    def add_document(
        self, key: str, document: DocumentEvidence, *, approved_at: datetime | None, now: datetime
    ) -> UUID: ...
    def total_actual_cost(self, key: str) -> Decimal: ...
    def add_cost(self, key: str, amount: Decimal, *, note: str, now: datetime) -> UUID: ...

    # reviews, rounds, votes, decisions
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
    ) -> UUID: ...
    def set_review_status(self, review_id: UUID, status: ReviewStatus) -> None: ...
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
    ) -> UUID: ...
    def get_round(self, round_id: UUID, *, for_update: bool = False) -> RoundSnapshot | None: ...
    def open_rounds(self, project_key: str) -> list[RoundSnapshot]: ...
    def add_vote(
        self, round_id: UUID, *, voter_id: str, decision: Decision, reason: str, evidence_hash: str, now: datetime
    ) -> UUID: ...
    def resolve_round(self, round_id: UUID, *, decision: Decision, decided_by: Sequence[str], reason: str,
                      now: datetime) -> None: ...
    def mark_round_applied(self, round_id: UUID, *, now: datetime) -> None: ...
    def decision_history(self, project_key: str) -> list[DecisionRecord]: ...

    # cross-cutting
    def append_audit(self, *, actor: str, action: str, entity: str, payload: dict[str, Any], at: datetime) -> None: ...
    def enqueue(self, items: Sequence[OutboxRequest], *, now: datetime) -> int: ...

"""Frozen Pydantic snapshots: what the pure domain reads and returns. No ORM rows cross this line."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from models.enums import (
    CriterionKind,
    Decision,
    ProjectStatus,
    Recommendation,
    RoundStatus,
)
from models.template import LifecycleTemplate


class Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True)


class PersonSnapshot(Snapshot):
    id: str
    name: str
    email: str
    locale: str
    notify_urls: tuple[str, ...] = ()


class ProjectSnapshot(Snapshot):
    key: str
    name: str
    template_id: str
    template_version: int
    template_hash: str
    sponsor_id: str
    manager_id: str
    budget: Decimal
    currency: str
    status: ProjectStatus
    stage_id: str
    recycle_count: int


class CriterionResult(Snapshot):
    """One criterion's verdict with the evidence and the fix, in both languages."""

    code: str
    kind: CriterionKind
    remediable: bool
    passed: bool
    evidence_missing: bool = False
    measured: str | None = None
    threshold: str | None = None
    message: str
    message_zh: str
    remediation: str = ""
    remediation_zh: str = ""
    evidence_ref: str = ""


class DeliverableStatus(Snapshot):
    id: str
    present: bool
    approved: bool
    version: int | None = None
    sha256: str | None = None


class Evaluation(Snapshot):
    project_key: str
    gate_id: str
    recommendation: Recommendation
    reasons: tuple[str, ...]
    criteria: tuple[CriterionResult, ...]
    required_deliverables: tuple[DeliverableStatus, ...]
    evidence_hash: str


class VoteRecord(Snapshot):
    voter_id: str
    decision: Decision
    reason: str
    cast_at: datetime


class RoundSnapshot(Snapshot):
    id: UUID
    review_id: UUID
    project_key: str
    gate_id: str
    policy: str
    approvers: tuple[str, ...]
    evidence_hash: str
    status: RoundStatus
    decision: Decision | None
    opened_at: datetime
    resolved_at: datetime | None
    applied_at: datetime | None
    votes: tuple[VoteRecord, ...] = ()


class StoredTemplate(Snapshot):
    template: LifecycleTemplate
    content_hash: str
    published_at: datetime


class DecisionRecord(Snapshot):
    round_id: UUID
    gate_id: str
    decision: Decision
    decided_by: tuple[str, ...]
    decided_at: datetime
    reason: str


class OutboxRequest(Snapshot):
    """A notification to queue: one recipient target, keyed so a retried transaction cannot queue it twice."""

    idempotency_key: str
    kind: str
    recipient_id: str | None
    target: str
    locale: str
    context: dict[str, Any]


class BaselineRecord(Snapshot):
    bac: Decimal
    contingency: Decimal | None = None
    contingency_used: Decimal | None = None


class EvmReportRecord(Snapshot):
    """A dated status report as stored: any figure may be missing (``None``), which is not zero."""

    project_key: str
    as_of: date
    planned_value: Decimal | None = None
    earned_value: Decimal | None = None
    actual_cost: Decimal | None = None
    estimate_to_complete: Decimal | None = None

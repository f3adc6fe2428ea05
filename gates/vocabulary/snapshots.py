"""Frozen Pydantic snapshots: what the pure domain reads and returns. No ORM rows cross this line."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from phasegate.gates.vocabulary.enums import (
    BallotKind,
    CriterionKind,
    Decision,
    ProjectStatus,
    Recommendation,
    RoundStatus,
)
from phasegate.gates.vocabulary.evidence import DocumentEvidence, MilestoneEvidence, RiskEvidence, ScoreEvidence
from phasegate.gates.vocabulary.identity import OrgRole
from phasegate.gates.vocabulary.template import LifecycleTemplate


class Snapshot(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)


class PersonSnapshot(Snapshot):
    id: str
    name: str
    email: str
    locale: str
    notify_urls: tuple[str, ...] = ()
    login: str | None = None
    roles: frozenset[OrgRole] = frozenset()
    disabled: bool = False


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
    evidence_version: int = 0
    closed: bool = False
    expected_benefit: Decimal | None = None
    """Expected benefit from the charter (money), for prioritisation; None: not estimated."""


class ProjectQuery(Snapshot):
    """Which projects to list: optional filters and a page (``limit`` None means all)."""

    status: ProjectStatus | None = None
    stage_id: str | None = None
    template_id: str | None = None
    limit: int | None = Field(default=None, ge=1)
    offset: int = Field(default=0, ge=0)
    after: str | None = Field(default=None, min_length=1, max_length=64)
    """Keyset paging: only projects whose key sorts after this one (the last key of the previous page), so a
    client walking 10,000 projects pays the same per page at the end as at the start (an offset is skipped row
    by row)."""


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

    @property
    def result(self) -> str:
        """pass, fail, or missing_evidence (which makes a gate NOT_READY rather than failed)."""
        return "pass" if self.passed else ("missing_evidence" if self.evidence_missing else "fail")


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


class ConditionSpec(Snapshot):
    """A condition attached to a CONDITIONAL_GO vote."""

    text: str
    owner_id: str
    due_on: date
    verification: str = Field(description="A criterion code, or 'verifier:PERSON' for a named verifier.")


class VoteRecord(Snapshot):
    id: UUID | None = None
    voter_id: str
    signer_id: str = ""
    kind: BallotKind = BallotKind.VOTE
    decision: Decision | None
    reason: str
    cast_at: datetime
    evidence_hash: str = ""
    conditions: tuple[ConditionSpec, ...] = ()
    superseded: bool = False
    idempotency_key: str | None = None

    @property
    def on_behalf(self) -> bool:
        return bool(self.signer_id) and self.signer_id != self.voter_id

    @property
    def signature(self) -> str:
        """How the act reads everywhere: "bob" or "bob on behalf of alice"."""
        return f"{self.signer_id} on behalf of {self.voter_id}" if self.on_behalf else self.voter_id


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
    seats: tuple[dict[str, Any], ...] = ()
    policy_spec: dict[str, Any] = Field(default_factory=dict)
    requested_by: str | None = None
    closed_seats: tuple[str, ...] = ()
    evidence_version: int = 0
    due_at: datetime | None = None

    @property
    def live_votes(self) -> tuple[VoteRecord, ...]:
        return tuple(v for v in self.votes if not v.superseded)


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
    target: str = Field(description="One Apprise URL; empty for an organisation notice routed by ``tags``.")
    locale: str
    context: dict[str, Any]
    tags: tuple[str, ...] = Field(default=(), description="Organisation targets to reach (any of these tags).")


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
    defects: int | None = None
    test_pass_rate: Decimal | None = None
    """Share of tests passing, in percent (0-100)."""
    acceptance: Decimal | None = None
    """Share of deliverables accepted so far, in percent (0-100)."""


class EvidenceFigures(Snapshot):
    """A project's money as a review reads it: its baseline, the latest status report as of the review's date, the
    ledger in all and in the current stage (to the cent), and that stage's approved budget. One value so a store
    can read them in one statement (a review once spent four round trips on them)."""

    baseline: BaselineRecord | None
    report: EvmReportRecord | None
    spent: Decimal
    stage_spent: Decimal
    stage_budget: Decimal | None


class GateEvidenceReads(Snapshot):
    """What a review reads of a project's stored evidence for one gate: its latest documents, its figures, risks,
    milestones and the gate's scores. One value so a store can send the reads together (on PostgreSQL one round
    trip instead of five)."""

    documents: list[DocumentEvidence]
    figures: EvidenceFigures
    risks: list[RiskEvidence]
    milestones: list[MilestoneEvidence]
    scores: list[ScoreEvidence]


class DelegationRecord(Snapshot):
    id: UUID
    principal_id: str
    delegate_id: str
    valid_from: date
    valid_to: date
    template_id: str | None = None
    gate_id: str | None = None
    revoked: bool = False


class ConditionRecord(Snapshot):
    id: UUID
    project_key: str
    round_id: UUID
    gate_id: str
    text: str
    owner_id: str
    due_on: date
    verification: str
    status: str
    resolved_by: str | None = None


class ReportRunRecord(Snapshot):
    """A management report already sent for a period (``report_runs``)."""

    kind: str
    period: str
    created_at: datetime
    created_by: str
    document_sha256: str
    summary: dict[str, Any]
    notifications: int

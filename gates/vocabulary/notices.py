"""Typed notification payloads: what each kind of message says, one frozen model per kind.

Why typed: a message is rendered by the dispatcher minutes or days after the use case queued it, from the
outbox row's JSON. While the payload was a dict, a key spelled differently in one use case, or a value of the
wrong shape, surfaced only as a template error at send time (and a dead letter). Now the use case builds one
of these models (unknown keys are refused, values are checked), the outbox stores its JSON, and the renderer
validates the stored JSON against the same model before it renders, so old rows are checked too.

The JSON keeps the keys the use case set (``exclude_unset``): templates test optional keys with
``default(...)``, which a present ``None`` would not trigger.

Nested parts the templates read field by field are typed too (criteria, lessons, digest lines); the gate
packet stays a JSON object because its shape is the stored evaluation's (``gates.vocabulary.snapshots.Evaluation``)
and ``notifications.packet`` renders it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class Part(BaseModel):
    """A nested part of a payload: frozen, and an unknown key is an error rather than silently dropped."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class FileAttachment(Part):
    """A file a message carries to email targets (the portfolio report's PDF); ``notifications.email`` decodes
    it and names the item that is wrong."""

    name: str
    content_type: str
    content_base64: str


class Notice(Part):
    """The payload of one kind of notification (``kind`` names its templates); any kind may carry files."""

    kind: ClassVar[str]
    attachments: list[FileAttachment] = []

    def context(self) -> dict[str, Any]:
        """The JSON the outbox stores and the templates read."""
        return self.model_dump(mode="json", exclude_unset=True)


class CriterionLine(Part):
    """One criterion's result as a message lists it: the finding and, when it failed, the fix."""

    code: str
    passed: bool
    message: str
    message_zh: str | None = None
    remediation: str | None = None
    remediation_zh: str | None = None
    measured: Any = None
    threshold: Any = None
    evidence_missing: bool = False


class LessonShown(Part):
    """A lesson learned shown with a gate review (``gates.relevance`` chose it)."""

    id: int
    score: float
    project_key: str
    gate_id: str | None = None
    category: str
    tags: list[str] = []
    what_happened: str
    repeat: str | None = None
    avoid: str | None = None


class ReviewMeeting(Part):
    """The gate review meeting an approval request invites to (attached as an .ics invitation)."""

    starts_at: datetime
    duration_minutes: int | None = None
    location: str | None = None
    sequence: int | None = None


class ProjectNotice(Notice):
    project_key: str
    project_name: str


class GateNotice(ProjectNotice):
    """Every message about a project's gate names the project and the gate, in both languages."""

    gate_id: str | None = None
    gate_name: str
    gate_name_zh: str | None = None


class ApprovalRequested(GateNotice):
    """An approver is asked to vote: by command and, when links are configured, by a signed page link."""

    kind: ClassVar[str] = "approval_requested"
    round_id: str
    approver_name: str
    vote_command: str
    approval_url: dict[str, Any] | str | None = None
    recommendation: str | None = None
    criteria: list[CriterionLine] | None = None
    packet: dict[str, Any] | None = None
    lessons: list[LessonShown] | None = None
    review_meeting: ReviewMeeting | None = None
    requested_at: datetime | None = None  # when the round opened: the invitation's DTSTAMP
    due_at: str | None = None
    on_behalf_of: str | None = None


class Reminder(ApprovalRequested):
    """The request again, before and at its due time (business calendar)."""

    kind: ClassVar[str] = "reminder"
    overdue: bool = False


class Escalation(Reminder):
    """The request escalated up the ladder: level 1 is the first escalation."""

    kind: ClassVar[str] = "escalation"
    escalation_level: Annotated[int, Field(strict=True, ge=1)] = 1  # a stored "2" or true is a bug
    recipient_name: str | None = None


class DecisionMade(GateNotice):
    kind: ClassVar[str] = "decision_made"
    decision: str
    decided_by: str | list[str]
    reason: str
    new_stage: str | None = None
    new_stage_zh: str | None = None
    project_status: str


class LessonDue(GateNotice):
    """A killed or closed project owes its lessons learned."""

    kind: ClassVar[str] = "lesson_due"
    lesson_command: str


class GateNotReady(GateNotice):
    kind: ClassVar[str] = "gate_not_ready"
    criteria: list[CriterionLine] = []
    reasons: list[str] | None = None


class RoundCancelled(GateNotice):
    kind: ClassVar[str] = "round_cancelled"
    round_id: str
    reason: str


class ConditionDue(ProjectNotice):
    """A condition of a conditional go falls due (to its owner and the sponsor)."""

    kind: ClassVar[str] = "condition_due"
    condition: str
    condition_zh: str | None = None
    owner: str
    due_on: str
    verification: str
    gate_name: str | None = None
    gate_name_zh: str | None = None
    proposal: Literal["hold", "kill"] | None = None


class ConditionMissed(ConditionDue):
    """The condition was missed: the gatekeepers are told too, with what the engine proposes."""

    kind: ClassVar[str] = "condition_missed"


class EvidenceWarning(GateNotice):
    """Ahead of a gate date, the manager is told which evidence is still missing."""

    kind: ClassVar[str] = "gate_evidence_warning"
    gate_date: str
    working_days_left: int
    criteria: list[CriterionLine] = []


class ToleranceExceptionRaised(ProjectNotice):
    """A forecast breaches a tolerance: routed to the level that set it, who decides."""

    kind: ClassVar[str] = "tolerance_exception"
    exception_id: str
    dimension: str
    scope: str
    level: str
    owner: str
    baseline: str
    forecast: str
    allowance: str
    deviation: str
    currency: str
    """The unit the figures are in: the project's currency for cost, working days for time, % for quality."""
    unit_zh: str | None = None
    """The same unit in Chinese (the zh-CN notice; ``None``: the currency, as before)."""
    decide_command: str


class CapacityAvailable(ProjectNotice):
    """A project on hold whose next stage now fits the free capacity (the HOLD queue, ``usecases.hold_queue``)."""

    kind: ClassVar[str] = "capacity_available"
    next_stage: str
    next_stage_zh: str | None = None
    demand_hours: str
    rank: int
    resume_command: str


class DigestItem(Part):
    """A round waiting for the digest's reader."""

    project_key: str
    project_name: str
    gate_name: str
    gate_name_zh: str | None = None
    round_id: str
    waiting_days: int
    due_at: str
    approval_url: dict[str, Any] | str | None = None


class DigestCondition(Part):
    """An open condition the digest's reader owns."""

    project_key: str
    project_name: str
    condition: str
    condition_zh: str | None = None
    owner: str
    due_on: str
    verification: str


class WeeklyDigest(Notice):
    kind: ClassVar[str] = "weekly_digest"
    person_name: str
    items: list[DigestItem] = []
    conditions: list[DigestCondition] = []


class RagCounts(Part):
    green: int
    amber: int
    red: int
    unknown: int


class PortfolioReportReady(Notice):
    """The period's portfolio report, to management, with the PDF attached."""

    kind: ClassVar[str] = "portfolio_report"
    period: str
    period_start: str
    period_end: str
    projects: int
    active: int
    rag: RagCounts
    decisions: int
    open_conditions: int
    open_exceptions: int = 0
    """Tolerance exceptions open now, across the portfolio."""
    exceptions: int = 0
    """Tolerance exceptions raised or decided within the period."""
    report_url: str | None = None


NOTICES: dict[str, type[Notice]] = {
    kind.kind: kind
    for kind in (
        ApprovalRequested,
        Reminder,
        Escalation,
        DecisionMade,
        GateNotReady,
        ConditionDue,
        ConditionMissed,
        WeeklyDigest,
        RoundCancelled,
        PortfolioReportReady,
        ToleranceExceptionRaised,
        EvidenceWarning,
        LessonDue,
        CapacityAvailable,
    )
}
"""Every kind the dispatcher renders, by name (the order is the renderer's list of kinds)."""

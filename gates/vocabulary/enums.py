"""Closed vocabularies stored as strings (with check constraints) and shown to users."""

from __future__ import annotations

from enum import StrEnum


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    KILLED = "killed"
    COMPLETED = "completed"


class Decision(StrEnum):
    """What gatekeepers may decide at a gate (stage-gate vocabulary)."""

    GO = "go"
    CONDITIONAL_GO = "conditional_go"
    RECYCLE = "recycle"
    HOLD = "hold"
    KILL = "kill"


class Recommendation(StrEnum):
    """What the engine advises. NOT_READY is advice only and never a decision."""

    GO = "go"
    CONDITIONAL_GO = "conditional_go"
    NOT_READY = "not_ready"
    RECYCLE = "recycle"
    HOLD = "hold"
    KILL = "kill"


class ReviewStatus(StrEnum):
    NOT_READY = "not_ready"
    AWAITING_APPROVAL = "awaiting_approval"
    DECIDED = "decided"
    CANCELLED = "cancelled"  # its approval round was cancelled by an admin; nothing was decided


class RoundStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class DocumentStatus(StrEnum):
    REGISTERED = "registered"
    APPROVED = "approved"


class CriterionKind(StrEnum):
    MUST_MEET = "must_meet"
    SHOULD_MEET = "should_meet"


class ApprovalPolicyKind(StrEnum):
    """How approvers' votes combine (see docs/approvals.md)."""

    SINGLE = "single"
    ALL = "all"  # 会签: every approver must approve
    ANY = "any"  # 或签: any one approver decides
    M_OF_N = "m_of_n"
    PERCENTAGE = "percentage"
    PER_GROUP = "per_group"  # at least k from each named group
    SEQUENTIAL = "sequential"  # 依次审批: one after another, in order


class BallotKind(StrEnum):
    """What an approver's act means: a decision, or stepping aside with a reason."""

    VOTE = "vote"
    ABSTAIN = "abstain"
    RECUSE = "recuse"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    MAYBE_SENT = "maybe_sent"
    DEAD = "dead"


class Locale(StrEnum):
    EN = "en"
    ZH_CN = "zh-CN"


class LessonCategory(StrEnum):
    """What a lesson learned (经验教训) is about: the PMBOK knowledge areas a PMO files lessons under."""

    SCOPE = "scope"
    SCHEDULE = "schedule"
    COST = "cost"
    QUALITY = "quality"
    RISK = "risk"
    RESOURCES = "resources"
    STAKEHOLDERS = "stakeholders"
    PROCUREMENT = "procurement"
    TECHNICAL = "technical"
    GOVERNANCE = "governance"
    OTHER = "other"


class LessonUseKind(StrEnum):
    """How a lesson was used at a gate: shown in a review's packet, or marked applied by a gatekeeper."""

    SHOWN = "shown"
    APPLIED = "applied"

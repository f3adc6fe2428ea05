"""ORM tables: the system of record. SQLAlchemy 2 style; identical schema on SQLite and PostgreSQL.

Conventions: ``Uuid`` keys for things that happen, natural string keys for things people type (person
ids, template ids, project keys); tz-aware UTC timestamps; ``Numeric`` money; enums stored as strings
guarded by check constraints; constraint names from one naming convention so migrations are stable.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from phasegate.gates.vocabulary.enums import (
    BallotKind,
    Decision,
    DocumentStatus,
    LessonCategory,
    LessonUseKind,
    OutboxStatus,
    ProjectStatus,
    Recommendation,
    ReviewStatus,
    RoundStatus,
)
from phasegate.gates.vocabulary.tolerance import Dimension, ExceptionDecision, ToleranceLevel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(18, 2)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes and returns them aware on both dialects (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; phasegate stores aware UTC timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _enum_check(column: str, enum: type[StrEnum], name: str) -> CheckConstraint:
    allowed = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Person(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    notify_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Identity (docs/security.md): the OS login the CLI maps to this person, organisation roles, and whether
    # the person may still act. Roles are a short list of OrgRole values, checked by the use cases.
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    org_roles: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (CheckConstraint("locale IN ('en', 'zh-CN')", name="locale"),)


class TemplateVersion(Base):
    """An immutable, published lifecycle template version."""

    __tablename__ = "template_versions"

    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Project(Base):
    __tablename__ = "projects"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[int] = mapped_column(Integer)
    template_hash: Mapped[str] = mapped_column(String(64))
    sponsor_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    manager_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    budget: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[str] = mapped_column(String(16), default=ProjectStatus.ACTIVE.value)
    stage_id: Mapped[str] = mapped_column(String(64))
    recycle_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_version: Mapped[int] = mapped_column(Integer, default=0)
    expected_benefit: Mapped[Decimal | None] = mapped_column(MONEY)
    """The charter's expected benefit (money), which prioritisation weighs against cost; NULL: not estimated."""

    __table_args__ = (
        _enum_check("status", ProjectStatus, "status"),
        CheckConstraint("budget >= 0", name="budget_non_negative"),
        # Projects are pinned to a published template version.
        ForeignKeyConstraint(
            ["template_id", "template_version"],
            ["template_versions.template_id", "template_versions.version"],
        ),
    )


class Document(Base):
    """One registered version of a deliverable file, with its hash at registration."""

    __tablename__ = "documents"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    deliverable_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=DocumentStatus.REGISTERED.value)
    approved_by: Mapped[str | None] = mapped_column(ForeignKey("people.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    format: Mapped[str] = mapped_column(String(16), default="", server_default="")
    headings: Mapped[list[str] | None] = mapped_column(JSON)
    store_key: Mapped[str | None] = mapped_column(String(80))
    """Key of the copy in the document store (``models.document_store``); NULL for rows registered before it."""

    __table_args__ = (
        UniqueConstraint("project_key", "deliverable_id", "version"),
        _enum_check("status", DocumentStatus, "status"),
    )


class CostEntry(Base):
    """Actual cost recorded against a project, in the stage it was spent in (the cost ledger)."""

    __tablename__ = "cost_entries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    stage_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("amount >= 0", name="amount_non_negative"),)


class ProjectRole(Base):
    """Who holds a role (pmo, finance, a named group) on a project, beyond its sponsor and manager."""

    __tablename__ = "project_roles"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Baseline(Base):
    """The approved cost baseline: budget at completion, contingency reserve and its use."""

    __tablename__ = "baselines"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    bac: Mapped[Decimal] = mapped_column(MONEY)
    contingency: Mapped[Decimal | None] = mapped_column(MONEY)
    contingency_used: Mapped[Decimal | None] = mapped_column(MONEY)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("bac >= 0", name="bac_non_negative"),)


class BaselinePeriod(Base):
    """The time-phased plan: cumulative planned value at the end of each period."""

    __tablename__ = "baseline_periods"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    period_end: Mapped[date] = mapped_column(Date, primary_key=True)
    planned_value: Mapped[Decimal] = mapped_column(MONEY)


class StageBudget(Base):
    """The budget approved for one stage of a project."""

    __tablename__ = "stage_budgets"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    stage_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)


class EvmReport(Base):
    """A dated status report: earned value and actual cost to date (planned value if not from the baseline)."""

    __tablename__ = "evm_reports"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    planned_value: Mapped[Decimal | None] = mapped_column(MONEY)
    earned_value: Mapped[Decimal | None] = mapped_column(MONEY)
    actual_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    estimate_to_complete: Mapped[Decimal | None] = mapped_column(MONEY)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Quality metrics of the same status report (optional): open defects, test pass rate and acceptance in %.
    defects: Mapped[int | None] = mapped_column(Integer)
    test_pass_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    acceptance: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))

    __table_args__ = (
        CheckConstraint(
            "(defects IS NULL OR defects >= 0) AND (test_pass_rate IS NULL OR test_pass_rate BETWEEN 0 AND 100) "
            "AND (acceptance IS NULL OR acceptance BETWEEN 0 AND 100)",
            name="quality_ranges",
        ),
    )


class Risk(Base):
    __tablename__ = "risks"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(64), default="")
    owner: Mapped[str | None] = mapped_column(String(64))
    probability: Mapped[int] = mapped_column(Integer)
    impact: Mapped[int] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(String(16))
    mitigation: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str] = mapped_column(Text, default="")
    effect: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("probability >= 1 AND impact >= 1", name="scale"),
    )


class Milestone(Base):
    __tablename__ = "milestones"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)


class Score(Base):
    """One gatekeeper's score of one scorecard factor at one gate; re-scoring replaces it."""

    __tablename__ = "scores"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    gate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gatekeeper: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    factor: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("score >= 0", name="score_non_negative"),)


class GateReview(Base):
    """An evaluation of a gate, stored with the evidence it saw and the hash of that evidence."""

    __tablename__ = "gate_reviews"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    gate_id: Mapped[str] = mapped_column(String(64))
    stage_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    recommendation: Mapped[str] = mapped_column(String(24))
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence_hash: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        _enum_check("status", ReviewStatus, "status"),
        _enum_check("recommendation", Recommendation, "recommendation"),
    )


class ApprovalRound(Base):
    """A gate waiting for its gatekeepers: a row, not a paused process."""

    __tablename__ = "approval_rounds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    review_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gate_reviews.id"), unique=True)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    gate_id: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str] = mapped_column(String(16))
    approvers: Mapped[list[str]] = mapped_column(JSON)
    evidence_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=RoundStatus.OPEN.value, index=True)
    decision: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seats: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    policy_spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    closed_seats: Mapped[list[str]] = mapped_column(JSON, default=list)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_version: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        _enum_check("status", RoundStatus, "status"),
        _enum_check("decision", Decision, "decision"),
    )


class Vote(Base):
    __tablename__ = "votes"

    """One approver's act on a round, bound to the evidence hash it saw.

    ``voter_id`` is the seat (the principal); ``signer_id`` who acted (a delegate signs "on behalf of").
    A vote on superseded evidence is kept, marked ``superseded_at``; one live act per seat and evidence.
    """

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("approval_rounds.id"), index=True)
    voter_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    signer_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(16), default=BallotKind.VOTE.value)
    decision: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    evidence_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("round_id", "voter_id", "evidence_hash"),
        _enum_check("decision", Decision, "decision"),
        _enum_check("kind", BallotKind, "kind"),
    )


class Delegation(Base):
    """A principal lets a delegate act for them, bounded in time and optionally to a template or gate."""

    __tablename__ = "delegations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    principal_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    delegate_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    template_id: Mapped[str | None] = mapped_column(String(64))
    gate_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("valid_to >= valid_from", name="period"),)


class Condition(Base):
    """A condition of a CONDITIONAL_GO: what must be done, by whom, by when, and how it is verified."""

    __tablename__ = "conditions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("approval_rounds.id"))
    gate_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    due_on: Mapped[date] = mapped_column(Date)
    verification: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("status IN ('open', 'met', 'missed', 'waived')", name="status"),)


class NotificationStep(Base):
    """A reminder or escalation step already taken for a round or condition, so a rerun never repeats it."""

    __tablename__ = "notification_steps"

    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    step: Mapped[str] = mapped_column(String(100), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lesson(Base):
    """A lesson learned (经验教训): what happened and what to repeat or avoid, filed under a project and, when
    captured at a gate, its template and gate so later reviews of the same gate find it.

    ``search_text`` is the lesson's searchable text, kept by the application (lower-cased fields and tags): on
    PostgreSQL a pg_trgm GIN index serves it, on SQLite an FTS5 trigram table kept by triggers (migration 0012);
    neither is in these models because autogenerate cannot describe them (``migrations/env.py`` skips them).
    """

    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    template_id: Mapped[str] = mapped_column(String(64))
    gate_id: Mapped[str | None] = mapped_column(String(64))
    round_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("approval_rounds.id"))
    category: Mapped[str] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    what_happened: Mapped[str] = mapped_column(Text)
    repeat: Mapped[str] = mapped_column(Text, default="")
    avoid: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edited_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_lessons_template_id_gate_id", "template_id", "gate_id"),
        _enum_check("category", LessonCategory, "category"),
    )


class LessonUse(Base):
    """A lesson shown in a gate review's packet, or marked applied by a gatekeeper in an approval round: the
    evidence that lessons are read again (the maturity model's "lessons reused")."""

    __tablename__ = "lesson_uses"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    review_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gate_reviews.id"))
    round_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("approval_rounds.id"))
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"))
    gate_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str] = mapped_column(String(64))  # who applied it; "system" for a lesson shown
    score: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("lesson_id", "review_id", "kind", "person_id"),
        _enum_check("kind", LessonUseKind, "kind"),
    )


class LessonDue(Base):
    """A killed project owes its lessons learned: open until a lesson is filed for it. A kill is never blocked
    for want of a lesson (gatekeepers decide); the manager is reminded instead, and closure is refused."""

    __tablename__ = "lessons_due"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("approval_rounds.id"))
    gate_id: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id"))


class GateDecision(Base):
    """The resolved outcome of a round; applied to the lifecycle by the gate-decision flow."""

    __tablename__ = "decisions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("approval_rounds.id"), unique=True)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    gate_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (_enum_check("decision", Decision, "decision"),)


class AuditEntry(Base):
    """Append-only, hash-chained log: each entry's hash covers its content and the previous hash.

    ``scheme`` says how ``hash`` was made (gates.audit): ``sha256`` for entries written before keyed chains,
    ``hmac-sha256`` (keyed, the key outside the database) for every entry since.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("scheme IN ('sha256', 'hmac-sha256')", name="scheme"),
        # Recent refusals of one kind (throttling wrong Part 11 signatures) without reading the whole log.
        Index("ix_audit_log_action_at", "action", "at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    scheme: Mapped[str] = mapped_column(String(16), server_default="sha256")


class OutboxMessage(Base):
    """One notification to one target, written in the transaction that caused it."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"))
    target: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        _enum_check("status", OutboxStatus, "status"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )


class ApiToken(Base):
    """A bearer token for the REST API, stored as a sha256 hash; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("role IN ('viewer', 'pmo', 'approver')", name="role"),)


class UsedApprovalLink(Base):
    """A signed approval link that has been used to vote: single use, so a replay shows the recorded vote."""

    __tablename__ = "used_approval_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("approval_rounds.id"))
    approver_id: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebCredential(Base):
    """A person's local web account: an argon2id password hash and, when enabled, a TOTP secret."""

    __tablename__ = "web_credentials"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    """The last accepted TOTP time step: a code is good once, so one seen over a shoulder cannot be replayed."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExternalIdentity(Base):
    """A single sign-on identity (OIDC issuer and subject) mapped to a person."""

    __tablename__ = "external_identities"

    issuer: Mapped[str] = mapped_column(String(300), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser: the cookie names the row by a random id (only its sha256 is stored here)."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("method IN ('password', 'oidc')", name="method"),)


class ReportRun(Base):
    """A management report sent for a period: one row per kind and period, written in the transaction that
    queued its notifications, so a rerun or a run after a crash finds it and sends nothing twice."""

    __tablename__ = "report_runs"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    document_sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notifications: Mapped[int] = mapped_column(Integer, default=0)


class Tolerance(Base):
    """What one level allows a project (``scope`` ``*``) or one of its stages on one dimension; or explicitly none.

    One row per (project, scope, dimension): setting it again replaces it, and the audit log keeps every
    change with the value before and after. Without a row the template's default applies.
    """

    __tablename__ = "tolerances"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    scope: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    percent: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    no_tolerance: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("project_key", "scope", "dimension"),
        _enum_check("dimension", Dimension, "dimension"),
        _enum_check("level", ToleranceLevel, "level"),
        CheckConstraint(
            "(no_tolerance AND percent IS NULL AND amount IS NULL) "
            "OR (NOT no_tolerance AND (percent IS NOT NULL OR amount IS NOT NULL))",
            name="limit_or_none",
        ),
        CheckConstraint("(percent IS NULL OR percent >= 0) AND (amount IS NULL OR amount >= 0)", name="non_negative"),
    )


class ToleranceExceptionRow(Base):
    """A forecast breach of a tolerance: raised once (unique per project, scope, dimension and sequence number),
    closed by the decision of the level that set the tolerance."""

    __tablename__ = "tolerance_exceptions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    scope: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"))
    baseline: Mapped[Decimal] = mapped_column(MONEY)
    forecast: Mapped[Decimal] = mapped_column(MONEY)
    allowance: Mapped[Decimal] = mapped_column(MONEY)
    deviation: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(16), default="open")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        UniqueConstraint("project_key", "scope", "dimension", "seq"),
        _enum_check("dimension", Dimension, "dimension"),
        _enum_check("level", ToleranceLevel, "level"),
        _enum_check("decision", ExceptionDecision, "decision"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("(status = 'open') = (decision IS NULL)", name="closed_by_decision"),
    )


class RagSnapshot(Base):
    """One project's computed RAG on one day, per dimension and ``overall``: the history the monitor keeps.

    Re-running the monitor on the same day replaces that day's rows; earlier days are never touched.
    """

    __tablename__ = "rag_snapshots"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    rag: Mapped[str] = mapped_column(String(8))
    deviation: Mapped[Decimal | None] = mapped_column(MONEY)
    allowance: Mapped[Decimal | None] = mapped_column(MONEY)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("rag IN ('green', 'amber', 'red', 'unknown', 'none')", name="rag"),
        CheckConstraint(
            "dimension IN ('overall', 'time', 'cost', 'scope', 'quality', 'risk', 'benefits')", name="dimension"
        ),
    )


class ResourceProfileRow(Base):
    """A person as a resource (``gates.vocabulary.resources.ResourceProfile``): role, FTE, hours per day,
    calendar region."""

    __tablename__ = "resource_profiles"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), index=True)
    fte: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    hours_per_day: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    region: Mapped[str] = mapped_column(String(2))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("fte > 0 AND fte <= 1", name="fte"),
        CheckConstraint("hours_per_day > 0 AND hours_per_day <= 24", name="hours_per_day"),
    )


class CapacityOverrideRow(Base):
    """A person's hours in one month (first day of the month) replacing the calendar rule."""

    __tablename__ = "resource_capacity"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    hours: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("hours >= 0", name="hours"),)


class DemandRow(Base):
    """Hours of a role one project's plan needs in one month of one stage (optionally named to a person).

    An import replaces every line of each (project, stage) it names, so importing the same plan twice leaves
    the same lines.
    """

    __tablename__ = "resource_demand"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), index=True)
    stage_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(64))
    month: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"))
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_resource_demand_role_month", "role", "month"),
        CheckConstraint("hours >= 0", name="hours"),
    )


class ProjectPriority(Base):
    """A project's rank in the HOLD queue (higher first), set by the PMO."""

    __tablename__ = "project_priorities"

    project_key: Mapped[str] = mapped_column(ForeignKey("projects.key"), primary_key=True)
    priority: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("priority >= 0 AND priority <= 1000", name="priority"),)


class ChangeCounter(Base):
    """How many committed transactions changed what phasegate shows: ``models.change_stamp`` sums the slots.

    Written only by the triggers migration 0016 puts on every table but the few whose writes no page built from
    the whole portfolio reads (``models.change_stamp.UNWATCHED``). One row per slot (PostgreSQL: the writing
    backend's pid modulo ``SLOTS``, bumped at commit by a deferred trigger; SQLite: slot 0), so concurrent
    writers rarely wait on one another's counter row.
    """

    __tablename__ = "change_counters"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    changes: Mapped[int] = mapped_column(BigInteger, server_default="0")

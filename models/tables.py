"""ORM classes mapped onto the catalog's tables (``models.catalog``): what the write paths load and add.

The columns, types, defaults and constraints are the catalog's; each class here names its table and types
its attributes for mypy. Reads that need no objects use the Core tables directly (``models.statements``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped

from phasegate.models import catalog as c


class Base(DeclarativeBase):
    metadata = c.metadata


class Person(Base):
    __table__ = c.PEOPLE

    id: Mapped[str]
    name: Mapped[str]
    email: Mapped[str]
    locale: Mapped[str]
    notify_urls: Mapped[list[str]]
    created_at: Mapped[datetime]
    login: Mapped[str | None]
    org_roles: Mapped[list[str]]
    disabled: Mapped[bool]


class TemplateVersion(Base):
    """An immutable, published lifecycle template version."""

    __table__ = c.TEMPLATE_VERSIONS

    template_id: Mapped[str]
    version: Mapped[int]
    name: Mapped[str]
    content_hash: Mapped[str]
    content: Mapped[dict[str, Any]]
    source: Mapped[str]
    published_at: Mapped[datetime]


class Project(Base):
    __table__ = c.PROJECTS

    key: Mapped[str]
    name: Mapped[str]
    template_id: Mapped[str]
    template_version: Mapped[int]
    template_hash: Mapped[str]
    sponsor_id: Mapped[str]
    manager_id: Mapped[str]
    budget: Mapped[Decimal]
    currency: Mapped[str]
    status: Mapped[str]
    stage_id: Mapped[str]
    recycle_count: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    evidence_version: Mapped[int]
    expected_benefit: Mapped[Decimal | None]


class Document(Base):
    """One registered version of a deliverable file, with its hash at registration."""

    __table__ = c.DOCUMENTS

    id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    deliverable_id: Mapped[str]
    version: Mapped[int]
    path: Mapped[str]
    sha256: Mapped[str]
    size: Mapped[int]
    status: Mapped[str]
    approved_by: Mapped[str | None]
    approved_at: Mapped[datetime | None]
    registered_at: Mapped[datetime]
    format: Mapped[str]
    headings: Mapped[list[str] | None]
    store_key: Mapped[str | None]


class CostEntry(Base):
    """Actual cost recorded against a project, in the stage it was spent in (the cost ledger)."""

    __table__ = c.COST_ENTRIES

    id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    amount: Mapped[Decimal]
    stage_id: Mapped[str | None]
    note: Mapped[str]
    recorded_at: Mapped[datetime]


class ProjectRole(Base):
    """Who holds a role (pmo, finance, a named group) on a project, beyond its sponsor and manager."""

    __table__ = c.PROJECT_ROLES

    project_key: Mapped[str]
    role: Mapped[str]
    person_id: Mapped[str]
    assigned_at: Mapped[datetime]


class Baseline(Base):
    """The approved cost baseline: budget at completion, contingency reserve and its use."""

    __table__ = c.BASELINES

    project_key: Mapped[str]
    bac: Mapped[Decimal]
    contingency: Mapped[Decimal | None]
    contingency_used: Mapped[Decimal | None]
    set_at: Mapped[datetime]


class BaselinePeriod(Base):
    """The time-phased plan: cumulative planned value at the end of each period."""

    __table__ = c.BASELINE_PERIODS

    project_key: Mapped[str]
    period_end: Mapped[date]
    planned_value: Mapped[Decimal]


class StageBudget(Base):
    """The budget approved for one stage of a project."""

    __table__ = c.STAGE_BUDGETS

    project_key: Mapped[str]
    stage_id: Mapped[str]
    amount: Mapped[Decimal]


class EvmReport(Base):
    """A dated status report: earned value and actual cost to date (planned value if not from the baseline)."""

    __table__ = c.EVM_REPORTS

    project_key: Mapped[str]
    as_of: Mapped[date]
    planned_value: Mapped[Decimal | None]
    earned_value: Mapped[Decimal | None]
    actual_cost: Mapped[Decimal | None]
    estimate_to_complete: Mapped[Decimal | None]
    recorded_at: Mapped[datetime]
    defects: Mapped[int | None]
    test_pass_rate: Mapped[Decimal | None]
    acceptance: Mapped[Decimal | None]


class Risk(Base):
    __table__ = c.RISKS

    project_key: Mapped[str]
    id: Mapped[str]
    title: Mapped[str]
    category: Mapped[str]
    owner: Mapped[str | None]
    probability: Mapped[int]
    impact: Mapped[int]
    response: Mapped[str | None]
    mitigation: Mapped[str]
    cause: Mapped[str]
    effect: Mapped[str]
    status: Mapped[str]
    updated_at: Mapped[datetime]


class Milestone(Base):
    __table__ = c.MILESTONES

    project_key: Mapped[str]
    id: Mapped[str]
    name: Mapped[str]
    due: Mapped[date]
    done_on: Mapped[date | None]


class Score(Base):
    """One gatekeeper's score of one scorecard factor at one gate; re-scoring replaces it."""

    __table__ = c.SCORES

    project_key: Mapped[str]
    gate_id: Mapped[str]
    gatekeeper: Mapped[str]
    factor: Mapped[str]
    score: Mapped[int]
    scored_at: Mapped[datetime]


class GateReview(Base):
    """An evaluation of a gate, stored with the evidence it saw and the hash of that evidence."""

    __table__ = c.GATE_REVIEWS

    id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    gate_id: Mapped[str]
    stage_id: Mapped[str]
    status: Mapped[str]
    recommendation: Mapped[str]
    evaluation: Mapped[dict[str, Any]]
    evidence: Mapped[dict[str, Any]]
    evidence_hash: Mapped[str]
    requested_by: Mapped[str | None]
    created_at: Mapped[datetime]


class ApprovalRound(Base):
    """A gate waiting for its gatekeepers: a row, not a paused process."""

    __table__ = c.APPROVAL_ROUNDS

    id: Mapped[uuid.UUID]
    review_id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    gate_id: Mapped[str]
    policy: Mapped[str]
    approvers: Mapped[list[str]]
    evidence_hash: Mapped[str]
    status: Mapped[str]
    decision: Mapped[str | None]
    due_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    applied_at: Mapped[datetime | None]
    seats: Mapped[list[dict[str, Any]]]
    policy_spec: Mapped[dict[str, Any]]
    requested_by: Mapped[str | None]
    closed_seats: Mapped[list[str]]
    refreshed_at: Mapped[datetime | None]
    evidence_version: Mapped[int]


class Vote(Base):
    __table__ = c.VOTES

    id: Mapped[uuid.UUID]
    round_id: Mapped[uuid.UUID]
    voter_id: Mapped[str]
    signer_id: Mapped[str]
    kind: Mapped[str]
    decision: Mapped[str | None]
    reason: Mapped[str]
    conditions: Mapped[list[dict[str, Any]]]
    evidence_hash: Mapped[str]
    idempotency_key: Mapped[str | None]
    cast_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]


class Delegation(Base):
    """A principal lets a delegate act for them, bounded in time and optionally to a template or gate."""

    __table__ = c.DELEGATIONS

    id: Mapped[uuid.UUID]
    principal_id: Mapped[str]
    delegate_id: Mapped[str]
    valid_from: Mapped[date]
    valid_to: Mapped[date]
    template_id: Mapped[str | None]
    gate_id: Mapped[str | None]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Condition(Base):
    """A condition of a CONDITIONAL_GO: what must be done, by whom, by when, and how it is verified."""

    __table__ = c.CONDITIONS

    id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    round_id: Mapped[uuid.UUID]
    gate_id: Mapped[str]
    text: Mapped[str]
    owner_id: Mapped[str]
    due_on: Mapped[date]
    verification: Mapped[str]
    status: Mapped[str]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None]
    created_at: Mapped[datetime]


class NotificationStep(Base):
    """A reminder or escalation step already taken for a round or condition, so a rerun never repeats it."""

    __table__ = c.NOTIFICATION_STEPS

    subject: Mapped[str]
    step: Mapped[str]
    taken_at: Mapped[datetime]


class Lesson(Base):
    """A lesson learned (经验教训): what happened and what to repeat or avoid, filed under a project and, when
    captured at a gate, its template and gate so later reviews of the same gate find it.

    ``search_text`` is the lesson's searchable text, kept by the application (lower-cased fields and tags): on
    PostgreSQL a pg_trgm GIN index serves it, on SQLite an FTS5 trigram table kept by triggers (migration 0012);
    neither is in these models because autogenerate cannot describe them (``migrations/env.py`` skips them).
    """

    __table__ = c.LESSONS

    id: Mapped[int]
    project_key: Mapped[str]
    template_id: Mapped[str]
    gate_id: Mapped[str | None]
    round_id: Mapped[uuid.UUID | None]
    category: Mapped[str]
    tags: Mapped[list[str]]
    what_happened: Mapped[str]
    repeat: Mapped[str]
    avoid: Mapped[str]
    search_text: Mapped[str]
    author_id: Mapped[str]
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    edited_by: Mapped[str | None]
    revision: Mapped[int]
    trigrams: Mapped[bytes | None]
    trigrams_scheme: Mapped[int | None]


class LessonUse(Base):
    """A lesson shown in a gate review's packet, or marked applied by a gatekeeper in an approval round: the
    evidence that lessons are read again (the maturity model's "lessons reused")."""

    __table__ = c.LESSON_USES

    id: Mapped[uuid.UUID]
    lesson_id: Mapped[int]
    kind: Mapped[str]
    review_id: Mapped[uuid.UUID]
    round_id: Mapped[uuid.UUID | None]
    project_key: Mapped[str]
    gate_id: Mapped[str]
    person_id: Mapped[str]
    score: Mapped[int]
    at: Mapped[datetime]


class LessonDue(Base):
    """A killed project owes its lessons learned: open until a lesson is filed for it. A kill is never blocked
    for want of a lesson (gatekeepers decide); the manager is reminded instead, and closure is refused."""

    __table__ = c.LESSONS_DUE

    project_key: Mapped[str]
    round_id: Mapped[uuid.UUID]
    gate_id: Mapped[str]
    owner_id: Mapped[str]
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    lesson_id: Mapped[int | None]


class GateDecision(Base):
    """The resolved outcome of a round; applied to the lifecycle by the gate-decision flow."""

    __table__ = c.DECISIONS

    id: Mapped[uuid.UUID]
    round_id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    gate_id: Mapped[str]
    decision: Mapped[str]
    decided_by: Mapped[list[str]]
    reason: Mapped[str]
    decided_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only, hash-chained log: each entry's hash covers its content and the previous hash.

    ``scheme`` says how ``hash`` was made (gates.audit): ``sha256`` for entries written before keyed chains,
    ``hmac-sha256`` (keyed, the key outside the database) for every entry since.
    """

    __table__ = c.AUDIT_LOG

    seq: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str]
    action: Mapped[str]
    entity: Mapped[str]
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str]
    hash: Mapped[str]
    scheme: Mapped[str]


class OutboxMessage(Base):
    """One notification to one target, written in the transaction that caused it."""

    __table__ = c.OUTBOX

    id: Mapped[uuid.UUID]
    idempotency_key: Mapped[str]
    kind: Mapped[str]
    recipient_id: Mapped[str | None]
    target: Mapped[str]
    locale: Mapped[str]
    context: Mapped[dict[str, Any]]
    status: Mapped[str]
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for the REST API, stored as a sha256 hash; the token itself is shown once."""

    __table__ = c.API_TOKENS

    id: Mapped[uuid.UUID]
    token_hash: Mapped[str]
    person_id: Mapped[str]
    role: Mapped[str]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class UsedApprovalLink(Base):
    """A signed approval link that has been used to vote: single use, so a replay shows the recorded vote."""

    __table__ = c.USED_APPROVAL_LINKS

    token_hash: Mapped[str]
    round_id: Mapped[uuid.UUID]
    approver_id: Mapped[str]
    used_at: Mapped[datetime]


class WebCredential(Base):
    """A person's local web account: an argon2id password hash and, when enabled, a TOTP secret."""

    __table__ = c.WEB_CREDENTIALS

    person_id: Mapped[str]
    password_hash: Mapped[str]
    totp_secret: Mapped[str | None]
    totp_last_step: Mapped[int | None]
    updated_at: Mapped[datetime]


class ExternalIdentity(Base):
    """A single sign-on identity (OIDC issuer and subject) mapped to a person."""

    __table__ = c.EXTERNAL_IDENTITIES

    issuer: Mapped[str]
    subject: Mapped[str]
    person_id: Mapped[str]
    email: Mapped[str | None]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser: the cookie names the row by a random id (only its sha256 is stored here)."""

    __table__ = c.WEB_SESSIONS

    id_hash: Mapped[str]
    person_id: Mapped[str]
    method: Mapped[str]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ReportRun(Base):
    """A management report sent for a period: one row per kind and period, written in the transaction that
    queued its notifications, so a rerun or a run after a crash finds it and sends nothing twice."""

    __table__ = c.REPORT_RUNS

    kind: Mapped[str]
    period: Mapped[str]
    created_at: Mapped[datetime]
    created_by: Mapped[str]
    document_sha256: Mapped[str]
    summary: Mapped[dict[str, Any]]
    notifications: Mapped[int]


class Tolerance(Base):
    """What one level allows a project (``scope`` ``*``) or one of its stages on one dimension; or explicitly none.

    One row per (project, scope, dimension): setting it again replaces it, and the audit log keeps every
    change with the value before and after. Without a row the template's default applies.
    """

    __table__ = c.TOLERANCES

    id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    scope: Mapped[str]
    dimension: Mapped[str]
    level: Mapped[str]
    owner_id: Mapped[str]
    percent: Mapped[Decimal | None]
    amount: Mapped[Decimal | None]
    no_tolerance: Mapped[bool]
    reason: Mapped[str]
    set_by: Mapped[str]
    set_at: Mapped[datetime]


class ToleranceExceptionRow(Base):
    """A forecast breach of a tolerance: raised once (unique per project, scope, dimension and sequence number),
    closed by the decision of the level that set the tolerance."""

    __table__ = c.TOLERANCE_EXCEPTIONS

    id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    scope: Mapped[str]
    dimension: Mapped[str]
    seq: Mapped[int]
    level: Mapped[str]
    owner_id: Mapped[str | None]
    baseline: Mapped[Decimal]
    forecast: Mapped[Decimal]
    allowance: Mapped[Decimal]
    deviation: Mapped[Decimal]
    status: Mapped[str]
    raised_at: Mapped[datetime]
    decision: Mapped[str | None]
    decided_by: Mapped[str | None]
    decided_at: Mapped[datetime | None]
    reason: Mapped[str]


class RagSnapshot(Base):
    """One project's computed RAG on one day, per dimension and ``overall``: the history the monitor keeps.

    Re-running the monitor on the same day replaces that day's rows; earlier days are never touched.
    """

    __table__ = c.RAG_SNAPSHOTS

    project_key: Mapped[str]
    as_of: Mapped[date]
    dimension: Mapped[str]
    rag: Mapped[str]
    deviation: Mapped[Decimal | None]
    allowance: Mapped[Decimal | None]
    taken_at: Mapped[datetime]


class ResourceProfileRow(Base):
    """A person as a resource (``gates.vocabulary.resources.ResourceProfile``): role, FTE, hours per day,
    calendar region."""

    __table__ = c.RESOURCE_PROFILES

    person_id: Mapped[str]
    role: Mapped[str]
    fte: Mapped[Decimal]
    hours_per_day: Mapped[Decimal]
    region: Mapped[str]
    set_by: Mapped[str]
    set_at: Mapped[datetime]


class CapacityOverrideRow(Base):
    """A person's hours in one month (first day of the month) replacing the calendar rule."""

    __table__ = c.RESOURCE_CAPACITY

    person_id: Mapped[str]
    month: Mapped[date]
    hours: Mapped[Decimal]
    set_by: Mapped[str]
    set_at: Mapped[datetime]


class DemandRow(Base):
    """Hours of a role one project's plan needs in one month of one stage (optionally named to a person).

    An import replaces every line of each (project, stage) it names, so importing the same plan twice leaves
    the same lines.
    """

    __table__ = c.RESOURCE_DEMAND

    id: Mapped[uuid.UUID]
    project_key: Mapped[str]
    stage_id: Mapped[str]
    role: Mapped[str]
    month: Mapped[date]
    hours: Mapped[Decimal]
    person_id: Mapped[str | None]
    imported_by: Mapped[str]
    imported_at: Mapped[datetime]


class ProjectPriority(Base):
    """A project's rank in the HOLD queue (higher first), set by the PMO."""

    __table__ = c.PROJECT_PRIORITIES

    project_key: Mapped[str]
    priority: Mapped[int]
    set_by: Mapped[str]
    set_at: Mapped[datetime]


class ChangeCounter(Base):
    """How many committed transactions changed what phasegate shows: ``models.change_stamp`` sums the slots.

    Written only by the triggers migration 0016 puts on every table but the few whose writes no page built from
    the whole portfolio reads (``models.change_stamp.UNWATCHED``). One row per slot (PostgreSQL: the writing
    backend's pid modulo ``SLOTS``, bumped at commit by a deferred trigger; SQLite: slot 0), so concurrent
    writers rarely wait on one another's counter row.
    """

    __table__ = c.CHANGE_COUNTERS

    slot: Mapped[int]
    changes: Mapped[int]

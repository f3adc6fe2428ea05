"""The database catalog: every table of the system of record as a SQLAlchemy Core ``Table``.

Conventions: ``Uuid`` keys for things that happen, natural string keys for things people type (person
ids, template ids, project keys); tz-aware UTC timestamps; ``Numeric`` money; enums stored as strings
guarded by check constraints; constraint names from one naming convention so migrations are stable. A column that
leads a unique constraint has no index of its own: the constraint's index serves lookups by it (migration 0017).

Why Core tables first and the ORM classes mapped onto them (``models.tables``): the statements a review or a
vote runs (``models.statements``) need only these, and declaring the 39 classes with ``mapped_column()`` made
SQLAlchemy build each column from its annotation at import, which cost every command about twice what these
tables plus a mapping onto them cost (``bench/cli_latency.py``). Alembic autogenerates against ``metadata``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.engine import Dialect

from phasegate.gates.audit import SECURITY_REFUSED
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
from phasegate.models.row_keys import new_row_key

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


metadata = MetaData(naming_convention=NAMING_CONVENTION)


PEOPLE = Table(
    "people",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("locale", String(8), default="en", nullable=False),
    Column("notify_urls", JSON, default=list, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    # Identity (docs/security.md): the OS login the CLI maps to this person, organisation roles, and whether
    # the person may still act. Roles are a short list of OrgRole values, checked by the use cases.
    Column("login", String(64), unique=True),
    Column("org_roles", JSON, default=list, server_default="[]", nullable=False),
    Column("disabled", Boolean, default=False, server_default=false(), nullable=False),
    CheckConstraint("locale IN ('en', 'zh-CN')", name="locale"),
)


# An immutable, published lifecycle template version.
TEMPLATE_VERSIONS = Table(
    "template_versions",
    metadata,
    Column("template_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("content", JSON, nullable=False),
    Column("source", Text, nullable=False),
    Column("published_at", UTCDateTime, default=utcnow, nullable=False),
)


PROJECTS = Table(
    "projects",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("template_id", String(64), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("template_hash", String(64), nullable=False),
    Column("sponsor_id", ForeignKey("people.id"), nullable=False),
    Column("manager_id", ForeignKey("people.id"), nullable=False),
    Column("budget", MONEY, nullable=False),
    Column("currency", String(3), default="USD", nullable=False),
    Column("status", String(16), default=ProjectStatus.ACTIVE.value, nullable=False),
    Column("stage_id", String(64), nullable=False),
    Column("recycle_count", Integer, default=0, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("updated_at", UTCDateTime, default=utcnow, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("evidence_version", Integer, default=0, nullable=False),
    # The charter's expected benefit (money), which prioritisation weighs against cost; NULL: not estimated.
    Column("expected_benefit", MONEY),
    _enum_check("status", ProjectStatus, "status"),
    CheckConstraint("budget >= 0", name="budget_non_negative"),
    # Projects are pinned to a published template version.
    ForeignKeyConstraint(
        ["template_id", "template_version"],
        ["template_versions.template_id", "template_versions.version"],
    ),
)


# One registered version of a deliverable file, with its hash at registration.
DOCUMENTS = Table(
    "documents",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("project_key", ForeignKey("projects.key"), nullable=False),
    Column("deliverable_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("path", String(1024), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("status", String(16), default=DocumentStatus.REGISTERED.value, nullable=False),
    Column("approved_by", ForeignKey("people.id")),
    Column("approved_at", UTCDateTime),
    Column("registered_at", UTCDateTime, default=utcnow, nullable=False),
    Column("format", String(16), default="", server_default="", nullable=False),
    Column("headings", JSON),
    # Key of the copy in the document store (``models.document_store``); NULL for rows registered before it.
    Column("store_key", String(80)),
    UniqueConstraint("project_key", "deliverable_id", "version"),
    _enum_check("status", DocumentStatus, "status"),
)


# Actual cost recorded against a project, in the stage it was spent in (the cost ledger).
COST_ENTRIES = Table(
    "cost_entries",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("project_key", ForeignKey("projects.key"), index=True, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("stage_id", String(64)),
    Column("note", String(500), default="", nullable=False),
    Column("recorded_at", UTCDateTime, default=utcnow, nullable=False),
    CheckConstraint("amount >= 0", name="amount_non_negative"),
)


# Who holds a role (pmo, finance, a named group) on a project, beyond its sponsor and manager.
PROJECT_ROLES = Table(
    "project_roles",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("role", String(64), primary_key=True),
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("assigned_at", UTCDateTime, default=utcnow, nullable=False),
)


# The approved cost baseline: budget at completion, contingency reserve and its use.
BASELINES = Table(
    "baselines",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("bac", MONEY, nullable=False),
    Column("contingency", MONEY),
    Column("contingency_used", MONEY),
    Column("set_at", UTCDateTime, default=utcnow, nullable=False),
    CheckConstraint("bac >= 0", name="bac_non_negative"),
)


# The time-phased plan: cumulative planned value at the end of each period.
BASELINE_PERIODS = Table(
    "baseline_periods",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("period_end", Date, primary_key=True),
    Column("planned_value", MONEY, nullable=False),
)


# The budget approved for one stage of a project.
STAGE_BUDGETS = Table(
    "stage_budgets",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("stage_id", String(64), primary_key=True),
    Column("amount", MONEY, nullable=False),
)


# A dated status report: earned value and actual cost to date (planned value if not from the baseline).
EVM_REPORTS = Table(
    "evm_reports",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("planned_value", MONEY),
    Column("earned_value", MONEY),
    Column("actual_cost", MONEY),
    Column("estimate_to_complete", MONEY),
    Column("recorded_at", UTCDateTime, default=utcnow, nullable=False),
    # Quality metrics of the same status report (optional): open defects, test pass rate and acceptance in %.
    Column("defects", Integer),
    Column("test_pass_rate", Numeric(5, 2)),
    Column("acceptance", Numeric(5, 2)),
    CheckConstraint(
        "(defects IS NULL OR defects >= 0) AND (test_pass_rate IS NULL OR test_pass_rate BETWEEN 0 AND 100) "
        "AND (acceptance IS NULL OR acceptance BETWEEN 0 AND 100)",
        name="quality_ranges",
    ),
)


RISKS = Table(
    "risks",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("category", String(64), default="", nullable=False),
    Column("owner", String(64)),
    Column("probability", Integer, nullable=False),
    Column("impact", Integer, nullable=False),
    Column("response", String(16)),
    Column("mitigation", Text, default="", nullable=False),
    Column("cause", Text, default="", nullable=False),
    Column("effect", Text, default="", nullable=False),
    Column("status", String(16), default="open", nullable=False),
    Column("updated_at", UTCDateTime, default=utcnow, nullable=False),
    CheckConstraint("status IN ('open', 'closed')", name="status"),
    CheckConstraint("probability >= 1 AND impact >= 1", name="scale"),
)


MILESTONES = Table(
    "milestones",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("due", Date, nullable=False),
    Column("done_on", Date),
)


# One gatekeeper's score of one scorecard factor at one gate; re-scoring replaces it.
SCORES = Table(
    "scores",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("gate_id", String(64), primary_key=True),
    Column("gatekeeper", ForeignKey("people.id"), primary_key=True),
    Column("factor", String(64), primary_key=True),
    Column("score", Integer, nullable=False),
    Column("scored_at", UTCDateTime, default=utcnow, nullable=False),
    CheckConstraint("score >= 0", name="score_non_negative"),
)


# An evaluation of a gate, stored with the evidence it saw and the hash of that evidence.
GATE_REVIEWS = Table(
    "gate_reviews",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("project_key", ForeignKey("projects.key"), index=True, nullable=False),
    Column("gate_id", String(64), nullable=False),
    Column("stage_id", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    Column("recommendation", String(24), nullable=False),
    Column("evaluation", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("evidence_hash", String(64), nullable=False),
    Column("requested_by", String(64)),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    _enum_check("status", ReviewStatus, "status"),
    _enum_check("recommendation", Recommendation, "recommendation"),
)


# A gate waiting for its gatekeepers: a row, not a paused process.
APPROVAL_ROUNDS = Table(
    "approval_rounds",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("review_id", ForeignKey("gate_reviews.id"), unique=True, nullable=False),
    Column("project_key", ForeignKey("projects.key"), index=True, nullable=False),
    Column("gate_id", String(64), nullable=False),
    Column("policy", String(16), nullable=False),
    Column("approvers", JSON, nullable=False),
    Column("evidence_hash", String(64), nullable=False),
    Column("status", String(16), default=RoundStatus.OPEN.value, index=True, nullable=False),
    Column("decision", String(16)),
    Column("due_at", UTCDateTime),
    Column("opened_at", UTCDateTime, default=utcnow, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("applied_at", UTCDateTime),
    Column("seats", JSON, default=list, nullable=False),
    Column("policy_spec", JSON, default=dict, nullable=False),
    Column("requested_by", String(64)),
    Column("closed_seats", JSON, default=list, nullable=False),
    Column("refreshed_at", UTCDateTime),
    # One approver's act on a round, bound to the evidence hash it saw.
    #
    # ``voter_id`` is the seat (the principal); ``signer_id`` who acted (a delegate signs "on behalf of").
    # A vote on superseded evidence is kept, marked ``superseded_at``; one live act per seat and evidence.
    Column("evidence_version", Integer, default=0, nullable=False),
    _enum_check("status", RoundStatus, "status"),
    _enum_check("decision", Decision, "decision"),
)


VOTES = Table(
    "votes",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("round_id", ForeignKey("approval_rounds.id"), nullable=False),
    Column("voter_id", ForeignKey("people.id"), nullable=False),
    Column("signer_id", ForeignKey("people.id"), nullable=False),
    Column("kind", String(16), default=BallotKind.VOTE.value, nullable=False),
    Column("decision", String(16)),
    Column("reason", Text, default="", nullable=False),
    Column("conditions", JSON, default=list, nullable=False),
    Column("evidence_hash", String(64), nullable=False),
    Column("idempotency_key", String(200), unique=True),
    Column("cast_at", UTCDateTime, default=utcnow, nullable=False),
    Column("superseded_at", UTCDateTime),
    UniqueConstraint("round_id", "voter_id", "evidence_hash"),
    _enum_check("decision", Decision, "decision"),
    _enum_check("kind", BallotKind, "kind"),
)


# A principal lets a delegate act for them, bounded in time and optionally to a template or gate.
DELEGATIONS = Table(
    "delegations",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("principal_id", ForeignKey("people.id"), index=True, nullable=False),
    Column("delegate_id", ForeignKey("people.id"), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("template_id", String(64)),
    Column("gate_id", String(64)),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("revoked_at", UTCDateTime),
    CheckConstraint("valid_to >= valid_from", name="period"),
)


# A condition of a CONDITIONAL_GO: what must be done, by whom, by when, and how it is verified.
CONDITIONS = Table(
    "conditions",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("project_key", ForeignKey("projects.key"), index=True, nullable=False),
    Column("round_id", ForeignKey("approval_rounds.id"), nullable=False),
    Column("gate_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("owner_id", ForeignKey("people.id"), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("verification", String(200), nullable=False),
    Column("status", String(16), default="open", nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("resolved_by", String(64)),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    CheckConstraint("status IN ('open', 'met', 'missed', 'waived')", name="status"),
)


# A reminder or escalation step already taken for a round or condition, so a rerun never repeats it.
NOTIFICATION_STEPS = Table(
    "notification_steps",
    metadata,
    Column("subject", String(100), primary_key=True),
    Column("step", String(100), primary_key=True),
    Column("taken_at", UTCDateTime, default=utcnow, nullable=False),
)


# A lesson learned (经验教训): what happened and what to repeat or avoid, filed under a project and, when
# captured at a gate, its template and gate so later reviews of the same gate find it.
#
# ``search_text`` is the lesson's searchable text, kept by the application (lower-cased fields and tags): on
# PostgreSQL a pg_trgm GIN index serves it, on SQLite an FTS5 trigram table kept by triggers (migration 0012);
# neither is in these models because autogenerate cannot describe them (``migrations/env.py`` skips them).
LESSONS = Table(
    "lessons",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_key", ForeignKey("projects.key"), index=True, nullable=False),
    Column("template_id", String(64), nullable=False),
    Column("gate_id", String(64)),
    Column("round_id", ForeignKey("approval_rounds.id")),
    Column("category", String(32), nullable=False),
    Column("tags", JSON, default=list, nullable=False),
    Column("what_happened", Text, nullable=False),
    Column("repeat", Text, default="", nullable=False),
    Column("avoid", Text, default="", nullable=False),
    Column("search_text", Text, default="", nullable=False),
    Column("author_id", ForeignKey("people.id"), nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("edited_at", UTCDateTime),
    Column("edited_by", String(64)),
    # Moved by the database with every UPDATE naming tags or text (migration 0020): what scoring keeps is keyed by it.
    Column("revision", Integer, server_default="0", nullable=False),
    # The codes of the text's trigrams (gates.relevance.trigram_codes, int64 each) and the scheme that made them;
    # NULL until written, and cleared by the database when the text changes without them (migration 0020).
    Column("trigrams", LargeBinary),
    Column("trigrams_scheme", SmallInteger),
    Index("ix_lessons_template_id_gate_id", "template_id", "gate_id"),
    _enum_check("category", LessonCategory, "category"),
)


# A lesson shown in a gate review's packet, or marked applied by a gatekeeper in an approval round: the
# evidence that lessons are read again (the maturity model's "lessons reused").
LESSON_USES = Table(
    "lesson_uses",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("lesson_id", ForeignKey("lessons.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("review_id", ForeignKey("gate_reviews.id"), nullable=False),
    Column("round_id", ForeignKey("approval_rounds.id")),
    Column("project_key", ForeignKey("projects.key"), nullable=False),
    Column("gate_id", String(64), nullable=False),
    Column("person_id", String(64), nullable=False),  # who applied it; "system" for a lesson shown
    Column("score", Integer, default=0, nullable=False),
    Column("at", UTCDateTime, default=utcnow, nullable=False),
    UniqueConstraint("lesson_id", "review_id", "kind", "person_id"),
    _enum_check("kind", LessonUseKind, "kind"),
)


# A killed project owes its lessons learned: open until a lesson is filed for it. A kill is never blocked
# for want of a lesson (gatekeepers decide); the manager is reminded instead, and closure is refused.
LESSONS_DUE = Table(
    "lessons_due",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("round_id", ForeignKey("approval_rounds.id"), nullable=False),
    Column("gate_id", String(64), nullable=False),
    Column("owner_id", ForeignKey("people.id"), nullable=False),
    Column("opened_at", UTCDateTime, default=utcnow, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("lesson_id", ForeignKey("lessons.id")),
)


# The resolved outcome of a round; applied to the lifecycle by the gate-decision flow.
DECISIONS = Table(
    "decisions",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("round_id", ForeignKey("approval_rounds.id"), unique=True, nullable=False),
    Column("project_key", ForeignKey("projects.key"), index=True, nullable=False),
    Column("gate_id", String(64), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("decided_by", JSON, nullable=False),
    Column("reason", Text, default="", nullable=False),
    Column("decided_at", UTCDateTime, default=utcnow, nullable=False),
    _enum_check("decision", Decision, "decision"),
)


# Append-only, hash-chained log: each entry's hash covers its content and the previous hash.
#
# ``scheme`` says how ``hash`` was made (gates.audit): ``sha256`` for entries written before keyed chains,
# ``hmac-sha256`` (keyed, the key outside the database) for every entry since.
AUDIT_LOG = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    # Not indexed: the chain makes each hash unique, and a random key would cost every entry a leaf page (0018).
    Column("hash", String(64), nullable=False),
    Column("scheme", String(16), server_default="sha256", nullable=False),
    CheckConstraint("scheme IN ('sha256', 'hmac-sha256')", name="scheme"),
    # Recent refusals (throttling wrong Part 11 signatures) without reading the whole log; partial, so the
    # entries of every other action skip it.
    Index(
        "ix_audit_log_refusals",
        "at",
        sqlite_where=text(f"action = '{SECURITY_REFUSED}'"),
        postgresql_where=text(f"action = '{SECURITY_REFUSED}'"),
    ),
)


# One notification to one target, written in the transaction that caused it.
OUTBOX = Table(
    "outbox",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("idempotency_key", String(200), unique=True, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("recipient_id", ForeignKey("people.id")),
    Column("target", Text, nullable=False),
    Column("locale", String(8), default="en", nullable=False),
    Column("context", JSON, nullable=False),
    Column("status", String(16), default=OutboxStatus.PENDING.value, nullable=False),
    Column("attempts", Integer, default=0, nullable=False),
    Column("next_attempt_at", UTCDateTime, default=utcnow, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("sent_at", UTCDateTime),
    _enum_check("status", OutboxStatus, "status"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)


# A bearer token for the REST API, stored as a sha256 hash; the token itself is shown once.
API_TOKENS = Table(
    "api_tokens",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("token_hash", String(64), unique=True, nullable=False),
    Column("person_id", ForeignKey("people.id"), index=True, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    CheckConstraint("role IN ('viewer', 'pmo', 'approver')", name="role"),
)


# A signed approval link that has been used to vote: single use, so a replay shows the recorded vote.
USED_APPROVAL_LINKS = Table(
    "used_approval_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("round_id", ForeignKey("approval_rounds.id"), nullable=False),
    Column("approver_id", String(64), nullable=False),
    Column("used_at", UTCDateTime, default=utcnow, nullable=False),
)


# A person's local web account: an argon2id password hash and, when enabled, a TOTP secret.
WEB_CREDENTIALS = Table(
    "web_credentials",
    metadata,
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64)),
    # The last accepted TOTP time step: a code is good once, so one seen over a shoulder cannot be replayed.
    Column("totp_last_step", Integer),
    Column("updated_at", UTCDateTime, default=utcnow, nullable=False),
)


# A single sign-on identity (OIDC issuer and subject) mapped to a person.
EXTERNAL_IDENTITIES = Table(
    "external_identities",
    metadata,
    Column("issuer", String(300), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("person_id", ForeignKey("people.id"), index=True, nullable=False),
    Column("email", String(320)),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("last_seen_at", UTCDateTime),
)


# A signed-in browser: the cookie names the row by a random id (only its sha256 is stored here).
WEB_SESSIONS = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("person_id", ForeignKey("people.id"), index=True, nullable=False),
    Column("method", String(16), nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("last_seen_at", UTCDateTime, default=utcnow, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    CheckConstraint("method IN ('password', 'oidc')", name="method"),
)


# A management report sent for a period: one row per kind and period, written in the transaction that
# queued its notifications, so a rerun or a run after a crash finds it and sends nothing twice.
REPORT_RUNS = Table(
    "report_runs",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("summary", JSON, default=dict, nullable=False),
    Column("notifications", Integer, default=0, nullable=False),
)


# What one level allows a project (``scope`` ``*``) or one of its stages on one dimension; or explicitly none.
#
# One row per (project, scope, dimension): setting it again replaces it, and the audit log keeps every
# change with the value before and after. Without a row the template's default applies.
TOLERANCES = Table(
    "tolerances",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("project_key", ForeignKey("projects.key"), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("dimension", String(16), nullable=False),
    Column("level", String(16), nullable=False),
    Column("owner_id", ForeignKey("people.id"), nullable=False),
    Column("percent", Numeric(9, 4)),
    Column("amount", MONEY),
    Column("no_tolerance", Boolean, default=False, nullable=False),
    Column("reason", Text, default="", nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", UTCDateTime, default=utcnow, nullable=False),
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


# A forecast breach of a tolerance: raised once (unique per project, scope, dimension and sequence number),
# closed by the decision of the level that set the tolerance.
TOLERANCE_EXCEPTIONS = Table(
    "tolerance_exceptions",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("project_key", ForeignKey("projects.key"), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("dimension", String(16), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("level", String(16), nullable=False),
    Column("owner_id", ForeignKey("people.id")),
    Column("baseline", MONEY, nullable=False),
    Column("forecast", MONEY, nullable=False),
    Column("allowance", MONEY, nullable=False),
    Column("deviation", MONEY, nullable=False),
    Column("status", String(16), default="open", nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("decision", String(16)),
    Column("decided_by", String(64)),
    Column("decided_at", UTCDateTime),
    Column("reason", Text, default="", nullable=False),
    UniqueConstraint("project_key", "scope", "dimension", "seq"),
    _enum_check("dimension", Dimension, "dimension"),
    _enum_check("level", ToleranceLevel, "level"),
    _enum_check("decision", ExceptionDecision, "decision"),
    CheckConstraint("status IN ('open', 'closed')", name="status"),
    CheckConstraint("(status = 'open') = (decision IS NULL)", name="closed_by_decision"),
)


# One project's computed RAG on one day, per dimension and ``overall``: the history the monitor keeps.
#
# Re-running the monitor on the same day replaces that day's rows; earlier days are never touched.
RAG_SNAPSHOTS = Table(
    "rag_snapshots",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("dimension", String(16), primary_key=True),
    Column("rag", String(8), nullable=False),
    Column("deviation", MONEY),
    Column("allowance", MONEY),
    Column("taken_at", UTCDateTime, nullable=False),
    CheckConstraint("rag IN ('green', 'amber', 'red', 'unknown', 'none')", name="rag"),
    CheckConstraint(
        "dimension IN ('overall', 'time', 'cost', 'scope', 'quality', 'risk', 'benefits')", name="dimension"
    ),
)


# A person as a resource (``gates.vocabulary.resources.ResourceProfile``): role, FTE, hours per day,
# calendar region.
RESOURCE_PROFILES = Table(
    "resource_profiles",
    metadata,
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("role", String(64), index=True, nullable=False),
    Column("fte", Numeric(5, 2), nullable=False),
    Column("hours_per_day", Numeric(5, 2), nullable=False),
    Column("region", String(2), nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
    CheckConstraint("fte > 0 AND fte <= 1", name="fte"),
    CheckConstraint("hours_per_day > 0 AND hours_per_day <= 24", name="hours_per_day"),
)


# A person's hours in one month (first day of the month) replacing the calendar rule.
RESOURCE_CAPACITY = Table(
    "resource_capacity",
    metadata,
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("hours", Numeric(12, 2), nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
    CheckConstraint("hours >= 0", name="hours"),
)


# Hours of a role one project's plan needs in one month of one stage (optionally named to a person).
#
# An import replaces every line of each (project, stage) it names, so importing the same plan twice leaves
# the same lines.
RESOURCE_DEMAND = Table(
    "resource_demand",
    metadata,
    Column("id", Uuid, primary_key=True, default=new_row_key),
    Column("project_key", ForeignKey("projects.key"), index=True, nullable=False),
    Column("stage_id", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("month", Date, nullable=False),
    Column("hours", Numeric(12, 2), nullable=False),
    Column("person_id", ForeignKey("people.id")),
    Column("imported_by", String(64), nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    Index("ix_resource_demand_role_month", "role", "month"),
    CheckConstraint("hours >= 0", name="hours"),
)


# A project's rank in the HOLD queue (higher first), set by the PMO.
PROJECT_PRIORITIES = Table(
    "project_priorities",
    metadata,
    Column("project_key", ForeignKey("projects.key"), primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
    CheckConstraint("priority >= 0 AND priority <= 1000", name="priority"),
)


# How many committed transactions changed what phasegate shows: ``models.change_stamp`` sums the slots.
#
# Written only by the triggers migration 0016 puts on every table but the few whose writes no page built from
# the whole portfolio reads (``models.change_stamp.UNWATCHED``). One row per slot (PostgreSQL: the writing
# backend's pid modulo ``SLOTS``, bumped at commit by a deferred trigger; SQLite: slot 0), so concurrent
# writers rarely wait on one another's counter row.
CHANGE_COUNTERS = Table(
    "change_counters",
    metadata,
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("changes", BigInteger, server_default="0", nullable=False),
)


# A stamp per register that changes with every write to it: migration 0019's triggers write a fresh random one in
# the writing transaction. A review reuses its list of lessons while the ``lessons`` stamp stays the one it saw
# (``models.repositories.lessons``).
REGISTER_STAMPS = Table(
    "register_stamps",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("stamp", String(32), nullable=False),
)

"""Initial schema: every table in models/tables.py.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 19:43:35.983847
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("notify_urls", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("locale IN ('en', 'zh-CN')", name=op.f("ck_people_locale")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_table(
        "template_versions",
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("template_id", "version", name=op.f("pk_template_versions")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'maybe_sent', 'dead')", name=op.f("ck_outbox_status")
        ),
        sa.ForeignKeyConstraint(["recipient_id"], ["people.id"], name=op.f("fk_outbox_recipient_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "projects",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("template_hash", sa.String(length=64), nullable=False),
        sa.Column("sponsor_id", sa.String(length=64), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=False),
        sa.Column("budget", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage_id", sa.String(length=64), nullable=False),
        sa.Column("recycle_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'on_hold', 'killed', 'completed')", name=op.f("ck_projects_status")),
        sa.CheckConstraint("budget >= 0", name=op.f("ck_projects_budget_non_negative")),
        sa.ForeignKeyConstraint(["manager_id"], ["people.id"], name=op.f("fk_projects_manager_id_people")),
        sa.ForeignKeyConstraint(["sponsor_id"], ["people.id"], name=op.f("fk_projects_sponsor_id_people")),
        sa.ForeignKeyConstraint(
            ["template_id", "template_version"],
            ["template_versions.template_id", "template_versions.version"],
            name=op.f("fk_projects_template_id_template_versions"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_projects")),
    )
    op.create_table(
        "cost_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_cost_entries_amount_non_negative")),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_cost_entries_project_key_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_entries")),
    )
    op.create_index(op.f("ix_cost_entries_project_key"), "cost_entries", ["project_key"], unique=False)
    op.create_table(
        "documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("deliverable_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('registered', 'approved')", name=op.f("ck_documents_status")),
        sa.ForeignKeyConstraint(["approved_by"], ["people.id"], name=op.f("fk_documents_approved_by_people")),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_documents_project_key_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint(
            "project_key", "deliverable_id", "version", name=op.f("uq_documents_project_key_deliverable_id_version")
        ),
    )
    op.create_index(op.f("ix_documents_project_key"), "documents", ["project_key"], unique=False)
    op.create_table(
        "gate_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("gate_id", sa.String(length=64), nullable=False),
        sa.Column("stage_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("recommendation", sa.String(length=24), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("evidence_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "recommendation IN ('go', 'conditional_go', 'not_ready', 'recycle', 'hold', 'kill')",
            name=op.f("ck_gate_reviews_recommendation"),
        ),
        sa.CheckConstraint(
            "status IN ('not_ready', 'awaiting_approval', 'decided')", name=op.f("ck_gate_reviews_status")
        ),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_gate_reviews_project_key_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_reviews")),
    )
    op.create_index(op.f("ix_gate_reviews_project_key"), "gate_reviews", ["project_key"], unique=False)
    op.create_table(
        "approval_rounds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("gate_id", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("evidence_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "decision IN ('go', 'conditional_go', 'recycle', 'hold', 'kill')", name=op.f("ck_approval_rounds_decision")
        ),
        sa.CheckConstraint("status IN ('open', 'resolved', 'cancelled')", name=op.f("ck_approval_rounds_status")),
        sa.ForeignKeyConstraint(
            ["project_key"], ["projects.key"], name=op.f("fk_approval_rounds_project_key_projects")
        ),
        sa.ForeignKeyConstraint(
            ["review_id"], ["gate_reviews.id"], name=op.f("fk_approval_rounds_review_id_gate_reviews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_rounds")),
        sa.UniqueConstraint("review_id", name=op.f("uq_approval_rounds_review_id")),
    )
    op.create_index(op.f("ix_approval_rounds_project_key"), "approval_rounds", ["project_key"], unique=False)
    op.create_index(op.f("ix_approval_rounds_status"), "approval_rounds", ["status"], unique=False)
    op.create_table(
        "decisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("gate_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('go', 'conditional_go', 'recycle', 'hold', 'kill')", name=op.f("ck_decisions_decision")
        ),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_decisions_project_key_projects")),
        sa.ForeignKeyConstraint(
            ["round_id"], ["approval_rounds.id"], name=op.f("fk_decisions_round_id_approval_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("round_id", name=op.f("uq_decisions_round_id")),
    )
    op.create_index(op.f("ix_decisions_project_key"), "decisions", ["project_key"], unique=False)
    op.create_table(
        "votes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("voter_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence_hash", sa.String(length=64), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('go', 'conditional_go', 'recycle', 'hold', 'kill')", name=op.f("ck_votes_decision")
        ),
        sa.ForeignKeyConstraint(["round_id"], ["approval_rounds.id"], name=op.f("fk_votes_round_id_approval_rounds")),
        sa.ForeignKeyConstraint(["voter_id"], ["people.id"], name=op.f("fk_votes_voter_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
        sa.UniqueConstraint("round_id", "voter_id", name=op.f("uq_votes_round_id_voter_id")),
    )


def downgrade() -> None:
    op.drop_table("votes")
    op.drop_index(op.f("ix_decisions_project_key"), table_name="decisions")
    op.drop_table("decisions")
    op.drop_index(op.f("ix_approval_rounds_status"), table_name="approval_rounds")
    op.drop_index(op.f("ix_approval_rounds_project_key"), table_name="approval_rounds")
    op.drop_table("approval_rounds")
    op.drop_index(op.f("ix_gate_reviews_project_key"), table_name="gate_reviews")
    op.drop_table("gate_reviews")
    op.drop_index(op.f("ix_documents_project_key"), table_name="documents")
    op.drop_table("documents")
    op.drop_index(op.f("ix_cost_entries_project_key"), table_name="cost_entries")
    op.drop_table("cost_entries")
    op.drop_table("projects")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("template_versions")
    op.drop_table("people")
    op.drop_table("audit_log")

"""Approval engine: round seats and policy, votes with signer, kind, conditions and idempotency keys,
delegations, conditions, reminder steps, lessons learned.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 20:27:01.444604
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_steps",
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", "step", name=op.f("pk_notification_steps")),
    )
    op.create_table(
        "delegations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("delegate_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=True),
        sa.Column("gate_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_delegations_period")),
        sa.ForeignKeyConstraint(["delegate_id"], ["people.id"], name=op.f("fk_delegations_delegate_id_people")),
        sa.ForeignKeyConstraint(["principal_id"], ["people.id"], name=op.f("fk_delegations_principal_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delegations_principal_id"), ["principal_id"], unique=False)

    op.create_table(
        "lessons_learned",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_key"], ["projects.key"], name=op.f("fk_lessons_learned_project_key_projects")
        ),
        sa.ForeignKeyConstraint(["recorded_by"], ["people.id"], name=op.f("fk_lessons_learned_recorded_by_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lessons_learned")),
    )
    with op.batch_alter_table("lessons_learned", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lessons_learned_project_key"), ["project_key"], unique=False)

    op.create_table(
        "conditions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("gate_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("verification", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'met', 'missed', 'waived')", name=op.f("ck_conditions_status")),
        sa.ForeignKeyConstraint(["owner_id"], ["people.id"], name=op.f("fk_conditions_owner_id_people")),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_conditions_project_key_projects")),
        sa.ForeignKeyConstraint(
            ["round_id"], ["approval_rounds.id"], name=op.f("fk_conditions_round_id_approval_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conditions")),
    )
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conditions_project_key"), ["project_key"], unique=False)

    with op.batch_alter_table("approval_rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seats", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("policy_spec", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column("requested_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("closed_seats", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("evidence_version", sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("evidence_version", sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signer_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="vote"))
        batch_op.add_column(sa.Column("conditions", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("decision", existing_type=sa.VARCHAR(length=16), nullable=True)
        batch_op.drop_constraint(batch_op.f("uq_votes_round_id_voter_id"), type_="unique")
        batch_op.create_index(batch_op.f("ix_votes_round_id"), ["round_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_votes_idempotency_key"), ["idempotency_key"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_votes_round_id_voter_id_evidence_hash"), ["round_id", "voter_id", "evidence_hash"]
        )
        batch_op.create_foreign_key(batch_op.f("fk_votes_signer_id_people"), "people", ["signer_id"], ["id"])
        batch_op.create_check_constraint(batch_op.f("ck_votes_kind"), "kind IN ('vote', 'abstain', 'recuse')")

    # Votes cast before delegation existed were signed by their voter.
    op.execute("UPDATE votes SET signer_id = voter_id WHERE signer_id IS NULL")
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.alter_column("signer_id", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_votes_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_votes_signer_id_people"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_votes_round_id_voter_id_evidence_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_votes_idempotency_key"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_votes_round_id"))
        batch_op.create_unique_constraint(batch_op.f("uq_votes_round_id_voter_id"), ["round_id", "voter_id"])
        batch_op.alter_column("decision", existing_type=sa.VARCHAR(length=16), nullable=False)
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("idempotency_key")
        batch_op.drop_column("conditions")
        batch_op.drop_column("kind")
        batch_op.drop_column("signer_id")

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("evidence_version")
        batch_op.drop_column("closed_at")

    with op.batch_alter_table("approval_rounds", schema=None) as batch_op:
        batch_op.drop_column("evidence_version")
        batch_op.drop_column("refreshed_at")
        batch_op.drop_column("closed_seats")
        batch_op.drop_column("requested_by")
        batch_op.drop_column("policy_spec")
        batch_op.drop_column("seats")

    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conditions_project_key"))

    op.drop_table("conditions")
    with op.batch_alter_table("lessons_learned", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lessons_learned_project_key"))

    op.drop_table("lessons_learned")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegations_principal_id"))

    op.drop_table("delegations")
    op.drop_table("notification_steps")

"""Gate criteria evidence: project roles, cost baselines, EVM reports, risks, milestones, scorecard scores.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:11:02.774512
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "baseline_periods",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("planned_value", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_key"], ["projects.key"], name=op.f("fk_baseline_periods_project_key_projects")
        ),
        sa.PrimaryKeyConstraint("project_key", "period_end", name=op.f("pk_baseline_periods")),
    )
    op.create_table(
        "baselines",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("bac", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("contingency", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("contingency_used", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("bac >= 0", name=op.f("ck_baselines_bac_non_negative")),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_baselines_project_key_projects")),
        sa.PrimaryKeyConstraint("project_key", name=op.f("pk_baselines")),
    )
    op.create_table(
        "evm_reports",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("planned_value", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("earned_value", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("actual_cost", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("estimate_to_complete", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_evm_reports_project_key_projects")),
        sa.PrimaryKeyConstraint("project_key", "as_of", name=op.f("pk_evm_reports")),
    )
    op.create_table(
        "milestones",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_milestones_project_key_projects")),
        sa.PrimaryKeyConstraint("project_key", "id", name=op.f("pk_milestones")),
    )
    op.create_table(
        "project_roles",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_project_roles_person_id_people")),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_project_roles_project_key_projects")),
        sa.PrimaryKeyConstraint("project_key", "role", "person_id", name=op.f("pk_project_roles")),
    )
    op.create_table(
        "risks",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("response", sa.String(length=16), nullable=True),
        sa.Column("mitigation", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("effect", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_risks_status")),
        sa.CheckConstraint("probability >= 1 AND impact >= 1", name=op.f("ck_risks_scale")),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_risks_project_key_projects")),
        sa.PrimaryKeyConstraint("project_key", "id", name=op.f("pk_risks")),
    )
    op.create_table(
        "scores",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("gate_id", sa.String(length=64), nullable=False),
        sa.Column("gatekeeper", sa.String(length=64), nullable=False),
        sa.Column("factor", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score >= 0", name=op.f("ck_scores_score_non_negative")),
        sa.ForeignKeyConstraint(["gatekeeper"], ["people.id"], name=op.f("fk_scores_gatekeeper_people")),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_scores_project_key_projects")),
        sa.PrimaryKeyConstraint("project_key", "gate_id", "gatekeeper", "factor", name=op.f("pk_scores")),
    )
    op.create_table(
        "stage_budgets",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("stage_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_stage_budgets_project_key_projects")),
        sa.PrimaryKeyConstraint("project_key", "stage_id", name=op.f("pk_stage_budgets")),
    )
    with op.batch_alter_table("cost_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage_id", sa.String(length=64), nullable=True))

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("format", sa.String(length=16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("headings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("headings")
        batch_op.drop_column("format")

    with op.batch_alter_table("cost_entries", schema=None) as batch_op:
        batch_op.drop_column("stage_id")

    op.drop_table("stage_budgets")
    op.drop_table("scores")
    op.drop_table("risks")
    op.drop_table("project_roles")
    op.drop_table("milestones")
    op.drop_table("evm_reports")
    op.drop_table("baselines")
    op.drop_table("baseline_periods")

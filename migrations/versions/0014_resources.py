"""Resources: people as resources (role, FTE, hours per day, working-calendar region), per-month capacity
overrides, each project's demand per stage, role and month (imported from the plan), and the priority that
ranks the HOLD queue.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-05 06:56:50.480537
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resource_capacity",
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("hours", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("hours >= 0", name=op.f("ck_resource_capacity_hours")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_resource_capacity_person_id_people")),
        sa.PrimaryKeyConstraint("person_id", "month", name=op.f("pk_resource_capacity")),
    )
    op.create_table(
        "resource_profiles",
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("fte", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("hours_per_day", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("fte > 0 AND fte <= 1", name=op.f("ck_resource_profiles_fte")),
        sa.CheckConstraint(
            "hours_per_day > 0 AND hours_per_day <= 24", name=op.f("ck_resource_profiles_hours_per_day")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_resource_profiles_person_id_people")),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_resource_profiles")),
    )
    with op.batch_alter_table("resource_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_profiles_role"), ["role"], unique=False)

    op.create_table(
        "project_priorities",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("priority >= 0 AND priority <= 1000", name=op.f("ck_project_priorities_priority")),
        sa.ForeignKeyConstraint(
            ["project_key"], ["projects.key"], name=op.f("fk_project_priorities_project_key_projects")
        ),
        sa.PrimaryKeyConstraint("project_key", name=op.f("pk_project_priorities")),
    )
    op.create_table(
        "resource_demand",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("stage_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("hours", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("hours >= 0", name=op.f("ck_resource_demand_hours")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_resource_demand_person_id_people")),
        sa.ForeignKeyConstraint(
            ["project_key"], ["projects.key"], name=op.f("fk_resource_demand_project_key_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_demand")),
    )
    with op.batch_alter_table("resource_demand", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_demand_project_key"), ["project_key"], unique=False)
        batch_op.create_index("ix_resource_demand_role_month", ["role", "month"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("resource_demand", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_demand_role_month")
        batch_op.drop_index(batch_op.f("ix_resource_demand_project_key"))

    op.drop_table("resource_demand")
    op.drop_table("project_priorities")
    with op.batch_alter_table("resource_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_profiles_role"))

    op.drop_table("resource_profiles")
    op.drop_table("resource_capacity")

"""Between gates: tolerances per project and stage, per dimension, set by a level and a named owner; the
exceptions raised when a forecast breaches one; quality metrics on status reports; the daily RAG history the
portfolio monitor records.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evm_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("defects", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("test_pass_rate", sa.Numeric(precision=5, scale=2), nullable=True))
        batch_op.add_column(sa.Column("acceptance", sa.Numeric(precision=5, scale=2), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f("ck_evm_reports_quality_ranges"),
            "(defects IS NULL OR defects >= 0) AND (test_pass_rate IS NULL OR test_pass_rate BETWEEN 0 AND 100) "
            "AND (acceptance IS NULL OR acceptance BETWEEN 0 AND 100)",
        )

    op.create_table(
        "tolerances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("percent", sa.Numeric(precision=9, scale=4), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("no_tolerance", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "dimension IN ('time', 'cost', 'scope', 'quality', 'risk', 'benefits')",
            name=op.f("ck_tolerances_dimension"),
        ),
        sa.CheckConstraint(
            "level IN ('corporate', 'project_board', 'project_manager')", name=op.f("ck_tolerances_level")
        ),
        sa.CheckConstraint(
            "(no_tolerance AND percent IS NULL AND amount IS NULL) "
            "OR (NOT no_tolerance AND (percent IS NOT NULL OR amount IS NOT NULL))",
            name=op.f("ck_tolerances_limit_or_none"),
        ),
        sa.CheckConstraint(
            "(percent IS NULL OR percent >= 0) AND (amount IS NULL OR amount >= 0)",
            name=op.f("ck_tolerances_non_negative"),
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["people.id"], name=op.f("fk_tolerances_owner_id_people")),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_tolerances_project_key_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tolerances")),
        sa.UniqueConstraint(
            "project_key", "scope", "dimension", name=op.f("uq_tolerances_project_key_scope_dimension")
        ),
    )
    with op.batch_alter_table("tolerances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tolerances_project_key"), ["project_key"], unique=False)

    op.create_table(
        "tolerance_exceptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("baseline", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("forecast", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("allowance", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("deviation", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "dimension IN ('time', 'cost', 'scope', 'quality', 'risk', 'benefits')",
            name=op.f("ck_tolerance_exceptions_dimension"),
        ),
        sa.CheckConstraint(
            "level IN ('corporate', 'project_board', 'project_manager')",
            name=op.f("ck_tolerance_exceptions_level"),
        ),
        sa.CheckConstraint(
            "decision IN ('approve_plan', 'premature_close', 'accept')",
            name=op.f("ck_tolerance_exceptions_decision"),
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_tolerance_exceptions_status")),
        sa.CheckConstraint(
            "(status = 'open') = (decision IS NULL)", name=op.f("ck_tolerance_exceptions_closed_by_decision")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["people.id"], name=op.f("fk_tolerance_exceptions_owner_id_people")),
        sa.ForeignKeyConstraint(
            ["project_key"], ["projects.key"], name=op.f("fk_tolerance_exceptions_project_key_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tolerance_exceptions")),
        sa.UniqueConstraint(
            "project_key",
            "scope",
            "dimension",
            "seq",
            name=op.f("uq_tolerance_exceptions_project_key_scope_dimension_seq"),
        ),
    )
    with op.batch_alter_table("tolerance_exceptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tolerance_exceptions_project_key"), ["project_key"], unique=False)

    op.create_table(
        "rag_snapshots",
        sa.Column("project_key", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("rag", sa.String(length=8), nullable=False),
        sa.Column("deviation", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("allowance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rag IN ('green', 'amber', 'red', 'unknown', 'none')", name=op.f("ck_rag_snapshots_rag")),
        sa.CheckConstraint(
            "dimension IN ('overall', 'time', 'cost', 'scope', 'quality', 'risk', 'benefits')",
            name=op.f("ck_rag_snapshots_dimension"),
        ),
        sa.ForeignKeyConstraint(["project_key"], ["projects.key"], name=op.f("fk_rag_snapshots_project_key_projects")),
        sa.PrimaryKeyConstraint("project_key", "as_of", "dimension", name=op.f("pk_rag_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("rag_snapshots")
    with op.batch_alter_table("tolerance_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tolerance_exceptions_project_key"))
    op.drop_table("tolerance_exceptions")
    with op.batch_alter_table("tolerances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tolerances_project_key"))
    op.drop_table("tolerances")
    with op.batch_alter_table("evm_reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_evm_reports_quality_ranges"), type_="check")
        batch_op.drop_column("acceptance")
        batch_op.drop_column("test_pass_rate")
        batch_op.drop_column("defects")

"""Drop the five indexes that a unique constraint's own index already covers.

Each indexed a column that also leads a unique constraint (``votes.round_id`` and UNIQUE (round_id, voter_id,
evidence_hash), for one), so lookups by that column already had an index and every insert paid for a second
B-tree: a vote, a registered document, a lesson shown at a review, a tolerance and its exceptions.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = (
    ("votes", "round_id"),
    ("documents", "project_key"),
    ("lesson_uses", "lesson_id"),
    ("tolerances", "project_key"),
    ("tolerance_exceptions", "project_key"),
)
"""(table, column) pairs whose ``ix_<table>_<column>`` is covered by a unique constraint led by that column."""


def upgrade() -> None:
    for table, column in COVERED:
        op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade() -> None:
    for table, column in COVERED:
        op.create_index(f"ix_{table}_{column}", table, [column])

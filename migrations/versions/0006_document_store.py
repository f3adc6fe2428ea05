"""Document custody: each registered document names its copy in the content-addressed document store.

Rows registered before this revision keep ``store_key`` NULL: phasegate holds no copy of them, and the gate
says so (``doc.unchanged_since_approval``) until the file is registered again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store_key", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("store_key")

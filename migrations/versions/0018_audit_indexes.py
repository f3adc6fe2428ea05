"""The audit log keeps two fewer B-trees in step with every entry.

- ``uq_audit_log_hash`` goes: the chain already makes each hash unique (an entry's hash covers the previous
  hash and ``seq``, the primary key), and nothing looks an entry up by its hash. A SHA-256 is random, so the
  index put each entry on a different leaf page: a page written per entry, and more pages at each checkpoint.
- ``ix_audit_log_action_at`` becomes ``ix_audit_log_refusals``, ``(at)`` for ``security.refused`` entries only:
  counting one person's recent refusals (the Part 11 signature throttle) was its one reader, and every other
  entry (nearly all of them) now skips it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSALS = sa.text("action = 'security.refused'")


def upgrade() -> None:
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:  # SQLite: a rebuild, before the new index
        batch_op.drop_constraint("uq_audit_log_hash", type_="unique")
    op.create_index("ix_audit_log_refusals", "audit_log", ["at"], sqlite_where=REFUSALS, postgresql_where=REFUSALS)


def downgrade() -> None:
    op.drop_index("ix_audit_log_refusals", table_name="audit_log")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_audit_log_hash", ["hash"])
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])

"""Trust, continued: a gate review whose approval round was cancelled says so (``cancelled``) instead of awaiting
approval forever; the audit log is indexed by action and time, so recent refusals of a kind (wrong Part 11
signatures, which are throttled) are counted without reading the whole log.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "status IN ('not_ready', 'awaiting_approval', 'decided')"
AFTER = "status IN ('not_ready', 'awaiting_approval', 'decided', 'cancelled')"


def _status_check(allowed: str) -> None:
    with op.batch_alter_table("gate_reviews", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_gate_reviews_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_gate_reviews_status"), allowed)


def upgrade() -> None:
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])
    _status_check(AFTER)
    # Reviews whose round an admin cancelled before this revision.
    op.execute(
        sa.text(
            "UPDATE gate_reviews SET status = 'cancelled' WHERE status = 'awaiting_approval' AND id IN "
            "(SELECT review_id FROM approval_rounds WHERE status = 'cancelled')"
        )
    )


def downgrade() -> None:
    op.execute(sa.text("UPDATE gate_reviews SET status = 'awaiting_approval' WHERE status = 'cancelled'"))
    _status_check(BEFORE)
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")

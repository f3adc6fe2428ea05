"""Keyed audit chain: each audit entry says how its hash was made (sha256 before keys, hmac-sha256 since).

Entries already written keep their sha256 hashes and are marked ``sha256``; they stay verifiable, and the
first keyed entry written after this revision seals them (see gates/audit.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheme", sa.String(length=16), server_default="sha256", nullable=False))
        batch_op.create_check_constraint(batch_op.f("ck_audit_log_scheme"), "scheme IN ('sha256', 'hmac-sha256')")


def downgrade() -> None:
    # Keyed entries cannot be expressed without the column: refuse rather than leave a chain nobody can verify.
    bind = op.get_bind()
    keyed = bind.execute(sa.text("SELECT COUNT(*) FROM audit_log WHERE scheme <> 'sha256'")).scalar_one()
    if keyed:
        raise RuntimeError(
            f"audit_log holds {keyed} keyed (hmac-sha256) entries; downgrading below 0008 would make them unverifiable"
        )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_log_scheme"), type_="check")
        batch_op.drop_column("scheme")

"""A stamp of the lessons register that changes with every write to it, so a review need not read every lesson.

Why: every gate review ranks all the organisation's lessons learned for the approvers' packet. It read each
lesson's id, creation and edit times and its template and gate, about 5 us a lesson in every round (50 ms a review
with 10,000 lessons), though the register changes far less often than gates are reviewed. A trigger now
writes a fresh random stamp into ``register_stamps`` in the transaction of any write to ``lessons`` (INSERT,
UPDATE, DELETE; on PostgreSQL TRUNCATE too); a review reads the one stamp and, while it is the one it saw, reuses
the list it made then (``models.repositories.lessons``).

Random, not a counter: a stamp is only compared for equality, and a stamp written by a transaction that rolled
back is never written again, so a list made from uncommitted lessons can never be taken for a committed state.
The table is not watched by ``change_counters``: it is written only with ``lessons``, which is.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FRESH = "lower(hex(randomblob(16)))"
PG_FRESH = "md5(random()::text || clock_timestamp()::text)"
PG_FUNCTION = f"""
CREATE FUNCTION phasegate_lessons_restamped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE register_stamps SET stamp = {PG_FRESH} WHERE name = 'lessons';
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "register_stamps",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("stamp", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_register_stamps")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"INSERT INTO register_stamps (name, stamp) VALUES ('lessons', {PG_FRESH})")
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER restamped_lessons AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lessons "
            "FOR EACH STATEMENT EXECUTE FUNCTION phasegate_lessons_restamped()"
        )
        return
    op.execute(f"INSERT INTO register_stamps (name, stamp) VALUES ('lessons', {SQLITE_FRESH})")
    for kind in ("INSERT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER restamped_lessons_{kind.lower()} AFTER {kind} ON lessons "
            f"BEGIN UPDATE register_stamps SET stamp = {SQLITE_FRESH} WHERE name = 'lessons'; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER restamped_lessons ON lessons")
        op.execute("DROP FUNCTION phasegate_lessons_restamped()")
    else:
        for kind in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER restamped_lessons_{kind}")
    op.drop_table("register_stamps")

"""A lesson's revision: a number the database moves with every change to what scoring reads of it.

Why: a process keeps each lesson's tags and the codes of its text's trigrams, so a review need not cut every
lesson's text again (``models.repositories.lessons``). It kept them under the lesson's id, creation and edit
times, but only the app's edits set ``edited_at``: an edit made in SQL by hand, or two edits within one tick of
the clock, left the old tags and trigrams in use until the process restarted. A trigger now adds one to
``revision`` whenever an UPDATE names the tags or the text (``what_happened``, ``repeat``, ``avoid``), whoever
sends it, and the kept tags and trigrams are keyed by the revision instead of the edit time.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORED = "tags, what_happened, repeat, avoid"
PG_FUNCTION = """
CREATE FUNCTION phasegate_lesson_revised() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.add_column("lessons", sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            f"CREATE TRIGGER revised_lessons BEFORE UPDATE OF {SCORED} ON lessons "
            "FOR EACH ROW EXECUTE FUNCTION phasegate_lesson_revised()"
        )
        return
    # Its own UPDATE names only ``revision``, so it does not fire itself again.
    op.execute(
        f"CREATE TRIGGER revised_lessons AFTER UPDATE OF {SCORED} ON lessons "
        "BEGIN UPDATE lessons SET revision = OLD.revision + 1 WHERE id = NEW.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER revised_lessons ON lessons")
        op.execute("DROP FUNCTION phasegate_lesson_revised()")
    else:
        op.execute("DROP TRIGGER revised_lessons")
    # Not in a batch: SQLite drops the column in place, keeping the table's other triggers (0016, 0019).
    op.drop_column("lessons", "revision")

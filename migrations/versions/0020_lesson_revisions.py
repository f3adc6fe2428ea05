"""A lesson's revision, and the codes of its text's trigrams kept with it, both kept true by the database.

Why: every gate review ranks the organisation's lessons learned by, among other things, the trigrams of their texts
(``gates.relevance``). A process keeps each lesson's tags and trigram codes, so a review need not cut every text
again (``models.repositories.lessons``), but two things were left:

- It kept them under the lesson's id, creation and edit times, and only the app's edits set ``edited_at``: an edit
  made in SQL by hand, or two edits within one tick of the clock, left the old tags and trigrams in use until the
  process restarted. A trigger now adds one to ``revision`` whenever an UPDATE names the tags or the text
  (``what_happened``, ``repeat``, ``avoid``), whoever sends it, and what a process keeps is keyed by the revision.
- A fresh process (every CLI ``gate review``) cut every lesson's text once: 0.8 s with 5,000 lessons. The codes are
  now kept in the row (``trigrams``, 8 bytes a code, with the ``trigrams_scheme`` that made them): the app writes
  them with the text, and the first review to need a lesson's missing codes writes them. The same trigger clears
  them when an UPDATE changes the text without giving new ones, so codes in a row are always those of its text.

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

TEXT = ("what_happened", "repeat", "avoid")
SCORED = ", ".join(("tags", *TEXT))
PG_FUNCTION = f"""
CREATE FUNCTION phasegate_lesson_revised() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    IF NEW.trigrams IS NOT DISTINCT FROM OLD.trigrams AND (
        {" OR ".join(f"NEW.{column} IS DISTINCT FROM OLD.{column}" for column in TEXT)}
    ) THEN
        NEW.trigrams := NULL;
    END IF;
    RETURN NEW;
END
$$
"""
# SQLite spells IS DISTINCT FROM as IS NOT. Its UPDATE names neither the tags nor the text: it does not fire itself.
SQLITE_TRIGGER = f"""
CREATE TRIGGER revised_lessons AFTER UPDATE OF {SCORED} ON lessons BEGIN
    UPDATE lessons SET
        revision = OLD.revision + 1,
        trigrams = CASE
            WHEN NEW.trigrams IS OLD.trigrams AND (
                {" OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in TEXT)}
            ) THEN NULL
            ELSE NEW.trigrams
        END
    WHERE id = NEW.id;
END
"""


def upgrade() -> None:
    op.add_column("lessons", sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.add_column("lessons", sa.Column("trigrams", sa.LargeBinary(), nullable=True))
    op.add_column("lessons", sa.Column("trigrams_scheme", sa.SmallInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            f"CREATE TRIGGER revised_lessons BEFORE UPDATE OF {SCORED} ON lessons "
            "FOR EACH ROW EXECUTE FUNCTION phasegate_lesson_revised()"
        )
        return
    op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER revised_lessons ON lessons")
        op.execute("DROP FUNCTION phasegate_lesson_revised()")
    else:
        op.execute("DROP TRIGGER revised_lessons")
    # Not in a batch: SQLite drops the columns in place, keeping the table's other triggers (0012, 0016, 0019).
    for column in ("trigrams_scheme", "trigrams", "revision"):
        op.drop_column("lessons", column)

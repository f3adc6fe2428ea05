"""Primary keys of new rows: UUIDv7, whose leading 48 bits are the creation time in milliseconds.

Why not UUIDv4: a random key sends each insert to a random leaf of the table's key index (and of every unique
index that repeats it, ``decisions.round_id`` for one), so each committed round dirtied a leaf page per index, split
half-full pages, and left SQLite's checkpoint and PostgreSQL's full-page writes more distinct pages to copy. Keys
that grow with time land on the index's rightmost leaf, which the next insert finds in the cache.

A UUIDv7 still has 74 random bits, so keys made in the same millisecond do not collide; it tells when its row was
made, which every such row records anyway. Rows keyed before keep their keys: old and new mix in one index.
"""

from __future__ import annotations

from uuid import UUID

from uuid_utils.compat import uuid7


def new_row_key() -> UUID:
    """A fresh time-ordered key (the standard library's ``uuid.UUID``, as the ``Uuid`` columns expect)."""
    return uuid7()

"""The lessons repository: lessons, their uses at gates and the lessons a killed project owes, with full-text
search for Chinese and English on both dialects.

Why trigrams: Chinese is written without spaces, so word tokenizers index a whole sentence as one "word" and
find nothing; trigrams (three characters in a row) need no segmentation and serve English as well. SQLite
searches its FTS5 trigram table (migration 0012), PostgreSQL a pg_trgm GIN index on ``search_text``. A term
shorter than three characters (two Chinese characters are a whole word: 供应) has no trigram; it is matched with
LIKE instead, which on PostgreSQL the same GIN index still serves.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Row, func, literal, select, text, update

from phasegate.gates.relevance import TRIGRAM_SCHEME, Candidate, lesson_codes
from phasegate.gates.vocabulary.enums import LessonCategory, LessonUseKind
from phasegate.gates.vocabulary.lessons import LessonDueRecord, LessonRecord, LessonUseRecord
from phasegate.models import statements as q
from phasegate.models import tables as t
from phasegate.models.prepared import Prepared
from phasegate.models.read_ahead import ReadAhead
from phasegate.models.repositories.repository import SqlRepository, Transaction

# Every killing decision runs these: on the driver (models.prepared).
_HAS_LESSONS = Prepared(q.HAS_LESSONS)
_LESSONS_ALL = Prepared(q.LESSONS_ALL)
_CANDIDATES = Prepared(q.LESSON_CANDIDATES)  # a review reads them when the register changed (``surface_lessons``)
_REGISTER_STAMP = Prepared(q.LESSONS_REGISTER_STAMP)  # every review reads it
_ROUNDS_PROJECT_HAS_LESSONS = Prepared(q.ROUNDS_PROJECT_HAS_LESSONS)  # a decision reads it ahead
_LESSON_DUE_OPENED = Prepared(q.LESSON_DUE_OPENED)
_INSERT_LESSON_DUE = Prepared(q.INSERT_LESSON_DUE)

SEARCH_LIMIT = 50

_Stamp = tuple[int, Any, int]
"""A lesson's id, creation time as the driver returns it, and revision: its tags and text stay as they are as long as
these do (any UPDATE naming them moves ``revision``, migration 0020; an id SQLite reuses comes with a new creation
time)."""
_Kept = tuple[tuple[str, ...], "array[int]"]
"""A lesson's tags and the codes of its text's trigrams."""
_KEPT: WeakKeyDictionary[Engine, dict[_Stamp, _Kept]] = WeakKeyDictionary()
"""Per engine (so per database), what scoring reads of each lesson beyond its row's stamp, by that stamp."""
_LISTED: WeakKeyDictionary[Engine, tuple[str, list[Candidate]]] = WeakKeyDictionary()
"""Per engine, the last list of candidates made, under the register's stamp it was made at (migration 0019)."""
MOST_KEPT = 100_000
"""Lessons an engine keeps (some 3 KB each); past it, they are read again as reviews meet them."""
_TEXTS_PER_READ = 500  # lessons read whole per statement (a bound on its IN list)


def _chunks(lesson_ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(lesson_ids), _TEXTS_PER_READ):
        yield list(lesson_ids[start : start + _TEXTS_PER_READ])


def _packed(codes: Iterable[int]) -> bytes:
    """Trigram codes as ``lessons.trigrams`` keeps them: 8 bytes each, little-endian whatever the machine."""
    packed = array("q", codes)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def _unpacked(kept: bytes) -> array[int]:
    codes = array("q")
    codes.frombytes(kept)
    if sys.byteorder == "big":
        codes.byteswap()
    return codes


def _text_codes(record: LessonRecord) -> dict[str, Any]:
    """The columns that keep a lesson's trigram codes, written with its text (migration 0020)."""
    codes = lesson_codes(record.what_happened, record.repeat, record.avoid)
    return {"trigrams": _packed(codes), "trigrams_scheme": TRIGRAM_SCHEME}


def _lesson(row: Row[Any]) -> LessonRecord:
    return LessonRecord(
        id=row.id,
        project_key=row.project_key,
        template_id=row.template_id,
        gate_id=row.gate_id,
        round_id=row.round_id,
        category=LessonCategory(row.category),
        tags=tuple(row.tags or ()),
        what_happened=row.what_happened,
        repeat=row.repeat,
        avoid=row.avoid,
        author_id=row.author_id,
        created_at=row.created_at,
        edited_at=row.edited_at,
        edited_by=row.edited_by,
    )


def _due(row: t.LessonDue) -> LessonDueRecord:
    return LessonDueRecord(
        project_key=row.project_key,
        round_id=row.round_id,
        gate_id=row.gate_id,
        owner_id=row.owner_id,
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        lesson_id=row.lesson_id,
    )


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_terms(query: str) -> list[str]:
    """The query's terms, lower-cased, each matched anywhere in a lesson (all must match)."""
    return list(dict.fromkeys(query.lower().split()))


class SqlLessons(SqlRepository):
    def __init__(self, tx: Transaction) -> None:
        super().__init__(tx)
        self._ahead = ReadAhead()

    def read_ahead_register_stamp(self) -> None:
        """Send the register's stamp read (``candidates`` takes it): a review's, with its first reads."""
        self._ahead.send(self.connection, ("stamp",), (_REGISTER_STAMP, {}))

    def read_ahead_has_lessons(self, round_id: UUID) -> None:
        """Send whether round ``round_id``'s project has lessons (``has_lessons`` takes it): a decision's."""
        self._ahead.send(self.connection, ("has", round_id), (_ROUNDS_PROJECT_HAS_LESSONS, {"round_id": round_id}))

    def add_lesson(self, record: LessonRecord) -> int:
        """Insert a lesson (``record.id`` is ignored: the database numbers lessons 1, 2, 3 for people to type)."""
        row = t.Lesson(
            **record.model_dump(exclude={"id", "tags", "category"}),
            category=record.category.value,
            tags=list(record.tags),
            search_text=record.search_text(),
            **_text_codes(record),
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def update_lesson(self, record: LessonRecord) -> None:
        self.session.execute(
            update(t.Lesson)
            .where(t.Lesson.id == record.id)
            .values(
                category=record.category.value,
                tags=list(record.tags),
                what_happened=record.what_happened,
                repeat=record.repeat,
                avoid=record.avoid,
                search_text=record.search_text(),
                edited_at=record.edited_at,
                edited_by=record.edited_by,
                **_text_codes(record),
            )
        )

    def get_lesson(self, lesson_id: int, *, for_update: bool = False) -> LessonRecord | None:
        query = select(*q.LESSON_RECORD).where(q.LESSONS.c.id == lesson_id)
        row = self.connection.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _lesson(row)

    def lessons(
        self,
        *,
        project_key: str | None = None,
        template_id: str | None = None,
        category: LessonCategory | None = None,
    ) -> list[LessonRecord]:
        if project_key is None and template_id is None and category is None:
            return [_lesson(row) for row in _LESSONS_ALL.rows(self.connection)]
        lessons = q.LESSONS.c
        query = select(*q.LESSON_RECORD).order_by(lessons.id)
        if project_key is not None:
            query = query.where(lessons.project_key == project_key)
        if template_id is not None:
            query = query.where(lessons.template_id == template_id)
        if category is not None:
            query = query.where(lessons.category == category.value)
        return [_lesson(row) for row in self.connection.execute(query)]

    def candidates(self) -> list[Candidate]:
        """Every lesson as relevance scoring sees it (``gates.relevance``), read without its text.

        Why: a review ranks every lesson of the organisation, and reading each lesson whole and cutting its text into
        trigrams every time cost 150 us a lesson, 0.15 s a review for a register of 1,000. A lesson's tags and the
        codes of its trigrams are kept per engine under its stamp (``_Stamp``), so a review reads four short columns
        a lesson, and only new and edited lessons whole. And while the register's stamp (migration 0019: a fresh
        one with every write to ``lessons``) is the one the last list was made at, that list is the answer: one
        row read, not one per lesson. The stamp is read first: on PostgreSQL each statement sees what committed
        before it, so a list is never older than the stamp it is kept under.
        """
        engine = self.connection.engine
        ahead = self._ahead.take(("stamp",))
        found = (ahead[0][0] if ahead[0] else None) if ahead is not None else _REGISTER_STAMP.first(self.connection)
        listed = _LISTED.get(engine)
        if found is not None and listed is not None and listed[0] == found.stamp:
            return list(listed[1])
        candidates = self._read_candidates(engine)
        if found is not None:
            _LISTED[engine] = (found.stamp, candidates)
        return list(candidates)

    def _read_candidates(self, engine: Engine) -> list[Candidate]:
        rows = _CANDIDATES.rows(self.connection)
        if not rows:
            return []
        kept = _KEPT.setdefault(engine, {})
        found = [kept.get((row.id, row.created_at, row.revision)) for row in rows]
        missing = [row.id for row, known in zip(rows, found, strict=True) if known is None]
        fresh = self._read_whole(missing, kept) if missing else {}
        candidates = []
        for row, known in zip(rows, found, strict=True):
            seen = known or fresh.get(row.id)
            if seen is not None:  # None: deleted between the two reads
                candidates.append(Candidate(row.id, row.template_id, row.gate_id, *seen))
        return candidates

    def _read_whole(self, lesson_ids: Sequence[int], kept: dict[_Stamp, _Kept]) -> dict[int, _Kept]:
        """Read these lessons' tags and trigram codes and keep them under the stamps read with them; returned by id
        too, for a lesson edited between the stamps' read and this one.

        A lesson whose row holds no codes of today's scheme (filed before migration 0020, or its text edited by
        hand) has its text read and cut here, and its codes written into its row for every later process: only if
        its revision is still the one read, and only when the review's transaction commits."""
        if len(kept) + len(lesson_ids) > MOST_KEPT:
            kept.clear()
        fresh: dict[int, _Kept] = {}
        uncut: dict[int, tuple[_Stamp, tuple[str, ...]]] = {}
        for chunk in _chunks(lesson_ids):
            for row in self.connection.execute(q.LESSON_CODES, {"ids": chunk}):
                stamp, tags = (row.id, row.created_at, row.revision), tuple(row.tags or ())
                if row.trigrams is not None and row.trigrams_scheme == TRIGRAM_SCHEME:
                    kept[stamp] = fresh[row.id] = (tags, _unpacked(row.trigrams))
                else:
                    uncut[row.id] = (stamp, tags)
        written: list[dict[str, Any]] = []
        for chunk in _chunks(list(uncut)):
            for row in self.connection.execute(q.LESSON_TEXTS, {"ids": chunk}):
                stamp, tags = uncut[row.id]
                grams = array("q", lesson_codes(row.what_happened, row.repeat, row.avoid))
                kept[stamp] = fresh[row.id] = (tags, grams)
                written.append(
                    {"lesson_id": row.id, "read_revision": stamp[2], "codes": _packed(grams), "scheme": TRIGRAM_SCHEME}
                )
        if written:
            self.connection.execute(q.WRITE_LESSON_TRIGRAMS, written)
        return fresh

    def lessons_by_id(self, lesson_ids: Collection[int]) -> dict[int, LessonRecord]:
        """The lessons of ``lesson_ids`` that exist, by id, in one read."""
        if not lesson_ids:
            return {}
        return {row.id: _lesson(row) for row in self.connection.execute(q.LESSONS_BY_ID, {"ids": list(lesson_ids)})}

    def has_lessons(self, key: str) -> bool:
        ahead = next((rows[0].has for (rows,) in self._ahead.take_all("has") if rows and rows[0].key == key), None)
        if ahead is not None:
            return bool(ahead)
        row = _HAS_LESSONS.first(self.connection, {"key": key})
        return bool(row is not None and row[0])

    def search_lessons(self, query: str, *, limit: int = SEARCH_LIMIT) -> list[LessonRecord]:
        """Lessons containing every term of ``query`` (Chinese or English, any case), best match first."""
        terms = search_terms(query)
        if not terms:
            return []
        if self.connection.dialect.name == "sqlite":
            return self._search_sqlite(terms, limit)
        return self._search_postgresql(query.lower(), terms, limit)

    def _search_sqlite(self, terms: list[str], limit: int) -> list[LessonRecord]:
        long_terms = [term for term in terms if len(term) >= 3]
        short = [term for term in terms if len(term) < 3]
        where = " AND ".join([f"l.search_text LIKE :s{i} ESCAPE '\\'" for i in range(len(short))] or ["1 = 1"])
        params: dict[str, Any] = {f"s{i}": _like(term) for i, term in enumerate(short)} | {"limit": limit}
        if long_terms:
            # Each term a quoted phrase: FTS5 syntax in a user's query (AND, NEAR, *, quotes) stays text.
            params["match"] = " ".join('"' + term.replace('"', '""') + '"' for term in long_terms)
            sql = (
                "SELECT l.id FROM lessons_fts JOIN lessons AS l ON l.id = lessons_fts.rowid "
                f"WHERE lessons_fts MATCH :match AND {where} ORDER BY lessons_fts.rank, l.id DESC LIMIT :limit"
            )
        else:
            sql = f"SELECT l.id FROM lessons AS l WHERE {where} ORDER BY l.id DESC LIMIT :limit"

        ids = [row[0] for row in self.connection.execute(text(sql), params)]
        return self._in_order(ids)

    def _search_postgresql(self, query: str, terms: list[str], limit: int) -> list[LessonRecord]:
        conditions = [t.Lesson.search_text.ilike(_like(term), escape="\\") for term in terms]
        rows = self.session.execute(
            select(t.Lesson.id)
            .where(*conditions)
            .order_by(func.word_similarity(literal(query), t.Lesson.search_text).desc(), t.Lesson.id.desc())
            .limit(limit)
        )
        return self._in_order([row[0] for row in rows])

    def _in_order(self, ids: Sequence[int]) -> list[LessonRecord]:
        if not ids:
            return []
        found = self.lessons_by_id(ids)
        return [found[i] for i in ids]

    # uses at gates ----------------------------------------------------------------------------------------
    def record_lesson_uses(self, uses: Sequence[LessonUseRecord]) -> int:
        """Record uses not yet recorded (a retried review or a second ``lesson applied`` adds nothing)."""
        if not uses:  # every review asks, with none when no lesson scored: no session for nothing
            return 0
        added = 0
        for use in uses:
            exists = self.session.scalar(
                select(func.count()).where(
                    t.LessonUse.lesson_id == use.lesson_id,
                    t.LessonUse.review_id == use.review_id,
                    t.LessonUse.kind == use.kind.value,
                    t.LessonUse.person_id == use.person_id,
                )
            )
            if not exists:
                self.session.add(t.LessonUse(**use.model_dump(exclude={"kind"}), kind=use.kind.value))
                added += 1
        self.session.flush()
        return added

    def lesson_uses(self, *, lesson_id: int | None = None, project_key: str | None = None) -> list[LessonUseRecord]:
        query = select(t.LessonUse).order_by(t.LessonUse.at, t.LessonUse.lesson_id)
        if lesson_id is not None:
            query = query.where(t.LessonUse.lesson_id == lesson_id)
        if project_key is not None:
            query = query.where(t.LessonUse.project_key == project_key)
        return [_use(row) for row in self.session.scalars(query)]

    # lessons owed ----------------------------------------------------------------------------------------
    def open_lesson_due(self, record: LessonDueRecord) -> bool:
        # Prebuilt Core statements: every killing decision runs this, the ORM's load and flush cost several times more.
        if _LESSON_DUE_OPENED.first(self.connection, {"key": record.project_key}) is not None:
            return False
        _INSERT_LESSON_DUE.run(self.connection, record.model_dump())
        return True

    def lessons_due(self, *, open_only: bool = True, owner_id: str | None = None) -> list[LessonDueRecord]:
        query = select(t.LessonDue).order_by(t.LessonDue.opened_at)
        if open_only:
            query = query.where(t.LessonDue.resolved_at.is_(None))
        if owner_id is not None:
            query = query.where(t.LessonDue.owner_id == owner_id)
        return [_due(row) for row in self.session.scalars(query)]

    def resolve_lesson_due(self, project_key: str, *, lesson_id: int, now: datetime) -> bool:
        result = self.session.execute(
            update(t.LessonDue)
            .where(t.LessonDue.project_key == project_key, t.LessonDue.resolved_at.is_(None))
            .values(resolved_at=now, lesson_id=lesson_id)
        )
        return bool(getattr(result, "rowcount", 0))


def _use(row: t.LessonUse) -> LessonUseRecord:
    return LessonUseRecord(
        lesson_id=row.lesson_id,
        kind=LessonUseKind(row.kind),
        review_id=row.review_id,
        round_id=row.round_id,
        project_key=row.project_key,
        gate_id=row.gate_id,
        person_id=row.person_id,
        score=row.score,
        at=row.at,
    )

"""Which lessons learned a gate review should show: pure scoring, so the choice is explainable and testable by hand.

A lesson earns points (whole numbers, so a person can check the ranking with pencil and paper):

- **50** when it was learned at the same gate of the same lifecycle template (the strongest signal: the same
  decision point, with the same deliverables and criteria), or **20** for the same template at another gate;
- **15** per tag it shares with the review (the review's tags are the gate id and the families of the criteria
  that did not pass: ``budget``, ``doc``, ``risk``, ``schedule``, ...);
- up to **30** for text similarity: 30 × the Jaccard similarity of the character trigrams of the lesson and the
  review's text (project and gate names, the failing criteria's messages), rounded down. Trigrams work for
  Chinese, which has no spaces between words, as for English.

Lessons with no points are never shown; ties go to the newer lesson (higher id).

Scoring reads a lesson as a ``Candidate``: its template, gate and tags, and its text already cut into trigrams, as
codes (``trigram_codes``). Why: cutting every lesson's text for every review cost some 150 us a lesson, so a
register of 1,000 lessons made each review 0.15 s slower (bench/lessons.py); the adapter keeps each lesson's codes
for as long as its text stays as it is, and a review then pays at most a set intersection per lesson.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from phasegate.gates.vocabulary.lessons import LessonRecord
from phasegate.gates.vocabulary.snapshots import Evaluation

SAME_GATE = 50
SAME_TEMPLATE = 20
PER_TAG = 15
TEXT_WEIGHT = 30
SHOWN = 3
"""How many lessons a review shows: a packet approvers read, not a search result."""


@dataclass(frozen=True)
class ReviewContext:
    template_id: str
    gate_id: str
    tags: frozenset[str]
    text: str

    @cached_property
    def grams(self) -> frozenset[int]:
        """The text's trigram codes: made once per review, not once for every lesson scored against it."""
        return trigram_codes(self.text)


class Candidate(NamedTuple):
    """A lesson as scoring sees it: everything a score reads, its text as the codes of its trigrams (a named tuple:
    a review makes one per lesson of the register)."""

    id: int
    template_id: str
    gate_id: str | None
    tags: tuple[str, ...]
    grams: Collection[int]
    """The distinct ``lesson_codes``: its length is their number."""


@dataclass(frozen=True)
class Scored:
    lesson_id: int
    score: int


@dataclass(frozen=True)
class Relevant:
    lesson: LessonRecord
    score: int


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def trigrams(text: str) -> frozenset[str]:
    """The lower-cased text's three-character windows, whitespace collapsed to one space."""
    normal = _normal(text)
    return frozenset(normal[i : i + 3] for i in range(len(normal) - 2))


TRIGRAM_SCHEME = 1
"""The version of ``trigram_codes`` (with ``_normal``): the database keeps each lesson's codes with the scheme they
were made by (``lessons.trigrams``, migration 0020), and codes of another scheme are made again. Change it with any
change to the codes a text gets; tests/test_lessons.py pins the codes of one text to it."""


def trigram_codes(text: str) -> frozenset[int]:
    """``trigrams`` as numbers: the three code points side by side (21 bits each, so one trigram, one number and
    back). The same sets, so the same Jaccard similarity; a lesson's codes fit in an ``array`` of 8 bytes each
    where its trigrams as strings took some 100. Repeated trigrams are dropped before they are coded (``set`` of the
    code points' triples, in C): a lesson's text repeats a good share of its trigrams."""
    points = list(map(ord, _normal(text)))
    distinct = set(zip(points, points[1:], points[2:], strict=False))
    return frozenset([(a << 42) | (b << 21) | c for a, b, c in distinct])


def lesson_codes(what_happened: str, repeat: str, avoid: str) -> frozenset[int]:
    """The trigram codes of a lesson's text, which scoring compares with the review's."""
    return trigram_codes(" ".join((what_happened, repeat, avoid)))


def candidate(lesson: LessonRecord) -> Candidate:
    """A lesson as scoring sees it, its trigrams cut now (the adapter keeps them instead: module docstring)."""
    return Candidate(
        id=lesson.id,
        template_id=lesson.template_id,
        gate_id=lesson.gate_id,
        tags=lesson.tags,
        grams=lesson_codes(lesson.what_happened, lesson.repeat, lesson.avoid),
    )


def jaccard(a: frozenset[Any], b: Collection[Any]) -> float:
    """The Jaccard similarity of ``a`` and ``b`` (``b``'s items distinct, as a set's: a lesson's codes in an array),
    the union counted from the sizes."""
    shared = len(a.intersection(b))
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0


def review_context(template_id: str, gate_id: str, evaluation: Evaluation, names: Iterable[str]) -> ReviewContext:
    """What a review is about, for matching lessons: its gate and the criteria that did not pass."""
    failing = [c for c in evaluation.criteria if not c.passed]
    tags = {gate_id.lower()} | {c.code.split(".")[0].lower() for c in failing} | {c.code.lower() for c in failing}
    text = " ".join([*names, *(c.message for c in failing), *(c.message_zh or "" for c in failing)])
    return ReviewContext(template_id=template_id, gate_id=gate_id, tags=frozenset(tags), text=text)


def score(lesson: LessonRecord, context: ReviewContext) -> int:
    """The lesson's points in full, as the module docstring counts them (``most_relevant`` scores only some)."""
    seen = candidate(lesson)
    return _points_before_text(seen, context) + _text_points(seen, context)


def _points_before_text(lesson: Candidate, context: ReviewContext) -> int:
    points = 0
    if lesson.template_id == context.template_id:
        points += SAME_GATE if lesson.gate_id == context.gate_id else SAME_TEMPLATE
    return points + PER_TAG * len(context.tags.intersection(lesson.tags))


def _text_points(lesson: Candidate, context: ReviewContext) -> int:
    return int(TEXT_WEIGHT * jaccard(context.grams, lesson.grams))


def most_relevant(lessons: Sequence[Candidate], context: ReviewContext, *, limit: int = SHOWN) -> list[Scored]:
    """The ``limit`` best-scoring lessons with points, best first, as if every lesson were scored.

    Why not score them all: comparing texts is most of a score's cost, and every review ranks every lesson of the
    organisation. Each lesson has a ceiling, its points before text plus the most its text could earn given the two
    texts' numbers of trigrams alone (``_text_ceiling``). Taken by ceiling, highest first, the lessons after one
    whose ceiling is below the last one chosen cannot displace it either, so they are not scored. Ceilings are
    worked out once per kind of lesson (template, gate and tags; number of trigrams), not once per lesson, and the
    lessons are taken from a heap, so only those taken are ordered.
    """
    if limit <= 0:
        return []
    ranked: list[Scored] = []  # at most ``limit``, ordered as returned
    befores: dict[tuple[str, str | None, tuple[str, ...]], int] = {}
    texts: dict[int, int] = {}
    theirs = len(context.grams)
    heap: list[tuple[int, int, int, Candidate]] = []  # (-ceiling, -id, points before text, lesson): newest first
    for lesson in lessons:
        kind = (lesson.template_id, lesson.gate_id, lesson.tags)
        before = befores.get(kind)
        if before is None:
            before = befores[kind] = _points_before_text(lesson, context)
        ours = len(lesson.grams)
        text = texts.get(ours)
        if text is None:
            text = texts[ours] = _text_ceiling(ours, theirs)
        heap.append((-before - text, -lesson.id, before, lesson))
    heapq.heapify(heap)
    while heap:
        negative_ceiling, _, before, lesson = heapq.heappop(heap)
        if len(ranked) == limit and -negative_ceiling < ranked[-1].score:
            break
        points = before + _text_points(lesson, context)
        if points > 0:
            ranked = sorted([*ranked, Scored(lesson_id=lesson.id, score=points)], key=_rank)[:limit]
    return ranked


def _text_ceiling(ours: int, theirs: int) -> int:
    """The most text points a lesson of ``ours`` trigrams can earn against a review of ``theirs``: two sets share at
    most the smaller's size and their union has at least the larger's, so their Jaccard similarity is at most
    smaller / larger. Computed as ``_text_points`` computes (the same operations in the same order), so the floating
    point keeps the bound."""
    smaller, larger = min(ours, theirs), max(ours, theirs)
    return int(TEXT_WEIGHT * (smaller / larger)) if larger else 0


def _rank(scored: Scored) -> tuple[int, int]:
    return -scored.score, -scored.lesson_id

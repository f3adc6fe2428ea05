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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

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
    def grams(self) -> frozenset[str]:
        """The text's trigrams: made once per review, not once for every lesson scored against it."""
        return trigrams(self.text)


@dataclass(frozen=True)
class Relevant:
    lesson: LessonRecord
    score: int


def trigrams(text: str) -> frozenset[str]:
    """The lower-cased text's three-character windows, whitespace collapsed to one space."""
    normal = " ".join(text.lower().split())
    return frozenset(normal[i : i + 3] for i in range(len(normal) - 2))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def review_context(template_id: str, gate_id: str, evaluation: Evaluation, names: Iterable[str]) -> ReviewContext:
    """What a review is about, for matching lessons: its gate and the criteria that did not pass."""
    failing = [c for c in evaluation.criteria if not c.passed]
    tags = {gate_id.lower()} | {c.code.split(".")[0].lower() for c in failing} | {c.code.lower() for c in failing}
    text = " ".join([*names, *(c.message for c in failing), *(c.message_zh or "" for c in failing)])
    return ReviewContext(template_id=template_id, gate_id=gate_id, tags=frozenset(tags), text=text)


def score(lesson: LessonRecord, context: ReviewContext) -> int:
    return _points_before_text(lesson, context) + _text_points(lesson, context)


def _points_before_text(lesson: LessonRecord, context: ReviewContext) -> int:
    points = 0
    if lesson.template_id == context.template_id:
        points += SAME_GATE if lesson.gate_id == context.gate_id else SAME_TEMPLATE
    return points + PER_TAG * len(set(lesson.tags) & context.tags)


def _text_points(lesson: LessonRecord, context: ReviewContext) -> int:
    lesson_text = " ".join((lesson.what_happened, lesson.repeat, lesson.avoid))
    return int(TEXT_WEIGHT * jaccard(trigrams(lesson_text), context.grams))


def most_relevant(lessons: Sequence[LessonRecord], context: ReviewContext, *, limit: int = SHOWN) -> list[Relevant]:
    """The ``limit`` best-scoring lessons with points, best first, as if every lesson were scored.

    Why not score them all: the text's trigrams are most of a score's cost, and every review ranks every lesson
    of the organisation. Taken by their points before text, best first, the lessons after one that cannot reach
    the last one chosen even with a perfect text match (``TEXT_WEIGHT``) cannot either, so they are not scored.
    """
    if limit <= 0:
        return []
    ranked: list[Relevant] = []  # at most ``limit``, ordered as returned
    for before, lesson in sorted(((_points_before_text(x, context), x) for x in lessons), key=_by_points_then_newest):
        if len(ranked) == limit and before + TEXT_WEIGHT < ranked[-1].score:
            break
        points = before + _text_points(lesson, context)
        if points > 0:
            ranked = sorted([*ranked, Relevant(lesson=lesson, score=points)], key=_rank)[:limit]
    return ranked


def _by_points_then_newest(entry: tuple[int, LessonRecord]) -> tuple[int, int]:
    return -entry[0], -entry[1].id


def _rank(relevant: Relevant) -> tuple[int, int]:
    return -relevant.score, -relevant.lesson.id

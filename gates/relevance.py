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
    points = 0
    if lesson.template_id == context.template_id:
        points += SAME_GATE if lesson.gate_id == context.gate_id else SAME_TEMPLATE
    points += PER_TAG * len(set(lesson.tags) & context.tags)
    lesson_text = " ".join((lesson.what_happened, lesson.repeat, lesson.avoid))
    points += int(TEXT_WEIGHT * jaccard(trigrams(lesson_text), context.grams))
    return points


def most_relevant(lessons: Sequence[LessonRecord], context: ReviewContext, *, limit: int = SHOWN) -> list[Relevant]:
    scored = [Relevant(lesson=lesson, score=score(lesson, context)) for lesson in lessons]
    ranked = sorted((r for r in scored if r.score > 0), key=lambda r: (-r.score, -r.lesson.id))
    return ranked[:limit]

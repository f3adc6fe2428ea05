"""Lessons learned (经验教训): filing and editing them, finding them again (lists, full-text search in Chinese and
English), showing the most relevant ones when a gate review opens, recording which a gatekeeper applied, and
the lessons a killed project still owes its organisation.

Why lessons are records and not a closing note: a lesson nobody reads again teaches nothing. Filed with the
template and gate it came from, a lesson reaches the next review of that gate, and its uses (shown, applied)
are the evidence the maturity model counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from phasegate.gates.authorization import Act
from phasegate.gates.relevance import Relevant, most_relevant, review_context
from phasegate.gates.vocabulary.enums import LessonCategory, LessonUseKind
from phasegate.gates.vocabulary.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import Actor, OrgRole
from phasegate.gates.vocabulary.lessons import LessonDraft, LessonDueRecord, LessonEdit, LessonRecord, LessonUseRecord
from phasegate.gates.vocabulary.snapshots import Evaluation, ProjectSnapshot
from phasegate.gates.vocabulary.template import GateDef
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import require_project, require_round, require_template
from phasegate.usecases.ports import UnitOfWork
from phasegate.usecases.result import SYSTEM, Result, UowFactory


def require_lesson(tx: UnitOfWork, lesson_id: int, *, for_update: bool = False) -> LessonRecord:
    found = tx.lessons.get_lesson(lesson_id, for_update=for_update)
    if found is None:
        raise NotFoundError(f"unknown lesson {lesson_id}; see 'phasegate lesson list'", code="lesson.not_found")
    return found


def _new_lesson(
    tx: UnitOfWork, draft: LessonDraft, project: ProjectSnapshot, *, author: str, now: datetime
) -> LessonRecord:
    """Check the draft against the project (its gate, its round) and insert it; resolves a lesson due."""
    template = require_template(tx, project.template_id, project.template_version).template
    gate_id = draft.gate_id
    if draft.round_id is not None:
        current = require_round(tx, draft.round_id)
        if current.project_key != project.key:
            raise InputError(
                f"--round: round {current.id} is a round of {current.project_key}, not of {project.key}",
                code="lesson.round_project",
            )
        gate_id = gate_id or current.gate_id
    if gate_id is not None and template.gate(gate_id) is None:
        raise InputError(
            f"--gate: {gate_id!r} is not a gate of {template.id}@{template.version}; "
            f"gates: {', '.join(g.id for g in template.gates)}",
            code="gate.unknown",
        )
    record = LessonRecord(
        id=0,
        project_key=project.key,
        template_id=project.template_id,
        gate_id=gate_id,
        round_id=draft.round_id,
        category=draft.category,
        tags=tuple(dict.fromkeys(draft.tags)),
        what_happened=draft.what_happened,
        repeat=draft.repeat,
        avoid=draft.avoid,
        author_id=author,
        created_at=now,
    )
    lesson_id = tx.lessons.add_lesson(record)
    tx.lessons.resolve_lesson_due(project.key, lesson_id=lesson_id, now=now)
    return record.model_copy(update={"id": lesson_id})


@refusals_audited(Act.RECORD_LESSON)
def add_lesson(draft: LessonDraft, *, actor: Actor, uow: UowFactory, now: datetime) -> LessonRecord:
    """File a lesson under a project (optionally its gate or the round whose decision taught it)."""
    with uow() as tx:
        project = require_project(tx, draft.project_key, for_update=True)
        permit(tx, actor, Act.RECORD_LESSON, project=project)
        lesson = _new_lesson(tx, draft, project, author=actor.person_id, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="lesson.added",
            entity=f"project:{project.key}",
            payload={"lesson": lesson.id, "category": lesson.category, "gate": lesson.gate_id} | stamp(actor),
            at=now,
        )
        tx.commit()
    return lesson


def record_closing_lesson(
    tx: UnitOfWork, project: ProjectSnapshot, text: str, *, actor: Actor, now: datetime
) -> LessonRecord:
    """The lesson ``project close --lessons TEXT`` files (category other), inside the closing transaction."""
    draft = LessonDraft(project_key=project.key, what_happened=text)
    return _new_lesson(tx, draft, project, author=actor.person_id, now=now)


@refusals_audited(Act.EDIT_LESSON)
def edit_lesson(lesson_id: int, edit: LessonEdit, *, actor: Actor, uow: UowFactory, now: datetime) -> LessonRecord:
    """Rewrite a lesson (its author or a PMO admin); the audit keeps the fields before and after."""
    changes = edit.model_dump(exclude_none=True)
    if not changes:
        raise InputError("nothing to change: give at least one of --category, --tags, --what, --repeat, --avoid")
    with uow() as tx:
        lesson = require_lesson(tx, lesson_id, for_update=True)
        permit(tx, actor, Act.EDIT_LESSON, subject=lesson.author_id, entity=f"lesson:{lesson_id}")
        if "tags" in changes:
            changes["tags"] = tuple(dict.fromkeys(changes["tags"]))
        updated = lesson.model_copy(update=changes | {"edited_at": now, "edited_by": actor.person_id})
        tx.lessons.update_lesson(updated)
        tx.append_audit(
            actor=audit_name(actor),
            action="lesson.edited",
            entity=f"lesson:{lesson_id}",
            payload={
                "changes": {
                    field: {"before": getattr(lesson, field), "after": getattr(updated, field)} for field in changes
                }
            }
            | stamp(actor),
            at=now,
        )
        tx.commit()
    return updated


def list_lessons(
    *,
    uow: UowFactory,
    project_key: str | None = None,
    template_id: str | None = None,
    category: LessonCategory | None = None,
) -> list[LessonRecord]:
    with uow() as tx:
        return tx.lessons.lessons(project_key=project_key, template_id=template_id, category=category)


def search_lessons(query: str, *, uow: UowFactory) -> list[LessonRecord]:
    """Lessons containing every word of the query, in Chinese or English (trigram full-text search)."""
    if not query.strip():
        raise InputError("QUERY: give one or more words to search for (Chinese or English)")
    with uow() as tx:
        return tx.lessons.search_lessons(query)


class LessonView(Result):
    lesson: LessonRecord
    uses: tuple[LessonUseRecord, ...]


def show_lesson(lesson_id: int, *, uow: UowFactory) -> LessonView:
    with uow() as tx:
        lesson = require_lesson(tx, lesson_id)
        return LessonView(lesson=lesson, uses=tuple(tx.lessons.lesson_uses(lesson_id=lesson_id)))


class LessonRow(Result):
    lesson: LessonRecord
    shown: int
    applied: int


def lesson_board(query: str, *, uow: UowFactory) -> list[LessonRow]:
    """The lessons page: matching ``query`` (best first) or all (newest first), with how often each was shown
    at a review and applied by a gatekeeper."""
    with uow() as tx:
        found = tx.lessons.search_lessons(query) if query.strip() else list(reversed(tx.lessons.lessons()))
        uses = tx.lessons.lesson_uses()
    counts: dict[tuple[int, LessonUseKind], int] = {}
    for use in uses:
        counts[(use.lesson_id, use.kind)] = counts.get((use.lesson_id, use.kind), 0) + 1
    return [
        LessonRow(
            lesson=lesson,
            shown=counts.get((lesson.id, LessonUseKind.SHOWN), 0),
            applied=counts.get((lesson.id, LessonUseKind.APPLIED), 0),
        )
        for lesson in found
    ]


@refusals_audited(Act.APPLY_LESSON)
def mark_applied(lesson_id: int, round_id: UUID, *, actor: Actor, uow: UowFactory, now: datetime) -> bool:
    """A gatekeeper of the round says the lesson shaped their decision; False when already recorded."""
    with uow() as tx:
        lesson = require_lesson(tx, lesson_id)
        current = require_round(tx, round_id)
        project = require_project(tx, current.project_key)
        permit(tx, actor, Act.APPLY_LESSON, project=project, entity=f"round:{round_id}")
        if actor.person_id not in current.approvers and OrgRole.PMO_ADMIN not in actor.roles:
            raise PermissionDeniedError(
                f"{actor.person_id} holds no seat in round {round_id}; its approvers mark lessons applied there",
                code="lesson.not_approver",
            )
        if lesson.project_key == current.project_key and lesson.round_id == current.id:
            raise ConflictError(
                f"lesson {lesson_id} was learned in round {round_id}; it cannot also be applied there",
                code="lesson.same_round",
            )
        use = LessonUseRecord(
            lesson_id=lesson_id,
            kind=LessonUseKind.APPLIED,
            review_id=current.review_id,
            round_id=current.id,
            project_key=current.project_key,
            gate_id=current.gate_id,
            person_id=actor.person_id,
            score=0,
            at=now,
        )
        added = tx.lessons.record_lesson_uses([use]) == 1
        if added:
            tx.append_audit(
                actor=audit_name(actor),
                action="lesson.applied",
                entity=f"round:{round_id}",
                payload={"lesson": lesson_id, "project": current.project_key, "gate": current.gate_id} | stamp(actor),
                at=now,
            )
        tx.commit()
    return added


def lessons_due(*, uow: UowFactory, owner_id: str | None = None, open_only: bool = True) -> list[LessonDueRecord]:
    with uow() as tx:
        return tx.lessons.lessons_due(open_only=open_only, owner_id=owner_id)


def surface_lessons(
    tx: UnitOfWork,
    project: ProjectSnapshot,
    gate: GateDef,
    evaluation: Evaluation,
    *,
    review_id: UUID,
    round_id: UUID | None,
    now: datetime,
) -> list[Relevant]:
    """The lessons a review shows (``gates.relevance``), recorded as shown (inside the review's transaction)."""
    context = review_context(project.template_id, gate.id, evaluation, (project.name, gate.name, gate.name_zh or ""))
    scored = most_relevant(tx.lessons.candidates(), context)
    found = tx.lessons.lessons_by_id([s.lesson_id for s in scored])
    chosen = [Relevant(lesson=found[s.lesson_id], score=s.score) for s in scored if s.lesson_id in found]
    tx.lessons.record_lesson_uses(
        [
            LessonUseRecord(
                lesson_id=r.lesson.id,
                kind=LessonUseKind.SHOWN,
                review_id=review_id,
                round_id=round_id,
                project_key=project.key,
                gate_id=gate.id,
                person_id=SYSTEM,
                score=r.score,
                at=now,
            )
            for r in chosen
        ]
    )
    return chosen


def lessons_context(chosen: list[Relevant]) -> list[dict[str, Any]]:
    """The lessons as packets, artifacts and notification templates show them."""
    return [
        {
            "id": r.lesson.id,
            "score": r.score,
            "project_key": r.lesson.project_key,
            "gate_id": r.lesson.gate_id,
            "category": r.lesson.category.value,
            "tags": list(r.lesson.tags),
            "what_happened": r.lesson.what_happened,
            "repeat": r.lesson.repeat,
            "avoid": r.lesson.avoid,
        }
        for r in chosen
    ]

"""Core statements the unit of work runs, above all on every review, vote and decision, built once per process.

Why not the ORM here: loading mapped objects and building a fresh ``select()`` per call cost about 80 us a
statement, against about 20 us for a prebuilt Core statement whose cache key SQLAlchemy memoizes. A gate
round runs some forty of them, so this is most of a round's time (``bench/decisions.py --profile``).
Values come in as bound parameters; an UPDATE's SET clause is whatever columns the parameters name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    case,
    func,
    insert,
    select,
    type_coerce,
    union_all,
    update,
)

from phasegate.gates.vocabulary.enums import RoundStatus
from phasegate.models import catalog as c

PEOPLE = c.PEOPLE
PROJECTS = c.PROJECTS
ROLES = c.PROJECT_ROLES
DOCUMENTS = c.DOCUMENTS
BASELINES = c.BASELINES
STAGE_BUDGETS = c.STAGE_BUDGETS
COSTS = c.COST_ENTRIES
EVM_REPORTS = c.EVM_REPORTS
RISKS = c.RISKS
MILESTONES = c.MILESTONES
SCORES = c.SCORES
REVIEWS = c.GATE_REVIEWS
ROUNDS = c.APPROVAL_ROUNDS
VOTES = c.VOTES
DECISIONS = c.DECISIONS
OUTBOX = c.OUTBOX
LESSONS = c.LESSONS
LESSONS_DUE = c.LESSONS_DUE
TEMPLATE_VERSIONS = c.TEMPLATE_VERSIONS
RAG_SNAPSHOTS = c.RAG_SNAPSHOTS
TOLERANCE_EXCEPTIONS = c.TOLERANCE_EXCEPTIONS

# reads ---------------------------------------------------------------------------------------------------
PERSON = select(PEOPLE).where(PEOPLE.c.id == bindparam("id"))
PERSON_BY_LOGIN = select(PEOPLE).where(PEOPLE.c.login == bindparam("login"))
PEOPLE_BY_ID = select(PEOPLE).where(PEOPLE.c.id.in_(bindparam("ids", expanding=True)))


def people_by_ids(count: int) -> Select[Any]:
    """``PEOPLE_BY_ID`` for exactly ``count`` ids, bound as ``id0``... : no expanding parameter, so it can be
    prepared (``models.prepared``) once per count, as the few people of a review or a decision are read."""
    return select(PEOPLE).where(PEOPLE.c.id.in_([bindparam(f"id{i}") for i in range(count)]))


PROJECT = select(PROJECTS).where(PROJECTS.c.key == bindparam("key"))
PROJECT_FOR_UPDATE = PROJECT.with_for_update()
ROUNDS_PROJECT_KEY = select(ROUNDS.c.project_key).where(ROUNDS.c.id == bindparam("round_id"))
"""The project of round ``round_id``, for reads sent before the round's own answer is back (``models.read_ahead``)."""
ROUNDS_PROJECT_FOR_UPDATE = (
    select(PROJECTS).where(PROJECTS.c.key == ROUNDS_PROJECT_KEY.scalar_subquery()).with_for_update(of=PROJECTS)
)


def project_people(*, of_round: bool, also: int) -> Select[Any]:
    """The people of a project (sponsor, manager, role holders) and ``also`` more bound as ``id0``...; the project
    is ``key``'s, or round ``round_id``'s (``of_round``): everyone a review, a vote or a decision may look up, read
    in one statement before any of them is asked for (``models.read_ahead``)."""
    key = ROUNDS_PROJECT_KEY.scalar_subquery() if of_round else bindparam("key")
    # The ``also`` ids join the union rather than an OR beside it: PostgreSQL cannot read ``id IN (subquery) OR id
    # IN (list)`` by the primary key and scanned every person for it (2.7 ms a step with 20,000 people).
    holders = union_all(
        select(PROJECTS.c.sponsor_id).where(PROJECTS.c.key == key),
        select(PROJECTS.c.manager_id).where(PROJECTS.c.key == key),
        select(ROLES.c.person_id).where(ROLES.c.project_key == key),
        *(select(bindparam(f"id{i}", type_=PEOPLE.c.id.type)) for i in range(also)),
    )
    return select(PEOPLE).where(PEOPLE.c.id.in_(holders))


PROJECT_ROLES = (
    select(ROLES.c.role, ROLES.c.person_id)
    .where(ROLES.c.project_key == bindparam("key"))
    .order_by(ROLES.c.role, ROLES.c.person_id)
)

_latest_versions = (
    select(DOCUMENTS.c.deliverable_id, func.max(DOCUMENTS.c.version).label("version"))
    .where(DOCUMENTS.c.project_key == bindparam("key"))
    .group_by(DOCUMENTS.c.deliverable_id)
    .subquery()
)
LATEST_DOCUMENTS = (
    select(DOCUMENTS)
    .join(
        _latest_versions,
        (DOCUMENTS.c.deliverable_id == _latest_versions.c.deliverable_id)
        & (DOCUMENTS.c.version == _latest_versions.c.version),
    )
    .where(DOCUMENTS.c.project_key == bindparam("key"))
    .order_by(DOCUMENTS.c.deliverable_id)
)
BASELINE = select(BASELINES).where(BASELINES.c.project_key == bindparam("key"))
STAGE_BUDGET = select(STAGE_BUDGETS.c.amount).where(
    STAGE_BUDGETS.c.project_key == bindparam("key"), STAGE_BUDGETS.c.stage_id == bindparam("stage_id")
)
ACTUAL_COST = select(func.sum(COSTS.c.amount)).where(COSTS.c.project_key == bindparam("key"))
SPEND = select(
    func.sum(COSTS.c.amount),
    func.sum(case((COSTS.c.stage_id == bindparam("stage_id"), COSTS.c.amount))),
).where(COSTS.c.project_key == bindparam("key"))
LATEST_EVM_REPORT = (
    select(EVM_REPORTS)
    .where(EVM_REPORTS.c.project_key == bindparam("key"), EVM_REPORTS.c.as_of <= bindparam("as_of"))
    .order_by(EVM_REPORTS.c.as_of.desc())
    .limit(1)
)
_report_as_of = (
    select(func.max(EVM_REPORTS.c.as_of))
    .where(EVM_REPORTS.c.project_key == bindparam("key"), EVM_REPORTS.c.as_of <= bindparam("as_of"))
    .scalar_subquery()
)
REPORT_PREFIX = "report_"
"""EVIDENCE_FIGURES's prefix for the status report's columns (apart from the baseline's of the same names)."""


def _evidence_figures(stage: ColumnElement[Any]) -> Select[Any]:
    """BASELINE, LATEST_EVM_REPORT, SPEND and STAGE_BUDGET in one statement: a review reads them all (one row, the
    project's; its baseline's and report's columns null when it has none), for ``stage`` (a parameter, or the
    project's own stage column), whose value the row names as ``project_stage_id``."""
    return (
        select(
            PROJECTS.c.stage_id.label("project_stage_id"),
            BASELINES.c.bac,
            BASELINES.c.contingency,
            BASELINES.c.contingency_used,
            select(func.sum(COSTS.c.amount))
            .where(COSTS.c.project_key == bindparam("key"))
            .scalar_subquery()
            .label("spent"),
            select(func.sum(COSTS.c.amount))
            .where(COSTS.c.project_key == bindparam("key"), COSTS.c.stage_id == stage)
            .scalar_subquery()
            .label("stage_spent"),
            select(STAGE_BUDGETS.c.amount)
            .where(STAGE_BUDGETS.c.project_key == bindparam("key"), STAGE_BUDGETS.c.stage_id == stage)
            .scalar_subquery()
            .label("stage_budget"),
            *[column.label(REPORT_PREFIX + column.name) for column in EVM_REPORTS.c if column.name != "recorded_at"],
        )
        .select_from(
            PROJECTS.outerjoin(BASELINES, BASELINES.c.project_key == PROJECTS.c.key).outerjoin(
                EVM_REPORTS, (EVM_REPORTS.c.project_key == PROJECTS.c.key) & (EVM_REPORTS.c.as_of == _report_as_of)
            )
        )
        .where(PROJECTS.c.key == bindparam("key"))
    )


EVIDENCE_FIGURES = _evidence_figures(bindparam("stage_id"))
STAGE_EVIDENCE_FIGURES = _evidence_figures(PROJECTS.c.stage_id)
"""EVIDENCE_FIGURES of the stage the project stands in, as the database has it: sent before the project is read."""
EVM_HISTORY = select(EVM_REPORTS).where(EVM_REPORTS.c.project_key == bindparam("key")).order_by(EVM_REPORTS.c.as_of)
PROJECT_RISKS = select(RISKS).where(RISKS.c.project_key == bindparam("key")).order_by(RISKS.c.id)
PROJECT_MILESTONES = (
    select(MILESTONES).where(MILESTONES.c.project_key == bindparam("key")).order_by(MILESTONES.c.due, MILESTONES.c.id)
)
GATE_SCORES = (
    select(SCORES)
    .where(SCORES.c.project_key == bindparam("key"), SCORES.c.gate_id == bindparam("gate_id"))
    .order_by(SCORES.c.gatekeeper, SCORES.c.factor)
)
PROJECT_SCORES = (
    select(SCORES).where(SCORES.c.project_key == bindparam("key")).order_by(SCORES.c.gatekeeper, SCORES.c.factor)
)
"""A project's scores at every gate, in GATE_SCORES's order: for a read sent before the gate is known."""

VOTE_PREFIX = "vote_"
"""A vote's columns in ``ROUND_WITH_VOTES`` are named with this prefix (a round's ``id`` is not its votes' ``id``)."""
ROUND_WITH_VOTES = (
    select(ROUNDS, *(column.label(f"{VOTE_PREFIX}{column.name}") for column in VOTES.c))
    .select_from(ROUNDS.outerjoin(VOTES, VOTES.c.round_id == ROUNDS.c.id))
    .where(ROUNDS.c.id == bindparam("id"))
    .order_by(VOTES.c.cast_at)
)
"""One round and its votes in one statement: one row per vote, or one row with null vote columns."""
LOCK_ROUND = select(ROUNDS.c.id).where(ROUNDS.c.id == bindparam("id")).with_for_update()
OPEN_ROUNDS = (
    select(ROUNDS)
    .where(ROUNDS.c.project_key == bindparam("key"), ROUNDS.c.status == RoundStatus.OPEN.value)
    .order_by(ROUNDS.c.opened_at)
)
ROUNDS_VOTES = (
    select(VOTES).where(VOTES.c.round_id.in_(bindparam("round_ids", expanding=True))).order_by(VOTES.c.cast_at)
)
VOTE_BY_KEY = select(VOTES).where(VOTES.c.idempotency_key == bindparam("key"))
LESSON_RECORD = tuple(c for c in LESSONS.c if c.name not in {"search_text", "revision", "trigrams", "trigrams_scheme"})
"""A lesson's columns as people read it: not what search and scoring keep for themselves (some 1 KB a lesson)."""
LESSONS_ALL = select(*LESSON_RECORD).order_by(LESSONS.c.id)
# A lesson's stamp, its creation time as the driver gives it (SQLite's text, psycopg's datetime), unconverted: only
# compared and hashed.
_LESSON_STAMP = (
    LESSONS.c.id,
    type_coerce(LESSONS.c.created_at, String).label("created_at"),
    LESSONS.c.revision,
)
LESSON_CANDIDATES = select(*_LESSON_STAMP, LESSONS.c.template_id, LESSONS.c.gate_id)
LESSONS_REGISTER_STAMP = select(c.REGISTER_STAMPS.c.stamp).where(c.REGISTER_STAMPS.c.name == "lessons")
LESSON_CODES = select(*_LESSON_STAMP, LESSONS.c.tags, LESSONS.c.trigrams, LESSONS.c.trigrams_scheme).where(
    LESSONS.c.id.in_(bindparam("ids", expanding=True))
)
LESSON_TEXTS = select(LESSONS.c.id, LESSONS.c.what_happened, LESSONS.c.repeat, LESSONS.c.avoid).where(
    LESSONS.c.id.in_(bindparam("ids", expanding=True))
)
WRITE_LESSON_TRIGRAMS = (
    update(LESSONS)
    .where(LESSONS.c.id == bindparam("lesson_id"), LESSONS.c.revision == bindparam("read_revision"))
    .values(trigrams=bindparam("codes"), trigrams_scheme=bindparam("scheme"))
)
LESSONS_BY_ID = select(*LESSON_RECORD).where(LESSONS.c.id.in_(bindparam("ids", expanding=True)))
HAS_LESSONS = select(select(LESSONS.c.id).where(LESSONS.c.project_key == bindparam("key")).exists())
ROUNDS_PROJECT_HAS_LESSONS = select(
    PROJECTS.c.key, select(LESSONS.c.id).where(LESSONS.c.project_key == PROJECTS.c.key).exists().label("has")
).where(PROJECTS.c.key == ROUNDS_PROJECT_KEY.scalar_subquery())
"""``HAS_LESSONS`` of round ``round_id``'s project, with its key: sent before the round is read (a decision's)."""
LESSON_DUE_OPENED = select(LESSONS_DUE.c.project_key).where(LESSONS_DUE.c.project_key == bindparam("key"))

# writes --------------------------------------------------------------------------------------------------
INSERT_REVIEW = insert(REVIEWS)
INSERT_ROUND = insert(ROUNDS)
INSERT_VOTE = insert(VOTES)
INSERT_DECISION = insert(DECISIONS)
INSERT_OUTBOX = insert(OUTBOX)
INSERT_LESSON_DUE = insert(LESSONS_DUE)
UPDATE_PROJECT = update(PROJECTS).where(PROJECTS.c.key == bindparam("project_key"))
UPDATE_REVIEW = update(REVIEWS).where(REVIEWS.c.id == bindparam("review_id"))
UPDATE_ROUND = update(ROUNDS).where(ROUNDS.c.id == bindparam("round_id"))

"""The first slice through the real services on SQLite and PostgreSQL: review, vote, decide, audit, outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from phasegate.gates.vocabulary.commands import (
    AddPerson,
    CastVote,
    CreateProject,
    RecordCost,
    RegisterDocument,
    RequestReview,
)
from phasegate.gates.vocabulary.enums import Decision, ProjectStatus, Recommendation, RoundStatus
from phasegate.gates.vocabulary.errors import ConflictError, NotFoundError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models import tables as t
from phasegate.models.audit_store import verify_audit
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import approvals, services
from phasegate.usecases.ports import UnitOfWork
from tests import actors

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def env(db_url: str) -> Any:
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine)

    clock = Clock()
    for source, template in shipped_templates():
        services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source=source,
            uow=uow,
            now=clock(),
            actor=SYSTEM_ACTOR,
        )
    for pid, locale in (("alice", "en"), ("bob", "zh-CN"), ("carol", "en")):
        services.add_person(
            AddPerson(
                id=pid,
                name=pid.title(),
                email=f"{pid}@example.com",
                locale=locale,  # type: ignore[arg-type]
                notify_urls=(f"json://127.0.0.1:9/{pid}",),
            ),
            uow=uow,
            now=clock(),
            actor=SYSTEM_ACTOR,
        )
    yield uow, clock, sessions
    engine.dispose()


def _ready_project(uow: Callable[[], UnitOfWork], clock: Clock, key: str, *, spent: str = "100") -> None:
    services.create_project(
        CreateProject(
            key=key, template_id="it-pmo", name=key, sponsor_id="alice", manager_id="bob", budget=Decimal("1000")
        ),
        uow=uow,
        now=clock(),
        actor=SYSTEM_ACTOR,
    )
    template = services.get_template("it-pmo", 1, uow=uow).template
    services.assign_role(key, "pmo", "carol", uow=uow, now=clock(), actor=SYSTEM_ACTOR)
    signer = {"sponsor": "alice", "pmo": "carol"}
    for deliverable in template.gates[0].deliverables:
        standard = template.deliverable(deliverable)
        services.register_document(
            RegisterDocument(
                project_key=key,
                deliverable_id=deliverable,
                path=f"/d/{deliverable}.md",
                sha256=hashlib.sha256(f"{deliverable}.md".encode()).hexdigest(),
                size=3,
                format="md",
                headings=standard.required_sections,
                approved_by=signer[standard.approver_role],
            ),
            uow=uow,
            now=clock(),
            actor=SYSTEM_ACTOR,
        )
    services.record_cost(RecordCost(project_key=key, amount=Decimal(spent)), uow=uow, now=clock(), actor=SYSTEM_ACTOR)


def _probe(path: str) -> str:
    """The files registered here are not on disk; they are 'unchanged' when named like their hash says."""
    return hashlib.sha256(path.rsplit("/", 1)[-1].encode()).hexdigest()


def _count(sessions: Any, table: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)))


def test_go_advances_the_project_once_and_everything_is_audited(env: Any) -> None:
    uow, clock, sessions = env
    _ready_project(uow, clock, "P1")
    review = services.start_review(
        RequestReview(project_key="P1", requested_by="bob"),
        uow=uow,
        now=clock(),
        probe=_probe,
        actor=actors.admin("bob"),
    )
    assert review.evaluation.recommendation is Recommendation.GO
    assert review.round_id is not None and review.approvers == ("alice",)
    assert review.notifications == 1
    with sessions() as session:
        message = session.scalars(select(t.OutboxMessage)).one()
    assert (message.kind, message.recipient_id, message.target) == (
        "approval_requested",
        "alice",
        "json://127.0.0.1:9/alice",
    )
    assert message.context["vote_command"] == f"phasegate vote {review.round_id} --decision go"

    vote = actors.cast_vote(
        CastVote(round_id=review.round_id, voter_id="alice", decision=Decision.GO), uow=uow, now=clock(), probe=_probe
    )
    assert (vote.round_status, vote.round_decision) == (RoundStatus.RESOLVED, Decision.GO)
    applied = approvals.apply_round_decision(review.round_id, uow=uow, now=clock())
    assert (applied.status, applied.stage_id, applied.already_applied) == (ProjectStatus.ACTIVE, "planning", False)
    again = approvals.apply_round_decision(review.round_id, uow=uow, now=clock())
    assert again.already_applied and again.stage_id == "planning"

    view = services.project_view("P1", uow=uow)
    assert view.gate_id == "ready-for-executing" and view.pending_rounds == ()
    assert [(h.gate_id, h.decision, h.decided_by) for h in view.history] == [
        ("ready-for-planning", Decision.GO, ("alice",))
    ]
    with sessions() as session:
        assert verify_audit(session) is None
        actions = list(session.scalars(select(t.AuditEntry.action).order_by(t.AuditEntry.seq)))
        decision_messages = session.scalar(select(func.count()).where(t.OutboxMessage.kind == "decision_made"))
    assert actions[-4:] == ["round.opened", "vote.cast", "round.resolved", "decision.applied"]
    assert decision_messages == 2  # sponsor and manager, once each despite the second apply


@pytest.mark.parametrize(
    ("decision", "status", "stage", "recycles"),
    [
        (Decision.RECYCLE, ProjectStatus.ACTIVE, "initiating", 1),
        (Decision.HOLD, ProjectStatus.ON_HOLD, "initiating", 0),
        (Decision.KILL, ProjectStatus.KILLED, "initiating", 0),
    ],
)
def test_recycle_hold_kill(env: Any, decision: Decision, status: ProjectStatus, stage: str, recycles: int) -> None:
    uow, clock, _ = env
    _ready_project(uow, clock, "P2", spent="1200")
    review = services.start_review(
        RequestReview(project_key="P2"), uow=uow, now=clock(), probe=_probe, actor=SYSTEM_ACTOR
    )
    assert review.evaluation.recommendation is Recommendation.RECYCLE and review.round_id is not None
    actors.cast_vote(
        CastVote(round_id=review.round_id, voter_id="alice", decision=decision, reason="because"),
        uow=uow,
        now=clock(),
        probe=_probe,
    )
    applied = approvals.apply_round_decision(review.round_id, uow=uow, now=clock())
    project = services.project_view("P2", uow=uow).project
    assert (applied.status, project.status, project.stage_id, project.recycle_count) == (
        status,
        status,
        stage,
        recycles,
    )


def test_not_ready_records_why_and_opens_no_round(env: Any) -> None:
    uow, clock, sessions = env
    services.create_project(
        CreateProject(
            key="P3", template_id="it-pmo", name="P3", sponsor_id="alice", manager_id="bob", budget=Decimal("10")
        ),
        uow=uow,
        now=clock(),
        actor=SYSTEM_ACTOR,
    )
    review = services.start_review(
        RequestReview(project_key="P3"), uow=uow, now=clock(), probe=_probe, actor=SYSTEM_ACTOR
    )
    assert review.round_id is None and review.evaluation.recommendation is Recommendation.NOT_READY
    with sessions() as session:
        stored = session.get_one(t.GateReview, review.review_id)
        message = session.scalars(select(t.OutboxMessage)).one()
    assert stored.status == "not_ready" and "is not registered" in stored.evaluation["criteria"][0]["message"]
    assert (message.kind, message.recipient_id, message.locale) == ("gate_not_ready", "bob", "zh-CN")
    assert _count(sessions, t.ApprovalRound) == 0


def test_refused_votes_write_nothing_but_their_audit_entry(env: Any) -> None:
    uow, clock, sessions = env
    _ready_project(uow, clock, "P4")
    review = services.start_review(
        RequestReview(project_key="P4"), uow=uow, now=clock(), probe=_probe, actor=SYSTEM_ACTOR
    )
    assert review.round_id is not None
    audit_before = _count(sessions, t.AuditEntry)
    with pytest.raises(PermissionDeniedError, match="carol is not an approver"):
        actors.cast_vote(
            CastVote(round_id=review.round_id, voter_id="carol", decision=Decision.GO),
            uow=uow,
            now=clock(),
            probe=_probe,
        )
    with pytest.raises(PermissionDeniedError, match="unknown person 'nobody'"):
        actors.cast_vote(
            CastVote(round_id=review.round_id, voter_id="nobody", decision=Decision.GO),
            uow=uow,
            now=clock(),
            probe=_probe,
        )
    # Both refusals are audited: an actor no door could have proved is a security event, not a typo.
    assert _count(sessions, t.AuditEntry) == audit_before + 2 and _count(sessions, t.Vote) == 0
    with pytest.raises(ConflictError, match="already has an open approval round"):
        services.start_review(RequestReview(project_key="P4"), uow=uow, now=clock(), probe=_probe, actor=SYSTEM_ACTOR)
    actors.cast_vote(
        CastVote(round_id=review.round_id, voter_id="alice", decision=Decision.HOLD, reason="later"),
        uow=uow,
        now=clock(),
        probe=_probe,
    )
    with pytest.raises(ConflictError, match="resolved"):
        actors.cast_vote(
            CastVote(round_id=review.round_id, voter_id="alice", decision=Decision.GO),
            uow=uow,
            now=clock(),
            probe=_probe,
        )
    assert _count(sessions, t.Vote) == 1


def test_template_versions_are_immutable(env: Any) -> None:
    uow, clock, _ = env
    source, template = next((s, t) for s, t in shipped_templates() if t.id == "it-pmo")
    same = services.publish_template(
        template, content_hash=template_content_hash(template), source=source, uow=uow, now=clock(), actor=SYSTEM_ACTOR
    )
    assert not same.created
    changed = template.model_copy(update={"name": "Edited"})
    with pytest.raises(ConflictError, match="raise 'version' to 3"):  # it-pmo@2 ships too: the next free one
        services.publish_template(
            changed,
            content_hash=template_content_hash(changed),
            source=source,
            uow=uow,
            now=clock(),
            actor=SYSTEM_ACTOR,
        )


def test_unknown_references_are_not_found(env: Any) -> None:
    uow, clock, sessions = env
    with pytest.raises(NotFoundError, match="unknown template 'nope'"):
        services.create_project(
            CreateProject(
                key="P6", template_id="nope", name="x", sponsor_id="alice", manager_id="bob", budget=Decimal(1)
            ),
            uow=uow,
            now=clock(),
            actor=SYSTEM_ACTOR,
        )
    with pytest.raises(NotFoundError, match="--sponsor: unknown person 'zed'"):
        services.create_project(
            CreateProject(
                key="P6", template_id="it-pmo", name="x", sponsor_id="zed", manager_id="bob", budget=Decimal(1)
            ),
            uow=uow,
            now=clock(),
            actor=SYSTEM_ACTOR,
        )
    assert _count(sessions, t.Project) == 0

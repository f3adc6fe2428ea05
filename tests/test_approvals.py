"""The approval engine through the real services on SQLite and PostgreSQL.

A 2-of-3 gate (sponsor, finance, pmo) on a variant of it-pmo exercises policies, delegation, segregation
of duties, stale evidence, idempotency, conditions, reminders and reconciliation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import event, func, orm, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bench.peers.phasegate_gate import counting_cursor, counting_sqlite
from bench.peers.wire import round_trips
from phasegate.gates.vocabulary.commands import AddPerson, CastVote, Delegate, RecordCost, RequestReview
from phasegate.gates.vocabulary.enums import BallotKind, Decision, ProjectStatus, Recommendation, RoundStatus
from phasegate.gates.vocabulary.errors import ConflictError, InputError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import ConditionSpec, OutboxRequest
from phasegate.models import db
from phasegate.models import tables as t
from phasegate.models.audit_store import verify_audit
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.notifications.routing import expand_targets, parse_org_config
from phasegate.usecases import approvals, services
from phasegate.usecases.ports import UnitOfWork
from tests import actors
from tests.gatekeeping import add_ready_project, probe, variant

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class Env:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.clock = Clock()

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def vote(self, round_id: UUID, voter: str, decision: Decision | None, **extra: Any) -> approvals.VoteResult:
        reason = extra.pop("reason", "" if decision is Decision.GO else "because")
        return actors.cast_vote(
            CastVote(round_id=round_id, voter_id=voter, decision=decision, reason=reason, **extra),
            uow=self.uow,
            now=self.clock(),
            probe=probe,
        )

    def round(self, round_id: UUID) -> Any:
        return services.get_round(round_id, uow=self.uow)

    def audit_actions(self) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(t.AuditEntry.action).order_by(t.AuditEntry.seq)))


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = _seeded(db_url)
    yield e
    e.engine.dispose()


def _seeded(url: str) -> Env:
    """An environment on ``url`` with the three policy variants of it-pmo published and the people added."""
    e = Env(url)
    for text, tpl in (
        variant({"policy": "m_of_n", "m": 2, "approvers": ["sponsor", "finance", "pmo"]}, "it-2of3"),
        variant({"policy": "sequential", "approvers": ["pmo", "finance", "sponsor"]}, "it-seq"),
        variant({"policy": "all", "approvers": ["sponsor", "finance"], "veto_roles": ["finance"]}, "it-all"),
    ):
        services.publish_template(
            tpl, content_hash=template_content_hash(tpl), source=text, uow=e.uow, now=e.clock(), actor=SYSTEM_ACTOR
        )
    for pid in ("sam", "fin", "pam", "mgr", "dee", "zed"):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com", notify_urls=(f"json://127.0.0.1:9/{pid}",)),
            uow=e.uow,
            now=e.clock(),
            actor=SYSTEM_ACTOR,
        )
    return e


def _ready(env: Env, key: str, template: str = "it-2of3", requested_by: str | None = "zed") -> UUID:
    add_ready_project(env.uow, env.clock, key, template_id=template)
    return _requested(env, key, requested_by)


def _requested(env: Env, key: str, requested_by: str | None = "zed") -> UUID:
    """A review of ``key`` asked for by ``requested_by`` (an admin); its round's id."""
    review = services.start_review(
        RequestReview(project_key=key, requested_by=requested_by),
        uow=env.uow,
        now=env.clock(),
        probe=probe,
        actor=actors.admin(requested_by),
    )
    assert review.round_id is not None, review.evaluation.reasons
    return review.round_id


def test_two_of_three_resolves_as_soon_as_certain_and_closes_the_third_request(env: Env) -> None:
    round_id = _ready(env, "A1")
    first = env.vote(round_id, "sam", Decision.GO)
    assert first.round_status is RoundStatus.OPEN and set(first.pending) == {"fin", "pam"}
    second = env.vote(round_id, "fin", Decision.GO)
    assert (second.round_status, second.round_decision) == (RoundStatus.RESOLVED, Decision.GO)
    assert second.closed == ("pam",)
    with pytest.raises(ConflictError, match="resolved"):
        env.vote(round_id, "pam", Decision.KILL)
    actions = env.audit_actions()
    assert actions.count("request.closed") == 1 and "round.resolved" in actions
    assert actions[-1] == "vote.refused"  # the late vote on the resolved round is refused, and audited
    applied = approvals.apply_round_decision(round_id, uow=env.uow, now=env.clock())
    assert applied.stage_id == "planning"


def test_the_rows_a_round_writes_are_keyed_in_the_order_they_were_made(env: Env) -> None:
    """Time-ordered keys (UUIDv7, ``models.row_keys``): each insert lands on its index's rightmost leaf instead of
    a random one. Two rounds one after the other: every key of the second sorts after every key of the first."""
    tables = (t.GateReview, t.ApprovalRound, t.Vote, t.GateDecision, t.OutboxMessage)
    made = []
    for key in ("K1", "K2"):
        round_id = _ready(env, key, template="it-all")
        env.vote(round_id, "sam", Decision.GO)
        env.vote(round_id, "fin", Decision.GO)
        approvals.apply_round_decision(round_id, uow=env.uow, now=env.clock())
        with env.sessions() as session:
            ids = {table.__name__: set(session.scalars(select(table.id))) for table in tables}
        made.append({name: keys - set().union(*(m[name] for m in made)) for name, keys in ids.items()})
    first, second = made
    for name in first:
        assert first[name] and second[name], name
        assert {key.version for key in first[name] | second[name]} == {7}, name
        assert max(first[name]) < min(second[name]), name


def test_once_a_round_cannot_pass_the_remaining_votes_choose_the_rejection(env: Env) -> None:
    round_id = _ready(env, "A2")
    env.vote(round_id, "sam", Decision.RECYCLE)
    blocked = env.vote(round_id, "pam", Decision.KILL)
    assert blocked.round_decision is None and "can no longer pass" in blocked.explanation
    result = env.vote(round_id, "fin", Decision.HOLD)
    assert result.round_decision is Decision.RECYCLE  # as cautious as two of the three rejections agree on


def test_delegate_votes_on_behalf_and_reads_so_everywhere(env: Env) -> None:
    round_id = _ready(env, "A3")
    approvals.delegate(
        Delegate(
            principal_id="fin",
            delegate_id="dee",
            valid_from=T0.date(),
            valid_to=T0.date() + timedelta(days=5),
            template_id="it-2of3",
        ),
        uow=env.uow,
        now=env.clock(),
        actor=SYSTEM_ACTOR,
    )
    with pytest.raises(approvals.SecurityRefusedError, match="no delegation from sam"):
        env.vote(round_id, "dee", Decision.GO, on_behalf_of="sam")
    result = env.vote(round_id, "dee", Decision.GO, on_behalf_of="fin")
    assert (result.voter_id, result.signer_id) == ("fin", "dee")
    vote = env.round(round_id).live_votes[0]
    assert vote.signature == "dee on behalf of fin"
    with pytest.raises(ConflictError, match="fin already cast"):
        env.vote(round_id, "fin", Decision.GO)
    assert env.audit_actions().count("security.refused") == 1


def test_expired_or_out_of_scope_delegation_is_refused(env: Env) -> None:
    round_id = _ready(env, "A4")
    approvals.delegate(
        Delegate(principal_id="fin", delegate_id="dee", valid_from=date(2026, 10, 1), valid_to=date(2026, 10, 31)),
        uow=env.uow,
        now=env.clock(),
        actor=SYSTEM_ACTOR,
    )
    with pytest.raises(approvals.SecurityRefusedError, match="no delegation"):
        env.vote(round_id, "dee", Decision.GO, on_behalf_of="fin")
    with pytest.raises(InputError, match="--gate needs --template"):
        approvals.delegate(
            Delegate(principal_id="fin", delegate_id="dee", valid_from=T0.date(), valid_to=T0.date(), gate_id="x"),
            uow=env.uow,
            now=env.clock(),
            actor=SYSTEM_ACTOR,
        )


def test_segregation_of_duties_refuses_and_logs_a_security_event(env: Env) -> None:
    round_id = _ready(env, "A5", requested_by="pam")  # the PMO requested the review: it cannot approve it
    before = env.audit_actions().count("security.refused")
    with pytest.raises(approvals.SecurityRefusedError, match="requested this review"):
        env.vote(round_id, "pam", Decision.GO)
    with pytest.raises(PermissionDeniedError, match="not an approver"):
        env.vote(round_id, "mgr", Decision.GO)
    assert env.audit_actions().count("security.refused") == before + 1
    assert env.round(round_id).live_votes == ()


def test_sequential_policy_asks_one_after_another(env: Env) -> None:
    round_id = _ready(env, "S1", template="it-seq")
    with pytest.raises(ConflictError, match="waiting for pam"):
        env.vote(round_id, "sam", Decision.GO)
    assert env.vote(round_id, "pam", Decision.GO).round_status is RoundStatus.OPEN
    assert env.vote(round_id, "fin", Decision.GO).round_status is RoundStatus.OPEN
    assert env.vote(round_id, "sam", Decision.GO).round_decision is Decision.GO


def test_veto_role_decides_at_once(env: Env) -> None:
    round_id = _ready(env, "V1", template="it-all")
    env.vote(round_id, "sam", Decision.GO)
    assert env.vote(round_id, "fin", Decision.KILL).round_decision is Decision.KILL


def test_new_evidence_supersedes_votes_and_asks_again(env: Env) -> None:
    round_id = _ready(env, "E1")
    env.vote(round_id, "sam", Decision.GO)
    old_hash = env.round(round_id).evidence_hash
    services.record_cost(
        RecordCost(project_key="E1", amount=Decimal(10)), uow=env.uow, now=env.clock(), actor=SYSTEM_ACTOR
    )
    with pytest.raises(ConflictError, match="evidence of E1 changed"):
        env.vote(round_id, "fin", Decision.GO)
    current = env.round(round_id)
    assert current.evidence_hash != old_hash and current.live_votes == ()
    assert [v.superseded for v in current.votes] == [True]
    env.vote(round_id, "sam", Decision.GO)
    assert env.vote(round_id, "fin", Decision.GO).round_decision is Decision.GO
    assert "round.refreshed" in env.audit_actions()


def test_retried_command_returns_the_first_result(env: Env) -> None:
    round_id = _ready(env, "I1")
    first = env.vote(round_id, "sam", Decision.GO, idempotency_key="retry-key-0001")
    again = env.vote(round_id, "sam", Decision.GO, idempotency_key="retry-key-0001")
    assert again.replayed and (again.round_id, again.voter_id) == (first.round_id, first.voter_id)
    with pytest.raises(ConflictError, match="different act"):
        env.vote(round_id, "fin", Decision.GO, idempotency_key="retry-key-0001")
    assert len(env.round(round_id).live_votes) == 1


def test_conditional_go_tracks_conditions_and_abstain_recuse_need_reasons(env: Env) -> None:
    round_id = _ready(env, "C1")
    with pytest.raises(ValueError, match="at least one condition"):
        CastVote(round_id=round_id, voter_id="sam", decision=Decision.CONDITIONAL_GO, reason="r")
    with pytest.raises(ValueError, match="a reason is required for abstain"):
        CastVote(round_id=round_id, voter_id="sam", kind=BallotKind.ABSTAIN)
    condition = ConditionSpec(
        text="Pen test passed", owner_id="pam", due_on=date(2026, 12, 1), verification="verifier:fin"
    )
    env.vote(round_id, "sam", Decision.CONDITIONAL_GO, reason="security first", conditions=(condition,))
    passing = env.vote(round_id, "fin", Decision.GO)
    assert passing.round_decision is None and "will pass" in passing.explanation
    result = env.vote(round_id, "pam", Decision.CONDITIONAL_GO, reason="agree", conditions=(condition,))
    assert result.round_decision is Decision.CONDITIONAL_GO
    applied = approvals.apply_round_decision(round_id, uow=env.uow, now=env.clock())
    assert applied.conditions == 1 and applied.stage_id == "planning"
    (stored,) = approvals.list_conditions(uow=env.uow, project_key="C1")
    assert (stored.owner_id, stored.status) == ("pam", "open")
    with pytest.raises(PermissionDeniedError, match="verified by fin"):
        approvals.resolve_condition(stored.id, actor=actors.person("pam"), met=True, uow=env.uow, now=env.clock())
    assert (
        approvals.resolve_condition(
            stored.id, actor=actors.person("fin"), met=True, uow=env.uow, now=env.clock()
        ).status
        == "met"
    )


def test_hold_resume_and_kill_needs_lessons_before_closure(env: Env) -> None:
    held = _ready(env, "H1")
    env.vote(held, "sam", Decision.HOLD)
    env.vote(held, "fin", Decision.HOLD)
    approvals.apply_round_decision(held, uow=env.uow, now=env.clock())
    resumed = approvals.resume_project(
        "H1", actor=actors.person("sam"), reason="capacity is back", uow=env.uow, now=env.clock()
    )
    assert resumed.status is ProjectStatus.ACTIVE
    killed = _ready(env, "K1")
    env.vote(killed, "sam", Decision.KILL)
    env.vote(killed, "fin", Decision.KILL)
    approvals.apply_round_decision(killed, uow=env.uow, now=env.clock())
    with pytest.raises(InputError, match="lessons learned"):
        approvals.close_project("K1", actor=actors.person("sam"), lessons="", uow=env.uow, now=env.clock())
    assert approvals.close_project(
        "K1", actor=actors.person("sam"), lessons="Validate demand first", uow=env.uow, now=env.clock()
    ).closed


def test_recycle_limit_proposes_kill(env: Env) -> None:
    for attempt in range(3):
        round_id = _ready(env, f"R{attempt}") if attempt == 0 else _review(env, "R0")
        env.vote(round_id, "sam", Decision.RECYCLE)
        env.vote(round_id, "fin", Decision.RECYCLE)
        approvals.apply_round_decision(round_id, uow=env.uow, now=env.clock())
    review = services.start_review(
        RequestReview(project_key="R0"), uow=env.uow, now=env.clock(), probe=probe, actor=SYSTEM_ACTOR
    )
    assert review.evaluation.recommendation is Recommendation.KILL
    assert "recycled 3 times" in review.evaluation.reasons[-1]


def _review(env: Env, key: str) -> UUID:
    review = services.start_review(
        RequestReview(project_key=key), uow=env.uow, now=env.clock(), probe=probe, actor=SYSTEM_ACTOR
    )
    assert review.round_id is not None
    return review.round_id


def test_reminders_and_escalations_are_sent_once_and_never_decide(env: Env) -> None:
    round_id = _ready(env, "T1")
    env.vote(round_id, "sam", Decision.GO)
    later = T0 + timedelta(days=30)
    report = approvals.send_reminders(uow=env.uow, now=later)
    assert report.reminders >= 1 and report.escalations >= 1
    again = approvals.send_reminders(uow=env.uow, now=later)
    assert (again.reminders, again.escalations) == (0, 0)
    assert env.round(round_id).status is RoundStatus.OPEN  # nothing becomes GO by timeout
    with env.sessions() as session:
        kinds = set(session.scalars(select(t.OutboxMessage.kind)))
    assert {"reminder", "escalation"} <= kinds


def test_reconcile_finds_resolved_rounds_whose_decision_was_not_applied(env: Env) -> None:
    round_id = _ready(env, "X1")
    env.vote(round_id, "sam", Decision.GO)
    env.vote(round_id, "fin", Decision.GO)
    assert approvals.unapplied_rounds(uow=env.uow) == [round_id]
    approvals.apply_round_decision(round_id, uow=env.uow, now=env.clock())
    assert approvals.unapplied_rounds(uow=env.uow) == []
    with env.sessions() as session:
        assert verify_audit(session) is None


ORG_CONFIG = """
version: 1
urls:
  - json://127.0.0.1:9/pmo-channel:
      tag: pmo
  - json://127.0.0.1:9/o1-team:
      tag: project:O1
  - json://127.0.0.1:9/finance:
      tag: finance
"""


def _org_rows(env: Env) -> list[Any]:
    with env.sessions() as session:
        return list(session.scalars(select(t.OutboxMessage).where(t.OutboxMessage.recipient_id.is_(None))))


def test_round_opening_reaches_tagged_org_channels_once(env: Env) -> None:
    config = parse_org_config(ORG_CONFIG, source="org.yaml", environ={})

    def route(tags: Sequence[str]) -> list[str]:
        return expand_targets((), list(tags), config)

    env.uow = lambda: SqlUnitOfWork(env.engine, org_route=route, org_locale="zh-CN")  # type: ignore[method-assign]
    _ready(env, "O1")
    rows = _org_rows(env)
    paths = sorted(r.target.split("?")[0] for r in rows)
    assert paths == ["json://127.0.0.1:9/o1-team", "json://127.0.0.1:9/pmo-channel"]  # not finance
    assert {r.kind for r in rows} == {"approval_requested"} and {r.locale for r in rows} == {"zh-CN"}
    assert len({r.idempotency_key for r in rows}) == 2


def test_without_an_org_config_only_people_are_notified(env: Env) -> None:
    _ready(env, "O2")
    assert _org_rows(env) == []


def test_weekly_digest_once_per_week_for_each_person_waited_on(env: Env) -> None:
    round_id = _ready(env, "D1")
    env.vote(round_id, "sam", Decision.GO)
    monday = T0 + timedelta(days=7)
    assert approvals.send_weekly_digests(uow=env.uow, now=monday) == 2  # fin and pam are still asked
    assert approvals.send_weekly_digests(uow=env.uow, now=monday + timedelta(days=2)) == 0
    with env.sessions() as session:
        digests = list(session.scalars(select(t.OutboxMessage).where(t.OutboxMessage.kind == "weekly_digest")))
    assert sorted(d.recipient_id for d in digests) == ["fin", "pam"]
    assert digests[0].context["items"][0]["round_id"] == str(round_id)
    from phasegate.notifications.render import render

    rendered = render("weekly_digest", "zh-CN", digests[0].context)
    assert "D1" in rendered.body_text


def test_the_approval_request_carries_the_packet_and_a_meeting_invitation(env: Env) -> None:
    from phasegate.notifications.render import render

    add_ready_project(env.uow, env.clock, "M1")
    meeting = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
    services.start_review(
        RequestReview(project_key="M1", meeting_at=meeting),
        uow=env.uow,
        now=env.clock(),
        probe=probe,
        actor=SYSTEM_ACTOR,
    )
    with env.sessions() as session:
        request = session.scalars(
            select(t.OutboxMessage).where(
                t.OutboxMessage.kind == "approval_requested", t.OutboxMessage.recipient_id == "sam"
            )
        ).one()
    assert request.context["packet"]["evidence_hash"] and request.context["review_meeting"]["starts_at"]
    names = {a.filename for a in render("approval_requested", "en", request.context).attachments}
    assert any(name.endswith(".html") for name in names) and any(name.endswith(".ics") for name in names)


def test_reassigning_a_seat_is_an_audited_admin_change(env: Env) -> None:
    round_id = _ready(env, "RA")
    with pytest.raises(InputError, match="needs a reason"):
        approvals.reassign_seat(
            round_id,
            from_person="fin",
            to_person="dee",
            actor=actors.admin("pam"),
            reason=" ",
            uow=env.uow,
            now=env.clock(),
        )
    with pytest.raises(approvals.SecurityRefusedError, match="segregation"):
        approvals.reassign_seat(
            round_id,
            from_person="fin",
            to_person="mgr",
            actor=actors.admin("pam"),
            reason="away",
            uow=env.uow,
            now=env.clock(),
        )
    moved = approvals.reassign_seat(
        round_id,
        from_person="fin",
        to_person="dee",
        actor=actors.admin("pam"),
        reason="on leave",
        uow=env.uow,
        now=env.clock(),
    )
    assert "dee" in moved.approvers and "fin" not in moved.approvers
    with pytest.raises(PermissionDeniedError, match="not an approver"):
        env.vote(round_id, "fin", Decision.GO)
    env.vote(round_id, "sam", Decision.GO)
    assert env.vote(round_id, "dee", Decision.GO).round_decision is Decision.GO
    assert "round.reassigned" in env.audit_actions()


class Statements:
    """Counts the SQL statements an engine runs: a round's cost is mostly its round trips.

    Counted at the driver, so the statements phasegate sends on the driver connection itself (``models.prepared``,
    the audit lock and head) count too: on PostgreSQL every psycopg cursor's ``execute``/``executemany``; on
    SQLite every sqlite3 cursor's (the pool's connections are made again, counting).
    """

    def __init__(self, env: Env) -> None:
        self.count = 0
        if env.engine.dialect.name == "postgresql":
            counting = counting_cursor(self._seen)
            event.listen(env.engine, "checkout", lambda dbapi, *_: setattr(dbapi, "cursor_factory", counting))
        else:
            factory = counting_sqlite(self._seen)
            event.listen(
                env.engine, "do_connect", lambda _dialect, _record, _args, kwargs: kwargs.update(factory=factory)
            )
            env.engine.dispose()
            with env.engine.connect():  # the pool's connection made (its pragmas run) before anything is counted
                pass
            self.count = 0

    def _seen(self, *_: object) -> None:
        self.count += 1

    def during(self, act: Callable[[], object]) -> int:
        before = self.count
        act()
        return self.count - before


def test_a_round_runs_a_fixed_budget_of_statements_per_step(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench's hot path (bench/decisions.py): a per-row read or an N+1 creeping into a step fails here.
    Budgets are today's counts at the driver, each transaction's BEGIN included (SQLite's ``BEGIN IMMEDIATE``;
    PostgreSQL's, sent with its first statement: ``models.prepared.watch_deferred``); on PostgreSQL the round's
    lock, the audit appenders' lock and the COMMIT (the last statement of a pipeline) included. A review reads its
    baseline, status report,
    ledger and stage budget in one statement (``EVIDENCE_FIGURES``), and who asks with the role holders in one, hence
    16, not 20. A pooled connection is pinged only after sitting idle (``models.db._ping_when_idle``,
    tests/test_connection_pool.py): a slow moment between two steps must not count as a statement of the round."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 60.0)
    add_ready_project(env.uow, env.clock, "B0", template_id="it-2of3")
    add_ready_project(env.uow, env.clock, "B1", template_id="it-2of3")
    statements = Statements(env)
    opened: list[UUID] = []

    def review(key: str = "B1") -> None:
        result = services.start_review(
            RequestReview(project_key=key, requested_by="zed"),
            uow=env.uow,
            now=env.clock(),
            probe=probe,
            actor=actors.admin("zed"),
        )
        assert result.round_id is not None
        opened.append(result.round_id)

    review("B0")  # the engine's first review: it also reads the register's list of lessons (SqlLessons.candidates)
    opened.clear()
    counts = (
        statements.during(review),
        statements.during(lambda: env.vote(opened[0], "sam", Decision.GO)),
        statements.during(lambda: env.vote(opened[0], "fin", Decision.GO)),  # resolves the round
        statements.during(lambda: approvals.apply_round_decision(opened[0], uow=env.uow, now=env.clock())),
    )
    # PostgreSQL's decision asks whether the project owes lessons with its first reads (``models.read_ahead``), a
    # kill's question asked of every decision: a statement more, in a round trip it pays anyway.
    budget = {"sqlite": (16, 7, 11, 9), "postgresql": (18, 10, 14, 13)}[env.engine.dialect.name]
    assert all(count <= most for count, most in zip(counts, budget, strict=True)), f"{counts} over {budget}"


def test_a_round_writes_through_the_units_connection_without_an_orm_session(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path's statements run on the unit's Core connection (``models.prepared``); an ORM session costs a
    transaction its making, a flush and a close, so a review, the votes and the decision of a go make none. It
    failed when the review's insert was deferred through the session, and when an empty list of conditions (every
    decision) or of lesson uses (every review) was flushed anyway."""
    for key in ("S1", "S2"):
        add_ready_project(env.uow, env.clock, key, template_id="it-2of3")
    opened = _requested(env, "S1")
    made: list[Session] = []

    class Made(Session):  # the real session, counted where the unit of work imports it when it first needs one
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(orm, "Session", Made)
    steps = (
        lambda: _requested(env, "S2"),
        lambda: env.vote(opened, "sam", Decision.GO),
        lambda: env.vote(opened, "fin", Decision.GO),  # resolves the round
        lambda: approvals.apply_round_decision(opened, uow=env.uow, now=env.clock()),
    )
    sessions = []
    for step in steps:
        step()
        sessions.append(len(made))
    assert sessions == [0, 0, 0, 0]


def test_a_round_on_postgresql_waits_for_the_server_a_fixed_number_of_times(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round trips, counted on the wire (bench.peers.wire): on PostgreSQL a round's cost is its waits for the server
    more than its statements. Budgets are today's counts (BEGIN and COMMIT included), after warm-up rounds, so
    psycopg's preparing of a statement on its fifth use is behind. Each pipeline taken away adds to a count: the
    review's five evidence reads sent together (``SqlEvidence.gate_reads``), a round's lock and read together (each
    vote and the decision), the commit's outbox rows, audit lock and chain head together; and so does each write
    sent on its own again instead of deferred to the next statement (``Prepared.defer``: the review's and its
    round's inserts, the vote's, the seats a resolution closes, its three writes, the decision's two updates), each
    step's first reads sent one by one instead of together (``models.read_ahead``: the review's project, open
    rounds, roles, people, lessons stamp and evidence; a vote's round, project and people; a decision's round,
    project, people and whether lessons are owed), and a ping of a connection handed back a moment ago
    (``pool_pre_ping`` did: one a transaction; ``models.db._ping_when_idle`` does not). So does a COMMIT sent on its
    own after the audit insert, instead of with it (``models.db.committing``), and a BEGIN that waits for its own
    answer instead of leaving with the transaction's first statement (``models.prepared.watch_deferred``)."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 60.0)  # a slow moment between steps is not the round's
    with round_trips(pg_url) as (wire, relayed):
        env = _seeded(relayed)
        # psycopg prepares a statement on its fifth use, a round trip of its own that day: not what is counted here.
        event.listen(env.engine, "checkout", lambda dbapi, *_: setattr(dbapi, "prepare_threshold", None))
        try:

            def round_trips_of(key: str) -> tuple[int, ...]:
                add_ready_project(env.uow, env.clock, key, template_id="it-2of3")
                counts = [wire.count]
                opened = _requested(env, key)
                counts.append(wire.count)
                env.vote(opened, "sam", Decision.GO)
                counts.append(wire.count)
                env.vote(opened, "fin", Decision.GO)  # resolves the round
                counts.append(wire.count)
                approvals.apply_round_decision(opened, uow=env.uow, now=env.clock())
                counts.append(wire.count)
                return tuple(after - before for before, after in itertools.pairwise(counts))

            round_trips_of("WARM")  # the template read and cached, the calendar's holidays imported
            counts = round_trips_of("RT")
        finally:
            env.engine.dispose()
    # b278491 (before the reads and writes sent together): 17, 10, 14, 11; a3891d8: 11, 9, 10, 8; before the audit
    # insert and the COMMIT left together (``models.db.committing``): 10, 8, 9, 7; before the BEGIN left with the
    # first statement: 9, 7, 8, 6; before each step's first reads left together (``models.read_ahead``) and the
    # closing of seats was deferred: 8, 6, 7, 5; before the review's evidence reads left with its first reads: 4, 4,
    # 4, 3; before a vote's insert was deferred: 3, 4, 4, 3
    budget = (3, 3, 3, 3)
    assert all(count <= most for count, most in zip(counts, budget, strict=True)), f"{counts} over {budget}"


def test_reads_sent_ahead_hold_their_locks_and_a_write_after_them_is_what_is_read(pg_url: str) -> None:
    """``models.read_ahead``: a vote's first reads, sent together, lock the round and its project as the reads asked for
    one by one did (another transaction cannot take either), each getter takes its read's rows and never another key's,
    and a person updated after being read ahead is read as updated, never as the row read before the write."""
    env = _seeded(pg_url)
    try:
        add_ready_project(env.uow, env.clock, "RA")
        add_ready_project(env.uow, env.clock, "RB")
        round_id = _requested(env, "RA")
        with env.uow() as before:
            zed = before.people.get_person("zed")
        assert zed is not None
        with env.uow() as tx:
            with tx.together():
                tx.reviews.read_ahead_round(round_id)
                tx.projects.read_ahead(round_id=round_id)
                tx.people.read_ahead({"zed"}, round_id=round_id)
            with env.engine.connect() as other:
                for table, column, value in (("approval_rounds", "id", round_id), ("projects", "key", "RA")):
                    locking = sql_text(f"SELECT 1 FROM {table} WHERE {column} = :v FOR UPDATE NOWAIT")
                    with pytest.raises(OperationalError, match="could not obtain lock"), other.begin():
                        other.execute(locking, {"v": value})
            tx.people.update_person(zed.model_copy(update={"name": "Zed Renamed"}))  # before anyone was asked for
            assert {p.id: p.name for p in tx.people.get_people({"sam", "zed"}).values()} == {
                "sam": "Sam",
                "zed": "Zed Renamed",
            }
            found = tx.reviews.get_round(round_id, for_update=True)
            assert found is not None and found.project_key == "RA"
            other = tx.projects.get_project("RB")  # not the project read ahead: read as asked, RA's row dropped
            assert other is not None and other.key == "RB"
            project = tx.projects.get_project("RA", for_update=True)
            assert project is not None and (project.sponsor_id, project.manager_id) == ("sam", "mgr")
    finally:
        env.engine.dispose()


def test_a_commit_waits_for_postgresql_once_and_not_at_all_when_nothing_was_sent(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``models.db.committing``: a unit appending an audit entry waits once for the lock and the head read, sent with
    its BEGIN (``models.prepared.watch_deferred``; psycopg's own BEGIN waited for its answer, one round trip more),
    and once for the insert with the COMMIT; a unit that sent nothing commits without a word to the server (an
    empty pipeline would cost a round trip, a COMMIT a BEGIN first); what was committed is there."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 60.0)  # a slow moment between units is not the commit's
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with round_trips(pg_url) as (wire, relayed):
        engine = make_engine(relayed)
        try:
            with engine.connect():
                pass  # the pool's first connection, and its setup, outside the counts
            counts = []
            for payload in ({"n": 1}, None, {"n": 2}):
                before = wire.count
                with SqlUnitOfWork(engine) as tx:
                    assert tx.connection.in_transaction()  # SQLAlchemy's transaction begun, not the server's
                    if payload is not None:
                        tx.append_audit(actor="zed", action="test.commit", entity="e", payload=payload, at=at)
                    tx.commit()
                counts.append(wire.count - before)
            with engine.connect() as connection:
                stored = connection.execute(select(t.AuditEntry.payload).order_by(t.AuditEntry.seq)).scalars().all()
        finally:
            engine.dispose()
    assert counts == [2, 0, 2]
    assert stored[-2:] == [{"n": 1}, {"n": 2}]


def test_a_commit_refused_at_its_end_writes_nothing_and_fails_as_sqlalchemy_says(env: Env) -> None:
    """The commit's tail (outbox rows, the audit lock and head) leaves as one pipeline on PostgreSQL: a clash there
    is still SQLAlchemy's IntegrityError, nothing of that transaction stays, and the next commit chains on."""
    message = OutboxRequest(
        idempotency_key="once",
        kind="decision_made",
        recipient_id="sam",
        target="json://127.0.0.1:9/sam",
        locale="en",
        context={},
    )

    def commit(action: str) -> None:
        with env.uow() as tx:
            tx.enqueue([message], now=env.clock())
            tx.append_audit(actor="system", action=action, entity="test", payload={}, at=env.clock())
            tx.commit()

    commit("test.first")
    with pytest.raises(IntegrityError):
        commit("test.second")  # the same idempotency key: the outbox refuses the row
    with env.uow() as tx:
        tx.append_audit(actor="system", action="test.third", entity="test", payload={}, at=env.clock())
        tx.commit()
    actions = env.audit_actions()
    assert "test.second" not in actions and actions[-2:] == ["test.first", "test.third"]
    with env.sessions() as session, session.begin():
        assert verify_audit(session) is None
        assert session.scalar(select(func.count()).select_from(t.OutboxMessage)) == 1


def test_listing_rounds_reads_their_votes_in_one_query_whatever_their_number(env: Env) -> None:
    statements = Statements(env)
    first = _ready(env, "L1")
    env.vote(first, "sam", Decision.GO)
    one = statements.during(lambda: approvals.list_rounds(uow=env.uow))
    for key in ("L2", "L3", "L4"):
        env.vote(_ready(env, key), "fin", Decision.GO)
    rounds = approvals.list_rounds(uow=env.uow)
    assert len(rounds) == 4 and all(len(r.votes) == 1 for r in rounds)
    assert statements.during(lambda: approvals.list_rounds(uow=env.uow)) == one


def test_evidence_reads_the_ledger_in_all_and_in_the_current_stage(env: Env) -> None:
    add_ready_project(env.uow, env.clock, "C9", template_id="it-2of3")
    services.record_cost(
        RecordCost(project_key="C9", amount=Decimal("10.50")), uow=env.uow, now=env.clock(), actor=SYSTEM_ACTOR
    )
    review = services.start_review(
        RequestReview(project_key="C9", requested_by="zed"),
        uow=env.uow,
        now=env.clock(),
        probe=probe,
        actor=actors.admin("zed"),
    )
    assert review.round_id is not None
    env.vote(review.round_id, "sam", Decision.GO)
    env.vote(review.round_id, "fin", Decision.GO)
    assert approvals.apply_round_decision(review.round_id, uow=env.uow, now=env.clock()).stage_id == "planning"
    services.record_cost(
        RecordCost(project_key="C9", amount=Decimal("4.25")), uow=env.uow, now=env.clock(), actor=SYSTEM_ACTOR
    )
    evidence = services.check_gate("C9", uow=env.uow, now=env.clock(), probe=probe).evidence
    assert (evidence.actual_cost, evidence.stage_spend) == (Decimal("14.75"), Decimal("4.25"))


def test_a_projects_roles_are_read_once_per_unit_and_again_after_an_assignment(env: Env) -> None:
    """A review asks for the roles twice (whom to read among people, then its evidence): the second costs no
    statement, and an assignment in the same unit is seen."""
    add_ready_project(env.uow, env.clock, "R1", template_id="it-2of3")
    statements = Statements(env)
    with env.uow() as tx:
        assert tx.projects.project_roles("R1") == {"finance": ("fin",), "pmo": ("pam",)}
        assert statements.during(lambda: tx.projects.project_roles("R1")) == 0
        tx.projects.assign_role("R1", "finance", "pam", now=env.clock())
        assert tx.projects.project_roles("R1") == {"finance": ("fin", "pam"), "pmo": ("pam",)}


def test_people_are_read_in_one_query_and_unknown_ids_are_left_out(env: Env) -> None:
    found: dict[str, str] = {}

    def read() -> None:
        with env.uow() as tx:
            found.update(
                {pid: person.name for pid, person in tx.people.get_people(["sam", "fin", "pam", "nobody"]).items()}
            )

    assert Statements(env).during(read) <= 2  # the query, and SQLite's BEGIN IMMEDIATE
    assert found == {"sam": "Sam", "fin": "Fin", "pam": "Pam"}

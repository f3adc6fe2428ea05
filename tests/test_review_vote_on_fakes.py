"""A gate review requested and its round voted to a decision, on the in-memory fakes (``tests.fakes``).

The use cases ``Runtime.start_review`` and ``Runtime.vote`` call, in milliseconds: the scenario of test_approvals
(which runs them on SQLite and PostgreSQL) on it-pmo as shipped (its first gate seats the sponsor alone) and on
its 2-of-3 variant (sponsor, finance, pmo). Expectations are derived by hand from the template and the rules
(DOMAIN.md, gates.evaluation, gates.quorum), never read back from the engine or compared with SQL.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from phasegate.gates.vocabulary.commands import CastVote, RegisterDocument, RequestReview
from phasegate.gates.vocabulary.enums import Decision, Recommendation, ReviewStatus, RoundStatus
from phasegate.gates.vocabulary.errors import ConflictError, EvidenceChangedError, PermissionDeniedError
from phasegate.gates.vocabulary.events import ReviewRecorded, RoundResolved
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.gates.vocabulary.snapshots import PersonSnapshot
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.usecases import approvals, services
from tests import actors
from tests.fakes import FakeUnitOfWork, Store
from tests.gatekeeping import TWO_OF_THREE, add_ready_project, probe, variant

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
FIRST_GATE = ("project-initiation-request", "business-case", "project-charter")  # it-pmo's ready-for-planning
TEMPLATES = (
    next(t for _, t in shipped_templates() if t.id == "it-pmo"),  # version 1: its file sorts first
    variant(TWO_OF_THREE, "it-2of3")[1],
)


class Env:
    """The fake store, a clock that ticks a second per call, and the two acts under test as a door calls them."""

    def __init__(self) -> None:
        self.store = Store()
        self.now = T0

    def clock(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def review(self, key: str, **extra: Any) -> services.ReviewResult:
        return services.start_review(
            RequestReview(project_key=key),
            uow=self.uow,
            now=self.clock(),
            probe=probe,
            actor=actors.admin("zed"),
            **extra,
        )

    def vote(self, round_id: UUID, voter: str, decision: Decision, **extra: Any) -> approvals.VoteResult:
        reason = "" if decision is Decision.GO else "because"
        cmd = CastVote(round_id=round_id, voter_id=voter, decision=decision, reason=reason, **extra)
        return actors.cast_vote(cmd, uow=self.uow, now=self.clock(), probe=probe)


@pytest.fixture
def env() -> Env:
    """People (zed is a PMO admin who holds no seat), it-pmo as shipped and its 2-of-3 variant."""
    env = Env()
    with env.uow() as tx:
        for pid in ("sam", "fin", "pam", "mgr", "zed"):
            roles = frozenset({OrgRole.PMO_ADMIN} if pid == "zed" else ())
            tx.people.add_person(
                PersonSnapshot(
                    id=pid,
                    name=pid.title(),
                    email=f"{pid}@example.com",
                    locale="en",
                    notify_urls=(f"json://127.0.0.1:9/{pid}",),
                    roles=roles,
                ),
                now=T0,
            )
        for template in TEMPLATES:
            tx.templates.add_template(template, content_hash=template_content_hash(template), source="test", now=T0)
        tx.commit()
    return env


def _project(
    env: Env,
    key: str,
    template_id: str = "it-pmo",
    *,
    leave_out: Collection[str] = (),
    signers: Mapping[str, str] | None = None,
) -> None:
    add_ready_project(env.uow, env.clock, key, template_id=template_id, leave_out=leave_out, signers=signers)


def _round_id(env: Env, key: str, template_id: str = "it-pmo") -> UUID:
    _project(env, key, template_id)
    review = env.review(key)
    assert review.round_id is not None, review.evaluation.reasons
    return review.round_id


# -------------------------------------------------------------------------------------------------- reviews
@pytest.mark.parametrize(
    ("project", "recommendation", "failing", "present"),
    [
        # every criterion of ready-for-planning is met: documents present, signed by their role, unchanged,
        # with their sections, in an allowed format; no cost is recorded against the 1000 budget
        ({}, Recommendation.GO, None, FIRST_GATE),
        # a required deliverable never registered is missing evidence: the team is not ready yet
        ({"leave_out": ["project-charter"]}, Recommendation.NOT_READY, "doc.required_present", FIRST_GATE[:2]),
        # the business case (approver_role sponsor) signed by pam, the pmo: a must-meet failure the team can fix
        ({"signers": {"business-case": "pam"}}, Recommendation.RECYCLE, "doc.approved_by_role", FIRST_GATE),
    ],
)
def test_a_review_recommends_what_the_first_gates_evidence_calls_for(
    env: Env,
    project: dict[str, Any],
    recommendation: Recommendation,
    failing: str | None,
    present: tuple[str, ...],
) -> None:
    _project(env, "P1", **project)

    result = env.review("P1")

    evaluation = result.evaluation
    assert evaluation.recommendation is recommendation
    assert [reason.split(":", 1)[0] for reason in evaluation.reasons][:1] == ([failing] if failing else [])
    assert [d.id for d in evaluation.required_deliverables if d.present] == list(present)
    review = env.store.reviews[result.review_id]
    assert (review.recommendation, review.evidence_hash) == (recommendation, evaluation.evidence_hash)
    assert review.requested_by == "zed"


def test_a_review_not_ready_opens_no_round_and_tells_the_manager(env: Env) -> None:
    _project(env, "P1", leave_out=["project-charter"])

    result = env.review("P1")

    assert result.round_id is None and result.approvers == ()
    assert env.store.reviews[result.review_id].status is ReviewStatus.NOT_READY
    assert env.store.rounds == {}
    assert [(m.kind, m.recipient_id) for m in env.store.outbox] == [("gate_not_ready", "mgr")]
    assert env.store.actions()[-1] == "review.recorded"


@pytest.mark.parametrize(
    ("template_id", "policy", "seats"),
    [
        ("it-pmo", "single", [("sam", "sponsor")]),
        ("it-2of3", "m_of_n", [("sam", "sponsor"), ("fin", "finance"), ("pam", "pmo")]),
    ],
)
def test_a_ready_review_opens_a_round_seating_the_gates_approvers(
    env: Env, template_id: str, policy: str, seats: list[tuple[str, str]]
) -> None:
    _project(env, "P1", template_id)

    result = env.review("P1")

    assert result.round_id is not None
    opened = env.store.rounds[result.round_id]
    assert [(seat["person_id"], seat["role"]) for seat in opened.seats] == seats
    assert opened.approvers == result.approvers == tuple(person for person, _ in seats)
    assert (opened.status, opened.policy, opened.review_id) == (RoundStatus.OPEN, policy, result.review_id)
    assert opened.evidence_hash == result.evaluation.evidence_hash
    assert opened.due_at == opened.opened_at + timedelta(days=7)  # 5 business days from a Monday
    assert env.store.reviews[result.review_id].status is ReviewStatus.AWAITING_APPROVAL
    assert env.store.actions()[-2:] == ["review.recorded", "round.opened"]
    assert sorted(m.recipient_id for m in env.store.outbox if m.kind == "approval_requested") == sorted(
        person for person, _ in seats
    )
    assert next(e for e in result.events if isinstance(e, ReviewRecorded)).round_id == result.round_id


def test_a_second_review_is_refused_while_a_round_is_open(env: Env) -> None:
    _round_id(env, "P1")
    before = copy.deepcopy(env.store)

    with pytest.raises(ConflictError, match="already has an open approval round"):
        env.review("P1")

    assert env.store == before


def test_a_review_that_fails_midway_leaves_the_store_as_it_was(env: Env) -> None:
    """The review, its round and the audit are written before the requests are made: a failure then (here the
    approval link service) must leave nothing behind, as the SQL transaction's rollback would."""
    _project(env, "P1")
    before = copy.deepcopy(env.store)

    def broken_links(round_id: UUID, approver_id: str, evidence_hash: str) -> str:
        raise RuntimeError("the link service is down")

    with pytest.raises(RuntimeError, match="link service"):
        env.review("P1", links=broken_links)

    assert env.store == before


# -------------------------------------------------------------------------------------------------- votes
def test_the_sponsors_go_decides_a_single_seat_round(env: Env) -> None:
    round_id = _round_id(env, "P1")

    result = env.vote(round_id, "sam", Decision.GO)

    assert (result.round_status, result.round_decision, result.pending) == (RoundStatus.RESOLVED, Decision.GO, ())
    assert RoundResolved(round_id=round_id, project_key="P1", decision=Decision.GO) in result.events
    decided = env.store.rounds[round_id]
    assert (decided.status, decided.decision, decided.resolved_at) == (RoundStatus.RESOLVED, Decision.GO, env.now)
    assert [(v.voter_id, v.decision) for v in decided.votes] == [("sam", Decision.GO)]
    assert env.store.reviews[decided.review_id].status is ReviewStatus.DECIDED
    with env.uow() as tx:
        assert [(d.decision, d.decided_by) for d in tx.reviews.decision_history("P1")] == [(Decision.GO, ("sam",))]
    assert env.store.actions()[-2:] == ["vote.cast", "round.resolved"]


@pytest.mark.parametrize(
    ("ballots", "decision", "closed"),
    [
        # two GOs reach m=2 at once; pam's request is closed, her vote could not change the outcome
        ([("sam", Decision.GO), ("fin", Decision.GO)], Decision.GO, ("pam",)),
        # no approval can reach 2; the most cautious decision two of three agree on (KILL, RECYCLE) is RECYCLE
        ([("sam", Decision.RECYCLE), ("pam", Decision.KILL), ("fin", Decision.HOLD)], Decision.RECYCLE, ()),
    ],
)
def test_votes_of_the_seated_resolve_a_two_of_three_round(
    env: Env, ballots: list[tuple[str, Decision]], decision: Decision, closed: tuple[str, ...]
) -> None:
    round_id = _round_id(env, "P1", "it-2of3")

    results = [env.vote(round_id, voter, choice) for voter, choice in ballots]

    assert [r.round_status for r in results] == [RoundStatus.OPEN] * (len(ballots) - 1) + [RoundStatus.RESOLVED]
    assert [e for r in results for e in r.events if isinstance(e, RoundResolved)] == [
        RoundResolved(round_id=round_id, project_key="P1", decision=decision)
    ]
    decided = env.store.rounds[round_id]
    assert (decided.status, decided.decision, decided.closed_seats) == (RoundStatus.RESOLVED, decision, closed)
    assert env.store.actions().count("request.closed") == len(closed)


def test_a_vote_after_the_round_resolved_is_refused_audited_and_the_decision_applies_once(env: Env) -> None:
    round_id = _round_id(env, "P1", "it-2of3")
    env.vote(round_id, "sam", Decision.GO)
    env.vote(round_id, "fin", Decision.GO)

    with pytest.raises(ConflictError, match="resolved"):
        env.vote(round_id, "pam", Decision.KILL)

    assert len(env.store.rounds[round_id].votes) == 2
    assert env.store.actions()[-1] == "vote.refused"
    applied = approvals.apply_round_decision(round_id, uow=env.uow, now=env.clock())
    again = approvals.apply_round_decision(round_id, uow=env.uow, now=env.clock())
    assert (applied.stage_id, applied.already_applied, again.already_applied) == ("planning", False, True)
    assert env.store.projects["P1"].stage_id == "planning"
    assert env.store.actions().count("decision.applied") == 1


def test_a_vote_by_someone_without_a_seat_is_refused_and_audited(env: Env) -> None:
    round_id = _round_id(env, "P1")
    audited = len(env.store.audit)

    with pytest.raises(PermissionDeniedError, match="zed is not an approver") as refused:
        env.vote(round_id, "zed", Decision.GO)

    assert refused.value.code == "vote.not_approver"
    assert env.store.rounds[round_id].votes == () and env.store.rounds[round_id].status is RoundStatus.OPEN
    [entry] = env.store.audit[audited:]
    assert (entry["action"], entry["actor"], entry["entity"]) == ("vote.refused", "zed", f"round:{round_id}")
    assert entry["payload"]["code"] == "vote.not_approver"


def test_a_vote_repeated_with_its_idempotency_key_is_recorded_once(env: Env) -> None:
    round_id = _round_id(env, "P1", "it-2of3")

    first = env.vote(round_id, "sam", Decision.GO, idempotency_key="sam-vote-1")
    again = env.vote(round_id, "sam", Decision.GO, idempotency_key="sam-vote-1")

    assert (first.replayed, again.replayed) == (False, True)
    assert (again.round_status, again.decision) == (RoundStatus.OPEN, Decision.GO)
    assert [v.idempotency_key for v in env.store.rounds[round_id].votes] == ["sam-vote-1"]
    assert env.store.actions().count("vote.cast") == 1
    with pytest.raises(ConflictError, match="already used for a different act"):
        env.vote(round_id, "fin", Decision.GO, idempotency_key="sam-vote-1")
    assert len(env.store.rounds[round_id].votes) == 1


def test_new_evidence_under_an_open_round_supersedes_its_votes(env: Env) -> None:
    """A vote on stale evidence is refused; the round is re-assessed, earlier votes superseded, and voting
    starts again on the new evidence (so sam may vote a second time)."""
    round_id = _round_id(env, "P1", "it-2of3")
    env.vote(round_id, "sam", Decision.GO)
    old = env.store.rounds[round_id]
    services.register_document(
        RegisterDocument(
            project_key="P1",
            deliverable_id="business-case",
            path="/d/business-case-v2.md",
            sha256=probe("business-case-v2.md"),
            size=2,
            format="md",
            headings=("Options considered", "Benefits", "Costs", "Risks", "Investment appraisal", "Recommendation"),
            approved_by="sam",
        ),
        uow=env.uow,
        now=env.clock(),
        actor=SYSTEM_ACTOR,
    )

    with pytest.raises(EvidenceChangedError):
        env.vote(round_id, "fin", Decision.GO)

    refreshed = env.store.rounds[round_id]
    assert [(v.voter_id, v.superseded) for v in refreshed.votes] == [("sam", True)]
    assert refreshed.evidence_hash != old.evidence_hash and refreshed.review_id != old.review_id
    assert refreshed.evidence_version == env.store.projects["P1"].evidence_version == old.evidence_version + 1
    assert env.store.reviews[refreshed.review_id].evidence_hash == refreshed.evidence_hash
    env.vote(round_id, "sam", Decision.GO)
    assert env.vote(round_id, "fin", Decision.GO).round_decision is Decision.GO

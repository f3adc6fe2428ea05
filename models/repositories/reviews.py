"""Gate reviews and their approval rounds: seats, votes, resolution and the decision record.

One aggregate because a round never outlives its review and a vote never outlives its round: the
review's status follows the round's (awaiting approval, decided, cancelled) in the same statements.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, UniqueConstraint, func, select, update
from sqlalchemy.exc import IntegrityError

from phasegate.gates.vocabulary.enums import BallotKind, Decision, Recommendation, ReviewStatus, RoundStatus
from phasegate.gates.vocabulary.errors import ConflictError
from phasegate.gates.vocabulary.snapshots import (
    ConditionSpec,
    DecisionRecord,
    Evaluation,
    RoundSnapshot,
    VoteRecord,
)
from phasegate.models import statements as q
from phasegate.models.db import pipelined
from phasegate.models.prepared import Prepared
from phasegate.models.read_ahead import ReadAhead
from phasegate.models.repositories.repository import SqlRepository, Transaction
from phasegate.models.row_keys import new_row_key

# A round's statements, run on the driver (models.prepared): every review, vote and decision runs them.
_INSERT_REVIEW = Prepared(q.INSERT_REVIEW)
_INSERT_ROUND = Prepared(q.INSERT_ROUND)
_INSERT_VOTE = Prepared(q.INSERT_VOTE)
_VOTE_KEYS = frozenset(str(key.name) for key in q.VOTES.constraints if isinstance(key, UniqueConstraint))
"""The votes' unique keys, named as the catalog's naming convention names them in the database."""
_INSERT_DECISION = Prepared(q.INSERT_DECISION)
_UPDATE_ROUND = Prepared(q.UPDATE_ROUND)
_UPDATE_REVIEW = Prepared(q.UPDATE_REVIEW)
_LOCK_ROUND = Prepared(q.LOCK_ROUND)
_ROUND_WITH_VOTES = Prepared(q.ROUND_WITH_VOTES)
_OPEN_ROUNDS = Prepared(q.OPEN_ROUNDS)


def _constraint_of(err: IntegrityError) -> str | None:
    """The constraint a clash broke, as PostgreSQL reports it (psycopg's ``diag``); None from SQLite."""
    diag = getattr(err.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def _vote(row: Row[Any]) -> VoteRecord:
    return _vote_of(row._asdict())


def _vote_of(values: Mapping[str, Any], prefix: str = "") -> VoteRecord:
    """A vote from a row's values, its columns named ``prefix`` + column name."""
    decision = values[f"{prefix}decision"]
    return VoteRecord(
        id=values[f"{prefix}id"],
        voter_id=values[f"{prefix}voter_id"],
        signer_id=values[f"{prefix}signer_id"],
        kind=BallotKind(values[f"{prefix}kind"]),
        decision=Decision(decision) if decision else None,
        reason=values[f"{prefix}reason"],
        cast_at=values[f"{prefix}cast_at"],
        evidence_hash=values[f"{prefix}evidence_hash"],
        conditions=tuple(ConditionSpec.model_validate(c) for c in values[f"{prefix}conditions"] or ()),
        superseded=values[f"{prefix}superseded_at"] is not None,
        idempotency_key=values[f"{prefix}idempotency_key"],
    )


def _round(row: Row[Any] | Any, votes: Sequence[VoteRecord]) -> RoundSnapshot:
    return RoundSnapshot(
        id=row.id,
        review_id=row.review_id,
        project_key=row.project_key,
        gate_id=row.gate_id,
        policy=row.policy,
        approvers=tuple(row.approvers),
        evidence_hash=row.evidence_hash,
        status=RoundStatus(row.status),
        decision=Decision(row.decision) if row.decision else None,
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        applied_at=row.applied_at,
        votes=tuple(votes),
        seats=tuple(row.seats or ()),
        policy_spec=row.policy_spec or {},
        requested_by=row.requested_by,
        closed_seats=tuple(row.closed_seats or ()),
        evidence_version=row.evidence_version,
        due_at=row.due_at,
    )


class SqlReviews(SqlRepository):
    def __init__(self, tx: Transaction) -> None:
        super().__init__(tx)
        self._ahead = ReadAhead()

    def read_ahead_round(self, round_id: UUID) -> None:
        """Send the round's lock and its read (``get_round(..., for_update=True)`` takes them)."""
        self._ahead.send(
            self.connection,
            ("round", round_id),
            (_LOCK_ROUND, {"id": round_id}),
            (_ROUND_WITH_VOTES, {"id": round_id}),
        )

    def read_ahead_open_rounds(self, project_key: str) -> None:
        self._ahead.send(self.connection, ("open", project_key), (_OPEN_ROUNDS, {"key": project_key}))

    def add_review(
        self,
        *,
        project_key: str,
        gate_id: str,
        stage_id: str,
        status: ReviewStatus,
        recommendation: Recommendation,
        evaluation: dict[str, Any],
        evidence: dict[str, Any],
        evidence_hash: str,
        requested_by: str | None,
        now: datetime,
    ) -> UUID:
        review_id = new_row_key()
        _INSERT_REVIEW.defer(  # leaves with the next statement (``Prepared.defer``), as the round's insert
            self.connection,
            {
                "id": review_id,
                "project_key": project_key,
                "gate_id": gate_id,
                "stage_id": stage_id,
                "status": status.value,
                "recommendation": recommendation.value,
                "evaluation": evaluation,
                "evidence": evidence,
                "evidence_hash": evidence_hash,
                "requested_by": requested_by,
                "created_at": now,
            },
        )
        return review_id

    def latest_review(self, project_key: str) -> tuple[UUID, Evaluation] | None:
        from phasegate.models import tables as t

        row = self.session.execute(
            select(t.GateReview.id, t.GateReview.evaluation)
            .where(t.GateReview.project_key == project_key)
            .order_by(t.GateReview.created_at.desc())
            .limit(1)
        ).first()
        return None if row is None else (row.id, Evaluation.model_validate(row.evaluation))

    def last_reviewed(self, keys: Sequence[str]) -> dict[tuple[str, str], datetime]:
        """When each of these projects' gates was last reviewed (any outcome), by (project, gate): one query."""
        from phasegate.models import tables as t

        if not keys:
            return {}
        rows = self.session.execute(
            select(t.GateReview.project_key, t.GateReview.gate_id, func.max(t.GateReview.created_at))
            .where(t.GateReview.project_key.in_(keys))
            .group_by(t.GateReview.project_key, t.GateReview.gate_id)
        )
        return {(key, gate): at for key, gate, at in rows}

    def open_round(
        self,
        *,
        review_id: UUID,
        project_key: str,
        gate_id: str,
        policy: str,
        approvers: Sequence[str],
        evidence_hash: str,
        due_at: datetime | None,
        now: datetime,
        seats: Sequence[dict[str, Any]] = (),
        policy_spec: dict[str, Any] | None = None,
        requested_by: str | None = None,
        evidence_version: int = 0,
    ) -> UUID:
        round_id = new_row_key()
        _INSERT_ROUND.defer(
            self.connection,
            {
                "id": round_id,
                "review_id": review_id,
                "project_key": project_key,
                "gate_id": gate_id,
                "policy": policy,
                "approvers": list(approvers),
                "evidence_hash": evidence_hash,
                "status": RoundStatus.OPEN.value,
                "due_at": due_at,
                "opened_at": now,
                "seats": list(seats),
                "policy_spec": policy_spec or {},
                "requested_by": requested_by,
                "evidence_version": evidence_version,
                "closed_seats": [],
            },
        )
        return round_id

    def _rounds(self, rows: Sequence[Row[Any] | Any]) -> list[RoundSnapshot]:
        """Rounds with their votes, read for all of them in one query."""
        if not rows:
            return []
        votes: dict[UUID, list[VoteRecord]] = {row.id: [] for row in rows}
        for vote in self.connection.execute(q.ROUNDS_VOTES, {"round_ids": list(votes)}):
            votes[vote.round_id].append(_vote(vote))
        return [_round(row, votes[row.id]) for row in rows]

    def get_round(self, round_id: UUID, *, for_update: bool = False) -> RoundSnapshot | None:
        """The round with its votes in one statement (every vote and decision reads it); locked first on PostgreSQL.

        Why a separate lock there: a statement that waits for a row lock still reads the other tables as of its
        start, so a round locked and joined to its votes at once would miss the vote the transaction it waited
        for has just committed (two 2-of-3 votes at once would then each see one vote and neither resolve). The
        read after the lock starts after the wait. SQLite's ``BEGIN IMMEDIATE`` already holds the write lock.
        Both leave in one pipeline (``models.db.pipelined``) and are read after it, or were sent ahead with the
        unit's other first reads (``read_ahead_round``): the server still runs the read after the lock is granted.
        """
        if for_update and self.connection.dialect.name == "postgresql":
            if ("round", round_id) not in self._ahead:  # not read ahead (``read_ahead_round``): sent now
                with pipelined(self.connection):
                    self.read_ahead_round(round_id)
            locked, rows = self._ahead.take(("round", round_id)) or ([], [])
            if not locked:
                return None
        else:
            rows = _ROUND_WITH_VOTES.rows(self.connection, {"id": round_id})
        if not rows:
            return None
        voted = f"{q.VOTE_PREFIX}id"
        votes = [_vote_of(values, q.VOTE_PREFIX) for row in rows if (values := row._asdict())[voted] is not None]
        return _round(rows[0], votes)

    def open_rounds(self, project_key: str) -> list[RoundSnapshot]:
        ahead = self._ahead.take(("open", project_key))
        return self._rounds(ahead[0] if ahead is not None else _OPEN_ROUNDS.rows(self.connection, {"key": project_key}))

    def add_vote(self, round_id: UUID, vote: VoteRecord) -> UUID:
        """Insert one act, deferred (``Prepared.defer``): on PostgreSQL it leaves with the resolution's writes or the
        commit instead of waiting for its own answer. The unique keys are the last line of defence: a race the locks
        did not order (the same idempotency key on two rounds at once) surfaces as a conflict, never as a second
        vote, wherever the database reports it (``on_clash``; SQLite reports it here)."""
        vote_id = new_row_key()
        conflict = ConflictError(
            f"{vote.voter_id}'s act on round {round_id} conflicts with one recorded at the same moment "
            "(idempotency key or seat already used)",
            code="vote.key_reused" if vote.idempotency_key else "vote.duplicate",
        )
        try:
            _INSERT_VOTE.defer(
                self.connection,
                {
                    "id": vote_id,
                    "round_id": round_id,
                    "voter_id": vote.voter_id,
                    "signer_id": vote.signer_id or vote.voter_id,
                    "kind": vote.kind.value,
                    "decision": vote.decision.value if vote.decision else None,
                    "reason": vote.reason,
                    "conditions": [c.model_dump(mode="json") for c in vote.conditions],
                    "evidence_hash": vote.evidence_hash,
                    "idempotency_key": vote.idempotency_key,
                    "cast_at": vote.cast_at,
                },
            )
        except IntegrityError as err:
            raise conflict from err
        self._tx.on_clash(lambda err: conflict if _constraint_of(err) in _VOTE_KEYS else None)
        return vote_id

    def vote_by_key(self, idempotency_key: str) -> tuple[UUID, VoteRecord] | None:
        row = self.connection.execute(q.VOTE_BY_KEY, {"key": idempotency_key}).first()
        return (row.round_id, _vote(row)) if row else None

    def supersede_votes(self, round_id: UUID, *, now: datetime) -> int:
        from phasegate.models import tables as t

        result = self.session.execute(
            update(t.Vote)
            .where(t.Vote.round_id == round_id, t.Vote.superseded_at.is_(None))
            .values(superseded_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def refresh_round(
        self, round_id: UUID, *, review_id: UUID, evidence_hash: str, evidence_version: int, now: datetime
    ) -> None:
        from phasegate.models import tables as t

        self.session.execute(
            update(t.ApprovalRound)
            .where(t.ApprovalRound.id == round_id)
            .values(
                review_id=review_id, evidence_hash=evidence_hash, evidence_version=evidence_version, refreshed_at=now
            )
        )
        self.session.execute(
            update(t.GateReview).where(t.GateReview.id == review_id).values(status=ReviewStatus.AWAITING_APPROVAL.value)
        )

    def replace_seats(self, round_id: UUID, seats: Sequence[dict[str, Any]], approvers: Sequence[str]) -> None:
        from phasegate.models import tables as t

        self.session.execute(
            update(t.ApprovalRound)
            .where(t.ApprovalRound.id == round_id)
            .values(seats=list(seats), approvers=list(approvers))
        )

    def close_seats(self, round_: RoundSnapshot, seats: Sequence[str]) -> None:
        """Takes the round as the caller read it (locked in this transaction, so its closed seats are current).
        Deferred (``Prepared.defer``): it leaves with the resolution's writes or the commit, no answer awaited."""
        _UPDATE_ROUND.defer(
            self.connection, {"round_id": round_.id, "closed_seats": sorted(set(round_.closed_seats) | set(seats))}
        )

    def list_rounds(self, *, status: RoundStatus | None = None, person_id: str | None = None) -> list[RoundSnapshot]:
        from phasegate.models import tables as t

        query = select(q.ROUNDS).order_by(t.ApprovalRound.opened_at)
        if status is not None:
            query = query.where(t.ApprovalRound.status == status.value)
        rounds = self._rounds(self.session.execute(query).all())
        if person_id is not None:
            rounds = [r for r in rounds if person_id in r.approvers]
        return rounds

    def unapplied_rounds(self) -> list[UUID]:
        from phasegate.models import tables as t

        return list(
            self.session.scalars(
                select(t.ApprovalRound.id).where(
                    t.ApprovalRound.status == RoundStatus.RESOLVED.value, t.ApprovalRound.applied_at.is_(None)
                )
            )
        )

    def resolve_round(
        self, round_: RoundSnapshot, *, decision: Decision, decided_by: Sequence[str], reason: str, now: datetime
    ) -> None:
        """Takes the round as the caller read it (locked) rather than its id, to spare reading it again. Its three
        writes wait for no answer: deferred (``Prepared.defer``), they leave with the commit's pipeline."""
        round_id = round_.id
        _UPDATE_ROUND.defer(
            self.connection,
            {
                "round_id": round_id,
                "status": RoundStatus.RESOLVED.value,
                "decision": decision.value,
                "resolved_at": now,
            },
        )
        _INSERT_DECISION.defer(
            self.connection,
            {
                "id": new_row_key(),
                "round_id": round_id,
                "project_key": round_.project_key,
                "gate_id": round_.gate_id,
                "decision": decision.value,
                "decided_by": list(decided_by),
                "reason": reason,
                "decided_at": now,
            },
        )
        _UPDATE_REVIEW.defer(self.connection, {"review_id": round_.review_id, "status": ReviewStatus.DECIDED.value})

    def cancel_round(self, round_id: UUID, review_id: UUID, *, now: datetime) -> None:
        """End an open round and its review without a decision (nothing is applied to the project)."""
        self.connection.execute(
            q.UPDATE_ROUND, {"round_id": round_id, "status": RoundStatus.CANCELLED.value, "resolved_at": now}
        )
        self.connection.execute(q.UPDATE_REVIEW, {"review_id": review_id, "status": ReviewStatus.CANCELLED.value})

    def mark_round_applied(self, round_id: UUID, *, now: datetime) -> None:
        _UPDATE_ROUND.defer(self.connection, {"round_id": round_id, "applied_at": now})  # with the next statement

    def decision_history(self, project_key: str) -> list[DecisionRecord]:
        from phasegate.models import tables as t

        rows = self.session.scalars(
            select(t.GateDecision).where(t.GateDecision.project_key == project_key).order_by(t.GateDecision.decided_at)
        )
        return [
            DecisionRecord(
                round_id=row.round_id,
                gate_id=row.gate_id,
                decision=Decision(row.decision),
                decided_by=tuple(row.decided_by),
                decided_at=row.decided_at,
                reason=row.reason,
            )
            for row in rows
        ]

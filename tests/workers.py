"""Process entry points for the concurrency and crash tests, and the seeding and inspection they share.

Why separate processes: the claims under test ("any number of processes may vote at once", "a kill -9
between any two steps is completed by the next run") are about processes sharing one database, so the
workers are real interpreters started with ``python -m tests.workers ...``, each with its own engine,
pool and SQLite connection, and they can be killed with SIGKILL like any crashed CLI.

Two commands:

* ``vote``: cast a slice of a shared, shuffled list of vote attempts, then write one JSON result per
  attempt. After a vote (or a replayed vote) that reports a resolved round it applies the decision, as
  the CLI does after a deciding vote. Expected refusals are results; anything else is reported, with
  its traceback, as ``error`` for the test to fail on.
* ``script``: for each project, the whole life of one gate: review, the scripted votes (each with a fixed
  idempotency key), reconcile (``unapplied_rounds`` then apply), dispatch the outbox. Every step is
  written so that running the script again completes whatever a killed run left. ``--crash-at-commit N
  --crash-phase before|after`` makes the process SIGKILL itself just before the N-th COMMIT is sent, or
  just after it returned, to hit every transaction boundary deterministically.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.vocabulary.commands import AddPerson, CastVote, RequestReview
from phasegate.gates.vocabulary.enums import BallotKind, Decision
from phasegate.gates.vocabulary.errors import ConflictError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import ConditionSpec
from phasegate.models import tables as t
from phasegate.models.audit_store import verify_audit
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.notifications.dispatch import BACKOFF_CAP_SECONDS, dispatch_due
from phasegate.usecases import approvals, services
from phasegate.usecases.ports import UnitOfWork
from tests import actors, gatekeeping
from tests.gatekeeping import TWO_OF_THREE, probe, variant

TEMPLATE_ID = "it-2of3"
SEATS = ("sam", "fin", "pam")
"""The three seats of every round: sponsor, finance and PMO; two approvals decide."""
PEOPLE = ("sam", "fin", "pam", "mgr", "dee", "zed")
"""Besides the seats: the manager (no seat), a would-be delegate with no delegation, the requester."""
REQUESTER = "zed"

SCRIPTS: dict[str, tuple[tuple[str, Decision], ...]] = {
    # Each resolves on its third vote, so every scripted vote is accepted on the first run.
    "go": (("sam", Decision.GO), ("pam", Decision.HOLD), ("fin", Decision.GO)),
    "kill": (("sam", Decision.KILL), ("pam", Decision.GO), ("fin", Decision.KILL)),
    "recycle": (("sam", Decision.HOLD), ("fin", Decision.RECYCLE), ("pam", Decision.RECYCLE)),
}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Database:
    """One process's engine and unit-of-work factory for a database URL."""

    url: str
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.url)
        self.sessions = make_session_factory(self.engine)

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def close(self) -> None:
        self.engine.dispose()


# ------------------------------------------------------------------------------------------------ seeding
def seed(db: Database, *, notify_url: Callable[[str], str] = lambda pid: f"json://127.0.0.1:9/{pid}") -> None:
    """Publish the 2-of-3 variant of it-pmo and add the people; ``notify_url`` gives each person's one target."""
    text, template = variant(TWO_OF_THREE, TEMPLATE_ID)
    services.publish_template(
        template, content_hash=template_content_hash(template), source=text, uow=db.uow, now=now(), actor=SYSTEM_ACTOR
    )
    for pid in PEOPLE:
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com", notify_urls=(notify_url(pid),)),
            uow=db.uow,
            now=now(),
            actor=SYSTEM_ACTOR,
        )


def add_ready_project(db: Database, key: str) -> None:
    """A project whose first gate is ready: roles assigned, every deliverable registered and signed."""
    gatekeeping.add_ready_project(db.uow, now, key, template_id=TEMPLATE_ID)


def ensure_round(db: Database, key: str) -> UUID:
    """The project's round for its first gate: the one a previous run opened, or a new one.

    ``start_review`` is not idempotent by itself (a second call is refused while a round is open, and after
    the decision it would review the next gate), so a rerun looks for the round first.
    """
    for _ in range(2):
        existing = [r.id for r in approvals.list_rounds(uow=db.uow) if r.project_key == key]
        if existing:
            return existing[0]
        try:
            review = services.start_review(
                RequestReview(project_key=key, requested_by=REQUESTER),
                uow=db.uow,
                now=now(),
                probe=probe,
                actor=actors.admin(REQUESTER),
            )
        except ConflictError as exc:
            if exc.code != "review.round_open":
                raise
            continue  # another process opened it between our look and our review
        assert review.round_id is not None, review.evaluation.reasons
        return review.round_id
    raise AssertionError(f"project {key}: no round found and none could be opened")


# ------------------------------------------------------------------------------------------------ vote attempts
def condition(owner: str) -> ConditionSpec:
    return ConditionSpec(
        text=f"{owner} signs the risk register", owner_id=owner, due_on=date(2027, 3, 1), verification="verifier:pam"
    )


def command(attempt: dict[str, Any]) -> CastVote:
    """The CastVote an attempt (a JSON object from the plan) stands for."""
    decision = Decision(attempt["decision"])
    return CastVote(
        round_id=UUID(attempt["round"]),
        voter_id=attempt["voter"],
        on_behalf_of=attempt.get("on_behalf_of"),
        decision=decision,
        kind=BallotKind.VOTE,
        reason=attempt.get("reason") or ("" if decision is Decision.GO else "because"),
        conditions=(condition(attempt["voter"]),) if decision is Decision.CONDITIONAL_GO else (),
        idempotency_key=attempt.get("key"),
    )


def _classify(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, approvals.SecurityRefusedError):
        return {"outcome": "refused", "code": exc.code}
    if isinstance(exc, PermissionDeniedError):
        return {"outcome": "denied", "code": exc.code}
    if isinstance(exc, ConflictError):
        return {"outcome": "conflict", "code": exc.code}
    return {"outcome": "error", "code": type(exc).__name__, "error": "".join(traceback.format_exception(exc))}


def attempt_vote(db: Database, attempt: dict[str, Any]) -> dict[str, Any]:
    """Cast one attempt; apply the decision when the round is resolved. Never raises."""
    report: dict[str, Any] = {"id": attempt["id"]}
    try:
        result = actors.cast_vote(command(attempt), uow=db.uow, now=now(), probe=probe)
    except Exception as exc:  # classified: expected refusals are results, the rest are failures to report
        return report | _classify(exc)
    report |= {
        "outcome": "ok",
        "replayed": result.replayed,
        "round_status": result.round_status.value,
        "round_decision": result.round_decision.value if result.round_decision else None,
        "voter": result.voter_id,
        "decision": result.decision.value if result.decision else None,
    }
    if result.round_decision is not None:
        try:
            applied = approvals.apply_round_decision(result.round_id, uow=db.uow, now=now())
        except Exception as exc:
            report["apply"] = _classify(exc)
        else:
            report["apply"] = {
                "outcome": "ok",
                "already_applied": applied.already_applied,
                "decision": applied.decision.value,
                "status": applied.status.value,
                "stage_id": applied.stage_id,
            }
    return report


def run_vote_worker(url: str, plan: Path, index: int, workers: int, out: Path, ready: Path, go: Path) -> None:
    """Take every ``workers``-th attempt from ``index``; start together with the others on the ``go`` file."""
    attempts = json.loads(plan.read_text())[index::workers]
    db = Database(url)
    try:
        with db.sessions() as session:  # open the pool's connection before the race starts
            session.execute(select(1))
        ready.touch()
        deadline = time.monotonic() + 120
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit("vote worker: no go signal within 120 s")
            time.sleep(0.005)
        results = [attempt_vote(db, attempt) for attempt in attempts]
    finally:
        db.close()
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results))
    tmp.replace(out)


# ------------------------------------------------------------------------------------------------ the crash script
def arm_crash(db: Database, *, at_commit: int, phase: str) -> Callable[[], int]:
    """SIGKILL this process just before the ``at_commit``-th COMMIT (phase "before") or just after it returned.

    Returns a function giving the number of COMMITs sent so far (used with ``at_commit=0`` to count them).
    """
    sent = 0
    armed = False

    @event.listens_for(db.engine, "commit")
    def _before_commit(_connection: Connection) -> None:
        nonlocal sent, armed
        sent += 1
        if sent == at_commit:
            if phase == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            armed = True

    @event.listens_for(db.sessions, "after_commit")
    def _after_commit(_session: Session) -> None:
        if armed:
            os.kill(os.getpid(), signal.SIGKILL)

    @event.listens_for(db.engine, "checkin")
    def _after_unit_commit(*_: object) -> None:  # a unit of work commits its connection, then hands it back
        if armed:
            os.kill(os.getpid(), signal.SIGKILL)

    return lambda: sent


def run_script(db: Database, projects: Sequence[tuple[str, str]], *, dispatch_skew: float = 0.0) -> None:
    """Review, vote, reconcile and dispatch for each (project, script name); safe to run again after a kill.

    ``dispatch_skew`` seconds are added to the dispatcher's clock: a rerun stands for a run that comes after
    the killed run's outbox leases expired (60 s), without the test waiting for them.
    """
    for key, script in projects:
        round_id = ensure_round(db, key)
        for seat, decision in SCRIPTS[script]:
            result = actors.cast_vote(
                CastVote(
                    round_id=round_id,
                    voter_id=seat,
                    decision=decision,
                    reason="" if decision is Decision.GO else "scripted",
                    idempotency_key=f"script:{key}:{seat}",
                ),
                uow=db.uow,
                now=now(),
                probe=probe,
            )
            if result.round_decision is not None:
                approvals.apply_round_decision(round_id, uow=db.uow, now=now())
        for unapplied in approvals.unapplied_rounds(uow=db.uow):  # reconcile what a kill left resolved
            approvals.apply_round_decision(unapplied, uow=db.uow, now=now())
    skew = dispatch_skew
    for _ in range(100):
        report = dispatch_due(
            db.sessions,
            now=now() + timedelta(seconds=skew),
            batch_size=100,
            concurrency=1,
            send_timeout_seconds=20,
            lease_seconds=60,
        )
        if report.claimed == 0:
            return
        if report.failed:  # a send failed (a loaded machine): move the clock past its backoff, not the test
            skew += BACKOFF_CAP_SECONDS
    raise AssertionError("the outbox did not drain in 100 dispatcher passes")


# ------------------------------------------------------------------------------------------------ inspection
@dataclass(frozen=True)
class StoreFacts:
    """What the invariants are checked against, read in one transaction."""

    audit_rows: int
    audit_seqs_contiguous: bool
    audit_break: str | None
    audit_actions: dict[str, int]
    decisions_per_round: dict[str, int]
    rounds: dict[str, dict[str, Any]]
    live_votes_per_seat: dict[tuple[str, str], int]
    projects: dict[str, dict[str, Any]]
    applied_entries: dict[str, list[str]]
    outbox_keys: int
    outbox_distinct_keys: int
    outbox_by_status: dict[str, int]
    outbox_by_kind: dict[str, int]
    outbox_idempotency_keys: tuple[str, ...]
    vote_keys: dict[str, dict[str, Any]]
    conditions_per_round: dict[str, int]


def _counts(session: Session, column: Any) -> dict[Any, int]:
    """Rows per value of ``column``."""
    return dict(session.execute(select(column, func.count()).group_by(column)).all())


def inspect_store(url: str) -> StoreFacts:
    db = Database(url)
    try:
        with db.sessions() as session, session.begin():
            broken = verify_audit(session)
            seqs = list(session.scalars(select(t.AuditEntry.seq).order_by(t.AuditEntry.seq)))
            actions = _counts(session, t.AuditEntry.action)
            applied: dict[str, list[str]] = {}
            for entity, payload in session.execute(
                select(t.AuditEntry.entity, t.AuditEntry.payload).where(t.AuditEntry.action == "decision.applied")
            ):
                applied.setdefault(entity.removeprefix("project:"), []).append(str(payload["round"]))
            rounds = {
                str(r.id): {
                    "project": r.project_key,
                    "status": r.status,
                    "decision": r.decision,
                    "applied": r.applied_at is not None,
                    "closed_seats": list(r.closed_seats or []),
                }
                for r in session.scalars(select(t.ApprovalRound))
            }
            per_seat: dict[tuple[str, str], int] = {}
            keys: dict[str, dict[str, Any]] = {}
            for v in session.scalars(select(t.Vote).where(t.Vote.superseded_at.is_(None))):
                per_seat[(str(v.round_id), v.voter_id)] = per_seat.get((str(v.round_id), v.voter_id), 0) + 1
                if v.idempotency_key:
                    keys[v.idempotency_key] = {"round": str(v.round_id), "voter": v.voter_id, "decision": v.decision}
            projects = {
                p.key: {"status": p.status, "stage_id": p.stage_id, "recycle_count": p.recycle_count}
                for p in session.scalars(select(t.Project))
            }
            outbox_keys = session.scalar(select(func.count(t.OutboxMessage.id))) or 0
            distinct = session.scalar(select(func.count(func.distinct(t.OutboxMessage.idempotency_key)))) or 0
            by_status = _counts(session, t.OutboxMessage.status)
            by_kind = _counts(session, t.OutboxMessage.kind)
            outbox_idempotency_keys = tuple(session.scalars(select(t.OutboxMessage.idempotency_key)))
            conditions = {str(k): v for k, v in _counts(session, t.Condition.round_id).items()}
            decisions = {str(k): v for k, v in _counts(session, t.GateDecision.round_id).items()}
    finally:
        db.close()
    return StoreFacts(
        audit_rows=len(seqs),
        audit_seqs_contiguous=seqs == list(range(1, len(seqs) + 1)),
        audit_break=None if broken is None else repr(broken),
        audit_actions=actions,
        decisions_per_round=decisions,
        rounds=rounds,
        live_votes_per_seat=per_seat,
        projects=projects,
        applied_entries=applied,
        outbox_keys=outbox_keys,
        outbox_distinct_keys=distinct,
        outbox_by_status=by_status,
        outbox_by_kind=by_kind,
        outbox_idempotency_keys=outbox_idempotency_keys,
        vote_keys=keys,
        conditions_per_round=conditions,
    )


# ------------------------------------------------------------------------------------------------ command line
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.workers")
    commands = parser.add_subparsers(dest="command", required=True)
    vote = commands.add_parser("vote")
    vote.add_argument("--db", required=True)
    vote.add_argument("--plan", type=Path, required=True)
    vote.add_argument("--index", type=int, required=True)
    vote.add_argument("--workers", type=int, required=True)
    vote.add_argument("--out", type=Path, required=True)
    vote.add_argument("--ready", type=Path, required=True)
    vote.add_argument("--go", type=Path, required=True)
    script = commands.add_parser("script")
    script.add_argument("--db", required=True)
    script.add_argument("--project", action="append", required=True, help="KEY:SCRIPT, repeatable")
    script.add_argument("--crash-at-commit", type=int, default=0)
    script.add_argument("--crash-phase", choices=("before", "after"), default="after")
    script.add_argument("--dispatch-skew", type=float, default=0.0)
    script.add_argument("--ready", type=Path)
    script.add_argument("--count-commits", type=Path, help="write the number of COMMITs sent to this file")
    args = parser.parse_args(argv)
    if args.command == "vote":
        run_vote_worker(args.db, args.plan, args.index, args.workers, args.out, args.ready, args.go)
        return 0
    db = Database(args.db)
    try:
        commits = arm_crash(db, at_commit=args.crash_at_commit, phase=args.crash_phase)
        if args.ready is not None:
            args.ready.touch()
        projects = [tuple(item.split(":", 1)) for item in args.project]
        run_script(db, [(key, name) for key, name in projects], dispatch_skew=args.dispatch_skew)
        if args.count_commits is not None:
            args.count_commits.write_text(str(commits()))
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

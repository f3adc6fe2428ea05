"""The gate dossier of one project: everything an auditor needs, each hash recomputed, read straight from SQL.

Why a read model of its own rather than the unit of work: a dossier must show what is *stored*, including
rows somebody edited behind the application's back, so it reads the tables as they are and never
validates them into domain types first (a tampered row must still be shown, and named).

What is re-verified, and why each check exists:

* The whole audit chain, because an entry's hash depends on every entry before it: an entry of another
  project edited earlier in the log makes this project's entries untrustworthy too.
* Each audit entry about the project: its hash recomputed from its fields and its link to the entry
  before it in the log.
* Each gate review: the sha256 of its stored evidence (canonical JSON, as ``gates.evaluation`` made it)
  against its stored ``evidence_hash``, and that hash against the chained audit entry that recorded it
  (an edit of both the evidence and its hash column still disagrees with the chain).
* Each vote: its evidence hash matched to a review of its own round whose evidence still verifies,
  and its row (signer, principal, decision, reason, conditions, time) against its ``vote.cast`` entry.
* Each decision against the ``round.resolved`` entry of its round.

Nothing here writes: exporting a tampered database still produces the dossier, with ``problems`` naming
every check that failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from phasegate.gates.audit import GENESIS_HASH, AuditRecord, iso_utc, record_hash
from phasegate.gates.vocabulary.canonical import canonical_json, sha256_hex
from phasegate.gates.vocabulary.errors import InputError, NotFoundError
from phasegate.models.audit_store import iter_audit, verify_audit
from phasegate.models.tables import (
    ApprovalRound,
    Condition,
    GateDecision,
    GateReview,
    Project,
    Vote,
)

DOSSIER_FORMAT = "phasegate.dossier/1"

HOW_TO_VERIFY = (
    "Audit entry hash = sha256 of the canonical JSON (keys sorted, separators ',' and ':', UTF-8, no ASCII "
    "escaping) of {seq, at (UTC ISO-8601 with microseconds), actor, action, entity, payload, prev_hash}; entry 1 "
    f"has prev_hash {GENESIS_HASH}, every later entry the hash of the entry before it. Review evidence_hash = "
    "sha256 of the canonical JSON of the stored evidence. Votes are bound to the evidence_hash they saw."
)


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)


class Problem(_Frozen):
    """One failed check, in words, with the thing it concerns (``audit:17``, ``review:<id>``, ``vote:<id>``)."""

    subject: str
    check: str
    message: str


class ChainResult(_Frozen):
    """The whole log's verification: the first break as ``verify_audit`` names it, and every bad entry."""

    intact: bool
    entries: int
    head_seq: int
    head_hash: str | None
    first_break_seq: int | None = None
    first_break_kind: str | None = None
    first_break_reason: str | None = None
    bad_entries: tuple[int, ...] = ()


class DossierEntry(_Frozen):
    """An audit entry about the project, as stored, with its hash recomputed and its link checked.

    ``at`` is the exact text that went into the hash (UTC, microseconds), so the entry re-verifies from
    this JSON alone: with sha256 for scheme ``sha256``, with HMAC-SHA256 under the audit key (which the
    dossier never holds) for ``hmac-sha256``.
    """

    seq: int
    at: str
    actor: str
    action: str
    entity: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    recomputed_hash: str
    hash_ok: bool
    linked_ok: bool
    scheme: str = "sha256"


class DossierReview(_Frozen):
    """A stored review; ``round_id`` is the round it opened or, for a re-evaluation, the round it refreshed."""

    id: uuid.UUID
    round_id: uuid.UUID | None
    gate_id: str
    stage_id: str
    status: str
    recommendation: str
    requested_by: str | None
    created_at: datetime
    evaluation: dict[str, Any]
    evidence: dict[str, Any]
    evidence_hash: str
    recomputed_hash: str
    hash_ok: bool
    audit_seq: int | None
    audit_ok: bool


class DossierVote(_Frozen):
    id: uuid.UUID
    signer_id: str
    on_behalf_of: str | None
    voter_id: str
    kind: str
    decision: str | None
    reason: str
    conditions: list[dict[str, Any]]
    evidence_hash: str
    cast_at: datetime
    superseded: bool
    superseded_at: datetime | None
    review_id: uuid.UUID | None
    evidence_ok: bool
    audit_seq: int | None
    audit_ok: bool
    audit_mismatch: tuple[str, ...] = ()


class DossierRound(_Frozen):
    id: uuid.UUID
    review_id: uuid.UUID
    gate_id: str
    policy: str
    policy_spec: dict[str, Any]
    approvers: list[str]
    seats: list[dict[str, Any]]
    closed_seats: list[str]
    evidence_hash: str
    review_ok: bool
    status: str
    decision: str | None
    requested_by: str | None
    opened_at: datetime
    due_at: datetime | None
    resolved_at: datetime | None
    applied_at: datetime | None
    votes: tuple[DossierVote, ...]


class DossierDecision(_Frozen):
    id: uuid.UUID
    round_id: uuid.UUID
    gate_id: str
    decision: str
    decided_by: list[str]
    reason: str
    decided_at: datetime
    audit_seq: int | None
    audit_ok: bool


class DossierCondition(_Frozen):
    id: uuid.UUID
    round_id: uuid.UUID
    gate_id: str
    text: str
    owner_id: str
    due_on: str
    verification: str
    status: str
    resolved_at: datetime | None
    resolved_by: str | None


class DossierProject(_Frozen):
    key: str
    name: str
    template: str
    sponsor_id: str
    manager_id: str
    status: str
    stage_id: str
    budget: str
    currency: str
    created_at: datetime
    closed_at: datetime | None


class Dossier(_Frozen):
    """One project's gate history with every hash re-verified; ``verified`` is True only if nothing failed."""

    format: str = DOSSIER_FORMAT
    generated_at: datetime
    how_to_verify: str = HOW_TO_VERIFY
    project: DossierProject
    chain: ChainResult
    reviews: tuple[DossierReview, ...]
    rounds: tuple[DossierRound, ...]
    decisions: tuple[DossierDecision, ...]
    conditions: tuple[DossierCondition, ...]
    audit: tuple[DossierEntry, ...]
    problems: tuple[Problem, ...]

    @property
    def verified(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The JSON document written to ``KEY-dossier.json``; ``verified`` is spelled out for readers."""
        return self.model_dump(mode="json") | {"verified": self.verified}


# ------------------------------------------------------------------------------------------------ chain
def _iso(at: datetime) -> str:
    """``iso_utc`` of a stored time; a value no appender could write (naive) is shown as it is."""
    try:
        return iso_utc(at)
    except InputError:
        return at.isoformat()


def _recompute(record: AuditRecord, key: bytes | None) -> str:
    """The hash under the entry's own scheme; AuditKeyError (exit 2) for a keyed entry without the key."""
    try:
        return record_hash(record, key)
    except (InputError, TypeError, ValueError):
        return ""  # a value no appender could have written (naive time, non-JSON payload): never matches


def _scan_chain(
    session: Session, wanted: _Scope, key: bytes | None
) -> tuple[list[DossierEntry], tuple[int, ...], AuditRecord | None, int]:
    """One pass over the whole log: the entries in scope, checked, and the seq of every bad entry anywhere."""
    included: list[DossierEntry] = []
    bad: list[int] = []
    last: AuditRecord | None = None
    count = 0
    for record in iter_audit(session):
        count += 1
        recomputed = _recompute(record, key)
        hash_ok = recomputed == record.hash
        expected_prev = last.hash if last is not None else GENESIS_HASH
        expected_seq = last.seq + 1 if last is not None else 1
        linked_ok = record.prev_hash == expected_prev and record.seq == expected_seq
        if not (hash_ok and linked_ok):
            bad.append(record.seq)
        if wanted.covers(record):
            included.append(
                DossierEntry(
                    seq=record.seq,
                    at=_iso(record.at),
                    actor=record.actor,
                    action=record.action,
                    entity=record.entity,
                    payload=record.payload if isinstance(record.payload, dict) else {"raw": record.payload},
                    prev_hash=record.prev_hash,
                    hash=record.hash,
                    recomputed_hash=recomputed,
                    hash_ok=hash_ok,
                    linked_ok=linked_ok,
                    scheme=record.scheme,
                )
            )
        last = record
    return included, tuple(bad), last, count


class _Scope:
    """Which audit entries concern the project: its own, its reviews', rounds', conditions' and delegations'."""

    def __init__(
        self,
        key: str,
        rounds: Iterable[uuid.UUID],
        conditions: Iterable[uuid.UUID],
        delegations: Iterable[tuple[str, str]],
    ) -> None:
        self.project = f"project:{key}"
        self.entities = {f"round:{r}" for r in rounds} | {f"condition:{c}" for c in conditions}
        self.delegations = set(delegations)  # (principal, delegate) pairs that signed in this project

    def covers(self, record: AuditRecord) -> bool:
        entity = record.entity
        if entity == self.project or entity.startswith(self.project + "/") or entity in self.entities:
            return True
        if entity.startswith("person:") and record.action.startswith("delegation."):
            payload = record.payload if isinstance(record.payload, dict) else {}
            return (str(payload.get("principal_id")), str(payload.get("delegate_id"))) in self.delegations
        return False


# ------------------------------------------------------------------------------------------------ reading
def _project(session: Session, key: str) -> Project:
    found = session.get(Project, key)
    if found is None:
        raise NotFoundError(
            f"--project: unknown project {key!r}; see 'phasegate project list'", code="project.not_found"
        )
    return found


def _same_json(a: Any, b: Any) -> bool:
    try:
        return canonical_json(a) == canonical_json(b)
    except (TypeError, ValueError):
        return False


def _evidence_hash_of(evidence: Any) -> str:
    try:
        return sha256_hex(evidence)
    except (TypeError, ValueError):
        return ""


def _meaning(kind: str, decision: str | None) -> str:
    """The meaning ``usecases.approvals`` writes for an act: the same rule, so a stored row can be checked."""
    if kind == "abstain":
        return "abstained"
    if kind == "recuse":
        return "recused"
    return "approved" if decision in ("go", "conditional_go") else "rejected"


def _vote_mismatch(vote: Vote, entry: DossierEntry) -> tuple[str, ...]:
    """Fields on which a stored vote disagrees with the chained entry that recorded it."""
    payload = entry.payload
    expected = {
        "decision": vote.decision,
        "reason": vote.reason,
        "meaning": _meaning(vote.kind, vote.decision),
        "evidence_hash": vote.evidence_hash,
    }
    differ = [name for name, value in expected.items() if payload.get(name) != value]
    if not _same_json(payload.get("conditions", []), vote.conditions):
        differ.append("conditions")
    if entry.at != _iso(vote.cast_at):
        differ.append("cast_at")
    if not entry.hash_ok:
        differ.append("audit entry hash")
    return tuple(differ)


def _is_vote_entry(entry: DossierEntry, vote: Vote) -> bool:
    """The ``vote.cast`` entry of a vote: same round, signer, principal and evidence (unique per seat)."""
    payload = entry.payload
    principal = payload.get("on_behalf_of") or entry.actor
    return (
        entry.action == "vote.cast"
        and entry.entity == f"round:{vote.round_id}"
        and entry.actor == vote.signer_id
        and principal == vote.voter_id
        and payload.get("evidence_hash") == vote.evidence_hash
    )


def _review_anchor(
    review: GateReview, entries: list[DossierEntry], round_of_review: dict[uuid.UUID, uuid.UUID]
) -> DossierEntry | None:
    """The chained entry that recorded this review's evidence hash: ``review.recorded`` or ``round.refreshed``."""
    for entry in entries:
        payload = entry.payload
        if entry.action == "review.recorded" and payload.get("review") == str(review.id):
            return entry
        rid = round_of_review.get(review.id)
        if (
            entry.action == "round.refreshed"
            and rid is not None
            and entry.entity == f"round:{rid}"
            and payload.get("to_hash") == review.evidence_hash
        ):
            return entry
    return None


def _check_chain(
    session: Session, scope: _Scope, key: bytes | None
) -> tuple[ChainResult, list[DossierEntry], list[Problem]]:
    entries, bad, head, count = _scan_chain(session, scope, key)
    first = verify_audit(session, key=key)
    chain = ChainResult(
        intact=first is None and not bad,
        entries=count,
        head_seq=head.seq if head else 0,
        head_hash=head.hash if head else None,
        first_break_seq=first.seq if first else None,
        first_break_kind=first.kind if first else None,
        first_break_reason=first.reason if first else None,
        bad_entries=bad,
    )
    problems: list[Problem] = []
    if first is not None:
        problems.append(Problem(subject=f"audit:{first.seq}", check="chain", message=f"audit chain: {first.reason}"))
    problems += [
        Problem(subject=f"audit:{seq}", check="chain", message=f"audit entry {seq} fails its hash or link")
        for seq in bad
        if first is None or seq != first.seq
    ]
    return chain, entries, problems


def _rounds_of_reviews(reviews: list[GateReview], rounds: list[ApprovalRound]) -> dict[uuid.UUID, uuid.UUID]:
    """Review -> round. A round's row names only the review that opened it; a re-evaluation under an open round
    (a refresh) is stored as a new review of the same gate, so it belongs to the latest round opened before it."""
    owners = {r.review_id: r.id for r in rounds}
    for review in reviews:
        if review.id not in owners:
            owner = next(
                (r for r in reversed(rounds) if r.gate_id == review.gate_id and r.opened_at <= review.created_at), None
            )
            if owner is not None:
                owners[review.id] = owner.id
    return owners


def _check_reviews(
    reviews: list[GateReview], owners: dict[uuid.UUID, uuid.UUID], entries: list[DossierEntry]
) -> tuple[list[DossierReview], list[Problem]]:
    out: list[DossierReview] = []
    problems: list[Problem] = []
    for review in reviews:
        recomputed = _evidence_hash_of(review.evidence)
        anchor = _review_anchor(review, entries, owners)
        anchored = (
            anchor is not None
            and anchor.hash_ok
            and review.evidence_hash == (anchor.payload.get("evidence_hash") or anchor.payload.get("to_hash"))
        )
        out.append(
            DossierReview(
                id=review.id,
                round_id=owners.get(review.id),
                gate_id=review.gate_id,
                stage_id=review.stage_id,
                status=review.status,
                recommendation=review.recommendation,
                requested_by=review.requested_by,
                created_at=review.created_at,
                evaluation=review.evaluation,
                evidence=review.evidence,
                evidence_hash=review.evidence_hash,
                recomputed_hash=recomputed,
                hash_ok=recomputed == review.evidence_hash,
                audit_seq=anchor.seq if anchor else None,
                audit_ok=anchored,
            )
        )
        if recomputed != review.evidence_hash:
            problems.append(
                Problem(
                    subject=f"review:{review.id}",
                    check="evidence_hash",
                    message=f"review {review.id}: stored evidence hashes to {recomputed[:12] or '?'}, "
                    f"not its evidence_hash {review.evidence_hash[:12]}",
                )
            )
        if not anchored:
            problems.append(
                Problem(
                    subject=f"review:{review.id}",
                    check="audit",
                    message=f"review {review.id}: its evidence_hash is not the one the audit log recorded",
                )
            )
    return out, problems


def _check_vote(
    vote: Vote, rnd: ApprovalRound, verified: dict[str, uuid.UUID], entries: list[DossierEntry]
) -> tuple[DossierVote, list[Problem]]:
    matched = verified.get(vote.evidence_hash)
    entry = next((e for e in entries if _is_vote_entry(e, vote)), None)
    mismatch = ("no vote.cast entry",) if entry is None else _vote_mismatch(vote, entry)
    checked = DossierVote(
        id=vote.id,
        signer_id=vote.signer_id,
        on_behalf_of=vote.voter_id if vote.signer_id != vote.voter_id else None,
        voter_id=vote.voter_id,
        kind=vote.kind,
        decision=vote.decision,
        reason=vote.reason,
        conditions=vote.conditions,
        evidence_hash=vote.evidence_hash,
        cast_at=vote.cast_at,
        superseded=vote.superseded_at is not None,
        superseded_at=vote.superseded_at,
        review_id=matched,
        evidence_ok=matched is not None,
        audit_seq=entry.seq if entry else None,
        audit_ok=not mismatch,
        audit_mismatch=mismatch,
    )
    problems: list[Problem] = []
    if matched is None:
        problems.append(
            Problem(
                subject=f"vote:{vote.id}",
                check="evidence_hash",
                message=f"vote {vote.id} by {vote.signer_id}: its evidence_hash matches no verified review "
                f"of round {rnd.id}",
            )
        )
    if mismatch:
        where = f"entry {entry.seq}" if entry else "the audit log"
        problems.append(
            Problem(
                subject=f"vote:{vote.id}",
                check="audit",
                message=f"vote {vote.id} by {vote.signer_id}: differs from {where} on {', '.join(mismatch)}",
            )
        )
    return checked, problems


def _check_rounds(
    rounds: list[ApprovalRound], votes: list[Vote], reviews: list[DossierReview], entries: list[DossierEntry]
) -> tuple[list[DossierRound], list[Problem]]:
    out: list[DossierRound] = []
    problems: list[Problem] = []
    for rnd in rounds:
        verified = {r.evidence_hash: r.id for r in reviews if r.round_id == rnd.id and r.hash_ok}
        review_ok = rnd.evidence_hash in verified
        if not review_ok:
            problems.append(
                Problem(
                    subject=f"round:{rnd.id}",
                    check="evidence_hash",
                    message=f"round {rnd.id}: its evidence_hash matches no verified review of the round",
                )
            )
        checked: list[DossierVote] = []
        for vote in (v for v in votes if v.round_id == rnd.id):
            one, found = _check_vote(vote, rnd, verified, entries)
            checked.append(one)
            problems += found
        out.append(
            DossierRound(
                id=rnd.id,
                review_id=rnd.review_id,
                gate_id=rnd.gate_id,
                policy=rnd.policy,
                policy_spec=rnd.policy_spec,
                approvers=rnd.approvers,
                seats=rnd.seats,
                closed_seats=rnd.closed_seats,
                evidence_hash=rnd.evidence_hash,
                review_ok=review_ok,
                status=rnd.status,
                decision=rnd.decision,
                requested_by=rnd.requested_by,
                opened_at=rnd.opened_at,
                due_at=rnd.due_at,
                resolved_at=rnd.resolved_at,
                applied_at=rnd.applied_at,
                votes=tuple(checked),
            )
        )
    return out, problems


def _check_decisions(
    decisions: list[GateDecision], entries: list[DossierEntry]
) -> tuple[list[DossierDecision], list[Problem]]:
    out: list[DossierDecision] = []
    problems: list[Problem] = []
    for decision in decisions:
        entry = next(
            (
                e
                for e in entries
                if e.action == "round.resolved"
                and e.entity == f"round:{decision.round_id}"
                and e.payload.get("decision") == decision.decision
            ),
            None,
        )
        audit_ok = entry is not None and entry.hash_ok and entry.at == _iso(decision.decided_at)
        out.append(
            DossierDecision(
                id=decision.id,
                round_id=decision.round_id,
                gate_id=decision.gate_id,
                decision=decision.decision,
                decided_by=decision.decided_by,
                reason=decision.reason,
                decided_at=decision.decided_at,
                audit_seq=entry.seq if entry else None,
                audit_ok=audit_ok,
            )
        )
        if not audit_ok:
            problems.append(
                Problem(
                    subject=f"decision:{decision.id}",
                    check="audit",
                    message=f"decision {decision.decision} on round {decision.round_id}: "
                    "no matching round.resolved entry in the audit log",
                )
            )
    return out, problems


def _project_header(project: Project) -> DossierProject:
    return DossierProject(
        key=project.key,
        name=project.name,
        template=f"{project.template_id}@{project.template_version}#{project.template_hash}",
        sponsor_id=project.sponsor_id,
        manager_id=project.manager_id,
        status=project.status,
        stage_id=project.stage_id,
        budget=format(project.budget, "f"),
        currency=project.currency,
        created_at=project.created_at,
        closed_at=project.closed_at,
    )


def _condition(c: Condition) -> DossierCondition:
    return DossierCondition(
        id=c.id,
        round_id=c.round_id,
        gate_id=c.gate_id,
        text=c.text,
        owner_id=c.owner_id,
        due_on=c.due_on.isoformat(),
        verification=c.verification,
        status=c.status,
        resolved_at=c.resolved_at,
        resolved_by=c.resolved_by,
    )


def collect_dossier(session: Session, project_key: str, *, now: datetime, audit_key: bytes | None = None) -> Dossier:
    """Read and re-verify the dossier of ``project_key`` in the session's transaction; raises NotFoundError.

    ``now`` is the export time written into the dossier (the caller's clock, so tests choose it); keyed
    audit entries are re-verified with ``audit_key`` (AuditKeyError when they exist and it is None).
    """
    project = _project(session, project_key)
    key = project.key
    reviews = list(
        session.scalars(
            select(GateReview).where(GateReview.project_key == key).order_by(GateReview.created_at, GateReview.id)
        )
    )
    rounds = list(
        session.scalars(
            select(ApprovalRound)
            .where(ApprovalRound.project_key == key)
            .order_by(ApprovalRound.opened_at, ApprovalRound.id)
        )
    )
    round_ids = [r.id for r in rounds]
    votes = (
        list(session.scalars(select(Vote).where(Vote.round_id.in_(round_ids)).order_by(Vote.cast_at, Vote.id)))
        if round_ids
        else []
    )
    decisions = list(
        session.scalars(
            select(GateDecision)
            .where(GateDecision.project_key == key)
            .order_by(GateDecision.decided_at, GateDecision.id)
        )
    )
    conditions = list(
        session.scalars(
            select(Condition).where(Condition.project_key == key).order_by(Condition.created_at, Condition.id)
        )
    )
    delegated = {(v.voter_id, v.signer_id) for v in votes if v.signer_id != v.voter_id}
    scope = _Scope(key, round_ids, (c.id for c in conditions), delegated)

    chain, entries, problems = _check_chain(session, scope, audit_key)
    owners = _rounds_of_reviews(reviews, rounds)
    checked_reviews, found = _check_reviews(reviews, owners, entries)
    problems += found
    checked_rounds, found = _check_rounds(rounds, votes, checked_reviews, entries)
    problems += found
    checked_decisions, found = _check_decisions(decisions, entries)
    problems += found
    return Dossier(
        generated_at=now,
        project=_project_header(project),
        chain=chain,
        reviews=tuple(checked_reviews),
        rounds=tuple(checked_rounds),
        decisions=tuple(checked_decisions),
        conditions=tuple(_condition(c) for c in conditions),
        audit=tuple(entries),
        problems=tuple(problems),
    )

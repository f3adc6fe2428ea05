"""The approval link: what opening it shows, what submitting it records, and what follows a deciding vote.

Rules this module keeps (see notifications/links.py for the token itself):

- **GET shows, POST acts.** Mail scanners open links before people do, so opening a link never records
  anything about the round; only the form's POST votes. (A refused link is audited on either method.)
- **Single use.** After a vote the link's sha256 is kept in ``used_approval_links``; opening it again shows
  the vote on record and never a second form; submitting it again is refused (409) and audited. The vote
  carries an idempotency key derived from the link, so two submits racing each other record one vote.
- **Never vote on stale evidence.** A link is bound to the evidence hash it was sent with; once the round's
  evidence moved on, the page says so and a fresh link is on its way. The form also sends the hash the
  page showed (``seen_evidence_hash``), so evidence that changes while the page is open is caught too.
- **Refusals reveal nothing.** A forged, altered, malformed or expired link gets the same kind of page
  whatever round it claims, and an audit entry ``security.link_refused`` that records only the reason and
  a fingerprint of the link, never the round it names.
- **After a deciding vote** the gate-decision runs in a background task, after the response: through the
  ``gate-decision`` Prefect flow when a Prefect API is configured for this database (``PREFECT_API_URL``, or
  the local server of ``phasegate server start``), so it shows in the Prefect UI like a CLI vote; otherwise
  by calling ``gates.approvals.apply_round_decision`` directly, which is what the flow's task does. Either
  way it is idempotent, and ``phasegate rounds reconcile`` applies a decision whose background task died.
  The outbox is then dispatched, so the decision and any fresh links go out without waiting for the
  scheduled dispatcher.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from flows.runtime import Runtime, approval_links, probe_file, utc_now
from gates import approvals, people, services
from models.commands import CastVote
from models.enums import BallotKind, Decision, RoundStatus
from models.errors import InputError, NotFoundError, PermissionDeniedError
from models.identity import AuthMethod
from models.settings import Settings
from models.snapshots import ConditionSpec, RoundSnapshot, VoteRecord
from notifications.links import EXPIRED, STALE_EVIDENCE, ApprovalClaim, read_approval_token
from web import store

logger = logging.getLogger(__name__)

REFUSED = "security.link_refused"
REPLAYED = "approval_link.replayed"
UNKNOWN_ROUND = "approval_link.unknown_round"
NOT_APPROVER = "approval_link.not_an_approver"
CHOICES = ("go", "conditional_go", "recycle", "hold", "kill", "abstain", "recuse")
CONDITION_ROWS = 3


class LinkRefusedError(PermissionDeniedError):
    """A link that cannot be used at all; ``status`` is the HTTP status of the page that says so."""

    code = "approval_link.refused"

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, code=code)
        self.status = status


@dataclass(frozen=True)
class Link:
    """A link whose signature, expiry and round check out (it may still be stale or used)."""

    token: str
    digest: str
    claim: ApprovalClaim
    current: RoundSnapshot

    @property
    def stale(self) -> bool:
        try:
            self.claim.require(
                round_id=self.current.id, approver_id=self.claim.approver_id, evidence_hash=self.current.evidence_hash
            )
        except PermissionDeniedError as err:
            if err.code == STALE_EVIDENCE:
                return True
            raise
        return False

    @property
    def my_vote(self) -> VoteRecord | None:
        return next((v for v in self.current.live_votes if v.voter_id == self.claim.approver_id), None)


def secret_of(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


def refuse(rt: Runtime, *, code: str, method: str, digest: str, now: datetime) -> None:
    """Audit a refused link: the reason and a fingerprint only, so the log names no round for a forged link."""
    with rt.uow() as tx:
        tx.append_audit(
            actor="anonymous",
            action=REFUSED,
            entity="approval_link",
            payload={"code": code, "method": method, "link_sha256_prefix": digest[:16]},
            at=now,
        )
        tx.commit()


def open_link(rt: Runtime, token: str, *, method: str, now: datetime) -> Link:
    """Check the signature, expiry, round and approver; audit and raise LinkRefusedError when any fails."""
    digest = store.token_hash(token)
    try:
        claim = read_approval_token(secret_of(rt.settings), token, now=now)
    except PermissionDeniedError as err:
        refuse(rt, code=err.code, method=method, digest=digest, now=now)
        raise LinkRefusedError(str(err), code=err.code, status=410 if err.code == EXPIRED else 403) from None
    try:
        current = services.get_round(UUID(claim.round_id), uow=rt.uow)
    except (ValueError, NotFoundError):
        refuse(rt, code=UNKNOWN_ROUND, method=method, digest=digest, now=now)
        raise LinkRefusedError("approval link: no such round", code=UNKNOWN_ROUND, status=404) from None
    if claim.approver_id not in current.approvers:
        refuse(rt, code=NOT_APPROVER, method=method, digest=digest, now=now)
        raise LinkRefusedError("approval link: not an approver of this round", code=NOT_APPROVER, status=403)
    return Link(token=token, digest=digest, claim=claim, current=current)


def link_used(rt: Runtime, link: Link) -> bool:
    return store.link_used(rt.sessions, link.digest)


def blocker(link: Link, used: bool) -> str | None:
    """Why the page shows no form (a key into the page strings), or None when this person may vote now."""
    current = link.current
    if used or link.my_vote is not None:
        return "link_used"
    if current.status is not RoundStatus.OPEN:
        return "closed_round"
    if link.claim.approver_id in current.closed_seats:
        return "seat_closed"
    state = approvals.round_tally(current)
    if state.next_up and link.claim.approver_id not in state.next_up:
        return "not_your_turn"
    return None


def idempotency_key(link: Link) -> str:
    return f"approval-link:{link.digest[:48]}"


def command(link: Link, form: dict[str, Any]) -> CastVote:
    """The vote the form asks for, validated as the CLI's is; InputError names the field at fault."""
    choice = str(form.get("decision") or "")
    if choice not in CHOICES:
        raise InputError(f"decision: choose one of {', '.join(CHOICES)}")
    kind = BallotKind(choice) if choice in ("abstain", "recuse") else BallotKind.VOTE
    conditions = []
    texts, owners, dues, checks = (form.get(f"condition_{name}") or [] for name in ("text", "owner", "due", "verify"))
    for index, (text, owner, due, check) in enumerate(zip(texts, owners, dues, checks, strict=False), 1):
        if not any(part.strip() for part in (text, owner, due, check)):
            continue
        if not all(part.strip() for part in (text, owner, due, check)):
            raise InputError(f"condition {index}: fill in what, owner, due date and verification (or leave it empty)")
        conditions.append(
            {"text": text.strip(), "owner_id": owner.strip(), "due_on": due.strip(), "verification": check.strip()}
        )
    seen = str(form.get("evidence_hash") or "") or None
    try:
        return CastVote(
            round_id=link.current.id,
            voter_id=link.claim.approver_id,
            decision=None if kind is not BallotKind.VOTE else Decision(choice),
            kind=kind,
            reason=str(form.get("reason") or ""),
            conditions=tuple(ConditionSpec.model_validate(c) for c in conditions),
            idempotency_key=idempotency_key(link),
            seen_evidence_hash=seen,
        )
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "vote"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(f"{where}: {message}" if where != "vote" else message) from None


def cast(rt: Runtime, link: Link, cmd: CastVote, *, now: datetime) -> approvals.VoteResult:
    """Vote through the same use case as the CLI, then mark the link used (in its own short transaction).

    The signed link proves who votes: the actor is its approver with their current roles (refused, and
    audited, when they were disabled since the link was sent).
    """
    actor = people.person_actor(link.claim.approver_id, method=AuthMethod.APPROVAL_LINK, uow=rt.uow, now=now)
    result = approvals.cast_vote(
        cmd, actor=actor, uow=rt.uow, now=now, probe=probe_file, registry=rt.registry, links=approval_links(rt.settings)
    )
    store.mark_link_used(
        rt.sessions, link.digest, round_id=link.current.id, approver_id=link.claim.approver_id, now=now
    )
    return result


# ------------------------------------------------------------------------------------------------ afterwards
def prefect_configured(settings: Settings) -> bool:
    """Run the decision as a Prefect flow only when a Prefect API is there and it would see our database.

    The flow reads its settings from the environment, so an app built for another database (tests, an
    embedded app) applies the decision directly instead.
    """
    from flows.server import local_api_url

    if Settings().resolved_database_url != settings.resolved_database_url:
        return False
    return bool(os.environ.get("PREFECT_API_URL")) or local_api_url(settings) is not None


def apply_decision(rt: Runtime, round_id: UUID) -> None:
    """Apply a resolved round (background task). The flow path falls back to the direct call on failure."""
    if prefect_configured(rt.settings):
        try:
            from flows.trigger import apply_decision_flow

            apply_decision_flow(str(round_id))
            return
        except Exception:  # a failed flow must not lose the decision: apply it directly (idempotent)
            logger.exception("gate-decision flow failed for round %s; applying directly", round_id)
    approvals.apply_round_decision(round_id, uow=rt.uow, now=utc_now())


def dispatch(rt: Runtime) -> None:
    """Send what the vote queued (background task); failures stay in the outbox for the scheduled dispatcher."""
    from notifications.dispatch import dispatch_due

    try:
        dispatch_due(rt.sessions, max_attempts=rt.settings.notify_max_attempts)
    except Exception:
        logger.exception("dispatching notifications after a web vote failed; the outbox keeps them")


def after_vote(rt: Runtime, round_id: UUID, decided: bool) -> None:
    if decided:
        try:
            apply_decision(rt, round_id)
        except Exception:
            logger.exception("applying the decision of round %s failed; run 'phasegate rounds reconcile'", round_id)
    dispatch(rt)

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
- **After the vote** the composition root's after-commit handler (``flows.runtime.Runtime.after_commit``)
  runs in a background task, after the response, exactly as it runs inline for the CLI and the API: a
  resolved round requests the ``gate-decision`` flow run, and queued notices are dispatched. It is
  idempotent, and ``phasegate rounds reconcile`` applies a decision whose background task died.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import SecretStr
from starlette.requests import Request

from phasegate.flows.runtime import Defer, Runtime
from phasegate.gates.vocabulary.commands import VOTE_CHOICES, CastVote
from phasegate.gates.vocabulary.enums import RoundStatus
from phasegate.gates.vocabulary.errors import NotFoundError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import AuthMethod, SignatureProof
from phasegate.gates.vocabulary.snapshots import RoundSnapshot, VoteRecord
from phasegate.models.keys import secret_key
from phasegate.models.settings import Settings
from phasegate.notifications.links import EXPIRED, STALE_EVIDENCE, ApprovalClaim, read_approval_token
from phasegate.usecases import approvals, people, services
from phasegate.usecases.result import UowFactory
from phasegate.web import csrf, store
from phasegate.web.refusals import audit_refusal

REFUSED = "security.link_refused"
REPLAYED = "approval_link.replayed"
UNKNOWN_ROUND = "approval_link.unknown_round"
NOT_APPROVER = "approval_link.not_an_approver"
CHOICES = VOTE_CHOICES
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
    """The key links are checked with (``models.keys.secret_key``: never a default one)."""
    return secret_key(settings)


def refuse(rt: Runtime, *, code: str, method: str, digest: str, now: datetime, request: Request | None = None) -> None:
    """Audit a refused link: the reason and a fingerprint only, so the log names no round for a forged link.

    With the ``request``, through the app's rate-limited refusal ledger (``web.refusals``): anyone can send
    forged links, so one source cannot grow the audit log without bound.
    """
    if request is not None:
        payload = {"code": code, "method": method, "link_sha256_prefix": digest[:16]}
        audit_refusal(request, rt.uow, action=REFUSED, entity="approval_link", payload=payload, now=now)
        return
    with rt.uow() as tx:
        tx.append_audit(
            actor="anonymous",
            action=REFUSED,
            entity="approval_link",
            payload={"code": code, "method": method, "link_sha256_prefix": digest[:16]},
            at=now,
        )
        tx.commit()


def refuse_stale(rt: Runtime, link: Link, *, request: Request, now: datetime) -> None:
    """A link bound to evidence the round has moved past is refused (409) and audited like any refused link."""
    refuse(rt, code=STALE_EVIDENCE, method=request.method, digest=link.digest, now=now, request=request)


def refuse_csrf(rt: Runtime, link: Link, *, request: Request, now: datetime) -> None:
    """A vote form without this browser's CSRF token is refused (403) and audited, naming only the link's prefix."""
    payload = {"code": "csrf.invalid", "form": "approval", "link_sha256_prefix": link.digest[:16]}
    audit_refusal(request, rt.uow, action=csrf.REFUSED, entity="approval_link", payload=payload, now=now)


def check_token(
    rt: Runtime, token: str, *, method: str, now: datetime, request: Request | None = None
) -> ApprovalClaim:
    """The link's claim when its signature and expiry check out (no database read); else audit and raise
    LinkRefusedError. A page that reuses what it read of the round (``web.pages``) still calls this every time."""
    try:
        return read_approval_token(secret_of(rt.settings), token, now=now)
    except PermissionDeniedError as err:
        refuse(rt, code=err.code, method=method, digest=store.token_hash(token), now=now, request=request)
        raise LinkRefusedError(str(err), code=err.code, status=410 if err.code == EXPIRED else 403) from None


def open_link(
    rt: Runtime,
    token: str,
    *,
    method: str,
    now: datetime,
    request: Request | None = None,
    reader: UowFactory | None = None,
) -> Link:
    """Check the signature, expiry, round and approver; audit and raise LinkRefusedError when any fails.

    The round is read through ``reader`` (default: a read-only unit of work; the page's shared read when given):
    opening a link never takes the write lock."""
    digest = store.token_hash(token)
    claim = check_token(rt, token, method=method, now=now, request=request)
    try:
        current = services.get_round(UUID(claim.round_id), uow=reader or rt.reader)
    except (ValueError, NotFoundError):
        refuse(rt, code=UNKNOWN_ROUND, method=method, digest=digest, now=now, request=request)
        raise LinkRefusedError("approval link: no such round", code=UNKNOWN_ROUND, status=404) from None
    if claim.approver_id not in current.approvers:
        refuse(rt, code=NOT_APPROVER, method=method, digest=digest, now=now, request=request)
        raise LinkRefusedError("approval link: not an approver of this round", code=NOT_APPROVER, status=403)
    return Link(token=token, digest=digest, claim=claim, current=current)


def link_used(rt: Runtime, link: Link, sessions: store.Sessions | None = None) -> bool:
    """Whether the link's vote is on record (read-only: ``mark_link_used`` checks again as it writes)."""
    return store.link_used(sessions or rt.read_sessions, link.digest)


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
    """The vote the form asks for, built as every door builds it; InputError names the field at fault."""
    rows = zip(*(form.get(f"condition_{name}") or [] for name in ("text", "owner", "due", "verify")), strict=False)
    return CastVote.from_door(
        round_id=link.current.id,
        voter_id=link.claim.approver_id,
        choice=str(form.get("decision") or ""),
        reason=str(form.get("reason") or ""),
        conditions=[row for row in rows if any(part.strip() for part in row)],  # empty rows are not conditions
        idempotency_key=idempotency_key(link),
        seen_evidence_hash=str(form.get("evidence_hash") or "") or None,
    )


def signature_from(form: dict[str, Any]) -> SignatureProof | None:
    """The Part 11 re-authentication the form carries (its password and one-time code fields), if any."""
    password = str(form.get("password") or "")
    code = str(form.get("one_time_code") or "").replace(" ", "") or None
    return SignatureProof(password=SecretStr(password), one_time_code=code) if password else None


def cast(
    rt: Runtime,
    link: Link,
    cmd: CastVote,
    *,
    defer: Defer | None = None,
    signature: SignatureProof | None = None,
    method: AuthMethod = AuthMethod.APPROVAL_LINK,
) -> approvals.VoteResult:
    """Vote through the composition root, as every door does; mark the link used (its own short transaction).

    The signed link proves who votes: the actor is its approver with their current roles (refused, and
    audited, when they were disabled since the link was sent). ``method`` is how the page knows them: the link
    itself, or the visitor's web sign-in (password or SSO) when they signed in as the link's approver.

    What follows the vote (the gate-decision flow run for a resolved round, dispatching the outbox) is the
    runtime's after-commit handler, handed to ``defer`` so it runs after the page has answered.
    """
    actor = people.person_actor(link.claim.approver_id, method=method, uow=rt.uow, now=rt.now(), reader=rt.reader)
    voted = rt.vote(cmd, actor=actor, defer=defer, signature=signature)
    store.mark_link_used(
        rt.sessions, link.digest, round_id=link.current.id, approver_id=link.claim.approver_id, now=rt.now()
    )
    return voted.result

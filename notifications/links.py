"""Signed, expiring approval links: the token names one round, one approver and the evidence they will see.

Why this shape:

- **Bound, not bearer-for-anything.** The token carries the round id, the approver id and the sha256 of the
  evidence packet the invitation was sent for; the signature covers all three, so a token cannot be moved to
  another round or person, and ``ApprovalClaim.require`` lets the approval page refuse it once the evidence
  has changed (the approver must see what they sign).
- **Expiry is a value, not the clock.** itsdangerous' ``URLSafeSerializer`` signs the payload (HMAC-SHA256
  with a key derived from the secret and the salt below; the timed variant would read ``time.time()``
  itself); the expiry travels inside the signed payload and ``read_approval_token`` compares it with the
  ``now`` it is given, as every time-dependent rule in phasegate does.
- **A link opens a page; it never acts.** Mail scanners follow links before the person does (FACTS.md), so
  the page behind ``approval_url`` shows the packet and a form; only the form's POST records a vote.
- The payload is signed, not encrypted: ids and the evidence hash are visible to whoever holds the link.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from itsdangerous import BadData, BadSignature, URLSafeSerializer

from phasegate.gates.vocabulary.errors import InputError, PermissionDeniedError

MIN_SECRET_BYTES = 32
"""HMAC keys shorter than this are guessable offline from one captured link."""

SALT = "phasegate.approval-link.v1"
"""Separates these signatures from any other use of the same secret; bump the version to revoke all links."""

FORGED = "approval_link.forged"
EXPIRED = "approval_link.expired"
MALFORMED = "approval_link.malformed"
WRONG_ROUND = "approval_link.wrong_round"
WRONG_APPROVER = "approval_link.wrong_approver"
STALE_EVIDENCE = "approval_link.stale_evidence"

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ApprovalClaim:
    """What a valid approval link says: who may look at which round, against which evidence, until when."""

    round_id: str
    approver_id: str
    evidence_hash: str
    expires_at: datetime

    def require(self, *, round_id: str | UUID, approver_id: str, evidence_hash: str) -> None:
        """Refuse the link unless it was issued for this round, this person and the evidence on record now."""
        if self.round_id != str(round_id):
            raise PermissionDeniedError("approval link: issued for another approval round", code=WRONG_ROUND)
        if self.approver_id != approver_id:
            raise PermissionDeniedError("approval link: issued for another approver", code=WRONG_APPROVER)
        if self.evidence_hash != evidence_hash:
            raise PermissionDeniedError(
                "approval link: the gate evidence changed since this link was sent; ask for a new link",
                code=STALE_EVIDENCE,
            )


def approval_token(
    secret: str, *, round_id: str | UUID, approver_id: str, evidence_hash: str, expires_at: datetime
) -> str:
    """A URL-safe signed token for one approver of one round; valid until ``expires_at`` (whole seconds)."""
    serializer = _serializer(secret)
    if not str(round_id).strip():
        raise InputError("approval link: round_id must not be empty")
    if not approver_id.strip():
        raise InputError("approval link: approver_id must not be empty")
    if not _SHA256.fullmatch(evidence_hash):
        raise InputError("approval link: evidence_hash must be 64 lowercase hex characters (sha256)")
    payload = {"r": str(round_id), "a": approver_id, "h": evidence_hash, "e": _epoch(expires_at, "expires_at")}
    return str(serializer.dumps(payload))


def read_approval_token(secret: str, token: str, *, now: datetime) -> ApprovalClaim:
    """The claim in ``token``; PermissionDeniedError (code FORGED, MALFORMED or EXPIRED) when it is not valid.

    Forged and altered tokens are indistinguishable on purpose: any change to any byte breaks the signature.
    """
    serializer = _serializer(secret)
    moment = _epoch(now, "now")
    try:
        payload: Any = serializer.loads(token)
    except BadSignature:
        message = "approval link: signature does not match (forged or altered)"
        raise PermissionDeniedError(message, code=FORGED) from None
    except BadData:
        raise PermissionDeniedError("approval link: not a phasegate approval link", code=MALFORMED) from None
    claim = _claim(payload)
    if moment >= int(claim.expires_at.timestamp()):
        raise PermissionDeniedError(
            f"approval link: expired at {claim.expires_at.isoformat()}; ask for a new link", code=EXPIRED
        )
    return claim


def approval_url(public_url: str, token: str) -> str:
    """The approval page for ``token`` under the deployment's public base URL (http or https)."""
    base = public_url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", base):
        raise InputError(f"public_url {public_url!r} must be an http(s) URL without query or fragment")
    if not token or not re.fullmatch(r"[A-Za-z0-9_.\-]+", token):
        raise InputError("approval link: token must be a URL-safe approval token")
    return f"{base}/approve/{token}"


def _serializer(secret: str) -> URLSafeSerializer:
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise InputError(f"approval link secret must be at least {MIN_SECRET_BYTES} bytes")
    return URLSafeSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def _epoch(moment: datetime, field: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"approval link: {field} must be timezone-aware (UTC)")
    return int(moment.timestamp())


def _claim(payload: Any) -> ApprovalClaim:
    """Check the shape even of signed payloads: a secret shared with an older format must not crash the page."""
    if not isinstance(payload, dict) or set(payload) != {"r", "a", "h", "e"}:
        raise PermissionDeniedError("approval link: payload has an unknown shape", code=MALFORMED)
    round_id, approver_id, evidence_hash, expires = payload["r"], payload["a"], payload["h"], payload["e"]
    if not (
        isinstance(round_id, str)
        and isinstance(approver_id, str)
        and isinstance(evidence_hash, str)
        and isinstance(expires, int)
        and not isinstance(expires, bool)
    ):
        raise PermissionDeniedError("approval link: payload has an unknown shape", code=MALFORMED)
    return ApprovalClaim(
        round_id=round_id,
        approver_id=approver_id,
        evidence_hash=evidence_hash,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


# --- links signed at send time ---------------------------------------------------------------------------
# Why: an outbox row lives for days (retries, dead letters, `notify list`), and a signed link in it is a
# bearer credential to the approval page; database backups and support dumps would carry every one of them.
# So the use cases store what a link is *made of*, and the dispatcher signs it just before sending.

LINK_REQUEST = "approval-link.v1"
"""The ``link`` marker of a stored link request: a dict with this marker is signed into a URL at send time."""

_REQUEST_FIELDS = frozenset({"link", "round_id", "approver_id", "evidence_hash", "expires_at"})


def link_request(*, round_id: str | UUID, approver_id: str, evidence_hash: str, expires_at: datetime) -> dict[str, Any]:
    """What an outbox row stores in place of an approval URL: no token, nothing that opens the page."""
    return {
        "link": LINK_REQUEST,
        "round_id": str(round_id),
        "approver_id": approver_id,
        "evidence_hash": evidence_hash,
        "expires_at": _epoch(expires_at, "expires_at"),
    }


def is_link_request(value: object) -> bool:
    return isinstance(value, dict) and value.get("link") == LINK_REQUEST


def sign_link(secret: str, public_url: str, request: dict[str, Any]) -> str:
    """The approval URL for a stored link request; InputError when the request is not one.

    Deterministic: the same request always gives the same token, so a retried message carries the same link.
    """
    if not is_link_request(request) or set(request) != _REQUEST_FIELDS:
        raise InputError("approval link: the stored link request has an unknown shape")
    expires = request["expires_at"]
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise InputError("approval link: the stored link request has no valid expiry")
    token = approval_token(
        secret,
        round_id=str(request["round_id"]),
        approver_id=str(request["approver_id"]),
        evidence_hash=str(request["evidence_hash"]),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
    return approval_url(public_url, token)


LinkSigner = Callable[[dict[str, Any]], str]
"""Turns a stored link request into the URL to send (``sign_link`` with the key and public URL bound)."""


def link_signer(secret: str, public_url: str) -> LinkSigner:
    """``sign_link`` bound to this installation's key and public URL; checks the key now, not at first send."""
    _serializer(secret)

    def sign(request: dict[str, Any]) -> str:
        return sign_link(secret, public_url, request)

    return sign


def sign_links(context: dict[str, Any], sign: LinkSigner) -> dict[str, Any]:
    """A copy of ``context`` with every stored link request (at any depth) replaced by ``sign(request)``."""

    def walk(value: Any) -> Any:
        if is_link_request(value):
            return sign(value)
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    resolved: dict[str, Any] = walk(context)
    return resolved


def has_link_requests(value: Any) -> bool:
    if is_link_request(value):
        return True
    if isinstance(value, dict):
        return any(has_link_requests(item) for item in value.values())
    if isinstance(value, list):
        return any(has_link_requests(item) for item in value)
    return False

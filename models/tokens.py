"""API bearer tokens in SQL: only the sha256 of a token is stored; the token itself is shown once, at creation.

Why a hash and not the token: whoever reads the database (a backup, a replica, a support dump) must not be able
to call the API as someone else. A token is 256 random bits, so an unsalted sha256 is enough (nothing to guess
offline), and a lookup by hash stays one indexed query per request.

Like the other adapters here, nothing commits: the caller (the CLI) owns the transaction. Creating and revoking
a token are appended to the audit log in that same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from phasegate.gates.vocabulary.errors import ConflictError, InputError, NotFoundError
from phasegate.models.audit_store import append_audit
from phasegate.models.tables import ApiToken, Person

TOKEN_PREFIX = "pgt_"
"""Marks phasegate tokens so secret scanners and people recognise one pasted in the wrong place."""


class TokenRole(StrEnum):
    """What a token may do (``web.auth`` lists the permissions): not a ladder, each role has its own."""

    VIEWER = "viewer"
    APPROVER = "approver"
    PMO = "pmo"


class TokenRecord(BaseModel):
    """A stored token without its secret: what ``token list`` shows and what the API authenticates as."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    id: uuid.UUID
    person_id: str
    role: TokenRole
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def token_hash(token: str) -> str:
    """The stored form of a presented token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _role(role: str) -> TokenRole:
    try:
        return TokenRole(role)
    except ValueError:
        allowed = ", ".join(r.value for r in TokenRole)
        raise InputError(f"--role: {role!r} is not a token role; allowed: {allowed}", code="token.role") from None


def _record(row: ApiToken) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        person_id=row.person_id,
        role=TokenRole(row.role),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def create_token(
    session: Session,
    person_id: str,
    role: str,
    now: datetime,
    *,
    by: str | None = None,
    audit_key: bytes | None = None,
) -> tuple[uuid.UUID, str]:
    """Store a new token for ``person_id`` with ``role``; returns its id and the plaintext, never stored.

    ``by`` is who issued it (the audit entry's actor; default the person), once the use case allowed it.
    ``audit_key`` keys the audit entry (``models.keys.audit_key``); required once the chain is keyed.
    """
    checked = _role(role)
    if session.get(Person, person_id) is None:
        raise NotFoundError(
            f"PERSON: unknown person {person_id!r}; add them with 'phasegate person add'", code="person.not_found"
        )
    token_id = uuid.uuid4()
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(id=token_id, token_hash=token_hash(plaintext), person_id=person_id, role=checked.value, created_at=now)
    )
    session.flush()
    append_audit(
        session,
        actor=by or person_id,
        action="token.created",
        entity=f"token:{token_id}",
        payload={"person": person_id, "role": checked.value},
        at=now,
        key=audit_key,
    )
    return token_id, plaintext


def find_token(session: Session, presented_hash: str) -> TokenRecord | None:
    """The token stored under ``presented_hash`` (revoked or not), or None."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == presented_hash)).first()
    return _record(row) if row is not None else None


def get_token(session: Session, token_id: uuid.UUID) -> TokenRecord:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError(f"ID: unknown token {token_id}; see 'phasegate token list'", code="token.not_found")
    return _record(row)


def mark_used(session: Session, token_id: uuid.UUID, now: datetime) -> None:
    """Record when a token was last used (callers throttle this: it is a write)."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def revoke(
    session: Session, token_id: uuid.UUID, now: datetime, *, by: str = "system", audit_key: bytes | None = None
) -> TokenRecord:
    """Revoke a token for good; revoking a revoked token is a conflict naming when it happened."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError(f"ID: unknown token {token_id}; see 'phasegate token list'", code="token.not_found")
    if row.revoked_at is not None:
        raise ConflictError(
            f"token {token_id} was already revoked at {row.revoked_at.isoformat(timespec='seconds')}",
            code="token.revoked",
        )
    row.revoked_at = now
    session.flush()
    append_audit(
        session,
        actor=by,
        action="token.revoked",
        entity=f"token:{token_id}",
        payload={"person": row.person_id, "role": row.role},
        at=now,
        key=audit_key,
    )
    return _record(row)


def list_tokens(session: Session, *, person_id: str | None = None) -> list[TokenRecord]:
    """Every token, oldest first, without secrets (only hashes are stored, and those are not returned)."""
    query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
    if person_id is not None:
        query = query.where(ApiToken.person_id == person_id)
    return [_record(row) for row in session.scalars(query)]

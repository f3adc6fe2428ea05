"""Local web accounts in SQL: argon2id password hashes, optional TOTP, and the check both sign-in and signing use.

Why argon2id (``argon2-cffi``'s defaults, RFC 9106's second recommended profile): a stolen database must not
give passwords back at GPU speed. Why TOTP (``pyotp``) with a remembered time step: a six-digit code seen
over a shoulder or phished is good once, within its 30-second window (plus one step either side for clock
drift), and never again.

Like the other adapters here, nothing commits: the caller owns the transaction. Setting a password, enabling
TOTP and revoking sign-ins are appended to the audit log in that same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, cast

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, CursorResult, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.vocabulary.errors import InputError, NotFoundError
from phasegate.models.audit_store import append_audit
from phasegate.models.catalog import PEOPLE
from phasegate.models.tables import Person, WebCredential, WebSession

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
TOTP_ISSUER = "phasegate"
TOTP_DRIFT_STEPS = 1

_hasher = PasswordHasher()  # argon2id, memory-hard; parameters travel inside each hash, so they can be raised later


@cache
def dummy_hash() -> str:
    """A hash to spend the same argon2 work on for an unknown person, so timing does not tell who has an account.

    Made on first need, not at import: it costs what a sign-in check does (0.1 s to 0.9 s on the hosts this ran
    on), and every CLI vote imports this module without ever needing it. A serving web process makes it as it
    starts (``web.app``), so its first unknown sign-in is not the one that pays twice.
    """
    return _hasher.hash("phasegate: a hash to spend the same time on for an unknown person")


COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password123", "passw0rd", "123456789012", "1234567890", "qwertyuiop",
        "qwerty123456", "letmein", "welcome", "welcome123", "iloveyou", "admin", "administrator", "changeme",
        "changeme123", "phasegate", "trustno1", "abc123", "monkey", "dragon", "football", "baseball",
        "sunshine", "princess", "superman", "starwars", "whatever", "master", "zaq12wsx", "1q2w3e4r5t6y",
    }
)  # fmt: skip
"""Passwords that are long enough yet on every attacker's first list (compared lower-cased, digits trimmed)."""


class SignInCheck(StrEnum):
    """The outcome of checking presented credentials (what to audit; a page never tells which part failed)."""

    OK = "ok"
    NO_ACCOUNT = "no_account"
    DISABLED = "disabled"
    BAD_PASSWORD = "bad_password"
    TOTP_REQUIRED = "totp_required"
    BAD_TOTP = "bad_totp"


def disabled_column() -> Column[bool] | None:
    """``people.disabled`` when this schema has it (migration 0005 adds it); a disabled person cannot sign in."""
    return PEOPLE.c.get("disabled")


def weak_password_reason(password: str, *, person: Person) -> str | None:
    """Why ``password`` is refused, in words, or None. Length first: it is what makes a password strong."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"at least {MIN_PASSWORD_LENGTH} characters are required (got {len(password)})"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"at most {MAX_PASSWORD_LENGTH} characters are allowed"
    folded = password.lower()
    if len(set(folded)) < 5:
        return "it repeats too few different characters"
    if folded.rstrip("0123456789!") in COMMON_PASSWORDS or folded in COMMON_PASSWORDS:
        return "it is on the lists of common passwords attackers try first"
    if re.fullmatch(r"[0-9]+", password):
        return "digits only are easy to guess; use words or mixed characters"
    for own in (person.id, person.name, person.email.split("@")[0]):
        if own and len(own) >= 3 and own.lower() in folded:
            return "it contains your own id, name or e-mail address"
    return None


def _person(session: Session, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFoundError(
            f"PERSON: unknown person {person_id!r}; add them with 'phasegate person add'", code="person.not_found"
        )
    return person


def revoke_sessions(
    session: Session, person_id: str, *, now: datetime, why: str, audit_key: bytes | None = None
) -> int:
    """End every live sign-in of ``person_id`` at once (password changed, person disabled); audited when any."""
    live = (WebSession.person_id == person_id, WebSession.revoked_at.is_(None))
    ended = len(list(session.scalars(select(WebSession.id_hash).where(*live))))
    if ended:
        session.execute(update(WebSession).where(*live).values(revoked_at=now))
    if ended:
        append_audit(
            session,
            actor="system",
            action="session.revoked",
            entity=f"person:{person_id}",
            payload={"sessions": ended, "why": why},
            at=now,
            key=audit_key,
        )
    return ended


def set_password(
    session: Session, person_id: str, password: str, *, now: datetime, audit_key: bytes | None = None
) -> None:
    """Store ``password`` as an argon2id hash; refuse weak ones (InputError). Ends the person's open sign-ins."""
    person = _person(session, person_id)
    why = weak_password_reason(password, person=person)
    if why is not None:
        raise InputError(f"password: refused, {why}", code="account.weak_password")
    hashed = _hasher.hash(password)
    row = session.get(WebCredential, person_id)
    if row is None:
        session.add(WebCredential(person_id=person_id, password_hash=hashed, updated_at=now))
    else:
        row.password_hash = hashed
        row.updated_at = now
    session.flush()
    revoke_sessions(session, person_id, now=now, why="password changed", audit_key=audit_key)
    append_audit(
        session,
        actor=person_id,
        action="account.password_set",
        entity=f"person:{person_id}",
        payload={},
        at=now,
        key=audit_key,
    )


def enable_totp(session: Session, person_id: str, *, now: datetime, audit_key: bytes | None = None) -> str:
    """Give the account a new TOTP secret and return its ``otpauth://`` URI (shown once; the secret is stored)."""
    person = _person(session, person_id)
    row = session.get(WebCredential, person_id)
    if row is None:
        raise InputError(
            f"PERSON: {person_id} has no password yet; run 'phasegate account set-password {person_id}' first",
            code="account.no_password",
        )
    secret = pyotp.random_base32()
    row.totp_secret = secret
    row.totp_last_step = None
    row.updated_at = now
    session.flush()
    append_audit(
        session,
        actor=person_id,
        action="account.totp_enabled",
        entity=f"person:{person_id}",
        payload={},
        at=now,
        key=audit_key,
    )
    return pyotp.TOTP(secret).provisioning_uri(name=person.email or person.id, issuer_name=TOTP_ISSUER)


def has_totp(session: Session, person_id: str) -> bool:
    row = session.get(WebCredential, person_id)
    return row is not None and row.totp_secret is not None


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to (within the allowed drift), or None when it matches none."""
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in range(step - TOTP_DRIFT_STEPS, step + TOTP_DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.at(candidate * totp.interval), code.strip()):
            return candidate
    return None


def check(
    sessions: sessionmaker[Session],
    person_id: str,
    password: str,
    one_time_code: str | None,
    *,
    now: datetime,
    readers: sessionmaker[Session] | None = None,
) -> SignInCheck:
    """Check presented credentials; on success with TOTP the code's time step is spent (in its own commit).

    The argon2 check runs outside any transaction: it is slow on purpose, and on SQLite a write transaction
    held across it would stall every vote for that long. Spending the code is one conditional UPDATE, so two
    requests racing with the same code cannot both pass. An unknown person costs the same argon2 work as a
    known one, so timing does not tell who has an account. ``readers`` answer the lookup without the write lock.
    """
    flag = disabled_column()
    columns = (WebCredential.password_hash, WebCredential.totp_secret, WebCredential.totp_last_step)
    query = select(*columns, *([flag] if flag is not None else [])).join(Person, Person.id == WebCredential.person_id)
    with (readers or sessions)() as session:
        found = session.execute(query.where(WebCredential.person_id == person_id)).first()
    if found is None:
        _verify(dummy_hash(), password)
        return SignInCheck.NO_ACCOUNT
    password_hash, totp_secret, last_step = str(found[0]), found[1], found[2]
    if not _verify(password_hash, password):
        return SignInCheck.BAD_PASSWORD
    if flag is not None and found[3]:
        return SignInCheck.DISABLED
    values: dict[str, object] = {}
    step = None
    if totp_secret is not None:
        if not one_time_code:
            return SignInCheck.TOTP_REQUIRED
        step = _totp_step(str(totp_secret), one_time_code, now)
        if step is None or (last_step is not None and step <= last_step):
            return SignInCheck.BAD_TOTP
        values["totp_last_step"] = step
    if _hasher.check_needs_rehash(password_hash):
        values["password_hash"] = _hasher.hash(password)
    if values:
        last = WebCredential.totp_last_step
        unspent = true() if step is None else or_(last.is_(None), last < step)
        with sessions() as session, session.begin():
            spent = session.execute(
                update(WebCredential).where(WebCredential.person_id == person_id, unspent).values(**values)
            )
            if cast(CursorResult[Any], spent).rowcount != 1:
                return SignInCheck.BAD_TOTP  # another request spent this code a moment ago
    return SignInCheck.OK


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def person_is_disabled(session: Session, person_id: str) -> bool:
    flag = disabled_column()
    return flag is not None and bool(session.execute(select(flag).where(Person.id == person_id)).scalar())


@dataclass(frozen=True)
class SqlCredentials:
    """The ``usecases.ports.Credentials`` adapter: re-authentication for a Part 11 signature.

    Outside the vote's transaction: spending a TOTP step must stick even when the vote is then refused for
    another reason, or the same code could be tried again.
    """

    sessions: sessionmaker[Session]

    def verify(self, person_id: str, password: str, one_time_code: str | None) -> bool:
        outcome = check(self.sessions, person_id, password, one_time_code, now=datetime.now(UTC))
        return outcome is SignInCheck.OK

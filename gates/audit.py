"""The hash-chained audit log, as pure functions: how an entry's hash is made and how a chain is checked.

Each entry's hash covers its own content *and* the previous entry's hash, so editing, deleting, inserting
or reordering any entry breaks the chain at that point and at no earlier one. The verifier streams: it
keeps only the previous entry, so a log of millions of rows is checked in constant memory.

What a chain alone cannot prove: that nothing was cut off the *end*. A truncated log is a valid shorter
log. Whoever needs that guarantee keeps the head hash somewhere else (a report, a ticket, a second
database) and compares it with ``audit_head``.

**Keyed entries.** A plain sha256 chain only proves that the rows agree with each other: whoever can write
the database can edit a row and recompute every hash after it. So entries are written with scheme
``hmac-sha256``: the same canonical JSON, MACed with a key kept outside the database (``models.keys``
derives it from the secret key). Entries written before keys existed keep scheme ``sha256`` and verify as
before, under two rules that stop a rewrite from hiding behind them:

- an unkeyed entry may never follow a keyed one (that is a rewrite by someone without the key);
- verifying *with* the key, the chain must end on a keyed entry: an unkeyed tail is either an installation
  that never had a key or a whole chain recomputed without it, and only a person can tell which. Once they
  have checked it, ``seal`` (a keyed entry appended after it) vouches for the unkeyed entries before it.

This module stays pure: the key is a parameter; it never reads a file or the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from phasegate.gates.vocabulary.canonical import canonical_json, sha256_hex
from phasegate.gates.vocabulary.errors import AuditKeyError, InputError

UNKEYED = "sha256"
"""Scheme of entries written before keyed chains: sha256 of the canonical JSON."""
KEYED = "hmac-sha256"
"""Scheme of keyed entries: HMAC-SHA256 of the same canonical JSON under the audit key."""
SCHEMES = (UNKEYED, KEYED)

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of entry 1: there is no predecessor, so it points at a hash nothing can produce."""

FIRST_SEQ = 1

SECURITY_REFUSED = "security.refused"
"""The action of a refused attempt the security record keeps; the one action the audit log indexes (``models``)."""

# Column widths of ``audit_log`` (models/tables.py): checked here so SQLite, which ignores widths, and
# PostgreSQL, which enforces them, accept exactly the same entries.
_FIELD_LIMITS = {"actor": 64, "action": 64, "entity": 200}

AuditRow = tuple[int, datetime, str, str, str, dict[str, Any], str, str, str]
"""An entry as plain values, in column order: seq, at, actor, action, entity, payload, prev_hash, hash, scheme."""

BreakKind = Literal["edited", "unlinked", "gap", "out_of_order", "downgraded", "unkeyed"]


class AuditRecord(BaseModel):
    """One audit entry as stored: ``hash`` is ``entry_hash`` of the other fields."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    seq: int
    at: AwareDatetime
    actor: str
    action: str
    entity: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    scheme: str = UNKEYED


class ChainBreak(BaseModel):
    """The first place a chain stops being trustworthy; ``reason`` is a sentence for a person."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    seq: int
    kind: BreakKind
    reason: str


def iso_utc(at: datetime) -> str:
    """The one textual form of a timestamp inside a hash: UTC, always with microseconds."""
    if at.tzinfo is UTC:  # what the database hands back: skip the conversion on the verifier's hot path
        return at.isoformat(timespec="microseconds")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("at: a naive datetime was given; audit timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


# The same encoder settings as ``gates.vocabulary.canonical.canonical_json``, built once. For JSON-native values (all
# that a JSON column returns) it writes the very same bytes; anything else falls back to canonical_json.
# Building the encoder per call is a third of the verifier's time, hence this.
_encode_native = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _digest(
    seq: int,
    at_iso: str,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
    prev_hash: str,
    key: bytes | None = None,
) -> str:
    fields = {
        "seq": seq,
        "at": at_iso,
        "actor": actor,
        "action": action,
        "entity": entity,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    try:
        data = _encode_native(fields).encode("utf-8")
    except TypeError:
        if key is None:
            return sha256_hex(fields)
        data = canonical_json(fields)
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
    prev_hash: str,
    key: bytes | None = None,
) -> str:
    """sha256 (no key) or HMAC-SHA256 (``key``) of the canonical JSON of every field but the hash itself.

    The message is ``gates.vocabulary.canonical.canonical_json`` of ``{"seq", "at" (``iso_utc``), "actor", "action",
    "entity", "payload", "prev_hash"}``: anyone holding the key re-verifies the log with nothing but
    HMAC-SHA256 and canonical JSON (and without a key, unkeyed entries with sha256 alone).
    """
    return _digest(seq, iso_utc(at), actor, action, entity, payload, prev_hash, key)


def record_hash(record: AuditRecord, key: bytes | None) -> str:
    """The hash ``record`` should carry under its own scheme; AuditKeyError for a keyed one without ``key``."""
    return _digest(
        record.seq,
        iso_utc(record.at),
        record.actor,
        record.action,
        record.entity,
        record.payload,
        record.prev_hash,
        _key_for(record.scheme, key, record.seq),
    )


def require_key_after(head_scheme: str | None, key: bytes | None) -> None:
    """Refuse an unkeyed append after a keyed head: it would break the chain for every later verifier."""
    if key is None and head_scheme == KEYED:
        raise AuditKeyError(
            "PHASEGATE_SECRET_KEY: this database's audit chain is keyed, so every change must be signed with "
            "the installation's key; set PHASEGATE_SECRET_KEY or PHASEGATE_SECRET_KEY_FILE (see docs/security.md)",
            code="audit.key_required",
        )


def _key_for(scheme: str, key: bytes | None, seq: int) -> bytes | None:
    if scheme == UNKEYED:
        return None
    if scheme != KEYED:
        raise ValueError(f"unknown scheme {scheme!r}")
    if key is None:
        raise AuditKeyError(
            f"PHASEGATE_SECRET_KEY: audit entry {seq} is keyed (HMAC); verifying it needs the installation's key "
            "(set PHASEGATE_SECRET_KEY or PHASEGATE_SECRET_KEY_FILE)",
            code="audit.key_required",
        )
    return key


def json_safe_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload exactly as a JSON column will give it back (Decimal, UUID, datetime become strings).

    Hashing this form, not the caller's objects, is what lets an entry read back from the database
    verify: the hash must be computed over what is stored.
    """
    if not isinstance(payload, dict):
        raise InputError(f"payload: expected a JSON object (dict), got {type(payload).__name__}")
    try:
        safe: dict[str, Any] = json.loads(canonical_json(payload))  # a dict always comes back a JSON object
    except (TypeError, ValueError) as exc:
        raise InputError(f"payload: not JSON-safe ({exc}); use str, numbers, bools, None, lists and dicts") from None
    return safe


def next_record(
    *,
    prev_seq: int,
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
    key: bytes | None = None,
) -> AuditRecord:
    """The entry that follows the head ``(prev_seq, prev_hash)``; use ``(0, GENESIS_HASH)`` for an empty log.

    With ``key`` the entry is keyed (HMAC-SHA256); without, unkeyed (see ``require_key_after``).
    """
    for field, value in (("actor", actor), ("action", action), ("entity", entity)):
        if not isinstance(value, str) or not value:
            raise InputError(f"{field}: must be a non-empty string")
        if not value.isprintable():
            raise InputError(f"{field}: control characters and unpaired surrogates are not allowed")
        if len(value) > _FIELD_LIMITS[field]:
            raise InputError(f"{field}: at most {_FIELD_LIMITS[field]} characters allowed, got {len(value)}")
    safe = json_safe_payload(payload)
    iso_utc(at)  # rejects a naive timestamp before anything is built
    at_utc = at.astimezone(UTC)
    seq = prev_seq + 1
    digest = entry_hash(
        seq=seq, at=at_utc, actor=actor, action=action, entity=entity, payload=safe, prev_hash=prev_hash, key=key
    )
    return AuditRecord.model_construct(
        seq=seq,
        at=at_utc,
        actor=actor,
        action=action,
        entity=entity,
        payload=safe,
        prev_hash=prev_hash,
        hash=digest,
        scheme=UNKEYED if key is None else KEYED,
    )


def build_chain(
    entries: Iterable[tuple[datetime, str, str, str, dict[str, Any]]], *, key: bytes | None = None
) -> list[AuditRecord]:
    """A whole chain from ``(at, actor, action, entity, payload)`` tuples, exactly as appends would make it."""
    chain: list[AuditRecord] = []
    prev_seq, prev_hash = 0, GENESIS_HASH
    for at, actor, action, entity, payload in entries:
        record = next_record(
            prev_seq=prev_seq,
            prev_hash=prev_hash,
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            payload=payload,
            key=key,
        )
        chain.append(record)
        prev_seq, prev_hash = record.seq, record.hash
    return chain


def _as_rows(records: Iterable[AuditRecord]) -> Iterator[AuditRow]:
    for r in records:
        yield (r.seq, r.at, r.actor, r.action, r.entity, r.payload, r.prev_hash, r.hash, r.scheme)


def verify_chain(records: Iterable[AuditRecord], *, key: bytes | None = None) -> ChainBreak | None:
    """The first break in ``records`` (taken in the order given), or None when the chain holds."""
    return verify_rows(_as_rows(records), key=key)


def verify_rows(rows: Iterable[AuditRow], *, key: bytes | None = None) -> ChainBreak | None:
    """``verify_chain`` over plain tuples: the store feeds database rows here without building models.

    Checks, per entry and in this order: its seq comes after the previous one (else *out of order*),
    directly after it (else a *gap*: something was deleted), it is not unkeyed after a keyed entry (else
    *downgraded*), its hash matches its content under its scheme (else it was *edited*; a keyed entry
    checked with the wrong key is *edited* too), and its ``prev_hash`` is the previous entry's hash (else
    it was inserted, moved, or its predecessor was replaced together with a recomputed hash). The first
    entry must be seq 1 and point at ``GENESIS_HASH``. With ``key``, a chain ending on unkeyed entries is
    *unkeyed* (see the module docstring). A keyed entry met without ``key`` raises AuditKeyError: the
    chain can be neither confirmed nor refuted.
    """
    last_seq = FIRST_SEQ - 1
    last_hash = GENESIS_HASH
    keyed_seen = False
    first_unkeyed: int | None = None
    for seq, at, actor, action, entity, payload, prev_hash, stored_hash, scheme in rows:
        if seq <= last_seq:
            return ChainBreak(seq=seq, kind="out_of_order", reason=f"entry {seq} is out of order")
        if seq != last_seq + 1:
            return ChainBreak(seq=seq, kind="gap", reason=f"sequence gap before entry {seq}")
        if scheme == UNKEYED and keyed_seen:
            reason = f"entry {seq} is unkeyed but follows keyed entries (rewritten without the key)"
            return ChainBreak(seq=seq, kind="downgraded", reason=reason)
        entry_key = _key_for(scheme, key, seq) if scheme in SCHEMES else None
        try:
            computed = _digest(seq, iso_utc(at), actor, action, entity, payload, prev_hash, entry_key)
        except (InputError, TypeError, ValueError):
            computed = ""  # a value no appender could have written (naive time, non-JSON payload)
        if scheme not in SCHEMES or not hmac.compare_digest(computed, str(stored_hash)):
            return ChainBreak(seq=seq, kind="edited", reason=f"entry {seq} was edited")
        if prev_hash != last_hash:
            return ChainBreak(seq=seq, kind="unlinked", reason=f"entry {seq} does not follow its predecessor")
        if scheme == KEYED:
            keyed_seen, first_unkeyed = True, None
        elif first_unkeyed is None:
            first_unkeyed = seq
        last_seq, last_hash = seq, stored_hash
    if key is not None and first_unkeyed is not None:
        reason = (
            f"entries {first_unkeyed} to {last_seq} are not keyed: written before this installation had a key, "
            "or the whole chain was recomputed without it; once you have checked them, "
            "'phasegate audit seal' vouches for them"
        )
        return ChainBreak(seq=first_unkeyed, kind="unkeyed", reason=reason)
    return None

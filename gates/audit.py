"""The hash-chained audit log, as pure functions: how an entry's hash is made and how a chain is checked.

Each entry's hash covers its own content *and* the previous entry's hash, so editing, deleting, inserting
or reordering any entry breaks the chain at that point and at no earlier one. The verifier streams: it
keeps only the previous entry, so a log of millions of rows is checked in constant memory.

What a chain alone cannot prove: that nothing was cut off the *end*. A truncated log is a valid shorter
log. Whoever needs that guarantee keeps the head hash somewhere else (a report, a ticket, a second
database) and compares it with ``audit_head``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from models.canonical import canonical_json, sha256_hex
from models.errors import InputError

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of entry 1: there is no predecessor, so it points at a hash nothing can produce."""

FIRST_SEQ = 1

# Column widths of ``audit_log`` (models/tables.py): checked here so SQLite, which ignores widths, and
# PostgreSQL, which enforces them, accept exactly the same entries.
_FIELD_LIMITS = {"actor": 64, "action": 64, "entity": 200}

AuditRow = tuple[int, datetime, str, str, str, dict[str, Any], str, str]
"""An entry as plain values, in column order: seq, at, actor, action, entity, payload, prev_hash, hash."""

BreakKind = Literal["edited", "unlinked", "gap", "out_of_order"]


class AuditRecord(BaseModel):
    """One audit entry as stored: ``hash`` is ``entry_hash`` of the other fields."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: AwareDatetime
    actor: str
    action: str
    entity: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ChainBreak(BaseModel):
    """The first place a chain stops being trustworthy; ``reason`` is a sentence for a person."""

    model_config = ConfigDict(frozen=True)

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


# The same encoder settings as ``models.canonical.canonical_json``, built once. For JSON-native values (all
# that a JSON column returns) it writes the very same bytes; anything else falls back to canonical_json.
# Building the encoder per call is a third of the verifier's time, hence this.
_encode_native = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _digest(
    seq: int, at_iso: str, actor: str, action: str, entity: str, payload: dict[str, Any], prev_hash: str
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
        return sha256_hex(fields)
    return hashlib.sha256(data).hexdigest()


def entry_hash(
    *, seq: int, at: datetime, actor: str, action: str, entity: str, payload: dict[str, Any], prev_hash: str
) -> str:
    """sha256 of the canonical JSON of every field but the hash itself (so ``seq`` and the link count too).

    Equal to ``models.canonical.sha256_hex`` of ``{"seq", "at" (``iso_utc``), "actor", "action", "entity",
    "payload", "prev_hash"}``: anyone can re-verify the log with nothing but sha256 and canonical JSON.
    """
    return _digest(seq, iso_utc(at), actor, action, entity, payload, prev_hash)


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
) -> AuditRecord:
    """The entry that follows the head ``(prev_seq, prev_hash)``; use ``(0, GENESIS_HASH)`` for an empty log."""
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
        seq=seq, at=at_utc, actor=actor, action=action, entity=entity, payload=safe, prev_hash=prev_hash
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
    )


def build_chain(entries: Iterable[tuple[datetime, str, str, str, dict[str, Any]]]) -> list[AuditRecord]:
    """A whole chain from ``(at, actor, action, entity, payload)`` tuples, exactly as appends would make it."""
    chain: list[AuditRecord] = []
    prev_seq, prev_hash = 0, GENESIS_HASH
    for at, actor, action, entity, payload in entries:
        record = next_record(
            prev_seq=prev_seq, prev_hash=prev_hash, at=at, actor=actor, action=action, entity=entity, payload=payload
        )
        chain.append(record)
        prev_seq, prev_hash = record.seq, record.hash
    return chain


def _as_rows(records: Iterable[AuditRecord]) -> Iterator[AuditRow]:
    for r in records:
        yield (r.seq, r.at, r.actor, r.action, r.entity, r.payload, r.prev_hash, r.hash)


def verify_chain(records: Iterable[AuditRecord]) -> ChainBreak | None:
    """The first break in ``records`` (taken in the order given), or None when the chain holds."""
    return verify_rows(_as_rows(records))


def verify_rows(rows: Iterable[AuditRow]) -> ChainBreak | None:
    """``verify_chain`` over plain tuples: the store feeds database rows here without building models.

    Checks, per entry and in this order: its seq comes after the previous one (else *out of order*),
    directly after it (else a *gap*: something was deleted), its hash matches its content (else it was
    *edited*), and its ``prev_hash`` is the previous entry's hash (else it was inserted, moved, or its
    predecessor was replaced together with a recomputed hash). The first entry must be seq 1 and point
    at ``GENESIS_HASH``.
    """
    last_seq = FIRST_SEQ - 1
    last_hash = GENESIS_HASH
    for seq, at, actor, action, entity, payload, prev_hash, stored_hash in rows:
        if seq <= last_seq:
            return ChainBreak(seq=seq, kind="out_of_order", reason=f"entry {seq} is out of order")
        if seq != last_seq + 1:
            return ChainBreak(seq=seq, kind="gap", reason=f"sequence gap before entry {seq}")
        try:
            computed = _digest(seq, iso_utc(at), actor, action, entity, payload, prev_hash)
        except (InputError, TypeError, ValueError):
            computed = ""  # a value no appender could have written (naive time, non-JSON payload)
        if computed != stored_hash:
            return ChainBreak(seq=seq, kind="edited", reason=f"entry {seq} was edited")
        if prev_hash != last_hash:
            return ChainBreak(seq=seq, kind="unlinked", reason=f"entry {seq} does not follow its predecessor")
        last_seq, last_hash = seq, stored_hash
    return None

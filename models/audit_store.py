"""The audit log in SQL: append in the caller's transaction, read back in order, verify in a stream.

Appenders must be serialized, or two transactions read the same head and both write ``head + 1`` (one
then dies on the primary key, or worse, on a dialect without it, the chain forks). PostgreSQL: a
transaction-scoped advisory lock taken before reading the head, released by the caller's commit or
rollback. SQLite: ``models.db`` begins every transaction with ``BEGIN IMMEDIATE``, which already holds
the database's single write lock.

Caveat on PostgreSQL: run appends at READ COMMITTED (the default). Under REPEATABLE READ a snapshot
taken before the lock may miss the latest entry; the insert then fails on the primary key rather than
corrupting the chain, and the caller retries.

Keys: appenders and verifiers are handed the audit key (``models.keys.audit_key``); this module never
reads it. Without a key, entries are appended unkeyed only while the chain has no keyed entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, insert, select

from phasegate.gates.audit import (
    GENESIS_HASH,
    KEYED,
    AuditRecord,
    AuditRow,
    ChainBreak,
    next_record,
    require_key_after,
    verify_rows,
)
from phasegate.gates.vocabulary.errors import AuditKeyError, InputError
from phasegate.models.catalog import AUDIT_LOG
from phasegate.models.db import postgres_driver
from phasegate.models.prepared import Prepared, connection_of, send_deferred

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

AUDIT_LOCK_KEY = 0x7068617365676174
"""``pg_advisory_xact_lock`` key of the audit appenders ("phasegat" in ASCII); no other lock may use it."""

_table = AUDIT_LOG
_columns = (
    _table.c.seq,
    _table.c.at,
    _table.c.actor,
    _table.c.action,
    _table.c.entity,
    _table.c.payload,
    _table.c.prev_hash,
    _table.c.hash,
    _table.c.scheme,
)
_HEAD = select(_table.c.seq, _table.c.hash, _table.c.scheme).order_by(_table.c.seq.desc()).limit(1)
_INSERT = Prepared(insert(_table))  # every committing unit of work runs both, on the driver (models.prepared)
_HEAD_READ = Prepared(_HEAD)
_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"
_HEAD_SQL = f"SELECT seq, hash, scheme FROM {_table.name} ORDER BY seq DESC LIMIT 1"


AuditHead = tuple[int, str, str]
"""The chain's last entry as appenders need it: its seq, its hash and its scheme."""


def lock_audit_head(db: Connection | Session) -> Callable[[], AuditHead | None]:
    """Take the appenders' lock (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds one) and ask for the head;
    returns how to read the head, to call once the statements are sent.

    Why a reader: on PostgreSQL, inside a pipeline (``models.db.pipelined``, as a unit of work commits), the lock
    and the read leave with the statements queued before them and their answers come back when the pipeline
    ends, in one round trip; the row is then on the driver's cursor (SQLAlchemy's results carry none in a
    pipeline). Outside a pipeline they run at once. The read starts after the lock is granted either way
    (statements run in order; at READ COMMITTED its snapshot is taken when it starts), so it sees the entry the
    previous holder committed.
    """
    connection = connection_of(db)
    if connection.dialect.name != "postgresql":
        found = _HEAD_READ.first(connection)
        head = None if found is None else (found[0], found[1], found[2])
        return lambda: head
    driver = postgres_driver(connection)
    send_deferred(connection)  # on the driver, not through Prepared: the writes deferred before go first
    driver.execute(_LOCK_SQL, (AUDIT_LOCK_KEY,))
    cursor = driver.execute(_HEAD_SQL)

    def read() -> AuditHead | None:
        row = cursor.fetchone()
        return None if row is None else (row[0], row[1], row[2])

    return read


@dataclass(frozen=True)
class AuditDraft:
    """An entry a unit of work will append when it commits."""

    actor: str
    action: str
    entity: str
    payload: dict[str, Any]
    at: datetime


def append_audit_entries(
    db: Connection | Session, drafts: Sequence[AuditDraft], *, key: bytes | None = None
) -> list[AuditRecord]:
    """Append entries in the transaction of ``db`` with one lock, one head read and one insert.

    A unit of work buffers its entries and calls this once, at commit: the appenders' lock is then held only
    for the end of the transaction. Entries are keyed when ``key`` is given. Raises InputError for a naive
    ``at``, an empty or over-long actor/action/entity, or a payload that is not a JSON object of JSON-safe
    values; AuditKeyError when there is no key and the chain is keyed.
    """
    if not drafts:
        return []
    return write_audit_entries(db, lock_audit_head(db)(), drafts, key=key)


def write_audit_entries(
    db: Connection | Session, head: AuditHead | None, drafts: Sequence[AuditDraft], *, key: bytes | None = None
) -> list[AuditRecord]:
    """Chain ``drafts`` after ``head`` and insert them; ``head`` was read by ``lock_audit_head`` in this transaction
    (the lock still held), as ``append_audit_entries`` does. Raises as ``append_audit_entries``."""
    require_key_after(head[2] if head is not None else None, key)
    prev_seq, prev_hash = (head[0], head[1]) if head is not None else (0, GENESIS_HASH)
    records = []
    for draft in drafts:
        record = next_record(
            prev_seq=prev_seq,
            prev_hash=prev_hash,
            at=draft.at,
            actor=draft.actor,
            action=draft.action,
            entity=draft.entity,
            payload=draft.payload,
            key=key,
        )
        records.append(record)
        prev_seq, prev_hash = record.seq, record.hash
    _INSERT.run(db, [record.model_dump() for record in records])
    return records


def append_audit(
    db: Connection | Session,
    *,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
    at: datetime,
    key: bytes | None = None,
) -> AuditRecord:
    """Append one entry in the transaction of ``db`` and return it; the caller's unit of work commits."""
    draft = AuditDraft(actor=actor, action=action, entity=entity, payload=payload, at=at)
    return append_audit_entries(db, [draft], key=key)[0]


def _iter_rows(db: Connection | Session, batch: int) -> Iterator[AuditRow]:
    if batch < 1:
        raise InputError(f"batch: must be a positive number of rows, got {batch}")
    after = 0
    while True:
        # Core on the transaction's connection, not the ORM loader: less work per row, same transaction.
        page = select(*_columns).where(_table.c.seq > after).order_by(_table.c.seq).limit(batch)
        rows = connection_of(db).execute(page).all()
        for row in rows:
            yield cast(AuditRow, row)
        if len(rows) < batch:
            return
        after = rows[-1][0]


def _record(row: AuditRow) -> AuditRecord:
    # Not validated: a tampered row must still be readable so that ``verify_chain`` can name it.
    seq, at, actor, action, entity, payload, prev_hash, hash_, scheme = row
    return AuditRecord.model_construct(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        payload=payload,
        prev_hash=prev_hash,
        hash=hash_,
        scheme=scheme,
    )


def iter_audit(db: Connection | Session, *, batch: int = 5000) -> Iterator[AuditRecord]:
    """Every entry in seq order, ``batch`` rows per query (keyset pages, so memory stays flat)."""
    for row in _iter_rows(db, batch):
        yield _record(row)


def verify_audit(db: Connection | Session, *, key: bytes | None = None, batch: int = 5000) -> ChainBreak | None:
    """The first break in the stored chain, or None. Detects edits, deletions and insertions, not tail cuts.

    With ``key``, keyed entries are checked with it and an unkeyed tail is a break (``gates.audit``);
    without, a keyed entry raises AuditKeyError. On SQLite the transaction of ``db`` holds the write lock
    while this runs (``BEGIN IMMEDIATE``); verify a large log from a transaction that does nothing else.
    """
    return verify_rows(_iter_rows(db, batch), key=key)


def seal_audit(db: Connection | Session, *, key: bytes, actor: str, at: datetime) -> AuditRecord:
    """Vouch for an unkeyed tail: verify it, then append one keyed ``audit.sealed`` entry after it.

    Why a person runs this: an unkeyed chain is either older than keys or was recomputed by someone without
    one, and only whoever checked it (against a backup, a head hash kept elsewhere) can say which. Refuses a
    chain that is broken or already ends on a keyed entry.
    """
    head = lock_audit_head(db)()
    if head is None or head[2] == KEYED:
        raise AuditKeyError("audit seal: the chain ends on a keyed entry already; nothing to seal", code="audit.sealed")
    broken = verify_rows(_iter_rows(db, 5000), key=key)
    if broken is not None and broken.kind != "unkeyed":
        raise AuditKeyError(
            f"audit seal: refused, the chain is broken at entry {broken.seq}: {broken.reason}", code="audit.broken"
        )
    payload = {"unkeyed_entries": head[0], "head_hash": head[1]}
    draft = AuditDraft(actor=actor, action="audit.sealed", entity="audit_log", payload=payload, at=at)
    return append_audit_entries(db, [draft], key=key)[0]


def audit_head(db: Connection | Session) -> AuditRecord | None:
    """The latest entry: keep its hash elsewhere to detect a truncated log later."""
    row = db.execute(select(*_columns).order_by(_table.c.seq.desc()).limit(1)).first()
    return None if row is None else _record(cast(AuditRow, row))

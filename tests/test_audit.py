"""The audit chain: pure properties of building and verifying, then the SQL store on SQLite and PostgreSQL.

The pure tests define "the first affected entry" as the record at the first position of the stream that
differs from the original chain: the edited entry, the entry that moved into a deleted one's place, or
the entry that moved forward in a reorder.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, func, select, text

from phasegate.gates.audit import (
    GENESIS_HASH,
    SECURITY_REFUSED,
    AuditRecord,
    build_chain,
    entry_hash,
    iso_utc,
    json_safe_payload,
    next_record,
    verify_chain,
)
from phasegate.gates.vocabulary.canonical import sha256_hex
from phasegate.gates.vocabulary.errors import InputError
from phasegate.models.audit_store import append_audit, audit_head, iter_audit, verify_audit
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.tables import AuditEntry, Base
from phasegate.models.uow import SqlUnitOfWork

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

# --------------------------------------------------------------------------------------------- strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
names = st.text(st.characters(exclude_categories=["C", "Z"], include_characters=" "), min_size=1, max_size=20)
zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=zones)
entries = st.tuples(moments, names, names, names, payloads)
chains = st.lists(entries, min_size=1, max_size=12).map(build_chain)
long_chains = st.lists(entries, min_size=2, max_size=12).map(build_chain)


def _reseq(record: AuditRecord, seq: int) -> AuditRecord:
    return record.model_copy(update={"seq": seq})


# ---------------------------------------------------------------------------------------------- pure tests


@given(chains)
def test_any_chain_built_by_the_appender_verifies(chain: list[AuditRecord]) -> None:
    assert verify_chain(chain) is None
    assert [r.seq for r in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(chain))


@given(chains, st.data())
def test_any_single_edit_is_named_at_the_edited_entry(chain: list[AuditRecord], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(chain) - 1))
    field = data.draw(st.sampled_from(["at", "actor", "action", "entity", "payload", "prev_hash", "hash"]))
    original = chain[index]
    new_value: Any
    if field == "at":
        new_value = data.draw(moments)
        assume(iso_utc(new_value) != iso_utc(original.at))
    elif field == "payload":
        new_value = json_safe_payload(data.draw(payloads))
        assume(new_value != original.payload)
    elif field in {"prev_hash", "hash"}:
        new_value = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64))
        assume(new_value != getattr(original, field))
    else:
        new_value = data.draw(names)
        assume(new_value != getattr(original, field))
    tampered = [*chain[:index], original.model_copy(update={field: new_value}), *chain[index + 1 :]]

    found = verify_chain(tampered)

    assert found is not None
    assert (found.seq, found.kind) == (original.seq, "edited")
    assert found.reason == f"entry {original.seq} was edited"


@given(long_chains, st.data())
def test_deleting_any_entry_but_the_last_is_named_at_the_next_entry(
    chain: list[AuditRecord], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 2))
    tampered = chain[:index] + chain[index + 1 :]

    found = verify_chain(tampered)

    assert found is not None
    assert (found.seq, found.kind) == (chain[index + 1].seq, "gap")
    assert found.reason == f"sequence gap before entry {chain[index + 1].seq}"


@given(chains)
def test_cutting_off_the_tail_is_invisible_to_the_chain_alone(chain: list[AuditRecord]) -> None:
    """The documented limit: truncation needs the head hash kept elsewhere (see ``audit_head``)."""
    assert verify_chain(chain[:-1]) is None


@given(long_chains, st.data())
def test_reordering_two_entries_is_named_at_the_first_moved_position(
    chain: list[AuditRecord], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    tampered = list(chain)
    tampered[i], tampered[j] = tampered[j], tampered[i]

    found = verify_chain(tampered)

    assert found is not None
    assert found.seq == chain[j].seq  # the record now standing at position i


@given(long_chains, st.data())
def test_swapping_two_entries_contents_is_named_at_the_earlier_seq(
    chain: list[AuditRecord], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    tampered = list(chain)
    tampered[i], tampered[j] = _reseq(chain[j], chain[i].seq), _reseq(chain[i], chain[j].seq)

    found = verify_chain(tampered)

    assert found is not None
    assert (found.seq, found.kind) == (chain[i].seq, "edited")


@given(long_chains, st.data(), payloads)
def test_a_rehashed_forgery_is_named_at_the_entry_after_it(
    chain: list[AuditRecord], data: st.DataObject, forged_payload: dict[str, Any]
) -> None:
    """A forger who recomputes the edited entry's hash moves the break to its successor, no further."""
    index = data.draw(st.integers(0, len(chain) - 2))
    original = chain[index]
    forged = next_record(
        prev_seq=original.seq - 1,
        prev_hash=original.prev_hash,
        at=original.at,
        actor=original.actor,
        action=original.action,
        entity=original.entity,
        payload=forged_payload,
    )
    assume(forged.hash != original.hash)
    tampered = [*chain[:index], forged, *chain[index + 1 :]]

    found = verify_chain(tampered)

    assert found is not None
    assert (found.seq, found.kind) == (chain[index + 1].seq, "unlinked")
    assert found.reason == f"entry {chain[index + 1].seq} does not follow its predecessor"


@given(chains, st.data())
def test_a_replayed_entry_is_out_of_order(chain: list[AuditRecord], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(chain) - 1))
    tampered = [*chain[: index + 1], chain[index], *chain[index + 1 :]]

    found = verify_chain(tampered)

    assert found is not None
    assert (found.seq, found.kind) == (chain[index].seq, "out_of_order")
    assert found.reason == f"entry {chain[index].seq} is out of order"


def test_a_chain_that_does_not_start_at_genesis_is_unlinked() -> None:
    record = next_record(
        prev_seq=0, prev_hash="f" * 64, at=T0, actor="pmo", action="project.create", entity="p:1", payload={}
    )
    found = verify_chain([record])
    assert found is not None
    assert (found.seq, found.kind) == (1, "unlinked")


@given(
    st.integers(1, 10**9),
    moments,
    names,
    names,
    names,
    st.dictionaries(st.text(max_size=5), json_values | st.decimals(allow_nan=False, allow_infinity=False), max_size=4),
)
def test_entry_hash_is_sha256_of_canonical_json(
    seq: int, at: datetime, actor: str, action: str, entity: str, payload: dict[str, Any]
) -> None:
    """The documented formula, so the log can be re-verified with nothing but canonical JSON and sha256."""
    expected = sha256_hex(
        {
            "seq": seq,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "entity": entity,
            "payload": payload,
            "prev_hash": GENESIS_HASH,
        }
    )
    got = entry_hash(seq=seq, at=at, actor=actor, action=action, entity=entity, payload=payload, prev_hash=GENESIS_HASH)
    assert got == expected


def test_at_is_hashed_as_utc_with_microseconds() -> None:
    assert iso_utc(datetime(2026, 3, 1, 17, 30, tzinfo=timezone(timedelta(hours=8)))) == (
        "2026-03-01T09:30:00.000000+00:00"
    )


def test_payload_is_stored_in_its_json_form() -> None:
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    record = next_record(
        prev_seq=0,
        prev_hash=GENESIS_HASH,
        at=T0,
        actor="pmo",
        action="cost.record",
        entity="project:ALPHA",
        payload={"amount": Decimal("1250.50"), "id": key, "when": T0, "tags": ("a", "b")},
    )
    assert record.payload == {
        "amount": "1250.50",
        "id": str(key),
        "when": "2026-03-01T09:30:00+00:00",
        "tags": ["a", "b"],
    }
    assert verify_chain([record]) is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"at": datetime(2026, 3, 1, 9, 30)}, "at"),
        ({"actor": ""}, "actor"),
        ({"action": "x" * 65}, "action"),
        ({"entity": "line\nbreak"}, "entity"),
        ({"payload": ["not", "a", "dict"]}, "payload"),
        ({"payload": {"obj": object()}}, "payload"),
        ({"payload": {"x": float("nan")}}, "payload"),
    ],
)
def test_bad_input_raises_input_error_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"at": T0, "actor": "pmo", "action": "a", "entity": "e", "payload": {}} | overrides
    with pytest.raises(InputError, match=rf"^{field}: "):
        next_record(prev_seq=0, prev_hash=GENESIS_HASH, **args)


# ------------------------------------------------------------------------------------------- SQL fixtures


def _create_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh migrated database, once per dialect (``db_url`` from conftest.py)."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _append_many(engine: Engine, count: int) -> list[AuditRecord]:
    factory = make_session_factory(engine)
    appended = []
    for i in range(count):
        with factory.begin() as session:
            appended.append(
                append_audit(
                    session,
                    actor=f"person-{i % 3}",
                    action="vote.cast",
                    entity=f"round:{i}",
                    payload={"i": i, "decision": "GO", "amount": Decimal(f"{i}.25"), "ref": uuid.UUID(int=i)},
                    at=T0 + timedelta(minutes=i, microseconds=i),
                )
            )
    return appended


def _verify(engine: Engine) -> Any:
    with make_session_factory(engine)() as session:
        return verify_audit(session)


def _payload_sql(engine: Engine) -> str:
    return "CAST(:payload AS json)" if engine.dialect.name == "postgresql" else ":payload"


# ----------------------------------------------------------------------------------------------- SQL tests


def test_appended_entries_read_back_identical_and_verify(engine: Engine) -> None:
    appended = _append_many(engine, 50)

    with make_session_factory(engine)() as session:
        read_back = list(iter_audit(session, batch=7))  # 7 does not divide 50: the last page is short
        head = audit_head(session)

    assert [r.model_dump() for r in read_back] == [r.model_dump() for r in appended]
    assert verify_chain(read_back) is None
    assert _verify(engine) is None
    assert head is not None
    assert head.model_dump() == appended[-1].model_dump()
    assert read_back[3].payload["amount"] == "3.25"


def test_an_empty_log_has_no_head_and_verifies(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        assert audit_head(session) is None
        assert list(iter_audit(session)) == []
        assert verify_audit(session) is None


def test_append_leaves_the_commit_to_the_caller(engine: Engine) -> None:
    _append_many(engine, 2)
    factory = make_session_factory(engine)
    with factory() as session:
        append_audit(session, actor="pmo", action="a", entity="e", payload={}, at=T0)
        session.rollback()
    with factory() as session:
        head = audit_head(session)
        assert head is not None
        assert head.seq == 2


def test_a_raw_sql_payload_update_is_named(engine: Engine) -> None:
    _append_many(engine, 50)
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE audit_log SET payload = {_payload_sql(engine)} WHERE seq = 17"),
            {"payload": json.dumps({"i": 17, "decision": "KILL"})},
        )

    found = _verify(engine)

    assert found is not None
    assert (found.seq, found.reason) == (17, "entry 17 was edited")


def test_a_deleted_middle_row_is_named_at_the_next_seq(engine: Engine) -> None:
    _append_many(engine, 50)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 25"))

    found = _verify(engine)

    assert found is not None
    assert (found.seq, found.reason) == (26, "sequence gap before entry 26")


def test_swapped_row_contents_are_detected(engine: Engine) -> None:
    _append_many(engine, 50)
    columns = "at, actor, action, entity, payload"
    with engine.begin() as conn:
        a = conn.execute(text(f"SELECT {columns} FROM audit_log WHERE seq = 10")).one()
        b = conn.execute(text(f"SELECT {columns} FROM audit_log WHERE seq = 30")).one()
        update = text(
            "UPDATE audit_log SET at = :at, actor = :actor, action = :action, entity = :entity, "
            f"payload = {_payload_sql(engine)} WHERE seq = :seq"
        )
        for seq, row in ((10, b), (30, a)):
            payload = row.payload if isinstance(row.payload, str) else json.dumps(row.payload)
            values = {"at": row.at, "actor": row.actor, "action": row.action, "entity": row.entity}
            conn.execute(update, {**values, "payload": payload, "seq": seq})

    found = _verify(engine)

    assert found is not None
    assert (found.seq, found.kind) == (10, "edited")


WORKERS = 8
PER_WORKER = 100


def _concurrent_appender(url: str, worker: int, barrier: Any) -> None:
    """Runs in a spawned process: one transaction per entry, all workers released at once."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    barrier.wait(timeout=60)
    for i in range(PER_WORKER):
        with factory.begin() as session:
            append_audit(
                session,
                actor=f"worker-{worker}",
                action="test.append",
                entity=f"item:{worker}:{i}",
                payload={"worker": worker, "i": i},
                at=T0 + timedelta(seconds=i),
            )
    engine.dispose()


@pytest.mark.timeout(300)
def test_concurrent_appenders_keep_one_unbroken_chain(db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=_concurrent_appender, args=(db_url, w, barrier)) for w in range(WORKERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=240)
    assert [proc.exitcode for proc in procs] == [0] * WORKERS

    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
            per_worker = dict(session.execute(select(AuditEntry.actor, func.count()).group_by(AuditEntry.actor)).all())
            found = verify_audit(session)
    finally:
        engine.dispose()

    assert seqs == list(range(1, WORKERS * PER_WORKER + 1))
    assert per_worker == {f"worker-{w}": PER_WORKER for w in range(WORKERS)}
    assert found is None


@settings(max_examples=10)
@given(st.lists(entries, min_size=1, max_size=5))
def test_hypothesis_entries_survive_sqlite_round_trip(
    tmp_path_factory: pytest.TempPathFactory, batch: list[tuple[datetime, str, str, str, dict[str, Any]]]
) -> None:
    """Whatever the pure appender accepts, the database gives back byte-identical for hashing."""
    url = f"sqlite:///{tmp_path_factory.mktemp('roundtrip') / 'audit.db'}"
    _create_tables(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        with factory.begin() as session:
            for at, actor, action, entity, payload in batch:
                append_audit(session, actor=actor, action=action, entity=entity, payload=payload, at=at)
        with factory() as session:
            assert verify_audit(session) is None
            assert [r.model_dump() for r in iter_audit(session)] == [r.model_dump() for r in build_chain(batch)]
    finally:
        engine.dispose()


def test_recent_refusals_are_counted_through_their_partial_index(engine: Engine) -> None:
    """``count_refusals`` counts one person's refusals of one code since a moment, and the planner serves its
    statement from ``ix_audit_log_refusals``, the partial index that every other action skips (migration 0018):
    without it, each signature attempt would read every entry since the moment."""
    since = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with SqlUnitOfWork(engine) as tx:
        for minutes, action, person, code in [
            (-5, SECURITY_REFUSED, "ann", "signature.refused"),  # before the window
            (1, SECURITY_REFUSED, "ann", "signature.refused"),
            (2, SECURITY_REFUSED, "ann", "signature.refused"),
            (3, SECURITY_REFUSED, "ann", "auth.voter"),  # another code
            (4, SECURITY_REFUSED, "bob", "signature.refused"),  # another person
            (5, "vote.refused", "ann", "signature.refused"),  # not a security refusal
        ]:
            at = since + timedelta(minutes=minutes)
            tx.append_audit(actor=person, action=action, entity="r", payload={"code": code, "person": person}, at=at)
        tx.commit()
    sent: list[tuple[str, Any]] = []
    listen = lambda _conn, _cursor, statement, parameters, _context, _many: sent.append((statement, parameters))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with SqlUnitOfWork(engine) as tx:
            assert tx.count_refusals(person_id="ann", code="signature.refused", since=since) == 2
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    statement, parameters = next((s, p) for s, p in sent if "audit_log" in s)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")  # a table this small is scanned whatever the index
            plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
        else:
            plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    assert any("ix_audit_log_refusals" in line for line in plan), plan


def test_json_columns_keep_what_the_chain_hashed(engine: Engine) -> None:
    """The JSON columns' text is orjson's (``models.db.json_text``) and read back by the standard library: an entry
    holding Chinese text, a float, nested values and integers on both sides of 64 bits comes back equal to what was
    hashed, so the chain verifies. Written or read by orjson alone, the integers beyond 64 bits fail or come back as
    floats and the entry no longer verifies."""
    payload = {"zh": "预算偏差：成本绩效指数 0.87", "cpi": 0.87, "nested": [{"a": [1, None, True]}], "big": 2**70}
    payload |= {"u64": 2**64 - 1, "negative": -(2**63), "beyond": -(2**80)}
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with SqlUnitOfWork(engine) as tx:
        tx.append_audit(actor="ann", action="test.json", entity="e", payload=payload, at=at)
        tx.commit()
    with engine.connect() as connection:
        stored = connection.execute(select(AuditEntry.payload).where(AuditEntry.action == "test.json")).scalar_one()
        assert verify_audit(connection) is None
    assert stored == payload
    assert all(type(stored[key]) is int for key in ("big", "u64", "negative", "beyond"))

"""The rounds' hot path on the driver (``models.prepared``) reads and writes exactly what SQLAlchemy would.

Why a test of its own: the repositories run these statements on the DBAPI connection with the conversions found
once per dialect (UUIDs, aware timestamps, JSON, money); a conversion that went wrong there would change a
snapshot silently (a naive timestamp, a float for a Decimal, a JSON string for a list). Each prebuilt statement
is compared, value and type, with ``Session.execute`` on the same rows, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.vocabulary.commands import AddPerson, CastVote, RecordCost, RequestReview
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.errors import ConflictError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.lessons import LessonDueRecord
from phasegate.gates.vocabulary.snapshots import (
    BaselineRecord,
    ConditionSpec,
    EvidenceFigures,
    EvmReportRecord,
    VoteRecord,
)
from phasegate.models import statements as q
from phasegate.models.audit_store import _HEAD
from phasegate.models.db import make_engine, make_session_factory, postgres_driver
from phasegate.models.prepared import Prepared
from phasegate.models.template_yaml import template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from phasegate.usecases.ports import UnitOfWork
from tests import actors
from tests.gatekeeping import add_ready_project, probe, variant

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class World:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = make_session_factory(engine)
        self.now = T0
        self.round_id = UUID(int=0)

    def clock(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    """A 2-of-3 round with one vote carrying conditions, and a cost on the ledger: every kind of column a round's
    statements read (UUIDs, aware timestamps, JSON lists and objects, money, nulls)."""
    w = World(make_engine(db_url))
    text, tpl = variant({"policy": "m_of_n", "m": 2, "approvers": ["sponsor", "finance", "pmo"]}, "it-2of3")
    services.publish_template(
        tpl, content_hash=template_content_hash(tpl), source=text, uow=w.uow, now=w.clock(), actor=SYSTEM_ACTOR
    )
    for pid in ("sam", "fin", "pam", "mgr", "zed"):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com", notify_urls=(f"json://127.0.0.1:9/{pid}",)),
            uow=w.uow,
            now=w.clock(),
            actor=SYSTEM_ACTOR,
        )
    add_ready_project(w.uow, w.clock, "P1", template_id="it-2of3")
    services.record_cost(
        RecordCost(project_key="P1", amount=Decimal("12.30")), uow=w.uow, now=w.clock(), actor=SYSTEM_ACTOR
    )
    review = services.start_review(
        RequestReview(project_key="P1", requested_by="zed"),
        uow=w.uow,
        now=w.clock(),
        probe=probe,
        actor=actors.admin("zed"),
    )
    assert review.round_id is not None
    w.round_id = review.round_id
    condition = ConditionSpec(
        text="sign the contract", owner_id="mgr", due_on=date(2026, 12, 1), verification="evidence:contract"
    )
    actors.cast_vote(
        CastVote(
            round_id=w.round_id,
            voter_id="sam",
            decision=Decision.CONDITIONAL_GO,
            reason="if signed",
            conditions=(condition,),
        ),
        uow=w.uow,
        now=w.clock(),
        probe=probe,
    )
    try:
        yield w
    finally:
        w.engine.dispose()


def _typed(rows: list[Any]) -> list[tuple[tuple[type, Any], ...]]:
    return [tuple((type(value), value) for value in row) for row in rows]


def test_each_prepared_read_returns_the_values_and_types_sqlalchemy_returns(world: World) -> None:
    reads: list[tuple[Any, dict[str, Any]]] = [
        (q.PERSON, {"id": "sam"}),
        (q.PROJECT, {"key": "P1"}),
        (q.PROJECT_FOR_UPDATE, {"key": "P1"}),
        (q.PROJECT_ROLES, {"key": "P1"}),
        (q.LATEST_DOCUMENTS, {"key": "P1"}),
        (q.SPEND, {"key": "P1", "stage_id": "initiating"}),
        (q.STAGE_BUDGET, {"key": "P1", "stage_id": "initiating"}),
        (q.LATEST_EVM_REPORT, {"key": "P1", "as_of": date(2026, 12, 1)}),
        (q.EVIDENCE_FIGURES, {"key": "P1", "stage_id": "initiating", "as_of": date(2026, 12, 1)}),
        (q.PROJECT_RISKS, {"key": "P1"}),
        (q.PROJECT_MILESTONES, {"key": "P1"}),
        (q.GATE_SCORES, {"key": "P1", "gate_id": "g1"}),
        (q.STAGE_EVIDENCE_FIGURES, {"key": "P1", "as_of": date(2026, 12, 1)}),
        (q.PROJECT_SCORES, {"key": "P1"}),
        (q.ROUND_WITH_VOTES, {"id": world.round_id}),
        (q.LOCK_ROUND, {"id": world.round_id}),
        (q.OPEN_ROUNDS, {"key": "P1"}),
        (q.HAS_LESSONS, {"key": "P1"}),
        (q.LESSON_DUE_OPENED, {"key": "P1"}),
        (q.ROUNDS_PROJECT_FOR_UPDATE, {"round_id": world.round_id}),
        (q.ROUNDS_PROJECT_HAS_LESSONS, {"round_id": world.round_id}),
        (q.LESSONS_REGISTER_STAMP, {}),
        (q.project_people(of_round=False, also=2), {"key": "P1", "id0": "zed", "id1": "nobody"}),
        (q.project_people(of_round=True, also=0), {"round_id": world.round_id}),
        (_HEAD, {}),
    ]
    with world.sessions() as session, session.begin():
        for statement, params in reads:
            expected = [tuple(row) for row in session.execute(statement, params)]
            got = Prepared(statement).rows(session, params)
            assert _typed([tuple(row) for row in got]) == _typed(expected), statement
            if got:
                assert list(got[0]._asdict()) == list(session.execute(statement, params).keys()), statement
        round_rows = Prepared(q.ROUND_WITH_VOTES).rows(session, {"id": world.round_id})
        # the reads sent ahead (models.read_ahead) find what the reads they stand for find
        asked = {"key": "P1", "id0": "zed", "id1": "nobody"}
        by_key = Prepared(q.project_people(of_round=False, also=2)).rows(session, asked)
        by_round = Prepared(q.project_people(of_round=True, also=0)).rows(session, {"round_id": world.round_id})
        project_of_round = Prepared(q.ROUNDS_PROJECT_FOR_UPDATE).rows(session, {"round_id": world.round_id})
        owes = Prepared(q.ROUNDS_PROJECT_HAS_LESSONS).rows(session, {"round_id": world.round_id})
    assert sorted(p.id for p in by_key) == ["fin", "mgr", "pam", "sam", "zed"]  # sponsor, manager, roles, and zed
    assert sorted(p.id for p in by_round) == ["fin", "mgr", "pam", "sam"]
    assert [row.key for row in project_of_round] == ["P1"] and [tuple(row) for row in owes] == [("P1", False)]
    # the snapshot's values really are the round's: aware times, JSON parsed, the conditions and seats present
    assert len(round_rows) == 1 and round_rows[0].opened_at.tzinfo is not None
    assert round_rows[0].vote_conditions[0]["owner_id"] == "mgr"
    assert isinstance(round_rows[0].id, UUID) and isinstance(round_rows[0].seats, list)


@pytest.mark.parametrize("clash", ["idempotency key", "seat"])
def test_a_vote_that_clashes_on_its_unique_keys_is_a_conflict_and_writes_nothing(world: World, clash: str) -> None:
    """The votes' unique keys are the last line of defence against a race the locks do not order (the same
    idempotency key on two rounds at once): the use case's own checks are passed by, as in such a race, and the
    insert must still end as a clear conflict, whenever the database reports it (on PostgreSQL the insert leaves
    with the transaction's next statements), never as a driver error, and leave nothing behind."""
    with SqlUnitOfWork(world.engine) as tx:
        first = VoteRecord(voter_id="fin", decision=Decision.GO, reason="", cast_at=world.clock(), idempotency_key="K1")
        tx.reviews.add_vote(world.round_id, first)
        tx.commit()
    voter, key = ("pam", "K1") if clash == "idempotency key" else ("fin", None)
    again = VoteRecord(voter_id=voter, decision=Decision.GO, reason="", cast_at=world.clock(), idempotency_key=key)

    def cast_again() -> None:
        with SqlUnitOfWork(world.engine) as tx:
            tx.reviews.add_vote(world.round_id, again)
            entity = f"round:{world.round_id}"
            tx.append_audit(actor=voter, action="vote.cast", entity=entity, payload={}, at=world.clock())
            tx.commit()

    with pytest.raises(ConflictError) as refused:
        cast_again()
    assert refused.value.code == ("vote.key_reused" if key else "vote.duplicate")
    with world.sessions() as session:
        votes = session.execute(select(q.VOTES.c.voter_id).where(q.VOTES.c.round_id == world.round_id)).scalars()
        assert sorted(votes) == ["fin", "sam"]


def test_a_reviews_evidence_sent_ahead_is_what_it_reads_when_asked(world: World) -> None:
    """A review sends its evidence reads with its first reads, before it knows the gate (``read_ahead_gate``): the
    figures of the stage the project stands in, and its scores at every gate. Taken for the gate and stage asked,
    they must be what reading them then returns: the scores of that gate only, and, asked for another stage than
    the project's, the figures of the stage asked (read afresh). On SQLite nothing is sent ahead."""
    with SqlUnitOfWork(world.engine) as tx:
        tx.evidence.upsert_scores("P1", "g1", "sam", {"value": 4}, now=world.clock())
        tx.evidence.upsert_scores("P1", "g2", "sam", {"value": 1}, now=world.clock())
        project = tx.projects.get_project("P1")
        tx.commit()
    assert project is not None
    as_of = date(2026, 12, 1)

    def reads(stage_id: str, gate_id: str, *, ahead: bool) -> Any:
        with SqlUnitOfWork(world.engine) as tx:
            if ahead:
                with tx.together():
                    tx.evidence.read_ahead_gate("P1", as_of)
            return tx.evidence.gate_reads("P1", stage_id, gate_id, as_of)

    asked = reads(project.stage_id, "g1", ahead=False)
    assert reads(project.stage_id, "g1", ahead=True) == asked
    assert [score.score for score in asked.scores] == [4] and asked.figures.stage_spent == Decimal("12.30")
    elsewhere = reads("elsewhere", "g2", ahead=True)
    assert elsewhere == reads("elsewhere", "g2", ahead=False)
    assert [score.score for score in elsewhere.scores] == [1] and elsewhere.figures.stage_spent == Decimal("0.00")


@pytest.mark.parametrize("of_round", [False, True])
def test_a_projects_people_are_found_by_the_people_key_not_by_reading_everyone(world: World, of_round: bool) -> None:
    """Every review, vote and decision reads its project's people with ``project_people``: a plan that scans the
    people table costs each step time in proportion to the whole organisation (PostgreSQL planned the extra ids as
    an OR beside the subquery, and scanned: 2.7 ms a step with 20,000 people). The planner is told not to scan when
    it has a choice, since a table this small is scanned whatever the index; with no index path it still scans."""
    statement = q.project_people(of_round=of_round, also=2)
    params: dict[str, Any] = {"round_id": world.round_id} if of_round else {"key": "P1"}
    params |= {"id0": "zed", "id1": "nobody"}
    compiled = statement.compile(dialect=world.engine.dialect)
    with world.engine.connect() as connection:
        if world.engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = connection.exec_driver_sql(f"EXPLAIN {compiled.string}", compiled.construct_params(params))
            lines = [str(line) for line in plan.scalars()]
            people = [line for line in lines if " on people" in line]
            assert people and all("Index" in line for line in people), "\n".join(lines)
        else:
            values = compiled.construct_params(params)
            positional = tuple(str(values[name]) for name in compiled.positiontup or ())  # the plan is the same
            steps = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", positional)]
            people = [step for step in steps if " people " in f"{step} "]
            assert people and all(step.startswith("SEARCH people USING") for step in people), steps


def test_a_prepared_write_stores_what_sqlalchemy_reads_back(world: World) -> None:
    row = {
        "id": uuid4(),
        "idempotency_key": "k1",
        "kind": "decision_made",
        "recipient_id": "sam",
        "target": "json://127.0.0.1:9/sam",
        "locale": "zh-CN",
        "context": {"project_key": "P1", "amounts": ["1.50"], "nested": {"ok": True}},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": world.clock(),
        "created_at": world.clock(),
    }
    second = row | {"id": uuid4(), "idempotency_key": "k2", "context": {}}
    with world.sessions() as session, session.begin():
        Prepared(q.INSERT_OUTBOX).run(session, [row, second])
        Prepared(q.UPDATE_ROUND).run(session, {"round_id": world.round_id, "closed_seats": ["pam"]})
    with world.sessions() as session:
        mine = select(q.OUTBOX).where(q.OUTBOX.c.idempotency_key.in_(["k1", "k2"]))
        stored = session.execute(mine.order_by(q.OUTBOX.c.idempotency_key)).mappings().all()
        closed = session.execute(select(q.ROUNDS.c.closed_seats).where(q.ROUNDS.c.id == world.round_id)).scalar()
    assert [{column: found[column] for column in row} for found in stored] == [row, second]
    assert stored[0]["created_at"].tzinfo is not None and isinstance(stored[0]["id"], UUID)
    assert closed == ["pam"]


def test_a_clash_on_the_driver_is_sqlalchemys_integrity_error_and_rolls_back(world: World) -> None:
    with world.sessions() as session:
        evidence_hash = session.execute(
            select(q.ROUNDS.c.evidence_hash).where(q.ROUNDS.c.id == world.round_id)
        ).scalar()
    vote = {
        "id": uuid4(),
        "round_id": world.round_id,
        "voter_id": "sam",  # sam already voted on this evidence: the unique key refuses a second act
        "signer_id": "sam",
        "kind": "vote",
        "decision": "go",
        "reason": "",
        "conditions": [],
        "evidence_hash": evidence_hash,
        "idempotency_key": None,
        "cast_at": world.clock(),
    }
    with world.sessions() as session, session.begin(), pytest.raises(IntegrityError):
        Prepared(q.INSERT_VOTE).run(session, vote)
    with world.sessions() as session:
        assert len(Prepared(q.ROUND_WITH_VOTES).rows(session, {"id": world.round_id})) == 1


def test_what_the_driver_path_cannot_do_is_refused_before_anything_runs(world: World) -> None:
    with world.sessions() as session, session.begin():
        with pytest.raises(ValueError, match="decisions: give every column with a default: decided_at, id, reason"):
            Prepared(q.INSERT_DECISION).run(session, {"round_id": world.round_id, "project_key": "P1"})
        with pytest.raises(ValueError, match="expanding"):
            Prepared(q.PEOPLE_BY_ID).rows(session, {"ids": ["sam"]})


def test_a_session_runs_each_prepared_statement_in_its_transaction_of_the_moment(world: World) -> None:
    """The driver connection is kept per transaction (``models.prepared._held``): after a rollback the session's
    next statement runs in its new transaction (BEGIN sent, its rows undone by the next rollback), never on the
    connection kept from the one that ended, where it would commit on its own."""
    due = LessonDueRecord(
        project_key="P1", round_id=world.round_id, gate_id="g1", owner_id="mgr", opened_at=world.clock()
    ).model_dump()
    insert, opened = Prepared(q.INSERT_LESSON_DUE), Prepared(q.LESSON_DUE_OPENED)
    with world.sessions() as session:
        session.begin()
        insert.run(session, due)
        assert opened.first(session, {"key": "P1"}) is not None
        session.rollback()
        assert opened.first(session, {"key": "P1"}) is None  # a new transaction, begun by the read
        insert.run(session, due)
        session.rollback()
        assert opened.first(session, {"key": "P1"}) is None
        insert.run(session, due)
        session.commit()
    with world.sessions() as session:
        assert opened.first(session, {"key": "P1"}) is not None


def test_a_deferred_write_is_sent_before_whatever_reads_next_and_dropped_by_a_rollback(world: World) -> None:
    """``Prepared.defer``: on PostgreSQL the write waits on the client, so every way of reading must send it first
    (a prepared read, the session's Core and ORM statements, the commit); a rollback must drop it, or it would be
    sent in the connection's next transaction. On SQLite it runs at once: the same answers."""
    due = LessonDueRecord(
        project_key="P1", round_id=world.round_id, gate_id="g1", owner_id="mgr", opened_at=world.clock()
    ).model_dump()
    insert, opened = Prepared(q.INSERT_LESSON_DUE), Prepared(q.LESSON_DUE_OPENED)
    read_by_session = select(q.LESSONS_DUE.c.round_id).where(q.LESSONS_DUE.c.project_key == "P1")
    with world.sessions() as session:
        session.begin()
        insert.defer(session, due)
        assert opened.first(session, {"key": "P1"}) is not None  # a prepared read sends it first
        session.rollback()
        insert.defer(session, due)
        assert session.execute(read_by_session).all() == [(world.round_id,)]  # so does the session's statement
        session.rollback()
        insert.defer(session, due)
        session.rollback()  # dropped: the next transaction never sends it
        assert opened.first(session, {"key": "P1"}) is None
        session.commit()
        with pytest.raises(ValueError, match="only writes"):
            opened.defer(session, {"key": "P1"})
    with world.sessions() as session:
        session.begin()
        insert.defer(session, due)
        session.commit()  # sent before COMMIT
    with world.sessions() as session:
        assert opened.first(session, {"key": "P1"}) is not None


@pytest.mark.parametrize("first", ["prepared write", "prepared read", "deferred write", "core", "session"])
def test_whatever_a_unit_of_work_sends_first_runs_in_its_transaction(world: World, first: str) -> None:
    """On PostgreSQL the driver's connections are in autocommit mode and a transaction's BEGIN leaves with its first
    statement (``models.prepared.watch_deferred``): whichever way that statement goes, the BEGIN must go before it,
    or it and what follows would commit on their own. A unit left without committing undoes all of it. SQLite:
    SQLAlchemy's BEGIN IMMEDIATE, the same answers."""
    due = LessonDueRecord(
        project_key="P1", round_id=world.round_id, gate_id="g1", owner_id="mgr", opened_at=world.clock()
    ).model_dump()
    write, opened = Prepared(q.INSERT_LESSON_DUE), Prepared(q.LESSON_DUE_OPENED)
    with world.uow() as tx:
        assert isinstance(tx, SqlUnitOfWork)
        connection = tx.connection
        if first == "prepared write":
            write.run(connection, due)
        elif first == "prepared read":
            assert opened.first(connection, {"key": "P1"}) is None
            write.run(connection, due)
        elif first == "deferred write":
            write.defer(connection, due)
        elif first == "core":
            connection.execute(q.INSERT_LESSON_DUE, due)
        else:
            tx.session.execute(q.INSERT_LESSON_DUE, due)
        assert opened.first(connection, {"key": "P1"}) is not None
        if connection.dialect.name == "postgresql":
            assert postgres_driver(connection).info.transaction_status.name == "INTRANS"
    with world.uow() as tx:
        assert isinstance(tx, SqlUnitOfWork)
        assert opened.first(tx.connection, {"key": "P1"}) is None


@pytest.mark.parametrize("unknown", [0, 1, 30])  # a prepared read per count of ids, the expanding IN past 16
def test_people_are_read_by_id_in_one_statement_whatever_their_number(world: World, unknown: int) -> None:
    wanted = {"sam", "fin", "zed"} | {f"nobody{i}" for i in range(unknown)}
    with SqlUnitOfWork(world.engine) as tx:
        people = tx.people.get_people(wanted)
    assert {pid: (p.name, p.email, p.notify_urls) for pid, p in people.items()} == {
        pid: (pid.title(), f"{pid}@example.com", (f"json://127.0.0.1:9/{pid}",)) for pid in ("sam", "fin", "zed")
    }


def test_a_reviews_figures_in_one_statement_are_the_four_reads_they_replace(world: World) -> None:
    """``SqlEvidence.figures`` (one statement) against ``get_baseline``, ``latest_evm_report``, ``spend`` and
    ``stage_budget``: the latest report on or before the date (not a later one), money to the cent, and a project
    that has none of them (P1 has only a cost)."""
    now = world.clock()
    add_ready_project(world.uow, world.clock, "P2", template_id="it-2of3")
    with SqlUnitOfWork(world.engine) as tx:
        evidence = tx.evidence
        evidence.set_baseline("P2", BaselineRecord(bac=Decimal("900.00"), contingency=Decimal("50.00")), now=now)
        evidence.set_stage_budget("P2", "initiating", Decimal("300.00"))
        evidence.add_cost("P2", Decimal("10.10"), note="", stage_id="initiating", now=now)
        evidence.add_cost("P2", Decimal("2.25"), note="", stage_id="planning", now=now)
        evidence.upsert_evm_reports(
            [
                EvmReportRecord(project_key="P2", as_of=date(2026, 11, 30), earned_value=Decimal("40"), defects=3),
                EvmReportRecord(project_key="P2", as_of=date(2026, 12, 2), earned_value=Decimal("60")),
            ],
            now=now,
        )
        tx.commit()
    as_of = date(2026, 12, 1)
    with SqlUnitOfWork(world.engine) as tx:
        evidence = tx.evidence
        for key in ("P1", "P2"):
            figures = evidence.figures(key, "initiating", as_of)
            spent, stage_spent = evidence.spend(key, "initiating")
            assert figures == EvidenceFigures(
                baseline=evidence.get_baseline(key),
                report=evidence.latest_evm_report(key, as_of),
                spent=spent,
                stage_spent=stage_spent,
                stage_budget=evidence.stage_budget(key, "initiating"),
            ), key
        assert figures.report is not None and figures.report.as_of == date(2026, 11, 30)
        assert (figures.spent, figures.stage_spent, figures.stage_budget) == (
            Decimal("12.35"),
            Decimal("10.10"),
            Decimal("300.00"),
        )


def test_a_sqlite_begin_refused_is_sqlalchemys_operational_error(sqlite_url: str) -> None:
    """``BEGIN IMMEDIATE`` goes on the driver's cursor (``models.db``); when another writer holds the database past
    the busy timeout the refusal is still SQLAlchemy's ``OperationalError``, the error the CLI explains."""
    engine = make_engine(sqlite_url)
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=0"))
    holder = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), make_session_factory(engine)() as session:
            Prepared(q.PERSON).first(session, {"id": "sam"})
        holder.execute("ROLLBACK")
        with make_session_factory(engine)() as session, session.begin():  # once free, the same engine writes
            assert Prepared(q.PERSON).first(session, {"id": "nobody"}) is None
    finally:
        holder.close()
        engine.dispose()

"""phasegate driven through its real services, the same gate scenario the peers run.

Setup (untimed) goes through the services as the tests do: templates, people, projects, roles, and the
gate's required documents registered once per project with the standard's headings and signer, so the
first gate is ready. The timed part is the round: ``start_review`` (collect evidence, evaluate the
criteria, record the evaluation, open the round, audit, outbox), then ``cast_vote`` by each approver in
turn until the round resolves (eligibility, segregation of duties, quorum policy, audit, outbox), then
``apply_round_decision`` (lifecycle move, audit, outbox). Each call is one committed transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import yaml
from sqlalchemy import Engine, event, insert
from sqlalchemy.engine import make_url

from bench.peers.timing import Timing
from bench.peers.wire import round_trips
from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.vocabulary.commands import AddPerson, CastVote, CreateProject, RegisterDocument, RequestReview
from phasegate.gates.vocabulary.enums import Decision, RoundStatus
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, Actor, AuthMethod, OrgRole
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.models import statements
from phasegate.models.db import make_engine
from phasegate.models.template_yaml import load_template_text, shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import approvals, services
from phasegate.usecases.ports import UnitOfWork

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
SINGLE = "it-pmo"  # shipped: the sponsor alone decides each gate
TWO_OF_THREE = "it-2of3"  # the same lifecycle, each gate decided by 2 of sponsor, finance, pmo
VOTERS = {SINGLE: ("sam",), TWO_OF_THREE: ("sam", "fin", "pam")}
PREFIX = {SINGLE: "S", TWO_OF_THREE: "M"}
REQUESTER = "zed"  # asks for the review; not an approver, so segregation of duties lets every approver vote
SIGNERS = {"sponsor": "sam", "pmo": "pam"}
STAFF = 2000
"""People of the organisation who hold no role in the bench's projects: a round reads only its own project's people,
and the bench must show it when it does not (a plan that scanned the people table once cost each step 2.7 ms at
20,000 people, invisible with the five people the projects use)."""


def probe(path: str) -> str:
    """The documents' current content hash: the hash of the file name, as registered (nothing changed)."""
    return hashlib.sha256(path.rsplit("/", 1)[-1].encode()).hexdigest()


class Clock:
    """One second per call: every act gets its own, increasing timestamp."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


GATEKEEPER = frozenset({OrgRole.GATEKEEPER})
ADMIN = frozenset({OrgRole.PMO_ADMIN})  # the requester: the use case checks who acts, as in production


@dataclass
class Phasegate:
    engine: Engine
    clock: Clock
    statements: int = 0  # SQL statements sent, BEGIN and lock statements included

    @classmethod
    def open(cls, url: str, synchronous: str = "FULL") -> Phasegate:
        engine = make_engine(url, sqlite_synchronous=synchronous)
        pg = cls(engine, Clock())
        # Counted at the driver (one Python call per statement: noise), so the statements phasegate runs on the
        # driver connection itself (models.prepared, the audit lock and head) count too. PostgreSQL: every psycopg
        # cursor's execute and executemany. SQLite: the same on sqlite3 cursors (connections made counting).
        if engine.dialect.name == "postgresql":
            counting = counting_cursor(pg._count)
            event.listen(engine, "connect", lambda dbapi, _record: setattr(dbapi, "cursor_factory", counting))
        else:
            factory = counting_sqlite(pg._count)
            event.listen(engine, "do_connect", lambda _dialect, _record, _args, kwargs: kwargs.update(factory=factory))
        return pg

    def _count(self, *_: object) -> None:
        self.statements += 1

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def counting_cursor(seen: Callable[[], None]) -> type[psycopg.Cursor[Any]]:
    """A psycopg cursor class calling ``seen`` per statement sent: statements counted at the driver, with the
    locks and any ping of a pooled connection. tests/test_approvals.py counts its statement budget with it too."""

    class CountingCursor(psycopg.Cursor[Any]):
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            seen()
            return super().execute(*args, **kwargs)

        def executemany(self, *args: Any, **kwargs: Any) -> None:
            seen()
            super().executemany(*args, **kwargs)

    return CountingCursor


def counting_sqlite(seen: Callable[[], None]) -> type[sqlite3.Connection]:
    """A sqlite3 connection class whose cursors call ``seen`` per ``execute`` and ``executemany``: SQLite's
    statements counted at the driver as ``counting_cursor`` counts psycopg's (a commit is not a statement sent).
    Pass it as ``sqlite3.connect``'s ``factory`` (SQLAlchemy's ``do_connect`` event); tests/test_approvals.py
    counts its statement budget with it too."""

    class CountingSqliteCursor(sqlite3.Cursor):
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            seen()
            return super().execute(*args, **kwargs)

        def executemany(self, *args: Any, **kwargs: Any) -> Any:
            seen()
            return super().executemany(*args, **kwargs)

    class CountingSqliteConnection(sqlite3.Connection):
        def cursor(self, factory: Any = CountingSqliteCursor) -> Any:
            return super().cursor(factory)

    return CountingSqliteConnection


def two_of_three_variant() -> tuple[str, LifecycleTemplate]:
    source = next(s for s, tpl in shipped_templates() if tpl.id == SINGLE)
    data: dict[str, Any] = yaml.safe_load(source)
    data["id"] = TWO_OF_THREE
    for gate in data["gates"]:
        gate["approval"] = {"policy": "m_of_n", "m": 2, "approvers": ["sponsor", "finance", "pmo"]}
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return text, load_template_text(text, source=f"{TWO_OF_THREE}.yaml")


def project_keys(template_id: str, count: int, *, start: int = 0) -> list[str]:
    """``count`` project keys of ``template_id`` from number ``start`` on (disjoint ranges never share one)."""
    return [f"{PREFIX[template_id]}{i:05d}" for i in range(start, start + count)]


ROUND_TRIP_SAMPLE = 4
"""Projects per template beyond the timed ones, for counting a round's round trips on PostgreSQL (the first warms
the relayed connection up): see ``count_round_trips``."""


def setup(url: str, count: int, *, synchronous: str = "NORMAL") -> None:
    """Templates, people, and ``count`` ready projects per template, and ``ROUND_TRIP_SAMPLE`` more (untimed; the
    schema must be at head)."""
    setup_shared(url, synchronous=synchronous)
    for template_id in (SINGLE, TWO_OF_THREE):
        add_projects(url, template_id, project_keys(template_id, count + ROUND_TRIP_SAMPLE), synchronous=synchronous)


def setup_shared(url: str, *, synchronous: str = "NORMAL") -> None:
    """The templates and the people every project of the scenario uses (untimed; the schema must be at head)."""
    pg = Phasegate.open(url, synchronous)
    try:
        single = next((s, tpl) for s, tpl in shipped_templates() if tpl.id == SINGLE)
        for text, tpl in (single, two_of_three_variant()):
            services.publish_template(
                tpl,
                content_hash=template_content_hash(tpl),
                source=text,
                uow=pg.uow,
                now=pg.clock(),
                actor=SYSTEM_ACTOR,
            )
        for pid in ("sam", "fin", "pam", "mgr", REQUESTER):
            services.add_person(
                AddPerson(
                    id=pid, name=pid.title(), email=f"{pid}@example.com", notify_urls=(f"json://127.0.0.1:9/{pid}",)
                ),
                uow=pg.uow,
                now=pg.clock(),
                actor=SYSTEM_ACTOR,
            )
        with pg.engine.begin() as connection:  # the rest of the organisation in one statement: only its size matters
            staff = [
                {"id": f"staff{i:05d}", "name": f"Staff {i}", "email": f"s{i}@example.com", "created_at": pg.clock()}
                for i in range(STAFF)
            ]
            connection.execute(insert(statements.PEOPLE), staff)
    finally:
        pg.close()


def add_projects(url: str, template_id: str, keys: Sequence[str], *, synchronous: str = "NORMAL") -> None:
    """Ready projects ``keys`` on ``template_id`` (untimed): each can be submitted to its first gate."""
    pg = Phasegate.open(url, synchronous)
    try:
        template = services.get_template(template_id, 1, uow=pg.uow).template
        for key in keys:
            _ready_project(pg, key, template)
    finally:
        pg.close()


def _ready_project(pg: Phasegate, key: str, template: LifecycleTemplate) -> None:
    services.create_project(
        CreateProject(
            key=key, template_id=template.id, name=key, sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
        ),
        uow=pg.uow,
        now=pg.clock(),
        actor=SYSTEM_ACTOR,
    )
    services.assign_role(key, "finance", "fin", uow=pg.uow, now=pg.clock(), actor=SYSTEM_ACTOR)
    services.assign_role(key, "pmo", "pam", uow=pg.uow, now=pg.clock(), actor=SYSTEM_ACTOR)
    for deliverable in template.gates[0].deliverables:
        standard = template.deliverable(deliverable)
        services.register_document(
            RegisterDocument(
                project_key=key,
                deliverable_id=deliverable,
                path=f"/d/{deliverable}.md",
                sha256=probe(f"{deliverable}.md"),
                size=1,
                format="md",
                headings=standard.required_sections,
                approved_by=SIGNERS[standard.approver_role],
            ),
            uow=pg.uow,
            now=pg.clock(),
            actor=SYSTEM_ACTOR,
        )


def run(url: str, template_id: str, decisions: Sequence[Decision], *, synchronous: str = "FULL") -> Timing:
    """Submit every project to its first gate, then decide each round; only this part is timed."""
    pg = Phasegate.open(url, synchronous)
    try:
        warm_up(pg, template_id)
        keys = project_keys(template_id, len(decisions))
        timing = rounds(pg, keys, decisions, VOTERS[template_id])
        timing = replace(timing, statement_us=statement_cost_us(pg, keys[0]))
    finally:
        pg.close()
    if make_url(url).get_backend_name() != "postgresql":
        return timing
    sample = project_keys(template_id, ROUND_TRIP_SAMPLE, start=len(decisions))
    return replace(timing, round_trips=count_round_trips(url, template_id, sample))


def count_round_trips(url: str, template_id: str, keys: Sequence[str]) -> float:
    """Round trips a round waits for on PostgreSQL, counted on the wire (``bench.peers.wire``) over the rounds of
    ``keys`` but the first (it warms the relayed connection up), untimed: what a round pays per unit of network
    latency.

    psycopg prepares a statement on its fifth use, a round trip of its own once per connection: left out here, as
    in the timed run, where it happened long before.
    """
    with round_trips(url) as (wire, relayed):
        pg = Phasegate.open(relayed)
        event.listen(pg.engine, "checkout", lambda dbapi, *_: setattr(dbapi, "prepare_threshold", None))
        try:
            warm_up(pg, template_id)
            rounds(pg, keys[:1], [Decision.GO], VOTERS[template_id])
            before = wire.count
            rounds(pg, keys[1:], [Decision.GO] * (len(keys) - 1), VOTERS[template_id])
            return (wire.count - before) / (len(keys) - 1)
        finally:
            pg.close()


def warm_up(pg: Phasegate, template_id: str) -> None:
    """Once per process, as for the peers' parsed BPMN and launched DBOS: the template's working calendar (its
    holiday tables are imported on first use), outside the timed part."""
    template = services.get_template(template_id, 1, uow=pg.uow).template
    WorkingCalendar.from_def(template.calendar).add_business_days(T0, 1)


def statement_cost_us(pg: Phasegate, key: str, count: int = 2000) -> float:
    """Microseconds per read of one project row by primary key (untimed, after the run).

    The cheapest statement phasegate sends: the prebuilt SQLAlchemy Core select, on a unit of work's Core
    connection, round trip and row included, no snapshot built. Times the statements a round runs, it is the
    floor under a round whatever the Python around them costs.
    """
    with pg.engine.connect() as connection, connection.begin():
        connection.execute(statements.PROJECT, {"key": key}).one()  # the transaction's BEGIN, outside the count
        started = time.perf_counter()
        for _ in range(count):
            connection.execute(statements.PROJECT, {"key": key}).one()
        return (time.perf_counter() - started) / count * 1e6


def rounds(pg: Phasegate, keys: Sequence[str], decisions: Sequence[Decision], voters: Sequence[str]) -> Timing:
    """The timed part: every submission, then every decision, each call one committed transaction."""
    commits = 0
    statements = pg.statements
    started = time.perf_counter()
    round_ids: list[UUID] = []
    for key in keys:
        review = services.start_review(
            RequestReview(project_key=key, requested_by=REQUESTER),
            actor=Actor(person_id=REQUESTER, roles=ADMIN, method=AuthMethod.OS_LOGIN),
            uow=pg.uow,
            now=pg.clock(),
            probe=probe,
        )
        commits += 1
        if review.round_id is None:
            raise RuntimeError(f"phasegate: {key} is not ready: {'; '.join(review.evaluation.reasons)}")
        round_ids.append(review.round_id)
    for key, round_id, decision in zip(keys, round_ids, decisions, strict=True):
        for voter in voters:
            vote = approvals.cast_vote(
                CastVote(
                    round_id=round_id,
                    voter_id=voter,
                    decision=decision,
                    reason="" if decision is Decision.GO else "the business case no longer holds",
                ),
                actor=Actor(person_id=voter, roles=GATEKEEPER, method=AuthMethod.OS_LOGIN),
                uow=pg.uow,
                now=pg.clock(),
                probe=probe,
            )
            commits += 1
            if vote.round_status is RoundStatus.RESOLVED:
                break
        else:
            raise RuntimeError(f"phasegate: the round of {key} did not resolve after {len(voters)} votes")
        applied = approvals.apply_round_decision(round_id, uow=pg.uow, now=pg.clock())
        commits += 1
        if applied.decision is not decision:
            raise RuntimeError(f"phasegate: {key} decided {decision} but applied {applied.decision}")
    seconds = time.perf_counter() - started
    return Timing(rounds=len(keys), seconds=seconds, commits=commits, statements=pg.statements - statements)

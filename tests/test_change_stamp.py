"""``models.change_stamp`` moves exactly when a transaction that changed what the portfolio pages read commits.

Why it matters: the web process keeps the 10,000-project dashboard per stamp (``usecases.memo``). A stamp that
misses a change shows a stale page; one that moves on a sign-in or an API token's use mark costs a rebuild of
seconds (issue #17's dashboard p99). Both dialects; the triggers come from migration 0016.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, AuthMethod
from phasegate.models import tables as t
from phasegate.models.change_stamp import UNWATCHED, UNWATCHED_COLUMNS, change_stamp
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.settings import Settings
from phasegate.models.tokens import create_token, find_token, mark_used, revoke, token_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases.guard import refuse
from phasegate.web import session as web_session
from tests.conftest import TEST_AUDIT_KEY
from tests.signin import give_password
from tests.test_monitor_time_risk import Env, seeded


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = seeded(db_url)
    e.project("P1")
    try:
        yield e
    finally:
        e.engine.dispose()


def _watched_events(env: Env) -> dict[str, set[str]]:
    """Per table, the kinds of write (INSERT, UPDATE, DELETE) a trigger of the database watches."""
    found: dict[str, set[str]] = {}
    with env.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.execute(text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"))
            for table, sql in rows:
                head = sql.upper().split(" BEGIN ")[0]
                found.setdefault(table, set()).update(k for k in ("INSERT", "UPDATE", "DELETE") if f"AFTER {k}" in head)
        else:
            rows = connection.execute(
                text(
                    "SELECT event_object_table, event_manipulation FROM information_schema.triggers "
                    "WHERE action_statement LIKE '%phasegate_changed%'"
                )
            )
            for table, kind in rows:
                found.setdefault(table, set()).add(kind)
    return found


def test_every_table_but_the_unwatched_ones_moves_the_stamp_on_every_kind_of_write(env: Env) -> None:
    watched = _watched_events(env)
    tables = set(t.Base.metadata.tables)
    missing = {name: {"INSERT", "UPDATE", "DELETE"} - watched.get(name, set()) for name in sorted(tables - UNWATCHED)}
    assert {name: kinds for name, kinds in missing.items() if kinds} == {}, "a migration must add their triggers"
    assert not (set(watched) & UNWATCHED), "a table no memoised page reads moves the stamp: pages rebuild for nothing"


def test_the_stamp_stays_for_sign_ins_token_marks_and_refusals_and_moves_for_the_portfolio(env: Env) -> None:
    settings = Settings(database_url=str(env.engine.url.render_as_string(hide_password=False)))
    with env.sessions() as session, session.begin():
        token_id, token = create_token(session, "sam", "viewer", env.now())
    before = change_stamp(env.engine)
    assert before is not None and change_stamp(env.engine) == before

    # What a reader does without changing the portfolio: sign in (session row, password, audit), use a token
    # (its hourly use mark), be refused (audited).
    give_password(env.sessions, "mgr")  # keys the audit chain: what follows is signed with the test key
    env.uow = lambda: SqlUnitOfWork(env.engine, audit_key=TEST_AUDIT_KEY)  # type: ignore[method-assign]
    cookie = web_session.start(env.sessions, settings, person_id="mgr", method=AuthMethod.PASSWORD, now=env.now())
    later = env.now() + timedelta(minutes=5)
    assert web_session.resolve(env.sessions, settings, cookie, later) is not None  # touches last_seen_at
    with env.sessions() as session, session.begin():
        mark_used(session, token_id, later)
    with env.sessions() as session:
        record = find_token(session, token_hash(token))
        assert record is not None and record.last_used_at == later  # the mark was written: the check is not vacuous
    refuse(env.uow, actor=SYSTEM_ACTOR, entity="project:P1", why="test", code="test.refused", now=env.now())
    assert set(UNWATCHED_COLUMNS) == {"api_tokens"}
    assert change_stamp(env.engine) == before

    env.project("P2")  # the use case
    second = change_stamp(env.engine)
    assert second not in (None, before)
    with env.sessions() as session, session.begin():  # a write by hand, bypassing every use case
        session.execute(update(t.Project).where(t.Project.key == "P1").values(name="Renamed"))
    third = change_stamp(env.engine)
    assert third not in (None, before, second)
    with env.sessions() as session, session.begin():  # a revoked token must stop working at the next request
        revoke(session, token_id, env.now(), audit_key=TEST_AUDIT_KEY)
    assert change_stamp(env.engine) not in (None, before, second, third)


def test_a_rolled_back_write_leaves_the_stamp(env: Env) -> None:
    before = change_stamp(env.engine)
    with env.sessions() as session:
        session.execute(update(t.Project).where(t.Project.key == "P1").values(name="Never"))
        session.rollback()
    assert change_stamp(env.engine) == before


def test_a_write_committed_after_a_later_one_still_moves_the_stamp(env: Env) -> None:
    """Two writers, the first to start commits last: a stamp read between the commits must not hold after both
    (a "max id" stamp would: the later writer's id is the higher one). PostgreSQL only: SQLite writers take turns."""
    if env.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writers never overlap (BEGIN IMMEDIATE)")
    other = make_engine(str(env.engine.url.render_as_string(hide_password=False)))
    try:
        first = make_session_factory(other)()
        first.execute(update(t.Project).where(t.Project.key == "P1").values(name="First"))
        done = threading.Event()

        def second() -> None:
            env.project("P2")
            done.set()

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=60)
        assert done.is_set(), "the second writer waited for the first: the counter serialises writers"
        between = change_stamp(env.engine)
        first.commit()
        first.close()
        assert change_stamp(env.engine) != between
    finally:
        other.dispose()

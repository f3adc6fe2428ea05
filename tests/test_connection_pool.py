"""PostgreSQL's pooled connections: pinged before use only after sitting idle (``models.db._ping_when_idle``).

Why a test: the ping replaced ``pool_pre_ping``, which paid a round trip on every transaction. A connection the
server dropped while it sat in the pool must still be replaced before a use case meets it, and one handed back
a moment ago must go out without a ping.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from phasegate.models import db


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = db.make_engine(pg_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pg_url: str, pid: int) -> None:
    """End a backend as an admin's ``pg_terminate_backend`` or a server restart does, and wait until it is gone."""
    url = make_url(pg_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} did not end"
            time.sleep(0.02)


def test_a_connection_dropped_while_idle_in_the_pool_is_replaced_before_use(
    engine: Engine, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(engine)
    _terminate(pg_url, first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # the connection has sat idle "long enough"
    second = _backend(engine)
    assert second != first


def test_a_dropped_connection_handed_back_a_moment_ago_is_not_pinged(
    engine: Engine, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the trade: within the idle allowance no ping is sent, so a statement on a connection
    broken in that window fails (as it would on a connection in use), and the next checkout connects anew."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = _backend(engine)
    _terminate(pg_url, first)
    with pytest.raises(OperationalError) as failed:
        _backend(engine)
    assert failed.value.statement == "SELECT pg_backend_pid()"  # the statement met the broken connection, no ping
    assert _backend(engine) != first

"""Engines, connections and sessions. SQLite gets WAL, foreign keys, a busy timeout and ``BEGIN IMMEDIATE``.

Why IMMEDIATE: a deferred SQLite transaction that reads and then writes fails at once with SQLITE_BUSY
when another writer holds the lock (``busy_timeout`` cannot help it). Every phasegate unit of work that
writes is a read-modify-write, so each takes the write lock up front and waits its turn instead.

Units of work that only read (``reader_engine``) begin DEFERRED: in WAL mode they read a snapshot, so
a `gate check` or a listing neither waits behind a long import holding the write lock nor queues behind
other readers.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError

from phasegate.gates.vocabulary.errors import InputError
from phasegate.models.prepared import connection_of, one_round_trip, send_deferred, unsent_writes, watch_deferred
from phasegate.models.private_files import private_file

if TYPE_CHECKING:  # psycopg is imported only by engines on PostgreSQL; the ORM only by what uses sessions
    import psycopg
    from sqlalchemy.orm import Session, sessionmaker

# ``scheme://user:password@host``: the password part, for URLs SQLAlchemy cannot parse (so cannot hide for us).
_USERINFO_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]*:)(?P<password>[^@\s]*)(?=@)")
# ``password=...`` in a libpq key/value string or a query, as drivers sometimes echo them.
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>'[^']*'|\S+)", re.IGNORECASE)


def shown_url(url: str) -> str:
    """``url`` fit for a message or a log: the password replaced by ``***``, whatever else is wrong with it."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable: mask by pattern, a message must still be printable
        return hide_passwords(url)


def hide_passwords(text: str, url: str | None = None) -> str:
    """``text`` with every password of a URL or key/value string in it masked; ``url``'s own password too.

    Why both: driver errors quote the connection string in their own syntax (libpq's ``password=...``), and
    a password with characters a URL must escape appears in the message in its unescaped form.
    """
    if url:
        try:
            password = make_url(url).password
        except Exception:
            password = None
        if password:
            text = text.replace(str(password), "***")
    text = _USERINFO_PASSWORD.sub(lambda m: f"{m.group('head')}***", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m.group('head')}***", text)


def json_text(value: Any) -> str:
    """A JSON column's text, written by orjson: a gate round writes about a dozen JSON values (evaluation, evidence,
    seats, outbox contexts, audit payloads), 115 us of the round with the standard library and 30 with orjson. Text,
    not bytes, which SQLite would store as a BLOB. The same JSON values as before, written compactly, non-ASCII
    characters as themselves, non-string keys as strings; what orjson refuses and the standard library takes (an
    integer beyond 64 bits) is written by the standard library, as before. Read back by the standard library:
    orjson would turn such an integer into a float, and an audit entry holding one would no longer verify. The audit
    chain hashes its own canonical JSON (``gates.audit``), whatever the column's text."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def make_engine(url: str, *, sqlite_synchronous: str = "FULL") -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with its own wording
        problem = hide_passwords(str(exc), url)
        raise InputError(
            f"--db / PHASEGATE_DATABASE_URL: cannot parse {shown_url(url)!r} as a database URL ({problem})"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            # Made here, before SQLite would make it with the umask's mode (see models.private_files).
            private_file(Path(parsed.database))
        engine = create_engine(parsed, connect_args={"timeout": 30}, json_serializer=json_text)
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, json_serializer=json_text)
        _ping_when_idle(engine)
        watch_deferred(engine)  # a BEGIN and writes left to leave with the next statement (models.prepared)
        return engine
    raise InputError(
        f"database URL {shown_url(url)!r}: backend {backend!r} is not supported; use sqlite:/// or postgresql://"
    )


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) control transactions so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Sent on the driver's own cursor: through ``exec_driver_sql`` this one word cost as much as a round's
        # cheapest read, once per transaction (bench/decisions.py --profile). A refusal (the database locked past
        # the busy timeout) is still SQLAlchemy's ``OperationalError``, as the doors expect.
        begin = "BEGIN" if connection.get_execution_options().get(_READER_OPTION, False) else "BEGIN IMMEDIATE"
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.execute(begin)
        except connection.dialect.loaded_dbapi.Error as err:
            raise DBAPIError.instance(begin, None, err, connection.dialect.loaded_dbapi.Error) from err
        finally:
            cursor.close()


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle longer than this is pinged before it is handed out (``_ping_when_idle``)."""
_IDLE_SINCE = "phasegate_idle_since"


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it has sat idle for more than ``PING_AFTER_IDLE_SECONDS``.

    Why not ``pool_pre_ping``: it pings on every checkout, one more round trip for each transaction (three in
    every approval round, bench/decisions.py), though a connection handed back a moment ago is as alive as a
    ping would show. What kills pooled connections (a server restart or failover, an idle timeout, a backend
    terminated by an admin) leaves them idle longer than that, and they are pinged as before. A dead one
    invalidates the pool, as ``pool_pre_ping`` does (SQLAlchemy's documented ``checkout`` event contract: the
    pool then connects anew). A connection broken within the last second fails its statement, as a connection
    in use when the server goes does.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()  # record.info is cleared when its connection is replaced

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or (idle := time.monotonic() - since) <= PING_AFTER_IDLE_SECONDS:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_connection, None):
                raise InvalidatePoolError(f"a pooled connection idle for {idle:.1f} s is gone: {err}") from err
            raise


def postgres_driver(connection: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a PostgreSQL ``connection`` (checked out, so never None), for its public API."""
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the database connection was invalidated; its transaction cannot go on")
    return cast("psycopg.Connection[Any]", driver)


@contextmanager
def pipelined(db: Connection | Session) -> Iterator[None]:
    """Send the statements run inside together, on PostgreSQL (psycopg's pipeline mode on the transaction's
    connection).

    Why: at commit, the outbox rows, the audit appenders' lock and the read of the chain head need no answer
    from the server before the head, so they cost one round trip (when the block ends) instead of three. Inside,
    SQLAlchemy's results carry no rows: a row is read on the driver connection after the block (see
    ``models.audit_store.lock_audit_head``). The caller flushes the ORM before (a flush reads results) and
    commits after. A server error met inside is raised as SQLAlchemy's ``DBAPIError`` of
    the same kind (``IntegrityError``...), as if SQLAlchemy had run the statement. SQLite: nothing changes.
    """
    connection = connection_of(db)
    if connection.dialect.name != "postgresql":
        yield
        return
    with one_round_trip(connection.dialect, postgres_driver(connection)):
        yield


@contextmanager
def committing(connection: Connection) -> Iterator[None]:
    """Run the block's statements, then commit the transaction of ``connection``: on PostgreSQL the statements, the
    writes deferred until then and the COMMIT leave in one pipeline, one round trip instead of two.

    Why COMMIT is sent as a statement: psycopg's ``commit()`` inside a pipeline syncs, and leaving the pipeline syncs
    again, a round trip each. Sent as the pipeline's last statement, its answer leaves the connection outside a
    transaction, and SQLAlchemy's ``commit()`` after it then ends its own transaction without a round trip (psycopg
    sends no COMMIT when the server says none is open). If a statement fails, the server skips the rest (the COMMIT
    too) and the error is raised as ``pipelined`` raises it; the caller's rollback ends the transaction. A refused
    COMMIT ends it as well. A transaction that has sent nothing yet sends its BEGIN with its deferred writes
    (``models.prepared.watch_deferred``), or nothing at all when it has none. SQLite: the block runs, then the commit.
    """
    if connection.dialect.name == "postgresql" and (
        postgres_driver(connection).info.transaction_status.name != "IDLE" or unsent_writes(connection)
    ):
        with pipelined(connection):
            yield
            send_deferred(connection)
            postgres_driver(connection).execute("COMMIT")
    else:
        yield
    connection.commit()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    from sqlalchemy.orm import sessionmaker  # here: a command that only reads never imports the ORM

    return sessionmaker(engine, expire_on_commit=False)


_READER_OPTION = "phasegate_reader"


@cache
def reader_engine(engine: Engine) -> Engine:
    """``engine`` for units of work that never write: on SQLite their transactions begin DEFERRED (see above).

    One per engine and process: every read request of the CLI and the web app asks for it.
    """
    return engine.execution_options(**{_READER_OPTION: True})


@cache
def make_reader_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``reader_engine``, for code that reads through a session (one factory per engine and process)."""
    return make_session_factory(reader_engine(engine))

"""Prebuilt Core statements run on the DBAPI connection of a unit of work: the rounds' hot path (issue #17).

Why: through ``Session.execute`` a one-row read by primary key cost about five times what the driver spends on
it (the session's bookkeeping, the execution context, the result proxy), and a gate round runs some forty
statements. A ``Prepared`` statement is compiled once per dialect (and, for INSERT and UPDATE, per set of
columns given), with the type conversions SQLAlchemy would apply found once through the types' public
``dialect_impl(...).bind_processor`` / ``result_processor``; each call then converts the values, runs the SQL
string on the transaction's own DBAPI connection (same transaction, same locks, same psycopg pipeline) and converts
the rows. Each call takes the Core ``Connection`` of the transaction (a unit of work's) or a ``Session`` (whose
connection it asks for). Rows come back as named tuples with the statement's column names.

What it leaves out, on purpose, so the caller must not rely on it: column defaults (an INSERT or UPDATE must name
every column that has a Python-side default or ``onupdate``: compiling refuses otherwise), expanding ``IN``
parameters (refused: use ``Session.execute``), the ORM's autoflush (the hot path writes through Core only) and
SQLAlchemy's statement events (``before_cursor_execute`` does not see these statements; count at the driver).
A driver error is raised as SQLAlchemy's ``DBAPIError`` of the same kind (``IntegrityError``...), as
``Session.execute`` would raise it.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Delete, Engine, Insert, Select, Update, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:  # a reader's unit of work runs on a Core connection and never imports the ORM
    from sqlalchemy.orm import Session

Statement = Select[*tuple[Any, ...]] | Insert | Update | Delete
Processor = Callable[[Any], Any] | None
Params = Mapping[str, Any]


@dataclass
class _Compiled:
    """One statement compiled for one dialect and set of given columns: what each call needs, found once."""

    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order a positional paramstyle wants them
    defaults: dict[str, Any]  # values fixed in the statement (LIMIT 1), used unless the caller gives one
    binds: tuple[tuple[str, Processor], ...]  # (name, its bind processor) for those that have one
    positional: bool
    pick: Callable[[dict[str, Any]], tuple[Any, ...]]  # the positional values, in ``names`` order (itemgetter)
    row: type[tuple[Any, ...]] | None = None  # the named tuple type of the rows, made on the first result
    results: tuple[Processor, ...] | None = None  # per column, made on the first result (needs its type codes)
    processed: tuple[int, ...] = field(default=())  # the columns that have a result processor


class Prepared:
    """A Core statement run on the DBAPI connection of a transaction, compiled once per dialect (module docstring)."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}

    # -------------------------------------------------------------------------------------------- compiling
    def _compile(self, dialect: Dialect, given: tuple[str, ...]) -> _Compiled:
        # The SQL depends on the dialect, its driver and the server's version (what it may render): one per each.
        key = (dialect.name, dialect.driver, dialect.server_version_info, given)
        found = self._compiled.get(key)
        if found is not None:
            return found
        writes = isinstance(self.statement, (Insert, Update))
        compiled = self.statement.compile(dialect=dialect, column_keys=list(given) if writes else None)
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        if any(bind.expanding for bind in by_name.values()):
            raise ValueError(f"{self.statement}: expanding IN parameters are not prepared; use Session.execute")
        positional = compiled.positiontup is not None
        names = tuple(compiled.positiontup) if compiled.positiontup is not None else tuple(by_name)
        defaults = {name: bind.effective_value for name, bind in by_name.items() if not bind.required}
        if writes:  # a column SQLAlchemy would fill from a default is a bind the caller did not give
            missing = sorted(set(names) - set(given))
            if missing:
                table = getattr(self.statement, "table", self.statement)
                raise ValueError(f"{table}: give every column with a default: {', '.join(missing)}")
        binds = tuple(
            (name, processor)
            for name in dict.fromkeys(names)
            if (processor := by_name[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        made = _Compiled(
            sql=compiled.string, names=names, defaults=defaults, binds=binds, positional=positional, pick=_picker(names)
        )
        self._compiled[key] = made
        return made

    def _results(self, compiled: _Compiled, dialect: Dialect, description: Sequence[Any]) -> None:
        """Result processors need the driver's type codes (psycopg's numerics), so they are made on the first rows;
        the rows' names are the result's column names, as SQLAlchemy's rows have them."""
        if not isinstance(self.statement, Select):
            return
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(self.statement.selected_columns, description, strict=True)
        )
        row_type: type[tuple[Any, ...]] = namedtuple("Row", [d[0] for d in description], rename=True)  # type: ignore[misc]
        compiled.row = row_type
        compiled.processed = tuple(i for i, processor in enumerate(processors) if processor is not None)
        compiled.results = processors

    # -------------------------------------------------------------------------------------------- running
    def _values(self, compiled: _Compiled, params: Params) -> tuple[Any, ...] | dict[str, Any]:
        values = compiled.defaults | dict(params) if compiled.defaults else dict(params)
        for name, processor in compiled.binds:
            values[name] = processor(values[name])  # type: ignore[misc]
        if compiled.positional:
            return compiled.pick(values)
        return values

    def rows(self, db: Connection | Session, params: Params | None = None) -> list[Any]:
        """The statement's rows (named tuples), run in the transaction of ``db``."""
        held = _held(db)
        dialect, driver, connection = held
        if _unsent(connection) and isinstance(self.statement, Select) and not _in_pipeline(driver):
            with one_round_trip(dialect, driver):  # the BEGIN and writes deferred before it leave with it
                later = self._execute(held, params)
            return later()
        return self._execute(held, params)()

    def send(self, db: Connection | Session, params: Params | None = None) -> Callable[[], list[Any]]:
        """Send a read now and return how to read its rows later (once), for reads that need no answer between them.

        Why: on PostgreSQL, reads sent inside ``models.db.pipelined`` leave together and their answers come back when
        the block ends, one round trip for all of them instead of one each (a review's evidence, a round's lock and
        its read). Read the rows after the block: asked for inside it, they cost a round trip of their own before
        the one the block's end always pays. Outside a pipeline (and on SQLite) the statement runs at once.
        """
        if not isinstance(self.statement, Select):
            raise ValueError(f"{self.statement}: only reads are sent to be read later; run writes with run()")
        return self._execute(_held(db), params)

    def _execute(self, held: _Held, params: Params | None) -> Callable[[], list[Any]]:
        """Run the statement (after the writes deferred before it) and return how to read its rows, once."""
        dialect, driver, connection = held
        send_deferred(connection)
        compiled = self._compile(dialect, tuple(params or ()))
        cursor = driver.cursor()
        try:
            cursor.execute(compiled.sql, self._values(compiled, params or {}))
        except dialect.loaded_dbapi.Error as err:
            cursor.close()
            raise DBAPIError.instance(compiled.sql, None, err, dialect.loaded_dbapi.Error, dialect=dialect) from err

        def rows() -> list[Any]:
            try:
                # ``description`` once per statement: psycopg builds a column object per column on every read of
                # it (a round's reads made some 230 of them), and the converters found with it are kept.
                if compiled.results is None:
                    description = cursor.description
                    if description is None:  # a write: nothing to read
                        return []
                    fetched = cursor.fetchall()
                    self._results(compiled, dialect, description)
                else:
                    fetched = cursor.fetchall()
            except dialect.loaded_dbapi.Error as err:
                raise DBAPIError.instance(compiled.sql, None, err, dialect.loaded_dbapi.Error, dialect=dialect) from err
            finally:
                cursor.close()
            return self._convert(compiled, fetched)

        return rows

    def first(self, db: Connection | Session, params: Params | None = None) -> Any | None:
        """The first row, or None."""
        found = self.rows(db, params)
        return found[0] if found else None

    def defer(self, db: Connection | Session, params: Params) -> None:
        """Run a write with the transaction's next statement (or before its COMMIT) instead of on its own.

        Why: on PostgreSQL a write whose answer nobody waits for need not cost a round trip of its own; deferred, it
        leaves in the pipeline of the next read, or of the commit's outbox rows and audit lock (a vote's resolution,
        a decision's moves). Nothing can read around it: the next statement on the connection, whoever sends it
        (``Prepared``, the session, the ORM's flush), sends the deferred writes first, in order, and a rollback
        drops them. What it gives up: its error (a constraint) is raised by that next statement, so a write whose
        failure the caller turns into its own error (``SqlReviews.add_vote``) must ``run``. SQLite: runs at once.
        """
        if not isinstance(self.statement, (Insert, Update, Delete)):
            raise ValueError(f"{self.statement}: only writes are deferred")
        dialect, _, connection = _held(db)
        if dialect.name == "sqlite":
            self.run(connection, params)
            return
        kept = connection.info.get(_DEFERRED)
        transaction = connection.get_transaction()
        if kept is None or kept[0] is not transaction:
            writes: _Deferred = []
            kept = connection.info[_DEFERRED] = (transaction, writes)
        kept[1].append((self, params))

    def run(self, db: Connection | Session, params: Params | Sequence[Params]) -> None:
        """Run a write once, or once per parameter set in one ``executemany`` (every set naming the same columns)."""
        many = not isinstance(params, Mapping)
        batch = cast(Sequence[Params], params) if many else [cast(Params, params)]
        if not batch:
            return
        dialect, driver, connection = _held(db)
        if _unsent(connection) and not _in_pipeline(driver):
            with one_round_trip(dialect, driver):  # after the BEGIN and writes deferred before it
                _send(connection)
                self._write(dialect, driver, batch, many=many)
            return
        send_deferred(connection)
        self._write(dialect, driver, batch, many=many)

    def _write(self, dialect: Dialect, driver: Any, batch: Sequence[Params], *, many: bool) -> None:
        compiled = self._compile(dialect, tuple(batch[0]))
        cursor = driver.cursor()
        try:
            if many:
                cursor.executemany(compiled.sql, [self._values(compiled, one) for one in batch])
            else:
                cursor.execute(compiled.sql, self._values(compiled, batch[0]))
        except dialect.loaded_dbapi.Error as err:
            raise DBAPIError.instance(compiled.sql, None, err, dialect.loaded_dbapi.Error, dialect=dialect) from err
        # Not closed here: inside a psycopg pipeline its result arrives when the pipeline syncs.

    @staticmethod
    def _convert(compiled: _Compiled, fetched: Sequence[Sequence[Any]]) -> list[Any]:
        row_type = compiled.row
        processors = compiled.results
        assert row_type is not None and processors is not None
        if not compiled.processed:
            return [row_type._make(found) for found in fetched]  # type: ignore[attr-defined]
        converted = []
        for found in fetched:
            values = list(found)
            for i in compiled.processed:
                values[i] = processors[i](values[i])  # type: ignore[misc]
            converted.append(row_type._make(values))  # type: ignore[attr-defined]
        return converted


def _picker(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of ``names`` in order, as a tuple: ``itemgetter`` (a generator per call cost a tenth of a
    statement's Python), which returns a bare value for one name and needs at least one."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:
        only = names[0]
        return lambda values: (values[only],)
    return lambda _values: ()


def connection_of(db: Connection | Session) -> Connection:
    """The Core connection of the transaction of ``db``: a unit of work's connection itself, or a session's (asked
    for, it begins the session's transaction when none is open)."""
    return db if isinstance(db, Connection) else db.connection()


_Held = tuple[Dialect, Any, Connection]


def _held(db: Connection | Session) -> _Held:
    """The dialect, the DBAPI connection and the Core connection of the transaction of ``db``."""
    connection = connection_of(db)
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the database connection was invalidated; its transaction cannot go on")
    return connection.dialect, driver, connection


# ------------------------------------------------------------------------------------------------ deferred writes
_DEFERRED = "phasegate.prepared.deferred"  # the connection's ``info`` key: (its transaction, writes not yet sent)
_BEGIN = "phasegate.prepared.begin"  # the connection's ``info`` key, present while its BEGIN is not sent yet
_Deferred = list[tuple[Prepared, Params]]


def _pending(connection: Connection) -> _Deferred:
    """The writes ``Prepared.defer`` kept for the connection's current transaction (a stale list is dropped)."""
    kept = connection.info.get(_DEFERRED)
    if kept is None:
        return []
    if kept[0] is not connection.get_transaction():
        del connection.info[_DEFERRED]
        return []
    writes: _Deferred = kept[1]
    return writes


def _unsent(connection: Connection) -> bool:
    """Whether the transaction has a BEGIN or writes that wait for its next statement."""
    return _BEGIN in connection.info or bool(_pending(connection))


def unsent_writes(connection: Connection) -> bool:
    """Whether the transaction has writes kept for its next statement (``Prepared.defer``): a BEGIN alone is not
    one, a transaction that sent nothing else has nothing to commit."""
    return bool(_pending(connection))


def _in_pipeline(driver: Any) -> bool:
    """Whether psycopg's connection is in pipeline mode (its libpq connection's public status); never on SQLite."""
    pgconn = getattr(driver, "pgconn", None)
    return pgconn is not None and bool(pgconn.pipeline_status)


@contextmanager
def one_round_trip(dialect: Dialect, driver: Any, *, wrap: bool = True) -> Iterator[None]:
    """psycopg's pipeline on ``driver``: what is sent inside leaves together, one round trip. A driver error is raised
    as SQLAlchemy's ``DBAPIError`` of the same kind, as ``Session.execute`` would raise it, unless ``wrap`` is False
    (inside SQLAlchemy's own execution, which wraps it and invalidates the connection if the server is gone)."""
    try:
        with driver.pipeline():
            yield
    except dialect.loaded_dbapi.Error as err:
        if not wrap:
            raise
        raise DBAPIError.instance(None, None, err, dialect.loaded_dbapi.Error, dialect=dialect) from err


def send_deferred(connection: Connection, *, wrap: bool = True) -> None:
    """Send the transaction's BEGIN and deferred writes now, if not sent yet (``Prepared.defer``,
    ``watch_deferred``): inside a pipeline they join it, otherwise they leave in one of their own (``wrap``: see
    ``one_round_trip``)."""
    if _DEFERRED in connection.info or _BEGIN in connection.info:
        _send(connection, wrap=wrap)


def _send(connection: Connection, *, wrap: bool = True) -> None:
    """Send what waits (``wrap``: see ``one_round_trip``)."""
    begin = connection.info.pop(_BEGIN, False)
    writes = _pending(connection)
    if writes:
        del connection.info[_DEFERRED]
    if not begin and not writes:
        return
    driver: Any = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the database connection was invalidated; its transaction cannot go on")
    dialect = connection.dialect

    def send() -> None:
        if begin:
            driver.execute("BEGIN", prepare=False)
        for prepared, params in writes:
            prepared._write(dialect, driver, [params], many=False)

    if _in_pipeline(driver):
        send()
        return
    with one_round_trip(dialect, driver, wrap=wrap):
        send()


def watch_deferred(engine: Engine) -> None:
    """Defer each transaction's BEGIN to its first statement, and make the engine send what is deferred before any
    statement SQLAlchemy runs (Core, ORM flush) and before COMMIT, and drop it on ROLLBACK: with ``Prepared``'s own
    statements, nothing on the connection overtakes a deferred write, and nothing runs outside the transaction.

    Why BEGIN is ours: psycopg sends it before a transaction's first statement and waits for its answer, even in a
    pipeline, one round trip of its own in every transaction (three in an approval round). The driver's connections
    are in autocommit mode and the transaction's BEGIN leaves with its first statement instead; psycopg's
    ``commit()`` and ``rollback()`` still end it (they act on the server's transaction status, whatever the mode). A
    transaction that sends nothing sends no BEGIN. A connection set to another isolation level (psycopg out of
    autocommit) begins as psycopg does.
    """

    @event.listens_for(engine, "connect")
    def _autocommit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True

    # An invalidated connection (the server went) has no ``info`` to read: its DBAPI connection and the writes
    # kept with it are gone already, and reading it would replace the driver's error with SQLAlchemy's
    # PendingRollbackError.
    def begun(connection: Connection) -> None:
        driver: Any = connection.connection.driver_connection
        if driver is not None and driver.autocommit:
            connection.info[_BEGIN] = True

    def before(connection: Connection, *_: Any) -> None:
        if not connection.invalidated:
            send_deferred(connection, wrap=False)

    def committed(connection: Connection) -> None:
        if not connection.invalidated:
            if not _pending(connection):
                connection.info.pop(_BEGIN, None)  # nothing was sent: nothing to commit
            send_deferred(connection)

    def dropped(connection: Connection) -> None:
        if not connection.invalidated:
            connection.info.pop(_DEFERRED, None)
            connection.info.pop(_BEGIN, None)

    event.listen(engine, "begin", begun)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", committed)
    event.listen(engine, "rollback", dropped)

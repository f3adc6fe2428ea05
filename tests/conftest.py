"""Shared test fixtures: isolated homes, and real databases (a SQLite file, a PostgreSQL database) at head.

Why the environment is set at import time rather than only in a fixture: test modules are imported during
collection, before any fixture runs, and anything that imports Prefect then must already see the
temporary ``PREFECT_HOME``. Nothing here imports Prefect itself (it costs about a second and 70 MB).

Databases are real. PostgreSQL tests need the server at 127.0.0.1:5432 (user postgres, trust auth); they
skip when it is unreachable, and fail instead when ``CI=true``, so CI can never go green by skipping.
Each test gets its own database, cloned from a per-session template that was migrated to head once: the
schema is the one migrations produce, at a fraction of the cost of migrating per test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from phasegate.models import schema
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.keys import derive_audit_key
from tests.receivers import HttpReceiver

# No deadline per example: the suite runs on shared hosts (four workers on two cores in CI), where one slow example
# failed a property that held (test_audit's forgery test). Properties are about answers; speed is bench/'s.
settings.register_profile("phasegate", deadline=None)
settings.load_profile("phasegate")

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="phasegate-tests-"))
TEST_SECRET_KEY = "test-only-secret-key-" + uuid.uuid4().hex  # 53 bytes, new each session: nothing may rely on it
"""phasegate has no default key (models/keys.py): every test process and the commands it starts get this one."""
TEST_AUDIT_KEY = derive_audit_key(TEST_SECRET_KEY)
"""The audit chain's key under ``TEST_SECRET_KEY``: units of work built by tests append with it, as the CLI does."""
_ENVIRONMENT = {
    "PHASEGATE_SECRET_KEY": TEST_SECRET_KEY,
    "PHASEGATE_HOME": str(_SESSION_HOME / "phasegate"),
    "PREFECT_HOME": str(_SESSION_HOME / "prefect"),
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # A developer's `phasegate login` would send every CLI test to their team server (flows/cli/remote).
    "XDG_CONFIG_HOME": str(_SESSION_HOME / "config"),
}
os.environ.update(_ENVIRONMENT)
# A developer's own settings must not leak into tests (a real server, a real database).
_FOREIGN = (
    "PHASEGATE_DATABASE_URL",
    "PREFECT_API_URL",
    "PHASEGATE_SERVER_URL",
    "PHASEGATE_TOKEN",
    "PHASEGATE_SECRET_KEY_FILE",
)
for _name in _FOREIGN:
    os.environ.pop(_name, None)

POSTGRES_ADMIN_URL = os.environ.get(
    "PHASEGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class SessionHomes:
    """Where this session's PHASEGATE_HOME and PREFECT_HOME point (both under one temp directory)."""

    phasegate: Path
    prefect: Path


@pytest.fixture(scope="session", autouse=True)
def isolated_homes() -> Iterator[SessionHomes]:
    """Keeps every test's local state (SQLite files, Prefect's database and profiles) out of the user's home."""
    homes = SessionHomes(phasegate=Path(_ENVIRONMENT["PHASEGATE_HOME"]), prefect=Path(_ENVIRONMENT["PREFECT_HOME"]))
    homes.phasegate.mkdir(parents=True, exist_ok=True)
    homes.prefect.mkdir(parents=True, exist_ok=True)
    os.environ.update(_ENVIRONMENT)  # in case a test module changed them while importing
    yield homes
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


def pytest_sessionfinish() -> None:
    """Each pytest process (with xdist, the controller and every worker) removes its own session directory."""
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


# The longest-running tests and modules of the suite (``--durations`` of a full run), longest first. Under xdist
# they are handed out first, so the run does not end with one worker alone on a two-minute test while the others
# idle. A module stands for all its tests; a grouped module (see ``_shares_module_setup``) is always named whole.
# Order only: nothing is skipped or deselected, and a test missing here simply runs in collection order.
SLOW_FIRST = (
    "tests/test_serving.py",
    "tests/test_remote_cli.py::test_review_and_vote",
    "tests/test_remote_team.py",
    "tests/test_secrets.py::test_demo_generates_its_own_private_key",
    "tests/test_team_setup.py",
    "tests/test_remote_cli.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """xdist's ``loadgroup`` hands out its scopes largest group first, then in collection order; keep collection
    order instead (the order ``SLOW_FIRST`` gives it), so the slowest tests start first whatever their group."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_itemcollected(item: pytest.Item) -> None:
    """Tests that use PostgreSQL carry the ``postgres`` marker, so ``-m "not postgres"`` deselects them.

    Under xdist (``make test``: ``--dist loadgroup``), the tests of a module that share a module- or
    session-scoped fixture defined in that module (a served Prefect server, a seeded database) run on one
    worker, so its setup runs once instead of once per worker; every other test is scheduled on its own.
    Marked as each test is collected: xdist reads ``xdist_group`` in its own ``pytest_collection_modifyitems``,
    which may run before this conftest's.
    """
    names = getattr(item, "fixturenames", ())
    if "pg_url" in names or "empty_pg_url" in names:
        item.add_marker(pytest.mark.postgres)
    if _shares_module_setup(item):
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture scope
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests ``SLOW_FIRST`` names come first, in its order; the others keep their order (a stable sort)."""
    items.sort(key=_slowness_rank)


def _slowness_rank(item: pytest.Item) -> int:
    """The position of the first ``SLOW_FIRST`` entry naming ``item`` (its module, or its test by name prefix)."""
    return next(
        (rank for rank, name in enumerate(SLOW_FIRST) if item.nodeid.startswith(name)),
        len(SLOW_FIRST),
    )


def _shares_module_setup(item: pytest.Item) -> bool:
    """Whether the test uses a fixture of wider than function scope that its own module defines."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    module = item.nodeid.split("::", 1)[0]
    return any(
        definition.scope in ("module", "package", "session") and definition.baseid == module
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


# --- SQLite -------------------------------------------------------------------------------------------


def sqlite_file_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    """A URL for a SQLite file that does not exist yet (for tests of migrating or initialising)."""
    return sqlite_file_url(tmp_path / "empty.db")


def whole_sqlite_file(path: Path) -> Path:
    """``path``, checked to be the whole database (alone in its folder), so a copy of it is one too: whoever wrote
    it disposed of its engine, SQLite checkpointed and removed the WAL."""
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"{path.name} left SQLite side files: {leftovers}"
    return path


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    schema.upgrade(sqlite_file_url(path))
    return whole_sqlite_file(path)


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A fresh SQLite file in tmp_path with the schema at head."""
    path = tmp_path / "phasegate.db"
    shutil.copyfile(_sqlite_template, path)
    return sqlite_file_url(path)


# --- PostgreSQL ---------------------------------------------------------------------------------------


def _admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(POSTGRES_ADMIN_URL)
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        connect_timeout=3,
        autocommit=True,  # CREATE/DROP DATABASE cannot run inside a transaction
    )


def _database_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _create_database(name: str, *, template: str | None = None) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with _admin_connect() as admin:
        admin.execute(statement)


def _drop_database(name: str) -> None:
    with _admin_connect() as admin:
        # FORCE ends connections a test leaked (an engine not disposed) instead of failing the teardown.
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _unique_name(kind: str) -> str:
    return f"phasegate_{kind}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def postgres_server() -> None:
    """Skips (or, with CI=true, fails) every PostgreSQL test at once when the server is unreachable."""
    try:
        with _admin_connect() as admin:
            admin.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {make_url(POSTGRES_ADMIN_URL).render_as_string()}: {exc}"
        if in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def empty_pg_url(postgres_server: None) -> Iterator[str]:
    """A fresh, empty, uniquely named PostgreSQL database, dropped afterwards."""
    name = _unique_name("empty")
    _create_database(name)
    try:
        yield _database_url(name)
    finally:
        _drop_database(name)


@pytest.fixture(scope="session")
def _pg_template(postgres_server: None) -> Iterator[str]:
    name = _unique_name("template")
    _create_database(name)
    try:
        schema.upgrade(_database_url(name))  # disposes its engine: no session is left on the template
        yield name
    finally:
        _drop_database(name)


@pytest.fixture
def pg_url(_pg_template: str) -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database with the schema at head, dropped afterwards."""
    name = _unique_name("test")
    _create_database(name, template=_pg_template)
    try:
        yield _database_url(name)
    finally:
        _drop_database(name)


# --- Both dialects ------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database at head, once on SQLite and once on PostgreSQL: for tests that must hold on both."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on each dialect (for migration and initialisation tests)."""
    fixture = "empty_sqlite_url" if request.param == "sqlite" else "empty_pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on each backend's migrated test database, for tests below the unit of work."""
    engine = make_engine(db_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the session (it takes 10 s to start), heartbeats off (see FACTS.md)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A real HTTP notification receiver on 127.0.0.1 (Apprise json:// targets)."""
    with HttpReceiver() as running:
        yield running

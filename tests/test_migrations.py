"""Migrations: one head, ``upgrade head`` equals the models, and every revision goes up, down and up again.

Run on SQLite and PostgreSQL alike: a revision that works on one dialect only is the usual way a schema
change breaks production.
"""

from __future__ import annotations

import ast
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from phasegate.gates.vocabulary.errors import ConflictError, InputError
from phasegate.models import schema
from phasegate.models.db import make_engine
from phasegate.models.tables import Base

VERSIONS = Path(str(files("phasegate.migrations"))) / "versions"


def table_names(url: str) -> set[str]:
    """Tables, without SQLite's FTS5 lesson search and its shadow tables (kept by migration 0012, not models)."""
    engine = make_engine(url)
    try:
        return {name for name in sa.inspect(engine).get_table_names() if not name.startswith("lessons_fts")}
    finally:
        engine.dispose()


def execute(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_there_is_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(schema.make_config()).get_heads()
    assert len(heads) == 1, heads
    assert schema.head() == heads[0] == schema.revisions()[-1]


def test_revision_ids_ascend_in_one_chain_and_are_named_in_their_files() -> None:
    """Branches take their revision number when they start, and the integrator chains them as they land, so a
    number can be missing for a while (a branch not merged yet); the chain itself must still ascend by id."""
    ids = schema.revisions()
    assert ids[0] == "0001"
    assert all(len(rev) == 4 and rev.isdigit() for rev in ids), ids
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    for rev in ids:
        assert len(list(VERSIONS.glob(f"{rev}_*.py"))) == 1, f"no file named {rev}_<slug>.py for revision {rev}"


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("[0-9]*.py")), ids=lambda p: p.name)
def test_revisions_do_not_import_application_code(path: Path) -> None:
    """A revision must keep meaning what it meant when written, whatever later happens to the models."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    ours = {name for name in imported if name.startswith(("phasegate.", "models", "gates", "flows", "notifications"))}
    assert not ours


def test_the_orm_classes_type_each_column_of_their_table_as_it_is() -> None:
    """The catalog's Core tables hold the schema and the ORM classes only annotate them (``models.tables``):
    every column has an annotation, and ``X | None`` exactly where the column is nullable."""
    for mapper in Base.registry.mappers:
        annotations = {
            name: annotation
            for cls in reversed(mapper.class_.__mro__)
            for name, annotation in vars(cls).get("__annotations__", {}).items()
            if str(annotation).startswith("Mapped[")
        }
        table = mapper.local_table
        assert isinstance(table, sa.Table)
        assert set(annotations) == set(table.c.keys()), table.name
        for column in table.c:
            assert ("| None" in annotations[column.name]) is bool(column.nullable), f"{table.name}.{column.name}"


def test_current_is_none_before_and_head_after_upgrade(empty_db_url: str) -> None:
    assert schema.current(empty_db_url) is None
    schema.upgrade(empty_db_url)
    assert schema.current(empty_db_url) == schema.head()
    assert table_names(empty_db_url) == set(Base.metadata.tables) | {"alembic_version"}
    schema.upgrade(empty_db_url)  # already at head: nothing to do, nothing fails
    assert schema.current(empty_db_url) == schema.head()


def test_upgrade_head_matches_the_models(empty_db_url: str) -> None:
    schema.upgrade(empty_db_url)
    schema.check(empty_db_url)  # raises ConflictError on any autogenerate difference


def test_no_index_repeats_the_lead_of_another_or_of_a_unique_constraint(db_url: str) -> None:
    """Every index costs each insert a B-tree write; one whose columns lead another index or a unique constraint
    serves no lookup the other does not (migration 0017 dropped five)."""
    assert covered_indexes(db_url) == []


def covered_indexes(url: str) -> list[str]:
    """Indexes (not partial) whose columns are the leading columns of another index or of a unique constraint."""
    engine = make_engine(url)
    try:
        inspector = sa.inspect(engine)
        covered = []
        for table in inspector.get_table_names():
            indexes = [i for i in inspector.get_indexes(table) if not _partial(i)]
            keys = [list(i["column_names"]) for i in indexes]
            keys += [list(u["column_names"]) for u in inspector.get_unique_constraints(table)]
            for index in indexes:
                columns = list(index["column_names"])
                if any(len(key) > len(columns) and key[: len(columns)] == columns for key in keys):
                    covered.append(f"{table}.{index['name']}")
        return covered
    finally:
        engine.dispose()


def _partial(index: Any) -> bool:
    options = index.get("dialect_options", {})
    return options.get("postgresql_where") is not None or options.get("sqlite_where") is not None


def test_check_reports_drift(empty_db_url: str) -> None:
    """The empty-diff test above can fail: a hand-made change to the database is detected."""
    schema.upgrade(empty_db_url)
    execute(empty_db_url, "ALTER TABLE people ADD COLUMN nickname VARCHAR(40)")
    with pytest.raises(ConflictError, match="nickname") as raised:
        schema.check(empty_db_url)
    assert raised.value.code == "schema.drift"


def test_check_refuses_a_database_behind_head(empty_db_url: str) -> None:
    with pytest.raises(ConflictError) as raised:
        schema.check(empty_db_url)
    assert raised.value.code == "schema.not_current"


def test_stairway_each_revision_upgrades_downgrades_and_upgrades_again(empty_db_url: str) -> None:
    previous = "base"
    for rev in schema.revisions():
        schema.upgrade(empty_db_url, rev)
        assert schema.current(empty_db_url) == rev
        schema.downgrade(empty_db_url, previous)
        assert schema.current(empty_db_url) == (None if previous == "base" else previous)
        schema.upgrade(empty_db_url, rev)
        assert schema.current(empty_db_url) == rev
        previous = rev
    schema.check(empty_db_url)
    schema.downgrade(empty_db_url, "base")
    assert table_names(empty_db_url) == {"alembic_version"}


def test_upgrade_works_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = f"sqlite:///{tmp_path / 'db' / 'phasegate.db'}"
    schema.upgrade(url)
    assert schema.current(url) == schema.head()


def test_unknown_revision_is_an_input_error(sqlite_url: str) -> None:
    with pytest.raises(InputError, match="'9999'"):
        schema.upgrade(sqlite_url, "9999")


def test_shared_fixtures_are_at_head(db_url: str) -> None:
    assert schema.current(db_url) == schema.head()
    schema.check(db_url)


def test_sqlite_migrations_leave_foreign_keys_enforced_for_the_application(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def copy_migrations(tmp_path: Path) -> Path:
    scripts = tmp_path / "migrations"
    shutil.copytree(Path(str(files("phasegate.migrations"))), scripts, ignore=shutil.ignore_patterns("__pycache__"))
    return scripts


def scratch_migrations(tmp_path: Path, upgrade_body: str) -> Path:
    """A copy of our migrations plus one extra revision on top, for testing how failures are handled."""
    scripts = copy_migrations(tmp_path)
    head = schema.head()
    (scripts / "versions" / "9000_scratch.py").write_text(
        f"""
import sqlalchemy as sa
from alembic import op

revision = "9000"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade_body}


def downgrade() -> None:
    pass
""",
        encoding="utf-8",
    )
    return scripts


def upgrade_with(scripts: Path, url: str) -> None:
    config = schema.make_config(url)
    config.set_main_option("script_location", str(scripts))
    command.upgrade(config, "heads")


def test_a_failing_migration_rolls_back_whole(empty_db_url: str, tmp_path: Path) -> None:
    """DDL is transactional on both dialects, so a failure leaves the previous schema, not half of the next."""
    schema.upgrade(empty_db_url)
    body = """    op.create_table("scratch", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("people", sa.Column("nickname", sa.String(40)))
    raise RuntimeError("boom")"""
    with pytest.raises(RuntimeError, match="boom"):
        upgrade_with(scratch_migrations(tmp_path, body), empty_db_url)
    assert schema.current(empty_db_url) == schema.head()
    assert "scratch" not in table_names(empty_db_url)
    schema.check(empty_db_url)


def test_sqlite_migration_that_breaks_a_reference_is_rolled_back(sqlite_url: str, tmp_path: Path) -> None:
    """Foreign keys are off during a SQLite migration (table rebuilds need it) but checked before commit."""
    body = """    op.execute(
        "INSERT INTO votes (id, round_id, voter_id, signer_id, decision, reason, evidence_hash, cast_at) "
        "VALUES ('00000000000000000000000000000001', '00000000000000000000000000000002', 'nobody', 'nobody', "
        "'go', '', 'h', '2026-01-01 00:00:00')"
    )"""
    with pytest.raises(RuntimeError, match="dangling foreign keys"):
        upgrade_with(scratch_migrations(tmp_path, body), sqlite_url)
    assert schema.current(sqlite_url) == schema.head()
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM votes").scalar() == 0
    finally:
        engine.dispose()


def test_autogenerate_numbers_new_revisions_and_renders_without_models(sqlite_url: str, tmp_path: Path) -> None:
    """A new revision gets the next readable id, and UTCDateTime renders as plain ``sa.DateTime``."""
    scripts = copy_migrations(tmp_path)
    config = schema.make_config(sqlite_url)
    config.set_main_option("script_location", str(scripts))
    execute(sqlite_url, "DROP TABLE cost_entries")  # autogenerate must now propose re-creating it

    command.revision(config, message="restore cost entries", autogenerate=True)

    expected_id = f"{int(schema.revisions()[-1]) + 1:04d}"  # after the newest, whatever gaps lie before
    (written,) = (scripts / "versions").glob(f"{expected_id}_*.py")
    source = written.read_text(encoding="utf-8")
    assert "op.create_table(\n        'cost_entries'" in source or "op.create_table('cost_entries'" in source
    assert "sa.DateTime(timezone=True)" in source
    assert "models" not in source


@pytest.mark.parametrize(("given", "kept"), [("307044690029", False), ("0042", True)])
def test_an_id_alembic_drew_is_renumbered_even_when_all_digits_and_one_chosen_is_kept(
    sqlite_url: str, tmp_path: Path, given: str, kept: bool
) -> None:
    """Alembic's drawn ids (12 hex digits) are sometimes all decimal; they must not pass for a chosen id."""
    scripts = copy_migrations(tmp_path)
    config = schema.make_config(sqlite_url)
    config.set_main_option("script_location", str(scripts))

    command.revision(config, message="nothing", autogenerate=True, rev_id=given)

    expected_id = given if kept else f"{int(schema.revisions()[-1]) + 1:04d}"
    assert [path.name for path in (scripts / "versions").glob("*_nothing.py")] == [f"{expected_id}_nothing.py"]

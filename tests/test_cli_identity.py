"""Who acts on the command line: the OS login mapped to a person, and ``--as`` for PMO admins only.

Real processes on a real SQLite file, as a user runs them. The tests run as whatever OS user runs them (root
in CI); the setup maps that login, and re-maps it between people through the use cases to play each part.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from phasegate.flows.cli.common import os_login
from phasegate.gates.vocabulary.commands import UpdatePerson
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models.db import make_engine
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import people
from tests import actors
from tests.conftest import TEST_AUDIT_KEY
from tests.test_cli import Cli


def _audit(cli: Cli) -> list[tuple[str, str, str, dict[str, Any]]]:
    with sqlite3.connect(cli.db) as con:
        rows = con.execute("select actor, action, entity, payload from audit_log order by seq").fetchall()
    return [(actor, action, entity, json.loads(payload)) for actor, action, entity, payload in rows]


def _map_login(cli: Cli, person_id: str | None) -> None:
    """Point this OS login at ``person_id`` (or at nobody), as a PMO admin would with ``person update``."""
    engine = make_engine(cli.url)
    uow = lambda: SqlUnitOfWork(engine, audit_key=TEST_AUDIT_KEY)  # noqa: E731
    now = datetime.now(UTC)
    try:
        for holder in ("admin", "gk"):
            people.update_person(UpdatePerson(id=holder, clear_login=True), actor=SYSTEM_ACTOR, uow=uow, now=now)
        if person_id is not None:
            people.update_person(UpdatePerson(id=person_id, login=os_login()), actor=SYSTEM_ACTOR, uow=uow, now=now)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def _upgraded(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A database ``phasegate db upgrade`` made (schema and shipped templates, nobody in it yet), made once."""
    runner = Cli(tmp_path_factory.mktemp("identity") / "identity.db")
    runner.run("db", "upgrade")
    return runner


@pytest.fixture
def cli(_upgraded: Cli, tmp_path: Path) -> Cli:
    """A copy of the upgraded database for each test (``Cli.copy``)."""
    return _upgraded.copy(tmp_path / "identity.db")


def test_bootstrap_then_the_login_is_the_actor_and_as_is_for_admins(cli: Cli) -> None:
    login = os_login()
    # Before any admin exists, nothing but the first admin, mapped to this login, can be added.
    refused = cli.run("person", "add", "alice", "--name", "Alice", "--email", "a@example.com", expect=2)
    assert f"--login {login} --role pmo_admin" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert _audit(cli)[-1][1:3] == ("security.refused", f"login:{login}")
    added = cli.run(*actors.bootstrap_admin_args())
    assert "first PMO admin" in added.stdout
    actor, action, _, payload = _audit(cli)[-1]
    assert (actor, action, payload["bootstrap"], payload["auth_method"]) == ("admin", "person.added", True, "os_login")
    assert "admin" in cli.run("person", "whoami").stdout

    cli.run("person", "add", "alice", "--name", "Alice", "--email", "a@example.com", "--role", "gatekeeper")
    cli.run("person", "add", "bob", "--name", "Bob", "--email", "b@example.com", "--role", "manager")
    cli.run("person", "add", "gk", "--name", "Gus", "--email", "g@example.com", "--role", "gatekeeper")
    create = ("project", "create", "P1", "--template", "it-pmo", "--name", "P", "--budget", "10")
    same = cli.run(*create, "--sponsor", "bob", "--manager", "bob", expect=2)
    assert "two different people" in same.stderr and _audit(cli)[-1][3]["code"] == "auth.sponsor_is_manager"
    # The admin acts for the manager: the act is bob's, the audit names the admin acting for bob.
    cli.run(*create, "--sponsor", "alice", "--manager", "bob", "--as", "bob")
    actor, action, _, payload = _audit(cli)[-1]
    assert (actor, action, payload["acting_admin"], payload["acting_for"]) == (
        "admin",
        "project.created",
        "admin",
        "bob",
    )

    _map_login(cli, "gk")  # now this OS login is a gatekeeper, not an admin
    as_other = cli.run("actuals", "add", "P1", "5", "--as", "bob", expect=2)
    assert "only a pmo_admin may act for another person" in as_other.stderr
    actor, action, _, payload = _audit(cli)[-1]
    assert (actor, action, payload["code"], payload["as"]) == ("gk", "security.refused", "auth.act_for", "bob")
    not_admin = cli.run("person", "disable", "bob", "--reason", "left", expect=2)
    assert "needs organisation role pmo_admin" in not_admin.stderr and _audit(cli)[-1][0] == "gk"
    assert "disabled" not in cli.run("person", "show", "bob").stdout

    _map_login(cli, None)  # an OS login nobody mapped
    before = len(_audit(cli))
    unmapped = cli.run("actuals", "add", "P1", "5", expect=2)
    assert "is not mapped to a person" in unmapped.stderr and "person update PERSON --login" in unmapped.stderr
    assert len(_audit(cli)) == before + 1 and _audit(cli)[-1][3]["code"] == "auth.unmapped_login"
    assert cli.json("project", "list")[0]["key"] == "P1"  # reading needs no identity


def test_an_admin_disables_a_person_and_the_login_mapped_to_them_stops_working(cli: Cli) -> None:
    cli.run(*actors.bootstrap_admin_args())
    cli.run("person", "add", "gk", "--name", "Gus", "--email", "g@example.com", "--role", "gatekeeper")
    done = cli.run("person", "disable", "gk", "--reason", "left the company")
    assert "DISABLED" in done.stdout
    assert _audit(cli)[-1][1:] == ("person.disabled", "person:gk", _audit(cli)[-1][3])
    assert "admin" in cli.run("person", "disable", "admin", "--reason", "x", expect=2).stderr  # not yourself
    acting_for_gk = cli.run(
        "delegate", "gk", "admin", "--from", "2026-01-01", "--to", "2026-01-02", "--as", "gk", expect=2
    )
    assert "gk is disabled" in acting_for_gk.stderr  # not even an admin acts for a disabled person
    _map_login(cli, "gk")
    refused = cli.run("person", "whoami", expect=2)
    assert "disabled" in refused.stderr and _audit(cli)[-1][3]["code"] == "auth.disabled"

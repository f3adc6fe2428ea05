"""The phasegate command line as a user runs it: real processes on a real SQLite file.

Checks the JSON shapes documented in docs/cli.md, that user mistakes exit 2 with one line and write
nothing, that a tampered audit log exits 1, and that commands running no flow never import Prefect.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from phasegate.gates.vocabulary.commands import AddPerson, CreateProject
from phasegate.gates.vocabulary.identity import OrgRole
from tests import actors

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))


class Cli:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.url = f"sqlite:///{db}"

    @classmethod
    def of(cls, sqlite_url: str) -> Cli:
        """The commands on the SQLite file ``sqlite_url`` names (conftest's ``sqlite_url``: a database at head)."""
        return cls(Path(sqlite_url.removeprefix("sqlite:///")))

    def run(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([PHASEGATE, *args, "--db", self.url], capture_output=True, text=True, timeout=180)
        assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def copy(self, db: Path) -> Cli:
        """The same database in another file: fixtures build a seeded database once and hand each test a copy.

        Why copy rather than rebuild: seeding takes a handful of real ``phasegate`` processes (about 2 s each
        here), paid per test otherwise. Every process has exited, so SQLite has checkpointed its WAL into
        the one file that is copied.
        """
        shutil.copy(self.db, db)  # with its mode: phasegate keeps its SQLite files 0600
        return Cli(db)

    def audit_count(self) -> int:
        with sqlite3.connect(self.db) as con:
            return int(con.execute("select count(*) from audit_log").fetchone()[0])


PILOT_PEOPLE = (
    AddPerson(id="alice", name="Alice", email="alice@example.com", roles=frozenset({OrgRole.GATEKEEPER})),
    AddPerson(id="bob", name="王芳", email="bob@example.com", roles=frozenset({OrgRole.MANAGER})),
)
"""The sponsor and the (Chinese-named) manager of ``PILOT``."""
PILOT = CreateProject(
    key="P1",
    template_id="it-pmo",
    template_version=1,
    name="Pilot",
    sponsor_id="alice",
    manager_id="bob",
    budget=Decimal(1000),
)
"""Project P1 on it-pmo@1 with a budget of 1,000, for CLI tests whose subject comes after it exists."""


def ready(
    url: str,
    people: Sequence[AddPerson] = (),
    projects: Sequence[CreateProject] = (),
    assignments: Sequence[tuple[str, str, str]] = (),
) -> None:
    """What ``db upgrade`` makes of ``url`` (quickest on conftest's ``sqlite_url``, already at head), the first PMO
    admin ``admin`` mapped to this OS login (as ``actors.bootstrap_admin_args``), then ``people``, ``projects`` and
    project roles as ``(project, role, person)``.

    Setup for tests about other commands, written in this process through the functions ``db upgrade``,
    ``person add``, ``project create`` and ``project assign`` call (each ``phasegate`` process costs about a second
    of CPU to start).
    """
    from phasegate.flows.cli.common import os_login
    from phasegate.flows.cli.database import db_upgrade
    from phasegate.flows.runtime import runtime
    from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
    from phasegate.usecases import people as people_cases
    from phasegate.usecases import services

    admin = AddPerson(
        id="admin", name="Ada Admin", email="admin@example.com", login=os_login(), roles=frozenset({OrgRole.PMO_ADMIN})
    )
    with pytest.MonkeyPatch.context() as patch:  # db_upgrade points PHASEGATE_DATABASE_URL at the database
        patch.delenv("PHASEGATE_DATABASE_URL", raising=False)
        db_upgrade(url)
        rt = runtime()  # its unit of work appends to the audit chain with the key the commands use
        try:
            for person in (admin, *people):
                people_cases.add_person(person, actor=SYSTEM_ACTOR, uow=rt.uow, now=rt.now())
            for project in projects:
                services.create_project(project, actor=SYSTEM_ACTOR, uow=rt.uow, now=rt.now())
            for key, role, person_id in assignments:
                services.assign_role(key, role, person_id, actor=SYSTEM_ACTOR, uow=rt.uow, now=rt.now())
        finally:
            rt.engine.dispose()  # the last connection closes: the SQLite file holds everything


@pytest.fixture(scope="session")
def _seeded(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    runner = Cli(tmp_path_factory.mktemp("cli-seed") / "cli.db")
    runner.run("db", "upgrade")
    # The tests run as the OS user they run as (root in CI): the first person is the PMO admin mapped to it.
    runner.run(*actors.bootstrap_admin_args())
    runner.run("person", "add", "alice", "--name", "Alice Chen", "--email", "alice@example.com", "--role", "gatekeeper")
    runner.run(
        "person", "add", "bob", "--name", "王芳", "--email", "bob@example.com", "--locale", "zh-CN", "--role", "manager"
    )
    runner.run("person", "add", "carol", "--name", "Carol", "--email", "carol@example.com", "--role", "gatekeeper")
    runner.run(
        "project",
        "create",
        "P1",
        "--template",
        "it-pmo@1",
        "--name",
        "Pilot",
        "--sponsor",
        "alice",
        "--manager",
        "bob",
        "--budget",
        "1000",
    )
    return runner


@pytest.fixture
def cli(tmp_path: Path, _seeded: Cli) -> Cli:
    """A database with the admin, alice (gatekeeper), bob (manager, zh-CN), carol and project P1, for this test."""
    return _seeded.copy(tmp_path / "cli.db")


def _documents(cli: Cli, tmp_path: Path, deliverables: list[str]) -> None:
    """Write each deliverable with the sections its standard requires and have the right role approve it."""
    from phasegate.models.template_yaml import shipped_templates

    template = next(t for _, t in shipped_templates() if t.id == "it-pmo")
    cli.run("project", "assign", "P1", "pmo", "carol")
    for deliverable in deliverables:
        standard = template.deliverable(deliverable)
        path = tmp_path / f"{deliverable}.md"
        path.write_text(
            f"# {standard.name}\n\n" + "".join(f"## {s}\n\ntext\n\n" for s in standard.required_sections),
            encoding="utf-8",
        )
        signer = {"sponsor": "alice", "pmo": "carol"}[standard.approver_role]
        # The manager files it; its approver signs it in their own name (the admin acts for both here).
        cli.run("doc", "add", "P1", deliverable, str(path), "--as", "bob")
        signed = cli.run("doc", "approve", "P1", deliverable, "--as", signer).stdout
        assert f"v2 approved by {signer}" in signed, signed


def test_templates_are_published_on_upgrade_and_listed(cli: Cli) -> None:
    listed = cli.json("template", "list")
    assert {(t["id"], t["version"]) for t in listed} == {("it-pmo", 1), ("cooper-5", 1), ("it-pmo", 2), ("cooper-5", 2)}
    again = cli.run("db", "upgrade")
    assert "it-pmo@1: up to date" in again.stdout


def test_gate_check_and_project_show_json_shapes(cli: Cli, tmp_path: Path) -> None:
    check = cli.json("gate", "check", "P1")
    assert check["project"] == "P1" and check["gate"] == "ready-for-planning"
    assert check["recommendation"] == "not_ready"
    assert {c["code"] for c in check["criteria"]} == {
        "doc.required_present",
        "doc.approved_by_role",
        "doc.unchanged_since_approval",
        "doc.required_sections",
        "doc.format_allowed",
        "budget.actuals_within_budget",
    }
    assert len(check["evidence_hash"]) == 64 and check["evm"] is None
    assert all(set(c) >= {"code", "passed", "message"} for c in check["criteria"])
    deliverables = [d["id"] for d in check["required_deliverables"]]
    assert all(not d["present"] and not d["approved"] for d in check["required_deliverables"])

    _documents(cli, tmp_path, deliverables)
    cli.run("actuals", "add", "P1", "250.50")
    check = cli.json("gate", "check", "P1")
    assert check["recommendation"] == "go"
    assert all(d["present"] and d["approved"] for d in check["required_deliverables"])

    shown = cli.json("project", "show", "P1")
    assert {k: shown[k] for k in ("key", "name", "status", "stage", "gate")} == {
        "key": "P1",
        "name": "Pilot",
        "status": "active",
        "stage": "initiating",
        "gate": "ready-for-planning",
    }
    assert shown["template"]["id"] == "it-pmo" and shown["template"]["version"] == 1
    assert shown["pending_rounds"] == [] and shown["history"] == []


def _create_p2(*, template: str = "it-pmo", sponsor: str = "alice", budget: str = "5") -> tuple[str, ...]:
    """`project create P2` with one argument made wrong."""
    return (
        *("project", "create", "P2", "--template", template, "--name", "x"),
        *("--sponsor", sponsor, "--manager", "bob", "--budget", budget),
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            _create_p2(budget="-5"),
            "--budget: Input should be greater than or equal to 0",
        ),
        (
            _create_p2(budget="lots"),
            "--budget: Input should be a valid decimal",
        ),
        (
            _create_p2(template="nope@1"),
            "unknown template 'nope@1'",
        ),
        (
            _create_p2(sponsor="zed"),
            "--sponsor: unknown person 'zed'",
        ),
        (("project", "show", "NOPE"), "unknown project 'NOPE'"),
        (("person", "add", "carol", "--name", "C", "--email", "c@example.com", "--notify", "notaurl"), "notify url"),
        (("person", "add", "carol", "--name", "C", "--email", "not-an-email"), "--email"),
        (("person", "add", "carol", "--name", "C", "--email", "c@example.com", "--locale", "fr"), "--locale"),
        (("doc", "add", "P1", "project-charter", "/nonexistent/charter.md"), "FILE: cannot read"),
        (("doc", "add", "P1", "no-such-deliverable", __file__), "allowed: "),
        (("actuals", "add", "P1", "lots"), "AMOUNT: Input should be a valid decimal"),
        (("actuals", "add", "P1", "--as-of", "2026-13-01", "--ev", "5"), "--as-of"),
        (("actuals", "add", "P1", "--ev", "5"), "--as-of: required"),
        (("vote", "not-a-uuid", "--as", "alice", "--decision", "go"), "ROUND: 'not-a-uuid' is not a round id"),
        (
            ("vote", "00000000-0000-0000-0000-000000000000", "--as", "alice", "--decision", "go"),
            "unknown approval round",
        ),
        (
            ("vote", "00000000-0000-0000-0000-000000000000", "--as", "alice", "--decision", "maybe"),
            "use one of go, conditional_go, recycle, hold, kill, abstain, recuse",
        ),
        (
            ("vote", "00000000-0000-0000-0000-000000000000", "--as", "alice", "--decision", "kill"),
            "a reason is required for kill",
        ),
        (("template", "show", "it-pmo@x"), "must be a whole number"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli: Cli, args: tuple[str, ...], message: str) -> None:
    before = cli.audit_count()
    done = cli.run(*args, expect=2)
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert cli.audit_count() == before


def test_template_validate_reports_file_line_column(tmp_path: Path, cli: Cli) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nversion: 1\nname: X\nstages:\n  - id: a\n    name: A\n    colour: red\ngates: []\n", encoding="utf-8"
    )
    done = subprocess.run([PHASEGATE, "template", "validate", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any(line.startswith(f"{bad}:7:5:") and "colour" in line for line in lines), lines
    assert all(line.startswith(f"{bad}:") for line in lines)


def test_publishing_changed_content_under_a_taken_version_exits_2(tmp_path: Path, cli: Cli) -> None:
    from phasegate.models.template_yaml import shipped_templates

    source = next(s for s, t in shipped_templates() if t.id == "it-pmo")
    edited = tmp_path / "it-pmo.yaml"
    edited.write_text(
        source.replace("name: IT/PMO project lifecycle", "name: Edited IT/PMO lifecycle", 1), encoding="utf-8"
    )
    done = cli.run("template", "publish", str(edited), expect=2)
    assert "immutable" in done.stderr
    same = tmp_path / "same.yaml"
    same.write_text(source, encoding="utf-8")
    assert "already published" in cli.run("template", "publish", str(same)).stdout


def test_audit_verify_detects_an_edited_entry(cli: Cli) -> None:
    intact = cli.json("audit", "verify")
    assert intact["intact"] is True and intact["entries"] == cli.audit_count()
    with sqlite3.connect(cli.db) as con:
        con.execute("update audit_log set actor = 'mallory' where seq = 3")
    done = cli.run("audit", "verify", expect=1)
    assert "entry 3" in done.stderr


def _loaded_modules(url: str, *args: str) -> set[str]:
    """The modules a ``phasegate`` command (run in a fresh interpreter) had imported when it ended, plus
    ``orm-mappers-configured`` when it had made SQLAlchemy configure the mapped classes (an ORM query), plus
    ``built:<module>.<class>`` for each of phasegate's Pydantic models whose validator it had built, plus
    ``gc-off`` when the cyclic garbage collector was still off at the end (flows/entry.py)."""
    probe = (
        "import sys\nfrom phasegate.flows.entry import main\nsys.argv = ['phasegate'] + sys.argv[1:]\n"
        "try:\n    main()\nfinally:\n    tables = sys.modules.get('phasegate.models.tables')\n"
        "    configured = tables is not None and tables.Project.__mapper__.configured\n"
        "    from pydantic import BaseModel\n"
        "    models, built = list(BaseModel.__subclasses__()), []\n"
        "    while models:\n        m = models.pop()\n        models.extend(m.__subclasses__())\n"
        "        if m.__module__.startswith('phasegate.') and m.__pydantic_complete__:\n"
        "            built.append(f'built:{m.__module__}.{m.__name__}')\n"
        "    import gc\n    off = [] if gc.isenabled() else ['gc-off']\n"
        "    print('MODULES', *sorted(sys.modules), *(['orm-mappers-configured'] if configured else []), *built, "
        "*off, file=sys.stderr)\n"
    )
    local = [] if args[0] in ("--help", "server") else ["--db", url]
    done = subprocess.run([sys.executable, "-c", probe, *args, *local], capture_output=True, text=True, timeout=60)
    line = next((line for line in done.stderr.splitlines() if line.startswith("MODULES ")), None)
    assert line is not None, (args, done.stderr)
    return set(line.split()[1:])


NOWHERE = "00000000-0000-4000-8000-000000000000"  # the vote's code path up to "no such round"


def test_commands_that_run_no_flow_do_not_import_prefect(cli: Cli) -> None:
    for args in (
        ["project", "list"],
        ["gate", "check", "P1"],
        ["audit", "verify"],
        ["--help"],
        ["server", "status"],
        ["vote", NOWHERE, "--as", "alice", "--decision", "go"],
    ):
        loaded = _loaded_modules(cli.url, *args)
        assert "prefect" not in loaded, args


def test_a_gatekeeper_command_imports_its_own_group_and_not_the_portfolio_machinery(cli: Cli) -> None:
    """What ``gate check`` and ``vote`` import is their start-up time (bench/cli_latency.py): not the other
    command groups, nor the portfolio-wide report, analytics, maturity, prioritisation and monitoring code."""
    from phasegate.flows.cli import GROUPS

    portfolio_wide = {
        "phasegate.gates.portfolio",
        "phasegate.gates.analytics",
        "phasegate.gates.maturity",
        "phasegate.gates.prioritisation",
        "phasegate.models.repositories.reports",
        "phasegate.models.repositories.monitoring",
        "phasegate.models.repositories.strategy",
        "phasegate.usecases.services",
    }
    groups = {f"phasegate.flows.cli.{spec.partition(':')[0]}" for spec in GROUPS.values()}
    check_args, vote_args = ["gate", "check", "P1"], ["vote", NOWHERE, "--as", "alice", "--decision", "go"]
    check = _loaded_modules(cli.url, *check_args)  # one run each serves this loop and the checks below it
    vote = _loaded_modules(cli.url, *vote_args)
    for args, own, loaded in ((check_args, "gates", check), (vote_args, "approvals", vote)):
        assert f"phasegate.flows.cli.{own}" in loaded, args
        assert loaded & (groups - {f"phasegate.flows.cli.{own}"}) == set(), args
        assert loaded & portfolio_wide == set(), args
    # A check only reads, with Core statements on its unit's connection: configuring the ORM's mapped classes
    # would cost it ~0.1 s, mapping them (importing models.tables) some 40-80 ms, and importing the ORM at all
    # (a session) 0.1-0.15 s. It assesses (usecases.assessment) and records nothing, so it has no use for the
    # review's rounds and notices, the repositories it does not read, nor the code that runs flows.
    assert "orm-mappers-configured" not in check
    unused = {
        "sqlalchemy.orm",
        "phasegate.models.tables",
        "phasegate.usecases.reviews",
        "phasegate.flows.trigger",
        "phasegate.models.repositories.reviews",
        "phasegate.models.repositories.people",
        "phasegate.models.repositories.lessons",
    }
    assert check & unused == set()
    # A vote writes through Core statements too, and re-authenticates a signer (argon2, models.credentials) only
    # for a gate that asks for a Part 11 signature.
    assert vote & {"sqlalchemy.orm", "phasegate.models.tables", "phasegate.models.credentials"} == set()
    # Pydantic builds a model's validator on first use (defer_build): a check pays for the template and the
    # evidence it validates, not for the notices, commands and records of the other use cases it imports.
    built = {name for name in check if name.startswith("built:")}
    assert "built:phasegate.gates.vocabulary.template.LifecycleTemplate" in built
    assert not {name for name in built if ".notices." in name or ".commands." in name or ".lessons." in name}
    assert "built:phasegate.gates.vocabulary.identity.Actor" not in built  # a check acts as nobody
    # Start-up is imports, whose objects live as long as the process: the cyclic collector, which would walk
    # them every 700 allocations, stays off for a command this short (flows/entry.py).
    assert "gc-off" in check and "gc-off" in vote


def test_what_runs_long_turns_the_garbage_collector_back_on() -> None:
    """The executable starts with the collector off (flows/entry.py); the web server and flows run in the
    process must not run for hours without it. Each door is run up to where it hands over to uvicorn or Prefect."""
    probe = (
        "import gc, sys\nimport phasegate.flows.entry\nstates = [gc.isenabled()]\n"
        "import uvicorn\nuvicorn.run = lambda *args, **kwargs: states.append(gc.isenabled())\n"
        "from phasegate.web.app import run_server\nrun_server(host='127.0.0.1', port=1)\n"
        "gc.disable()\nfrom phasegate.flows.server import prefect_run_context\n"
        "with prefect_run_context():\n    states.append(gc.isenabled())\nprint(states)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[False, True, True]", done.stdout + done.stderr


def test_domain_models_build_their_validators_on_first_use() -> None:
    """Every Pydantic model outside the web app defers building its validator (start-up time, above)."""
    import importlib
    import pkgutil

    from pydantic import BaseModel
    from pydantic_settings import BaseSettings

    for package in ("gates", "models", "usecases", "notifications"):
        root = importlib.import_module(f"phasegate.{package}")
        for module in pkgutil.walk_packages(root.__path__, f"{root.__name__}."):
            importlib.import_module(module.name)
    models, eager = list(BaseModel.__subclasses__()), []
    while models:
        model = models.pop()
        models.extend(model.__subclasses__())
        inside = model.__module__.startswith("phasegate.") and not model.__module__.startswith("phasegate.web")
        if inside and not issubclass(model, BaseSettings) and not model.model_config.get("defer_build"):
            eager.append(f"{model.__module__}.{model.__name__}")
    assert eager == []


def test_help_lists_every_command_though_a_call_builds_only_its_own_group() -> None:
    from phasegate.flows.cli import COMMANDS, GROUPS

    full = subprocess.run([PHASEGATE, "--help"], capture_output=True, text=True, timeout=60, env=_plain_terminal())
    assert full.returncode == 0
    listed = {line.split()[1] for line in full.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 2}
    assert set(GROUPS) | set(COMMANDS) <= listed
    group = subprocess.run([PHASEGATE, "gate", "--help"], capture_output=True, text=True, timeout=60)
    assert group.returncode == 0 and "review" in group.stdout and "check" in group.stdout
    typo = subprocess.run([PHASEGATE, "gatee", "check", "X"], capture_output=True, text=True, timeout=60)
    assert typo.returncode == 2 and "No such command 'gatee'" in typo.stderr and "'gate'" in typo.stderr


def test_server_stop_and_status_in_a_fresh_home_write_nothing(tmp_path: Path) -> None:
    """Stopping or asking about the local server only reads its pid files: no database appears in the home."""
    home = tmp_path / "home"
    home.mkdir()
    env = os.environ | {"PHASEGATE_HOME": str(home)}
    env.pop("PHASEGATE_DATABASE_URL", None)
    for args in (("server", "stop"), ("server", "status")):
        done = subprocess.run([PHASEGATE, *args], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0 and "not running" in done.stdout, (args, done.stdout, done.stderr)
    assert list(home.iterdir()) == []


def _plain_terminal() -> dict[str, str]:
    """A wide terminal, so Rich prints each command's name and summary on one line."""
    return os.environ | {"COLUMNS": "200", "TERM": "dumb"}


def test_read_commands_do_not_wait_for_a_writer_holding_the_sqlite_lock(cli: Cli) -> None:
    writer = sqlite3.connect(cli.db, isolation_level=None)
    outputs = {}
    try:
        writer.execute("BEGIN IMMEDIATE")  # a long import in another terminal holds the write lock
        writer.execute("update projects set name = 'renamed' where key = 'P1'")
        reads = (("project", "list"), ("project", "show", "P1"), ("gate", "check", "P1"), ("rounds", "list"))
        for args in (*reads, ("audit", "verify"), ("audit", "head"), ("notify", "list"), ("token", "list")):
            done = subprocess.run(
                [PHASEGATE, *args, "--db", cli.url, "--json"], capture_output=True, text=True, timeout=20
            )
            assert done.returncode == 0, (args, done.stderr)
            outputs[args[:2]] = json.loads(done.stdout)
    finally:
        writer.rollback()
        writer.close()
    assert outputs["project", "show"]["name"] == "Pilot", "readers see the last committed state, not the writer's"


def test_upgrading_a_database_that_knows_people_is_the_pmo_admins_act(tmp_path: Path) -> None:
    """A new install upgrades before anyone exists; once people sign in by login, only an admin upgrades."""
    from phasegate.flows.cli.common import os_login
    from phasegate.models import schema

    runner = Cli(tmp_path / "fresh.db")
    assert not schema.guarded(runner.url)
    runner.run("db", "upgrade")
    assert not schema.guarded(runner.url)
    with sqlite3.connect(runner.db) as con:
        con.execute(
            "insert into people (id, name, email, locale, notify_urls, created_at, login, org_roles, disabled) "
            "values ('gk', 'Gk', 'gk@example.com', 'en', '[]', '2026-01-01 00:00:00', ?, '[\"gatekeeper\"]', 0)",
            (os_login(),),
        )
    assert schema.guarded(runner.url)
    before = runner.audit_count()
    refused = runner.run("db", "upgrade", expect=2).stderr
    assert "may not operate phasegate" in refused and "pmo_admin" in refused, refused
    assert runner.audit_count() == before + 1
    with sqlite3.connect(runner.db) as con:
        con.execute("update people set org_roles = '[\"pmo_admin\"]' where id = 'gk'")
    assert "database ready" in runner.run("db", "upgrade").stdout

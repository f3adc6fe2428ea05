"""``phasegate server start``: a real Prefect server plus a real process serving phasegate's deployments.

Real processes throughout: the ``phasegate`` executable in a temporary PHASEGATE_HOME on free ports, the
Prefect server's REST API read back with urllib, flow runs executed by Prefect's runner. Nothing is timed:
the tests poll with generous deadlines (the machine is shared) and assert what happened.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from phasegate.flows import server
from phasegate.flows.runtime import Runtime
from phasegate.flows.serving import DEPLOYMENTS
from phasegate.gates.vocabulary.commands import AddPerson, CreateProject, RegisterDocument
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.models.settings import Settings
from phasegate.models.template_yaml import shipped_templates
from phasegate.usecases import people, services
from tests.actors import bootstrap_admin_args
from tests.receivers import free_port

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
REPO = Path(__file__).resolve().parent.parent
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
GATE = next(t for _, t in shipped_templates() if t.id == "it-pmo").gates[0]


@dataclass
class Local:
    home: Path
    env: dict[str, str]
    api_url: str

    def run(self, *args: str, expect: int = 0, **extra: str) -> subprocess.CompletedProcess[str]:
        env = self.env | extra
        done = subprocess.run([PHASEGATE, *args], capture_output=True, text=True, env=env, timeout=180)
        assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}{path}", data=data, headers={"Content-Type": "application/json"}
        )
        with DIRECT.open(request, timeout=20) as response:
            return json.load(response)

    def logs_of(self, flow_run_id: str, needle: str, timeout: float = 60) -> list[dict[str, Any]]:
        """The run's logs once one contains ``needle``: Prefect ships logs in batches, after the state."""
        deadline = time.monotonic() + timeout
        while True:
            logs: list[dict[str, Any]] = self.api("/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}})
            if any(needle in entry["message"] for entry in logs) or time.monotonic() > deadline:
                return logs
            time.sleep(0.5)

    def finished_run(self, flow_run_id: str, timeout: float = 180) -> dict[str, Any]:
        """The flow run once it reached a terminal state (the served process runs it)."""
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.api(f"/flow_runs/{flow_run_id}")
            if run["state"]["type"] in TERMINAL or time.monotonic() > deadline:
                return run
            time.sleep(0.2)


def _home_of_its_own(home: Path) -> Local:
    """A PHASEGATE_HOME with its own server port; no team server or database from the test environment."""
    port = free_port()
    env = os.environ | {"PHASEGATE_HOME": str(home), "PHASEGATE_PREFECT_PORT": str(port)}
    env.pop("PREFECT_API_URL", None)
    env.pop("PHASEGATE_DATABASE_URL", None)
    env.pop("PREFECT_LOGGING_LEVEL", None)  # as in a user's shell: the run logs reach the UI at INFO
    return Local(home=home, env=env, api_url=f"http://127.0.0.1:{port}/api")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    ready = _home_of_its_own(tmp_path_factory.mktemp("serving") / "home")
    ready.run("db", "upgrade")
    started = ready.run("server", "start")
    try:
        assert "serving gate-review, gate-decision" in started.stdout, started.stdout + started.stderr
        ready.run(*bootstrap_admin_args())  # the OS login the tests run as, so `--as` acts for the others
        with _use_cases(ready) as rt:
            for person in ("alice", "bob", "carol"):
                people.add_person(
                    AddPerson(
                        id=person,
                        name=person.title(),
                        email=f"{person}@example.com",
                        roles=frozenset({OrgRole.GATEKEEPER}),
                    ),
                    actor=SYSTEM_ACTOR,
                    uow=rt.uow,
                    now=datetime.now(UTC),
                )
        yield ready
    finally:
        ready.run("server", "stop")


@contextmanager
def _use_cases(local: Local) -> Iterator[Runtime]:
    """The wiring the ``phasegate`` commands get in ``local``'s home (its database, document store, audit key)."""
    rt = Runtime.build(Settings(home=local.home))
    try:
        yield rt
    finally:
        rt.engine.dispose()


def _ready(local: Local, key: str) -> None:
    """A project whose first gate is ready: its manager bob filed the documents, alice and carol signed them.

    Setup, written through the use cases the commands call (``project create``, ``project assign``,
    ``doc add --approved-by``) in this process: the tests drive the CLI and the servers for what they are about.
    """
    template = next(t for _, t in shipped_templates() if t.id == "it-pmo")
    docs = local.home.parent / f"docs-{key}"
    docs.mkdir()
    with _use_cases(local) as rt:
        now = datetime.now(UTC)
        services.create_project(
            CreateProject(
                key=key, template_id="it-pmo", name=key, sponsor_id="alice", manager_id="bob", budget=Decimal(1000)
            ),
            actor=SYSTEM_ACTOR,
            uow=rt.uow,
            now=now,
        )
        services.assign_role(key, "pmo", "carol", actor=SYSTEM_ACTOR, uow=rt.uow, now=now)
        for deliverable in GATE.deliverables:
            standard = template.deliverable(deliverable)
            path = docs / f"{deliverable}.md"
            path.write_text("".join(f"## {s}\n\ntext\n\n" for s in standard.required_sections), encoding="utf-8")
            signer = {"sponsor": "alice", "pmo": "carol"}[standard.approver_role]
            with rt.document_store().custody(path) as stored:
                services.register_document(
                    RegisterDocument(
                        project_key=key,
                        deliverable_id=deliverable,
                        path=str(path.resolve()),
                        approved_by=signer,
                        **stored.registered_as(),
                    ),
                    actor=SYSTEM_ACTOR,
                    uow=rt.uow,
                    now=now,
                )


def _round(local: Local, key: str) -> str:
    """A project whose first gate is ready, reviewed: the id of its open round (alice decides alone)."""
    _ready(local, key)
    review = local.json("gate", "review", key)
    assert review["state"] == "Awaiting approval" and review["approvers"] == ["alice"], review
    return str(review["round_id"])


def _schedules_of_prefect_yaml() -> dict[str, list[dict[str, Any]]]:
    document = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d.get("schedules", []) for d in document["deployments"]}


def test_prefect_yaml_declares_what_server_start_serves() -> None:
    """One list of deployments (flows.serving) and the team's prefect.yaml agree, schedules included."""
    document = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    declared = {d["name"]: (d["entrypoint"], d["description"], d.get("schedules", [])) for d in document["deployments"]}
    served = {
        spec.name: (
            spec.entrypoint,
            spec.description,
            [
                {"interval": s.interval_seconds, "slug": s.slug, "active": True}
                if s.interval_seconds is not None
                else {"cron": s.cron, "timezone": s.timezone, "slug": s.slug, "active": True}
                for s in spec.schedules
            ],
        )
        for spec in DEPLOYMENTS
    }
    assert served == declared


def test_server_start_serves_the_deployments_with_their_schedules(local: Local) -> None:
    status = local.json("server", "status")
    assert status["running"] and status["serving"] and not status["serving_other_database"], status
    other = local.run("server", "status", "--json", PHASEGATE_DATABASE_URL=f"sqlite:///{local.home / 'other.db'}")
    assert json.loads(other.stdout)["serving_other_database"], "a command on another database runs flows itself"
    assert Path(status["serving_log"]) == (local.home / "prefect" / "serving.log").resolve()
    assert Path(status["serving_log"]).is_file()
    declared = _schedules_of_prefect_yaml()
    assert len(declared) == len(DEPLOYMENTS) == 7
    for name, schedules in declared.items():
        deployment = local.api(f"/deployments/name/{name}/{name}")
        assert deployment["name"] == name and "phasegate" in deployment["tags"]
        spec = next(spec for spec in DEPLOYMENTS if spec.name == name)
        assert deployment["entrypoint"] == f"{spec.module}.{spec.flow}", "a module path, the same on every machine"
        read_back = sorted(
            (
                s["slug"],
                s["active"],
                s["schedule"].get("interval"),
                s["schedule"].get("cron"),
                s["schedule"].get("timezone") if "cron" in s["schedule"] else None,
            )
            for s in deployment["schedules"]
        )
        expected = sorted(
            (s["slug"], s["active"], s.get("interval"), s.get("cron"), s.get("timezone")) for s in schedules
        )
        assert read_back == expected, name
    # The server's scheduler has queued the next notify-dispatch runs for the served process to run.
    dispatch = local.api("/deployments/name/notify-dispatch/notify-dispatch")
    upcoming = local.api(
        "/flow_runs/filter",
        {"deployments": {"id": {"any_": [dispatch["id"]]}}, "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}},
    )
    assert upcoming, "the interval schedule produced scheduled runs"


def test_a_deciding_vote_creates_a_decision_run_that_the_served_process_completes(local: Local) -> None:
    round_id = _round(local, "S1")

    vote = local.run("vote", round_id, "--as", "alice", "--decision", "go")
    # When it falls back to running gate-decision itself, the vote says why (not serving, or no answer in time).
    assert "gate-decision runs as flow run" in vote.stdout, f"no served flow run:\n{vote.stdout}{vote.stderr}"
    decision_runs = local.api("/flow_runs/filter", {"flows": {"name": {"any_": ["gate-decision"]}}})
    [created] = [run for run in decision_runs if run["parameters"] == {"round_id": round_id}]
    assert created["name"] == f"S1 / {GATE.id} / go", "named by project, gate and decision from its creation"
    assert created["deployment_id"] == local.api("/deployments/name/gate-decision/gate-decision")["id"]

    run = local.finished_run(created["id"])
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert run["name"] == f"S1 / {GATE.id} / go"
    shown = local.json("project", "show", "S1")
    assert shown["stage"] == "planning" and [h["decision"] for h in shown["history"]] == ["go"]
    artifacts = local.api("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [created["id"]]}}})
    assert {a["key"] for a in artifacts} == {"gate-decision-s1", "gate-round-s1"}
    logs = local.logs_of(created["id"], "applied go at")
    assert any("applied go at" in entry["message"] and "S1 is" in entry["message"] for entry in logs), logs

    # The review ran in the command's process, and is in the UI the same way: named, with artifacts and logs.
    [review] = local.api("/flow_runs/filter", {"flow_runs": {"name": {"any_": [f"S1 / {GATE.id} / review"]}}})
    assert review["state"]["name"] == "Awaiting approval"
    artifacts = local.api("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [review["id"]]}}})
    assert {"gate-review-s1", "gate-review-s1-criteria", "gate-round-s1"} <= {a["key"] for a in artifacts}
    logs = local.logs_of(review["id"], "recommendation go")
    assert any("recommendation go" in entry["message"] for entry in logs), logs


def test_a_review_through_the_api_is_a_served_flow_run_too(local: Local) -> None:
    """`phasegate serve` beside `server start`: POST /reviews hands the review to the served gate-review
    deployment, which records it as the token's person (sealed), and answers with what it recorded."""
    _ready(local, "S5")
    token = local.json("token", "create", "bob", "--role", "pmo")["token"]
    port = free_port()
    web = subprocess.Popen(
        [PHASEGATE, "serve", "--port", str(port)], env=local.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with DIRECT.open(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline and web.poll() is None, "phasegate serve did not start"
                time.sleep(0.3)
        request = urllib.request.Request(
            f"{base}/api/v1/projects/S5/reviews",
            data=b"{}",
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with DIRECT.open(request, timeout=120) as response:
            assert response.status == 201
            answer = json.load(response)
    finally:
        web.terminate()
        web.wait(timeout=30)
    assert answer["flow_run_name"] == f"S5 / {GATE.id} / review", answer
    assert answer["recommendation"] == "go" and answer["approvers"] == ["alice"] and answer["round_id"]
    run = local.api(f"/flow_runs/{answer['flow_run_id']}")
    assert run["state"]["type"] == "COMPLETED" and run["state"]["name"] == "Awaiting approval"
    assert run["deployment_id"] == local.api("/deployments/name/gate-review/gate-review")["id"]
    assert run["parameters"]["requested_by"] != "bob"  # a seal, not a name anyone could type
    shown = local.json("rounds", "list", "--pending")
    assert any(r["id"] == answer["round_id"] and r["project"] == "S5" for r in shown), shown


def test_the_vote_path_imports_no_prefect_module(local: Local) -> None:
    round_id = _round(local, "S2")
    probe = (
        "import sys\nfrom phasegate.flows.cli import main\nsys.argv = ['phasegate'] + sys.argv[1:]\n"
        "try:\n    main()\nfinally:\n"
        "    print('LOADED:', sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "vote", round_id, "--as", "alice", "--decision", "go", "--json"],
        capture_output=True,
        text=True,
        env=local.env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED: []" in done.stderr, done.stderr
    applied = json.loads(done.stdout)["applied"]
    assert applied["flow_run_name"] == f"S2 / {GATE.id} / go"
    assert local.finished_run(applied["scheduled_flow_run"])["state"]["type"] == "COMPLETED"


def test_an_unreachable_team_server_defers_the_decision_to_reconciliation(local: Local) -> None:
    round_id = _round(local, "S3")
    before = local.json("project", "show", "S3")["stage"]
    nobody = f"http://127.0.0.1:{free_port()}/api"

    vote = local.run("vote", round_id, "--as", "alice", "--decision", "go", PREFECT_API_URL=nobody)
    assert "round resolved: go" in vote.stdout and "phasegate rounds reconcile" in vote.stdout, vote.stdout
    shown = local.json("project", "show", "S3")
    assert shown["stage"] == before, "the vote and the round's outcome are recorded; applying it waits"
    assert [h["decision"] for h in shown["history"]] == ["go"]

    reconcile = local.run("rounds", "reconcile")
    assert f"round {round_id}: gate-decision scheduled" in reconcile.stdout, reconcile.stdout
    [run] = [
        run
        for run in local.api("/flow_runs/filter", {"flows": {"name": {"any_": ["gate-decision"]}}})
        if run["parameters"] == {"round_id": round_id}
    ]
    assert local.finished_run(run["id"])["state"]["type"] == "COMPLETED"
    assert local.json("project", "show", "S3")["stage"] == "planning"


def test_the_schedules_run_in_the_served_process(local: Local) -> None:
    """notify-dispatch is due every minute: its scheduled runs complete without anyone asking (as on a worker).

    It comes after the module's other tests on the served process, so the first run is usually due by then.
    """
    dispatch = local.api("/deployments/name/notify-dispatch/notify-dispatch")
    deadline = time.monotonic() + 240
    done: list[dict[str, Any]] = []
    while not done and time.monotonic() < deadline:
        done = local.api(
            "/flow_runs/filter",
            {
                "deployments": {"id": {"any_": [dispatch["id"]]}},
                "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
            },
        )
        time.sleep(1)
    assert done, "no scheduled notify-dispatch run completed"
    assert done[0]["auto_scheduled"] is True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_server_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    own = _home_of_its_own(tmp_path / "home")
    own.run("db", "upgrade")
    own.run("server", "start")
    status = own.json("server", "status")
    assert status["serving"], status
    groups = [os.getpgid(status["pid"]), os.getpgid(status["serving_pid"])]
    assert groups == [status["pid"], status["serving_pid"]], "each runs in a process group of its own"
    assert "serving phasegate's deployments" in own.run("server", "status").stdout

    assert own.run("server", "stop").stdout.strip() == "stopped"
    deadline = time.monotonic() + 30
    while any(_group_alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.2)  # a SIGKILLed process's children are reparented and reaped by init
    assert not any(_group_alive(g) for g in groups), "a process of the server or the serving process survived"
    directory = server.server_home(own.home)
    assert not (directory / server.PID_FILE).exists() and not (directory / server.SERVING_PID_FILE).exists()
    after = own.json("server", "status")
    assert not after["running"] and not after["serving"] and after["serving_pid"] is None
    assert own.run("server", "stop").stdout.strip() == "not running"


def test_a_dead_serving_process_sends_votes_back_in_process_until_the_next_start(local: Local) -> None:
    """Without a process to run it, a flow run would wait: the vote runs the decision itself instead."""
    round_id = _round(local, "S4")
    first = local.json("server", "status")
    os.killpg(first["serving_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while local.json("server", "status")["serving_pid"] is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not local.json("server", "status")["serving"]

    vote = local.run("vote", round_id, "--as", "alice", "--decision", "go")
    assert "round resolved: go; S4 is active in stage planning" in vote.stdout, vote.stdout
    assert "gate-decision ran in this process: no process serves this database's deployments" in vote.stdout
    [run] = [
        run
        for run in local.api("/flow_runs/filter", {"flows": {"name": {"any_": ["gate-decision"]}}})
        if run["parameters"] == {"round_id": round_id}
    ]
    assert run["state"]["type"] == "COMPLETED" and run["name"] == f"S4 / {GATE.id} / go", "a flow run all the same"

    assert "serving gate-review" in local.run("server", "start").stdout, "start brings the serving process back"
    assert local.json("server", "status")["serving_pid"] != first["serving_pid"]


def test_a_team_server_that_does_not_answer_leaves_the_decision_to_reconciliation(local: Local) -> None:
    """The vote is recorded and says why the decision waits (the team server took the connection and never
    answered within the team timeout); the next reconciliation, with a server that answers, applies it."""
    round_id = _round(local, "S6")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts connections; nobody answers
        team_api = f"http://127.0.0.1:{silent.getsockname()[1]}/api"
        vote = local.run("vote", round_id, "--as", "alice", "--decision", "go", "--json", PREFECT_API_URL=team_api)
    applied = json.loads(vote.stdout)["applied"]
    assert applied["round_id"] == round_id and "scheduled_flow_run" not in applied, applied
    assert f"{team_api}/deployments/name/" in applied["deferred"], applied
    assert applied["deferred"].endswith("no answer within 10 s"), applied
    assert local.json("project", "show", "S6")["stage"] != "planning", "not applied yet"

    reconciled = local.run("rounds", "reconcile")
    # The served process runs it; a local server too busy to take the run (HTTP 503 on a loaded host) makes
    # reconcile run the decision itself instead: applied either way, and a gate-decision flow run either way.
    scheduled = f"round {round_id}: gate-decision scheduled" in reconciled.stdout
    assert scheduled or f"round {round_id}: applied go to S6" in reconciled.stdout, reconciled.stdout
    [run] = [
        run
        for run in local.api("/flow_runs/filter", {"flows": {"name": {"any_": ["gate-decision"]}}})
        if run["parameters"] == {"round_id": round_id}
    ]
    assert local.finished_run(run["id"])["state"]["type"] == "COMPLETED"
    assert local.json("project", "show", "S6")["stage"] == "planning"
    assert local.run("rounds", "reconcile").stdout.strip() == "nothing to reconcile"


def test_the_serving_process_gets_the_callers_database_spelled_for_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phasegate.models.settings import Settings

    monkeypatch.chdir(tmp_path)
    relative = Settings(home=Path("home"), database_url="sqlite:///rel.db")
    assert server.served_database(relative) == f"sqlite:///{tmp_path.resolve() / 'rel.db'}"
    assert (
        server.served_database(Settings(home=Path("home"), database_url=None))
        == f"sqlite:///{tmp_path.resolve() / 'home/phasegate.db'}"
    )
    team = "postgresql+psycopg://phasegate:secret@db.example:5432/phasegate"
    assert server.served_database(Settings(database_url=team)) == team, "the password is kept for the process"
    assert "secret" not in server.database_fingerprint(team), "only a hash of it is written to disk"

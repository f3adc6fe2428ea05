"""The team setup, run for real on this machine, and the local Prefect server the CLI manages.

Team setup (docs/team.md): phasegate's tables on one PostgreSQL database, a Prefect server on another (with
pg_trgm), the ``phasegate`` process work pool, ``prefect --no-prompt deploy --all`` from the checkout's
prefect.yaml, one process worker with PHASEGATE_DATABASE_URL and PHASEGATE_CHECKOUT in its environment, and
deployments triggered with ``run_deployment``. Nothing is faked: if a step of the documented recipe breaks,
this test does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
import yaml
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from phasegate.flows import server
from phasegate.gates.vocabulary.errors import PhasegateError
from phasegate.gates.vocabulary.identity import Actor, AuthMethod
from phasegate.models.actor_seal import seal_actor
from phasegate.models.db import make_engine
from phasegate.models.settings import Settings
from phasegate.models.tables import GateReview, OutboxMessage
from tests import actors
from tests.receivers import free_port

pytestmark = pytest.mark.team

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# The same override as conftest.py; psycopg wants the plain scheme.
PG_ADMIN = make_url(
    os.environ.get("PHASEGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
).set(drivername="postgresql")
PG_ADMIN_URL = PG_ADMIN.render_as_string(hide_password=False)


def _pg_url(database: str, driver: str = "postgresql") -> str:
    return PG_ADMIN.set(drivername=driver, database=database).render_as_string(hide_password=False)


def _pg_reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="module")
def pg_available() -> None:
    if _pg_reachable():
        return
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable and CI=true")
    pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is unreachable")


# Loopback requests must not go through an HTTP(S)_PROXY from the environment.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(api_url: str) -> bool:
    try:
        with DIRECT.open(f"{api_url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Background:
    """A long-running command in its own process group, its output in a log file for failure messages."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes] = field(repr=False)

    @classmethod
    def start(cls, name: str, args: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path) -> Background:
        log_path = log_dir / f"{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(name, process, log_path, log)

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return f"--- last lines of {self.name} log ---\n" + "\n".join(text)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def _run(args: list[str], *, env: dict[str, str], cwd: Path = REPO, timeout: float = 120) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _phasegate(*args: str) -> list[str]:
    """The ``phasegate`` console script when the checkout is installed, else the same entry point by module."""
    script = VENV_BIN / "phasegate"
    if script.is_file():
        return [str(script), *args]
    return [sys.executable, "-c", "import sys; from phasegate.flows.cli import main; sys.exit(main())", *args]


@dataclass
class PostgresDatabases:
    phasegate_url: str
    prefect_url: str


@pytest.fixture
def team_databases(pg_available: None) -> Iterator[PostgresDatabases]:
    """Two fresh databases: phasegate's tables never share a database with Prefect's."""
    suffix = uuid.uuid4().hex[:10]
    phasegate_db, prefect_db = f"pg_team_app_{suffix}", f"pg_team_prefect_{suffix}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{phasegate_db}"')
        admin.execute(f'CREATE DATABASE "{prefect_db}"')
    with psycopg.connect(_pg_url(prefect_db), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    try:
        yield PostgresDatabases(
            phasegate_url=_pg_url(phasegate_db),
            prefect_url=_pg_url(prefect_db, "postgresql+asyncpg"),
        )
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{phasegate_db}" WITH (FORCE)')
            admin.execute(f'DROP DATABASE IF EXISTS "{prefect_db}" WITH (FORCE)')


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    ThreadingHTTPServer.request_queue_size = 64
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# run_deployment as a team member's script would call it; both runs are created at once so the worker runs
# them side by side, then polled to a final state. Prints one JSON line: deployment name -> final state.
RUN_DEPLOYMENTS = """
import json, sys, time
from prefect import get_client
from prefect.deployments import run_deployment

started = time.monotonic()
runs = {spec["name"]: run_deployment(spec["name"], parameters=spec["parameters"], timeout=0)
        for spec in json.loads(sys.argv[1])}
results = {}
with get_client(sync_client=True) as client:
    while len(results) < len(runs) and time.monotonic() - started < 150:
        for name, run in runs.items():
            state = client.read_flow_run(run.id).state
            if name not in results and state is not None and state.is_final():
                results[name] = {"state": state.type.value, "name": state.name, "message": state.message,
                                 "seconds": round(time.monotonic() - started, 1)}
        time.sleep(0.5)
    results["pull_steps"] = client.read_deployment_by_name("gate-review/gate-review").pull_steps
for name, run in runs.items():
    results.setdefault(name, {"state": "NOT FINISHED", "flow_run_id": str(run.id)})
print(json.dumps(results))
"""


def test_team_setup_runs_the_deployments_on_a_process_worker(
    tmp_path: Path, team_databases: PostgresDatabases, http_receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    base_env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "PHASEGATE_"))}
    prefect_env = base_env | {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    server_env = prefect_env | {
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": team_databases.prefect_url,
        "PREFECT_SERVER_UI_API_URL": api_url,
    }
    # What every team member and worker machine has: the team server, the team database, the checkout, and
    # the team's secret key in a 0600 file (docs/team.md; `phasegate key generate --out` writes it so).
    from phasegate.models.keys import write_key_file

    team_env = prefect_env | {
        "PREFECT_API_URL": api_url,
        "PHASEGATE_DATABASE_URL": team_databases.phasegate_url,
        "PHASEGATE_HOME": str(tmp_path / "phasegate-home"),
        "PHASEGATE_CHECKOUT": str(REPO),
        "PHASEGATE_SECRET_KEY_FILE": str(write_key_file(tmp_path / "team-secrets" / "secret.key")),
    }
    prefect = str(VENV_BIN / "prefect")
    receiver_address, received = http_receiver
    seeded_key = f"team-setup-{uuid.uuid4()}"
    t0 = time.monotonic()
    phases: list[str] = []  # printed for whoever reads a failure; nothing asserts durations

    def phase(name: str) -> None:
        phases.append(f"{name} at {time.monotonic() - t0:.1f} s")

    engine = make_engine(team_databases.phasegate_url)
    started: list[Background] = []
    try:
        prefect_server = Background.start(
            "prefect-server",
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            cwd=tmp_path,
            log_dir=tmp_path,
        )
        started.append(prefect_server)

        # While the server starts: phasegate's schema and a project, through the CLI as a team member would.
        _run(_phasegate("db", "upgrade"), env=team_env)
        _run(_phasegate(*actors.bootstrap_admin_args()), env=team_env)
        _run(_phasegate("template", "publish", str(REPO / "models" / "lifecycles" / "it-pmo.yaml")), env=team_env)
        for person, name in (("alice", "Alice Chen"), ("bob", "Bob Martin")):
            _run(
                _phasegate(
                    "person",
                    "add",
                    person,
                    "--name",
                    name,
                    "--email",
                    f"{person}@example.com",
                    "--notify",
                    f"json://{receiver_address}/{person}",
                    "--role",
                    "gatekeeper",
                ),
                env=team_env,
            )
        _run(
            _phasegate(
                "project",
                "create",
                "TEAM-1",
                "--template",
                "it-pmo@1",
                "--name",
                "Team setup",
                "--sponsor",
                "alice",
                "--manager",
                "bob",
                "--budget",
                "100000",
            ),
            env=team_env,
        )
        # A due outbox row for the dispatcher: its delivery proves a worker-run flow found the team database.
        with engine.begin() as conn:
            conn.execute(
                insert(OutboxMessage).values(
                    idempotency_key=seeded_key,
                    kind="gate_not_ready",
                    target=f"json://{receiver_address}/seeded",
                    locale="en",
                    context={"project_name": "Seeded", "project_key": "SEED-1", "gate_name": "Gate 1", "criteria": []},
                )
            )
        phase("seeded")

        deadline = time.monotonic() + 120
        while not _healthy(api_url):
            assert prefect_server.process.poll() is None, prefect_server.tail()
            assert time.monotonic() < deadline, prefect_server.tail()
            time.sleep(0.3)
        phase("server up")

        _run([prefect, "work-pool", "create", "phasegate", "--type", "process"], env=team_env)
        worker = Background.start(
            "worker",
            [prefect, "worker", "start", "--pool", "phasegate", "--name", "team-test-worker"],
            env=team_env | {"PREFECT_WORKER_QUERY_SECONDS": "1"},
            cwd=tmp_path,
            log_dir=tmp_path,
        )
        started.append(worker)
        deployer_env = team_env | {"PHASEGATE_CHECKOUT": str(tmp_path / "the-deployers-checkout-is-elsewhere")}
        deployed = _run([prefect, "--no-prompt", "deploy", "--all"], env=deployer_env)
        for name in ("gate-review", "gate-decision", "notify-dispatch"):
            assert f"{name}/{name}" in deployed, deployed
        phase("deployed")

        output = _run(
            [
                sys.executable,
                "-c",
                RUN_DEPLOYMENTS,
                json.dumps(
                    [
                        {"name": "notify-dispatch/notify-dispatch", "parameters": {}},
                        {
                            "name": "gate-review/gate-review",
                            # Whoever reaches the Prefect API may start it: the requester is believed only
                            # when sealed with the team's key, as phasegate's doors seal it.
                            "parameters": {
                                "project_key": "TEAM-1",
                                "requested_by": seal_actor(
                                    Actor(person_id="bob", method=AuthMethod.OS_LOGIN),
                                    project_key="TEAM-1",
                                    secret=Path(team_env["PHASEGATE_SECRET_KEY_FILE"]).read_text().strip(),
                                    now=datetime.now(UTC),
                                ),
                            },
                        },
                    ]
                ),
            ],
            env=team_env,
            timeout=200,
        )
        runs = json.loads(output.strip().splitlines()[-1])
        phase("runs final")
        report = f"{phases}\n{runs}\n{worker.tail()}"
        # The checkout path is the worker's, resolved when a run starts; the deployer's (a bogus one here) is unused.
        assert runs["pull_steps"] == yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["pull"], report
        assert runs["notify-dispatch/notify-dispatch"]["state"] == "COMPLETED", report
        assert runs["gate-review/gate-review"]["state"] == "COMPLETED", report
        assert runs["gate-review/gate-review"]["name"] in {"Awaiting approval", "Not ready"}, report

        with engine.connect() as conn:
            status = conn.execute(select(OutboxMessage.status).where(OutboxMessage.idempotency_key == seeded_key))
            assert status.scalar_one() == "sent", report
            reviews = conn.execute(select(GateReview.requested_by).where(GateReview.project_key == "TEAM-1"))
            assert reviews.scalars().all() == ["bob"], report
        seeded = [message for message in received if message["path"] == "/seeded"]
        assert [message["headers"].get("X-Idempotency-Key") for message in seeded] == [seeded_key], report
        assert seeded[0]["body"]["title"] == "Gate not ready: Seeded (SEED-1), Gate 1"
    finally:
        engine.dispose()
        for process in reversed(started):
            process.stop()


@pytest.fixture
def local_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(home=tmp_path / "home", prefect_port=free_port())
    try:
        yield settings
    finally:
        server.stop(settings)


def test_a_start_waiting_for_a_serving_process_that_died_waits_for_its_replacement(tmp_path: Path) -> None:
    """Two concurrent starts: the first starts a serving process and waits for it outside the lock; if that process
    dies, the second start sees it dead and starts another. The first must then report the replacement, not the
    dead one, so both calls return the process that serves (the pid file says which)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    replacement = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        record = {"pid": replacement.pid, "database": "fingerprint"}
        (tmp_path / server.SERVING_PID_FILE).write_text(json.dumps(record), encoding="utf-8")
        nothing = f"http://127.0.0.1:{free_port()}/api"  # no deployment answers: the wait ends at its deadline
        followed = server._wait_for_serving(tmp_path, dead.pid, nothing, time.monotonic() + 1.0)
        assert followed == (replacement.pid, False)
        replacement.kill()
        replacement.wait()
        assert server._wait_for_serving(tmp_path, dead.pid, nothing, time.monotonic() + 1.0) == (dead.pid, False)
    finally:
        replacement.kill()
        replacement.wait()


def test_local_server_starts_answers_and_stops(local_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert server.local_api_url(local_settings) is None
    assert not server.status(local_settings).running

    # Two concurrent starts (two terminals): one server, and both calls return it once it is healthy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        started, also_started = pool.map(lambda _: server.start(local_settings), range(2))
    # Once (CI, 2026-12-08) the two calls returned different serving pids; the log says what each process did.
    serving_log = server.server_dir(local_settings) / server.SERVING_LOG_FILE
    assert also_started == started, (started, also_started, serving_log.read_text(errors="replace")[-4000:])
    expected_url = f"http://127.0.0.1:{local_settings.prefect_port}/api"
    assert started.running
    assert started.url == expected_url
    assert started.pid is not None
    assert started.log_path == server.server_dir(local_settings).resolve() / "server.log"
    assert (server.server_dir(local_settings) / "prefect.db").is_file(), "the local server uses its own SQLite"
    assert server.local_api_url(local_settings) == expected_url
    assert server.start(local_settings).pid == started.pid, "a second start returns the running server"

    # The CLI calls configure_prefect_env before importing prefect; it must not import prefect itself.
    settings_expr = f"Settings(home={str(local_settings.home)!r}, prefect_port={local_settings.prefect_port})"
    probe = (
        "import os, sys; from phasegate.flows import server; from phasegate.models.settings import Settings;"
        f"mode = server.configure_prefect_env({settings_expr});"
        "print(mode, os.environ.get('PREFECT_API_URL'), os.environ['PREFECT_HOME'], 'prefect' in sys.modules)"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [
        "local-server",
        expected_url,
        str(server.server_dir(local_settings).resolve()),
        "False",
    ], out.stderr
    external = subprocess.run(
        [sys.executable, "-c", probe],
        env=env | {"PREFECT_API_URL": "http://team:4200/api"},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert external.stdout.split()[:2] == ["external", "http://team:4200/api"], external.stderr

    # flows/cli.py imports a flow module (and so prefect) before it configures: the run must still land here.
    run_in_cli_style = (
        "from prefect import flow; from prefect.settings import get_current_settings;"
        "from phasegate.flows import server; from phasegate.models.settings import Settings;"
        "probe = flow(name='cli-probe')(lambda: 7);"
        f"mode = server.configure_prefect_env({settings_expr});"
        "context = server.prefect_run_context(); context.__enter__();"
        "print(mode, get_current_settings().flows.heartbeat_frequency, probe(return_state=True).result())"
    )
    ran = subprocess.run(
        [sys.executable, "-c", run_in_cli_style], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    assert ran.stdout.split()[-3:] == ["local-server", "None", "7"], ran.stderr
    request = urllib.request.Request(
        f"{expected_url}/flow_runs/filter",
        data=json.dumps({"flows": {"name": {"any_": ["cli-probe"]}}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with DIRECT.open(request, timeout=10) as response:
        assert [run["state"]["type"] for run in json.load(response)] == ["COMPLETED"]

    assert server.stop(local_settings)
    assert not server.status(local_settings).running
    assert server.local_api_url(local_settings) is None
    assert not (server.server_dir(local_settings) / server.PID_FILE).exists()
    with pytest.raises(ProcessLookupError):
        os.kill(started.pid, 0)
    assert not server.stop(local_settings), "stopping a stopped server reports that nothing was running"

    for name in ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    assert server.configure_prefect_env(local_settings) == "ephemeral"
    assert "PREFECT_API_URL" not in os.environ
    assert os.environ["PREFECT_HOME"] == str(server.server_dir(local_settings).resolve())


def test_local_server_start_failure_names_the_cause(local_settings: Settings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", local_settings.prefect_port))
        squatter.listen()
        with pytest.raises(PhasegateError, match="already in use") as failure:
            server.start(local_settings, wait_seconds=60)
    assert failure.value.code == "server.start_failed"
    assert not (server.server_dir(local_settings) / server.PID_FILE).exists()
    assert not (server.server_dir(local_settings) / server.SERVING_PID_FILE).exists(), "no serving without a server"
    assert server.local_api_url(local_settings) is None

"""Warm start (flows/warm_start.py): commands forked from a resident host behave exactly like cold ones.

Real processes throughout: ``phasegate server start`` starts a real Prefect server and the warm host, and
each command is the real ``phasegate`` executable. The host's log says which calls it forked, so every
test can tell a warm run from a cold one (``PHASEGATE_WARM_START=0``) and compare the two.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flows import warm_start
from models.template_yaml import shipped_templates
from tests import actors
from tests.receivers import HttpReceiver, free_port

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Warm:
    home: Path
    env: dict[str, str]
    api_url: str

    @property
    def log(self) -> str:
        return (warm_start.server_home(self.home) / warm_start.LOG_FILE).read_text(encoding="utf-8")

    def run(
        self, *args: str, expect: int = 0, cold: bool = False, cwd: Path | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        env = self.env | extra | ({"PHASEGATE_WARM_START": "0"} if cold else {})
        done = subprocess.run([PHASEGATE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=180)
        assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done


def _home_of_its_own(home: Path) -> Warm:
    """A PHASEGATE_HOME with its own server port; no team server or database from the test environment."""
    port = free_port()
    env = os.environ | {"PHASEGATE_HOME": str(home), "PHASEGATE_PREFECT_PORT": str(port)}
    env.pop("PREFECT_API_URL", None)
    env.pop("PHASEGATE_DATABASE_URL", None)
    return Warm(home=home, env=env, api_url=f"http://127.0.0.1:{port}/api")


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warm]:
    ready = _home_of_its_own(tmp_path_factory.mktemp("warm") / "home")
    started = ready.run("server", "start")
    try:
        assert "warm start ready" in started.stdout, started.stdout + started.stderr
        ready.run("db", "upgrade")
        ready.run(*actors.bootstrap_admin_args())
        for person in ("alice", "bob", "carol"):
            ready.run(
                *("person", "add", person, "--name", person.title(), "--email", f"{person}@example.com"),
                *("--role", "gatekeeper"),
            )
        yield ready
    finally:
        ready.run("server", "stop")


def _project(warm: Warm, key: str, sponsor: str = "alice") -> None:
    """A project whose first gate is ready: its deliverables registered from the caller's directory by relative path."""
    template = next(t for _, t in shipped_templates() if t.id == "it-pmo")
    warm.run(
        *("project", "create", key, "--template", "it-pmo", "--name", key),
        *("--sponsor", sponsor, "--manager", "bob", "--budget", "1000"),
    )
    warm.run("project", "assign", key, "pmo", "carol")
    docs = warm.home.parent / f"docs-{key}"
    docs.mkdir()
    for deliverable in template.gates[0].deliverables:
        standard = template.deliverable(deliverable)
        (docs / f"{deliverable}.md").write_text("".join(f"## {s}\n\ntext\n\n" for s in standard.required_sections))
        signer = {"sponsor": sponsor, "pmo": "carol"}[standard.approver_role]
        warm.run("doc", "add", key, deliverable, f"{deliverable}.md", "--approved-by", signer, cwd=docs)


def _flow_runs(warm: Warm, flow: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{warm.api_url}/flow_runs/filter",
        data=json.dumps({"flows": {"name": {"any_": [flow]}}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with DIRECT.open(request, timeout=10) as response:
        runs: list[dict[str, Any]] = json.load(response)
    return runs


def _forked(warm: Warm, words: str) -> int:
    return sum(1 for line in warm.log.splitlines() if " forked " in line and line.endswith(f": {words}"))


def test_review_and_vote_run_as_flows_in_children_of_the_host(warm: Warm) -> None:
    _project(warm, "W1")
    assert _forked(warm, "doc add") >= 3, "relative document paths were resolved in the caller's directory"
    reviews_before = len(_flow_runs(warm, "gate-review"))

    review = json.loads(warm.run("gate", "review", "W1", "--json").stdout)
    assert review["state"] == "Awaiting approval" and review["approvers"] == ["alice"]
    assert _forked(warm, "gate review") == 1
    vote = warm.run("vote", review["round_id"], "--as", "alice", "--decision", "go")
    assert "round resolved: go" in vote.stdout
    assert _forked(warm, f"vote {review['round_id']}") == 1

    runs = _flow_runs(warm, "gate-review")
    assert len(runs) == reviews_before + 1 and runs[-1]["state"]["name"] == "Awaiting approval"
    assert [run["state"]["type"] for run in _flow_runs(warm, "gate-decision")] == ["COMPLETED"]
    shown = json.loads(warm.run("project", "show", "W1", "--json").stdout)
    assert shown["stage"] == "planning" and [h["decision"] for h in shown["history"]] == ["go"]
    assert json.loads(warm.run("project", "show", "W1", "--json", cold=True).stdout) == shown


def test_mistakes_exit_2_with_the_same_line_warm_or_cold(warm: Warm) -> None:
    _project(warm, "W2")
    review = json.loads(warm.run("gate", "review", "W2", "--json").stdout)
    for args in (
        ("project", "show", "NOPE"),
        ("vote", review["round_id"], "--as", "bob", "--decision", "go"),  # not the round's approver
        ("vote", review["round_id"], "--as", "alice", "--decision", "kill"),  # kill needs a reason
        ("gatee", "check", "W2"),
    ):
        hot = warm.run(*args, expect=2)
        cold = warm.run(*args, expect=2, cold=True)
        assert (hot.stdout, hot.stderr) == (cold.stdout, cold.stderr), args
        assert _forked(warm, " ".join(args[:2])) >= 1, args
    shown = json.loads(warm.run("project", "show", "W2", "--json").stdout)
    assert [pending["id"] for pending in shown["pending_rounds"]] == [review["round_id"]], "nothing was written"


def test_a_caller_with_other_prefect_settings_runs_the_command_itself(warm: Warm) -> None:
    done = warm.run("project", "list", "--json", PREFECT_LOGGING_LEVEL="DEBUG")
    assert isinstance(json.loads(done.stdout), list)
    assert "ran in the caller's process: other start-up settings: PREFECT_LOGGING_LEVEL" in warm.log


def test_the_host_turns_callers_away_once_phasegate_code_changes(warm: Warm) -> None:
    source = Path(warm_start.__file__)
    before = source.stat()
    try:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        warm.run("project", "list")
        assert "ran in the caller's process: phasegate's code changed since the host started" in warm.log
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    forked = warm.log.count(" forked ")
    warm.run("project", "list")
    assert warm.log.count(" forked ") == forked + 1


def test_a_broken_caller_does_not_stop_the_host(warm: Warm) -> None:
    path = str(warm_start.server_home(warm.home) / warm_start.SOCKET_NAME)
    for garbage in (b"", b"\x00\x00\x00\x05[1,2", b"\x00\x00\x00\x02{}"):
        with socket.socket(socket.AF_UNIX) as caller:
            caller.connect(path)
            caller.sendall(garbage)
    forked = warm.log.count(" forked ")
    warm.run("project", "list")
    assert warm.log.count(" forked ") == forked + 1
    assert warm.log.count("dropped a request") + warm.log.count("the standard streams were not passed") >= 3


def test_a_dead_host_leaves_commands_cold_until_the_next_server_start(warm: Warm) -> None:
    pid_file = warm_start.server_home(warm.home) / warm_start.PID_FILE
    host = int(json.loads(pid_file.read_text())["pid"])
    os.kill(host, signal.SIGKILL)
    forked_before = warm.log.count(" forked ")
    assert json.loads(warm.run("project", "list", "--json").stdout), "a stale socket falls back to a cold run"
    assert warm.log.count(" forked ") == forked_before
    assert json.loads(warm.run("server", "status", "--json").stdout)["warm_start"] is False

    assert "warm start ready" in warm.run("server", "start").stdout, "start brings the host back beside the server"
    assert int(json.loads(pid_file.read_text())["pid"]) != host
    warm.run("project", "list")
    assert warm.log.count(" forked ") == forked_before + 1


def test_server_stop_stops_the_host_and_its_socket(tmp_path: Path) -> None:
    local = _home_of_its_own(tmp_path / "home")
    local.run("server", "start")
    directory = warm_start.server_home(local.home)
    host = int(json.loads((directory / warm_start.PID_FILE).read_text())["pid"])
    assert json.loads(local.run("server", "status", "--json").stdout)["warm_start"] is True
    assert local.run("server", "stop").stdout.strip() == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(host, 0)
    assert not (directory / warm_start.SOCKET_NAME).exists() and not (directory / warm_start.PID_FILE).exists()


def test_a_host_whose_files_are_gone_exits_by_itself(tmp_path: Path) -> None:
    local = _home_of_its_own(tmp_path / "home")
    local.run("server", "start")
    try:
        directory = warm_start.server_home(local.home)
        host = int(json.loads((directory / warm_start.PID_FILE).read_text())["pid"])
        (directory / warm_start.PID_FILE).unlink()  # as if its home were cleaned up under it
        deadline = time.monotonic() + 30
        while _running(host) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(host), "an orphaned host must not wait forever"
        assert "exiting: the socket or pid file is no longer this host's" in local.log
    finally:
        local.run("server", "stop")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return stat.split(") ")[-1][:1] != "Z"  # a zombie has exited (its parent, the CLI, is gone)


def test_the_executable_imports_only_the_standard_library_before_it_knows_where_to_run() -> None:
    heavy = "{'prefect', 'sqlalchemy', 'pydantic', 'typer', 'models'}"
    probe = f"import sys; import flows.entry; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_refusal_names_what_differs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    home = tmp_path / "home"
    host = warm_start.Host(home, "http://127.0.0.1:4200/api")
    env = dict(os.environ) | {"PHASEGATE_HOME": str(home)}
    same = {"argv": ["phasegate", "project", "list"], "cwd": str(tmp_path), "env": env, "python": sys.executable}
    assert host.refusal(same) is None
    # phasegate's own defaults, spelled out by the caller, are the same settings.
    spelled = env | {"DO_NOT_TRACK": "1", "PREFECT_API_URL": "http://127.0.0.1:4200/api", "PHASEGATE_HOME": "home"}
    assert host.refusal(same | {"env": spelled}) is None
    assert host.refusal(same | {"env": env | {"PREFECT_API_URL": "http://team:4200/api"}}) == (
        "other start-up settings: PREFECT_API_URL"
    )
    elsewhere = env | {"PHASEGATE_HOME": str(tmp_path / "x")}
    assert host.refusal(same | {"env": elsewhere}) == f"another PHASEGATE_HOME ({tmp_path.resolve() / 'x'})"
    assert host.refusal(same | {"python": "/usr/bin/false"}) == "another Python (/usr/bin/false)"
    assert host.refusal(same | {"argv": "project list"}) == "malformed request"
    assert host.refusal(same | {"argv": ["phasegate", 7]}) == "malformed request"
    assert host.refusal(same | {"env": env | {"PHASEGATE_HOME": None}}) == "malformed request"
    assert host.refusal({"argv": []}) == "malformed request"


def test_ctrl_c_reaches_the_child_and_the_caller_exits_130(warm: Warm) -> None:
    with HttpReceiver(delay=30.0) as slow:
        warm.run("person", "add", "sid", "--name", "Sid", "--email", "sid@example.com", "--notify", slow.apprise_url())
        _project(warm, "W3", sponsor="sid")
        caller = subprocess.Popen(
            [PHASEGATE, "gate", "review", "W3"], env=warm.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        slow.wait_for(1, timeout=60)  # the child is inside the flow, waiting on the sponsor's notification
        caller.send_signal(signal.SIGINT)
        _out, err = caller.communicate(timeout=60)
    assert caller.returncode == 130, err
    assert _forked(warm, "gate review") >= 1
    shown = json.loads(warm.run("project", "show", "W3", "--json").stdout)
    assert len(shown["pending_rounds"]) == 1, "what committed before the interrupt stays committed"

"""The CLI for a team, for real: ``phasegate serve`` on a free port over a real database (SQLite, PostgreSQL),
and the ``phasegate`` executable on "laptops" (temporary HOME and XDG_CONFIG_HOME) that hold only a token.

Proves: a login is checked before it is stored (0600 in a 0700 folder; a bad token, an unreachable server or
half an environment stores nothing); commands go through the server and print what the local command prints
for the same database; a vote through the server is recorded, and audited, as the token's person (here a
delegate acting for the sponsor, with a condition and an idempotency key); a token whose role may not vote
is exit 2 with how to fix it; commands the API does not serve are refused instead of run on a local file;
logout forgets the login. No laptop ever gets a PHASEGATE_HOME: nothing ran against a local database.
"""

from __future__ import annotations

import json
import os
import pty
import select as io_select
import signal
import stat
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from phasegate.flows.cli.remote import credentials
from phasegate.flows.cli.remote.client import Server
from phasegate.gates.vocabulary.commands import CreateProject, Delegate, RecordCost, RegisterDocument
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.document_store import DocumentStore
from phasegate.models.schema import upgrade
from phasegate.models.tokens import create_token
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import approvals, services
from tests.receivers import free_port
from tests.test_api import SECTIONS, seed, write_document

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
SECRET = "remote-cli-tests-secret-key-0123456789abcdef"


@dataclass
class Team:
    """The server side: its database URL and base URL, and the tokens issued there."""

    db_url: str
    url: str
    tokens: dict[str, str]
    root: Path
    _session: subprocess.Popen[str] | None = None

    def laptop(self, name: str) -> Laptop:
        return Laptop(self.root / name)

    def local(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """The same command run on the server's database directly (no login), for comparison.

        Each command is the real command line on the database, run in one ``phasegate`` interpreter kept for the
        test (``tests/cli_session.py``): the reference output of dozens of comparisons without an import each.
        """
        if self._session is None:
            env = os.environ | {
                "XDG_CONFIG_HOME": str(self.root / "server-config"),
                "PHASEGATE_SECRET_KEY": SECRET,
                "PHASEGATE_HOME": str(self.root / "server-home"),  # the server's document store, as on the server
            }
            with (self.root / "local-cli.log").open("a") as log:
                self._session = subprocess.Popen(
                    # -P: tests/ is not put on the path, so nothing there can shadow a module the CLI imports.
                    [sys.executable, "-P", str(Path(__file__).with_name("cli_session.py")), PHASEGATE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    env=env,
                )
        session = self._session
        assert session.stdin is not None and session.stdout is not None
        session.stdin.write(json.dumps([*args, "--db", self.db_url]) + "\n")
        session.stdin.flush()
        answer = session.stdout.readline()
        assert answer, f"the local CLI session ended: {(self.root / 'local-cli.log').read_text()[-3000:]}"
        done = json.loads(answer)
        result = subprocess.CompletedProcess(
            [PHASEGATE, *args, "--db", self.db_url], done["status"], done["stdout"], done["stderr"]
        )
        assert result.returncode == expect, f"{args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def close(self) -> None:
        """Ends the local CLI session (its stdin closed: it returns after the last command)."""
        if self._session is not None:
            session, self._session = self._session, None
            assert session.stdin is not None and session.stdout is not None
            session.stdin.close()
            try:
                session.wait(timeout=30)
            except subprocess.TimeoutExpired:
                session.kill()
                session.wait()
                raise
            finally:
                session.stdout.close()
            assert session.returncode == 0, (self.root / "local-cli.log").read_text()[-3000:]

    def execute(self, statement: Any) -> None:
        engine = make_engine(self.db_url)
        try:
            with make_session_factory(engine)() as session, session.begin():
                session.execute(statement)
        finally:
            engine.dispose()

    def rows(self, statement: Any) -> list[Any]:
        engine = make_engine(self.db_url)
        try:
            with make_session_factory(engine)() as session:
                return list(session.execute(statement).all())
        finally:
            engine.dispose()


@dataclass
class Laptop:
    """A gatekeeper's computer: its own HOME and config folder, no database, no PHASEGATE_* settings."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / ".config"

    @property
    def credentials(self) -> Path:
        return self.config / "phasegate" / "credentials.json"

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PHASEGATE_")}
        return (
            base
            | {
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.config),
                "PHASEGATE_HOME": str(self.home / "phasegate-home"),  # must never be created
            }
            | extra
        )

    def run(
        self, *args: str, expect: int = 0, stdin: str | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [PHASEGATE, *args], capture_output=True, text=True, timeout=120, input=stdin, env=self.env(**extra)
        )
        assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def imports_prefect(self, *args: str) -> bool:
        """Whether running the command in one interpreter loaded Prefect (a remote command never should)."""
        probe = (
            "import sys\nfrom phasegate.flows.cli import run_command\nsys.argv = ['phasegate'] + sys.argv[1:]\n"
            "status = run_command()\nprint('PREFECT-LOADED' if 'prefect' in sys.modules else 'PREFECT-ABSENT', "
            "status, file=sys.stderr)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120, env=self.env()
        )
        assert "PREFECT-" in done.stderr and "Traceback" not in done.stderr, done.stderr
        return "PREFECT-LOADED" in done.stderr

    def login_at_a_terminal(self, team: Team, who: str) -> tuple[int, str]:
        """``phasegate login URL`` typed at a real terminal (a pty); returns the exit status and the screen.

        The token is typed once the prompt shows and the terminal's echo is off, as a person would type it: typed
        earlier, the terminal would echo it and getpass would discard it when it switches echo off.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        argv, env = [PHASEGATE, "login", team.url], self.env()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal, as in a person's shell
            os.execve(PHASEGATE, argv, env)
        screen = b""
        typed = False
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                if not typed and b"API token" in screen and not termios.tcgetattr(fd)[3] & termios.ECHO:
                    os.write(fd, team.tokens[who].encode() + b"\n")
                    typed = True
                if not io_select.select([fd], [], [], 0.05)[0]:
                    continue
                try:
                    chunk = os.read(fd, 1024)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
            else:
                os.kill(pid, signal.SIGKILL)
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")

    def login(self, team: Team, who: str) -> subprocess.CompletedProcess[str]:
        return self.run("login", team.url, "--token-stdin", stdin=team.tokens[who] + "\n")

    def logged_in(self, team: Team, who: str) -> None:
        """What ``login`` leaves on the laptop, for tests whose subject comes after the login: the token checked
        against the server (``GET /api/v1/me``) and stored by the code ``phasegate login`` stores it with, without
        a process. The command itself is proven by ``test_login_is_checked_before_it_is_stored...`` and used
        for real in ``test_review_and_vote...``."""
        login = credentials.Login(url=team.url, token=team.tokens[who])
        with Server(login) as server:
            me = server.me()
        self.store(replace(login, person_id=me["person_id"], role=me["role"]))

    def store(self, login: credentials.Login) -> None:
        """Saves ``login`` in the laptop's config folder with the code ``phasegate login`` saves it with."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("XDG_CONFIG_HOME", str(self.config))  # where `credentials` puts the file
            credentials.save(login)


def _prepare(db_url: str, folder: Path) -> dict[str, str]:
    """People, tokens, and project P1 whose first gate is ready, written through the use cases."""
    tokens = seed(db_url)
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    try:
        services.create_project(
            CreateProject(
                key="P1", name="Pilot", template_id="it-pmo", sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
            ),
            uow=uow,
            now=now,
            actor=SYSTEM_ACTOR,
        )
        services.create_project(
            CreateProject(
                key="NPD", name="New", template_id="cooper-5", sponsor_id="sam", manager_id="mgr", budget=Decimal(1)
            ),
            uow=uow,
            now=now,
            actor=SYSTEM_ACTOR,
        )
        services.assign_role("P1", "pmo", "pam", uow=uow, now=now, actor=SYSTEM_ACTOR)
        # The server's gate reads its own copies: the store under the home `team` gives `phasegate serve`.
        store = DocumentStore(folder / "server-home" / "documents")
        for deliverable in SECTIONS:
            doc = write_document(folder, deliverable)
            stored = store.put(Path(doc["path"]))
            services.register_document(
                RegisterDocument(
                    project_key="P1", **doc | {"headings": tuple(doc["headings"]), "store_key": stored.key}
                ),
                uow=uow,
                now=now,
                actor=SYSTEM_ACTOR,
            )
        services.record_cost(
            RecordCost(project_key="P1", amount=Decimal("120.50")), uow=uow, now=now, actor=SYSTEM_ACTOR
        )
        approvals.delegate(
            Delegate(
                principal_id="sam",
                delegate_id="fin",
                valid_from=date.today() - timedelta(days=1),
                valid_to=date.today() + timedelta(days=30),
            ),
            uow=uow,
            now=now,
            actor=SYSTEM_ACTOR,
        )
        with sessions() as session, session.begin():
            tokens["delegate"] = create_token(session, "fin", "approver", now)[1]
        return tokens
    finally:
        engine.dispose()


@pytest.fixture
def team(db_url: str, tmp_path: Path) -> Iterator[Team]:
    tokens = _prepare(db_url, tmp_path)
    port = free_port()
    server_home = tmp_path / "server-home"
    env = os.environ | {
        "PHASEGATE_DATABASE_URL": db_url,
        "PHASEGATE_HOME": str(server_home),
        "PHASEGATE_SECRET_KEY": SECRET,
        "XDG_CONFIG_HOME": str(tmp_path / "server-config"),
    }
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([PHASEGATE, "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, url, tmp_path / "serve.log")
        served = Team(db_url=db_url, url=url, tokens=tokens, root=tmp_path)
        try:
            yield served
        finally:
            served.close()
        children = _children(process.pid)  # e.g. the temporary Prefect server a vote applied in-process started
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    # Stopped as systemd or a container stops it (SIGTERM): a clean exit that leaves nothing running behind.
    assert process.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
    deadline = time.monotonic() + 20
    while _running(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(children), f"phasegate serve left processes behind: {_running(children)}"


def _wait_until_serving(process: subprocess.Popen[Any], url: str, log: Path) -> None:
    """Until ``phasegate serve`` answers ``/healthz``; fails with its log if it ends first or takes over 90 s."""
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc: no library needed on Linux)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def _running(pids: list[int]) -> list[int]:
    """Those of ``pids`` still alive (a zombie nobody reaped has ended)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def test_login_is_checked_before_it_is_stored_and_logout_forgets_it(team: Team) -> None:
    laptop = team.laptop("sam-laptop")

    bad = laptop.run("login", team.url, "--token-stdin", stdin="not-a-token\n", expect=2)
    assert "refused the token" in bad.stderr and "phasegate login" in bad.stderr
    assert not laptop.credentials.exists()

    status, screen = laptop.login_at_a_terminal(team, "sponsor")
    assert status == 0 and "as sam" in screen, screen
    assert team.tokens["sponsor"] not in screen  # the prompt does not echo the token
    assert stat.S_IMODE(laptop.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(laptop.credentials.parent.stat().st_mode) == 0o700
    stored = json.loads(laptop.credentials.read_text())
    assert stored["url"] == team.url and stored["token"] == team.tokens["sponsor"] and stored["person_id"] == "sam"

    who = json.loads(laptop.run("whoami", "--json").stdout)
    assert (who["door"], who["method"], who["person_id"], who["role"]) == ("server", "api_token", "sam", "approver")

    out = laptop.run("logout")
    assert "logged out" in out.stdout and not laptop.credentials.exists()
    local = json.loads(laptop.run("whoami", "--json").stdout)
    assert local["door"] == "local" and local["method"] == "os_login"

    # The environment pair works like a stored login.
    by_env = laptop.run("whoami", "--json", PHASEGATE_SERVER_URL=team.url, PHASEGATE_TOKEN=team.tokens["viewer"])
    assert json.loads(by_env.stdout)["person_id"] == "vic"
    assert not (laptop.home / "phasegate-home").exists()


def test_what_a_login_refuses_is_refused_on_the_laptop_before_anything_is_sent(tmp_path: Path) -> None:
    """The laptop's own checks, which no server and no database answer (so once, not once per dialect): the
    stored login names a port where nothing listens, and every refusal below is its own line, not "cannot reach"."""
    laptop = Laptop(tmp_path / "sam-laptop")
    nowhere = f"http://127.0.0.1:{free_port()}"
    gone = laptop.run("login", nowhere, "--token-stdin", stdin="x\n", expect=2)
    assert "cannot reach the server" in gone.stderr and not laptop.credentials.exists()
    plain = laptop.run("login", "http://phasegate.example.org", "--token-stdin", stdin="x\n", expect=2)
    assert "https://" in plain.stderr and not laptop.credentials.exists()

    laptop.store(credentials.Login(url=nowhere, token="t" * 40, person_id="sam", role="approver"))

    # Commands the API does not serve are refused, never run on a local SQLite file.
    for args, words in (
        (("rounds", "reconcile"), "rounds reconcile is not available"),
        (("doc", "add", "P1", "business-case", "/tmp/x.md"), "run 'phasegate doc add' on the server"),
        (("person", "add", "eve", "--name", "Eve", "--email", "e@example.com"), "person add is not available"),
        (("audit", "export", "--project", "P1"), "audit export is not available"),
        (("project", "list", "--db", f"sqlite:///{laptop.home}/x.db"), "--db: not used"),
    ):
        refused = laptop.run(*args, expect=2)
        assert words in refused.stderr and len(refused.stderr.strip().splitlines()) == 1, refused.stderr

    # Commands that open no shared database still run on the laptop.
    assert '"title"' in laptop.run("template", "schema").stdout

    # A credentials file others may read is not used.
    laptop.credentials.chmod(0o644)
    assert "chmod 600" in laptop.run("project", "list", expect=2).stderr
    out = laptop.run("logout")  # also from a refused login file
    assert "logged out" in out.stdout and not laptop.credentials.exists()

    # Half of the environment pair is a mistake, not a local fallback.
    half = laptop.run("project", "list", expect=2, PHASEGATE_SERVER_URL=nowhere)
    assert "PHASEGATE_TOKEN" in half.stderr
    assert not (laptop.home / "phasegate-home").exists()


def test_review_and_vote_through_the_server_match_local_output_and_record_the_tokens_person(team: Team) -> None:
    pmo, delegate, viewer = team.laptop("pam"), team.laptop("fin"), team.laptop("vic")
    pmo.login(team, "pmo")
    delegate.logged_in(team, "delegate")
    viewer.logged_in(team, "viewer")

    # The PMO analyst checks and starts the review through the server.
    for args in (("gate", "check", "P1"), ("project", "list"), ("project", "show", "P1")):
        assert json.loads(pmo.run(*args, "--json").stdout) == json.loads(team.local(*args, "--json").stdout), args
    assert pmo.run("gate", "check", "P1").stdout == team.local("gate", "check", "P1").stdout
    # Mistakes read the same as on the database: the server's problem detail is the local message.
    for args in (("gate", "check", "NOPE"), ("project", "show", "NOPE"), ("vote", "not-a-round", "--decision", "go")):
        as_sam = ("--as", "sam") if args[0] == "vote" else ()
        remote, local = pmo.run(*args, expect=2).stderr, team.local(*args, *as_sam, expect=2).stderr
        assert remote == local, (remote, local)
    review = json.loads(pmo.run("gate", "review", "P1", "--json").stdout)
    assert review["state"] == "Awaiting approval" and review["approvers"] == ["sam"]
    round_id = review["round_id"]

    # The same rounds, as the local command prints them for the same database.
    for args in (("rounds", "list"), ("rounds", "list", "--pending"), ("project", "show", "P1")):
        assert pmo.run(*args, "--json").stdout == team.local(*args, "--json").stdout, args
        assert pmo.run(*args).stdout == team.local(*args).stdout, args

    # A viewer's token may not vote: exit 2 with the server's reason and how to get a token that may.
    refused = viewer.run("vote", round_id, "--decision", "go", expect=2)
    assert (
        "may not vote: this credential is read-only (a viewer token)" in refused.stderr
        and "phasegate login" in refused.stderr
    )
    # --as someone else is refused: through the server one acts as the token's person.
    other = delegate.run("vote", round_id, "--as", "sam", "--decision", "go", expect=2)
    assert "you act as fin" in other.stderr
    bad = delegate.run("vote", round_id, "--decision", "conditional_go", "--reason", "ok", expect=2)
    assert "--condition" in bad.stderr or "condition" in bad.stderr
    assert team.rows(select(t.Vote.id)) == []

    vote = (
        "vote",
        round_id,
        "--decision",
        "conditional_go",
        "--on-behalf-of",
        "sam",
        "--reason",
        "Go once security signs off",
        "--condition",
        "Security review passed;mgr;2027-01-15;verifier:pam",
        "--idempotency-key",
        "fin-p1-gate1-0001",
    )
    cast = delegate.run(*vote)
    assert f"fin on behalf of sam: conditional_go on round {round_id} (P1)" in cast.stdout
    assert "P1 is active in stage planning" in cast.stdout
    again = delegate.run(*vote, "--json")
    assert json.loads(again.stdout)["replayed"] is True

    (recorded,) = team.rows(select(t.Vote.voter_id, t.Vote.signer_id, t.Vote.decision, t.Vote.conditions))
    assert recorded[:3] == ("sam", "fin", "conditional_go")
    assert recorded[3][0]["owner_id"] == "mgr" and recorded[3][0]["due_on"] == "2027-01-15"
    audited = team.rows(select(t.AuditEntry.actor, t.AuditEntry.payload).where(t.AuditEntry.action == "vote.cast"))
    assert len(audited) == 1 and audited[0][0] == "fin", audited

    reads: tuple[tuple[str, ...], ...] = (("conditions", "list"), ("rounds", "list"), ("project", "show", "P1"))
    remote = {args: pmo.run(*args, "--json").stdout for args in reads}
    for args, shown in remote.items():
        assert shown == team.local(*args, "--json").stdout, args
    assert len(json.loads(remote[("conditions", "list")])) == 1
    # A gatekeeper's scorecard scores, as the token's person; a viewer may not score.
    scores = ("score", "NPD", "strategic-fit=7", "technical-feasibility=6")
    scored = delegate.run(*scores)
    assert scored.stdout == team.local(*scores, "--as", "fin").stdout
    assert scored.stdout == "NPD at idea-screen: fin scored 2 factor(s)\n"
    assert (
        "this credential is read-only (a viewer token)"
        in viewer.run("score", "NPD", "strategic-fit=1", expect=2).stderr
    )
    assert team.rows(select(t.Score.gatekeeper, t.Score.score).where(t.Score.factor == "strategic-fit")) == [("fin", 7)]

    # An auditor's checks, verified next to the database; an edited entry is exit 1 there as here.
    for args in (("audit", "verify"), ("audit", "head")):
        assert pmo.run(*args, "--json").stdout == team.local(*args, "--json").stdout, args
        assert pmo.run(*args).stdout == team.local(*args).stdout, args
    team.execute(update(t.AuditEntry).where(t.AuditEntry.action == "vote.cast").values(entity="round:forged"))
    broken = pmo.run("audit", "verify", expect=1).stderr
    assert broken == team.local("audit", "verify", expect=1).stderr
    assert "audit chain broken at entry" in broken

    # Through the server, the vote and review paths run no flow on the laptop: Prefect is never imported.
    assert not delegate.imports_prefect(*vote)
    assert not pmo.imports_prefect("gate", "review", "P1")  # the next gate: not ready, recorded on the server
    for laptop in (pmo, delegate, viewer):
        assert not (laptop.home / "phasegate-home").exists()


@pytest.mark.parametrize("prefect", ["none", "team"])
def test_serve_says_at_start_when_decisions_will_run_in_its_own_process(tmp_path: Path, prefect: str) -> None:
    """Without a Prefect server serving the deployments, a deciding vote through ``phasegate serve`` runs the
    gate-decision flow in the server's process, and the first one starts Prefect (10-15 s): ``serve`` says so once,
    at start, with what to run instead. With a team's server named (``PREFECT_API_URL``) it says nothing."""
    db = f"sqlite:///{tmp_path / 'phasegate.db'}"
    upgrade(db)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {
        "PHASEGATE_DATABASE_URL": db,
        "PHASEGATE_HOME": str(tmp_path / "home"),
        "PHASEGATE_SECRET_KEY": SECRET,
    }
    if prefect == "team":
        env["PREFECT_API_URL"] = f"http://127.0.0.1:{free_port()}/api"  # named; nothing here asks it anything
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [PHASEGATE, "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            _wait_until_serving(process, f"http://127.0.0.1:{port}", log_path)
        finally:
            process.terminate()
            process.wait(timeout=20)
    said = log_path.read_text()
    notice = "a deciding vote's gate-decision flow runs in this process"
    if prefect == "none":
        assert "phasegate serve: phasegate's Prefect server is not running, so " + notice in said, said
        assert "'phasegate server start'" in said and "PREFECT_API_URL" in said
    else:
        assert notice not in said, said

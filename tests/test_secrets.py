"""Issue #12, trust: no default secret key, private local files, no secrets through notify URLs, no approval
tokens at rest or in logs, no database passwords in messages.

Real parts throughout: the ``phasegate`` program in its own processes, ``phasegate serve`` under uvicorn on
a real port, a real HTTP receiver for notifications, SQLite files and PostgreSQL databases.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, select, text

from phasegate.flows.runtime import approval_links, link_signer
from phasegate.gates.vocabulary.commands import AddPerson
from phasegate.gates.vocabulary.errors import SecretKeyError
from phasegate.models import tables as t
from phasegate.models.db import make_engine
from phasegate.models.keys import MIN_KEY_BYTES, secret_key, write_key_file
from phasegate.models.settings import Settings
from phasegate.notifications.dispatch import dispatch_due
from phasegate.notifications.links import approval_token, read_approval_token
from phasegate.web import approval
from tests.actors import bootstrap_admin_args
from tests.receivers import HttpReceiver, free_port
from tests.test_web_pages import SECRET, build_world

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
OLD_DEFAULT_KEY = "dev-only-insecure-key-change-me-0123456789"
"""The key every installation signed links with before #12: a link signed with it must open nothing."""
LINK = re.compile(r"https?://[^\s\"'<>)\]]+/approve/([A-Za-z0-9_.\-]+)")


def keyless_env(home: Path, **extra: str) -> dict[str, str]:
    """The test environment with no key anywhere: no PHASEGATE_SECRET_KEY, a fresh home without a key file."""
    env = {k: v for k, v in os.environ.items() if k not in {"PHASEGATE_SECRET_KEY", "PHASEGATE_SECRET_KEY_FILE"}}
    env.update({"PHASEGATE_HOME": str(home)}, **extra)
    return env


def run(env: dict[str, str], *args: str, expect: int, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PHASEGATE, *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- no default key --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _keyless_setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database at head with two people and project P1, made once by ``phasegate`` with no key at all."""
    made = tmp_path_factory.mktemp("keyless")
    env = keyless_env(made / "home", PHASEGATE_DATABASE_URL=f"sqlite:///{made / 'keyless.db'}")
    run(env, "db", "upgrade", expect=0)
    run(env, *bootstrap_admin_args(), expect=0)  # the OS login the tests run as, so `--as` acts for the others
    run(env, "person", "add", "alice", "--name", "Alice", "--email", "alice@example.com", expect=0)
    run(env, "person", "add", "bob", "--name", "Bob", "--email", "bob@example.com", expect=0)
    run(
        env,
        *("project", "create", "P1", "--template", "it-pmo@1", "--name", "Pilot"),
        *("--sponsor", "alice", "--manager", "bob", "--budget", "1000"),
        expect=0,
    )
    return made


@pytest.fixture
def keyless(_keyless_setup: Path, tmp_path: Path) -> dict[str, str]:
    """A database at head with two people, and an environment with no key at all: a copy of ``_keyless_setup``'s
    database for each test (every process has exited, so the one SQLite file is the whole database), a new home."""
    shutil.copy(_keyless_setup / "keyless.db", tmp_path / "keyless.db")  # with its mode: phasegate keeps it 0600
    return keyless_env(tmp_path / "home", PHASEGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'keyless.db'}")


LINK_COMMANDS = (
    ("serve", "--port", "1"),  # the key is checked before the port is even bound
    ("server", "start"),
    ("gate", "review", "P1", "--as", "bob"),
    ("vote", "8c4d3a62-4f0b-4b8e-9a51-2d4c1f7e0a11", "--as", "alice", "--decision", "go"),
    ("notify", "dispatch"),
    ("notify", "digest"),
)


@pytest.mark.parametrize("args", LINK_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_commands_that_make_or_check_links_refuse_without_a_key(keyless: dict[str, str], args: tuple[str, ...]) -> None:
    before = _audit_rows(keyless)
    done = run(keyless, *args, expect=2)
    (line,) = done.stderr.strip().splitlines()
    assert "PHASEGATE_SECRET_KEY" in line and "phasegate key generate" in line, line
    assert _audit_rows(keyless) == before  # nothing written


def test_commands_that_make_no_links_work_without_a_key(keyless: dict[str, str]) -> None:
    assert "P1" in run(keyless, "project", "list", expect=0).stdout
    run(keyless, "gate", "check", "P1", expect=0)
    run(keyless, "person", "add", "carol", "--name", "Carol", "--email", "carol@example.com", expect=0)
    assert "intact" in run(keyless, "audit", "verify", expect=0).stdout


def test_a_short_key_is_refused(keyless: dict[str, str]) -> None:
    short = "x" * (MIN_KEY_BYTES - 1)
    done = run(keyless | {"PHASEGATE_SECRET_KEY": short}, "notify", "dispatch", expect=2)
    assert f"at least {MIN_KEY_BYTES}" in done.stderr and short not in done.stderr
    run(keyless | {"PHASEGATE_SECRET_KEY": "y" * MIN_KEY_BYTES}, "notify", "dispatch", expect=0)


def test_key_file_must_be_private_and_owned(keyless: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "keys" / "phasegate.key"
    write_key_file(path)
    env = keyless | {"PHASEGATE_SECRET_KEY_FILE": str(path)}
    run(env, "notify", "dispatch", expect=0)
    for loose in (0o640, 0o604, 0o660):
        os.chmod(path, loose)
        done = run(env, "serve", "--port", "1", expect=2)
        assert f"{loose:04o}" in done.stderr and "chmod 600" in done.stderr, done.stderr
        assert path.read_text().strip() not in done.stderr
    os.chmod(path, 0o600)
    if os.getuid() == 0:  # root may hand the file to another user: then it is refused as not ours
        os.chown(path, 65534, -1)
        done = run(env, "notify", "dispatch", expect=2)
        assert "owned by uid 65534" in done.stderr
        os.chown(path, 0, -1)
    short = tmp_path / "short.key"
    short.write_text("too-short\n")
    os.chmod(short, 0o600)
    assert "at least 32" in run(keyless | {"PHASEGATE_SECRET_KEY_FILE": str(short)}, *LINK_COMMANDS[3], expect=2).stderr


def test_key_generate_writes_a_private_file_in_a_private_home_and_never_replaces_it(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"
    env = keyless_env(home)
    done = run(env, "key", "generate", expect=0)
    key_file = home / "secret.key"
    assert str(key_file) in done.stdout
    assert mode(key_file) == 0o600 and mode(home) == 0o700 and mode(home.parent) == 0o700
    key = key_file.read_text().strip()
    assert len(key.encode()) >= MIN_KEY_BYTES and key not in done.stdout
    again = run(env, "key", "generate", expect=2)
    assert "already exists" in again.stderr and key_file.read_text().strip() == key
    # The default key file is found without any setting.
    assert secret_key(Settings(home=home, secret_key=None)) == key
    printed = run(env, "key", "generate", "--stdout", expect=0).stdout.strip()
    assert len(printed) >= MIN_KEY_BYTES and printed != key


def test_flows_refuse_to_run_without_a_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What a worker runs: each flow's first act is to check the key (no Prefect run is needed to see it)."""
    from phasegate.flows.approval_reminders import approval_reminders_flow
    from phasegate.flows.gate_decision import gate_decision_flow
    from phasegate.flows.gate_review import gate_review_flow
    from phasegate.flows.notify_dispatch import notify_dispatch_flow
    from phasegate.flows.weekly_digest import weekly_digest_flow

    monkeypatch.delenv("PHASEGATE_SECRET_KEY", raising=False)
    monkeypatch.setenv("PHASEGATE_HOME", str(tmp_path / "worker-home"))
    monkeypatch.setenv("PHASEGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'nothing.db'}")
    calls: list[tuple[Any, tuple[str, ...]]] = [
        (gate_review_flow, ("P1", "bob")),
        (gate_decision_flow, ("8c4d3a62-4f0b-4b8e-9a51-2d4c1f7e0a11",)),
        (notify_dispatch_flow, ()),
        (approval_reminders_flow, ()),
        (weekly_digest_flow, ()),
    ]
    for flow, args in calls:
        with pytest.raises(SecretKeyError, match="PHASEGATE_SECRET_KEY"):
            flow.fn(*args)
    assert not (tmp_path / "nothing.db").exists()  # refused before any database was opened


def test_demo_generates_its_own_private_key(tmp_path: Path) -> None:
    """`make demo` end to end in a fresh home: it makes a 0600 key for itself and runs every flow with it."""
    home = tmp_path / "demo-home"
    env = keyless_env(home, PHASEGATE_PREFECT_PORT=str(free_port()))
    env.pop("PREFECT_HOME", None)  # the demo's Prefect server lives in its own home
    try:
        done = run(env, "demo", expect=0, timeout=600)
    finally:
        subprocess.run([PHASEGATE, "server", "stop"], env=env, capture_output=True, timeout=120)
    key_file = home / "demo" / "secret.key"
    assert mode(key_file) == 0o600 and mode(home / "demo") == 0o700
    assert mode(home / "demo" / "phasegate.db") == 0o600
    assert str(key_file) in done.stdout and key_file.read_text().strip() not in done.stdout
    inbox = [json.loads(line) for line in (home / "demo" / "inbox.jsonl").read_text().splitlines()]
    tokens = [m for item in inbox for m in LINK.findall(json.dumps(item, ensure_ascii=False))]
    assert tokens, "the demo's approval requests carry links"
    claim = read_approval_token(key_file.read_text().strip(), tokens[0], now=datetime.now(UTC))
    assert claim.approver_id in {"alice", "wang-fang"}
    # The sponsors' votes went the way every door's go: their decisions were applied by gate-decision runs.
    table = {line.split()[0]: line for line in done.stdout.splitlines() if line[:1].isupper() and "/" in line}
    assert table["ERP-UPGRADE"].endswith("active / planning"), done.stdout
    assert table["SMART-KIOSK"].endswith("killed / discovery"), done.stdout
    # The lesson SMART-KIOSK's manager filed after the kill reached the next review of the same gate.
    assert "lesson #1 from SMART-KIOSK shown at AR-GLASSES/idea-screen, applied by wang-fang" in done.stdout
    assert any("AR-GLASSES" in json.dumps(item) and "killed at the idea screen" in json.dumps(item) for item in inbox)
    assert "has not finished yet" not in done.stdout
    # DATA-LAKE's scoping needs more data-engineer hours next month than ERP-UPGRADE's committed planning leaves:
    # its gate recommends HOLD, names the role and month, and it waits first in the HOLD queue.
    assert table["DATA-LAKE"].split()[2] == "hold", done.stdout
    assert "resources.committed failed at DATA-LAKE/idea-screen: over-allocated: data-engineer " in done.stdout
    assert "remediation: data-engineer is over-allocated in " in done.stdout
    assert "HOLD queue #1: DATA-LAKE -> scoping (waits: data-engineer " in done.stdout
    # The week's portfolio report: absolute paths, inside the demo's folder (reset with it), nothing beside it.
    report_line = next(line for line in done.stdout.splitlines() if line.startswith("report "))
    files = [Path(part.strip()) for part in report_line.split(": ", 1)[1].split(",")]
    assert {f.suffix for f in files} == {".pdf", ".html", ".xlsx"}, report_line
    assert all(f.is_absolute() and f.parent == (home / "demo" / "reports").resolve() and f.exists() for f in files)
    assert not (home / "reports").exists()


def _audit_rows(env: dict[str, str]) -> int:
    engine = make_engine(env["PHASEGATE_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT COUNT(*) FROM audit_log")).scalar_one())
    finally:
        engine.dispose()


# --- private local files -----------------------------------------------------------------------------------


def test_home_is_0700_and_the_database_and_its_side_files_0600(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    env = keyless_env(home)
    env.pop("PHASEGATE_DATABASE_URL", None)
    run(env, "db", "upgrade", expect=0)
    assert mode(home) == 0o700 and mode(home / "phasegate.db") == 0o600

    # While a connection writes, SQLite's -wal and -shm exist: they take the database file's mode.
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'x.db'}"
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE probe (n INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
        with engine.connect() as connection:
            connection.execute(text("SELECT n FROM probe")).all()
            side = [tmp_path / "elsewhere" / f"x.db{suffix}" for suffix in ("", "-wal", "-shm")]
            assert all(p.exists() for p in side), side
            assert {p.name: mode(p) for p in side} == {p.name: 0o600 for p in side}
        assert mode(tmp_path / "elsewhere") == 0o700
    finally:
        engine.dispose()


# --- ${NAME} placeholders only in the organisation's config -------------------------------------------------


def test_placeholder_in_a_persons_url_is_refused_at_input(keyless: dict[str, str]) -> None:
    url = "json://127.0.0.1:9/${PHASEGATE_SECRET_KEY}"
    done = run(
        keyless, "person", "add", "eve", "--name", "Eve", "--email", "eve@example.com", "--notify", url, expect=2
    )
    (line,) = done.stderr.strip().splitlines()
    assert "--notify" in line and "${PHASEGATE_SECRET_KEY}" in line and "PHASEGATE_NOTIFY_CONFIG" in line
    assert "eve" not in run(keyless, "project", "list", "--json", expect=0).stdout
    with pytest.raises(ValidationError, match="placeholders"):  # every door builds this command
        AddPerson(id="eve", name="Eve", email="eve@example.com", notify_urls=(url,))


# --- the web: forged links, tokens at rest and in the access log ---------------------------------------------


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path, receiver: HttpReceiver) -> Iterator[tuple[Any, str, Path]]:
    """A round awaiting the sponsor, its request delivered, and `phasegate serve` running on that database."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    world = build_world(sqlite_url, public, tmp_path, receiver)
    log = tmp_path / "serve.log"
    env = keyless_env(
        tmp_path / "serve-home",
        PHASEGATE_SECRET_KEY=SECRET,
        PHASEGATE_DATABASE_URL=sqlite_url,
        PHASEGATE_PUBLIC_URL=public,
    )
    with log.open("w") as out:
        server = subprocess.Popen(
            [PHASEGATE, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_for(f"{public}/healthz")
        yield world, public, log
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        world.rt.engine.dispose()


def test_outbox_holds_no_token_and_the_receiver_gets_a_working_link(served: tuple[Any, str, Path]) -> None:
    world, public, _log = served
    (token,) = {m for r in world.receiver.requests for m in LINK.findall(r.body.decode("utf-8", "replace"))}
    claim = read_approval_token(SECRET, token, now=datetime.now(UTC))
    assert (claim.round_id, claim.approver_id) == (str(world.round_id), "sam")
    with world.rt.sessions() as session:
        stored = [json.dumps(row.context) for row in session.scalars(select(t.OutboxMessage))]
    assert stored and not any(token in row or "/approve/" in row for row in stored)
    assert any('"approval-link.v1"' in row for row in stored)  # what the dispatcher signs at send time
    status, page = _get(f"{public}/approve/{token}")
    assert status == 200 and "Sam Sponsor" in page


def test_a_link_signed_with_the_old_default_key_is_refused_and_audited(served: tuple[Any, str, Path]) -> None:
    world, public, _log = served
    forged = approval_token(
        OLD_DEFAULT_KEY,
        round_id=world.round_id,
        approver_id="sam",
        evidence_hash=_evidence_hash(world),
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    status, _page = _get(f"{public}/approve/{forged}")
    assert status == 403
    refused = world.audit(approval.REFUSED)
    assert [e.payload["code"] for e in refused] == ["approval_link.forged"]


def test_the_access_log_shows_no_approval_token(served: tuple[Any, str, Path]) -> None:
    world, public, log = served
    (token,) = {m for r in world.receiver.requests for m in LINK.findall(r.body.decode("utf-8", "replace"))}
    assert _get(f"{public}/approve/{token}")[0] == 200
    assert _get(f"{public}/approve/{token}?lang=zh-CN")[0] == 200
    deadline = time.monotonic() + 10
    while "/approve/" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    written = log.read_text()
    assert "GET /approve/[redacted] HTTP/1.1" in written and "200" in written, written
    assert token not in written and max(token.split("."), key=len) not in written


def _evidence_hash(world: Any) -> str:
    with world.rt.sessions() as session:
        found = session.get(t.ApprovalRound, world.round_id)
        assert found is not None
        return str(found.evidence_hash)


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8")


def test_a_placeholder_in_a_stored_persons_url_is_never_expanded(
    sqlite_url: str, tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row stored before input was checked (or written around it) is dead-lettered, the key never sent."""
    world = build_world(sqlite_url, "http://127.0.0.1:9", tmp_path, receiver)
    try:
        before = len(receiver.requests)
        with world.rt.sessions() as session, session.begin():
            sent = session.scalars(select(t.OutboxMessage).where(t.OutboxMessage.recipient_id == "sam")).first()
            assert sent is not None
            session.execute(
                insert(t.OutboxMessage),
                {
                    "idempotency_key": "leak-probe",
                    "kind": sent.kind,
                    "recipient_id": "sam",
                    "target": receiver.apprise_url("/${PHASEGATE_SECRET_KEY}"),
                    "locale": "en",
                    "context": sent.context,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": datetime.now(UTC),
                    "created_at": datetime.now(UTC),
                },
            )
        monkeypatch.setenv("PHASEGATE_SECRET_KEY", SECRET)  # the dispatcher's environment holds the key
        report = dispatch_due(world.rt.sessions, links=link_signer(world.settings))
        assert report.dead == 1 and report.sent == 0
        assert len(receiver.requests) == before
        assert not any(SECRET in r.path or SECRET.encode() in r.body for r in receiver.requests)
        with world.rt.sessions() as session:
            row = session.scalars(select(t.OutboxMessage).where(t.OutboxMessage.idempotency_key == "leak-probe")).one()
            assert row.status == "dead" and "placeholder" in (row.last_error or "")
    finally:
        world.rt.engine.dispose()


def test_links_are_stored_as_requests_until_sent() -> None:
    """The link-making function hands the use cases a request: round, approver, evidence, expiry; no token."""
    settings = Settings(secret_key=SECRET, public_url="https://pmo.example.com")  # type: ignore[arg-type]
    request = approval_links(settings)(world_round := uuid.uuid4(), "sam", "a" * 64)
    assert isinstance(request, dict) and set(request) == {
        "link",
        "round_id",
        "approver_id",
        "evidence_hash",
        "expires_at",
    }
    url = link_signer(settings)(request)
    assert url.startswith("https://pmo.example.com/approve/") and url == link_signer(settings)(request)
    claim = read_approval_token(SECRET, url.rsplit("/", 1)[1], now=datetime.now(UTC))
    assert claim.round_id == str(world_round)


# --- database passwords ------------------------------------------------------------------------------------

PASSWORD = "Pa55-w0rd/do-not-print"


def _urls() -> list[str]:
    quoted = PASSWORD.replace("/", "%2F")
    return [
        f"postgresql://phasegate:{quoted}@127.0.0.1:{free_port()}/phasegate",  # nothing listens: driver error
        f"postgresql://postgres:{quoted}@127.0.0.1:5432/no_such_database_here",  # the server says no such database
        f"postgresql://phasegate:{quoted}@[::1/phasegate",  # SQLAlchemy cannot parse it
        f"mysql://phasegate:{quoted}@127.0.0.1/phasegate",  # a backend phasegate does not support
    ]


@pytest.mark.parametrize("args", [("gate", "check", "P1"), ("db", "upgrade"), ("audit", "verify"), ("serve",)])
def test_a_database_password_never_appears_in_output(tmp_path: Path, args: tuple[str, ...]) -> None:
    for url in _urls():
        for how in ("--db", "env"):
            env = keyless_env(tmp_path / "home", PHASEGATE_SECRET_KEY=SECRET)
            extra: tuple[str, ...] = ()
            if how == "env":
                env["PHASEGATE_DATABASE_URL"] = url
            else:
                extra = ("--db", url)
            if args == ("serve",):
                if how == "--db":
                    continue  # serve reads its database from the environment
                if "[" not in url and "mysql" not in url:
                    continue  # a reachable-looking URL makes serve start: the web test below covers it
            done = subprocess.run([PHASEGATE, *args, *extra], capture_output=True, text=True, timeout=120, env=env)
            shown = done.stdout + done.stderr
            assert done.returncode == 2, f"{args} {url}: {shown}"
            assert PASSWORD not in shown and PASSWORD.replace("/", "%2F") not in shown, shown
            assert "Traceback" not in shown and "phasegate" in shown


def test_the_web_server_log_hides_the_database_password(tmp_path: Path) -> None:
    """A database that goes away under `serve`: /healthz answers 500 and the log names no password."""
    port = free_port()
    url = f"postgresql://phasegate:{PASSWORD.replace('/', '%2F')}@127.0.0.1:{free_port()}/phasegate"
    env = keyless_env(tmp_path / "home", PHASEGATE_SECRET_KEY=SECRET, PHASEGATE_DATABASE_URL=url)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([PHASEGATE, "serve", "--port", str(port)], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline:
            try:
                status = _get(f"http://127.0.0.1:{port}/healthz")[0]
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert status == 500
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    written = log.read_text()
    assert "database error on GET /healthz" in written, written
    assert PASSWORD not in written and PASSWORD.replace("/", "%2F") not in written and "Traceback" not in written

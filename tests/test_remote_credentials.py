"""The laptop side of ``phasegate login`` without a server: where the login is kept and how, which server
addresses are accepted, and which commands go through the server or are refused (unit tests, real files).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from phasegate.flows.cli import COMMANDS, GROUPS
from phasegate.flows.cli.remote import credentials as creds
from phasegate.flows.cli.remote import refuse_unless_remote, runs_locally
from phasegate.gates.vocabulary.errors import InputError, RemoteError

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
LOGIN = creds.Login(url="https://phasegate.example", token="secret-token", person_id="sam", role="approver")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(creds.URL_VARIABLE, raising=False)
    monkeypatch.delenv(creds.TOKEN_VARIABLE, raising=False)
    return tmp_path / "config" / "phasegate"


def test_a_login_is_kept_0600_in_a_0700_folder_and_read_back(config: Path) -> None:
    config.mkdir(parents=True, mode=0o755)
    os.chmod(config, 0o755)  # a folder made wider before: tightened, it is ours
    path = creds.save(LOGIN)
    assert path == config / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(config.stat().st_mode) == 0o700
    assert [p.name for p in config.iterdir()] == ["credentials.json"]  # no temporary file left
    assert json.loads(path.read_text()) == {
        "url": LOGIN.url,
        "token": LOGIN.token,
        "person_id": "sam",
        "role": "approver",
    }
    assert creds.current() == LOGIN
    assert creds.remove() is True and creds.current() is None and creds.remove() is False


def test_a_login_file_others_may_read_or_a_damaged_one_is_refused(config: Path) -> None:
    path = creds.save(LOGIN)
    path.chmod(0o640)
    with pytest.raises(InputError, match=r"readable by other users.*chmod 600"):
        creds.current()
    path.chmod(0o600)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not a phasegate login file"):
        creds.current()


def test_a_relative_xdg_config_home_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert creds.credentials_path() == tmp_path / ".config" / "phasegate" / "credentials.json"


def test_the_environment_pair_wins_and_half_of_it_is_refused(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds.save(LOGIN)
    monkeypatch.setenv(creds.URL_VARIABLE, "https://other.example/")
    with pytest.raises(InputError, match="PHASEGATE_TOKEN: not set"):
        creds.current()
    monkeypatch.setenv(creds.TOKEN_VARIABLE, "env-token")
    assert creds.current() == creds.Login(url="https://other.example", token="env-token", source="environment")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://phasegate.example/", "https://phasegate.example"),
        ("https://phasegate.example:8443/pg", "https://phasegate.example:8443/pg"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
    ],
)
def test_server_addresses_accepted(given: str, expected: str) -> None:
    assert creds.server_url(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("http://phasegate.example", "plain http"),
        ("phasegate.example", "not a server address"),
        ("ftp://phasegate.example", "not a server address"),
        ("https://user:pw@phasegate.example", "address only"),
        ("https://phasegate.example/?x=1", "address only"),
    ],
)
def test_server_addresses_refused(given: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        creds.server_url(given)


@pytest.mark.parametrize(
    "argv",
    [
        ["vote", "R", "--decision", "go"],
        ["score", "P1", "strategic-fit=7"],
        ["rounds", "list", "--pending"],
        ["conditions", "list"],
        ["gate", "check", "P1"],
        ["gate", "review", "P1"],
        ["project", "show", "P1", "--json"],
        ["project", "assign", "P1", "pmo", "pam"],
        ["risk", "list", "P1"],
        ["audit", "verify"],
        ["audit", "head", "--json"],
        ["actuals", "add", "P1", "10"],
        ["baseline", "set", "P1", "--bac", "10"],
        ["rounds", "reassign", "R", "--from", "a", "--to", "b"],
        ["rounds", "cancel", "R"],
        ["conditions", "verify", "C", "--as", "a"],
        ["project", "resume", "P1"],
        ["project", "close", "P1"],
        ["project", "update", "P1"],
        ["milestone", "done", "P1", "m"],
        ["actuals", "import", "f.csv"],
        ["risk", "import", "f.csv"],
        ["delegate", "grant", "a", "b"],
        ["delegate", "a", "b"],
        ["person", "show", "a"],
        ["doc", "approve", "P1", "charter"],
        ["login", "https://x.example"],
        ["whoami"],
        ["rounds", "--help"],
        ["nosuch"],
    ],
)
def test_commands_that_go_through_the_server(argv: list[str]) -> None:
    refuse_unless_remote(argv, LOGIN, groups=set(GROUPS), commands=set(COMMANDS))


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["rounds", "reconcile"], "rounds reconcile"),
        (["doc", "adopt"], "doc adopt"),
        (["person", "add", "x"], "person add"),
        (["token", "create", "x"], "token create"),
        (["template", "publish", "t.yaml"], "template publish"),
        (["serve"], "serve"),
        (["db", "upgrade"], "db upgrade"),
        (["audit", "export", "--project", "P1"], "audit export"),
    ],
)
def test_commands_without_an_api_are_refused(argv: list[str], name: str) -> None:
    with pytest.raises(RemoteError, match=f"^{name} is not available through the server https://phasegate.example;"):
        refuse_unless_remote(argv, LOGIN, groups=set(GROUPS), commands=set(COMMANDS))


@pytest.mark.parametrize(
    ("argv", "local"),
    [
        (["demo"], True),
        (["template", "schema"], True),
        (["template", "validate", "t.yaml"], True),
        (["logout"], True),
        (["template", "publish", "t.yaml"], False),
        (["vote", "R"], False),
        ([], False),
    ],
)
def test_login_and_offline_commands_run_locally_whatever_the_login(argv: list[str], local: bool) -> None:
    assert runs_locally(argv, groups=set(GROUPS)) is local


def test_doc_add_says_why_it_stays_on_the_server() -> None:
    with pytest.raises(RemoteError, match="doc add: the server re-reads a document") as refused:
        refuse_unless_remote(["doc", "add", "P1", "charter", "c.md"], LOGIN, groups=set(GROUPS), commands=set(COMMANDS))
    assert refused.value.code == "remote.not_available"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (200, "does not look like a phasegate server"),
        (404, "does not look like a phasegate server"),
        (500, "failed (500"),
        (401, "refused the token"),
    ],
)
def test_login_to_something_that_is_not_a_phasegate_server_stores_nothing(
    config: Path, status: int, message: str
) -> None:
    """A real HTTP server answering as told: every answer but a phasegate ``/me`` is exit 2, nothing stored."""
    from tests.receivers import HttpReceiver

    with HttpReceiver(status=status) as other:
        done = subprocess.run(
            [PHASEGATE, "login", other.url().rstrip("/"), "--token-stdin"],
            input="tok-123\n",
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ | {"XDG_CONFIG_HOME": str(config.parent)},
        )
        (request,) = other.requests
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert (request.method, request.path, request.header("Authorization")) == ("GET", "/api/v1/me", "Bearer tok-123")
    assert not config.exists()

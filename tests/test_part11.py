"""Part 11 signatures: a gate marked ``signature: part11`` takes a vote only with the signer's password re-entered.

The same rule through every door: the use case (SQLite and PostgreSQL), the REST API, the CLI (a real
``phasegate vote`` process reading the password from stdin) and the approval page in headless Chromium. A
wrong password is refused and audited and records nothing; the right one records the vote, and its audit entry
carries the printed name, the UTC time and the meaning of the signature.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from phasegate.flows.cli.common import os_login
from phasegate.flows.runtime import approval_links, probe_file
from phasegate.gates.vocabulary.commands import CastVote, UpdatePerson
from phasegate.gates.vocabulary.enums import Decision, RoundStatus
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, SignatureProof
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.models import tables as t
from phasegate.models.credentials import SqlCredentials, enable_totp
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.tokens import create_token
from phasegate.usecases import approvals, people, services, voting
from phasegate.web.app import create_app
from tests import actors
from tests.browser import artifact, chromium
from tests.receivers import HttpReceiver, free_port
from tests.signin import PASSWORD, give_password
from tests.test_web_pages import World, _now, build_world

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))


def part11_template() -> LifecycleTemplate:
    """it-pmo's newest shipped version as the next version, its first gate taking electronic signatures (the PMO's
    edit of the YAML)."""
    shipped = max((t for _, t in shipped_templates() if t.id == "it-pmo"), key=lambda t: t.version)
    data = shipped.model_dump(mode="json")
    data["version"] = shipped.version + 1
    data["gates"][0]["signature"] = "part11"
    return LifecycleTemplate.model_validate(data)


def part11_world(url: str, public_url: str, tmp_path: Path, receiver: HttpReceiver) -> World:
    from phasegate.models.db import make_engine
    from phasegate.models.uow import SqlUnitOfWork
    from tests.test_web_pages import _now

    template = part11_template()
    engine = make_engine(url)
    try:
        services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source="part11 variant",
            uow=lambda: SqlUnitOfWork(engine),
            now=_now(),
            actor=SYSTEM_ACTOR,
        )
    finally:
        engine.dispose()
    w = build_world(url, public_url, tmp_path, receiver)  # the project takes the latest version, the Part 11 one
    current = services.get_round(w.round_id, uow=w.uow)
    project = services.project_view(current.project_key, uow=w.uow).project
    assert project.template_version == template.version
    give_password(w.rt.sessions, "sam", audit_key=w.rt.audit_key)
    return w


@pytest.fixture
def world(db_url: str, tmp_path: Path, receiver: HttpReceiver) -> Iterator[World]:
    w = part11_world(db_url, "http://testserver", tmp_path, receiver)
    yield w
    w.rt.engine.dispose()


def _audit(w: World, action: str) -> list[t.AuditEntry]:
    with w.rt.sessions() as session:
        query = select(t.AuditEntry).where(t.AuditEntry.action == action).order_by(t.AuditEntry.seq)
        return list(session.scalars(query))


def _votes(w: World) -> int:
    return len(services.get_round(w.round_id, uow=w.uow).live_votes)


def _go(w: World) -> CastVote:
    return CastVote(round_id=w.round_id, voter_id="sam", decision=Decision.GO, reason="Charter signed")


def _cast(w: World, signature: SignatureProof | None) -> approvals.VoteResult:
    return approvals.cast_vote(
        _go(w),
        actor=actors.person("sam"),
        uow=w.uow,
        now=datetime.now(UTC),
        probe=probe_file,
        links=approval_links(w.settings),
        credentials=SqlCredentials(w.rt.sessions),
        signature=signature,
    )


# ------------------------------------------------------------------------------------------------ use case
def test_the_vote_use_case_requires_verifies_and_records_the_signature(world: World) -> None:
    with pytest.raises(InputError) as missing:
        _cast(world, None)
    assert missing.value.code == approvals.SIGNATURE_REQUIRED
    with pytest.raises(approvals.SecurityRefusedError) as wrong:
        _cast(world, SignatureProof(password=SecretStr("not my password at all")))
    assert wrong.value.code == approvals.SIGNATURE_REFUSED
    assert _votes(world) == 0
    (refused,) = _audit(world, "security.refused")
    assert refused.actor == "sam" and refused.payload["code"] == approvals.SIGNATURE_REFUSED
    assert "not my password" not in str(refused.payload)  # the attempt is audited, never the password

    result = _cast(world, SignatureProof(password=SecretStr(PASSWORD)))
    assert result.round_status is RoundStatus.RESOLVED and result.round_decision is Decision.GO
    (cast,) = _audit(world, "vote.cast")
    signed = cast.payload
    assert (signed["signer_name"], signed["meaning"], signed["decision"], signed["signature"]) == (
        "Sam Sponsor",
        "approved",
        "go",
        "part11",
    )
    assert datetime.fromisoformat(signed["signed_at_utc"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert PASSWORD not in str(signed)


def test_a_signature_with_totp_needs_the_code_too(world: World) -> None:
    import pyotp

    with world.rt.sessions() as session, session.begin():
        uri = enable_totp(session, "sam", now=datetime.now(UTC), audit_key=world.rt.audit_key)
    with pytest.raises(approvals.SecurityRefusedError):
        _cast(world, SignatureProof(password=SecretStr(PASSWORD)))
    code = pyotp.parse_uri(uri).now()
    assert _cast(world, SignatureProof(password=SecretStr(PASSWORD), one_time_code=code)).decision is Decision.GO


def test_wrong_signatures_are_throttled_before_the_password_is_checked(world: World) -> None:
    """Five wrong signatures in the window: the sixth attempt, even with the right password, is refused unchecked
    (the count is read from the audit log, so it holds across doors and server processes)."""
    for _ in range(voting.SIGNATURE_ATTEMPTS):
        with pytest.raises(approvals.SecurityRefusedError) as wrong:
            _cast(world, SignatureProof(password=SecretStr("guess")))
        assert wrong.value.code == approvals.SIGNATURE_REFUSED
    with pytest.raises(approvals.SecurityRefusedError) as throttled:
        _cast(world, SignatureProof(password=SecretStr(PASSWORD)))
    assert throttled.value.code == voting.SIGNATURE_THROTTLED and _votes(world) == 0
    codes = [entry.payload["code"] for entry in _audit(world, "security.refused")]
    assert codes == [approvals.SIGNATURE_REFUSED] * voting.SIGNATURE_ATTEMPTS + [voting.SIGNATURE_THROTTLED]
    # Older failures fall out of the window: with the same record, a signature an hour later verifies.
    later = approvals.cast_vote(
        _go(world),
        actor=actors.person("sam"),
        uow=world.uow,
        now=datetime.now(UTC) + voting.SIGNATURE_WINDOW + timedelta(minutes=1),
        probe=probe_file,
        links=approval_links(world.settings),
        credentials=SqlCredentials(world.rt.sessions),
        signature=SignatureProof(password=SecretStr(PASSWORD)),
    )
    assert later.decision is Decision.GO


# ------------------------------------------------------------------------------------------------ REST API
def test_the_api_takes_the_password_in_the_vote_body(world: World) -> None:
    with world.rt.sessions() as session, session.begin():
        _, token = create_token(session, "sam", "approver", datetime.now(UTC), audit_key=world.rt.audit_key)
    current = services.get_round(world.round_id, uow=world.uow)
    body = {"decision": "go", "evidence_hash": current.evidence_hash}
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(world.settings)) as c:
        path = f"/api/v1/rounds/{world.round_id}/votes"
        missing = c.post(path, json=body, headers=headers)
        assert missing.status_code == 422 and missing.json()["code"] == approvals.SIGNATURE_REQUIRED
        wrong = c.post(path, json=body | {"password": "guessing the password"}, headers=headers)
        assert wrong.status_code == 403 and wrong.json()["code"] == approvals.SIGNATURE_REFUSED
        assert _votes(world) == 0 and len(_audit(world, "security.refused")) == 1
        signed = c.post(path, json=body | {"password": PASSWORD}, headers=headers)
        assert signed.status_code == 201, signed.text
    assert signed.json()["vote"]["decision"] == "go"
    assert _audit(world, "vote.cast")[0].payload["signature"] == "part11"


# ------------------------------------------------------------------------------------------------ CLI
def _vote(url: str, *args: str, stdin: str, expect: int) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [PHASEGATE, "vote", *args, "--db", url], input=stdin, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == expect, f"exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def test_the_cli_vote_reads_the_password_from_stdin(world: World) -> None:
    url = world.settings.resolved_database_url
    round_ref = str(world.round_id)
    # sam signs at their own OS login: a signature is its signer's own act, never an admin's --as
    people.update_person(UpdatePerson(id="sam", login=os_login()), actor=SYSTEM_ACTOR, uow=world.uow, now=_now())
    asked = _vote(url, round_ref, "--decision", "go", stdin="", expect=2)
    assert asked.stderr.count("\n") == 1 and "--password-stdin" in asked.stderr and "Part 11" in asked.stderr
    wrong = _vote(url, round_ref, "--decision", "go", "--password-stdin", stdin="wrong one\n", expect=2)
    assert "did not verify" in wrong.stderr and wrong.stderr.count("\n") == 1
    assert _votes(world) == 0 and _audit(world, "security.refused")[0].payload["code"] == approvals.SIGNATURE_REFUSED
    ok = _vote(url, round_ref, "--decision", "go", "--password-stdin", stdin=PASSWORD + "\n", expect=0)
    assert "go on round" in ok.stdout
    assert _audit(world, "vote.cast")[0].payload["signer_name"] == "Sam Sponsor"


def test_a_remote_vote_signs_with_the_password_from_stdin(served: tuple[World, str], tmp_path: Path) -> None:
    """`phasegate login` on a laptop, then `vote --password-stdin`: the server asks for the signature, a wrong
    one is refused as such (not as a token problem), the right one signs; nothing runs on a local database."""
    from tests.test_remote_cli import Laptop

    w, base = served
    with w.rt.sessions() as session, session.begin():
        _, token = create_token(session, "sam", "approver", datetime.now(UTC), audit_key=w.rt.audit_key)
    laptop = Laptop(tmp_path / "sam-laptop")
    laptop.run("login", base, "--token-stdin", stdin=token + "\n")
    unsigned = laptop.run("vote", str(w.round_id), "--decision", "go", expect=2, stdin="")
    assert "--password-stdin" in unsigned.stderr and "electronic signatures" in unsigned.stderr, unsigned.stderr
    wrong = laptop.run("vote", str(w.round_id), "--decision", "go", "--password-stdin", stdin="nope\n", expect=2)
    assert "did not verify" in wrong.stderr and "token" not in wrong.stderr, wrong.stderr
    signed = laptop.run("vote", str(w.round_id), "--decision", "go", "--password-stdin", stdin=PASSWORD + "\n")
    assert "sam: go on round" in signed.stdout, signed.stdout
    assert _audit(w, "vote.cast")[0].payload["signature"] == "part11" and _votes(w) == 1
    assert not (laptop.home / "phasegate-home").exists()


# ------------------------------------------------------------------------------------------------ browser
@pytest.fixture
def served(sqlite_url: str, tmp_path: Path, receiver: HttpReceiver) -> Iterator[tuple[World, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    w = part11_world(sqlite_url, base, tmp_path, receiver)
    server = uvicorn.Server(uvicorn.Config(create_app(w.settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield w, base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        w.rt.engine.dispose()


def test_the_approval_page_asks_the_password_and_refuses_a_wrong_one(served: tuple[World, str]) -> None:
    w, base = served
    (link,) = w.links()
    assert link.startswith(base + "/approve/")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
        assert (opened := page.goto(link)) is not None and opened.status == 200
        assert page.locator("#signature legend").inner_text() == "Electronic signature (21 CFR Part 11)"
        page.check('input[name="decision"][value="go"]')
        page.fill("#reason", "Charter signed")
        page.fill("#sign-password", "this is not it")
        with page.expect_navigation() as refused_nav:
            page.click("#vote button[type=submit]")
        refused = refused_nav.value
        assert refused is not None and refused.status == 403
        assert "Your signature did not verify" in page.locator("#vote [role=alert]").inner_text()
        page.screenshot(path=str(artifact("part11-refused.png")), full_page=True)
        assert _votes(w) == 0 and _audit(w, "security.refused")[0].payload["code"] == approvals.SIGNATURE_REFUSED
        page.check('input[name="decision"][value="go"]')
        page.fill("#sign-password", PASSWORD)
        with page.expect_navigation():
            page.click("#vote button[type=submit]")
        assert page.locator("#vote-result").inner_text().startswith("Your vote has been recorded.")
        page.screenshot(path=str(artifact("part11-signed.png")), full_page=True)
    (cast,) = _audit(w, "vote.cast")
    assert (cast.payload["signature"], cast.payload["meaning"], cast.payload["signer_name"]) == (
        "part11",
        "approved",
        "Sam Sponsor",
    )

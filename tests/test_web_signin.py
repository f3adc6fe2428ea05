"""Web sign-in on SQLite and PostgreSQL: the gate in front of every page, passwords and TOTP, sessions that end
at once, CSRF refusals audited, throttling, rate-limited refusal audit, and the security headers on every route.

Everything runs for real: the app through Starlette's test client on a real database, passwords through
argon2id, one-time codes from pyotp with the stored secret, audit entries read back from the hash-chained log.
The browser and single sign-on round trips are in tests/test_web_sso.py and tests/test_part11.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.routing import Mount

from phasegate.flows.cli.common import os_login
from phasegate.gates.vocabulary.commands import UpdatePerson
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models import tables as t
from phasegate.models.audit_store import verify_audit
from phasegate.models.credentials import enable_totp
from phasegate.usecases import people
from phasegate.web import session as web_session
from phasegate.web.app import create_app
from phasegate.web.headers import SECURITY_HEADERS
from phasegate.web.refusals import PER_MINUTE, SUPPRESSED
from phasegate.web.throttle import PER_ACCOUNT, PER_SOURCE
from tests.browser import artifact, chromium
from tests.conftest import TEST_AUDIT_KEY
from tests.receivers import HttpReceiver, free_port
from tests.signin import PASSWORD, csrf_token, give_password, sign_in
from tests.test_web_pages import KEY, World, _now, build_world

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))


@pytest.fixture
def world(db_url: str, tmp_path: Path, receiver: HttpReceiver) -> Iterator[World]:
    w = build_world(db_url, "http://testserver", tmp_path, receiver)
    give_password(w.rt.sessions, "sam", audit_key=w.rt.audit_key)
    yield w
    w.rt.engine.dispose()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings)) as c:
        yield c


def _audit(w: World, action: str) -> list[t.AuditEntry]:
    with w.rt.sessions() as session:
        return list(
            session.scalars(select(t.AuditEntry).where(t.AuditEntry.action == action).order_by(t.AuditEntry.seq))
        )


def _chain_ok(w: World) -> None:
    with w.rt.sessions() as session, session.begin():
        assert verify_audit(session, key=w.rt.audit_key) is None


def _live_sessions(w: World, person_id: str) -> int:
    with w.rt.sessions() as session:
        rows = session.scalars(
            select(t.WebSession.id_hash).where(t.WebSession.person_id == person_id, t.WebSession.revoked_at.is_(None))
        )
        return len(list(rows))


# ------------------------------------------------------------------------------------------------ the gate
def test_pages_redirect_to_sign_in_and_only_the_open_paths_stay_open(world: World, client: TestClient) -> None:
    for path in ("/", f"/projects/{KEY}", "/projects/NOPE", "/no/such/page"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin?next="), path
    assert client.get(f"/projects/{KEY}").url.path == "/signin"  # and it lands on the form, next kept
    assert f'name="next" value="/projects/{KEY}"' in client.get(f"/signin?next=/projects/{KEY}").text
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/api/v1/projects").status_code == 401  # the API keeps its bearer tokens: no redirect
    approval_link = world.links()[0].split("testserver", 1)[1]
    assert client.get(approval_link).status_code == 200  # the signed link is its own credential
    zh = client.get("/signin", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 200 and "登录" in zh.text and "人员 ID" in zh.text
    assert "Sign in" in client.get("/signin", headers={"Accept-Language": "en-US"}).text


def test_next_never_leaves_the_site(world: World) -> None:
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        with TestClient(create_app(world.settings)) as fresh:
            response = sign_in(fresh, "sam", next_path=evil)
        assert response.status_code == 303 and response.headers["location"] == "/", evil


# ------------------------------------------------------------------------------------------------ passwords
def test_sign_in_with_a_password_then_sign_out_ends_the_session_row(world: World, client: TestClient) -> None:
    wrong = sign_in(client, "sam", "not the password at all")
    assert wrong.status_code == 401 and "Sign-in failed" in wrong.text
    assert "phasegate_session" not in wrong.headers.get("set-cookie", "")
    unknown = sign_in(client, "nobody", PASSWORD)
    assert unknown.status_code == 401 and "Sign-in failed" in unknown.text  # the same answer for an unknown id
    refused = _audit(world, "signin.refused")
    assert [(e.payload["account"], e.payload["code"]) for e in refused] == [
        ("sam", "signin.bad_password"),
        ("nobody", "signin.no_account"),
    ]
    assert all(e.actor == "anonymous" and e.payload["source"] for e in refused)

    ok = sign_in(client, "sam", next_path=f"/projects/{KEY}")
    assert ok.status_code == 303 and ok.headers["location"] == f"/projects/{KEY}"
    cookie = ok.headers["set-cookie"]
    assert "phasegate_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # http://testserver; see the https test below
    stolen = client.cookies.get(web_session.COOKIE)
    page = client.get(f"/projects/{KEY}")
    assert page.status_code == 200 and "Sam Sponsor" in page.text and 'id="signout"' in page.text
    assert [e.payload["method"] for e in _audit(world, "signin.succeeded")] == ["password"]
    with world.rt.sessions() as session:
        stored = session.scalars(select(t.WebSession.id_hash)).all()
    assert stored and all(len(h) == 64 and h not in (stolen or "") for h in stored)  # only the id's hash is kept

    found = re.search(r'name="signout_token" value="([0-9a-f]+)"', page.text)
    assert found
    forged = client.post("/signout", data={"signout_token": "0" * 64}, follow_redirects=False)
    assert forged.status_code == 403
    assert [e.payload["form"] for e in _audit(world, "security.csrf_refused")] == ["signout"]
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in

    out = client.post("/signout", data={"signout_token": found.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin?out=1"
    assert _live_sessions(world, "sam") == 0
    assert [e.actor for e in _audit(world, "signout")] == ["sam"]
    # The same cookie, replayed after sign-out (say, copied before), opens nothing: the row is revoked.
    client.cookies.set(web_session.COOKIE, stolen or "")
    assert client.get("/", follow_redirects=False).status_code == 303
    _chain_ok(world)


def test_a_sign_in_form_without_its_csrf_token_is_refused_and_audited(world: World, client: TestClient) -> None:
    client.get("/signin")
    response = client.post("/signin", data={"person_id": "sam", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403 and "phasegate_session" not in response.headers.get("set-cookie", "")
    (entry,) = _audit(world, "security.csrf_refused")
    assert entry.payload["form"] == "signin" and entry.payload["code"] == "csrf.invalid"
    assert _live_sessions(world, "sam") == 0


def test_the_session_cookie_is_secure_behind_https(world: World) -> None:
    settings = world.settings.model_copy(update={"public_url": "https://pmo.example"})
    with TestClient(create_app(settings), base_url="https://testserver") as secure:
        response = sign_in(secure, "sam")
        assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_totp_once_enabled_is_required_and_each_code_works_once(world: World) -> None:
    with world.rt.sessions() as session, session.begin():
        uri = enable_totp(session, "sam", now=datetime.now(UTC), audit_key=world.rt.audit_key)
    assert uri.startswith("otpauth://totp/") and "issuer=phasegate" in uri
    totp = pyotp.parse_uri(uri)
    with TestClient(create_app(world.settings)) as first, TestClient(create_app(world.settings)) as second:
        assert sign_in(first, "sam").status_code == 401  # the password alone is no longer enough
        assert sign_in(first, "sam", code="000000" if totp.now() != "000000" else "111111").status_code == 401
        code = totp.now()
        assert sign_in(first, "sam", code=code).status_code == 303
        assert first.get("/", follow_redirects=False).status_code == 200
        assert sign_in(second, "sam", code=code).status_code == 401  # a code seen over a shoulder: spent
    codes = [e.payload["code"] for e in _audit(world, "signin.refused")]
    assert codes == ["signin.totp_required", "signin.bad_totp", "signin.bad_totp"]


# ------------------------------------------------------------------------------------------------ sessions end
def test_sessions_end_on_password_change_idle_and_absolute_timeouts(world: World, client: TestClient) -> None:
    assert sign_in(client, "sam").status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    give_password(
        world.rt.sessions, "sam", "a brand new passphrase 42", audit_key=world.rt.audit_key
    )  # revokes every open sign-in at once
    assert client.get("/", follow_redirects=False).status_code == 303
    assert _audit(world, "session.revoked")[-1].payload == {"sessions": 1, "why": "password changed"}

    assert sign_in(client, "sam", "a brand new passphrase 42").status_code == 303
    idle = timedelta(minutes=world.settings.session_idle_minutes, seconds=5)
    with world.rt.sessions() as session, session.begin():
        session.execute(update(t.WebSession).values(last_seen_at=datetime.now(UTC) - idle))
    assert client.get("/", follow_redirects=False).status_code == 303

    assert sign_in(client, "sam", "a brand new passphrase 42").status_code == 303
    with world.rt.sessions() as session, session.begin():
        session.execute(update(t.WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.skipif("disabled" not in t.Person.__table__.c, reason="people.disabled arrives with migration 0005")
def test_a_disabled_person_cannot_sign_in_and_is_signed_out_at_once(world: World, client: TestClient) -> None:
    assert sign_in(client, "sam").status_code == 303
    with world.rt.sessions() as session, session.begin():
        session.execute(update(t.Person).where(t.Person.id == "sam").values(disabled=True))
    assert client.get("/", follow_redirects=False).status_code == 303
    assert sign_in(client, "sam").status_code == 401
    assert _audit(world, "signin.refused")[-1].payload["code"] == "signin.disabled"


# ------------------------------------------------------------------------------------------------ throttling
def test_sign_in_is_throttled_per_account_then_per_source(world: World) -> None:
    # More refusals than the audit ledger writes per minute by default: raise it so every one can be read back.
    client = TestClient(create_app(world.settings.model_copy(update={"refusals_per_minute": 100})))
    for _ in range(PER_ACCOUNT):
        assert sign_in(client, "sam", "guess guess guess").status_code == 401
    blocked = sign_in(client, "sam", PASSWORD)  # even the right password waits out the window
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    assert [e.payload["limit"] for e in _audit(world, "signin.throttled")] == ["account"]
    give_password(world.rt.sessions, "pam", audit_key=world.rt.audit_key)
    for n in range(PER_SOURCE - PER_ACCOUNT):
        assert sign_in(client, f"someone{n}", "guess guess guess").status_code == 401
    other = sign_in(client, "pam", PASSWORD)  # a fresh account, but this source is over its limit
    assert other.status_code == 429
    assert _audit(world, "signin.throttled")[-1].payload["limit"] == "source"
    assert _live_sessions(world, "sam") == _live_sessions(world, "pam") == 0


# ------------------------------------------------------------------------------------------------ refusal audit
def test_refusals_are_audited_at_most_n_a_minute_per_source_and_the_rest_counted(world: World) -> None:
    extra = 7
    with TestClient(create_app(world.settings)) as c:
        for _ in range(PER_MINUTE + extra):
            assert c.get("/api/v1/projects", headers={"Authorization": "Bearer pgt_forged"}).status_code == 401
        written = _audit(world, "security.api_refused")
        if len({e.at.replace(second=0, microsecond=0) for e in written}) > 1:  # two windows, each with its own
            pytest.skip("a minute boundary fell inside the burst")  # allowance (a loaded host takes seconds)
        assert len(written) == PER_MINUTE
        assert {e.payload["code"] for e in written} == {"auth.invalid"}
        assert written[0].payload["path"] == "/api/v1/projects" and written[0].payload["status"] == 401
    (summary,) = _audit(world, SUPPRESSED)  # written when the app stopped
    assert summary.payload["suppressed"] == extra and summary.payload["by_action"] == {"security.api_refused": extra}
    _chain_ok(world)


def test_an_api_token_without_the_role_gets_403_and_an_audit_entry(world: World, client: TestClient) -> None:
    from phasegate.models.tokens import create_token

    with world.rt.sessions() as session, session.begin():
        _, token = create_token(session, "sam", "viewer", datetime.now(UTC), audit_key=TEST_AUDIT_KEY)
    response = client.post(
        "/api/v1/projects",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "key": "X1",
            "name": "x",
            "template_id": "it-pmo",
            "sponsor_id": "sam",
            "manager_id": "mgr",
            "budget": "1",
        },
    )
    assert response.status_code == 403 and response.json()["code"] == "auth.role"
    # the use case refused it (gates.authorization), and audited it once, with how the caller was identified
    (entry,) = _audit(world, "security.refused")
    assert (entry.actor, entry.payload["code"], entry.payload["auth_method"]) == ("sam", "auth.role", "api_token")
    assert [e.entity for e in _audit(world, "project.created")] == ["project:WEB1"]  # X1 was not created


# ------------------------------------------------------------------------------------------------ who votes
def _vote_on_the_link(world: World, client: TestClient) -> None:
    link = "/approve/" + world.links()[0].rsplit("/approve/", 1)[1]  # sam's: the sponsor is asked first
    page = client.get(link).text
    seen = re.search(r'name="evidence_hash" value="([0-9a-f]{64})"', page)
    assert seen, "the page shows the vote form"
    form = {"csrf_token": csrf_token(page), "evidence_hash": seen.group(1), "decision": "go", "reason": ""}
    voted = client.post(link, data=form, follow_redirects=False)
    assert voted.status_code == 303, voted.text


@pytest.mark.parametrize("signed_in_as", ["sam", "mgr", None])
def test_a_page_vote_records_the_sign_in_of_the_approver_or_else_the_link(
    world: World, client: TestClient, signed_in_as: str | None
) -> None:
    """Signed in as the link's approver, the vote is theirs by password; anyone else's sign-in lends it nothing."""
    if signed_in_as is not None:
        give_password(world.rt.sessions, signed_in_as)
        assert sign_in(client, signed_in_as).status_code == 303
    _vote_on_the_link(world, client)
    (entry,) = _audit(world, "vote.cast")
    assert entry.actor == "sam"
    assert entry.payload["auth_method"] == ("password" if signed_in_as == "sam" else "approval_link")


# ------------------------------------------------------------------------------------------------ headers
def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X1", path)


def test_every_route_answers_with_the_security_headers(world: World, client: TestClient) -> None:
    routes: list[tuple[str, str]] = []
    flat: list[Any] = []
    for route in create_app(world.settings).routes:  # newer FastAPI keeps an included router as one entry
        included = getattr(route, "original_router", None)
        flat += list(included.routes) if included is not None else [route]
    for route in flat:
        if isinstance(route, APIRoute):
            routes += [(method, _concrete(route.path)) for method in sorted(route.methods)]
        elif isinstance(route, Mount):
            routes.append(("GET", route.path + "/style.css"))
        elif hasattr(route, "path"):
            routes.append(("GET", _concrete(route.path)))
    assert len(routes) > 20 and ("GET", "/signin") in routes and ("POST", "/signout") in routes

    def check(who: str) -> None:
        for method, path in routes:
            response = client.request(method, path, follow_redirects=False)
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (who, method, path, response.status_code, name)

    check("anonymous")
    assert sign_in(client, "sam").status_code == 303
    check("signed in")


# ------------------------------------------------------------------------------------------------ CLI
def _cli(url: str, *args: str, stdin: str = "", expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [PHASEGATE, *args, "--db", url], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def test_account_commands_set_a_password_and_enable_totp(world: World) -> None:
    """Run at mgr's own OS login: their own account, never someone else's (that is a pmo_admin's act)."""
    url = world.settings.resolved_database_url
    people.update_person(UpdatePerson(id="mgr", login=os_login()), actor=SYSTEM_ACTOR, uow=world.uow, now=_now())
    with world.rt.sessions() as session:
        before = session.get(t.WebCredential, "mgr")
    assert before is None
    for weak, why in (
        ("short", "at least 12 characters"),
        ("password1234", "common passwords"),
        ("123456789012345", "digits only"),
        ("Mia Manager rocks!", "your own id, name or e-mail"),
        ("aaaaaaaaaaaaaaaa", "too few different characters"),
    ):
        refused = _cli(url, "account", "set-password", "mgr", "--password-stdin", stdin=weak + "\n", expect=2)
        assert refused.stderr.count("\n") == 1 and "password: refused" in refused.stderr and why in refused.stderr
    with world.rt.sessions() as session:
        assert session.get(t.WebCredential, "mgr") is None  # nothing written
    no_tty = _cli(url, "account", "set-password", "mgr", expect=2)
    assert "--password-stdin" in no_tty.stderr
    assert "PERSON" in _cli(url, "account", "totp", "mgr", expect=2).stderr  # no password yet
    _cli(url, "account", "set-password", "mgr", "--password-stdin", stdin="managers plan the work\n")
    for other in ("sam", "ghost"):  # someone else's sign-in is not mgr's to set: refused and audited
        refused = _cli(url, "account", "set-password", other, "--password-stdin", stdin="x" * 20, expect=2)
        assert refused.stderr.count("\n") == 1 and "manage web sign-in credentials" in refused.stderr
    assert [e.entity for e in _audit(world, "security.refused")] == ["person:sam", "person:ghost"]
    with world.rt.sessions() as session:
        assert session.get(t.WebCredential, "sam") is not None  # the fixture's password, untouched
    assert "manage web sign-in credentials" in _cli(url, "account", "totp", "sam", expect=2).stderr
    shown = _cli(url, "account", "totp", "mgr")
    uri = shown.stdout.strip()
    assert uri.startswith("otpauth://totp/phasegate:mgr%40example.com?secret=")
    with world.rt.sessions() as session:
        row = session.get(t.WebCredential, "mgr")
        assert row is not None and row.password_hash.startswith("$argon2id$") and row.totp_secret
        assert "managers plan the work" not in row.password_hash
    with TestClient(create_app(world.settings)) as c:
        assert sign_in(c, "mgr", "managers plan the work", code=pyotp.parse_uri(uri).now()).status_code == 303
    actions = [e.action for e in _audit(world, "account.password_set") + _audit(world, "account.totp_enabled")]
    entities = [e.entity for e in _audit(world, "account.password_set") + _audit(world, "account.totp_enabled")]
    assert list(zip(actions, entities, strict=True))[-2:] == [
        ("account.password_set", "person:mgr"),
        ("account.totp_enabled", "person:mgr"),
    ]


# ------------------------------------------------------------------------------------------------ browser
@pytest.fixture
def served(sqlite_url: str, tmp_path: Path, receiver: HttpReceiver) -> Iterator[tuple[World, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    w = build_world(sqlite_url, base, tmp_path, receiver)
    give_password(w.rt.sessions, "pam", audit_key=w.rt.audit_key)
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


def test_a_person_signs_in_with_a_one_time_code_and_out_again_in_chromium(served: tuple[World, str]) -> None:
    w, base = served
    with w.rt.sessions() as session, session.begin():
        totp = pyotp.parse_uri(enable_totp(session, "pam", now=datetime.now(UTC), audit_key=w.rt.audit_key))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.goto(f"{base}/projects/{KEY}")  # a Chinese browser asks for a project page: the sign-in comes first
        assert page.url.startswith(f"{base}/signin?next=") and page.locator("h1").inner_text() == "登录"
        page.screenshot(path=str(artifact("signin-zh-CN.png")), full_page=True)
        page.fill("#person_id", "pam")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("#signin-form button[type=submit]")  # no code: refused, the form comes back
        assert "登录失败" in page.locator("#signin-error").inner_text()
        page.fill("#password", PASSWORD)
        page.fill("#one_time_code", totp.now())
        with page.expect_navigation():
            page.click("#signin-form button[type=submit]")
        assert page.url == f"{base}/projects/{KEY}" and page.locator("#signed-in-as").inner_text() == "王芳"
        cookie = next(c for c in page.context.cookies() if c["name"] == web_session.COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        page.screenshot(path=str(artifact("signed-in-project-zh-CN.png")), full_page=True)
        with page.expect_navigation():
            page.click("#signout")
        assert "/signin" in page.url and "您已退出登录" in page.locator("#signin-notice").inner_text()
        back = page.goto(f"{base}/projects/{KEY}")
        assert back is not None and "/signin" in back.url  # the session row is revoked: the cookie opens nothing
    assert [e.actor for e in _audit(w, "signout")] == ["pam"]
    assert [e.payload["code"] for e in _audit(w, "signin.refused")] == ["signin.totp_required"]


def test_importing_the_credentials_spends_no_argon2_work() -> None:
    """Every CLI vote imports ``models.credentials`` and needs none of its hashing: the unknown person's dummy
    hash (a whole argon2 hash, 0.1 s to 0.9 s) is made on first need, not at import (it was, until 2026-12-07)."""
    probe = "import phasegate.models.credentials as c; print(c.dummy_hash.cache_info().currsize)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "0"

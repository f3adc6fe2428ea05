"""Single sign-on against a real OpenID Connect provider: ``oidc-provider-mock`` started as its own process.

The app is served by uvicorn on a free port and driven through the real authorization-code flow by an HTTP
client that follows redirects as a browser does: our redirect to the provider, its authorization form, the
code back to our callback, Authlib's token exchange and ID-token checks, and the session cookie at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import select

from phasegate.models import tables as t
from phasegate.web.app import create_app
from tests.receivers import HttpReceiver, free_port
from tests.test_web_pages import KEY, World, build_world

PROVIDER = str(Path(sys.executable).with_name("oidc-provider-mock"))
SSO_SAM = {"sub": "sso-sam-0001", "email": "SAM@example.com", "email_verified": True, "name": "Sam S."}
SSO_UNVERIFIED = {"sub": "sso-mallory", "email": "pam@example.com", "email_verified": False}


@pytest.fixture
def provider() -> Iterator[str]:
    """The provider process on 127.0.0.1:PORT, with two predefined users; stopped (by its pid) at the end."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    args = [PROVIDER, "--port", str(port), "--user-claims", json.dumps(SSO_SAM)]
    args += ["--user-claims", json.dumps(SSO_UNVERIFIED)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, f"the provider exited: {process.stderr.read() if process.stderr else ''}"
            assert time.monotonic() < deadline, "the OIDC provider did not start"
            time.sleep(0.2)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def served(db_url: str, tmp_path: Path, receiver: HttpReceiver, provider: str) -> Iterator[tuple[World, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    w = build_world(db_url, base, tmp_path, receiver)
    settings = w.settings.model_copy(
        update={
            "oidc_issuer": provider,
            "oidc_client_id": "phasegate-test",
            "oidc_client_secret": SecretStr("phasegate-test-client-secret"),
        }
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
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


def _audit(w: World, action: str) -> list[t.AuditEntry]:
    with w.rt.sessions() as session:
        query = select(t.AuditEntry).where(t.AuditEntry.action == action).order_by(t.AuditEntry.seq)
        return list(session.scalars(query))


def _authorize(http: httpx.Client, base: str, subject: str, next_path: str = "/") -> httpx.Response:
    """Start at our sign-in, land on the provider's form, pick ``subject``; return where the redirects end."""
    form = http.get(f"{base}/signin/sso", params={"next": next_path})
    assert form.status_code == 200 and "Authorize" in form.text, form.text[:500]
    assert form.url.port != httpx.URL(base).port  # we are at the provider now
    return http.post(str(form.url), data={"sub": subject})


def test_a_verified_email_signs_in_and_links_the_identity(served: tuple[World, str], provider: str) -> None:
    w, base = served
    page = httpx.get(f"{base}/signin")
    assert 'id="signin-sso"' in page.text  # the button shows when the three settings are set
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        landed = _authorize(http, base, SSO_SAM["sub"], next_path=f"/projects/{KEY}")
        assert landed.status_code == 200 and landed.url.path == f"/projects/{KEY}"
        assert "Sam Sponsor" in landed.text
        assert http.get(f"{base}/").status_code == 200
    with w.rt.sessions() as session:
        (identity,) = session.scalars(select(t.ExternalIdentity)).all()
        methods = list(session.scalars(select(t.WebSession.method)))
    assert (identity.issuer, identity.subject, identity.person_id) == (provider, SSO_SAM["sub"], "sam")
    assert methods == ["oidc"]
    assert [e.payload["method"] for e in _audit(w, "signin.succeeded")] == ["oidc"]
    assert _audit(w, "identity.linked")[0].payload["subject"] == SSO_SAM["sub"]

    # The second time the (issuer, subject) pair alone names the person.
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        again = _authorize(http, base, SSO_SAM["sub"])
        assert again.status_code == 200 and again.url.path == "/" and "Sam Sponsor" in again.text
    assert len(_audit(w, "identity.linked")) == 1


def test_an_unverified_or_unknown_identity_is_refused_and_audited(served: tuple[World, str]) -> None:
    w, base = served
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        unverified = _authorize(http, base, SSO_UNVERIFIED["sub"])  # claims pam's address, unverified
        assert unverified.status_code == 401 and unverified.url.path == "/signin/sso/callback"
        assert "Single sign-on did not confirm who you are" in unverified.text
        stranger = _authorize(http, base, "someone-else")  # the provider's default: email = sub, unverified
        assert stranger.status_code == 401
        assert http.get(f"{base}/", follow_redirects=False).status_code == 303  # not signed in
    refused = _audit(w, "signin.refused")
    assert [(e.payload["code"], e.payload["subject"]) for e in refused] == [
        ("sso.unknown_person", SSO_UNVERIFIED["sub"]),
        ("sso.unknown_person", "someone-else"),
    ]
    with w.rt.sessions() as session:
        assert session.scalars(select(t.ExternalIdentity)).all() == []

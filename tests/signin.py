"""Signing a test client in through the real sign-in form (CSRF token, argon2id check, session cookie)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from phasegate.models.credentials import set_password
from tests.conftest import TEST_AUDIT_KEY

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def give_password(
    sessions: sessionmaker[Session],
    person_id: str,
    password: str = PASSWORD,
    *,
    audit_key: bytes | None = TEST_AUDIT_KEY,
) -> None:
    with sessions() as session, session.begin():
        set_password(session, person_id, password, now=datetime.now(UTC), audit_key=audit_key)


def csrf_token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: Any, person_id: str, password: str = PASSWORD, *, code: str = "", next_path: str = "/") -> Any:
    """Post the sign-in form as a browser would; returns the response (303 to ``next_path`` on success)."""
    page = client.get("/signin", params={"next": next_path})
    fields = {"csrf_token": csrf_token(page.text), "person_id": person_id, "password": password, "next": next_path}
    if code:
        fields["one_time_code"] = code
    return client.post("/signin", data=fields, follow_redirects=False)

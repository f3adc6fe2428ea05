"""Signed-in browsers: server-side session rows behind a signed cookie, and the gate every page sits behind.

Why rows and not a self-contained signed cookie: signing out, changing a password and disabling a person must
end a sign-in *now*, on every browser, not when a cookie expires. The cookie carries a random id, signed
(itsdangerous) so a forged or truncated one is dropped without a query; the table stores only the id's sha256,
so a database dump opens no sessions.

A sign-in ends after ``PHASEGATE_SESSION_IDLE_MINUTES`` without a request (30) or ``PHASEGATE_SESSION_MAX_HOURS``
after it began (12), whichever comes first. ``last_seen_at`` is written at most once a minute per session, so
reading pages does not turn every request into a write.

The cookie is HttpOnly, SameSite=Lax (the single sign-on provider redirects back with a top-level GET, which
Strict would strip) and Secure when ``PHASEGATE_PUBLIC_URL`` is https.

``RequireSignIn`` lets through only what must work without a sign-in: the signed approval link (its token is
the credential, opened from a mail client), ``/static``, ``/healthz``, the sign-in pages and ``/api/`` (bearer
tokens). Everything else redirects to the sign-in page, which returns to the page asked for.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from phasegate.flows.runtime import Runtime, utc_now
from phasegate.gates.vocabulary.identity import Actor, AuthMethod
from phasegate.models import tables as t
from phasegate.models.credentials import disabled_column
from phasegate.models.keys import secret_key
from phasegate.models.settings import Settings

COOKIE = "phasegate_session"
TOUCH_EVERY = timedelta(minutes=1)
SIGNIN_PATH = "/signin"
OPEN_PREFIXES = ("/approve/", "/static/", "/api/", "/signin/")
UNGATED_PREFIXES = ("/api/", "/static/")
OPEN_PATHS = frozenset({"/healthz", SIGNIN_PATH, "/signout", "/openapi.json", "/docs", "/redoc"})
"""``/signout`` is open so a browser whose sign-in already ended can still post it; it is CSRF-checked anyway."""


@dataclass(frozen=True)
class SignedIn:
    """The person behind this browser's sign-in, as the pages know them."""

    person_id: str
    name: str
    method: AuthMethod
    id_hash: str

    def actor(self) -> Actor:
        return Actor(person_id=self.person_id, method=self.method)


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(settings), salt="phasegate.web-session")


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _id_hash(settings: Settings, cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        session_id = _serializer(settings).loads(cookie)
    except BadSignature:
        return None
    return _hash(session_id) if isinstance(session_id, str) else None


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.lower().startswith("https://")


def start(
    sessions: sessionmaker[Session], settings: Settings, *, person_id: str, method: AuthMethod, now: datetime
) -> str:
    """Open a sign-in for ``person_id`` and return the cookie value that names it."""
    session_id = secrets.token_urlsafe(32)
    with sessions() as session, session.begin():
        session.execute(
            insert(t.WebSession).values(
                id_hash=_hash(session_id),
                person_id=person_id,
                method=method.value,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=settings.session_max_hours),
            )
        )
    value: str = _serializer(settings).dumps(session_id)
    return value


def resolve(
    sessions: sessionmaker[Session],
    settings: Settings,
    cookie: str | None,
    now: datetime,
    *,
    readers: sessionmaker[Session] | None = None,
) -> SignedIn | None:
    """The live sign-in the cookie names, or None (unknown, forged, revoked, idle, expired, person disabled).

    ``readers`` (sessions that only read) answer the lookup on SQLite without waiting for a writer.
    """
    id_hash = _id_hash(settings, cookie)
    if id_hash is None:
        return None
    columns = [t.WebSession.person_id, t.WebSession.method, t.WebSession.last_seen_at, t.WebSession.expires_at]
    flag = disabled_column()
    query = (
        select(*columns, t.Person.name, *([flag] if flag is not None else []))
        .join(t.Person, t.Person.id == t.WebSession.person_id)
        .where(t.WebSession.id_hash == id_hash, t.WebSession.revoked_at.is_(None))
    )
    with (readers or sessions)() as session:
        row = session.execute(query).first()
    if row is None:
        return None
    person_id, method, name = str(row[0]), str(row[1]), str(row[4])
    last_seen, expires_at = cast(tuple[datetime, datetime], (row[2], row[3]))
    disabled = bool(row[5]) if flag is not None else False
    idle = timedelta(minutes=settings.session_idle_minutes)
    if disabled or now >= expires_at or now - last_seen >= idle:
        return None
    if now - last_seen >= TOUCH_EVERY:
        with sessions() as session, session.begin():
            session.execute(update(t.WebSession).where(t.WebSession.id_hash == id_hash).values(last_seen_at=now))
    return SignedIn(person_id=person_id, name=name, method=AuthMethod(method), id_hash=id_hash)


def end(sessions: sessionmaker[Session], settings: Settings, cookie: str | None, now: datetime) -> str | None:
    """Revoke the sign-in the cookie names; returns whose it was (None when there was none)."""
    id_hash = _id_hash(settings, cookie)
    if id_hash is None:
        return None
    with sessions() as session, session.begin():
        person_id = session.execute(
            select(t.WebSession.person_id).where(t.WebSession.id_hash == id_hash, t.WebSession.revoked_at.is_(None))
        ).scalar()
        if person_id is not None:
            session.execute(update(t.WebSession).where(t.WebSession.id_hash == id_hash).values(revoked_at=now))
    return person_id


def set_cookie(response: Response, settings: Settings, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings))


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class RequireSignIn:
    """Every page but the open ones needs a live sign-in; the person is put on ``request.state.signed_in``."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        if path.startswith(UNGATED_PREFIXES):  # the API and static files never look at a sign-in
            await self.app(scope, receive, send)
            return
        rt = self.runtime
        cookie = request.cookies.get(COOKIE)
        signed = None
        if cookie:
            signed = await run_in_threadpool(
                resolve, rt.sessions, rt.settings, cookie, utc_now(), readers=rt.read_sessions
            )
        scope.setdefault("state", {})["signed_in"] = signed
        if signed is None and not is_open(path):
            wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"{SIGNIN_PATH}?next={quote(wanted, safe='')}", status_code=303)
            if request.cookies.get(COOKIE):
                clear_cookie(response, rt.settings)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def signed_in(request: Request) -> SignedIn | None:
    found = getattr(request.state, "signed_in", None)
    return found if isinstance(found, SignedIn) else None

"""Single sign-on through the organisation's OpenID Connect provider (Authlib), mapped to phasegate people.

Turned on by ``PHASEGATE_OIDC_ISSUER``, ``PHASEGATE_OIDC_CLIENT_ID`` and ``PHASEGATE_OIDC_CLIENT_SECRET``; the
provider must allow the redirect URI ``PHASEGATE_PUBLIC_URL/signin/sso/callback``. Authlib runs the
authorization-code flow: discovery from ``ISSUER/.well-known/openid-configuration``, ``state`` and ``nonce``
kept in a short-lived signed cookie (Starlette's session middleware, ``phasegate_sso``, 10 minutes), and the
ID token's signature, issuer, audience, expiry and nonce checked before any claim is read.

Who that is, here: the (issuer, subject) pair recorded in ``external_identities``; the first time, the person
whose e-mail address equals the token's ``email`` *when the provider says it is verified* (``email_verified``),
and that link is then recorded so a later change of address does not move the identity to someone else.
Anything else is refused (and audited): an unverified or unknown address, a disabled person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Request
from sqlalchemy import func, insert, select, update
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from phasegate.flows.runtime import Runtime, utc_now
from phasegate.gates.vocabulary.identity import AuthMethod
from phasegate.models import tables as t
from phasegate.models.credentials import person_is_disabled
from phasegate.models.settings import Settings
from phasegate.web import pages, session
from phasegate.web.refusals import audit_refusal
from phasegate.web.signin import SIGNIN_REFUSED, signed_in_response, signin_page

router = APIRouter(include_in_schema=False)

CALLBACK = "/signin/sso/callback"
COOKIE = "phasegate_sso"
NEXT_KEY = "phasegate_next"


def _client(request: Request, settings: Settings) -> Any:
    """The app's Authlib client for the configured provider (registered once per app)."""
    state = request.app.state
    oauth = getattr(state, "oauth", None)
    if not isinstance(oauth, OAuth):
        oauth = state.oauth = OAuth()
        secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        oauth.register(
            name="sso",
            client_id=settings.oidc_client_id,
            client_secret=secret,
            server_metadata_url=f"{(settings.oidc_issuer or '').rstrip('/')}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile"},
        )
    return oauth.create_client("sso")


def _person_for(
    rt: Runtime, *, issuer: str, subject: str, email: str | None, verified: bool, now: datetime
) -> str | None:
    """The person this identity belongs to (linking it on first use by verified e-mail), or None."""
    with rt.sessions() as db, db.begin():
        known = db.execute(
            select(t.ExternalIdentity.person_id).where(
                t.ExternalIdentity.issuer == issuer, t.ExternalIdentity.subject == subject
            )
        ).scalar()
        if known is not None:
            db.execute(
                update(t.ExternalIdentity)
                .where(t.ExternalIdentity.issuer == issuer, t.ExternalIdentity.subject == subject)
                .values(last_seen_at=now)
            )
            return None if person_is_disabled(db, known) else str(known)
        if not email or not verified:
            return None
        matches = list(db.scalars(select(t.Person.id).where(func.lower(t.Person.email) == email.lower()).limit(2)))
        if len(matches) != 1 or person_is_disabled(db, matches[0]):
            return None
        person_id = matches[0]
        db.execute(
            insert(t.ExternalIdentity).values(
                issuer=issuer, subject=subject, person_id=person_id, email=email, created_at=now, last_seen_at=now
            )
        )
    with rt.uow() as tx:
        tx.append_audit(
            actor=person_id,
            action="identity.linked",
            entity=f"person:{person_id}",
            payload={"issuer": issuer, "subject": subject, "email": email},
            at=now,
        )
        tx.commit()
    return person_id


@router.get("/signin/sso")
async def start_sso(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    rt = pages.runtime_of(request)
    if not rt.settings.oidc_enabled:
        return signin_page(request, status=404, target=next, error_key="signin_sso_failed")
    request.session[NEXT_KEY] = session.safe_next(next)
    redirect_uri = rt.settings.public_url.rstrip("/") + CALLBACK
    response: Response = await _client(request, rt.settings).authorize_redirect(request, redirect_uri)
    return response


@router.get(CALLBACK)
async def finish_sso(request: Request) -> Response:
    rt = pages.runtime_of(request)
    target = session.safe_next(request.session.pop(NEXT_KEY, "/"))
    if not rt.settings.oidc_enabled:
        return signin_page(request, status=404, target=target, error_key="signin_sso_failed")
    now = utc_now()
    claims: dict[str, Any] = {}
    why = None
    try:
        token = await _client(request, rt.settings).authorize_access_token(request)
        claims = dict(token.get("userinfo") or {})
    except OAuthError as err:
        why = f"sso.{err.error}"
    person_id = None
    if why is None:
        person_id = await run_in_threadpool(
            _person_for,
            rt,
            issuer=str(claims.get("iss", "")),
            subject=str(claims.get("sub", "")),
            email=str(claims["email"]) if claims.get("email") else None,
            verified=claims.get("email_verified") is True,
            now=now,
        )
        why = None if person_id is not None else "sso.unknown_person"
    if person_id is None:
        payload = {
            "code": why,
            "method": AuthMethod.OIDC.value,
            "subject": claims.get("sub"),
            "email": claims.get("email"),
        }
        await run_in_threadpool(
            audit_refusal, request, rt.uow, action=SIGNIN_REFUSED, entity="signin", payload=payload, now=now
        )
        return signin_page(request, status=401, target=target, error_key="signin_sso_failed")
    return await run_in_threadpool(
        signed_in_response, request, rt, person_id=person_id, method=AuthMethod.OIDC, target=target
    )

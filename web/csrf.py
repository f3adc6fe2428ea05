"""CSRF protection for server-rendered forms: a signed double-submit cookie.

Why this shape: not every form has a sign-in to hang a token on (an approval link is opened from a mail
client, the sign-in form comes before any sign-in), so each browser gets a random, HttpOnly, SameSite=Strict
cookie, and each form carries ``HMAC(secret, cookie + scope)``. A cross-site page can neither read the cookie
nor compute the HMAC, and a token minted for one form (``scope``: the approval link it belongs to, ``signin``,
``signout``) is useless on another. Every form POST verifies its token; a failure is refused (403) and audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from phasegate.gates.vocabulary.errors import PermissionDeniedError

COOKIE = "phasegate_csrf"
FIELD = "csrf_token"
SIGNIN = "signin"
SIGNOUT = "signout"
SIGNOUT_FIELD = "signout_token"
"""The sign-out form sits in every page's header: its own field name keeps it apart from the page's form."""
REFUSED = "security.csrf_refused"
"""The audit action of a form POST refused for its CSRF token (written through ``web.refusals``)."""


class CsrfError(PermissionDeniedError):
    code = "csrf.invalid"


def _sign(secret: str, cookie: str, scope: str) -> str:
    message = f"{cookie}\x00{scope}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def browser_secret(request: Request) -> tuple[str, bool]:
    """This browser's CSRF cookie value, and whether it is new (the response must then set it)."""
    current = request.cookies.get(COOKIE, "")
    if len(current) >= 32:
        return current, False
    # One fresh value per request: a page with two forms (a vote and sign-out) must sign both with it.
    fresh = getattr(request.state, "csrf_fresh", None)
    if not isinstance(fresh, str):
        fresh = secrets.token_urlsafe(32)
        request.state.csrf_fresh = fresh
    return fresh, True


def issue(request: Request, secret: str, scope: str) -> tuple[str, str | None]:
    """The form token for ``scope`` and, when the browser had none, the cookie value to set."""
    cookie, fresh = browser_secret(request)
    return _sign(secret, cookie, scope), cookie if fresh else None


def remember(response: Response, request: Request, cookie: str | None) -> None:
    if cookie is not None:
        response.set_cookie(
            COOKIE, cookie, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
        )


def verify(request: Request, secret: str, scope: str, token: str | None) -> None:
    """Raise CsrfError unless ``token`` was issued to this browser for ``scope``."""
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not token or not hmac.compare_digest(_sign(secret, cookie, scope), token):
        raise CsrfError("csrf_token: the form token is missing or does not match this browser; reload the page")

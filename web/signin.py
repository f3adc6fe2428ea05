"""Signing in and out of the web pages with a local account: person id, password, and TOTP when enabled.

The sign-in form, like every form, carries a CSRF token (``web.csrf``, scope ``signin``). A refused attempt
says only that sign-in failed (never whether the person exists, the password or the code was wrong, or the
account is disabled); the audit entry names the reason. Attempts are throttled per account and per source
(``web.throttle``) before any password is checked. A successful sign-in replaces the browser's previous one
(no session fixation) and returns to the page that asked for it (a path on this site only).

Single sign-on (OIDC) is in ``web.sso``; the session rows and the gate in front of every page in ``web.session``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from phasegate.flows.runtime import Runtime, utc_now
from phasegate.gates.vocabulary.identity import AuthMethod
from phasegate.models.credentials import SignInCheck, check
from phasegate.models.keys import secret_key
from phasegate.web import csrf, pages, session
from phasegate.web.refusals import audit_refusal, source_of
from phasegate.web.throttle import SignInThrottle

router = APIRouter(include_in_schema=False)

CSRF_REFUSED = csrf.REFUSED
SIGNIN_REFUSED = "signin.refused"
SIGNIN_THROTTLED = "signin.throttled"
SIGNED_IN = "signin.succeeded"
SIGNED_OUT = "signout"


def throttle_of(request: Request) -> SignInThrottle:
    state = request.app.state
    found = getattr(state, "signin_throttle", None)
    if not isinstance(found, SignInThrottle):
        found = state.signin_throttle = SignInThrottle()
    return found


def _secret(rt: Runtime) -> str:
    return secret_key(rt.settings)


def signin_page(
    request: Request,
    *,
    status: int = 200,
    target: str = "/",
    person_id: str = "",
    error_key: str | None = None,
    notice_key: str | None = None,
) -> HTMLResponse:
    rt = pages.runtime_of(request)
    token, cookie = csrf.issue(request, _secret(rt), csrf.SIGNIN)
    response = pages.render(
        request,
        "signin.html",
        status=status,
        csrf_field=csrf.FIELD,
        csrf_token=token,
        next=session.safe_next(target),
        person_id=person_id,
        error_key=error_key,
        notice_key=notice_key,
        sso=rt.settings.oidc_enabled,
    )
    csrf.remember(response, request, cookie)
    return response


def signed_in_response(request: Request, rt: Runtime, *, person_id: str, method: AuthMethod, target: str) -> Response:
    """Open the sign-in (ending the browser's previous one), audit it, and go where the person was headed."""
    now = utc_now()
    session.end(rt.sessions, rt.settings, request.cookies.get(session.COOKIE), now)
    value = session.start(rt.sessions, rt.settings, person_id=person_id, method=method, now=now)
    with rt.uow() as tx:
        tx.append_audit(
            actor=person_id,
            action=SIGNED_IN,
            entity=f"person:{person_id}",
            payload={"method": method.value, "source": source_of(request)},
            at=now,
        )
        tx.commit()
    response = RedirectResponse(session.safe_next(target), status_code=303)
    session.set_cookie(response, rt.settings, value)
    return response


@router.get("/signin", response_class=HTMLResponse)
def show_signin(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    if session.signed_in(request) is not None:
        return RedirectResponse(session.safe_next(next), status_code=303)
    notice = "signed_out" if request.query_params.get("out") == "1" else None
    return signin_page(request, target=next, notice_key=notice)


@dataclass(frozen=True)
class _Attempt:
    outcome: SignInCheck | None  # None: throttled before any check
    blocked_by: str | None = None


def _attempt(request: Request, rt: Runtime, person_id: str, password: str, code: str | None) -> _Attempt:
    now = utc_now()
    throttle = throttle_of(request)
    source = source_of(request)
    blocked = throttle.blocked(account=person_id, source=source, now=now)
    if blocked is not None:
        payload = {"account": person_id, "limit": blocked}
        audit_refusal(request, rt.uow, action=SIGNIN_THROTTLED, entity="signin", payload=payload, now=now)
        return _Attempt(outcome=None, blocked_by=blocked)
    outcome = check(rt.sessions, person_id, password, code, now=now, readers=rt.read_sessions)
    if outcome is SignInCheck.OK:
        throttle.succeeded(account=person_id)
        return _Attempt(outcome=outcome)
    throttle.failed(account=person_id, source=source, now=now)
    payload = {"account": person_id, "code": f"signin.{outcome.value}", "method": AuthMethod.PASSWORD.value}
    audit_refusal(request, rt.uow, action=SIGNIN_REFUSED, entity="signin", payload=payload, now=now)
    return _Attempt(outcome=outcome)


@router.post("/signin", response_class=HTMLResponse)
async def submit_signin(request: Request) -> Response:
    rt = pages.runtime_of(request)
    form = await request.form()
    person_id = str(form.get("person_id") or "").strip()[:64]
    password = str(form.get("password") or "")
    code = str(form.get("one_time_code") or "").replace(" ", "") or None
    target = session.safe_next(str(form.get("next") or "/"))
    try:
        csrf.verify(request, _secret(rt), csrf.SIGNIN, str(form.get(csrf.FIELD) or "") or None)
    except csrf.CsrfError:
        payload = {"code": csrf.CsrfError.code, "form": csrf.SIGNIN}
        await run_in_threadpool(
            audit_refusal, request, rt.uow, action=CSRF_REFUSED, entity="form:signin", payload=payload, now=utc_now()
        )
        return signin_page(request, status=403, target=target, person_id=person_id, error_key="signin_form_expired")
    attempt = await run_in_threadpool(_attempt, request, rt, person_id, password, code)
    if attempt.outcome is None:
        return signin_page(request, status=429, target=target, person_id=person_id, error_key="signin_throttled")
    if attempt.outcome is not SignInCheck.OK:
        return signin_page(request, status=401, target=target, person_id=person_id, error_key="signin_failed")
    return await run_in_threadpool(
        signed_in_response, request, rt, person_id=person_id, method=AuthMethod.PASSWORD, target=target
    )


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End this browser's sign-in at once (the row is revoked, so a copied cookie is dead too)."""
    rt = pages.runtime_of(request)
    form = await request.form()
    now = utc_now()
    try:
        csrf.verify(request, _secret(rt), csrf.SIGNOUT, str(form.get(csrf.SIGNOUT_FIELD) or "") or None)
    except csrf.CsrfError:
        payload = {"code": csrf.CsrfError.code, "form": csrf.SIGNOUT}
        await run_in_threadpool(
            audit_refusal, request, rt.uow, action=CSRF_REFUSED, entity="form:signout", payload=payload, now=now
        )
        return pages.message_page(request, status=403, title="forbidden_title", body="csrf_body")
    person_id = await run_in_threadpool(session.end, rt.sessions, rt.settings, request.cookies.get(session.COOKIE), now)
    if person_id is not None:
        await run_in_threadpool(_audit_signout, rt, person_id, now)
    response = RedirectResponse(f"{session.SIGNIN_PATH}?out=1", status_code=303)
    session.clear_cookie(response, rt.settings)
    return response


def _audit_signout(rt: Runtime, person_id: str, now: datetime) -> None:
    with rt.uow() as tx:
        tx.append_audit(actor=person_id, action=SIGNED_OUT, entity=f"person:{person_id}", payload={}, at=now)
        tx.commit()

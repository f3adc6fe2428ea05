"""The FastAPI application: pages, static files, the REST API when present, and error pages.

``create_app(settings)`` builds everything from the settings it is given (tests pass their own database);
with none it reads ``PHASEGATE_*`` from the environment, as ``phasegate serve`` does. The runtime (engine,
session factory, settings) lives in ``app.state.runtime``.

Every page but the signed approval link, ``/static``, ``/healthz``, the sign-in pages and ``/api/`` (bearer
tokens) needs a sign-in (``web.session.RequireSignIn``); every response carries the security headers of
``web.headers``; refusals are audited through one rate-limited ledger per app (``web.refusals``).

Errors a user can cause (``gates.vocabulary.errors``) become 4xx pages, never a 500: InputError 422, NotFoundError
404, PermissionDeniedError 403, ConflictError 409. Under ``/api/`` the same errors are answered as JSON
problem details (RFC 9457) instead, so the API router can raise them as the use cases do.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, Response

from phasegate.flows.runtime import Runtime, runtime, utc_now
from phasegate.gates.vocabulary.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    PhasegateError,
)
from phasegate.models.credentials import dummy_hash
from phasegate.models.db import hide_passwords
from phasegate.models.keys import secret_key
from phasegate.models.settings import Settings
from phasegate.web import headers, lessons, pages, reports, session, signin, sso, strategy
from phasegate.web.access_log import redact_tokens, uvicorn_log_config
from phasegate.web.refusals import RefusalLedger
from phasegate.web.request_size import RequestSizeLimit
from phasegate.web.throttle import SignInThrottle

STATIC = Path(__file__).parent / "static"
API_PREFIX = "/api/"

logger = logging.getLogger(__name__)

_TITLES = {
    400: "invalid_title",
    403: "forbidden_title",
    404: "not_found_title",
    409: "conflict_title",
    410: "refused_title",
    422: "invalid_title",
}


def status_of(err: PhasegateError) -> int:
    if isinstance(err, NotFoundError):
        return 404
    if isinstance(err, PermissionDeniedError):
        return 403
    if isinstance(err, ConflictError):
        return 409
    if isinstance(err, InputError):
        return 422
    return 400


def _runtime_for(settings: Settings | None) -> tuple[Runtime, bool]:
    """The process runtime when no settings are given; otherwise one of our own (disposed at shutdown)."""
    if settings is None:
        return runtime(), False
    return Runtime.build(settings), True


def _problem(status: int, title: str, detail: str, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if code:
        body["code"] = code
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _page(request: Request, status: int, detail: str | None) -> Response:
    return pages.render(
        request,
        "message.html",
        status=status,
        title_key=_TITLES.get(status, "error_title"),
        body_key="not_found_body" if status == 404 and detail is None else None,
        detail=detail,
    )


def create_app(settings: Settings | None = None, *, serving: bool = False) -> FastAPI:
    """The app on ``settings`` (default: the environment); SecretKeyError when there is no usable secret key.

    ``serving`` (``phasegate serve``, each of its workers): once started, the objects built so far (modules,
    routes, templates) are moved out of the garbage collector's sight (``gc.freeze``), so its passes stay short
    under load; tests build many apps in one process and keep the collector as it is."""
    secret_key(settings if settings is not None else Settings())  # approval links cannot be checked without it
    rt, owned = _runtime_for(settings)

    ledger = RefusalLedger(per_minute=rt.settings.refusals_per_minute)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Blocking request work (SQL, rendering) runs in this many threads at most (PHASEGATE_WEB_THREADS).
        anyio.to_thread.current_default_thread_limiter().total_tokens = rt.settings.web_threads
        if serving:
            dummy_hash()  # timing must not tell an unknown person from a known one, from the first sign-in on
            gc.collect()
            gc.freeze()
        yield
        try:
            ledger.flush(rt.uow, now=utc_now())  # the refusals counted but not yet written
        except Exception:
            logger.exception("writing the suppressed-refusal counts to the audit log failed")
        if owned:
            rt.engine.dispose()

    app = FastAPI(title="phasegate", version="0.1.0", lifespan=lifespan)
    app.state.runtime = rt
    app.state.refusals = ledger
    app.state.signin_throttle = SignInThrottle()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Outermost last: security headers on everything, then the body cap (413 before anything reads a byte more),
    # then the sign-in gate, then the SSO state cookie.
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(rt.settings),
        session_cookie=sso.COOKIE,
        max_age=600,
        same_site="lax",
        https_only=session.secure_cookies(rt.settings),
    )
    app.add_middleware(session.RequireSignIn, runtime=rt)
    app.add_middleware(RequestSizeLimit, max_bytes=rt.settings.limits.request_bytes)
    app.add_middleware(headers.SecurityHeaders)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness plus one round trip to the database, so a load balancer sees a broken database too."""
        from sqlalchemy import text

        with rt.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.exception_handler(PhasegateError)
    async def phasegate_error(request: Request, err: PhasegateError) -> Response:
        status = status_of(err)
        if _is_api(request):
            return _problem(status, type(err).__name__, str(err), err.code)
        return _page(request, status, str(err))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or "request"
        detail = f"{where}: {first.get('msg', 'invalid')}"
        if _is_api(request):
            return _problem(422, "Unprocessable Content", detail, "request.invalid")
        return _page(request, 422, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        response: Response
        if _is_api(request):
            response = _problem(err.status_code, str(err.detail), str(err.detail))
        else:
            response = _page(request, err.status_code, None if err.status_code == 404 else str(err.detail))
        for name, value in (err.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, err: DBAPIError) -> Response:
        """One log line, password hidden, no traceback: driver errors may quote the connection string.

        A handler for this class (not ``Exception``) is what keeps Starlette from re-raising the error into
        the server's own traceback log.
        """
        first = (str(err.orig if err.orig is not None else err).splitlines() or [""])[0]
        shown = hide_passwords(first, rt.settings.resolved_database_url)
        logger.error("database error on %s %s: %s", request.method, redact_tokens(request.url.path), shown)
        if _is_api(request):
            return _problem(500, "Internal Server Error", "the database is unavailable; see the server log")
        return _page(request, 500, None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, redact_tokens(request.url.path))
        # Answered from outside the middleware stack, so the security headers are set here too.
        if _is_api(request):
            return headers.apply(
                _problem(500, "Internal Server Error", "an unexpected error occurred; see the server log")
            )
        return headers.apply(_page(request, 500, None))

    app.include_router(signin.router)
    app.include_router(sso.router)
    app.include_router(pages.router)
    app.include_router(reports.router)
    app.include_router(lessons.router)
    app.include_router(strategy.router)
    if importlib.util.find_spec("phasegate.web.api") is not None:
        # The REST API is its own module (web/api.py); the pages work without it.
        app.include_router(importlib.import_module("phasegate.web.api").router)
        app.include_router(importlib.import_module("phasegate.web.api_team").router)  # what a team member runs remotely
        app.include_router(
            importlib.import_module("phasegate.web.api_resources").router
        )  # capacity, demand, HOLD queue
        app.include_router(importlib.import_module("phasegate.web.api_session").router)  # what `phasegate login` needs
    return app


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """A SIGTERM (systemd, a container, ``kill``) ends ``phasegate serve`` as a normal exit, status 0.

    Why: uvicorn shuts down gracefully on it, then raises the signal again under the handler it found. With
    the default handler the process dies by the signal and skips its exit handlers, so the temporary Prefect
    server a deciding vote started in this process (no served deployments) would be left running, orphaned,
    after every stop. Raising SystemExit here lets Prefect's own exit handler stop it.
    """
    raise SystemExit(0)


def run_server(*, host: str, port: int) -> None:
    """``phasegate serve``: the app under uvicorn, its access log showing ``/approve/[redacted]`` for tokens."""
    import gc
    import signal

    import uvicorn

    gc.enable()  # off while the command started (flows/entry.py); a server runs for days
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    uvicorn.run(
        create_app(serving=True),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
        log_config=uvicorn_log_config(),
    )

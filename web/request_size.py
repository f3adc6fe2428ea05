"""A cap on HTTP request bodies, enforced on the stream: 413 before any handler runs.

Why in the ASGI stream and not only from ``Content-Length``: a chunked request declares no length, and a
declared length is the client's word. The body is read here, counting bytes as they arrive; past the cap the
request is answered 413 at once (a problem document under ``/api``, a page otherwise) and the handler never
runs, so nothing is written. Within the cap the body is handed to the application as one message: every
body phasegate accepts (JSON, a vote form) is small, so holding it costs nothing. The cap is
``PHASEGATE_MAX_REQUEST_KB`` (``gates.vocabulary.limits``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phasegate.gates.vocabulary.limits import megabytes, raise_hint

API_PREFIX = "/api/"


class RequestSizeLimit:
    """Pure ASGI middleware: bodies over ``max_bytes`` get 413 and never reach the application."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, declared)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the application see it
                await self.app(scope, _replay(message, receive), send)
                return
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await self._refuse(scope, receive, send, None)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(whole, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, declared: int | None) -> None:
        size = f"of {megabytes(declared)} " if declared is not None else ""
        detail = (
            f"request body {size}is larger than {megabytes(self.max_bytes)}, the most this server accepts "
            f"({raise_hint('request_bytes')}); nothing was recorded"
        )
        request = Request(scope, receive)
        headers = {"Connection": "close"}
        response: Response
        if request.url.path.startswith(API_PREFIX):
            from phasegate.web.problems import problem

            response = problem(request, 413, detail, code="request.too_large", headers=headers)
        else:
            from phasegate.web.pages import render

            response = render(
                request,
                "message.html",
                status=413,
                title_key="too_large_title",
                body_key="too_large_body",
                detail=detail,
                code="request.too_large",
            )
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that gives ``first`` once, then defers to the server (for the disconnect message)."""
    pending = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay

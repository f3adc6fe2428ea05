"""Security headers on every response of the web app: one middleware, so no route can forget them.

- ``Cache-Control: no-store``: packets, portfolios and sign-in pages must not stay in a shared or back-button
  cache after the person signs out.
- ``Content-Security-Policy: frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (for older browsers): no
  other site may frame a vote form and trick a click onto it.
- ``Referrer-Policy: no-referrer``: an approval link is a credential until it is used; a link clicked on the
  packet page must not carry it to another site in the Referer header.

A pure ASGI middleware (not ``BaseHTTPMiddleware``): it only rewrites the start message, so streaming
responses and background tasks behave as without it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def apply(response: Response) -> Response:
    """Set the headers on a response built outside the middleware (the last-resort 500 handler)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

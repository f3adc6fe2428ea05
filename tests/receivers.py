"""Real network receivers for tests: HTTP and SMTP servers on 127.0.0.1 that record what arrives.

Why real: Apprise's behaviour on refused connections, 500 replies and slow replies is what the dispatcher
must survive, and only a real socket shows it. The server is threaded with a large listen backlog (the
default of 5 drops connections when several dispatchers post at once) and can be stopped and started
again on the same port, to simulate a receiver that goes away and comes back.

Usage::

    with HttpReceiver() as receiver:
        url = receiver.apprise_url("/hook")        # json://127.0.0.1:PORT/hook
        receiver.status = 500                       # every reply is 500 until changed back
        receiver.delay = 2.0                        # every reply waits 2 s first
        receiver.requests                           # list[ReceivedRequest], in arrival order
        receiver.count_by_header("X-Idempotency-Key")

    with SmtpReceiver() as smtp:                    # aiosmtpd, no TLS, no auth
        url = smtp.apprise_url("alice@example.com")  # mailto://127.0.0.1:PORT?from=...&to=alice@example.com
        smtp.messages                               # list[ReceivedMail]: envelope + parsed EmailMessage
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int = 200
    at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        """Header value by case-insensitive name."""
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True


class HttpReceiver:
    """A threaded HTTP receiver on 127.0.0.1 that records every request and answers as told."""

    def __init__(self, port: int = 0, *, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> HttpReceiver:
        """Start serving (again, on the same port after ``stop``)."""
        if self._server is not None:
            return self
        self._server = _Server(("127.0.0.1", self._port), self._handler_class())
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: connections to the port are refused until ``start``."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("receiver not started yet: no port assigned")
        return self._port

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def apprise_url(self, path: str = "/", scheme: str = "json") -> str:
        """An Apprise target for this receiver (``json://``, ``form://`` or ``xml://``)."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    # -- what arrived ----------------------------------------------------------------------------------
    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def count_by_header(self, name: str, *, answered: int | None = 200) -> Counter[str | None]:
        """How many requests carried each value of header ``name`` (only those answered ``answered``)."""
        return Counter(
            request.header(name) for request in self.requests if answered is None or request.answered == answered
        )

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Block until at least ``count`` requests arrived (or ``timeout`` passed); return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.requests
            if len(current) >= count:
                return current
            time.sleep(0.01)
        return self.requests

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, delay = receiver.status, receiver.delay
                receiver._record(
                    ReceivedRequest(
                        method=self.command,
                        path=self.path,
                        headers=dict(self.headers.items()),
                        body=body,
                        answered=status,
                    )
                )
                if delay:
                    time.sleep(delay)
                payload = json.dumps({"status": status}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a slow-reply test): nothing to answer

            def do_POST(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def do_GET(self) -> None:
                self._handle()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, content_type: str) -> str:
        """The decoded text of the first body part of ``content_type`` that is not an attachment."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_attachment():
                return str(part.get_content())
        raise AssertionError(f"no {content_type} part in the message")

    def attachments(self) -> dict[str, tuple[str, bytes]]:
        """File name -> (content type, decoded bytes) for every attachment."""
        found: dict[str, tuple[str, bytes]] = {}
        for part in self.message.walk():
            if part.is_attachment():
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                found[str(part.get_filename())] = (part.get_content_type(), payload)
        return found


class SmtpReceiver:
    """An aiosmtpd SMTP server on 127.0.0.1 that records every message (no TLS, no authentication).

    ``reply`` changes the answer to DATA (e.g. ``"451 try later"``) to simulate a mail server that refuses.
    """

    def __init__(self, port: int = 0) -> None:
        self.reply = "250 OK"
        self._port = port
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._controller: Controller | None = None

    def start(self) -> SmtpReceiver:
        if self._controller is not None:
            return self
        if self._port == 0:
            self._port = free_port()  # aiosmtpd checks readiness by connecting, so it needs a real port
        self._controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self._port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("receiver not started yet: no port assigned")
        return self._port

    def apprise_url(self, to: str, *, sender: str = "pmo@example.com") -> str:
        """A plain-SMTP ``mailto://`` target for this receiver (Apprise's ``mode=insecure``: no STARTTLS)."""
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from={sender}&to={to}"

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def _record(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)


class _SmtpHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd hook name)
        reply = self.receiver.reply
        if reply.startswith("250"):
            content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
            self.receiver._record(
                ReceivedMail(mail_from=str(envelope.mail_from), rcpt_tos=tuple(envelope.rcpt_tos), raw=content)
            )
        return reply

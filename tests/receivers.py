"""Real network receivers for tests: an HTTP server on 127.0.0.1 that records what arrives.

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
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


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

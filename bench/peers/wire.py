"""A relay between a client and PostgreSQL that counts round trips on the wire: for the tests of pipelined statements
(tests/test_approvals.py) and for the round trips a round waits for (``bench/decisions.py``).

Why on the wire: a statement count cannot tell a pipeline from statements sent one by one, and the driver's own
bookkeeping is its private business. The protocol says when a client waits: after a simple ``Query`` message, a
``Sync`` (the end of an extended-protocol statement, or of a pipeline) or a ``Flush`` (a pipeline asked for the
answers so far), the server answers and the client reads. Each of those messages is one round trip, except a
``Flush`` right after a ``Sync``, which asks for nothing the ``Sync`` did not (psycopg ends a pipeline so); the
relay counts them in the bytes the client sends, whatever driver or library sent them.

``round_trips`` gives the URL through the relay with ``sslmode=disable`` and ``gssencmode=disable``: an encrypted
stream cannot be read.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

_WAITS = frozenset(b"QSH")  # Query, Sync, Flush: the messages after which the client waits for the server
_SYNC, _FLUSH = ord("S"), ord("H")
_CHUNK = 65536


class RoundTrips:
    """A listening relay to ``host:port``; ``count`` is the round trips its clients have made so far."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._count = 0
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._start(self._accept)

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def close(self) -> None:
        self._closing = True
        self._listener.close()
        for sock in list(self._sockets):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            self._sockets += [client, server]
            self._start(self._client_to_server, client, server)
            self._start(self._pump, server, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shut(sink)

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        """Relay the client's bytes, counting its messages that wait for an answer (the module docstring)."""
        buffer = b""
        started = False  # the startup message (and an SSL or GSS request before it) has no type byte
        previous = 0
        try:
            while data := client.recv(_CHUNK):
                buffer += data
                while True:
                    if not started:
                        if len(buffer) < 8:
                            break
                        (length,) = struct.unpack("!i", buffer[:4])
                        if len(buffer) < length:
                            break
                        code = struct.unpack("!i", buffer[4:8])[0]
                        started = code >> 16 == 3  # protocol 3.x; SSL (80877103) and GSS requests come before it
                        buffer = buffer[length:]
                        continue
                    if len(buffer) < 5:
                        break
                    (length,) = struct.unpack("!i", buffer[1:5])
                    if len(buffer) < 1 + length:
                        break
                    kind = buffer[0]
                    if kind in _WAITS and not (kind == _FLUSH and previous == _SYNC):
                        with self._lock:
                            self._count += 1
                    previous = kind
                    buffer = buffer[1 + length :]
                # Forwarded only once counted: the server cannot answer a wait before it has the message, so a
                # client that got its answer always reads a count that includes the wait (no race with this thread).
                server.sendall(data)
        except OSError:
            pass
        finally:
            _shut(server)


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


@contextmanager
def round_trips(url: str) -> Iterator[tuple[RoundTrips, str]]:
    """A relay to the PostgreSQL server of SQLAlchemy URL ``url`` for the block (see ``RoundTrips``), and ``url``
    through it, unencrypted so the relay can read the stream."""
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    relay = RoundTrips(parts.host or "127.0.0.1", parts.port or 5432)
    relayed = parts.set(port=relay.port, query={"sslmode": "disable", "gssencmode": "disable"})
    try:
        yield relay, relayed.render_as_string(hide_password=False)
    finally:
        relay.close()

"""A local notification sink: an HTTP receiver on 127.0.0.1 that appends every JSON post to a file.

The demo points people's ``json://`` Apprise targets at it so approval requests land somewhere a person
can read without any mail server or chat account.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: JsonSink

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = raw.decode("utf-8", "replace")
        record = {"path": self.path, "idempotency_key": self.headers.get("X-Idempotency-Key"), "body": body}
        with self.server.lock, self.server.inbox.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the inbox file is the record."""


class JsonSink(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, inbox: Path, port: int = 0) -> None:
        self.inbox = inbox
        self.lock = threading.Lock()
        inbox.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> JsonSink:
        threading.Thread(target=self.serve_forever, name="phasegate-sink", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

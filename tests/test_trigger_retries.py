"""A door asks a busy Prefect server again: HTTP 429/502/503 (a Prefect server on SQLite answers 503 while another
writer holds its database) are retried with the same idempotency key until the door's time budget runs out; other
answers are final at once.

The server here is a real HTTP server on 127.0.0.1 that answers from a script, standing in for a Prefect server at
the moment it is busy (a real one cannot be made busy on cue).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from phasegate.flows.trigger import PrefectApiError, create_flow_run

DEPLOYMENT_ID = "0b7c4c1e-5d38-4a36-9d1b-3f1e8e0c2a10"


class ScriptedPrefect:
    """Answers each request with the next (status, headers) of its script, then 200 with a deployment or a run."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = script
        self.seen: list[tuple[str, str, dict[str, Any] | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                owner.seen.append((self.command, self.path, body))
                status, headers = owner.script.pop(0) if owner.script else (200, {})
                if status == 200:
                    found = {"id": DEPLOYMENT_ID} if self.command == "GET" else {"id": "run-1", "name": body["name"]}
                    payload = json.dumps(found).encode()
                else:
                    payload = json.dumps({"detail": "Service Unavailable"}).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prefect() -> Iterator[Any]:
    servers: list[ScriptedPrefect] = []

    def make(*script: tuple[int, dict[str, str]]) -> ScriptedPrefect:
        servers.append(ScriptedPrefect(list(script)))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_a_busy_server_is_asked_again_with_the_same_idempotency_key(prefect: Any) -> None:
    server = prefect((503, {}), (200, {}), (503, {}), (429, {"Retry-After": "0"}), (502, {}))
    run = create_flow_run(server.api, "gate-decision/gate-decision", parameters={"round_id": "r"}, name="n", timeout=10)
    assert run == {"id": "run-1", "name": "n"}
    methods = [method for method, _, _ in server.seen]
    assert methods == ["GET", "GET", "POST", "POST", "POST", "POST"]
    keys = {body["idempotency_key"] for method, _, body in server.seen if method == "POST" and body is not None}
    assert len(keys) == 1, keys  # one run asked for, whatever the retries
    posted = [path for method, path, _ in server.seen if method == "POST"]
    assert all(path.endswith(f"/deployments/{DEPLOYMENT_ID}/create_flow_run") for path in posted), posted


def test_each_call_is_its_own_run(prefect: Any) -> None:
    server = prefect()
    for _ in range(2):
        create_flow_run(server.api, "gate-decision/gate-decision", parameters={}, name="n", timeout=10)
    keys = [body["idempotency_key"] for method, _, body in server.seen if method == "POST" and body is not None]
    assert len(set(keys)) == 2, keys  # a later reconciliation must get a run of its own


def test_a_server_busy_past_the_budget_is_a_clear_error(prefect: Any) -> None:
    server = prefect(*[(503, {})] * 100)
    started = time.monotonic()
    with pytest.raises(PrefectApiError, match=r"GET .*/deployments/name/gate-decision/gate-decision: HTTP 503"):
        create_flow_run(server.api, "gate-decision/gate-decision", parameters={}, name="n", timeout=1.0)
    assert time.monotonic() - started < 3  # gives up at its budget, not after every scripted answer
    assert 3 <= len(server.seen) < 100  # asked again a few times, backing off


@pytest.mark.parametrize("status", [400, 404, 409, 500])
def test_other_answers_are_final_at_once(prefect: Any, status: int) -> None:
    server = prefect((status, {}))
    with pytest.raises(PrefectApiError, match=f"HTTP {status}") as raised:
        create_flow_run(server.api, "gate-decision/gate-decision", parameters={}, name="n", timeout=10)
    assert len(server.seen) == 1
    assert raised.value.missing is (status == 404)

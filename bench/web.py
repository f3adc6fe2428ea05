"""Web speed over a 10,000-project portfolio: the approval page and ``GET /api/v1/projects``, through uvicorn.

Loads the portfolio with bulk Core inserts (``bench/evaluate.py``'s loader), opens one approval round through
the real ``start_review`` service, issues an API token, starts ``web.app:create_app`` under uvicorn on
127.0.0.1 (one process, as ``phasegate serve`` runs it), and drives each page with a bounded number of
requests from a thread pool of keep-alive clients. Prints ``name: value`` lines; nothing else is contacted.

    .venv/bin/python bench/web.py [--projects 10000] [--requests 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.evaluate import _load_database  # noqa: E402
from phasegate.gates import services  # noqa: E402
from phasegate.gates.vocabulary.commands import RequestReview  # noqa: E402
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR  # noqa: E402
from phasegate.models.db import make_engine, make_session_factory  # noqa: E402
from phasegate.models.tokens import create_token  # noqa: E402
from phasegate.models.uow import SqlUnitOfWork  # noqa: E402
from phasegate.notifications.links import approval_token  # noqa: E402
from tests import actors  # noqa: E402
from tests.receivers import free_port  # noqa: E402

SECRET = "bench-only-secret-key-0123456789abcdef"
DIGEST = "a" * 64
"""The loader registers every document with this hash; the probe reports the files unchanged."""


def _prepare(url: str, projects: int) -> tuple[str, str, str]:
    """The portfolio, one open round with the approval link of its sponsor, and a viewer token for the API."""
    _load_database(url, projects)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    try:
        round_id = None
        for index in range(0, min(projects, 200), 2):  # it-pmo projects at "ready for closing"
            key = f"P{index:05d}"
            services.assign_role(
                key, "pmo", "sponsor-1", uow=lambda: SqlUnitOfWork(sessions), now=now, actor=SYSTEM_ACTOR
            )
            review = services.start_review(
                RequestReview(project_key=key, requested_by="manager-1"),
                uow=lambda: SqlUnitOfWork(sessions),
                now=now,
                probe=lambda _path: DIGEST,
                actor=actors.admin("manager-1"),
            )
            if review.round_id is not None:
                round_id, evidence_hash, approver = (
                    review.round_id,
                    review.evaluation.evidence_hash,
                    review.approvers[0],
                )
                break
        if round_id is None:
            raise SystemExit("no project of the loaded portfolio was ready for a gate review")
        link = approval_token(
            SECRET,
            round_id=round_id,
            approver_id=approver,
            evidence_hash=evidence_hash,
            expires_at=now + timedelta(days=1),
        )
        with sessions() as session, session.begin():
            _, token = create_token(session, "sponsor-1", "viewer", now)
    finally:
        engine.dispose()
    return f"/approve/{link}", token, round_id.hex


def _serve(url: str, home: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "PHASEGATE_DATABASE_URL": url,
        "PHASEGATE_HOME": home,
        "PHASEGATE_SECRET_KEY": SECRET,
        "PHASEGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PHASEGATE_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    command = [
        sys.executable, "-m", "uvicorn", "phasegate.web.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("uvicorn did not become healthy within 60 s")


def _drive(port: int, path: str, headers: dict[str, str], requests: int, clients: int) -> tuple[float, list[float]]:
    """Send ``requests`` GETs from ``clients`` keep-alive connections; wall seconds and per-request latencies."""
    share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]

    def client(count: int) -> list[float]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies = []
        for _ in range(count):
            start = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - start)
            if response.status != 200:
                raise SystemExit(f"GET {path[:60]} answered {response.status}")
        connection.close()
        return latencies

    client(min(20, requests))  # warm-up: imports, first queries, template cache
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(client, share))
    return time.perf_counter() - start, [latency for part in results for latency in part]


def _report(name: str, wall: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name}_requests: {len(ordered)}")
    print(f"{name}_requests_per_second: {len(ordered) / wall:.0f}")
    print(f"{name}_p50_ms: {statistics.median(ordered) * 1000:.1f}")
    print(f"{name}_p99_ms: {p99 * 1000:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000, help="Requests per measured page")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent keep-alive clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{Path(home) / 'bench.db'}"
        started = time.perf_counter()
        approval_path, token, _ = _prepare(url, args.projects)
        print(f"portfolio_projects: {args.projects}")
        print(f"load_seconds: {time.perf_counter() - started:.1f}")
        port = free_port()
        server = _serve(url, home, port)
        try:
            auth = {"Authorization": f"Bearer {token}"}
            pages: tuple[tuple[str, str, dict[str, str]], ...] = (
                ("approval_page", approval_path, {}),
                ("api_projects", "/api/v1/projects?limit=50", auth),
                ("api_projects_last_page", f"/api/v1/projects?limit=50&offset={max(0, args.projects - 50)}", auth),
            )
            print(f"clients: {args.clients}")
            for name, path, headers in pages:
                wall, latencies = _drive(port, path, headers, args.requests, args.clients)
                _report(name, wall, latencies)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()

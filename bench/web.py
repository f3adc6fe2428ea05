"""Web speed over a 10,000-project portfolio, against issue #17's targets, on SQLite and PostgreSQL.

Loads the portfolio with bulk Core inserts (``bench/evaluate.py``'s loader), opens one approval round through
the real ``start_review`` use case, issues an API token and a web sign-in, starts ``phasegate serve`` on
127.0.0.1 (the command people run, with its settings), and drives each page for ``--seconds`` from
``--clients`` keep-alive clients. Prints ``name: value`` lines; nothing else is contacted.

Pages: ``healthz`` (one ``SELECT 1``: the server's own overhead, the floor every other page stands on),
``approval`` (a signed approval link's page), ``api`` (``GET /api/v1/projects``, first page of 50),
``api_last`` (its last page), ``dashboard`` (``/``, signed in) and ``reports`` (``/reports``, signed in).

Targets (issue #17): approval page p99 < 50 ms; ``/api/v1/projects`` >= 500 requests/s; dashboard and
``/reports`` p99 < 200 ms. ``<dialect>_<page>_vs_target`` is p99 / target for the latency targets (met when
< 1) and requests per second / target for the API (met when >= 1); ``<dialect>_<page>_target_met`` says which.

    .venv/bin/python bench/web.py [--projects 10000] [--seconds 10] [--clients 8]
        [--pages healthz,approval,api,api_last,dashboard,reports] [--dialects sqlite,postgresql]
        [--env NAME=VALUE ...]
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-only-secret-key-0123456789abcdef"
DIGEST = "a" * 64
"""The loader registers every document with this hash; the probe reports the files unchanged."""
PAGES = ("healthz", "approval", "api", "api_last", "dashboard", "reports")
TARGETS: dict[str, tuple[str, float]] = {
    "approval": ("p99_ms", 50.0),
    "api": ("requests_per_second", 500.0),
    "dashboard": ("p99_ms", 200.0),
    "reports": ("p99_ms", 200.0),
}
PG_DATABASE = "phasegate_bench_web"


@dataclass(frozen=True)
class Prepared:
    approval_path: str
    api_token: str
    session_cookie: str


def _prepare(url: str, projects: int) -> Prepared:
    """The portfolio, one open round with the approval link of its sponsor, an API token and a web sign-in."""
    # Imported here, after the arguments are parsed: `--help` stays fast (tests/test_bench_scripts.py).
    from datetime import UTC, datetime, timedelta

    from pydantic import SecretStr
    from sqlalchemy import update

    from bench.evaluate import _load_database
    from phasegate.gates.vocabulary.commands import RequestReview
    from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, AuthMethod
    from phasegate.models.db import make_engine, make_session_factory
    from phasegate.models.settings import Settings
    from phasegate.models.tables import Person
    from phasegate.models.tokens import create_token
    from phasegate.models.uow import SqlUnitOfWork
    from phasegate.notifications.links import approval_token
    from phasegate.usecases import services
    from phasegate.web import session as web_session
    from tests import actors

    _load_database(url, projects)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    try:
        round_id = None
        for index in range(0, min(projects, 200), 2):  # it-pmo projects at "ready for closing"
            key = f"P{index:05d}"
            services.assign_role(
                key, "pmo", "sponsor-1", uow=lambda: SqlUnitOfWork(engine), now=now, actor=SYSTEM_ACTOR
            )
            review = services.start_review(
                RequestReview(project_key=key, requested_by="manager-1"),
                uow=lambda: SqlUnitOfWork(engine),
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
            session.execute(update(Person).where(Person.id == "sponsor-1").values(org_roles=["viewer"]))
            _, token = create_token(session, "sponsor-1", "viewer", now)
        settings = Settings(database_url=url, secret_key=SecretStr(SECRET))
        cookie = web_session.start(sessions, settings, person_id="sponsor-1", method=AuthMethod.PASSWORD, now=now)
    finally:
        engine.dispose()
    return Prepared(f"/approve/{link}", token, cookie)


def _serve(url: str, home: str, port: int, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``phasegate serve`` as people run it; its log (one access line a request) goes to a file in ``home``."""
    env = (
        os.environ
        | {
            "PHASEGATE_DATABASE_URL": url,
            "PHASEGATE_HOME": home,
            "PHASEGATE_SECRET_KEY": SECRET,
            "PHASEGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PHASEGATE_SQLITE_SYNCHRONOUS": "NORMAL",
        }
        | extra_env
    )
    executable = Path(sys.executable).parent / "phasegate"
    command = [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = open(Path(home) / "serve.log", "ab")  # noqa: SIM115 (closed with the process by the OS)
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"phasegate serve exited with {server.returncode}; see {home}/serve.log")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("phasegate serve did not become healthy within 120 s")


def _drive(port: int, path: str, headers: dict[str, str], seconds: float, clients: int) -> tuple[float, list[float]]:
    """GET ``path`` from ``clients`` keep-alive connections until ``seconds`` have passed (each client sends at
    least one request); wall seconds and per-request latencies."""

    def client(deadline: float, at_least: int) -> list[float]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        latencies: list[float] = []
        while len(latencies) < at_least or time.perf_counter() < deadline:
            start = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - start)
            if response.status != 200:
                raise SystemExit(f"GET {path[:60]} answered {response.status}")
        connection.close()
        return latencies

    client(time.perf_counter() + min(2.0, seconds), 3)  # warm-up: imports, first queries, template and chart caches
    start = time.perf_counter()
    deadline = start + seconds
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(lambda _: client(deadline, 1), range(clients)))
    return time.perf_counter() - start, [latency for part in results for latency in part]


def _report(prefix: str, page: str, wall: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    figures = {"requests_per_second": len(ordered) / wall, "p99_ms": p99 * 1000}
    name = f"{prefix}_{page}"
    print(f"{name}_requests: {len(ordered)}")
    print(f"{name}_requests_per_second: {figures['requests_per_second']:.0f}")
    print(f"{name}_p50_ms: {statistics.median(ordered) * 1000:.1f}")
    print(f"{name}_p99_ms: {figures['p99_ms']:.1f}")
    if page in TARGETS:
        figure, target = TARGETS[page]
        ratio = figures[figure] / target
        met = ratio >= 1 if figure == "requests_per_second" else ratio < 1
        print(f"{name}_vs_target: {ratio:.2f}")
        print(f"{name}_target_met: {str(met).lower()}")
    sys.stdout.flush()


def _run(prefix: str, url: str, home: str, args: argparse.Namespace, extra_env: dict[str, str]) -> None:
    from tests.receivers import free_port

    started = time.perf_counter()
    prepared = _prepare(url, args.projects)
    print(f"{prefix}_load_seconds: {time.perf_counter() - started:.1f}")
    port = free_port()
    server = _serve(url, home, port, extra_env)
    try:
        auth = {"Authorization": f"Bearer {prepared.api_token}"}
        signed_in = {"Cookie": f"phasegate_session={prepared.session_cookie}"}
        paths = {
            "healthz": ("/healthz", {}),
            "approval": (prepared.approval_path, {}),
            "api": ("/api/v1/projects?limit=50", auth),
            "api_last": (f"/api/v1/projects?limit=50&offset={max(0, args.projects - 50)}", auth),
            "dashboard": ("/", signed_in),
            "reports": ("/reports", signed_in),
        }
        for page in args.pages:
            path, headers = paths[page]
            wall, latencies = _drive(port, path, headers, args.seconds, args.clients)
            _report(prefix, page, wall, latencies)
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="How long each page is driven")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent keep-alive clients")
    parser.add_argument("--pages", default=",".join(PAGES), help=f"Comma-separated, of: {', '.join(PAGES)}")
    parser.add_argument("--dialects", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="A setting for the server (repeatable)"
    )
    args = parser.parse_args()
    args.pages = [p for p in args.pages.split(",") if p]
    unknown = sorted(set(args.pages) - set(PAGES))
    if unknown:
        parser.error(f"--pages: unknown {', '.join(unknown)}; use {', '.join(PAGES)}")
    extra_env = dict(item.split("=", 1) for item in args.env)
    sys.path.insert(0, str(ROOT))
    from bench.peers.scratch import scratch_database

    print(f"portfolio_projects: {args.projects}")
    print(f"clients: {args.clients}")
    for dialect in args.dialects.split(","):
        with tempfile.TemporaryDirectory() as home:
            if dialect == "sqlite":
                _run("sqlite", f"sqlite:///{Path(home) / 'bench.db'}", home, args, extra_env)
            elif dialect == "postgresql":
                url = scratch_database(PG_DATABASE)
                if url is None:
                    continue
                try:
                    _run("postgresql", url, home, args, extra_env)
                finally:
                    scratch_database(PG_DATABASE, drop=True)
            else:
                parser.error(f"--dialects: unknown {dialect}; use sqlite, postgresql")


if __name__ == "__main__":
    main()

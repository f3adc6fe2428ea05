"""The portfolio monitor over 10,000 projects on SQLite and PostgreSQL: one ``portfolio-monitor`` flow run.

Loads a portfolio with bulk Core inserts (a benchmark fixture, not the application path): every project on
it-pmo@2 (its default tolerances), in the Planning stage (its gate has no automatic review), each with one
status report, a monthly time-phased plan over a year (so time is forecast by earned schedule on the working
calendar: a little late, amber) and one risk (score 12, under the appetite); one in ten forecasts a cost overrun
beyond tolerance. Then runs the real flow in Prefect's
ephemeral mode (a warm-up flow first, so Prefect's own start-up is not counted): the first run raises the
exceptions, the second finds nothing new. Also times the scan alone (the use case, chunk by chunk, no Prefect).

    .venv/bin/python bench/monitor.py [--projects 1000 10000 50000] [--dialects sqlite,postgresql]

Each size and dialect runs in its own process, so its ``*_peak_rss_mb`` is that run's alone. With several sizes,
``*_growth_<a>k_to_<b>k`` is the flow's time per project at the larger size over that at the smaller: 1.0 is
linear growth. Prints ``name: value`` lines. PostgreSQL is skipped (with a line saying so) when no server answers.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bench.peers.scratch import scratch_database  # noqa: E402
from phasegate.models import tables as t  # noqa: E402
from phasegate.models.db import make_engine  # noqa: E402
from phasegate.models.schema import upgrade  # noqa: E402
from phasegate.models.template_yaml import shipped_templates, template_content_hash  # noqa: E402

AS_OF = date(2026, 11, 2)


def load(url: str, projects: int) -> None:
    upgrade(url)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    now = datetime.now(UTC)
    with engine.begin() as con:
        con.execute(
            insert(t.Person),
            [
                {"id": p, "name": p, "email": f"{p}@example.com", "locale": "en", "notify_urls": [], "created_at": now}
                for p in ("sponsor-1", "manager-1")
            ],
        )
        hashes = {}
        for source, template in shipped_templates():
            hashes[(template.id, template.version)] = template_content_hash(template)
            con.execute(
                insert(t.TemplateVersion).values(
                    template_id=template.id,
                    version=template.version,
                    name=template.name,
                    content_hash=hashes[(template.id, template.version)],
                    content=template.model_dump(mode="json"),
                    source=source,
                    published_at=now,
                )
            )
        rows: list[dict[str, object]] = []
        reports: list[dict[str, object]] = []
        plans: list[dict[str, object]] = []
        risks: list[dict[str, object]] = []
        month_ends = [
            date(2026, 5, 31),
            *(date(2026 + (m // 12), m % 12 + 1, 1) - timedelta(days=1) for m in range(6, 18)),
        ]
        for i in range(projects):
            key = f"P{i:05d}"
            rows.append(
                {
                    "key": key,
                    "name": f"Project {i}",
                    "template_id": "it-pmo",
                    "template_version": 2,
                    "template_hash": hashes[("it-pmo", 2)],
                    "sponsor_id": "sponsor-1",
                    "manager_id": "manager-1",
                    "budget": Decimal(1_000_000),
                    "currency": "USD",
                    "status": "active",
                    "stage_id": "planning",
                    "recycle_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            over = i % 10 == 0  # CPI 0.8: EAC 1,250,000 against a tolerance of 100,000
            reports.append(
                {
                    "project_key": key,
                    "as_of": AS_OF,
                    "planned_value": Decimal(400_000),
                    "earned_value": Decimal(400_000),
                    "actual_cost": Decimal(500_000 if over else 410_000),
                    "recorded_at": now,
                }
            )
            plans += [
                {"project_key": key, "period_end": end, "planned_value": Decimal(1_000_000) * n / 12}
                for n, end in enumerate(month_ends)
            ]  # the zero point on 2026-05-31 is the plan's start
            risks.append(
                {"project_key": key, "id": "R1", "title": "Vendor", "probability": 3, "impact": 4, "updated_at": now}
            )
        for start in range(0, projects, 2000):
            con.execute(insert(t.Project), rows[start : start + 2000])
            con.execute(insert(t.EvmReport), reports[start : start + 2000])
            con.execute(insert(t.Risk), risks[start : start + 2000])
        for start in range(0, len(plans), 10_000):
            con.execute(insert(t.BaselinePeriod), plans[start : start + 10_000])
    engine.dispose()


def run(dialect: str, url: str, projects: int) -> None:
    from phasegate.flows.portfolio_monitor import portfolio_monitor_flow
    from phasegate.flows.runtime import runtime
    from phasegate.usecases import services

    load(url, projects)
    os.environ["PHASEGATE_DATABASE_URL"] = url
    rt = runtime(url)
    label = f"monitor_{projects // 1000}k_{dialect}"
    began = time.perf_counter()
    first = portfolio_monitor_flow()
    print(f"{label}_s: {time.perf_counter() - began:.2f}")
    print(f"{label}_exceptions_raised: {first['exceptions_raised']}")
    began = time.perf_counter()
    second = portfolio_monitor_flow()
    print(f"{label}_second_run_s: {time.perf_counter() - began:.2f}")
    print(f"{label}_second_run_exceptions_raised: {second['exceptions_raised']}")
    keys = services.active_projects(uow=rt.uow)
    began = time.perf_counter()
    for start in range(0, len(keys), 500):
        services.scan_projects(keys[start : start + 500], uow=rt.uow, now=datetime.now(UTC))
    print(f"{label}_scan_only_s: {time.perf_counter() - began:.2f}")
    print(f"{label}_peak_rss_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    rt.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, nargs="+", default=[10_000])
    parser.add_argument("--dialects", default="sqlite,postgresql")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        if args.home is None:
            parser.error("--one runs in the folder --home names (the parent's temporary folder)")
        for dialect in args.dialects.split(","):
            one(dialect, args.one, args.home)
        return
    seconds: dict[tuple[str, int], float] = {}
    for dialect in args.dialects.split(","):
        for n in sorted(args.projects):
            with tempfile.TemporaryDirectory(prefix="phasegate-bench-monitor-") as home:
                done = subprocess.run(
                    [sys.executable, __file__, "--one", str(n), "--dialects", dialect, "--home", home],
                    check=True,
                    timeout=7200,
                    capture_output=True,
                    text=True,
                )
            print(done.stdout, end="", flush=True)
            for line in done.stdout.splitlines():
                name, _, value = line.partition(": ")
                if name == f"monitor_{n // 1000}k_{dialect}_s":
                    seconds[dialect, n] = float(value)
        sizes = [n for n in sorted(args.projects) if (dialect, n) in seconds]
        for small, large in itertools.pairwise(sizes):
            growth = (seconds[dialect, large] / large) / (seconds[dialect, small] / small)
            print(f"monitor_{dialect}_growth_{small // 1000}k_to_{large // 1000}k: {growth:.2f}")


def one(dialect: str, projects: int, home: Path) -> None:
    """One size on one dialect, in a process of its own, its database and Prefect's under ``home`` (the parent's
    temporary folder: removed once this process and the Prefect server it started have ended)."""
    os.environ.setdefault("PHASEGATE_SECRET_KEY", secrets.token_urlsafe(48))
    os.environ["PHASEGATE_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    from prefect import flow
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        return None

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        warm_up()
        if dialect == "sqlite":
            run("sqlite", f"sqlite:///{home / 'monitor.db'}", projects)
        elif dialect == "postgresql":
            url = scratch_database("phasegate_bench_monitor")
            if url is not None:
                try:
                    run("postgresql", url, projects)
                finally:
                    scratch_database("phasegate_bench_monitor", drop=True)


if __name__ == "__main__":
    main()

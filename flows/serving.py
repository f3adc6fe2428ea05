"""phasegate's deployments served by one local process through Prefect's own runner (``serve``).

What a team gets from ``prefect.yaml`` and a worker, a laptop gets from ``phasegate server start``: the same
six deployments under the same ``flow-name/deployment-name`` names and with the same schedules, so
reminders, escalations, digests and dispatch run on a laptop exactly as they do for a team, and a door
starts a decision by creating a flow run of ``gate-decision/gate-decision`` (see ``flows.trigger``).
``DEPLOYMENTS`` is the one list; ``tests/test_serving.py`` checks ``prefect.yaml`` against it.

``python -m flows.serving`` is what ``phasegate server start`` runs, detached, with ``PREFECT_API_URL``
pointing at the local server. This module imports Prefect only inside the functions that serve.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

# How often the runner asks the server for runs that are due. Prefect's default is 10 s; a gatekeeper's vote
# should show as a running decision within a few seconds, and one query a second to a server on loopback
# costs nothing worth saving.
POLL_SECONDS = 1
# Flow runs the served process runs at once (each is a subprocess of about 150 MB). Every phasegate flow is
# short and idempotent, so more waiting runs only queue; a laptop should not fork a dozen interpreters.
CONCURRENT_RUNS = 4
RUNNER_NAME = "phasegate-serve"


@dataclass(frozen=True)
class Schedule:
    slug: str
    interval_seconds: int | None = None
    cron: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Deployment:
    """One deployment as ``prefect.yaml`` declares it: the flow's module and attribute, and its schedules."""

    name: str
    module: str
    flow: str
    description: str
    schedules: tuple[Schedule, ...] = ()

    @property
    def entrypoint(self) -> str:
        """The file path ``prefect.yaml`` names, relative to the checkout (the folders sit at its top level)."""
        return f"{self.module.removeprefix('phasegate.').replace('.', '/')}.py:{self.flow}"


DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment(
        "gate-review",
        "phasegate.flows.gate_review",
        "gate_review_flow",
        "Evaluate a project's current gate, freeze the evidence packet and open the approval round.",
    ),
    Deployment(
        "gate-decision",
        "phasegate.flows.gate_decision",
        "gate_decision_flow",
        "Apply a resolved approval round's decision to the project lifecycle.",
    ),
    Deployment(
        "notify-dispatch",
        "phasegate.flows.notify_dispatch",
        "notify_dispatch_flow",
        "Send due notifications from the outbox; retries with backoff and dead-letters ride on this schedule.",
        (Schedule("every-minute", interval_seconds=60),),
    ),
    Deployment(
        "approval-reminders",
        "phasegate.flows.approval_reminders",
        "approval_reminders_flow",
        "Remind and escalate overdue approvals on working calendars, notice conditions, reconcile decisions.",
        (Schedule("every-quarter-hour", interval_seconds=900),),
    ),
    Deployment(
        "weekly-digest",
        "phasegate.flows.weekly_digest",
        "weekly_digest_flow",
        "Each person's weekly digest of approvals and conditions waiting for them (once per ISO week).",
        (Schedule("monday-morning", cron="0 8 * * 1", timezone="Asia/Shanghai"),),
    ),
    Deployment(
        "portfolio-report",
        "phasegate.flows.portfolio_report",
        "portfolio_report_flow",
        "Last week's portfolio report (PDF, HTML, XLSX) to the management tag, once per period.",
        (Schedule("monday-report", cron="0 9 * * 1", timezone="Asia/Shanghai"),),
    ),
    Deployment(
        "portfolio-monitor",
        "phasegate.flows.portfolio_monitor",
        "portfolio_monitor_flow",
        "Scan the portfolio between gates: RAG from tolerances, exceptions raised once, automatic gate reviews.",
        (Schedule("hourly", interval_seconds=3600),),
    ),
)


def runner_deployments() -> list[RunnerDeployment]:
    """Each of ``DEPLOYMENTS`` as ``flow.to_deployment(...)`` builds it for ``serve``."""
    from prefect.schedules import Cron, Interval
    from prefect.schedules import Schedule as PrefectSchedule
    from prefect.types.entrypoint import EntrypointType

    built = []
    for spec in DEPLOYMENTS:
        flow = getattr(importlib.import_module(spec.module), spec.flow)
        schedules: list[PrefectSchedule] = [
            Interval(s.interval_seconds, slug=s.slug)
            if s.interval_seconds is not None
            else Cron(str(s.cron), timezone=s.timezone, slug=s.slug)
            for s in spec.schedules
        ]
        built.append(
            flow.to_deployment(
                spec.name,
                schedules=schedules,
                description=spec.description,
                tags=["phasegate"],
                # "phasegate.flows.gate_decision.gate_decision_flow", not a file path of this machine's checkout.
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return built


def main() -> None:
    """Serve until SIGTERM (``phasegate server stop``). Schedules stay active when this process stops.

    Why ``pause_on_shutdown=False``: with Prefect's default, stopping the laptop's server would pause the
    schedules in the server's database, and they would stay paused for a team that later points workers
    at the same deployments. Scheduled runs that fall due while nothing serves are picked up by the next
    ``server start`` (every flow is idempotent, so a late run does what a punctual one would have done).
    """
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", str(POLL_SECONDS))
    from prefect import serve

    serve(
        *runner_deployments(),
        limit=CONCURRENT_RUNS,
        pause_on_shutdown=False,
        print_starting_message=True,
        name=RUNNER_NAME,
    )


if __name__ == "__main__":
    main()

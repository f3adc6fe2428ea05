"""The ``portfolio-monitor`` flow (scheduled): one run scans the whole portfolio between gates.

It lists the active projects once, scans them in chunks (one task and one transaction per chunk: set-based
reads, the day's RAG rows, exceptions raised once with their notices), warns managers ahead of a gate date
when evidence is still missing, tells the sponsors of projects on hold when their next stage fits the capacity
now free (the HOLD queue, once per plan), opens the reviews of gates whose template says ``auto_review: when_ready`` or
``on_date`` through the ``gate-review`` flow itself (the one review path), sends what was queued, and publishes
a summary as a table and a Markdown artifact. A run that dies part-way leaves
finished chunks committed and the rest untouched; the next run does the rest, raising nothing twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from phasegate.flows.gate_review import gate_review_flow
from phasegate.flows.notify_dispatch import dispatch_notifications
from phasegate.flows.runtime import require_secret_key, runtime, utc_now
from phasegate.usecases import services

CHUNK = 500
"""Projects per task and transaction: big enough that per-chunk overhead vanishes, small enough to keep
each transaction (and SQLite's write lock) short."""


@task(name="list-active-projects")
def list_active_projects() -> list[str]:
    return services.active_projects(uow=runtime().uow)


@task(name="scan-chunk")
def scan_chunk(keys: list[str]) -> services.ScanReport:
    return services.scan_projects(keys, uow=runtime().uow, now=utc_now())


@task(name="announce-capacity")
def announce_capacity() -> list[str]:
    return services.announce_capacity(uow=runtime().uow, now=utc_now())


@task(name="check-gates")
def check_gates(keys: list[str]) -> services.GateDateReport:
    rt = runtime()
    return services.gate_actions(keys, uow=rt.uow, now=utc_now(), probe=rt.probe, registry=rt.registry)


TABLE_ROWS = 500
"""At most this many projects in the summary table: red first, then amber, then the rest."""
_ORDER = {"red": 0, "amber": 1, "unknown": 2, "green": 3, "none": 4}
DIMENSIONS = ("time", "cost", "quality", "risk")
"""The forecast dimensions the summary counts (scope and benefits are not forecast)."""


def summary_rows(reports: list[services.ScanReport]) -> list[dict[str, Any]]:
    """The projects that are not green or raised something (a green portfolio is a short table), worst first."""
    rows = [h for report in reports for h in report.health if h.overall.value != "green" or h.raised]
    rows.sort(key=lambda h: (_ORDER.get(h.overall.value, 5), -h.raised, h.project_key))
    return [h.model_dump(mode="json") for h in rows[:TABLE_ROWS]]


def summary_markdown(reports: list[services.ScanReport], reviewed: list[str], warned: list[str]) -> str:
    counts: dict[str, int] = {}
    for report in reports:
        for h in report.health:
            counts[h.overall.value] = counts.get(h.overall.value, 0) + 1
    raised = [e for report in reports for e in report.raised]
    by_dimension: dict[str, dict[str, int]] = {dimension: {} for dimension in DIMENSIONS}
    for report in reports:
        for h in report.health:
            for dimension in DIMENSIONS:
                rag = getattr(h, dimension).value
                by_dimension[dimension][rag] = by_dimension[dimension].get(rag, 0) + 1
    lines = [
        "# Portfolio monitor",
        "",
        f"Scanned **{sum(r.scanned for r in reports)}** active projects in {len(reports)} chunks.",
        "",
        "| overall RAG | projects |",
        "| --- | ---: |",
        *(f"| {rag} | {counts.get(rag, 0)} |" for rag in ("red", "amber", "green", "unknown", "none")),
        "",
        "| dimension | red | amber | green | unknown | none |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {dimension} | "
            + " | ".join(
                str(by_dimension[dimension].get(rag, 0)) for rag in ("red", "amber", "green", "unknown", "none")
            )
            + " |"
            for dimension in DIMENSIONS
        ),
        "",
        f"Exceptions raised: **{len(raised)}**"
        + (": " + ", ".join(f"{e.project_key} {e.dimension.value}" for e in raised[:20]) if raised else ""),
        "",
        f"Gate reviews opened automatically: **{len(reviewed)}**" + (": " + ", ".join(reviewed) if reviewed else ""),
        "",
        f"Managers warned of missing evidence ahead of a gate date: **{len(warned)}**"
        + (": " + ", ".join(warned[:20]) if warned else ""),
    ]
    return "\n".join(lines) + "\n"


@flow(name="portfolio-monitor", log_prints=False)
def portfolio_monitor_flow(chunk_size: int = CHUNK) -> dict[str, Any]:
    require_secret_key()
    keys = list_active_projects()
    chunks = [keys[i : i + chunk_size] for i in range(0, len(keys), chunk_size)]
    reports = [scan_chunk(chunk) for chunk in chunks]
    gates = [check_gates(chunk) for chunk in chunks]
    warned = [key for report in gates for key in report.warned]
    reviewed = []
    for key in dict.fromkeys(key for report in gates for key in (*report.ready, *report.due)):
        gate_review_flow(key)
        reviewed.append(key)
    freed = announce_capacity()
    sent = dispatch_notifications()
    rows = summary_rows(reports)
    create_table_artifact(rows, key="portfolio-monitor", description="Projects not green, or with a new exception")
    create_markdown_artifact(summary_markdown(reports, reviewed, warned), key="portfolio-monitor-summary")
    raised = sum(len(r.raised) for r in reports)
    get_run_logger().info(
        "scanned %d projects in %d chunks; %d exceptions raised; %d reviews opened",
        len(keys),
        len(chunks),
        raised,
        len(reviewed),
    )
    return {
        "scanned": sum(r.scanned for r in reports),
        "chunks": len(chunks),
        "exceptions_raised": raised,
        "reviews_opened": reviewed,
        "managers_warned": warned,
        "capacity_available": freed,
        "dispatch": sent,
    }

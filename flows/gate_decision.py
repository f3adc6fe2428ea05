"""The ``gate-decision`` flow: apply a resolved round to the project's lifecycle, once, and tell people."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from phasegate.flows.notify_dispatch import dispatch_notifications
from phasegate.flows.report import decision_markdown, round_rows
from phasegate.flows.run_names import round_run_name
from phasegate.flows.runtime import require_secret_key, runtime, utc_now
from phasegate.usecases import approvals, services


@task(name="apply-decision")
def apply_decision(round_id: UUID) -> approvals.DecisionApplied:
    return approvals.apply_round_decision(round_id, uow=runtime().uow, now=utc_now())


def _run_name() -> str:
    return round_run_name(str(flow_run.parameters["round_id"]))


@flow(name="gate-decision", flow_run_name=_run_name, log_prints=False)
def gate_decision_flow(round_id: str) -> dict[str, Any]:
    require_secret_key()
    applied = apply_decision(UUID(round_id))
    get_run_logger().info(
        "%s %s at %s: %s is %s in stage %s",
        "already applied" if applied.already_applied else "applied",
        applied.decision.value,
        applied.gate_id,
        applied.project_key,
        applied.status.value,
        applied.stage_id,
    )
    current = services.get_round(applied.round_id, uow=runtime().uow)
    create_markdown_artifact(
        decision_markdown(applied, current),
        key=f"gate-decision-{applied.project_key.lower()}",
        description=f"Decision at {applied.gate_id} for {applied.project_key}",
    )
    create_table_artifact(
        round_rows(current), key=f"gate-round-{applied.project_key.lower()}", description="Who voted what"
    )
    sent = dispatch_notifications()
    return applied.model_dump(mode="json") | {"dispatch": sent}

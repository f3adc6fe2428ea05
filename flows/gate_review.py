"""The ``gate-review`` flow: evaluate a gate, record it, open the round or say why not, notify, publish.

The flow is short and ends; the round it opens waits as a row in SQL, not as a paused process.
"""

from __future__ import annotations

from typing import Any

from prefect import State, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Completed

from phasegate.flows.notify_dispatch import dispatch_notifications
from phasegate.flows.report import evaluation_markdown, evaluation_rows, round_rows
from phasegate.flows.run_names import review_run_name
from phasegate.flows.runtime import require_secret_key, runtime
from phasegate.gates.vocabulary.commands import RequestReview
from phasegate.gates.vocabulary.identity import Actor
from phasegate.usecases import services


@task(name="record-review")
def record_review(project_key: str, actor: Actor, meeting_at: str | None) -> services.ReviewResult:
    return runtime().start_review(
        RequestReview.model_validate(
            {"project_key": project_key, "requested_by": actor.person_id, "meeting_at": meeting_at}
        ),
        actor=actor,
    )


@task(name="publish-review-artifacts")
def publish_review_artifacts(result: services.ReviewResult) -> None:
    evaluation = result.evaluation
    key = f"gate-review-{evaluation.project_key.lower()}"
    create_table_artifact(
        evaluation_rows(evaluation),
        key=f"{key}-criteria",
        description=f"Criteria of {evaluation.gate_id} for {evaluation.project_key}",
    )
    create_markdown_artifact(
        evaluation_markdown(evaluation, round_id=result.round_id, approvers=result.approvers),
        key=key,
        description=f"Gate review of {evaluation.project_key}",
    )
    if result.lessons:
        create_table_artifact(
            [
                {k: lesson[k] for k in ("id", "score", "project_key", "category", "what_happened", "repeat", "avoid")}
                for lesson in result.lessons
            ],
            key=f"{key}-lessons",
            description=f"Lessons learned shown at {evaluation.gate_id} (apply: phasegate lesson applied ID --round R)",
        )
    if result.round_id is not None:
        current = services.get_round(result.round_id, uow=runtime().uow)
        create_table_artifact(
            round_rows(current),
            key=f"gate-round-{evaluation.project_key.lower()}",
            description="The approval round: who is asked",
        )


def _run_name() -> str:
    return review_run_name(str(flow_run.parameters["project_key"]))


@flow(name="gate-review", flow_run_name=_run_name, log_prints=False)
def gate_review_flow(
    project_key: str, requested_by: str | None = None, meeting_at: str | None = None
) -> State[dict[str, Any]]:
    """``requested_by`` is who requests the review, sealed by the door that proved it (``Runtime.seal_actor``);
    without it the run acts as the system, as a scheduled one does. A deployment run is started by whoever
    reaches the Prefect API, so a bare person id is never taken for proof."""
    require_secret_key()
    actor = runtime().open_actor(requested_by, project_key=project_key)
    result = record_review(project_key, actor, meeting_at)
    publish_review_artifacts(result)
    evaluation = result.evaluation
    get_run_logger().info(
        "%s at %s: recommendation %s; %s",
        project_key,
        evaluation.gate_id,
        evaluation.recommendation.value,
        f"round {result.round_id} open for {', '.join(result.approvers)}" if result.round_id else "no round opened",
    )
    sent = dispatch_notifications()
    payload = result.model_dump(mode="json") | {"dispatch": sent}
    if result.round_id is None:
        return Completed(name="Not ready", message=f"{project_key}: not ready, no round opened", data=payload)
    return Completed(name="Awaiting approval", message=f"{project_key}: round {result.round_id} open", data=payload)

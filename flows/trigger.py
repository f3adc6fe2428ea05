"""Running flows from an entry point (the CLI, the web app): choose the Prefect API, run in-process or start
a deployment. Prefect is imported only inside these functions, when a flow is really about to run.
"""

from __future__ import annotations

from typing import Any

from flows.runtime import runtime
from models.errors import PhasegateError


def prepare_prefect() -> str:
    """Choose the Prefect API before Prefect is imported (it reads its settings once, at import).

    Returns the mode: "external" (a team server named by PREFECT_API_URL), "local-server" or "ephemeral".
    """
    import os

    from flows.server import configure_prefect_env
    from models.keys import secret_key

    settings = runtime().settings
    secret_key(settings)  # every flow makes or sends approval links: refuse before Prefect is even imported

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the command prints its own summary
    # A temporary server on a busy machine can take longer than Prefect's 20 s default to answer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    return configure_prefect_env(settings)


def run_flow(call: Any) -> Any:
    """Run a flow in this process against the local Prefect server when it is up (see `phasegate server`)."""
    from flows.server import prefect_run_context

    with prefect_run_context():
        state = call()
    if not state.is_completed():
        raise PhasegateError(f"flow run ended {state.name}: {state.message}", code="flow.failed")
    return state.result(), state


def apply_decision_flow(round_id: str) -> dict[str, Any]:
    """Apply a resolved round through the gate-decision flow.

    On a team server (PREFECT_API_URL set) the deployment runs it on a worker and this returns at once;
    otherwise, or when that deployment does not exist, the flow runs in this process.
    """
    mode = prepare_prefect()
    if mode == "external":
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment
        from prefect.exceptions import ObjectNotFound

        try:
            run = run_deployment("gate-decision/gate-decision", parameters={"round_id": round_id}, timeout=0)
            assert isinstance(run, FlowRun), "called from synchronous code, run_deployment returns the run"
            return {"scheduled_flow_run": str(run.id), "round_id": round_id}
        except ObjectNotFound:
            pass
    from flows.gate_decision import gate_decision_flow

    applied, _ = run_flow(lambda: gate_decision_flow(round_id, return_state=True))
    return dict(applied)

"""The ``approval-reminders`` flow (scheduled): reminders, escalations, condition notices, reconciliation.

Short and idempotent: every step it takes is recorded, so a second run in the same minute sends nothing new,
and rounds that resolved without their decision applied (a crash in between) are completed here. A round
that cannot be handled is reported (an artifact, the run's log, a "Needs attention" state) and never stops
the others: reminders, reconciliation and dispatch go on.
"""

from __future__ import annotations

from prefect import State, flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.states import Completed

from phasegate.flows.notify_dispatch import dispatch_notifications
from phasegate.flows.runtime import approval_links, require_secret_key, runtime, utc_now
from phasegate.usecases import approvals


@task(name="plan-reminders")
def plan_reminders() -> approvals.ReminderReport:
    rt = runtime()
    return approvals.send_reminders(uow=rt.uow, now=utc_now(), links=approval_links(rt.settings))


@task(name="reconcile-decisions")
def reconcile_decisions() -> approvals.ReconcileReport:
    return approvals.reconcile_decisions(uow=runtime().uow, now=utc_now())


@flow(name="approval-reminders", log_prints=False)
def approval_reminders_flow() -> State[dict[str, object]]:
    require_secret_key()
    reminders = plan_reminders()
    reconciled = reconcile_decisions()
    if reconciled.applied:
        create_table_artifact(
            [
                {"round": str(a.round_id), "project": a.project_key, "decision": a.decision.value}
                for a in reconciled.applied
            ],
            key="reconciled-decisions",
            description="Decisions applied late",
        )
    failed = [*reminders.failed, *reconciled.failed]
    if failed:
        create_table_artifact(
            [{"round": str(f.round_id), "error": f.error} for f in failed],
            key="approval-rounds-failing",
            description="Rounds this run could not handle; the others were handled",
        )
        get_run_logger().error("%d round(s) could not be handled: %s", len(failed), failed)
    sent = dispatch_notifications()
    payload: dict[str, object] = {
        "reminders": reminders.model_dump(mode="json", exclude={"failed"}),
        "reconciled": len(reconciled.applied),
        "failed": [f.model_dump(mode="json") for f in failed],
        "dispatch": sent,
    }
    if failed:
        return Completed(
            name="Needs attention", message=f"{len(failed)} round(s) failed; see the artifact", data=payload
        )
    return Completed(data=payload)

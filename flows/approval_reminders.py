"""The ``approval-reminders`` flow (scheduled): reminders, escalations, condition notices, reconciliation.

Short and idempotent: every step it takes is recorded, so a second run in the same minute sends nothing new,
and rounds that resolved without their decision applied (a crash in between) are completed here.
"""

from __future__ import annotations

from uuid import UUID

from prefect import task
from prefect.artifacts import create_table_artifact

from flows.notify_dispatch import dispatch_notifications
from flows.plain_flow import plain_flow
from flows.runtime import approval_links, runtime, utc_now
from gates import approvals


@task(name="plan-reminders")
def plan_reminders() -> dict[str, int]:
    rt = runtime()
    report = approvals.send_reminders(uow=rt.uow, now=utc_now(), links=approval_links(rt.settings))
    return report.model_dump()


@task(name="reconcile-decisions")
def reconcile_decisions() -> list[dict[str, str]]:
    rt = runtime()
    applied = []
    for round_id in approvals.unapplied_rounds(uow=rt.uow):
        result = approvals.apply_round_decision(UUID(str(round_id)), uow=rt.uow, now=utc_now())
        applied.append(
            {"round": str(result.round_id), "project": result.project_key, "decision": result.decision.value}
        )
    return applied


@plain_flow(name="approval-reminders")
def approval_reminders_flow() -> dict[str, object]:
    reminders = plan_reminders()
    reconciled = reconcile_decisions()
    if reconciled:
        create_table_artifact(reconciled, key="reconciled-decisions", description="Decisions applied late")
    sent = dispatch_notifications()
    return {"reminders": reminders, "reconciled": len(reconciled), "dispatch": sent}

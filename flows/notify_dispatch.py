"""The ``notify-dispatch`` flow (scheduled) and the task other flows call after their transaction commits."""

from __future__ import annotations

from prefect import flow, task

from phasegate.flows.runtime import link_signer, require_secret_key, runtime
from phasegate.notifications.dispatch import dispatch_due


@task(name="dispatch-notifications")
def dispatch_notifications() -> dict[str, int]:
    rt = runtime()
    report = dispatch_due(rt.sessions, max_attempts=rt.settings.notify_max_attempts, links=link_signer(rt.settings))
    return report.as_dict()


@flow(name="notify-dispatch", log_prints=False)
def notify_dispatch_flow() -> dict[str, int]:
    require_secret_key()
    return dispatch_notifications()

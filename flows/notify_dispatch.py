"""The ``notify-dispatch`` flow (scheduled) and the task other flows call after their transaction commits."""

from __future__ import annotations

from prefect import task

from flows.plain_flow import plain_flow
from flows.runtime import link_signer, runtime
from notifications.dispatch import dispatch_due


@task(name="dispatch-notifications")
def dispatch_notifications() -> dict[str, int]:
    rt = runtime()
    report = dispatch_due(rt.sessions, max_attempts=rt.settings.notify_max_attempts, links=link_signer(rt.settings))
    return report.as_dict()


@plain_flow(name="notify-dispatch")
def notify_dispatch_flow() -> dict[str, int]:
    return dispatch_notifications()

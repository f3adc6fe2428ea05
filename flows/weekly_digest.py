"""The ``weekly-digest`` flow (scheduled on Mondays): each person hears once a week what waits for them."""

from __future__ import annotations

from prefect import flow, task

from phasegate.flows.notify_dispatch import dispatch_notifications
from phasegate.flows.runtime import approval_links, require_secret_key, runtime, utc_now
from phasegate.usecases import approvals


@task(name="queue-digests")
def queue_digests() -> int:
    rt = runtime()
    return approvals.send_weekly_digests(uow=rt.uow, now=utc_now(), links=approval_links(rt.settings))


@flow(name="weekly-digest", log_prints=False)
def weekly_digest_flow() -> dict[str, object]:
    require_secret_key()
    queued = queue_digests()
    return {"digests": queued, "dispatch": dispatch_notifications()}

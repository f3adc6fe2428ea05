"""CLI: The notification outbox: send what is due, see what happened to each target, send again."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import Db, Json, acting, emit, now, runtime_for, sub_app
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("The notification outbox.")

_ERROR_CHARS = 160


@app.command("dispatch")
def notify_dispatch(db: Db = None, as_json: Json = False) -> None:
    """Send due notifications from the outbox now (the notify-dispatch flow does this on a schedule)."""
    from phasegate.flows.runtime import link_signer
    from phasegate.notifications.dispatch import dispatch_due

    rt = runtime_for(db)
    links = link_signer(rt.settings)
    report = dispatch_due(rt.sessions, max_attempts=rt.settings.notify_max_attempts, links=links).as_dict()
    if as_json:
        emit(report)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in report.items()))


@app.command("list")
def notify_list(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only rows waiting to retry or of unknown delivery (maybe_sent).")
    ] = False,
    dead: Annotated[bool, typer.Option("--dead", help="Only dead-lettered rows (out of attempts).")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows, newest first.")] = 100,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """One line per notification and target: status, attempts, next try, last error. Secrets are masked."""
    from phasegate.gates.vocabulary.enums import OutboxStatus
    from phasegate.notifications.dispatch import list_outbox

    statuses: list[OutboxStatus] = []
    if failed:
        statuses += [OutboxStatus.FAILED, OutboxStatus.MAYBE_SENT]
    if dead:
        statuses.append(OutboxStatus.DEAD)
    entries = list_outbox(runtime_for(db).read_sessions, statuses=statuses, limit=limit)
    if as_json:
        emit([entry.as_dict() for entry in entries])
        return
    if not entries:
        typer.echo("no notifications")
        return
    for entry in entries:
        typer.echo(_line(entry))


@app.command("retry")
def notify_retry(
    ref: Annotated[
        str | None, typer.Argument(metavar="ID", help="Outbox id (or idempotency key) from 'notify list'.")
    ] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead-lettered row.")] = False,
    dispatch: Annotated[
        bool, typer.Option("--dispatch/--no-dispatch", help="Send right away (default) or leave it to the schedule.")
    ] = True,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Queue a failed, dead or maybe-sent notification again with a fresh attempt budget, then send it."""
    from phasegate.flows.runtime import link_signer
    from phasegate.notifications.dispatch import dispatch_due, requeue

    if (ref is None) == (not all_dead):
        raise InputError("notify retry: give either one ID or --all-dead (see 'phasegate notify list --dead')")
    from phasegate.usecases import services

    rt = runtime_for(db)
    services.begin_operation("notify retry", actor=acting(rt, None), uow=rt.uow, now=now())
    links = link_signer(rt.settings) if dispatch else None
    queued = requeue(rt.sessions, ref=ref, all_dead=all_dead, now=now())
    report = dispatch_due(rt.sessions, links=links).as_dict() if dispatch and queued else None
    if as_json:
        emit({"queued": queued, "dispatch": report})
        return
    typer.echo(f"queued {queued}")
    if report is not None:
        typer.echo(", ".join(f"{k} {v}" for k, v in report.items()))


def _line(entry: Any) -> str:
    error = (entry.last_error or "").splitlines()[0] if entry.last_error else ""
    if len(error) > _ERROR_CHARS:
        error = error[: _ERROR_CHARS - 1] + "…"
    parts = [
        str(entry.id),
        f"{entry.status.value:<10}",
        f"{entry.kind:<18}",
        entry.recipient_id or "-",
        entry.target,
        f"attempts {entry.attempts}",
    ]
    if entry.sent_at is not None:
        parts.append(f"sent {entry.sent_at.isoformat(timespec='seconds')}")
    elif entry.status.value in {"pending", "failed"}:
        parts.append(f"next {entry.next_attempt_at.isoformat(timespec='seconds')}")
    if error:
        parts.append(f"error: {error}")
    return "  ".join(parts)


@app.command("digest")
def notify_digest(db: Db = None, as_json: Json = False) -> None:
    """Queue this week's digests now (the weekly-digest flow does it on Mondays) and send them."""
    from phasegate.flows.runtime import approval_links, link_signer
    from phasegate.notifications.dispatch import dispatch_due
    from phasegate.usecases import approvals

    rt = runtime_for(db)
    links = approval_links(rt.settings)
    queued = approvals.send_weekly_digests(uow=rt.uow, now=now(), links=links)
    report = dispatch_due(
        rt.sessions, max_attempts=rt.settings.notify_max_attempts, links=link_signer(rt.settings)
    ).as_dict()
    if as_json:
        emit({"digests": queued, "dispatch": report})
    else:
        typer.echo(f"{queued} digest(s) queued; " + ", ".join(f"{k} {v}" for k, v in report.items()))

"""CLI: The notification outbox."""

from __future__ import annotations

import typer

from flows.cli.common import Db, Json, emit, runtime_for, sub_app

app = sub_app("The notification outbox.")


@app.command("dispatch")
def notify_dispatch(db: Db = None, as_json: Json = False) -> None:
    """Send due notifications from the outbox now (the notify-dispatch flow does this on a schedule)."""
    from notifications.dispatch import dispatch_due

    report = dispatch_due(runtime_for(db).sessions).as_dict()
    if as_json:
        emit(report)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in report.items()))

"""CLI: The local Prefect server the CLI uses when it is up."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import Json, emit, runtime_for, sub_app

app = sub_app("The local Prefect server the CLI uses when it is up.")


@app.command("start")
def server_start(port: Annotated[int | None, typer.Option("--port")] = None) -> None:
    """Start a local Prefect server (UI and API) under PHASEGATE_HOME; later commands use it."""
    from flows.server import start

    status = start(runtime_for(None).settings, port=port)
    typer.echo(f"Prefect server running at {status.url} (pid {status.pid}); stop it with 'phasegate server stop'")
    if status.warm_start:
        typer.echo("warm start ready: commands are forked from a process that has already imported Prefect")
    else:
        log = status.log_path.with_name("cli-host.log")
        typer.echo(f"warm start unavailable, commands start cold (see {log})", err=True)


@app.command("stop")
def server_stop() -> None:
    """Stop the local Prefect server."""
    from flows.server import stop

    typer.echo("stopped" if stop(runtime_for(None).settings) else "not running")


@app.command("status")
def server_status(as_json: Json = False) -> None:
    """Tell whether the local Prefect server is up."""
    from flows.server import status

    current = status(runtime_for(None).settings)
    if as_json:
        emit({"running": current.running, "url": current.url, "pid": current.pid, "warm_start": current.warm_start})
    else:
        typer.echo(f"running at {current.url} (pid {current.pid})" if current.running else "not running")
        if current.running:
            typer.echo(f"warm start: {'ready' if current.warm_start else 'off'}")

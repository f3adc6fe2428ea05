"""CLI: the local Prefect server and the process serving phasegate's deployments beside it."""

from __future__ import annotations

from typing import Annotated

import typer

from phasegate.flows.cli.common import Json, emit, runtime_for, sub_app

app = sub_app("The local Prefect server and the process serving phasegate's flows.")


@app.command("start")
def server_start(port: Annotated[int | None, typer.Option("--port")] = None) -> None:
    """Start a local Prefect server (UI and API) and serve phasegate's deployments, schedules included."""
    from phasegate.flows.server import start

    status = start(runtime_for(None).settings, port=port)
    typer.echo(f"Prefect server running at {status.url} (pid {status.pid}); stop it with 'phasegate server stop'")
    if status.serving:
        from phasegate.flows.serving import DEPLOYMENTS

        names = [deployment.name for deployment in DEPLOYMENTS]
        typer.echo(
            f"serving {', '.join(names[:-1])} and {names[-1]} (pid {status.serving_pid}, log {status.serving_log})"
        )
    else:
        typer.echo(
            f"phasegate's deployments are not served, so commands run flows themselves (see {status.serving_log})",
            err=True,
        )


@app.command("stop")
def server_stop() -> None:
    """Stop the serving process and the local Prefect server."""
    from phasegate.flows.server import stop
    from phasegate.models.settings import Settings

    # Settings, not the runtime: opening the database engine would create an empty SQLite file in a fresh home.
    typer.echo("stopped" if stop(Settings()) else "not running")


@app.command("status")
def server_status(as_json: Json = False) -> None:
    """Tell whether the local Prefect server is up and phasegate's deployments are served."""
    from phasegate.flows.server import status
    from phasegate.models.settings import Settings

    current = status(Settings())
    if as_json:
        emit(
            {
                "running": current.running,
                "url": current.url,
                "pid": current.pid,
                "serving": current.serving,
                "serving_pid": current.serving_pid,
                "serving_log": str(current.serving_log) if current.serving_log else None,
                "serving_other_database": current.serving_other_database,
            }
        )
        return
    typer.echo(f"running at {current.url} (pid {current.pid})" if current.running else "not running")
    if current.serving and current.serving_other_database:
        typer.echo(
            f"serving phasegate's deployments for another database (pid {current.serving_pid}); "
            "'phasegate server start' serves this one instead"
        )
    elif current.serving:
        typer.echo(f"serving phasegate's deployments (pid {current.serving_pid}, log {current.serving_log})")
    elif current.running or current.serving_pid is not None:
        typer.echo(f"phasegate's deployments are not served (see {current.serving_log})")

"""CLI: ``phasegate serve`` runs the web app (dashboard, approval links, REST API) under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from phasegate.gates.vocabulary.errors import InputError


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8000,
) -> None:
    """Serve the web app; links in notifications point at PHASEGATE_PUBLIC_URL, so set it to how people reach this.

    Pages other than approval links need a sign-in: give people passwords with 'phasegate account set-password',
    or set PHASEGATE_OIDC_* for single sign-on (docs/security.md).
    Refuses to start without a real secret key (approval links are checked with it); the access log never
    shows approval tokens.
    """
    if not 0 < port < 65536:
        raise InputError(f"--port: {port} is not a TCP port; use 1 to 65535")
    from phasegate.models.keys import secret_key
    from phasegate.models.settings import Settings

    settings = Settings()
    secret_key(settings)
    from phasegate.flows.trigger import served_api

    unserved = served_api(settings)
    if isinstance(unserved, str):  # said once here: otherwise the first deciding vote just waits, unexplained
        typer.echo(
            f"phasegate serve: {unserved}, so a deciding vote's gate-decision flow runs in this process before it "
            "answers, and the first one starts Prefect (10-15 s). Run 'phasegate server start' on this machine, or "
            "set PREFECT_API_URL to a team's Prefect server (docs/team.md).",
            err=True,
        )
    from phasegate.web.app import run_server

    run_server(host=host, port=port)

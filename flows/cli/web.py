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

    secret_key(Settings())
    from phasegate.web.app import run_server

    run_server(host=host, port=port)

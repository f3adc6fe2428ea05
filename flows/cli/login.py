"""CLI: ``login``, ``logout`` and ``whoami``: a personal token for a team server instead of database credentials.

A login is checked before it is stored: the server must answer ``GET /api/v1/me`` for the token, so a
mistyped token or address is exit 2 with nothing written, never a file that fails later. The token is read
without echo (or from stdin with ``--token-stdin``, for scripts), never from an option that would land in
shell history and ``ps``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import Json, emit
from phasegate.gates.vocabulary.errors import InputError


def login(
    url: Annotated[str, typer.Argument(metavar="URL", help="The phasegate server, e.g. https://phasegate.example.org")],
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from standard input instead of a prompt")
    ] = False,
) -> None:
    """Check a personal API token against a server and store it: commands then go through that server."""
    from phasegate.flows.cli.remote import credentials
    from phasegate.flows.cli.remote.client import Server

    base = credentials.server_url(url)
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = typer.prompt("API token (from 'phasegate token create' on the server)", hide_input=True).strip()
    if not token:
        raise InputError("token: empty; paste the token 'phasegate token create PERSON --role ROLE' printed")
    with Server(credentials.Login(url=base, token=token)) as remote:
        me = remote.me()
    path = credentials.save(credentials.Login(url=base, token=token, person_id=me["person_id"], role=me["role"]))
    typer.echo(f"logged in to {base} as {_who(me)} ({me['role']} token); stored in {path}")
    if os.environ.get(credentials.URL_VARIABLE) or os.environ.get(credentials.TOKEN_VARIABLE):
        typer.echo(
            f"note: {credentials.URL_VARIABLE}/{credentials.TOKEN_VARIABLE} are set and win over this login",
            err=True,
        )


def logout() -> None:
    """Forget the stored login: commands work on a local database again. (The token stays valid on the server.)"""
    from phasegate.flows.cli.remote import credentials

    removed = credentials.remove()
    typer.echo(
        f"logged out: {credentials.credentials_path()} removed" if removed else "not logged in: nothing to remove"
    )
    if os.environ.get(credentials.URL_VARIABLE) or os.environ.get(credentials.TOKEN_VARIABLE):
        typer.echo(
            f"{credentials.URL_VARIABLE}/{credentials.TOKEN_VARIABLE} are still set: unset them to work locally",
            err=True,
        )
    if removed:
        typer.echo("to end the token itself, ask your PMO to run 'phasegate token revoke ID' on the server", err=True)


def whoami(as_json: Json = False) -> None:
    """Who the CLI acts as, and through which door: this computer's login, or a server and its token."""
    from phasegate.flows.cli.remote import credentials

    stored = credentials.current()
    doc: dict[str, Any]
    if stored is None:
        doc = _local()
    else:
        from phasegate.flows.cli.remote.client import Server

        with Server(stored) as remote:
            me = remote.me()
        doc = {
            "door": "server",
            "method": me["method"],
            "server": stored.url,
            "source": stored.source,
            "person_id": me["person_id"],
            "name": me["name"],
            "role": me["role"],
            "roles": me["roles"],
            "token_id": me["token_id"],
        }
    if as_json:
        emit(doc)
    elif doc["door"] == "server":
        via = "PHASEGATE_SERVER_URL/PHASEGATE_TOKEN" if doc["source"] == "environment" else "phasegate login"
        typer.echo(f"{_who(doc)} through the server {doc['server']} ({doc['role']} token, from {via})")
    else:
        typer.echo(f"OS login {doc['os_login']} on this computer's database {doc['database']}")


def _local() -> dict[str, Any]:
    import getpass

    from sqlalchemy.engine import make_url

    from phasegate.models.settings import Settings

    database = make_url(Settings().resolved_database_url).render_as_string(hide_password=True)
    return {"door": "local", "method": "os_login", "os_login": getpass.getuser(), "database": database}


def _who(me: dict[str, Any]) -> str:
    return f"{me['person_id']} ({me['name']})" if me.get("name") else str(me["person_id"])

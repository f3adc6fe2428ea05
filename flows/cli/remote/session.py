"""What every remote command shares: the server of the current login, who it acts as, and refused options.

Why ``--as`` is checked and not sent: through the server the actor is the token's person, proved by the
token. ``--as SOMEONE-ELSE`` would be a claim the server cannot honour, so it is refused with the way to act
as that person (their own token) instead of being silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flows.cli.remote import credentials
from flows.cli.remote.client import Server
from models.errors import InputError, RemoteError


def server() -> Server:
    login = credentials.current()
    if login is None:  # the dispatcher only routes here while a login exists
        raise RemoteError("not logged in to a server; run 'phasegate login URL'", code="remote.unauthorized")
    return Server(login)


def refuse_db(db: str | None, login_url: str) -> None:
    if db is not None:
        raise InputError(
            f"--db: not used while this CLI works through the server {login_url}; run 'phasegate logout' "
            "(or unset PHASEGATE_SERVER_URL) to work on a database directly"
        )


def acting_person(remote: Server, claimed: str | None, *, option: str = "--as") -> dict[str, Any]:
    """The token's person (``GET /me``); ``claimed`` must be that person when given."""
    me = remote.me()
    if claimed is not None and claimed != me["person_id"]:
        raise InputError(
            f"{option}: through the server {remote.login.url} you act as {me['person_id']} (the token's person), "
            f"not {claimed}; to act as {claimed}, log in with their token"
        )
    return me


def parse_time(value: str) -> datetime:
    """A timestamp from the API's JSON, so it prints exactly as the local command prints the stored one."""
    return datetime.fromisoformat(value)


def iso(value: str | None) -> str | None:
    return parse_time(value).isoformat() if value is not None else None

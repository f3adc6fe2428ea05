"""What every remote command shares: the server of the current login, who it acts as, and refused options.

Why ``--as`` is sent and not dropped: through the server the actor is the token's person, proved by the
token. ``--as SOMEONE-ELSE`` is a claim the server cannot honour, so the request carries it (the
``X-Phasegate-Act-As`` header) and the server refuses it (exit 2, with the way to act as that person: their
own token) and records the attempt in its audit log, where every other refusal is; a laptop has no audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from phasegate.flows.cli.remote import credentials
from phasegate.flows.cli.remote.client import Server
from phasegate.gates.vocabulary.errors import InputError, RemoteError


def server(act_as: str | None = None) -> Server:
    """The current login's server; ``act_as`` (a command's ``--as``) goes with every request for it to judge."""
    login = credentials.current()
    if login is None:  # the dispatcher only routes here while a login exists
        raise RemoteError("not logged in to a server; run 'phasegate login URL'", code="remote.unauthorized")
    return Server(login, act_as=act_as)


def refuse_db(db: str | None, login_url: str) -> None:
    if db is not None:
        raise InputError(
            f"--db: not used while this CLI works through the server {login_url}; run 'phasegate logout' "
            "(or unset PHASEGATE_SERVER_URL) to work on a database directly"
        )


def acting_person(remote: Server) -> dict[str, Any]:
    """The token's person (``GET /me``); the server refuses (and audits) an ``--as`` naming anyone else."""
    return remote.me()


def parse_time(value: str) -> datetime:
    """A timestamp from the API's JSON, so it prints exactly as the local command prints the stored one."""
    return datetime.fromisoformat(value)


def iso(value: str | None) -> str | None:
    return parse_time(value).isoformat() if value is not None else None

"""Remote ``person show|update|disable``: the same options and output as the local commands, through the API.

``person add`` stays on the server: the very first PMO admin is created there, by the OS user who will be
them, and adding people is rare PMO administration. ``person show`` prints what the server shows the token's
person: a PMO admin or the person themselves sees email, login and notification targets, anyone else does not.
"""

from __future__ import annotations

from typing import Any

import typer

from phasegate.flows.cli.common import (
    ActFor,
    Db,
    Enable,
    IdArg,
    Json,
    NoLogin,
    PersonEmail,
    PersonLocale,
    PersonLogin,
    PersonName,
    PersonNotify,
    PersonRoles,
    Reason,
    sub_app,
)
from phasegate.flows.cli.people import describe, show_person, update_command
from phasegate.flows.cli.remote.session import refuse_db, server
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("People (through the server; 'person add' runs on the server).")


def _snapshot(out: dict[str, Any]) -> Any:
    """The API's person as the snapshot the local command prints (a withheld email reads as the empty string)."""
    from phasegate.gates.vocabulary.snapshots import PersonSnapshot

    return PersonSnapshot.model_validate(out | {"email": out["email"] or ""})


@app.command("update")
def person_update(
    person_id: IdArg,
    name: PersonName = None,
    email: PersonEmail = None,
    locale: PersonLocale = None,
    notify: PersonNotify = None,
    login: PersonLogin = None,
    no_login: NoLogin = False,
    role: PersonRoles = None,
    enable: Enable = False,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Change a person's details, OS login or organisation roles (pmo_admin)."""
    if notify is not None:  # the API does not take targets yet: an Apprise URL is checked where it is sent
        raise InputError(
            "--notify: notification targets are changed on the server ('phasegate person update ID --notify URL' "
            "there); leave out --notify here"
        )
    cmd = update_command(person_id, name, email, locale, notify, login, no_login, role, enable)
    body: dict[str, Any] = {
        "name": cmd.name,
        "email": str(cmd.email) if cmd.email is not None else None,
        "locale": cmd.locale.value if cmd.locale is not None else None,
        "roles": sorted(cmd.roles) if cmd.roles is not None else None,
    }
    body = {k: v for k, v in body.items() if v is not None} | {"enable": cmd.enable}
    if cmd.login is not None or cmd.clear_login:
        body["login"] = cmd.login  # null unmaps the login
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        person = _snapshot(remote.call("PATCH", f"/people/{person_id}", body=body))
    typer.echo(f"person {describe(person)}")


@app.command("disable")
def person_disable(person_id: IdArg, reason: Reason, as_person: ActFor = None, db: Db = None) -> None:
    """Stop a person acting by any door; their API tokens stop working (pmo_admin)."""
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        person = _snapshot(remote.call("POST", f"/people/{person_id}/disable", body={"reason": reason}))
    typer.echo(f"person {describe(person)}")


@app.command("show")
def person_show(person_id: IdArg, db: Db = None, as_json: Json = False) -> None:
    """Show a person: login, organisation roles, whether disabled."""
    with server() as remote:
        refuse_db(db, remote.login.url)
        person = _snapshot(remote.get(f"/people/{person_id}"))
    show_person(person, as_json)

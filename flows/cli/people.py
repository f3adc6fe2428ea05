"""CLI: People: sponsors, managers, gatekeepers."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import Db, command, now, runtime_for, sub_app

app = sub_app("People: sponsors, managers, gatekeepers.")


@app.command("add")
def person_add(
    person_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[str, typer.Option("--email")],
    locale: Annotated[str, typer.Option("--locale", help="en or zh-CN")] = "en",
    notify: Annotated[list[str] | None, typer.Option("--notify", help="Apprise URL (repeatable)")] = None,
    db: Db = None,
) -> None:
    """Add a person with the Apprise targets that reach them."""
    from gates import services
    from models.commands import AddPerson
    from notifications.targets import validate_person_target

    for url in notify or []:
        validate_person_target(url)
    cmd = command(
        AddPerson,
        {"id": "ID", "name": "--name", "email": "--email", "locale": "--locale"},
        id=person_id,
        name=name,
        email=email,
        locale=locale,
        notify_urls=tuple(notify or ()),
    )
    person = services.add_person(cmd, uow=runtime_for(db).uow, now=now())
    typer.echo(f"person {person.id} ({person.name}, {person.locale}, {len(person.notify_urls)} notification targets)")

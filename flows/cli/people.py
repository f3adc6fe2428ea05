"""CLI: People: sponsors, managers, gatekeepers; their OS logins, organisation roles, and disabling them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import (
    ROLES_HELP,
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
    acting,
    command,
    emit,
    now,
    os_login,
    runtime_for,
    sub_app,
)

app = sub_app("People: sponsors, managers, gatekeepers; OS logins and organisation roles (pmo_admin manages them).")

NAMES = {
    "id": "ID",
    "name": "--name",
    "email": "--email",
    "locale": "--locale",
    "login": "--login",
    "roles": "--role",
    "roles.0": "--role",
}


def _roles(given: list[str] | None) -> Any:
    from phasegate.gates.vocabulary.errors import InputError
    from phasegate.gates.vocabulary.identity import OrgRole

    allowed = [r.value for r in OrgRole]
    for role in given or []:
        if role not in allowed:
            raise InputError(f"--role: {role!r} is not an organisation role; allowed: {', '.join(allowed)}")
    return frozenset(OrgRole(r) for r in given or [])


def describe(person: Any) -> str:
    roles = ", ".join(sorted(person.roles)) or "no roles"
    login = f"login {person.login}" if person.login else "no login"
    state = ", DISABLED" if person.disabled else ""
    return f"{person.id} ({person.name}, {person.locale}, {login}, {roles}, {len(person.notify_urls)} targets{state})"


@app.command("add")
def person_add(
    person_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[str, typer.Option("--email")],
    locale: Annotated[str, typer.Option("--locale", help="en or zh-CN")] = "en",
    notify: Annotated[list[str] | None, typer.Option("--notify", help="Apprise URL (repeatable)")] = None,
    login: Annotated[str | None, typer.Option("--login", help="The OS login that acts as this person")] = None,
    role: Annotated[list[str] | None, typer.Option("--role", help=ROLES_HELP)] = None,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Add a person (pmo_admin). While no pmo_admin exists, the OS user may add themselves as the first one."""
    from phasegate.gates.vocabulary.commands import AddPerson
    from phasegate.notifications.targets import validate_person_target
    from phasegate.usecases import people, services

    for url in notify or []:
        validate_person_target(url)
    cmd = command(
        AddPerson,
        NAMES,
        id=person_id,
        name=name,
        email=email,
        locale=locale,
        notify_urls=tuple(notify or ()),
        login=login,
        roles=_roles(role),
    )
    rt = runtime_for(db)
    if as_person is None and people.awaiting_first_admin(uow=rt.reader):
        person = people.bootstrap_admin(cmd, login=os_login(), uow=rt.uow, now=now())
        typer.echo(f"person {describe(person)}: the first PMO admin, mapped to your OS login")
        return
    person = services.add_person(cmd, actor=acting(rt, as_person), uow=rt.uow, now=now())
    typer.echo(f"person {describe(person)}")


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
    from phasegate.usecases import people

    cmd = update_command(person_id, name, email, locale, notify, login, no_login, role, enable)
    rt = runtime_for(db)
    person = people.update_person(cmd, actor=acting(rt, as_person), uow=rt.uow, now=now())
    typer.echo(f"person {describe(person)}")


def update_command(
    person_id: str,
    name: str | None,
    email: str | None,
    locale: str | None,
    notify: list[str] | None,
    login: str | None,
    no_login: bool,
    role: list[str] | None,
    enable: bool,
) -> Any:
    """The ``UpdatePerson`` both trees build from the options, so a mistake reads the same in both."""
    from phasegate.gates.vocabulary.commands import UpdatePerson
    from phasegate.notifications.targets import validate_target

    for url in notify or []:
        validate_target(url)
    return command(
        UpdatePerson,
        NAMES,
        id=person_id,
        name=name,
        email=email,
        locale=locale,
        notify_urls=tuple(notify) if notify is not None else None,
        login=login,
        clear_login=no_login,
        roles=_roles(role) if role is not None else None,
        enable=enable,
    )


@app.command("disable")
def person_disable(
    person_id: IdArg,
    reason: Reason,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Stop a person acting by any door; their API tokens stop working (pmo_admin)."""
    from phasegate.usecases import people

    rt = runtime_for(db)
    person = people.disable_person(person_id, actor=acting(rt, as_person), reason=reason, uow=rt.uow, now=now())
    typer.echo(f"person {describe(person)}")


@app.command("show")
def person_show(person_id: IdArg, db: Db = None, as_json: Json = False) -> None:
    """Show a person: login, organisation roles, whether disabled."""
    from phasegate.usecases import people

    show_person(people.get_person(person_id, uow=runtime_for(db).reader), as_json)


def show_person(person: Any, as_json: bool) -> None:
    if as_json:
        emit(person.model_dump(mode="json") | {"roles": sorted(person.roles)})
        return
    typer.echo(describe(person))


@app.command("whoami")
def person_whoami(db: Db = None) -> None:
    """Who the CLI acts as: the person mapped to your OS login."""
    rt = runtime_for(db)
    actor = acting(rt, None)
    typer.echo(f"{actor.person_id} (OS login {os_login()}; roles: {', '.join(sorted(actor.roles)) or 'none'})")

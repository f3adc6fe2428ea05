"""CLI: local web accounts. Passwords are read from a hidden prompt or stdin, never from the command line.

Why never an option: a password on the command line lands in the shell history and in ``ps`` for every user
of the machine. ``--password-stdin`` serves scripts (``printf '%s' "$PW" | phasegate account set-password ...``).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from phasegate.flows.cli.common import Db, acting, now, runtime_for, sub_app
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Web sign-in accounts: passwords (argon2id) and one-time codes (TOTP).")

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin instead of a prompt.")
]


def read_password(*, from_stdin: bool, prompt: str, confirm: bool) -> str:
    """A password from stdin's first line or a hidden prompt; InputError when none is given."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
    elif sys.stdin.isatty():
        password = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    else:
        raise InputError("password: stdin is not a terminal; pass --password-stdin and write the password to stdin")
    if not password:
        raise InputError("password: empty; give one on the prompt or on stdin's first line")
    return password


@app.command("set-password")
def set_password(
    person: Annotated[str, typer.Argument(metavar="PERSON")],
    password_stdin: PasswordStdin = False,
    db: Db = None,
) -> None:
    """Set PERSON's web password (at least 12 characters, not a common one); ends their open sign-ins.

    Your own, or anyone's as a pmo_admin (checked before the password is asked for).
    """
    from phasegate.models.credentials import MIN_PASSWORD_LENGTH
    from phasegate.models.credentials import set_password as store
    from phasegate.usecases.people import permit_credentials_act

    rt = runtime_for(db)
    permit_credentials_act(person, actor=acting(rt, None), uow=rt.uow, now=now())
    password = read_password(
        from_stdin=password_stdin, prompt=f"New password for {person} (≥{MIN_PASSWORD_LENGTH} characters)", confirm=True
    )
    with rt.sessions() as session, session.begin():
        store(session, person, password, now=now(), audit_key=rt.audit_key)
    typer.echo(f"password set for {person}; their open web sign-ins were ended")


@app.command("totp")
def enable_totp(person: Annotated[str, typer.Argument(metavar="PERSON")], db: Db = None) -> None:
    """Require a one-time code (TOTP) at PERSON's sign-in; prints the otpauth:// URI once, for their app.

    Your own, or anyone's as a pmo_admin.
    """
    from phasegate.models.credentials import enable_totp as enable
    from phasegate.usecases.people import permit_credentials_act

    rt = runtime_for(db)
    permit_credentials_act(person, actor=acting(rt, None), uow=rt.uow, now=now())
    with rt.sessions() as session, session.begin():
        uri = enable(session, person, now=now(), audit_key=rt.audit_key)
    typer.echo(uri)
    typer.echo(
        f"TOTP enabled for {person}: add the URI above to an authenticator app (or a QR code of it); shown once",
        err=True,
    )

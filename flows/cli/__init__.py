"""The ``phasegate`` command line. Commands that run no flow never import Prefect (it costs ~1 s).

User mistakes end with one line on stderr naming what is wrong and what is allowed, exit status 2, and
nothing written; a broken audit chain exits 1. Each command group lives in a module named after it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer

from phasegate.gates.vocabulary.errors import PhasegateError


def demo() -> None:
    """Run the demo portfolio end to end on the embedded defaults (see README)."""
    from phasegate.flows.demo import run_demo

    run_demo()


# Each group and command as ``module:attribute`` under ``phasegate.flows.cli`` (an empty module is this one).
# Why not the objects: a call names its group first, so only that group's module is imported; importing every
# sub-command's module (and the use cases and repositories behind them) cost ~0.15 s before each command.
GROUPS: dict[str, str] = {
    "db": "database:app",
    "template": "templates:app",
    "person": "people:app",
    "project": "projects:app",
    "doc": "evidence:doc_app",
    "actuals": "evidence:actuals_app",
    "baseline": "evidence:baseline_app",
    "risk": "evidence:risk_app",
    "milestone": "evidence:milestone_app",
    "gate": "gates:app",
    "audit": "audit:app",
    "notify": "notify:app",
    "server": "server:app",
    "rounds": "approvals:rounds_app",
    "conditions": "approvals:conditions_app",
    "token": "tokens:app",
    "account": "accounts:app",
    "delegate": "approvals:delegate_app",
    "key": "keys:app",
    "report": "reports:app",
    "tolerance": "tolerances:app",
    "exceptions": "exceptions:app",
    "lesson": "lessons:app",
    "portfolio": "portfolio:app",
    "resources": "resources:app",
}
COMMANDS: dict[str, str] = {
    "vote": "approvals:vote",
    "serve": "web:serve",
    "score": "evidence:score",
    "demo": ":demo",
    "login": "login:login",
    "logout": "login:logout",
    "whoami": "login:whoami",
}


def load(spec: str) -> Any:
    """The group or command ``spec`` (a value of ``GROUPS`` or ``COMMANDS``) names, importing its module."""
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}" if module else __name__), attribute)


def build_app(only: str | None = None) -> typer.Typer:
    """The command tree; with ``only``, just that group or command.

    Why: Typer inspects every command's signature each time the program starts (about 50 ms for the whole
    tree). A call names its group first, so ``main`` builds that branch alone; help and mistyped names get
    the whole tree, so they list every command.
    """
    tree = typer.Typer(
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        help="phasegate: stage-gate lifecycles, gate checks and approvals for a PMO.",
    )
    # A group callback keeps `phasegate vote ...` a group call when the tree holds one command only.
    tree.callback()(lambda: None)
    for name, spec in GROUPS.items():
        if only in (None, name):
            tree.add_typer(load(spec), name=name)
    for name, spec in COMMANDS.items():
        if only in (None, name):
            tree.command(name)(load(spec))
    return tree


def _remote_app(first: str | None) -> typer.Typer | None:
    """The command tree that works through a server while a login is stored (see ``flows.cli.remote``)."""
    from phasegate.flows.cli import remote
    from phasegate.flows.cli.remote import credentials

    if remote.runs_locally(sys.argv[1:], groups=set(GROUPS)):  # `logout` even from a refused login file
        return None
    try:
        found = credentials.current()
    except PhasegateError:
        if first is None:  # help still lists the local commands; any command then says what is wrong
            return None
        raise
    if found is None:
        return None

    remote.refuse_unless_remote(sys.argv[1:], found, groups=set(GROUPS), commands=set(COMMANDS))
    logins = {name: load(COMMANDS[name]) for name in remote.LOGIN_COMMANDS}
    return remote.build_app(first if first in GROUPS or first in COMMANDS else None, logins)


def _database_hint(err: Exception) -> str:
    """One line for a database failure; passwords hidden (drivers quote the connection string they failed on)."""
    from phasegate.models.db import hide_passwords

    text = str(err).lower()
    if "no such table" in text or "does not exist" in text or "undefinedtable" in text:
        return "the database has no phasegate schema yet; run 'phasegate db upgrade' first"
    url = os.environ.get("PHASEGATE_DATABASE_URL")
    return f"database error: {hide_passwords(str(err).splitlines()[0], url)}"


def main() -> None:
    """Run the command in ``sys.argv`` and exit with its status."""
    sys.exit(run_command())


def run_command() -> int:
    """The command in ``sys.argv``; returns its exit status. User mistakes are reported here, bugs raise."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        # Without standalone mode the parser returns an exit status (typer.Exit) instead of raising it.
        first = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
        tree = _remote_app(first) or build_app(first if first in GROUPS or first in COMMANDS else None)
        # The name the caller typed (`phasegate`, or a path to it), in usage lines and help.
        status = tree(standalone_mode=False, prog_name=os.path.basename(sys.argv[0]))
        return status if isinstance(status, int) else 0
    except typer.Exit as done:
        return done.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except SystemExit as done:  # a library giving up (uvicorn when its port is taken)
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        typer.echo(f"phasegate: {done.code}", err=True)
        return 1
    except typer.TyperException as err:  # usage errors from the parser: it prints them itself
        show = getattr(err, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"phasegate: {err}", err=True)
        return 2
    except PhasegateError as err:
        problems = getattr(err, "problems", None)
        for line in problems or [err.message]:
            typer.echo(line if problems else f"phasegate: {line}", err=True)
        return 2
    except (OperationalError, ProgrammingError) as err:
        typer.echo(f"phasegate: {_database_hint(err)}", err=True)
        return 2

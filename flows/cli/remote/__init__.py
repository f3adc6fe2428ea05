"""The CLI for a team: while a login is stored (``phasegate login``), commands go through the server's API.

Why a second command tree instead of a branch in every command: the local commands open the database, and
a laptop that logged in to a server has no database to open (a default SQLite file would silently be the
wrong one). So the dispatcher in ``flows.cli`` picks this tree while a login exists; it holds the commands
a gatekeeper, manager or PMO analyst runs, with the same options, output and exit codes as their local
twins, and every other command is refused with exit 2 and what to do instead. ``login``, ``logout`` and
``whoami`` work in both modes.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from phasegate.flows.cli.remote.credentials import Login
from phasegate.gates.vocabulary.errors import RemoteError

LOGIN_COMMANDS = ("login", "logout", "whoami")
"""Commands about the login itself: they run the same with or without one."""

OFFLINE: set[tuple[str, str | None]] = {("demo", None), ("template", "schema"), ("template", "validate")}
"""Commands that open no shared database, so a login changes nothing for them: they run locally. ``demo`` builds
its own database under ``PHASEGATE_HOME/demo`` and runs in its own process from start to end."""


def runs_locally(argv: list[str], *, groups: set[str]) -> bool:
    """Whether the command runs locally whatever the login: the login commands and the offline ones."""
    words = _words(argv)
    if not words:
        return False
    second = words[1] if words[0] in groups and len(words) > 1 else None
    return words[0] in LOGIN_COMMANDS or (words[0], second) in OFFLINE


REMOTE: dict[str, tuple[str, ...] | None] = {
    "vote": None,
    "score": None,
    "rounds": ("list", "cancel", "reassign"),
    "conditions": ("list", "verify"),
    "delegate": None,
    "gate": ("check", "review"),
    "project": ("list", "show", "create", "update", "assign", "resume", "close"),
    "person": ("show", "update", "disable"),
    "doc": ("approve",),
    "milestone": ("add", "done"),
    "actuals": ("add", "import"),
    "baseline": ("set",),
    "risk": ("add", "list", "import"),
    "audit": ("verify", "head"),
    "lesson": ("add", "edit", "list", "search", "show", "applied", "due"),
    "exceptions": ("list", "decide"),
    "portfolio": ("prioritise",),
    "report": ("maturity",),
    "resources": ("allocation", "queue", "demand"),
}
"""What goes through the server: commands (None) and groups with the subcommands the API serves."""

WHY_NOT: dict[tuple[str, str | None], str] = {
    ("doc", "add"): (
        "the server re-reads a document at every gate check, so it must be a file the server can read: "
        "run 'phasegate doc add' on the server (or ask your PMO), not on this computer"
    ),
}


def _words(argv: list[str]) -> list[str]:
    return [arg for arg in argv if not arg.startswith("-")]


def refuse_unless_remote(argv: list[str], login: Login, *, groups: set[str], commands: set[str]) -> None:
    """Exit 2 (a ``RemoteError``) for a command this tree does not serve; ``groups``, ``commands``: every local name."""
    words = _words(argv)
    first = words[0] if words else None
    if first is None or runs_locally(argv, groups=groups) or first not in groups | commands:
        return  # help, a login or offline command, or a typo (the parser explains it)
    second = words[1] if first in groups and len(words) > 1 else None
    served = REMOTE.get(first, ())
    if first in REMOTE and (served is None or second is None or second in served):
        return
    name = f"{first} {second}" if second else first
    via = " (PHASEGATE_SERVER_URL)" if login.source == "environment" else ""
    reason = WHY_NOT.get((first, second))
    raise RemoteError(
        f"{name}: {reason}"
        if reason
        else f"{name} is not available through the server {login.url}{via}; run it on the server or ask your "
        "PMO ('phasegate logout' to work on a local database instead)",
        code="remote.not_available",
    )


def build_app(only: str | None, local_commands: dict[str, Callable[..., None]]) -> typer.Typer:
    """The remote command tree (just ``only`` when given), plus the login commands from ``local_commands``."""
    from phasegate.flows.cli.remote import (
        approvals,
        audit,
        evidence,
        exceptions,
        gates,
        lessons,
        people,
        projects,
        resources,
        strategy,
    )

    projects.app.command("resume")(approvals.project_resume)
    projects.app.command("close")(approvals.project_close)
    projects.actuals_app.command("import")(evidence.actuals_import)
    projects.risk_app.command("import")(evidence.risk_import)
    groups: dict[str, typer.Typer] = {
        "rounds": approvals.rounds_app,
        "conditions": approvals.conditions_app,
        "delegate": approvals.delegate_app,
        "gate": gates.app,
        "project": projects.app,
        "person": people.app,
        "doc": evidence.doc_app,
        "milestone": evidence.milestone_app,
        "actuals": projects.actuals_app,
        "baseline": projects.baseline_app,
        "risk": projects.risk_app,
        "audit": audit.app,
        "lesson": lessons.app,
        "exceptions": exceptions.app,
        "portfolio": strategy.portfolio_app,
        "report": strategy.report_app,
        "resources": resources.app,
    }
    commands: dict[str, Callable[..., None]] = {name: local_commands[name] for name in LOGIN_COMMANDS}
    commands |= {"vote": approvals.vote, "score": gates.score}
    tree = typer.Typer(
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        help="phasegate, working through a server (phasegate whoami shows which).",
    )
    tree.callback()(lambda: None)
    for name, group in groups.items():
        if only in (None, name):
            tree.add_typer(group, name=name)
    for name, command in commands.items():
        if only in (None, name):
            tree.command(name)(command)
    return tree

"""The ``phasegate`` command line. Commands that run no flow never import Prefect (it costs ~1 s).

User mistakes end with one line on stderr naming what is wrong and what is allowed, exit status 2, and
nothing written; a broken audit chain exits 1. Each command group lives in a module named after it.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

import typer

from flows.cli import (
    approvals,
    audit,
    database,
    evidence,
    gates,
    notify,
    people,
    projects,
    server,
    templates,
    tokens,
)
from flows.cli import web as web_cli
from models.errors import PhasegateError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="phasegate: stage-gate lifecycles, gate checks and approvals for a PMO.",
)
for sub, name in (
    (database.app, "db"),
    (templates.app, "template"),
    (people.app, "person"),
    (projects.app, "project"),
    (evidence.doc_app, "doc"),
    (evidence.actuals_app, "actuals"),
    (evidence.baseline_app, "baseline"),
    (evidence.risk_app, "risk"),
    (evidence.milestone_app, "milestone"),
    (gates.app, "gate"),
    (audit.app, "audit"),
    (notify.app, "notify"),
    (server.app, "server"),
    (approvals.rounds_app, "rounds"),
    (approvals.conditions_app, "conditions"),
    (tokens.app, "token"),
):
    app.add_typer(sub, name=name)
app.command("vote")(approvals.vote)
app.command("serve")(web_cli.serve)
app.command("delegate")(approvals.delegate)
projects.app.command("resume")(approvals.project_resume)
projects.app.command("close")(approvals.project_close)
app.command("score")(evidence.score)
projects.app.command("assign")(evidence.project_assign)


@app.command("demo")
def demo() -> None:
    """Run the demo portfolio end to end on the embedded defaults (see README)."""
    from flows.demo import run_demo

    run_demo()


def _database_hint(err: Exception) -> str:
    text = str(err).lower()
    if "no such table" in text or "does not exist" in text or "undefinedtable" in text:
        return "the database has no phasegate schema yet; run 'phasegate db upgrade' first"
    return f"database error: {str(err).splitlines()[0]}"


def main() -> None:
    outcome = {"status": 1}  # what an unexpected exception (a bug, shown with its traceback) exits with
    atexit.register(lambda: _exit_without_teardown(outcome["status"]))
    outcome["status"] = _run()
    sys.exit(outcome["status"])


def _exit_without_teardown(status: int) -> None:
    """The last exit handler: end the process without freeing every module and object first.

    After a flow run the interpreter spends about 0.4 s tearing down Prefect's heap at exit, a fifth of the
    2 s a `gate review` may take. Nothing durable is left to do by then: transactions are committed and the
    other exit handlers (Prefect drains its event and log queues in them) have run, because this one was
    registered first and so runs last. Logging and the standard streams are flushed here.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(status)


def _run() -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        # Without standalone mode the parser returns an exit status (typer.Exit) instead of raising it.
        status = app(standalone_mode=False)
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

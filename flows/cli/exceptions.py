"""CLI: tolerance exceptions: list them, and decide one as the level that set the breached tolerance.

The parsing and printing helpers here serve the local commands and their remote twins
(``flows.cli.remote.exceptions``) alike, so both print the same lines and refuse the same input the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, acting, emit, now, parse_money, runtime_for, sub_app
from phasegate.gates.vocabulary.errors import InputError

if TYPE_CHECKING:
    from phasegate.gates.vocabulary.tolerance import ToleranceException

app = sub_app("Tolerance exceptions: forecasts beyond a tolerance, decided by the level that set it.")

DECISIONS = ("approve_plan", "premature_close", "accept")

ProjectOpt = Annotated[str | None, typer.Option("--project", help="One project's exceptions")]
OpenOnly = Annotated[bool, typer.Option("--open", help="Only those still open")]
ExceptionRef = Annotated[str, typer.Argument(metavar="ID")]
DecisionOpt = Annotated[str, typer.Option("--decision", help=", ".join(DECISIONS))]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (audited)")]
BacOpt = Annotated[str | None, typer.Option("--bac", help="approve_plan on cost: the new BAC (default: the forecast)")]


def print_exceptions(found: list[ToleranceException], as_json: bool) -> None:
    if as_json:
        emit([e.model_dump(mode="json") for e in found])
        return
    for e in found:
        scope = "" if e.scope == "*" else f" stage {e.scope}"
        state = "OPEN" if e.status == "open" else f"{e.decision} by {e.decided_by}"
        typer.echo(
            f"{e.id}  {e.project_key}{scope}  {e.dimension.value}  forecast {e.forecast} vs baseline {e.baseline} "
            f"(deviation {e.deviation} > tolerance {e.allowance})  {e.level.value}/{e.owner_id or '-'}  {state}"
        )


def checked_decision(exception_ref: str, decision: str) -> UUID:
    """The exception's id, once the id and the decision are known to be well formed (exit 2 otherwise)."""
    try:
        exception_id = UUID(exception_ref)
    except ValueError:
        raise InputError(f"ID: {exception_ref!r} is not an exception id (see 'phasegate exceptions list')") from None
    if decision not in DECISIONS:
        raise InputError(f"--decision: {decision!r} is not allowed; allowed: {', '.join(DECISIONS)}")
    return exception_id


def print_decided(done: ToleranceException, decision: str) -> None:
    typer.echo(f"exception {done.id} ({done.project_key} {done.dimension.value}): {decision}, closed")


@app.command("list")
def exceptions_list(
    project: ProjectOpt = None, open_only: OpenOnly = False, db: Db = None, as_json: Json = False
) -> None:
    """Exceptions, newest first: dimension, forecast against baseline and tolerance, who decides, the decision."""
    from phasegate.usecases import services

    found = services.list_exceptions(
        uow=runtime_for(db).reader, project_key=project, status="open" if open_only else None
    )
    print_exceptions(found, as_json)


@app.command("decide")
def exceptions_decide(
    exception_ref: ExceptionRef,
    decision: DecisionOpt,
    reason: ReasonOpt,
    bac: BacOpt = None,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Close an exception as the level that set the tolerance: approve_plan (re-baseline), premature_close, accept."""
    from phasegate.gates.vocabulary.tolerance import ExceptionDecision
    from phasegate.usecases import services

    exception_id = checked_decision(exception_ref, decision)
    rt = runtime_for(db)
    done = services.decide_exception(
        exception_id,
        ExceptionDecision(decision),
        reason=reason,
        actor=acting(rt, by),
        uow=rt.uow,
        now=now(),
        new_bac=parse_money(bac, "--bac"),
    )
    print_decided(done, decision)

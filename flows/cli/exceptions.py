"""CLI: tolerance exceptions: list them, and decide one as the level that set the breached tolerance."""

from __future__ import annotations

from typing import Annotated

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, acting, emit, now, parse_money, runtime_for, sub_app
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Tolerance exceptions: forecasts beyond a tolerance, decided by the level that set it.")

DECISIONS = ("approve_plan", "premature_close", "accept")


@app.command("list")
def exceptions_list(
    project: Annotated[str | None, typer.Option("--project", help="One project's exceptions")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only those still open")] = False,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Exceptions, newest first: dimension, forecast against baseline and tolerance, who decides, the decision."""
    from phasegate.usecases import services

    found = services.list_exceptions(
        uow=runtime_for(db).reader, project_key=project, status="open" if open_only else None
    )
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


@app.command("decide")
def exceptions_decide(
    exception_ref: Annotated[str, typer.Argument(metavar="ID")],
    decision: Annotated[str, typer.Option("--decision", help=", ".join(DECISIONS))],
    reason: Annotated[str, typer.Option("--reason", help="Why (audited)")],
    bac: Annotated[
        str | None, typer.Option("--bac", help="approve_plan on cost: the new BAC (default: the forecast)")
    ] = None,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Close an exception as the level that set the tolerance: approve_plan (re-baseline), premature_close, accept."""
    from uuid import UUID

    from phasegate.gates.vocabulary.tolerance import ExceptionDecision
    from phasegate.usecases import services

    try:
        exception_id = UUID(exception_ref)
    except ValueError:
        raise InputError(f"ID: {exception_ref!r} is not an exception id (see 'phasegate exceptions list')") from None
    if decision not in DECISIONS:
        raise InputError(f"--decision: {decision!r} is not allowed; allowed: {', '.join(DECISIONS)}")
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
    typer.echo(f"exception {done.id} ({done.project_key} {done.dimension.value}): {decision}, closed")

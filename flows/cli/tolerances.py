"""CLI: tolerances per project and stage (time, cost, scope, quality, risk, benefits), set by a level."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, acting, command, emit, now, runtime_for, sub_app

app = sub_app("Tolerances: how far a project or stage may deviate before it is an exception (set by a level).")

NAMES = {
    "project_key": "PROJECT",
    "dimension": "DIMENSION",
    "level": "--level",
    "stage_id": "--stage",
    "owner_id": "--owner",
    "percent": "--percent",
    "amount": "--amount",
    "none": "--none",
    "reason": "--reason",
}


def _limit(t: Any) -> str:
    if t.source == "unset":
        return "unset"
    if t.none:
        return "none (explicitly no tolerance)"
    parts = [f"{t.percent.normalize():f} %" if t.percent is not None else None, f"{t.amount:f}" if t.amount else None]
    return " or ".join(p for p in parts if p) + (" (whichever is greater)" if all(parts) else "")


@app.command("set")
def tolerance_set(
    project: Annotated[str, typer.Argument(metavar="PROJECT")],
    dimension: Annotated[str, typer.Argument(metavar="DIMENSION", help="time, cost, scope, quality, risk, benefits")],
    level: Annotated[str, typer.Option("--level", help="corporate, project_board or project_manager")],
    percent: Annotated[str | None, typer.Option("--percent", help="Share of the baseline, e.g. 10")] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Absolute allowance (money; working days for time)")
    ] = None,
    none: Annotated[bool, typer.Option("--none", help="Explicitly no tolerance on this dimension")] = False,
    stage: Annotated[
        str | None, typer.Option("--stage", help="A stage of the template (default: whole project)")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Who owns it (default: you)")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why; kept in the audit log")] = "",
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Set or replace one tolerance as a level (audited with the value before and after)."""
    from phasegate.gates.vocabulary.commands import SetTolerance
    from phasegate.usecases import services

    cmd = command(
        SetTolerance,
        NAMES,
        project_key=project,
        dimension=dimension,
        level=level,
        stage_id=stage,
        owner_id=owner,
        percent=percent,
        amount=amount,
        none=none,
        reason=reason,
    )
    rt = runtime_for(db)
    done = services.set_tolerance(cmd, actor=acting(rt, by), uow=rt.uow, now=now())
    where = "" if done.scope == "*" else f" stage {done.scope}"
    typer.echo(
        f"{project}{where} {done.dimension.value} tolerance: {_limit(done)}, set by the {done.level} level, "
        f"owner {done.owner_id}"
    )


@app.command("list")
def tolerance_list(
    project: Annotated[str, typer.Argument(metavar="PROJECT")], db: Db = None, as_json: Json = False
) -> None:
    """The tolerances in force: set by a level, else the template's default, else unset."""
    from phasegate.usecases import services

    found = services.list_tolerances(project, uow=runtime_for(db).reader)
    if as_json:
        emit(found.model_dump(mode="json"))
        return
    typer.echo(f"{found.project_key} (current stage {found.stage_id})")
    for t in found.tolerances:
        scope = "project" if t.scope == "*" else f"stage {t.scope}"
        who = f"{t.level} / {t.owner_id or 'no owner yet'}" if t.level else "-"
        typer.echo(f"  {scope:<22} {t.dimension.value:<9} {_limit(t):<40} {who:<32} {t.source}")

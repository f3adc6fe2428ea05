"""CLI: resources across projects: people's roles and capacity, demand from the plan, the allocation view with
over-allocation flagged, project priorities and the HOLD queue."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import ActFor, Db, FileArg, Json, acting, emit, now, runtime_for, sub_app
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Resources (资源): people's roles and capacity, demand per project and stage, allocation, HOLD queue.")
person_app = sub_app("People as resources: role, FTE, hours per day, working-calendar region.")
capacity_app = sub_app("A person's capacity in one month (overrides the calendar rule).")
demand_app = sub_app("Demand per project, stage, role and month, from the plan (CSV or XLSX).")
app.add_typer(person_app, name="person")
app.add_typer(capacity_app, name="capacity")
app.add_typer(demand_app, name="demand")

Role = Annotated[str | None, typer.Option("--role", help="Only this resource role, e.g. data-engineer")]
FromMonth = Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM (default: this month)")]
ToMonth = Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM (default: five months later)")]


def _decimal(value: str | None, option: str) -> Decimal | None:
    return None if value is None else _number(value, option)


def _number(value: str, option: str) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise InputError(f"{option}: {value!r} is not a number; write digits with '.' for decimals") from None
    if not number.is_finite() or number < 0:
        raise InputError(f"{option}: must be a number of 0 or more; got {value!r}")
    return number


def _month(value: str | None, option: str) -> Any:
    from phasegate.gates.vocabulary.resources import parse_month

    return None if value is None else parse_month(value, field=option)


def _hours(value: Decimal) -> str:
    return f"{value:.2f}"


@person_app.command("set")
def person_set(
    person: Annotated[str, typer.Argument(metavar="PERSON")],
    role: Annotated[str, typer.Option("--role", help="Resource role, e.g. data-engineer")],
    fte: Annotated[str, typer.Option("--fte", help="Share of full time, more than 0 and at most 1")] = "1",
    hours_per_day: Annotated[str, typer.Option("--hours-per-day", help="Working hours in a full day")] = "8",
    region: Annotated[str, typer.Option("--region", help="Working calendar: holidays of this country")] = "US",
    by: ActFor = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Make PERSON a resource of a role (pmo_admin); capacity per month = working days x FTE x hours per day."""
    from pydantic import ValidationError

    from phasegate.flows.cli.common import invalid
    from phasegate.gates.vocabulary.resources import ResourceProfile
    from phasegate.usecases import services

    try:
        profile = ResourceProfile(
            person_id=person,
            role=role,
            fte=_number(fte, "--fte"),
            hours_per_day=_number(hours_per_day, "--hours-per-day"),
            region=region.upper(),
        )
    except ValidationError as err:
        invalid(err, {"role": "--role", "fte": "--fte", "hours_per_day": "--hours-per-day", "region": "--region"})
    rt = runtime_for(db)
    stored = services.set_resource_profile(profile, actor=acting(rt, by), uow=rt.uow, now=now())
    if as_json:
        emit(stored.model_dump(mode="json"))
        return
    typer.echo(f"{person}: {stored.role}, FTE {stored.fte}, {stored.hours_per_day} h/day, calendar {stored.region}")


@person_app.command("list")
def person_list(db: Db = None, as_json: Json = False) -> None:
    """Everyone with a resource role."""
    from phasegate.usecases import services

    profiles = services.resource_people(uow=runtime_for(db).reader)
    if as_json:
        emit([p.model_dump(mode="json") for p in profiles])
        return
    for p in profiles:
        typer.echo(f"{p.person_id:<16} {p.role:<20} FTE {p.fte:<5} {p.hours_per_day} h/day  {p.region}")


@capacity_app.command("set")
def capacity_set(
    person: Annotated[str, typer.Argument(metavar="PERSON")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    hours: Annotated[str | None, typer.Option("--hours", help="Hours available that month")] = None,
    fte_days: Annotated[
        str | None, typer.Option("--fte-days", help="Full days available that month (x hours per day)")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Back to the calendar rule for that month")] = False,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Set PERSON's capacity for one month (leave, training, a part-time month), in hours or FTE-days."""
    from phasegate.usecases import services

    if clear == (hours is not None or fte_days is not None):
        raise InputError("give --hours or --fte-days, or --clear to go back to the calendar rule")
    first = _month(month, "--month")
    rt = runtime_for(db)
    override = services.set_capacity(
        person,
        first,
        hours=_decimal(hours, "--hours"),
        fte_days=_decimal(fte_days, "--fte-days"),
        actor=acting(rt, by),
        uow=rt.uow,
        now=now(),
    )
    if override is None:
        typer.echo(f"{person} {month}: capacity from the working calendar again")
    else:
        typer.echo(f"{person} {month}: {_hours(override.hours)} h")


@demand_app.command("import")
def demand_import(file: FileArg, by: ActFor = None, db: Db = None, as_json: Json = False) -> None:
    """Import demand from CSV or XLSX: project, stage, role, month (YYYY-MM), hours or fte_days[, person].

    It replaces the demand of every project stage the file names. Every bad row is reported with its row number
    and column; a file with any bad row writes nothing.
    """
    from phasegate.models.imports import parse_demand
    from phasegate.usecases import services

    rt = runtime_for(db)
    rows = parse_demand(file, limits=rt.settings.limits)
    done = services.import_demand(rows, source=str(file), actor=acting(rt, by), uow=rt.uow, now=now())
    print_import(done, as_json)


def print_import(done: Any, as_json: bool) -> None:
    """What ``demand import`` prints, locally and through a server (a ``services.DemandImport``)."""
    if as_json:
        emit(done.model_dump(mode="json"))
        return
    typer.echo(f"{done.lines} demand lines ({_hours(done.hours)} h) imported for {', '.join(done.stages)}")


@demand_app.command("list")
def demand_list(
    project: Annotated[str | None, typer.Option("--project", help="Only this project")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Demand lines per project, stage, role and month."""
    from phasegate.usecases import services

    print_demand(services.demand_lines(uow=runtime_for(db).reader, project_key=project), as_json)


def print_demand(lines: list[Any], as_json: bool) -> None:
    from phasegate.gates.vocabulary.resources import month_label

    if as_json:
        emit([line.model_dump(mode="json") for line in lines])
        return
    for line in lines:
        who = line.person_id or "-"
        typer.echo(
            f"{line.project_key:<14} {line.stage_id:<16} {line.role:<18} {month_label(line.month)} "
            f"{_hours(line.hours):>9} h  {who}"
        )


@app.command("allocation")
def allocation(
    role: Role = None,
    first: FromMonth = None,
    last: ToMonth = None,
    by_person: Annotated[bool, typer.Option("--by-person", help="One line per person instead of per role")] = False,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Capacity, committed and planned hours per role (or person) and month; over-allocation flagged.

    Committed: the current stage of active projects (their GO committed it). Planned: later stages and projects
    on hold. Exit status 0 either way: over-allocation is a finding, not an error.
    """
    from phasegate.usecases import services

    view = services.allocation_view(
        uow=runtime_for(db).reader,
        today=now().date(),
        first=_month(first, "--from"),
        last=_month(last, "--to"),
        role=role,
        by_person=by_person,
    )
    print_allocation(view, as_json)


def print_allocation(view: Any, as_json: bool) -> None:
    """What ``allocation`` prints, locally and through a server (a ``services.AllocationView``)."""
    if as_json:
        flagged = [r.model_dump(mode="json") for r in view.over_allocated]
        emit(view.model_dump(mode="json") | {"over_allocated": flagged})
        return
    who = view.by
    typer.echo(
        f"{who:<18} {'month':<8} {'capacity':>10} {'committed':>10} {'planned':>10} {'free':>10}  flag / projects"
    )
    for r in view.rows:
        name = r.person or r.role
        flag = "OVER" if r.over_allocated else ""
        projects = ", ".join(r.projects)
        typer.echo(
            f"{name:<18} {r.month:<8} {_hours(r.capacity):>10} {_hours(r.committed):>10} {_hours(r.planned):>10} "
            f"{_hours(r.free):>10}  {flag:<4} {projects}".rstrip()
        )
    over = view.over_allocated
    typer.echo(f"{len(over)} over-allocated {who}-month{'s' if len(over) != 1 else ''} in {view.first}..{view.last}")


@app.command("priority")
def priority(
    key: Annotated[str, typer.Argument(metavar="PROJECT")],
    value: Annotated[int, typer.Argument(metavar="PRIORITY", help="0..1000; higher goes first in the HOLD queue")],
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Set a project's priority in the HOLD queue (pmo_admin)."""
    from pydantic import ValidationError

    from phasegate.gates.vocabulary.resources import PriorityRecord
    from phasegate.usecases import services

    try:
        PriorityRecord(project_key=key, priority=value)
    except ValidationError:
        raise InputError(f"PRIORITY: must be a whole number from 0 to 1000; got {value}") from None
    rt = runtime_for(db)
    services.set_priority(key, value, actor=acting(rt, by), uow=rt.uow, now=now())
    typer.echo(f"{key}: priority {value}")


@app.command("queue")
def queue(db: Db = None, as_json: Json = False) -> None:
    """Projects on hold waiting for capacity, ranked: those with an expected benefit by value per remaining cost,
    then scorecard; the rest by priority, then scorecard score, then key; whether each next stage fits now
    (after the projects ranked above it take theirs)."""
    from phasegate.usecases import services

    print_queue(services.hold_queue(uow=runtime_for(db).reader), as_json)


def print_queue(entries: list[Any], as_json: bool) -> None:
    """What ``queue`` prints, locally and through a server (``services.QueueEntry`` rows)."""
    if as_json:
        emit([e.model_dump(mode="json") for e in entries])
        return
    if not entries:
        typer.echo("no project is on hold")
        return
    typer.echo(
        f"{'#':>2} {'project':<14} {'next stage':<16} {'value/cost':>10} {'priority':>8} {'score':>6} "
        f"{'demand h':>10}  fits now"
    )
    for e in entries:
        fits = "yes" if e.fits else ("no demand planned" if not e.demand_hours else "no: " + "; ".join(e.shortfalls))
        priority_text = "-" if e.priority is None else str(e.priority)
        score = "-" if e.score is None else str(e.score)
        ratio = "-" if e.value_per_cost is None else f"{e.value_per_cost:.2f}"
        typer.echo(
            f"{e.rank:>2} {e.project_key:<14} {e.next_stage or '-':<16} {ratio:>10} {priority_text:>8} {score:>6} "
            f"{_hours(e.demand_hours):>10}  {fits}"
        )

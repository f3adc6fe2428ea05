"""Remote resources commands: ``resources demand import|list``, ``resources allocation`` and ``resources queue``.

A manager imports their project's plan from a laptop: the file is read here by the parser the local command uses
(a bad row reads the same and nothing is sent), then every row goes in ONE request, with its row number and the
file's name, so what the server refuses (an unknown stage, a role nobody holds) names the same file and row.
Answers are validated into the use cases' result types and printed by the local command's own printers.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import ActFor, Db, FileArg, Json, now, sub_app
from phasegate.flows.cli.remote.session import refuse_db, server
from phasegate.flows.cli.resources import (
    FromMonth,
    Role,
    ToMonth,
    print_allocation,
    print_demand,
    print_import,
    print_queue,
)

app = sub_app("Resources through the server: demand import and list, allocation, HOLD queue.")
demand_app = sub_app("Demand per project, stage, role and month (through the server).")
app.add_typer(demand_app, name="demand")


@demand_app.command("import")
def demand_import(file: FileArg, by: ActFor = None, db: Db = None, as_json: Json = False) -> None:
    """Import demand from CSV or XLSX: project, stage, role, month (YYYY-MM), hours or fte_days[, person]."""
    from phasegate.gates.vocabulary.resources import month_label
    from phasegate.models.imports import parse_demand
    from phasegate.usecases import services

    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        rows: list[dict[str, Any]] = []
        for number, row in parse_demand(file):
            values = {"row": number, "project": row.project, "stage": row.stage, "role": row.role.strip().lower()}
            values["month"] = month_label(row.month)
            values |= {"hours": None if row.hours is None else str(row.hours), "person": row.person}
            values["fte_days"] = None if row.fte_days is None else str(row.fte_days)
            rows.append({k: v for k, v in values.items() if v is not None})
        out = remote.call("POST", "/resources/demand", body={"source": str(file), "rows": rows})
    print_import(services.DemandImport.model_validate(out), as_json)


@demand_app.command("list")
def demand_list(
    project: Annotated[str | None, typer.Option("--project", help="Only this project")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Demand lines per project, stage, role and month."""
    from phasegate.gates.vocabulary.resources import DemandLine

    with server() as remote:
        refuse_db(db, remote.login.url)
        out = remote.get("/resources/demand", **({"project": project} if project else {}))
    print_demand([DemandLine.model_validate(line) for line in out], as_json)


@app.command("allocation")
def allocation(
    role: Role = None,
    first: FromMonth = None,
    last: ToMonth = None,
    by_person: Annotated[bool, typer.Option("--by-person", help="One line per person instead of per role")] = False,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Capacity, committed and planned hours per role (or person) and month; over-allocation flagged."""
    from phasegate.gates.vocabulary.resources import month_label, parse_month
    from phasegate.usecases import services
    from phasegate.usecases.resources import month_range

    start = None if first is None else parse_month(first, field="--from")
    end = None if last is None else parse_month(last, field="--to")
    months = month_range(start, end, now().date())
    params: dict[str, Any] = {"from": month_label(months[0]), "months": len(months)}
    params |= {"by": "person" if by_person else "role"} | ({"role": role} if role else {})
    with server() as remote:
        refuse_db(db, remote.login.url)
        out = remote.get("/resources/allocation", **params)
    print_allocation(services.AllocationView.model_validate(out), as_json)


@app.command("queue")
def queue(db: Db = None, as_json: Json = False) -> None:
    """Projects on hold waiting for capacity, ranked, and whether each next stage fits now."""
    from phasegate.usecases import services

    with server() as remote:
        refuse_db(db, remote.login.url)
        out = remote.get("/resources/queue")
    print_queue([services.QueueEntry.model_validate(entry) for entry in out], as_json)

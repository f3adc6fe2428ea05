"""Remote evidence commands: ``doc approve``, ``milestone add|done``, ``actuals import`` and ``risk import``.

Files are read here, on the laptop, by the same parser the local command uses (``models.imports``): a bad row
is reported with its row number and column exactly as locally, and nothing is sent. A good file goes in ONE
request to a batch endpoint, which records every row in one transaction through the local command's use case,
so a refusal or a problem the server finds (an unknown project, a value above BAC) writes nothing either.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from phasegate.flows.cli.common import (
    ActFor,
    Db,
    DoneDay,
    DoneOn,
    Due,
    FileArg,
    IdArg,
    Json,
    MilestoneName,
    parse_date,
    sub_app,
)
from phasegate.flows.cli.evidence import imported_lines, risk_evidence, status_records
from phasegate.flows.cli.remote.session import refuse_db, server

doc_app = sub_app("Deliverable documents (through the server; 'doc add' runs on the server).")
milestone_app = sub_app("Milestones (through the server).")


@doc_app.command("approve")
def doc_approve(key: str, deliverable: str, as_person: ActFor = None, db: Db = None) -> None:
    """Sign the latest version of a deliverable in your own name (you must hold its approver role on the
    project); the signed version is what gates read from then on."""
    import typer

    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        document = remote.call("POST", f"/projects/{key}/documents/{deliverable}/approval")
        created = remote.status == 201
    summary = f"{key} {document['deliverable_id']} v{document['version']} approved by {document['approved_by']}"
    if not created:
        summary += ": already approved by you; no new version"
    typer.echo(summary)


@milestone_app.command("add")
def milestone_add(
    key: str,
    milestone_id: IdArg,
    name: MilestoneName,
    due: Due,
    done: DoneOn = None,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Add or update a milestone."""
    import typer

    body = {
        "name": name,
        "due": parse_date(due, "--due").isoformat(),
        "done_on": parse_date(done, "--done").isoformat() if done else None,
    }
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        out = remote.call("PUT", f"/projects/{key}/milestones/{milestone_id}", body=body)
    typer.echo(f"{key}: milestone {milestone_id} due {out['due']}")


@milestone_app.command("done")
def milestone_done(key: str, milestone_id: IdArg, on: DoneDay = None, as_person: ActFor = None, db: Db = None) -> None:
    """Mark a milestone done."""
    import typer

    body = {"on": parse_date(on, "--on").isoformat() if on else None}  # default: today on the server
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        out = remote.call("POST", f"/projects/{key}/milestones/{milestone_id}/done", body=body)
    typer.echo(f"{key}: milestone {milestone_id} done on {out['on']}")


def _money(value: Decimal | None) -> str | None:
    return f"{value:.2f}" if value is not None else None  # import amounts have at most two decimals


def actuals_import(file: FileArg, as_person: ActFor = None, db: Db = None, as_json: Json = False) -> None:
    """Import EVM status reports from CSV or XLSX (project, as_of, planned_value, earned_value, actual_cost[, etc]).

    Every bad row is reported with its row number and column; a file with any bad row writes nothing.
    """
    from phasegate.models.imports import parse_actuals

    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        reports = [
            {
                "project": r.project_key,
                "as_of": r.as_of.isoformat(),
                "planned_value": _money(r.planned_value),
                "earned_value": _money(r.earned_value),
                "actual_cost": _money(r.actual_cost),
                "estimate_to_complete": _money(r.estimate_to_complete),
            }
            for r in status_records(parse_actuals(file))
        ]
        out = remote.call("POST", "/status-reports/import", body={"reports": reports})
    imported_lines(out["imported"], out["projects"], "status report", as_json)


def risk_import(file: FileArg, as_person: ActFor = None, db: Db = None, as_json: Json = False) -> None:
    """Import risks from CSV or XLSX; a file with any bad row, or naming an unknown project, writes nothing."""
    from phasegate.models.imports import parse_risks

    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        risks: list[dict[str, Any]] = [
            {"project": row.project} | risk_evidence(row).model_dump(mode="json") for row in parse_risks(file)
        ]
        out = remote.call("POST", "/risks/import", body={"risks": risks})
    imported_lines(out["imported"], out["projects"], "risk", as_json)

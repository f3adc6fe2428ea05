"""Remote project and evidence commands: ``project list|show|create|assign``, ``actuals add``, ``risk add|list``,
``baseline set``, through the operations ``/api/v1`` already has.

Input is checked with the same commands the local CLI builds, so a mistake reads the same and no request is
sent. Files named on the command line (``baseline set --plan``) are read here and their rows sent: the server
never needs to see the laptop's disk. ``doc add`` is the exception and stays on the server (see
``flows.cli.remote``): the gate re-hashes a document at every check, so the file must live where the server
can read it.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import (
    Ac,
    ActFor,
    AsOf,
    Bac,
    Budget,
    Category,
    Contingency,
    ContingencyUsed,
    CostAmount,
    Currency,
    Db,
    Etc,
    Ev,
    Impact,
    Json,
    Manager,
    Mitigation,
    NewBudget,
    NewManager,
    NewName,
    NewSponsor,
    Note,
    Plan,
    Probability,
    ProjectName,
    Pv,
    Reason,
    RiskOwner,
    RiskResponse,
    RiskStatus,
    RiskTitle,
    Sponsor,
    StageBudgets,
    TemplateRef,
    command,
    emit,
    parse_date,
    parse_money,
    split_ref,
    sub_app,
)
from phasegate.flows.cli.evidence import risk_row
from phasegate.flows.cli.remote.session import refuse_db, server
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Projects (through the server).")
actuals_app = sub_app("Actual cost and earned-value status reports (through the server).")
baseline_app = sub_app("The cost baseline (through the server).")
risk_app = sub_app("The risk register (through the server).")


@app.command("list")
def project_list(db: Db = None, as_json: Json = False) -> None:
    """List projects with their status and stage."""
    from phasegate.gates.vocabulary.snapshots import ProjectSnapshot

    with server() as remote:
        refuse_db(db, remote.login.url)
        projects = [ProjectSnapshot.model_validate(p) for p in remote.pages("/projects")]
    rows = [
        {
            "key": p.key,
            "name": p.name,
            "status": p.status.value,
            "stage": p.stage_id,
            "template": {"id": p.template_id, "version": p.template_version},
            "budget": str(p.budget),
            "currency": p.currency,
        }
        for p in projects
    ]
    if as_json:
        emit(rows)
        return
    for row in rows:
        typer.echo(f"{row['key']:<12} {row['status']:<10} {row['stage']:<20} {row['name']}")


def _round_view(item: dict[str, Any]) -> SimpleNamespace:
    from phasegate.flows.cli.remote.session import parse_time

    return SimpleNamespace(
        id=item["id"],
        gate_id=item["gate_id"],
        approvers=item["approvers"],
        votes=[SimpleNamespace(voter_id=v["voter_id"]) for v in item["votes"]],
        opened_at=parse_time(item["opened_at"]),
    )


@app.command("show")
def project_show(key: str, db: Db = None, as_json: Json = False) -> None:
    """Show a project: stage, current gate, pending approval rounds and gate history."""
    from phasegate.flows.cli.projects import project_document
    from phasegate.gates.vocabulary.snapshots import DecisionRecord, ProjectSnapshot

    with server() as remote:
        refuse_db(db, remote.login.url)
        detail = remote.get(f"/projects/{key}")
    view = SimpleNamespace(
        project=ProjectSnapshot.model_validate(detail["project"]),
        gate_id=detail["gate_id"],
        pending_rounds=[_round_view(r) for r in detail["pending_rounds"]],
        history=[DecisionRecord.model_validate(d) for d in detail["decisions"]],
    )
    doc = project_document(view)
    if as_json:
        emit(doc)
        return
    typer.echo(
        f"{doc['key']}: {doc['name']}\n  status {doc['status']}, stage {doc['stage']}, gate {doc['gate']}, "
        f"template {doc['template']['id']}@{doc['template']['version']}, budget {doc['budget']} "
        f"{doc['currency']}"
    )
    for r in doc["pending_rounds"]:
        typer.echo(f"  pending round {r['id']} at {r['gate']}: approvers {', '.join(r['approvers'])}")
    for h in doc["history"]:
        typer.echo(f"  {h['decided_at'][:19]}  {h['gate']}: {h['decision']} by {', '.join(h['decided_by'])}")


@app.command("create")
def project_create(
    key: str,
    template: TemplateRef,
    name: ProjectName,
    sponsor: Sponsor,
    manager: Manager,
    budget: Budget,
    currency: Currency = "USD",
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Create a project pinned to a template version, in its first stage (pmo_admin or manager)."""
    from phasegate.gates.vocabulary.commands import CreateProject
    from phasegate.gates.vocabulary.snapshots import ProjectSnapshot

    template_id, version = split_ref(template)
    cmd = command(
        CreateProject,
        {
            "key": "KEY (upper-case letters, digits, '-' or '_')",
            "budget": "--budget",
            "currency": "--currency",
            "name": "--name",
            "sponsor_id": "--sponsor",
            "manager_id": "--manager",
        },
        key=key,
        template_id=template_id,
        template_version=version,
        name=name,
        sponsor_id=sponsor,
        manager_id=manager,
        budget=budget,
        currency=currency,
    )
    body = cmd.model_dump(mode="json") | {"budget": f"{Decimal(cmd.budget):.2f}"}
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        project = ProjectSnapshot.model_validate(remote.call("POST", "/projects", body=body))
    typer.echo(
        f"project {project.key} created on {project.template_id}@{project.template_version}, "
        f"stage {project.stage_id}, budget {project.budget} {project.currency}"
    )


@app.command("update")
def project_update(
    key: str,
    reason: Reason,
    name: NewName = None,
    sponsor: NewSponsor = None,
    manager: NewManager = None,
    budget: NewBudget = None,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Change a project's name, budget, sponsor or manager (pmo_admin; audited with before and after)."""
    from phasegate.flows.cli.projects import update_command, updated_line
    from phasegate.gates.vocabulary.snapshots import ProjectSnapshot

    cmd = update_command(key, reason, name, sponsor, manager, budget)
    body = cmd.model_dump(mode="json", exclude={"key"}, exclude_none=True)
    if cmd.budget is not None:
        body["budget"] = f"{Decimal(cmd.budget):.2f}"
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        project = ProjectSnapshot.model_validate(remote.call("PATCH", f"/projects/{key}", body=body))
    typer.echo(updated_line(project))


@app.command("assign")
def project_assign(key: str, role: str, person: str, as_person: ActFor = None, db: Db = None) -> None:
    """Give PERSON the ROLE (pmo, finance, ...) on project KEY (pmo_admin)."""
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        out = remote.call("POST", f"/projects/{key}/roles", body={"role": role, "person_id": person})
    typer.echo(f"{key}: {person} is {role}" + ("" if out["created"] else " (already)"))


def _money(value: Decimal | None) -> str | None:
    return f"{value:.2f}" if value is not None else None


@actuals_app.command("add")
def actuals_add(
    key: str,
    amount: CostAmount = None,
    note: Note = "",
    as_of: AsOf = None,
    ev: Ev = None,
    ac: Ac = None,
    pv: Pv = None,
    etc: Etc = None,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Record cost spent (AMOUNT), or a dated earned-value report (--as-of with --ev/--ac/--pv/--etc)."""
    from phasegate.gates.vocabulary.commands import RecordCost

    report = any(v is not None for v in (as_of, ev, ac, pv, etc))
    if (amount is None) == (not report):
        raise InputError("give either AMOUNT (cost spent now) or --as-of with --ev/--ac/--pv/--etc (a status report)")
    if amount is not None:
        cmd = command(RecordCost, {"amount": "AMOUNT"}, project_key=key, amount=amount, note=note)
        with server(act_as=as_person) as remote:
            refuse_db(db, remote.login.url)
            body = {"kind": "cost", "amount": _money(Decimal(cmd.amount)), "note": note}
            out = remote.call("POST", f"/projects/{key}/actuals", body=body)
        typer.echo(f"{key}: recorded {Decimal(cmd.amount)}; actual cost to date {Decimal(out['actual_cost_to_date'])}")
        return
    if as_of is None:
        raise InputError("--as-of: required with --ev/--ac/--pv/--etc (the status date, YYYY-MM-DD)")
    status = {
        "kind": "status",
        "as_of": parse_date(as_of, "--as-of").isoformat(),
        "planned_value": _money(parse_money(pv, "--pv")),
        "earned_value": _money(parse_money(ev, "--ev")),
        "actual_cost": _money(parse_money(ac, "--ac")),
        "estimate_to_complete": _money(parse_money(etc, "--etc")),
    }
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        out = remote.call("POST", f"/projects/{key}/actuals", body=status)
    typer.echo(f"{key}: status as of {out['as_of']} recorded")


@baseline_app.command("set")
def baseline_set(
    key: str,
    bac: Bac,
    contingency: Contingency = None,
    contingency_used: ContingencyUsed = None,
    plan: Plan = None,
    stage_budget: StageBudgets = None,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Set the project's cost baseline; --plan (read here, sent as rows) loads the time-phased planned value."""
    from phasegate.models.imports import parse_baseline

    budgets: list[dict[str, Any]] = []
    for item in stage_budget or []:
        stage_id, sep, amount = item.partition("=")
        if not sep:
            raise InputError(f"--stage-budget: {item!r} must look like STAGE=AMOUNT, e.g. planning=120000")
        budgets.append({"stage_id": stage_id, "amount": _money(parse_money(amount, f"--stage-budget {stage_id}"))})
    periods = None
    if plan is not None:
        rows = parse_baseline(plan)
        others = sorted({r.project for r in rows if r.project != key})
        if others:
            raise InputError(f"--plan: rows for other projects ({', '.join(others)}); this sets {key} only")
        periods = [{"period_end": r.period_end.isoformat(), "planned_value": _money(r.planned_value)} for r in rows]
    body = {
        "bac": _money(parse_money(bac, "--bac")),
        "contingency": _money(parse_money(contingency, "--contingency")),
        "contingency_used": _money(parse_money(contingency_used, "--contingency-used")),
        "periods": periods,
        "stage_budgets": budgets,
    }
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        out = remote.call("PUT", f"/projects/{key}/baseline", body=body)
    typer.echo(f"{key}: baseline BAC {Decimal(out['bac'])}" + (f", {len(periods)} plan periods" if periods else ""))


@risk_app.command("add")
def risk_add(
    key: str,
    risk_id: Annotated[str, typer.Argument(metavar="ID")],
    title: RiskTitle,
    probability: Probability,
    impact: Impact,
    owner: RiskOwner = None,
    response: RiskResponse = None,
    mitigation: Mitigation = "",
    category: Category = "",
    status: RiskStatus = "open",
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Add or update one risk in the project's register."""
    row = risk_row(key, risk_id, title, probability, impact, owner, response, mitigation, category, status)
    body = {
        "id": row.id,
        "title": row.title,
        "category": row.category or "",
        "owner": row.owner,
        "probability": row.probability,
        "impact": row.impact,
        "response": row.response,
        "mitigation": row.mitigation or "",
        "status": row.status,
    }
    with server(act_as=as_person) as remote:
        refuse_db(db, remote.login.url)
        remote.call("POST", f"/projects/{key}/risks", body=body)
    typer.echo(f"{key}: risk {risk_id} score {probability * impact}")


@risk_app.command("list")
def risk_list(key: str, db: Db = None, as_json: Json = False) -> None:
    """The project's risk register, highest score first."""
    from phasegate.gates.vocabulary.evidence import RiskEvidence

    with server() as remote:
        refuse_db(db, remote.login.url)
        items = list(remote.pages(f"/projects/{key}/risks"))
    risks = [RiskEvidence.model_validate({k: v for k, v in item.items() if k != "score"}) for item in items]
    if as_json:
        emit([r.model_dump(mode="json") | {"score": r.score} for r in risks])
        return
    for r in risks:
        typer.echo(f"{r.id:<10} {r.score:>3} {r.status:<7} {r.owner or '-':<10} {r.response or '-':<9} {r.title}")

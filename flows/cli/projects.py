"""CLI: Projects."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import typer

from phasegate.flows.cli.approvals import project_close, project_resume
from phasegate.flows.cli.common import (
    ActFor,
    Budget,
    Currency,
    Db,
    ExpectedBenefit,
    Json,
    Manager,
    NewBudget,
    NewManager,
    NewName,
    NewSponsor,
    ProjectName,
    Reason,
    Sponsor,
    TemplateRef,
    acting,
    command,
    emit,
    now,
    runtime_for,
    split_ref,
    sub_app,
)
from phasegate.flows.cli.evidence import project_assign

app = sub_app("Projects.")


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
    from phasegate.usecases import services

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
    rt = runtime_for(db)
    project = services.create_project(cmd, actor=acting(rt, as_person), uow=rt.uow, now=now())
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
    expected_benefit: ExpectedBenefit = None,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Change a project's name, budget, sponsor, manager or expected benefit (pmo_admin; audited with before and
    after)."""
    from phasegate.usecases import services

    cmd = update_command(key, reason, name, sponsor, manager, budget, expected_benefit)
    rt = runtime_for(db)
    project = services.update_project(cmd, actor=acting(rt, as_person), uow=rt.uow, now=now())
    typer.echo(updated_line(project))


def update_command(
    key: str,
    reason: str,
    name: str | None,
    sponsor: str | None,
    manager: str | None,
    budget: str | None,
    expected_benefit: str | None = None,
) -> Any:
    """The ``UpdateProject`` both trees build, so a mistake reads the same whether or not a server is used."""
    from phasegate.gates.vocabulary.commands import UpdateProject

    return command(
        UpdateProject,
        {
            "budget": "--budget",
            "expected_benefit": "--expected-benefit",
            "name": "--name",
            "sponsor_id": "--sponsor",
            "manager_id": "--manager",
            "reason": "--reason",
        },
        key=key,
        name=name,
        sponsor_id=sponsor,
        manager_id=manager,
        budget=budget,
        expected_benefit=expected_benefit,
        reason=reason,
    )


def updated_line(project: Any) -> str:
    return (
        f"project {project.key}: {project.name}, sponsor {project.sponsor_id}, manager {project.manager_id}, "
        f"budget {project.budget} {project.currency}"
        + ("" if project.expected_benefit is None else f", expected benefit {Decimal(project.expected_benefit):.2f}")
    )


@app.command("list")
def project_list(db: Db = None, as_json: Json = False) -> None:
    """List projects with their status and stage."""
    from phasegate.usecases import services

    projects, _ = services.list_projects(uow=runtime_for(db).reader)
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


def project_document(view: Any) -> dict[str, Any]:
    p = view.project
    return {
        "key": p.key,
        "name": p.name,
        "status": p.status.value,
        "stage": p.stage_id,
        "gate": view.gate_id,
        "template": {"id": p.template_id, "version": p.template_version, "content_hash": p.template_hash},
        "sponsor": p.sponsor_id,
        "manager": p.manager_id,
        "budget": str(p.budget),
        "currency": p.currency,
        "recycle_count": p.recycle_count,
        "pending_rounds": [
            {
                "id": str(r.id),
                "gate": r.gate_id,
                "approvers": list(r.approvers),
                "voted": [v.voter_id for v in r.votes],
                "opened_at": r.opened_at.isoformat(),
            }
            for r in view.pending_rounds
        ],
        "history": [
            {
                "gate": h.gate_id,
                "decision": h.decision.value,
                "decided_by": list(h.decided_by),
                "decided_at": h.decided_at.isoformat(),
                "reason": h.reason,
            }
            for h in view.history
        ],
    }


@app.command("show")
def project_show(key: str, db: Db = None, as_json: Json = False) -> None:
    """Show a project: stage, current gate, pending approval rounds and gate history."""
    from phasegate.usecases import services

    doc = project_document(services.project_view(key, uow=runtime_for(db).reader))
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


# Project commands that live beside the use cases they drive (approval rounds, assignments), listed last.
app.command("resume")(project_resume)
app.command("close")(project_close)
app.command("assign")(project_assign)

"""The ``phasegate`` command line. Commands that run no flow never import Prefect (it costs ~1 s).

User mistakes end with one line on stderr naming what is wrong and what is allowed, exit status 2, and
nothing written; a broken audit chain exits 1.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn
from uuid import UUID

import typer
from pydantic import ValidationError

from models.errors import InputError, PhasegateError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="phasegate: stage-gate lifecycles, gate checks and approvals for a PMO.",
)
db_app = typer.Typer(no_args_is_help=True, help="The phasegate database.")
template_app = typer.Typer(no_args_is_help=True, help="Lifecycle templates.")
person_app = typer.Typer(no_args_is_help=True, help="People: sponsors, managers, gatekeepers.")
project_app = typer.Typer(no_args_is_help=True, help="Projects.")
doc_app = typer.Typer(no_args_is_help=True, help="Deliverable documents.")
actuals_app = typer.Typer(no_args_is_help=True, help="Actual cost.")
gate_app = typer.Typer(no_args_is_help=True, help="Gate checks and reviews.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
notify_app = typer.Typer(no_args_is_help=True, help="The notification outbox.")
server_app = typer.Typer(no_args_is_help=True, help="The local Prefect server the CLI uses when it is up.")
baseline_app = typer.Typer(no_args_is_help=True, help="The cost baseline: BAC, time-phased plan, stage budgets.")
risk_app = typer.Typer(no_args_is_help=True, help="The risk register.")
milestone_app = typer.Typer(no_args_is_help=True, help="Milestones.")
for sub, name in (
    (db_app, "db"),
    (template_app, "template"),
    (person_app, "person"),
    (project_app, "project"),
    (doc_app, "doc"),
    (actuals_app, "actuals"),
    (gate_app, "gate"),
    (audit_app, "audit"),
    (notify_app, "notify"),
    (server_app, "server"),
    (baseline_app, "baseline"),
    (risk_app, "risk"),
    (milestone_app, "milestone"),
):
    app.add_typer(sub, name=name)

Db = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: PHASEGATE_DATABASE_URL or a SQLite file under PHASEGATE_HOME).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


# ------------------------------------------------------------------------------------------------ helpers
def _rt(db: str | None) -> Any:
    from flows.runtime import runtime

    return runtime(db)


def _now() -> Any:
    from flows.runtime import utc_now

    return utc_now()


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _invalid(err: ValidationError, names: dict[str, str]) -> NoReturn:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "input"
    label = names.get(field, field)
    given = first.get("input")
    shown = f" (got {given!r})" if isinstance(given, (str, int, float)) else ""
    raise InputError(f"{label}: {first['msg']}{shown}")


def _command(model: type[Any], names: dict[str, str], **values: Any) -> Any:
    try:
        return model(**values)
    except ValidationError as err:
        _invalid(err, names)


def _round_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InputError(
            f"ROUND: {value!r} is not a round id (a UUID such as shown by 'phasegate project show')"
        ) from None


def _split_ref(ref: str) -> tuple[str, int | None]:
    if "@" not in ref:
        return ref, None
    name, _, version = ref.partition("@")
    if not version.isdigit():
        raise InputError(f"template reference {ref!r}: the version after '@' must be a whole number, e.g. it-pmo@1")
    return name, int(version)


# ------------------------------------------------------------------------------------------------ db
@db_app.command("upgrade")
def db_upgrade(db: Db = None) -> None:
    """Create or upgrade the schema, then publish the shipped templates (it-pmo, cooper-5) as version 1."""
    from flows.runtime import template_check
    from gates import services
    from models.schema import upgrade
    from models.template_yaml import shipped_templates, template_content_hash

    rt = _rt(db)
    upgrade(rt.database_url)
    for source, template in shipped_templates(check=template_check):
        result = services.publish_template(
            template, content_hash=template_content_hash(template), source=source, uow=rt.uow, now=_now()
        )
        state = "published" if result.created else "up to date"
        typer.echo(f"template {result.template_id}@{result.version}: {state}")
    typer.echo(f"database ready: {_redact_url(rt.database_url)}")


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ------------------------------------------------------------------------------------------------ templates
@template_app.command("schema")
def template_schema() -> None:
    """Print the JSON Schema of the lifecycle template format (for editors)."""
    from models.template_yaml import template_json_schema

    _emit(template_json_schema())


@template_app.command("validate")
def template_validate(file: Path) -> None:
    """Validate a template file; every problem is printed as FILE:LINE:COLUMN: message."""
    from flows.runtime import template_check
    from models.template_yaml import load_template_file

    template = load_template_file(file, check=template_check)
    typer.echo(
        f"{file}: ok ({template.id}@{template.version}, {len(template.stages)} stages, {len(template.gates)} gates)"
    )


@template_app.command("publish")
def template_publish(file: Path, db: Db = None, as_json: Json = False) -> None:
    """Store an immutable template version (identical content again is a no-op)."""
    from flows.runtime import template_check
    from gates import services
    from models.template_yaml import load_template_file, template_content_hash

    template = load_template_file(file, check=template_check)
    rt = _rt(db)
    result = services.publish_template(
        template,
        content_hash=template_content_hash(template),
        source=file.read_text(encoding="utf-8"),
        uow=rt.uow,
        now=_now(),
    )
    if as_json:
        _emit(result.model_dump(mode="json"))
    else:
        typer.echo(
            f"{result.template_id}@{result.version} {'published' if result.created else 'already published'}"
            f" (sha256 {result.content_hash[:12]})"
        )


@template_app.command("list")
def template_list(db: Db = None, as_json: Json = False) -> None:
    """List published template versions."""
    from gates import services

    stored = services.list_templates(uow=_rt(db).uow)
    rows: list[dict[str, Any]] = [
        {
            "id": s.template.id,
            "version": s.template.version,
            "name": s.template.name,
            "content_hash": s.content_hash,
            "published_at": s.published_at.isoformat(),
        }
        for s in stored
    ]
    if as_json:
        _emit(rows)
        return
    for row in rows:
        typer.echo(f"{row['id']}@{row['version']}  {row['name']}  sha256:{row['content_hash'][:12]}")


@template_app.command("show")
def template_show(
    ref: Annotated[str, typer.Argument(metavar="ID[@VERSION]")], db: Db = None, as_json: Json = False
) -> None:
    """Show a template version (the latest when no version is given)."""
    from gates import services

    name, version = _split_ref(ref)
    stored = services.get_template(name, version, uow=_rt(db).uow)
    t = stored.template
    if as_json:
        _emit({"content_hash": stored.content_hash, "template": t.model_dump(mode="json")})
        return
    typer.echo(f"{t.id}@{t.version}: {t.name}  (sha256 {stored.content_hash})")
    for stage in t.stages:
        typer.echo(f"  stage {stage.id}: {stage.name}")
        gate = t.gate_after(stage.id)
        if gate:
            typer.echo(
                f"    gate {gate.id}: {gate.name}  deliverables: {', '.join(gate.deliverables) or '-'}"
                f"  approvers: {', '.join(gate.approval.approvers)}"
            )


# ------------------------------------------------------------------------------------------------ people
@person_app.command("add")
def person_add(
    person_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[str, typer.Option("--email")],
    locale: Annotated[str, typer.Option("--locale", help="en or zh-CN")] = "en",
    notify: Annotated[list[str] | None, typer.Option("--notify", help="Apprise URL (repeatable)")] = None,
    db: Db = None,
) -> None:
    """Add a person with the Apprise targets that reach them."""
    from gates import services
    from models.commands import AddPerson
    from notifications.targets import validate_target

    for url in notify or []:
        validate_target(url)
    cmd = _command(
        AddPerson,
        {"id": "ID", "name": "--name", "email": "--email", "locale": "--locale"},
        id=person_id,
        name=name,
        email=email,
        locale=locale,
        notify_urls=tuple(notify or ()),
    )
    person = services.add_person(cmd, uow=_rt(db).uow, now=_now())
    typer.echo(f"person {person.id} ({person.name}, {person.locale}, {len(person.notify_urls)} notification targets)")


# ------------------------------------------------------------------------------------------------ projects
@project_app.command("create")
def project_create(
    key: str,
    template: Annotated[str, typer.Option("--template", metavar="ID[@VERSION]")],
    name: Annotated[str, typer.Option("--name")],
    sponsor: Annotated[str, typer.Option("--sponsor")],
    manager: Annotated[str, typer.Option("--manager")],
    budget: Annotated[str, typer.Option("--budget", help="Approved budget, e.g. 250000 or 250000.00")],
    currency: Annotated[str, typer.Option("--currency")] = "USD",
    db: Db = None,
) -> None:
    """Create a project pinned to a template version, in its first stage."""
    from gates import services
    from models.commands import CreateProject

    template_id, version = _split_ref(template)
    cmd = _command(
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
    project = services.create_project(cmd, uow=_rt(db).uow, now=_now())
    typer.echo(
        f"project {project.key} created on {project.template_id}@{project.template_version}, "
        f"stage {project.stage_id}, budget {project.budget} {project.currency}"
    )


@project_app.command("list")
def project_list(db: Db = None, as_json: Json = False) -> None:
    """List projects with their status and stage."""
    from gates import services

    projects = services.list_projects(uow=_rt(db).uow)
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
        _emit(rows)
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


@project_app.command("show")
def project_show(key: str, db: Db = None, as_json: Json = False) -> None:
    """Show a project: stage, current gate, pending approval rounds and gate history."""
    from gates import services

    doc = project_document(services.project_view(key, uow=_rt(db).uow))
    if as_json:
        _emit(doc)
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


# ------------------------------------------------------------------------------------------------ evidence
@doc_app.command("add")
def doc_add(
    key: str,
    deliverable: str,
    file: Path,
    approved_by: Annotated[str | None, typer.Option("--approved-by")] = None,
    db: Db = None,
) -> None:
    """Register a new version of a deliverable with its sha256 (approved when --approved-by is given)."""
    from gates import services
    from models.commands import RegisterDocument
    from models.documents import inspect_document

    facts = inspect_document(file)
    cmd = _command(
        RegisterDocument,
        {"approved_by": "--approved-by"},
        project_key=key,
        deliverable_id=deliverable,
        path=str(file.resolve()),
        sha256=facts.sha256,
        size=facts.size,
        approved_by=approved_by,
        format=facts.format,
        headings=facts.headings,
    )
    document = services.register_document(cmd, uow=_rt(db).uow, now=_now())
    typer.echo(
        f"{key} {document.deliverable_id} v{document.version} {document.status.value} "
        f"sha256:{document.sha256[:12]} ({document.size} bytes)"
    )


def _date(value: str, option: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a date; use YYYY-MM-DD") from None


def _money(value: str | None, option: str) -> Decimal | None:
    from models.commands import RecordCost

    if value is None:
        return None
    cmd = _command(RecordCost, {"amount": option}, project_key="-", amount=value)
    return Decimal(cmd.amount)


@actuals_app.command("add")
def actuals_add(
    key: str,
    amount: Annotated[str | None, typer.Argument(help="Cost spent now (added to the cost ledger)")] = None,
    note: Annotated[str, typer.Option("--note")] = "",
    as_of: Annotated[str | None, typer.Option("--as-of", help="Status date of an EVM report (YYYY-MM-DD)")] = None,
    ev: Annotated[str | None, typer.Option("--ev", help="Earned value to date")] = None,
    ac: Annotated[str | None, typer.Option("--ac", help="Actual cost to date")] = None,
    pv: Annotated[
        str | None, typer.Option("--pv", help="Planned value to date (default: from the baseline plan)")
    ] = None,
    etc: Annotated[str | None, typer.Option("--etc", help="Bottom-up estimate to complete")] = None,
    db: Db = None,
) -> None:
    """Record cost spent (AMOUNT), or a dated earned-value report (--as-of with --ev/--ac/--pv/--etc)."""
    from gates import services
    from models.commands import RecordCost
    from models.snapshots import EvmReportRecord

    report = any(v is not None for v in (as_of, ev, ac, pv, etc))
    if (amount is None) == (not report):
        raise InputError("give either AMOUNT (cost spent now) or --as-of with --ev/--ac/--pv/--etc (a status report)")
    rt = _rt(db)
    if amount is not None:
        cmd = _command(RecordCost, {"amount": "AMOUNT"}, project_key=key, amount=amount, note=note)
        total = services.record_cost(cmd, uow=rt.uow, now=_now())
        typer.echo(f"{key}: recorded {Decimal(cmd.amount)}; actual cost to date {total}")
        return
    if as_of is None:
        raise InputError("--as-of: required with --ev/--ac/--pv/--etc (the status date, YYYY-MM-DD)")
    record = EvmReportRecord(
        project_key=key,
        as_of=_date(as_of, "--as-of"),
        planned_value=_money(pv, "--pv"),
        earned_value=_money(ev, "--ev"),
        actual_cost=_money(ac, "--ac"),
        estimate_to_complete=_money(etc, "--etc"),
    )
    services.record_status([record], uow=rt.uow, now=_now())
    typer.echo(f"{key}: status as of {record.as_of} recorded")


@actuals_app.command("import")
def actuals_import(file: Path, db: Db = None, as_json: Json = False) -> None:
    """Import EVM status reports from CSV or XLSX (project, as_of, planned_value, earned_value, actual_cost[, etc]).

    Every bad row is reported with its row number and column; a file with any bad row writes nothing.
    """
    from gates import services
    from models.imports import parse_actuals
    from models.snapshots import EvmReportRecord

    rows = parse_actuals(file)
    records = [
        EvmReportRecord(
            project_key=r.project,
            as_of=r.as_of,
            planned_value=r.planned_value,
            earned_value=r.earned_value,
            actual_cost=r.actual_cost,
            estimate_to_complete=r.etc,
        )
        for r in rows
    ]
    count = services.record_status(records, uow=_rt(db).uow, now=_now())
    projects = sorted({r.project_key for r in records})
    if as_json:
        _emit({"imported": count, "projects": projects})
    else:
        typer.echo(f"imported {count} status report(s) for {len(projects)} project(s)")


@baseline_app.command("set")
def baseline_set(
    key: str,
    bac: Annotated[str, typer.Option("--bac", help="Budget at completion")],
    contingency: Annotated[str | None, typer.Option("--contingency", help="Contingency reserve")] = None,
    contingency_used: Annotated[str | None, typer.Option("--contingency-used")] = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="CSV/XLSX: project, period_end, planned_value")] = None,
    stage_budget: Annotated[list[str] | None, typer.Option("--stage-budget", help="STAGE=AMOUNT (repeatable)")] = None,
    db: Db = None,
) -> None:
    """Set the project's cost baseline; --plan loads the time-phased planned value (cumulative)."""
    from gates import services
    from models.imports import parse_baseline
    from models.snapshots import BaselineRecord

    budgets: dict[str, Decimal] = {}
    for item in stage_budget or []:
        stage_id, sep, amount = item.partition("=")
        if not sep:
            raise InputError(f"--stage-budget: {item!r} must look like STAGE=AMOUNT, e.g. planning=120000")
        budgets[stage_id] = _money(amount, f"--stage-budget {stage_id}") or Decimal(0)
    periods = None
    if plan is not None:
        rows = parse_baseline(plan)
        others = sorted({r.project for r in rows if r.project != key})
        if others:
            raise InputError(f"--plan: rows for other projects ({', '.join(others)}); this sets {key} only")
        periods = [(r.period_end, r.planned_value) for r in rows]
    record = BaselineRecord(
        bac=_money(bac, "--bac") or Decimal(0),
        contingency=_money(contingency, "--contingency"),
        contingency_used=_money(contingency_used, "--contingency-used"),
    )
    services.set_baseline(key, record, periods=periods, stage_budgets=budgets, uow=_rt(db).uow, now=_now())
    typer.echo(f"{key}: baseline BAC {record.bac}" + (f", {len(periods)} plan periods" if periods else ""))


@project_app.command("assign")
def project_assign(key: str, role: str, person: str, db: Db = None) -> None:
    """Give PERSON the ROLE (pmo, finance, ...) on project KEY."""
    from gates import services

    created = services.assign_role(key, role, person, uow=_rt(db).uow, now=_now())
    typer.echo(f"{key}: {person} is {role}" + ("" if created else " (already)"))


# ------------------------------------------------------------------------------------------------ risks
@risk_app.command("add")
def risk_add(
    key: str,
    risk_id: Annotated[str, typer.Argument(metavar="ID")],
    title: Annotated[str, typer.Option("--title")],
    probability: Annotated[int, typer.Option("--probability", help="1..5 on the default scale")],
    impact: Annotated[int, typer.Option("--impact", help="1..5 on the default scale")],
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    response: Annotated[
        str | None,
        typer.Option("--response", help="avoid, mitigate, transfer, accept, escalate, exploit, enhance, share"),
    ] = None,
    mitigation: Annotated[str, typer.Option("--mitigation")] = "",
    category: Annotated[str, typer.Option("--category")] = "",
    status: Annotated[str, typer.Option("--status", help="open or closed")] = "open",
    db: Db = None,
) -> None:
    """Add or update one risk in the project's register."""
    from gates import services
    from models.imports import RiskRow

    row = _command(
        RiskRow,
        {
            "probability": "--probability",
            "impact": "--impact",
            "response": "--response",
            "status": "--status",
            "id": "ID",
            "title": "--title",
        },
        project=key,
        id=risk_id,
        title=title,
        probability=probability,
        impact=impact,
        owner=owner,
        response=response,
        mitigation=mitigation,
        category=category,
        status=status,
    )
    services.record_risks(key, [_risk(row)], uow=_rt(db).uow, now=_now())
    typer.echo(f"{key}: risk {risk_id} score {probability * impact}")


def _risk(row: Any) -> Any:
    from models.evidence import RiskEvidence

    return RiskEvidence(
        id=row.id,
        title=row.title,
        category=row.category or "",
        owner=row.owner,
        probability=row.probability,
        impact=row.impact,
        response=row.response,
        mitigation=row.mitigation or "",
        cause=row.cause or "",
        effect=row.effect or "",
        status=row.status,
    )


@risk_app.command("import")
def risk_import(file: Path, db: Db = None) -> None:
    """Import risks from CSV or XLSX; a file with any bad row writes nothing."""
    from gates import services
    from models.imports import parse_risks

    rows = parse_risks(file)
    rt = _rt(db)
    by_project: dict[str, list[Any]] = {}
    for row in rows:
        by_project.setdefault(row.project, []).append(_risk(row))
    with rt.uow() as tx:
        unknown = sorted(set(by_project) - tx.existing_project_keys(list(by_project)))
    if unknown:
        raise InputError(f"{file}: unknown project(s) {', '.join(unknown)}; nothing was imported")
    for project_key, risks in by_project.items():
        services.record_risks(project_key, risks, uow=rt.uow, now=_now())
    typer.echo(f"imported {len(rows)} risk(s) for {len(by_project)} project(s)")


@risk_app.command("list")
def risk_list(key: str, db: Db = None, as_json: Json = False) -> None:
    """The project's risk register, highest score first."""
    from gates import services

    risks = sorted(services.project_data(key, uow=_rt(db).uow).risks, key=lambda r: (-r.score, r.id))
    if as_json:
        _emit([r.model_dump(mode="json") | {"score": r.score} for r in risks])
        return
    for r in risks:
        typer.echo(f"{r.id:<10} {r.score:>3} {r.status:<7} {r.owner or '-':<10} {r.response or '-':<9} {r.title}")


# ------------------------------------------------------------------------------------------------ milestones
@milestone_app.command("add")
def milestone_add(
    key: str,
    milestone_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str, typer.Option("--name")],
    due: Annotated[str, typer.Option("--due", help="YYYY-MM-DD")],
    done: Annotated[str | None, typer.Option("--done", help="YYYY-MM-DD when already done")] = None,
    db: Db = None,
) -> None:
    """Add or update a milestone."""
    from gates import services
    from models.evidence import MilestoneEvidence

    milestone = MilestoneEvidence(
        id=milestone_id, name=name, due=_date(due, "--due"), done_on=_date(done, "--done") if done else None
    )
    services.set_milestone(key, milestone, uow=_rt(db).uow, now=_now())
    typer.echo(f"{key}: milestone {milestone_id} due {milestone.due}")


@milestone_app.command("done")
def milestone_done(
    key: str,
    milestone_id: Annotated[str, typer.Argument(metavar="ID")],
    on: Annotated[str | None, typer.Option("--on", help="YYYY-MM-DD (default: today)")] = None,
    db: Db = None,
) -> None:
    """Mark a milestone done."""
    from gates import services

    when = _date(on, "--on") if on else _now().date()
    services.complete_milestone(key, milestone_id, when, uow=_rt(db).uow, now=_now())
    typer.echo(f"{key}: milestone {milestone_id} done on {when}")


# ------------------------------------------------------------------------------------------------ scores
@app.command("score")
def score(
    key: str,
    scores: Annotated[list[str], typer.Argument(metavar="FACTOR=SCORE...")],
    gatekeeper: Annotated[str, typer.Option("--as", help="The gatekeeper scoring")],
    gate: Annotated[str | None, typer.Option("--gate", help="Default: the project's current gate")] = None,
    db: Db = None,
) -> None:
    """Score scorecard factors (0..10 by default) as one gatekeeper."""
    from gates import services

    values: dict[str, int] = {}
    for item in scores:
        factor, sep, raw = item.partition("=")
        if not sep or not raw.strip().lstrip("-").isdigit():
            raise InputError(f"{item!r}: write FACTOR=SCORE with a whole-number score, e.g. strategic-fit=7")
        values[factor] = int(raw)
    gate_id = services.record_scores(key, gatekeeper, values, uow=_rt(db).uow, now=_now(), gate_id=gate)
    typer.echo(f"{key} at {gate_id}: {gatekeeper} scored {len(values)} factor(s)")


# ------------------------------------------------------------------------------------------------ gates
def _criterion_document(c: Any) -> dict[str, Any]:
    return {
        "code": c.code,
        "kind": c.kind.value,
        "passed": c.passed,
        "result": "pass" if c.passed else ("missing_evidence" if c.evidence_missing else "fail"),
        "remediable": c.remediable,
        "message": c.message,
        "message_zh": c.message_zh,
        "measured": c.measured,
        "threshold": c.threshold,
        "evidence_ref": c.evidence_ref,
        "remediation": c.remediation,
        "remediation_zh": c.remediation_zh,
    }


def evaluation_document(evaluation: Any, evidence: Any = None) -> dict[str, Any]:
    from gates.evm import compute

    trace = [_criterion_document(c) for c in evaluation.criteria]
    doc: dict[str, Any] = {
        "project": evaluation.project_key,
        "gate": evaluation.gate_id,
        "recommendation": evaluation.recommendation.value,
        "reasons": list(evaluation.reasons),
        "evidence_hash": evaluation.evidence_hash,
        "criteria": [{k: t[k] for k in ("code", "passed", "message")} for t in trace],
        "trace": trace,
        "required_deliverables": [
            {"id": d.id, "present": d.present, "approved": d.approved, "version": d.version, "sha256": d.sha256}
            for d in evaluation.required_deliverables
        ],
    }
    if evidence is not None:
        doc["as_of"] = evidence.as_of.isoformat() if evidence.as_of else None
        doc["evm"] = compute(evidence.evm).as_json() if evidence.evm is not None else None
    return doc


def _print_evaluation(doc: dict[str, Any]) -> None:
    typer.echo(f"{doc['project']} at gate {doc['gate']}: recommendation {doc['recommendation'].upper()}")
    for c in doc["trace"]:
        mark = {"pass": "PASS", "fail": "FAIL", "missing_evidence": "MISS"}[c["result"]]
        measured = f" [{c['measured']} vs {c['threshold']}]" if c["measured"] is not None else ""
        typer.echo(f"  [{mark}] {c['code']}: {c['message']}{measured}")
        if not c["passed"] and c["remediation"]:
            typer.echo(f"         fix: {c['remediation']}")
    evm = doc.get("evm")
    if evm:
        typer.echo(
            f"  EVM as of {evm['as_of']}: CPI {evm['cpi']}  SPI {evm['spi']}  EAC {evm['eac_cpi']}  "
            f"VAC {evm['vac']}  TCPI {evm['tcpi_bac']}"
        )
    typer.echo(f"  evidence sha256 {doc['evidence_hash']}")


@gate_app.command("check")
def gate_check(
    key: str,
    gate: Annotated[str | None, typer.Option("--gate", help="Preview another gate of the lifecycle")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Evaluate the project's current gate (or --gate); writes nothing."""
    from flows.runtime import probe_file
    from gates import services

    rt = _rt(db)
    check = services.check_gate(key, uow=rt.uow, now=_now(), probe=probe_file, gate_id=gate, registry=rt.registry)
    doc = evaluation_document(check.evaluation, check.evidence)
    if as_json:
        _emit(doc)
    else:
        _print_evaluation(doc)


def prepare_prefect() -> None:
    """Choose the Prefect API before Prefect is imported (it reads its settings once, at import)."""
    import os

    from flows.server import configure_prefect_env

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the command prints its own summary
    # A temporary server on a busy machine can take longer than Prefect's 20 s default to answer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    configure_prefect_env(_rt(None).settings)


def _run_flow(call: Any) -> Any:
    """Run a flow in this process against the local Prefect server when it is up (see `phasegate server`)."""
    from flows.server import prefect_run_context

    with prefect_run_context():
        state = call()
    if not state.is_completed():
        raise PhasegateError(f"flow run ended {state.name}: {state.message}", code="flow.failed")
    return state.result(), state


@gate_app.command("review")
def gate_review(
    key: str,
    requested_by: Annotated[str | None, typer.Option("--as", help="Who requests the review")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Run the gate-review flow: evaluate, record, open the approval round (or record why not) and notify."""
    from flows.runtime import probe_file
    from gates import services

    rt = _rt(db)
    # Fail fast on user mistakes, before paying for Prefect.
    services.check_gate(key, uow=rt.uow, now=_now(), probe=probe_file, registry=rt.registry)
    prepare_prefect()
    from flows.gate_review import gate_review_flow

    result, state = _run_flow(lambda: gate_review_flow(key, requested_by, return_state=True))
    if as_json:
        _emit(result | {"state": state.name})
        return
    evaluation = result["evaluation"]
    typer.echo(
        f"{key} at gate {evaluation['gate_id']}: recommendation {evaluation['recommendation'].upper()} ({state.name})"
    )
    for c in evaluation["criteria"]:
        typer.echo(f"  [{'PASS' if c['passed'] else 'FAIL'}] {c['code']}: {c['message']}")
    if result["round_id"]:
        typer.echo(
            f"approval round {result['round_id']} open for {', '.join(result['approvers'])}; "
            f"{result['notifications']} notification(s) queued, {result['dispatch'].get('sent', 0)} sent"
        )
    else:
        typer.echo("not ready: no approval round opened")


@app.command("vote")
def vote(
    round_id: Annotated[str, typer.Argument(metavar="ROUND")],
    voter: Annotated[str, typer.Option("--as", help="The approver casting the vote")],
    decision: Annotated[str, typer.Option("--decision", help="go, recycle, hold or kill")],
    reason: Annotated[str, typer.Option("--reason", help="Required for anything but go")] = "",
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Vote on an approval round; a deciding vote runs the gate-decision flow."""
    from gates import services
    from models.commands import CastVote

    allowed = ("go", "recycle", "hold", "kill")
    if decision not in allowed:
        raise InputError(f"--decision: {decision!r} is not allowed; use one of {', '.join(allowed)}")
    cmd = _command(
        CastVote,
        {"decision": "--decision", "reason": "--reason", "voter_id": "--as"},
        round_id=_round_id(round_id),
        voter_id=voter,
        decision=decision,
        reason=reason,
    )
    rt = _rt(db)
    result = services.cast_vote(cmd, uow=rt.uow, now=_now())
    doc: dict[str, Any] = result.model_dump(mode="json")
    if result.round_decision is not None:
        prepare_prefect()
        from flows.gate_decision import gate_decision_flow

        applied, _ = _run_flow(lambda: gate_decision_flow(str(result.round_id), return_state=True))
        doc["applied"] = applied
    if as_json:
        _emit(doc)
        return
    typer.echo(f"{voter} voted {decision} on round {result.round_id} ({result.project_key})")
    if "applied" in doc:
        a = doc["applied"]
        typer.echo(f"round resolved: {a['decision']}; {a['project_key']} is {a['status']} in stage {a['stage_id']}")


# ------------------------------------------------------------------------------------------------ audit
@audit_app.command("verify")
def audit_verify(db: Db = None, as_json: Json = False) -> None:
    """Verify the audit chain: exit 0 when intact, 1 naming the first broken entry."""
    from models.audit_store import audit_head, verify_audit

    rt = _rt(db)
    with rt.sessions() as session:
        broken = verify_audit(session)
        head = audit_head(session)
    if as_json:
        _emit(
            {
                "intact": broken is None,
                "entries": head.seq if head else 0,
                "break": broken.model_dump(mode="json") if broken else None,
            }
        )
    elif broken is None:
        typer.echo(f"audit chain intact: {head.seq if head else 0} entries, head {head.hash if head else '-'}")
    else:
        typer.echo(f"audit chain broken at entry {broken.seq}: {broken.reason}", err=True)
    if broken is not None:
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head_cmd(db: Db = None, as_json: Json = False) -> None:
    """Print the current chain head, to keep somewhere else."""
    from models.audit_store import audit_head

    with _rt(db).sessions() as session:
        head = audit_head(session)
    doc = {"seq": head.seq, "hash": head.hash, "at": head.at.isoformat()} if head else {"seq": 0, "hash": None}
    if as_json:
        _emit(doc)
    else:
        typer.echo(f"{doc['seq']} {doc['hash']}")


# ------------------------------------------------------------------------------------------------ notify
@notify_app.command("dispatch")
def notify_dispatch(db: Db = None, as_json: Json = False) -> None:
    """Send due notifications from the outbox now (the notify-dispatch flow does this on a schedule)."""
    from notifications.dispatch import dispatch_due

    report = dispatch_due(_rt(db).sessions).as_dict()
    if as_json:
        _emit(report)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in report.items()))


# ------------------------------------------------------------------------------------------------ server
@server_app.command("start")
def server_start(port: Annotated[int | None, typer.Option("--port")] = None) -> None:
    """Start a local Prefect server (UI and API) under PHASEGATE_HOME; later commands use it."""
    from flows.server import start

    status = start(_rt(None).settings, port=port)
    typer.echo(f"Prefect server running at {status.url} (pid {status.pid}); stop it with 'phasegate server stop'")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the local Prefect server."""
    from flows.server import stop

    typer.echo("stopped" if stop(_rt(None).settings) else "not running")


@server_app.command("status")
def server_status(as_json: Json = False) -> None:
    """Tell whether the local Prefect server is up."""
    from flows.server import status

    current = status(_rt(None).settings)
    if as_json:
        _emit({"running": current.running, "url": current.url, "pid": current.pid})
    else:
        typer.echo(f"running at {current.url} (pid {current.pid})" if current.running else "not running")


# ------------------------------------------------------------------------------------------------ demo
@app.command("demo")
def demo() -> None:
    """Run the demo portfolio end to end on the embedded defaults (see README)."""
    from flows.demo import run_demo

    run_demo()


# ------------------------------------------------------------------------------------------------ main
def _database_hint(err: Exception) -> str:
    text = str(err).lower()
    if "no such table" in text or "does not exist" in text or "undefinedtable" in text:
        return "the database has no phasegate schema yet; run 'phasegate db upgrade' first"
    return f"database error: {str(err).splitlines()[0]}"


def main() -> None:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        # Without standalone mode the parser returns an exit status (typer.Exit) instead of raising it.
        status = app(standalone_mode=False)
        sys.exit(status if isinstance(status, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as err:  # usage errors from the parser: it prints them itself
        show = getattr(err, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"phasegate: {err}", err=True)
        sys.exit(2)
    except PhasegateError as err:
        problems = getattr(err, "problems", None)
        for line in problems or [err.message]:
            typer.echo(line if problems else f"phasegate: {line}", err=True)
        sys.exit(2)
    except (OperationalError, ProgrammingError) as err:
        typer.echo(f"phasegate: {_database_hint(err)}", err=True)
        sys.exit(2)

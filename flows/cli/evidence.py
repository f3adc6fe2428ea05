"""CLI: Evidence a gate reads: documents, cost and status reports, baselines, risks, milestones, scores."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import (
    Ac,
    ActFor,
    AsOf,
    Bac,
    Category,
    Contingency,
    ContingencyUsed,
    CostAmount,
    Db,
    DoneDay,
    DoneOn,
    Due,
    Etc,
    Ev,
    FileArg,
    IdArg,
    Impact,
    Json,
    MilestoneName,
    Mitigation,
    Note,
    Plan,
    Probability,
    Pv,
    RiskOwner,
    RiskResponse,
    RiskStatus,
    RiskTitle,
    StageBudgets,
    acting,
    command,
    emit,
    now,
    parse_date,
    parse_money,
    runtime_for,
    sub_app,
)
from phasegate.gates.vocabulary.errors import InputError

doc_app = sub_app("Deliverable documents.")
actuals_app = sub_app("Actual cost and earned-value status reports.")
baseline_app = sub_app("The cost baseline: BAC, time-phased plan, stage budgets.")
risk_app = sub_app("The risk register.")
milestone_app = sub_app("Milestones.")


@doc_app.command("add")
def doc_add(
    key: str,
    deliverable: str,
    file: Path,
    approved_by: Annotated[str | None, typer.Option("--approved-by")] = None,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Register a new version of a deliverable: phasegate keeps its own copy, which gates read from then on.

    Only regular files, within PHASEGATE_MAX_DOCUMENT_MB; approved when --approved-by is given. The same file
    again (same sha256) is not a new version.
    """
    from phasegate.usecases import services

    rt = runtime_for(db)
    actor = acting(rt, as_person)
    services.check_document_target(key, deliverable, approved_by, actor=actor, uow=rt.uow, now=now())
    try:
        _register(rt, actor, key, deliverable, file, approved_by)
    except InputError as err:  # a device or FIFO named as a document is audited, as through the API
        services.record_document_refusal(key, err, actor=actor, path=str(file), uow=rt.uow, now=now())
        raise


def _register(rt: Any, actor: Any, key: str, deliverable: str, file: Path, approved_by: str | None) -> None:
    from phasegate.gates.vocabulary.commands import RegisterDocument
    from phasegate.usecases import services

    with rt.document_store().custody(file, label="FILE") as stored:
        cmd = command(
            RegisterDocument,
            {"approved_by": "--approved-by"},
            project_key=key,
            deliverable_id=deliverable,
            path=str(file.resolve()),
            approved_by=approved_by,
            **stored.registered_as(),
        )
        registered = services.register_document(cmd, actor=actor, uow=rt.uow, now=now())
    document = registered.document
    summary = (
        f"{key} {document.deliverable_id} v{document.version} {document.status.value} "
        f"sha256:{document.sha256[:12]} ({document.size} bytes)"
    )
    if not registered.created:
        summary += f": unchanged, already registered as v{document.version}; no new version"
    typer.echo(summary)


@doc_app.command("approve")
def doc_approve(key: str, deliverable: str, as_person: ActFor = None, db: Db = None) -> None:
    """Sign the latest version of a deliverable in your own name (you must hold its approver role on the
    project); the signed version is what gates read from then on."""
    from phasegate.usecases import services

    rt = runtime_for(db)
    actor = acting(rt, as_person)
    approved = services.approve_document(key, deliverable, actor=actor, uow=rt.uow, now=now())
    document = approved.document
    summary = f"{key} {document.deliverable_id} v{document.version} approved by {document.approved_by}"
    if not approved.created:
        summary += ": already approved by you; no new version"
    typer.echo(summary)


@doc_app.command("adopt")
def doc_adopt(
    keys: Annotated[list[str] | None, typer.Argument(metavar="[KEY]...", help="Projects (default: all)")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Copy documents registered before the document store into it, from their original paths, where the file
    still hashes to what was registered; list the others (register them again with `doc add`)."""
    from phasegate.gates.vocabulary.errors import PermissionDeniedError, PhasegateError
    from phasegate.usecases import services

    rt = runtime_for(db)
    actor = acting(rt, None)  # a project's manager adopts its documents; a pmo_admin any project's
    store = rt.document_store()
    if not keys:
        keys = [p.key for p in services.list_projects(uow=rt.reader)[0]]
    adopted: list[str] = []
    left: list[dict[str, str]] = []
    for key in keys:
        for document in services.documents_outside_store(key, uow=rt.reader):
            name = f"{key} {document.deliverable_id} v{document.version}"
            try:
                with store.custody(Path(document.path), label=name) as stored:
                    taken = services.adopt_document(
                        key,
                        document,
                        store_key=stored.key,
                        sha256=stored.sha256,
                        actor=actor,
                        uow=rt.uow,
                        now=now(),
                    )
                    if not taken:
                        raise InputError(
                            f"{name}: {document.path} changed since it was registered "
                            f"(sha256 {document.sha256[:12]} then, {stored.sha256[:12]} now)"
                        )
            except PermissionDeniedError:
                raise  # refused and audited by the use case: exit 2, not a document left behind
            except PhasegateError as err:
                left.append({"document": name, "reason": err.message})
                continue
            adopted.append(name)
    if as_json:
        emit({"adopted": adopted, "left": left})
        return
    for name in adopted:
        typer.echo(f"{name}: taken into custody")
    for item in left:
        typer.echo(f"{item['reason']}; register the file again with 'phasegate doc add'")
    typer.echo(f"{len(adopted)} document(s) taken into custody, {len(left)} left")


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
    from phasegate.gates.vocabulary.snapshots import EvmReportRecord
    from phasegate.usecases import services

    report = any(v is not None for v in (as_of, ev, ac, pv, etc))
    if (amount is None) == (not report):
        raise InputError("give either AMOUNT (cost spent now) or --as-of with --ev/--ac/--pv/--etc (a status report)")
    rt = runtime_for(db)
    if amount is not None:
        cmd = command(RecordCost, {"amount": "AMOUNT"}, project_key=key, amount=amount, note=note)
        total = services.record_cost(cmd, actor=acting(rt, as_person), uow=rt.uow, now=now())
        typer.echo(f"{key}: recorded {Decimal(cmd.amount)}; actual cost to date {total}")
        return
    if as_of is None:
        raise InputError("--as-of: required with --ev/--ac/--pv/--etc (the status date, YYYY-MM-DD)")
    record = EvmReportRecord(
        project_key=key,
        as_of=parse_date(as_of, "--as-of"),
        planned_value=parse_money(pv, "--pv"),
        earned_value=parse_money(ev, "--ev"),
        actual_cost=parse_money(ac, "--ac"),
        estimate_to_complete=parse_money(etc, "--etc"),
    )
    services.record_status([record], actor=acting(rt, as_person), uow=rt.uow, now=now())
    typer.echo(f"{key}: status as of {record.as_of} recorded")


@actuals_app.command("import")
def actuals_import(file: FileArg, as_person: ActFor = None, db: Db = None, as_json: Json = False) -> None:
    """Import status reports from CSV or XLSX: project, as_of, planned_value, earned_value, actual_cost[, etc,
    defects, test_pass_rate, acceptance] (the last three: quality metrics; rates in percent).

    Every bad row is reported with its row number and column; a file with any bad row writes nothing.
    """
    from phasegate.models.imports import parse_actuals
    from phasegate.usecases import services

    rt = runtime_for(db)
    records = status_records(parse_actuals(file, limits=rt.settings.limits))
    count = services.record_status(records, actor=acting(rt, as_person), uow=rt.uow, now=now())
    imported_lines(count, sorted({r.project_key for r in records}), "status report", as_json)


def status_records(rows: Any) -> list[Any]:
    """An actuals file's rows as the status reports ``record_status`` stores (both trees read files alike)."""
    from phasegate.gates.vocabulary.snapshots import EvmReportRecord

    return [
        EvmReportRecord(
            project_key=r.project,
            as_of=r.as_of,
            planned_value=r.planned_value,
            earned_value=r.earned_value,
            actual_cost=r.actual_cost,
            estimate_to_complete=r.etc,
            defects=r.defects,
            test_pass_rate=r.test_pass_rate,
            acceptance=r.acceptance,
        )
        for r in rows
    ]


def imported_lines(count: int, projects: list[str], what: str, as_json: bool) -> None:
    if as_json:
        emit({"imported": count, "projects": projects})
    else:
        typer.echo(f"imported {count} {what}(s) for {len(projects)} project(s)")


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
    """Set the project's cost baseline; --plan loads the time-phased planned value (cumulative)."""
    from phasegate.gates.vocabulary.snapshots import BaselineRecord
    from phasegate.models.imports import parse_baseline
    from phasegate.usecases import services

    budgets: dict[str, Decimal] = {}
    for item in stage_budget or []:
        stage_id, sep, amount = item.partition("=")
        if not sep:
            raise InputError(f"--stage-budget: {item!r} must look like STAGE=AMOUNT, e.g. planning=120000")
        budgets[stage_id] = parse_money(amount, f"--stage-budget {stage_id}") or Decimal(0)
    periods = None
    rt = runtime_for(db)
    if plan is not None:
        rows = parse_baseline(plan, limits=rt.settings.limits)
        others = sorted({r.project for r in rows if r.project != key})
        if others:
            raise InputError(f"--plan: rows for other projects ({', '.join(others)}); this sets {key} only")
        periods = [(r.period_end, r.planned_value) for r in rows]
    record = BaselineRecord(
        bac=parse_money(bac, "--bac") or Decimal(0),
        contingency=parse_money(contingency, "--contingency"),
        contingency_used=parse_money(contingency_used, "--contingency-used"),
    )
    services.set_baseline(
        key, record, actor=acting(rt, as_person), periods=periods, stage_budgets=budgets, uow=rt.uow, now=now()
    )
    typer.echo(f"{key}: baseline BAC {record.bac}" + (f", {len(periods)} plan periods" if periods else ""))


def project_assign(key: str, role: str, person: str, as_person: ActFor = None, db: Db = None) -> None:
    """Give PERSON the ROLE (pmo, finance, ...) on project KEY (pmo_admin)."""
    from phasegate.usecases import services

    rt = runtime_for(db)
    created = services.assign_role(key, role, person, actor=acting(rt, as_person), uow=rt.uow, now=now())
    typer.echo(f"{key}: {person} is {role}" + ("" if created else " (already)"))


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
    from phasegate.usecases import services

    row = risk_row(key, risk_id, title, probability, impact, owner, response, mitigation, category, status)
    rt = runtime_for(db)
    services.record_risks(key, [risk_evidence(row)], actor=acting(rt, as_person), uow=rt.uow, now=now())
    typer.echo(f"{key}: risk {risk_id} score {probability * impact}")


def risk_row(
    key: str,
    risk_id: str,
    title: str,
    probability: int,
    impact: int,
    owner: str | None,
    response: str | None,
    mitigation: str,
    category: str,
    status: str,
) -> Any:
    """``risk add``'s options as the import's row, checked with the import's rules (local and through the server)."""
    from phasegate.models.imports import RiskRow

    return command(
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


def risk_evidence(row: Any) -> Any:
    from phasegate.gates.vocabulary.evidence import RiskEvidence

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
def risk_import(file: FileArg, as_person: ActFor = None, db: Db = None, as_json: Json = False) -> None:
    """Import risks from CSV or XLSX; a file with any bad row, or naming an unknown project, writes nothing."""
    from phasegate.models.imports import parse_risks
    from phasegate.usecases import services

    rt = runtime_for(db)
    rows = parse_risks(file, limits=rt.settings.limits)
    by_project: dict[str, list[Any]] = {}
    for row in rows:
        by_project.setdefault(row.project, []).append(risk_evidence(row))
    services.import_risks(by_project, actor=acting(rt, as_person), uow=rt.uow, now=now())
    imported_lines(len(rows), sorted(by_project), "risk", as_json)


@risk_app.command("list")
def risk_list(key: str, db: Db = None, as_json: Json = False) -> None:
    """The project's risk register, highest score first."""
    from phasegate.usecases import services

    risks = sorted(services.project_data(key, uow=runtime_for(db).reader).risks, key=lambda r: (-r.score, r.id))
    if as_json:
        emit([r.model_dump(mode="json") | {"score": r.score} for r in risks])
        return
    for r in risks:
        typer.echo(f"{r.id:<10} {r.score:>3} {r.status:<7} {r.owner or '-':<10} {r.response or '-':<9} {r.title}")


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
    from phasegate.gates.vocabulary.evidence import MilestoneEvidence
    from phasegate.usecases import services

    milestone = MilestoneEvidence(
        id=milestone_id, name=name, due=parse_date(due, "--due"), done_on=parse_date(done, "--done") if done else None
    )
    rt = runtime_for(db)
    services.set_milestone(key, milestone, actor=acting(rt, as_person), uow=rt.uow, now=now())
    typer.echo(f"{key}: milestone {milestone_id} due {milestone.due}")


@milestone_app.command("done")
def milestone_done(
    key: str,
    milestone_id: IdArg,
    on: DoneDay = None,
    as_person: ActFor = None,
    db: Db = None,
) -> None:
    """Mark a milestone done."""
    from phasegate.usecases import services

    when = parse_date(on, "--on") if on else now().date()
    rt = runtime_for(db)
    services.complete_milestone(key, milestone_id, when, actor=acting(rt, as_person), uow=rt.uow, now=now())
    typer.echo(f"{key}: milestone {milestone_id} done on {when}")


def score(
    key: str,
    scores: Annotated[list[str], typer.Argument(metavar="FACTOR=SCORE...")],
    gate: Annotated[str | None, typer.Option("--gate", help="Default: the project's current gate")] = None,
    gatekeeper: ActFor = None,
    db: Db = None,
) -> None:
    """Score scorecard factors (0..10 by default) as one gatekeeper."""
    from phasegate.usecases import services

    values: dict[str, int] = {}
    for item in scores:
        factor, sep, raw = item.partition("=")
        if not sep or not raw.strip().lstrip("-").isdigit():
            raise InputError(f"{item!r}: write FACTOR=SCORE with a whole-number score, e.g. strategic-fit=7")
        values[factor] = int(raw)
    rt = runtime_for(db)
    actor = acting(rt, gatekeeper)
    gate_id = services.record_scores(key, values, actor=actor, uow=rt.uow, now=now(), gate_id=gate)
    typer.echo(f"{key} at {gate_id}: {actor.person_id} scored {len(values)} factor(s)")

"""The ``phasegate`` command line. Commands that run no flow never import Prefect (it costs ~1 s).

User mistakes end with one line on stderr naming what is wrong and what is allowed, exit status 2, and
nothing written; a broken audit chain exits 1.
"""

from __future__ import annotations

import hashlib
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn
from uuid import UUID

import typer
from pydantic import ValidationError

from models.errors import InputError, PhasegateError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="phasegate: stage-gate lifecycles, gate checks and approvals for a PMO.")
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
for sub, name in ((db_app, "db"), (template_app, "template"), (person_app, "person"), (project_app, "project"),
                  (doc_app, "doc"), (actuals_app, "actuals"), (gate_app, "gate"), (audit_app, "audit"),
                  (notify_app, "notify"), (server_app, "server")):
    app.add_typer(sub, name=name)

Db = Annotated[str | None, typer.Option("--db", help="Database URL (default: PHASEGATE_DATABASE_URL or a SQLite "
                                                      "file under PHASEGATE_HOME).", show_default=False)]
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
        raise InputError(f"ROUND: {value!r} is not a round id (a UUID such as shown by 'phasegate project show')") from None


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
    from gates import services
    from models.schema import upgrade
    from models.template_yaml import shipped_templates, template_content_hash

    rt = _rt(db)
    upgrade(rt.database_url)
    for source, template in shipped_templates():
        result = services.publish_template(template, content_hash=template_content_hash(template), source=source,
                                           uow=rt.uow, now=_now())
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
    from models.template_yaml import load_template_file

    template = load_template_file(file)
    typer.echo(f"{file}: ok ({template.id}@{template.version}, {len(template.stages)} stages, "
               f"{len(template.gates)} gates)")


@template_app.command("publish")
def template_publish(file: Path, db: Db = None, as_json: Json = False) -> None:
    """Store an immutable template version (identical content again is a no-op)."""
    from gates import services
    from models.template_yaml import load_template_file, template_content_hash

    template = load_template_file(file)
    rt = _rt(db)
    result = services.publish_template(template, content_hash=template_content_hash(template),
                                       source=file.read_text(encoding="utf-8"), uow=rt.uow, now=_now())
    if as_json:
        _emit(result.model_dump(mode="json"))
    else:
        typer.echo(f"{result.template_id}@{result.version} {'published' if result.created else 'already published'}"
                   f" (sha256 {result.content_hash[:12]})")


@template_app.command("list")
def template_list(db: Db = None, as_json: Json = False) -> None:
    """List published template versions."""
    from gates import services

    stored = services.list_templates(uow=_rt(db).uow)
    rows = [{"id": s.template.id, "version": s.template.version, "name": s.template.name,
             "content_hash": s.content_hash, "published_at": s.published_at.isoformat()} for s in stored]
    if as_json:
        _emit(rows)
        return
    for row in rows:
        typer.echo(f"{row['id']}@{row['version']}  {row['name']}  sha256:{row['content_hash'][:12]}")


@template_app.command("show")
def template_show(ref: Annotated[str, typer.Argument(metavar="ID[@VERSION]")], db: Db = None,
                  as_json: Json = False) -> None:
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
            typer.echo(f"    gate {gate.id}: {gate.name}  deliverables: {', '.join(gate.deliverables) or '-'}"
                       f"  approvers: {', '.join(gate.approval.approvers)}")


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
    cmd = _command(AddPerson, {"id": "ID", "name": "--name", "email": "--email", "locale": "--locale"},
                   id=person_id, name=name, email=email, locale=locale, notify_urls=tuple(notify or ()))
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
        {"key": "KEY (upper-case letters, digits, '-' or '_')", "budget": "--budget", "currency": "--currency",
         "name": "--name", "sponsor_id": "--sponsor", "manager_id": "--manager"},
        key=key, template_id=template_id, template_version=version, name=name, sponsor_id=sponsor,
        manager_id=manager, budget=budget, currency=currency,
    )
    project = services.create_project(cmd, uow=_rt(db).uow, now=_now())
    typer.echo(f"project {project.key} created on {project.template_id}@{project.template_version}, "
               f"stage {project.stage_id}, budget {project.budget} {project.currency}")


@project_app.command("list")
def project_list(db: Db = None, as_json: Json = False) -> None:
    """List projects with their status and stage."""
    from gates import services

    projects = services.list_projects(uow=_rt(db).uow)
    rows = [{"key": p.key, "name": p.name, "status": p.status.value, "stage": p.stage_id,
             "template": {"id": p.template_id, "version": p.template_version}, "budget": str(p.budget),
             "currency": p.currency} for p in projects]
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
        "pending_rounds": [{"id": str(r.id), "gate": r.gate_id, "approvers": list(r.approvers),
                            "voted": [v.voter_id for v in r.votes], "opened_at": r.opened_at.isoformat()}
                           for r in view.pending_rounds],
        "history": [{"gate": h.gate_id, "decision": h.decision.value, "decided_by": list(h.decided_by),
                     "decided_at": h.decided_at.isoformat(), "reason": h.reason} for h in view.history],
    }


@project_app.command("show")
def project_show(key: str, db: Db = None, as_json: Json = False) -> None:
    """Show a project: stage, current gate, pending approval rounds and gate history."""
    from gates import services

    doc = project_document(services.project_view(key, uow=_rt(db).uow))
    if as_json:
        _emit(doc)
        return
    typer.echo(f"{doc['key']}: {doc['name']}\n  status {doc['status']}, stage {doc['stage']}, gate {doc['gate']}, "
               f"template {doc['template']['id']}@{doc['template']['version']}, budget {doc['budget']} "
               f"{doc['currency']}")
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

    try:
        content = file.read_bytes()
    except OSError as err:
        raise InputError(f"FILE: cannot read {str(file)!r}: {err.strerror}") from None
    cmd = _command(RegisterDocument, {"approved_by": "--approved-by"}, project_key=key, deliverable_id=deliverable,
                   path=str(file.resolve()), sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                   approved_by=approved_by)
    document = services.register_document(cmd, uow=_rt(db).uow, now=_now())
    typer.echo(f"{key} {document.deliverable_id} v{document.version} {document.status.value} "
               f"sha256:{document.sha256[:12]} ({document.size} bytes)")


@actuals_app.command("add")
def actuals_add(key: str, amount: str, note: Annotated[str, typer.Option("--note")] = "", db: Db = None) -> None:
    """Record actual cost against a project."""
    from gates import services
    from models.commands import RecordCost

    cmd = _command(RecordCost, {"amount": "AMOUNT"}, project_key=key, amount=amount, note=note)
    total = services.record_cost(cmd, uow=_rt(db).uow, now=_now())
    typer.echo(f"{key}: recorded {Decimal(cmd.amount)}; actual cost to date {total}")


# ------------------------------------------------------------------------------------------------ gates
def evaluation_document(evaluation: Any) -> dict[str, Any]:
    return {
        "project": evaluation.project_key,
        "gate": evaluation.gate_id,
        "recommendation": evaluation.recommendation.value,
        "reasons": list(evaluation.reasons),
        "evidence_hash": evaluation.evidence_hash,
        "criteria": [{"code": c.code, "kind": c.kind.value, "passed": c.passed, "message": c.message,
                      "message_zh": c.message_zh, "measured": c.measured, "threshold": c.threshold,
                      "remediation": c.remediation, "remediation_zh": c.remediation_zh}
                     for c in evaluation.criteria],
        "required_deliverables": [{"id": d.id, "present": d.present, "approved": d.approved, "version": d.version,
                                   "sha256": d.sha256} for d in evaluation.required_deliverables],
    }


def _print_evaluation(doc: dict[str, Any]) -> None:
    typer.echo(f"{doc['project']} at gate {doc['gate']}: recommendation {doc['recommendation'].upper()}")
    for c in doc["criteria"]:
        mark = "PASS" if c["passed"] else "FAIL"
        typer.echo(f"  [{mark}] {c['code']}: {c['message']}")
        if not c["passed"] and c["remediation"]:
            typer.echo(f"         fix: {c['remediation']}")


@gate_app.command("check")
def gate_check(key: str, db: Db = None, as_json: Json = False) -> None:
    """Evaluate the project's current gate; writes nothing."""
    from gates import services

    doc = evaluation_document(services.check_gate(key, uow=_rt(db).uow))
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
    from gates import services

    rt = _rt(db)
    services.check_gate(key, uow=rt.uow)  # fail fast on user mistakes, before paying for Prefect
    prepare_prefect()
    from flows.gate_review import gate_review_flow

    result, state = _run_flow(lambda: gate_review_flow(key, requested_by, return_state=True))
    if as_json:
        _emit(result | {"state": state.name})
        return
    evaluation = result["evaluation"]
    typer.echo(f"{key} at gate {evaluation['gate_id']}: recommendation {evaluation['recommendation'].upper()}"
               f" ({state.name})")
    for c in evaluation["criteria"]:
        typer.echo(f"  [{'PASS' if c['passed'] else 'FAIL'}] {c['code']}: {c['message']}")
    if result["round_id"]:
        typer.echo(f"approval round {result['round_id']} open for {', '.join(result['approvers'])}; "
                   f"{result['notifications']} notification(s) queued, {result['dispatch'].get('sent', 0)} sent")
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
    cmd = _command(CastVote, {"decision": "--decision", "reason": "--reason", "voter_id": "--as"},
                   round_id=_round_id(round_id), voter_id=voter, decision=decision, reason=reason)
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
        _emit({"intact": broken is None, "entries": head.seq if head else 0,
               "break": broken.model_dump(mode="json") if broken else None})
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
        app(standalone_mode=False)
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

"""CLI: Lifecycle templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, acting, emit, now, runtime_for, split_ref, sub_app

app = sub_app("Lifecycle templates.")


@app.command("schema")
def template_schema() -> None:
    """Print the JSON Schema of the lifecycle template format (for editors)."""
    from phasegate.models.template_yaml import template_json_schema

    emit(template_json_schema())


@app.command("validate")
def template_validate(file: Path) -> None:
    """Validate a template file; every problem is printed as FILE:LINE:COLUMN: message."""
    from phasegate.flows.runtime import template_check
    from phasegate.models.template_yaml import load_template_file

    template = load_template_file(file, check=template_check)
    typer.echo(
        f"{file}: ok ({template.id}@{template.version}, {len(template.stages)} stages, {len(template.gates)} gates)"
    )


@app.command("publish")
def template_publish(file: Path, as_person: ActFor = None, db: Db = None, as_json: Json = False) -> None:
    """Store an immutable template version (pmo_admin; identical content again is a no-op)."""
    from phasegate.flows.runtime import template_check
    from phasegate.models.template_yaml import load_template_file, template_content_hash
    from phasegate.usecases import services

    template = load_template_file(file, check=template_check)
    rt = runtime_for(db)
    result = services.publish_template(
        template,
        content_hash=template_content_hash(template),
        source=file.read_text(encoding="utf-8"),
        actor=acting(rt, as_person),
        uow=rt.uow,
        now=now(),
    )
    if as_json:
        emit(result.model_dump(mode="json"))
    else:
        typer.echo(
            f"{result.template_id}@{result.version} {'published' if result.created else 'already published'}"
            f" (sha256 {result.content_hash[:12]})"
        )


@app.command("list")
def template_list(db: Db = None, as_json: Json = False) -> None:
    """List published template versions."""
    from phasegate.usecases import services

    stored = services.list_templates(uow=runtime_for(db).reader)
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
        emit(rows)
        return
    for row in rows:
        typer.echo(f"{row['id']}@{row['version']}  {row['name']}  sha256:{row['content_hash'][:12]}")


@app.command("show")
def template_show(
    ref: Annotated[str, typer.Argument(metavar="ID[@VERSION]")], db: Db = None, as_json: Json = False
) -> None:
    """Show a template version (the latest when no version is given)."""
    from phasegate.usecases import services

    name, version = split_ref(ref)
    stored = services.get_template(name, version, uow=runtime_for(db).reader)
    t = stored.template
    if as_json:
        emit({"content_hash": stored.content_hash, "template": t.model_dump(mode="json")})
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

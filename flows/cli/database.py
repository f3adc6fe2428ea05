"""CLI: The phasegate database."""

from __future__ import annotations

import typer

from phasegate.flows.cli.common import Db, acting, now, runtime_for, sub_app
from phasegate.models.db import shown_url

app = sub_app("The phasegate database.")


@app.command("upgrade")
def db_upgrade(db: Db = None) -> None:
    """Create or upgrade the schema, then publish the shipped templates (it-pmo and cooper-5, versions 1 and 2)."""
    from phasegate.flows.runtime import template_check
    from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
    from phasegate.models.schema import guarded, upgrade
    from phasegate.models.template_yaml import shipped_templates, template_content_hash
    from phasegate.usecases import services

    rt = runtime_for(db)
    if guarded(rt.database_url):  # a new install has no one to ask yet; then upgrading is the PMO admin's act
        services.begin_operation("db upgrade", actor=acting(rt, None), uow=rt.uow, now=now())
    upgrade(rt.database_url)
    for source, template in shipped_templates(check=template_check):
        result = services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source=source,
            actor=SYSTEM_ACTOR,  # installing the shipped templates is part of the schema, not a person's act
            uow=rt.uow,
            now=now(),
        )
        state = "published" if result.created else "up to date"
        typer.echo(f"template {result.template_id}@{result.version}: {state}")
    typer.echo(f"database ready: {shown_url(rt.database_url)}")

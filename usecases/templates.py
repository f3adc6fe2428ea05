"""Lifecycle templates: publishing immutable versions and reading them back."""

from __future__ import annotations

from datetime import datetime

from phasegate.gates.authorization import Act
from phasegate.gates.vocabulary.errors import ConflictError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.snapshots import (
    StoredTemplate,
)
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import require_template
from phasegate.usecases.ports import UnitOfWork
from phasegate.usecases.result import Result, UowFactory


class PublishResult(Result):
    template_id: str
    version: int
    content_hash: str
    created: bool


@refusals_audited(Act.PUBLISH_TEMPLATE)
def publish_template(
    template: LifecycleTemplate, *, content_hash: str, source: str, actor: Actor, uow: UowFactory, now: datetime
) -> PublishResult:
    """Store an immutable version. The same content again is a no-op; other content under it is refused."""
    with uow() as tx:
        permit(tx, actor, Act.PUBLISH_TEMPLATE, entity=f"template:{template.id}@{template.version}")
        existing = tx.templates.get_template(template.id, template.version)
        if existing is not None:
            if existing.content_hash != content_hash:
                raise ConflictError(
                    f"template {template.id}@{template.version} is already published with other content; "
                    f"published versions are immutable: raise 'version' to {_next_version(tx, template.id)}",
                    code="template.version_taken",
                )
            return PublishResult(
                template_id=template.id, version=template.version, content_hash=content_hash, created=False
            )
        tx.templates.add_template(template, content_hash=content_hash, source=source, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="template.published",
            entity=f"template:{template.id}@{template.version}",
            payload={"content_hash": content_hash} | stamp(actor),
            at=now,
        )
        tx.commit()
    return PublishResult(template_id=template.id, version=template.version, content_hash=content_hash, created=True)


def _next_version(tx: UnitOfWork, template_id: str) -> int:
    latest = tx.templates.get_template(template_id)
    return (latest.template.version + 1) if latest else 1


def get_template(template_id: str, version: int | None, *, uow: UowFactory) -> StoredTemplate:
    with uow() as tx:
        return require_template(tx, template_id, version)


def list_templates(*, uow: UowFactory) -> list[StoredTemplate]:
    with uow() as tx:
        return tx.templates.list_templates()

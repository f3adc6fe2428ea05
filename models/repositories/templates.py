"""Lifecycle templates: published versions, immutable once stored.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from phasegate.gates.vocabulary.snapshots import (
    StoredTemplate,
)
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.models import statements as q
from phasegate.models.repositories.repository import SqlRepository

_VALIDATED: dict[str, LifecycleTemplate] = {}

_PUBLISHED: dict[tuple[str, str, int | None], StoredTemplate] = {}


def _template(content_hash: str, content: dict[str, Any]) -> LifecycleTemplate:
    """Published versions never change, so each content hash is validated once per process."""
    template = _VALIDATED.get(content_hash)
    if template is None:
        template = LifecycleTemplate.model_validate(content)
        if len(_VALIDATED) < 1024:
            _VALIDATED[content_hash] = template
    return template


def _stored_template(row: Row[str, dict[str, Any], datetime]) -> StoredTemplate:
    return StoredTemplate(
        template=_template(row.content_hash, row.content),
        content_hash=row.content_hash,
        published_at=row.published_at,
    )


class SqlTemplates(SqlRepository):
    def get_template(self, template_id: str, version: int | None = None) -> StoredTemplate | None:
        # A published version never changes, so a pinned (id, version) is read once per database and process;
        # "the latest version" is always asked of the database.
        key = (str(self.connection.engine.url), template_id, version)
        if version is not None and key in _PUBLISHED:
            return _PUBLISHED[key]
        # Core columns, not the mapped class: an ORM query first configures every mapper (~0.1 s), which a
        # read-only command such as `gate check` otherwise never needs.
        table = q.TEMPLATE_VERSIONS
        query = select(table.c.content_hash, table.c.content, table.c.published_at)
        query = query.where(table.c.template_id == template_id)
        if version is None:
            query = query.order_by(table.c.version.desc()).limit(1)
        else:
            query = query.where(table.c.version == version)
        row = self.connection.execute(query).first()
        if row is None:
            return None
        stored = _stored_template(row)
        if version is not None and len(_PUBLISHED) < 4096:
            _PUBLISHED[key] = stored
        return stored

    def list_templates(self) -> list[StoredTemplate]:
        table = q.TEMPLATE_VERSIONS
        rows = self.connection.execute(
            select(table.c.content_hash, table.c.content, table.c.published_at).order_by(
                table.c.template_id, table.c.version
            )
        )
        return [_stored_template(row) for row in rows]

    def add_template(self, template: LifecycleTemplate, *, content_hash: str, source: str, now: datetime) -> None:
        from phasegate.models import tables as t

        self.session.add(
            t.TemplateVersion(
                template_id=template.id,
                version=template.version,
                name=template.name,
                content_hash=content_hash,
                content=template.model_dump(mode="json"),
                source=source,
                published_at=now,
            )
        )
        self.session.flush()

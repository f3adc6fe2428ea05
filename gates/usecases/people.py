"""People: the persons phasegate knows, who approve, sign documents and receive notifications."""

from __future__ import annotations

from datetime import datetime

from gates.usecases.result import SYSTEM, UowFactory
from models.commands import AddPerson
from models.errors import ConflictError
from models.snapshots import (
    PersonSnapshot,
)


def add_person(cmd: AddPerson, *, uow: UowFactory, now: datetime) -> PersonSnapshot:
    person = PersonSnapshot(
        id=cmd.id, name=cmd.name, email=str(cmd.email), locale=cmd.locale.value, notify_urls=cmd.notify_urls
    )
    with uow() as tx:
        existing = tx.get_person(cmd.id)
        if existing == person:
            return existing
        if existing is not None:
            raise ConflictError(f"person {cmd.id!r} already exists with other details", code="person.exists")
        tx.add_person(person, now=now)
        tx.append_audit(
            actor=SYSTEM,
            action="person.added",
            entity=f"person:{cmd.id}",
            payload={"name": cmd.name, "locale": person.locale, "targets": len(cmd.notify_urls)},
            at=now,
        )
        tx.commit()
    return person

"""People: who they are, their roles and logins.

A person is read many times in one transaction (every vote, every route), so the repository keeps the
rows it has read for the life of the transaction; a write refreshes the kept copy.

A repository of ``SqlUnitOfWork``: it shares the unit's session and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select, update

from phasegate.gates.vocabulary.identity import OrgRole
from phasegate.gates.vocabulary.snapshots import (
    PersonSnapshot,
)
from phasegate.models import statements as q
from phasegate.models.prepared import Prepared
from phasegate.models.read_ahead import ReadAhead
from phasegate.models.repositories.repository import SqlRepository, Transaction

_PERSON = Prepared(q.PERSON)  # every use case reads its actor: on the driver (models.prepared)
_MOST_PREPARED = 16  # more ids at once (a portfolio's people) go through the session's expanding IN


@cache
def _people_by_ids(count: int) -> Prepared:
    """A review's role holders, a decision's recipients: one prepared statement per count of ids."""
    return Prepared(q.people_by_ids(count))


@cache
def _project_people(*, of_round: bool, also: int) -> Prepared:
    """A project's people and ``also`` more, read ahead (one prepared statement per shape)."""
    return Prepared(q.project_people(of_round=of_round, also=also))


_MOST_ALSO = 4  # who acts, as whose admin, who signs, for whom: more are read when asked for


class SqlPeople(SqlRepository):
    def __init__(self, tx: Transaction) -> None:
        super().__init__(tx)
        self._people: dict[str, PersonSnapshot] = {}
        self._ahead = ReadAhead()

    def read_ahead(
        self, also: Iterable[str] = (), *, project_key: str | None = None, round_id: UUID | None = None
    ) -> None:
        """Send the read of a project's people (``project_key``'s or round ``round_id``'s project: sponsor, manager,
        role holders) and of ``also``, to be kept when anyone is first asked for (``models.read_ahead``)."""
        extra = sorted(set(also))[:_MOST_ALSO]
        params: dict[str, Any] = {f"id{i}": person_id for i, person_id in enumerate(extra)}
        if project_key is not None:
            params["key"] = project_key
        elif round_id is not None:
            params["round_id"] = round_id
        else:
            return
        read = _project_people(of_round=project_key is None, also=len(extra))
        self._ahead.send(self.connection, ("people", project_key or round_id), (read, params))

    def _take_ahead(self) -> None:
        for (rows,) in self._ahead.take_all("people"):
            for row in rows:
                self._keep(row)

    def get_person(self, person_id: str) -> PersonSnapshot | None:
        # A review or a vote asks for the same approver several times (message, names, segregation checks);
        # people are never updated in a transaction that reads them, so a found one is kept for the unit's life.
        self._take_ahead()
        person = self._people.get(person_id)
        if person is not None:
            return person
        row = _PERSON.first(self.connection, {"id": person_id})
        return None if row is None else self._keep(row)

    def get_people(self, person_ids: Iterable[str]) -> dict[str, PersonSnapshot]:
        """The ones of ``person_ids`` who exist, by id, read in one query (those already kept are not read)."""
        self._take_ahead()
        wanted = set(person_ids)
        missing = [person_id for person_id in wanted if person_id not in self._people]
        if len(missing) > _MOST_PREPARED:
            for row in self.connection.execute(q.PEOPLE_BY_ID, {"ids": missing}):
                self._keep(row)
        elif missing:
            read = _people_by_ids(len(missing))
            for row in read.rows(self.connection, {f"id{i}": person_id for i, person_id in enumerate(missing)}):
                self._keep(row)
        return {person_id: self._people[person_id] for person_id in wanted if person_id in self._people}

    def _keep(self, row: Row[Any] | Any) -> PersonSnapshot:
        person = PersonSnapshot(
            id=row.id,
            name=row.name,
            email=row.email,
            locale=row.locale,
            notify_urls=tuple(row.notify_urls),
            login=row.login,
            roles=frozenset(OrgRole(r) for r in row.org_roles or ()),
            disabled=bool(row.disabled),
        )
        self._people[person.id] = person
        return person

    def add_person(self, person: PersonSnapshot, *, now: datetime) -> None:
        from phasegate.models import tables as t

        self.session.add(
            t.Person(
                id=person.id,
                name=person.name,
                email=person.email,
                locale=person.locale,
                notify_urls=list(person.notify_urls),
                created_at=now,
                login=person.login,
                org_roles=sorted(person.roles),
                disabled=person.disabled,
            )
        )
        self.session.flush()

    def update_person(self, person: PersonSnapshot) -> None:
        """Replace a person's details, login, roles and disabled flag with ``person``'s."""
        from phasegate.models import tables as t

        self._take_ahead()  # a row read ahead is older than this write: kept now, so the pop below drops it
        self.session.execute(
            update(t.Person)
            .where(t.Person.id == person.id)
            .values(
                name=person.name,
                email=person.email,
                locale=person.locale,
                notify_urls=list(person.notify_urls),
                login=person.login,
                org_roles=sorted(person.roles),
                disabled=person.disabled,
            )
        )
        self._people.pop(person.id, None)

    def person_by_login(self, login: str) -> PersonSnapshot | None:
        row = self.connection.execute(q.PERSON_BY_LOGIN, {"login": login}).first()
        return None if row is None else self._keep(row)

    def people_with_role(self, role: OrgRole) -> list[str]:
        """Ids of enabled people holding an organisation role (few people, read whole: roles are a JSON list)."""
        from phasegate.models import tables as t

        rows = self.session.execute(select(t.Person.id, t.Person.org_roles).where(t.Person.disabled.is_(False)))
        return sorted(person_id for person_id, roles in rows if role.value in (roles or ()))

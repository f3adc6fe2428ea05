"""The use cases' side of authorization: check the actor once, audit every refusal, stamp every accepted act.

Why here and not in the doors: every door (CLI, approval link, REST API, scheduled flow) calls the same use
case, so the same act is allowed or refused the same way whichever door it comes through. The doors only
prove who acts (``gates.vocabulary.identity.Actor``).

- ``permit`` checks the matrix (``gates.authorization``) plus what needs the database: the acting person
  exists and is not disabled, and an admin acting for someone is an enabled PMO admin.
- ``refusals_audited`` wraps a use case: a refused act (any ``PermissionDeniedError``) rolls its own
  transaction back, then is recorded in a transaction of its own, so the refusal is in the audit log even
  though nothing else was written. ``refuse`` is that one write, for callers with more to record.
- ``stamp`` and ``audit_name`` put the actor's proof of identity (the door's method) and the admin acting
  for them into every accepted act's audit entry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from phasegate.gates.audit import SECURITY_REFUSED
from phasegate.gates.authorization import Act, authorize
from phasegate.gates.vocabulary.errors import AuthorizationError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import Actor, AuthMethod, OrgRole
from phasegate.gates.vocabulary.snapshots import ProjectSnapshot
from phasegate.usecases.ports import UnitOfWork

P = ParamSpec("P")
R = TypeVar("R")


def audit_name(actor: Actor) -> str:
    """Who the audit log names as doing the act: the admin when one acts for someone, else the person."""
    return actor.acting_admin or actor.person_id


def checked_people(actor: Actor) -> set[str]:
    """Who ``permit`` looks up for ``actor``: the person and the admin acting for them (nobody for the system), for a
    use case to read them ahead with the rest (``UnitOfWork.together``)."""
    if actor.method is AuthMethod.SYSTEM:
        return set()
    return {actor.person_id} | ({actor.acting_admin} if actor.acting_admin is not None else set())


def stamp(actor: Actor) -> dict[str, Any]:
    """What every audited act records about how its actor was identified."""
    extra: dict[str, Any] = {"auth_method": actor.method.value}
    if actor.acting_admin is not None:
        extra |= {"acting_admin": actor.acting_admin, "acting_for": actor.person_id}
    return extra


def permit(
    tx: UnitOfWork,
    actor: Actor,
    act: Act,
    *,
    project: ProjectSnapshot | None = None,
    subject: str | None = None,
    signers: frozenset[str] = frozenset(),
    entity: str | None = None,
) -> None:
    """Allow the act or raise ``AuthorizationError`` naming what it needs (``entity`` goes to the audit)."""
    where = entity or (f"project:{project.key}" if project is not None else None)
    try:
        if actor.method is not AuthMethod.SYSTEM:
            person = tx.people.get_person(actor.person_id)
            if person is None:
                raise AuthorizationError(f"unknown person {actor.person_id!r} cannot act", code="auth.unknown_person")
            if person.disabled:
                raise AuthorizationError(
                    f"{actor.person_id} is disabled and can no longer act; a PMO admin can re-enable them "
                    "('phasegate person update ID --enable')",
                    code="auth.disabled",
                )
            if actor.acting_admin is not None:
                admin = tx.people.get_person(actor.acting_admin)
                if admin is None or admin.disabled or OrgRole.PMO_ADMIN not in admin.roles:
                    raise AuthorizationError(
                        f"{actor.acting_admin} may not act for {actor.person_id}: only an enabled pmo_admin may",
                        code="auth.act_for",
                    )
        authorize(actor, act, project=project, subject=subject, signers=signers)
    except AuthorizationError as refused:
        refused.entity = refused.entity or where
        raise


def refuse(
    uow: Callable[[], UnitOfWork],
    *,
    actor: Actor,
    entity: str,
    why: str,
    code: str,
    now: datetime,
    action: str = SECURITY_REFUSED,
    payload: dict[str, Any] | None = None,
) -> None:
    """Record a refused attempt in its own transaction (the refusal itself writes nothing else)."""
    with uow() as tx:
        tx.append_audit(
            actor=audit_name(actor),
            action=action,
            entity=entity,
            payload={"meaning": "refused", "code": code, "why": why, "person": actor.person_id}
            | stamp(actor)
            | (payload or {}),
            at=now,
        )
        tx.commit()


def _target(first: object) -> str:
    """What a refused use case was asked to act on, short enough for an audit entity: a command names its
    project or round; a plain argument (a key, an id) is itself."""
    for field in ("project_key", "round_id", "id"):
        value = getattr(first, field, None)
        if value is not None:
            return str(value)
    return str(first)[:120]


def refusals_audited(act: Act) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a use case taking ``actor``, ``uow`` and ``now`` keywords: audit any refusal it raises, then re-raise."""

    def wrap(use_case: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(use_case)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return use_case(*args, **kwargs)
            except PermissionDeniedError as refused:
                actor, uow, now = kwargs["actor"], kwargs["uow"], kwargs["now"]
                assert isinstance(actor, Actor) and isinstance(now, datetime) and callable(uow)
                target = _target(args[0]) if args else ""
                entity = getattr(refused, "entity", None) or f"{act.name.lower()}:{target}"
                refuse(
                    uow,
                    actor=actor,
                    entity=entity,
                    why=refused.message,
                    code=refused.code,
                    now=now,
                    payload={"act": act.value, "target": target},
                )
                raise

        return run

    return wrap

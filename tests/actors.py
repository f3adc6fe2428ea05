"""Actors for tests that call the use cases directly, as a door would hand them over.

Setup that is not what a test is about acts as ``SYSTEM_ACTOR`` (it passes every check, like a scheduled
flow); the acts under test use real people with the roles the matrix asks for, so a broken check fails them.
"""

from __future__ import annotations

from typing import Any

from phasegate.gates.vocabulary.commands import CastVote
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, Actor, AuthMethod, OrgRole
from phasegate.usecases import approvals


def person(person_id: str, *roles: OrgRole, acting_admin: str | None = None) -> Actor:
    """``person_id`` as the CLI would resolve them; a gatekeeper unless other roles are given."""
    return Actor(
        person_id=person_id,
        roles=frozenset(roles or (OrgRole.GATEKEEPER,)),
        method=AuthMethod.OS_LOGIN,
        acting_admin=acting_admin,
    )


def admin(person_id: str | None = "admin") -> Actor:
    """A PMO admin; ``None`` is the system (a scheduled flow), as a review nobody requested is."""
    return SYSTEM_ACTOR if person_id is None else person(person_id, OrgRole.PMO_ADMIN)


def cast_vote(cmd: CastVote, **kwargs: Any) -> approvals.VoteResult:
    """The vote use case, acted by the command's voter as a gatekeeper."""
    actor = kwargs.pop("actor", None) or person(cmd.voter_id)
    return approvals.cast_vote(cmd, actor=actor, **kwargs)


def bootstrap_admin_args(person_id: str = "admin") -> list[str]:
    """``phasegate person add`` for the first PMO admin, mapped to the OS login the tests run as (root in CI)."""
    from phasegate.flows.cli.common import os_login

    return [
        *("person", "add", person_id, "--name", "Ada Admin", "--email", f"{person_id}@example.com"),
        *("--login", os_login(), "--role", "pmo_admin"),
    ]

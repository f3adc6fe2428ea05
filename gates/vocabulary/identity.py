"""Who acts: the authenticated person every use case receives, and the organisation roles it is checked against.

Why one type for every door: an approval recorded in SQL is worth only as much as the proof that the named
person made it. Each door (CLI, web page, signed approval link, REST API, scheduled flow) proves identity its
own way and then hands the use case the same ``Actor``; the use case alone decides whether that actor may do
the act (``gates.authorization``) and records who did it and how they proved it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, SecretStr


class OrgRole(StrEnum):
    """Organisation-wide roles (not a ladder: each grants its own acts; see docs/security.md)."""

    PMO_ADMIN = "pmo_admin"
    GATEKEEPER = "gatekeeper"
    MANAGER = "manager"
    VIEWER = "viewer"


class AuthMethod(StrEnum):
    """How the door proved who the actor is; stored with every audited act."""

    OS_LOGIN = "os_login"  # local CLI: the operating-system login mapped to a person (person add --login)
    API_TOKEN = "api_token"  # a personal bearer token (REST API, or the CLI after `phasegate login`)
    PASSWORD = "password"  # web sign-in with a local account (argon2id, optional TOTP)
    OIDC = "oidc"  # web sign-in through the organisation's single sign-on
    APPROVAL_LINK = "approval_link"  # the signed, expiring link of one seat on one round
    SYSTEM = "system"  # a scheduled flow acting for the organisation (reminders, monitoring)


SYSTEM_ID = "system"


class Actor(BaseModel):
    """An authenticated person, as a door hands it to a use case.

    ``person_id`` is whose act it is. ``acting_admin`` is set when a PMO admin acts for that person (the CLI's
    ``--as``): the act is recorded as ``person_id``'s and audited as done by ``acting_admin``. ``read_only``
    marks a credential issued for reading only (a viewer API token): every act but reading is refused,
    whatever the person's roles or relationship to a project.
    """

    model_config = ConfigDict(defer_build=True, frozen=True)

    person_id: str
    roles: frozenset[OrgRole] = frozenset()
    method: AuthMethod
    acting_admin: str | None = None
    read_only: bool = False

    def has(self, role: OrgRole) -> bool:
        return role in self.roles


# Constructed, not validated: a literal that is valid as written, and validating it at import would build
# Actor's validator in every process, one that never checks an actor (`gate check`) included.
SYSTEM_ACTOR = Actor.model_construct(
    person_id=SYSTEM_ID, roles=frozenset({OrgRole.PMO_ADMIN}), method=AuthMethod.SYSTEM
)


class SignatureProof(BaseModel):
    """What a signer re-enters at the moment of a Part 11 signature: their password and, when enabled, a TOTP code.

    Why a type of its own and not fields of the vote command: the command is dumped into audit entries and
    retried by idempotency key; a password must be neither. ``SecretStr`` keeps it out of reprs and logs.
    """

    model_config = ConfigDict(defer_build=True, frozen=True)

    password: SecretStr
    one_time_code: str | None = None

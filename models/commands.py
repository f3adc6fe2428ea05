"""Commands: validated requests from any entry point (CLI, web, flows) to the use cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from models.enums import BallotKind, Decision, Locale
from models.identity import OrgRole
from models.snapshots import ConditionSpec

PersonId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ProjectKey = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,63}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2, allow_inf_nan=False)]


def _email(value: str) -> str:
    """Pydantic's ``EmailStr`` check, with ``email_validator`` imported only when an address is checked.

    Every command imports this module; only ``person add`` checks an address, and importing the validator
    costs about 30 ms of each command's start-up.
    """
    from pydantic.networks import validate_email

    return validate_email(value)[1]


Email = Annotated[str, AfterValidator(_email), Field(json_schema_extra={"format": "email"})]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Login = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$")]
"""An operating-system login name (``whoami``), as the CLI maps it to a person."""
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class AddPerson(Command):
    id: PersonId
    name: PersonName
    email: Email
    locale: Locale = Locale.EN
    notify_urls: tuple[str, ...] = ()
    login: Login | None = None
    roles: frozenset[OrgRole] = frozenset()


class UpdatePerson(Command):
    """Change some of a person's details; ``None`` keeps a field as it is (``clear_login`` removes the login)."""

    id: PersonId
    name: PersonName | None = None
    email: Email | None = None
    locale: Locale | None = None
    notify_urls: tuple[str, ...] | None = None
    login: Login | None = None
    clear_login: bool = False
    roles: frozenset[OrgRole] | None = None
    enable: bool = False


class CreateProject(Command):
    key: ProjectKey
    template_id: str
    template_version: int | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    sponsor_id: PersonId
    manager_id: PersonId
    budget: Money
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"


class RegisterDocument(Command):
    project_key: str
    deliverable_id: str
    path: str
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    size: int = Field(ge=0)
    approved_by: PersonId | None = None
    format: str = ""
    headings: tuple[str, ...] | None = None


class RecordCost(Command):
    project_key: str
    amount: Money
    note: str = ""


class RequestReview(Command):
    project_key: str
    requested_by: str | None = None
    meeting_at: AwareDatetime | None = Field(
        default=None, description="When the gate review meeting is held: approvers get a calendar invitation."
    )
    meeting_minutes: int = Field(default=60, ge=15, le=480)


class CastVote(Command):
    """An approver's act on a round: a vote (GO ... KILL), an abstention or a recusal.

    ``voter_id`` is who acts; ``on_behalf_of`` names the principal when acting as a delegate. A reason is
    required for everything but GO; a CONDITIONAL_GO carries at least one condition.
    """

    round_id: UUID
    voter_id: str
    decision: Decision | None = None
    kind: BallotKind = BallotKind.VOTE
    reason: str = ""
    on_behalf_of: str | None = None
    conditions: tuple[ConditionSpec, ...] = ()
    idempotency_key: Annotated[str, StringConstraints(min_length=8, max_length=200)] | None = None
    seen_evidence_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None

    @field_validator("reason")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> CastVote:
        if self.kind is BallotKind.VOTE and self.decision is None:
            raise ValueError("a vote needs a decision: go, conditional_go, recycle, hold or kill")
        if self.kind is not BallotKind.VOTE and self.decision is not None:
            raise ValueError(f"{self.kind.value} takes no decision")
        if not self.reason and not (self.kind is BallotKind.VOTE and self.decision is Decision.GO):
            what = self.decision.value if self.decision else self.kind.value
            raise ValueError(f"a reason is required for {what} (only go may be given without one)")
        if self.decision is Decision.CONDITIONAL_GO and not self.conditions:
            raise ValueError("conditional_go needs at least one condition (text, owner, due date, verification)")
        if self.conditions and self.decision is not Decision.CONDITIONAL_GO:
            raise ValueError("conditions go with conditional_go only")
        if self.on_behalf_of == self.voter_id:
            raise ValueError("on behalf of: a person does not act on their own behalf as a delegate")
        return self


class Delegate(Command):
    """A principal lets a delegate act for them, within dates and optionally one template or gate."""

    principal_id: PersonId
    delegate_id: PersonId
    valid_from: date
    valid_to: date
    template_id: str | None = None
    gate_id: str | None = None

    @model_validator(mode="after")
    def _sane(self) -> Delegate:
        if self.principal_id == self.delegate_id:
            raise ValueError("a person cannot delegate to themselves")
        if self.valid_to < self.valid_from:
            raise ValueError(f"--to {self.valid_to} is before --from {self.valid_from}")
        return self

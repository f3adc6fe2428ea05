"""Commands: validated requests from any entry point (CLI, web, flows) to the use cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator, model_validator

from models.enums import Decision, Locale

PersonId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ProjectKey = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,63}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2, allow_inf_nan=False)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AddPerson(Command):
    id: PersonId
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    email: EmailStr
    locale: Locale = Locale.EN
    notify_urls: tuple[str, ...] = ()


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


class CastVote(Command):
    round_id: UUID
    voter_id: str
    decision: Decision
    reason: str = ""

    @field_validator("reason")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _reason_unless_go(self) -> CastVote:
        if self.decision is not Decision.GO and not self.reason:
            raise ValueError(f"a reason is required for {self.decision.value} (only go may be given without one)")
        return self

"""Commands: validated requests from any entry point (CLI, web, flows) to the use cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    ValidationError,
    field_validator,
    model_validator,
)

from phasegate.gates.vocabulary.enums import BallotKind, Decision, Locale
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.identity import OrgRole
from phasegate.gates.vocabulary.snapshots import ConditionSpec
from phasegate.gates.vocabulary.tolerance import (
    Amount,
    Dimension,
    Percent,
    ToleranceLevel,
    ToleranceLimit,
    limit_problem,
)

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


SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")
"""Domains ``email_validator`` refuses in any address (its ``SPECIAL_USE_DOMAIN_NAMES``; tests/test_api_schema.py checks
the two agree). Named here so the API's schema can say so: ``format: email`` alone allows them."""


def _any_case(word: str) -> str:
    return "".join(f"[{char}{char.upper()}]" for char in word)


_NOT_SPECIAL_USE = rf"^(?!.*@(?:[^@]*\.)?(?:{'|'.join(map(_any_case, SPECIAL_USE_DOMAINS))})\.?$)"

Email = Annotated[
    str, AfterValidator(_email), Field(json_schema_extra={"format": "email", "pattern": _NOT_SPECIAL_USE})
]


def _no_placeholder(url: str) -> str:
    """A person's notify URL is sent as typed: ``${NAME}`` is never filled from the dispatcher's environment.

    Why refuse it outright: filling placeholders in URLs anyone can register once sent the server's secret key
    to a receiver of the registrant's choosing. Only the organisation's Apprise config (PHASEGATE_NOTIFY_CONFIG),
    written by whoever runs the server, may use them.
    """
    if "${" in url:
        raise ValueError(
            "a person's notify URL may not contain ${NAME} placeholders; put secrets in the URL itself, or put "
            "shared targets in the organisation's notify config (PHASEGATE_NOTIFY_CONFIG)"
        )
    return url


PersonTarget = Annotated[str, AfterValidator(_no_placeholder)]


class Command(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


Login = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$")]
"""An operating-system login name (``whoami``), as the CLI maps it to a person."""
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class AddPerson(Command):
    id: PersonId
    name: PersonName
    email: Email
    locale: Locale = Locale.EN
    notify_urls: tuple[PersonTarget, ...] = ()
    login: Login | None = None
    roles: frozenset[OrgRole] = frozenset()


class UpdatePerson(Command):
    """Change some of a person's details; ``None`` keeps a field as it is (``clear_login`` removes the login)."""

    id: PersonId
    name: PersonName | None = None
    email: Email | None = None
    locale: Locale | None = None
    notify_urls: tuple[PersonTarget, ...] | None = None
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


class UpdateProject(Command):
    """What may change on a running project: its name, budget, sponsor, manager and expected benefit (None:
    unchanged).

    The template pin, stage and status never change here: they move only through gates and decisions.
    """

    key: str
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)] | None = None
    sponsor_id: PersonId | None = None
    manager_id: PersonId | None = None
    budget: Money | None = None
    expected_benefit: Money | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


class RegisterDocument(Command):
    project_key: str
    deliverable_id: str
    path: str
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    size: int = Field(ge=0)
    approved_by: PersonId | None = None
    format: str = ""
    headings: tuple[str, ...] | None = None
    store_key: Annotated[str | None, StringConstraints(pattern=r"^sha256/[0-9a-f]{2}/[0-9a-f]{62}$")] = None
    """Where the door put the file in the document store (``models.document_store``)."""


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

    @classmethod
    def from_door(
        cls,
        *,
        round_id: UUID,
        voter_id: str,
        choice: str,
        reason: str = "",
        conditions: Sequence[str | Sequence[str]] = (),
        on_behalf_of: str | None = None,
        idempotency_key: str | None = None,
        seen_evidence_hash: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> CastVote:
        """The one way a door turns what a person typed or clicked into a vote command.

        ``choice`` is one of ``VOTE_CHOICES`` (a decision, or abstain / recuse); each condition is
        ``'TEXT;OWNER;DUE;VERIFICATION'`` (the CLI's option) or those four parts (the page's form row).
        ``labels`` map field names to what the door calls them (``--decision``, ``decision``), so the one
        line of an ``InputError`` names the field as the person knows it.
        """
        names = dict(VOTE_LABELS) | dict(labels or {})
        if choice not in VOTE_CHOICES:
            raise InputError(f"{names['decision']}: {choice!r} is not allowed; use one of {', '.join(VOTE_CHOICES)}")
        kind = BallotKind(choice) if choice in ("abstain", "recuse") else BallotKind.VOTE
        specs = tuple(_condition(spec, index, names["conditions"]) for index, spec in enumerate(conditions, 1))
        try:
            return cls(
                round_id=round_id,
                voter_id=voter_id,
                decision=Decision(choice) if kind is BallotKind.VOTE else None,
                kind=kind,
                reason=reason,
                on_behalf_of=on_behalf_of or None,
                conditions=specs,
                idempotency_key=idempotency_key or None,
                seen_evidence_hash=seen_evidence_hash or None,
            )
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            raise InputError(f"{names.get(field, field)}: {message}" if field else message) from None


VOTE_CHOICES = ("go", "conditional_go", "recycle", "hold", "kill", "abstain", "recuse")
"""What a person may choose on a round: the five decisions, or stepping aside (abstain, recuse)."""

VOTE_LABELS: Mapping[str, str] = {
    "decision": "decision",
    "reason": "reason",
    "voter_id": "voter",
    "conditions": "condition",
    "on_behalf_of": "on behalf of",
    "idempotency_key": "idempotency key",
    "seen_evidence_hash": "evidence hash",
}


def _condition(spec: str | Sequence[str], index: int, label: str) -> ConditionSpec:
    """One condition of a CONDITIONAL_GO from 'TEXT;OWNER;DUE;VERIFICATION' or its four parts."""
    parts = [p.strip() for p in (spec.split(";") if isinstance(spec, str) else spec)]
    if not isinstance(spec, str) and (len(parts) != 4 or not all(parts)):
        raise InputError(f"{label} {index}: fill in what, owner, due date and verification (or leave it all empty)")
    if len(parts) != 4 or not all(parts):
        raise InputError(
            f"{label} {index}: give TEXT;OWNER;DUE;VERIFICATION, e.g. 'Security review passed;carol;2026-12-15;"
            "verifier:dan' (VERIFICATION: a criterion code or verifier:PERSON)"
        )
    text, owner, due, verification = parts
    try:
        due_on = date.fromisoformat(due)
    except ValueError:
        raise InputError(f"{label} {index} DUE: {due!r} is not a date; use YYYY-MM-DD") from None
    return ConditionSpec(text=text, owner_id=owner, due_on=due_on, verification=verification)


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


class SetTolerance(Command):
    """Set (or replace) one dimension's tolerance on a project or one of its stages, as a level with an owner."""

    project_key: ProjectKey
    dimension: Dimension
    level: ToleranceLevel
    stage_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)] | None = None
    owner_id: PersonId | None = None
    percent: Percent | None = None
    amount: Amount | None = None
    none: bool = False
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""

    @model_validator(mode="after")
    def _limit_or_none(self) -> SetTolerance:
        problem = limit_problem(self.percent, self.amount, none=self.none)
        if problem:
            raise ValueError(problem)
        return self

    def limit(self) -> ToleranceLimit:
        """The limit this command sets (its own checks: a limit or none, never both)."""
        return ToleranceLimit(percent=self.percent, amount=self.amount, none=self.none)

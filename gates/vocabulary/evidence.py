"""Evidence: the frozen facts a gate evaluation reads. Its canonical JSON hash binds reviews and votes to it.

Everything a criterion may look at is here, taken at one moment (``as_of``), so an evaluation is a pure
function of this value: the same evidence always gives the same results, recommendation and hash.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from phasegate.gates.vocabulary.enums import DocumentStatus
from phasegate.gates.vocabulary.resources import ResourceEvidence


class Evidence(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


MAX_AMOUNT = Decimal("1e18")
"""Upper bound for any amount: larger than any project budget in any currency, small enough to stay exact."""


def positive_zero(value: Decimal) -> Decimal:
    """``-0`` is a valid Decimal but would print as ``-0`` in reports; an amount of zero has no sign."""
    return abs(value) if value.is_zero() else value


Amount = Annotated[
    Decimal,
    Field(ge=0, le=MAX_AMOUNT, decimal_places=6, allow_inf_nan=False),
    AfterValidator(positive_zero),
]


class DocumentEvidence(Evidence):
    """The latest registered version of one deliverable, as a gate sees it."""

    deliverable_id: str
    version: int
    sha256: str = Field(description="Hash of the file when it was registered (and approved, if it was).")
    size: int
    path: str = Field(description="Where the file was registered from; gates never read it again.")
    status: DocumentStatus
    approved_by: str | None
    format: str = Field(default="", description="File extension, lower case, without the dot.")
    headings: tuple[str, ...] | None = Field(
        default=None, description="Section titles read from the file at registration; None when unreadable."
    )
    current_sha256: str | None = Field(
        default=None, description="Hash of the stored copy when the evidence was taken; None when it is gone."
    )
    store_key: str | None = Field(
        default=None,
        description="Key of phasegate's copy in the document store (sha256/ab/cdef...); None: registered without one.",
    )
    approver_roles: tuple[str, ...] = Field(default=(), description="Roles the approver holds on the project.")
    registered_at: datetime | None = None
    approved_at: datetime | None = None


class EvmSnapshot(Evidence):
    """One project's EVM inputs at a status date. ``None`` means "not reported", which differs from zero."""

    as_of: date
    bac: Amount = Field(description="Budget at completion.")
    pv: Amount | None = Field(description="Planned value to date, from the time-phased baseline.")
    ev: Amount | None = Field(description="Earned value to date.")
    ac: Amount | None = Field(description="Actual cost to date.")
    etc: Amount | None = Field(default=None, description="Bottom-up estimate to complete, if the team made one.")

    @model_validator(mode="after")
    def _within_budget_at_completion(self) -> Self:
        """EV and PV are shares of the baseline, so neither can exceed BAC; if one does, the data is wrong."""
        if self.ev is not None and self.ev > self.bac:
            raise ValueError(f"ev (earned value) {self.ev} must not exceed bac (budget at completion) {self.bac}")
        if self.pv is not None and self.pv > self.bac:
            raise ValueError(f"pv (planned value) {self.pv} must not exceed bac (budget at completion) {self.bac}")
        return self


class RiskEvidence(Evidence):
    """One entry of the risk register (probability and impact on the template's scale)."""

    id: str
    title: str
    category: str = ""
    owner: str | None = None
    probability: int = Field(ge=1)
    impact: int = Field(ge=1)
    response: str | None = None
    mitigation: str = ""
    cause: str = ""
    effect: str = ""
    status: str = "open"

    @property
    def score(self) -> int:
        return self.probability * self.impact


class MilestoneEvidence(Evidence):
    id: str
    name: str
    due: date
    done_on: date | None = None


class ScoreEvidence(Evidence):
    """One gatekeeper's score of one scorecard factor."""

    gatekeeper: str
    factor: str
    score: int = Field(ge=0)


class GateEvidence(Evidence):
    """Everything a gate evaluation reads, as of one date."""

    project_key: str
    template: str
    gate_id: str
    stage_id: str
    as_of: date | None = None
    budget: Decimal
    currency: str
    actual_cost: Decimal
    documents: tuple[DocumentEvidence, ...]
    roles: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="Role -> person ids on the project.")
    evm: EvmSnapshot | None = None
    stage_budget: Decimal | None = None
    stage_spend: Decimal | None = None
    contingency: Decimal | None = None
    contingency_used: Decimal | None = None
    risks: tuple[RiskEvidence, ...] = ()
    milestones: tuple[MilestoneEvidence, ...] = ()
    scores: tuple[ScoreEvidence, ...] = ()
    resources: ResourceEvidence | None = Field(
        default=None,
        # Left out of the canonical JSON when not collected, so evidence hashes of gates without a resources
        # criterion stay what they were.
        exclude_if=lambda value: value is None,
        description="The next stage's demand against capacity; collected for gates with a resources criterion.",
    )

"""Lifecycle templates: what the PMO defines (stages, gates, deliverables, criteria, approvers), as data.

A template version is immutable once published; projects pin ``id@version`` plus the content hash.
Cross-references (a gate naming a deliverable or stage) are checked here so that a template that loads
is a template the engine can run.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints, model_validator

from phasegate.gates.vocabulary.enums import ApprovalPolicyKind, CriterionKind
from phasegate.gates.vocabulary.tolerance import ToleranceDef, duplicate_dimensions

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
CriterionCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=100)]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]


class _Def(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class DeliverableDef(_Def):
    """A document the team brings to a gate, with its documentation standard."""

    id: Slug
    name: str = Field(min_length=1)
    name_zh: str | None = None
    formats: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")], ...] = ("md", "docx", "pdf")
    required_sections: tuple[str, ...] = ()
    approver_role: Role = "sponsor"
    approver_not_manager: bool = Field(
        default=True, description="The project's own manager may not be the one who approves this deliverable."
    )
    max_age_days: int | None = Field(
        default=None, ge=1, description="How old (since registration) the version may be at the gate; none: no limit."
    )
    unchanged_since_approval: bool = Field(
        default=True, description="The file at the gate must hash to what was approved."
    )


def _tolerances_field(what: str) -> Any:
    return Field(
        default=(),
        # Left out of the dump when empty, so templates published before tolerances keep their content hash.
        exclude_if=lambda value: not value,
        description=f"Default tolerances for {what}, one per dimension (time, cost, scope, quality, risk, "
        "benefits): percent and/or amount (whichever is greater) or none, the level that owns it and the "
        "project role of its owner.",
    )


class StageDef(_Def):
    id: Slug
    name: str = Field(min_length=1)
    name_zh: str | None = None
    tolerances: tuple[ToleranceDef, ...] = _tolerances_field("this stage")


class CriterionDef(_Def):
    """A check at a gate. ``code`` names an implementation; ``params`` are its thresholds."""

    code: CriterionCode
    kind: CriterionKind = CriterionKind.MUST_MEET
    remediable: bool = True
    # Finite floats only: NaN or infinity cannot be written as canonical JSON, so it could not be hashed.
    params: dict[str, str | int | FiniteFloat | bool] = Field(default_factory=dict)


class ApproverGroupDef(_Def):
    """A named group of approver roles for the per-group policy: at least ``min_approvals`` of them must approve."""

    id: Slug
    roles: tuple[Role, ...] = Field(min_length=1)
    min_approvals: int = Field(default=1, ge=1)


class ApprovalDef(_Def):
    """Who decides at a gate and how their votes combine. Roles are resolved to people when the round opens,
    and that snapshot is what counts."""

    policy: ApprovalPolicyKind = ApprovalPolicyKind.SINGLE
    approvers: tuple[Role, ...] = Field(
        default=("sponsor",), min_length=1, description="Roles, in order for sequential."
    )
    m: int | None = Field(default=None, ge=1, description="m_of_n: approvals needed.")
    percentage: float | None = Field(default=None, gt=0, le=100, allow_inf_nan=False, description="percentage policy.")
    groups: tuple[ApproverGroupDef, ...] = Field(default=(), description="per_group: the groups and their minimums.")
    veto_roles: tuple[Role, ...] = Field(
        default=(), description="A KILL or RECYCLE from these roles decides the round."
    )
    chair: Role | None = Field(default=None, description="Breaks a tie between approving and rejecting.")

    @model_validator(mode="after")
    def _policy_parameters(self) -> Self:
        kind = self.policy
        if kind is ApprovalPolicyKind.SINGLE and len(self.approvers) != 1:
            raise ValueError("policy 'single' takes exactly one approver role")
        if kind is ApprovalPolicyKind.M_OF_N and (self.m is None or self.m > len(self.approvers)):
            raise ValueError(f"policy 'm_of_n' needs m between 1 and the number of approvers ({len(self.approvers)})")
        if kind is ApprovalPolicyKind.PERCENTAGE and self.percentage is None:
            raise ValueError("policy 'percentage' needs 'percentage' (0 < p <= 100)")
        if kind is ApprovalPolicyKind.PER_GROUP and not self.groups:
            raise ValueError("policy 'per_group' needs 'groups'")
        if kind is not ApprovalPolicyKind.M_OF_N and self.m is not None:
            raise ValueError("'m' applies to policy 'm_of_n' only")
        if kind is not ApprovalPolicyKind.PERCENTAGE and self.percentage is not None:
            raise ValueError("'percentage' applies to policy 'percentage' only")
        if kind is not ApprovalPolicyKind.PER_GROUP and self.groups:
            raise ValueError("'groups' apply to policy 'per_group' only")
        for group in self.groups:
            if group.min_approvals > len(group.roles):
                raise ValueError(f"group {group.id!r}: min_approvals exceeds its {len(group.roles)} roles")
        return self


class SegregationDef(_Def):
    """Segregation of duties at a gate; a violation is refused and logged as a security event."""

    manager_cannot_approve: bool = True
    requester_cannot_approve: bool = True
    one_seat_per_person: bool = True
    delegate_cannot_approve_own_submission: bool = True


class CalendarDef(_Def):
    """Working calendar for SLAs: public holidays of a region (``holidays`` library) and a time zone."""

    region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "US"
    timezone: str = "UTC"


class FactorDef(_Def):
    """A should-meet scorecard factor, scored 0 to the scorecard's maximum by each gatekeeper."""

    id: Slug
    name: str = Field(min_length=1)
    name_zh: str | None = None
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    floor: int = Field(default=4, ge=0, description="Any factor's mean below this fails the scorecard.")


COOPER_FACTORS: tuple[FactorDef, ...] = (
    FactorDef(id="strategic-fit", name="Strategic fit and importance", name_zh="战略契合度与重要性"),
    FactorDef(id="competitive-advantage", name="Product and competitive advantage", name_zh="产品与竞争优势"),
    FactorDef(id="market-attractiveness", name="Market attractiveness", name_zh="市场吸引力"),
    FactorDef(id="synergies", name="Synergies with core competencies", name_zh="与核心能力的协同"),
    FactorDef(id="technical-feasibility", name="Technical feasibility", name_zh="技术可行性"),
    FactorDef(id="reward-vs-risk", name="Financial reward versus risk", name_zh="财务回报与风险"),
)


class ScorecardDef(_Def):
    """Cooper-style scorecard: pass when the weighted mean reaches ``pass_percent`` and no factor is below floor."""

    factors: tuple[FactorDef, ...] = Field(default=COOPER_FACTORS, min_length=1)
    max_score: int = Field(default=10, ge=1, le=100)
    pass_percent: float = Field(default=60.0, gt=0, le=100, allow_inf_nan=False)
    max_spread: int = Field(default=4, ge=0, description="Flag a factor when gatekeepers' scores differ by more.")
    min_gatekeepers: int = Field(default=1, ge=1)


class RiskBandDef(_Def):
    name: Role
    name_zh: str | None = None
    min_score: int = Field(ge=1)
    max_score: int = Field(ge=1)


class RiskScaleDef(_Def):
    """Probability x impact scale and score bands; the last band is the top band (needs owner and mitigation)."""

    probability_max: int = Field(default=5, ge=2, le=10)
    impact_max: int = Field(default=5, ge=2, le=10)
    bands: tuple[RiskBandDef, ...] = (
        RiskBandDef(name="low", name_zh="低", min_score=1, max_score=4),
        RiskBandDef(name="medium", name_zh="中", min_score=5, max_score=9),
        RiskBandDef(name="high", name_zh="高", min_score=10, max_score=15),
        RiskBandDef(name="critical", name_zh="极高", min_score=16, max_score=25),
    )

    @model_validator(mode="after")
    def _bands_cover_the_scale(self) -> Self:
        expected = 1
        for band in self.bands:
            if band.min_score != expected or band.max_score < band.min_score:
                raise ValueError(f"risk bands must be contiguous from 1: band {band.name!r} should start at {expected}")
            expected = band.max_score + 1
        top = self.probability_max * self.impact_max
        if expected - 1 != top:
            raise ValueError(f"risk bands must end at probability_max x impact_max = {top}, not {expected - 1}")
        return self

    def band(self, score: int) -> RiskBandDef:
        return next((b for b in self.bands if b.min_score <= score <= b.max_score), self.bands[-1])


class GateDef(_Def):
    id: Slug
    name: str = Field(min_length=1)
    name_zh: str | None = None
    after: Slug = Field(description="The stage this gate closes; GO moves the project to the next stage.")
    deliverables: tuple[Slug, ...] = ()
    criteria: tuple[CriterionDef, ...] = ()
    approval: ApprovalDef = ApprovalDef()
    sla_business_days: int = Field(default=5, ge=1, le=60)
    scorecard: ScorecardDef | None = None
    segregation: SegregationDef = SegregationDef()
    recycle_limit: int = Field(default=3, ge=1, description="After this many recycles the next review proposes KILL.")
    condition_grace_days: int = Field(default=5, ge=0, description="Business days after a condition's due date.")
    review_meeting: bool = Field(default=False, description="Approval requests carry a calendar invitation.")
    auto_review: Literal["when_ready", "on_date"] | None = Field(
        default=None,
        # Left out of the dump when unset, so templates published before this field keep their content hash.
        exclude_if=lambda value: value is None,
        description="The portfolio monitor opens this gate's review itself (the gate-review flow, as the system) "
        "when no round is open: 'when_ready' once its check recommends GO or CONDITIONAL_GO; 'on_date' on the "
        "gate date (the project's milestone whose id is this gate's id), once per date.",
    )
    signature: Literal["part11"] | None = Field(
        default=None,
        # Left out of the dump when unset, so templates published before this field keep their content hash.
        exclude_if=lambda value: value is None,
        description="'part11': a vote on this gate is an electronic signature (21 CFR Part 11): the signer "
        "re-enters their password (and one-time code when enabled) at the moment of the vote.",
    )


class LifecycleTemplate(_Def):
    """One version of a lifecycle. Stages run in the listed order; each stage is closed by at most one gate."""

    id: Slug
    version: int = Field(ge=1)
    name: str = Field(min_length=1)
    name_zh: str | None = None
    description: str = ""
    deliverables: tuple[DeliverableDef, ...] = ()
    stages: tuple[StageDef, ...] = Field(min_length=1)
    gates: tuple[GateDef, ...] = Field(min_length=1)
    risk_scale: RiskScaleDef = RiskScaleDef()
    calendar: CalendarDef = CalendarDef()
    tolerances: tuple[ToleranceDef, ...] = _tolerances_field("the whole project")

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        problems = reference_problems(self)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return self

    def stage(self, stage_id: str) -> StageDef:
        return next(s for s in self.stages if s.id == stage_id)

    def gate_after(self, stage_id: str) -> GateDef | None:
        return next((g for g in self.gates if g.after == stage_id), None)

    def gate(self, gate_id: str) -> GateDef | None:
        return next((g for g in self.gates if g.id == gate_id), None)

    def next_stage(self, stage_id: str) -> StageDef | None:
        ids = [s.id for s in self.stages]
        position = ids.index(stage_id)
        return self.stages[position + 1] if position + 1 < len(ids) else None

    def deliverable(self, deliverable_id: str) -> DeliverableDef:
        return next(d for d in self.deliverables if d.id == deliverable_id)


Location = tuple[str | int, ...]


def reference_problems(template: LifecycleTemplate) -> list[tuple[Location, str]]:
    """Cross-reference problems with the path of the offending value, so a loader can point at its line."""
    problems: list[tuple[Location, str]] = []
    for kind, items in (
        ("deliverables", [d.id for d in template.deliverables]),
        ("stages", [s.id for s in template.stages]),
        ("gates", [g.id for g in template.gates]),
    ):
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item in seen:
                problems.append(
                    ((kind, index, "id"), f"duplicate {kind[:-1]} id {item!r}; each {kind[:-1]} id must be unique")
                )
            seen.add(item)
    for dimension in duplicate_dimensions(template.tolerances):
        problems.append((("tolerances",), f"tolerance dimension {dimension!r} is given more than once"))
    for s_index, stage in enumerate(template.stages):
        for dimension in duplicate_dimensions(stage.tolerances):
            problems.append(
                (("stages", s_index, "tolerances"), f"stage {stage.id!r}: tolerance {dimension!r} given more than once")
            )
    deliverable_ids = {d.id for d in template.deliverables}
    stage_ids = [s.id for s in template.stages]
    closed: set[str] = set()
    for g_index, gate in enumerate(template.gates):
        if gate.after not in stage_ids:
            problems.append(
                (
                    ("gates", g_index, "after"),
                    f"gate {gate.id!r} follows unknown stage {gate.after!r}; stages are: {', '.join(stage_ids)}",
                )
            )
        elif gate.after in closed:
            problems.append((("gates", g_index, "after"), f"stage {gate.after!r} is closed by more than one gate"))
        closed.add(gate.after)
        for d_index, ref in enumerate(gate.deliverables):
            if ref not in deliverable_ids:
                problems.append(
                    (
                        ("gates", g_index, "deliverables", d_index),
                        f"gate {gate.id!r} requires unknown deliverable {ref!r}; deliverables are: "
                        + (", ".join(sorted(deliverable_ids)) or "(none defined)"),
                    )
                )
    return problems

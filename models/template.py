"""Lifecycle templates: what the PMO defines (stages, gates, deliverables, criteria, approvers), as data.

A template version is immutable once published; projects pin ``id@version`` plus the content hash.
Cross-references (a gate naming a deliverable or stage) are checked here so that a template that loads
is a template the engine can run.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints, model_validator

from models.enums import ApprovalPolicyKind, CriterionKind

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
CriterionCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=100)]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]


class _Def(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliverableDef(_Def):
    """A document the team brings to a gate, with its documentation standard."""

    id: Slug
    name: str = Field(min_length=1)
    name_zh: str | None = None
    formats: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")], ...] = ("md", "docx", "pdf")
    required_sections: tuple[str, ...] = ()
    approver_role: Role = "sponsor"


class StageDef(_Def):
    id: Slug
    name: str = Field(min_length=1)
    name_zh: str | None = None


class CriterionDef(_Def):
    """A check at a gate. ``code`` names an implementation; ``params`` are its thresholds."""

    code: CriterionCode
    kind: CriterionKind = CriterionKind.MUST_MEET
    remediable: bool = True
    # Finite floats only: NaN or infinity cannot be written as canonical JSON, so it could not be hashed.
    params: dict[str, str | int | FiniteFloat | bool] = Field(default_factory=dict)


class ApprovalDef(_Def):
    """Who decides at a gate. Roles are resolved to people when the round opens."""

    policy: ApprovalPolicyKind = ApprovalPolicyKind.SINGLE
    approvers: tuple[Role, ...] = Field(default=("sponsor",), min_length=1)

    @model_validator(mode="after")
    def _single_means_one(self) -> Self:
        if self.policy is ApprovalPolicyKind.SINGLE and len(self.approvers) != 1:
            raise ValueError("policy 'single' takes exactly one approver role")
        return self


class GateDef(_Def):
    id: Slug
    name: str = Field(min_length=1)
    name_zh: str | None = None
    after: Slug = Field(description="The stage this gate closes; GO moves the project to the next stage.")
    deliverables: tuple[Slug, ...] = ()
    criteria: tuple[CriterionDef, ...] = ()
    approval: ApprovalDef = ApprovalDef()
    sla_business_days: int = Field(default=5, ge=1, le=60)


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

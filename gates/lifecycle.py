"""The lifecycle state machine: what a gate decision does to a project. Pure."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from phasegate.gates.vocabulary.enums import Decision, ProjectStatus
from phasegate.gates.vocabulary.errors import ConflictError
from phasegate.gates.vocabulary.snapshots import ProjectSnapshot
from phasegate.gates.vocabulary.template import LifecycleTemplate


class Transition(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    status: ProjectStatus
    stage_id: str
    recycle_count: int


def apply_decision(
    template: LifecycleTemplate, project: ProjectSnapshot, gate_id: str, decision: Decision
) -> Transition:
    """GO/CONDITIONAL_GO advance (or complete after the last gate), RECYCLE stays and counts, HOLD parks, KILL ends."""
    gate = template.gate_after(project.stage_id)
    if gate is None or gate.id != gate_id:
        raise ConflictError(
            f"project {project.key} is in stage {project.stage_id!r}, which gate {gate_id!r} does not close",
            code="lifecycle.wrong_gate",
        )
    if project.status is not ProjectStatus.ACTIVE:
        raise ConflictError(
            f"project {project.key} is {project.status.value}; only active projects pass gates",
            code="lifecycle.not_active",
        )
    if decision in (Decision.GO, Decision.CONDITIONAL_GO):
        following = template.next_stage(project.stage_id)
        if following is None:
            return Transition(status=ProjectStatus.COMPLETED, stage_id=project.stage_id, recycle_count=0)
        return Transition(status=ProjectStatus.ACTIVE, stage_id=following.id, recycle_count=0)
    if decision is Decision.RECYCLE:
        return Transition(
            status=ProjectStatus.ACTIVE, stage_id=project.stage_id, recycle_count=project.recycle_count + 1
        )
    if decision is Decision.HOLD:
        return Transition(status=ProjectStatus.ON_HOLD, stage_id=project.stage_id, recycle_count=project.recycle_count)
    return Transition(status=ProjectStatus.KILLED, stage_id=project.stage_id, recycle_count=project.recycle_count)

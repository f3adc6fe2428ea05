"""The ``resources.committed`` gate criterion: the next stage's demand fits the capacity that is left.

A GO commits resources for the next stage (DOMAIN.md), so a gate should not say GO to a stage nobody can
staff. The criterion reads ``GateEvidence.resources`` (collected only for gates that name a ``resources.``
criterion): per role and month of the next stage, its demand, the role's capacity and what other active
projects have already committed. A shortfall fails the criterion and names the role and month; the gate's
recommendation is then HOLD (``gates.evaluation``): the project may well deserve to go on, but not now.

No demand planned for the next stage is missing evidence (NOT_READY), never a pass: an unplanned stage has not
shown that it fits. The last gate has no next stage to staff, so it passes.
"""

from __future__ import annotations

from typing import Any

from phasegate.gates.capacity import shortfall_text, shortfall_text_zh, shortfalls
from phasegate.gates.vocabulary.evidence import GateEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef, GateDef, LifecycleTemplate

CODE = "resources.committed"


def param_problems(definition: CriterionDef) -> list[str]:
    return [f"param {name!r} is not used by {definition.code}" for name in definition.params]


def reference(evidence: GateEvidence) -> str:
    found = evidence.resources
    if found is None or found.next_stage is None:
        return "resource plan (no next stage)"
    return f"resource plan of stage {found.next_stage} ({len(found.lines)} role-months)"


def committed(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Every role and month of the next stage's demand fits the role's capacity minus what is committed."""
    found = evidence.resources

    def result(**fields: Any) -> CriterionResult:
        return CriterionResult(
            code=definition.code,
            kind=definition.kind,
            remediable=definition.remediable,
            evidence_ref=reference(evidence),
            **fields,
        )

    if found is None or found.next_stage is None:
        return result(
            passed=True,
            message="no next stage to staff after this gate",
            message_zh="此阶段门之后没有需要配置人员的阶段",
        )
    if not found.lines:
        return result(
            passed=False,
            evidence_missing=True,
            message=f"no resource demand is planned for stage {found.next_stage}",
            message_zh=f"阶段 {found.next_stage} 尚未规划资源需求",
            remediation=(
                f"import the demand of stage {found.next_stage} per role and month "
                "(phasegate resources demand import FILE)"
            ),
            remediation_zh=(
                f"按角色和月份导入阶段 {found.next_stage} 的资源需求（phasegate resources demand import FILE）"
            ),
        )
    short = shortfalls(found.lines)
    total = sum(line.demand for line in found.lines)
    measured = f"{len(found.lines) - len(short)}/{len(found.lines)} role-months fit"
    if not short:
        return result(
            passed=True,
            measured=measured,
            threshold="demand <= capacity - committed",
            message=f"stage {found.next_stage} needs {total} h; every role and month fits the capacity left",
            message_zh=f"阶段 {found.next_stage} 需求 {total} 小时；每个角色每个月都在剩余产能之内",
        )
    worst = short[0]
    return result(
        passed=False,
        measured=measured,
        threshold="demand <= capacity - committed",
        message="over-allocated: " + "; ".join(shortfall_text(line) for line in short),
        message_zh="资源超额分配：" + "；".join(shortfall_text_zh(line) for line in short),
        remediation=(
            f"{worst.role} is over-allocated in {worst.month}: hold this project until {worst.role} capacity frees "
            f"up, move the work to another month, or add {worst.shortfall} h of {worst.role} capacity "
            "(phasegate resources allocation --role " + worst.role + ")"
        ),
        remediation_zh=(
            f"{worst.role} 在 {worst.month} 超额分配：暂缓本项目直到 {worst.role} 产能释放、将工作移到其他月份，"
            f"或增加 {worst.shortfall} 小时 {worst.role} 产能（phasegate resources allocation --role {worst.role}）"
        ),
    )


RESOURCE_CRITERIA = {CODE: committed}

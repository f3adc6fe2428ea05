"""Evaluate a gate: run its criteria over frozen evidence and recommend, safety first.

Precedence (DOMAIN.md): KILL > RECYCLE > NOT_READY > CONDITIONAL_GO > GO. A recommendation is advice;
only gatekeepers decide, and nothing becomes GO by default.
"""

from __future__ import annotations

from collections.abc import Mapping

from gates.criteria import Criterion, deliverable_statuses
from gates.registry import default_registry
from models.canonical import sha256_hex
from models.enums import CriterionKind, Recommendation
from models.evidence import GateEvidence
from models.snapshots import CriterionResult, Evaluation
from models.template import CriterionDef, GateDef, LifecycleTemplate


def evidence_hash(evidence: GateEvidence) -> str:
    return sha256_hex(evidence.model_dump(mode="json"))


def recommend(results: tuple[CriterionResult, ...]) -> tuple[Recommendation, tuple[str, ...]]:
    failed = [r for r in results if not r.passed]
    must = [r for r in failed if r.kind is CriterionKind.MUST_MEET]
    fatal = [r for r in must if not r.remediable and not r.evidence_missing]
    if fatal:
        return Recommendation.KILL, tuple(f"{r.code}: {r.message}" for r in fatal)
    fixable = [r for r in must if not r.evidence_missing]
    if fixable:
        return Recommendation.RECYCLE, tuple(f"{r.code}: {r.message}" for r in fixable)
    missing = [r for r in failed if r.evidence_missing]
    if missing:
        return Recommendation.NOT_READY, tuple(f"{r.code}: {r.message}" for r in missing)
    if failed:
        return Recommendation.CONDITIONAL_GO, tuple(f"{r.code}: {r.message}" for r in failed)
    return Recommendation.GO, ()


def _with_reference(result: CriterionResult, gate: GateDef, evidence: GateEvidence) -> CriterionResult:
    """Point each result at the evidence it judged, so the trace says what was looked at, not only the verdict."""
    if result.evidence_ref:
        return result
    family = result.code.split(".", 1)[0]
    if family == "doc":
        docs = [d for d in evidence.documents if d.deliverable_id in gate.deliverables]
        ref = ", ".join(f"{d.deliverable_id}@v{d.version}#{d.sha256[:12]}" for d in docs) or "no documents"
    elif family == "budget":
        ref = f"evm@{evidence.evm.as_of.isoformat()}" if evidence.evm else f"cost ledger {evidence.actual_cost}"
    elif family == "risk":
        ref = f"risk register ({len(evidence.risks)} entries)"
    elif family == "schedule":
        ref = f"milestones ({len(evidence.milestones)})"
    elif family == "scorecard":
        ref = f"scores at {gate.id} ({len(evidence.scores)})"
    else:
        ref = f"evidence of {evidence.project_key}"
    return result.model_copy(update={"evidence_ref": ref})


def _judge(
    registry: Mapping[str, Criterion],
    definition: CriterionDef,
    gate: GateDef,
    template: LifecycleTemplate,
    evidence: GateEvidence,
) -> CriterionResult:
    """A criterion the template names but this installation lacks (a removed plug-in) cannot pass."""
    criterion = registry.get(definition.code)
    if criterion is not None:
        return criterion(definition, gate, template, evidence)
    return CriterionResult(
        code=definition.code,
        kind=definition.kind,
        remediable=definition.remediable,
        passed=False,
        evidence_missing=True,
        message=f"criterion {definition.code} is not installed here, so it cannot be judged",
        message_zh=f"本系统未安装评审标准 {definition.code}，无法评估",
        remediation="install the plug-in that provides it, or publish a template version without it",
        remediation_zh="安装提供该标准的插件，或发布不含该标准的模板新版本",
    )


def evaluate_gate(
    template: LifecycleTemplate,
    gate: GateDef,
    evidence: GateEvidence,
    registry: Mapping[str, Criterion] | None = None,
) -> Evaluation:
    registry = registry if registry is not None else default_registry()
    results = tuple(
        _with_reference(_judge(registry, c, gate, template, evidence), gate, evidence) for c in gate.criteria
    )
    recommendation, reasons = recommend(results)
    return Evaluation(
        project_key=evidence.project_key,
        gate_id=gate.id,
        recommendation=recommendation,
        reasons=reasons,
        criteria=results,
        required_deliverables=deliverable_statuses(gate, evidence),
        evidence_hash=evidence_hash(evidence),
    )

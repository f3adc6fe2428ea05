"""Evaluate a gate: run its criteria over frozen evidence and recommend, safety first.

Precedence (DOMAIN.md): KILL > RECYCLE > NOT_READY > CONDITIONAL_GO > GO. A recommendation is advice;
only gatekeepers decide, and nothing becomes GO by default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from phasegate.gates.criteria import Criterion, deliverable_statuses, evidence_reference
from phasegate.gates.fingerprint import canonical_model_json
from phasegate.gates.registry import default_registry
from phasegate.gates.vocabulary.enums import CriterionKind, Recommendation
from phasegate.gates.vocabulary.evidence import GateEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult, Evaluation
from phasegate.gates.vocabulary.template import CriterionDef, GateDef, LifecycleTemplate


def evidence_hash(evidence: GateEvidence) -> str:
    """sha256 of the evidence's canonical JSON (``gates.vocabulary.canonical``), the same bytes as ever."""
    return hashlib.sha256(canonical_model_json(evidence)).hexdigest()


HOLD_FAMILIES = frozenset({"resources"})
"""Criteria whose must-meet failure means "not now" rather than "redo": a project that cannot be staffed yet
is parked (HOLD) until capacity frees up, not sent back to redo work that was sound (DOMAIN.md)."""


def recommend(results: tuple[CriterionResult, ...]) -> tuple[Recommendation, tuple[str, ...]]:
    """KILL > RECYCLE > NOT_READY > HOLD > CONDITIONAL_GO > GO: safety first, and a capacity shortfall only
    decides when nothing the team could fix is wrong."""
    failed: list[CriterionResult] = []
    waiting: list[CriterionResult] = []  # must-meet, failed for lack of capacity
    fatal: list[CriterionResult] = []  # must-meet, failed outright, not remediable
    fixable: list[CriterionResult] = []  # must-meet, failed outright
    missing: list[CriterionResult] = []  # lacking evidence, must-meet or not
    for r in results:
        if r.passed:
            continue
        failed.append(r)
        if r.evidence_missing:
            missing.append(r)
        elif r.kind is CriterionKind.MUST_MEET and r.code.split(".", 1)[0] in HOLD_FAMILIES:
            waiting.append(r)
        elif r.kind is CriterionKind.MUST_MEET:
            fixable.append(r)
            if not r.remediable:
                fatal.append(r)
    if fatal:
        return Recommendation.KILL, tuple(f"{r.code}: {r.message}" for r in fatal)
    if fixable:
        return Recommendation.RECYCLE, tuple(f"{r.code}: {r.message}" for r in fixable)
    if missing:
        return Recommendation.NOT_READY, tuple(f"{r.code}: {r.message}" for r in missing)
    if waiting:
        return Recommendation.HOLD, tuple(f"{r.code}: {r.message}" for r in waiting)
    if failed:
        return Recommendation.CONDITIONAL_GO, tuple(f"{r.code}: {r.message}" for r in failed)
    return Recommendation.GO, ()


def _with_reference(result: CriterionResult, gate: GateDef, evidence: GateEvidence) -> CriterionResult:
    """Point a result at the evidence it judged. Built-in criteria do as they build it; a plug-in's is copied."""
    family = result.code.split(".", 1)[0]
    return result.model_copy(update={"evidence_ref": evidence_reference(family, gate, evidence)})


def _not_installed(definition: CriterionDef, gate: GateDef, evidence: GateEvidence) -> CriterionResult:
    """A criterion the template names but this installation lacks (a removed plug-in) cannot pass."""
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
        evidence_ref=evidence_reference(definition.code.split(".", 1)[0], gate, evidence),
    )


def evaluate_gate(
    template: LifecycleTemplate,
    gate: GateDef,
    evidence: GateEvidence,
    registry: Mapping[str, Criterion] | None = None,
) -> Evaluation:
    registry = registry if registry is not None else default_registry()
    judged = []
    for definition in gate.criteria:
        criterion = registry.get(definition.code)
        result = (
            _not_installed(definition, gate, evidence)
            if criterion is None
            else criterion(definition, gate, template, evidence)
        )
        judged.append(result if result.evidence_ref else _with_reference(result, gate, evidence))
    results = tuple(judged)
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

"""Evaluate a gate: run its criteria over frozen evidence and recommend, safety first.

Precedence (DOMAIN.md): KILL > RECYCLE > NOT_READY > CONDITIONAL_GO > GO. A recommendation is advice;
only gatekeepers decide, and nothing becomes GO by default.
"""

from __future__ import annotations

from collections.abc import Mapping

from gates.criteria import REGISTRY, Criterion, deliverable_statuses
from models.canonical import sha256_hex
from models.enums import CriterionKind, Recommendation
from models.evidence import GateEvidence
from models.snapshots import CriterionResult, Evaluation
from models.template import GateDef, LifecycleTemplate


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


def evaluate_gate(
    template: LifecycleTemplate,
    gate: GateDef,
    evidence: GateEvidence,
    registry: Mapping[str, Criterion] = REGISTRY,
) -> Evaluation:
    results = tuple(registry[c.code](c, gate, template, evidence) for c in gate.criteria)
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

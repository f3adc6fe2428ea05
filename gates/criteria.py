"""Gate criteria: small pure functions keyed by stable dotted codes, registered in one table.

A criterion reads the frozen evidence and returns a result with what it measured, the threshold, and a
remediation in English and Chinese. A failing criterion is a result, never an exception.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar, cast

from phasegate.gates.vocabulary.enums import DocumentStatus
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import GateEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult, DeliverableStatus
from phasegate.gates.vocabulary.template import CriterionDef, GateDef, LifecycleTemplate

Criterion = Callable[[CriterionDef, GateDef, LifecycleTemplate, GateEvidence], CriterionResult]

_F = TypeVar("_F", bound=Callable[..., Any])
_D = TypeVar("_D")
_V = TypeVar("_V")


def per_template(derive: Callable[[_D], _V]) -> Callable[[_D], _V]:
    """Keep what ``derive`` makes of one template object (a criterion's definition, a gate) while it lives.

    A template version is immutable and loaded once per process, yet every gate review reads the same
    definitions again: their params are checked and parsed once here. Objects are told apart by identity,
    since templates hold dicts and do not hash, and an entry goes when its object does. An exception is not
    kept: a bad param is raised at every review, as before.
    """
    kept: dict[int, tuple[weakref.ref[Any], _V]] = {}

    @wraps(derive)
    def derived(definition: _D) -> _V:
        key = id(definition)
        entry = kept.get(key)
        if entry is not None and entry[0]() is definition:
            return entry[1]
        value = derive(definition)
        kept[key] = (weakref.ref(definition, lambda _gone: kept.pop(key, None)), value)
        return value

    return derived


def params_check(param_problems: Callable[[CriterionDef], list[str]]) -> Callable[[CriterionDef], None]:
    """A criteria module's check of a definition's params, from its ``param_problems``.

    Bad params are a template error: a typo silently replaced by a default would change the gate unnoticed,
    so every problem is raised at every review, in one InputError. The check runs once per definition object.
    """

    @per_template
    def problems(definition: CriterionDef) -> tuple[str, ...]:
        return tuple(param_problems(definition))

    def check(definition: CriterionDef) -> None:
        found = problems(definition)
        if found:
            raise InputError("; ".join(found))

    return check


def per_evaluation(derive: _F) -> _F:
    """Keep the last value ``derive`` returned while it is called with the very same objects.

    A gate's criteria run one after another on the same frozen template, gate and evidence, and several of
    them derive the same thing from those (the deliverables with their documents, the budget figures): this
    derives it once per evaluation. Arguments are compared by identity, never by value (evidence is large and
    templates hold dicts, so neither hashes); the kept call holds its arguments, so their ids cannot be reused.
    """
    last: list[tuple[tuple[int, ...], tuple[Any, ...], Any] | None] = [None]

    @wraps(derive)
    def derived(*args: Any) -> Any:
        ids = tuple(map(id, args))
        kept = last[0]  # read once: another thread may replace it meanwhile
        if kept is not None and kept[0] == ids:
            return kept[2]
        value = derive(*args)
        last[0] = (ids, args, value)
        return value

    return cast(_F, derived)


def evidence_reference(family: str, gate: GateDef, evidence: GateEvidence) -> str:
    """The evidence a criterion of ``family`` (its code's first part) judged, for the trace: what was looked at,
    not only the verdict. Built-in criteria put it in their results as they build them; ``gates.evaluation``
    fills it in for results that come without one (plug-ins)."""
    if family == "doc":
        wanted = gate.deliverables
        refs = [
            f"{d.deliverable_id}@v{d.version}#{d.sha256[:12]}" for d in evidence.documents if d.deliverable_id in wanted
        ]
        return ", ".join(refs) or "no documents"
    if family == "budget":
        return f"evm@{evidence.evm.as_of.isoformat()}" if evidence.evm else f"cost ledger {evidence.actual_cost}"
    if family == "risk":
        return f"risk register ({len(evidence.risks)} entries)"
    if family == "schedule":
        return f"milestones ({len(evidence.milestones)})"
    if family == "scorecard":
        return f"scores at {gate.id} ({len(evidence.scores)})"
    if family == "resources":
        found = evidence.resources
        return f"resource plan of stage {found.next_stage}" if found and found.next_stage else "resource plan"
    return f"evidence of {evidence.project_key}"


def deliverable_statuses(gate: GateDef, evidence: GateEvidence) -> tuple[DeliverableStatus, ...]:
    latest = {doc.deliverable_id: doc for doc in evidence.documents}
    statuses = []
    for deliverable_id in gate.deliverables:
        doc = latest.get(deliverable_id)
        statuses.append(
            DeliverableStatus(
                id=deliverable_id,
                present=doc is not None,
                approved=doc is not None and doc.status is DocumentStatus.APPROVED,
                version=doc.version if doc else None,
                sha256=doc.sha256 if doc else None,
            )
        )
    return tuple(statuses)


def required_approved(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Every deliverable the gate requires is registered and approved. A gap is missing evidence."""
    statuses = deliverable_statuses(gate, evidence)
    missing = [s.id for s in statuses if not s.present]
    unapproved = [s.id for s in statuses if s.present and not s.approved]
    total = len(statuses)
    ready = total - len(missing) - len(unapproved)
    passed = not missing and not unapproved
    if passed:
        message = f"all {total} required deliverables are registered and approved"
        message_zh = f"全部 {total} 项必需交付物均已登记并批准"
        remediation = remediation_zh = ""
    else:
        parts, parts_zh = [], []
        if missing:
            parts.append("missing: " + ", ".join(missing))
            parts_zh.append("缺失：" + "、".join(missing))
        if unapproved:
            parts.append("not approved: " + ", ".join(unapproved))
            parts_zh.append("未批准：" + "、".join(unapproved))
        message = "; ".join(parts)
        message_zh = "；".join(parts_zh)
        remediation = (
            "register each missing deliverable and have it approved "
            "(phasegate doc add KEY DELIVERABLE FILE --approved-by PERSON)"
        )
        remediation_zh = "登记缺失的交付物并取得批准（phasegate doc add KEY DELIVERABLE FILE --approved-by PERSON）"
    return CriterionResult(
        code=definition.code,
        kind=definition.kind,
        remediable=definition.remediable,
        passed=passed,
        evidence_missing=not passed,
        measured=f"{ready}/{total}",
        threshold=f"{total}/{total}",
        message=message,
        message_zh=message_zh,
        remediation=remediation,
        remediation_zh=remediation_zh,
        evidence_ref=evidence_reference("doc", gate, evidence),
    )


def actuals_within_budget(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Actual cost recorded so far does not exceed the approved budget."""
    spent, budget, currency = evidence.actual_cost, evidence.budget, evidence.currency
    passed = spent <= budget
    share = f" ({(spent / budget * 100).quantize(Decimal('0.1'))}%)" if budget > 0 else ""
    if passed:
        message = f"actual cost {spent} {currency} is within the approved budget {budget} {currency}{share}"
        message_zh = f"实际成本 {spent} {currency} 未超出批准预算 {budget} {currency}{share}"
        remediation = remediation_zh = ""
    else:
        over = spent - budget
        message = f"actual cost {spent} {currency} exceeds the approved budget {budget} {currency} by {over}{share}"
        message_zh = f"实际成本 {spent} {currency} 超出批准预算 {budget} {currency}，超支 {over}{share}"
        remediation = "re-plan the stage within budget or request a budget change from the sponsor"
        remediation_zh = "在预算内重新规划本阶段，或向发起人申请预算变更"
    return CriterionResult(
        code=definition.code,
        kind=definition.kind,
        remediable=definition.remediable,
        passed=passed,
        measured=f"{spent}",
        threshold=f"<= {budget}",
        message=message,
        message_zh=message_zh,
        remediation=remediation,
        remediation_zh=remediation_zh,
        evidence_ref=evidence_reference("budget", gate, evidence),
    )


REGISTRY: dict[str, Criterion] = {
    "doc.required_approved": required_approved,
    "budget.actuals_within_budget": actuals_within_budget,
}

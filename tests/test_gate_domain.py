"""Unit tests of the pure gate domain: the two slice criteria, the recommendation, the lifecycle moves."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasegate.gates.criteria import actuals_within_budget, required_approved
from phasegate.gates.evaluation import evaluate_gate, evidence_hash, recommend
from phasegate.gates.lifecycle import apply_decision
from phasegate.gates.vocabulary.enums import CriterionKind, Decision, DocumentStatus, ProjectStatus, Recommendation
from phasegate.gates.vocabulary.errors import ConflictError
from phasegate.gates.vocabulary.evidence import DocumentEvidence, GateEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult, ProjectSnapshot
from phasegate.gates.vocabulary.template import CriterionDef, LifecycleTemplate
from phasegate.models.template_yaml import shipped_templates

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)


def _template(template_id: str) -> LifecycleTemplate:
    return next(t for _, t in shipped_templates() if t.id == template_id)


IT_PMO = _template("it-pmo")
FIRST_GATE = IT_PMO.gates[0]
DOCS = CriterionDef(code="doc.required_approved")
BUDGET = CriterionDef(code="budget.actuals_within_budget")


def _doc(
    deliverable_id: str, status: DocumentStatus = DocumentStatus.APPROVED, digest: str = "a" * 64
) -> DocumentEvidence:
    approved = status is DocumentStatus.APPROVED
    return DocumentEvidence(
        deliverable_id=deliverable_id,
        version=1,
        sha256=digest,
        size=10,
        path=f"/d/{deliverable_id}.md",
        status=status,
        approved_by="carol" if approved else None,
        format="md",
        headings=IT_PMO.deliverable(deliverable_id).required_sections,
        current_sha256=digest,
        registered_at=datetime(2026, 11, 1, tzinfo=UTC),
        approved_at=datetime(2026, 11, 1, tzinfo=UTC) if approved else None,
    )


ROLES = {"sponsor": ("carol",), "manager": ("bob",), "pmo": ("carol",)}


def _evidence(documents: tuple[DocumentEvidence, ...] = (), budget: str = "1000", spent: str = "0") -> GateEvidence:
    return GateEvidence(
        project_key="P1",
        template="it-pmo@1#x",
        gate_id=FIRST_GATE.id,
        stage_id=FIRST_GATE.after,
        as_of=date(2026, 11, 2),
        budget=Decimal(budget),
        currency="USD",
        actual_cost=Decimal(spent),
        documents=documents,
        roles=ROLES,
    )


ALL_DOCS = tuple(_doc(d) for d in FIRST_GATE.deliverables)


def test_required_approved_passes_when_every_deliverable_is_approved() -> None:
    result = required_approved(DOCS, FIRST_GATE, IT_PMO, _evidence(ALL_DOCS))
    assert result.passed and not result.evidence_missing
    total = len(FIRST_GATE.deliverables)
    assert result.measured == f"{total}/{total}"


def test_required_approved_names_missing_and_unapproved_deliverables() -> None:
    missing, unapproved, *rest = FIRST_GATE.deliverables
    documents = (_doc(unapproved, DocumentStatus.REGISTERED), *(_doc(d) for d in rest))
    result = required_approved(DOCS, FIRST_GATE, IT_PMO, _evidence(documents))
    assert not result.passed and result.evidence_missing
    assert f"missing: {missing}" in result.message
    assert f"not approved: {unapproved}" in result.message
    assert missing in result.message_zh and result.remediation and result.remediation_zh
    assert result.measured == f"{len(rest)}/{len(FIRST_GATE.deliverables)}"


@pytest.mark.parametrize(
    ("budget", "spent", "passed"),
    [
        ("1000", "0", True),
        ("1000", "999.99", True),
        ("1000", "1000", True),
        ("1000", "1000.01", False),
        ("0", "0", True),
        ("0", "0.01", False),
    ],
)
def test_actuals_within_budget_boundaries(budget: str, spent: str, passed: bool) -> None:
    result = actuals_within_budget(BUDGET, FIRST_GATE, IT_PMO, _evidence(budget=budget, spent=spent))
    assert result.passed is passed
    assert result.measured == spent and result.threshold == f"<= {budget}"
    assert ("exceeds" in result.message) is (not passed)


def _result(kind: CriterionKind, passed: bool, *, remediable: bool = True, missing: bool = False) -> CriterionResult:
    return CriterionResult(
        code="x.y",
        kind=kind,
        remediable=remediable,
        passed=passed,
        evidence_missing=missing,
        message="m",
        message_zh="m",
    )


MUST, SHOULD = CriterionKind.MUST_MEET, CriterionKind.SHOULD_MEET


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ((), Recommendation.GO),
        ((_result(MUST, True), _result(SHOULD, True)), Recommendation.GO),
        ((_result(SHOULD, False),), Recommendation.CONDITIONAL_GO),
        ((_result(MUST, False, missing=True), _result(SHOULD, False)), Recommendation.NOT_READY),
        ((_result(MUST, False), _result(MUST, False, missing=True)), Recommendation.RECYCLE),
        ((_result(MUST, False, remediable=False), _result(MUST, False)), Recommendation.KILL),
    ],
)
def test_recommendation_precedence(results: tuple[CriterionResult, ...], expected: Recommendation) -> None:
    assert recommend(results)[0] is expected


@given(
    st.lists(st.tuples(st.sampled_from(list(CriterionKind)), st.booleans(), st.booleans(), st.booleans()), max_size=8)
)
def test_never_go_while_a_must_meet_fails(flags: list[tuple[CriterionKind, bool, bool, bool]]) -> None:
    results = tuple(
        _result(kind, passed, remediable=remediable, missing=missing and not passed)
        for kind, passed, remediable, missing in flags
    )
    recommendation, reasons = recommend(results)
    if any(r.kind is MUST and not r.passed for r in results):
        assert recommendation not in (Recommendation.GO, Recommendation.CONDITIONAL_GO)
    if all(r.passed for r in results):
        assert recommendation is Recommendation.GO and reasons == ()


def test_evaluation_of_a_ready_gate_and_its_evidence_hash() -> None:
    evidence = _evidence(ALL_DOCS, spent="10")
    evaluation = evaluate_gate(IT_PMO, FIRST_GATE, evidence)
    assert evaluation.recommendation is Recommendation.GO
    assert [d.approved for d in evaluation.required_deliverables] == [True] * len(FIRST_GATE.deliverables)
    assert evaluation.evidence_hash == evidence_hash(_evidence(ALL_DOCS, spent="10"))
    changed = (_doc(FIRST_GATE.deliverables[0], digest="b" * 64), *ALL_DOCS[1:])
    assert evaluate_gate(IT_PMO, FIRST_GATE, _evidence(changed, spent="10")).evidence_hash != evaluation.evidence_hash


def test_overspent_gate_recommends_recycle_and_missing_documents_not_ready() -> None:
    assert (
        evaluate_gate(IT_PMO, FIRST_GATE, _evidence(ALL_DOCS, spent="1000.01")).recommendation is Recommendation.RECYCLE
    )
    assert evaluate_gate(IT_PMO, FIRST_GATE, _evidence(ALL_DOCS[1:])).recommendation is Recommendation.NOT_READY


def _project(stage: str, status: ProjectStatus = ProjectStatus.ACTIVE, recycles: int = 0) -> ProjectSnapshot:
    return ProjectSnapshot(
        key="P1",
        name="P",
        template_id="it-pmo",
        template_version=1,
        template_hash="h",
        sponsor_id="alice",
        manager_id="bob",
        budget=Decimal(1),
        currency="USD",
        status=status,
        stage_id=stage,
        recycle_count=recycles,
    )


@pytest.mark.parametrize(
    ("decision", "status", "stage", "recycles"),
    [
        (Decision.GO, ProjectStatus.ACTIVE, "planning", 0),
        (Decision.CONDITIONAL_GO, ProjectStatus.ACTIVE, "planning", 0),
        (Decision.RECYCLE, ProjectStatus.ACTIVE, "initiating", 2),
        (Decision.HOLD, ProjectStatus.ON_HOLD, "initiating", 1),
        (Decision.KILL, ProjectStatus.KILLED, "initiating", 1),
    ],
)
def test_decisions_move_the_lifecycle(decision: Decision, status: ProjectStatus, stage: str, recycles: int) -> None:
    move = apply_decision(IT_PMO, _project("initiating", recycles=1), "ready-for-planning", decision)
    assert (move.status, move.stage_id, move.recycle_count) == (status, stage, recycles)


def test_go_at_the_last_gate_completes_the_project() -> None:
    last = IT_PMO.gates[-1]
    move = apply_decision(IT_PMO, _project(last.after), last.id, Decision.GO)
    assert move.status is ProjectStatus.COMPLETED


def test_a_decision_for_another_gate_or_an_inactive_project_is_refused() -> None:
    with pytest.raises(ConflictError, match="does not close"):
        apply_decision(IT_PMO, _project("planning"), "ready-for-planning", Decision.GO)
    with pytest.raises(ConflictError, match="on_hold"):
        apply_decision(IT_PMO, _project("initiating", ProjectStatus.ON_HOLD), "ready-for-planning", Decision.GO)

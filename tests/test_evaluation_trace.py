"""What the speed work on gate evaluation must not change: every result points at the evidence it judged,
plug-in results are completed (not trusted to have done it), and values kept per template or per evaluation
never leak from one template object or one evidence to another."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from phasegate.gates.criteria import evidence_reference
from phasegate.gates.evaluation import evaluate_gate
from phasegate.gates.registry import CriterionSpec, KnownCriteria, default_registry, with_plugins
from phasegate.gates.vocabulary.enums import DocumentStatus
from phasegate.gates.vocabulary.evidence import (
    DocumentEvidence,
    EvmSnapshot,
    GateEvidence,
    MilestoneEvidence,
    RiskEvidence,
    ScoreEvidence,
)
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef, GateDef, LifecycleTemplate
from phasegate.models.template_yaml import shipped_templates

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

AS_OF = date(2026, 11, 2)
RICHEST = {"it-pmo": "ready-for-closing", "cooper-5": "go-to-development"}
"""The gate of each shipped lifecycle that runs the most criteria (documents, money, risks, schedule, scores)."""


def _project(index: int, rng: random.Random) -> tuple[LifecycleTemplate, GateDef, GateEvidence]:
    template = next(t for _, t in shipped_templates() if t.id == ("it-pmo", "cooper-5")[index % 2])
    gate = template.gate(RICHEST[template.id])
    assert gate is not None
    documents = tuple(
        DocumentEvidence(
            deliverable_id=d,
            version=rng.randint(1, 4),
            sha256=f"{index:04d}{d}".ljust(64, "0")[:64],
            size=100,
            path=f"/p/{index}/{d}.docx",
            status=DocumentStatus.APPROVED,
            approved_by="sponsor-1",
            format="docx",
            headings=template.deliverable(d).required_sections[: 3 + rng.randint(0, 9)],
            current_sha256=f"{index:04d}{d}".ljust(64, "0")[:64] if rng.random() > 0.2 else None,
            approver_roles=("sponsor",),
            registered_at=datetime(2026, 10, 1, tzinfo=UTC),
        )
        for d in gate.deliverables
        if rng.random() > 0.1
    )
    bac = Decimal(rng.randint(100, 5000) * 1000)
    ev = (bac * Decimal(rng.uniform(0.2, 0.9))).quantize(Decimal("0.01"))
    evidence = GateEvidence(
        project_key=f"P{index}",
        template=f"{template.id}@{template.version}",
        gate_id=gate.id,
        stage_id=gate.after,
        as_of=AS_OF,
        budget=bac,
        currency="USD",
        actual_cost=ev,
        documents=documents,
        roles={"sponsor": ("sponsor-1",), "manager": ("manager-1",)},
        evm=EvmSnapshot(
            as_of=AS_OF, bac=bac, pv=ev, ev=ev, ac=(ev * Decimal(rng.uniform(0.8, 1.3))).quantize(Decimal("0.01"))
        ),
        stage_budget=bac / 2,
        stage_spend=ev / 3,
        risks=tuple(
            RiskEvidence(id=f"R{n}", title="t", owner="o", probability=rng.randint(1, 5), impact=rng.randint(1, 5))
            for n in range(rng.randint(0, 6))
        ),
        milestones=(MilestoneEvidence(id="M1", name="m", due=AS_OF - timedelta(days=rng.randint(0, 9))),),
        scores=tuple(
            ScoreEvidence(gatekeeper=f"gk-{g}", factor=f.id, score=rng.randint(2, 10))
            for g in range(rng.randint(0, 3))
            for f in (gate.scorecard.factors if gate.scorecard else ())
        ),
    )
    return template, gate, evidence


def _portfolio(n: int) -> list[tuple[LifecycleTemplate, GateDef, GateEvidence]]:
    rng = random.Random(7)
    return [_project(i, rng) for i in range(n)]


def test_every_built_in_result_names_the_evidence_it_judged() -> None:
    registry = default_registry()
    for template, gate, evidence in _portfolio(20):
        for variant in (evidence, evidence.model_copy(update={"evm": None, "documents": ()})):
            for result in evaluate_gate(template, gate, variant, registry).criteria:
                family = result.code.split(".", 1)[0]
                assert result.evidence_ref == evidence_reference(family, gate, variant), result.code


def test_a_plugin_result_without_a_reference_gets_one_and_a_missing_criterion_cannot_pass() -> None:
    template, gate, evidence = _portfolio(1)[0]

    def plugin(definition: CriterionDef, *_: object) -> CriterionResult:
        return CriterionResult(
            code=definition.code, kind=definition.kind, remediable=True, passed=True, message="ok", message_zh="好"
        )

    extra = (CriterionDef(code="acme.check"), CriterionDef(code="doc.plugin_check"), CriterionDef(code="acme.gone"))
    widened = gate.model_copy(update={"criteria": (*gate.criteria, *extra)})
    registry = default_registry() | {"acme.check": plugin, "doc.plugin_check": plugin}
    by_code = {r.code: r for r in evaluate_gate(template, widened, evidence, registry).criteria}
    assert by_code["acme.check"].evidence_ref == f"evidence of {evidence.project_key}"
    assert by_code["doc.plugin_check"].evidence_ref == evidence_reference("doc", widened, evidence)
    gone = by_code["acme.gone"]
    assert not gone.passed and gone.evidence_missing and gone.evidence_ref == f"evidence of {evidence.project_key}"


def test_plugins_are_looked_up_only_when_a_gate_names_a_code_the_builtins_lack() -> None:
    """``KnownCriteria``: a gate of built-in criteria never pays for the entry-point scan (bench/cli_latency.py);
    one naming a plug-in, or an unknown code, looks the plug-ins up, and its results are the same as with the
    whole table at once."""
    template, gate, evidence = _portfolio(1)[0]

    def plugin(definition: CriterionDef, *_: object) -> CriterionResult:
        return CriterionResult(
            code=definition.code, kind=definition.kind, remediable=True, passed=False, message="no", message_zh="否"
        )

    lookups: list[int] = []

    def specs() -> dict[str, CriterionSpec]:
        lookups.append(1)
        return with_plugins({"acme.check": plugin})

    known = KnownCriteria(specs)
    builtin_only = evaluate_gate(template, gate, evidence, known)
    assert lookups == []
    assert builtin_only == evaluate_gate(template, gate, evidence, default_registry())
    widened = gate.model_copy(update={"criteria": (*gate.criteria, CriterionDef(code="acme.check"))})
    assert evaluate_gate(template, widened, evidence, known) == evaluate_gate(
        template, widened, evidence, {code: spec.evaluate for code, spec in specs().items()}
    )
    assert lookups and known.get("acme.gone") is None
    assert set(known) == set(default_registry()) | {"acme.check"}


def test_params_are_read_from_each_definition_object() -> None:
    template, gate, evidence = next(p for p in _portfolio(4) if p[0].id == "it-pmo")
    cpi = next(c for c in gate.criteria if c.code == "budget.cpi_floor")
    registry = default_registry()
    strict, lenient = (cpi.model_copy(update={"params": {"min": floor}}) for floor in (5, 0))
    for definition, passed in ((strict, False), (lenient, True), (strict, False)):
        result = registry[cpi.code](definition, gate, template, evidence)
        assert result.passed is passed and result.threshold == f">= {definition.params['min']}"


def test_one_evaluation_never_sees_the_evidence_of_another() -> None:
    registry = default_registry()
    portfolio = _portfolio(12)
    together = [evaluate_gate(t, g, e, registry) for t, g, e in portfolio]
    for (template, gate, evidence), evaluation in zip(portfolio, together, strict=True):
        fresh = evidence.model_copy(update={"budget": evidence.budget + Decimal(0)})  # equal, but another object
        assert evaluate_gate(template, gate, fresh, registry) == evaluation

"""Every criterion the engine knows, by code, with the check of its template parameters.

Criteria come from small modules named after what they judge (documents, budget, risk, schedule,
scorecard) plus organisation plug-ins; this module puts them in one table so a template naming an unknown
criterion, or giving it a bad parameter, is refused when it is validated rather than at a gate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from phasegate.gates import budget, criteria, documentation, risk, schedule, scorecard, staffing
from phasegate.gates.budget import BudgetEvidence
from phasegate.gates.criteria import Criterion, evidence_reference, per_evaluation
from phasegate.gates.vocabulary.evidence import GateEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef, GateDef, LifecycleTemplate, Location

ParamCheck = Callable[[CriterionDef], list[str]]


@dataclass(frozen=True)
class CriterionSpec:
    evaluate: Criterion
    param_problems: ParamCheck


def _no_params(definition: CriterionDef) -> list[str]:
    return [f"param {name!r} is not used by {definition.code}" for name in definition.params]


@per_evaluation
def _budget_evidence(gate: GateDef, evidence: GateEvidence) -> BudgetEvidence:
    """The money side of the gate evidence, once for all the budget criteria of one evaluation."""
    # The values were validated when the gate evidence was built; constructing again would only cost time.
    return BudgetEvidence.model_construct(
        currency=evidence.currency,
        evm=evidence.evm,
        approved_stage_budget=evidence.stage_budget,
        stage_spend=evidence.stage_spend,
        contingency=evidence.contingency,
        contingency_used=evidence.contingency_used,
        reference=evidence_reference("budget", gate, evidence),
    )


def _on_gate_evidence(check: budget.BudgetCriterion) -> Criterion:
    def evaluate(
        definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
    ) -> CriterionResult:
        return check(definition, _budget_evidence(gate, evidence))

    return evaluate


def builtin_specs() -> dict[str, CriterionSpec]:
    specs = {code: CriterionSpec(fn, _no_params) for code, fn in criteria.REGISTRY.items()}
    specs |= {
        code: CriterionSpec(fn, documentation.param_problems)
        for code, fn in documentation.DOCUMENTATION_CRITERIA.items()
    }
    specs |= {
        code: CriterionSpec(_on_gate_evidence(fn), budget.param_problems) for code, fn in budget.BUDGET_CRITERIA.items()
    }
    for module, table in (
        (risk, risk.RISK_CRITERIA),
        (schedule, schedule.SCHEDULE_CRITERIA),
        (scorecard, scorecard.SCORECARD_CRITERIA),
        (staffing, staffing.RESOURCE_CRITERIA),
    ):
        specs |= {code: CriterionSpec(fn, module.param_problems) for code, fn in table.items()}
    return specs


_BUILTIN = builtin_specs()


def default_registry() -> dict[str, Criterion]:
    return {code: spec.evaluate for code, spec in _BUILTIN.items()}


class KnownCriteria(Mapping[str, Criterion]):
    """The criteria an installation evaluates with: the built-ins at once, the organisation's plug-ins (``specs``,
    built-ins included) only when a template names a code the built-ins lack, or when all are listed.

    Why: finding plug-ins scans every installed distribution's entry points, tens of milliseconds at the start of
    each command (``bench/cli_latency.py``), and most gates use built-in criteria only. A plug-in that clashes
    with a built-in or fails to load is reported when a template first needs the plug-ins (and always when one is
    validated or published), no longer by a command that never needed them."""

    def __init__(self, specs: Callable[[], Mapping[str, CriterionSpec]]) -> None:
        self._specs = specs

    def __getitem__(self, code: str) -> Criterion:
        builtin = _BUILTIN.get(code)
        return builtin.evaluate if builtin is not None else self._specs()[code].evaluate

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs())

    def __len__(self) -> int:
        return len(self._specs())


def with_plugins(plugins: Mapping[str, Criterion]) -> dict[str, CriterionSpec]:
    """Built-ins plus organisation criteria; a plug-in may not silently replace a built-in code."""
    clashes = sorted(set(plugins) & set(_BUILTIN))
    if clashes:
        raise ValueError(f"plug-in criteria reuse built-in codes: {', '.join(clashes)}")
    return _BUILTIN | {code: CriterionSpec(fn, _no_plugin_check) for code, fn in plugins.items()}


def _no_plugin_check(definition: CriterionDef) -> list[str]:
    return []


def template_problems(template: LifecycleTemplate, specs: Mapping[str, CriterionSpec]) -> list[tuple[Location, str]]:
    """Unknown criterion codes and bad parameters, with the path of the offending entry."""
    problems: list[tuple[Location, str]] = []
    for g_index, gate in enumerate(template.gates):
        for c_index, definition in enumerate(gate.criteria):
            where: Location = ("gates", g_index, "criteria", c_index, "code")
            spec = specs.get(definition.code)
            if spec is None:
                problems.append((where, f"unknown criterion {definition.code!r}; known: {', '.join(sorted(specs))}"))
                continue
            if definition.code.startswith("scorecard.") and gate.scorecard is None:
                problems.append((where, f"{definition.code} needs a 'scorecard' on gate {gate.id!r}"))
            for message in spec.param_problems(definition):
                problems.append((("gates", g_index, "criteria", c_index, "params"), message))
    return problems

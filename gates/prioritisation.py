"""Prioritisation (strategic alignment): rank the portfolio by value per cost and scorecard, and propose the
portfolio that fits a budget with the most expected benefit, saying why each project left out was left out.

Why exact: a greedy pick by benefit/cost can leave money idle that a different mix would use, and a PMO
defending a cut to a sponsor needs "this is the best mix" to be true, not nearly true. The selection is a 0/1
knapsack solved as a mixed-integer programme by HiGHS (``highspy``) to proven optimality; costs and benefits are
whole cents, and the budget constraint is checked exactly afterwards in ``Decimal``.

Definitions (docs/reports.md repeats them):

- **candidates** are projects still in the portfolio (active or on hold); killed and closed ones are not.
- **cost** is what the project still needs: its budget at completion (baseline BAC, else the charter budget)
  less the actual cost of its latest status report, never below zero. Money already spent is sunk.
- **benefit** is the expected benefit recorded on the charter (``phasegate project update --expected-benefit``).
  A project without one is ranked by scorecard only and is not selected: the model cannot value it.
- **value per cost** is benefit / cost; a project that needs no more money has none and ranks first.
- **scorecard** is the mean of the gatekeepers' scorecard scores (0-10 as scored), shown and used to break ties.
- **capacity** (person-days per role) is not modelled: phasegate holds no resource data yet, so the proposal is
  constrained by budget alone and says so.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from phasegate.gates.vocabulary.errors import InputError

CENT = Decimal("0.01")
MAX_BUDGET = Decimal(10) ** 16
"""Money columns hold 18 digits with 2 decimals, so no stored amount reaches this."""
EXPLAIN_LIMIT = 10
"""How many left-out projects (best value per cost first) get the exact benefit forgone by forcing them in:
one more solve each, so the explanation stays affordable for a portfolio of several hundred projects."""
CANDIDATE_STATUSES = frozenset({"active", "on_hold"})
CAPACITY_NOTE = "budget only: no capacity data (person-days per role) is recorded, so capacity is not a constraint"
CAPACITY_NOTE_ZH = "仅按预算：尚无产能数据（各角色人天），产能未作为约束"

Reason = Literal["selected", "no_benefit", "no_value", "over_budget", "does_not_fit"]


@dataclass(frozen=True)
class Candidate:
    key: str
    name: str
    status: str
    cost: Decimal
    benefit: Decimal | None
    score: float | None


@dataclass(frozen=True)
class Ranked:
    rank: int
    key: str
    name: str
    status: str
    cost: Decimal
    benefit: Decimal | None
    score: float | None
    value_per_cost: Decimal | None
    selected: bool
    reason: Reason
    forgone: Decimal | None
    """Benefit lost by forcing this project in (the best total with it, less the best total); None when not
    computed."""
    detail: str
    detail_zh: str


@dataclass(frozen=True)
class Proposal:
    budget: Decimal
    spent: Decimal
    unspent: Decimal
    total_benefit: Decimal
    ranked: tuple[Ranked, ...]
    capacity_note: str = CAPACITY_NOTE
    capacity_note_zh: str = CAPACITY_NOTE_ZH

    @property
    def selected(self) -> tuple[Ranked, ...]:
        return tuple(r for r in self.ranked if r.selected)

    @property
    def left_out(self) -> tuple[Ranked, ...]:
        return tuple(r for r in self.ranked if not r.selected)


def parse_budget(text: str) -> Decimal:
    """The budget given on a door, or ``InputError`` naming the field and what is allowed."""
    try:
        value = Decimal(text.replace(",", "").replace("_", "").strip())
    except ArithmeticError:
        raise InputError(f"--budget: {text!r} is not an amount; give a number such as 1200000") from None
    if not value.is_finite() or value < 0 or value >= MAX_BUDGET:
        raise InputError(f"--budget: {text!r}: the budget must be an amount from 0 to below {MAX_BUDGET:,}")
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def remaining_cost(bac: Decimal, actual_cost: Decimal | None) -> Decimal:
    """What a project still needs: BAC less actual cost to date, never below zero (sunk cost is sunk)."""
    return max(bac - (actual_cost or Decimal(0)), Decimal(0))


def _cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value(rounding=ROUND_HALF_EVEN))


def best_selection(
    costs: Sequence[int],
    values: Sequence[int],
    capacity: int,
    *,
    forced: int | None = None,
    start: Collection[int] = (),
) -> frozenset[int]:
    """Indices of the items with the most total value whose costs sum to at most ``capacity``, exactly (0/1
    knapsack as a MILP). Values are whole numbers, so an absolute gap below 1 proves the optimum. ``forced`` must
    be chosen (its own cost counts); ``start``, a feasible choice, only speeds the search up."""
    n = len(costs)
    if n == 0:
        return frozenset()
    import highspy  # here, not at the top: the CLI imports this module on paths that never solve
    import numpy as np

    highs = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's stub leaves __init__ untyped
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 0.99)
    highs.setOptionValue("threads", 1)
    lower = np.zeros(n)
    if forced is not None:
        lower[forced] = 1.0
    highs.passModel(_model(np.array(values, dtype=float), lower, np.array(costs, dtype=float), float(capacity)))
    if start:
        chosen = np.zeros(n)
        chosen[list(start)] = 1.0
        solution = highspy.HighsSolution()
        solution.col_value = chosen.tolist()
        highs.setSolution(solution)
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return frozenset()  # infeasible: the forced item alone exceeds the capacity
    values_found = highs.getSolution().col_value
    return frozenset(i for i in range(n) if values_found[i] > 0.5)


def _model(values: Any, lower: Any, costs: Any, capacity: float) -> Any:
    """The knapsack as HiGHS reads it: one row (the budget), one 0/1 column per item, maximise value."""
    import highspy
    import numpy as np

    n = len(values)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = 1
    lp.col_cost_ = values
    lp.col_lower_ = lower
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.array([-highspy.kHighsInf])
    lp.row_upper_ = np.array([capacity])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(n + 1, dtype=np.int32)
    lp.a_matrix_.index_ = np.zeros(n, dtype=np.int32)
    lp.a_matrix_.value_ = costs
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    model = highspy.HighsModel()
    model.lp_ = lp
    return model


def _ratio(candidate: Candidate) -> Decimal | None:
    """Benefit per unit of cost, to four places; None without a benefit or without a cost (nothing to divide)."""
    if candidate.benefit is None or candidate.cost == 0:
        return None
    return (candidate.benefit / candidate.cost).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def _order(candidate: Candidate) -> tuple[int, Decimal, float, str]:
    """Rank order: projects that need no more money and bring benefit, then valued projects by value per cost,
    then those without a benefit; within each, higher scorecard first, then key."""
    ratio = _ratio(candidate)
    benefit = candidate.benefit
    group = 2 if benefit is None else (0 if candidate.cost == 0 and benefit > 0 else 1)
    score = candidate.score if candidate.score is not None else -1.0
    return (group, -(ratio or Decimal(0)), -score, candidate.key)


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _explain(
    candidate: Candidate, selected: bool, unspent: Decimal, budget: Decimal, forgone: Decimal | None
) -> tuple[Reason, str, str]:
    if selected:
        return "selected", "selected", "入选"
    if candidate.benefit is None:
        return (
            "no_benefit",
            "no expected benefit recorded, so it cannot be valued (set one with project update --expected-benefit)",
            "未记录预期收益，无法估值（用 project update --expected-benefit 设置）",
        )
    if candidate.benefit <= 0:
        return "no_value", "its expected benefit is zero", "预期收益为零"
    if candidate.cost > budget:
        return (
            "over_budget",
            f"its cost {_money(candidate.cost)} alone is over the budget {_money(budget)}",
            f"其成本 {_money(candidate.cost)} 单独即超出预算 {_money(budget)}",
        )
    en = f"needs {_money(candidate.cost)} but only {_money(unspent)} is left unspent"
    zh = f"需要 {_money(candidate.cost)}，但仅剩 {_money(unspent)} 未分配"
    if forgone is not None:
        en += f"; taking it in would displace projects worth more and lower the total benefit by {_money(forgone)}"
        zh += f"；若纳入将挤出价值更高的项目，总收益减少 {_money(forgone)}"
    else:
        en += "; the projects it would displace give more benefit for the money"
        zh += "；被挤出的项目单位成本收益更高"
    return "does_not_fit", en, zh


def _repaired(chosen: set[int], forced: int, costs: Sequence[int], capacity: int) -> frozenset[int]:
    """A feasible choice with ``forced`` in, to start the search from: the best choice with its latest-ranked
    items dropped until ``forced`` fits (items are indexed in rank order)."""
    kept = sorted(chosen)
    room = capacity - costs[forced]
    while kept and sum(costs[k] for k in kept) > room:
        kept.pop()
    return frozenset([*kept, forced]) if room >= 0 else frozenset()


def prioritise(candidates: Sequence[Candidate], budget: Decimal) -> Proposal:
    """The ranking and the best portfolio within ``budget`` (most total expected benefit), with the reason
    each project was left out. Deterministic: the same facts give the same proposal."""
    ordered = sorted((c for c in candidates if c.status in CANDIDATE_STATUSES), key=_order)
    valued = [i for i, c in enumerate(ordered) if c.benefit is not None and c.benefit > 0]
    costs = [_cents(ordered[i].cost) for i in valued]
    values = [_cents(ordered[i].benefit or Decimal(0)) for i in valued]
    capacity = _cents(budget)
    chosen = {valued[j] for j in best_selection(costs, values, capacity)}
    spent = sum((ordered[i].cost for i in chosen), Decimal(0))
    if spent > budget:  # cannot happen with whole-cent costs; a guard so a solver tolerance never overspends
        raise ArithmeticError(f"selection costs {spent}, over the budget {budget}")
    best = sum((values[j] for j, i in enumerate(valued) if i in chosen), 0)
    forgone: dict[int, Decimal] = {}
    explain = [j for j, i in enumerate(valued) if i not in chosen and costs[j] <= capacity][:EXPLAIN_LIMIT]
    chosen_items = {j for j, i in enumerate(valued) if i in chosen}
    for j in explain:
        with_it = best_selection(costs, values, capacity, forced=j, start=_repaired(chosen_items, j, costs, capacity))
        forgone[valued[j]] = Decimal(best - sum(values[k] for k in with_it)) * CENT
    unspent = budget - spent
    ranked = []
    for position, candidate in enumerate(ordered, start=1):
        reason, en, zh = _explain(candidate, position - 1 in chosen, unspent, budget, forgone.get(position - 1))
        ranked.append(
            Ranked(
                rank=position,
                key=candidate.key,
                name=candidate.name,
                status=candidate.status,
                cost=candidate.cost,
                benefit=candidate.benefit,
                score=candidate.score,
                value_per_cost=_ratio(candidate),
                selected=position - 1 in chosen,
                reason=reason,
                forgone=forgone.get(position - 1),
                detail=en,
                detail_zh=zh,
            )
        )
    return Proposal(
        budget=budget,
        spent=spent,
        unspent=unspent,
        total_benefit=sum((ordered[i].benefit or Decimal(0) for i in chosen), Decimal(0)),
        ranked=tuple(ranked),
    )


@dataclass(frozen=True)
class PriorityFact:
    """One project as the read model returns it."""

    key: str
    name: str
    status: str
    bac: Decimal
    expected_benefit: Decimal | None
    actual_cost: Decimal | None
    """Actual cost of the latest status report that has one; None: none reported."""
    score: float | None


def candidates_from(facts: Sequence[PriorityFact]) -> tuple[Candidate, ...]:
    return tuple(
        Candidate(f.key, f.name, f.status, remaining_cost(f.bac, f.actual_cost), f.expected_benefit, f.score)
        for f in facts
    )

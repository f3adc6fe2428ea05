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
- **capacity**, when a demand plan is recorded for the candidates (``phasegate resources demand import``), is one
  more row per role and month of the planning window: the remaining demand (hours, months from this one on) of
  the selected projects must fit that role's capacity (``gates.capacity``: working days x FTE x hours per day,
  or the month's override). Every active project is a candidate, so no hours are committed outside the
  selection: a project left out frees its people. Hours are whole hundredths, so the rows stay exact integers.
  Without a demand plan (or with ``--budget-only``) the proposal is constrained by budget alone and says so.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from phasegate.gates.capacity import Capacities
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.resources import DemandLine, month_label

CENT = Decimal("0.01")
MAX_BUDGET = Decimal(10) ** 16
"""Money columns hold 18 digits with 2 decimals, so no stored amount reaches this."""
EXPLAIN_LIMIT = 10
"""How many left-out projects (best value per cost first) get the exact benefit forgone by forcing them in:
one more solve each, so the explanation stays affordable for a portfolio of several hundred projects."""
EXPLAIN_SECONDS = 10.0
"""Those solves together may take this long; one not proven optimal in the time left gives no number (capacity
rows can make a forced solve much harder than a plain knapsack). The proposal's own solve has no limit."""
CANDIDATE_STATUSES = frozenset({"active", "on_hold"})
CAPACITY_NOTE = (
    "budget only: capacity is not a constraint (no demand plan recorded for the candidates, or --budget-only)"
)
CAPACITY_NOTE_ZH = "仅按预算：产能未作为约束（候选项目未记录需求计划，或指定了 --budget-only）"

Reason = Literal["selected", "no_benefit", "no_value", "over_budget", "over_capacity", "does_not_fit"]

Cell = tuple[str, date]
"""A role and a month (its first day)."""


@dataclass(frozen=True)
class CapacityPlan:
    """What the capacity rows read: hours each role has per month of the planning window, and each candidate's
    remaining demand per role and month. A role-month nobody has capacity for has 0 hours available."""

    available: Mapping[Cell, Decimal]
    demand: Mapping[str, Mapping[Cell, Decimal]]

    @classmethod
    def of(cls, capacities: Capacities, lines: Iterable[DemandLine], keys: Collection[str]) -> CapacityPlan:
        """The plan of the ``keys`` (candidates) from their demand ``lines``, against ``capacities``."""
        demand: dict[str, dict[Cell, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for line in lines:
            if line.project_key in keys and line.hours > 0:
                demand[line.project_key][line.role, line.month] += line.hours
        cells = {cell for need in demand.values() for cell in need}
        available = {cell: capacities.role(*cell) for cell in cells}
        return cls(available, {key: dict(need) for key, need in demand.items()})

    @property
    def cells(self) -> list[Cell]:
        return sorted(set(self.available) | {cell for need in self.demand.values() for cell in need})

    def capacity(self, cell: Cell) -> Decimal:
        return self.available.get(cell, Decimal(0))


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
    with_capacity: bool = False
    """Capacity rows constrained the selection (a demand plan was recorded)."""

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
    rows: Sequence[Row] = (),
) -> frozenset[int]:
    """Indices of the items with the most total value whose costs sum to at most ``capacity``, exactly (0/1
    knapsack as a MILP). Values are whole numbers, so an absolute gap below 1 proves the optimum. ``forced`` must
    be chosen (its own cost counts); ``start``, a feasible choice, only speeds the search up. Each of ``rows``
    (item -> amount, limit) is one more constraint: the chosen items' amounts sum to at most its limit (one
    role's hours in one month)."""
    return _solve(costs, values, capacity, forced=forced, start=start, rows=rows) or frozenset()


def _solve(
    costs: Sequence[int],
    values: Sequence[int],
    capacity: int,
    *,
    forced: int | None = None,
    start: Collection[int] = (),
    rows: Sequence[Row] = (),
    seconds: float | None = None,
) -> frozenset[int] | None:
    """``best_selection``, optionally within ``seconds``: None when the optimum was not proven in time (the
    explanations give up on a number rather than print an unproven one; the proposal itself has no limit)."""
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
    if seconds is not None:
        highs.setOptionValue("time_limit", seconds)
    lower = np.zeros(n)
    if forced is not None:
        lower[forced] = 1.0
    highs.passModel(_model(np.array(values, dtype=float), lower, [(dict(enumerate(costs)), capacity), *rows]))
    if start:
        chosen = np.zeros(n)
        chosen[list(start)] = 1.0
        solution = highspy.HighsSolution()
        solution.col_value = chosen.tolist()
        highs.setSolution(solution)
    highs.run()
    status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kTimeLimit:
        return None
    if status != highspy.HighsModelStatus.kOptimal:
        return frozenset()  # infeasible: the forced item alone exceeds the budget or a row
    values_found = highs.getSolution().col_value
    return frozenset(i for i in range(n) if values_found[i] > 0.5)


Row = tuple[Mapping[int, int], int]
"""One constraint: item -> amount (items not named take none), and the most the chosen items may take."""


def _model(values: Any, lower: Any, rows: Sequence[Row]) -> Any:
    """The knapsack as HiGHS reads it: one row per constraint (the budget first), one 0/1 column per item,
    maximise value. The matrix is stored by column and sparse: a project asks for a few roles and months."""
    import highspy
    import numpy as np

    n = len(values)
    by_column: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for r, (amounts, _) in enumerate(rows):
        for item, amount in amounts.items():
            if amount:
                by_column[item].append((r, amount))
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = len(rows)
    lp.col_cost_ = values
    lp.col_lower_ = lower
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.full(len(rows), -highspy.kHighsInf)
    lp.row_upper_ = np.array([float(limit) for _, limit in rows])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.cumsum([0, *(len(column) for column in by_column)]).astype(np.int32)
    lp.a_matrix_.index_ = np.array([r for column in by_column for r, _ in column], dtype=np.int32)
    lp.a_matrix_.value_ = np.array([float(a) for column in by_column for _, a in column])
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    model = highspy.HighsModel()
    model.lp_ = lp
    return model


def value_per_cost(candidate: Candidate) -> Decimal | None:
    """Benefit per unit of cost, to four places; None without a benefit or without a cost (nothing to divide)."""
    if candidate.benefit is None or candidate.cost == 0:
        return None
    return (candidate.benefit / candidate.cost).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def rank_order(candidate: Candidate) -> tuple[int, Decimal, float, str]:
    """Rank order: projects that need no more money and bring benefit, then valued projects by value per cost,
    then those without a benefit; within each, higher scorecard first, then key."""
    ratio = value_per_cost(candidate)
    benefit = candidate.benefit
    group = 2 if benefit is None else (0 if candidate.cost == 0 and benefit > 0 else 1)
    score = candidate.score if candidate.score is not None else -1.0
    return (group, -(ratio or Decimal(0)), -score, candidate.key)


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _hours(amount: Decimal) -> str:
    text = f"{amount:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class _Short:
    """The tightest role-month of a left-out project: what it needs there, what the selection takes, the
    capacity, and how many hours are missing."""

    role: str
    month: date
    need: Decimal
    taken: Decimal
    capacity: Decimal

    @property
    def short(self) -> Decimal:
        return self.taken + self.need - self.capacity


def _tightest(need: Mapping[Cell, Decimal], taken: Mapping[Cell, Decimal], plan: CapacityPlan) -> _Short | None:
    """The role-month where ``need`` beside ``taken`` overflows capacity the most (None: it fits everywhere)."""
    found = [
        _Short(role, month, hours, taken.get((role, month), Decimal(0)), plan.capacity((role, month)))
        for (role, month), hours in sorted(need.items())
    ]
    over = [f for f in found if f.short > 0]
    return max(over, key=lambda f: f.short) if over else None


def _capacity_reason(short: _Short, alone: bool) -> tuple[str, str]:
    where = f"{short.role} {month_label(short.month)}"
    en = f"over capacity: {where} short by {_hours(short.short)} h"
    zh = f"超出产能：{where} 缺口 {_hours(short.short)} 小时"
    if alone:
        en += f" on its own (needs {_hours(short.need)} h, capacity {_hours(short.capacity)} h)"
        zh += f"（单独即超出：需要 {_hours(short.need)} 小时，产能 {_hours(short.capacity)} 小时）"
        return en, zh
    en += (
        f" beside the selected projects (needs {_hours(short.need)} h, they take {_hours(short.taken)} h "
        f"of {_hours(short.capacity)} h)"
    )
    zh += (
        f"（与已选项目合计：需要 {_hours(short.need)} 小时，已选项目占用 {_hours(short.taken)} 小时，"
        f"产能 {_hours(short.capacity)} 小时）"
    )
    return en, zh


def _explain(
    candidate: Candidate,
    selected: bool,
    unspent: Decimal,
    budget: Decimal,
    forgone: Decimal | None,
    capacity: tuple[_Short | None, _Short | None] = (None, None),
) -> tuple[Reason, str, str]:
    """Why ``candidate`` is in or out. ``capacity``: its tightest role-month on its own, and beside the
    selection (None: no capacity rows, or it fits)."""
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
    alone, beside = capacity
    if alone is not None:
        return "over_capacity", *_capacity_reason(alone, True)
    if beside is not None:
        en, zh = _capacity_reason(beside, False)
        if candidate.cost > unspent:
            en += f"; the budget left ({_money(unspent)}) is also short of its cost {_money(candidate.cost)}"
            zh += f"；剩余预算（{_money(unspent)}）也不足其成本 {_money(candidate.cost)}"
        if forgone is not None:
            en += f"; taking it in would lower the total benefit by {_money(forgone)}"
            zh += f"；若纳入，总收益减少 {_money(forgone)}"
        return "over_capacity", en, zh
    en = f"needs {_money(candidate.cost)} but only {_money(unspent)} is left unspent"
    zh = f"需要 {_money(candidate.cost)}，但仅剩 {_money(unspent)} 未分配"
    if forgone is not None:
        en += f"; taking it in would displace projects worth more and lower the total benefit by {_money(forgone)}"
        zh += f"；若纳入将挤出价值更高的项目，总收益减少 {_money(forgone)}"
    else:
        en += "; the projects it would displace give more benefit for the money"
        zh += "；被挤出的项目单位成本收益更高"
    return "does_not_fit", en, zh


def _fits(items: Collection[int], rows: Sequence[Row]) -> bool:
    return all(sum(amounts.get(k, 0) for k in items) <= limit for amounts, limit in rows)


def _repaired(chosen: set[int], forced: int, rows: Sequence[Row]) -> frozenset[int]:
    """A feasible choice with ``forced`` in, to start the search from: the best choice with its latest-ranked
    items dropped until ``forced`` fits every row (items are indexed in rank order)."""
    if not _fits([forced], rows):
        return frozenset()
    kept = sorted(chosen)
    while not _fits([*kept, forced], rows):
        kept.pop()
    return frozenset([*kept, forced])


def _capacity_rows(plan: CapacityPlan, keys: Sequence[str]) -> list[Row]:
    """One row per role and month: item -> its hours there (in hundredths), at most the role's capacity."""
    rows: list[Row] = []
    for cell in plan.cells:
        amounts = {j: _cents(plan.demand[key][cell]) for j, key in enumerate(keys) if cell in plan.demand.get(key, {})}
        if amounts:
            rows.append((amounts, _cents(plan.capacity(cell))))
    return rows


def prioritise(candidates: Sequence[Candidate], budget: Decimal, plan: CapacityPlan | None = None) -> Proposal:
    """The ranking and the best portfolio within ``budget`` (and, given a ``plan``, within every role's capacity
    in every month), with the most total expected benefit and the reason each project was left out.
    Deterministic: the same facts give the same proposal."""
    ordered = sorted((c for c in candidates if c.status in CANDIDATE_STATUSES), key=rank_order)
    valued = [i for i, c in enumerate(ordered) if c.benefit is not None and c.benefit > 0]
    costs = [_cents(ordered[i].cost) for i in valued]
    values = [_cents(ordered[i].benefit or Decimal(0)) for i in valued]
    capacity = _cents(budget)
    rows = _capacity_rows(plan, [ordered[i].key for i in valued]) if plan is not None else []
    chosen = {valued[j] for j in best_selection(costs, values, capacity, rows=rows)}
    spent = sum((ordered[i].cost for i in chosen), Decimal(0))
    if spent > budget:  # cannot happen with whole-cent costs; a guard so a solver tolerance never overspends
        raise ArithmeticError(f"selection costs {spent}, over the budget {budget}")
    taken: dict[Cell, Decimal] = defaultdict(Decimal)
    if plan is not None:
        for i in chosen:
            for cell, hours in plan.demand.get(ordered[i].key, {}).items():
                taken[cell] += hours
        over = [cell for cell, hours in taken.items() if hours > plan.capacity(cell)]
        if over:  # the same guard for hours
            raise ArithmeticError(f"selection over capacity at {over[0]}")
    best = sum((values[j] for j, i in enumerate(valued) if i in chosen), 0)
    everything = [(dict(enumerate(costs)), capacity), *rows]
    forgone: dict[int, Decimal] = {}
    explain = [j for j, i in enumerate(valued) if i not in chosen and _fits([j], everything)][:EXPLAIN_LIMIT]
    chosen_items = {j for j, i in enumerate(valued) if i in chosen}
    deadline = time.monotonic() + EXPLAIN_SECONDS
    for j in explain:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        start = _repaired(chosen_items, j, everything)
        with_it = _solve(costs, values, capacity, forced=j, start=start, rows=rows, seconds=left)
        if with_it is not None:
            forgone[valued[j]] = Decimal(best - sum(values[k] for k in with_it)) * CENT
    unspent = budget - spent
    ranked = []
    for position, candidate in enumerate(ordered, start=1):
        shorts: tuple[_Short | None, _Short | None] = (None, None)
        if plan is not None and position - 1 not in chosen:
            need = plan.demand.get(candidate.key, {})
            shorts = (_tightest(need, {}, plan), _tightest(need, taken, plan))
        reason, en, zh = _explain(candidate, position - 1 in chosen, unspent, budget, forgone.get(position - 1), shorts)
        ranked.append(
            Ranked(
                rank=position,
                key=candidate.key,
                name=candidate.name,
                status=candidate.status,
                cost=candidate.cost,
                benefit=candidate.benefit,
                score=candidate.score,
                value_per_cost=value_per_cost(candidate),
                selected=position - 1 in chosen,
                reason=reason,
                forgone=forgone.get(position - 1),
                detail=en,
                detail_zh=zh,
            )
        )
    notes = (CAPACITY_NOTE, CAPACITY_NOTE_ZH) if plan is None else _capacity_note(plan)
    return Proposal(
        budget=budget,
        spent=spent,
        unspent=unspent,
        total_benefit=sum((ordered[i].benefit or Decimal(0) for i in chosen), Decimal(0)),
        ranked=tuple(ranked),
        capacity_note=notes[0],
        capacity_note_zh=notes[1],
        with_capacity=plan is not None,
    )


def _capacity_note(plan: CapacityPlan) -> tuple[str, str]:
    cells = plan.cells
    roles = len({role for role, _ in cells})
    if not cells:
        return "budget and capacity: no remaining demand in the planning window", "预算与产能：规划期内无剩余需求"
    span = f"{month_label(cells[0][1])}..{month_label(max(month for _, month in cells))}"
    return (
        f"budget and capacity: the selected projects' remaining demand fits each role's capacity in every month "
        f"({roles} roles, {len(cells)} role-months, {span})",
        f"预算与产能：入选项目的剩余需求在每个月均不超过各角色产能（{roles} 个角色，{len(cells)} 个角色月，{span}）",
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

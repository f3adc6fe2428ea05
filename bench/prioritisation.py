"""Exact portfolio selection speed: ``gates.prioritisation.prioritise`` on a random portfolio of several sizes.

Each proposal is one exact solve (0/1 knapsack as a MILP, HiGHS, zero gap) plus one solve for each of the ten
best projects left out (the benefit forgone by forcing it in). Costs and benefits are whole thousands, budgets a
third of the portfolio's cost. ``--capacity`` adds capacity rows: 6 roles x 12 months, each project asking
for 1-3 roles over 2-6 consecutive months, each role's capacity a third of what all projects ask. Prints
``name: value`` lines, best of ``--repeat`` runs.

    .venv/bin/python bench/prioritisation.py [--sizes 100,300,500] [--repeat 3] [--capacity]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from phasegate.gates.prioritisation import Candidate, CapacityPlan, Cell, prioritise

ROLES = ("analyst", "architect", "data-engineer", "developer", "designer", "tester")
MONTHS = [date(2027, m, 1) for m in range(1, 13)]


def plan_for(rng: random.Random, candidates: list[Candidate]) -> CapacityPlan:
    demand: dict[str, dict[Cell, Decimal]] = {}
    asked: dict[Cell, Decimal] = defaultdict(Decimal)
    for candidate in candidates:
        need: dict[Cell, Decimal] = {}
        first = rng.randrange(len(MONTHS))
        span = MONTHS[first : first + rng.randint(2, 6)]
        for role in rng.sample(ROLES, rng.randint(1, 3)):
            for month in span:
                need[role, month] = Decimal(rng.randint(20, 300))
                asked[role, month] += need[role, month]
        demand[candidate.key] = need
    return CapacityPlan({cell: (hours / 3).quantize(Decimal(1)) for cell, hours in asked.items()}, demand)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,300,500")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--capacity", action="store_true")
    args = parser.parse_args()
    for size in (int(n) for n in args.sizes.split(",")):
        rng = random.Random(size)
        candidates = [
            Candidate(
                f"P{i:04d}",
                f"Project {i}",
                "active",
                Decimal(rng.randint(50, 900) * 1000),
                Decimal(rng.randint(40, 2000) * 1000),
                rng.uniform(3, 9),
            )
            for i in range(size)
        ]
        budget = sum((c.cost for c in candidates), Decimal(0)) / 3
        plan = plan_for(rng, candidates) if args.capacity else None
        name = f"prioritise_{size}_projects{'_capacity' if plan else ''}"
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            proposal = prioritise(candidates, budget, plan)
            best = min(best, time.perf_counter() - started)
        print(f"{name}_s: {best:.3f}")
        print(f"{name}_selected: {len(proposal.selected)}")


if __name__ == "__main__":
    main()

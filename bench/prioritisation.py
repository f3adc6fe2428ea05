"""Exact portfolio selection speed: ``gates.prioritisation.prioritise`` on a random portfolio of several sizes.

Each proposal is one exact solve (0/1 knapsack as a MILP, HiGHS, zero gap) plus one solve for each of the ten
best projects left out (the benefit forgone by forcing it in). Costs and benefits are whole thousands, budgets a
third of the portfolio's cost. Prints ``name: value`` lines, best of ``--repeat`` runs.

    .venv/bin/python bench/prioritisation.py [--sizes 100,300,500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from phasegate.gates.prioritisation import Candidate, prioritise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,300,500")
    parser.add_argument("--repeat", type=int, default=3)
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
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            proposal = prioritise(candidates, budget)
            best = min(best, time.perf_counter() - started)
        print(f"prioritise_{size}_projects_s: {best:.3f}")
        print(f"prioritise_{size}_projects_selected: {len(proposal.selected)}")


if __name__ == "__main__":
    main()

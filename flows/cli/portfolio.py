"""``phasegate portfolio``: strategic alignment over the whole portfolio (prioritisation within a budget)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, acting, emit, now, runtime_for, sub_app

WithCapacity = Annotated[
    bool | None,
    typer.Option(
        "--with-capacity/--budget-only",
        help="Constrain by each role's capacity per month too (default: whenever a demand plan is recorded), "
        "or by budget alone",
        show_default=False,
    ),
]
"""Shared by the local and the remote command."""

app = sub_app("Strategic alignment: rank the portfolio and propose the best set of projects within a budget.")


def _money(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def proposal_lines(proposal: Any) -> list[str]:
    """The ranking as fixed-width lines: selected projects marked, every left-out one with its reason."""
    lines = [
        f"Budget {_money(proposal.budget)}: {len(proposal.selected)} projects selected, "
        f"cost {_money(proposal.spent)}, unspent {_money(proposal.unspent)}, "
        f"expected benefit {_money(proposal.total_benefit)}",
        f"({proposal.capacity_note})",
        f"{'#':>3} {'':1} {'project':<14} {'cost':>12} {'benefit':>12} {'value/cost':>10} {'score':>5}  why",
    ]
    for r in proposal.ranked:
        ratio = "-" if r.value_per_cost is None else f"{r.value_per_cost:.2f}"
        score = "-" if r.score is None else f"{r.score:.1f}"
        lines.append(
            f"{r.rank:>3} {'*' if r.selected else ' ':1} {r.key:<14} {_money(r.cost):>12} {_money(r.benefit):>12} "
            f"{ratio:>10} {score:>5}  {r.detail}"
        )
    return lines


@app.command("prioritise")
def prioritise(
    budget: Annotated[str, typer.Option("--budget", help="Money available, e.g. 1200000", show_default=False)],
    with_capacity: WithCapacity = None,
    by: ActFor = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Rank active and on-hold projects by expected benefit per remaining cost and scorecard, and propose the
    set with the most expected benefit within --budget (exact 0/1 selection), with why each other one is left
    out. When a demand plan is recorded, the selection also fits every role's capacity in every month (see
    --with-capacity/--budget-only)."""
    from phasegate.usecases import services

    rt = runtime_for(db)
    proposal = services.prioritise_portfolio(
        budget=budget, actor=acting(rt, by), uow=rt.uow, now=now(), reader=rt.reader, with_capacity=with_capacity
    )
    if as_json:
        emit(dataclasses.asdict(proposal) | {"selected": [r.key for r in proposal.selected]})
        return
    for line in proposal_lines(proposal):
        typer.echo(line)

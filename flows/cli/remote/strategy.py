"""Remote ``portfolio prioritise`` and ``report maturity``: the server computes, the laptop prints the same lines.

Why the same printing code: the answer is read back into the domain's own types (``gates.prioritisation``,
``gates.maturity``), so the table and the JSON are those of the local command, whichever door was used.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, emit, sub_app
from phasegate.flows.cli.portfolio import WithCapacity
from phasegate.flows.cli.remote.session import refuse_db, server

portfolio_app = sub_app("Strategic alignment (through the server): the best portfolio within a budget.")
report_app = sub_app("Reports to management (through the server): the maturity score.")


@portfolio_app.command("prioritise")
def prioritise(
    budget: Annotated[str, typer.Option("--budget", help="Money available, e.g. 1200000", show_default=False)],
    with_capacity: WithCapacity = None,
    by: ActFor = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Rank the portfolio and propose the best set within --budget (exact selection), computed by the server."""
    from pydantic import TypeAdapter

    from phasegate.flows.cli.portfolio import proposal_lines
    from phasegate.gates.prioritisation import Proposal, parse_budget

    amount = parse_budget(budget)  # a mistake reads as it does locally, before anything is sent
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        asked = {} if with_capacity is None else {"with_capacity": str(with_capacity).lower()}
        answer = remote.get("/portfolio/prioritisation", budget=f"{amount:.2f}", **asked)
    proposal = TypeAdapter(Proposal).validate_python(answer)
    if as_json:
        emit(dataclasses.asdict(proposal) | {"selected": [r.key for r in proposal.selected]})
        return
    for line in proposal_lines(proposal):
        typer.echo(line)


@report_app.command("maturity")
def report_maturity(
    quarter: Annotated[str | None, typer.Option("--quarter", help="e.g. 2026-Q4; default: this quarter")] = None,
    by: ActFor = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """The maturity score of a quarter with its trend, computed by the server."""
    from pydantic import TypeAdapter

    from phasegate.flows.cli.reports import maturity_lines
    from phasegate.gates.maturity import MaturityReport, parse_quarter

    if quarter is not None:
        quarter = parse_quarter(quarter).label  # a mistake reads as it does locally
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        answer = remote.get("/reports/maturity", quarter=quarter)
    report = TypeAdapter(MaturityReport).validate_python(answer)
    if as_json:
        emit(dataclasses.asdict(report))
        return
    for line in maturity_lines(report):
        typer.echo(line)

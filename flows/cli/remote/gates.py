"""Remote ``gate check`` and ``gate review``: the server evaluates on the evidence it holds.

``gate check`` reads the same ``GateCheck`` the local command computes and prints it with the same code.
``gate review`` starts the review in the server's request (``POST /projects/{key}/reviews``): the round it
opens is a row like any other, and its notifications leave from the server once it has answered, rather
than from the laptop, which holds no notification secrets.
"""

from __future__ import annotations

from typing import Annotated

import typer

from phasegate.flows.cli.common import Db, Json, emit, sub_app
from phasegate.flows.cli.gates import meeting_at, print_review
from phasegate.flows.cli.remote.session import acting_person, refuse_db, server
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Gate checks and reviews (through the server).")


@app.command("check")
def gate_check(
    key: str,
    gate: Annotated[str | None, typer.Option("--gate", help="Preview another gate of the lifecycle")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Evaluate the project's current gate (or --gate) on the server; writes nothing."""
    from phasegate.flows.cli.gates import _print_evaluation, evaluation_document
    from phasegate.usecases.services import GateCheck

    with server() as remote:
        refuse_db(db, remote.login.url)
        check = GateCheck.model_validate(remote.get(f"/projects/{key}/evaluation", gate=gate))
    doc = evaluation_document(check.evaluation, check.evidence)
    if as_json:
        emit(doc)
    else:
        _print_evaluation(doc)


@app.command("review")
def gate_review(
    key: str,
    requested_by: Annotated[
        str | None, typer.Option("--as", help="Who requests the review: through the server, the token's person")
    ] = None,
    meeting: Annotated[
        str | None, typer.Option("--meeting", help="Review meeting, e.g. 2026-12-03T10:00+08:00: approvers get an .ics")
    ] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Start a gate review on the server: evaluate, record, open the approval round (or record why not)."""
    when = meeting_at(meeting)
    body = {"meeting_at": when.isoformat()} if when is not None else None
    with server(act_as=requested_by) as remote:
        refuse_db(db, remote.login.url)
        out = remote.call("POST", f"/projects/{key}/reviews", body=body)
    state = "Awaiting approval" if out["round_id"] else "Not ready"
    result = {
        "review_id": out["review_id"],
        "round_id": out["round_id"],
        "evaluation": out["evaluation"],
        "approvers": out["approvers"],
        "notifications": out["notifications"],
        "dispatch": {},  # the server's dispatcher sends them; nothing was sent from here
    }
    if as_json:
        emit(result | {"state": state})
        return
    print_review(key, result, state, sent="sent by the server's dispatcher")


def score(
    key: str,
    scores: Annotated[list[str], typer.Argument(metavar="FACTOR=SCORE...")],
    gatekeeper: Annotated[
        str | None, typer.Option("--as", help="The gatekeeper scoring: through the server, the token's person")
    ] = None,
    gate: Annotated[str | None, typer.Option("--gate", help="Default: the project's current gate")] = None,
    db: Db = None,
) -> None:
    """Score scorecard factors (0..10 by default) as the token's person, on the server."""
    values: dict[str, int] = {}
    for item in scores:
        factor, sep, raw = item.partition("=")
        if not sep or not raw.strip().lstrip("-").isdigit():
            raise InputError(f"{item!r}: write FACTOR=SCORE with a whole-number score, e.g. strategic-fit=7")
        values[factor] = int(raw)
    with server(act_as=gatekeeper) as remote:
        refuse_db(db, remote.login.url)
        me = acting_person(remote)
        out = remote.call("POST", f"/projects/{key}/scores", body={"scores": values, "gate": gate})
    typer.echo(f"{key} at {out['gate_id']}: {me['person_id']} scored {out['scored']} factor(s)")

"""Remote ``exceptions list`` and ``exceptions decide``: a sponsor or board member decides the exception the
monitor sent them from their own laptop, through ``/api/v1``, with the same options, output and exit codes as
the local commands (the helpers are theirs: ``flows.cli.exceptions``).

Why through the server: the level that set a tolerance is rarely on the server's machine, and the decision must
be the token's person's own (the server checks the level and audits the decision, or the refusal).
"""

from __future__ import annotations

from phasegate.flows.cli.common import ActFor, Db, Json, parse_money, sub_app
from phasegate.flows.cli.exceptions import (
    BacOpt,
    DecisionOpt,
    ExceptionRef,
    OpenOnly,
    ProjectOpt,
    ReasonOpt,
    checked_decision,
    print_decided,
    print_exceptions,
)
from phasegate.flows.cli.remote.session import refuse_db, server

app = sub_app("Tolerance exceptions (through the server).")


@app.command("list")
def exceptions_list(
    project: ProjectOpt = None, open_only: OpenOnly = False, db: Db = None, as_json: Json = False
) -> None:
    """Exceptions, newest first: dimension, forecast against baseline and tolerance, who decides, the decision."""
    from phasegate.gates.vocabulary.tolerance import ToleranceException

    with server() as remote:
        refuse_db(db, remote.login.url)
        items = list(remote.pages("/exceptions", project=project, status="open" if open_only else None))
    print_exceptions([ToleranceException.model_validate(item) for item in items], as_json)


@app.command("decide")
def exceptions_decide(
    exception_ref: ExceptionRef,
    decision: DecisionOpt,
    reason: ReasonOpt,
    bac: BacOpt = None,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Close an exception as the level that set the tolerance: approve_plan (re-baseline), premature_close, accept."""
    from phasegate.gates.vocabulary.tolerance import ToleranceException

    exception_id = checked_decision(exception_ref, decision)
    new_bac = parse_money(bac, "--bac")
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        done = remote.call(
            "POST",
            f"/exceptions/{exception_id}/decision",
            body={"decision": decision, "reason": reason, "bac": None if new_bac is None else str(new_bac)},
        )
    print_decided(ToleranceException.model_validate(done), decision)

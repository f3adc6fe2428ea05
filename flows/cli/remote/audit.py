"""Remote ``audit verify`` and ``audit head``: the server verifies its own chain, as the local commands do.

Why an auditor may run these from a laptop: verifying needs to read every entry, which the server does next to
the database; the laptop gets the verdict and the head, and can keep the head somewhere else to detect a
truncated log later. Exit 1 for a broken chain, as locally.
"""

from __future__ import annotations

import typer

from phasegate.flows.cli.common import Db, Json, emit, sub_app
from phasegate.flows.cli.remote.session import iso, refuse_db, server

app = sub_app("The hash-chained audit log (through the server).")


@app.command("verify")
def audit_verify(db: Db = None, as_json: Json = False) -> None:
    """Verify the audit chain on the server: exit 0 when intact, 1 naming the first broken entry."""
    with server() as remote:
        refuse_db(db, remote.login.url)
        verdict = remote.get("/audit/verify")
    broken = verdict.get("first_break")
    if as_json:
        emit({"intact": verdict["intact"], "entries": verdict["entries"], "keyed": verdict["keyed"], "break": broken})
    elif broken is None:
        typer.echo(f"audit chain intact: {verdict['entries']} entries, head {verdict['head_hash'] or '-'}")
    else:
        typer.echo(f"audit chain broken at entry {broken['seq']}: {broken['reason']}", err=True)
    if broken is not None:
        raise typer.Exit(1)


@app.command("head")
def audit_head_cmd(db: Db = None, as_json: Json = False) -> None:
    """Print the server's current chain head, to keep somewhere else."""
    with server() as remote:
        refuse_db(db, remote.login.url)
        head = remote.get("/audit/head")
    doc = {"seq": head["seq"], "hash": head["hash"], "at": iso(head["at"])} if head["seq"] else {"seq": 0, "hash": None}
    if as_json:
        emit(doc)
    else:
        typer.echo(f"{doc['seq']} {doc['hash']}")

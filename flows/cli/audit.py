"""CLI: The hash-chained audit log."""

from __future__ import annotations

import typer

from flows.cli.common import Db, Json, emit, runtime_for, sub_app

app = sub_app("The hash-chained audit log.")


@app.command("verify")
def audit_verify(db: Db = None, as_json: Json = False) -> None:
    """Verify the audit chain: exit 0 when intact, 1 naming the first broken entry."""
    from models.audit_store import audit_head, verify_audit

    rt = runtime_for(db)
    with rt.sessions() as session:
        broken = verify_audit(session)
        head = audit_head(session)
    if as_json:
        emit(
            {
                "intact": broken is None,
                "entries": head.seq if head else 0,
                "break": broken.model_dump(mode="json") if broken else None,
            }
        )
    elif broken is None:
        typer.echo(f"audit chain intact: {head.seq if head else 0} entries, head {head.hash if head else '-'}")
    else:
        typer.echo(f"audit chain broken at entry {broken.seq}: {broken.reason}", err=True)
    if broken is not None:
        raise typer.Exit(1)


@app.command("head")
def audit_head_cmd(db: Db = None, as_json: Json = False) -> None:
    """Print the current chain head, to keep somewhere else."""
    from models.audit_store import audit_head

    with runtime_for(db).sessions() as session:
        head = audit_head(session)
    doc = {"seq": head.seq, "hash": head.hash, "at": head.at.isoformat()} if head else {"seq": 0, "hash": None}
    if as_json:
        emit(doc)
    else:
        typer.echo(f"{doc['seq']} {doc['hash']}")

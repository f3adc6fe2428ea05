"""CLI: The hash-chained audit log: verify it, print its head, export a project's gate dossier."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phasegate.flows.cli.common import Db, Json, acting, emit, now, runtime_for, sub_app

app = sub_app("The hash-chained audit log.")


@app.command("verify")
def audit_verify(db: Db = None, as_json: Json = False) -> None:
    """Verify the audit chain: exit 0 when intact, 1 naming the first broken entry, 2 when keyed and no key.

    Keyed entries are checked with the key derived from PHASEGATE_SECRET_KEY (docs/security.md), so a row
    edited and every hash after it recomputed by someone without the key is caught.
    """
    from phasegate.gates.audit import KEYED
    from phasegate.models.audit_store import audit_head, verify_audit

    rt = runtime_for(db)
    key = rt.audit_key
    with rt.read_sessions() as session:
        broken = verify_audit(session, key=key)
        head = audit_head(session)
    keyed = head is not None and head.scheme == KEYED
    if as_json:
        emit(
            {
                "intact": broken is None,
                "entries": head.seq if head else 0,
                "keyed": keyed,
                "break": broken.model_dump(mode="json") if broken else None,
            }
        )
    elif broken is None:
        typer.echo(f"audit chain intact: {head.seq if head else 0} entries, head {head.hash if head else '-'}")
        if head is not None and not keyed:
            typer.echo(
                "note: the chain is not keyed (no PHASEGATE_SECRET_KEY yet): it proves the rows agree with each "
                "other, not that nobody with write access rewrote them",
                err=True,
            )
    else:
        typer.echo(f"audit chain broken at entry {broken.seq}: {broken.reason}", err=True)
    if broken is not None:
        raise typer.Exit(1)


@app.command("seal")
def audit_seal(db: Db = None) -> None:
    """Vouch for unkeyed entries (written before the key, or by a keyless command): append one keyed entry.

    Check the unkeyed entries first (against a backup, or a head hash kept elsewhere): sealing says they are
    genuine, and from then on `audit verify` treats them as part of the keyed chain.
    """
    from phasegate.gates.vocabulary.errors import SecretKeyError
    from phasegate.models.audit_store import seal_audit
    from phasegate.models.keys import secret_key
    from phasegate.usecases import services
    from phasegate.usecases.guard import audit_name

    rt = runtime_for(db)
    secret_key(rt.settings)  # the one-line refusal naming the key, not a generic one
    key = rt.audit_key
    if key is None:  # pragma: no cover - secret_key raised already
        raise SecretKeyError("PHASEGATE_SECRET_KEY: audit seal needs the key")
    actor = acting(rt, None)
    services.begin_operation("audit seal", actor=actor, uow=rt.uow, now=now(), audited=False)
    with rt.sessions() as session, session.begin():
        record = seal_audit(session, key=key, actor=audit_name(actor), at=now())
    typer.echo(f"audit chain sealed at entry {record.seq}: the {record.seq - 1} entries before it are vouched for")


@app.command("head")
def audit_head_cmd(db: Db = None, as_json: Json = False) -> None:
    """Print the current chain head, to keep somewhere else."""
    from phasegate.models.audit_store import audit_head

    with runtime_for(db).read_sessions() as session:
        head = audit_head(session)
    doc = {"seq": head.seq, "hash": head.hash, "at": head.at.isoformat()} if head else {"seq": 0, "hash": None}
    if as_json:
        emit(doc)
    else:
        typer.echo(f"{doc['seq']} {doc['hash']}")


@app.command("export")
def audit_export(
    project: Annotated[str, typer.Option("--project", help="Key of the project whose gate dossier to write.")],
    out: Annotated[
        Path, typer.Option("--out", help="Directory for KEY-dossier.json and KEY-dossier.html (created if missing).")
    ] = Path("."),
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Write a project's gate dossier (JSON and HTML), every hash re-verified; exit 1 naming what is broken."""
    from phasegate.flows.dossier import write_dossier
    from phasegate.models.dossier import collect_dossier

    rt = runtime_for(db)
    with rt.read_sessions() as session:
        dossier = collect_dossier(session, project, now=now(), audit_key=rt.audit_key)
    json_path, html_path = write_dossier(dossier, out)
    if as_json:
        emit(
            {
                "project": dossier.project.key,
                "json": str(json_path),
                "html": str(html_path),
                "verified": dossier.verified,
                "chain": dossier.chain.model_dump(mode="json"),
                "problems": [problem.model_dump(mode="json") for problem in dossier.problems],
            }
        )
    elif dossier.verified:
        typer.echo(f"dossier of {dossier.project.key} written to {json_path} and {html_path}; every hash verified")
    else:
        typer.echo(f"dossier of {dossier.project.key} written to {json_path} and {html_path}", err=True)
        for problem in dossier.problems:
            typer.echo(f"broken: {problem.message}", err=True)
    if not dossier.verified:
        raise typer.Exit(1)

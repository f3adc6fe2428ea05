"""CLI: bearer tokens for the REST API (``/api/v1``). The token is printed once; only its sha256 is stored."""

from __future__ import annotations

from typing import Annotated

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, acting, emit, now, runtime_for, sub_app
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Bearer tokens for the REST API: the scope (viewer, approver, pmo) caps the roles a token carries.")


@app.command("create")
def token_create(
    person: Annotated[str, typer.Argument(metavar="PERSON")],
    role: Annotated[str, typer.Option("--role", help="viewer, approver or pmo")],
    as_person: ActFor = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Create a token for PERSON (yourself, or anyone as a pmo_admin); printed once: store it now."""
    from phasegate.models.tokens import create_token
    from phasegate.usecases.guard import audit_name
    from phasegate.usecases.people import permit_token_act

    rt = runtime_for(db)
    actor = acting(rt, as_person)
    permit_token_act(person, actor=actor, uow=rt.uow, now=now())
    with rt.sessions() as session, session.begin():
        token_id, plaintext = create_token(session, person, role, now(), by=audit_name(actor), audit_key=rt.audit_key)
    if as_json:
        emit({"id": str(token_id), "person": person, "role": role, "token": plaintext})
        return
    typer.echo(plaintext)
    typer.echo(f"token {token_id} for {person} ({role}); shown once: store it now", err=True)


@app.command("revoke")
def token_revoke(
    token_ref: Annotated[str, typer.Argument(metavar="ID")], as_person: ActFor = None, db: Db = None
) -> None:
    """Revoke a token (its person or a pmo_admin): requests bearing it get 401 from now on."""
    from uuid import UUID

    from phasegate.models.tokens import get_token, revoke
    from phasegate.usecases.guard import audit_name
    from phasegate.usecases.people import permit_token_act

    try:
        token_id = UUID(token_ref)
    except ValueError:
        raise InputError(f"ID: {token_ref!r} is not a token id (a UUID shown by 'phasegate token list')") from None
    rt = runtime_for(db)
    actor = acting(rt, as_person)
    with rt.read_sessions() as session:
        owner = get_token(session, token_id).person_id
    permit_token_act(owner, actor=actor, uow=rt.uow, now=now())
    with rt.sessions() as session, session.begin():
        record = revoke(session, token_id, now(), by=audit_name(actor), audit_key=rt.audit_key)
    typer.echo(f"token {record.id} of {record.person_id} ({record.role.value}) revoked")


@app.command("list")
def token_list(
    person: Annotated[str | None, typer.Option("--person", help="Only this person's tokens")] = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Tokens with person, role and state; never the secrets (they are not stored)."""
    from phasegate.models.tokens import list_tokens

    with runtime_for(db).read_sessions() as session:
        records = list_tokens(session, person_id=person)
    if as_json:
        emit([r.model_dump(mode="json") for r in records])
        return
    for r in records:
        state = f"revoked {r.revoked_at:%Y-%m-%d}" if r.revoked_at else "active"
        used = f"last used {r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "never used"
        typer.echo(f"{r.id}  {r.person_id:<12} {r.role.value:<8} {state:<18} {used}")

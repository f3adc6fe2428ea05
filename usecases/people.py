"""People: the persons phasegate knows, who approve, sign documents and receive notifications; and people as
actors: who a door's proof of identity names, and the PMO admin's acts on people.

Why doors resolve identity through these use cases: an OS login, an API token, an approval link and a web
sign-in all end as a person id, but only the database knows that person's current roles and whether they were
disabled. Resolving here means a refused identity (unmapped login, ``--as`` by a non-admin, a disabled person)
is audited like every other refusal, and no door grants roles the database does not hold.
"""

from __future__ import annotations

from datetime import datetime

from phasegate.gates.authorization import Act, authorize
from phasegate.gates.vocabulary.commands import AddPerson, UpdatePerson
from phasegate.gates.vocabulary.errors import AuthorizationError, ConflictError, InputError
from phasegate.gates.vocabulary.identity import Actor, AuthMethod, OrgRole
from phasegate.gates.vocabulary.snapshots import PersonSnapshot
from phasegate.usecases.guard import audit_name, permit, refusals_audited, refuse, stamp
from phasegate.usecases.lookups import require_person
from phasegate.usecases.ports import UnitOfWork
from phasegate.usecases.result import UowFactory

ANONYMOUS = "anonymous"


@refusals_audited(Act.MANAGE_PEOPLE)
def add_person(cmd: AddPerson, *, actor: Actor, uow: UowFactory, now: datetime) -> PersonSnapshot:
    person = PersonSnapshot(
        id=cmd.id,
        name=cmd.name,
        email=str(cmd.email),
        locale=cmd.locale.value,
        notify_urls=cmd.notify_urls,
        login=cmd.login,
        roles=cmd.roles,
    )
    with uow() as tx:
        permit(tx, actor, Act.MANAGE_PEOPLE, entity=f"person:{cmd.id}")
        existing = tx.people.get_person(cmd.id)
        if existing == person:
            return existing
        if existing is not None:
            raise ConflictError(f"person {cmd.id!r} already exists with other details", code="person.exists")
        require_free_login(tx, cmd.login, cmd.id)
        tx.people.add_person(person, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="person.added",
            entity=f"person:{cmd.id}",
            payload={
                "name": cmd.name,
                "locale": person.locale,
                "targets": len(cmd.notify_urls),
                "login": cmd.login,
                "roles": sorted(cmd.roles),
            }
            | stamp(actor),
            at=now,
        )
        tx.commit()
    return person


def require_free_login(tx: UnitOfWork, login: str | None, person_id: str) -> None:
    """One OS login maps to one person: the CLI could not tell who acts otherwise."""
    if login is None:
        return
    holder = tx.people.person_by_login(login)
    if holder is not None and holder.id != person_id:
        raise ConflictError(f"--login: {login!r} is already the login of {holder.id}", code="person.login_taken")


def login_actor(
    login: str, *, as_person: str | None, uow: UowFactory, now: datetime, reader: UowFactory | None = None
) -> Actor:
    """The actor behind a CLI call: the person mapped to the OS ``login``, or the one a PMO admin acts for.

    Refusals (an unmapped login, a disabled person, ``--as`` by someone who is not a PMO admin, ``--as`` an
    unknown or disabled person) are audited (through ``uow``) and raised as ``AuthorizationError``; ``reader``,
    when given, serves the lookup, so resolving who acts never waits for a writer.
    """
    entity = f"login:{login}"
    with (reader or uow)() as tx:
        me = tx.people.person_by_login(login)
        target = tx.people.get_person(as_person) if as_person is not None else None
    stranger = Actor(person_id=ANONYMOUS, method=AuthMethod.OS_LOGIN)
    try:
        if me is None:
            raise AuthorizationError(
                f"the OS login {login!r} is not mapped to a person; a PMO admin maps it with "
                f"'phasegate person update PERSON --login {login}' (or, before any admin exists, create the first "
                f"one: 'phasegate person add ID --name NAME --email EMAIL --login {login} --role pmo_admin')",
                code="auth.unmapped_login",
            )
        stranger = _actor(me, AuthMethod.OS_LOGIN)
        if me.disabled:
            raise AuthorizationError(
                f"{me.id} (login {login!r}) is disabled and can no longer act", code="auth.disabled"
            )
        if as_person is None or as_person == me.id:
            return stranger
        if OrgRole.PMO_ADMIN not in me.roles:
            raise AuthorizationError(
                f"--as {as_person}: only a pmo_admin may act for another person; {me.id} acts as themselves "
                "(leave out --as)",
                code="auth.act_for",
            )
        if target is None:
            raise AuthorizationError(f"--as: unknown person {as_person!r}", code="auth.unknown_person")
        if target.disabled:
            raise AuthorizationError(f"--as: {target.id} is disabled and can no longer act", code="auth.disabled")
        return _actor(target, AuthMethod.OS_LOGIN, acting_admin=me.id)
    except AuthorizationError as refused:
        refuse(
            uow,
            actor=stranger,
            entity=entity,
            why=refused.message,
            code=refused.code,
            now=now,
            payload={"login": login, "as": as_person},
        )
        raise


def person_actor(
    person_id: str,
    *,
    method: AuthMethod,
    uow: UowFactory,
    now: datetime,
    within: frozenset[OrgRole] | None = None,
    reader: UowFactory | None = None,
) -> Actor:
    """The actor for a person a door has already proved (a token's owner, a link's approver).

    ``within`` limits the person's current roles to what the credential was issued for (a token's scope).
    A disabled or deleted person is refused and the refusal audited (through ``uow``; ``reader``, when given,
    serves the lookup so a request that only reads never waits for a writer).
    """
    with (reader or uow)() as tx:
        person = tx.people.get_person(person_id)
    actor = Actor(person_id=person_id, method=method)
    if person is None or person.disabled:
        why = f"{person_id} is disabled and can no longer act" if person else f"unknown person {person_id!r}"
        code = "auth.disabled" if person else "auth.unknown_person"
        refuse(uow, actor=actor, entity=f"person:{person_id}", why=why, code=code, now=now)
        raise AuthorizationError(why, code=code)
    roles = person.roles if within is None else person.roles & within
    return _actor(person, method).model_copy(update={"roles": roles})


def claimed_actor(actor: Actor, claimed: str | None, *, uow: UowFactory, now: datetime) -> Actor:
    """The actor a credential proved, when a client also claims to act as ``claimed`` (the CLI's ``--as``).

    Why a credential's person is final: a token or a session proves one person; naming another is a claim
    nothing backs, even for a PMO admin (who acts for someone from the server's own CLI, where the OS login
    is proved). So a different ``claimed`` is refused, and the refusal audited as the credential's person:
    it is an attempt to act as someone else, and the server is where the audit log is.
    """
    if claimed is None or claimed == actor.person_id:
        return actor
    shown = (claimed if claimed.isascii() and claimed.isprintable() else ascii(claimed))[:64]  # safe to log
    why = (
        f"--as {shown}: through the server you act as {actor.person_id} (the token's person), not {shown}; "
        f"to act as {shown}, log in with their token"
    )
    refuse(
        uow,
        actor=actor,
        entity=f"person:{shown}",
        why=why,
        code="auth.act_for",
        now=now,
        payload={"as": shown},
    )
    raise AuthorizationError(why, code="auth.act_for")


def _actor(person: PersonSnapshot, method: AuthMethod, *, acting_admin: str | None = None) -> Actor:
    return Actor(person_id=person.id, roles=person.roles, method=method, acting_admin=acting_admin)


def awaiting_first_admin(*, uow: UowFactory) -> bool:
    """True while no enabled PMO admin exists: only then may the first one be created by ``bootstrap_admin``."""
    with uow() as tx:
        return not tx.people.people_with_role(OrgRole.PMO_ADMIN)


def bootstrap_admin(cmd: AddPerson, *, login: str, uow: UowFactory, now: datetime) -> PersonSnapshot:
    """The first PMO admin, created by the OS user who will be them, while no PMO admin exists.

    Why: someone has to be first. Only the local OS user can do it, only for their own login, and only once:
    as soon as any enabled pmo_admin exists, people are added by an admin like everything else.
    """
    person = PersonSnapshot(
        id=cmd.id,
        name=cmd.name,
        email=str(cmd.email),
        locale=cmd.locale.value,
        notify_urls=cmd.notify_urls,
        login=cmd.login,
        roles=cmd.roles,
    )
    actor = Actor(person_id=cmd.id, roles=frozenset({OrgRole.PMO_ADMIN}), method=AuthMethod.OS_LOGIN)
    try:
        if cmd.login != login or OrgRole.PMO_ADMIN not in cmd.roles:
            raise AuthorizationError(
                f"the OS login {login!r} is not mapped to a person, and no PMO admin exists yet: the first person "
                f"added must be the admin mapped to this login ('--login {login} --role pmo_admin')",
                code="auth.bootstrap",
            )
        with uow() as tx:
            if tx.people.people_with_role(OrgRole.PMO_ADMIN):
                raise AuthorizationError(
                    f"a PMO admin already exists; ask them to map the OS login {login!r} "
                    f"('phasegate person update PERSON --login {login}')",
                    code="auth.unmapped_login",
                )
            if tx.people.get_person(cmd.id) is not None:
                raise ConflictError(f"person {cmd.id!r} already exists", code="person.exists")
            require_free_login(tx, cmd.login, cmd.id)
            tx.people.add_person(person, now=now)
            tx.append_audit(
                actor=cmd.id,
                action="person.added",
                entity=f"person:{cmd.id}",
                payload={"name": cmd.name, "login": cmd.login, "roles": sorted(cmd.roles), "bootstrap": True}
                | stamp(actor),
                at=now,
            )
            tx.commit()
    except AuthorizationError as refused:
        refuse(
            uow,
            actor=Actor(person_id=ANONYMOUS, method=AuthMethod.OS_LOGIN),
            entity=f"login:{login}",
            why=refused.message,
            code=refused.code,
            now=now,
            payload={"login": login, "act": "bootstrap"},
        )
        raise
    return person


@refusals_audited(Act.MANAGE_PEOPLE)
def update_person(cmd: UpdatePerson, *, actor: Actor, uow: UowFactory, now: datetime) -> PersonSnapshot:
    """Change a person's details, login or roles (PMO admin); ``enable`` re-enables a disabled person."""
    with uow() as tx:
        permit(tx, actor, Act.MANAGE_PEOPLE, entity=f"person:{cmd.id}")
        before = require_person(tx, cmd.id, field="ID")
        if cmd.login is not None and cmd.clear_login:
            raise InputError("--login and --no-login: give one of them")
        changes: dict[str, object] = {
            key: value
            for key, value in {
                "name": cmd.name,
                "email": str(cmd.email) if cmd.email is not None else None,
                "locale": cmd.locale.value if cmd.locale is not None else None,
                "notify_urls": cmd.notify_urls,
                "login": cmd.login,
                "roles": cmd.roles,
            }.items()
            if value is not None
        }
        if cmd.clear_login:
            changes["login"] = None
        if cmd.enable:
            changes["disabled"] = False
        after = before.model_copy(update=changes)
        if after.id == actor.person_id and OrgRole.PMO_ADMIN not in after.roles and not _other_admins(tx, actor):
            raise ConflictError(
                "--role: you are the last PMO admin; make someone else pmo_admin before dropping the role",
                code="person.last_admin",
            )
        require_free_login(tx, after.login, after.id)
        if after == before:
            return before
        tx.people.update_person(after)
        tx.append_audit(
            actor=audit_name(actor),
            action="person.updated",
            entity=f"person:{cmd.id}",
            payload={
                "changed": sorted(k for k in changes if getattr(before, k) != getattr(after, k)),
                "login": after.login,
                "roles": sorted(after.roles),
                "disabled": after.disabled,
            }
            | stamp(actor),
            at=now,
        )
        tx.commit()
    return after


@refusals_audited(Act.MANAGE_PEOPLE)
def disable_person(person_id: str, *, actor: Actor, reason: str, uow: UowFactory, now: datetime) -> PersonSnapshot:
    """Stop a person acting by any door (CLI, API tokens, approval links), and from being seated in new rounds.

    Their past acts stand; open rounds where they hold a seat keep it (reassign it with ``rounds reassign``).
    """
    if not reason.strip():
        raise InputError("--reason: disabling a person needs a reason")
    with uow() as tx:
        permit(tx, actor, Act.MANAGE_PEOPLE, entity=f"person:{person_id}")
        before = require_person(tx, person_id, field="ID")
        if before.disabled:
            raise ConflictError(f"{person_id} is already disabled", code="person.disabled")
        if person_id == actor.person_id:
            raise ConflictError("ID: you cannot disable yourself; ask another PMO admin", code="person.self")
        after = before.model_copy(update={"disabled": True})
        tx.people.update_person(after)
        tx.append_audit(
            actor=audit_name(actor),
            action="person.disabled",
            entity=f"person:{person_id}",
            payload={"reason": reason} | stamp(actor),
            at=now,
        )
        tx.commit()
    return after


def _other_admins(tx: UnitOfWork, actor: Actor) -> bool:
    return any(p != actor.person_id for p in tx.people.people_with_role(OrgRole.PMO_ADMIN))


def get_person(person_id: str, *, uow: UowFactory, actor: Actor | None = None) -> PersonSnapshot:
    """A person; for an ``actor`` who is neither that person nor a PMO admin, without their contact details.

    Why withheld rather than refused: every reader needs names and roles (who sits on which gate), but an email,
    a login or a notification URL (which may carry a webhook token) helps only phishing and account guessing.
    Withheld fields are empty: ``email`` "", ``login`` None, ``notify_urls`` ().
    """
    with uow() as tx:
        person = require_person(tx, person_id, field="ID")
    if actor is None:
        return person
    try:
        authorize(actor, Act.READ_CONTACT, subject=person.id)
    except AuthorizationError:
        return person.model_copy(update={"email": "", "login": None, "notify_urls": ()})
    return person


@refusals_audited(Act.MANAGE_TOKENS)
def permit_token_act(person_id: str, *, actor: Actor, uow: UowFactory, now: datetime) -> None:
    """May the actor create or revoke an API token of ``person_id``? (A pmo_admin, or the person themselves.)

    Tokens are stored by their own adapter (``models.tokens``); this is the use case's check before it writes.
    A disabled person gets no new token.
    """
    with uow() as tx:
        permit(tx, actor, Act.MANAGE_TOKENS, subject=person_id, entity=f"person:{person_id}")
        if require_person(tx, person_id, field="PERSON").disabled:
            raise ConflictError(
                f"PERSON: {person_id} is disabled; a disabled person has no tokens", code="person.disabled"
            )


@refusals_audited(Act.MANAGE_CREDENTIALS)
def permit_credentials_act(person_id: str, *, actor: Actor, uow: UowFactory, now: datetime) -> None:
    """May the actor set ``person_id``'s web password or one-time-code secret? (A pmo_admin, or the person.)

    Why it is checked: a password set for someone else is a web sign-in as them, and a Part 11 signature in
    their name. Credentials are stored by their own adapter (``models.credentials``); this is the use case's
    check before it writes, refused and audited like every other act. A disabled person gets no credentials.
    """
    with uow() as tx:
        permit(tx, actor, Act.MANAGE_CREDENTIALS, subject=person_id, entity=f"person:{person_id}")
        if require_person(tx, person_id, field="PERSON").disabled:
            raise ConflictError(
                f"PERSON: {person_id} is disabled; a disabled person cannot sign in", code="person.disabled"
            )

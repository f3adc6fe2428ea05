"""Issue #12: the audit chain is keyed (HMAC-SHA256 under a key derived from the secret key, kept outside the
database), so whoever can write the database can no longer edit a row and recompute the chain after it.

On SQLite and PostgreSQL, through the real ``phasegate audit verify``; the key is the test session's
``PHASEGATE_SECRET_KEY`` (tests/conftest.py), from which ``TEST_AUDIT_KEY`` is derived exactly as the CLI does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from phasegate.flows.cli.common import os_login
from phasegate.gates.audit import GENESIS_HASH, KEYED, UNKEYED, build_chain, entry_hash, verify_chain
from phasegate.gates.vocabulary.errors import AuditKeyError
from phasegate.models import schema
from phasegate.models.audit_store import AuditDraft, append_audit_entries, iter_audit
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.keys import derive_audit_key
from phasegate.models.tables import AuditEntry, Person
from tests.actors import bootstrap_admin_args
from tests.conftest import TEST_AUDIT_KEY

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def append(sessions: sessionmaker[Session], count: int, *, key: bytes | None, start: int = 0) -> None:
    drafts = [
        AuditDraft(
            actor="pam",
            action="vote.cast",
            entity=f"round:{n}",
            payload={"decision": "go", "n": n},
            at=T0 + timedelta(minutes=n),
        )
        for n in range(start, start + count)
    ]
    with sessions() as session, session.begin():
        append_audit_entries(session, drafts, key=key)


def verify(db_url: str, *, key: bool = True, expect: int) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if not key:
        env.pop("PHASEGATE_SECRET_KEY")
        env["PHASEGATE_HOME"] = str(Path(env["PHASEGATE_HOME"]) / "no-key-here")
    done = subprocess.run(
        [PHASEGATE, "audit", "verify", "--db", db_url], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def rewrite(sessions: sessionmaker[Session], *, edit_seq: int, key: bytes | None) -> None:
    """What an attacker with write access does: edit one entry, then recompute every hash from it on."""
    with sessions() as session, session.begin():
        records = list(iter_audit(session))
        prev = GENESIS_HASH
        for record in records:
            payload = dict(record.payload)
            if record.seq == edit_seq:
                payload["decision"] = "kill"
            digest = entry_hash(
                seq=record.seq,
                at=record.at,
                actor=record.actor,
                action=record.action,
                entity=record.entity,
                payload=payload,
                prev_hash=prev,
                key=key,
            )
            session.execute(
                update(AuditEntry)
                .where(AuditEntry.seq == record.seq)
                .values(payload=payload, prev_hash=prev, hash=digest, scheme=UNKEYED if key is None else KEYED)
            )
            prev = digest


@pytest.mark.parametrize(
    "forger_key", [None, b"a guessed key, not the installation's one"], ids=["unkeyed", "wrong-key"]
)
def test_an_edited_row_with_a_recomputed_chain_fails_verify(
    db_url: str, sessions: sessionmaker[Session], forger_key: bytes | None
) -> None:
    append(sessions, 6, key=TEST_AUDIT_KEY)
    intact = verify(db_url, expect=0)
    assert "intact: 6 entries" in intact.stdout and "not keyed" not in intact.stderr

    rewrite(sessions, edit_seq=3, key=forger_key)
    with sessions() as session:  # the forgery is self-consistent: a plain sha256 chain would pass
        assert verify_chain(iter_audit(session), key=forger_key) is None

    broken = verify(db_url, expect=1)
    expected = "entries 1 to 6 are not keyed" if forger_key is None else "entry 1 was edited"
    assert expected in broken.stderr, broken.stderr


def test_the_untouched_keyed_chain_passes_and_needs_the_key(db_url: str, sessions: sessionmaker[Session]) -> None:
    append(sessions, 3, key=TEST_AUDIT_KEY)
    verify(db_url, expect=0)
    refused = verify(db_url, key=False, expect=2)
    assert "PHASEGATE_SECRET_KEY" in refused.stderr and "keyed" in refused.stderr
    with pytest.raises(AuditKeyError, match="keyed"):  # an unkeyed entry may never follow a keyed one
        append(sessions, 1, key=None, start=3)
    with sessions() as session:
        assert [r.scheme for r in iter_audit(session)] == [KEYED] * 3


def test_a_downgraded_tail_is_caught(db_url: str, sessions: sessionmaker[Session]) -> None:
    """Rows appended around the appender (raw SQL, unkeyed) after keyed ones are a break, not a legacy prefix."""
    append(sessions, 2, key=TEST_AUDIT_KEY)
    (forged,) = build_chain([(T0, "eve", "vote.cast", "round:x", {"decision": "kill"})])
    with sessions() as session, session.begin():
        head = session.execute(select(AuditEntry.hash).where(AuditEntry.seq == 2)).scalar_one()
        digest = entry_hash(
            seq=3, at=T0, actor="eve", action="vote.cast", entity="round:x", payload=forged.payload, prev_hash=head
        )
        session.execute(
            insert(AuditEntry),
            {
                "seq": 3,
                "at": T0,
                "actor": "eve",
                "action": "vote.cast",
                "entity": "round:x",
                "payload": forged.payload,
                "prev_hash": head,
                "hash": digest,
                "scheme": UNKEYED,
            },
        )
    assert "entry 3 is unkeyed but follows keyed entries" in verify(db_url, expect=1).stderr


def test_a_chain_written_before_keys_stays_verifiable_and_is_sealed_by_a_person(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    append(sessions, 4, key=None)  # an installation without a key (or before this change)
    keyless = verify(db_url, key=False, expect=0)
    assert "intact: 4 entries" in keyless.stdout and "not keyed" in keyless.stderr
    # With the key, an unkeyed tail cannot be told from a chain recomputed without it: a person must vouch.
    assert "'phasegate audit seal'" in verify(db_url, expect=1).stderr
    with sessions() as session, session.begin():  # vouching is the PMO admin's act: the OS login maps to one
        session.add(Person(id="ada", name="Ada", email="ada@example.com", login=os_login(), org_roles=["pmo_admin"]))
    done = subprocess.run([PHASEGATE, "audit", "seal", "--db", db_url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "sealed at entry 5" in done.stdout, done.stderr
    verify(db_url, expect=0)
    append(sessions, 2, key=TEST_AUDIT_KEY, start=10)
    verify(db_url, expect=0)
    with sessions() as session:
        schemes = [r.scheme for r in iter_audit(session)]
        actions = [r.action for r in iter_audit(session)]
    assert schemes == [UNKEYED] * 4 + [KEYED] * 3 and actions[4] == "audit.sealed"
    with sessions() as session:
        assert session.scalar(select(AuditEntry.actor).where(AuditEntry.seq == 5)) == "ada"
    # Editing a sealed unkeyed entry and recomputing the unkeyed prefix breaks the seal's link.
    rewrite_prefix(sessions, edit_seq=2, upto=4)
    assert "entry 5 does not follow its predecessor" in verify(db_url, expect=1).stderr


def rewrite_prefix(sessions: sessionmaker[Session], *, edit_seq: int, upto: int) -> None:
    with sessions() as session, session.begin():
        prev = GENESIS_HASH
        for record in list(iter_audit(session))[:upto]:
            payload = dict(record.payload) | ({"decision": "kill"} if record.seq == edit_seq else {})
            digest = entry_hash(
                seq=record.seq,
                at=record.at,
                actor=record.actor,
                action=record.action,
                entity=record.entity,
                payload=payload,
                prev_hash=prev,
            )
            session.execute(
                update(AuditEntry)
                .where(AuditEntry.seq == record.seq)
                .values(payload=payload, prev_hash=prev, hash=digest)
            )
            prev = digest


def test_migration_0008_keeps_existing_entries_verifiable(empty_sqlite_url: str) -> None:
    """A database with a chain from before 0008: its rows become scheme sha256 and verify as they did."""
    url = empty_sqlite_url
    schema.upgrade(url, "0004")
    chain = build_chain([(T0 + timedelta(minutes=n), "pam", "vote.cast", f"round:{n}", {"n": n}) for n in range(3)])
    engine = make_engine(url)
    try:
        with engine.begin() as connection:  # the columns of 0004: no scheme yet
            connection.execute(insert(AuditEntry), [r.model_dump(exclude={"scheme"}) for r in chain])
    finally:
        engine.dispose()
    schema.upgrade(url)
    sessions = make_session_factory(make_engine(url))
    with sessions() as session:
        stored = list(iter_audit(session))
    assert [r.scheme for r in stored] == [UNKEYED] * 3
    assert verify_chain(stored) is None
    assert "not keyed" in verify(url, key=False, expect=0).stderr
    append(sessions, 1, key=TEST_AUDIT_KEY, start=3)  # the first keyed entry seals what came before
    verify(url, expect=0)


def test_the_audit_key_is_hkdf_of_the_secret_key_and_fixed() -> None:
    """The documented derivation (docs/security.md), written out with the standard library alone."""
    import hashlib
    import hmac

    secret = os.environ["PHASEGATE_SECRET_KEY"].encode()
    prk = hmac.new(b"\0" * 32, secret, hashlib.sha256).digest()  # RFC 5869 extract, no salt
    okm = hmac.new(prk, b"phasegate.audit-chain.v1" + b"\x01", hashlib.sha256).digest()  # expand, one block
    assert derive_audit_key(secret.decode()) == okm == TEST_AUDIT_KEY
    assert derive_audit_key("another key of at least thirty-two bytes!") != okm


def test_keyed_chains_in_the_pure_domain() -> None:
    """gates.audit takes the key as a value: right key passes, wrong key is an edit, no key cannot decide."""
    entries = [(T0 + timedelta(seconds=n), "pam", "vote.cast", f"round:{n}", {"n": n}) for n in range(4)]
    keyed = build_chain(entries, key=TEST_AUDIT_KEY)
    assert {r.scheme for r in keyed} == {KEYED} and verify_chain(keyed, key=TEST_AUDIT_KEY) is None
    wrong = verify_chain(keyed, key=derive_audit_key("z" * 40))
    assert wrong is not None and (wrong.seq, wrong.kind) == (1, "edited")
    with pytest.raises(AuditKeyError, match="PHASEGATE_SECRET_KEY"):
        verify_chain(keyed)
    plain = build_chain(entries)
    assert verify_chain(plain) is None
    tail = verify_chain(plain, key=TEST_AUDIT_KEY)
    assert tail is not None and (tail.seq, tail.kind) == (1, "unkeyed")
    # The same content gives different hashes under the two schemes: neither can stand in for the other.
    assert not {r.hash for r in keyed} & {r.hash for r in plain}


def test_token_commands_append_keyed_entries(db_url: str, sessions: sessionmaker[Session]) -> None:
    """`token create` / `token revoke` write the audit log themselves: they must key it too."""
    env = dict(os.environ)

    def cli(*args: str) -> str:
        done = subprocess.run([PHASEGATE, *args, "--db", db_url], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli(*bootstrap_admin_args("sam"))  # the first person is the PMO admin mapped to this login
    created = __import__("json").loads(cli("token", "create", "sam", "--role", "viewer", "--json"))
    cli("token", "revoke", created["id"])
    verify(db_url, expect=0)
    with sessions() as session:
        assert [(r.action, r.scheme) for r in iter_audit(session)][-2:] == [
            ("token.created", KEYED),
            ("token.revoked", KEYED),
        ]

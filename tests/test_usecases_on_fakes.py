"""Use cases on in-memory fake repositories (``tests.fakes``): the unit tier's checks of authorization, input
rules and the one-transaction promise, in milliseconds. The same use cases run on SQLite and PostgreSQL in
the integration tests (test_approvals, test_authorization, test_cli)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from phasegate.gates.vocabulary.commands import Delegate
from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import OrgRole
from phasegate.gates.vocabulary.snapshots import ConditionRecord, DelegationRecord, PersonSnapshot, ProjectSnapshot
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.usecases.conditions import resolve_condition
from phasegate.usecases.delegations import delegate, list_delegations, revoke_delegation
from tests.actors import admin, person
from tests.fakes import FakeUnitOfWork, Store

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    store = Store()
    with FakeUnitOfWork(store) as tx:
        for pid, roles in {
            "admin": {OrgRole.PMO_ADMIN},
            "sam": {OrgRole.GATEKEEPER},
            "fin": {OrgRole.GATEKEEPER},
            "pam": frozenset(),
        }.items():
            tx.people.add_person(
                PersonSnapshot(id=pid, name=pid.title(), email=f"{pid}@example.com", locale="en", roles=roles),
                now=NOW,
            )
        template = next(t for _, t in shipped_templates() if t.id == "it-pmo")
        tx.templates.add_template(template, content_hash=template_content_hash(template), source="test", now=NOW)
        tx.projects.add_project(
            ProjectSnapshot(
                key="CRM",
                name="CRM",
                template_id=template.id,
                template_version=template.version,
                template_hash=template_content_hash(template),
                sponsor_id="sam",
                manager_id="pam",
                budget=Decimal(100_000),
                currency="EUR",
                status=ProjectStatus.ACTIVE,
                stage_id=template.stages[0].id,
                recycle_count=0,
            ),
            now=NOW,
        )
        tx.commit()
    return store


def _uow(store: Store) -> FakeUnitOfWork:
    return FakeUnitOfWork(store)


def _delegation(principal: str = "sam", to: str = "fin", **extra: str) -> Delegate:
    return Delegate(
        principal_id=principal, delegate_id=to, valid_from=date(2026, 12, 7), valid_to=date(2026, 12, 31), **extra
    )


def test_leaving_a_fake_transaction_without_commit_keeps_nothing(store: Store) -> None:
    with FakeUnitOfWork(store) as tx:
        tx.append_audit(actor="x", action="probe", entity="e", payload={}, at=NOW)
        record = DelegationRecord(
            id=uuid4(), principal_id="sam", delegate_id="fin", valid_from=date(2026, 12, 7), valid_to=date(2026, 12, 8)
        )
        tx.delegations.add_delegation(record, now=NOW)
        assert tx.delegations.get_delegation(record.id) is not None
    assert store.audit == [] and store.delegations == {}


def test_a_principal_delegates_their_own_seat_and_it_is_audited(store: Store) -> None:
    record = delegate(_delegation(), actor=person("sam"), uow=lambda: _uow(store), now=NOW)

    assert [d.id for d in list_delegations(uow=lambda: _uow(store), person_id="fin")] == [record.id]
    assert store.actions() == ["delegation.granted"]
    assert store.audit[0]["payload"]["auth_method"] == "os_login"


def test_delegating_someone_elses_seat_is_refused_audited_and_writes_nothing_else(store: Store) -> None:
    with pytest.raises(PermissionDeniedError):
        delegate(_delegation(principal="sam"), actor=person("fin"), uow=lambda: _uow(store), now=NOW)

    assert store.delegations == {}
    assert store.actions() == ["security.refused"]
    assert store.audit[0]["actor"] == "fin" and store.audit[0]["entity"] == "person:sam"


def test_a_pmo_admin_may_delegate_for_a_principal(store: Store) -> None:
    delegate(_delegation(principal="sam"), actor=admin(), uow=lambda: _uow(store), now=NOW)

    assert [d.principal_id for d in store.delegations.values()] == ["sam"]


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        ({"gate_id": "ready-for-planning"}, InputError, "--gate needs --template"),
        ({"template_id": "nope"}, NotFoundError, "--template: unknown template 'nope'"),
        ({"template_id": "it-pmo", "gate_id": "nope"}, InputError, "--gate: 'nope' is not a gate of it-pmo"),
    ],
)
def test_a_delegation_with_a_bad_scope_names_the_option_and_writes_nothing(
    store: Store, extra: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        delegate(_delegation(**extra), actor=person("sam"), uow=lambda: _uow(store), now=NOW)

    assert store.delegations == {} and store.audit == []


def test_revoking_is_the_principals_act_and_happens_once(store: Store) -> None:
    record = delegate(_delegation(), actor=person("sam"), uow=lambda: _uow(store), now=NOW)

    with pytest.raises(PermissionDeniedError):
        revoke_delegation(record.id, actor=person("fin"), uow=lambda: _uow(store), now=NOW)
    assert not store.delegations[record.id].revoked

    revoke_delegation(record.id, actor=person("sam"), uow=lambda: _uow(store), now=NOW)
    with pytest.raises(ConflictError, match="already revoked"):
        revoke_delegation(record.id, actor=person("sam"), uow=lambda: _uow(store), now=NOW)

    assert store.delegations[record.id].revoked
    assert store.actions() == ["delegation.granted", "security.refused", "delegation.revoked"]


def _condition(store: Store, verification: str = "gatekeeper") -> ConditionRecord:
    record = ConditionRecord(
        id=uuid4(),
        project_key="CRM",
        round_id=uuid4(),
        gate_id="ready-for-planning",
        text="Sign the vendor contract",
        owner_id="pam",
        due_on=date(2026, 12, 20),
        verification=verification,
        status="open",
    )
    with FakeUnitOfWork(store) as tx:
        tx.conditions.add_conditions([record], now=NOW)
        tx.commit()
    return record


def test_the_named_verifier_closes_a_condition_and_nobody_else_may(store: Store) -> None:
    condition = _condition(store, verification="verifier:fin")

    with pytest.raises(PermissionDeniedError, match="verified by fin, not sam"):
        resolve_condition(condition.id, actor=person("sam"), met=True, uow=lambda: _uow(store), now=NOW)
    assert store.conditions[condition.id].status == "open"

    closed = resolve_condition(condition.id, actor=person("fin"), met=False, uow=lambda: _uow(store), now=NOW)

    assert closed.status == store.conditions[condition.id].status == "missed"
    assert store.actions() == ["security.refused", "condition.missed"]


def test_the_projects_manager_never_verifies_their_own_condition(store: Store) -> None:
    condition = _condition(store)

    with pytest.raises(PermissionDeniedError):
        resolve_condition(
            condition.id,
            actor=person("pam", OrgRole.GATEKEEPER),
            met=True,
            uow=lambda: _uow(store),
            now=NOW,
        )

    assert store.conditions[condition.id].status == "open"
    assert store.actions() == ["security.refused"]

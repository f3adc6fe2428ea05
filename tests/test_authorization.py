"""Trust: one authenticated actor and one authorization check, in the use cases, on SQLite and PostgreSQL.

The matrix is proven pure first; then every refusal the issue names is made through the real use cases on a
real database, and its audit entry is read back (who tried, how they were identified, what was needed).
The allowed paths run beside each refusal, so a check that refused everything would fail too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from phasegate.gates.authorization import MATRIX, Act, authorize, check_sponsor_and_manager
from phasegate.gates.vocabulary.commands import (
    AddPerson,
    CastVote,
    CreateProject,
    Delegate,
    RecordCost,
    RegisterDocument,
    RequestReview,
    UpdatePerson,
    UpdateProject,
)
from phasegate.gates.vocabulary.enums import Decision, RoundStatus
from phasegate.gates.vocabulary.errors import AuthorizationError, ConflictError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, Actor, AuthMethod, OrgRole
from phasegate.gates.vocabulary.snapshots import ConditionSpec, ProjectSnapshot
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import approvals, people, services
from phasegate.usecases.ports import UnitOfWork
from tests import actors
from tests.gatekeeping import TWO_OF_THREE, add_ready_project, probe, variant

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ROLES = {
    "admin": OrgRole.PMO_ADMIN,
    "sam": OrgRole.GATEKEEPER,
    "fin": OrgRole.GATEKEEPER,
    "pam": OrgRole.GATEKEEPER,
    "dee": OrgRole.GATEKEEPER,
    "mgr": OrgRole.MANAGER,
    "viv": OrgRole.VIEWER,
}


# ------------------------------------------------------------------------------------------------ pure matrix
PROJECT = ProjectSnapshot(
    key="P1",
    name="P1",
    template_id="it-pmo",
    template_version=1,
    template_hash="0" * 64,
    sponsor_id="sam",
    manager_id="mgr",
    budget=Decimal(1),
    currency="USD",
    status="active",
    stage_id="initiating",
    recycle_count=0,
)


def who(person_id: str, *roles: OrgRole) -> Actor:
    return Actor(person_id=person_id, roles=frozenset(roles), method=AuthMethod.OS_LOGIN)


@pytest.mark.parametrize(
    ("actor", "act", "allowed"),
    [
        (who("mgr", OrgRole.MANAGER), Act.WRITE_EVIDENCE, True),  # the project's own manager
        (who("bob", OrgRole.MANAGER), Act.WRITE_EVIDENCE, False),  # another project's manager
        (who("mgr", OrgRole.MANAGER), Act.REQUEST_REVIEW, True),
        (who("sam", OrgRole.GATEKEEPER), Act.REQUEST_REVIEW, True),  # the sponsor
        (who("mgr", OrgRole.GATEKEEPER, OrgRole.PMO_ADMIN), Act.SCORE, False),  # never their own project
        (who("sam", OrgRole.GATEKEEPER), Act.SCORE, True),
        (who("mgr", OrgRole.PMO_ADMIN), Act.VERIFY_CONDITION, False),
        (who("admin", OrgRole.PMO_ADMIN), Act.MANAGE_PEOPLE, True),
        (who("sam", OrgRole.GATEKEEPER), Act.MANAGE_PEOPLE, False),
        (who("viv", OrgRole.VIEWER), Act.READ, True),
        (who("viv", OrgRole.VIEWER), Act.VOTE, False),
        (who("sam", OrgRole.GATEKEEPER), Act.CANCEL_ROUND, False),
        (who("sam", OrgRole.GATEKEEPER), Act.RESUME_PROJECT, True),  # the sponsor resumes
        (who("fin", OrgRole.GATEKEEPER), Act.RESUME_PROJECT, False),
        (SYSTEM_ACTOR, Act.REASSIGN_ROUND, True),
    ],
)
def test_the_matrix_allows_roles_and_relationships_and_forbids_judging_ones_own_project(
    actor: Actor, act: Act, allowed: bool
) -> None:
    if allowed:
        authorize(actor, act, project=PROJECT)
        return
    with pytest.raises(AuthorizationError) as refused:
        authorize(actor, act, project=PROJECT)
    assert refused.value.code in ("auth.role", "auth.conflict_of_interest")
    assert actor.person_id in refused.value.message


def test_every_act_has_a_rule_and_a_read_only_credential_only_reads() -> None:
    assert set(MATRIX) == set(Act)
    viewer_token = who("admin", OrgRole.PMO_ADMIN).model_copy(update={"read_only": True})
    authorize(viewer_token, Act.READ)
    with pytest.raises(AuthorizationError, match="read-only"):
        authorize(viewer_token, Act.MANAGE_PEOPLE)
    with pytest.raises(AuthorizationError, match="two different people") as same:
        check_sponsor_and_manager("sam", "sam")
    assert same.value.code == "auth.sponsor_is_manager"


def test_a_refusal_names_what_the_act_needs() -> None:
    with pytest.raises(AuthorizationError) as refused:
        authorize(who("bob", OrgRole.VIEWER), Act.WRITE_EVIDENCE, project=PROJECT)
    assert "pmo_admin" in refused.value.message and "the project's manager" in refused.value.message


# ------------------------------------------------------------------------------------------------ use cases
class World:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.now = T0

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def audit(self) -> list[t.AuditEntry]:
        with self.sessions() as session:
            return list(session.scalars(select(t.AuditEntry).order_by(t.AuditEntry.seq)))

    def last_refusal(self) -> t.AuditEntry:
        refused = [e for e in self.audit() if e.action in ("security.refused", "vote.refused")]
        assert refused, "no refusal was audited"
        return refused[-1]

    def refused(self, call: Any, *, code: str = "auth.role", by: str) -> dict[str, Any]:
        """Run ``call``, expect a permission refusal with ``code``; return the refusal's audit payload."""
        before = len(self.audit())
        with pytest.raises(PermissionDeniedError) as refused:
            call()
        assert refused.value.code == code, refused.value.message
        entries = self.audit()
        assert len(entries) == before + 1, "exactly one audit entry: the refusal, nothing else"
        entry = entries[-1]
        assert entry.actor == by and entry.action == "security.refused"
        assert entry.payload["code"] == code and entry.payload["auth_method"] == "os_login"
        return dict(entry.payload)


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    w = World(db_url)
    text, template = variant(TWO_OF_THREE, "it-2of3")
    services.publish_template(
        template,
        content_hash=template_content_hash(template),
        source=text,
        actor=SYSTEM_ACTOR,
        uow=w.uow,
        now=w.tick(),
    )
    for pid, role in ROLES.items():
        services.add_person(
            AddPerson(
                id=pid,
                name=pid.title(),
                email=f"{pid}@example.com",
                roles=frozenset({role}),
                notify_urls=(f"json://127.0.0.1:9/{pid}",),
            ),
            actor=SYSTEM_ACTOR,
            uow=w.uow,
            now=w.tick(),
        )
    yield w
    w.engine.dispose()


def _as(pid: str) -> Actor:
    return actors.person(pid, ROLES[pid])


def _round(w: World, key: str) -> UUID:
    add_ready_project(w.uow, w.tick, key)
    review = services.start_review(
        RequestReview(project_key=key), actor=_as("mgr"), uow=w.uow, now=w.tick(), probe=probe
    )
    assert review.round_id is not None, review.evaluation.reasons
    return review.round_id


def _vote(w: World, round_id: UUID, voter: str, decision: Decision, **extra: Any) -> approvals.VoteResult:
    reason = "" if decision is Decision.GO else "because"
    return approvals.cast_vote(
        CastVote(round_id=round_id, voter_id=voter, decision=decision, reason=reason, **extra),
        actor=_as(voter),
        uow=w.uow,
        now=w.tick(),
        probe=probe,
    )


def test_reassign_and_cancel_are_the_pmo_admins_and_cancel_tells_the_approvers(world: World) -> None:
    round_id = _round(world, "R1")
    payload = world.refused(
        lambda: approvals.reassign_seat(
            round_id,
            from_person="fin",
            to_person="dee",
            actor=_as("sam"),
            reason="away",
            uow=world.uow,
            now=world.tick(),
        ),
        by="sam",
    )
    assert payload["act"] == Act.REASSIGN_ROUND.value and "pmo_admin" in payload["why"]
    world.refused(
        lambda: approvals.cancel_round(
            round_id, actor=_as("pam"), reason="wrong gate", uow=world.uow, now=world.tick()
        ),
        by="pam",
    )
    assert services.get_round(round_id, uow=world.uow).status is RoundStatus.OPEN
    cancelled = approvals.cancel_round(
        round_id, actor=_as("admin"), reason="the business case was withdrawn", uow=world.uow, now=world.tick()
    )
    assert cancelled.status is RoundStatus.CANCELLED
    assert services.get_round(round_id, uow=world.uow).status is RoundStatus.CANCELLED
    entry = world.audit()[-1]
    assert (entry.action, entry.actor, entry.payload["reason"]) == (
        "round.cancelled",
        "admin",
        "the business case was withdrawn",
    )
    with world.sessions() as session:
        told = set(
            session.scalars(select(t.OutboxMessage.recipient_id).where(t.OutboxMessage.kind == "round_cancelled"))
        )
    assert told == {"sam", "fin", "pam"}
    with pytest.raises(ConflictError, match="cancelled"):  # nobody votes on it any more (refused, and audited)
        _vote(world, round_id, "sam", Decision.GO)
    assert world.last_refusal().action == "vote.refused"
    with world.sessions() as session:
        review_status = session.scalar(
            select(t.GateReview.status).join(t.ApprovalRound, t.ApprovalRound.review_id == t.GateReview.id)
        )
    assert review_status == "cancelled"  # the review no longer reads as awaiting approval
    again = services.start_review(
        RequestReview(project_key="R1"), actor=_as("mgr"), uow=world.uow, now=world.tick(), probe=probe
    )
    assert again.round_id is not None and again.round_id != round_id  # a new review can be requested


def test_the_projects_manager_may_not_score_it_or_verify_its_conditions(world: World) -> None:
    round_id = _round(world, "S1")
    world.refused(
        lambda: services.record_scores(
            "S1", {"x": 1}, actor=actors.person("mgr", OrgRole.GATEKEEPER), uow=world.uow, now=world.tick()
        ),
        code="auth.conflict_of_interest",
        by="mgr",
    )
    condition = ConditionSpec(
        text="Fix the plan", owner_id="mgr", due_on=date(2026, 12, 1), verification="verifier:fin"
    )
    _vote(world, round_id, "sam", Decision.CONDITIONAL_GO, conditions=(condition,))
    _vote(world, round_id, "fin", Decision.CONDITIONAL_GO, conditions=(condition,))
    approvals.apply_round_decision(round_id, uow=world.uow, now=world.tick())
    stored = approvals.list_conditions(uow=world.uow, project_key="S1")[0]
    world.refused(
        lambda: approvals.resolve_condition(
            stored.id, actor=actors.person("mgr", OrgRole.PMO_ADMIN), met=True, uow=world.uow, now=world.tick()
        ),
        code="auth.conflict_of_interest",
        by="mgr",
    )
    met = approvals.resolve_condition(stored.id, actor=_as("fin"), met=True, uow=world.uow, now=world.tick())
    assert met.status == "met"


def test_resume_is_the_sponsors_or_an_admins(world: World) -> None:
    round_id = _round(world, "H1")
    _vote(world, round_id, "sam", Decision.HOLD)
    _vote(world, round_id, "fin", Decision.HOLD)
    approvals.apply_round_decision(round_id, uow=world.uow, now=world.tick())
    world.refused(
        lambda: approvals.resume_project("H1", actor=_as("fin"), reason="capacity", uow=world.uow, now=world.tick()),
        by="fin",
    )
    resumed = approvals.resume_project("H1", actor=_as("sam"), reason="capacity", uow=world.uow, now=world.tick())
    assert resumed.status.value == "active"


def test_a_delegation_is_revoked_by_its_principal_or_an_admin_only(world: World) -> None:
    granted = approvals.delegate(
        Delegate(principal_id="fin", delegate_id="dee", valid_from=T0.date(), valid_to=T0.date() + timedelta(days=9)),
        actor=_as("fin"),
        uow=world.uow,
        now=world.tick(),
    )
    world.refused(
        lambda: approvals.delegate(
            Delegate(principal_id="sam", delegate_id="dee", valid_from=T0.date(), valid_to=T0.date()),
            actor=_as("fin"),
            uow=world.uow,
            now=world.tick(),
        ),
        by="fin",
    )
    world.refused(
        lambda: approvals.revoke_delegation(granted.id, actor=_as("dee"), uow=world.uow, now=world.tick()), by="dee"
    )
    revoked = approvals.revoke_delegation(granted.id, actor=_as("fin"), uow=world.uow, now=world.tick())
    assert revoked.revoked and approvals.list_delegations(uow=world.uow, person_id="fin")[0].revoked
    assert world.audit()[-1].action == "delegation.revoked"


def test_only_an_admin_manages_people_and_a_disabled_person_acts_by_no_door(world: World) -> None:
    round_id = _round(world, "D1")
    world.refused(
        lambda: people.update_person(
            UpdatePerson(id="sam", roles=frozenset({OrgRole.PMO_ADMIN})),
            actor=_as("sam"),
            uow=world.uow,
            now=world.tick(),
        ),
        by="sam",
    )
    world.refused(
        lambda: people.disable_person("fin", actor=_as("mgr"), reason="left", uow=world.uow, now=world.tick()), by="mgr"
    )
    people.disable_person("fin", actor=_as("admin"), reason="left the company", uow=world.uow, now=world.tick())
    assert world.audit()[-1].payload["reason"] == "left the company"
    with pytest.raises(PermissionDeniedError) as refused:  # their seat in the open round no longer works
        _vote(world, round_id, "fin", Decision.GO)
    assert refused.value.code == "auth.disabled" and world.last_refusal().actor == "fin"
    with pytest.raises(AuthorizationError):  # a door proving them (a token, a link) is refused too, and audited
        people.person_actor("fin", method=AuthMethod.API_TOKEN, uow=world.uow, now=world.tick())
    assert world.last_refusal().payload["code"] == "auth.disabled"
    # Not seated in new rounds: the finance seat goes to nobody, so a round needing finance cannot open.
    add_ready_project(world.uow, world.tick, "D2")
    services.assign_role("D2", "finance", "dee", actor=_as("admin"), uow=world.uow, now=world.tick())
    review = services.start_review(
        RequestReview(project_key="D2"), actor=_as("mgr"), uow=world.uow, now=world.tick(), probe=probe
    )
    assert review.round_id is not None and "fin" not in review.approvers and "dee" in review.approvers
    people.update_person(UpdatePerson(id="fin", enable=True), actor=_as("admin"), uow=world.uow, now=world.tick())
    assert not people.get_person("fin", uow=world.uow).disabled


def test_sponsor_and_manager_are_two_people_and_evidence_is_the_managers(world: World) -> None:
    cmd = CreateProject(
        key="X1", template_id="it-2of3", name="X", sponsor_id="mgr", manager_id="mgr", budget=Decimal(1)
    )
    world.refused(
        lambda: services.create_project(cmd, actor=_as("admin"), uow=world.uow, now=world.tick()),
        code="auth.sponsor_is_manager",
        by="admin",
    )
    services.create_project(
        cmd.model_copy(update={"sponsor_id": "sam"}), actor=_as("mgr"), uow=world.uow, now=world.tick()
    )
    cost = RecordCost(project_key="X1", amount=Decimal(5))
    world.refused(lambda: services.record_cost(cost, actor=_as("sam"), uow=world.uow, now=world.tick()), by="sam")
    assert services.record_cost(cost, actor=_as("mgr"), uow=world.uow, now=world.tick()) == Decimal(5)
    entry = world.audit()[-1]
    assert (entry.action, entry.actor, entry.payload["auth_method"]) == ("actuals.recorded", "mgr", "os_login")


def test_an_admin_acting_for_someone_is_audited_as_that_admin(world: World) -> None:
    round_id = _round(world, "A1")
    for_sam = actors.person("sam", OrgRole.GATEKEEPER, acting_admin="admin")
    approvals.cast_vote(
        CastVote(round_id=round_id, voter_id="sam", decision=Decision.GO),
        actor=for_sam,
        uow=world.uow,
        now=world.tick(),
        probe=probe,
    )
    entry = next(e for e in reversed(world.audit()) if e.action == "vote.cast")
    assert entry.actor == "admin"
    assert (entry.payload["acting_admin"], entry.payload["acting_for"]) == ("admin", "sam")
    with world.sessions() as session:
        vote = session.scalars(select(t.Vote)).one()
    assert vote.voter_id == "sam"  # the act is sam's; the audit says who did it
    # A non-admin claiming to act for someone is refused whatever the door said.
    forged = actors.person("fin", OrgRole.GATEKEEPER, acting_admin="pam")
    with pytest.raises(PermissionDeniedError) as refused:
        approvals.cast_vote(
            CastVote(round_id=round_id, voter_id="fin", decision=Decision.GO),
            actor=forged,
            uow=world.uow,
            now=world.tick(),
            probe=probe,
        )
    assert refused.value.code == "auth.act_for" and world.last_refusal().actor == "pam"


def test_the_os_login_names_the_actor_and_only_an_admin_acts_for_others(world: World) -> None:
    with pytest.raises(AuthorizationError) as unmapped:
        people.login_actor("nobody", as_person=None, uow=world.uow, now=world.tick())
    assert unmapped.value.code == "auth.unmapped_login" and "person update" in unmapped.value.message
    assert world.last_refusal().entity == "login:nobody"
    people.update_person(UpdatePerson(id="sam", login="sam.os"), actor=_as("admin"), uow=world.uow, now=world.tick())
    people.update_person(UpdatePerson(id="admin", login="ada.os"), actor=_as("admin"), uow=world.uow, now=world.tick())
    me = people.login_actor("sam.os", as_person=None, uow=world.uow, now=world.tick())
    assert (me.person_id, me.roles, me.acting_admin) == ("sam", frozenset({OrgRole.GATEKEEPER}), None)
    with pytest.raises(AuthorizationError) as not_admin:
        people.login_actor("sam.os", as_person="fin", uow=world.uow, now=world.tick())
    assert not_admin.value.code == "auth.act_for"
    refusal = world.last_refusal()
    assert (refusal.actor, refusal.payload["as"]) == ("sam", "fin")
    acting = people.login_actor("ada.os", as_person="fin", uow=world.uow, now=world.tick())
    assert (acting.person_id, acting.acting_admin, acting.roles) == ("fin", "admin", frozenset({OrgRole.GATEKEEPER}))


def test_an_approval_is_signed_by_its_approver_not_recorded_in_their_name(world: World) -> None:
    cmd = CreateProject(
        key="D1", template_id="it-2of3", name="D", sponsor_id="sam", manager_id="mgr", budget=Decimal(1)
    )
    services.create_project(cmd, actor=_as("mgr"), uow=world.uow, now=world.tick())
    services.assign_role("D1", "pmo", "pam", actor=_as("admin"), uow=world.uow, now=world.tick())
    template = services.get_template("it-2of3", 1, uow=world.uow).template
    deliverable = next(d for d in template.gates[0].deliverables if template.deliverable(d).approver_role == "sponsor")

    def register(approved_by: str | None, actor: Actor) -> services.DocumentRegistration:
        doc = RegisterDocument(
            project_key="D1",
            deliverable_id=deliverable,
            path=f"/d/{deliverable}.md",
            sha256=probe(f"{deliverable}.md"),
            size=1,
            approved_by=approved_by,
        )
        return services.register_document(doc, actor=actor, uow=world.uow, now=world.tick())

    # The manager may file the document but not mark it signed by the sponsor.
    payload = world.refused(lambda: register("sam", _as("mgr")), code="auth.approve_for_other", by="mgr")
    assert "doc approve" in payload["why"]
    filed = register(None, _as("mgr")).document
    assert filed.approved_by is None
    # Only the deliverable's approver on the project signs it; its manager never does.
    world.refused(
        lambda: services.approve_document("D1", deliverable, actor=_as("fin"), uow=world.uow, now=world.tick()),
        by="fin",
    )
    world.refused(
        lambda: services.approve_document("D1", deliverable, actor=_as("mgr"), uow=world.uow, now=world.tick()),
        by="mgr",
    )
    signed = services.approve_document("D1", deliverable, actor=_as("sam"), uow=world.uow, now=world.tick())
    assert signed.created and signed.document.approved_by == "sam"
    assert (signed.document.version, signed.document.sha256) == (filed.version + 1, filed.sha256)
    entry = world.audit()[-1]
    assert (entry.action, entry.actor, entry.payload["approved_by"]) == ("document.approved", "sam", "sam")
    again = services.approve_document("D1", deliverable, actor=_as("sam"), uow=world.uow, now=world.tick())
    assert not again.created and again.document.version == signed.document.version
    # A PMO admin may record a paper signature in the approver's name; the audit says who recorded it.
    recorded = register("pam", _as("admin"))
    assert recorded.created and recorded.document.approved_by == "pam"
    entry = world.audit()[-1]
    assert (entry.actor, entry.payload["approved_by"], entry.payload["approval_recorded_by"]) == (
        "admin",
        "pam",
        "admin",
    )


def test_only_the_admin_changes_a_projects_sponsor_manager_or_budget(world: World) -> None:
    services.create_project(
        CreateProject(
            key="U1", template_id="it-2of3", name="U", sponsor_id="sam", manager_id="mgr", budget=Decimal(100)
        ),
        actor=_as("mgr"),
        uow=world.uow,
        now=world.tick(),
    )
    raise_budget = UpdateProject(key="U1", budget=Decimal(250), reason="scope approved by the board")
    world.refused(
        lambda: services.update_project(raise_budget, actor=_as("mgr"), uow=world.uow, now=world.tick()), by="mgr"
    )
    world.refused(
        lambda: services.update_project(raise_budget, actor=_as("sam"), uow=world.uow, now=world.tick()), by="sam"
    )
    same = UpdateProject(key="U1", sponsor_id="mgr", reason="sponsor left")
    world.refused(
        lambda: services.update_project(same, actor=_as("admin"), uow=world.uow, now=world.tick()),
        code="auth.sponsor_is_manager",
        by="admin",
    )

    def evidence_version() -> int | None:
        with world.sessions() as session:
            return session.scalar(select(t.Project.evidence_version).where(t.Project.key == "U1"))

    before = evidence_version()
    updated = services.update_project(
        raise_budget.model_copy(update={"sponsor_id": "pam"}), actor=_as("admin"), uow=world.uow, now=world.tick()
    )
    assert (updated.budget, updated.sponsor_id, updated.manager_id) == (Decimal(250), "pam", "mgr")
    stored = services.project_view("U1", uow=world.uow).project
    assert (stored.budget, stored.sponsor_id) == (Decimal(250), "pam")
    entry = world.audit()[-1]
    assert (entry.action, entry.actor, entry.payload["reason"]) == (
        "project.updated",
        "admin",
        "scope approved by the board",
    )
    assert entry.payload["changes"]["sponsor_id"] == {"before": "sam", "after": "pam"}
    assert set(entry.payload["changes"]) == {"budget", "sponsor_id"}
    assert before is not None and evidence_version() == before + 1  # a vote on the old budget is superseded
    # Nothing to change writes nothing.
    count = len(world.audit())
    services.update_project(raise_budget, actor=_as("admin"), uow=world.uow, now=world.tick())
    assert len(world.audit()) == count


def test_operating_phasegate_is_the_pmo_admins_act_and_is_audited(world: World) -> None:
    payload = world.refused(
        lambda: services.begin_operation("notify retry", actor=_as("sam"), uow=world.uow, now=world.tick()), by="sam"
    )
    assert payload["act"].startswith("operate") and world.last_refusal().entity == "operation:notify retry"
    services.begin_operation("rounds reconcile", actor=_as("admin"), uow=world.uow, now=world.tick())
    entry = world.audit()[-1]
    assert (entry.action, entry.actor, entry.entity) == ("operation.started", "admin", "operation:rounds reconcile")

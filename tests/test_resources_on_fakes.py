"""Resources, the HOLD queue and prioritisation on the in-memory fakes (``tests.fakes``): capacity and demand,
a gate held for want of people, the queue ranked and each fitting project announced once, an import that is all
or nothing, who may set what (refusals audited), and the proposed portfolio within budget and capacity. The same
scenarios run on SQLite and PostgreSQL in test_resources and test_capacity_prioritisation (with the doors).

Calendar facts (US, the ``holidays`` library): January 2027 has 19 working days (New Year's Day and Martin Luther
King Day off), February 2027 has 19 (Presidents' Day off). dev1 works full time (8 h a day: 152 h in January),
dev2 half time (76 h); dev1 has 10 days (80 h) in February.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

import pytest
import yaml

from phasegate.gates.prioritisation import Proposal
from phasegate.gates.vocabulary.commands import AddPerson, CastVote, CreateProject, RequestReview, UpdateProject
from phasegate.gates.vocabulary.enums import Decision, ProjectStatus, Recommendation
from phasegate.gates.vocabulary.errors import InputError, NotFoundError, PermissionDeniedError, UnknownReferencesError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, Actor, OrgRole
from phasegate.gates.vocabulary.resources import ResourceProfile
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.models.template_yaml import load_template_text, shipped_templates, template_content_hash
from phasegate.usecases import approvals, services
from tests import actors
from tests.fakes import FakeUnitOfWork, Store
from tests.gatekeeping import add_ready_project, probe

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
JAN, FEB = date(2027, 1, 1), date(2027, 2, 1)


@dataclass(frozen=True)
class Row:
    """One row of a demand plan as the file import gives it (``usecases.resources.DemandPlanRow``)."""

    project: str
    stage: str
    role: str
    month: date
    hours: Decimal | None = None
    fte_days: Decimal | None = None
    person: str | None = None


def row(project: str, stage: str, month: date, hours: int | None = None, **extra: Any) -> Row:
    return Row(
        project, stage, extra.pop("role", "developer"), month, None if hours is None else Decimal(hours), **extra
    )


@cache
def resource_template() -> tuple[str, LifecycleTemplate]:
    """it-pmo as "it-res": two of sponsor, finance and pmo approve, and the first gate checks resources."""
    source = next(s for s, tpl in shipped_templates() if tpl.id == "it-pmo")
    data = yaml.safe_load(source)
    data["id"] = "it-res"
    for gate in data["gates"]:
        gate["approval"] = {"policy": "m_of_n", "m": 2, "approvers": ["sponsor", "finance", "pmo"]}
    data["gates"][0]["criteria"].append({"code": "resources.committed"})
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return text, load_template_text(text, source="it-res.yaml")


class Env:
    def __init__(self) -> None:
        self.store = Store()
        self.at = T0
        self.admin = actors.admin("zed")

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store, org_route=lambda tags: ["json://pmo.example/chat"] if "pmo" in tags else [])

    def clock(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at

    def demand(self, rows: list[Row], *, by: Actor | None = None, source: str = "plan.xlsx") -> services.DemandImport:
        numbered = list(enumerate(rows, start=2))  # row 1 is the header
        return services.import_demand(numbered, source=source, actor=by or self.admin, uow=self.uow, now=self.clock())

    def review(self, key: str) -> services.ReviewResult:
        return services.start_review(
            RequestReview(project_key=key), uow=self.uow, now=self.clock(), probe=probe, actor=self.admin
        )

    def decide(self, round_id: UUID | None, decision: Decision) -> None:
        assert round_id is not None
        for voter in ("sam", "fin"):
            actors.cast_vote(
                CastVote(round_id=round_id, voter_id=voter, decision=decision, reason="capacity"),
                uow=self.uow,
                now=self.clock(),
                probe=probe,
            )
        approvals.apply_round_decision(round_id, uow=self.uow, now=self.clock())

    def actions(self) -> list[str]:
        return self.store.actions()


@pytest.fixture
def env() -> Env:
    """The it-res template; sponsor sam (zh-CN, the only one with a notification target), manager mgr, finance
    fin, pmo pam; two developers with one February override; projects A to D ready for their first gate."""
    e = Env()
    text, tpl = resource_template()
    services.publish_template(
        tpl, content_hash=template_content_hash(tpl), source=text, uow=e.uow, now=e.clock(), actor=SYSTEM_ACTOR
    )
    for pid in ("sam", "fin", "pam", "mgr", "mgr2", "zed", "dev1", "dev2", "ana"):
        services.add_person(
            AddPerson(
                id=pid,
                name=pid.title(),
                email=f"{pid}@example.com",
                locale="zh-CN" if pid == "sam" else "en",
                notify_urls=("json://127.0.0.1:9/sam",) if pid == "sam" else (),
            ),
            uow=e.uow,
            now=e.clock(),
            actor=SYSTEM_ACTOR,
        )
    for pid, fte in (("dev1", "1"), ("dev2", "0.5")):
        services.set_resource_profile(
            ResourceProfile(person_id=pid, role="developer", fte=Decimal(fte)), actor=e.admin, uow=e.uow, now=e.clock()
        )
    services.set_capacity("dev1", FEB, fte_days=Decimal(10), actor=e.admin, uow=e.uow, now=e.clock())
    for key in ("A", "B", "C", "D"):
        add_ready_project(e.uow, e.clock, key, template_id="it-res")
    return e


def _resources(result: services.ReviewResult) -> CriterionResult:
    return next(r for r in result.evaluation.criteria if r.code == "resources.committed")


def test_profiles_and_capacity_are_the_pmos_and_audited(env: Env) -> None:
    assert [(p.person_id, p.fte, p.set_by, p.set_at is not None) for p in services.resource_people(uow=env.uow)] == [
        ("dev1", Decimal(1), "zed", True),
        ("dev2", Decimal("0.5"), "zed", True),
    ]
    (override,) = env.store.capacity_overrides.values()
    assert (override.person_id, override.month, override.hours) == ("dev1", FEB, Decimal(80))  # 10 days x 8 h
    assert env.actions().count("resources.profile_set") == 2 and "resources.capacity_set" in env.actions()
    with pytest.raises(InputError, match="one of --hours or --fte-days"):
        services.set_capacity("dev1", JAN, hours=Decimal(1), fte_days=Decimal(1), actor=env.admin, uow=env.uow, now=T0)
    with pytest.raises(NotFoundError, match="'ana' has no resource role yet"):
        services.set_capacity("ana", JAN, hours=Decimal(1), actor=env.admin, uow=env.uow, now=env.clock())


def test_an_over_allocated_role_holds_the_gate_and_the_queue_ranks_and_announces_once(env: Env) -> None:
    # B (active, in initiating) has committed dev2 for 100 h in January; A, C and D plan their next stage.
    env.demand([row("B", "initiating", JAN, 100, person="dev2")])
    plan = [
        row("A", "planning", JAN, 150),
        row("A", "planning", FEB, fte_days=Decimal(5)),  # 5 FTE-days x 8 h = 40 h
        row("C", "planning", JAN, 100),
        row("D", "planning", JAN, 20),
    ]
    done = env.demand(plan)
    assert (done.lines, done.hours, done.projects) == (4, Decimal("310.00"), ("A", "C", "D"))
    assert done.stages == ("A/planning", "C/planning", "D/planning")
    assert env.demand(plan).lines == 4 and len(env.store.demand) == 5  # the same file again: the same lines

    # January: 152 + 76 = 228 h of developers, 100 committed to B: 128 left; A needs 150.
    held = env.review("A")
    result = _resources(held)
    assert held.evaluation.recommendation is Recommendation.HOLD and not result.passed
    assert (
        "developer 2027-01: needs 150.00 h, capacity 228.00 h, committed to other projects 100.00 h, short 22.00 h"
        in result.message
    )
    assert "developer 2027-02" not in result.message  # 40 h of 80 + 76 = 156 fits
    env.decide(held.round_id, Decision.HOLD)
    assert env.store.projects["A"].status is ProjectStatus.ON_HOLD

    fits = env.review("C")  # 100 h of the 128 left
    assert fits.evaluation.recommendation is Recommendation.GO, fits.evaluation.reasons
    assert _resources(fits).measured == "1/1 role-months fit"
    env.decide(fits.round_id, Decision.GO)  # C's planning is committed now: 200 h of January's 228

    d_review = env.review("D")  # 20 h of the 28 left: fits, but the gatekeepers park it anyway
    assert d_review.evaluation.recommendation is Recommendation.GO
    env.decide(d_review.round_id, Decision.HOLD)
    services.set_priority("D", 9, actor=env.admin, uow=env.uow, now=env.clock())

    queue = services.hold_queue(uow=env.uow)
    assert [(e.rank, e.project_key, e.priority, e.fits) for e in queue] == [(1, "D", 9, True), (2, "A", None, False)]
    # D, ranked first, reserves its 20 h: A sees 200 committed + 20 reserved of 228.
    assert queue[1].shortfalls == (
        "developer 2027-01: needs 150.00 h, capacity 228.00 h, committed to other projects 220.00 h, short 142.00 h",
    )
    assert queue[1].demand_hours == Decimal("190.00")
    # D fits: its sponsor (in Chinese) and the PMO channel hear once; the same plan never announces twice, a
    # changed one does.
    assert services.announce_capacity(uow=env.uow, now=env.clock()) == ["D"]
    assert services.announce_capacity(uow=env.uow, now=env.clock()) == []
    notices = [m for m in env.store.outbox if m.kind == "capacity_available"]
    assert [(m.recipient_id, m.target, m.locale, m.context["rank"], m.context["demand_hours"]) for m in notices] == [
        ("sam", "json://127.0.0.1:9/sam", "zh-CN", 1, "20.00"),  # the manager has no notification target
        (None, "json://pmo.example/chat", "en", 1, "20.00"),  # the PMO channel
    ]
    assert env.actions().count("resources.capacity_available") == 1
    env.demand([row("D", "planning", JAN, 10)])
    assert services.announce_capacity(uow=env.uow, now=env.clock()) == ["D"]

    view = services.allocation_view(uow=env.uow, today=date(2027, 1, 15), last=FEB)
    jan, feb = view.rows
    assert (jan.month, jan.capacity, jan.committed, jan.planned, jan.free) == ("2027-01", 228, 200, 160, 28)
    assert jan.projects == ("B", "C") and not jan.over_allocated
    assert (feb.capacity, feb.committed, feb.planned) == (156, 0, 40)
    people = services.allocation_view(uow=env.uow, today=date(2027, 1, 15), last=JAN, by_person=True)
    dev2 = next(r for r in people.rows if r.person == "dev2")
    assert (dev2.capacity, dev2.committed, dev2.free, dev2.over_allocated) == (76, 100, -24, True)
    assert [r.person for r in people.over_allocated] == ["dev2"]

    # dev1 on leave in January (0 h): the role itself is over-allocated, 200 h committed of 76.
    services.set_capacity("dev1", JAN, hours=Decimal(0), actor=env.admin, uow=env.uow, now=env.clock())
    over = services.allocation_view(uow=env.uow, today=date(2027, 1, 15), last=JAN)
    assert [(r.role, r.month, r.capacity, r.free) for r in over.over_allocated] == [("developer", "2027-01", 76, -124)]
    assert services.set_capacity("dev1", JAN, actor=env.admin, uow=env.uow, now=env.clock()) is None  # cleared
    assert services.allocation_view(uow=env.uow, today=date(2027, 1, 15), last=JAN).rows[0].capacity == 228


def test_demand_import_is_all_or_nothing_and_names_every_bad_row(env: Env) -> None:
    env.demand([row("A", "planning", JAN, 10)])
    before = (list(env.store.demand), list(env.store.audit), env.store.projects["A"].evidence_version)
    bad = [
        row("A", "planning", JAN, 10),
        row("NOPE", "planning", JAN, 10),
        row("A", "building", FEB, 10, role="develper"),
        row("A", "planning", date(2027, 3, 1), 10, person="sam"),
    ]
    with pytest.raises(UnknownReferencesError) as refused:
        env.demand(bad, source="bad.xlsx")
    assert refused.value.problems == [
        "bad.xlsx:row 3: project: unknown project 'NOPE'; see 'phasegate project list'",
        "bad.xlsx:row 4: stage: 'building' is not a stage of it-res@1; stages: initiating, planning, executing, "
        "closing",
        "bad.xlsx:row 4: role: nobody has the role 'develper'; roles with capacity: developer "
        "(phasegate resources person set PERSON --role ROLE)",
        "bad.xlsx:row 5: person: 'sam' has no resource role; set one with "
        "'phasegate resources person set sam --role developer'",
    ]
    assert (env.store.demand, env.store.audit, env.store.projects["A"].evidence_version) == before
    with pytest.raises(InputError, match="no demand rows"):
        env.demand([])


def test_who_may_set_capacity_demand_and_priority_and_refusals_are_audited(env: Env) -> None:
    services.create_project(
        CreateProject(key="E", template_id="it-res", name="E", sponsor_id="sam", manager_id="mgr2", budget=Decimal(1)),
        uow=env.uow,
        now=env.clock(),
        actor=SYSTEM_ACTOR,
    )
    manager_e = actors.person("mgr2", OrgRole.MANAGER)
    gatekeeper = actors.person("ana", OrgRole.GATEKEEPER)
    own = env.demand([row("E", "initiating", JAN, 8)], by=manager_e)
    assert own.stages == ("E/initiating",)
    env.store.audit.clear()
    with pytest.raises(PermissionDeniedError, match="may not set a project's resource demand of A"):
        env.demand([row("E", "initiating", JAN, 9), row("A", "planning", JAN, 9)], by=manager_e)
    with pytest.raises(PermissionDeniedError, match="resource roles and capacity"):
        services.set_capacity("dev1", JAN, hours=Decimal(1), actor=manager_e, uow=env.uow, now=env.clock())
    with pytest.raises(PermissionDeniedError, match="resource roles and capacity"):
        services.set_resource_profile(
            ResourceProfile(person_id="ana", role="tester"), actor=gatekeeper, uow=env.uow, now=env.clock()
        )
    with pytest.raises(PermissionDeniedError, match="priority"):
        services.set_priority("A", 5, actor=manager_e, uow=env.uow, now=env.clock())
    assert env.actions() == ["security.refused"] * 4
    assert [line.hours for line in services.demand_lines(uow=env.uow, project_key="E")] == [Decimal("8.00")]
    assert env.store.priorities == {} and "ana" not in env.store.resource_profiles
    with pytest.raises(InputError, match="--region: unknown region 'XX'"):
        services.set_resource_profile(
            ResourceProfile(person_id="ana", role="tester", region="XX"), actor=env.admin, uow=env.uow, now=env.clock()
        )
    with pytest.raises(InputError, match="at most 36"):
        services.allocation_view(uow=env.uow, today=JAN, first=JAN, last=date(2030, 1, 1))
    with pytest.raises(InputError, match="--to 2026-12 is before --from 2027-01"):
        services.allocation_view(uow=env.uow, today=JAN, first=JAN, last=date(2026, 12, 1))


# --- prioritisation ----------------------------------------------------------------------------------------------
@pytest.fixture
def world(env: Env) -> Env:
    """A, B, C (budget 1000 each, in initiating) with expected benefits 3000, 2500, 2000 and January developer
    demand 150, 100 and 70 h against 228 h."""
    for key, benefit in (("A", 3000), ("B", 2500), ("C", 2000)):
        services.update_project(
            UpdateProject(key=key, expected_benefit=Decimal(benefit), reason="business case"),
            actor=env.admin,
            uow=env.uow,
            now=env.clock(),
        )
    env.demand([row("A", "initiating", JAN, 150), row("B", "initiating", JAN, 100), row("C", "initiating", JAN, 70)])
    return env


def test_the_proposed_portfolio_keeps_within_budget_and_capacity(world: Env) -> None:
    def propose(with_capacity: bool | None = None, now: datetime = T0) -> Proposal:
        return services.prioritise_portfolio(
            budget="2000", actor=world.admin, uow=world.uow, now=now, with_capacity=with_capacity
        )

    # Budget only: A + B = 5500 (A + C 5000, B + C 4500).
    budget_only = propose(False)
    assert [r.key for r in budget_only.selected] == ["A", "B"] and "budget only" in budget_only.capacity_note
    # Default, a plan being recorded: A + B need 250 h of 228; A + C 220 h fit: 5000.
    proposal = propose()
    assert [r.key for r in proposal.selected] == ["A", "C"] and proposal.total_benefit == Decimal(5000)
    b = next(r for r in proposal.left_out if r.key == "B")
    assert b.detail.startswith(
        "over capacity: developer 2027-01 short by 92 h beside the selected projects (needs 100 h, they take 220 h "
        "of 228 h); the budget left (0.00) is also short of its cost 1,000.00"
    )
    assert b.forgone == Decimal("500.00")
    assert propose(True).selected == proposal.selected
    # A planning window that starts after the demand: nothing to constrain, budget only again.
    later = propose(now=T0.replace(year=2027, month=2))
    assert [r.key for r in later.selected] == ["A", "B"] and not later.with_capacity


def test_prioritisation_is_a_read_anyone_with_a_role_may_make_and_the_budget_is_checked(world: Env) -> None:
    with pytest.raises(InputError):
        services.prioritise_portfolio(budget="lots", actor=world.admin, uow=world.uow, now=T0)
    nobody = Actor(person_id="ana", roles=frozenset(), method=actors.person("ana").method)
    with pytest.raises(PermissionDeniedError):
        services.prioritise_portfolio(budget="2000", actor=nobody, uow=world.uow, now=T0)
    assert world.actions()[-1] == "security.refused"


def test_the_hold_queue_ranks_by_value_per_cost_then_priority(world: Env) -> None:
    # A 1500 (1.5), B 2500 (2.5), C 2000 (2.0) valued; D has no expected benefit but the PMO's priority 9.
    services.update_project(
        UpdateProject(key="A", expected_benefit=Decimal(1500), reason="revised"),
        actor=world.admin,
        uow=world.uow,
        now=world.clock(),
    )
    world.demand([row(k, "planning", FEB, 10) for k in "ABCD"])
    for key in ("A", "B", "C", "D"):
        world.decide(world.review(key).round_id, Decision.HOLD)
    services.set_priority("D", 9, actor=world.admin, uow=world.uow, now=world.clock())
    services.set_priority("A", 8, actor=world.admin, uow=world.uow, now=world.clock())  # valued: ratio wins
    queue = services.hold_queue(uow=world.uow)
    assert [(e.rank, e.project_key, e.value_per_cost, e.priority) for e in queue] == [
        (1, "B", Decimal("2.5000"), None),
        (2, "C", Decimal("2.0000"), None),
        (3, "A", Decimal("1.5000"), 8),
        (4, "D", None, 9),
    ]
    assert all(e.fits for e in queue)  # 40 h of February's 156
    assert world.actions().count("resources.priority_set") == 2

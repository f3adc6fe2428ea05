"""Prioritisation within budget AND capacity, hand-computed: capacity rows that turn the budget's best pick A + B
into A + C, the "over capacity" reasons (beside the selection, and on its own), the same through the read
models on SQLite and PostgreSQL (demand imported, capacity from the US calendar), the doors (API, page), and the
HOLD queue ranked by value per cost before the manual priority.

Capacity facts (``tests.test_resources.populate``): developers dev1 (full time) and dev2 (half time) on the US
calendar; January 2027 has 19 working days, so 152 + 76 = 228 developer hours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from phasegate.gates.capacity import next_month
from phasegate.gates.prioritisation import Candidate, CapacityPlan, Proposal, prioritise
from phasegate.gates.vocabulary.commands import AddPerson, UpdateProject
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.gates.vocabulary.resources import month_label
from phasegate.usecases import services
from tests import actors
from tests.test_prioritisation import run
from tests.test_resources import T0, Env, populate

FEB = date(2027, 2, 1)
DE = ("data-engineer", FEB)


def c(key: str, cost: int, benefit: int) -> Candidate:
    return Candidate(key, key.lower(), "active", Decimal(cost), Decimal(benefit), None)


ABC = [c("A", 5, 60), c("B", 5, 50), c("C", 4, 40)]
# data-engineer, February 2027: 100 h. A needs 80 h, B 60 h, C 20 h.
PLAN = CapacityPlan({DE: Decimal(100)}, {"A": {DE: Decimal(80)}, "B": {DE: Decimal(60)}, "C": {DE: Decimal(20)}})


@pytest.mark.unit
def test_capacity_turns_the_budgets_a_plus_b_into_a_plus_c() -> None:
    # Budget 10, budget alone: A + B = 110 (A + C = 100, B + C = 90; all three cost 14).
    alone = prioritise(ABC, Decimal(10))
    assert [r.key for r in alone.selected] == ["A", "B"] and not alone.with_capacity
    # With capacity: A + B take 140 h of 100 (out); A + C 100 h (fits): 100; B + C 80 h: 90. So A + C.
    proposal = prioritise(ABC, Decimal(10), PLAN)
    assert [r.key for r in proposal.selected] == ["A", "C"] and proposal.total_benefit == Decimal(100)
    assert (proposal.spent, proposal.unspent) == (Decimal(9), Decimal(1)) and proposal.with_capacity
    (b,) = proposal.left_out
    # Beside A + C (100 h taken) B's 60 h are 60 h short; forced in, the best is B + C = 90: 10 forgone.
    assert b.reason == "over_capacity" and b.forgone == Decimal("10.00")
    assert b.detail == (
        "over capacity: data-engineer 2027-02 short by 60 h beside the selected projects (needs 60 h, they take "
        "100 h of 100 h); the budget left (1.00) is also short of its cost 5.00; taking it in would lower the "
        "total benefit by 10.00"
    )
    assert b.detail_zh.startswith("超出产能：data-engineer 2027-02 缺口 60 小时（与已选项目合计")
    assert "剩余预算（1.00）也不足其成本 5.00" in b.detail_zh and "总收益减少 10.00" in b.detail_zh
    assert "budget and capacity" in proposal.capacity_note and "1 roles, 1 role-months" in proposal.capacity_note
    assert "预算与产能" in proposal.capacity_note_zh


@pytest.mark.unit
def test_money_left_but_no_people_and_a_project_too_big_on_its_own() -> None:
    # Budget 20: money for all three (14), budget alone takes them all (150). Capacity still allows A + C only.
    # D needs 120 h of the 100 on its own; E asks for a designer nobody is (0 h) in March.
    plan = CapacityPlan(
        PLAN.available,
        {**PLAN.demand, "D": {DE: Decimal(120)}, "E": {("designer", date(2027, 3, 1)): Decimal("7.5")}},
    )
    assert [r.key for r in prioritise(ABC, Decimal(20)).selected] == ["A", "B", "C"]
    proposal = prioritise([*ABC, c("D", 1, 1000), c("E", 1, 500)], Decimal(20), plan)
    assert [r.key for r in proposal.selected] == ["A", "C"] and proposal.unspent == Decimal(11)
    rows = {r.key: r for r in proposal.ranked}
    assert rows["B"].reason == "over_capacity" and "budget left" not in rows["B"].detail  # 11 left covers 5
    assert rows["B"].detail.startswith("over capacity: data-engineer 2027-02 short by 60 h beside")
    assert (
        rows["D"].detail
        == "over capacity: data-engineer 2027-02 short by 20 h on its own (needs 120 h, capacity 100 h)"
    )
    assert rows["E"].detail == "over capacity: designer 2027-03 short by 7.5 h on its own (needs 7.5 h, capacity 0 h)"
    assert rows["D"].forgone is None and rows["E"].detail_zh.startswith(
        "超出产能：designer 2027-03 缺口 7.5 小时（单独即超出"
    )
    # Two role-months are rows now; the March designer row has capacity 0.
    assert "2 roles, 2 role-months, 2027-02..2027-03" in proposal.capacity_note


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[Env]:
    """A, B, C (budget 1000 each, in initiating) with expected benefits 3000, 2500, 2000 and January developer
    demand 150, 100 and 70 h against 228 h."""
    e = Env(db_url)
    populate(e)
    for key, benefit in (("A", 3000), ("B", 2500), ("C", 2000)):
        services.update_project(
            UpdateProject(key=key, expected_benefit=Decimal(benefit), reason="business case"),
            actor=e.admin,
            uow=e.uow,
            now=e.clock(),
        )
    e.demand(
        tmp_path / "plan.xlsx",
        [("A", "initiating", "developer", "2027-01", 150, None, None),
         ("B", "initiating", "developer", "2027-01", 100, None, None),
         ("C", "initiating", "developer", "2027-01", 70, None, None)],
    )  # fmt: skip
    yield e
    e.engine.dispose()


def test_through_the_read_models(world: Env) -> None:
    def propose(with_capacity: bool | None = None) -> Proposal:
        return services.prioritise_portfolio(
            budget="2000", actor=world.admin, uow=world.uow, now=T0, with_capacity=with_capacity
        )

    # Budget only: A + B = 5500 (A + C 5000, B + C 4500).
    budget_only = propose(False)
    assert [r.key for r in budget_only.selected] == ["A", "B"] and "budget only" in budget_only.capacity_note
    # Default, a plan being recorded: A + B need 250 h of 228; A + C 220 h fit: 5000.
    proposal = propose()
    assert [r.key for r in proposal.selected] == ["A", "C"] and proposal.total_benefit == Decimal(5000)
    b = next(r for r in proposal.left_out if r.key == "B")
    # B beside A + C: 220 + 100 - 228 = 92 h short; forced in, B + C = 4500: 500 forgone. D has no benefit.
    assert b.detail.startswith(
        "over capacity: developer 2027-01 short by 92 h beside the selected projects (needs 100 h, they take 220 h "
        "of 228 h); the budget left (0.00) is also short of its cost 1,000.00"
    )
    assert b.forgone == Decimal("500.00")
    assert propose(True).selected == proposal.selected
    # A planning window that starts after the demand (2027-02 on): nothing to constrain, budget only again.
    later = services.prioritise_portfolio(
        budget="2000", actor=world.admin, uow=world.uow, now=T0.replace(year=2027, month=2)
    )
    assert [r.key for r in later.selected] == ["A", "B"] and not later.with_capacity


def test_api_and_page_ask_for_capacity(sqlite_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from phasegate.models.settings import Settings
    from phasegate.models.tokens import create_token
    from phasegate.web.app import create_app
    from tests.signin import give_password, sign_in

    e = Env(sqlite_url)
    populate(e)
    for key, benefit in (("A", 3000), ("B", 2500), ("C", 2000)):
        services.update_project(
            UpdateProject(key=key, expected_benefit=Decimal(benefit), reason="case"),
            actor=e.admin,
            uow=e.uow,
            now=e.clock(),
        )
    # The page plans from today: next month, with both developers set to 80 h there (160 h).
    month = next_month(datetime.now(UTC).date().replace(day=1))
    for person in ("dev1", "dev2"):
        services.set_capacity(person, month, hours=Decimal(80), actor=e.admin, uow=e.uow, now=e.clock())
    label = month_label(month)
    e.demand(
        tmp_path / "plan.xlsx",
        [("A", "initiating", "developer", label, 150, None, None),
         ("B", "initiating", "developer", label, 100, None, None)],
    )  # fmt: skip
    services.add_person(
        AddPerson(id="vic", name="Vic", email="vic@example.com", roles=frozenset({OrgRole.VIEWER})),
        uow=e.uow,
        now=e.clock(),
        actor=SYSTEM_ACTOR,
    )
    with e.sessions() as session, session.begin():  # before the password, which keys the audit chain
        _, token = create_token(session, "vic", "viewer", datetime.now(UTC))
    give_password(e.sessions, "vic")
    app = create_app(Settings(database_url=sqlite_url, home=tmp_path / "home"))
    with TestClient(app) as client:
        assert sign_in(client, "vic", next_path="/prioritisation").status_code == 303
        page = client.get("/prioritisation", params={"budget": "2000"})
        assert page.status_code == 200, page.text
        # A + B need 250 h of 160; C plans no hours: A + C (5000) beats B + C (4500). B beside A + C is
        # 150 + 100 - 160 = 90 h short.
        assert f"over capacity: developer {label} short by 90 h beside the selected projects" in page.text
        assert "budget and capacity" in page.text
        api = client.get(
            "/api/v1/portfolio/prioritisation",
            params={"budget": "2000", "with_capacity": "false"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert api.status_code == 200, api.text
        assert [r["key"] for r in api.json()["ranked"] if r["selected"]] == ["A", "B"]
        only = client.get("/prioritisation", params={"budget": "2000", "with_capacity": "false"})
        assert "budget only" in only.text and '<option value="false" selected>' in only.text
        chinese = client.get("/prioritisation", params={"budget": "2000", "with_capacity": "false", "lang": "zh-CN"})
        assert "仅按预算" in chinese.text and "始终约束" in chinese.text
        assert client.get("/prioritisation", params={"budget": "2000", "with_capacity": "maybe"}).status_code == 400
    e.engine.dispose()
    # The CLI, locally: capacity by default, --budget-only to compare.
    run(*actors.bootstrap_admin_args("ada"), db=sqlite_url)
    table = run("portfolio", "prioritise", "--budget", "2000", db=sqlite_url).stdout.splitlines()
    assert table[0].startswith("Budget 2,000: 2 projects selected, cost 2,000, unspent 0, expected benefit 5,000")
    assert table[1].startswith("(budget and capacity:") and table[3].split()[:3] == ["1", "*", "A"]
    assert table[4].split()[:2] == ["2", "B"] and table[5].split()[:3] == ["3", "*", "C"]
    assert f"over capacity: developer {label} short by 90 h beside the selected projects" in table[4]
    data = json.loads(
        run("portfolio", "prioritise", "--budget", "2000", "--budget-only", "--json", db=sqlite_url).stdout
    )
    assert data["selected"] == ["A", "B"] and data["with_capacity"] is False


def test_hold_queue_ranks_by_value_per_cost_then_priority(world: Env, tmp_path: Path) -> None:
    # A (ratio 3.0), B (2.5) and C (2.0) valued; D has no expected benefit but the PMO's priority 9.
    # Put A, B to a smaller benefit first: A 1500 (1.5), so the order by value per cost is B, C, A.
    services.update_project(
        UpdateProject(key="A", expected_benefit=Decimal(1500), reason="revised"),
        actor=world.admin,
        uow=world.uow,
        now=world.clock(),
    )
    world.demand(tmp_path / "next.xlsx", [(k, "planning", "developer", "2027-02", 10, None, None) for k in "ABCD"])
    for key in ("A", "B", "C", "D"):
        review = world.review(key)
        world.decide(review.round_id, Decision.HOLD)
    services.set_priority("D", 9, actor=world.admin, uow=world.uow, now=world.clock())
    services.set_priority("A", 8, actor=world.admin, uow=world.uow, now=world.clock())  # valued: ratio wins
    queue = services.hold_queue(uow=world.uow)
    assert [(e.rank, e.project_key, e.value_per_cost, e.priority) for e in queue] == [
        (1, "B", Decimal("2.5000"), None),
        (2, "C", Decimal("2.0000"), None),
        (3, "A", Decimal("1.5000"), 8),
        (4, "D", None, 9),
    ]

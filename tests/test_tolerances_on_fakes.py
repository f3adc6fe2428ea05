"""Tolerances and tolerance exceptions on the in-memory fakes (``tests.fakes``): who may set what at which level,
the audit of every change with its value before and after, a breach raised once however often the portfolio is
scanned, and an exception closed only by the level that set its tolerance. In milliseconds; the same use cases
run on SQLite and PostgreSQL in test_tolerances and test_exceptions (concurrency stays there).

The project: P1 on it-pmo@2, budget 100,000, sponsor sam (zh-CN), manager mgr. The template's default cost
tolerance (project board, owner the sponsor) is 10 % or 15,000, whichever is greater: 15,000. A status report with
EV 40,000 and AC 50,000 gives CPI 0.8 and EAC 125,000: 25,000 over, a breach.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from phasegate.gates.tolerance import EffectiveTolerance
from phasegate.gates.vocabulary.commands import AddPerson, CreateProject, SetTolerance
from phasegate.gates.vocabulary.errors import AuthorizationError, ConflictError, InputError, NotFoundError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, Actor, OrgRole
from phasegate.gates.vocabulary.snapshots import BaselineRecord, EvmReportRecord
from phasegate.gates.vocabulary.tolerance import Dimension, ExceptionDecision, ToleranceLevel
from phasegate.usecases import services
from tests import actors
from tests.fakes import FakeUnitOfWork, Store, publish_shipped

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Env:
    def __init__(self) -> None:
        self.store = Store()
        self.at = T0

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def now(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at

    def set(self, actor: Actor, **values: Any) -> EffectiveTolerance:
        cmd = SetTolerance(project_key="P1", **values)
        return services.set_tolerance(cmd, actor=actor, uow=self.uow, now=self.now())

    def audit(self, action: str) -> list[dict[str, Any]]:
        return [entry["payload"] for entry in self.store.audit if entry["action"] == action]

    def report(self, as_of: date, ev: int, ac: int) -> None:
        services.record_status(
            [EvmReportRecord(project_key="P1", as_of=as_of, earned_value=Decimal(ev), actual_cost=Decimal(ac))],
            actor=SYSTEM_ACTOR,
            uow=self.uow,
            now=self.now(),
        )

    def scan(self) -> services.ScanReport:
        return services.scan_projects(["P1", "NOPE"], uow=self.uow, now=self.now())

    def decide(self, exception_id: Any, decision: ExceptionDecision, actor: Actor, **extra: Any) -> Any:
        reason = extra.pop("reason", "because")
        return services.decide_exception(
            exception_id, decision, reason=reason, actor=actor, uow=self.uow, now=self.now(), **extra
        )


@pytest.fixture
def env() -> Env:
    e = Env()
    publish_shipped(e.store, now=T0)
    for pid, locale in (("sam", "zh-CN"), ("mgr", "en"), ("pam", "en"), ("gus", "en")):
        services.add_person(
            AddPerson(
                id=pid,
                name=pid.title(),
                email=f"{pid}@example.com",
                locale=locale,
                notify_urls=(f"json://127.0.0.1:9/{pid}",),
            ),
            uow=e.uow,
            now=e.now(),
            actor=SYSTEM_ACTOR,
        )
    services.create_project(
        CreateProject(
            key="P1", template_id="it-pmo", name="Pilot", sponsor_id="sam", manager_id="mgr", budget=Decimal(100000)
        ),
        uow=e.uow,
        now=e.now(),
        actor=SYSTEM_ACTOR,
    )
    e.store.audit.clear()
    return e


SAM = actors.person("sam")  # the sponsor: a gatekeeper by organisation role
MGR = actors.person("mgr", OrgRole.MANAGER)


# --- tolerances --------------------------------------------------------------------------------------------------
def test_a_new_project_reads_its_templates_defaults_and_nothing_is_stored(env: Env) -> None:
    listed = services.list_tolerances("P1", uow=env.uow)
    assert (listed.project_key, listed.stage_id) == ("P1", "initiating")
    project_wide = {e.dimension: e for e in listed.tolerances if e.scope == "*"}
    assert set(project_wide) == set(Dimension) and {e.source for e in project_wide.values()} == {"template"}
    cost = project_wide[Dimension.COST]
    assert (cost.level, cost.owner_id, cost.percent, cost.amount) == (
        ToleranceLevel.PROJECT_BOARD,
        "sam",
        Decimal(10),
        Decimal(15000),
    )
    assert env.store.tolerances == {}  # defaults are read from the pinned template, not copied


def test_the_sponsor_sets_a_board_tolerance_audited_before_and_after_and_setting_it_again_replaces_it(
    env: Env,
) -> None:
    done = env.set(SAM, dimension="cost", level="project_board", percent="8", reason="tighter after G2")
    assert (done.source, done.owner_id, done.percent, done.amount) == ("set", "sam", Decimal(8), None)
    listed = services.list_tolerances("P1", uow=env.uow).tolerances
    cost = next(e for e in listed if (e.scope, e.dimension) == ("*", Dimension.COST))
    assert (cost.source, cost.percent, cost.set_by, cost.reason) == ("set", Decimal(8), "sam", "tighter after G2")
    (first,) = env.audit("tolerance.set")
    assert first["before"]["source"] == "template" and first["before"]["amount"] == "15000"
    assert first["after"] == {
        "level": "project_board",
        "owner_id": "sam",
        "percent": "8",
        "amount": None,
        "none": False,
    }
    assert first["reason"] == "tighter after G2" and first["auth_method"] == "os_login"

    again = env.set(SAM, dimension="cost", level="project_board", none=True, owner_id="pam", reason="fixed price")
    assert again.none and again.owner_id == "pam"
    assert list(env.store.tolerances) == [("P1", "*", "cost")]  # replaced, not added
    second = env.audit("tolerance.set")[-1]
    assert second["before"]["percent"] == "8" and second["before"]["source"] == "set"
    assert second["after"]["none"] is True and second["after"]["percent"] is None


def test_levels_are_checked_in_the_use_case_and_every_refusal_is_audited(env: Env) -> None:
    with pytest.raises(AuthorizationError, match="may not act as the project_board level") as board:
        env.set(MGR, dimension="cost", level="project_board", percent="20")
    assert board.value.code == "auth.tolerance_level"
    # The manager's own level may not loosen what the board holds (the template's default for cost)...
    with pytest.raises(AuthorizationError, match="held by the project_board level"):
        env.set(MGR, dimension="cost", level="project_manager", percent="50")
    # ...but may set a stage's where the board left none, and the board may later take it over.
    mine = env.set(MGR, dimension="quality", level="project_manager", stage_id="planning", percent="3")
    assert (mine.scope, mine.level, mine.owner_id) == ("planning", ToleranceLevel.PROJECT_MANAGER, "mgr")
    env.set(SAM, dimension="quality", level="project_board", stage_id="planning", percent="4")
    with pytest.raises(AuthorizationError, match="held by the project_board level"):
        env.set(MGR, dimension="quality", level="project_manager", stage_id="planning", percent="9")
    # Someone with no part in the project may set none; corporate is the PMO's.
    with pytest.raises(AuthorizationError, match="may not set a project's tolerances"):
        env.set(actors.person("gus"), dimension="time", level="project_manager", amount="3")
    with pytest.raises(AuthorizationError, match="corporate"):
        env.set(SAM, dimension="benefits", level="corporate", percent="5")
    env.set(actors.admin("pam"), dimension="benefits", level="corporate", percent="5")

    refusals = [e for e in env.store.audit if e["action"] == "security.refused"]
    assert [(e["actor"], e["entity"]) for e in refusals] == [
        ("mgr", "project:P1"),
        ("mgr", "project:P1"),
        ("mgr", "project:P1"),
        ("gus", "project:P1"),
        ("sam", "project:P1"),
    ]
    held = {(scope, dim): (r.level, r.percent) for (_, scope, dim), r in env.store.tolerances.items()}
    assert held == {
        ("planning", "quality"): (ToleranceLevel.PROJECT_BOARD, Decimal(4)),
        ("*", "benefits"): (ToleranceLevel.CORPORATE, Decimal(5)),
    }


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"stage_id": "launch", "amount": "5"}, InputError, "--stage: 'launch' is not a stage of it-pmo"),
        ({"owner_id": "nobody", "amount": "5"}, NotFoundError, "--owner: unknown person 'nobody'"),
    ],
)
def test_bad_input_names_the_option_and_writes_nothing(
    env: Env, values: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        env.set(SAM, dimension="time", level="project_board", **values)
    assert env.store.tolerances == {} and env.store.audit == []


def test_an_unknown_project_is_named(env: Env) -> None:
    with pytest.raises(NotFoundError, match="NOPE"):
        services.list_tolerances("NOPE", uow=env.uow)


# --- exceptions --------------------------------------------------------------------------------------------------
def test_a_breach_is_raised_once_however_often_the_portfolio_is_scanned(env: Env) -> None:
    env.report(date(2026, 11, 30), ev=40000, ac=50000)
    first = env.scan()
    assert (first.scanned, first.breaches, len(first.raised)) == (1, 1, 1)  # NOPE is no project: not scanned
    raised = first.raised[0]
    assert (raised.dimension, raised.level, raised.owner_id, raised.seq, raised.status) == (
        Dimension.COST,
        ToleranceLevel.PROJECT_BOARD,
        "sam",
        1,
        "open",
    )
    assert (raised.baseline, raised.forecast, raised.allowance, raised.deviation) == (
        Decimal(100000),
        Decimal(125000),
        Decimal(15000),
        Decimal(25000),
    )
    (health,) = first.health
    assert (health.project_key, health.overall.value, health.cost.value, health.raised) == ("P1", "red", "red", 1)
    for _ in range(3):
        again = env.scan()
        assert again.breaches == 1 and again.raised == () and again.health[0].raised == 0
    assert len(env.store.exceptions) == 1 and len(env.audit("exception.raised")) == 1
    # Routed to the tolerance's owner, in their language, through the outbox (once).
    notices = [m for m in env.store.outbox if m.kind == "tolerance_exception"]
    assert [(m.recipient_id, m.locale) for m in notices] == [("sam", "zh-CN")]
    assert notices[0].context["exception_id"] == str(raised.id) and notices[0].context["deviation"] == "25000.00"
    listed = services.list_exceptions(uow=env.uow, project_key="P1", status="open")
    assert [e.id for e in listed] == [raised.id]
    assert services.list_exceptions(uow=env.uow, status="closed") == []


def test_a_scan_that_dies_before_committing_raises_nothing_and_the_next_raises_once(env: Env) -> None:
    env.report(date(2026, 11, 30), ev=40000, ac=50000)

    class DiedError(Exception):
        pass

    class DyingUow(FakeUnitOfWork):
        def commit(self) -> None:
            raise DiedError("the process is killed before the commit")

    with pytest.raises(DiedError):
        services.scan_projects(["P1"], uow=lambda: DyingUow(env.store), now=env.now())
    assert (env.store.exceptions, env.store.outbox, env.store.rag) == ({}, [], {})
    assert len(env.scan().raised) == 1 and len(env.scan().raised) == 0
    assert len(env.store.exceptions) == 1


def test_only_the_level_that_set_it_decides_and_each_decision_closes_it(env: Env) -> None:
    env.report(date(2026, 11, 30), ev=40000, ac=50000)
    raised = env.scan().raised[0]
    with pytest.raises(AuthorizationError, match="may not act as the project_board level"):
        env.decide(raised.id, ExceptionDecision.ACCEPT, MGR)
    assert env.store.audit[-1]["action"] == "security.refused"
    with pytest.raises(InputError, match="--reason"):
        env.decide(raised.id, ExceptionDecision.ACCEPT, SAM, reason=" ")
    with pytest.raises(InputError, match="--bac"):
        env.decide(raised.id, ExceptionDecision.ACCEPT, SAM, new_bac=Decimal(1))
    with pytest.raises(NotFoundError, match="unknown exception"):
        env.decide(uuid4(), ExceptionDecision.ACCEPT, SAM)
    assert env.store.exceptions[raised.id].status == "open"

    accepted = env.decide(raised.id, ExceptionDecision.ACCEPT, SAM, reason="known overrun")
    assert (accepted.status, accepted.decision, accepted.decided_by) == ("closed", ExceptionDecision.ACCEPT, "sam")
    stored = env.store.exceptions[raised.id]
    assert (stored.status, stored.decision, stored.reason) == ("closed", ExceptionDecision.ACCEPT, "known overrun")
    with pytest.raises(ConflictError, match="already closed"):
        env.decide(raised.id, ExceptionDecision.ACCEPT, SAM, reason="again")

    # Accepted: the same forecast raises nothing; a worse one is the second exception.
    assert env.scan().raised == ()
    env.report(date(2026, 12, 1), ev=40000, ac=60000)  # CPI 0.6667: EAC 150,000
    worse = env.scan().raised
    assert [(e.seq, e.deviation) for e in worse] == [(2, Decimal(50000))]
    # Approving the exception plan re-baselines BAC (audited, before and after); the same report raises nothing.
    planned = env.decide(
        worse[0].id,
        ExceptionDecision.APPROVE_PLAN,
        actors.admin("pam"),
        reason="plan approved",
        new_bac=Decimal(150000),
    )
    assert planned.decision is ExceptionDecision.APPROVE_PLAN
    assert env.store.baselines["P1"].bac == Decimal(150000)
    (rebaselined,) = env.audit("baseline.rebaselined")
    assert (rebaselined["bac_before"], rebaselined["bac_after"]) == ("100000", "150000")
    assert env.scan().raised == ()
    assert [e["decision"] for e in env.audit("exception.decided")] == ["accept", "approve_plan"]


def test_approving_a_cost_plan_without_a_new_bac_takes_the_forecast(env: Env) -> None:
    env.report(date(2026, 11, 30), ev=40000, ac=50000)
    raised = env.scan().raised[0]
    env.decide(raised.id, ExceptionDecision.APPROVE_PLAN, SAM)
    assert env.store.baselines["P1"].bac == Decimal(125000)


def test_listing_exceptions_checks_its_filters(env: Env) -> None:
    with pytest.raises(InputError, match="status: 'pending' is not allowed"):
        services.list_exceptions(uow=env.uow, status="pending")
    with pytest.raises(NotFoundError, match="NOPE"):
        services.list_exceptions(uow=env.uow, project_key="NOPE")


def test_the_rag_of_each_day_is_kept_and_read_back_with_its_open_exceptions(env: Env) -> None:
    env.report(date(2026, 11, 30), ev=40000, ac=50000)
    env.scan()
    env.scan()  # the same day again: replaces that day's rows
    env.at += timedelta(days=1)
    env.report(date(2026, 12, 1), ev=50000, ac=52000)  # CPI 0.96: EAC 104,000, 4,000 over of 15,000 allowed
    env.scan()
    assert len(env.store.rag) == 2 * 5  # two days of cost, time, quality, risk and overall
    rag = services.project_rag("P1", uow=env.uow)
    cost = next(d for d in rag.dimensions if d.dimension == "cost")
    assert (cost.rag.value, cost.deviation, cost.allowance) == ("green", Decimal(4000), Decimal(15000))
    assert [day.colours["cost"].value for day in rag.history] == ["red", "green"]
    assert [e.seq for e in rag.open_exceptions] == [1]  # still open until its level decides


PLAN = [  # cumulative planned value, 5 working days apart from its zero point on 03-06 (a 20-day plan)
    (date(2026, 3, 6), Decimal(0)),
    (date(2026, 3, 13), Decimal(100)),
    (date(2026, 3, 20), Decimal(300)),
    (date(2026, 3, 27), Decimal(600)),
    (date(2026, 4, 3), Decimal(1000)),
]


def test_approving_a_time_exception_plan_re_times_the_schedule_to_the_forecast(env: Env) -> None:
    """LATE reports EV 150 on 03-20 (AT 10): ES 5 + 50/200 x 5 = 6.25, IEAC(t) 20 x 10 / 6.25 = 32, 12 working days
    late against the default 10 allowed: a time exception. Approving its plan re-times the curve by 32/20 (the
    points at 5, 10, 15 and 20 working days move to 8, 16, 24 and 32), audited with the finish before and after,
    and bumps the evidence version (an open round re-evaluates); the same report is then on plan."""
    env.at = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
    services.create_project(
        CreateProject(
            key="LATE", template_id="it-pmo", name="LATE", sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
        ),
        uow=env.uow,
        now=env.now(),
        actor=SYSTEM_ACTOR,
    )
    services.set_baseline(
        "LATE",
        BaselineRecord(bac=Decimal(1000)),
        actor=SYSTEM_ACTOR,
        periods=PLAN,
        stage_budgets={},
        uow=env.uow,
        now=env.now(),
    )
    services.record_status(
        [
            EvmReportRecord(
                project_key="LATE", as_of=date(2026, 3, 20), earned_value=Decimal(150), actual_cost=Decimal(150)
            )
        ],
        actor=SYSTEM_ACTOR,
        uow=env.uow,
        now=env.now(),
    )
    version = env.store.projects["LATE"].evidence_version
    (late,) = services.scan_projects(["LATE"], uow=env.uow, now=env.now()).raised
    assert (late.dimension, late.forecast, late.allowance, late.deviation) == (
        Dimension.TIME,
        Decimal(32),
        Decimal(10),
        Decimal(12),
    )
    env.decide(late.id, ExceptionDecision.APPROVE_PLAN, SAM, reason="recovery plan approved")
    assert env.store.baseline_periods["LATE"] == [
        (date(2026, 3, 6), Decimal(0)),
        (date(2026, 3, 18), Decimal(100)),
        (date(2026, 3, 30), Decimal(300)),
        (date(2026, 4, 9), Decimal(600)),
        (date(2026, 4, 21), Decimal(1000)),
    ]
    (moved,) = env.audit("baseline.rescheduled")
    assert (moved["finish_before"], moved["finish_after"]) == ("2026-04-03", "2026-04-21")
    assert env.store.projects["LATE"].evidence_version == version + 1
    again = services.scan_projects(["LATE"], uow=env.uow, now=env.now())
    assert (again.health[0].time.value, again.health[0].time_deviation, again.raised) == ("green", "0.00", ())

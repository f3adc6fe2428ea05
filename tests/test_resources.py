"""Resources across projects, on hand-computed cases: capacity from working calendars (US January and February
2027, China's National Day 2026), allocation with over-allocation flagged per role and per person, the
``resources.committed`` criterion turning a capacity shortfall into a HOLD recommendation with a remediation
naming the role and month, the HOLD queue ranked by priority (each project that fits reserves its hours), demand
imports all or nothing with row-level errors, and who may set what (refusals audited). SQLite and PostgreSQL.

Calendar facts the numbers rest on (the ``holidays`` library):
- US, January 2027: 21 weekdays less New Year's Day (Fri 1st) and Martin Luther King Jr. Day (Mon 18th) = 19.
- US, February 2027: 20 weekdays less Presidents' Day (Mon 15th) = 19.
- China, October 2026: 22 weekdays less National Day on Oct 1, 2, 5, 6, 7 = 17, plus the make-up working
  Saturday Oct 10 (调休) = 18.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import openpyxl
import pytest
import yaml
from sqlalchemy import func, select

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.capacity import Capacities, allocation, person_capacity, working_days
from phasegate.gates.evaluation import recommend
from phasegate.gates.staffing import committed
from phasegate.gates.vocabulary.commands import AddPerson, CastVote, CreateProject, RequestReview
from phasegate.gates.vocabulary.enums import CriterionKind, Decision, ProjectStatus, Recommendation
from phasegate.gates.vocabulary.errors import InputError, PermissionDeniedError, UnknownReferencesError
from phasegate.gates.vocabulary.evidence import GateEvidence
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.gates.vocabulary.resources import (
    CapacityOverride,
    DemandLine,
    ResourceEvidence,
    ResourceLine,
    ResourceProfile,
)
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.imports import ImportRowsError, parse_demand
from phasegate.models.template_yaml import load_template_text, shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import approvals, services
from phasegate.usecases.ports import UnitOfWork
from tests import actors
from tests.gatekeeping import add_ready_project, probe
from tests.test_api import Api, api  # noqa: F401  (the API fixture, shared)
from tests.test_remote_cli import Team, team  # noqa: F401  (the team server fixture, shared)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
JAN, FEB = date(2027, 1, 1), date(2027, 2, 1)
ACTIVE = ProjectStatus.ACTIVE


# pure rules ---------------------------------------------------------------------------------------------------
@pytest.mark.unit
def test_working_days_and_capacity_by_hand() -> None:
    us, cn = WorkingCalendar(region="US"), WorkingCalendar(region="CN", timezone="Asia/Shanghai")
    assert working_days(us, JAN) == 19 and working_days(us, FEB) == 19
    assert working_days(cn, date(2026, 10, 1)) == 18
    half = ResourceProfile(person_id="p", role="developer", fte=Decimal("0.5"))
    assert person_capacity(half, JAN) == Decimal("76.00")  # 19 days x 0.5 x 8 h
    six_hours = ResourceProfile(person_id="q", role="analyst", hours_per_day=Decimal(6), region="CN")
    assert person_capacity(six_hours, date(2026, 10, 1)) == Decimal("108.00")  # 18 days x 6 h
    leave = CapacityOverride(person_id="p", month=JAN, hours=Decimal("10"))
    assert person_capacity(half, JAN, leave) == Decimal("10")


def _line(project: str, stage: str, month: date, hours: str, person: str | None = None) -> DemandLine:
    return DemandLine(
        project_key=project, stage_id=stage, role="developer", month=month, hours=Decimal(hours), person_id=person
    )


@pytest.mark.unit
def test_allocation_counts_only_current_stages_of_active_projects_as_committed() -> None:
    profiles = [
        ResourceProfile(person_id="dev1", role="developer"),
        ResourceProfile(person_id="dev2", role="developer", fte=Decimal("0.5")),
    ]
    caps = Capacities.of(profiles, [CapacityOverride(person_id="dev1", month=FEB, hours=Decimal(80))], [JAN, FEB])
    demand = [
        _line("B", "initiating", JAN, "100", person="dev2"),  # B's current stage: committed
        _line("B", "planning", JAN, "500"),  # B's next stage: planned only
        _line("H", "planning", FEB, "40"),  # on hold: planned only
        _line("K", "initiating", JAN, "900"),  # killed: neither
        _line("C", "planning", JAN, "130", person="dev2"),
    ]
    stage_of = {
        "B": (ACTIVE, "initiating"),
        "C": (ACTIVE, "planning"),
        "H": (ProjectStatus.ON_HOLD, "initiating"),
        "K": (ProjectStatus.KILLED, "initiating"),
    }
    rows = {(r.role, r.month): r for r in allocation(caps, demand, stage_of, [JAN, FEB])}
    jan, feb = rows["developer", "2027-01"], rows["developer", "2027-02"]
    # January: 152 + 76 = 228 h; committed B 100 + C 130 = 230 > 228: over-allocated by 2 h.
    assert (jan.capacity, jan.committed, jan.planned, jan.free) == (228, 230, 500, -2)
    assert jan.over_allocated and jan.projects == ("B", "C")
    # February: dev1's override 80 h + dev2 76 h = 156; only H's 40 h, planned.
    assert (feb.capacity, feb.committed, feb.planned, feb.over_allocated) == (156, 0, 40, False)
    people = {(r.person, r.month): r for r in allocation(caps, demand, stage_of, [JAN], by_person=True)}
    assert people["dev2", "2027-01"].committed == 230 and people["dev2", "2027-01"].free == -154
    assert people["dev1", "2027-01"].committed == 0 and not people["dev1", "2027-01"].over_allocated


def _evidence(resources: ResourceEvidence | None) -> GateEvidence:
    return GateEvidence(
        project_key="A",
        template="t",
        gate_id="g",
        stage_id="s",
        budget=Decimal(1),
        currency="USD",
        actual_cost=Decimal(0),
        documents=(),
        resources=resources,
    )


def _judge(resources: ResourceEvidence | None) -> CriterionResult:
    definition = CriterionDef(code="resources.committed")
    return committed(definition, None, None, _evidence(resources))  # type: ignore[arg-type]


@pytest.mark.unit
def test_criterion_fails_naming_the_over_allocated_role_and_month_and_recommends_hold() -> None:
    lines = (
        ResourceLine(
            role="developer", month="2027-01", demand=Decimal(150), capacity=Decimal(228), committed=Decimal(100)
        ),
        ResourceLine(role="tester", month="2027-02", demand=Decimal(40), capacity=Decimal(40), committed=Decimal(0)),
    )
    result = _judge(ResourceEvidence(next_stage="planning", lines=lines))
    assert not result.passed and not result.evidence_missing and result.measured == "1/2 role-months fit"
    assert "developer 2027-01: needs 150 h, capacity 228 h, committed to other projects 100 h, short 22 h" in (
        result.message
    )
    assert result.remediation.startswith("developer is over-allocated in 2027-01")
    assert "developer 在 2027-01 超额分配" in result.remediation_zh
    assert recommend((result,))[0] is Recommendation.HOLD
    fixable = result.model_copy(update={"code": "budget.cpi_floor"})
    assert recommend((result, fixable))[0] is Recommendation.RECYCLE  # something to fix comes before "not now"
    should = result.model_copy(update={"kind": CriterionKind.SHOULD_MEET})
    assert recommend((should,))[0] is Recommendation.CONDITIONAL_GO

    fits = _judge(ResourceEvidence(next_stage="planning", lines=lines[1:]))
    assert fits.passed and fits.measured == "1/1 role-months fit"
    unplanned = _judge(ResourceEvidence(next_stage="planning"))
    assert unplanned.evidence_missing and "resources demand import" in unplanned.remediation
    assert _judge(ResourceEvidence(next_stage=None)).passed


# with a database ------------------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def resource_template() -> tuple[str, Any]:
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
    def __init__(self, url: str, uow: Callable[[], UnitOfWork] | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.clock = Clock()
        self.admin = actors.admin("zed")
        self._uow = uow  # a runtime's (keyed audit chain) where a flow shares the database

    def uow(self) -> UnitOfWork:
        return self._uow() if self._uow is not None else SqlUnitOfWork(self.engine)

    def demand(self, path: Path, rows: list[tuple[Any, ...]], *, by: Any = None) -> services.DemandImport:
        write_xlsx(path, [("project", "stage", "role", "month", "hours", "fte_days", "person"), *rows])
        return services.import_demand(
            parse_demand(path), source=path.name, actor=by or self.admin, uow=self.uow, now=self.clock()
        )

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

    def count(self, table: Any) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)


def write_xlsx(path: Path, rows: list[tuple[Any, ...]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "demand"
    for row in rows:
        sheet.append(list(row))
    book.save(path)


def populate(e: Env, notify: str = "json://127.0.0.1:9") -> None:
    """The it-res template; sponsor sam (zh-CN, the only one with a notification target), manager mgr, finance
    fin, pmo pam; two developers with one February override; projects A to D ready for their first gate."""
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
                notify_urls=(f"{notify}/{pid}",) if pid == "sam" else (),
            ),
            uow=e.uow,
            now=e.clock(),
            actor=SYSTEM_ACTOR,
        )
    # developers: dev1 full time, dev2 half time, both on the US calendar; dev1 has 10 days in February
    for pid, fte in (("dev1", "1"), ("dev2", "0.5")):
        services.set_resource_profile(
            ResourceProfile(person_id=pid, role="developer", fte=Decimal(fte)), actor=e.admin, uow=e.uow, now=e.clock()
        )
    services.set_capacity("dev1", FEB, fte_days=Decimal(10), actor=e.admin, uow=e.uow, now=e.clock())
    for key in ("A", "B", "C", "D"):
        add_ready_project(e.uow, e.clock, key, template_id="it-res")


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = Env(db_url)
    populate(e)
    yield e
    e.engine.dispose()


def _resources(result: services.ReviewResult) -> CriterionResult:
    return next(r for r in result.evaluation.criteria if r.code == "resources.committed")


def test_an_over_allocated_role_holds_the_gate_and_the_queue_ranks_by_priority(env: Env, tmp_path: Path) -> None:
    # B (active, in initiating) has committed dev2 for 100 h in January; A, C and D plan their next stage.
    env.demand(tmp_path / "b.xlsx", [("B", "initiating", "developer", "2027-01", 100, None, "dev2")])
    plan = [
        ("A", "planning", "developer", "2027-01", 150, None, None),
        ("A", "planning", "developer", "2027-02", None, 5, None),  # 5 FTE-days x 8 h = 40 h
        ("C", "planning", "developer", "2027-01", 100, None, None),
        ("D", "planning", "developer", "2027-01", 20, None, None),
    ]
    done = env.demand(tmp_path / "plan.xlsx", plan)
    assert (done.lines, done.hours, done.projects) == (4, Decimal("310.00"), ("A", "C", "D"))
    assert env.demand(tmp_path / "plan.xlsx", plan).lines == 4 and env.count(t.DemandRow) == 5  # idempotent

    # January: 152 + 76 = 228 h of developers, 100 committed to B: 128 left; A needs 150.
    held = env.review("A")
    result = _resources(held)
    assert held.evaluation.recommendation is Recommendation.HOLD and not result.passed
    assert (
        "developer 2027-01: needs 150.00 h, capacity 228.00 h, committed to other projects 100.00 h, short 22.00 h"
        in (result.message)
    )
    assert "developer 2027-02" not in result.message  # 40 h of 80 + 76 = 156 fits
    assert result.remediation.startswith("developer is over-allocated in 2027-01")
    assert held.round_id is not None  # HOLD is advice to the gatekeepers: the round opens
    env.decide(held.round_id, Decision.HOLD)

    fits = env.review("C")  # 100 h of the 128 left
    assert fits.evaluation.recommendation is Recommendation.GO, fits.evaluation.reasons
    assert _resources(fits).passed and _resources(fits).measured == "1/1 role-months fit"
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
    # D fits: its sponsor is told once (in Chinese, sam's language); the same plan never announces twice.
    assert services.announce_capacity(uow=env.uow, now=env.clock()) == ["D"]
    assert services.announce_capacity(uow=env.uow, now=env.clock()) == []
    with env.sessions() as session:
        notices = session.execute(
            select(t.OutboxMessage.recipient_id, t.OutboxMessage.locale, t.OutboxMessage.context).where(
                t.OutboxMessage.kind == "capacity_available"
            )
        ).all()
    assert [(who, locale, c["project_key"], c["rank"], c["demand_hours"]) for who, locale, c in notices] == [
        ("sam", "zh-CN", "D", 1, "20.00")
    ]

    view = services.allocation_view(uow=env.uow, today=date(2027, 1, 15), last=FEB)
    jan, feb = view.rows
    assert (jan.month, jan.capacity, jan.committed, jan.planned, jan.free) == ("2027-01", 228, 200, 170, 28)
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

    # The web shows the queue on /resources and, on a held project's page, where it waits and why.
    from fastapi.testclient import TestClient

    from phasegate.models.settings import Settings
    from phasegate.web.app import create_app
    from tests.signin import give_password, sign_in

    give_password(env.sessions, "mgr")
    with TestClient(create_app(Settings(database_url=env.url, home=tmp_path / "home"))) as client:
        assert sign_in(client, "mgr", next_path="/resources").status_code == 303
        board = client.get("/resources", params={"start": "2027-01", "end": "2027-02"}).text
        assert board.index('data-project="D"') < board.index('data-project="A"')
        held_page = client.get("/projects/A").text
        assert 'id="hold-queue"' in held_page and "HOLD queue</a>" not in held_page
        assert "HOLD queue #2</a>" in held_page and "short 142.00 h" in held_page
        assert "暂缓队列 #2" in client.get("/projects/A", params={"lang": "zh-CN"}).text
        assert 'id="hold-queue"' not in client.get("/projects/C").text  # active: no queue place


def test_a_trimmed_plan_re_evaluates_the_open_round(env: Env, tmp_path: Path) -> None:
    """Importing demand is new evidence: an open round re-assesses its gate (votes superseded, packet refreshed)."""
    env.demand(tmp_path / "b.xlsx", [("B", "initiating", "developer", "2027-01", 100, None, None)])
    env.demand(tmp_path / "a.xlsx", [("A", "planning", "developer", "2027-01", 150, None, None)])
    held = env.review("A")
    assert held.evaluation.recommendation is Recommendation.HOLD and held.round_id is not None
    env.demand(tmp_path / "a.xlsx", [("A", "planning", "developer", "2027-01", 120, None, None)])  # 120 of 128
    services.reassess_open_round(
        env.uow, round_id=held.round_id, now=env.clock(), probe=probe, registry=None, links=None
    )
    latest = services.latest_review("A", uow=env.uow)
    assert latest is not None
    evaluation = latest.evaluation
    assert evaluation.recommendation is Recommendation.GO
    result = next(r for r in evaluation.criteria if r.code == "resources.committed")
    assert result.passed and "needs 120.00 h" in result.message


@pytest.mark.flow
def test_the_portfolio_monitor_tells_the_sponsor_once_when_capacity_frees_up(
    sqlite_url: str, prefect_harness: None, tmp_path: Path
) -> None:
    import os

    from phasegate.flows.cli.database import db_upgrade
    from phasegate.flows.portfolio_monitor import portfolio_monitor_flow
    from phasegate.flows.runtime import runtime
    from tests.receivers import HttpReceiver

    previous = os.environ.get("PHASEGATE_DATABASE_URL")
    db_upgrade(sqlite_url)
    e = Env(sqlite_url, runtime(sqlite_url).uow)
    try:
        with HttpReceiver() as receiver:
            populate(e, notify=receiver.apprise_url("").rstrip("/"))
            e.demand(tmp_path / "b.xlsx", [("B", "initiating", "developer", "2027-01", 100, None, None)])
            e.demand(tmp_path / "d.xlsx", [("D", "planning", "developer", "2027-01", 20, None, None)])
            parked = e.review("D")  # 20 h of the 128 left: fits, but the gatekeepers hold it
            e.decide(parked.round_id, Decision.HOLD)
            before = len(receiver.requests)
            first = portfolio_monitor_flow(return_state=True)
            assert first.is_completed(), first
            assert first.result()["capacity_available"] == ["D"]
            sent = [(r.path, json.loads(r.body)) for r in receiver.requests[before:]]
            told = [(path, body) for path, body in sent if "产能已释放" in body["title"]]
            assert [path for path, _ in told] == ["/sam"], sent
            assert "暂缓队列第 1 位" in told[0][1]["message"]
            assert portfolio_monitor_flow()["capacity_available"] == []  # the same plan: told once
    finally:
        e.engine.dispose()
        if previous is None:
            os.environ.pop("PHASEGATE_DATABASE_URL", None)
        else:
            os.environ["PHASEGATE_DATABASE_URL"] = previous


def test_demand_import_is_all_or_nothing_with_row_errors(env: Env, tmp_path: Path) -> None:
    env.demand(tmp_path / "ok.xlsx", [("A", "planning", "developer", "2027-01", 10, None, None)])
    before = (env.count(t.DemandRow), env.count(t.AuditEntry))
    bad = [
        ("A", "planning", "developer", "2027-01", 10, None, None),
        ("NOPE", "planning", "developer", "2027-01", 10, None, None),
        ("A", "building", "develper", "2027-02", 10, None, None),
        ("A", "planning", "developer", "2027-03", 10, None, "sam"),
    ]
    with pytest.raises(UnknownReferencesError) as refused:
        env.demand(tmp_path / "bad.xlsx", bad)
    assert refused.value.problems == [
        "bad.xlsx:row 3: project: unknown project 'NOPE'; see 'phasegate project list'",
        "bad.xlsx:row 4: stage: 'building' is not a stage of it-res@1; stages: initiating, planning, executing, "
        "closing",
        "bad.xlsx:row 4: role: nobody has the role 'develper'; roles with capacity: developer "
        "(phasegate resources person set PERSON --role ROLE)",
        "bad.xlsx:row 5: person: 'sam' has no resource role; set one with "
        "'phasegate resources person set sam --role developer'",
    ]
    path = tmp_path / "cells.xlsx"
    write_xlsx(
        path,
        [
            ("project", "stage", "role", "month", "hours", "fte_days"),
            ("A", "planning", "developer", "2027-13", 10, None),
            ("A", "planning", "developer", datetime(2027, 1, 15), 3, None),
            ("A", "planning", "developer", datetime(2027, 2, 1), None, None),
            ("A", "planning", "developer", datetime(2027, 3, 1), "1,5", None),
        ],
    )
    with pytest.raises(ImportRowsError) as cells:
        parse_demand(path)
    assert [p.split(": ", 1)[1] for p in cells.value.problems] == [
        "month: must be a month as YYYY-MM (for example 2027-01); found '2027-13'",
        "month: must be a month as YYYY-MM or the first day of a month; found the date and time 2027-01-15 00:00:00",
        "give exactly one of hours or fte_days",
        "hours: must not contain thousands separators or a decimal comma; write digits with '.' for decimals, "
        "such as 1234.50; found '1,5'",
    ]
    assert (env.count(t.DemandRow), env.count(t.AuditEntry)) == before  # nothing written


def test_who_may_set_capacity_demand_and_priority_and_refusals_are_audited(env: Env, tmp_path: Path) -> None:
    services.create_project(
        CreateProject(key="E", template_id="it-res", name="E", sponsor_id="sam", manager_id="mgr2", budget=Decimal(1)),
        uow=env.uow,
        now=env.clock(),
        actor=SYSTEM_ACTOR,
    )
    manager_b = actors.person("mgr2", OrgRole.MANAGER)
    gatekeeper = actors.person("ana", OrgRole.GATEKEEPER)
    own = env.demand(tmp_path / "own.xlsx", [("E", "initiating", "developer", "2027-01", 8, None, None)], by=manager_b)
    assert own.stages == ("E/initiating",)
    refusals = env.count(t.AuditEntry)
    with pytest.raises(PermissionDeniedError, match="may not set a project's resource demand of A"):
        env.demand(
            tmp_path / "two.xlsx",
            [("E", "initiating", "developer", "2027-01", 9, None, None), ("A", "planning", "developer", "2027-01", 9)],
            by=manager_b,
        )
    with pytest.raises(PermissionDeniedError, match="resource roles and capacity"):
        services.set_capacity("dev1", JAN, hours=Decimal(1), actor=manager_b, uow=env.uow, now=env.clock())
    with pytest.raises(PermissionDeniedError, match="resource roles and capacity"):
        services.set_resource_profile(
            ResourceProfile(person_id="ana", role="tester"), actor=gatekeeper, uow=env.uow, now=env.clock()
        )
    with pytest.raises(PermissionDeniedError, match="priority"):
        services.set_priority("A", 5, actor=manager_b, uow=env.uow, now=env.clock())
    with env.sessions() as session:
        actions = list(session.scalars(select(t.AuditEntry.action).order_by(t.AuditEntry.seq)))[refusals:]
    assert actions == ["security.refused"] * 4
    assert [line.hours for line in services.demand_lines(uow=env.uow, project_key="E")] == [Decimal("8.00")]
    with pytest.raises(InputError, match="--region: unknown region 'XX'"):
        services.set_resource_profile(
            ResourceProfile(person_id="ana", role="tester", region="XX"), actor=env.admin, uow=env.uow, now=env.clock()
        )
    with pytest.raises(InputError, match="at most 36"):
        services.allocation_view(uow=env.uow, today=JAN, first=JAN, last=date(2030, 1, 1))


# the CLI ---------------------------------------------------------------------------------------------------------
def test_cli_sets_capacity_imports_demand_and_flags_over_allocation(sqlite_url: str, tmp_path: Path) -> None:
    from tests.test_cli import PILOT, PILOT_PEOPLE, Cli, ready

    cli = Cli.of(sqlite_url)
    ready(
        cli.url,
        people=[*PILOT_PEOPLE, AddPerson(id="dev1", name="Dev", email="dev1@example.com")],
        projects=[PILOT],
    )
    assert cli.json("resources", "person", "set", "dev1", "--role", "developer")["region"] == "US"
    assert "dev1 2027-02: 40.00 h" in cli.run("resources", "capacity", "set", "dev1", "--month", "2027-02",
                                               "--fte-days", "5").stdout  # fmt: skip
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "project,stage,role,month,hours\nP1,initiating,developer,2027-01,160\nP1,initiating,developer,2027-02,50\n",
        encoding="utf-8",
    )
    assert "2 demand lines (210.00 h) imported for P1/initiating" in cli.run("resources", "demand", "import",
                                                                             str(plan)).stdout  # fmt: skip
    view = cli.json("resources", "allocation", "--from", "2027-01", "--to", "2027-02")
    # P1 is active in initiating: its 160 h of January are committed against 152 h; February 50 against 40.
    assert [(r["month"], r["capacity"], r["committed"], r["over_allocated"]) for r in view["rows"]] == [
        ("2027-01", "152.00", "160.00", True),
        ("2027-02", "40.00", "50.00", True),
    ]
    table = cli.run("resources", "allocation", "--role", "developer", "--from", "2027-01", "--to", "2027-01").stdout
    assert "OVER P1" in table and "1 over-allocated role-month in 2027-01..2027-01" in table
    assert "no project is on hold" in cli.run("resources", "queue").stdout
    before = cli.audit_count()
    for args, says in (
        (("resources", "allocation", "--from", "2027-1"), "--from: '2027-1' is not a month"),
        (("resources", "allocation", "--from", "2027-03", "--to", "2027-01"), "is before --from"),
        (("resources", "allocation", "--role", "tester"), "--role: nobody has the role 'tester'"),
        (("resources", "allocation", "--from", "0000-01"), "--from: '0000-01' is not a month"),
        (("resources", "capacity", "set", "dev1", "--month", "2027-01"), "--hours or --fte-days"),
        (("resources", "capacity", "set", "alice", "--month", "2027-01", "--hours", "8"), "no resource role"),
        (("resources", "person", "set", "dev1", "--role", "developer", "--fte", "2"), "--fte"),
        (("resources", "person", "set", "nobody", "--role", "developer"), "unknown person 'nobody'"),
        (("resources", "priority", "P1", "1001"), "PRIORITY"),
        (("resources", "demand", "import", str(tmp_path / "missing.csv")), "missing.csv"),
    ):
        done = cli.run(*args, expect=2)
        assert says in done.stderr, (args, done.stderr)
    assert cli.audit_count() == before  # nothing written


# through a team server -----------------------------------------------------------------------------------------
def test_remote_demand_import_allocation_and_queue_read_as_locally(team: Team, tmp_path: Path) -> None:  # noqa: F811
    engine = make_engine(team.db_url)  # setup, through the use case `resources person set` calls, in this process
    try:
        services.set_resource_profile(
            ResourceProfile(person_id="fin", role="analyst", fte=Decimal("0.5")),
            actor=SYSTEM_ACTOR,
            uow=lambda: SqlUnitOfWork(engine),
            now=datetime.now(UTC),
        )
    finally:
        engine.dispose()
    pam, ann = team.laptop("pam"), team.laptop("ann")
    pam.login(team, "pmo")
    ann.login(team, "outsider")
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "project,stage,role,month,hours,fte_days\nP1,initiating,analyst,2027-01,80,\nP1,planning,analyst,2027-01,,2\n",
        encoding="utf-8",
    )
    assert pam.run("resources", "demand", "import", str(plan)).stdout == (
        "2 demand lines (96.00 h) imported for P1/initiating, P1/planning\n"
    )
    for args in (
        ("resources", "allocation", "--from", "2027-01", "--to", "2027-02"),
        ("resources", "allocation", "--from", "2027-01", "--to", "2027-01", "--by-person", "--json"),
        ("resources", "demand", "list", "--project", "P1"),
        ("resources", "queue"),
    ):
        remote, local = pam.run(*args).stdout, team.local(*args).stdout
        assert remote == local, (args, remote, local)
    # fin: 19 days x 0.5 x 8 h = 76 h in January; P1's initiating 80 h is committed: over-allocated.
    table = pam.run("resources", "allocation", "--role", "analyst", "--from", "2027-01", "--to", "2027-01").stdout
    assert "analyst            2027-01       76.00      80.00      16.00      -4.00  OVER P1" in table
    refused = ann.run("resources", "demand", "import", str(plan), expect=2)
    assert "may not set a project's resource demand of P1" in refused.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("project,stage,role,month,hours\nP1,building,analyst,2027-01,8\n", encoding="utf-8")
    unknown = pam.run("resources", "demand", "import", str(bad), expect=2)
    assert f"{bad}:row 2: stage: 'building' is not a stage of it-pmo@" in unknown.stderr
    assert (
        "resources person is not available through the server"
        in pam.run("resources", "person", "set", "fin", "--role", "analyst", expect=2).stderr
    )


# the API and the page --------------------------------------------------------------------------------------------
def test_api_sets_capacity_imports_demand_and_shows_allocation(api: Api) -> None:  # noqa: F811
    project = {"key": "R1", "name": "Pilot", "template_id": "it-pmo", "sponsor_id": "sam", "manager_id": "mgr"}
    assert api.post("/projects", project | {"budget": "1000.00"}).status_code == 201
    put = api.client.put(
        "/api/v1/resources/people/fin", json={"role": "analyst", "fte": "0.5"}, headers=api.headers("pmo")
    )
    assert put.status_code == 200, put.text
    rows = [
        {"project": "R1", "stage": "initiating", "role": "analyst", "month": "2027-01", "hours": "80"},
        {"project": "R1", "stage": "planning", "role": "analyst", "month": "2027-01", "fte_days": "2"},
    ]
    imported = api.post("/resources/demand", {"rows": rows})
    assert imported.status_code == 200 and imported.json()["hours"] == "96.00", imported.text
    view = api.get("/resources/allocation", **{"from": "2027-01", "months": 1}).json()
    # fin: 19 days x 0.5 x 8 h = 76 h; R1's initiating 80 h committed: over by 4; planning's 16 h planned.
    assert [(r["capacity"], r["committed"], r["planned"], r["free"], r["over_allocated"]) for r in view["rows"]] == [
        ("76.00", "80.00", "16.00", "-4.00", True)
    ]
    assert api.get("/resources/queue").json() == []
    assert api.get("/resources/demand", project="R1").json()[0]["hours"] == "80.00"
    before = len(api.audit())
    assert api.post("/resources/demand", {"rows": rows}, who="viewer").status_code == 403
    refused = api.client.put("/api/v1/resources/people/fin/capacity/2027-01", json={"hours": "8"},
                             headers=api.headers("outsider"))  # fmt: skip
    assert refused.status_code == 403
    bad = api.post("/resources/demand", {"rows": [rows[0] | {"project": "NOPE"}]})
    assert bad.status_code == 404, bad.text
    assert "row 1: project: unknown project 'NOPE'" in bad.text
    both = api.post("/resources/demand", {"rows": [rows[0] | {"fte_days": "1"}]})
    assert both.status_code == 422 and "Extra inputs are not permitted" in both.text  # hours or fte_days, not both
    capacity = api.client.put("/api/v1/resources/people/fin/capacity/2027-01", json={"fte_days": "5"},
                              headers=api.headers("pmo"))  # fmt: skip
    assert capacity.status_code == 200 and capacity.json()["override"]["hours"] == "40.00"
    cleared = api.client.delete("/api/v1/resources/people/fin/capacity/2027-01", headers=api.headers("pmo"))
    assert cleared.status_code == 200 and cleared.json()["override"] is None
    priority = api.client.put("/api/v1/projects/R1/priority", json={"priority": 7}, headers=api.headers("pmo"))
    assert priority.status_code == 200 and priority.json()["priority"] == 7
    actions = api.audit()[before:]
    assert actions.count("security.refused") == 2
    assert actions.count("resources.capacity_set") == 2 and actions.count("resources.priority_set") == 1


def page_world(sqlite_url: str, tmp_path: Path) -> Env:
    """Shipped templates, a manager who signs in, W1 (active, in initiating) planning 200 developer hours in
    January 2027 against dev1's 152: over-allocated by 48 h."""
    from tests.signin import give_password

    e = Env(sqlite_url)
    for source, template in shipped_templates():
        services.publish_template(
            template, content_hash=template_content_hash(template), source=source, uow=e.uow, now=e.clock(),
            actor=SYSTEM_ACTOR,
        )  # fmt: skip
    for pid, roles in (("mgr", {OrgRole.MANAGER}), ("sam", {OrgRole.GATEKEEPER}), ("dev1", set())):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com", roles=frozenset(roles)),
            uow=e.uow,
            now=e.clock(),
            actor=SYSTEM_ACTOR,
        )
    services.create_project(
        CreateProject(key="W1", template_id="it-pmo", name="W", sponsor_id="sam", manager_id="mgr", budget=Decimal(1)),
        uow=e.uow,
        now=e.clock(),
        actor=SYSTEM_ACTOR,
    )
    services.set_resource_profile(
        ResourceProfile(person_id="dev1", role="developer"), actor=SYSTEM_ACTOR, uow=e.uow, now=e.clock()
    )
    e.demand(tmp_path / "w.xlsx", [("W1", "initiating", "developer", "2027-01", 200, None, None)], by=SYSTEM_ACTOR)
    give_password(e.sessions, "mgr")
    return e


def test_resources_page_flags_over_allocation_in_both_languages(sqlite_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from phasegate.models.settings import Settings
    from phasegate.web.app import create_app
    from tests.signin import sign_in

    e = page_world(sqlite_url, tmp_path)
    app = create_app(Settings(database_url=sqlite_url, home=tmp_path / "home"))
    with TestClient(app) as client:
        assert client.get("/resources", follow_redirects=False).status_code in (302, 303)  # sign-in first
        assert sign_in(client, "mgr", next_path="/resources").status_code == 303
        page = client.get("/resources", params={"start": "2027-01", "end": "2027-02"})
        assert page.status_code == 200, page.text
        assert 'data-role="developer" data-month="2027-01" class="row-overdue" data-over="1"' in page.text
        assert 'data-month="2027-02">' in page.text  # February: no demand, not flagged
        assert "over-allocated" in page.text and "W1" in page.text and "No project is on hold." in page.text
        chinese = client.get("/resources", params={"start": "2027-01", "end": "2027-01", "lang": "zh-CN"})
        assert "超额分配" in chinese.text and "暂缓队列" in chinese.text
        assert client.get("/resources", params={"start": "2027-13"}).status_code == 400
    e.engine.dispose()


def test_resources_page_in_chromium(sqlite_url: str, tmp_path: Path) -> None:
    import threading
    import time

    import uvicorn

    from phasegate.models.settings import Settings
    from phasegate.web.app import create_app
    from tests.browser import artifact, chromium
    from tests.receivers import free_port
    from tests.signin import PASSWORD

    e = page_world(sqlite_url, tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=sqlite_url, home=tmp_path / "home", public_url=base)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.goto(base + "/resources")
            page.fill("#person_id", "mgr")
            page.fill("#password", PASSWORD)
            with page.expect_navigation():
                page.click("#signin-form button[type=submit]")
            page.goto(base + "/resources?start=2027-01&end=2027-03")
            flagged = page.locator("tr[data-over='1']")
            assert flagged.count() == 1 and flagged.get_attribute("data-month") == "2027-01"
            assert "-48.00" in flagged.inner_text() and "over-allocated" in flagged.inner_text()
            assert page.locator("table.allocation tbody tr").count() == 3
            page.select_option("#role", "developer")
            with page.expect_navigation():
                page.click("form.card button[type=submit]")
            assert "role=developer" in page.url
            page.screenshot(path=str(artifact("resources.png")), full_page=True)
            page.goto(base + "/resources?start=2027-01&end=2027-01&lang=zh-CN")
            assert "超额分配" in page.locator("tr[data-over='1']").inner_text()
            page.screenshot(path=str(artifact("resources-zh-CN.png")), full_page=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        e.engine.dispose()

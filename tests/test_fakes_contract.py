"""The fakes keep the SQL repositories' contract: one scenario, played through the use cases on the in-memory fakes
(``tests.fakes``) and on a real database, leaves the same answers to every read of the tolerances, monitoring,
reports, strategy and resources repositories.

Why: the unit tier trusts the fakes to answer as SQL does (``test_*_on_fakes``); a query changed in
``models/repositories`` without its fake (or the other way round) makes this fail, naming the read that drifted.
Identifiers the database or the use case makes up (exception and review ids) are left out; numbers compare by
value (a ``Numeric`` column gives back its scale); reads whose SQL has no ``ORDER BY`` compare as sets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from phasegate.gates.vocabulary.commands import (
    AddPerson,
    CastVote,
    CreateProject,
    RequestReview,
    SetTolerance,
)
from phasegate.gates.vocabulary.enums import Decision, ProjectStatus
from phasegate.gates.vocabulary.evidence import MilestoneEvidence, RiskEvidence
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.notices import PortfolioReportReady, RagCounts
from phasegate.gates.vocabulary.resources import ResourceProfile
from phasegate.gates.vocabulary.snapshots import BaselineRecord, ConditionRecord, EvmReportRecord, ProjectQuery
from phasegate.gates.vocabulary.tolerance import ExceptionDecision
from phasegate.models.db import make_engine
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import approvals, services
from phasegate.usecases.ports import UnitOfWork
from tests import actors
from tests.fakes import FakeUnitOfWork, Store
from tests.gatekeeping import probe, register_signed_documents
from tests.test_resources_on_fakes import row

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday of 2026-W50
KEYS = ("HELD", "OVER", "READY")
ADMIN = actors.admin("pam")
JAN = date(2027, 1, 1)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at


def play(uow: Callable[[], UnitOfWork]) -> None:
    """Everything those repositories store, through the use cases: tolerances, two days of scans (RAG, exceptions,
    one decided), status reports with and without planned value, risks open and closed, milestones open and done,
    scores, a review passed and applied, a project on hold, resources, demand, a priority and a report run."""
    now = Clock()
    for text, template in shipped_templates():
        services.publish_template(
            template, content_hash=template_content_hash(template), source=text, uow=uow, now=now(), actor=SYSTEM_ACTOR
        )
    for pid in ("sam", "mgr", "pam", "dev1", "dev2"):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com"), uow=uow, now=now(), actor=SYSTEM_ACTOR
        )
    for key in KEYS:
        services.create_project(
            CreateProject(
                key=key, template_id="it-pmo", name=key, sponsor_id="sam", manager_id="mgr", budget=Decimal(100000)
            ),
            uow=uow,
            now=now(),
            actor=SYSTEM_ACTOR,
        )
        services.assign_role(key, "pmo", "pam", uow=uow, now=now(), actor=SYSTEM_ACTOR)
    services.set_baseline(
        "OVER",
        BaselineRecord(bac=Decimal(110000), contingency=Decimal(5000)),
        actor=SYSTEM_ACTOR,
        periods=[
            (date(2026, 11, 2), Decimal(0)),
            (date(2026, 11, 30), Decimal(30000)),
            (date(2027, 3, 31), Decimal(110000)),
        ],
        stage_budgets={},
        uow=uow,
        now=now(),
    )
    services.record_status(
        [
            EvmReportRecord(
                project_key="OVER", as_of=date(2026, 11, 30), earned_value=Decimal(20000), actual_cost=Decimal(25000)
            ),
            EvmReportRecord(
                project_key="OVER",
                as_of=date(2026, 12, 4),
                planned_value=Decimal(45000),
                earned_value=Decimal(40000),
                actual_cost=Decimal(50000),
                test_pass_rate=Decimal("92.5"),
            ),
            EvmReportRecord(project_key="HELD", as_of=date(2026, 12, 4), earned_value=Decimal(1000)),
        ],
        actor=SYSTEM_ACTOR,
        uow=uow,
        now=now(),
    )
    services.record_risks(
        "OVER",
        [
            RiskEvidence(id="R1", title="Vendor late", owner="mgr", probability=4, impact=5),
            RiskEvidence(id="R2", title="Old risk", probability=5, impact=5, status="closed"),
        ],
        actor=SYSTEM_ACTOR,
        uow=uow,
        now=now(),
    )
    for key, milestone in (
        ("READY", MilestoneEvidence(id="ready-for-executing", name="Gate 2", due=date(2027, 2, 1))),
        ("OVER", MilestoneEvidence(id="kickoff", name="Kick-off", due=date(2026, 11, 2), done_on=date(2026, 11, 3))),
        ("OVER", MilestoneEvidence(id="ready-for-planning", name="Gate 1", due=date(2026, 12, 18))),
    ):
        services.set_milestone(key, milestone, actor=SYSTEM_ACTOR, uow=uow, now=now())
    services.set_tolerance(
        SetTolerance(project_key="OVER", dimension="quality", level="project_board", percent="5", reason="board"),
        actor=actors.person("sam"),
        uow=uow,
        now=now(),
    )
    template = services.get_template("it-pmo", 2, uow=uow).template
    register_signed_documents(uow, now, "READY", template)
    with uow() as tx:  # it-pmo has no scorecard: scores as a cooper gate would record them
        tx.evidence.upsert_scores("READY", "ready-for-planning", "sam", {"fit": 7, "risk": 4}, now=now())
        tx.evidence.upsert_scores("HELD", "ready-for-planning", "pam", {"fit": 6}, now=now())
        tx.commit()
    review = services.start_review(
        RequestReview(project_key="READY"), uow=uow, now=now(), probe=probe, actor=actors.person("mgr")
    )
    assert review.round_id is not None
    actors.cast_vote(
        CastVote(round_id=review.round_id, voter_id="sam", decision=Decision.GO, reason=""),
        uow=uow,
        now=now(),
        probe=probe,
    )
    approvals.apply_round_decision(review.round_id, uow=uow, now=now())
    with uow() as tx:  # two conditions on READY's round, one met since (gate analytics counts them on time or not)
        conditions = [
            ConditionRecord(
                id=uuid4(),
                project_key="READY",
                round_id=review.round_id,
                gate_id="ready-for-planning",
                text=text,
                owner_id="mgr",
                due_on=due,
                verification="gatekeeper",
                status="open",
            )
            for text, due in (("Sign the contract", date(2026, 12, 9)), ("Hire a tester", date(2027, 1, 15)))
        ]
        tx.conditions.add_conditions(conditions, now=now())
        tx.conditions.set_condition_status(conditions[0].id, "met", by="sam", now=now())
        tx.commit()
    with uow() as tx:  # HELD waits on hold (as a HOLD decision leaves it)
        tx.projects.update_project_state(
            "HELD", status=ProjectStatus.ON_HOLD, stage_id="initiating", recycle_count=0, now=now()
        )
        tx.commit()
    first = services.scan_projects(list(KEYS), uow=uow, now=now())
    cost = next(e for e in first.raised if e.dimension.value == "cost")
    services.decide_exception(cost.id, ExceptionDecision.ACCEPT, reason="known", actor=ADMIN, uow=uow, now=now())
    now.at += timedelta(days=1)
    services.scan_projects(list(KEYS), uow=uow, now=now())
    for pid, fte in (("dev1", "1"), ("dev2", "0.5")):
        services.set_resource_profile(
            ResourceProfile(person_id=pid, role="developer", fte=Decimal(fte), region="CN"),
            actor=ADMIN,
            uow=uow,
            now=now(),
        )
    services.set_capacity("dev1", JAN, fte_days=Decimal(10), actor=ADMIN, uow=uow, now=now())
    services.set_capacity("dev2", date(2027, 6, 1), hours=Decimal(3), actor=ADMIN, uow=uow, now=now())
    services.import_demand(
        list(
            enumerate(
                [
                    row("READY", "planning", JAN, 100, person="dev2"),
                    row("READY", "planning", JAN, 50),
                    row("HELD", "planning", date(2027, 2, 1), 30),
                    row("OVER", "initiating", JAN, 12),
                ],
                start=2,
            )
        ),
        source="plan.xlsx",
        actor=ADMIN,
        uow=uow,
        now=now(),
    )
    services.set_priority("HELD", 7, actor=ADMIN, uow=uow, now=now())
    services.send_portfolio_report(
        "2026-W50",
        document=b"%PDF",
        file_name="w50.pdf",
        summary=PortfolioReportReady(
            period="2026-W50",
            period_start="2026-12-07",
            period_end="2026-12-13",
            projects=3,
            active=2,
            rag=RagCounts(green=0, amber=0, red=1, unknown=1),
            decisions=1,
            open_conditions=0,
        ),
        actor=ADMIN,
        uow=uow,
        now=now(),
    )


def plain(value: Any) -> Any:
    """A comparable form: dataclasses and models as dicts, numbers by value, made-up ids left out."""
    if isinstance(value, BaseModel):
        return plain({k: v for k, v in dict(value).items() if k != "id"})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return plain({k: v for k, v in fields.items() if k not in ("id", "review_id") or not _made_up(v)})
    if isinstance(value, dict):  # in key order, so equal dicts read the same in a set's repr
        return {plain(k): plain(v) for k, v in sorted(value.items(), key=lambda item: repr(item[0]))}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return value.normalize() if value else Decimal(0)
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, UUID):
        return "<id>"
    if isinstance(value, datetime):  # the same instant, whichever UTC object the clock or the column gave
        return value.astimezone(UTC)
    return value


def _made_up(value: Any) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return True


def as_set(items: Any) -> list[str]:
    return sorted(repr(plain(item)) for item in items)


def reads(uow: Callable[[], UnitOfWork]) -> dict[str, Any]:
    """Every read of the five repositories, on the scenario's state."""
    as_of = date(2026, 12, 8)
    with uow() as tx:
        t, m, r, s, res = tx.tolerances, tx.monitoring, tx.reports, tx.strategy, tx.resources
        gate = r.gate_facts()
        folio = r.portfolio_facts(date(2026, 12, 7), date(2026, 12, 13))
        maturity = s.maturity_facts()
        found: dict[str, Any] = {
            **{f"tolerances {k}": plain(t.tolerances(k)) for k in KEYS},
            # newest first; exceptions raised by one scan share their instant, and SQL orders ties as it likes
            "exceptions": as_set(t.exceptions()),
            "exceptions newest first": [e.raised_at for e in t.exceptions()],
            "exceptions OVER open": as_set(t.exceptions(project_key="OVER", status="open")),
            "latest exception": plain(t.latest_exception("OVER", "*", "cost")),
            "no exception": t.latest_exception("READY", "*", "cost"),
            **{f"rag {k}": plain(t.rag_history(k)) for k in KEYS},
            "monitor inputs": as_set(m.monitor_inputs([*KEYS, "NOPE"], as_of)),
            "gate schedule": as_set(m.gate_schedule(KEYS)),
            **{f"gate facts {f.name}": as_set(getattr(gate, f.name)) for f in dataclasses.fields(gate)},
            **{
                f"portfolio facts {f.name}": (plain(v) if isinstance(v := getattr(folio, f.name), dict) else as_set(v))
                for f in dataclasses.fields(folio)
            },
            "report run": plain(r.report_run("portfolio", "2026-W50")),
            "no report run": r.report_run("portfolio", "2026-W49"),
            "priority facts": plain(s.priority_facts()),
            **{f"maturity facts {f.name}": as_set(getattr(maturity, f.name)) for f in dataclasses.fields(maturity)},
            "profiles": plain(res.resource_profiles()),
            "profiles developer": plain(res.resource_profiles(role="developer")),
            "overrides": plain(res.capacity_overrides(date(2027, 1, 1), date(2027, 5, 1))),
            # ORDER BY ..., person_id: SQLite sorts a line for no one in particular first, PostgreSQL last
            "demand": as_set(res.demand()),
            "demand READY": as_set(res.demand(project_key="READY", first=JAN, last=JAN)),
            "demand order": [(d.project_key, d.stage_id, d.role, d.month) for d in res.demand()],
            "stages": plain(res.project_stages([*KEYS, "NOPE"])),
            "priorities": plain(res.priorities()),
            **{
                f"projects {query!r}": plain(tx.projects.list_projects(ProjectQuery(**query)))
                for query in ({}, {"limit": 1, "after": "HELD"}, {"after": "OVER", "status": "active"}, {"offset": 1})
            },
        }
    return found


@pytest.fixture
def sql(db_url: str) -> Iterator[Callable[[], UnitOfWork]]:
    engine = make_engine(db_url)
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()


def test_the_fakes_answer_every_read_as_the_database_does(sql: Callable[[], UnitOfWork]) -> None:
    store = Store()

    def fake() -> UnitOfWork:
        return FakeUnitOfWork(store)

    play(fake)
    play(sql)
    expected, found = reads(sql), reads(fake)
    stored = ("exceptions", "rag OVER", "demand", "gate facts conditions", "portfolio facts open_conditions")
    assert all(expected[name] for name in stored)  # the scenario stored something for them to agree on
    drifted = [name for name in expected if found[name] != expected[name]]
    assert not drifted, {name: (expected[name], found[name]) for name in drifted}

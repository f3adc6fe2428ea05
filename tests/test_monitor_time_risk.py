"""The monitor's time and risk forecasts on real SQLite and PostgreSQL: earned schedule on the template's working
calendar against the time tolerance, the worst live risk against the risk tolerance, each in the RAG (per
dimension, overall, history, adverse trend) and raised exactly once like cost.

Hand-computed plan (it-pmo@2, US calendar, no holiday in March 2026): starts Friday 2026-03-06 (the zero point),
weekly periods ending on Fridays 5, 10, 15 and 20 working days in, cumulative PV 100, 300, 600, 1000 (BAC 1000).
it-pmo@2's time tolerance (project board, the sponsor sam) is 10 % of the planned duration or 10 working days,
whichever is greater: 10 working days; its risk tolerance 4 score points beyond the appetite, which is 15 (the
default scale's top band, critical, starts at 16).

- LATE, status 2026-03-20 (AT 10), EV 150: ES = 5 + (150 - 100) / (300 - 100) x 5 = 6.25; SPI(t) = 0.625;
  IEAC(t) = 20 / 0.625 = 32 working days: 12 beyond the planned 20 > 10, a breach (red). The forecast finish is
  the 32nd working day after 03-06: 04-03 is the 20th, 04-17 the 30th, so Tuesday 2026-04-21.
- SLOW, EV 200: ES 7.5, IEAC(t) 26.67, 6.67 days late: 66.7 % of 10 consumed, amber, nothing raised.
- Risk: LATE's worst live risk is 5 x 4 = 20 (a closed 5 x 5 does not count): 5 points beyond 15 > 4, red;
  SLOW's is 4 x 4 = 16: 1 point, 25 %, green; BARE has no register: unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.earned_schedule import shift, working_days
from phasegate.gates.vocabulary.commands import AddPerson, CreateProject, SetTolerance
from phasegate.gates.vocabulary.evidence import RiskEvidence
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import BaselineRecord, EvmReportRecord
from phasegate.gates.vocabulary.tolerance import Dimension, ExceptionDecision, ToleranceLevel
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.notifications.render import render
from phasegate.usecases import services
from phasegate.usecases.ports import UnitOfWork
from tests import actors

PLAN = [
    (date(2026, 3, 6), Decimal(0)),
    (date(2026, 3, 13), Decimal(100)),
    (date(2026, 3, 20), Decimal(300)),
    (date(2026, 3, 27), Decimal(600)),
    (date(2026, 4, 3), Decimal(1000)),
]


class Env:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.at = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def now(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at

    def project(self, key: str, *, plan: list[tuple[date, Decimal]] = PLAN) -> None:
        services.create_project(
            CreateProject(
                key=key, template_id="it-pmo", name=key, sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
            ),
            uow=self.uow,
            now=self.now(),
            actor=SYSTEM_ACTOR,
        )
        services.set_baseline(
            key,
            BaselineRecord(bac=Decimal(1000)),
            actor=SYSTEM_ACTOR,
            periods=plan,
            stage_budgets={},
            uow=self.uow,
            now=self.now(),
        )

    def report(self, key: str, as_of: date, ev: int) -> None:
        services.record_status(
            [EvmReportRecord(project_key=key, as_of=as_of, earned_value=Decimal(ev), actual_cost=Decimal(ev))],
            actor=SYSTEM_ACTOR,
            uow=self.uow,
            now=self.now(),
        )

    def risks(self, key: str, *risks: tuple[str, int, int, str]) -> None:
        services.record_risks(
            key,
            [RiskEvidence(id=rid, title=rid, probability=p, impact=i, status=status) for rid, p, i, status in risks],
            actor=SYSTEM_ACTOR,
            uow=self.uow,
            now=self.now(),
        )

    def scan(self, *keys: str) -> services.ScanReport:
        return services.scan_projects(list(keys), uow=self.uow, now=self.now())

    def rags(self, as_of: date) -> dict[tuple[str, str], tuple[str, Any, Any]]:
        with self.sessions() as session:
            rows = session.execute(
                select(t.RagSnapshot).where(t.RagSnapshot.as_of == as_of).order_by(t.RagSnapshot.project_key)
            ).scalars()
            return {(r.project_key, r.dimension): (r.rag, r.deviation, r.allowance) for r in rows}


def seeded(url: str) -> Env:
    """The shipped templates and the people (sam, the sponsor, reads Chinese) on a migrated database."""
    e = Env(url)
    for text, template in shipped_templates():
        services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source=text,
            uow=e.uow,
            now=e.now(),
            actor=SYSTEM_ACTOR,
        )
    for pid, locale in (("sam", "zh-CN"), ("mgr", "en")):
        services.add_person(
            AddPerson(
                id=pid,
                name=pid.title(),
                email=f"{pid}@example.com",
                locale=locale,  # type: ignore[arg-type]
                notify_urls=(f"json://127.0.0.1:9/{pid}",),
            ),
            uow=e.uow,
            now=e.now(),
            actor=SYSTEM_ACTOR,
        )
    return e


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = seeded(db_url)
    yield e
    e.engine.dispose()


def test_time_and_risk_forecasts_colour_the_rag_and_raise_once(env: Env) -> None:
    for key in ("LATE", "SLOW"):
        env.project(key)
    env.project("BARE", plan=PLAN[1:])  # a plan without its zero point has no known start
    env.report("LATE", date(2026, 3, 20), ev=150)
    env.report("SLOW", date(2026, 3, 20), ev=200)
    env.report("BARE", date(2026, 3, 20), ev=150)
    env.risks("LATE", ("R1", 5, 4, "open"), ("R2", 5, 5, "closed"))
    env.risks("SLOW", ("R1", 4, 4, "open"))

    first = env.scan("LATE", "SLOW", "BARE")
    health = {h.project_key: h for h in first.health}
    assert (health["LATE"].time.value, health["LATE"].time_deviation, health["LATE"].time_allowance) == (
        "red",
        "12.00",
        "10.00",
    )
    assert health["LATE"].forecast_finish == "2026-04-21"
    assert (health["SLOW"].time.value, health["SLOW"].time_deviation) == ("amber", "6.67")
    assert health["SLOW"].forecast_finish == "2026-04-14"  # 27th working day after 03-06 (26.67 rounded up)
    assert (health["BARE"].time.value, health["BARE"].forecast_finish) == ("unknown", None)
    assert (health["LATE"].risk.value, health["SLOW"].risk.value, health["BARE"].risk.value) == (
        "red",
        "green",
        "unknown",
    )
    assert (health["LATE"].overall.value, health["SLOW"].overall.value, health["BARE"].overall.value) == (
        "red",
        "amber",
        "unknown",
    )
    # Cost is on plan everywhere (AC = EV), so only LATE's time and risk breach: one exception each.
    raised = {e.dimension: e for e in first.raised}
    assert set(raised) == {Dimension.TIME, Dimension.RISK} and all(e.project_key == "LATE" for e in first.raised)
    time = raised[Dimension.TIME]
    assert (time.baseline, time.forecast, time.allowance, time.deviation) == (
        Decimal(20),
        Decimal("32.00"),
        Decimal("10.00"),
        Decimal("12.00"),
    )
    assert (time.level, time.owner_id) == (ToleranceLevel.PROJECT_BOARD, "sam")
    risk = raised[Dimension.RISK]
    assert (risk.baseline, risk.forecast, risk.allowance, risk.deviation) == (
        Decimal(15),
        Decimal(20),
        Decimal("4.00"),
        Decimal("5.00"),
    )
    rows = env.rags(date(2026, 3, 23))
    assert rows[("LATE", "time")][0] == "red" and Decimal(rows[("LATE", "time")][1]) == Decimal(12)
    assert rows[("SLOW", "risk")][0] == "green" and Decimal(rows[("SLOW", "risk")][1]) == Decimal(1)
    assert rows[("BARE", "overall")][0] == "unknown"
    # The sponsor (who owns the board's time tolerance) hears it in Chinese, in working days.
    with env.sessions() as session:
        notices = [
            row
            for row in session.scalars(select(t.OutboxMessage).where(t.OutboxMessage.kind == "tolerance_exception"))
            if row.context["dimension"] == "time"
        ]
    assert [(n.recipient_id, n.locale) for n in notices] == [("sam", "zh-CN")]
    message = render("tolerance_exception", "zh-CN", notices[0].context)
    assert "工作日" in message.body_text and "32.00" in message.body_text
    assert "working days" in render("tolerance_exception", "en", notices[0].context).body_text

    # Scanning again, even the next day on the same figures, raises nothing twice.
    env.at += timedelta(days=1)
    again = env.scan("LATE", "SLOW", "BARE")
    assert (again.breaches, again.raised) == (2, ())
    assert len(services.list_exceptions(uow=env.uow, project_key="LATE", status="open")) == 2


def test_a_growing_delay_turns_time_amber_after_two_adverse_periods(env: Env) -> None:
    """With a 40-day time tolerance, ES stuck at 5 (EV 100) on three mornings: AT 6, 7, 8 gives delays
    20 x (AT / 5 - 1) = 4, 8, 12 days: 10 %, 20 %, 30 % consumed, green, green, then amber by trend."""
    env.project("DRIFT")
    services.set_tolerance(
        SetTolerance(
            project_key="DRIFT",
            dimension=Dimension.TIME,
            level=ToleranceLevel.PROJECT_BOARD,
            owner_id="sam",
            amount=Decimal(40),
        ),
        actor=SYSTEM_ACTOR,
        uow=env.uow,
        now=env.now(),
    )
    seen = []
    for day in (16, 17, 18):
        env.at = datetime(2026, 3, day, 18, 0, tzinfo=UTC)
        env.report("DRIFT", date(2026, 3, day), ev=100)
        found = env.scan("DRIFT").health[0]
        seen.append((found.time.value, found.time_deviation, found.time_allowance))
    assert seen == [("green", "4.00", "40.00"), ("green", "8.00", "40.00"), ("amber", "12.00", "40.00")]
    assert services.list_exceptions(uow=env.uow, project_key="DRIFT") == []


def test_an_accepted_time_exception_covers_the_delay_until_it_grows(env: Env) -> None:
    """Accepted at 12 days late; on 03-23 (AT 11) EV 190 gives ES 7.25, IEAC(t) 220 / 7.25 = 30.34: 10.34 days,
    a breach but no worse than accepted; on 03-27 (AT 15) EV 250 gives ES 8.75, IEAC(t) 300 / 8.75 = 34.29:
    14.29 days, worse, so a second exception is raised (once)."""
    env.project("LATE")
    env.report("LATE", date(2026, 3, 20), ev=150)
    (first,) = env.scan("LATE").raised
    services.decide_exception(
        first.id,
        ExceptionDecision.ACCEPT,
        reason="the board accepts the slip",
        actor=actors.person("sam"),
        uow=env.uow,
        now=env.now(),
    )
    env.report("LATE", date(2026, 3, 23), ev=190)
    covered = env.scan("LATE")
    assert (covered.breaches, covered.raised, covered.health[0].time_deviation) == (1, (), "10.34")
    env.at = datetime(2026, 3, 27, 18, 0, tzinfo=UTC)
    env.report("LATE", date(2026, 3, 27), ev=250)
    (second,) = env.scan("LATE").raised
    assert (second.dimension, second.seq, second.forecast, second.deviation) == (
        Dimension.TIME,
        2,
        Decimal("34.29"),
        Decimal("14.29"),
    )
    assert env.scan("LATE").raised == ()


def test_approving_a_time_exception_plan_re_times_the_schedule_to_the_forecast(env: Env) -> None:
    """LATE is 12 working days late (IEAC(t) 32 on a 20-day plan): approving the plan re-times the curve by 32/20,
    so the points at 5, 10, 15 and 20 working days after 03-06 move to 8, 16, 24 and 32 (03-18, 03-30, 04-09,
    04-21). On the re-timed plan the same report (EV 150 on 03-20, AT 10) gives ES 8 + 50/200 x 8 = 10, SPI(t) 1
    and IEAC(t) 32: on plan, green, and nothing is raised again."""
    env.project("LATE")
    env.report("LATE", date(2026, 3, 20), ev=150)
    (first,) = env.scan("LATE").raised
    services.decide_exception(
        first.id,
        ExceptionDecision.APPROVE_PLAN,
        reason="the board approves the recovery plan",
        actor=actors.person("sam"),
        uow=env.uow,
        now=env.now(),
    )
    with env.sessions() as session:
        plan = session.execute(
            select(t.BaselinePeriod.period_end, t.BaselinePeriod.planned_value).order_by(t.BaselinePeriod.period_end)
        ).all()
        audit = session.scalars(select(t.AuditEntry).where(t.AuditEntry.action == "baseline.rescheduled")).one()
    assert [(when, int(value)) for when, value in plan] == [
        (date(2026, 3, 6), 0),
        (date(2026, 3, 18), 100),
        (date(2026, 3, 30), 300),
        (date(2026, 4, 9), 600),
        (date(2026, 4, 21), 1000),
    ]
    assert (audit.payload["finish_before"], audit.payload["finish_after"]) == ("2026-04-03", "2026-04-21")
    again = env.scan("LATE")
    assert (again.health[0].time.value, again.health[0].time_deviation, again.raised) == ("green", "0.00", ())


def test_working_days_counted_from_the_cached_year_tables_match_counting_day_by_day() -> None:
    """Across year ends, China's Spring Festival and make-up working days (调休), and ranges of any length."""
    china = WorkingCalendar(region="CN", timezone="Asia/Shanghai")
    starts = [date(2025, 12, 20), date(2026, 2, 10), date(2026, 9, 27), date(2026, 12, 31)]
    ends = [
        date(2025, 12, 19),
        date(2026, 1, 1),
        date(2026, 2, 28),
        date(2026, 10, 10),
        date(2027, 1, 4),
        date(2028, 3, 1),
    ]
    for start in starts:
        for end in ends:
            by_day = sum(
                china.is_working_day(date.fromordinal(o)) for o in range(start.toordinal() + 1, end.toordinal() + 1)
            )
            assert working_days(china, start, end) == by_day, (start, end)
    assert working_days(china, date(2026, 2, 13), date(2026, 2, 24)) < 7  # the Spring Festival holiday


def test_the_forecast_finish_shift_matches_the_calendars_own() -> None:
    china = WorkingCalendar(region="CN", timezone="Asia/Shanghai")
    for start in (date(2026, 1, 30), date(2026, 9, 25), date(2026, 12, 30)):
        for n in (1, 5, 17, 80, 300, 700):
            assert shift(china, start, n) == china.shift_working_days(start, n), (start, n)


def test_the_flow_summary_counts_each_dimension(env: Env) -> None:
    from phasegate.flows.portfolio_monitor import summary_markdown

    for key in ("LATE", "SLOW"):
        env.project(key)
    env.report("LATE", date(2026, 3, 20), ev=150)
    env.report("SLOW", date(2026, 3, 20), ev=200)
    markdown = summary_markdown([env.scan("LATE", "SLOW")], [], [])
    assert "| time | 1 | 1 | 0 | 0 | 0 |" in markdown  # LATE red, SLOW amber
    assert "| cost | 0 | 0 | 2 | 0 | 0 |" in markdown and "| risk | 0 | 0 | 0 | 2 | 0 |" in markdown
    assert "Exceptions raised: **1**: LATE time" in markdown

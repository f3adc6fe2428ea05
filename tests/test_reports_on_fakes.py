"""Reports to management on the in-memory fakes (``tests.fakes``): the portfolio report built from the read model's
facts (EVM, RAG, exceptions, decisions, risks of the period), with the maturity score and a proposed portfolio,
and the report sent to management once per period. The read models are the fakes' aggregation of the store's
rows, checked against SQLite's in test_fakes_contract; the same use cases run on SQLite and PostgreSQL in
test_portfolio_report, test_portfolio_report_flow and test_gate_analytics.

Two it-pmo@2 projects in ISO week 2026-W50 (7 to 13 December): OVER (budget 100,000; EV 40,000, AC 50,000, PV
50,000: CPI 0.8, SPI 0.8, EAC 125,000 beyond its 15,000 tolerance; an open risk 4 x 5 = 20, 5 points beyond the
appetite of 15 where the risk tolerance allows 4: two exceptions) and READY (every document
of its first gate, reviewed on request and passed with GO by its sponsor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from phasegate.gates.vocabulary.commands import AddPerson, CastVote, CreateProject, RequestReview
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.errors import InputError, PermissionDeniedError
from phasegate.gates.vocabulary.evidence import RiskEvidence
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, Actor
from phasegate.gates.vocabulary.notices import PortfolioReportReady, RagCounts
from phasegate.gates.vocabulary.snapshots import EvmReportRecord
from phasegate.usecases import approvals, services
from tests import actors
from tests.fakes import FakeUnitOfWork, Store, publish_shipped
from tests.gatekeeping import probe, register_signed_documents

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday of 2026-W50
ADMIN = actors.admin("pam")


class Env:
    def __init__(self) -> None:
        self.store = Store()
        self.at = T0

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def now(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at


@pytest.fixture
def env() -> Env:
    e = Env()
    publish_shipped(e.store, now=T0)
    for pid in ("sam", "mgr", "pam"):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com"), uow=e.uow, now=e.now(), actor=SYSTEM_ACTOR
        )
    for key in ("OVER", "READY"):
        services.create_project(
            CreateProject(
                key=key, template_id="it-pmo", name=key, sponsor_id="sam", manager_id="mgr", budget=Decimal(100000)
            ),
            uow=e.uow,
            now=e.now(),
            actor=SYSTEM_ACTOR,
        )
        services.assign_role(key, "pmo", "pam", uow=e.uow, now=e.now(), actor=SYSTEM_ACTOR)
    services.record_status(
        [
            EvmReportRecord(
                project_key="OVER",
                as_of=date(2026, 12, 4),
                planned_value=Decimal(50000),
                earned_value=Decimal(40000),
                actual_cost=Decimal(50000),
            )
        ],
        actor=SYSTEM_ACTOR,
        uow=e.uow,
        now=e.now(),
    )
    services.record_risks(
        "OVER",
        [RiskEvidence(id="R1", title="Vendor late", owner="mgr", probability=4, impact=5)],
        actor=SYSTEM_ACTOR,
        uow=e.uow,
        now=e.now(),
    )
    template = services.get_template("it-pmo", 2, uow=e.uow).template
    register_signed_documents(e.uow, e.now, "READY", template)
    review = services.start_review(
        RequestReview(project_key="READY"), uow=e.uow, now=e.now(), probe=probe, actor=actors.person("mgr")
    )
    assert review.round_id is not None
    actors.cast_vote(
        CastVote(round_id=review.round_id, voter_id="sam", decision=Decision.GO, reason=""),
        uow=e.uow,
        now=e.now(),
        probe=probe,
    )
    approvals.apply_round_decision(review.round_id, uow=e.uow, now=e.now())
    services.scan_projects(["OVER", "READY"], uow=e.uow, now=e.now())
    e.store.audit.clear()
    return e


def test_the_portfolio_report_shows_each_projects_figures_colours_and_the_weeks_events(env: Env) -> None:
    report = services.portfolio_report(period="2026-W50", actor=actors.person("mgr"), uow=env.uow, now=env.now())
    assert (report.period.start, report.period.end) == (date(2026, 12, 7), date(2026, 12, 13))
    assert report.totals == {"projects": 2, "active": 2}
    rows = {r.key: r for r in report.rows}
    over, ready = rows["OVER"], rows["READY"]
    assert (over.cpi, over.spi, over.eac, over.bac) == (
        Decimal("0.8"),
        Decimal("0.8"),
        Decimal(125000),
        Decimal(100000),
    )
    assert (over.rag_cost, over.rag_overall, over.open_exceptions, over.sponsor) == ("red", "red", 2, "Sam")
    assert (ready.stage_id, ready.as_of, ready.cpi, ready.open_exceptions) == ("planning", None, None, 0)
    assert [(d.project_key, d.gate_id, d.decision, d.decided_by) for d in report.decisions] == [
        ("READY", "ready-for-planning", "go", ("sam",))
    ]
    assert [(r.project_key, r.id, r.probability * r.impact) for r in report.top_risks] == [("OVER", "R1", 20)]
    assert sorted((e.project_key, e.dimension, e.status) for e in report.exceptions) == [
        ("OVER", "cost", "open"),
        ("OVER", "risk", "open"),
    ]
    assert report.maturity is not None and report.prioritisation is None
    assert env.store.audit == []  # a read writes nothing


def test_a_week_before_the_events_shows_none_of_them(env: Env) -> None:
    report = services.portfolio_report(
        period="2026-W49", actor=actors.person("mgr"), uow=env.uow, now=env.now(), with_maturity=False
    )
    assert (report.decisions, report.exceptions, report.maturity) == ((), (), None)
    assert {r.key: r.rag_overall for r in report.rows} == {"OVER": "none", "READY": "none"}  # no RAG recorded yet
    assert {r.key: r.cpi for r in report.rows} == {"OVER": Decimal("0.8"), "READY": None}  # reported on the 4th


def test_given_a_budget_the_report_proposes_a_portfolio(env: Env) -> None:
    for key, benefit in (("OVER", 90000), ("READY", 300000)):
        with env.uow() as tx:
            tx.projects.set_expected_benefit(key, Decimal(benefit), now=env.now())
            tx.commit()
    report = services.portfolio_report(
        period="2026-W50", actor=actors.person("mgr"), uow=env.uow, now=env.now(), budget="100000"
    )
    assert report.prioritisation is not None
    # OVER's remaining cost is its BAC less its actual cost: 50,000; READY's 100,000; both do not fit 100,000.
    assert [r.key for r in report.prioritisation.selected] == ["READY"]


def test_bad_periods_and_readers_without_a_role_are_refused(env: Env) -> None:
    with pytest.raises(InputError, match="--period"):
        services.portfolio_report(period="2026-13", actor=actors.person("mgr"), uow=env.uow, now=env.now())
    nobody = actors.person("mgr").model_copy(update={"roles": frozenset()})
    with pytest.raises(PermissionDeniedError):
        services.portfolio_report(period="2026-W50", actor=nobody, uow=env.uow, now=env.now())
    assert [(e["action"], e["entity"]) for e in env.store.audit] == [("security.refused", "report:portfolio/2026-W50")]


def _summary() -> PortfolioReportReady:
    return PortfolioReportReady(
        period="2026-W50",
        period_start="2026-12-07",
        period_end="2026-12-13",
        projects=2,
        active=2,
        rag=RagCounts(green=0, amber=0, red=1, unknown=1),
        decisions=1,
        open_conditions=0,
        open_exceptions=1,
        exceptions=1,
    )


def test_the_report_is_sent_to_management_once_per_period_and_only_by_the_pmo(env: Env) -> None:
    def channels(tags: Sequence[str]) -> list[str]:  # the organisation's routing file: two management targets
        return ["json://board.example/hook", "mailtos://cfo@example.com"] if "management" in tags else []

    def uow() -> FakeUnitOfWork:
        return FakeUnitOfWork(env.store, org_route=channels, org_locale="zh-CN")

    def send(actor: Actor, document: bytes = b"%PDF-1.7 week 50") -> services.ReportSent:
        return services.send_portfolio_report(
            "2026-W50",
            document=document,
            file_name="portfolio-2026-W50.pdf",
            summary=_summary(),
            actor=actor,
            uow=uow,
            now=env.now(),
        )

    outbox = len(env.store.outbox)
    with pytest.raises(PermissionDeniedError):
        send(actors.person("sam"))
    assert env.store.report_runs == {} and env.store.actions() == ["security.refused"]
    first = send(ADMIN)
    assert first.sent and first.run.created_by == "pam" and first.run.notifications == 2
    assert first.run.document_sha256 == hashlib.sha256(b"%PDF-1.7 week 50").hexdigest()
    sent = env.store.outbox[outbox:]
    assert [(m.kind, m.target, m.locale) for m in sent] == [
        ("portfolio_report", "json://board.example/hook", "zh-CN"),
        ("portfolio_report", "mailtos://cfo@example.com", "zh-CN"),
    ]
    assert [a["name"] for a in sent[0].context["attachments"]] == ["portfolio-2026-W50.pdf"]
    assert len({m.idempotency_key for m in sent}) == 2  # one key per target: a retry sends nothing twice
    again = send(ADMIN, document=b"another rendering")
    assert not again.sent and again.run == first.run  # the period's claim: nothing queued twice
    assert len(env.store.outbox) == outbox + 2 and list(env.store.report_runs) == [("portfolio", "2026-W50")]
    assert env.store.actions() == ["security.refused", "report.sent"]
    assert env.store.audit[-1]["payload"]["notifications"] == 2


def test_without_an_organisation_route_the_report_queues_nothing_but_still_claims_the_period(env: Env) -> None:
    sent = services.send_portfolio_report(
        "2026-W50",
        document=b"%PDF",
        file_name="w50.pdf",
        summary=_summary(),
        actor=ADMIN,
        uow=env.uow,
        now=env.now(),
    )
    assert sent.sent and sent.run.notifications == 0
    assert [m.kind for m in env.store.outbox if m.kind == "portfolio_report"] == []


def test_the_maturity_score_reads_the_quarters_record(env: Env) -> None:
    report = services.maturity_report(actor=actors.person("mgr"), uow=env.uow, now=env.now())
    assert [q.quarter for q in report.trend] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    got = {d.id: (d.hits, d.count, d.level) for d in report.current.dimensions}
    assert got == {
        "reviews_on_time": (0, 0, None),  # no gate dates
        "documents_first_review": (1, 1, 5),  # READY's one review found every document in order
        "status_fresh": (1, 2, 2),  # OVER reported on the 4th, READY never
        "decisions_in_sla": (1, 1, 5),  # READY's GO came minutes after its round opened
        "conditions_on_time": (0, 0, None),
        "exceptions_early": (2, 2, 5),  # OVER's cost and risk exceptions, no adverse decision before them
        "lessons_reused": (0, 0, None),
        "early_kills": (0, 0, None),
    }
    assert report.current.overall == 2  # the lowest level with evidence
    with pytest.raises(InputError, match=r"--quarter: '2026-Q9' is not a quarter"):
        services.maturity_report(actor=actors.person("mgr"), uow=env.uow, now=env.now(), quarter="2026-Q9")
    nobody = actors.person("mgr").model_copy(update={"roles": frozenset()})
    with pytest.raises(PermissionDeniedError):
        services.maturity_report(actor=nobody, uow=env.uow, now=env.now(), quarter="2026-Q3")
    assert [(e["action"], e["entity"]) for e in env.store.audit] == [("security.refused", "report:maturity/2026-Q3")]

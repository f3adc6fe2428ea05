"""The portfolio monitor's use cases on the in-memory fakes (``tests.fakes``): one scan over a few projects (RAG per
dimension, an exception raised once), the gate actions (a review to open automatically, a manager warned ahead of
a gate date, each once), and gate analytics counting the automatic review. The ``portfolio-monitor`` flow runs the
same use cases as Prefect flow runs on SQLite in test_portfolio_monitor.

Four active it-pmo@2 projects, budget 100,000 each: OVER breaches its cost tolerance (EV 40,000, AC 50,000: EAC
125,000 against 15,000 allowed), QUIET has no status report, READY has every document its first gate needs (that
gate says ``auto_review: when_ready``), BARE has none.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import yaml

from phasegate.gates.vocabulary.commands import AddPerson, CastVote, CreateProject, RequestReview
from phasegate.gates.vocabulary.enums import Decision, ProjectStatus, Recommendation
from phasegate.gates.vocabulary.errors import InputError, PermissionDeniedError
from phasegate.gates.vocabulary.evidence import MilestoneEvidence
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, Actor, AuthMethod
from phasegate.gates.vocabulary.snapshots import EvmReportRecord
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.models.template_yaml import load_template_text, shipped_templates, template_content_hash
from phasegate.usecases import services
from tests import actors
from tests.fakes import FakeUnitOfWork, Store, publish_shipped
from tests.gatekeeping import probe, register_signed_documents

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
KEYS = ("BARE", "OVER", "QUIET", "READY")
GATE = "ready-for-planning"


class Env:
    def __init__(self) -> None:
        self.store = Store()
        self.at = T0

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at

    def scan(self) -> services.ScanReport:
        return services.scan_projects(list(KEYS), uow=self.uow, now=self.now())

    def gates(self) -> services.GateDateReport:
        return services.gate_actions(list(KEYS), uow=self.uow, now=self.now(), probe=probe)

    def kinds(self) -> list[tuple[str, str | None]]:
        return [(m.kind, m.recipient_id) for m in self.store.outbox]


@pytest.fixture
def env() -> Env:
    e = Env()
    publish_shipped(e.store, now=T0)
    for pid, locale in (("sam", "zh-CN"), ("mgr", "en"), ("pam", "en")):
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
    for key in KEYS:
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
                project_key="OVER", as_of=date(2026, 12, 4), earned_value=Decimal(40000), actual_cost=Decimal(50000)
            )
        ],
        actor=SYSTEM_ACTOR,
        uow=e.uow,
        now=e.now(),
    )
    template = services.get_template("it-pmo", 2, uow=e.uow).template
    register_signed_documents(e.uow, e.now, "READY", template)
    e.store.audit.clear()
    return e


def test_one_scan_colours_every_project_and_raises_the_one_breach_once(env: Env) -> None:
    report = env.scan()
    assert (report.scanned, report.breaches, len(report.raised)) == (4, 1, 1)
    overall = {h.project_key: (h.overall.value, h.cost.value, h.raised) for h in report.health}
    assert overall == {
        "OVER": ("red", "red", 1),
        "QUIET": ("unknown", "unknown", 0),
        "READY": ("unknown", "unknown", 0),
        "BARE": ("unknown", "unknown", 0),
    }
    recorded = {(key, dim): row.rag for (key, _, dim), row in env.store.rag.items() if dim in ("overall", "cost")}
    assert recorded[("OVER", "overall")] == "red" and recorded[("QUIET", "cost")] == "unknown"
    assert len(env.store.rag) == 4 * 5
    (raised,) = report.raised
    assert (raised.project_key, raised.dimension.value, raised.owner_id) == ("OVER", "cost", "sam")
    assert env.kinds() == [("tolerance_exception", "sam")]
    assert [e["entity"] for e in env.store.audit] == ["project:OVER"]

    again = env.scan()
    assert (again.breaches, again.raised) == (1, ())
    assert len(env.store.exceptions) == 1 and len(env.store.outbox) == 1


def test_a_project_on_hold_is_not_scanned(env: Env) -> None:
    with env.uow() as tx:
        over = tx.projects.get_project("OVER")
        assert over is not None
        tx.projects.update_project_state(
            "OVER", status=ProjectStatus.ON_HOLD, stage_id=over.stage_id, recycle_count=0, now=env.now()
        )
        tx.commit()
    report = env.scan()
    assert (report.scanned, report.raised) == (3, ())
    assert "OVER" not in {h.project_key for h in report.health}


def test_the_ready_gate_is_opened_automatically_once_and_counted_as_automatic(env: Env) -> None:
    first = env.gates()
    assert (first.ready, first.due, first.warned) == (("READY",), (), ())
    # The flow then runs the gate review as the system (nobody requested it).
    review = services.start_review(
        RequestReview(project_key="READY"), uow=env.uow, now=env.now(), probe=probe, actor=SYSTEM_ACTOR
    )
    assert review.evaluation.recommendation is Recommendation.GO and review.round_id is not None
    (row,) = env.store.reviews.values()
    assert row.requested_by is None
    # Its round is open now: the next scan opens no second review.
    assert env.gates().ready == ()

    actors.cast_vote(
        CastVote(round_id=review.round_id, voter_id="sam", decision=Decision.GO, reason=""),
        uow=env.uow,
        now=env.now(),
        probe=probe,
    )
    analytics = services.gate_report(actor=actors.person("pam"), uow=env.uow, now=env.now(), template_id="it-pmo")
    stats = next(g for g in analytics.gates if g.gate_id == GATE)
    assert (stats.decided, stats.open_rounds, stats.outcomes["go"]) == (1, 0, 1)
    assert sum(stats.outcomes.values()) == 1
    assert (stats.pass_rate, stats.first_time_pass_rate) == (1.0, 1.0)
    assert (stats.reviews_automatic, stats.reviews_manual) == (1, 0)


def test_a_manager_is_warned_once_ahead_of_a_gate_date_while_evidence_is_missing(env: Env) -> None:
    due = date(2026, 12, 10)  # Thursday: 3 working days after Monday the 7th
    services.set_milestone(
        "BARE", MilestoneEvidence(id=GATE, name="Gate 1", due=due), actor=SYSTEM_ACTOR, uow=env.uow, now=env.now()
    )
    env.store.audit.clear()
    first = env.gates()
    assert (first.ready, first.warned) == (("READY",), ("BARE",))
    assert env.kinds() == [("gate_evidence_warning", "mgr")]
    (warning,) = env.store.outbox
    assert warning.context["gate_date"] == "2026-12-10" and warning.context["project_key"] == "BARE"
    assert [(e["action"], e["entity"]) for e in env.store.audit] == [("gate.evidence_warning", "project:BARE")]
    assert env.gates().warned == ()  # once per gate date
    assert len(env.store.outbox) == 1


def test_gate_analytics_is_read_by_anyone_with_a_role_and_names_an_unknown_template(env: Env) -> None:
    nobody = Actor(person_id="mgr", roles=frozenset(), method=AuthMethod.OS_LOGIN)
    with pytest.raises(PermissionDeniedError):
        services.gate_report(actor=nobody, uow=env.uow, now=env.now())
    assert [e["action"] for e in env.store.audit] == ["security.refused"]
    with pytest.raises(InputError, match="--template: no template 'nope'; published templates are: cooper-5, it-pmo"):
        services.gate_report(actor=actors.person("pam"), uow=env.uow, now=env.now(), template_id="nope")
    empty = services.gate_report(actor=actors.person("pam"), uow=env.uow, now=env.now())
    assert all(g.decided == 0 and g.reviews_automatic == 0 for g in empty.gates)


def test_an_on_date_gate_is_reviewed_once_its_date_has_come_and_once_per_date(env: Env) -> None:
    _, on_date = variant_on_date()
    with env.uow() as tx:
        tx.templates.add_template(on_date, content_hash=template_content_hash(on_date), source="test", now=T0)
        tx.commit()
    services.create_project(
        CreateProject(
            key="DATED", template_id="it-dated", name="DATED", sponsor_id="sam", manager_id="mgr", budget=Decimal(1)
        ),
        uow=env.uow,
        now=env.now(),
        actor=SYSTEM_ACTOR,
    )

    def due() -> tuple[str, ...]:
        return services.gate_actions(["DATED"], uow=env.uow, now=env.now(), probe=probe).due

    assert due() == ()  # no gate date yet
    milestone = MilestoneEvidence(id=GATE, name="Gate 1", due=date(2026, 12, 8))  # tomorrow
    services.set_milestone("DATED", milestone, actor=SYSTEM_ACTOR, uow=env.uow, now=env.now())
    assert due() == ()
    env.at += timedelta(days=1)  # the gate date has come
    assert due() == ("DATED",) and due() == ("DATED",)  # due until the review happens, not claimed before it
    review = services.start_review(
        RequestReview(project_key="DATED"), uow=env.uow, now=env.now(), probe=probe, actor=SYSTEM_ACTOR
    )
    assert review.evaluation.recommendation is Recommendation.NOT_READY and review.round_id is None
    assert due() == ()  # reviewed on its date: not again, though the gate is still not ready
    moved = milestone.model_copy(update={"due": date(2026, 12, 10)})
    services.set_milestone("DATED", moved, actor=SYSTEM_ACTOR, uow=env.uow, now=env.now())
    env.at += timedelta(days=2)
    assert due() == ("DATED",)  # a new gate date is a new occasion


def variant_on_date() -> tuple[str, LifecycleTemplate]:
    """it-pmo@2 as "it-dated": its first gate is reviewed on its gate date rather than when ready."""
    source = next(s for s, t in shipped_templates() if (t.id, t.version) == ("it-pmo", 2))
    data = yaml.safe_load(source)
    data["id"], data["version"] = "it-dated", 1
    data["gates"][0]["auto_review"] = "on_date"
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return text, load_template_text(text, source="it-dated.yaml")

"""The monitor's gate actions on real SQLite and PostgreSQL: a gate date is the milestone named after the gate.

Managers hear once, ahead of the date, that evidence is missing; ``auto_review: on_date`` opens the review on
the date, once; ``when_ready`` only when the check recommends GO or CONDITIONAL_GO. Monday 2026-03-02 is
"today"; Thursday 03-05 is 3 working days away (US calendar), Thursday 03-12 is 8.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from phasegate.gates.vocabulary.commands import AddPerson, CreateProject, RequestReview
from phasegate.gates.vocabulary.evidence import MilestoneEvidence
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import load_template_text, shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from phasegate.usecases.ports import UnitOfWork

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _missing(path: str) -> None:
    return None


class Env:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def actions(self, now: datetime = MONDAY) -> services.GateDateReport:
        keys = services.active_projects(uow=self.uow)
        return services.gate_actions(keys, uow=self.uow, now=now, probe=_missing)

    def outbox(self, kind: str) -> list[Any]:
        with self.sessions() as session:
            return list(
                session.execute(
                    select(t.OutboxMessage.recipient_id, t.OutboxMessage.locale).where(t.OutboxMessage.kind == kind)
                ).all()
            )


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = Env(db_url)
    sources = list(shipped_templates())
    data = yaml.safe_load(next(s for s, tpl in sources if (tpl.id, tpl.version) == ("it-pmo", 2)))
    data["id"] = "it-dated"
    data["gates"][0]["auto_review"] = "on_date"
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    for source, template in [*sources, (text, load_template_text(text, source="it-dated.yaml"))]:
        services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source=source,
            uow=e.uow,
            now=MONDAY,
            actor=SYSTEM_ACTOR,
        )
    for pid, locale in (("sam", "en"), ("mgr", "zh-CN")):
        services.add_person(
            AddPerson(
                id=pid,
                name=pid.title(),
                email=f"{pid}@example.com",
                locale=locale,  # type: ignore[arg-type]
                notify_urls=(f"json://127.0.0.1:9/{pid}",),
            ),
            uow=e.uow,
            now=MONDAY,
            actor=SYSTEM_ACTOR,
        )
    for key, template, due in (
        ("SOON", "it-pmo", date(2026, 3, 5)),
        ("LATER", "it-pmo", date(2026, 3, 12)),
        ("NODATE", "it-pmo", None),
        ("ONDATE", "it-dated", date(2026, 3, 4)),
    ):
        services.create_project(
            CreateProject(
                key=key, template_id=template, name=key, sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
            ),
            uow=e.uow,
            now=MONDAY,
            actor=SYSTEM_ACTOR,
        )
        if due is not None:
            services.set_milestone(
                key,
                MilestoneEvidence(id="ready-for-planning", name="Gate 1", due=due),
                actor=SYSTEM_ACTOR,
                uow=e.uow,
                now=MONDAY,
            )
    yield e
    e.engine.dispose()


def test_managers_hear_once_ahead_of_a_gate_date_and_on_date_reviews_open_once(env: Env) -> None:
    first = env.actions()
    # SOON is 3 working days away and not ready: its manager is warned; LATER (8 days) and NODATE are not.
    # ONDATE's gate date (Wednesday) is 2 days away: warned as well, and its review waits for the date.
    assert sorted(first.warned) == ["ONDATE", "SOON"] and first.due == () and first.ready == ()
    assert env.outbox("gate_evidence_warning") == [("mgr", "zh-CN"), ("mgr", "zh-CN")]
    again = env.actions(MONDAY + timedelta(hours=1))
    assert again.warned == () and len(env.outbox("gate_evidence_warning")) == 2  # once per gate date
    on_the_day = env.actions(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    assert on_the_day.due == ("ONDATE",)
    # The monitor died before the review ran: the next scan still finds it due (nothing was claimed first).
    assert env.actions(datetime(2026, 3, 4, 9, 30, tzinfo=UTC)).due == ("ONDATE",)
    services.start_review(
        RequestReview(project_key="ONDATE"),
        actor=SYSTEM_ACTOR,
        uow=env.uow,
        now=datetime(2026, 3, 4, 9, 31, tzinfo=UTC),
        probe=_missing,
    )
    assert env.actions(datetime(2026, 3, 4, 10, 0, tzinfo=UTC)).due == ()  # once per gate date
    # A new gate date for the same gate (re-planned) is a new date: the manager hears again.
    services.set_milestone(
        "SOON",
        MilestoneEvidence(id="ready-for-planning", name="Gate 1", due=date(2026, 3, 10)),
        actor=SYSTEM_ACTOR,
        uow=env.uow,
        now=MONDAY,
    )
    # On Friday 03-06, LATER's date (Thursday 03-12) is 4 working days away: now its manager hears too.
    assert sorted(env.actions(datetime(2026, 3, 6, 9, 0, tzinfo=UTC)).warned) == ["LATER", "SOON"]
    with env.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(t.AuditEntry).where(t.AuditEntry.action == "gate.evidence_warning")
            )
            == 4
        )

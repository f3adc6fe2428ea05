"""One path per use case: the bugs each door's own copy of a use case had, on SQLite and PostgreSQL.

- the REST API's unit of work had no organisation router, so its reviews and votes reached no org channel;
- the refresh of an open round after new evidence and ``gate check`` evaluated without the recycle limit
  (and the refresh sent no gate packet), so they said GO where a review said KILL;
- a CONDITIONAL_GO naming an unknown person resolved the round and then failed inside gate-decision;
- one such round stopped every later reconciliation and reminder run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from phasegate.gates.vocabulary.commands import AddPerson, RecordCost, RequestReview
from phasegate.gates.vocabulary.enums import Decision, Recommendation, RoundStatus
from phasegate.gates.vocabulary.errors import ConflictError, InputError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import ConditionSpec, VoteRecord
from phasegate.models import tables as t
from phasegate.models.settings import Settings
from phasegate.models.template_yaml import template_content_hash
from phasegate.usecases import approvals, services
from phasegate.web.app import create_app
from tests import actors
from tests.gatekeeping import TWO_OF_THREE, add_ready_project, probe, variant
from tests.test_api import Api, ready_project, seed
from tests.test_approvals import T0, Env, _ready
from tests.test_cli import PHASEGATE

ORG_CONFIG = """
version: 1
urls:
  - json://127.0.0.1:9/pmo-channel:
      tag: pmo
  - json://127.0.0.1:9/p1-team:
      tag: project:P1
  - json://127.0.0.1:9/finance:
      tag: finance
"""


@pytest.fixture
def gates_env(db_url: str) -> Iterator[Env]:
    """test_approvals' world: a 2-of-3 variant of it-pmo (sponsor, finance, pmo) and six people."""
    e = Env(db_url)
    text, template = variant(TWO_OF_THREE, "it-2of3")
    services.publish_template(
        template,
        content_hash=template_content_hash(template),
        source=text,
        uow=e.uow,
        now=e.clock(),
        actor=SYSTEM_ACTOR,
    )
    for pid in ("sam", "fin", "pam", "mgr", "dee", "zed"):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com", notify_urls=(f"json://127.0.0.1:9/{pid}",)),
            uow=e.uow,
            now=e.clock(),
            actor=SYSTEM_ACTOR,
        )
    yield e
    e.engine.dispose()


def _counts(env: Env) -> tuple[int, ...]:
    with env.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (t.Vote, t.AuditEntry, t.OutboxMessage, t.Condition, t.GateDecision)
        )


def _ghost_condition() -> ConditionSpec:
    return ConditionSpec(text="Security review passed", owner_id="ghost", due_on=date(2027, 1, 15), verification="x")


# ------------------------------------------------------------------------------------------------ org router
def test_reviews_and_votes_through_the_api_reach_the_organisation_channels(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "org.yaml"
    config.write_text(ORG_CONFIG, encoding="utf-8")
    tokens = seed(db_url)
    app = create_app(Settings(database_url=db_url, home=tmp_path / "home", notify_config=config))
    with TestClient(app) as client:
        api = Api(client=client, url=db_url, tokens=tokens)
        round_id = ready_project(api, "P1", tmp_path)["round_id"]
        shown = api.get(f"/rounds/{round_id}", who="sponsor").json()
        cast = api.post(
            f"/rounds/{round_id}/votes", {"decision": "go", "evidence_hash": shown["evidence_hash"]}, "sponsor"
        )
        assert cast.status_code == 201, cast.text
        sessions = app.state.runtime.sessions
        with sessions() as session:
            rows = session.execute(
                select(t.OutboxMessage.kind, t.OutboxMessage.target).where(t.OutboxMessage.recipient_id.is_(None))
            ).all()
    assert sorted((kind, target.split("?")[0].rsplit("/", 1)[1]) for kind, target in rows) == [
        ("approval_requested", "p1-team"),
        ("approval_requested", "pmo-channel"),
        ("decision_made", "p1-team"),
        ("decision_made", "pmo-channel"),
    ]


# ------------------------------------------------------------------------------------------------ one review path
def test_refresh_and_gate_check_keep_the_recycle_limit_kill_and_the_refresh_sends_the_packet(gates_env: Env) -> None:
    env = gates_env
    add_ready_project(env.uow, env.clock, "K1")
    limit = services.get_template("it-2of3", 1, uow=env.uow).template.gates[0].recycle_limit
    with env.uow() as tx:  # the project was recycled at this gate as often as the template allows
        project = tx.projects.get_project("K1", for_update=True)
        assert project is not None
        tx.projects.update_project_state(
            "K1", status=project.status, stage_id=project.stage_id, recycle_count=limit, now=env.clock()
        )
        tx.commit()

    checked = services.check_gate("K1", uow=env.uow, now=env.clock(), probe=probe)
    review = services.start_review(
        RequestReview(project_key="K1"), uow=env.uow, now=env.clock(), probe=probe, actor=actors.admin("zed")
    )
    assert checked.evaluation.recommendation is review.evaluation.recommendation is Recommendation.KILL
    assert any("the limit is" in reason for reason in checked.evaluation.reasons)
    assert review.round_id is not None

    services.record_cost(
        RecordCost(project_key="K1", amount=Decimal(10), note="late invoice"),
        uow=env.uow,
        now=env.clock(),
        actor=SYSTEM_ACTOR,
    )
    with pytest.raises(ConflictError) as changed:
        env.vote(review.round_id, "sam", Decision.GO)
    assert changed.value.code == "vote.evidence_changed"

    refreshed = env.round(review.round_id)
    with env.sessions() as session:
        recommendations = list(
            session.scalars(
                select(t.GateReview.recommendation)
                .where(t.GateReview.project_key == "K1")
                .order_by(t.GateReview.created_at)
            )
        )
        asked_again = list(
            session.scalars(
                select(t.OutboxMessage.context).where(
                    t.OutboxMessage.kind == "approval_requested",
                    t.OutboxMessage.idempotency_key.contains(refreshed.evidence_hash[:12]),
                )
            )
        )
    assert recommendations == ["kill", "kill"]
    assert asked_again, "the open seats were asked again"
    for context in asked_again:
        assert context["recommendation"] == "kill"
        packet = context["packet"]
        assert packet["recommendation"] == "kill" and packet["evidence_hash"] == refreshed.evidence_hash
        assert set(packet["pending"]) == {"sam", "fin", "pam"}


# ------------------------------------------------------------------------------------------------ conditions
def test_a_conditional_go_naming_an_unknown_person_is_refused_and_writes_nothing(gates_env: Env) -> None:
    env = gates_env
    round_id = _ready(env, "C1")
    known = _ghost_condition().model_copy(update={"owner_id": "mgr"})
    before = _counts(env)
    with pytest.raises(InputError, match="condition 2 owner: unknown person 'ghost'") as refused:
        env.vote(round_id, "sam", Decision.CONDITIONAL_GO, conditions=(known, _ghost_condition()))
    assert refused.value.code == "vote.condition_person_unknown"
    assert _counts(env) == before
    env.vote(round_id, "sam", Decision.CONDITIONAL_GO, conditions=(known,))

    before = _counts(env)  # fin's conditional go would decide the 2-of-3 round
    with pytest.raises(InputError, match="condition 1 owner: unknown person 'ghost'"):
        env.vote(round_id, "fin", Decision.CONDITIONAL_GO, conditions=(_ghost_condition(),))
    verifier = known.model_copy(update={"verification": "verifier:nobody"})
    with pytest.raises(InputError, match="condition 1 verifier: unknown person 'nobody'"):
        env.vote(round_id, "fin", Decision.CONDITIONAL_GO, conditions=(verifier,))
    assert _counts(env) == before
    assert env.round(round_id).status is RoundStatus.OPEN

    decided = env.vote(round_id, "fin", Decision.CONDITIONAL_GO, conditions=(known,))
    assert decided.round_decision is Decision.CONDITIONAL_GO
    assert approvals.apply_round_decision(round_id, uow=env.uow, now=env.clock()).conditions == 1


def test_the_api_answers_422_and_the_cli_exits_2_for_an_unknown_condition_owner(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEGATE_DATABASE_URL", sqlite_url)  # restored afterwards: `--db` sets it for flows
    tokens = seed(sqlite_url)
    app = create_app(Settings(database_url=sqlite_url, home=tmp_path / "home"))
    with TestClient(app) as client:
        api = Api(client=client, url=sqlite_url, tokens=tokens)
        round_id = ready_project(api, "P1", tmp_path)["round_id"]
        shown = api.get(f"/rounds/{round_id}", who="sponsor").json()
        body = {
            "decision": "conditional_go",
            "reason": "fix first",
            "evidence_hash": shown["evidence_hash"],
            "conditions": [{"text": "Fix", "owner_id": "ghost", "due_on": "2027-01-15", "verification": "x"}],
        }
        answer = api.post(f"/rounds/{round_id}/votes", body, who="sponsor")
        assert answer.status_code == 422 and answer.json()["code"] == "vote.condition_person_unknown"
        # seed() maps the OS login running the CLI to pam, a PMO admin: she may act for sam with --as
        audit_before = len(api.audit())

        cli = subprocess.run(
            [
                PHASEGATE, "vote", round_id, "--as", "sam", "--decision", "conditional_go", "--reason", "fix first",
                "--condition", "Fix;ghost;2027-01-15;x", "--db", sqlite_url,
            ],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert cli.returncode == 2, cli.stderr
        assert "condition 1 owner: unknown person 'ghost'" in cli.stderr and "Traceback" not in cli.stderr
        assert len(api.audit()) == audit_before
        assert api.get(f"/rounds/{round_id}").json()["status"] == "open"


# ------------------------------------------------------------------------------------------------ batches
def _resolve_with_a_ghost_condition(env: Env, round_id: UUID) -> None:
    """A round resolved before owners were checked: its decision cannot be applied (no such person)."""
    with env.uow() as tx:
        current = tx.reviews.get_round(round_id, for_update=True)
        assert current is not None
        tx.reviews.add_vote(
            round_id,
            VoteRecord(
                voter_id="sam",
                signer_id="sam",
                decision=Decision.CONDITIONAL_GO,
                reason="legacy",
                cast_at=env.clock(),
                evidence_hash=current.evidence_hash,
                conditions=(_ghost_condition(),),
            ),
        )
        tx.reviews.resolve_round(
            current, decision=Decision.CONDITIONAL_GO, decided_by=["sam"], reason="legacy", now=env.clock()
        )
        tx.commit()


def _seat_a_ghost(env: Env, round_id: UUID) -> None:
    """An open round whose seat names a person no longer known: its reminders cannot be addressed."""
    with env.uow() as tx:
        current = tx.reviews.get_round(round_id, for_update=True)
        assert current is not None
        seats: list[dict[str, Any]] = [dict(seat) for seat in current.seats]
        seats[0]["person_id"] = "ghost"
        tx.reviews.replace_seats(round_id, seats, [seat["person_id"] for seat in seats])
        tx.commit()


def test_one_round_that_cannot_be_handled_never_blocks_the_others(gates_env: Env) -> None:
    env = gates_env
    good, bad = _ready(env, "R1"), _ready(env, "R2")
    env.vote(good, "sam", Decision.GO)
    env.vote(good, "fin", Decision.GO)  # resolved; its decision is not applied yet
    _resolve_with_a_ghost_condition(env, bad)

    report = approvals.reconcile_decisions(uow=env.uow, now=env.clock())
    assert [a.round_id for a in report.applied] == [good]
    assert [f.round_id for f in report.failed] == [bad] and "Error" in report.failed[0].error
    assert services.project_view("R1", uow=env.uow).project.stage_id == "planning"
    assert approvals.unapplied_rounds(uow=env.uow) == [bad]  # reported again next time, never lost

    waiting, ghostly = _ready(env, "R3"), _ready(env, "R4")
    _seat_a_ghost(env, ghostly)
    reminders = approvals.send_reminders(uow=env.uow, now=T0 + timedelta(days=30))
    assert [f.round_id for f in reminders.failed] == [ghostly]
    assert reminders.reminders + reminders.escalations > 0
    with env.sessions() as session:
        subjects = set(session.scalars(select(t.NotificationStep.subject)))
    assert f"round:{waiting}" in subjects and f"round:{ghostly}" not in subjects

"""The same vote through each door (CLI, approval page, REST API) on three identical databases.

Each door hands the vote to the composition root (``flows.runtime.Runtime.vote``), whose after-commit handler
reacts to the round-resolved event: every door must give the same rows, the same outbox and a gate-decision
flow run in Prefect (the session's test server) for its round. Also here: the approval-reminders flow goes on
past a round whose decision cannot be applied, and says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from phasegate.flows.cli import build_app
from phasegate.flows.cli.common import os_login
from phasegate.gates.vocabulary.commands import UpdatePerson
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import ConditionSpec, VoteRecord
from phasegate.models import tables as t
from phasegate.models.tokens import create_token
from phasegate.usecases import approvals, people, services
from phasegate.web.app import create_app
from tests.receivers import HttpReceiver
from tests.test_web_pages import World, build_world

pytestmark = pytest.mark.flow

REASON = "go once the security review is done"
CONDITION = ("Security review passed", "mgr", "2027-01-15", "verifier:pam")


@pytest.fixture
def worlds(tmp_path: Path, _sqlite_template: Path, prefect_harness: None) -> Iterator[list[World]]:
    """Three databases built the same way, each with its review open and sam (the sponsor) asked to vote."""
    import shutil

    built: list[World] = []
    receivers: list[HttpReceiver] = []
    try:
        for door in ("cli", "page", "api"):
            folder = tmp_path / door
            folder.mkdir()
            shutil.copyfile(_sqlite_template, folder / "phasegate.db")
            receiver = HttpReceiver().__enter__()
            receivers.append(receiver)
            world = build_world(f"sqlite:///{folder / 'phasegate.db'}", "http://testserver", folder, receiver)
            # sam runs the CLI: the OS login of this process is theirs (in every world, so the rows compare)
            people.update_person(
                UpdatePerson(id="sam", login=os_login()), actor=SYSTEM_ACTOR, uow=world.rt.uow, now=world.rt.now()
            )
            built.append(world)
        yield built
    finally:
        for world in built:
            world.rt.engine.dispose()
        for receiver in receivers:
            receiver.__exit__(None, None, None)


def _vote_by_cli(world: World) -> None:
    done = CliRunner().invoke(
        build_app(),
        [
            "vote", str(world.round_id), "--decision", "conditional_go", "--reason", REASON,
            "--condition", ";".join(CONDITION), "--db", world.settings.resolved_database_url, "--json",
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output


def _vote_by_page(world: World) -> None:
    with TestClient(create_app(world.settings)) as client:
        link = "/approve/" + world.links()[0].rsplit("/approve/", 1)[1]
        page = client.get(link).text
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
        seen = re.search(r'name="evidence_hash" value="([0-9a-f]{64})"', page)
        assert csrf and seen, "the page shows the vote form"
        text, owner, due, verify = CONDITION
        form = {
            "csrf_token": csrf.group(1),
            "evidence_hash": seen.group(1),
            "decision": "conditional_go",
            "reason": REASON,
            "condition_text": [text, ""],
            "condition_owner": [owner, ""],
            "condition_due": [due, ""],
            "condition_verify": [verify, ""],
        }
        voted = client.post(link, data=form, follow_redirects=False)
        assert voted.status_code == 303, voted.text


def _vote_by_api(world: World) -> None:
    with world.rt.sessions() as session, session.begin():
        _, token = create_token(session, "sam", "approver", datetime.now(UTC), audit_key=world.rt.audit_key)
    with TestClient(create_app(world.settings)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        shown = client.get(f"/api/v1/rounds/{world.round_id}", headers=headers).json()
        text, owner, due, verify = CONDITION
        body = {
            "decision": "conditional_go",
            "reason": REASON,
            "evidence_hash": shown["evidence_hash"],
            "conditions": [{"text": text, "owner_id": owner, "due_on": due, "verification": verify}],
        }
        answer = client.post(f"/api/v1/rounds/{world.round_id}/votes", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        assert answer.json()["applied"]["decision"] == "conditional_go"


def _state(world: World) -> dict[str, Any]:
    """What a vote leaves behind, without the ids, hashes, times and ports that differ between databases."""
    with world.rt.sessions() as session:
        rounds = session.execute(select(t.ApprovalRound.status, t.ApprovalRound.decision, t.ApprovalRound.applied_at))
        return {
            "votes": sorted(
                (v.voter_id, v.signer_id, v.kind, v.decision, v.reason, str(v.conditions))
                for v in session.scalars(select(t.Vote))
            ),
            "rounds": sorted((status, decision, applied is not None) for status, decision, applied in rounds),
            "projects": sorted((p.key, p.status, p.stage_id) for p in session.scalars(select(t.Project))),
            "conditions": sorted(
                (c.text, c.owner_id, c.due_on.isoformat(), c.verification, c.status)
                for c in session.scalars(select(t.Condition))
            ),
            "decisions": sorted((d.decision, d.gate_id) for d in session.scalars(select(t.GateDecision))),
            "audit": [  # the API's caller needs a token first: its issue is set-up, not part of the vote
                action
                for action in session.scalars(select(t.AuditEntry.action).order_by(t.AuditEntry.seq))
                if action != "token.created"
            ],
            "outbox": sorted(
                (m.kind, m.recipient_id, m.target.split("?")[0].rsplit("/", 1)[-1], m.status)
                for m in session.scalars(select(t.OutboxMessage))
            ),
        }


def _decision_flow_runs(round_ids: list[UUID]) -> dict[str, int]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    wanted = {str(r): 0 for r in round_ids}
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["gate-decision"])), limit=200)
    for run in runs:
        round_id = str(run.parameters.get("round_id"))
        if round_id in wanted and run.state is not None and run.state.is_completed():
            wanted[round_id] += 1
    return wanted


def test_the_same_vote_through_cli_page_and_api_gives_the_same_rows_outbox_and_flow_run(
    worlds: list[World], monkeypatch: pytest.MonkeyPatch
) -> None:
    for world, vote in zip(worlds, (_vote_by_cli, _vote_by_page, _vote_by_api), strict=True):
        monkeypatch.setenv("PHASEGATE_DATABASE_URL", world.settings.resolved_database_url)  # as `phasegate serve`
        vote(world)
    cli, page, api = (_state(world) for world in worlds)
    assert cli["rounds"] == [("resolved", "conditional_go", True)]
    assert cli["audit"][-3:] == ["vote.cast", "round.resolved", "decision.applied"]
    assert cli["projects"][0][1:] == ("active", "planning") and cli["conditions"][0][-1] == "open"
    assert {kind for kind, *_ in cli["outbox"]} >= {"approval_requested", "decision_made"}
    assert all(status == "sent" for *_, status in cli["outbox"]), cli["outbox"]
    assert page == cli
    assert api == cli
    assert _decision_flow_runs([world.round_id for world in worlds]) == {str(w.round_id): 1 for w in worlds}


def test_approval_reminders_go_on_past_a_round_that_cannot_be_applied(
    worlds: list[World], monkeypatch: pytest.MonkeyPatch
) -> None:
    from phasegate.flows.approval_reminders import approval_reminders_flow

    world = worlds[0]
    monkeypatch.setenv("PHASEGATE_DATABASE_URL", world.settings.resolved_database_url)
    with world.rt.uow() as tx:  # decided before condition owners were checked: no such person as "ghost"
        current = tx.reviews.get_round(world.round_id, for_update=True)
        assert current is not None
        ghost = ConditionSpec(text="Fix", owner_id="ghost", due_on=datetime(2027, 1, 15).date(), verification="x")
        tx.reviews.add_vote(
            current.id,
            VoteRecord(
                voter_id="sam",
                signer_id="sam",
                decision=Decision.CONDITIONAL_GO,
                reason="legacy",
                cast_at=datetime.now(UTC),
                evidence_hash=current.evidence_hash,
                conditions=(ghost,),
            ),
        )
        tx.reviews.resolve_round(
            current, decision=Decision.CONDITIONAL_GO, decided_by=["sam"], reason="x", now=datetime.now(UTC)
        )
        tx.commit()
    state = approval_reminders_flow(return_state=True)
    result = state.result()
    assert state.name == "Needs attention"
    assert [f["round_id"] for f in result["failed"]] == [str(world.round_id)]
    assert "dispatch" in result  # the dispatcher still ran
    assert approvals.unapplied_rounds(uow=world.rt.uow) == [world.round_id]
    assert services.project_view("WEB1", uow=world.rt.uow).project.stage_id == "initiating"
    assert os.environ["PHASEGATE_DATABASE_URL"] == world.settings.resolved_database_url

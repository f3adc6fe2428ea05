"""Real Prefect flow runs of gate-review and gate-decision under one session-scoped test harness.

Notifications go to a real HTTP receiver on 127.0.0.1; artifacts are read back from the Prefect API.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from phasegate.gates.vocabulary.commands import AddPerson, CastVote, CreateProject, RegisterDocument
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.errors import PermissionDeniedError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models import tables as t
from phasegate.usecases import services
from tests import actors
from tests.conftest import whole_sqlite_file
from tests.receivers import HttpReceiver

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def _upgraded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database ``db upgrade`` made (schema and shipped templates), made once for the module.

    Module-scoped, so the module's tests share one worker under xdist, and with it that worker's Prefect test
    harness (``prefect_harness`` takes about 20 s to start on each worker that asks for it).
    """
    from phasegate.flows.cli.database import db_upgrade
    from phasegate.flows.runtime import runtime

    path = tmp_path_factory.mktemp("flows-upgraded") / "upgraded.db"
    with pytest.MonkeyPatch.context() as patch:  # db_upgrade points PHASEGATE_DATABASE_URL at the database
        patch.delenv("PHASEGATE_DATABASE_URL", raising=False)
        db_upgrade(f"sqlite:///{path}")
        runtime().engine.dispose()  # the last connection closes: SQLite checkpoints, the one file is the database
    return whole_sqlite_file(path)


@pytest.fixture
def portfolio(_upgraded: Path, prefect_harness: None, tmp_path: Path) -> Iterator[tuple[Any, HttpReceiver]]:
    from phasegate.flows.runtime import runtime, utc_now

    previous = os.environ.get("PHASEGATE_DATABASE_URL")
    shutil.copy(_upgraded, tmp_path / "phasegate.db")
    rt = runtime(f"sqlite:///{tmp_path / 'phasegate.db'}")
    with HttpReceiver() as receiver:
        for pid, locale in (("alice", "en"), ("bob", "zh-CN")):
            services.add_person(
                AddPerson(
                    id=pid,
                    name=pid.title(),
                    email=f"{pid}@example.com",
                    locale=locale,  # type: ignore[arg-type]
                    notify_urls=(receiver.apprise_url(f"/{pid}"),),
                ),
                uow=rt.uow,
                now=utc_now(),
                actor=SYSTEM_ACTOR,
            )
        for key in ("FLOW-GO", "FLOW-NR"):
            services.create_project(
                CreateProject(
                    key=key,
                    template_id="cooper-5",
                    name=key,
                    sponsor_id="alice",
                    manager_id="bob",
                    budget=Decimal(5000),
                ),
                uow=rt.uow,
                now=utc_now(),
                actor=SYSTEM_ACTOR,
            )
        template = services.get_template("cooper-5", 1, uow=rt.uow).template
        gate = template.gates[0]
        services.assign_role("FLOW-GO", "pmo", "alice", uow=rt.uow, now=utc_now(), actor=SYSTEM_ACTOR)
        for deliverable in gate.deliverables:
            sections = template.deliverable(deliverable).required_sections
            path = tmp_path / f"{deliverable}.md"
            path.write_text("".join(f"## {section}\n\ntext\n\n" for section in sections), encoding="utf-8")
            stored = rt.document_store().put(path)  # the gate reads phasegate's copy, as after `doc add`
            services.register_document(
                RegisterDocument(
                    project_key="FLOW-GO",
                    deliverable_id=deliverable,
                    path=str(path),
                    sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                    size=path.stat().st_size,
                    approved_by="alice",
                    format="md",
                    headings=sections,
                    store_key=stored.key,
                ),
                uow=rt.uow,
                now=utc_now(),
                actor=SYSTEM_ACTOR,
            )
        assert gate.scorecard is not None
        services.record_scores(
            "FLOW-GO",
            {f.id: 8 for f in gate.scorecard.factors},
            actor=actors.person("alice"),
            uow=rt.uow,
            now=utc_now(),
        )
        yield rt, receiver
    if previous is None:
        os.environ.pop("PHASEGATE_DATABASE_URL", None)
    else:
        os.environ["PHASEGATE_DATABASE_URL"] = previous


def _artifact_keys(flow_run_id: Any) -> set[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key for a in artifacts if a.key}


def _parameters(flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return dict(client.read_flow_run(flow_run_id).parameters)


def _run_name(flow_run_id: Any) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return str(client.read_flow_run(flow_run_id).name)


def test_review_then_decision_advances_and_notifies(portfolio: tuple[Any, HttpReceiver], tmp_path: Path) -> None:
    from phasegate.flows.gate_decision import gate_decision_flow
    from phasegate.flows.gate_review import gate_review_flow
    from phasegate.flows.runtime import probe_file, utc_now

    rt, receiver = portfolio
    state = gate_review_flow("FLOW-GO", rt.seal_actor(actors.admin("bob"), project_key="FLOW-GO"), return_state=True)
    assert state.is_completed() and state.name == "Awaiting approval"
    result = state.result()
    assert result["evaluation"]["recommendation"] == "go" and result["approvers"] == ["alice"]
    assert result["dispatch"]["sent"] == 1
    assert {"gate-review-flow-go", "gate-review-flow-go-criteria"} <= _artifact_keys(state.state_details.flow_run_id)
    parameters = _parameters(state.state_details.flow_run_id)
    assert (parameters["project_key"], parameters["meeting_at"]) == ("FLOW-GO", None)
    with rt.sessions() as session:
        requested_by = session.scalar(select(t.GateReview.requested_by).where(t.GateReview.project_key == "FLOW-GO"))
    assert requested_by == "bob"  # the sealed actor, as the CLI proved it
    gate_id = result["evaluation"]["gate_id"]
    assert _run_name(state.state_details.flow_run_id) == f"FLOW-GO / {gate_id} / review", "readable in the UI"
    request = receiver.wait_for(1)[0]
    assert request.path == "/alice" and result["round_id"] in request.body.decode()

    vote = actors.cast_vote(
        CastVote(round_id=result["round_id"], voter_id="alice", decision=Decision.GO),
        uow=rt.uow,
        now=utc_now(),
        probe=probe_file,
    )
    decided = gate_decision_flow(str(vote.round_id), return_state=True)
    assert decided.is_completed()
    applied = decided.result()
    assert (applied["status"], applied["stage_id"], applied["already_applied"]) == ("active", "scoping", False)
    assert "gate-decision-flow-go" in _artifact_keys(decided.state_details.flow_run_id)
    assert _run_name(decided.state_details.flow_run_id) == f"FLOW-GO / {gate_id} / go"
    paths = sorted(r.path for r in receiver.wait_for(3))
    assert paths == ["/alice", "/alice", "/bob"]  # the request, then the decision to sponsor and manager
    bob_message = next(r for r in receiver.requests if r.path == "/bob").json()
    assert bob_message["title"].startswith("阶段门决策") and "创意筛选" in bob_message["title"]  # bob reads Chinese

    rerun = gate_decision_flow(str(vote.round_id))
    assert rerun["already_applied"] is True and len(receiver.requests) == 3


def test_not_ready_review_ends_in_a_named_state_and_opens_no_round(portfolio: tuple[Any, HttpReceiver]) -> None:
    from phasegate.flows.gate_review import gate_review_flow

    rt, receiver = portfolio
    state = gate_review_flow("FLOW-NR", return_state=True)
    assert state.is_completed() and state.name == "Not ready"
    result = state.result()
    assert result["round_id"] is None and result["evaluation"]["recommendation"] == "not_ready"
    assert services.project_view("FLOW-NR", uow=rt.uow).pending_rounds == ()
    assert [r.path for r in receiver.wait_for(1)] == ["/bob"]


def test_a_review_run_takes_its_requester_only_from_a_seal(portfolio: tuple[Any, HttpReceiver]) -> None:
    """Whoever reaches the Prefect API can start a deployment run with any parameters: a bare name, a seal made
    with another key or for another project is refused and audited; no seal runs it as the system."""
    from phasegate.flows.gate_review import gate_review_flow
    from phasegate.models.actor_seal import seal_actor

    rt, _ = portfolio
    bob = actors.admin("bob")
    forged = seal_actor(bob, project_key="FLOW-NR", secret="x" * 48, now=rt.now())
    for seal, code in (
        ("bob", "flow_actor.forged"),
        (forged, "flow_actor.forged"),
        (rt.seal_actor(bob, project_key="FLOW-GO"), "flow_actor.wrong_project"),
    ):
        state = gate_review_flow("FLOW-NR", seal, return_state=True)
        assert state.is_failed(), state
        with pytest.raises(PermissionDeniedError) as refused:
            state.result()
        assert refused.value.code == code
        with rt.sessions() as session:
            last = session.scalars(select(t.AuditEntry).order_by(t.AuditEntry.seq.desc()).limit(1)).one()
        assert (last.action, last.entity, last.payload["code"]) == ("security.refused", "project:FLOW-NR", code)
    assert services.project_view("FLOW-NR", uow=rt.uow).history == ()
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(t.GateReview)) == 0  # nothing reviewed
    system = gate_review_flow("FLOW-NR", return_state=True)
    assert system.is_completed() and system.name == "Not ready"


# In the module's xdist group (conftest names it so for the tests using ``_upgraded``): it needs only the harness,
# and on another worker it would start one of its own (about 20 s) for a test that takes a tenth of a second.
@pytest.mark.xdist_group("tests/test_flows.py")
def test_cli_flow_runs_have_no_heartbeat_and_the_chosen_api(prefect_harness: None) -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    from phasegate.flows.server import prefect_run_context

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):  # a worker's default
        before = get_current_settings()
        with prefect_run_context():
            inside = get_current_settings()
            assert inside.flows.heartbeat_frequency is None
            assert inside.api.url == before.api.url and inside.home == before.home
        assert get_current_settings().flows.heartbeat_frequency == 60

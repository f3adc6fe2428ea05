"""What ``/api/v1`` gained for the CLI of a team: ``GET /me``, ``GET /conditions`` and a review meeting in
``POST /projects/{key}/reviews``, through the real app on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from phasegate.gates.vocabulary.commands import AddPerson
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import approvals, services
from tests.test_api import SECTIONS, Api, api, ready_project, write_document

__all__ = ["api"]  # the fixture, imported so these tests use the same app and seeded people


def test_me_names_the_tokens_person_and_role(api: Api) -> None:
    me = api.get("/me", who="sponsor")
    assert me.status_code == 200, me.text
    assert me.json() | {"token_id": None} == {
        "person_id": "sam",
        "name": "Sam",
        "email": "sam@example.com",
        "locale": "en",
        "token_id": None,
        "role": "approver",
        "roles": ["gatekeeper"],
        "method": "api_token",
    }
    assert api.get("/me", who="pmo").json()["roles"] == ["pmo_admin"]  # pam's roles within a pmo token's scope
    revoked = api.get("/me", who="revoked")
    assert revoked.status_code == 401 and revoked.json()["code"] == "auth.revoked"
    anonymous = api.client.get("/api/v1/me")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"


def test_conditions_list_what_the_use_case_lists(api: Api, tmp_path: Path) -> None:
    review = ready_project(api, "P1", tmp_path)
    round_id = review["round_id"]
    shown = api.get(f"/rounds/{round_id}", who="sponsor").json()
    assert api.get("/conditions").json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    vote = {
        "decision": "conditional_go",
        "reason": "security first",
        "evidence_hash": shown["evidence_hash"],
        "conditions": [
            {"text": "Security review", "owner_id": "mgr", "due_on": "2027-01-15", "verification": "verifier:pam"},
            {"text": "Budget split", "owner_id": "mgr", "due_on": "2027-02-01", "verification": "verifier:pam"},
        ],
    }
    assert api.post(f"/rounds/{round_id}/votes", vote, who="sponsor").status_code == 201

    listed = api.get("/conditions", who="viewer", project="P1", status="open", limit=1)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["total"] == 2 and len(page["items"]) == 1
    engine = make_engine(api.url)
    try:
        expected = approvals.list_conditions(uow=lambda: SqlUnitOfWork(engine))
    finally:
        engine.dispose()
    everything = api.get("/conditions").json()["items"]
    assert everything == [c.model_dump(mode="json") for c in expected]
    assert [c["text"] for c in everything] == ["Security review", "Budget split"]
    assert api.get("/conditions", project="P9").json()["total"] == 0
    assert api.get("/conditions", status="met").json()["total"] == 0
    bad = api.get("/conditions", status="done")
    assert bad.status_code == 422 and bad.json()["detail"].startswith("query.status")


def test_a_review_started_through_the_api_may_carry_its_meeting(api: Api, tmp_path: Path) -> None:
    engine = make_engine(api.url)
    try:  # a sponsor with a notification target, so the approval request (with its meeting) is queued
        services.add_person(
            AddPerson(id="sue", name="Sue", email="sue@example.com", notify_urls=("json://127.0.0.1:9/inbox",)),
            uow=lambda: SqlUnitOfWork(engine),
            now=datetime.now(UTC),
            actor=SYSTEM_ACTOR,
        )
    finally:
        engine.dispose()
    created = api.post(
        "/projects",
        {"key": "P2", "name": "P2", "template_id": "it-pmo", "sponsor_id": "sue", "manager_id": "mgr", "budget": "1"},
    )
    assert created.status_code == 201, created.text
    assert api.post("/projects/P2/roles", {"role": "pmo", "person_id": "pam"}).status_code == 201
    for deliverable in SECTIONS:
        assert api.post("/projects/P2/documents", write_document(tmp_path, deliverable)).status_code == 201
    naive = api.post("/projects/P2/reviews", {"meeting_at": "2026-12-03T10:00"})
    assert naive.status_code == 422 and "meeting_at" in naive.json()["detail"]
    review = api.post("/projects/P2/reviews", {"meeting_at": "2026-12-03T10:00:00+08:00"})
    assert review.status_code == 201, review.text
    assert review.json()["approvers"] == ["sue"]
    engine = make_engine(api.url)
    try:
        with make_session_factory(engine)() as session:
            contexts = list(session.scalars(select(t.OutboxMessage.context)))
    finally:
        engine.dispose()
    meetings = [c["review_meeting"] for c in contexts if "review_meeting" in c]
    assert meetings and meetings[0]["starts_at"] == "2026-12-03T10:00:00+08:00"


def test_scores_are_the_approver_tokens_persons_own(api: Api) -> None:
    created = api.post(
        "/projects",
        {"key": "NPD", "name": "N", "template_id": "cooper-5", "sponsor_id": "sam", "manager_id": "mgr", "budget": "1"},
    )
    assert created.status_code == 201, created.text
    scores = {"scores": {"strategic-fit": 7, "technical-feasibility": 5}}
    by_pmo = api.post("/projects/NPD/scores", scores, who="pmo")
    assert by_pmo.status_code == 403 and by_pmo.json()["code"] == "auth.role"
    done = api.post("/projects/NPD/scores", scores, who="sponsor")
    assert done.status_code == 201, done.text
    assert done.json() == {"project_key": "NPD", "gate_id": "idea-screen", "gatekeeper": "sam", "scored": 2}
    unknown = api.post("/projects/NPD/scores", {"scores": {"charisma": 9}}, who="sponsor")
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("charisma: not a factor")
    too_high = api.post("/projects/NPD/scores", {"scores": {"strategic-fit": 11}}, who="sponsor")
    assert too_high.status_code == 422 and "outside 0..10" in too_high.json()["detail"]
    engine = make_engine(api.url)
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(select(t.Score.gatekeeper, t.Score.factor, t.Score.score).order_by(t.Score.factor))
            assert [tuple(r) for r in rows] == [("sam", "strategic-fit", 7), ("sam", "technical-feasibility", 5)]
    finally:
        engine.dispose()

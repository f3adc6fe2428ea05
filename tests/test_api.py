"""The REST API through the real app (``web.app.create_app``) on real SQLite and PostgreSQL databases.

A PMO token builds a project through the API (roles, real document files with their hashes, cost, risks),
starts the review, and the sponsor's approver token votes bound to the evidence hash; the decision is
applied and audited. Around that: every role is checked on every kind of operation, errors are RFC 9457
problems with our codes, lists are paged, and tokens are stored only as hashes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from phasegate.flows.cli import tokens as token_cli
from phasegate.flows.cli.common import os_login
from phasegate.gates.vocabulary.commands import AddPerson
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.settings import Settings
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.tokens import create_token, find_token, revoke, token_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from phasegate.web.app import create_app

PEOPLE = ("sam", "mgr", "pam", "fin", "vic", "ann")
ROLES = {
    "sam": OrgRole.GATEKEEPER,
    "mgr": OrgRole.MANAGER,
    "pam": OrgRole.PMO_ADMIN,
    "fin": OrgRole.GATEKEEPER,
    "vic": OrgRole.VIEWER,
    "ann": OrgRole.GATEKEEPER,
}
SECTIONS = {
    "project-initiation-request": (
        "Problem or opportunity",
        "Requesting unit",
        "Expected benefits",
        "Rough cost and timing",
    ),
    "business-case": ("Options considered", "Benefits", "Costs", "Risks", "Investment appraisal", "Recommendation"),
    "project-charter": ("Objectives", "Scope", "Budget", "Sponsor", "Success criteria"),
}
SIGNER = {"project-initiation-request": "pam", "business-case": "sam", "project-charter": "sam"}


@dataclass
class Api:
    client: TestClient
    url: str
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str = "viewer", **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers(who), params=params)

    def post(self, path: str, body: Any, who: str = "pmo", **headers: str) -> Any:
        return self.client.post(f"/api/v1{path}", json=body, headers=self.headers(who) | headers)

    def audit(self) -> list[str]:
        engine = make_engine(self.url)
        try:
            with make_session_factory(engine)() as session:
                return list(session.scalars(select(t.AuditEntry.action).order_by(t.AuditEntry.seq)))
        finally:
            engine.dispose()


def seed(url: str) -> dict[str, str]:
    """Templates and people through the services, tokens through the adapter (as the CLI does)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    try:
        for source, template in shipped_templates():
            services.publish_template(
                template,
                content_hash=template_content_hash(template),
                source=source,
                uow=lambda: SqlUnitOfWork(engine),
                now=now,
                actor=SYSTEM_ACTOR,
            )
        for pid in PEOPLE:
            services.add_person(
                AddPerson(
                    id=pid,
                    name=pid.title(),
                    email=f"{pid}@example.com",
                    roles=frozenset({ROLES[pid]}),
                    login=os_login() if pid == "pam" else None,  # the CLI tests run as pam, the PMO admin
                ),
                uow=lambda: SqlUnitOfWork(engine),
                now=now,
                actor=SYSTEM_ACTOR,
            )
        issued = {}
        with sessions() as session, session.begin():
            for label, person, role in (
                ("pmo", "pam", "pmo"),
                ("viewer", "vic", "viewer"),
                ("sponsor", "sam", "approver"),
                ("outsider", "ann", "approver"),
                ("revoked", "vic", "viewer"),
            ):
                token_id, issued[label] = create_token(session, person, role, now)
                if label == "revoked":
                    revoke(session, token_id, now)
        return issued
    finally:
        engine.dispose()


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    tokens = seed(db_url)
    app = create_app(Settings(database_url=db_url, home=tmp_path / "home"))
    with TestClient(app) as client:
        yield Api(client=client, url=db_url, tokens=tokens)


def write_document(folder: Path, deliverable: str) -> dict[str, Any]:
    """A real Markdown deliverable on disk with the sections its standard requires, as a client describes it."""
    path = folder / f"{deliverable}.md"
    path.write_text("".join(f"# {title}\n\nText.\n\n" for title in SECTIONS[deliverable]), encoding="utf-8")
    content = path.read_bytes()
    return {
        "deliverable_id": deliverable,
        "path": str(path),
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "approved_by": SIGNER[deliverable],
        "format": "md",
        "headings": list(SECTIONS[deliverable]),
    }


def ready_project(api: Api, key: str, folder: Path) -> dict[str, Any]:
    """A project whose first gate passes, built only through the API; returns the review answer."""
    created = api.post(
        "/projects",
        {
            "key": key,
            "name": "Pilot",
            "template_id": "it-pmo",
            "sponsor_id": "sam",
            "manager_id": "mgr",
            "budget": "1000.00",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["stage_id"] == "initiating"
    assert api.post(f"/projects/{key}/roles", {"role": "pmo", "person_id": "pam"}).status_code == 201
    for deliverable in SECTIONS:
        registered = api.post(f"/projects/{key}/documents", write_document(folder, deliverable))
        assert registered.status_code == 201, registered.text
        assert registered.json()["version"] == 1
    cost = api.post(f"/projects/{key}/actuals", {"kind": "cost", "amount": "120.50", "note": "workshop"})
    assert cost.status_code == 201 and cost.json()["actual_cost_to_date"] == "120.50"
    check = api.get(f"/projects/{key}/evaluation")
    assert check.status_code == 200, check.text
    assert check.json()["evaluation"]["recommendation"] == "go", check.json()["evaluation"]["reasons"]
    review = api.post(f"/projects/{key}/reviews", None)
    assert review.status_code == 201, review.text
    return dict(review.json())


def test_a_gate_goes_from_evidence_to_decision_through_the_api(api: Api, tmp_path: Path) -> None:
    review = ready_project(api, "P1", tmp_path)
    assert review["round_id"] and review["approvers"] == ["sam"]
    round_id = review["round_id"]

    shown = api.get(f"/rounds/{round_id}", who="sponsor").json()
    assert shown["status"] == "open" and shown["pending"] == ["sam"]
    vote = {"decision": "go", "evidence_hash": shown["evidence_hash"]}
    cast = api.post(f"/rounds/{round_id}/votes", vote, who="sponsor", **{"Idempotency-Key": "vote-p1-0001"})
    assert cast.status_code == 201, cast.text
    outcome = cast.json()
    assert outcome["vote"]["round_decision"] == "go" and not outcome["vote"]["replayed"]
    assert outcome["applied"]["stage_id"] == "planning" and outcome["applied"]["decision"] == "go"

    retried = api.post(f"/rounds/{round_id}/votes", vote, who="sponsor", **{"Idempotency-Key": "vote-p1-0001"})
    assert retried.status_code == 200 and retried.json()["vote"]["replayed"] is True
    assert retried.json()["applied"] is None

    project = api.get("/projects/P1").json()
    assert project["project"]["stage_id"] == "planning" and project["pending_rounds"] == []
    assert [d["decision"] for d in project["decisions"]] == ["go"]
    actions = api.audit()
    assert actions.count("vote.cast") == 1 and "decision.applied" in actions
    verified = api.get("/audit/verify").json()
    assert verified["intact"] is True and verified["entries"] == len(actions)
    head = api.get("/audit/head").json()
    assert head["seq"] == len(actions) and verified["head_hash"] == head["hash"]


def test_votes_are_the_callers_own_and_bound_to_the_evidence(api: Api, tmp_path: Path) -> None:
    round_id = ready_project(api, "P2", tmp_path)["round_id"]
    current = api.get(f"/rounds/{round_id}").json()["evidence_hash"]

    outsider = api.post(f"/rounds/{round_id}/votes", {"decision": "go", "evidence_hash": current}, who="outsider")
    assert outsider.status_code == 403 and outsider.json()["code"] == "vote.not_approver"

    stale = api.post(f"/rounds/{round_id}/votes", {"decision": "go", "evidence_hash": "0" * 64}, who="sponsor")
    assert stale.status_code == 409 and stale.json()["code"] == "vote.evidence_mismatch"

    no_reason = api.post(f"/rounds/{round_id}/votes", {"decision": "kill", "evidence_hash": current}, who="sponsor")
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["loc"].endswith(".reason")
    blank = {"decision": "recuse", "reason": "   ", "evidence_hash": current}
    assert api.post(f"/rounds/{round_id}/votes", blank, who="sponsor").status_code == 422
    bare = {"decision": "conditional_go", "reason": "if", "evidence_hash": current, "conditions": []}
    assert api.post(f"/rounds/{round_id}/votes", bare, who="sponsor").status_code == 422

    pmo = api.post(f"/rounds/{round_id}/votes", {"decision": "go", "evidence_hash": current}, who="pmo")
    assert pmo.status_code == 403 and pmo.json()["code"] == "auth.role"

    held = api.post(
        f"/rounds/{round_id}/votes",
        {"decision": "hold", "reason": "budget unclear", "evidence_hash": current},
        who="sponsor",
    )
    assert held.status_code == 201 and held.json()["applied"]["status"] == "on_hold"
    again = api.post(f"/rounds/{round_id}/votes", {"decision": "go", "evidence_hash": current}, who="sponsor")
    assert again.status_code == 409 and again.json()["code"] == "round.closed"
    assert api.get("/rounds", status="resolved").json()["total"] == 1
    assert api.get("/rounds", status="open").json()["total"] == 0


def test_roles_admit_only_their_operations(api: Api) -> None:
    body = {"key": "R1", "name": "R", "template_id": "it-pmo", "sponsor_id": "sam", "manager_id": "mgr", "budget": "1"}
    for who, needed in (("viewer", "read-only"), ("sponsor", "pmo_admin")):
        refused = api.post("/projects", body, who=who)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "auth.role" and needed in refused.json()["detail"]
    assert api.audit().count("security.refused") == 2  # the use case audits each refusal
    assert api.post("/projects", body, who="pmo").status_code == 201
    for who in ("viewer", "sponsor", "pmo"):
        assert api.get("/projects/R1", who=who).status_code == 200
    assert api.post("/projects/R1/reviews", None, who="viewer").status_code == 403
    assert (
        api.post(
            "/projects/R1/risks", {"id": "X", "title": "x", "probability": 1, "impact": 1}, who="sponsor"
        ).status_code
        == 403
    )


def test_tokens_missing_unknown_or_revoked_get_401_problems(api: Api) -> None:
    missing = api.client.get("/api/v1/projects")
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["code"] == "auth.missing"
    unknown = api.client.get("/api/v1/projects", headers={"Authorization": "Bearer pgt_not-a-real-token"})
    assert unknown.status_code == 401 and unknown.json()["code"] == "auth.invalid"
    revoked = api.get("/projects", who="revoked")
    assert revoked.status_code == 401 and revoked.json()["code"] == "auth.revoked"
    basic = api.client.get("/api/v1/projects", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.status_code == 401


def test_errors_are_problem_details_with_codes_never_500(api: Api) -> None:
    unknown = api.get("/projects/NOPE")
    problem = unknown.json()
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert (
        problem["type"] == "urn:phasegate:problem:project.not_found" and problem["instance"] == "/api/v1/projects/NOPE"
    )
    assert problem["title"] == "Not found" and problem["status"] == 404 and "NOPE" in problem["detail"]

    malformed = api.client.post(
        "/api/v1/projects", content=b"{not json", headers=api.headers("pmo") | {"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["code"] == "request.malformed"

    extra = api.post("/projects", {"key": "X1", "surprise": True})
    assert extra.status_code == 422 and extra.json()["code"] == "input.invalid"
    assert {e["loc"] for e in extra.json()["errors"]} >= {"body.surprise", "body.name"}

    bad_key = api.post(
        "/projects",
        {"key": "lower", "name": "n", "template_id": "it-pmo", "sponsor_id": "sam", "manager_id": "mgr", "budget": "1"},
    )
    assert bad_key.status_code == 422 and bad_key.json()["errors"][0]["loc"] == "body.key"

    assert api.get("/rounds/not-a-uuid").status_code == 422
    assert api.get("/templates/it-pmo/99999999999999999999").status_code == 422
    assert api.get("/templates/it-pmo/7").json()["code"] == "template.not_found"
    duplicate = {
        "key": "D1",
        "name": "n",
        "template_id": "it-pmo",
        "sponsor_id": "sam",
        "manager_id": "mgr",
        "budget": "1",
    }
    assert api.post("/projects", duplicate).status_code == 201
    conflict = api.post("/projects", duplicate)
    assert conflict.status_code == 409 and conflict.json()["code"] == "project.exists"
    relative = api.post("/projects/D1/documents", write_document(Path("/tmp"), "business-case") | {"path": "a.md"})
    assert relative.status_code == 422 and relative.json()["errors"][0]["loc"] == "body.path"
    as_number = api.post("/projects/D1/actuals", {"kind": "cost", "amount": 12.5})
    assert as_number.status_code == 422 and "decimals" in as_number.json()["detail"]
    misspelt = api.get("/projects", stauts="open")
    assert misspelt.status_code == 422 and misspelt.json()["code"] == "input.unknown_parameter"
    off_scale = api.post("/projects/D1/risks", {"id": "R1", "title": "t", "probability": 9, "impact": 1})
    assert off_scale.status_code == 422 and off_scale.json()["code"] == "risk.scale"
    not_ready = api.post("/projects/D1/reviews", None)
    assert not_ready.status_code == 201 and not_ready.json()["round_id"] is None
    assert not_ready.json()["recommendation"] == "not_ready"


def test_lists_are_paged_with_caps(api: Api) -> None:
    for n in range(5):
        body = {"key": f"K{n}", "name": "n", "template_id": "cooper-5", "sponsor_id": "sam", "manager_id": "mgr"}
        assert api.post("/projects", body | {"budget": "10"}).status_code == 201
    page = api.get("/projects", limit=2, offset=2).json()
    assert [p["key"] for p in page["items"]] == ["K2", "K3"] and page["total"] == 5
    assert (page["limit"], page["offset"]) == (2, 2) and page["next_after"] == "K3"
    walked, after = [], None  # keyset paging: each page starts after the previous page's last key
    while True:
        keyed = api.get("/projects", limit=2, **({} if after is None else {"after": after})).json()
        walked.append([p["key"] for p in keyed["items"]])
        assert keyed["total"] == 5, keyed
        if (after := keyed["next_after"]) is None:
            break
    assert walked == [["K0", "K1"], ["K2", "K3"], ["K4"]]
    assert [p["key"] for p in api.get("/projects", after="K1", status="active").json()["items"]] == ["K2", "K3", "K4"]
    assert api.get("/projects", after="K4").json() | {"total": None} == {
        "items": [],
        "total": None,
        "limit": 50,
        "offset": 0,
        "next_after": None,
    }
    too_long = api.get("/projects", after="K" * 65)
    assert too_long.status_code == 422 and [e["loc"] for e in too_long.json()["errors"]] == ["query.after"]
    assert api.get("/projects", template="it-pmo").json()["total"] == 0
    assert api.get("/projects", stage="discovery", status="active").json()["total"] == 5
    assert api.get("/projects", limit=0).status_code == 422
    assert api.get("/projects", limit=201).status_code == 422
    assert api.get("/projects", offset=-1).status_code == 422
    twice = api.get("/rounds", person=["sam", "pam"], limit=[1, 2])  # a list where the API takes one value
    assert twice.status_code == 422 and twice.json()["code"] == "input.invalid"
    assert [(e["loc"], e["msg"]) for e in twice.json()["errors"]] == [
        ("query.limit", "given 2 times; give it once"),
        ("query.person", "given 2 times; give it once"),
    ]
    templates = api.get("/templates").json()
    assert {(i["id"], i["version"]) for i in templates["items"]} == {
        ("it-pmo", 1),
        ("cooper-5", 1),
        ("it-pmo", 2),
        ("cooper-5", 2),
    }
    detail = api.get("/templates/it-pmo/1").json()
    assert detail["content"]["id"] == "it-pmo" and "ready-for-planning" in detail["gates"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/lessons", "project"),
        ("/conditions", "project"),
        ("/rounds", "project"),
        ("/exceptions", "project"),
        ("/rounds", "person"),
        ("/delegations", "person"),
        ("/lessons/due", "owner"),
        ("/lessons", "template"),
        ("/projects", "template"),
        ("/projects", "stage"),
        ("/projects/D1/evaluation", "gate"),
    ],
)
def test_a_filter_given_empty_is_refused_naming_it(api: Api, path: str, name: str) -> None:
    """``project=`` is not "no filter" nor a key that matches nothing (an empty page read as "none"): a filter is
    an identifier or left out, and the answer says which parameter was wrong."""
    body = {"key": "D1", "name": "n", "template_id": "cooper-5", "sponsor_id": "sam", "manager_id": "mgr"}
    assert api.post("/projects", body | {"budget": "10"}).status_code == 201
    assert api.get(path).status_code == 200
    empty = api.get(path, **{name: ""})
    assert empty.status_code == 422 and [e["loc"] for e in empty.json()["errors"]] == [f"query.{name}"]
    assert api.get(path, **{name: "x" * 65}).status_code == 422


def test_risks_baseline_and_status_reports(api: Api) -> None:
    body = {
        "key": "E1",
        "name": "n",
        "template_id": "it-pmo",
        "sponsor_id": "sam",
        "manager_id": "mgr",
        "budget": "1000",
    }
    assert api.post("/projects", body).status_code == 201
    for risk_id, p, i in (("R1", 2, 2), ("R2", 5, 4), ("R3", 3, 3)):
        made = api.post("/projects/E1/risks", {"id": risk_id, "title": risk_id, "probability": p, "impact": i})
        assert made.status_code == 201 and made.json()["score"] == p * i
    assert [r["id"] for r in api.get("/projects/E1/risks").json()["items"]] == ["R2", "R3", "R1"]
    baseline = {
        "bac": "1000",
        "contingency": "100",
        "periods": [{"period_end": "2026-12-31", "planned_value": "400"}],
        "stage_budgets": [{"stage_id": "initiating", "amount": "200"}],
    }
    put = api.client.put("/api/v1/projects/E1/baseline", json=baseline, headers=api.headers("pmo"))
    assert put.status_code == 200, put.text
    assert put.json() == {"bac": "1000", "contingency": "100", "contingency_used": None}
    over = baseline | {"periods": [{"period_end": "2026-12-31", "planned_value": "5000"}]}
    refused = api.client.put("/api/v1/projects/E1/baseline", json=over, headers=api.headers("pmo"))
    assert refused.status_code == 422 and refused.json()["code"] == "baseline.pv_over_bac"
    report = api.post("/projects/E1/actuals", {"kind": "status", "as_of": "2026-11-30", "earned_value": "300"})
    assert report.status_code == 201 and report.json() == {
        "kind": "status",
        "as_of": "2026-11-30",
        "actual_cost_to_date": None,
    }
    wrong_kind = api.post("/projects/E1/actuals", {"kind": "refund", "amount": "1"})
    assert wrong_kind.status_code == 422


def test_tokens_are_stored_hashed_and_used_times_recorded(api: Api) -> None:
    assert api.get("/projects", who="viewer").status_code == 200
    engine = make_engine(api.url)
    try:
        with make_session_factory(engine)() as session:
            stored = list(session.scalars(select(t.ApiToken.token_hash)))
            assert api.tokens["viewer"] not in stored and token_hash(api.tokens["viewer"]) in stored
            record = find_token(session, token_hash(api.tokens["viewer"]))
            assert record is not None and record.last_used_at is not None and record.person_id == "vic"
    finally:
        engine.dispose()


def test_token_commands_print_the_secret_once_and_list_none(sqlite_url: str) -> None:
    seed(sqlite_url)
    runner = CliRunner()
    made = runner.invoke(token_cli.app, ["create", "fin", "--role", "approver", "--db", sqlite_url, "--json"])
    assert made.exit_code == 0, made.output
    doc = json.loads(made.stdout)
    assert doc["token"].startswith("pgt_") and doc["role"] == "approver"
    listed = runner.invoke(token_cli.app, ["list", "--db", sqlite_url, "--json"])
    assert listed.exit_code == 0 and doc["token"] not in listed.stdout
    assert doc["token"][4:] not in listed.stdout
    mine = [r for r in json.loads(listed.stdout) if r["id"] == doc["id"]]
    assert mine and mine[0]["person_id"] == "fin" and mine[0]["revoked_at"] is None
    revoked = runner.invoke(token_cli.app, ["revoke", doc["id"], "--db", sqlite_url])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    twice = runner.invoke(token_cli.app, ["revoke", doc["id"], "--db", sqlite_url])
    assert twice.exit_code != 0 and "already revoked" in str(twice.exception)
    bad_role = runner.invoke(token_cli.app, ["create", "fin", "--role", "admin", "--db", sqlite_url])
    assert "viewer, approver, pmo" in str(bad_role.exception)
    nobody = runner.invoke(token_cli.app, ["create", "nobody", "--role", "viewer", "--db", sqlite_url])
    assert "unknown person" in str(nobody.exception)


def test_reads_answer_while_another_process_holds_the_sqlite_write_lock(sqlite_url: str, tmp_path: Path) -> None:
    tokens = seed(sqlite_url)
    app = create_app(Settings(database_url=sqlite_url, home=tmp_path / "home"))
    with TestClient(app) as client:
        api = Api(client=client, url=sqlite_url, tokens=tokens)
        assert api.get("/projects").status_code == 200  # records the token's use: the throttled write
        writer = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")  # an import in another process
            for path in ("/projects", "/templates", "/rounds", "/audit/verify", "/audit/head"):
                answer = api.get(path)
                assert answer.status_code == 200, (path, answer.text)
        finally:
            writer.rollback()
            writer.close()


def _refusals(api: Api) -> int:
    return api.audit().count("security.refused")


def test_cancel_revoke_and_disable_are_checked_by_the_use_cases(api: Api, tmp_path: Path) -> None:
    round_id = ready_project(api, "C1", tmp_path)["round_id"]
    before = _refusals(api)
    refused = api.post(f"/rounds/{round_id}/cancel", {"reason": "wrong gate"}, who="sponsor")
    assert refused.status_code == 403 and refused.json()["code"] == "auth.role", refused.text
    assert "pmo_admin" in refused.json()["detail"] and _refusals(api) == before + 1
    cancelled = api.post(f"/rounds/{round_id}/cancel", {"reason": "the plan was withdrawn"}, who="pmo")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text

    grant = {"principal_id": "sam", "delegate_id": "fin", "valid_from": "2026-01-01", "valid_to": "2026-12-31"}
    for_someone_else = api.post("/delegations", grant, who="outsider")  # ann may not give away sam's seats
    assert for_someone_else.status_code == 403 and _refusals(api) == before + 2, for_someone_else.text
    to_self = api.post("/delegations", grant | {"delegate_id": "sam"}, who="sponsor")
    assert to_self.status_code == 409 and "themselves" in to_self.json()["detail"], to_self.text
    granted = api.post("/delegations", grant, who="sponsor")
    assert granted.status_code == 201 and granted.json()["delegate_id"] == "fin", granted.text
    delegation = granted.json()["id"]
    assert [d["id"] for d in api.get("/delegations", person="sam").json()["items"]] == [delegation]
    before += 1
    not_yours = api.client.delete(f"/api/v1/delegations/{delegation}", headers=api.headers("outsider"))
    assert not_yours.status_code == 403 and _refusals(api) == before + 2
    revoked = api.client.delete(f"/api/v1/delegations/{delegation}", headers=api.headers("sponsor"))
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True

    assert api.post("/people/ann/disable", {"reason": "left"}, who="sponsor").status_code == 403
    patched = api.client.patch("/api/v1/people/ann", json={"name": "Ann"}, headers=api.headers("outsider"))
    assert patched.status_code == 403 and _refusals(api) == before + 4
    assert api.get("/projects", who="outsider").status_code == 200
    disabled = api.post("/people/ann/disable", {"reason": "left the company"}, who="pmo")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    gone = api.get("/projects", who="outsider")
    assert gone.status_code == 401 and gone.json()["code"] == "auth.disabled"
    assert _refusals(api) == before + 5  # the disabled person's attempt is on record too
    assert api.get("/people/ann").json()["disabled"] is True


def test_the_sponsor_signs_a_deliverable_in_their_own_name(api: Api, tmp_path: Path) -> None:
    body = {"key": "S1", "name": "n", "template_id": "it-pmo", "sponsor_id": "sam", "manager_id": "mgr"}
    assert api.post("/projects", body | {"budget": "10"}).status_code == 201
    filed = api.post("/projects/S1/documents", write_document(tmp_path, "business-case") | {"approved_by": None})
    assert filed.status_code == 201 and filed.json()["status"] == "registered", filed.text
    before = _refusals(api)
    outsider = api.post("/projects/S1/documents/business-case/approval", None, who="outsider")
    assert outsider.status_code == 403 and _refusals(api) == before + 1, outsider.text
    signed = api.post("/projects/S1/documents/business-case/approval", None, who="sponsor")
    assert signed.status_code == 201, signed.text
    assert (signed.json()["approved_by"], signed.json()["version"]) == ("sam", 2)
    again = api.post("/projects/S1/documents/business-case/approval", None, who="sponsor")
    assert again.status_code == 200 and again.json()["version"] == 2
    assert api.audit().count("document.approved") == 1


def test_contact_details_are_the_persons_own_and_the_admins(api: Api) -> None:
    seen_by_viewer = api.get("/people/sam").json()  # vic, a viewer, looks at sam
    assert seen_by_viewer["name"] == "Sam" and seen_by_viewer["roles"] == ["gatekeeper"]
    assert (seen_by_viewer["email"], seen_by_viewer["login"]) == (None, None)
    assert api.get("/people/sam", who="sponsor").json()["email"] == "sam@example.com"  # sam himself
    assert api.get("/people/vic").json()["email"] == "vic@example.com"  # a viewer token still reads its own
    admin_view = api.get("/people/pam", who="pmo").json()
    assert admin_view["email"] == "pam@example.com" and admin_view["login"] is not None
    assert api.get("/people/pam", who="outsider").json()["login"] is None

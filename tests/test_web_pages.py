"""The web pages against a real SQLite file: approval links (GET shows, POST votes once), dashboard, project.

The approval URL always comes from a real notification: the outbox is dispatched through Apprise to a
local HTTP receiver and the link is read from the message body, as a sponsor's mail client would see it.
The last test drives the same flow in headless Chromium against the app served by uvicorn.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from phasegate.flows.runtime import Runtime, approval_links, link_signer
from phasegate.gates.vocabulary.commands import AddPerson, CreateProject, RegisterDocument, RequestReview
from phasegate.gates.vocabulary.enums import ProjectStatus, RoundStatus
from phasegate.gates.vocabulary.evidence import RiskEvidence
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.gates.vocabulary.snapshots import BaselineRecord, EvmReportRecord
from phasegate.models import tables as t
from phasegate.models.audit_store import verify_audit
from phasegate.models.settings import Settings
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.notifications.dispatch import dispatch_due
from phasegate.notifications.links import approval_token
from phasegate.usecases import approvals, people, services
from phasegate.web import approval, pages, store
from phasegate.web.app import create_app
from tests import actors
from tests.browser import artifact, chromium
from tests.receivers import HttpReceiver, free_port
from tests.signin import PASSWORD, give_password, sign_in

SECRET = "web-test-secret-0123456789abcdef-0123456789"
LINK = re.compile(r"https?://[^\s\"'<>)\]]+/approve/[A-Za-z0-9_.\-]+")
KEY = "WEB1"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class World:
    settings: Settings
    rt: Runtime
    receiver: HttpReceiver
    docs: Path
    round_id: Any = None

    def uow(self) -> Any:
        return self.rt.uow()

    def dispatch(self) -> None:
        dispatch_due(
            self.rt.sessions,
            max_attempts=1,
            send_timeout_seconds=10,
            lease_seconds=30,
            links=link_signer(self.settings),
        )

    def links(self) -> list[str]:
        found: list[str] = []
        for request in self.receiver.requests:
            found += LINK.findall(request.body.decode("utf-8", "replace"))
        return list(dict.fromkeys(found))

    def audit(self, action: str) -> list[t.AuditEntry]:
        with self.rt.sessions() as session:
            return list(session.scalars(select(t.AuditEntry).where(t.AuditEntry.action == action)))

    def count(self, table: Any) -> int:
        with self.rt.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _write_doc(folder: Path, name: str, sections: tuple[str, ...]) -> tuple[Path, str]:
    path = folder / f"{name}.md"
    path.write_text("\n\n".join(f"# {s}\n\nText." for s in sections) + f"\n\n{time.monotonic_ns()}\n", "utf-8")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _register(w: World, deliverable: str, version_note: str = "") -> None:
    tpl = services.get_template("it-pmo", 1, uow=w.uow).template
    standard = tpl.deliverable(deliverable)
    path, digest = _write_doc(w.docs, deliverable + version_note, standard.required_sections)
    stored = w.rt.document_store().put(path)  # the gate reads phasegate's copy, as after `doc add`
    services.register_document(
        RegisterDocument(
            project_key=KEY,
            deliverable_id=deliverable,
            path=str(path),
            sha256=digest,
            size=path.stat().st_size,
            format="md",
            headings=standard.required_sections,
            approved_by={"sponsor": "sam", "pmo": "pam"}[standard.approver_role],
            store_key=stored.key,
        ),
        uow=w.uow,
        now=_now(),
        actor=SYSTEM_ACTOR,
    )


def build_world(url: str, public_url: str, tmp_path: Path, receiver: HttpReceiver) -> World:
    settings = Settings(database_url=url, public_url=public_url, secret_key=SecretStr(SECRET), home=tmp_path / "home")
    app = create_app(settings)
    rt: Runtime = app.state.runtime
    w = World(settings=settings, rt=rt, receiver=receiver, docs=tmp_path / "docs")
    w.docs.mkdir()
    for source, template in shipped_templates():
        services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source=source,
            uow=w.uow,
            now=_now(),
            actor=SYSTEM_ACTOR,
        )
    for pid, name, locale in (("sam", "Sam Sponsor", "en"), ("mgr", "Mia Manager", "en"), ("pam", "王芳", "zh-CN")):
        services.add_person(
            AddPerson(
                id=pid,
                name=name,
                email=f"{pid}@example.com",
                locale=locale,  # type: ignore[arg-type]
                notify_urls=(receiver.apprise_url(f"/{pid}"),),
                roles=frozenset({OrgRole.MANAGER if pid == "mgr" else OrgRole.GATEKEEPER}),
            ),
            uow=w.uow,
            now=_now(),
            actor=SYSTEM_ACTOR,
        )
    services.create_project(
        CreateProject(
            key=KEY,
            template_id="it-pmo",
            name="Web portal",
            sponsor_id="sam",
            manager_id="mgr",
            budget=Decimal(100000),
        ),
        uow=w.uow,
        now=_now(),
        actor=SYSTEM_ACTOR,
    )
    services.assign_role(KEY, "pmo", "pam", uow=w.uow, now=_now(), actor=SYSTEM_ACTOR)
    today = _now().date()
    services.set_baseline(
        KEY,
        BaselineRecord(bac=Decimal(100000)),
        periods=[(today - timedelta(days=90 - 30 * i), Decimal(10000 * (i + 1))) for i in range(3)],
        stage_budgets={},
        uow=w.uow,
        now=_now(),
        actor=SYSTEM_ACTOR,
    )
    services.record_status(
        [
            EvmReportRecord(
                project_key=KEY, as_of=today - timedelta(days=d), earned_value=Decimal(ev), actual_cost=Decimal(ac)
            )
            for d, ev, ac in ((60, 9000, 9500), (30, 18000, 21000), (1, 26000, 31000))
        ],
        uow=w.uow,
        now=_now(),
        actor=SYSTEM_ACTOR,
    )
    services.record_risks(
        KEY,
        [RiskEvidence(id="R1", title="Vendor delay", owner="mgr", probability=4, impact=4, response="mitigate")],
        uow=w.uow,
        now=_now(),
        actor=SYSTEM_ACTOR,
    )
    tpl = services.get_template("it-pmo", 1, uow=w.uow).template
    for deliverable in tpl.gates[0].deliverables:
        _register(w, deliverable)
    review = services.start_review(
        RequestReview(project_key=KEY, requested_by="mgr"),
        uow=w.uow,
        now=_now(),
        probe=rt.probe,
        links=approval_links(settings),
        actor=actors.admin("mgr"),
    )
    assert review.round_id is not None, review.evaluation.reasons
    w.round_id = review.round_id
    w.dispatch()
    return w


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path, receiver: HttpReceiver) -> Iterator[World]:
    w = build_world(sqlite_url, "http://testserver", tmp_path, receiver)
    yield w
    w.rt.engine.dispose()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings)) as c:
        yield c


def _sign_in(world: World, client: TestClient, person_id: str = "pam") -> None:
    """Every page but the approval link needs a sign-in (tests/test_web_signin.py covers it)."""
    give_password(world.rt.sessions, person_id)
    assert sign_in(client, person_id).status_code == 303


def _path(link: str) -> str:
    return "/approve/" + link.rsplit("/approve/", 1)[1]


def _sponsor_link(w: World) -> str:
    links = w.links()
    assert len(links) == 1, links
    return _path(links[0])


def _form(html: str) -> dict[str, str]:
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    seen = re.search(r'name="evidence_hash" value="([0-9a-f]{64})"', html)
    assert token and seen, "the page has no vote form"
    return {"csrf_token": token.group(1), "evidence_hash": seen.group(1)}


# ------------------------------------------------------------------------------------------------ approval page
def test_opening_the_link_never_waits_for_a_writer(world: World, client: TestClient) -> None:
    """The page reads in one read-only transaction (``models.one_read``): a writer holding SQLite's write lock
    (a vote, an import, the monitor) does not hold up an approver opening their link. (Before, its unit of work
    began IMMEDIATE: the page waited out the 30 s busy timeout and answered 500.)"""
    path = _sponsor_link(world)
    database = world.settings.resolved_database_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the write lock, held until the page has answered
        page = client.get(path)
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert page.status_code == 200 and 'name="decision"' in page.text


def test_opening_the_link_shows_the_packet_and_changes_nothing(world: World, client: TestClient) -> None:
    path = _sponsor_link(world)
    audit_before, votes_before = world.count(t.AuditEntry), world.count(t.Vote)
    page = client.get(path)
    assert page.status_code == 200
    current = services.get_round(world.round_id, uow=world.uow)
    html = page.text
    assert current.evidence_hash in html
    for code in ("doc.required_present", "doc.approved_by_role", "budget.actuals_within_budget"):
        assert code in html
    with world.rt.sessions() as session:
        doc_hashes = list(session.scalars(select(t.Document.sha256).where(t.Document.project_key == KEY)))
    assert doc_hashes and all(h in html for h in doc_hashes)
    assert "<svg" in html and "polyline" in html  # the PV/EV/AC chart
    assert "Vendor delay" in html and "Sam Sponsor" in html
    assert 'name="decision" value="conditional_go"' in html and 'value="recuse"' in html
    assert "phasegate_csrf" in page.headers.get("set-cookie", "")
    assert (world.count(t.AuditEntry), world.count(t.Vote)) == (audit_before, votes_before)


def test_a_vote_through_the_link_is_recorded_once_and_the_link_then_shows_it(world: World, client: TestClient) -> None:
    path = _sponsor_link(world)
    fields = _form(client.get(path).text)
    voted = client.post(
        path, data=fields | {"decision": "go", "reason": "Business case is sound"}, follow_redirects=False
    )
    assert voted.status_code == 303 and voted.headers["location"].endswith("?voted=1")
    current = services.get_round(world.round_id, uow=world.uow)
    assert current.status is RoundStatus.RESOLVED and current.decision and current.decision.value == "go"
    (vote,) = current.live_votes
    assert vote.voter_id == "sam" and vote.reason == "Business case is sound"
    assert vote.idempotency_key and vote.idempotency_key.startswith("approval-link:")
    project = services.project_view(KEY, uow=world.uow).project
    assert project.stage_id == "planning" and project.status is ProjectStatus.ACTIVE  # applied in the background
    result = client.get(voted.headers["location"])
    assert result.status_code == 200 and "Your vote has been recorded." in result.text
    again = client.get(path)
    assert again.status_code == 200 and "already been used" in again.text
    assert 'name="decision"' not in again.text and "Business case is sound" in again.text
    replay = client.post(path, data=fields | {"decision": "kill", "reason": "changed my mind"})
    assert replay.status_code == 409
    refused = world.audit(approval.REFUSED)
    assert [e.payload["code"] for e in refused] == [approval.REPLAYED]
    assert world.count(t.Vote) == 1
    with world.rt.sessions() as session:
        assert verify_audit(session, key=world.rt.audit_key) is None
    decided = [r for r in world.receiver.requests if "decision" in r.body.decode("utf-8", "replace").lower()]
    assert decided, "the decision notification was dispatched after the vote"


def test_a_disabled_approvers_link_no_longer_votes_and_the_attempt_is_audited(world: World, client: TestClient) -> None:
    path = _sponsor_link(world)
    fields = _form(client.get(path).text)
    people.disable_person("sam", actor=SYSTEM_ACTOR, reason="left the company", uow=world.uow, now=_now())
    refused = client.post(path, data=fields | {"decision": "go"}, follow_redirects=False)
    assert refused.status_code == 403 and "disabled" in refused.text
    assert world.count(t.Vote) == 0
    (entry,) = world.audit("security.refused")
    assert (entry.actor, entry.payload["code"], entry.payload["auth_method"]) == (
        "sam",
        "auth.disabled",
        "approval_link",
    )


def test_a_refusal_reads_in_the_approvers_language_with_the_exact_line_as_a_detail(
    world: World, client: TestClient
) -> None:
    path = _sponsor_link(world)
    fields = _form(client.get(path).text)
    approvals.cancel_round(world.round_id, actor=SYSTEM_ACTOR, reason="plan withdrawn", uow=world.uow, now=_now())
    zh = client.post(path, data=fields | {"decision": "go"}, headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 409
    assert "该审批轮次已结束" in zh.text and "<details" in zh.text and "votes are closed" in zh.text
    en = client.post(path, data=fields | {"decision": "go"}, headers={"Accept-Language": "en"})
    assert en.status_code == 409 and "votes are closed" in en.text and "<details" not in en.text
    assert world.count(t.Vote) == 0


def test_forged_altered_and_expired_links_get_4xx_pages_and_audit_entries(world: World, client: TestClient) -> None:
    path = _sponsor_link(world)
    token = path.rsplit("/", 1)[1]
    altered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    current = services.get_round(world.round_id, uow=world.uow)
    expired = approval_token(
        SECRET,
        round_id=current.id,
        approver_id="sam",
        evidence_hash=current.evidence_hash,
        expires_at=_now() - timedelta(minutes=1),
    )
    other_key = approval_token(
        "another-secret-entirely-0123456789abcdef",
        round_id=current.id,
        approver_id="sam",
        evidence_hash=current.evidence_hash,
        expires_at=_now() + timedelta(days=1),
    )
    for bad, status in ((altered, 403), ("not-a-token", 403), (expired, 410), (other_key, 403)):
        for method in ("get", "post"):
            response = getattr(client, method)(f"/approve/{bad}")
            assert response.status_code == status, (bad, method)
            assert KEY not in response.text and str(current.id) not in response.text
            assert "Web portal" not in response.text
    codes = [e.payload["code"] for e in world.audit(approval.REFUSED)]
    assert codes.count("approval_link.forged") == 6 and codes.count("approval_link.expired") == 2
    assert all(
        str(current.id) not in str(e.payload) and e.entity == "approval_link" for e in world.audit(approval.REFUSED)
    )
    assert world.count(t.Vote) == 0


def test_a_form_without_its_csrf_token_is_refused(world: World, client: TestClient) -> None:
    path = _sponsor_link(world)
    fields = _form(client.get(path).text)
    missing = client.post(path, data={"decision": "go", "evidence_hash": fields["evidence_hash"]})
    assert missing.status_code == 403
    client.cookies.clear()
    other_browser = client.post(path, data=fields | {"decision": "go"})
    assert other_browser.status_code == 403
    assert world.count(t.Vote) == 0 and not store.link_used(world.rt.sessions, store.token_hash(path.split("/")[-1]))


def test_a_reason_is_required_except_for_go_and_the_form_comes_back(world: World, client: TestClient) -> None:
    path = _sponsor_link(world)
    fields = _form(client.get(path).text)
    response = client.post(path, data=fields | {"decision": "recycle", "reason": "  "})
    assert response.status_code == 422
    assert "reason is required" in response.text
    assert re.search(r'value="recycle" required\s*checked', response.text), "the choice made is kept"
    assert 'name="decision"' in response.text  # the form is shown again
    conditional = client.post(
        path,
        data=fields
        | {
            "decision": "conditional_go",
            "reason": "ok with conditions",
            "condition_text": ["Security review"],
            "condition_owner": ["mgr"],
            "condition_due": [""],
            "condition_verify": ["verifier:pam"],
        },
    )
    assert conditional.status_code == 422 and "condition 1" in conditional.text
    assert world.count(t.Vote) == 0


def test_a_conditional_go_records_its_conditions(world: World, client: TestClient) -> None:
    path = _sponsor_link(world)
    fields = _form(client.get(path).text)
    due = (date.today() + timedelta(days=20)).isoformat()
    response = client.post(
        path,
        data=fields
        | {
            "decision": "conditional_go",
            "reason": "Security review first",
            "condition_text": ["Security review", ""],
            "condition_owner": ["mgr", ""],
            "condition_due": [due, ""],
            "condition_verify": ["verifier:pam", ""],
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    (condition,) = approvals.list_conditions(uow=world.uow, project_key=KEY)
    assert (condition.text, condition.owner_id, condition.due_on.isoformat()) == ("Security review", "mgr", due)
    _sign_in(world, client)
    assert "Security review" in client.get(f"/projects/{KEY}").text


def test_a_link_for_changed_evidence_never_votes_and_a_fresh_link_is_sent(world: World, client: TestClient) -> None:
    path = _sponsor_link(world)
    fields = _form(client.get(path).text)
    _register(world, "business-case", "-v2")  # new evidence after the link was sent
    response = client.post(path, data=fields | {"decision": "go"})
    assert response.status_code == 409 and "changed" in response.text
    assert world.count(t.Vote) == 0
    current = services.get_round(world.round_id, uow=world.uow)
    assert current.evidence_hash != fields["evidence_hash"]
    assert client.get(path).status_code == 409  # the old link now only says the packet changed
    world.receiver.wait_for(2)
    fresh = [link for link in world.links() if _path(link) != path]
    assert fresh, "a fresh link was dispatched"
    page = client.get(_path(fresh[-1]))
    assert page.status_code == 200 and current.evidence_hash in page.text


def test_a_double_submit_records_one_vote(world: World) -> None:
    path = _sponsor_link(world)
    token = path.rsplit("/", 1)[1]
    link = approval.open_link(world.rt, token, method="POST", now=_now())
    cmd = approval.command(link, {"decision": "go", "reason": "", "evidence_hash": link.current.evidence_hash})
    first = approval.cast(world.rt, link, cmd)
    second = approval.cast(world.rt, link, cmd)
    assert not first.replayed and second.replayed
    assert world.count(t.Vote) == 1 and world.count(t.UsedApprovalLink) == 1


# ------------------------------------------------------------------------------------------------ dashboard
def test_dashboard_and_project_page_in_both_languages(world: World, client: TestClient) -> None:
    _sign_in(world, client)
    home = client.get("/")
    assert home.status_code == 200
    html = home.text
    assert "Pending approvals" in html and KEY in html and "ready-for-planning" in html
    assert "rag-red" in html  # CPI 26000/31000 < 0.85
    assert "rag-amber" in html  # SPI 26000/30000 (PV from the time-phased baseline) in 0.85..0.95
    zh = client.get("/?lang=zh-CN")
    assert zh.status_code == 200 and "待审批" in zh.text and "启动" in zh.text
    assert "phasegate_lang=zh-CN" in zh.headers["set-cookie"]
    assert "待审批" in client.get("/").text  # remembered
    client.get("/?lang=en")
    project = client.get(f"/projects/{KEY}")
    assert project.status_code == 200
    assert "Audit trail" in project.text and "round.opened" in project.text and "doc.required_present" in project.text
    assert client.get("/projects/NOPE").status_code == 404
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/no/such/page").status_code == 404


def test_the_dashboard_keeps_its_pending_rounds_per_state_and_drops_a_round_closed_elsewhere(
    world: World, client: TestClient
) -> None:
    """The pending rounds, open conditions and recent decisions are kept per committed state (issue #17's
    dashboard p99), never beyond it: a round cancelled by another connection leaves the next page."""
    _sign_in(world, client)
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    first = client.get("/?lang=en").text
    assert 'class="pending"' in first and f'href="/projects/{KEY}"' in first.split('class="pending"')[1]
    version = rt.change_stamp()
    kept, _ = rt.memo.kept(("dashboard_pending", version), version=version)
    assert kept, "the dashboard keeps no pending rounds: this test would prove nothing"
    approvals.cancel_round(world.round_id, actor=SYSTEM_ACTOR, reason="plan withdrawn", uow=world.uow, now=_now())
    after = client.get("/?lang=en").text
    assert 'class="pending"' not in after


def test_the_kept_dashboard_body_follows_the_clock_as_well_as_the_state(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's body is kept per committed state (``web.page_body``), yet a pending round's age and whether
    it is overdue follow the clock: hours later the same state shows the new age, never the kept one."""
    _sign_in(world, client)
    rt = client.app.state.runtime  # type: ignore[attr-defined]

    def age_cell(html: str) -> str:
        row = html.split('class="pending"')[1].split("</tr>")[1]  # the header row, then the round's
        return re.findall(r'<td class="num">([^<]*)</td>', row)[0]

    first = client.get("/?lang=en").text
    assert age_cell(first) == "0h" and len(rt.bodies) == 1, "nothing kept: the test would prove nothing"
    assert client.get("/?lang=en").text == first and len(rt.bodies) == 1
    later = _now() + timedelta(hours=3, minutes=1)
    monkeypatch.setattr(pages, "utc_now", lambda: later)
    assert age_cell(client.get("/?lang=en").text) == "3h"


def test_pages_answer_from_the_last_commit_while_a_writer_holds_the_lock(world: World, client: TestClient) -> None:
    _sign_in(world, client)
    writer = sqlite3.connect(make_url(world.settings.resolved_database_url).database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # an import in another process holds SQLite's write lock
        writer.execute("update projects set name = 'Renamed mid-import' where key = ?", (KEY,))
        for path in ("/", f"/projects/{KEY}"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert KEY in page.text and "Renamed mid-import" not in page.text, path
    finally:
        writer.rollback()
        writer.close()


# ------------------------------------------------------------------------------------------------ browser
@pytest.fixture
def served(sqlite_url: str, tmp_path: Path, receiver: HttpReceiver) -> Iterator[tuple[World, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    w = build_world(sqlite_url, base, tmp_path, receiver)
    server = uvicorn.Server(uvicorn.Config(create_app(w.settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield w, base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        w.rt.engine.dispose()


def test_sponsor_votes_in_chromium_from_the_link_in_their_notification(served: tuple[World, str]) -> None:
    w, base = served
    (link,) = w.links()
    assert link.startswith(base + "/approve/")
    current = services.get_round(w.round_id, uow=w.uow)
    give_password(w.rt.sessions, "sam")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
        page.goto(base + "/")  # the dashboard needs a sign-in: the sign-in form comes first
        page.fill("#person_id", "sam")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("#signin-form button[type=submit]")
        waiting = page.reload()
        assert waiting is not None and waiting.status == 200 and page.locator("table.pending").get_by_text(KEY).count()
        page.screenshot(path=str(artifact("dashboard-pending.png")), full_page=True)
        response = page.goto(link)
        assert response is not None and response.status == 200
        assert page.locator("#evidence-hash").inner_text() == current.evidence_hash
        assert page.locator("table.criteria").get_by_text("doc.required_present").count() == 1
        assert page.locator("table.documents code.hash").count() >= 3
        assert page.locator("svg.chart polyline").count() == 3
        page.screenshot(path=str(artifact("approval-page.png")), full_page=True)
        form_token = page.input_value('input[name="csrf_token"]')
        page.check('input[name="decision"][value="go"]')
        page.fill("#reason", "Charter and business case approved")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.locator("#vote-result").inner_text().startswith("Your vote has been recorded.")
        page.screenshot(path=str(artifact("approval-result.png")), full_page=True)
        again = page.goto(link)
        assert again is not None and again.status == 200
        assert "already been used" in page.locator("#vote-result").inner_text()
        assert page.locator('input[name="decision"]').count() == 0
        assert "Charter and business case approved" in page.content()
        replay = page.request.post(
            link,
            form={
                "decision": "go",
                "reason": "again",
                "csrf_token": form_token,
                "evidence_hash": current.evidence_hash,
            },
        )
        assert replay.status == 409 and "already been used" in replay.text()
        dashboard = page.goto(base + "/")
        assert dashboard is not None and dashboard.status == 200
        page.screenshot(path=str(artifact("dashboard.png")), full_page=True)
        page.goto(f"{base}/projects/{KEY}?lang=zh-CN")
        assert "审计记录" in page.content()
        page.screenshot(path=str(artifact("project-zh-CN.png")), full_page=True)
        page.goto(base + "/")
        assert "待审批" in page.content()  # the language switch is remembered
        page.screenshot(path=str(artifact("dashboard-zh-CN.png")), full_page=True)
    project = services.project_view(KEY, uow=w.uow).project
    assert project.stage_id == "planning"
    assert [v.voter_id for v in services.get_round(w.round_id, uow=w.uow).live_votes] == ["sam"]

"""Prioritisation and maturity through the API and the web pages (signed in), on the hand-computed data of
tests/test_prioritisation.py and tests/test_maturity.py, both pages in both languages in Chromium, and the
remote CLI through a served team matching the local commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.settings import Settings
from phasegate.models.tokens import create_token
from phasegate.web.app import create_app
from tests import test_maturity, test_prioritisation
from tests.browser import artifact, chromium
from tests.signin import PASSWORD, give_password, sign_in
from tests.test_remote_cli import Team, team  # noqa: F401  (the served team fixture)
from tests.test_web_reports import served  # noqa: F401  (the uvicorn fixture, over this module's settings)


def prepared(url: str, home: Path, seed: object) -> tuple[Settings, str]:
    """The database seeded; sam (a gatekeeper) with a password and an approver token. Returns settings, token."""
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        seed(sessions)  # type: ignore[operator]
        with sessions() as s, s.begin():  # before the password, which keys the audit chain
            _, token = create_token(s, "sam", "approver", datetime.now(UTC))
        give_password(sessions, "sam")
    finally:
        engine.dispose()
    return Settings(database_url=url, home=home, public_url="http://testserver"), token


def test_prioritisation_api_and_page(db_url: str, tmp_path: Path) -> None:
    settings, token = prepared(db_url, tmp_path / "home", test_prioritisation.seed)
    with TestClient(create_app(settings)) as client:
        bearer = {"Authorization": f"Bearer {token}"}
        answer = client.get("/api/v1/portfolio/prioritisation", params={"budget": "1000"}, headers=bearer)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        # A has no expected benefit here (the use-case test sets it): C and B fit 1000 exactly.
        assert [r["key"] for r in data["ranked"] if r["selected"]] == ["C", "B"]
        assert float(data["total_benefit"]) == 1100.0 and data["ranked"][-1]["reason"] == "no_benefit"
        bad = client.get("/api/v1/portfolio/prioritisation", params={"budget": "lots"}, headers=bearer)
        assert bad.status_code == 422 and "query.budget" in bad.text
        assert client.get("/prioritisation", follow_redirects=False).status_code == 303  # sign in first
        assert sign_in(client, "sam").status_code == 303
        assert "muted" in client.get("/prioritisation").text  # no budget yet: the form and a hint
        page = client.get("/prioritisation?budget=1000&lang=en").text
        assert 'id="prio-benefit">1,100<' in page and "no expected benefit recorded" in page
        zh = client.get("/prioritisation?budget=1000&lang=zh-CN").text
        assert "优先级排序" in zh and "未记录预期收益" in zh
        refused = client.get("/prioritisation?budget=-3")
        assert refused.status_code == 400 and "--budget" in refused.text


def test_maturity_api_and_page(db_url: str, tmp_path: Path) -> None:
    settings, token = prepared(db_url, tmp_path / "home", test_maturity.seed)
    with TestClient(create_app(settings)) as client:
        bearer = {"Authorization": f"Bearer {token}"}
        answer = client.get("/api/v1/reports/maturity", params={"quarter": "2026-Q3"}, headers=bearer)
        assert answer.status_code == 200, answer.text
        current = answer.json()["current"]
        assert current["quarter"] == "2026-Q3" and current["overall"] == 1
        levels = {d["id"]: d["level"] for d in current["dimensions"]}
        assert levels["exceptions_early"] == 5 and levels["decisions_in_sla"] is None
        bad = client.get("/api/v1/reports/maturity", params={"quarter": "2026-Q0"}, headers=bearer)
        assert bad.status_code == 422 and "query.quarter" in bad.text
        assert sign_in(client, "sam").status_code == 303
        page = client.get("/maturity?quarter=2026-Q3&lang=en").text
        assert 'id="overall-level">1<' in page and "1 of 4 projects in the portfolio (25%)" in page
        zh = client.get("/maturity?quarter=2026-Q3&lang=zh-CN").text
        assert "成熟度" in zh and "在册项目 4 个，其中 1 个达标（25%）" in zh and "季度趋势" in zh
        assert client.get("/maturity?quarter=soon").status_code == 400


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return prepared(sqlite_url, tmp_path / "home", test_maturity.seed)[0]


def test_maturity_page_in_chromium(served: str) -> None:  # noqa: F811
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
        page.goto(served + "/maturity?quarter=2026-Q3")
        page.fill("#person_id", "sam")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("#signin-form button[type=submit]")
        assert page.locator("#maturity tbody tr").count() == 8
        assert page.locator("#maturity-trend thead th").count() == 5
        page.screenshot(path=str(artifact("maturity-en.png")), full_page=True)
        page.goto(served + "/maturity?quarter=2026-Q3&lang=zh-CN")
        assert page.locator('tr[data-dimension="status_fresh"] td').first.inner_text() == "状态报告及时"
        page.screenshot(path=str(artifact("maturity-zh-CN.png")), full_page=True)
        page.goto(served + "/prioritisation?budget=1000&lang=zh-CN")
        # Five active projects here, none with an expected benefit: all ranked, none selected, each saying why.
        assert page.locator("#prioritisation tbody tr.left-out").count() == 5
        assert "未记录预期收益" in page.locator('#prioritisation tr[data-key="A"]').inner_text()
        page.screenshot(path=str(artifact("prioritisation-zh-CN.png")), full_page=True)


def test_remote_cli_matches_local(team: Team) -> None:  # noqa: F811
    pmo = team.laptop("pam")
    pmo.logged_in(team, "pmo")
    updated = pmo.run("project", "update", "P1", "--expected-benefit", "3000", "--reason", "business case").stdout
    assert "expected benefit 3000.00" in updated
    for args in (
        ("portfolio", "prioritise", "--budget", "2000", "--json"),
        ("portfolio", "prioritise", "--budget", "2,000"),
        ("report", "maturity", "--json"),
        ("report", "maturity", "--quarter", "2026-Q3"),
    ):
        assert pmo.run(*args).stdout == team.local(*args).stdout, args
    proposal = json.loads(pmo.run("portfolio", "prioritise", "--budget", "2000", "--json").stdout)
    # P1 needs its budget 1000 (no status report) and brings 3000; NPD has no expected benefit.
    assert proposal["selected"] == ["P1"] and [r["reason"] for r in proposal["ranked"]] == ["selected", "no_benefit"]
    for args in (("portfolio", "prioritise", "--budget", "lots"), ("report", "maturity", "--quarter", "Q3")):
        assert pmo.run(*args, expect=2).stderr == team.local(*args, expect=2).stderr, args
    refused = pmo.run("report", "gates", expect=2).stderr
    assert "report gates is not available through the server" in refused

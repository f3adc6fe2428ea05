"""The monitor's RAG per dimension, its recent history and adverse trend, and the open exceptions: on the project
page, in the dashboard's portfolio table and in the API's project payload, in English and Chinese, then in
Chromium (screenshots under test-artifacts/).

LATE runs the hand-computed plan of tests/test_monitor_time_risk.py with EV stuck at 100 (ES = 5 working days)
and is scanned on three evenings: AT 6, 7, 8 gives delays 20 x (AT / 5 - 1) = 4, 8, 12 working days against the
10-day time tolerance: green (40 %), amber (80 %), red (a breach: one time exception). The deviation grew in each
of the last two periods, so the trend is adverse. Cost is on plan (AC = EV), quality has no metrics (unknown),
the worst live risk is 4 x 4 = 16: 1 point beyond the appetite of 15, 25 % of 4 (green).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from phasegate.gates.vocabulary.commands import AddPerson
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.models.settings import Settings
from phasegate.models.tokens import create_token
from phasegate.usecases import services
from phasegate.web.app import create_app
from tests.browser import artifact, chromium
from tests.conftest import TEST_AUDIT_KEY
from tests.receivers import free_port
from tests.signin import PASSWORD, give_password, sign_in
from tests.test_monitor_time_risk import seeded


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> tuple[Settings, str]:
    env = seeded(sqlite_url)
    try:
        env.project("LATE")
        env.risks("LATE", ("R1", 4, 4, "open"))
        for day in (16, 17, 18):
            env.at = datetime(2026, 3, day, 18, 0, tzinfo=UTC)
            env.report("LATE", date(2026, 3, day), ev=100)
            env.scan("LATE")
        services.add_person(
            AddPerson(id="vic", name="Vic Viewer", email="vic@example.com", roles=frozenset({OrgRole.VIEWER})),
            uow=env.uow,
            now=env.now(),
            actor=SYSTEM_ACTOR,
        )
        give_password(env.sessions, "vic")
        with env.sessions() as session, session.begin():
            _, token = create_token(session, "vic", "viewer", env.now(), audit_key=TEST_AUDIT_KEY)
    finally:
        env.engine.dispose()
    return Settings(database_url=sqlite_url, home=tmp_path / "home", public_url="http://testserver"), token


@pytest.fixture
def client(world: tuple[Settings, str]) -> Iterator[TestClient]:
    with TestClient(create_app(world[0])) as c:
        yield c


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def test_project_page_dashboard_and_api_show_the_rag_and_open_exceptions(
    world: tuple[Settings, str], client: TestClient
) -> None:
    assert sign_in(client, "vic").status_code == 303
    page = client.get("/projects/LATE?lang=en").text
    time_row = _row(page, 'data-dimension="time"')
    assert (
        "rag-red" in time_row
        and "12.00" in time_row
        and "10.00" in time_row
        and "worse two periods running" in time_row
    )
    assert "rag-green" in _row(page, 'data-dimension="cost"') and "rag-unknown" in _row(
        page, 'data-dimension="quality"'
    )
    assert "rag-green" in _row(page, 'data-dimension="risk"') and "rag-red" in _row(page, 'data-dimension="overall"')
    history = page[page.index('class="rag-history"') :]
    history = history[: history.index("</table>")]
    assert [d in history for d in ("2026-03-16", "2026-03-17", "2026-03-18")] == [True, True, True]
    assert 'id="open-exceptions"' in page and "1 open exceptions" in page
    zh = client.get("/projects/LATE?lang=zh-CN").text
    assert "对照容差的红黄绿状态" in zh and "连续两期恶化" in zh and "最近几天" in zh and "1 项未关闭例外" in zh
    client.get("/?lang=en")
    dashboard = client.get("/").text
    row = _row(dashboard, 'data-key="LATE"')
    cells = row[row.index('data-dimension="time"') :]
    time_cell, cost_cell = cells[: cells.index('data-dimension="cost"')], cells[cells.index('data-dimension="cost"') :]
    assert "rag-red" in time_cell and "rag-green" not in time_cell and "rag-green" in cost_cell[:200]
    assert '#tolerances">1</a>' in row
    bands = _row(dashboard, 'id="monitor-bands"')  # green, amber, red, unknown among active projects
    assert bands.endswith('<td class="num">0</td><td class="num">0</td><td class="num">1</td><td class="num">0</td>')
    red = client.get("/?band=red").text
    assert 'data-key="LATE"' in red  # the monitor's overall red, though its EVM bands are green and amber

    answer = client.get("/api/v1/projects/LATE", headers={"Authorization": f"Bearer {world[1]}"})
    assert answer.status_code == 200
    rag = answer.json()["rag"]
    dimensions = {d["dimension"]: d for d in rag["dimensions"]}
    assert (dimensions["time"]["rag"], dimensions["time"]["deviation"], dimensions["time"]["allowance"]) == (
        "red",
        "12.00",
        "10.00",
    )
    assert dimensions["time"]["trend_adverse"] is True and dimensions["cost"]["trend_adverse"] is False
    assert [d["as_of"] for d in rag["history"]] == ["2026-03-16", "2026-03-17", "2026-03-18"]
    assert [d["colours"]["time"] for d in rag["history"]] == ["green", "amber", "red"]
    assert [(x["dimension"], x["deviation"]) for x in rag["open_exceptions"]] == [("time", "12.00")]


@pytest.fixture
def served(world: tuple[Settings, str]) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(world[0].model_copy(update={"public_url": base})),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_rag_and_exceptions_in_chromium(served: str) -> None:
    base = served
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
        page.goto(base + "/projects/LATE?lang=en")
        page.fill("#person_id", "vic")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("#signin-form button[type=submit]")
        time_row = page.locator('#rag tr[data-dimension="time"]')
        assert time_row.locator(".rag-red").count() == 1
        assert "worse two periods running" in time_row.inner_text()
        assert page.locator("table.rag-history tbody tr").count() == 3
        assert page.locator("#open-exceptions").inner_text() == "1 open exceptions"
        page.screenshot(path=str(artifact("project-rag-en.png")), full_page=True)
        page.goto(base + "/projects/LATE?lang=zh-CN")
        assert "连续两期恶化" in page.locator('#rag tr[data-dimension="time"]').inner_text()
        page.screenshot(path=str(artifact("project-rag-zh-CN.png")), full_page=True)
        page.goto(base + "/?band=red")
        row = page.locator('#portfolio-rows tr[data-key="LATE"]')
        assert row.locator('[data-dimension="time"] .rag-red').count() == 1
        assert row.locator('a[href="/projects/LATE#tolerances"]').inner_text() == "1"
        page.screenshot(path=str(artifact("dashboard-rag-zh-CN.png")), full_page=True)

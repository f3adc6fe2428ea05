"""``/reports`` and the dashboard's portfolio table: signed-in users only, sorted and filtered by query, CSV and
XLSX downloads read back, the report's formats downloaded, and both languages rendered in Chromium.

The portfolio is tests/test_portfolio_report.py's. The dashboard shows this week's figures: B's latest report
(4 Dec 2026: EV 450, AC 700) gives CPI 450 / 700 = 0.6429 (red); A's (20 Nov) CPI 0.9500 (green); C has none.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader

from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.settings import Settings
from phasegate.web.app import create_app
from tests.browser import artifact, chromium
from tests.receivers import free_port
from tests.signin import PASSWORD, give_password, sign_in
from tests.test_portfolio_report import seed


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    engine = make_engine(sqlite_url)
    try:
        sessions = make_session_factory(engine)
        seed(sessions)
        give_password(sessions, "sam")
    finally:
        engine.dispose()
    return Settings(database_url=sqlite_url, home=tmp_path / "home", public_url="http://testserver")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def _keys(html: str) -> list[str]:
    import re

    return re.findall(r'<tr data-key="([^"]+)">', html)


def test_reports_and_downloads_need_a_sign_in(client: TestClient) -> None:
    for path in ("/reports", "/reports/portfolio.pdf", "/reports/table.csv"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")


def test_dashboard_table_sorts_filters_and_refuses_bad_parameters(client: TestClient) -> None:
    assert sign_in(client, "sam").status_code == 303
    assert _keys(client.get("/").text) == ["A", "B", "C"]
    assert _keys(client.get("/?sort=cpi&dir=desc").text) == ["A", "B", "C"]  # C has no CPI: last either way
    assert _keys(client.get("/?sort=cpi&dir=asc").text) == ["B", "A", "C"]
    assert _keys(client.get("/?band=red").text) == ["B"]
    assert _keys(client.get("/?status=killed").text) == ["C"]
    assert _keys(client.get("/?q=王").text) == ["B"]  # B's sponsor is 王芳
    page = client.get("/?sort=cpi&dir=desc").text
    assert 'href="/?sort=cpi&amp;dir=asc"' in page and "0.6429" in page
    bad = client.get("/?sort=nope")
    assert bad.status_code == 400 and "sort: &#39;nope&#39; is not a column" in bad.text


def test_table_downloads_carry_the_filtered_rows(client: TestClient) -> None:
    assert sign_in(client, "sam").status_code == 303
    answer = client.get("/reports/table.csv?band=red&lang=zh-CN")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["项目", "名称", "模板"] and [r[0] for r in rows[1:]] == ["B"]
    assert rows[1][7] == "0.6429" and rows[1][11] == "红"
    assert rows[0][13:18] == ["时间红黄绿", "成本红黄绿", "质量红黄绿", "风险红黄绿", "总体红黄绿"]
    assert rows[1][13:18] == ["未知", "红", "无", "绿", "红"] and rows[1][21] == "1"  # B's monitor RAG, open exceptions
    book = load_workbook(io.BytesIO(client.get("/reports/table.xlsx?sort=cpi&dir=asc&lang=en").content))
    keys = [r[0] for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert keys == ["B", "A", "C"]
    assert client.get("/reports/table.pdf").status_code == 400


def test_reports_page_and_report_downloads(client: TestClient) -> None:
    assert sign_in(client, "sam").status_code == 303
    page = client.get("/reports?period=2026-W48&lang=en")
    assert page.status_code == 200
    assert page.text.count("<svg") == 4 and "1052.63" in page.text and 'id="gate-analytics"' in page.text
    assert 'id="report-portfolio-capped"' not in page.text  # three projects: no note
    exceptions = page.text[page.text.index('id="report-exceptions"') :]
    exceptions = exceptions[: exceptions.index("</table>")]
    assert exceptions.count("<tr>") == 3 and "accepted" in exceptions and "2026-11-27" in exceptions  # header + 2
    zh = client.get("/reports?period=2026-W48&lang=zh-CN").text
    assert "项目组合" in zh and "关口分析" in zh and "各阶段周期" in zh
    pdf = client.get("/reports/portfolio.pdf?period=2026-W48&lang=en")
    assert pdf.headers["content-type"] == "application/pdf"
    assert 'filename="portfolio-2026-W48.en.pdf"' in pdf.headers["content-disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "1,052.63" in text
    bad = client.get("/reports?period=2026-W99")
    assert bad.status_code == 400 and "period: &#39;2026-W99&#39;: 2026 has no ISO week 99" in bad.text
    assert "--period" not in bad.text  # the page names its own query parameter, not the CLI's option
    download = client.get("/reports/portfolio.xlsx?period=2026-13")
    assert download.status_code == 400 and "period: &#39;2026-13&#39;: month must be 01 to 12" in download.text
    assert client.get("/reports/portfolio.docx").status_code == 400


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings.model_copy(update={"public_url": base})),
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


def test_reports_and_sorted_dashboard_in_chromium(served: str) -> None:
    base = served
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
        page.goto(base + "/reports?period=2026-W48")
        page.fill("#person_id", "sam")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("#signin-form button[type=submit]")
        assert page.url.endswith("/reports?period=2026-W48")
        assert page.locator("section.chart svg").count() == 4
        assert page.locator("#report-portfolio tbody tr").count() == 3
        page.screenshot(path=str(artifact("reports-en.png")), full_page=True)
        page.goto(base + "/reports?period=2026-W48&lang=zh-CN")
        assert "项目组合报告" in page.content() or "项目组合" in page.content()
        page.screenshot(path=str(artifact("reports-zh-CN.png")), full_page=True)
        page.goto(base + "/?lang=en")
        page.click('a.sort[data-col="cpi"]')
        page.wait_for_load_state()
        assert page.locator("#portfolio-rows tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)") == [
            "B", "A", "C",
        ]  # fmt: skip
        page.select_option('select[name="band"]', "green")
        with page.expect_navigation():
            page.click("#filter")
        assert page.locator("#portfolio-rows tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)") == ["A"]
        page.screenshot(path=str(artifact("dashboard-portfolio-table.png")), full_page=True)


def test_reports_page_shows_the_first_rows_with_a_note_and_the_downloads_carry_all(
    settings: Settings, client: TestClient
) -> None:
    from sqlalchemy import insert, select

    from phasegate.models import tables as t
    from phasegate.web.portfolio_table import SHOWN

    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.begin() as connection:  # copies of A, enough to pass the page's cap
            a = dict(connection.execute(select(t.Project.__table__).where(t.Project.key == "A")).mappings().one())
            connection.execute(insert(t.Project), [a | {"key": f"Z{i:04d}", "name": f"Copy {i}"} for i in range(SHOWN)])
    finally:
        engine.dispose()
    total = SHOWN + 3
    assert sign_in(client, "sam").status_code == 303
    page = client.get("/reports?lang=en").text
    table = page[page.index('id="report-portfolio"') :]
    assert table[: table.index("</table>")].count("<tr>") == SHOWN + 1  # the header and the first rows
    note = page[page.index('id="report-portfolio-capped"') :]
    note = note[: note.index("</p>")]
    assert f"The first {SHOWN} of {total} projects are shown" in note
    assert 'href="/reports/portfolio.xlsx?period=' in note and 'href="/reports/table.csv?lang=en"' in note
    zh = client.get("/reports?lang=zh-CN").text
    assert f"此处显示 {total} 个项目中的前 {SHOWN} 个" in zh
    rows = list(csv.reader(io.StringIO(client.get("/reports/table.csv").content.decode("utf-8-sig"))))
    assert len(rows) == total + 1

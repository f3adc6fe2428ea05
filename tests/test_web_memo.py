"""The portfolio pages reuse what one web process computed from a committed state (``usecases.memo`` keyed by
``models.change_stamp``), and never show a state older than the database's: a write by another connection
(the CLI, a flow, a worker) shows on the next request, on SQLite and PostgreSQL.

LATE is the project of tests/test_monitor_time_risk.py, scanned on two evenings (time amber), then on a third by
another connection (time red, one exception), while a new project is created there too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, event, select, update

from phasegate.gates.vocabulary.commands import AddPerson
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.models import tables as t
from phasegate.models.change_stamp import change_stamp
from phasegate.models.db import make_engine
from phasegate.models.settings import Settings
from phasegate.models.tokens import create_token, revoke
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from phasegate.usecases.memo import Memo
from phasegate.web import pages, views
from phasegate.web.app import create_app
from tests.conftest import TEST_AUDIT_KEY
from tests.signin import give_password, sign_in
from tests.test_monitor_time_risk import Env, seeded


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def _time_cell(row: str) -> str:
    cells = row[row.index('data-dimension="time"') :]
    return cells[: cells.index('data-dimension="cost"')]


def _scan_on(env: Env, day: int) -> None:
    env.at = datetime(2026, 3, day, 18, 0, tzinfo=UTC)
    env.report("LATE", date(2026, 3, day), ev=100)
    env.scan("LATE")


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = seeded(db_url)
    e.project("LATE")
    e.risks("LATE", ("R1", 4, 4, "open"))
    for day in (16, 17):
        _scan_on(e, day)
    services.add_person(
        AddPerson(id="vic", name="Vic Viewer", email="vic@example.com", roles=frozenset({OrgRole.VIEWER})),
        uow=e.uow,
        now=e.now(),
        actor=SYSTEM_ACTOR,
    )
    give_password(e.sessions, "vic")  # keys the audit chain (TEST_AUDIT_KEY): what follows is signed too
    e.uow = lambda: SqlUnitOfWork(e.engine, audit_key=TEST_AUDIT_KEY)  # type: ignore[method-assign]
    try:
        yield e
    finally:
        e.engine.dispose()


@pytest.fixture
def client(db_url: str, env: Env, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=db_url, home=tmp_path / "home", public_url="http://testserver")
    with TestClient(create_app(settings)) as c:
        assert sign_in(c, "vic").status_code == 303
        yield c


def test_the_dashboard_and_reports_show_a_write_made_elsewhere_on_the_next_request(
    env: Env, client: TestClient
) -> None:
    memo: Memo = client.app.state.runtime.memo  # type: ignore[attr-defined]
    first = client.get("/?lang=en").text
    assert "rag-amber" in _time_cell(_row(first, 'data-key="LATE"')) and 'data-key="NEW"' not in first
    assert '#tolerances">1</a>' not in _row(first, 'data-key="LATE"')
    kept = len(memo)
    assert kept > 0, "the dashboard kept nothing: the memo is not in use and this test proves nothing"
    assert client.get("/?lang=en").text == first and len(memo) == kept  # same state: reused, nothing added
    assert 'id="report-portfolio"' in client.get("/reports?lang=en").text

    _scan_on(env, 18)  # another connection: time turns red and raises an exception
    env.project("NEW")

    after = client.get("/?lang=en").text
    late = _row(after, 'data-key="LATE"')
    assert "rag-red" in _time_cell(late) and "rag-amber" not in _time_cell(late)
    assert '#tolerances">1</a>' in late and 'data-key="NEW"' in after
    assert 'data-key="LATE"' in client.get("/?band=red").text
    report = client.get("/reports?lang=en").text
    assert ">NEW<" in report[report.index('id="report-portfolio"') :]


def test_the_api_project_list_shows_a_project_created_elsewhere_on_the_next_request(
    env: Env, client: TestClient
) -> None:
    with env.sessions() as session, session.begin():
        _, token = create_token(session, "vic", "viewer", env.now(), audit_key=TEST_AUDIT_KEY)
    auth = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/projects", headers=auth).json()
    assert [p["key"] for p in first["items"]] == ["LATE"] and first["total"] == 1
    assert client.get("/api/v1/projects", headers=auth).json() == first
    pages: Memo = client.app.state.runtime.pages  # type: ignore[attr-defined]
    assert len(pages) > 0, "the list kept nothing: the memo is not in use and this test proves nothing"
    env.project("NEW")
    after = client.get("/api/v1/projects", headers=auth).json()
    assert [p["key"] for p in after["items"]] == ["LATE", "NEW"] and after["total"] == 2


def test_the_stamp_moves_with_every_commit_and_only_then(db_url: str, env: Env) -> None:
    engine = make_engine(db_url)
    try:
        before = change_stamp(engine)
        assert before is not None and change_stamp(engine) == before
        env.project("NEW")
        after = change_stamp(engine)
        assert after is not None and after != before
    finally:
        engine.dispose()


def test_sign_ins_token_use_and_refusals_do_not_rebuild_the_dashboard(
    env: Env, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #17's dashboard p99: what readers write (sessions, token use marks, audited refusals) leaves the kept
    portfolio alone; a change to a project rebuilds it."""
    with env.sessions() as session, session.begin():
        _, token = create_token(session, "vic", "viewer", env.now(), audit_key=TEST_AUDIT_KEY)
    first = client.get("/?lang=en").text
    built: list[int] = []
    summary = views._summary
    monkeypatch.setattr(views, "_summary", lambda rt: built.append(1) or summary(rt))

    assert sign_in(TestClient(client.app), "vic").status_code == 303  # another browser: a session, an audit entry
    assert client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}).status_code == 200  # use mark
    assert client.get("/api/v1/projects", headers={"Authorization": "Bearer pgt_forged"}).status_code == 401  # audited
    assert client.get("/?lang=en").text == first and built == []

    env.project("NEW")
    assert 'data-key="NEW"' in client.get("/?lang=en").text and built == [1]


def test_a_token_revoked_or_a_person_disabled_elsewhere_stops_at_the_next_request(env: Env, client: TestClient) -> None:
    """The API keeps a token's lookup per committed state (``Runtime.callers``): a revocation or a disabled person,
    committed by another connection, refuses the very next request, and the refusal is audited."""
    with env.sessions() as session, session.begin():
        token_id, token = create_token(session, "vic", "viewer", env.now(), audit_key=TEST_AUDIT_KEY)
        _, other = create_token(session, "sam", "viewer", env.now(), audit_key=TEST_AUDIT_KEY)
    for presented in (token, other):
        auth = {"Authorization": f"Bearer {presented}"}
        assert [client.get("/api/v1/projects", headers=auth).status_code for _ in range(2)] == [200, 200]
    callers: Memo = client.app.state.runtime.callers  # type: ignore[attr-defined]
    assert len(callers) > 0, "nothing kept: the test proves nothing"

    with env.sessions() as session, session.begin():
        revoke(session, token_id, env.now(), audit_key=TEST_AUDIT_KEY)
    refused = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.json()["code"] == "auth.revoked"

    with env.sessions() as session, session.begin():
        session.execute(update(t.Person).where(t.Person.id == "sam").values(disabled=True))
    gone = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {other}"})
    assert gone.status_code == 401 and gone.json()["code"] == "auth.disabled"
    with env.sessions() as session:
        codes = [e.payload.get("code") for e in session.scalars(select(t.AuditEntry).order_by(t.AuditEntry.seq))]
    assert "auth.revoked" in codes and "auth.disabled" in codes


def _main(html: str) -> str:
    return html[html.index("<main>") : html.index("</main>")]


def _signout_token(html: str) -> str:
    found = re.search(r'name="signout_token" value="([0-9a-f]+)"', html)
    assert found, "the page has no sign-out form"
    return found.group(1)


def _rendering(monkeypatch: pytest.MonkeyPatch, call: Callable[[], Response]) -> tuple[Response, list[str]]:
    """``call()``'s response and the templates the pages loaded meanwhile (a kept body loads none of its own)."""
    rendered: list[str] = []
    get_template = pages.ENV.get_template

    def recorded(name: str, *more: Any) -> Any:
        rendered.append(name)
        return get_template(name, *more)

    monkeypatch.setattr(pages.ENV, "get_template", recorded)
    try:
        return call(), rendered
    finally:
        monkeypatch.undo()


def test_two_readers_of_one_state_share_the_kept_body_and_never_each_others_header(
    env: Env, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #17's pages serve their body as rendered for the first reader of a committed state, language and
    query (``web.page_body``); who is signed in and their sign-out token are rendered for each request, so one
    reader's name or form token never reaches another's page. A commit elsewhere shows on the next request."""
    services.add_person(
        AddPerson(id="ann", name="Ann Analyst", email="ann@example.com", roles=frozenset({OrgRole.VIEWER})),
        uow=env.uow,
        now=env.now(),
        actor=SYSTEM_ACTOR,
    )
    give_password(env.sessions, "ann")
    other = TestClient(client.app)
    assert sign_in(other, "ann").status_code == 303
    for path in ("/?lang=en", "/reports?lang=en", "/?lang=zh-CN&sort=name&dir=desc"):
        mine = client.get(path)
        assert mine.status_code == 200, path
        theirs, rendered = _rendering(monkeypatch, lambda: other.get(path))  # noqa: B023 (called at once)
        shell = {"/": "dashboard.html", "/reports": "reports.html"}[path.split("?")[0]]
        assert theirs.status_code == 200 and shell in rendered, rendered
        assert not [n for n in rendered if n.startswith("_")], f"{path}: the body was rendered again: {rendered}"
        assert _main(theirs.text) == _main(mine.text), path
        assert 'id="signed-in-as">Vic Viewer<' in mine.text and "Vic Viewer" not in theirs.text
        assert 'id="signed-in-as">Ann Analyst<' in theirs.text and "Ann Analyst" not in mine.text
        assert _signout_token(mine.text) != _signout_token(theirs.text)
    assert "项目组合" in client.get("/?lang=zh-CN").text and "项目组合" not in _main(client.get("/?lang=en").text)

    env.project("NEW")  # another connection: both readers see it on their next request
    for browser in (client, other):
        assert 'data-key="NEW"' in browser.get("/?lang=en").text
        report = browser.get("/reports?lang=en").text
        assert ">NEW<" in report[report.index('id="report-portfolio"') :]

    token = _signout_token(other.get("/?lang=en").text)
    signed_out = other.post("/signout", data={"signout_token": token}, follow_redirects=False)
    assert signed_out.status_code == 303  # each page's token is its own browser's: it signs that browser out
    assert client.post("/signout", data={"signout_token": _signout_token(theirs.text)}).status_code == 403


def test_a_reader_whose_roles_are_taken_away_elsewhere_is_refused_on_the_next_request(
    env: Env, client: TestClient
) -> None:
    """The pages keep the signed-in reader's actor per committed state (``web.reports.acting_reader``), as the API
    keeps a token's: roles taken away by another connection refuse the very next page, kept body or not."""
    for path in ("/?lang=en", "/reports?lang=en"):
        assert [client.get(path).status_code for _ in range(2)] == [200, 200], path
    callers: Memo = client.app.state.runtime.callers  # type: ignore[attr-defined]
    assert len(callers) > 0, "no reader kept: the test proves nothing"

    with env.sessions() as session, session.begin():
        session.execute(update(t.Person).where(t.Person.id == "vic").values(org_roles=[]))
    for path in ("/?lang=en", "/reports?lang=en"):
        refused = client.get(path)
        assert refused.status_code == 403 and "Vic Viewer" in refused.text, path


def test_a_kept_reports_page_reads_who_asks_and_nothing_of_the_portfolio(client: TestClient) -> None:
    """Once ``/reports`` was built for a state, a request for it checks the reader and serves kept bytes: it
    reads no template, project or decision (the gate analytics listed the templates on every request)."""
    assert client.get("/reports?lang=en").status_code == 200
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert client.get("/reports?lang=en").status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    portfolio = ("template_versions", "FROM projects", "gate_decisions", "evm_reports")
    assert [s for s in sent if any(table in s for table in portfolio)] == [], sent

"""Tolerance exceptions on real SQLite and PostgreSQL: raised exactly once across repeated scans, racing
scanners and a scan that dies before committing; routed to the tolerance's owner through the outbox; closed
only by the level that set the tolerance.

The project: P1 on it-pmo@2, budget 100,000, whose default cost tolerance (project board, owner the sponsor
sam) is 10 % or 15,000, whichever is greater: 15,000. A status report with EV 40,000 and AC 50,000 gives
CPI 0.8 and EAC 125,000: 25,000 over, a breach.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select

from phasegate.gates.exceptions import Breach, next_sequence
from phasegate.gates.vocabulary.commands import AddPerson, CreateProject
from phasegate.gates.vocabulary.errors import AuthorizationError, ConflictError, InputError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.gates.vocabulary.snapshots import EvmReportRecord
from phasegate.gates.vocabulary.tolerance import Dimension, ExceptionDecision, ToleranceException, ToleranceLevel
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.notifications.render import render
from phasegate.usecases import services
from phasegate.usecases.ports import UnitOfWork
from tests import actors

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Env:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.at = T0

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def now(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at

    def report(self, as_of: date, ev: int, ac: int, key: str = "P1") -> None:
        services.record_status(
            [EvmReportRecord(project_key=key, as_of=as_of, earned_value=Decimal(ev), actual_cost=Decimal(ac))],
            actor=SYSTEM_ACTOR,
            uow=self.uow,
            now=self.now(),
        )

    def scan(self) -> services.ScanReport:
        return services.scan_projects(["P1", "NOPE"], uow=self.uow, now=self.now())

    def count(self, table: Any, *where: Any) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)

    def audit(self, action: str) -> int:
        return self.count(t.AuditEntry, t.AuditEntry.action == action)


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = Env(db_url)
    for text, template in shipped_templates():
        services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source=text,
            uow=e.uow,
            now=e.now(),
            actor=SYSTEM_ACTOR,
        )
    for pid, locale in (("sam", "zh-CN"), ("mgr", "en"), ("pam", "en")):
        services.add_person(
            AddPerson(
                id=pid,
                name=pid.title(),
                email=f"{pid}@example.com",
                locale=locale,
                notify_urls=(f"json://127.0.0.1:9/{pid}",),
            ),
            uow=e.uow,
            now=e.now(),
            actor=SYSTEM_ACTOR,
        )
    services.create_project(
        CreateProject(
            key="P1", template_id="it-pmo", name="Pilot", sponsor_id="sam", manager_id="mgr", budget=Decimal(100000)
        ),
        uow=e.uow,
        now=e.now(),
        actor=SYSTEM_ACTOR,
    )
    e.report(date(2026, 11, 30), ev=40000, ac=50000)
    yield e
    e.engine.dispose()


def test_a_breach_is_raised_once_however_often_the_portfolio_is_scanned(env: Env) -> None:
    first = env.scan()
    assert (first.scanned, first.breaches, len(first.raised)) == (1, 1, 1)
    raised = first.raised[0]
    assert (raised.dimension, raised.level, raised.owner_id, raised.seq) == (
        Dimension.COST,
        ToleranceLevel.PROJECT_BOARD,
        "sam",
        1,
    )
    assert (raised.baseline, raised.forecast, raised.allowance, raised.deviation) == (
        Decimal(100000),
        Decimal("125000.00"),
        Decimal("15000.00"),
        Decimal("25000.00"),
    )
    for _ in range(3):
        again = env.scan()
        assert again.breaches == 1 and again.raised == ()
    assert env.count(t.ToleranceExceptionRow) == 1 and env.audit("exception.raised") == 1
    # Routed to the owner of the tolerance, in their language, through the outbox.
    with env.sessions() as session:
        rows = session.execute(
            select(t.OutboxMessage.recipient_id, t.OutboxMessage.locale, t.OutboxMessage.context).where(
                t.OutboxMessage.kind == "tolerance_exception"
            )
        ).all()
    assert [(r.recipient_id, r.locale) for r in rows] == [("sam", "zh-CN")]
    message = render("tolerance_exception", "zh-CN", rows[0].context)
    assert "成本" in message.title and "125000.00" in message.body_text and str(raised.id) in message.body_text
    listed = services.list_exceptions(uow=env.uow, project_key="P1", status="open")
    assert [e.id for e in listed] == [raised.id]


def test_a_scan_that_dies_before_committing_raises_nothing_and_the_next_raises_once(env: Env) -> None:
    class DiedError(Exception):
        pass

    class DyingUow(SqlUnitOfWork):
        def commit(self) -> None:
            raise DiedError("the process is killed before the commit")

    with pytest.raises(DiedError):
        services.scan_projects(["P1"], uow=lambda: DyingUow(env.engine), now=env.now())
    assert env.count(t.ToleranceExceptionRow) == 0 and env.count(t.OutboxMessage) == 0
    assert env.count(t.RagSnapshot) == 0
    assert len(env.scan().raised) == 1 and len(env.scan().raised) == 0
    assert env.count(t.ToleranceExceptionRow) == 1
    assert env.count(t.OutboxMessage, t.OutboxMessage.kind == "tolerance_exception") == 1


def _sent_by(env: Env, scan: Any) -> tuple[Any, list[str]]:
    """What ``scan()`` returned and the SQL statements it sent."""
    sent: list[str] = []

    def count(*args: Any) -> None:
        sent.append(args[2])

    event.listen(env.engine, "before_cursor_execute", count)
    try:
        return scan(), sent
    finally:
        event.remove(env.engine, "before_cursor_execute", count)


def test_a_scan_sends_as_many_statements_for_five_projects_as_for_one(env: Env) -> None:
    """The monitor scans 10,000 projects in chunks: each read and write is one statement per chunk, never one
    per project (the RAG snapshot rows once went one INSERT each, four per project; the exceptions raised, one
    INSERT each in a savepoint of its own)."""
    for n in range(2, 6):
        services.create_project(
            CreateProject(
                key=f"P{n}",
                template_id="it-pmo",
                name=f"P{n}",
                sponsor_id="sam",
                manager_id="mgr",
                budget=Decimal(100000),
            ),
            uow=env.uow,
            now=env.now(),
            actor=SYSTEM_ACTOR,
        )
    keys = [f"P{n}" for n in range(1, 6)]
    assert services.scan_projects(keys[1:], uow=env.uow, now=env.now()).raised == ()  # reads the template once
    raising_one, for_one = _sent_by(env, lambda: services.scan_projects(keys[:1], uow=env.uow, now=env.now()))
    assert [r.project_key for r in raising_one.raised] == ["P1"]
    for key in keys[1:]:
        env.report(date(2026, 11, 30), ev=40000, ac=50000, key=key)
    raising_four, for_five = _sent_by(env, lambda: services.scan_projects(keys, uow=env.uow, now=env.now()))
    assert sorted(r.project_key for r in raising_four.raised) == keys[1:] and env.audit("exception.raised") == 5
    assert len(for_five) == len(for_one), for_five
    raising_none, quiet = _sent_by(env, lambda: services.scan_projects(keys, uow=env.uow, now=env.now()))
    assert raising_none.scanned == 5 and len(raising_none.health) == 5 and raising_none.raised == ()
    assert len(quiet) <= len(for_one), quiet


def test_racing_scanners_raise_it_once(env: Env) -> None:
    start = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            start.wait()
            results.append(len(env.scan().raised))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(results) == [0, 0, 0, 1]
    assert env.count(t.ToleranceExceptionRow) == 1 and env.audit("exception.raised") == 1
    assert env.count(t.OutboxMessage, t.OutboxMessage.kind == "tolerance_exception") == 1


def test_only_the_level_that_set_it_decides_and_each_decision_closes_it(env: Env) -> None:
    raised = env.scan().raised[0]
    refused = env.audit("security.refused")
    with pytest.raises(AuthorizationError, match="may not act as the project_board level"):
        services.decide_exception(
            raised.id,
            ExceptionDecision.ACCEPT,
            reason="fine",
            actor=actors.person("mgr", OrgRole.MANAGER),
            uow=env.uow,
            now=env.now(),
        )
    assert env.audit("security.refused") == refused + 1
    with pytest.raises(InputError, match="--reason"):
        services.decide_exception(
            raised.id, ExceptionDecision.ACCEPT, reason=" ", actor=actors.person("sam"), uow=env.uow, now=env.now()
        )
    accepted = services.decide_exception(
        raised.id,
        ExceptionDecision.ACCEPT,
        reason="known overrun",
        actor=actors.person("sam"),
        uow=env.uow,
        now=env.now(),
    )
    assert (accepted.status, accepted.decision, accepted.decided_by) == ("closed", ExceptionDecision.ACCEPT, "sam")
    with pytest.raises(ConflictError, match="already closed"):
        services.decide_exception(
            raised.id, ExceptionDecision.ACCEPT, reason="again", actor=actors.person("sam"), uow=env.uow, now=env.now()
        )
    # Accepted: the same forecast raises nothing; a worse one is a new exception.
    assert env.scan().raised == ()
    env.report(date(2026, 12, 1), ev=40000, ac=60000)  # CPI 0.6667: EAC 150,000
    worse = env.scan().raised
    assert [(e.seq, e.deviation) for e in worse] == [(2, Decimal("50000.00"))]
    # Approving the exception plan re-baselines BAC (audited); the same report raises nothing after it.
    planned = services.decide_exception(
        worse[0].id,
        ExceptionDecision.APPROVE_PLAN,
        reason="exception plan approved",
        actor=actors.admin("pam"),
        uow=env.uow,
        now=env.now(),
        new_bac=Decimal(150000),
    )
    assert planned.decision is ExceptionDecision.APPROVE_PLAN and env.audit("baseline.rebaselined") == 1
    with env.sessions() as session:
        assert session.scalar(select(t.Baseline.bac).where(t.Baseline.project_key == "P1")) == Decimal(150000)
    assert env.scan().raised == ()
    assert env.audit("exception.decided") == 2


def test_what_covers_a_breach_is_pure_policy() -> None:
    breach = Breach(
        project_key="P",
        scope="*",
        dimension=Dimension.COST,
        level=ToleranceLevel.PROJECT_BOARD,
        owner_id="s",
        baseline=Decimal(100),
        forecast=Decimal(130),
        allowance=Decimal(10),
        deviation=Decimal(30),
    )
    on = date(2026, 12, 1)

    def latest(**extra: Any) -> ToleranceException:
        values: dict[str, Any] = breach.model_dump() | {"id": "00000000-0000-4000-8000-000000000001", "seq": 4}
        return ToleranceException(raised_at=T0, **(values | extra))

    assert next_sequence(breach, None, evidence_as_of=on) == 1
    assert next_sequence(breach, latest(), evidence_as_of=on) is None  # open
    accepted = {"status": "closed", "decision": "accept", "decided_at": T0}
    assert next_sequence(breach, latest(**accepted), evidence_as_of=on) is None
    assert next_sequence(breach, latest(**accepted, deviation=Decimal(29)), evidence_as_of=on) == 5
    approved = {"status": "closed", "decision": "approve_plan", "decided_at": T0}
    assert next_sequence(breach, latest(**approved), evidence_as_of=T0.date()) is None
    assert next_sequence(breach, latest(**approved), evidence_as_of=T0.date() + timedelta(days=1)) == 5


# --- doors ---------------------------------------------------------------------------------------------------


def test_cli_lists_and_decides_and_the_api_reads_and_refuses(tmp_path: Any) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    from fastapi.testclient import TestClient

    from phasegate.models.settings import Settings
    from phasegate.web.app import create_app
    from tests.signin import give_password, sign_in
    from tests.test_api import seed

    url = f"sqlite:///{tmp_path / 'x.db'}"
    from phasegate.models.schema import upgrade

    upgrade(url)
    tokens = seed(url)  # templates; sam a gatekeeper, mgr a manager, pam the PMO admin mapped to this OS login
    e = Env(url)
    services.create_project(
        CreateProject(
            key="P1", template_id="it-pmo", name="Pilot", sponsor_id="sam", manager_id="mgr", budget=Decimal(100000)
        ),
        uow=e.uow,
        now=e.now(),
        actor=SYSTEM_ACTOR,
    )
    e.report(date(2026, 11, 30), ev=40000, ac=50000)
    raised = e.scan().raised[0]
    phasegate = str(Path(sys.executable).with_name("phasegate"))

    def cli(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([phasegate, *args, "--db", url], capture_output=True, text=True, timeout=120)
        assert done.returncode == expect, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    listed = json.loads(cli("exceptions", "list", "--open", "--json").stdout)
    assert [(x["id"], x["dimension"], x["deviation"]) for x in listed] == [(str(raised.id), "cost", "25000.00")]
    bad = cli("exceptions", "decide", str(raised.id), "--decision", "ignore", "--reason", "x", expect=2)
    assert "--decision: 'ignore' is not allowed; allowed: approve_plan, premature_close, accept" in bad.stderr
    assert (
        "ID: 'nope' is not an exception id"
        in cli("exceptions", "decide", "nope", "--decision", "accept", "--reason", "x", expect=2).stderr
    )
    with TestClient(create_app(Settings(database_url=url, home=tmp_path / "home"))) as client:
        viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
        page = client.get("/api/v1/exceptions", params={"project": "P1", "status": "open"}, headers=viewer)
        assert page.status_code == 200 and [x["id"] for x in page.json()["items"]] == [str(raised.id)]
        refused = client.post(
            f"/api/v1/exceptions/{raised.id}/decision", json={"decision": "accept", "reason": "x"}, headers=viewer
        )
        assert refused.status_code == 403
        assert client.get("/api/v1/exceptions", params={"status": "shut"}, headers=viewer).status_code == 422
        # The project page shows the tolerances in force and the open exception, in English and Chinese.
        give_password(e.sessions, "pam")
        assert sign_in(client, "pam").status_code == 303
        page = client.get("/projects/P1?lang=en").text
        assert "Tolerances and exceptions" in page and "OPEN: awaiting the decision" in page
        assert "125000.00" in page and "none (explicitly)" in page and "15000" in page
        zh = client.get("/projects/P1?lang=zh-CN").text
        assert "容差与例外" in zh and "待处理" in zh and "成本" in zh
    done = cli("exceptions", "decide", str(raised.id), "--decision", "premature_close", "--reason", "stop it")
    assert "premature_close, closed" in done.stdout
    assert json.loads(cli("exceptions", "list", "--open", "--json").stdout) == []
    e.engine.dispose()

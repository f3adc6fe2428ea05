"""``phasegate exceptions list`` and ``exceptions decide`` through a real ``phasegate serve`` (SQLite and
PostgreSQL), from laptops that hold only a token (the harness of ``tests/test_remote_cli.py``).

P1's project board (the sponsor sam) holds a cost tolerance of 100; a status report with EV 400 and AC 800 gives
CPI 0.5 and EAC 1000 / 0.5 = 2000: 1000 over BAC 1000, a breach the monitor raises once. Proves: the list reads
the same through the server as on the database; a malformed id or decision is exit 2 before anything is sent
(checked on the laptop, so once rather than per dialect); a viewer's token may not decide (exit 2, audited on the
server); the sponsor's decision is recorded and audited as the token's person and prints what the local command
prints; deciding it again is refused.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from phasegate.flows.cli.remote import credentials
from phasegate.gates.vocabulary.commands import SetTolerance
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import EvmReportRecord
from phasegate.gates.vocabulary.tolerance import Dimension, ToleranceLevel
from phasegate.models import tables as t
from phasegate.models.db import make_engine
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from tests.receivers import free_port
from tests.test_remote_cli import Laptop, Team, team

__all__ = ["team"]  # the fixture: a server over a seeded database, and its tokens


def _raise_cost_exception(team: Team) -> str:
    engine = make_engine(team.db_url)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    now = datetime.now(UTC)
    try:
        services.set_tolerance(
            SetTolerance(
                project_key="P1",
                dimension=Dimension.COST,
                level=ToleranceLevel.PROJECT_BOARD,
                owner_id="sam",
                amount=Decimal(100),
            ),
            actor=SYSTEM_ACTOR,
            uow=uow,
            now=now,
        )
        services.record_status(
            [
                EvmReportRecord(
                    project_key="P1", as_of=date.today(), earned_value=Decimal(400), actual_cost=Decimal(800)
                )
            ],
            actor=SYSTEM_ACTOR,
            uow=uow,
            now=now,
        )
        (raised,) = services.scan_projects(["P1"], uow=uow, now=now).raised
        assert (raised.forecast, raised.deviation, raised.allowance) == (
            Decimal("2000.00"),
            Decimal("1000.00"),
            Decimal("100.00"),
        )
        return str(raised.id)
    finally:
        engine.dispose()


def test_exceptions_are_listed_and_decided_through_the_server(team: Team) -> None:
    exception_id = _raise_cost_exception(team)
    sponsor = team.laptop("sam-laptop")
    sponsor.logged_in(team, "sponsor")
    listed = sponsor.run("exceptions", "list", "--open").stdout
    assert listed == team.local("exceptions", "list", "--open").stdout
    assert exception_id in listed and "P1  cost  forecast 2000.00 vs baseline 1000.00" in listed and "OPEN" in listed
    as_json = sponsor.run("exceptions", "list", "--project", "P1", "--json").stdout
    assert as_json == team.local("exceptions", "list", "--project", "P1", "--json").stdout

    viewer = team.laptop("vic-laptop")
    viewer.logged_in(team, "viewer")
    refused = viewer.run("exceptions", "decide", exception_id, "--decision", "accept", "--reason", "fine", expect=2)
    assert refused.stderr.startswith("phasegate: ") and len(refused.stderr.strip().splitlines()) == 1
    assert team.rows(select(t.ToleranceExceptionRow.status))[0].status == "open"

    decided = sponsor.run(
        "exceptions", "decide", exception_id, "--decision", "accept", "--reason", "board accepts the overrun"
    )
    assert decided.stdout == f"exception {exception_id} (P1 cost): accept, closed\n"
    (row,) = team.rows(
        select(t.ToleranceExceptionRow.status, t.ToleranceExceptionRow.decision, t.ToleranceExceptionRow.decided_by)
    )
    assert tuple(row) == ("closed", "accept", "sam")
    audited = team.rows(select(t.AuditEntry.actor).where(t.AuditEntry.action == "exception.decided"))
    assert [a.actor for a in audited] == ["sam"]
    again = sponsor.run("exceptions", "decide", exception_id, "--decision", "accept", "--reason", "again", expect=2)
    assert "already closed (accept)" in again.stderr
    assert "accept by sam" in sponsor.run("exceptions", "list", "--project", "P1").stdout


def test_a_malformed_decision_is_refused_on_the_laptop_before_anything_is_sent(tmp_path: Path) -> None:
    """No server or database answers these (so once, not per dialect): the stored login names a port where nothing
    listens, so a request would have said "cannot reach the server"."""
    sponsor = Laptop(tmp_path / "sam-laptop")
    sponsor.store(credentials.Login(url=f"http://127.0.0.1:{free_port()}", token="t" * 40, person_id="sam"))
    some_id = str(uuid.uuid4())
    bad = sponsor.run("exceptions", "decide", some_id, "--decision", "approve", "--reason", "x", expect=2)
    assert bad.stderr.strip() == (
        "phasegate: --decision: 'approve' is not allowed; allowed: approve_plan, premature_close, accept"
    )
    bad_id = sponsor.run("exceptions", "decide", "E-1", "--decision", "accept", "--reason", "x", expect=2)
    assert "ID: 'E-1' is not an exception id" in bad_id.stderr

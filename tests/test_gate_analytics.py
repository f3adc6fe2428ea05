"""Gate analytics on a hand-computed portfolio, through the read model on SQLite and PostgreSQL and the CLI.

The rows are written with SQL (the history of months cannot be replayed through the clock-bound use cases);
every expected figure below is worked out by hand in the comments, from the definitions in gates/analytics.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.analytics import GateAnalytics, GateStats, quantile
from phasegate.gates.vocabulary.errors import AuthorizationError, InputError
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from tests import actors

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
RFP, RFE = "ready-for-planning", "ready-for-executing"


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# (project, gate, opened, due, resolved, status, decision, review requested by)
ROUNDS: list[tuple[str, str, datetime, datetime, datetime | None, str, str | None, str | None]] = [
    ("C", RFP, at(1, 2), at(1, 9), at(1, 3), "cancelled", None, "mgr"),  # cancelled: not a decision
    ("A", RFP, at(1, 5), at(1, 12), at(1, 6), "resolved", "recycle", "mgr"),  # 24 h, in SLA
    ("A", RFP, at(1, 10), at(1, 17), at(1, 12), "resolved", "go", None),  # 48 h, in SLA
    ("B", RFP, at(1, 5), at(1, 12), at(1, 15), "resolved", "conditional_go", "mgr"),  # 240 h, late
    ("C", RFP, at(1, 5), at(1, 12), at(1, 5, 12), "resolved", "kill", None),  # 12 h, in SLA
    ("A", RFE, at(2, 1), at(2, 8), at(2, 3), "resolved", "hold", None),  # 48 h, in SLA
    ("B", RFE, at(2, 1), at(2, 8), None, "open", None, "sam"),  # still open
]
# (due, status, resolved): conditions of B's conditional go at ready-for-planning
CONDITIONS: list[tuple[date, str, datetime | None]] = [
    (date(2026, 1, 31), "met", at(1, 30)),  # on time
    (date(2026, 1, 31), "met", at(2, 2)),  # late
    (date(2026, 2, 28), "open", None),  # overdue on 31 March: due, not on time
    (date(2026, 4, 30), "open", None),  # not due yet: not counted
    (date(2026, 2, 10), "waived", at(2, 10, 23)),  # on its due day: on time
    (date(2026, 2, 10), "missed", at(2, 11)),  # due, not on time
]


def seed(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        source, template = next((s, tp) for s, tp in shipped_templates() if tp.id == "it-pmo")
        s.execute(
            insert(t.TemplateVersion).values(
                template_id=template.id,
                version=template.version,
                name=template.name,
                source=source,
                content=template.model_dump(mode="json"),
                content_hash=template_content_hash(template),
            )
        )
        for pid in ("sam", "mgr"):
            s.execute(insert(t.Person).values(id=pid, name=pid, email=f"{pid}@example.com", org_roles=["gatekeeper"]))
        for key in "ABC":
            s.execute(
                insert(t.Project).values(
                    key=key,
                    name=key,
                    template_id="it-pmo",
                    template_version=1,
                    template_hash="h" * 64,
                    sponsor_id="sam",
                    manager_id="mgr",
                    budget=Decimal(1000),
                    stage_id="initiating",
                    created_at=at(1, 1),
                    updated_at=at(1, 1),
                )
            )
        rounds: dict[tuple[str, str], uuid.UUID] = {}
        for key, gate, opened, due, resolved, status, decision, requested_by in ROUNDS:
            review_id, round_id = uuid.uuid4(), uuid.uuid4()
            s.execute(
                insert(t.GateReview).values(
                    id=review_id,
                    project_key=key,
                    gate_id=gate,
                    stage_id="initiating",
                    status="decided",
                    recommendation="go",
                    evaluation={},
                    evidence={},
                    evidence_hash="e" * 64,
                    requested_by=requested_by,
                    created_at=opened,
                )
            )
            s.execute(
                insert(t.ApprovalRound).values(
                    id=round_id,
                    review_id=review_id,
                    project_key=key,
                    gate_id=gate,
                    policy="unanimous",
                    approvers=["sam"],
                    evidence_hash="e" * 64,
                    status=status,
                    decision=decision,
                    due_at=due,
                    opened_at=opened,
                    resolved_at=resolved,
                )
            )
            rounds[(key, gate)] = round_id
        # A review that found the gate not ready opens no round; the system requested it.
        s.execute(
            insert(t.GateReview).values(
                project_key="C",
                gate_id=RFP,
                stage_id="initiating",
                status="not_ready",
                recommendation="not_ready",
                evaluation={},
                evidence={},
                evidence_hash="f" * 64,
                requested_by=None,
                created_at=at(1, 4),
            )
        )
        for due, status, resolved in CONDITIONS:
            s.execute(
                insert(t.Condition).values(
                    project_key="B",
                    round_id=rounds[("B", RFP)],
                    gate_id=RFP,
                    text="do it",
                    owner_id="mgr",
                    due_on=due,
                    verification="verifier:sam",
                    status=status,
                    resolved_at=resolved,
                )
            )


def gate(report: GateAnalytics, gate_id: str) -> GateStats:
    return next(g for g in report.gates if g.gate_id == gate_id)


def test_quantile_interpolates_between_closest_ranks() -> None:
    assert quantile([], 0.5) is None
    assert quantile([7.0], 0.9) == 7.0
    assert quantile([12.0, 24.0, 48.0, 240.0], 0.5) == 36.0
    assert quantile([240.0, 12.0, 48.0, 24.0], 0.9) == pytest.approx(182.4)


def test_hand_computed_portfolio(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        sessions = make_session_factory(engine)
        seed(sessions)
        report = services.gate_report(actor=actors.person("sam"), uow=lambda: SqlUnitOfWork(engine), now=NOW)
    finally:
        engine.dispose()

    assert [g.gate_id for g in report.gates] == [RFP, RFE, "ready-for-closing", "closure"]
    rfp = gate(report, RFP)
    # Decided: recycle, go, conditional go, kill (the cancelled round is none).
    assert rfp.decided == 4 and rfp.open_rounds == 0
    assert rfp.outcomes == {"go": 1, "conditional_go": 1, "recycle": 1, "hold": 0, "kill": 1}
    assert (rfp.pass_rate, rfp.recycle_rate, rfp.kill_rate, rfp.hold_rate) == (0.5, 0.25, 0.25, 0.0)
    # First decisions: A recycle, B conditional go, C kill -> 1 of 3 projects passed first time.
    assert rfp.projects_decided == 3 and rfp.first_time_pass_rate == pytest.approx(1 / 3)
    # Latencies 12, 24, 48, 240 h: median (24 + 48) / 2; p90 at rank 2.7 = 48 + 0.7 * 192.
    assert rfp.latency_hours.count == 4
    assert rfp.latency_hours.median == pytest.approx(36.0) and rfp.latency_hours.p90 == pytest.approx(182.4)
    assert rfp.within_sla_rate == 0.75 and rfp.sla_business_days == 5
    # Six conditions, five due (one open and not yet due), two closed on time (met early, waived on the day).
    assert (rfp.conditions, rfp.conditions_due, rfp.conditions_on_time) == (6, 5, 2)
    assert rfp.conditions_on_time_rate == pytest.approx(0.4)
    # Reviews: A's go, C's kill and C's not-ready review by the system; A's recycle, B's and C's cancelled by hand.
    assert (rfp.reviews_automatic, rfp.reviews_manual) == (3, 3)

    rfe = gate(report, RFE)
    assert rfe.decided == 1 and rfe.open_rounds == 1 and rfe.hold_rate == 1.0 and rfe.pass_rate == 0.0
    assert rfe.first_time_pass_rate == 0.0 and rfe.latency_hours.median == 48.0 and rfe.within_sla_rate == 1.0
    assert (rfe.reviews_automatic, rfe.reviews_manual) == (1, 1) and rfe.conditions_on_time_rate is None

    closing = gate(report, "closure")
    assert closing.decided == 0 and closing.pass_rate is None and closing.latency_hours.median is None

    stages = {s.stage_id: s.cycle_days for s in report.stages}
    # Initiating: A from 1 Jan to its go on 12 Jan (11 d), B to its conditional go on 15 Jan (14 d); C was killed.
    assert stages["initiating"].count == 2
    assert stages["initiating"].median == pytest.approx(12.5) and stages["initiating"].p90 == pytest.approx(13.7)
    assert stages["planning"].count == 0 and stages["planning"].median is None
    assert list(stages) == ["initiating", "planning", "executing", "closing"]


def test_an_unknown_template_or_a_disabled_reader_is_refused(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        sessions = make_session_factory(engine)
        seed(sessions)
        uow = lambda: SqlUnitOfWork(engine)  # noqa: E731
        with pytest.raises(InputError, match=r"--template: no template 'nope'; published templates are: .*it-pmo"):
            services.gate_report(actor=actors.person("sam"), uow=uow, now=NOW, template_id="nope")
        with sessions() as s, s.begin():
            s.execute(t.Person.__table__.update().where(t.Person.id == "mgr").values(disabled=True))
        with pytest.raises(AuthorizationError, match="disabled"):
            services.gate_report(actor=actors.person("mgr"), uow=uow, now=NOW)
        with sessions() as s:
            refused = s.query(t.AuditEntry).filter(t.AuditEntry.action == "security.refused").all()
        assert [r.entity for r in refused] == ["report:gates"]
    finally:
        engine.dispose()


def run(*args: str, db: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PHASEGATE, *args, "--db", db], capture_output=True, text=True, timeout=180)
    assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def test_cli_json_and_table(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        seed(make_session_factory(engine))
    finally:
        engine.dispose()
    run(*actors.bootstrap_admin_args(), db=sqlite_url)
    data: dict[str, Any] = json.loads(run("report", "gates", "--json", db=sqlite_url).stdout)
    rfp = next(g for g in data["gates"] if g["gate_id"] == RFP)
    assert rfp["pass_rate"] == 0.5 and rfp["latency_hours"] == {"count": 4, "median": 36.0, "p90": pytest.approx(182.4)}
    assert data["stages"][0]["cycle_days"]["median"] == 12.5
    table = run("report", "gates", "--template", "it-pmo", db=sqlite_url).stdout.splitlines()
    row = next(line for line in table if RFP in line).split()
    assert row[:8] == ["it-pmo", RFP, "4", "50%", "25%", "25%", "0%", "33%"]
    # The CLI reads today's clock (after 30 April 2026): all six conditions are due now, two closed on time.
    assert row[8:] == ["36.0h", "182.4h", "75%", "33%", "3/3"]
    refused = run("report", "gates", "--template", "nope", db=sqlite_url, expect=2)
    assert refused.stderr.startswith("phasegate: --template: no template 'nope'") and not refused.stdout

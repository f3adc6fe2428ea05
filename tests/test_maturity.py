"""Maturity score: each dimension's level boundaries, then a hand-computed quarter through the read model on
SQLite and PostgreSQL (rows written with SQL: a quarter of history cannot be replayed through the clock-bound
use cases). Every expected figure is worked out in the comments from the definitions in gates/maturity.py.
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

from phasegate.gates.maturity import (
    DIMENSIONS,
    DimensionScore,
    MaturityReport,
    documentation_compliant,
    level,
    parse_quarter,
    quarter_of,
)
from phasegate.gates.vocabulary.errors import InputError
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from tests import actors

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
RFP, RFE, RFC = "ready-for-planning", "ready-for-executing", "ready-for-closing"


@pytest.mark.parametrize("dimension", DIMENSIONS, ids=lambda d: d.id)
def test_level_boundaries_of_every_dimension(dimension: Any) -> None:
    # Out of 100 events: exactly the threshold reaches the level, one fewer stays below.
    for step, threshold in enumerate(dimension.thresholds, start=2):
        assert level(threshold, 100, dimension.thresholds) == step
        assert level(threshold - 1, 100, dimension.thresholds) == step - 1
    assert level(0, 100, dimension.thresholds) == 1 and level(100, 100, dimension.thresholds) == 5
    assert level(0, 0, dimension.thresholds) is None


def test_boundaries_are_exact_on_awkward_counts() -> None:
    standard = (50, 70, 85, 95)
    assert level(17, 20, standard) == 4  # 85% exactly
    assert level(16, 20, standard) == 3  # 80%
    assert level(7, 10, standard) == 3 and level(2, 3, standard) == 2  # 70% exactly; 66.7%
    assert level(19, 20, standard) == 5 and level(18, 19, standard) == 4  # 95%; 94.7%


def test_quarters_and_documentation_verdicts() -> None:
    q4 = parse_quarter("2026-Q4")
    assert (q4.start, q4.end) == (date(2026, 10, 1), date(2026, 12, 31))
    assert q4.previous() == parse_quarter("2026-Q3") and parse_quarter("2027-Q1").previous() == q4
    assert quarter_of(date(2026, 2, 28)).label == "2026-Q1"
    for bad in ("2026-Q5", "Q4", "2026/4", "0000-Q1", "3000-Q1"):
        with pytest.raises(InputError, match="--quarter"):
            parse_quarter(bad)
    assert documentation_compliant({}) is None
    assert documentation_compliant(DOCS_OK) is True and documentation_compliant(DOCS_BAD) is False
    assert documentation_compliant({"criteria": [{"code": "doc.required_sections", "passed": False}]}) is False


DOCS_OK = {
    "required_deliverables": [{"id": "charter", "present": True, "approved": True}],
    "criteria": [{"code": "doc.required_present", "passed": True}, {"code": "budget.cpi_floor", "passed": False}],
}
DOCS_BAD = {"required_deliverables": [{"id": "charter", "present": True, "approved": False}], "criteria": []}


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 9, tzinfo=UTC)


# Reviews: (name, project, gate, opened, evaluation)
REVIEWS = [
    ("r1", "A", RFP, at(10, 1), DOCS_OK),
    ("r2", "B", RFP, at(10, 1), DOCS_BAD),
    ("r3", "B", RFP, at(10, 12), DOCS_OK),  # B's second review: not a first review
    ("r4", "C", RFP, at(10, 2), {}),  # no documents asked: not counted
    ("r5", "D", RFC, at(11, 1), DOCS_OK),
    ("r6", "A", RFE, at(11, 20), DOCS_OK),
]
# Rounds: (review, opened, due, resolved, decision)
ROUNDS = [
    ("r1", at(10, 1), at(10, 8), at(10, 5), "go"),  # within SLA
    ("r2", at(10, 1), at(10, 8), at(10, 10), "recycle"),  # late; adverse, B had an exception on 20 Sep
    ("r4", at(10, 2), at(10, 9), at(10, 3), "kill"),  # within; adverse with no exception: found late; early kill
    ("r5", at(11, 1), at(11, 8), at(11, 7), "kill"),  # within; D's exception on 15 Oct; late kill (gate 3 of 4)
    ("r6", at(11, 20), None, at(11, 21), "hold"),  # no due time; adverse, A never had an exception: found late
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
        lives = {"A": (at(7, 1), None), "B": (at(7, 1), None), "C": (at(7, 1), None), "D": (at(7, 1), None)}
        lives["E"] = (at(12, 1), at(12, 3))  # created and closed before 5 Dec: not in the portfolio then
        for key, (created, closed) in lives.items():
            s.execute(
                insert(t.Project).values(
                    key=key,
                    name=key,
                    template_id="it-pmo",
                    template_version=template.version,
                    template_hash="h" * 64,
                    sponsor_id="sam",
                    manager_id="mgr",
                    budget=Decimal(1000),
                    stage_id="planning",
                    created_at=created,
                    updated_at=created,
                    closed_at=closed,
                )
            )
        ids: dict[str, uuid.UUID] = {}
        for name, key, gate_id, opened, evaluation in REVIEWS:
            ids[name] = uuid.uuid4()
            s.execute(
                insert(t.GateReview).values(
                    id=ids[name],
                    project_key=key,
                    gate_id=gate_id,
                    stage_id="planning",
                    status="decided",
                    recommendation="go",
                    evaluation=evaluation,
                    evidence={},
                    evidence_hash="e" * 64,
                    requested_by="mgr",
                    created_at=opened,
                )
            )
        review = {name: (key, gate_id) for name, key, gate_id, _, _ in REVIEWS}
        rounds: dict[str, uuid.UUID] = {}
        for name, opened, due, resolved, decision in ROUNDS:
            rounds[name] = uuid.uuid4()
            key, gate_id = review[name]
            s.execute(
                insert(t.ApprovalRound).values(
                    id=rounds[name],
                    review_id=ids[name],
                    project_key=key,
                    gate_id=gate_id,
                    policy="unanimous",
                    approvers=["sam"],
                    evidence_hash="e" * 64,
                    status="resolved",
                    decision=decision,
                    due_at=due,
                    opened_at=opened,
                    resolved_at=resolved,
                )
            )
        # Conditions due in Q4 (as of 5 Dec): met early (on time), met late, past due and open (late), and one
        # not due until 20 Dec (not counted): 1 of 3.
        for due, status, resolved in (
            (date(2026, 10, 20), "met", at(10, 19)),
            (date(2026, 11, 10), "met", at(11, 12)),
            (date(2026, 11, 30), "open", None),
            (date(2026, 12, 20), "open", None),
        ):
            s.execute(
                insert(t.Condition).values(
                    project_key="A",
                    round_id=rounds["r1"],
                    gate_id=RFP,
                    text="fix it",
                    owner_id="mgr",
                    due_on=due,
                    verification="verifier:sam",
                    status=status,
                    resolved_at=resolved,
                )
            )
        # Gate dates: A's RFP on 1 Oct (first review that day: on time), D's RFC on 25 Oct (reviewed 1 Nov: late),
        # A's RFE on 20 Dec (not due yet), C's kickoff (not a gate), B's RFP on 30 Sep (Q3; reviewed 1 Oct: late).
        for key, milestone, due in (
            ("A", RFP, date(2026, 10, 1)),
            ("D", RFC, date(2026, 10, 25)),
            ("A", RFE, date(2026, 12, 20)),
            ("C", "kickoff", date(2026, 10, 10)),
            ("B", RFP, date(2026, 9, 30)),
        ):
            s.execute(insert(t.Milestone).values(project_key=key, id=milestone, name=milestone, due=due))
        # Status reports: A on 15 Nov (20 days before 5 Dec: fresh) and 10 Sep (fresh on 30 Sep); B on 20 Oct
        # (46 days: stale).
        for key, day in (("A", date(2026, 11, 15)), ("A", date(2026, 9, 10)), ("B", date(2026, 10, 20))):
            s.execute(insert(t.EvmReport).values(project_key=key, as_of=day, actual_cost=Decimal(1)))
        for seq, (key, raised) in enumerate((("B", at(9, 20)), ("D", at(10, 15))), start=1):
            s.execute(
                insert(t.ToleranceExceptionRow).values(
                    project_key=key,
                    scope="*",
                    dimension="cost",
                    seq=seq,
                    level="project_board",
                    owner_id="sam",
                    baseline=Decimal(1000),
                    forecast=Decimal(1300),
                    allowance=Decimal(100),
                    deviation=Decimal(300),
                    raised_at=raised,
                )
            )
        s.execute(
            insert(t.Lesson).values(
                id=1,
                project_key="C",
                template_id="it-pmo",
                gate_id=RFP,
                category="scope",
                tags=[],
                what_happened="scope crept",
                author_id="mgr",
            )
        )
        # Lessons shown at r1, r2 and r5 (Q4); applied at r1, and at r6 where none was shown: 1 of 3.
        for name, kind in (("r1", "shown"), ("r1", "applied"), ("r2", "shown"), ("r5", "shown"), ("r6", "applied")):
            key, gate_id = review[name]
            s.execute(
                insert(t.LessonUse).values(
                    lesson_id=1,
                    kind=kind,
                    review_id=ids[name],
                    project_key=key,
                    gate_id=gate_id,
                    person_id="sam" if kind == "applied" else "system",
                )
            )


def dimension(report: MaturityReport, dimension_id: str, quarter: int = -1) -> DimensionScore:
    return next(d for d in report.trend[quarter].dimensions if d.id == dimension_id)


def test_hand_computed_quarter(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        sessions = make_session_factory(engine)
        seed(sessions)
        report = services.maturity_report(
            actor=actors.person("sam"), uow=lambda: SqlUnitOfWork(engine), now=NOW, quarter="2026-Q4"
        )
    finally:
        engine.dispose()
    assert [q.quarter for q in report.trend] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert report.current is report.trend[-1] and report.current.as_of == date(2026, 12, 5)
    got = {d.id: (d.hits, d.count, d.level) for d in report.current.dimensions}
    assert got == {
        "reviews_on_time": (1, 2, 2),  # 50%: level 2 (50/70/85/95)
        "documents_first_review": (3, 4, 3),  # r1, r5, r6 of r1, r2, r5, r6: 75%, level 3 (40/60/80/95)
        "status_fresh": (1, 2, 2),  # A fresh, B stale; C and D killed, E closed: 50%, level 2
        "decisions_in_sla": (3, 4, 3),  # r6 had no due time: 75%, level 3
        "conditions_on_time": (1, 3, 1),  # 33%: level 1
        "exceptions_early": (1, 3, 2),  # D's exception vs C's kill and A's hold found late: 33%, level 2 (30/50)
        "lessons_reused": (1, 3, 3),  # 33%: level 3 (10/25/40/60)
        "early_kills": (1, 2, 3),  # C at gate 1 of 4, D at gate 3: 50%, level 3 (25/50/70/85)
    }
    assert report.current.overall == 1  # the lowest dimension, as in P3M3
    sla = dimension(report, "decisions_in_sla")
    assert (
        sla.evidence == "3 of 4 decisions with a due time (75%)"
        and sla.evidence_zh == "有时限的决策 4 个，其中 3 个达标（75%）"
    )
    assert sla.next_step.startswith("level 4 needs 85%: 1 more of 4")  # ceil(0.85 * 4) = 4
    conditions = dimension(report, "conditions_on_time")
    assert conditions.next_step.startswith("level 2 needs 50%: 1 more of 3")  # ceil(1.5) = 2
    assert "达到 2 级需 50%" in conditions.next_step_zh

    q3 = {d.id: (d.hits, d.count, d.level) for d in report.trend[-2].dimensions}
    assert report.trend[-2].as_of == date(2026, 9, 30)
    assert q3["reviews_on_time"] == (0, 1, 1)  # B's RFP on 30 Sep, first reviewed 1 Oct
    assert q3["status_fresh"] == (1, 4, 1)  # A, B, C, D in the portfolio on 30 Sep; only A reported (10 Sep)
    assert q3["exceptions_early"] == (1, 1, 5)  # B's exception, no adverse decision in Q3
    assert q3["decisions_in_sla"] == (0, 0, None) and q3["early_kills"] == (0, 0, None)
    assert dimension(report, "lessons_reused", -2).evidence.startswith("no evidence")
    assert report.trend[-2].overall == 1 and report.trend[0].overall is None


def test_bad_quarter_is_refused(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(InputError, match=r"--quarter: '2026-Q9' is not a quarter"):
            services.maturity_report(
                actor=actors.person("sam"), uow=lambda: SqlUnitOfWork(engine), now=NOW, quarter="2026-Q9"
            )
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
    # A past quarter reads the same whatever today is: Q3 is measured as of 30 September.
    data: dict[str, Any] = json.loads(run("report", "maturity", "--quarter", "2026-Q3", "--json", db=sqlite_url).stdout)
    assert data["current"]["quarter"] == "2026-Q3" and data["current"]["overall"] == 1
    q3 = {d["id"]: (d["hits"], d["count"], d["level"]) for d in data["current"]["dimensions"]}
    assert q3["exceptions_early"] == (1, 1, 5) and q3["status_fresh"] == (1, 4, 1)
    assert [q["quarter"] for q in data["trend"]] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    table = run("report", "maturity", "--quarter", "2026-Q3", db=sqlite_url).stdout.splitlines()
    assert table[0] == "Maturity 2026-Q3 (as of 2026-09-30): overall level 1 (the lowest dimension)"
    fresh = next(line for line in table if "Status reports fresh" in line)
    assert fresh.split()[0] == "1" and fresh.endswith("1 of 4 projects in the portfolio (25%)")
    refused = run("report", "maturity", "--quarter", "Q3", db=sqlite_url, expect=2)
    assert refused.stderr.startswith("phasegate: --quarter: 'Q3' is not a quarter") and not refused.stdout


def test_portfolio_report_carries_the_quarters_maturity(sqlite_url: str, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    engine = make_engine(sqlite_url)
    try:
        seed(make_session_factory(engine))
    finally:
        engine.dispose()
    run(*actors.bootstrap_admin_args(), db=sqlite_url)
    book = tmp_path / "report.xlsx"
    # September 2026 ends in Q3, which is measured as of 30 September whatever today is.
    run("report", "portfolio", "--period", "2026-09", "--format", "xlsx", "--out", str(book), db=sqlite_url)
    rows = {row[0].value: row for row in load_workbook(book)["Maturity"].iter_rows(min_row=2)}
    assert rows["Status reports fresh"][1].value == 1
    assert rows["Status reports fresh"][2].value == "1 of 4 projects in the portfolio (25%)"
    assert rows["Exceptions raised, not found late"][1].value == 5 and rows["Early kills"][1].value is None
    html = tmp_path / "report.html"
    run("report", "portfolio", "--period", "2026-09", "--format", "html", "--lang", "zh-CN", "--out", str(html),
        db=sqlite_url)  # fmt: skip
    page = html.read_text(encoding="utf-8")
    assert "成熟度 2026-Q3: 总体成熟度等级（取最低维度） 1" in page and "在册项目 4 个，其中 1 个达标（25%）" in page

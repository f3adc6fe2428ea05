"""Prioritisation: exact portfolio selection within a budget, hand-computed, and the reasons for what is left out;
then through the read model on SQLite and PostgreSQL (expected benefit set by ``update_project``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.prioritisation import Candidate, best_selection, parse_budget, prioritise, remaining_cost
from phasegate.gates.vocabulary.commands import UpdateProject
from phasegate.gates.vocabulary.errors import InputError
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from tests import actors

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
PHASEGATE = str(Path(sys.executable).with_name("phasegate"))


def c(key: str, cost: int, benefit: int | None, score: float | None = None, status: str = "active") -> Candidate:
    return Candidate(key, key.lower(), status, Decimal(cost), None if benefit is None else Decimal(benefit), score)


def test_greedy_by_ratio_is_not_optimal_and_the_exact_selection_is() -> None:
    # Budget 10. A: cost 6, benefit 66 (11 per unit); B and C: cost 5, benefit 50 (10 per unit).
    # Greedy by ratio takes A, then 4 is left and neither B nor C fits: 66. Exact: B + C = 100.
    proposal = prioritise([c("A", 6, 66), c("B", 5, 50), c("C", 5, 50)], Decimal(10))
    assert [r.key for r in proposal.ranked] == ["A", "B", "C"]  # ranked by value per cost
    assert [r.key for r in proposal.selected] == ["B", "C"]
    assert (proposal.spent, proposal.unspent, proposal.total_benefit) == (Decimal(10), Decimal(0), Decimal(100))
    (a,) = proposal.left_out
    # Forced in, A leaves 4: nothing else fits, so the best total with A is 66, 34 below 100.
    assert a.reason == "does_not_fit" and a.forgone == Decimal("34.00")
    assert "needs 6.00 but only 0.00 is left unspent" in a.detail and "34.00" in a.detail
    assert "34.00" in a.detail_zh and a.value_per_cost == Decimal("11.0000")


def test_reasons_for_each_kind_of_left_out_project() -> None:
    proposal = prioritise(
        [
            c("BIG", 120, 10_000),  # alone over the budget of 100
            c("NOVAL", 10, None, score=9.5),  # no benefit recorded: ranked by scorecard after the valued ones
            c("ZERO", 5, 0),  # benefit zero
            c("X", 60, 300),  # 5 per unit
            c("Y", 50, 200),  # 4 per unit
            c("Z", 40, 120),  # 3 per unit
            c("DONE", 70, 900, status="killed"),  # not a candidate at all
            c("HOLD", 30, 30, status="on_hold"),  # 1 per unit
        ],
        Decimal(100),
    )
    # Best within 100: X + Z = 100 cost, 420 benefit (X + Y = 110 does not fit; Y + Z + HOLD = 120 does not;
    # Y + Z = 90 gives 320; X + HOLD = 90 gives 330).
    assert [r.key for r in proposal.selected] == ["X", "Z"] and proposal.total_benefit == Decimal(420)
    reasons = {r.key: r.reason for r in proposal.ranked}
    assert reasons == {
        "BIG": "over_budget",
        "X": "selected",
        "Y": "does_not_fit",
        "Z": "selected",
        "HOLD": "does_not_fit",
        "ZERO": "no_value",
        "NOVAL": "no_benefit",
    }
    assert [r.key for r in proposal.ranked] == ["BIG", "X", "Y", "Z", "HOLD", "ZERO", "NOVAL"]
    forgone = {r.key: r.forgone for r in proposal.left_out}
    # Y forced in: Y + Z = 320 (Y + X is 110), 100 below 420. HOLD forced in: HOLD + X = 330, 90 below.
    assert forgone["Y"] == Decimal("100.00") and forgone["HOLD"] == Decimal("90.00") and forgone["BIG"] is None
    assert "alone is over the budget 100.00" in next(r.detail for r in proposal.ranked if r.key == "BIG")
    assert "budget only" in proposal.capacity_note and "仅按预算" in proposal.capacity_note_zh


def test_ties_and_empty_portfolios() -> None:
    empty = prioritise([], Decimal(1000))
    assert empty.ranked == () and empty.spent == Decimal(0) and empty.unspent == Decimal(1000)
    # Equal value per cost: the higher scorecard ranks first.
    proposal = prioritise([c("P", 10, 20, score=4.0), c("Q", 10, 20, score=8.0)], Decimal(0))
    assert [r.key for r in proposal.ranked] == ["Q", "P"] and proposal.selected == ()
    # A project that needs no more money and brings benefit is always taken and ranks first.
    free = prioritise([c("F", 0, 5), c("G", 3, 9)], Decimal(2))
    assert [r.key for r in free.selected] == ["F"] and free.ranked[0].key == "F"


def test_exact_solver_on_a_larger_hand_checked_case() -> None:
    # Items (cost, value), ratios 6, 5, 4, 4.5. Capacity 50: 0 + 1 + 3 (cost 50, value 250), as greedy finds.
    # Capacity 40: greedy takes 0 and 1 (30) and nothing else fits: 160; exact is 1 + 3 (cost 40) = 190
    # (0 + 2 = 180, 0 + 3 = 150). With item 2 forced in: 2 + 0 = 180 (2 + 1 and 2 + 3 cost 50).
    costs, values = [10, 20, 30, 20], [60, 100, 120, 90]
    assert best_selection(costs, values, 50) == {0, 1, 3}
    assert best_selection(costs, values, 40) == {1, 3}
    assert best_selection(costs, values, 40, forced=2) == {0, 2}
    assert best_selection(costs, values, 5) == frozenset()
    assert best_selection([60], [1], 50, forced=0) == frozenset()  # infeasible when forced


def test_budget_parsing_and_remaining_cost() -> None:
    assert parse_budget("1,200,000") == Decimal("1200000.00") and parse_budget("99.999") == Decimal("100.00")
    for bad in ("lots", "-5", "NaN", "inf", "1e999", "10000000000000000"):
        with pytest.raises(InputError, match="--budget"):
            parse_budget(bad)
    assert remaining_cost(Decimal(100), Decimal(30)) == Decimal(70) and remaining_cost(
        Decimal(100), Decimal(130)
    ) == Decimal(0)
    assert remaining_cost(Decimal(100), None) == Decimal(100)


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
        # (key, budget, benefit, status)
        for key, budget, benefit, status in (
            ("A", 600, None, "active"),  # benefit set below through update_project: 660
            ("B", 500, 500, "active"),
            ("C", 700, 600, "active"),  # baseline BAC 800 and 300 spent: needs 500
            ("D", 100, 5000, "killed"),
        ):
            s.execute(
                insert(t.Project).values(
                    key=key,
                    name=f"Project {key}",
                    template_id="it-pmo",
                    template_version=template.version,
                    template_hash="h" * 64,
                    sponsor_id="sam",
                    manager_id="mgr",
                    budget=Decimal(budget),
                    expected_benefit=None if benefit is None else Decimal(benefit),
                    stage_id="planning",
                    status=status,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        s.execute(insert(t.Baseline).values(project_key="C", bac=Decimal(800)))
        s.execute(insert(t.EvmReport).values(project_key="C", as_of=date(2026, 10, 31), actual_cost=Decimal(200)))
        s.execute(insert(t.EvmReport).values(project_key="C", as_of=date(2026, 11, 30), actual_cost=Decimal(300)))
        s.execute(insert(t.EvmReport).values(project_key="C", as_of=date(2026, 12, 31), earned_value=Decimal(1)))
        for gatekeeper, score in (("sam", 6), ("mgr", 9)):
            s.execute(
                insert(t.Score).values(
                    project_key="B", gate_id="ready-for-planning", gatekeeper=gatekeeper, factor="fit", score=score
                )
            )


def test_through_the_read_model(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        sessions = make_session_factory(engine)
        seed(sessions)
        uow = lambda: SqlUnitOfWork(engine)  # noqa: E731
        with sessions() as s, s.begin():
            s.execute(insert(t.Person).values(id="admin", name="admin", email="a@example.com", org_roles=["pmo_admin"]))
        cmd = UpdateProject(key="A", expected_benefit=Decimal(660), reason="business case v2")
        updated = services.update_project(cmd, actor=actors.admin(), uow=uow, now=NOW)
        assert updated.expected_benefit == Decimal(660)
        with uow() as tx:
            stored = tx.projects.get_project("A")
        assert stored is not None and stored.expected_benefit == Decimal("660.00")
        proposal = services.prioritise_portfolio(budget="1000", actor=actors.person("sam"), uow=uow, now=NOW)
    finally:
        engine.dispose()
    rows = {r.key: r for r in proposal.ranked}
    assert "D" not in rows  # killed: not a candidate
    # C needs BAC 800 less the latest actual cost 300 (the December report has none) = 500.
    assert rows["C"].cost == Decimal(500) and rows["A"].cost == Decimal(600) and rows["B"].cost == Decimal(500)
    assert rows["B"].score == pytest.approx(7.5) and rows["A"].score is None
    # Ratios: A 1.1, C 1.2, B 1.0. Within 1000: B + C = 1100 benefit (A + anything is over 1000).
    assert [r.key for r in proposal.ranked] == ["C", "A", "B"]
    assert [r.key for r in proposal.selected] == ["C", "B"] and proposal.total_benefit == Decimal(1100)
    assert rows["A"].reason == "does_not_fit" and rows["A"].forgone == Decimal("440.00")  # A + nothing = 660


def run(*args: str, db: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PHASEGATE, *args, "--db", db], capture_output=True, text=True, timeout=180)
    assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def test_cli_update_and_prioritise(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        seed(make_session_factory(engine))
    finally:
        engine.dispose()
    run(*actors.bootstrap_admin_args(), db=sqlite_url)
    line = run("project", "update", "A", "--expected-benefit", "660", "--reason", "case v2", db=sqlite_url).stdout
    assert "expected benefit 660.00" in line
    bad = run("project", "update", "A", "--expected-benefit", "-1", "--reason", "x", db=sqlite_url, expect=2)
    assert bad.stderr.startswith("phasegate: --expected-benefit:")
    data: dict[str, Any] = json.loads(
        run("portfolio", "prioritise", "--budget", "1000", "--json", db=sqlite_url).stdout
    )
    assert data["selected"] == ["C", "B"] and Decimal(data["total_benefit"]) == Decimal(1100)
    assert [r["key"] for r in data["ranked"]] == ["C", "A", "B"] and data["ranked"][1]["reason"] == "does_not_fit"
    table = run("portfolio", "prioritise", "--budget", "1,000", db=sqlite_url).stdout.splitlines()
    assert table[0] == "Budget 1,000: 2 projects selected, cost 1,000, unspent 0, expected benefit 1,100"
    assert table[3].split()[:3] == ["1", "*", "C"] and "lower the total benefit by 440.00" in table[4]
    refused = run("portfolio", "prioritise", "--budget", "plenty", db=sqlite_url, expect=2)
    assert refused.stderr.startswith("phasegate: --budget: 'plenty' is not an amount") and not refused.stdout


def test_portfolio_report_sections(sqlite_url: str, tmp_path: Path) -> None:
    import io

    from openpyxl import load_workbook
    from pypdf import PdfReader

    engine = make_engine(sqlite_url)
    try:
        seed(make_session_factory(engine))
    finally:
        engine.dispose()
    run(*actors.bootstrap_admin_args(), db=sqlite_url)
    html = tmp_path / "report.html"
    run("report", "portfolio", "--period", "2026-11", "--format", "html", "--budget", "1000", "--out", str(html),
        db=sqlite_url)  # fmt: skip
    page = html.read_text(encoding="utf-8")
    assert "Budget 1,000.00: 2 selected, cost 1,000.00, unspent 0.00, expected benefit 1,100.00" in page
    assert '<table id="prioritisation">' in page and "no expected benefit recorded" in page
    assert '<table id="maturity">' in page  # always there: this portfolio has no evidence yet
    book = tmp_path / "report.xlsx"
    run("report", "portfolio", "--period", "2026-11", "--format", "xlsx", "--lang", "zh-CN", "--budget", "1000",
        "--out", str(book), db=sqlite_url)  # fmt: skip
    sheet = load_workbook(book)["优先级排序"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2, max_row=4)]
    # C (1.2 per unit) and B (1.0) selected; A has no expected benefit in this seed: ranked last, left out.
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, "是", "C"), (2, "是", "B"), (3, None, "A")]
    assert rows[2][9] is not None and "未记录预期收益" in rows[2][9]
    pdf = tmp_path / "report.pdf"
    run("report", "portfolio", "--period", "2026-11", "--budget", "1000", "--out", str(pdf), db=sqlite_url)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Prioritisation" in text and "Maturity 2026-Q4" in text
    bad = run("report", "portfolio", "--period", "2026-11", "--budget", "x", "--out", str(pdf), db=sqlite_url,
              expect=2)  # fmt: skip
    assert bad.stderr.startswith("phasegate: --budget:")

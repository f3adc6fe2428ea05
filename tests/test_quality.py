"""Quality between gates: metrics imported with the actuals (CSV/XLSX, row-level errors, all or nothing) and
forecast against the quality tolerance by the portfolio scan, on real SQLite and PostgreSQL.

it-pmo@2's quality tolerance is 5 % (project board, owned by the sponsor): the worse of the test pass rate and
acceptance may fall 5 points short of 100 %.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from phasegate.gates.exceptions import quality_shortfall
from phasegate.gates.vocabulary.commands import AddPerson, CreateProject
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import EvmReportRecord
from phasegate.gates.vocabulary.tolerance import Dimension
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from phasegate.usecases.ports import UnitOfWork
from tests import actors

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PHASEGATE = str(Path(sys.executable).with_name("phasegate"))


def test_the_shortfall_is_the_worse_rate_below_100() -> None:
    assert quality_shortfall(Decimal("97.5"), Decimal(92)) == Decimal(8)
    assert quality_shortfall(None, Decimal("99.25")) == Decimal("0.75")
    assert quality_shortfall(None, None) is None


class Env:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.at = T0

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def now(self) -> datetime:
        self.at += timedelta(days=1)
        return self.at

    def report(self, key: str, **quality: Any) -> None:
        services.record_status(
            [
                EvmReportRecord(
                    project_key=key,
                    as_of=self.at.date(),
                    earned_value=Decimal(1000),
                    actual_cost=Decimal(1000),
                    **{k: Decimal(str(v)) if k != "defects" else v for k, v in quality.items()},
                )
            ],
            actor=SYSTEM_ACTOR,
            uow=self.uow,
            now=self.at,
        )


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = Env(db_url)
    for text, template in shipped_templates():
        services.publish_template(
            template, content_hash=template_content_hash(template), source=text, uow=e.uow, now=T0, actor=SYSTEM_ACTOR
        )
    for pid in ("sam", "mgr"):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com", notify_urls=(f"json://127.0.0.1:9/{pid}",)),
            uow=e.uow,
            now=T0,
            actor=SYSTEM_ACTOR,
        )
    for key in ("Q1", "Q2", "Q3"):
        services.create_project(
            CreateProject(
                key=key, template_id="it-pmo", name=key, sponsor_id="sam", manager_id="mgr", budget=Decimal(10000)
            ),
            uow=e.uow,
            now=T0,
            actor=SYSTEM_ACTOR,
        )
    yield e
    e.engine.dispose()


def test_quality_rag_and_exception_from_the_status_reports(env: Env) -> None:
    env.now()
    env.report("Q1", test_pass_rate="91", acceptance="99", defects=14)  # 9 points short: breach
    env.report("Q2", test_pass_rate="97", acceptance="98.5")  # 3 points short: 60 % of 5 consumed, amber
    env.report("Q3", test_pass_rate="99")  # 1 point short: green
    scan = services.scan_projects(["Q1", "Q2", "Q3"], uow=env.uow, now=env.at)
    health = {h.project_key: (h.quality.value, h.cost.value, h.overall.value) for h in scan.health}
    # Cost: EV = AC, on budget (green). Overall is the worst dimension; time (no plan start) and risk (no
    # register) are unknown here, and unknown outranks green: a missing forecast never shows a project green.
    assert health == {
        "Q1": ("red", "green", "red"),
        "Q2": ("amber", "green", "amber"),
        "Q3": ("green", "green", "unknown"),
    }
    assert [(e.project_key, e.dimension, e.deviation, e.allowance, e.forecast) for e in scan.raised] == [
        ("Q1", Dimension.QUALITY, Decimal("9.00"), Decimal("5.00"), Decimal("91.00"))
    ]
    assert services.scan_projects(["Q1"], uow=env.uow, now=env.at).raised == ()  # once
    # Q3 worsens for two periods in a row while still under half its tolerance: amber by trend.
    for rate in ("98.5", "98"):
        env.now()
        env.report("Q3", test_pass_rate=rate)
        latest = services.scan_projects(["Q3"], uow=env.uow, now=env.at)
    assert latest.health[0].quality.value == "amber"
    history = [(r.as_of, r.rag) for r in services.rag_history("Q3", uow=env.uow) if r.dimension == "quality"]
    assert [rag for _, rag in history] == ["green", "green", "amber"] and len({d for d, _ in history}) == 3
    with env.sessions() as session:
        stored = session.execute(
            select(t.EvmReport.defects, t.EvmReport.test_pass_rate).where(t.EvmReport.project_key == "Q1")
        ).one()
    assert (stored.defects, stored.test_pass_rate) == (14, Decimal(91))


def _cli(url: str, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PHASEGATE, *args, "--db", url], capture_output=True, text=True, timeout=180)
    assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_actuals_import_takes_quality_columns_and_refuses_bad_rows_naming_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    _cli(url, "db", "upgrade")
    _cli(url, *actors.bootstrap_admin_args())
    for pid, role in (("sam", "gatekeeper"), ("mgr", "manager")):
        _cli(url, "person", "add", pid, "--name", pid.title(), "--email", f"{pid}@example.com", "--role", role)
    _cli(
        url,
        "project",
        "create",
        "Q1",
        "--template",
        "it-pmo",
        "--name",
        "Q",
        "--sponsor",
        "sam",
        "--manager",
        "mgr",
        "--budget",
        "10000",
    )
    header = "project,as_of,planned_value,earned_value,actual_cost,defects,test_pass_rate,acceptance\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "Q1,2026-11-30,100,100,100,3,101,90\nQ1,2026-12-01,100,100,100,-1,95,97.555\n")
    refused = _cli(url, "actuals", "import", str(bad), expect=2)
    assert "row 2: test_pass_rate: must be a percentage from 0 to 100; found 101" in refused.stderr
    assert "row 3: defects: must be at least 0; found -1" in refused.stderr
    assert "row 3: acceptance: must have at most 2 decimal places" in refused.stderr
    with sqlite3.connect(tmp_path / "q.db") as con:
        assert con.execute("select count(*) from evm_reports").fetchone()[0] == 0  # all or nothing
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header.strip().split(","))
    sheet.append(["Q1", date(2026, 11, 30), 100, 100, 100, 4, 93.5, None])
    book.save(tmp_path / "good.xlsx")
    done = json.loads(_cli(url, "actuals", "import", str(tmp_path / "good.xlsx"), "--json").stdout)
    assert done["imported"] == 1
    with sqlite3.connect(tmp_path / "q.db") as con:
        row = con.execute("select defects, test_pass_rate, acceptance from evm_reports").fetchone()
    assert (row[0], Decimal(str(row[1])), row[2]) == (4, Decimal("93.5"), None)

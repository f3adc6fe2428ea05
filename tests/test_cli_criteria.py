"""Gate criteria from the command line: documents with sections, EVM, imports, risks, milestones, scores, plug-ins.

Real processes on a real SQLite file, real Markdown and XLSX files.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from phasegate.gates.vocabulary.commands import AddPerson, CreateProject
from phasegate.gates.vocabulary.identity import OrgRole
from phasegate.models.template_yaml import shipped_templates
from tests.conftest import whole_sqlite_file
from tests.test_cli import PHASEGATE, Cli, ready

IT_PMO = next(t for _, t in shipped_templates() if t.id == "it-pmo")


@pytest.fixture(scope="session")
def _seeded(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Cli:
    """Written once, in this process (``test_cli.ready``): setup, not what the tests of the criteria are about."""
    runner = Cli(tmp_path_factory.mktemp("criteria-seed") / "criteria.db")
    shutil.copy(_sqlite_template, runner.db)
    ready(
        runner.url,
        people=[
            AddPerson(id=pid, name=name, email=f"{pid}@example.com", roles=frozenset({OrgRole.GATEKEEPER}))
            for pid, name in (("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol"))
        ],
        projects=[
            CreateProject(
                key="P1",
                template_id="it-pmo",
                name="Pilot",
                sponsor_id="alice",
                manager_id="bob",
                budget=Decimal(100000),
            )
        ],
        assignments=[("P1", "pmo", "carol")],
    )
    whole_sqlite_file(runner.db)  # ready() closed its engine: each test's copy is the whole database
    return runner


@pytest.fixture
def cli(tmp_path: Path, _seeded: Cli) -> Cli:
    """Project P1 (it-pmo, budget 100,000) with alice as sponsor, bob as manager and carol as its PMO, for this test."""
    return _seeded.copy(tmp_path / "criteria.db")


def _write_doc(folder: Path, deliverable: str, *, drop: str | None = None) -> Path:
    sections = [s for s in IT_PMO.deliverable(deliverable).required_sections if s != drop]
    path = folder / f"{deliverable}.md"
    path.write_text(
        f"# {deliverable}\n\n" + "\n\n".join(f"## {i}. {s}\n\ntext" for i, s in enumerate(sections, 1)),
        encoding="utf-8",
    )
    return path


def _register_all(cli: Cli, folder: Path, *, drop: tuple[str, str] | None = None) -> dict[str, Path]:
    paths = {}
    for deliverable in IT_PMO.gates[0].deliverables:
        missing = drop[1] if drop and drop[0] == deliverable else None
        paths[deliverable] = _write_doc(folder, deliverable, drop=missing)
        signer = {"sponsor": "alice", "pmo": "carol"}[IT_PMO.deliverable(deliverable).approver_role]
        cli.run("doc", "add", "P1", deliverable, str(paths[deliverable]), "--approved-by", signer)
    return paths


def _trace(check: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["code"]: entry for entry in check["trace"]}


def test_documentation_standard_sections_hashes_and_approver_roles(cli: Cli, tmp_path: Path) -> None:
    paths = _register_all(cli, tmp_path, drop=("project-charter", "Success criteria"))
    check = cli.json("gate", "check", "P1")
    sections = _trace(check)["doc.required_sections"]
    assert sections["result"] == "fail" and "Success criteria" in sections["message"]
    assert "project-charter.md" in sections["message"] and sections["remediation_zh"]
    assert check["recommendation"] == "recycle"

    _write_doc(tmp_path, "project-charter")
    cli.run("doc", "add", "P1", "project-charter", str(paths["project-charter"]), "--approved-by", "alice")
    check = cli.json("gate", "check", "P1")
    assert check["recommendation"] == "go", check["trace"]
    assert all(entry["evidence_ref"] for entry in check["trace"])

    # The gate reads phasegate's stored copy: editing the original after approval changes nothing ...
    paths["business-case"].write_text("# edited after approval\n", encoding="utf-8")
    assert cli.json("gate", "check", "P1")["recommendation"] == "go"
    # ... until the edited file is registered: a new version, not approved by anyone yet.
    edited = cli.run("doc", "add", "P1", "business-case", str(paths["business-case"])).stdout
    assert "business-case v2 registered" in edited
    approved = _trace(cli.json("gate", "check", "P1"))["doc.approved_by_role"]
    assert approved["result"] != "pass"
    assert f"{IT_PMO.deliverable('business-case').name} v2 is not approved" in approved["message"]

    cli.run("doc", "add", "P1", "business-case", str(_write_doc(tmp_path, "business-case")), "--approved-by", "bob")
    wrong = _trace(cli.json("gate", "check", "P1"))["doc.approved_by_role"]
    assert wrong["result"] == "fail" and "bob" in wrong["message"]


def test_evm_report_and_baseline_show_in_the_check(cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text("project,period_end,planned_value\nP1,2026-09-30,20000\nP1,2026-10-31,45000\n", encoding="utf-8")
    cli.run(
        "baseline",
        "set",
        "P1",
        "--bac",
        "100000",
        "--contingency",
        "10000",
        "--plan",
        str(plan),
        "--stage-budget",
        "initiating=30000",
    )
    cli.run("actuals", "add", "P1", "--as-of", "2026-11-01", "--ev", "40000", "--ac", "50000")
    check = cli.json("gate", "check", "P1", "--gate", "ready-for-closing")
    evm = check["evm"]
    assert evm["as_of"] == "2026-11-01" and evm["pv"] == "45000.00" and evm["bac"] == "100000.00"
    assert (evm["cv"], evm["sv"], evm["cpi"], evm["spi"]) == ("-10000.00", "-5000.00", "0.8000", "0.8889")
    assert evm["eac_cpi"] == "125000.00" and evm["vac"] == "-25000.00" and evm["tcpi_bac"] == "1.2000"
    trace = _trace(check)
    assert trace["budget.cpi_floor"]["result"] == "fail" and trace["budget.cpi_floor"]["measured"] == "0.8000"
    assert trace["budget.tcpi_ceiling"]["result"] == "fail" and not trace["budget.tcpi_ceiling"]["remediable"]
    assert check["recommendation"] == "kill"  # TCPI 1.2 > 1.10 is marked unrecoverable in it-pmo


def test_actuals_import_reports_every_bad_row_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "actuals.csv"
    bad.write_text(
        "project,as_of,planned_value,earned_value,actual_cost\n"
        "P1,2026-10-01,100,90,95\n"
        "P1,2026-13-01,100,90,95\n"
        "P1,2026-11-01,100,-5,95\n",
        encoding="utf-8",
    )
    done = cli.run("actuals", "import", str(bad), expect=2)
    assert "row 3: as_of" in done.stderr and "row 4: earned_value" in done.stderr
    with sqlite3.connect(cli.db) as con:
        assert con.execute("select count(*) from evm_reports").fetchone()[0] == 0

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["project", "as_of", "planned_value", "earned_value", "actual_cost", "etc"])
    from datetime import date

    sheet.append(["P1", date(2026, 10, 1), 100, 90, 95.5, 20])
    sheet.append(["P1", date(2026, 11, 1), 200, 190, 180, None])
    good = tmp_path / "actuals.xlsx"
    workbook.save(good)
    assert cli.json("actuals", "import", str(good)) == {"imported": 2, "projects": ["P1"]}
    unknown = tmp_path / "other.csv"
    unknown.write_text(
        "project,as_of,planned_value,earned_value,actual_cost\nNOPE,2026-10-01,1,1,1\n", encoding="utf-8"
    )
    assert "unknown project(s) NOPE" in cli.run("actuals", "import", str(unknown), expect=2).stderr


def test_risks_milestones_and_their_criteria(cli: Cli, tmp_path: Path) -> None:
    risks = tmp_path / "risks.csv"
    risks.write_text(
        "project,id,title,owner,probability,impact,response,mitigation\n"
        "P1,R1,Vendor insolvency,carol,4,5,mitigate,Second supplier qualified\n"
        "P1,R2,Key engineer leaves,,4,4,,\n",
        encoding="utf-8",
    )
    cli.run("risk", "import", str(risks))
    cli.run("risk", "add", "P1", "R3", "--title", "Data loss", "--probability", "5", "--impact", "4")
    listed = cli.json("risk", "list", "P1")
    assert [(r["id"], r["score"]) for r in listed] == [("R1", 20), ("R3", 20), ("R2", 16)]
    assert (
        "--probability"
        in cli.run("risk", "add", "P1", "R4", "--title", "x", "--probability", "0", "--impact", "1", expect=2).stderr
    )
    assert (
        "1..5"
        in cli.run("risk", "add", "P1", "R4", "--title", "x", "--probability", "6", "--impact", "1", expect=2).stderr
    )
    cli.run("milestone", "add", "P1", "M1", "--name", "Design signed off", "--due", "2020-01-15")
    check = _trace(cli.json("gate", "check", "P1", "--gate", "ready-for-closing"))
    assert check["risk.top_band_mitigated"]["result"] == "fail" and "R3" in check["risk.top_band_mitigated"]["message"]
    assert check["schedule.milestones_done"]["result"] == "fail"
    cli.run("milestone", "done", "P1", "M1", "--on", "2020-01-20")
    check = _trace(cli.json("gate", "check", "P1", "--gate", "ready-for-closing"))
    assert check["schedule.milestones_done"]["passed"]


def test_scorecard_from_gatekeepers(sqlite_url: str) -> None:
    cli = Cli.of(sqlite_url)
    ready(
        cli.url,
        people=[
            AddPerson(id=pid, name=pid, email=f"{pid}@example.com", roles=frozenset({OrgRole.GATEKEEPER}))
            for pid in ("alice", "bob", "dan")
        ],
        projects=[
            CreateProject(
                key="NPD",
                template_id="cooper-5",
                name="New product",
                sponsor_id="alice",
                manager_id="bob",
                budget=Decimal(50000),
            )
        ],
    )
    factors = [
        "strategic-fit",
        "competitive-advantage",
        "market-attractiveness",
        "synergies",
        "technical-feasibility",
        "reward-vs-risk",
    ]
    cli.run("score", "NPD", "--as", "alice", *[f"{f}=8" for f in factors])
    cli.run("score", "NPD", "--as", "dan", *[f"{f}=2" for f in factors[:-1]], "reward-vs-risk=9")
    entry = _trace(cli.json("gate", "check", "NPD"))["scorecard.pass"]
    assert entry["kind"] == "should_meet" and entry["result"] == "fail"  # weighted mean 5.58 of 10 < 60%
    assert "55.8" in entry["measured"] and "strategic-fit" in entry["message"]  # 8 vs 2: spread above 4, flagged
    assert "colour" in cli.run("score", "NPD", "--as", "alice", "colour=3", expect=2).stderr
    assert "0..10" in cli.run("score", "NPD", "--as", "alice", "synergies=11", expect=2).stderr
    cli.run("score", "NPD", "--as", "dan", *[f"{f}=8" for f in factors])
    assert _trace(cli.json("gate", "check", "NPD"))["scorecard.pass"]["passed"]


def test_template_naming_an_unknown_criterion_fails_validation(tmp_path: Path) -> None:
    source = next(s for s, t in shipped_templates() if t.id == "it-pmo")
    bad = tmp_path / "bad.yaml"
    bad.write_text(source.replace("- code: doc.format_allowed", "- code: doc.made_up", 1), encoding="utf-8")
    done = subprocess.run([PHASEGATE, "template", "validate", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    line = next(n for n, text in enumerate(source.splitlines(), 1) if "doc.format_allowed" in text)
    assert f"{bad}:{line}:" in done.stderr and "unknown criterion 'doc.made_up'" in done.stderr


def test_a_plugin_criterion_from_an_entry_point(sqlite_url: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "acme_gates").mkdir(parents=True)
    (site / "acme_gates" / "__init__.py").write_text(
        "from phasegate.gates.vocabulary.snapshots import CriterionResult\n"
        "def security_review(definition, gate, template, evidence):\n"
        "    ok = evidence.budget < 1000\n"
        "    return CriterionResult(code=definition.code, kind=definition.kind, remediable=definition.remediable,\n"
        "        passed=ok, message='security review ' + ('passed' if ok else 'needed'), message_zh='安全评审')\n",
        encoding="utf-8",
    )
    info = site / "acme_gates-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-gates\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[phasegate.criteria]\nacme.security_review = acme_gates:security_review\n", encoding="utf-8"
    )
    source = next(s for s, t in shipped_templates() if t.id == "it-pmo")
    custom = tmp_path / "acme.yaml"
    custom.write_text(
        source.replace("id: it-pmo", "id: acme-it", 1).replace(
            "      - code: doc.format_allowed\n",
            "      - code: doc.format_allowed\n      - code: acme.security_review\n",
            1,
        ),
        encoding="utf-8",
    )
    env = os.environ | {"PYTHONPATH": str(site)}
    db = sqlite_url

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([PHASEGATE, *args, "--db", db], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == expect, done.stderr
        return done

    ready(  # setup in this process; the plug-in is on the path of the commands below
        db,
        people=[
            AddPerson(id="alice", name="A", email="a@example.com"),
            AddPerson(id="bob", name="B", email="b@example.com"),
        ],
    )
    run("template", "publish", str(custom))
    run(
        "project",
        "create",
        "ACME",
        "--template",
        "acme-it",
        "--name",
        "x",
        "--sponsor",
        "alice",
        "--manager",
        "bob",
        "--budget",
        "5000",
    )
    trace = {e["code"]: e for e in json.loads(run("gate", "check", "ACME", "--json").stdout)["trace"]}
    assert trace["acme.security_review"]["message"] == "security review needed"
    without = subprocess.run(
        [PHASEGATE, "template", "validate", str(custom)], capture_output=True, text=True, timeout=60
    )
    assert without.returncode == 2 and "acme.security_review" in without.stderr

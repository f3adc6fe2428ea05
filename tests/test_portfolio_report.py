"""The portfolio report on a hand-computed portfolio: the model on SQLite and PostgreSQL, then the numbers read
back from the XLSX (openpyxl) and the PDF text (pypdf), in English and Chinese; PDF pages go to PNG (pdftoppm)
and the HTML to a Chromium screenshot under test-artifacts/.

Period 2026-W48 is Monday 23 to Sunday 29 November 2026. Figures (BAC 1000 each, gates.evm rounding):
A: PV 400, EV 380, AC 400 -> CPI 0.9500, SPI 0.9500, EAC = 1000 / 0.95 = 1052.63 (green, green)
B: PV 500, EV 400, AC 500 -> CPI 0.8000, SPI 0.8000, EAC = 1250.00 (red, red)
C: killed in the period (decision on 24 November); a decision on 10 November is outside it.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.portfolio import PortfolioReport, needing_attention, parse_period
from phasegate.gates.vocabulary.errors import InputError
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.notifications.portfolio.document import render
from phasegate.usecases import services
from tests import actors
from tests.browser import artifact

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
NOW = datetime(2026, 11, 30, 8, tzinfo=UTC)
PERIOD = "2026-W48"


def utc(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def seed(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        source, template = next((s_, tp) for s_, tp in shipped_templates() if tp.id == "it-pmo")
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
        for pid, name in (("sam", "Sam Sponsor"), ("wang", "王芳"), ("mgr", "Mo Manager")):
            s.execute(insert(t.Person).values(id=pid, name=name, email=f"{pid}@example.com", org_roles=["gatekeeper"]))
        for key, sponsor, status, stage in (
            ("A", "sam", "active", "initiating"),
            ("B", "wang", "active", "planning"),
            ("C", "sam", "killed", "initiating"),
        ):
            s.execute(
                insert(t.Project).values(
                    key=key,
                    name=f"Project {key}",
                    template_id="it-pmo",
                    template_version=1,
                    template_hash="h" * 64,
                    sponsor_id=sponsor,
                    manager_id="mgr",
                    budget=Decimal(900),
                    status=status,
                    stage_id=stage,
                    created_at=datetime(2026, 9, 1, tzinfo=UTC),
                    updated_at=datetime(2026, 9, 1, tzinfo=UTC),
                )
            )
            s.execute(insert(t.Baseline).values(project_key=key, bac=Decimal(1000)))
        # Earlier reports shape the trend and the S-curve; the latest on or before 29 November counts.
        for key, as_of, pv, ev, ac in (
            ("A", date(2026, 11, 6), 200, 200, 200),
            ("A", date(2026, 11, 20), 400, 380, 400),
            ("B", date(2026, 11, 13), 300, 290, 300),
            ("B", date(2026, 11, 27), 500, 400, 500),
            ("B", date(2026, 12, 4), 600, 450, 700),  # after the period: not in this report
        ):
            s.execute(
                insert(t.EvmReport).values(
                    project_key=key, as_of=as_of, planned_value=pv, earned_value=ev, actual_cost=ac
                )
            )
        rounds = {}
        for key, gate, status, decision, opened, resolved in (
            ("A", "ready-for-planning", "open", None, utc(11, 21), None),
            ("C", "ready-for-planning", "resolved", "recycle", utc(11, 2), utc(11, 10)),
            ("C", "ready-for-planning", "resolved", "kill", utc(11, 20), utc(11, 24, 10)),
            ("B", "ready-for-planning", "resolved", "conditional_go", utc(10, 1), utc(10, 5)),
        ):
            review_id, round_id = uuid.uuid4(), uuid.uuid4()
            s.execute(
                insert(t.GateReview).values(
                    id=review_id, project_key=key, gate_id=gate, stage_id="initiating", status="decided",
                    recommendation="go", evaluation={}, evidence={}, evidence_hash="e" * 64, created_at=opened,
                )
            )  # fmt: skip
            s.execute(
                insert(t.ApprovalRound).values(
                    id=round_id, review_id=review_id, project_key=key, gate_id=gate, policy="unanimous",
                    approvers=["sam"], seats=[{"person_id": "sam", "role": "sponsor"}], evidence_hash="e" * 64,
                    status=status, decision=decision,
                    due_at=datetime(2026, 11, 28, tzinfo=UTC), opened_at=opened, resolved_at=resolved,
                )
            )  # fmt: skip
            rounds[key] = round_id
            if resolved is not None:
                s.execute(
                    insert(t.GateDecision).values(
                        round_id=round_id, project_key=key, gate_id=gate, decision=decision, decided_by=["sam"],
                        reason=f"{decision} reason", decided_at=resolved,
                    )
                )  # fmt: skip
        for n in range(2):
            s.execute(
                insert(t.Condition).values(
                    project_key="B", round_id=rounds["B"], gate_id="ready-for-planning", text=f"c{n}",
                    owner_id="mgr", due_on=date(2026, 12, 15), verification="verifier:sam", status="open",
                )
            )  # fmt: skip
        for key, rid, title, p, i, status in (
            ("A", "R1", "Vendor slips", 4, 5, "open"),
            ("B", "R2", "数据迁移风险", 2, 3, "open"),
            ("B", "R3", "Closed one", 5, 5, "closed"),
        ):
            s.execute(
                insert(t.Risk).values(
                    project_key=key, id=rid, title=title, probability=p, impact=i, status=status, owner="mgr"
                )
            )
        # The monitor's RAG: the latest day on or before 29 November counts, a later one does not.
        for key, as_of, colours in (
            ("A", date(2026, 11, 20), ("amber", "green", "unknown", "red", "red")),
            ("A", date(2026, 11, 27), ("red", "green", "unknown", "red", "red")),
            ("A", date(2026, 12, 2), ("green", "green", "green", "green", "green")),
            ("B", date(2026, 11, 28), ("unknown", "red", "none", "green", "red")),
        ):
            for dimension, rag in zip(("time", "cost", "quality", "risk", "overall"), colours, strict=True):
                s.execute(
                    insert(t.RagSnapshot).values(
                        project_key=key, as_of=as_of, dimension=dimension, rag=rag, taken_at=utc(12, 3)
                    )
                )
        # Exceptions: A's time one raised in the period (open), A's risk one raised before it and accepted in it,
        # B's cost one raised before the period and still open, C's raised after it: open, not of the period.
        for key, dimension, forecast, raised, decided in (
            ("A", "time", Decimal(32), utc(11, 27, 6), None),
            ("A", "risk", Decimal(20), utc(11, 10), utc(11, 25, 9)),
            ("B", "cost", Decimal(1250), utc(11, 5), None),
            ("C", "quality", Decimal(80), utc(12, 1), None),
        ):
            s.execute(
                insert(t.ToleranceExceptionRow).values(
                    id=uuid.uuid4(), project_key=key, scope="*", dimension=dimension, seq=1, level="project_board",
                    owner_id="sam", baseline=Decimal(20), forecast=forecast, allowance=Decimal(10),
                    deviation=Decimal(12), status="closed" if decided else "open", raised_at=raised,
                    decision="accept" if decided else None, decided_by="sam" if decided else None, decided_at=decided,
                    reason="accepted by the board" if decided else "",
                )
            )  # fmt: skip
        for factor, score in (("strategic-fit", 8), ("reward", 6)):
            s.execute(
                insert(t.Score).values(
                    project_key="A", gate_id="ready-for-planning", gatekeeper="sam", factor=factor, score=score
                )
            )


def build(url: str) -> PortfolioReport:
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        seed(sessions)
        return services.portfolio_report(
            period=PERIOD, actor=actors.person("sam"), uow=lambda: SqlUnitOfWork(engine), now=NOW
        )
    finally:
        engine.dispose()


def test_periods_parse_and_bad_ones_name_the_option() -> None:
    week = parse_period("2026-W48")
    assert (week.start, week.end) == (date(2026, 11, 23), date(2026, 11, 29))
    month = parse_period("2026-12")
    assert (month.start, month.end) == (date(2026, 12, 1), date(2026, 12, 31))
    for bad, why in (("2026-W54", "no ISO week 54"), ("2026-13", "month must be 01 to 12"), ("week 48", "ISO week")):
        with pytest.raises(InputError, match=f"--period: .*{why}"):
            parse_period(bad)


def test_report_model(db_url: str) -> None:
    report = build(db_url)
    rows = {r.key: r for r in report.rows}
    assert (rows["A"].cpi, rows["A"].spi, rows["A"].eac) == (Decimal("0.9500"), Decimal("0.9500"), Decimal("1052.63"))
    assert (rows["A"].budget_rag, rows["A"].schedule_rag) == ("green", "green")
    assert (rows["B"].cpi, rows["B"].eac, rows["B"].budget_rag) == (Decimal("0.8000"), Decimal("1250.00"), "red")
    assert rows["B"].as_of == date(2026, 11, 27) and rows["B"].sponsor == "王芳"
    assert rows["A"].next_gate == "ready-for-planning" and rows["A"].next_gate_due == date(2026, 11, 28)
    assert rows["B"].next_gate == "ready-for-executing" and rows["B"].next_gate_due is None
    assert rows["C"].next_gate is None and rows["B"].open_conditions == 2 and rows["A"].open_conditions == 0
    assert (rows["A"].open_exceptions, rows["B"].open_exceptions, rows["C"].open_exceptions) == (1, 1, 1)
    assert (rows["A"].rag_time, rows["A"].rag_cost, rows["A"].rag_quality, rows["A"].rag_risk) == (
        "red", "green", "unknown", "red",
    )  # fmt: skip
    assert (rows["B"].rag_cost, rows["B"].rag_quality, rows["B"].rag_overall, rows["C"].rag_overall) == (
        "red", "none", "red", "none",
    )  # fmt: skip
    assert [(e.project_key, e.dimension, e.status, e.decision) for e in report.exceptions] == [
        ("A", "risk", "closed", "accept"), ("A", "time", "open", None),
    ]  # fmt: skip
    assert dict(report.totals) == {"projects": 3, "active": 2, "killed": 1}
    assert [(f.stage_id, f.count) for f in report.funnel] == [
        ("initiating", 1), ("planning", 1), ("executing", 0), ("closing", 0),
    ]  # fmt: skip
    assert [(d.project_key, d.decision) for d in report.decisions] == [("C", "kill")]
    assert [(r.id, r.probability * r.impact) for r in report.top_risks] == [("R1", 20), ("R2", 6)]
    # The trend's last week end is 29 November: A green, B red; on 15 November A green, B green (CPI 0.9667).
    assert (report.rag_trend[-1].week_end, report.rag_trend[-1].green, report.rag_trend[-1].red) == (
        date(2026, 11, 29), 1, 1,
    )  # fmt: skip
    mid = next(w for w in report.rag_trend if w.week_end == date(2026, 11, 15))
    assert (mid.green, mid.red, mid.unknown) == (2, 0, 0)
    # S-curve: weekly from the first report (6 Nov) to 29 Nov: 8, 15, 22, 29 Nov -> last point sums A and B.
    assert report.s_curve[0].on == date(2026, 11, 8) and report.s_curve[-1].on == date(2026, 11, 29)
    last = report.s_curve[-1]
    assert (last.pv, last.ev, last.ac) == (Decimal(900), Decimal(780), Decimal(900))
    assert [(b.key, b.value, b.risk, b.band) for b in report.bubbles] == [("A", 7.0, 20, "green")]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> PortfolioReport:
    from phasegate.models import schema
    from tests.conftest import sqlite_file_url

    url = sqlite_file_url(tmp_path_factory.mktemp("portfolio") / "p.db")
    schema.upgrade(url)
    return build(url)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_xlsx_numbers_read_back(report: PortfolioReport, lang: str) -> None:
    rendered = render(report, "xlsx", lang)
    (artifact(f"portfolio-{lang}.xlsx")).write_bytes(rendered.content)
    book = load_workbook(io.BytesIO(rendered.content))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[7:11] == [
        "CPI",
        "SPI",
        "EAC" if lang == "en" else "完工估算 EAC",
        "BAC" if lang == "en" else "完工预算 BAC",
    ]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["A"][7] == 0.95 and rows["A"][9] == 1052.63 and rows["A"][10] == 1000
    assert rows["B"][9] == 1250 and rows["B"][20] == 2
    assert rows["B"][11] == ("red" if lang == "en" else "红")
    assert header[13:18] == (
        ["Time RAG", "Cost RAG", "Quality RAG", "Risk RAG", "Overall RAG"]
        if lang == "en"
        else ["时间红黄绿", "成本红黄绿", "质量红黄绿", "风险红黄绿", "总体红黄绿"]
    )
    assert rows["A"][13:18] == (
        ("red", "green", "unknown", "red", "red") if lang == "en" else ("红", "绿", "未知", "红", "红")
    )
    assert rows["B"][15] == ("none" if lang == "en" else "无")
    assert header[21] == ("Open exceptions" if lang == "en" else "未关闭例外")
    assert (rows["A"][21], rows["B"][21], rows["C"][21]) == (1, 1, 1)
    decisions = list(book.worksheets[1].iter_rows(min_row=2, values_only=True))
    assert [(d[0], d[2], d[3]) for d in decisions] == [
        ("C", "kill" if lang == "en" else "终止", datetime(2026, 11, 24, 10))
    ]
    exceptions = list(book.worksheets[2].iter_rows(min_row=2, values_only=True))
    assert book.worksheets[2].title == ("Exceptions of the period" if lang == "en" else "本期例外")
    assert [(e[0], e[1], e[6], e[7], e[9], e[10], e[11]) for e in exceptions] == [
        ("A", "risk" if lang == "en" else "风险", 20, 12, datetime(2026, 11, 10),
         "accepted" if lang == "en" else "接受", datetime(2026, 11, 25, 9)),
        ("A", "time" if lang == "en" else "时间", 32, 12, datetime(2026, 11, 27, 6),
         "open" if lang == "en" else "未关闭", None),
    ]  # fmt: skip
    risks = list(book.worksheets[3].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[6]) for r in risks] == [("R1", 20), ("R2", 6)]
    with zipfile.ZipFile(io.BytesIO(rendered.content)) as parts:
        assert len([n for n in parts.namelist() if n.startswith("xl/media/") and n.endswith(".png")]) == 4


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_pdf_text_reads_back_with_an_embedded_font(report: PortfolioReport, lang: str) -> None:
    rendered = render(report, "pdf", lang)
    path = artifact(f"portfolio-{lang}.pdf")
    path.write_bytes(rendered.content)
    reader = PdfReader(io.BytesIO(rendered.content))
    content = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("2026-W48", "1,052.63", "0.9500", "1,250.00", "Vendor slips", "数据迁移风险", "王芳"):
        assert expected in content, expected
    assert ("Decisions of the period" if lang == "en" else "本期决策") in content
    assert ("kill" if lang == "en" else "终止") in content
    # A header wraps in a narrow column: English between its words, Chinese anywhere.
    words = " ".join(content.split()) if lang == "en" else "".join(content.split())
    assert ("Exceptions of the period" if lang == "en" else "本期例外") in content
    assert ("Open exceptions" if lang == "en" else "未关闭例外") in words
    assert ("Time RAG" if lang == "en" else "时间红黄绿") in words
    assert "2026-11-27 06:00 UTC" in content and "2026-11-25 09:00 UTC" in content  # the period's two exceptions
    assert ("accepted" if lang == "en" else "接受") in content
    assert "2026-12-01" not in content  # C's exception was raised after the period
    fonts = {
        str(font.get_object().get("/BaseFont"))
        for page in reader.pages
        for font in (page["/Resources"].get("/Font") or {}).values()
    }
    assert any("WenQuanYi" in f or "Micro" in f for f in fonts), fonts  # the Chinese font is embedded
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", str(path), str(artifact(f"portfolio-{lang}-page"))],
            check=True,
            timeout=120,
        )
        assert artifact(f"portfolio-{lang}-page-1.png").stat().st_size > 10_000


def test_a_large_portfolio_prints_the_projects_needing_attention_and_files_keep_them_all(
    report: PortfolioReport,
) -> None:
    """Beyond PRINTED_ROWS projects the PDF's table holds those red, amber or with something open, worst first
    (management by exception), and says how many it left out; the XLSX still has one row per project."""
    base = next(r for r in report.rows if r.key == "A")
    green = {
        "budget_rag": "green",
        "schedule_rag": "green",
        "rag_overall": "green",
        "open_exceptions": 0,
        "open_conditions": 0,
    }
    rows = [dataclasses.replace(base, key=f"G{n:04d}", **green) for n in range(2000)]
    flagged = {
        "RED-EVM": dict(green, budget_rag="red"),
        "RED-RAG": dict(green, rag_overall="red", open_exceptions=1),
        "AMBER": dict(green, schedule_rag="amber"),
        "OPEN-EXC": dict(green, open_exceptions=2),
        "OPEN-COND": dict(green, open_conditions=1),
    }
    rows[700:700] = [dataclasses.replace(base, key=key, **flags) for key, flags in flagged.items()]
    large = dataclasses.replace(report, rows=tuple(rows))
    assert [r.key for r in needing_attention(large.rows)] == ["RED-RAG", "RED-EVM", "AMBER", "OPEN-EXC", "OPEN-COND"]
    assert len(needing_attention(large.rows, limit=2)) == 2
    for lang, note in (("en", "5 of 2005 projects"), ("zh-CN", "共 2005 个项目，此处列出需关注的 5 个")):
        reader = PdfReader(io.BytesIO(render(large, "pdf", lang).content))
        content = "".join("".join(page.extract_text() for page in reader.pages).split())  # cells wrap anywhere
        assert "".join(note.split()) in content
        assert (
            [key for key in flagged if key not in content] == [] and "G0000" not in content and "G1999" not in content
        )
        assert len(reader.pages) < 10, len(reader.pages)
    sheet = load_workbook(io.BytesIO(render(large, "xlsx", "en").content)).worksheets[0]
    assert {row[0] for row in sheet.iter_rows(values_only=True)} >= {"G0000", "G1999", *flagged}


def test_html_has_the_tables_and_four_charts(report: PortfolioReport) -> None:
    page = render(report, "html", "zh-CN").content.decode()
    artifact("portfolio-zh-CN.html").write_text(page, encoding="utf-8")
    assert page.count("<svg") == 4 and "项目组合报告" in page and "1,052.63" in page and "王芳" in page


def run(*args: str, db: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PHASEGATE, *args, "--db", db], capture_output=True, text=True, timeout=300)
    assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def test_cli_writes_each_format_and_refuses_bad_input(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    try:
        seed(make_session_factory(engine))
    finally:
        engine.dispose()
    run(*actors.bootstrap_admin_args(), db=sqlite_url)
    out = tmp_path / "r.xlsx"
    done = run("report", "portfolio", "--period", PERIOD, "--format", "xlsx", "--out", str(out), db=sqlite_url)
    assert "3 projects" in done.stdout
    rows = {r[0]: r for r in load_workbook(out).worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert rows["A"][9] == 1052.63
    for args, message in (
        (("--period", "2026-W60"), "--period: '2026-W60': 2026 has no ISO week 60"),
        (
            ("--period", "last week"),
            "--period: 'last week' is not a period; use an ISO week such as 2026-W48 or a month such as 2026-11",
        ),
        (("--format", "docx"), "--format: 'docx' is not a report format; use one of: pdf, html, xlsx"),
        (("--lang", "fr"), "--lang: 'fr' is not a report language; use one of: en, zh-CN"),
    ):
        bad = tmp_path / "bad.out"
        refused = run("report", "portfolio", *args, "--out", str(bad), db=sqlite_url, expect=2)
        assert refused.stderr.strip() == f"phasegate: {message}" and not bad.exists()
    missing = tmp_path / "no-such-font.ttf"
    done = subprocess.run(
        [PHASEGATE, "report", "portfolio", "--period", PERIOD, "--lang", "zh-CN", "--out", str(tmp_path / "f.pdf"),
         "--db", sqlite_url],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PHASEGATE_REPORT_FONT": str(missing)},
    )  # fmt: skip
    assert done.returncode == 2 and not (tmp_path / "f.pdf").exists()
    assert done.stderr.startswith(f"phasegate: PHASEGATE_REPORT_FONT: {missing} is not a file; install a font")
    html = tmp_path / "r.html"
    run(
        "report",
        "portfolio",
        "--period",
        PERIOD,
        "--format",
        "html",
        "--lang",
        "zh-CN",
        "--out",
        str(html),
        db=sqlite_url,
    )
    assert "项目组合报告" in html.read_text(encoding="utf-8")


def test_management_notice_counts_the_exceptions(report: PortfolioReport) -> None:
    from phasegate.flows.report import portfolio_summary
    from phasegate.notifications.render import render as render_notice

    summary = portfolio_summary(report)
    assert (summary.exceptions, summary.open_exceptions) == (2, 3)
    context = summary.model_dump(mode="json")
    assert "2 raised or decided this period, 3 open" in render_notice("portfolio_report", "en", context).body_text
    assert "本期提出或决定 2 项，未关闭 3 项" in render_notice("portfolio_report", "zh-CN", context).body_text

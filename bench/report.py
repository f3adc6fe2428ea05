"""Reports to management over a generated portfolio: time per step and the process's peak memory.

Prints ``name: value`` lines. Run: ``.venv/bin/python bench/report.py [--projects 1000 10000] [--pdf-max 2000]``.
Each size runs in its own process (so ``peak_rss_mb`` is that size's alone) on a fresh SQLite file at head,
filled with Core bulk inserts: N projects on it-pmo, a baseline each, eight weekly status reports, one decided
round and one open round each, two open risks and a scorecard. Timed: the gate analytics (read model and
computation), the portfolio report model, its four charts, and the HTML, XLSX and PDF renderings (the PDF
only up to ``--pdf-max`` projects: its table is one row per project, hundreds of pages at 10,000). With several
sizes, ``report_<step>_growth_<a>_to_<b>`` is the step's time per project at the larger size over that at the
smaller: 1.0 is linear growth.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from phasegate.gates.vocabulary.errors import ReportFontError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.schema import upgrade
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services

PERIOD = "2026-W48"
END = date(2026, 11, 29)


def fill(url: str, n: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    source, template = next((s, tp) for s, tp in shipped_templates() if tp.id == "it-pmo")
    at = datetime(2026, 9, 1, tzinfo=UTC)
    with sessions() as s, s.begin():
        s.execute(
            insert(t.TemplateVersion).values(
                template_id="it-pmo", version=1, name=template.name, source=source,
                content=template.model_dump(mode="json"), content_hash=template_content_hash(template),
            )
        )  # fmt: skip
        s.execute(insert(t.Person), [{"id": p, "name": p, "email": f"{p}@example.com"} for p in ("sam", "mgr")])
        stages = ("initiating", "planning", "executing")
        s.execute(
            insert(t.Project),
            [
                {"key": f"P{i:05d}", "name": f"Project {i}", "template_id": "it-pmo", "template_version": 1,
                 "template_hash": "h" * 64, "sponsor_id": "sam", "manager_id": "mgr", "budget": Decimal(100000),
                 "status": "active" if i % 10 else "on_hold", "stage_id": stages[i % 3], "created_at": at,
                 "updated_at": at}
                for i in range(n)
            ],
        )  # fmt: skip
        s.execute(insert(t.Baseline), [{"project_key": f"P{i:05d}", "bac": Decimal(100000)} for i in range(n)])
        s.execute(
            insert(t.EvmReport),
            [
                {"project_key": f"P{i:05d}", "as_of": END - timedelta(weeks=7 - w),
                 "planned_value": Decimal(5000 * (w + 1)), "earned_value": Decimal(5000 * (w + 1) - 37 * (i % 50)),
                 "actual_cost": Decimal(5000 * (w + 1) + 41 * (i % 70))}
                for i in range(n)
                for w in range(8)
            ],
        )  # fmt: skip
        reviews, rounds, decisions = [], [], []
        for i in range(n):
            for state in ("resolved", "open"):
                review, round_ = uuid.uuid4(), uuid.uuid4()
                opened = at + timedelta(days=i % 60, hours=i % 24)
                resolved = opened + timedelta(hours=4 + i % 200) if state == "resolved" else None
                decision = ("go", "recycle", "conditional_go", "hold", "kill")[i % 5] if resolved else None
                gate = "ready-for-planning" if state == "resolved" else "ready-for-executing"
                reviews.append(
                    {"id": review, "project_key": f"P{i:05d}", "gate_id": gate, "stage_id": "initiating",
                     "status": "decided", "recommendation": "go", "evaluation": {}, "evidence": {},
                     "evidence_hash": "e" * 64, "requested_by": None if i % 3 else "mgr", "created_at": opened}
                )  # fmt: skip
                rounds.append(
                    {"id": round_, "review_id": review, "project_key": f"P{i:05d}", "gate_id": gate,
                     "policy": "unanimous", "approvers": ["sam"], "seats": [{"person_id": "sam", "role": "sponsor"}],
                     "evidence_hash": "e" * 64, "status": state, "decision": decision,
                     "due_at": opened + timedelta(days=7), "opened_at": opened, "resolved_at": resolved}
                )  # fmt: skip
                if resolved is not None:
                    decisions.append(
                        {"round_id": round_, "project_key": f"P{i:05d}", "gate_id": gate, "decision": decision,
                         "decided_by": ["sam"], "reason": "", "decided_at": resolved}
                    )  # fmt: skip
        s.execute(insert(t.GateReview), reviews)
        s.execute(insert(t.ApprovalRound), rounds)
        s.execute(insert(t.GateDecision), decisions)
        s.execute(
            insert(t.Risk),
            [
                {"project_key": f"P{i:05d}", "id": f"R{r}", "title": f"Risk {r} of {i}", "probability": 1 + (i + r) % 5,
                 "impact": 1 + (i * 7 + r) % 5, "status": "open"}
                for i in range(n)
                for r in range(2)
            ],
        )  # fmt: skip
        s.execute(
            insert(t.Score),
            [{"project_key": f"P{i:05d}", "gate_id": "ready-for-planning", "gatekeeper": "sam", "factor": "fit",
              "score": i % 11} for i in range(n)],
        )  # fmt: skip
    engine.dispose()


def chinese_font() -> Path | None:
    """The font the Chinese report's charts and PDF use, as the app finds it (``PHASEGATE_REPORT_FONT`` first)."""
    from phasegate.models.settings import Settings
    from phasegate.notifications.portfolio.document import report_font

    return report_font("zh-CN", Settings().report_font)


def one(n: int, pdf_max: int, font: Path | None) -> None:
    from phasegate.notifications.portfolio.charts import render_charts
    from phasegate.notifications.portfolio.html import render_html
    from phasegate.notifications.portfolio.pdf import render_pdf
    from phasegate.notifications.portfolio.xlsx import render_xlsx

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        fill(url, n)
        engine = make_engine(url)
        uow = lambda: SqlUnitOfWork(engine)  # noqa: E731
        now = datetime(2026, 11, 30, tzinfo=UTC)

        def timed(name: str, work: object) -> object:
            start = time.perf_counter()
            result = work() if callable(work) else None
            print(f"report_{n}_{name}_s: {time.perf_counter() - start:.3f}", flush=True)
            return result

        timed("gate_analytics", lambda: services.gate_report(actor=SYSTEM_ACTOR, uow=uow, now=now))
        report = timed(
            "portfolio_model", lambda: services.portfolio_report(period=PERIOD, actor=SYSTEM_ACTOR, uow=uow, now=now)
        )
        charts = timed("charts", lambda: render_charts(report, "zh-CN", font=font))  # type: ignore[arg-type]
        timed("html", lambda: render_html(report, "zh-CN", charts))  # type: ignore[arg-type]
        timed("xlsx", lambda: render_xlsx(report, "zh-CN", charts))  # type: ignore[arg-type]
        if n <= pdf_max:
            timed("pdf", lambda: render_pdf(report, "zh-CN", charts, font=font))  # type: ignore[arg-type]
        engine.dispose()
    print(f"report_{n}_peak_rss_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--pdf-max", type=int, default=2000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:  # found before any portfolio is loaded: without the font the run would fail at its first chart
        font = chinese_font()
    except ReportFontError as err:
        parser.exit(2, f"bench/report.py: {err}\n")
    if args.one:
        one(args.one, args.pdf_max, font)
        return
    seconds: dict[tuple[str, int], float] = {}
    for n in sorted(args.projects):
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--pdf-max", str(args.pdf_max)],
            check=True,
            timeout=3600,
            capture_output=True,
            text=True,
        )
        print(done.stdout, end="", flush=True)
        for line in done.stdout.splitlines():
            name, _, value = line.partition(": ")
            if name.endswith("_s"):
                seconds[name.removeprefix(f"report_{n}_").removesuffix("_s"), n] = float(value)
    # Time per project at the larger size over that at the smaller: 1.0 is linear growth.
    for step in ("gate_analytics", "portfolio_model", "html", "xlsx"):
        sizes = [n for n in sorted(args.projects) if (step, n) in seconds]
        for small, large in itertools.pairwise(sizes):
            growth = (seconds[step, large] / large) / (seconds[step, small] / small)
            print(f"report_{step}_growth_{small}_to_{large}: {growth:.2f}")


if __name__ == "__main__":
    main()

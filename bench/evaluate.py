"""Gate evaluation speed: pure evaluations per second over a synthetic portfolio, and one `gate check` from the shell.

Prints ``name: value`` lines. Run: ``.venv/bin/python bench/evaluate.py [--projects 10000]``. The shell figure
runs the real ``phasegate`` executable, each call a fresh interpreter, in a temporary PHASEGATE_HOME.

The portfolio mixes it-pmo projects at "Ready for Closing" (documents, earned value, risks, milestones) and
cooper-5 projects at "Go to Development" (documents, scorecard, risks): the richest gates each lifecycle has.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: tests.receivers

from phasegate.gates.evaluation import evaluate_gate
from phasegate.gates.registry import default_registry
from phasegate.gates.vocabulary.enums import DocumentStatus
from phasegate.gates.vocabulary.evidence import (
    DocumentEvidence,
    EvmSnapshot,
    GateEvidence,
    MilestoneEvidence,
    RiskEvidence,
    ScoreEvidence,
)
from phasegate.gates.vocabulary.template import GateDef, LifecycleTemplate
from phasegate.models import tables as t
from phasegate.models.db import make_engine
from phasegate.models.schema import upgrade
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from tests.receivers import free_port

AS_OF = date(2026, 11, 2)
TEMPLATES = {tpl.id: tpl for _, tpl in shipped_templates()}
GATES = {"it-pmo": "ready-for-closing", "cooper-5": "go-to-development"}


def _gate(template_id: str) -> tuple[LifecycleTemplate, GateDef]:
    template = TEMPLATES[template_id]
    gate = template.gate(GATES[template_id])
    assert gate is not None
    return template, gate


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def synthetic_evidence(index: int, rng: random.Random) -> tuple[LifecycleTemplate, GateDef, GateEvidence]:
    template_id = "it-pmo" if index % 2 == 0 else "cooper-5"
    template, gate = _gate(template_id)
    key = f"P{index:05d}"
    documents = []
    for deliverable_id in gate.deliverables:
        if rng.random() < 0.05:
            continue  # some projects miss a document
        digest = hashlib.sha256(f"{key}/{deliverable_id}".encode()).hexdigest()
        standard = template.deliverable(deliverable_id)
        documents.append(
            DocumentEvidence(
                deliverable_id=deliverable_id,
                version=rng.randint(1, 4),
                sha256=digest,
                size=rng.randint(5_000, 900_000),
                path=f"/portfolio/{key}/{deliverable_id}.docx",
                status=DocumentStatus.APPROVED,
                approved_by="sponsor-1",
                format="docx",
                headings=standard.required_sections[: len(standard.required_sections) - (rng.random() < 0.05)],
                current_sha256=digest if rng.random() > 0.02 else "0" * 64,
                approver_roles=("pmo", "sponsor"),
                registered_at=datetime(2026, 10, 1, tzinfo=UTC),
                approved_at=datetime(2026, 10, 2, tzinfo=UTC),
            )
        )
    bac = Decimal(rng.randint(100, 5_000) * 1_000)
    pv = (bac * Decimal(rng.uniform(0.3, 0.9))).quantize(Decimal("0.01"))
    ev = min(bac, (pv * Decimal(rng.uniform(0.75, 1.1))).quantize(Decimal("0.01")))
    ac = (ev * Decimal(rng.uniform(0.85, 1.3))).quantize(Decimal("0.01"))
    risks = tuple(
        RiskEvidence(
            id=f"R{n}",
            title=f"Risk {n}",
            owner="owner-1" if rng.random() > 0.1 else None,
            probability=rng.randint(1, 5),
            impact=rng.randint(1, 5),
            response=rng.choice(["mitigate", "accept", "transfer", None]),
            mitigation="plan" if rng.random() > 0.2 else "",
        )
        for n in range(rng.randint(3, 8))
    )
    milestones = tuple(
        MilestoneEvidence(
            id=f"M{n}",
            name=f"Milestone {n}",
            due=AS_OF - timedelta(days=30 * n),
            done_on=AS_OF - timedelta(days=30 * n) if rng.random() > 0.1 else None,
        )
        for n in range(1, 4)
    )
    scores: tuple[ScoreEvidence, ...] = ()
    if gate.scorecard is not None:
        scores = tuple(
            ScoreEvidence(gatekeeper=f"gk-{g}", factor=f.id, score=rng.randint(3, 10))
            for g in range(3)
            for f in gate.scorecard.factors
        )
    evidence = GateEvidence(
        project_key=key,
        template=f"{template.id}@{template.version}",
        gate_id=gate.id,
        stage_id=gate.after,
        as_of=AS_OF,
        budget=bac,
        currency="USD",
        actual_cost=ac,
        documents=tuple(documents),
        roles={"sponsor": ("sponsor-1",), "manager": ("manager-1",), "pmo": ("sponsor-1",)},
        evm=EvmSnapshot(as_of=AS_OF, bac=bac, pv=pv, ev=ev, ac=ac),
        stage_budget=(bac / 2).quantize(Decimal("0.01")),
        stage_spend=(ac / 3).quantize(Decimal("0.01")),
        contingency=(bac / 10).quantize(Decimal("0.01")),
        contingency_used=(bac / 40).quantize(Decimal("0.01")),
        risks=risks,
        milestones=milestones,
        scores=scores,
    )
    return template, gate, evidence


def host_reference() -> float:
    """Passes per second of a fixed pure-Python workload (dicts, strings, Decimal), best of three.

    This shared host's speed has moved by about 2x between sessions; printed beside the evaluation rate, it
    tells a slower host from slower code when figures from different days are compared.
    """
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(20_000):
            row = {"key": f"P{i:05d}", "amount": Decimal(i).quantize(Decimal("0.01")), "ok": i % 3 == 0}
            sorted(row.items())
        best = min(best, time.perf_counter() - start)
    return 20_000 / best


def bench_pure(projects: int) -> None:
    rng = random.Random(7)
    portfolio = [synthetic_evidence(i, rng) for i in range(projects)]
    registry = default_registry()
    start = time.perf_counter()
    outcomes: dict[str, int] = {}
    for template, gate, evidence in portfolio:
        evaluation = evaluate_gate(template, gate, evidence, registry)
        outcomes[evaluation.recommendation.value] = outcomes.get(evaluation.recommendation.value, 0) + 1
    elapsed = time.perf_counter() - start
    criteria = sum(len(gate.criteria) for _, gate, _ in portfolio)
    print(f"portfolio_projects: {projects}")
    print(f"criteria_evaluated: {criteria}")
    print(f"pure_evaluation_seconds: {elapsed:.3f}")
    print(f"gate_evaluations_per_second: {projects / elapsed:.0f}")
    print(f"host_reference_passes_per_second: {host_reference():.0f}")
    print("recommendations: " + ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))


def _load_database(url: str, projects: int) -> str:
    """Bulk-load a portfolio with Core inserts (a benchmark fixture, not the application path)."""
    upgrade(url)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    now = datetime.now(UTC)
    rng = random.Random(11)
    with engine.begin() as con:
        con.execute(
            insert(t.Person),
            [
                {"id": p, "name": p, "email": f"{p}@example.com", "locale": "en", "notify_urls": [], "created_at": now}
                for p in ("sponsor-1", "manager-1")
            ],
        )
        for source, template in shipped_templates():
            con.execute(
                insert(t.TemplateVersion).values(
                    template_id=template.id,
                    version=template.version,
                    name=template.name,
                    content_hash=template_content_hash(template),
                    content=template.model_dump(mode="json"),
                    source=source,
                    published_at=now,
                )
            )
        rows, docs, reports = [], [], []
        for i in range(projects):
            template_id = "it-pmo" if i % 2 == 0 else "cooper-5"
            template, gate = _gate(template_id)
            key = f"P{i:05d}"
            rows.append(
                {
                    "key": key,
                    "name": f"Project {i}",
                    "template_id": template_id,
                    "template_version": 1,
                    "template_hash": template_content_hash(template),
                    "sponsor_id": "sponsor-1",
                    "manager_id": "manager-1",
                    "budget": Decimal(1_000_000),
                    "currency": "USD",
                    "status": "active",
                    "stage_id": gate.after,
                    "recycle_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for deliverable_id in gate.deliverables:
                docs.append(
                    {
                        "id": uuid.uuid4(),
                        "project_key": key,
                        "deliverable_id": deliverable_id,
                        "version": 1,
                        "path": f"/portfolio/{key}/{deliverable_id}.md",
                        "sha256": "a" * 64,
                        "size": 100,
                        "status": "approved",
                        "approved_by": "sponsor-1",
                        "approved_at": now,
                        "registered_at": now,
                        "format": "md",
                        "headings": list(template.deliverable(deliverable_id).required_sections),
                    }
                )
            reports.append(
                {
                    "project_key": key,
                    "as_of": AS_OF,
                    "planned_value": Decimal(400_000),
                    "earned_value": Decimal(rng.randint(300_000, 420_000)),
                    "actual_cost": Decimal(rng.randint(350_000, 450_000)),
                    "estimate_to_complete": None,
                    "recorded_at": now,
                }
            )
        con.execute(insert(t.Project), rows)
        con.execute(insert(t.Document), docs)
        con.execute(insert(t.EvmReport), reports)
    engine.dispose()
    return f"P{projects // 2 * 2 - 2:05d}"


def bench_shell(projects: int) -> None:
    """`gate check` as typed at a shell: a fresh interpreter imports what it needs (never Prefect) and evaluates."""
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{Path(home) / 'bench.db'}"
        key = _load_database(url, projects)
        phasegate = str(Path(sys.executable).with_name("phasegate"))
        env = {"PATH": "/usr/bin:/bin", "PHASEGATE_HOME": home, "PHASEGATE_PREFECT_PORT": str(free_port())}

        def timed(*args: str) -> float:
            start = time.perf_counter()
            done = subprocess.run([phasegate, *args], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
            return time.perf_counter() - start

        cold = [timed("gate", "check", key, "--json", "--db", url) for _ in range(7)]
        print(f"gate_check_wall_seconds_median: {statistics.median(cold):.3f}")
        print(f"gate_check_wall_seconds_min: {min(cold):.3f}")
        print(f"gate_check_wall_seconds_max: {max(cold):.3f}")
        print(f"gate_check_database_projects: {projects}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    args = parser.parse_args()
    bench_pure(args.projects)
    bench_shell(args.projects)


if __name__ == "__main__":
    main()

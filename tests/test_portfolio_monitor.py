"""The ``portfolio-monitor`` flow as real Prefect flow runs (session harness) on a real SQLite database.

Four active it-pmo@2 projects: OVER breaches its cost tolerance, QUIET has no status report, READY has every
document its first gate needs (that gate says ``auto_review: when_ready``), BARE has none.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from phasegate.gates.vocabulary.commands import AddPerson, CreateProject, RegisterDocument
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import EvmReportRecord
from phasegate.models import tables as t
from phasegate.usecases import services
from tests.receivers import HttpReceiver

pytestmark = pytest.mark.flow


@pytest.fixture
def portfolio(sqlite_url: str, prefect_harness: None, tmp_path: Path) -> Iterator[tuple[Any, HttpReceiver]]:
    from phasegate.flows.cli.database import db_upgrade
    from phasegate.flows.runtime import runtime, utc_now

    previous = os.environ.get("PHASEGATE_DATABASE_URL")
    db_upgrade(sqlite_url)
    rt = runtime(sqlite_url)
    with HttpReceiver() as receiver:
        for pid, locale in (("sam", "zh-CN"), ("mgr", "en"), ("pam", "en")):
            services.add_person(
                AddPerson(
                    id=pid,
                    name=pid.title(),
                    email=f"{pid}@example.com",
                    locale=locale,  # type: ignore[arg-type]
                    notify_urls=(receiver.apprise_url(f"/{pid}"),),
                ),
                uow=rt.uow,
                now=utc_now(),
                actor=SYSTEM_ACTOR,
            )
        for key in ("OVER", "QUIET", "READY", "BARE"):
            services.create_project(
                CreateProject(
                    key=key, template_id="it-pmo", name=key, sponsor_id="sam", manager_id="mgr", budget=Decimal(100000)
                ),
                uow=rt.uow,
                now=utc_now(),
                actor=SYSTEM_ACTOR,
            )
            services.assign_role(key, "pmo", "pam", uow=rt.uow, now=utc_now(), actor=SYSTEM_ACTOR)
        services.record_status(
            [
                EvmReportRecord(
                    project_key="OVER", as_of=date(2026, 1, 5), earned_value=Decimal(40000), actual_cost=Decimal(50000)
                )
            ],
            actor=SYSTEM_ACTOR,
            uow=rt.uow,
            now=utc_now(),
        )
        template = services.get_template("it-pmo", 2, uow=rt.uow).template
        signer = {"sponsor": "sam", "pmo": "pam"}
        for deliverable in template.gates[0].deliverables:
            standard = template.deliverable(deliverable)
            path = tmp_path / f"{deliverable}.md"
            path.write_text("".join(f"## {s}\n\ntext\n\n" for s in standard.required_sections), encoding="utf-8")
            stored = rt.document_store().put(path)
            services.register_document(
                RegisterDocument(
                    project_key="READY",
                    deliverable_id=deliverable,
                    path=str(path),
                    sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                    size=path.stat().st_size,
                    approved_by=signer[standard.approver_role],
                    format="md",
                    headings=standard.required_sections,
                    store_key=stored.key,
                ),
                uow=rt.uow,
                now=utc_now(),
                actor=SYSTEM_ACTOR,
            )
        yield rt, receiver
    if previous is None:
        os.environ.pop("PHASEGATE_DATABASE_URL", None)
    else:
        os.environ["PHASEGATE_DATABASE_URL"] = previous


def _artifacts(flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found if a.key}


def test_one_run_scans_raises_once_opens_the_ready_review_and_publishes_a_summary(
    portfolio: tuple[Any, HttpReceiver],
) -> None:
    from phasegate.flows.portfolio_monitor import portfolio_monitor_flow

    rt, receiver = portfolio
    state = portfolio_monitor_flow(chunk_size=3, return_state=True)
    assert state.is_completed(), state
    first = state.result()
    assert (first["scanned"], first["chunks"], first["exceptions_raised"]) == (4, 2, 1)
    assert first["reviews_opened"] == ["READY"]
    artifacts = _artifacts(state.state_details.flow_run_id)
    assert {"portfolio-monitor", "portfolio-monitor-summary"} <= set(artifacts)
    summary = str(artifacts["portfolio-monitor-summary"].data)
    assert "Exceptions raised: **1**: OVER cost" in summary and "opened automatically: **1**: READY" in summary
    table = str(artifacts["portfolio-monitor"].data)
    assert "OVER" in table and "red" in table
    # The exception reached the sponsor (who owns the board's cost tolerance), in Chinese.
    to_sam = [r.json() for r in receiver.requests if r.path == "/sam"]
    assert any("例外" in str(body.get("title")) and "OVER" in str(body.get("title")) for body in to_sam), to_sam
    assert services.list_exceptions(uow=rt.uow, project_key="OVER", status="open")
    with rt.sessions() as session:
        rags = dict(
            session.execute(
                select(t.RagSnapshot.project_key, t.RagSnapshot.rag).where(t.RagSnapshot.dimension == "overall")
            ).all()
        )
        assert rags == {"OVER": "red", "QUIET": "unknown", "READY": "unknown", "BARE": "unknown"}
        assert session.scalar(select(func.count()).select_from(t.ApprovalRound)) == 1
    # A second run raises nothing again and opens no second review (READY's round is open).
    again = portfolio_monitor_flow(chunk_size=3)
    assert (again["exceptions_raised"], again["reviews_opened"]) == (0, [])
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(t.ToleranceExceptionRow)) == 1
        assert session.scalar(select(func.count()).select_from(t.ApprovalRound)) == 1

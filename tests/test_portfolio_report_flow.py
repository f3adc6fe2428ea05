"""The scheduled ``portfolio-report`` flow in real Prefect runs: artifacts published, the PDF mailed to the
``management`` tag through a real SMTP receiver, exactly once per period across reruns and crashes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.uow import SqlUnitOfWork
from tests.conftest import TEST_AUDIT_KEY
from tests.receivers import SmtpReceiver
from tests.test_portfolio_report import NOW, PERIOD, seed

pytestmark = pytest.mark.flow


@pytest.fixture
def setup(
    sqlite_url: str, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, SmtpReceiver]]:
    engine = make_engine(sqlite_url)
    try:
        seed(make_session_factory(engine))
    finally:
        engine.dispose()
    with SmtpReceiver() as smtp:
        config = tmp_path / "org.yaml"
        config.write_text(
            f'version: 1\nurls:\n  - "{smtp.apprise_url("board@example.com")}":\n      - tag: management\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("PHASEGATE_NOTIFY_CONFIG", str(config))
        monkeypatch.setenv("PHASEGATE_DATABASE_URL", sqlite_url)
        monkeypatch.setenv("PHASEGATE_HOME", str(tmp_path / "home"))
        yield sqlite_url, smtp


def _artifacts(flow_run_id: Any) -> dict[str, tuple[str, str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {str(a.key): (str(a.type), str(a.data)) for a in found if a.key}


def _count(url: str, table: Any) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return int(session.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def test_the_report_is_sent_once_with_its_pdf_and_artifacts(setup: tuple[str, SmtpReceiver]) -> None:
    from phasegate.flows.portfolio_report import portfolio_report_flow

    url, smtp = setup
    state = portfolio_report_flow(period=PERIOD, return_state=True)
    first = state.result()
    assert first["sent"] is True and first["notifications"] == 1 and first["dispatch"]["sent"] == 1
    (mail,) = smtp.messages
    assert mail.rcpt_tos == ("board@example.com",)
    assert "Portfolio report 2026-W48" in str(mail.message["Subject"])
    attachments = mail.attachments()
    name = "portfolio-2026-W48.en.pdf"
    assert attachments[name][0] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(attachments[name][1])).pages)
    assert "1,052.63" in text and "Vendor slips" in text
    assert all(Path(path).is_file() for path in first["files"].values())
    key = "portfolio-report-2026-w48"
    artifacts = _artifacts(state.state_details.flow_run_id)
    assert set(artifacts) == {f"{key}-summary", key, f"{key}-link"}
    assert artifacts[f"{key}-summary"][0] == "table" and '"rag red"' in artifacts[f"{key}-summary"][1]
    assert "Sent to the `management` channels" in artifacts[key][1]
    assert "/reports?period=2026-W48" in artifacts[f"{key}-link"][1]  # Prefect stores a link as Markdown

    again = portfolio_report_flow(period=PERIOD)
    assert again["sent"] is False and again["notifications"] == 1
    assert len(smtp.messages) == 1
    assert _count(url, t.ReportRun) == 1 and _count(url, t.OutboxMessage) == 1


class _CrashBeforeCommit(SqlUnitOfWork):
    """The process dies after the outbox rows are written and before the commit (as a kill would do it)."""

    def commit(self) -> None:
        raise SystemExit("killed before commit")


def test_a_crash_before_or_after_the_commit_still_sends_exactly_once(setup: tuple[str, SmtpReceiver]) -> None:
    from phasegate.flows.portfolio_report import portfolio_report_flow
    from phasegate.usecases import services

    url, smtp = setup
    engine = make_engine(url)
    try:
        report = services.portfolio_report(
            period=PERIOD, actor=SYSTEM_ACTOR, uow=lambda: SqlUnitOfWork(engine, audit_key=TEST_AUDIT_KEY), now=NOW
        )
        from phasegate.flows.report import portfolio_summary
        from phasegate.notifications.portfolio.document import render

        with pytest.raises(SystemExit):
            services.send_portfolio_report(
                PERIOD,
                document=b"%PDF-1.4 crashed",
                file_name="crashed.pdf",
                summary=portfolio_summary(report),
                actor=SYSTEM_ACTOR,
                uow=lambda: _CrashBeforeCommit(engine, audit_key=TEST_AUDIT_KEY),
                now=NOW,
            )
        assert _count(url, t.ReportRun) == 0 and _count(url, t.OutboxMessage) == 0  # nothing survived
        # The next run commits the claim and its notice, then dies before dispatching (its rows stay queued).
        pdf = render(report, "pdf", "en")
        committed = services.send_portfolio_report(
            PERIOD,
            document=pdf.content,
            file_name=pdf.file_name,
            summary=portfolio_summary(report),
            actor=SYSTEM_ACTOR,
            uow=lambda: SqlUnitOfWork(
                engine, audit_key=TEST_AUDIT_KEY, org_route=lambda tags: [smtp.apprise_url("board@example.com")]
            ),
            now=NOW,
        )
        assert committed.sent and smtp.messages == []
    finally:
        engine.dispose()
    # The rerun finds the claim, queues nothing, and delivers what the crashed run left queued: one mail.
    rerun = portfolio_report_flow(period=PERIOD)
    assert rerun["sent"] is False and rerun["dispatch"]["sent"] == 1
    assert len(smtp.messages) == 1 and _count(url, t.OutboxMessage) == 1
    assert portfolio_report_flow(period=PERIOD)["dispatch"]["sent"] == 0 and len(smtp.messages) == 1
